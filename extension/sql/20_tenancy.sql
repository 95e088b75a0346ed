-- machi install script, part 20: tenants, departments, categories, roles,
-- permissions, accounts, and their row-level security policies.
--
-- Every tenant-owned table has tenant_id first in its primary key, foreign
-- keys that include tenant_id (so a row can only refer to rows of its own
-- tenant, and FK checks cannot be used to probe another tenant), ENABLE and
-- FORCE ROW LEVEL SECURITY, and a policy for every command.

CREATE TABLE machi.tenant (
	tenant_id			int PRIMARY KEY CHECK (tenant_id > 0),
	name				text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	name_en				text CHECK (length(name_en) <= 200),
	boundary			public.geometry(MultiPolygon, 4326) NOT NULL
		CHECK (public.st_isvalid(boundary) AND NOT public.st_isempty(boundary)),
	contract_state		text NOT NULL DEFAULT 'active'
		CHECK (contract_state IN ('active', 'terminated', 'erased')),
	contract_end		date,
	staff_idle_timeout	interval NOT NULL DEFAULT '30 minutes'
		CHECK (staff_idle_timeout BETWEEN '1 minute' AND '24 hours'),
	settings			jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
	created_at			timestamptz NOT NULL DEFAULT now(),
	updated_at			timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_boundary_idx ON machi.tenant USING gist (boundary);
COMMENT ON TABLE machi.tenant IS
'A participating municipality or organisation: its area (boundary, SRID 4326), contract and settings. Name and area are public; writes by operators, settings by the tenant''s admins.';
COMMENT ON COLUMN machi.tenant.tenant_id IS 'Tenant id, chosen by the operator (for Japanese municipalities the JIS X 0402 code, e.g. 12101).';
COMMENT ON COLUMN machi.tenant.boundary IS 'The tenant''s area; a position inside it routes a report to this tenant.';
COMMENT ON COLUMN machi.tenant.staff_idle_timeout IS 'Staff sessions idle longer than this are logged out.';

CREATE TABLE machi.department (
	tenant_id		int NOT NULL REFERENCES machi.tenant,
	department_id	bigint GENERATED ALWAYS AS IDENTITY,
	name			text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	name_en			text CHECK (length(name_en) <= 200),
	active			boolean NOT NULL DEFAULT true,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, department_id),
	UNIQUE (tenant_id, name)
);
COMMENT ON TABLE machi.department IS
'A department of a tenant (road maintenance, parks, ...): reports are routed to it by category. Names are public (Open311 agency_responsible).';

CREATE TABLE machi.category (
	tenant_id		int NOT NULL REFERENCES machi.tenant,
	category_id		bigint GENERATED ALWAYS AS IDENTITY,
	code			text NOT NULL CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
	name			text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	name_en			text CHECK (length(name_en) <= 200),
	description		text CHECK (length(description) <= 2000),
	department_id	bigint NOT NULL,
	active			boolean NOT NULL DEFAULT true,
	sort_order		int NOT NULL DEFAULT 0,
	created_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, category_id),
	UNIQUE (tenant_id, code),
	FOREIGN KEY (tenant_id, department_id) REFERENCES machi.department
);
COMMENT ON TABLE machi.category IS
'A kind of problem a tenant accepts reports for (pothole, street light, ...), routed to a department. code is the Open311 service_code.';

CREATE TABLE machi.role (
	role_name			text PRIMARY KEY,
	kind				text NOT NULL CHECK (kind IN ('system', 'tenant', 'citizen')),
	department_scoped	boolean NOT NULL DEFAULT false,
	rank				int NOT NULL,
	description			text NOT NULL
);
COMMENT ON TABLE machi.role IS
'Role presets, system-managed. kind says whose accounts may hold it; department_scoped roles see only the departments assigned to the account; rank orders privilege (nobody grants a role above their own).';

CREATE TABLE machi.permission (
	role_name	text NOT NULL REFERENCES machi.role,
	resource	text NOT NULL,
	action		text NOT NULL CHECK (action IN ('read', 'update')),
	PRIMARY KEY (role_name, resource, action)
);
COMMENT ON TABLE machi.permission IS
'What each role may do: read or update on a resource (tenant, department, category, account, report, response, audit, notice, incident, export, api_key). Loaded into the caller context at authentication.';

INSERT INTO machi.role VALUES
	('system_admin',     'system',  false, 100, 'Operator of the installation: every tenant, every resource.'),
	('tenant_admin',     'tenant',  false, 50,  'Administrator of one tenant: its departments, categories, staff, reports, exports and audit.'),
	('department_admin', 'tenant',  true,  40,  'Administrator of some departments: their categories and reports.'),
	('staff',            'tenant',  true,  30,  'Staff member: triages and answers reports (of their departments when assigned some).'),
	('viewer',           'tenant',  true,  20,  'Read-only staff member.'),
	('citizen',          'citizen', false, 10,  'A citizen: posts reports and follows their own.');

INSERT INTO machi.permission
SELECT r, res, a
FROM (VALUES
	('system_admin', ARRAY['tenant','department','category','account','report','response','audit','notice','incident','export','api_key'], ARRAY['read','update']),
	('tenant_admin', ARRAY['tenant','department','category','account','report','response','export','api_key'], ARRAY['read','update']),
	('tenant_admin', ARRAY['audit','notice','incident'], ARRAY['read']),
	('department_admin', ARRAY['category','report','response'], ARRAY['read','update']),
	('department_admin', ARRAY['department','account','notice','incident'], ARRAY['read']),
	('staff', ARRAY['report','response'], ARRAY['read','update']),
	('staff', ARRAY['department','category','notice','incident'], ARRAY['read']),
	('viewer', ARRAY['department','category','report','response','notice','incident'], ARRAY['read'])
) AS p(r, resources, actions),
	unnest(resources) AS res, unnest(actions) AS a;

CREATE TABLE machi.account (
	account_id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind				text NOT NULL CHECK (kind IN ('citizen', 'staff', 'operator')),
	tenant_id			int REFERENCES machi.tenant,
	role_name			text NOT NULL REFERENCES machi.role,
	state				text NOT NULL DEFAULT 'active'
		CHECK (state IN ('active', 'disabled', 'deleted')),
	must_change_password boolean NOT NULL DEFAULT false,
	created_at			timestamptz NOT NULL DEFAULT now(),
	updated_at			timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'staff') = (tenant_id IS NOT NULL)),
	CHECK ((kind = 'citizen') = (role_name = 'citizen')),
	CHECK ((kind = 'operator') = (role_name = 'system_admin')),
	UNIQUE (tenant_id, account_id)
);
COMMENT ON TABLE machi.account IS
'One row per person: a citizen (no tenant), a tenant''s staff member, or an operator. Personal data lives encrypted elsewhere, never here.';

CREATE TABLE machi.account_department (
	tenant_id		int NOT NULL,
	account_id		bigint NOT NULL,
	department_id	bigint NOT NULL,
	PRIMARY KEY (tenant_id, account_id, department_id),
	FOREIGN KEY (tenant_id, account_id) REFERENCES machi.account (tenant_id, account_id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, department_id) REFERENCES machi.department ON DELETE CASCADE
);
COMMENT ON TABLE machi.account_department IS
'Departments a staff account is limited to when its role is department-scoped (no rows: the whole tenant).';

-- ---- row-level security ----

ALTER TABLE machi.tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_select ON machi.tenant FOR SELECT USING (true);
CREATE POLICY tenant_insert ON machi.tenant FOR INSERT WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY tenant_update ON machi.tenant FOR UPDATE
	USING ((SELECT machi.is_operator())
		   OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('tenant', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		   OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('tenant', 'update'))));
CREATE POLICY tenant_delete ON machi.tenant FOR DELETE USING ((SELECT machi.is_operator()));

ALTER TABLE machi.department ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.department FORCE ROW LEVEL SECURITY;
CREATE POLICY department_select ON machi.department FOR SELECT USING (true);
CREATE POLICY department_insert ON machi.department FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('department', 'update'))));
CREATE POLICY department_update ON machi.department FOR UPDATE
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('department', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('department', 'update'))));
CREATE POLICY department_delete ON machi.department FOR DELETE
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('department', 'update'))));

ALTER TABLE machi.category ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.category FORCE ROW LEVEL SECURITY;
CREATE POLICY category_select ON machi.category FOR SELECT USING (true);
CREATE POLICY category_insert ON machi.category FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('category', 'update'))));
CREATE POLICY category_update ON machi.category FOR UPDATE
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('category', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('category', 'update'))));
CREATE POLICY category_delete ON machi.category FOR DELETE
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('category', 'update'))));

-- roles and permissions are global presets: readable, written only by operators
ALTER TABLE machi.role ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.role FORCE ROW LEVEL SECURITY;
CREATE POLICY role_select ON machi.role FOR SELECT USING (true);
CREATE POLICY role_write ON machi.role FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
ALTER TABLE machi.permission ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.permission FORCE ROW LEVEL SECURITY;
CREATE POLICY permission_select ON machi.permission FOR SELECT USING (true);
CREATE POLICY permission_write ON machi.permission FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

ALTER TABLE machi.account ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.account FORCE ROW LEVEL SECURITY;
CREATE POLICY account_select ON machi.account FOR SELECT
	USING ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'read'))));
CREATE POLICY account_insert ON machi.account FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'update'))
			AND kind = 'staff'));
CREATE POLICY account_update ON machi.account FOR UPDATE
	USING ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'update'))
			AND kind = 'staff'));
CREATE POLICY account_delete ON machi.account FOR DELETE USING ((SELECT machi.is_operator()));

ALTER TABLE machi.account_department ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.account_department FORCE ROW LEVEL SECURITY;
CREATE POLICY account_department_select ON machi.account_department FOR SELECT
	USING ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'read'))));
CREATE POLICY account_department_write ON machi.account_department FOR ALL
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('account', 'update'))));

-- ---- locating a position ----

CREATE FUNCTION machi.locate(lat float8, lon float8) RETURNS int
	LANGUAGE sql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH pt AS (SELECT public.st_setsrid(public.st_makepoint(lon, lat), 4326) AS g),
	covering AS (
		SELECT t.tenant_id, 0 AS rank, 0::float8 AS dist
		FROM machi.tenant t, pt
		WHERE t.contract_state = 'active' AND public.st_intersects(t.boundary, pt.g)
	),
	near AS (
		SELECT t.tenant_id, 1 AS rank,
			   public.st_distance(t.boundary::public.geography, pt.g::public.geography) AS dist
		FROM machi.tenant t, pt
		WHERE t.contract_state = 'active'
		  AND current_setting('machi.locate_tolerance_m')::int > 0
		  AND t.boundary OPERATOR(public.&&) public.st_expand(pt.g, 0.0002)
		  AND public.st_dwithin(t.boundary::public.geography, pt.g::public.geography,
								current_setting('machi.locate_tolerance_m')::int)
		  AND NOT EXISTS (SELECT 1 FROM covering)
	)
	SELECT tenant_id FROM (SELECT * FROM covering UNION ALL SELECT * FROM near) c
	ORDER BY rank, dist, tenant_id
	LIMIT 1;
END;
COMMENT ON FUNCTION machi.locate(float8, float8) IS
'The one active tenant that serves a position (WGS 84 degrees), or NULL. Rule: among the tenants whose boundary covers the point (edges included), the lowest tenant_id wins (neighbouring official boundaries overlap by a few square metres); if none covers it, the nearest tenant within machi.locate_tolerance_m metres (hairline gaps between neighbours); otherwise NULL.';

CREATE FUNCTION machi.geojson_to_boundary(doc jsonb) RETURNS public.geometry
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	geoms public.geometry[] := '{}';
	g jsonb;
	one public.geometry;
	result public.geometry;
BEGIN
	IF doc IS NULL OR jsonb_typeof(doc) <> 'object' THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', MESSAGE = 'boundary must be a GeoJSON object',
			COLUMN = 'boundary';
	END IF;
	FOR g IN
		SELECT CASE doc->>'type'
				   WHEN 'FeatureCollection' THEN f->'geometry'
				   WHEN 'Feature' THEN doc->'geometry'
				   ELSE doc END
		FROM (SELECT jsonb_array_elements(CASE WHEN doc->>'type' = 'FeatureCollection'
											   THEN doc->'features' ELSE '[null]' END) AS f) s
	LOOP
		IF g IS NULL OR g->>'type' NOT IN ('Polygon', 'MultiPolygon') THEN
			RAISE EXCEPTION USING ERRCODE = 'MC400', COLUMN = 'boundary',
				MESSAGE = 'boundary must be made of Polygon or MultiPolygon geometries',
				DETAIL = format('Found %s.', coalesce(g->>'type', 'no geometry'));
		END IF;
		BEGIN
			one := public.st_setsrid(public.st_geomfromgeojson(g), 4326);
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION USING ERRCODE = 'MC400', COLUMN = 'boundary',
				MESSAGE = 'boundary is not valid GeoJSON', DETAIL = SQLERRM;
		END;
		-- repair rings that lie outside their shell and similar defects of
		-- official data, keeping only the polygonal part
		geoms := geoms || public.st_collectionextract(public.st_makevalid(one), 3);
	END LOOP;
	result := public.st_multi(public.st_collectionextract(public.st_union(geoms), 3));
	IF result IS NULL OR public.st_isempty(result) THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', COLUMN = 'boundary',
			MESSAGE = 'boundary has no area';
	END IF;
	IF public.st_xmin(result) < -180 OR public.st_xmax(result) > 180
	   OR public.st_ymin(result) < -90 OR public.st_ymax(result) > 90 THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', COLUMN = 'boundary',
			MESSAGE = 'boundary coordinates must be longitude/latitude degrees (EPSG:4326)';
	END IF;
	RETURN public.st_setsrid(result, 4326);
END
$$;
COMMENT ON FUNCTION machi.geojson_to_boundary(jsonb) IS
'A tenant boundary (MultiPolygon, SRID 4326) from GeoJSON (NULL for NULL): a FeatureCollection, Feature, Polygon or MultiPolygon. Invalid rings are repaired with ST_MakeValid and all parts are unioned.';

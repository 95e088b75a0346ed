-- machi install script, part 40: operator (DBA) functions for tenants,
-- departments and categories.
--
-- Each admin function machi.<name> is the C dispatcher (admin.c), granted to
-- machi_admin only; it runs machi.<name>__impl in the system administrator
-- context.  The __impl functions hold the logic and are executable by their
-- owner only.

CREATE FUNCTION machi.create_tenant__impl(tenant_id int, name text, boundary jsonb,
										  name_en text, staff_idle_timeout interval)
	RETURNS int
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF create_tenant__impl.boundary IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', MESSAGE = 'boundary is required', COLUMN = 'boundary';
	END IF;
	INSERT INTO machi.tenant (tenant_id, name, name_en, boundary, staff_idle_timeout)
	VALUES (create_tenant__impl.tenant_id, create_tenant__impl.name, create_tenant__impl.name_en,
			machi.geojson_to_boundary(create_tenant__impl.boundary),
			coalesce(create_tenant__impl.staff_idle_timeout, '30 minutes'));
	RETURN create_tenant__impl.tenant_id;
END
$$;
CREATE FUNCTION machi.create_tenant(tenant_id int, name text, boundary jsonb,
									name_en text DEFAULT NULL,
									staff_idle_timeout interval DEFAULT '30 minutes')
	RETURNS int
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_tenant__impl(int, text, jsonb, text, interval) IS 'Implementation of machi.create_tenant (owner only).';
COMMENT ON FUNCTION machi.create_tenant(int, text, jsonb, text, interval) IS
'machi_admin: register a municipality. boundary is GeoJSON (FeatureCollection, Feature, Polygon or MultiPolygon, lon/lat degrees). Example: SELECT machi.create_tenant(12101, ''千葉市中央区'', pg_read_file(''/path/12101.json'')::jsonb, ''Chuo Ward, Chiba'');';

CREATE FUNCTION machi.update_tenant__impl(tenant_id int, name text, boundary jsonb,
										  name_en text, staff_idle_timeout interval,
										  settings jsonb)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.tenant t SET
		name = coalesce(update_tenant__impl.name, t.name),
		name_en = coalesce(update_tenant__impl.name_en, t.name_en),
		boundary = coalesce(machi.geojson_to_boundary(update_tenant__impl.boundary), t.boundary),
		staff_idle_timeout = coalesce(update_tenant__impl.staff_idle_timeout, t.staff_idle_timeout),
		settings = t.settings || coalesce(update_tenant__impl.settings, '{}'),
		updated_at = now()
	WHERE t.tenant_id = update_tenant__impl.tenant_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('tenant %s does not exist', tenant_id);
	END IF;
END
$$;
CREATE FUNCTION machi.update_tenant(tenant_id int, name text DEFAULT NULL, boundary jsonb DEFAULT NULL,
									name_en text DEFAULT NULL,
									staff_idle_timeout interval DEFAULT NULL,
									settings jsonb DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.update_tenant__impl(int, text, jsonb, text, interval, jsonb) IS 'Implementation of machi.update_tenant (owner only).';
COMMENT ON FUNCTION machi.update_tenant(int, text, jsonb, text, interval, jsonb) IS
'machi_admin: change a tenant; NULL arguments leave a field unchanged, settings are merged. Example: SELECT machi.update_tenant(12101, staff_idle_timeout => ''15 minutes'');';

CREATE FUNCTION machi.create_department__impl(tenant_id int, name text, name_en text)
	RETURNS bigint
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO machi.department (tenant_id, name, name_en)
	VALUES (create_department__impl.tenant_id, create_department__impl.name, create_department__impl.name_en)
	RETURNING department_id;
END;
CREATE FUNCTION machi.create_department(tenant_id int, name text, name_en text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_department__impl(int, text, text) IS 'Implementation of machi.create_department (owner only).';
COMMENT ON FUNCTION machi.create_department(int, text, text) IS
'machi_admin: add a department to a tenant; returns its id. Example: SELECT machi.create_department(12101, ''土木事務所'', ''Civil Engineering Office'');';

CREATE FUNCTION machi.update_department__impl(tenant_id int, department_id bigint, name text,
											  name_en text, active boolean)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.department d SET
		name = coalesce(update_department__impl.name, d.name),
		name_en = coalesce(update_department__impl.name_en, d.name_en),
		active = coalesce(update_department__impl.active, d.active)
	WHERE d.tenant_id = update_department__impl.tenant_id
	  AND d.department_id = update_department__impl.department_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404',
			MESSAGE = format('department %s of tenant %s does not exist', department_id, tenant_id);
	END IF;
END
$$;
CREATE FUNCTION machi.update_department(tenant_id int, department_id bigint, name text DEFAULT NULL,
										name_en text DEFAULT NULL, active boolean DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.update_department__impl(int, bigint, text, text, boolean) IS 'Implementation of machi.update_department (owner only).';
COMMENT ON FUNCTION machi.update_department(int, bigint, text, text, boolean) IS
'machi_admin: rename or (de)activate a department; NULL leaves a field unchanged.';

CREATE FUNCTION machi.create_category__impl(tenant_id int, code text, name text, department_id bigint,
											name_en text, description text, sort_order int)
	RETURNS bigint
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO machi.category (tenant_id, code, name, department_id, name_en, description, sort_order)
	VALUES (create_category__impl.tenant_id, create_category__impl.code, create_category__impl.name,
			create_category__impl.department_id, create_category__impl.name_en,
			create_category__impl.description, coalesce(create_category__impl.sort_order, 0))
	RETURNING category_id;
END;
CREATE FUNCTION machi.create_category(tenant_id int, code text, name text, department_id bigint,
									  name_en text DEFAULT NULL, description text DEFAULT NULL,
									  sort_order int DEFAULT 0)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_category__impl(int, text, text, bigint, text, text, int) IS 'Implementation of machi.create_category (owner only).';
COMMENT ON FUNCTION machi.create_category(int, text, text, bigint, text, text, int) IS
'machi_admin: add a report category to a tenant, routed to one of its departments; code is the Open311 service_code. Example: SELECT machi.create_category(12101, ''road'', ''道路の損傷'', 1, ''Road damage'');';

CREATE FUNCTION machi.update_category__impl(tenant_id int, category_id bigint, name text,
											department_id bigint, name_en text, description text,
											active boolean, sort_order int)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.category c SET
		name = coalesce(update_category__impl.name, c.name),
		department_id = coalesce(update_category__impl.department_id, c.department_id),
		name_en = coalesce(update_category__impl.name_en, c.name_en),
		description = coalesce(update_category__impl.description, c.description),
		active = coalesce(update_category__impl.active, c.active),
		sort_order = coalesce(update_category__impl.sort_order, c.sort_order)
	WHERE c.tenant_id = update_category__impl.tenant_id
	  AND c.category_id = update_category__impl.category_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404',
			MESSAGE = format('category %s of tenant %s does not exist', category_id, tenant_id);
	END IF;
END
$$;
CREATE FUNCTION machi.update_category(tenant_id int, category_id bigint, name text DEFAULT NULL,
									  department_id bigint DEFAULT NULL, name_en text DEFAULT NULL,
									  description text DEFAULT NULL, active boolean DEFAULT NULL,
									  sort_order int DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.update_category__impl(int, bigint, text, bigint, text, text, boolean, int) IS 'Implementation of machi.update_category (owner only).';
COMMENT ON FUNCTION machi.update_category(int, bigint, text, bigint, text, text, boolean, int) IS
'machi_admin: change a category (re-route it to another department, rename, deactivate); NULL leaves a field unchanged.';

-- machi install script, part 30: api.handle, the route table, and the
-- public routes of the foundation (health, tenants, categories, locate).

CREATE TYPE machi.request AS (
	method		text,		-- GET, POST, ...
	path		text,		-- /v1/tenants/12101/categories
	route		text,		-- the matched pattern, /v1/tenants/{id}/categories
	params		jsonb,		-- {"id": "12101"}: the pattern's placeholders
	query		jsonb,		-- decoded query string, one string per key
	headers		jsonb,		-- request headers, credentials removed
	body		bytea,		-- raw body
	data		jsonb,		-- parsed JSON or form body, NULL otherwise
	client_addr	inet,
	request_id	text
);
COMMENT ON TYPE machi.request IS 'One HTTP request as a route function receives it from api.handle.';

CREATE TYPE machi.response AS (
	status		int,
	headers		jsonb,
	body		jsonb,		-- JSON body, or
	raw			bytea		-- a raw body (photos, CSV); wins over body
);
COMMENT ON TYPE machi.response IS 'What a route function returns to api.handle.';

CREATE TABLE machi.route (
	method		text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
	pattern		text NOT NULL CHECK (pattern ~ '^(/([A-Za-z0-9._-]+|\{[a-z_]+\}))+$'),
	handler		regprocedure NOT NULL,
	auth		text NOT NULL CHECK (auth IN ('public', 'user', 'citizen', 'staff', 'apikey')),
	max_body	int NOT NULL DEFAULT 65536 CHECK (max_body >= 0),
	description	text NOT NULL,
	PRIMARY KEY (method, pattern)
);
COMMENT ON TABLE machi.route IS
'The HTTP API: method and path pattern ({name} captures a segment) to the route function that serves it, who may call it (public, user = any signed-in account, citizen, staff, apikey = public or an Open311 API key) and its body size limit. api.handle reads it; when several patterns match, the one with more literal segments wins.';

ALTER TABLE machi.route ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.route FORCE ROW LEVEL SECURITY;
CREATE POLICY route_select ON machi.route FOR SELECT USING (true);
CREATE POLICY route_write ON machi.route FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

CREATE FUNCTION machi.route_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'machi_relcache_changed'
	LANGUAGE C;
COMMENT ON FUNCTION machi.route_changed() IS 'Trigger: every backend reloads machi.route after a change commits.';
CREATE TRIGGER route_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON machi.route
	FOR EACH STATEMENT EXECUTE FUNCTION machi.route_changed();

CREATE VIEW machi.routes AS
	SELECT method, pattern, handler, auth, max_body, description
	FROM machi.route ORDER BY pattern, method;
COMMENT ON VIEW machi.routes IS 'The HTTP API, for reading from psql: SELECT * FROM machi.routes;';

CREATE FUNCTION api.handle(method text, path text, query text, headers jsonb, body bytea,
						   client_addr inet, request_id text,
						   OUT status int, OUT headers jsonb, OUT body bytea)
	AS 'MODULE_PATHNAME', 'machi_api_handle'
	LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION api.handle(text, text, text, jsonb, bytea, inet, text) IS
'Serve one HTTP request: method, path (without query string), raw query string, headers as a JSON object of lower-case names to strings, raw body, client address, request id. Returns the status, the response headers (JSON object) and the body. Errors of the request become 4xx/5xx responses, never SQL errors. Example: SELECT status, convert_from(body, ''UTF8'') FROM api.handle(''GET'', ''/v1/tenants'', '''', ''{}'', NULL, NULL, NULL);';

CREATE FUNCTION api.health() RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	RETURN jsonb_build_object('status', 'ok', 'version', machi.version(),
							  'in_recovery', pg_is_in_recovery());
COMMENT ON FUNCTION api.health() IS
'Liveness and readiness of the database for the gateway: status, extension version, and whether this server is a standby (in_recovery: cannot take writes).';

-- ---- helpers for route functions ----

CREATE FUNCTION machi.ok(body jsonb, status int DEFAULT 200, headers jsonb DEFAULT NULL)
	RETURNS machi.response
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ROW(status, headers, body, NULL)::machi.response;
COMMENT ON FUNCTION machi.ok(jsonb, int, jsonb) IS 'A JSON response for a route function.';

CREATE FUNCTION machi.fail(status int, message text, field text DEFAULT NULL,
						   code text DEFAULT NULL, detail text DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
	IF status NOT BETWEEN 400 AND 599 THEN
		RAISE EXCEPTION 'machi.fail: status % is not an error status', status;
	END IF;
	RAISE EXCEPTION USING ERRCODE = 'MC' || status::text, MESSAGE = message,
		COLUMN = coalesce(field, ''), CONSTRAINT = coalesce(code, ''),
		DETAIL = coalesce(detail, '');
END
$$;
COMMENT ON FUNCTION machi.fail(int, text, text, text, text) IS
'Raise an error that api.handle answers with the given HTTP status: message for humans, field (the input at fault), code (machine-readable), detail.';

CREATE FUNCTION machi.arg_text(src jsonb, field text, required boolean DEFAULT true,
							   max_len int DEFAULT 200)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	v jsonb := src->field;
BEGIN
	IF v IS NULL OR v = 'null'::jsonb OR (jsonb_typeof(v) = 'string' AND v->>0 = '') THEN
		IF required THEN
			PERFORM machi.fail(400, format('%s is required', field), field, 'required');
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) <> 'string' THEN
		PERFORM machi.fail(400, format('%s must be a string', field), field, 'invalid');
	END IF;
	IF char_length(v->>0) > max_len THEN
		PERFORM machi.fail(400, format('%s must be at most %s characters', field, max_len), field, 'too_long');
	END IF;
	RETURN v->>0;
END
$$;
COMMENT ON FUNCTION machi.arg_text(jsonb, text, boolean, int) IS
'Input validation for route functions: a string field of src (query or body), length-checked; a 400 naming the field otherwise.';

CREATE FUNCTION machi.arg_id(src jsonb, field text, what text) RETURNS bigint
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
	IF src->>field IS NULL THEN
		RETURN NULL;
	END IF;
	IF src->>field !~ '^[0-9]{1,18}$' THEN
		PERFORM machi.fail(400, format('%s must be %s', field, what), field, 'invalid');
	END IF;
	RETURN (src->>field)::bigint;
END
$$;
COMMENT ON FUNCTION machi.arg_id(jsonb, text, text) IS
'An optional id argument (1 to 18 digits, exact: no float rounding) as bigint; NULL when absent; otherwise 400 "<field> must be <what>" naming the field. Example: machi.arg_id(r.query, ''after'', ''a report id'').';

CREATE FUNCTION machi.arg_number(src jsonb, field text, lo float8, hi float8,
								 required boolean DEFAULT true)
	RETURNS float8
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	v jsonb := src->field;
	s text;
	n float8;
BEGIN
	IF v IS NULL OR v = 'null'::jsonb OR (jsonb_typeof(v) = 'string' AND v->>0 = '') THEN
		IF required THEN
			PERFORM machi.fail(400, format('%s is required', field), field, 'required');
		END IF;
		RETURN NULL;
	END IF;
	IF jsonb_typeof(v) NOT IN ('string', 'number') THEN
		PERFORM machi.fail(400, format('%s must be a number', field), field, 'invalid');
	END IF;
	s := v->>0;
	IF s !~ '^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$' THEN
		PERFORM machi.fail(400, format('%s must be a number', field), field, 'invalid');
	END IF;
	BEGIN
		n := s::float8;
	EXCEPTION WHEN numeric_value_out_of_range THEN
		n := NULL;
	END;
	IF n IS NULL OR n < lo OR n > hi THEN
		PERFORM machi.fail(400, format('%s must be between %s and %s', field, lo, hi), field, 'out_of_range');
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION machi.arg_number(jsonb, text, float8, float8, boolean) IS
'Input validation for route functions: a number (JSON number or numeric string) within [lo, hi]; a 400 naming the field otherwise.';

CREATE FUNCTION machi.arg_id(src jsonb, field text) RETURNS bigint
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
	s text := src->>field;
BEGIN
	-- a malformed id names nothing: answer as for an id that does not exist
	IF s IS NULL OR s !~ '^[0-9]{1,18}$' THEN
		PERFORM machi.fail(404, 'no such resource', NULL, 'not_found');
	END IF;
	RETURN s::bigint;
END
$$;
COMMENT ON FUNCTION machi.arg_id(jsonb, text) IS
'A numeric id from the path parameters; a 404 when malformed (a malformed id names nothing).';

-- ---- foundation routes ----

CREATE FUNCTION machi.rt_health(r machi.request) RETURNS machi.response
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	RETURN machi.ok(api.health());
COMMENT ON FUNCTION machi.rt_health(machi.request) IS 'GET /v1/health';

CREATE FUNCTION machi.tenant_json(t machi.tenant) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	RETURN jsonb_build_object(
		'id', t.tenant_id, 'name', t.name, 'name_en', t.name_en,
		'bbox', jsonb_build_array(
			round(public.st_xmin(t.boundary)::numeric, 6), round(public.st_ymin(t.boundary)::numeric, 6),
			round(public.st_xmax(t.boundary)::numeric, 6), round(public.st_ymax(t.boundary)::numeric, 6)));
COMMENT ON FUNCTION machi.tenant_json(machi.tenant) IS 'Public JSON of a tenant: id, names, bounding box [minlon, minlat, maxlon, maxlat].';

CREATE FUNCTION machi.rt_tenants(r machi.request) RETURNS machi.response
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT machi.ok(jsonb_build_object('tenants', coalesce(jsonb_agg(machi.tenant_json(t) ORDER BY t.tenant_id), '[]')))
	FROM machi.tenant t WHERE t.contract_state = 'active';
END;
COMMENT ON FUNCTION machi.rt_tenants(machi.request) IS 'GET /v1/tenants: participating municipalities.';

CREATE FUNCTION machi.categories_json(tid int) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'id', c.category_id, 'code', c.code, 'name', c.name, 'name_en', c.name_en,
			'description', c.description,
			'department', jsonb_build_object('id', d.department_id, 'name', d.name))
		ORDER BY c.sort_order, c.code), '[]')
	FROM machi.category c
	JOIN machi.department d ON d.tenant_id = c.tenant_id AND d.department_id = c.department_id
	WHERE c.tenant_id = tid AND c.active;
END;
COMMENT ON FUNCTION machi.categories_json(int) IS 'Active categories of a tenant with their departments, as public JSON.';

CREATE FUNCTION machi.rt_tenant_categories(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t machi.tenant;
BEGIN
	SELECT * INTO t FROM machi.tenant
	WHERE tenant_id = (SELECT CASE WHEN r.params->>'id' ~ '^[0-9]{1,9}$' THEN (r.params->>'id')::int END)
	  AND contract_state = 'active';
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such tenant', NULL, 'not_found');
	END IF;
	RETURN machi.ok(jsonb_build_object('tenant', machi.tenant_json(t),
									   'categories', machi.categories_json(t.tenant_id)));
END
$$;
COMMENT ON FUNCTION machi.rt_tenant_categories(machi.request) IS 'GET /v1/tenants/{id}/categories';

CREATE FUNCTION machi.rt_locate(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src jsonb := CASE WHEN r.method = 'POST' THEN coalesce(r.data, '{}') ELSE r.query END;
	lat float8;
	lon float8;
	tid int;
	t machi.tenant;
BEGIN
	IF jsonb_typeof(src) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object with lat and lon');
	END IF;
	lat := machi.arg_number(src, 'lat', -90, 90);
	lon := machi.arg_number(src, 'lon', -180, 180);
	tid := machi.locate(lat, lon);
	IF tid IS NULL THEN
		PERFORM machi.fail(422, 'this position is outside every participating area', 'lat',
						   'outside_service_area',
						   'No participating municipality covers this position; GET /v1/tenants lists them.');
	END IF;
	SELECT * INTO STRICT t FROM machi.tenant WHERE tenant_id = tid;
	RETURN machi.ok(jsonb_build_object('tenant', machi.tenant_json(t),
									   'categories', machi.categories_json(tid)));
END
$$;
COMMENT ON FUNCTION machi.rt_locate(machi.request) IS 'GET /v1/locate?lat=&lon= (or POST with a JSON body {"lat":..,"lon":..}): which tenant and which categories serve this position.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/health', 'machi.rt_health(machi.request)', 'public', 0, 'Health of the database: status, version, standby or not.'),
	('GET', '/v1/tenants', 'machi.rt_tenants(machi.request)', 'public', 0, 'Participating municipalities.'),
	('GET', '/v1/tenants/{id}/categories', 'machi.rt_tenant_categories(machi.request)', 'public', 0, 'Categories a municipality accepts reports for.'),
	('GET', '/v1/locate', 'machi.rt_locate(machi.request)', 'public', 0, 'Which municipality and categories serve a position (query lat, lon).'),
	('POST', '/v1/locate', 'machi.rt_locate(machi.request)', 'public', 4096, 'Which municipality and categories serve a position (JSON body {"lat", "lon"}).');

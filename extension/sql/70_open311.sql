-- machi install script, part 70: Open311 GeoReport v2 under /open311/v2/
-- (http://wiki.open311.org/GeoReport_v2), in JSON and XML, and the API keys
-- that Open311 clients need to post.

CREATE TABLE machi.api_key (
	tenant_id	int NOT NULL REFERENCES machi.tenant,
	key_id		bigint GENERATED ALWAYS AS IDENTITY,
	label		text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 200),
	key_hash	bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
	created_at	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	PRIMARY KEY (tenant_id, key_id)
);
COMMENT ON TABLE machi.api_key IS
'Open311 API keys of a tenant: only the SHA-256 of each key is stored; the key is shown once when issued.';
ALTER TABLE machi.api_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.api_key FORCE ROW LEVEL SECURITY;
CREATE POLICY api_key_select ON machi.api_key FOR SELECT
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('api_key', 'read'))));
CREATE POLICY api_key_insert ON machi.api_key FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('api_key', 'update'))));
CREATE POLICY api_key_update ON machi.api_key FOR UPDATE
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('api_key', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('api_key', 'update'))));
CREATE POLICY api_key_delete ON machi.api_key FOR DELETE USING ((SELECT machi.is_operator()));

CREATE FUNCTION machi.new_api_key(OUT key text, OUT key_hash bytea)
	AS 'MODULE_PATHNAME', 'machi_new_api_key'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.new_api_key() IS 'A fresh random API key and its SHA-256 (owner only; the key is never stored).';

CREATE FUNCTION machi.create_api_key__impl(tenant_id int, label text) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k record;
BEGIN
	SELECT * INTO k FROM machi.new_api_key();
	INSERT INTO machi.api_key (tenant_id, label, key_hash)
	VALUES (create_api_key__impl.tenant_id, create_api_key__impl.label, k.key_hash);
	RETURN k.key;
END
$$;
CREATE FUNCTION machi.create_api_key(tenant_id int, label text) RETURNS text
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_api_key__impl(int, text) IS 'Implementation of machi.create_api_key (owner only).';
COMMENT ON FUNCTION machi.create_api_key(int, text) IS
'machi_admin: issue an Open311 API key for a tenant; returns the key (shown once, only its hash is kept). Example: SELECT machi.create_api_key(12101, ''city dashboard'');';

CREATE FUNCTION machi.revoke_api_key__impl(tenant_id int, key_id bigint) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.api_key k SET revoked_at = now()
	WHERE k.tenant_id = revoke_api_key__impl.tenant_id AND k.key_id = revoke_api_key__impl.key_id
	  AND k.revoked_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('no active api key %s for tenant %s', key_id, tenant_id);
	END IF;
END
$$;
CREATE FUNCTION machi.revoke_api_key(tenant_id int, key_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.revoke_api_key__impl(int, bigint) IS 'Implementation of machi.revoke_api_key (owner only).';
COMMENT ON FUNCTION machi.revoke_api_key(int, bigint) IS 'machi_admin: revoke an Open311 API key (it stops working at once).';

-- reports posted by Open311 clients: no author, a token for tokens/{token}
ALTER TABLE machi.report ADD FOREIGN KEY (tenant_id, api_key_id) REFERENCES machi.api_key;
CREATE POLICY report_select_open311 ON machi.report FOR SELECT
	USING (api_key_id = (SELECT machi.current_api_key()));
CREATE POLICY report_insert_open311 ON machi.report FOR INSERT
	WITH CHECK ((SELECT machi.current_role()) = 'open311_client'
		AND tenant_id = (SELECT machi.current_tenant()) AND author_id IS NULL
		AND api_key_id IS NOT DISTINCT FROM (SELECT machi.current_api_key())
		AND status = 'received' AND visibility = 'private');

-- ---- rendering ----

CREATE FUNCTION machi.xml_escape(t text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN replace(replace(replace(replace(replace(t, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;');
COMMENT ON FUNCTION machi.xml_escape(text) IS 'Escape text for XML content and attribute values.';

-- the order of an element's children in the GeoReport v2 examples; other
-- children follow in jsonb order.  Called per element: no SET clause (the
-- SQL body is bound at creation)
CREATE FUNCTION machi.open311_child_rank(parent text, child text) RETURNS int
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN array_position(CASE parent
		WHEN 'service' THEN ARRAY['service_code', 'service_name', 'description', 'metadata', 'type', 'keywords', 'group']
		WHEN 'service_definition' THEN ARRAY['service_code', 'attributes']
		WHEN 'attribute' THEN ARRAY['variable', 'code', 'datatype', 'required', 'datatype_description', 'order',
									 'description', 'values']
		WHEN 'value' THEN ARRAY['key', 'name']
		WHEN 'request' THEN ARRAY['service_request_id', 'token', 'status', 'status_notes', 'service_name', 'service_code',
								   'description', 'agency_responsible', 'service_notice', 'account_id',
								   'requested_datetime', 'updated_datetime', 'expected_datetime', 'address',
								   'address_id', 'zipcode', 'lat', 'long', 'media_url']
		WHEN 'error' THEN ARRAY['code', 'description']
		WHEN 'discovery' THEN ARRAY['changeset', 'contact', 'key_service', 'endpoints']
		WHEN 'endpoint' THEN ARRAY['specification', 'url', 'changeset', 'type', 'formats']
		END, child);
COMMENT ON FUNCTION machi.open311_child_rank(text, text) IS
'Position of a child element in its Open311 GeoReport v2 parent (service, service_definition, attribute, value, request, error, discovery, endpoint) as the specification''s examples order them; NULL for others.';

CREATE FUNCTION machi.json_to_xml(name text, v jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN CASE jsonb_typeof(v)
		WHEN 'object' THEN '<' || name || '>' || coalesce((SELECT string_agg(machi.json_to_xml(k, e), ''
				ORDER BY machi.open311_child_rank(name, k) NULLS LAST, o)
			FROM jsonb_each(v) WITH ORDINALITY AS x(k, e, o)), '') || '</' || name || '>'
		-- an array becomes repeated elements named by the singular of its name
		WHEN 'array' THEN '<' || name || '>' || coalesce((SELECT string_agg(machi.json_to_xml(
				CASE WHEN name = 'service_requests' THEN 'request' ELSE regexp_replace(name, 's$', '') END, e), '' ORDER BY o)
			FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, o)), '') || '</' || name || '>'
		WHEN 'null' THEN '<' || name || '/>'
		ELSE '<' || name || '>' || machi.xml_escape(v #>> '{}') || '</' || name || '>' END;
END
$$;
COMMENT ON FUNCTION machi.json_to_xml(text, jsonb) IS 'Open311 XML of a JSON value: objects as elements (children in the specification''s order, machi.open311_child_rank), arrays as repeated singular elements, null as an empty element.';

CREATE FUNCTION machi.open311_format(path text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN CASE WHEN path ~ '\.xml$' THEN 'xml' WHEN path ~ '\.json$' THEN 'json' END;
COMMENT ON FUNCTION machi.open311_format(text) IS 'The response format of an Open311 path: json or xml by its extension.';

CREATE FUNCTION machi.open311_reply(path text, root text, body jsonb, status int DEFAULT 200)
	RETURNS machi.response
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	RETURN CASE WHEN machi.open311_format(path) = 'xml'
		THEN ROW(status, jsonb_build_object('content-type', 'text/xml; charset=utf-8'), NULL,
				 convert_to('<?xml version="1.0" encoding="utf-8"?>' || machi.json_to_xml(root, body), 'UTF8'))::machi.response
		ELSE ROW(status, NULL, body, NULL)::machi.response END;
COMMENT ON FUNCTION machi.open311_reply(text, text, jsonb, int) IS 'An Open311 response in the format the path asks for (root names the XML document element).';

CREATE FUNCTION machi.open311_error(path text, status int, description text) RETURNS machi.response
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	RETURN machi.open311_reply(path, 'errors', jsonb_build_array(jsonb_build_object('code', status, 'description', description)), status);
COMMENT ON FUNCTION machi.open311_error(text, int, text) IS 'An Open311 error body ([{code, description}] / <errors><error>) with its HTTP status.';

CREATE FUNCTION machi.open311_strip(seg text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN regexp_replace(seg, '\.(json|xml)$', '');
COMMENT ON FUNCTION machi.open311_strip(text) IS 'A path segment without its .json/.xml extension.';

CREATE FUNCTION machi.open311_tenant(r machi.request, required boolean) RETURNS machi.tenant
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j text := coalesce(r.data->>'jurisdiction_id', r.query->>'jurisdiction_id');
	t machi.tenant;
BEGIN
	IF j IS NULL THEN
		IF (SELECT machi.current_role()) = 'open311_client' THEN
			SELECT * INTO t FROM machi.tenant WHERE tenant_id = machi.current_tenant();
			RETURN t;
		END IF;
		IF required THEN
			RAISE EXCEPTION USING ERRCODE = 'MC400', MESSAGE = 'jurisdiction_id is required (GET /open311/v2/discovery.json lists them: the tenant ids)';
		END IF;
		RETURN NULL;
	END IF;
	SELECT * INTO t FROM machi.tenant WHERE tenant_id::text = j AND contract_state = 'active';
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('jurisdiction_id %s not found', j);
	END IF;
	RETURN t;
END
$$;
COMMENT ON FUNCTION machi.open311_tenant(machi.request, boolean) IS 'The tenant named by jurisdiction_id (the tenant id), or the API key''s tenant.';

-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.open311_request_json(rep machi.report) RETURNS jsonb
	LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT jsonb_build_object(
		'service_request_id', rep.report_id::text,
		'status', CASE WHEN s.is_open THEN 'open' ELSE 'closed' END,
		'status_notes', (SELECT u.body FROM machi.report_update u WHERE u.tenant_id = rep.tenant_id
						 AND u.report_id = rep.report_id AND u.kind = 'response' AND u.visibility = 'public'
						 ORDER BY u.update_id DESC LIMIT 1),
		'service_name', c.name,
		'service_code', c.code,
		'description', coalesce(rep.public_description, rep.description),
		'agency_responsible', d.name,
		'service_notice', NULL,
		'requested_datetime', to_char(rep.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
		'updated_datetime', to_char(rep.updated_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
		'expected_datetime', NULL,
		'address', rep.address,
		'address_id', NULL,
		'zipcode', NULL,
		'lat', round(public.st_y(rep.location)::numeric, 7),
		'long', round(public.st_x(rep.location)::numeric, 7),
		'media_url', (SELECT '/v1/reports/' || rep.report_id || '/photos/' || p.photo_no FROM machi.report_photo p
					  WHERE p.tenant_id = rep.tenant_id AND p.report_id = rep.report_id AND NOT p.hidden
					  ORDER BY p.photo_no LIMIT 1))
	FROM machi.category c, machi.department d, machi.report_status s
	WHERE c.tenant_id = rep.tenant_id AND c.category_id = rep.category_id
	  AND d.tenant_id = rep.tenant_id AND d.department_id = rep.department_id
	  AND s.status = rep.status;
END;
COMMENT ON FUNCTION machi.open311_request_json(machi.report) IS 'A published report as an Open311 service request (times in JST, status open/closed, status_notes = latest public response, media_url = path of its first visible photo).';

-- ---- routes ----

CREATE FUNCTION machi.rt_open311(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	seg text[] := string_to_array(substr(r.path, length('/open311/v2/') + 1), '/');
	fmt text := machi.open311_format(r.path);
	t machi.tenant;
	res jsonb;
	ids text[];
	from_ts timestamptz;
	to_ts timestamptz;
	st text;
	rep machi.report;
	cat machi.category;
	src jsonb := coalesce(r.data, '{}');
	lat float8;
	lon float8;
	tok text;
BEGIN
	IF fmt IS NULL THEN
		RETURN machi.open311_error(r.path || '.json', 404, 'use a .json or .xml resource');
	END IF;
	IF machi.current_role() = 'open311_client' AND machi.current_tenant() IS NULL THEN
		RETURN machi.open311_error(r.path, 403, 'invalid api_key');
	END IF;
	BEGIN
		IF seg[1] IN ('discovery.json', 'discovery.xml') AND r.method = 'GET' THEN
			RETURN machi.open311_reply(r.path, 'discovery', jsonb_build_object(
				'changeset', to_char(coalesce((SELECT max(created_at) FROM machi.category), now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
				'contact', 'Ask the municipality (jurisdiction) concerned.',
				'key_service', 'API keys are issued by each municipality''s administrators.',
				'endpoints', jsonb_build_array(jsonb_build_object(
					'specification', 'http://wiki.open311.org/GeoReport_v2',
					'url', '/open311/v2', 'changeset', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
					'type', 'production', 'formats', jsonb_build_array('application/json', 'text/xml'))),
				'jurisdictions', (SELECT jsonb_agg(jsonb_build_object('jurisdiction_id', tenant_id::text, 'name', name) ORDER BY tenant_id)
								  FROM machi.tenant WHERE contract_state = 'active')));
		ELSIF seg[1] IN ('services.json', 'services.xml') AND array_length(seg, 1) = 1 AND r.method = 'GET' THEN
			t := machi.open311_tenant(r, true);
			SELECT coalesce(jsonb_agg(jsonb_build_object(
					'service_code', c.code, 'service_name', c.name, 'description', coalesce(c.description, c.name_en, ''),
					'metadata', false, 'type', 'realtime', 'keywords', coalesce(c.name_en, ''), 'group', d.name)
					ORDER BY c.sort_order, c.code), '[]')
			INTO res
			FROM machi.category c JOIN machi.department d USING (tenant_id, department_id)
			WHERE c.tenant_id = t.tenant_id AND c.active;
			RETURN machi.open311_reply(r.path, 'services', res);
		ELSIF seg[1] = 'services' AND array_length(seg, 1) = 2 AND r.method = 'GET' THEN
			t := machi.open311_tenant(r, true);
			IF NOT EXISTS (SELECT 1 FROM machi.category c WHERE c.tenant_id = t.tenant_id AND c.active
						   AND c.code = machi.open311_strip(seg[2])) THEN
				RETURN machi.open311_error(r.path, 404, 'service_code not found');
			END IF;
			RETURN machi.open311_reply(r.path, 'service_definition', jsonb_build_object(
				'service_code', machi.open311_strip(seg[2]), 'attributes', '[]'::jsonb));
		ELSIF seg[1] IN ('requests.json', 'requests.xml') AND array_length(seg, 1) = 1 AND r.method = 'GET' THEN
			t := machi.open311_tenant(r, false);
			IF r.query->>'service_request_id' IS NOT NULL THEN
				ids := string_to_array(r.query->>'service_request_id', ',');
				IF array_length(ids, 1) > 1000 OR EXISTS (SELECT 1 FROM unnest(ids) i WHERE trim(i) !~ '^[0-9]{1,18}$') THEN
					RETURN machi.open311_error(r.path, 400, 'service_request_id must be a comma-separated list of ids');
				END IF;
			ELSE
				from_ts := machi.date_arg(r.query, 'start_date');
				to_ts := machi.date_arg(r.query, 'end_date');
				to_ts := coalesce(to_ts, now());
				from_ts := coalesce(from_ts, to_ts - interval '90 days');
				IF from_ts < to_ts - interval '90 days' THEN
					RETURN machi.open311_error(r.path, 400, 'start_date and end_date may be at most 90 days apart');
				END IF;
				IF to_ts < from_ts THEN
					RETURN machi.open311_error(r.path, 400, 'start_date must be before end_date');
				END IF;
			END IF;
			st := r.query->>'status';
			IF st IS NOT NULL AND NOT string_to_array(st, ',') <@ ARRAY['open', 'closed'] THEN
				RETURN machi.open311_error(r.path, 400, 'status must be open, closed or open,closed');
			END IF;
			SELECT coalesce(jsonb_agg(machi.open311_request_json(x) ORDER BY x.report_id DESC), '[]') INTO res
			FROM (SELECT rep2.* FROM machi.report rep2
				  JOIN machi.report_status s ON s.status = rep2.status
				  WHERE rep2.visibility = 'public'
					AND (t.tenant_id IS NULL OR rep2.tenant_id = t.tenant_id)
					AND (ids IS NULL OR rep2.report_id = ANY (SELECT trim(i)::bigint FROM unnest(ids) i))
					AND (ids IS NOT NULL OR rep2.created_at BETWEEN from_ts AND to_ts)
					AND (r.query->>'service_code' IS NULL OR EXISTS (SELECT 1 FROM machi.category c
						 WHERE c.tenant_id = rep2.tenant_id AND c.category_id = rep2.category_id AND c.code = r.query->>'service_code'))
					AND (st IS NULL OR (CASE WHEN s.is_open THEN 'open' ELSE 'closed' END) = ANY (string_to_array(st, ',')))
				  ORDER BY rep2.report_id DESC LIMIT 1000) x;
			RETURN machi.open311_reply(r.path, 'service_requests', res);
		ELSIF seg[1] = 'requests' AND array_length(seg, 1) = 2 AND r.method = 'GET' THEN
			SELECT * INTO rep FROM machi.report x
			WHERE machi.open311_strip(seg[2]) ~ '^[0-9]{1,18}$' AND x.report_id = machi.open311_strip(seg[2])::bigint
			  AND x.visibility = 'public';
			IF NOT FOUND THEN
				RETURN machi.open311_error(r.path, 404, 'service_request_id not found');
			END IF;
			RETURN machi.open311_reply(r.path, 'service_requests', jsonb_build_array(machi.open311_request_json(rep)));
		ELSIF seg[1] = 'tokens' AND array_length(seg, 1) = 2 AND r.method = 'GET' THEN
			SELECT * INTO rep FROM machi.report x WHERE x.open311_token = machi.open311_strip(seg[2])
				AND x.tenant_id IS NOT DISTINCT FROM coalesce(machi.current_tenant(), x.tenant_id)
				AND (x.visibility = 'public' OR x.api_key_id IS NOT DISTINCT FROM machi.current_api_key());
			IF NOT FOUND THEN
				RETURN machi.open311_error(r.path, 404, 'token not found');
			END IF;
			RETURN machi.open311_reply(r.path, 'service_requests', jsonb_build_array(jsonb_build_object(
				'service_request_id', rep.report_id::text, 'token', rep.open311_token)));
		ELSIF seg[1] IN ('requests.json', 'requests.xml') AND array_length(seg, 1) = 1 AND r.method = 'POST' THEN
			IF (SELECT machi.current_role()) IS DISTINCT FROM 'open311_client' THEN
				RETURN machi.open311_error(r.path, 403, 'api_key is required to post service requests');
			END IF;
			t := machi.open311_tenant(r, false);
			IF t.tenant_id IS DISTINCT FROM machi.current_tenant() THEN
				RETURN machi.open311_error(r.path, 403, 'this api_key is not valid for this jurisdiction_id');
			END IF;
			IF src->>'lat' IS NULL OR src->>'long' IS NULL THEN
				RETURN machi.open311_error(r.path, 400, 'lat and long are required (address_string and address_id are not supported)');
			END IF;
			lat := machi.arg_number(src, 'lat', -90, 90);
			lon := machi.arg_number(src, 'long', -180, 180);
			IF machi.locate(lat, lon) IS DISTINCT FROM t.tenant_id THEN
				RETURN machi.open311_error(r.path, 400, 'lat/long is outside this jurisdiction');
			END IF;
			SELECT * INTO cat FROM machi.category c WHERE c.tenant_id = t.tenant_id AND c.active
				AND c.code = src->>'service_code';
			IF NOT FOUND THEN
				RETURN machi.open311_error(r.path, 400, 'service_code not found');
			END IF;
			tok := encode(public.gen_random_bytes(16), 'hex');
			INSERT INTO machi.report (tenant_id, category_id, department_id, author_id, title, description,
									  address, location, api_key_id, open311_token)
			VALUES (t.tenant_id, cat.category_id, cat.department_id, NULL,
					left(coalesce(nullif(src->>'description', ''), cat.name), 60),
					coalesce(machi.arg_text(src, 'description', false, 4000), ''),
					machi.arg_text(src, 'address_string', false, 300),
					public.st_setsrid(public.st_makepoint(lon, lat), 4326),
					machi.current_api_key(), tok)
			RETURNING * INTO rep;
			RETURN machi.open311_reply(r.path, 'service_requests', jsonb_build_array(jsonb_build_object(
				'service_request_id', rep.report_id::text, 'token', tok,
				'service_notice', 'Published after review by the municipality.', 'account_id', NULL)), 201);
		END IF;
		RETURN machi.open311_error(r.path, CASE WHEN r.method = 'GET' THEN 404 ELSE 405 END, 'no such Open311 resource');
	EXCEPTION WHEN SQLSTATE 'MC400' OR SQLSTATE 'MC404' OR SQLSTATE 'MC422' THEN
		RETURN machi.open311_error(r.path, substr(SQLSTATE, 3)::int, SQLERRM);
	END;
END
$$;
COMMENT ON FUNCTION machi.rt_open311(machi.request) IS
'Open311 GeoReport v2: discovery, services, services/{code}, requests (GET, and POST with api_key), requests/{id}, tokens/{token}, each in .json and .xml. jurisdiction_id is the tenant id. Only published reports are exposed.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description)
SELECT m, p, 'machi.rt_open311(machi.request)', 'apikey', CASE WHEN m = 'POST' THEN 16384 ELSE 0 END, d
FROM (VALUES
	('GET', '/open311/v2/discovery.json', 'Open311 discovery.'),
	('GET', '/open311/v2/discovery.xml', 'Open311 discovery.'),
	('GET', '/open311/v2/services.json', 'Open311 services (categories) of a jurisdiction.'),
	('GET', '/open311/v2/services.xml', 'Open311 services (categories) of a jurisdiction.'),
	('GET', '/open311/v2/services/{code}', 'Open311 service definition.'),
	('GET', '/open311/v2/requests.json', 'Open311 service requests (published reports).'),
	('GET', '/open311/v2/requests.xml', 'Open311 service requests (published reports).'),
	('POST', '/open311/v2/requests.json', 'Open311: post a service request (api_key).'),
	('POST', '/open311/v2/requests.xml', 'Open311: post a service request (api_key).'),
	('GET', '/open311/v2/requests/{id}', 'Open311: one service request.'),
	('GET', '/open311/v2/tokens/{token}', 'Open311: the service request of a token.')
) AS x(m, p, d);

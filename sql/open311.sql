-- open311: GeoReport v2 field names, formats and errors; only published
-- reports without a key; posting needs a tenant's API key.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.o(m text, p text, q text DEFAULT '', form text DEFAULT NULL)
	RETURNS TABLE (status int, ctype text, body text)
	LANGUAGE sql
	RETURN (SELECT ROW(h.status, h.headers->>'content-type', convert_from(h.body, 'UTF8'))
			FROM api.handle(m, p, q, '{"content-type": "application/x-www-form-urlencoded"}',
							convert_to(form, 'UTF8'), '127.0.0.1', 'open311-test') h);
-- discovery
SELECT status, ctype, body::jsonb->'endpoints'->0->>'specification' AS spec,
	   body::jsonb->'endpoints'->0->'formats' AS formats, body::jsonb->'jurisdictions'->0 AS first_jurisdiction
FROM pg_temp.o('GET', '/open311/v2/discovery.json');
SELECT status, ctype, left(body, 60) AS xml FROM pg_temp.o('GET', '/open311/v2/discovery.xml');
-- services: jurisdiction_id is the tenant id
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/services.json');
SELECT status, jsonb_path_query_array(body::jsonb, '$[*].service_code') AS codes,
	   (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(body::jsonb->0) k) AS fields
FROM pg_temp.o('GET', '/open311/v2/services.json', 'jurisdiction_id=12101');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/services.xml', 'jurisdiction_id=12103');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/services.json', 'jurisdiction_id=99999');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/services/road.json', 'jurisdiction_id=12101');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/services/nothing.xml', 'jurisdiction_id=12101');
-- requests: only published reports, with the spec's field names
SELECT status, jsonb_array_length(body::jsonb) AS n,
	   (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(body::jsonb->0) k) AS fields
FROM pg_temp.o('GET', '/open311/v2/requests.json');
SELECT r->>'status' AS status, r->>'service_code' AS code, r->>'agency_responsible' AS agency,
	   r->>'description' AS description, r->>'status_notes' AS status_notes
FROM pg_temp.o('GET', '/open311/v2/requests.json', 'jurisdiction_id=12103') o, jsonb_array_elements(o.body::jsonb) r;
SELECT report_id AS private_id FROM machi.report WHERE visibility = 'private' ORDER BY report_id LIMIT 1 \gset
SELECT report_id AS public_id FROM machi.report WHERE visibility = 'public' ORDER BY report_id LIMIT 1 \gset
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests/' || :private_id || '.json');
SELECT status, body::jsonb->0->>'service_request_id' = :'public_id' AS found FROM pg_temp.o('GET', '/open311/v2/requests/' || :public_id || '.json');
SELECT status, jsonb_array_length(body::jsonb) AS n FROM pg_temp.o('GET', '/open311/v2/requests.json', 'service_request_id=' || :private_id || ',' || :public_id);
SELECT status, jsonb_array_length(body::jsonb) AS n FROM pg_temp.o('GET', '/open311/v2/requests.json', 'status=closed');
SELECT status, jsonb_array_length(body::jsonb) AS n FROM pg_temp.o('GET', '/open311/v2/requests.json', 'status=open&service_code=road');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests.json', 'status=pending');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests.json', 'start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests.xml', 'start_date=not-a-date');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests.json', 'service_request_id=1,x');
SELECT status, ctype, body LIKE '<?xml version="1.0" encoding="utf-8"?><service_requests><request><service_request_id>%' AS xml_shape
FROM pg_temp.o('GET', '/open311/v2/requests.xml');
-- a request's children in the order of the specification's example
SELECT string_agg(m[1], ',' ORDER BY n) AS request_children
FROM pg_temp.o('GET', '/open311/v2/requests.xml') o,
	 regexp_matches((regexp_match(o.body, '<request>(.*?)</request>'))[1], '<([a-z_]+)/?>(?:[^<]*</\1>)?', 'g') WITH ORDINALITY AS x(m, n);
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests/abc.xml');
SELECT status, body FROM pg_temp.o('GET', '/open311/v2/requests/1.txt');
-- posting: an API key of the jurisdiction is required
SELECT machi.create_api_key(12101, 'regression client') AS key12101 \gset
SELECT machi.create_api_key(12103, 'regression client') AS key12103 \gset
SELECT :'key12101' ~ '^mk_[A-Za-z0-9_-]{43}$' AS key_format,
	   (SELECT count(*) FROM machi.api_key WHERE key_hash = public.digest(:'key12101', 'sha256')) AS stored_as_hash,
	   (SELECT count(*) FROM machi.api_key k WHERE position(convert_to(:'key12101', 'UTF8') IN k.key_hash) > 0
		OR k.label = :'key12101') AS stored_in_clear;
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063&description=hole');
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=mk_wrong&jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063&description=hole');
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=' || :'key12103' || '&jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063&description=hole');
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=' || :'key12101' || '&jurisdiction_id=12101&service_code=nothing&lat=35.6073&long=140.1063');
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=' || :'key12101' || '&jurisdiction_id=12101&service_code=road&lat=35.6376&long=140.0924');
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=' || :'key12101' || '&jurisdiction_id=12101&service_code=road&address_string=somewhere');
SELECT status AS post_status, body::jsonb->0->>'token' AS token, body::jsonb->0->>'service_request_id' AS id, body AS post_body
FROM pg_temp.o('POST', '/open311/v2/requests.json', '', 'api_key=' || :'key12101' || '&jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063&description=%E7%A9%B4%E3%81%8C%E3%81%82%E3%82%8A%E3%81%BE%E3%81%99&email=someone%40example.com') \gset o_
SELECT :o_post_status AS status, :'o_token' ~ '^[0-9a-f]{32}$' AS token_format,
	   :'o_post_body'::jsonb->0->>'service_notice' AS notice;
SELECT tenant_id, author_id, title, description, visibility, api_key_id IS NOT NULL AS via_key FROM machi.report WHERE report_id = :o_id;
-- the new request is not public yet: its token answers only to the key that posted it
SELECT status FROM pg_temp.o('GET', '/open311/v2/tokens/' || :'o_token' || '.json');
SELECT status, body::jsonb->0->>'service_request_id' = :'o_id' AS found FROM pg_temp.o('GET', '/open311/v2/tokens/' || :'o_token' || '.json', 'api_key=' || :'key12101');
SELECT status FROM pg_temp.o('GET', '/open311/v2/requests/' || :o_id || '.json');
-- a revoked key stops working at once
SELECT key_id AS kid FROM machi.api_key WHERE tenant_id = 12101 \gset
SELECT machi.revoke_api_key(12101, :kid);
SELECT status, body FROM pg_temp.o('POST', '/open311/v2/requests.xml', '', 'api_key=' || :'key12101' || '&jurisdiction_id=12101&service_code=road&lat=35.6073&long=140.1063');
-- XML escaping of user text
SELECT machi.json_to_xml('request', '{"description": "<script>&\"''", "media_url": null, "keywords": ["a", "b"]}');
-- media_url points at the first photo the public may see
SELECT r->>'media_url' ~ '^/v1/reports/[0-9]+/photos/1$' AS media_url
FROM pg_temp.o('GET', '/open311/v2/requests.json') o, jsonb_array_elements(o.body::jsonb) r
WHERE r->>'media_url' IS NOT NULL;

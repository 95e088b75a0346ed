-- routing: api.handle finds routes, validates input and maps every error to
-- an HTTP status with a JSON body; it never raises for a client's mistake.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.call(m text, p text, q text DEFAULT '', b text DEFAULT NULL,
							 h jsonb DEFAULT '{"content-type": "application/json"}')
	RETURNS TABLE (status int, body jsonb)
	LANGUAGE sql
	RETURN (SELECT ROW(r.status, convert_from(r.body, 'UTF8')::jsonb)
			FROM api.handle(m, p, q, h, convert_to(b, 'UTF8'), '192.0.2.1', 'routing-test') r);
SELECT * FROM pg_temp.call('GET', '/v1/health');
SELECT status, jsonb_array_length(body->'tenants') AS tenants, body->'tenants'->0 AS first
FROM pg_temp.call('GET', '/v1/tenants');
-- unknown path: 404; wrong method: 405 with Allow
SELECT * FROM pg_temp.call('GET', '/v1/nowhere');
SELECT * FROM pg_temp.call('GET', '/');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/');
SELECT * FROM pg_temp.call('DELETE', '/v1/tenants');
SELECT status, headers->>'allow' AS allow
FROM api.handle('PUT', '/v1/locate', '', '{}', NULL, NULL, NULL);
SELECT * FROM pg_temp.call('BREW', '/v1/health');
-- the response headers
SELECT status, headers FROM api.handle('GET', '/v1/health', '', '{}', NULL, NULL, 'req-abc_123');
-- an unusable request id is replaced by a fresh one
SELECT length(headers->>'x-request-id') AS generated_id_length
FROM api.handle('GET', '/v1/health', '', '{}', NULL, NULL, E'bad id\r\nx: y');
-- path checks: traversal, empty segments, bad escapes, NUL, non-UTF-8
SELECT * FROM pg_temp.call('GET', '/v1/../v1/health');
SELECT * FROM pg_temp.call('GET', '/v1//health');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/%2e%2e/categories');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/%zz/categories');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/%00/categories');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/%ff%fe/categories');
SELECT * FROM pg_temp.call('GET', 'v1/health');
SELECT * FROM pg_temp.call('GET', '/v1/' || repeat('a', 3000));
-- ids that name nothing are 404 whatever their shape
SELECT * FROM pg_temp.call('GET', '/v1/tenants/abc/categories');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/99999999999999999999/categories');
SELECT * FROM pg_temp.call('GET', '/v1/tenants/424242/categories');
SELECT status, body->'tenant'->>'name' AS tenant, jsonb_array_length(body->'categories') AS categories,
	   body->'categories'->0->>'code' AS first_code, body->'categories'->0->'department'->>'name' AS department
FROM pg_temp.call('GET', '/v1/tenants/12101/categories');
-- query strings: decoded, duplicates and bad escapes refused, length bounded
SELECT status, body->'tenant'->>'id' AS tenant FROM pg_temp.call('GET', '/v1/locate', 'lat=35.6073&lon=140.1063');
SELECT status, body->'tenant'->>'id' AS tenant FROM pg_temp.call('GET', '/v1/locate', 'lat=%2B35.6073&&lon=140.1063&unused');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=35.6&lat=35.7&lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=35.6%&lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=35.6%00&lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=' || repeat('9', 9000));
-- field-level validation messages
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=north&lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=95&lon=140.1');
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=NaN&lon=140.1');
-- JSON bodies: parsed, with a clear message when broken
SELECT status, body->'tenant'->>'id' AS tenant FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": 35.6073, "lon": 140.1063}');
SELECT * FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": 35.6073, "lon": ');
SELECT * FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": 35.6073 "lon": 1}');
SELECT * FROM pg_temp.call('POST', '/v1/locate', '', '[1, 2]');
SELECT * FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": "35.6", "lon": true}');
SELECT status, convert_from(body, 'UTF8')::jsonb
FROM api.handle('POST', '/v1/locate', '', '{"content-type": "application/json"}', '\x7b226c6174223a2235ff227d'::bytea, NULL, NULL);
SELECT status, convert_from(body, 'UTF8')::jsonb
FROM api.handle('POST', '/v1/locate', '', '{"content-type": "application/json"}', '\x7b7d00'::bytea, NULL, NULL);
-- form bodies are decoded like query strings
SELECT status, body->'tenant'->>'id' AS tenant
FROM pg_temp.call('POST', '/v1/locate', '', 'lat=35.6073&lon=140.1063', '{"content-type": "application/x-www-form-urlencoded; charset=utf-8"}');
-- oversize input: 413 (this route takes 4 KiB)
SELECT * FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": 35.6, "lon": 140.1, "pad": "' || repeat('x', 5000) || '"}');
SELECT status FROM pg_temp.call('POST', '/v1/locate', '', '{"lat": 35.6073, "lon": 140.1063, "pad": "' || repeat('x', 3000) || '"}');
-- headers: strings only, no CR/LF/NUL
SELECT * FROM pg_temp.call('GET', '/v1/health', '', NULL, '{"x-evil": "a\r\nset-cookie: x=1"}');
SELECT * FROM pg_temp.call('GET', '/v1/health', '', NULL, '{"x-num": 5}');
SELECT * FROM pg_temp.call('GET', '/v1/health', '', NULL, '[]');
-- NULL arguments are an empty request, not a crash
SELECT status FROM api.handle(NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- an unexpected error is a 500 with a support id only; the detail goes to the log
CREATE FUNCTION machi.rt_test_boom(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 / 0; RETURN NULL; END $$;
INSERT INTO machi.route VALUES ('GET', '/v1/test/boom', 'machi.rt_test_boom(machi.request)', 'public', 0, 'test');
SELECT * FROM pg_temp.call('GET', '/v1/test/boom');
SELECT status, convert_from(body, 'UTF8')::jsonb FROM api.handle('GET', '/v1/test/boom', '', '{}', NULL, NULL, 'support-42');
-- a route that needs a signed-in caller answers 401 to anonymous callers
INSERT INTO machi.route VALUES ('GET', '/v1/test/private', 'machi.rt_test_boom(machi.request)', 'user', 0, 'test');
SELECT * FROM pg_temp.call('GET', '/v1/test/private');
-- route changes are seen at once (cache invalidation)
DELETE FROM machi.route WHERE pattern LIKE '/v1/test/%';
SELECT * FROM pg_temp.call('GET', '/v1/test/boom');
DROP FUNCTION machi.rt_test_boom(machi.request);
-- the route table is readable by DBAs
SELECT method, pattern, auth, max_body FROM machi.routes;
-- a number too large for a float is a field error, not a database message
SELECT * FROM pg_temp.call('GET', '/v1/locate', 'lat=' || repeat('9', 400) || '&lon=140.1');

-- auth_session: GET /v1/auth/session gives a reloaded console its session
-- and CSRF token back with the cookie alone; the token is the one of the
-- login, derived from the session token and stored nowhere; bearer tokens
-- and other sessions' cookies do not get it; a forced password change
-- still reads it.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
-- raw(method, path, body, headers): status, headers and body as api.handle returns them
CREATE FUNCTION pg_temp.raw(m text, p text, b jsonb, h jsonb DEFAULT '{}',
							OUT status int, OUT headers jsonb, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT x.status, x.headers, nullif(convert_from(x.body, 'UTF8'), '')::jsonb
	FROM api.handle(m, p, '', h || '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'),
					'198.51.100.36', 'test-session') x $$;
CREATE FUNCTION pg_temp.cookie(tok text, csrf text DEFAULT NULL) RETURNS jsonb
	LANGUAGE sql AS $$
	SELECT jsonb_strip_nulls(jsonb_build_object('cookie', 'lang=ja; __Host-machi_session=' || tok, 'x-csrf-token', csrf)) $$;

SELECT CASE WHEN EXISTS (SELECT 1 FROM machi.tenant WHERE tenant_id = 12101) THEN true
			ELSE machi.create_tenant(12101, '千葉市中央区', pg_read_file(:'datadir' || '/boundaries/12101.json')::jsonb) IS NOT NULL END AS tenant_ready;
SELECT account_id AS st, initial_password AS stpw
FROM machi.create_staff(12101, 'session-staff@city.example', 'Session Staff') \gset

-- the first login must change the password: the session is readable all the same
SELECT substring(headers->>'set-cookie' FROM '=([^;]+);') AS ctok, body->>'csrf_token' AS csrf
FROM pg_temp.raw('POST', '/v1/auth/login', jsonb_build_object('email', 'session-staff@city.example', 'password', :'stpw', 'cookie', true)) \gset
SELECT status, body->>'token_type' AS token_type, body->>'csrf_token' = :'csrf' AS same_csrf,
	   body->'account'->>'role' AS role, (body->'account'->>'tenant_id')::int AS tenant,
	   body->'account'->>'must_change_password' AS must_change, body ? 'token' AS shows_token
FROM pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'ctok'));
SELECT status, body->'error'->>'code' AS code FROM pg_temp.raw('GET', '/v1/me', NULL, pg_temp.cookie(:'ctok'));
-- "after a reload": the CSRF token from GET /v1/auth/session lets the page write
SELECT body->>'csrf_token' AS csrf2 FROM pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'ctok')) \gset
SELECT status, body->>'status' AS result
FROM pg_temp.raw('POST', '/v1/auth/password/change',
	jsonb_build_object('current_password', :'stpw', 'new_password', 'session reload kept working 7'),
	pg_temp.cookie(:'ctok', :'csrf2'));
SELECT status, body->'account'->>'must_change_password' AS must_change, body->>'csrf_token' = :'csrf' AS same_csrf
FROM pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'ctok'));
-- the token is derived from the session token, and neither is stored
SELECT machi.csrf_token(:'ctok') = :'csrf' AS derived, machi.csrf_token(:'ctok') <> :'ctok' AS differs,
	   machi.csrf_token(:'ctok' || 'x') <> :'csrf' AS keyed;
SELECT count(*) AS sessions_with_it FROM machi.session
WHERE csrf_hash = machi.token_hash(:'csrf') AND token_hash = machi.token_hash(:'ctok');

-- a second login (another tab after logging in again) has its own token
SELECT substring(headers->>'set-cookie' FROM '=([^;]+);') AS ctok2, body->>'csrf_token' AS csrf3
FROM pg_temp.raw('POST', '/v1/auth/login', jsonb_build_object('email', 'session-staff@city.example',
	'password', 'session reload kept working 7', 'cookie', true)) \gset
SELECT :'csrf3' <> :'csrf' AS own_token,
	   (pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'ctok2'))).body->>'csrf_token' = :'csrf3' AS same_again;
-- one session's CSRF token does not open another session's writes
SELECT status, body->'error'->>'code' AS code
FROM pg_temp.raw('PATCH', '/v1/me', '{"contact": "x"}', pg_temp.cookie(:'ctok2', :'csrf'));
SELECT status, body->'error'->>'code' AS code
FROM pg_temp.raw('PATCH', '/v1/me', '{"contact": "内線 1234"}', pg_temp.cookie(:'ctok2', :'csrf3'));

-- bearer sessions: described, no CSRF token (also when the token is put in the cookie)
SELECT body->>'token' AS btok FROM pg_temp.raw('POST', '/v1/auth/login', jsonb_build_object('email', 'session-staff@city.example',
	'password', 'session reload kept working 7')) \gset
SELECT status, body->>'token_type' AS token_type, body ? 'csrf_token' AS has_csrf
FROM pg_temp.raw('GET', '/v1/auth/session', NULL, jsonb_build_object('authorization', 'Bearer ' || :'btok'));
SELECT status, body->>'token_type' AS token_type, body ? 'csrf_token' AS has_csrf
FROM pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'btok'));
SELECT status, body->'error'->>'code' AS code
FROM pg_temp.raw('PATCH', '/v1/me', '{"contact": "x"}', pg_temp.cookie(:'btok', machi.csrf_token(:'btok')));
-- the console cookie sent as a bearer token: no CSRF token in the answer
SELECT status, body->>'token_type' AS token_type, body ? 'csrf_token' AS has_csrf
FROM pg_temp.raw('GET', '/v1/auth/session', NULL, jsonb_build_object('authorization', 'Bearer ' || :'ctok'));

-- without a session, or with an ended one
SELECT status, body->'error'->>'code' AS code FROM pg_temp.raw('GET', '/v1/auth/session', NULL);
SELECT status FROM pg_temp.raw('POST', '/v1/auth/logout', NULL, pg_temp.cookie(:'ctok', :'csrf'));
SELECT status, body->'error'->>'code' AS code FROM pg_temp.raw('GET', '/v1/auth/session', NULL, pg_temp.cookie(:'ctok'));
-- a DBA acting as the account has no session to describe
BEGIN;
SELECT machi.act_as(:st, 'regression test of the session route');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.raw('GET', '/v1/auth/session', NULL);
ROLLBACK;
-- outside api.handle there is no current CSRF token
SELECT machi.current_csrf_token() IS NULL AS none_outside;
SELECT method, pattern, auth FROM machi.routes WHERE pattern = '/v1/auth/session';

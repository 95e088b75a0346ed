-- sessions: staff idle timeout per tenant, absolute lifetimes, the
-- must-change-password gate, password change revoking the other sessions.
-- Time moves with machi.clock_offset, not with sleeps.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
CREATE FUNCTION pg_temp.api(m text, p text, b jsonb DEFAULT NULL, tok text DEFAULT NULL,
							OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT h.status, nullif(convert_from(h.body, 'UTF8'), '')::jsonb
	FROM api.handle(m, p, '',
		jsonb_strip_nulls(jsonb_build_object('content-type', 'application/json',
											 'authorization', 'Bearer ' || tok)),
		convert_to(b::text, 'UTF8'), '198.51.100.50', 'test-sessions') h $$;
CREATE FUNCTION pg_temp.token(email text, pw text) RETURNS text
	LANGUAGE sql AS $$
	SELECT body->>'token' FROM pg_temp.api('POST', '/v1/auth/login',
		jsonb_build_object('email', email, 'password', pw)) $$;

SELECT CASE WHEN EXISTS (SELECT 1 FROM machi.tenant WHERE tenant_id = 12102) THEN true
			ELSE machi.create_tenant(12102, '千葉市花見川区', pg_read_file(:'datadir' || '/boundaries/12102.json')::jsonb) IS NOT NULL END AS tenant_ready;
SELECT account_id AS s1, initial_password AS s1pw
FROM machi.create_staff(12102, 'sess-admin@city.example', 'Session Admin', 'tenant_admin') \gset

-- must change the generated password: every call but change and logout is refused
SELECT pg_temp.token('sess-admin@city.example', :'s1pw') AS tok \gset
SELECT status, body->'account'->'must_change_password' AS must_change
FROM pg_temp.api('POST', '/v1/auth/login', jsonb_build_object('email', 'sess-admin@city.example', 'password', :'s1pw'));
SELECT pg_temp.token('sess-admin@city.example', :'s1pw') AS tok_other \gset
SELECT m, p, status, body
FROM (VALUES (1, 'GET', '/v1/me', NULL), (2, 'GET', '/v1/admin/staff', NULL), (3, 'GET', '/v1/tenants', NULL),
			 (4, 'PATCH', '/v1/admin/tenant', '{"staff_idle_timeout_minutes": 10}'::jsonb),
			 (5, 'GET', '/v1/me/sessions', NULL)) AS r(n, m, p, b),
	 LATERAL pg_temp.api(m, p, b, :'tok')
ORDER BY n;
-- the rules apply to the new password (staff: at least 10 characters)
SELECT * FROM pg_temp.api('POST', '/v1/auth/password/change',
	jsonb_build_object('current_password', :'s1pw', 'new_password', 'Short1!x'), :'tok');
SELECT * FROM pg_temp.api('POST', '/v1/auth/password/change',
	jsonb_build_object('current_password', 'not the password', 'new_password', 'plum kettle orbit 29'), :'tok');
SELECT * FROM pg_temp.api('POST', '/v1/auth/password/change',
	jsonb_build_object('current_password', :'s1pw', 'new_password', :'s1pw'), :'tok');
SELECT * FROM pg_temp.api('POST', '/v1/auth/password/change',
	jsonb_build_object('current_password', :'s1pw', 'new_password', 'plum kettle orbit 29'), :'tok');
-- now every call works; the other session was revoked, this one kept
SELECT status, body->'account'->'must_change_password' AS must_change FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'tok_other');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', jsonb_build_object('email', 'sess-admin@city.example', 'password', :'s1pw'));
-- logout is allowed under the gate too
SELECT account_id AS s2, initial_password AS s2pw FROM machi.create_staff(12102, 'sess-staff@city.example', 'Session Staff') \gset
SELECT pg_temp.token('sess-staff@city.example', :'s2pw') AS tok2 \gset
SELECT * FROM pg_temp.api('POST', '/v1/auth/logout', NULL, :'tok2');

-- staff idle timeout: 30 minutes by default
SELECT status FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
SET machi.clock_offset = '29min';
SELECT status FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
-- each request moved last-seen, even one that failed: 29 more minutes are fine
SET machi.clock_offset = '58min';
SELECT status FROM pg_temp.api('DELETE', '/v1/me/sessions/999999999', NULL, :'tok');
SET machi.clock_offset = '87min';
SELECT status FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
-- 31 idle minutes end the session, with a message the console can show
SET machi.clock_offset = '118min';
SELECT * FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
SELECT * FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
RESET machi.clock_offset;

-- the tenant admin sets the tenant's idle timeout
SELECT pg_temp.token('sess-admin@city.example', 'plum kettle orbit 29') AS tok \gset
SELECT * FROM pg_temp.api('PATCH', '/v1/admin/tenant', '{"staff_idle_timeout_minutes": 5}', :'tok');
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api('PATCH', '/v1/admin/tenant', '{"staff_idle_timeout_minutes": 0}', :'tok');
SELECT staff_idle_timeout FROM machi.tenant WHERE tenant_id = 12102;
SET machi.clock_offset = '6min';
SELECT status, body->'error'->>'message' AS message FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
RESET machi.clock_offset;
-- a staff member without the tenant permission cannot change it
UPDATE machi.account SET must_change_password = false WHERE account_id = :s2;
SELECT pg_temp.token('sess-staff@city.example', :'s2pw') AS tok2 \gset
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('PATCH', '/v1/admin/tenant', '{"staff_idle_timeout_minutes": 600}', :'tok2');
SELECT status, body->'staff_idle_timeout_minutes' AS minutes FROM pg_temp.api('GET', '/v1/admin/tenant', NULL, :'tok2');

-- absolute lifetime: 12 hours for staff even when active
SELECT * FROM pg_temp.api('PATCH', '/v1/admin/tenant', '{"staff_idle_timeout_minutes": 1440}',
						  pg_temp.token('sess-admin@city.example', 'plum kettle orbit 29'));
SELECT pg_temp.token('sess-staff@city.example', :'s2pw') AS tok2 \gset
SET machi.clock_offset = '719min';
SELECT status FROM pg_temp.api('GET', '/v1/me', NULL, :'tok2');
SET machi.clock_offset = '12h';
SELECT * FROM pg_temp.api('GET', '/v1/me', NULL, :'tok2');
RESET machi.clock_offset;
-- citizens: no idle timeout, 30 days
SELECT machi.import_account('citizen', 'sess-citizen@example.jp', machi.password_hash('citizen of chiba 77')) AS c1 \gset
SELECT pg_temp.token('sess-citizen@example.jp', 'citizen of chiba 77') AS ctok \gset
SET machi.clock_offset = '719h';
SELECT status FROM pg_temp.api('GET', '/v1/me', NULL, :'ctok');
SET machi.clock_offset = '721h';
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'ctok');
RESET machi.clock_offset;
-- the lifetimes are settings
SET machi.citizen_session_lifetime = '1h';
SELECT pg_temp.token('sess-citizen@example.jp', 'citizen of chiba 77') AS ctok \gset
SET machi.clock_offset = '61min';
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'ctok');
RESET machi.clock_offset;
RESET machi.citizen_session_lifetime;
-- the idle rule is for staff only, per their tenant
SELECT s.account_id = :c1 AS citizen, s.expires_at - s.created_at AS lifetime
FROM machi.session s WHERE s.account_id = :c1 ORDER BY s.session_id;

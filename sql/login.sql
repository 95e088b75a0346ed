-- login: one answer for every failure, dummy verification for unknown ids,
-- tokens stored only as SHA-256, lockout and unlock, throttling per client
-- address, logout, own sessions, the console cookie with its CSRF token.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
-- raw(method, path, body, headers, addr): status, headers and body exactly as api.handle returns them
CREATE FUNCTION pg_temp.raw(m text, p text, b jsonb, h jsonb DEFAULT '{}', addr inet DEFAULT '198.51.100.1',
							OUT status int, OUT headers jsonb, OUT body text)
	LANGUAGE sql AS $$
	SELECT x.status, x.headers, convert_from(x.body, 'UTF8')
	FROM api.handle(m, p, '', h || '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'),
					addr, 'test-login') x $$;
CREATE FUNCTION pg_temp.api(m text, p text, b jsonb DEFAULT NULL, tok text DEFAULT NULL,
							addr inet DEFAULT '198.51.100.1', OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT r.status, nullif(r.body, '')::jsonb
	FROM pg_temp.raw(m, p, b, jsonb_strip_nulls(jsonb_build_object('authorization', 'Bearer ' || tok)), addr) r $$;
CREATE FUNCTION pg_temp.login(email text, pw text, addr inet DEFAULT '198.51.100.1',
							  OUT status int, OUT body text)
	LANGUAGE sql AS $$
	SELECT r.status, r.body FROM pg_temp.raw('POST', '/v1/auth/login',
		jsonb_build_object('email', email, 'password', pw), '{}', addr) r $$;
-- find(needle): every column of every table of schema machi whose value contains needle
CREATE FUNCTION pg_temp.find(needle text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	r record;
	hit boolean;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS tbl, a.attname, a.atttypid
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p')
		ORDER BY 1, 2
	LOOP
		IF r.atttypid = 'bytea'::regtype THEN
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE position($1 IN %I) > 0 OR position($2 IN %I) > 0)',
						   r.tbl, r.attname, r.attname)
				INTO hit USING convert_to(needle, 'UTF8'),
					 coalesce(decode(translate(needle, '-_', '+/') || '=', 'base64'), '\x00dead00'::bytea);
		ELSE
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE strpos(lower(%I::text), lower($1)) > 0)', r.tbl, r.attname)
				INTO hit USING needle;
		END IF;
		IF hit THEN
			RETURN NEXT r.tbl || '.' || r.attname;
		END IF;
	END LOOP;
END
$$;

SELECT CASE WHEN EXISTS (SELECT 1 FROM machi.tenant WHERE tenant_id = 12101) THEN true
			ELSE machi.create_tenant(12101, '千葉市中央区', pg_read_file(:'datadir' || '/boundaries/12101.json')::jsonb) IS NOT NULL END AS tenant_ready;
SELECT machi.import_account('citizen', 'login-a@example.jp', machi.password_hash('login password A 1'),
							profile => '{"nickname": "login-a"}') AS a1 \gset
SELECT account_id AS s1, initial_password AS s1pw
FROM machi.create_staff(12101, 'login-staff@city.example', 'Login Staff') \gset

-- success: an opaque 256-bit token (base64url, 43 characters) and the account
SELECT status, body::jsonb - 'token' - 'expires_at' #- '{account,id}' AS body,
	   body::jsonb->>'token' ~ '^[A-Za-z0-9_-]{43}$' AS token_format,
	   (body::jsonb->>'expires_at')::timestamptz - now() BETWEEN interval '29 days' AND interval '31 days' AS thirty_days
FROM pg_temp.login('Login-A@Example.jp', 'login password A 1');
SELECT body::jsonb->>'token' AS tok FROM pg_temp.login('login-a@example.jp', 'login password A 1') \gset
SELECT status, body->'account'->>'id' = :'a1' AS me FROM pg_temp.api('GET', '/v1/me', NULL, :'tok');
-- each login makes a new token
SELECT count(DISTINCT body::jsonb->>'token') AS distinct_tokens
FROM generate_series(1, 3) g, LATERAL pg_temp.login('login-a@example.jp', 'login password A 1', ('198.51.100.' || g)::inet);

-- the token is stored nowhere, in any form but its SHA-256
SELECT * FROM pg_temp.find(:'tok');
SELECT count(*) AS sessions_with_this_hash FROM machi.session WHERE token_hash = sha256(convert_to(:'tok', 'UTF8'));
SELECT * FROM pg_temp.find('login password A 1');

-- every failure cause gets the very same status and body
UPDATE machi.account SET state = 'disabled' WHERE account_id = :s1;
SELECT machi.import_account('citizen', 'login-locked@example.jp', machi.password_hash('locked password 42')) AS locked \gset
SELECT machi.lock_account(:locked, 'test: operator lock');
SELECT machi.dummy_verifications() AS dummy_before \gset
SELECT cause, status, body
FROM (VALUES (1, 'unknown id', 'nobody-at-all@example.jp', 'whatever it is'),
			 (2, 'wrong password', 'login-a@example.jp', 'login password A 2'),
			 (3, 'locked', 'login-locked@example.jp', 'locked password 42'),
			 (4, 'disabled', 'login-staff@city.example', :'s1pw'),
			 (5, 'empty-ish id', ' ', 'x')) AS c(n, cause, email, pw),
	 LATERAL pg_temp.login(email, pw)
ORDER BY n;
SELECT count(DISTINCT (r.status, r.body, r.headers - 'x-request-id')) AS distinct_answers
FROM (VALUES ('nobody-at-all@example.jp', 'whatever it is'), ('login-a@example.jp', 'login password A 2'),
			 ('login-locked@example.jp', 'locked password 42'), ('login-staff@city.example', :'s1pw')) AS c(email, pw),
	 LATERAL pg_temp.raw('POST', '/v1/auth/login', jsonb_build_object('email', email, 'password', pw)) r;
-- the unknown ids (and only they) went through the dummy argon2id verification
SELECT machi.dummy_verifications() - :dummy_before AS dummy_verifications;
UPDATE machi.account SET state = 'active' WHERE account_id = :s1;

-- lockout: 10 consecutive failures lock the account for 15 minutes
SELECT machi.import_account('citizen', 'login-lockme@example.jp', machi.password_hash('lock me out 31415')) AS lm \gset
SELECT body::jsonb->>'token' AS lmtok FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415') \gset
SELECT status, count(*) FROM generate_series(1, 9), LATERAL pg_temp.login('login-lockme@example.jp', 'wrong ' || generate_series) GROUP BY 1;
SELECT failed_logins, locked_until IS NULL AS unlocked FROM machi.account WHERE account_id = :lm;
-- a success resets the counter
SELECT status FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
SELECT failed_logins FROM machi.account WHERE account_id = :lm;
SELECT status, count(*) FROM generate_series(1, 10), LATERAL pg_temp.login('login-lockme@example.jp', 'wrong ' || generate_series) GROUP BY 1;
SELECT failed_logins, locked_until - machi.now() BETWEEN interval '14 minutes' AND interval '15 minutes' AS fifteen_minutes,
	   lock_reason FROM machi.account WHERE account_id = :lm;
-- locked: the right password gets the same answer, and the sessions were revoked
SELECT status, body FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'lmtok');
-- after 15 minutes the account opens again
SET machi.clock_offset = '16min';
SELECT status FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
RESET machi.clock_offset;
-- operators lock and unlock by hand
SELECT machi.lock_account(:lm, 'test: suspicious activity');
SELECT status FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
SET machi.clock_offset = '24h';
SELECT status FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
RESET machi.clock_offset;
SELECT machi.unlock_account(:lm);
SELECT status FROM pg_temp.login('login-lockme@example.jp', 'lock me out 31415');
SELECT machi.lock_account(:lm, 'short');
SELECT machi.unlock_account(999999);
SET ROLE machi_gateway;
SELECT machi.lock_account(1, 'not an operator');
RESET ROLE;

-- throttling per client address: over the limit, 429 with Retry-After
SET machi.address_failure_limit = 3;
SELECT status, count(*) FROM generate_series(1, 3),
	LATERAL pg_temp.login('nobody-' || generate_series || '@example.jp', 'x', '203.0.113.7') GROUP BY 1;
SELECT status, headers->>'retry-after' AS retry_after, body::jsonb
FROM pg_temp.raw('POST', '/v1/auth/login', '{"email": "login-a@example.jp", "password": "login password A 1"}',
				 '{}', '203.0.113.7');
-- another address is not affected; the window passes
SELECT status FROM pg_temp.login('login-a@example.jp', 'login password A 1', '203.0.113.8');
SET machi.clock_offset = '16min';
SELECT status FROM pg_temp.login('login-a@example.jp', 'login password A 1', '203.0.113.7');
RESET machi.clock_offset;
RESET machi.address_failure_limit;

-- own sessions: list, revoke one, logout
SELECT body::jsonb->>'token' AS t1 FROM pg_temp.login('login-a@example.jp', 'login password A 1', '198.51.100.21') \gset
SELECT body::jsonb->>'token' AS t2 FROM pg_temp.login('login-a@example.jp', 'login password A 1', '198.51.100.22') \gset
SELECT s->>'client_addr' AS addr, s->>'current' AS current
FROM pg_temp.api('GET', '/v1/me/sessions', NULL, :'t1') r, jsonb_array_elements(r.body->'sessions') s
WHERE s->>'client_addr' IN ('198.51.100.21', '198.51.100.22') ORDER BY 1;
SELECT s->>'id' AS t2id FROM pg_temp.api('GET', '/v1/me/sessions', NULL, :'t2') r, jsonb_array_elements(r.body->'sessions') s
WHERE (s->>'current')::boolean \gset
SELECT * FROM pg_temp.api('DELETE', '/v1/me/sessions/' || :t2id, NULL, :'t1');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'t2');
SELECT * FROM pg_temp.api('DELETE', '/v1/me/sessions/' || :t2id, NULL, :'t1');
-- somebody else's session id is not found either
SELECT body::jsonb->>'token' AS stok FROM pg_temp.login('login-staff@city.example', :'s1pw') \gset
SELECT session_id AS other_sid FROM machi.session WHERE account_id = :s1 AND revoked_at IS NULL LIMIT 1 \gset
SELECT status FROM pg_temp.api('DELETE', '/v1/me/sessions/' || :other_sid, NULL, :'t1');
SELECT revoked_at IS NULL AS still_live FROM machi.session WHERE session_id = :other_sid;
SELECT status, body, headers->>'set-cookie' AS cookie FROM pg_temp.raw('POST', '/v1/auth/logout', NULL,
	jsonb_build_object('authorization', 'Bearer ' || :'t1'));
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'t1');

-- credentials that are not a live session are refused, even on public routes
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/tenants', NULL, 'not-a-token');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/tenants', NULL, repeat('A', 43));
SELECT status, body::jsonb->'error'->>'code' AS code
FROM pg_temp.raw('GET', '/v1/me', NULL, '{"authorization": "Basic bG9naW46cGFzcw=="}');
SELECT status, body::jsonb->'error'->>'code' AS code FROM pg_temp.raw('GET', '/v1/me', NULL);

-- the browser console: an __Host- cookie and a CSRF token for state-changing requests
SELECT status, headers->>'set-cookie' ~ '^__Host-machi_session=[A-Za-z0-9_-]{43}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Strict$' AS cookie_ok,
	   body::jsonb ? 'token' AS token_in_body, body::jsonb->>'csrf_token' ~ '^[A-Za-z0-9_-]{43}$' AS csrf_ok,
	   body::jsonb->>'token_type' AS token_type
FROM pg_temp.raw('POST', '/v1/auth/login', '{"email": "login-a@example.jp", "password": "login password A 1", "cookie": true}');
SELECT substring(headers->>'set-cookie' FROM '=([^;]+);') AS ctok, body::jsonb->>'csrf_token' AS csrf
FROM pg_temp.raw('POST', '/v1/auth/login', '{"email": "login-a@example.jp", "password": "login password A 1", "cookie": true}') \gset
SELECT * FROM pg_temp.find(:'csrf');
SELECT status FROM pg_temp.raw('GET', '/v1/me', NULL, jsonb_build_object('cookie', 'lang=ja; __Host-machi_session=' || :'ctok'));
SELECT status, body::jsonb->'error'->>'code' AS code
FROM pg_temp.raw('PATCH', '/v1/me', '{"nickname": "login-a2"}', jsonb_build_object('cookie', '__Host-machi_session=' || :'ctok'));
SELECT status, body::jsonb->'error'->>'code' AS code
FROM pg_temp.raw('PATCH', '/v1/me', '{"nickname": "login-a2"}',
				 jsonb_build_object('cookie', '__Host-machi_session=' || :'ctok', 'x-csrf-token', :'tok'));
SELECT status, body::jsonb->'profile'->>'nickname' AS nickname
FROM pg_temp.raw('PATCH', '/v1/me', '{"nickname": "login-a2"}',
				 jsonb_build_object('cookie', '__Host-machi_session=' || :'ctok', 'x-csrf-token', :'csrf'));
-- a bearer token needs no CSRF token (it is not sent by the browser on its own)
SELECT status FROM pg_temp.api('PATCH', '/v1/me', '{"nickname": "login-a"}', :'tok');

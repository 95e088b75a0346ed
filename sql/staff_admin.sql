-- staff_admin: the tenant admin API. Staff of the own tenant only (other
-- tenants' ids are 404), tenant roles only and never above one's own rank,
-- generated initial passwords, disabling revokes sessions.
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
		convert_to(b::text, 'UTF8'), '198.51.100.60', 'test-staff') h $$;
-- ready(email, initial password): log in, change the password, return a token
CREATE FUNCTION pg_temp.ready(email text, pw text) RETURNS text
	LANGUAGE plpgsql AS $$
DECLARE
	tok text;
BEGIN
	tok := (pg_temp.api('POST', '/v1/auth/login', jsonb_build_object('email', email, 'password', pw))).body->>'token';
	PERFORM pg_temp.api('POST', '/v1/auth/password/change',
		jsonb_build_object('current_password', pw, 'new_password', 'ready steady ' || md5(email)), tok);
	RETURN tok;
END
$$;

SELECT t, CASE WHEN EXISTS (SELECT 1 FROM machi.tenant x WHERE x.tenant_id = t) THEN true
			   ELSE machi.create_tenant(t, 'tenant ' || t, pg_read_file(:'datadir' || '/boundaries/' || t || '.json')::jsonb) IS NOT NULL END AS tenant_ready
FROM unnest(ARRAY[12204, 12104]) t ORDER BY t;
SELECT machi.create_department(12204, '道路課') AS d3 \gset
SELECT machi.create_department(12104, '公園課') AS d4 \gset
-- each tenant's first admin is made by an operator
SELECT account_id AS adm3, initial_password AS adm3pw FROM machi.create_staff(12204, 'adm3@city.example', 'Admin Three', 'tenant_admin') \gset
SELECT account_id AS adm4, initial_password AS adm4pw FROM machi.create_staff(12104, 'adm4@city.example', 'Admin Four', 'tenant_admin') \gset
SELECT machi.create_staff(12204, 'x@city.example', 'X', 'system_admin');
SELECT machi.create_staff(12204, 'x@city.example', 'X', 'citizen');
SELECT machi.create_staff(99999, 'x@city.example', 'X');
SELECT pg_temp.ready('adm3@city.example', :'adm3pw') AS t3 \gset
SELECT pg_temp.ready('adm4@city.example', :'adm4pw') AS t4 \gset

-- create staff: the initial password is in the answer only, must be changed
SELECT status, (body->'staff') - 'id' - 'last_login_at' - 'departments' AS staff,
	   body->'staff'->'departments' = jsonb_build_array(:d3) AS in_d3, length(body->>'initial_password') AS pw_len
FROM pg_temp.api('POST', '/v1/admin/staff', jsonb_build_object(
	'email', 'staff3@city.example', 'name', '道路 太郎', 'role', 'staff', 'department_ids', jsonb_build_array(:d3),
	'contact', '内線 1234'), :'t3');
SELECT account_id AS st3 FROM machi.account_pii WHERE email_bidx = machi.blind_index('email', 'staff3@city.example') \gset
SELECT count(*) AS password_in_clear FROM machi.account WHERE account_id = :st3 AND password_hash !~ '^\$argon2id\$';
SELECT status, body->'staff'->>'id' AS id4 FROM pg_temp.api('POST', '/v1/admin/staff',
	'{"email": "staff4@city.example", "name": "公園 花子"}', :'t4') \gset
-- tenant roles only, never above one's own
SELECT r, status, body->'error'->>'code' AS code, body->'error'->>'message' AS message
FROM unnest(ARRAY['system_admin', 'citizen', 'nonsense', 'tenant_admin', 'viewer']) WITH ORDINALITY AS x(r, n),
	 LATERAL pg_temp.api('POST', '/v1/admin/staff', jsonb_build_object(
		'email', 'role-' || r || '@city.example', 'name', 'Role ' || r, 'role', r), :'t3')
ORDER BY n;
-- a department of another tenant cannot be assigned
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('POST', '/v1/admin/staff', jsonb_build_object(
	'email', 'dept@city.example', 'name', 'Dept', 'department_ids', jsonb_build_array(:d4)), :'t3');
-- an address already in use is a conflict
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('POST', '/v1/admin/staff',
	'{"email": "STAFF3@city.example", "name": "Again"}', :'t3');

-- the list shows the own tenant's staff, decrypted, and nobody else's
SELECT s->>'email' AS email, s->>'name' AS name, s->>'role' AS role, s->>'contact' AS contact,
	   s->'departments' = jsonb_build_array(:d3) AS in_d3, s->>'must_change_password' AS must_change
FROM pg_temp.api('GET', '/v1/admin/staff', NULL, :'t3') r, jsonb_array_elements(r.body->'staff') s
ORDER BY 1;
SELECT count(*) AS other_tenant_rows
FROM pg_temp.api('GET', '/v1/admin/staff', NULL, :'t3') r, jsonb_array_elements(r.body->'staff') s
WHERE (s->>'tenant_id')::int <> 12204;

-- another tenant's staff: not found, whatever the method
SELECT m, status, body->'error'->>'code' AS code
FROM (VALUES (1, 'PATCH', '{"role": "viewer"}'::jsonb), (2, 'PATCH', '{"state": "disabled"}'), (3, 'DELETE', NULL)) AS x(n, m, b),
	 LATERAL pg_temp.api(m, '/v1/admin/staff/' || :id4, b, :'t3')
ORDER BY n;
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :adm4, '{"name": "Mine now"}', :'t3');
SELECT status FROM pg_temp.api('PATCH', '/v1/admin/staff/abc', '{"name": "x"}', :'t3');
SELECT status FROM pg_temp.api('PATCH', '/v1/admin/staff/99999999', '{"name": "x"}', :'t3');
-- a citizen's account id is not staff either
SELECT machi.import_account('citizen', 'staff-test-citizen@example.jp', NULL) AS cit \gset
SELECT status FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :cit, '{"name": "x"}', :'t3');
-- and its data is unchanged
SELECT a.role_name, a.state, machi.reveal_account(a.account_id, 'test: cross-tenant check')->'profile'->>'name' AS name
FROM machi.account a WHERE a.account_id IN (:id4, :adm4) ORDER BY a.account_id;

-- role changes within the tenant; they end the account's sessions
UPDATE machi.account SET must_change_password = false, password_hash = machi.password_hash('staff three password')
WHERE account_id = :st3;
SELECT body->>'token' AS st3tok FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff3@city.example", "password": "staff three password"}') \gset
SELECT status, body->'staff'->>'role' AS role FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :st3, '{"role": "department_admin"}', :'t3');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'st3tok');
-- a department admin may read the staff list but not change it, nor grant roles
SELECT body->>'token' AS st3tok FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff3@city.example", "password": "staff three password"}') \gset
SELECT status, jsonb_array_length(body->'staff') > 0 AS sees_staff FROM pg_temp.api('GET', '/v1/admin/staff', NULL, :'st3tok');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('POST', '/v1/admin/staff', '{"email": "y@city.example", "name": "Y"}', :'st3tok');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :adm3, '{"role": "viewer"}', :'st3tok');
-- nobody changes their own role or disables themselves
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :adm3, '{"role": "staff"}', :'t3');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('DELETE', '/v1/admin/staff/' || :adm3, NULL, :'t3');
-- unknown fields and bad states are refused
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :st3, '{"tenant_id": 12104}', :'t3');
SELECT status, body->'error'->>'field' AS field FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :st3, '{"state": "deleted"}', :'t3');

-- disabling: the staff member is signed out and cannot sign in
SELECT status, body->'staff'->>'state' AS state FROM pg_temp.api('DELETE', '/v1/admin/staff/' || :st3, NULL, :'t3');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'st3tok');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff3@city.example", "password": "staff three password"}');
SELECT status, body->'staff'->>'state' AS state FROM pg_temp.api('PATCH', '/v1/admin/staff/' || :st3, '{"state": "active"}', :'t3');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff3@city.example", "password": "staff three password"}');

-- citizens cannot use the admin API; another tenant's admin sees only their own
SELECT body->>'token' AS ctok FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff-test-citizen@example.jp", "password": "x"}') \gset
UPDATE machi.account SET password_hash = machi.password_hash('citizen password 12') WHERE account_id = :cit;
SELECT body->>'token' AS ctok FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "staff-test-citizen@example.jp", "password": "citizen password 12"}') \gset
SELECT status, body->'error'->>'message' AS message FROM pg_temp.api('GET', '/v1/admin/staff', NULL, :'ctok');
SELECT s->>'email' AS email FROM pg_temp.api('GET', '/v1/admin/staff', NULL, :'t4') r, jsonb_array_elements(r.body->'staff') s ORDER BY 1;
-- under row-level security (as the owner role, not a superuser) a tenant
-- admin sees the own tenant's staff and nothing of another tenant, and
-- decryption itself refuses another tenant's data
BEGIN;
SELECT machi.act_as(:adm3, 'test: decryption across tenants');
SET LOCAL ROLE machi_owner;
SELECT a.tenant_id, count(*) AS visible,
	   count(machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email)) AS decrypted
FROM machi.account_pii p JOIN machi.account a USING (account_id) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS other_tenant_sessions FROM machi.session s JOIN machi.account a USING (account_id) WHERE a.tenant_id = 12104;
SELECT machi.pii_open(:adm4, 12104, 'account_pii', :adm4, 'email', NULL) IS NULL AS null_is_null;
RESET ROLE;
SELECT machi.pii_open(:adm4, 12104, 'account_pii', :adm4, 'email', (SELECT email FROM machi.account_pii WHERE account_id = :adm4));
ROLLBACK;

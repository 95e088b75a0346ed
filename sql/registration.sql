-- registration: citizen sign-up, e-mail verification by single-use link,
-- password reset (same answer whether the address exists), the mail outbox
-- (sealed, claimed and acknowledged by the mailer), own profile and
-- account deletion.
\set VERBOSITY terse
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
CREATE FUNCTION pg_temp.api(m text, p text, b jsonb DEFAULT NULL, tok text DEFAULT NULL,
							OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT h.status, nullif(convert_from(h.body, 'UTF8'), '')::jsonb
	FROM api.handle(m, p, '',
		jsonb_strip_nulls(jsonb_build_object('content-type', 'application/json',
											 'authorization', 'Bearer ' || tok)),
		convert_to(b::text, 'UTF8'), '198.51.100.70', 'test-registration') h $$;
-- mail(): what the mailer would send now, claimed and acknowledged as sent
CREATE FUNCTION pg_temp.mail() RETURNS TABLE (recipient text, subject text, link_token text)
	LANGUAGE plpgsql AS $$
DECLARE
	m record;
BEGIN
	SET LOCAL ROLE machi_mailer;
	FOR m IN SELECT * FROM machi.outbox_claim('test-mailer', 100) LOOP
		PERFORM machi.outbox_ack(m.id, true, NULL);
		recipient := m.recipient;
		subject := m.subject;
		link_token := substring(m.body FROM 'token=([A-Za-z0-9_-]+)');
		RETURN NEXT;
	END LOOP;
	RESET ROLE;
END
$$;
-- try(statement): 'ok' or the error's SQLSTATE
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9]+', 'N', 'g');
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO machi_mailer;
-- drain what earlier tests queued
SELECT count(*) >= 0 AS drained FROM pg_temp.mail();

-- register a citizen: every personal field is accepted and sealed
SELECT * FROM pg_temp.api('POST', '/v1/auth/register', '{
	"email": "Reg-Hanako@Example.JP", "password": "sakura tram lantern 8", "nickname": "はなこ",
	"name": "登録 花子", "phone": "043-245-5111", "postal_code": "260-8722", "address": "千葉市中央区登戸9-9-9",
	"birthday": "1990-04-01", "gender": "female", "occupation": "seismologist", "home_tenant_id": 12101}');
-- validation
SELECT status, body->'error'->>'field' AS field, body->'error'->>'message' AS message
FROM (VALUES (1, '{"email": "not-an-address", "password": "sakura tram lantern 8", "nickname": "x", "name": "x", "phone": "0432455111"}'::jsonb),
			 (2, '{"email": "x@example.jp", "password": "sakura tram lantern 8", "nickname": "x", "name": "x"}'),
			 (3, '{"email": "x@example.jp", "password": "sakura tram lantern 8", "nickname": "x", "name": "x", "phone": "12"}'),
			 (4, '{"email": "x@example.jp", "password": "sakura tram lantern 8", "nickname": "x", "name": "x", "phone": "0432455111", "birthday": "1990-02-30"}'),
			 (5, '{"email": "x@example.jp", "password": "sakura tram lantern 8", "nickname": "x", "name": "x", "phone": "0432455111", "home_tenant_id": 1}'),
			 (6, '{"email": "x@example.jp", "password": "short", "nickname": "x", "name": "x", "phone": "0432455111"}')) AS t(n, b),
	 LATERAL pg_temp.api('POST', '/v1/auth/register', b)
ORDER BY n;
-- the same address again (in another spelling): the same answer, and a notice to the owner
SELECT * FROM pg_temp.api('POST', '/v1/auth/register', '{
	"email": "reg-hanako@example.jp", "password": "another good phrase 9", "nickname": "fake",
	"name": "Someone Else", "phone": "0312345678"}');
SELECT count(*) AS accounts FROM machi.account_pii WHERE email_bidx = machi.blind_index('email', 'reg-hanako@example.jp');

-- the outbox is sealed; only the mailer's functions decrypt it
SELECT kind, state, attempts, get_byte(recipient, 0) AS version, get_byte(body, 0) AS body_version
FROM machi.outbox WHERE state = 'pending' ORDER BY outbox_id;
SELECT recipient, subject, link_token ~ '^[A-Za-z0-9_-]{43}$' AS has_link FROM pg_temp.mail() ORDER BY subject;
SELECT kind, state, attempts FROM machi.outbox ORDER BY outbox_id DESC LIMIT 2;
-- a trigger wakes the mailer (NOTIFY machi_outbox)
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'machi.outbox'::regclass AND NOT tgisinternal
  AND tgname !~ '^audit';
-- the mailer role may run the two outbox functions and nothing else
SELECT p.oid::regprocedure AS mailer_may_execute
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND has_function_privilege('machi_mailer', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT count(*) AS mailer_table_privileges
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'v')
  AND has_table_privilege('machi_mailer', c.oid, 'SELECT, INSERT, UPDATE, DELETE');
SET ROLE machi_mailer;
SELECT * FROM machi.outbox;
SELECT machi.reveal_account(1, 'mailer wants to see');
RESET ROLE;

-- verification by the single-use link
SELECT body->'account'->'email_verified' AS verified_before
FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-hanako@example.jp", "password": "sakura tram lantern 8"}');
SELECT * FROM pg_temp.api('POST', '/v1/auth/register', '{"email": "reg-verify@example.jp", "password": "verify me please 10", "nickname": "v", "name": "V", "phone": "0312345678"}');
SELECT link_token AS vtok FROM pg_temp.mail() \gset
SELECT * FROM pg_temp.api('POST', '/v1/auth/verify-email', jsonb_build_object('token', :'vtok'));
SELECT * FROM pg_temp.api('POST', '/v1/auth/verify-email', jsonb_build_object('token', :'vtok'));
SELECT status FROM pg_temp.api('POST', '/v1/auth/verify-email', '{"token": "forged"}');
SELECT body->'account'->'email_verified' AS verified
FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-verify@example.jp", "password": "verify me please 10"}');

-- password reset: the same answer whether or not the address is registered
SELECT a.status, a.body = b.body AS same_body, a.body
FROM pg_temp.api('POST', '/v1/auth/password/forgot', '{"email": "reg-verify@example.jp"}') a,
	 pg_temp.api('POST', '/v1/auth/password/forgot', '{"email": "no-such-person@example.jp"}') b;
SELECT count(*) AS reset_mails FROM machi.outbox WHERE kind = 'reset_password' AND state = 'pending';
SELECT body->>'token' AS s1 FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-verify@example.jp", "password": "verify me please 10"}') \gset
SELECT link_token AS rtok FROM pg_temp.mail() \gset
-- the link is single-use and the new password must follow the rules
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('POST', '/v1/auth/password/reset', jsonb_build_object('token', :'rtok', 'password', 'weak'));
SELECT * FROM pg_temp.api('POST', '/v1/auth/password/reset', jsonb_build_object('token', :'rtok', 'password', 'brand new phrase 11'));
SELECT status FROM pg_temp.api('POST', '/v1/auth/password/reset', jsonb_build_object('token', :'rtok', 'password', 'brand new phrase 12'));
-- every session of the account was revoked; the new password works, the old does not
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'s1');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-verify@example.jp", "password": "verify me please 10"}');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-verify@example.jp", "password": "brand new phrase 11"}');
-- reset links expire after 30 minutes
SELECT status FROM pg_temp.api('POST', '/v1/auth/password/forgot', '{"email": "reg-verify@example.jp"}');
SELECT link_token AS rtok2 FROM pg_temp.mail() \gset
SET machi.clock_offset = '31min';
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('POST', '/v1/auth/password/reset', jsonb_build_object('token', :'rtok2', 'password', 'brand new phrase 13'));
RESET machi.clock_offset;
-- tokens are stored as SHA-256 only
SELECT count(*) AS hashed FROM machi.one_time_token WHERE token_hash IN (sha256(convert_to(:'rtok', 'UTF8')), sha256(convert_to(:'rtok2', 'UTF8')), sha256(convert_to(:'vtok', 'UTF8')));

-- the outbox retries failed deliveries with backoff, then gives up
SELECT status FROM pg_temp.api('POST', '/v1/auth/password/forgot', '{"email": "reg-hanako@example.jp"}');
SET ROLE machi_mailer;
SELECT id AS mid, recipient FROM machi.outbox_claim('test-mailer', 10) \gset
SELECT :'recipient' AS recipient;
SELECT machi.outbox_ack(:mid, false, '450 mailbox of reg-hanako@example.jp busy');
SELECT pg_temp.try(format('SELECT machi.outbox_ack(%s, true, NULL)', :mid)) AS ack_again;
SELECT count(*) AS claimable_now FROM machi.outbox_claim('test-mailer', 10);
RESET ROLE;
SELECT state, attempts, next_attempt_at - machi.now() BETWEEN interval '59 seconds' AND interval '61 seconds' AS one_minute,
	   get_byte(last_error, 0) AS error_sealed
FROM machi.outbox WHERE outbox_id = :mid;
SET machi.outbox_max_attempts = 3;
SET machi.clock_offset = '1min';
SET ROLE machi_mailer;
SELECT count(*) AS claimed FROM machi.outbox_claim('test-mailer', 10);
SELECT machi.outbox_ack(:mid, false, 'timeout');
RESET ROLE;
SELECT state, attempts, next_attempt_at - machi.now() BETWEEN interval '119 seconds' AND interval '121 seconds' AS two_minutes
FROM machi.outbox WHERE outbox_id = :mid;
SET machi.clock_offset = '3min';
SET ROLE machi_mailer;
SELECT count(*) AS claimed FROM machi.outbox_claim('test-mailer', 10);
SELECT machi.outbox_ack(:mid, false, 'timeout');
RESET ROLE;
SELECT state, attempts FROM machi.outbox WHERE outbox_id = :mid;
-- a message left "sending" by a crashed mailer is not handed out again
SELECT status FROM pg_temp.api('POST', '/v1/auth/password/forgot', '{"email": "reg-hanako@example.jp"}');
SET ROLE machi_mailer;
SELECT count(*) AS claimed FROM machi.outbox_claim('crashing-mailer', 10);
SELECT count(*) AS claimed_again FROM machi.outbox_claim('test-mailer', 10);
SELECT machi.outbox_claim('test-mailer', 0);
RESET ROLE;
RESET machi.clock_offset;
RESET machi.outbox_max_attempts;

-- own profile: read and change (decrypted only for the owner)
SELECT body->>'token' AS htok FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-hanako@example.jp", "password": "sakura tram lantern 8"}') \gset
SELECT status, body->'profile' AS profile FROM pg_temp.api('GET', '/v1/me', NULL, :'htok');
SELECT status, body->'profile'->>'address' AS address, body->'profile'->>'occupation' AS occupation
FROM pg_temp.api('PATCH', '/v1/me', '{"address": "千葉市中央区中央4-5-1", "occupation": null}', :'htok');
SELECT status, body->'error'->>'code' AS code, body->'error'->>'field' AS field
FROM (VALUES (1, '{"email": "new@example.jp"}'::jsonb), (2, '{"role": "tenant_admin"}'), (3, '{"nickname": ""}'),
			 (4, '{"phone": "x"}')) AS t(n, b), LATERAL pg_temp.api('PATCH', '/v1/me', b, :'htok')
ORDER BY n;
-- the phone blind index follows the change
SELECT phone_bidx = machi.blind_index('phone', '043-245-5111') AS phone_index
FROM machi.account_pii WHERE email_bidx = machi.blind_index('email', 'reg-hanako@example.jp');

-- account deletion: personal data erased, the account row stays (reports keep an author id)
SELECT account_id AS hid FROM machi.account_pii WHERE email_bidx = machi.blind_index('email', 'reg-hanako@example.jp') \gset
SELECT * FROM pg_temp.api('DELETE', '/v1/me', NULL, :'htok');
SELECT state, password_hash IS NULL AS no_password FROM machi.account WHERE account_id = :hid;
SELECT count(*) AS personal_rows FROM machi.account_pii WHERE account_id = :hid;
SELECT status, body->'error'->>'code' AS code FROM pg_temp.api('GET', '/v1/me', NULL, :'htok');
SELECT status FROM pg_temp.api('POST', '/v1/auth/login', '{"email": "reg-hanako@example.jp", "password": "sakura tram lantern 8"}');
-- the address is free again
SELECT status FROM pg_temp.api('POST', '/v1/auth/register', '{"email": "reg-hanako@example.jp", "password": "sakura tram lantern 8", "nickname": "again", "name": "Again", "phone": "0312345678"}');

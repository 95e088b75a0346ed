-- passwords: argon2id hashes and their cost, rehash at login, legacy
-- bcrypt import and upgrade, the password rules and their messages.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.api(m text, p text, b jsonb DEFAULT NULL, tok text DEFAULT NULL,
							addr inet DEFAULT '192.0.2.10', OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT h.status, nullif(convert_from(h.body, 'UTF8'), '')::jsonb
	FROM api.handle(m, p, '',
		jsonb_strip_nulls(jsonb_build_object('content-type', 'application/json',
											 'authorization', 'Bearer ' || tok)),
		convert_to(b::text, 'UTF8'), addr, 'test-passwords') h $$;
CREATE FUNCTION pg_temp.register(email text, pw text, OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT * FROM pg_temp.api('POST', '/v1/auth/register', jsonb_build_object(
		'email', email, 'password', pw, 'nickname', 'pw-test', 'name', 'Password Test',
		'phone', '03-1234-5678')) $$;
CREATE FUNCTION pg_temp.login(email text, pw text, OUT status int, OUT body jsonb)
	LANGUAGE sql AS $$
	SELECT * FROM pg_temp.api('POST', '/v1/auth/login', jsonb_build_object('email', email, 'password', pw)) $$;
CREATE FUNCTION pg_temp.hash_of(login text) RETURNS text
	LANGUAGE sql AS $$
	SELECT a.password_hash FROM machi.account a JOIN machi.account_pii p USING (account_id)
	WHERE p.email_bidx = machi.blind_index('email', login) $$;

-- the default cost is OWASP's minimum for argon2id: m=19 MiB, t=2, p=1
SELECT current_setting('machi.password_memory_kib') AS memory, current_setting('machi.password_time_cost') AS passes;
SELECT machi.password_hash('correct horse battery staple') ~ '^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' AS default_format;
-- two hashes of one password differ (random salt), both verify
SELECT machi.password_hash('same') AS h1, machi.password_hash('same') AS h2 \gset
SELECT :'h1' <> :'h2' AS salted, (machi.password_verify(:'h1', 'same')).*, (machi.password_verify(:'h2', 'other')).ok AS other_ok;
-- the tests below use a lower cost to stay fast
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
SELECT (machi.password_verify(:'h1', 'same')).* AS stronger_than_current;
SELECT machi.password_hash('x') ~ '^\$argon2id\$v=19\$m=1024,t=1,p=1\$' AS low_cost_format;
SELECT (machi.password_verify('$1$abc$def', 'x')).ok AS unknown_format_ok;

-- generated initial passwords: 20 characters from the CSPRNG, unambiguous alphabet
SELECT length(p) AS len, p ~ '^[A-HJ-NP-Za-km-z2-9]+$' AS alphabet, machi.password_strength(p, NULL) AS score
FROM (SELECT machi.password_generate() AS p) g;
SELECT count(DISTINCT machi.password_generate()) AS distinct_of_100 FROM generate_series(1, 100);

-- the rules, each with its message (registration of a citizen)
SELECT * FROM pg_temp.register('rules@example.jp', 'Tr0ub4d');
SELECT * FROM pg_temp.register('rules@example.jp', 'password1234');
SELECT * FROM pg_temp.register('rules@example.jp', 'my RULES@example.jp secret!');
SELECT * FROM pg_temp.register('rules@example.jp', repeat('ab3$', 256) || 'x');
SELECT * FROM pg_temp.register('rules@example.jp', 'qwertyuiop');
-- staff need 10 characters; the minimums can only be raised
SELECT machi.password_check('kX9#mQ2$v', 'staff@city.example', true);
SELECT machi.password_check('kX9#mQ2$v', 'citizen@example.jp', false);
SET machi.citizen_password_min_length = 7;
SET machi.staff_password_min_length = 9;
SET machi.citizen_password_min_length = 12;
SELECT machi.password_check('kX9#mQ2$vZ7', 'citizen@example.jp', false);
RESET machi.citizen_password_min_length;
SET machi.password_min_score = 5;
-- strength scores for a few passwords (zxcvbn thresholds on log10 guesses 3, 6, 8, 10)
SELECT pw, machi.password_strength(pw, 'taro@example.jp') AS score
FROM unnest(ARRAY['password', 'taro1234', 'Tr0ub4dor&3', 'correct horse battery staple',
				  '日本語のとても長い合言葉です']) WITH ORDINALITY AS t(pw, n) ORDER BY n;
-- any Unicode is accepted, and up to 1024 characters
SELECT * FROM pg_temp.register('unicode@example.jp', '日本語のとても長い合言葉です');
SELECT status FROM pg_temp.register('long@example.jp', repeat('ab3$', 255) || 'wxyz');

-- no truncation: every character counts (bcrypt would stop at 72 bytes)
SELECT status FROM pg_temp.register('notrunc@example.jp', repeat('Kq7#', 18) || 'tail that matters');
SELECT status, body->'error'->>'code' AS code FROM pg_temp.login('notrunc@example.jp', repeat('Kq7#', 18));
SELECT status FROM pg_temp.login('notrunc@example.jp', repeat('Kq7#', 18) || 'tail that matters');
SELECT status FROM pg_temp.login('unicode@example.jp', '日本語のとても長い合言葉です');
-- NFKC is not applied to passwords: a full-width variant is another password
SELECT status FROM pg_temp.login('unicode@example.jp', '日本語のとても長い合言葉です　');

-- rehash at login when the cost has changed
SELECT pg_temp.hash_of('unicode@example.jp') ~ 'm=1024,t=1,' AS before_cost;
SET machi.password_memory_kib = 2048;
SET machi.password_time_cost = 2;
SELECT status FROM pg_temp.login('unicode@example.jp', '日本語のとても長い合言葉です');
SELECT pg_temp.hash_of('unicode@example.jp') ~ 'm=2048,t=2,' AS rehashed;
-- a failed login does not rehash
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
SELECT status FROM pg_temp.login('unicode@example.jp', 'wrong password');
SELECT pg_temp.hash_of('unicode@example.jp') ~ 'm=2048,t=2,' AS unchanged;

-- legacy bcrypt hashes ($2a$ as pgcrypto makes them, and $2b$) are accepted
-- for imported accounts and replaced by argon2id at the first successful login
SELECT machi.import_account('citizen', 'legacy-a@example.jp', public.crypt('legacy secret 2019', public.gen_salt('bf', 4)),
							profile => '{"nickname": "legacy"}') IS NOT NULL AS imported_2a;
SELECT machi.import_account('citizen', 'legacy-b@example.jp',
							'$2b$' || substr(public.crypt('legacy secret 2020', public.gen_salt('bf', 4)), 5)) IS NOT NULL AS imported_2b;
SELECT machi.import_account('citizen', 'legacy-c@example.jp', 'md5abcdef');
SELECT left(pg_temp.hash_of('legacy-a@example.jp'), 7) AS before;
SELECT status FROM pg_temp.login('legacy-a@example.jp', 'legacy secret 2018');
SELECT left(pg_temp.hash_of('legacy-a@example.jp'), 7) AS after_failure;
SELECT status FROM pg_temp.login('legacy-a@example.jp', 'legacy secret 2019');
SELECT left(pg_temp.hash_of('legacy-a@example.jp'), 10) AS after_success;
SELECT status FROM pg_temp.login('legacy-a@example.jp', 'legacy secret 2019');
SELECT status FROM pg_temp.login('legacy-b@example.jp', 'legacy secret 2020');
SELECT left(pg_temp.hash_of('legacy-b@example.jp'), 10) AS b_after_success;
-- import_account is for operators only
SET ROLE machi_gateway;
SELECT machi.import_account('citizen', 'x@example.jp', NULL);
RESET ROLE;

-- crypto: personal data is stored sealed (XChaCha20-Poly1305 under wrapped
-- data keys), bound to its row and column; blind indexes for e-mail and
-- phone; the master key file and its rotation.
\set VERBOSITY terse
\getenv keydir MACHI_KEYS
\getenv datadir MACHI_DATA
SET machi.password_memory_kib = 1024;
SET machi.password_time_cost = 1;
-- try(statement): 'ok' or the error message, directories of paths and ids elided
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(regexp_replace(SQLERRM, '/[^" ]*/', '.../', 'g'),
											  '(row|data key) [0-9]+', '\1 N', 'g');
END
$$;

-- two citizens and a staff member, created by an operator
SELECT CASE WHEN EXISTS (SELECT 1 FROM machi.tenant WHERE tenant_id = 12101) THEN true
			ELSE machi.create_tenant(12101, '千葉市中央区', pg_read_file(:'datadir' || '/boundaries/12101.json')::jsonb) IS NOT NULL END AS tenant_ready;
SELECT machi.import_account('citizen', 'crypto-a@example.jp', NULL,
	profile => '{"name": "暗号 一郎", "nickname": "ichiro", "phone": "090-1111-2222", "address": "千葉市中央区1-1"}') AS a1 \gset
SELECT machi.import_account('citizen', 'crypto-b@example.jp', NULL,
	profile => '{"name": "暗号 二郎", "nickname": "jiro"}') AS a2 \gset
SELECT account_id AS s1 FROM machi.create_staff(12101, 'crypto-staff@city.example', '職員 三郎') \gset

-- the tables hold ciphertext: version 1, a key id, nonce, tag
SELECT a.kind, get_byte(p.email, 0) AS version, length(p.email) - length('crypto-a@example.jp') AS overhead,
	   length(p.email_bidx) AS bidx_len, k.tenant_id AS key_scope
FROM machi.account a JOIN machi.account_pii p USING (account_id)
JOIN machi.data_key k ON k.key_id = (get_byte(p.email, 1) << 24) + (get_byte(p.email, 2) << 16)
								   + (get_byte(p.email, 3) << 8) + get_byte(p.email, 4)
WHERE a.account_id IN (:a1, :s1) ORDER BY a.account_id;
SELECT tenant_id, purpose, length(wrapped) AS wrapped_len, master_key_id = machi.master_key_id() AS current_master
FROM machi.data_key ORDER BY tenant_id, purpose;

-- operators read personal data only through reveal_account (logged)
SELECT machi.reveal_account(:a1, 'ticket 1: identity check')->'profile' AS profile;
SELECT machi.reveal_account(:a1, 'short');

-- a ciphertext moved to another row does not decrypt
BEGIN;
UPDATE machi.account_pii SET name = (SELECT name FROM machi.account_pii WHERE account_id = :a2)
WHERE account_id = :a1;
SELECT pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a1, 'ticket 2: swapped row')) AS reveal;
ROLLBACK;
-- nor to another column of the same row
BEGIN;
UPDATE machi.account_pii SET nickname = name WHERE account_id = :a1;
SELECT pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a1, 'ticket 3: swapped column')) AS reveal;
ROLLBACK;
-- nor a tampered one
BEGIN;
UPDATE machi.account_pii SET address = set_byte(address, length(address) - 1,
	(get_byte(address, length(address) - 1) + 1) % 256) WHERE account_id = :a1;
SELECT pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a1, 'ticket 4: tampered')) AS reveal;
ROLLBACK;
SELECT (machi.reveal_account(:a1, 'ticket 5: intact again')->'profile'->>'address') AS address;

-- decryption checks the caller: nobody (no context) may open a field
SELECT machi.pii_open(account_id, NULL, 'account_pii', account_id, 'email', email)
FROM machi.account_pii WHERE account_id = :a1;

-- blind indexes: normalised (NFKC, case, white space; phone digits only)
SELECT machi.normalise_login('email', '  Ｃｒｙｐｔｏ-A@Example.JP ') AS email,
	   machi.normalise_login('phone', '＋81 (90) 1111-２２２２') AS phone,
	   machi.normalise_login('phone', 'none') AS no_digits;
SELECT machi.blind_index('email', 'CRYPTO-A@example.jp') = email_bidx AS same_index,
	   machi.blind_index('email', 'crypto-b@example.jp') = email_bidx AS other_index,
	   machi.blind_index('phone', '09011112222') = phone_bidx AS phone_index
FROM machi.account_pii WHERE account_id = :a1;
-- the index is keyed: not a plain hash of the value
SELECT count(*) AS plain_sha256_matches FROM machi.account_pii
WHERE email_bidx IN (sha256(convert_to('crypto-a@example.jp', 'UTF8')), sha256(convert_to('email|crypto-a@example.jp', 'UTF8')));
-- uniqueness is on the blind index: another spelling of the same address is refused
SELECT machi.import_account('citizen', 'Crypto-A@EXAMPLE.jp', NULL);

-- the master key file: absolute path outside the data directory, private, 32 bytes
SET machi.master_key_file = 'relative/key';
SELECT current_setting('data_directory') || '/machi-test.key' AS inside_key,
	   :'keydir' || '/bad.key' AS bad_key \gset
SELECT format('cat > %s && chmod 600 %s', :'inside_key', :'inside_key') AS write_inside,
	   format('cat > %s && chmod 600 %s', :'bad_key', :'bad_key') AS write_bad \gset
COPY (SELECT repeat('ab', 32)) TO PROGRAM :'write_inside';
COPY (SELECT 'not a key') TO PROGRAM :'write_bad';
SELECT regexp_replace(f, '^.*/', '.../') AS key_file, pg_temp.try(format('SET machi.master_key_file = %L', f)) AS set,
	   pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a2, 'ticket 6: key file check')) AS reveal
FROM unnest(ARRAY['', '/nonexistent/machi.key', :'keydir' || '/loose.key',
				  :'keydir' || '/master2.key', :'inside_key', :'bad_key']) WITH ORDINALITY AS t(f, n)
ORDER BY n;
RESET machi.master_key_file;
SELECT pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a2, 'ticket 7: configured key')) AS reveal;

-- rotation: re-wrap every data key with the new master key
SELECT machi.master_key_id() AS old_id \gset
SELECT pg_temp.try(format('SELECT machi.rotate_master_key(%L)', :'keydir' || '/loose.key')) AS rotate_to_loose;
SELECT machi.rotate_master_key(:'keydir' || '/master2.key') = (SELECT count(*) FROM machi.data_key) AS all_rewrapped;
SELECT count(*) FILTER (WHERE master_key_id = :'old_id') AS under_old,
	   count(*) FILTER (WHERE rewrapped_at IS NOT NULL) = count(*) AS all_rewrapped
FROM machi.data_key;
-- the old file no longer opens the keys (this backend forgets them when the setting changes)
SET machi.master_key_file = '/nonexistent/x';
RESET machi.master_key_file;
SELECT pg_temp.try(format('SELECT machi.reveal_account(%s, %L)', :a2, 'ticket 8: old key after rotation')) AS reveal;
SELECT set_config('machi.master_key_file', :'keydir' || '/master2.key', false) IS NOT NULL AS set;
SELECT machi.master_key_id() <> :'old_id' AS new_id,
	   machi.reveal_account(:a2, 'ticket 9: new key')->'profile'->>'nickname' AS nickname;
-- rotating to the key in use changes nothing; then back to the configured file
SELECT machi.rotate_master_key(:'keydir' || '/master2.key') AS rewrapped_again;
SELECT machi.rotate_master_key(:'keydir' || '/master.key') = (SELECT count(*) FROM machi.data_key) AS back;
RESET machi.master_key_file;
SELECT machi.master_key_id() = :'old_id' AS old_id_again,
	   machi.reveal_account(:a1, 'ticket 10: configured key')->'profile'->>'name' AS name;

-- only operators may rotate or reveal; they may read data_key, which holds wrapped keys only
SET ROLE machi_gateway;
SELECT machi.rotate_master_key('/tmp/x');
RESET ROLE;
SELECT has_function_privilege('machi_auditor', 'machi.reveal_account(bigint, text)', 'EXECUTE') AS auditor_reveal,
	   has_function_privilege('machi_admin', 'machi.pii_open(bigint, int, text, bigint, text, bytea)', 'EXECUTE') AS admin_pii_open,
	   has_table_privilege('machi_admin', 'machi.data_key', 'SELECT') AS admin_data_key;

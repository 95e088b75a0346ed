-- pii_scan: after every other test, no personal value used by the tests
-- appears in clear in any column of any table of schema machi (text, bytea,
-- jsonb, anything), and no token either.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.find(needle text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	r record;
	hit boolean;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS tbl, a.attname, a.atttypid
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY 1, 2
	LOOP
		IF r.atttypid = 'bytea'::regtype THEN
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE position($1 IN %I) > 0)', r.tbl, r.attname)
				INTO hit USING convert_to(needle, 'UTF8');
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
-- the scan finds what is there (tenant names are public, not personal;
-- partitions are scanned through their parent)
SELECT * FROM pg_temp.find('千葉市花見川区');
-- every e-mail address, name, phone number, address and other personal value of the tests
SELECT v AS personal_value, f AS found_in
FROM unnest(ARRAY[
	'crypto-a@example.jp', 'crypto-b@example.jp', 'crypto-staff@city.example', '暗号 一郎', '暗号 二郎', '職員 三郎',
	'ichiro', '090-1111-2222', '09011112222', '千葉市中央区1-1',
	'rules@example.jp', 'unicode@example.jp', 'notrunc@example.jp', 'legacy-a@example.jp', 'Password Test', '03-1234-5678',
	'login-a@example.jp', 'login-staff@city.example', 'Login Staff', 'login-locked@example.jp', 'login-lockme@example.jp',
	'sess-admin@city.example', 'Session Admin', 'sess-citizen@example.jp',
	'adm3@city.example', 'Admin Three', 'staff3@city.example', '道路 太郎', '内線 1234', '公園 花子',
	'reg-hanako@example.jp', 'はなこ', '登録 花子', '043-245-5111', '0432455111', '260-8722', '千葉市中央区登戸9-9-9',
	'千葉市中央区中央4-5-1', '1990-04-01', 'seismologist', 'reg-verify@example.jp', 'mailbox of reg-hanako',
	-- passwords
	'sakura tram lantern 8', 'brand new phrase 11', 'plum kettle orbit 29', 'login password A 1', 'staff three password'
]) AS v LEFT JOIN LATERAL pg_temp.find(v) f ON true
WHERE f IS NOT NULL
ORDER BY 1, 2;
-- and there were personal data to find: every account with personal data has them sealed
SELECT count(*) > 20 AS many_accounts, bool_and(get_byte(email, 0) = 1) AS all_sealed,
	   bool_and(name IS NULL OR get_byte(name, 0) = 1) AS names_sealed
FROM machi.account_pii;
SELECT count(*) > 5 AS mails, bool_and(get_byte(recipient, 0) = 1 AND get_byte(body, 0) = 1) AS all_sealed
FROM machi.outbox;

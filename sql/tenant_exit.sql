-- tenant_exit: end of contract (read-only, no new reports), CSV export with
-- escaping, erasure with dry run, crypto-shredding and a certificate;
-- other tenants untouched, citizens keep their accounts.
\set VERBOSITY terse
\getenv datadir MACHI_DATA
SELECT pg_read_file(:'datadir' || '/boundaries/12217.json') AS kashiwa \gset
SET ROLE machi_test_dba;
SELECT machi.create_tenant(12217, '柏市', :'kashiwa'::jsonb, 'Kashiwa');
SELECT machi.create_department(12217, '道路整備課') AS dept \gset
SELECT machi.create_category(12217, 'road', '道路', :dept) IS NOT NULL AS created;
SELECT account_id AS kadmin FROM machi.create_staff(12217, 'admin@kashiwa.example.jp', '柏 管理者', 'tenant_admin') \gset
RESET ROLE;
UPDATE machi.account SET must_change_password = false WHERE account_id = :kadmin;
SELECT machi.import_account('citizen', 'both@example.jp', public.crypt('x', public.gen_salt('bf', 4))) AS cit \gset
CREATE FUNCTION pg_temp.api(who bigint, m text, p text, q text DEFAULT '', b jsonb DEFAULT NULL)
	RETURNS TABLE (status int, headers jsonb, body text) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of tenant exit');
	RETURN QUERY SELECT h.status, h.headers, convert_from(h.body, 'UTF8')
		FROM api.handle(m, p, q, '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'), NULL, 'exit') h;
END $$;
-- the citizen reports to Kashiwa (one with a formula) and to Chuo
SELECT status FROM pg_temp.api(:cit, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.8676, "lon": 139.9757, "title": "=HYPERLINK(\"http://evil.example\",\"x\")", "description": "+1 and, \"quoted\"\nline"}');
SELECT status FROM pg_temp.api(:cit, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.8676, "lon": 139.9757, "title": "柏駅前の穴"}');
SELECT status FROM pg_temp.api(:cit, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "中央区の穴"}');
SELECT (SELECT count(*) FROM machi.report WHERE tenant_id <> 12217) AS other_reports,
	   (SELECT count(*) FROM machi.account WHERE tenant_id IS DISTINCT FROM 12217) AS other_accounts,
	   (SELECT count(*) FROM machi.data_key WHERE tenant_id <> 12217) AS other_keys \gset
-- a photo on the first Kashiwa report: the export gives its address
INSERT INTO machi.report_photo (tenant_id, report_id, photo_no, media_type, data, byte_size, sha256, width, height)
SELECT tenant_id, report_id, 1, 'image/png', '\x00', 1, sha256('\x00'), 1, 1
FROM machi.report WHERE tenant_id = 12217 ORDER BY report_id LIMIT 1;
-- export: tenant admins over HTTP (parts linked by Link), operators from psql
SELECT status, headers->>'content-type' AS ctype, headers->>'link' AS link,
	   regexp_replace(body, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00', '<time>', 'g') AS csv
FROM pg_temp.api(:kadmin, 'GET', '/v1/admin/export/reports.csv', 'limit=1');
SELECT status, substr(body, 1, 62) AS users_csv FROM pg_temp.api(:kadmin, 'GET', '/v1/admin/export/users.csv', 'bom=1');
SELECT status, body FROM pg_temp.api(:kadmin, 'GET', '/v1/admin/export/passwords.csv');
SET ROLE machi_test_dba;
SELECT regexp_replace(l, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00', '<time>', 'g') AS line FROM machi.export_tenant(12217, 'reports') l;
SELECT regexp_replace(l, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00', '<time>', 'g') AS line FROM machi.export_tenant(12217, 'users') l;
RESET ROLE;
SELECT event, detail->>'what' AS what, detail->>'rows' AS rows, detail->>'via' AS via, detail->>'pii' AS pii
FROM machi.audit_log WHERE event = 'export' AND detail->>'tenant_id' = '12217' ORDER BY audit_id;
-- end of contract: no new reports, staff read-only, export still works
SET ROLE machi_test_dba;
SELECT machi.terminate_tenant(12217, current_date);
RESET ROLE;
SELECT status, body FROM pg_temp.api(:cit, 'POST', '/v1/reports', '', '{"category": "road", "lat": 35.8676, "lon": 139.9757, "title": "too late"}');
SELECT status, body FROM pg_temp.api(:kadmin, 'PATCH', '/v1/staff/reports/' || (SELECT min(report_id) FROM machi.report WHERE tenant_id = 12217), '', '{"status": "in_progress"}');
SELECT status FROM pg_temp.api(:kadmin, 'GET', '/v1/staff/reports');
SELECT status FROM pg_temp.api(:kadmin, 'GET', '/v1/admin/export/updates.csv');
-- erasure: refused before 30 days, dry run counts, force erases
CREATE TEMP TABLE sealed AS
SELECT a.account_id, a.tenant_id, p.email FROM machi.account a JOIN machi.account_pii p USING (account_id) WHERE a.tenant_id = 12217;
SET ROLE machi_test_dba;
SELECT machi.erase_tenant(12217, dry_run => false);
SELECT jsonb_set(machi.erase_tenant(12217), '{eligible_from}', '"<contract end + 30 days>"') AS dry_run;
SELECT machi.erase_tenant(12217, dry_run => false, force => true);
SELECT machi.erase_tenant(12217, dry_run => false, force => true);
SELECT machi.erase_tenant(12101);
RESET ROLE;
SELECT tenant_id, tenant_name, data_key_destroyed, counts->'reports' AS reports, counts->'staff_accounts' AS staff
FROM machi.erasure_certificate;
SELECT contract_state FROM machi.tenant WHERE tenant_id = 12217;
-- nothing of Kashiwa is left; its personal data cannot be decrypted any more
SELECT (SELECT count(*) FROM machi.report WHERE tenant_id = 12217) AS reports,
	   (SELECT count(*) FROM machi.account WHERE tenant_id = 12217) AS accounts,
	   (SELECT count(*) FROM machi.data_key WHERE tenant_id = 12217) AS keys,
	   (SELECT count(*) FROM machi.report_tally WHERE tenant_id = 12217) AS report_counts;
-- (even in the operator context: a throwaway admin function runs pii_open there)
CREATE FUNCTION machi.test_open__impl(aid bigint, tid int, ct bytea) RETURNS text LANGUAGE sql
	RETURN machi.pii_open(aid, tid, 'account_pii', aid, 'email', ct);
CREATE FUNCTION machi.test_open(aid bigint, tid int, ct bytea) RETURNS text
	AS '$libdir/machi', 'machi_admin_dispatch' LANGUAGE C;
SELECT machi.test_open(s.account_id, s.tenant_id, s.email) FROM sealed s;
DROP FUNCTION machi.test_open(bigint, int, bytea);
DROP FUNCTION machi.test_open__impl(bigint, int, bytea);
-- other tenants untouched; the citizen keeps the account and the Chuo report
SELECT (SELECT count(*) FROM machi.report WHERE tenant_id <> 12217) = :other_reports AS reports_kept,
	   (SELECT count(*) FROM machi.account WHERE tenant_id IS DISTINCT FROM 12217) = :other_accounts AS accounts_kept,
	   (SELECT count(*) FROM machi.data_key WHERE tenant_id <> 12217) = :other_keys AS keys_kept,
	   (SELECT state FROM machi.account WHERE account_id = :cit) AS citizen,
	   (SELECT count(*) FROM machi.report WHERE author_id = :cit) AS citizen_reports;
-- inactive citizens: off by default, at least 90 days, dry run counts
SET ROLE machi_test_dba;
SELECT machi.delete_inactive_citizens();
SELECT machi.delete_inactive_citizens('30 days');
RESET ROLE;
UPDATE machi.account SET created_at = now() - interval '3 years' WHERE account_id = :cit;
SET ROLE machi_test_dba;
SELECT machi.delete_inactive_citizens('365 days', dry_run => true) ->> 'accounts' AS would_delete_with_recent_report;
RESET ROLE;
UPDATE machi.report SET created_at = now() - interval '2 years' WHERE author_id = :cit;
SET ROLE machi_test_dba;
SELECT (machi.delete_inactive_citizens('365 days', dry_run => true) ->> 'accounts')::int >= 1 AS would_delete;
SELECT (machi.delete_inactive_citizens('365 days') ->> 'accounts')::int >= 1 AS deleted;
RESET ROLE;
SELECT state, (SELECT count(*) FROM machi.account_pii WHERE account_id = :cit) AS pii_rows,
	   (SELECT count(*) FROM machi.report WHERE author_id = :cit) AS reports_kept
FROM machi.account WHERE account_id = :cit;

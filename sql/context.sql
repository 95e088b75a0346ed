-- context: the caller context is set only by C code paths, and is gone
-- after COMMIT, after an error, and after the savepoint that set it rolls
-- back.
\set VERBOSITY terse
-- a staff account of 12101 and a citizen to act as
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('staff', 12101, 'tenant_admin');
INSERT INTO machi.account (kind, tenant_id, role_name) VALUES ('citizen', NULL, 'citizen');
SELECT account_id AS chuo_admin FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' \gset
SELECT account_id AS citizen FROM machi.account WHERE kind = 'citizen' ORDER BY account_id LIMIT 1 \gset
SELECT machi.current_tenant(), machi.current_account(), machi.current_role();
-- act_as sets it for the transaction
BEGIN;
SELECT machi.act_as(:chuo_admin, 'ticket 1: checking a clerk''s view');
SELECT machi.current_tenant(), machi.current_account() = :chuo_admin AS is_admin, machi.current_role(),
	   machi.has_permission('account', 'update') AS may_update_accounts,
	   machi.has_permission('audit', 'update') AS may_update_audit;
COMMIT;
SELECT machi.current_tenant(), machi.current_account(), machi.current_role();
-- an error ends it
BEGIN;
SELECT machi.act_as(:chuo_admin, 'ticket 2: checking a clerk''s view');
SELECT 1 / 0;
ROLLBACK;
SELECT machi.current_tenant(), machi.current_account(), machi.current_role();
-- a rolled-back savepoint ends it (fail closed)
BEGIN;
SAVEPOINT s1;
SELECT machi.act_as(:citizen, 'ticket 3: citizen cannot see report');
SELECT machi.current_role();
ROLLBACK TO SAVEPOINT s1;
SELECT machi.current_account(), machi.current_role();
COMMIT;
-- api.handle keeps the outer context intact
BEGIN;
SELECT machi.act_as(:citizen, 'ticket 4: citizen cannot see report');
SELECT status FROM api.handle('GET', '/v1/tenants', '', '{}', NULL, NULL, 'ctx-1');
SELECT status FROM api.handle('GET', '/v1/nowhere', '', '{}', NULL, NULL, 'ctx-2');
SELECT machi.current_account() = :citizen AS still_citizen, machi.current_role();
COMMIT;
-- the context never leaks from api.handle into the session
SELECT status FROM api.handle('GET', '/v1/health', '', '{}', NULL, NULL, 'ctx-3');
SELECT machi.current_tenant(), machi.current_account(), machi.current_role();
-- act_as: admin only, with a reason, of an existing active account
SET ROLE machi_test_nobody;
SELECT machi.act_as(1, 'ticket 5: not allowed');
RESET ROLE;
SET ROLE machi_test_dba;
SELECT machi.act_as(:chuo_admin, 'short');
SELECT machi.act_as(987654321, 'ticket 6: no such account');
RESET ROLE;
UPDATE machi.account SET state = 'disabled' WHERE account_id = :citizen;
SELECT machi.act_as(:citizen, 'ticket 7: disabled account');
UPDATE machi.account SET state = 'active' WHERE account_id = :citizen;
-- the accessors are safe to call in parallel-restricted contexts only
SELECT p.proname, p.provolatile, p.proparallel
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'machi' AND p.proname IN ('current_tenant', 'current_account', 'current_role', 'has_permission', 'current_departments')
ORDER BY 1;
-- inventory of the C functions that can change state: any new one shows up
-- here and must be reviewed as a possible context setter
SELECT p.prosrc, count(*) AS functions, bool_or(p.prosecdef) AS security_definer
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
  AND p.provolatile = 'v'
GROUP BY p.prosrc ORDER BY 1;

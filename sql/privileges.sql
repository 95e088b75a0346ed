-- privileges: the gateway role can call api.handle and api.health and
-- nothing else of machi; it cannot read or write any table or change who
-- it is.
\set VERBOSITY terse
-- no table, view or sequence privilege in machi or api
SELECT c.oid::regclass, p.priv
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
	unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(priv)
WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'p', 'v', 'm')
  AND has_table_privilege('machi_gateway', c.oid, p.priv);
SELECT c.oid::regclass AS sequence_usable_by_gateway
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('machi', 'api') AND c.relkind = 'S'
  AND has_sequence_privilege('machi_gateway', c.oid, 'USAGE');
-- exactly two functions executable
SELECT p.oid::regprocedure AS gateway_may_execute
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND has_function_privilege('machi_gateway', p.oid, 'EXECUTE')
ORDER BY 1;
SELECT has_schema_privilege('machi_gateway', 'machi', 'USAGE') AS machi_usage,
	   has_schema_privilege('machi_gateway', 'api', 'USAGE') AS api_usage,
	   has_schema_privilege('machi_gateway', 'api', 'CREATE') AS api_create;
-- admin functions are for machi_admin only; __impl functions for the owner only
SELECT count(*) AS admin_functions,
	   bool_and(has_function_privilege('machi_admin', p.oid, 'EXECUTE')) AS admin_may,
	   bool_or(has_function_privilege('machi_gateway', p.oid, 'EXECUTE')) AS gateway_may,
	   bool_or(has_function_privilege('machi_auditor', p.oid, 'EXECUTE')) AS auditor_may
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'machi' AND p.prosrc = 'machi_admin_dispatch';
SELECT p.oid::regprocedure AS impl_executable_by_admin
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'machi' AND p.proname LIKE '%\_\_impl'
  AND has_function_privilege('machi_admin', p.oid, 'EXECUTE');
-- SECURITY DEFINER functions all pin their search_path
SELECT p.oid::regprocedure AS definer_without_search_path
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND p.prosecdef
  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);
-- as the gateway: tables and internal functions are out of reach
SET ROLE machi_gateway;
SELECT * FROM machi.tenant;
INSERT INTO machi.tenant (tenant_id, name, boundary) VALUES (1, 'x', NULL);
SELECT machi.current_tenant();
SELECT machi.act_as(1, 'trying to become someone');
SELECT machi.create_tenant(1, 'x', '{}');
SELECT machi.rt_tenants(NULL);
-- there is no setting that changes the caller context
SET machi.tenant = '12101';
SET machi.account = '1';
SELECT set_config('machi.current_tenant', '12101', false);
-- the gateway's two functions work
SELECT (api.health())->>'status' AS health;
SELECT status FROM api.handle('GET', '/v1/health', '', '{}', NULL, '127.0.0.1', 'priv-test-1');
RESET ROLE;
-- the context is still nobody's
SELECT machi.current_tenant(), machi.current_account(), machi.current_role();

-- install: CREATE EXTENSION brings its dependencies; the upgrade path starts here.
\set VERBOSITY terse
CREATE EXTENSION machi CASCADE;
SELECT extname, extversion FROM pg_extension WHERE extname IN ('machi', 'pgcrypto', 'postgis') ORDER BY 1;
SELECT machi.version() = (SELECT extversion FROM pg_extension WHERE extname = 'machi') AS version_single_sourced;
-- the two schemas and the roles of the security model
SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN ('machi', 'api') ORDER BY 1;
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname LIKE 'machi\_%' AND rolname NOT LIKE 'machi\_test\_%' ORDER BY 1;
-- every SQL-callable object of the extension is documented
SELECT p.oid::regprocedure AS undocumented_function
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('machi', 'api') AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.oid::regclass AS undocumented_relation
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'v', 'p')
  AND obj_description(c.oid, 'pg_class') IS NULL AND NOT c.relispartition;
-- every table is owned by machi_owner with RLS enabled and forced
SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND (pg_get_userbyid(c.relowner) <> 'machi_owner' OR NOT c.relrowsecurity OR NOT c.relforcerowsecurity)
ORDER BY 1;
-- every tenant-owned table has tenant_id first in its primary key
SELECT c.relname AS tenant_table_without_leading_tenant_id
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
  AND (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = k.conkey[1]) <> 'tenant_id'
  AND c.relname NOT IN ('tenant', 'account', 'notice')	-- notice: global rows have no tenant
ORDER BY 1;
-- every table has a policy for every command
SELECT c.relname, cmd AS missing_policy
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
	unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS cmd
WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relrowsecurity
  AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'machi' AND p.tablename = c.relname
				  AND p.cmd IN (cmd, 'ALL'))
ORDER BY 1, 2;

-- machi install script, part 89: attach the audit trigger to every table of
-- schema machi.  Runs after every file that creates tables (number yours
-- below 89); the regression test audit_coverage fails for a table without
-- it.  The audit tables themselves are append-only instead (50_audit.sql).

DO $attach$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS rel
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND c.relname NOT IN ('audit_log', 'audit_seal')
		ORDER BY c.relname
	LOOP
		PERFORM machi.audit_attach(r.rel);
	END LOOP;
END
$attach$;

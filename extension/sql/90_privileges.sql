-- machi install script, part 90: ownership and privileges.  Runs last: it
-- sweeps every object of schemas machi and api.

DO $own$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS obj, c.relkind
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname IN ('machi', 'api') AND c.relkind IN ('r', 'p', 'v', 'S')
		  -- identity sequences follow their table (partitioned tables and
		  -- partitions have 'a'/'i' dependencies too, and are swept)
		  AND (c.relkind <> 'S' OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
						  WHERE d.classid = 'pg_catalog.pg_class'::regclass
						    AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
	LOOP
		EXECUTE pg_catalog.format('ALTER %s %s OWNER TO machi_owner',
			CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.obj);
		EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', r.obj);
	END LOOP;
	FOR r IN
		SELECT p.oid::regprocedure AS fn
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname IN ('machi', 'api')
	LOOP
		EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO machi_owner', r.fn);
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.fn);
	END LOOP;
	FOR r IN
		SELECT t.oid::regtype AS ty
		FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname IN ('machi', 'api') AND t.typtype = 'c'
		  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
	LOOP
		EXECUTE pg_catalog.format('ALTER TYPE %s OWNER TO machi_owner', r.ty);
	END LOOP;
END
$own$;

-- the gateway: api.handle and api.health, nothing else
GRANT USAGE ON SCHEMA api TO machi_gateway;
GRANT EXECUTE ON FUNCTION api.handle(text, text, text, jsonb, bytea, inet, text) TO machi_gateway;
GRANT EXECUTE ON FUNCTION api.health() TO machi_gateway;

-- operators: the admin functions (each is a dispatcher with an owner-only
-- __impl companion), act_as, and api.handle as every client can
GRANT USAGE ON SCHEMA machi, api TO machi_admin;
GRANT EXECUTE ON FUNCTION api.handle(text, text, text, jsonb, bytea, inet, text) TO machi_admin;
GRANT EXECUTE ON FUNCTION api.health() TO machi_admin;
DO $admin$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT p.oid::regprocedure AS fn
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'machi'
		  AND (p.prosrc = 'machi_admin_dispatch' OR p.proname = 'act_as')
	LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO machi_admin', r.fn);
	END LOOP;
END
$admin$;
GRANT SELECT ON machi.routes TO machi_admin;
GRANT EXECUTE ON FUNCTION machi.schedule_jobs() TO machi_admin;

-- the mailer: claim and acknowledge outbox messages, nothing else
GRANT USAGE ON SCHEMA machi TO machi_mailer;
GRANT EXECUTE ON FUNCTION machi.outbox_claim(text, int) TO machi_mailer;
GRANT EXECUTE ON FUNCTION machi.outbox_ack(bigint, boolean, text) TO machi_mailer;

-- operators read every table (personal data stays ciphertext; decryption
-- only through audited functions such as machi.reveal_account) but write
-- only through the admin functions
DO $dbaread$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT c.oid::regclass AS tab, c.relrowsecurity
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'machi' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	LOOP
		EXECUTE pg_catalog.format('GRANT SELECT ON %s TO machi_admin', r.tab);
		IF r.relrowsecurity THEN
			EXECUTE pg_catalog.format('CREATE POLICY operator_read ON %s FOR SELECT TO machi_admin USING (true)', r.tab);
		END IF;
	END LOOP;
END
$dbaread$;

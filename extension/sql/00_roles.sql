-- machi install script, part 00: roles and schemas.
-- The install script is assembled from extension/sql/*.sql in name order.

\echo Use "CREATE EXTENSION machi CASCADE" to load this file. \quit

-- Roles are cluster-wide: create each one unless an earlier installation
-- (in this or another database) already did.
DO $roles$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT * FROM (VALUES
		('machi_owner',   false, 'owns schema machi and every table of machi; no BYPASSRLS'),
		('machi_gateway', true,  'the HTTP gateway: may call api.handle and api.health, nothing else'),
		('machi_admin',   false, 'operators (DBAs): the machi.* admin functions, every call audited'),
		('machi_auditor', false, 'read-only access to the audit trail and the security report'),
		('machi_mailer',  true,  'the mailer: may claim and acknowledge outbox messages, nothing else')
	) AS t(name, login, about)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT',
									  r.name, CASE WHEN r.login THEN 'LOGIN' ELSE 'NOLOGIN' END);
			EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', r.name, r.about);
		END IF;
	END LOOP;
END
$roles$;

CREATE SCHEMA machi AUTHORIZATION machi_owner;
COMMENT ON SCHEMA machi IS 'machi tables, internal functions and operator (admin) functions';
CREATE SCHEMA api AUTHORIZATION machi_owner;
COMMENT ON SCHEMA api IS 'machi functions the HTTP gateway may call: api.handle and api.health';

REVOKE ALL ON SCHEMA machi FROM PUBLIC;
REVOKE ALL ON SCHEMA api FROM PUBLIC;

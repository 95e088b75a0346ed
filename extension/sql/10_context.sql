-- machi install script, part 10: the caller context (context.c, admin.c).

CREATE FUNCTION machi.version() RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN '@EXTVERSION@';
COMMENT ON FUNCTION machi.version() IS 'Version of the machi extension''s SQL API.';

CREATE FUNCTION machi.current_tenant() RETURNS int
	AS 'MODULE_PATHNAME', 'machi_current_tenant'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_tenant() IS
'Tenant of the current caller (set in C by api.handle, the admin functions or machi.act_as); NULL when none. Policies call it as (SELECT machi.current_tenant()).';

CREATE FUNCTION machi.current_account() RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_current_account'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_account() IS
'Account id of the current caller; NULL when anonymous or nobody.';

CREATE FUNCTION machi.current_role() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_current_role'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_role() IS
'Role preset of the current caller (system_admin, tenant_admin, department_admin, staff, viewer, citizen, anonymous); NULL when nobody.';

CREATE FUNCTION machi.has_permission(resource text, action text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'machi_has_permission'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.has_permission(text, text) IS
'Whether the current caller''s role grants action (read or update) on resource, per machi.permission.';

CREATE FUNCTION machi.current_departments() RETURNS bigint[]
	AS 'MODULE_PATHNAME', 'machi_current_departments'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_departments() IS
'Department scope of a department-scoped caller; NULL when the caller is not limited to departments.';

CREATE FUNCTION machi.current_request_id() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_current_request_id'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_request_id() IS
'Request id of the current API call, or the reason of the current admin call.';

CREATE FUNCTION machi.is_operator() RETURNS boolean
	LANGUAGE sql STABLE PARALLEL RESTRICTED
	RETURN machi.current_role() IS NOT DISTINCT FROM 'system_admin';
COMMENT ON FUNCTION machi.is_operator() IS
'True in the system administrator context (admin functions, operator accounts).';

CREATE FUNCTION machi.act_as(account bigint, reason text) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_act_as'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.act_as(bigint, text) IS
'machi_admin only, audited: act as an account until the end of the transaction (support work). api.handle calls without credentials in the same transaction run as that account. Usage: BEGIN; SELECT machi.act_as(42, ''ticket 1234: cannot see report''); SELECT * FROM api.handle(''GET'', ''/v1/me'', '''', ''{}'', NULL, NULL, NULL); COMMIT;';

CREATE FUNCTION machi.current_api_key() RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_current_api_key'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_api_key() IS
'The Open311 API key (machi.api_key.key_id) the current caller presented; NULL for everybody else.';

-- machi install script, part 37: staff accounts and operator functions of
-- identity.  The tenant admin API (list, create, change, disable staff of
-- the own tenant; the idle timeout) and the machi_admin functions
-- create_staff, import_account, lock_account, unlock_account,
-- reveal_account, rotate_master_key and master_key_id.

CREATE FUNCTION machi.require_permission(resource text, action text) RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF NOT coalesce(machi.has_permission(resource, action), false) THEN
		PERFORM machi.fail(403, 'your role does not allow this', NULL, 'forbidden');
	END IF;
END
$$;
COMMENT ON FUNCTION machi.require_permission(text, text) IS 'A 403 unless the caller''s role grants action on resource.';

CREATE FUNCTION machi.caller_rank() RETURNS int
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN machi.is_operator() THEN 1000000
				ELSE coalesce((SELECT r.rank FROM machi.role r WHERE r.role_name = machi.current_role()), 0) END;
END;
COMMENT ON FUNCTION machi.caller_rank() IS 'Rank of the caller''s role (operators above every role); nobody grants a role above their own.';

CREATE FUNCTION machi.check_staff_role(role_name text) RETURNS text
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	r machi.role;
BEGIN
	SELECT * INTO r FROM machi.role x WHERE x.role_name = check_staff_role.role_name;
	IF NOT FOUND OR r.kind <> 'tenant' THEN
		PERFORM machi.fail(422, 'role must be one of the tenant roles', 'role', 'invalid_role',
						   (SELECT 'Tenant roles: ' || string_agg(x.role_name, ', ' ORDER BY x.rank DESC) || '.'
							FROM machi.role x WHERE x.kind = 'tenant'));
	END IF;
	IF r.rank > machi.caller_rank() THEN
		PERFORM machi.fail(403, 'you cannot grant a role above your own', 'role', 'role_above_own');
	END IF;
	RETURN r.role_name;
END
$$;
COMMENT ON FUNCTION machi.check_staff_role(text) IS
'Validate a role given to a staff account: a tenant role (never a system or citizen role) not above the caller''s own rank.';

CREATE FUNCTION machi.staff_create(tid int, email text, name text, role_name text,
								   department_ids bigint[], contact text,
								   OUT account_id bigint, OUT initial_password text)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	role text := machi.check_staff_role(coalesce(role_name, 'staff'));
BEGIN
	PERFORM machi.check_email(email);
	IF name IS NULL OR length(name) NOT BETWEEN 1 AND 100 THEN
		PERFORM machi.fail(400, 'name is required (at most 100 characters)', 'name', 'required');
	END IF;
	IF NOT machi.is_operator() AND tid IS DISTINCT FROM machi.current_tenant() THEN
		PERFORM machi.fail(404, 'no such tenant', NULL, 'not_found');
	END IF;
	IF NOT EXISTS (SELECT 1 FROM machi.tenant t WHERE t.tenant_id = tid) THEN
		PERFORM machi.fail(404, 'no such tenant', NULL, 'not_found');
	END IF;
	initial_password := machi.password_generate();
	INSERT INTO machi.account AS x (kind, tenant_id, role_name, must_change_password, password_hash,
									password_changed_at, email_verified_at)
	VALUES ('staff', tid, role, true, machi.password_hash(initial_password), machi.now(), machi.now())
	RETURNING x.account_id INTO staff_create.account_id;
	PERFORM machi.pii_write(staff_create.account_id, tid,
							jsonb_strip_nulls(jsonb_build_object('email', email, 'name', name, 'contact', contact)),
							false);
	INSERT INTO machi.account_department (tenant_id, account_id, department_id)
	SELECT tid, staff_create.account_id, d FROM unnest(department_ids) AS d;
END
$$;
COMMENT ON FUNCTION machi.staff_create(int, text, text, text, bigint[], text) IS
'Create a staff account of tenant tid with a generated initial password (returned once, stored only as its hash) and must_change_password set. Callers: an operator, or a tenant admin for their own tenant.';

CREATE FUNCTION machi.staff_json(aid bigint) RETURNS jsonb
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object(
		'id', a.account_id, 'tenant_id', a.tenant_id, 'role', a.role_name, 'state', a.state,
		'must_change_password', a.must_change_password,
		'locked', coalesce(a.locked_until > machi.now(), false),
		'last_login_at', a.last_login_at,
		'email', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email),
		'name', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'name', p.name),
		'contact', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'contact', p.contact),
		'departments', coalesce((SELECT jsonb_agg(d.department_id ORDER BY d.department_id)
								 FROM machi.account_department d WHERE d.account_id = a.account_id), '[]'))
	FROM machi.account a LEFT JOIN machi.account_pii p ON p.account_id = a.account_id
	WHERE a.account_id = aid;
END;
COMMENT ON FUNCTION machi.staff_json(bigint) IS 'A staff account as the tenant admin API shows it (personal fields decrypted for callers allowed to read them).';

CREATE FUNCTION machi.staff_target(r machi.request) RETURNS machi.account
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	a machi.account;
BEGIN
	SELECT * INTO a FROM machi.account x
	WHERE x.account_id = machi.arg_id(r.params, 'id') AND x.kind = 'staff'
	  AND x.tenant_id = machi.current_tenant() AND x.state <> 'deleted';
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such staff member', NULL, 'not_found');
	END IF;
	IF (SELECT x.rank FROM machi.role x WHERE x.role_name = a.role_name) > machi.caller_rank() THEN
		PERFORM machi.fail(403, 'you cannot change an account of a role above your own', NULL, 'role_above_own');
	END IF;
	RETURN a;
END
$$;
COMMENT ON FUNCTION machi.staff_target(machi.request) IS
'The staff account named by the path parameter id, of the caller''s own tenant (404 otherwise, also for other tenants'' ids) and not of a role above the caller''s.';

CREATE FUNCTION machi.staff_change(a machi.account, changes jsonb) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	new_role text := a.role_name;
	new_state text := a.state;
	k text;
BEGIN
	FOR k IN SELECT jsonb_object_keys(changes) LOOP
		IF NOT k = ANY (ARRAY['role', 'state', 'name', 'contact']) THEN
			PERFORM machi.fail(400, format('unknown field %s', k), k, 'unknown_field');
		END IF;
	END LOOP;
	IF changes ? 'role' THEN
		new_role := machi.check_staff_role(machi.arg_text(changes, 'role', true, 32));
	END IF;
	IF changes ? 'state' THEN
		new_state := machi.arg_text(changes, 'state', true, 16);
		IF new_state NOT IN ('active', 'disabled') THEN
			PERFORM machi.fail(400, 'state must be active or disabled', 'state', 'invalid');
		END IF;
	END IF;
	IF a.account_id = machi.current_account() AND (new_role <> a.role_name OR new_state <> a.state) THEN
		PERFORM machi.fail(422, 'you cannot change your own role or state', NULL, 'cannot_change_self');
	END IF;
	IF new_role <> a.role_name OR new_state <> a.state THEN
		UPDATE machi.account x SET role_name = new_role, state = new_state, updated_at = now()
		WHERE x.account_id = a.account_id;
		-- a privilege change ends the sessions that carry the old privileges
		PERFORM machi.sessions_revoke(a.account_id, NULL,
									  CASE WHEN new_state <> a.state THEN 'account ' || new_state ELSE 'role changed' END);
	END IF;
	IF changes ? 'name' OR changes ? 'contact' THEN
		PERFORM machi.pii_write(a.account_id, a.tenant_id, changes - 'role' - 'state', true);
	END IF;
	RETURN machi.staff_json(a.account_id);
END
$$;
COMMENT ON FUNCTION machi.staff_change(machi.account, jsonb) IS
'Change a staff account (role, state active/disabled, name, contact); a role or state change revokes its sessions.';

CREATE FUNCTION machi.rt_admin_staff(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM machi.require_permission('account', 'read');
	RETURN machi.ok(jsonb_build_object('staff', coalesce((
		SELECT jsonb_agg(machi.staff_json(a.account_id) ORDER BY a.account_id)
		FROM machi.account a
		WHERE a.tenant_id = machi.current_tenant() AND a.kind = 'staff' AND a.state <> 'deleted'), '[]')));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_staff(machi.request) IS 'GET /v1/admin/staff: the staff of the caller''s tenant.';

CREATE FUNCTION machi.rt_admin_staff_create(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c record;
	depts bigint[];
BEGIN
	PERFORM machi.require_permission('account', 'update');
	IF r.data ? 'department_ids' AND jsonb_typeof(r.data->'department_ids') <> 'null' THEN
		IF jsonb_typeof(r.data->'department_ids') <> 'array' THEN
			PERFORM machi.fail(400, 'department_ids must be an array of ids', 'department_ids', 'invalid');
		END IF;
		SELECT array_agg(v::bigint) INTO depts FROM jsonb_array_elements_text(r.data->'department_ids') v;
	END IF;
	SELECT * INTO c FROM machi.staff_create(machi.current_tenant(),
		machi.arg_text(r.data, 'email', true, 254), machi.arg_text(r.data, 'name', true, 100),
		machi.arg_text(r.data, 'role', false, 32), depts, machi.arg_text(r.data, 'contact', false, 500));
	RETURN machi.ok(jsonb_build_object('staff', machi.staff_json(c.account_id),
									   'initial_password', c.initial_password), 201);
END
$$;
COMMENT ON FUNCTION machi.rt_admin_staff_create(machi.request) IS
'POST /v1/admin/staff {email, name, role?, department_ids?, contact?}: create a staff member of the own tenant; the generated initial password is in this response only.';

CREATE FUNCTION machi.rt_admin_staff_update(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM machi.require_permission('account', 'update');
	IF r.data IS NULL OR jsonb_typeof(r.data) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	RETURN machi.ok(jsonb_build_object('staff', machi.staff_change(machi.staff_target(r), r.data)));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_staff_update(machi.request) IS
'PATCH /v1/admin/staff/{id} {role?, state?, name?, contact?}: change a staff member of the own tenant.';

CREATE FUNCTION machi.rt_admin_staff_disable(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM machi.require_permission('account', 'update');
	RETURN machi.ok(jsonb_build_object('staff', machi.staff_change(machi.staff_target(r),
																   '{"state": "disabled"}')));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_staff_disable(machi.request) IS 'DELETE /v1/admin/staff/{id}: disable a staff member of the own tenant (sessions revoked).';

CREATE FUNCTION machi.rt_admin_tenant(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	minutes int;
	t machi.tenant;
BEGIN
	IF r.method = 'PATCH' THEN
		PERFORM machi.require_permission('tenant', 'update');
		minutes := machi.arg_number(r.data, 'staff_idle_timeout_minutes', 1, 1440, true)::int;
		UPDATE machi.tenant x SET staff_idle_timeout = minutes * interval '1 minute', updated_at = now()
		WHERE x.tenant_id = machi.current_tenant();
	END IF;
	SELECT * INTO STRICT t FROM machi.tenant x WHERE x.tenant_id = machi.current_tenant();
	RETURN machi.ok(jsonb_build_object('tenant', machi.tenant_json(t),
		'staff_idle_timeout_minutes', (extract(epoch FROM t.staff_idle_timeout) / 60)::int));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_tenant(machi.request) IS
'GET /v1/admin/tenant: the own tenant''s settings. PATCH {staff_idle_timeout_minutes}: set the staff idle timeout (1 to 1440 minutes).';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/admin/staff', 'machi.rt_admin_staff(machi.request)', 'staff', 0, 'Staff of the own tenant.'),
	('POST', '/v1/admin/staff', 'machi.rt_admin_staff_create(machi.request)', 'staff', 16384, 'Create a staff member (generated initial password).'),
	('PATCH', '/v1/admin/staff/{id}', 'machi.rt_admin_staff_update(machi.request)', 'staff', 16384, 'Change a staff member''s role, state, name or contact.'),
	('DELETE', '/v1/admin/staff/{id}', 'machi.rt_admin_staff_disable(machi.request)', 'staff', 0, 'Disable a staff member.'),
	('GET', '/v1/admin/tenant', 'machi.rt_admin_tenant(machi.request)', 'staff', 0, 'Own tenant settings.'),
	('PATCH', '/v1/admin/tenant', 'machi.rt_admin_tenant(machi.request)', 'staff', 1024, 'Set the staff idle timeout.');

-- ---- operator (DBA) functions ----

CREATE FUNCTION machi.create_staff__impl(tenant_id int, email text, full_name text, role_name text,
										 department_ids bigint[], contact text,
										 OUT account_id bigint, OUT initial_password text)
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM machi.staff_create($1, $2, $3, $4, $5, $6);
END;
CREATE FUNCTION machi.create_staff(tenant_id int, email text, full_name text, role_name text DEFAULT 'staff',
								   department_ids bigint[] DEFAULT NULL, contact text DEFAULT NULL,
								   OUT account_id bigint, OUT initial_password text)
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_staff__impl(int, text, text, text, bigint[], text) IS 'Implementation of machi.create_staff (owner only).';
COMMENT ON FUNCTION machi.create_staff(int, text, text, text, bigint[], text) IS
'machi_admin: create a staff account (e.g. the first tenant admin). Returns the account id and the generated initial password, shown this once; the account must change it at first login. Example: SELECT * FROM machi.create_staff(12101, ''admin@city.example'', ''山田 花子'', ''tenant_admin'');';

CREATE FUNCTION machi.import_account__impl(kind text, email text, password_hash text, tenant_id int,
										   role_name text, profile jsonb, email_verified boolean)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	aid bigint;
	role text;
BEGIN
	IF password_hash IS NOT NULL
	   AND password_hash !~ '^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$'
	   AND password_hash !~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$' THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'password_hash must be an argon2id or bcrypt ($2a$, $2b$, $2y$) hash';
	END IF;
	PERFORM machi.check_email(email);
	IF kind = 'citizen' THEN
		IF tenant_id IS NOT NULL THEN
			RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'citizens have no tenant';
		END IF;
		role := 'citizen';
	ELSIF kind = 'staff' THEN
		role := machi.check_staff_role(coalesce(role_name, 'staff'));
	ELSE
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'kind must be citizen or staff';
	END IF;
	INSERT INTO machi.account AS x (kind, tenant_id, role_name, password_hash, password_changed_at,
									email_verified_at)
	VALUES (kind, tenant_id, role, password_hash, machi.now(),
			CASE WHEN email_verified THEN machi.now() END)
	RETURNING x.account_id INTO aid;
	PERFORM machi.pii_write(aid, machi.pii_scope(tenant_id),
							coalesce(profile, '{}') || jsonb_build_object('email', email), false);
	RETURN aid;
END
$$;
CREATE FUNCTION machi.import_account(kind text, email text, password_hash text, tenant_id int DEFAULT NULL,
									 role_name text DEFAULT NULL, profile jsonb DEFAULT '{}',
									 email_verified boolean DEFAULT true)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.import_account__impl(text, text, text, int, text, jsonb, boolean) IS 'Implementation of machi.import_account (owner only).';
COMMENT ON FUNCTION machi.import_account(text, text, text, int, text, jsonb, boolean) IS
'machi_admin: migrate an account from another system with its existing password hash (argon2id, or bcrypt $2a$/$2b$/$2y$ as pgcrypto crypt() makes them; bcrypt is replaced by argon2id at the first successful login). profile: name, nickname, phone, postal_code, address, birthday, gender, occupation, contact, home_tenant_id. Example: SELECT machi.import_account(''citizen'', ''a@example.jp'', ''$2a$06$...'', profile => ''{"nickname": "taro"}'');';

CREATE FUNCTION machi.lock_account__impl(account_id bigint, reason text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF reason IS NULL OR length(reason) < 8 THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a reason of at least 8 characters is required';
	END IF;
	UPDATE machi.account x SET locked_until = 'infinity', lock_reason = reason, updated_at = now()
	WHERE x.account_id = lock_account__impl.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('account %s does not exist', account_id);
	END IF;
	PERFORM machi.sessions_revoke(lock_account__impl.account_id, NULL, 'locked by operator');
	PERFORM machi.identity_event('account_locked', jsonb_build_object(
		'account_id', lock_account__impl.account_id, 'reason', reason, 'by', session_user));
END
$$;
CREATE FUNCTION machi.lock_account(account_id bigint, reason text) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.lock_account__impl(bigint, text) IS 'Implementation of machi.lock_account (owner only).';
COMMENT ON FUNCTION machi.lock_account(bigint, text) IS
'machi_admin, recorded: lock an account until machi.unlock_account and revoke its sessions. Example: SELECT machi.lock_account(42, ''security report 2026-05-01: password spraying'');';

CREATE FUNCTION machi.unlock_account__impl(account_id bigint) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	UPDATE machi.account x SET locked_until = NULL, lock_reason = NULL, failed_logins = 0, updated_at = now()
	WHERE x.account_id = unlock_account__impl.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('account %s does not exist', account_id);
	END IF;
	PERFORM machi.identity_event('account_unlocked', jsonb_build_object(
		'account_id', unlock_account__impl.account_id, 'by', session_user));
END
$$;
CREATE FUNCTION machi.unlock_account(account_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.unlock_account__impl(bigint) IS 'Implementation of machi.unlock_account (owner only).';
COMMENT ON FUNCTION machi.unlock_account(bigint) IS
'machi_admin, recorded: lift a lock (by an operator or after failed logins) and reset the failure counter.';

CREATE FUNCTION machi.reveal_account__impl(account_id bigint, reason text) RETURNS jsonb
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	result jsonb;
BEGIN
	IF reason IS NULL OR length(reason) < 8 THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a reason of at least 8 characters is required',
			HINT = 'Say why you need this person''s data, e.g. a ticket number.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM machi.account x WHERE x.account_id = reveal_account__impl.account_id) THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('account %s does not exist', account_id);
	END IF;
	PERFORM machi.identity_event('pii_disclosure', jsonb_build_object(
		'subject_account_id', reveal_account__impl.account_id, 'reason', reason,
		'fields', jsonb_build_array('email', 'name', 'nickname', 'phone', 'postal_code', 'address',
									'birthday', 'gender', 'occupation', 'contact', 'home_tenant_id')));
	result := machi.me_json(reveal_account__impl.account_id);
	RETURN result;
END
$$;
CREATE FUNCTION machi.reveal_account(account_id bigint, reason text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.reveal_account__impl(bigint, text) IS 'Implementation of machi.reveal_account (owner only).';
COMMENT ON FUNCTION machi.reveal_account(bigint, text) IS
'machi_admin, recorded with the reason: the decrypted personal data of an account (the tables hold ciphertext only). Example: SELECT machi.reveal_account(42, ''ticket 1234: verify caller identity'');';

CREATE FUNCTION machi.rotate_master_key__impl(new_file text) RETURNS int
	AS 'MODULE_PATHNAME', 'machi_rotate_master_key_impl'
	LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION machi.rotate_master_key(new_file text) RETURNS int
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rotate_master_key__impl(text) IS 'Implementation of machi.rotate_master_key (owner only).';
COMMENT ON FUNCTION machi.rotate_master_key(text) IS
'machi_admin: re-wrap every data key with the master key in new_file (same rules as machi.master_key_file), then set machi.master_key_file to new_file and reload on every server of the cluster. Returns the number of keys re-wrapped. Keep the old file until the change is everywhere, including in backups you may restore.';

CREATE FUNCTION machi.master_key_id__impl() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_master_key_id'
	LANGUAGE C VOLATILE;
CREATE FUNCTION machi.master_key_id() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.master_key_id__impl() IS 'Implementation of machi.master_key_id (owner only).';
COMMENT ON FUNCTION machi.master_key_id() IS
'machi_admin: the public fingerprint of the master key in machi.master_key_file (what machi.data_key.master_key_id records).';

-- machi install script, part 36: signing in and out, registration, e-mail
-- verification, password reset and change, the own profile and sessions.
--
-- The public routes that must find an account before anybody is signed in
-- (login, register, verify, forgot, reset) are trusted functions: their C
-- body (identity.c) runs machi.rt_<name>__impl in the system context.  The
-- routes of a signed-in caller run as that caller, under row-level
-- security.

-- ---- sessions ----

CREATE FUNCTION machi.session_create(aid bigint, kind text, client_addr inet, cookie boolean,
									 OUT session_id bigint, OUT token text, OUT csrf text,
									 OUT expires_at timestamptz)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	t timestamptz := machi.now();
BEGIN
	token := machi.token_new();
	csrf := CASE WHEN cookie THEN machi.csrf_token(token) END;
	expires_at := t + CASE WHEN kind = 'citizen'
						   THEN current_setting('machi.citizen_session_lifetime')::interval
						   ELSE current_setting('machi.staff_session_lifetime')::interval END;
	INSERT INTO machi.session AS x (account_id, token_hash, csrf_hash, created_at, last_seen_at,
									expires_at, client_addr)
	VALUES (aid, machi.token_hash(token), machi.token_hash(csrf), t, t,
			session_create.expires_at, session_create.client_addr)
	RETURNING x.session_id INTO session_create.session_id;
END
$$;
COMMENT ON FUNCTION machi.session_create(bigint, text, inet, boolean) IS
'Open a session for an account: a new token (and, for cookie sessions, the CSRF token derived from it by machi.csrf_token), of which only the SHA-256 is stored; absolute expiry from machi.citizen_session_lifetime or machi.staff_session_lifetime.';

CREATE FUNCTION machi.sessions_revoke(aid bigint, keep bigint, reason text) RETURNS int
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH r AS (
		UPDATE machi.session s SET revoked_at = machi.now(), revoke_reason = reason
		WHERE s.account_id = aid AND s.revoked_at IS NULL
		  AND s.session_id IS DISTINCT FROM keep
		RETURNING 1)
	SELECT count(*)::int FROM r;
END;
COMMENT ON FUNCTION machi.sessions_revoke(bigint, bigint, text) IS
'Revoke every live session of an account except keep (NULL: all); returns how many.';

CREATE FUNCTION machi.session_cookie(token text, max_age int) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN format('__Host-machi_session=%s; Path=/; Max-Age=%s; Secure; HttpOnly; SameSite=Strict',
				  coalesce(token, ''), max_age);
COMMENT ON FUNCTION machi.session_cookie(text, int) IS
'Set-Cookie value of the console session cookie (__Host- prefix: Secure, Path=/, no Domain; HttpOnly; SameSite=Strict).';

-- ---- throttling ----

CREATE FUNCTION machi.address_wait(addr inet) RETURNS int
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	lim int := current_setting('machi.address_failure_limit')::int;
	win interval := current_setting('machi.lockout_minutes')::interval;
	t timestamptz := machi.now();
	w int;
BEGIN
	IF addr IS NULL OR lim = 0 THEN
		RETURN 0;
	END IF;
	SELECT ceil(extract(epoch FROM x.window_start + win - t))::int INTO w
	FROM machi.address_throttle x
	WHERE x.client_addr = addr AND x.failures >= lim AND x.window_start + win > t;
	RETURN coalesce(w, 0);
END
$$;
COMMENT ON FUNCTION machi.address_wait(inet) IS
'Seconds a client address must wait before its next login attempt (too many failures in the window); 0 when it may try.';

CREATE FUNCTION machi.address_failed(addr inet) RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO machi.address_throttle AS t (client_addr, failures, window_start, last_failure_at)
	SELECT addr, 1, machi.now(), machi.now() WHERE addr IS NOT NULL
	ON CONFLICT (client_addr) DO UPDATE SET
		failures = CASE WHEN t.window_start + current_setting('machi.lockout_minutes')::interval <= machi.now()
						THEN 1 ELSE t.failures + 1 END,
		window_start = CASE WHEN t.window_start + current_setting('machi.lockout_minutes')::interval <= machi.now()
							THEN machi.now() ELSE t.window_start END,
		last_failure_at = machi.now();
END;
COMMENT ON FUNCTION machi.address_failed(inet) IS 'Count a failed login of a client address in its current window.';

-- ---- login ----

CREATE FUNCTION machi.login_failure() RETURNS machi.response
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN machi.ok('{"error": {"code": "invalid_credentials", "message": "invalid login id or password"}}'::jsonb, 401);
COMMENT ON FUNCTION machi.login_failure() IS
'The one answer to every failed login (unknown id, wrong password, locked, disabled): 401 invalid_credentials. Returned, not raised, so that the failure counters persist.';

CREATE FUNCTION machi.rt_login__impl(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_variable
DECLARE
	login text := machi.arg_text(r.data, 'email', true, 320);
	pw text;
	cookie boolean := coalesce(r.data->>'cookie', 'false') = 'true';
	a machi.account;
	v record;
	s record;
	wait int;
	t timestamptz := machi.now();
	cause text;
	failures int;
	fresh machi.account;
	body jsonb;
BEGIN
	IF jsonb_typeof(r.data->'password') IS DISTINCT FROM 'string' OR r.data->>'password' = '' THEN
		PERFORM machi.fail(400, 'password is required', 'password', 'required');
	END IF;
	pw := r.data->>'password';
	IF octet_length(pw) > 4096 THEN
		PERFORM machi.fail(400, 'password is too long', 'password', 'too_long');
	END IF;
	wait := machi.address_wait(r.client_addr);
	IF wait > 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'MC429', MESSAGE = 'too many failed logins from this address',
			HINT = format('Retry after %s seconds.', wait), CONSTRAINT = 'too_many_attempts';
	END IF;

	-- no row lock while the hash is verified: concurrent logins of one
	-- account must not queue behind each other's argon2id; the counters
	-- are then changed by single UPDATEs that see the latest row
	SELECT x.* INTO a FROM machi.account_pii p JOIN machi.account x ON x.account_id = p.account_id
	WHERE p.email_bidx = machi.blind_index('email', login);
	IF NOT FOUND OR a.password_hash IS NULL THEN
		PERFORM machi.password_dummy_verify(pw);
		PERFORM machi.address_failed(r.client_addr);
		PERFORM machi.identity_event('login_failed', jsonb_build_object(
			'account_id', a.account_id, 'cause', 'unknown_id', 'client_addr', r.client_addr));
		RETURN machi.login_failure();
	END IF;

	SELECT * INTO v FROM machi.password_verify(a.password_hash, pw);
	IF v.ok THEN
		-- succeeds only if the account is still active and unlocked now
		UPDATE machi.account x SET
			failed_logins = 0,
			locked_until = NULL, lock_reason = NULL,
			last_login_at = t,
			password_hash = CASE WHEN v.rehash THEN machi.password_hash(pw) ELSE x.password_hash END
		WHERE x.account_id = a.account_id AND x.state = 'active'
		  AND (x.locked_until IS NULL OR x.locked_until <= t)
		RETURNING x.* INTO fresh;
		IF FOUND THEN
			a := fresh;
			cause := NULL;
		ELSE
			SELECT CASE WHEN x.state <> 'active' THEN x.state ELSE 'locked' END INTO cause
			FROM machi.account x WHERE x.account_id = a.account_id;
		END IF;
	ELSE
		cause := CASE WHEN a.state <> 'active' THEN a.state
					  WHEN a.locked_until > t THEN 'locked'
					  ELSE 'wrong_password' END;
	END IF;
	IF cause IS NOT NULL THEN
		PERFORM machi.address_failed(r.client_addr);
		IF cause = 'wrong_password' THEN
			UPDATE machi.account x SET failed_logins = x.failed_logins + 1
			WHERE x.account_id = a.account_id
			RETURNING x.failed_logins INTO failures;
			IF failures >= current_setting('machi.lockout_threshold')::int THEN
				UPDATE machi.account x SET failed_logins = 0,
					locked_until = t + current_setting('machi.lockout_minutes')::interval,
					lock_reason = 'too many failed logins', updated_at = now()
				WHERE x.account_id = a.account_id;
				PERFORM machi.sessions_revoke(a.account_id, NULL, 'locked');
				PERFORM machi.identity_event('account_locked', jsonb_build_object(
					'account_id', a.account_id, 'reason', 'too many failed logins',
					'minutes', current_setting('machi.lockout_minutes')::interval,
					'client_addr', r.client_addr));
			END IF;
		END IF;
		PERFORM machi.identity_event('login_failed', jsonb_build_object(
			'account_id', a.account_id, 'cause', cause, 'client_addr', r.client_addr));
		RETURN machi.login_failure();
	END IF;

	SELECT * INTO s FROM machi.session_create(a.account_id, a.kind, r.client_addr, cookie);
	body := jsonb_build_object(
		'token_type', CASE WHEN cookie THEN 'cookie' ELSE 'Bearer' END,
		'expires_at', s.expires_at,
		'account', jsonb_build_object('id', a.account_id, 'kind', a.kind, 'role', a.role_name,
									  'tenant_id', a.tenant_id,
									  'must_change_password', a.must_change_password,
									  'email_verified', a.email_verified_at IS NOT NULL),
		'notices', machi.notices_for(a.tenant_id, a.kind <> 'citizen'));
	IF cookie THEN
		RETURN machi.ok(body || jsonb_build_object('csrf_token', s.csrf), 200,
						jsonb_build_object('set-cookie', machi.session_cookie(
							s.token, extract(epoch FROM s.expires_at - t)::int)));
	END IF;
	RETURN machi.ok(body || jsonb_build_object('token', s.token));
END
$$;
CREATE FUNCTION machi.rt_login(r machi.request) RETURNS machi.response
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rt_login__impl(machi.request) IS 'Implementation of machi.rt_login (owner only).';
COMMENT ON FUNCTION machi.rt_login(machi.request) IS
'POST /v1/auth/login {email, password, cookie?}: a new session. Bearer token in the body, or with cookie=true an __Host- cookie plus a CSRF token for the X-CSRF-Token header. Every failure is the same 401; unknown ids cost a dummy argon2id verification; 10 consecutive failures lock the account.';

CREATE FUNCTION machi.rt_logout(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	UPDATE machi.session s SET revoked_at = machi.now(), revoke_reason = 'logout'
	WHERE s.session_id = machi.current_session() AND s.revoked_at IS NULL;
	RETURN machi.ok(jsonb_build_object('status', 'logged_out'), 200,
					jsonb_build_object('set-cookie', machi.session_cookie('', 0)));
END
$$;
COMMENT ON FUNCTION machi.rt_logout(machi.request) IS 'POST /v1/auth/logout: revoke the current session and clear the cookie.';

CREATE FUNCTION machi.rt_auth_session(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s machi.session;
	a machi.account;
	csrf text := machi.current_csrf_token();
	body jsonb;
BEGIN
	SELECT * INTO s FROM machi.session x
	WHERE x.session_id = machi.current_session() AND x.account_id = machi.current_account();
	IF NOT FOUND THEN
		-- a DBA acting as an account from psql has no session to describe
		PERFORM machi.fail(401, 'this request was not made with a session', NULL, 'authentication_required');
	END IF;
	SELECT * INTO STRICT a FROM machi.account x WHERE x.account_id = s.account_id;
	body := jsonb_build_object(
		'token_type', CASE WHEN s.csrf_hash IS NOT NULL THEN 'cookie' ELSE 'Bearer' END,
		'session_id', s.session_id,
		'created_at', s.created_at,
		'expires_at', s.expires_at,
		'account', jsonb_build_object('id', a.account_id, 'kind', a.kind, 'role', a.role_name,
									  'tenant_id', a.tenant_id,
									  'must_change_password', a.must_change_password,
									  'email_verified', a.email_verified_at IS NOT NULL));
	IF csrf IS NOT NULL THEN
		body := body || jsonb_build_object('csrf_token', csrf);
	END IF;
	RETURN machi.ok(body);
END
$$;
COMMENT ON FUNCTION machi.rt_auth_session(machi.request) IS
'GET /v1/auth/session: the caller''s session (type, expiry) and account, as the login answer gives them, plus the CSRF token when the request came with the console''s session cookie: a reloaded console page gets it again without asking for the password. Readable by other origins neither (same-origin policy) nor with another session''s cookie. Allowed while must_change_password is set.';

-- ---- registration and e-mail verification ----

CREATE FUNCTION machi.mail_link(path text, token text) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN rtrim(current_setting('machi.public_base_url'), '/') || path || '?token=' || token;
COMMENT ON FUNCTION machi.mail_link(text, text) IS 'A link to the web front end carrying a single-use token.';

CREATE FUNCTION machi.one_time_token_new(aid bigint, purpose text, valid_for interval) RETURNS text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	token text := machi.token_new();
BEGIN
	INSERT INTO machi.one_time_token (token_hash, account_id, purpose, created_at, expires_at)
	VALUES (machi.token_hash(token), aid, purpose, machi.now(), machi.now() + valid_for);
	RETURN token;
END
$$;
COMMENT ON FUNCTION machi.one_time_token_new(bigint, text, interval) IS
'A single-use token for an e-mail link (its SHA-256 stored only).';

CREATE FUNCTION machi.one_time_token_use(token text, purpose text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	aid bigint;
BEGIN
	UPDATE machi.one_time_token o SET used_at = machi.now()
	WHERE o.token_hash = machi.token_hash(coalesce(token, ''))
	  AND o.purpose = one_time_token_use.purpose
	  AND o.used_at IS NULL AND o.expires_at > machi.now()
	RETURNING o.account_id INTO aid;
	IF aid IS NULL THEN
		PERFORM machi.fail(400, 'this link is invalid or has expired', 'token', 'invalid_token',
						   'Links can be used once and expire; ask for a new one.');
	END IF;
	RETURN aid;
END
$$;
COMMENT ON FUNCTION machi.one_time_token_use(text, text) IS
'Consume a single-use token: the account it was made for, or a 400 when unknown, used or expired.';

CREATE FUNCTION machi.send_verification(aid bigint, email text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	token text := machi.one_time_token_new(aid, 'verify_email', interval '24 hours');
BEGIN
	PERFORM machi.outbox_put(aid, 0, 'verify_email', email,
		'Confirm your e-mail address',
		E'Open this link within 24 hours to confirm your e-mail address:\n\n'
		|| machi.mail_link('/verify-email', token)
		|| E'\n\nIf you did not register, ignore this message.');
END
$$;
COMMENT ON FUNCTION machi.send_verification(bigint, text) IS 'Queue the e-mail with a single-use 24-hour verification link.';

CREATE FUNCTION machi.accepted(message text) RETURNS machi.response
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN machi.ok(jsonb_build_object('status', 'accepted', 'message', message), 202);
COMMENT ON FUNCTION machi.accepted(text) IS 'The 202 answer of the routes that must not tell whether an address is registered.';

CREATE FUNCTION machi.answer_no_sooner(seconds float8) RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	RETURN (SELECT pg_sleep(greatest(0, seconds - extract(epoch FROM clock_timestamp() - statement_timestamp()))));
COMMENT ON FUNCTION machi.answer_no_sooner(float8) IS
'Sleep until the statement has taken at least seconds: the answers of registration and password reset take the same time whether the address is known or not (an account-enumeration oracle otherwise).';

CREATE FUNCTION machi.rt_register__impl(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	email text := machi.check_email(machi.arg_text(r.data, 'email', true, 254));
	pw text := machi.arg_text(r.data, 'password', true, 4096);
	nickname text := machi.arg_text(r.data, 'nickname', true, 50);
	name text := machi.arg_text(r.data, 'name', true, 100);
	phone text := machi.arg_text(r.data, 'phone', true, 30);
	login text := machi.normalise_login('email', email);
	existing bigint;
	aid bigint;
	msg text := 'Check your mailbox for a message to confirm your address.';
	p jsonb;
BEGIN
	PERFORM machi.password_check(pw, login, false);
	SELECT p2.account_id INTO existing FROM machi.account_pii p2
	WHERE p2.email_bidx = machi.blind_index('email', email);
	IF existing IS NOT NULL THEN
		-- same answer as a new registration; the owner learns by e-mail
		PERFORM machi.outbox_put(existing, 0, 'account_exists', email,
			'Someone tried to register with your e-mail address',
			E'Your address already has an account. If this was you, sign in or reset your password at '
			|| rtrim(current_setting('machi.public_base_url'), '/') || E'/forgot-password\n');
		PERFORM machi.password_hash(pw);	-- the work of a new registration
		PERFORM machi.answer_no_sooner(current_setting('machi.enumeration_floor_ms')::int / 1000.0);
		RETURN machi.accepted(msg);
	END IF;
	INSERT INTO machi.account (kind, role_name, password_hash, password_changed_at)
	VALUES ('citizen', 'citizen', machi.password_hash(pw), machi.now())
	RETURNING account_id INTO aid;
	p := jsonb_build_object('email', email, 'nickname', nickname, 'name', name, 'phone', phone);
	p := p || jsonb_strip_nulls(jsonb_build_object(
		'postal_code', r.data->'postal_code', 'address', r.data->'address',
		'birthday', r.data->'birthday', 'gender', r.data->'gender',
		'occupation', r.data->'occupation', 'home_tenant_id', r.data->'home_tenant_id'));
	PERFORM machi.pii_write(aid, 0, p, false);
	PERFORM machi.send_verification(aid, email);
	PERFORM machi.answer_no_sooner(current_setting('machi.enumeration_floor_ms')::int / 1000.0);
	RETURN machi.accepted(msg);
END
$$;
CREATE FUNCTION machi.rt_register(r machi.request) RETURNS machi.response
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rt_register__impl(machi.request) IS 'Implementation of machi.rt_register (owner only).';
COMMENT ON FUNCTION machi.rt_register(machi.request) IS
'POST /v1/auth/register {email, password, nickname, name, phone, postal_code?, address?, birthday?, gender?, occupation?, home_tenant_id?}: a citizen account, verified by a single-use e-mail link. 202 whether or not the address was already registered.';

CREATE FUNCTION machi.rt_verify_email__impl(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	aid bigint := machi.one_time_token_use(machi.arg_text(r.data, 'token', true, 100), 'verify_email');
BEGIN
	UPDATE machi.account x SET email_verified_at = coalesce(x.email_verified_at, machi.now())
	WHERE x.account_id = aid;
	RETURN machi.ok(jsonb_build_object('status', 'verified'));
END
$$;
CREATE FUNCTION machi.rt_verify_email(r machi.request) RETURNS machi.response
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rt_verify_email__impl(machi.request) IS 'Implementation of machi.rt_verify_email (owner only).';
COMMENT ON FUNCTION machi.rt_verify_email(machi.request) IS 'POST /v1/auth/verify-email {token}: confirm the e-mail address with the single-use link.';

CREATE FUNCTION machi.account_verified(aid bigint) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce((SELECT a.email_verified_at IS NOT NULL FROM machi.account a
					 WHERE a.account_id = aid AND a.state = 'active'), false);
END;
COMMENT ON FUNCTION machi.account_verified(bigint) IS
'Whether an active account has confirmed its e-mail address (citizens must before they post reports). Subject to the caller''s row-level security on machi.account.';

-- ---- password reset and change ----

CREATE FUNCTION machi.set_password(aid bigint, pw text, keep_session bigint, reason text) RETURNS int
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	a machi.account;
BEGIN
	SELECT * INTO STRICT a FROM machi.account x WHERE x.account_id = aid;
	PERFORM machi.password_check(pw, machi.normalise_login('email', machi.account_email(aid)),
								 a.kind <> 'citizen');
	UPDATE machi.account x SET password_hash = machi.password_hash(pw),
		password_changed_at = machi.now(), must_change_password = false,
		failed_logins = 0,
		locked_until = CASE WHEN x.locked_until = 'infinity' THEN x.locked_until END,
		lock_reason = CASE WHEN x.locked_until = 'infinity' THEN x.lock_reason END,
		updated_at = now()
	WHERE x.account_id = aid;
	RETURN machi.sessions_revoke(aid, keep_session, reason);
END
$$;
COMMENT ON FUNCTION machi.set_password(bigint, text, bigint, text) IS
'Check the password rules, store the new hash, clear must_change_password and an automatic lock (not an operator''s), and revoke every session but keep_session. Returns the number revoked.';

CREATE FUNCTION machi.rt_password_forgot__impl(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	email text := machi.arg_text(r.data, 'email', true, 320);
	a machi.account;
	token text;
BEGIN
	SELECT x.* INTO a FROM machi.account_pii p JOIN machi.account x ON x.account_id = p.account_id
	WHERE p.email_bidx = machi.blind_index('email', email) AND x.state = 'active';
	IF FOUND THEN
		token := machi.one_time_token_new(a.account_id, 'reset_password', interval '30 minutes');
		PERFORM machi.outbox_put(a.account_id, machi.pii_scope(a.tenant_id), 'reset_password',
			machi.account_email(a.account_id),
			'Reset your password',
			E'Open this link within 30 minutes to choose a new password:\n\n'
			|| machi.mail_link('/reset-password', token)
			|| E'\n\nIf you did not ask for this, ignore this message; your password is unchanged.');
	END IF;
	PERFORM machi.answer_no_sooner(current_setting('machi.enumeration_floor_ms')::int / 1000.0);
	RETURN machi.accepted('If the address is registered, a message with a reset link is on its way.');
END
$$;
CREATE FUNCTION machi.rt_password_forgot(r machi.request) RETURNS machi.response
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rt_password_forgot__impl(machi.request) IS 'Implementation of machi.rt_password_forgot (owner only).';
COMMENT ON FUNCTION machi.rt_password_forgot(machi.request) IS
'POST /v1/auth/password/forgot {email}: e-mail a single-use 30-minute reset link. The same 202 whether or not the address is registered.';

CREATE FUNCTION machi.rt_password_reset__impl(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	token text := machi.arg_text(r.data, 'token', true, 100);
	pw text := machi.arg_text(r.data, 'password', true, 4096);
	aid bigint := machi.one_time_token_use(token, 'reset_password');
	n int;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM machi.account x WHERE x.account_id = aid AND x.state = 'active') THEN
		PERFORM machi.fail(400, 'this link is invalid or has expired', 'token', 'invalid_token');
	END IF;
	n := machi.set_password(aid, pw, NULL, 'password reset');
	-- following the link proves control of the address
	UPDATE machi.account x SET email_verified_at = coalesce(x.email_verified_at, machi.now())
	WHERE x.account_id = aid;
	RETURN machi.ok(jsonb_build_object('status', 'changed', 'revoked_sessions', n));
END
$$;
CREATE FUNCTION machi.rt_password_reset(r machi.request) RETURNS machi.response
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.rt_password_reset__impl(machi.request) IS 'Implementation of machi.rt_password_reset (owner only).';
COMMENT ON FUNCTION machi.rt_password_reset(machi.request) IS
'POST /v1/auth/password/reset {token, password}: set a new password with the e-mailed link; every session of the account is revoked.';

CREATE FUNCTION machi.rt_password_change(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	cur text := machi.arg_text(r.data, 'current_password', true, 4096);
	pw text := machi.arg_text(r.data, 'new_password', true, 4096);
	a machi.account;
	n int;
BEGIN
	SELECT * INTO STRICT a FROM machi.account x WHERE x.account_id = machi.current_account();
	IF a.password_hash IS NULL OR NOT (machi.password_verify(a.password_hash, cur)).ok THEN
		PERFORM machi.fail(422, 'the current password is wrong', 'current_password', 'wrong_password');
	END IF;
	IF cur = pw THEN
		PERFORM machi.fail(422, 'the new password must differ from the current one', 'new_password', 'password_unchanged');
	END IF;
	n := machi.set_password(a.account_id, pw, machi.current_session(), 'password changed');
	RETURN machi.ok(jsonb_build_object('status', 'changed', 'revoked_sessions', n));
END
$$;
COMMENT ON FUNCTION machi.rt_password_change(machi.request) IS
'POST /v1/auth/password/change {current_password, new_password}: the only call (with logout) allowed while must_change_password is set; revokes every other session.';

-- ---- own profile and sessions ----

CREATE FUNCTION machi.me_json(aid bigint) RETURNS jsonb
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object(
		'account', jsonb_build_object('id', a.account_id, 'kind', a.kind, 'role', a.role_name,
									  'tenant_id', a.tenant_id, 'state', a.state,
									  'must_change_password', a.must_change_password,
									  'email_verified', a.email_verified_at IS NOT NULL,
									  'created_at', a.created_at),
		'profile', machi.account_profile(a.account_id))
	FROM machi.account a WHERE a.account_id = aid;
END;
COMMENT ON FUNCTION machi.me_json(bigint) IS 'The caller''s account and decrypted profile as JSON.';

CREATE FUNCTION machi.rt_me(r machi.request) RETURNS machi.response
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	RETURN machi.ok(machi.me_json(machi.current_account()));
COMMENT ON FUNCTION machi.rt_me(machi.request) IS 'GET /v1/me: own account and profile (decrypted).';

CREATE FUNCTION machi.rt_me_update(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	a machi.account;
	k text;
	allowed text[] := ARRAY['name', 'nickname', 'phone', 'postal_code', 'address', 'birthday',
							'gender', 'occupation', 'home_tenant_id', 'contact'];
BEGIN
	IF r.data IS NULL OR jsonb_typeof(r.data) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	FOR k IN SELECT jsonb_object_keys(r.data) LOOP
		IF k = 'email' THEN
			PERFORM machi.fail(422, 'the e-mail address cannot be changed here', 'email', 'not_changeable');
		ELSIF NOT k = ANY (allowed) THEN
			PERFORM machi.fail(400, format('unknown field %s', k), k, 'unknown_field');
		END IF;
	END LOOP;
	IF (r.data ? 'nickname' AND coalesce(r.data->>'nickname', '') = '')
	   OR (r.data ? 'name' AND coalesce(r.data->>'name', '') = '') THEN
		PERFORM machi.fail(400, 'name and nickname cannot be removed', NULL, 'required');
	END IF;
	SELECT * INTO STRICT a FROM machi.account x WHERE x.account_id = machi.current_account();
	PERFORM machi.pii_write(a.account_id, machi.pii_scope(a.tenant_id), r.data, true);
	RETURN machi.ok(machi.me_json(a.account_id));
END
$$;
COMMENT ON FUNCTION machi.rt_me_update(machi.request) IS
'PATCH /v1/me {name?, nickname?, phone?, postal_code?, address?, birthday?, gender?, occupation?, home_tenant_id?, contact?}: change own profile (null clears an optional field).';

CREATE FUNCTION machi.rt_me_delete(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	aid bigint := machi.current_account();
BEGIN
	DELETE FROM machi.account_pii p WHERE p.account_id = aid;
	UPDATE machi.account x SET state = 'deleted', password_hash = NULL, updated_at = now()
	WHERE x.account_id = aid;
	PERFORM machi.sessions_revoke(aid, NULL, 'account deleted');
	RETURN machi.ok(jsonb_build_object('status', 'deleted'), 200,
					jsonb_build_object('set-cookie', machi.session_cookie('', 0)));
END
$$;
COMMENT ON FUNCTION machi.rt_me_delete(machi.request) IS
'DELETE /v1/me: delete own account: personal data erased, sessions revoked; the account row stays (deleted) so that reports remain, anonymised.';

CREATE FUNCTION machi.rt_me_sessions(r machi.request) RETURNS machi.response
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT machi.ok(jsonb_build_object('sessions', coalesce(jsonb_agg(jsonb_build_object(
			'id', s.session_id, 'created_at', s.created_at, 'last_seen_at', s.last_seen_at,
			'expires_at', s.expires_at, 'client_addr', host(s.client_addr),
			'current', s.session_id = machi.current_session())
		ORDER BY s.session_id), '[]')))
	FROM machi.session s
	WHERE s.account_id = machi.current_account() AND s.revoked_at IS NULL
	  AND s.expires_at > machi.now();
END;
COMMENT ON FUNCTION machi.rt_me_sessions(machi.request) IS 'GET /v1/me/sessions: own live sessions, the current one marked.';

CREATE FUNCTION machi.rt_me_session_delete(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sid bigint := machi.arg_id(r.params, 'id');
BEGIN
	UPDATE machi.session s SET revoked_at = machi.now(), revoke_reason = 'revoked by owner'
	WHERE s.session_id = sid AND s.account_id = machi.current_account() AND s.revoked_at IS NULL;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such session', NULL, 'not_found');
	END IF;
	RETURN machi.ok(jsonb_build_object('status', 'revoked'));
END
$$;
COMMENT ON FUNCTION machi.rt_me_session_delete(machi.request) IS 'DELETE /v1/me/sessions/{id}: revoke one of own sessions.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('POST', '/v1/auth/login', 'machi.rt_login(machi.request)', 'public', 8192, 'Sign in with e-mail and password.'),
	('POST', '/v1/auth/logout', 'machi.rt_logout(machi.request)', 'user', 1024, 'Sign out (revoke this session).'),
	('GET', '/v1/auth/session', 'machi.rt_auth_session(machi.request)', 'user', 0, 'The current session and account (and the CSRF token of a console cookie session).'),
	('POST', '/v1/auth/register', 'machi.rt_register(machi.request)', 'public', 16384, 'Register a citizen account.'),
	('POST', '/v1/auth/verify-email', 'machi.rt_verify_email(machi.request)', 'public', 1024, 'Confirm an e-mail address with the single-use link.'),
	('POST', '/v1/auth/password/forgot', 'machi.rt_password_forgot(machi.request)', 'public', 1024, 'E-mail a password reset link.'),
	('POST', '/v1/auth/password/reset', 'machi.rt_password_reset(machi.request)', 'public', 8192, 'Set a new password with the reset link.'),
	('POST', '/v1/auth/password/change', 'machi.rt_password_change(machi.request)', 'user', 16384, 'Change own password.'),
	('GET', '/v1/me', 'machi.rt_me(machi.request)', 'user', 0, 'Own account and profile.'),
	('PATCH', '/v1/me', 'machi.rt_me_update(machi.request)', 'user', 16384, 'Change own profile.'),
	('DELETE', '/v1/me', 'machi.rt_me_delete(machi.request)', 'user', 1024, 'Delete own account.'),
	('GET', '/v1/me/sessions', 'machi.rt_me_sessions(machi.request)', 'user', 0, 'Own sessions.'),
	('DELETE', '/v1/me/sessions/{id}', 'machi.rt_me_session_delete(machi.request)', 'user', 0, 'Revoke one of own sessions.');

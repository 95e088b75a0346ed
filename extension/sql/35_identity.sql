-- machi install script, part 35: identity.  Data keys, encrypted personal
-- data with blind indexes, passwords, sessions, single-use tokens, login
-- throttling, the mail outbox, and the C primitives the routes of part 36
-- build on (crypto.c, password.c, session.c, identity.c).
--
-- Personal fields are stored only as AEAD ciphertext (bytea) sealed with the
-- data key of the account's tenant (staff) or of the citizen pool (scope 0);
-- the associated data binds each ciphertext to its table, row and column.
-- Only machi.pii_open() decrypts, after checking the caller context.

-- ---- accounts: password, lockout, verification ----

ALTER TABLE machi.account
	ADD COLUMN password_hash		text
		CHECK (password_hash ~ '^\$(argon2id\$|2[aby]\$[0-9]{2}\$)'),
	ADD COLUMN password_changed_at	timestamptz,
	ADD COLUMN failed_logins		int NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	ADD COLUMN locked_until			timestamptz,
	ADD COLUMN lock_reason			text CHECK (length(lock_reason) <= 500),
	ADD COLUMN last_login_at		timestamptz,
	ADD COLUMN email_verified_at	timestamptz;
COMMENT ON COLUMN machi.account.password_hash IS 'argon2id (libsodium crypto_pwhash_str format), or legacy bcrypt of an imported account until its first login; NULL: cannot log in.';
COMMENT ON COLUMN machi.account.failed_logins IS 'Consecutive failed logins; reset by a successful login or a lock.';
COMMENT ON COLUMN machi.account.locked_until IS 'Logins are refused until then; infinity for a lock by an operator (machi.lock_account).';
COMMENT ON COLUMN machi.account.email_verified_at IS 'When the owner proved the e-mail address (single-use link); NULL: not yet, may not post reports.';

-- ---- data keys ----

CREATE TABLE machi.data_key (
	tenant_id		int NOT NULL CHECK (tenant_id >= 0),
	key_id			int GENERATED ALWAYS AS IDENTITY UNIQUE,
	purpose			"char" NOT NULL CHECK (purpose IN ('d', 'i')),
	wrapped			bytea NOT NULL,
	master_key_id	text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	rewrapped_at	timestamptz,
	PRIMARY KEY (tenant_id, key_id),
	UNIQUE (tenant_id, purpose)
);
COMMENT ON TABLE machi.data_key IS
'Data keys, wrapped (XChaCha20-Poly1305) by the master key of machi.master_key_file: one per tenant, one for the citizen pool (tenant_id 0, purpose d) and the blind index key (tenant_id 0, purpose i). master_key_id is the public fingerprint of the wrapping key. Deleting a tenant''s row crypto-shreds its personal data. Operators only; used by C code.';

-- every backend forgets its unwrapped keys when a key row changes or goes
-- (crypto-shredding must take effect at once, not at the next restart)
CREATE FUNCTION machi.data_key_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'machi_relcache_changed'
	LANGUAGE C;
COMMENT ON FUNCTION machi.data_key_changed() IS 'Trigger: every backend drops its cached data keys after machi.data_key changes.';
CREATE TRIGGER data_key_changed AFTER UPDATE OR DELETE OR TRUNCATE ON machi.data_key
	FOR EACH STATEMENT EXECUTE FUNCTION machi.data_key_changed();

-- ---- personal data ----

CREATE TABLE machi.account_pii (
	account_id		bigint PRIMARY KEY REFERENCES machi.account ON DELETE CASCADE,
	email			bytea NOT NULL,
	email_bidx		bytea NOT NULL UNIQUE CHECK (length(email_bidx) = 32),
	phone			bytea,
	phone_bidx		bytea CHECK (length(phone_bidx) = 32),
	name			bytea,
	nickname		bytea,
	postal_code		bytea,
	address			bytea,
	birthday		bytea,
	gender			bytea,
	occupation		bytea,
	contact			bytea,
	home_tenant_id	int REFERENCES machi.tenant,
	updated_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_pii_phone_bidx ON machi.account_pii (phone_bidx);
COMMENT ON TABLE machi.account_pii IS
'Personal data of an account, every field sealed (AEAD, see crypto.c) with the data key of the account''s tenant or of the citizen pool; contact is a staff member''s department contact details. email_bidx and phone_bidx are HMAC blind indexes of the normalised values: lookups and e-mail uniqueness without plaintext. Read through machi.pii_open() only.';

-- ---- sessions and single-use tokens ----

CREATE TABLE machi.session (
	session_id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	account_id		bigint NOT NULL REFERENCES machi.account ON DELETE CASCADE,
	token_hash		bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	csrf_hash		bytea CHECK (length(csrf_hash) = 32),
	created_at		timestamptz NOT NULL,
	last_seen_at	timestamptz NOT NULL,
	expires_at		timestamptz NOT NULL,
	client_addr		inet,
	revoked_at		timestamptz,
	revoke_reason	text
);
CREATE INDEX session_account_idx ON machi.session (account_id) WHERE revoked_at IS NULL;
COMMENT ON TABLE machi.session IS
'Sign-in sessions: SHA-256 of the bearer token (and of the CSRF token of cookie sessions) only, never the token. Ends at expires_at, after the tenant''s idle timeout for staff, or when revoked (logout, password change or reset, lock, role change).';

CREATE TABLE machi.one_time_token (
	token_hash		bytea PRIMARY KEY CHECK (length(token_hash) = 32),
	account_id		bigint NOT NULL REFERENCES machi.account ON DELETE CASCADE,
	purpose			text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
	created_at		timestamptz NOT NULL,
	expires_at		timestamptz NOT NULL,
	used_at			timestamptz
);
COMMENT ON TABLE machi.one_time_token IS
'Single-use links sent by e-mail (address verification, password reset): SHA-256 of the token only, purpose, expiry, use.';

CREATE TABLE machi.address_throttle (
	client_addr		inet PRIMARY KEY,
	failures		int NOT NULL,
	window_start	timestamptz NOT NULL,
	last_failure_at	timestamptz NOT NULL
);
COMMENT ON TABLE machi.address_throttle IS
'Failed logins per client address in the current window of machi.lockout_minutes; over machi.address_failure_limit the address is answered 429.';

-- ---- outgoing mail ----

CREATE TABLE machi.outbox (
	outbox_id		bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	account_id		bigint REFERENCES machi.account ON DELETE SET NULL,
	scope			int NOT NULL CHECK (scope >= 0),
	kind			text NOT NULL,
	recipient		bytea NOT NULL,
	subject			bytea NOT NULL,
	body			bytea NOT NULL,
	message_id		text NOT NULL UNIQUE,
	state			text NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
	attempts		int NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz NOT NULL,
	claimed_by		text,
	claimed_at		timestamptz,
	last_error		bytea,
	created_at		timestamptz NOT NULL DEFAULT now(),
	sent_at			timestamptz
);
CREATE INDEX outbox_pending_idx ON machi.outbox (next_attempt_at) WHERE state = 'pending';
COMMENT ON TABLE machi.outbox IS
'E-mails to send, sealed like personal data (recipient, subject, body, last error: a reset link in clear would let any reader take over the account). The mailer drains it with machi.outbox_claim / machi.outbox_ack; a row left in state sending by a crashed mailer is not re-sent automatically (an operator decides). NOTIFY machi_outbox on insert.';

-- ---- row-level security ----

ALTER TABLE machi.data_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.data_key FORCE ROW LEVEL SECURITY;
CREATE POLICY data_key_all ON machi.data_key FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

ALTER TABLE machi.account_pii ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.account_pii FORCE ROW LEVEL SECURITY;
CREATE POLICY account_pii_select ON machi.account_pii FOR SELECT
	USING ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = account_pii.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'read'))));
CREATE POLICY account_pii_insert ON machi.account_pii FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = account_pii.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))));
CREATE POLICY account_pii_update ON machi.account_pii FOR UPDATE
	USING ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = account_pii.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))))
	WITH CHECK ((SELECT machi.is_operator())
		OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = account_pii.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))));
CREATE POLICY account_pii_delete ON machi.account_pii FOR DELETE
	USING ((SELECT machi.is_operator()) OR account_id = (SELECT machi.current_account()));

ALTER TABLE machi.session ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.session FORCE ROW LEVEL SECURITY;
-- own sessions; a tenant's account administrators may also end (not open)
-- the sessions of their tenant's staff, when they disable them or change
-- their role
CREATE POLICY session_select ON machi.session FOR SELECT
	USING ((SELECT machi.is_operator()) OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = session.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))));
CREATE POLICY session_insert ON machi.session FOR INSERT
	WITH CHECK ((SELECT machi.is_operator()) OR account_id = (SELECT machi.current_account()));
CREATE POLICY session_update ON machi.session FOR UPDATE
	USING ((SELECT machi.is_operator()) OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = session.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))))
	WITH CHECK ((SELECT machi.is_operator()) OR account_id = (SELECT machi.current_account())
		OR EXISTS (SELECT 1 FROM machi.account a
				   WHERE a.account_id = session.account_id
					 AND a.tenant_id = (SELECT machi.current_tenant())
					 AND (SELECT machi.has_permission('account', 'update'))));
CREATE POLICY session_delete ON machi.session FOR DELETE
	USING ((SELECT machi.is_operator()));

ALTER TABLE machi.one_time_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.one_time_token FORCE ROW LEVEL SECURITY;
CREATE POLICY one_time_token_all ON machi.one_time_token FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

ALTER TABLE machi.address_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.address_throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY address_throttle_all ON machi.address_throttle FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

ALTER TABLE machi.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_all ON machi.outbox FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

-- ---- C primitives (owner only; see crypto.c, password.c, session.c, identity.c) ----

CREATE FUNCTION machi.now() RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'machi_now'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.now() IS
'The clock of sessions, tokens and lockouts: transaction time plus machi.clock_offset seconds (tests move it instead of sleeping).';

CREATE FUNCTION machi.current_session() RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_current_session'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_session() IS 'Session id of the current API call; NULL without a session.';

CREATE FUNCTION machi.pii_seal(scope int, tbl text, row_id bigint, col text, plain text) RETURNS bytea
	AS 'MODULE_PATHNAME', 'machi_pii_seal'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION machi.pii_seal(int, text, bigint, text, text) IS
'Seal a personal field with the data key of scope (tenant id, or 0 for the citizen pool), bound to table, row and column. NULL in, NULL out.';

CREATE FUNCTION machi.pii_open(owner_account bigint, owner_tenant int, tbl text, row_id bigint,
							   col text, sealed bytea) RETURNS text
	AS 'MODULE_PATHNAME', 'machi_pii_open'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION machi.pii_open(bigint, int, text, bigint, text, bytea) IS
'Decrypt a personal field of owner_account (of owner_tenant, NULL for citizens) after checking the caller: the account itself, staff of that tenant who may read accounts, or the system context. 403 otherwise; an error when the ciphertext belongs to another row or column.';

CREATE FUNCTION machi.normalise_login(kind text, value text) RETURNS text
	AS 'MODULE_PATHNAME', 'machi_normalise_login'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.normalise_login(text, text) IS
'Normal form of an e-mail address (NFKC, trimmed, lower case) or phone number (NFKC, digits only) for blind indexing.';

CREATE FUNCTION machi.blind_index(kind text, value text) RETURNS bytea
	AS 'MODULE_PATHNAME', 'machi_blind_index'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION machi.blind_index(text, text) IS
'HMAC-SHA-256 blind index (separate key) of a normalised e-mail address or phone number; NULL when the value normalises to nothing.';

CREATE FUNCTION machi.password_hash(pw text) RETURNS text
	AS 'MODULE_PATHNAME', 'machi_password_hash'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_hash(text) IS
'argon2id hash of a password at the cost of machi.password_memory_kib and machi.password_time_cost.';

CREATE FUNCTION machi.password_verify(hash text, pw text, OUT ok boolean, OUT rehash boolean)
	AS 'MODULE_PATHNAME', 'machi_password_verify'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_verify(text, text) IS
'Whether pw matches an argon2id or legacy bcrypt hash, and whether the hash should be replaced (legacy format, or another cost than the current one).';

CREATE FUNCTION machi.password_dummy_verify(pw text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'machi_password_dummy_verify'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_dummy_verify(text) IS
'Verify pw against a dummy hash at the current cost (an unknown login id costs as much as a wrong password); always false.';

CREATE FUNCTION machi.dummy_verifications() RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_dummy_verifications'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.dummy_verifications() IS
'How many dummy password verifications this backend has done (unknown login ids); for tests.';

CREATE FUNCTION machi.password_check(pw text, login text, staff boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_password_check'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_check(text, text, boolean) IS
'The password rules: length (machi.citizen_password_min_length / machi.staff_password_min_length up to 1024 characters), not containing the login id, zxcvbn score at least machi.password_min_score. Raises a 422 for field password naming the rule.';

CREATE FUNCTION machi.password_strength(pw text, login text) RETURNS int
	AS 'MODULE_PATHNAME', 'machi_password_strength'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_strength(text, text) IS
'zxcvbn score 0-4 of a password (libzxcvbn entropy bucketed like zxcvbn''s guesses_log10 thresholds 3, 6, 8, 10), the login id as a user dictionary word.';

CREATE FUNCTION machi.password_generate() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_password_generate'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION machi.password_generate() IS
'A random initial password (20 characters from the CSPRNG, unambiguous letters and digits).';

CREATE FUNCTION machi.token_new() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_token_new'
	LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION machi.token_new() IS 'A new opaque 256-bit token, base64url (43 characters). Store only machi.token_hash() of it.';

CREATE FUNCTION machi.token_hash(token text) RETURNS bytea
	AS 'MODULE_PATHNAME', 'machi_token_hash'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.token_hash(text) IS 'SHA-256 of a token, the only form in which tokens are stored.';

CREATE FUNCTION machi.csrf_token(token text) RETURNS text
	AS 'MODULE_PATHNAME', 'machi_csrf_token'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.csrf_token(text) IS
'The CSRF token of a console (cookie) session opened with this session token: HMAC-SHA-256 keyed with the token, base64url (43 characters). Derived so that GET /v1/auth/session can give it again after a page reload; it reveals nothing of the session token. Store only machi.token_hash() of it.';

CREATE FUNCTION machi.current_csrf_token() RETURNS text
	AS 'MODULE_PATHNAME', 'machi_current_csrf_token'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION machi.current_csrf_token() IS
'The CSRF token of the console session whose cookie authenticated the current call of GET /v1/auth/session (derived only for that route); NULL for other routes, bearer tokens, anonymous callers and outside api.handle.';

CREATE FUNCTION machi.identity_event(type text, detail jsonb) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_identity_event'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION machi.identity_event(text, jsonb) IS
'Record a security event of the identity subsystem (reveal, lock, unlock, failed login) in the server log and the audit trail.';

-- ---- personal data helpers ----

CREATE FUNCTION machi.pii_scope(tenant_id int) RETURNS int
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN coalesce(tenant_id, 0);
COMMENT ON FUNCTION machi.pii_scope(int) IS 'Data key scope of an account: its tenant, or 0 (citizen pool).';

CREATE FUNCTION machi.account_profile(aid bigint) RETURNS jsonb
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object(
		'email', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email),
		'name', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'name', p.name),
		'nickname', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'nickname', p.nickname),
		'phone', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'phone', p.phone),
		'postal_code', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'postal_code', p.postal_code),
		'address', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'address', p.address),
		'birthday', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'birthday', p.birthday),
		'gender', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'gender', p.gender),
		'occupation', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'occupation', p.occupation),
		'contact', machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'contact', p.contact),
		'home_tenant_id', p.home_tenant_id)
	FROM machi.account a JOIN machi.account_pii p ON p.account_id = a.account_id
	WHERE a.account_id = aid;
END;
COMMENT ON FUNCTION machi.account_profile(bigint) IS
'The decrypted personal data of an account as JSON (NULL when it has none or the caller cannot see it); machi.pii_open checks the caller field by field.';

CREATE FUNCTION machi.account_email(aid bigint) RETURNS text
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT machi.pii_open(a.account_id, a.tenant_id, 'account_pii', p.account_id, 'email', p.email)
	FROM machi.account a JOIN machi.account_pii p ON p.account_id = a.account_id
	WHERE a.account_id = aid;
END;
COMMENT ON FUNCTION machi.account_email(bigint) IS 'The decrypted e-mail address of an account (caller checked by machi.pii_open).';

CREATE FUNCTION machi.check_email(email text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF email IS NULL OR length(email) > 254 OR email !~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$' THEN
		PERFORM machi.fail(400, 'email must be an e-mail address', 'email', 'invalid');
	END IF;
	RETURN email;
END
$$;
COMMENT ON FUNCTION machi.check_email(text) IS 'Input validation: a plausible e-mail address, else a 400 for field email.';

CREATE FUNCTION machi.pii_write(aid bigint, scope int, p jsonb, only_given boolean) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	f text;
	phone_digits text;
	home int;
BEGIN
	IF p ? 'phone' AND p->>'phone' IS NOT NULL THEN
		phone_digits := machi.normalise_login('phone', p->>'phone');
		IF length(phone_digits) NOT BETWEEN 6 AND 15 THEN
			PERFORM machi.fail(400, 'phone must be a telephone number of 6 to 15 digits', 'phone', 'invalid');
		END IF;
	END IF;
	IF p ? 'birthday' AND p->>'birthday' IS NOT NULL THEN
		IF p->>'birthday' !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
			PERFORM machi.fail(400, 'birthday must be a date (YYYY-MM-DD)', 'birthday', 'invalid');
		END IF;
		BEGIN
			PERFORM (p->>'birthday')::date;
		EXCEPTION WHEN OTHERS THEN
			PERFORM machi.fail(400, 'birthday must be a date (YYYY-MM-DD)', 'birthday', 'invalid');
		END;
	END IF;
	IF p ? 'home_tenant_id' AND p->>'home_tenant_id' IS NOT NULL THEN
		IF p->>'home_tenant_id' !~ '^[0-9]{1,9}$'
		   OR NOT EXISTS (SELECT 1 FROM machi.tenant t WHERE t.tenant_id = (p->>'home_tenant_id')::int) THEN
			PERFORM machi.fail(422, 'home_tenant_id is not a participating municipality', 'home_tenant_id', 'invalid');
		END IF;
		home := (p->>'home_tenant_id')::int;
	END IF;
	FOREACH f IN ARRAY ARRAY['name', 'nickname', 'postal_code', 'address', 'gender', 'occupation', 'contact'] LOOP
		IF p ? f AND p->f IS NOT NULL AND jsonb_typeof(p->f) NOT IN ('string', 'null') THEN
			PERFORM machi.fail(400, format('%s must be a string', f), f, 'invalid');
		END IF;
		IF length(p->>f) > 500 THEN
			PERFORM machi.fail(400, format('%s must be at most 500 characters', f), f, 'too_long');
		END IF;
	END LOOP;

	IF NOT only_given THEN
		INSERT INTO machi.account_pii (account_id, email, email_bidx)
		VALUES (aid, machi.pii_seal(scope, 'account_pii', aid, 'email', p->>'email'),
				machi.blind_index('email', p->>'email'));
	END IF;
	UPDATE machi.account_pii x SET
		phone = CASE WHEN p ? 'phone' THEN machi.pii_seal(scope, 'account_pii', aid, 'phone', p->>'phone') ELSE x.phone END,
		phone_bidx = CASE WHEN p ? 'phone' THEN machi.blind_index('phone', p->>'phone') ELSE x.phone_bidx END,
		name = CASE WHEN p ? 'name' THEN machi.pii_seal(scope, 'account_pii', aid, 'name', p->>'name') ELSE x.name END,
		nickname = CASE WHEN p ? 'nickname' THEN machi.pii_seal(scope, 'account_pii', aid, 'nickname', p->>'nickname') ELSE x.nickname END,
		postal_code = CASE WHEN p ? 'postal_code' THEN machi.pii_seal(scope, 'account_pii', aid, 'postal_code', p->>'postal_code') ELSE x.postal_code END,
		address = CASE WHEN p ? 'address' THEN machi.pii_seal(scope, 'account_pii', aid, 'address', p->>'address') ELSE x.address END,
		birthday = CASE WHEN p ? 'birthday' THEN machi.pii_seal(scope, 'account_pii', aid, 'birthday', p->>'birthday') ELSE x.birthday END,
		gender = CASE WHEN p ? 'gender' THEN machi.pii_seal(scope, 'account_pii', aid, 'gender', p->>'gender') ELSE x.gender END,
		occupation = CASE WHEN p ? 'occupation' THEN machi.pii_seal(scope, 'account_pii', aid, 'occupation', p->>'occupation') ELSE x.occupation END,
		contact = CASE WHEN p ? 'contact' THEN machi.pii_seal(scope, 'account_pii', aid, 'contact', p->>'contact') ELSE x.contact END,
		home_tenant_id = CASE WHEN p ? 'home_tenant_id' THEN home ELSE x.home_tenant_id END,
		updated_at = now()
	WHERE x.account_id = aid;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such resource', NULL, 'not_found');
	END IF;
END
$$;
COMMENT ON FUNCTION machi.pii_write(bigint, int, jsonb, boolean) IS
'Seal and store personal fields of an account from a JSON object (email, name, nickname, phone, postal_code, address, birthday, gender, occupation, contact, home_tenant_id). only_given: update the keys present (null clears); otherwise create the row (email required).';

-- ---- outbox ----

CREATE FUNCTION machi.outbox_put(aid bigint, scope int, kind text, recipient text,
								 subject text, body text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	id bigint := nextval(pg_get_serial_sequence('machi.outbox', 'outbox_id'));
BEGIN
	INSERT INTO machi.outbox (outbox_id, account_id, scope, kind, recipient, subject, body,
							  message_id, next_attempt_at)
	VALUES (id, aid, scope, kind,
			machi.pii_seal(scope, 'outbox', id, 'recipient', recipient),
			machi.pii_seal(scope, 'outbox', id, 'subject', subject),
			machi.pii_seal(scope, 'outbox', id, 'body', body),
			format('<%s.%s@machi.invalid>', id, left(machi.token_new(), 16)),
			machi.now());
	RETURN id;
END
$$;
COMMENT ON FUNCTION machi.outbox_put(bigint, int, text, text, text, text) IS
'Queue an e-mail (sealed with the data key of scope) for the mailer; the insert notifies channel machi_outbox.';

CREATE FUNCTION machi.outbox_notify() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	PERFORM pg_notify('machi_outbox', '');
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION machi.outbox_notify() IS 'Trigger: wake the mailer (NOTIFY machi_outbox) when mail is queued.';
CREATE TRIGGER outbox_notify AFTER INSERT ON machi.outbox
	FOR EACH STATEMENT EXECUTE FUNCTION machi.outbox_notify();

CREATE FUNCTION machi.outbox_claim__impl(worker text, max_count int)
	RETURNS TABLE (id bigint, recipient text, subject text, body text, message_id text)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF worker IS NULL OR length(worker) NOT BETWEEN 1 AND 200 THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'worker must name the mailer (1 to 200 characters)';
	END IF;
	IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 1000 THEN
		RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_count must be between 1 and 1000';
	END IF;
	RETURN QUERY
	WITH c AS (
		SELECT o.outbox_id FROM machi.outbox o
		WHERE o.state = 'pending' AND o.next_attempt_at <= machi.now()
		ORDER BY o.next_attempt_at, o.outbox_id
		LIMIT max_count
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE machi.outbox o SET state = 'sending', claimed_by = worker,
			claimed_at = machi.now(), attempts = o.attempts + 1
		FROM c WHERE o.outbox_id = c.outbox_id
		RETURNING o.*
	)
	SELECT u.outbox_id,
		   machi.pii_open(u.account_id, NULL, 'outbox', u.outbox_id, 'recipient', u.recipient),
		   machi.pii_open(u.account_id, NULL, 'outbox', u.outbox_id, 'subject', u.subject),
		   machi.pii_open(u.account_id, NULL, 'outbox', u.outbox_id, 'body', u.body),
		   u.message_id
	FROM u ORDER BY u.outbox_id;
END
$$;
CREATE FUNCTION machi.outbox_claim(worker text, max_count int)
	RETURNS TABLE (id bigint, recipient text, subject text, body text, message_id text)
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.outbox_claim__impl(text, int) IS 'Implementation of machi.outbox_claim (owner only).';
COMMENT ON FUNCTION machi.outbox_claim(text, int) IS
'machi_mailer: take up to max_count due messages (FOR UPDATE SKIP LOCKED, so several mailers never take the same one), mark them sending, and return them decrypted. Acknowledge each with machi.outbox_ack. Messages left sending by a crashed mailer are never re-sent automatically.';

CREATE FUNCTION machi.outbox_ack__impl(id bigint, sent boolean, error text) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o machi.outbox;
BEGIN
	SELECT * INTO o FROM machi.outbox x WHERE x.outbox_id = outbox_ack__impl.id FOR UPDATE;
	IF NOT FOUND OR o.state <> 'sending' THEN
		RAISE EXCEPTION USING ERRCODE = '55000',
			MESSAGE = format('outbox message %s is not being sent', outbox_ack__impl.id),
			HINT = 'Only messages returned by machi.outbox_claim can be acknowledged, once.';
	END IF;
	IF sent THEN
		UPDATE machi.outbox x SET state = 'sent', sent_at = machi.now(), last_error = NULL
		WHERE x.outbox_id = o.outbox_id;
	ELSE
		UPDATE machi.outbox x SET
			state = CASE WHEN o.attempts >= current_setting('machi.outbox_max_attempts')::int
						 THEN 'failed' ELSE 'pending' END,
			next_attempt_at = machi.now() + least(interval '1 minute' * power(2, o.attempts - 1),
												  interval '6 hours'),
			last_error = machi.pii_seal(o.scope, 'outbox', o.outbox_id, 'last_error',
										left(coalesce(error, 'unknown error'), 2000))
		WHERE x.outbox_id = o.outbox_id;
	END IF;
END
$$;
CREATE FUNCTION machi.outbox_ack(id bigint, sent boolean, error text) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.outbox_ack__impl(bigint, boolean, text) IS 'Implementation of machi.outbox_ack (owner only).';
COMMENT ON FUNCTION machi.outbox_ack(bigint, boolean, text) IS
'machi_mailer: report the outcome of a claimed message. sent: done. Not sent: retried after 1, 2, 4, ... minutes (at most 6 hours) until machi.outbox_max_attempts, then failed; error is kept sealed.';

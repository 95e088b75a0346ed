/*-------------------------------------------------------------------------
 *
 * session.c
 *	  Sessions: opaque 256-bit tokens of which only the SHA-256 is stored,
 *	  the clock of the identity rules, and the lookup that turns a
 *	  presented token into an account for auth.c.
 *
 * A token is 32 bytes from the CSPRNG, base64url-encoded without padding
 * (43 characters).  machi.session keeps its SHA-256 only: reading the table
 * (or a backup of it) does not give anybody a usable token.  Browser
 * consoles get the token in an __Host- cookie and a second, CSRF token in
 * the login response, of which the session also keeps only the SHA-256;
 * state-changing requests authenticated by the cookie must echo it in the
 * X-CSRF-Token header.  The CSRF token is derived from the session token
 * (MachiCsrfToken), so that a reloaded console page, which lost it, can ask
 * for it again with the cookie alone (GET /v1/auth/session).
 *
 * Lifetimes: every session has an absolute expiry (machi.*_session_lifetime)
 * and staff sessions also end after the tenant's staff_idle_timeout without
 * a request.  Every authenticated request moves last_seen_at.  All times
 * come from MachiNow(), the transaction time moved by machi.clock_offset,
 * so tests can step over a timeout without sleeping.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sodium.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "context.h"
#include "machi.h"
#include "session.h"

/*
 * Plans of the per-request statements, prepared once per backend and kept
 * (SPI_keepplan): authentication runs on every API call, and planning these
 * statements with their row-level security policies each time would cost
 * more than running them.  Plan invalidation is handled by the plan cache.
 */
static SPIPlanPtr lookup_plan = NULL;
static SPIPlanPtr refresh_plan = NULL;

/*
 * MachiNow: the clock of sessions, tokens and lockouts: the transaction's
 * start time plus machi.clock_offset seconds.
 */
TimestampTz
MachiNow(void)
{
	return GetCurrentTransactionStartTimestamp() +
		(TimestampTz) machi_clock_offset * USECS_PER_SEC;
}

/*
 * MachiTokenNew: a new random token, base64url without padding, palloc'd.
 */
char *
MachiTokenNew(void)
{
	unsigned char raw[MACHI_TOKEN_BYTES];
	char	   *out = palloc(MACHI_TOKEN_CHARS + 1);

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, MACHI_TOKEN_CHARS + 1, raw, sizeof(raw),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return out;
}

/*
 * MachiTokenHash: SHA-256 of a token, the only form in which tokens are
 * stored.
 */
void
MachiTokenHash(const char *token, size_t len, uint8 out[32])
{
	crypto_hash_sha256(out, (const unsigned char *) token, len);
}

/*
 * MachiCsrfToken: the CSRF token of a cookie session, derived from its
 * session token: HMAC-SHA-256 keyed with the token over a fixed label,
 * base64url without padding (43 characters), into out.
 *
 * Why derived rather than a second random token: the console keeps the CSRF
 * token in memory only, so a page reload loses it.  Derived, the server can
 * give it again to whoever presents the cookie (which only the browser
 * sends, and only to this origin: SameSite=Strict), while a page of another
 * origin can neither read the cookie (HttpOnly) nor the answer (same-origin
 * policy).  The HMAC is one-way: the CSRF token, which page scripts see,
 * gives nothing about the session token, which they never see.  It is the
 * same for every tab of one session and needs nothing stored beyond the
 * hash the session kept before.
 */
void
MachiCsrfToken(const char *token, size_t len, char out[MACHI_TOKEN_CHARS + 1])
{
	static const char label[] = "machi-csrf-1";
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	StaticAssertStmt(crypto_auth_hmacsha256_BYTES == MACHI_TOKEN_BYTES,
					 "a CSRF token is as long as a session token");
	StaticAssertStmt(sizeof(((MachiContext *) 0)->csrf) == MACHI_TOKEN_CHARS + 1,
					 "MachiContext.csrf holds one token");
	crypto_auth_hmacsha256_init(&st, (const unsigned char *) token, len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) label, sizeof(label) - 1);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(out, MACHI_TOKEN_CHARS + 1, mac, sizeof(mac),
					  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(mac, sizeof(mac));
}

/*
 * TokenWellFormed: 43 base64url characters; anything else is refused
 * without a table lookup.
 */
static bool
TokenWellFormed(const char *token)
{
	size_t		n = strlen(token);

	if (n != MACHI_TOKEN_CHARS)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * MachiSessionLookup: find the live session of a token and refresh its
 * last-seen time.  via_cookie and state_changing decide whether csrf must
 * match the session's CSRF token.  Runs its table access in the system
 * context and puts the caller's context back; the caller (auth.c) then sets
 * the account's context.  Caller must be in a transaction.
 */
MachiSessionStatus
MachiSessionLookup(const char *token, bool via_cookie, const char *csrf,
				   bool state_changing, MachiSessionInfo *info)
{
	MachiContext saved;
	uint8		hash[32];
	bytea	   *h;
	Oid			types[2] = {BYTEAOID, TIMESTAMPTZOID};
	Datum		vals[2];
	int			ret;
	bool		isnull;
	MachiSessionStatus rc = MACHI_SESSION_OK;

	memset(info, 0, sizeof(*info));
	if (!TokenWellFormed(token))
		return MACHI_SESSION_INVALID;
	MachiTokenHash(token, strlen(token), hash);
	h = palloc(VARHDRSZ + 32);
	SET_VARSIZE(h, VARHDRSZ + 32);
	memcpy(VARDATA(h), hash, 32);
	vals[0] = PointerGetDatum(h);
	vals[1] = TimestampTzGetDatum(MachiNow());

	MachiContextSave(&saved);
	MachiContextSetSystem("session lookup");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute_plan(MachiKeptPlan(&lookup_plan,
									"SELECT s.session_id, s.account_id, s.expires_at <= $2, "
									"  a.kind = 'staff' AND s.last_seen_at + t.staff_idle_timeout <= $2, "
									"  (extract(epoch FROM t.staff_idle_timeout) / 60)::int, s.csrf_hash "
									"FROM machi.session s "
									"JOIN machi.account a ON a.account_id = s.account_id "
									"LEFT JOIN machi.tenant t ON t.tenant_id = a.tenant_id "
									"WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND a.state = 'active'",
									2, types),
						   vals, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "session lookup failed: %d", ret);
	if (SPI_processed != 1)
		rc = MACHI_SESSION_INVALID;
	else
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d;

		info->session_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		info->account_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 5, &isnull);
		info->idle_minutes = isnull ? 0 : DatumGetInt32(d);
		(void) SPI_getbinval(tup, desc, 6, &isnull);
		info->cookie_session = !isnull;
		if (DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)))
			rc = MACHI_SESSION_EXPIRED;
		else if ((d = SPI_getbinval(tup, desc, 4, &isnull)), !isnull && DatumGetBool(d))
			rc = MACHI_SESSION_IDLE;
		else if (via_cookie && state_changing)
		{
			bytea	   *stored;
			uint8		given[32];

			d = SPI_getbinval(tup, desc, 6, &isnull);
			if (isnull || csrf == NULL || csrf[0] == '\0')
				rc = MACHI_SESSION_CSRF;
			else
			{
				stored = DatumGetByteaPP(d);
				MachiTokenHash(csrf, strlen(csrf), given);
				if (VARSIZE_ANY_EXHDR(stored) != 32 ||
					sodium_memcmp(VARDATA_ANY(stored), given, 32) != 0)
					rc = MACHI_SESSION_CSRF;
			}
		}
		if (rc == MACHI_SESSION_OK)
		{
			Oid			utypes[2] = {INT8OID, TIMESTAMPTZOID};
			Datum		uvals[2] = {Int64GetDatum(info->session_id), vals[1]};

			ret = SPI_execute_plan(MachiKeptPlan(&refresh_plan,
											"UPDATE machi.session SET last_seen_at = $2 "
											"WHERE session_id = $1",
											2, utypes),
								   uvals, NULL, false, 0);
			if (ret != SPI_OK_UPDATE)
				elog(ERROR, "session refresh failed: %d", ret);
		}
	}
	SPI_finish();
	MachiContextRestore(&saved);
	return rc;
}

/*
 * MachiSessionTouch: move a session's last-seen time to now.  For requests
 * whose route failed: the subtransaction that ran it (and the refresh done
 * by MachiSessionLookup) was rolled back, but the caller was active all the
 * same.  Runs in the system context and puts the caller's back.
 */
void
MachiSessionTouch(int64 session_id)
{
	MachiContext saved;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		vals[2] = {Int64GetDatum(session_id), TimestampTzGetDatum(MachiNow())};
	int			ret;

	MachiContextSave(&saved);
	MachiContextSetSystem("session refresh");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute_with_args("UPDATE machi.session SET last_seen_at = $2 "
								"WHERE session_id = $1 AND revoked_at IS NULL",
								2, types, vals, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "session refresh failed: %d", ret);
	SPI_finish();
	MachiContextRestore(&saved);
}

/* ---- SQL-callable functions ---- */

PG_FUNCTION_INFO_V1(machi_now);
PG_FUNCTION_INFO_V1(machi_token_new);
PG_FUNCTION_INFO_V1(machi_token_hash);
PG_FUNCTION_INFO_V1(machi_current_session);
PG_FUNCTION_INFO_V1(machi_csrf_token);
PG_FUNCTION_INFO_V1(machi_current_csrf_token);

/*
 * machi.now() -> timestamptz: the identity clock (see MachiNow).
 */
Datum
machi_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(MachiNow());
}

/*
 * machi.token_new() -> text: a new opaque token (session, e-mail
 * link).  Only its hash may be stored.
 */
Datum
machi_token_new(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MachiTokenNew()));
}

/*
 * machi.token_hash(token text) -> bytea: SHA-256 of a token.
 */
Datum
machi_token_hash(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bytea	   *out = palloc(VARHDRSZ + 32);

	SET_VARSIZE(out, VARHDRSZ + 32);
	MachiTokenHash(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), (uint8 *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}

/*
 * machi.current_session() -> bigint: the session of the current API call,
 * NULL when the caller did not present one.
 */
Datum
machi_current_session(PG_FUNCTION_ARGS)
{
	const MachiContext *c = MachiContextGet();

	if (!c->valid || c->session_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(c->session_id);
}

/*
 * machi.csrf_token(token text) -> text: the CSRF token of a cookie session
 * opened with this session token (see MachiCsrfToken).
 */
Datum
machi_csrf_token(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		out[MACHI_TOKEN_CHARS + 1];

	MachiCsrfToken(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * machi.current_csrf_token() -> text: the CSRF token of the session that
 * authenticated the current API call by its cookie; NULL when the call came
 * without the cookie (bearer token, anonymous, psql) or its session is not
 * a console session.
 */
Datum
machi_current_csrf_token(PG_FUNCTION_ARGS)
{
	const MachiContext *c = MachiContextGet();

	if (!c->valid || c->session_id == 0 || c->csrf[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(c->csrf));
}

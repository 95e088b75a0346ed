/*-------------------------------------------------------------------------
 *
 * auth.c
 *	  Who is calling api.handle(): credentials to caller context, and the
 *	  route's access rule (public, user, citizen, staff).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"

#include "auth.h"
#include "context.h"
#include "machi.h"
#include "session.h"

/* routes a caller who must change their password may still use */
#define ROUTE_PASSWORD_CHANGE	"/v1/auth/password/change"
#define ROUTE_LOGOUT			"/v1/auth/logout"
#define ROUTE_SESSION			"/v1/auth/session"

/*
 * CookieValue: the value of the named cookie in a Cookie header, or NULL.
 */
static char *
CookieValue(const char *header, const char *name)
{
	size_t		n = strlen(name);
	const char *p = header;

	while (p && *p)
	{
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=')
		{
			const char *v = p + n + 1;
			const char *end = strchr(v, ';');

			return end ? pnstrdup(v, end - v) : pstrdup(v);
		}
		p = strchr(p, ';');
	}
	return NULL;
}

/*
 * SessionThrow: the boundary where session lookup results become the 401
 * and 403 answers a client can act on.
 */
static void
SessionThrow(MachiSessionStatus rc, const MachiSessionInfo *info)
{
	switch (rc)
	{
		case MACHI_SESSION_OK:
			return;
		case MACHI_SESSION_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNAUTHORIZED),
					 errmsg("invalid or revoked session"),
					 errdetail("Sign in again."),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "invalid_session")));
			break;
		case MACHI_SESSION_EXPIRED:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNAUTHORIZED),
					 errmsg("your session has expired"),
					 errdetail("Sign in again."),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "session_expired")));
			break;
		case MACHI_SESSION_IDLE:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNAUTHORIZED),
					 errmsg("you were logged out after %d minutes of inactivity", info->idle_minutes),
					 errdetail("idle_timeout_minutes=%d", info->idle_minutes),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "session_idle_timeout")));
			break;
		case MACHI_SESSION_CSRF:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_FORBIDDEN),
					 errmsg("missing or wrong CSRF token"),
					 errdetail("Requests that change something and use the session cookie must send the X-CSRF-Token header given at login."),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "csrf_failed")));
			break;
	}
}

/*
 * AuthenticateToken: when the request carries credentials (Authorization:
 * Bearer, or the session cookie), make its account the caller.  Credentials
 * that do not name a live session are refused even on public routes, so a
 * client learns at once that it was signed out.
 */
static void
AuthenticateToken(MachiHttpRequest *hr)
{
	char	   *authz = MachiHeaderValue(hr->headers, "authorization");
	char	   *token = NULL;
	bool		via_cookie = false;
	MachiSessionInfo info;
	MachiSessionStatus rc;
	bool		state_changing;
	MachiContext c;

	if (authz)
	{
		if (pg_strncasecmp(authz, "Bearer ", 7) == 0)
			token = authz + 7;
		else
			token = "";
	}
	else
	{
		char	   *cookie = MachiHeaderValue(hr->headers, "cookie");

		if (cookie)
			token = CookieValue(cookie, MACHI_SESSION_COOKIE);
		via_cookie = token != NULL;
	}
	if (token == NULL)
		return;
	state_changing = strcmp(hr->method, "GET") != 0 && strcmp(hr->method, "HEAD") != 0;
	rc = MachiSessionLookup(token, via_cookie,
							MachiHeaderValue(hr->headers, "x-csrf-token"),
							state_changing, &info);
	SessionThrow(rc, &info);
	MachiContextSetAccount(info.account_id, hr->client_addr_text, hr->request_id);
	MachiContextSave(&c);
	c.session_id = info.session_id;
	/* GET /v1/auth/session gives it back to a reloaded console page */
	if (via_cookie && info.cookie_session && hr->route != NULL &&
		strcmp(hr->route, ROUTE_SESSION) == 0)
		MachiCsrfToken(token, strlen(token), c.csrf);
	MachiContextRestore(&c);
}

/* the plan of TenantReadOnly's query, kept per backend (MachiKeptPlan) */
static SPIPlanPtr read_only_plan = NULL;

/*
 * TenantReadOnly: whether the tenant's contract has ended (terminated or
 * erased): its staff may still read and export, not change anything.
 */
static bool
TenantReadOnly(int32 tenant_id)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(tenant_id)};
	bool		isnull;
	bool		result = false;
	int			ret;

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute_plan(MachiKeptPlan(&read_only_plan, "SELECT machi.tenant_read_only($1)", 1, argtypes),
						   values, NULL, true, 1);
	/* fail closed: an unknown answer must not let a write through */
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "contract check of tenant %d failed: %d", tenant_id, ret);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		result = !isnull && DatumGetBool(d);
	}
	SPI_finish();
	return result;
}

/*
 * MachiAuthenticate: set the caller context for this request and enforce
 * the route's access rule.  A bearer token or session cookie makes its
 * account the caller (session.c); a DBA who called machi.act_as() earlier in
 * the transaction is that account for requests that carry no credentials.
 * An account that must change its password may only change it, log out, or
 * read its session (GET /v1/auth/session, so that a reloaded console can
 * still show the forced change).
 *
 * route_auth is "public" (anybody), "user" (any signed-in account),
 * "citizen" or "staff".
 */
void
MachiAuthenticate(MachiHttpRequest *hr, const char *route_auth)
{
	const MachiContext *ctx;

	AuthenticateToken(hr);
	if (MachiContextGet()->account_id == 0 &&
		hr->outer && hr->outer->valid && hr->outer->act_as)
	{
		MachiContext c;

		memcpy(&c, hr->outer, sizeof(c));
		strlcpy(c.request_id, hr->request_id, sizeof(c.request_id));
		MachiContextRestore(&c);
	}
	ctx = MachiContextGet();
	memcpy(&hr->authed, ctx, sizeof(MachiContext));
	hr->have_authed = true;

	if (ctx->must_change_password && ctx->session_id != 0 &&
		strcmp(hr->route, ROUTE_PASSWORD_CHANGE) != 0 && strcmp(hr->route, ROUTE_LOGOUT) != 0 &&
		!(strcmp(hr->route, ROUTE_SESSION) == 0 && strcmp(hr->method, "GET") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("you must change your password first"),
				 errdetail("Use POST %s.", ROUTE_PASSWORD_CHANGE),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_change_required")));
	if (strcmp(route_auth, "public") == 0)
		return;
	if (ctx->account_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_UNAUTHORIZED),
				 errmsg("authentication required"),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "authentication_required")));
	if (strcmp(route_auth, "citizen") == 0 && strcmp(ctx->role, "citizen") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("this resource is for citizens' accounts")));
	if (strcmp(route_auth, "staff") == 0 && ctx->tenant_id == 0 &&
		strcmp(ctx->role, "system_admin") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("this resource is for municipal staff")));
	if (strcmp(route_auth, "staff") == 0 && ctx->tenant_id != 0 &&
		strcmp(hr->method, "GET") != 0 && TenantReadOnly(ctx->tenant_id))
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("the contract of your municipality has ended: data can be read and exported, not changed"),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "contract_ended")));
}

/*
 * MachiAuthRestoreAfterError: the route failed and its subtransaction was
 * rolled back, which wiped the context (fail closed).  Put back the identity
 * that authentication had verified, so that the error response and the audit
 * trail still know who the caller was, and refresh the session's last-seen
 * time that the rollback undid.
 */
void
MachiAuthRestoreAfterError(MachiHttpRequest *hr)
{
	if (hr->have_authed)
	{
		MachiContext c;

		memcpy(&c, &hr->authed, sizeof(c));
		c.nest_level = GetCurrentTransactionNestLevel();
		/* a failed request is activity too: keep the session's last-seen */
		if (c.session_id != 0)
			MachiSessionTouch(c.session_id);
		MachiContextRestore(&c);
	}
	else
		MachiContextSetAnonymous(hr->client_addr_text, hr->request_id);
}

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

#include "auth.h"
#include "context.h"
#include "machi.h"

/*
 * MachiAuthenticate: set the caller context for this request and enforce
 * the route's access rule.  A DBA who called machi.act_as() earlier in the
 * transaction is that account for requests that carry no credentials.
 *
 * route_auth is "public" (anybody), "user" (any signed-in account),
 * "citizen" or "staff".
 */
void
MachiAuthenticate(MachiHttpRequest *hr, const char *route_auth)
{
	const MachiContext *ctx;

	if (hr->outer && hr->outer->valid && hr->outer->act_as)
	{
		MachiContext c;

		memcpy(&c, hr->outer, sizeof(c));
		strlcpy(c.request_id, hr->request_id, sizeof(c.request_id));
		MachiContextRestore(&c);
	}
	ctx = MachiContextGet();
	memcpy(&hr->authed, ctx, sizeof(MachiContext));
	hr->have_authed = true;

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
}

/*
 * MachiAuthRestoreAfterError: the route failed and its subtransaction was
 * rolled back, which wiped the context (fail closed).  Put back the identity
 * that authentication had verified, so that the error response and the audit
 * trail still know who the caller was.
 */
void
MachiAuthRestoreAfterError(MachiHttpRequest *hr)
{
	if (hr->have_authed)
	{
		MachiContext c;

		memcpy(&c, &hr->authed, sizeof(c));
		c.nest_level = GetCurrentTransactionNestLevel();
		MachiContextRestore(&c);
	}
	else
		MachiContextSetAnonymous(hr->client_addr_text, hr->request_id);
}

/*-------------------------------------------------------------------------
 *
 * identity.c
 *	  The gate in front of decryption, identity events (reveals, locks,
 *	  failed logins) for the audit trail, and the dispatcher that runs
 *	  trusted code in the system context.
 *
 * Personal data is decrypted only by machi.pii_open(), which first checks
 * the caller context: the account itself, staff of the account's tenant
 * whose role may read accounts, or the system context (admin functions,
 * which are machi_admin only; the mailer functions, machi_mailer only; and
 * the public authentication routes, which must find an account by its blind
 * index before anybody is signed in).  Everything else gets a 403.
 *
 * machi_trusted_dispatch is the C body of those trusted functions: like the
 * admin dispatcher (admin.c) it runs machi.<name>__impl with the same
 * arguments in the system context, but it is never granted to machi_admin:
 * its callers are api.handle (routes) and the machi_mailer role.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "audit.h"
#include "context.h"
#include "crypto.h"
#include "identity.h"
#include "machi.h"

/*
 * MachiMayReadPersonalData: whether the current caller may see the personal
 * data of owner_account (of tenant owner_tenant, 0 for citizens).
 */
bool
MachiMayReadPersonalData(int64 owner_account, int32 owner_tenant)
{
	const MachiContext *c = MachiContextGet();

	if (!c->valid)
		return false;
	if (c->account_id == 0 && strcmp(c->role, MACHI_ROLE_SYSTEM_ADMIN) == 0)
		return true;
	if (c->account_id != 0 && c->account_id == owner_account)
		return true;
	if (owner_tenant != 0 && c->tenant_id == owner_tenant &&
		MachiContextHasPermission("account", false))
		return true;
	return false;
}

/*
 * MachiIdentityEvent: record a security event of the identity subsystem
 * (personal data disclosed, account locked or unlocked, failed login).  The
 * one place where such events leave the subsystem: a LOG line for the
 * server log and an event in the audit trail (audit.c).
 */
void
MachiIdentityEvent(const char *type, Jsonb *detail)
{
	const MachiContext *c = MachiContextGet();

	ereport(LOG,
			(errmsg("machi: %s by %s (account %lld, %s): %s", type,
					GetUserNameFromId(GetSessionUserId(), false),
					(long long) c->account_id, c->request_id,
					detail ? JsonbToCString(NULL, &detail->root, VARSIZE(detail)) : "{}")));
	MachiAuditEvent(type, detail);
}

/*
 * machi_public_base_url_check: GUC check hook; links in e-mails must be
 * http(s) addresses without spaces or quotes.
 */
bool
machi_public_base_url_check(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;

	if (s == NULL)
		return true;
	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
	{
		GUC_check_errdetail("machi.public_base_url must start with https:// or http://.");
		return false;
	}
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '\'' || *s == '<' || *s == '>')
		{
			GUC_check_errdetail("machi.public_base_url must not contain spaces, quotes or angle brackets.");
			return false;
		}
	return true;
}

PG_FUNCTION_INFO_V1(machi_trusted_dispatch);
PG_FUNCTION_INFO_V1(machi_pii_open);
PG_FUNCTION_INFO_V1(machi_identity_event);

/*
 * machi_trusted_dispatch: run machi.<name>__impl in the system context and
 * put the caller's context back on normal return (on error the transaction
 * callbacks wipe it).  Callers: api.handle for the public authentication
 * routes, machi_mailer for the outbox functions (EXECUTE privilege).
 */
Datum
machi_trusted_dispatch(PG_FUNCTION_ARGS)
{
	const MachiContext *ctx = MachiContextGet();

	return MachiRunImpl(fcinfo, psprintf("%s:%s", ctx->request_id[0] ? ctx->request_id : "trusted",
										 get_func_name(fcinfo->flinfo->fn_oid)), false);
}

/*
 * CheckMayRead: raise 403 unless the caller may read the owner's personal
 * data.
 */
static inline void
CheckMayRead(int64 owner_account, int32 owner_tenant)
{
	if (!MachiMayReadPersonalData(owner_account, owner_tenant))
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("not permitted to read this personal data")));
}

/*
 * machi.pii_open(owner_account bigint, owner_tenant int, tbl text,
 * row_id bigint, col text, sealed bytea) -> text: decrypt one personal field
 * after checking that the caller may read the owner's data.  NULL in, NULL
 * out.
 */
Datum
machi_pii_open(PG_FUNCTION_ARGS)
{
	int64		owner = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int32		tenant = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	char	   *table;
	char	   *column;
	int64		row_id;

	if (PG_ARGISNULL(5))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table, row and column of a sealed field are required")));
	CheckMayRead(owner, tenant);
	table = text_to_cstring(PG_GETARG_TEXT_PP(2));
	row_id = PG_GETARG_INT64(3);
	column = text_to_cstring(PG_GETARG_TEXT_PP(4));
	/* a personal data row is its account's: the owner checked must be it */
	if (strcmp(table, "account_pii") == 0 && row_id != owner)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_FORBIDDEN),
				 errmsg("not permitted to read this personal data")));
	PG_RETURN_TEXT_P(cstring_to_text(MachiOpen(table, row_id, column,
											   PG_GETARG_BYTEA_PP(5))));
}

/*
 * machi.identity_event(type text, detail jsonb) -> void: record an identity
 * event (see MachiIdentityEvent).  Owner only.
 */
Datum
machi_identity_event(PG_FUNCTION_ARGS)
{
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *detail = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);

	MachiIdentityEvent(type, detail);
	PG_RETURN_VOID();
}

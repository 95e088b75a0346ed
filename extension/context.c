/*-------------------------------------------------------------------------
 *
 * context.c
 *	  The caller context of machi: who the current caller is, held in a
 *	  backend-local C struct that SQL cannot write.
 *
 * Row-level security policies decide on the caller's tenant, account and
 * role.  Keeping them in a GUC would let anybody who can run SET become
 * somebody else; keeping them here means only code that has verified the
 * caller (api.handle, the admin functions, machi.act_as) can set them.  The
 * struct is wiped at the end of every transaction and when the
 * subtransaction that set it aborts, so a pooled connection never carries
 * one request's identity into the next.
 *
 * SQL reads it through machi.current_tenant(), machi.current_account(),
 * machi.current_role() and machi.has_permission(); they are STABLE and
 * PARALLEL RESTRICTED because parallel workers do not share backend statics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "context.h"
#include "machi.h"

/*
 * The one caller context of this backend.  Zeroed means "nobody": every
 * accessor returns NULL and every policy denies.
 */
static MachiContext current;

/*
 * OnXactEvent: wipe the context when the transaction ends, whichever way.
 */
static void
OnXactEvent(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			MachiContextClear();
			break;
		default:
			break;
	}
}

/*
 * OnSubXactEvent: when a subtransaction aborts and the context was set at
 * that level or deeper, wipe it.  We cannot know what the context was before
 * it was set inside the aborted subtransaction, so we fail closed.
 */
static void
OnSubXactEvent(SubXactEvent event, SubTransactionId mySubid,
			   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && current.valid &&
		current.nest_level >= GetCurrentTransactionNestLevel())
		MachiContextClear();
}

/*
 * MachiContextInit: register the transaction callbacks.  Called once from
 * _PG_init.
 */
void
MachiContextInit(void)
{
	RegisterXactCallback(OnXactEvent, NULL);
	RegisterSubXactCallback(OnSubXactEvent, NULL);
}

/*
 * MachiContextGet: read-only view of the current context for other
 * subsystems.
 */
const MachiContext *
MachiContextGet(void)
{
	return &current;
}

/*
 * MachiContextSave / MachiContextRestore: let a C function switch identity
 * for its own duration (admin functions, login) and put the previous one
 * back on normal exit.  On error the xact callbacks wipe it instead.
 */
void
MachiContextSave(MachiContext *saved)
{
	memcpy(saved, &current, sizeof(MachiContext));
}

void
MachiContextRestore(const MachiContext *saved)
{
	memcpy(&current, saved, sizeof(MachiContext));
}

/*
 * MachiContextClear: forget the caller.
 */
void
MachiContextClear(void)
{
	memset(&current, 0, sizeof(MachiContext));
}

static void
CopyBounded(char *dst, size_t dstlen, const char *src)
{
	if (src)
		strlcpy(dst, src, dstlen);
	else
		dst[0] = '\0';
}

/*
 * MachiContextSetAnonymous: an unauthenticated HTTP caller.  It has a client
 * address and a request id for the audit trail, but no account or tenant.
 */
void
MachiContextSetAnonymous(const char *client_addr, const char *request_id)
{
	MachiContextClear();
	current.valid = true;
	strlcpy(current.role, MACHI_ROLE_ANONYMOUS, sizeof(current.role));
	CopyBounded(current.client_addr, sizeof(current.client_addr), client_addr);
	CopyBounded(current.request_id, sizeof(current.request_id), request_id);
	current.nest_level = GetCurrentTransactionNestLevel();
}

/*
 * MachiContextSetSystem: the operator context used by the admin functions
 * (machi_admin members, checked by the EXECUTE privilege on the function
 * that calls this) and by internal lookups that must cross tenants, such as
 * loading an account's role before its context exists.  The reason is kept
 * in request_id so the audit trail says why.
 */
void
MachiContextSetSystem(const char *reason)
{
	char		client[64];

	strlcpy(client, current.client_addr, sizeof(client));
	MachiContextClear();
	current.valid = true;
	strlcpy(current.role, MACHI_ROLE_SYSTEM_ADMIN, sizeof(current.role));
	strlcpy(current.client_addr, client, sizeof(current.client_addr));
	CopyBounded(current.request_id, sizeof(current.request_id), reason);
	current.nest_level = GetCurrentTransactionNestLevel();
}

/*
 * MachiContextSetApiClient: an Open311 client that presented a valid API key
 * of tenant_id.  It has no account; policies let it post reports to that
 * tenant without an author.  The key id is kept as the session id for the
 * audit trail.
 */
void
MachiContextSetApiClient(int32 tenant_id, int64 key_id)
{
	current.tenant_id = tenant_id;
	current.account_id = 0;
	current.session_id = key_id;
	current.nperms = 0;
	current.ndepts = 0;
	strlcpy(current.role, MACHI_ROLE_OPEN311, sizeof(current.role));
	current.valid = true;
	current.nest_level = GetCurrentTransactionNestLevel();
}

/* plans of the account lookups below, kept per backend (MachiKeptPlan) */
static SPIPlanPtr account_plan = NULL;
static SPIPlanPtr permission_plan = NULL;
static SPIPlanPtr department_plan = NULL;

/*
 * MachiContextSetAccount: become account_id, loading its tenant, role,
 * permissions and department scope from the tables.  The caller must have
 * verified that the caller is this account (a valid session token, or a
 * machi_admin member in machi.act_as).  Raises MC401 when the account does
 * not exist or is not active.
 */
void
MachiContextSetAccount(int64 account_id, const char *client_addr,
					   const char *request_id)
{
	MachiContext next;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	int			ret;
	uint64		i;

	memset(&next, 0, sizeof(next));
	values[0] = Int64GetDatum(account_id);

	/* the lookup itself must see the account whatever its tenant */
	MachiContextSetSystem("load account");

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);

	ret = SPI_execute_plan(MachiKeptPlan(&account_plan,
										 "SELECT a.tenant_id, a.role_name, a.must_change_password "
										 "FROM machi.account a WHERE a.account_id = $1 AND a.state = 'active'",
										 1, argtypes),
						   values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "account lookup failed: %d", ret);
	if (SPI_processed != 1)
	{
		SPI_finish();
		MachiContextClear();
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_UNAUTHORIZED),
				 errmsg("account %lld is not an active account", (long long) account_id)));
	}
	{
		Datum		d;
		char	   *role;

		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		next.tenant_id = isnull ? 0 : DatumGetInt32(d);
		role = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		strlcpy(next.role, role ? role : "", sizeof(next.role));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		next.must_change_password = !isnull && DatumGetBool(d);
	}

	ret = SPI_execute_plan(MachiKeptPlan(&permission_plan,
										 "SELECT p.resource, bool_or(p.action = 'read'), bool_or(p.action = 'update') "
										 "FROM machi.permission p JOIN machi.account a ON a.role_name = p.role_name "
										 "WHERE a.account_id = $1 GROUP BY p.resource ORDER BY p.resource",
										 1, argtypes),
						   values, NULL, true, MACHI_MAX_PERMS);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "permission lookup failed: %d", ret);
	for (i = 0; i < SPI_processed && i < MACHI_MAX_PERMS; i++)
	{
		char	   *res = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		Datum		r = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		Datum		u = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull);

		strlcpy(next.perms[i].resource, res, sizeof(next.perms[i].resource));
		next.perms[i].can_read = DatumGetBool(r);
		next.perms[i].can_update = DatumGetBool(u);
	}
	next.nperms = (int) i;

	ret = SPI_execute_plan(MachiKeptPlan(&department_plan,
										 "SELECT d.department_id FROM machi.account_department d "
										 "WHERE d.account_id = $1 ORDER BY 1",
										 1, argtypes),
						   values, NULL, true, MACHI_MAX_DEPTS);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "department scope lookup failed: %d", ret);
	for (i = 0; i < SPI_processed && i < MACHI_MAX_DEPTS; i++)
		next.depts[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 1, &isnull));
	next.ndepts = (int) i;

	SPI_finish();

	next.valid = true;
	next.account_id = account_id;
	CopyBounded(next.client_addr, sizeof(next.client_addr), client_addr);
	CopyBounded(next.request_id, sizeof(next.request_id), request_id);
	next.nest_level = GetCurrentTransactionNestLevel();
	memcpy(&current, &next, sizeof(MachiContext));
}

/*
 * MachiContextHasPermission: whether the caller's role grants read (or
 * update) on a resource.  The system admin context may do everything.
 */
bool
MachiContextHasPermission(const char *resource, bool update)
{
	int			i;

	if (!current.valid)
		return false;
	if (strcmp(current.role, MACHI_ROLE_SYSTEM_ADMIN) == 0 && current.account_id == 0)
		return true;
	for (i = 0; i < current.nperms; i++)
	{
		if (strcmp(current.perms[i].resource, resource) == 0)
			return update ? current.perms[i].can_update : current.perms[i].can_read;
	}
	return false;
}

/* ---- SQL-callable accessors (read-only) ---- */

PG_FUNCTION_INFO_V1(machi_current_tenant);
PG_FUNCTION_INFO_V1(machi_current_account);
PG_FUNCTION_INFO_V1(machi_current_role);
PG_FUNCTION_INFO_V1(machi_has_permission);
PG_FUNCTION_INFO_V1(machi_current_departments);
PG_FUNCTION_INFO_V1(machi_current_request_id);

/*
 * machi.current_tenant(): the caller's tenant, NULL when none.
 */
Datum
machi_current_tenant(PG_FUNCTION_ARGS)
{
	if (!current.valid || current.tenant_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(current.tenant_id);
}

/*
 * machi.current_account(): the caller's account id, NULL when anonymous.
 */
Datum
machi_current_account(PG_FUNCTION_ARGS)
{
	if (!current.valid || current.account_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(current.account_id);
}

/*
 * machi.current_role(): the caller's role preset, NULL when nobody.
 */
Datum
machi_current_role(PG_FUNCTION_ARGS)
{
	if (!current.valid)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(current.role));
}

/*
 * machi.has_permission(resource, action): action is 'read' or 'update'.
 */
Datum
machi_has_permission(PG_FUNCTION_ARGS)
{
	char	   *resource = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *action = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		update;

	if (strcmp(action, "read") == 0)
		update = false;
	else if (strcmp(action, "update") == 0)
		update = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid permission action \"%s\"", action),
				 errhint("Use \"read\" or \"update\".")));
	PG_RETURN_BOOL(MachiContextHasPermission(resource, update));
}

/*
 * machi.current_departments(): the department scope of a department-scoped
 * caller as bigint[], NULL when the caller sees the whole tenant.
 */
Datum
machi_current_departments(PG_FUNCTION_ARGS)
{
	Datum	   *elems;
	int			i;

	if (!current.valid || current.ndepts == 0)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * current.ndepts);
	for (i = 0; i < current.ndepts; i++)
		elems[i] = Int64GetDatum(current.depts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, current.ndepts, INT8OID, 8,
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * machi.current_request_id(): the request id of the current API call (or the
 * reason of an admin call), for the audit trail.
 */
Datum
machi_current_request_id(PG_FUNCTION_ARGS)
{
	if (!current.valid || current.request_id[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(current.request_id));
}

PG_FUNCTION_INFO_V1(machi_current_api_key);

/*
 * machi.current_api_key(): the key id of an Open311 client caller, NULL for
 * every other caller.
 */
Datum
machi_current_api_key(PG_FUNCTION_ARGS)
{
	if (!current.valid || strcmp(current.role, MACHI_ROLE_OPEN311) != 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(current.session_id);
}

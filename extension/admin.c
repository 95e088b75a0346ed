/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  The operator (DBA) entry points: the admin function dispatcher and
 *	  machi.act_as().
 *
 * Admin functions such as machi.create_tenant() are declared in SQL with
 * this file's dispatcher as their implementation.  EXECUTE on them is
 * granted to machi_admin only, so reaching the dispatcher proves membership.
 * The dispatcher switches the caller context to the system administrator
 * for the duration of the call and runs the companion function
 * machi.<name>__impl with the same arguments, which holds the logic in SQL
 * under row-level security like any other code.  The impl functions are
 * executable by their owner only; without the context they see nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/syscache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "audit.h"
#include "context.h"
#include "machi.h"

/*
 * ClientAddr: the DBA session's client address as text, "" for a unix
 * socket, for the audit trail.
 */
static const char *
ClientAddr(void)
{
	static char buf[64];
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fc, 0);
	Datum		d;

	buf[0] = '\0';
	fmgr_info(F_INET_CLIENT_ADDR, &flinfo);
	InitFunctionCallInfoData(*fc, &flinfo, 0, InvalidOid, NULL, NULL);
	d = FunctionCallInvoke(fc);
	if (!fc->isnull)
		strlcpy(buf, DatumGetCString(DirectFunctionCall1(inet_out, d)), sizeof(buf));
	return buf;
}

/*
 * FindImpl: the oid of machi.<name>__impl taking the same arguments as the
 * admin function fn_oid.  Cached in fn_extra for the query's duration.
 */
static Oid
FindImpl(FunctionCallInfo fcinfo)
{
	Oid			self = fcinfo->flinfo->fn_oid;
	HeapTuple	tp;
	Form_pg_proc proc;
	char	   *implname;
	Oid			impl;
	List	   *qname;

	if (fcinfo->flinfo->fn_extra)
		return *(Oid *) fcinfo->flinfo->fn_extra;
	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(self));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for function %u", self);
	proc = (Form_pg_proc) GETSTRUCT(tp);
	implname = psprintf("%s__impl", NameStr(proc->proname));
	qname = list_make2(makeString("machi"), makeString(implname));
	impl = LookupFuncName(qname, proc->pronargs, proc->proargtypes.values, false);
	ReleaseSysCache(tp);
	fcinfo->flinfo->fn_extra = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
	*(Oid *) fcinfo->flinfo->fn_extra = impl;
	return impl;
}

PG_FUNCTION_INFO_V1(machi_admin_dispatch);

/*
 * machi_admin_dispatch: the C body of every admin function (see the file
 * header).  Records an admin_call audit event (function, arguments without
 * secrets, session_user).  The context is the system administrator's while
 * the impl runs; on normal return the previous context is put back, on
 * error the transaction callbacks wipe it.
 */
Datum
machi_admin_dispatch(PG_FUNCTION_ARGS)
{
	char	   *name = get_func_name(fcinfo->flinfo->fn_oid);

	return MachiRunImpl(fcinfo, psprintf("admin:%s", name), true);
}

/*
 * MachiRunImpl: the common body of the admin and trusted dispatchers: run
 * machi.<name>__impl with the caller's arguments in the system context
 * (reason kept for the audit trail), recording an admin call when asked,
 * and put the caller's context back on normal return; on error the
 * transaction callbacks wipe it.
 */
Datum
MachiRunImpl(FunctionCallInfo fcinfo, const char *reason, bool audit_admin_call)
{
	Oid			impl = FindImpl(fcinfo);
	FmgrInfo	finfo;
	LOCAL_FCINFO(icinfo, FUNC_MAX_ARGS);
	MachiContext saved;
	Datum		result;

	fmgr_info(impl, &finfo);
	InitFunctionCallInfoData(*icinfo, &finfo, fcinfo->nargs, fcinfo->fncollation,
							 NULL, fcinfo->resultinfo);
	for (int i = 0; i < fcinfo->nargs; i++)
		icinfo->args[i] = fcinfo->args[i];

	MachiContextSave(&saved);
	MachiContextSetSystem(reason);
	if (audit_admin_call)
		MachiAuditAdminCall(fcinfo);
	result = FunctionCallInvoke(icinfo);
	MachiContextRestore(&saved);

	fcinfo->isnull = icinfo->isnull;
	return result;
}

PG_FUNCTION_INFO_V1(machi_act_as);

/*
 * machi.act_as(account bigint, reason text): for support work, become the
 * given account until the end of the transaction (or until an error aborts
 * the savepoint it ran in).  machi_admin only (by EXECUTE privilege); the
 * reason is mandatory and recorded (an act_as audit event).  api.handle()
 * calls without credentials in the same transaction run as that account.
 */
Datum
machi_act_as(PG_FUNCTION_ARGS)
{
	int64		account = PG_GETARG_INT64(0);
	char	   *reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	MachiContext c;

	if (strlen(reason) < 8)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a reason of at least 8 characters is required"),
				 errhint("Say why you act as this account, e.g. a ticket number.")));
	MachiContextSetAccount(account, ClientAddr(), psprintf("act_as:%s", reason));
	MachiContextSave(&c);
	c.act_as = true;
	MachiContextRestore(&c);
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"account_id\": %lld, \"reason\": ", (long long) account);
		escape_json(&detail, reason);
		appendStringInfoChar(&detail, '}');
		MachiAuditEventJson(MACHI_AUDIT_ACT_AS, detail.data);
	}
	ereport(LOG,
			(errmsg("machi: %s acts as account %lld: %s",
					GetUserNameFromId(GetSessionUserId(), false),
					(long long) account, reason)));
	PG_RETURN_VOID();
}

/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  Writing the audit trail: the row trigger machi.audit_row(), the event
 *	  API MachiAuditEvent() (and its SQL face machi.audit_event()), the API
 *	  call log of api.handle, and the admin call and act_as records.
 *
 * Every table of the extension carries machi.audit_row() as an AFTER ROW
 * trigger for INSERT, UPDATE and DELETE and as an AFTER STATEMENT trigger
 * for TRUNCATE (machi.audit_attach() puts them there).  Each firing appends
 * one row to machi.audit_log: when (clock and transaction start), which
 * transaction, who (account, role, tenant, session_user, client address,
 * request id, from the caller context), what (table, primary key,
 * operation) and, for an UPDATE, only the columns that changed with their
 * old and new values.  A DELETE also records the row as it was (it is gone
 * from the table); an INSERT records only the key (the row is in the table,
 * and every later change is recorded), or the row when the table has no
 * primary key.
 *
 * Encrypted or secret columns are never copied: a column whose name ends in
 * _enc, _hash, _bidx, _secret or _wrapped, or that is listed in
 * machi.audit_redacted_column (passed to the trigger as its arguments by
 * machi.audit_attach), is recorded as "redacted" (INSERT, DELETE) or
 * "changed" (UPDATE), never by value.  Values larger than
 * AUDIT_MAX_VALUE_BYTES (photos, boundaries) are recorded by size only.
 *
 * The audit row is inserted straight into the month's partition with
 * heap_insert and index_insert, not through SPI: the trigger runs for every
 * row written anywhere, and the executor's per-statement setup would cost
 * more than the write itself.  The audit tables carry no insert triggers,
 * constraints beyond NOT NULL, or expression indexes, so nothing is
 * skipped; InsertRow refuses an index it cannot maintain.
 *
 * Events raised while api.handle serves a request are held back until the
 * route's subtransaction has ended, so that a failed login or a refused
 * access is recorded even though the route's own work is rolled back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "context.h"
#include "machi.h"

/* values larger than this (bytes, uncompressed) are recorded by size */
#define AUDIT_MAX_VALUE_BYTES	2048

/* admin call arguments are clipped to this many bytes */
#define AUDIT_MAX_ARG_BYTES		100

/*
 * AuditWho: the caller as it was when the audited thing happened, copied
 * out of the caller context (which may change before a deferred event is
 * written).
 */
typedef struct AuditWho
{
	bool		known;			/* false: no caller context (plain SQL) */
	int64		account_id;		/* 0 = none */
	int32		tenant_id;		/* 0 = none */
	bool		act_as;
	char		role[MACHI_ROLE_LEN];
	char		client_addr[64];
	char		request_id[64];
} AuditWho;

/* One row of machi.audit_log before it is written. */
typedef struct AuditRecord
{
	TimestampTz logged_at;
	const char *event;
	const char *op;				/* row records only */
	const char *table_name;		/* row records only */
	Jsonb	   *pk;
	Jsonb	   *detail;
	AuditWho	who;
} AuditRecord;

/*
 * Per-row scratch memory of the trigger and of event writing, reset after
 * every record.  Lives in TopMemoryContext so that creating it is paid once
 * per backend.
 */
static MemoryContext audit_row_cxt = NULL;

/*
 * Events raised inside api.handle wait here (in TopTransactionContext, which
 * survives the route's subtransaction) until MachiAuditRequestEnd writes
 * them.  request_depth > 0 while a request is being served.  Both are
 * forgotten at transaction end.
 */
static List *deferred_events = NIL;
static int	request_depth = 0;

/*
 * What the trigger would otherwise look up in the catalogs for every row,
 * kept per backend: the machi schema and the audit sequence, the partition
 * of the month last written to (with that month's bounds in UTC and its
 * name, checked on every use) and the IndexInfo of its indexes, and the
 * qualified names of the tables last audited.  The invalidation callbacks
 * (registered by MachiAuditInit) only mark entries stale, never free them:
 * an invalidation can arrive while InsertRow holds them (taking a lock
 * processes pending invalidations); stale entries are rebuilt on next use.
 */
#define AUDIT_NAME_CACHE		16

static Oid	cached_nsp = InvalidOid;
static Oid	cached_seq = InvalidOid;
static Oid	cached_partition = InvalidOid;
static char cached_partition_name[NAMEDATALEN];
static TimestampTz cached_month_start = 0;
static TimestampTz cached_month_end = 0;

static MemoryContext index_cache_cxt = NULL;
static bool index_cache_valid = false;
static Oid	index_cache_rel = InvalidOid;
static int	index_cache_n = 0;
static Oid *index_cache_oids = NULL;	/* index_cache_n of each, in index_cache_cxt */
static IndexInfo **index_cache_info = NULL;
static uint64 cache_generation = 0;	/* bumped when the index cache goes stale */

typedef struct TableName
{
	Oid			relid;
	char		name[2 * NAMEDATALEN + 2];	/* "schema.table" */
} TableName;
static TableName table_names[AUDIT_NAME_CACHE];
static int	table_names_next = 0;

/* Column names that mark secrets and ciphertexts (see file header). */
static const char *const redacted_suffixes[] = {
	"_enc", "_hash", "_bidx", "_secret", "_wrapped", NULL
};

/* Admin function argument names whose values are never recorded. */
static const char *const secret_arg_words[] = {
	"password", "passwd", "secret", "token", "key", "email", "phone",
	"address", "birth", "postal", "full_name", "nickname", "pii", "_enc", "contact",
	"profile", NULL
};

/*
 * OnXactEvent: forget deferred events at transaction end (they were
 * written, or the transaction that would have held them is gone).
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
			deferred_events = NIL;
			request_depth = 0;
			break;
		default:
			break;
	}
}

/*
 * OnRelcacheInval: a relation changed (relid) or all may have
 * (InvalidOid): forget what the caches hold about it.
 */
static void
OnRelcacheInval(Datum arg, Oid relid)
{
	bool		all = !OidIsValid(relid);
	bool		stale = false;

	if (all || relid == cached_seq)
		cached_seq = InvalidOid;
	if (all || relid == cached_partition)
		cached_partition = InvalidOid;
	if (all || relid == index_cache_rel)
		stale = true;
	for (int i = 0; i < index_cache_n && !stale; i++)
		if (index_cache_oids[i] == relid)
			stale = true;
	if (stale)
	{
		index_cache_valid = false;
		cache_generation++;
	}
	for (int i = 0; i < AUDIT_NAME_CACHE; i++)
		if (all || table_names[i].relid == relid)
			table_names[i].relid = InvalidOid;
}

/*
 * OnNamespaceInval: a schema was renamed or dropped: forget the schema oid
 * and the qualified names.  (Dropping a schema drops its relations, whose
 * own invalidations reach OnRelcacheInval.)
 */
static void
OnNamespaceInval(Datum arg, int cacheid, uint32 hashvalue)
{
	for (int i = 0; i < AUDIT_NAME_CACHE; i++)
		table_names[i].relid = InvalidOid;
	cached_nsp = InvalidOid;
}

/*
 * MachiAuditInit: register the transaction callback.  Called once from
 * _PG_init.
 */
void
MachiAuditInit(void)
{
	RegisterXactCallback(OnXactEvent, NULL);
	CacheRegisterRelcacheCallback(OnRelcacheInval, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, OnNamespaceInval, (Datum) 0);
}

/*
 * RowContext: the per-record scratch context, created on first use and
 * reset (in case an error left something in it) before it is handed out.
 */
static MemoryContext
RowContext(void)
{
	if (audit_row_cxt == NULL)
		audit_row_cxt = AllocSetContextCreate(TopMemoryContext,
											  "machi audit row",
											  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(audit_row_cxt);
	return audit_row_cxt;
}

/*
 * SessionClientAddr: the client address of this backend's connection as
 * text, "" for a unix socket.  Used when the caller context has none (plain
 * SQL sessions, DBAs).  It never changes, so it is computed once.
 */
static const char *
SessionClientAddr(void)
{
	static bool done = false;
	static char buf[64];

	if (!done)
	{
		FmgrInfo	flinfo;
		LOCAL_FCINFO(fc, 0);
		Datum		d;

		buf[0] = '\0';
		fmgr_info(F_INET_CLIENT_ADDR, &flinfo);
		InitFunctionCallInfoData(*fc, &flinfo, 0, InvalidOid, NULL, NULL);
		d = FunctionCallInvoke(fc);
		if (!fc->isnull)
			strlcpy(buf, DatumGetCString(DirectFunctionCall1(inet_out, d)), sizeof(buf));
		done = true;
	}
	return buf;
}

/*
 * SessionUserName: session_user, cached by role oid (SET SESSION
 * AUTHORIZATION can change it).
 */
static const char *
SessionUserName(void)
{
	static Oid	cached_oid = InvalidOid;
	static char cached_name[NAMEDATALEN];
	Oid			oid = GetSessionUserId();

	if (oid != cached_oid)
	{
		strlcpy(cached_name, GetUserNameFromId(oid, false), sizeof(cached_name));
		cached_oid = oid;
	}
	return cached_name;
}

/*
 * CaptureWho: copy the caller context into w.
 */
static void
CaptureWho(AuditWho *w)
{
	const MachiContext *ctx = MachiContextGet();

	memset(w, 0, sizeof(*w));
	if (ctx->valid)
	{
		w->known = true;
		w->account_id = ctx->account_id;
		w->tenant_id = ctx->tenant_id;
		w->act_as = ctx->act_as;
		strlcpy(w->role, ctx->role, sizeof(w->role));
		strlcpy(w->client_addr, ctx->client_addr, sizeof(w->client_addr));
		strlcpy(w->request_id, ctx->request_id, sizeof(w->request_id));
	}
	if (w->client_addr[0] == '\0')
		strlcpy(w->client_addr, SessionClientAddr(), sizeof(w->client_addr));
}

/*
 * CreateMissingPartition: safety net when the scheduler has not created
 * this month's partition ahead (machi.seal_audit() keeps two months ahead):
 * create it now, in the writer's transaction, rather than refuse the write.
 * Two writers racing here serialise on the catalog; the loser's
 * machi.audit_create_partition() sees the winner's table and returns.
 * Returns the partition's oid, InvalidOid if it still does not exist.
 */
static Oid
CreateMissingPartition(Oid nsp, const char *name)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT machi.audit_maintain(1)", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "machi.audit_maintain() failed");
	SPI_finish();
	AcceptInvalidationMessages();	/* see a partition a racing writer made */
	return get_relname_relid(name, nsp);
}

/*
 * OpenPartition: the partition of machi.audit_log that holds rows logged
 * at ts (months in UTC, named audit_log_YYYYMM), opened with
 * RowExclusiveLock.  Partitions are normally created ahead of time by
 * machi.audit_maintain(): creating one takes an exclusive lock on the
 * parent, which should not happen in the middle of user transactions.
 */
static Relation
OpenPartition(Oid nsp, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		name[NAMEDATALEN];
	Oid			part;
	Relation	rel;
	TimestampTz start,
				end;

	if (OidIsValid(cached_partition) &&
		ts >= cached_month_start && ts < cached_month_end)
	{
		rel = try_table_open(cached_partition, RowExclusiveLock);
		if (rel != NULL)
		{
			if (strcmp(RelationGetRelationName(rel), cached_partition_name) == 0 &&
				RelationGetNamespace(rel) == nsp)
				return rel;
			table_close(rel, RowExclusiveLock);
		}
		cached_partition = InvalidOid;
	}

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "audit timestamp out of range");
	snprintf(name, sizeof(name), "audit_log_%06d", tm.tm_year * 100 + tm.tm_mon);
	/* the month's bounds in UTC, for the next rows */
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (tm2timestamp(&tm, 0, NULL, &start) != 0)
		elog(ERROR, "audit timestamp out of range");
	if (++tm.tm_mon > MONTHS_PER_YEAR)
	{
		tm.tm_mon = 1;
		tm.tm_year++;
	}
	if (tm2timestamp(&tm, 0, NULL, &end) != 0)
		elog(ERROR, "audit timestamp out of range");

	part = get_relname_relid(name, nsp);
	if (!OidIsValid(part))
		part = CreateMissingPartition(nsp, name);
	if (!OidIsValid(part))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit partition machi.%s does not exist", name),
				 errdetail("Every write is audited, and the audit trail has no partition for this month."),
				 errhint("Run SELECT machi.audit_maintain(); and schedule it (machi.seal_audit() runs it too).")));
	rel = table_open(part, RowExclusiveLock);
	if (!rel->rd_rel->relispartition ||
		RelationGetDescr(rel)->natts != AUDIT_NCOLS)
		elog(ERROR, "machi.%s is not a partition of machi.audit_log with its columns", name);
	for (int i = 0; i < AUDIT_NCOLS; i++)
		if (TupleDescAttr(RelationGetDescr(rel), i)->attisdropped)
			elog(ERROR, "machi.%s has a dropped column", name);
	cached_partition = part;
	strlcpy(cached_partition_name, name, sizeof(cached_partition_name));
	cached_month_start = start;
	cached_month_end = end;
	return rel;
}

/*
 * LoadIndexes: the oids and IndexInfo of rel's indexes into the index
 * cache, refusing an index InsertRow cannot maintain.  The cache is marked
 * valid only if no invalidation arrived while it was being filled (opening
 * an index can process some); otherwise it serves this row and is filled
 * again for the next.
 */
static void
LoadIndexes(Relation rel)
{
	uint64		generation = cache_generation;
	List	   *indexes;
	ListCell   *lc;
	MemoryContext old;

	if (index_cache_cxt == NULL)
		index_cache_cxt = AllocSetContextCreate(TopMemoryContext,
												"machi audit indexes",
												ALLOCSET_SMALL_SIZES);
	index_cache_valid = false;
	index_cache_n = 0;
	MemoryContextReset(index_cache_cxt);
	index_cache_rel = RelationGetRelid(rel);
	indexes = RelationGetIndexList(rel);
	index_cache_oids = MemoryContextAlloc(index_cache_cxt,
										  Max(list_length(indexes), 1) * sizeof(Oid));
	index_cache_info = MemoryContextAlloc(index_cache_cxt,
										  Max(list_length(indexes), 1) * sizeof(IndexInfo *));
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *ii;

		old = MemoryContextSwitchTo(index_cache_cxt);
		ii = BuildIndexInfo(idx);
		/* a partial index: its predicate, ready to test each row */
		if (ii->ii_Predicate != NIL)
			ii->ii_PredicateState =
				ExecInitQual((List *) expression_planner((Expr *) ii->ii_Predicate), NULL);
		MemoryContextSwitchTo(old);
		if (ii->ii_Expressions != NIL || ii->ii_ExclusionOps != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("index \"%s\" on the audit trail is not supported",
							RelationGetRelationName(idx)),
					 errdetail("Audit rows are written without the executor; indexes on machi.audit_log must be indexes of columns (partial ones allowed), not of expressions.")));
		index_cache_oids[index_cache_n] = lfirst_oid(lc);
		index_cache_info[index_cache_n] = ii;
		index_cache_n++;
		index_close(idx, NoLock);
	}
	list_free(indexes);
	index_cache_valid = (generation == cache_generation);
}

/*
 * InsertRow: heap_insert the tuple into the partition and maintain its
 * indexes.  Caller holds RowExclusiveLock on rel.
 */
static void
InsertRow(Relation rel, Datum *values, bool *nulls)
{
	HeapTuple	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	TupleTableSlot *slot;
	ExprContext *econtext = NULL;

	simple_heap_insert(rel, tup);

	if (!index_cache_valid || index_cache_rel != RelationGetRelid(rel))
		LoadIndexes(rel);
	/*
	 * An invalidation arriving in the loop (index_open may process some)
	 * only marks the cache stale; nothing is freed before the next
	 * LoadIndexes, so the arrays stay valid for this row.
	 */
	if (index_cache_n == 0)
		return;
	slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tup, slot, false);
	for (int i = 0; i < index_cache_n; i++)
	{
		Relation	idx = index_open(index_cache_oids[i], RowExclusiveLock);
		IndexInfo  *ii = index_cache_info[i];
		Datum		iv[INDEX_MAX_KEYS];
		bool		in[INDEX_MAX_KEYS];
		bool		wanted = ii->ii_ReadyForInserts;

		/* nothing an index AM caches may outlive this row */
		ii->ii_AmCache = NULL;
		ii->ii_Context = CurrentMemoryContext;
		/* a partial index takes only the rows its predicate accepts */
		if (wanted && ii->ii_PredicateState != NULL)
		{
			if (econtext == NULL)
				econtext = CreateStandaloneExprContext();
			econtext->ecxt_scantuple = slot;
			wanted = ExecQual(ii->ii_PredicateState, econtext);
			ResetExprContext(econtext);
		}
		if (wanted)
		{
			FormIndexDatum(ii, slot, NULL, iv, in);
			index_insert(idx, iv, in, &tup->t_self, rel,
						 ii->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 false, ii);
		}
		ii->ii_AmCache = NULL;
		index_close(idx, NoLock);
	}
	if (econtext != NULL)
		FreeExprContext(econtext, true);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * WriteRecord: append one row to machi.audit_log.  Raises when the trail
 * cannot be written: an unaudited change must not happen.  On a standby
 * (read-only API calls) the record goes to the server log instead.
 */
static void
WriteRecord(const AuditRecord *r)
{
	Datum		values[AUDIT_NCOLS];
	bool		nulls[AUDIT_NCOLS];
	Oid			nsp;
	Oid			seq;
	Relation	part;

	if (RecoveryInProgress())
	{
		ereport(LOG,
				(errmsg("machi audit (standby): %s %s account %lld request %s",
						r->event, r->op ? r->op : "",
						(long long) r->who.account_id, r->who.request_id)));
		return;
	}

	if (!OidIsValid(cached_nsp))
		cached_nsp = get_namespace_oid("machi", false);
	nsp = cached_nsp;
	if (!OidIsValid(cached_seq))
	{
		cached_seq = get_relname_relid("audit_id_seq", nsp);
		if (!OidIsValid(cached_seq))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the audit trail machi.audit_log does not exist")));
	}
	seq = cached_seq;

	memset(nulls, 0, sizeof(nulls));
	values[AUDIT_COL_AUDIT_ID] = Int64GetDatum(nextval_internal(seq, false));
	values[AUDIT_COL_LOGGED_AT] = TimestampTzGetDatum(r->logged_at);
	values[AUDIT_COL_XACT_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[AUDIT_COL_TXID] = Int64GetDatum((int64) U64FromFullTransactionId(GetTopFullTransactionId()));
	values[AUDIT_COL_EVENT] = CStringGetTextDatum(r->event);
	nulls[AUDIT_COL_OP] = r->op == NULL;
	values[AUDIT_COL_OP] = r->op ? CStringGetTextDatum(r->op) : (Datum) 0;
	nulls[AUDIT_COL_TABLE_NAME] = r->table_name == NULL;
	values[AUDIT_COL_TABLE_NAME] = r->table_name ? CStringGetTextDatum(r->table_name) : (Datum) 0;
	nulls[AUDIT_COL_PK] = r->pk == NULL;
	values[AUDIT_COL_PK] = PointerGetDatum(r->pk);
	nulls[AUDIT_COL_DETAIL] = r->detail == NULL;
	values[AUDIT_COL_DETAIL] = PointerGetDatum(r->detail);
	nulls[AUDIT_COL_ACCOUNT_ID] = r->who.account_id == 0;
	values[AUDIT_COL_ACCOUNT_ID] = Int64GetDatum(r->who.account_id);
	nulls[AUDIT_COL_ROLE] = r->who.role[0] == '\0';
	values[AUDIT_COL_ROLE] = CStringGetTextDatum(r->who.role);
	nulls[AUDIT_COL_TENANT_ID] = r->who.tenant_id == 0;
	values[AUDIT_COL_TENANT_ID] = Int32GetDatum(r->who.tenant_id);
	values[AUDIT_COL_ACT_AS] = BoolGetDatum(r->who.act_as);
	values[AUDIT_COL_DB_USER] = CStringGetTextDatum(SessionUserName());
	nulls[AUDIT_COL_CLIENT_ADDR] = r->who.client_addr[0] == '\0';
	values[AUDIT_COL_CLIENT_ADDR] = nulls[AUDIT_COL_CLIENT_ADDR] ? (Datum) 0 :
		DirectFunctionCall1(inet_in, CStringGetDatum(r->who.client_addr));
	nulls[AUDIT_COL_REQUEST_ID] = r->who.request_id[0] == '\0';
	values[AUDIT_COL_REQUEST_ID] = CStringGetTextDatum(r->who.request_id);

	/*
	 * Only the partition is locked, as for a direct INSERT into it: what
	 * could change the parent (DROP, ALTER TABLE) locks every partition.
	 */
	part = OpenPartition(nsp, r->logged_at);
	InsertRow(part, values, nulls);
	table_close(part, NoLock);
}

/* ---- row values as jsonb ---- */

/*
 * OutputFunction: the output function of a type, cached per backend for
 * the few types a schema uses.
 */
static FmgrInfo *
OutputFunction(Oid typid)
{
#define OUTFN_CACHE 64
	static Oid	typids[OUTFN_CACHE];
	static FmgrInfo *fns[OUTFN_CACHE];
	static int	n = 0;
	Oid			fn;
	bool		isvarlena;
	FmgrInfo   *f;

	for (int i = 0; i < n; i++)
		if (typids[i] == typid)
			return fns[i];
	getTypeOutputInfo(typid, &fn, &isvarlena);
	f = MemoryContextAlloc(TopMemoryContext, sizeof(FmgrInfo));
	fmgr_info_cxt(fn, f, TopMemoryContext);
	if (n < OUTFN_CACHE)
	{
		typids[n] = typid;
		fns[n] = f;
		n++;
	}
	return f;
}

/*
 * PushKey: an object key; key must outlive the JsonbParseState (column
 * names of a tuple descriptor, literals, palloc'd strings).
 */
static void
PushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/*
 * PushString: a string value.  pushJsonbValue keeps the pointer until the
 * object is serialised, so s must live that long (palloc'd, not stack).
 */
static void
PushString(JsonbParseState **st, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * PushInt: an integer as a JSON number.
 */
static void
PushInt(JsonbParseState **st, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * PushValue: one column value as a jsonb value: integers and booleans as
 * themselves, dates and times in ISO 8601 (UTC), large values by size,
 * everything else as its text output.
 */
static void
PushValue(JsonbParseState **st, Form_pg_attribute att, Datum d, bool isnull)
{
	JsonbValue	v;

	if (isnull)
	{
		v.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &v);
		return;
	}
	switch (att->atttypid)
	{
		case INT2OID:
			PushInt(st, DatumGetInt16(d));
			return;
		case INT4OID:
			PushInt(st, DatumGetInt32(d));
			return;
		case INT8OID:
			PushInt(st, DatumGetInt64(d));
			return;
		case BOOLOID:
			v.type = jbvBool;
			v.val.boolean = DatumGetBool(d);
			pushJsonbValue(st, WJB_VALUE, &v);
			return;
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				/* ISO 8601, UTC: not the writer's DateStyle and TimeZone */
				const int	utc = 0;

				PushString(st, JsonEncodeDateTime(NULL, d, att->atttypid, &utc));
				return;
			}
	}
	if (att->attlen == -1)
	{
		Size		size = toast_raw_datum_size(d) - VARHDRSZ;

		if (size > AUDIT_MAX_VALUE_BYTES)
		{
			pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
			PushKey(st, "bytes");
			PushInt(st, (int64) size);
			pushJsonbValue(st, WJB_END_OBJECT, NULL);
			return;
		}
	}
	PushString(st, OutputFunctionCall(OutputFunction(att->atttypid), d));
}

/*
 * IsRedacted: whether a column's value must never be recorded: by name
 * suffix, or named in the trigger's arguments (machi.audit_redacted_column).
 */
static bool
IsRedacted(const char *col, const Trigger *tg)
{
	size_t		n = strlen(col);

	for (int i = 0; redacted_suffixes[i]; i++)
	{
		size_t		m = strlen(redacted_suffixes[i]);

		if (n >= m && strcmp(col + n - m, redacted_suffixes[i]) == 0)
			return true;
	}
	for (int i = 0; i < tg->tgnargs; i++)
		if (strcmp(col, tg->tgargs[i]) == 0)
			return true;
	return false;
}

/*
 * RowJsonb: every column of a row (DELETE; INSERT without a primary key),
 * redacted columns as "redacted" when not null.
 */
static Jsonb *
RowJsonb(TupleTableSlot *slot, const Trigger *tg)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	slot_getallattrs(slot);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		PushKey(&st, NameStr(att->attname));
		if (!slot->tts_isnull[i] && IsRedacted(NameStr(att->attname), tg))
			PushString(&st, "redacted");
		else
			PushValue(&st, att, slot->tts_values[i], slot->tts_isnull[i]);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * SameDatum: whether an UPDATE left a column unchanged.  Two on-disk TOAST
 * pointers are compared as pointers (an unchanged toasted column keeps its
 * pointer), so that large values are not fetched to learn nothing.
 */
static bool
SameDatum(Form_pg_attribute att, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull && bnull;
	if (att->attlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(a)) &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(b)))
		return memcmp(DatumGetPointer(a), DatumGetPointer(b),
					  VARSIZE_EXTERNAL(DatumGetPointer(a))) == 0;
	return datum_image_eq(a, b, att->attbyval, att->attlen);
}

/*
 * ChangesJsonb: the columns an UPDATE changed, {"col": {"old": .., "new":
 * ..}}, redacted columns as {"col": "changed"}.
 */
static Jsonb *
ChangesJsonb(TupleTableSlot *oldslot, TupleTableSlot *newslot, const Trigger *tg)
{
	TupleDesc	desc = newslot->tts_tupleDescriptor;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	slot_getallattrs(oldslot);
	slot_getallattrs(newslot);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped ||
			SameDatum(att, oldslot->tts_values[i], oldslot->tts_isnull[i],
					  newslot->tts_values[i], newslot->tts_isnull[i]))
			continue;
		PushKey(&st, NameStr(att->attname));
		if (IsRedacted(NameStr(att->attname), tg))
		{
			PushString(&st, "changed");
			continue;
		}
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		PushKey(&st, "old");
		PushValue(&st, att, oldslot->tts_values[i], oldslot->tts_isnull[i]);
		PushKey(&st, "new");
		PushValue(&st, att, newslot->tts_values[i], newslot->tts_isnull[i]);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * PrimaryKeyJsonb: the primary key columns of a row, NULL when the table
 * has no primary key (its row data identifies it then).
 */
static Jsonb *
PrimaryKeyJsonb(Relation rel, TupleTableSlot *slot)
{
	Bitmapset  *pk = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	TupleDesc	desc = RelationGetDescr(rel);
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			x = -1;

	if (pk == NULL)
		return NULL;
	/* only as far as the last key column (usually the first column) */
	slot_getsomeattrs(slot, bms_prev_member(pk, -1) + FirstLowInvalidHeapAttributeNumber);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	while ((x = bms_next_member(pk, x)) >= 0)
	{
		int			attno = x + FirstLowInvalidHeapAttributeNumber;
		Form_pg_attribute att;

		if (attno <= 0)
			continue;
		att = TupleDescAttr(desc, attno - 1);
		PushKey(&st, NameStr(att->attname));
		PushValue(&st, att, slot->tts_values[attno - 1], slot->tts_isnull[attno - 1]);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * QualifiedName: "schema.table" of rel, from the name cache.
 */
static const char *
QualifiedName(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TableName  *t;
	char	   *nsp;

	for (int i = 0; i < AUDIT_NAME_CACHE; i++)
		if (table_names[i].relid == relid)
			return table_names[i].name;
	nsp = get_namespace_name(RelationGetNamespace(rel));
	if (nsp == NULL)
		elog(ERROR, "schema of relation %u not found", relid);
	t = &table_names[table_names_next];
	table_names_next = (table_names_next + 1) % AUDIT_NAME_CACHE;
	snprintf(t->name, sizeof(t->name), "%s.%s", nsp, RelationGetRelationName(rel));
	t->relid = relid;
	return t->name;
}

PG_FUNCTION_INFO_V1(machi_audit_row);

/*
 * machi.audit_row(): the audit trigger (see the file header).  Its
 * arguments name the table's columns to redact besides those recognised by
 * name.  Must be AFTER; row-level for INSERT/UPDATE/DELETE, statement-level
 * for TRUNCATE.
 */
Datum
machi_audit_row(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	MemoryContext old;
	AuditRecord r;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("machi.audit_row() must be called as an AFTER trigger")));
	rel = td->tg_relation;

	old = MemoryContextSwitchTo(RowContext());
	memset(&r, 0, sizeof(r));
	r.logged_at = GetCurrentTimestamp();
	r.event = "row";
	r.table_name = QualifiedName(rel);
	CaptureWho(&r.who);

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		r.op = "TRUNCATE";
	else if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		MemoryContextSwitchTo(old);
		return PointerGetDatum(NULL);	/* nothing to say per statement */
	}
	else if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		/* the new row itself is in the table; later UPDATEs record changes */
		r.op = "INSERT";
		r.pk = PrimaryKeyJsonb(rel, td->tg_trigslot);
		if (r.pk == NULL)
			r.detail = RowJsonb(td->tg_trigslot, td->tg_trigger);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		r.op = "DELETE";
		r.pk = PrimaryKeyJsonb(rel, td->tg_trigslot);
		r.detail = RowJsonb(td->tg_trigslot, td->tg_trigger);
	}
	else
	{
		r.op = "UPDATE";
		r.pk = PrimaryKeyJsonb(rel, td->tg_newslot);
		r.detail = ChangesJsonb(td->tg_trigslot, td->tg_newslot, td->tg_trigger);
	}
	WriteRecord(&r);
	MemoryContextSwitchTo(old);
	MemoryContextReset(audit_row_cxt);
	return PointerGetDatum(NULL);
}

/* ---- events ---- */

/*
 * CheckEventType: event types are short lower-case words; "row" is the
 * trigger's.
 */
static inline void
CheckEventType(const char *type)
{
	size_t		n = type ? strlen(type) : 0;
	bool		ok = n > 0 && n <= 40 && strcmp(type, "row") != 0;

	for (size_t i = 0; ok && i < n; i++)
		ok = (type[i] >= 'a' && type[i] <= 'z') || type[i] == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid audit event type \"%s\"", type ? type : ""),
				 errhint("Use lower-case letters and underscores, at most 40, and not \"row\".")));
}

/*
 * MachiAuditEvent: record an event of the given type with the caller
 * context of now and detail (a jsonb object, may be NULL).  Inside
 * api.handle the event is written when the request ends, whatever the
 * route's outcome; elsewhere it is written at once, in the current
 * (sub)transaction.  Caller must be in a transaction.
 */
void
MachiAuditEvent(const char *type, Jsonb *detail)
{
	AuditRecord *r;
	MemoryContext old;

	CheckEventType(type);
	if (detail != NULL && !JB_ROOT_IS_OBJECT(detail))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audit event detail must be a JSON object")));

	if (request_depth > 0)
	{
		old = MemoryContextSwitchTo(TopTransactionContext);
		r = palloc0(sizeof(AuditRecord));
		r->event = pstrdup(type);
		if (detail)
		{
			r->detail = palloc(VARSIZE(detail));
			memcpy(r->detail, detail, VARSIZE(detail));
		}
		r->logged_at = GetCurrentTimestamp();
		CaptureWho(&r->who);
		deferred_events = lappend(deferred_events, r);
		MemoryContextSwitchTo(old);
		return;
	}

	old = MemoryContextSwitchTo(RowContext());
	r = palloc0(sizeof(AuditRecord));
	r->event = type;
	r->detail = detail;
	r->logged_at = GetCurrentTimestamp();
	CaptureWho(&r->who);
	WriteRecord(r);
	MemoryContextSwitchTo(old);
	MemoryContextReset(audit_row_cxt);
}

/*
 * MachiAuditEventJson: MachiAuditEvent with the detail as JSON text (NULL
 * for none), for callers that find building jsonb in C tedious.
 */
void
MachiAuditEventJson(const char *type, const char *json)
{
	Jsonb	   *detail = NULL;

	if (json != NULL)
		detail = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	MachiAuditEvent(type, detail);
}

/*
 * MachiAuditRequestBegin: api.handle starts serving a request; events wait
 * until MachiAuditRequestEnd.
 */
void
MachiAuditRequestBegin(void)
{
	request_depth++;
}

/*
 * MachiAuditRequestEnd: api.handle has its response.  Writes the events
 * raised during the request, then the API call record: method, route
 * pattern, path, status, SQLSTATE of a failure, duration.  The caller
 * context must be the request's (authenticated or anonymous).
 */
void
MachiAuditRequestEnd(const MachiHttpRequest *hr, const MachiHttpResponse *out)
{
	List	   *events = deferred_events;
	ListCell   *lc;
	MemoryContext old;
	AuditRecord r;
	JsonbParseState *st = NULL;

	if (request_depth > 0)
		request_depth--;
	if (request_depth == 0)
		deferred_events = NIL;
	else
		events = NIL;			/* an outer request writes them */

	foreach(lc, events)
	{
		AuditRecord *e = (AuditRecord *) lfirst(lc);

		WriteRecord(e);
	}

	old = MemoryContextSwitchTo(RowContext());
	memset(&r, 0, sizeof(r));
	r.event = MACHI_AUDIT_API_CALL;
	r.logged_at = GetCurrentTimestamp();
	CaptureWho(&r.who);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushKey(&st, "method");
	PushString(&st, hr->method);
	PushKey(&st, "path");
	PushString(&st, hr->path);
	PushKey(&st, "route");
	if (hr->route)
		PushString(&st, hr->route);
	else
	{
		JsonbValue	v;

		v.type = jbvNull;
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	PushKey(&st, "status");
	PushInt(&st, out->status);
	if (out->error_code)
	{
		PushKey(&st, "error");
		PushString(&st, out->error_code);
	}
	PushKey(&st, "duration_us");
	PushInt(&st, hr->duration_us);
	r.detail = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	WriteRecord(&r);
	MemoryContextSwitchTo(old);
	MemoryContextReset(audit_row_cxt);
	if (events != NIL)
		list_free_deep(events);
}

/*
 * SecretArgName: whether an admin function argument may hold a secret or
 * personal data, by its name.
 */
static bool
SecretArgName(const char *name)
{
	for (int i = 0; secret_arg_words[i]; i++)
		if (strstr(name, secret_arg_words[i]) != NULL)
			return true;
	return false;
}

/*
 * MachiAuditAdminCall: record a call of an admin function (the dispatcher
 * of admin.c calls this before running the implementation): the function,
 * and its arguments clipped to AUDIT_MAX_ARG_BYTES, those named like a
 * secret or personal data as "redacted".  session_user is in every record.
 */
void
MachiAuditAdminCall(FunctionCallInfo fcinfo)
{
	Oid			fn = fcinfo->flinfo->fn_oid;
	HeapTuple	tp;
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			nargs;
	JsonbParseState *st = NULL;
	Jsonb	   *detail;
	MemoryContext old;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "machi audit admin call",
											  ALLOCSET_SMALL_SIZES);

	old = MemoryContextSwitchTo(cxt);
	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for function %u", fn);
	nargs = get_func_arg_info(tp, &types, &names, &modes);
	ReleaseSysCache(tp);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushKey(&st, "function");
	PushString(&st, psprintf("%s.%s", get_namespace_name(get_func_namespace(fn)),
							 get_func_name(fn)));
	PushKey(&st, "args");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < fcinfo->nargs && i < nargs; i++)
	{
		const char *name = names && names[i] && names[i][0] ? names[i] : psprintf("$%d", i + 1);
		JsonbValue	v;

		PushKey(&st, name);
		if (fcinfo->args[i].isnull)
		{
			v.type = jbvNull;
			pushJsonbValue(&st, WJB_VALUE, &v);
		}
		else if (SecretArgName(name))
			PushString(&st, "redacted");
		else
		{
			char	   *s = OutputFunctionCall(OutputFunction(types[i]), fcinfo->args[i].value);
			int			len = strlen(s);

			if (len > AUDIT_MAX_ARG_BYTES)
			{
				len = pg_mbcliplen(s, len, AUDIT_MAX_ARG_BYTES);
				s = psprintf("%.*s... (%d bytes)", len, s, (int) strlen(s));
			}
			PushString(&st, s);
		}
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	detail = JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
	MachiAuditEvent(MACHI_AUDIT_ADMIN_CALL, detail);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

PG_FUNCTION_INFO_V1(machi_audit_event);

/*
 * machi.audit_event(type text, detail jsonb): MachiAuditEvent for route
 * functions written in SQL.  Owner only.
 */
Datum
machi_audit_event(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("audit event type must not be null")));
	MachiAuditEvent(text_to_cstring(PG_GETARG_TEXT_PP(0)),
					PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1));
	PG_RETURN_VOID();
}

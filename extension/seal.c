/*-------------------------------------------------------------------------
 *
 * seal.c
 *	  Tamper evidence for the audit trail: machi.seal_audit() chains the
 *	  rows of finished transactions into SHA-256 seals, machi.verify_audit()
 *	  recomputes the chain.
 *
 * A seal covers every audit row whose transaction id lies in
 * [from_xid, upto_xid), where upto_xid is the xmin of a snapshot taken
 * while holding the seal lock: every transaction below it has finished, so
 * no row can join that range later, and no writer ever waits for the
 * sealer (writers take no lock the sealer holds).  Rows are hashed in the
 * order (txid, audit_id).  For each row
 *
 *		row_hash = SHA-256(canonical text of the row)
 *		seal     = SHA-256(prev_seal || row_hash_1 || ... || row_hash_n)
 *
 * where prev_seal is the previous seal (32 zero bytes for the first) and
 * the row hashes are also stored in the seal, so that a verifier can name
 * the first row that differs.  The canonical text is the text output of
 *
 *		jsonb_build_array('machi-audit-1', audit_id,
 *						  <logged_at as Unix microseconds>,
 *						  <xact_at as Unix microseconds>, txid, event, op,
 *						  table_name, pk, detail, account_id, role,
 *						  tenant_id, act_as, db_user, client_addr, request_id)
 *
 * which AppendCanonical produces byte for byte in C, and which the
 * pure-SQL verifier machi.verify_audit_sql() computes with jsonb and
 * pgcrypto's digest(), without any code of this file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "context.h"
#include "machi.h"

#define AUDIT_CANON_TAG		"machi-audit-1"
#define SEAL_LEN			PG_SHA256_DIGEST_LENGTH
#define FETCH_ROWS			10000

/* microseconds from the Unix epoch to the PostgreSQL epoch */
#define UNIX_TO_PG_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* the audit_log columns in canonical (= table) order */
#define AUDIT_SELECT_ROWS \
	"SELECT audit_id, logged_at, xact_at, txid, event, op, table_name, pk, detail, " \
	"account_id, role, tenant_id, act_as, db_user, client_addr, request_id " \
	"FROM machi.audit_log WHERE txid OPERATOR(pg_catalog.>=) $1 " \
	"AND txid OPERATOR(pg_catalog.<) $2 ORDER BY txid, audit_id"

/*
 * Outcome of sealing or verifying, as internal codes; the SQL-callable
 * functions map them to results or errors.
 */
typedef enum AuditProblem
{
	AUDIT_OK = 0,
	AUDIT_SEAL_MISSING,			/* a seal id is absent from the chain */
	AUDIT_CHAIN_BROKEN,			/* prev_seal or from_xid does not follow on */
	AUDIT_SEAL_MISMATCH,		/* seal != SHA-256(prev_seal || row_hashes) */
	AUDIT_ROW_MISMATCH,			/* a row differs from the one sealed */
	AUDIT_ROW_MISSING,			/* a sealed row is gone */
	AUDIT_ROW_EXTRA				/* a row was added */
} AuditProblem;

static const char *const problem_names[] = {
	"ok", "seal_missing", "chain_broken", "seal_mismatch",
	"row_mismatch", "row_missing", "row_extra"
};

typedef struct AuditVerdict
{
	AuditProblem problem;
	int32		seals_checked;
	int64		rows_checked;
	int64		seal_id;		/* first broken seal, 0 = none */
	int64		audit_id;		/* first broken row, 0 = none */
	int64		position;		/* its position in the seal, -1 = none */
} AuditVerdict;

/*
 * Sha256: one-shot SHA-256 with a reusable context (creating a context
 * per row would dominate the cost of sealing).
 */
static void
Sha256(pg_cryptohash_ctx *ctx, const void *data, size_t len, uint8 *out)
{
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, SEAL_LEN) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
}

/*
 * AppendCanonical: the canonical text of one audit row (see the file
 * header), from its columns in table order.
 */
static void
AppendCanonical(StringInfo buf, const Datum *v, const bool *n)
{
	appendStringInfoString(buf, "[\"" AUDIT_CANON_TAG "\"");
	for (int i = 0; i < AUDIT_NCOLS; i++)
	{
		appendStringInfoString(buf, ", ");
		if (n[i])
		{
			appendStringInfoString(buf, "null");
			continue;
		}
		switch (i)
		{
			case AUDIT_COL_AUDIT_ID:
			case AUDIT_COL_TXID:
			case AUDIT_COL_ACCOUNT_ID:
				appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(v[i]));
				break;
			case AUDIT_COL_TENANT_ID:
				appendStringInfo(buf, "%d", DatumGetInt32(v[i]));
				break;
			case AUDIT_COL_LOGGED_AT:
			case AUDIT_COL_XACT_AT:
				appendStringInfo(buf, INT64_FORMAT,
								 (int64) DatumGetTimestampTz(v[i]) + UNIX_TO_PG_EPOCH_US);
				break;
			case AUDIT_COL_ACT_AS:
				appendStringInfoString(buf, DatumGetBool(v[i]) ? "true" : "false");
				break;
			case AUDIT_COL_PK:
			case AUDIT_COL_DETAIL:
				{
					Jsonb	   *j = DatumGetJsonbP(v[i]);

					JsonbToCString(buf, &j->root, VARSIZE(j));
				}
				break;
			case AUDIT_COL_CLIENT_ADDR:
				escape_json(buf, DatumGetCString(DirectFunctionCall1(inet_out, v[i])));
				break;
			default:
				escape_json(buf, TextDatumGetCString(v[i]));
				break;
		}
	}
	appendStringInfoChar(buf, ']');
}

/*
 * RowHashCursor: iterate over the row hashes of [from, upto) in canonical
 * order.  Caller must be connected to SPI.
 */
typedef struct RowHashCursor
{
	Portal		portal;
	SPITupleTable *tab;			/* the current batch */
	uint64		i;				/* next row in the current batch */
	uint64		n;				/* rows in the current batch */
	MemoryContext cxt;			/* per-batch memory */
	pg_cryptohash_ctx *sha;
	StringInfoData text;
	bool		done;
} RowHashCursor;

/*
 * RowHashOpen: open the cursor over the rows with from <= txid < upto.
 * sha is the caller's reusable SHA-256 context.
 */
static void
RowHashOpen(RowHashCursor *c, pg_cryptohash_ctx *sha, int64 from, int64 upto)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(from), Int64GetDatum(upto)};

	memset(c, 0, sizeof(*c));
	c->sha = sha;
	/*
	 * Not read-only: the cursor takes a snapshot of its own, newer than the
	 * one that gave upto.  A read-only cursor would use the statement's
	 * snapshot, taken before the seal lock was granted: a transaction that
	 * ended while this sealer waited would be below upto but invisible, and
	 * the seal would leave its rows out for good.
	 */
	c->portal = SPI_cursor_open_with_args(NULL, AUDIT_SELECT_ROWS, 2, types, args,
										  NULL, false, CURSOR_OPT_NO_SCROLL);
	c->cxt = AllocSetContextCreate(CurrentMemoryContext, "machi audit seal rows",
								   ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&c->text);
}

/*
 * RowHashNext: the next row's hash, audit id, txid and logged_at; false at
 * the end.
 */
static bool
RowHashNext(RowHashCursor *c, uint8 *hash, int64 *audit_id, int64 *txid,
			TimestampTz *logged_at)
{
	Datum		v[AUDIT_NCOLS];
	bool		n[AUDIT_NCOLS];
	HeapTuple	tup;
	MemoryContext old;

	if (c->done)
		return false;
	if (c->i >= c->n)
	{
		if (c->tab)
			SPI_freetuptable(c->tab);
		SPI_cursor_fetch(c->portal, true, FETCH_ROWS);
		c->tab = SPI_tuptable;
		c->n = SPI_processed;
		c->i = 0;
		if (c->n == 0)
		{
			c->done = true;
			return false;
		}
	}
	tup = c->tab->vals[c->i++];
	MemoryContextReset(c->cxt);
	old = MemoryContextSwitchTo(c->cxt);
	heap_deform_tuple(tup, c->tab->tupdesc, v, n);
	resetStringInfo(&c->text);
	AppendCanonical(&c->text, v, n);
	MemoryContextSwitchTo(old);
	Sha256(c->sha, c->text.data, c->text.len, hash);
	*audit_id = DatumGetInt64(v[AUDIT_COL_AUDIT_ID]);
	*txid = DatumGetInt64(v[AUDIT_COL_TXID]);
	*logged_at = DatumGetTimestampTz(v[AUDIT_COL_LOGGED_AT]);
	return true;
}

/*
 * RowHashClose: release the cursor and its memory.
 */
static void
RowHashClose(RowHashCursor *c)
{
	if (c->tab)
		SPI_freetuptable(c->tab);
	SPI_cursor_close(c->portal);
	MemoryContextDelete(c->cxt);
}

/*
 * SealAudit: append one seal over the rows of transactions finished since
 * the last seal; the seal ends at the first transaction boundary once it
 * holds max_rows rows (a seal never splits a transaction; the row hashes
 * of a million rows take 32 MB).  Returns the number of rows sealed (0: nothing to seal, no seal
 * made), sets *seal_id, and *more when rows were left for another seal.
 * Caller must be connected to SPI, hold the seal lock, run at READ
 * COMMITTED (each statement takes a new snapshot, so the snapshot taken
 * after the lock sees the seal a concurrent sealer just committed) and hold
 * the system context (row-level security on the audit tables).
 */
static int64
SealAudit(int64 max_rows, int64 *seal_id, bool *more)
{
	int64		xmin,
				upto,
				from = 0,
				next_id = 1,
				count = 0,
				audit_id,
				txid,
				last_txid = -1;
	uint8		prev[SEAL_LEN];
	uint8		hash[SEAL_LEN];
	uint8		seal[SEAL_LEN];
	StringInfoData hashes;
	TimestampTz min_at = DT_NOEND,
				at;
	pg_cryptohash_ctx *sha;
	RowHashCursor c;
	bool		isnull;

	*seal_id = 0;
	*more = false;
	memset(prev, 0, SEAL_LEN);

	if (SPI_execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text::int8, "
					"pg_catalog.pg_current_xact_id_if_assigned()::text::int8", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the snapshot");
	xmin = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	upto = xmin;
	{
		Datum		own = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull && DatumGetInt64(own) < upto)
			upto = DatumGetInt64(own);
	}

	if (SPI_execute("SELECT seal_id, upto_xid, seal FROM machi.audit_seal "
					"ORDER BY seal_id DESC LIMIT 1", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the last seal");
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		bytea	   *last;

		next_id = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull)) + 1;
		from = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
		last = DatumGetByteaPP(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
		if (VARSIZE_ANY_EXHDR(last) != SEAL_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the last audit seal is damaged"),
					 errhint("Run SELECT * FROM machi.verify_audit();")));
		memcpy(prev, VARDATA_ANY(last), SEAL_LEN);
	}
	if (upto <= from)
		return 0;

	sha = pg_cryptohash_create(PG_SHA256);
	if (sha == NULL)
		elog(ERROR, "out of memory");
	initStringInfo(&hashes);
	appendBinaryStringInfo(&hashes, (char *) prev, SEAL_LEN);
	RowHashOpen(&c, sha, from, upto);
	while (RowHashNext(&c, hash, &audit_id, &txid, &at))
	{
		if (count >= max_rows && txid != last_txid)
		{
			/* the rest from this transaction on goes into the next seal */
			upto = txid;
			*more = true;
			break;
		}
		appendBinaryStringInfo(&hashes, (char *) hash, SEAL_LEN);
		if (at < min_at)
			min_at = at;
		last_txid = txid;
		count++;
	}
	RowHashClose(&c);
	if (count == 0)
	{
		pg_cryptohash_free(sha);
		return 0;
	}
	Sha256(sha, hashes.data, hashes.len, seal);
	pg_cryptohash_free(sha);

	{
		Oid			types[8] = {INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID,
		BYTEAOID, BYTEAOID, BYTEAOID};
		Datum		args[8];
		bytea	   *bprev = palloc(VARHDRSZ + SEAL_LEN);
		bytea	   *bseal = palloc(VARHDRSZ + SEAL_LEN);
		bytea	   *brows = palloc(VARHDRSZ + hashes.len - SEAL_LEN);

		SET_VARSIZE(bprev, VARHDRSZ + SEAL_LEN);
		memcpy(VARDATA(bprev), prev, SEAL_LEN);
		SET_VARSIZE(bseal, VARHDRSZ + SEAL_LEN);
		memcpy(VARDATA(bseal), seal, SEAL_LEN);
		SET_VARSIZE(brows, VARHDRSZ + hashes.len - SEAL_LEN);
		memcpy(VARDATA(brows), hashes.data + SEAL_LEN, hashes.len - SEAL_LEN);
		args[0] = Int64GetDatum(next_id);
		args[1] = Int64GetDatum(from);
		args[2] = Int64GetDatum(upto);
		args[3] = Int64GetDatum(count);
		args[4] = TimestampTzGetDatum(min_at);
		args[5] = PointerGetDatum(bprev);
		args[6] = PointerGetDatum(brows);
		args[7] = PointerGetDatum(bseal);
		if (SPI_execute_with_args("INSERT INTO machi.audit_seal (seal_id, from_xid, upto_xid, "
								  "row_count, min_logged_at, prev_seal, row_hashes, seal) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
								  8, types, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert the audit seal");
	}
	*seal_id = next_id;
	return count;
}

PG_FUNCTION_INFO_V1(machi_seal_audit);

/*
 * machi.seal_audit(max_rows bigint) -> bigint: seal the audit rows of every
 * transaction finished since the last seal, in seals of about max_rows
 * rows; returns how many rows were sealed.  Run by the scheduler every
 * minute; safe to call by hand at any time (concurrent calls queue on the
 * seal lock, writers are never blocked).  SECURITY DEFINER as machi_owner;
 * runs in the system context.
 */
Datum
machi_seal_audit(PG_FUNCTION_ARGS)
{
	MachiContext saved;
	int64		max_rows = PG_ARGISNULL(0) ? 1000000 : PG_GETARG_INT64(0);
	int64		count = 0;
	int64		n;
	int64		seal_id;
	bool		more;

	if (max_rows < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be at least 1")));

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("machi.seal_audit() must run at the read committed isolation level"),
				 errdetail("A transaction snapshot would not see a seal made concurrently.")));

	MachiContextSave(&saved);
	MachiContextSetSystem("seal audit");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* partitions for this month and the next two, before anyone needs them */
	if (SPI_execute("SELECT machi.audit_maintain(2)", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "machi.audit_maintain() failed");

	/*
	 * One sealer at a time; writers never take this lock.  Taken directly:
	 * LOCK TABLE would want privileges the owner gave up.
	 */
	LockRelationOid(get_relname_relid("audit_seal", get_namespace_oid("machi", false)),
					ShareRowExclusiveLock);
	do
	{
		n = SealAudit(max_rows, &seal_id, &more);
		count += n;
	} while (more);
	SPI_finish();
	MachiContextRestore(&saved);
	if (count > 0)
		ereport(DEBUG1,
				(errmsg_internal("machi: sealed " INT64_FORMAT " audit rows, up to seal " INT64_FORMAT,
								 count, seal_id)));
	PG_RETURN_INT64(count);
}

/*
 * GetBytea: a bytea column of an SPI row, copied.
 */
static bytea *
GetBytea(HeapTuple t, TupleDesc d, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);

	if (isnull)
		return NULL;
	return DatumGetByteaPCopy(v);
}

/*
 * SameBytes: whether a bytea (may be NULL) holds exactly these bytes.
 */
static bool
SameBytes(bytea *b, const uint8 *expect, size_t len)
{
	return b != NULL && VARSIZE_ANY_EXHDR(b) == len &&
		memcmp(VARDATA_ANY(b), expect, len) == 0;
}

/*
 * VerifyAudit: recompute the chain over the seals chosen by from/to (see
 * machi.verify_audit) and stop at the first problem.  Caller must be
 * connected to SPI.
 */
static void
VerifyAudit(Datum from, bool from_null, Datum to, bool to_null, AuditVerdict *out)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2] = {from, to};
	char		nulls[3] = {from_null ? 'n' : ' ', to_null ? 'n' : ' ', '\0'};
	Portal		seals;
	pg_cryptohash_ctx *sha = pg_cryptohash_create(PG_SHA256);
	uint8		expect_prev[SEAL_LEN];
	int64		expect_from = 0,
				expect_id = 0;
	bool		first = true;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "machi audit verify",
											  ALLOCSET_DEFAULT_SIZES);

	memset(out, 0, sizeof(*out));
	out->position = -1;
	if (sha == NULL)
		elog(ERROR, "out of memory");

	seals = SPI_cursor_open_with_args(NULL,
									  "SELECT seal_id, from_xid, upto_xid, row_count, prev_seal, row_hashes, seal "
									  "FROM machi.audit_seal "
									  "WHERE CASE WHEN $1 IS NULL THEN min_logged_at OPERATOR(pg_catalog.>=) "
									  "(pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => "
									  "pg_catalog.current_setting('machi.audit_retention_days')::int)) "
									  "ELSE sealed_at OPERATOR(pg_catalog.>=) $1 END "
									  "AND ($2 IS NULL OR sealed_at OPERATOR(pg_catalog.<) $2) "
									  "ORDER BY seal_id",
									  2, types, args, nulls, true, CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		HeapTuple	t;
		TupleDesc	d;
		bool		isnull;
		int64		seal_id,
					sfrom,
					supto,
					nrows,
					pos = 0,
					audit_id = 0,
					txid;
		bytea	   *prev,
				   *rows,
				   *seal;
		uint8		hash[SEAL_LEN];
		TimestampTz at;
		RowHashCursor c;
		MemoryContext old;

		SPI_cursor_fetch(seals, true, 1);
		if (SPI_processed == 0)
			break;
		MemoryContextReset(cxt);
		old = MemoryContextSwitchTo(cxt);
		t = SPI_tuptable->vals[0];
		d = SPI_tuptable->tupdesc;
		seal_id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		sfrom = DatumGetInt64(SPI_getbinval(t, d, 2, &isnull));
		supto = DatumGetInt64(SPI_getbinval(t, d, 3, &isnull));
		nrows = DatumGetInt64(SPI_getbinval(t, d, 4, &isnull));
		prev = GetBytea(t, d, 5);
		rows = GetBytea(t, d, 6);
		seal = GetBytea(t, d, 7);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(old);
		out->seal_id = seal_id;

		/* where the chain must come from */
		if (first)
		{
			first = false;
			memset(expect_prev, 0, SEAL_LEN);
			expect_from = 0;
			expect_id = seal_id;
			if (seal_id > 1)
			{
				Datum		a[1] = {Int64GetDatum(seal_id - 1)};
				Oid			ty[1] = {INT8OID};

				if (SPI_execute_with_args("SELECT seal, upto_xid FROM machi.audit_seal WHERE seal_id = $1",
										  1, ty, a, NULL, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not read audit seal");
				if (SPI_processed == 0)
				{
					out->problem = AUDIT_SEAL_MISSING;
					break;
				}
				{
					bytea	   *ps = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0],
																  SPI_tuptable->tupdesc, 1, &isnull));

					if (isnull || VARSIZE_ANY_EXHDR(ps) != SEAL_LEN)
					{
						out->problem = AUDIT_CHAIN_BROKEN;
						break;
					}
					memcpy(expect_prev, VARDATA_ANY(ps), SEAL_LEN);
					expect_from = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
															  SPI_tuptable->tupdesc, 2, &isnull));
				}
			}
		}
		if (seal_id != expect_id)
		{
			out->problem = AUDIT_SEAL_MISSING;
			break;
		}
		if (!SameBytes(prev, expect_prev, SEAL_LEN) || sfrom != expect_from)
		{
			out->problem = AUDIT_CHAIN_BROKEN;
			break;
		}
		/* the seal over its own row hashes */
		if (rows == NULL || seal == NULL ||
			(int64) VARSIZE_ANY_EXHDR(rows) != nrows * SEAL_LEN)
		{
			out->problem = AUDIT_SEAL_MISMATCH;
			break;
		}
		{
			StringInfoData buf;

			initStringInfo(&buf);
			appendBinaryStringInfo(&buf, (char *) expect_prev, SEAL_LEN);
			appendBinaryStringInfo(&buf, VARDATA_ANY(rows), VARSIZE_ANY_EXHDR(rows));
			Sha256(sha, buf.data, buf.len, hash);
			pfree(buf.data);
			if (!SameBytes(seal, hash, SEAL_LEN))
			{
				out->problem = AUDIT_SEAL_MISMATCH;
				break;
			}
		}
		/* the rows against their sealed hashes */
		RowHashOpen(&c, sha, sfrom, supto);
		while (RowHashNext(&c, hash, &audit_id, &txid, &at))
		{
			if (pos >= nrows)
			{
				out->problem = AUDIT_ROW_EXTRA;
				break;
			}
			if (memcmp(hash, VARDATA_ANY(rows) + pos * SEAL_LEN, SEAL_LEN) != 0)
			{
				uint8		next[SEAL_LEN];
				int64		next_id,
							next_txid;
				TimestampTz next_at;

				/*
				 * Name the damage: the row found is the next one sealed (a
				 * sealed row was removed here), or the next row found is the
				 * one sealed here (the row found was added), or else the row
				 * is not the one sealed (edited, reordered).
				 */
				if (pos + 1 < nrows &&
					memcmp(hash, VARDATA_ANY(rows) + (pos + 1) * SEAL_LEN, SEAL_LEN) == 0)
				{
					out->problem = AUDIT_ROW_MISSING;
					audit_id = 0;
				}
				else if (RowHashNext(&c, next, &next_id, &next_txid, &next_at) &&
						 memcmp(next, VARDATA_ANY(rows) + pos * SEAL_LEN, SEAL_LEN) == 0)
					out->problem = AUDIT_ROW_EXTRA;
				else
					out->problem = AUDIT_ROW_MISMATCH;
				break;
			}
			pos++;
			out->rows_checked++;
		}
		RowHashClose(&c);
		if (out->problem == AUDIT_OK && pos < nrows)
		{
			out->problem = AUDIT_ROW_MISSING;
			out->position = pos;
			break;
		}
		if (out->problem != AUDIT_OK)
		{
			out->audit_id = audit_id;
			out->position = pos;
			break;
		}
		out->seals_checked++;
		memcpy(expect_prev, VARDATA_ANY(seal), SEAL_LEN);
		expect_from = supto;
		expect_id = seal_id + 1;
	}
	SPI_cursor_close(seals);
	pg_cryptohash_free(sha);
	MemoryContextDelete(cxt);
	if (out->problem == AUDIT_OK)
		out->seal_id = 0;
}

PG_FUNCTION_INFO_V1(machi_verify_audit);

/*
 * machi.verify_audit(from timestamptz, to timestamptz) -> one row (ok,
 * seals_checked, rows_checked, broken_seal_id, broken_audit_id,
 * broken_position, problem).  Checks the seals made in [from, to) (from
 * NULL: every seal whose rows are all within the retention period; to
 * NULL: up to the last), each against its predecessor and its rows.  Runs
 * with the caller's rights: machi_auditor and machi_admin may read the
 * trail.
 */
Datum
machi_verify_audit(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	AuditVerdict v;
	Datum		values[7];
	bool		nulls[7] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "machi.verify_audit must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	VerifyAudit(PG_GETARG_DATUM(0), PG_ARGISNULL(0), PG_GETARG_DATUM(1), PG_ARGISNULL(1), &v);
	SPI_finish();

	values[0] = BoolGetDatum(v.problem == AUDIT_OK);
	values[1] = Int32GetDatum(v.seals_checked);
	values[2] = Int64GetDatum(v.rows_checked);
	values[3] = Int64GetDatum(v.seal_id);
	nulls[3] = v.seal_id == 0;
	values[4] = Int64GetDatum(v.audit_id);
	nulls[4] = v.audit_id == 0;
	values[5] = Int64GetDatum(v.position);
	nulls[5] = v.position < 0;
	values[6] = CStringGetTextDatum(problem_names[v.problem]);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

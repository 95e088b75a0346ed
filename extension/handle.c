/*-------------------------------------------------------------------------
 *
 * handle.c
 *	  api.handle(): one HTTP request in, one HTTP response out.
 *
 * The gateway forwards every request as one call of this function.  It
 * establishes who the caller is (the caller context, see context.c), finds
 * the route in machi.route, decodes the query string and body, runs the
 * route's function inside a subtransaction, and maps any error to an HTTP
 * status with a JSON error body.  Unexpected errors become a 500 whose body
 * holds only a support id; the detail goes to the server log.
 *
 * Nothing here trusts the gateway: paths, query strings, headers and bodies
 * are checked again (UTF-8, NUL, control characters, sizes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/jsonapi.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/typcache.h"

#include "apikey.h"
#include "audit.h"
#include "auth.h"
#include "context.h"
#include "handle.h"
#include "machi.h"
#include "uri.h"

/*
 * One row of machi.route, cached per backend.  The cache is dropped when
 * machi.route changes (relcache invalidation), so a DBA's change to the
 * route table is seen by every backend at its next request.
 */
typedef struct MachiRoute
{
	char		method[8];
	char		pattern[128];
	Oid			handler;
	char		auth[16];		/* public, user, citizen, staff */
	int			max_body;
} MachiRoute;

static MachiRoute *route_cache = NULL;
static int	route_count = 0;
static bool route_callback_registered = false;

/*
 * OnRelcacheInval: forget the routes when any relation is invalidated
 * wholesale or when machi.route itself changes.  Reloading is cheap, so we
 * do not bother to compare relation ids.
 */
static void
OnRelcacheInval(Datum arg, Oid relid)
{
	Oid			route_relid = get_relname_relid("route", get_namespace_oid("machi", true));

	if (relid == InvalidOid || relid == route_relid)
	{
		if (route_cache)
			pfree(route_cache);
		route_cache = NULL;
		route_count = 0;
	}
}

/*
 * LoadRoutes: read machi.route into TopMemoryContext.  Caller must be inside
 * a transaction.
 */
static void
LoadRoutes(void)
{
	int			ret;
	uint64		i;
	MachiRoute *routes;

	if (route_cache)
		return;
	if (!route_callback_registered)
	{
		CacheRegisterRelcacheCallback(OnRelcacheInval, (Datum) 0);
		route_callback_registered = true;
	}
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute("SELECT method, pattern, handler::oid, auth, max_body "
					  "FROM machi.route ORDER BY pattern, method", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read machi.route: %d", ret);
	routes = MemoryContextAllocZero(TopMemoryContext,
									sizeof(MachiRoute) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		strlcpy(routes[i].method, SPI_getvalue(tup, desc, 1), sizeof(routes[i].method));
		strlcpy(routes[i].pattern, SPI_getvalue(tup, desc, 2), sizeof(routes[i].pattern));
		routes[i].handler = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		strlcpy(routes[i].auth, SPI_getvalue(tup, desc, 4), sizeof(routes[i].auth));
		routes[i].max_body = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	}
	route_count = (int) SPI_processed;
	SPI_finish();
	route_cache = routes;
}

/*
 * FindRoute: the most specific route matching path and method.  Raises 404
 * when no pattern matches the path and 405 (with the allowed methods in the
 * detail) when patterns match but not for this method.
 */
static const MachiRoute *
FindRoute(const char *method, const char *path, size_t pathlen, machi_uri_match *best_match)
{
	const MachiRoute *best = NULL;
	StringInfoData allow;
	int			i;

	LoadRoutes();
	initStringInfo(&allow);
	for (i = 0; i < route_count; i++)
	{
		machi_uri_match m;

		if (machi_uri_match_path(route_cache[i].pattern, path, pathlen, &m) != MACHI_URI_OK)
			continue;
		if (strcmp(route_cache[i].method, method) != 0)
		{
			if (strstr(allow.data, route_cache[i].method) == NULL)
				appendStringInfo(&allow, "%s%s", allow.len ? ", " : "", route_cache[i].method);
			continue;
		}
		if (best == NULL || m.literals > best_match->literals)
		{
			best = &route_cache[i];
			memcpy(best_match, &m, sizeof(m));
		}
	}
	if (best)
		return best;
	if (allow.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_METHOD_NOT_ALLOWED),
				 errmsg("method %s is not allowed on this resource", method),
				 errdetail("Allowed: %s.", allow.data),
				 errhidestmt(true)));
	ereport(ERROR,
			(errcode(ERRCODE_MACHI_NOT_FOUND),
			 errmsg("no such resource"),
			 errhidestmt(true)));
	return NULL;				/* keep compiler quiet */
}

/* ---- building jsonb objects from C ---- */

typedef struct JsonbBuild
{
	JsonbParseState *state;
	JsonbValue *res;
	int			nkeys;			/* keys seen, to refuse duplicates */
	char	  **keys;
	int			maxkeys;
} JsonbBuild;

static void
JsonbBuildBegin(JsonbBuild *b)
{
	memset(b, 0, sizeof(*b));
	b->res = pushJsonbValue(&b->state, WJB_BEGIN_OBJECT, NULL);
	b->maxkeys = 16;
	b->keys = palloc(sizeof(char *) * b->maxkeys);
}

static void
JsonbBuildPushString(JsonbBuild *b, const char *key, size_t klen, const char *val, size_t vlen)
{
	JsonbValue	k,
				v;

	k.type = jbvString;
	k.val.string.val = pnstrdup(key, klen);
	k.val.string.len = (int) klen;
	v.type = jbvString;
	v.val.string.val = pnstrdup(val, vlen);
	v.val.string.len = (int) vlen;
	pushJsonbValue(&b->state, WJB_KEY, &k);
	pushJsonbValue(&b->state, WJB_VALUE, &v);
}

static Jsonb *
JsonbBuildEnd(JsonbBuild *b)
{
	b->res = pushJsonbValue(&b->state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(b->res);
}

/*
 * OnQueryPair: callback of machi_uri_decode_query; refuses a key given twice
 * (parameter pollution) by remembering the keys seen.
 */
static int
OnQueryPair(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	JsonbBuild *b = (JsonbBuild *) arg;
	int			i;

	for (i = 0; i < b->nkeys; i++)
		if (strlen(b->keys[i]) == klen && memcmp(b->keys[i], key, klen) == 0)
			return 1;
	if (b->nkeys == b->maxkeys)
	{
		b->maxkeys *= 2;
		b->keys = repalloc(b->keys, sizeof(char *) * b->maxkeys);
	}
	b->keys[b->nkeys++] = pnstrdup(key, klen);
	JsonbBuildPushString(b, key, klen, val, vlen);
	return 0;
}

/*
 * DecodeForm: query string or form body to a jsonb object of strings.
 * what names the input in the error message ("query string", "form body").
 */
static Jsonb *
DecodeForm(const char *s, size_t len, const char *what)
{
	JsonbBuild	b;
	char	   *buf;
	size_t		buflen = len * 2 + 16;
	machi_uri_status st;

	JsonbBuildBegin(&b);
	buf = palloc(buflen);
	st = machi_uri_decode_query(s, len, buf, buflen, OnQueryPair, &b);
	if (st != MACHI_URI_OK)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("invalid %s: %s", what, machi_uri_status_message(st)),
				 errhidestmt(true)));
	return JsonbBuildEnd(&b);
}

/*
 * ParseJsonBody: validate and convert a JSON request body.  The parser runs
 * in its error-returning form first so that the client gets a clear message
 * instead of an internal one.
 */
static Jsonb *
ParseJsonBody(bytea *body)
{
	char	   *data = VARDATA_ANY(body);
	int			len = VARSIZE_ANY_EXHDR(body);
	char	   *cstr;
	JsonLexContext *lex;
	JsonParseErrorType err;

	if (memchr(data, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("request body is not valid JSON"),
				 errdetail("The body contains a NUL byte.")));
	if (!machi_utf8_valid((const unsigned char *) data, len))
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("request body is not valid JSON"),
				 errdetail("The body is not valid UTF-8.")));
	cstr = pnstrdup(data, len);
	lex = makeJsonLexContextCstringLen(cstr, len, PG_UTF8, true);
	err = pg_parse_json(lex, &nullSemAction);
	if (err != JSON_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("request body is not valid JSON"),
				 errdetail("%s", json_errdetail(err, lex))));
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(cstr)));
}

/*
 * HeaderValue: a header from the request's headers object, or NULL.
 */
char *
MachiHeaderValue(Jsonb *headers, const char *name)
{
	JsonbValue	k;
	JsonbValue *v;

	if (headers == NULL || !JB_ROOT_IS_OBJECT(headers))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = strlen(name);
	v = findJsonbValueFromContainer(&headers->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * CheckHeaders: the headers argument must be an object of strings without
 * NUL, CR or LF.  Returns a copy without the credential headers, which the
 * route functions never need to see.
 */
static Jsonb *
CheckHeaders(Jsonb *headers)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbBuild	b;
	char	   *key = NULL;
	int			klen = 0;

	JsonbBuildBegin(&b);
	if (headers == NULL)
		return JsonbBuildEnd(&b);
	if (!JB_ROOT_IS_OBJECT(headers))
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("headers must be a JSON object")));
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v.val.string.val;
			klen = v.val.string.len;
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_MACHI_BAD_REQUEST),
						 errmsg("header \"%.*s\" must be a string", klen, key)));
			for (int i = 0; i < v.val.string.len; i++)
			{
				char		c = v.val.string.val[i];

				if (c == '\0' || c == '\r' || c == '\n')
					ereport(ERROR,
							(errcode(ERRCODE_MACHI_BAD_REQUEST),
							 errmsg("header \"%.*s\" contains a forbidden character", klen, key)));
			}
			if ((klen == 13 && strncmp(key, "authorization", 13) == 0) ||
				(klen == 6 && strncmp(key, "cookie", 6) == 0))
				continue;
			JsonbBuildPushString(&b, key, klen, v.val.string.val, v.val.string.len);
		}
	}
	return JsonbBuildEnd(&b);
}

/*
 * ParamsJsonb: the captured {placeholders} of the route as a jsonb object.
 */
static Jsonb *
ParamsJsonb(const machi_uri_match *m)
{
	JsonbBuild	b;

	JsonbBuildBegin(&b);
	for (int i = 0; i < m->nparams; i++)
		JsonbBuildPushString(&b, m->params[i].name, m->params[i].name_len,
							 m->params[i].value, strlen(m->params[i].value));
	return JsonbBuildEnd(&b);
}

/*
 * MediaTypeIs: whether a Content-Type header names the given media type
 * (parameters such as charset ignored, case-insensitive).
 */
static bool
MediaTypeIs(const char *ctype, const char *want)
{
	size_t		n = strlen(want);

	if (ctype == NULL)
		return false;
	while (*ctype == ' ')
		ctype++;
	return pg_strncasecmp(ctype, want, n) == 0 &&
		(ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/*
 * RunRoute: everything after the caller context is known, run inside the
 * subtransaction of api.handle so that any error becomes a response.  Fills
 * the response fields.
 */
static void
RunRoute(MachiHttpRequest *hr, MachiHttpResponse *out)
{
	const MachiRoute *route;
	machi_uri_match match;
	machi_uri_status st;
	Jsonb	   *query;
	Jsonb	   *data = NULL;
	Jsonb	   *headers;
	char	   *ctype;
	Oid			argtype;
	TupleDesc	desc;
	Datum		values[10];
	bool		nulls[10];
	HeapTuple	reqtup;
	Datum		result;
	HeapTupleHeader rh;
	bool		isnull;
	Datum		d;
	FmgrInfo	flinfo;
	size_t		bodylen = hr->body ? VARSIZE_ANY_EXHDR(hr->body) : 0;

	st = machi_uri_check_path(hr->path, strlen(hr->path));
	if (st == MACHI_URI_TOO_LONG)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_URI_TOO_LONG),
				 errmsg("request path is too long")));
	if (st != MACHI_URI_OK)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_BAD_REQUEST),
				 errmsg("invalid request path: %s", machi_uri_status_message(st))));
	if (strlen(hr->query) > (size_t) machi_max_query_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_URI_TOO_LONG),
				 errmsg("query string is too long"),
				 errdetail("The limit is %d bytes.", machi_max_query_bytes)));

	route = FindRoute(hr->method, hr->path, strlen(hr->path), &match);
	hr->route = route->pattern;

	if (bodylen > (size_t) route->max_body || bodylen > (size_t) machi_max_body_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_MACHI_TOO_LARGE),
				 errmsg("request body is too large"),
				 errdetail("This resource accepts at most %d bytes.",
						   Min(route->max_body, machi_max_body_bytes))));

	query = DecodeForm(hr->query, strlen(hr->query), "query string");
	headers = CheckHeaders(hr->headers);
	ctype = MachiHeaderValue(hr->headers, "content-type");
	if (bodylen > 0)
	{
		if (MediaTypeIs(ctype, "application/json") || ctype == NULL)
			data = ParseJsonBody(hr->body);
		else if (MediaTypeIs(ctype, "application/x-www-form-urlencoded"))
			data = DecodeForm(VARDATA_ANY(hr->body), bodylen, "form body");
		/* other media types (photos) reach the route as raw bytes only */
	}

	/* who is calling: an Open311 API key, a session token, or nobody */
	if (strcmp(route->auth, "apikey") == 0)
		MachiApiKeyAuthenticate(hr, data, query);
	else
		MachiAuthenticate(hr, route->auth);

	/* build machi.request and call the route function */
	argtype = get_func_rettype(route->handler);	/* machi.response */
	{
		Oid		   *argtypes;
		int			nargs;

		(void) argtype;
		get_func_signature(route->handler, &argtypes, &nargs);
		if (nargs != 1)
			elog(ERROR, "route function %u must take one machi.request", route->handler);
		argtype = argtypes[0];
	}
	desc = lookup_rowtype_tupdesc_copy(argtype, -1);
	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(hr->method);
	values[1] = CStringGetTextDatum(hr->path);
	values[2] = CStringGetTextDatum(route->pattern);
	values[3] = JsonbPGetDatum(ParamsJsonb(&match));
	values[4] = JsonbPGetDatum(query);
	values[5] = JsonbPGetDatum(headers);
	values[6] = hr->body ? PointerGetDatum(hr->body) : (Datum) 0;
	nulls[6] = hr->body == NULL;
	values[7] = data ? JsonbPGetDatum(data) : (Datum) 0;
	nulls[7] = data == NULL;
	values[8] = hr->client_addr;
	nulls[8] = hr->client_addr_null;
	values[9] = CStringGetTextDatum(hr->request_id);
	if (desc->natts != 10)
		elog(ERROR, "machi.request has %d attributes, expected 10", desc->natts);
	reqtup = heap_form_tuple(desc, values, nulls);

	fmgr_info(route->handler, &flinfo);
	result = FunctionCall1(&flinfo, HeapTupleGetDatum(reqtup));
	rh = DatumGetHeapTupleHeader(result);

	d = GetAttributeByNum(rh, 1, &isnull);
	out->status = isnull ? 200 : DatumGetInt32(d);
	d = GetAttributeByNum(rh, 2, &isnull);
	out->headers = isnull ? NULL : DatumGetJsonbPCopy(d);
	d = GetAttributeByNum(rh, 3, &isnull);
	out->json = isnull ? NULL : DatumGetJsonbPCopy(d);
	d = GetAttributeByNum(rh, 4, &isnull);
	out->raw = isnull ? NULL : DatumGetByteaPCopy(d);
}

/*
 * HttpStatusFor: the HTTP status of an error.  Class MC carries it in the
 * code; the standard classes that client input can provoke are mapped;
 * everything else is a 500.
 */
static int
HttpStatusFor(int sqlerrcode)
{
	const char *s = unpack_sql_state(sqlerrcode);

	if (s[0] == 'M' && s[1] == 'C' && isdigit((unsigned char) s[2]))
		return atoi(s + 2);
	switch (sqlerrcode)
	{
		case ERRCODE_UNIQUE_VIOLATION:
		case ERRCODE_EXCLUSION_VIOLATION:
			return 409;
		case ERRCODE_FOREIGN_KEY_VIOLATION:
		case ERRCODE_CHECK_VIOLATION:
			return 422;
		case ERRCODE_NOT_NULL_VIOLATION:
			return 400;
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			/* an RLS WITH CHECK failure: the row is not the caller's */
			return 403;
		case ERRCODE_NO_DATA_FOUND:
			return 404;
		case ERRCODE_QUERY_CANCELED:
		case ERRCODE_LOCK_NOT_AVAILABLE:
		case ERRCODE_T_R_SERIALIZATION_FAILURE:
		case ERRCODE_T_R_DEADLOCK_DETECTED:
		case ERRCODE_ADMIN_SHUTDOWN:
		case ERRCODE_READ_ONLY_SQL_TRANSACTION:
			return 503;
		case ERRCODE_STATEMENT_TOO_COMPLEX:
		case ERRCODE_PROGRAM_LIMIT_EXCEEDED:
			return 413;
	}
	/* data exceptions that bad input provokes (not, say, division by zero) */
	switch (sqlerrcode)
	{
		case ERRCODE_INVALID_TEXT_REPRESENTATION:
		case ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE:
		case ERRCODE_STRING_DATA_RIGHT_TRUNCATION:
		case ERRCODE_INVALID_DATETIME_FORMAT:
		case ERRCODE_DATETIME_VALUE_OUT_OF_RANGE:
		case ERRCODE_INVALID_PARAMETER_VALUE:
		case ERRCODE_INVALID_ESCAPE_SEQUENCE:
		case ERRCODE_CHARACTER_NOT_IN_REPERTOIRE:
		case ERRCODE_UNTRANSLATABLE_CHARACTER:
		case ERRCODE_INVALID_REGULAR_EXPRESSION:
		case ERRCODE_INVALID_BINARY_REPRESENTATION:
			return 400;
	}
	return 500;
}

static const char *
DefaultCodeFor(int status)
{
	switch (status)
	{
		case 400:
			return "bad_request";
		case 401:
			return "unauthorized";
		case 403:
			return "forbidden";
		case 404:
			return "not_found";
		case 405:
			return "method_not_allowed";
		case 409:
			return "conflict";
		case 413:
			return "payload_too_large";
		case 414:
			return "uri_too_long";
		case 415:
			return "unsupported_media_type";
		case 422:
			return "unprocessable";
		case 429:
			return "too_many_requests";
		case 503:
			return "unavailable";
	}
	return "internal_error";
}

/*
 * ErrorResponse: turn a caught error into a response.  Messages of mapped
 * errors go to the client (they are written for the client); for a 500 the
 * client gets the support id and the log gets everything.
 */
static void
ErrorResponse(ErrorData *edata, MachiHttpRequest *hr, MachiHttpResponse *out)
{
	int			status = HttpStatusFor(edata->sqlerrcode);
	JsonbBuild	b;
	JsonbBuild	h;
	StringInfoData buf;

	/* RAISE ... USING COLUMN = '' means "no field" */
	if (edata->column_name && edata->column_name[0] == '\0')
		edata->column_name = NULL;
	if (edata->constraint_name && edata->constraint_name[0] == '\0')
		edata->constraint_name = NULL;
	if (edata->detail && edata->detail[0] == '\0')
		edata->detail = NULL;

	initStringInfo(&buf);
	JsonbBuildBegin(&h);
	JsonbBuildBegin(&b);
	if (status == 500)
	{
		ereport(LOG,
				(errmsg("machi: internal error, support id %s: %s", hr->request_id,
						edata->message ? edata->message : "(no message)"),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 edata->context ? errcontext("%s", edata->context) : 0));
		JsonbBuildPushString(&b, "code", 4, "internal_error", 14);
		JsonbBuildPushString(&b, "message", 7, "internal error", 14);
		JsonbBuildPushString(&b, "support_id", 10, hr->request_id, strlen(hr->request_id));
	}
	else
	{
		/* our own codes travel in the constraint field; real constraint names stay private */
		const char *code = edata->constraint_name &&
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ?
		edata->constraint_name : DefaultCodeFor(status);
		const char *msg = edata->message ? edata->message : "";

		if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
			msg = "conflicts with an existing record";
		else if (edata->sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION)
			msg = "refers to something that does not exist";
		else if (edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			msg = "not permitted";
		JsonbBuildPushString(&b, "code", 4, code, strlen(code));
		JsonbBuildPushString(&b, "message", 7, msg, strlen(msg));
		if (edata->detail && ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			JsonbBuildPushString(&b, "detail", 6, edata->detail, strlen(edata->detail));
		if (edata->column_name)
			JsonbBuildPushString(&b, "field", 5, edata->column_name, strlen(edata->column_name));
		if (status == 405 && edata->detail)
		{
			/* "Allowed: GET, POST." -> "GET, POST" */
			const char *p = edata->detail + strlen("Allowed: ");
			size_t		n = strlen(p);

			if (n > 0 && p[n - 1] == '.')
				n--;
			JsonbBuildPushString(&h, "allow", 5, p, n);
		}
		if (status == 429 || status == 503)
		{
			int			secs = 1;

			if (edata->hint && sscanf(edata->hint, "Retry after %d", &secs) != 1)
				secs = 1;
			appendStringInfo(&buf, "%d", secs);
			JsonbBuildPushString(&h, "retry-after", 11, buf.data, buf.len);
		}
	}
	{
		/* wrap as {"error": {...}} */
		Jsonb	   *inner = JsonbBuildEnd(&b);
		JsonbParseState *st = NULL;
		JsonbValue	k,
					v,
				   *res;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		k.type = jbvString;
		k.val.string.val = "error";
		k.val.string.len = 5;
		pushJsonbValue(&st, WJB_KEY, &k);
		v.type = jbvBinary;
		v.val.binary.data = &inner->root;
		v.val.binary.len = VARSIZE(inner) - VARHDRSZ;
		pushJsonbValue(&st, WJB_VALUE, &v);
		res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		out->json = JsonbValueToJsonb(res);
	}
	out->status = status;
	out->headers = JsonbBuildEnd(&h);
	out->raw = NULL;
	out->error_code = pstrdup(unpack_sql_state(edata->sqlerrcode));
}

/*
 * CheckRequestId: keep a gateway-supplied request id only when it is short
 * and made of safe characters (it goes into logs and headers); otherwise
 * make one.
 */
static char *
CheckRequestId(text *t)
{
	char	   *s = t ? text_to_cstring(t) : NULL;
	size_t		n = s ? strlen(s) : 0;
	bool		ok = n > 0 && n <= 64;

	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char) s[i]) || s[i] == '-' || s[i] == '_';
	if (!ok)
	{
		uint8		r[16];
		char	   *hex = palloc(33);

		if (!pg_strong_random(r, sizeof(r)))
			elog(ERROR, "could not generate a request id");
		for (int i = 0; i < 16; i++)
			sprintf(hex + i * 2, "%02x", r[i]);
		return hex;
	}
	return s;
}

/*
 * MergeHeaders: the response headers object: the route's headers plus a
 * content type and cache policy when the route did not set them.
 */
static Jsonb *
MergeHeaders(MachiHttpResponse *out, const char *request_id)
{
	JsonbBuild	b;
	bool		have_ctype = false,
				have_cache = false;

	JsonbBuildBegin(&b);
	if (out->headers && JB_ROOT_IS_OBJECT(out->headers))
	{
		JsonbIterator *it = JsonbIteratorInit(&out->headers->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *key = NULL;
		int			klen = 0;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				key = v.val.string.val;
				klen = v.val.string.len;
			}
			else if (tok == WJB_VALUE && v.type == jbvString)
			{
				if (klen == 12 && pg_strncasecmp(key, "content-type", 12) == 0)
					have_ctype = true;
				if (klen == 13 && pg_strncasecmp(key, "cache-control", 13) == 0)
					have_cache = true;
				JsonbBuildPushString(&b, key, klen, v.val.string.val, v.val.string.len);
			}
		}
	}
	if (!have_ctype)
		JsonbBuildPushString(&b, "content-type", 12, "application/json; charset=utf-8", 31);
	if (!have_cache)
		JsonbBuildPushString(&b, "cache-control", 13, "no-store", 8);
	JsonbBuildPushString(&b, "x-request-id", 12, request_id, strlen(request_id));
	return JsonbBuildEnd(&b);
}

PG_FUNCTION_INFO_V1(machi_relcache_changed);

/*
 * machi_relcache_changed: statement trigger on tables that backends cache
 * (machi.route: the routes; machi.data_key: unwrapped keys).  Data changes
 * do not invalidate the relcache by themselves; this makes every backend's
 * relcache callback drop its cache when the change commits (and this
 * backend's at once).
 */
Datum
machi_relcache_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "machi_relcache_changed must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(machi_api_handle);

/*
 * api.handle(method, path, query, headers, body, client_addr, request_id)
 *	  -> (status int, headers jsonb, body bytea)
 *
 * SECURITY DEFINER as machi_owner.  Never raises for a client's mistake:
 * every error of the route becomes a response.  The caller context it sets
 * lasts only for the call; the previous one (for example machi.act_as in a
 * DBA's session) is put back afterwards.
 */
Datum
machi_api_handle(PG_FUNCTION_ARGS)
{
	MachiHttpRequest hr;
	MachiHttpResponse out;
	MachiContext saved;
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	TimestampTz start = GetCurrentTimestamp();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "api.handle must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(&hr, 0, sizeof(hr));
	memset(&out, 0, sizeof(out));
	hr.method = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	hr.path = PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	hr.query = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	hr.headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	hr.body = PG_ARGISNULL(4) ? NULL : PG_GETARG_BYTEA_PP(4);
	hr.client_addr = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	hr.client_addr_null = PG_ARGISNULL(5);
	hr.client_addr_text = PG_ARGISNULL(5) ? "" :
		DatumGetCString(DirectFunctionCall1(inet_out, PG_GETARG_DATUM(5)));
	hr.request_id = CheckRequestId(PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6));
	hr.route = NULL;

	MachiContextSave(&saved);
	hr.outer = &saved;
	MachiContextSetAnonymous(hr.client_addr_text, hr.request_id);
	MachiAuditRequestBegin();

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		RunRoute(&hr, &out);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		/* the verified caller survives the route's failure, for the audit */
		MachiAuthRestoreAfterError(&hr);
		ErrorResponse(edata, &hr, &out);
		FreeErrorData(edata);
	}
	PG_END_TRY();

	hr.duration_us = (int64) (GetCurrentTimestamp() - start);
	MachiAuditRequestEnd(&hr, &out);

	values[0] = Int32GetDatum(out.status);
	values[1] = JsonbPGetDatum(MergeHeaders(&out, hr.request_id));
	if (out.raw)
		values[2] = PointerGetDatum(out.raw);
	else if (out.json)
	{
		char	   *s = JsonbToCString(NULL, &out.json->root, VARSIZE(out.json));

		values[2] = PointerGetDatum(cstring_to_text(s));	/* same layout as bytea */
	}
	else
		values[2] = PointerGetDatum(cstring_to_text(""));

	MachiContextRestore(&saved);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*-------------------------------------------------------------------------
 *
 * apikey.c
 *	  Open311 API keys: issuing (machi.create_api_key) and checking the
 *	  api_key parameter of Open311 requests.
 *
 * A key is 32 random bytes, shown once as "mk_" + base64url; only its
 * SHA-256 is stored (machi.api_key.key_hash), so a copy of the table does
 * not let anyone post.  A valid key makes the caller an Open311 client of
 * the key's tenant (see MachiContextSetApiClient); routes with auth
 * "apikey" accept calls without a key too and then serve public data only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include <sodium.h>

#include "apikey.h"
#include "context.h"
#include "machi.h"

#define KEY_BYTES 32
#define KEY_PREFIX "mk_"

/*
 * JsonbString: the string value of key in an object, or NULL.
 */
static char *
JsonbString(Jsonb *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * KeyHash: SHA-256 of the key text as a bytea.
 */
static bytea *
KeyHash(const char *key)
{
	bytea	   *h = palloc(VARHDRSZ + crypto_hash_sha256_BYTES);

	SET_VARSIZE(h, VARHDRSZ + crypto_hash_sha256_BYTES);
	crypto_hash_sha256((unsigned char *) VARDATA(h), (const unsigned char *) key, strlen(key));
	return h;
}

/*
 * MachiApiKeyAuthenticate: when the request carries api_key (form body or
 * query string), it must be a valid, unrevoked key: the caller becomes an
 * Open311 client of its tenant.  A wrong key is a 403 (Open311 clients
 * expect that, in their error format), never a silent downgrade to
 * anonymous.  Without a key the
 * caller stays anonymous.
 */
void
MachiApiKeyAuthenticate(MachiHttpRequest *hr, Jsonb *data, Jsonb *query)
{
	char	   *key = JsonbString(data, "api_key");
	MachiContext saved;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	int			ret;
	int32		tenant = 0;
	int64		key_id = 0;

	if (key == NULL)
		key = JsonbString(query, "api_key");
	memcpy(&hr->authed, MachiContextGet(), sizeof(MachiContext));
	hr->have_authed = true;
	if (key == NULL)
		return;

	values[0] = PointerGetDatum(KeyHash(key));
	MachiContextSave(&saved);
	MachiContextSetSystem("api key lookup");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute_with_args("SELECT k.tenant_id, k.key_id FROM machi.api_key k "
								"JOIN machi.tenant t USING (tenant_id) "
								"WHERE k.key_hash = $1 AND k.revoked_at IS NULL "
								"AND t.contract_state = 'active'",
								1, argtypes, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "api key lookup failed: %d", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;

		tenant = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		key_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	MachiContextRestore(&saved);

	/*
	 * A wrong key leaves an Open311 client with no tenant (role
	 * open311_client, tenant 0): the route answers 403 in Open311's error
	 * format; it is never silently treated as anonymous.
	 */
	MachiContextSetApiClient(tenant, key_id);
	memcpy(&hr->authed, MachiContextGet(), sizeof(MachiContext));
}

PG_FUNCTION_INFO_V1(machi_new_api_key);

/*
 * machi.new_api_key() -> (key text, key_hash bytea): a fresh random key and
 * its hash, for machi.create_api_key.  Owner only; the key itself is never
 * stored.
 */
Datum
machi_new_api_key(PG_FUNCTION_ARGS)
{
	unsigned char raw[KEY_BYTES];
	char		b64[sodium_base64_ENCODED_LEN(KEY_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char	   *key;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "machi.new_api_key must return a record");
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	key = psprintf("%s%s", KEY_PREFIX, b64);
	values[0] = CStringGetTextDatum(key);
	values[1] = PointerGetDatum(KeyHash(key));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

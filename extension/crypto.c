/*-------------------------------------------------------------------------
 *
 * crypto.c
 *	  Encryption of personal data with libsodium: the master key file,
 *	  wrapped data keys, AEAD sealing of fields, HMAC blind indexes.
 *
 * Key hierarchy.  The master key (32 bytes) lives in a file named by the
 * superuser-only GUC machi.master_key_file, outside the data directory; it
 * is never stored in a table and never printed.  Each tenant and the citizen
 * pool (scope 0) has its own data key, and scope 0 also holds the key of
 * the blind indexes; all of them are rows of machi.data_key, wrapped by the
 * master key (XChaCha20-Poly1305, with the scope and purpose as associated
 * data) and labelled with the master key's id, so machi.rotate_master_key()
 * can re-wrap them and a wrong key file is reported clearly.  Data keys are
 * created on first use and cached per backend.
 *
 * A sealed field is: version byte (1) | data key id (4 bytes, big-endian) |
 * nonce (24) | XChaCha20-Poly1305 ciphertext and tag.  The associated data
 * is the header plus table, row id and column, so a ciphertext copied to
 * another row or column fails to open.
 *
 * Blind indexes are HMAC-SHA-256 of the normalised value (NFKC; e-mail
 * lower-cased and trimmed; phone reduced to its digits) under a separate
 * key: equality lookups and uniqueness without storing the plaintext.
 *
 * Internal functions return MachiCryptoStatus; MachiCryptoThrow is the one
 * place that turns them into errors.  Opening a field is reachable from SQL
 * only through machi.pii_open(), which checks the caller first (pii.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"
#include "utils/memutils.h"

#include "context.h"
#include "crypto.h"
#include "machi.h"

#define SEAL_VERSION		1
#define SEAL_HEADER			(1 + 4)
#define SEAL_NONCE			crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG			crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WRAPPED_BYTES		(SEAL_NONCE + MACHI_KEY_BYTES + SEAL_TAG)
#define KEY_ID_HEX			16

/*
 * The master key of this backend, read from machi.master_key_file on first
 * use and forgotten when the setting changes.  Kept in sodium_malloc memory
 * (guard pages, locked, wiped on free).
 */
static unsigned char *master_key = NULL;
static char master_key_id[KEY_ID_HEX + 1];

/*
 * Unwrapped data keys, cached per backend in TopMemoryContext; wiped with
 * the master key.  Few entries (one per tenant seen by this backend).
 */
typedef struct DataKey
{
	int32		key_id;
	int32		scope;
	char		purpose;		/* 'd' data, 'i' blind index */
	unsigned char key[MACHI_KEY_BYTES];
} DataKey;

static DataKey *data_keys = NULL;
static int	n_data_keys = 0;
static int	max_data_keys = 0;

/* set by the GUC assign hook; keys are dropped at the next use */
static bool keys_stale = false;

/* machi.data_key, once known: its invalidation makes the keys stale */
static Oid	data_key_relid = InvalidOid;

/*
 * OnDataKeyInval: relcache callback.  A trigger on machi.data_key
 * invalidates its relcache entry on every UPDATE or DELETE (rotation,
 * crypto-shredding of an erased tenant), and every backend then forgets its
 * unwrapped keys before the next use.
 */
static void
OnDataKeyInval(Datum arg, Oid relid)
{
	if (relid == InvalidOid || (OidIsValid(data_key_relid) && relid == data_key_relid))
		keys_stale = true;
}

/*
 * MachiCryptoInit: initialise libsodium.  Called once from _PG_init; the
 * library is safe to initialise more than once.
 */
void
MachiCryptoInit(void)
{
	if (sodium_init() < 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("machi: could not initialise libsodium")));
	CacheRegisterRelcacheCallback(OnDataKeyInval, (Datum) 0);
}

/*
 * MachiCryptoForgetKeys: wipe the master key and every cached data key.
 * Called when machi.master_key_file changes (through keys_stale) and after a
 * rotation.
 */
void
MachiCryptoForgetKeys(void)
{
	if (master_key)
	{
		sodium_free(master_key);
		master_key = NULL;
	}
	if (data_keys)
		sodium_memzero(data_keys, sizeof(DataKey) * max_data_keys);
	n_data_keys = 0;
	keys_stale = false;
}

/*
 * machi_master_key_file_assign: GUC assign hook.  Assign hooks must not
 * fail, so only note that the keys must be reloaded.
 */
void
machi_master_key_file_assign(const char *newval, void *extra)
{
	keys_stale = true;
}

/*
 * machi_master_key_file_check: GUC check hook; the path must be empty (no
 * encryption possible) or absolute.
 */
bool
machi_master_key_file_check(char **newval, void **extra, GucSource source)
{
	if (*newval && (*newval)[0] != '\0' && (*newval)[0] != '/')
	{
		GUC_check_errdetail("machi.master_key_file must be an absolute path.");
		return false;
	}
	return true;
}

/*
 * KeyId: a short public fingerprint of a master key (keyed BLAKE2b of a
 * constant), stored next to each wrapped data key.
 */
static void
KeyId(const unsigned char *key, char out[KEY_ID_HEX + 1])
{
	unsigned char h[KEY_ID_HEX / 2];
	static const char label[] = "machi master key id";

	crypto_generichash(h, sizeof(h), (const unsigned char *) label, sizeof(label) - 1,
					   key, MACHI_KEY_BYTES);
	sodium_bin2hex(out, KEY_ID_HEX + 1, h, sizeof(h));
}

/*
 * ReadKeyFile: load a master key file into key.  The file must be an
 * absolute path outside the data directory, a regular file owned by the
 * server's user and readable by nobody else, holding either exactly 32 raw
 * bytes or 64 hexadecimal digits (optionally followed by a newline).
 */
static MachiCryptoStatus
ReadKeyFile(const char *path, unsigned char *key)
{
	int			fd;
	struct stat st;
	unsigned char buf[160];
	ssize_t		n;
	char	   *real;
	char	   *realdata;
	MachiCryptoStatus rc = MACHI_CRYPTO_OK;

	if (path == NULL || path[0] == '\0')
		return MACHI_CRYPTO_NO_KEY_FILE;
	if (path[0] != '/')
		return MACHI_CRYPTO_KEY_FILE_PATH;
	real = realpath(path, NULL);
	if (real == NULL)
		return MACHI_CRYPTO_KEY_FILE_UNREADABLE;
	realdata = realpath(DataDir, NULL);
	if (realdata && strncmp(real, realdata, strlen(realdata)) == 0 &&
		real[strlen(realdata)] == '/')
		rc = MACHI_CRYPTO_KEY_FILE_PATH;
	free(real);
	free(realdata);
	if (rc != MACHI_CRYPTO_OK)
		return rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return MACHI_CRYPTO_KEY_FILE_UNREADABLE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = MACHI_CRYPTO_KEY_FILE_UNREADABLE;
	else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || st.st_uid != geteuid())
		rc = MACHI_CRYPTO_KEY_FILE_PERMS;
	else
	{
		n = read(fd, buf, sizeof(buf));
		if (n == MACHI_KEY_BYTES)
			memcpy(key, buf, MACHI_KEY_BYTES);
		else
		{
			size_t		binlen = 0;

			while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
				n--;
			if (n != MACHI_KEY_BYTES * 2 ||
				sodium_hex2bin(key, MACHI_KEY_BYTES, (const char *) buf, n,
							   NULL, &binlen, NULL) != 0 ||
				binlen != MACHI_KEY_BYTES)
				rc = MACHI_CRYPTO_KEY_FILE_FORMAT;
		}
	}
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

/*
 * MachiCryptoThrow: the boundary where crypto status codes become errors.
 * what names the object concerned (a file, a key id, a field).
 */
static void
MachiCryptoThrow(MachiCryptoStatus rc, const char *what)
{
	switch (rc)
	{
		case MACHI_CRYPTO_OK:
			return;
		case MACHI_CRYPTO_NO_KEY_FILE:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("machi.master_key_file is not set"),
					 errhint("Generate a key with \"head -c 32 /dev/urandom > FILE\" (mode 0600, owned by the server's user, outside the data directory) and set machi.master_key_file in postgresql.conf.")));
			break;
		case MACHI_CRYPTO_KEY_FILE_PATH:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("master key file \"%s\" must be an absolute path outside the data directory", what),
					 errdetail("A key inside the data directory would end up in every backup next to the data it protects.")));
			break;
		case MACHI_CRYPTO_KEY_FILE_UNREADABLE:
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read master key file \"%s\": %m", what)));
			break;
		case MACHI_CRYPTO_KEY_FILE_PERMS:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("master key file \"%s\" has loose permissions", what),
					 errdetail("It must be owned by the database server's user and have mode 0600 or 0400."),
					 errhint("Run: chmod 0600 %s", what)));
			break;
		case MACHI_CRYPTO_KEY_FILE_FORMAT:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("master key file \"%s\" is not a key", what),
					 errdetail("It must hold exactly 32 random bytes, or 64 hexadecimal digits.")));
			break;
		case MACHI_CRYPTO_WRONG_MASTER:
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("data key %s is wrapped by another master key than the one in machi.master_key_file", what),
					 errhint("Point machi.master_key_file at the key file last given to machi.rotate_master_key().")));
			break;
		case MACHI_CRYPTO_UNWRAP_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("data key %s could not be unwrapped", what)));
			break;
		case MACHI_CRYPTO_UNKNOWN_KEY:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s is sealed with a data key that no longer exists", what)));
			break;
		case MACHI_CRYPTO_BAD_FORMAT:
		case MACHI_CRYPTO_AUTH_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s could not be decrypted", what),
					 errdetail("The ciphertext is damaged or belongs to another row or column.")));
			break;
	}
}

/*
 * MasterKey: the master key, loaded on first use.  Raises a clear error when
 * the file is missing, misplaced, unreadable, not private or malformed.
 */
static const unsigned char *
MasterKey(void)
{
	MachiCryptoStatus rc;

	if (keys_stale)
		MachiCryptoForgetKeys();
	if (master_key)
		return master_key;
	master_key = sodium_malloc(MACHI_KEY_BYTES);
	if (master_key == NULL)
		elog(ERROR, "sodium_malloc failed");
	rc = ReadKeyFile(machi_master_key_file, master_key);
	if (rc != MACHI_CRYPTO_OK)
	{
		sodium_free(master_key);
		master_key = NULL;
		MachiCryptoThrow(rc, machi_master_key_file);
	}
	KeyId(master_key, master_key_id);
	return master_key;
}

/*
 * WrapAd: associated data of a wrapped data key: its scope and purpose, so
 * a wrapped key moved to another tenant's row does not unwrap.
 */
static char *
WrapAd(int scope, char purpose)
{
	return psprintf("machi data key|%d|%c", scope, purpose);
}

/*
 * Wrap / Unwrap a data key with a master key.
 */
static void
Wrap(const unsigned char *mkey, int scope, char purpose, const unsigned char *key,
	 unsigned char out[WRAPPED_BYTES])
{
	char	   *ad = WrapAd(scope, purpose);

	randombytes_buf(out, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE, NULL, key, MACHI_KEY_BYTES,
											   (unsigned char *) ad, strlen(ad), NULL,
											   out, mkey);
}

static MachiCryptoStatus
Unwrap(const unsigned char *mkey, int scope, char purpose, const unsigned char *wrapped,
	   size_t len, unsigned char *key)
{
	char	   *ad = WrapAd(scope, purpose);

	if (len != WRAPPED_BYTES)
		return MACHI_CRYPTO_UNWRAP_FAILED;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, NULL, NULL, wrapped + SEAL_NONCE,
												   len - SEAL_NONCE, (unsigned char *) ad,
												   strlen(ad), wrapped, mkey) != 0)
		return MACHI_CRYPTO_UNWRAP_FAILED;
	return MACHI_CRYPTO_OK;
}

/*
 * CacheKey: remember an unwrapped data key.
 */
static DataKey *
CacheKey(int32 key_id, int32 scope, char purpose, const unsigned char *key)
{
	DataKey    *k;

	if (n_data_keys == max_data_keys)
	{
		int			newmax = max_data_keys ? max_data_keys * 2 : 16;
		DataKey    *n = MemoryContextAllocZero(TopMemoryContext, sizeof(DataKey) * newmax);

		if (data_keys)
		{
			memcpy(n, data_keys, sizeof(DataKey) * n_data_keys);
			sodium_memzero(data_keys, sizeof(DataKey) * max_data_keys);
			pfree(data_keys);
		}
		data_keys = n;
		max_data_keys = newmax;
	}
	k = &data_keys[n_data_keys++];
	k->key_id = key_id;
	k->scope = scope;
	k->purpose = purpose;
	memcpy(k->key, key, MACHI_KEY_BYTES);
	return k;
}

/*
 * LoadKey: fetch a data key from machi.data_key, by id (key_id > 0) or by
 * scope and purpose, creating it when by_scope and create are set.  Runs the
 * table access in the system context (machi.data_key is for operators only)
 * and puts the caller's context back.  Returns NULL when there is no such
 * key.  Caller must be in a transaction.
 */
static DataKey *
LoadKey(int32 key_id, int32 scope, char purpose, bool create)
{
	MachiContext saved;
	const unsigned char *mkey = MasterKey();
	int			ret;
	bool		isnull;
	DataKey    *result = NULL;
	unsigned char key[MACHI_KEY_BYTES];
	MachiCryptoStatus rc = MACHI_CRYPTO_OK;
	char	   *what = NULL;

	if (!OidIsValid(data_key_relid))
		data_key_relid = get_relname_relid("data_key", get_namespace_oid("machi", false));
	MachiContextSave(&saved);
	MachiContextSetSystem("data key");
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);

	if (key_id > 0)
	{
		Oid			types[1] = {INT4OID};
		Datum		vals[1] = {Int32GetDatum(key_id)};

		ret = SPI_execute_with_args("SELECT key_id, tenant_id, purpose, wrapped, master_key_id "
									"FROM machi.data_key WHERE key_id = $1",
									1, types, vals, NULL, false, 1);
	}
	else
	{
		Oid			types[2] = {INT4OID, CHAROID};
		Datum		vals[2] = {Int32GetDatum(scope), CharGetDatum(purpose)};

		ret = SPI_execute_with_args("SELECT key_id, tenant_id, purpose, wrapped, master_key_id "
									"FROM machi.data_key WHERE tenant_id = $1 AND purpose = $2",
									2, types, vals, NULL, false, 1);
		if (ret == SPI_OK_SELECT && SPI_processed == 0 && create)
		{
			unsigned char wrapped[WRAPPED_BYTES];
			bytea	   *w = palloc(VARHDRSZ + WRAPPED_BYTES);
			Oid			itypes[4] = {INT4OID, CHAROID, BYTEAOID, TEXTOID};
			Datum		ivals[4];

			randombytes_buf(key, sizeof(key));
			Wrap(mkey, scope, purpose, key, wrapped);
			SET_VARSIZE(w, VARHDRSZ + WRAPPED_BYTES);
			memcpy(VARDATA(w), wrapped, WRAPPED_BYTES);
			ivals[0] = Int32GetDatum(scope);
			ivals[1] = CharGetDatum(purpose);
			ivals[2] = PointerGetDatum(w);
			ivals[3] = CStringGetTextDatum(master_key_id);
			/* a concurrent creator wins; we then read its key */
			ret = SPI_execute_with_args("INSERT INTO machi.data_key (tenant_id, purpose, wrapped, master_key_id) "
										"VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, purpose) DO NOTHING",
										4, itypes, ivals, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not create data key: %d", ret);
			sodium_memzero(key, sizeof(key));
			ret = SPI_execute_with_args("SELECT key_id, tenant_id, purpose, wrapped, master_key_id "
										"FROM machi.data_key WHERE tenant_id = $1 AND purpose = $2",
										2, types, vals, NULL, false, 1);
		}
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "data key lookup failed: %d", ret);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int32		id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		int32		sc = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		char		pu = DatumGetChar(SPI_getbinval(tup, desc, 3, &isnull));
		bytea	   *w = DatumGetByteaPP(SPI_getbinval(tup, desc, 4, &isnull));
		char	   *mid = SPI_getvalue(tup, desc, 5);

		what = psprintf("%d", id);
		if (strcmp(mid, master_key_id) != 0)
			rc = MACHI_CRYPTO_WRONG_MASTER;
		else
			rc = Unwrap(mkey, sc, pu, (unsigned char *) VARDATA_ANY(w),
						VARSIZE_ANY_EXHDR(w), key);
		if (rc == MACHI_CRYPTO_OK)
			result = CacheKey(id, sc, pu, key);
		sodium_memzero(key, sizeof(key));
	}
	SPI_finish();
	MachiContextRestore(&saved);
	MachiCryptoThrow(rc, what);
	return result;
}

/*
 * KeyForScope: the data key of a scope and purpose, created on first use.
 */
static DataKey *
KeyForScope(int32 scope, char purpose)
{
	if (keys_stale)
		MachiCryptoForgetKeys();
	for (int i = 0; i < n_data_keys; i++)
		if (data_keys[i].scope == scope && data_keys[i].purpose == purpose)
			return &data_keys[i];
	return LoadKey(0, scope, purpose, true);
}

/*
 * KeyById: the data key a ciphertext names, or NULL when it no longer exists
 * (a crypto-shredded tenant).
 */
static DataKey *
KeyById(int32 key_id)
{
	if (keys_stale)
		MachiCryptoForgetKeys();
	for (int i = 0; i < n_data_keys; i++)
		if (data_keys[i].key_id == key_id)
			return &data_keys[i];
	return LoadKey(key_id, 0, 'd', false);
}

/*
 * SealAd: associated data of a sealed field: header, table, row, column.
 */
static char *
SealAd(const unsigned char *header, const char *table, int64 row_id, const char *column,
	   size_t *len)
{
	StringInfoData ad;

	initStringInfo(&ad);
	appendBinaryStringInfo(&ad, (const char *) header, SEAL_HEADER);
	appendStringInfo(&ad, "%s|%lld|%s", table, (long long) row_id, column);
	*len = ad.len;
	return ad.data;
}

/*
 * MachiSeal: encrypt one field of one row with the data key of scope (a
 * tenant id, or MACHI_SCOPE_CITIZENS).  Caller holds no lock; the key is
 * created on first use.
 */
bytea *
MachiSeal(int scope, const char *table, int64 row_id, const char *column,
		  const char *plain, size_t len)
{
	DataKey    *k = KeyForScope(scope, 'd');
	bytea	   *out = palloc(VARHDRSZ + SEAL_HEADER + SEAL_NONCE + len + SEAL_TAG);
	unsigned char *p = (unsigned char *) VARDATA(out);
	size_t		adlen;
	char	   *ad;

	p[0] = SEAL_VERSION;
	p[1] = (k->key_id >> 24) & 0xff;
	p[2] = (k->key_id >> 16) & 0xff;
	p[3] = (k->key_id >> 8) & 0xff;
	p[4] = k->key_id & 0xff;
	randombytes_buf(p + SEAL_HEADER, SEAL_NONCE);
	ad = SealAd(p, table, row_id, column, &adlen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + SEAL_HEADER + SEAL_NONCE, NULL,
											   (const unsigned char *) plain, len,
											   (unsigned char *) ad, adlen, NULL,
											   p + SEAL_HEADER, k->key);
	SET_VARSIZE(out, VARHDRSZ + SEAL_HEADER + SEAL_NONCE + len + SEAL_TAG);
	return out;
}

/*
 * MachiOpen: decrypt one sealed field; raises when it does not authenticate
 * for this table, row and column.  The caller must have checked that the
 * current caller may read it (see pii.c); this function does not.
 */
char *
MachiOpen(const char *table, int64 row_id, const char *column, bytea *sealed)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(sealed);
	size_t		len = VARSIZE_ANY_EXHDR(sealed);
	int32		key_id;
	DataKey    *k;
	char	   *plain;
	char	   *ad;
	size_t		adlen;
	char	   *what = psprintf("%s.%s of row %lld", table, column, (long long) row_id);

	if (len < SEAL_HEADER + SEAL_NONCE + SEAL_TAG || p[0] != SEAL_VERSION)
		MachiCryptoThrow(MACHI_CRYPTO_BAD_FORMAT, what);
	key_id = (int32) (((uint32) p[1] << 24) | ((uint32) p[2] << 16) |
					  ((uint32) p[3] << 8) | (uint32) p[4]);
	k = KeyById(key_id);
	if (k == NULL)
		MachiCryptoThrow(MACHI_CRYPTO_UNKNOWN_KEY, what);
	plain = palloc(len - SEAL_HEADER - SEAL_NONCE - SEAL_TAG + 1);
	ad = SealAd(p, table, row_id, column, &adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *) plain, NULL, NULL,
												   p + SEAL_HEADER + SEAL_NONCE,
												   len - SEAL_HEADER - SEAL_NONCE,
												   (unsigned char *) ad, adlen,
												   p + SEAL_HEADER, k->key) != 0)
		MachiCryptoThrow(MACHI_CRYPTO_AUTH_FAILED, what);
	plain[len - SEAL_HEADER - SEAL_NONCE - SEAL_TAG] = '\0';
	return plain;
}

/*
 * MachiNormaliseLogin: the normal form of an e-mail address or phone
 * number for blind indexing: NFKC, then for e-mail trimmed and lower-cased,
 * for a phone only its digits.  Returns "" when nothing is left.
 */
char *
MachiNormaliseLogin(const char *kind, const char *value)
{
	text	   *nfkc;
	char	   *s;

	nfkc = DatumGetTextPP(DirectFunctionCall2(unicode_normalize_func,
											  CStringGetTextDatum(value),
											  CStringGetTextDatum("NFKC")));
	if (strcmp(kind, "phone") == 0)
	{
		char	   *in = text_to_cstring(nfkc);
		char	   *out = palloc(strlen(in) + 1);
		char	   *o = out;

		for (char *c = in; *c; c++)
			if (*c >= '0' && *c <= '9')
				*o++ = *c;
		*o = '\0';
		return out;
	}
	s = TextDatumGetCString(DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
													PointerGetDatum(nfkc)));
	/* trim ASCII white space at both ends */
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	for (size_t n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
										 s[n - 1] == '\n' || s[n - 1] == '\r'); n--)
		s[n - 1] = '\0';
	return s;
}

/*
 * MachiBlindIndex: HMAC-SHA-256 of kind and an already normalised value
 * under the blind index key.
 */
void
MachiBlindIndex(const char *kind, const char *normalised,
				uint8 out[MACHI_BLIND_INDEX_BYTES])
{
	DataKey    *k = KeyForScope(MACHI_SCOPE_CITIZENS, 'i');
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, k->key, MACHI_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) kind, strlen(kind));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) "|", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *) normalised, strlen(normalised));
	crypto_auth_hmacsha256_final(&st, out);
}

/*
 * MachiRotateMasterKey: re-wrap every data key with the key in new_file.
 * Returns the number of keys re-wrapped.  Caller must be in the system
 * context (machi.rotate_master_key is for machi_admin only).  The rows are
 * locked, so concurrent key creation waits.
 */
static int
MachiRotateMasterKey(const char *new_file)
{
	unsigned char *newkey = sodium_malloc(MACHI_KEY_BYTES);
	char		newid[KEY_ID_HEX + 1];
	const unsigned char *mkey = MasterKey();
	MachiCryptoStatus rc;
	int			ret;
	int			count = 0;

	rc = ReadKeyFile(new_file, newkey);
	if (rc != MACHI_CRYPTO_OK)
	{
		sodium_free(newkey);
		MachiCryptoThrow(rc, new_file);
	}
	KeyId(newkey, newid);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute("SELECT key_id, tenant_id, purpose, wrapped, master_key_id "
					  "FROM machi.data_key ORDER BY key_id FOR UPDATE", false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "data key scan failed: %d", ret);
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			int32		id = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull));
			int32		sc = DatumGetInt32(SPI_getbinval(tt->vals[i], tt->tupdesc, 2, &isnull));
			char		pu = DatumGetChar(SPI_getbinval(tt->vals[i], tt->tupdesc, 3, &isnull));
			bytea	   *w = DatumGetByteaPP(SPI_getbinval(tt->vals[i], tt->tupdesc, 4, &isnull));
			char	   *mid = SPI_getvalue(tt->vals[i], tt->tupdesc, 5);
			unsigned char key[MACHI_KEY_BYTES];
			unsigned char wrapped[WRAPPED_BYTES];
			bytea	   *nw = palloc(VARHDRSZ + WRAPPED_BYTES);
			Oid			types[3] = {INT4OID, BYTEAOID, TEXTOID};
			Datum		vals[3];

			if (strcmp(mid, newid) == 0)
				continue;		/* already under the new key */
			if (strcmp(mid, master_key_id) != 0)
				rc = MACHI_CRYPTO_WRONG_MASTER;
			else
				rc = Unwrap(mkey, sc, pu, (unsigned char *) VARDATA_ANY(w),
							VARSIZE_ANY_EXHDR(w), key);
			if (rc != MACHI_CRYPTO_OK)
			{
				sodium_free(newkey);
				MachiCryptoThrow(rc, psprintf("%d", id));
			}
			Wrap(newkey, sc, pu, key, wrapped);
			sodium_memzero(key, sizeof(key));
			SET_VARSIZE(nw, VARHDRSZ + WRAPPED_BYTES);
			memcpy(VARDATA(nw), wrapped, WRAPPED_BYTES);
			vals[0] = Int32GetDatum(id);
			vals[1] = PointerGetDatum(nw);
			vals[2] = CStringGetTextDatum(newid);
			ret = SPI_execute_with_args("UPDATE machi.data_key SET wrapped = $2, master_key_id = $3, "
										"rewrapped_at = machi.now() WHERE key_id = $1",
										3, types, vals, NULL, false, 0);
			if (ret != SPI_OK_UPDATE || SPI_processed != 1)
				elog(ERROR, "could not re-wrap data key %d", id);
			count++;
		}
	}
	SPI_finish();
	sodium_free(newkey);
	ereport(LOG,
			(errmsg("machi: %d data keys re-wrapped by master key %s (file \"%s\")",
					count, newid, new_file),
			 errhint("Set machi.master_key_file to the new file and reload.")));
	return count;
}

/* ---- SQL-callable functions ---- */

PG_FUNCTION_INFO_V1(machi_pii_seal);
PG_FUNCTION_INFO_V1(machi_blind_index);
PG_FUNCTION_INFO_V1(machi_normalise_login);
PG_FUNCTION_INFO_V1(machi_rotate_master_key_impl);
PG_FUNCTION_INFO_V1(machi_master_key_id);

/*
 * CheckKind: the kinds of value a blind index exists for.
 */
static inline void
CheckKind(const char *kind)
{
	if (strcmp(kind, "email") != 0 && strcmp(kind, "phone") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown blind index kind \"%s\"", kind),
				 errhint("Use \"email\" or \"phone\".")));
}

/*
 * machi.pii_seal(scope int, tbl text, row_id bigint, col text, plain text)
 *	  -> bytea: seal a personal field.  Owner only; encryption reveals
 *	  nothing, so no caller check beyond EXECUTE.
 */
Datum
machi_pii_seal(PG_FUNCTION_ARGS)
{
	int32		scope = PG_GETARG_INT32(0);
	char	   *table = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		row_id = PG_GETARG_INT64(2);
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(3));
	text	   *plain = PG_GETARG_TEXT_PP(4);

	PG_RETURN_BYTEA_P(MachiSeal(scope, table, row_id, column,
								VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain)));
}

/*
 * machi.normalise_login(kind text, value text) -> text: the normal form a
 * blind index is computed on ('' when nothing is left).
 */
Datum
machi_normalise_login(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(1));

	CheckKind(kind);
	PG_RETURN_TEXT_P(cstring_to_text(MachiNormaliseLogin(kind, value)));
}

/*
 * machi.blind_index(kind text, value text) -> bytea: the HMAC blind index
 * of an e-mail address or phone number (normalised here); NULL when the
 * value normalises to nothing.
 */
Datum
machi_blind_index(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *norm;
	bytea	   *out;

	CheckKind(kind);
	norm = MachiNormaliseLogin(kind, value);
	if (norm[0] == '\0')
		PG_RETURN_NULL();
	out = palloc(VARHDRSZ + MACHI_BLIND_INDEX_BYTES);
	SET_VARSIZE(out, VARHDRSZ + MACHI_BLIND_INDEX_BYTES);
	MachiBlindIndex(kind, norm, (uint8 *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}

/*
 * machi.rotate_master_key__impl(new_file text) -> int: the body of the admin
 * function machi.rotate_master_key (runs in the system context).
 */
Datum
machi_rotate_master_key_impl(PG_FUNCTION_ARGS)
{
	char	   *new_file = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_INT32(MachiRotateMasterKey(new_file));
}

/*
 * machi.master_key_id() -> text: the public fingerprint of the master key
 * in use (what machi.data_key.master_key_id records), for operators.
 */
Datum
machi_master_key_id(PG_FUNCTION_ARGS)
{
	(void) MasterKey();
	PG_RETURN_TEXT_P(cstring_to_text(master_key_id));
}

/*-------------------------------------------------------------------------
 *
 * password.c
 *	  Passwords: argon2id hashing with libsodium, legacy bcrypt
 *	  verification through pgcrypto, the password rules (length, login id,
 *	  zxcvbn strength) and generated initial passwords.
 *
 * New hashes are argon2id in libsodium's crypto_pwhash_str format at the
 * cost of machi.password_memory_kib / machi.password_time_cost.  Verifying
 * tells the caller when the stored hash is weaker than the current cost or
 * is legacy bcrypt, so the login path can rehash it transparently.  An
 * unknown login id is verified against a dummy hash of the current cost so
 * that it takes as long as a wrong password; machi.dummy_verifications()
 * counts those for the tests.
 *
 * Passwords are any Unicode text up to MACHI_PASSWORD_MAX_CHARS code points,
 * hashed whole (no truncation); only the legacy bcrypt format truncates, and
 * its hashes are replaced at the first successful login.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <sodium.h>
#include <zxcvbn.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "machi.h"
#include "password.h"

/*
 * Number of dummy verifications done by this backend (unknown login ids);
 * read by machi.dummy_verifications() so tests can see the path was taken.
 */
static int64 dummy_verifications = 0;

/* the dummy hash and the cost it was made at */
static char dummy_hash[crypto_pwhash_STRBYTES];
static int	dummy_mem = 0;
static int	dummy_ops = 0;

/* pgcrypto's crypt(text, text), found on first use */
static Oid	crypt_oid = InvalidOid;

/* letters and digits that cannot be mistaken for one another */
static const char generated_alphabet[] =
"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

static inline unsigned long long
MemLimit(void)
{
	return (unsigned long long) machi_password_memory_kib * 1024ULL;
}

/*
 * MachiPasswordHash: argon2id hash of a password at the current cost, as a
 * palloc'd "$argon2id$..." string.
 */
MachiPasswordStatus
MachiPasswordHash(const char *pw, size_t len, char **hash)
{
	char		out[crypto_pwhash_STRBYTES];

	if (crypto_pwhash_str_alg(out, pw, len, machi_password_time_cost, MemLimit(),
							  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return MACHI_PASSWORD_OUT_OF_MEMORY;
	*hash = pstrdup(out);
	return MACHI_PASSWORD_OK;
}

/*
 * CryptOid: the oid of pgcrypto's crypt(text, text), in whatever schema
 * pgcrypto was installed (machi requires it).
 */
static Oid
CryptOid(void)
{
	int			ret;
	bool		isnull;

	if (OidIsValid(crypt_oid))
		return crypt_oid;
	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %d", ret);
	ret = SPI_execute("SELECT p.oid FROM pg_catalog.pg_proc p "
					  "JOIN pg_catalog.pg_extension e ON e.extnamespace = p.pronamespace "
					  "WHERE e.extname = 'pgcrypto' AND p.proname = 'crypt' "
					  "AND p.proargtypes = '25 25'::pg_catalog.oidvector", true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pgcrypto's crypt(text, text) not found");
	crypt_oid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return crypt_oid;
}

/*
 * VerifyBcrypt: compare a password with a legacy bcrypt hash ($2a$, $2b$,
 * $2y$) using pgcrypto's crypt(), in constant time.
 */
static MachiPasswordStatus
VerifyBcrypt(const char *hash, const char *pw, size_t len)
{
	char	   *again;
	size_t		hlen = strlen(hash);
	char	   *h = pstrdup(hash);

	/* pgcrypto knows $2a$ only; $2b$ and $2y$ differ in bugs it never had */
	h[2] = 'a';
	again = TextDatumGetCString(OidFunctionCall2(CryptOid(),
												 PointerGetDatum(cstring_to_text_with_len(pw, len)),
												 CStringGetTextDatum(h)));
	if (strlen(again) != hlen || sodium_memcmp(again, h, hlen) != 0)
		return MACHI_PASSWORD_MISMATCH;
	return MACHI_PASSWORD_OK;
}

/*
 * MachiPasswordVerify: check a password against a stored hash.  On success
 * *needs_rehash says whether the hash should be replaced (legacy format or a
 * cost other than the current one).
 */
MachiPasswordStatus
MachiPasswordVerify(const char *hash, const char *pw, size_t len, bool *needs_rehash)
{
	*needs_rehash = false;
	if (strncmp(hash, "$argon2id$", 10) == 0)
	{
		if (crypto_pwhash_str_verify(hash, pw, len) != 0)
			return MACHI_PASSWORD_MISMATCH;
		*needs_rehash = crypto_pwhash_str_needs_rehash(hash, machi_password_time_cost,
													   MemLimit()) != 0;
		return MACHI_PASSWORD_OK;
	}
	if (strlen(hash) == 60 && hash[0] == '$' && hash[1] == '2' &&
		(hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$')
	{
		MachiPasswordStatus rc = VerifyBcrypt(hash, pw, len);

		*needs_rehash = true;
		return rc;
	}
	return MACHI_PASSWORD_UNKNOWN_FORMAT;
}

/*
 * MachiPasswordDummyVerify: spend the time of a real verification for a
 * login id that does not exist.  The cost of verifying depends only on the
 * parameters in the hash string, so the dummy is a well-formed argon2id
 * string at the current cost with a random salt and a random digest (no
 * password has it); it is rebuilt when the cost changes, which costs nothing,
 * so even the first unknown id of a backend takes no longer than a real one.
 */
void
MachiPasswordDummyVerify(const char *pw, size_t len)
{
	if (dummy_mem != machi_password_memory_kib || dummy_ops != machi_password_time_cost)
	{
		unsigned char salt[crypto_pwhash_SALTBYTES];
		unsigned char digest[32];
		char		salt64[sodium_base64_ENCODED_LEN(crypto_pwhash_SALTBYTES,
													 sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
		char		digest64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];

		randombytes_buf(salt, sizeof(salt));
		randombytes_buf(digest, sizeof(digest));
		sodium_bin2base64(salt64, sizeof(salt64), salt, sizeof(salt),
						  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
		sodium_bin2base64(digest64, sizeof(digest64), digest, sizeof(digest),
						  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
		snprintf(dummy_hash, sizeof(dummy_hash), "$argon2id$v=19$m=%d,t=%d,p=1$%s$%s",
				 machi_password_memory_kib, machi_password_time_cost, salt64, digest64);
		dummy_mem = machi_password_memory_kib;
		dummy_ops = machi_password_time_cost;
	}
	if (crypto_pwhash_str_verify(dummy_hash, pw, len) == 0)
		elog(WARNING, "dummy password hash matched");
	dummy_verifications++;
}

/*
 * Score: zxcvbn strength score 0-4 of a password, from libzxcvbn's entropy
 * estimate (bits) bucketed like zxcvbn's guesses_log10 thresholds (3, 6, 8,
 * 10).  The login id and its local part are user dictionary words.
 */
static int
Score(const char *pw, const char *login)
{
	const char *dict[3] = {NULL, NULL, NULL};
	char	   *local = NULL;
	double		bits;
	double		log10_guesses;

	if (login && login[0])
	{
		const char *at = strchr(login, '@');

		dict[0] = login;
		if (at && at > login)
		{
			local = pnstrdup(login, at - login);
			dict[1] = local;
		}
	}
	bits = ZxcvbnMatch(pw, dict, NULL);
	log10_guesses = bits * log10(2.0);
	if (log10_guesses < 3)
		return 0;
	if (log10_guesses < 6)
		return 1;
	if (log10_guesses < 8)
		return 2;
	if (log10_guesses < 10)
		return 3;
	return 4;
}

/*
 * ContainsCaseless: whether haystack contains needle, ignoring ASCII case
 * (login ids are stored lower-case already).
 */
static bool
ContainsCaseless(const char *haystack, const char *needle)
{
	size_t		n = strlen(needle);

	if (n == 0)
		return false;
	for (const char *p = haystack; *p; p++)
		if (pg_strncasecmp(p, needle, n) == 0)
			return true;
	return false;
}

/*
 * MachiPasswordCheck: the password rules.  login is the normalised login id
 * (e-mail); staff selects the staff minimum length.  On a length failure
 * *limit is the bound; on a strength failure *score is the score found.
 */
MachiPasswordStatus
MachiPasswordCheck(const char *pw, size_t len, const char *login, bool staff,
				   int *limit, int *score)
{
	int			chars;
	int			min = staff ? machi_staff_password_min_length : machi_citizen_password_min_length;

	if (memchr(pw, '\0', len) != NULL ||
		pg_encoding_verifymbstr(PG_UTF8, pw, (int) len) != (int) len)
		return MACHI_PASSWORD_INVALID;
	chars = 0;
	for (const unsigned char *p = (const unsigned char *) pw; p < (const unsigned char *) pw + len; p++)
		if ((*p & 0xC0) != 0x80)
			chars++;
	if (chars < min)
	{
		*limit = min;
		return MACHI_PASSWORD_TOO_SHORT;
	}
	if (chars > MACHI_PASSWORD_MAX_CHARS)
	{
		*limit = MACHI_PASSWORD_MAX_CHARS;
		return MACHI_PASSWORD_TOO_LONG;
	}
	if (login && login[0] && ContainsCaseless(pw, login))
		return MACHI_PASSWORD_CONTAINS_LOGIN;
	*score = Score(pw, login);
	if (*score < machi_password_min_score)
		return MACHI_PASSWORD_TOO_WEAK;
	return MACHI_PASSWORD_OK;
}

/*
 * MachiPasswordGenerate: a random initial password of
 * MACHI_GENERATED_PASSWORD_CHARS characters from the CSPRNG (about 116
 * bits), palloc'd.
 */
char *
MachiPasswordGenerate(void)
{
	char	   *out = palloc(MACHI_GENERATED_PASSWORD_CHARS + 1);

	for (int i = 0; i < MACHI_GENERATED_PASSWORD_CHARS; i++)
		out[i] = generated_alphabet[randombytes_uniform(sizeof(generated_alphabet) - 1)];
	out[MACHI_GENERATED_PASSWORD_CHARS] = '\0';
	return out;
}

/*
 * PasswordThrow: the boundary where rule failures become errors a client
 * can act on (HTTP 422 with field "password").
 */
static void
PasswordThrow(MachiPasswordStatus rc, int limit, int score)
{
	switch (rc)
	{
		case MACHI_PASSWORD_OK:
		case MACHI_PASSWORD_MISMATCH:
		case MACHI_PASSWORD_UNKNOWN_FORMAT:
			return;
		case MACHI_PASSWORD_TOO_SHORT:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("password must be at least %d characters long", limit),
					 errdetail("Any characters may be used; a few unrelated words make a long password that is easy to remember."),
					 err_generic_string(PG_DIAG_COLUMN_NAME, "password"),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_too_short")));
			break;
		case MACHI_PASSWORD_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("password must be at most %d characters long", limit),
					 err_generic_string(PG_DIAG_COLUMN_NAME, "password"),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_too_long")));
			break;
		case MACHI_PASSWORD_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("password contains an invalid character"),
					 err_generic_string(PG_DIAG_COLUMN_NAME, "password"),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_invalid")));
			break;
		case MACHI_PASSWORD_CONTAINS_LOGIN:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("password must not contain your e-mail address"),
					 err_generic_string(PG_DIAG_COLUMN_NAME, "password"),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_contains_login")));
			break;
		case MACHI_PASSWORD_TOO_WEAK:
			ereport(ERROR,
					(errcode(ERRCODE_MACHI_UNPROCESSABLE),
					 errmsg("password is too easy to guess"),
					 errdetail("Its strength is %d of 4 and at least %d is required. Avoid common words, names, dates, keyboard patterns and repeats; several unrelated words together make a strong password.",
							   score, machi_password_min_score),
					 err_generic_string(PG_DIAG_COLUMN_NAME, "password"),
					 err_generic_string(PG_DIAG_CONSTRAINT_NAME, "password_too_weak")));
			break;
		case MACHI_PASSWORD_OUT_OF_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory hashing a password"),
					 errhint("Check machi.password_memory_kib.")));
			break;
	}
}

/* ---- SQL-callable functions (owner only) ---- */

PG_FUNCTION_INFO_V1(machi_password_hash);
PG_FUNCTION_INFO_V1(machi_password_verify);
PG_FUNCTION_INFO_V1(machi_password_dummy_verify);
PG_FUNCTION_INFO_V1(machi_password_check);
PG_FUNCTION_INFO_V1(machi_password_generate);
PG_FUNCTION_INFO_V1(machi_dummy_verifications);
PG_FUNCTION_INFO_V1(machi_password_strength);

/*
 * machi.password_hash(pw text) -> text: a new argon2id hash.
 */
Datum
machi_password_hash(PG_FUNCTION_ARGS)
{
	text	   *pw = PG_GETARG_TEXT_PP(0);
	char	   *hash = NULL;
	MachiPasswordStatus rc;

	rc = MachiPasswordHash(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), &hash);
	PasswordThrow(rc, 0, 0);
	PG_RETURN_TEXT_P(cstring_to_text(hash));
}

/*
 * machi.password_verify(hash text, pw text, OUT ok boolean, OUT rehash
 * boolean): whether pw matches, and whether the hash should be replaced.  An
 * unknown format never matches.
 */
Datum
machi_password_verify(PG_FUNCTION_ARGS)
{
	char	   *hash = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *pw = PG_GETARG_TEXT_PP(1);
	bool		rehash = false;
	MachiPasswordStatus rc;
	TupleDesc	desc;
	Datum		vals[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rc = MachiPasswordVerify(hash, VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), &rehash);
	vals[0] = BoolGetDatum(rc == MACHI_PASSWORD_OK);
	vals[1] = BoolGetDatum(rc == MACHI_PASSWORD_OK && rehash);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), vals, nulls)));
}

/*
 * machi.password_dummy_verify(pw text) -> boolean (always false): the
 * timing twin of password_verify for unknown login ids.
 */
Datum
machi_password_dummy_verify(PG_FUNCTION_ARGS)
{
	text	   *pw = PG_GETARG_TEXT_PP(0);

	MachiPasswordDummyVerify(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw));
	PG_RETURN_BOOL(false);
}

/*
 * machi.password_check(pw text, login text, staff boolean) -> void: raise a
 * 422 naming the broken rule, or return.
 */
Datum
machi_password_check(PG_FUNCTION_ARGS)
{
	text	   *pw = PG_GETARG_TEXT_PP(0);
	char	   *login = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		staff = PG_GETARG_BOOL(2);
	int			limit = 0;
	int			score = 0;
	MachiPasswordStatus rc;

	rc = MachiPasswordCheck(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), login, staff, &limit, &score);
	PasswordThrow(rc, limit, score);
	PG_RETURN_VOID();
}

/*
 * machi.password_strength(pw text, login text) -> int: the zxcvbn score
 * (0-4), for clients that show a strength meter through the API.
 */
Datum
machi_password_strength(PG_FUNCTION_ARGS)
{
	char	   *pw = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *login = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_INT32(Score(pw, login));
}

/*
 * machi.password_generate() -> text: a random initial password.
 */
Datum
machi_password_generate(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(MachiPasswordGenerate()));
}

/*
 * machi.dummy_verifications() -> bigint: dummy verifications done by this
 * backend (unknown login ids), for tests.
 */
Datum
machi_dummy_verifications(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(dummy_verifications);
}

/*-------------------------------------------------------------------------
 *
 * search.c
 *	  Character n-grams for Japanese free-text search of reports.
 *
 * Japanese has no spaces between words and many everyday search words are
 * one or two characters long (道路, 公園, 穴).  pg_trgm's trigrams cannot
 * answer such queries from an index.  machi.text_ngrams() turns a text into
 * the set of its character unigrams and bigrams (per whitespace-separated
 * run); an expression GIN index over that array answers "contains every
 * n-gram of the query" and the query rechecks the actual substring, so
 * results are exact for queries of any length.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "machi.h"

/*
 * IsSeparator: characters that split runs: ASCII whitespace and
 * punctuation, and the ideographic space and the common Japanese
 * punctuation marks (、。・「」).
 */
static bool
IsSeparator(const unsigned char *p, int len)
{
	if (len == 1)
		return !(isalnum(p[0]) || p[0] >= 0x80);
	if (len == 3 && p[0] == 0xE3 && p[1] == 0x80 &&
		(p[2] == 0x80 || p[2] == 0x81 || p[2] == 0x82 || p[2] == 0x8C || p[2] == 0x8D))
		return true;				/* U+3000 、 。 「 」 */
	if (len == 3 && p[0] == 0xE3 && p[1] == 0x83 && p[2] == 0xBB)
		return true;				/* ・ */
	return false;
}

/*
 * AddNgram: append one n-gram.  Duplicates are left in: GIN removes them
 * when it extracts the keys, and a containment query does not mind them.
 */
static void
AddNgram(Datum **elems, int *n, int *cap, const char *prefix, int plen,
		 const char *s, int len)
{
	text	   *t;

	if (*n == *cap)
	{
		*cap *= 2;
		*elems = repalloc(*elems, sizeof(Datum) * *cap);
	}
	t = (text *) palloc(VARHDRSZ + plen + len);
	SET_VARSIZE(t, VARHDRSZ + plen + len);
	memcpy(VARDATA(t), prefix, plen);
	memcpy(VARDATA(t) + plen, s, len);
	(*elems)[(*n)++] = PointerGetDatum(t);
}

/*
 * MachiTextNgrams: the unigrams and bigrams of s (UTF-8) as an
 * array of Datums (text).  Only runs between separators form bigrams.
 */
static Datum *
MachiTextNgrams(const char *prefix, int plen, const char *s, int slen, int *count)
{
	int			cap = 64,
				n = 0;
	Datum	   *elems = palloc(sizeof(Datum) * cap);
	const char *prev = NULL;
	int			prevlen = 0;
	int			i = 0;

	while (i < slen)
	{
		int			cl = pg_utf_mblen((const unsigned char *) s + i);

		if (cl <= 0 || i + cl > slen)
			break;
		if (IsSeparator((const unsigned char *) s + i, cl))
			prev = NULL;
		else
		{
			AddNgram(&elems, &n, &cap, prefix, plen, s + i, cl);
			if (prev)
				AddNgram(&elems, &n, &cap, prefix, plen, prev, prevlen + cl);
			prev = s + i;
			prevlen = cl;
		}
		i += cl;
	}
	*count = n;
	return elems;
}

PG_FUNCTION_INFO_V1(machi_text_ngrams);

/*
 * machi.text_ngrams(text, prefix text DEFAULT '') -> text[]: see the file
 * header.  Every n-gram is prefixed (a tenant id, so that one index serves
 * per-tenant searches selectively).  IMMUTABLE, so it can back an
 * expression index; the caller normalises first (NFKC, lower case) so that
 * full-width and half-width forms match.
 */
Datum
machi_text_ngrams(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	text	   *p = PG_GETARG_TEXT_PP(1);
	int			n;
	Datum	   *elems;

	elems = MachiTextNgrams(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p),
							VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &n);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(machi_query_ngrams);

/*
 * machi.query_ngrams(text, prefix text DEFAULT '') -> text[]: the n-grams a document must contain to
 * possibly match a query: for each run, its bigrams, or the run itself when
 * it is a single character.  (A document containing the query contains all
 * of these; the caller rechecks the substring.)
 */
Datum
machi_query_ngrams(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	text	   *p = PG_GETARG_TEXT_PP(1);
	const char *prefix = VARDATA_ANY(p);
	int			plen = VARSIZE_ANY_EXHDR(p);
	const char *s = VARDATA_ANY(t);
	int			slen = VARSIZE_ANY_EXHDR(t);
	int			cap = 16,
				n = 0;
	Datum	   *elems = palloc(sizeof(Datum) * cap);
	const char *prev = NULL;
	int			prevlen = 0;
	int			runlen = 0;
	int			i = 0;

	while (i <= slen)
	{
		int			cl = i < slen ? pg_utf_mblen((const unsigned char *) s + i) : 0;
		bool		sep = i >= slen || cl <= 0 || i + cl > slen ||
		IsSeparator((const unsigned char *) s + i, cl);

		if (sep)
		{
			if (runlen == 1)
				AddNgram(&elems, &n, &cap, prefix, plen, prev, prevlen);
			prev = NULL;
			runlen = 0;
			if (i >= slen || cl <= 0 || i + cl > slen)
				break;
		}
		else
		{
			if (prev)
				AddNgram(&elems, &n, &cap, prefix, plen, prev, prevlen + cl);
			prev = s + i;
			prevlen = cl;
			runlen++;
		}
		i += cl;
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(machi_search_doc);

/*
 * machi.search_doc(title, description, tenant) -> text[]: the index
 * expression of report search: n-grams of lower(NFKC(title || ' ' ||
 * description)), prefixed with "tenant:" when tenant is not NULL.
 *
 * One C function rather than an SQL composition because row-level security
 * lets an index serve a condition only when every function applied to the
 * row is LEAKPROOF; this one is declared so.  It has no side effect and
 * raises no error for any text of a UTF-8 database (the only encoding machi
 * supports), so it reveals nothing about rows the policies hide.
 */
Datum
machi_search_doc(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	text	   *norm;
	text	   *low;
	char		prefix[16];
	int			plen = 0;
	int			n;
	Datum	   *elems;

	initStringInfo(&buf);
	if (!PG_ARGISNULL(0))
		appendBinaryStringInfo(&buf, VARDATA_ANY(PG_GETARG_TEXT_PP(0)),
							   VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)));
	appendStringInfoChar(&buf, ' ');
	if (!PG_ARGISNULL(1))
		appendBinaryStringInfo(&buf, VARDATA_ANY(PG_GETARG_TEXT_PP(1)),
							   VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)));
	if (!PG_ARGISNULL(2))
		plen = snprintf(prefix, sizeof(prefix), "%d:", PG_GETARG_INT32(2));

	norm = DatumGetTextPP(DirectFunctionCall2(unicode_normalize_func,
											  PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len)),
											  CStringGetTextDatum("NFKC")));
	low = DatumGetTextPP(DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
												 PointerGetDatum(norm)));
	elems = MachiTextNgrams(prefix, plen, VARDATA_ANY(low), VARSIZE_ANY_EXHDR(low), &n);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(machi_ngram_contsel);

/*
 * machi_ngram_contsel: restriction selectivity of machi.@>.  The built-in
 * estimator (arraycontsel) refuses operators it does not know, so we ask it
 * about the built-in text[] @> that machi.@> is a LEAKPROOF twin of.  With
 * real estimates the planner walks the newest reports and stops after a
 * page for frequent terms, and uses the n-gram index for rare ones.
 */
Datum
machi_ngram_contsel(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall4(arraycontsel, PG_GETARG_DATUM(0),
							   ObjectIdGetDatum(OID_ARRAY_CONTAINS_OP),
							   PG_GETARG_DATUM(2), PG_GETARG_DATUM(3));
}

PG_FUNCTION_INFO_V1(machi_ngram_contjoinsel);

/*
 * machi_ngram_contjoinsel: join selectivity of machi.@>, likewise.
 */
Datum
machi_ngram_contjoinsel(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall5(arraycontjoinsel, PG_GETARG_DATUM(0),
							   ObjectIdGetDatum(OID_ARRAY_CONTAINS_OP),
							   PG_GETARG_DATUM(2), PG_GETARG_DATUM(3), PG_GETARG_DATUM(4));
}

/*-------------------------------------------------------------------------
 *
 * uri.c
 *	  Request path matching and query-string decoding for api.handle.
 *
 * These routines see untrusted bytes straight from the network, so they are
 * plain C with explicit bounds and no PostgreSQL dependencies: the fuzz
 * target in fuzz/ links this file alone.  They return status codes; handle.c
 * is the one place that turns them into HTTP errors.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "uri.h"

/*
 * machi_utf8_valid: strict UTF-8 check (no overlongs, no surrogates, nothing
 * above U+10FFFF).  Used on every decoded component because PostgreSQL text
 * in a UTF-8 database must be valid and because mixed encodings are how
 * filters get bypassed.
 */
bool
machi_utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		size_t		n;
		unsigned int cp;

		if (c < 0x80)
		{
			i++;
			continue;
		}
		else if (c >= 0xC2 && c <= 0xDF)
		{
			n = 1;
			cp = c & 0x1F;
		}
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			cp = c & 0x0F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			cp = c & 0x07;
		}
		else
			return false;
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
			(cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * PercentDecode: decode src[0..len) into dst (dstlen bytes incl. the NUL),
 * optionally turning '+' into a space (query strings, forms).  Rejects bad
 * escapes, NUL and other C0 control characters, and invalid UTF-8.
 */
static machi_uri_status
PercentDecode(const char *src, size_t len, char *dst, size_t dstlen,
			  bool plus_is_space, size_t *outlen)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) src[i];

		if (c == '%')
		{
			int			hi,
						lo;

			if (len - i < 3)
				return MACHI_URI_BAD_ESCAPE;
			hi = HexValue(src[i + 1]);
			lo = HexValue(src[i + 2]);
			if (hi < 0 || lo < 0)
				return MACHI_URI_BAD_ESCAPE;
			c = (unsigned char) (hi * 16 + lo);
			i += 2;
		}
		else if (c == '+' && plus_is_space)
			c = ' ';
		if (c == 0)
			return MACHI_URI_NUL;
		if (c < 0x20 || c == 0x7F)
			return MACHI_URI_CONTROL;
		if (o + 1 >= dstlen)
			return MACHI_URI_TOO_LONG;
		dst[o++] = (char) c;
	}
	dst[o] = '\0';
	if (!machi_utf8_valid((const unsigned char *) dst, o))
		return MACHI_URI_BAD_UTF8;
	*outlen = o;
	return MACHI_URI_OK;
}

/*
 * machi_uri_check_path: a request path must begin with '/', hold no empty
 * segment other than a final one, and decode to valid UTF-8 without control
 * characters.  Dot segments are refused: nothing in the API is named "." or
 * "..", and refusing them closes traversal tricks early.
 */
machi_uri_status
machi_uri_check_path(const char *path, size_t len)
{
	size_t		start = 1;

	if (len == 0 || path[0] != '/')
		return MACHI_URI_BAD_PATH;
	if (len > 2048)
		return MACHI_URI_TOO_LONG;
	while (start <= len)
	{
		size_t		end = start;
		char		buf[2049];
		size_t		outlen;
		machi_uri_status st;

		while (end < len && path[end] != '/')
			end++;
		if (end == start && end < len)
			return MACHI_URI_BAD_PATH;	/* "//" */
		st = PercentDecode(path + start, end - start, buf, sizeof(buf), false, &outlen);
		if (st != MACHI_URI_OK)
			return st;
		if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0 || memchr(buf, '/', outlen))
			return MACHI_URI_BAD_PATH;
		start = end + 1;
	}
	return MACHI_URI_OK;
}

/*
 * machi_uri_match_path: match a checked path against a route pattern such
 * as "/v1/tenants/{id}/categories".  Literal segments compare byte for byte;
 * a {name} segment matches any non-empty segment and captures its decoded
 * value.  On a match, m->literals counts the literal segments so that the
 * caller can prefer "/v1/reports/mine" over "/v1/reports/{id}".
 */
machi_uri_status
machi_uri_match_path(const char *pattern, const char *path, size_t len,
					 machi_uri_match *m)
{
	size_t		pi = 0,
				si = 0;
	size_t		plen = strlen(pattern);

	memset(m, 0, sizeof(*m));
	if (plen == 0 || pattern[0] != '/' || len == 0 || path[0] != '/')
		return MACHI_URI_NO_MATCH;
	pi = 1;
	si = 1;
	for (;;)
	{
		size_t		pe = pi,
					se = si;

		while (pe < plen && pattern[pe] != '/')
			pe++;
		while (se < len && path[se] != '/')
			se++;
		if (pe - pi >= 2 && pattern[pi] == '{' && pattern[pe - 1] == '}')
		{
			machi_uri_param *p;
			size_t		outlen;

			if (se == si || m->nparams >= MACHI_URI_MAX_PARAMS)
				return MACHI_URI_NO_MATCH;
			p = &m->params[m->nparams];
			p->name = pattern + pi + 1;
			p->name_len = pe - pi - 2;
			if (PercentDecode(path + si, se - si, p->value, sizeof(p->value),
							  false, &outlen) != MACHI_URI_OK)
				return MACHI_URI_NO_MATCH;
			m->nparams++;
		}
		else
		{
			if (pe - pi != se - si || memcmp(pattern + pi, path + si, pe - pi) != 0)
				return MACHI_URI_NO_MATCH;
			m->literals++;
		}
		if (pe >= plen && se >= len)
			return MACHI_URI_OK;
		if (pe >= plen || se >= len)
			return MACHI_URI_NO_MATCH;
		pi = pe + 1;
		si = se + 1;
	}
}

/*
 * machi_uri_decode_query: split "a=1&b=x%20y" into decoded key/value pairs
 * and hand each to cb (which returns non-zero to report a duplicate key).
 * buf is scratch space for one decoded key and value; it bounds the size of
 * any single component.  Empty pairs ("a=1&&b=2") are skipped; a key without
 * '=' has the empty value.
 */
machi_uri_status
machi_uri_decode_query(const char *qs, size_t len, char *buf, size_t buflen,
					   machi_uri_kv_cb cb, void *arg)
{
	size_t		i = 0;
	size_t		half = buflen / 2;

	if (half < 2)
		return MACHI_URI_TOO_LONG;
	while (i < len)
	{
		size_t		end = i,
					eq;
		size_t		klen,
					vlen;
		machi_uri_status st;

		while (end < len && qs[end] != '&')
			end++;
		if (end > i)
		{
			eq = i;
			while (eq < end && qs[eq] != '=')
				eq++;
			st = PercentDecode(qs + i, eq - i, buf, half, true, &klen);
			if (st != MACHI_URI_OK)
				return st;
			if (klen == 0)
				return MACHI_URI_BAD_PATH;
			if (eq < end)
				st = PercentDecode(qs + eq + 1, end - eq - 1, buf + half, buflen - half, true, &vlen);
			else
			{
				buf[half] = '\0';
				vlen = 0;
			}
			if (st != MACHI_URI_OK)
				return st;
			if (cb(arg, buf, klen, buf + half, vlen) != 0)
				return MACHI_URI_DUPLICATE;
		}
		i = end + 1;
	}
	return MACHI_URI_OK;
}

/*
 * machi_uri_status_message: a lower-case message for an error response.
 */
const char *
machi_uri_status_message(machi_uri_status st)
{
	switch (st)
	{
		case MACHI_URI_OK:
			return "ok";
		case MACHI_URI_NO_MATCH:
			return "no such resource";
		case MACHI_URI_BAD_ESCAPE:
			return "malformed percent-encoding";
		case MACHI_URI_BAD_UTF8:
			return "not valid UTF-8";
		case MACHI_URI_NUL:
			return "contains a NUL byte";
		case MACHI_URI_CONTROL:
			return "contains a control character";
		case MACHI_URI_BAD_PATH:
			return "malformed path or parameter name";
		case MACHI_URI_TOO_LONG:
			return "component too long";
		case MACHI_URI_DUPLICATE:
			return "parameter given more than once";
	}
	return "invalid";
}

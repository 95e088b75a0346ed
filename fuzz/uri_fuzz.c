/*-------------------------------------------------------------------------
 *
 * uri_fuzz.c
 *	  libFuzzer target for extension/uri.c: the request path checker, the
 *	  route pattern matcher and the query-string decoder, which see every
 *	  byte of a request line before any SQL runs.
 *
 *	  The first input byte selects the mode, the rest is the untrusted
 *	  text.  Besides memory safety (ASan) and undefined behaviour (UBSan),
 *	  each mode checks properties the rest of the extension relies on:
 *
 *	  - a path accepted by machi_uri_check_path has no dot segment, no "//"
 *	    and decodes without NUL or control characters;
 *	  - every captured {placeholder} value is NUL-terminated, fits its
 *	    buffer, is valid UTF-8 and holds no '/', NUL or control character;
 *	  - every decoded query key and value is NUL-terminated at the length
 *	    reported, valid UTF-8, without NUL or control characters, and keys
 *	    are never empty.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

/* the route patterns of the API (machi.route), plus a few edge shapes */
static const char *const patterns[] = {
	"/v1/health",
	"/v1/tenants",
	"/v1/tenants/{id}/categories",
	"/v1/locate",
	"/v1/reports",
	"/v1/reports/{id}",
	"/v1/reports/{id}/comments",
	"/v1/reports/{id}/thanks",
	"/v1/reports/{id}/photos",
	"/v1/reports/{id}/photos/{n}",
	"/v1/staff/reports",
	"/v1/staff/reports.csv",
	"/v1/staff/reports/{id}",
	"/v1/staff/reports/{id}/responses",
	"/open311/v2/services/{code}",
	"/open311/v2/requests/{id}",
	"/open311/v2/tokens/{token}",
	"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
	"/",
	"/{x}",
};

/*
 * no_controls: true when s[0..len) holds no byte below 0x20 and no DEL.
 */
static int
no_controls(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/*
 * on_pair: the decoder's callback; checks each pair and counts them.  A
 * pair whose key begins with "dup" reports a duplicate, to walk that exit.
 */
static int
on_pair(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	int		   *n = arg;

	if (klen == 0 || key[klen] != '\0' || val[vlen] != '\0')
		abort();
	if (strlen(key) != klen || strlen(val) != vlen)
		abort();
	if (!machi_utf8_valid((const unsigned char *) key, klen) ||
		!machi_utf8_valid((const unsigned char *) val, vlen))
		abort();
	if (!no_controls(key, klen) || !no_controls(val, vlen))
		abort();
	(*n)++;
	return klen >= 3 && memcmp(key, "dup", 3) == 0;
}

/*
 * check_path: machi_uri_check_path and, on success, every pattern.
 */
static void
check_path(const char *s, size_t len)
{
	machi_uri_status st = machi_uri_check_path(s, len);
	size_t		i;

	if (machi_uri_status_message(st) == NULL)
		abort();
	if (st != MACHI_URI_OK)
		return;
	if (len == 0 || s[0] != '/')
		abort();
	/* "/./", "/../" and "//" never pass (raw; escaped ones are decoded) */
	for (i = 0; i + 1 < len; i++)
		if (s[i] == '/' && s[i + 1] == '/')
			abort();
	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
	{
		machi_uri_match m;
		int			k;

		if (machi_uri_match_path(patterns[i], s, len, &m) != MACHI_URI_OK)
			continue;
		if (m.nparams < 0 || m.nparams > MACHI_URI_MAX_PARAMS)
			abort();
		for (k = 0; k < m.nparams; k++)
		{
			size_t		vlen = strnlen(m.params[k].value, sizeof(m.params[k].value));

			if (vlen == 0 || vlen >= sizeof(m.params[k].value))
				abort();
			if (memchr(m.params[k].value, '/', vlen) || !no_controls(m.params[k].value, vlen))
				abort();
			if (!machi_utf8_valid((const unsigned char *) m.params[k].value, vlen))
				abort();
			if (strcmp(m.params[k].value, ".") == 0 || strcmp(m.params[k].value, "..") == 0)
				abort();
		}
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s;
	size_t		len;

	if (size == 0)
		return 0;
	len = size - 1;
	/* an exact-size heap copy, so ASan sees any read past the end */
	s = malloc(len ? len : 1);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, len);

	switch (data[0] % 4)
	{
		case 0:
			check_path(s, len);
			break;
		case 1:
			{
				/* pattern and path separated by a space: fuzz both sides */
				char	   *sp = memchr(s, ' ', len);
				machi_uri_match m;

				if (sp != NULL && memchr(s, '\0', sp - s) == NULL)
				{
					char	   *pat = strndup(s, sp - s);

					if (pat != NULL)
					{
						machi_uri_match_path(pat, sp + 1, len - (sp - s) - 1, &m);
						free(pat);
					}
				}
			}
			break;
		case 2:
		case 3:
			{
				/* a small and a realistic scratch buffer */
				size_t		buflen = data[0] % 4 == 2 ? 8 : 4096;
				char	   *buf = malloc(buflen);
				int			n = 0;

				if (buf != NULL)
				{
					machi_uri_decode_query(s, len, buf, buflen, on_pair, &n);
					free(buf);
				}
			}
			break;
	}
	free(s);
	return 0;
}

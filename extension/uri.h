/*-------------------------------------------------------------------------
 *
 * uri.h
 *	  Pure C parsing of request paths and query strings (no PostgreSQL
 *	  headers, so the fuzz targets and unit tests can link it alone).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_URI_H
#define MACHI_URI_H

#include <stddef.h>
#include <stdbool.h>

#define MACHI_URI_MAX_PARAMS 8

typedef enum machi_uri_status
{
	MACHI_URI_OK = 0,
	MACHI_URI_NO_MATCH,
	MACHI_URI_BAD_ESCAPE,		/* '%' not followed by two hex digits */
	MACHI_URI_BAD_UTF8,			/* decoded bytes are not valid UTF-8 */
	MACHI_URI_NUL,				/* a NUL byte, raw or escaped */
	MACHI_URI_CONTROL,			/* another control character */
	MACHI_URI_BAD_PATH,			/* does not start with '/', or empty segment */
	MACHI_URI_TOO_LONG,			/* a component beyond the buffer */
	MACHI_URI_DUPLICATE			/* a query key given twice */
} machi_uri_status;

typedef struct machi_uri_param
{
	const char *name;			/* points into the pattern */
	size_t		name_len;
	char		value[256];		/* decoded, NUL-terminated */
} machi_uri_param;

/*
 * Result of matching one route pattern against one path: how many literal
 * segments matched (the more, the more specific the route) and the values
 * of the {placeholders}.
 */
typedef struct machi_uri_match
{
	int			literals;
	int			nparams;
	machi_uri_param params[MACHI_URI_MAX_PARAMS];
} machi_uri_match;

extern machi_uri_status machi_uri_check_path(const char *path, size_t len);
extern machi_uri_status machi_uri_match_path(const char *pattern, const char *path,
											 size_t len, machi_uri_match *m);

typedef int (*machi_uri_kv_cb) (void *arg, const char *key, size_t klen,
								const char *val, size_t vlen);

extern machi_uri_status machi_uri_decode_query(const char *qs, size_t len,
											   char *buf, size_t buflen,
											   machi_uri_kv_cb cb, void *arg);
extern const char *machi_uri_status_message(machi_uri_status st);
extern bool machi_utf8_valid(const unsigned char *s, size_t len);

#endif							/* MACHI_URI_H */

/*-------------------------------------------------------------------------
 *
 * handle.h
 *	  The request and response of one api.handle() call, as C structs
 *	  shared by handle.c (routing, errors) and auth.c (who is calling).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_HANDLE_H
#define MACHI_HANDLE_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "context.h"

typedef struct MachiHttpRequest
{
	char	   *method;
	char	   *path;
	char	   *query;
	Jsonb	   *headers;		/* as received, credentials included */
	bytea	   *body;
	Datum		client_addr;	/* inet */
	bool		client_addr_null;
	char	   *client_addr_text;
	char	   *request_id;
	const char *route;			/* matched pattern, NULL before routing */
	const MachiContext *outer;	/* context before the call (act_as) */
	MachiContext authed;		/* context after authentication */
	bool		have_authed;
	int64		duration_us;
} MachiHttpRequest;

typedef struct MachiHttpResponse
{
	int			status;
	Jsonb	   *headers;
	Jsonb	   *json;			/* JSON body, or */
	bytea	   *raw;			/* raw body (photos, CSV) */
	char	   *error_code;		/* SQLSTATE when the route failed */
} MachiHttpResponse;

extern char *MachiHeaderValue(Jsonb *headers, const char *name);

#endif							/* MACHI_HANDLE_H */

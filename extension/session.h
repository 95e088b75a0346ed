/*-------------------------------------------------------------------------
 *
 * session.h
 *	  Session tokens: generation, hashing, and authentication of a request
 *	  by its bearer token or session cookie.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_SESSION_H
#define MACHI_SESSION_H

#include "postgres.h"
#include "datatype/timestamp.h"

#define MACHI_TOKEN_BYTES	32
#define MACHI_TOKEN_CHARS	43		/* base64url without padding */
#define MACHI_SESSION_COOKIE "__Host-machi_session"

typedef enum MachiSessionStatus
{
	MACHI_SESSION_OK = 0,
	MACHI_SESSION_INVALID,		/* unknown, revoked, or malformed token */
	MACHI_SESSION_EXPIRED,		/* absolute lifetime over */
	MACHI_SESSION_IDLE,			/* staff idle timeout over */
	MACHI_SESSION_CSRF			/* cookie without a matching CSRF token */
} MachiSessionStatus;

typedef struct MachiSessionInfo
{
	int64		session_id;
	int64		account_id;
	int			idle_minutes;	/* the idle timeout, for the message */
	bool		cookie_session; /* opened for a console (has a CSRF token) */
} MachiSessionInfo;

extern TimestampTz MachiNow(void);
extern char *MachiTokenNew(void);
extern void MachiTokenHash(const char *token, size_t len, uint8 out[32]);
extern void MachiCsrfToken(const char *token, size_t len, char out[MACHI_TOKEN_CHARS + 1]);
extern MachiSessionStatus MachiSessionLookup(const char *token, bool via_cookie,
											 const char *csrf, bool state_changing,
											 MachiSessionInfo *info);
extern void MachiSessionTouch(int64 session_id);

#endif							/* MACHI_SESSION_H */

/*-------------------------------------------------------------------------
 *
 * context.h
 *	  The caller context: who is calling, kept in backend-local C memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_CONTEXT_H
#define MACHI_CONTEXT_H

#include "postgres.h"

#include "fmgr.h"

#define MACHI_MAX_PERMS		64
#define MACHI_MAX_DEPTS		64
#define MACHI_ROLE_LEN		32
#define MACHI_RESOURCE_LEN	24

/* System-managed role presets (rows of machi.role). */
#define MACHI_ROLE_SYSTEM_ADMIN		"system_admin"
#define MACHI_ROLE_TENANT_ADMIN		"tenant_admin"
#define MACHI_ROLE_DEPARTMENT_ADMIN	"department_admin"
#define MACHI_ROLE_STAFF			"staff"
#define MACHI_ROLE_VIEWER			"viewer"
#define MACHI_ROLE_CITIZEN			"citizen"
#define MACHI_ROLE_ANONYMOUS		"anonymous"
#define MACHI_ROLE_OPEN311		"open311_client"

typedef struct MachiPermission
{
	char		resource[MACHI_RESOURCE_LEN];
	bool		can_read;
	bool		can_update;
} MachiPermission;

/*
 * MachiContext: the identity every RLS policy and every route decision reads.
 *
 * It is filled only by C code paths that have verified who the caller is
 * (api.handle after checking a session token, the admin functions after the
 * EXECUTE privilege check, machi.act_as) and is wiped at transaction end.
 * nest_level records the (sub)transaction nesting at which it was set, so
 * that aborting that subtransaction wipes it too (fail closed).
 */
typedef struct MachiContext
{
	bool		valid;			/* false = nobody (policies see NULLs) */
	int64		account_id;		/* 0 = anonymous */
	int32		tenant_id;		/* 0 = no tenant (citizen, anonymous, system) */
	char		role[MACHI_ROLE_LEN];
	int			nperms;
	MachiPermission perms[MACHI_MAX_PERMS];
	int			ndepts;			/* department scope; 0 = whole tenant */
	int64		depts[MACHI_MAX_DEPTS];
	int64		session_id;		/* 0 = none */
	char		csrf[44];		/* CSRF token of a cookie-authenticated
								 * request, "" otherwise (session.c) */
	bool		must_change_password;
	bool		act_as;			/* set by machi.act_as() */
	char		client_addr[64];
	char		request_id[64];
	int			nest_level;
} MachiContext;

extern void MachiContextInit(void);
extern const MachiContext *MachiContextGet(void);
extern void MachiContextSave(MachiContext *saved);
extern void MachiContextRestore(const MachiContext *saved);
extern void MachiContextClear(void);
extern void MachiContextSetAnonymous(const char *client_addr, const char *request_id);
extern void MachiContextSetAccount(int64 account_id, const char *client_addr,
								   const char *request_id);
extern void MachiContextSetSystem(const char *reason);
extern void MachiContextSetApiClient(int32 tenant_id, int64 key_id);
extern bool MachiContextHasPermission(const char *resource, bool update);

/* admin.c: run machi.<name>__impl of the calling dispatcher in the system context */
extern Datum MachiRunImpl(FunctionCallInfo fcinfo, const char *reason, bool audit_admin_call);

#endif							/* MACHI_CONTEXT_H */

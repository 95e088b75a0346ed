/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  The audit trail: row changes, API calls and security events written
 *	  to machi.audit_log, sealed into a hash chain in machi.audit_seal.
 *
 * Other subsystems record an event with MachiAuditEvent():
 *
 *		MachiAuditEventJson(MACHI_AUDIT_LOGIN_FAILED,
 *							psprintf("{\"account_id\": %lld}", (long long) id));
 *
 * The caller's identity (account, role, tenant, session_user, client
 * address, request id) is taken from the caller context; the detail holds
 * what only the caller knows.  Never put plaintext personal data or secrets
 * in a detail: name the fields disclosed, not their values.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_AUDIT_H
#define MACHI_AUDIT_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/jsonb.h"

#include "handle.h"

/*
 * Event types and the detail keys the security report reads.  A new type
 * is any lower-case word of at most 40 letters and underscores.
 */
#define MACHI_AUDIT_API_CALL		"api_call"	/* written by api.handle */
#define MACHI_AUDIT_LOGIN_FAILED	"login_failed"	/* account_id (when known) */
#define MACHI_AUDIT_ACCOUNT_LOCKED	"account_locked"	/* account_id, reason */
#define MACHI_AUDIT_ACCOUNT_UNLOCKED "account_unlocked"	/* account_id */
#define MACHI_AUDIT_PERMISSION_DENIED "permission_denied"	/* resource, action */
#define MACHI_AUDIT_EXPORT			"export"	/* what, rows, pii (bool) */
#define MACHI_AUDIT_ROLE_CHANGED	"role_changed"	/* account_id, old_role, new_role */
#define MACHI_AUDIT_ACT_AS			"act_as"	/* account_id, reason */
#define MACHI_AUDIT_ADMIN_CALL		"admin_call"	/* function, args */
#define MACHI_AUDIT_PII_DISCLOSURE	"pii_disclosure"	/* subject_account_id,
														 * fields, reason */
#define MACHI_AUDIT_RETENTION		"audit_retention"	/* partition, upper_bound */

/*
 * Columns of machi.audit_log in table order (attnum - 1).  The sealing
 * code hashes them in this order (see seal.c); changing the table means
 * changing the canonical text and its version tag.
 */
typedef enum MachiAuditColumn
{
	AUDIT_COL_AUDIT_ID,
	AUDIT_COL_LOGGED_AT,
	AUDIT_COL_XACT_AT,
	AUDIT_COL_TXID,
	AUDIT_COL_EVENT,
	AUDIT_COL_OP,
	AUDIT_COL_TABLE_NAME,
	AUDIT_COL_PK,
	AUDIT_COL_DETAIL,
	AUDIT_COL_ACCOUNT_ID,
	AUDIT_COL_ROLE,
	AUDIT_COL_TENANT_ID,
	AUDIT_COL_ACT_AS,
	AUDIT_COL_DB_USER,
	AUDIT_COL_CLIENT_ADDR,
	AUDIT_COL_REQUEST_ID,
	AUDIT_NCOLS
} MachiAuditColumn;

extern void MachiAuditInit(void);
extern void MachiAuditEvent(const char *type, Jsonb *detail);
extern void MachiAuditEventJson(const char *type, const char *json);
extern void MachiAuditRequestBegin(void);
extern void MachiAuditRequestEnd(const MachiHttpRequest *hr,
								 const MachiHttpResponse *out);
extern void MachiAuditAdminCall(FunctionCallInfo fcinfo);

#endif							/* MACHI_AUDIT_H */

/*-------------------------------------------------------------------------
 *
 * machi.h
 *	  Shared declarations of the machi extension: error codes that map to
 *	  HTTP statuses, GUC variables, and the entry points each subsystem
 *	  offers the others.
 *
 * Each subsystem lives in its own file (context.c, handle.c, route.c,
 * qs.c, ...); this header is the only place where they meet.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MACHI_H
#define MACHI_H

#include "postgres.h"
#include "executor/spi.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#ifndef MACHI_VERSION
#error "MACHI_VERSION must be defined by the build (from control/machi.control)"
#endif

/*
 * SQLSTATEs of class "MC" carry the HTTP status they map to in their last
 * three characters.  Route functions raise them (from C with errcode(), from
 * SQL with RAISE ... USING ERRCODE = 'MC422'); api.handle turns them into
 * responses.  Standard SQLSTATEs are mapped too (see handle.c).
 */
#define ERRCODE_MACHI_BAD_REQUEST		MAKE_SQLSTATE('M','C','4','0','0')
#define ERRCODE_MACHI_UNAUTHORIZED		MAKE_SQLSTATE('M','C','4','0','1')
#define ERRCODE_MACHI_FORBIDDEN			MAKE_SQLSTATE('M','C','4','0','3')
#define ERRCODE_MACHI_NOT_FOUND			MAKE_SQLSTATE('M','C','4','0','4')
#define ERRCODE_MACHI_METHOD_NOT_ALLOWED MAKE_SQLSTATE('M','C','4','0','5')
#define ERRCODE_MACHI_CONFLICT			MAKE_SQLSTATE('M','C','4','0','9')
#define ERRCODE_MACHI_TOO_LARGE			MAKE_SQLSTATE('M','C','4','1','3')
#define ERRCODE_MACHI_URI_TOO_LONG		MAKE_SQLSTATE('M','C','4','1','4')
#define ERRCODE_MACHI_UNSUPPORTED_MEDIA	MAKE_SQLSTATE('M','C','4','1','5')
#define ERRCODE_MACHI_UNPROCESSABLE		MAKE_SQLSTATE('M','C','4','2','2')
#define ERRCODE_MACHI_TOO_MANY			MAKE_SQLSTATE('M','C','4','2','9')
#define ERRCODE_MACHI_UNAVAILABLE		MAKE_SQLSTATE('M','C','5','0','3')

/* GUCs (defined and documented in machi.c) */
extern int	machi_max_body_bytes;
extern int	machi_max_query_bytes;
extern int	machi_locate_tolerance_m;
extern int	machi_report_rate_per_hour;
extern int	machi_photo_max_bytes;
extern int	machi_photo_max_count;
extern int	machi_csv_max_rows;
extern int	machi_audit_retention_days;

/* identity: keys, passwords, sessions, lockout, mail (machi.c) */
extern char *machi_master_key_file;
extern int	machi_clock_offset;
extern int	machi_password_memory_kib;
extern int	machi_password_time_cost;
extern int	machi_citizen_password_min_length;
extern int	machi_staff_password_min_length;
extern int	machi_password_min_score;
extern int	machi_lockout_threshold;
extern int	machi_lockout_minutes;
extern int	machi_address_failure_limit;
extern int	machi_staff_session_lifetime;
extern int	machi_citizen_session_lifetime;
extern int	machi_outbox_max_attempts;
extern char *machi_public_base_url;

/*
 * MachiKeptPlan: the plan of a statement run on every request, prepared on
 * first use and kept for the backend's life (SPI_keepplan; the plan cache
 * replans it after DDL).  Caller must be connected to SPI.
 */
extern SPIPlanPtr MachiKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types);

/* GUC hooks of the identity subsystems */
extern bool machi_master_key_file_check(char **newval, void **extra, GucSource source);
extern void machi_master_key_file_assign(const char *newval, void *extra);
extern bool machi_public_base_url_check(char **newval, void **extra, GucSource source);

#endif							/* MACHI_H */

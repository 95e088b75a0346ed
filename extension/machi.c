/*-------------------------------------------------------------------------
 *
 * machi.c
 *	  Module load: GUC definitions and the registration of every
 *	  subsystem's callbacks.
 *
 * All GUCs of the extension are defined here, in one place, under the
 * reserved prefix "machi.".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include <sodium.h>

#include "audit.h"
#include "context.h"
#include "machi.h"

PG_MODULE_MAGIC;

/*
 * machi.max_body_bytes: the largest request body api.handle accepts, over
 * all routes (each route has its own, lower limit in machi.route).  The
 * gateway enforces its own limit first; this one protects psql callers and
 * a misconfigured gateway.
 */
int			machi_max_body_bytes = 12 * 1024 * 1024;

/*
 * machi.max_query_bytes: the longest query string api.handle decodes.
 */
int			machi_max_query_bytes = 8192;

/*
 * machi.locate_tolerance_m: how far (metres) outside every tenant boundary
 * a position may lie and still be routed to the nearest tenant.  Official
 * boundary data leaves hairline gaps between neighbours; a report in such a
 * gap must not be refused.  0 disables the snapping.
 */
int			machi_locate_tolerance_m = 10;

/*
 * machi.report_rate_per_hour: how many reports one citizen account may post
 * in any hour; more answer 429 with Retry-After.  Protects staff queues
 * from floods by a single account.
 */
int			machi_report_rate_per_hour = 20;

/*
 * machi.photo_max_bytes / machi.photo_max_count: the size of one photo and
 * the number of photos per report.  Photos are stored in the database, so
 * these bound its growth per report.
 */
int			machi_photo_max_bytes = 10 * 1024 * 1024;
int			machi_photo_max_count = 4;

/*
 * machi.audit_retention_days: how long the audit trail is kept.
 * machi.audit_retention() drops a month's partition once every row in it is
 * older than this.  The service promises customers at least a year, so the
 * check hook refuses less than 365 days; server-wide (SIGHUP) because the
 * retention job and every session must agree.
 */
int			machi_audit_retention_days = 400;

void		_PG_init(void);

/*
 * CheckAuditRetentionDays: GUC check hook of machi.audit_retention_days.
 */
static bool
CheckAuditRetentionDays(int *newval, void **extra, GucSource source)
{
	if (*newval < 365)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("machi.audit_retention_days must be at least 365");
		GUC_check_errdetail("The audit trail is kept for at least one year.");
		return false;
	}
	return true;
}

/*
 * _PG_init: define the GUCs and register the transaction callbacks of the
 * caller context and of the audit trail.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("machi.max_body_bytes",
							"Largest request body api.handle accepts, in bytes.",
							NULL,
							&machi_max_body_bytes,
							12 * 1024 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.max_query_bytes",
							"Longest query string api.handle decodes, in bytes.",
							NULL,
							&machi_max_query_bytes,
							8192, 256, 65536,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.locate_tolerance_m",
							"Distance in metres outside every boundary within which a position snaps to the nearest tenant.",
							NULL,
							&machi_locate_tolerance_m,
							10, 0, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.report_rate_per_hour",
							"Reports one citizen account may post per hour.",
							NULL,
							&machi_report_rate_per_hour,
							20, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.photo_max_bytes",
							"Largest photo accepted, in bytes.",
							NULL,
							&machi_photo_max_bytes,
							10 * 1024 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.photo_max_count",
							"Photos per report.",
							NULL,
							&machi_photo_max_count,
							4, 1, 16,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.audit_retention_days",
							"Days the audit trail is kept before machi.audit_retention() drops a month.",
							"At least 365.",
							&machi_audit_retention_days,
							400, 1, 36500,
							PGC_SIGHUP, 0,
							CheckAuditRetentionDays, NULL, NULL);
	MarkGUCPrefixReserved("machi");

	if (sodium_init() < 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("machi: could not initialise libsodium")));
	MachiContextInit();
	MachiAuditInit();
}

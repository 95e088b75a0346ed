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

void		_PG_init(void);

/*
 * _PG_init: define the GUCs and register the transaction callbacks of the
 * caller context.
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
	MarkGUCPrefixReserved("machi");

	if (sodium_init() < 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("machi: could not initialise libsodium")));
	MachiContextInit();
}

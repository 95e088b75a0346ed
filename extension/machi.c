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

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include <sodium.h>

#include "audit.h"
#include "context.h"
#include "crypto.h"
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
 * machi.master_key_file: absolute path of the file holding the 32-byte master
 * key that wraps every data key (see crypto.c).  Outside the data directory,
 * mode 0600, owned by the server's user.  Superuser-only: the path of a
 * secret is itself worth hiding, and changing it in a session only breaks
 * that session's decryption.
 */
char	   *machi_master_key_file = NULL;

/*
 * machi.clock_offset: seconds added to the transaction time by machi.now(),
 * the clock of every identity rule (session expiry, idle timeout, token
 * expiry, lockout).  Tests move time with it instead of sleeping; in
 * production it stays 0.  Superuser-only.
 */
int			machi_clock_offset = 0;

/*
 * machi.password_memory_kib, machi.password_time_cost: argon2id cost of new
 * password hashes (memory in KiB, passes; parallelism is always 1 in
 * libsodium).  The defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
 * Raising them makes every login rehash the password once at the new cost.
 */
int			machi_password_memory_kib = 19456;
int			machi_password_time_cost = 2;

/*
 * machi.citizen_password_min_length, machi.staff_password_min_length:
 * shortest password accepted, in characters (code points).  They can only be
 * raised above the defaults of 8 and 10.
 */
int			machi_citizen_password_min_length = 8;
int			machi_staff_password_min_length = 10;

/*
 * machi.password_min_score: lowest zxcvbn strength score (0-4) accepted for
 * a new password.
 */
int			machi_password_min_score = 3;

/*
 * machi.lockout_threshold, machi.lockout_minutes: after this many
 * consecutive failed logins an account is locked for this long.
 */
int			machi_lockout_threshold = 10;
int			machi_lockout_minutes = 15;

/*
 * machi.address_failure_limit: failed logins from one client address within
 * machi.lockout_minutes after which that address is answered 429 until the
 * window passes; 0 disables.
 */
int			machi_address_failure_limit = 50;

/*
 * machi.staff_session_lifetime, machi.citizen_session_lifetime: absolute
 * lifetime of a session in minutes (12 hours and 30 days by default), idle
 * or not.  Staff sessions also end after the tenant's idle timeout.
 */
int			machi_staff_session_lifetime = 12 * 60;
int			machi_citizen_session_lifetime = 30 * 24 * 60;

/*
 * machi.outbox_max_attempts: how many times the mailer tries a message before
 * it is marked failed.
 */
int			machi_outbox_max_attempts = 5;

/*
 * machi.public_base_url: the address of the web front end, used in links
 * sent by e-mail (verification, password reset).
 */
char	   *machi_public_base_url = NULL;

/*
 * machi.operator_email: where mail for the operators goes (the daily
 * security report), comma-separated; empty: nowhere (the report stays
 * readable with machi.security_report()).
 */
char	   *machi_operator_email = NULL;

/*
 * machi.citizen_inactive_days: citizens' accounts with no session and no
 * report for this many days are deleted by the daily job (personal data
 * erased, reports kept anonymised); 0 keeps them forever.
 */
int			machi_citizen_inactive_days = 0;

/*
 * machi.enumeration_floor_ms: registration and password-reset requests are
 * answered no sooner than this, so that their timing does not tell whether
 * an address is registered (their bodies already do not).
 */
int			machi_enumeration_floor_ms = 300;

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
int			machi_csv_max_rows = 50000;

/*
 * machi.audit_retention_days: how long the audit trail is kept.
 * machi.audit_retention() drops a month's partition once every row in it is
 * older than this.  The service promises customers at least a year, so the
 * check hook refuses less than 365 days; server-wide (SIGHUP) because the
 * retention job and every session must agree.
 */
int			machi_audit_retention_days = 400;

/*
 * MachiKeptPlan: see machi.h.
 */
SPIPlanPtr
MachiKeptPlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan;

	if (*slot)
		return *slot;
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	*slot = plan;
	return plan;
}

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
	DefineCustomStringVariable("machi.master_key_file",
							   "File holding the master key that wraps the data keys of personal data.",
							   "Absolute path outside the data directory; 32 raw bytes or 64 hex digits; mode 0600.",
							   &machi_master_key_file,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY,
							   machi_master_key_file_check, machi_master_key_file_assign, NULL);
	DefineCustomIntVariable("machi.clock_offset",
							"Seconds added to the clock of sessions, tokens and lockouts (tests only).",
							NULL,
							&machi_clock_offset,
							0, -366 * 86400, 366 * 86400,
							PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.password_memory_kib",
							"Memory cost of new argon2id password hashes, in KiB.",
							NULL,
							&machi_password_memory_kib,
							19456, 8, 4 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.password_time_cost",
							"Passes (time cost) of new argon2id password hashes.",
							NULL,
							&machi_password_time_cost,
							2, 1, 64,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.citizen_password_min_length",
							"Shortest password of a citizen, in characters.",
							NULL,
							&machi_citizen_password_min_length,
							8, 8, 128,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.staff_password_min_length",
							"Shortest password of a staff member, in characters.",
							NULL,
							&machi_staff_password_min_length,
							10, 10, 128,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.password_min_score",
							"Lowest zxcvbn strength score (0-4) of a new password.",
							NULL,
							&machi_password_min_score,
							3, 0, 4,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.lockout_threshold",
							"Consecutive failed logins after which an account is locked.",
							NULL,
							&machi_lockout_threshold,
							10, 3, 100,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.lockout_minutes",
							"How long an account stays locked after too many failed logins.",
							NULL,
							&machi_lockout_minutes,
							15, 1, 24 * 60,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.address_failure_limit",
							"Failed logins from one client address within machi.lockout_minutes before it is throttled; 0 disables.",
							NULL,
							&machi_address_failure_limit,
							50, 0, 100000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.staff_session_lifetime",
							"Absolute lifetime of a staff session.",
							NULL,
							&machi_staff_session_lifetime,
							12 * 60, 5, 7 * 24 * 60,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.citizen_session_lifetime",
							"Absolute lifetime of a citizen session.",
							NULL,
							&machi_citizen_session_lifetime,
							30 * 24 * 60, 5, 366 * 24 * 60,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.outbox_max_attempts",
							"Delivery attempts of an outgoing e-mail before it is marked failed.",
							NULL,
							&machi_outbox_max_attempts,
							5, 1, 100,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("machi.public_base_url",
							   "Base address of the web front end, for links sent by e-mail.",
							   NULL,
							   &machi_public_base_url,
							   "https://localhost",
							   PGC_SUSET, 0,
							   machi_public_base_url_check, NULL, NULL);
	DefineCustomStringVariable("machi.operator_email",
							   "Addresses (comma-separated) that receive the operators' mail, such as the daily security report.",
							   NULL,
							   &machi_operator_email,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("machi.citizen_inactive_days",
							"Days without a session or a report after which a citizen's account is deleted (0: never).",
							NULL,
							&machi_citizen_inactive_days,
							0, 0, 36500,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("machi.enumeration_floor_ms",
							"Registration and password-reset answers take at least this long (ms), whether the address is known or not.",
							NULL,
							&machi_enumeration_floor_ms,
							300, 0, 5000,
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
	DefineCustomIntVariable("machi.csv_max_rows",
							"Most reports one staff queue CSV holds.",
							"A larger match is refused with 422; the tenant export comes in parts.",
							&machi_csv_max_rows,
							50000, 1, 1000000,
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
	MachiCryptoInit();
	MachiAuditInit();
}

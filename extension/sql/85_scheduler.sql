-- machi install script, part 85: the scheduled jobs.  Every job is a
-- documented SQL function that an operator can also run by hand;
-- machi.schedule_jobs() installs them all in pg_cron where it is loaded, so
-- the extension works (with jobs run by hand) where pg_cron is absent.

CREATE TABLE machi.job (
	job_name	text PRIMARY KEY,
	schedule	text NOT NULL,		-- cron syntax, in the server's time zone (UTC)
	command		text NOT NULL,
	description	text NOT NULL
);
COMMENT ON TABLE machi.job IS
'The scheduled jobs of machi: name, cron schedule (server time, UTC), the SQL command, and what it is for. machi.schedule_jobs() installs them in pg_cron; each command can also be run by hand in psql.';
ALTER TABLE machi.job ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.job FORCE ROW LEVEL SECURITY;
CREATE POLICY job_select ON machi.job FOR SELECT USING (true);
CREATE POLICY job_write ON machi.job FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

INSERT INTO machi.job VALUES
	('machi-seal-audit', '* * * * *', 'SELECT machi.seal_audit()',
	 'Seal the audit rows of finished transactions into the hash chain (tamper evidence).'),
	('machi-audit-retention', '17 3 * * *', 'SELECT machi.audit_retention()',
	 'Drop audit partitions older than machi.audit_retention_days (at least 365).'),
	('machi-audit-maintain', '27 3 * * *', 'SELECT machi.audit_maintain(2)',
	 'Create the audit partitions of the coming months.'),
	('machi-cleanup-sessions', '37 3 * * *', 'SELECT machi.cleanup_sessions()',
	 'Delete ended sessions and used or expired single-use tokens older than 30 days, and expired login throttles.'),
	('machi-erase-due-tenants', '47 3 * * *', 'SELECT machi.erase_due_tenants()',
	 'Erase the tenants whose contract ended 30 days ago (crypto-shredding, deletion, certificate).'),
	('machi-inactive-citizens', '52 3 * * *', 'SELECT machi.delete_inactive_citizens()',
	 'Delete citizens'' accounts inactive for machi.citizen_inactive_days (off when 0).'),
	('machi-vacuum', '57 3 * * *', 'VACUUM (ANALYZE) machi.report, machi.report_update, machi.report_photo, machi.account, machi.account_pii, machi.session, machi.outbox',
	 'Reclaim the space of deleted rows (erasure, cleanup) so no old tuple versions stay readable on disk longer than needed.'),
	-- 23:30 UTC is 08:30 JST: the report of the previous Japanese day
	('machi-security-report', '30 23 * * *', 'SELECT machi.queue_security_report()',
	 'Mail the daily security report (yesterday, JST) to the operators through the outbox.');

CREATE FUNCTION machi.schedule_jobs() RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
		RAISE NOTICE 'pg_cron is not installed in this database: run the jobs of machi.job by hand or from cron';
		RETURN;
	END IF;
	FOR j IN SELECT * FROM machi.job ORDER BY job_name LOOP
		-- cron.schedule(name, ...) replaces a job of the same name
		EXECUTE 'SELECT cron.schedule($1, $2, $3)' USING j.job_name, j.schedule, j.command;
		RETURN NEXT format('%s  %s  %s', j.job_name, j.schedule, j.command);
	END LOOP;
END
$$;
COMMENT ON FUNCTION machi.schedule_jobs() IS
'Install every job of machi.job in pg_cron (replacing jobs of the same name); without pg_cron, say so and do nothing. Run as a superuser or a machi_admin with rights on schema cron: SELECT * FROM machi.schedule_jobs();';

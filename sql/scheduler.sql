-- scheduler: the jobs are data, each runs by hand; without pg_cron
-- machi.schedule_jobs() says so and changes nothing.
\set VERBOSITY terse
SELECT job_name, schedule, command FROM machi.job ORDER BY job_name;
SELECT count(*) AS undocumented FROM machi.job WHERE length(description) < 20;
SELECT * FROM machi.schedule_jobs();
-- every job's command runs by hand
DO $$
DECLARE
	j record;
BEGIN
	FOR j IN SELECT * FROM machi.job WHERE command NOT LIKE 'VACUUM%' ORDER BY job_name LOOP
		-- the jobs' own notices name today's date: keep the output stable
		PERFORM set_config('client_min_messages', 'warning', true);
		EXECUTE j.command;
		PERFORM set_config('client_min_messages', 'notice', true);
		RAISE NOTICE 'ran %', j.job_name;
	END LOOP;
END $$;
-- VACUUM cannot run inside a function: that job runs as a statement of its own
SELECT job_name FROM machi.job WHERE command LIKE 'VACUUM%';
VACUUM (ANALYZE) machi.report, machi.report_update, machi.report_photo, machi.account, machi.account_pii, machi.session, machi.outbox;

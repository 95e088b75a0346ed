-- bench/reports_measure.sql: the measurement (data from bench/reports.sql).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.lat (query text, mode text, ms float8);

-- one citizen and one tenant admin to be; the same SQL in both modes
SELECT min(account_id) AS citizen FROM machi.account WHERE kind = 'citizen' \gset
SELECT min(account_id) AS staff FROM machi.account WHERE tenant_id = 1010 \gset

CREATE FUNCTION bench.map_query(x float8, y float8) RETURNS int LANGUAGE sql AS $$
	SELECT count(*)::int FROM (
		SELECT rep.report_id, rep.location FROM machi.report rep
		WHERE (rep.visibility = 'public' OR rep.author_id = machi.current_account())
		  AND rep.location OPERATOR(public.&&) public.st_makeenvelope(x, y, x + 0.02, y + 0.02, 4326)
		ORDER BY rep.report_id DESC LIMIT 50) s $$;
CREATE FUNCTION bench.queue_query(st text) RETURNS int LANGUAGE sql AS $$
	-- what the staff queue route does: one page of a status, and the counts
	-- per status (from machi.report_tally, kept by triggers on machi.report)
	SELECT (SELECT count(*)::int FROM (
				SELECT rep.report_id, rep.title FROM machi.report rep
				WHERE rep.tenant_id = 1010 AND rep.status = st
				ORDER BY rep.report_id DESC LIMIT 50) s)
		 + (SELECT sum(n)::int FROM (SELECT t.status, sum(t.n) AS n FROM machi.report_tally t
									 WHERE t.tenant_id = 1010 GROUP BY t.status) c) $$;
CREATE FUNCTION bench.search_query(term text) RETURNS int LANGUAGE sql AS $$
	SELECT count(*)::int FROM (
		SELECT rep.report_id FROM machi.report rep
		WHERE rep.tenant_id = 1010
		  AND machi.search_doc(rep.title, rep.description, rep.tenant_id) OPERATOR(machi.@>) machi.search_query(term, 1010)
		  AND machi.search_words(rep.title || ' ' || rep.description, term)
		ORDER BY rep.report_id DESC LIMIT 50) s $$;

-- run(n): n rounds; each round runs every query once with RLS (as
-- machi_owner under the caller's context) and once as the superuser
CREATE FUNCTION bench.run(n int, citizen bigint, staff bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	x float8;
	y float8;
	st text;
	term text;
BEGIN
	FOR i IN 1..n LOOP
		x := 130 + random() * 0.98;
		y := 40 + random() * 0.48;
		st := (ARRAY['received', 'in_progress', 'resolved', 'closed'])[1 + i % 4];
		term := (ARRAY['穴', '公園', '不法投棄', '交差点'])[1 + i % 4];
		-- superuser, no RLS
		t0 := clock_timestamp(); PERFORM bench.map_query(x, y);
		INSERT INTO bench.lat VALUES ('map', 'superuser', extract(epoch FROM clock_timestamp() - t0) * 1000);
		t0 := clock_timestamp(); PERFORM bench.queue_query(st);
		INSERT INTO bench.lat VALUES ('queue', 'superuser', extract(epoch FROM clock_timestamp() - t0) * 1000);
		t0 := clock_timestamp(); PERFORM bench.search_query(term);
		INSERT INTO bench.lat VALUES ('search', 'superuser', extract(epoch FROM clock_timestamp() - t0) * 1000);
		-- RLS: the citizen for the map, the tenant admin for the queue
		PERFORM machi.act_as(citizen, 'benchmark of the map query');
		SET LOCAL ROLE machi_owner;
		t0 := clock_timestamp(); PERFORM bench.map_query(x, y);
		INSERT INTO bench.lat VALUES ('map', 'rls', extract(epoch FROM clock_timestamp() - t0) * 1000);
		RESET ROLE;
		t0 := clock_timestamp();
		PERFORM h.status FROM api.handle('GET', '/v1/reports', format('bbox=%s,%s,%s,%s', x, y, x + 0.02, y + 0.02),
										 '{}', NULL, '127.0.0.1', 'bench') h;
		INSERT INTO bench.lat VALUES ('map route (api.handle)', 'rls', extract(epoch FROM clock_timestamp() - t0) * 1000);
		PERFORM machi.act_as(staff, 'benchmark of the staff queue');
		SET LOCAL ROLE machi_owner;
		t0 := clock_timestamp(); PERFORM bench.queue_query(st);
		INSERT INTO bench.lat VALUES ('queue', 'rls', extract(epoch FROM clock_timestamp() - t0) * 1000);
		t0 := clock_timestamp(); PERFORM bench.search_query(term);
		INSERT INTO bench.lat VALUES ('search', 'rls', extract(epoch FROM clock_timestamp() - t0) * 1000);
		RESET ROLE;
		-- the route itself, as the gateway calls it (RLS only: it needs a caller)
		t0 := clock_timestamp();
		PERFORM h.status FROM api.handle('GET', '/v1/staff/reports', 'status=' || st, '{}', NULL, '127.0.0.1', 'bench') h;
		INSERT INTO bench.lat VALUES ('queue route (api.handle)', 'rls', extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END $$;
GRANT INSERT ON bench.lat TO machi_owner;
GRANT USAGE ON SCHEMA bench TO machi_owner;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO machi_owner;

SELECT bench.run(20, :citizen, :staff);	-- warm-up
TRUNCATE bench.lat;
SELECT bench.run(:rounds, :citizen, :staff);

\pset format unaligned
\pset tuples_only on
\o :outfile
SELECT format('| %s | %s | %s | %s | %s | %s |', q.query,
			  round(q.p50_super::numeric, 2), round(q.p95_super::numeric, 2),
			  round(q.p50_rls::numeric, 2), round(q.p95_rls::numeric, 2),
			  round((q.p95_rls / nullif(q.p95_super, 0))::numeric, 2))
FROM (SELECT query,
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE mode = 'superuser') AS p50_super,
			 percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE mode = 'superuser') AS p95_super,
			 percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE mode = 'rls') AS p50_rls,
			 percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) FILTER (WHERE mode = 'rls') AS p95_rls
	  FROM bench.lat GROUP BY query) q
ORDER BY q.query;
\o

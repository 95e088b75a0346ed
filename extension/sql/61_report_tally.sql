-- machi install script, part 61: the number of reports per tenant,
-- department, category and status, kept by statement triggers on
-- machi.report so that the staff queue's counts per status do not have to
-- visit every report of a tenant (under row-level security that is one heap
-- page per report).

CREATE TABLE machi.report_tally (
	tenant_id		int NOT NULL,
	department_id	bigint NOT NULL,
	category_id		bigint NOT NULL,
	status			text NOT NULL,
	n				bigint NOT NULL,
	PRIMARY KEY (tenant_id, department_id, category_id, status)
);
COMMENT ON TABLE machi.report_tally IS
'How many reports each tenant has per department, category and status. Written only by the triggers on machi.report (machi.report_tally_apply); read for the staff queue''s counts. machi.report_tally_check() compares it with the reports.';

ALTER TABLE machi.report_tally ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_tally FORCE ROW LEVEL SECURITY;
-- staff read their tenant's counts (department-scoped roles: their
-- departments), as they read the reports themselves; only the system
-- context writes (machi.report_tally_add, called by the triggers below)
CREATE POLICY report_tally_select ON machi.report_tally FOR SELECT
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('report', 'read'))
			AND ((SELECT machi.current_departments()) IS NULL
				 OR department_id = ANY (machi.current_departments()))));
CREATE POLICY report_tally_insert ON machi.report_tally FOR INSERT WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY report_tally_update ON machi.report_tally FOR UPDATE
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY report_tally_delete ON machi.report_tally FOR DELETE USING ((SELECT machi.is_operator()));

-- add counts, in key order so that two transactions changing the same keys
-- lock them in the same order (two status changes in opposite directions
-- cannot deadlock)
CREATE FUNCTION machi.report_tally_add__impl(tenants int[], departments bigint[], categories bigint[],
											 statuses text[], deltas bigint[])
	RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO machi.report_tally AS t (tenant_id, department_id, category_id, status, n)
	SELECT u.tenant_id, u.department_id, u.category_id, u.status, u.delta
	FROM unnest(tenants, departments, categories, statuses, deltas)
		AS u(tenant_id, department_id, category_id, status, delta)
	ORDER BY 1, 2, 3, 4
	ON CONFLICT (tenant_id, department_id, category_id, status) DO UPDATE SET n = t.n + excluded.n;
	-- keys down to nothing go (an erased tenant leaves no rows behind)
	DELETE FROM machi.report_tally t
	USING unnest(tenants, departments, categories, statuses) AS u(tenant_id, department_id, category_id, status)
	WHERE (t.tenant_id, t.department_id, t.category_id, t.status) = (u.tenant_id, u.department_id, u.category_id, u.status)
	  AND t.n = 0;
END;
CREATE FUNCTION machi.report_tally_add(tenants int[], departments bigint[], categories bigint[],
									   statuses text[], deltas bigint[])
	RETURNS void
	AS 'MODULE_PATHNAME', 'machi_trusted_dispatch'
	LANGUAGE C VOLATILE;
COMMENT ON FUNCTION machi.report_tally_add__impl(int[], bigint[], bigint[], text[], bigint[]) IS
'Implementation of machi.report_tally_add (owner only).';
COMMENT ON FUNCTION machi.report_tally_add(int[], bigint[], bigint[], text[], bigint[]) IS
'Add deltas to machi.report_tally in the system context (whoever changed the reports may not read the tally); called by machi.report_tally_apply only (owner only).';

CREATE FUNCTION machi.report_tally_rebuild__impl() RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n bigint;
BEGIN
	LOCK TABLE machi.report IN SHARE MODE;
	DELETE FROM machi.report_tally;
	INSERT INTO machi.report_tally (tenant_id, department_id, category_id, status, n)
	SELECT r.tenant_id, r.department_id, r.category_id, r.status, count(*)
	FROM machi.report r GROUP BY 1, 2, 3, 4;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
CREATE FUNCTION machi.report_tally_rebuild() RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.report_tally_rebuild__impl() IS 'Implementation of machi.report_tally_rebuild (owner only).';
COMMENT ON FUNCTION machi.report_tally_rebuild() IS
'machi_admin, recorded: recount machi.report_tally from the reports (blocks report changes meanwhile); returns the number of tally rows. Needed only if machi.report_tally_check() reports a difference. Example: SELECT machi.report_tally_rebuild();';

-- what a statement changed, as deltas per key.  Each event has its own
-- trigger with the transition tables it has; plpgsql plans only the branch
-- that runs.
CREATE FUNCTION machi.report_tally_apply() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t int[];
	d bigint[];
	c bigint[];
	s text[];
	k bigint[];
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		PERFORM machi.report_tally_rebuild();
		RETURN NULL;
	ELSIF TG_OP = 'INSERT' THEN
		SELECT array_agg(x.tenant_id), array_agg(x.department_id), array_agg(x.category_id),
			   array_agg(x.status), array_agg(x.k)
		INTO t, d, c, s, k
		FROM (SELECT tenant_id, department_id, category_id, status, count(*) AS k
			  FROM new_rows GROUP BY 1, 2, 3, 4) x;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(x.tenant_id), array_agg(x.department_id), array_agg(x.category_id),
			   array_agg(x.status), array_agg(x.k)
		INTO t, d, c, s, k
		FROM (SELECT tenant_id, department_id, category_id, status, -count(*) AS k
			  FROM old_rows GROUP BY 1, 2, 3, 4) x;
	ELSE
		SELECT array_agg(x.tenant_id), array_agg(x.department_id), array_agg(x.category_id),
			   array_agg(x.status), array_agg(x.k)
		INTO t, d, c, s, k
		FROM (SELECT tenant_id, department_id, category_id, status, sum(delta)::bigint AS k
			  FROM (SELECT tenant_id, department_id, category_id, status, 1 AS delta FROM new_rows
					UNION ALL
					SELECT tenant_id, department_id, category_id, status, -1 FROM old_rows) u
			  GROUP BY 1, 2, 3, 4 HAVING sum(delta) <> 0) x;
	END IF;
	IF t IS NOT NULL THEN
		PERFORM machi.report_tally_add(t, d, c, s, k);
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION machi.report_tally_apply() IS
'Trigger function: adds the reports a statement inserted, updated or deleted to machi.report_tally (after TRUNCATE it recounts).';

CREATE TRIGGER report_tally_insert AFTER INSERT ON machi.report
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION machi.report_tally_apply();
CREATE TRIGGER report_tally_update AFTER UPDATE ON machi.report
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION machi.report_tally_apply();
CREATE TRIGGER report_tally_delete AFTER DELETE ON machi.report
	REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION machi.report_tally_apply();
CREATE TRIGGER report_tally_truncate AFTER TRUNCATE ON machi.report
	FOR EACH STATEMENT EXECUTE FUNCTION machi.report_tally_apply();

CREATE FUNCTION machi.report_tally_check__impl()
	RETURNS TABLE (tenant_id int, department_id bigint, category_id bigint, status text, tallied bigint, counted bigint)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT coalesce(t.tenant_id, c.tenant_id), coalesce(t.department_id, c.department_id),
		   coalesce(t.category_id, c.category_id), coalesce(t.status, c.status),
		   coalesce(t.n, 0), coalesce(c.n, 0)
	FROM machi.report_tally t
	FULL JOIN (SELECT r.tenant_id, r.department_id, r.category_id, r.status, count(*) AS n
			   FROM machi.report r GROUP BY 1, 2, 3, 4) c
		ON (c.tenant_id, c.department_id, c.category_id, c.status)
		 = (t.tenant_id, t.department_id, t.category_id, t.status)
	WHERE coalesce(t.n, 0) <> coalesce(c.n, 0)
	ORDER BY 1, 2, 3, 4;
END
$$;
CREATE FUNCTION machi.report_tally_check()
	RETURNS TABLE (tenant_id int, department_id bigint, category_id bigint, status text, tallied bigint, counted bigint)
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.report_tally_check__impl() IS 'Implementation of machi.report_tally_check (owner only).';
COMMENT ON FUNCTION machi.report_tally_check() IS
'machi_admin, recorded: where machi.report_tally differs from counting the reports (no rows: they agree; otherwise run machi.report_tally_rebuild()). Example: SELECT * FROM machi.report_tally_check();';

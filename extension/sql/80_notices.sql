-- machi install script, part 80: maintenance notices and incident reports
-- (the service's promises: maintenance announced after login, outages
-- reported to the affected municipalities).

CREATE TABLE machi.notice (
	notice_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id	int REFERENCES machi.tenant ON DELETE CASCADE,	-- NULL: every tenant
	audience	text NOT NULL CHECK (audience IN ('citizens', 'staff', 'both')),
	title		text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	body		text NOT NULL CHECK (char_length(body) <= 4000),
	title_en	text CHECK (char_length(title_en) <= 200),
	body_en		text CHECK (char_length(body_en) <= 4000),
	starts_at	timestamptz NOT NULL,
	ends_at		timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (ends_at > starts_at)
);
CREATE INDEX notice_window_idx ON machi.notice (ends_at, starts_at);
COMMENT ON TABLE machi.notice IS
'Maintenance announcements, global (tenant_id NULL) or for one tenant, for citizens, staff or both, shown while now() is in [starts_at, ends_at). Global rows belong to no tenant, hence the plain primary key.';

ALTER TABLE machi.notice ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.notice FORCE ROW LEVEL SECURITY;
CREATE POLICY notice_select ON machi.notice FOR SELECT
	USING ((SELECT machi.is_operator())
		OR (tenant_id IS NULL OR tenant_id = (SELECT machi.current_tenant())
			OR ((SELECT machi.current_tenant()) IS NULL AND audience <> 'staff')));
CREATE POLICY notice_write ON machi.notice FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

CREATE TABLE machi.incident (
	incident_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	title		text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	status		text NOT NULL DEFAULT 'investigating'
		CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
	started_at	timestamptz NOT NULL,
	ended_at	timestamptz,
	cause		text CHECK (char_length(cause) <= 4000),
	actions		text CHECK (char_length(actions) <= 4000),
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (ended_at IS NULL OR ended_at >= started_at)
);
COMMENT ON TABLE machi.incident IS
'An outage or degradation of the service: when, cause, actions taken, status. Reported to the tenants it affected (machi.incident_tenant); written by operators.';

CREATE TABLE machi.incident_tenant (
	tenant_id	int NOT NULL REFERENCES machi.tenant ON DELETE CASCADE,
	incident_id	bigint NOT NULL REFERENCES machi.incident ON DELETE CASCADE,
	PRIMARY KEY (tenant_id, incident_id)
);
COMMENT ON TABLE machi.incident_tenant IS 'Which tenants an incident affected (they see it on their admin screen).';

CREATE TABLE machi.incident_update (
	incident_id	bigint NOT NULL REFERENCES machi.incident ON DELETE CASCADE,
	update_id	bigint GENERATED ALWAYS AS IDENTITY,
	status		text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
	body		text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 4000),
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (incident_id, update_id)
);
COMMENT ON TABLE machi.incident_update IS 'Status updates of an incident, in order.';

ALTER TABLE machi.incident ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.incident FORCE ROW LEVEL SECURITY;
CREATE POLICY incident_select ON machi.incident FOR SELECT
	USING ((SELECT machi.is_operator())
		OR ((SELECT machi.has_permission('incident', 'read'))
			AND EXISTS (SELECT 1 FROM machi.incident_tenant it WHERE it.incident_id = incident.incident_id
						AND it.tenant_id = (SELECT machi.current_tenant()))));
CREATE POLICY incident_write ON machi.incident FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
ALTER TABLE machi.incident_tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.incident_tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY incident_tenant_select ON machi.incident_tenant FOR SELECT
	USING ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('incident', 'read'))));
CREATE POLICY incident_tenant_write ON machi.incident_tenant FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
ALTER TABLE machi.incident_update ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.incident_update FORCE ROW LEVEL SECURITY;
CREATE POLICY incident_update_select ON machi.incident_update FOR SELECT
	USING (EXISTS (SELECT 1 FROM machi.incident i WHERE i.incident_id = incident_update.incident_id));
CREATE POLICY incident_update_write ON machi.incident_update FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

-- ---- reading ----

CREATE FUNCTION machi.notices_for(tenant int, staff boolean) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce(jsonb_agg(jsonb_build_object(
			'id', n.notice_id, 'tenant_id', n.tenant_id, 'audience', n.audience,
			'title', n.title, 'body', n.body, 'title_en', n.title_en, 'body_en', n.body_en,
			'starts_at', n.starts_at, 'ends_at', n.ends_at) ORDER BY n.starts_at, n.notice_id), '[]')
	FROM machi.notice n
	WHERE now() >= n.starts_at AND now() < n.ends_at
	  AND (n.tenant_id IS NULL OR n.tenant_id = tenant)
	  AND (n.audience = 'both' OR n.audience = CASE WHEN staff THEN 'staff' ELSE 'citizens' END);
END;
COMMENT ON FUNCTION machi.notices_for(int, boolean) IS
'The maintenance notices active now for a tenant''s staff (staff true) or for citizens and visitors (tenant NULL, staff false): global ones and the tenant''s. Login returns them for the account signing in.';

CREATE FUNCTION machi.active_notices() RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	RETURN machi.notices_for(machi.current_tenant(), machi.current_tenant() IS NOT NULL);
COMMENT ON FUNCTION machi.active_notices() IS
'The maintenance notices the caller should see now (staff: global and their tenant''s; citizens and visitors: those for citizens). GET /v1/notices.';

CREATE FUNCTION machi.rt_notices(r machi.request) RETURNS machi.response
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	RETURN machi.ok(jsonb_build_object('notices', machi.active_notices()));
COMMENT ON FUNCTION machi.rt_notices(machi.request) IS 'GET /v1/notices: the active maintenance notices for the caller.';

CREATE FUNCTION machi.incident_json(i machi.incident) RETURNS jsonb
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT jsonb_build_object('id', i.incident_id, 'title', i.title, 'status', i.status,
		'started_at', i.started_at, 'ended_at', i.ended_at, 'cause', i.cause, 'actions', i.actions,
		'updated_at', i.updated_at,
		'updates', (SELECT coalesce(jsonb_agg(jsonb_build_object('status', u.status, 'body', u.body,
						'created_at', u.created_at) ORDER BY u.update_id), '[]')
					FROM machi.incident_update u WHERE u.incident_id = i.incident_id));
END;
COMMENT ON FUNCTION machi.incident_json(machi.incident) IS 'An incident report with its updates, as JSON.';

CREATE FUNCTION machi.rt_admin_incidents(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT (machi.has_permission('incident', 'read') OR machi.is_operator()) THEN
		PERFORM machi.fail(403, 'your role cannot read incident reports');
	END IF;
	RETURN machi.ok(jsonb_build_object('incidents',
		(SELECT coalesce(jsonb_agg(machi.incident_json(i) ORDER BY i.started_at DESC, i.incident_id DESC), '[]')
		 FROM machi.incident i)));
END
$$;
COMMENT ON FUNCTION machi.rt_admin_incidents(machi.request) IS 'GET /v1/admin/incidents: incident reports that affected the caller''s municipality, newest first.';

-- ---- operators ----

CREATE FUNCTION machi.create_notice__impl(title text, body text, starts_at timestamptz, ends_at timestamptz,
										  audience text, tenant_id int, title_en text, body_en text)
	RETURNS bigint
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO machi.notice (title, body, starts_at, ends_at, audience, tenant_id, title_en, body_en)
	VALUES (create_notice__impl.title, create_notice__impl.body, create_notice__impl.starts_at,
			create_notice__impl.ends_at, coalesce(create_notice__impl.audience, 'both'),
			create_notice__impl.tenant_id, create_notice__impl.title_en, create_notice__impl.body_en)
	RETURNING notice_id;
END;
CREATE FUNCTION machi.create_notice(title text, body text, starts_at timestamptz, ends_at timestamptz,
									audience text DEFAULT 'both', tenant_id int DEFAULT NULL,
									title_en text DEFAULT NULL, body_en text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_notice__impl(text, text, timestamptz, timestamptz, text, int, text, text) IS 'Implementation of machi.create_notice (owner only).';
COMMENT ON FUNCTION machi.create_notice(text, text, timestamptz, timestamptz, text, int, text, text) IS
'machi_admin: announce maintenance. audience citizens/staff/both; tenant_id NULL for every tenant. Example: SELECT machi.create_notice(''メンテナンスのお知らせ'', ''12月1日 2:00-4:00 はご利用いただけません。'', ''2026-11-28'', ''2026-12-01 04:00+09'');';

CREATE FUNCTION machi.end_notice__impl(notice_id bigint) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.notice n SET ends_at = greatest(n.starts_at + interval '1 second', now())
	WHERE n.notice_id = end_notice__impl.notice_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('notice %s does not exist', notice_id);
	END IF;
END
$$;
CREATE FUNCTION machi.end_notice(notice_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.end_notice__impl(bigint) IS 'Implementation of machi.end_notice (owner only).';
COMMENT ON FUNCTION machi.end_notice(bigint) IS 'machi_admin: withdraw a notice now.';

CREATE FUNCTION machi.create_incident__impl(title text, started_at timestamptz, tenant_ids int[], cause text, body text)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF tenant_ids IS NULL OR cardinality(tenant_ids) = 0 THEN
		RAISE EXCEPTION USING ERRCODE = 'MC400', MESSAGE = 'name the affected tenants (tenant_ids)';
	END IF;
	INSERT INTO machi.incident (title, started_at, cause) VALUES (title, started_at, cause)
	RETURNING incident_id INTO id;
	INSERT INTO machi.incident_tenant (tenant_id, incident_id) SELECT DISTINCT t, id FROM unnest(tenant_ids) t;
	INSERT INTO machi.incident_update (incident_id, status, body)
	VALUES (id, 'investigating', coalesce(body, title));
	RETURN id;
END
$$;
CREATE FUNCTION machi.create_incident(title text, started_at timestamptz, tenant_ids int[],
									  cause text DEFAULT NULL, body text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.create_incident__impl(text, timestamptz, int[], text, text) IS 'Implementation of machi.create_incident (owner only).';
COMMENT ON FUNCTION machi.create_incident(text, timestamptz, int[], text, text) IS
'machi_admin: report an outage to the tenants it affected. Example: SELECT machi.create_incident(''写真が表示されない'', now() - interval ''20 minutes'', ARRAY[12101, 12103], NULL, ''調査中です'');';

CREATE FUNCTION machi.update_incident__impl(incident_id bigint, status text, body text, ended_at timestamptz,
											cause text, actions text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE machi.incident i SET
		status = coalesce(update_incident__impl.status, i.status),
		ended_at = coalesce(update_incident__impl.ended_at,
							CASE WHEN update_incident__impl.status = 'resolved' THEN coalesce(i.ended_at, now()) END, i.ended_at),
		cause = coalesce(update_incident__impl.cause, i.cause),
		actions = coalesce(update_incident__impl.actions, i.actions),
		updated_at = now()
	WHERE i.incident_id = update_incident__impl.incident_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC404', MESSAGE = format('incident %s does not exist', incident_id);
	END IF;
	IF body IS NOT NULL THEN
		INSERT INTO machi.incident_update (incident_id, status, body)
		SELECT i.incident_id, i.status, update_incident__impl.body FROM machi.incident i
		WHERE i.incident_id = update_incident__impl.incident_id;
	END IF;
END
$$;
CREATE FUNCTION machi.update_incident(incident_id bigint, status text DEFAULT NULL, body text DEFAULT NULL,
									  ended_at timestamptz DEFAULT NULL, cause text DEFAULT NULL,
									  actions text DEFAULT NULL)
	RETURNS void
	AS 'MODULE_PATHNAME', 'machi_admin_dispatch'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION machi.update_incident__impl(bigint, text, text, timestamptz, text, text) IS 'Implementation of machi.update_incident (owner only).';
COMMENT ON FUNCTION machi.update_incident(bigint, text, text, timestamptz, text, text) IS
'machi_admin: post a status update of an incident (status investigating/identified/monitoring/resolved; resolved sets ended_at), its cause and actions.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('GET', '/v1/notices', 'machi.rt_notices(machi.request)', 'public', 0, 'Active maintenance notices for the caller.'),
	('GET', '/v1/admin/incidents', 'machi.rt_admin_incidents(machi.request)', 'staff', 0, 'Incident reports affecting the caller''s municipality.');

-- machi install script, part 60: reports, their updates and thanks; the
-- status workflow as data; Japanese n-gram search; citizen and staff routes.

CREATE FUNCTION machi.text_ngrams(doc text, prefix text DEFAULT '') RETURNS text[]
	AS 'MODULE_PATHNAME', 'machi_text_ngrams'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.text_ngrams(text, text) IS
'Character unigrams and bigrams of a text (per run between spaces/punctuation), each prefixed, for the n-gram search indexes.';
CREATE FUNCTION machi.query_ngrams(term text, prefix text DEFAULT '') RETURNS text[]
	AS 'MODULE_PATHNAME', 'machi_query_ngrams'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.query_ngrams(text, text) IS
'N-grams (prefixed) a document must contain to possibly match a search term: bigrams of each run, single-character runs as unigrams.';
CREATE FUNCTION machi.search_norm(text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN lower(normalize($1, NFKC));
COMMENT ON FUNCTION machi.search_norm(text) IS
'Search normalisation: NFKC (full-width to half-width, compatibility forms) and lower case.';
CREATE FUNCTION machi.search_doc(title text, description text, tenant int DEFAULT NULL) RETURNS text[]
	AS 'MODULE_PATHNAME', 'machi_search_doc'
	LANGUAGE C IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION machi.search_doc(text, text, int) IS
'Index expression of report search: n-grams of lower(NFKC(title || '' '' || description)), prefixed with the tenant id when given (per-tenant index). LEAKPROOF (no error, no side effect) so that the index serves searches under row-level security.';
CREATE FUNCTION machi.search_query(term text, tenant int DEFAULT NULL) RETURNS text[]
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN machi.query_ngrams(machi.search_norm(term), coalesce(tenant::text || ':', ''));
COMMENT ON FUNCTION machi.search_query(text, int) IS 'The n-grams to look up for a search term (prefixed like machi.search_doc).';
-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.search_words(doc text, term text) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN NOT EXISTS (SELECT 1 FROM regexp_split_to_table(machi.search_norm(term), '\s+') w
					   WHERE w <> '' AND strpos(machi.search_norm(doc), w) = 0);
COMMENT ON FUNCTION machi.search_words(text, text) IS
'Whether a text contains every whitespace-separated word of the search term (after NFKC and lower-casing): the exact check after the n-gram index narrowed the candidates.';

-- The n-gram containment operator and its GIN operator class.  Row-level
-- security lets an index serve a user's condition only when the operator is
-- LEAKPROOF (otherwise it must run after the policies, row by row).  The
-- built-in text[] @> is not marked so; this one is the same function
-- (arraycontains) declared LEAKPROOF: it raises no error and has no side
-- effect whatever the rows hold, so it reveals nothing about rows the
-- policies hide.
CREATE FUNCTION machi.ngrams_contain(text[], text[]) RETURNS boolean
	AS 'arraycontains'
	LANGUAGE internal IMMUTABLE STRICT LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION machi.ngrams_contain(text[], text[]) IS 'text[] containment (the built-in arraycontains), LEAKPROOF for use under row-level security.';
CREATE FUNCTION machi.ngram_contsel(internal, oid, internal, int4) RETURNS float8
	AS 'MODULE_PATHNAME', 'machi_ngram_contsel'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.ngram_contsel(internal, oid, internal, int4) IS 'Restriction selectivity of machi.@> (the built-in estimator of text[] @>).';
CREATE FUNCTION machi.ngram_contjoinsel(internal, oid, internal, int2, internal) RETURNS float8
	AS 'MODULE_PATHNAME', 'machi_ngram_contjoinsel'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.ngram_contjoinsel(internal, oid, internal, int2, internal) IS 'Join selectivity of machi.@> (the built-in estimator of text[] @>).';
CREATE OPERATOR machi.@> (LEFTARG = text[], RIGHTARG = text[], FUNCTION = machi.ngrams_contain,
						   RESTRICT = machi.ngram_contsel, JOIN = machi.ngram_contjoinsel);
COMMENT ON OPERATOR machi.@> (text[], text[]) IS 'n-gram containment for the search indexes (LEAKPROOF).';
CREATE OPERATOR CLASS machi.ngram_ops FOR TYPE text[] USING gin AS
	OPERATOR 2 machi.@> (text[], text[]),
	FUNCTION 1 bttextcmp(text, text),
	FUNCTION 2 ginarrayextract(anyarray, internal, internal),
	FUNCTION 3 ginqueryarrayextract(anyarray, internal, int2, internal, internal, internal, internal),
	FUNCTION 4 ginarrayconsistent(internal, int2, anyarray, int4, internal, internal, internal, internal),
	FUNCTION 6 ginarraytriconsistent(internal, int2, anyarray, int4, internal, internal, internal),
	STORAGE text;
COMMENT ON OPERATOR CLASS machi.ngram_ops USING gin IS 'GIN operator class of the n-gram search indexes (containment by machi.@>).';

-- Likewise PostGIS's bounding-box overlap (geometry && geometry): it compares
-- boxes and can only fail on mixed SRIDs, which every machi geometry column
-- excludes by its type modifier (SRID 4326).  Without LEAKPROOF the GiST
-- index cannot serve map queries under RLS (measured 68 times slower; see
-- docs/benchmarks.md).
DO $leakproof$
DECLARE
	f regprocedure;
BEGIN
	SELECT o.oprcode::regprocedure INTO STRICT f FROM pg_catalog.pg_operator o
	WHERE o.oprname = '&&' AND o.oprleft = 'geometry'::regtype AND o.oprright = 'geometry'::regtype;
	EXECUTE pg_catalog.format('ALTER FUNCTION %s LEAKPROOF', f);
END
$leakproof$;

CREATE TABLE machi.report_status (
	status		text PRIMARY KEY,
	is_open		boolean NOT NULL,
	sort_order	int NOT NULL,
	label		text NOT NULL,
	label_en	text NOT NULL
);
COMMENT ON TABLE machi.report_status IS 'Report statuses (system-managed). is_open maps to Open311 open/closed.';
INSERT INTO machi.report_status VALUES
	('received', true, 1, '受付', 'Received'),
	('in_progress', true, 2, '対応中', 'In progress'),
	('resolved', false, 3, '対応済み', 'Resolved'),
	('not_applicable', false, 4, '対応不可', 'Not applicable'),
	('duplicate', false, 5, '重複', 'Duplicate'),
	('closed', false, 6, '完了', 'Closed');

CREATE TABLE machi.report_transition (
	from_status	text NOT NULL REFERENCES machi.report_status,
	to_status	text NOT NULL REFERENCES machi.report_status,
	PRIMARY KEY (from_status, to_status),
	CHECK (from_status <> to_status)
);
COMMENT ON TABLE machi.report_transition IS 'The status workflow: the allowed changes of status. Others answer 409.';
INSERT INTO machi.report_transition VALUES
	('received', 'in_progress'), ('received', 'resolved'), ('received', 'not_applicable'),
	('received', 'duplicate'), ('received', 'closed'),
	('in_progress', 'resolved'), ('in_progress', 'not_applicable'), ('in_progress', 'duplicate'),
	('in_progress', 'closed'), ('in_progress', 'received'),
	('resolved', 'closed'), ('resolved', 'in_progress'),
	('not_applicable', 'closed'), ('not_applicable', 'received'),
	('duplicate', 'closed'), ('duplicate', 'received');

CREATE TABLE machi.report (
	tenant_id			int NOT NULL REFERENCES machi.tenant,
	report_id			bigint GENERATED ALWAYS AS IDENTITY,
	category_id			bigint NOT NULL,
	department_id		bigint NOT NULL,
	author_id			bigint REFERENCES machi.account ON DELETE SET NULL,
	kind				text NOT NULL DEFAULT 'problem' CHECK (kind IN ('problem', 'theme', 'fixed')),
	title				text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
	description			text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
	address				text CHECK (char_length(address) <= 300),
	location			public.geometry(Point, 4326) NOT NULL,
	status				text NOT NULL DEFAULT 'received' REFERENCES machi.report_status,
	visibility			text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
	published_at		timestamptz,
	public_title		text CHECK (char_length(public_title) <= 200),
	public_description	text CHECK (char_length(public_description) <= 4000),
	assignee_id			bigint,
	duplicate_of		bigint,
	api_key_id			bigint,		-- posted by an Open311 client (70_open311.sql)
	open311_token		text UNIQUE,
	created_at			timestamptz NOT NULL DEFAULT now(),
	updated_at			timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, report_id),
	FOREIGN KEY (tenant_id, category_id) REFERENCES machi.category,
	FOREIGN KEY (tenant_id, department_id) REFERENCES machi.department,
	FOREIGN KEY (tenant_id, assignee_id) REFERENCES machi.account (tenant_id, account_id),
	FOREIGN KEY (tenant_id, duplicate_of) REFERENCES machi.report,
	CHECK (duplicate_of IS NULL OR duplicate_of <> report_id),
	CHECK ((status = 'duplicate') = (duplicate_of IS NOT NULL))
);
CREATE INDEX report_id_idx ON machi.report (report_id);
CREATE INDEX report_location_idx ON machi.report USING gist (location);
CREATE INDEX report_author_idx ON machi.report (author_id, created_at);
-- the staff queue and its counts per status
CREATE INDEX report_queue_idx ON machi.report (tenant_id, status, report_id DESC);
CREATE INDEX report_public_idx ON machi.report (report_id DESC) WHERE visibility = 'public';
CREATE INDEX report_search_idx ON machi.report
	USING gin (machi.search_doc(title, description, tenant_id) machi.ngram_ops);
CREATE INDEX report_search_public_idx ON machi.report
	USING gin (machi.search_doc(coalesce(public_title, title), coalesce(public_description, description)) machi.ngram_ops)
	WHERE visibility = 'public';
COMMENT ON TABLE machi.report IS
'A citizen''s report: where (location picks the tenant), what (category picks the department), status in the workflow, and whether staff published it. public_title/public_description hold the redacted text citizens see (NULL: the original); the original is kept.';

CREATE TABLE machi.report_update (
	tenant_id	int NOT NULL,
	report_id	bigint NOT NULL,
	update_id	bigint GENERATED ALWAYS AS IDENTITY,
	kind		text NOT NULL CHECK (kind IN ('comment', 'response', 'note', 'status', 'assign', 'publish', 'redact')),
	author_id	bigint REFERENCES machi.account ON DELETE SET NULL,
	visibility	text NOT NULL CHECK (visibility IN ('public', 'internal')),
	body		text CHECK (char_length(body) <= 4000),
	old_status	text REFERENCES machi.report_status,
	new_status	text REFERENCES machi.report_status,
	detail		jsonb NOT NULL DEFAULT '{}',
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, update_id),
	FOREIGN KEY (tenant_id, report_id) REFERENCES machi.report ON DELETE CASCADE
);
CREATE INDEX report_update_report_idx ON machi.report_update (tenant_id, report_id, update_id);
COMMENT ON TABLE machi.report_update IS
'The history of a report: citizen comments, staff responses (public) and notes (internal), status changes, assignment, publication and redaction.';

CREATE TABLE machi.report_photo (
	tenant_id	int NOT NULL,
	report_id	bigint NOT NULL,
	photo_no	smallint NOT NULL CHECK (photo_no BETWEEN 1 AND 16),
	media_type	text NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
	data		bytea NOT NULL,
	byte_size	int NOT NULL,
	sha256		bytea NOT NULL CHECK (octet_length(sha256) = 32),
	width		int NOT NULL,
	height		int NOT NULL,
	orientation	smallint NOT NULL DEFAULT 1 CHECK (orientation BETWEEN 1 AND 8),
	hidden		boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, report_id, photo_no),
	FOREIGN KEY (tenant_id, report_id) REFERENCES machi.report ON DELETE CASCADE
);
ALTER TABLE machi.report_photo ALTER COLUMN data SET STORAGE EXTERNAL;	-- already compressed images
COMMENT ON TABLE machi.report_photo IS
'Photos of a report, stored only after all metadata was stripped (machi.strip_photo). orientation is the EXIF orientation recorded before stripping, for display; hidden photos (redacted by staff) are not shown to the public.';

CREATE TABLE machi.report_thanks (
	tenant_id	int NOT NULL,
	report_id	bigint NOT NULL,
	account_id	bigint NOT NULL REFERENCES machi.account ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, report_id, account_id),
	FOREIGN KEY (tenant_id, report_id) REFERENCES machi.report ON DELETE CASCADE
);
COMMENT ON TABLE machi.report_thanks IS '"Thank you" of a citizen on a public report: one per account and report.';

-- ---- row-level security ----

-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.is_report_staff(tid int, dept bigint, action text) RETURNS boolean
	LANGUAGE sql STABLE PARALLEL RESTRICTED
	RETURN machi.is_operator()
		OR (tid = machi.current_tenant() AND machi.has_permission('report', action)
			AND (machi.current_departments() IS NULL OR dept = ANY (machi.current_departments())));
COMMENT ON FUNCTION machi.is_report_staff(int, bigint, text) IS
'Whether the caller is staff who may read (or update) reports of this tenant and department (operators always).';

ALTER TABLE machi.report ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report FORCE ROW LEVEL SECURITY;
CREATE POLICY report_select ON machi.report FOR SELECT
	USING (visibility = 'public'
		OR author_id = (SELECT machi.current_account())
		OR (SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('report', 'read'))
			AND ((SELECT machi.current_departments()) IS NULL
				 OR department_id = ANY (machi.current_departments()))));
CREATE POLICY report_insert ON machi.report FOR INSERT
	WITH CHECK ((SELECT machi.is_operator())
		OR (author_id = (SELECT machi.current_account()) AND (SELECT machi.current_role()) = 'citizen'
			AND status = 'received' AND visibility = 'private'));
CREATE POLICY report_update ON machi.report FOR UPDATE
	USING (machi.is_report_staff(tenant_id, department_id, 'update'))
	WITH CHECK ((SELECT machi.is_operator())
		OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('report', 'update'))));
CREATE POLICY report_delete ON machi.report FOR DELETE USING ((SELECT machi.is_operator()));

ALTER TABLE machi.report_update ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_update FORCE ROW LEVEL SECURITY;
CREATE POLICY report_update_select ON machi.report_update FOR SELECT
	USING (EXISTS (SELECT 1 FROM machi.report r
				   WHERE r.tenant_id = report_update.tenant_id AND r.report_id = report_update.report_id)
		AND (visibility = 'public'
			 OR author_id = (SELECT machi.current_account())
			 OR (SELECT machi.is_operator())
			 OR (tenant_id = (SELECT machi.current_tenant()) AND (SELECT machi.has_permission('response', 'read')))));
CREATE POLICY report_update_insert ON machi.report_update FOR INSERT
	WITH CHECK (author_id = (SELECT machi.current_account()) OR (SELECT machi.is_operator()));
CREATE POLICY report_update_update ON machi.report_update FOR UPDATE
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY report_update_delete ON machi.report_update FOR DELETE USING ((SELECT machi.is_operator()));

ALTER TABLE machi.report_photo ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_photo FORCE ROW LEVEL SECURITY;
CREATE POLICY report_photo_select ON machi.report_photo FOR SELECT
	USING (EXISTS (SELECT 1 FROM machi.report r
				   WHERE r.tenant_id = report_photo.tenant_id AND r.report_id = report_photo.report_id
					 AND (NOT report_photo.hidden
						  OR r.author_id = (SELECT machi.current_account())
						  OR machi.is_report_staff(r.tenant_id, r.department_id, 'read'))));
CREATE POLICY report_photo_insert ON machi.report_photo FOR INSERT
	WITH CHECK (NOT hidden AND EXISTS (SELECT 1 FROM machi.report r
				WHERE r.tenant_id = report_photo.tenant_id AND r.report_id = report_photo.report_id
				  AND r.author_id = (SELECT machi.current_account())));
CREATE POLICY report_photo_update ON machi.report_photo FOR UPDATE
	USING (EXISTS (SELECT 1 FROM machi.report r
				   WHERE r.tenant_id = report_photo.tenant_id AND r.report_id = report_photo.report_id
					 AND machi.is_report_staff(r.tenant_id, r.department_id, 'update')))
	WITH CHECK (EXISTS (SELECT 1 FROM machi.report r
				   WHERE r.tenant_id = report_photo.tenant_id AND r.report_id = report_photo.report_id
					 AND machi.is_report_staff(r.tenant_id, r.department_id, 'update')));
CREATE POLICY report_photo_delete ON machi.report_photo FOR DELETE USING ((SELECT machi.is_operator()));

ALTER TABLE machi.report_thanks ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_thanks FORCE ROW LEVEL SECURITY;
CREATE POLICY report_thanks_select ON machi.report_thanks FOR SELECT
	USING (EXISTS (SELECT 1 FROM machi.report r
				   WHERE r.tenant_id = report_thanks.tenant_id AND r.report_id = report_thanks.report_id));
CREATE POLICY report_thanks_insert ON machi.report_thanks FOR INSERT
	WITH CHECK (account_id = (SELECT machi.current_account())
		AND EXISTS (SELECT 1 FROM machi.report r WHERE r.tenant_id = report_thanks.tenant_id
					AND r.report_id = report_thanks.report_id AND r.visibility = 'public'));
CREATE POLICY report_thanks_update ON machi.report_thanks FOR UPDATE
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
CREATE POLICY report_thanks_delete ON machi.report_thanks FOR DELETE
	USING (account_id = (SELECT machi.current_account()) OR (SELECT machi.is_operator()));

ALTER TABLE machi.report_status ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_status FORCE ROW LEVEL SECURITY;
CREATE POLICY report_status_select ON machi.report_status FOR SELECT USING (true);
CREATE POLICY report_status_write ON machi.report_status FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));
ALTER TABLE machi.report_transition ENABLE ROW LEVEL SECURITY;
ALTER TABLE machi.report_transition FORCE ROW LEVEL SECURITY;
CREATE POLICY report_transition_select ON machi.report_transition FOR SELECT USING (true);
CREATE POLICY report_transition_write ON machi.report_transition FOR ALL
	USING ((SELECT machi.is_operator())) WITH CHECK ((SELECT machi.is_operator()));

-- ---- JSON views of a report ----

-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.report_json(r machi.report) RETURNS jsonb
	LANGUAGE sql STABLE PARALLEL RESTRICTED
BEGIN ATOMIC
	SELECT jsonb_build_object(
		'id', r.report_id,
		'tenant', jsonb_build_object('id', t.tenant_id, 'name', t.name),
		'category', jsonb_build_object('id', c.category_id, 'code', c.code, 'name', c.name),
		'department', jsonb_build_object('id', d.department_id, 'name', d.name),
		'kind', r.kind,
		'title', CASE WHEN v.full THEN r.title ELSE coalesce(r.public_title, r.title) END,
		'description', CASE WHEN v.full THEN r.description ELSE coalesce(r.public_description, r.description) END,
		'address', r.address,
		'lat', round(public.st_y(r.location)::numeric, 7),
		'lon', round(public.st_x(r.location)::numeric, 7),
		'status', r.status,
		'status_label', s.label,
		'open', s.is_open,
		'visibility', r.visibility,
		'published_at', r.published_at,
		'duplicate_of', r.duplicate_of,
		'mine', r.author_id IS NOT DISTINCT FROM machi.current_account(),
		'thanks', (SELECT count(*) FROM machi.report_thanks th WHERE th.tenant_id = r.tenant_id AND th.report_id = r.report_id),
		'photos', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'n', p.photo_no, 'url', '/v1/reports/' || r.report_id || '/photos/' || p.photo_no,
						'media_type', p.media_type, 'width', p.width, 'height', p.height,
						'orientation', p.orientation)
						|| CASE WHEN v.staff THEN jsonb_build_object('hidden', p.hidden) ELSE '{}'::jsonb END
						ORDER BY p.photo_no), '[]')
				   FROM machi.report_photo p WHERE p.tenant_id = r.tenant_id AND p.report_id = r.report_id
					 AND (v.full OR NOT p.hidden)),
		'created_at', r.created_at,
		'updated_at', r.updated_at)
		|| CASE WHEN v.staff THEN jsonb_build_object(
				'transitions', (SELECT coalesce(jsonb_agg(t.to_status ORDER BY s2.sort_order), '[]')
								FROM machi.report_transition t JOIN machi.report_status s2 ON s2.status = t.to_status
								WHERE t.from_status = r.status),
				'assignee_id', r.assignee_id,
				'author_id', r.author_id,
				'redacted', r.public_title IS NOT NULL OR r.public_description IS NOT NULL,
				'public_title', coalesce(r.public_title, r.title),
				'public_description', coalesce(r.public_description, r.description))
		   ELSE '{}'::jsonb END
	FROM (SELECT machi.is_report_staff(r.tenant_id, r.department_id, 'read') AS staff,
				 machi.is_report_staff(r.tenant_id, r.department_id, 'read')
				 OR r.author_id IS NOT DISTINCT FROM machi.current_account() AS full) v,
		 machi.tenant t, machi.category c, machi.department d, machi.report_status s
	WHERE t.tenant_id = r.tenant_id
	  AND c.tenant_id = r.tenant_id AND c.category_id = r.category_id
	  AND d.tenant_id = r.tenant_id AND d.department_id = r.department_id
	  AND s.status = r.status;
END;
COMMENT ON FUNCTION machi.report_json(machi.report) IS
'A report as the caller may see it: staff of its department and its author see the original text, everybody else the published (redacted) version; staff also see assignment, author id and the statuses it may go to next (transitions).';

CREATE FUNCTION machi.find_report(id text) RETURNS machi.report
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r machi.report;
BEGIN
	IF id IS NULL OR id !~ '^[0-9]{1,18}$' THEN
		PERFORM machi.fail(404, 'no such report', NULL, 'not_found');
	END IF;
	SELECT * INTO r FROM machi.report WHERE report_id = id::bigint;
	IF NOT FOUND THEN
		-- also for reports that exist but are not the caller's to see
		PERFORM machi.fail(404, 'no such report', NULL, 'not_found');
	END IF;
	RETURN r;
END
$$;
COMMENT ON FUNCTION machi.find_report(text) IS
'The report with this id if the caller may see it; otherwise a 404 that is the same whether it exists or not.';

-- ---- citizens: posting ----

CREATE FUNCTION machi.rt_report_create(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src jsonb := coalesce(r.data, '{}');
	lat float8;
	lon float8;
	tid int;
	cat machi.category;
	cat_in text;
	rep machi.report;
	pt public.geometry;
	recent int;
	oldest timestamptz;
	limit_per_hour int := current_setting('machi.report_rate_per_hour')::int;
	nearby jsonb;
BEGIN
	IF jsonb_typeof(src) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	IF NOT machi.account_verified(machi.current_account()) THEN
		PERFORM machi.fail(403, 'verify your email address before posting reports', NULL, 'email_not_verified');
	END IF;
	SELECT count(*), min(created_at) INTO recent, oldest
	FROM machi.report WHERE author_id = machi.current_account() AND created_at > now() - interval '1 hour';
	IF recent >= limit_per_hour THEN
		RAISE EXCEPTION USING ERRCODE = 'MC429', CONSTRAINT = 'rate_limited',
			MESSAGE = format('you can post at most %s reports per hour', limit_per_hour),
			HINT = format('Retry after %s seconds.',
						  greatest(1, ceil(extract(epoch FROM oldest + interval '1 hour' - now()))::int));
	END IF;
	lat := machi.arg_number(src, 'lat', -90, 90);
	lon := machi.arg_number(src, 'lon', -180, 180);
	tid := machi.locate(lat, lon);
	IF tid IS NULL THEN
		PERFORM machi.fail(422, 'this position is outside every participating area', 'lat',
						   'outside_service_area');
	END IF;
	cat_in := CASE WHEN jsonb_typeof(src->'category') = 'number' THEN src->>'category'
				   ELSE machi.arg_text(src, 'category', true, 64) END;
	SELECT * INTO cat FROM machi.category c
	WHERE c.tenant_id = tid AND c.active
	  AND (c.code = cat_in OR (cat_in ~ '^[0-9]{1,18}$' AND c.category_id = cat_in::bigint));
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'MC422', COLUMN = 'category', CONSTRAINT = 'unknown_category',
			MESSAGE = format('this municipality has no category "%s"', cat_in),
			DETAIL = 'Valid categories here: ' || (SELECT string_agg(c.code || ' (' || c.name || ')', ', ' ORDER BY c.sort_order, c.code)
												   FROM machi.category c WHERE c.tenant_id = tid AND c.active) || '.';
	END IF;
	IF src ? 'kind' AND src->>'kind' NOT IN ('problem', 'theme', 'fixed') THEN
		PERFORM machi.fail(400, 'kind must be problem, theme or fixed', 'kind', 'invalid');
	END IF;
	pt := public.st_setsrid(public.st_makepoint(lon, lat), 4326);
	INSERT INTO machi.report (tenant_id, category_id, department_id, author_id, kind, title, description, address, location)
	VALUES (tid, cat.category_id, cat.department_id, machi.current_account(),
			coalesce(src->>'kind', 'problem'),
			machi.arg_text(src, 'title', true, 200),
			coalesce(machi.arg_text(src, 'description', false, 4000), ''),
			machi.arg_text(src, 'address', false, 300),
			pt)
	RETURNING * INTO rep;
	-- possibly the same problem: open public reports of the category within 50 m
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', n.report_id,
			'title', coalesce(n.public_title, n.title), 'status', n.status,
			'distance_m', round(public.st_distance(n.location::public.geography, pt::public.geography)::numeric, 1))
			ORDER BY public.st_distance(n.location::public.geography, pt::public.geography)), '[]')
	INTO nearby
	FROM (SELECT * FROM machi.report n
		  WHERE n.tenant_id = tid AND n.category_id = cat.category_id AND n.visibility = 'public'
			AND n.report_id <> rep.report_id
			AND n.status IN (SELECT status FROM machi.report_status WHERE is_open)
			AND n.location OPERATOR(public.&&) public.st_expand(pt, 0.001)
			AND public.st_dwithin(n.location::public.geography, pt::public.geography, 50)
		  ORDER BY public.st_distance(n.location::public.geography, pt::public.geography)
		  LIMIT 5) n;
	RETURN machi.ok(jsonb_build_object('report', machi.report_json(rep), 'possible_duplicates', nearby),
					201, jsonb_build_object('location', '/v1/reports/' || rep.report_id));
END
$$;
COMMENT ON FUNCTION machi.rt_report_create(machi.request) IS
'POST /v1/reports: a verified citizen posts a report; the position picks the tenant, the category (code or id, of that tenant) the department. Answers 201 with the report and up to 5 possibly identical open public reports within 50 m.';

-- ---- reading ----

CREATE FUNCTION machi.rt_report_get(r machi.request) RETURNS machi.response
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	RETURN (SELECT machi.ok(jsonb_build_object('report', machi.report_json(rep),
		'updates', (SELECT coalesce(jsonb_agg(jsonb_build_object(
						'id', u.update_id, 'kind', u.kind, 'body', u.body,
						'visibility', u.visibility, 'old_status', u.old_status,
						'new_status', u.new_status, 'mine', u.author_id IS NOT DISTINCT FROM machi.current_account(),
						'created_at', u.created_at) ORDER BY u.update_id), '[]')
					FROM machi.report_update u
					WHERE u.tenant_id = rep.tenant_id AND u.report_id = rep.report_id
					  AND u.kind IN ('comment', 'response', 'status', 'note')),
		'thanked', EXISTS (SELECT 1 FROM machi.report_thanks th WHERE th.tenant_id = rep.tenant_id
						   AND th.report_id = rep.report_id AND th.account_id = machi.current_account())))
			FROM machi.find_report(r.params->>'id') rep);
COMMENT ON FUNCTION machi.rt_report_get(machi.request) IS
'GET /v1/reports/{id}: one report with its visible history; 404 when the caller may not see it.';

CREATE FUNCTION machi.bbox_arg(src jsonb) RETURNS public.geometry
	LANGUAGE plpgsql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts text[];
	v float8[];
BEGIN
	IF src->>'bbox' IS NULL OR src->>'bbox' = '' THEN
		RETURN NULL;
	END IF;
	parts := string_to_array(src->>'bbox', ',');
	IF array_length(parts, 1) <> 4 THEN
		PERFORM machi.fail(400, 'bbox must be minlon,minlat,maxlon,maxlat', 'bbox', 'invalid');
	END IF;
	FOR i IN 1..4 LOOP
		IF trim(parts[i]) !~ '^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' THEN
			PERFORM machi.fail(400, 'bbox must be minlon,minlat,maxlon,maxlat', 'bbox', 'invalid');
		END IF;
		v[i] := trim(parts[i])::float8;
	END LOOP;
	IF v[1] NOT BETWEEN -180 AND 180 OR v[3] NOT BETWEEN -180 AND 180
	   OR v[2] NOT BETWEEN -90 AND 90 OR v[4] NOT BETWEEN -90 AND 90
	   OR v[1] > v[3] OR v[2] > v[4] THEN
		PERFORM machi.fail(400, 'bbox must be minlon,minlat,maxlon,maxlat in degrees with min <= max', 'bbox', 'out_of_range');
	END IF;
	RETURN public.st_makeenvelope(v[1], v[2], v[3], v[4], 4326);
END
$$;
COMMENT ON FUNCTION machi.bbox_arg(jsonb) IS 'The bbox query parameter (minlon,minlat,maxlon,maxlat) as an envelope; NULL when absent; 400 when malformed.';

CREATE FUNCTION machi.date_arg(src jsonb, field text) RETURNS timestamptz
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF src->>field IS NULL OR src->>field = '' THEN
		RETURN NULL;
	END IF;
	IF src->>field !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$' THEN
		PERFORM machi.fail(400, format('%s must be an ISO 8601 date or date-time', field), field, 'invalid');
	END IF;
	BEGIN
		-- dates without a zone are Japan Standard Time
		RETURN CASE WHEN src->>field ~ '(Z|[+-]\d{2}(:?\d{2})?)$' THEN (src->>field)::timestamptz
					ELSE ((src->>field)::timestamp AT TIME ZONE 'Asia/Tokyo') END;
	EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
		PERFORM machi.fail(400, format('%s is not a valid date', field), field, 'invalid');
	END;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION machi.date_arg(jsonb, text) IS 'An ISO 8601 date or date-time parameter (no zone: JST); NULL when absent; 400 when malformed.';

CREATE FUNCTION machi.page_arg(src jsonb) RETURNS int
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	RETURN coalesce(machi.arg_number(src, 'limit', 1, 100, false), 50)::int;
COMMENT ON FUNCTION machi.page_arg(jsonb) IS 'Page size from the limit parameter: 1 to 100, default 50.';

CREATE FUNCTION machi.rt_report_list(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan	-- absent filters fold away
AS $$
DECLARE
	q jsonb := r.query;
	box public.geometry := machi.bbox_arg(q);
	since timestamptz := machi.date_arg(q, 'since');
	after bigint := machi.arg_number(q, 'after', 0, 9e15, false)::bigint;
	lim int := machi.page_arg(q);
	mine boolean := coalesce(q->>'mine' IN ('true', '1'), false);
	v_status text := machi.arg_text(q, 'status', false, 32);
	v_cat text := machi.arg_text(q, 'category', false, 64);
	term text := machi.arg_text(q, 'q', false, 100);
	me bigint := machi.current_account();
	rows jsonb;
	last_id bigint;
	n int;
BEGIN
	IF mine AND me IS NULL THEN
		PERFORM machi.fail(401, 'sign in to list your own reports', 'mine', 'authentication_required');
	END IF;
	IF v_status IS NOT NULL AND NOT EXISTS (SELECT 1 FROM machi.report_status s WHERE s.status = v_status) THEN
		PERFORM machi.fail(400, 'unknown status; use one of: ' || (SELECT string_agg(s.status, ', ' ORDER BY s.sort_order) FROM machi.report_status s), 'status', 'invalid');
	END IF;
	-- citizens and the public see public reports and their own; the
	-- published text is what is searched for reports that are not theirs
	WITH page AS (
		SELECT rep FROM machi.report rep
		WHERE (rep.visibility = 'public' OR rep.author_id = me)
		  AND (NOT mine OR rep.author_id = me)
		  AND (box IS NULL OR rep.location OPERATOR(public.&&) box)
		  AND (since IS NULL OR rep.created_at >= since)
		  AND (v_status IS NULL OR rep.status = v_status)
		  AND (v_cat IS NULL OR EXISTS (SELECT 1 FROM machi.category c WHERE c.tenant_id = rep.tenant_id
									  AND c.category_id = rep.category_id AND c.code = v_cat))
		  AND (after IS NULL OR rep.report_id < after)
		  AND (term IS NULL
			   OR (rep.visibility = 'public'
				   AND machi.search_doc(coalesce(rep.public_title, rep.title), coalesce(rep.public_description, rep.description))
					   OPERATOR(machi.@>) machi.search_query(term)
				   AND machi.search_words(coalesce(rep.public_title, rep.title) || ' ' || coalesce(rep.public_description, rep.description), term))
			   OR (rep.author_id = me AND machi.search_words(rep.title || ' ' || rep.description, term)))
		ORDER BY rep.report_id DESC
		LIMIT lim
	)
	SELECT coalesce(jsonb_agg(machi.report_json(p.rep) ORDER BY (p.rep).report_id DESC), '[]'),
		   min((p.rep).report_id), count(*)
	INTO rows, last_id, n FROM page p;
	RETURN machi.ok(jsonb_build_object('reports', rows,
		'next', CASE WHEN n = lim THEN '/v1/reports?' || machi.query_with(q, 'after', last_id::text) END));
END
$$;
COMMENT ON FUNCTION machi.rt_report_list(machi.request) IS
'GET /v1/reports?bbox=&status=&category=&since=&mine=true&q=&after=&limit=: public reports of every tenant and the caller''s own, newest first, keyset-paginated by id (next holds the URL of the following page).';

CREATE FUNCTION machi.urlencode(t text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	RETURN (SELECT coalesce(string_agg(CASE WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90 OR b BETWEEN 97 AND 122
											   OR b IN (45, 46, 95, 126)
										  THEN chr(b) ELSE '%' || upper(lpad(to_hex(b), 2, '0')) END, '' ORDER BY i), '')
			FROM (SELECT i, get_byte(convert_to(t, 'UTF8'), i) AS b
				  FROM generate_series(0, octet_length(convert_to(t, 'UTF8')) - 1) AS i) x);
COMMENT ON FUNCTION machi.urlencode(text) IS 'Percent-encode a text for a URL query component (RFC 3986 unreserved characters kept).';

CREATE FUNCTION machi.query_with(q jsonb, key text, value text) RETURNS text
	LANGUAGE sql IMMUTABLE
	SET search_path = pg_catalog, pg_temp
	RETURN (SELECT string_agg(machi.urlencode(k) || '=' || machi.urlencode(v), '&' ORDER BY k)
			FROM jsonb_each_text(q || jsonb_build_object(key, value)) AS e(k, v));
COMMENT ON FUNCTION machi.query_with(jsonb, text, text) IS 'A query string of the decoded parameters q with key set to value (for next-page links).';

-- ---- citizens: comments and thanks ----

CREATE FUNCTION machi.rt_report_comment(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	u machi.report_update;
BEGIN
	IF rep.author_id IS DISTINCT FROM machi.current_account() THEN
		-- a public report that is not yours: you may read it, not comment
		PERFORM machi.fail(403, 'only the author of a report can comment on it', NULL, 'not_author');
	END IF;
	INSERT INTO machi.report_update (tenant_id, report_id, kind, author_id, visibility, body)
	VALUES (rep.tenant_id, rep.report_id, 'comment', machi.current_account(), 'public',
			machi.arg_text(coalesce(r.data, '{}'), 'body', true, 4000))
	RETURNING * INTO u;
	RETURN machi.ok(jsonb_build_object('id', u.update_id, 'kind', u.kind, 'body', u.body,
									   'created_at', u.created_at), 201);
END
$$;
COMMENT ON FUNCTION machi.rt_report_comment(machi.request) IS 'POST /v1/reports/{id}/comments: the author adds a comment ({"body": ...}) to their report.';

CREATE FUNCTION machi.rt_report_thanks(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	n bigint;
BEGIN
	IF rep.visibility <> 'public' THEN
		PERFORM machi.fail(409, 'only published reports can be thanked', NULL, 'not_public');
	END IF;
	IF r.method = 'POST' THEN
		INSERT INTO machi.report_thanks (tenant_id, report_id, account_id)
		VALUES (rep.tenant_id, rep.report_id, machi.current_account())
		ON CONFLICT DO NOTHING;
	ELSE
		DELETE FROM machi.report_thanks
		WHERE tenant_id = rep.tenant_id AND report_id = rep.report_id AND account_id = machi.current_account();
	END IF;
	SELECT count(*) INTO n FROM machi.report_thanks WHERE tenant_id = rep.tenant_id AND report_id = rep.report_id;
	RETURN machi.ok(jsonb_build_object('thanks', n, 'thanked', r.method = 'POST'));
END
$$;
COMMENT ON FUNCTION machi.rt_report_thanks(machi.request) IS 'POST/DELETE /v1/reports/{id}/thanks: say (or take back) "thank you" on a published report; one per account.';

-- ---- staff ----

CREATE FUNCTION machi.staff_filter(q jsonb) RETURNS jsonb
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f jsonb := '{}';
BEGIN
	IF machi.arg_text(q, 'status', false, 32) IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM machi.report_status s WHERE s.status = q->>'status') THEN
		PERFORM machi.fail(400, 'unknown status; use one of: ' || (SELECT string_agg(s.status, ', ' ORDER BY s.sort_order) FROM machi.report_status s), 'status', 'invalid');
	END IF;
	PERFORM machi.arg_id(q, 'department', 'a department id');
	IF q->>'assignee' IS NOT NULL AND q->>'assignee' !~ '^([0-9]{1,18}|none|me)$' THEN
		PERFORM machi.fail(400, 'assignee must be an account id, "me" or "none"', 'assignee', 'invalid');
	END IF;
	PERFORM machi.bbox_arg(q), machi.date_arg(q, 'from'), machi.date_arg(q, 'to'),
			machi.arg_text(q, 'q', false, 100), machi.arg_text(q, 'category', false, 64);
	RETURN f;
END
$$;
COMMENT ON FUNCTION machi.staff_filter(jsonb) IS 'Validate the staff queue filters (status, department, category, assignee, bbox, from, to, q); 400 naming the bad one.';

-- Inlined into its callers' queries (SQL body parsed at creation, no SET
-- clause): with the filters and departments as constants (the routes plan
-- each call with its values) the conditions of absent filters fold away and
-- the planner can walk the queue index newest first.  depts: the caller's
-- departments (machi.current_departments(); NULL: all).
CREATE FUNCTION machi.staff_reports(q jsonb, ignore_status boolean, depts bigint[])
	RETURNS SETOF machi.report
	LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT rep.* FROM machi.report rep
	WHERE rep.tenant_id = machi.current_tenant()
	  AND (SELECT machi.has_permission('report', 'read'))
	  AND (depts IS NULL OR rep.department_id = ANY (depts))
	  AND (ignore_status OR q->>'status' IS NULL OR rep.status = q->>'status')
	  AND (q->>'department' IS NULL OR rep.department_id = (q->>'department')::bigint)
	  AND (q->>'category' IS NULL OR EXISTS (SELECT 1 FROM machi.category c WHERE c.tenant_id = rep.tenant_id
											AND c.category_id = rep.category_id AND c.code = q->>'category'))
	  AND (q->>'assignee' IS NULL
		   OR (q->>'assignee' = 'none' AND rep.assignee_id IS NULL)
		   OR (q->>'assignee' = 'me' AND rep.assignee_id = machi.current_account())
		   OR (q->>'assignee' ~ '^[0-9]+$' AND rep.assignee_id = (q->>'assignee')::bigint))
	  AND (q->>'bbox' IS NULL OR rep.location OPERATOR(public.&&) machi.bbox_arg(q))
	  AND (q->>'from' IS NULL OR rep.created_at >= machi.date_arg(q, 'from'))
	  AND (q->>'to' IS NULL OR rep.created_at < machi.date_arg(q, 'to'))
	  AND (q->>'q' IS NULL
		   OR (machi.search_doc(rep.title, rep.description, rep.tenant_id)
			   OPERATOR(machi.@>) machi.search_query(q->>'q', machi.current_tenant())
			   AND machi.search_words(rep.title || ' ' || rep.description, q->>'q')))
	  AND (q->>'after' IS NULL OR rep.report_id < (q->>'after')::bigint);
END;
COMMENT ON FUNCTION machi.staff_reports(jsonb, boolean, bigint[]) IS 'Reports of the caller''s tenant matching the staff queue filters (status ignored if asked), within depts (the caller''s departments; NULL: all).';

CREATE FUNCTION machi.rt_staff_reports(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	q jsonb := r.query;
	lim int := machi.page_arg(q);
	depts bigint[] := machi.current_departments();
	rows jsonb;
	counts jsonb;
	last_id bigint;
	n int;
BEGIN
	PERFORM machi.staff_filter(q);
	PERFORM machi.arg_id(q, 'after', 'a report id');
	WITH page AS (
		SELECT rep FROM machi.staff_reports(q, false, depts) rep ORDER BY rep.report_id DESC LIMIT lim
	)
	SELECT coalesce(jsonb_agg(machi.report_json(p.rep) ORDER BY (p.rep).report_id DESC), '[]'),
		   min((p.rep).report_id), count(*)
	INTO rows, last_id, n FROM page p;
	IF q ?| ARRAY['assignee', 'bbox', 'from', 'to', 'q'] THEN
		SELECT jsonb_object_agg(s.status, coalesce(c.n, 0) ORDER BY s.sort_order) INTO counts
		FROM machi.report_status s
		LEFT JOIN (SELECT rep.status, count(*) AS n FROM machi.staff_reports(q - 'after', true, depts) rep GROUP BY rep.status) c
			ON c.status = s.status;
	ELSE
		-- filters the tally keeps apart (61_report_tally.sql): count from it
		SELECT jsonb_object_agg(s.status, coalesce(c.n, 0) ORDER BY s.sort_order) INTO counts
		FROM machi.report_status s
		LEFT JOIN (SELECT t.status, sum(t.n)::bigint AS n FROM machi.report_tally t
				   WHERE t.tenant_id = machi.current_tenant()
					 AND (SELECT machi.has_permission('report', 'read'))
					 AND (depts IS NULL OR t.department_id = ANY (depts))
					 AND (q->>'department' IS NULL OR t.department_id = (q->>'department')::bigint)
					 AND (q->>'category' IS NULL OR EXISTS (SELECT 1 FROM machi.category c WHERE c.tenant_id = t.tenant_id
															AND c.category_id = t.category_id AND c.code = q->>'category'))
				   GROUP BY t.status) c
			ON c.status = s.status;
	END IF;
	RETURN machi.ok(jsonb_build_object('reports', rows, 'counts', counts,
		'next', CASE WHEN n = lim THEN '/v1/staff/reports?' || machi.query_with(q, 'after', last_id::text) END));
END
$$;
COMMENT ON FUNCTION machi.rt_staff_reports(machi.request) IS
'GET /v1/staff/reports?status=&department=&category=&assignee=&bbox=&from=&to=&q=&after=&limit=: the staff queue of the caller''s tenant (department-scoped roles: their departments), newest first, with counts per status.';

-- called per row: no SET clause (the SQL body is bound at creation; a SET
-- would switch the configuration on every call and prevent inlining)
CREATE FUNCTION machi.csv_cell(v text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE
		WHEN v IS NULL THEN ''
		-- cells a spreadsheet would run as a formula are prefixed with '
		WHEN v ~ '^[=+\-@\t\r]' THEN '"''' || replace(v, '"', '""') || '"'
		WHEN v ~ '[",\r\n]' THEN '"' || replace(v, '"', '""') || '"'
		ELSE v END;
COMMENT ON FUNCTION machi.csv_cell(text) IS 'One RFC 4180 CSV cell; cells starting with = + - @ (formula injection) are prefixed with a quote character.';

CREATE FUNCTION machi.rt_staff_reports_csv(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
	q jsonb := r.query - 'bom';
	depts bigint[] := machi.current_departments();
	max_rows int := current_setting('machi.csv_max_rows')::int;
	matched bigint;
	out text;
BEGIN
	PERFORM machi.staff_filter(q);
	-- one response holds the whole file: at most max_rows lines are made,
	-- one more tells that the match is too large
	SELECT string_agg(line, E'\r\n' ORDER BY ord) || E'\r\n', count(*) - 1 INTO out, matched FROM (
		SELECT (-9223372036854775807)::bigint AS ord, 'id,created_at,status,category,department,title,description,address,lat,lon,visibility,assignee_id' AS line
		UNION ALL
		(SELECT -rep.report_id, concat_ws(',', rep.report_id,
			to_char(rep.created_at AT TIME ZONE 'Asia/Tokyo', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
			rep.status, machi.csv_cell(c.code), machi.csv_cell(d.name), machi.csv_cell(rep.title),
			machi.csv_cell(rep.description), machi.csv_cell(rep.address),
			round(public.st_y(rep.location)::numeric, 7), round(public.st_x(rep.location)::numeric, 7),
			rep.visibility, coalesce(rep.assignee_id::text, ''))
		FROM machi.staff_reports(q, false, depts) rep
		JOIN machi.category c ON c.tenant_id = rep.tenant_id AND c.category_id = rep.category_id
		JOIN machi.department d ON d.tenant_id = rep.tenant_id AND d.department_id = rep.department_id
		LIMIT max_rows + 1)
	) x;
	IF matched > max_rows THEN
		PERFORM machi.fail(422, format('the filter matches more than %s reports, more than one CSV file holds', max_rows),
						   NULL, 'too_many_rows',
						   'Narrow it (dates from/to, status, department, category), or ask an administrator for the export of all reports (GET /v1/admin/export/reports.csv, in parts).');
	END IF;
	RETURN ROW(200, jsonb_build_object('content-type', 'text/csv; charset=utf-8',
		'content-disposition', 'attachment; filename="reports.csv"'), NULL,
		CASE WHEN r.query->>'bom' IN ('1', 'true') THEN '\xefbbbf'::bytea ELSE ''::bytea END
		|| convert_to(out, 'UTF8'))::machi.response;
END
$$;
COMMENT ON FUNCTION machi.rt_staff_reports_csv(machi.request) IS
'GET /v1/staff/reports.csv?(queue filters)&bom=1: the queue as CSV (UTF-8, CRLF, RFC 4180; bom=1 adds a byte order mark for Excel); at most machi.csv_max_rows reports, a larger match is a 422 (too_many_rows).';

CREATE FUNCTION machi.rt_staff_report_patch(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	prev_status text := rep.status;
	src jsonb := coalesce(r.data, '{}');
	new_status text;
	new_dept bigint;
	new_cat machi.category;
	dup machi.report;
	k text;
BEGIN
	IF jsonb_typeof(src) <> 'object' THEN
		PERFORM machi.fail(400, 'the body must be a JSON object');
	END IF;
	FOR k IN SELECT jsonb_object_keys(src) LOOP
		IF k NOT IN ('status', 'department', 'category', 'assignee', 'visibility', 'duplicate_of',
					 'public_title', 'public_description', 'hidden_photos', 'note') THEN
			PERFORM machi.fail(400, format('unknown field "%s"', k), k, 'unknown_field');
		END IF;
	END LOOP;
	IF NOT machi.is_report_staff(rep.tenant_id, rep.department_id, 'update') THEN
		-- visible (public, or read-only role) but not the caller's to change
		PERFORM machi.fail(CASE WHEN rep.tenant_id IS NOT DISTINCT FROM machi.current_tenant() THEN 403 ELSE 404 END,
						   CASE WHEN rep.tenant_id IS NOT DISTINCT FROM machi.current_tenant()
								THEN 'your role cannot change this report' ELSE 'no such report' END);
	END IF;
	-- category (re-routes to its department unless one is given)
	IF src ? 'category' THEN
		SELECT * INTO new_cat FROM machi.category c
		WHERE c.tenant_id = rep.tenant_id AND c.active
		  AND (c.code = src->>'category' OR ((src->>'category') ~ '^[0-9]{1,18}$' AND c.category_id = (src->>'category')::bigint));
		IF NOT FOUND THEN
			PERFORM machi.fail(422, 'no such category in this municipality', 'category', 'unknown_category');
		END IF;
		rep.category_id := new_cat.category_id;
		rep.department_id := new_cat.department_id;
	END IF;
	IF src ? 'department' THEN
		new_dept := CASE WHEN src->>'department' ~ '^[0-9]{1,18}$' THEN (src->>'department')::bigint END;
		IF new_dept IS NULL OR NOT EXISTS (SELECT 1 FROM machi.department d WHERE d.tenant_id = rep.tenant_id
										   AND d.department_id = new_dept AND d.active) THEN
			PERFORM machi.fail(422, 'no such department in this municipality', 'department', 'unknown_department');
		END IF;
		rep.department_id := new_dept;
	END IF;
	IF src ? 'assignee' THEN
		IF src->'assignee' = 'null'::jsonb THEN
			rep.assignee_id := NULL;
		ELSIF (src->>'assignee') ~ '^[0-9]{1,18}$' AND EXISTS (
				SELECT 1 FROM machi.account a WHERE a.tenant_id = rep.tenant_id
				AND a.account_id = (src->>'assignee')::bigint AND a.state = 'active') THEN
			rep.assignee_id := (src->>'assignee')::bigint;
		ELSE
			PERFORM machi.fail(422, 'no such staff member in this municipality', 'assignee', 'unknown_assignee');
		END IF;
	END IF;
	IF src ? 'public_title' THEN
		rep.public_title := nullif(machi.arg_text(src, 'public_title', false, 200), rep.title);
	END IF;
	IF src ? 'public_description' THEN
		rep.public_description := nullif(machi.arg_text(src, 'public_description', false, 4000), rep.description);
	END IF;
	IF src ? 'hidden_photos' THEN
		IF jsonb_typeof(src->'hidden_photos') <> 'array'
		   OR EXISTS (SELECT 1 FROM jsonb_array_elements(src->'hidden_photos') e WHERE jsonb_typeof(e) <> 'number') THEN
			PERFORM machi.fail(400, 'hidden_photos must be an array of photo numbers', 'hidden_photos', 'invalid');
		END IF;
		WITH h AS (
			UPDATE machi.report_photo p
			SET hidden = p.photo_no IN (SELECT (e #>> '{}')::int FROM jsonb_array_elements(src->'hidden_photos') e)
			WHERE p.tenant_id = rep.tenant_id AND p.report_id = rep.report_id
			  AND p.hidden IS DISTINCT FROM (p.photo_no IN (SELECT (e #>> '{}')::int FROM jsonb_array_elements(src->'hidden_photos') e))
			RETURNING p.photo_no, p.hidden)
		INSERT INTO machi.report_update (tenant_id, report_id, kind, author_id, visibility, detail)
		SELECT rep.tenant_id, rep.report_id, 'redact', machi.current_account(), 'internal',
			   jsonb_build_object('photos', jsonb_object_agg(h.photo_no::text, h.hidden))
		FROM h HAVING count(*) > 0;
	END IF;
	IF src ? 'visibility' THEN
		IF src->>'visibility' NOT IN ('public', 'private') THEN
			PERFORM machi.fail(400, 'visibility must be public or private', 'visibility', 'invalid');
		END IF;
		IF src->>'visibility' = 'public' AND rep.visibility = 'private' THEN
			rep.published_at := now();
		END IF;
		rep.visibility := src->>'visibility';
	END IF;
	IF src ? 'status' THEN
		new_status := machi.arg_text(src, 'status', true, 32);
		IF NOT EXISTS (SELECT 1 FROM machi.report_status s WHERE s.status = new_status) THEN
			PERFORM machi.fail(400, 'unknown status', 'status', 'invalid');
		END IF;
		IF new_status = rep.status THEN
			NULL;	-- unchanged
		ELSIF NOT EXISTS (SELECT 1 FROM machi.report_transition t
				WHERE t.from_status = rep.status AND t.to_status = new_status) THEN
			RAISE EXCEPTION USING ERRCODE = 'MC409', CONSTRAINT = 'invalid_transition', COLUMN = 'status',
				MESSAGE = format('a report cannot go from %s to %s', rep.status, new_status),
				DETAIL = 'Allowed from ' || rep.status || ': ' || coalesce((SELECT string_agg(t.to_status, ', ' ORDER BY t.to_status)
					FROM machi.report_transition t WHERE t.from_status = rep.status), 'nothing') || '.';
		END IF;
		rep.status := new_status;
		IF new_status = 'duplicate' THEN
			IF NOT src ? 'duplicate_of' THEN
				PERFORM machi.fail(400, 'duplicate_of is required with status duplicate', 'duplicate_of', 'required');
			END IF;
			SELECT * INTO dup FROM machi.report d
			WHERE d.tenant_id = rep.tenant_id AND d.report_id::text = src->>'duplicate_of' AND d.report_id <> rep.report_id;
			IF NOT FOUND THEN
				PERFORM machi.fail(422, 'no such report in this municipality', 'duplicate_of', 'unknown_report');
			END IF;
			rep.duplicate_of := dup.report_id;
		ELSE
			rep.duplicate_of := NULL;
		END IF;
	ELSIF src ? 'duplicate_of' THEN
		PERFORM machi.fail(400, 'duplicate_of goes with status duplicate', 'duplicate_of', 'invalid');
	END IF;

	INSERT INTO machi.report_update (tenant_id, report_id, kind, author_id, visibility, body, old_status, new_status, detail)
	SELECT rep.tenant_id, rep.report_id, x.kind, machi.current_account(), x.vis, x.body, x.olds, x.news, x.detail
	FROM (SELECT o.* FROM machi.report o WHERE o.tenant_id = rep.tenant_id AND o.report_id = rep.report_id) old,
	LATERAL (VALUES
		('status', 'public', NULL::text, old.status, rep.status, '{}'::jsonb, old.status <> rep.status),
		('assign', 'internal', NULL, NULL, NULL,
		 jsonb_build_object('assignee', rep.assignee_id, 'department', rep.department_id, 'category', rep.category_id),
		 old.assignee_id IS DISTINCT FROM rep.assignee_id OR old.department_id <> rep.department_id
		 OR old.category_id <> rep.category_id),
		('redact', 'internal', NULL, NULL, NULL,
		 jsonb_build_object('public_title', rep.public_title IS NOT NULL, 'public_description', rep.public_description IS NOT NULL),
		 old.public_title IS DISTINCT FROM rep.public_title OR old.public_description IS DISTINCT FROM rep.public_description),
		('publish', 'internal', NULL, NULL, NULL, jsonb_build_object('visibility', rep.visibility),
		 old.visibility <> rep.visibility),
		('note', 'internal', machi.arg_text(src, 'note', false, 4000), NULL, NULL, '{}'::jsonb, src ? 'note')
	) AS x(kind, vis, body, olds, news, detail, changed)
	WHERE x.changed;

	UPDATE machi.report o SET
		status = rep.status, duplicate_of = rep.duplicate_of, category_id = rep.category_id,
		department_id = rep.department_id, assignee_id = rep.assignee_id,
		visibility = rep.visibility, published_at = rep.published_at,
		public_title = rep.public_title, public_description = rep.public_description,
		updated_at = now()
	WHERE o.tenant_id = rep.tenant_id AND o.report_id = rep.report_id
	RETURNING * INTO rep;
	IF NOT FOUND THEN
		-- moved out of the caller's departments by this very change: allowed
		-- only if they may still see it afterwards
		PERFORM machi.fail(403, 'you cannot move a report out of your own departments');
	END IF;
	IF rep.status <> prev_status THEN
		PERFORM machi.notify_reporter(rep.tenant_id, rep.report_id, 'status', NULL);
	END IF;
	RETURN machi.ok(jsonb_build_object('report', machi.report_json(rep)));
END
$$;
COMMENT ON FUNCTION machi.rt_staff_report_patch(machi.request) IS
'PATCH /v1/staff/reports/{id}: change status (per machi.report_transition; duplicate needs duplicate_of), category, department, assignee, visibility (public publishes), public_title/public_description (redaction: citizens see these, the original is kept), hidden_photos (photo numbers the public must not see), with an optional internal note. Every change is a report_update row.';

CREATE FUNCTION machi.rt_staff_report_respond(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	src jsonb := coalesce(r.data, '{}');
	vis text := coalesce(machi.arg_text(src, 'visibility', false, 16), 'public');
	u machi.report_update;
BEGIN
	IF NOT (rep.tenant_id IS NOT DISTINCT FROM machi.current_tenant() AND machi.has_permission('response', 'update')
			AND machi.is_report_staff(rep.tenant_id, rep.department_id, 'read')) THEN
		PERFORM machi.fail(CASE WHEN rep.tenant_id IS NOT DISTINCT FROM machi.current_tenant() THEN 403 ELSE 404 END,
						   CASE WHEN rep.tenant_id IS NOT DISTINCT FROM machi.current_tenant()
								THEN 'your role cannot answer this report' ELSE 'no such report' END);
	END IF;
	IF vis NOT IN ('public', 'internal') THEN
		PERFORM machi.fail(400, 'visibility must be public or internal', 'visibility', 'invalid');
	END IF;
	INSERT INTO machi.report_update (tenant_id, report_id, kind, author_id, visibility, body)
	VALUES (rep.tenant_id, rep.report_id, CASE vis WHEN 'public' THEN 'response' ELSE 'note' END,
			machi.current_account(), vis, machi.arg_text(src, 'body', true, 4000))
	RETURNING * INTO u;
	IF vis = 'public' THEN
		PERFORM machi.notify_reporter(rep.tenant_id, rep.report_id, 'response', u.body);
	END IF;
	RETURN machi.ok(jsonb_build_object('id', u.update_id, 'kind', u.kind, 'visibility', u.visibility,
									   'body', u.body, 'created_at', u.created_at), 201);
END
$$;
COMMENT ON FUNCTION machi.rt_staff_report_respond(machi.request) IS
'POST /v1/staff/reports/{id}/responses: {"body": ..., "visibility": "public"|"internal"}: a public response to the reporter (who is e-mailed) or an internal note.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('POST', '/v1/reports', 'machi.rt_report_create(machi.request)', 'citizen', 32768, 'Post a report (verified citizens).'),
	('GET', '/v1/reports', 'machi.rt_report_list(machi.request)', 'public', 0, 'Public reports and your own: bbox, status, category, since, mine, q, after, limit.'),
	('GET', '/v1/reports/{id}', 'machi.rt_report_get(machi.request)', 'public', 0, 'One report with its visible history.'),
	('POST', '/v1/reports/{id}/comments', 'machi.rt_report_comment(machi.request)', 'citizen', 16384, 'Comment on your own report.'),
	('POST', '/v1/reports/{id}/thanks', 'machi.rt_report_thanks(machi.request)', 'user', 0, 'Thank a published report.'),
	('DELETE', '/v1/reports/{id}/thanks', 'machi.rt_report_thanks(machi.request)', 'user', 0, 'Take back a thank-you.'),
	('GET', '/v1/staff/reports', 'machi.rt_staff_reports(machi.request)', 'staff', 0, 'The staff queue with filters and counts per status.'),
	('GET', '/v1/staff/reports.csv', 'machi.rt_staff_reports_csv(machi.request)', 'staff', 0, 'The staff queue as CSV (bom=1 for Excel).'),
	('PATCH', '/v1/staff/reports/{id}', 'machi.rt_staff_report_patch(machi.request)', 'staff', 32768, 'Change status, routing, assignment, publication, redaction.'),
	('POST', '/v1/staff/reports/{id}/responses', 'machi.rt_staff_report_respond(machi.request)', 'staff', 16384, 'A public response or an internal note.');

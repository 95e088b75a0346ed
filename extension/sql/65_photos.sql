-- machi install script, part 65: report photos (metadata stripped in C).

CREATE FUNCTION machi.strip_photo(data bytea, max_bytes int,
								  OUT media_type text, OUT data bytea, OUT width int, OUT height int,
								  OUT orientation int, OUT sha256 bytea)
	AS 'MODULE_PATHNAME', 'machi_strip_photo'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION machi.strip_photo(bytea, int) IS
'Validate a JPEG or PNG by its content (full structural walk) and return it without any metadata (EXIF incl. GPS, XMP, ICC, comments; PNG text/eXIf/time chunks; data after the end), with its type, size, EXIF orientation and SHA-256. Errors: 415 not JPEG/PNG, 422 damaged, 413 too large.';

CREATE FUNCTION machi.rt_photo_add(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	img record;
	n int;
	max_count int := current_setting('machi.photo_max_count')::int;
BEGIN
	IF rep.author_id IS DISTINCT FROM machi.current_account() THEN
		PERFORM machi.fail(403, 'only the author of a report can add photos to it', NULL, 'not_author');
	END IF;
	IF r.body IS NULL OR octet_length(r.body) = 0 THEN
		PERFORM machi.fail(400, 'send the photo as the request body (image/jpeg or image/png)', NULL, 'empty_body');
	END IF;
	-- one photo at a time per report: numbers stay dense under concurrency
	PERFORM 1 FROM machi.report x WHERE x.tenant_id = rep.tenant_id AND x.report_id = rep.report_id FOR SHARE;
	PERFORM pg_advisory_xact_lock(hashtextextended('machi.report_photo', rep.report_id));
	SELECT count(*) INTO n FROM machi.report_photo p WHERE p.tenant_id = rep.tenant_id AND p.report_id = rep.report_id;
	IF n >= max_count THEN
		PERFORM machi.fail(409, format('a report has at most %s photos', max_count), NULL, 'too_many_photos');
	END IF;
	img := machi.strip_photo(r.body, current_setting('machi.photo_max_bytes')::int);
	INSERT INTO machi.report_photo (tenant_id, report_id, photo_no, media_type, data, byte_size, sha256,
									width, height, orientation)
	VALUES (rep.tenant_id, rep.report_id, n + 1, img.media_type, img.data, octet_length(img.data), img.sha256,
			img.width, img.height, img.orientation);
	RETURN machi.ok(jsonb_build_object('n', n + 1, 'url', '/v1/reports/' || rep.report_id || '/photos/' || (n + 1),
									   'media_type', img.media_type, 'width', img.width, 'height', img.height,
									   'orientation', img.orientation, 'bytes', octet_length(img.data)),
					201, jsonb_build_object('location', '/v1/reports/' || rep.report_id || '/photos/' || (n + 1)));
END
$$;
COMMENT ON FUNCTION machi.rt_photo_add(machi.request) IS
'POST /v1/reports/{id}/photos: the author adds a photo (raw JPEG or PNG body; the type is decided by content). All metadata is stripped before it is stored.';

CREATE FUNCTION machi.rt_photo_get(r machi.request) RETURNS machi.response
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	rep machi.report := machi.find_report(r.params->>'id');
	p machi.report_photo;
	etag text;
BEGIN
	SELECT * INTO p FROM machi.report_photo x
	WHERE x.tenant_id = rep.tenant_id AND x.report_id = rep.report_id
	  AND r.params->>'n' ~ '^[0-9]{1,2}$' AND x.photo_no = (r.params->>'n')::int;
	IF NOT FOUND THEN
		PERFORM machi.fail(404, 'no such photo', NULL, 'not_found');
	END IF;
	etag := '"' || encode(p.sha256, 'hex') || '"';
	IF r.headers->>'if-none-match' = etag THEN
		RETURN ROW(304, jsonb_build_object('etag', etag, 'cache-control', 'private, no-cache'), NULL, ''::bytea)::machi.response;
	END IF;
	RETURN ROW(200, jsonb_build_object(
		'content-type', p.media_type,
		'x-content-type-options', 'nosniff',
		'content-disposition', format('inline; filename="report-%s-%s.%s"', rep.report_id, p.photo_no,
									  CASE p.media_type WHEN 'image/png' THEN 'png' ELSE 'jpg' END),
		'etag', etag,
		'cache-control', 'private, no-cache'), NULL, p.data)::machi.response;
END
$$;
COMMENT ON FUNCTION machi.rt_photo_get(machi.request) IS
'GET /v1/reports/{id}/photos/{n}: the photo with its Content-Type, nosniff, inline disposition and an ETag (its SHA-256); If-None-Match answers 304. Hidden photos only for the author and staff.';

INSERT INTO machi.route (method, pattern, handler, auth, max_body, description) VALUES
	('POST', '/v1/reports/{id}/photos', 'machi.rt_photo_add(machi.request)', 'citizen', 10485760, 'Add a photo (raw JPEG/PNG body) to your report.'),
	('GET', '/v1/reports/{id}/photos/{n}', 'machi.rt_photo_get(machi.request)', 'public', 0, 'A photo of a report.');

-- photos: JPEG/PNG checked by content, all metadata stripped (EXIF GPS,
-- XMP, comments, PNG text chunks, trailing polyglot data), orientation
-- recorded, limits, serving headers, visibility.  The test images are
-- generated here: a small base image plus metadata built byte by byte.
\set VERBOSITY terse
CREATE FUNCTION pg_temp.u16le(v int) RETURNS bytea LANGUAGE sql
	RETURN set_byte(set_byte('\x0000'::bytea, 0, v & 255), 1, (v >> 8) & 255);
CREATE FUNCTION pg_temp.u32le(v bigint) RETURNS bytea LANGUAGE sql
	RETURN pg_temp.u16le((v & 65535)::int) || pg_temp.u16le(((v >> 16) & 65535)::int);
CREATE FUNCTION pg_temp.u16be(v int) RETURNS bytea LANGUAGE sql
	RETURN set_byte(set_byte('\x0000'::bytea, 0, (v >> 8) & 255), 1, v & 255);
CREATE FUNCTION pg_temp.u32be(v bigint) RETURNS bytea LANGUAGE sql
	RETURN pg_temp.u16be(((v >> 16) & 65535)::int) || pg_temp.u16be((v & 65535)::int);
-- a JPEG marker segment
CREATE FUNCTION pg_temp.seg(marker int, payload bytea) RETURNS bytea LANGUAGE sql
	RETURN set_byte('\xff00'::bytea, 1, marker) || pg_temp.u16be(octet_length(payload) + 2) || payload;
-- IFD entry: tag, type, count, value/offset (little endian)
CREATE FUNCTION pg_temp.ifd(tag int, typ int, cnt int, val bytea) RETURNS bytea LANGUAGE sql
	RETURN pg_temp.u16le(tag) || pg_temp.u16le(typ) || pg_temp.u32le(cnt) || val;
CREATE FUNCTION pg_temp.rat(n int, d int) RETURNS bytea LANGUAGE sql
	RETURN pg_temp.u32le(n) || pg_temp.u32le(d);
-- Exif (TIFF, little endian): IFD0 {Orientation, GPS IFD pointer} at 8,
-- GPS IFD {N, 35°36'26.28", E, 140°6'22.68"} at 38, rationals at 92 and 116
CREATE FUNCTION pg_temp.gps_lat() RETURNS bytea LANGUAGE sql
	RETURN pg_temp.rat(35, 1) || pg_temp.rat(36, 1) || pg_temp.rat(2628, 100);
CREATE FUNCTION pg_temp.exif(orientation int) RETURNS bytea LANGUAGE sql
	RETURN 'Exif\000\000'::bytea || 'II'::bytea || '\x2a00'::bytea || pg_temp.u32le(8)
		|| pg_temp.u16le(2)
		|| pg_temp.ifd(274, 3, 1, pg_temp.u16le(orientation) || '\x0000'::bytea)
		|| pg_temp.ifd(34853, 4, 1, pg_temp.u32le(38))
		|| pg_temp.u32le(0)
		|| pg_temp.u16le(4)
		|| pg_temp.ifd(1, 2, 2, 'N\000\000\000'::bytea)
		|| pg_temp.ifd(2, 5, 3, pg_temp.u32le(92))
		|| pg_temp.ifd(3, 2, 2, 'E\000\000\000'::bytea)
		|| pg_temp.ifd(4, 5, 3, pg_temp.u32le(116))
		|| pg_temp.u32le(0)
		|| pg_temp.gps_lat()
		|| pg_temp.rat(140, 1) || pg_temp.rat(6, 1) || pg_temp.rat(2268, 100);
-- CRC-32 (PNG chunks)
CREATE FUNCTION pg_temp.crc32(b bytea) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	c bigint := 4294967295;
BEGIN
	FOR i IN 0 .. octet_length(b) - 1 LOOP
		c := c # get_byte(b, i);
		FOR k IN 1 .. 8 LOOP
			c := CASE WHEN c & 1 = 1 THEN (c >> 1) # 3988292384 ELSE c >> 1 END;
		END LOOP;
	END LOOP;
	RETURN c # 4294967295;
END $$;
CREATE FUNCTION pg_temp.chunk(typ text, payload bytea) RETURNS bytea LANGUAGE sql
	RETURN pg_temp.u32be(octet_length(payload)) || convert_to(typ, 'UTF8') || payload
		|| pg_temp.u32be(pg_temp.crc32(convert_to(typ, 'UTF8') || payload));
-- the base images: an 8×48 baseline JPEG and a 2×2 RGB PNG
\set base_jpeg '\\xffd8ffe000104a46494600010201004800480000ffdb00430001010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101ffc0000b080008003001011100ffc400280001010000000000000000000000000000000810010100000000000000000000000000000001ffda0008010100003f0002ff0007ffd9'
\set base_png '\\x89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a730000000467414d410000b18f0bfc610500000005494441547801010e00a2d3d21b0000001449444154f1ff00ff000000ff00000000ff8080801cf4047e9ca15a560000000049454e44ae426082'
-- the camera's JPEG: SOI, Exif with GPS (orientation 6), XMP, a comment, the
-- image, and a ZIP archive glued after EOI (a polyglot)
SELECT '\xffd8'::bytea
	|| pg_temp.seg(225, pg_temp.exif(6))
	|| pg_temp.seg(225, convert_to(E'http://ns.adobe.com/xap/1.0/\\000<x:xmpmeta><exif:GPSLatitude>35,36.438N</exif:GPSLatitude></x:xmpmeta>', 'UTF8'))
	|| pg_temp.seg(254, convert_to('taken by alice@example.com at home', 'UTF8'))
	|| substr(:'base_jpeg'::bytea, 3)
	|| 'PK\003\004polyglot.zip'::bytea AS camera_jpeg \gset
-- the PNG: text chunks with a position and a name, eXIf, tIME, HTML after IEND
SELECT substr(:'base_png'::bytea, 1, 33)
	|| pg_temp.chunk('tEXt', convert_to(E'GPS\\00035.6073,140.1063', 'UTF8'))
	|| pg_temp.chunk('iTXt', convert_to(E'Author\\000\\000\\000\\000\\000山田花子', 'UTF8'))
	|| pg_temp.chunk('eXIf', substr(pg_temp.exif(8), 7))
	|| pg_temp.chunk('tIME', '\x07ea0b190c0000'::bytea)
	|| substr(:'base_png'::bytea, 34)
	|| convert_to('<html><script>alert(1)</script></html>', 'UTF8') AS phone_png \gset
SELECT position('\x2300000001000000240000000100000044'::bytea IN :'camera_jpeg'::bytea) > 0 AS input_has_gps,
	   position('Exif'::bytea IN :'camera_jpeg'::bytea) > 0 AS input_has_exif,
	   position(convert_to('GPS', 'UTF8') IN :'phone_png'::bytea) > 0 AS png_has_gps;
-- stripping in C: nothing of the metadata survives, the orientation is kept
SELECT media_type, width, height, orientation, octet_length(data) < octet_length(:'camera_jpeg'::bytea) AS smaller,
	   position(pg_temp.gps_lat() IN data) AS gps_at, position('Exif'::bytea IN data) AS exif_at,
	   position(convert_to('adobe', 'UTF8') IN data) AS xmp_at, position(convert_to('alice', 'UTF8') IN data) AS comment_at,
	   position('PK\003\004'::bytea IN data) AS zip_at, substr(data, octet_length(data) - 1) = '\xffd9'::bytea AS ends_at_eoi,
	   data = (machi.strip_photo(data, 100000)).data AS idempotent,
	   sha256 = sha256(data) AS sha256_of_output
FROM machi.strip_photo(:'camera_jpeg'::bytea, 100000);
SELECT media_type, width, height, orientation,
	   position(convert_to('GPS', 'UTF8') IN data) AS gps_at, position(convert_to('山田', 'UTF8') IN data) AS name_at,
	   position(convert_to('eXIf', 'UTF8') IN data) AS exif_at, position(convert_to('tIME', 'UTF8') IN data) AS time_at,
	   position(convert_to('<html', 'UTF8') IN data) AS html_at,
	   substr(data, octet_length(data) - 11) = substr(:'base_png'::bytea, octet_length(:'base_png'::bytea) - 11) AS ends_with_iend
FROM machi.strip_photo(:'phone_png'::bytea, 100000);
-- bad input: clear errors, never a crash
SELECT machi.strip_photo(convert_to('<html><body>not an image</body></html>', 'UTF8'), 100000);
SELECT machi.strip_photo(substr(:'camera_jpeg'::bytea, 1, 200), 100000);
SELECT machi.strip_photo(substr(:'base_png'::bytea, 1, 60), 100000);
SELECT machi.strip_photo(overlay(:'base_png'::bytea PLACING '\x00'::bytea FROM 30 FOR 1), 100000);
SELECT machi.strip_photo(:'camera_jpeg'::bytea, 100);
SELECT machi.strip_photo(''::bytea, 100);
-- every truncation of the camera JPEG is refused, none crashes
CREATE TEMP TABLE imgs AS SELECT :'camera_jpeg'::bytea AS camera;
DO $$
DECLARE
	img bytea := (SELECT camera FROM imgs);
	refused int := 0;
BEGIN
	FOR n IN 1 .. octet_length(img) - 22 LOOP	-- the last 22 bytes are the ZIP tail
		BEGIN
			PERFORM machi.strip_photo(substr(img, 1, n), 100000);
		EXCEPTION WHEN SQLSTATE 'MC422' OR SQLSTATE 'MC415' THEN
			refused := refused + 1;
		END;
	END LOOP;
	RAISE NOTICE 'truncations refused: % of %', refused, octet_length(img) - 22;
END $$;
-- through the API: the author adds photos; others cannot
INSERT INTO machi.account (kind, role_name, email_verified_at) VALUES ('citizen', 'citizen', now()), ('citizen', 'citizen', now());
SELECT max(account_id) - 1 AS author, max(account_id) AS other FROM machi.account \gset
SELECT account_id AS staff FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
CREATE FUNCTION pg_temp.up(who bigint, path text, img bytea, ctype text DEFAULT 'image/jpeg')
	RETURNS TABLE (status int, headers jsonb, body jsonb)
	LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of photos');
	RETURN QUERY SELECT h.status, h.headers, convert_from(h.body, 'UTF8')::jsonb
		FROM api.handle('POST', path, '', jsonb_build_object('content-type', ctype), img, '127.0.0.1', 'photos') h;
END $$;
CREATE FUNCTION pg_temp.get(who bigint, path text, hdrs jsonb DEFAULT '{}')
	RETURNS TABLE (status int, headers jsonb, body bytea)
	LANGUAGE plpgsql AS $$
BEGIN
	IF who IS NOT NULL THEN
		PERFORM machi.act_as(who, 'regression test of photos');
	END IF;
	RETURN QUERY SELECT h.status, h.headers, h.body FROM api.handle('GET', path, '', hdrs, NULL, '127.0.0.1', 'photos') h;
END $$;
SELECT (convert_from(h.body, 'UTF8')::jsonb->'report'->>'id')::bigint AS rid
FROM (SELECT machi.act_as(:author, 'regression test of photos')) x,
	 api.handle('POST', '/v1/reports', '', '{"content-type": "application/json"}',
				convert_to('{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "写真付きの報告"}', 'UTF8'), NULL, 'p') h \gset
SELECT status, body FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'camera_jpeg'::bytea);
-- the Content-Type header does not decide: a PNG sent as image/jpeg is a PNG
SELECT status, body->>'media_type' AS media_type, body->>'orientation' AS orientation FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'phone_png'::bytea, 'image/jpeg');
SELECT status, body FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', convert_to('<svg onload=alert(1)>', 'UTF8'), 'image/png');
SELECT status, body FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', substr(:'camera_jpeg'::bytea, 1, 300));
SELECT status, body FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', ''::bytea);
SELECT status, body FROM pg_temp.up(:other, '/v1/reports/' || :rid || '/photos', :'base_jpeg'::bytea);
SELECT status, body FROM pg_temp.up(:staff, '/v1/reports/' || :rid || '/photos', :'base_jpeg'::bytea);
-- size limit (machi.photo_max_bytes)
SET machi.photo_max_bytes = 1024;
SELECT status, body->'error'->>'code' AS code FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'base_jpeg'::bytea || decode(repeat('00', 1000), 'hex'));
RESET machi.photo_max_bytes;
SELECT status FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'base_jpeg'::bytea);
SELECT status FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'base_png'::bytea);
SELECT status, body FROM pg_temp.up(:author, '/v1/reports/' || :rid || '/photos', :'base_jpeg'::bytea);
-- what is stored: no trace of the metadata in any photo
SELECT photo_no, media_type, orientation, byte_size = octet_length(data) AS size_ok,
	   position(pg_temp.gps_lat() IN data) = 0 AND position('Exif'::bytea IN data) = 0
	   AND position(convert_to('GPS', 'UTF8') IN data) = 0 AND position(convert_to('alice', 'UTF8') IN data) = 0
	   AND position(convert_to('<html', 'UTF8') IN data) = 0 AND position('PK\003\004'::bytea IN data) = 0 AS clean
FROM machi.report_photo WHERE report_id = :rid ORDER BY photo_no;
-- serving: type, nosniff, inline, ETag; If-None-Match answers 304
SELECT status, headers->>'content-type' AS ctype, headers->>'x-content-type-options' AS nosniff,
	   headers->>'content-disposition' AS disposition, headers->>'etag' = '"' || encode(sha256(body), 'hex') || '"' AS etag_is_sha256,
	   substr(body, 1, 2) = '\xffd8'::bytea AS jpeg
FROM pg_temp.get(:author, '/v1/reports/' || :rid || '/photos/1');
SELECT headers->>'etag' AS etag FROM pg_temp.get(:author, '/v1/reports/' || :rid || '/photos/1') \gset
SELECT status, octet_length(body) AS bytes FROM pg_temp.get(:author, '/v1/reports/' || :rid || '/photos/1', jsonb_build_object('if-none-match', :'etag'));
SELECT status, headers->>'content-type' AS ctype FROM pg_temp.get(:author, '/v1/reports/' || :rid || '/photos/2');
SELECT status FROM pg_temp.get(:author, '/v1/reports/' || :rid || '/photos/9');
-- a private report's photos: only its author and its staff
SELECT 'other citizen' AS who, status FROM pg_temp.get(:other, '/v1/reports/' || :rid || '/photos/1')
UNION ALL SELECT 'anonymous', status FROM pg_temp.get(NULL, '/v1/reports/' || :rid || '/photos/1')
UNION ALL SELECT 'staff', status FROM pg_temp.get(:staff, '/v1/reports/' || :rid || '/photos/1');
-- publishing with photo 2 hidden: the public sees photos 1 and 3 only
SELECT status, jsonb_path_query_array(body, '$.report.photos[*].hidden') AS hidden_flags
FROM (SELECT h.status, convert_from(h.body, 'UTF8')::jsonb AS body
	  FROM (SELECT machi.act_as(:staff, 'regression test of photos')) x,
		   api.handle('PATCH', '/v1/staff/reports/' || :rid, '', '{"content-type": "application/json"}',
					  convert_to('{"visibility": "public", "hidden_photos": [2]}', 'UTF8'), NULL, 'p') h) y;
SELECT 'public' AS who, jsonb_path_query_array(convert_from(body, 'UTF8')::jsonb, '$.report.photos[*].n') AS photos FROM pg_temp.get(NULL, '/v1/reports/' || :rid)
UNION ALL SELECT 'author', jsonb_path_query_array(convert_from(body, 'UTF8')::jsonb, '$.report.photos[*].n') FROM pg_temp.get(:author, '/v1/reports/' || :rid);
SELECT 'public photo 2' AS what, status FROM pg_temp.get(NULL, '/v1/reports/' || :rid || '/photos/2')
UNION ALL SELECT 'public photo 3', status FROM pg_temp.get(NULL, '/v1/reports/' || :rid || '/photos/3');
SELECT kind, detail FROM machi.report_update WHERE report_id = :rid AND kind = 'redact';

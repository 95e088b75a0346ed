-- locate: a position picks exactly one tenant: inside a ward, on the shared
-- edge of two wards (lowest tenant id wins), in a hairline gap (nearest
-- within machi.locate_tolerance_m), outside (Tokyo Bay: 422).
\set VERBOSITY terse
-- inside: Chiba City Hall (Chuo), Inage, Makuhari (Mihama), Midori
SELECT machi.locate(35.6073, 140.1063) AS chiba_city_hall,
	   machi.locate(35.6376, 140.0924) AS inage,
	   machi.locate(35.6480, 140.0346) AS makuhari,
	   machi.locate(35.5400, 140.2563) AS midori;
-- a vertex of the shared edge of Chuo (12101) and Inage (12103)
SELECT array_agg(tenant_id ORDER BY tenant_id) AS covering_vertex, machi.locate(35.6249996, 140.1154361) AS shared_vertex
FROM machi.tenant WHERE public.st_intersects(boundary, public.st_setsrid(public.st_makepoint(140.1154361, 35.6249996), 4326));
-- where the two official boundaries overlap (0.36 m² here), both cover the
-- point and the lower tenant id wins
SELECT round(public.st_area(public.st_intersection(a.boundary, b.boundary)::public.geography)::numeric, 2) AS overlap_m2
FROM machi.tenant a, machi.tenant b WHERE a.tenant_id = 12101 AND b.tenant_id = 12103;
SELECT array_agg(tenant_id ORDER BY tenant_id) AS covering_overlap, machi.locate(35.62762342169579, 140.12500504091474) AS overlap_winner
FROM machi.tenant WHERE public.st_intersects(boundary, public.st_setsrid(public.st_makepoint(140.12500504091474, 35.62762342169579), 4326));
-- every point along the whole shared edge of Chuo and Inage routes to exactly one tenant
WITH edge AS (
	SELECT (public.st_dump(public.st_intersection(
				public.st_boundary(a.boundary), public.st_buffer(b.boundary, 0.00001)))).geom AS g
	FROM machi.tenant a, machi.tenant b WHERE a.tenant_id = 12101 AND b.tenant_id = 12103
), pts AS (
	SELECT (public.st_dumppoints(public.st_segmentize(g, 0.0005))).geom AS p FROM edge
)
SELECT count(*) > 50 AS many_points, count(*) FILTER (WHERE machi.locate(public.st_y(p), public.st_x(p)) IS NULL) AS unrouted,
	   array_agg(DISTINCT machi.locate(public.st_y(p), public.st_x(p))) AS winners
FROM pts;
-- outside every area: Tokyo Bay, and the other side of the world
SELECT machi.locate(35.5500, 139.9500) AS tokyo_bay, machi.locate(-33.86, 151.21) AS sydney;
SELECT status, convert_from(body, 'UTF8')::jsonb
FROM api.handle('GET', '/v1/locate', 'lat=35.55&lon=139.95', '{}', NULL, NULL, 'locate-1');
-- a hairline gap: two synthetic squares 1 m apart (about 0.00001°) near 0,0
SELECT machi.create_tenant(900001, 'West', '{"type": "Polygon", "coordinates": [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0.01], [0, 0]]]}');
SELECT machi.create_tenant(900002, 'East', '{"type": "Polygon", "coordinates": [[[0.01001, 0], [0.02, 0], [0.02, 0.01], [0.01001, 0.01], [0.01001, 0]]]}');
SELECT machi.locate(0.005, 0.010003) AS gap_near_west, machi.locate(0.005, 0.010008) AS gap_near_east;
-- overlapping squares: the lower id wins in the overlap
SELECT machi.create_tenant(900003, 'Overlap', '{"type": "Polygon", "coordinates": [[[0.005, 0], [0.015, 0], [0.015, 0.01], [0.005, 0.01], [0.005, 0]]]}');
SELECT machi.locate(0.005, 0.007) AS overlap, machi.locate(0.005, 0.012) AS overlap2, machi.locate(0.005, 0.0175) AS east_only;
-- beyond the tolerance: nobody; with the tolerance off: nobody in the gap either
SELECT machi.locate(0.005, 0.03) AS far_east;
DELETE FROM machi.tenant WHERE tenant_id = 900003;
SET machi.locate_tolerance_m = 0;
SELECT machi.locate(0.005, 0.0100035) AS gap_without_tolerance;
RESET machi.locate_tolerance_m;
-- terminated tenants serve nobody
UPDATE machi.tenant SET contract_state = 'terminated' WHERE tenant_id = 900001;
SELECT machi.locate(0.005, 0.002) AS terminated_west;
DELETE FROM machi.tenant WHERE tenant_id IN (900001, 900002, 900003);
-- the locate route answers with the tenant and its categories
SELECT status, body->'tenant'->>'name' AS tenant, body->'categories'->0->>'name' AS category
FROM (SELECT status, convert_from(body, 'UTF8')::jsonb AS body
	  FROM api.handle('GET', '/v1/locate', 'lat=35.6073&lon=140.1063', '{}', NULL, NULL, 'locate-2')) r;

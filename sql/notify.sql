-- notify: the author of a report gets an e-mail (through the sealed outbox)
-- when staff change its status or answer it publicly; internal notes and
-- Open311 reports without an author send nothing.
\set VERBOSITY terse
SELECT machi.import_account('citizen', 'reporter@example.invalid', public.crypt('correct horse battery', public.gen_salt('bf', 4)),
							profile => '{"nickname": "reporter"}') AS reporter \gset
SELECT account_id AS staff FROM machi.account WHERE tenant_id = 12101 AND role_name = 'tenant_admin' ORDER BY account_id LIMIT 1 \gset
CREATE FUNCTION pg_temp.api(who bigint, m text, p text, b jsonb DEFAULT NULL)
	RETURNS TABLE (status int, body jsonb) LANGUAGE plpgsql AS $$
BEGIN
	PERFORM machi.act_as(who, 'regression test of notifications');
	RETURN QUERY SELECT h.status, convert_from(h.body, 'UTF8')::jsonb
		FROM api.handle(m, p, '', '{"content-type": "application/json"}', convert_to(b::text, 'UTF8'), NULL, 'notify') h;
END $$;
SELECT (body->'report'->>'id')::bigint AS rid
FROM pg_temp.api(:reporter, 'POST', '/v1/reports', '{"category": "road", "lat": 35.6073, "lon": 140.1063, "title": "歩道の段差", "description": "つまずきます"}') \gset
SELECT coalesce(max(outbox_id), 0) AS before FROM machi.outbox \gset
SELECT status FROM pg_temp.api(:staff, 'PATCH', '/v1/staff/reports/' || :rid, '{"status": "in_progress"}');
SELECT status FROM pg_temp.api(:staff, 'PATCH', '/v1/staff/reports/' || :rid, '{"assignee": null, "note": "no status change, no mail"}');
SELECT status FROM pg_temp.api(:staff, 'POST', '/v1/staff/reports/' || :rid || '/responses', '{"body": "業者が内部で確認中", "visibility": "internal"}');
SELECT status FROM pg_temp.api(:staff, 'POST', '/v1/staff/reports/' || :rid || '/responses', '{"body": "来週、段差を解消します。"}');
-- two mails, sealed: no address, subject or text in clear
SELECT kind, state, account_id = :reporter AS to_reporter,
	   position(convert_to('reporter@', 'UTF8') IN recipient) = 0 AS recipient_sealed,
	   position(convert_to('来週', 'UTF8') IN body) = 0 AS body_sealed
FROM machi.outbox WHERE outbox_id > :before ORDER BY outbox_id;
-- what the mailer receives
SET ROLE machi_mailer;
SELECT recipient, subject, body LIKE '%来週、段差を解消します。%' AS has_response,
	   body LIKE '%/v1/reports/' || :rid || '%' AS has_link
FROM machi.outbox_claim('regression', 10) ORDER BY id;
RESET ROLE;

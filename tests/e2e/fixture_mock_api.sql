-- fixture_mock_api.sql - TEST FIXTURE ONLY: a stand-in for the machi extension.
--
-- It provides the exact signatures the gateway and the mailer call
-- (api.handle, api.health, machi.outbox_claim, machi.outbox_ack) with
-- trivial behaviour so the end-to-end tests can run before the real
-- extension exists.  Point MACHI_E2E_PGHOST/MACHI_E2E_DB at a database with
-- the real extension to test against it instead.

CREATE ROLE machi_gateway LOGIN;
CREATE ROLE machi_mailer LOGIN;

CREATE SCHEMA api;
CREATE SCHEMA machi;

-- api.handle: echoes the request as JSON, plus a few special routes.
CREATE FUNCTION api.handle(p_method text, p_path text, p_query text, p_headers jsonb, p_body bytea,
                           p_client_addr inet, p_request_id text)
RETURNS TABLE (status int, headers jsonb, body bytea)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    secs float8;
BEGIN
    IF p_path = '/v1/sleep' THEN
        secs := coalesce(nullif(substring(p_query FROM 's=([0-9.]+)'), '')::float8, 2);
        PERFORM pg_sleep(least(secs, 30));
        RETURN QUERY SELECT 200, '{"content-type": "application/json"}'::jsonb,
            convert_to(json_build_object('slept', secs)::text, 'UTF8');
    ELSIF p_path = '/v1/missing' THEN
        RETURN QUERY SELECT 404, '{"content-type": "application/json"}'::jsonb,
            convert_to('{"error":"not_found"}', 'UTF8');
    ELSIF p_path = '/v1/too-large' THEN
        RETURN QUERY SELECT 413, '{"content-type": "application/json"}'::jsonb,
            convert_to('{"error":"too_large"}', 'UTF8');
    ELSIF p_path = '/v1/fail' THEN
        RAISE EXCEPTION 'mock failure';
    ELSIF p_path = '/v1/evil-headers' THEN
        RETURN QUERY SELECT 200,
            jsonb_build_object('content-type', 'text/plain', 'x-evil', E'a\r\nset-cookie: x=1',
                               'x-good', 'fine', 'content-length', '99999',
                               'x-list', jsonb_build_array('one', E'two\nthree', 'four')),
            convert_to('evil', 'UTF8');
    ELSIF p_path = '/v1/notice' THEN
        RAISE NOTICE 'notice with request data %', p_query;
        RETURN QUERY SELECT 200, '{"content-type": "text/plain"}'::jsonb, convert_to('noticed', 'UTF8');
    ELSIF p_path = '/v1/cookies' THEN
        RETURN QUERY SELECT 200,
            jsonb_build_object('content-type', 'text/plain',
                               'set-cookie', jsonb_build_array('a=1; Secure; HttpOnly', 'b=2; Secure; HttpOnly')),
            convert_to('cookies', 'UTF8');
    ELSIF p_path = '/v1/cached' THEN
        RETURN QUERY SELECT 200, '{"content-type": "text/plain", "cache-control": "public, max-age=60"}'::jsonb,
            convert_to('cached', 'UTF8');
    ELSIF p_path = '/v1/page' THEN
        RETURN QUERY SELECT 200, '{"content-type": "text/html; charset=utf-8"}'::jsonb,
            convert_to('<!doctype html><title>x</title>', 'UTF8');
    ELSE
        RETURN QUERY SELECT 200,
            jsonb_build_object('content-type', 'application/json', 'x-mock', 'echo'),
            convert_to(json_build_object(
                'method', p_method, 'path', p_path, 'query', p_query, 'headers', p_headers,
                'body_hex', encode(p_body, 'hex'), 'client_addr', host(p_client_addr),
                'request_id', p_request_id)::text, 'UTF8');
    END IF;
END
$$;

CREATE FUNCTION api.health() RETURNS jsonb
LANGUAGE sql STABLE
AS $$ SELECT '{"status":"ok","version":"0.1.0-mock"}'::jsonb $$;

REVOKE ALL ON FUNCTION api.handle(text, text, text, jsonb, bytea, inet, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION api.health() FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO machi_gateway;
GRANT EXECUTE ON FUNCTION api.handle(text, text, text, jsonb, bytea, inet, text) TO machi_gateway;
GRANT EXECUTE ON FUNCTION api.health() TO machi_gateway;

-- The outbox: 'queued' -> 'sending' (claimed) -> 'sent', or back to
-- 'queued' with a later next_attempt on failure.  Rows left 'sending' by a
-- crashed mailer stay there (at-most-once delivery).
CREATE TABLE machi.outbox (
    id bigserial PRIMARY KEY,
    recipient text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    message_id text NOT NULL,
    state text NOT NULL DEFAULT 'queued',
    attempts int NOT NULL DEFAULT 0,
    next_attempt timestamptz NOT NULL DEFAULT now(),
    claimed_by text,
    last_error text
);

CREATE FUNCTION machi.outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('machi_outbox', NEW.id::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON machi.outbox
    FOR EACH ROW EXECUTE FUNCTION machi.outbox_notify();

CREATE FUNCTION machi.outbox_claim(worker text, max_count int)
RETURNS TABLE (id bigint, recipient text, subject text, body text, message_id text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE machi.outbox o
       SET state = 'sending', claimed_by = worker, attempts = o.attempts + 1
     WHERE o.id IN (SELECT q.id FROM machi.outbox q
                     WHERE q.state = 'queued' AND q.next_attempt <= now()
                     ORDER BY q.id LIMIT max_count
                     FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.recipient, o.subject, o.body, o.message_id
$$;

CREATE FUNCTION machi.outbox_ack(id bigint, sent boolean, error text)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE machi.outbox o
       SET state = CASE WHEN sent THEN 'sent' ELSE 'queued' END,
           next_attempt = CASE WHEN sent THEN o.next_attempt
                               ELSE now() + least(interval '1 second' * power(2, o.attempts), interval '1 hour') END,
           last_error = error
     WHERE o.id = outbox_ack.id AND o.state = 'sending'
$$;

REVOKE ALL ON FUNCTION machi.outbox_claim(text, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION machi.outbox_ack(bigint, boolean, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA machi TO machi_mailer;
GRANT EXECUTE ON FUNCTION machi.outbox_claim(text, int) TO machi_mailer;
GRANT EXECUTE ON FUNCTION machi.outbox_ack(bigint, boolean, text) TO machi_mailer;

/*
 * dbpool.c - pipelined libpq connections driven by the h2o event loop
 *
 * Every event loop owns a few PostgreSQL connections in non-blocking
 * pipeline mode.  Each request is one PQsendQueryPrepared followed by its
 * own PQpipelineSync, so an error in one statement never aborts another;
 * results come back in order and are matched to the FIFO of in-flight
 * requests of that connection.  libpq's socket is watched through an h2o
 * socket made from a dup() of PQsocket() with H2O_SOCKET_FLAG_DONT_READ, so
 * h2o only reports readiness and libpq does all reading and writing.
 *
 * When the client of a request goes away, the request is abandoned: its
 * callback is cleared and the result is dropped on arrival.  Lost
 * connections fail their in-flight requests (503) and are re-established
 * with a bounded exponential backoff; while none is ready, gw_db_submit
 * refuses at once so that clients get a quick 503.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "server.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

typedef enum en_gw_dbconn_state_t { CONN_DOWN, CONN_CONNECTING, CONN_PREPARING, CONN_READY } gw_dbconn_state_t;

/*
 * One libpq connection.  inflight holds the gw_dbreq_t sent on it, oldest
 * first; every entry was followed by its own sync.
 */
typedef struct st_gw_dbconn_t {
    gw_db_t *db;
    unsigned index;
    PGconn *pg;
    h2o_socket_t *sock;
    gw_dbconn_state_t state;
    h2o_linklist_t inflight;
    size_t num_inflight;
    unsigned prepares_left;
    int write_pending;
    int broken;
    int failures;
    unsigned host_index;
    unsigned tried_in_cycle;
    uint64_t retry_at;
    uint64_t backoff;
    uint64_t started_at;
} gw_dbconn_t;

/*
 * The pool of one event loop.  pending holds requests accepted while every
 * ready connection was at --pipeline-depth, at most --max-queued of them.
 */
struct st_gw_db_t {
    h2o_evloop_t *loop;
    const gw_config_t *cfg;
    gw_dbconn_t *conns;
    unsigned num_conns;
    h2o_linklist_t pending;
    size_t num_pending;
    h2o_timeout_t req_timeout;
    gw_conninfo_t ci;
};

static const char SQL_HANDLE[] = "SELECT status::int4, headers::text, body FROM api.handle($1::text, $2::text, $3::text, "
                                 "$4::jsonb, $5::bytea, $6::inet, $7::text)";
static const char SQL_HEALTH[] = "SELECT api.health()::text";

static void on_readable(h2o_socket_t *sock, const char *err);
static void on_writable(h2o_socket_t *sock, const char *err);
static void dispatch_pending(gw_db_t *db);
static void on_request_timeout(h2o_timeout_entry_t *entry);

/*
 * complete delivers the outcome of a finished request to its owner (if
 * it still has one) and frees it.  The request must be unlinked from any
 * list already.
 */
static void complete(gw_dbreq_t *r, gw_db_outcome_t outcome)
{
    if (h2o_timeout_is_linked(&r->timeout))
        h2o_timeout_unlink(&r->timeout);
    if (r->cb != NULL)
        r->cb(r, outcome, outcome == GW_DB_OK ? r->_res : NULL);
    if (r->_res != NULL)
        PQclear(r->_res);
    free(r);
}

/*
 * count_ready returns the number of connections able to take requests.
 */
static unsigned count_ready(gw_db_t *db)
{
    unsigned i, n = 0;

    for (i = 0; i != db->num_conns; ++i)
        if (db->conns[i].state == CONN_READY)
            ++n;
    return n;
}

/*
 * fail_pending answers every queued request with GW_DB_UNAVAILABLE; used
 * when the last ready connection is lost so nobody waits for a database
 * that is not there.
 */
static void fail_pending(gw_db_t *db)
{
    while (!h2o_linklist_is_empty(&db->pending)) {
        gw_dbreq_t *r = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, link, db->pending.next);
        h2o_linklist_unlink(&r->link);
        --db->num_pending;
        complete(r, GW_DB_UNAVAILABLE);
    }
}

/*
 * conn_close releases the libpq connection and our duplicate of its
 * socket, without touching the request lists.
 */
static void conn_close(gw_dbconn_t *c)
{
    if (c->sock != NULL) {
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    c->write_pending = 0;
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

/*
 * conn_fail takes a connection down after an error: its in-flight
 * requests get GW_DB_UNAVAILABLE, a reconnect is scheduled after the
 * backoff, and if no connection is left, queued requests fail too.
 */
static void conn_fail(gw_dbconn_t *c, const char *why)
{
    gw_db_t *db = c->db;
    h2o_linklist_t victims;
    char msg[512];
    size_t len;

    snprintf(msg, sizeof(msg), "%s", why != NULL && *why != '\0' ? why : "unknown error");
    len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        msg[--len] = '\0';
    for (len = 0; msg[len] != '\0'; ++len)
        if (msg[len] == '\n' || msg[len] == '\t')
            msg[len] = ' ';
    if (c->state == CONN_READY || c->failures == 0)
        gw_log("warning", "database connection %u: %s", c->index, msg);

    ++c->failures;
    h2o_linklist_init_anchor(&victims);
    h2o_linklist_insert_list(&victims, &c->inflight);
    c->num_inflight = 0;
    c->state = CONN_DOWN;
    c->broken = 0;
    conn_close(c);
    /* try the next host at once; back off only after a full round */
    c->host_index = (c->host_index + 1) % db->ci.num_hosts;
    if (++c->tried_in_cycle < db->ci.num_hosts) {
        c->retry_at = h2o_now(db->loop);
    } else {
        c->tried_in_cycle = 0;
        c->retry_at = h2o_now(db->loop) + c->backoff;
        c->backoff = c->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff * 2;
    }

    while (!h2o_linklist_is_empty(&victims)) {
        gw_dbreq_t *r = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, link, victims.next);
        h2o_linklist_unlink(&r->link);
        complete(r, GW_DB_UNAVAILABLE);
    }
    if (count_ready(db) == 0)
        fail_pending(db);
}

/*
 * conn_flush pushes libpq's output buffer; when the kernel buffer is full
 * it asks h2o for a writable notification.  Marks the connection broken
 * on error; the caller checks c->broken.
 */
static void conn_flush(gw_dbconn_t *c)
{
    int r;

    if (c->broken || c->pg == NULL)
        return;
    if ((r = PQflush(c->pg)) < 0) {
        c->broken = 1;
    } else if (r == 1 && !c->write_pending) {
        c->write_pending = 1;
        h2o_socket_notify_write(c->sock, on_writable);
    }
}

/*
 * conn_send queues one request into the pipeline (statement + sync).  The
 * request joins the in-flight FIFO even on failure, so conn_fail answers
 * it; the caller must flush and check c->broken afterwards.
 */
static void conn_send(gw_dbconn_t *c, gw_dbreq_t *r)
{
    int ok;

    r->_in_flight = 1;
    h2o_linklist_insert(&c->inflight, &r->link);
    ++c->num_inflight;
    if (c->broken)
        return;
    if (r->_internal)
        ok = PQsendPrepare(c->pg, r->stmt, r->values[0], 0, NULL);
    else
        ok = PQsendQueryPrepared(c->pg, r->stmt, r->nparams, r->values, r->lengths, r->formats, 1);
    if (!ok || !PQpipelineSync(c->pg))
        c->broken = 1;
}

/*
 * watch_socket (re)creates our h2o socket for libpq's current socket and
 * waits for the direction libpq asked for.  During connection set-up
 * libpq may move to another host (multi-host conninfo), so the socket is
 * re-made at every step rather than trusting a file descriptor number.
 */
static int watch_socket(gw_dbconn_t *c, PostgresPollingStatusType dir)
{
    int fd;

    if (c->sock != NULL) {
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    c->write_pending = 0;
    if (PQsocket(c->pg) < 0 || (fd = dup(PQsocket(c->pg))) < 0)
        return -1;
    c->sock = h2o_evloop_socket_create(c->db->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    if (dir == PGRES_POLLING_WRITING) {
        c->write_pending = 1;
        h2o_socket_notify_write(c->sock, on_writable);
    } else {
        h2o_socket_read_start(c->sock, on_readable);
    }
    return 0;
}

/*
 * new_internal makes a PREPARE request used while a connection is set up.
 */
static gw_dbreq_t *new_internal(const char *name, const char *sql)
{
    gw_dbreq_t *r = gw_db_new_request();

    r->stmt = name;
    r->values[0] = sql;
    r->_internal = 1;
    return r;
}

/*
 * conn_established switches a fresh connection to non-blocking pipeline
 * mode and prepares the statements; it becomes ready once both PREPAREs
 * succeeded (see process_results).
 */
static void conn_established(gw_dbconn_t *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    if (watch_socket(c, PGRES_POLLING_READING) != 0) {
        conn_fail(c, "cannot watch the database socket");
        return;
    }
    c->state = CONN_PREPARING;
    c->prepares_left = 2;
    conn_send(c, new_internal(GW_STMT_HANDLE, SQL_HANDLE));
    conn_send(c, new_internal(GW_STMT_HEALTH, SQL_HEALTH));
    conn_flush(c);
    if (c->broken)
        conn_fail(c, PQerrorMessage(c->pg));
}

/*
 * connect_step advances PQconnectPoll after the socket became ready.
 */
static void connect_step(gw_dbconn_t *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);

    switch (st) {
    case PGRES_POLLING_OK:
        conn_established(c);
        break;
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (watch_socket(c, st) != 0)
            conn_fail(c, "cannot watch the database socket");
        break;
    default:
        conn_fail(c, PQerrorMessage(c->pg));
        break;
    }
}

/*
 * on_notice drops NOTICE/WARNING messages of the server: libpq would print
 * them to standard error, and they may carry request data.
 */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/*
 * conn_start begins a non-blocking connection attempt.  The multi-host
 * list and target_session_attrs are handled inside libpq.
 */
static void conn_start(gw_dbconn_t *c)
{
    gw_db_t *db = c->db;

    c->started_at = h2o_now(db->loop);
    gw_conninfo_select(&db->ci, c->host_index);
    c->pg = PQconnectStartParams(db->ci.keywords, db->ci.values, 0);
    if (c->pg == NULL) {
        conn_fail(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, NULL);
    c->state = CONN_CONNECTING;
    if (watch_socket(c, PGRES_POLLING_WRITING) != 0)
        conn_fail(c, "cannot watch the database socket");
}

/*
 * process_results collects every complete result libpq has buffered and
 * completes the matching requests in order.  A request is complete at its
 * PGRES_PIPELINE_SYNC; the statement's own result is kept until then.
 */
static void process_results(gw_dbconn_t *c)
{
    int nulls = 0;

    while (!h2o_linklist_is_empty(&c->inflight) && !c->broken) {
        gw_dbreq_t *head = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, link, c->inflight.next);
        PGresult *res;
        ExecStatusType st;

        if (PQisBusy(c->pg))
            break;
        if ((res = PQgetResult(c->pg)) == NULL) {
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        st = PQresultStatus(res);
        if (st != PGRES_PIPELINE_SYNC) {
            if (head->_res == NULL) {
                head->_res = res;
                head->_ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
            } else {
                PQclear(res);
            }
            continue;
        }
        PQclear(res);
        h2o_linklist_unlink(&head->link);
        --c->num_inflight;
        if (!head->_internal) {
            complete(head, GW_DB_OK);
            continue;
        }
        if (!head->_ok) {
            gw_log("error", "database connection %u: cannot prepare %s: %s", c->index, head->stmt,
                   head->_res != NULL ? PQresultErrorMessage(head->_res) : "no result");
            c->broken = 1;
            c->failures = 1; /* already logged */
        } else if (--c->prepares_left == 0) {
            c->state = CONN_READY;
            c->backoff = BACKOFF_MIN_MS;
            c->tried_in_cycle = 0;
            if (c->failures != 0)
                gw_log("info", "database connection %u: ready (%s:%s)", c->index, PQhost(c->pg), PQport(c->pg));
            c->failures = 0;
        }
        complete(head, GW_DB_OK);
    }
}

/*
 * on_readable is h2o's notification that libpq's socket has input.
 */
static void on_readable(h2o_socket_t *sock, const char *err)
{
    gw_dbconn_t *c = sock->data;
    PGnotify *n;

    if (c->state == CONN_CONNECTING) {
        connect_step(c);
        return;
    }
    if (err != NULL || !PQconsumeInput(c->pg)) {
        conn_fail(c, err != NULL ? err : PQerrorMessage(c->pg));
        return;
    }
    process_results(c);
    while ((n = PQnotifies(c->pg)) != NULL)
        PQfreemem(n);
    if (!c->broken && PQstatus(c->pg) == CONNECTION_BAD)
        c->broken = 1;
    conn_flush(c);
    if (c->broken) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    dispatch_pending(c->db);
}

/*
 * on_writable is h2o's notification that libpq's socket accepts output:
 * a connection step or the rest of a partially flushed pipeline.
 */
static void on_writable(h2o_socket_t *sock, const char *err)
{
    gw_dbconn_t *c = sock->data;

    c->write_pending = 0;
    if (err != NULL) {
        conn_fail(c, err);
        return;
    }
    if (c->state == CONN_CONNECTING) {
        connect_step(c);
        return;
    }
    conn_flush(c);
    if (c->broken)
        conn_fail(c, PQerrorMessage(c->pg));
}

/*
 * pick_conn returns the least loaded ready connection below the pipeline
 * depth, or NULL.
 */
static gw_dbconn_t *pick_conn(gw_db_t *db)
{
    gw_dbconn_t *best = NULL;
    unsigned i;

    for (i = 0; i != db->num_conns; ++i) {
        gw_dbconn_t *c = db->conns + i;
        if (c->state == CONN_READY && c->num_inflight < db->cfg->pipeline_depth &&
            (best == NULL || c->num_inflight < best->num_inflight))
            best = c;
    }
    return best;
}

/*
 * send_now pipelines r on c and handles a broken connection.
 */
static void send_now(gw_dbconn_t *c, gw_dbreq_t *r)
{
    conn_send(c, r);
    conn_flush(c);
    if (c->broken)
        conn_fail(c, PQerrorMessage(c->pg));
}

/*
 * dispatch_pending moves queued requests onto connections with room.
 */
static void dispatch_pending(gw_db_t *db)
{
    gw_dbconn_t *c;

    while (!h2o_linklist_is_empty(&db->pending) && (c = pick_conn(db)) != NULL) {
        gw_dbreq_t *r = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, link, db->pending.next);
        h2o_linklist_unlink(&r->link);
        --db->num_pending;
        send_now(c, r);
    }
}

/*
 * on_request_timeout answers a request that waited longer than
 * --request-timeout.  A queued one is dropped; one already sent stays in
 * the FIFO without an owner so that its result can be matched and freed.
 */
static void on_request_timeout(h2o_timeout_entry_t *entry)
{
    gw_dbreq_t *r = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, timeout, entry);
    gw_dbreq_cb cb = r->cb;

    if (!r->_in_flight) {
        h2o_linklist_unlink(&r->link);
        --r->_db->num_pending;
        complete(r, GW_DB_TIMEOUT);
        return;
    }
    r->cb = NULL;
    if (cb != NULL)
        cb(r, GW_DB_TIMEOUT, NULL);
}

/*
 * gw_db_new_request allocates a zeroed request; the caller fills stmt,
 * parameters, cb and data, then hands it to gw_db_submit.  It is heap
 * memory, not from req->pool, because a request whose client went away
 * stays in the pipeline until its result has been read.
 */
gw_dbreq_t *gw_db_new_request(void)
{
    gw_dbreq_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        h2o_fatal("out of memory");
    r->timeout.cb = on_request_timeout;
    return r;
}

/*
 * gw_db_submit runs r on the pool.  Returns 0 when accepted (cb will be
 * called exactly once, possibly before this returns, unless abandoned),
 * -1 when no connection is ready, -2 when the queue is full; on a
 * non-zero return the caller still owns r and must free it.
 */
int gw_db_submit(gw_db_t *db, gw_dbreq_t *r)
{
    gw_dbconn_t *c;

    r->_db = db;
    if (count_ready(db) == 0)
        return -1;
    if ((c = pick_conn(db)) == NULL) {
        if (db->num_pending >= db->cfg->max_queued)
            return -2;
        h2o_linklist_insert(&db->pending, &r->link);
        ++db->num_pending;
        h2o_timeout_link(db->loop, &db->req_timeout, &r->timeout);
        return 0;
    }
    h2o_timeout_link(db->loop, &db->req_timeout, &r->timeout);
    send_now(c, r);
    return 0;
}

/*
 * gw_db_abandon is called when the owner of r disappears (client
 * disconnect): a queued request is dropped now, a sent one when its
 * result arrives.  cb is not called afterwards.
 */
void gw_db_abandon(gw_db_t *db, gw_dbreq_t *r)
{
    r->cb = NULL;
    r->data = NULL;
    if (h2o_timeout_is_linked(&r->timeout))
        h2o_timeout_unlink(&r->timeout);
    if (!r->_in_flight) {
        h2o_linklist_unlink(&r->link);
        --db->num_pending;
        free(r);
    }
}

/*
 * gw_db_tick runs from the loop's periodic timer: starts due reconnects
 * and gives up on connection attempts that take too long.
 */
void gw_db_tick(gw_db_t *db)
{
    uint64_t now = h2o_now(db->loop);
    unsigned i;

    for (i = 0; i != db->num_conns; ++i) {
        gw_dbconn_t *c = db->conns + i;
        if (c->state == CONN_DOWN && now >= c->retry_at)
            conn_start(c);
        else if ((c->state == CONN_CONNECTING || c->state == CONN_PREPARING) && now - c->started_at > db->ci.connect_timeout_ms)
            conn_fail(c, "connection attempt timed out");
    }
}

/*
 * gw_db_stats reports ready and total connections and the number of
 * requests queued or in flight (for /v1/health and draining).
 */
void gw_db_stats(gw_db_t *db, unsigned *ready, unsigned *total, size_t *busy)
{
    unsigned i;
    size_t n = db->num_pending;

    for (i = 0; i != db->num_conns; ++i)
        n += db->conns[i].num_inflight;
    *ready = count_ready(db);
    *total = db->num_conns;
    *busy = n;
}

/*
 * gw_db_create builds the pool of one loop and starts connecting.  Each
 * loop parses the conninfo itself (see conninfo.c) so that nothing is
 * shared between threads.
 */
gw_db_t *gw_db_create(h2o_evloop_t *loop, const gw_config_t *cfg)
{
    gw_db_t *db = calloc(1, sizeof(*db));
    char err[256];
    unsigned i;

    if (db == NULL)
        h2o_fatal("out of memory");
    db->loop = loop;
    db->cfg = cfg;
    h2o_linklist_init_anchor(&db->pending);
    h2o_timeout_init(loop, &db->req_timeout, (uint64_t)cfg->request_timeout * 1000);
    if (gw_conninfo_parse(&db->ci, cfg->conninfo, cfg->request_timeout * 1000, err, sizeof(err)) != 0) {
        gw_log("fatal", "%s", err); /* cannot happen: main checked it */
        abort();
    }
    db->num_conns = cfg->db_connections;
    db->conns = calloc(db->num_conns, sizeof(*db->conns));
    if (db->conns == NULL)
        h2o_fatal("out of memory");
    for (i = 0; i != db->num_conns; ++i) {
        gw_dbconn_t *c = db->conns + i;
        c->db = db;
        c->index = i;
        c->backoff = BACKOFF_MIN_MS;
        c->host_index = i % db->ci.num_hosts; /* spread first attempts over the hosts */
        h2o_linklist_init_anchor(&c->inflight);
        conn_start(c);
    }
    return db;
}

/*
 * gw_db_destroy closes every connection; remaining requests are answered
 * as unavailable.  Called by the loop's thread at exit.
 */
void gw_db_destroy(gw_db_t *db)
{
    unsigned i;

    for (i = 0; i != db->num_conns; ++i) {
        gw_dbconn_t *c = db->conns + i;
        while (!h2o_linklist_is_empty(&c->inflight)) {
            gw_dbreq_t *r = H2O_STRUCT_FROM_MEMBER(gw_dbreq_t, link, c->inflight.next);
            h2o_linklist_unlink(&r->link);
            complete(r, GW_DB_UNAVAILABLE);
        }
        conn_close(c);
    }
    fail_pending(db);
    gw_conninfo_free(&db->ci);
    free(db->conns);
    free(db);
}

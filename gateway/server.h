/*
 * server.h - declarations shared by the h2o-facing parts of machi-gateway
 *
 * One gw_loop_t exists per thread: it embeds the h2o context (first, so a
 * request's conn->ctx leads back to it), owns the listeners of that thread
 * and a gw_db_t pool of pipelined libpq connections.  Nothing here is
 * shared between threads except the read-only configuration.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <pthread.h>
#include <h2o.h>
#include <libpq-fe.h>
#include "gw.h"

/* ---- dbpool.c ---------------------------------------------------------- */

typedef struct st_gw_db_t gw_db_t;
typedef struct st_gw_dbreq_t gw_dbreq_t;

typedef enum en_gw_db_outcome_t {
    GW_DB_OK,          /* res holds the statement's result (maybe an SQL error) */
    GW_DB_UNAVAILABLE, /* the connection was lost before an answer arrived */
    GW_DB_TIMEOUT      /* --request-timeout expired */
} gw_db_outcome_t;

typedef void (*gw_dbreq_cb)(gw_dbreq_t *dbreq, gw_db_outcome_t outcome, PGresult *res);

#define GW_DB_MAX_PARAMS 7

/*
 * One statement to run through the pool.  Allocated by gw_db_new_request;
 * once gw_db_submit accepted it the pool owns and frees it, after calling
 * cb exactly once (or never, if gw_db_abandon was called first).  The
 * parameter values must stay valid until cb runs or the request is
 * abandoned.
 */
struct st_gw_dbreq_t {
    h2o_linklist_t link;
    h2o_timeout_entry_t timeout;
    const char *stmt;
    int nparams;
    const char *values[GW_DB_MAX_PARAMS];
    int lengths[GW_DB_MAX_PARAMS];
    int formats[GW_DB_MAX_PARAMS];
    gw_dbreq_cb cb;
    void *data;
    /* private to dbpool.c */
    PGresult *_res;
    unsigned _in_flight : 1;
    unsigned _internal : 1;
    unsigned _ok : 1;
    gw_db_t *_db;
};

#define GW_STMT_HANDLE "gw_handle"
#define GW_STMT_HEALTH "gw_health"

gw_db_t *gw_db_create(h2o_evloop_t *loop, const gw_config_t *cfg);
void gw_db_destroy(gw_db_t *db);
gw_dbreq_t *gw_db_new_request(void);
int gw_db_submit(gw_db_t *db, gw_dbreq_t *dbreq);
void gw_db_abandon(gw_db_t *db, gw_dbreq_t *dbreq);
void gw_db_tick(gw_db_t *db);
void gw_db_stats(gw_db_t *db, unsigned *ready, unsigned *total, size_t *busy);

/* ---- server loop (main.c) ---------------------------------------------- */

/* random bytes drawn from OpenSSL at once for the request ids of one loop */
#define GW_RAND_POOL_SIZE 1024
/* access log lines a loop collects before one write(); PIPE_BUF, so that a
 * write to a pipe is atomic and never interleaves with another loop's */
#define GW_ACCESSLOG_BUF_SIZE 4096

typedef struct st_gw_loop_t {
    h2o_context_t ctx; /* must stay first: req->conn->ctx points here */
    const gw_config_t *cfg;
    h2o_globalconf_t *globalconf;
    gw_db_t *db;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listeners[GW_MAX_LISTEN];
    size_t num_listeners;
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick_entry;
    size_t active_requests;
    int accept_paused;
    int stopping;
    uint64_t drain_deadline;
    int done;
    volatile sig_atomic_t *stop;
    pthread_t tid;
    int fds[GW_MAX_LISTEN];
    /*
     * Request ids are taken from this buffer of CSPRNG output, refilled
     * by one RAND_bytes call when used up: a call per request costs a
     * getpid() system call (OpenSSL's fork check) and the locks of the
     * shared random generator.  Only the loop's thread touches it.
     */
    unsigned char rand_pool[GW_RAND_POOL_SIZE];
    size_t rand_left;
    /*
     * Access log lines of the requests finished in the current turn of the
     * loop; written with one write() to accesslog_fd at the end of the
     * turn (a zero timeout), or earlier when the next line does not fit.
     */
    char accesslog[GW_ACCESSLOG_BUF_SIZE];
    size_t accesslog_len;
    int accesslog_fd;
    h2o_timeout_entry_t accesslog_flush;
} gw_loop_t;

/*
 * gw_loop_from_req returns the per-thread loop owning req.
 */
static inline gw_loop_t *gw_loop_from_req(h2o_req_t *req)
{
    return (gw_loop_t *)req->conn->ctx;
}

/* ---- handler.c --------------------------------------------------------- */

void gw_handler_register(h2o_hostconf_t *hostconf, const gw_config_t *cfg, int logfd);
void gw_handler_register_common(h2o_pathconf_t *pathconf, const gw_config_t *cfg, int logfd);
int gw_handler_open_log(const gw_config_t *cfg);
void gw_handler_track(h2o_req_t *req);
void gw_handler_init_loop(gw_loop_t *loop);
void gw_handler_flush_log(gw_loop_t *loop);

/* ---- static.c ---------------------------------------------------------- */

int gw_static_register(h2o_hostconf_t *hostconf, const gw_config_t *cfg, int logfd);

/* ---- tls.c ------------------------------------------------------------- */

SSL_CTX *gw_tls_create(const gw_config_t *cfg, char *err, size_t errlen);

/* ---- logging ----------------------------------------------------------- */

void gw_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

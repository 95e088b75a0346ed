/*
 * gw.h - shared declarations of machi-gateway
 *
 * machi-gateway is the HTTPS front end of machi: it terminates TLS, enforces
 * transport limits, and forwards every API request as one call of
 * api.handle() over a small pool of pipelined libpq connections per event
 * loop.  This header declares the configuration, the per-thread context and
 * the entry points of each subsystem (one C file each).
 */
#ifndef GW_H
#define GW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <libpq-fe.h>

#define GW_VERSION "0.1.0"
#define GW_MAX_LISTEN 16
#define GW_REQUEST_ID_LEN 32

/* ---- config.c ---------------------------------------------------------- */

typedef struct st_gw_listen_t {
    char host[256];
    char port[16];
} gw_listen_t;

/*
 * The whole runtime configuration.  Filled once by gw_config_* before any
 * thread starts and read-only afterwards, so threads share it without locks.
 */
typedef struct st_gw_config_t {
    gw_listen_t listen[GW_MAX_LISTEN];
    size_t num_listen;
    char *tls_cert;
    char *tls_key;
    int plain_http;
    char *conninfo;
    unsigned threads;
    unsigned db_connections;
    unsigned pipeline_depth;
    size_t body_limit;
    unsigned max_headers;
    size_t max_header_bytes;
    unsigned request_timeout;
    unsigned idle_timeout;
    unsigned max_queued;
    unsigned retry_after;
    unsigned drain_timeout;
    char *static_dir;
    char *access_log;
    char *user;
    int http2;
    int trust_proxy;
} gw_config_t;

void gw_config_init(gw_config_t *cfg);
void gw_config_free(gw_config_t *cfg);
int gw_config_set(gw_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);
int gw_config_load_file(gw_config_t *cfg, const char *path, char *err, size_t errlen);
int gw_config_parse_args(gw_config_t *cfg, int argc, char **argv, int *want_help, char *err, size_t errlen);
int gw_config_check(gw_config_t *cfg, char *err, size_t errlen);
void gw_config_usage(FILE *fp, const char *argv0);
int gw_config_parse_size(const char *s, size_t *out);
int gw_config_parse_listen(const char *s, gw_listen_t *out);

/* ---- validate.c -------------------------------------------------------- */

int gw_validate_utf8(const char *s, size_t len);
int gw_validate_path(const char *s, size_t len);
int gw_validate_query(const char *s, size_t len);
int gw_validate_header_value(const char *s, size_t len);
int gw_validate_header_name(const char *s, size_t len);
int gw_validate_ip(const char *s, size_t len, char *out, size_t outlen);

/* ---- json.c ------------------------------------------------------------ */

typedef struct st_gw_buf_t {
    char *base;
    size_t len;
    size_t cap;
} gw_buf_t;

int gw_buf_reserve(gw_buf_t *buf, size_t extra);
int gw_buf_append(gw_buf_t *buf, const char *s, size_t len);
void gw_buf_free(gw_buf_t *buf);
int gw_json_escape(gw_buf_t *buf, const char *s, size_t len);

typedef int (*gw_json_pair_cb)(void *ctx, const char *name, size_t namelen, const char *value, size_t valuelen);
int gw_json_parse_object(const char *s, size_t len, gw_json_pair_cb cb, void *ctx);

/* ---- conninfo.c -------------------------------------------------------- */

/*
 * The parsed connection string of the gateway: keyword/value arrays for
 * PQconnectStartParams with one slot each for host, hostaddr and port,
 * which gw_conninfo_select fills with the target of an attempt.
 */
typedef struct st_gw_conninfo_t {
    const char **keywords;
    const char **values;
    size_t host_slot, hostaddr_slot, port_slot;
    char **hosts, **hostaddrs, **ports;
    unsigned num_hosts;
    unsigned connect_timeout_ms;
    char options[512];
    PQconninfoOption *parsed;
} gw_conninfo_t;

int gw_conninfo_parse(gw_conninfo_t *ci, const char *conninfo, unsigned statement_timeout_ms, char *err, size_t errlen);
void gw_conninfo_select(gw_conninfo_t *ci, unsigned index);
void gw_conninfo_free(gw_conninfo_t *ci);

/* ---- accesslog.c ------------------------------------------------------- */

size_t gw_accesslog_redact_path(const char *path, size_t len, char *out, size_t outlen);
size_t gw_accesslog_format(char *out, size_t outlen, const struct timeval *at, const char *client, const char *method,
                           size_t methodlen, const char *path, size_t pathlen, int status, uint64_t bytes, double ms,
                           const char *request_id);

#endif

/*
 * config.c - configuration of machi-gateway
 *
 * Options come from an optional key=value file (--config FILE) and from
 * command line flags of the same names (--key=value or --key value); flags
 * win over the file.  Everything is validated here, before any socket or
 * thread exists, so the rest of the gateway can treat gw_config_t as
 * trusted and immutable.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gw.h"

/*
 * gw_config_init fills cfg with the defaults documented in --help.  Called
 * once before the file and flags are applied; cfg must be writable.
 */
void gw_config_init(gw_config_t *cfg)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(cfg, 0, sizeof(*cfg));
    cfg->conninfo = strdup("dbname=machi user=machi_gateway");
    cfg->threads = ncpu > 0 ? (unsigned)ncpu : 1;
    cfg->db_connections = 4;
    cfg->pipeline_depth = 16;
    cfg->body_limit = 12 * 1024 * 1024;
    cfg->max_headers = 64;
    cfg->max_header_bytes = 16384;
    cfg->request_timeout = 30;
    cfg->idle_timeout = 30;
    cfg->max_queued = 256;
    cfg->retry_after = 2;
    cfg->drain_timeout = 10;
    cfg->access_log = strdup("-");
}

/*
 * gw_config_free releases the strings held by cfg.  The configuration of
 * the running gateway lives until exit; this is for tests and tools.
 */
void gw_config_free(gw_config_t *cfg)
{
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->conninfo);
    free(cfg->static_dir);
    free(cfg->access_log);
    free(cfg->user);
    memset(cfg, 0, sizeof(*cfg));
}

/*
 * gw_config_parse_size parses a byte count with an optional K/M/G suffix
 * (binary multiples).  Returns 0 and stores into *out on success, -1 on a
 * malformed or overflowing value.
 */
int gw_config_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v, mul = 1;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mul = 1024ULL;
        ++end;
        break;
    case 'm':
    case 'M':
        mul = 1024ULL * 1024;
        ++end;
        break;
    case 'g':
    case 'G':
        mul = 1024ULL * 1024 * 1024;
        ++end;
        break;
    default:
        return -1;
    }
    if (*end == 'i' || *end == 'B')
        ++end;
    if (*end == 'B')
        ++end;
    if (*end != '\0' || v > SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/*
 * parse_uint parses a decimal number within [min, max].  Returns 0 on
 * success; a separate helper keeps every numeric option bounded.
 */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/*
 * parse_bool accepts the usual spellings of a boolean in the config file.
 * An empty value (a bare flag) means true.
 */
static int parse_bool(const char *s, int *out)
{
    if (s == NULL || *s == '\0' || strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcasecmp(s, "on") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

/*
 * gw_config_parse_listen splits "host:port", "[v6addr]:port" or ":port"
 * (all IPv4 addresses) into out.  Returns -1 when the port is missing or
 * the parts do not fit.
 */
int gw_config_parse_listen(const char *s, gw_listen_t *out)
{
    const char *colon, *host = s;
    size_t hostlen;
    unsigned port;

    memset(out, 0, sizeof(*out));
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        host = s + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            return -1;
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return -1; /* bare IPv6 address needs brackets */
        hostlen = (size_t)(colon - s);
    }
    if (parse_uint(colon + 1, 1, 65535, &port) != 0)
        return -1;
    if (hostlen == 0) {
        host = "0.0.0.0";
        hostlen = 7;
    }
    if (hostlen >= sizeof(out->host))
        return -1;
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    snprintf(out->port, sizeof(out->port), "%u", port);
    return 0;
}

/*
 * replace_str frees the previous value of a string option and stores a
 * copy of the new one.
 */
static void replace_str(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value);
}

/*
 * gw_config_set applies one option by name (without the leading "--").
 * Used by both the file loader and the flag parser so that the two accept
 * exactly the same keys.  Returns 0 on success, -1 with a message in err.
 */
int gw_config_set(gw_config_t *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    int ok = 0;

#define NEED_VALUE()                                                                                                               \
    do {                                                                                                                           \
        if (value == NULL || *value == '\0') {                                                                                     \
            snprintf(err, errlen, "option %s needs a value", key);                                                                 \
            return -1;                                                                                                             \
        }                                                                                                                          \
    } while (0)

    if (strcmp(key, "listen") == 0) {
        NEED_VALUE();
        if (cfg->num_listen == GW_MAX_LISTEN) {
            snprintf(err, errlen, "too many listen addresses (at most %d)", GW_MAX_LISTEN);
            return -1;
        }
        if (gw_config_parse_listen(value, &cfg->listen[cfg->num_listen]) != 0) {
            snprintf(err, errlen, "invalid listen address \"%s\" (want host:port or [v6]:port)", value);
            return -1;
        }
        ++cfg->num_listen;
        return 0;
    }
    if (strcmp(key, "tls-cert") == 0) {
        NEED_VALUE();
        replace_str(&cfg->tls_cert, value);
        return 0;
    }
    if (strcmp(key, "tls-key") == 0) {
        NEED_VALUE();
        replace_str(&cfg->tls_key, value);
        return 0;
    }
    if (strcmp(key, "conninfo") == 0) {
        NEED_VALUE();
        replace_str(&cfg->conninfo, value);
        return 0;
    }
    if (strcmp(key, "static-dir") == 0) {
        NEED_VALUE();
        replace_str(&cfg->static_dir, value);
        return 0;
    }
    if (strcmp(key, "user") == 0) {
        NEED_VALUE();
        replace_str(&cfg->user, value);
        return 0;
    }
    if (strcmp(key, "access-log") == 0) {
        NEED_VALUE();
        replace_str(&cfg->access_log, value);
        return 0;
    }
    if (strcmp(key, "plain-http") == 0)
        ok = parse_bool(value, &cfg->plain_http);
    else if (strcmp(key, "http2") == 0)
        ok = parse_bool(value, &cfg->http2);
    else if (strcmp(key, "trust-proxy") == 0)
        ok = parse_bool(value, &cfg->trust_proxy);
    else if (strcmp(key, "threads") == 0)
        ok = parse_uint(value, 1, 256, &cfg->threads);
    else if (strcmp(key, "db-connections") == 0)
        ok = parse_uint(value, 1, 64, &cfg->db_connections);
    else if (strcmp(key, "pipeline-depth") == 0)
        ok = parse_uint(value, 1, 1024, &cfg->pipeline_depth);
    else if (strcmp(key, "max-headers") == 0)
        ok = parse_uint(value, 1, 100, &cfg->max_headers);
    else if (strcmp(key, "request-timeout") == 0)
        ok = parse_uint(value, 1, 3600, &cfg->request_timeout);
    else if (strcmp(key, "idle-timeout") == 0)
        ok = parse_uint(value, 1, 3600, &cfg->idle_timeout);
    else if (strcmp(key, "max-queued") == 0)
        ok = parse_uint(value, 0, 1000000, &cfg->max_queued);
    else if (strcmp(key, "retry-after") == 0)
        ok = parse_uint(value, 1, 3600, &cfg->retry_after);
    else if (strcmp(key, "drain-timeout") == 0)
        ok = parse_uint(value, 0, 3600, &cfg->drain_timeout);
    else if (strcmp(key, "body-limit") == 0) {
        /* the body travels as one bytea parameter: libpq lengths are int, PostgreSQL values stay below 1 GiB */
        ok = gw_config_parse_size(value, &cfg->body_limit);
        if (ok == 0 && cfg->body_limit > 512 * 1024 * 1024)
            ok = -1;
    }
    else if (strcmp(key, "max-header-bytes") == 0) {
        ok = gw_config_parse_size(value, &cfg->max_header_bytes);
        if (ok == 0 && (cfg->max_header_bytes < 256 || cfg->max_header_bytes > 65536))
            ok = -1;
    } else {
        snprintf(err, errlen, "unknown option \"%s\"", key);
        return -1;
    }
    if (ok != 0) {
        snprintf(err, errlen, "invalid value \"%s\" for option %s", value != NULL ? value : "", key);
        return -1;
    }
    return 0;
#undef NEED_VALUE
}

/*
 * trim strips leading and trailing white space in place and returns the
 * new start.
 */
static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        ++s;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/*
 * gw_config_load_file reads "key = value" lines ('#' starts a comment line)
 * and applies each through gw_config_set.  Errors name the line number.
 */
int gw_config_load_file(gw_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *fp;
    char line[4096], suberr[512];
    unsigned lineno = 0;
    int ret = -1;

    if ((fp = fopen(path, "r")) == NULL) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *s, *eq, *key, *value;
        ++lineno;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            goto Exit;
        }
        s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        if ((eq = strchr(s, '=')) == NULL) {
            key = s;
            value = "";
        } else {
            *eq = '\0';
            key = trim(s);
            value = trim(eq + 1);
        }
        if (strcmp(key, "config") == 0) {
            snprintf(err, errlen, "%s:%u: config files cannot include other files", path, lineno);
            goto Exit;
        }
        if (gw_config_set(cfg, key, value, suberr, sizeof(suberr)) != 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, suberr);
            goto Exit;
        }
    }
    ret = 0;
Exit:
    fclose(fp);
    return ret;
}

/*
 * is_bool_option tells whether a flag takes no value on the command line.
 */
static int is_bool_option(const char *key)
{
    return strcmp(key, "plain-http") == 0 || strcmp(key, "http2") == 0 || strcmp(key, "trust-proxy") == 0;
}

/*
 * gw_config_parse_args applies --config FILE first, then every other flag
 * in order.  When --listen appears on the command line it replaces the
 * addresses from the file.  Sets *want_help for --help / -h.
 */
int gw_config_parse_args(gw_config_t *cfg, int argc, char **argv, int *want_help, char *err, size_t errlen)
{
    int i, cleared_listen = 0;

    *want_help = 0;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            if (gw_config_load_file(cfg, argv[i + 1], err, errlen) != 0)
                return -1;
            ++i;
        } else if (strncmp(a, "--config=", 9) == 0) {
            if (gw_config_load_file(cfg, a + 9, err, errlen) != 0)
                return -1;
        }
    }
    for (i = 1; i < argc; ++i) {
        char key[64];
        const char *a = argv[i], *value = NULL, *eq;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *want_help = 1;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\"", a);
            return -1;
        }
        a += 2;
        if ((eq = strchr(a, '=')) != NULL) {
            if ((size_t)(eq - a) >= sizeof(key)) {
                snprintf(err, errlen, "unknown option \"--%s\"", a);
                return -1;
            }
            memcpy(key, a, (size_t)(eq - a));
            key[eq - a] = '\0';
            value = eq + 1;
        } else {
            if (strlen(a) >= sizeof(key)) {
                snprintf(err, errlen, "unknown option \"--%s\"", a);
                return -1;
            }
            strcpy(key, a);
            if (!is_bool_option(key)) {
                if (i + 1 >= argc) {
                    snprintf(err, errlen, "option --%s needs a value", key);
                    return -1;
                }
                value = argv[++i];
            }
        }
        if (strcmp(key, "config") == 0)
            continue;
        if (strcmp(key, "listen") == 0 && !cleared_listen) {
            cfg->num_listen = 0;
            cleared_listen = 1;
        }
        if (gw_config_set(cfg, key, value, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/*
 * gw_config_check verifies the combination of options (TLS files present
 * unless --plain-http, at least one listener) after everything is applied.
 */
int gw_config_check(gw_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->num_listen == 0)
        gw_config_parse_listen("127.0.0.1:8443", &cfg->listen[cfg->num_listen++]);
    if (!cfg->plain_http && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
        snprintf(err, errlen, "--tls-cert and --tls-key are required (or --plain-http behind a TLS terminator)");
        return -1;
    }
    if (cfg->plain_http && (cfg->tls_cert != NULL || cfg->tls_key != NULL)) {
        snprintf(err, errlen, "--plain-http cannot be combined with --tls-cert/--tls-key");
        return -1;
    }
    return 0;
}

/*
 * gw_config_usage prints --help: every option, its default and its file
 * key.  Keep it in step with gw_config_set and USAGE.md.
 */
void gw_config_usage(FILE *fp, const char *argv0)
{
    fprintf(fp,
            "Usage: %s [OPTIONS]\n"
            "HTTPS front end of machi: forwards each request to api.handle() in PostgreSQL.\n"
            "\n"
            "Every option can also be given in a config file as \"key = value\" (key without --).\n"
            "Command line flags override the file.\n"
            "\n"
            "  --config FILE            read options from FILE first\n"
            "  --listen HOST:PORT       listen address, repeatable; IPv6 as [::1]:8443 (default 127.0.0.1:8443)\n"
            "  --tls-cert FILE          PEM certificate chain (required unless --plain-http)\n"
            "  --tls-key FILE           PEM private key (required unless --plain-http)\n"
            "  --plain-http             serve plain HTTP, only behind a TLS terminator\n"
            "  --conninfo STRING        libpq connection string, multi-host allowed; target_session_attrs=read-write\n"
            "                           is added when absent (default \"dbname=machi user=machi_gateway\")\n"
            "  --threads N              event loops, one per thread (default: number of cores)\n"
            "  --db-connections N       database connections per thread (default 4)\n"
            "  --pipeline-depth N       requests in flight per database connection (default 16)\n"
            "  --body-limit SIZE        largest request body, K/M suffixes, at most 512M; larger gets 413 (default 12M)\n"
            "  --max-headers N          most request header fields, at most 100; more gets 431 (default 64)\n"
            "  --max-header-bytes SIZE  largest total of header names and values; more gets 431 (default 16K)\n"
            "  --request-timeout SEC    longest wait for the database per request, then 504; also the\n"
            "                           statement_timeout of its database connections (default 30)\n"
            "  --idle-timeout SEC       time to receive a complete request (head and body), and keep-alive\n"
            "                           idle time; slow clients are disconnected after it (default 30)\n"
            "  --max-queued N           requests waiting for a database connection per thread; beyond it\n"
            "                           503 with Retry-After (default 256)\n"
            "  --retry-after SEC        Retry-After value on 503 answers (default 2)\n"
            "  --drain-timeout SEC      on SIGTERM, longest wait for in-flight requests (default 10)\n"
            "  --static-dir DIR         serve files of DIR under /console/ (off by default)\n"
            "  --access-log PATH        access log file, \"-\" for standard output, \"off\" to disable (default -)\n"
            "  --user NAME              switch to this user after binding the listeners and reading the TLS key\n"
            "                           (when started as root)\n"
            "  --trust-proxy            take the client address from the last X-Forwarded-For entry\n"
            "  --http2                  offer HTTP/2 via ALPN (off by default). WARNING: Debian's h2o 2.2.5 lacks the\n"
            "                           2023 HTTP/2 rapid-reset fix (CVE-2023-44487); enable only behind a proxy\n"
            "  -h, --help               show this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT stop accepting, drain in-flight requests (bounded by --drain-timeout), exit 0.\n",
            argv0);
}

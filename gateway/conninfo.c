/*
 * conninfo.c - the database targets of the gateway
 *
 * libpq handles multi-host connection strings itself, but only in blocking
 * PQconnectdb does it apply connect_timeout and move on to the next host:
 * with PQconnectPoll a host that swallows packets would hold every
 * attempt.  So the gateway splits the host list itself and connects to one
 * host per attempt, rotating after a failure or a timeout; libpq still
 * checks target_session_attrs on each host.  This file turns the
 * configured conninfo into keyword/value arrays with per-host slots.
 */
#include <stdlib.h>
#include <string.h>
#include "gw.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000

/*
 * split_list splits a comma-separated libpq host/port list into a NULL
 * terminated array of strdup'ed items and returns the item count.
 */
static unsigned split_list(const char *s, char ***out)
{
    unsigned n = 1, i = 0;
    const char *p, *start;

    for (p = s; *p != '\0'; ++p)
        if (*p == ',')
            ++n;
    *out = calloc(n + 1, sizeof(char *));
    for (start = p = s;; ++p) {
        if (*p == ',' || *p == '\0') {
            (*out)[i++] = strndup(start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return n;
}

/*
 * free_list releases what split_list made.
 */
static void free_list(char **list)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; list[i] != NULL; ++i)
        free(list[i]);
    free(list);
}

/*
 * gw_conninfo_parse parses conninfo (key=value string or URI) into ci.
 * target_session_attrs=read-write and application_name=machi-gateway are
 * added unless present; statement_timeout_ms becomes "-c
 * statement_timeout=..." in front of any options given.  Returns -1 with
 * a message in err when libpq rejects the string or the host and port
 * lists do not match.
 */
int gw_conninfo_parse(gw_conninfo_t *ci, const char *conninfo, unsigned statement_timeout_ms, char *err, size_t errlen)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL, *hosts = NULL, *hostaddrs = NULL, *ports = NULL;
    const char *user_options = NULL;
    size_t n = 0, cap;
    int has_tsa = 0, has_app = 0;
    unsigned nh = 0, na = 0, np = 0;

    memset(ci, 0, sizeof(*ci));
    ci->host_slot = ci->hostaddr_slot = ci->port_slot = SIZE_MAX;
    ci->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if ((opts = PQconninfoParse(conninfo, &errmsg)) == NULL) {
        snprintf(err, errlen, "invalid conninfo: %s", errmsg != NULL ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return -1;
    }
    ci->parsed = opts;
    for (cap = 0, o = opts; o->keyword != NULL; ++o)
        ++cap;
    cap += 8;
    ci->keywords = calloc(cap, sizeof(char *));
    ci->values = calloc(cap, sizeof(char *));
    for (o = opts; o->keyword != NULL; ++o) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0) {
            hosts = o->val;
        } else if (strcmp(o->keyword, "hostaddr") == 0) {
            hostaddrs = o->val;
        } else if (strcmp(o->keyword, "port") == 0) {
            ports = o->val;
        } else if (strcmp(o->keyword, "options") == 0) {
            user_options = o->val;
        } else {
            if (strcmp(o->keyword, "target_session_attrs") == 0)
                has_tsa = 1;
            if (strcmp(o->keyword, "application_name") == 0)
                has_app = 1;
            if (strcmp(o->keyword, "connect_timeout") == 0) {
                long secs = strtol(o->val, NULL, 10);
                ci->connect_timeout_ms = secs > 0 ? (unsigned)(secs < 2 ? 2000 : secs * 1000) : DEFAULT_CONNECT_TIMEOUT_MS;
            }
            ci->keywords[n] = o->keyword, ci->values[n++] = o->val;
        }
    }
    if (!has_tsa)
        ci->keywords[n] = "target_session_attrs", ci->values[n++] = "read-write";
    if (!has_app)
        ci->keywords[n] = "application_name", ci->values[n++] = "machi-gateway";
    snprintf(ci->options, sizeof(ci->options), "-c statement_timeout=%u%s%s", statement_timeout_ms, user_options != NULL ? " " : "",
             user_options != NULL ? user_options : "");
    if (strlen(ci->options) == sizeof(ci->options) - 1) {
        snprintf(err, errlen, "conninfo options are too long");
        goto Error;
    }
    ci->keywords[n] = "options", ci->values[n++] = ci->options;

    if (hosts != NULL)
        nh = split_list(hosts, &ci->hosts);
    if (hostaddrs != NULL)
        na = split_list(hostaddrs, &ci->hostaddrs);
    if (ports != NULL)
        np = split_list(ports, &ci->ports);
    ci->num_hosts = nh > na ? nh : na;
    if ((nh != 0 && na != 0 && nh != na) || (np > 1 && np != ci->num_hosts)) {
        snprintf(err, errlen, "invalid conninfo: host, hostaddr and port lists differ in length");
        goto Error;
    }
    if (ci->num_hosts == 0)
        ci->num_hosts = 1; /* libpq's default host */
    if (nh != 0)
        ci->host_slot = n, ci->keywords[n++] = "host";
    if (na != 0)
        ci->hostaddr_slot = n, ci->keywords[n++] = "hostaddr";
    if (np != 0)
        ci->port_slot = n, ci->keywords[n++] = "port";
    ci->keywords[n] = NULL;
    ci->values[n] = NULL;
    gw_conninfo_select(ci, 0);
    return 0;
Error:
    gw_conninfo_free(ci);
    return -1;
}

/*
 * gw_conninfo_select points the host, hostaddr and port values at the
 * index-th target (modulo the number of hosts).  The arrays are then
 * ready for PQconnectStartParams(keywords, values, 0).
 */
void gw_conninfo_select(gw_conninfo_t *ci, unsigned index)
{
    index %= ci->num_hosts;
    if (ci->host_slot != SIZE_MAX)
        ci->values[ci->host_slot] = ci->hosts[index];
    if (ci->hostaddr_slot != SIZE_MAX)
        ci->values[ci->hostaddr_slot] = ci->hostaddrs[index];
    if (ci->port_slot != SIZE_MAX)
        ci->values[ci->port_slot] = ci->ports[ci->ports[1] == NULL ? 0 : index];
}

/*
 * gw_conninfo_free releases everything gw_conninfo_parse allocated.
 */
void gw_conninfo_free(gw_conninfo_t *ci)
{
    free_list(ci->hosts);
    free_list(ci->hostaddrs);
    free_list(ci->ports);
    free(ci->keywords);
    free(ci->values);
    if (ci->parsed != NULL)
        PQconninfoFree(ci->parsed);
    memset(ci, 0, sizeof(*ci));
}

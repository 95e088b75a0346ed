/*
 * accesslog.c - one line per request, without secrets
 *
 * The access log records who asked for what and how it went, but never a
 * token, password, cookie or body: only the path with query values
 * replaced by "…" (keys are kept), the status, the byte count, the
 * duration and the request id that also reaches the database's audit
 * trail.  Bytes that could forge log lines are percent-escaped.  The
 * formatting functions are pure (unit-tested); the h2o logger that calls
 * them lives in handler.c.
 */
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "gw.h"

#define ELLIPSIS "\xe2\x80\xa6"

/*
 * put_safe copies one byte into out, percent-escaping bytes that are not
 * printable ASCII or that would confuse a log parser.  Returns the new
 * position, never past outlen - 1.
 */
static size_t put_safe(char *out, size_t pos, size_t outlen, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";

    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
        if (pos + 3 >= outlen)
            return pos;
        out[pos++] = '%';
        out[pos++] = hex[c >> 4];
        out[pos++] = hex[c & 15];
    } else if (pos + 1 < outlen) {
        out[pos++] = (char)c;
    }
    return pos;
}

/*
 * gw_accesslog_redact_path writes path to out (NUL-terminated, truncated
 * to outlen) with every query value replaced by "…": "/a?x=1&y" becomes
 * "/a?x=…&y".  Returns the length written.  outlen must be at least 1.
 */
size_t gw_accesslog_redact_path(const char *path, size_t len, char *out, size_t outlen)
{
    size_t i, pos = 0;
    int in_query = 0, in_value = 0;

    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)path[i];
        if (!in_query) {
            if (c == '?')
                in_query = 1;
            pos = put_safe(out, pos, outlen, c);
            continue;
        }
        if (c == '&' || c == ';') {
            in_value = 0;
            pos = put_safe(out, pos, outlen, c);
        } else if (in_value) {
            /* value bytes are dropped */
        } else if (c == '=') {
            in_value = 1;
            pos = put_safe(out, pos, outlen, c);
            if (pos + sizeof(ELLIPSIS) - 1 < outlen) {
                memcpy(out + pos, ELLIPSIS, sizeof(ELLIPSIS) - 1);
                pos += sizeof(ELLIPSIS) - 1;
            }
        } else {
            pos = put_safe(out, pos, outlen, c);
        }
    }
    out[pos] = '\0';
    return pos;
}

/*
 * gw_accesslog_format renders one log line (with the trailing newline)
 * into out and returns its length:
 *   2026-01-02T03:04:05.678Z 192.0.2.1 GET /v1/x?k=… 200 123 4.567 <request-id>
 * The caller provides the already resolved client address text.
 */
size_t gw_accesslog_format(char *out, size_t outlen, const struct timeval *at, const char *client, const char *method,
                           size_t methodlen, const char *path, size_t pathlen, int status, uint64_t bytes, double ms,
                           const char *request_id)
{
    struct tm tm;
    time_t secs = at->tv_sec;
    size_t pos, i;
    int n;

    gmtime_r(&secs, &tm);
    n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(at->tv_usec / 1000), client);
    if (n < 0 || (size_t)n >= outlen)
        return 0;
    pos = (size_t)n;
    for (i = 0; i != methodlen && i < 32; ++i)
        pos = put_safe(out, pos, outlen, (unsigned char)method[i]);
    if (pos + 1 < outlen)
        out[pos++] = ' ';
    if (outlen - pos > 200)
        pos += gw_accesslog_redact_path(path, pathlen, out + pos, outlen - pos - 160);
    n = snprintf(out + pos, outlen - pos, " %d %llu %.3f %s\n", status, (unsigned long long)bytes, ms,
                 request_id != NULL && request_id[0] != '\0' ? request_id : "-");
    if (n < 0 || (size_t)n >= outlen - pos)
        return 0;
    return pos + (size_t)n;
}

/*
 * json.c - the little JSON the gateway needs
 *
 * Request headers go to api.handle() as a flat JSON object and response
 * headers come back as one; nothing else is JSON in the gateway.  So this
 * file has a string escaper and a parser for flat objects whose values are
 * strings or arrays of strings (numbers and booleans are passed through as
 * their text), and no general JSON library.
 */
#include <stdlib.h>
#include <string.h>
#include "gw.h"

/*
 * gw_buf_reserve makes room for extra more bytes (plus a NUL).  Returns -1
 * when memory is exhausted; the buffer is then unchanged.
 */
int gw_buf_reserve(gw_buf_t *buf, size_t extra)
{
    size_t want = buf->len + extra + 1, cap;
    char *p;

    if (want <= buf->cap)
        return 0;
    cap = buf->cap < 64 ? 64 : buf->cap;
    while (cap < want)
        cap *= 2;
    if ((p = realloc(buf->base, cap)) == NULL)
        return -1;
    buf->base = p;
    buf->cap = cap;
    return 0;
}

/*
 * gw_buf_append appends len bytes and keeps the buffer NUL-terminated.
 */
int gw_buf_append(gw_buf_t *buf, const char *s, size_t len)
{
    if (gw_buf_reserve(buf, len) != 0)
        return -1;
    memcpy(buf->base + buf->len, s, len);
    buf->len += len;
    buf->base[buf->len] = '\0';
    return 0;
}

/*
 * gw_buf_free releases the storage; the buffer may be reused afterwards.
 */
void gw_buf_free(gw_buf_t *buf)
{
    free(buf->base);
    buf->base = NULL;
    buf->len = buf->cap = 0;
}

/*
 * gw_json_escape appends s as a quoted JSON string.  The input must
 * already be valid UTF-8 (the caller validated it); quotes, backslashes
 * and control characters are escaped so the result is always valid JSON.
 */
int gw_json_escape(gw_buf_t *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    if (gw_buf_reserve(buf, len + 2) != 0)
        return -1;
    buf->base[buf->len++] = '"';
    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t esclen = 0;
        switch (c) {
        case '"':
            esc[0] = '\\', esc[1] = '"', esclen = 2;
            break;
        case '\\':
            esc[0] = '\\', esc[1] = '\\', esclen = 2;
            break;
        case '\n':
            esc[0] = '\\', esc[1] = 'n', esclen = 2;
            break;
        case '\r':
            esc[0] = '\\', esc[1] = 'r', esclen = 2;
            break;
        case '\t':
            esc[0] = '\\', esc[1] = 't', esclen = 2;
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                esclen = 6;
            }
            break;
        }
        if (esclen == 0) {
            if (gw_buf_reserve(buf, 1) != 0)
                return -1;
            buf->base[buf->len++] = (char)c;
        } else {
            if (gw_buf_reserve(buf, esclen) != 0)
                return -1;
            memcpy(buf->base + buf->len, esc, esclen);
            buf->len += esclen;
        }
    }
    if (gw_buf_reserve(buf, 1) != 0)
        return -1;
    buf->base[buf->len++] = '"';
    buf->base[buf->len] = '\0';
    return 0;
}

typedef struct st_gw_json_parser_t {
    const char *p;
    const char *end;
} gw_json_parser_t;

/*
 * skip_ws advances over JSON white space.
 */
static void skip_ws(gw_json_parser_t *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        ++jp->p;
}

/*
 * hex4 reads four hex digits of a \u escape.  Returns -1 if malformed.
 */
static long hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; ++i) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/*
 * put_utf8 encodes one code point into out (reset by the caller).
 */
static int put_utf8(gw_buf_t *out, unsigned long cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f)), b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return gw_buf_append(out, b, n);
}

/*
 * parse_string decodes a JSON string at jp->p (which must be at the
 * opening quote) into out.  Returns -1 on malformed input.
 */
static int parse_string(gw_json_parser_t *jp, gw_buf_t *out)
{
    out->len = 0;
    if (gw_buf_reserve(out, 0) != 0)
        return -1;
    out->base[0] = '\0';
    if (jp->p >= jp->end || *jp->p != '"')
        return -1;
    ++jp->p;
    while (jp->p < jp->end) {
        const char *run = jp->p;
        while (jp->p < jp->end && *jp->p != '"' && *jp->p != '\\' && (unsigned char)*jp->p >= 0x20)
            ++jp->p;
        if (gw_buf_append(out, run, (size_t)(jp->p - run)) != 0)
            return -1;
        if (jp->p >= jp->end || (unsigned char)*jp->p < 0x20)
            return -1;
        if (*jp->p == '"') {
            ++jp->p;
            return 0;
        }
        /* backslash escape */
        if (jp->end - jp->p < 2)
            return -1;
        switch (jp->p[1]) {
        case '"':
        case '\\':
        case '/':
            if (gw_buf_append(out, jp->p + 1, 1) != 0)
                return -1;
            jp->p += 2;
            break;
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't': {
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            char c = to[strchr(from, jp->p[1]) - from];
            if (gw_buf_append(out, &c, 1) != 0)
                return -1;
            jp->p += 2;
        } break;
        case 'u': {
            long cp, lo;
            if (jp->end - jp->p < 6 || (cp = hex4(jp->p + 2)) < 0)
                return -1;
            jp->p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u' || (lo = hex4(jp->p + 2)) < 0 || lo < 0xdc00 ||
                    lo > 0xdfff)
                    return -1;
                jp->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            if (put_utf8(out, (unsigned long)cp) != 0)
                return -1;
        } break;
        default:
            return -1;
        }
    }
    return -1;
}

/*
 * parse_scalar accepts a bare number, true, false or null as text (a
 * lenient reading of a value that should have been a string).
 */
static int parse_scalar(gw_json_parser_t *jp, gw_buf_t *out)
{
    const char *start = jp->p;

    while (jp->p < jp->end &&
           (strchr("+-.eE", *jp->p) != NULL || (*jp->p >= '0' && *jp->p <= '9') || (*jp->p >= 'a' && *jp->p <= 'z')))
        ++jp->p;
    if (jp->p == start)
        return -1;
    out->len = 0;
    return gw_buf_append(out, start, (size_t)(jp->p - start));
}

/*
 * gw_json_parse_object walks a flat JSON object and calls cb for every
 * name/value pair with the unescaped (NUL-terminated) strings.  A value
 * may also be an array of strings, giving one call per element.  Nested
 * objects and other arrays are rejected.  Returns 0 on success, -1 on malformed
 * input or when cb returns non-zero.
 */
int gw_json_parse_object(const char *s, size_t len, gw_json_pair_cb cb, void *ctx)
{
    gw_json_parser_t jp = {s, s + len};
    gw_buf_t name = {NULL, 0, 0}, value = {NULL, 0, 0};
    int ret = -1;

    skip_ws(&jp);
    if (jp.p >= jp.end || *jp.p != '{')
        goto Exit;
    ++jp.p;
    skip_ws(&jp);
    if (jp.p < jp.end && *jp.p == '}') {
        ++jp.p;
        goto Done;
    }
    for (;;) {
        skip_ws(&jp);
        if (parse_string(&jp, &name) != 0)
            goto Exit;
        skip_ws(&jp);
        if (jp.p >= jp.end || *jp.p != ':')
            goto Exit;
        ++jp.p;
        skip_ws(&jp);
        if (jp.p < jp.end && *jp.p == '[') {
            /* an array of strings: one pair per element (several Set-Cookie headers) */
            ++jp.p;
            skip_ws(&jp);
            if (jp.p < jp.end && *jp.p == ']') {
                ++jp.p;
            } else {
                for (;;) {
                    skip_ws(&jp);
                    if (parse_string(&jp, &value) != 0 || cb(ctx, name.base, name.len, value.base, value.len) != 0)
                        goto Exit;
                    skip_ws(&jp);
                    if (jp.p < jp.end && *jp.p == ',') {
                        ++jp.p;
                        continue;
                    }
                    if (jp.p < jp.end && *jp.p == ']') {
                        ++jp.p;
                        break;
                    }
                    goto Exit;
                }
            }
        } else {
            if (jp.p < jp.end && *jp.p == '"') {
                if (parse_string(&jp, &value) != 0)
                    goto Exit;
            } else if (parse_scalar(&jp, &value) != 0) {
                goto Exit;
            }
            if (cb(ctx, name.base, name.len, value.base, value.len) != 0)
                goto Exit;
        }
        skip_ws(&jp);
        if (jp.p < jp.end && *jp.p == ',') {
            ++jp.p;
            continue;
        }
        if (jp.p < jp.end && *jp.p == '}') {
            ++jp.p;
            break;
        }
        goto Exit;
    }
Done:
    skip_ws(&jp);
    if (jp.p == jp.end)
        ret = 0;
Exit:
    gw_buf_free(&name);
    gw_buf_free(&value);
    return ret;
}

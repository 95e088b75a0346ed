/*
 * validate.c - checks applied to every request before it reaches the database
 *
 * The database receives the raw path, query and headers as text and jsonb,
 * so anything that PostgreSQL cannot store (NUL bytes, invalid UTF-8) or
 * that could split a header (CR, LF) is refused here with 400 instead of
 * being forwarded unchecked.  All functions are pure and unit-tested.
 */
#include <arpa/inet.h>
#include <string.h>
#include "gw.h"

/*
 * gw_validate_utf8 returns 1 when s[0..len) is well-formed UTF-8: no
 * overlong forms, no surrogates, nothing above U+10FFFF.  NUL is accepted
 * here; callers that forbid it check separately.
 */
int gw_validate_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            ++p;
        } else if (c >= 0xc2 && c <= 0xdf) {
            if (end - p < 2 || (p[1] & 0xc0) != 0x80)
                return 0;
            p += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (end - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
                return 0;
            if (c == 0xe0 && p[1] < 0xa0)
                return 0; /* overlong */
            if (c == 0xed && p[1] >= 0xa0)
                return 0; /* surrogate */
            p += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (end - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
                return 0;
            if (c == 0xf0 && p[1] < 0x90)
                return 0; /* overlong */
            if (c == 0xf4 && p[1] >= 0x90)
                return 0; /* above U+10FFFF */
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/*
 * hexval returns the value of one hex digit, or -1.
 */
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * check_component validates a raw URL component: no control bytes, valid
 * UTF-8, well-formed %XX escapes, no %00, and (when decoded_utf8) valid
 * UTF-8 after percent-decoding as well.  Decoding is done in a bounded
 * local buffer in chunks so that no allocation is needed.
 */
static int check_component(const char *s, size_t len, int decoded_utf8)
{
    unsigned char dec[4];
    size_t i, pending = 0, need = 0;

    if (!gw_validate_utf8(s, len))
        return 0;
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return 0;
            if ((hi = hexval((unsigned char)s[i + 1])) < 0 || (lo = hexval((unsigned char)s[i + 2])) < 0)
                return 0;
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0)
                return 0;
            i += 2;
        }
        if (!decoded_utf8)
            continue;
        /* incremental check of the decoded byte sequence */
        if (pending == 0) {
            if (c < 0x80)
                continue;
            if (c >= 0xc2 && c <= 0xdf)
                need = 2;
            else if (c >= 0xe0 && c <= 0xef)
                need = 3;
            else if (c >= 0xf0 && c <= 0xf4)
                need = 4;
            else
                return 0;
            dec[pending++] = c;
        } else {
            dec[pending++] = c;
            if (pending == need) {
                if (!gw_validate_utf8((const char *)dec, need))
                    return 0;
                pending = 0;
            } else if ((c & 0xc0) != 0x80) {
                return 0;
            }
        }
    }
    return pending == 0;
}

/*
 * gw_validate_path accepts an origin-form path ("/..." without the query):
 * valid UTF-8 raw and percent-decoded, no control bytes, no %00.
 */
int gw_validate_path(const char *s, size_t len)
{
    if (len == 0 || s[0] != '/')
        return 0;
    return check_component(s, len, 1);
}

/*
 * gw_validate_query accepts a raw query string (without '?'): valid UTF-8,
 * no control bytes, no %00.  Decoded bytes are the database's business.
 */
int gw_validate_query(const char *s, size_t len)
{
    return check_component(s, len, 0);
}

/*
 * gw_validate_header_value refuses NUL, CR and LF (header splitting and
 * C-string truncation) and anything that is not UTF-8, since the value is
 * forwarded inside jsonb.  Other bytes, including tab, are allowed.
 */
int gw_validate_header_value(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i != len; ++i)
        if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
            return 0;
    return gw_validate_utf8(s, len);
}

/*
 * gw_validate_header_name accepts an RFC 9110 token; used both for
 * incoming names and for names the database asks us to send.
 */
int gw_validate_header_name(const char *s, size_t len)
{
    static const char tchars[] = "!#$%&'*+-.^_`|~";
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c != 0 && strchr(tchars, c) != NULL)))
            return 0;
    }
    return 1;
}

/*
 * gw_validate_ip parses an IPv4 or IPv6 literal (surrounding spaces
 * allowed) and writes its canonical text form to out.  Returns 1 on
 * success.  Used for X-Forwarded-For under --trust-proxy.
 */
int gw_validate_ip(const char *s, size_t len, char *out, size_t outlen)
{
    char tmp[64];
    unsigned char addr[16];

    while (len != 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len != 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    if (len == 0 || len >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, addr) == 1)
        return inet_ntop(AF_INET, addr, out, (socklen_t)outlen) != NULL;
    if (inet_pton(AF_INET6, tmp, addr) == 1)
        return inet_ntop(AF_INET6, addr, out, (socklen_t)outlen) != NULL;
    return 0;
}

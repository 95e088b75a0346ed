/*
 * fuzz_parsers.c - libFuzzer target for the gateway's parsers
 *
 * Feeds arbitrary bytes to everything that parses untrusted input without
 * h2o: request validation, JSON escaping and parsing of header objects,
 * access-log redaction.  The first byte selects the parser.  Built by
 * "make fuzz" with clang and -fsanitize=fuzzer,address,undefined.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "gw.h"

/*
 * on_pair checks that every parsed pair is a complete string.
 */
static int on_pair(void *ctx, const char *name, size_t namelen, const char *value, size_t valuelen)
{
    (void)ctx;
    if (name[namelen] != '\0' || value[valuelen] != '\0')
        abort();
    return 0;
}

/*
 * LLVMFuzzerTestOneInput is the libFuzzer entry point.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;
    size_t len = size - 1;

    if (size == 0)
        return 0;
    switch (data[0] % 5) {
    case 0:
        gw_validate_path(s, len);
        gw_validate_query(s, len);
        gw_validate_header_value(s, len);
        gw_validate_header_name(s, len);
        break;
    case 1: {
        gw_buf_t b = {NULL, 0, 0};
        /* an escaped valid UTF-8 string must parse back to itself */
        if (gw_validate_utf8(s, len) && memchr(s, '\0', len) == NULL) {
            gw_buf_append(&b, "{\"k\":", 5);
            gw_json_escape(&b, s, len);
            gw_buf_append(&b, "}", 1);
            if (gw_json_parse_object(b.base, b.len, on_pair, NULL) != 0)
                abort();
        }
        gw_buf_free(&b);
    } break;
    case 2:
        gw_json_parse_object(s, len, on_pair, NULL);
        break;
    case 3: {
        char out[256];
        size_t n = gw_accesslog_redact_path(s, len, out, sizeof(out));
        if (n >= sizeof(out) || out[n] != '\0')
            abort();
    } break;
    case 4: {
        char out[1024];
        struct timeval tv = {0, 0};
        gw_accesslog_format(out, sizeof(out), &tv, "127.0.0.1", s, len < 16 ? len : 16, s, len, 200, 0, 0.0, "id");
    } break;
    }
    return 0;
}

/*
 * test_units.c - unit tests of the gateway's parsing code
 *
 * Covers what can be tested without sockets: option and config file
 * parsing, request validation (paths, queries, header values), JSON
 * escaping and parsing of header objects, and access-log redaction.  Run
 * by "make test" (built with ASan and UBSan).
 */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>
#include "gw.h"

static int failures;
static int checks;

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        ++checks;                                                                                                                  \
        if (!(cond)) {                                                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                               \
            ++failures;                                                                                                            \
        }                                                                                                                          \
    } while (0)

#define S(lit) lit, sizeof(lit) - 1

/*
 * test_config checks option parsing, limits and the config file format.
 */
static void test_config(void)
{
    gw_config_t cfg;
    gw_listen_t l;
    size_t sz;
    char err[256], path[] = "/tmp/gw-test-config-XXXXXX";
    int help, fd;
    char *argv1[] = {"gw",           "--listen", "127.0.0.1:9000", "--listen=[::1]:9001", "--plain-http",
                     "--body-limit", "1M",       "--threads=3"};
    char *argv_bad[] = {"gw", "--nope=1"};
    char *argv_help[] = {"gw", "--help"};
    const char *file = "# comment\n listen = 0.0.0.0:8080\nmax-headers=10\n\naccess-log = off\nhttp2 = yes\n";

    CHECK(gw_config_parse_size("12M", &sz) == 0 && sz == 12 * 1024 * 1024);
    CHECK(gw_config_parse_size("16K", &sz) == 0 && sz == 16384);
    CHECK(gw_config_parse_size("1MiB", &sz) == 0 && sz == 1024 * 1024);
    CHECK(gw_config_parse_size("100", &sz) == 0 && sz == 100);
    CHECK(gw_config_parse_size("", &sz) == -1);
    CHECK(gw_config_parse_size("-1", &sz) == -1);
    CHECK(gw_config_parse_size("12X", &sz) == -1);
    CHECK(gw_config_parse_size("99999999999999999999G", &sz) == -1);

    CHECK(gw_config_parse_listen("127.0.0.1:8443", &l) == 0 && strcmp(l.host, "127.0.0.1") == 0 && strcmp(l.port, "8443") == 0);
    CHECK(gw_config_parse_listen("[::1]:443", &l) == 0 && strcmp(l.host, "::1") == 0 && strcmp(l.port, "443") == 0);
    CHECK(gw_config_parse_listen(":80", &l) == 0 && strcmp(l.host, "0.0.0.0") == 0);
    CHECK(gw_config_parse_listen("::1:443", &l) == -1);
    CHECK(gw_config_parse_listen("host", &l) == -1);
    CHECK(gw_config_parse_listen("host:0", &l) == -1);
    CHECK(gw_config_parse_listen("host:65536", &l) == -1);
    CHECK(gw_config_parse_listen("[::1]443", &l) == -1);

    gw_config_init(&cfg);
    CHECK(cfg.body_limit == 12 * 1024 * 1024);
    CHECK(cfg.threads >= 1);
    CHECK(gw_config_parse_args(&cfg, 8, argv1, &help, err, sizeof(err)) == 0 && !help);
    CHECK(cfg.num_listen == 2 && strcmp(cfg.listen[1].host, "::1") == 0);
    CHECK(cfg.plain_http == 1 && cfg.body_limit == 1024 * 1024 && cfg.threads == 3);
    CHECK(gw_config_check(&cfg, err, sizeof(err)) == 0);
    CHECK(gw_config_parse_args(&cfg, 2, argv_bad, &help, err, sizeof(err)) == -1 && strstr(err, "unknown option") != NULL);
    CHECK(gw_config_parse_args(&cfg, 2, argv_help, &help, err, sizeof(err)) == 0 && help);
    CHECK(gw_config_set(&cfg, "max-headers", "101", err, sizeof(err)) == -1);
    CHECK(gw_config_set(&cfg, "body-limit", "1G", err, sizeof(err)) == -1);
    CHECK(gw_config_set(&cfg, "body-limit", "512M", err, sizeof(err)) == 0 && cfg.body_limit == 512 * 1024 * 1024);
    CHECK(gw_config_set(&cfg, "max-headers", "abc", err, sizeof(err)) == -1);
    CHECK(gw_config_set(&cfg, "threads", "0", err, sizeof(err)) == -1);
    CHECK(gw_config_set(&cfg, "conninfo", "", err, sizeof(err)) == -1);
    CHECK(gw_config_set(&cfg, "trust-proxy", "maybe", err, sizeof(err)) == -1);

    /* TLS is mandatory unless --plain-http */
    gw_config_free(&cfg);
    gw_config_init(&cfg);
    CHECK(gw_config_check(&cfg, err, sizeof(err)) == -1);

    /* config file */
    gw_config_free(&cfg);
    gw_config_init(&cfg);
    fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, file, strlen(file)) == (ssize_t)strlen(file));
    close(fd);
    CHECK(gw_config_load_file(&cfg, path, err, sizeof(err)) == 0);
    CHECK(cfg.num_listen == 1 && strcmp(cfg.listen[0].port, "8080") == 0);
    CHECK(cfg.max_headers == 10 && cfg.http2 == 1 && strcmp(cfg.access_log, "off") == 0);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "bogus = 1\n", 10) == 10);
    close(fd);
    CHECK(gw_config_load_file(&cfg, path, err, sizeof(err)) == -1 && strstr(err, ":1:") != NULL);
    unlink(path);
    CHECK(gw_config_load_file(&cfg, path, err, sizeof(err)) == -1);
    gw_config_free(&cfg);
}

/*
 * test_validate checks the request validation rules.
 */
static void test_validate(void)
{
    CHECK(gw_validate_utf8(S("plain ascii")));
    CHECK(gw_validate_utf8(S("\xe6\x97\xa5\xe6\x9c\xac"))); /* 日本 */
    CHECK(gw_validate_utf8(S("\xf0\x9f\x98\x80")));         /* emoji */
    CHECK(!gw_validate_utf8(S("\xff")));                    /* invalid byte */
    CHECK(!gw_validate_utf8(S("\xc0\xaf")));                /* overlong */
    CHECK(!gw_validate_utf8(S("\xed\xa0\x80")));            /* surrogate */
    CHECK(!gw_validate_utf8(S("\xe6\x97")));                /* truncated */
    CHECK(!gw_validate_utf8(S("\xf4\x90\x80\x80")));        /* > U+10FFFF */

    CHECK(gw_validate_path(S("/v1/reports/123")));
    CHECK(gw_validate_path(S("/v1/%E6%97%A5")));
    CHECK(!gw_validate_path(S("")));
    CHECK(!gw_validate_path(S("v1")));
    CHECK(!gw_validate_path(S("/v1/\xff")));
    CHECK(!gw_validate_path(S("/v1/%FF")));    /* decodes to invalid UTF-8 */
    CHECK(!gw_validate_path(S("/v1/%E6%97"))); /* truncated after decoding */
    CHECK(!gw_validate_path(S("/v1/%00")));
    CHECK(!gw_validate_path(S("/v1/a\0b")));
    CHECK(!gw_validate_path(S("/v1/%zz")));
    CHECK(!gw_validate_path(S("/v1/%4")));
    CHECK(!gw_validate_path(S("/v1/\x01")));

    CHECK(gw_validate_query(S("")));
    CHECK(gw_validate_query(S("a=1&b=%E6%97%A5")));
    CHECK(gw_validate_query(S("a=%FF"))); /* decoded bytes are the database's business */
    CHECK(!gw_validate_query(S("a=%00")));
    CHECK(!gw_validate_query(S("a=\0")));
    CHECK(!gw_validate_query(S("a=\xff")));

    CHECK(gw_validate_header_value(S("Bearer abc.def")));
    CHECK(gw_validate_header_value(S("tab\tok")));
    CHECK(gw_validate_header_value(S("")));
    CHECK(!gw_validate_header_value(S("a\r\nb: c")));
    CHECK(!gw_validate_header_value(S("a\nb")));
    CHECK(!gw_validate_header_value(S("a\0b")));
    CHECK(!gw_validate_header_value(S("\xff")));

    CHECK(gw_validate_header_name(S("x-request-id")));
    CHECK(!gw_validate_header_name(S("")));
    CHECK(!gw_validate_header_name(S("bad name")));
    CHECK(!gw_validate_header_name(S("bad:name")));
    CHECK(!gw_validate_header_name(S("bad\r\n")));

    {
        char out[64];
        CHECK(gw_validate_ip(S(" 192.0.2.1"), out, sizeof(out)) && strcmp(out, "192.0.2.1") == 0);
        CHECK(gw_validate_ip(S("2001:db8::1 "), out, sizeof(out)) && strcmp(out, "2001:db8::1") == 0);
        CHECK(!gw_validate_ip(S("example.com"), out, sizeof(out)));
        CHECK(!gw_validate_ip(S(""), out, sizeof(out)));
    }
}

typedef struct st_pairs_t {
    char text[1024];
    int n;
} pairs_t;

/*
 * collect records parsed pairs as "name=value;" for comparison.
 */
static int collect(void *ctx, const char *name, size_t namelen, const char *value, size_t valuelen)
{
    pairs_t *p = ctx;
    size_t len = strlen(p->text);

    snprintf(p->text + len, sizeof(p->text) - len, "%.*s=%.*s;", (int)namelen, name, (int)valuelen, value);
    ++p->n;
    return 0;
}

/*
 * test_json checks header escaping and parsing of flat objects.
 */
static void test_json(void)
{
    gw_buf_t b = {NULL, 0, 0};
    pairs_t p;

    CHECK(gw_json_escape(&b, S("plain")) == 0 && strcmp(b.base, "\"plain\"") == 0);
    b.len = 0;
    CHECK(gw_json_escape(&b, S("q\"b\\s\t\x01\x7f")) == 0 && strcmp(b.base, "\"q\\\"b\\\\s\\t\\u0001\\u007f\"") == 0);
    b.len = 0;
    CHECK(gw_json_escape(&b, S("\xe6\x97\xa5")) == 0 && strcmp(b.base, "\"\xe6\x97\xa5\"") == 0);
    b.len = 0;
    CHECK(gw_json_escape(&b, "", 0) == 0 && strcmp(b.base, "\"\"") == 0);
    gw_buf_free(&b);

    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S("{\"content-type\": \"text/plain\", \"x\":\"a\\\"b\"}"), collect, &p) == 0);
    CHECK(p.n == 2 && strcmp(p.text, "content-type=text/plain;x=a\"b;") == 0);
    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S(" {} "), collect, &p) == 0 && p.n == 0);
    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S("{\"a\":\"\\u65e5\\ud83d\\ude00\"}"), collect, &p) == 0 &&
          strcmp(p.text, "a=\xe6\x97\xa5\xf0\x9f\x98\x80;") == 0);
    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S("{\"retry-after\": 5}"), collect, &p) == 0 && strcmp(p.text, "retry-after=5;") == 0);
    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S("{\"x\": \"a\\r\\nb\"}"), collect, &p) == 0 && strcmp(p.text, "x=a\r\nb;") == 0);
    memset(&p, 0, sizeof(p));
    memset(&p, 0, sizeof(p));
    CHECK(gw_json_parse_object(S("{\"set-cookie\": [\"a=1\", \"b=2\"], \"x\": [], \"y\": \"z\"}"), collect, &p) == 0);
    CHECK(p.n == 3 && strcmp(p.text, "set-cookie=a=1;set-cookie=b=2;y=z;") == 0);
    CHECK(gw_json_parse_object(S("{\"a\": [1]}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\": [\"b\",]}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\": [[\"b\"]]}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\": {\"b\": 1}}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\": \"b\""), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\" \"b\"}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("[1]"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\":\"\\ud800\"}"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S("{\"a\":\"b\"} x"), collect, &p) == -1);
    CHECK(gw_json_parse_object(S(""), collect, &p) == -1);
}

/*
 * test_accesslog checks that query values never reach the log and that
 * log lines cannot be forged.
 */
static void test_accesslog(void)
{
    char out[512];
    struct timeval tv = {1700000000, 123456};
    size_t n;

    gw_accesslog_redact_path(S("/v1/reports"), out, sizeof(out));
    CHECK(strcmp(out, "/v1/reports") == 0);
    gw_accesslog_redact_path(S("/v1/login?user=alice&password=secret&flag"), out, sizeof(out));
    CHECK(strcmp(out, "/v1/login?user=\xe2\x80\xa6&password=\xe2\x80\xa6&flag") == 0);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "alice") == NULL);
    gw_accesslog_redact_path(S("/v1/x?token=abc;b=c"), out, sizeof(out));
    CHECK(strcmp(out, "/v1/x?token=\xe2\x80\xa6;b=\xe2\x80\xa6") == 0);
    gw_accesslog_redact_path(S("/v1/a b\"\n"), out, sizeof(out));
    CHECK(strcmp(out, "/v1/a%20b%22%0A") == 0);
    gw_accesslog_redact_path(S("/v1/very/long/path"), out, 8);
    CHECK(strlen(out) <= 7);

    n = gw_accesslog_format(out, sizeof(out), &tv, "127.0.0.1", S("GET"), S("/v1/r?k=v"), 200, 12, 1.5, "abc");
    CHECK(n > 0 && strcmp(out, "2023-11-14T22:13:20.123Z 127.0.0.1 GET /v1/r?k=\xe2\x80\xa6 200 12 1.500 abc\n") == 0);
    n = gw_accesslog_format(out, sizeof(out), &tv, "::1", S("GET"), S("/"), 404, 0, 0.25, NULL);
    CHECK(n > 0 && strstr(out, " 404 0 0.250 -\n") != NULL);
}

/*
 * kv returns the value of keyword in ci's arrays (NULL if absent).
 */
static const char *kv(const gw_conninfo_t *ci, const char *keyword)
{
    size_t i;

    for (i = 0; ci->keywords[i] != NULL; ++i)
        if (strcmp(ci->keywords[i], keyword) == 0)
            return ci->values[i];
    return NULL;
}

/*
 * test_conninfo checks the splitting of multi-host connection strings and
 * the defaults the gateway adds.
 */
static void test_conninfo(void)
{
    gw_conninfo_t ci;
    char err[256];

    CHECK(gw_conninfo_parse(&ci, "host=db1,db2 port=5433 dbname=machi user=machi_gateway", 30000, err, sizeof(err)) == 0);
    CHECK(ci.num_hosts == 2);
    CHECK(strcmp(kv(&ci, "host"), "db1") == 0 && strcmp(kv(&ci, "port"), "5433") == 0);
    CHECK(strcmp(kv(&ci, "target_session_attrs"), "read-write") == 0);
    CHECK(strcmp(kv(&ci, "application_name"), "machi-gateway") == 0);
    CHECK(strcmp(kv(&ci, "options"), "-c statement_timeout=30000") == 0);
    CHECK(strcmp(kv(&ci, "dbname"), "machi") == 0);
    CHECK(ci.connect_timeout_ms == 5000);
    gw_conninfo_select(&ci, 1);
    CHECK(strcmp(kv(&ci, "host"), "db2") == 0 && strcmp(kv(&ci, "port"), "5433") == 0);
    gw_conninfo_select(&ci, 2);
    CHECK(strcmp(kv(&ci, "host"), "db1") == 0);
    gw_conninfo_free(&ci);

    CHECK(gw_conninfo_parse(&ci, "postgresql://u@h1:1,h2:2/machi?target_session_attrs=any&connect_timeout=3&options=-c%20x%3Dy",
                            1000, err, sizeof(err)) == 0);
    CHECK(ci.num_hosts == 2 && strcmp(kv(&ci, "target_session_attrs"), "any") == 0);
    CHECK(ci.connect_timeout_ms == 3000);
    CHECK(strcmp(kv(&ci, "options"), "-c statement_timeout=1000 -c x=y") == 0);
    gw_conninfo_select(&ci, 1);
    CHECK(strcmp(kv(&ci, "host"), "h2") == 0 && strcmp(kv(&ci, "port"), "2") == 0);
    gw_conninfo_free(&ci);

    CHECK(gw_conninfo_parse(&ci, "dbname=machi", 1000, err, sizeof(err)) == 0);
    CHECK(ci.num_hosts == 1 && kv(&ci, "host") == NULL);
    gw_conninfo_free(&ci);

    CHECK(gw_conninfo_parse(&ci, "host=a,b,c port=1,2", 1000, err, sizeof(err)) == -1 && strstr(err, "differ") != NULL);
    CHECK(gw_conninfo_parse(&ci, "bogus=1", 1000, err, sizeof(err)) == -1 && strstr(err, "invalid conninfo") != NULL);
    CHECK(gw_conninfo_parse(&ci, "host='unterminated", 1000, err, sizeof(err)) == -1);
}

/*
 * main runs every group and reports a summary; exit status 1 on failure.
 */
int main(void)
{
    test_config();
    test_validate();
    test_json();
    test_accesslog();
    test_conninfo();
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}

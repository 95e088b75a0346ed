/*
 * mailer.c - machi-mailer, the outbox drainer
 *
 * The database queues outgoing mail in its outbox and sends NOTIFY
 * machi_outbox for every new message.  This small program LISTENs on that
 * channel (and polls periodically in case a notification is missed),
 * claims messages with machi.outbox_claim(), sends each over SMTP with
 * libcurl, and reports the outcome with machi.outbox_ack(); the database
 * schedules retries.  A claimed message is marked 'sending' before it is
 * sent, so a mailer killed mid-run never sends a message twice
 * (at-most-once delivery).  SIGTERM/SIGINT finish the message in hand and
 * exit 0.  The SMTP password is read from a file, never from argv.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#define MAILER_VERSION "0.1.0"

/*
 * Options of the mailer; filled once from argv, read-only afterwards.
 */
typedef struct st_ml_config_t {
    const char *conninfo;
    const char *smtp_url;
    const char *from;
    const char *smtp_user;
    const char *password_file;
    const char *ca_file;
    char *password;
    char worker[128];
    long use_ssl;
    unsigned batch;
    unsigned poll_interval;
    unsigned smtp_timeout;
} ml_config_t;

/*
 * A message being uploaded to curl: the full RFC 5322 text and the read
 * position.
 */
typedef struct st_ml_payload_t {
    char *data;
    size_t len;
    size_t pos;
} ml_payload_t;

/*
 * Set by the signal handler, read by the main loop (the only global that
 * changes after start-up).
 */
static volatile sig_atomic_t ml_stop;

/*
 * ml_log writes one line to standard error.
 */
static void ml_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ml_log(const char *level, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "machi-mailer[%d]: %s: ", (int)getpid(), level);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * on_signal records a stop request; the main loop notices it between
 * messages.
 */
static void on_signal(int sig)
{
    (void)sig;
    ml_stop = 1;
}

/*
 * ml_usage prints --help.  Keep it in step with USAGE.md.
 */
static void ml_usage(FILE *fp, const char *argv0)
{
    fprintf(fp,
            "Usage: %s --smtp-url URL --from ADDRESS [OPTIONS]\n"
            "Sends the mail queued in machi's outbox over SMTP.\n"
            "\n"
            "  --conninfo STRING        libpq connection string (default \"dbname=machi user=machi_mailer\")\n"
            "  --smtp-url URL           smtp://host:port (STARTTLS per --starttls) or smtps://host:port (implicit TLS)\n"
            "  --starttls MODE          for smtp://: required (default), optional, or none\n"
            "  --smtp-user USER         SMTP AUTH user name (optional)\n"
            "  --smtp-password-file F   file whose first line is the SMTP AUTH password (never on the command line)\n"
            "  --ca-file FILE           CA bundle to verify the SMTP server's certificate (default: system store)\n"
            "  --from ADDRESS           envelope sender and From: header\n"
            "  --worker NAME            name recorded on claimed messages (default host:pid)\n"
            "  --batch N                messages claimed at once (default 5)\n"
            "  --poll-interval SEC      look at the outbox at least this often without a NOTIFY (default 30)\n"
            "  --smtp-timeout SEC       limit for one SMTP transaction (default 30)\n"
            "  -h, --help               show this text\n"
            "\n"
            "Signals: SIGTERM/SIGINT finish the message being sent, then exit 0.\n"
            "Delivery is at most once: messages claimed by a mailer that died stay 'sending' in the outbox.\n",
            argv0);
}

/*
 * ml_read_password loads the first line of the password file.  Returns
 * NULL (with a message) if the file cannot be read.
 */
static char *ml_read_password(const char *path)
{
    FILE *fp = fopen(path, "r");
    char buf[1024];
    size_t len;

    if (fp == NULL) {
        ml_log("error", "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fgets(buf, sizeof(buf), fp) == NULL)
        buf[0] = '\0';
    fclose(fp);
    len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    return strdup(buf);
}

/*
 * ml_parse_uint parses a bounded decimal option value.
 */
static int ml_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long v;

    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    v = strtoul(s, &end, 10);
    if (*end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/*
 * ml_parse_args fills cfg from argv.  Returns 0 to run, 1 after --help,
 * -1 on a usage error.
 */
static int ml_parse_args(ml_config_t *cfg, int argc, char **argv)
{
    char host[64] = "localhost";
    int i;

    memset(cfg, 0, sizeof(*cfg));
    cfg->conninfo = "dbname=machi user=machi_mailer";
    cfg->use_ssl = CURLUSESSL_ALL;
    cfg->batch = 5;
    cfg->poll_interval = 30;
    cfg->smtp_timeout = 30;
    gethostname(host, sizeof(host) - 1);
    snprintf(cfg->worker, sizeof(cfg->worker), "%s:%d", host, (int)getpid());

    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = NULL;
        char key[64];
        const char *eq;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ml_usage(stdout, argv[0]);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || strlen(a) >= sizeof(key) + 2)
            goto Bad;
        a += 2;
        if ((eq = strchr(a, '=')) != NULL) {
            memcpy(key, a, (size_t)(eq - a));
            key[eq - a] = '\0';
            v = eq + 1;
        } else {
            strcpy(key, a);
            if (i + 1 >= argc)
                goto Bad;
            v = argv[++i];
        }
        if (strcmp(key, "conninfo") == 0)
            cfg->conninfo = v;
        else if (strcmp(key, "smtp-url") == 0)
            cfg->smtp_url = v;
        else if (strcmp(key, "from") == 0)
            cfg->from = v;
        else if (strcmp(key, "smtp-user") == 0)
            cfg->smtp_user = v;
        else if (strcmp(key, "smtp-password-file") == 0)
            cfg->password_file = v;
        else if (strcmp(key, "ca-file") == 0)
            cfg->ca_file = v;
        else if (strcmp(key, "worker") == 0)
            snprintf(cfg->worker, sizeof(cfg->worker), "%s", v);
        else if (strcmp(key, "starttls") == 0) {
            if (strcmp(v, "required") == 0)
                cfg->use_ssl = CURLUSESSL_ALL;
            else if (strcmp(v, "optional") == 0)
                cfg->use_ssl = CURLUSESSL_TRY;
            else if (strcmp(v, "none") == 0)
                cfg->use_ssl = CURLUSESSL_NONE;
            else
                goto Bad;
        } else if (strcmp(key, "batch") == 0) {
            if (ml_parse_uint(v, 1, 1000, &cfg->batch) != 0)
                goto Bad;
        } else if (strcmp(key, "poll-interval") == 0) {
            if (ml_parse_uint(v, 1, 86400, &cfg->poll_interval) != 0)
                goto Bad;
        } else if (strcmp(key, "smtp-timeout") == 0) {
            if (ml_parse_uint(v, 1, 3600, &cfg->smtp_timeout) != 0)
                goto Bad;
        } else if (strcmp(key, "smtp-password") == 0 || strcmp(key, "password") == 0) {
            fprintf(stderr, "machi-mailer: passwords are not accepted on the command line; use --smtp-password-file\n");
            return -1;
        } else {
            goto Bad;
        }
    }
    if (cfg->smtp_url == NULL || cfg->from == NULL) {
        fprintf(stderr, "machi-mailer: --smtp-url and --from are required (see --help)\n");
        return -1;
    }
    if (strncmp(cfg->smtp_url, "smtp://", 7) != 0 && strncmp(cfg->smtp_url, "smtps://", 8) != 0) {
        fprintf(stderr, "machi-mailer: --smtp-url must start with smtp:// or smtps://\n");
        return -1;
    }
    if (strpbrk(cfg->from, "\r\n<>") != NULL) {
        fprintf(stderr, "machi-mailer: invalid --from address\n");
        return -1;
    }
    if (cfg->password_file != NULL && (cfg->password = ml_read_password(cfg->password_file)) == NULL)
        return -1;
    if (cfg->smtp_user != NULL && strncmp(cfg->smtp_url, "smtp://", 7) == 0 && cfg->use_ssl != CURLUSESSL_ALL)
        ml_log("warning", "SMTP AUTH without --starttls required may send the password unencrypted");
    return 0;
Bad:
    fprintf(stderr, "machi-mailer: invalid argument \"%s\" (see --help)\n", argv[i < argc ? i : argc - 1]);
    return -1;
}

/*
 * ml_append grows the payload buffer; aborts on out-of-memory since the
 * mailer cannot do anything useful then.
 */
static void ml_append(ml_payload_t *p, const char *s, size_t len)
{
    char *n = realloc(p->data, p->len + len + 1);

    if (n == NULL) {
        ml_log("fatal", "out of memory");
        exit(1);
    }
    p->data = n;
    memcpy(p->data + p->len, s, len);
    p->len += len;
    p->data[p->len] = '\0';
}

/*
 * ml_append_base64 appends data base64-encoded in lines of 76 characters
 * (used for the body, and for the RFC 2047 subject with wrap == 0).
 */
static void ml_append_base64(ml_payload_t *p, const unsigned char *data, size_t len, int wrap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, col = 0;

    for (i = 0; i < len; i += 3) {
        char q[4];
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        q[0] = tbl[(v >> 18) & 63];
        q[1] = tbl[(v >> 12) & 63];
        q[2] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        q[3] = i + 2 < len ? tbl[v & 63] : '=';
        ml_append(p, q, 4);
        col += 4;
        if (wrap && col >= 76) {
            ml_append(p, "\r\n", 2);
            col = 0;
        }
    }
    if (wrap && col != 0)
        ml_append(p, "\r\n", 2);
}

/*
 * ml_is_ascii tells whether a string can go into a header unencoded.
 */
static int ml_is_ascii(const char *s)
{
    for (; *s != '\0'; ++s)
        if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

/*
 * ml_build_message renders the RFC 5322 message: Date, From, To, Subject
 * (RFC 2047 encoded when not plain ASCII), Message-ID, MIME headers and
 * the body in base64.  Returns -1 when an address or the message id could
 * inject headers.
 */
static int ml_build_message(ml_payload_t *p, const ml_config_t *cfg, const char *to, const char *subject, const char *body,
                            const char *message_id)
{
    char line[1024], date[64], idbuf[512];
    size_t idlen = strlen(message_id);
    time_t now = time(NULL);
    struct tm tm;
    int n;

    /* accept the id with or without its angle brackets */
    if (idlen >= 2 && message_id[0] == '<' && message_id[idlen - 1] == '>') {
        if (idlen - 2 >= sizeof(idbuf))
            return -1;
        memcpy(idbuf, message_id + 1, idlen - 2);
        idbuf[idlen - 2] = '\0';
        message_id = idbuf;
    }
    if (strpbrk(to, "\r\n<>, ") != NULL || *to == '\0' || strpbrk(message_id, "\r\n<> ") != NULL || *message_id == '\0')
        return -1;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    n = snprintf(line, sizeof(line), "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nMessage-ID: <%s>\r\n", date, cfg->from, to, message_id);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -1;
    ml_append(p, line, (size_t)n);
    ml_append(p, "Subject: ", 9);
    if (ml_is_ascii(subject) && strlen(subject) < 900) {
        ml_append(p, subject, strlen(subject));
    } else {
        ml_append(p, "=?UTF-8?B?", 10);
        ml_append_base64(p, (const unsigned char *)subject, strlen(subject), 0);
        ml_append(p, "?=", 2);
    }
    ml_append(
        p, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        strlen("\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
    ml_append_base64(p, (const unsigned char *)body, strlen(body), 1);
    return 0;
}

/*
 * on_curl_read feeds the payload to libcurl.
 */
static size_t on_curl_read(char *buf, size_t size, size_t nmemb, void *userp)
{
    ml_payload_t *p = userp;
    size_t room = size * nmemb, n = p->len - p->pos;

    if (n > room)
        n = room;
    memcpy(buf, p->data + p->pos, n);
    p->pos += n;
    return n;
}

/*
 * ml_send delivers one message.  Returns 0 when the server accepted it;
 * otherwise -1 with the reason in err.
 */
static int ml_send(const ml_config_t *cfg, const char *to, const char *subject, const char *body, const char *message_id, char *err,
                   size_t errlen)
{
    ml_payload_t payload = {NULL, 0, 0};
    struct curl_slist *rcpt = NULL;
    char from[512], rcptbuf[512], curlerr[CURL_ERROR_SIZE] = "";
    CURL *curl = NULL;
    CURLcode rc;
    int ret = -1;

    if (ml_build_message(&payload, cfg, to, subject, body, message_id) != 0) {
        snprintf(err, errlen, "invalid recipient or message id");
        goto Exit;
    }
    snprintf(from, sizeof(from), "<%s>", cfg->from);
    snprintf(rcptbuf, sizeof(rcptbuf), "<%s>", to);
    if ((curl = curl_easy_init()) == NULL || (rcpt = curl_slist_append(NULL, rcptbuf)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto Exit;
    }
    curl_easy_setopt(curl, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_USE_SSL, cfg->use_ssl);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->smtp_user != NULL) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->smtp_user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->password != NULL ? cfg->password : "");
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_curl_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &payload);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)cfg->smtp_timeout);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curlerr);
    if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
        snprintf(err, errlen, "%s", curlerr[0] != '\0' ? curlerr : curl_easy_strerror(rc));
        goto Exit;
    }
    ret = 0;
Exit:
    curl_slist_free_all(rcpt);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    free(payload.data);
    return ret;
}

/*
 * on_notice drops server notices instead of letting libpq print them.
 */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/*
 * ml_connect opens the database connection and LISTENs.  Returns NULL (after
 * logging) when the database is not reachable.
 */
static PGconn *ml_connect(const ml_config_t *cfg)
{
    /* defaults first: the conninfo (expanded from dbname) may override them */
    const char *keys[] = {"application_name", "connect_timeout", "target_session_attrs", "dbname", NULL};
    const char *vals[] = {"machi-mailer", "10", "read-write", cfg->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    PGresult *res;

    if (PQstatus(pg) != CONNECTION_OK) {
        ml_log("warning", "cannot connect to the database: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, on_notice, NULL);
    res = PQexec(pg, "LISTEN machi_outbox");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        ml_log("warning", "LISTEN failed: %s", PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(pg);
        return NULL;
    }
    PQclear(res);
    ml_log("info", "connected, listening on machi_outbox");
    return pg;
}

/*
 * ml_ack reports one outcome.  Returns -1 if the database could not be
 * told (the message then stays 'sending': never sent twice).
 */
static int ml_ack(PGconn *pg, const char *id, int sent, const char *error)
{
    const char *params[3] = {id, sent ? "true" : "false", error};
    PGresult *res = PQexecParams(pg, "SELECT machi.outbox_ack($1::bigint, $2::boolean, $3::text)", 3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        ml_log("error", "cannot acknowledge message %s: %s", id, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/*
 * ml_drain claims and sends batches until the outbox has nothing due or
 * a stop is requested.  Returns -1 when the database connection failed.
 */
static int ml_drain(PGconn *pg, const ml_config_t *cfg)
{
    char batch[16];

    snprintf(batch, sizeof(batch), "%u", cfg->batch);
    while (!ml_stop) {
        const char *params[2] = {cfg->worker, batch};
        PGresult *res =
            PQexecParams(pg, "SELECT id, recipient, subject, body, message_id FROM machi.outbox_claim($1::text, $2::int)", 2, NULL,
                         params, NULL, NULL, 0);
        int i, n;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            ml_log("error", "cannot claim messages: %s", PQresultErrorMessage(res));
            PQclear(res);
            return -1;
        }
        n = PQntuples(res);
        for (i = 0; i != n; ++i) {
            const char *id = PQgetvalue(res, i, 0);
            char err[512];
            if (ml_stop) {
                /* hand the rest of the batch back for a later attempt rather than leave it 'sending' */
                if (ml_ack(pg, id, 0, "mailer stopped before sending") != 0 && PQstatus(pg) != CONNECTION_OK) {
                    PQclear(res);
                    return -1;
                }
                continue;
            }
            if (ml_send(cfg, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), err,
                        sizeof(err)) == 0) {
                ml_log("info", "sent message %s", id);
                if (ml_ack(pg, id, 1, NULL) != 0 && PQstatus(pg) != CONNECTION_OK) {
                    PQclear(res);
                    return -1;
                }
            } else {
                ml_log("warning", "message %s not sent: %s", id, err);
                if (ml_ack(pg, id, 0, err) != 0 && PQstatus(pg) != CONNECTION_OK) {
                    PQclear(res);
                    return -1;
                }
            }
        }
        PQclear(res);
        if ((unsigned)n < cfg->batch)
            break;
    }
    return 0;
}

/*
 * ml_wait sleeps until a NOTIFY arrives, the poll interval passes, or a
 * signal comes.  Signals are blocked outside pselect so none is missed.
 * Returns -1 when the connection broke.
 */
static int ml_wait(PGconn *pg, unsigned seconds, const sigset_t *unblocked)
{
    struct timespec ts = {(time_t)seconds, 0};
    fd_set rfds;
    int fd = pg != NULL ? PQsocket(pg) : -1, r;
    PGnotify *n;

    if (ml_stop)
        return 0;
    if (pg != NULL) {
        /* a NOTIFY may have arrived while claiming or acking: then look again at once */
        int pending = 0;
        if (!PQconsumeInput(pg))
            return -1;
        while ((n = PQnotifies(pg)) != NULL) {
            PQfreemem(n);
            pending = 1;
        }
        if (pending)
            return 0;
    }
    FD_ZERO(&rfds);
    if (fd >= 0)
        FD_SET(fd, &rfds);
    r = pselect(fd + 1, &rfds, NULL, NULL, &ts, unblocked);
    if (r > 0 && pg != NULL) {
        if (!PQconsumeInput(pg))
            return -1;
        while ((n = PQnotifies(pg)) != NULL)
            PQfreemem(n);
    }
    return 0;
}

/*
 * main: options, then the connect / drain / wait loop until a signal.
 */
int main(int argc, char **argv)
{
    ml_config_t cfg;
    struct sigaction sa;
    sigset_t block, unblocked;
    PGconn *pg = NULL;
    unsigned backoff = 1;
    int rc;

    if ((rc = ml_parse_args(&cfg, argc, argv)) != 0)
        return rc > 0 ? 0 : 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        ml_log("error", "cannot initialise libcurl");
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &unblocked);
    sigdelset(&unblocked, SIGTERM);
    sigdelset(&unblocked, SIGINT);

    ml_log("info", "starting as worker %s", cfg.worker);
    while (!ml_stop) {
        if (pg == NULL) {
            if ((pg = ml_connect(&cfg)) == NULL) {
                ml_wait(NULL, backoff, &unblocked);
                backoff = backoff * 2 > 30 ? 30 : backoff * 2;
                continue;
            }
            backoff = 1;
        }
        if (ml_drain(pg, &cfg) != 0 || ml_wait(pg, cfg.poll_interval, &unblocked) != 0 || PQstatus(pg) != CONNECTION_OK) {
            ml_log("warning", "database connection lost, reconnecting");
            PQfinish(pg);
            pg = NULL;
        }
    }
    if (pg != NULL)
        PQfinish(pg);
    free(cfg.password);
    curl_global_cleanup();
    ml_log("info", "stopped");
    return 0;
}

/*
 * main.c - process start-up, event loops and signals of machi-gateway
 *
 * The main thread parses the configuration, builds the h2o configuration
 * and the TLS context, binds one SO_REUSEPORT listener per thread and
 * address (so the kernel spreads connections over the loops), starts one
 * event loop per thread and then only waits for signals.  SIGTERM/SIGINT
 * start a graceful stop: loops close their listeners, let in-flight
 * requests finish for at most --drain-timeout and exit; the process exits
 * 0.  SIGHUP reopens the access log file.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "server.h"
#include <h2o/serverutil.h>

#define TICK_MS 100

/*
 * Process-wide state of the gateway: fixed after start-up except stop,
 * which the signal-waiting main thread sets and the loops read.
 */
typedef struct st_gw_server_t {
    gw_config_t cfg;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    int logfd;
    gw_loop_t *loops;
    volatile sig_atomic_t stop;
} gw_server_t;

/*
 * gw_listen_open creates one bound, listening, non-blocking socket with
 * SO_REUSEPORT for addr.  Returns the fd or -1 (errno set, message in err).
 */
static int gw_listen_open(const gw_listen_t *addr, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    int fd = -1, on = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(addr->host, addr->port, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s:%s: %s", addr->host, addr->port, gai_strerror(rc));
        return -1;
    }
    if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        (res->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%s: %s", addr->host, addr->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/*
 * gw_pause_accepting stops reading the listeners for a tick when the
 * process is out of file descriptors; otherwise the still-readable
 * listener would make the loop spin.  on_tick resumes.
 */
static void gw_pause_accepting(gw_loop_t *gl)
{
    size_t i;

    if (gl->accept_paused)
        return;
    gl->accept_paused = 1;
    for (i = 0; i != gl->num_listeners; ++i)
        h2o_socket_read_stop(gl->listeners[i]);
    gw_log("warning", "out of file descriptors; not accepting for %d ms", TICK_MS);
}

static void on_accept(h2o_socket_t *listener, const char *err);

/*
 * gw_resume_accepting undoes gw_pause_accepting.
 */
static void gw_resume_accepting(gw_loop_t *gl)
{
    size_t i;

    gl->accept_paused = 0;
    for (i = 0; i != gl->num_listeners; ++i)
        h2o_socket_read_start(gl->listeners[i], on_accept);
}

/*
 * on_accept takes new connections off a listener and hands them to h2o
 * (TLS handshake included).  Bounded per wake-up to stay fair.
 */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    gw_loop_t *gl = listener->data;
    int i;

    if (err != NULL)
        return;
    for (i = 0; i != 32; ++i) {
        h2o_socket_t *sock;
        errno = 0;
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                gw_pause_accepting(gl);
            break;
        }
        h2o_accept(&gl->accept_ctx, sock);
    }
}

/*
 * on_tick runs every TICK_MS in each loop: database reconnects, and the
 * graceful stop (close listeners, wait for in-flight requests, bounded).
 */
static void on_tick(h2o_timeout_entry_t *entry)
{
    gw_loop_t *gl = H2O_STRUCT_FROM_MEMBER(gw_loop_t, tick_entry, entry);
    uint64_t now = h2o_now(gl->ctx.loop);
    size_t i;

    gw_db_tick(gl->db);
    if (gl->accept_paused && !*gl->stop)
        gw_resume_accepting(gl);
    if (*gl->stop && !gl->stopping) {
        gl->stopping = 1;
        h2o_context_request_shutdown(&gl->ctx); /* no keep-alive, GOAWAY on HTTP/2 */
        for (i = 0; i != gl->num_listeners; ++i) {
            h2o_socket_read_stop(gl->listeners[i]);
            h2o_socket_close(gl->listeners[i]);
            gl->listeners[i] = NULL;
        }
        gl->num_listeners = 0;
        gl->drain_deadline = now + (uint64_t)gl->cfg->drain_timeout * 1000;
    }
    if (gl->stopping && (gl->active_requests == 0 || now >= gl->drain_deadline)) {
        if (gl->active_requests != 0)
            gw_log("warning", "drain timeout: %zu requests still in flight", gl->active_requests);
        gl->done = 1;
        return;
    }
    h2o_timeout_link(gl->ctx.loop, &gl->tick_timeout, &gl->tick_entry);
}

/*
 * gw_loop_run is the body of each event-loop thread.
 */
static void *gw_loop_run(void *arg)
{
    gw_loop_t *gl = arg;
    h2o_evloop_t *loop = h2o_evloop_create();
    size_t i;

    gl->db = gw_db_create(loop, gl->cfg);
    h2o_context_init(&gl->ctx, loop, gl->globalconf);
    gw_handler_init_loop(gl);
    gl->accept_ctx.ctx = &gl->ctx;
    for (i = 0; i != gl->num_listeners; ++i) {
        gl->listeners[i] = h2o_evloop_socket_create(loop, gl->fds[i], H2O_SOCKET_FLAG_DONT_READ);
        gl->listeners[i]->data = gl;
        h2o_socket_read_start(gl->listeners[i], on_accept);
    }
    h2o_timeout_init(loop, &gl->tick_timeout, TICK_MS);
    gl->tick_entry.cb = on_tick;
    h2o_timeout_link(loop, &gl->tick_timeout, &gl->tick_entry);
    while (!gl->done)
        h2o_evloop_run(loop, INT32_MAX);
    /* let the last responses leave the socket buffers */
    {
        uint64_t until = h2o_now(loop) + 200;
        while (h2o_now(loop) < until)
            h2o_evloop_run(loop, 50);
    }
    gw_handler_flush_log(gl);
    gw_db_destroy(gl->db);
    return NULL;
}

/*
 * main: configuration, sockets, threads, then signals.
 */
int main(int argc, char **argv)
{
    static gw_server_t srv;
    h2o_hostconf_t *hostconf;
    char err[1024];
    int want_help;
    sigset_t sigs;
    unsigned t;
    size_t i;

    gw_config_init(&srv.cfg);
    if (gw_config_parse_args(&srv.cfg, argc, argv, &want_help, err, sizeof(err)) != 0) {
        fprintf(stderr, "machi-gateway: %s (see --help)\n", err);
        return 2;
    }
    if (want_help) {
        gw_config_usage(stdout, argv[0]);
        return 0;
    }
    if (gw_config_check(&srv.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "machi-gateway: %s\n", err);
        return 2;
    } else {
        gw_conninfo_t ci;
        if (gw_conninfo_parse(&ci, srv.cfg.conninfo, srv.cfg.request_timeout * 1000, err, sizeof(err)) != 0) {
            fprintf(stderr, "machi-gateway: %s\n", err);
            return 2;
        }
        gw_conninfo_free(&ci);
    }
    signal(SIGPIPE, SIG_IGN);
    {
        /* every connection needs a descriptor: use all the hard limit allows */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if ((srv.logfd = gw_handler_open_log(&srv.cfg)) == -1) {
        fprintf(stderr, "machi-gateway: cannot open access log %s: %s\n", srv.cfg.access_log, strerror(errno));
        return 1;
    }
    if (!srv.cfg.plain_http && (srv.ssl_ctx = gw_tls_create(&srv.cfg, err, sizeof(err))) == NULL) {
        fprintf(stderr, "machi-gateway: %s\n", err);
        return 1;
    }

    h2o_config_init(&srv.globalconf);
    srv.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("machi"));
    srv.globalconf.max_request_entity_size = srv.cfg.body_limit;
    srv.globalconf.http1.req_timeout = (uint64_t)srv.cfg.idle_timeout * 1000;
    srv.globalconf.http1.upgrade_to_http2 = srv.cfg.http2 && srv.cfg.plain_http;
    srv.globalconf.http2.idle_timeout = (uint64_t)srv.cfg.idle_timeout * 1000;
    srv.globalconf.handshake_timeout = (uint64_t)srv.cfg.idle_timeout * 1000;
    hostconf = h2o_config_register_host(&srv.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (srv.cfg.static_dir != NULL && gw_static_register(hostconf, &srv.cfg, srv.logfd) != 0) {
        fprintf(stderr, "machi-gateway: cannot serve %s\n", srv.cfg.static_dir);
        return 1;
    }
    gw_handler_register(hostconf, &srv.cfg, srv.logfd);
    if (srv.cfg.http2)
        gw_log("warning", "HTTP/2 enabled: Debian's h2o 2.2.5 lacks the 2023 HTTP/2 rapid-reset fix (CVE-2023-44487)");

    srv.loops = calloc(srv.cfg.threads, sizeof(*srv.loops));
    if (srv.loops == NULL)
        return 1;
    for (t = 0; t != srv.cfg.threads; ++t) {
        gw_loop_t *gl = srv.loops + t;
        gl->cfg = &srv.cfg;
        gl->stop = &srv.stop;
        gl->accept_ctx.ssl_ctx = srv.ssl_ctx;
        gl->accept_ctx.hosts = srv.globalconf.hosts;
        gl->globalconf = &srv.globalconf;
        for (i = 0; i != srv.cfg.num_listen; ++i) {
            if ((gl->fds[i] = gw_listen_open(&srv.cfg.listen[i], err, sizeof(err))) < 0) {
                fprintf(stderr, "machi-gateway: %s\n", err);
                return 1;
            }
        }
        gl->num_listeners = srv.cfg.num_listen;
    }
    /* everything privileged is done: listeners bound, key and log opened */
    if (srv.cfg.user != NULL) {
        if (h2o_setuidgid(srv.cfg.user) != 0) {
            fprintf(stderr, "machi-gateway: cannot switch to user %s\n", srv.cfg.user);
            return 1;
        }
    } else if (geteuid() == 0) {
        gw_log("warning", "running as root; use --user to switch to an unprivileged user");
    }
    for (t = 0; t != srv.cfg.threads; ++t) {
        if (pthread_create(&srv.loops[t].tid, NULL, gw_loop_run, srv.loops + t) != 0) {
            fprintf(stderr, "machi-gateway: cannot start thread\n");
            return 1;
        }
    }
    for (i = 0; i != srv.cfg.num_listen; ++i)
        gw_log("info", "listening on %s:%s (%s), %u threads, %u database connections each", srv.cfg.listen[i].host,
               srv.cfg.listen[i].port, srv.cfg.plain_http ? "plain HTTP" : "TLS", srv.cfg.threads, srv.cfg.db_connections);

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            int fd;
            if (srv.logfd > 2 && (fd = gw_handler_open_log(&srv.cfg)) >= 0) {
                dup2(fd, srv.logfd);
                close(fd);
            }
            continue;
        }
        gw_log("info", "received signal %d, draining (at most %u s)", sig, srv.cfg.drain_timeout);
        srv.stop = 1;
        break;
    }
    {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += srv.cfg.drain_timeout + 5;
        for (t = 0; t != srv.cfg.threads; ++t) {
            if (pthread_timedjoin_np(srv.loops[t].tid, NULL, &deadline) != 0) {
                gw_log("warning", "event loop %u did not stop in time", t);
                break;
            }
        }
    }
    gw_log("info", "stopped");
    return 0;
}

/*
 * static.c - the browser console under /console/
 *
 * Files of --static-dir are served by h2o's file handler, which already
 * normalises the path (no escape from the directory), sets content types
 * from its MIME map, sends ETag and Last-Modified, and lists no
 * directories.  A guard handler in front of it refuses dotfiles and
 * dot-directories (".git", ".env") and gives the request an id.
 */
#include <string.h>
#include "server.h"

/*
 * The guard in front of the file handler.
 */
typedef struct st_gw_static_guard_t {
    h2o_handler_t super;
} gw_static_guard_t;

/*
 * gw_static_has_dot_segment tells whether any segment of the normalised
 * path starts with '.'.
 */
static int gw_static_has_dot_segment(h2o_iovec_t path)
{
    size_t i;

    for (i = 0; i + 1 < path.len; ++i)
        if (path.base[i] == '/' && path.base[i + 1] == '.')
            return 1;
    return 0;
}

/*
 * on_guard_req refuses malformed paths with 400 (NUL, control bytes, bad
 * UTF-8, raw or percent-encoded), dotfiles with 404, and passes everything else to
 * the file handler (by returning -1).
 */
static int on_guard_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    gw_handler_track(req);
    /* the raw path as for the API (no %00, control bytes or bad UTF-8): the
       file handler opens the name up to a decoded NUL but would take the
       media type from the whole name */
    if (!gw_validate_path(req->path.base, req->query_at == SIZE_MAX ? req->path.len : req->query_at) ||
        memchr(req->path_normalized.base, '\0', req->path_normalized.len) != NULL) {
        h2o_send_error_400(req, "Bad Request", "bad request", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    if (gw_static_has_dot_segment(req->path_normalized) ||
        memchr(req->path_normalized.base, '\\', req->path_normalized.len) != NULL) {
        h2o_send_error_404(req, "Not Found", "not found", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    return -1;
}

/*
 * gw_static_register mounts --static-dir at /console/.  Must run before
 * the catch-all "/" path is registered (h2o picks the first match).
 * Returns -1 if the file handler cannot be created.
 */
int gw_static_register(h2o_hostconf_t *hostconf, const gw_config_t *cfg, int logfd)
{
    static const char *index_files[] = {"index.html", NULL};
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/console", 0);
    gw_static_guard_t *guard = (void *)h2o_create_handler(pathconf, sizeof(*guard));
    h2o_file_handler_t *fh;

    guard->super.on_req = on_guard_req;
    if ((fh = h2o_file_register(pathconf, cfg->static_dir, index_files, NULL, 0)) == NULL)
        return -1;
    h2o_mimemap_set_default_type(h2o_file_get_mimemap(fh), "application/octet-stream", NULL);
    gw_handler_register_common(pathconf, cfg, logfd);
    return 0;
}

/*
 * tls.c - the TLS server context
 *
 * One SSL_CTX shared by all event loops: TLS 1.2 as the minimum, only
 * ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), no
 * compression, no renegotiation, and ALPN offering http/1.1 (plus h2 only
 * with --http2).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "server.h"

static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char TLS13_SUITES[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/*
 * gw_tls_error copies OpenSSL's last error after a prefix into err.
 */
static void gw_tls_error(char *err, size_t errlen, const char *what, const char *file)
{
    char ossl[256] = "";
    unsigned long e = ERR_get_error();

    if (e != 0)
        ERR_error_string_n(e, ossl, sizeof(ossl));
    snprintf(err, errlen, "%s %s: %s", what, file != NULL ? file : "", ossl);
    ERR_clear_error();
}

/*
 * gw_tls_create builds the server context from --tls-cert/--tls-key.
 * Returns NULL with a message in err when a file is missing or the key
 * does not match the certificate.  Called once, before threads start.
 */
SSL_CTX *gw_tls_create(const gw_config_t *cfg, char *err, size_t errlen)
{
    static const h2o_iovec_t http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        gw_tls_error(err, errlen, "cannot create TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 || SSL_CTX_set_ciphersuites(ctx, TLS13_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
        gw_tls_error(err, errlen, "cannot set TLS ciphers", NULL);
        goto Error;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        gw_tls_error(err, errlen, "cannot load certificate", cfg->tls_cert);
        goto Error;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        gw_tls_error(err, errlen, "cannot load private key", cfg->tls_key);
        goto Error;
    }
    h2o_ssl_register_alpn_protocols(ctx, cfg->http2 ? h2o_http2_alpn_protocols : http1_only);
    return ctx;
Error:
    SSL_CTX_free(ctx);
    return NULL;
}

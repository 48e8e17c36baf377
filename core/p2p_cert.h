/* Internal to the TLS transport (and its tests): the TLS 1.3 context built
 * from a node's Ed25519 key, and the node id of a peer certificate. */
#pragma once

#include <openssl/ssl.h>

#include "crypto.h"

/* A TLS 1.3-only context whose certificate is self-signed by `key`, used
 * for both the server and the client role. Peer certificates are required
 * both ways and checked by `verify_cb` (see SSL_CTX_set_verify). */
SSL_CTX *cairn_p2p_ssl_ctx_new (const CairnKey *key,
                                SSL_verify_cb verify_cb, GError **error);

/* The node id (address of the Ed25519 key) of a certificate; FALSE with an
 * error naming the key type when the key is not Ed25519. */
gboolean cairn_p2p_cert_id (X509 *cert, char out[41], GError **error);

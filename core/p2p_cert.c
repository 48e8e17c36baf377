/* The self-signed certificate of a node and the TLS 1.3 context around it
 * (see p2p_cert.h). The certificate only carries the Ed25519 key: peers
 * pin the key's address, so names, issuers and dates carry no meaning. */
#include "p2p_cert.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cairn/error.h>

#include "crypto_openssl.h"

/* Ten years: the certificate is remade at every start anyway. */
#define CERT_DAYS 3650

static void
set_openssl_error (GError **error, const char *what)
{
  unsigned long e = ERR_get_error ();
  char buf[256] = "unknown OpenSSL error";

  if (e != 0)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED, "TLS: %s: %s", what,
               buf);
}

static X509 *
make_cert (const CairnKey *key, GError **error)
{
  EVP_PKEY *pkey = cairn_key_evp (key);
  X509 *cert = X509_new ();
  X509_NAME *name;
  ASN1_INTEGER *serial;

  if (cert == NULL) {
    set_openssl_error (error, "X509_new");
    return NULL;
  }
  name = X509_get_subject_name (cert);
  serial = X509_get_serialNumber (cert);
  if (X509_set_version (cert, X509_VERSION_3) != 1
      || ASN1_INTEGER_set (serial, (long)g_random_int_range (1, G_MAXINT32))
             != 1
      || X509_gmtime_adj (X509_getm_notBefore (cert), -3600) == NULL
      || X509_gmtime_adj (X509_getm_notAfter (cert),
                          (long)CERT_DAYS * 24 * 3600)
             == NULL
      || X509_NAME_add_entry_by_txt (
             name, "CN", MBSTRING_ASC,
             (const unsigned char *)cairn_key_address (key), -1, -1, 0)
             != 1
      || X509_set_issuer_name (cert, name) != 1
      || X509_set_pubkey (cert, pkey) != 1) {
    set_openssl_error (error, "building the node certificate");
    X509_free (cert);
    return NULL;
  }
  /* Ed25519 hashes internally: no digest. */
  if (X509_sign (cert, pkey, NULL) <= 0) {
    set_openssl_error (error, "signing the node certificate");
    X509_free (cert);
    return NULL;
  }
  return cert;
}

SSL_CTX *
cairn_p2p_ssl_ctx_new (const CairnKey *key, SSL_verify_cb verify_cb,
                       GError **error)
{
  SSL_CTX *ctx;
  X509 *cert;

  cert = make_cert (key, error);
  if (cert == NULL)
    return NULL;
  ctx = SSL_CTX_new (TLS_method ());
  if (ctx == NULL) {
    set_openssl_error (error, "SSL_CTX_new");
    X509_free (cert);
    return NULL;
  }
  if (SSL_CTX_set_min_proto_version (ctx, TLS1_3_VERSION) != 1
      || SSL_CTX_set_max_proto_version (ctx, TLS1_3_VERSION) != 1
      || SSL_CTX_use_certificate (ctx, cert) != 1
      || SSL_CTX_use_PrivateKey (ctx, cairn_key_evp (key)) != 1
      || SSL_CTX_check_private_key (ctx) != 1) {
    set_openssl_error (error, "configuring the TLS context");
    X509_free (cert);
    SSL_CTX_free (ctx);
    return NULL;
  }
  X509_free (cert);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                      verify_cb);
  SSL_CTX_set_verify_depth (ctx, 1);
  SSL_CTX_set_mode (ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

gboolean
cairn_p2p_cert_id (X509 *cert, char out[41], GError **error)
{
  EVP_PKEY *pkey = cert ? X509_get0_pubkey (cert) : NULL;
  uint8_t raw[32];
  size_t len = sizeof raw;

  if (pkey == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "certificate has no public key");
    return FALSE;
  }
  if (!EVP_PKEY_is_a (pkey, "ED25519")) {
    const char *type = EVP_PKEY_get0_type_name (pkey);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "certificate key is %s, not Ed25519", type ? type : "unknown");
    return FALSE;
  }
  if (EVP_PKEY_get_raw_public_key (pkey, raw, &len) != 1 || len != 32) {
    ERR_clear_error ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "certificate Ed25519 key is unreadable");
    return FALSE;
  }
  cairn_address_from_pubkey (raw, out);
  return TRUE;
}

/* services: verified offline services (internal declarations).
 *
 * The plugin's files: services.c (lifecycle, config, route dispatch),
 * txs.c (tx types, genesis params, the end_block auto-publication),
 * reads.c (JSON read routes), gateway.c (content keys, query keys, the
 * decrypted video), segcrypt.c (the encrypted video format; no host call).
 * See README.md for the formats and the state layout. */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 2
#include <cairn/bank.h>
#include <cairn/cairn.h>

#define SVC_ID "services"

/* Signature domains ("<domain>\0<canonical JSON>"). */
#define SVC_DOMAIN_QUERY_KEY "cairn/services/query-key/v1"
#define SVC_DOMAIN_KEY_REQUEST "cairn/services/key-request/v1"
#define SVC_DOMAIN_CONTENT_KEY "cairn/services/content-key/v1"

#define SVC_DEFAULT_REVIEW_PERIOD 100
#define SVC_DEFAULT_PUBLISH_DELAY 0
#define SVC_DEFAULT_STAKE_BLOCKS 1000
#define SVC_MAX_TEXT 4096

typedef struct Services {
  CairnPlugin *self;
  const CairnBankService *bank;
  int64_t key_ttl_ms;           /* [services] key_ttl_seconds */
  int64_t skew_ms;              /* [services] request_skew_seconds */
  gboolean remote_content_keys; /* [services] remote_content_keys */
  char *keys_path;              /* <data_dir>/content-keys.json */
  json_t *content_keys;         /* "<provider>/<cid>" -> {"key","ms"} */
} Services;

/* The core's host table (set in init; lives as long as the process). */
extern const CairnHost *svc_host;

/* A JSON value of the plugin's state, or NULL with *error unset when the
 * key is absent. */
json_t *svc_get (Services *s, CairnTxCtx *tx, const char *key, GError **error);
char *svc_b64url_encode (const void *data, size_t len);
/* NULL when text is not unpadded base64url. */
guchar *svc_b64url_decode (const char *text, size_t n, size_t *out_len);

/* ---- txs.c ---- */
gboolean svc_register_txs (Services *s, GError **error);
/* The chain's params (genesis app_state.services, with defaults). */
json_t *svc_params (Services *s, CairnTxCtx *tx, GError **error);
gboolean svc_is_regulator (Services *s, CairnTxCtx *tx, const char *address);

/* ---- reads.c ---- */
gboolean svc_route_get (CairnPlugin *self, const CairnRequest *req,
                        CairnResponse *resp, void *user_data, GError **error);

/* ---- gateway.c ---- */
gboolean svc_gateway_init (Services *s, GError **error);
gboolean svc_route_content_key (Services *s, const CairnRequest *req,
                                CairnResponse *resp, GError **error);
gboolean svc_route_query_key (Services *s, const char *service,
                              const CairnRequest *req, CairnResponse *resp,
                              GError **error);
gboolean svc_route_video (Services *s, const char *service,
                          const CairnRequest *req, CairnResponse *resp,
                          GError **error);

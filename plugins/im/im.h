/* im: end-to-end encrypted instant messaging (internal declarations).
 *
 * The plugin's files: im.c (lifecycle, config, shared helpers and the
 * checks that the tx handlers and the routes share), txs.c (tx types,
 * genesis params), routes.c (HTTP reads, registration, the admission
 * check of messages, the SSE stream), content.c (ciphertext fetched from
 * the storing node over direct P2P messages). The node never decrypts:
 * it handles ciphertext, public keys and signatures only. State layout
 * (namespace "im"):
 *
 *   params                     {"registrar_role"}
 *   user/<addr>                the certificate {"name","address","pubkey",
 *                              "enc_pubkey","enc_version","profile",
 *                              "registrar","height","revoked"} (+
 *                              "revoked_by","revoked_height" once revoked)
 *   name/<name>                {"address"} (a name stays taken for good)
 *   enc/<addr>/<version %06>   {"enc_pubkey","height"}, every key so far
 *   c/<a>/<b>                  {"since"} while a and b are contacts (both
 *                              directions)
 *   req/<to>/<from>            {"height"} a pending bind request, and its
 *   reqout/<from>/<to>         {"height"} mirror (listing one's own)
 *   unreq/<to>/<from>          {"height"} a pending unbind request, and its
 *   unreqout/<from>/<to>       {"height"} mirror
 *   set/<addr>                 {"allow_strangers"}
 *   seq/<addr>                 {"in","out"} the last inbox / outbox seq
 *   in/<addr>/<seq %020>       a message record {"id","from","pubkey","to",
 *   out/<addr>/<seq %020>      "kind","cid","content_sha256","size",
 *                              "timestamp","store","sig","height"}; seqs
 *                              run 1, 2, ... without gaps
 *   sig/<sha256 of sig hex>    {} every message signature ever recorded
 *                              (replay guard)
 *   cid/<cid>                  {} every CID a message names (this node
 *                              answers P2P content requests for these only)
 */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 4
#include <cairn/cairn.h>

#define IM_ID "im"
#define IM_DOMAIN_REGISTER "cairn.im.register"
#define IM_DOMAIN_MESSAGE "cairn.im.message"
/* The core's tx signature domain (a signed tx is checked by the admission
 * route before its own checks; the ledger README documents it). */
#define IM_DOMAIN_TX "cairn/tx/v1"
/* Timestamps of registration requests and messages: at most this far from
 * the block time (fixed, so every node decides alike). */
#define IM_CHAIN_SKEW_MS (300 * 1000)
#define IM_KEYBUF 320
#define IM_NAME_MIN 3
#define IM_NAME_MAX 32
#define IM_PROFILE_FIELDS 8
#define IM_PROFILE_KEY_MAX 32
#define IM_PROFILE_VALUE_MAX 128
#define IM_MAX_ENC_VERSION 999999
/* Inbox/outbox pages. */
#define IM_PAGE_DEFAULT 100
#define IM_PAGE_MAX 1000
/* P2P content chunks. */
#define IM_CHUNK (1u << 20)
#define IM_MAX_FETCHES 16

typedef struct ImFetch ImFetch;
typedef struct ImStream ImStream;

typedef struct Im {
  CairnPlugin *self;
  char addr[41];            /* this node */
  int64_t skew_ms;          /* [im] request_skew_seconds (registrar route) */
  int64_t fetch_timeout_ms; /* [im] fetch_timeout_seconds */
  guint sub_message;
  /* SSE streams: recipient address -> GPtrArray of ImStream (not owned),
   * and every stream (owned) for the closed callback and fini. */
  GHashTable *streams_by_addr;
  GPtrArray *streams;
  guint pump_timer;
  /* Registrations this node submitted that may not have committed yet:
   * "name/<name>" and "user/<addr>" -> expiry (now_ms), so a second
   * request for the same name is refused here and not by the chain. */
  GHashTable *pending_regs;
  /* P2P fetches: cid -> ImFetch */
  GHashTable *fetches;
  guint fetch_timer;
  uint64_t chunks_served, fetches_done, fetches_failed;
} Im;

extern const CairnHost *im_host;

/* ---- im.c: helpers ---- */
/* A JSON value of the plugin's state (tx NULL: the head), or NULL with
 * *error unset when the key is absent. */
json_t *im_get (Im *im, CairnTxCtx *tx, const char *key, GError **error);
gboolean im_put (Im *im, CairnTxCtx *tx, const char *key, const json_t *v,
                 GError **error);
const char *im_str (const json_t *o, const char *k);
json_int_t im_int (const json_t *o, const char *k);
/* "<prefix>/<addr>/<seq %020>" (g_free) */
char *im_box_key (const char *box, const char *addr, uint64_t seq);
/* The registrar role from params (or the default "im_registrar"). */
char *im_registrar_role (Im *im, CairnTxCtx *tx);
void im_metrics (Im *im);

/* ---- im.c: checks shared by the chain (tx set) and the routes (tx NULL,
 * the head state and this node's clock) ---- */
gboolean im_name_valid (const char *name);
gboolean im_address_ok (const char *what, const char *field, const char *a,
                        GError **error);
/* The certificate of addr, or NULL: NOT_FOUND when unregistered,
 * UNAUTHORIZED when revoked (unless allow_revoked), with `what` and
 * `role` ("sender", "recipient") in the message. */
json_t *im_user (Im *im, CairnTxCtx *tx, const char *what, const char *role,
                 const char *addr, gboolean allow_revoked, GError **error);
/* im.register's body without state: shapes, name syntax, profile, and the
 * request's signature by pubkey. */
gboolean im_register_check_body (const json_t *body, GError **error);
/* Name and address free; the timestamp within skew_ms of now_ms. */
gboolean im_register_check_state (Im *im, CairnTxCtx *tx, const json_t *body,
                                  int64_t now_ms, int64_t skew_ms,
                                  GError **error);
/* im.send's body without state. */
gboolean im_send_check_body (const json_t *body, GError **error);
/* Everything else the chain checks for a message from `sender`
 * (pubkey_hex its key): the signature, both users, the contact rule, the
 * timestamp, replay. */
gboolean im_send_check_state (Im *im, CairnTxCtx *tx, const char *sender,
                              const char *pubkey_hex, const json_t *body,
                              int64_t now_ms, GError **error);
/* sig/<sha256 of sig hex> for a message signature (g_free). */
char *im_sig_key (const char *sig_hex);

/* ---- txs.c ---- */
gboolean im_register_txs (Im *im, GError **error);

/* ---- routes.c ---- */
gboolean im_register_routes (Im *im, GError **error);
gboolean im_streams_start (Im *im, GError **error);
void im_streams_stop (Im *im);
void im_streams_free (Im *im);

/* ---- content.c ---- */
void im_content_stop (Im *im);
void im_content_free (Im *im);
/* Start or continue fetching cid from store; fills *have and *size
 * (UINT64_MAX until the first chunk arrived). NOT_FOUND / FAILED with the
 * reason when it cannot (store not connected, a fetch failed since the
 * last call, too many fetches). */
gboolean im_fetch (Im *im, const char *cid, const char *store, uint64_t *have,
                   uint64_t *size, GError **error);
void im_on_direct (CairnPlugin *self, const char *peer_id, const void *data,
                   size_t len, void *user_data);

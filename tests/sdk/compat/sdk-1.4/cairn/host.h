/* Cairn SDK — the host table: every core service a plugin may use.
 *
 * Plugins get `const CairnHost *` in init and call only through it, so a
 * plugin has no undefined symbols but libc, GLib, Jansson and OpenSSL.
 * The table starts with its own size and is only ever appended to; test
 * for a function added after 1.0 with CAIRN_HOST_HAS(host, fn).
 *
 * The table is static in the core: the pointer stays valid for the life of
 * the process, so a plugin may keep it in a static variable. Calls are made
 * from the main loop thread only.
 *
 * Conventions: functions that can fail take GError **; lookups that find
 * nothing fail with CAIRN_ERROR_NOT_FOUND; strings returned as `char *` are
 * the caller's to g_free; `const` results live as long as noted.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "error.h"
#include "interfaces.h"
#include "plugin.h"

/* Everything the core knows about the tx being executed. Valid during the
 * handler call. For genesis and block hooks: sender/id/type are "". */
typedef struct CairnTxInfo {
  uint32_t size;
  uint32_t index;            /* position in the block */
  const char *id;            /* hex SHA-256 of the signed tx */
  const char *type;          /* "bank.transfer" */
  const char *sender;        /* address (40 hex chars) */
  const char *sender_pubkey; /* hex Ed25519 public key */
  uint64_t nonce;
  uint64_t height; /* block being executed */
  int64_t time_ms; /* block time: the only clock handlers may read */
  const char *chain_id;
  /* Added in 1.1 (check CAIRN_STRUCT_HAS (info, info->size, proposer)):
   * address of the node that built the block ("" at genesis). */
  const char *proposer;
} CairnTxInfo;

typedef struct CairnChainHead {
  uint32_t size;
  uint32_t reserved;
  uint64_t height;
  int64_t time_ms;
  const char *hash;       /* hex */
  const char *state_root; /* hex */
  const char *chain_id;
} CairnChainHead;

/* Return TRUE to keep the timer, FALSE to remove it. */
typedef gboolean (*CairnTimerFn) (CairnPlugin *self, void *user_data);

struct CairnHost {
  uint32_t size; /* sizeof(CairnHost) in the running core */
  uint16_t abi_major;
  uint16_t abi_minor;

  /* ---- identity, logging, config ---- */
  const char *(*plugin_id) (CairnPlugin *self);
  void (*set_data) (CairnPlugin *self, void *data); /* plugin's own pointer */
  void *(*get_data) (CairnPlugin *self);
  void (*logv) (CairnPlugin *self, GLogLevelFlags level, const char *fmt,
                va_list ap);
  /* Keys of the plugin's own group ("[bank]"). Keys present in the config
   * but never read during init are reported as unknown and stop the node. */
  gboolean (*config_string) (CairnPlugin *self, const char *key,
                             const char *def, char **out, GError **error);
  gboolean (*config_int) (CairnPlugin *self, const char *key, int64_t def,
                          int64_t min, int64_t max, int64_t *out,
                          GError **error);
  gboolean (*config_bool) (CairnPlugin *self, const char *key, gboolean def,
                           gboolean *out, GError **error);
  /* ';'-separated list; *out NULL-terminated (g_strfreev), empty if unset */
  gboolean (*config_strv) (CairnPlugin *self, const char *key, char ***out,
                           GError **error);
  /* <home>/data/<plugin id>, created on first call. */
  const char *(*data_dir) (CairnPlugin *self);
  /* The genesis document (valid for the life of the node). */
  const json_t *(*genesis) (CairnPlugin *self);

  /* ---- registration (during init) ---- */
  gboolean (*register_tx_type) (CairnPlugin *self, const char *type,
                                const CairnTxHandler *handler, size_t size,
                                GError **error);
  gboolean (*register_app) (CairnPlugin *self, const CairnAppIface *iface,
                            size_t size, GError **error);
  /* path: "/v1/<id>/..." or "/<id>/..."; a path ending in '/' matches
   * every path below it. */
  gboolean (*register_route) (CairnPlugin *self, const char *method,
                              const char *path, CairnRouteFn fn,
                              void *user_data, GError **error);
  gboolean (*register_storage) (CairnPlugin *self,
                                const CairnStorageIface *iface, size_t size,
                                GError **error);
  gboolean (*register_consensus) (CairnPlugin *self,
                                  const CairnConsensusIface *iface, size_t size,
                                  GError **error);
  gboolean (*register_blobstore) (CairnPlugin *self,
                                  const CairnBlobstoreIface *iface, size_t size,
                                  GError **error);

  /* ---- services between plugins ---- */
  /* vtable must start with uint32_t size and stay valid until fini. */
  gboolean (*provide_service) (CairnPlugin *self, const char *name,
                               uint32_t version, const void *vtable,
                               GError **error);
  /* NULL when absent; list the service in `requires` to be loaded after
   * its provider. */
  const void *(*lookup_service) (CairnPlugin *self, const char *name,
                                 uint32_t version);

  /* ---- state ----
   * tx NULL: read the committed head (routes, timers). Keys are printable
   * ASCII without '/' at the start, at most CAIRN_MAX_KEY bytes; ns NULL is
   * the caller's own namespace. Writes go to the caller's namespace only and
   * need a tx. */
  GBytes *(*state_get) (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                        const char *key, GError **error);
  json_t *(*state_get_json) (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                             const char *key, GError **error);
  gboolean (*state_put) (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                         const void *value, size_t len, GError **error);
  gboolean (*state_put_json) (CairnPlugin *self, CairnTxCtx *tx,
                              const char *key, const json_t *value,
                              GError **error);
  gboolean (*state_delete) (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                            GError **error);
  /* Ascending by key; fn gets keys without the "<ns>/" part. */
  gboolean (*state_iter) (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                          const char *prefix, CairnKvFn fn, void *user_data,
                          GError **error);

  /* ---- the tx being executed ---- */
  const CairnTxInfo *(*tx_info) (CairnTxCtx *tx);
  /* attrs is stolen. type must be "<plugin id>.<name>". Delivered to
   * subscribers only if the tx (and its block) commits. */
  void (*emit_event) (CairnPlugin *self, CairnTxCtx *tx, const char *type,
                      json_t *attrs);
  /* Roles ("validator", "regulator", ...) from genesis and core.grant_role. */
  gboolean (*has_role) (CairnPlugin *self, CairnTxCtx *tx, const char *address,
                        const char *role);

  /* ---- events, timers, clock (main loop thread) ---- */
  /* type_prefix "" = all. Returns a subscription id. */
  guint (*subscribe) (CairnPlugin *self, const char *type_prefix,
                      CairnEventFn fn, void *user_data);
  void (*unsubscribe) (CairnPlugin *self, guint id);
  guint (*timer_add) (CairnPlugin *self, uint32_t interval_ms, CairnTimerFn fn,
                      void *user_data);
  void (*timer_remove) (CairnPlugin *self, guint id);
  /* Wall clock; never call it from tx handlers (use tx_info()->time_ms). */
  int64_t (*now_ms) (CairnPlugin *self);

  /* ---- crypto and encoding ---- */
  void (*sha256) (const void *data, size_t len, uint8_t out[32]);
  /* Ed25519 over "<domain>\0<msg>". */
  gboolean (*ed25519_verify) (const uint8_t pubkey[32], const char *domain,
                              const void *msg, size_t len,
                              const uint8_t sig[64]);
  /* Canonical JSON: sorted keys, compact, integers only. g_free result. */
  char *(*json_canonical) (const json_t *value, size_t *len, GError **error);
  /* Strict parse: rejects floats, duplicate keys and non-canonical text. */
  json_t *(*json_parse_canonical) (const char *text, size_t len,
                                   GError **error);
  /* 40 lowercase hex chars + NUL. */
  void (*address_from_pubkey) (const uint8_t pubkey[32], char out[41]);
  gboolean (*address_valid) (const char *address);
  /* The node's own key (the key never leaves the core). */
  const char *(*node_address) (CairnPlugin *self);
  void (*node_pubkey) (CairnPlugin *self, uint8_t out[32]);
  gboolean (*node_sign) (CairnPlugin *self, const char *domain, const void *msg,
                         size_t len, uint8_t sig[64], GError **error);

  /* ---- blob store (through the loaded blobstore plugin) ---- */
  gboolean (*blob_put) (CairnPlugin *self, const void *data, size_t len,
                        char **cid, GError **error);
  GBytes *(*blob_get) (CairnPlugin *self, const char *cid, GError **error);

  /* ---- chain, for consensus engines ---- */
  const CairnChainHead *(*chain_head) (CairnPlugin *self);
  guint (*mempool_size) (CairnPlugin *self);
  /* NULL without error when there is nothing to build and !allow_empty. */
  CairnBlock *(*block_build) (CairnPlugin *self, const CairnBuildOpts *opts,
                              GError **error);
  /* Decode, check and execute a block proposed by someone else. */
  CairnBlock *(*block_validate) (CairnPlugin *self, const void *bytes,
                                 size_t len, GError **error);
  const CairnBlockInfo *(*block_info) (CairnBlock *block);
  /* Consumes the block (also on failure). */
  gboolean (*block_commit) (CairnPlugin *self, CairnBlock *block,
                            const json_t *certificate, GError **error);
  void (*block_discard) (CairnPlugin *self, CairnBlock *block);
  /* A committed block as stored: {"certificate","header","txs"}
   * (CAIRN_HEAD = the head). */
  json_t *(*block_get) (CairnPlugin *self, uint64_t height, GError **error);

  /* ---- peers (consensus engines) ----
   * A message reaches the same plugin on other nodes through its
   * on_peer_message; peer ids are node addresses. On a node running
   * without P2P ([p2p] enabled = false) sends fail with
   * CAIRN_ERROR_NOT_IMPLEMENTED and the list is empty. */
  gboolean (*peer_broadcast) (CairnPlugin *self, const void *data, size_t len,
                              GError **error);
  gboolean (*peer_send) (CairnPlugin *self, const char *peer_id,
                         const void *data, size_t len, GError **error);
  /* NULL-terminated ids of connected peers; g_strfreev. */
  char **(*peer_list) (CairnPlugin *self);

  /* ---- added in 1.1 (test with CAIRN_HOST_HAS) ---- */
  /* Sign a tx of `type` (which must be "<plugin id>.<name>") and body with
   * the node's key, at the node account's next free nonce, and admit it
   * like a submitted one (mempool, then gossip). *id (g_free; may be NULL)
   * gets the tx id. Errors: the CAIRN_REJECT codes of admission. Main
   * loop thread, not from tx handlers or block hooks. */
  gboolean (*submit_tx) (CairnPlugin *self, const char *type,
                         const json_t *body, char **id, GError **error);
  /* Set a value shown at GET /metrics as "cairn_<name>". name is
   * "<plugin id>_<[a-z0-9_]+>", optionally followed by one label set
   * {k="v",...} (k [a-z_]+, v without '"', '\\' or newline); a name ending
   * in "_total" is a counter, any other a gauge. help (first call wins)
   * may be NULL. Errors: INVALID for a bad name. */
  gboolean (*metric_set) (CairnPlugin *self, const char *name, const char *help,
                          int64_t value, GError **error);

  /* ---- added in 1.2 (test with CAIRN_HOST_HAS) ---- */
  /* Blobs as streams, for files too big for blob_put/blob_get. blob_open
   * gives [offset, offset + length) (length UINT64_MAX = to the end); the
   * stream calls nothing back, so it may be read anywhere (e.g. as a
   * route's streamed body). Errors: NOT_IMPLEMENTED (no blobstore loaded),
   * NOT_FOUND, INVALID (bad CID or range), CORRUPT (bytes no longer match
   * the CID). blob_put_stream reads `in` to its end, blocking. */
  GInputStream *(*blob_open) (CairnPlugin *self, const char *cid,
                              uint64_t offset, uint64_t length, GError **error);
  gboolean (*blob_stat) (CairnPlugin *self, const char *cid, uint64_t *size,
                         GError **error);
  gboolean (*blob_put_stream) (CairnPlugin *self, GInputStream *in, char **cid,
                               GError **error);
  /* Direct messages to chosen nodes (privacy groups): direct_send gives
   * data to the same plugin on node peer_id only, over the authenticated
   * P2P link; that plugin's handler (register_direct_handler, once, during
   * init) runs on the main loop there. Nothing is stored or relayed:
   * encrypt what must stay private. Errors: NOT_IMPLEMENTED without P2P,
   * NOT_FOUND when peer_id is not connected, INVALID over CAIRN_MAX_DIRECT
   * bytes, FAILED when the peer's send queue is full (try again). */
  gboolean (*direct_send) (CairnPlugin *self, const char *peer_id,
                           const void *data, size_t len, GError **error);
  gboolean (*register_direct_handler) (CairnPlugin *self, CairnDirectFn fn,
                                       void *user_data, GError **error);

  /* ---- added in 1.3 (test with CAIRN_HOST_HAS) ---- */
  /* The node's private store: the plugin's own keys (same rules as state
   * keys) in the storage plugin's private namespace, which never enters
   * the state root and is never sent to other nodes. For data a node holds
   * for itself (a privacy group's payloads). Each put/delete is durable
   * when it returns and independent of blocks. Errors: NOT_IMPLEMENTED
   * when the storage plugin has no private_write, NOT_FOUND, INVALID. */
  GBytes *(*private_get) (CairnPlugin *self, const char *key, GError **error);
  gboolean (*private_put) (CairnPlugin *self, const char *key,
                           const void *value, size_t len, GError **error);
  gboolean (*private_delete) (CairnPlugin *self, const char *key,
                              GError **error);
  /* Ascending by key; fn gets keys without the "<plugin id>/" part. */
  gboolean (*private_iter) (CairnPlugin *self, const char *prefix, CairnKvFn fn,
                            void *user_data, GError **error);
  /* An event of this node alone (not from a block: tx_id NULL, height =
   * the head), to subscribers and /v1/events, e.g. "a private payload has
   * arrived". type is "<plugin id>.<name>"; attrs (an object) is stolen. */
  void (*emit_local_event) (CairnPlugin *self, const char *type, json_t *attrs);

  /* ---- added in 1.4 (test with CAIRN_HOST_HAS) ---- */
  /* A GET route answered as a server-sent event stream (text/event-stream,
   * kept open, pinged every 15 s). path as for register_route; closed may
   * be NULL. During init. */
  gboolean (*register_stream_route) (CairnPlugin *self, const char *path,
                                     CairnStreamOpenFn open,
                                     CairnStreamClosedFn closed,
                                     void *user_data, GError **error);
  /* Send one event ("event: <event>", "id: <id>" when id is not NULL,
   * "data: <compact JSON>"). FALSE when the client is gone or so far
   * behind that the stream was ended (closed runs soon after). Main loop
   * only. */
  gboolean (*stream_send) (CairnStream *stream, const char *event,
                           const char *id, const json_t *data);
  /* End the stream from the plugin's side (closed runs). */
  void (*stream_close) (CairnStream *stream);
};

/* Largest direct message: the P2P frame cap, less room for the header. */
#define CAIRN_MAX_DIRECT ((4u << 20) - 512)

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnHost) == 8 + 69 * sizeof (void *),
               "CairnHost is append-only: update the count when adding");
#endif

#define CAIRN_MAX_KEY 512
#define CAIRN_MAX_VALUE (4u << 20)

/* TRUE when the running core's table has `fn` (added after 1.0). */
#define CAIRN_HOST_HAS(host, fn)                                               \
  ((host) != NULL                                                              \
   && (host)->size >= offsetof (CairnHost, fn) + sizeof ((host)->fn)           \
   && (host)->fn != NULL)

static inline void G_GNUC_PRINTF (4, 5)
    cairn_log (const CairnHost *host, CairnPlugin *self, GLogLevelFlags level,
               const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  host->logv (self, level, fmt, ap);
  va_end (ap);
}

/* state_get_json of the caller's namespace where an absent key is no
 * error: NULL with *error unset (set only for a real failure). */
static inline json_t *
cairn_state_get_json_opt (const CairnHost *host, CairnPlugin *self,
                          CairnTxCtx *tx, const char *key, GError **error)
{
  GError *local = NULL;
  json_t *v = host->state_get_json (self, tx, NULL, key, &local);
  if (v == NULL && local != NULL) {
    if (g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      g_error_free (local);
    else
      g_propagate_error (error, local);
  }
  return v;
}

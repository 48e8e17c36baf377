/* Cairn SDK — the interfaces plugins register: tx handlers, app hooks,
 * HTTP routes, storage, consensus and blob store.
 *
 * Every interface struct starts with `uint32_t iface_version` and is
 * registered together with its sizeof; the core copies the part it knows,
 * refuses a struct larger than any version it knows, and checks the
 * required callbacks by name. Fields are only ever appended.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>
#include <glib.h>
#include <jansson.h>

#include "plugin.h"

/* One transaction's (or a genesis/begin/end-block hook's) execution context.
 * Writes made through it are discarded when the handler fails. */
typedef struct CairnTxCtx CairnTxCtx;
/* A block that the core built or validated and executed, not yet committed. */
typedef struct CairnBlock CairnBlock;

/* Height argument meaning "the committed head". */
#define CAIRN_HEAD UINT64_MAX

/* ---- app: tx types and block hooks ------------------------------------ */

#define CAIRN_TX_HANDLER_VERSION 1
typedef struct CairnTxHandler {
  uint32_t iface_version; /* CAIRN_TX_HANDLER_VERSION */
  uint32_t reserved;
  /* Optional: stateless check of the body at admission (mempool). */
  gboolean (*check) (CairnPlugin *self, const json_t *body, GError **error);
  /* Required: apply the tx to state through the host's state functions. */
  gboolean (*apply) (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                     GError **error);
} CairnTxHandler;

#define CAIRN_APP_IFACE_VERSION 1
typedef struct CairnAppIface {
  uint32_t iface_version; /* CAIRN_APP_IFACE_VERSION */
  uint32_t reserved;
  /* Optional: write the plugin's genesis state (block 0). `genesis` is the
   * whole genesis document; the plugin's own part is
   * genesis["app_state"][plugin id] when present. */
  gboolean (*genesis) (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
                       GError **error);
  /* Optional: run before the first / after the last tx of every block, in
   * plugin load order. A failure fails the whole block. */
  gboolean (*begin_block) (CairnPlugin *self, CairnTxCtx *tx, GError **error);
  gboolean (*end_block) (CairnPlugin *self, CairnTxCtx *tx, GError **error);
} CairnAppIface;

/* ---- HTTP routes ------------------------------------------------------- */

typedef struct CairnRequest {
  uint32_t size;
  uint32_t reserved;
  const char *method;    /* "GET", "POST", ... */
  const char *path;      /* full path, e.g. "/v1/bank/balances/abc" */
  const char *path_rest; /* what follows the registered prefix */
  GHashTable *query;     /* char* -> char*, never NULL */
  const json_t *body;    /* parsed JSON body, or NULL */
  const char *remote;    /* client address, "127.0.0.1" */
} CairnRequest;

/* 1.2: a body opened on demand, for big or ranged content (video). */
typedef GInputStream *(*CairnOpenStreamFn) (void *stream_data, uint64_t offset,
                                            uint64_t length, GError **error);

typedef struct CairnResponse {
  uint32_t size;
  int status; /* defaults to 200 */
  /* Set exactly one of json (ownership passes to the core) or body with
   * content_type (a static string), or (1.2) open_stream. */
  json_t *json;
  GBytes *body;
  const char *content_type;
  /* ---- 1.2: check CAIRN_STRUCT_HAS (resp, resp->size, stream_size), or
   * require CAIRN_PLUGIN_MIN_MINOR 2, before writing these. ----
   * A streamed body of stream_size bytes. The core answers "Range:" itself
   * (206 with Content-Range, 416 outside the body; status is then
   * ignored), calls open_stream once for the bytes it sends, then
   * stream_free (stream_data) (also when it never opens it), both on the
   * main loop right after the route returns, so they may call the host.
   * The stream itself must hold what it needs: it is read later, possibly
   * with read() on a worker thread, so it must not call the host. */
  CairnOpenStreamFn open_stream;
  void *stream_data;
  GDestroyNotify stream_free;
  uint64_t stream_size;
} CairnResponse;

/* Answer {"error":{"code","message"}} with status (for answers a CAIRN_ERROR
 * cannot express, e.g. 413 or a code of the plugin's own); returns TRUE,
 * the route's return value when it has answered. */
static inline gboolean G_GNUC_PRINTF (4, 5)
    cairn_reply_error (CairnResponse *resp, int status, const char *code,
                       const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  resp->status = status;
  resp->json
      = json_pack ("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
  g_free (msg);
  return TRUE;
}

/* Return FALSE with a CAIRN_ERROR to answer with a JSON error; the code
 * picks the status (invalid 400, unauthorized 403, not_found 404, conflict
 * 409, others 500). */
typedef gboolean (*CairnRouteFn) (CairnPlugin *self, const CairnRequest *req,
                                  CairnResponse *resp, void *user_data,
                                  GError **error);

/* 1.4: a server-sent event stream a plugin serves (register_stream_route).
 * The handle is valid from the open callback until the closed callback. */
typedef struct CairnStream CairnStream;
/* A client connected: check the request, send what it missed with
 * host->stream_send, keep the handle for later events. Return FALSE with a
 * CAIRN_ERROR to refuse (answered as JSON with its status). */
typedef gboolean (*CairnStreamOpenFn) (CairnPlugin *self,
                                       const CairnRequest *req,
                                       CairnStream *stream, void *user_data,
                                       GError **error);
/* The client went away (or was too slow, or the node stops): forget the
 * handle. Not called for a stream whose open failed. */
typedef void (*CairnStreamClosedFn) (CairnPlugin *self, CairnStream *stream,
                                     void *user_data);

/* 1.2: a direct message from the same plugin on another node (peer_id is
 * that node's address); data is valid during the call only. */
typedef void (*CairnDirectFn) (CairnPlugin *self, const char *peer_id,
                               const void *data, size_t len, void *user_data);

/* ---- events ------------------------------------------------------------ */

typedef struct CairnEvent {
  uint32_t size;
  uint32_t tx_index; /* index in block, or UINT32_MAX for block events */
  const char *type;  /* "block", "bank.transfer", ... */
  uint64_t height;
  const char *tx_id;   /* hex, or NULL */
  const json_t *attrs; /* never NULL */
} CairnEvent;

typedef void (*CairnEventFn) (CairnPlugin *self, const CairnEvent *event,
                              void *user_data);

/* ---- storage (kind storage) ------------------------------------------- */

typedef struct CairnStore CairnStore; /* defined by the backend */

#define CAIRN_WRITE_DELETE 1u
typedef struct CairnWrite {
  const char *key;      /* NUL-terminated, "<ns>/<key>" */
  const uint8_t *value; /* NULL when deleted */
  size_t value_len;
  uint32_t flags; /* CAIRN_WRITE_DELETE */
  uint32_t reserved;
} CairnWrite;

typedef struct CairnCommitTx {
  const uint8_t *id;     /* 32 bytes */
  const uint8_t *result; /* canonical JSON result of the tx */
  size_t result_len;
} CairnCommitTx;

typedef struct CairnCommitData {
  uint32_t size;
  uint32_t reserved;
  uint64_t height;           /* 0 for genesis; else head + 1 */
  const uint8_t *block_hash; /* 32 bytes */
  const uint8_t *block;      /* canonical JSON of the block and certificate */
  size_t block_len;
  const CairnCommitTx *txs; /* in block order */
  size_t n_txs;
  const CairnWrite *writes; /* shared state; sorted by key, unique */
  size_t n_writes;
  /* private namespaces: never part of the state root, head-only reads */
  const CairnWrite *private_writes;
  size_t n_private_writes;
  /* Added in 1.1; read it only when `size` covers it. CAIRN_COMMIT_* bits. */
  uint32_t flags;
  uint32_t reserved2;
} CairnCommitData;

/* The store may return before this commit is durable. It must stay
 * atomic: a crash may lose it (and later deferred commits) whole, never
 * part of one. The core sets it only for a store with sync(), for blocks
 * it can fetch again (catch-up), and calls sync() before it relies on
 * them. */
#define CAIRN_COMMIT_DEFER_SYNC 1u

/* Return FALSE to stop the iteration. */
typedef gboolean (*CairnKvFn) (const char *key, const uint8_t *value,
                               size_t value_len, void *user_data);

#define CAIRN_STORAGE_IFACE_VERSION 1
/* Lookups return NULL/FALSE with CAIRN_ERROR_NOT_FOUND when absent. */
typedef struct CairnStorageIface {
  uint32_t iface_version;
  uint32_t reserved;
  CairnStore *(*open) (CairnPlugin *self, const char *dir, GError **error);
  void (*close) (CairnStore *store);
  /* Height of the last committed block, or NOT_FOUND on an empty store. */
  gboolean (*head) (CairnStore *store, uint64_t *height, GError **error);
  /* Atomic: after a crash either all of it is visible or none. */
  gboolean (*commit) (CairnStore *store, const CairnCommitData *data,
                      GError **error);
  GBytes *(*block_get) (CairnStore *store, uint64_t height, GError **error);
  gboolean (*block_find) (CairnStore *store, const uint8_t hash[32],
                          uint64_t *height, GError **error);
  gboolean (*tx_get) (CairnStore *store, const uint8_t id[32], uint64_t *height,
                      uint32_t *index, GBytes **result, GError **error);
  /* State at `height` (CAIRN_HEAD for the head). */
  GBytes *(*state_get) (CairnStore *store, const char *key, uint64_t height,
                        GError **error);
  /* Keys starting with prefix, ascending bytewise. */
  gboolean (*state_iter) (CairnStore *store, const char *prefix,
                          uint64_t height, CairnKvFn fn, void *user_data,
                          GError **error);
  GBytes *(*private_get) (CairnStore *store, const char *key, GError **error);
  gboolean (*private_iter) (CairnStore *store, const char *prefix, CairnKvFn fn,
                            void *user_data, GError **error);
  /* Added in 1.1, optional: make every commit so far durable. */
  gboolean (*sync) (CairnStore *store, GError **error);
  /* Added in 1.3, optional: write private keys outside any block,
   * atomically and durably (the writes are sorted by key and unique). A
   * store without it gives plugins no private store (host private_put). */
  gboolean (*private_write) (CairnStore *store, const CairnWrite *writes,
                             size_t n, GError **error);
} CairnStorageIface;

/* ---- consensus (kind consensus) ---------------------------------------- */

typedef struct CairnBlockInfo {
  uint32_t size;
  uint32_t n_txs;
  uint64_t height;
  int64_t time_ms;
  const char *hash;       /* hex */
  const char *prev_hash;  /* hex */
  const char *proposer;   /* address */
  const char *state_root; /* hex */
  const json_t *header;   /* the whole header */
  const uint8_t *bytes;   /* canonical block bytes without certificate */
  size_t len;
} CairnBlockInfo;

typedef struct CairnBuildOpts {
  uint32_t size;
  uint32_t max_txs;     /* 0 = core default */
  uint64_t max_bytes;   /* 0 = core default */
  int64_t time_ms;      /* 0 = now (kept > previous block time) */
  gboolean allow_empty; /* build even when no tx waits */
  uint32_t reserved;
  const json_t *consensus; /* copied into header["consensus"], may be NULL */
} CairnBuildOpts;

#define CAIRN_CONSENSUS_IFACE_VERSION 1
/* The engine is told about the world; it drives the host's block_* calls.
 * Validation, gossip and storage stay in the core. */
typedef struct CairnConsensusIface {
  uint32_t iface_version;
  uint32_t reserved;
  /* Executable txs are waiting in the mempool. */
  void (*on_txs_available) (CairnPlugin *self);
  void (*on_block_committed) (CairnPlugin *self, const CairnBlockInfo *block);
  void (*on_peer_message) (CairnPlugin *self, const char *peer_id,
                           const void *data, size_t len);
  void (*on_peer_connected) (CairnPlugin *self, const char *peer_id);
  void (*on_peer_disconnected) (CairnPlugin *self, const char *peer_id);
  /* Required: check a commit certificate (catch-up, replay, queries). */
  gboolean (*verify_certificate) (CairnPlugin *self,
                                  const CairnBlockInfo *block,
                                  const json_t *certificate, GError **error);
} CairnConsensusIface;

/* ---- blob store (kind blobstore) --------------------------------------- */

#define CAIRN_BLOBSTORE_IFACE_VERSION 1
typedef struct CairnBlobstoreIface {
  uint32_t iface_version;
  uint32_t reserved;
  /* Threads: the node calls put on a worker thread (an upload) and reads
   * get's stream with GIO's async calls, which may run read() on worker
   * threads; so neither may call the host, and both must be safe to run
   * alongside each other and the main loop. stat runs on the main loop.
   * Store bytes; *cid is the IPFS-default-importer CIDv1 string (g_free). */
  gboolean (*put) (CairnPlugin *self, GInputStream *in, char **cid,
                   GCancellable *cancellable, GError **error);
  /* Stream [offset, offset+length) of a blob; length UINT64_MAX = to end. */
  GInputStream *(*get) (CairnPlugin *self, const char *cid, uint64_t offset,
                        uint64_t length, GError **error);
  gboolean (*stat) (CairnPlugin *self, const char *cid, uint64_t *size,
                    GError **error);
} CairnBlobstoreIface;

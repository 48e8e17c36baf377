/* A running node: config, key, genesis, plugins, storage, mempool, chain,
 * HTTP API and events, all on one GMainLoop (the main thread). */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include <cairn/cairn.h>

#include "clock.h"
#include "p2p.h"
#include "tx.h"

typedef struct CairnNode CairnNode;

/* Makes the node's transport when [p2p] enabled = true; the arguments are
 * those of cairn_tls_transport_new (the default). */
typedef CairnTransport *(*CairnTransportFactory) (
    void *factory_data, const CairnKey *node_key, const char *listen,
    const CairnPeerAddr *dial, guint n_dial, const char *const *allowed,
    const CairnTransportEvents *events, void *user_data, GError **error);

typedef struct CairnNodeOptions {
  const char *home;
  /* Plugin dirs searched after [plugins] path, before the installed
   * plugin dir (may be NULL). */
  const char *const *plugin_path;
  /* Override [http] listen, e.g. "127.0.0.1:0" for an ephemeral port. */
  const char *http_listen;
  gboolean no_http;
  /* [node] watchdog_ms's default: 2000 when set (cairn_node_run, i.e.
   * `cairn node`), else off unless the config sets it (in-process nodes
   * of tests and embedders, whose main loop is theirs). */
  gboolean watchdog;
  /* NULL = cairn_clock_system(); must outlive the node. */
  CairnClock *clock;
  /* NULL = TLS over TCP. */
  CairnTransportFactory transport_factory;
  void *transport_factory_data;
  /* Blob-store plugins (ids) to load in addition to [plugins] load, with
   * the home's config (`cairn blob migrate`); ids already in the load list
   * are ignored. Each must be of kind blobstore (else CAIRN_ERROR_CONFIG
   * before any plugin runs). They do not become the node's blob store (that
   * stays the one in [plugins] load, so two there still conflict); reach
   * them with cairn_node_blobstore. NULL = none. */
  const char *const *extra_blobstores;
} CairnNodeOptions;

/* Load config, key, genesis and plugins (init, in dependency order), open
 * storage, commit genesis on an empty store or check it matches. */
CairnNode *cairn_node_new (const CairnNodeOptions *opts, GError **error);
/* Start plugins and the HTTP server. */
gboolean cairn_node_start (CairnNode *node, GError **error);
/* Stop plugins and HTTP (idempotent); then free. */
void cairn_node_stop (CairnNode *node);
void cairn_node_free (CairnNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnNode, cairn_node_free)

/* Run until SIGINT/SIGTERM: new + start + main loop + stop. Exit code. */
int cairn_node_run (const CairnNodeOptions *opts);

const char *cairn_node_chain_id (CairnNode *node);

/* ---- blocks in their stored form (with certificate), for catch-up,
 * `cairn store export|import` ---- */
/* The stored bytes of a committed block. */
GBytes *cairn_node_stored_block_bytes (CairnNode *node, uint64_t height,
                                       GError **error);
/* Decode, re-execute (the state root must match), check the certificate
 * with the consensus plugin and commit the next block. defer: more follow,
 * the commit need not reach the disk yet (cairn_node_sync_store then). */
gboolean cairn_node_apply_stored_block (CairnNode *node, const void *data,
                                        size_t len, gboolean defer,
                                        GError **error);
gboolean cairn_node_sync_store (CairnNode *node, GError **error);
/* Check the stored chain without executing it: every block's links, tx
 * root, tx signatures and commit certificate, and the head state against
 * the head's state root (`cairn store verify`; also what a node does on
 * its own when it opens a copied store). A report {"blocks","txs",
 * "state_keys","seconds","height","state_root"}, or NULL and
 * CAIRN_ERROR_CORRUPT naming the block. */
json_t *cairn_node_verify_chain (CairnNode *node, GError **error);
/* The URL the HTTP API listens on ("http://127.0.0.1:7700"), or NULL. */
const char *cairn_node_http_url (CairnNode *node);
struct CairnPluginHost *cairn_node_plugins (CairnNode *node);
/* A loaded blob store by plugin id (the node's own or an extra one): its
 * interface and, in *plugin, the handle its callbacks take. NOT_FOUND when
 * no loaded plugin has that id, INVALID when that plugin is not a blob
 * store. */
const CairnBlobstoreIface *cairn_node_blobstore (CairnNode *node,
                                                 const char *plugin_id,
                                                 CairnPlugin **plugin,
                                                 GError **error);
/* Each (key, value) of the state at height (CAIRN_HEAD = head) whose key
 * starts with prefix, in key order, through the storage plugin; fn
 * returns FALSE to stop. */
gboolean cairn_node_state_iter (CairnNode *node, const char *prefix,
                                uint64_t height, CairnKvFn fn, void *user_data,
                                GError **error);
const CairnChainHead *cairn_node_head (CairnNode *node);

/* Admission: signature (unless already checked), type known, handler
 * check(), mempool rules. Errors are CAIRN_REJECT. */
gboolean cairn_node_submit (CairnNode *node, CairnTx *tx, GError **error);
/* Batch admission; signatures verified in parallel on a worker pool.
 * errors_out[i] is set (caller frees) for each refused tx. Returns the
 * number accepted. */
guint cairn_node_submit_many (CairnNode *node, CairnTx **txs, guint n,
                              GError **errors_out);

/* Read API (JSON for HTTP and CLI). NOT_FOUND when absent. */
json_t *cairn_node_status_json (CairnNode *node);
/* height CAIRN_HEAD = latest; the stored block plus "hash" and "results". */
json_t *cairn_node_block_json (CairnNode *node, uint64_t height,
                               GError **error);
/* {"id","status":"committed"|"pending","height","index","tx","result"} */
json_t *cairn_node_tx_json (CairnNode *node, const char *id_hex,
                            GError **error);
/* {"address","nonce","roles":[..]} (balances are the bank plugin's). */
json_t *cairn_node_account_json (CairnNode *node, const char *address,
                                 GError **error);
/* Value of "<ns>/<key>" at height (CAIRN_HEAD = head). */
GBytes *cairn_node_state_get (CairnNode *node, const char *ns, const char *key,
                              uint64_t height, GError **error);

/* Plugin routes: find the handler for method + path. */
gboolean cairn_node_find_route (CairnNode *node, const char *method,
                                const char *path, CairnPlugin **plugin,
                                CairnRouteFn *fn, void **user_data,
                                const char **path_rest);

/* Events (main thread): every committed block ("block", attrs {height,
 * hash, time, txs:[ids], tx_count}) and every tx event. */
typedef void (*CairnNodeEventFn) (const CairnEvent *event, void *user_data);
guint cairn_node_subscribe (CairnNode *node, const char *type_prefix,
                            CairnNodeEventFn fn, void *user_data);
void cairn_node_unsubscribe (CairnNode *node, guint id);

/* Prometheus text exposition of the node's counters and gauges. */
void cairn_node_metrics (CairnNode *node, GString *out);

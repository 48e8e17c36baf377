/* A minimal in-memory implementation of the SDK's host table, enough to
 * drive plugins through their public contract without the core: state with
 * tx overlays, config, registrations, services, events, timers on the GLib
 * main loop, Ed25519 (OpenSSL) and a fake chain for consensus engines.
 *
 * It checks the same rules the core promises to check (keys read from the
 * config, event type prefixes, writes need a tx) so a plugin that passes
 * here is not relying on leniency. */
#pragma once

#include <cairn/bank.h>
#include <cairn/cairn.h>

typedef struct MockNode MockNode;

/* genesis: the genesis document (JSON text). The node gets a fresh Ed25519
 * key; with validator_is_node, genesis "validators" is replaced by the node
 * key as the single validator. */
MockNode *mock_node_new (const char *genesis_json, gboolean validator_is_node);
void mock_node_free (MockNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockNode, mock_node_free)

const char *mock_node_address (MockNode *node);
const char *mock_node_pubkey_hex (MockNode *node);
const CairnHost *mock_node_host (MockNode *node);

/* Add a plugin and run its init. config: "key=value" lines of its group.
 * Fails like the core if init fails or leaves a config key unread. */
CairnPlugin *mock_node_load (MockNode *node, CairnPluginEntry entry,
                             const char *config, GError **error);
/* A pseudo plugin with an id only (a service caller). */
CairnPlugin *mock_node_add_caller (MockNode *node, const char *id);
gboolean mock_plugin_start (CairnPlugin *p, GError **error);
void mock_plugin_stop (CairnPlugin *p);
const char *mock_plugin_id (CairnPlugin *p);

/* Transactions and hooks. */
CairnTxCtx *mock_tx_begin (MockNode *node, const char *sender, uint64_t height);
/* Commits the tx's writes (and keeps its events) or drops them. */
void mock_tx_end (CairnTxCtx *tx, gboolean commit);
/* Events of the last committed tx: array of {"type","attrs"}. */
const json_t *mock_node_last_events (MockNode *node);
/* Run the registered handler: check() (if any) then apply() in a tx that
 * commits on success. */
gboolean mock_node_run_tx (MockNode *node, const char *type, const char *sender,
                           const char *body_json, GError **error);
gboolean mock_node_check_tx (MockNode *node, const char *type,
                             const char *body_json, GError **error);
/* Run every registered app's genesis hook in one tx. */
gboolean mock_node_genesis (MockNode *node, GError **error);

/* Committed state, "<ns>/<key>", or NULL. g_free. */
char *mock_node_state (MockNode *node, const char *full_key);
void mock_node_state_set (MockNode *node, const char *full_key,
                          const char *value);

/* Call a registered route; returns the response JSON (new ref) or NULL with
 * the route's error. */
json_t *mock_node_get (MockNode *node, const char *path, GError **error);

/* ---- fake chain for consensus engines ---- */
void mock_node_set_mempool (MockNode *node, guint n_txs);
/* Next block_build fails with this message (once). */
void mock_node_fail_next_build (MockNode *node, const char *message);
/* Committed blocks (height >= 1) and their tx counts / certificates. */
guint mock_node_n_blocks (MockNode *node);
guint mock_node_block_txs (MockNode *node, guint i);
const json_t *mock_node_block_cert (MockNode *node, guint i);
/* Notify the consensus engine that txs wait. */
void mock_node_txs_available (MockNode *node);
/* Iterate the main loop until cond(node) or timeout_ms. */
gboolean mock_node_run_until (MockNode *node, gboolean (*cond) (MockNode *node),
                              guint timeout_ms);
/* The consensus engine's verify_certificate on a block made from height
 * and hash. */
gboolean mock_node_verify (MockNode *node, uint64_t height, const char *hash,
                           const char *proposer, const json_t *cert,
                           GError **error);
/* Sign "<domain>\0<msg>" with the node key. */
void mock_node_sign (MockNode *node, const char *domain, const void *msg,
                     size_t len, uint8_t sig[64]);
/* Log lines the plugins wrote at WARNING or above. */
guint mock_node_n_warnings (MockNode *node);

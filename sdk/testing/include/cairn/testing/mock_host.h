/* Cairn SDK testing — the mock host: a whole CairnHost table in memory, so
 * that an app, privacy, interface or consensus plugin (or several of them)
 * runs its real code without a node.
 *
 * A CairnTestHost holds, like a node: the plugins loaded into it (each a
 * CairnTestPlugin of <cairn/testing/fake_host.h>, so its captured log and
 * config checks work as there), the committed state with a block overlay
 * and per-tx overlays (a tx whose handler fails leaves no write; a block
 * whose hook fails leaves none), the chain (heights, block times, stored
 * blocks), events (recorded, and delivered to subscribers after the block
 * commits), registered tx types, routes and stream routes, services, timers
 * on a fake clock that only the test moves, the cairn.bank/1 service, a
 * private store, an in-memory blob store, metrics, peers and direct
 * messages (recorded, never sent anywhere).
 *
 * It checks what the node checks (tx types "<id>.<name>", routes under
 * "/v1/<id>/" or "/<id>/", registration only during init, config keys
 * read during init, writes only with a tx and to the plugin's own
 * namespace, event types "<id>.<name>", services listed in `provides`,
 * required services present), so a plugin that passes here does not rely
 * on leniency. Host calls with bad arguments fail as the node's do; an
 * event the node would drop (no tx, a type outside "<id>.", attrs not an
 * object) is dropped with a g_critical, which fails a GLib test.
 *
 * What differs from a node (documented so a test does not rely on it):
 *   - block_validate is NULL (CAIRN_HOST_HAS reports it absent): there are
 *     no peers to propose blocks. Everything else is filled.
 *   - blocks carry no signatures and the state root is a SHA-256 chain over
 *     each block's sorted write-set, not the node's LtHash;
 *   - tx ids are the SHA-256 of the canonical {body, chain_id, from, nonce,
 *     type}; txs are not signed (sender_pubkey is known only for accounts
 *     made with cairn_test_host_account);
 *   - the blob store (when no blobstore plugin is loaded into the host)
 *     names a blob "b" + base32 of a CIDv1 raw/sha2-256 of its bytes: the
 *     IPFS id for blobs up to 256 KiB (one raw block), not for larger ones;
 *   - peers exist only as the test declares them (cairn_test_host_add_peer)
 *     and what plugins send them is recorded (cairn_test_host_sent);
 *   - now_ms and timers follow the fake clock (cairn_test_host_advance);
 *     nothing sleeps and no GMainLoop is needed.
 *
 * Everything runs on the calling thread. Functions that cannot fail on
 * good input abort the test (g_error) on misuse, e.g. ending a block that
 * was not begun; functions taking GError ** report what a plugin did.
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1).
 *
 *   g_autoptr (CairnTestHost) h = cairn_test_host_new ();
 *   CairnTestPlugin *app = cairn_test_host_load (
 *       h, cairn_plugin_descriptor_my_app,
 *       (const char *const[]){ "limit", "5", NULL }, &error);
 *   g_assert_true (cairn_test_host_start (h, &error));
 *   const char *alice = cairn_test_host_account (h, "alice");
 *   g_autoptr (json_t) result = NULL;
 *   g_assert_true (cairn_test_host_submit (h, alice, "my-app.post",
 *                                          "{\"text\":\"hi\"}", &result,
 *                                          &error));
 *   guint status;
 *   g_autoptr (json_t) answer = NULL;
 *   cairn_test_host_request (h, "GET", "/v1/my-app/posts", NULL, &status,
 *                            &answer);
 */
#pragma once

#include <cairn/bank.h>
#include <cairn/cairn.h>

#include "fake_host.h"

G_BEGIN_DECLS

/* An in-memory node for plugin tests. */
typedef struct CairnTestHost CairnTestHost;

/* ---- the host and its plugins --------------------------------------------
 */

/* A new mock host: an empty chain ("test"), no plugin, the fake clock at
 * 2026-01-01T00:00:00Z (1767225600000 ms), the built-in cairn.bank/1 with
 * no minter, a node key derived from a fixed seed, and a temporary
 * directory for the plugins' data dirs (removed by cairn_test_host_free). */
CairnTestHost *cairn_test_host_new (void);

/* Stops the plugins if started (reverse load order), runs their fini
 * (reverse order), closes open streams, then frees everything, the
 * temporary directory included. NULL is ignored. */
void cairn_test_host_free (CairnTestHost *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestHost, cairn_test_host_free)

/* The mock's host table (static, shared by every CairnTestHost; the
 * plugin handle tells which host a call is for). block_validate is NULL. */
const CairnHost *cairn_test_host_mock_table (void);

/* Sets the genesis document (JSON text, an object) that host->genesis()
 * returns and the genesis hooks get; before cairn_test_host_genesis (also
 * before loading plugins that read it in init). Its "chain_id" becomes
 * the chain id, its "genesis_time" (ms) the time of block 0; "accounts"
 * (address, roles, balances) and "validators" (address) are applied at
 * genesis as the node does: roles and validator roles are granted, and
 * balances are credited by the built-in bank (unless a bank plugin is
 * loaded, which does it itself). FALSE + INVALID when the text is not a
 * JSON object or genesis has run. Default:
 * {"accounts":[],"app_state":{},"chain_id":"test","genesis_time":
 * 1767225600000,"validators":[]}. */
gboolean cairn_test_host_set_genesis (CairnTestHost *h, const char *json_text,
                                      GError **error);

/* Adds a plugin without running anything of it (as cairn_test_plugin_new,
 * data dir <host tmp>/<id>): set its config with
 * cairn_test_plugin_set_config, then cairn_test_plugin_init runs its init
 * on the mock table. A failed init leaves nothing registered. The host
 * owns the result. Asserts that entry gives a descriptor and that no
 * plugin of that id was added before. */
CairnTestPlugin *cairn_test_host_add (CairnTestHost *h, CairnPluginEntry entry);

/* Loads a plugin as a node does: add, set config (a NULL-terminated list
 * key, value, ..., NULL; may be NULL), check that every service in its
 * `requires` is available (from a plugin loaded before, or the built-in
 * bank), run init, then refuse it if a config key was never read during
 * init or a service in `provides` was not registered. On failure the
 * plugin is removed again (its fini runs if its init had succeeded) and
 * NULL returned with the error (CONFIG for config and requires, ABI for
 * provides, or the plugin's own). The host owns the result. */
CairnTestPlugin *cairn_test_host_load (CairnTestHost *h, CairnPluginEntry entry,
                                       const char *const *config,
                                       GError **error);

/* The plugin with that id, or NULL. */
CairnTestPlugin *cairn_test_host_plugin (CairnTestHost *h, const char *id);

/* Adds a plugin that is only an identity: id, no callbacks, no config,
 * no registrations, nothing required or provided; its init runs at once
 * (before or after start) and does nothing. For calling a service or a
 * host function as plugin id would, e.g. cairn.bank/1's mint as one of
 * the bank's minters, or lock under holder id:
 *   CairnPlugin *pos = cairn_test_plugin_self (
 *       cairn_test_host_add_caller (h, "pos"));
 *   bank->lock (pos, tx, alice, "cairn", 300, &error);
 * The host owns the result. Aborts when id is not a plugin id
 * ([a-z0-9-]{1,32}) or a plugin of that id was added before. */
CairnTestPlugin *cairn_test_host_add_caller (CairnTestHost *h, const char *id);

/* Runs genesis if it has not run (cairn_test_host_genesis), then the start
 * callback of every initialised plugin in load order, as a node does once
 * its store is open. FALSE with the first error (prefixed with the
 * plugin's id); plugins started before stay started. Call once. */
gboolean cairn_test_host_start (CairnTestHost *h, GError **error);

/* Runs the stop callback of every started plugin in reverse load order
 * (also done by cairn_test_host_free). */
void cairn_test_host_stop (CairnTestHost *h);

/* ---- accounts, roles, the node's key ------------------------------------
 */

/* The address of a deterministic Ed25519 key made from name (the same
 * name gives the same key in every run); a tx sent from it carries the
 * key's sender_pubkey. Owned by h. */
const char *cairn_test_host_account (CairnTestHost *h, const char *name);

/* The hex public key of cairn_test_host_account (h, name). Owned by h. */
const char *cairn_test_host_account_pubkey (CairnTestHost *h, const char *name);

/* Signs "<domain>\0<msg>" with the key of account name (for plugins that
 * verify signatures with host->ed25519_verify). */
void cairn_test_host_account_sign (CairnTestHost *h, const char *name,
                                   const char *domain, const void *msg,
                                   size_t len, uint8_t sig[64]);

/* The node's address and hex public key (host->node_address/pubkey). */
const char *cairn_test_host_node_address (CairnTestHost *h);
const char *cairn_test_host_node_pubkey (CairnTestHost *h);

/* Grants (or, with grant FALSE, revokes) role to address in the committed
 * state (core/role/<address>/<role>, what host->has_role reads), as the
 * admin authority's core.grant_role would. */
void cairn_test_host_set_role (CairnTestHost *h, const char *address,
                               const char *role, gboolean grant);

/* ---- blocks and transactions --------------------------------------------
 */

/* Runs genesis: block 0 with the genesis document's roles and the
 * genesis hook of every app in load order, each in its own overlay (a
 * failing hook fails genesis: nothing is written, FALSE with its error
 * prefixed "genesis of plugin <id>: "). The first block or tx runs it when
 * the test has not. Call at most once. */
gboolean cairn_test_host_genesis (CairnTestHost *h, GError **error);

/* Opens block head+1 (running genesis first if needed) at the fake
 * clock's time (kept above the previous block's) and runs every app's
 * begin_block hook in load order. A failing hook discards the block:
 * FALSE with "<id> begin_block at height N: ..." and no block open.
 * Aborts if a block is already open. */
gboolean cairn_test_host_begin_block (CairnTestHost *h, GError **error);

/* Runs every app's end_block hook, then commits the block: its writes
 * become the state, the head moves, and the events are published to
 * subscribers and the record (cairn_test_host_events) in the node's
 * order: "block", the hooks' events, then each tx's; the consensus
 * engine's on_block_committed runs last. A failing hook discards the
 * whole block (FALSE with its error, nothing written). Aborts if no block
 * is open. */
gboolean cairn_test_host_end_block (CairnTestHost *h, GError **error);

/* Drops the open block without committing anything (like a block that
 * never got a certificate). Aborts if no block is open. */
void cairn_test_host_discard_block (CairnTestHost *h);

/* Whether a block is open (between begin_block and end_block). */
gboolean cairn_test_host_in_block (CairnTestHost *h);

/* The committed head's height (0 after genesis) and block time. */
uint64_t cairn_test_host_height (CairnTestHost *h);
int64_t cairn_test_host_head_time (CairnTestHost *h);

/* Executes one tx of `type` from sender (an address, e.g. of
 * cairn_test_host_account) with the body (JSON text): the handler's check
 * (as at admission; a failure means the tx never enters a block), then
 * its apply in a block, in the tx's own overlay, merged into the block
 * only when apply succeeds; sender's nonce is consumed either way, as on
 * a node. When no block is open, the tx runs in a block of its own
 * (begin_block, the tx, end_block). *result (may be NULL; new ref) gets
 * the node's result object: {"ok":true,"events":[{"type","attrs"}...]} or
 * {"ok":false,"code":"<error code>","error":"<message>"} plus "stage":
 * "check"|"apply", and "id", "height", "index". TRUE when apply
 * succeeded; FALSE with the handler's error (its domain, code and
 * message) otherwise, or INVALID for a bad sender or body text and
 * NOT_FOUND ("unknown_type") for a type nobody registered. */
gboolean cairn_test_host_submit (CairnTestHost *h, const char *sender,
                                 const char *type, const char *body_json,
                                 json_t **result, GError **error);

/* Only the stateless check of a tx body, as at admission. */
gboolean cairn_test_host_check (CairnTestHost *h, const char *type,
                                const char *body_json, GError **error);

/* A tx context for calling a plugin or service function directly (e.g.
 * bank->transfer, a handler of one's own), in the open block or, when
 * none is open, in a block of its own that cairn_test_host_tx_end ends.
 * sender may be "" (like a block hook). End it with cairn_test_host_tx_end.
 */
CairnTxCtx *cairn_test_host_tx_begin (CairnTestHost *h, const char *sender);

/* Merges the tx's writes and events into the block (commit TRUE) or drops
 * them, frees tx, and ends the block tx_begin opened, if it did. Its
 * events are published with the block, without a tx id (it is no tx of
 * the block; no nonce is consumed). FALSE only when that block's end
 * failed. */
gboolean cairn_test_host_tx_end (CairnTxCtx *tx, gboolean commit,
                                 GError **error);

/* Adds a tx to the mempool (its check runs first: FALSE with its error),
 * for a consensus engine's host->block_build or cairn_test_host_run_block.
 * After start, the engine's on_txs_available runs at the next
 * cairn_test_host_advance (as the node calls it from its main loop). */
gboolean cairn_test_host_queue_tx (CairnTestHost *h, const char *sender,
                                   const char *type, const char *body_json,
                                   GError **error);

/* Txs waiting in the mempool (queued, or from a plugin's submit_tx). */
guint cairn_test_host_mempool_size (CairnTestHost *h);

/* One block with every mempool tx: begin_block, the txs in order (each
 * tx's result is stored with the block), end_block. *n_txs (may be NULL)
 * gets how many ran. */
gboolean cairn_test_host_run_block (CairnTestHost *h, guint *n_txs,
                                    GError **error);

/* The stored block at height (0 = genesis), as host->block_get gives it:
 * {"header":{...},"txs":[...],"results":[...],"certificate":...}; NULL
 * when there is none. Borrowed, valid while h is. */
const json_t *cairn_test_host_block (CairnTestHost *h, uint64_t height);

/* ---- state ---------------------------------------------------------------
 */

/* The committed value of a full key "<ns>/<key>" (e.g. "bank/supply/cairn"),
 * or NULL. g_bytes_unref. */
GBytes *cairn_test_host_state_get (CairnTestHost *h, const char *full_key);

/* The committed value as a string (g_free), or NULL. */
char *cairn_test_host_state_string (CairnTestHost *h, const char *full_key);

/* The committed value parsed as JSON (new ref), or NULL when absent;
 * aborts when it is not JSON. */
json_t *cairn_test_host_state_json (CairnTestHost *h, const char *full_key);

/* Writes (value NULL: deletes) a full key straight into the committed
 * state, outside any block, to set up a test. */
void cairn_test_host_state_set (CairnTestHost *h, const char *full_key,
                                const void *value, size_t len);

/* How many committed keys start with prefix ("" for all). */
guint cairn_test_host_state_count (CairnTestHost *h, const char *prefix);

/* The value of a plugin's private store (host->private_put) under a full
 * key "<id>/<key>", or NULL. g_bytes_unref. */
GBytes *cairn_test_host_private_get (CairnTestHost *h, const char *full_key);

/* ---- events --------------------------------------------------------------
 */

/* Every event published so far, in order (committed blocks' events and
 * local events): an array of {"type", "height", "tx_id" (string or null),
 * "tx_index" (integer or null), "attrs", "local" (true for
 * emit_local_event)}. Borrowed, valid until the next publication or
 * clear. */
const json_t *cairn_test_host_events (CairnTestHost *h);

/* The events whose type starts with type_prefix ("" for all); new ref. */
json_t *cairn_test_host_events_matching (CairnTestHost *h,
                                         const char *type_prefix);

/* Forgets the recorded events (subscribers are not affected). */
void cairn_test_host_clear_events (CairnTestHost *h);

/* ---- the fake clock and timers ------------------------------------------
 */

/* The fake clock (what host->now_ms returns), ms since the epoch. */
int64_t cairn_test_host_now_ms (CairnTestHost *h);

/* Moves the fake clock forward by ms and runs every timer that falls due,
 * in order of due time (then of creation), each with the clock set to
 * its due time; a timer that returns TRUE is due again interval_ms later
 * (an interval of 0 runs at most once per call). ms 0 runs what is due
 * now. The consensus engine's on_txs_available, due after a tx was queued,
 * runs the same way. Returns how many plugin timer callbacks ran. */
guint cairn_test_host_advance (CairnTestHost *h, uint64_t ms);

/* Plugin timers pending (added, not removed, not finished). */
guint cairn_test_host_n_timers (CairnTestHost *h);

/* ---- routes and streams --------------------------------------------------
 */

/* Calls the route registered for method and path (the longest match, as
 * the node picks it; "?k=v&..." becomes req->query, percent-decoded) with
 * body (JSON text or NULL; text that is not JSON is answered 400 like the
 * node does). *status gets the HTTP status and *json (may be NULL; new
 * ref) the JSON answer: the route's, or the node's error object
 * {"error":{"code","message"}} (invalid 400, insufficient_funds and
 * overflow 400, unauthorized 403, not_found 404, conflict 409,
 * not_implemented 501, others 500; no route: 404). A non-JSON answer
 * (resp->body or a stream) gives *json NULL: use
 * cairn_test_host_request_bytes. TRUE when a route answered (any status),
 * FALSE when none matched. */
gboolean cairn_test_host_request (CairnTestHost *h, const char *method,
                                  const char *path, const char *body,
                                  guint *status, json_t **json);

/* Like cairn_test_host_request but gives the body as bytes whatever it is
 * (JSON as its compact text, resp->body, or the whole stream read through
 * open_stream), and its content type (g_free; "application/json" for
 * JSON). */
gboolean cairn_test_host_request_bytes (CairnTestHost *h, const char *method,
                                        const char *path, const char *body,
                                        guint *status, char **content_type,
                                        GBytes **bytes);

/* A client of a stream route (host->register_stream_route). */
typedef struct CairnTestStream CairnTestStream;

/* Connects to the stream route matching path (GET): its open callback
 * runs. NULL when no stream route matches (*status 404) or open refused
 * (*status from its error as for routes; *json, may be NULL, the error
 * object). */
CairnTestStream *cairn_test_host_stream_open (CairnTestHost *h,
                                              const char *path, guint *status,
                                              json_t **json);

/* What the plugin sent on the stream so far: an array of {"event", "id"
 * (string or null), "data"}. Borrowed. */
const json_t *cairn_test_stream_messages (CairnTestStream *s);

/* Whether the stream has ended (host->stream_close, or a closed client). */
gboolean cairn_test_stream_ended (CairnTestStream *s);

/* The client goes away: the route's closed callback runs (once, if the
 * stream had not ended) and s is freed. NULL is ignored. */
void cairn_test_stream_free (CairnTestStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestStream, cairn_test_stream_free)

/* ---- the bank service (cairn.bank/1) ------------------------------------
 *
 * Unless a loaded plugin provides cairn.bank/1 (e.g. the real bank), the
 * host provides its own, with the bank plugin's state layout in the
 * "bank" namespace (bal/<address>/<denom>, lock/<holder>/<address>/<denom>,
 * holders/<holder>, supply/<denom>, amounts as decimal text, zero
 * balances deleted), its checks, errors and events ("bank.transfer" with
 * "by", "bank.mint", "bank.burn", "bank.lock", "bank.unlock"). mint and
 * burn are refused (UNAUTHORIZED) for plugins not added as minters. The
 * helpers below read and write that layout, so they also work with the
 * real bank loaded. */

/* Lets plugin id mint and burn (the bank's [bank] minters). */
void cairn_test_host_bank_add_minter (CairnTestHost *h, const char *plugin_id);

/* Sets address's spendable balance of denom in the committed state (the
 * supply follows the difference). */
void cairn_test_host_bank_set_balance (CairnTestHost *h, const char *address,
                                       const char *denom, uint64_t amount);

/* The committed spendable balance (0 when none). */
uint64_t cairn_test_host_bank_balance (CairnTestHost *h, const char *address,
                                       const char *denom);

/* The committed amount of address's denom locked by plugin holder. */
uint64_t cairn_test_host_bank_locked (CairnTestHost *h, const char *holder,
                                      const char *address, const char *denom);

/* The committed supply of denom (0 when none). */
uint64_t cairn_test_host_bank_supply (CairnTestHost *h, const char *denom);

/* ---- peers, direct messages, metrics, blobs ------------------------------
 */

/* Declares a connected peer (a node address): peer_list shows it,
 * peer_send and direct_send to it are accepted, and the consensus
 * engine's on_peer_connected runs. */
void cairn_test_host_add_peer (CairnTestHost *h, const char *peer_id);

/* The peer disconnects (the engine's on_peer_disconnected runs). */
void cairn_test_host_remove_peer (CairnTestHost *h, const char *peer_id);

/* What plugins sent to peers so far, in order: an array of {"kind":
 * "broadcast"|"send"|"direct", "plugin", "peer" (null for broadcast),
 * "data_hex"}. Borrowed. */
const json_t *cairn_test_host_sent (CairnTestHost *h);

/* Forgets the record of sent messages. */
void cairn_test_host_clear_sent (CairnTestHost *h);

/* The consensus engine registered in the host (register_consensus), or
 * NULL; and its interface (a copy, valid as long as h), whose callbacks a
 * test may call with cairn_test_plugin_self of the engine. */
CairnTestPlugin *cairn_test_host_engine (CairnTestHost *h);
const CairnConsensusIface *cairn_test_host_consensus (CairnTestHost *h);

/* Makes the engine's next host->block_build fail, once, with
 * CAIRN_ERROR_FAILED and message (as a node's build fails when its store
 * does), to test how an engine recovers; a later build works again.
 * message NULL cancels a failure still pending. */
void cairn_test_host_fail_next_build (CairnTestHost *h, const char *message);

/* A consensus message from peer_id to the engine (on_peer_message).
 * Aborts when no engine is registered. */
void cairn_test_host_deliver_peer_message (CairnTestHost *h,
                                           const char *peer_id,
                                           const void *data, size_t len);

/* A direct message from peer_id to the handler plugin_id registered
 * (register_direct_handler). FALSE + NOT_FOUND when it has none. */
gboolean cairn_test_host_deliver_direct (CairnTestHost *h,
                                         const char *plugin_id,
                                         const char *peer_id, const void *data,
                                         size_t len, GError **error);

/* The last value a plugin set for metric name (as given to metric_set,
 * labels included). FALSE when it never set it. */
gboolean cairn_test_host_metric (CairnTestHost *h, const char *name,
                                 int64_t *value);

G_END_DECLS

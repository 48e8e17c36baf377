/* The node's internals, shared by the runtime's own files only. */
#pragma once

#include <cairn/cairn.h>

#include "block.h"
#include "config.h"
#include "crypto.h"
#include "genesis.h"
#include "http.h"
#include "lthash.h"
#include "mempool.h"
#include "node.h"
#include "p2p.h"
#include "plugin_host.h"
#include "state.h"

typedef struct CairnHttp CairnHttp;

typedef struct {
  CairnPlugin *plugin;
  CairnTxHandler handler;
} TxTypeEntry;

typedef struct {
  CairnPlugin *plugin;
  CairnAppIface iface;
} AppEntry;

typedef struct {
  CairnPlugin *plugin;
  char *method;
  char *path;
  gboolean prefix; /* path ends with '/' */
  CairnRouteFn fn; /* NULL for a stream route */
  void *user_data;
  /* 1.4 stream routes (GET, server-sent events) */
  CairnStreamOpenFn stream_open;
  CairnStreamClosedFn stream_closed;
} RouteEntry;

typedef struct {
  CairnPlugin *plugin;
  CairnDirectFn fn;
  void *user_data;
} DirectEntry;

typedef struct {
  CairnPlugin *plugin;
  const void *vtable;
} ServiceEntry;

/* A registered blob store (the node's own and CairnNodeOptions'
 * extra_blobstores). */
typedef struct {
  CairnPlugin *plugin;
  CairnBlobstoreIface iface;
} BlobstoreEntry;

typedef struct {
  guint id;
  char *prefix;
  CairnPlugin *plugin; /* plugin subscriber, or NULL */
  CairnEventFn plugin_fn;
  CairnNodeEventFn node_fn;
  void *user_data;
  gboolean removed;
} Subscription;

typedef struct {
  guint64 txs_received;
  guint64 txs_accepted;
  guint64 txs_rejected[16]; /* by CairnReject code */
  guint64 txs_committed;
  guint64 txs_failed; /* committed with ok=false */
  guint64 blocks_committed;
  double commit_seconds_sum;
  double exec_seconds_sum;
  guint64 http_requests;
  guint64 http_errors;
  guint64 events_dropped;
  guint64 p2p_bad_messages;  /* undecodable or refused peer messages */
  guint64 p2p_tx_duplicates; /* gossiped txs this node had seen already */
  guint64 blocks_synced;     /* blocks committed from peers */
} CairnMetricsCounters;

/* Execution of one tx or hook. */
struct CairnTxCtx {
  CairnNode *node;
  CairnOverlay *overlay;
  CairnTxInfo info;
  json_t *events; /* array of {"type","attrs"} */
};

/* A block built or validated, executed, waiting for commit. */
struct CairnBlock {
  CairnBlockData *data;
  CairnOverlay *overlay; /* the block's writes */
  GPtrArray *results;    /* json_t* per tx */
  json_t *block_events;  /* from begin/end_block hooks, in order */
  uint64_t base_height;  /* head it was executed on */
  char base_hash[65];
  CairnBlockInfo info;
  CairnLtHash lthash; /* state accumulator after this block */
  GArray *writes;     /* CairnWrite, sorted; points into the overlay */
  char *bytes;        /* canonical, without certificate */
  size_t len;
};

struct CairnNode {
  char *home;
  CairnConfig *cfg;
  CairnGenesis *genesis;
  CairnKey *key;
  CairnPluginHost *plugins;
  CairnPlugin core_plugin; /* pseudo plugin "core" for core state */
  char *data_dir;
  int lock_fd;       /* <data_dir>/node.lock, flock()ed while the node exists */
  char *run_as_user; /* [node] user */
  int64_t watchdog_ms;            /* [node] watchdog_ms, 0 = off */
  struct CairnWatchdog *watchdog; /* while started, on the system clock */

  GHashTable *tx_types; /* type -> TxTypeEntry* */
  GPtrArray *apps;      /* AppEntry* in load order */
  GPtrArray *routes;    /* RouteEntry* */
  GHashTable *services; /* "name/version" -> ServiceEntry* */
  GHashTable *direct;   /* plugin id -> DirectEntry* (direct messages) */

  CairnPlugin *storage_plugin;
  CairnStorageIface storage;
  CairnStore *store;
  CairnStateBase state_base;
  CairnPlugin *consensus_plugin;
  CairnConsensusIface consensus;
  CairnPlugin *blob_plugin; /* the node's blob store ([plugins] load) */
  CairnBlobstoreIface blob;
  GPtrArray *blobstores;   /* BlobstoreEntry*: every registered one */
  char **extra_blobstores; /* ids loaded for CairnNodeOptions only */

  CairnMempool *mempool;
  guint block_max_txs;
  guint64 block_max_bytes;
  GThreadPool *verify_pool;

  /* The committed head. */
  CairnChainHead head;
  char head_hash[65];
  char head_state_root[65];
  CairnLtHash lthash;

  GPtrArray *subscriptions; /* Subscription* */
  guint next_sub_id;
  CairnClock *clock;
  guint notify_source; /* tells consensus about new txs */
  guint expire_source;

  /* P2P (core/gossip.c) */
  struct CairnTransport *p2p;
  gboolean p2p_enabled;
  char *p2p_listen;
  GArray *p2p_peers; /* CairnPeerAddr */
  char **p2p_allow;
  CairnP2pLimits p2p_limits;
  CairnTransportFactory transport_factory;
  void *transport_factory_data;
  uint64_t sync_requested;       /* last height asked for in a catch-up */
  int64_t sync_requested_ms;     /* when (clock mono_ms) */
  guint head_tick_source;        /* periodic head exchange */
  uint64_t best_peer_height;     /* highest head a peer told us */
  struct CairnApplyAhead *ahead; /* catch-up blocks not yet applied */
  guint ahead_timer;             /* applies them when arrivals stop */
  uint64_t ahead_tail_seen;      /* newest queued at its last tick */
  GHashTable *txs_seen[2];       /* tx ids gossiped lately (gossip.c) */
  GHashTable *peer_peers; /* peer id -> set of its peers' ids (gossip.c) */
  struct CairnBlock *deferred_block; /* last commit not yet durable */
  guint sync_source;                 /* makes it durable soon */

  CairnHttp *http;
  char *http_listen;
  gboolean http_enabled;
  uint64_t http_max_blob; /* largest POST /v1/blobs body */
  CairnHttpLimits http_limits;
  CairnMempoolLimits mempool_limits;
  gboolean started;
  CairnMetricsCounters metrics;
  GTree *plugin_metrics; /* "<name>\001<labels>" -> PluginMetric (metrics.c) */
  int64_t started_ms;
};

/* host.c */
const CairnHost *cairn_host_table (void);
CairnNode *cairn_plugin_node (CairnPlugin *p);

/* executor.c: run txs and hooks against an overlay. */
typedef struct CairnExecBlock {
  uint64_t height;
  int64_t time_ms;
  const char *proposer; /* address from the header */
} CairnExecBlock;
json_t *cairn_exec_tx (CairnNode *node, CairnOverlay *block_ov, CairnTx *tx,
                       uint32_t index, const CairnExecBlock *blk);
/* TRUE when a blobstore plugin is loaded, else NOT_IMPLEMENTED saying how
 * to enable one (host.c). */
gboolean cairn_node_have_blobstore (CairnNode *node, GError **error);
/* Runs every app's begin_block (begin) or end_block hook; the events they
 * emit are appended to `events`. */
gboolean cairn_exec_hooks (CairnNode *node, CairnOverlay *block_ov,
                           gboolean begin, const CairnExecBlock *blk,
                           json_t *events, GError **error);
gboolean cairn_exec_genesis (CairnNode *node, CairnOverlay *ov, GError **error);
void cairn_core_register_tx_types (CairnNode *node);
uint64_t cairn_account_nonce (CairnNode *node, CairnOverlay *ov,
                              const char *address, GError **error);

/* metrics.c: a plugin's metric (host->metric_set). */
gboolean cairn_node_metric_set (CairnNode *node, const char *plugin_id,
                                const char *name, const char *help,
                                int64_t value, GError **error);
void cairn_node_metrics_free (CairnNode *node);

/* chain.c */
gboolean cairn_chain_open (CairnNode *node, GError **error);
CairnBlock *cairn_chain_build (CairnNode *node, const CairnBuildOpts *opts,
                               GError **error);
CairnBlock *cairn_chain_validate (CairnNode *node, const void *bytes,
                                  size_t len, GError **error);
/* The same for a block already decoded (consumed). */
CairnBlock *cairn_chain_validate_decoded (CairnNode *node, CairnBlockData *d,
                                          GError **error);
/* The same with d's canonical bytes without certificate (taken; NULL:
 * encoded here), when the caller has them already. */
CairnBlock *cairn_chain_validate_encoded (CairnNode *node, CairnBlockData *d,
                                          char *bytes, size_t len,
                                          GError **error);
gboolean cairn_chain_commit (CairnNode *node, CairnBlock *block,
                             const json_t *certificate, GError **error);
/* Catch-up: commit without waiting for the disk (the store's
 * CAIRN_COMMIT_DEFER_SYNC) and without telling consensus or peers; the
 * next normal commit, cairn_chain_sync, or a timer 100 ms later makes it
 * durable and tells consensus about the head. Consumes block. */
gboolean cairn_chain_commit_deferred (CairnNode *node, CairnBlock *block,
                                      const json_t *certificate,
                                      GError **error);
gboolean cairn_chain_sync (CairnNode *node, gboolean notify, GError **error);
void cairn_block_discard (CairnBlock *block);
/* The plugins' view of a decoded block; bytes: its canonical form
 * without certificate. */
void cairn_block_info_fill (CairnBlockInfo *info, const CairnBlockData *d,
                            const char *bytes, size_t len);

/* events.c */
guint cairn_events_subscribe (CairnNode *node, const char *prefix,
                              CairnPlugin *plugin, CairnEventFn pfn,
                              CairnNodeEventFn nfn, void *user_data);
void cairn_events_unsubscribe (CairnNode *node, guint id);
void cairn_events_publish (CairnNode *node, const CairnEvent *ev);
/* The longest stream route (1.4) matching a GET path, or NULL. */
const RouteEntry *cairn_node_find_stream_route (CairnNode *node,
                                                const char *path,
                                                const char **path_rest);
void cairn_events_free_all (CairnNode *node);

/* node.c */
void cairn_node_txs_available (CairnNode *node);
/* Admission of txs from HTTP (peer NULL) or a peer; accepted ones are
 * gossiped to the other peers. Returns how many were accepted. */
guint cairn_node_admit (CairnNode *node, CairnTx **txs, guint n,
                        GError **errors, const char *peer);

/* The committed block as stored: {"certificate","header","txs"}. */
CairnTx *cairn_node_known_tx (const uint8_t id[32], gpointer node);
json_t *cairn_node_stored_block (CairnNode *node, uint64_t height,
                                 GError **error);

/* gossip.c */
gboolean cairn_gossip_start (CairnNode *node, GError **error);
void cairn_gossip_stop (CairnNode *node);
void cairn_gossip_free (CairnNode *node);
/* Admitted txs on to the peers: all of them for our own (source NULL),
 * else those that `source` (the peer they came from) is not linked to. */
void cairn_gossip_txs (CairnNode *node, CairnTx **txs, guint n,
                       const char *source);
void cairn_gossip_block (CairnNode *node, const char *bytes, size_t len);
/* Send payload on channel to every connected peer but except_peer. */
void cairn_gossip_broadcast (CairnNode *node, uint8_t channel, GBytes *payload,
                             const char *except_peer);
/* Verify signatures in parallel; errors[i] set for each bad tx. */
gboolean cairn_node_verify_txs (CairnNode *node, CairnTx **txs, guint n,
                                GError **errors);

/* Internals of the mock host (<cairn/testing/mock_host.h>), shared by its
 * files: mock_host.c (plugins, registration, the table), mock_state.c
 * (state, overlays, private store), mock_exec.c (txs, blocks, genesis,
 * events, the chain for consensus engines), mock_clock.c (fake clock,
 * timers), mock_http.c (routes, streams), mock_bank.c (cairn.bank/1),
 * mock_net.c (peers, direct messages, blobs, metrics) and mock_crypto.c
 * (keys, hashing, canonical JSON). Not installed. */
#pragma once

#include <openssl/evp.h>

#include "testing_private.h"

typedef struct {
  CairnTestPlugin *tp;
  CairnTxHandler handler;
} MockTxType;

typedef struct {
  CairnTestPlugin *tp;
  CairnAppIface iface;
} MockApp;

typedef struct {
  CairnTestPlugin *tp;
  char *method;
  char *path;
  gboolean prefix; /* path ends in '/' */
  CairnRouteFn fn; /* NULL for a stream route */
  CairnStreamOpenFn open;
  CairnStreamClosedFn closed;
  void *user_data;
} MockRoute;

typedef struct {
  CairnTestPlugin *tp; /* NULL: the built-in bank */
  const void *vtable;
} MockService;

typedef struct {
  CairnTestPlugin *tp;
  CairnDirectFn fn;
  void *user_data;
} MockDirect;

typedef struct {
  guint id;
  CairnTestPlugin *tp;
  char *prefix;
  CairnEventFn fn;
  void *user_data;
  gboolean removed;
} MockSub;

typedef struct {
  guint id;
  CairnTestPlugin *tp; /* NULL: the host's own (engine notification) */
  uint32_t interval_ms;
  int64_t due_ms;
  CairnTimerFn fn;
  GSourceFunc host_fn; /* for the host's own timers */
  void *user_data;
  gboolean removed;
} MockTimer;

typedef struct {
  char *name;
  char address[41];
  char pubkey_hex[65];
  EVP_PKEY *key;
} MockAccount;

typedef struct {
  char sender[41];
  char *type;
  json_t *body;
  gboolean has_nonce; /* submit_tx: the nonce the node signed with */
  uint64_t nonce;
} MockPending;

/* A tx's (or hook's) execution context: its own overlay over the block's. */
struct CairnTxCtx {
  CairnTestHost *host;
  GTree *writes;  /* full key -> GBytes, or NULL value = deleted */
  GTree *parent;  /* the block's overlay (NULL: committed state only) */
  json_t *events; /* [{"type","attrs"}] */
  CairnTxInfo info;
  char *id, *type, *sender, *pubkey;
  gboolean implicit_block; /* tx_begin opened a block that tx_end ends */
};

/* A block being executed (or built for an engine), not committed yet. */
struct CairnBlock {
  CairnTestHost *host;
  uint64_t height;
  int64_t time_ms;
  uint64_t base_height; /* the head it was executed on */
  GTree *writes;
  json_t *txs;         /* [{"body","from","id","nonce","type"}] */
  json_t *results;     /* one per tx */
  json_t *hook_events; /* [{"type","attrs"}] */
  json_t *header;      /* set when finished */
  CairnBlockInfo info; /* set when finished */
  char hash[65];
  char prev_hash[65];
  char state_root[65];
  char proposer[41];
  char *bytes;
  gboolean built; /* by block_build (the engine commits it) */
};

struct CairnTestHost {
  char *root; /* temp dir of the plugins' data dirs */
  json_t *genesis;
  char *chain_id;
  GPtrArray *plugins; /* CairnTestPlugin *, load order */
  gboolean started;
  gboolean genesis_done;

  GHashTable *tx_types; /* type -> MockTxType */
  GPtrArray *apps;      /* MockApp, load order */
  GPtrArray *routes;    /* MockRoute */
  GHashTable *services; /* "name/version" -> MockService */
  GHashTable *direct;   /* plugin id -> MockDirect */
  CairnTestPlugin *engine;
  CairnConsensusIface consensus;
  GPtrArray *subs; /* MockSub */
  guint next_sub;

  GTree *state;   /* committed: full key -> GBytes */
  GTree *private; /* private store: full key -> GBytes */

  CairnChainHead head;
  char head_hash[65];
  char state_root[65];
  GPtrArray *blocks;  /* json_t * stored blocks, index = height */
  CairnBlock *block;  /* the open block (begin_block .. end_block) */
  GPtrArray *mempool; /* MockPending */
  guint notify_timer;
  char *fail_build; /* the next block_build fails with this message */
  guint executing;  /* depth of handler/hook calls (submit_tx refuses) */
  guint publishing; /* depth of event delivery (unsubscribe sweeps later) */

  GHashTable *accounts; /* name -> MockAccount */
  GHashTable *pubkeys;  /* address -> pubkey hex (accounts') */
  MockAccount node;

  json_t *events;

  int64_t now_ms;
  GPtrArray *timers; /* MockTimer */
  guint next_timer;

  GPtrArray *peers; /* char * */
  json_t *sent;
  GHashTable *metrics; /* name -> int64_t * */
  GHashTable *blobs;   /* cid -> GBytes */
  GPtrArray *streams;  /* CairnTestStream *, open ones */

  CairnBankService bank;
  GPtrArray *minters; /* char * */
};

/* ---- mock_host.c ---- */
CairnTestHost *cairn_test__host_of (CairnPlugin *self);
/* Checks that a registration happens during init. */
gboolean cairn_test__registering (CairnTestPlugin *tp, const char *what,
                                  GError **error);
/* [a-z0-9_.-]+ */
gboolean cairn_test__name_chars_valid (const char *s);

/* ---- mock_state.c ---- */
GTree *cairn_test__kv_new (void);
/* State keys: 1..CAIRN_MAX_KEY printable ASCII, no space, no leading '/'. */
gboolean cairn_test__key_valid (const char *key, GError **error);
/* Read through tx (may be NULL: committed) by full key; NULL when absent,
 * without error. */
GBytes *cairn_test__read (CairnTestHost *h, CairnTxCtx *tx,
                          const char *full_key);
void cairn_test__write (CairnTxCtx *tx, const char *full_key, GBytes *value);
/* Iterates a full-key prefix through tx (NULL: committed) in order;
 * strip is how many bytes of each key fn does not get. */
gboolean cairn_test__iter (CairnTestHost *h, CairnTxCtx *tx,
                           const char *full_prefix, size_t strip, CairnKvFn fn,
                           void *user_data);
/* Moves a tree's writes into dst (a parent overlay or the state). */
void cairn_test__merge (GTree *writes, GTree *dst, gboolean dst_is_state);
void cairn_test__fill_state_table (CairnHost *t);

/* ---- mock_exec.c ---- */
CairnTxCtx *cairn_test__ctx_new (CairnTestHost *h, CairnBlock *b,
                                 const char *sender);
void cairn_test__ctx_free (CairnTxCtx *tx);
void cairn_test__publish (CairnTestHost *h, const CairnEvent *ev,
                          gboolean local);
void cairn_test__fill_exec_table (CairnHost *t);
/* Tells the consensus engine (at the next advance) that txs wait. */
void cairn_test__notify_engine (CairnTestHost *h);
void cairn_test__exec_free (CairnTestHost *h);

/* ---- mock_clock.c ---- */
guint cairn_test__timer_add_host (CairnTestHost *h, uint32_t ms, GSourceFunc fn,
                                  void *data);
void cairn_test__timer_remove_id (CairnTestHost *h, guint id);
void cairn_test__fill_clock_table (CairnHost *t);

/* ---- mock_http.c ---- */
void cairn_test__fill_http_table (CairnHost *t);
void cairn_test__streams_close_all (CairnTestHost *h);

/* ---- mock_bank.c ---- */
void cairn_test__bank_init (CairnTestHost *h);
/* The built-in bank's genesis: accounts[].balances. */
gboolean cairn_test__bank_genesis (CairnTestHost *h, CairnTxCtx *tx,
                                   GError **error);

/* ---- mock_net.c ---- */
void cairn_test__fill_net_table (CairnHost *t);

/* ---- mock_crypto.c ---- */
void cairn_test__account_init (MockAccount *a, const char *seed);
void cairn_test__account_clear (MockAccount *a);
void cairn_test__sign (EVP_PKEY *key, const char *domain, const void *msg,
                       size_t len, uint8_t sig[64]);
void cairn_test__sha256 (const void *data, size_t len, uint8_t out[32]);
char *cairn_test__sha256_hex (const void *data, size_t len);
/* The node's canonical JSON (sorted keys, compact, no reals). */
char *cairn_test__cjson_dump (const json_t *value, size_t *len, GError **error);
json_t *cairn_test__cjson_parse (const char *text, size_t len,
                                 gboolean require_canonical, GError **error);
gboolean cairn_test__address_valid (const char *address);
void cairn_test__fill_crypto_table (CairnHost *t);

/* Whole nodes on a simulated network with virtual time (issue 3).
 *
 * Per seed: N validator nodes (store-lmdb, bank, pos) in one process, each
 * with its own home, a SimClock view of one SimSched and a SimNet
 * transport. The seed plans the faults (frame drop, duplication, delay
 * spread that reorders, a partition that heals, crash and restart of up
 * to f validators holding < 1/3 of the stake) and the bank.transfer txs
 * sent to random live nodes. After the fault window (every node up, the
 * network lossless and FIFO) the chain must reach a target height and
 * commit every tx; then
 *   - safety: one block hash per height on every node (checked at every
 *     commit, and the stored blocks read back at the end);
 *   - state: the state each node stores at the common height hashes
 *     (LtHash, recomputed from the store) to the block's state root, the
 *     same on every node;
 *   - txs: each tx committed exactly once on every node, all ok, and the
 *     balances equal to what the txs imply, on every node.
 *
 * CAIRN_SIM_SEED=n   run only seed n (prints its plan and result)
 * CAIRN_SIM_SEEDS=n  seeds per validator count (default 200)
 * CAIRN_SIM_TRACE=1  print every event, frame, commit and node log line
 * CAIRN_SIM_KEEP_GOING=1  run every seed and list the failing ones
 * CAIRN_SIM_DIR=dir  where node homes go (default /dev/shm if usable: the
 *                    pos WAL fsyncs every vote)
 * A failing seed prints its plan, the nodes' last log lines and the
 * command that reruns it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cjson.h"
#include "crypto.h"
#include "lthash.h"
#include "node_private.h"
#include "sim_clock.h"
#include "sim_net.h"
#include "tx.h"

#define MAX_NODES 7
#define N_ACCOUNTS 4 /* 0..2 send, all receive */
#define N_SENDERS 3
#define FUNDS 1000000000
#define GENESIS_TIME 1700000000000
#define CHAIN_ID "sim"
#define RETRY_AFTER_HEAL_MS 1000 /* clients resend what is not committed */
#define LIVENESS_BOUND_MS 30000  /* from healing to the target */
#define MAX_EVENTS 2000000
#define LOG_KEEP 300

static char *plugins_dir;
static char *base_dir;
static gboolean trace_on;
static CairnKey *accounts[N_ACCOUNTS];

/* Node keys, the same in every run (made once: PEM decoding is slow). */
typedef struct NodeKey {
  char *pem;
  char address[41];
  char pubkey[65];
} NodeKey;
static NodeKey node_keys[MAX_NODES];

static const uint64_t equal4[] = { 10, 10, 10, 10 };
static const uint64_t unequal4[] = { 5, 20, 30, 45 };
static const uint64_t equal7[] = { 1, 1, 1, 1, 1, 1, 1 };
static const uint64_t unequal7[] = { 1, 2, 3, 5, 8, 13, 21 };

typedef struct Case {
  const char *name;
  guint n;
  const uint64_t *equal, *unequal; /* even seeds, odd seeds */
} Case;

static const Case cases[] = {
  { "n4", 4, equal4, unequal4 },
  { "n7", 7, equal7, unequal7 },
};

/* ---- deterministic keys -------------------------------------------------- */

/* PEM of the Ed25519 key whose seed is SHA-256(label): the core has no
 * "key from seed" call, and random keys would change the validator order
 * (and so the proposers) from one run of a seed to the next. */
static char *
seeded_pem (const char *label)
{
  uint8_t seed[32];
  cairn_sha256 (label, strlen (label), seed);
  EVP_PKEY *pk
      = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, seed, 32);
  g_assert_nonnull (pk);
  BIO *bio = BIO_new (BIO_s_mem ());
  g_assert_true (PEM_write_bio_PrivateKey (bio, pk, NULL, NULL, 0, NULL, NULL));
  char *data;
  long len = BIO_get_mem_data (bio, &data);
  char *pem = g_strndup (data, (gsize)len);
  BIO_free (bio);
  EVP_PKEY_free (pk);
  return pem;
}

static void
write_file (const char *path, const char *text, int mode)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_autoptr (GError) err = NULL;
  g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, mode,
                            &err);
  g_assert_no_error (err);
}

static CairnKey *
seeded_key (const char *label, const char *path)
{
  g_autofree char *pem = seeded_pem (label);
  write_file (path, pem, 0600);
  g_autoptr (GError) err = NULL;
  CairnKey *k = cairn_key_load (path, &err);
  g_assert_no_error (err);
  return k;
}

/* ---- a run ----------------------------------------------------------------
 */

typedef struct Run Run;

typedef struct SimNode {
  Run *run;
  guint idx;
  char *home;
  char address[41];
  uint64_t power;
  SimClock *clock;
  CairnNode *node;   /* NULL while crashed */
  GPtrArray *hashes; /* char*, [h-1]: what this node committed */
  GHashTable *txs;   /* tx id -> height committed on this node */
  guint crashes;
} SimNode;

typedef struct SimTx {
  char *bytes;
  gsize len;
  char id[65];
  guint from, to;
  uint64_t amount, nonce;
  gboolean admitted;
} SimTx;

/* For the tests of the checker itself. */
typedef enum {
  SABOTAGE_NONE,
  SABOTAGE_NO_RESTART, /* node 0 crashes early and never comes back */
} Sabotage;

typedef struct Plan {
  uint64_t heal_ms;
  SimNetFaults faults;
  gboolean partition;
  guint n_txs;
  GString *text; /* human-readable */
} Plan;

struct Run {
  const Case *c;
  guint64 seed;
  Sabotage sabotage;
  guint n;
  const uint64_t *powers;
  GRand *rand;
  SimSched *sched;
  SimNet *net;
  char *dir;
  SimNode nodes[MAX_NODES];
  GHashTable *committed; /* height -> hash, first commit seen anywhere */
  GPtrArray *txs;        /* SimTx*, in signing order */
  uint64_t next_nonce[N_SENDERS];
  Plan plan;
  uint64_t target; /* height every node must reach after healing */
  gboolean healed, retried;
  GString *fail;
  GQueue *log; /* last LOG_KEEP node log lines */
  guint warnings, rescued;
  guint64 fingerprint;
};

typedef struct RunResult {
  guint64 events, heights, txs, fingerprint, virtual_ms, after_heal_ms;
  guint warnings, rescued;
  SimNetStats net;
} RunResult;

static void G_GNUC_PRINTF (2, 3) run_fail (Run *r, const char *fmt, ...)
{
  if (r->fail->len > 0)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_string_append_printf (
      r->fail, "t=%" G_GUINT64_FORMAT "ms: ", sim_sched_now (r->sched));
  g_string_append_vprintf (r->fail, fmt, ap);
  va_end (ap);
}

/* FNV-1a over everything that happens: two runs of a seed must agree. */
static void
mix (Run *r, const void *data, size_t len)
{
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++) {
    r->fingerprint ^= p[i];
    r->fingerprint *= 0x100000001b3ull;
  }
}

static void
mix_u64 (Run *r, uint64_t v)
{
  mix (r, &v, sizeof v);
}

static void
mix_str (Run *r, const char *s)
{
  mix (r, s, strlen (s) + 1);
}

/* ---- logs, trace ----------------------------------------------------------
 */

static Run *current_run; /* the log handler's target */

static void
keep_line (Run *r, char *line)
{
  if (trace_on)
    g_printerr ("%s\n", line);
  g_queue_push_tail (r->log, line);
  while (g_queue_get_length (r->log) > LOG_KEEP)
    g_free (g_queue_pop_head (r->log));
}

static void
sim_log (const char *domain, GLogLevelFlags level, const char *message,
         gpointer unused)
{
  Run *r = current_run;
  GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
  if (r == NULL) {
    if (l & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
      g_printerr ("%s: %s\n", domain ? domain : "", message);
    return;
  }
  if (l == G_LOG_LEVEL_DEBUG && !trace_on)
    return;
  const char *name = l & G_LOG_LEVEL_ERROR      ? "error"
                     : l & G_LOG_LEVEL_CRITICAL ? "critical"
                     : l & G_LOG_LEVEL_WARNING  ? "warning"
                     : l & G_LOG_LEVEL_MESSAGE  ? "message"
                     : l & G_LOG_LEVEL_INFO     ? "info"
                                                : "debug";
  int owner = sim_sched_owner (r->sched);
  keep_line (r, g_strdup_printf ("t=%" G_GUINT64_FORMAT " n%d %s %s: %s",
                                 sim_sched_now (r->sched), owner, name,
                                 domain ? domain : "", message));
  if (l & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    run_fail (r, "node %d logged a critical: %s", owner, message);
  else if (l & G_LOG_LEVEL_WARNING)
    r->warnings++;
}

/* cairn_node_new installs the node's own log handler; take it back. */
static void
own_logs (void)
{
  g_log_set_default_handler (sim_log, NULL);
}

static void
sched_trace (SimSched *s, int owner, const char *what, gpointer data)
{
  Run *r = data;
  mix_u64 (r, sim_sched_now (s));
  mix_u64 (r, (uint64_t)(int64_t)owner);
  mix_str (r, what);
  if (trace_on && strcmp (what, "deliver") != 0)
    g_printerr ("t=%" G_GUINT64_FORMAT " n%d %s\n", sim_sched_now (s), owner,
                what);
}

static const char *
channel_name (uint8_t ch)
{
  static const char *const names[]
      = { "?", "txs", "blocks", "consensus", "sync", "direct" };
  return ch < G_N_ELEMENTS (names) ? names[ch] : "?";
}

static void
net_trace (SimNet *net, const char *event, guint from, guint to,
           uint8_t channel, GBytes *payload, gpointer data)
{
  Run *r = data;
  gsize len;
  const uint8_t *p = g_bytes_get_data (payload, &len);
  mix_str (r, event);
  mix_u64 (r, (uint64_t)from << 32 | to);
  mix (r, &channel, 1);
  mix (r, p, len);
  if (trace_on)
    g_printerr (
        "t=%" G_GUINT64_FORMAT " %s n%u->n%u %s %" G_GSIZE_FORMAT " bytes\n",
        sim_sched_now (r->sched), event, from, to, channel_name (channel), len);
}

/* ---- homes ----------------------------------------------------------------
 */

static json_t *
genesis_json (Run *r)
{
  json_t *accts = json_array ();
  for (guint a = 0; a < N_ACCOUNTS; a++)
    json_array_append_new (
        accts, json_pack ("{s:s, s:{s:I}}", "address",
                          cairn_key_address (accounts[a]), "balances", "cairn",
                          (json_int_t)(a < N_SENDERS ? FUNDS : 0)));
  json_t *vals = json_array ();
  for (guint i = 0; i < r->n; i++) {
    /* pos locks each validator's stake from its own balance. */
    json_array_append_new (accts,
                           json_pack ("{s:s, s:{s:I}}", "address",
                                      node_keys[i].address, "balances", "cairn",
                                      (json_int_t)(10 * r->powers[i])));
    g_autofree char *name = g_strdup_printf ("n%u", i);
    json_array_append_new (
        vals, json_pack ("{s:s, s:s, s:I, s:s}", "address",
                         node_keys[i].address, "pubkey", node_keys[i].pubkey,
                         "stake", (json_int_t)r->powers[i], "name", name));
  }
  return json_pack ("{s:s, s:I, s:{s:i, s:[s]}, s:o, s:o}", "chain_id",
                    CHAIN_ID, "genesis_time", (json_int_t)GENESIS_TIME, "admin",
                    "threshold", 1, "members", cairn_key_address (accounts[0]),
                    "accounts", accts, "validators", vals);
}

static void
make_homes (Run *r)
{
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    g_autofree char *name = g_strdup_printf ("node%u", i);
    sn->home = g_build_filename (r->dir, name, NULL);
    g_autofree char *kp = g_build_filename (sn->home, "keys", "node.pem", NULL);
    write_file (kp, node_keys[i].pem, 0600);
    g_strlcpy (sn->address, node_keys[i].address, sizeof sn->address);
  }
  g_autoptr (json_t) genesis = genesis_json (r);
  g_autofree char *gtext = json_dumps (genesis, JSON_SORT_KEYS);
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    g_autoptr (GString) peers = g_string_new (NULL);
    g_autoptr (GString) allow = g_string_new (NULL);
    for (guint j = 0; j < r->n; j++) {
      if (j == i)
        continue;
      g_string_append_printf (peers, "%s%s@127.0.0.1:%u", peers->len ? ";" : "",
                              r->nodes[j].address, 20000 + j);
      g_string_append_printf (allow, "%s%s", allow->len ? ";" : "",
                              r->nodes[j].address);
    }
    /* log_level error: the node's handler stays quiet until own_logs(). */
    g_autofree char *conf = g_strdup_printf (
        "[node]\nchain_id = " CHAIN_ID "\nlog_level = error\n"
        "[plugins]\nload = store-lmdb;bank;pos\n"
        "[bank]\nminters = pos\n"
        "[http]\nenabled = false\n"
        "[store-lmdb]\nmap_size = 32MiB\nsync = false\n"
        "[p2p]\nenabled = true\nlisten = 127.0.0.1:%u\n"
        "persistent_peers = %s\nallow = %s\n"
        "[pos]\nblock_interval_ms = 300\n"
        "timeout_propose_ms = 400\ntimeout_propose_delta_ms = 100\n"
        "timeout_prevote_ms = 200\ntimeout_precommit_ms = 200\n"
        "rebroadcast_ms = 1000\n",
        20000 + i, peers->str, allow->str);
    g_autofree char *cp = g_build_filename (sn->home, "cairn.conf", NULL);
    g_autofree char *gp = g_build_filename (sn->home, "genesis.json", NULL);
    write_file (cp, conf, 0644);
    write_file (gp, gtext, 0644);
  }
}

/* ---- nodes ----------------------------------------------------------------
 */

static void
on_block (const CairnEvent *ev, void *user_data)
{
  SimNode *sn = user_data;
  Run *r = sn->run;
  if (strcmp (ev->type, "block") != 0)
    return;
  const char *hash = json_string_value (json_object_get (ev->attrs, "hash"));
  uint64_t h = ev->height;
  mix_u64 (r, sn->idx);
  mix_u64 (r, h);
  mix_str (r, hash ? hash : "");
  if (trace_on)
    g_printerr ("t=%" G_GUINT64_FORMAT " n%u COMMIT h=%" G_GUINT64_FORMAT
                " %s txs=%zu\n",
                sim_sched_now (r->sched), sn->idx, h, hash,
                json_array_size (json_object_get (ev->attrs, "txs")));
  if (hash == NULL || h != sn->hashes->len + 1) {
    run_fail (r, "node %u committed height %" G_GUINT64_FORMAT " after %u",
              sn->idx, h, sn->hashes->len);
    return;
  }
  const char *first
      = g_hash_table_lookup (r->committed, GSIZE_TO_POINTER ((gsize)h));
  if (first == NULL)
    g_hash_table_insert (r->committed, GSIZE_TO_POINTER ((gsize)h),
                         g_strdup (hash));
  else if (strcmp (first, hash) != 0)
    run_fail (r,
              "SAFETY: node %u committed %s at height %" G_GUINT64_FORMAT
              ", another node %s",
              sn->idx, hash, h, first);
  g_ptr_array_add (sn->hashes, g_strdup (hash));
  size_t i;
  json_t *id;
  json_array_foreach (json_object_get (ev->attrs, "txs"), i, id)
  {
    const char *tid = json_string_value (id);
    gpointer was = g_hash_table_lookup (sn->txs, tid);
    if (was != NULL)
      run_fail (r,
                "node %u committed tx %s twice (heights %" G_GSIZE_FORMAT
                " and %" G_GUINT64_FORMAT ")",
                sn->idx, tid, GPOINTER_TO_SIZE (was), h);
    g_hash_table_insert (sn->txs, g_strdup (tid), GSIZE_TO_POINTER ((gsize)h));
  }
}

static gboolean
node_start (SimNode *sn, const CairnNodeOptions *o, GError **error)
{
  Run *r = sn->run;
  sn->node = cairn_node_new (o, error);
  own_logs ();
  if (sn->node == NULL) {
    run_fail (r, "node %u: cairn_node_new: %s", sn->idx, (*error)->message);
    return FALSE;
  }
  uint64_t head = cairn_node_head (sn->node)->height;
  if (head != sn->hashes->len) {
    run_fail (r,
              "node %u restarted at height %" G_GUINT64_FORMAT
              " but had committed %u",
              sn->idx, head, sn->hashes->len);
    return FALSE;
  }
  cairn_node_subscribe (sn->node, "block", on_block, sn);
  if (!cairn_node_start (sn->node, error)) {
    run_fail (r, "node %u: cairn_node_start: %s", sn->idx, (*error)->message);
    g_clear_pointer (&sn->node, cairn_node_free);
    return FALSE;
  }
  return TRUE;
}

static gboolean
node_boot (SimNode *sn)
{
  Run *r = sn->run;
  const char *path[] = { plugins_dir, NULL };
  CairnNodeOptions o = {
    .home = sn->home,
    .plugin_path = path,
    .no_http = TRUE,
    .clock = sim_clock_base (sn->clock),
    .transport_factory = sim_net_transport_factory,
    .transport_factory_data = r->net,
  };
  g_autoptr (GError) err = NULL;
  int owner = sim_sched_set_owner (r->sched, (int)sn->idx);
  gboolean ok = node_start (sn, &o, &err);
  sim_sched_set_owner (r->sched, owner);
  return ok;
}

/* Free the node as a crash would end it, and check it left no timer
 * behind: one that fired later would run on freed memory. */
static void
node_down (SimNode *sn)
{
  g_clear_pointer (&sn->node, cairn_node_free);
  guint left = sim_clock_cancel_all (sn->clock);
  if (left > 0)
    run_fail (sn->run, "node %u left %u timers behind after cairn_node_free",
              sn->idx, left);
}

static void
crash_fire (gpointer data)
{
  SimNode *sn = data;
  if (sn->node == NULL)
    return;
  keep_line (sn->run, g_strdup_printf ("t=%" G_GUINT64_FORMAT " n%u CRASH at "
                                       "height %u",
                                       sim_sched_now (sn->run->sched), sn->idx,
                                       sn->hashes->len));
  sn->crashes++;
  node_down (sn);
}

static void
restart_fire (gpointer data)
{
  SimNode *sn = data;
  if (sn->node != NULL
      || (sn->run->sabotage == SABOTAGE_NO_RESTART && sn->idx == 0))
    return;
  keep_line (sn->run,
             g_strdup_printf ("t=%" G_GUINT64_FORMAT " n%u RESTART",
                              sim_sched_now (sn->run->sched), sn->idx));
  node_boot (sn);
}

/* ---- txs ------------------------------------------------------------------
 */

static void
sim_tx_free (gpointer p)
{
  SimTx *t = p;
  g_free (t->bytes);
  g_free (t);
}

/* A fresh decode per submission: nodes share no tx object. */
static gboolean
submit_to (Run *r, SimNode *sn, SimTx *t)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (CairnTx) tx = cairn_tx_decode (t->bytes, t->len, CHAIN_ID, &err);
  g_assert_no_error (err);
  gboolean ok = cairn_node_submit (sn->node, tx, &err);
  if (trace_on)
    g_printerr ("t=%" G_GUINT64_FORMAT
                " n%u SUBMIT %.12s from=%u nonce=%" G_GUINT64_FORMAT ": %s\n",
                sim_sched_now (r->sched), sn->idx, t->id, t->from, t->nonce,
                ok ? "admitted" : err->message);
  mix_str (r, t->id);
  mix_u64 (r, sn->idx << 1 | (ok ? 1 : 0));
  if (ok)
    t->admitted = TRUE;
  return ok;
}

static int
random_live_node (Run *r)
{
  guint live[MAX_NODES], n = 0;
  for (guint i = 0; i < r->n; i++)
    if (r->nodes[i].node != NULL)
      live[n++] = i;
  return n ? (int)live[g_rand_int_range (r->rand, 0, (gint32)n)] : -1;
}

static void
submit_fire (gpointer data)
{
  Run *r = data;
  guint from = (guint)g_rand_int_range (r->rand, 0, N_SENDERS);
  guint to
      = (from + (guint)g_rand_int_range (r->rand, 1, N_ACCOUNTS)) % N_ACCOUNTS;
  uint64_t amount = (uint64_t)g_rand_int_range (r->rand, 1, 1001);
  int target = random_live_node (r);
  SimTx *t = g_new0 (SimTx, 1);
  t->from = from;
  t->to = to;
  t->amount = amount;
  t->nonce = r->next_nonce[from]++;
  g_autoptr (json_t) body
      = json_pack ("{s:I, s:s, s:s}", "amount", (json_int_t)amount, "denom",
                   "cairn", "to", cairn_key_address (accounts[to]));
  g_autoptr (GError) err = NULL;
  g_autoptr (CairnTx) tx = cairn_tx_sign (
      accounts[from], CHAIN_ID, "bank.transfer", t->nonce, body, &err);
  g_assert_no_error (err);
  t->bytes = g_strndup (tx->bytes, tx->len);
  t->len = tx->len;
  g_strlcpy (t->id, tx->id_hex, sizeof t->id);
  g_ptr_array_add (r->txs, t);
  if (target >= 0)
    submit_to (r, &r->nodes[target], t);
}

/* Does any live node hold the tx, committed or pending? */
static gboolean
known_somewhere (Run *r, SimTx *t)
{
  for (guint i = 0; i < r->n; i++) {
    if (r->nodes[i].node == NULL)
      continue;
    g_autoptr (json_t) j = cairn_node_tx_json (r->nodes[i].node, t->id, NULL);
    if (j != NULL)
      return TRUE;
  }
  return FALSE;
}

/* After healing, a client resends to every node the txs that no live node
 * knows any more: they were admitted only by nodes that crashed before
 * passing them on. Txs still pending somewhere must commit on their own. */
static void
retry_fire (gpointer data)
{
  Run *r = data;
  r->retried = TRUE;
  for (guint k = 0; k < r->txs->len; k++) {
    SimTx *t = r->txs->pdata[k];
    if (known_somewhere (r, t))
      continue;
    r->rescued++;
    for (guint i = 0; i < r->n; i++)
      if (r->nodes[i].node != NULL)
        submit_to (r, &r->nodes[i], t);
  }
}

static void
heal_fire (gpointer data)
{
  Run *r = data;
  r->healed = TRUE;
  uint64_t top = 0;
  for (guint i = 0; i < r->n; i++)
    top = MAX (top, r->nodes[i].hashes->len);
  r->target = top + 2;
  keep_line (r, g_strdup_printf ("t=%" G_GUINT64_FORMAT " HEAL: heights up "
                                 "to %" G_GUINT64_FORMAT
                                 ", target %" G_GUINT64_FORMAT,
                                 sim_sched_now (r->sched), top, r->target));
}

/* ---- the plan -------------------------------------------------------------
 */

static guint
pick (Run *r, const guint *choices, guint n)
{
  return choices[g_rand_int_range (r->rand, 0, (gint32)n)];
}

static uint64_t
range (Run *r, uint64_t lo, uint64_t hi)
{
  return hi <= lo ? lo
                  : lo
                        + (uint64_t)g_rand_int_range (r->rand, 0,
                                                      (gint32)(hi - lo + 1));
}

/* Crash and restart a random set of at most f validators holding < 1/3
 * of the stake, once or twice each, all back up by the heal. */
static void
plan_crashes (Run *r)
{
  Plan *p = &r->plan;
  guint order[MAX_NODES];
  for (guint i = 0; i < r->n; i++)
    order[i] = i;
  for (guint i = r->n - 1; i > 0; i--) {
    guint j = (guint)g_rand_int_range (r->rand, 0, (gint32)i + 1);
    guint t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  uint64_t total = 0, down = 0;
  for (guint i = 0; i < r->n; i++)
    total += r->powers[i];
  guint f = (r->n - 1) / 3;
  guint want = (guint)g_rand_int_range (r->rand, 0, (gint32)f + 1), count = 0;
  for (guint k = 0; k < r->n && count < want; k++) {
    guint i = order[k];
    if (3 * (down + r->powers[i]) >= total)
      continue;
    down += r->powers[i];
    count++;
    guint cycles = (guint)g_rand_int_range (r->rand, 1, 3);
    uint64_t span = p->heal_ms / cycles;
    for (guint c = 0; c < cycles; c++) {
      uint64_t lo = c * span, hi = lo + span;
      uint64_t at = range (r, lo, hi - 2);
      uint64_t back = range (r, at + 1, hi);
      sim_sched_add (r->sched, at, (int)i, "crash", crash_fire, &r->nodes[i],
                     NULL);
      sim_sched_add (r->sched, back, (int)i, "restart", restart_fire,
                     &r->nodes[i], NULL);
      g_string_append_printf (
          p->text, " crash n%u@%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, i, at,
          back);
    }
  }
}

static void
make_plan (Run *r)
{
  static const guint drops[] = { 0, 5, 10, 25 };
  static const guint dups[] = { 0, 5, 10 };
  static const guint spreads[] = { 10, 50, 150, 400 };
  Plan *p = &r->plan;
  SimNetFaults *f = &p->faults;
  p->text = g_string_new (NULL);
  p->heal_ms = range (r, 1500, 3500);
  f->delay_min_ms = 1;
  f->delay_max_ms = 10;
  f->faults_until_ms = p->heal_ms;
  f->drop_pct = pick (r, drops, G_N_ELEMENTS (drops));
  f->dup_pct = pick (r, dups, G_N_ELEMENTS (dups));
  f->fault_delay_max_ms = pick (r, spreads, G_N_ELEMENTS (spreads));
  g_string_append_printf (p->text, "%s seed %" G_GUINT64_FORMAT ": stakes",
                          r->c->name, r->seed);
  for (guint i = 0; i < r->n; i++)
    g_string_append_printf (p->text, "%s%" G_GUINT64_FORMAT, i ? "," : " ",
                            r->powers[i]);
  g_string_append_printf (p->text,
                          "; faults until %" G_GUINT64_FORMAT
                          " ms: drop %u%%, dup %u%%, delay 1-%u ms;",
                          p->heal_ms, f->drop_pct, f->dup_pct,
                          f->fault_delay_max_ms);
  p->partition = g_rand_int_range (r->rand, 0, 3) != 0;
  if (p->partition) {
    f->partition_start_ms = range (r, 0, p->heal_ms * 2 / 3);
    f->partition_end_ms = range (r, f->partition_start_ms + 100, p->heal_ms);
    f->partition_disconnects = g_rand_boolean (r->rand);
    /* Two non-empty sides. */
    guint32 mask = (guint32)g_rand_int_range (r->rand, 1, (1 << r->n) - 1);
    g_string_append_printf (
        p->text,
        " partition %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " ms (%s) sides ",
        f->partition_start_ms, f->partition_end_ms,
        f->partition_disconnects ? "links cut" : "frames lost");
    for (guint i = 0; i < r->n; i++) {
      f->group[i] = (mask >> i) & 1;
      g_string_append_c (p->text, f->group[i] ? 'B' : 'A');
    }
    g_string_append_c (p->text, ';');
  }
  sim_net_set_faults (r->net, f);
  plan_crashes (r);
  if (r->sabotage == SABOTAGE_NO_RESTART) {
    sim_sched_add (r->sched, 100, 0, "crash", crash_fire, &r->nodes[0], NULL);
    g_string_append (p->text, " SABOTAGE: n0 down for good from 100 ms;");
  }
  p->n_txs = (guint)g_rand_int_range (r->rand, 4, 13);
  for (guint k = 0; k < p->n_txs; k++)
    sim_sched_add (r->sched, range (r, 0, p->heal_ms + 500), -1, "submit",
                   submit_fire, r, NULL);
  g_string_append_printf (p->text, " %u txs", p->n_txs);
  sim_sched_add (r->sched, p->heal_ms, -1, "heal", heal_fire, r, NULL);
  sim_sched_add (r->sched, p->heal_ms + RETRY_AFTER_HEAL_MS, -1, "retry",
                 retry_fire, r, NULL);
}

/* ---- checks ---------------------------------------------------------------
 */

static gboolean
done (Run *r)
{
  if (!r->retried)
    return FALSE;
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    if (sn->node == NULL || sn->hashes->len < r->target
        || g_hash_table_size (sn->txs) < r->txs->len)
      return FALSE;
  }
  return TRUE;
}

/* The pos engine's height/round/step, through its status route. */
static char *
pos_status (CairnNode *node)
{
  CairnPlugin *plugin;
  CairnRouteFn fn;
  void *ud;
  const char *rest;
  if (!cairn_node_find_route (node, "GET", "/v1/pos/status", &plugin, &fn, &ud,
                              &rest))
    return g_strdup ("?");
  g_autoptr (GHashTable) q = g_hash_table_new (g_str_hash, g_str_equal);
  CairnRequest req = { .size = sizeof req,
                       .method = "GET",
                       .path = "/v1/pos/status",
                       .path_rest = rest,
                       .query = q };
  CairnResponse resp = { .size = sizeof resp };
  if (!fn (plugin, &req, &resp, ud, NULL) || resp.json == NULL)
    return g_strdup ("?");
  json_t *e = json_object_get (resp.json, "engine");
  char *out = g_strdup_printf (
      "engine h%" JSON_INTEGER_FORMAT "/r%" JSON_INTEGER_FORMAT "/%s",
      json_integer_value (json_object_get (e, "height")),
      json_integer_value (json_object_get (e, "round")),
      json_string_value (json_object_get (e, "step")));
  json_decref (resp.json);
  if (resp.body)
    g_bytes_unref (resp.body);
  return out;
}

static char *
describe_nodes (Run *r)
{
  GString *s = g_string_new (NULL);
  guint refused = 0;
  for (guint k = 0; k < r->txs->len; k++)
    refused += !((SimTx *)r->txs->pdata[k])->admitted;
  if (refused > 0)
    g_string_append_printf (s,
                            " (%u txs were refused by every node they "
                            "were sent to)",
                            refused);
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    g_string_append_printf (s, "\n  n%u: height %u, %u/%u txs committed, ", i,
                            sn->hashes->len, g_hash_table_size (sn->txs),
                            r->txs->len);
    if (sn->node == NULL) {
      g_string_append (s, "down");
      continue;
    }
    g_autofree char *st = pos_status (sn->node);
    g_string_append_printf (s, "%s, mempool %u, peers", st,
                            cairn_mempool_count (sn->node->mempool));
    for (guint j = 0; j < r->n; j++)
      if (j != i && sim_net_linked (r->net, i, j))
        g_string_append_printf (s, " n%u", j);
  }
  return g_string_free (s, FALSE);
}

typedef struct {
  CairnLtHash h;
  guint keys;
} StateSum;

static gboolean
sum_kv (const char *key, const uint8_t *value, size_t len, void *data)
{
  StateSum *s = data;
  cairn_lthash_add (&s->h, key, value, len);
  s->keys++;
  return TRUE;
}

/* Blocks 1..H read back from each store, the state at H hashed from the
 * store, and the balances at H, against each other and the txs. */
static void
final_checks (Run *r, RunResult *res)
{
  uint64_t height = G_MAXUINT64;
  for (guint i = 0; i < r->n; i++)
    height = MIN (height, cairn_node_head (r->nodes[i].node)->height);
  res->heights = height;
  for (uint64_t h = 1; h <= height && r->fail->len == 0; h++) {
    const char *want
        = g_hash_table_lookup (r->committed, GSIZE_TO_POINTER ((gsize)h));
    for (guint i = 0; i < r->n; i++) {
      g_autoptr (GError) err = NULL;
      g_autoptr (json_t) b = cairn_node_block_json (r->nodes[i].node, h, &err);
      const char *got = json_string_value (json_object_get (b, "hash"));
      if (b == NULL || g_strcmp0 (got, want) != 0)
        run_fail (r,
                  "SAFETY: node %u stores %s at height %" G_GUINT64_FORMAT
                  ", committed was %s (%s)",
                  i, got ? got : "nothing", h, want,
                  err ? err->message : "hash differs");
    }
  }
  /* State at the common height: hash of the stored pairs = the root. */
  char first_root[65] = "";
  for (guint i = 0; i < r->n && r->fail->len == 0; i++) {
    CairnNode *node = r->nodes[i].node;
    g_autoptr (GError) err = NULL;
    g_autoptr (json_t) b = cairn_node_block_json (node, height, &err);
    const char *root = json_string_value (
        json_object_get (json_object_get (b, "header"), "state_root"));
    StateSum sum = { 0 };
    cairn_lthash_init (&sum.h);
    if (!node->storage.state_iter (node->store, "", height, sum_kv, &sum,
                                   &err)) {
      run_fail (r, "node %u: state at %" G_GUINT64_FORMAT ": %s", i, height,
                err->message);
      break;
    }
    uint8_t raw[32];
    cairn_lthash_root (&sum.h, raw);
    g_autofree char *hex = cairn_hex_encode (raw, 32);
    if (g_strcmp0 (hex, root) != 0)
      run_fail (r,
                "node %u: its %u state pairs at height %" G_GUINT64_FORMAT
                " hash to %s, the block says %s",
                i, sum.keys, height, hex, root);
    if (i == 0)
      g_strlcpy (first_root, hex, sizeof first_root);
    else if (strcmp (first_root, hex) != 0)
      run_fail (r,
                "node %u has state root %s at height %" G_GUINT64_FORMAT
                ", node 0 %s",
                i, hex, height, first_root);
  }
  /* Balances implied by the txs (all of them committed, none can fail). */
  int64_t want[N_ACCOUNTS];
  for (guint a = 0; a < N_ACCOUNTS; a++)
    want[a] = a < N_SENDERS ? FUNDS : 0;
  for (guint k = 0; k < r->txs->len; k++) {
    SimTx *t = r->txs->pdata[k];
    want[t->from] -= (int64_t)t->amount;
    want[t->to] += (int64_t)t->amount;
  }
  for (guint i = 0; i < r->n && r->fail->len == 0; i++) {
    for (guint a = 0; a < N_ACCOUNTS; a++) {
      g_autofree char *key
          = g_strdup_printf ("bal/%s/cairn", cairn_key_address (accounts[a]));
      g_autoptr (GError) err = NULL;
      g_autoptr (GBytes) v
          = cairn_node_state_get (r->nodes[i].node, "bank", key, height, &err);
      g_autofree char *text
          = v ? g_strndup (g_bytes_get_data (v, NULL), g_bytes_get_size (v))
              : g_strdup ("0");
      if (g_ascii_strtoll (text, NULL, 10) != want[a])
        run_fail (r,
                  "node %u: account %u holds %s at height %" G_GUINT64_FORMAT
                  ", the txs imply %" G_GINT64_FORMAT,
                  i, a, text, height, want[a]);
    }
  }
  /* Every tx: committed at the same height everywhere, and ok. */
  for (guint k = 0; k < r->txs->len && r->fail->len == 0; k++) {
    SimTx *t = r->txs->pdata[k];
    gpointer h0 = g_hash_table_lookup (r->nodes[0].txs, t->id);
    for (guint i = 1; i < r->n; i++)
      if (g_hash_table_lookup (r->nodes[i].txs, t->id) != h0)
        run_fail (r, "tx %s committed at different heights on n0 and n%u",
                  t->id, i);
    g_autoptr (GError) err = NULL;
    g_autoptr (json_t) j = cairn_node_tx_json (r->nodes[0].node, t->id, &err);
    json_t *result = json_object_get (j, "result");
    if (j == NULL || !json_is_true (json_object_get (result, "ok")))
      run_fail (r, "tx %s (nonce %" G_GUINT64_FORMAT "): %s", t->id, t->nonce,
                err ? err->message : "result is not ok");
  }
  for (guint i = 0; i < r->n; i++)
    if (sim_clock_bad_removes (r->nodes[i].clock) > 0)
      run_fail (r, "node %u removed %u timers that did not exist", i,
                sim_clock_bad_removes (r->nodes[i].clock));
}

/* ---- one seed -------------------------------------------------------------
 */

static char *
make_run_dir (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *tmpl = g_build_filename (base_dir, "cairn-sim-XXXXXX", NULL);
  char *dir = g_mkdtemp (g_steal_pointer (&tmpl));
  if (dir == NULL)
    g_error ("cannot create a directory in %s: %s", base_dir,
             g_strerror (errno));
  return dir;
}

/* rm -rf without a fork per seed. */
static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    if (g_rmdir (path) != 0)
      g_error ("cannot remove %s: %s", path, g_strerror (errno));
  } else if (g_unlink (path) != 0) {
    g_error ("cannot remove %s: %s", path, g_strerror (errno));
  }
}

static gboolean
run_seed (const Case *c, guint64 seed, Sabotage sabotage, RunResult *res,
          char **why)
{
  Run *r = g_new0 (Run, 1);
  memset (res, 0, sizeof *res);
  r->c = c;
  r->seed = seed;
  r->sabotage = sabotage;
  r->n = c->n;
  r->powers = seed % 2 ? c->unequal : c->equal;
  guint32 words[2] = { (guint32)seed, (guint32)(seed >> 32) };
  r->rand = g_rand_new_with_seed_array (words, 2);
  r->sched = sim_sched_new (GENESIS_TIME + 1000);
  r->net = sim_net_new (r->sched, seed);
  r->dir = make_run_dir ();
  r->committed = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  r->txs = g_ptr_array_new_with_free_func (sim_tx_free);
  r->fail = g_string_new (NULL);
  r->log = g_queue_new ();
  r->fingerprint = 0xcbf29ce484222325ull;
  current_run = r;
  sim_sched_set_trace (r->sched, sched_trace, r);
  sim_net_set_trace (r->net, net_trace, r);
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    sn->run = r;
    sn->idx = i;
    sn->power = r->powers[i];
    sn->clock = sim_clock_new (r->sched, (int)i);
    sn->hashes = g_ptr_array_new_with_free_func (g_free);
    sn->txs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  }
  make_homes (r);
  for (guint i = 0; i < r->n; i++)
    g_assert_cmpuint (sim_net_add_node (r->net, r->nodes[i].address), ==, i);
  make_plan (r);
  if (trace_on)
    g_printerr ("PLAN %s\n", r->plan.text->str);
  for (guint i = 0; i < r->n && r->fail->len == 0; i++)
    node_boot (&r->nodes[i]);

  uint64_t deadline = r->plan.heal_ms + LIVENESS_BOUND_MS;
  while (r->fail->len == 0 && !done (r)) {
    if (!sim_sched_run_one (r->sched, deadline)) {
      g_autofree char *d = describe_nodes (r);
      run_fail (r,
                "LIVENESS: %d ms after healing, not every node reached "
                "height %" G_GUINT64_FORMAT " with all %u txs:%s",
                LIVENESS_BOUND_MS, r->target, r->txs->len, d);
      break;
    }
    if (sim_sched_events (r->sched) > MAX_EVENTS) {
      run_fail (r, "more than %d events: a timer or message loop?", MAX_EVENTS);
      break;
    }
  }
  res->virtual_ms = sim_sched_now (r->sched);
  res->after_heal_ms = res->virtual_ms - r->plan.heal_ms;
  if (r->fail->len == 0)
    final_checks (r, res);
  mix_str (r, r->fail->str);
  res->events = sim_sched_events (r->sched);
  res->txs = r->txs->len;
  res->fingerprint = r->fingerprint;
  res->warnings = r->warnings;
  res->rescued = r->rescued;
  sim_net_stats (r->net, &res->net);

  for (guint i = 0; i < r->n; i++)
    if (r->nodes[i].node != NULL)
      node_down (&r->nodes[i]);
  gboolean ok = r->fail->len == 0;
  if (!ok) {
    GString *w = g_string_new (NULL);
    g_string_append_printf (w, "%s\nplan: %s\nlast node log lines:\n",
                            r->fail->str, r->plan.text->str);
    for (GList *l = r->log->head; l != NULL; l = l->next)
      g_string_append_printf (w, "  %s\n", (char *)l->data);
    *why = g_string_free (w, FALSE);
  } else {
    *why = NULL;
  }
  current_run = NULL;
  for (guint i = 0; i < r->n; i++) {
    SimNode *sn = &r->nodes[i];
    sim_clock_free (sn->clock);
    g_ptr_array_unref (sn->hashes);
    g_hash_table_unref (sn->txs);
    g_free (sn->home);
  }
  sim_net_free (r->net);
  sim_sched_free (r->sched);
  rm_rf (r->dir);
  g_free (r->dir);
  g_hash_table_unref (r->committed);
  g_ptr_array_unref (r->txs);
  g_string_free (r->fail, TRUE);
  g_string_free (r->plan.text, TRUE);
  g_queue_free_full (r->log, g_free);
  g_rand_free (r->rand);
  g_free (r);
  return ok;
}

/* ---- test cases -----------------------------------------------------------
 */

static guint64
env_u64 (const char *name, guint64 dflt)
{
  const char *v = g_getenv (name);
  return v != NULL && *v != '\0' ? g_ascii_strtoull (v, NULL, 10) : dflt;
}

static void
print_rerun (const Case *c, guint64 seed)
{
  g_printerr ("rerun: CAIRN_SIM_SEED=%" G_GUINT64_FORMAT
              " CAIRN_BUILD_ROOT=%s %s -p /sim/nodes/%s\n"
              "   or: CAIRN_SIM_SEED=%" G_GUINT64_FORMAT
              " meson test -C %s sim-nodes -v\n"
              "(add CAIRN_SIM_TRACE=1 to see every event)\n",
              seed, g_getenv ("CAIRN_BUILD_ROOT"), g_get_prgname (), c->name,
              seed, g_getenv ("CAIRN_BUILD_ROOT"));
}

static void
run_case (gconstpointer data)
{
  const Case *c = data;
  const char *only = g_getenv ("CAIRN_SIM_SEED");
  gboolean one = only != NULL && *only != '\0';
  guint64 first = env_u64 ("CAIRN_SIM_SEED", 1);
  guint64 count = one ? 1 : env_u64 ("CAIRN_SIM_SEEDS", 200);
  guint64 events = 0, heights = 0, txs = 0, vtime = 0, worst = 0, warnings = 0,
          rescued = 0, worst_seed = 0;
  SimNetStats net = { 0 };
  gboolean keep_going = g_getenv ("CAIRN_SIM_KEEP_GOING") != NULL;
  g_autoptr (GString) failed = g_string_new (NULL);
  gint64 t0 = g_get_monotonic_time ();
  for (guint64 seed = first; seed < first + count; seed++) {
    RunResult res;
    g_autofree char *why = NULL;
    if (!run_seed (c, seed, SABOTAGE_NONE, &res, &why)) {
      g_printerr ("sim %s seed %" G_GUINT64_FORMAT " FAILED: %s", c->name, seed,
                  why);
      print_rerun (c, seed);
      g_test_fail ();
      g_string_append_printf (failed, " %" G_GUINT64_FORMAT, seed);
      if (keep_going)
        continue;
      return;
    }
    if (one)
      g_printerr ("sim %s seed %" G_GUINT64_FORMAT ": ok, %" G_GUINT64_FORMAT
                  " heights, %" G_GUINT64_FORMAT " txs, %" G_GUINT64_FORMAT
                  " events, %" G_GUINT64_FORMAT
                  " virtual ms (%" G_GUINT64_FORMAT
                  " after healing), fingerprint %016" G_GINT64_MODIFIER "x\n",
                  c->name, seed, res.heights, res.txs, res.events,
                  res.virtual_ms, res.after_heal_ms, res.fingerprint);
    events += res.events;
    heights += res.heights;
    txs += res.txs;
    vtime += res.virtual_ms;
    warnings += res.warnings;
    rescued += res.rescued;
    if (res.after_heal_ms > worst) {
      worst = res.after_heal_ms;
      worst_seed = seed;
    }
    net.sent += res.net.sent;
    net.dropped += res.net.dropped;
    net.duplicated += res.net.duplicated;
    net.partitioned += res.net.partitioned;
    net.lost_in_flight += res.net.lost_in_flight;
  }
  g_test_message (
      "%s: %" G_GUINT64_FORMAT " seeds, %" G_GUINT64_FORMAT
      " heights, %" G_GUINT64_FORMAT " txs, %" G_GUINT64_FORMAT
      " events, %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
      " dropped, %" G_GUINT64_FORMAT " duplicated, %" G_GUINT64_FORMAT
      " cut by partitions, %" G_GUINT64_FORMAT
      " lost with links), %" G_GUINT64_FORMAT
      " txs lost with a crashed node and resent, %" G_GUINT64_FORMAT
      " node warnings, %" G_GUINT64_FORMAT
      " virtual ms, worst %" G_GUINT64_FORMAT
      " ms from healing to done (seed %" G_GUINT64_FORMAT "), %.2f s",
      c->name, count, heights, txs, events, net.sent, net.dropped,
      net.duplicated, net.partitioned, net.lost_in_flight, rescued, warnings,
      vtime, worst, worst_seed, (double)(g_get_monotonic_time () - t0) / 1e6);
  if (failed->len > 0) {
    g_printerr ("sim %s: failing seeds:%s\n", c->name, failed->str);
    return;
  }
  /* Every seed reaches at least height 2 (the target is 2 past healing). */
  g_assert_cmpuint (heights, >=, count * 2);
}

/* The same seed twice gives the same run, event for event. */
static void
test_determinism (void)
{
  for (guint64 seed = 1; seed <= 4; seed++) {
    const Case *c = &cases[seed % 2];
    RunResult a, b;
    g_autofree char *why_a = NULL, *why_b = NULL;
    gboolean ok_a = run_seed (c, seed, SABOTAGE_NONE, &a, &why_a);
    gboolean ok_b = run_seed (c, seed, SABOTAGE_NONE, &b, &why_b);
    if (!ok_a || !ok_b)
      g_printerr ("%s\n", why_a ? why_a : why_b);
    g_assert_true (ok_a && ok_b);
    if (a.fingerprint != b.fingerprint || a.events != b.events) {
      g_printerr ("sim %s seed %" G_GUINT64_FORMAT
                  " is not reproducible: %" G_GUINT64_FORMAT
                  " events, fingerprint %016" G_GINT64_MODIFIER
                  "x; then %" G_GUINT64_FORMAT " events, %016" G_GINT64_MODIFIER
                  "x\n"
                  "compare two traces: CAIRN_SIM_TRACE=1 "
                  "CAIRN_SIM_SEED=%" G_GUINT64_FORMAT " ...\n",
                  c->name, seed, a.events, a.fingerprint, b.events,
                  b.fingerprint, seed);
      g_test_fail ();
      return;
    }
  }
}

/* The checker fails a run whose chain cannot finish: a validator that never
 * restarts keeps the others from "every node at the target". */
static void
test_detects_stall (void)
{
  RunResult res;
  g_autofree char *why = NULL;
  g_assert_false (run_seed (&cases[0], 5, SABOTAGE_NO_RESTART, &res, &why));
  g_assert_nonnull (why);
  g_assert_nonnull (strstr (why, "LIVENESS"));
  g_assert_nonnull (strstr (why, "n0: height 0"));
  g_assert_nonnull (strstr (why, "down"));
  g_assert_nonnull (strstr (why, "SABOTAGE"));
  g_assert_cmpuint (res.after_heal_ms, >=, LIVENESS_BOUND_MS);
}

/* Seeds outside the default range that once failed, run every time:
 * n7 seed 325 is a node cut off alone whose catch-up batch was cut short
 * (it never asked again, core/gossip.c). */
static void
test_regressions (void)
{
  static const struct {
    guint c;
    guint64 seed;
  } seeds[] = { { 1, 325 } };
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++) {
    RunResult res;
    g_autofree char *why = NULL;
    if (!run_seed (&cases[seeds[i].c], seeds[i].seed, SABOTAGE_NONE, &res,
                   &why)) {
      g_printerr ("sim %s seed %" G_GUINT64_FORMAT " FAILED: %s",
                  cases[seeds[i].c].name, seeds[i].seed, why);
      print_rerun (&cases[seeds[i].c], seeds[i].seed);
      g_test_fail ();
    }
  }
}

static void
pick_base_dir (void)
{
  const char *env = g_getenv ("CAIRN_SIM_DIR");
  if (env != NULL && *env != '\0') {
    base_dir = g_strdup (env);
    return;
  }
  /* tmpfs: the pos WAL's fdatasync per vote costs nothing there. */
  if (g_access ("/dev/shm", W_OK) == 0) {
    g_autofree char *probe
        = g_build_filename ("/dev/shm", "cairn-sim-XXXXXX", NULL);
    if (g_mkdtemp (probe) != NULL) {
      g_rmdir (probe);
      base_dir = g_strdup ("/dev/shm");
      return;
    }
  }
  base_dir = g_strdup (g_get_tmp_dir ());
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Node warnings are counted, criticals fail the seed: neither aborts. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  own_logs ();
  trace_on = g_getenv ("CAIRN_SIM_TRACE") != NULL
             && *g_getenv ("CAIRN_SIM_TRACE") != '\0';
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  if (build == NULL)
    g_error ("CAIRN_BUILD_ROOT must point at the build dir (meson test sets "
             "it)");
  plugins_dir = g_build_filename (build, "plugins", NULL);
  pick_base_dir ();
  g_autofree char *keys = make_run_dir ();
  for (guint a = 0; a < N_ACCOUNTS; a++) {
    g_autofree char *label = g_strdup_printf ("cairn-sim-account-%u", a);
    g_autofree char *path = g_build_filename (keys, label, NULL);
    accounts[a] = seeded_key (label, path);
  }
  for (guint i = 0; i < MAX_NODES; i++) {
    g_autofree char *label = g_strdup_printf ("cairn-sim-node-%u", i);
    g_autofree char *path = g_build_filename (keys, label, NULL);
    g_autoptr (CairnKey) k = seeded_key (label, path);
    node_keys[i].pem = seeded_pem (label);
    g_strlcpy (node_keys[i].address, cairn_key_address (k), 41);
    g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (k), 32);
    g_strlcpy (node_keys[i].pubkey, pk, 65);
  }
  rm_rf (keys);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = g_strdup_printf ("/sim/nodes/%s", cases[i].name);
    g_test_add_data_func (path, &cases[i], run_case);
  }
  g_test_add_func ("/sim/determinism", test_determinism);
  g_test_add_func ("/sim/detects-stall", test_detects_stall);
  g_test_add_func ("/sim/regressions", test_regressions);
  int rc = g_test_run ();
  for (guint a = 0; a < N_ACCOUNTS; a++)
    cairn_key_free (accounts[a]);
  for (guint i = 0; i < MAX_NODES; i++)
    g_free (node_keys[i].pem);
  g_free (plugins_dir);
  g_free (base_dir);
  return rc;
}

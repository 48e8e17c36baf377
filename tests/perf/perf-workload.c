/* The fixed workload of the instruction-count baseline (issue 13 part 3;
 * docs/performance.md "Instruction-count baseline").
 *
 * One node in this process with the default plugins of `cairn init`
 * (conf/conf.d, read from the source tree) and pos with one validator in
 * place of solo, store-lmdb and blob-fs with sync = false, no HTTP, no P2P,
 * on the virtual clock of tests/sim (sim_clock), so every timer, block time
 * and block's contents are the same in every run. All keys come from fixed
 * labels (seed = SHA-256(label)); Ed25519 signatures are deterministic;
 * Jansson's hash seed is fixed; the process keeps to two CPUs, so the
 * node's verify pool has the same size on every machine.
 *
 * Phases, each ended by a callgrind dump named after it (CALLGRIND_DUMP_
 * STATS_AT; no-ops when not under valgrind), so the counts are per phase:
 *   harness-setup  homes, keys, genesis (not node work; not compared)
 *   sign           N bank.transfer txs signed (cairn_tx_sign), S senders
 *                  round-robin, each to the next sender
 *   start          cairn_node_new + cairn_node_start on the empty store
 *                  (genesis, plugin init and start)
 *   admit          the txs as POST /v1/txs batches: the body parsed with
 *                  the HTTP API's cairn_http_parse_txs, then
 *                  cairn_node_submit_many (signature checks, on the
 *                  verify pool when it has 2 workers or more, mempool
 *                  admission); no block is made meanwhile
 *   execute        the virtual clock runs until every tx is committed:
 *                  pos proposes, votes and commits blocks of at most
 *                  [block] max_txs txs; execution, state, LMDB commits,
 *                  the plugins' block hooks, the explorer's index
 *   harness-check  every tx executed with ok: each sender's nonce and
 *                  balance as the txs imply (not compared)
 *   restart        the node freed (stop, sync) and opened again on its
 *                  store, then started
 *   replay         catch-up: a second node on an empty store with the same
 *                  genesis takes every stored block of the first
 *                  (cairn_node_stored_block_bytes +
 *                  cairn_node_apply_stored_block, deferred commits, one
 *                  sync); its state root must match
 *   shutdown       both nodes freed
 *
 * stdout: a few lines that are the same in every run (heights, state
 * root). CAIRN_PERF_TIMES=1 adds each phase's wall time on stderr (native
 * runs). --print-env prints what the counts depend on besides the code
 * (the CPU features the libraries dispatch on, as this process sees them:
 * under valgrind, its virtual CPU's; the libraries' versions) and exits.
 *
 * Usage: perf-workload [--txs N] [--senders S] [--batch B] [--block-txs M]
 *                      [--print-env]
 * with CAIRN_BUILD_ROOT and CAIRN_SOURCE_ROOT set (meson test sets them).
 * Exit 0, or 1 with a message naming what went wrong. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnu/libc-version.h>

#include <glib/gstdio.h>
#include <leveldb/c.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_DUMP_STATS_AT(name) ((void)(name))
#endif

#include "crypto.h"
#include "http_parse.h"
#include "node.h"
#include "sim_clock.h"
#include "tx.h"

#define CHAIN_ID "perf"
#define GENESIS_TIME INT64_C (1700000000000)
#define SENDER_BALANCE INT64_C (1000000000)
#define VALIDATOR_BALANCE 10000
#define VALIDATOR_STAKE 1000
/* Virtual time the chain gets to commit everything. */
#define EXECUTE_LIMIT_MS (600 * 1000)

static struct {
  gint txs, senders, batch, block_txs;
  gboolean print_env;
} opt = { 3000, 50, 500, 250, FALSE };

static gboolean show_times;
static char *work_dir; /* removed on exit, also by die() */
static gint64 phase_start_us;

static void G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) die (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "perf-workload: %s\n", msg);
  if (work_dir) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", work_dir);
    if (system (cmd) != 0)
      fprintf (stderr, "perf-workload: cannot remove %s\n", work_dir);
  }
  exit (1);
}

static void
check (GError *err, const char *what)
{
  if (err)
    die ("%s: %s", what, err->message);
}

/* End of a phase: its callgrind counts go to their own dump. */
static void
phase_end (const char *name)
{
  CALLGRIND_DUMP_STATS_AT (name);
  if (show_times) {
    gint64 now = g_get_monotonic_time ();
    fprintf (stderr, "%-14s %9.1f ms\n", name, (now - phase_start_us) / 1000.0);
    phase_start_us = now;
  }
}

/* ---- homes ---------------------------------------------------------------
 */

static void
write_file (const char *path, const char *text)
{
  g_autofree char *parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0700) != 0)
    die ("cannot create %s: %s", parent, g_strerror (errno));
  g_autoptr (GError) err = NULL;
  g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600,
                            &err);
  check (err, path);
}

/* The Ed25519 key whose seed is SHA-256(label), as PEM (the core has no
 * "key from seed" call). */
static char *
seeded_pem (const char *label)
{
  uint8_t seed[32];
  cairn_sha256 (label, strlen (label), seed);
  EVP_PKEY *pk
      = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, seed, 32);
  BIO *bio = BIO_new (BIO_s_mem ());
  if (pk == NULL || bio == NULL
      || !PEM_write_bio_PrivateKey (bio, pk, NULL, NULL, 0, NULL, NULL))
    die ("cannot make the key of '%s' (OpenSSL)", label);
  char *data;
  long len = BIO_get_mem_data (bio, &data);
  char *pem = g_strndup (data, (gsize)len);
  BIO_free (bio);
  EVP_PKEY_free (pk);
  return pem;
}

static CairnKey *
seeded_key (const char *label, const char *path)
{
  g_autofree char *pem = seeded_pem (label);
  write_file (path, pem);
  g_autoptr (GError) err = NULL;
  CairnKey *k = cairn_key_load (path, &err);
  check (err, path);
  return k;
}

static json_t *
account (const CairnKey *k, int64_t balance, const char *role)
{
  g_autofree char *pub = cairn_hex_encode (cairn_key_pubkey (k), 32);
  json_t *a = json_pack ("{s:s, s:s, s:[], s:{s:I}}", "address",
                         cairn_key_address (k), "pubkey", pub, "roles",
                         "balances", "cairn", (json_int_t)balance);
  if (role)
    json_array_append_new (json_object_get (a, "roles"), json_string (role));
  return a;
}

/* The configuration `cairn init` writes (the source tree's conf.d), with
 * pos instead of solo (as `cairn testnet init` does for pos) and the
 * workload's settings last. */
static void
write_config (const char *home, const char *source_root)
{
  g_autofree char *conf = g_build_filename (home, "cairn.conf", NULL);
  write_file (conf, "[node]\nchain_id = " CHAIN_ID "\n");
  g_autofree char *src = g_build_filename (source_root, "conf", "conf.d", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GDir) dir = g_dir_open (src, 0, &err);
  check (err, src);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    if (!g_str_has_suffix (name, ".conf") || strstr (name, "-solo.") != NULL)
      continue;
    g_autofree char *from = g_build_filename (src, name, NULL);
    g_autofree char *text = NULL;
    g_file_get_contents (from, &text, NULL, &err);
    check (err, from);
    g_autofree char *to = g_build_filename (home, "conf.d", name, NULL);
    write_file (to, text);
  }
  g_autofree char *pos = g_build_filename (home, "conf.d", "30-pos.conf", NULL);
  write_file (pos, "[plugins]\nload = pos\n"
                   "[pos]\nblock_interval_ms = 200\n"
                   "timeout_propose_ms = 1000\ntimeout_prevote_ms = 500\n"
                   "timeout_precommit_ms = 500\nrebroadcast_ms = 1000\n"
                   "[bank]\nminters = pos; market; metering\n");
  g_autofree char *mine
      = g_strdup_printf ("# The perf workload: no network, no fsync, quiet.\n"
                         "[node]\nlog_level = warning\n"
                         "[http]\nenabled = false\n"
                         "[p2p]\nenabled = false\n"
                         "[store-lmdb]\nsync = false\nmap_size = 1GiB\n"
                         "[blob-fs]\nsync = false\n"
                         "[groups]\nauto_register = false\n"
                         "[block]\nmax_txs = %d\n"
                         "[mempool]\nmax_nonce_gap = %d\n",
                         opt.block_txs, MAX (1024, opt.txs / opt.senders + 1));
  g_autofree char *perf
      = g_build_filename (home, "conf.d", "99-perf.conf", NULL);
  write_file (perf, mine);
}

typedef struct {
  char *dir;           /* temp dir holding both homes */
  char *home, *home2;  /* the chain's node, the replaying node */
  CairnKey *validator; /* node key of both homes */
  CairnKey **senders;
  char *plugins_dir;
  SimSched *sched;
  SimClock *clock, *clock2;
  CairnNode *node, *node2;
  GPtrArray *txs;   /* CairnTx*, signing order */
  gint64 committed; /* txs in committed blocks (block events) */
} Work;

static void
make_homes (Work *w, const char *source_root)
{
  g_autoptr (GError) err = NULL;
  w->dir = g_dir_make_tmp ("cairn-perf-XXXXXX", &err);
  check (err, "temp dir");
  work_dir = w->dir;
  w->home = g_build_filename (w->dir, "node", NULL);
  w->home2 = g_build_filename (w->dir, "replay", NULL);
  g_autofree char *keys = g_build_filename (w->dir, "keys", NULL);

  g_autofree char *vpath = g_build_filename (keys, "validator.pem", NULL);
  w->validator = seeded_key ("cairn-perf-validator", vpath);
  g_autofree char *apath = g_build_filename (keys, "admin.pem", NULL);
  g_autoptr (CairnKey) admin = seeded_key ("cairn-perf-admin", apath);
  w->senders = g_new0 (CairnKey *, opt.senders);
  json_t *accounts = json_array ();
  json_array_append_new (accounts, account (admin, SENDER_BALANCE, "admin"));
  json_array_append_new (
      accounts, account (w->validator, VALIDATOR_BALANCE, "validator"));
  for (gint s = 0; s < opt.senders; s++) {
    g_autofree char *label = g_strdup_printf ("cairn-perf-sender-%d", s);
    g_autofree char *path = g_build_filename (keys, label, NULL);
    w->senders[s] = seeded_key (label, path);
    json_array_append_new (accounts,
                           account (w->senders[s], SENDER_BALANCE, NULL));
  }
  g_autofree char *vpub
      = cairn_hex_encode (cairn_key_pubkey (w->validator), 32);
  g_autoptr (json_t) genesis = json_pack (
      "{s:s, s:I, s:{s:i, s:[s]}, s:o, s:[{s:s, s:s, s:i, s:s}]}", "chain_id",
      CHAIN_ID, "genesis_time", (json_int_t)GENESIS_TIME, "admin", "threshold",
      1, "members", cairn_key_address (admin), "accounts", accounts,
      "validators", "address", cairn_key_address (w->validator), "pubkey", vpub,
      "stake", VALIDATOR_STAKE, "name", "perf");
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  g_autofree char *vpem = seeded_pem ("cairn-perf-validator");
  const char *homes[] = { w->home, w->home2 };
  for (guint i = 0; i < G_N_ELEMENTS (homes); i++) {
    g_autofree char *g = g_build_filename (homes[i], "genesis.json", NULL);
    write_file (g, gtext);
    g_autofree char *k = g_build_filename (homes[i], "keys", "node.pem", NULL);
    write_file (k, vpem);
    write_config (homes[i], source_root);
  }
}

static CairnNode *
open_node (Work *w, const char *home, SimClock *clock)
{
  const char *path[] = { w->plugins_dir, NULL };
  CairnNodeOptions o = {
    .home = home,
    .plugin_path = path,
    .no_http = TRUE,
    .clock = sim_clock_base (clock),
  };
  g_autoptr (GError) err = NULL;
  CairnNode *node = cairn_node_new (&o, &err);
  check (err, home);
  return node;
}

static void
start_node (CairnNode *node, const char *home)
{
  g_autoptr (GError) err = NULL;
  cairn_node_start (node, &err);
  check (err, home);
}

static void
on_block (const CairnEvent *ev, void *user_data)
{
  Work *w = user_data;
  if (strcmp (ev->type, "block") == 0)
    w->committed
        += json_integer_value (json_object_get (ev->attrs, "tx_count"));
}

/* ---- phases -------------------------------------------------------------
 */

static void
sign_txs (Work *w)
{
  w->txs = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  for (gint i = 0; i < opt.txs; i++) {
    gint s = i % opt.senders;
    const char *to = cairn_key_address (w->senders[(s + 1) % opt.senders]);
    g_autoptr (json_t) body
        = json_pack ("{s:I, s:s, s:s}", "amount", (json_int_t)(1 + i % 1000),
                     "denom", "cairn", "to", to);
    g_autoptr (GError) err = NULL;
    CairnTx *tx = cairn_tx_sign (w->senders[s], CHAIN_ID, "bank.transfer",
                                 (uint64_t)(i / opt.senders), body, &err);
    check (err, "cairn_tx_sign");
    g_ptr_array_add (w->txs, tx);
  }
}

/* What a client sends to POST /v1/txs: a JSON array of the txs' bytes. */
static GString *
batch_body (Work *w, guint from, guint n)
{
  GString *b = g_string_new ("[");
  for (guint i = from; i < from + n; i++) {
    CairnTx *tx = w->txs->pdata[i];
    if (i > from)
      g_string_append_c (b, ',');
    g_string_append_len (b, tx->bytes, (gssize)tx->len);
  }
  g_string_append_c (b, ']');
  return b;
}

static void
admit_txs (Work *w, GString **bodies, guint n_bodies)
{
  guint accepted = 0;
  for (guint k = 0; k < n_bodies; k++) {
    CairnTxBatch batch = { 0 };
    g_autoptr (GError) err = NULL;
    cairn_http_parse_txs (bodies[k]->str, bodies[k]->len, CHAIN_ID, &batch,
                          &err);
    check (err, "cairn_http_parse_txs");
    g_autofree GError **errs = g_new0 (GError *, MAX (batch.n, 1));
    accepted += cairn_node_submit_many (w->node, batch.txs, batch.n, errs);
    for (guint i = 0; i < batch.n; i++)
      if (errs[i])
        die ("admission refused tx %u of batch %u: %s", i, k, errs[i]->message);
    cairn_tx_batch_clear (&batch);
  }
  if (accepted != (guint)opt.txs)
    die ("%u txs admitted, not %d", accepted, opt.txs);
}

static void
execute (Work *w)
{
  while (w->committed < opt.txs) {
    if (!sim_sched_run_one (w->sched, EXECUTE_LIMIT_MS))
      die ("%" G_GINT64_FORMAT " of %d txs committed after %d s of virtual "
           "time",
           w->committed, opt.txs, EXECUTE_LIMIT_MS / 1000);
  }
  if (w->committed != opt.txs)
    die ("%" G_GINT64_FORMAT " txs committed, not %d", w->committed, opt.txs);
}

/* Every tx executed, and with ok: each sender's nonce and balance are
 * what all the transfers imply (cheaper than reading every result). */
static void
check_txs (Work *w)
{
  g_autofree int64_t *balance = g_new (int64_t, opt.senders);
  g_autofree uint64_t *sent = g_new0 (uint64_t, opt.senders);
  for (gint s = 0; s < opt.senders; s++)
    balance[s] = SENDER_BALANCE;
  for (gint i = 0; i < opt.txs; i++) {
    gint s = i % opt.senders;
    balance[s] -= 1 + i % 1000;
    balance[(s + 1) % opt.senders] += 1 + i % 1000;
    sent[s]++;
  }
  for (gint s = 0; s < opt.senders; s++) {
    const char *a = cairn_key_address (w->senders[s]);
    g_autoptr (GError) err = NULL;
    g_autoptr (json_t) acc = cairn_node_account_json (w->node, a, &err);
    check (err, a);
    json_int_t nonce = json_integer_value (json_object_get (acc, "next_nonce"));
    g_autofree char *key = g_strdup_printf ("bal/%s/cairn", a);
    g_autoptr (GBytes) v
        = cairn_node_state_get (w->node, "bank", key, CAIRN_HEAD, &err);
    check (err, key);
    gsize len;
    const char *digits = g_bytes_get_data (v, &len);
    g_autofree char *text = g_strndup (digits, len);
    if ((uint64_t)nonce != sent[s]
        || g_ascii_strtoll (text, NULL, 10) != balance[s])
      die ("sender %d (%s): next nonce %" G_GINT64_FORMAT ", balance %s; "
           "the workload's txs make them %" G_GUINT64_FORMAT
           " and %" G_GINT64_FORMAT,
           s, a, (gint64)nonce, text, sent[s], balance[s]);
  }
}

static void
replay (Work *w)
{
  uint64_t head = cairn_node_head (w->node)->height;
  for (uint64_t h = 1; h <= head; h++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (GBytes) raw = cairn_node_stored_block_bytes (w->node, h, &err);
    check (err, "reading a stored block");
    gsize len;
    const void *data = g_bytes_get_data (raw, &len);
    if (!cairn_node_apply_stored_block (w->node2, data, len, h < head, &err))
      die ("replaying block %" G_GUINT64_FORMAT ": %s", h, err->message);
  }
  g_autoptr (GError) err = NULL;
  cairn_node_sync_store (w->node2, &err);
  check (err, "cairn_node_sync_store");
}

/* The x86 features the libraries (glibc, OpenSSL, libsodium) choose code
 * by, as this process sees them: under valgrind, those of its virtual
 * CPU. Counts are comparable only between runs that see the same. */
static char *
cpu_features (void)
{
  GString *s = g_string_new (NULL);
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
#define F(name)                                                                \
  if (__builtin_cpu_supports (name))                                           \
    g_string_append (s, " " name);
  F ("sse4.2")
  F ("avx")
  F ("avx2")
  F ("bmi2")
  F ("aes")
  F ("pclmul")
  F ("sha")
  F ("avx512f")
  F ("vpclmulqdq")
  F ("vaes")
#undef F
#else
  g_string_append (s, " (not x86)");
#endif
  return g_string_free (s, FALSE);
}

/* The node sizes its verify pool by the CPUs it may use (one worker per
 * CPU but one): run as on a 2-core machine wherever the baseline is
 * checked, so the same code runs (on 2 cores: no worker, verification on
 * the main thread). Returns the CPUs the process may use now. */
static int
use_two_cpus (void)
{
  cpu_set_t set, two;
  if (sched_getaffinity (0, sizeof set, &set) != 0)
    die ("sched_getaffinity: %s", g_strerror (errno));
  CPU_ZERO (&two);
  for (int c = 0, n = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET (c, &set)) {
      CPU_SET (c, &two);
      n++;
    }
  if (sched_setaffinity (0, sizeof two, &two) != 0)
    die ("sched_setaffinity: %s", g_strerror (errno));
  return CPU_COUNT (&two);
}

/* What the counts depend on besides the project's code: the CPU as seen
 * (under valgrind: its virtual CPU) and the libraries' versions. */
static void
print_env (void)
{
  g_autofree char *cpu = cpu_features ();
  printf ("cpu: %d cores;%s\n", use_two_cpus (), cpu);
  printf ("libs: glibc %s; glib %u.%u.%u; jansson %s; %s; libsodium %s; %s; "
          "LevelDB %d.%d\n",
          gnu_get_libc_version (), glib_major_version, glib_minor_version,
          glib_micro_version, jansson_version_str (),
          OpenSSL_version (OPENSSL_VERSION), sodium_version_string (),
          mdb_version (NULL, NULL, NULL), leveldb_major_version (),
          leveldb_minor_version ());
}

static gboolean
parse_args (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "txs", 0, 0, G_OPTION_ARG_INT, &opt.txs, "bank.transfer txs", "N" },
    { "senders", 0, 0, G_OPTION_ARG_INT, &opt.senders, "sender accounts", "S" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &opt.batch, "txs per submitted batch",
      "B" },
    { "block-txs", 0, 0, G_OPTION_ARG_INT, &opt.block_txs, "[block] max_txs",
      "M" },
    { "print-env", 0, 0, G_OPTION_ARG_NONE, &opt.print_env,
      "print the CPU features and library versions the counts depend on, "
      "and exit",
      NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- the instruction-count baseline workload");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "perf-workload: %s\n", err->message);
    return FALSE;
  }
  if (opt.txs < 1 || opt.senders < 2 || opt.batch < 1 || opt.block_txs < 1) {
    fprintf (stderr, "perf-workload: --txs, --batch and --block-txs must "
                     "be at least 1, --senders at least 2\n");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  if (!parse_args (argc, argv))
    return 2;
  if (opt.print_env) {
    print_env ();
    return 0;
  }
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  const char *source = g_getenv ("CAIRN_SOURCE_ROOT");
  if (build == NULL || source == NULL)
    die ("CAIRN_BUILD_ROOT and CAIRN_SOURCE_ROOT must name the build and "
         "source trees (meson test sets them)");
  use_two_cpus ();
  /* Jansson seeds its hash tables from /dev/urandom: collisions, and so
   * the counts, would change from run to run. */
  json_object_seed (0x5eed);
  show_times = g_strcmp0 (g_getenv ("CAIRN_PERF_TIMES"), "1") == 0;
  phase_start_us = g_get_monotonic_time ();

  Work w = { 0 };
  w.plugins_dir = g_build_filename (build, "plugins", NULL);
  make_homes (&w, source);
  w.sched = sim_sched_new (GENESIS_TIME + 1000);
  w.clock = sim_clock_new (w.sched, 0);
  w.clock2 = sim_clock_new (w.sched, 1);
  phase_end ("harness-setup");

  sign_txs (&w);
  phase_end ("sign");

  w.node = open_node (&w, w.home, w.clock);
  cairn_node_subscribe (w.node, "block", on_block, &w);
  start_node (w.node, w.home);
  phase_end ("start");

  /* The request bodies exist before the phase: a client made them. */
  guint n_bodies = (guint)((opt.txs + opt.batch - 1) / opt.batch);
  GString **bodies = g_new0 (GString *, n_bodies);
  for (guint k = 0; k < n_bodies; k++)
    bodies[k] = batch_body (
        &w, k * (guint)opt.batch,
        MIN ((guint)opt.batch, (guint)opt.txs - k * (guint)opt.batch));
  phase_start_us = g_get_monotonic_time ();
  admit_txs (&w, bodies, n_bodies);
  phase_end ("admit");

  execute (&w);
  phase_end ("execute");

  for (guint k = 0; k < n_bodies; k++)
    g_string_free (bodies[k], TRUE);
  g_free (bodies);
  uint64_t height = cairn_node_head (w.node)->height;
  check_txs (&w);
  phase_end ("harness-check");

  g_clear_pointer (&w.node, cairn_node_free);
  w.node = open_node (&w, w.home, w.clock);
  if (cairn_node_head (w.node)->height != height)
    die ("the node reopened at height %" G_GUINT64_FORMAT
         ", not %" G_GUINT64_FORMAT,
         cairn_node_head (w.node)->height, height);
  /* pos, alone in its set, commits an (empty) block as it starts. */
  start_node (w.node, w.home);
  uint64_t restarted = cairn_node_head (w.node)->height;
  g_autofree char *root = g_strdup (cairn_node_head (w.node)->state_root);
  phase_end ("restart");

  w.node2 = open_node (&w, w.home2, w.clock2);
  replay (&w);
  phase_end ("replay");

  const CairnChainHead *h2 = cairn_node_head (w.node2);
  if (h2->height != restarted || strcmp (h2->state_root, root) != 0)
    die ("the replay ended at height %" G_GUINT64_FORMAT " state root %s, "
         "the chain at %" G_GUINT64_FORMAT " %s",
         h2->height, h2->state_root, restarted, root);

  g_clear_pointer (&w.node, cairn_node_free);
  g_clear_pointer (&w.node2, cairn_node_free);
  phase_end ("shutdown");

  printf ("workload: %d bank.transfer txs from %d senders, batches of %d, "
          "blocks of at most %d txs\n",
          opt.txs, opt.senders, opt.batch, opt.block_txs);
  printf ("chain: height %" G_GUINT64_FORMAT
          " after execute, %" G_GUINT64_FORMAT
          " after restart, state root %s\n",
          height, restarted, root);
  printf ("replay: %" G_GUINT64_FORMAT " blocks, same state root\n", restarted);

  sim_clock_free (w.clock);
  sim_clock_free (w.clock2);
  sim_sched_free (w.sched);
  g_ptr_array_unref (w.txs);
  for (gint s = 0; s < opt.senders; s++)
    cairn_key_free (w.senders[s]);
  g_free (w.senders);
  cairn_key_free (w.validator);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", w.dir);
  work_dir = NULL;
  if (system (cmd) != 0)
    die ("cannot remove %s", w.dir);
  g_free (w.dir);
  g_free (w.home);
  g_free (w.home2);
  g_free (w.plugins_dir);
  return 0;
}

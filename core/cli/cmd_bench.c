/* cairn bench: the load generator and end-to-end benchmark.
 *
 * By default it starts its own throwaway network in a temp dir: `cairn
 * testnet init` (cmd_testnet.c, pos, --validators N nodes that are all
 * validators; pos also for N = 1) with K sender accounts funded in the
 * shared genesis and the bench's mempool limits in every node's conf.d,
 * then `testnet start` from the same binary. --home DIR or --target URL
 * drive a node that already runs instead; the senders are then funded by
 * transfers from the admin key (DIR/keys/admin.pem or --from KEY).
 *
 * --mix types that need setup (bench_mix.c) get their roles in that
 * genesis and their setup txs committed before the clock starts.
 *
 * --fill KEYS grows the state first: KEYS transfers of 1 from the first 64
 * senders to fresh addresses (SHA-256 of a counter from --fill-start), all
 * committed before the clock starts (fill_state). --tx-size BYTES pads each
 * bank.transfer's memo with ASCII so that every signed tx is exactly BYTES
 * long (plan_tx_size, memo_len).
 *
 * Txs are signed ahead on a thread pool into a bounded ring (tx i: sender
 * i mod K at that sender's next nonce, type from --mix): when the run's
 * txs are counted (--txs, or --rate with --duration) and fit in
 * PRESIGN_BYTES, every tx is signed before the clock starts, so that the
 * nodes have the cores to themselves (load generators run elsewhere);
 * otherwise a window of txs is signed ahead and signing goes on during the
 * run (its CPU is reported as signing_cpu_s). C submitter threads
 * (--connections), each with its own keep-alive connection to one node's
 * API (round-robin over the validators), send the txs of their senders in
 * batches (POST /v1/txs with an array, or one object with --batch 1),
 * open loop: with --rate R tx i is due at t0 + i/R whatever the replies,
 * and its latency counts from that due time (no coordinated omission);
 * with --rate 0 each connection sends as fast as the node answers (and
 * while at most --max-pending accepted txs wait to commit) and the latency
 * counts from the send. A thread follows node0's block events
 * (SSE) to time each tx from submit to commit.
 *
 * The report: committed tx/s (committed txs / first submit to last commit),
 * latency percentiles, rejections by reason and per type, each node's CPU
 * seconds and RSS (sampled every second: peak, start, end, growth), the
 * start-up time and the machine's Ed25519 verification ceiling. With
 * --json the last line of stdout is one JSON object. The network and the
 * temp dir are removed at the end, also on errors and on SIGINT/SIGTERM. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bench_mix.h"
#include "cli.h"
#include "http.h"
#include "tx.h"

#define DEFAULT_TXS 20000
#define DEFAULT_ACCOUNTS 64
#define DEFAULT_BATCH 500
#define DEFAULT_CONNECTIONS 4
#define MAX_TXS 10000000 /* [mempool] max_txs's upper bound */
#define MAX_ACCOUNTS 100000
#define MAX_BATCH 10000
#define MAX_CONNECTIONS 256
#define MAX_VALIDATORS 16
/* A counted run whose txs fit in this is signed before t0 (a 10-minute
 * run at 4,000 tx/s: 2.4 M txs of about 400 bytes, 1 GiB). */
#define PRESIGN_BYTES (G_GUINT64_CONSTANT (1536) << 20)
#define TX_BYTES_EST 512 /* a small tx and its allocation */
#define AHEAD_S 5        /* with --rate: signed this many seconds ahead */
#define AHEAD_FAST 50000 /* without: this many txs signed ahead */
#define SIGN_CHUNK 256   /* txs a signer takes at a time */
#define SENDER_BALANCE INT64_C (1000000000)
#define DENOM "cairn"
#define DRAIN_IDLE_S 30     /* give up when nothing commits for this long */
#define FUND_CHUNK 512      /* admin txs per funding round (nonce gap 1024) */
#define VERIFY_SET 1024     /* distinct signatures for the verify ceiling */
#define HIST_MS 65536       /* latency histogram for the progress line */
#define BANK_MAX_MEMO 16384 /* plugins/bank: body.memo's limit in bytes */
#define MAX_FILL 100000000  /* --fill: keys at most */
#define RING_BYTES (256u << 20) /* --tx-size: signed-ahead bytes at most */
#define FILL_SENDERS 64         /* --fill: senders that send the fill txs */
#define FILL_PER_SENDER                                                        \
  400 /* fill txs per sender and round: two rounds                             \
         ahead stay within the nonce gap of 1024 */
#define DEFAULT_PENDING                                                        \
  10000 /* --rate 0: accepted, not committed, at most                          \
        (one full block of [block] max_txs) */

typedef enum { SSE_CONNECTING, SSE_CONNECTED, SSE_ENDED } SseState;

/* A signed tx waiting for its submitter. */
typedef struct {
  char *bytes; /* NULL: empty */
  guint32 len;
  guint64 id64; /* the first 8 bytes of the tx id */
} Slot;

typedef struct {
  GPid pid;
  char *home;
  char *url;
  double startup_ms;
  double idle_rss_mib;
  GArray *rss;  /* double MiB, one per second during the load */
  GArray *anon; /* RssAnon (heap, not LMDB's mapped file pages), likewise */
  double cpu_s, peak_mib, start_mib, end_mib, anon_start_mib, anon_end_mib;
} Node;

typedef struct {
  guint64 offered, accepted, rejected, committed;
  guint sampled;         /* ids kept for the check (under ring_lock) */
  guint checked, failed; /* of those, committed ones asked for their result */
} TypeStats;

/* A committed tx's result is not in the block event: the first SAMPLE
 * txs of each type are looked up at the end (GET /v1/txs/ID). */
#define SAMPLE 8
typedef struct {
  guint64 i;
  char id_hex[65];
} Sample;

typedef struct Bench Bench;

typedef struct {
  Bench *b;
  guint c;
  const char *url;
  GThread *thread;
} Submitter;

struct Bench {
  /* options */
  char *home;
  char *target;
  char *from;
  gint txs;
  gboolean txs_set;
  gint accounts;
  gint batch;
  gint connections;
  gint validators;
  gint submit_to;
  double rate;
  double duration;
  char *mix_spec;
  gint tx_size;
  gint fill;
  gint64 fill_start;
  gint max_pending; /* -1: not given */
  gboolean json;

  gint interrupted;     /* atomic: SIGINT/SIGTERM seen */
  gint stop;            /* atomic: submitters and signers end */
  GCancellable *cancel; /* every thread's HTTP but the SSE thread's */
  GCancellable *sse_cancel;
  gboolean progress; /* stderr is a tty: a live line */
  gboolean plain;    /* not a tty, not --json: a line every 5 s */
  gint64 last_progress_us;
  guint64 last_progress_committed;
  double now_tps;

  /* the network (default mode) */
  char *tmp;
  char *net;
  Node *nodes;
  guint n_nodes;
  char **urls; /* submit targets */
  guint n_urls;
  char *chain_id;
  double startup_ms; /* start of all nodes to every API answering */

  /* txs */
  BenchMix *mix;
  guint n_types;
  CairnKey **senders;
  uint64_t *base_nonce;
  char *sink;     /* recipient when there is one sender */
  gsize tx_base;  /* --tx-size: a transfer's length with memo "", nonce 0 */
  gsize tx_plain; /* --tx-size: the same without a memo */
  char *pad;      /* --tx-size: BANK_MAX_MEMO ASCII bytes */
  guint64 signed_bytes; /* under ring_lock */

  /* --fill */
  guint64 fill_committed;
  double fill_s, fill_rss_mib;
  guint64 limit;  /* txs at most (--txs, or rate x duration, or MAX_TXS) */
  guint64 window; /* ring slots */
  Slot *ring;
  GMutex ring_lock;
  GCond ring_cond;
  guint64 next_sign;  /* under ring_lock */
  guint64 signed_txs; /* under ring_lock */
  gint64 sign_cpu_ns; /* under ring_lock */
  GError *sign_error; /* under ring_lock */
  GArray *samples;    /* Sample, under ring_lock */
  char *first_failure;
  GThread **signers;
  guint n_signers;
  gint64 sign_start_us;
  double presign_s;

  /* per tx (lazily touched pages) */
  gint64 *start_us; /* due time (--rate) or first send; 0: not accepted */
  gint64 *commit_us;
  guint8 *type;

  /* shared by submitters, the SSE thread and the main thread, under lock */
  GMutex lock;
  GCond cond;
  SseState sse_state;
  GError *sse_error;
  GError *run_error;   /* a submitter's */
  GHashTable *pending; /* id64 → index + 1 */
  guint64 committed;
  gint64 last_commit_us;
  guint64 submitted, accepted, rejected, retries;
  GHashTable *reasons; /* code → count */
  TypeStats *by_type;
  guint32 *hist; /* committed latencies, per ms */
  gint64 first_submit_us;

  /* submission */
  Submitter *subs;
  guint n_subs;
  gint subs_done; /* atomic */
  gint64 t0_us;
  gint64 end_us; /* --duration: no tx due (or sent) after it */
  gint64 submit_end_us;

  /* results */
  double verify_per_s;
  guint verify_threads;
  gint64 next_sample_us;
  gboolean sampling;
};

static gboolean
interrupted (Bench *b)
{
  return g_atomic_int_get (&b->interrupted) != 0;
}

static gboolean
stopping (Bench *b)
{
  return g_atomic_int_get (&b->stop) != 0 || interrupted (b);
}

static void set_error (GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
set_error (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_CLI_ERROR, code, msg);
}

static gboolean
check_interrupt (Bench *b, GError **error)
{
  if (!interrupted (b))
    return TRUE;
  set_error (error, CAIRN_EXIT_FAILED, "interrupted");
  return FALSE;
}

/* Ends the run with error (the first one wins). */
static void
fail_run (Bench *b, GError *error)
{
  g_mutex_lock (&b->lock);
  if (b->run_error == NULL)
    b->run_error = error;
  else
    g_error_free (error);
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
  g_atomic_int_set (&b->stop, 1);
  g_mutex_lock (&b->ring_lock);
  g_cond_broadcast (&b->ring_cond);
  g_mutex_unlock (&b->ring_lock);
}

/* ---- signals: a thread with its own context turns SIGINT/SIGTERM into a
 * flag and cancels blocking HTTP calls. ---- */

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
} SignalWatch;

static gboolean
on_signal (gpointer data)
{
  Bench *b = data;
  g_atomic_int_set (&b->interrupted, 1);
  g_cancellable_cancel (b->cancel);
  g_cancellable_cancel (b->sse_cancel);
  return G_SOURCE_CONTINUE;
}

static gpointer
signal_main (gpointer data)
{
  SignalWatch *w = data;
  g_main_context_push_thread_default (w->ctx);
  g_main_loop_run (w->loop);
  g_main_context_pop_thread_default (w->ctx);
  return NULL;
}

static void
signal_watch_start (SignalWatch *w, Bench *b)
{
  w->ctx = g_main_context_new ();
  w->loop = g_main_loop_new (w->ctx, FALSE);
  const int signals[] = { SIGINT, SIGTERM };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++) {
    GSource *src = g_unix_signal_source_new (signals[i]);
    g_source_set_callback (src, on_signal, b, NULL);
    g_source_attach (src, w->ctx);
    g_source_unref (src);
  }
  w->thread = g_thread_new ("bench-signals", signal_main, w);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
signal_watch_stop (SignalWatch *w)
{
  /* Quit from inside the loop: a quit before run() starts would be lost. */
  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, quit_loop, w->loop, NULL);
  g_source_attach (idle, w->ctx);
  g_source_unref (idle);
  g_thread_join (w->thread);
  g_main_loop_unref (w->loop);
  g_main_context_unref (w->ctx);
}

/* ---- progress (stderr): a live line on a tty, else a line every 5 s ---- */

static double
hist_p50 (Bench *b)
{
  guint64 total = 0, seen = 0;
  for (guint k = 0; k < HIST_MS; k++)
    total += b->hist[k];
  for (guint k = 0; k < HIST_MS && total; k++)
    if ((seen += b->hist[k]) * 2 >= total)
      return k;
  return 0;
}

static void
progress (Bench *b, const char *phase, gboolean force)
{
  if (!b->progress && !b->plain)
    return;
  gint64 now = g_get_monotonic_time ();
  gint64 every = b->progress ? 200000 : 5 * G_USEC_PER_SEC;
  if (!force && now - b->last_progress_us < every)
    return;
  g_mutex_lock (&b->lock);
  guint64 committed = b->committed, submitted = b->submitted,
          rejected = b->rejected;
  double p50 = hist_p50 (b);
  g_mutex_unlock (&b->lock);
  if (b->last_progress_us && now > b->last_progress_us)
    b->now_tps = (committed - b->last_progress_committed) * 1e6
                 / (now - b->last_progress_us);
  b->last_progress_us = now;
  b->last_progress_committed = committed;
  double t = b->t0_us ? (now - b->t0_us) / 1e6 : 0;
  g_autofree char *line = g_strdup_printf (
      "%s %.1f s: submitted %" G_GUINT64_FORMAT "  committed %" G_GUINT64_FORMAT
      "  %.0f tx/s now  p50 %.0f ms  rejected %" G_GUINT64_FORMAT,
      phase, t, submitted, committed, b->now_tps, p50, rejected);
  if (b->progress)
    g_printerr ("\r\033[K%s", line);
  else
    g_printerr ("bench: %s\n", line);
}

static void
progress_clear (Bench *b)
{
  if (b->progress)
    g_printerr ("\r\033[K");
}

static void note (Bench *b, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
note (Bench *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  progress_clear (b);
  g_printerr ("bench: %s\n", msg);
}

/* ---- the Ed25519 verification ceiling (in-process, all cores) ---- */

typedef struct {
  const uint8_t (*pub)[32];
  const uint8_t (*sig)[64];
  const char (*msg)[48];
  Bench *b;
  guint start;
  gint64 deadline;
  guint64 count;
  gboolean bad;
} VerifyWork;

static gpointer
verify_main (gpointer data)
{
  VerifyWork *w = data;
  for (guint i = w->start;; i++) {
    guint k = i % VERIFY_SET;
    if (!cairn_ed25519_verify (w->pub[k], "cairn/bench/v1", w->msg[k],
                               strlen (w->msg[k]), w->sig[k]))
      w->bad = TRUE;
    w->count++;
    if ((w->count & 63) == 0
        && (g_get_monotonic_time () >= w->deadline || interrupted (w->b)))
      break;
  }
  return NULL;
}

static gboolean
measure_verify (Bench *b, GError **error)
{
  g_autofree uint8_t (*pub)[32] = g_malloc_n (VERIFY_SET, sizeof *pub);
  g_autofree uint8_t (*sig)[64] = g_malloc_n (VERIFY_SET, sizeof *sig);
  g_autofree char (*msg)[48] = g_malloc_n (VERIFY_SET, sizeof *msg);
  CairnKey *keys[16] = { NULL };
  gboolean ok = TRUE;
  for (guint k = 0; k < G_N_ELEMENTS (keys) && ok; k++)
    ok = (keys[k] = cairn_key_generate (error)) != NULL;
  for (guint i = 0; i < VERIFY_SET && ok; i++) {
    const CairnKey *key = keys[i % G_N_ELEMENTS (keys)];
    g_snprintf (msg[i], sizeof msg[i], "cairn bench message %u", i);
    memcpy (pub[i], cairn_key_pubkey (key), 32);
    cairn_key_sign (key, "cairn/bench/v1", msg[i], strlen (msg[i]), sig[i]);
  }
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    g_clear_pointer (&keys[k], cairn_key_free);
  if (!ok)
    return FALSE;

  guint n = MAX (1u, g_get_num_processors ());
  g_autofree VerifyWork *work = g_new0 (VerifyWork, n);
  g_autofree GThread **threads = g_new0 (GThread *, n);
  gint64 start = g_get_monotonic_time ();
  for (guint t = 0; t < n; t++) {
    work[t] = (VerifyWork){ .pub = (const uint8_t (*)[32])pub,
                            .sig = (const uint8_t (*)[64])sig,
                            .msg = (const char (*)[48])msg,
                            .b = b,
                            .start = t * (VERIFY_SET / n),
                            .deadline = start + G_USEC_PER_SEC };
    threads[t] = g_thread_new ("bench-verify", verify_main, &work[t]);
  }
  guint64 total = 0;
  gboolean bad = FALSE;
  for (guint t = 0; t < n; t++) {
    g_thread_join (threads[t]);
    total += work[t].count;
    bad |= work[t].bad;
  }
  double elapsed = (g_get_monotonic_time () - start) / 1e6;
  if (bad) {
    set_error (error, CAIRN_EXIT_FAILED,
               "cairn_ed25519_verify rejected a valid signature");
    return FALSE;
  }
  b->verify_per_s = total / elapsed;
  b->verify_threads = n;
  return check_interrupt (b, error);
}

/* ---- the network: cairn testnet init/start/stop (cmd_testnet.c) ---- */

static gboolean
write_bench_config (Bench *b, const char *home, GError **error)
{
  /* --txs up to 1M fit; a --duration run gets the default 200000. */
  gint64 max_txs = b->duration > 0
                       ? 200000
                       : MIN (MAX (200000, (gint64)b->limit + 1000), 1000000);
  gint64 max_mib = MAX (256, max_txs / 1024 + 1);
  g_autofree char *text = g_strdup_printf (
      "# Written by cairn bench: room for the load in the mempool.\n"
      "[node]\nlog_level = warning\n\n"
      "[mempool]\nmax_txs = %" G_GINT64_FORMAT "\nmax_bytes = %" G_GINT64_FORMAT
      "MiB\nmax_nonce_gap = %d\nmax_txs_per_sender = %d\n",
      max_txs, max_mib, 1 << 20, MAX_TXS);
  g_autofree char *path
      = g_build_filename (home, "conf.d", "99-bench.conf", NULL);
  return g_file_set_contents (path, text, -1, error);
}

static void
print_log_tail (Bench *b, const char *home)
{
  g_autofree char *path = g_build_filename (home, "node.log", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  g_strstrip (text);
  if (*text == '\0')
    return;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);
  guint first = n > 20 ? n - 20 : 0;
  progress_clear (b);
  g_printerr ("bench: last lines of %s:\n", path);
  for (guint i = first; i < n; i++)
    if (*lines[i])
      g_printerr ("  | %s\n", lines[i]);
}

static double
read_status_mib (GPid pid, const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int)pid);
  g_autofree char *text = NULL;
  const char *v;
  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL)
      || (v = strstr (text, field)) == NULL)
    return -1;
  return g_ascii_strtod (v + strlen (field), NULL) / 1024.0;
}

static double
read_cpu_s (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int)pid);
  g_autofree char *stat = NULL;
  if (pid <= 0 || !g_file_get_contents (path, &stat, NULL, NULL))
    return -1;
  /* Fields after "(comm)": state is field 3, utime 14, stime 15. */
  const char *rest = strrchr (stat, ')');
  g_auto (GStrv) f = rest ? g_strsplit (rest + 2, " ", -1) : NULL;
  if (f == NULL || g_strv_length (f) <= 12)
    return -1;
  double ticks = (double)sysconf (_SC_CLK_TCK);
  return (g_ascii_strtod (f[11], NULL) + g_ascii_strtod (f[12], NULL)) / ticks;
}

/* The roles the mix needs, in every node's copy of the genesis. */
static gboolean
mix_genesis (Bench *b, guint n, GError **error)
{
  if (bench_mix_plain (b->mix))
    return TRUE;
  g_autofree char *home0 = cairn_testnet_node_home (b->net, 0);
  g_autofree char *path = g_build_filename (home0, "genesis.json", NULL);
  g_autofree char *kp = g_build_filename (home0, "keys", "node.pem", NULL);
  g_autoptr (CairnKey) node0 = cairn_key_load (kp, error);
  if (node0 == NULL)
    return FALSE;
  json_error_t jerr;
  g_autoptr (json_t) genesis = json_load_file (path, 0, &jerr);
  if (genesis == NULL) {
    set_error (error, CAIRN_EXIT_FAILED, "%s: %s", path, jerr.text);
    return FALSE;
  }
  bench_mix_genesis (b->mix, genesis, b->senders, (guint)b->accounts,
                     cairn_key_address (node0));
  g_autofree char *text
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  for (guint i = 0; i < n; i++) {
    g_autofree char *home = cairn_testnet_node_home (b->net, i);
    g_autofree char *g = g_build_filename (home, "genesis.json", NULL);
    if (!g_file_set_contents (g, text, -1, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
start_network (Bench *b, GError **error)
{
  b->tmp = g_dir_make_tmp ("cairn-bench-XXXXXX", error);
  if (b->tmp == NULL)
    return FALSE;
  b->net = g_build_filename (b->tmp, "net", NULL);
  g_autoptr (GPtrArray) funded = g_ptr_array_new ();
  for (gint s = 0; s < b->accounts; s++)
    g_ptr_array_add (funded, (gpointer)cairn_key_address (b->senders[s]));
  g_ptr_array_add (funded, NULL);
  CairnInitSpec tmpl = {
    .chain_id = "bench",
    .profile = "dev",
    .funded = (const char *const *)funded->pdata,
    .funded_balance = SENDER_BALANCE,
  };
  guint n = (guint)b->validators;
  if (!cairn_testnet_init (b->net, n, n, TRUE, &tmpl, FALSE, TRUE, error)
      || !mix_genesis (b, n, error))
    return FALSE;
  b->nodes = g_new0 (Node, n);
  b->n_nodes = n;
  for (guint i = 0; i < n; i++) {
    Node *node = &b->nodes[i];
    node->home = cairn_testnet_node_home (b->net, i);
    node->rss = g_array_new (FALSE, FALSE, sizeof (double));
    node->anon = g_array_new (FALSE, FALSE, sizeof (double));
    node->cpu_s = node->peak_mib = node->start_mib = node->end_mib
        = node->anon_start_mib = node->anon_end_mib = -1;
    if (!write_bench_config (b, node->home, error)
        || (node->url = cairn_client_url_for (node->home, NULL, error)) == NULL)
      return FALSE;
  }
  note (b, "starting %u pos validator%s in %s", n, n > 1 ? "s" : "", b->net);
  g_autofree gint64 *ready = g_new0 (gint64, n);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = cairn_testnet_start (b->net, TRUE, ready, error);
  for (guint i = 0; i < n; i++)
    b->nodes[i].pid = cairn_testnet_node_pid (b->nodes[i].home);
  if (!ok) {
    for (guint i = 0; i < n; i++)
      if (b->nodes[i].pid == 0)
        print_log_tail (b, b->nodes[i].home);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    Node *node = &b->nodes[i];
    node->startup_ms = (ready[i] - t0) / 1000.0;
    node->idle_rss_mib = read_status_mib (node->pid, "VmRSS:");
    b->startup_ms = MAX (b->startup_ms, node->startup_ms);
  }
  g_autoptr (CairnClient) probe = cairn_client_new (b->nodes[0].url, 10, error);
  return probe && (b->chain_id = cairn_client_chain_id (probe, error)) != NULL;
}

/* FALSE (and the log's tail) when a node of ours has exited. */
static gboolean
nodes_alive (Bench *b, GError **error)
{
  for (guint i = 0; i < b->n_nodes; i++) {
    Node *node = &b->nodes[i];
    int st = 0;
    if (node->pid <= 0 || waitpid (node->pid, &st, WNOHANG) != node->pid)
      continue;
    node->pid = 0;
    print_log_tail (b, node->home);
    if (WIFSIGNALED (st))
      set_error (error, CAIRN_EXIT_FAILED,
                 "node%u was killed by signal %d (%s) during the run", i,
                 WTERMSIG (st), g_strsignal (WTERMSIG (st)));
    else
      set_error (error, CAIRN_EXIT_FAILED,
                 "node%u exited with status %d during the run", i,
                 WEXITSTATUS (st));
    return FALSE;
  }
  return TRUE;
}

/* Once a second during the load: every node's RSS. */
static void
sample_nodes (Bench *b)
{
  gint64 now = g_get_monotonic_time ();
  if (!b->sampling || now < b->next_sample_us)
    return;
  b->next_sample_us = now + G_USEC_PER_SEC;
  for (guint i = 0; i < b->n_nodes; i++) {
    double mib = read_status_mib (b->nodes[i].pid, "VmRSS:");
    double anon = read_status_mib (b->nodes[i].pid, "RssAnon:");
    if (mib >= 0 && anon >= 0) {
      g_array_append_val (b->nodes[i].rss, mib);
      g_array_append_val (b->nodes[i].anon, anon);
    }
  }
}

static double
mean (const GArray *a, guint first, guint n)
{
  double sum = 0;
  for (guint k = first; k < first + n; k++)
    sum += g_array_index (a, double, k);
  return n ? sum / n : -1;
}

/* CPU and peak RSS while the nodes still run; start and end RSS from the
 * samples: the first 10% are warm-up, start is the mean of the next 10%,
 * end the mean of the last 10% (at least one sample each). */
static void
read_node_stats (Bench *b)
{
  for (guint i = 0; i < b->n_nodes; i++) {
    Node *node = &b->nodes[i];
    node->cpu_s = read_cpu_s (node->pid);
    node->peak_mib = read_status_mib (node->pid, "VmHWM:");
    guint n = node->rss->len;
    if (n == 0)
      continue;
    guint tenth = MAX (1u, n / 10);
    guint warm = n >= 3 ? n / 10 : 0;
    node->start_mib = mean (node->rss, MIN (warm, n - 1),
                            MIN (tenth, n - MIN (warm, n - 1)));
    node->end_mib = mean (node->rss, n - tenth, tenth);
    node->anon_start_mib = mean (node->anon, MIN (warm, n - 1),
                                 MIN (tenth, n - MIN (warm, n - 1)));
    node->anon_end_mib = mean (node->anon, n - tenth, tenth);
  }
}

/* ---- senders, funding, signing ---- */

static gboolean
make_senders (Bench *b, GError **error)
{
  b->senders = g_new0 (CairnKey *, b->accounts);
  b->base_nonce = g_new0 (uint64_t, b->accounts);
  for (gint s = 0; s < b->accounts; s++)
    if ((b->senders[s] = cairn_key_generate (error)) == NULL)
      return FALSE;
  g_autoptr (CairnKey) sink = cairn_key_generate (error);
  if (sink == NULL)
    return FALSE;
  b->sink = g_strdup (cairn_key_address (sink));
  return TRUE;
}

static const char *
recipient (Bench *b, gint s)
{
  return b->accounts > 1 ? cairn_key_address (b->senders[(s + 1) % b->accounts])
                         : b->sink;
}

/* memo: NULL for none. */
static CairnTx *
sign_transfer (Bench *b, const CairnKey *key, const char *to, int64_t amount,
               const char *memo, uint64_t nonce, GError **error)
{
  g_autoptr (json_t) body = json_pack ("{s:s, s:s, s:I}", "to", to, "denom",
                                       DENOM, "amount", (json_int_t)amount);
  if (memo != NULL)
    json_object_set_new (body, "memo", json_string (memo));
  return cairn_tx_sign (key, b->chain_id, "bank.transfer", nonce, body, error);
}

static guint
fill_senders (Bench *b)
{
  return MIN ((guint)b->accounts, FILL_SENDERS);
}

/* Funding from the admin key: FUND_CHUNK txs at a time, each committed and
 * successful before the next chunk. */
static gboolean
fund_senders (Bench *b, CairnClient *client, const CairnKey *admin,
              GError **error)
{
  uint64_t nonce;
  if (!cairn_client_next_nonce (client, cairn_key_address (admin), &nonce,
                                error))
    return FALSE;
  int64_t amount = (int64_t)(b->limit / (guint64)b->accounts + 2) + 1000;
  if (b->fill > 0) /* the fill's txs move 1 each, from the first senders */
    amount += b->fill / (gint)fill_senders (b) + 1;
  note (b, "funding %d senders with %" G_GINT64_FORMAT " %s each from %s",
        b->accounts, amount, DENOM, cairn_key_address (admin));
  for (gint first = 0; first < b->accounts; first += FUND_CHUNK) {
    gint last = MIN (first + FUND_CHUNK, b->accounts);
    g_autoptr (GPtrArray) txs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    for (gint s = first; s < last; s++) {
      CairnTx *tx = sign_transfer (b, admin, cairn_key_address (b->senders[s]),
                                   amount, NULL, nonce++, error);
      if (tx == NULL)
        return FALSE;
      g_ptr_array_add (txs, tx);
    }
    if (!bench_commit_txs (client, txs, "funding tx", error))
      return FALSE;
  }
  return TRUE;
}

/* ---- --tx-size: bank.transfer's memo padded with ASCII ---- */

static guint
digits (guint64 v)
{
  guint d = 1;
  while (v >= 10) {
    v /= 10;
    d++;
  }
  return d;
}

/* The memo that makes the tx at this nonce exactly --tx-size bytes: the
 * signed length of a bench transfer only varies with the memo and the
 * nonce's digits (to, denom, amount 1, from, pubkey, sig: fixed lengths). */
static gsize
memo_len (Bench *b, guint64 nonce)
{
  return (gsize)b->tx_size - b->tx_base - (digits (nonce) - 1);
}

/* Once the chain id and the senders' nonces are known: the sizes of an
 * unpadded transfer and of one with an empty memo (signed samples), and
 * the --tx-size range every tx of the run can be padded to. final: the
 * nonces are those of the run; make the padding. */
static gboolean
plan_tx_size (Bench *b, gboolean final, GError **error)
{
  if (b->tx_size == 0)
    return TRUE;
  g_autoptr (CairnTx) plain
      = sign_transfer (b, b->senders[0], recipient (b, 0), 1, NULL, 0, error);
  g_autoptr (CairnTx) empty
      = sign_transfer (b, b->senders[0], recipient (b, 0), 1, "", 0, error);
  if (plain == NULL || empty == NULL)
    return FALSE;
  b->tx_plain = plain->len;
  b->tx_base = empty->len;
  guint64 lo = G_MAXUINT64, hi = 0;
  guint64 per = (b->limit + (guint64)b->accounts - 1) / (guint64)b->accounts;
  for (gint s = 0; s < b->accounts; s++) {
    lo = MIN (lo, b->base_nonce[s]);
    hi = MAX (hi, b->base_nonce[s] + per);
  }
  gsize min = b->tx_base + digits (hi) - 1;
  gsize max = b->tx_base + digits (lo) - 1 + BANK_MAX_MEMO;
  if ((gsize)b->tx_size < min) {
    set_error (error, CAIRN_EXIT_USAGE,
               "--tx-size %d is smaller than a bank.transfer of this run: "
               "%zu bytes unpadded, %zu bytes with the (empty) memo that "
               "pads it; ask for at least %zu",
               b->tx_size, b->tx_plain, min, min);
    return FALSE;
  }
  if ((gsize)b->tx_size > max) {
    set_error (error, CAIRN_EXIT_USAGE,
               "--tx-size %d is more than fits in bank.transfer's memo "
               "limit of %d bytes: at most %zu bytes",
               b->tx_size, BANK_MAX_MEMO, max);
    return FALSE;
  }
  if (!final)
    return TRUE;
  b->pad = g_malloc (BANK_MAX_MEMO);
  memset (b->pad, 'x', BANK_MAX_MEMO);
  note (b,
        "padding each bank.transfer to %d bytes (unpadded %zu; memo of "
        "%zu bytes at nonce %" G_GUINT64_FORMAT ")",
        b->tx_size, b->tx_plain, memo_len (b, lo), lo);
  return TRUE;
}

/* ---- --fill: state grown by KEYS fresh accounts before the run ---- */

/* Key i of the fill: the first 20 bytes of SHA-256("cairn bench fill i"),
 * so successive fills (--fill-start) on one network add distinct keys. */
static void
fill_address (guint64 i, char out[41])
{
  char seed[64];
  uint8_t h[32];
  int n = g_snprintf (seed, sizeof seed, "cairn bench fill %" G_GUINT64_FORMAT,
                      i);
  cairn_sha256 (seed, (size_t)n, h);
  g_autofree char *hex = cairn_hex_encode (h, 20);
  memcpy (out, hex, 41);
}

typedef struct {
  guint32 s;
  guint64 nonce, key;
} FillItem;

typedef struct {
  Bench *b;
  const FillItem *items;
  CairnTx **txs;
  guint n, first, step;
  GError *error;
} FillSign;

/* One round of fill txs, signed on all cores in the background. */
typedef struct {
  FillItem *items;
  guint n;
  GPtrArray *txs;
  FillSign *work;
  GThread **threads;
  guint n_threads; /* running: joined by fill_round_join */
} FillRound;

static gpointer
fill_sign_main (gpointer data)
{
  FillSign *w = data;
  for (guint k = w->first; k < w->n && w->error == NULL; k += w->step) {
    char to[41];
    fill_address (w->items[k].key, to);
    w->txs[k] = sign_transfer (w->b, w->b->senders[w->items[k].s], to, 1, NULL,
                               w->items[k].nonce, &w->error);
  }
  return NULL;
}

static void
fill_round_start (Bench *b, FillRound *r)
{
  guint t_n = MAX (1u, g_get_num_processors ());
  g_ptr_array_set_size (r->txs, 0);
  g_ptr_array_set_size (r->txs, r->n);
  for (guint t = 0; t < t_n; t++) {
    r->work[t] = (FillSign){ .b = b,
                             .items = r->items,
                             .txs = (CairnTx **)r->txs->pdata,
                             .n = r->n,
                             .first = t,
                             .step = t_n };
    r->threads[t]
        = g_thread_new ("bench-fill-sign", fill_sign_main, &r->work[t]);
  }
  r->n_threads = t_n;
}

static gboolean
fill_round_join (FillRound *r, GError **error)
{
  gboolean ok = TRUE;
  for (guint t = 0; t < r->n_threads; t++) {
    g_thread_join (r->threads[t]);
    if (r->work[t].error != NULL) {
      if (ok && error != NULL)
        g_propagate_error (error, r->work[t].error);
      else
        g_error_free (r->work[t].error);
      r->work[t].error = NULL;
      ok = FALSE;
    }
  }
  r->n_threads = 0;
  return ok;
}

/* The next round's txs (up to FILL_PER_SENDER per sender, senders
 * interleaved, each in nonce order), and their signing started. */
static void
fill_round_plan (Bench *b, FillRound *r, uint64_t *next, guint n_s,
                 guint64 *planned, guint64 total)
{
  r->n = 0;
  for (guint j = 0; j < FILL_PER_SENDER && *planned < total; j++)
    for (guint s = 0; s < n_s && *planned < total; s++)
      r->items[r->n++] = (FillItem){
        .s = s, .nonce = next[s]++, .key = (guint64)b->fill_start + (*planned)++
      };
  if (r->n > 0)
    fill_round_start (b, r);
}

static void
fill_round_init (FillRound *r, guint n_s)
{
  guint t_n = MAX (1u, g_get_num_processors ());
  r->items = g_new (FillItem, (gsize)n_s * FILL_PER_SENDER);
  r->n = 0;
  r->txs = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  r->work = g_new0 (FillSign, t_n);
  r->threads = g_new0 (GThread *, t_n);
  r->n_threads = 0;
}

static void
fill_round_clear (FillRound *r)
{
  fill_round_join (r, NULL);
  g_free (r->items);
  g_ptr_array_unref (r->txs);
  g_free (r->work);
  g_free (r->threads);
}

/* POST the txs in batches; those refused for room (mempool_full,
 * sender_limit, nonce_gap) are sent again after a pause until the node
 * takes them or DRAIN_IDLE_S pass without progress; any other refusal
 * ends the fill. */
static gboolean
fill_post (Bench *b, CairnClient *client, GPtrArray *txs, GError **error)
{
  g_autoptr (GString) body = g_string_new (NULL);
  g_autoptr (GArray) pending = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) retry = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint first = 0; first < txs->len; first += DEFAULT_BATCH) {
    guint last = MIN (first + DEFAULT_BATCH, txs->len);
    g_array_set_size (pending, 0);
    for (guint k = first; k < last; k++)
      g_array_append_val (pending, k);
    gint64 stuck_since = g_get_monotonic_time ();
    while (pending->len > 0) {
      g_string_assign (body, "[");
      for (guint j = 0; j < pending->len; j++) {
        const CairnTx *tx = txs->pdata[g_array_index (pending, guint, j)];
        if (j)
          g_string_append_c (body, ',');
        g_string_append_len (body, tx->bytes, tx->len);
      }
      g_string_append_c (body, ']');
      guint status = 0;
      g_autoptr (json_t) reply = cairn_client_call (
          client, "POST", "/v1/txs", body->str, body->len, &status, error);
      if (reply == NULL)
        return FALSE;
      json_t *results = json_object_get (reply, "results");
      if (status != 200 || !json_is_array (results)) {
        g_autofree char *text = cairn_cli_json_text (reply);
        set_error (error, CAIRN_EXIT_FAILED,
                   "fill: POST /v1/txs answered HTTP %u: %s", status, text);
        return FALSE;
      }
      g_array_set_size (retry, 0);
      for (guint j = 0; j < pending->len; j++) {
        guint k = g_array_index (pending, guint, j);
        json_t *err = json_object_get (json_array_get (results, j), "error");
        const char *code = json_string_value (json_object_get (err, "code"));
        if (err == NULL || g_strcmp0 (code, "duplicate") == 0)
          continue;
        if (g_strcmp0 (code, "mempool_full") == 0
            || g_strcmp0 (code, "sender_limit") == 0
            || g_strcmp0 (code, "nonce_gap") == 0) {
          g_array_append_val (retry, k);
          continue;
        }
        g_autofree char *text = cairn_cli_json_text (err);
        set_error (error, CAIRN_EXIT_FAILED,
                   "fill: tx %s refused by the node: %s",
                   ((CairnTx *)txs->pdata[k])->id_hex, text);
        return FALSE;
      }
      gint64 now = g_get_monotonic_time ();
      if (retry->len < pending->len)
        stuck_since = now;
      else if (now - stuck_since > DRAIN_IDLE_S * G_USEC_PER_SEC) {
        set_error (error, CAIRN_EXIT_FAILED,
                   "fill: the node took none of %u txs for %d s "
                   "(mempool full?)",
                   retry->len, DRAIN_IDLE_S);
        return FALSE;
      }
      g_array_set_size (pending, 0);
      g_array_append_vals (pending, retry->data, retry->len);
      if (pending->len > 0)
        g_usleep (50000);
      if (!check_interrupt (b, error))
        return FALSE;
    }
  }
  return TRUE;
}

/* Wait until each fill sender's committed nonce reaches want[s]. */
static gboolean
fill_wait (Bench *b, CairnClient *client, const uint64_t *want, guint n,
           GError **error)
{
  for (guint s = 0; s < n; s++) {
    uint64_t have = 0, last = 0;
    gint64 since = g_get_monotonic_time ();
    for (;;) {
      if (!cairn_client_committed_nonce (
              client, cairn_key_address (b->senders[s]), &have, error))
        return FALSE;
      if (have >= want[s])
        break;
      gint64 now = g_get_monotonic_time ();
      if (have != last) {
        last = have;
        since = now;
      } else if (now - since > DRAIN_IDLE_S * G_USEC_PER_SEC) {
        set_error (error, CAIRN_EXIT_FAILED,
                   "fill: sender %s stuck at nonce %" G_GUINT64_FORMAT
                   " for %d s (waiting for %" G_GUINT64_FORMAT ")",
                   cairn_key_address (b->senders[s]), have, DRAIN_IDLE_S,
                   want[s]);
        return FALSE;
      }
      g_usleep (50000);
      if (!check_interrupt (b, error))
        return FALSE;
    }
  }
  return TRUE;
}

/* --fill: b->fill transfers of 1 from the first FILL_SENDERS senders to
 * fresh addresses (keys --fill-start ...), in rounds of FILL_PER_SENDER
 * txs per sender: round r+1 is signed on all cores while round r goes
 * out, and round r goes out once round r-2 has committed (so no sender
 * runs more than two rounds, 800 nonces, ahead of its committed nonce).
 * The first and last tx of every round must have succeeded. The senders'
 * base nonces move past the fill. */
static gboolean
fill_state (Bench *b, CairnClient *client, GError **error)
{
  if (b->fill == 0)
    return TRUE;
  guint n_s = fill_senders (b);
  guint64 total = (guint64)b->fill, done = 0;
  char first_addr[41], last_addr[41];
  fill_address ((guint64)b->fill_start, first_addr);
  fill_address ((guint64)b->fill_start + total - 1, last_addr);
  note (b,
        "filling state with %" G_GUINT64_FORMAT
        " keys (fill keys %" G_GINT64_FORMAT "..%" G_GUINT64_FORMAT
        ": %s..%s) from %u senders",
        total, b->fill_start, (guint64)b->fill_start + total - 1, first_addr,
        last_addr, n_s);
  g_autofree uint64_t *next = g_new (uint64_t, n_s);
  g_autofree uint64_t *want_prev = g_new (uint64_t, n_s);
  g_autofree uint64_t *want_prev2 = g_new (uint64_t, n_s);
  for (guint s = 0; s < n_s; s++)
    next[s] = want_prev[s] = want_prev2[s] = b->base_nonce[s];
  g_autoptr (GPtrArray) checks
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_free);
  FillRound rounds[2];
  fill_round_init (&rounds[0], n_s);
  fill_round_init (&rounds[1], n_s);
  gint64 t0 = g_get_monotonic_time (), last_note = t0;
  guint64 planned = 0;
  gboolean ok = TRUE;
  /* Round r+1 is signed while round r is posted. */
  for (guint round = 0, cur = 0; ok && done < total; round++, cur ^= 1) {
    FillRound *r = &rounds[cur], *nx = &rounds[cur ^ 1];
    if (round == 0)
      fill_round_plan (b, r, next, n_s, &planned, total);
    fill_round_plan (b, nx, next, n_s, &planned, total);
    if (!(ok = fill_round_join (r, error)))
      break;
    guint n = r->n;
    g_ptr_array_add (checks, g_strdup (((CairnTx *)r->txs->pdata[0])->id_hex));
    g_ptr_array_add (checks,
                     g_strdup (((CairnTx *)r->txs->pdata[n - 1])->id_hex));
    /* The round two back has committed before this one goes out. */
    if (round >= 2) {
      if (!(ok = fill_wait (b, client, want_prev2, n_s, error)))
        break;
      b->fill_committed = 0;
      for (guint s = 0; s < n_s; s++)
        b->fill_committed += want_prev2[s] - b->base_nonce[s];
    }
    if (!(ok = fill_post (b, client, r->txs, error)))
      break;
    memcpy (want_prev2, want_prev, n_s * sizeof *want_prev);
    for (guint k = 0; k < n; k++)
      want_prev[r->items[k].s] = r->items[k].nonce + 1;
    g_ptr_array_set_size (r->txs, 0);
    done += n;
    gint64 now = g_get_monotonic_time ();
    if (now - last_note >= 2 * G_USEC_PER_SEC) {
      last_note = now;
      note (b,
            "fill: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
            " sent (%.0f tx/s), at least %" G_GUINT64_FORMAT " committed",
            done, total, done / ((now - t0) / 1e6), b->fill_committed);
    }
  }
  fill_round_clear (&rounds[0]);
  fill_round_clear (&rounds[1]);
  if (!ok)
    return FALSE;
  if (!fill_wait (b, client, next, n_s, error))
    return FALSE;
  b->fill_committed = total;
  b->fill_s = (g_get_monotonic_time () - t0) / 1e6;
  for (guint k = 0; k < checks->len; k++) {
    g_autoptr (json_t) tx
        = cairn_client_wait_tx (client, checks->pdata[k], 60, error);
    g_autofree char *why = NULL;
    if (tx == NULL)
      return FALSE;
    if (!cairn_client_tx_result_ok (tx, &why)) {
      set_error (error, CAIRN_EXIT_FAILED, "fill: tx %s failed: %s",
                 (const char *)checks->pdata[k], why);
      return FALSE;
    }
  }
  for (guint s = 0; s < n_s; s++)
    b->base_nonce[s] = next[s];
  b->fill_rss_mib = -1;
  for (guint i = 0; i < b->n_nodes; i++)
    b->fill_rss_mib
        = MAX (b->fill_rss_mib, read_status_mib (b->nodes[i].pid, "VmRSS:"));
  note (b, "filled %" G_GUINT64_FORMAT " keys in %.1f s = %.0f tx/s%s", total,
        b->fill_s, total / b->fill_s,
        b->n_nodes ? "" : " (node RSS unknown: not our child)");
  return TRUE;
}

/* Signers: each takes SIGN_CHUNK consecutive txs at a time, signs each and
 * puts it in its ring slot once the submitter freed the slot's last tx. */
static gpointer
signer_main (gpointer data)
{
  Bench *b = data;
  GError *err = NULL;
  for (;;) {
    g_mutex_lock (&b->ring_lock);
    guint64 first = b->next_sign;
    b->next_sign += SIGN_CHUNK;
    g_mutex_unlock (&b->ring_lock);
    if (first >= b->limit || stopping (b))
      break;
    guint64 last = MIN (first + SIGN_CHUNK, b->limit);
    for (guint64 i = first; i < last && err == NULL; i++) {
      gint s = (gint)(i % (guint64)b->accounts);
      /* Round i / K of sender s takes cycle position round + s: every
       * sender, so every connection, sees the whole mix (position i alone
       * would tie a type to the senders of one connection). */
      guint k = bench_mix_pick (b->mix, i / (guint64)b->accounts + (guint64)s);
      BenchMixCtx ctx
          = { .key = b->senders[s], .to = recipient (b, s), .i = i };
      g_autoptr (json_t) body = bench_mix_body (b->mix, k, &ctx);
      uint64_t nonce = b->base_nonce[s] + i / (guint64)b->accounts;
      if (b->tx_size > 0)
        json_object_set_new (body, "memo",
                             json_stringn (b->pad, memo_len (b, nonce)));
      CairnTx *tx
          = cairn_tx_sign (b->senders[s], b->chain_id,
                           bench_mix_name (b->mix, k), nonce, body, &err);
      if (tx == NULL)
        break;
      if (b->tx_size > 0 && tx->len != (gsize)b->tx_size) {
        g_set_error (&err, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                     "tx %" G_GUINT64_FORMAT " (nonce %" G_GUINT64_FORMAT
                     ") is %zu bytes after padding, not --tx-size %d",
                     i, nonce, tx->len, b->tx_size);
        cairn_tx_unref (tx);
        break;
      }
      Slot slot = { .bytes = g_strndup (tx->bytes, tx->len),
                    .len = (guint32)tx->len,
                    .id64 = 0 };
      memcpy (&slot.id64, tx->id, sizeof slot.id64);
      slot.id64 = GUINT64_FROM_BE (slot.id64);
      b->type[i] = (guint8)k;
      g_mutex_lock (&b->ring_lock);
      b->signed_bytes += tx->len;
      if (b->by_type[k].sampled < SAMPLE) {
        b->by_type[k].sampled++;
        Sample sample = { .i = i };
        memcpy (sample.id_hex, tx->id_hex, sizeof sample.id_hex);
        g_array_append_val (b->samples, sample);
      }
      g_mutex_unlock (&b->ring_lock);
      cairn_tx_unref (tx);
      Slot *dst = &b->ring[i % b->window];
      g_mutex_lock (&b->ring_lock);
      while (dst->bytes && !stopping (b))
        g_cond_wait_until (&b->ring_cond, &b->ring_lock,
                           g_get_monotonic_time () + 100000);
      if (dst->bytes == NULL) {
        *dst = slot;
        slot.bytes = NULL;
        b->signed_txs++;
        g_cond_broadcast (&b->ring_cond);
      }
      g_mutex_unlock (&b->ring_lock);
      g_free (slot.bytes);
      if (stopping (b))
        break;
    }
    if (err || stopping (b))
      break;
  }
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  g_mutex_lock (&b->ring_lock);
  b->sign_cpu_ns += (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
  g_mutex_unlock (&b->ring_lock);
  if (err) {
    g_prefix_error (&err, "signing a tx: ");
    fail_run (b, err);
  }
  return NULL;
}

/* The ring: every tx of a counted run when they fit in PRESIGN_BYTES, else
 * AHEAD_S seconds of --rate or AHEAD_FAST txs (with --tx-size: at most
 * RING_BYTES of them), and at least twice what the submitters' batches
 * span. */
static void
start_signers (Bench *b)
{
  guint64 span = (guint64)b->batch * (guint64)b->accounts
                 / MAX (1u, (guint64)b->accounts / b->n_subs);
  guint64 floor = 2 * span + 4 * SIGN_CHUNK * 8;
  guint64 per = b->tx_size > 0 ? (guint64)b->tx_size + 64 : TX_BYTES_EST;
  gboolean counted = b->duration == 0 || b->rate > 0;
  guint64 w;
  if (counted && b->limit <= PRESIGN_BYTES / per)
    w = b->limit;
  else if (b->rate > 0)
    w = MAX ((guint64)(b->rate * AHEAD_S), floor);
  else
    w = MAX ((guint64)AHEAD_FAST, floor);
  if (b->tx_size > 0 && w < b->limit) /* big txs: the ring within RING_BYTES */
    w = MIN (w, RING_BYTES / (guint64)b->tx_size);
  b->window = MIN (MAX (w, floor), b->limit);
  b->ring = g_new0 (Slot, b->window);
  b->n_signers = MAX (1u, g_get_num_processors ());
  b->signers = g_new0 (GThread *, b->n_signers);
  b->sign_start_us = g_get_monotonic_time ();
  for (guint t = 0; t < b->n_signers; t++)
    b->signers[t] = g_thread_new ("bench-sign", signer_main, b);
}

/* Wait until the ring is full (or holds every tx). */
static gboolean
wait_presigned (Bench *b, GError **error)
{
  guint64 want = b->window;
  g_mutex_lock (&b->ring_lock);
  while (b->signed_txs < want && !stopping (b))
    g_cond_wait_until (&b->ring_cond, &b->ring_lock,
                       g_get_monotonic_time () + 100000);
  g_mutex_unlock (&b->ring_lock);
  b->presign_s = (g_get_monotonic_time () - b->sign_start_us) / 1e6;
  g_mutex_lock (&b->lock);
  GError *err = b->run_error ? g_error_copy (b->run_error) : NULL;
  g_mutex_unlock (&b->lock);
  if (err) {
    g_propagate_error (error, err);
    return FALSE;
  }
  if (!check_interrupt (b, error))
    return FALSE;
  note (b, "signed %" G_GUINT64_FORMAT " txs ahead on %u threads in %.2f s%s",
        want, b->n_signers, b->presign_s,
        want < b->limit ? "; signing goes on during the run" : "");
  return TRUE;
}

static void
stop_signers (Bench *b)
{
  g_atomic_int_set (&b->stop, 1);
  g_mutex_lock (&b->ring_lock);
  g_cond_broadcast (&b->ring_cond);
  g_mutex_unlock (&b->ring_lock);
  for (guint t = 0; b->signers && t < b->n_signers; t++)
    g_clear_pointer (&b->signers[t], g_thread_join);
}

/* ---- the event stream (its own thread, context, session) ---- */

static void
sse_set_state (Bench *b, SseState state, GError *error)
{
  g_mutex_lock (&b->lock);
  b->sse_state = state;
  if (error && b->sse_error == NULL)
    b->sse_error = g_error_copy (error);
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static void
sse_dispatch (Bench *b, const char *event, const char *data)
{
  g_autoptr (json_t) obj = json_loads (data, JSON_DECODE_ANY, NULL);
  if (!json_is_object (obj))
    return;
  const char *type = event;
  if (type == NULL)
    type = json_string_value (json_object_get (obj, "type"));
  if (g_strcmp0 (type, "block") != 0)
    return;
  json_t *attrs = json_object_get (obj, "attrs");
  if (!json_is_object (attrs))
    attrs = obj;
  gint64 now = g_get_monotonic_time ();
  guint n = 0;
  size_t i;
  json_t *id;
  g_mutex_lock (&b->lock);
  json_array_foreach (json_object_get (attrs, "txs"), i, id)
  {
    const char *hex = json_string_value (id);
    if (hex == NULL || strlen (hex) < 16)
      continue;
    char head[17];
    memcpy (head, hex, 16);
    head[16] = '\0';
    gpointer key = (gpointer)(guintptr)g_ascii_strtoull (head, NULL, 16);
    gpointer value;
    if (!g_hash_table_steal_extended (b->pending, key, NULL, &value))
      continue;
    guint64 idx = GPOINTER_TO_SIZE (value) - 1;
    b->commit_us[idx] = now;
    b->by_type[b->type[idx]].committed++;
    gint64 ms = (now - b->start_us[idx]) / 1000;
    b->hist[CLAMP (ms, 0, HIST_MS - 1)]++;
    n++;
  }
  b->committed += n;
  if (n)
    b->last_commit_us = now;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static void
sse_read (Bench *b, GInputStream *in)
{
  g_autoptr (GDataInputStream) data = g_data_input_stream_new (in);
  g_data_input_stream_set_newline_type (data, G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_autofree char *event = NULL;
  g_autoptr (GString) payload = g_string_new (NULL);
  for (;;) {
    g_autoptr (GError) error = NULL;
    gsize len = 0;
    g_autofree char *line
        = g_data_input_stream_read_line (data, &len, b->sse_cancel, &error);
    if (line == NULL) {
      if (error == NULL)
        set_error (&error, CAIRN_EXIT_FAILED,
                   "the node closed the event stream");
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        sse_set_state (b, SSE_ENDED, error);
      return;
    }
    if (len && line[len - 1] == '\r')
      line[--len] = '\0';
    if (len == 0) {
      if (payload->len)
        sse_dispatch (b, event, payload->str);
      g_string_truncate (payload, 0);
      g_clear_pointer (&event, g_free);
    } else if (g_str_has_prefix (line, "data:")) {
      const char *v = line + 5 + (line[5] == ' ');
      if (payload->len)
        g_string_append_c (payload, '\n');
      g_string_append (payload, v);
    } else if (g_str_has_prefix (line, "event:")) {
      g_free (event);
      event = g_strdup (line + 6 + (line[6] == ' '));
    }
    /* ":" comments (pings), id: and retry: are ignored. */
  }
}

static gpointer
sse_main (gpointer data)
{
  Bench *b = data;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnClient) client
        = cairn_client_new (b->nodes ? b->nodes[0].url : b->urls[0], 0, &error);
    g_autoptr (GInputStream) in = NULL;
    if (client) {
      cairn_client_set_cancellable (client, b->sse_cancel);
      in = cairn_client_open_stream (client, "/v1/events?types=block", &error);
    }
    sse_set_state (b, in ? SSE_CONNECTED : SSE_ENDED, error);
    if (in)
      sse_read (b, in);
    sse_set_state (b, SSE_ENDED, NULL);
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

static gboolean
sse_wait_connected (Bench *b, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_mutex_lock (&b->lock);
  while (b->sse_state == SSE_CONNECTING)
    if (!g_cond_wait_until (&b->cond, &b->lock, deadline))
      break;
  SseState state = b->sse_state;
  g_mutex_unlock (&b->lock);
  if (state == SSE_CONNECTED)
    return TRUE;
  if (state == SSE_CONNECTING)
    set_error (error, CAIRN_EXIT_FAILED,
               "no answer from GET /v1/events after 10 s");
  else
    set_error (error, CAIRN_EXIT_FAILED, "cannot follow GET /v1/events: %s",
               b->sse_error ? b->sse_error->message : "stream ended");
  return FALSE;
}

/* ---- submission: C threads, each with its own keep-alive connection ---- */

static const char *
error_code (const json_t *reply, guint status, char buf[32])
{
  json_t *err = json_object_get (reply, "error");
  const char *code = json_string_value (json_object_get (err, "code"));
  if (code)
    return code;
  g_snprintf (buf, 32, "http_%u", status);
  return buf;
}

/* Submitter c sends the txs of the senders s with s mod C = c, in order:
 * one connection per sender keeps its nonces in order. */
static gboolean
owns (Bench *b, guint c, guint64 i)
{
  return (i % (guint64)b->accounts) % b->n_subs == c;
}

static guint64
next_own (Bench *b, guint c, guint64 i)
{
  do
    i++;
  while (i < b->limit && !owns (b, c, i));
  return i;
}

static gint64
due_us (Bench *b, guint64 i)
{
  return b->t0_us + (gint64)((double)i / b->rate * G_USEC_PER_SEC);
}

static void
sleep_until (Bench *b, gint64 due)
{
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    if (now >= due || stopping (b))
      return;
    g_usleep (MIN (due - now, 20000));
  }
}

static void
count_reject_locked (Bench *b, guint64 i, const char *code)
{
  b->rejected++;
  b->by_type[b->type[i]].rejected++;
  gpointer old = g_hash_table_lookup (b->reasons, code);
  g_hash_table_replace (b->reasons, g_strdup (code),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

/* Send the txs idx[] (their ring slots are ready); a tx refused with
 * mempool_full or sender_limit is sent again (in order) after a pause,
 * until the node takes it or DRAIN_IDLE_S pass without progress. */
static gboolean
send_batch (Bench *b, CairnClient *client, GArray *idx, GError **error)
{
  g_autoptr (GArray) pending = g_array_copy (idx);
  gint64 stuck_since = 0;
  gboolean first_try = TRUE;
  g_autoptr (GString) body = g_string_new (NULL);
  while (pending->len > 0) {
    gboolean single = b->batch == 1;
    g_string_truncate (body, 0);
    if (!single)
      g_string_append_c (body, '[');
    for (guint k = 0; k < pending->len; k++) {
      guint64 i = g_array_index (pending, guint64, k);
      const Slot *slot = &b->ring[i % b->window];
      if (k)
        g_string_append_c (body, ',');
      g_string_append_len (body, slot->bytes, slot->len);
    }
    if (!single)
      g_string_append_c (body, ']');
    gint64 now = g_get_monotonic_time ();
    g_mutex_lock (&b->lock);
    if (b->first_submit_us == 0)
      b->first_submit_us = now;
    for (guint k = 0; k < pending->len; k++) {
      guint64 i = g_array_index (pending, guint64, k);
      if (first_try) {
        b->start_us[i] = b->rate > 0 ? due_us (b, i) : now;
        b->submitted++;
        b->by_type[b->type[i]].offered++;
      }
      g_hash_table_insert (b->pending,
                           (gpointer)(guintptr)b->ring[i % b->window].id64,
                           GSIZE_TO_POINTER (i + 1));
    }
    g_mutex_unlock (&b->lock);
    first_try = FALSE;
    guint status = 0;
    g_autoptr (json_t) reply = cairn_client_call (
        client, "POST", "/v1/txs", body->str, body->len, &status, error);
    if (reply == NULL)
      return FALSE;
    json_t *results = single ? NULL : json_object_get (reply, "results");
    g_autoptr (GArray) retry = g_array_new (FALSE, FALSE, sizeof (guint64));
    guint took = 0;
    g_mutex_lock (&b->lock);
    for (guint k = 0; k < pending->len; k++) {
      guint64 i = g_array_index (pending, guint64, k);
      json_t *r = single ? reply : json_array_get (results, k);
      char buf[32];
      const char *code = NULL;
      if (single)
        code = status == 202 ? NULL : error_code (reply, status, buf);
      else if (status != 200 || r == NULL)
        code = error_code (reply, status, buf); /* the whole batch failed */
      else if (json_object_get (r, "error"))
        code = error_code (r, status, buf);
      if (code == NULL) {
        b->accepted++;
        b->by_type[b->type[i]].accepted++;
        took++;
        continue;
      }
      gpointer key = (gpointer)(guintptr)b->ring[i % b->window].id64;
      g_hash_table_remove (b->pending, key);
      if (g_str_equal (code, "mempool_full")
          || g_str_equal (code, "sender_limit"))
        g_array_append_val (retry, i);
      else {
        b->start_us[i] = 0;
        count_reject_locked (b, i, code);
      }
    }
    g_mutex_unlock (&b->lock);
    if (retry->len == 0)
      return TRUE;
    now = g_get_monotonic_time ();
    if (took > 0 || stuck_since == 0)
      stuck_since = now;
    if (now - stuck_since > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      g_mutex_lock (&b->lock);
      for (guint k = 0; k < retry->len; k++) {
        guint64 i = g_array_index (retry, guint64, k);
        b->start_us[i] = 0;
        count_reject_locked (b, i, "mempool_full");
      }
      g_mutex_unlock (&b->lock);
      return TRUE;
    }
    g_mutex_lock (&b->lock);
    b->retries++;
    g_mutex_unlock (&b->lock);
    g_array_set_size (pending, 0);
    g_array_append_vals (pending, retry->data, retry->len);
    g_usleep (20000);
    if (!check_interrupt (b, error))
      return FALSE;
  }
  return TRUE;
}

/* --max-pending: wait until n more txs keep the accepted but not yet
 * committed ones within it. FALSE (error set) when nothing commits for
 * DRAIN_IDLE_S meanwhile. */
static gboolean
wait_pending (Bench *b, guint n, GError **error)
{
  if (b->max_pending <= 0)
    return TRUE;
  gboolean ok = TRUE;
  g_mutex_lock (&b->lock);
  gint64 since = g_get_monotonic_time ();
  while (b->accepted - b->committed + n > (guint64)b->max_pending
         && !stopping (b)) {
    gint64 now = g_get_monotonic_time ();
    if (b->rate == 0 && now >= b->end_us)
      break;
    if (now - MAX (since, b->last_commit_us) > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      set_error (error, CAIRN_EXIT_FAILED,
                 "%" G_GUINT64_FORMAT " accepted txs and none committed for "
                 "%d s",
                 b->accepted - b->committed, DRAIN_IDLE_S);
      ok = FALSE;
      break;
    }
    g_cond_wait_until (&b->cond, &b->lock, now + 100000);
  }
  g_mutex_unlock (&b->lock);
  return ok;
}

static gboolean
submit_loop (Submitter *sub, CairnClient *client, GError **error)
{
  Bench *b = sub->b;
  guint64 i = owns (b, sub->c, 0) ? 0 : next_own (b, sub->c, 0);
  g_autoptr (GArray) idx = g_array_new (FALSE, FALSE, sizeof (guint64));
  while (!stopping (b)) {
    g_array_set_size (idx, 0);
    for (; i < b->limit && idx->len < (guint)b->batch;
         i = next_own (b, sub->c, i)) {
      if (b->rate > 0 && due_us (b, i) >= b->end_us)
        break;
      g_array_append_val (idx, i);
    }
    if (idx->len == 0)
      break;
    /* A batch goes out when its last tx is due. */
    if (b->rate > 0)
      sleep_until (b, due_us (b, g_array_index (idx, guint64, idx->len - 1)));
    if (!wait_pending (b, idx->len, error))
      return FALSE;
    if ((b->rate == 0 && g_get_monotonic_time () >= b->end_us) || stopping (b))
      break;
    g_mutex_lock (&b->ring_lock);
    for (guint k = 0; k < idx->len && !stopping (b); k++) {
      guint64 t = g_array_index (idx, guint64, k);
      while (b->ring[t % b->window].bytes == NULL && !stopping (b))
        g_cond_wait_until (&b->ring_cond, &b->ring_lock,
                           g_get_monotonic_time () + 100000);
    }
    g_mutex_unlock (&b->ring_lock);
    if (stopping (b))
      break;
    gboolean ok = send_batch (b, client, idx, error);
    g_mutex_lock (&b->ring_lock);
    for (guint k = 0; k < idx->len; k++) {
      Slot *slot = &b->ring[g_array_index (idx, guint64, k) % b->window];
      g_clear_pointer (&slot->bytes, g_free);
    }
    g_cond_broadcast (&b->ring_cond);
    g_mutex_unlock (&b->ring_lock);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static gpointer
submitter_main (gpointer data)
{
  Submitter *sub = data;
  Bench *b = sub->b;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  {
    GError *error = NULL;
    g_autoptr (CairnClient) client = cairn_client_new (sub->url, 60, &error);
    if (client)
      cairn_client_set_cancellable (client, b->cancel);
    if (client == NULL || !submit_loop (sub, client, &error)) {
      if (!interrupted (b)) {
        g_prefix_error (&error, "connection %u to %s: ", sub->c, sub->url);
        fail_run (b, error);
      } else
        g_clear_error (&error);
    }
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_atomic_int_inc (&b->subs_done);
  g_mutex_lock (&b->lock);
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
  return NULL;
}

static GError *
run_error_copy (Bench *b)
{
  g_mutex_lock (&b->lock);
  GError *err = b->run_error ? g_error_copy (b->run_error) : NULL;
  g_mutex_unlock (&b->lock);
  return err;
}

/* Start the submitters at t0 and watch them, the nodes and the clock. */
static gboolean
submit_all (Bench *b, GError **error)
{
  b->t0_us = g_get_monotonic_time ();
  b->end_us = b->duration > 0
                  ? b->t0_us + (gint64)(b->duration * G_USEC_PER_SEC)
                  : G_MAXINT64;
  b->sampling = TRUE;
  b->subs = g_new0 (Submitter, b->n_subs);
  for (guint c = 0; c < b->n_subs; c++) {
    b->subs[c] = (Submitter){ .b = b, .c = c, .url = b->urls[c % b->n_urls] };
    b->subs[c].thread
        = g_thread_new ("bench-submit", submitter_main, &b->subs[c]);
  }
  gboolean ok = TRUE;
  while (g_atomic_int_get (&b->subs_done) < (gint)b->n_subs) {
    g_mutex_lock (&b->lock);
    g_cond_wait_until (&b->cond, &b->lock, g_get_monotonic_time () + 100000);
    g_mutex_unlock (&b->lock);
    progress (b, "submitting", FALSE);
    sample_nodes (b);
    if (ok && !nodes_alive (b, error)) {
      ok = FALSE;
      g_atomic_int_set (&b->stop, 1);
    }
  }
  for (guint c = 0; c < b->n_subs; c++)
    g_thread_join (b->subs[c].thread);
  b->submit_end_us = g_get_monotonic_time ();
  if (!ok)
    return FALSE;
  GError *err = run_error_copy (b);
  if (err) {
    g_propagate_error (error, err);
    return FALSE;
  }
  return check_interrupt (b, error);
}

/* Wait until every accepted tx committed, or nothing commits for
 * DRAIN_IDLE_S, or the stream or a node ends. */
static gboolean
drain (Bench *b, GError **error)
{
  g_mutex_lock (&b->lock);
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    gint64 idle_from = MAX (b->last_commit_us, b->submit_end_us);
    if (b->committed >= b->accepted)
      break;
    if (b->sse_state == SSE_ENDED) {
      g_mutex_unlock (&b->lock);
      set_error (error, CAIRN_EXIT_FAILED, "the event stream ended: %s",
                 b->sse_error ? b->sse_error->message : "(no error)");
      return FALSE;
    }
    if (interrupted (b)) {
      g_mutex_unlock (&b->lock);
      return check_interrupt (b, error);
    }
    if (now - idle_from > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      guint64 missing = b->accepted - b->committed;
      g_mutex_unlock (&b->lock);
      note (b,
            "%" G_GUINT64_FORMAT " accepted txs not committed after %d s "
            "without progress",
            missing, DRAIN_IDLE_S);
      return TRUE;
    }
    g_cond_wait_until (&b->cond, &b->lock, now + 100000);
    g_mutex_unlock (&b->lock);
    if (!nodes_alive (b, error))
      return FALSE;
    progress (b, "committing", FALSE);
    sample_nodes (b);
    g_mutex_lock (&b->lock);
  }
  g_mutex_unlock (&b->lock);
  return TRUE;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
percentile (const GArray *sorted, double q)
{
  if (sorted->len == 0)
    return 0;
  guint rank = (guint)ceil (q * sorted->len);
  return g_array_index (sorted, double, MAX (rank, 1u) - 1);
}

static double
round3 (double v)
{
  return round (v * 1000) / 1000;
}

static json_t *
num_or_null (double v)
{
  return v < 0 ? json_null () : json_real (round3 (v));
}

/* Ask node0 for the result of each sampled tx that committed. */
static gboolean
check_samples (Bench *b, CairnClient *client, GError **error)
{
  for (guint k = 0; k < b->samples->len; k++) {
    const Sample *sample = &g_array_index (b->samples, Sample, k);
    if (b->commit_us[sample->i] == 0)
      continue;
    g_autoptr (json_t) tx
        = cairn_client_wait_tx (client, sample->id_hex, 10, error);
    if (tx == NULL)
      return FALSE;
    TypeStats *t = &b->by_type[b->type[sample->i]];
    t->checked++;
    g_autofree char *why = NULL;
    if (!cairn_client_tx_result_ok (tx, &why)) {
      t->failed++;
      if (b->first_failure == NULL)
        b->first_failure = g_strdup_printf (
            "%s %s: %s", bench_mix_name (b->mix, b->type[sample->i]),
            sample->id_hex, why);
    }
  }
  return TRUE;
}

/* ---- report ---- */

static json_t *
node_json (const Node *node, guint i)
{
  json_t *o = json_pack ("{s:i, s:s}", "node", (int)i, "api", node->url);
  json_object_set_new (o, "cpu_s", num_or_null (node->cpu_s));
  json_object_set_new (o, "rss_mib", num_or_null (node->peak_mib));
  json_object_set_new (o, "rss_start_mib", num_or_null (node->start_mib));
  json_object_set_new (o, "rss_end_mib", num_or_null (node->end_mib));
  json_object_set_new (
      o, "rss_growth_mib",
      node->start_mib >= 0 && node->end_mib >= 0
          ? json_real (round3 (node->end_mib - node->start_mib))
          : json_null ());
  json_object_set_new (o, "rss_samples", json_integer (node->rss->len));
  json_object_set_new (o, "rss_anon_start_mib",
                       num_or_null (node->anon_start_mib));
  json_object_set_new (o, "rss_anon_end_mib", num_or_null (node->anon_end_mib));
  json_object_set_new (o, "idle_rss_mib", num_or_null (node->idle_rss_mib));
  json_object_set_new (o, "startup_ms", json_real (round3 (node->startup_ms)));
  return o;
}

static void
report (Bench *b)
{
  g_autoptr (GArray) lat = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 last_commit = 0;
  guint64 offered = b->submitted;
  for (guint64 i = 0; i < b->limit && i < b->next_sign; i++) {
    if (b->commit_us[i] == 0 || b->start_us[i] == 0)
      continue;
    last_commit = MAX (last_commit, b->commit_us[i]);
    double ms = MAX (0, b->commit_us[i] - b->start_us[i]) / 1000.0;
    g_array_append_val (lat, ms);
  }
  g_array_sort (lat, compare_double);
  guint64 committed = lat->len;
  double duration = committed && b->first_submit_us
                        ? MAX (1, last_commit - b->first_submit_us) / 1e6
                        : 0;
  double tps = duration > 0 ? committed / duration : 0;
  double p50 = percentile (lat, 0.50), p90 = percentile (lat, 0.90),
         p99 = percentile (lat, 0.99);

  g_autoptr (json_t) reasons = json_object ();
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, b->reasons);
  while (g_hash_table_iter_next (&it, &key, &value))
    json_object_set_new (reasons, key, json_integer (GPOINTER_TO_UINT (value)));
  g_autofree char *reason_text
      = json_dumps (reasons, JSON_COMPACT | JSON_SORT_KEYS);
  g_autoptr (json_t) types = json_object ();
  for (guint k = 0; k < b->n_types; k++) {
    const TypeStats *t = &b->by_type[k];
    json_object_set_new (types, bench_mix_name (b->mix, k),
                         json_pack ("{s:I, s:I, s:I, s:I, s:i, s:i}", "offered",
                                    (json_int_t)t->offered, "accepted",
                                    (json_int_t)t->accepted, "committed",
                                    (json_int_t)t->committed, "rejected",
                                    (json_int_t)t->rejected, "checked",
                                    (int)t->checked, "failed", (int)t->failed));
  }

  /* Over the nodes: CPU summed, RSS the largest. */
  double cpu = b->n_nodes ? 0 : -1, peak = -1, rss_start = -1, rss_end = -1,
         growth = -1e9, idle = -1, anon_growth = -1e9;
  g_autoptr (json_t) nodes = json_array ();
  for (guint i = 0; i < b->n_nodes; i++) {
    const Node *n = &b->nodes[i];
    cpu = cpu >= 0 && n->cpu_s >= 0 ? cpu + n->cpu_s : -1;
    peak = MAX (peak, n->peak_mib);
    rss_start = MAX (rss_start, n->start_mib);
    rss_end = MAX (rss_end, n->end_mib);
    if (n->start_mib >= 0 && n->end_mib >= 0)
      growth = MAX (growth, n->end_mib - n->start_mib);
    if (n->anon_start_mib >= 0 && n->anon_end_mib >= 0)
      anon_growth = MAX (anon_growth, n->anon_end_mib - n->anon_start_mib);
    idle = MAX (idle, n->idle_rss_mib);
    json_array_append_new (nodes, node_json (n, i));
  }
  double sign_cpu = b->sign_cpu_ns / 1e9;

  g_autofree char *rate = b->rate > 0 ? g_strdup_printf ("%.0f tx/s", b->rate)
                                      : g_strdup ("unlimited");
  g_autoptr (json_t) mix = bench_mix_json (b->mix);
  g_autofree char *mix_text = json_dumps (mix, JSON_COMPACT);
  progress_clear (b);
  g_print ("cairn bench: %" G_GUINT64_FORMAT " txs offered from %d accounts "
           "over %u connection%s, batch %d, rate %s, mix %s\n",
           offered, b->accounts, b->n_subs, b->n_subs > 1 ? "s" : "", b->batch,
           rate, mix_text);
  if (b->n_nodes == 0)
    g_print ("  node: %s\n", b->urls[0]);
  if (b->n_nodes)
    g_print ("  network: %u pos validator%s, load on %s\n", b->n_nodes,
             b->n_nodes > 1 ? "s" : "",
             b->submit_to >= 0 ? "one node" : "all (round-robin)");
  cairn_cli_print_field ("committed",
                         "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                         " accepted in %.3f s = %.1f tx/s",
                         committed, b->accepted, duration, tps);
  cairn_cli_print_field ("latency",
                         "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms "
                         "(from the %s time)",
                         p50, p90, p99, b->rate > 0 ? "scheduled" : "send");
  if (b->rejected)
    cairn_cli_print_field ("rejected", "%" G_GUINT64_FORMAT " %s", b->rejected,
                           reason_text);
  else
    cairn_cli_print_field ("rejected", "0");
  if (b->n_types > 1 || b->rejected)
    for (guint k = 0; k < b->n_types; k++)
      cairn_cli_print_field (
          bench_mix_name (b->mix, k),
          "offered %" G_GUINT64_FORMAT ", committed %" G_GUINT64_FORMAT
          ", rejected %" G_GUINT64_FORMAT ", results checked %u, failed %u",
          b->by_type[k].offered, b->by_type[k].committed,
          b->by_type[k].rejected, b->by_type[k].checked, b->by_type[k].failed);
  if (b->retries)
    cairn_cli_print_field (
        "retries", "%" G_GUINT64_FORMAT " batches resent after mempool_full",
        b->retries);
  for (guint i = 0; i < b->n_nodes; i++) {
    const Node *n = &b->nodes[i];
    g_autofree char *label = g_strdup_printf ("node%u", i);
    cairn_cli_print_field (label,
                           "cpu %.2f s, RSS peak %.1f MiB, start %.1f, end "
                           "%.1f MiB (anon %.1f → %.1f; %u samples), up in "
                           "%.1f ms",
                           n->cpu_s, n->peak_mib, n->start_mib, n->end_mib,
                           n->anon_start_mib, n->anon_end_mib, n->rss->len,
                           n->startup_ms);
  }
  if (b->n_nodes == 0)
    cairn_cli_print_field ("node", "cpu and RSS unknown (not our child)");
  else
    cairn_cli_print_field ("startup", "%.1f ms to every API answering",
                           b->startup_ms);
  if (b->tx_size > 0)
    cairn_cli_print_field ("tx size",
                           "%d bytes each (memo-padded; unpadded %zu) = "
                           "%.2f MB/s committed",
                           b->tx_size, b->tx_plain, tps * b->tx_size / 1e6);
  if (b->fill > 0) {
    g_autofree char *fill_rss
        = b->fill_rss_mib >= 0 ? g_strdup_printf ("%.1f MiB", b->fill_rss_mib)
                               : g_strdup ("unknown (not our child)");
    cairn_cli_print_field ("fill",
                           "%d keys (from %" G_GINT64_FORMAT
                           ") committed in %.2f s = %.1f tx/s; node RSS "
                           "after it %s",
                           b->fill, b->fill_start, b->fill_s,
                           b->fill_s > 0 ? b->fill / b->fill_s : 0, fill_rss);
  }
  cairn_cli_print_field ("signing",
                         "%.2f s CPU on %u threads (%.2f s before the clock)",
                         sign_cpu, b->n_signers, b->presign_s);
  cairn_cli_print_field ("ed25519", "%.0f verifications/s on %u threads",
                         b->verify_per_s, b->verify_threads);
  if (!b->json)
    return;
  g_autoptr (json_t) out = json_object ();
  json_object_set_new (out, "committed_tps", json_real (round3 (tps)));
  json_object_set_new (out, "p50_ms", json_real (round3 (p50)));
  json_object_set_new (out, "p90_ms", json_real (round3 (p90)));
  json_object_set_new (out, "p99_ms", json_real (round3 (p99)));
  json_object_set_new (out, "latency_from",
                       json_string (b->rate > 0 ? "scheduled" : "send"));
  json_object_set_new (out, "rejected", json_integer (b->rejected));
  json_object_set_new (out, "rejected_by_reason", json_incref (reasons));
  json_object_set_new (out, "by_type", json_incref (types));
  json_object_set_new (out, "rss_mib", num_or_null (peak));
  json_object_set_new (out, "rss_start_mib", num_or_null (rss_start));
  json_object_set_new (out, "rss_end_mib", num_or_null (rss_end));
  json_object_set_new (out, "rss_growth_mib",
                       growth > -1e9 ? json_real (round3 (growth))
                                     : json_null ());
  json_object_set_new (out, "rss_anon_growth_mib",
                       anon_growth > -1e9 ? json_real (round3 (anon_growth))
                                          : json_null ());
  json_object_set_new (out, "idle_rss_mib", num_or_null (idle));
  json_object_set_new (out, "cpu_s", num_or_null (cpu));
  json_object_set_new (out, "nodes", json_incref (nodes));
  json_object_set_new (out, "validators",
                       b->n_nodes ? json_integer (b->n_nodes) : json_null ());
  json_object_set_new (out, "startup_ms",
                       b->n_nodes ? json_real (round3 (b->startup_ms))
                                  : json_null ());
  json_object_set_new (out, "startup_node0_ms",
                       b->n_nodes ? json_real (round3 (b->nodes[0].startup_ms))
                                  : json_null ());
  json_object_set_new (out, "connections", json_integer (b->n_subs));
  json_object_set_new (out, "max_pending", json_integer (b->max_pending));
  json_object_set_new (out, "bench_rss_mib",
                       num_or_null (read_status_mib (getpid (), "VmHWM:")));
  json_object_set_new (out, "batch", json_integer (b->batch));
  json_object_set_new (out, "rate", json_real (b->rate));
  json_object_set_new (out, "mix", json_incref (mix));
  json_object_set_new (out, "duration_s", json_real (round3 (duration)));
  json_object_set_new (out, "duration_limit_s", json_real (b->duration));
  json_object_set_new (
      out, "load_s", json_real (round3 ((b->submit_end_us - b->t0_us) / 1e6)));
  json_object_set_new (out, "signing_cpu_s", json_real (round3 (sign_cpu)));
  json_object_set_new (out, "presign_s", json_real (round3 (b->presign_s)));
  json_object_set_new (out, "offered", json_integer (offered));
  /* Below --rate when the connections fell behind the schedule. */
  json_object_set_new (
      out, "offered_tps",
      json_real (round3 (b->submit_end_us > b->t0_us
                             ? offered * 1e6 / (b->submit_end_us - b->t0_us)
                             : 0)));
  json_object_set_new (out, "txs",
                       json_integer (b->txs_set || b->duration == 0
                                         ? (json_int_t)b->limit
                                         : (json_int_t)offered));
  json_object_set_new (out, "submitted", json_integer (b->submitted));
  json_object_set_new (out, "accepted", json_integer (b->accepted));
  json_object_set_new (out, "committed", json_integer (committed));
  json_object_set_new (out, "accounts", json_integer (b->accounts));
  json_object_set_new (out, "retries", json_integer (b->retries));
  /* The signed size of every tx with --tx-size, else their mean. */
  json_object_set_new (out, "tx_bytes",
                       b->tx_size > 0  ? json_integer (b->tx_size)
                       : b->signed_txs ? json_real (round3 (
                             (double)b->signed_bytes / (double)b->signed_txs))
                                       : json_null ());
  json_object_set_new (out, "tx_size", json_integer (b->tx_size));
  json_object_set_new (
      out, "mb_per_s",
      json_real (round3 (b->signed_txs ? tps * (double)b->signed_bytes
                                             / (double)b->signed_txs / 1e6
                                       : 0)));
  json_object_set_new (out, "fill_keys", json_integer (b->fill));
  json_object_set_new (out, "fill_start", json_integer (b->fill_start));
  json_object_set_new (out, "fill_s", json_real (round3 (b->fill_s)));
  json_object_set_new (
      out, "fill_tps",
      json_real (round3 (b->fill_s > 0 ? b->fill / b->fill_s : 0)));
  json_object_set_new (out, "fill_rss_mib",
                       b->fill > 0 ? num_or_null (b->fill_rss_mib)
                                   : json_null ());
  json_object_set_new (out, "ed25519_verify_per_s",
                       json_real (round (b->verify_per_s)));
  json_object_set_new (out, "threads", json_integer (b->verify_threads));
  cairn_cli_print_json_line (out);
}

/* ---- the run ---- */

static gboolean
run (Bench *b, GError **error)
{
  if (!make_senders (b, error))
    return FALSE;
  if (b->home == NULL && b->target == NULL && b->tx_size > 0) {
    /* Our network's chain id: refuse a --tx-size before any node starts
     * (checked again once the fill moved the nonces). */
    b->chain_id = g_strdup ("bench");
    gboolean ok = plan_tx_size (b, FALSE, error);
    g_clear_pointer (&b->chain_id, g_free);
    if (!ok)
      return FALSE;
  }
  note (b, "measuring the Ed25519 verification ceiling (1 s)");
  if (!measure_verify (b, error))
    return FALSE;

  g_autoptr (CairnKey) admin = NULL;
  if (b->home == NULL && b->target == NULL) {
    if (!start_network (b, error))
      return FALSE;
    b->n_urls = b->submit_to >= 0 ? 1 : b->n_nodes;
    b->urls = g_new0 (char *, b->n_urls + 1);
    for (guint u = 0; u < b->n_urls; u++)
      b->urls[u] = g_strdup (
          b->nodes[b->submit_to >= 0 ? (guint)b->submit_to : u].url);
  } else {
    b->urls = g_new0 (char *, 2);
    b->n_urls = 1;
    b->urls[0] = cairn_client_url_for (b->home, b->target, error);
    if (b->urls[0] == NULL)
      return FALSE;
    admin = cairn_cli_load_key (b->home, b->from ? b->from : "admin", NULL,
                                error);
    if (admin == NULL)
      return FALSE;
    g_autoptr (CairnClient) probe = cairn_client_new (b->urls[0], 10, error);
    if (probe == NULL
        || (b->chain_id = cairn_client_chain_id (probe, error)) == NULL)
      return FALSE;
  }
  g_autoptr (CairnClient) client = cairn_client_new (b->urls[0], 60, error);
  if (client == NULL)
    return FALSE;
  cairn_client_set_cancellable (client, b->cancel);
  if (!bench_mix_plain (b->mix)) {
    note (b, "setting up the mix's senders (registrations, settings)");
    g_autoptr (CairnClient) node0
        = cairn_client_new (b->nodes[0].url, 60, error);
    if (node0 == NULL)
      return FALSE;
    cairn_client_set_cancellable (node0, b->cancel);
    if (!bench_mix_setup (b->mix, node0, b->chain_id, b->senders,
                          (guint)b->accounts, b->base_nonce, error))
      return FALSE;
  }
  if (admin) {
    /* Senders of a node we did not start: funded now, at their nonces. */
    if (!fund_senders (b, client, admin, error))
      return FALSE;
    for (gint s = 0; s < b->accounts; s++)
      if (!cairn_client_next_nonce (client, cairn_key_address (b->senders[s]),
                                    &b->base_nonce[s], error))
        return FALSE;
  }

  if (!fill_state (b, client, error) || !plan_tx_size (b, TRUE, error))
    return FALSE;

  b->start_us = g_new0 (gint64, b->limit);
  b->commit_us = g_new0 (gint64, b->limit);
  b->type = g_new0 (guint8, b->limit);
  b->by_type = g_new0 (TypeStats, b->n_types);
  b->samples = g_array_new (FALSE, FALSE, sizeof (Sample));
  b->hist = g_new0 (guint32, HIST_MS);
  start_signers (b);
  if (!wait_presigned (b, error))
    return FALSE;
  GThread *sse = g_thread_new ("bench-events", sse_main, b);
  gboolean ok = sse_wait_connected (b, error);
  if (ok) {
    note (b, "submitting over %u connection%s to %u node%s", b->n_subs,
          b->n_subs > 1 ? "s" : "", b->n_urls, b->n_urls > 1 ? "s" : "");
    ok = submit_all (b, error);
    stop_signers (b);
    ok = ok && drain (b, error) && check_samples (b, client, error);
  }
  stop_signers (b);
  progress (b, "done", TRUE);
  read_node_stats (b);
  g_cancellable_cancel (b->sse_cancel);
  g_thread_join (sse);
  if (!ok)
    return FALSE;
  report (b);
  if (b->first_failure) {
    set_error (error, CAIRN_EXIT_FAILED,
               "a committed tx failed on chain (of the first %d of each type, "
               "checked): %s",
               SAMPLE, b->first_failure);
    return FALSE;
  }
  if (b->accepted == 0 || b->committed == 0) {
    set_error (error, CAIRN_EXIT_FAILED, "no tx was %s",
               b->accepted == 0 ? "accepted" : "committed");
    return FALSE;
  }
  return TRUE;
}

static void
bench_free (Bench *b)
{
  for (guint64 w = 0; b->ring && w < b->window; w++)
    g_free (b->ring[w].bytes);
  g_free (b->ring);
  g_free (b->signers);
  for (gint s = 0; b->senders && s < b->accounts; s++)
    g_clear_pointer (&b->senders[s], cairn_key_free);
  g_free (b->senders);
  g_free (b->base_nonce);
  for (guint i = 0; i < b->n_nodes; i++) {
    g_free (b->nodes[i].home);
    g_free (b->nodes[i].url);
    g_array_unref (b->nodes[i].rss);
    g_array_unref (b->nodes[i].anon);
  }
  g_free (b->nodes);
  g_strfreev (b->urls);
  g_clear_pointer (&b->pending, g_hash_table_unref);
  g_clear_pointer (&b->reasons, g_hash_table_unref);
  g_clear_pointer (&b->mix, bench_mix_free);
  g_free (b->by_type);
  if (b->samples)
    g_array_unref (b->samples);
  g_free (b->first_failure);
  g_free (b->hist);
  g_free (b->subs);
  g_free (b->start_us);
  g_free (b->commit_us);
  g_free (b->type);
  g_clear_error (&b->sign_error);
  g_clear_error (&b->sse_error);
  g_clear_error (&b->run_error);
  g_clear_object (&b->cancel);
  g_clear_object (&b->sse_cancel);
  g_mutex_clear (&b->lock);
  g_mutex_clear (&b->ring_lock);
  g_cond_clear (&b->cond);
  g_cond_clear (&b->ring_cond);
  g_free (b->sink);
  g_free (b->pad);
  g_free (b->tmp);
  g_free (b->net);
  g_free (b->chain_id);
  g_free (b->home);
  g_free (b->target);
  g_free (b->from);
  g_free (b->mix_spec);
}

int
cairn_cmd_bench (int argc, char **argv)
{
  Bench b = {
    .accounts = DEFAULT_ACCOUNTS,
    .connections = DEFAULT_CONNECTIONS,
    .submit_to = -1,
    .validators = -1, /* not given */
    .max_pending = -1,
  };
  const GOptionEntry entries[] = {
    { "validators", 0, 0, G_OPTION_ARG_INT, &b.validators,
      "Start a throwaway network of N pos validators (default: 1)", "N" },
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &b.home,
      "Drive the running node of DIR (funds senders from DIR/keys/admin.pem)",
      "DIR" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &b.target,
      "Drive the running node at URL (needs --from, or --home for keys)",
      "URL" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &b.from,
      "Funding key for --home/--target (default: admin)", "KEY" },
    { "txs", 0, 0, G_OPTION_ARG_INT, &b.txs,
      "Transactions to offer (default: 20000; with --duration: no limit, or "
      "rate x duration)",
      "N" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &b.duration,
      "Offer load for S seconds (default: 0 = until --txs are sent)", "S" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &b.rate,
      "Offered load in tx/s, open loop: tx i is due at t0 + i/R and its "
      "latency counts from then (default: 0 = as fast as the nodes answer; "
      "latency from the send)",
      "R" },
    { "connections", 0, 0, G_OPTION_ARG_INT, &b.connections,
      "Submitter threads, one keep-alive connection each, round-robin over "
      "the validators (default: 4)",
      "C" },
    { "submit-to", 0, 0, G_OPTION_ARG_INT, &b.submit_to,
      "Send all load to node I of the network (default: all, round-robin)",
      "I" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &b.batch,
      "Txs per POST /v1/txs; 1 = one tx object per request (default: 500; "
      "with --rate, 50 ms of one connection's share)",
      "B" },
    { "max-pending", 0, 0, G_OPTION_ARG_INT, &b.max_pending,
      "Hold back while this many accepted txs wait to commit; 0 = no limit "
      "(default: 10000 with --rate 0, none with a rate)",
      "P" },
    { "accounts", 0, 0, G_OPTION_ARG_INT, &b.accounts,
      "Sender accounts, round-robin (default: 64)", "K" },
    { "mix", 0, 0, G_OPTION_ARG_STRING, &b.mix_spec,
      "Tx types and weights: bank.transfer, services.publish, im.send, "
      "market.usage, e.g. bank.transfer=70,services.publish=10,"
      "market.usage=10,im.send=10 (default: bank.transfer=1)",
      "SPEC" },
    { "tx-size", 0, 0, G_OPTION_ARG_INT, &b.tx_size,
      "Pad each bank.transfer's memo so that every signed tx is exactly "
      "BYTES long (bank.transfer mix only)",
      "BYTES" },
    { "fill", 0, 0, G_OPTION_ARG_INT, &b.fill,
      "Before the measured run, grow the state by KEYS keys: KEYS transfers "
      "of 1 to fresh addresses, all committed (default: 0)",
      "KEYS" },
    { "fill-start", 0, 0, G_OPTION_ARG_INT64, &b.fill_start,
      "First fill key's index (the addresses are SHA-256(\"cairn bench fill "
      "I\")); successive fills of one network continue where the last "
      "ended (default: 0)",
      "I" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &b.json,
      "End the report with one line of JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      NULL, "Load generator and end-to-end benchmark.",
      "Without --home/--target it starts its own network (cairn testnet,\n"
      "same binary): --validators N nodes, all pos validators (also for 1),\n"
      "the senders funded in genesis, in a temp dir deleted at the end (also\n"
      "on errors and SIGINT/SIGTERM). Txs are signed ahead on all cores (all\n"
      "of them before the clock starts when they are counted, by --txs or\n"
      "by --rate with --duration, and fit in 1.5 GiB; otherwise a bounded\n"
      "window, and signing goes on during the run: signing_cpu_s).\n"
      "--connections threads submit open loop: with\n"
      "--rate R, tx i is due at t0 + i/R and a batch goes out when its last\n"
      "tx is due, whatever the earlier replies; latency counts from the due\n"
      "time (so a late submitter adds to it). With --rate 0 each connection\n"
      "sends as fast as its node answers while at most --max-pending\n"
      "accepted txs wait to commit (default 10000), latency from the send.\n"
      "A tx refused with mempool_full or sender_limit is resent.\n"
      "--mix TYPE=WEIGHT,...: bank.transfer; services.publish (a service\n"
      "digest: each sender is made a provider first); im.send (each sender\n"
      "registered at node0 and allowing strangers first); market.usage (a\n"
      "usage report per tx, for a fresh user: every sender an app node\n"
      "serving one service created first). services.feedback and\n"
      "metering.* are refused with the reason (not yet).\n"
      "--tx-size BYTES pads bank.transfer's memo (at most 16384 bytes) so\n"
      "that every signed tx is exactly BYTES long (tx_bytes, mb_per_s).\n"
      "--fill KEYS first grows the state by KEYS keys (transfers of 1 to\n"
      "fresh addresses SHA-256(\"cairn bench fill I\")[:20], I from\n"
      "--fill-start), all committed before the clock (fill_keys, fill_tps,\n"
      "fill_rss_mib).\n"
      "Setup txs commit before the clock starts.\n"
      "Reports committed tx/s (committed txs / first submit to last commit),\n"
      "submit-to-commit latency p50/p90/p99 (timed by node0's block events),\n"
      "rejections by reason and per type, each node's CPU seconds and RSS\n"
      "(sampled every second: peak, start, end, growth; the first 10% of the\n"
      "samples are warm-up, start and end are the means of the next and the\n"
      "last 10%), start-up time, signing CPU and the Ed25519\n"
      "verifications/s of this machine. Progress goes to stderr: a live line\n"
      "on a terminal, else a line every 5 s (none with --json).",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    bench_free (&b);
    return rc;
  }
  gboolean existing = b.home || b.target;
  b.txs_set = b.txs != 0;
  const char *bad
      = argc > 1                                               ? argv[1]
        : b.txs_set && (b.txs < 1 || b.txs > MAX_TXS)          ? "--txs"
        : b.accounts < 1 || b.accounts > MAX_ACCOUNTS          ? "--accounts"
        : b.batch < 0 || b.batch > MAX_BATCH                   ? "--batch"
        : !(b.rate >= 0) || isinf (b.rate)                     ? "--rate"
        : !(b.duration >= 0) || isinf (b.duration)             ? "--duration"
        : b.connections < 1 || b.connections > MAX_CONNECTIONS ? "--connections"
        : b.tx_size < 0 || b.tx_size > CAIRN_MAX_TX_BYTES      ? "--tx-size"
        : b.fill < 0 || b.fill > MAX_FILL                      ? "--fill"
        : b.fill_start < 0 || b.fill_start > G_MAXINT64 / 2    ? "--fill-start"
                                                               : NULL;
  if (bad) {
    bench_free (&b);
    if (argc > 1)
      return cairn_cli_usage ("unexpected argument '%s'", bad);
    return cairn_cli_usage (
        "%s out of range (txs 1..%d, accounts 1..%d, batch 1..%d, "
        "connections 1..%d, tx-size 0..%d, fill 0..%d, rate, duration, "
        "fill-start and max-pending >= 0)",
        bad, MAX_TXS, MAX_ACCOUNTS, MAX_BATCH, MAX_CONNECTIONS,
        CAIRN_MAX_TX_BYTES, MAX_FILL);
  }
  if (existing && (b.validators != -1 || b.submit_to >= 0)) {
    bench_free (&b);
    return cairn_cli_usage ("--%s starts its own network; it cannot go with "
                            "--home or --target (which drive a running node)",
                            b.validators != -1 ? "validators" : "submit-to");
  }
  if (b.target && !b.home && !b.from) {
    bench_free (&b);
    return cairn_cli_usage ("--target needs --from KEY.pem (a funded key) "
                            "or --home DIR (its admin key)");
  }
  if (!existing && b.validators == -1)
    b.validators = 1;
  if (!existing && (b.validators < 1 || b.validators > MAX_VALIDATORS)) {
    bench_free (&b);
    return cairn_cli_usage ("--validators must be 1..%d, not %d",
                            MAX_VALIDATORS, b.validators);
  }
  g_autoptr (GError) error = NULL;
  b.mix = bench_mix_parse (b.mix_spec, (guint)b.tx_size, &error);
  if (b.mix == NULL) {
    bench_free (&b);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  b.n_types = bench_mix_n (b.mix);
  if (existing && !bench_mix_plain (b.mix)) {
    bench_free (&b);
    return cairn_cli_usage ("--mix with services.publish, im.send or "
                            "market.usage needs the bench's own network (its "
                            "genesis gives the senders their roles); drop "
                            "--home/--target");
  }
  if (b.txs_set)
    b.limit = (guint64)b.txs;
  else if (b.duration > 0)
    b.limit = b.rate > 0 ? MIN ((guint64)ceil (b.rate * b.duration) + 1,
                                (guint64)MAX_TXS)
                         : MAX_TXS;
  else
    b.limit = DEFAULT_TXS;
  b.txs = (gint)b.limit;
  if ((guint64)b.accounts > b.limit)
    b.accounts = (gint)b.limit;
  if ((guint)b.accounts < bench_mix_min_accounts (b.mix)) {
    bench_free (&b);
    return cairn_cli_usage ("--mix with im.send needs --accounts and --txs "
                            "of at least 2 (each sender writes to another)");
  }
  b.n_subs = MIN ((guint)b.connections, (guint)b.accounts);
  if (b.batch == 0)
    b.batch = b.rate > 0
                  ? CLAMP ((gint)(b.rate / b.n_subs / 20), 1, DEFAULT_BATCH)
                  : DEFAULT_BATCH;
  if (b.max_pending == -1)
    b.max_pending = b.rate > 0 ? 0 : DEFAULT_PENDING;
  /* A batch is one request body: "[" tx "," tx ... "]". */
  if (b.tx_size > 0
      && (guint64)b.batch * (guint64)(b.tx_size + 1) + 1
             > CAIRN_HTTP_MAX_BODY) {
    gint fit = (gint)((CAIRN_HTTP_MAX_BODY - 1) / (guint64)(b.tx_size + 1));
    bench_free (&b);
    return cairn_cli_usage (
        "--batch %d of %d-byte txs is over the node's default [http] "
        "max_body_bytes (%u bytes) per request; use --batch %d or fewer",
        b.batch, b.tx_size, CAIRN_HTTP_MAX_BODY, fit);
  }
  if (!existing) {
    if (b.submit_to >= b.validators || b.submit_to < -1) {
      bench_free (&b);
      return cairn_cli_usage ("--submit-to must be 0..%d (a node of the "
                              "network)",
                              b.validators - 1);
    }
  }

  g_mutex_init (&b.lock);
  g_mutex_init (&b.ring_lock);
  g_cond_init (&b.cond);
  g_cond_init (&b.ring_cond);
  b.cancel = g_cancellable_new ();
  b.sse_cancel = g_cancellable_new ();
  b.reasons = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.pending = g_hash_table_new (g_direct_hash, g_direct_equal);
  b.progress = isatty (STDERR_FILENO);
  b.plain = !b.progress && !b.json;

  SignalWatch watch;
  signal_watch_start (&watch, &b);
  gboolean ok = run (&b, &error);
  progress_clear (&b);
  if (!ok && b.net && !interrupted (&b)) {
    g_autoptr (GError) dead = NULL;
    if (!nodes_alive (&b, &dead)) {
      /* A node died under us: that is the story, not the HTTP error. */
      g_clear_error (&error);
      error = g_steal_pointer (&dead);
    }
  }

  /* Cleanup runs on every path: the nodes first, then their files. */
  g_autoptr (GError) stop_error = NULL;
  if (b.net && g_file_test (b.net, G_FILE_TEST_IS_DIR)
      && !cairn_testnet_stop (b.net, TRUE, &stop_error))
    cairn_cli_printerr ("%s", stop_error->message);
  g_autoptr (GError) rm_error = NULL;
  if (b.tmp && !cairn_cli_remove_tree (b.tmp, &rm_error))
    cairn_cli_printerr ("%s", rm_error->message);
  signal_watch_stop (&watch);

  rc = ok ? CAIRN_EXIT_OK : cairn_cli_fail (g_steal_pointer (&error));
  bench_free (&b);
  return rc;
}

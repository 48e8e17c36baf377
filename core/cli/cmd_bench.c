/* cairn bench: the end-to-end benchmark.
 *
 * By default it builds a throwaway home in a temp dir (like `cairn init`,
 * with K extra sender accounts funded in genesis), starts `cairn node` from
 * the same binary as a child process on a free loopback port, pre-signs N
 * bank.transfer txs round-robin over the senders (on a thread pool), then
 * submits them in batches over one keep-alive connection, open-loop at R
 * tx/s, while a second thread follows the node's block events (SSE) to time
 * each tx from submit to commit. --home DIR or --target URL bench a node
 * that is already running instead; the senders are then funded by
 * transfers from the admin key (DIR/keys/admin.pem or --from KEY).
 *
 * The report: committed tx/s (committed txs / time from the first submit to
 * the last commit), latency percentiles, rejections by reason, the node's
 * CPU seconds and peak RSS (child node only) and the machine's Ed25519
 * verification ceiling. With --json the last line of stdout is one JSON
 * object. The child node and the temp dir are removed at the end, also on
 * errors and on SIGINT/SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "cli.h"
#include "tx.h"

#define DEFAULT_TXS 20000
#define DEFAULT_ACCOUNTS 64
#define DEFAULT_BATCH 500
#define MAX_TXS 10000000 /* [mempool] max_txs's upper bound */
#define MAX_ACCOUNTS 100000
#define MAX_BATCH 10000
#define SENDER_BALANCE INT64_C (1000000000)
#define DENOM "cairn"
#define DRAIN_IDLE_S 30 /* give up when nothing commits for this long */
#define STARTUP_S 60    /* wait this long for the node's API */
#define STOP_GRACE_S 15 /* SIGTERM, then SIGKILL after this */
#define FUND_CHUNK 512  /* admin txs per funding round (nonce gap 1024) */
#define VERIFY_SET 1024 /* distinct signatures for the verify ceiling */

typedef enum { SSE_CONNECTING, SSE_CONNECTED, SSE_ENDED } SseState;

typedef struct {
  /* options */
  char *home;
  char *target;
  char *from;
  gint txs;
  gint accounts;
  gint batch;
  double rate;
  double duration;
  gboolean json;

  gint interrupted;     /* atomic: SIGINT/SIGTERM seen */
  GCancellable *cancel; /* main thread's HTTP */
  GCancellable *sse_cancel;
  gboolean progress; /* stderr is a tty */
  gint64 last_progress_us;

  /* the child node (default mode) */
  char *tmp;
  char *log_path;
  GPid pid;
  char *url;
  char *chain_id;

  /* senders and txs */
  CairnKey **senders;
  uint64_t *base_nonce;
  char *sink; /* recipient when there is one sender */
  CairnTx **tx;
  GHashTable *by_id; /* id_hex → index + 1 */
  gint64 *submit_us;
  gint64 *commit_us; /* written by the SSE thread only */
  GMutex sign_lock;
  GError *sign_error;

  /* shared with the SSE thread, under lock */
  GMutex lock;
  GCond cond;
  SseState sse_state;
  GError *sse_error;
  guint committed;
  gint64 last_commit_us;
  guint64 last_height;

  /* submission (main thread) */
  gint64 first_submit_us;
  gint64 submit_end_us;
  guint submitted;
  guint accepted;
  guint rejected;
  guint retries;
  GHashTable *reasons; /* code → count */

  /* results */
  double verify_per_s;
  guint verify_threads;
  double cpu_s; /* < 0: unknown */
  double rss_mib;
  double startup_ms;   /* spawn to the API answering */
  double idle_rss_mib; /* RSS right after start, before any load */
} Bench;

static gboolean
interrupted (Bench *b)
{
  return g_atomic_int_get (&b->interrupted) != 0;
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

/* ---- progress line (stderr, only on a tty) ---- */

static void
progress (Bench *b, const char *phase, gboolean force)
{
  if (!b->progress)
    return;
  gint64 now = g_get_monotonic_time ();
  if (!force && now - b->last_progress_us < 200000)
    return;
  b->last_progress_us = now;
  g_mutex_lock (&b->lock);
  guint committed = b->committed;
  g_mutex_unlock (&b->lock);
  double t = b->first_submit_us ? (now - b->first_submit_us) / 1e6 : 0;
  g_printerr ("\r\033[K%s: submitted %u/%d  accepted %u  rejected %u  "
              "committed %u  %.1f s",
              phase, b->submitted, b->txs, b->accepted, b->rejected, committed,
              t);
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

/* ---- the child node ---- */

static void
child_setup (gpointer unused)
{
  /* Our own group (a terminal's ^C reaches only the bench, which stops the
   * node in order) and no orphan if the bench dies. */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
print_log_tail (Bench *b)
{
  g_autofree char *text = NULL;
  if (b->log_path == NULL
      || !g_file_get_contents (b->log_path, &text, NULL, NULL))
    return;
  g_strstrip (text);
  if (*text == '\0')
    return;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);
  guint first = n > 20 ? n - 20 : 0;
  progress_clear (b);
  g_printerr ("bench: last lines of the node's log (%s):\n", b->log_path);
  for (guint i = first; i < n; i++)
    if (*lines[i])
      g_printerr ("  | %s\n", lines[i]);
}

/* TRUE while the child runs; reaps it (pid = 0) when it has exited. */
static gboolean
child_alive (Bench *b, int *status)
{
  if (b->pid <= 0)
    return FALSE;
  int st = 0;
  pid_t r = waitpid (b->pid, &st, WNOHANG);
  if (r == 0)
    return TRUE;
  if (status)
    *status = st;
  b->pid = 0;
  return FALSE;
}

static char *
describe_status (int st)
{
  if (WIFEXITED (st))
    return g_strdup_printf ("exited with status %d", WEXITSTATUS (st));
  if (WIFSIGNALED (st))
    return g_strdup_printf ("was killed by signal %d (%s)", WTERMSIG (st),
                            g_strsignal (WTERMSIG (st)));
  return g_strdup_printf ("ended (wait status 0x%x)", st);
}

static gboolean
spawn_node (Bench *b, const char *home, const char *listen, GError **error)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", error);
  if (exe == NULL)
    return FALSE;
  int fd = open (b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    set_error (error, CAIRN_EXIT_FAILED, "cannot create %s: %s", b->log_path,
               g_strerror (err));
    return FALSE;
  }
  const char *argv[]
      = { exe, "node", "--home", home, "--listen", listen, NULL };
  gboolean ok = g_spawn_async_with_pipes_and_fds (
      NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
      child_setup, NULL, -1, fd, fd, NULL, NULL, 0, &b->pid, NULL, NULL, NULL,
      error);
  close (fd);
  return ok;
}

/* Poll the child's /v1/status until it answers; fails when it exits. */
static gboolean
wait_for_api (Bench *b, GError **error)
{
  g_autoptr (CairnClient) probe = cairn_client_new (b->url, 2, error);
  if (probe == NULL)
    return FALSE;
  cairn_client_set_cancellable (probe, b->cancel);
  gint64 deadline = g_get_monotonic_time () + STARTUP_S * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (GError) local = NULL;
    g_autofree char *chain_id = cairn_client_chain_id (probe, &local);
    if (chain_id) {
      g_free (b->chain_id);
      b->chain_id = g_steal_pointer (&chain_id);
      return TRUE;
    }
    if (!check_interrupt (b, error))
      return FALSE;
    int st = 0;
    if (!child_alive (b, &st)) {
      g_autofree char *how = describe_status (st);
      set_error (error, CAIRN_EXIT_FAILED,
                 "the node %s before its API at %s "
                 "answered",
                 how, b->url);
      return FALSE;
    }
    if (!g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_UNREACHABLE)
        || g_get_monotonic_time () > deadline) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "waiting for the node's API: ");
      return FALSE;
    }
    g_usleep (5000);
  }
}

static double
read_rss_mib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int)pid);
  g_autofree char *text = NULL;
  const char *rss;
  if (!g_file_get_contents (path, &text, NULL, NULL)
      || (rss = strstr (text, "VmRSS:")) == NULL)
    return -1;
  return g_ascii_strtod (rss + 6, NULL) / 1024.0;
}

static gboolean
log_says_port_busy (Bench *b)
{
  g_autofree char *text = NULL;
  return g_file_get_contents (b->log_path, &text, NULL, NULL)
         && strstr (text, "in use") != NULL;
}

static gboolean
write_bench_config (Bench *b, const char *home, GError **error)
{
  gint per_sender = (b->txs + b->accounts - 1) / b->accounts;
  gint64 max_txs = MAX (200000, (gint64)b->txs + 1000);
  gint64 max_mib = MAX (256, (gint64)b->txs / 1024 + 1);
  gint64 gap = MAX (1024, per_sender + 1);
  g_autofree char *text = g_strdup_printf (
      "# Written by cairn bench: room for every tx in the mempool.\n"
      "[node]\nlog_level = warning\n\n"
      "[mempool]\nmax_txs = %" G_GINT64_FORMAT "\nmax_bytes = %" G_GINT64_FORMAT
      "MiB\nmax_nonce_gap = %" G_GINT64_FORMAT "\n",
      MIN (max_txs, MAX_TXS), max_mib, MIN (gap, 1 << 20));
  g_autofree char *path
      = g_build_filename (home, "conf.d", "99-bench.conf", NULL);
  return g_file_set_contents (path, text, -1, error);
}

static gboolean
start_local_node (Bench *b, GError **error)
{
  b->tmp = g_dir_make_tmp ("cairn-bench-XXXXXX", error);
  if (b->tmp == NULL)
    return FALSE;
  g_autofree char *home = g_build_filename (b->tmp, "home", NULL);
  b->log_path = g_build_filename (b->tmp, "node.log", NULL);

  g_autoptr (GPtrArray) funded = g_ptr_array_new ();
  for (gint s = 0; s < b->accounts; s++)
    g_ptr_array_add (funded, (gpointer)cairn_key_address (b->senders[s]));
  g_ptr_array_add (funded, NULL);
  CairnInitSpec spec = {
    .home = home,
    .chain_id = "bench",
    .profile = "dev",
    .funded = (const char *const *)funded->pdata,
    .funded_balance = SENDER_BALANCE,
  };
  if (!cairn_cli_init_home (&spec, NULL, NULL, error)
      || !write_bench_config (b, home, error))
    return FALSE;

  for (guint attempt = 0;; attempt++) {
    guint16 port = 0;
    if (!cairn_cli_free_port (&port, error))
      return FALSE;
    g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
    g_free (b->url);
    b->url = g_strdup_printf ("http://%s", listen);
    note (b, "starting a node in %s on %s", b->tmp, listen);
    gint64 t0 = g_get_monotonic_time ();
    if (!spawn_node (b, home, listen, error))
      return FALSE;
    g_autoptr (GError) local = NULL;
    if (wait_for_api (b, &local)) {
      b->startup_ms = (g_get_monotonic_time () - t0) / 1000.0;
      b->idle_rss_mib = read_rss_mib (b->pid);
      return TRUE;
    }
    /* Another process may have taken the port between probe and bind. */
    if (b->pid == 0 && attempt < 2 && log_says_port_busy (b))
      continue;
    print_log_tail (b);
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
}

/* Read the child's CPU time and peak RSS while it still runs. */
static void
read_node_stats (Bench *b)
{
  b->cpu_s = -1;
  b->rss_mib = -1;
  if (b->pid <= 0)
    return;
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int)b->pid);
  g_autofree char *stat = NULL;
  if (g_file_get_contents (stat_path, &stat, NULL, NULL)) {
    /* Fields after "(comm)": state is field 3, utime 14, stime 15. */
    const char *rest = strrchr (stat, ')');
    g_auto (GStrv) f = rest ? g_strsplit (rest + 2, " ", -1) : NULL;
    if (f && g_strv_length (f) > 12) {
      double ticks = (double)sysconf (_SC_CLK_TCK);
      b->cpu_s = (g_ascii_strtod (f[11], NULL) + g_ascii_strtod (f[12], NULL))
                 / ticks;
    }
  }
  g_autofree char *status_path
      = g_strdup_printf ("/proc/%d/status", (int)b->pid);
  g_autofree char *status = NULL;
  if (g_file_get_contents (status_path, &status, NULL, NULL)) {
    const char *hwm = strstr (status, "VmHWM:");
    if (hwm)
      b->rss_mib = g_ascii_strtod (hwm + 6, NULL) / 1024.0;
  }
}

/* SIGTERM, a grace period, then SIGKILL; always reaps. Returns FALSE when
 * the node did not exit cleanly. */
static gboolean
stop_node (Bench *b, GError **error)
{
  if (b->pid <= 0)
    return TRUE;
  kill (b->pid, SIGTERM);
  gint64 deadline = g_get_monotonic_time () + STOP_GRACE_S * G_USEC_PER_SEC;
  int st = 0;
  while (child_alive (b, &st) && g_get_monotonic_time () < deadline)
    g_usleep (20000);
  if (b->pid > 0) {
    kill (b->pid, SIGKILL);
    waitpid (b->pid, &st, 0);
    b->pid = 0;
    set_error (error, CAIRN_EXIT_FAILED,
               "the node did not stop within %d s of SIGTERM (killed)",
               STOP_GRACE_S);
    return FALSE;
  }
  if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return TRUE;
  g_autofree char *how = describe_status (st);
  set_error (error, CAIRN_EXIT_FAILED, "the node %s on SIGTERM", how);
  return FALSE;
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

static CairnTx *
sign_transfer (Bench *b, const CairnKey *key, const char *to, int64_t amount,
               uint64_t nonce, GError **error)
{
  g_autoptr (json_t) body = json_pack ("{s:s, s:s, s:I}", "to", to, "denom",
                                       DENOM, "amount", (json_int_t)amount);
  return cairn_tx_sign (key, b->chain_id, "bank.transfer", nonce, body, error);
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
  int64_t amount = (b->txs / b->accounts + 2) * 1 + 1000;
  note (b, "funding %d senders with %" G_GINT64_FORMAT " %s each from %s",
        b->accounts, amount, DENOM, cairn_key_address (admin));
  for (gint first = 0; first < b->accounts; first += FUND_CHUNK) {
    gint last = MIN (first + FUND_CHUNK, b->accounts);
    g_autoptr (GPtrArray) txs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    g_autoptr (GString) body = g_string_new ("[");
    for (gint s = first; s < last; s++) {
      CairnTx *tx = sign_transfer (b, admin, cairn_key_address (b->senders[s]),
                                   amount, nonce++, error);
      if (tx == NULL)
        return FALSE;
      g_ptr_array_add (txs, tx);
      g_string_append_printf (body, "%s%s", s > first ? "," : "", tx->bytes);
    }
    g_string_append_c (body, ']');
    g_autoptr (json_t) reply
        = cairn_client_post (client, "/v1/txs", body->str, body->len, error);
    if (reply == NULL)
      return FALSE;
    json_t *results = json_object_get (reply, "results");
    for (guint i = 0; i < txs->len; i++) {
      json_t *err = json_object_get (json_array_get (results, i), "error");
      if (err) {
        g_autofree char *text = cairn_cli_json_text (err);
        set_error (error, CAIRN_EXIT_FAILED,
                   "funding tx %u refused by the node: %s", i, text);
        return FALSE;
      }
    }
    for (guint i = 0; i < txs->len; i++) {
      CairnTx *tx = txs->pdata[i];
      g_autoptr (json_t) done
          = cairn_client_wait_tx (client, tx->id_hex, 60, error);
      g_autofree char *why = NULL;
      if (done == NULL)
        return FALSE;
      if (!cairn_client_tx_result_ok (done, &why)) {
        set_error (error, CAIRN_EXIT_FAILED, "funding tx %s failed: %s",
                   tx->id_hex, why);
        return FALSE;
      }
    }
  }
  return TRUE;
}

static void
sign_sender (gpointer data, gpointer user_data)
{
  Bench *b = user_data;
  gint s = GPOINTER_TO_INT (data) - 1;
  const CairnKey *key = b->senders[s];
  g_autoptr (json_t) body = json_pack (
      "{s:s, s:s, s:i}", "to", recipient (b, s), "denom", DENOM, "amount", 1);
  uint64_t nonce = b->base_nonce[s];
  for (gint i = s; i < b->txs && !interrupted (b); i += b->accounts) {
    GError *err = NULL;
    b->tx[i] = cairn_tx_sign (key, b->chain_id, "bank.transfer", nonce++, body,
                              &err);
    if (b->tx[i] == NULL) {
      g_mutex_lock (&b->sign_lock);
      if (b->sign_error == NULL)
        b->sign_error = err;
      else
        g_error_free (err);
      g_mutex_unlock (&b->sign_lock);
      return;
    }
  }
}

static gboolean
sign_all (Bench *b, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  b->tx = g_new0 (CairnTx *, b->txs);
  guint threads = MAX (1u, g_get_num_processors ());
  GThreadPool *pool
      = g_thread_pool_new (sign_sender, b, (gint)threads, FALSE, error);
  if (pool == NULL)
    return FALSE;
  for (gint s = 0; s < b->accounts; s++)
    if (!g_thread_pool_push (pool, GINT_TO_POINTER (s + 1), error)) {
      g_thread_pool_free (pool, TRUE, TRUE);
      return FALSE;
    }
  g_thread_pool_free (pool, FALSE, TRUE);
  if (b->sign_error) {
    g_propagate_prefixed_error (error, g_steal_pointer (&b->sign_error),
                                "signing a bank.transfer: ");
    return FALSE;
  }
  if (!check_interrupt (b, error))
    return FALSE;
  b->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  for (gint i = 0; i < b->txs; i++)
    g_hash_table_insert (b->by_id, b->tx[i]->id_hex, GINT_TO_POINTER (i + 1));
  note (b, "signed %d txs on %u threads in %.2f s", b->txs, threads,
        (g_get_monotonic_time () - start) / 1e6);
  return TRUE;
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
  json_array_foreach (json_object_get (attrs, "txs"), i, id)
  {
    const char *hex = json_string_value (id);
    gint idx = hex ? GPOINTER_TO_INT (g_hash_table_lookup (b->by_id, hex)) : 0;
    if (idx > 0 && b->commit_us[idx - 1] == 0) {
      b->commit_us[idx - 1] = now;
      n++;
    }
  }
  json_t *height = json_object_get (attrs, "height");
  if (height == NULL)
    height = json_object_get (obj, "height");
  g_mutex_lock (&b->lock);
  b->committed += n;
  if (n)
    b->last_commit_us = now;
  if (json_is_integer (height))
    b->last_height = (guint64)json_integer_value (height);
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
    g_autoptr (CairnClient) client = cairn_client_new (b->url, 0, &error);
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

/* ---- submission ---- */

static void
count_reject (Bench *b, const char *code)
{
  b->rejected++;
  gpointer old = g_hash_table_lookup (b->reasons, code);
  g_hash_table_replace (b->reasons, g_strdup (code),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

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

/* Submit txs [first, last); a tx refused with mempool_full is sent again
 * (in order) after a pause, until the node takes it or DRAIN_IDLE_S pass
 * without progress. */
static gboolean
submit_range (Bench *b, CairnClient *client, gint first, gint last,
              GError **error)
{
  g_autoptr (GArray) pending = g_array_new (FALSE, FALSE, sizeof (gint));
  for (gint i = first; i < last; i++)
    g_array_append_val (pending, i);
  b->submitted += last - first;
  gint64 stuck_since = 0;
  while (pending->len > 0) {
    g_autoptr (GString) body = g_string_sized_new (pending->len * 400);
    g_string_append_c (body, '[');
    for (guint k = 0; k < pending->len; k++) {
      CairnTx *tx = b->tx[g_array_index (pending, gint, k)];
      if (k)
        g_string_append_c (body, ',');
      g_string_append_len (body, tx->bytes, tx->len);
    }
    g_string_append_c (body, ']');
    gint64 now = g_get_monotonic_time ();
    if (b->first_submit_us == 0)
      b->first_submit_us = now;
    for (guint k = 0; k < pending->len; k++)
      b->submit_us[g_array_index (pending, gint, k)] = now;
    guint status = 0;
    g_autoptr (json_t) reply = cairn_client_call (
        client, "POST", "/v1/txs", body->str, body->len, &status, error);
    if (reply == NULL)
      return FALSE;
    json_t *results = json_object_get (reply, "results");
    g_autoptr (GArray) retry = g_array_new (FALSE, FALSE, sizeof (gint));
    guint took = 0;
    for (guint k = 0; k < pending->len; k++) {
      gint i = g_array_index (pending, gint, k);
      json_t *r = json_array_get (results, k);
      char buf[32];
      const char *code = NULL;
      if (status != 200 || r == NULL)
        code = error_code (reply, status, buf); /* the whole batch failed */
      else if (json_object_get (r, "error"))
        code = error_code (r, status, buf);
      if (code == NULL) {
        b->accepted++;
        took++;
      } else if (g_str_equal (code, "mempool_full"))
        g_array_append_val (retry, i);
      else {
        b->submit_us[i] = 0;
        count_reject (b, code);
      }
    }
    if (retry->len == 0)
      return TRUE;
    now = g_get_monotonic_time ();
    if (took > 0 || stuck_since == 0)
      stuck_since = now;
    if (now - stuck_since > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      for (guint k = 0; k < retry->len; k++) {
        b->submit_us[g_array_index (retry, gint, k)] = 0;
        count_reject (b, "mempool_full");
      }
      return TRUE;
    }
    b->retries++;
    g_array_set_size (pending, 0);
    g_array_append_vals (pending, retry->data, retry->len);
    progress (b, "submitting", FALSE);
    g_usleep (20000);
    if (!check_interrupt (b, error))
      return FALSE;
  }
  return TRUE;
}

static void
sleep_until (Bench *b, gint64 due)
{
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    if (now >= due || interrupted (b))
      return;
    progress (b, "submitting", FALSE);
    g_usleep (MIN (due - now, 50000));
  }
}

static gboolean
submit_all (Bench *b, CairnClient *client, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  for (gint first = 0; first < b->txs; first += b->batch) {
    if (b->rate > 0)
      sleep_until (b, t0 + (gint64)(first / b->rate * G_USEC_PER_SEC));
    if (!check_interrupt (b, error))
      return FALSE;
    if (b->duration > 0
        && g_get_monotonic_time () - t0 > b->duration * G_USEC_PER_SEC) {
      note (b, "--duration %.1f s reached after %u of %d txs", b->duration,
            b->submitted, b->txs);
      break;
    }
    if (!submit_range (b, client, first, MIN (first + b->batch, b->txs), error))
      return FALSE;
    progress (b, "submitting", FALSE);
  }
  b->submit_end_us = g_get_monotonic_time ();
  return TRUE;
}

/* Wait until every accepted tx committed, or nothing commits for
 * DRAIN_IDLE_S, or the stream or the node ends. */
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
      guint missing = b->accepted - b->committed;
      g_mutex_unlock (&b->lock);
      note (b, "%u accepted txs not committed after %d s without progress",
            missing, DRAIN_IDLE_S);
      return TRUE;
    }
    g_cond_wait_until (&b->cond, &b->lock, now + 100000);
    g_mutex_unlock (&b->lock);
    if (b->tmp && !child_alive (b, NULL)) {
      set_error (error, CAIRN_EXIT_FAILED, "the node exited during the run");
      return FALSE;
    }
    progress (b, "committing", FALSE);
    g_mutex_lock (&b->lock);
  }
  g_mutex_unlock (&b->lock);
  return TRUE;
}

/* ---- report ---- */

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

static void
report (Bench *b)
{
  g_autoptr (GArray) lat = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 last_commit = 0;
  for (gint i = 0; i < b->txs; i++) {
    if (b->commit_us[i] == 0)
      continue;
    last_commit = MAX (last_commit, b->commit_us[i]);
    if (b->submit_us[i] > 0) {
      double ms = MAX (0, b->commit_us[i] - b->submit_us[i]) / 1000.0;
      g_array_append_val (lat, ms);
    }
  }
  g_array_sort (lat, compare_double);
  guint committed = lat->len;
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

  g_autofree char *rate = b->rate > 0 ? g_strdup_printf ("%.0f tx/s", b->rate)
                                      : g_strdup ("unlimited");
  progress_clear (b);
  g_print ("cairn bench: %d txs from %d accounts, batch %d, rate %s, "
           "node %s\n",
           b->txs, b->accounts, b->batch, rate, b->url);
  cairn_cli_print_field ("committed", "%u of %u accepted in %.3f s = %.1f tx/s",
                         committed, b->accepted, duration, tps);
  cairn_cli_print_field ("latency", "p50 %.1f ms  p90 %.1f ms  p99 %.1f ms",
                         p50, p90, p99);
  if (b->rejected)
    cairn_cli_print_field ("rejected", "%u %s", b->rejected, reason_text);
  else
    cairn_cli_print_field ("rejected", "0");
  if (b->retries)
    cairn_cli_print_field ("retries", "%u batches resent after mempool_full",
                           b->retries);
  if (b->cpu_s >= 0)
    cairn_cli_print_field ("node", "cpu %.2f s, peak RSS %.1f MiB", b->cpu_s,
                           b->rss_mib);
  else
    cairn_cli_print_field ("node", "cpu and RSS unknown (not our child)");
  if (b->startup_ms > 0)
    cairn_cli_print_field ("startup",
                           "%.1f ms to a serving API, idle RSS "
                           "%.1f MiB",
                           b->startup_ms, b->idle_rss_mib);
  cairn_cli_print_field ("ed25519", "%.0f verifications/s on %u threads",
                         b->verify_per_s, b->verify_threads);
  if (!b->json)
    return;
  g_autoptr (json_t) out = json_object ();
  json_object_set_new (out, "committed_tps", json_real (round3 (tps)));
  json_object_set_new (out, "p50_ms", json_real (round3 (p50)));
  json_object_set_new (out, "p90_ms", json_real (round3 (p90)));
  json_object_set_new (out, "p99_ms", json_real (round3 (p99)));
  json_object_set_new (out, "rejected", json_integer (b->rejected));
  json_object_set_new (out, "rejected_by_reason", json_incref (reasons));
  json_object_set_new (out, "rss_mib", num_or_null (b->rss_mib));
  json_object_set_new (out, "cpu_s", num_or_null (b->cpu_s));
  json_object_set_new (out, "startup_ms",
                       b->startup_ms > 0 ? json_real (round3 (b->startup_ms))
                                         : json_null ());
  json_object_set_new (out, "idle_rss_mib",
                       b->startup_ms > 0 ? num_or_null (b->idle_rss_mib)
                                         : json_null ());
  json_object_set_new (out, "txs", json_integer (b->txs));
  json_object_set_new (out, "submitted", json_integer (b->submitted));
  json_object_set_new (out, "accepted", json_integer (b->accepted));
  json_object_set_new (out, "committed", json_integer (committed));
  json_object_set_new (out, "duration_s", json_real (round3 (duration)));
  json_object_set_new (out, "accounts", json_integer (b->accounts));
  json_object_set_new (out, "batch", json_integer (b->batch));
  json_object_set_new (out, "rate", json_real (b->rate));
  json_object_set_new (out, "retries", json_integer (b->retries));
  json_object_set_new (out, "ed25519_verify_per_s",
                       json_real (round (b->verify_per_s)));
  json_object_set_new (out, "threads", json_integer (b->verify_threads));
  cairn_cli_print_json_line (out);
}

/* ---- the run ---- */

static gboolean
run (Bench *b, GError **error)
{
  note (b, "measuring the Ed25519 verification ceiling (1 s)");
  if (!measure_verify (b, error) || !make_senders (b, error))
    return FALSE;

  g_autoptr (CairnKey) admin = NULL;
  if (b->home == NULL && b->target == NULL) {
    if (!start_local_node (b, error))
      return FALSE;
  } else {
    b->url = cairn_client_url_for (b->home, b->target, error);
    if (b->url == NULL)
      return FALSE;
    admin = cairn_cli_load_key (b->home, b->from ? b->from : "admin", NULL,
                                error);
    if (admin == NULL)
      return FALSE;
    g_autoptr (CairnClient) probe = cairn_client_new (b->url, 10, error);
    if (probe == NULL
        || (b->chain_id = cairn_client_chain_id (probe, error)) == NULL)
      return FALSE;
  }
  g_autoptr (CairnClient) client = cairn_client_new (b->url, 60, error);
  if (client == NULL)
    return FALSE;
  cairn_client_set_cancellable (client, b->cancel);
  if (admin && !fund_senders (b, client, admin, error))
    return FALSE;
  for (gint s = 0; s < b->accounts; s++)
    if (!cairn_client_next_nonce (client, cairn_key_address (b->senders[s]),
                                  &b->base_nonce[s], error))
      return FALSE;
  note (b, "signing %d bank.transfer txs", b->txs);
  if (!sign_all (b, error))
    return FALSE;

  b->submit_us = g_new0 (gint64, b->txs);
  b->commit_us = g_new0 (gint64, b->txs);
  GThread *sse = g_thread_new ("bench-events", sse_main, b);
  gboolean ok = sse_wait_connected (b, error);
  if (ok) {
    note (b, "submitting to %s", b->url);
    ok = submit_all (b, client, error) && drain (b, error);
  }
  progress (b, "done", TRUE);
  read_node_stats (b);
  g_cancellable_cancel (b->sse_cancel);
  g_thread_join (sse);
  if (!ok)
    return FALSE;
  report (b);
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
  for (gint i = 0; b->tx && i < b->txs; i++)
    if (b->tx[i])
      cairn_tx_unref (b->tx[i]);
  g_free (b->tx);
  for (gint s = 0; b->senders && s < b->accounts; s++)
    g_clear_pointer (&b->senders[s], cairn_key_free);
  g_free (b->senders);
  g_free (b->base_nonce);
  g_clear_pointer (&b->by_id, g_hash_table_unref);
  g_clear_pointer (&b->reasons, g_hash_table_unref);
  g_free (b->submit_us);
  g_free (b->commit_us);
  g_clear_error (&b->sign_error);
  g_clear_error (&b->sse_error);
  g_clear_object (&b->cancel);
  g_clear_object (&b->sse_cancel);
  g_mutex_clear (&b->lock);
  g_mutex_clear (&b->sign_lock);
  g_cond_clear (&b->cond);
  g_free (b->sink);
  g_free (b->tmp);
  g_free (b->log_path);
  g_free (b->url);
  g_free (b->chain_id);
  g_free (b->home);
  g_free (b->target);
  g_free (b->from);
}

int
cairn_cmd_bench (int argc, char **argv)
{
  Bench b = {
    .txs = DEFAULT_TXS,
    .accounts = DEFAULT_ACCOUNTS,
    .batch = DEFAULT_BATCH,
  };
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &b.home,
      "Bench the running node of DIR (funds senders from DIR/keys/admin.pem)",
      "DIR" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &b.target,
      "Bench the running node at URL (needs --from, or --home for keys)",
      "URL" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &b.from,
      "Funding key for --home/--target (default: admin)", "KEY" },
    { "txs", 0, 0, G_OPTION_ARG_INT, &b.txs,
      "Transactions to send (default: 20000)", "N" },
    { "accounts", 0, 0, G_OPTION_ARG_INT, &b.accounts,
      "Sender accounts, round-robin (default: 64)", "K" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &b.rate,
      "Offered load in tx/s, open loop (default: 0 = as fast as accepted)",
      "R" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &b.batch,
      "Txs per POST /v1/txs (default: 500)", "B" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &b.duration,
      "Stop submitting after S seconds (default: 0 = send all N)", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &b.json,
      "End the report with one line of JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      NULL, "End-to-end benchmark: sign, submit and commit bank.transfer txs.",
      "Without --home/--target it starts its own node (same binary) on a free\n"
      "loopback port in a temp dir, which is deleted at the end.\n"
      "Reports committed tx/s (committed txs / first submit to last commit),\n"
      "submit-to-commit latency p50/p90/p99, rejections by reason, the node's\n"
      "CPU seconds and peak RSS, and the Ed25519 verifications/s of this\n"
      "machine on all cores. Progress goes to stderr when it is a terminal.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    bench_free (&b);
    return rc;
  }
  const char *bad = argc > 1                                      ? argv[1]
                    : b.txs < 1 || b.txs > MAX_TXS                ? "--txs"
                    : b.accounts < 1 || b.accounts > MAX_ACCOUNTS ? "--accounts"
                    : b.batch < 1 || b.batch > MAX_BATCH          ? "--batch"
                    : !(b.rate >= 0) || isinf (b.rate)            ? "--rate"
                    : !(b.duration >= 0) || isinf (b.duration)    ? "--duration"
                    : b.target && !b.home && !b.from              ? "--from"
                                                                  : NULL;
  if (bad) {
    bench_free (&b);
    if (argc > 1)
      return cairn_cli_usage ("unexpected argument '%s'", bad);
    if (g_str_equal (bad, "--from"))
      return cairn_cli_usage ("--target needs --from KEY.pem (a funded key) "
                              "or --home DIR (its admin key)");
    return cairn_cli_usage (
        "%s out of range (txs 1..%d, accounts 1..%d, batch 1..%d, rate and "
        "duration >= 0)",
        bad, MAX_TXS, MAX_ACCOUNTS, MAX_BATCH);
  }
  if (b.accounts > b.txs)
    b.accounts = b.txs;

  g_mutex_init (&b.lock);
  g_mutex_init (&b.sign_lock);
  g_cond_init (&b.cond);
  b.cancel = g_cancellable_new ();
  b.sse_cancel = g_cancellable_new ();
  b.reasons = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.progress = isatty (STDERR_FILENO);
  b.cpu_s = -1;
  b.rss_mib = -1;

  SignalWatch watch;
  signal_watch_start (&watch, &b);
  g_autoptr (GError) error = NULL;
  gboolean ok = run (&b, &error);
  progress_clear (&b);
  int st = 0;
  if (b.tmp && b.pid > 0 && !child_alive (&b, &st)) {
    /* The node died under us: that is the story, not the HTTP error. */
    g_autofree char *how = describe_status (st);
    g_clear_error (&error);
    set_error (&error, CAIRN_EXIT_FAILED, "the node %s during the run", how);
    ok = FALSE;
    print_log_tail (&b);
  } else if (!ok && b.tmp && !interrupted (&b))
    print_log_tail (&b);

  /* Cleanup runs on every path: child first, then its files. */
  g_autoptr (GError) stop_error = NULL;
  if (!stop_node (&b, &stop_error)) {
    print_log_tail (&b);
    if (ok)
      g_propagate_error (&error, g_steal_pointer (&stop_error));
    else
      cairn_cli_printerr ("%s", stop_error->message);
    ok = FALSE;
  }
  g_autoptr (GError) rm_error = NULL;
  if (b.tmp && !cairn_cli_remove_tree (b.tmp, &rm_error))
    cairn_cli_printerr ("%s", rm_error->message);
  signal_watch_stop (&watch);

  rc = ok ? CAIRN_EXIT_OK : cairn_cli_fail (g_steal_pointer (&error));
  bench_free (&b);
  return rc;
}

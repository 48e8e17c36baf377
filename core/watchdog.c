/* The plugin-call marks, the fatal-signal report and the main-loop
 * watchdog (watchdog.h). */
#include "watchdog.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "node_private.h"

static _Thread_local CairnPluginCall current;
/* The watched (main) thread's mark, read by the watchdog thread. */
static CairnPluginCall *watched;

CairnPluginCall
cairn_plugin_call_enter (const char *plugin, const char *what)
{
  CairnPluginCall prev = current;
  /* Atomic: the watchdog thread reads the main thread's mark. */
  g_atomic_pointer_set (&current.plugin, plugin);
  g_atomic_pointer_set (&current.what, what);
  return prev;
}

void
cairn_plugin_call_leave (CairnPluginCall prev)
{
  g_atomic_pointer_set (&current.plugin, prev.plugin);
  g_atomic_pointer_set (&current.what, prev.what);
}

/* ---- fatal signals ------------------------------------------------------ */

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
static struct sigaction previous[G_N_ELEMENTS (fatal_signals)];

static void
put (const char *s)
{
  size_t n = strlen (s);
  while (n > 0) {
    ssize_t w = write (STDERR_FILENO, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

static void
on_fatal (int sig, siginfo_t *info, void *uctx)
{
  /* Only async-signal-safe calls here: write(2) of fixed and known
   * strings. */
  static volatile sig_atomic_t reported;
  if (!reported) {
    reported = 1;
    put ("cairn: fatal signal ");
    put (sig == SIGSEGV  ? "SIGSEGV"
         : sig == SIGBUS ? "SIGBUS"
         : sig == SIGILL ? "SIGILL"
         : sig == SIGFPE ? "SIGFPE"
                         : "SIGABRT");
    if (current.plugin) {
      put (" in plugin ");
      put (current.plugin);
      put (" (");
      put (current.what ? current.what : "?");
      put (")");
    } else {
      put (" outside plugin code");
    }
    put ("\n");
  }
  for (guint i = 0; i < G_N_ELEMENTS (fatal_signals); i++) {
    if (fatal_signals[i] != sig)
      continue;
    struct sigaction *old = &previous[i];
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
      old->sa_sigaction (sig, info, uctx);
      return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
      old->sa_handler (sig);
      return;
    }
  }
  signal (sig, SIG_DFL);
  raise (sig);
}

void
cairn_fatal_signals_install (void)
{
  static gsize once;
  if (!g_once_init_enter (&once))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (fatal_signals); i++) {
    struct sigaction sa = { 0 };
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    sigemptyset (&sa.sa_mask);
    sigaction (fatal_signals[i], &sa, &previous[i]);
  }
  g_once_init_leave (&once, 1);
}

/* ---- the watchdog -------------------------------------------------------- */

struct CairnWatchdog {
  CairnNode *node;
  guint limit_ms;
  guint beat_source;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean quit;
  gint64 last_beat_us; /* under lock */
  /* What the watchdog saw during a stall (under lock). */
  gboolean stalled;
  char *culprit;
  guint64 stalls;
  gint64 longest_ms;
};

static char *
describe_current (void)
{
  const char *plugin = g_atomic_pointer_get (&watched->plugin);
  const char *what = g_atomic_pointer_get (&watched->what);
  if (plugin == NULL)
    return g_strdup ("not in plugin code");
  return g_strdup_printf ("in plugin %s: %s", plugin, what ? what : "?");
}

static gboolean
beat (gpointer data)
{
  CairnWatchdog *wd = data;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&wd->lock);
  gint64 gap_ms = (now - wd->last_beat_us) / 1000;
  wd->last_beat_us = now;
  gboolean was_stalled = wd->stalled;
  g_autofree char *culprit = g_steal_pointer (&wd->culprit);
  wd->stalled = FALSE;
  if (was_stalled) {
    wd->stalls++;
    wd->longest_ms = MAX (wd->longest_ms, gap_ms);
  }
  guint64 stalls = wd->stalls;
  gint64 longest = wd->longest_ms;
  g_mutex_unlock (&wd->lock);
  if (was_stalled) {
    g_warning ("watchdog: the main loop was blocked for %" G_GINT64_FORMAT
               " ms (%s)",
               gap_ms, culprit);
    cairn_node_metric_set (wd->node, "watchdog", "watchdog_stalls_total",
                           "Times the main loop was blocked longer than "
                           "[node] watchdog_ms.",
                           (int64_t)stalls, NULL);
    cairn_node_metric_set (wd->node, "watchdog", "watchdog_longest_stall_ms",
                           "Longest main-loop stall seen, in ms.", longest,
                           NULL);
  }
  return G_SOURCE_CONTINUE;
}

static gpointer
watch (gpointer data)
{
  CairnWatchdog *wd = data;
  g_mutex_lock (&wd->lock);
  while (!wd->quit) {
    gint64 until = g_get_monotonic_time () + wd->limit_ms * 1000 / 4;
    g_cond_wait_until (&wd->cond, &wd->lock, until);
    if (wd->quit)
      break;
    gint64 gap_ms = (g_get_monotonic_time () - wd->last_beat_us) / 1000;
    if (!wd->stalled && gap_ms > wd->limit_ms) {
      wd->stalled = TRUE;
      wd->culprit = describe_current ();
      g_warning ("watchdog: the main loop has not run for %" G_GINT64_FORMAT
                 " ms (%s)",
                 gap_ms, wd->culprit);
    }
  }
  g_mutex_unlock (&wd->lock);
  return NULL;
}

CairnWatchdog *
cairn_watchdog_start (CairnNode *node, guint limit_ms)
{
  CairnWatchdog *wd = g_new0 (CairnWatchdog, 1);
  wd->node = node;
  wd->limit_ms = MAX (limit_ms, 4);
  g_mutex_init (&wd->lock);
  g_cond_init (&wd->cond);
  wd->last_beat_us = g_get_monotonic_time ();
  watched = &current;
  wd->beat_source = g_timeout_add (MAX (wd->limit_ms / 4, 1), beat, wd);
  wd->thread = g_thread_new ("cairn-watchdog", watch, wd);
  return wd;
}

void
cairn_watchdog_stop (CairnWatchdog *wd)
{
  if (wd == NULL)
    return;
  g_mutex_lock (&wd->lock);
  wd->quit = TRUE;
  g_cond_signal (&wd->cond);
  g_mutex_unlock (&wd->lock);
  g_thread_join (wd->thread);
  g_clear_handle_id (&wd->beat_source, g_source_remove);
  g_mutex_clear (&wd->lock);
  g_cond_clear (&wd->cond);
  g_free (wd->culprit);
  g_free (wd);
}

/* Which plugin code a thread is running, for two reports: the watchdog's
 * (a main loop blocked too long) and the fatal-signal handler's (a plugin
 * that crashes the process is named in its last words).
 *
 *   CairnPluginCall prev = cairn_plugin_call_enter ("bank", "apply
 * bank.transfer");
 *   ... call into the plugin ...
 *   cairn_plugin_call_leave (prev);
 *
 * Both strings must outlive the call (plugin ids and tx type names live as
 * long as the node; the rest are literals). */
#pragma once

#include <glib.h>

typedef struct CairnNode CairnNode;

typedef struct {
  const char *plugin;
  const char *what;
} CairnPluginCall;

CairnPluginCall cairn_plugin_call_enter (const char *plugin, const char *what);
void cairn_plugin_call_leave (CairnPluginCall prev);

/* Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT that
 * write one line naming the plugin the crashing thread was in, then hand
 * the signal to the handler that was there before (a sanitizer's) or to
 * the default action (a core dump). Once per process; `cairn node` calls it. */
void cairn_fatal_signals_install (void);

/* A thread that watches the calling thread's main loop: when the loop has
 * not run for limit_ms it logs a warning naming the plugin call in
 * progress, and when the loop runs again it logs how long the stall was
 * and sets the metrics cairn_watchdog_stalls_total and
 * cairn_watchdog_longest_stall_ms. */
typedef struct CairnWatchdog CairnWatchdog;
CairnWatchdog *cairn_watchdog_start (CairnNode *node, guint limit_ms);
void cairn_watchdog_stop (CairnWatchdog *wd);

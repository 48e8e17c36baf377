/* The node's clock: wall time, monotonic time and timers.
 *
 * Every timer and time read of the node and of its plugins (host
 * timer_add / now_ms, block times, mempool ages) goes through the node's
 * CairnClock, so a test can run many nodes in one process on virtual time
 * (tests/sim) with the same code. The system clock uses the thread-default
 * GMainContext. */
#pragma once

#include <stdint.h>

#include <glib.h>

typedef struct CairnClock CairnClock;

struct CairnClock {
  int64_t (*wall_ms) (CairnClock *clock); /* ms since the epoch */
  int64_t (*mono_ms) (CairnClock *clock); /* ms, never goes back */
  /* Like g_timeout_add_full: fn runs after ms (0 = as soon as possible,
   * after what is already due) and again every ms while it returns
   * G_SOURCE_CONTINUE; destroy(data) runs when the timer ends or is
   * removed. Returns a non-zero id. */
  guint (*timeout_add) (CairnClock *clock, guint ms, GSourceFunc fn,
                        gpointer data, GDestroyNotify destroy);
  void (*remove) (CairnClock *clock, guint id);
};

/* GLib's real clocks and main loop timers (static, never freed). */
CairnClock *cairn_clock_system (void);

/* Remove *id if set and zero it. */
static inline void
cairn_clock_clear (CairnClock *clock, guint *id)
{
  if (*id) {
    clock->remove (clock, *id);
    *id = 0;
  }
}

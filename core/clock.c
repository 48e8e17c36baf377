/* The system clock: GLib time and main-loop timeouts. */
#include "clock.h"

static int64_t
system_wall_ms (CairnClock *clock)
{
  return g_get_real_time () / 1000;
}

static int64_t
system_mono_ms (CairnClock *clock)
{
  return g_get_monotonic_time () / 1000;
}

static guint
system_timeout_add (CairnClock *clock, guint ms, GSourceFunc fn, gpointer data,
                    GDestroyNotify destroy)
{
  /* Default priority, not idle, for 0 ms too: under steady HTTP load an
   * idle source would starve. */
  return g_timeout_add_full (G_PRIORITY_DEFAULT, ms, fn, data, destroy);
}

static void
system_remove (CairnClock *clock, guint id)
{
  g_source_remove (id);
}

CairnClock *
cairn_clock_system (void)
{
  static CairnClock system = {
    .wall_ms = system_wall_ms,
    .mono_ms = system_mono_ms,
    .timeout_add = system_timeout_add,
    .remove = system_remove,
  };
  return &system;
}

/* Virtual time for whole nodes in one process.
 *
 * SimSched is one discrete-event scheduler: events run in (virtual time,
 * sequence number) order, so a run with the same inputs replays exactly.
 * Nothing here reads the real clock or runs a main loop; the test pops
 * events with sim_sched_run_until().
 *
 * SimClock is one node's CairnClock view of the scheduler: its timers are
 * scheduler events owned by that node, and it remembers them so a crashed
 * node's leftovers can be counted and cancelled (sim_clock_cancel_all). */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "clock.h"

typedef struct SimSched SimSched;
typedef void (*SimEventFn) (gpointer data);
/* Called for every event run, when set (tracing, fingerprint). */
typedef void (*SimTraceFn) (SimSched *s, int owner, const char *what,
                            gpointer user_data);

/* wall_epoch_ms: what wall_ms() reads at virtual time 0. */
SimSched *sim_sched_new (int64_t wall_epoch_ms);
/* Pending events are dropped (their destroy notifies run). */
void sim_sched_free (SimSched *s);

uint64_t sim_sched_now (SimSched *s);
int64_t sim_sched_wall_ms (SimSched *s);
/* Number of events run so far. */
uint64_t sim_sched_events (SimSched *s);
/* Owner (node index, or -1) of the event running now. */
int sim_sched_owner (SimSched *s);
/* Set it for work done on a node's behalf outside its own events (a boot,
 * a callback into one node from a shared event); returns the old one. */
int sim_sched_set_owner (SimSched *s, int owner);

/* Run fn(data) at now + delay_ms, after every event already due at that
 * time. owner: the node the event belongs to (-1: none); what: a static
 * label for traces. destroy(data) runs after fn, or on cancel/free.
 * Returns a non-zero id. */
uint64_t sim_sched_add (SimSched *s, uint64_t delay_ms, int owner,
                        const char *what, SimEventFn fn, gpointer data,
                        GDestroyNotify destroy);
/* Cancel a pending event (its destroy notify runs now). FALSE if the id is
 * not pending (already run, running or cancelled). */
gboolean sim_sched_cancel (SimSched *s, uint64_t id);
/* Run the next event if it is due at or before `until`; FALSE (and the
 * clock moved to `until` if it is later) when there is none. */
gboolean sim_sched_run_one (SimSched *s, uint64_t until);
/* Time of the next pending event, or G_MAXUINT64. */
uint64_t sim_sched_next_time (SimSched *s);
void sim_sched_set_trace (SimSched *s, SimTraceFn fn, gpointer user_data);

typedef struct SimClock SimClock;

/* A CairnClock for node `owner`; cast with sim_clock_base(). */
SimClock *sim_clock_new (SimSched *s, int owner);
CairnClock *sim_clock_base (SimClock *c);
/* Timers of this clock still pending (or running). */
guint sim_clock_pending (SimClock *c);
/* Cancel every timer of this clock (destroy notifies run); returns how
 * many there were. */
guint sim_clock_cancel_all (SimClock *c);
/* Timer removals with an id this clock never gave or already ended. */
guint sim_clock_bad_removes (SimClock *c);
/* Cancels what is left. */
void sim_clock_free (SimClock *c);

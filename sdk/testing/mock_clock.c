/* The mock host's fake clock and timers: nothing runs until the test
 * moves the clock with cairn_test_host_advance (see
 * <cairn/testing/mock_host.h>). */
#include "mock_private.h"

static MockTimer *
timer_new (CairnTestHost *h, uint32_t interval_ms)
{
  MockTimer *t = g_new0 (MockTimer, 1);
  t->id = ++h->next_timer;
  t->interval_ms = interval_ms;
  t->due_ms = h->now_ms + interval_ms;
  g_ptr_array_add (h->timers, t);
  return t;
}

guint
cairn_test__timer_add_host (CairnTestHost *h, uint32_t ms, GSourceFunc fn,
                            void *data)
{
  MockTimer *t = timer_new (h, ms);
  t->host_fn = fn;
  t->user_data = data;
  return t->id;
}

void
cairn_test__timer_remove_id (CairnTestHost *h, guint id)
{
  for (guint i = 0; i < h->timers->len; i++) {
    MockTimer *t = h->timers->pdata[i];
    if (t->id == id && !t->removed) {
      t->removed = TRUE;
      return;
    }
  }
}

static guint
m_timer_add (CairnPlugin *self, uint32_t interval_ms, CairnTimerFn fn,
             void *user_data)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (fn == NULL)
    g_error ("mock host: plugin '%s' added a timer without a function",
             ((CairnTestPlugin *)self)->desc->id);
  MockTimer *t = timer_new (h, interval_ms);
  t->tp = (CairnTestPlugin *)self;
  t->fn = fn;
  t->user_data = user_data;
  return t->id;
}

static void
m_timer_remove (CairnPlugin *self, guint id)
{
  CairnTestHost *h = cairn_test__host_of (self);
  for (guint i = 0; i < h->timers->len; i++) {
    MockTimer *t = h->timers->pdata[i];
    if (t->id == id && !t->removed) {
      if (t->tp != (CairnTestPlugin *)self)
        g_error ("mock host: plugin '%s' removed timer %u of another",
                 ((CairnTestPlugin *)self)->desc->id, id);
      t->removed = TRUE;
      return;
    }
  }
  /* Like g_source_remove of an unknown id: a plugin bug. */
  g_critical ("mock host: plugin '%s' removed timer %u, which does not exist "
              "(already removed, or it returned FALSE)",
              ((CairnTestPlugin *)self)->desc->id, id);
}

static int64_t
m_now_ms (CairnPlugin *self)
{
  return cairn_test__host_of (self)->now_ms;
}

void
cairn_test__fill_clock_table (CairnHost *t)
{
  t->timer_add = m_timer_add;
  t->timer_remove = m_timer_remove;
  t->now_ms = m_now_ms;
}

static void
sweep (CairnTestHost *h)
{
  for (guint i = h->timers->len; i > 0; i--)
    if (((MockTimer *)h->timers->pdata[i - 1])->removed)
      g_ptr_array_remove_index (h->timers, i - 1);
}

/* The pending timer due first (then created first) at or before end that
 * has not run in this call yet if its interval is 0; NULL when none. */
static MockTimer *
next_due (CairnTestHost *h, int64_t end, GHashTable *ran_zero)
{
  MockTimer *best = NULL;
  for (guint i = 0; i < h->timers->len; i++) {
    MockTimer *t = h->timers->pdata[i];
    if (t->removed || t->due_ms > end
        || (t->interval_ms == 0
            && g_hash_table_contains (ran_zero, GUINT_TO_POINTER (t->id))))
      continue;
    if (best == NULL || t->due_ms < best->due_ms
        || (t->due_ms == best->due_ms && t->id < best->id))
      best = t;
  }
  return best;
}

guint
cairn_test_host_advance (CairnTestHost *h, uint64_t ms)
{
  if (ms > (uint64_t)(G_MAXINT64 - h->now_ms))
    g_error ("mock host: advance by %" G_GUINT64_FORMAT " ms overflows the "
             "clock",
             ms);
  int64_t end = h->now_ms + (int64_t)ms;
  g_autoptr (GHashTable) ran_zero = g_hash_table_new (NULL, NULL);
  guint ran = 0;
  MockTimer *t;
  while ((t = next_due (h, end, ran_zero)) != NULL) {
    if (t->due_ms > h->now_ms)
      h->now_ms = t->due_ms;
    guint id = t->id;
    if (t->interval_ms == 0)
      g_hash_table_add (ran_zero, GUINT_TO_POINTER (id));
    /* The callback may add or remove timers: the array may move, so find
     * the timer again by id afterwards. */
    gboolean again;
    if (t->host_fn != NULL) {
      again = t->host_fn (t->user_data);
    } else {
      again = t->fn ((CairnPlugin *)t->tp, t->user_data);
      ran++;
    }
    for (guint i = 0; i < h->timers->len; i++) {
      MockTimer *u = h->timers->pdata[i];
      if (u->id != id)
        continue;
      if (!again)
        u->removed = TRUE;
      else if (!u->removed)
        u->due_ms = h->now_ms + u->interval_ms;
      break;
    }
    sweep (h);
  }
  h->now_ms = end;
  return ran;
}

int64_t
cairn_test_host_now_ms (CairnTestHost *h)
{
  return h->now_ms;
}

guint
cairn_test_host_n_timers (CairnTestHost *h)
{
  guint n = 0;
  for (guint i = 0; i < h->timers->len; i++)
    if (!((MockTimer *)h->timers->pdata[i])->removed
        && ((MockTimer *)h->timers->pdata[i])->tp != NULL)
      n++;
  return n;
}

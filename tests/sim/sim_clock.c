/* The discrete-event scheduler and the per-node clocks (see sim_clock.h).
 * Events sit in a binary min-heap ordered by (time, sequence number);
 * cancelled ones stay in the heap, marked, and are skipped when popped. */
#include "sim_clock.h"

typedef struct Ev {
  uint64_t time, seq; /* seq doubles as the event id */
  int owner;
  const char *what;
  SimEventFn fn;
  gpointer data;
  GDestroyNotify destroy;
  gboolean cancelled;
} Ev;

struct SimSched {
  int64_t epoch_ms;
  uint64_t now, seq, events;
  int owner;
  GPtrArray *heap;     /* Ev* */
  GHashTable *pending; /* seq -> Ev*, not yet run nor cancelled */
  SimTraceFn trace;
  gpointer trace_data;
};

static gboolean
ev_less (const Ev *a, const Ev *b)
{
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
heap_swap (GPtrArray *h, guint i, guint j)
{
  gpointer t = h->pdata[i];
  h->pdata[i] = h->pdata[j];
  h->pdata[j] = t;
}

static void
heap_push (SimSched *s, Ev *ev)
{
  GPtrArray *h = s->heap;
  g_ptr_array_add (h, ev);
  guint i = h->len - 1;
  while (i > 0 && ev_less (h->pdata[i], h->pdata[(i - 1) / 2])) {
    heap_swap (h, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static Ev *
heap_pop (SimSched *s)
{
  GPtrArray *h = s->heap;
  if (h->len == 0)
    return NULL;
  Ev *top = h->pdata[0];
  h->pdata[0] = h->pdata[h->len - 1];
  g_ptr_array_set_size (h, h->len - 1);
  for (guint i = 0;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->len && ev_less (h->pdata[l], h->pdata[m]))
      m = l;
    if (r < h->len && ev_less (h->pdata[r], h->pdata[m]))
      m = r;
    if (m == i)
      break;
    heap_swap (h, i, m);
    i = m;
  }
  return top;
}

static void
ev_free (Ev *ev)
{
  if (ev->destroy != NULL && !ev->cancelled)
    ev->destroy (ev->data);
  g_free (ev);
}

SimSched *
sim_sched_new (int64_t wall_epoch_ms)
{
  SimSched *s = g_new0 (SimSched, 1);
  s->epoch_ms = wall_epoch_ms;
  s->seq = 1;
  s->owner = -1;
  s->heap = g_ptr_array_new ();
  s->pending = g_hash_table_new (g_int64_hash, g_int64_equal);
  return s;
}

void
sim_sched_free (SimSched *s)
{
  if (s == NULL)
    return;
  /* Destroy notifies may cancel other events: empty the table first. */
  g_hash_table_remove_all (s->pending);
  while (s->heap->len > 0)
    ev_free (heap_pop (s));
  g_ptr_array_unref (s->heap);
  g_hash_table_unref (s->pending);
  g_free (s);
}

uint64_t
sim_sched_now (SimSched *s)
{
  return s->now;
}

int64_t
sim_sched_wall_ms (SimSched *s)
{
  return s->epoch_ms + (int64_t)s->now;
}

uint64_t
sim_sched_events (SimSched *s)
{
  return s->events;
}

int
sim_sched_owner (SimSched *s)
{
  return s->owner;
}

int
sim_sched_set_owner (SimSched *s, int owner)
{
  int old = s->owner;
  s->owner = owner;
  return old;
}

void
sim_sched_set_trace (SimSched *s, SimTraceFn fn, gpointer user_data)
{
  s->trace = fn;
  s->trace_data = user_data;
}

uint64_t
sim_sched_add (SimSched *s, uint64_t delay_ms, int owner, const char *what,
               SimEventFn fn, gpointer data, GDestroyNotify destroy)
{
  Ev *ev = g_new0 (Ev, 1);
  ev->time = s->now + delay_ms;
  ev->seq = s->seq++;
  ev->owner = owner;
  ev->what = what;
  ev->fn = fn;
  ev->data = data;
  ev->destroy = destroy;
  heap_push (s, ev);
  g_hash_table_insert (s->pending, &ev->seq, ev);
  return ev->seq;
}

gboolean
sim_sched_cancel (SimSched *s, uint64_t id)
{
  Ev *ev = g_hash_table_lookup (s->pending, &id);
  if (ev == NULL)
    return FALSE;
  g_hash_table_remove (s->pending, &id);
  ev->cancelled = TRUE;
  if (ev->destroy != NULL)
    ev->destroy (ev->data);
  return TRUE;
}

uint64_t
sim_sched_next_time (SimSched *s)
{
  /* Drop cancelled events from the top so the answer is exact. */
  while (s->heap->len > 0 && ((Ev *)s->heap->pdata[0])->cancelled)
    ev_free (heap_pop (s));
  return s->heap->len > 0 ? ((Ev *)s->heap->pdata[0])->time : G_MAXUINT64;
}

gboolean
sim_sched_run_one (SimSched *s, uint64_t until)
{
  uint64_t next = sim_sched_next_time (s);
  if (next == G_MAXUINT64 || next > until) {
    if (until != G_MAXUINT64 && until > s->now)
      s->now = until;
    return FALSE;
  }
  Ev *ev = heap_pop (s);
  g_hash_table_remove (s->pending, &ev->seq);
  g_assert (ev->time >= s->now);
  s->now = ev->time;
  s->events++;
  int saved = s->owner;
  s->owner = ev->owner;
  if (s->trace != NULL)
    s->trace (s, ev->owner, ev->what, s->trace_data);
  ev->fn (ev->data);
  s->owner = saved;
  ev_free (ev);
  return TRUE;
}

/* ---- per-node clocks ----------------------------------------------------- */

typedef struct Timer Timer;

struct SimClock {
  CairnClock base; /* first: the node sees a CairnClock* */
  SimSched *sched;
  int owner;
  guint next_id;
  GHashTable *timers; /* id -> Timer*, from timeout_add to its end */
  guint bad_removes;
};

struct Timer {
  SimClock *clock;
  guint id, ms;
  GSourceFunc fn;
  gpointer data;
  GDestroyNotify destroy;
  uint64_t ev;      /* the scheduled firing, 0 while running */
  gboolean removed; /* removed while its callback runs */
};

static void timer_fire (gpointer data);

static void
timer_arm (Timer *t)
{
  t->ev = sim_sched_add (t->clock->sched, t->ms, t->clock->owner, "timer",
                         timer_fire, t, NULL);
}

/* The timer's end: out of the table, destroy notify, freed. */
static void
timer_end (Timer *t)
{
  g_hash_table_remove (t->clock->timers, GUINT_TO_POINTER (t->id));
  if (t->destroy != NULL)
    t->destroy (t->data);
  g_free (t);
}

static void
timer_fire (gpointer data)
{
  Timer *t = data;
  t->ev = 0;
  gboolean again = t->fn (t->data) == G_SOURCE_CONTINUE;
  if (again && !t->removed)
    timer_arm (t);
  else
    timer_end (t);
}

static int64_t
clock_wall_ms (CairnClock *base)
{
  SimClock *c = (SimClock *)base;
  return sim_sched_wall_ms (c->sched);
}

static int64_t
clock_mono_ms (CairnClock *base)
{
  SimClock *c = (SimClock *)base;
  return (int64_t)sim_sched_now (c->sched);
}

static guint
clock_timeout_add (CairnClock *base, guint ms, GSourceFunc fn, gpointer data,
                   GDestroyNotify destroy)
{
  SimClock *c = (SimClock *)base;
  Timer *t = g_new0 (Timer, 1);
  t->clock = c;
  t->id = ++c->next_id;
  t->ms = ms;
  t->fn = fn;
  t->data = data;
  t->destroy = destroy;
  g_hash_table_insert (c->timers, GUINT_TO_POINTER (t->id), t);
  timer_arm (t);
  return t->id;
}

static void
clock_remove (CairnClock *base, guint id)
{
  SimClock *c = (SimClock *)base;
  Timer *t = g_hash_table_lookup (c->timers, GUINT_TO_POINTER (id));
  if (t == NULL || t->removed) {
    /* g_source_remove() would print a critical here. */
    c->bad_removes++;
    return;
  }
  if (t->ev == 0) {
    t->removed = TRUE; /* running: it ends when its callback returns */
    return;
  }
  sim_sched_cancel (c->sched, t->ev);
  timer_end (t);
}

SimClock *
sim_clock_new (SimSched *s, int owner)
{
  SimClock *c = g_new0 (SimClock, 1);
  c->base.wall_ms = clock_wall_ms;
  c->base.mono_ms = clock_mono_ms;
  c->base.timeout_add = clock_timeout_add;
  c->base.remove = clock_remove;
  c->sched = s;
  c->owner = owner;
  c->timers = g_hash_table_new (NULL, NULL);
  return c;
}

CairnClock *
sim_clock_base (SimClock *c)
{
  return &c->base;
}

guint
sim_clock_pending (SimClock *c)
{
  return g_hash_table_size (c->timers);
}

guint
sim_clock_bad_removes (SimClock *c)
{
  return c->bad_removes;
}

static gint
id_cmp (gconstpointer a, gconstpointer b)
{
  guint x = GPOINTER_TO_UINT (a), y = GPOINTER_TO_UINT (b);
  return x < y ? -1 : x > y;
}

guint
sim_clock_cancel_all (SimClock *c)
{
  /* In id order, so destroy notifies run in a reproducible order. */
  GList *ids = g_list_sort (g_hash_table_get_keys (c->timers), id_cmp);
  guint n = 0;
  for (GList *l = ids; l != NULL; l = l->next) {
    Timer *t = g_hash_table_lookup (c->timers, l->data);
    if (t == NULL || t->ev == 0)
      continue; /* gone meanwhile, or running (ends on return) */
    sim_sched_cancel (c->sched, t->ev);
    timer_end (t);
    n++;
  }
  g_list_free (ids);
  return n;
}

void
sim_clock_free (SimClock *c)
{
  if (c == NULL)
    return;
  sim_clock_cancel_all (c);
  g_hash_table_unref (c->timers);
  g_free (c);
}

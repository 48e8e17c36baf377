/* The simulation's own parts: the scheduler and clocks (order, cancel,
 * re-arm, removal from a callback, leftovers) and the simulated transport
 * (links, errors, FIFO, faults, partitions, stop). */
#include <string.h>

#include <cairn/error.h>

#include "crypto.h"
#include "sim_clock.h"
#include "sim_net.h"

/* ---- scheduler and clock ---------------------------------------------------
 */

typedef struct {
  GString *order;
  char tag;
} Mark;

static void
mark_fire (gpointer data)
{
  Mark *m = data;
  g_string_append_c (m->order, m->tag);
}

static void
test_sched_order (void)
{
  SimSched *s = sim_sched_new (1000);
  g_autoptr (GString) order = g_string_new (NULL);
  Mark a = { order, 'a' }, b = { order, 'b' }, c = { order, 'c' },
       d = { order, 'd' };
  sim_sched_add (s, 10, -1, "x", mark_fire, &a, NULL);
  sim_sched_add (s, 5, -1, "x", mark_fire, &b, NULL);
  sim_sched_add (s, 10, -1, "x", mark_fire, &c, NULL); /* same time: after a */
  uint64_t id = sim_sched_add (s, 7, -1, "x", mark_fire, &d, NULL);
  g_assert_true (sim_sched_cancel (s, id));
  g_assert_false (sim_sched_cancel (s, id)); /* not pending any more */
  g_assert_false (sim_sched_cancel (s, 12345));
  g_assert_cmpuint (sim_sched_next_time (s), ==, 5);
  while (sim_sched_run_one (s, G_MAXUINT64))
    ;
  g_assert_cmpstr (order->str, ==, "bac");
  g_assert_cmpuint (sim_sched_now (s), ==, 10);
  g_assert_cmpint (sim_sched_wall_ms (s), ==, 1010);
  g_assert_cmpuint (sim_sched_events (s), ==, 3);
  /* Nothing due before 50: the clock moves to 50. */
  sim_sched_add (s, 100, -1, "x", mark_fire, &a, NULL);
  g_assert_false (sim_sched_run_one (s, 50));
  g_assert_cmpuint (sim_sched_now (s), ==, 50);
  g_assert_true (sim_sched_run_one (s, 200));
  g_assert_cmpuint (sim_sched_now (s), ==, 110);
  g_assert_cmpstr (order->str, ==, "baca");
  sim_sched_free (s);
}

typedef struct {
  CairnClock *clock;
  guint id, fired, destroyed, stop_after;
  gboolean remove_self;
} Tick;

static gboolean
tick_fire (gpointer data)
{
  Tick *t = data;
  t->fired++;
  if (t->remove_self) {
    t->clock->remove (t->clock, t->id);
    return G_SOURCE_CONTINUE; /* ignored: it was removed */
  }
  return t->fired < t->stop_after ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
tick_destroy (gpointer data)
{
  ((Tick *)data)->destroyed++;
}

static void
test_clock_timers (void)
{
  SimSched *s = sim_sched_new (1700000000000);
  SimClock *sc = sim_clock_new (s, 3);
  CairnClock *c = sim_clock_base (sc);
  g_assert_cmpint (c->wall_ms (c), ==, 1700000000000);
  g_assert_cmpint (c->mono_ms (c), ==, 0);

  /* Repeats every 100 ms until its third run. */
  Tick rep = { c, 0, 0, 0, 3, FALSE };
  rep.id = c->timeout_add (c, 100, tick_fire, &rep, tick_destroy);
  g_assert_cmpuint (rep.id, !=, 0);
  /* Removes itself from its callback: runs once, destroyed once. */
  Tick self = { c, 0, 0, 0, 99, TRUE };
  self.id = c->timeout_add (c, 50, tick_fire, &self, tick_destroy);
  /* Removed before it runs. */
  Tick gone = { c, 0, 0, 0, 1, FALSE };
  gone.id = c->timeout_add (c, 10, tick_fire, &gone, tick_destroy);
  g_assert_cmpuint (sim_clock_pending (sc), ==, 3);
  c->remove (c, gone.id);
  g_assert_cmpuint (gone.destroyed, ==, 1);
  c->remove (c, gone.id); /* twice: counted like GLib's critical */
  g_assert_cmpuint (sim_clock_bad_removes (sc), ==, 1);

  while (sim_sched_run_one (s, 1000))
    ;
  g_assert_cmpuint (rep.fired, ==, 3);
  g_assert_cmpuint (rep.destroyed, ==, 1);
  g_assert_cmpuint (self.fired, ==, 1);
  g_assert_cmpuint (self.destroyed, ==, 1);
  g_assert_cmpuint (gone.fired, ==, 0);
  g_assert_cmpuint (sim_clock_pending (sc), ==, 0);
  g_assert_cmpuint (sim_clock_bad_removes (sc), ==, 1);
  g_assert_cmpint (c->mono_ms (c), ==, 1000);

  /* 0 ms runs after what is already due at this time. */
  Tick z1 = { c, 0, 0, 0, 1, FALSE }, z2 = { c, 0, 0, 0, 1, FALSE };
  z1.id = c->timeout_add (c, 0, tick_fire, &z1, NULL);
  z2.id = c->timeout_add (c, 0, tick_fire, &z2, NULL);
  g_assert_true (sim_sched_run_one (s, 1000));
  g_assert_cmpuint (z1.fired, ==, 1);
  g_assert_cmpuint (z2.fired, ==, 0);
  g_assert_true (sim_sched_run_one (s, 1000));
  g_assert_cmpuint (z2.fired, ==, 1);

  /* A crash: what is left is cancelled, destroy notifies run. */
  Tick l1 = { c, 0, 0, 0, 9, FALSE }, l2 = { c, 0, 0, 0, 9, FALSE };
  l1.id = c->timeout_add (c, 5, tick_fire, &l1, tick_destroy);
  l2.id = c->timeout_add (c, 500, tick_fire, &l2, tick_destroy);
  g_assert_cmpuint (sim_clock_cancel_all (sc), ==, 2);
  g_assert_cmpuint (l1.destroyed + l2.destroyed, ==, 2);
  g_assert_false (sim_sched_run_one (s, 5000));
  g_assert_cmpuint (l1.fired + l2.fired, ==, 0);
  /* Ids are never reused. */
  guint id = c->timeout_add (c, 1, tick_fire, &l1, NULL);
  g_assert_cmpuint (id, >, l2.id);
  sim_clock_free (sc); /* cancels it */
  g_assert_false (sim_sched_run_one (s, G_MAXUINT64));
  sim_sched_free (s);
}

/* ---- transport ------------------------------------------------------------
 */

typedef struct {
  GString *log; /* "up:i", "down:i", "msg:i:ch:text" */
  SimNet *net;
  char ids[4][41];
  guint self;
} Peer;

static guint
peer_index (Peer *p, const char *id)
{
  for (guint i = 0; i < 4; i++)
    if (strcmp (p->ids[i], id) == 0)
      return i;
  g_assert_not_reached ();
}

static void
ev_up (void *ud, const char *peer)
{
  Peer *p = ud;
  g_string_append_printf (p->log, "up%u ", peer_index (p, peer));
}

static void
ev_down (void *ud, const char *peer)
{
  Peer *p = ud;
  g_string_append_printf (p->log, "down%u ", peer_index (p, peer));
}

static void
ev_msg (void *ud, const char *peer, uint8_t ch, GBytes *payload)
{
  Peer *p = ud;
  g_string_append_printf (p->log, "m%u:%u:%.*s ", peer_index (p, peer), ch,
                          (int)g_bytes_get_size (payload),
                          (const char *)g_bytes_get_data (payload, NULL));
}

static const CairnTransportEvents events = { ev_up, ev_down, ev_msg };

typedef struct {
  SimSched *s;
  SimNet *net;
  CairnKey *keys[4];
  Peer peers[4];
  CairnTransport *t[4];
} Net;

static CairnTransport *
open_ep (Net *n, guint i, GError **error)
{
  const char *allowed[5] = { 0 };
  CairnPeerAddr dial[3];
  guint nd = 0, na = 0;
  for (guint j = 0; j < 4; j++) {
    if (j == i)
      continue;
    allowed[na++] = n->peers[0].ids[j];
    if (j > i) { /* lower ids dial higher ones */
      memset (&dial[nd], 0, sizeof dial[nd]);
      g_strlcpy (dial[nd].id, n->peers[0].ids[j], sizeof dial[nd].id);
      nd++;
    }
  }
  return sim_net_transport_factory (n->net, n->keys[i], "x:1", dial, nd,
                                    allowed, &events, &n->peers[i], error);
}

static void
net_up (Net *n, guint64 seed)
{
  n->s = sim_sched_new (0);
  n->net = sim_net_new (n->s, seed);
  for (guint i = 0; i < 4; i++) {
    n->keys[i] = cairn_key_generate (NULL);
    g_assert_cmpuint (sim_net_add_node (n->net, cairn_key_address (n->keys[i])),
                      ==, i);
  }
  for (guint i = 0; i < 4; i++) {
    n->peers[i].log = g_string_new (NULL);
    n->peers[i].self = i;
    for (guint j = 0; j < 4; j++)
      g_strlcpy (n->peers[i].ids[j], cairn_key_address (n->keys[j]), 41);
  }
}

static void
net_down (Net *n)
{
  for (guint i = 0; i < 4; i++) {
    if (n->t[i])
      n->t[i]->ops->free (n->t[i]);
    g_string_free (n->peers[i].log, TRUE);
    cairn_key_free (n->keys[i]);
  }
  sim_net_free (n->net);
  sim_sched_free (n->s);
}

static void
run_until (Net *n, uint64_t t)
{
  while (sim_sched_run_one (n->s, t))
    ;
}

static gboolean
send_text (Net *n, guint from, guint to, uint8_t ch, const char *text,
           GError **error)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return n->t[from]->ops->send (n->t[from], n->peers[0].ids[to], ch, b, error);
}

static void
start_all (Net *n)
{
  for (guint i = 0; i < 4; i++) {
    g_autoptr (GError) err = NULL;
    n->t[i] = open_ep (n, i, &err);
    g_assert_no_error (err);
    g_assert_true (n->t[i]->ops->start (n->t[i], &err));
  }
}

static void
test_net_links_and_errors (void)
{
  Net n = { 0 };
  net_up (&n, 1);
  g_autoptr (GError) err = NULL;
  start_all (&n);
  /* A second transport for a slot in use, and an unknown key. */
  g_assert_null (open_ep (&n, 2, &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
  g_clear_error (&err);
  g_autoptr (CairnKey) stranger = cairn_key_generate (NULL);
  g_assert_null (sim_net_transport_factory (n.net, stranger, "x:1", NULL, 0,
                                            NULL, &events, NULL, &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&err);

  /* Not linked yet. */
  g_assert_false (send_text (&n, 0, 1, CAIRN_P2P_CH_TXS, "early", &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&err);
  run_until (&n, 100);
  for (guint i = 0; i < 4; i++) {
    g_auto (GStrv) peers = n.t[i]->ops->peers (n.t[i]);
    g_assert_cmpuint (g_strv_length (peers), ==, 3);
    for (guint j = 0; j < 4; j++)
      if (j != i)
        g_assert_true (sim_net_linked (n.net, i, j));
  }
  g_assert_nonnull (strstr (n.peers[0].log->str, "up1 "));
  g_assert_nonnull (strstr (n.peers[3].log->str, "up0 "));

  /* Bad channel, oversized frame, unknown peer, self. */
  g_assert_false (send_text (&n, 0, 1, 0, "x", &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&err);
  g_assert_false (send_text (&n, 0, 1, 6, "x", &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&err);
  g_autoptr (GBytes) big
      = g_bytes_new_take (g_malloc0 (CAIRN_P2P_MAX_FRAME), CAIRN_P2P_MAX_FRAME);
  g_assert_false (n.t[0]->ops->send (n.t[0], n.peers[0].ids[1], 1, big, &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&err);
  g_autoptr (GBytes) x = g_bytes_new ("x", 1);
  g_assert_false (
      n.t[0]->ops->send (n.t[0], cairn_key_address (stranger), 1, x, &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_false (send_text (&n, 0, 0, 1, "self", &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&err);

  /* Without faults: every frame arrives, in order. */
  g_string_truncate (n.peers[1].log, 0);
  g_autoptr (GString) want = g_string_new (NULL);
  for (guint k = 0; k < 50; k++) {
    g_autofree char *text = g_strdup_printf ("f%u", k);
    g_assert_true (send_text (&n, 0, 1, CAIRN_P2P_CH_CONSENSUS, text, &err));
    g_string_append_printf (want, "m0:3:%s ", text);
  }
  run_until (&n, 200);
  g_assert_cmpstr (n.peers[1].log->str, ==, want->str);
  CairnTransportStats st;
  n.t[1]->ops->stats (n.t[1], &st);
  g_assert_cmpuint (st.frames_in, ==, 50);
  n.t[0]->ops->stats (n.t[0], &st);
  g_assert_cmpuint (st.frames_out, ==, 50);

  /* Stop: no peer_down for the stopped side, the others notice. */
  g_string_truncate (n.peers[0].log, 0);
  g_string_truncate (n.peers[1].log, 0);
  g_assert_true (send_text (&n, 1, 0, 1, "in-flight", &err));
  n.t[0]->ops->stop (n.t[0]);
  g_assert_false (send_text (&n, 0, 1, 1, "after stop", &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&err);
  run_until (&n, 300);
  g_assert_cmpstr (n.peers[0].log->str, ==, "");
  g_assert_cmpstr (n.peers[1].log->str, ==, "down0 ");
  g_assert_nonnull (strstr (n.peers[2].log->str, "down0 "));
  g_assert_false (sim_net_linked (n.net, 0, 1));
  SimNetStats ns;
  sim_net_stats (n.net, &ns);
  g_assert_cmpuint (ns.lost_in_flight, ==, 1);
  /* Restart in the same slot: links come back. */
  n.t[0]->ops->free (n.t[0]);
  n.t[0] = open_ep (&n, 0, &err);
  g_assert_no_error (err);
  g_assert_true (n.t[0]->ops->start (n.t[0], &err));
  run_until (&n, 400);
  g_assert_cmpstr (n.peers[1].log->str, ==, "down0 up0 ");
  for (guint j = 1; j < 4; j++)
    g_assert_true (sim_net_linked (n.net, 0, j));
  n.t[1]->ops->stats (n.t[1], &st);
  g_assert_cmpuint (st.reconnects, ==, 1);
  net_down (&n);
}

static void
test_net_faults (void)
{
  Net n = { 0 };
  net_up (&n, 7);
  SimNetFaults f = { .drop_pct = 30,
                     .dup_pct = 20,
                     .delay_min_ms = 1,
                     .delay_max_ms = 5,
                     .fault_delay_max_ms = 200,
                     .faults_until_ms = 1000,
                     .partition_start_ms = 2000,
                     .partition_end_ms = 3000,
                     .partition_disconnects = FALSE,
                     .group = { 0, 0, 1, 1 } };
  sim_net_set_faults (n.net, &f);
  start_all (&n);
  run_until (&n, 100);
  g_autoptr (GError) err = NULL;
  for (guint k = 0; k < 400; k++) {
    g_autofree char *text = g_strdup_printf ("%03u", k);
    g_assert_true (send_text (&n, 0, 1, 1, text, &err));
  }
  run_until (&n, 1500);
  SimNetStats ns;
  sim_net_stats (n.net, &ns);
  g_assert_cmpuint (ns.dropped, >, 60);
  g_assert_cmpuint (ns.dropped, <, 200);
  g_assert_cmpuint (ns.duplicated, >, 20);
  g_assert_cmpuint (ns.delivered, ==, 400 - ns.dropped + ns.duplicated);
  /* The delay spread reordered some frames. */
  gchar **parts = g_strsplit (n.peers[1].log->str, " ", -1);
  guint inversions = 0, prev = 0;
  for (guint k = 0; parts[k] && *parts[k]; k++) {
    /* "m<peer>:<ch>:<n>"; "up<i>" and "down<i>" carry no number to order
     * (reading at +5 ran past "up1": valgrind). */
    const char *num = parts[k][0] == 'm' ? strrchr (parts[k], ':') : NULL;
    if (num == NULL)
      continue;
    guint v = (guint)g_ascii_strtoull (num + 1, NULL, 10);
    inversions += v < prev;
    prev = v;
  }
  g_strfreev (parts);
  g_assert_cmpuint (inversions, >, 10);

  /* The partition (frames lost, links kept) cuts 0|1 from 2|3 only. */
  run_until (&n, 2100);
  g_string_truncate (n.peers[2].log, 0);
  g_string_truncate (n.peers[1].log, 0);
  g_assert_true (send_text (&n, 0, 2, 1, "cut", &err));
  g_assert_true (send_text (&n, 0, 1, 1, "same-side", &err));
  run_until (&n, 2200);
  g_assert_cmpstr (n.peers[2].log->str, ==, "");
  g_assert_cmpstr (n.peers[1].log->str, ==, "m0:1:same-side ");
  g_assert_true (sim_net_linked (n.net, 0, 2));
  /* Healed. */
  run_until (&n, 3000);
  g_assert_true (send_text (&n, 0, 2, 1, "healed", &err));
  run_until (&n, 3100);
  g_assert_cmpstr (n.peers[2].log->str, ==, "m0:1:healed ");
  net_down (&n);
}

static void
test_net_partition_disconnects (void)
{
  Net n = { 0 };
  net_up (&n, 3);
  SimNetFaults f = { .delay_min_ms = 1,
                     .delay_max_ms = 5,
                     .partition_start_ms = 200,
                     .partition_end_ms = 600,
                     .partition_disconnects = TRUE,
                     .group = { 0, 1, 0, 1 } };
  sim_net_set_faults (n.net, &f);
  start_all (&n);
  run_until (&n, 150);
  g_assert_true (sim_net_linked (n.net, 0, 1));
  run_until (&n, 400);
  g_assert_false (sim_net_linked (n.net, 0, 1));
  g_assert_false (sim_net_linked (n.net, 2, 3));
  g_assert_true (sim_net_linked (n.net, 0, 2));
  g_assert_true (sim_net_linked (n.net, 1, 3));
  g_auto (GStrv) peers = n.t[0]->ops->peers (n.t[0]);
  g_assert_cmpuint (g_strv_length (peers), ==, 1);
  g_assert_nonnull (strstr (n.peers[0].log->str, "down1 down3 "));
  run_until (&n, 800);
  for (guint i = 0; i < 4; i++)
    for (guint j = 0; j < 4; j++)
      if (i != j)
        g_assert_true (sim_net_linked (n.net, i, j));
  net_down (&n);
}

/* Same seed, same sends: the same deliveries in the same order. */
static char *
faulty_run (guint64 seed)
{
  Net n = { 0 };
  net_up (&n, seed);
  SimNetFaults f = { .drop_pct = 20,
                     .dup_pct = 20,
                     .delay_min_ms = 1,
                     .delay_max_ms = 5,
                     .fault_delay_max_ms = 100,
                     .faults_until_ms = 10000 };
  sim_net_set_faults (n.net, &f);
  /* Same ids for every run: deterministic key order. */
  start_all (&n);
  run_until (&n, 100);
  for (guint k = 0; k < 100; k++) {
    g_autofree char *text = g_strdup_printf ("%u", k);
    g_assert_true (send_text (&n, k % 4, (k + 1) % 4, 1, text, NULL));
  }
  run_until (&n, 1000);
  char *out = g_strconcat (n.peers[0].log->str, "|", n.peers[1].log->str, "|",
                           n.peers[2].log->str, "|", n.peers[3].log->str, NULL);
  net_down (&n);
  return out;
}

static void
test_net_reproducible (void)
{
  g_autofree char *a = faulty_run (42);
  g_autofree char *b = faulty_run (42);
  g_autofree char *c = faulty_run (43);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sim/sched/order", test_sched_order);
  g_test_add_func ("/sim/clock/timers", test_clock_timers);
  g_test_add_func ("/sim/net/links-and-errors", test_net_links_and_errors);
  g_test_add_func ("/sim/net/faults", test_net_faults);
  g_test_add_func ("/sim/net/partition-disconnects",
                   test_net_partition_disconnects);
  g_test_add_func ("/sim/net/reproducible", test_net_reproducible);
  return g_test_run ();
}

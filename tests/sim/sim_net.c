/* The simulated transport (see sim_net.h). All state is indexed by node
 * slot; events carry slots, link generations and endpoint incarnations
 * rather than pointers, so a frame or a peer_down that outlives its
 * endpoint or its link finds out and is dropped. */
#include <string.h>

#include <cairn/error.h>

#include "sim_net.h"

#define CONNECT_MIN_MS 5
#define CONNECT_MAX_MS 30
#define DETECT_MAX_MS 20 /* until a peer notices a dead link */
#define RETRY_MS 20

typedef struct Endpoint {
  CairnTransport base; /* first */
  SimNet *net;
  guint idx, incarnation;
  CairnTransportEvents events;
  void *user_data;
  GHashTable *allowed; /* node ids */
  GHashTable *dials;   /* node ids */
  gboolean started;
  gboolean ever_linked[SIM_NET_MAX];
  CairnTransportStats stats;
} Endpoint;

/* One side's view of its connection to a peer. */
typedef struct Side {
  gboolean up;
  guint gen;
} Side;

typedef struct Link {
  gboolean up, connecting;
  guint gen;
  uint64_t fifo[2]; /* last delivery time per direction (lower -> higher) */
} Link;

struct SimNet {
  SimSched *sched;
  GRand *rand;
  guint n;
  char ids[SIM_NET_MAX][41];
  Endpoint *eps[SIM_NET_MAX];
  guint incarnations;
  Side side[SIM_NET_MAX][SIM_NET_MAX];
  Link links[SIM_NET_MAX][SIM_NET_MAX]; /* [min][max] */
  SimNetFaults f;
  SimNetStats stats;
  SimNetTraceFn trace;
  gpointer trace_data;
};

static Link *
link_of (SimNet *net, guint i, guint j)
{
  return &net->links[MIN (i, j)][MAX (i, j)];
}

static guint
draw (SimNet *net, guint lo, guint hi)
{
  if (hi <= lo)
    return lo;
  return (guint)g_rand_int_range (net->rand, (gint32)lo, (gint32)hi + 1);
}

static void
trace (SimNet *net, const char *event, guint from, guint to, uint8_t channel,
       GBytes *payload)
{
  if (net->trace != NULL)
    net->trace (net, event, from, to, channel, payload, net->trace_data);
}

static gboolean
partitioned (SimNet *net, guint i, guint j)
{
  uint64_t now = sim_sched_now (net->sched);
  return net->f.partition_end_ms > 0 && now >= net->f.partition_start_ms
         && now < net->f.partition_end_ms && net->f.group[i] != net->f.group[j];
}

static gboolean
cut_off (SimNet *net, guint i, guint j)
{
  return net->f.partition_disconnects && partitioned (net, i, j);
}

/* ---- links --------------------------------------------------------------- */

typedef struct {
  SimNet *net;
  guint i, j, gen, incarnation;
} LinkEv;

static void schedule_connect (SimNet *net, guint i, guint j, uint64_t delay);

static gboolean
may_link (SimNet *net, guint i, guint j)
{
  Endpoint *a = net->eps[i], *b = net->eps[j];
  return a != NULL && b != NULL && a->started && b->started
         && g_hash_table_contains (a->allowed, net->ids[j])
         && g_hash_table_contains (b->allowed, net->ids[i])
         && (g_hash_table_contains (a->dials, net->ids[j])
             || g_hash_table_contains (b->dials, net->ids[i]));
}

static void
notify_up (SimNet *net, guint i, guint j)
{
  Endpoint *ep = net->eps[i];
  if (ep == NULL || !ep->started || !net->side[i][j].up)
    return;
  if (ep->ever_linked[j])
    ep->stats.reconnects++;
  ep->ever_linked[j] = TRUE;
  int owner = sim_sched_set_owner (net->sched, (int)i);
  ep->events.peer_up (ep->user_data, net->ids[j]);
  sim_sched_set_owner (net->sched, owner);
}

static void
connect_fire (gpointer data)
{
  LinkEv *e = data;
  SimNet *net = e->net;
  guint i = e->i, j = e->j;
  Link *l = link_of (net, i, j);
  l->connecting = FALSE;
  if (l->up || !may_link (net, i, j) || cut_off (net, i, j))
    return; /* a heal or a (re)start will try again */
  if (net->side[i][j].up || net->side[j][i].up) {
    /* A side has not yet noticed the old link died. */
    schedule_connect (net, i, j, RETRY_MS);
    return;
  }
  l->up = TRUE;
  l->gen++;
  l->fifo[0] = l->fifo[1] = sim_sched_now (net->sched);
  net->side[i][j] = (Side){ TRUE, l->gen };
  net->side[j][i] = (Side){ TRUE, l->gen };
  net->stats.links_up++;
  guint lo = MIN (i, j), hi = MAX (i, j);
  notify_up (net, lo, hi);
  notify_up (net, hi, lo);
}

static void
schedule_connect (SimNet *net, guint i, guint j, uint64_t delay)
{
  Link *l = link_of (net, i, j);
  if (l->connecting || l->up)
    return;
  l->connecting = TRUE;
  LinkEv *e = g_new0 (LinkEv, 1);
  *e = (LinkEv){ net, MIN (i, j), MAX (i, j), 0, 0 };
  sim_sched_add (net->sched, delay, -1, "connect", connect_fire, e, g_free);
}

/* Side i notices that its link to j (generation gen) is gone. */
static void
peer_down_fire (gpointer data)
{
  LinkEv *e = data;
  SimNet *net = e->net;
  Endpoint *ep = net->eps[e->i];
  Side *s = &net->side[e->i][e->j];
  if (ep == NULL || ep->incarnation != e->incarnation || !ep->started || !s->up
      || s->gen != e->gen)
    return;
  s->up = FALSE;
  ep->events.peer_down (ep->user_data, net->ids[e->j]);
  /* Redial, as the TLS transport does. */
  if (may_link (net, e->i, e->j) && !cut_off (net, e->i, e->j))
    schedule_connect (net, e->i, e->j,
                      draw (net, CONNECT_MIN_MS, CONNECT_MAX_MS));
}

static void
schedule_peer_down (SimNet *net, guint i, guint j)
{
  Endpoint *ep = net->eps[i];
  if (ep == NULL || !ep->started || !net->side[i][j].up)
    return;
  LinkEv *e = g_new0 (LinkEv, 1);
  *e = (LinkEv){ net, i, j, net->side[i][j].gen, ep->incarnation };
  sim_sched_add (net->sched, draw (net, 1, DETECT_MAX_MS), (int)i, "peer_down",
                 peer_down_fire, e, g_free);
}

static void
link_break (SimNet *net, guint i, guint j)
{
  Link *l = link_of (net, i, j);
  if (!l->up)
    return;
  l->up = FALSE;
  l->gen++; /* frames in flight die */
  net->stats.links_down++;
  guint lo = MIN (i, j), hi = MAX (i, j);
  schedule_peer_down (net, lo, hi);
  schedule_peer_down (net, hi, lo);
}

static void
partition_start_fire (gpointer data)
{
  SimNet *net = data;
  for (guint i = 0; i < net->n; i++)
    for (guint j = i + 1; j < net->n; j++)
      if (net->f.group[i] != net->f.group[j])
        link_break (net, i, j);
}

static void
partition_end_fire (gpointer data)
{
  SimNet *net = data;
  for (guint i = 0; i < net->n; i++)
    for (guint j = i + 1; j < net->n; j++)
      if (net->f.group[i] != net->f.group[j] && may_link (net, i, j))
        schedule_connect (net, i, j,
                          draw (net, CONNECT_MIN_MS, CONNECT_MAX_MS));
}

/* ---- frames -------------------------------------------------------------- */

typedef struct {
  SimNet *net;
  guint from, to, gen;
  uint8_t channel;
  GBytes *payload;
} Frame;

static void
frame_free (gpointer data)
{
  Frame *fr = data;
  g_bytes_unref (fr->payload);
  g_free (fr);
}

static void
deliver_fire (gpointer data)
{
  Frame *fr = data;
  SimNet *net = fr->net;
  Link *l = link_of (net, fr->from, fr->to);
  if (!l->up || l->gen != fr->gen) {
    net->stats.lost_in_flight++;
    trace (net, "lost", fr->from, fr->to, fr->channel, fr->payload);
    return;
  }
  if (partitioned (net, fr->from, fr->to)) {
    net->stats.partitioned++;
    trace (net, "partition", fr->from, fr->to, fr->channel, fr->payload);
    return;
  }
  Endpoint *ep = net->eps[fr->to];
  g_assert (ep != NULL && ep->started && net->side[fr->to][fr->from].up);
  net->stats.delivered++;
  ep->stats.frames_in++;
  ep->stats.bytes_in += g_bytes_get_size (fr->payload) + 5;
  trace (net, "deliver", fr->from, fr->to, fr->channel, fr->payload);
  ep->events.message (ep->user_data, net->ids[fr->from], fr->channel,
                      fr->payload);
}

static void
schedule_frame (SimNet *net, guint from, guint to, uint8_t channel,
                GBytes *payload, uint64_t at)
{
  Frame *fr = g_new0 (Frame, 1);
  *fr = (Frame){ net,     from,
                 to,      link_of (net, from, to)->gen,
                 channel, g_bytes_ref (payload) };
  uint64_t now = sim_sched_now (net->sched);
  sim_sched_add (net->sched, at - now, (int)to, "deliver", deliver_fire, fr,
                 frame_free);
}

static gboolean
ep_send (CairnTransport *t, const char *peer_id, uint8_t channel,
         GBytes *payload, GError **error)
{
  Endpoint *ep = (Endpoint *)t;
  SimNet *net = ep->net;
  guint i = ep->idx, j;
  for (j = 0; j < net->n; j++)
    if (strcmp (net->ids[j], peer_id) == 0)
      break;
  if (!ep->started || j == net->n || j == i || !net->side[i][j].up) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "sim: peer %s is not connected to %s", peer_id, net->ids[i]);
    return FALSE;
  }
  gsize len = g_bytes_get_size (payload);
  if (channel < CAIRN_P2P_CH_TXS || channel > CAIRN_P2P_CH_DIRECT
      || len > CAIRN_P2P_MAX_FRAME - 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "sim: frame of %" G_GSIZE_FORMAT " bytes on channel %u "
                 "refused",
                 len, channel);
    return FALSE;
  }
  ep->stats.frames_out++;
  ep->stats.bytes_out += len + 5;
  net->stats.sent++;
  trace (net, "send", i, j, channel, payload);
  Link *l = link_of (net, i, j);
  if (!l->up || l->gen != net->side[i][j].gen) {
    /* The link died and this side has not noticed yet. */
    net->stats.lost_in_flight++;
    trace (net, "lost", i, j, channel, payload);
    return TRUE;
  }
  if (partitioned (net, i, j)) {
    net->stats.partitioned++;
    trace (net, "partition", i, j, channel, payload);
    return TRUE;
  }
  uint64_t now = sim_sched_now (net->sched);
  if (now < net->f.faults_until_ms) {
    if (draw (net, 1, 100) <= net->f.drop_pct) {
      net->stats.dropped++;
      trace (net, "drop", i, j, channel, payload);
      return TRUE;
    }
    guint copies = draw (net, 1, 100) <= net->f.dup_pct ? 2 : 1;
    if (copies == 2) {
      net->stats.duplicated++;
      trace (net, "dup", i, j, channel, payload);
    }
    for (guint k = 0; k < copies; k++)
      schedule_frame (
          net, i, j, channel, payload,
          now + draw (net, net->f.delay_min_ms, net->f.fault_delay_max_ms));
    return TRUE;
  }
  /* Normal operation: in order, like one TCP connection. */
  uint64_t *last = &l->fifo[i < j ? 0 : 1];
  uint64_t at = now + draw (net, net->f.delay_min_ms, net->f.delay_max_ms);
  at = MAX (at, *last);
  *last = at;
  schedule_frame (net, i, j, channel, payload, at);
  return TRUE;
}

/* ---- endpoint ops -------------------------------------------------------- */

static gboolean
ep_start (CairnTransport *t, GError **error)
{
  Endpoint *ep = (Endpoint *)t;
  SimNet *net = ep->net;
  if (ep->started)
    return TRUE;
  ep->started = TRUE;
  for (guint j = 0; j < net->n; j++)
    if (j != ep->idx && may_link (net, ep->idx, j)
        && !cut_off (net, ep->idx, j))
      schedule_connect (net, ep->idx, j,
                        draw (net, CONNECT_MIN_MS, CONNECT_MAX_MS));
  return TRUE;
}

static void
ep_stop (CairnTransport *t)
{
  Endpoint *ep = (Endpoint *)t;
  SimNet *net = ep->net;
  if (!ep->started)
    return;
  guint i = ep->idx;
  /* No peer_down for this side; its peers notice after a while. */
  for (guint j = 0; j < net->n; j++)
    net->side[i][j].up = FALSE;
  ep->started = FALSE;
  for (guint j = 0; j < net->n; j++)
    if (j != i)
      link_break (net, i, j);
}

static char **
ep_peers (CairnTransport *t)
{
  Endpoint *ep = (Endpoint *)t;
  SimNet *net = ep->net;
  GPtrArray *out = g_ptr_array_new ();
  for (guint j = 0; j < net->n; j++)
    if (ep->started && net->side[ep->idx][j].up)
      g_ptr_array_add (out, g_strdup (net->ids[j]));
  g_ptr_array_add (out, NULL);
  return (char **)g_ptr_array_free (out, FALSE);
}

static void
ep_stats (CairnTransport *t, CairnTransportStats *out)
{
  *out = ((Endpoint *)t)->stats;
}

static void
ep_free (CairnTransport *t)
{
  Endpoint *ep = (Endpoint *)t;
  if (ep == NULL)
    return;
  ep_stop (t);
  if (ep->net->eps[ep->idx] == ep)
    ep->net->eps[ep->idx] = NULL;
  g_hash_table_unref (ep->allowed);
  g_hash_table_unref (ep->dials);
  g_free (ep);
}

static const CairnTransportOps ep_ops = {
  .start = ep_start,
  .stop = ep_stop,
  .send = ep_send,
  .peers = ep_peers,
  .stats = ep_stats,
  .free = ep_free,
};

CairnTransport *
sim_net_transport_factory (void *factory_data, const CairnKey *node_key,
                           const char *listen, const CairnPeerAddr *dial,
                           guint n_dial, const char *const *allowed,
                           const CairnTransportEvents *events, void *user_data,
                           GError **error)
{
  SimNet *net = factory_data;
  const char *me = cairn_key_address (node_key);
  guint i;
  for (i = 0; i < net->n; i++)
    if (strcmp (net->ids[i], me) == 0)
      break;
  if (i == net->n) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "sim: node %s has no slot in the simulated network", me);
    return NULL;
  }
  if (net->eps[i] != NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "sim: node %s already has a transport", me);
    return NULL;
  }
  Endpoint *ep = g_new0 (Endpoint, 1);
  ep->base.ops = &ep_ops;
  ep->net = net;
  ep->idx = i;
  ep->incarnation = ++net->incarnations;
  ep->events = *events;
  ep->user_data = user_data;
  ep->allowed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ep->dials = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint k = 0; allowed != NULL && allowed[k] != NULL; k++)
    g_hash_table_add (ep->allowed, g_strdup (allowed[k]));
  for (guint k = 0; k < n_dial; k++) {
    /* Dialed peers are always allowed (p2p.h). */
    g_hash_table_add (ep->dials, g_strdup (dial[k].id));
    g_hash_table_add (ep->allowed, g_strdup (dial[k].id));
  }
  for (guint j = 0; j < net->n; j++)
    net->side[i][j] = (Side){ FALSE, 0 };
  net->eps[i] = ep;
  return &ep->base;
}

/* ---- the network --------------------------------------------------------- */

SimNet *
sim_net_new (SimSched *sched, guint64 seed)
{
  SimNet *net = g_new0 (SimNet, 1);
  net->sched = sched;
  guint32 words[3] = { (guint32)seed, (guint32)(seed >> 32), 0x6e6574 };
  net->rand = g_rand_new_with_seed_array (words, 3);
  net->f.delay_min_ms = 1;
  net->f.delay_max_ms = 10;
  net->f.fault_delay_max_ms = 10;
  return net;
}

void
sim_net_free (SimNet *net)
{
  if (net == NULL)
    return;
  for (guint i = 0; i < net->n; i++)
    if (net->eps[i] != NULL)
      ep_free (&net->eps[i]->base);
  g_rand_free (net->rand);
  g_free (net);
}

guint
sim_net_add_node (SimNet *net, const char *node_id)
{
  g_assert (net->n < SIM_NET_MAX && strlen (node_id) == 40);
  g_strlcpy (net->ids[net->n], node_id, sizeof net->ids[0]);
  return net->n++;
}

void
sim_net_set_faults (SimNet *net, const SimNetFaults *faults)
{
  net->f = *faults;
  if (faults->partition_end_ms > faults->partition_start_ms) {
    uint64_t now = sim_sched_now (net->sched);
    if (faults->partition_disconnects)
      sim_sched_add (net->sched,
                     faults->partition_start_ms > now
                         ? faults->partition_start_ms - now
                         : 0,
                     -1, "partition", partition_start_fire, net, NULL);
    sim_sched_add (
        net->sched,
        faults->partition_end_ms > now ? faults->partition_end_ms - now : 0, -1,
        "heal", partition_end_fire, net, NULL);
  }
}

void
sim_net_set_trace (SimNet *net, SimNetTraceFn fn, gpointer user_data)
{
  net->trace = fn;
  net->trace_data = user_data;
}

void
sim_net_stats (SimNet *net, SimNetStats *out)
{
  *out = net->stats;
}

gboolean
sim_net_started (SimNet *net, guint i)
{
  return i < net->n && net->eps[i] != NULL && net->eps[i]->started;
}

gboolean
sim_net_linked (SimNet *net, guint i, guint j)
{
  return i < net->n && j < net->n && net->side[i][j].up && net->side[j][i].up;
}

/* Gossip and catch-up over the P2P transport.
 *
 * - CH_TXS: signed txs, each as u32 big-endian length + its canonical
 *   bytes. A tx whose id (SHA-256 of those bytes) this node has seen
 *   lately is dropped before it is parsed or verified; admitted ones are
 *   passed on to every other peer but those the sender told us it is
 *   connected to (it sent them the tx itself): in a full mesh each node
 *   receives each tx once instead of once from every peer.
 * - CH_BLOCKS: a committed block in its stored form (with certificate).
 *   The next height is validated (re-executed), its certificate checked by
 *   the consensus plugin, and committed; a later height starts a catch-up.
 * - CH_SYNC: {"type":"get","from":N} asks for blocks from N;
 *   {"type":"head","height":H,"peers":[ids]} tells a peer how far this
 *   node is and which peers it has (sent again to all when that changes).
 *   Every node tells its peers its head every SYNC_TICK_MS; a peer that is
 *   further answers with its own, so a node that fell behind learns it
 *   even while the chain waits (for it, say). A catch-up request stays
 *   outstanding until the head reaches it or SYNC_RETRY_MS pass, so a
 *   batch cut short (frames lost, a full send queue) never ends it.
 * - CH_CONSENSUS: opaque messages for the consensus plugin.
 * - CH_DIRECT: u8 id length, plugin id, data: a direct message for that
 *   plugin's handler (host direct_send), never relayed. */
#include <string.h>

#include "apply_ahead.h"
#include "cjson.h"
#include "node_private.h"
#include "watchdog.h"
#include "p2p.h"

#define SYNC_BATCH 256
#define SYNC_RETRY_MS 1000
#define SYNC_TICK_MS 2000
/* A peer's list of its own peers longer than this is ignored. */
#define MAX_PEER_PEERS 1024
/* Catch-up: blocks applied this far behind the newest received one. */
#define AHEAD_DEPTH 8
#define AHEAD_STALL_MS 50

/* FALSE (logged at debug level) when the peer is gone or its send queue
 * is full. */
static gboolean
send_bytes (CairnNode *node, const char *peer, uint8_t channel, GBytes *b)
{
  g_autoptr (GError) err = NULL;
  if (node->p2p->ops->send (node->p2p, peer, channel, b, &err))
    return TRUE;
  g_debug ("p2p: send to %s: %s", peer, err->message);
  return FALSE;
}

/* obj (taken) as compact JSON with sorted keys; NULL if it cannot be
 * written. */
static GBytes *
json_bytes (json_t *obj)
{
  char *text = json_dumps (obj, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (obj);
  return text ? g_bytes_new_take (text, strlen (text)) : NULL;
}

static void
send_json (CairnNode *node, const char *peer, uint8_t channel, json_t *obj)
{
  g_autoptr (GBytes) b = json_bytes (obj);
  if (b)
    send_bytes (node, peer, channel, b);
}

void
cairn_gossip_broadcast (CairnNode *node, uint8_t channel, GBytes *payload,
                        const char *except)
{
  if (node->p2p == NULL)
    return;
  g_auto (GStrv) peers = node->p2p->ops->peers (node->p2p);
  for (guint i = 0; peers[i]; i++) {
    if (except && strcmp (peers[i], except) == 0)
      continue;
    send_bytes (node, peers[i], channel, payload);
  }
}

/* Ids of txs seen lately, in two generations: lookups see both, inserts
 * go to the young one, which becomes the old one when full. */
#define SEEN_GENERATION 65536

static gboolean
seen_has (CairnNode *node, const uint8_t id[32])
{
  if (node->txs_seen[0] == NULL)
    return FALSE;
  g_autoptr (GBytes) key = g_bytes_new_static (id, 32);
  return g_hash_table_contains (node->txs_seen[0], key)
         || g_hash_table_contains (node->txs_seen[1], key);
}

static void
seen_add (CairnNode *node, const uint8_t id[32])
{
  if (node->txs_seen[0] == NULL) {
    for (int g = 0; g < 2; g++)
      node->txs_seen[g] = g_hash_table_new_full (
          g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
  }
  if (g_hash_table_size (node->txs_seen[0]) >= SEEN_GENERATION) {
    GHashTable *old = node->txs_seen[1];
    node->txs_seen[1] = node->txs_seen[0];
    node->txs_seen[0] = old;
    g_hash_table_remove_all (old);
  }
  g_hash_table_add (node->txs_seen[0], g_bytes_new (id, 32));
}

/* Worth another try later (room, or the missing nonces, may come). */
static gboolean
transient (const GError *e)
{
  return e && e->domain == CAIRN_REJECT
         && (e->code == CAIRN_REJECT_MEMPOOL_FULL
             || e->code == CAIRN_REJECT_SENDER_LIMIT
             || e->code == CAIRN_REJECT_NONCE_GAP);
}

void
cairn_gossip_free (CairnNode *node)
{
  for (int g = 0; g < 2; g++)
    g_clear_pointer (&node->txs_seen[g], g_hash_table_unref);
  g_clear_pointer (&node->peer_peers, g_hash_table_unref);
}

/* Tx frames stay well under CAIRN_P2P_MAX_FRAME. */
#define TX_FRAME_BYTES (1u << 20)

/* Whether txs that `source` sent us go on to `target`: not back to the
 * source, nor to a peer the source told us it has, since the source sent
 * them there itself. NULL source: our own (API) txs go to every peer. */
static gboolean
relays_to (CairnNode *node, const char *target, const char *source)
{
  if (source == NULL)
    return TRUE;
  if (strcmp (target, source) == 0)
    return FALSE;
  GHashTable *theirs = node->peer_peers
                           ? g_hash_table_lookup (node->peer_peers, source)
                           : NULL;
  return theirs == NULL || !g_hash_table_contains (theirs, target);
}

/* txs as CH_TXS frames to `peer`, or when peer is NULL to every peer that
 * txs from `source` go on to (relays_to). Stops at a full send queue (the
 * txs stay in the mempool). */
static void
send_txs (CairnNode *node, const char *peer, CairnTx **txs, guint n,
          const char *source)
{
  g_auto (GStrv) targets = NULL;
  if (peer == NULL) {
    targets = node->p2p->ops->peers (node->p2p);
    guint k = 0;
    for (guint j = 0; targets[j]; j++) {
      if (relays_to (node, targets[j], source))
        targets[k++] = targets[j];
      else
        g_free (targets[j]);
    }
    targets[k] = NULL;
  }
  for (guint i = 0; i < n;) {
    g_autoptr (GByteArray) s = g_byte_array_new ();
    for (; i < n && (s->len == 0 || s->len + 4 + txs[i]->len <= TX_FRAME_BYTES);
         i++) {
      seen_add (node, txs[i]->id);
      uint8_t hdr[4] = { txs[i]->len >> 24, txs[i]->len >> 16, txs[i]->len >> 8,
                         txs[i]->len };
      g_byte_array_append (s, hdr, 4);
      g_byte_array_append (s, (const guint8 *)txs[i]->bytes, txs[i]->len);
    }
    g_autoptr (GBytes) b = g_byte_array_free_to_bytes (g_steal_pointer (&s));
    if (peer == NULL) {
      for (guint j = 0; targets[j]; j++)
        send_bytes (node, targets[j], CAIRN_P2P_CH_TXS, b);
    } else if (!send_bytes (node, peer, CAIRN_P2P_CH_TXS, b)) {
      return;
    }
  }
}

void
cairn_gossip_txs (CairnNode *node, CairnTx **txs, guint n, const char *source)
{
  if (node->p2p == NULL || n == 0)
    return;
  send_txs (node, NULL, txs, n, source);
}

/* A peer that was away missed the txs gossiped meanwhile: the ones a block
 * could take now go to it, so they commit wherever the proposer is. */
static void
send_pending_txs (CairnNode *node, const char *peer)
{
  g_autoptr (GPtrArray) txs
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  cairn_mempool_collect (node->mempool, G_MAXUINT, G_MAXUINT64, txs);
  send_txs (node, peer, (CairnTx **)txs->pdata, txs->len, NULL);
}

void
cairn_gossip_block (CairnNode *node, const char *bytes, size_t len)
{
  if (node->p2p == NULL)
    return;
  g_autoptr (GBytes) b = g_bytes_new (bytes, len);
  cairn_gossip_broadcast (node, CAIRN_P2P_CH_BLOCKS, b, NULL);
}

/* {"type":"head","height":H,"peers":[our peers]} */
static GBytes *
head_message (CairnNode *node)
{
  g_auto (GStrv) mine = node->p2p->ops->peers (node->p2p);
  json_t *peers = json_array ();
  for (guint i = 0; mine[i] && i < MAX_PEER_PEERS; i++)
    json_array_append_new (peers, json_string (mine[i]));
  return json_bytes (json_pack ("{s:s, s:I, s:o}", "type", "head", "height",
                                (json_int_t)node->head.height, "peers", peers));
}

static void
send_head (CairnNode *node, const char *peer)
{
  g_autoptr (GBytes) b = head_message (node);
  if (b)
    send_bytes (node, peer, CAIRN_P2P_CH_SYNC, b);
}

/* One message for every peer (the tick, and when our links change). */
static void
send_head_all (CairnNode *node)
{
  g_autoptr (GBytes) b = head_message (node);
  if (b)
    cairn_gossip_broadcast (node, CAIRN_P2P_CH_SYNC, b, NULL);
}

/* What `peer` told us of its peers; without a list (an older node, or one
 * too long), txs from it go on to everyone. */
static void
learn_peer_peers (CairnNode *node, const char *peer, const json_t *list)
{
  if (node->peer_peers == NULL)
    node->peer_peers = g_hash_table_new_full (
        g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  if (!json_is_array (list) || json_array_size (list) > MAX_PEER_PEERS) {
    g_hash_table_remove (node->peer_peers, peer);
    return;
  }
  GHashTable *set
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
  {
    if (json_is_string (v))
      g_hash_table_add (set, g_strdup (json_string_value (v)));
  }
  g_hash_table_replace (node->peer_peers, g_strdup (peer), set);
}

static uint64_t have_height (CairnNode *node);

static gboolean
may_request (CairnNode *node)
{
  return have_height (node) >= node->sync_requested
         || node->clock->mono_ms (node->clock) - node->sync_requested_ms
                >= SYNC_RETRY_MS;
}

/* Ask peer for SYNC_BATCH blocks from height from. */
static void
request_blocks (CairnNode *node, const char *peer, uint64_t from)
{
  node->sync_requested = from - 1 + SYNC_BATCH;
  node->sync_requested_ms = node->clock->mono_ms (node->clock);
  send_json (node, peer, CAIRN_P2P_CH_SYNC,
             json_pack ("{s:s, s:I}", "type", "get", "from", (json_int_t)from));
}

/* ---- receiving ---------------------------------------------------------- */

static void
on_txs (CairnNode *node, const char *peer, GBytes *payload)
{
  gsize len;
  const uint8_t *data = g_bytes_get_data (payload, &len);
  g_autoptr (GPtrArray) txs
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  for (gsize off = 0; off < len;) {
    uint32_t n = len - off < 4
                     ? 0
                     : (uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16
                           | (uint32_t)data[off + 2] << 8 | data[off + 3];
    if (n == 0 || n > len - off - 4) {
      node->metrics.p2p_bad_messages++;
      g_info ("p2p: txs from %s refused: bad length at byte %" G_GSIZE_FORMAT,
              peer, off);
      break;
    }
    const char *bytes = (const char *)data + off + 4;
    off += 4 + n;
    uint8_t id[32];
    cairn_sha256 (bytes, n, id);
    if (seen_has (node, id)) {
      node->metrics.p2p_tx_duplicates++;
      continue;
    }
    g_autoptr (GError) err = NULL;
    CairnTx *tx = cairn_tx_decode (bytes, n, node->genesis->chain_id, &err);
    if (tx) {
      g_ptr_array_add (txs, tx);
    } else {
      node->metrics.p2p_bad_messages++;
      g_info ("p2p: tx from %s refused: %s", peer, err->message);
    }
  }
  g_autofree GError **errs = g_new0 (GError *, MAX (txs->len, 1));
  cairn_node_admit (node, (CairnTx **)txs->pdata, txs->len, errs, peer);
  for (guint i = 0; i < txs->len; i++) {
    CairnTx *tx = txs->pdata[i];
    if (errs[i] && !transient (errs[i]))
      seen_add (node, tx->id); /* admitted ones were added by the relay */
    g_clear_error (&errs[i]);
  }
}

gboolean
cairn_node_apply_stored_block (CairnNode *node, const void *data, size_t len,
                               gboolean defer, GError **error)
{
  g_autoptr (CairnApplyAhead) one = cairn_apply_ahead_new (node);
  return cairn_apply_ahead_push (one, data, len, error)
         && cairn_apply_ahead_drain (one, 0, defer, error);
}

/* The newest height this node has or holds in its catch-up queue. */
static uint64_t
have_height (CairnNode *node)
{
  return node->ahead ? cairn_apply_ahead_tail (node->ahead) : node->head.height;
}

static void
drain_ahead (CairnNode *node, guint keep)
{
  guint64 before = cairn_apply_ahead_applied (node->ahead);
  g_autoptr (GError) err = NULL;
  if (!cairn_apply_ahead_drain (node->ahead, keep,
                                node->best_peer_height > have_height (node),
                                &err)) {
    node->metrics.p2p_bad_messages++;
    g_warning ("p2p: catch-up block refused: %s", err->message);
  }
  node->metrics.blocks_synced
      += cairn_apply_ahead_applied (node->ahead) - before;
}

/* Blocks stopped arriving with some still queued (a batch cut short, the
 * last ones of a catch-up): apply them. */
static gboolean
ahead_stalled (gpointer data)
{
  CairnNode *node = data;
  uint64_t tail = have_height (node);
  if (cairn_apply_ahead_length (node->ahead) == 0) {
    node->ahead_timer = 0; /* drained meanwhile */
    return G_SOURCE_REMOVE;
  }
  if (tail != node->ahead_tail_seen) {
    node->ahead_tail_seen = tail; /* still arriving */
    return G_SOURCE_CONTINUE;
  }
  drain_ahead (node, 0);
  node->ahead_timer = 0;
  return G_SOURCE_REMOVE;
}

static void
on_block (CairnNode *node, const char *peer, GBytes *payload)
{
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  /* Peek at the height without parsing: every peer sends each block. */
  uint64_t height;
  if (!cairn_block_peek_height (data, len, &height)) {
    node->metrics.p2p_bad_messages++;
    return;
  }
  uint64_t have = have_height (node);
  if (height <= have)
    return; /* already have it */
  if (height > have + 1) {
    node->best_peer_height = MAX (node->best_peer_height, height);
    if (may_request (node))
      request_blocks (node, peer, have + 1);
    return;
  }
  g_autoptr (GError) err = NULL;
  if (!cairn_apply_ahead_push (node->ahead, data, len, &err)) {
    node->metrics.p2p_bad_messages++;
    g_warning ("p2p: block %" G_GUINT64_FORMAT " from %s refused: %s", height,
               peer, err->message);
    return;
  }
  /* While more follow, apply AHEAD_DEPTH behind the newest: the pool
   * checks the certificates in between (apply_ahead.h). */
  gboolean more = node->best_peer_height > height;
  drain_ahead (node, more ? AHEAD_DEPTH : 0);
  if (cairn_apply_ahead_length (node->ahead) > 0 && node->ahead_timer == 0) {
    node->ahead_tail_seen = have_height (node);
    node->ahead_timer = node->clock->timeout_add (node->clock, AHEAD_STALL_MS,
                                                  ahead_stalled, node, NULL);
  }
  /* Halfway through a catch-up batch, ask for the next one, so it is on
   * its way before this one runs out; at its end (the next was lost or
   * never asked for), ask from the newest held. */
  have = have_height (node);
  if (have >= node->sync_requested && node->best_peer_height > have)
    request_blocks (node, peer, have + 1);
  else if (have + SYNC_BATCH / 2 == node->sync_requested
           && node->best_peer_height > node->sync_requested)
    request_blocks (node, peer, node->sync_requested + 1);
}

static void
serve_blocks (CairnNode *node, const char *peer, uint64_t from)
{
  send_head (node, peer);
  for (uint64_t h = from; h <= node->head.height && h < from + SYNC_BATCH;
       h++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (GBytes) raw = node->storage.block_get (node->store, h, &err);
    if (raw == NULL)
      return;
    if (!node->p2p->ops->send (node->p2p, peer, CAIRN_P2P_CH_BLOCKS, raw, &err))
      return; /* queue full: the peer asks again */
  }
}

static void
on_sync (CairnNode *node, const char *peer, GBytes *payload)
{
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  g_autoptr (json_t) msg = json_loadb (data, len, JSON_REJECT_DUPLICATES, NULL);
  const char *type = json_string_value (json_object_get (msg, "type"));
  if (g_strcmp0 (type, "get") == 0
      && json_is_integer (json_object_get (msg, "from"))
      && json_integer_value (json_object_get (msg, "from")) > 0) {
    serve_blocks (node, peer,
                  json_integer_value (json_object_get (msg, "from")));
  } else if (g_strcmp0 (type, "head") == 0
             && json_is_integer (json_object_get (msg, "height"))) {
    uint64_t h = json_integer_value (json_object_get (msg, "height"));
    uint64_t have = have_height (node);
    learn_peer_peers (node, peer, json_object_get (msg, "peers"));
    node->best_peer_height = MAX (node->best_peer_height, h);
    if (h < node->head.height)
      send_head (node, peer); /* it is behind: tell it */
    else if (h > have && may_request (node))
      request_blocks (node, peer, have + 1);
    /* A batch from this peer ends at its head. */
    if (h < node->sync_requested)
      node->sync_requested = MAX (h, have);
  } else {
    node->metrics.p2p_bad_messages++;
  }
}

/* u8 id length, plugin id, data: for that plugin's direct handler. */
static void
on_direct (CairnNode *node, const char *peer, GBytes *payload)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (payload, &len);
  DirectEntry *d = NULL;
  if (len >= 1 && (gsize)p[0] + 1 <= len) {
    g_autofree char *id = g_strndup ((const char *)p + 1, p[0]);
    d = g_hash_table_lookup (node->direct, id);
  }
  if (d == NULL) {
    node->metrics.p2p_bad_messages++;
    g_info ("p2p: direct message from %s for no plugin here", peer);
    return;
  }
  CairnPluginCall call
      = cairn_plugin_call_enter (d->plugin->desc.id, "direct message");
  d->fn (d->plugin, peer, p + 1 + p[0], len - 1 - p[0], d->user_data);
  cairn_plugin_call_leave (call);
}

static void
on_message (void *user_data, const char *peer, uint8_t channel, GBytes *payload)
{
  CairnNode *node = user_data;
  switch (channel) {
  case CAIRN_P2P_CH_TXS:
    on_txs (node, peer, payload);
    break;
  case CAIRN_P2P_CH_BLOCKS:
    on_block (node, peer, payload);
    break;
  case CAIRN_P2P_CH_SYNC:
    on_sync (node, peer, payload);
    break;
  case CAIRN_P2P_CH_DIRECT:
    on_direct (node, peer, payload);
    break;
  case CAIRN_P2P_CH_CONSENSUS:
    if (node->consensus.on_peer_message) {
      CairnPluginCall call = cairn_plugin_call_enter (
          node->consensus_plugin->desc.id, "consensus message");
      node->consensus.on_peer_message (node->consensus_plugin, peer,
                                       g_bytes_get_data (payload, NULL),
                                       g_bytes_get_size (payload));
      cairn_plugin_call_leave (call);
    }
    break;
  default:
    node->metrics.p2p_bad_messages++;
  }
}

static void
on_peer_up (void *user_data, const char *peer)
{
  CairnNode *node = user_data;
  g_info ("p2p: peer %s connected", peer);
  /* Tell it (and the others: our peers changed) how far we are, and ask
   * what we miss. */
  send_head_all (node);
  request_blocks (node, peer, have_height (node) + 1);
  send_pending_txs (node, peer);
  if (node->consensus.on_peer_connected)
    node->consensus.on_peer_connected (node->consensus_plugin, peer);
}

static void
on_peer_down (void *user_data, const char *peer)
{
  CairnNode *node = user_data;
  g_info ("p2p: peer %s disconnected", peer);
  if (node->peer_peers)
    g_hash_table_remove (node->peer_peers, peer);
  /* The others relay our txs to it again. */
  send_head_all (node);
  if (node->consensus.on_peer_disconnected)
    node->consensus.on_peer_disconnected (node->consensus_plugin, peer);
}

static gboolean
sync_tick (gpointer data)
{
  send_head_all (data);
  return G_SOURCE_CONTINUE;
}

gboolean
cairn_gossip_start (CairnNode *node, GError **error)
{
  static const CairnTransportEvents events = {
    .peer_up = on_peer_up,
    .peer_down = on_peer_down,
    .message = on_message,
  };
  /* Allowed: genesis validators, persistent peers, [p2p] allow. */
  g_autoptr (GPtrArray) allowed = g_ptr_array_new_with_free_func (g_free);
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get (node->genesis->doc, "validators"), i, v)
      g_ptr_array_add (allowed, g_strdup (json_string_value (
                                    json_object_get (v, "address"))));
  for (guint k = 0; node->p2p_allow && node->p2p_allow[k]; k++)
    g_ptr_array_add (allowed, g_strdup (node->p2p_allow[k]));
  g_ptr_array_add (allowed, NULL);
  const CairnPeerAddr *dial = (CairnPeerAddr *)(void *)node->p2p_peers->data;
  if (node->transport_factory)
    node->p2p = node->transport_factory (
        node->transport_factory_data, node->key, node->p2p_listen, dial,
        node->p2p_peers->len, (const char *const *)allowed->pdata, &events,
        node, error);
  else
    node->p2p = cairn_tls_transport_new (
        node->key, node->p2p_listen, dial, node->p2p_peers->len,
        (const char *const *)allowed->pdata, &events, node, error);
  if (node->p2p != NULL && node->transport_factory == NULL)
    cairn_tls_transport_set_limits (node->p2p, &node->p2p_limits);
  if (node->p2p == NULL)
    return FALSE;
  if (!node->p2p->ops->start (node->p2p, error)) {
    node->p2p->ops->free (node->p2p);
    node->p2p = NULL;
    g_prefix_error (error, "[p2p] listen %s: ", node->p2p_listen);
    return FALSE;
  }
  node->ahead = cairn_apply_ahead_new (node);
  node->head_tick_source = node->clock->timeout_add (node->clock, SYNC_TICK_MS,
                                                     sync_tick, node, NULL);
  if (node->transport_factory == NULL)
    g_message ("p2p: node id %s listening on port %u, %u persistent peers",
               cairn_key_address (node->key),
               cairn_tls_transport_port (node->p2p), node->p2p_peers->len);
  return TRUE;
}

void
cairn_gossip_stop (CairnNode *node)
{
  if (node->p2p == NULL)
    return;
  cairn_clock_clear (node->clock, &node->head_tick_source);
  cairn_clock_clear (node->clock, &node->ahead_timer);
  g_clear_pointer (&node->ahead, cairn_apply_ahead_free);
  node->p2p->ops->stop (node->p2p);
  node->p2p->ops->free (node->p2p);
  node->p2p = NULL;
}

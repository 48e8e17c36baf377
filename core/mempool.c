/* The mempool (see mempool.h). */
#include "mempool.h"

#include <string.h>

typedef struct {
  CairnTx *tx;
  int64_t arrived_ms;
} Entry;

typedef struct {
  char *sender;
  uint64_t account_nonce; /* next nonce in committed state */
  GTree *by_nonce;        /* uint64 nonce (boxed) -> Entry* */
  uint64_t first_seq;     /* arrival order of the sender, for fairness */
  GList *link;            /* in CairnMempool.order */
  guint ready;            /* length of the run starting at account_nonce */
} Sender;

struct CairnMempool {
  CairnMempoolLimits limits;
  GHashTable *by_id;   /* id_hex -> Entry* (owns entries) */
  GHashTable *senders; /* sender -> Sender* */
  GQueue order;        /* Sender* by first arrival */
  guint64 bytes;
  uint64_t seq;
  guint ready; /* sum of Sender.ready: executable txs */
};

static int
nonce_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void
entry_free (gpointer p)
{
  Entry *e = p;
  cairn_tx_unref (e->tx);
  g_free (e);
}

static void
sender_free (gpointer p)
{
  Sender *s = p;
  g_tree_destroy (s->by_nonce);
  g_free (s->sender);
  g_free (s);
}

CairnMempool *
cairn_mempool_new (const CairnMempoolLimits *limits)
{
  CairnMempool *mp = g_new0 (CairnMempool, 1);
  mp->limits = *limits;
  mp->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  mp->senders
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, sender_free);
  g_queue_init (&mp->order);
  return mp;
}

void
cairn_mempool_free (CairnMempool *mp)
{
  if (mp == NULL)
    return;
  g_queue_clear (&mp->order);
  g_hash_table_destroy (mp->senders);
  g_hash_table_destroy (mp->by_id);
  g_free (mp);
}

static Sender *
sender_get (CairnMempool *mp, const char *addr, gboolean create)
{
  Sender *s = g_hash_table_lookup (mp->senders, addr);
  if (s || !create)
    return s;
  s = g_new0 (Sender, 1);
  s->sender = g_strdup (addr);
  s->by_nonce = g_tree_new_full (nonce_cmp, NULL, g_free, NULL);
  s->first_seq = mp->seq++;
  g_hash_table_insert (mp->senders, s->sender, s);
  g_queue_push_tail (&mp->order, s);
  s->link = mp->order.tail;
  return s;
}

/* Recount the sender's executable run (after its nonce or txs changed). */
static void
sender_recount (CairnMempool *mp, Sender *s)
{
  guint n = 0;
  uint64_t k = s->account_nonce;
  while (g_tree_lookup (s->by_nonce, &k)) {
    n++;
    k++;
  }
  mp->ready = mp->ready - s->ready + n;
  s->ready = n;
}

static void
sender_drop_if_empty (CairnMempool *mp, Sender *s)
{
  if (g_tree_nnodes (s->by_nonce) > 0)
    return;
  g_queue_delete_link (&mp->order, s->link);
  g_hash_table_remove (mp->senders, s->sender);
}

/* Remove one entry from every index. */
static void
remove_entry (CairnMempool *mp, Sender *s, Entry *e)
{
  uint64_t n = e->tx->nonce;
  g_tree_remove (s->by_nonce, &n);
  mp->bytes -= e->tx->len;
  g_hash_table_remove (mp->by_id, e->tx->id_hex); /* frees e */
}

gboolean
cairn_mempool_precheck (CairnMempool *mp, CairnTx *tx, uint64_t account_nonce,
                        GError **error)
{
  if (g_hash_table_contains (mp->by_id, tx->id_hex)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_DUPLICATE,
                 "tx %s is already pending", tx->id_hex);
    return FALSE;
  }
  if (tx->nonce < account_nonce) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_NONCE_TOO_LOW,
                 "nonce %" G_GUINT64_FORMAT " of %s is already used (next is "
                 "%" G_GUINT64_FORMAT ")",
                 tx->nonce, tx->from, account_nonce);
    return FALSE;
  }
  if (tx->nonce - account_nonce > mp->limits.max_nonce_gap) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_NONCE_GAP,
                 "nonce %" G_GUINT64_FORMAT
                 " of %s is more than %" G_GUINT64_FORMAT
                 " ahead of the account's next nonce %" G_GUINT64_FORMAT,
                 tx->nonce, tx->from, mp->limits.max_nonce_gap, account_nonce);
    return FALSE;
  }
  Sender *s = sender_get (mp, tx->from, FALSE);
  Entry *other = s ? g_tree_lookup (s->by_nonce, &tx->nonce) : NULL;
  if (other) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_DUPLICATE,
                 "nonce %" G_GUINT64_FORMAT
                 " of %s is already pending in tx %s",
                 tx->nonce, tx->from, other->tx->id_hex);
    return FALSE;
  }
  if (s && mp->limits.max_per_sender > 0
      && (guint)g_tree_nnodes (s->by_nonce) >= mp->limits.max_per_sender) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_SENDER_LIMIT,
                 "%s already has %d pending txs (the limit per sender, "
                 "[mempool] max_txs_per_sender); retry after some commit",
                 tx->from, g_tree_nnodes (s->by_nonce));
    return FALSE;
  }
  return TRUE;
}

gboolean
cairn_mempool_add (CairnMempool *mp, CairnTx *tx, uint64_t account_nonce,
                   int64_t now_ms, GError **error)
{
  if (!cairn_mempool_precheck (mp, tx, account_nonce, error))
    return FALSE;
  if (g_hash_table_size (mp->by_id) >= mp->limits.max_txs
      || mp->bytes + tx->len > mp->limits.max_bytes) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MEMPOOL_FULL,
                 "mempool is full (%u txs, %" G_GUINT64_FORMAT
                 " bytes); retry later",
                 g_hash_table_size (mp->by_id), mp->bytes);
    return FALSE;
  }
  Sender *s = sender_get (mp, tx->from, TRUE);
  if (account_nonce > s->account_nonce) {
    s->account_nonce = account_nonce;
    sender_recount (mp, s);
  }
  Entry *e = g_new (Entry, 1);
  e->tx = cairn_tx_ref (tx);
  e->arrived_ms = now_ms;
  uint64_t *key = g_new (uint64_t, 1);
  *key = tx->nonce;
  g_tree_insert (s->by_nonce, key, e);
  g_hash_table_insert (mp->by_id, e->tx->id_hex, e);
  mp->bytes += tx->len;
  /* Extends the executable run only when it lands right after it. */
  if (tx->nonce == s->account_nonce + s->ready) {
    uint64_t k = tx->nonce;
    while (g_tree_lookup (s->by_nonce, &k)) {
      s->ready++;
      mp->ready++;
      k++;
    }
  }
  return TRUE;
}

void
cairn_mempool_collect (CairnMempool *mp, guint max_txs, guint64 max_bytes,
                       GPtrArray *out)
{
  guint64 bytes = 0;
  for (GList *l = mp->order.head; l && out->len < max_txs; l = l->next) {
    Sender *s = l->data;
    uint64_t n = s->account_nonce;
    for (;;) {
      Entry *e = g_tree_lookup (s->by_nonce, &n);
      if (e == NULL || out->len >= max_txs || bytes + e->tx->len > max_bytes)
        break;
      g_ptr_array_add (out, cairn_tx_ref (e->tx));
      bytes += e->tx->len;
      n++;
    }
  }
}

typedef struct {
  uint64_t below;
  GPtrArray *victims;
} BelowCollect;

static gboolean
collect_below (gpointer key, gpointer value, gpointer data)
{
  BelowCollect *c = data;
  if (*(uint64_t *)key >= c->below)
    return TRUE; /* sorted: stop */
  g_ptr_array_add (c->victims, value);
  return FALSE;
}

void
cairn_mempool_set_nonce (CairnMempool *mp, const char *sender,
                         uint64_t account_nonce)
{
  Sender *s = sender_get (mp, sender, FALSE);
  if (s == NULL)
    return;
  s->account_nonce = account_nonce;
  g_autoptr (GPtrArray) victims = g_ptr_array_new ();
  BelowCollect c = { account_nonce, victims };
  g_tree_foreach (s->by_nonce, collect_below, &c);
  for (guint i = 0; i < victims->len; i++)
    remove_entry (mp, s, victims->pdata[i]);
  sender_recount (mp, s);
  sender_drop_if_empty (mp, s);
}

guint
cairn_mempool_expire (CairnMempool *mp, int64_t now_ms)
{
  int64_t cutoff = now_ms - mp->limits.ttl_ms;
  g_autoptr (GPtrArray) victims = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, mp->by_id);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (((Entry *)v)->arrived_ms < cutoff)
      g_ptr_array_add (victims, v);
  for (guint i = 0; i < victims->len; i++) {
    Entry *e = victims->pdata[i];
    Sender *s = sender_get (mp, e->tx->from, FALSE);
    remove_entry (mp, s, e);
    sender_recount (mp, s);
    sender_drop_if_empty (mp, s);
  }
  return victims->len;
}

CairnTx *
cairn_mempool_lookup (CairnMempool *mp, const char *id_hex)
{
  Entry *e = g_hash_table_lookup (mp->by_id, id_hex);
  return e ? e->tx : NULL;
}

uint64_t
cairn_mempool_next_nonce (CairnMempool *mp, const char *sender,
                          uint64_t account_nonce)
{
  Sender *s = sender_get (mp, sender, FALSE);
  uint64_t n = account_nonce;
  if (s == NULL)
    return n;
  while (g_tree_lookup (s->by_nonce, &n))
    n++;
  return n;
}

guint
cairn_mempool_count (CairnMempool *mp)
{
  return g_hash_table_size (mp->by_id);
}

guint
cairn_mempool_executable (CairnMempool *mp)
{
  return mp->ready;
}

guint64
cairn_mempool_bytes (CairnMempool *mp)
{
  return mp->bytes;
}

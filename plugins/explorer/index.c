/* explorer: this node's index of its latest blocks (in memory, rebuilt at
 * start from the stored blocks) and the /v1/explorer/... routes that read
 * it: search, block by hash, an account's txs, stats with tx/s. */
#include <string.h>

#include "explorer.h"

#define CATCHUP_BLOCKS_PER_TICK 200
#define ACCOUNT_TXS_DEFAULT 100
#define ACCOUNT_TXS_MAX 1000

typedef struct {
  char id[65];
  char *type;
  uint64_t height;
  uint32_t index;
  gboolean sender; /* else a recipient (body "to") */
} AcctTx;

/* One indexed block: what to take out when it leaves the window. */
typedef struct {
  uint64_t height;
  char hash[65];
  GPtrArray *tx_ids;   /* char* */
  GPtrArray *accounts; /* char*, one per AcctTx added, in order */
} Indexed;

struct ExplorerIndex {
  GHashTable *by_hash;  /* hash -> height (guint64*) */
  GHashTable *tx_at;    /* tx id -> height (guint64*) */
  GHashTable *accounts; /* address -> GQueue of AcctTx*, oldest first */
  GQueue blocks;        /* Indexed*, oldest first */
  uint64_t next;        /* next height to index */
  gboolean caught_up;
  guint timer, sub;
  /* tx/s: txs per second of block time, a ring keyed by second */
  int64_t tps_sec[EXPLORER_TPS_SECONDS];
  uint64_t tps_txs[EXPLORER_TPS_SECONDS];
  int64_t last_block_ms;
};

static void
acct_tx_free (AcctTx *t)
{
  g_free (t->type);
  g_free (t);
}

static void
account_queue_free (GQueue *q)
{
  g_queue_free_full (q, (GDestroyNotify)acct_tx_free);
}

static void
indexed_free (Indexed *b)
{
  g_ptr_array_unref (b->tx_ids);
  g_ptr_array_unref (b->accounts);
  g_free (b);
}

static guint64 *
boxed (uint64_t v)
{
  guint64 *p = g_new (guint64, 1);
  *p = v;
  return p;
}

static void
count_tps (ExplorerIndex *ix, int64_t time_ms, uint64_t txs)
{
  int64_t sec = time_ms / 1000;
  guint slot = (guint)(sec % EXPLORER_TPS_SECONDS);
  if (ix->tps_sec[slot] != sec) {
    ix->tps_sec[slot] = sec;
    ix->tps_txs[slot] = 0;
  }
  ix->tps_txs[slot] += txs;
  ix->last_block_ms = MAX (ix->last_block_ms, time_ms);
}

static void
add_account (ExplorerIndex *ix, Indexed *b, const char *addr, const char *id,
             const char *type, uint32_t index, gboolean sender)
{
  GQueue *q = g_hash_table_lookup (ix->accounts, addr);
  if (q == NULL) {
    q = g_queue_new ();
    g_hash_table_insert (ix->accounts, g_strdup (addr), q);
  }
  AcctTx *t = g_new0 (AcctTx, 1);
  g_strlcpy (t->id, id, sizeof t->id);
  t->type = g_strdup (type ? type : "");
  t->height = b->height;
  t->index = index;
  t->sender = sender;
  g_queue_push_tail (q, t);
  g_ptr_array_add (b->accounts, g_strdup (addr));
}

/* Take the oldest indexed block out. */
static void
evict_oldest (ExplorerIndex *ix)
{
  Indexed *b = g_queue_pop_head (&ix->blocks);
  if (b == NULL)
    return;
  g_hash_table_remove (ix->by_hash, b->hash);
  for (guint i = 0; i < b->tx_ids->len; i++)
    g_hash_table_remove (ix->tx_at, b->tx_ids->pdata[i]);
  for (guint i = 0; i < b->accounts->len; i++) {
    GQueue *q = g_hash_table_lookup (ix->accounts, b->accounts->pdata[i]);
    if (q == NULL)
      continue;
    acct_tx_free (g_queue_pop_head (q));
    if (g_queue_is_empty (q))
      g_hash_table_remove (ix->accounts, b->accounts->pdata[i]);
  }
  indexed_free (b);
}

/* One tx of a block, as the index needs it. */
typedef struct {
  const char *id, *type, *from, *to; /* to: NULL when none */
} TxSummary;

/* Add a block (height must be ix->next) to the index. */
static void
index_add (Explorer *ex, uint64_t height, const char *hash, int64_t time_ms,
           const TxSummary *txs, guint n)
{
  ExplorerIndex *ix = ex->index;
  Indexed *b = g_new0 (Indexed, 1);
  b->height = height;
  g_strlcpy (b->hash, hash, sizeof b->hash);
  b->tx_ids = g_ptr_array_new_full (n, g_free);
  b->accounts = g_ptr_array_new_full (n * 2, g_free);
  for (guint i = 0; i < n; i++) {
    const TxSummary *t = &txs[i];
    g_ptr_array_add (b->tx_ids, g_strdup (t->id));
    g_hash_table_replace (ix->tx_at, g_strdup (t->id), boxed (height));
    if (t->from)
      add_account (ix, b, t->from, t->id, t->type, i, TRUE);
    /* A body naming an account under "to" (bank.transfer and the like). */
    if (t->to && g_strcmp0 (t->to, t->from) != 0)
      add_account (ix, b, t->to, t->id, t->type, i, FALSE);
  }
  g_hash_table_replace (ix->by_hash, g_strdup (b->hash), boxed (height));
  count_tps (ix, time_ms, n);
  g_queue_push_tail (&ix->blocks, b);
  while ((int64_t)g_queue_get_length (&ix->blocks) > ex->index_blocks)
    evict_oldest (ix);
  ix->next = height + 1;
}

/* Index the stored block at height (which must be ix->next): at start and
 * when the index fell behind the block events. */
static gboolean
index_block (Explorer *ex, uint64_t height, GError **error)
{
  g_autoptr (json_t) blk = ex_host->block_get (ex->self, height, error);
  if (blk == NULL)
    return FALSE;
  json_t *header = json_object_get (blk, "header");
  size_t len;
  g_autofree char *hb = ex_host->json_canonical (header, &len, error);
  if (hb == NULL)
    return FALSE;
  uint8_t d[32];
  ex_host->sha256 (hb, len, d);
  g_autofree char *hash = cairn_hex_encode (d, 32);
  json_t *txs = json_object_get (blk, "txs");
  guint n = json_array_size (txs);
  g_autofree TxSummary *sum = g_new0 (TxSummary, MAX (n, 1));
  g_autoptr (GPtrArray) ids = g_ptr_array_new_full (n, g_free);
  for (guint i = 0; i < n; i++) {
    json_t *tx = json_array_get (txs, i);
    g_autofree char *tb = ex_host->json_canonical (tx, &len, error);
    if (tb == NULL)
      return FALSE;
    ex_host->sha256 (tb, len, d);
    g_ptr_array_add (ids, cairn_hex_encode (d, 32));
    const char *to = json_string_value (
        json_object_get (json_object_get (tx, "body"), "to"));
    sum[i] = (TxSummary){
      .id = ids->pdata[i],
      .type = json_string_value (json_object_get (tx, "type")),
      .from = json_string_value (json_object_get (tx, "from")),
      .to = to && ex_host->address_valid (to) ? to : NULL,
    };
  }
  index_add (ex, height, hash,
             json_integer_value (json_object_get (header, "time")), sum, n);
  return TRUE;
}

/* Index a block from its "block" event, which lists each tx's id, type,
 * sender and recipient: no read of the block. FALSE when the event lacks
 * them (then the block is read from the store). */
static gboolean
index_event (Explorer *ex, const CairnEvent *ev)
{
  const json_t *a = ev->attrs;
  const char *hash = json_string_value (json_object_get (a, "hash"));
  json_t *ids = json_object_get (a, "txs");
  json_t *types = json_object_get (a, "tx_types");
  json_t *senders = json_object_get (a, "senders");
  json_t *recipients = json_object_get (a, "recipients");
  guint n = json_array_size (ids);
  if (hash == NULL || strlen (hash) != 64 || json_array_size (types) != n
      || json_array_size (senders) != n || json_array_size (recipients) != n)
    return FALSE;
  g_autofree TxSummary *sum = g_new0 (TxSummary, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    sum[i] = (TxSummary){
      .id = json_string_value (json_array_get (ids, i)),
      .type = json_string_value (json_array_get (types, i)),
      .from = json_string_value (json_array_get (senders, i)),
      .to = json_string_value (json_array_get (recipients, i)),
    };
    if (sum[i].id == NULL || strlen (sum[i].id) != 64)
      return FALSE;
  }
  index_add (ex, ev->height, hash,
             json_integer_value (json_object_get (a, "time")), sum, n);
  return TRUE;
}

/* Index up to CATCHUP_BLOCKS_PER_TICK blocks up to the head. */
static gboolean
catch_up (CairnPlugin *self, void *ud)
{
  Explorer *ex = ud;
  ExplorerIndex *ix = ex->index;
  uint64_t head = ex_host->chain_head (self)->height;
  for (guint n = 0; n < CATCHUP_BLOCKS_PER_TICK && ix->next <= head; n++) {
    g_autoptr (GError) e = NULL;
    if (!index_block (ex, ix->next, &e)) {
      g_warning ("explorer: indexing block %" G_GUINT64_FORMAT ": %s", ix->next,
                 e->message);
      ix->next++; /* skip it rather than stop the index */
    }
  }
  ix->caught_up = ix->next > head;
  return TRUE;
}

static void
on_block (CairnPlugin *self, const CairnEvent *ev, void *ud)
{
  Explorer *ex = ud;
  ExplorerIndex *ix = ex->index;
  if (!ix->caught_up || ev->height != ix->next) {
    /* The catch-up timer gets there in order. */
    ix->caught_up = FALSE;
    return;
  }
  if (index_event (ex, ev))
    return;
  g_autoptr (GError) e = NULL;
  if (!index_block (ex, ev->height, &e)) {
    g_warning ("explorer: indexing block %" G_GUINT64_FORMAT ": %s", ev->height,
               e->message);
    ix->next = ev->height + 1;
  }
}

gboolean
ex_index_init (Explorer *ex, GError **error)
{
  ExplorerIndex *ix = g_new0 (ExplorerIndex, 1);
  ix->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ix->tx_at = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ix->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)account_queue_free);
  g_queue_init (&ix->blocks);
  ex->index = ix;
  return TRUE;
}

gboolean
ex_index_start (Explorer *ex, GError **error)
{
  ExplorerIndex *ix = ex->index;
  uint64_t head = ex_host->chain_head (ex->self)->height;
  ix->next = head >= (uint64_t)ex->index_blocks
                 ? head - (uint64_t)ex->index_blocks + 1
                 : 1;
  if (!ex->index_on) {
    ix->next = head + 1;
    ix->caught_up = TRUE;
  }
  ix->sub = ex_host->subscribe (ex->self, "block", on_block, ex);
  ix->timer = ex_host->timer_add (ex->self, 50, catch_up, ex);
  return TRUE;
}

void
ex_index_stop (Explorer *ex)
{
  ExplorerIndex *ix = ex->index;
  if (ix == NULL)
    return;
  if (ix->timer)
    ex_host->timer_remove (ex->self, ix->timer);
  if (ix->sub)
    ex_host->unsubscribe (ex->self, ix->sub);
  ix->timer = ix->sub = 0;
}

void
ex_index_free (Explorer *ex)
{
  ExplorerIndex *ix = ex->index;
  if (ix == NULL)
    return;
  g_queue_clear_full (&ix->blocks, (GDestroyNotify)indexed_free);
  g_hash_table_destroy (ix->by_hash);
  g_hash_table_destroy (ix->tx_at);
  g_hash_table_destroy (ix->accounts);
  g_free (ix);
  ex->index = NULL;
}

/* ---- routes ------------------------------------------------------------- */

static void
add_match (json_t *matches, const char *kind, const char *id)
{
  json_array_append_new (matches,
                         json_pack ("{s:s,s:s}", "kind", kind, "id", id));
}

/* GET /v1/explorer/search?q= */
static gboolean
route_search (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *ud, GError **error)
{
  Explorer *ex = ud;
  ExplorerIndex *ix = ex->index;
  const char *raw = g_hash_table_lookup (req->query, "q");
  if (raw == NULL || strlen (raw) > 256)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "q: what to search for (a height, block hash, tx id, "
                       "address, service id or CID), at most 256 bytes");
  g_autofree char *q = g_strstrip (g_strdup (raw));
  g_autofree char *lower = g_ascii_strdown (q, -1);
  json_t *matches = json_array ();
  uint64_t head = ex_host->chain_head (self)->height;
  guint64 h;
  if (q[0] && g_ascii_string_to_unsigned (q, 10, 0, head, &h, NULL)) {
    g_autofree char *s = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    add_match (matches, "block", s);
  } else if (cairn_hex_lower_valid (lower, 20)) {
    add_match (matches, "account", lower);
  } else if (cairn_hex_lower_valid (lower, 32)) {
    guint64 *bh = g_hash_table_lookup (ix->by_hash, lower);
    if (bh) {
      g_autofree char *s = g_strdup_printf ("%" G_GUINT64_FORMAT, *bh);
      add_match (matches, "block", s);
    }
    char k[80];
    g_snprintf (k, sizeof k, "svc/%s", lower);
    g_autoptr (GBytes) svc
        = ex_host->state_get (self, NULL, "services", k, NULL);
    if (svc != NULL)
      add_match (matches, "service", lower);
    /* A tx older than the index is still looked up by the page. */
    if (g_hash_table_contains (ix->tx_at, lower) || bh == NULL)
      add_match (matches, "tx", lower);
  } else if (cairn_cid_valid (q)) {
    uint64_t size;
    if (CAIRN_HOST_HAS (ex_host, blob_stat)
        && ex_host->blob_stat (self, q, &size, NULL))
      add_match (matches, "cid", q);
  }
  resp->json = json_pack ("{s:s,s:o}", "q", q, "matches", matches);
  return TRUE;
}

/* GET /v1/explorer/blocks/by-hash/{hash} */
static gboolean
route_by_hash (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
               void *ud, GError **error)
{
  Explorer *ex = ud;
  g_autofree char *hash = g_ascii_strdown (req->path_rest, -1);
  if (!cairn_hex_lower_valid (hash, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "'%s' is not a block hash (64 hex)", req->path_rest);
  guint64 *h = g_hash_table_lookup (ex->index->by_hash, hash);
  if (h == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "no block %s among the %" G_GUINT64_FORMAT " latest "
                       "this node indexed",
                       hash, (guint64)g_queue_get_length (&ex->index->blocks));
  resp->json = json_pack ("{s:s,s:I}", "hash", hash, "height", (json_int_t)*h);
  return TRUE;
}

/* GET /v1/explorer/accounts/{address}/txs[?limit=N] */
static gboolean
route_account_txs (CairnPlugin *self, const CairnRequest *req,
                   CairnResponse *resp, void *ud, GError **error)
{
  Explorer *ex = ud;
  g_auto (GStrv) parts = g_strsplit (req->path_rest, "/", 3);
  if (g_strv_length (parts) != 2 || strcmp (parts[1], "txs") != 0)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no route %s", req->path);
  const char *addr = parts[0];
  if (!ex_host->address_valid (addr))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "'%s' is not an address",
                       addr);
  const char *l = g_hash_table_lookup (req->query, "limit");
  guint64 limit = ACCOUNT_TXS_DEFAULT;
  if (l
      && !g_ascii_string_to_unsigned (l, 10, 1, ACCOUNT_TXS_MAX, &limit, NULL))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "limit must be 1 to %d",
                       ACCOUNT_TXS_MAX);
  json_t *txs = json_array ();
  GQueue *q = g_hash_table_lookup (ex->index->accounts, addr);
  for (GList *it = q ? q->tail : NULL;
       it != NULL && json_array_size (txs) < limit; it = it->prev) {
    AcctTx *t = it->data;
    json_array_append_new (txs, json_pack ("{s:s,s:I,s:I,s:s,s:s}", "id", t->id,
                                           "height", (json_int_t)t->height,
                                           "index", (json_int_t)t->index,
                                           "type", t->type, "role",
                                           t->sender ? "sender" : "recipient"));
  }
  resp->json = json_pack ("{s:s,s:o}", "address", addr, "txs", txs);
  return TRUE;
}

/* GET /v1/explorer/stats */
static gboolean
route_stats (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
             void *ud, GError **error)
{
  Explorer *ex = ud;
  ExplorerIndex *ix = ex->index;
  const CairnChainHead *head = ex_host->chain_head (self);
  int64_t now = ex_host->now_ms (self) / 1000;
  json_t *tps = json_array ();
  for (int64_t t = now - EXPLORER_TPS_SECONDS + 1; t <= now; t++) {
    guint slot = (guint)(t % EXPLORER_TPS_SECONDS);
    uint64_t n = ix->tps_sec[slot] == t ? ix->tps_txs[slot] : 0;
    json_array_append_new (
        tps, json_pack ("{s:I,s:I}", "t", (json_int_t)t, "txs", (json_int_t)n));
  }
  g_auto (GStrv) peers = ex_host->peer_list ? ex_host->peer_list (self) : NULL;
  Indexed *first = g_queue_peek_head (&ix->blocks);
  resp->json = json_pack (
      "{s:s,s:I,s:I,s:I,s:o,s:I,s:I,s:b}", "chain_id", head->chain_id, "height",
      (json_int_t)head->height, "last_block_time_ms", (json_int_t)head->time_ms,
      "peers", (json_int_t)(peers ? g_strv_length (peers) : 0), "tps", tps,
      "indexed_from", (json_int_t)(first ? first->height : 0), "indexed_to",
      (json_int_t)(ix->next ? ix->next - 1 : 0), "caught_up", ix->caught_up);
  return TRUE;
}

gboolean
ex_register_api (Explorer *ex, GError **error)
{
  return ex_host->register_route (ex->self, "GET", "/v1/explorer/search",
                                  route_search, ex, error)
         && ex_host->register_route (ex->self, "GET",
                                     "/v1/explorer/blocks/by-hash/",
                                     route_by_hash, ex, error)
         && ex_host->register_route (ex->self, "GET", "/v1/explorer/accounts/",
                                     route_account_txs, ex, error)
         && ex_host->register_route (ex->self, "GET", "/v1/explorer/stats",
                                     route_stats, ex, error);
}

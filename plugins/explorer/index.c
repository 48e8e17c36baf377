/* explorer: this node's index of its latest blocks (in memory, rebuilt at
 * start from the stored blocks) and the /v1/explorer/... routes that read
 * it: search, block by hash, an account's txs, stats with tx/s. */
#include <string.h>

#include "explorer.h"

#define CATCHUP_BLOCKS_PER_TICK 200
#define ACCOUNT_TXS_DEFAULT 100
#define ACCOUNT_TXS_MAX 1000

/* The index is compact and bounded (README "The index in memory"): per tx one
 * fixed-size TxRec, stored with the other txs of its block in the block's
 * one allocation (IxBlock), and one entry of the tx_at set pointing at it.
 * Per account one ExAccount, shared by all its records. No string is
 * copied; the only allocations are one per block and one per account new
 * to the index.
 *
 * Txs are numbered in indexing order from 1 (seq); a record's seq is its
 * block's first_seq + its index in the block. An account's records form a
 * chain from its newest to older ones through links: seq * 2 + 1 when the
 * account is the record's recipient, seq * 2 when its sender, 0 for none.
 * Eviction always takes the oldest block, so a link whose seq is below the
 * oldest indexed seq points at a record that left: the walk stops there,
 * and nothing needs unlinking. An account leaves when no indexed record
 * names it (refs). */

/* A set of pointers to structs that start with their key (an id, a hash,
 * an address: binary, at least 8 bytes), so that entries need no key
 * copy: open addressing with linear probing, at most 3/4 full, and
 * backward-shift deletion (no tombstones, so its size follows the entries
 * only: 8 bytes per slot, 10.7 to 21.3 bytes per entry). The slot is the
 * key's first 8 bytes mixed with a random seed (keys are hashes, but a tx
 * id's low bits can be ground to collide; the seeded mix of 64 bits
 * cannot be aimed at). */
typedef struct {
  gpointer *slots;
  guint bits; /* 1 << bits slots */
  gsize n;
  gsize keylen;
  guint64 seed;
} PtrSet;

#define PTRSET_MIN_BITS 6

static void
ptrset_init (PtrSet *s, gsize keylen)
{
  s->bits = PTRSET_MIN_BITS;
  s->slots = g_new0 (gpointer, (gsize)1 << s->bits);
  s->n = 0;
  s->keylen = keylen;
  s->seed = (guint64)g_random_int () << 32 | g_random_int ();
}

static void
ptrset_clear (PtrSet *s)
{
  g_clear_pointer (&s->slots, g_free);
  s->n = 0;
}

static inline gsize
ptrset_slot (const PtrSet *s, gconstpointer key)
{
  guint64 k;
  memcpy (&k, key, sizeof k);
  return (gsize)(((k ^ s->seed) * UINT64_C (0x9E3779B97F4A7C15))
                 >> (64 - s->bits));
}

static gpointer
ptrset_lookup (const PtrSet *s, gconstpointer key)
{
  gsize mask = ((gsize)1 << s->bits) - 1;
  gpointer e;
  for (gsize i = ptrset_slot (s, key); (e = s->slots[i]) != NULL;
       i = (i + 1) & mask)
    if (memcmp (e, key, s->keylen) == 0)
      return e;
  return NULL;
}

static void
ptrset_put (PtrSet *s, gpointer item) /* its key is not in the set */
{
  gsize mask = ((gsize)1 << s->bits) - 1, i = ptrset_slot (s, item);
  while (s->slots[i] != NULL)
    i = (i + 1) & mask;
  s->slots[i] = item;
}

/* Adds item; an entry with the same key is replaced. */
static void
ptrset_add (PtrSet *s, gpointer item)
{
  gsize mask = ((gsize)1 << s->bits) - 1;
  for (gsize i = ptrset_slot (s, item); s->slots[i] != NULL; i = (i + 1) & mask)
    if (memcmp (s->slots[i], item, s->keylen) == 0) {
      s->slots[i] = item;
      return;
    }
  if ((s->n + 1) * 4 > ((gsize)3 << s->bits)) {
    gpointer *old = s->slots;
    gsize n_old = (gsize)1 << s->bits;
    s->bits++;
    s->slots = g_new0 (gpointer, (gsize)1 << s->bits);
    for (gsize i = 0; i < n_old; i++)
      if (old[i] != NULL)
        ptrset_put (s, old[i]);
    g_free (old);
  }
  ptrset_put (s, item);
  s->n++;
}

/* Removes item itself (not another entry with its key); nothing if absent. */
static void
ptrset_remove (PtrSet *s, gpointer item)
{
  gsize mask = ((gsize)1 << s->bits) - 1, i = ptrset_slot (s, item);
  for (; s->slots[i] != item; i = (i + 1) & mask)
    if (s->slots[i] == NULL)
      return;
  /* Move later entries of the run back into the hole when their slot is
   * not between the hole and them. */
  for (gsize j = i;;) {
    s->slots[i] = NULL;
    for (;;) {
      j = (j + 1) & mask;
      if (s->slots[j] == NULL) {
        s->n--;
        return;
      }
      gsize k = ptrset_slot (s, s->slots[j]);
      if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
        continue;
      break;
    }
    s->slots[i] = s->slots[j];
    i = j;
  }
}

typedef struct {
  uint8_t addr[20]; /* first: the accounts set's key */
  uint32_t refs;    /* indexed records naming it */
  uint64_t newest;  /* link to its newest record */
} ExAccount;

typedef struct {
  uint8_t id[32];       /* first: the tx_at set's key */
  const char *type;     /* in the index's type table */
  ExAccount *from, *to; /* NULL when none (to: also when to == from) */
  uint64_t prev_from;   /* the sender's previous record (link) */
  uint64_t prev_to;     /* the recipient's previous record (link) */
} TxRec;

/* Accounts come from chunks of ACCOUNT_CHUNK (32 bytes each, where a
 * malloc of one would take 48); a free one holds the next free one. The
 * chunks stay until the index is freed: at most one per ACCOUNT_CHUNK
 * accounts indexed at once. */
#define ACCOUNT_CHUNK 1024
typedef union AccountSlot {
  ExAccount account;
  union AccountSlot *next_free;
} AccountSlot;

/* One indexed block and its txs, one allocation. */
typedef struct {
  uint8_t hash[32]; /* first: the by_hash set's key */
  uint64_t height;
  uint64_t first_seq; /* seq of recs[0] */
  guint n;
  TxRec recs[];
} IxBlock;

struct ExplorerIndex {
  PtrSet by_hash;  /* IxBlock*, by hash */
  PtrSet tx_at;    /* TxRec*, by id */
  PtrSet accounts; /* ExAccount*, by address */
  AccountSlot *free_accounts;
  GPtrArray *account_chunks; /* AccountSlot[ACCOUNT_CHUNK] each */
  GHashTable *types;         /* tx type -> itself (owned) */
  /* Indexed blocks, oldest first: a ring of cap slots from head. */
  IxBlock **ring;
  guint cap, head, len;
  uint64_t txs;      /* records indexed */
  uint64_t next_seq; /* seq of the next record */
  uint64_t next;     /* next height to index */
  gboolean caught_up;
  guint timer, sub;
  /* tx/s: txs per second of block time, a ring keyed by second */
  int64_t tps_sec[EXPLORER_TPS_SECONDS];
  uint64_t tps_txs[EXPLORER_TPS_SECONDS];
  int64_t last_block_ms;
};

static IxBlock *
ring_at (const ExplorerIndex *ix, guint i)
{
  return ix->ring[(ix->head + i) % ix->cap];
}

static void
ring_push (ExplorerIndex *ix, IxBlock *b)
{
  if (ix->len == ix->cap) {
    guint cap = ix->cap ? ix->cap * 2 : 64;
    IxBlock **r = g_new (IxBlock *, cap);
    for (guint i = 0; i < ix->len; i++)
      r[i] = ring_at (ix, i);
    g_free (ix->ring);
    ix->ring = r;
    ix->cap = cap;
    ix->head = 0;
  }
  ix->ring[(ix->head + ix->len) % ix->cap] = b;
  ix->len++;
}

/* The seq of the oldest indexed record (next_seq when none). */
static uint64_t
oldest_seq (const ExplorerIndex *ix)
{
  return ix->len ? ring_at (ix, 0)->first_seq : ix->next_seq;
}

/* The indexed record of seq and its block, or NULL when it left. */
static TxRec *
rec_of (const ExplorerIndex *ix, uint64_t seq, IxBlock **block)
{
  if (seq < oldest_seq (ix) || seq >= ix->next_seq)
    return NULL;
  /* The last block whose first_seq <= seq (empty blocks before it share
   * its first_seq). */
  guint lo = 0, hi = ix->len;
  while (hi - lo > 1) {
    guint mid = lo + (hi - lo) / 2;
    if (ring_at (ix, mid)->first_seq <= seq)
      lo = mid;
    else
      hi = mid;
  }
  IxBlock *b = ring_at (ix, lo);
  g_assert (seq - b->first_seq < b->n);
  *block = b;
  return &b->recs[seq - b->first_seq];
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

static ExAccount *
account_new (ExplorerIndex *ix)
{
  if (ix->free_accounts == NULL) {
    AccountSlot *c = g_new (AccountSlot, ACCOUNT_CHUNK);
    g_ptr_array_add (ix->account_chunks, c);
    for (guint i = ACCOUNT_CHUNK; i-- > 0;) {
      c[i].next_free = ix->free_accounts;
      ix->free_accounts = &c[i];
    }
  }
  AccountSlot *slot = ix->free_accounts;
  ix->free_accounts = slot->next_free;
  memset (&slot->account, 0, sizeof slot->account);
  return &slot->account;
}

/* The account of a hex address (created), or NULL when addr is none or
 * not 40 hex digits. */
static ExAccount *
account_ref (ExplorerIndex *ix, const char *addr)
{
  uint8_t raw[20];
  if (addr == NULL || !cairn_hex_decode (addr, raw, sizeof raw))
    return NULL;
  ExAccount *a = ptrset_lookup (&ix->accounts, raw);
  if (a == NULL) {
    a = account_new (ix);
    memcpy (a->addr, raw, sizeof raw);
    ptrset_add (&ix->accounts, a);
  }
  a->refs++;
  return a;
}

static void
account_unref (ExplorerIndex *ix, ExAccount *a)
{
  if (a != NULL && --a->refs == 0) {
    ptrset_remove (&ix->accounts, a);
    AccountSlot *slot = (AccountSlot *)a;
    slot->next_free = ix->free_accounts;
    ix->free_accounts = slot;
  }
}

/* Take the oldest indexed block out: O(its txs). */
static void
evict_oldest (ExplorerIndex *ix)
{
  if (ix->len == 0)
    return;
  IxBlock *b = ring_at (ix, 0);
  ix->head = (ix->head + 1) % ix->cap;
  ix->len--;
  /* A set entry is removed only if it is this block's (an id or hash
   * indexed again later points at the later one). */
  ptrset_remove (&ix->by_hash, b);
  for (guint i = 0; i < b->n; i++) {
    TxRec *r = &b->recs[i];
    ptrset_remove (&ix->tx_at, r);
    account_unref (ix, r->from);
    account_unref (ix, r->to);
  }
  ix->txs -= b->n;
  g_free (b);
}

/* One tx of a block, as the index needs it. */
typedef struct {
  const uint8_t *id;            /* 32 bytes */
  const char *type, *from, *to; /* to: NULL when none */
} TxSummary;

/* Add a block (height must be ix->next) to the index, then take the
 * oldest blocks out while more than index_blocks blocks or index_txs txs
 * are indexed (the newest block always stays). */
static void
index_add (Explorer *ex, uint64_t height, const uint8_t hash[32],
           int64_t time_ms, const TxSummary *txs, guint n)
{
  ExplorerIndex *ix = ex->index;
  IxBlock *b = g_malloc (sizeof (IxBlock) + (gsize)n * sizeof (TxRec));
  memcpy (b->hash, hash, 32);
  b->height = height;
  b->first_seq = ix->next_seq;
  b->n = n;
  for (guint i = 0; i < n; i++) {
    const TxSummary *t = &txs[i];
    TxRec *r = &b->recs[i];
    uint64_t seq = b->first_seq + i;
    memcpy (r->id, t->id, 32);
    const char *type = t->type ? t->type : "";
    r->type = g_hash_table_lookup (ix->types, type);
    if (r->type == NULL) {
      char *copy = g_strdup (type);
      g_hash_table_add (ix->types, copy);
      r->type = copy;
    }
    r->prev_from = r->prev_to = 0;
    r->from = account_ref (ix, t->from);
    if (r->from) {
      r->prev_from = r->from->newest;
      r->from->newest = seq * 2;
    }
    /* A body naming an account under "to" (bank.transfer and the like). */
    r->to = t->to && g_strcmp0 (t->to, t->from) != 0 ? account_ref (ix, t->to)
                                                     : NULL;
    if (r->to) {
      r->prev_to = r->to->newest;
      r->to->newest = seq * 2 + 1;
    }
    ptrset_add (&ix->tx_at, r);
  }
  ptrset_add (&ix->by_hash, b);
  ix->next_seq += n;
  ix->txs += n;
  count_tps (ix, time_ms, n);
  ring_push (ix, b);
  while (ix->len > 1
         && ((int64_t)ix->len > ex->index_blocks
             || (int64_t)ix->txs > ex->index_txs))
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
  uint8_t hash[32];
  ex_host->sha256 (hb, len, hash);
  json_t *txs = json_object_get (blk, "txs");
  guint n = json_array_size (txs);
  g_autofree TxSummary *sum = g_new0 (TxSummary, MAX (n, 1));
  g_autofree uint8_t *ids = g_malloc ((gsize)MAX (n, 1) * 32);
  for (guint i = 0; i < n; i++) {
    json_t *tx = json_array_get (txs, i);
    g_autofree char *tb = ex_host->json_canonical (tx, &len, error);
    if (tb == NULL)
      return FALSE;
    ex_host->sha256 (tb, len, ids + (gsize)i * 32);
    const char *to = json_string_value (
        json_object_get (json_object_get (tx, "body"), "to"));
    sum[i] = (TxSummary){
      .id = ids + (gsize)i * 32,
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
gboolean
ex_index_event (Explorer *ex, const CairnEvent *ev)
{
  const json_t *a = ev->attrs;
  const char *hex = json_string_value (json_object_get (a, "hash"));
  json_t *ids = json_object_get (a, "txs");
  json_t *types = json_object_get (a, "tx_types");
  json_t *senders = json_object_get (a, "senders");
  json_t *recipients = json_object_get (a, "recipients");
  guint n = json_array_size (ids);
  uint8_t hash[32];
  if (!cairn_hex_decode (hex, hash, sizeof hash) || json_array_size (types) != n
      || json_array_size (senders) != n || json_array_size (recipients) != n)
    return FALSE;
  g_autofree TxSummary *sum = g_new0 (TxSummary, MAX (n, 1));
  g_autofree uint8_t *raw = g_malloc ((gsize)MAX (n, 1) * 32);
  for (guint i = 0; i < n; i++) {
    uint8_t *id = raw + (gsize)i * 32;
    if (!cairn_hex_decode (json_string_value (json_array_get (ids, i)), id, 32))
      return FALSE;
    sum[i] = (TxSummary){
      .id = id,
      .type = json_string_value (json_array_get (types, i)),
      .from = json_string_value (json_array_get (senders, i)),
      .to = json_string_value (json_array_get (recipients, i)),
    };
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
  if (!ex->index_on)
    return TRUE; /* on_block keeps the height */
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
  if (!ex->index_on) {
    /* index = false: only tx/s and the height for stats. */
    count_tps (ix, json_integer_value (json_object_get (ev->attrs, "time")),
               json_integer_value (json_object_get (ev->attrs, "tx_count")));
    ix->next = ev->height + 1;
    return;
  }
  if (ev->height != ix->next) {
    /* The catch-up timer gets there in order. */
    ix->caught_up = FALSE;
    return;
  }
  /* The next one, also while the timer catches up (a node that syncs
   * commits blocks faster than the timer would read them back). */
  if (!ex_index_event (ex, ev)) {
    g_autoptr (GError) e = NULL;
    if (!index_block (ex, ev->height, &e)) {
      g_warning ("explorer: indexing block %" G_GUINT64_FORMAT ": %s",
                 ev->height, e->message);
      ix->next = ev->height + 1;
    }
  }
  ix->caught_up = ix->next > ex_host->chain_head (self)->height;
}

gboolean
ex_index_init (Explorer *ex, GError **error)
{
  ExplorerIndex *ix = g_new0 (ExplorerIndex, 1);
  ptrset_init (&ix->by_hash, 32);
  ptrset_init (&ix->tx_at, 32);
  ptrset_init (&ix->accounts, 20);
  ix->account_chunks = g_ptr_array_new_with_free_func (g_free);
  ix->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ix->next_seq = 1;
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
  while (ix->len > 0)
    evict_oldest (ix);
  g_free (ix->ring);
  ptrset_clear (&ix->by_hash);
  ptrset_clear (&ix->tx_at);
  ptrset_clear (&ix->accounts); /* empty: every account left with its txs */
  g_ptr_array_unref (ix->account_chunks);
  g_hash_table_destroy (ix->types);
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
    uint8_t key[32];
    cairn_hex_decode (lower, key, sizeof key);
    IxBlock *bh = ptrset_lookup (&ix->by_hash, key);
    if (bh) {
      g_autofree char *s = g_strdup_printf ("%" G_GUINT64_FORMAT, bh->height);
      add_match (matches, "block", s);
    }
    char k[80];
    g_snprintf (k, sizeof k, "svc/%s", lower);
    g_autoptr (GBytes) svc
        = ex_host->state_get (self, NULL, "services", k, NULL);
    if (svc != NULL)
      add_match (matches, "service", lower);
    /* A tx older than the index (or never seen) is still looked up by the
     * page, at the core's /v1/txs/{id}. */
    if (ptrset_lookup (&ix->tx_at, key) != NULL || bh == NULL)
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
  uint8_t key[32];
  cairn_hex_decode (hash, key, sizeof key);
  IxBlock *b = ptrset_lookup (&ex->index->by_hash, key);
  if (b == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "no block %s among the %" G_GUINT64_FORMAT " latest "
                       "this node indexed",
                       hash, (guint64)ex->index->len);
  resp->json
      = json_pack ("{s:s,s:I}", "hash", hash, "height", (json_int_t)b->height);
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
  ExplorerIndex *ix = ex->index;
  json_t *txs = json_array ();
  uint8_t raw[20];
  cairn_hex_decode (addr, raw, sizeof raw);
  ExAccount *a = ptrset_lookup (&ix->accounts, raw);
  /* Newest first along the account's links, until one that left. */
  uint64_t link = a ? a->newest : 0;
  IxBlock *b;
  TxRec *r;
  while (json_array_size (txs) < limit
         && (r = rec_of (ix, link / 2, &b)) != NULL) {
    gboolean recipient = link & 1;
    g_autofree char *id = cairn_hex_encode (r->id, 32);
    json_array_append_new (
        txs, json_pack ("{s:s,s:I,s:I,s:s,s:s}", "id", id, "height",
                        (json_int_t)b->height, "index",
                        (json_int_t)(link / 2 - b->first_seq), "type", r->type,
                        "role", recipient ? "recipient" : "sender"));
    link = recipient ? r->prev_to : r->prev_from;
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
  IxBlock *first = ix->len ? ring_at (ix, 0) : NULL;
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

/* market: the ranking of an epoch (README.md, "The ranking of epoch E"),
 * market.rank, the issuance schedule and market.distribute. Integers
 * only; every list sorted with a total order. */
#include <string.h>

#include "market.h"

typedef struct {
  char id[65];
  int64_t calls, duration, ratings, rating_sum;
  int64_t bayes, weight, score;
} SvcAgg;

typedef struct {
  char node[41];
  int64_t calls, duration;
  GHashTable *services; /* set of service ids */
} NodeAgg;

typedef struct {
  Market *m;
  const MktParams *p;
  size_t skip;
  GHashTable *svcs;   /* id -> SvcAgg */
  GHashTable *nodes;  /* addr -> NodeAgg */
  GHashTable *users;  /* addr -> int64 calls (boxed) */
  GHashTable *raters; /* addr -> int64 count (boxed) */
  gboolean bad;
} Agg;

static void
node_free (gpointer p)
{
  NodeAgg *n = p;
  g_hash_table_destroy (n->services);
  g_free (n);
}

/* Sums saturate at INT64_MAX: one app node could otherwise report enough
 * duration to overflow (undefined behaviour in consensus code). */
static void
add_sat (int64_t *sum, int64_t v)
{
  if (__builtin_add_overflow (*sum, v, sum))
    *sum = INT64_MAX;
}

static SvcAgg *
svc_of (Agg *a, const char *id)
{
  SvcAgg *s = g_hash_table_lookup (a->svcs, id);
  if (s == NULL) {
    s = g_new0 (SvcAgg, 1);
    g_strlcpy (s->id, id, sizeof s->id);
    g_hash_table_insert (a->svcs, s->id, s);
  }
  return s;
}

static void
count_add (GHashTable *t, const char *addr, int64_t n)
{
  int64_t *v = g_hash_table_lookup (t, addr);
  if (v == NULL) {
    v = g_new0 (int64_t, 1);
    g_hash_table_insert (t, g_strdup (addr), v);
  }
  add_sat (v, n);
}

static json_t *
parse_value (Agg *a, const uint8_t *value, size_t len)
{
  json_t *v = mkt_host->json_parse_canonical ((const char *)value, len, NULL);
  if (v == NULL)
    a->bad = TRUE;
  return v;
}

/* "use/<E>/<service 64>/<user 40>/<node 40>" */
static gboolean
usage_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Agg *a = user_data;
  const char *rest = key + a->skip;
  if (strlen (rest) != 64 + 1 + 40 + 1 + 40) {
    a->bad = TRUE;
    return FALSE;
  }
  char svc[65], user[41], node[41];
  memcpy (svc, rest, 64);
  svc[64] = '\0';
  memcpy (user, rest + 65, 40);
  user[40] = '\0';
  memcpy (node, rest + 106, 40);
  node[40] = '\0';
  g_autoptr (json_t) v = parse_value (a, value, len);
  if (v == NULL)
    return FALSE;
  int64_t calls = mkt_int (v, "calls"), duration = mkt_int (v, "duration");
  SvcAgg *s = svc_of (a, svc);
  add_sat (&s->calls, calls);
  add_sat (&s->duration, duration);
  NodeAgg *n = g_hash_table_lookup (a->nodes, node);
  if (n == NULL) {
    n = g_new0 (NodeAgg, 1);
    g_strlcpy (n->node, node, sizeof n->node);
    n->services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert (a->nodes, n->node, n);
  }
  add_sat (&n->calls, calls);
  add_sat (&n->duration, duration);
  g_hash_table_add (n->services, g_strdup (svc));
  count_add (a->users, user, calls);
  return TRUE;
}

/* "rate/<E>/<service 64>/<user 40>" */
static gboolean
rating_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Agg *a = user_data;
  const char *rest = key + a->skip;
  if (strlen (rest) != 64 + 1 + 40) {
    a->bad = TRUE;
    return FALSE;
  }
  char svc[65];
  memcpy (svc, rest, 64);
  svc[64] = '\0';
  g_autoptr (json_t) v = parse_value (a, value, len);
  if (v == NULL)
    return FALSE;
  SvcAgg *s = svc_of (a, svc);
  add_sat (&s->ratings, 1);
  add_sat (&s->rating_sum, mkt_int (v, "rating"));
  count_add (a->raters, rest + 65, 1);
  return TRUE;
}

static int
svc_cmp (gconstpointer x, gconstpointer y)
{
  const SvcAgg *a = *(SvcAgg *const *)x, *b = *(SvcAgg *const *)y;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  if (a->calls != b->calls)
    return a->calls > b->calls ? -1 : 1;
  return strcmp (a->id, b->id);
}

static int
node_cmp (gconstpointer x, gconstpointer y)
{
  const NodeAgg *a = *(NodeAgg *const *)x, *b = *(NodeAgg *const *)y;
  if (a->calls != b->calls)
    return a->calls > b->calls ? -1 : 1;
  if (a->duration != b->duration)
    return a->duration > b->duration ? -1 : 1;
  return strcmp (a->node, b->node);
}

/* floor(log2(x + 1)) + 1, the bit length of x + 1 */
static int64_t
weight_of (int64_t calls)
{
  uint64_t x = (uint64_t)calls + 1;
  return 64 - __builtin_clzll (x);
}

static json_t *
counts_json (GHashTable *t)
{
  json_t *o = json_object ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, t);
  while (g_hash_table_iter_next (&it, &k, &v))
    json_object_set_new (o, k, json_integer (*(int64_t *)v));
  return o;
}

static GPtrArray *
values_of (GHashTable *t)
{
  GPtrArray *a = g_ptr_array_sized_new (g_hash_table_size (t));
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, t);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (a, v);
  return a;
}

/* The ranking (with "hash") and the usage and ratings entries of the
 * aggregated epoch. */
static json_t *
build (Agg *a, int64_t epoch, json_t **usage, json_t **ratings, GError **error)
{
  const MktParams *p = a->p;
  g_autoptr (GPtrArray) svcs = values_of (a->svcs);
  for (guint i = 0; i < svcs->len; i++) {
    SvcAgg *s = svcs->pdata[i];
    /* 128-bit: the sums may be saturated. */
    s->bayes = (int64_t)(((__int128)p->prior_weight * p->prior_rating_milli
                          + (__int128)1000 * s->rating_sum)
                         / ((__int128)p->prior_weight + s->ratings));
    s->weight = weight_of (s->calls);
    s->score = s->bayes * s->weight;
  }
  g_ptr_array_sort (svcs, svc_cmp);
  json_t *sl = json_array ();
  for (guint i = 0; i < svcs->len; i++) {
    SvcAgg *s = svcs->pdata[i];
    json_array_append_new (
        sl, json_pack (
                "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "service", s->id, "rank",
                (json_int_t)i + 1, "score", (json_int_t)s->score, "bayes_milli",
                (json_int_t)s->bayes, "calls", (json_int_t)s->calls, "duration",
                (json_int_t)s->duration, "ratings", (json_int_t)s->ratings,
                "rating_sum", (json_int_t)s->rating_sum));
  }
  g_autoptr (GPtrArray) nodes = values_of (a->nodes);
  g_ptr_array_sort (nodes, node_cmp);
  json_t *nl = json_array ();
  for (guint i = 0; i < nodes->len; i++) {
    NodeAgg *n = nodes->pdata[i];
    json_array_append_new (
        nl, json_pack ("{s:s,s:I,s:I,s:I,s:I}", "node", n->node, "rank",
                       (json_int_t)i + 1, "calls", (json_int_t)n->calls,
                       "duration", (json_int_t)n->duration, "services",
                       (json_int_t)g_hash_table_size (n->services)));
  }
  g_autoptr (json_t) out = json_pack (
      "{s:I,s:o,s:o}", "epoch", (json_int_t)epoch, "services", sl, "nodes", nl);
  size_t len;
  g_autofree char *text = mkt_host->json_canonical (out, &len, error);
  if (text == NULL)
    return NULL;
  uint8_t digest[32];
  mkt_host->sha256 (text, len, digest);
  g_autofree char *hex = cairn_hex_encode (digest, 32);
  json_object_set_new (out, "hash", json_string (hex));

  if (usage != NULL) {
    json_t *su = json_object (), *nu = json_object ();
    for (guint i = 0; i < svcs->len; i++) {
      SvcAgg *s = svcs->pdata[i];
      if (s->calls > 0)
        json_object_set_new (su, s->id,
                             json_pack ("{s:I,s:I}", "calls",
                                        (json_int_t)s->calls, "duration",
                                        (json_int_t)s->duration));
    }
    for (guint i = 0; i < nodes->len; i++) {
      NodeAgg *n = nodes->pdata[i];
      json_object_set_new (
          nu, n->node,
          json_pack ("{s:I,s:I,s:I}", "calls", (json_int_t)n->calls, "duration",
                     (json_int_t)n->duration, "services",
                     (json_int_t)g_hash_table_size (n->services)));
    }
    *usage = json_pack ("{s:I,s:o,s:o,s:o}", "epoch", (json_int_t)epoch,
                        "services", su, "nodes", nu, "users",
                        counts_json (a->users));
  }
  if (ratings != NULL) {
    json_t *sr = json_object ();
    for (guint i = 0; i < svcs->len; i++) {
      SvcAgg *s = svcs->pdata[i];
      if (s->ratings > 0)
        json_object_set_new (sr, s->id,
                             json_pack ("{s:I,s:I}", "ratings",
                                        (json_int_t)s->ratings, "rating_sum",
                                        (json_int_t)s->rating_sum));
    }
    *ratings = json_pack ("{s:I,s:o,s:o}", "epoch", (json_int_t)epoch,
                          "services", sr, "raters", counts_json (a->raters));
  }
  return g_steal_pointer (&out);
}

json_t *
mkt_ranking_compute (Market *m, CairnTxCtx *tx, const MktParams *p,
                     int64_t epoch, json_t **usage, json_t **ratings,
                     GError **error)
{
  Agg a = { .m = m, .p = p };
  a.svcs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  a.nodes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, node_free);
  a.users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  a.raters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_t *out = NULL;
  char use_prefix[64], rate_prefix[64];
  g_snprintf (use_prefix, sizeof use_prefix, "use/%010" G_GINT64_FORMAT "/",
              epoch);
  g_snprintf (rate_prefix, sizeof rate_prefix, "rate/%010" G_GINT64_FORMAT "/",
              epoch);
  a.skip = strlen (use_prefix);
  gboolean ok = mkt_host->state_iter (m->self, tx, NULL, use_prefix, usage_cb,
                                      &a, error);
  a.skip = strlen (rate_prefix);
  ok = ok && !a.bad
       && mkt_host->state_iter (m->self, tx, NULL, rate_prefix, rating_cb, &a,
                                error);
  if (ok && a.bad)
    ok = cairn_fail (
        error, CAIRN_ERROR_CORRUPT,
        "market: a usage or rating record of epoch %" G_GINT64_FORMAT
        " is malformed",
        epoch);
  if (ok && g_hash_table_size (a.svcs) == 0)
    ok = cairn_fail (error, CAIRN_ERROR_INVALID,
                     "epoch %" G_GINT64_FORMAT " has no usage or ratings: "
                     "nothing to rank",
                     epoch);
  if (ok)
    out = build (&a, epoch, usage, ratings, error);
  g_hash_table_destroy (a.svcs);
  g_hash_table_destroy (a.nodes);
  g_hash_table_destroy (a.users);
  g_hash_table_destroy (a.raters);
  return out;
}

/* ---- market.rank {"epoch","hash"} ------------------------------------- */

static gboolean
epoch_key (char *buf, size_t n, int64_t epoch, const char *what)
{
  return g_snprintf (buf, n, "epoch/%010" G_GINT64_FORMAT "/%s", epoch, what)
         > 0;
}

static gboolean
rank_check (CairnPlugin *self, const json_t *body, GError **error)
{
  json_int_t epoch;
  const char *hash;
  if (!cairn_unpack_strict ("market.rank", body, error, "{s:I,s:s}", "epoch",
                            &epoch, "hash", &hash))
    return FALSE;
  if (epoch < 0 || !cairn_hex_lower_valid (hash, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "market.rank: epoch must be >= 0 and hash a SHA-256 "
                       "(64 lowercase hex)");
  return TRUE;
}

static gboolean
rank_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.rank";
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  json_int_t epoch = mkt_int (body, "epoch");
  MktParams p;
  if (!mkt_params (m, tx, &p, error))
    return FALSE;
  if (!mkt_has_role (m, tx, info->sender, p.app_node_role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the %s role: app nodes produce "
                       "rankings",
                       what, info->sender, p.app_node_role);
  int64_t now = mkt_epoch_of (&p, info->height);
  if (epoch >= now)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: epoch %" JSON_INTEGER_FORMAT
                       " is not complete (the "
                       "chain is in epoch %" G_GINT64_FORMAT ")",
                       what, epoch, now);
  char k[MKT_KEYBUF];
  epoch_key (k, sizeof k, epoch, "ranking");
  g_autoptr (json_t) old = mkt_get (m, tx, k, NULL);
  if (old != NULL)
    return cairn_fail (
        error, CAIRN_ERROR_CONFLICT,
        "%s: epoch %" JSON_INTEGER_FORMAT " was already ranked by "
        "%s at height %" JSON_INTEGER_FORMAT,
        what, epoch, mkt_str (old, "producer"), mkt_int (old, "height"));
  json_t *usage = NULL, *ratings = NULL;
  g_autoptr (json_t) ranking
      = mkt_ranking_compute (m, tx, &p, epoch, &usage, &ratings, error);
  g_autoptr (json_t) u = usage, r = ratings;
  if (ranking == NULL)
    return FALSE;
  if (strcmp (mkt_str (ranking, "hash"), mkt_str (body, "hash")) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: hash %s does not match this chain's ranking of "
                       "epoch %" JSON_INTEGER_FORMAT " (%s)",
                       what, mkt_str (body, "hash"), epoch,
                       mkt_str (ranking, "hash"));
  json_object_set_new (ranking, "producer", json_string (info->sender));
  json_object_set_new (ranking, "height",
                       json_integer ((json_int_t)info->height));
  if (!mkt_put (m, tx, k, ranking, error))
    return FALSE;
  epoch_key (k, sizeof k, epoch, "usage");
  if (!mkt_put (m, tx, k, u, error))
    return FALSE;
  epoch_key (k, sizeof k, epoch, "ratings");
  if (!mkt_put (m, tx, k, r, error))
    return FALSE;
  mkt_host->emit_event (
      self, tx, "market.ranked",
      json_pack (
          "{s:I,s:s,s:s,s:I}", "epoch", epoch, "hash",
          mkt_str (ranking, "hash"), "producer", info->sender, "services",
          (json_int_t)json_array_size (json_object_get (ranking, "services"))));
  return TRUE;
}

const CairnTxHandler mkt_rank_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = rank_check,
  .apply = rank_apply,
};

/* ---- the issuance schedule and market.distribute ---------------------- */

uint64_t
mkt_issuance (const MktParams *p, int64_t epoch, uint64_t minted_before)
{
  int64_t shift = epoch / p->halving_epochs;
  uint64_t v = shift >= 63 ? 0 : (uint64_t)p->initial_issuance >> shift;
  uint64_t cap = (uint64_t)p->supply_cap;
  uint64_t left = minted_before >= cap ? 0 : cap - minted_before;
  return v < left ? v : left;
}

/* a * b / c without overflow (b <= c). */
static uint64_t
mul_div (uint64_t a, uint64_t b, uint64_t c)
{
  return (uint64_t)((unsigned __int128)a * b / c);
}

typedef struct {
  const char *addr;
  int64_t weight;
} Share;

static int
share_cmp (gconstpointer x, gconstpointer y)
{
  const Share *a = x, *b = y;
  if (a->weight != b->weight)
    return a->weight > b->weight ? -1 : 1;
  return strcmp (a->addr, b->addr);
}

/* Split pool by weight (shares already in payment order); the remainder
 * goes to the first. Adds to out {addr: amount}; returns what it paid. */
static uint64_t
split (uint64_t pool, GArray *shares, json_t *out)
{
  int64_t total = 0;
  for (guint i = 0; i < shares->len; i++)
    add_sat (&total, g_array_index (shares, Share, i).weight);
  if (pool == 0 || total <= 0)
    return 0;
  uint64_t paid = 0;
  g_autofree uint64_t *amt = g_new0 (uint64_t, shares->len);
  for (guint i = 0; i < shares->len; i++) {
    amt[i] = mul_div (pool, (uint64_t)g_array_index (shares, Share, i).weight,
                      (uint64_t)total);
    paid += amt[i];
  }
  amt[0] += pool - paid;
  for (guint i = 0; i < shares->len; i++) {
    const char *a = g_array_index (shares, Share, i).addr;
    json_int_t before = mkt_int (out, a);
    if (amt[i] > 0)
      json_object_set_new (out, a, json_integer (before + (json_int_t)amt[i]));
  }
  return pool;
}

/* Shares from a {addr: count} object, sorted by count then address. */
static GArray *
shares_of (const json_t *counts)
{
  GArray *s = g_array_new (FALSE, FALSE, sizeof (Share));
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)counts, k, v)
  {
    Share sh = { k, json_integer_value (v) };
    if (sh.weight > 0)
      g_array_append_val (s, sh);
  }
  g_array_sort (s, share_cmp);
  return s;
}

static gboolean
distribute_check (CairnPlugin *self, const json_t *body, GError **error)
{
  json_int_t epoch;
  if (!cairn_unpack_strict ("market.distribute", body, error, "{s:I}", "epoch",
                            &epoch))
    return FALSE;
  if (epoch < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "market.distribute: epoch must be >= 0");
  return TRUE;
}

/* Mint every {addr: amount} of o, in address order. */
static gboolean
mint_all (Market *m, CairnTxCtx *tx, const MktParams *p, const json_t *o,
          GError **error)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)o, k, v)
  {
    g_ptr_array_add (keys, (gpointer)k);
  }
  g_ptr_array_sort (keys, (GCompareFunc)g_strcmp0);
  for (guint i = 0; i < keys->len; i++) {
    const char *a = *(const char **)&keys->pdata[i];
    if (!m->bank->mint (m->self, tx, a, p->denom, (uint64_t)mkt_int (o, a),
                        error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
distribute_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                  GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.distribute";
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  json_int_t epoch = mkt_int (body, "epoch");
  MktParams p;
  if (!mkt_params (m, tx, &p, error))
    return FALSE;
  if (!mkt_has_role (m, tx, info->sender, p.platform_role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the %s role", what, info->sender,
                       p.platform_role);
  char k[MKT_KEYBUF];
  epoch_key (k, sizeof k, epoch, "rewards");
  g_autoptr (json_t) done = mkt_get (m, tx, k, NULL);
  if (done != NULL)
    return cairn_fail (
        error, CAIRN_ERROR_CONFLICT,
        "%s: the rewards of epoch %" JSON_INTEGER_FORMAT
        " were already distributed at height %" JSON_INTEGER_FORMAT,
        what, epoch, mkt_int (done, "height"));
  epoch_key (k, sizeof k, epoch, "ranking");
  g_autoptr (json_t) ranking = mkt_get (m, tx, k, NULL);
  epoch_key (k, sizeof k, epoch, "usage");
  g_autoptr (json_t) usage = mkt_get (m, tx, k, NULL);
  epoch_key (k, sizeof k, epoch, "ratings");
  g_autoptr (json_t) ratings = mkt_get (m, tx, k, NULL);
  if (ranking == NULL || usage == NULL || ratings == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "%s: epoch %" JSON_INTEGER_FORMAT " has no ranking yet "
                       "(market.rank)",
                       what, epoch);
  g_autoptr (json_t) supply = mkt_get (m, tx, "supply", NULL);
  uint64_t minted_before = supply ? (uint64_t)mkt_int (supply, "minted") : 0;
  uint64_t iss = mkt_issuance (&p, epoch, minted_before);

  uint64_t pools[4] = {
    mul_div (iss, (uint64_t)p.bps_developers, 10000),
    mul_div (iss, (uint64_t)p.bps_users, 10000),
    mul_div (iss, (uint64_t)p.bps_raters, 10000),
    mul_div (iss, (uint64_t)p.bps_producer, 10000),
  };
  pools[0] += iss - (pools[0] + pools[1] + pools[2] + pools[3]);

  /* Developers of the top services, by rank. */
  g_autoptr (GArray) devs = g_array_new (FALSE, FALSE, sizeof (Share));
  g_autoptr (GPtrArray) keep
      = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  const json_t *sl = json_object_get (ranking, "services");
  size_t n = json_array_size (sl);
  size_t top = n < (size_t)p.top_services ? n : (size_t)p.top_services;
  for (size_t i = 0; i < top; i++) {
    const char *id = mkt_str (json_array_get (sl, i), "service");
    g_snprintf (k, sizeof k, "svc/%s", id);
    json_t *svc = mkt_get (m, tx, k, error);
    if (svc == NULL)
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "%s: ranked service %s is missing", what, id);
    g_ptr_array_add (keep, svc);
    /* README: weight top_services - rank + 1 (rank = i + 1). */
    Share sh = { mkt_str (svc, "developer"), p.top_services - (int64_t)i };
    g_array_append_val (devs, sh);
  }
  g_autoptr (GArray) users = shares_of (json_object_get (usage, "users"));
  g_autoptr (GArray) raters = shares_of (json_object_get (ratings, "raters"));
  g_autoptr (json_t) to_dev = json_object (), to_users = json_object (),
                     to_raters = json_object (), to_prod = json_object ();
  uint64_t minted = split (pools[0], devs, to_dev)
                    + split (pools[1], users, to_users)
                    + split (pools[2], raters, to_raters);
  if (pools[3] > 0) {
    json_object_set_new (to_prod, mkt_str (ranking, "producer"),
                         json_integer ((json_int_t)pools[3]));
    minted += pools[3];
  }
  if (!mint_all (m, tx, &p, to_dev, error)
      || !mint_all (m, tx, &p, to_users, error)
      || !mint_all (m, tx, &p, to_raters, error)
      || !mint_all (m, tx, &p, to_prod, error))
    return FALSE;

  g_autoptr (json_t) rec = json_pack (
      "{s:I,s:s,s:I,s:I,s:O,s:O,s:O,s:O,s:I}", "epoch", epoch, "denom", p.denom,
      "issuance", (json_int_t)iss, "minted", (json_int_t)minted, "developers",
      to_dev, "users", to_users, "raters", to_raters, "producer", to_prod,
      "height", (json_int_t)info->height);
  epoch_key (k, sizeof k, epoch, "rewards");
  if (!mkt_put (m, tx, k, rec, error))
    return FALSE;
  g_autoptr (json_t) sup
      = json_pack ("{s:I}", "minted", (json_int_t)(minted_before + minted));
  if (!mkt_put (m, tx, "supply", sup, error))
    return FALSE;
  mkt_host->emit_event (self, tx, "market.rewarded",
                        json_pack ("{s:I,s:I,s:I,s:s}", "epoch", epoch,
                                   "issuance", (json_int_t)iss, "minted",
                                   (json_int_t)minted, "denom", p.denom));
  return TRUE;
}

const CairnTxHandler mkt_distribute_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = distribute_check,
  .apply = distribute_apply,
};

/* market: the JSON read routes (README.md, "Routes"). All read the
 * committed head; ranges of epochs are capped at MKT_MAX_RANGE. */
#include <string.h>

#include "market.h"

#define MAX_LIST 1000

static gboolean
propagate (GError **error, GError **e)
{
  g_propagate_error (error, g_steal_pointer (e));
  return FALSE;
}

static uint64_t
head_height (Market *m)
{
  return mkt_host->chain_head (m->self)->height;
}

static json_t *
epoch_entry (Market *m, int64_t epoch, const char *what)
{
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "epoch/%010" G_GINT64_FORMAT "/%s", epoch, what);
  return mkt_get (m, NULL, k, NULL);
}

/* ?from=&to= (epochs): defaults 0 and the current epoch; at most
 * MKT_MAX_RANGE epochs. Answers 400 itself (returns FALSE). */
static gboolean
epoch_range (Market *m, const MktParams *p, const CairnRequest *req,
             CairnResponse *resp, int64_t *from, int64_t *to)
{
  int64_t now = (int64_t)(head_height (m) / (uint64_t)p->epoch_blocks);
  const char *f = g_hash_table_lookup (req->query, "from");
  const char *t = g_hash_table_lookup (req->query, "to");
  gint64 a = 0, b = now;
  if ((f && !g_ascii_string_to_signed (f, 10, 0, G_MAXINT32, &a, NULL))
      || (t && !g_ascii_string_to_signed (t, 10, 0, G_MAXINT32, &b, NULL))
      || b < a) {
    cairn_reply_error (resp, 400, "invalid",
                       "from and to are epoch numbers with from <= to");
    return FALSE;
  }
  if (f == NULL && b - a >= MKT_MAX_RANGE)
    a = b - MKT_MAX_RANGE + 1;
  if (b - a >= MKT_MAX_RANGE) {
    cairn_reply_error (resp, 400, "invalid",
                       "at most %d epochs per request (from %" G_GINT64_FORMAT
                       " to %" G_GINT64_FORMAT ")",
                       MKT_MAX_RANGE, a, b);
    return FALSE;
  }
  *from = a;
  *to = b;
  return TRUE;
}

typedef struct {
  Market *m;
  json_t *out;
  size_t skip;
  const char *filter_key, *filter_value;
  int64_t from, to; /* epoch filter for per-user keys */
} ListCtx;

/* ---- params, supply --------------------------------------------------- */

static gboolean
get_params (Market *m, CairnResponse *resp, GError **error)
{
  MktParams p;
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) j = mkt_get (m, NULL, "params", &e);
  if (!mkt_params (m, NULL, &p, &e))
    return propagate (error, &e);
  uint64_t h = head_height (m);
  int64_t epoch = (int64_t)(h / (uint64_t)p.epoch_blocks);
  json_t *out = j ? json_incref (j) : json_object ();
  json_object_set_new (out, "height", json_integer ((json_int_t)h));
  /* The epoch the next block belongs to: what reports now must name. */
  json_object_set_new (out, "epoch", json_integer (epoch));
  json_object_set_new (out, "epoch_start",
                       json_integer (epoch * p.epoch_blocks + 1));
  json_object_set_new (out, "epoch_end",
                       json_integer ((epoch + 1) * p.epoch_blocks));
  resp->json = out;
  return TRUE;
}

static gboolean
get_supply (Market *m, CairnResponse *resp, GError **error)
{
  MktParams p;
  g_autoptr (GError) e = NULL;
  if (!mkt_params (m, NULL, &p, &e))
    return propagate (error, &e);
  g_autoptr (json_t) s = mkt_get (m, NULL, "supply", NULL);
  uint64_t minted = s ? (uint64_t)mkt_int (s, "minted") : 0;
  int64_t epoch = (int64_t)(head_height (m) / (uint64_t)p.epoch_blocks);
  resp->json = json_pack (
      "{s:s,s:I,s:I,s:I,s:I,s:I}", "denom", p.denom, "cap",
      (json_int_t)p.supply_cap, "minted", (json_int_t)minted, "remaining",
      (json_int_t)((uint64_t)p.supply_cap - minted), "epoch", (json_int_t)epoch,
      "issuance_now", (json_int_t)mkt_issuance (&p, epoch, minted));
  return TRUE;
}

/* ---- services --------------------------------------------------------- */

static gboolean
svc_list_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  ListCtx *c = user_data;
  json_t *v = mkt_host->json_parse_canonical ((const char *)value, len, NULL);
  if (v == NULL)
    return TRUE;
  if (c->filter_key != NULL
      && g_strcmp0 (mkt_str (v, c->filter_key), c->filter_value) != 0) {
    json_decref (v);
    return TRUE;
  }
  json_array_append_new (c->out, v);
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
keys_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  ListCtx *c = user_data;
  json_array_append_new (c->out, json_string (key + c->skip));
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
list_services (Market *m, const CairnRequest *req, CairnResponse *resp,
               GError **error)
{
  ListCtx c = { m, json_array (), 0, NULL, NULL, 0, 0 };
  const char *cat = g_hash_table_lookup (req->query, "category");
  const char *dev = g_hash_table_lookup (req->query, "developer");
  if (cat) {
    c.filter_key = "category";
    c.filter_value = cat;
  } else if (dev) {
    c.filter_key = "developer";
    c.filter_value = dev;
  }
  g_autoptr (GError) e = NULL;
  if (!mkt_host->state_iter (m->self, NULL, NULL, "svc/", svc_list_cb, &c,
                             &e)) {
    json_decref (c.out);
    return propagate (error, &e);
  }
  resp->json = json_pack ("{s:o}", "services", c.out);
  return TRUE;
}

/* Per-epoch usage, ratings and rank of one service. */
static json_t *
service_history (Market *m, const char *id, int64_t from, int64_t to)
{
  json_t *h = json_array ();
  for (int64_t e = from; e <= to; e++) {
    g_autoptr (json_t) usage = epoch_entry (m, e, "usage");
    g_autoptr (json_t) ratings = epoch_entry (m, e, "ratings");
    g_autoptr (json_t) ranking = epoch_entry (m, e, "ranking");
    if (ranking == NULL)
      continue;
    json_t *row = json_pack ("{s:I}", "epoch", (json_int_t)e);
    json_t *u = json_object_get (json_object_get (usage, "services"), id);
    json_t *r = json_object_get (json_object_get (ratings, "services"), id);
    json_object_set (row, "usage", u ? u : json_null ());
    json_object_set (row, "ratings", r ? r : json_null ());
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get (ranking, "services"), i, s)
    {
      if (g_strcmp0 (mkt_str (s, "service"), id) == 0) {
        json_object_set_new (row, "rank", json_integer (mkt_int (s, "rank")));
        json_object_set_new (row, "score", json_integer (mkt_int (s, "score")));
      }
    }
    json_array_append_new (h, row);
  }
  return h;
}

static gboolean
get_service (Market *m, const char *id, const CairnRequest *req,
             CairnResponse *resp, GError **error)
{
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "svc/%s", id);
  g_autoptr (GError) e = NULL;
  json_t *s = mkt_get (m, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (s == NULL)
    return cairn_reply_error (resp, 404, "not_found", "unknown service %s", id);
  g_snprintf (k, sizeof k, "serve/%s/", id);
  ListCtx c = { m, json_array (), strlen (k), NULL, NULL, 0, 0 };
  if (!mkt_host->state_iter (m->self, NULL, NULL, k, keys_cb, &c, &e)) {
    json_decref (c.out);
    json_decref (s);
    return propagate (error, &e);
  }
  json_object_set_new (s, "nodes", c.out);
  MktParams p;
  int64_t from, to;
  if (!mkt_params (m, NULL, &p, &e)) {
    json_decref (s);
    return propagate (error, &e);
  }
  if (!epoch_range (m, &p, req, resp, &from, &to)) {
    json_decref (s);
    return TRUE;
  }
  json_object_set_new (s, "history", service_history (m, id, from, to));
  resp->json = s;
  return TRUE;
}

/* ---- epochs and rankings ---------------------------------------------- */

static gboolean
get_epoch (Market *m, const char *text, const CairnRequest *req,
           CairnResponse *resp, GError **error)
{
  gint64 epoch;
  if (!g_ascii_string_to_signed (text, 10, 0, G_MAXINT32, &epoch, NULL))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an epoch number", text);
  MktParams p;
  g_autoptr (GError) e = NULL;
  if (!mkt_params (m, NULL, &p, &e))
    return propagate (error, &e);
  json_t *out = json_pack ("{s:I,s:I,s:I}", "epoch", (json_int_t)epoch, "start",
                           (json_int_t)(epoch * p.epoch_blocks + 1), "end",
                           (json_int_t)((epoch + 1) * p.epoch_blocks));
  static const char *const parts[]
      = { "ranking", "usage", "ratings", "rewards" };
  for (size_t i = 0; i < G_N_ELEMENTS (parts); i++) {
    json_t *v = epoch_entry (m, epoch, parts[i]);
    json_object_set_new (out, parts[i], v ? v : json_null ());
  }
  const char *preview = g_hash_table_lookup (req->query, "preview");
  if (json_is_null (json_object_get (out, "ranking")) && preview
      && strcmp (preview, "1") == 0) {
    int64_t now = (int64_t)(head_height (m) / (uint64_t)p.epoch_blocks);
    if (epoch >= now) {
      json_decref (out);
      return cairn_reply_error (resp, 409, "conflict",
                                "epoch %" G_GINT64_FORMAT " is not complete "
                                "(the next block is in epoch %" G_GINT64_FORMAT
                                ")",
                                epoch, now);
    }
    json_t *usage = NULL, *ratings = NULL;
    json_t *r = mkt_ranking_compute (m, NULL, &p, epoch, &usage, &ratings, &e);
    if (r == NULL) {
      json_decref (out);
      return propagate (error, &e);
    }
    json_object_set_new (out, "ranking", r);
    json_object_set_new (out, "usage", usage);
    json_object_set_new (out, "ratings", ratings);
    json_object_set_new (out, "preview", json_true ());
  }
  resp->json = out;
  return TRUE;
}

static gboolean
get_rankings (Market *m, const CairnRequest *req, CairnResponse *resp,
              GError **error)
{
  MktParams p;
  g_autoptr (GError) e = NULL;
  int64_t from, to;
  if (!mkt_params (m, NULL, &p, &e))
    return propagate (error, &e);
  if (!epoch_range (m, &p, req, resp, &from, &to))
    return TRUE;
  json_t *list = json_array ();
  for (int64_t ep = from; ep <= to; ep++) {
    json_t *r = epoch_entry (m, ep, "ranking");
    if (r != NULL)
      json_array_append_new (list, r);
  }
  resp->json = json_pack ("{s:I,s:I,s:o}", "from", (json_int_t)from, "to",
                          (json_int_t)to, "epochs", list);
  return TRUE;
}

/* ---- developers and users --------------------------------------------- */

/* {epoch: amount} of addr in the rewards' `pool` over the range. */
static json_t *
rewards_of (Market *m, const char *addr, const char *const *pools, int64_t from,
            int64_t to)
{
  json_t *out = json_array ();
  for (int64_t ep = from; ep <= to; ep++) {
    g_autoptr (json_t) r = epoch_entry (m, ep, "rewards");
    if (r == NULL)
      continue;
    for (size_t i = 0; pools[i] != NULL; i++) {
      json_int_t a = mkt_int (json_object_get (r, pools[i]), addr);
      if (a > 0)
        json_array_append_new (out, json_pack ("{s:I,s:s,s:I,s:s}", "epoch",
                                               (json_int_t)ep, "pool", pools[i],
                                               "amount", a, "denom",
                                               mkt_str (r, "denom")));
    }
  }
  return out;
}

/* uuse/<addr>/<E>/<svc>/<node> and urate/<addr>/<E>/<svc> in [from, to] */
static gboolean
user_rows_cb (const char *key, const uint8_t *value, size_t len,
              void *user_data)
{
  ListCtx *c = user_data;
  const char *rest = key + c->skip;
  gint64 ep = g_ascii_strtoll (rest, NULL, 10);
  if (ep < c->from || ep > c->to || strlen (rest) < 11)
    return TRUE;
  json_t *v = mkt_host->json_parse_canonical ((const char *)value, len, NULL);
  if (v == NULL)
    return TRUE;
  g_auto (GStrv) parts = g_strsplit (rest, "/", 3);
  json_object_set_new (v, "epoch", json_integer (ep));
  if (parts[1] != NULL)
    json_object_set_new (v, "service", json_string (parts[1]));
  if (parts[1] != NULL && parts[2] != NULL)
    json_object_set_new (v, "node", json_string (parts[2]));
  json_array_append_new (c->out, v);
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
get_account (Market *m, const char *addr, gboolean developer,
             const CairnRequest *req, CairnResponse *resp, GError **error)
{
  if (!mkt_host->address_valid (addr))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an address (40 lowercase hex)",
                              addr);
  MktParams p;
  g_autoptr (GError) e = NULL;
  int64_t from, to;
  if (!mkt_params (m, NULL, &p, &e))
    return propagate (error, &e);
  if (!epoch_range (m, &p, req, resp, &from, &to))
    return TRUE;
  json_t *out = json_pack ("{s:s,s:I,s:I}", "address", addr, "from",
                           (json_int_t)from, "to", (json_int_t)to);
  char k[MKT_KEYBUF];
  if (developer) {
    static const char *const pools[] = { "developers", NULL };
    g_snprintf (k, sizeof k, "dev/%s/", addr);
    ListCtx c = { m, json_array (), strlen (k), NULL, NULL, 0, 0 };
    if (!mkt_host->state_iter (m->self, NULL, NULL, k, keys_cb, &c, &e)) {
      json_decref (c.out);
      json_decref (out);
      return propagate (error, &e);
    }
    json_object_set_new (out, "services", c.out);
    json_object_set_new (out, "rewards", rewards_of (m, addr, pools, from, to));
  } else {
    static const char *const pools[] = { "users", "raters", "producer", NULL };
    static const char *const kinds[] = { "uuse", "urate" };
    static const char *const fields[] = { "usage", "ratings" };
    for (int i = 0; i < 2; i++) {
      g_snprintf (k, sizeof k, "%s/%s/", kinds[i], addr);
      ListCtx c = { m, json_array (), strlen (k), NULL, NULL, from, to };
      if (!mkt_host->state_iter (m->self, NULL, NULL, k, user_rows_cb, &c,
                                 &e)) {
        json_decref (c.out);
        json_decref (out);
        return propagate (error, &e);
      }
      json_object_set_new (out, fields[i], c.out);
    }
    json_object_set_new (out, "rewards", rewards_of (m, addr, pools, from, to));
  }
  resp->json = out;
  return TRUE;
}

/* ---- orders and trades ------------------------------------------------ */

static gboolean
get_order (Market *m, const char *id, CairnResponse *resp, GError **error)
{
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "order/%s", id);
  g_autoptr (GError) e = NULL;
  json_t *o = mkt_get (m, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (o == NULL)
    return cairn_reply_error (resp, 404, "not_found", "unknown order %s", id);
  resp->json = o;
  return TRUE;
}

static gboolean
list_open_orders (Market *m, CairnResponse *resp, GError **error)
{
  ListCtx c = { m, json_array (), strlen ("open/"), NULL, NULL, 0, 0 };
  g_autoptr (GError) e = NULL;
  if (!mkt_host->state_iter (m->self, NULL, NULL, "open/", keys_cb, &c, &e)) {
    json_decref (c.out);
    return propagate (error, &e);
  }
  json_t *orders = json_array ();
  size_t i;
  json_t *id;
  json_array_foreach (c.out, i, id)
  {
    char k[MKT_KEYBUF];
    g_snprintf (k, sizeof k, "order/%s", json_string_value (id));
    json_t *o = mkt_get (m, NULL, k, NULL);
    if (o != NULL)
      json_array_append_new (orders, o);
  }
  json_decref (c.out);
  resp->json = json_pack ("{s:o}", "orders", orders);
  return TRUE;
}

static gboolean
get_trades (Market *m, const char *addr, CairnResponse *resp, GError **error)
{
  if (!mkt_host->address_valid (addr))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an address (40 lowercase hex)",
                              addr);
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "th/%s/", addr);
  ListCtx c = { m, json_array (), strlen (k), NULL, NULL, 0, 0 };
  g_autoptr (GError) e = NULL;
  if (!mkt_host->state_iter (m->self, NULL, NULL, k, keys_cb, &c, &e)) {
    json_decref (c.out);
    return propagate (error, &e);
  }
  json_t *trades = json_array ();
  /* Newest first. */
  for (size_t i = json_array_size (c.out); i-- > 0;) {
    char tk[MKT_KEYBUF];
    g_snprintf (tk, sizeof tk, "trade/%s",
                json_string_value (json_array_get (c.out, i)));
    json_t *t = mkt_get (m, NULL, tk, NULL);
    if (t != NULL)
      json_array_append_new (trades, t);
  }
  json_decref (c.out);
  resp->json = json_pack ("{s:s,s:o}", "address", addr, "trades", trades);
  return TRUE;
}

/* ---- dispatch --------------------------------------------------------- */

static gboolean
route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *user_data, GError **error)
{
  Market *m = user_data;
  const char *rest = req->path_rest;
  g_auto (GStrv) parts = g_strsplit (rest, "/", 3);
  const char *a = parts[0], *b = a ? parts[1] : NULL;
  gboolean two = b != NULL && parts[2] == NULL;
  if (g_strcmp0 (rest, "params") == 0)
    return get_params (m, resp, error);
  if (g_strcmp0 (rest, "supply") == 0)
    return get_supply (m, resp, error);
  if (g_strcmp0 (rest, "ranking") == 0)
    return get_rankings (m, req, resp, error);
  if (g_strcmp0 (a, "services") == 0 && two)
    return *b == '\0' ? list_services (m, req, resp, error)
                      : get_service (m, b, req, resp, error);
  if (g_strcmp0 (a, "epochs") == 0 && two)
    return get_epoch (m, b, req, resp, error);
  if (g_strcmp0 (a, "developers") == 0 && two)
    return get_account (m, b, TRUE, req, resp, error);
  if (g_strcmp0 (a, "users") == 0 && two)
    return get_account (m, b, FALSE, req, resp, error);
  if (g_strcmp0 (a, "orders") == 0 && two)
    return *b == '\0' ? list_open_orders (m, resp, error)
                      : get_order (m, b, resp, error);
  if (g_strcmp0 (a, "trades") == 0 && two)
    return get_trades (m, b, resp, error);
  return cairn_reply_error (resp, 404, "not_found",
                            "no route GET %s (see plugins/market/README.md)",
                            req->path);
}

gboolean
mkt_register_routes (Market *m, GError **error)
{
  return mkt_host->register_route (m->self, "GET", "/v1/market/", route_get, m,
                                   error);
}

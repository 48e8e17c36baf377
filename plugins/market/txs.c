/* market: the params and the registry, usage and rating txs.
 * Deterministic: heights, tx ids, integers and sorted keys only. */
#include <string.h>

#include "market.h"

/* ---- params ----------------------------------------------------------- */

static const MktParams defaults = {
  .platform_role = "platform",
  .app_node_role = "app_node",
  .denom = "voucher",
  .epoch_blocks = 100,
  .supply_cap = 1000000000,
  .initial_issuance = 1000000,
  .halving_epochs = 100,
  .top_services = 10,
  .prior_rating_milli = 3000,
  .prior_weight = 5,
  .bps_developers = 5000,
  .bps_users = 2500,
  .bps_raters = 1500,
  .bps_producer = 1000,
};

static json_t *
params_json (const MktParams *p)
{
  return json_pack (
      "{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}",
      "platform_role", p->platform_role, "app_node_role", p->app_node_role,
      "denom", p->denom, "epoch_blocks", (json_int_t)p->epoch_blocks,
      "supply_cap", (json_int_t)p->supply_cap, "initial_issuance",
      (json_int_t)p->initial_issuance, "halving_epochs",
      (json_int_t)p->halving_epochs, "top_services",
      (json_int_t)p->top_services, "prior_rating_milli",
      (json_int_t)p->prior_rating_milli, "prior_weight",
      (json_int_t)p->prior_weight, "shares_bps", "developers",
      (json_int_t)p->bps_developers, "users", (json_int_t)p->bps_users,
      "raters", (json_int_t)p->bps_raters, "producer",
      (json_int_t)p->bps_producer);
}

/* Fill out from a params object (genesis or state), checking each rule. */
static gboolean
params_parse (const char *what, const json_t *j, MktParams *out, GError **error)
{
  *out = defaults;
  if (j == NULL)
    return TRUE;
  const char *platform = out->platform_role, *app = out->app_node_role;
  const char *denom = out->denom;
  json_int_t eb = out->epoch_blocks, cap = out->supply_cap,
             init = out->initial_issuance, halv = out->halving_epochs,
             top = out->top_services, prior = out->prior_rating_milli,
             weight = out->prior_weight, dev = out->bps_developers,
             users = out->bps_users, raters = out->bps_raters,
             prod = out->bps_producer;
  if (!cairn_unpack_strict (
          what, j, error,
          "{s?s,s?s,s?s,s?I,s?I,s?I,s?I,s?I,s?I,s?I,s?{s:I,s:I,s:I,"
          "s:I}}",
          "platform_role", &platform, "app_node_role", &app, "denom", &denom,
          "epoch_blocks", &eb, "supply_cap", &cap, "initial_issuance", &init,
          "halving_epochs", &halv, "top_services", &top, "prior_rating_milli",
          &prior, "prior_weight", &weight, "shares_bps", "developers", &dev,
          "users", &users, "raters", &raters, "producer", &prod))
    return FALSE;
  if (!cairn_role_valid (platform) || !cairn_role_valid (app))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: platform_role and app_node_role must be role names "
                       "(1-32 of [a-z_])",
                       what);
  if (!cairn_denom_valid (denom))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: denom must be 2-16 of [a-z0-9], starting with a "
                       "letter",
                       what);
  if (eb < 1 || eb > 100000000 || halv < 1 || halv > 100000000 || top < 1
      || top > 1000 || weight < 1 || weight > 1000000 || prior < 1000
      || prior > 5000)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: epoch_blocks and halving_epochs must be 1..1e8, "
                       "top_services 1..1000, prior_weight 1..1e6 and "
                       "prior_rating_milli 1000..5000",
                       what);
  if (cap < 0 || init < 0 || init > cap)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: supply_cap and initial_issuance must be >= 0 with "
                       "initial_issuance <= supply_cap",
                       what);
  if (dev < 0 || users < 0 || raters < 0 || prod < 0
      || dev + users + raters + prod != 10000)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: shares_bps (developers, users, raters, producer) "
                       "must be >= 0 and add up to 10000",
                       what);
  g_strlcpy (out->platform_role, platform, sizeof out->platform_role);
  g_strlcpy (out->app_node_role, app, sizeof out->app_node_role);
  g_strlcpy (out->denom, denom, sizeof out->denom);
  out->epoch_blocks = eb;
  out->supply_cap = cap;
  out->initial_issuance = init;
  out->halving_epochs = halv;
  out->top_services = top;
  out->prior_rating_milli = prior;
  out->prior_weight = weight;
  out->bps_developers = dev;
  out->bps_users = users;
  out->bps_raters = raters;
  out->bps_producer = prod;
  return TRUE;
}

/* Read at every block (auto_rank) and market tx: parsed again only when
 * the stored bytes change. */
gboolean
mkt_params (Market *m, CairnTxCtx *tx, MktParams *out, GError **error)
{
  GError *local = NULL;
  g_autoptr (GBytes) raw
      = mkt_host->state_get (m->self, tx, NULL, "params", &local);
  if (local != NULL
      && !g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_propagate_error (error, local);
    return FALSE;
  }
  g_clear_error (&local);
  if (raw != NULL && m->params_raw != NULL
      && g_bytes_equal (raw, m->params_raw)) {
    *out = m->params;
    return TRUE;
  }
  g_autoptr (json_t) j = NULL;
  if (raw != NULL) {
    gsize len;
    const char *text = g_bytes_get_data (raw, &len);
    j = mkt_host->json_parse_canonical (text, len, error);
    if (j == NULL) {
      g_prefix_error (error, "market state params: ");
      return FALSE;
    }
  }
  /* A chain that started without the plugin runs on the defaults. */
  if (!params_parse ("market params", j, out, error))
    return FALSE;
  if (raw != NULL) {
    g_clear_pointer (&m->params_raw, g_bytes_unref);
    m->params_raw = g_bytes_ref (raw);
    m->params = *out;
  }
  return TRUE;
}

gboolean
mkt_has_role (Market *m, CairnTxCtx *tx, const char *addr, const char *role)
{
  return mkt_host->has_role (m->self, tx, addr, role);
}

static gboolean
market_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
                GError **error)
{
  Market *m = mkt_host->get_data (self);
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), MKT_ID);
  MktParams p;
  if (!params_parse ("genesis app_state.market", app, &p, error))
    return FALSE;
  g_autoptr (json_t) j = params_json (&p);
  return mkt_put (m, tx, "params", j, error);
}

/* ---- shared checks ---------------------------------------------------- */

static gboolean
address_ok (const char *what, const char *field, const char *a, GError **error)
{
  if (!mkt_host->address_valid (a))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s '%s' is not an address (40 lowercase hex)", what,
                       field, a ? a : "(null)");
  return TRUE;
}

static gboolean
text_ok (const char *s, size_t max, gboolean word)
{
  size_t n = s ? strlen (s) : 0;
  if (n < 1 || n > max || !g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (size_t i = 0; word && i < n; i++)
    if (!g_ascii_islower (s[i]) && !g_ascii_isdigit (s[i]) && s[i] != '-'
        && s[i] != '_' && s[i] != '.')
      return FALSE;
  return TRUE;
}

static gboolean
need_role (Market *m, CairnTxCtx *tx, const char *what, const char *role)
{
  return mkt_has_role (m, tx, mkt_host->tx_info (tx)->sender, role);
}

/* The service svc/<id>, or NULL with NOT_FOUND. */
static json_t *
service_or_fail (Market *m, CairnTxCtx *tx, const char *what, const char *id,
                 GError **error)
{
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "svc/%s", id);
  GError *local = NULL;
  json_t *s = mkt_get (m, tx, k, &local);
  if (s == NULL) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "%s: unknown service %s", what,
                  id);
  }
  return s;
}

/* The current epoch (of the block being executed) must be `period`. */
static gboolean
current_period (const MktParams *p, CairnTxCtx *tx, const char *what,
                json_int_t period, GError **error)
{
  int64_t now = mkt_epoch_of (p, mkt_host->tx_info (tx)->height);
  if (period != now)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: out-of-period report: period %" JSON_INTEGER_FORMAT
                       " is not the current epoch %" G_GINT64_FORMAT
                       " (height %" G_GUINT64_FORMAT ")",
                       what, period, now, mkt_host->tx_info (tx)->height);
  return TRUE;
}

/* ---- market.create ---------------------------------------------------- */

static gboolean
create_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "market.create";
  const char *dev, *name, *cat, *ver, *cid, *sha;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s,s:s,s:s,s:s,s:s}",
                            "developer", &dev, "name", &name, "category", &cat,
                            "version", &ver, "package_cid", &cid,
                            "package_sha256", &sha)
      || !address_ok (what, "developer", dev, error))
    return FALSE;
  if (!text_ok (name, 64, FALSE))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: name must be 1-64 bytes of UTF-8", what);
  if (!text_ok (cat, 32, TRUE) || !text_ok (ver, 32, TRUE))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: category and version must be 1-32 of "
                       "[a-z0-9._-]",
                       what);
  if (!cairn_cid_valid (cid))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: package_cid '%s' is not a CIDv1 (base32)", what,
                       cid);
  if (!cairn_hex_lower_valid (sha, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: package_sha256 must be 64 lowercase hex", what);
  return TRUE;
}

static gboolean
create_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Market *m = mkt_host->get_data (self);
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  MktParams p;
  if (!mkt_params (m, tx, &p, error))
    return FALSE;
  if (!need_role (m, tx, "market.create", p.platform_role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "market.create: %s does not hold the %s role: the "
                       "platform approves services",
                       info->sender, p.platform_role);
  g_autoptr (json_t) s = json_deep_copy (body);
  json_object_set_new (s, "id", json_string (info->id));
  json_object_set_new (s, "height", json_integer ((json_int_t)info->height));
  json_object_set_new (s, "by", json_string (info->sender));
  json_object_set_new (s, "servers", json_integer (0));
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "svc/%s", info->id);
  g_autoptr (json_t) empty = json_object ();
  if (!mkt_put (m, tx, k, s, error))
    return FALSE;
  g_snprintf (k, sizeof k, "dev/%s/%s", mkt_str (body, "developer"), info->id);
  if (!mkt_put (m, tx, k, empty, error))
    return FALSE;
  json_t *ev = json_deep_copy (body);
  json_object_set_new (ev, "service", json_string (info->id));
  mkt_host->emit_event (self, tx, "market.created", ev);
  return TRUE;
}

/* ---- market.serve {"service"} ----------------------------------------- */

static gboolean
serve_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *id;
  if (!cairn_unpack_strict ("market.serve", body, error, "{s:s}", "service",
                            &id))
    return FALSE;
  if (!cairn_hex_lower_valid (id, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "market.serve: service must be a service id (64 hex)");
  return TRUE;
}

static gboolean
serve_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.serve";
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  const char *id = mkt_str (body, "service");
  MktParams p;
  if (!mkt_params (m, tx, &p, error))
    return FALSE;
  if (!need_role (m, tx, what, p.app_node_role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the %s role", what, info->sender,
                       p.app_node_role);
  g_autoptr (json_t) s = service_or_fail (m, tx, what, id, error);
  if (s == NULL)
    return FALSE;
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "serve/%s/%s", id, info->sender);
  g_autoptr (json_t) old = mkt_get (m, tx, k, NULL);
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT, "%s: %s already serves %s",
                       what, info->sender, id);
  g_autoptr (json_t) v
      = json_pack ("{s:I}", "height", (json_int_t)info->height);
  if (!mkt_put (m, tx, k, v, error))
    return FALSE;
  json_object_set_new (s, "servers", json_integer (mkt_int (s, "servers") + 1));
  g_snprintf (k, sizeof k, "svc/%s", id);
  if (!mkt_put (m, tx, k, s, error))
    return FALSE;
  mkt_host->emit_event (
      self, tx, "market.served",
      json_pack ("{s:s,s:s}", "service", id, "node", info->sender));
  return TRUE;
}

/* ---- market.usage {"period","records":[...]} -------------------------- */

static gboolean
usage_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "market.usage";
  json_int_t period;
  json_t *records;
  if (!cairn_unpack_strict (what, body, error, "{s:I,s:o}", "period", &period,
                            "records", &records))
    return FALSE;
  if (period < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: period must be >= 0",
                       what);
  if (!json_is_array (records) || json_array_size (records) == 0
      || json_array_size (records) > MKT_MAX_RECORDS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: records must be a list of 1..%d reports", what,
                       MKT_MAX_RECORDS);
  size_t i;
  json_t *r;
  json_array_foreach (records, i, r)
  {
    const char *svc, *user;
    json_int_t calls, duration;
    g_autofree char *w = g_strdup_printf ("%s: records[%zu]", what, i);
    if (!cairn_unpack_strict (w, r, error, "{s:s,s:s,s:I,s:I}", "service", &svc,
                              "user", &user, "calls", &calls, "duration",
                              &duration)
        || !address_ok (w, "user", user, error))
      return FALSE;
    if (!cairn_hex_lower_valid (svc, 32))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: service must be a service id (64 hex)", w);
    if (calls < 1 || calls > MKT_MAX_CALLS || duration < 0
        || duration > MKT_MAX_DURATION)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: calls must be 1..%lld and duration 0..%lld s", w,
                         MKT_MAX_CALLS, MKT_MAX_DURATION);
  }
  return TRUE;
}

static gboolean
usage_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.usage";
  const char *node = mkt_host->tx_info (tx)->sender;
  json_int_t period = mkt_int (body, "period");
  MktParams p;
  if (!mkt_params (m, tx, &p, error)
      || !current_period (&p, tx, what, period, error))
    return FALSE;
  if (!need_role (m, tx, what, p.app_node_role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the %s role", what, node,
                       p.app_node_role);
  const json_t *records = json_object_get (body, "records");
  json_int_t total_calls = 0;
  size_t i;
  json_t *r;
  json_array_foreach (records, i, r)
  {
    const char *svc = mkt_str (r, "service"), *user = mkt_str (r, "user");
    char k[MKT_KEYBUF];
    g_snprintf (k, sizeof k, "serve/%s/%s", svc, node);
    g_autoptr (json_t) serving = mkt_get (m, tx, k, NULL);
    if (serving == NULL) {
      g_autoptr (json_t) s = service_or_fail (m, tx, what, svc, error);
      if (s == NULL)
        return FALSE;
      return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                         "%s: records[%zu]: %s does not serve service %s", what,
                         i, node, svc);
    }
    /* One report per node, service, user and period (earlier txs and
     * earlier records of this one, which the overlay already holds). */
    g_snprintf (k, sizeof k, "use/%010" JSON_INTEGER_FORMAT "/%s/%s/%s", period,
                svc, user, node);
    g_autoptr (json_t) dup = mkt_get (m, tx, k, NULL);
    if (dup != NULL)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "%s: records[%zu]: duplicate report: %s already "
                         "reported user %s on service %s for period "
                         "%" JSON_INTEGER_FORMAT,
                         what, i, node, user, svc, period);
    g_autoptr (json_t) v
        = json_pack ("{s:I,s:I}", "calls", mkt_int (r, "calls"), "duration",
                     mkt_int (r, "duration"));
    if (!mkt_put (m, tx, k, v, error))
      return FALSE;
    g_snprintf (k, sizeof k, "uuse/%s/%010" JSON_INTEGER_FORMAT "/%s/%s", user,
                period, svc, node);
    if (!mkt_put (m, tx, k, v, error))
      return FALSE;
    total_calls += mkt_int (r, "calls");
  }
  mkt_host->emit_event (
      self, tx, "market.usage",
      json_pack ("{s:s,s:I,s:I,s:I}", "node", node, "period", period, "records",
                 (json_int_t)json_array_size (records), "calls", total_calls));
  return TRUE;
}

/* ---- market.rate {"service","period","rating",["text_sha256"]} -------- */

static gboolean
rate_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "market.rate";
  const char *svc, *text = NULL;
  json_int_t period, rating;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:I,s:I,s?s}", "service",
                            &svc, "period", &period, "rating", &rating,
                            "text_sha256", &text))
    return FALSE;
  if (!cairn_hex_lower_valid (svc, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: service must be a service id (64 hex)", what);
  if (rating < 1 || rating > 5)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: rating %" JSON_INTEGER_FORMAT
                       " is out of range (1..5)",
                       what, rating);
  if (period < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: period must be >= 0",
                       what);
  if (text != NULL && !cairn_hex_lower_valid (text, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: text_sha256 must be 64 lowercase hex", what);
  return TRUE;
}

static gboolean
rate_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.rate";
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  const char *svc = mkt_str (body, "service");
  json_int_t period = mkt_int (body, "period");
  MktParams p;
  if (!mkt_params (m, tx, &p, error)
      || !current_period (&p, tx, what, period, error))
    return FALSE;
  g_autoptr (json_t) s = service_or_fail (m, tx, what, svc, error);
  if (s == NULL)
    return FALSE;
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "rate/%010" JSON_INTEGER_FORMAT "/%s/%s", period,
              svc, info->sender);
  g_autoptr (json_t) old = mkt_get (m, tx, k, NULL);
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s already rated service %s in period "
                       "%" JSON_INTEGER_FORMAT " (one rating per period)",
                       what, info->sender, svc, period);
  g_autoptr (json_t) v
      = json_pack ("{s:I,s:I}", "rating", mkt_int (body, "rating"), "height",
                   (json_int_t)info->height);
  if (mkt_str (body, "text_sha256"))
    json_object_set (v, "text_sha256", json_object_get (body, "text_sha256"));
  if (!mkt_put (m, tx, k, v, error))
    return FALSE;
  g_snprintf (k, sizeof k, "urate/%s/%010" JSON_INTEGER_FORMAT "/%s",
              info->sender, period, svc);
  g_autoptr (json_t) u
      = json_pack ("{s:I}", "rating", mkt_int (body, "rating"));
  if (!mkt_put (m, tx, k, u, error))
    return FALSE;
  mkt_host->emit_event (self, tx, "market.rated",
                        json_pack ("{s:s,s:s,s:I,s:I}", "service", svc, "user",
                                   info->sender, "period", period, "rating",
                                   mkt_int (body, "rating")));
  return TRUE;
}

/* ---- registration ----------------------------------------------------- */

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = market_genesis,
};

#define HANDLER(name)                                                          \
  static const CairnTxHandler name##_handler = {                               \
    .iface_version = CAIRN_TX_HANDLER_VERSION,                                 \
    .check = name##_check,                                                     \
    .apply = name##_apply,                                                     \
  }
HANDLER (create);
HANDLER (serve);
HANDLER (usage);
HANDLER (rate);

gboolean
mkt_register_txs (Market *m, GError **error)
{
  const struct {
    const char *type;
    const CairnTxHandler *h;
  } types[] = {
    { "market.create", &create_handler },
    { "market.serve", &serve_handler },
    { "market.usage", &usage_handler },
    { "market.rate", &rate_handler },
    { "market.rank", &mkt_rank_handler },
    { "market.distribute", &mkt_distribute_handler },
    { "market.trade", &mkt_trade_handler },
    { "market.order", &mkt_order_handler },
    { "market.fill", &mkt_fill_handler },
    { "market.cancel", &mkt_cancel_handler },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (!mkt_host->register_tx_type (m->self, types[i].type, types[i].h,
                                     sizeof *types[i].h, error))
      return FALSE;
  return mkt_host->register_app (m->self, &app_iface, sizeof app_iface, error);
}

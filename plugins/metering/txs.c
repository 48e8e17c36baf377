/* metering: the tx types — setup by the operator, level-1 proofs and the
 * level-2 proofs they complete, settlement, recharge and withdrawal. */
#include <string.h>

#include "metering.h"

static Meter *
meter_of (CairnPlugin *self)
{
  return meter_host->get_data (self);
}

static gboolean
need_role (Meter *m, CairnTxCtx *tx, const char *what, const char *role,
           GError **error)
{
  const char *sender = meter_host->tx_info (tx)->sender;
  if (!meter_host->has_role (m->self, tx, sender, role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the role %s", what, sender, role);
  return TRUE;
}

/* The sender is a member of the current center group (and holds the role). */
static gboolean
need_center (Meter *m, CairnTxCtx *tx, const char *what, GError **error)
{
  if (!need_role (m, tx, what, METER_CENTER_ROLE, error))
    return FALSE;
  g_autoptr (json_t) c = mtr_centers (m, tx, error);
  if (c == NULL)
    return FALSE;
  const char *sender = meter_host->tx_info (tx)->sender;
  json_t *members = json_object_get (c, "members");
  for (size_t i = 0; i < json_array_size (members); i++)
    if (g_strcmp0 (mtr_str (json_array_get (members, i), "address"), sender)
        == 0)
      return TRUE;
  return cairn_fail (
      error, CAIRN_ERROR_UNAUTHORIZED,
      "%s: %s is not in center group version %" JSON_INTEGER_FORMAT, what,
      sender, mtr_int (c, "version"));
}

/* Counters in "totals": terminals, recharged, withdrawn, settled. */
static gboolean
totals_add (Meter *m, CairnTxCtx *tx, const char *field, uint64_t amount,
            GError **error)
{
  GError *local = NULL;
  g_autoptr (json_t) t = mtr_get (m, tx, "totals", &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (t == NULL)
    t = json_pack ("{s:i,s:i,s:i,s:i}", "terminals", 0, "recharged", 0,
                   "withdrawn", 0, "settled", 0);
  uint64_t v;
  if (!cairn_add_u64 ((uint64_t)mtr_int (t, field), amount, &v)
      || v > (uint64_t)INT64_MAX)
    return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                       "metering: total %s overflows", field);
  json_object_set_new (t, field, json_integer ((json_int_t)v));
  return mtr_put (m, tx, "totals", t, error);
}

/* ---- metering.configure ------------------------------------------------- */

static gboolean
configure_check (CairnPlugin *self, const json_t *body, GError **error)
{
  json_int_t period_s, window, scale, min_settlement;
  const char *denom, *payee;
  json_t *prices;
  if (!cairn_unpack_strict ("metering.configure", body, error,
                            "{s:I,s:I,s:s,s:o,s:I,s:I,s:s}", "period_s",
                            &period_s, "window_periods", &window, "denom",
                            &denom, "prices", &prices, "price_scale", &scale,
                            "min_settlement", &min_settlement, "payee", &payee))
    return FALSE;
  if (period_s < 1 || period_s > 31 * 86400)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.configure: period_s must be 1 to 2678400");
  if (window < 1 || window > METER_MAX_WINDOW_PERIODS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.configure: window_periods must be 1 to %d",
                       METER_MAX_WINDOW_PERIODS);
  if (!cairn_denom_valid (denom))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.configure: denom '%s' is not a denomination",
                       denom);
  if (scale < 1 || scale > METER_MAX_VALUE || min_settlement < 1)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.configure: price_scale must be 1 to 10^15 and "
                       "min_settlement at least 1");
  if (!meter_host->address_valid (payee))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.configure: payee '%s' is not an address",
                       payee);
  if (!meter_prices_check (prices, error)) {
    g_prefix_error (error, "metering.configure: ");
    return FALSE;
  }
  return TRUE;
}

static gboolean
configure_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                 GError **error)
{
  Meter *m = meter_of (self);
  if (!configure_check (self, body, error)
      || !need_role (m, tx, "metering.configure", METER_OPERATOR_ROLE, error))
    return FALSE;
  GError *local = NULL;
  g_autoptr (json_t) old = mtr_get (m, tx, "params", &local);
  g_autoptr (json_t) totals = local ? NULL : mtr_get (m, tx, "totals", &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL && mtr_int (totals, "terminals") > 0) {
    static const char *const fixed[]
        = { "period_s", "window_periods", "denom" };
    for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
      if (!json_equal (json_object_get (old, fixed[i]),
                       json_object_get (body, fixed[i])))
        return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                           "metering.configure: %s cannot change once "
                           "terminals are registered (only prices, "
                           "price_scale, min_settlement and payee can)",
                           fixed[i]);
  }
  if (!mtr_put (m, tx, "params", body, error))
    return FALSE;
  mtr_emit (m, tx, "metering.configured", json_deep_copy (body));
  return TRUE;
}

/* ---- metering.set_centers ----------------------------------------------- */

static gboolean
set_centers_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "metering.set_centers";
  const char *scheme = mtr_str (body, "scheme");
  gboolean frost = g_strcmp0 (scheme, "frost") == 0;
  if (!frost && g_strcmp0 (scheme, "multisig") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: scheme must be frost or multisig", what);
  json_int_t t;
  json_t *members;
  const char *group = NULL;
  if (frost
          ? !cairn_unpack_strict (what, body, error, "{s:s,s:I,s:o,s:s}",
                                  "scheme", &scheme, "t", &t, "members",
                                  &members, "group_pubkey", &group)
          : !cairn_unpack_strict (what, body, error, "{s:s,s:I,s:o}", "scheme",
                                  &scheme, "t", &t, "members", &members))
    return FALSE;
  size_t n = json_array_size (members);
  if (!json_is_array (members) || n < 2 || n > METER_MAX_CENTERS || t < 2
      || t > (json_int_t)n)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: members must be 2 to %d centers and 2 <= t <= "
                       "their number",
                       what, METER_MAX_CENTERS);
  if (frost && !cairn_hex_lower_valid (group, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: group_pubkey must be 64 lower-case hex", what);
  for (size_t i = 0; i < n; i++) {
    json_t *mb = json_array_get (members, i);
    const char *addr, *pub, *vs = NULL;
    if (frost ? !cairn_unpack_strict (what, mb, error, "{s:s,s:s,s:s}",
                                      "address", &addr, "pubkey", &pub,
                                      "verifying_share", &vs)
              : !cairn_unpack_strict (what, mb, error, "{s:s,s:s}", "address",
                                      &addr, "pubkey", &pub))
      return FALSE;
    uint8_t raw[32];
    char derived[41];
    if (!cairn_hex_lower_valid (pub, 32) || !cairn_hex_decode (pub, raw, 32)
        || (vs != NULL && !cairn_hex_lower_valid (vs, 32)))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: members[%zu]: pubkey%s must be 64 lower-case hex",
                         what, i, frost ? " and verifying_share" : "");
    meter_host->address_from_pubkey (raw, derived);
    if (strcmp (derived, addr) != 0)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: members[%zu]: address %s is not the address of "
                         "pubkey %s (%s)",
                         what, i, addr, pub, derived);
    for (size_t j = 0; j < i; j++)
      if (g_strcmp0 (mtr_str (json_array_get (members, j), "address"), addr)
          == 0)
        return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: %s is listed twice",
                           what, addr);
  }
  return TRUE;
}

static gboolean
set_centers_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                   GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.set_centers";
  if (!set_centers_check (self, body, error)
      || !need_role (m, tx, what, METER_OPERATOR_ROLE, error))
    return FALSE;
  json_t *members = json_object_get (body, "members");
  for (size_t i = 0; i < json_array_size (members); i++) {
    const char *a = mtr_str (json_array_get (members, i), "address");
    if (!meter_host->has_role (m->self, tx, a, METER_CENTER_ROLE))
      return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                         "%s: %s does not hold the role %s", what, a,
                         METER_CENTER_ROLE);
  }
  GError *local = NULL;
  g_autoptr (json_t) old = mtr_get (m, tx, "centers", &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  json_int_t version = old ? mtr_int (old, "version") + 1 : 1;
  g_autoptr (json_t) c = json_deep_copy (body);
  json_object_set_new (c, "version", json_integer (version));
  json_object_set_new (
      c, "height", json_integer ((json_int_t)meter_host->tx_info (tx)->height));
  if (!mtr_put (m, tx, "centers", c, error))
    return FALSE;
  mtr_emit (m, tx, "metering.centers",
            json_pack ("{s:I,s:s,s:I,s:I}", "version", version, "scheme",
                       mtr_str (body, "scheme"), "t", mtr_int (body, "t"), "n",
                       (json_int_t)json_array_size (members)));
  return TRUE;
}

/* ---- metering.set_finance ----------------------------------------------- */

static gboolean
set_finance_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *pub;
  if (!cairn_unpack_strict ("metering.set_finance", body, error, "{s:s}",
                            "pubkey", &pub))
    return FALSE;
  if (!cairn_hex_lower_valid (pub, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.set_finance: pubkey must be 64 lower-case "
                       "hex");
  return TRUE;
}

static gboolean
set_finance_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                   GError **error)
{
  Meter *m = meter_of (self);
  if (!set_finance_check (self, body, error)
      || !need_role (m, tx, "metering.set_finance", METER_OPERATOR_ROLE, error)
      || !mtr_put (m, tx, "finance", body, error))
    return FALSE;
  mtr_emit (m, tx, "metering.finance", json_deep_copy (body));
  return TRUE;
}

/* ---- terminals ---------------------------------------------------------- */

static gboolean
devices_check (const char *what, const json_t *devs, GError **error)
{
  size_t n = json_array_size (devs);
  if (!json_is_array (devs) || n < 1 || n > METER_MAX_DEVICES)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: devices must be 1 to %d device public keys", what,
                       METER_MAX_DEVICES);
  for (size_t i = 0; i < n; i++) {
    const char *d = json_string_value (json_array_get (devs, i));
    if (d == NULL || !cairn_hex_lower_valid (d, 32))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: devices[%zu] is not a public key (64 lower-case "
                         "hex)",
                         what, i);
    for (size_t j = 0; j < i; j++)
      if (g_strcmp0 (json_string_value (json_array_get (devs, j)), d) == 0)
        return cairn_fail (error, CAIRN_ERROR_INVALID,
                           "%s: device %s is listed twice", what, d);
  }
  return TRUE;
}

static gboolean
register_terminal_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "metering.register_terminal", *id;
  json_t *devs;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:o}", "terminal", &id,
                            "devices", &devs))
    return FALSE;
  if (!meter_id_valid (id))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: terminal '%s' is not an id ([a-z0-9][a-z0-9_.-], "
                       "at most %d)",
                       what, id, METER_ID_MAX);
  return devices_check (what, devs, error);
}

static gboolean
register_terminal_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                         GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.register_terminal";
  if (!register_terminal_check (self, body, error)
      || !need_role (m, tx, what, METER_OPERATOR_ROLE, error))
    return FALSE;
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  const char *id = mtr_str (body, "terminal");
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "term/%s", id);
  GError *local = NULL;
  g_autoptr (json_t) old = mtr_get (m, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: terminal %s is already registered", what, id);
  const CairnTxInfo *info = meter_host->tx_info (tx);
  int64_t from = mtr_period_of (params, info->time_ms);
  g_autoptr (json_t) term
      = json_pack ("{s:s,s:O,s:b,s:I,s:I,s:I}", "terminal", id, "devices",
                   json_object_get (body, "devices"), "active", 1,
                   "from_period", (json_int_t)from, "next_period",
                   (json_int_t)from, "height", (json_int_t)info->height);
  if (!mtr_put (m, tx, k, term, error)
      || !totals_add (m, tx, "terminals", 1, error))
    return FALSE;
  mtr_emit (
      m, tx, "metering.terminal",
      json_pack ("{s:s,s:I}", "terminal", id, "from_period", (json_int_t)from));
  return TRUE;
}

static gboolean
update_terminal_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "metering.update_terminal", *id;
  json_t *devs = NULL;
  int active = -1;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s?o,s?b}", "terminal", &id,
                            "devices", &devs, "active", &active))
    return FALSE;
  if (devs == NULL && active < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: give devices, active or both", what);
  return devs == NULL || devices_check (what, devs, error);
}

static gboolean
update_terminal_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                       GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.update_terminal";
  if (!update_terminal_check (self, body, error)
      || !need_role (m, tx, what, METER_OPERATOR_ROLE, error))
    return FALSE;
  const char *id = mtr_str (body, "terminal");
  g_autoptr (json_t) term = mtr_terminal (m, tx, id, error);
  if (term == NULL)
    return FALSE;
  if (json_object_get (body, "devices"))
    json_object_set (term, "devices", json_object_get (body, "devices"));
  if (json_object_get (body, "active"))
    json_object_set (term, "active", json_object_get (body, "active"));
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "term/%s", id);
  if (!mtr_put (m, tx, k, term, error))
    return FALSE;
  mtr_emit (m, tx, "metering.terminal_updated", json_deep_copy (body));
  return TRUE;
}

/* ---- metering.create_set ------------------------------------------------ */

static gboolean
create_set_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "metering.create_set", *id, *payer;
  json_t *terms;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:o,s:s}", "set", &id,
                            "terminals", &terms, "payer", &payer))
    return FALSE;
  if (!meter_id_valid (id))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: set '%s' is not an id",
                       what, id);
  if (!meter_host->address_valid (payer))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: payer '%s' is not an address", what, payer);
  size_t n = json_array_size (terms);
  if (!json_is_array (terms) || n < 1 || n > METER_MAX_TERMINALS_PER_SET)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: terminals must be 1 to %d terminal ids", what,
                       METER_MAX_TERMINALS_PER_SET);
  for (size_t i = 0; i < n; i++) {
    const char *t = json_string_value (json_array_get (terms, i));
    if (!meter_id_valid (t))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: terminals[%zu] is not a terminal id", what, i);
    for (size_t j = 0; j < i; j++)
      if (strcmp (json_string_value (json_array_get (terms, j)), t) == 0)
        return cairn_fail (error, CAIRN_ERROR_INVALID,
                           "%s: terminal %s is listed twice", what, t);
  }
  return TRUE;
}

static gboolean
create_set_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                  GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.create_set";
  if (!create_set_check (self, body, error)
      || !need_role (m, tx, what, METER_OPERATOR_ROLE, error))
    return FALSE;
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  const char *id = mtr_str (body, "set");
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "set/%s", id);
  GError *local = NULL;
  g_autoptr (json_t) old = mtr_get (m, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT, "%s: set %s exists", what,
                       id);
  /* The first whole window after now in which every terminal is proven
   * from its start. */
  json_int_t wp = mtr_int (params, "window_periods");
  const CairnTxInfo *info = meter_host->tx_info (tx);
  json_int_t start = mtr_period_of (params, info->time_ms) + 1;
  json_t *terms = json_object_get (body, "terminals");
  for (size_t i = 0; i < json_array_size (terms); i++) {
    const char *t = json_string_value (json_array_get (terms, i));
    g_autoptr (json_t) term = mtr_terminal (m, tx, t, error);
    if (term == NULL) {
      g_prefix_error (error, "%s: ", what);
      return FALSE;
    }
    start = MAX (start, mtr_int (term, "from_period"));
  }
  json_int_t from_window = (start + wp - 1) / wp;
  g_autoptr (json_t) set = json_pack (
      "{s:s,s:O,s:s,s:I,s:I,s:i,s:I}", "set", id, "terminals", terms, "payer",
      mtr_str (body, "payer"), "from_window", from_window, "next_window",
      from_window, "carry", 0, "height", (json_int_t)info->height);
  if (!mtr_put (m, tx, k, set, error))
    return FALSE;
  g_autoptr (json_t) empty = json_object ();
  for (size_t i = 0; i < json_array_size (terms); i++) {
    g_snprintf (k, sizeof k, "tset/%s/%s",
                json_string_value (json_array_get (terms, i)), id);
    if (!mtr_put (m, tx, k, empty, error))
      return FALSE;
  }
  mtr_emit (m, tx, "metering.set",
            json_pack ("{s:s,s:I}", "set", id, "from_window", from_window));
  return TRUE;
}

/* ---- metering.prove, level 2 and settlements ---------------------------- */

static const char *const usage_keys[] = { "cpu_ms", "mem_mib_s", "net_in_bytes",
                                          "net_out_bytes", "storage_mib_s" };

/* The price of usage under params, 2^63 - 1 when it overflows (only
 * absurd readings and prices get there; failing would stop proofs). */
static uint64_t
price_of (const json_t *params, const json_t *usage)
{
  uint64_t amount;
  g_autoptr (GError) e = NULL;
  if (!meter_price (usage, json_object_get (params, "prices"),
                    (uint64_t)mtr_int (params, "price_scale"), &amount, &e))
    return (uint64_t)INT64_MAX;
  return amount;
}

/* a + b, saturating at 2^63 - 1 (both >= 0). */
static json_int_t
sat_add (json_int_t a, json_int_t b)
{
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* dst[k] += src[k] for every usage key, and time, amount. Window totals
 * saturate at 2^63 - 1 rather than fail: a failing proof would stop the
 * terminal's proofs for good (only absurd readings can get there). */
static void
acc_add (json_t *dst, const json_t *usage, json_int_t time_s, uint64_t amount)
{
  json_t *du = json_object_get (dst, "usage");
  for (guint k = 0; k < G_N_ELEMENTS (usage_keys); k++)
    json_object_set_new (
        du, usage_keys[k],
        json_integer (sat_add (mtr_int (du, usage_keys[k]),
                               mtr_int (usage, usage_keys[k]))));
  json_object_set_new (
      dst, "usage_time_s",
      json_integer (sat_add (mtr_int (dst, "usage_time_s"), time_s)));
  json_object_set_new (
      dst, "amount",
      json_integer (sat_add (mtr_int (dst, "amount"),
                             (json_int_t)MIN (amount, (uint64_t)INT64_MAX))));
}

static json_t *
acc_new (void)
{
  json_t *u = json_object ();
  for (guint k = 0; k < G_N_ELEMENTS (usage_keys); k++)
    json_object_set_new (u, usage_keys[k], json_integer (0));
  return json_pack ("{s:o,s:i,s:i,s:i}", "usage", u, "usage_time_s", 0,
                    "amount", 0, "periods", 0);
}

/* Lock amount of payer's balance for settlement id: status open (and the
 * pending index) when the balance covers it, else awaiting_funds in the
 * payer's queue. */
static gboolean
settlement_fund (Meter *m, CairnTxCtx *tx, json_t *stl, const char *id,
                 gboolean queue_if_short, GError **error)
{
  const char *payer = mtr_str (stl, "payer");
  GError *local = NULL;
  if (!m->bank->lock (m->self, tx, payer, mtr_str (stl, "denom"),
                      (uint64_t)mtr_int (stl, "amount"), &local)) {
    if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_INSUFFICIENT_FUNDS)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_error_free (local);
    json_object_set_new (stl, "status", json_string ("awaiting_funds"));
    if (!queue_if_short)
      return TRUE;
    char k[METER_KEYBUF];
    g_snprintf (k, sizeof k, "stlq/%s/%020" JSON_INTEGER_FORMAT "/%s", payer,
                mtr_int (stl, "height"), id);
    g_autoptr (json_t) empty = json_object ();
    return mtr_put (m, tx, k, empty, error);
  }
  json_object_set_new (stl, "status", json_string ("open"));
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "pending/stl/%s", id);
  g_autoptr (json_t) empty = json_object ();
  return mtr_put (m, tx, k, empty, error);
}

/* Open (or carry) the settlement of a level-2 proof. */
static gboolean
settlement_open (Meter *m, CairnTxCtx *tx, const json_t *params, json_t *set,
                 json_int_t window, uint64_t amount, GError **error)
{
  uint64_t total;
  if (!cairn_add_u64 ((uint64_t)mtr_int (set, "carry"), amount, &total)
      || total > (uint64_t)INT64_MAX)
    return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                       "metering: settlement amount overflows");
  if (total == 0 || total < (uint64_t)mtr_int (params, "min_settlement")) {
    json_object_set_new (set, "carry", json_integer ((json_int_t)total));
    return TRUE;
  }
  json_object_set_new (set, "carry", json_integer (0));
  /* id = SHA-256 of "cairn.metering.settlement\0" set "\0" window. */
  g_autofree char *wtext = g_strdup_printf ("%" JSON_INTEGER_FORMAT, window);
  const char *sid = mtr_str (set, "set");
  GChecksum *cs = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (cs, (const guchar *)"cairn.metering.settlement",
                     sizeof "cairn.metering.settlement");
  g_checksum_update (cs, (const guchar *)sid, (gssize)strlen (sid) + 1);
  g_checksum_update (cs, (const guchar *)wtext, -1);
  g_autofree char *id = g_strdup (g_checksum_get_string (cs));
  g_checksum_free (cs);
  const CairnTxInfo *info = meter_host->tx_info (tx);
  g_autoptr (json_t) stl = json_pack (
      "{s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:s,s:I}", "id", id, "set",
      mtr_str (set, "set"), "window", window, "payer", mtr_str (set, "payer"),
      "payee", mtr_str (params, "payee"), "amount", (json_int_t)total, "denom",
      mtr_str (params, "denom"), "status", "", "height",
      (json_int_t)info->height);
  if (!settlement_fund (m, tx, stl, id, TRUE, error))
    return FALSE;
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "stl/%s", id);
  if (!mtr_put (m, tx, k, stl, error))
    return FALSE;
  mtr_emit (m, tx, "metering.settlement_opened", json_deep_copy (stl));
  return TRUE;
}

/* Level-2 proofs of every window of set `sid` that its terminals' proofs
 * now complete, in order. */
static gboolean
level2_try (Meter *m, CairnTxCtx *tx, const json_t *params, const char *sid,
            GError **error)
{
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "set/%s", sid);
  g_autoptr (json_t) set = mtr_get (m, tx, k, error);
  if (set == NULL)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT, "metering: set %s missing",
                       sid);
  json_int_t wp = mtr_int (params, "window_periods");
  json_t *terms = json_object_get (set, "terminals");
  gboolean changed = FALSE;
  for (;;) {
    json_int_t w = mtr_int (set, "next_window");
    json_int_t end = (w + 1) * wp;
    g_autoptr (json_t) per = json_object ();
    g_autoptr (json_t) total = acc_new ();
    gboolean complete = TRUE;
    for (size_t i = 0; i < json_array_size (terms) && complete; i++) {
      const char *t = json_string_value (json_array_get (terms, i));
      g_autoptr (json_t) term = mtr_terminal (m, tx, t, error);
      if (term == NULL)
        return FALSE;
      if (mtr_int (term, "next_period") < end) {
        complete = FALSE;
        break;
      }
      g_snprintf (k, sizeof k, "acc/%s/%020" JSON_INTEGER_FORMAT, t, w);
      GError *local = NULL;
      json_t *acc = mtr_get (m, tx, k, &local);
      if (local != NULL) {
        g_propagate_error (error, local);
        return FALSE;
      }
      if (acc == NULL || mtr_int (acc, "periods") != wp) {
        json_decref (acc);
        return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                           "metering: terminal %s is proven past window "
                           "%" JSON_INTEGER_FORMAT " but its window total "
                           "lacks periods",
                           t, w);
      }
      acc_add (total, json_object_get (acc, "usage"),
               mtr_int (acc, "usage_time_s"),
               (uint64_t)mtr_int (acc, "amount"));
      json_object_set_new (per, t, acc);
    }
    if (!complete)
      break;
    /* The price of the set's window is that of its summed usage; the
     * per-terminal amounts are informative. */
    uint64_t amount = price_of (params, json_object_get (total, "usage"));
    const CairnTxInfo *info = meter_host->tx_info (tx);
    g_autoptr (json_t) l2 = json_pack (
        "{s:s,s:I,s:I,s:I,s:O,s:O,s:I,s:I,s:I}", "set", sid, "window", w,
        "from_period", w * wp, "to_period", end, "terminals", per, "usage",
        json_object_get (total, "usage"), "usage_time_s",
        mtr_int (total, "usage_time_s"), "amount", (json_int_t)amount, "height",
        (json_int_t)info->height);
    g_autofree char *lk = mtr_seq_key ("l2", sid, (uint64_t)w);
    if (!mtr_put (m, tx, lk, l2, error))
      return FALSE;
    mtr_emit (m, tx, "metering.level2",
              json_pack ("{s:s,s:I,s:I}", "set", sid, "window", w, "amount",
                         (json_int_t)amount));
    json_object_set_new (set, "next_window", json_integer (w + 1));
    if (!settlement_open (m, tx, params, set, w, amount, error))
      return FALSE;
    changed = TRUE;
  }
  g_snprintf (k, sizeof k, "set/%s", sid);
  return !changed || mtr_put (m, tx, k, set, error);
}

typedef struct {
  GPtrArray *sets;
  const char *prefix;
} SetList;

static gboolean
collect_set (const char *key, const uint8_t *value, size_t len, void *ud)
{
  SetList *l = ud;
  g_ptr_array_add (l->sets, g_strdup (key + strlen (l->prefix)));
  return TRUE;
}

static gboolean
prove_check (CairnPlugin *self, const json_t *body, GError **error)
{
  json_t *agg, *proof;
  if (!cairn_unpack_strict ("metering.prove", body, error, "{s:o,s:o}",
                            "aggregate", &agg, "proof", &proof))
    return FALSE;
  if (!meter_aggregate_check (agg, error)
      || !meter_proof_check (proof, error)) {
    g_prefix_error (error, "metering.prove: ");
    return FALSE;
  }
  return TRUE;
}

static gboolean
prove_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.prove";
  if (!prove_check (self, body, error) || !need_center (m, tx, what, error))
    return FALSE;
  const CairnTxInfo *info = meter_host->tx_info (tx);
  json_t *agg = json_object_get (body, "aggregate");
  json_t *proof = json_object_get (body, "proof");
  const char *tid = mtr_str (agg, "terminal");
  json_int_t period = mtr_int (agg, "period");
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  if (strcmp (mtr_str (agg, "chain_id"), info->chain_id) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the aggregate is for chain %s", what,
                       mtr_str (agg, "chain_id"));
  if (mtr_int (agg, "centers_version") != mtr_int (proof, "centers_version"))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: aggregate and proof name different center groups",
                       what);
  g_autoptr (json_t) group = mtr_centers (m, tx, error);
  if (group == NULL)
    return FALSE;
  if (mtr_int (proof, "centers_version") != mtr_int (group, "version"))
    return cairn_fail (
        error, CAIRN_ERROR_UNAUTHORIZED,
        "%s: made by center group version %" JSON_INTEGER_FORMAT
        ", but the current group is version %" JSON_INTEGER_FORMAT,
        what, mtr_int (proof, "centers_version"), mtr_int (group, "version"));
  /* The signature first: a proof below the threshold is named as such
   * whatever else is wrong with it. */
  if (!mtr_proof_verify_json (m, tx, METER_DOMAIN_AGGREGATE, agg, proof,
                              error)) {
    g_prefix_error (error, "%s: terminal %s, period %" JSON_INTEGER_FORMAT ": ",
                    what, tid, period);
    return FALSE;
  }
  g_autoptr (json_t) term = mtr_terminal (m, tx, tid, error);
  if (term == NULL)
    return FALSE;
  if (!json_is_true (json_object_get (term, "active")))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: terminal %s is deactivated", what, tid);
  json_int_t next = mtr_int (term, "next_period");
  if (period != next)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: terminal %s, period %" JSON_INTEGER_FORMAT ": %s "
                       "(the next period to prove is %" JSON_INTEGER_FORMAT ")",
                       what, tid, period,
                       period < next ? "already proven or before its "
                                       "registration"
                                     : "out of order",
                       next);
  int64_t current = mtr_period_of (params, info->time_ms);
  if (period >= current)
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "%s: terminal %s, period %" JSON_INTEGER_FORMAT " has "
        "not ended at block time (current period %" G_GINT64_FORMAT ")",
        what, tid, period, current);
  uint64_t amount = price_of (params, json_object_get (agg, "usage"));

  g_autofree char *pk = mtr_seq_key ("proof", tid, (uint64_t)period);
  g_autoptr (json_t) rec = json_pack (
      "{s:O,s:O,s:I,s:I,s:s,s:s}", "aggregate", agg, "proof", proof, "amount",
      (json_int_t)amount, "height", (json_int_t)info->height, "tx", info->id,
      "submitter", info->sender);
  if (!mtr_put (m, tx, pk, rec, error))
    return FALSE;
  json_object_set_new (term, "next_period", json_integer (period + 1));
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "term/%s", tid);
  if (!mtr_put (m, tx, k, term, error))
    return FALSE;

  /* The terminal's running total of this window. */
  json_int_t w = period / mtr_int (params, "window_periods");
  g_snprintf (k, sizeof k, "acc/%s/%020" JSON_INTEGER_FORMAT, tid, w);
  GError *local = NULL;
  g_autoptr (json_t) acc = mtr_get (m, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (acc == NULL)
    acc = acc_new ();
  acc_add (acc, json_object_get (agg, "usage"), mtr_int (agg, "usage_time_s"),
           amount);
  json_object_set_new (acc, "periods",
                       json_integer (mtr_int (acc, "periods") + 1));
  if (!mtr_put (m, tx, k, acc, error))
    return FALSE;
  mtr_emit (m, tx, "metering.proof",
            json_pack ("{s:s,s:I,s:I,s:I}", "terminal", tid, "period", period,
                       "amount", (json_int_t)amount, "readings",
                       (json_int_t)json_array_size (
                           json_object_get (agg, "readings"))));

  g_snprintf (k, sizeof k, "tset/%s/", tid);
  SetList l = { g_ptr_array_new_with_free_func (g_free), k };
  gboolean ok
      = meter_host->state_iter (m->self, tx, NULL, k, collect_set, &l, error);
  for (guint i = 0; ok && i < l.sets->len; i++)
    ok = level2_try (m, tx, params, l.sets->pdata[i], error);
  g_ptr_array_unref (l.sets);
  return ok;
}

/* ---- vouchers: settle, recharge, withdrawn ------------------------------ */

/* {voucher, proof}: shape, the centers' proof over the voucher, the
 * voucher as mtr_voucher_acceptable takes it; records the voucher. */
static json_t *
take_voucher (Meter *m, CairnTxCtx *tx, const char *what, const char *kind,
              const json_t *body, GError **error)
{
  json_t *v, *proof;
  if (!cairn_unpack_strict (what, body, error, "{s:o,s:o}", "voucher", &v,
                            "proof", &proof))
    return NULL;
  if (!need_center (m, tx, what, error)
      || !mtr_voucher_acceptable (m, tx, kind, v, error)
      || !mtr_proof_verify_json (m, tx, METER_DOMAIN_VOUCHER_ACK, v, proof,
                                 error)) {
    g_prefix_error (error, "%s: ", what);
    return NULL;
  }
  g_autofree char *vk = mtr_voucher_key (v);
  g_autoptr (json_t) seen = json_pack (
      "{s:I}", "height", (json_int_t)meter_host->tx_info (tx)->height);
  if (!mtr_put (m, tx, vk, seen, error))
    return NULL;
  return v;
}

static gboolean
voucher_body_check (const char *what, const json_t *body, GError **error)
{
  json_t *v, *proof;
  if (!cairn_unpack_strict (what, body, error, "{s:o,s:o}", "voucher", &v,
                            "proof", &proof))
    return FALSE;
  if (!meter_voucher_check (v, error) || !meter_proof_check (proof, error)) {
    g_prefix_error (error, "%s: ", what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
settle_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return voucher_body_check ("metering.settle", body, error);
}

static gboolean
settle_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.settle";
  json_t *v = take_voucher (m, tx, what, "settlement", body, error);
  if (v == NULL)
    return FALSE;
  const char *id = mtr_str (v, "ref");
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "stl/%s", id);
  g_autoptr (json_t) stl = mtr_get (m, tx, k, error);
  if (stl == NULL)
    return FALSE;
  const char *payer = mtr_str (stl, "payer"), *denom = mtr_str (stl, "denom");
  uint64_t amount = (uint64_t)mtr_int (stl, "amount");
  gboolean done = strcmp (mtr_str (v, "status"), "done") == 0;
  if (!m->bank->unlock (m->self, tx, payer, denom, amount, error))
    return FALSE;
  if (done
      && (!m->bank->transfer (m->self, tx, payer, mtr_str (stl, "payee"), denom,
                              amount, error)
          || !totals_add (m, tx, "settled", amount, error)))
    return FALSE;
  json_object_set_new (stl, "status",
                       json_string (done ? "cleared" : "rejected"));
  json_object_set (stl, "voucher", v);
  json_object_set_new (
      stl, "closed_height",
      json_integer ((json_int_t)meter_host->tx_info (tx)->height));
  if (!mtr_put (m, tx, k, stl, error))
    return FALSE;
  g_snprintf (k, sizeof k, "pending/stl/%s", id);
  if (!mtr_del (m, tx, k, error))
    return FALSE;
  mtr_emit (m, tx,
            done ? "metering.settlement_cleared"
                 : "metering.settlement_rejected",
            json_pack ("{s:s,s:s,s:I}", "id", id, "payer", payer, "amount",
                       (json_int_t)amount));
  return TRUE;
}

typedef struct {
  GPtrArray *keys;
} KeyList;

static gboolean
collect_key (const char *key, const uint8_t *value, size_t len, void *ud)
{
  g_ptr_array_add (((KeyList *)ud)->keys, g_strdup (key));
  return TRUE;
}

/* Fund account's waiting settlements in order while the balance covers
 * them. */
static gboolean
fund_waiting (Meter *m, CairnTxCtx *tx, const char *account, GError **error)
{
  char prefix[METER_KEYBUF];
  g_snprintf (prefix, sizeof prefix, "stlq/%s/", account);
  KeyList l = { g_ptr_array_new_with_free_func (g_free) };
  gboolean ok = meter_host->state_iter (m->self, tx, NULL, prefix, collect_key,
                                        &l, error);
  for (guint i = 0; ok && i < l.keys->len; i++) {
    const char *qk = l.keys->pdata[i];
    const char *id = strrchr (qk, '/') + 1;
    char k[METER_KEYBUF];
    g_snprintf (k, sizeof k, "stl/%s", id);
    g_autoptr (json_t) stl = mtr_get (m, tx, k, error);
    if (stl == NULL) {
      ok = FALSE;
      break;
    }
    if (!settlement_fund (m, tx, stl, id, FALSE, error)) {
      ok = FALSE;
      break;
    }
    if (strcmp (mtr_str (stl, "status"), "open") != 0)
      break; /* still short: later ones wait behind it */
    ok = mtr_put (m, tx, k, stl, error) && mtr_del (m, tx, qk, error);
    if (ok)
      mtr_emit (m, tx, "metering.settlement_funded",
                json_pack ("{s:s,s:s}", "id", id, "payer", account));
  }
  g_ptr_array_unref (l.keys);
  return ok;
}

static gboolean
recharge_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return voucher_body_check ("metering.recharge", body, error);
}

static gboolean
recharge_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.recharge";
  json_t *v = take_voucher (m, tx, what, "recharge", body, error);
  if (v == NULL)
    return FALSE;
  if (strcmp (mtr_str (v, "status"), "done") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: a recharge voucher must say done", what);
  /* One recharge per reference, even if the terminal signs it twice. */
  char k[METER_KEYBUF];
  g_autofree char *ref_hex = g_compute_checksum_for_string (
      G_CHECKSUM_SHA256, mtr_str (v, "ref"), -1);
  g_snprintf (k, sizeof k, "rref/%s", ref_hex);
  GError *local = NULL;
  g_autoptr (json_t) seen = mtr_get (m, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (seen != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: recharge reference %s was already credited at "
                       "height %" JSON_INTEGER_FORMAT,
                       what, mtr_str (v, "ref"), mtr_int (seen, "height"));
  const char *account = mtr_str (v, "account");
  uint64_t amount = (uint64_t)mtr_int (v, "amount");
  g_autoptr (json_t) mark = json_pack (
      "{s:I}", "height", (json_int_t)meter_host->tx_info (tx)->height);
  if (!mtr_put (m, tx, k, mark, error)
      || !m->bank->mint (m->self, tx, account, mtr_str (v, "denom"), amount,
                         error)
      || !totals_add (m, tx, "recharged", amount, error))
    return FALSE;
  mtr_emit (m, tx, "metering.recharged",
            json_pack ("{s:s,s:I,s:s}", "account", account, "amount",
                       (json_int_t)amount, "ref", mtr_str (v, "ref")));
  return fund_waiting (m, tx, account, error);
}

static gboolean
withdraw_check (CairnPlugin *self, const json_t *body, GError **error)
{
  json_int_t amount;
  if (!cairn_unpack_strict ("metering.withdraw", body, error, "{s:I}", "amount",
                            &amount))
    return FALSE;
  if (amount < 1)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "metering.withdraw: amount must be positive");
  return TRUE;
}

static gboolean
withdraw_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Meter *m = meter_of (self);
  if (!withdraw_check (self, body, error))
    return FALSE;
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  const CairnTxInfo *info = meter_host->tx_info (tx);
  json_int_t amount = mtr_int (body, "amount");
  const char *denom = mtr_str (params, "denom");
  if (!m->bank->lock (m->self, tx, info->sender, denom, (uint64_t)amount,
                      error)) {
    g_prefix_error (error, "metering.withdraw: ");
    return FALSE;
  }
  g_autoptr (json_t) wd
      = json_pack ("{s:s,s:s,s:I,s:s,s:s,s:I}", "id", info->id, "account",
                   info->sender, "amount", amount, "denom", denom, "status",
                   "requested", "height", (json_int_t)info->height);
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "wd/%s", info->id);
  g_autoptr (json_t) empty = json_object ();
  if (!mtr_put (m, tx, k, wd, error))
    return FALSE;
  g_snprintf (k, sizeof k, "pending/wd/%s", info->id);
  if (!mtr_put (m, tx, k, empty, error))
    return FALSE;
  mtr_emit (m, tx, "metering.withdraw_requested", json_deep_copy (wd));
  return TRUE;
}

static gboolean
withdrawn_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return voucher_body_check ("metering.withdrawn", body, error);
}

static gboolean
withdrawn_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                 GError **error)
{
  Meter *m = meter_of (self);
  const char *what = "metering.withdrawn";
  json_t *v = take_voucher (m, tx, what, "withdrawal", body, error);
  if (v == NULL)
    return FALSE;
  const char *id = mtr_str (v, "ref");
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "wd/%s", id);
  g_autoptr (json_t) wd = mtr_get (m, tx, k, error);
  if (wd == NULL)
    return FALSE;
  const char *account = mtr_str (wd, "account"), *denom = mtr_str (wd, "denom");
  uint64_t amount = (uint64_t)mtr_int (wd, "amount");
  gboolean done = strcmp (mtr_str (v, "status"), "done") == 0;
  if (!m->bank->unlock (m->self, tx, account, denom, amount, error)
      || (done
          && (!m->bank->burn (m->self, tx, account, denom, amount, error)
              || !totals_add (m, tx, "withdrawn", amount, error))))
    return FALSE;
  json_object_set_new (wd, "status", json_string (done ? "done" : "rejected"));
  json_object_set (wd, "voucher", v);
  if (!mtr_put (m, tx, k, wd, error))
    return FALSE;
  g_snprintf (k, sizeof k, "pending/wd/%s", id);
  if (!mtr_del (m, tx, k, error))
    return FALSE;
  mtr_emit (m, tx, done ? "metering.withdrawn" : "metering.withdraw_rejected",
            json_pack ("{s:s,s:s,s:I}", "id", id, "account", account, "amount",
                       (json_int_t)amount));
  return done || fund_waiting (m, tx, account, error);
}

/* ---- registration ------------------------------------------------------- */

#define HANDLER(name)                                                          \
  static const CairnTxHandler name##_handler = {                               \
    .iface_version = CAIRN_TX_HANDLER_VERSION,                                 \
    .check = name##_check,                                                     \
    .apply = name##_apply,                                                     \
  }
HANDLER (configure);
HANDLER (set_centers);
HANDLER (set_finance);
HANDLER (register_terminal);
HANDLER (update_terminal);
HANDLER (create_set);
HANDLER (prove);
HANDLER (settle);
HANDLER (recharge);
HANDLER (withdraw);
HANDLER (withdrawn);

gboolean
mtr_register_txs (Meter *m, GError **error)
{
  const struct {
    const char *type;
    const CairnTxHandler *h;
  } types[] = {
    { "metering.configure", &configure_handler },
    { "metering.set_centers", &set_centers_handler },
    { "metering.set_finance", &set_finance_handler },
    { "metering.register_terminal", &register_terminal_handler },
    { "metering.update_terminal", &update_terminal_handler },
    { "metering.create_set", &create_set_handler },
    { "metering.prove", &prove_handler },
    { "metering.settle", &settle_handler },
    { "metering.recharge", &recharge_handler },
    { "metering.withdraw", &withdraw_handler },
    { "metering.withdrawn", &withdrawn_handler },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (!meter_host->register_tx_type (m->self, types[i].type, types[i].h,
                                       sizeof *types[i].h, error))
      return FALSE;
  return TRUE;
}

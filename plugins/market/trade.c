/* market: trading vouchers (or any denomination) — recorded transfers and
 * orders whose sold amount is held by the bank under this plugin until it
 * is filled or cancelled. Every amount is 1..2^63-1 and the bank checks
 * balances and overflow before it writes. */
#include <string.h>

#include "market.h"

#define MAX_MEMO 256

static gboolean
amount_ok (const char *what, const char *field, json_int_t amount,
           GError **error)
{
  if (amount < 1)
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "%s: %s must be a positive integer (1..%" G_GUINT64_FORMAT
        "), not %" JSON_INTEGER_FORMAT,
        what, field, CAIRN_BANK_MAX_AMOUNT, amount);
  return TRUE;
}

static gboolean
denom_ok (const char *what, const char *d, GError **error)
{
  if (!cairn_denom_valid (d))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: denom '%s' must be 2-16 of [a-z0-9], starting with "
                       "a letter",
                       what, d ? d : "(null)");
  return TRUE;
}

/* trade/<height>/<index> and th/<addr>/<height>/<index> for both sides. */
static gboolean
record (Market *m, CairnTxCtx *tx, json_t *rec, const char *a, const char *b,
        GError **error)
{
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  char k[MKT_KEYBUF];
  json_object_set_new (rec, "height", json_integer ((json_int_t)info->height));
  json_object_set_new (rec, "tx", json_string (info->id));
  g_snprintf (k, sizeof k, "trade/%020" G_GUINT64_FORMAT "/%06u", info->height,
              info->index);
  if (!mkt_put (m, tx, k, rec, error))
    return FALSE;
  g_autoptr (json_t) ref = json_pack ("{s:s}", "key", k);
  const char *who[2] = { a, b };
  for (int i = 0; i < 2; i++) {
    g_snprintf (k, sizeof k, "th/%s/%020" G_GUINT64_FORMAT "/%06u", who[i],
                info->height, info->index);
    if (!mkt_put (m, tx, k, ref, error))
      return FALSE;
  }
  mkt_host->emit_event (m->self, tx, "market.traded", json_deep_copy (rec));
  return TRUE;
}

/* ---- market.trade {"to","denom","amount",["memo"]} -------------------- */

static gboolean
trade_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "market.trade";
  const char *to, *denom, *memo = NULL;
  json_int_t amount;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s,s:I,s?s}", "to", &to,
                            "denom", &denom, "amount", &amount, "memo", &memo)
      || !amount_ok (what, "amount", amount, error)
      || !denom_ok (what, denom, error))
    return FALSE;
  if (!mkt_host->address_valid (to))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: to '%s' is not an address", what, to);
  if (memo != NULL
      && (strlen (memo) > MAX_MEMO || !g_utf8_validate (memo, -1, NULL)))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: memo must be at most %d bytes of UTF-8", what,
                       MAX_MEMO);
  return TRUE;
}

static gboolean
trade_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *from = mkt_host->tx_info (tx)->sender;
  const char *to = mkt_str (body, "to"), *denom = mkt_str (body, "denom");
  json_int_t amount = mkt_int (body, "amount");
  if (strcmp (from, to) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "market.trade: sender and receiver are both %s", from);
  if (!m->bank->transfer (self, tx, from, to, denom, (uint64_t)amount, error)) {
    g_prefix_error (error, "market.trade: ");
    return FALSE;
  }
  g_autoptr (json_t) rec
      = json_pack ("{s:s,s:s,s:s,s:s,s:I}", "kind", "transfer", "from", from,
                   "to", to, "denom", denom, "amount", amount);
  if (mkt_str (body, "memo"))
    json_object_set (rec, "memo", json_object_get (body, "memo"));
  return record (m, tx, rec, from, to, error);
}

const CairnTxHandler mkt_trade_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = trade_check,
  .apply = trade_apply,
};

/* ---- market.order {"sell":{"denom","amount"},"buy":{...}} ------------- */

static gboolean
order_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "market.order";
  const char *sd, *bd;
  json_int_t sa, ba;
  if (!cairn_unpack_strict (what, body, error, "{s:{s:s,s:I},s:{s:s,s:I}}",
                            "sell", "denom", &sd, "amount", &sa, "buy", "denom",
                            &bd, "amount", &ba)
      || !denom_ok (what, sd, error) || !denom_ok (what, bd, error)
      || !amount_ok (what, "sell.amount", sa, error)
      || !amount_ok (what, "buy.amount", ba, error))
    return FALSE;
  if (strcmp (sd, bd) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: an order sells and buys two different "
                       "denominations, not %s for %s",
                       what, sd, bd);
  return TRUE;
}

static gboolean
order_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Market *m = mkt_host->get_data (self);
  const CairnTxInfo *info = mkt_host->tx_info (tx);
  const json_t *sell = json_object_get (body, "sell");
  if (!m->bank->lock (self, tx, info->sender, mkt_str (sell, "denom"),
                      (uint64_t)mkt_int (sell, "amount"), error)) {
    g_prefix_error (error, "market.order: ");
    return FALSE;
  }
  g_autoptr (json_t) o = json_pack ("{s:s,s:s,s:O,s:O,s:s,s:I}", "id", info->id,
                                    "maker", info->sender, "sell", sell, "buy",
                                    json_object_get (body, "buy"), "status",
                                    "open", "height", (json_int_t)info->height);
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "order/%s", info->id);
  g_autoptr (json_t) empty = json_object ();
  if (!mkt_put (m, tx, k, o, error))
    return FALSE;
  g_snprintf (k, sizeof k, "open/%s", info->id);
  if (!mkt_put (m, tx, k, empty, error))
    return FALSE;
  mkt_host->emit_event (self, tx, "market.order_opened", json_deep_copy (o));
  return TRUE;
}

const CairnTxHandler mkt_order_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = order_check,
  .apply = order_apply,
};

/* ---- market.fill / market.cancel {"order"} ---------------------------- */

static gboolean
order_ref_check (const char *what, const json_t *body, GError **error)
{
  const char *id;
  if (!cairn_unpack_strict (what, body, error, "{s:s}", "order", &id))
    return FALSE;
  if (!cairn_hex_lower_valid (id, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: order must be an order id (64 hex)", what);
  return TRUE;
}

static gboolean
fill_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return order_ref_check ("market.fill", body, error);
}

static gboolean
cancel_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return order_ref_check ("market.cancel", body, error);
}

/* The open order body.order, or NULL. */
static json_t *
open_order (Market *m, CairnTxCtx *tx, const char *what, const json_t *body,
            GError **error)
{
  char k[MKT_KEYBUF];
  const char *id = mkt_str (body, "order");
  g_snprintf (k, sizeof k, "order/%s", id);
  GError *local = NULL;
  json_t *o = mkt_get (m, tx, k, &local);
  if (o == NULL) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "%s: unknown order %s", what,
                  id);
    return NULL;
  }
  if (strcmp (mkt_str (o, "status"), "open") != 0) {
    cairn_fail (error, CAIRN_ERROR_CONFLICT, "%s: order %s is %s", what, id,
                mkt_str (o, "status"));
    json_decref (o);
    return NULL;
  }
  return o;
}

static gboolean
close_order (Market *m, CairnTxCtx *tx, json_t *o, const char *status,
             GError **error)
{
  char k[MKT_KEYBUF];
  json_object_set_new (o, "status", json_string (status));
  json_object_set_new (
      o, "closed", json_integer ((json_int_t)mkt_host->tx_info (tx)->height));
  g_snprintf (k, sizeof k, "order/%s", mkt_str (o, "id"));
  if (!mkt_put (m, tx, k, o, error))
    return FALSE;
  g_snprintf (k, sizeof k, "open/%s", mkt_str (o, "id"));
  return mkt_host->state_delete (m->self, tx, k, error);
}

static gboolean
fill_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.fill";
  const char *taker = mkt_host->tx_info (tx)->sender;
  g_autoptr (json_t) o = open_order (m, tx, what, body, error);
  if (o == NULL)
    return FALSE;
  const char *maker = mkt_str (o, "maker");
  if (strcmp (maker, taker) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s cannot fill its own order (cancel it)", what,
                       maker);
  const json_t *sell = json_object_get (o, "sell");
  const json_t *buy = json_object_get (o, "buy");
  uint64_t sa = (uint64_t)mkt_int (sell, "amount");
  uint64_t ba = (uint64_t)mkt_int (buy, "amount");
  /* The taker pays first: a failure leaves the maker's funds locked. */
  if (!m->bank->transfer (self, tx, taker, maker, mkt_str (buy, "denom"), ba,
                          error)
      || !m->bank->unlock (self, tx, maker, mkt_str (sell, "denom"), sa, error)
      || !m->bank->transfer (self, tx, maker, taker, mkt_str (sell, "denom"),
                             sa, error)) {
    g_prefix_error (error, "%s: ", what);
    return FALSE;
  }
  json_object_set_new (o, "taker", json_string (taker));
  if (!close_order (m, tx, o, "filled", error))
    return FALSE;
  mkt_host->emit_event (self, tx, "market.order_filled",
                        json_pack ("{s:s,s:s,s:s}", "order", mkt_str (o, "id"),
                                   "maker", maker, "taker", taker));
  g_autoptr (json_t) rec = json_pack (
      "{s:s,s:s,s:s,s:s,s:O,s:O}", "kind", "fill", "order", mkt_str (o, "id"),
      "maker", maker, "taker", taker, "sell", sell, "buy", buy);
  return record (m, tx, rec, maker, taker, error);
}

static gboolean
cancel_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Market *m = mkt_host->get_data (self);
  const char *what = "market.cancel";
  const char *sender = mkt_host->tx_info (tx)->sender;
  g_autoptr (json_t) o = open_order (m, tx, what, body, error);
  if (o == NULL)
    return FALSE;
  if (strcmp (mkt_str (o, "maker"), sender) != 0)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: only the maker %s cancels order %s", what,
                       mkt_str (o, "maker"), mkt_str (o, "id"));
  const json_t *sell = json_object_get (o, "sell");
  if (!m->bank->unlock (self, tx, sender, mkt_str (sell, "denom"),
                        (uint64_t)mkt_int (sell, "amount"), error)) {
    g_prefix_error (error, "%s: ", what);
    return FALSE;
  }
  if (!close_order (m, tx, o, "cancelled", error))
    return FALSE;
  mkt_host->emit_event (
      self, tx, "market.order_cancelled",
      json_pack ("{s:s,s:s}", "order", mkt_str (o, "id"), "maker", sender));
  return TRUE;
}

const CairnTxHandler mkt_fill_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = fill_check,
  .apply = fill_apply,
};

const CairnTxHandler mkt_cancel_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = cancel_check,
  .apply = cancel_apply,
};

/* The mock host's built-in cairn.bank/1: the bank plugin's state layout,
 * checks, errors and events (plugins/bank/bank.c), in the host's state,
 * for tests of plugins that move funds without loading the bank (see
 * <cairn/testing/mock_host.h>). */
#include <string.h>

#include "mock_private.h"

#define NS "bank/"
#define KEY_BUF 200

static const char *
caller_id (CairnPlugin *caller)
{
  return ((CairnTestPlugin *)caller)->desc->id;
}

/* ---- amounts in state ---- */

static gboolean
amount_parse (const uint8_t *p, size_t len, uint64_t *out)
{
  uint64_t v = 0;
  if (len == 0 || len > 19 || (len > 1 && p[0] == '0'))
    return FALSE;
  for (size_t i = 0; i < len; i++) {
    if (p[i] < '0' || p[i] > '9')
      return FALSE;
    v = v * 10 + (uint64_t)(p[i] - '0');
  }
  if (v > CAIRN_BANK_MAX_AMOUNT)
    return FALSE;
  *out = v;
  return TRUE;
}

/* The amount under full key through tx (NULL: committed); 0 if absent. */
static gboolean
amount_read (CairnTestHost *h, CairnTxCtx *tx, const char *key, uint64_t *out,
             GError **error)
{
  g_autoptr (GBytes) v = cairn_test__read (h, tx, key);
  *out = 0;
  if (v == NULL)
    return TRUE;
  gsize len;
  const uint8_t *p = g_bytes_get_data (v, &len);
  if (!amount_parse (p, len, out))
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "bank state %s: value '%.*s' is not a decimal amount",
                       key + strlen (NS), (int)MIN (len, 40), (const char *)p);
  return TRUE;
}

static void
amount_write (CairnTxCtx *tx, const char *key, uint64_t amount)
{
  if (amount == 0) {
    cairn_test__write (tx, key, NULL);
    return;
  }
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, amount);
  g_autoptr (GBytes) b = g_bytes_new (digits, strlen (digits));
  cairn_test__write (tx, key, b);
}

static gboolean
amount_add (const char *key, uint64_t a, uint64_t b, uint64_t *out,
            GError **error)
{
  if (!cairn_add_u64 (a, b, out) || *out > CAIRN_BANK_MAX_AMOUNT)
    return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                       "%s: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
                       " exceeds the maximum amount %" G_GUINT64_FORMAT,
                       key + strlen (NS), a, b, CAIRN_BANK_MAX_AMOUNT);
  return TRUE;
}

static gboolean
amount_sub (const char *what, const char *address, const char *denom,
            uint64_t have, uint64_t amount, uint64_t *out, GError **error)
{
  if (!cairn_sub_u64 (have, amount, out))
    return cairn_fail (error, CAIRN_ERROR_INSUFFICIENT_FUNDS,
                       "insufficient funds: %s %s has %" G_GUINT64_FORMAT
                       " %s, needs %" G_GUINT64_FORMAT,
                       address, what, have, denom, amount);
  return TRUE;
}

static void
bal_key (char buf[KEY_BUF], const char *address, const char *denom)
{
  g_snprintf (buf, KEY_BUF, NS "bal/%s/%s", address, denom);
}

static void
lock_key (char buf[KEY_BUF], const char *holder, const char *address,
          const char *denom)
{
  g_snprintf (buf, KEY_BUF, NS "lock/%s/%s/%s", holder, address, denom);
}

static void
supply_key (char buf[KEY_BUF], const char *denom)
{
  g_snprintf (buf, KEY_BUF, NS "supply/%s", denom);
}

/* ---- checks ---- */

static gboolean
check_address (const char *what, const char *address, GError **error)
{
  if (address == NULL || !cairn_test__address_valid (address))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: '%s' is not an address (40 lowercase hex "
                       "characters)",
                       what, address != NULL ? address : "(null)");
  return TRUE;
}

static gboolean
check_denom (const char *what, const char *denom, GError **error)
{
  if (!cairn_denom_valid (denom))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: '%s' is not a denomination ([a-z][a-z0-9]{1,15})",
                       what, denom != NULL ? denom : "(null)");
  return TRUE;
}

static gboolean
check_amount (const char *what, uint64_t amount, GError **error)
{
  if (amount == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: amount must be greater than 0", what);
  if (amount > CAIRN_BANK_MAX_AMOUNT)
    return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                       "%s: amount %" G_GUINT64_FORMAT
                       " exceeds the maximum %" G_GUINT64_FORMAT,
                       what, amount, CAIRN_BANK_MAX_AMOUNT);
  return TRUE;
}

static gboolean
need_tx (const char *what, CairnTxCtx *tx, GError **error)
{
  if (tx == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: changes balances, so it needs the tx context of "
                       "the handler or hook being executed (got NULL)",
                       what);
  return TRUE;
}

static void
emit (CairnTxCtx *tx, const char *type, json_t *attrs)
{
  g_assert_nonnull (attrs);
  json_array_append_new (
      tx->events, json_pack ("{s:s, s:o}", "type", type, "attrs", attrs));
}

/* ---- the service ---- */

static gboolean
svc_balance (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
             const char *denom, uint64_t *out, GError **error)
{
  char k[KEY_BUF];
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!check_address ("bank.balance: address", address, error)
      || !check_denom ("bank.balance: denom", denom, error))
    return FALSE;
  bal_key (k, address, denom);
  return amount_read (h, tx, k, out, error);
}

static gboolean
op_transfer (CairnTestHost *h, CairnTxCtx *tx, const char *from, const char *to,
             const char *denom, uint64_t amount, GError **error)
{
  char kf[KEY_BUF], kt[KEY_BUF];
  uint64_t bf = 0, bt = 0, nf = 0, nt = 0;
  bal_key (kf, from, denom);
  bal_key (kt, to, denom);
  if (!amount_read (h, tx, kf, &bf, error)
      || !amount_sub ("balance", from, denom, bf, amount, &nf, error)
      || !amount_read (h, tx, kt, &bt, error)
      || !amount_add (kt, bt, amount, &nt, error))
    return FALSE;
  amount_write (tx, kf, nf);
  amount_write (tx, kt, nt);
  return TRUE;
}

static gboolean
svc_transfer (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
              const char *to, const char *denom, uint64_t amount,
              GError **error)
{
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!need_tx ("bank.transfer", tx, error)
      || !check_address ("bank.transfer: from", from, error)
      || !check_address ("bank.transfer: to", to, error)
      || !check_denom ("bank.transfer: denom", denom, error)
      || !check_amount ("bank.transfer", amount, error))
    return FALSE;
  if (strcmp (from, to) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "bank.transfer: from and to are the same address %s",
                       from);
  if (!op_transfer (h, tx, from, to, denom, amount, error))
    return FALSE;
  emit (tx, "bank.transfer",
        json_pack ("{s:s,s:s,s:s,s:I,s:s}", "from", from, "to", to, "denom",
                   denom, "amount", (json_int_t)amount, "by",
                   caller_id (caller)));
  return TRUE;
}

static gboolean
check_minter (CairnTestHost *h, CairnPlugin *caller, const char *what,
              GError **error)
{
  const char *id = caller_id (caller);
  for (guint i = 0; i < h->minters->len; i++)
    if (strcmp (h->minters->pdata[i], id) == 0)
      return TRUE;
  return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                     "%s: plugin '%s' may not mint or burn; add it to [bank] "
                     "minters (in a test: cairn_test_host_bank_add_minter)",
                     what, id);
}

static gboolean
svc_mint (CairnPlugin *caller, CairnTxCtx *tx, const char *to,
          const char *denom, uint64_t amount, GError **error)
{
  char kb[KEY_BUF], ks[KEY_BUF];
  uint64_t bal = 0, sup = 0, nbal = 0, nsup = 0;
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!check_minter (h, caller, "bank.mint", error)
      || !need_tx ("bank.mint", tx, error)
      || !check_address ("bank.mint: to", to, error)
      || !check_denom ("bank.mint: denom", denom, error)
      || !check_amount ("bank.mint", amount, error))
    return FALSE;
  bal_key (kb, to, denom);
  supply_key (ks, denom);
  if (!amount_read (h, tx, ks, &sup, error)
      || !amount_add (ks, sup, amount, &nsup, error)
      || !amount_read (h, tx, kb, &bal, error)
      || !amount_add (kb, bal, amount, &nbal, error))
    return FALSE;
  amount_write (tx, kb, nbal);
  amount_write (tx, ks, nsup);
  emit (tx, "bank.mint",
        json_pack ("{s:s,s:s,s:I,s:s}", "to", to, "denom", denom, "amount",
                   (json_int_t)amount, "by", caller_id (caller)));
  return TRUE;
}

static gboolean
svc_burn (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
          const char *denom, uint64_t amount, GError **error)
{
  char kb[KEY_BUF], ks[KEY_BUF];
  uint64_t bal = 0, sup = 0, nbal = 0, nsup = 0;
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!check_minter (h, caller, "bank.burn", error)
      || !need_tx ("bank.burn", tx, error)
      || !check_address ("bank.burn: from", from, error)
      || !check_denom ("bank.burn: denom", denom, error)
      || !check_amount ("bank.burn", amount, error))
    return FALSE;
  bal_key (kb, from, denom);
  supply_key (ks, denom);
  if (!amount_read (h, tx, kb, &bal, error)
      || !amount_sub ("balance", from, denom, bal, amount, &nbal, error)
      || !amount_read (h, tx, ks, &sup, error))
    return FALSE;
  if (!cairn_sub_u64 (sup, amount, &nsup))
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "bank state supply/%s: supply %" G_GUINT64_FORMAT
                       " is below a balance of %" G_GUINT64_FORMAT,
                       denom, sup, bal);
  amount_write (tx, kb, nbal);
  amount_write (tx, ks, nsup);
  emit (tx, "bank.burn",
        json_pack ("{s:s,s:s,s:I,s:s}", "from", from, "denom", denom, "amount",
                   (json_int_t)amount, "by", caller_id (caller)));
  return TRUE;
}

static gboolean
svc_lock_common (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                 const char *denom, uint64_t amount, gboolean lock,
                 GError **error)
{
  const char *what = lock ? "bank.lock" : "bank.unlock";
  char kb[KEY_BUF], kl[KEY_BUF], kh[KEY_BUF];
  uint64_t bal = 0, lk = 0, nbal = 0, nlk = 0;
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!need_tx (what, tx, error)
      || !check_address (lock ? "bank.lock: address" : "bank.unlock: address",
                         address, error)
      || !check_denom (lock ? "bank.lock: denom" : "bank.unlock: denom", denom,
                       error)
      || !check_amount (what, amount, error))
    return FALSE;
  const char *holder = caller_id (caller);
  bal_key (kb, address, denom);
  lock_key (kl, holder, address, denom);
  if (!amount_read (h, tx, kb, &bal, error)
      || !amount_read (h, tx, kl, &lk, error))
    return FALSE;
  if (lock) {
    if (!amount_sub ("balance", address, denom, bal, amount, &nbal, error)
        || !amount_add (kl, lk, amount, &nlk, error))
      return FALSE;
    g_snprintf (kh, sizeof kh, NS "holders/%s", holder);
    g_autoptr (GBytes) seen = cairn_test__read (h, tx, kh);
    if (seen == NULL) {
      g_autoptr (GBytes) one = g_bytes_new ("1", 1);
      cairn_test__write (tx, kh, one);
    }
  } else {
    g_autofree char *locked_by = g_strdup_printf ("locked by %s", holder);
    if (!amount_sub (locked_by, address, denom, lk, amount, &nlk, error)
        || !amount_add (kb, bal, amount, &nbal, error))
      return FALSE;
  }
  amount_write (tx, kb, nbal);
  amount_write (tx, kl, nlk);
  emit (tx, lock ? "bank.lock" : "bank.unlock",
        json_pack ("{s:s,s:s,s:I,s:s}", "address", address, "denom", denom,
                   "amount", (json_int_t)amount, "holder", holder));
  return TRUE;
}

static gboolean
svc_lock (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
          const char *denom, uint64_t amount, GError **error)
{
  return svc_lock_common (caller, tx, address, denom, amount, TRUE, error);
}

static gboolean
svc_unlock (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
            const char *denom, uint64_t amount, GError **error)
{
  return svc_lock_common (caller, tx, address, denom, amount, FALSE, error);
}

static gboolean
svc_locked (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
            const char *denom, uint64_t *out, GError **error)
{
  char k[KEY_BUF];
  CairnTestHost *h = cairn_test__host_of (caller);
  if (!check_address ("bank.locked: address", address, error)
      || !check_denom ("bank.locked: denom", denom, error))
    return FALSE;
  lock_key (k, caller_id (caller), address, denom);
  return amount_read (h, tx, k, out, error);
}

void
cairn_test__bank_init (CairnTestHost *h)
{
  h->bank = (CairnBankService){
    .size = sizeof (CairnBankService),
    .balance = svc_balance,
    .transfer = svc_transfer,
    .mint = svc_mint,
    .burn = svc_burn,
    .lock = svc_lock,
    .unlock = svc_unlock,
    .locked = svc_locked,
  };
  MockService s = { NULL, &h->bank };
  g_hash_table_insert (h->services, g_strdup (CAIRN_BANK_SERVICE "/1"),
                       g_memdup2 (&s, sizeof s));
}

/* accounts[].balances, as the bank plugin's genesis hook. */
gboolean
cairn_test__bank_genesis (CairnTestHost *h, CairnTxCtx *tx, GError **error)
{
  size_t i;
  json_t *acct;
  json_array_foreach (json_object_get (h->genesis, "accounts"), i, acct)
  {
    const char *address = json_string_value (json_object_get (acct, "address"));
    const json_t *balances = json_object_get (acct, "balances");
    const char *denom;
    json_t *v;
    if (balances == NULL)
      continue;
    if (address == NULL || !cairn_test__address_valid (address)
        || !json_is_object (balances))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "genesis: accounts[%zu]: needs an address and "
                         "balances as an object",
                         i);
    json_object_foreach ((json_t *)balances, denom, v)
    {
      char kb[KEY_BUF], ks[KEY_BUF];
      uint64_t sup = 0, nsup = 0;
      if (!cairn_denom_valid (denom) || !json_is_integer (v)
          || json_integer_value (v) < 0)
        return cairn_fail (error, CAIRN_ERROR_INVALID,
                           "genesis: accounts[%zu].balances.%s: a "
                           "denomination and a non-negative integer",
                           i, denom);
      uint64_t bal = (uint64_t)json_integer_value (v);
      if (bal == 0)
        continue;
      bal_key (kb, address, denom);
      supply_key (ks, denom);
      if (!amount_read (h, tx, ks, &sup, error)
          || !amount_add (ks, sup, bal, &nsup, error))
        return FALSE;
      amount_write (tx, kb, bal);
      amount_write (tx, ks, nsup);
    }
  }
  return TRUE;
}

/* ---- the test's helpers (committed state, either bank) ---- */

void
cairn_test_host_bank_add_minter (CairnTestHost *h, const char *plugin_id)
{
  g_assert_nonnull (plugin_id);
  g_ptr_array_add (h->minters, g_strdup (plugin_id));
}

static uint64_t
committed (CairnTestHost *h, const char *key)
{
  g_autoptr (GError) error = NULL;
  uint64_t v;
  if (!amount_read (h, NULL, key, &v, &error))
    g_error ("mock host: %s", error->message);
  return v;
}

static void
set_committed (CairnTestHost *h, const char *key, uint64_t v)
{
  if (v == 0) {
    cairn_test_host_state_set (h, key, NULL, 0);
    return;
  }
  g_autofree char *digits = g_strdup_printf ("%" G_GUINT64_FORMAT, v);
  cairn_test_host_state_set (h, key, digits, strlen (digits));
}

void
cairn_test_host_bank_set_balance (CairnTestHost *h, const char *address,
                                  const char *denom, uint64_t amount)
{
  char kb[KEY_BUF], ks[KEY_BUF];
  g_assert_true (cairn_test__address_valid (address));
  g_assert_true (cairn_denom_valid (denom));
  g_assert_cmpuint (amount, <=, CAIRN_BANK_MAX_AMOUNT);
  bal_key (kb, address, denom);
  supply_key (ks, denom);
  uint64_t old = committed (h, kb), sup = committed (h, ks);
  uint64_t nsup = sup - old + amount; /* old <= sup in a consistent state */
  if (old > sup || nsup > CAIRN_BANK_MAX_AMOUNT)
    g_error ("mock host: bank_set_balance: supply of %s would be out of "
             "range",
             denom);
  set_committed (h, kb, amount);
  set_committed (h, ks, nsup);
}

uint64_t
cairn_test_host_bank_balance (CairnTestHost *h, const char *address,
                              const char *denom)
{
  char k[KEY_BUF];
  bal_key (k, address, denom);
  return committed (h, k);
}

uint64_t
cairn_test_host_bank_locked (CairnTestHost *h, const char *holder,
                             const char *address, const char *denom)
{
  char k[KEY_BUF];
  lock_key (k, holder, address, denom);
  return committed (h, k);
}

uint64_t
cairn_test_host_bank_supply (CairnTestHost *h, const char *denom)
{
  char k[KEY_BUF];
  supply_key (k, denom);
  return committed (h, k);
}

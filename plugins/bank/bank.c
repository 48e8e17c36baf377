/* bank: balances per denomination, the `bank.transfer` tx type and the
 * cairn.bank/1 service.
 *
 * State (the plugin's namespace "bank"):
 *   bal/<address>/<denom>            spendable balance
 *   lock/<holder>/<address>/<denom>  balance locked by plugin <holder>
 *   holders/<holder>                 "1": <holder> has locked funds once
 *                                    (lets routes find locks per address)
 *   supply/<denom>                   total minted minus burnt
 * Amounts are stored as their decimal digits (a canonical JSON integer);
 * a balance that drops to zero is deleted.
 *
 * Written only against the public SDK. bank.transfer is the benchmark's hot
 * path: no JSON is built or parsed in it beyond the event attributes. */
#include <string.h>

#include <cairn/bank.h>
#include <cairn/cairn.h>

#define BANK_ID "bank"
/* "lock/" holder(32) "/" address(40) "/" denom(16) and a NUL fit easily. */
#define KEY_BUF 160
#define AMOUNT_DIGITS 21

typedef struct Bank {
  CairnBankService vt; /* first: lookup_service returns &vt */
  CairnPlugin *self;
  char **minters;
} Bank;

/* The core's host table lives as long as the process (see host.h). */
static const CairnHost *host;

/* ---- validation ------------------------------------------------------- */

static gboolean
plugin_id_valid (const char *id)
{
  size_t n = strlen (id);
  if (n < 1 || n > 32)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_islower (id[i]) && !g_ascii_isdigit (id[i]) && id[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
check_address (const char *what, const char *address, GError **error)
{
  if (address == NULL || !host->address_valid (address)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: '%s' is not an address (40 lowercase hex characters)",
                 what, address != NULL ? address : "(null)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_denom (const char *what, const char *denom, GError **error)
{
  if (!cairn_denom_valid (denom)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: '%s' is not a denomination ([a-z][a-z0-9]{1,15})", what,
                 denom != NULL ? denom : "(null)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_amount (const char *what, uint64_t amount, GError **error)
{
  if (amount == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: amount must be greater than 0", what);
    return FALSE;
  }
  if (amount > CAIRN_BANK_MAX_AMOUNT) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_OVERFLOW,
                 "%s: amount %" G_GUINT64_FORMAT
                 " exceeds the maximum %" G_GUINT64_FORMAT,
                 what, amount, CAIRN_BANK_MAX_AMOUNT);
    return FALSE;
  }
  return TRUE;
}

static gboolean
need_tx (const char *what, CairnTxCtx *tx, GError **error)
{
  if (tx == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: changes balances, so it needs the tx context of the "
                 "handler or hook being executed (got NULL)",
                 what);
    return FALSE;
  }
  return TRUE;
}

/* ---- amounts in state ------------------------------------------------- */

/* Strict decimal: 1-19 digits, no leading zero, at most INT64_MAX. */
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

static gboolean
amount_parse_value (const char *key, const uint8_t *p, size_t len,
                    uint64_t *out, GError **error)
{
  if (!amount_parse (p, len, out)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "bank state %s: value '%.*s' is not a decimal amount", key,
                 (int)MIN (len, 40), (const char *)p);
    return FALSE;
  }
  return TRUE;
}

static gboolean
amount_read (Bank *b, CairnTxCtx *tx, const char *key, uint64_t *out,
             GError **error)
{
  GError *local = NULL;
  g_autoptr (GBytes) v = host->state_get (b->self, tx, NULL, key, &local);
  if (v == NULL) {
    if (local != NULL
        && !g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_clear_error (&local);
    *out = 0;
    return TRUE;
  }
  gsize len;
  const uint8_t *p = g_bytes_get_data (v, &len);
  return amount_parse_value (key, p, len, out, error);
}

static gboolean
amount_write (Bank *b, CairnTxCtx *tx, const char *key, uint64_t amount,
              GError **error)
{
  char digits[AMOUNT_DIGITS];
  if (amount == 0)
    return host->state_delete (b->self, tx, key, error);
  int n = g_snprintf (digits, sizeof digits, "%" G_GUINT64_FORMAT, amount);
  return host->state_put (b->self, tx, key, digits, (size_t)n, error);
}

/* a + b within CAIRN_BANK_MAX_AMOUNT. */
static gboolean
amount_add (const char *key, uint64_t a, uint64_t b, uint64_t *out,
            GError **error)
{
  if (!cairn_add_u64 (a, b, out) || *out > CAIRN_BANK_MAX_AMOUNT) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_OVERFLOW,
                 "%s: %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT
                 " exceeds the maximum amount %" G_GUINT64_FORMAT,
                 key, a, b, CAIRN_BANK_MAX_AMOUNT);
    return FALSE;
  }
  return TRUE;
}

static gboolean
amount_sub (const char *what, const char *address, const char *denom,
            uint64_t have, uint64_t amount, uint64_t *out, GError **error)
{
  if (!cairn_sub_u64 (have, amount, out)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INSUFFICIENT_FUNDS,
                 "insufficient funds: %s %s has %" G_GUINT64_FORMAT
                 " %s, needs %" G_GUINT64_FORMAT,
                 address, what, have, denom, amount);
    return FALSE;
  }
  return TRUE;
}

static void
bal_key (char buf[KEY_BUF], const char *address, const char *denom)
{
  g_snprintf (buf, KEY_BUF, "bal/%s/%s", address, denom);
}

static void
lock_key (char buf[KEY_BUF], const char *holder, const char *address,
          const char *denom)
{
  g_snprintf (buf, KEY_BUF, "lock/%s/%s/%s", holder, address, denom);
}

static void
supply_key (char buf[KEY_BUF], const char *denom)
{
  g_snprintf (buf, KEY_BUF, "supply/%s", denom);
}

/* ---- operations shared by the tx type and the service ----------------- */

/* Inputs already validated. Reads and checks everything, then writes. */
static gboolean
op_transfer (Bank *b, CairnTxCtx *tx, const char *from, const char *to,
             const char *denom, uint64_t amount, GError **error)
{
  char kf[KEY_BUF], kt[KEY_BUF];
  uint64_t bf, bt, nf, nt;
  bal_key (kf, from, denom);
  bal_key (kt, to, denom);
  if (!amount_read (b, tx, kf, &bf, error)
      || !amount_sub ("balance", from, denom, bf, amount, &nf, error)
      || !amount_read (b, tx, kt, &bt, error)
      || !amount_add (kt, bt, amount, &nt, error))
    return FALSE;
  return amount_write (b, tx, kf, nf, error)
         && amount_write (b, tx, kt, nt, error);
}

static void
emit (Bank *b, CairnTxCtx *tx, const char *type, json_t *attrs)
{
  /* json_pack only fails on a bad format or out of memory. */
  g_assert (attrs != NULL);
  host->emit_event (b->self, tx, type, attrs);
}

/* ---- the service ------------------------------------------------------ */

/* The bank instance of the caller's node. */
static Bank *
bank_of (CairnPlugin *caller, GError **error)
{
  const void *vt = host->lookup_service (caller, CAIRN_BANK_SERVICE,
                                         CAIRN_BANK_SERVICE_VERSION);
  if (vt == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "cairn.bank/1: no bank is loaded in the node of plugin '%s'",
                 caller != NULL ? host->plugin_id (caller) : "(null)");
    return NULL;
  }
  return (Bank *)vt;
}

static gboolean
svc_balance (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
             const char *denom, uint64_t *out, GError **error)
{
  char k[KEY_BUF];
  Bank *b = bank_of (caller, error);
  if (b == NULL || !check_address ("bank.balance: address", address, error)
      || !check_denom ("bank.balance: denom", denom, error))
    return FALSE;
  bal_key (k, address, denom);
  return amount_read (b, tx, k, out, error);
}

static gboolean
svc_transfer (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
              const char *to, const char *denom, uint64_t amount,
              GError **error)
{
  Bank *b = bank_of (caller, error);
  if (b == NULL || !need_tx ("bank.transfer", tx, error)
      || !check_address ("bank.transfer: from", from, error)
      || !check_address ("bank.transfer: to", to, error)
      || !check_denom ("bank.transfer: denom", denom, error)
      || !check_amount ("bank.transfer", amount, error))
    return FALSE;
  if (strcmp (from, to) == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: from and to are the same address %s", from);
    return FALSE;
  }
  if (!op_transfer (b, tx, from, to, denom, amount, error))
    return FALSE;
  emit (b, tx, "bank.transfer",
        json_pack ("{s:s,s:s,s:s,s:I,s:s}", "from", from, "to", to, "denom",
                   denom, "amount", (json_int_t)amount, "by",
                   host->plugin_id (caller)));
  return TRUE;
}

static gboolean
check_minter (Bank *b, CairnPlugin *caller, const char *what, GError **error)
{
  const char *id = host->plugin_id (caller);
  if (!g_strv_contains ((const char *const *)b->minters, id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "%s: plugin '%s' may not mint or burn; add it to [bank] "
                 "minters",
                 what, id);
    return FALSE;
  }
  return TRUE;
}

static gboolean
svc_mint (CairnPlugin *caller, CairnTxCtx *tx, const char *to,
          const char *denom, uint64_t amount, GError **error)
{
  char kb[KEY_BUF], ks[KEY_BUF];
  uint64_t bal, sup, nbal, nsup;
  Bank *b = bank_of (caller, error);
  if (b == NULL || !check_minter (b, caller, "bank.mint", error)
      || !need_tx ("bank.mint", tx, error)
      || !check_address ("bank.mint: to", to, error)
      || !check_denom ("bank.mint: denom", denom, error)
      || !check_amount ("bank.mint", amount, error))
    return FALSE;
  bal_key (kb, to, denom);
  supply_key (ks, denom);
  if (!amount_read (b, tx, ks, &sup, error)
      || !amount_add (ks, sup, amount, &nsup, error)
      || !amount_read (b, tx, kb, &bal, error)
      || !amount_add (kb, bal, amount, &nbal, error)
      || !amount_write (b, tx, kb, nbal, error)
      || !amount_write (b, tx, ks, nsup, error))
    return FALSE;
  emit (b, tx, "bank.mint",
        json_pack ("{s:s,s:s,s:I,s:s}", "to", to, "denom", denom, "amount",
                   (json_int_t)amount, "by", host->plugin_id (caller)));
  return TRUE;
}

static gboolean
svc_burn (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
          const char *denom, uint64_t amount, GError **error)
{
  char kb[KEY_BUF], ks[KEY_BUF];
  uint64_t bal, sup, nbal, nsup;
  Bank *b = bank_of (caller, error);
  if (b == NULL || !check_minter (b, caller, "bank.burn", error)
      || !need_tx ("bank.burn", tx, error)
      || !check_address ("bank.burn: from", from, error)
      || !check_denom ("bank.burn: denom", denom, error)
      || !check_amount ("bank.burn", amount, error))
    return FALSE;
  bal_key (kb, from, denom);
  supply_key (ks, denom);
  if (!amount_read (b, tx, kb, &bal, error)
      || !amount_sub ("balance", from, denom, bal, amount, &nbal, error)
      || !amount_read (b, tx, ks, &sup, error))
    return FALSE;
  if (!cairn_sub_u64 (sup, amount, &nsup)) {
    /* A balance larger than the supply: the state is inconsistent. */
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "bank state %s: supply %" G_GUINT64_FORMAT
                 " is below a balance of %" G_GUINT64_FORMAT,
                 ks, sup, bal);
    return FALSE;
  }
  if (!amount_write (b, tx, kb, nbal, error)
      || !amount_write (b, tx, ks, nsup, error))
    return FALSE;
  emit (b, tx, "bank.burn",
        json_pack ("{s:s,s:s,s:I,s:s}", "from", from, "denom", denom, "amount",
                   (json_int_t)amount, "by", host->plugin_id (caller)));
  return TRUE;
}

/* Remember that `holder` locks funds so routes can list locks by address. */
static gboolean
holder_note (Bank *b, CairnTxCtx *tx, const char *holder, GError **error)
{
  char k[KEY_BUF];
  GError *local = NULL;
  g_snprintf (k, sizeof k, "holders/%s", holder);
  g_autoptr (GBytes) v = host->state_get (b->self, tx, NULL, k, &local);
  if (v != NULL)
    return TRUE;
  if (local != NULL
      && !g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_propagate_error (error, local);
    return FALSE;
  }
  g_clear_error (&local);
  return host->state_put (b->self, tx, k, "1", 1, error);
}

static gboolean
svc_lock_common (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                 const char *denom, uint64_t amount, gboolean lock,
                 GError **error)
{
  const char *what = lock ? "bank.lock" : "bank.unlock";
  char kb[KEY_BUF], kl[KEY_BUF];
  uint64_t bal, lk, nbal, nlk;
  Bank *b = bank_of (caller, error);
  if (b == NULL || !need_tx (what, tx, error)
      || !check_address (lock ? "bank.lock: address" : "bank.unlock: address",
                         address, error)
      || !check_denom (lock ? "bank.lock: denom" : "bank.unlock: denom", denom,
                       error)
      || !check_amount (what, amount, error))
    return FALSE;
  const char *holder = host->plugin_id (caller);
  bal_key (kb, address, denom);
  lock_key (kl, holder, address, denom);
  if (!amount_read (b, tx, kb, &bal, error)
      || !amount_read (b, tx, kl, &lk, error))
    return FALSE;
  if (lock) {
    if (!amount_sub ("balance", address, denom, bal, amount, &nbal, error)
        || !amount_add (kl, lk, amount, &nlk, error)
        || !holder_note (b, tx, holder, error))
      return FALSE;
  } else {
    g_autofree char *locked_by = g_strdup_printf ("locked by %s", holder);
    if (!amount_sub (locked_by, address, denom, lk, amount, &nlk, error)
        || !amount_add (kb, bal, amount, &nbal, error))
      return FALSE;
  }
  if (!amount_write (b, tx, kb, nbal, error)
      || !amount_write (b, tx, kl, nlk, error))
    return FALSE;
  emit (b, tx, lock ? "bank.lock" : "bank.unlock",
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
  Bank *b = bank_of (caller, error);
  if (b == NULL || !check_address ("bank.locked: address", address, error)
      || !check_denom ("bank.locked: denom", denom, error))
    return FALSE;
  lock_key (k, host->plugin_id (caller), address, denom);
  return amount_read (b, tx, k, out, error);
}

/* ---- bank.transfer ---------------------------------------------------- */

typedef struct Transfer {
  const char *to;
  const char *denom;
  uint64_t amount;
  const char *memo; /* NULL: none */
} Transfer;

/* The optional free-text memo is carried in the tx only (never stored in
 * state): a UTF-8 string of at most CAIRN_BANK_MAX_MEMO bytes. */
#define CAIRN_BANK_MAX_MEMO 16384

static gboolean
check_memo (const json_t *memo, GError **error)
{
  if (!json_is_string (memo)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.memo must be a string");
    return FALSE;
  }
  size_t len = json_string_length (memo);
  if (len > CAIRN_BANK_MAX_MEMO) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.memo is %zu bytes, more than the "
                 "limit of %d bytes",
                 len, CAIRN_BANK_MAX_MEMO);
    return FALSE;
  }
  const char *text = json_string_value (memo);
  if (memchr (text, '\0', len) != NULL
      || !g_utf8_validate (text, (gssize)len, NULL)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.memo must be UTF-8 text without NUL");
    return FALSE;
  }
  return TRUE;
}

static gboolean
transfer_parse (const json_t *body, Transfer *t, GError **error)
{
  const json_t *to, *denom, *amount, *memo;
  if (!json_is_object (body)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body must be an object");
    return FALSE;
  }
  to = json_object_get (body, "to");
  denom = json_object_get (body, "denom");
  amount = json_object_get (body, "amount");
  memo = json_object_get (body, "memo");
  if (to == NULL || denom == NULL || amount == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.%s is missing",
                 to == NULL      ? "to"
                 : denom == NULL ? "denom"
                                 : "amount");
    return FALSE;
  }
  if (json_object_size (body) != (memo != NULL ? 4u : 3u)) {
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)body, key, v)
    {
      if (strcmp (key, "to") != 0 && strcmp (key, "denom") != 0
          && strcmp (key, "amount") != 0 && strcmp (key, "memo") != 0) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                     "bank.transfer: body.%s: unknown field (allowed: to, "
                     "denom, amount, memo)",
                     key);
        return FALSE;
      }
    }
  }
  if (!json_is_string (to)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.to must be a string");
    return FALSE;
  }
  if (!json_is_string (denom)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.denom must be a string");
    return FALSE;
  }
  if (!json_is_integer (amount) || json_integer_value (amount) <= 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.amount must be an integer greater "
                 "than 0");
    return FALSE;
  }
  if (memo != NULL && !check_memo (memo, error))
    return FALSE;
  t->to = json_string_value (to);
  t->denom = json_string_value (denom);
  t->amount = (uint64_t)json_integer_value (amount);
  t->memo = memo != NULL ? json_string_value (memo) : NULL;
  return check_address ("bank.transfer: body.to", t->to, error)
         && check_denom ("bank.transfer: body.denom", t->denom, error);
}

static gboolean
transfer_check (CairnPlugin *self, const json_t *body, GError **error)
{
  Transfer t;
  return transfer_parse (body, &t, error);
}

static gboolean
transfer_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Bank *b = host->get_data (self);
  Transfer t;
  /* check() ran at admission, but blocks from peers were admitted by them. */
  if (!transfer_parse (body, &t, error))
    return FALSE;
  const char *from = host->tx_info (tx)->sender;
  if (strcmp (from, t.to) == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "bank.transfer: body.to is the sender %s; a transfer to "
                 "oneself does nothing",
                 from);
    return FALSE;
  }
  if (!op_transfer (b, tx, from, t.to, t.denom, t.amount, error))
    return FALSE;
  /* Built directly (json_pack parses its format at every transfer); the
   * strings are a checked address and denomination. */
  json_t *attrs = json_object ();
  json_object_set_new_nocheck (attrs, "from", json_string_nocheck (from));
  json_object_set_new_nocheck (attrs, "to", json_string_nocheck (t.to));
  json_object_set_new_nocheck (attrs, "denom", json_string_nocheck (t.denom));
  json_object_set_new_nocheck (attrs, "amount",
                               json_integer ((json_int_t)t.amount));
  emit (b, tx, "bank.transfer", attrs);
  return TRUE;
}

static const CairnTxHandler transfer_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = transfer_check,
  .apply = transfer_apply,
};

/* ---- genesis ---------------------------------------------------------- */

static gboolean
genesis_account (Bank *b, CairnTxCtx *tx, size_t i, const json_t *acct,
                 GError **error)
{
  const json_t *address = json_object_get (acct, "address");
  const json_t *balances = json_object_get (acct, "balances");
  const char *denom;
  const json_t *v;
  if (!json_is_string (address)
      || !host->address_valid (json_string_value (address))) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "genesis: accounts[%zu].address: must be an address", i);
    return FALSE;
  }
  if (balances == NULL)
    return TRUE;
  if (!json_is_object (balances)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "genesis: accounts[%zu].balances: must be an object", i);
    return FALSE;
  }
  json_object_foreach ((json_t *)balances, denom, v)
  {
    char kb[KEY_BUF], ks[KEY_BUF];
    uint64_t bal, sup, nsup;
    if (!cairn_denom_valid (denom)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "genesis: accounts[%zu].balances.%s: not a denomination "
                   "([a-z][a-z0-9]{1,15})",
                   i, denom);
      return FALSE;
    }
    if (!json_is_integer (v) || json_integer_value (v) < 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "genesis: accounts[%zu].balances.%s: must be a "
                   "non-negative integer",
                   i, denom);
      return FALSE;
    }
    bal = (uint64_t)json_integer_value (v);
    if (bal == 0)
      continue;
    bal_key (kb, json_string_value (address), denom);
    supply_key (ks, denom);
    if (!amount_read (b, tx, ks, &sup, error)
        || !amount_add (ks, sup, bal, &nsup, error)
        || !amount_write (b, tx, kb, bal, error)
        || !amount_write (b, tx, ks, nsup, error)) {
      g_prefix_error (error, "genesis: accounts[%zu].balances.%s: ", i, denom);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
bank_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
              GError **error)
{
  Bank *b = host->get_data (self);
  const json_t *accounts = json_object_get (genesis, "accounts");
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), BANK_ID);
  if (app != NULL && !(json_is_object (app) && json_object_size (app) == 0)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "genesis: app_state.bank: the bank takes no genesis options "
                 "(balances come from accounts[].balances); remove it");
    return FALSE;
  }
  if (accounts == NULL)
    return TRUE;
  if (!json_is_array (accounts)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "genesis: accounts: must be an array");
    return FALSE;
  }
  for (size_t i = 0; i < json_array_size (accounts); i++)
    if (!genesis_account (b, tx, i, json_array_get (accounts, i), error))
      return FALSE;
  return TRUE;
}

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = bank_genesis,
};

/* ---- routes ----------------------------------------------------------- */

typedef struct Collect {
  size_t skip;      /* length of the key prefix to drop */
  json_t *obj;      /* name -> amount */
  GPtrArray *names; /* or: collect the names (holders) */
  GError *error;
} Collect;

static gboolean
collect_kv (const char *key, const uint8_t *value, size_t value_len,
            void *user_data)
{
  Collect *c = user_data;
  uint64_t amount;
  if (strlen (key) <= c->skip)
    return TRUE;
  const char *name = key + c->skip;
  if (strchr (name, '/') != NULL)
    return TRUE; /* not ours: a deeper key */
  if (c->names != NULL) {
    g_ptr_array_add (c->names, g_strdup (name));
    return TRUE;
  }
  if (!amount_parse_value (key, value, value_len, &amount, &c->error))
    return FALSE;
  json_object_set_new (c->obj, name, json_integer ((json_int_t)amount));
  return TRUE;
}

/* Collects "<prefix><name>" entries into obj (amounts) or names. */
static gboolean
collect (Bank *b, const char *prefix, json_t *obj, GPtrArray *names,
         GError **error)
{
  Collect c = { strlen (prefix), obj, names, NULL };
  if (!host->state_iter (b->self, NULL, NULL, prefix, collect_kv, &c, error))
    return FALSE;
  if (c.error != NULL) {
    g_propagate_error (error, c.error);
    return FALSE;
  }
  return TRUE;
}

static gboolean
route_balances (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
                void *user_data, GError **error)
{
  Bank *b = user_data;
  const char *address = req->path_rest;
  char prefix[KEY_BUF];
  if (!check_address ("GET /v1/bank/balances/{address}", address, error))
    return FALSE;
  g_autoptr (GPtrArray) holders = g_ptr_array_new_with_free_func (g_free);
  json_t *balances = json_object ();
  json_t *locked = json_object ();
  json_t *out = json_pack ("{s:s,s:o,s:o}", "address", address, "balances",
                           balances, "locked", locked);
  g_snprintf (prefix, sizeof prefix, "bal/%s/", address);
  if (!collect (b, prefix, balances, NULL, error)
      || !collect (b, "holders/", NULL, holders, error))
    goto fail;
  for (guint i = 0; i < holders->len; i++) {
    const char *holder = holders->pdata[i];
    json_t *mine = json_object ();
    g_snprintf (prefix, sizeof prefix, "lock/%s/%s/", holder, address);
    if (!collect (b, prefix, mine, NULL, error)) {
      json_decref (mine);
      goto fail;
    }
    if (json_object_size (mine) > 0)
      json_object_set_new (locked, holder, mine);
    else
      json_decref (mine);
  }
  resp->json = out;
  return TRUE;
fail:
  json_decref (out);
  return FALSE;
}

static gboolean
route_supply (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *user_data, GError **error)
{
  Bank *b = user_data;
  const char *denom = req->path_rest;
  char k[KEY_BUF];
  uint64_t sup;
  if (denom == NULL || *denom == '\0') {
    json_t *all = json_object ();
    if (!collect (b, "supply/", all, NULL, error)) {
      json_decref (all);
      return FALSE;
    }
    resp->json = json_pack ("{s:o}", "supply", all);
    return TRUE;
  }
  if (!check_denom ("GET /v1/bank/supply/{denom}", denom, error))
    return FALSE;
  supply_key (k, denom);
  if (!amount_read (b, NULL, k, &sup, error))
    return FALSE;
  resp->json
      = json_pack ("{s:s,s:I}", "denom", denom, "supply", (json_int_t)sup);
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------- */

static void
bank_free (Bank *b)
{
  g_strfreev (b->minters);
  g_free (b);
}

static gboolean
bank_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  Bank *b = g_new0 (Bank, 1);
  b->vt = (CairnBankService){
    .size = sizeof (CairnBankService),
    .balance = svc_balance,
    .transfer = svc_transfer,
    .mint = svc_mint,
    .burn = svc_burn,
    .lock = svc_lock,
    .unlock = svc_unlock,
    .locked = svc_locked,
  };
  b->self = self;
  if (!host->config_strv (self, "minters", &b->minters, error))
    goto fail;
  for (char **m = b->minters; *m != NULL; m++)
    if (!plugin_id_valid (*m)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "[bank] minters: '%s' is not a plugin id ([a-z0-9-]{1,32})",
                   *m);
      goto fail;
    }
  host->set_data (self, b);
  if (!host->register_tx_type (self, "bank.transfer", &transfer_handler,
                               sizeof transfer_handler, error)
      || !host->register_app (self, &app_iface, sizeof app_iface, error)
      || !host->register_route (self, "GET", "/v1/bank/balances/",
                                route_balances, b, error)
      || !host->register_route (self, "GET", "/v1/bank/supply/", route_supply,
                                b, error)
      || !host->provide_service (self, CAIRN_BANK_SERVICE,
                                 CAIRN_BANK_SERVICE_VERSION, &b->vt, error))
    goto fail;
  return TRUE;
fail:
  host->set_data (self, NULL);
  bank_free (b);
  return FALSE;
}

static void
bank_fini (CairnPlugin *self)
{
  Bank *b = host->get_data (self);
  if (b != NULL)
    bank_free (b);
  host->set_data (self, NULL);
}

static const CairnServiceRef bank_provides[] = {
  { CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (bank, .id = BANK_ID, .version = "0.1.0", .vendor = "Cairn",
                     .license = "Apache-2.0",
                     .description = "Balances per denomination, bank.transfer "
                                    "and the cairn.bank/1 service",
                     .kinds = CAIRN_KIND_APP, .provides = bank_provides,
                     .init = bank_init, .fini = bank_fini)

/* pos staking: params, validators, delegations, unbonding, slashing,
 * jailing, rewards and the validator-set history (see staking.h for the
 * state layout and README.md for the rules). Deterministic: integers
 * only, state read in key order, canonical JSON values. */
#define CAIRN_PLUGIN_MIN_MINOR 1
#include <string.h>

#include "staking.h"

#define H20 "%020" G_GUINT64_FORMAT
#define BPS 10000u
#define MAX_BLOCKS (UINT64_C (1) << 40)
#define MAX_EVIDENCE_BYTES 4096

__extension__ typedef unsigned __int128 u128;

/* The host table is one per process (host.h). */
static const CairnHost *host;

/* a * b / c without overflow; c > 0 and b <= c, so the result <= a. */
static uint64_t
mul_div (uint64_t a, uint64_t b, uint64_t c)
{
  return (uint64_t)((u128)a * b / c);
}

static gboolean fail (GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_ERROR, code, msg);
  return FALSE;
}

/* ---- state access --------------------------------------------------------
 */

/* *out = the JSON at key, or NULL when absent (not an error). */
static gboolean
get_json (PosStaking *st, CairnTxCtx *tx, const char *key, json_t **out,
          GError **error)
{
  GError *local = NULL;
  *out = host->state_get_json (st->self, tx, NULL, key, &local);
  if (*out != NULL)
    return TRUE;
  if (local == NULL
      || g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_clear_error (&local);
    return TRUE;
  }
  g_propagate_error (error, local);
  return FALSE;
}

static gboolean
amount_parse (const char *key, const uint8_t *p, size_t len, uint64_t *out,
              GError **error)
{
  char buf[24];
  guint64 v;
  if (len == 0 || len >= sizeof buf || (len > 1 && p[0] == '0'))
    goto bad;
  memcpy (buf, p, len);
  buf[len] = '\0';
  if (!g_ascii_string_to_unsigned (buf, 10, 0, CAIRN_BANK_MAX_AMOUNT, &v, NULL))
    goto bad;
  *out = v;
  return TRUE;
bad:
  return fail (error, CAIRN_ERROR_CORRUPT,
               "pos state %s: value '%.*s' is not a decimal amount", key,
               (int)MIN (len, 40), (const char *)p);
}

/* An amount (decimal digits); 0 when absent. */
static gboolean
get_amount (PosStaking *st, CairnTxCtx *tx, const char *key, uint64_t *out,
            GError **error)
{
  GError *local = NULL;
  g_autoptr (GBytes) v = host->state_get (st->self, tx, NULL, key, &local);
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
  return amount_parse (key, p, len, out, error);
}

/* 0 deletes the key. */
static gboolean
put_amount (PosStaking *st, CairnTxCtx *tx, const char *key, uint64_t v,
            GError **error)
{
  char buf[24];
  if (v == 0)
    return host->state_delete (st->self, tx, key, error);
  int n = g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, v);
  return host->state_put (st->self, tx, key, buf, (size_t)n, error);
}

typedef struct {
  char *key;
  GBytes *value;
} Kv;

static void
kv_free (gpointer p)
{
  Kv *kv = p;
  g_free (kv->key);
  g_bytes_unref (kv->value);
  g_free (kv);
}

typedef struct {
  GPtrArray *out;
  const char *until; /* stop at the first key above this; NULL = all */
} Collect;

static gboolean
collect_kv (const char *key, const uint8_t *value, size_t len, void *ud)
{
  Collect *c = ud;
  if (c->until != NULL && strcmp (key, c->until) > 0)
    return FALSE;
  Kv *kv = g_new (Kv, 1);
  kv->key = g_strdup (key);
  kv->value = g_bytes_new (value, len);
  g_ptr_array_add (c->out, kv);
  return TRUE;
}

/* The entries under prefix, ascending (collected first, so callers may
 * write while they walk them). */
static GPtrArray *
collect (PosStaking *st, CairnTxCtx *tx, const char *prefix, const char *until,
         GError **error)
{
  Collect c = { g_ptr_array_new_with_free_func (kv_free), until };
  if (!host->state_iter (st->self, tx, NULL, prefix, collect_kv, &c, error)) {
    g_ptr_array_unref (c.out);
    return NULL;
  }
  return c.out;
}

static json_t *
kv_json (const Kv *kv, GError **error)
{
  gsize len;
  const char *p = g_bytes_get_data (kv->value, &len);
  json_t *j = host->json_parse_canonical (p, len, error);
  if (j == NULL)
    g_prefix_error (error, "pos state %s: ", kv->key);
  return j;
}

/* "<prefix>/<20 digits>..." → the height. */
static gboolean
key_height (const char *key, size_t skip, uint64_t *out, GError **error)
{
  char digits[21];
  if (strlen (key) < skip + 20)
    goto bad;
  memcpy (digits, key + skip, 20);
  digits[20] = '\0';
  guint64 v;
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &v, NULL))
    goto bad;
  *out = v;
  return TRUE;
bad:
  return fail (error, CAIRN_ERROR_CORRUPT,
               "pos state %s: no 20-digit height at offset %zu", key, skip);
}

static gboolean
mark_changed (PosStaking *st, CairnTxCtx *tx, GError **error)
{
  return host->state_put (st->self, tx, "changed", "1", 1, error);
}

/* ---- params --------------------------------------------------------------
 */

static gboolean
only_keys (const json_t *obj, const char *where, const char *const *keys,
           GError **error)
{
  const char *key;
  const json_t *v;
  json_object_foreach ((json_t *)obj, key, v)
  {
    if (!g_strv_contains (keys, key)) {
      g_autofree char *list = g_strjoinv (", ", (char **)keys);
      return fail (error, CAIRN_ERROR_INVALID, "%s.%s: unknown key (known: %s)",
                   where, key, list);
    }
  }
  return TRUE;
}

static gboolean
param_u64 (const json_t *obj, const char *where, const char *key, uint64_t def,
           uint64_t min, uint64_t max, uint64_t *out, GError **error)
{
  const json_t *v = json_object_get (obj, key);
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  if (!json_is_integer (v) || json_integer_value (v) < 0
      || (uint64_t)json_integer_value (v) < min
      || (uint64_t)json_integer_value (v) > max)
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s.%s: must be an integer from %" G_GUINT64_FORMAT
                 " to %" G_GUINT64_FORMAT,
                 where, key, min, max);
  *out = (uint64_t)json_integer_value (v);
  return TRUE;
}

/* The params from app_state.pos (or their copy in state); obj NULL = all
 * defaults. where prefixes errors ("genesis: app_state.pos"). */
static gboolean
params_parse (const json_t *obj, const char *where, PosParams *p,
              GError **error)
{
  static const char *const keys[] = { "denom",
                                      "power_unit",
                                      "set_change_delay",
                                      "unbonding_blocks",
                                      "slash_bps",
                                      "jail_blocks",
                                      "evidence_max_age",
                                      "min_self_stake",
                                      "max_validators",
                                      "rewards",
                                      NULL };
  static const char *const rkeys[]
      = { "per_block", "halving_blocks", "proposer_bps", NULL };
  const uint64_t M = CAIRN_BANK_MAX_AMOUNT;
  memset (p, 0, sizeof *p);
  if (obj != NULL && !json_is_object (obj))
    return fail (error, CAIRN_ERROR_INVALID, "%s: must be an object", where);
  if (obj != NULL && !only_keys (obj, where, keys, error))
    return FALSE;
  const json_t *denom = json_object_get (obj, "denom");
  if (denom != NULL && !cairn_denom_valid (json_string_value (denom)))
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s.denom: must be a denomination ([a-z][a-z0-9]{1,15})",
                 where);
  g_strlcpy (p->denom, denom ? json_string_value (denom) : "cairn",
             sizeof p->denom);
  if (!param_u64 (obj, where, "power_unit", 1, 1, M, &p->power_unit, error)
      || !param_u64 (obj, where, "set_change_delay", 2, 1, MAX_BLOCKS,
                     &p->set_change_delay, error)
      || !param_u64 (obj, where, "unbonding_blocks", 100, 1, MAX_BLOCKS,
                     &p->unbonding_blocks, error)
      || !param_u64 (obj, where, "slash_bps", 500, 0, BPS, &p->slash_bps, error)
      || !param_u64 (obj, where, "jail_blocks", 100, 0, MAX_BLOCKS,
                     &p->jail_blocks, error)
      || !param_u64 (obj, where, "evidence_max_age", p->unbonding_blocks, 1,
                     MAX_BLOCKS, &p->evidence_max_age, error)
      || !param_u64 (obj, where, "min_self_stake", 1, 1, M, &p->min_self_stake,
                     error)
      || !param_u64 (obj, where, "max_validators", 100, 1, POS_MAX_VALIDATORS,
                     &p->max_validators, error))
    return FALSE;
  const json_t *r = json_object_get (obj, "rewards");
  g_autofree char *rwhere = g_strconcat (where, ".rewards", NULL);
  if (r != NULL && !json_is_object (r))
    return fail (error, CAIRN_ERROR_INVALID, "%s: must be an object", rwhere);
  if (r != NULL && !only_keys (r, rwhere, rkeys, error))
    return FALSE;
  return param_u64 (r, rwhere, "per_block", 0, 0, M, &p->reward_per_block,
                    error)
         && param_u64 (r, rwhere, "halving_blocks", 0, 0, MAX_BLOCKS,
                       &p->reward_halving_blocks, error)
         && param_u64 (r, rwhere, "proposer_bps", 1000, 0, BPS,
                       &p->reward_proposer_bps, error);
}

static json_t *
params_json (const PosParams *p)
{
  return json_pack (
      "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}}",
      "denom", p->denom, "power_unit", (json_int_t)p->power_unit,
      "set_change_delay", (json_int_t)p->set_change_delay, "unbonding_blocks",
      (json_int_t)p->unbonding_blocks, "slash_bps", (json_int_t)p->slash_bps,
      "jail_blocks", (json_int_t)p->jail_blocks, "evidence_max_age",
      (json_int_t)p->evidence_max_age, "min_self_stake",
      (json_int_t)p->min_self_stake, "max_validators",
      (json_int_t)p->max_validators, "rewards", "per_block",
      (json_int_t)p->reward_per_block, "halving_blocks",
      (json_int_t)p->reward_halving_blocks, "proposer_bps",
      (json_int_t)p->reward_proposer_bps);
}

gboolean
pos_staking_params (PosStaking *st, CairnTxCtx *tx, PosParams *out,
                    GError **error)
{
  if (st->have_params) {
    *out = st->params;
    return TRUE;
  }
  g_autoptr (json_t) j = NULL;
  if (!get_json (st, tx, "params", &j, error))
    return FALSE;
  if (j == NULL)
    return fail (error, CAIRN_ERROR_CORRUPT,
                 "pos state params: missing (was genesis run with pos "
                 "loaded?)");
  g_autoptr (GError) bad = NULL;
  if (!params_parse (j, "pos state params", out, &bad))
    return fail (error, CAIRN_ERROR_CORRUPT, "%s", bad->message);
  /* Params never change after genesis, but only a committed copy may be
   * cached (a genesis overlay can still be thrown away). */
  if (tx == NULL) {
    st->params = *out;
    st->have_params = TRUE;
  }
  return TRUE;
}

/* ---- validators -----------------------------------------------------------
 */

typedef struct {
  char address[41];
  char pubkey[65];
  uint64_t self_stake, delegated, jailed_until, slashed;
  gboolean jailed;
} ValRec;

static json_t *
val_json (const ValRec *v)
{
  return json_pack (
      "{s:s, s:s, s:I, s:I, s:b, s:I, s:I}", "address", v->address, "pubkey",
      v->pubkey, "self_stake", (json_int_t)v->self_stake, "delegated",
      (json_int_t)v->delegated, "jailed", v->jailed, "jailed_until",
      (json_int_t)v->jailed_until, "slashed", (json_int_t)v->slashed);
}

static gboolean
val_parse (const json_t *j, const char *key, ValRec *v, GError **error)
{
  const char *addr, *pk;
  json_int_t self, del, until, slashed;
  int jailed;
  if (json_unpack ((json_t *)j, "{s:s, s:s, s:I, s:I, s:b, s:I, s:I}",
                   "address", &addr, "pubkey", &pk, "self_stake", &self,
                   "delegated", &del, "jailed", &jailed, "jailed_until", &until,
                   "slashed", &slashed)
          != 0
      || strlen (addr) != 40 || strlen (pk) != 64 || self < 0 || del < 0
      || until < 0 || slashed < 0)
    return fail (error, CAIRN_ERROR_CORRUPT,
                 "pos state %s: not a validator record", key);
  g_strlcpy (v->address, addr, sizeof v->address);
  g_strlcpy (v->pubkey, pk, sizeof v->pubkey);
  v->self_stake = (uint64_t)self;
  v->delegated = (uint64_t)del;
  v->jailed = jailed;
  v->jailed_until = (uint64_t)until;
  v->slashed = (uint64_t)slashed;
  return TRUE;
}

/* *found FALSE when address is no validator. */
static gboolean
val_get (PosStaking *st, CairnTxCtx *tx, const char *address, ValRec *v,
         gboolean *found, GError **error)
{
  g_autofree char *key = g_strconcat ("val/", address, NULL);
  g_autoptr (json_t) j = NULL;
  if (!get_json (st, tx, key, &j, error))
    return FALSE;
  *found = j != NULL;
  return j == NULL || val_parse (j, key, v, error);
}

static gboolean
val_put (PosStaking *st, CairnTxCtx *tx, const ValRec *v, GError **error)
{
  g_autofree char *key = g_strconcat ("val/", v->address, NULL);
  g_autoptr (json_t) j = val_json (v);
  return host->state_put_json (st->self, tx, key, j, error);
}

static uint64_t
val_power (const ValRec *v, const PosParams *P)
{
  return (v->self_stake + v->delegated) / P->power_unit;
}

/* ---- validator sets --------------------------------------------------------
 */

typedef struct {
  char address[41];
  char pubkey[65];
  uint64_t power;
} Cand;

static gint
cand_by_power (gconstpointer a, gconstpointer b)
{
  const Cand *x = a, *y = b;
  if (x->power != y->power)
    return x->power > y->power ? -1 : 1;
  return strcmp (x->address, y->address);
}

static gint
cand_by_address (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Cand *)a)->address, ((const Cand *)b)->address);
}

/* The set the validator records call for: candidates with power > 0, not
 * jailed and with at least min_self_stake, the top max_validators by power
 * (ties: address), trimmed from the bottom to POS_MAX_TOTAL_POWER; sorted
 * by address. NULL set (no error) when nobody qualifies. */
static gboolean
compute_set (PosStaking *st, CairnTxCtx *tx, const PosParams *P, json_t **out,
             GError **error)
{
  *out = NULL;
  g_autoptr (GPtrArray) all = collect (st, tx, "val/", NULL, error);
  if (all == NULL)
    return FALSE;
  g_autoptr (GArray) cands = g_array_new (FALSE, TRUE, sizeof (Cand));
  for (guint i = 0; i < all->len; i++) {
    Kv *kv = all->pdata[i];
    g_autoptr (json_t) j = kv_json (kv, error);
    ValRec v;
    if (j == NULL || !val_parse (j, kv->key, &v, error))
      return FALSE;
    Cand c = { .power = val_power (&v, P) };
    if (c.power == 0 || v.jailed || v.self_stake < P->min_self_stake)
      continue;
    g_strlcpy (c.address, v.address, sizeof c.address);
    g_strlcpy (c.pubkey, v.pubkey, sizeof c.pubkey);
    g_array_append_val (cands, c);
  }
  g_array_sort (cands, cand_by_power);
  if (cands->len > P->max_validators)
    g_array_set_size (cands, (guint)P->max_validators);
  uint64_t total = 0;
  for (guint i = 0; i < cands->len; i++)
    total += g_array_index (cands, Cand, i).power; /* each < 2^63 / 1024 */
  while (cands->len > 0 && total > POS_MAX_TOTAL_POWER) {
    total -= g_array_index (cands, Cand, cands->len - 1).power;
    g_array_set_size (cands, cands->len - 1);
  }
  if (cands->len == 0)
    return TRUE;
  g_array_sort (cands, cand_by_address);
  json_t *vals = json_array ();
  for (guint i = 0; i < cands->len; i++) {
    const Cand *c = &g_array_index (cands, Cand, i);
    json_array_append_new (
        vals, json_pack ("{s:s, s:I, s:s}", "address", c->address, "power",
                         (json_int_t)c->power, "pubkey", c->pubkey));
  }
  *out = json_pack ("{s:I, s:o}", "total_power", (json_int_t)total,
                    "validators", vals);
  return TRUE;
}

typedef struct {
  uint64_t height;
  uint64_t from;
  GBytes *value;
  GError *error;
} SetFind;

static gboolean
set_find_kv (const char *key, const uint8_t *value, size_t len, void *ud)
{
  SetFind *f = ud;
  uint64_t from;
  if (!key_height (key, strlen ("set/"), &from, &f->error))
    return FALSE;
  if (from > f->height)
    return FALSE;
  f->from = from;
  g_clear_pointer (&f->value, g_bytes_unref);
  f->value = g_bytes_new (value, len);
  return TRUE;
}

gboolean
pos_staking_set_bytes_at (PosStaking *st, CairnTxCtx *tx, uint64_t height,
                          uint64_t *from, GBytes **value, GError **error)
{
  SetFind f = { .height = height };
  if (!host->state_iter (st->self, tx, NULL, "set/", set_find_kv, &f, error)) {
    g_clear_pointer (&f.value, g_bytes_unref);
    g_clear_error (&f.error);
    return FALSE;
  }
  if (f.error != NULL) {
    g_clear_pointer (&f.value, g_bytes_unref);
    g_propagate_error (error, f.error);
    return FALSE;
  }
  if (f.value == NULL)
    return fail (error, CAIRN_ERROR_NOT_FOUND,
                 "pos: no validator set is kept for height %" G_GUINT64_FORMAT
                 " (before the first or pruned beyond evidence_max_age)",
                 height);
  if (from != NULL)
    *from = f.from;
  *value = f.value;
  return TRUE;
}

gboolean
pos_staking_set_at (PosStaking *st, CairnTxCtx *tx, uint64_t height,
                    uint64_t *from, json_t **set, GError **error)
{
  uint64_t at;
  g_autoptr (GBytes) value = NULL;
  if (!pos_staking_set_bytes_at (st, tx, height, &at, &value, error))
    return FALSE;
  gsize len;
  const char *p = g_bytes_get_data (value, &len);
  *set = host->json_parse_canonical (p, len, error);
  if (*set == NULL) {
    g_prefix_error (error, "pos state set/" H20 ": ", at);
    return FALSE;
  }
  if (from != NULL)
    *from = at;
  return TRUE;
}

PosValidatorSet *
pos_staking_set_new (const json_t *set, GError **error)
{
  const json_t *vals = json_object_get (set, "validators");
  size_t n = json_array_size (vals);
  if (n == 0 || n > POS_MAX_VALIDATORS) {
    fail (error, CAIRN_ERROR_CORRUPT,
          "pos: validator set with %zu validators (need 1..%d)", n,
          POS_MAX_VALIDATORS);
    return NULL;
  }
  g_autofree PosValidator *list = g_new0 (PosValidator, n);
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get (vals, i);
    const char *addr = json_string_value (json_object_get (v, "address"));
    const char *pk = json_string_value (json_object_get (v, "pubkey"));
    json_int_t power = json_integer_value (json_object_get (v, "power"));
    if (addr == NULL || strlen (addr) != 40 || pk == NULL
        || !cairn_hex_decode (pk, list[i].pubkey, 32) || power <= 0) {
      fail (error, CAIRN_ERROR_CORRUPT,
            "pos: validator set entry %zu is not {address, pubkey, power}", i);
      return NULL;
    }
    g_strlcpy (list[i].address, addr, sizeof list[i].address);
    list[i].power = (uint64_t)power;
  }
  return pos_validator_set_new (list, n, error);
}

json_t *
pos_staking_sets_json (PosStaking *st, GError **error)
{
  g_autoptr (GPtrArray) all = collect (st, NULL, "set/", NULL, error);
  if (all == NULL)
    return NULL;
  g_autoptr (json_t) out = json_array ();
  for (guint i = 0; i < all->len; i++) {
    Kv *kv = all->pdata[i];
    uint64_t from;
    json_t *j = kv_json (kv, error);
    if (j == NULL || !key_height (kv->key, 4, &from, error)) {
      json_decref (j);
      return NULL;
    }
    json_object_set_new (j, "from", json_integer ((json_int_t)from));
    json_array_append_new (out, j);
  }
  return g_steal_pointer (&out);
}

/* The latest entry (in force from the highest height), or NULL. */
static gboolean
latest_set (PosStaking *st, CairnTxCtx *tx, json_t **out, GError **error)
{
  GError *local = NULL;
  *out = NULL;
  if (pos_staking_set_at (st, tx, G_MAXUINT64, NULL, out, &local))
    return TRUE;
  if (g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_clear_error (&local);
    return TRUE;
  }
  g_propagate_error (error, local);
  return FALSE;
}

static gboolean
json_same (const json_t *a, const json_t *b)
{
  g_autofree char *ta = host->json_canonical (a, NULL, NULL);
  g_autofree char *tb = host->json_canonical (b, NULL, NULL);
  return ta != NULL && tb != NULL && strcmp (ta, tb) == 0;
}

/* Write the set the records call for as the set of height `from`, unless
 * it equals the latest one. An empty set is never written: the chain
 * could not go on, so the last non-empty set stays in force. */
static gboolean
schedule_set (PosStaking *st, CairnTxCtx *tx, const PosParams *P, uint64_t from,
              GError **error)
{
  g_autoptr (json_t) next = NULL, last = NULL;
  if (!compute_set (st, tx, P, &next, error)
      || !latest_set (st, tx, &last, error))
    return FALSE;
  if (next == NULL) {
    cairn_log (host, st->self, G_LOG_LEVEL_WARNING,
               "pos: no validator qualifies for height %" G_GUINT64_FORMAT
               "; the last validator set stays in force",
               from);
    return TRUE;
  }
  if (last != NULL && json_same (next, last))
    return TRUE;
  g_autofree char *key = g_strdup_printf ("set/" H20, from);
  return host->state_put_json (st->self, tx, key, next, error);
}

/* ---- bonded total, delegations, unbonding ----------------------------------
 */

/* Add amount to the bonded total, refusing a total whose voting power
 * could exceed POS_MAX_TOTAL_POWER. */
static gboolean
bonded_add (PosStaking *st, CairnTxCtx *tx, const PosParams *P,
            const char *what, uint64_t amount, GError **error)
{
  uint64_t total, next;
  if (!get_amount (st, tx, "bonded", &total, error))
    return FALSE;
  if (!cairn_add_u64 (total, amount, &next) || next > CAIRN_BANK_MAX_AMOUNT
      || next / P->power_unit > POS_MAX_TOTAL_POWER)
    return fail (error, CAIRN_ERROR_OVERFLOW,
                 "%s: bonding %" G_GUINT64_FORMAT
                 " more (bonded now %" G_GUINT64_FORMAT
                 ") could take the total voting power "
                 "above %" G_GUINT64_FORMAT,
                 what, amount, total, (uint64_t)POS_MAX_TOTAL_POWER);
  return put_amount (st, tx, "bonded", next, error);
}

static gboolean
bonded_sub (PosStaking *st, CairnTxCtx *tx, uint64_t amount, GError **error)
{
  uint64_t total;
  if (!get_amount (st, tx, "bonded", &total, error))
    return FALSE;
  if (amount > total)
    return fail (error, CAIRN_ERROR_CORRUPT,
                 "pos state bonded: %" G_GUINT64_FORMAT
                 " is below a stake of %" G_GUINT64_FORMAT,
                 total, amount);
  return put_amount (st, tx, "bonded", total - amount, error);
}

static char *
del_key (const char *validator, const char *delegator)
{
  return g_strdup_printf ("del/%s/%s", validator, delegator);
}

/* Start unbonding amount of delegator's stake with validator: released at
 * height + unbonding_blocks (entries of one block are merged). */
static gboolean
unbond_add (PosStaking *st, CairnTxCtx *tx, const PosParams *P, uint64_t height,
            const char *delegator, const char *validator, uint64_t amount,
            uint64_t *release, GError **error)
{
  *release = height + P->unbonding_blocks;
  g_autofree char *key
      = g_strdup_printf ("unb/" H20 "/%s/%s", *release, delegator, validator);
  uint64_t have;
  return get_amount (st, tx, key, &have, error)
         && put_amount (st, tx, key, have + amount, error);
}

/* An unbonding entry "unb/<release, 20 digits>/<delegator>/<validator>"
 * and its amount. */
typedef struct {
  uint64_t release;
  char delegator[41];
  const char *validator; /* points into the key */
  uint64_t amount;
} Unbonding;

static gboolean
unbonding_parse (const Kv *kv, Unbonding *u, GError **error)
{
  if (strlen (kv->key) != 4 + 20 + 1 + 40 + 1 + 40)
    return fail (error, CAIRN_ERROR_CORRUPT, "pos state %s: bad key", kv->key);
  if (!key_height (kv->key, 4, &u->release, error))
    return FALSE;
  g_strlcpy (u->delegator, kv->key + 4 + 20 + 1, sizeof u->delegator);
  u->validator = kv->key + 4 + 20 + 1 + 40 + 1;
  gsize len;
  const uint8_t *p = g_bytes_get_data (kv->value, &len);
  return amount_parse (kv->key, p, len, &u->amount, error);
}

/* Unlock the entries due at height (or before). */
static gboolean
release_unbonding (PosStaking *st, CairnTxCtx *tx, const PosParams *P,
                   uint64_t height, GError **error)
{
  g_autofree char *until = g_strdup_printf ("unb/" H20 "/~", height);
  g_autoptr (GPtrArray) due = collect (st, tx, "unb/", until, error);
  if (due == NULL)
    return FALSE;
  for (guint i = 0; i < due->len; i++) {
    Kv *kv = due->pdata[i];
    Unbonding u;
    if (!unbonding_parse (kv, &u, error)
        || !st->bank->unlock (st->self, tx, u.delegator, P->denom, u.amount,
                              error)) {
      g_prefix_error (error, "pos: releasing %s: ", kv->key);
      return FALSE;
    }
    if (!host->state_delete (st->self, tx, kv->key, error))
      return FALSE;
  }
  return TRUE;
}

/* ---- tx bodies -----------------------------------------------------------
 */

typedef enum {
  TX_BOND,
  TX_UNBOND,
  TX_DELEGATE,
  TX_UNDELEGATE,
  TX_UNJAIL,
  TX_EVIDENCE,
} TxKind;

static const char *const tx_names[]
    = { "pos.bond",       "pos.unbond", "pos.delegate",
        "pos.undelegate", "pos.unjail", "pos.evidence" };

typedef struct {
  uint64_t amount;
  const char *validator;
  const char *evidence_hex;
} Body;

static gboolean
parse_body (TxKind k, const json_t *body, Body *b, GError **error)
{
  static const char *const amount_only[] = { "amount", NULL };
  static const char *const val_amount[] = { "amount", "validator", NULL };
  static const char *const none[] = { NULL };
  static const char *const evidence[] = { "evidence", NULL };
  const char *const *keys = k == TX_BOND || k == TX_UNBOND ? amount_only
                            : k == TX_UNJAIL               ? none
                            : k == TX_EVIDENCE             ? evidence
                                                           : val_amount;
  const char *what = tx_names[k];
  memset (b, 0, sizeof *b);
  if (!json_is_object (body))
    return fail (error, CAIRN_ERROR_INVALID, "%s: body must be an object",
                 what);
  g_autofree char *where = g_strconcat (what, ": body", NULL);
  if (!only_keys (body, where, keys, error))
    return FALSE;
  for (const char *const *key = keys; *key; key++)
    if (json_object_get (body, *key) == NULL)
      return fail (error, CAIRN_ERROR_INVALID, "%s: body.%s is missing", what,
                   *key);
  const json_t *amount = json_object_get (body, "amount");
  if (amount != NULL) {
    if (!json_is_integer (amount) || json_integer_value (amount) <= 0)
      return fail (error, CAIRN_ERROR_INVALID,
                   "%s: body.amount must be an integer greater than 0", what);
    b->amount = (uint64_t)json_integer_value (amount);
  }
  const json_t *val = json_object_get (body, "validator");
  if (val != NULL) {
    b->validator = json_string_value (val);
    if (b->validator == NULL || !host->address_valid (b->validator))
      return fail (error, CAIRN_ERROR_INVALID,
                   "%s: body.validator must be an address (40 lowercase hex "
                   "characters)",
                   what);
  }
  const json_t *ev = json_object_get (body, "evidence");
  if (ev != NULL) {
    b->evidence_hex = json_string_value (ev);
    size_t n = b->evidence_hex ? strlen (b->evidence_hex) : 0;
    if (n == 0 || n % 2 || n > 2 * MAX_EVIDENCE_BYTES)
      return fail (error, CAIRN_ERROR_INVALID,
                   "%s: body.evidence must be the hex of the evidence (2 to "
                   "%d hex digits)",
                   what, 2 * MAX_EVIDENCE_BYTES);
  }
  return TRUE;
}

#define CHECK_FN(name, kind)                                                   \
  static gboolean name (CairnPlugin *self, const json_t *body, GError **error) \
  {                                                                            \
    Body b;                                                                    \
    return parse_body (kind, body, &b, error);                                 \
  }
CHECK_FN (bond_check, TX_BOND)
CHECK_FN (unbond_check, TX_UNBOND)
CHECK_FN (delegate_check, TX_DELEGATE)
CHECK_FN (undelegate_check, TX_UNDELEGATE)
CHECK_FN (unjail_check, TX_UNJAIL)
CHECK_FN (evidence_check, TX_EVIDENCE)

static void
emit (PosStaking *st, CairnTxCtx *tx, const char *type, json_t *attrs)
{
  g_assert (attrs != NULL);
  host->emit_event (st->self, tx, type, attrs);
}

/* Common start of every handler. */
static gboolean
begin (CairnPlugin *self, TxKind k, CairnTxCtx *tx, const json_t *body,
       PosStaking **st, PosParams *P, Body *b, GError **error)
{
  *st = pos_plugin_staking (self);
  return parse_body (k, body, b, error)
         && pos_staking_params (*st, tx, P, error);
}

/* ---- pos.bond / pos.unbond -----------------------------------------------
 */

static gboolean
bond_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  if (!begin (self, TX_BOND, tx, body, &st, &P, &b, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  ValRec v = { 0 };
  gboolean found;
  if (!val_get (st, tx, info->sender, &v, &found, error))
    return FALSE;
  if (!found) {
    g_strlcpy (v.address, info->sender, sizeof v.address);
    g_strlcpy (v.pubkey, info->sender_pubkey, sizeof v.pubkey);
  }
  if (v.self_stake + b.amount < P.min_self_stake)
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.bond: self-stake of %s would be %" G_GUINT64_FORMAT
                 ", below min_self_stake %" G_GUINT64_FORMAT,
                 v.address, v.self_stake + b.amount, P.min_self_stake);
  if (!bonded_add (st, tx, &P, "pos.bond", b.amount, error))
    return FALSE;
  if (!st->bank->lock (self, tx, v.address, P.denom, b.amount, error)) {
    g_prefix_error (error, "pos.bond: ");
    return FALSE;
  }
  v.self_stake += b.amount;
  if (!val_put (st, tx, &v, error) || !mark_changed (st, tx, error))
    return FALSE;
  emit (st, tx, "pos.bond",
        json_pack ("{s:s, s:I, s:I, s:b}", "validator", v.address, "amount",
                   (json_int_t)b.amount, "self_stake", (json_int_t)v.self_stake,
                   "new", !found));
  return TRUE;
}

static gboolean
unbond_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  if (!begin (self, TX_UNBOND, tx, body, &st, &P, &b, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  ValRec v;
  gboolean found;
  uint64_t release;
  if (!val_get (st, tx, info->sender, &v, &found, error))
    return FALSE;
  if (!found)
    return fail (error, CAIRN_ERROR_NOT_FOUND,
                 "pos.unbond: %s is not a validator (bond with pos.bond "
                 "first)",
                 info->sender);
  if (b.amount > v.self_stake)
    return fail (error, CAIRN_ERROR_INSUFFICIENT_FUNDS,
                 "pos.unbond: %s has a self-stake of %" G_GUINT64_FORMAT
                 ", cannot unbond %" G_GUINT64_FORMAT,
                 v.address, v.self_stake, b.amount);
  v.self_stake -= b.amount;
  if (!unbond_add (st, tx, &P, info->height, v.address, v.address, b.amount,
                   &release, error)
      || !bonded_sub (st, tx, b.amount, error) || !val_put (st, tx, &v, error)
      || !mark_changed (st, tx, error))
    return FALSE;
  emit (st, tx, "pos.unbond",
        json_pack ("{s:s, s:I, s:I, s:I}", "validator", v.address, "amount",
                   (json_int_t)b.amount, "self_stake", (json_int_t)v.self_stake,
                   "release_height", (json_int_t)release));
  return TRUE;
}

/* ---- pos.delegate / pos.undelegate ---------------------------------------
 */

static gboolean
delegation_target (PosStaking *st, CairnTxCtx *tx, const char *what,
                   const char *validator, ValRec *v, GError **error)
{
  gboolean found;
  if (!val_get (st, tx, validator, v, &found, error))
    return FALSE;
  if (!found)
    return fail (error, CAIRN_ERROR_NOT_FOUND,
                 "%s: %s is not a validator (no pos.bond)", what, validator);
  if (strcmp (validator, host->tx_info (tx)->sender) == 0)
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s: %s is the sender; a validator changes its own stake "
                 "with pos.bond / pos.unbond",
                 what, validator);
  return TRUE;
}

static gboolean
delegate_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  ValRec v;
  uint64_t have;
  if (!begin (self, TX_DELEGATE, tx, body, &st, &P, &b, error)
      || !delegation_target (st, tx, "pos.delegate", b.validator, &v, error))
    return FALSE;
  const char *sender = host->tx_info (tx)->sender;
  g_autofree char *key = del_key (b.validator, sender);
  if (!get_amount (st, tx, key, &have, error)
      || !bonded_add (st, tx, &P, "pos.delegate", b.amount, error))
    return FALSE;
  if (!st->bank->lock (self, tx, sender, P.denom, b.amount, error)) {
    g_prefix_error (error, "pos.delegate: ");
    return FALSE;
  }
  v.delegated += b.amount;
  if (!put_amount (st, tx, key, have + b.amount, error)
      || !val_put (st, tx, &v, error) || !mark_changed (st, tx, error))
    return FALSE;
  emit (st, tx, "pos.delegate",
        json_pack ("{s:s, s:s, s:I, s:I}", "validator", b.validator,
                   "delegator", sender, "amount", (json_int_t)b.amount,
                   "delegation", (json_int_t)(have + b.amount)));
  return TRUE;
}

static gboolean
undelegate_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                  GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  ValRec v;
  uint64_t have, release;
  if (!begin (self, TX_UNDELEGATE, tx, body, &st, &P, &b, error)
      || !delegation_target (st, tx, "pos.undelegate", b.validator, &v, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  g_autofree char *key = del_key (b.validator, info->sender);
  if (!get_amount (st, tx, key, &have, error))
    return FALSE;
  if (b.amount > have)
    return fail (error, CAIRN_ERROR_INSUFFICIENT_FUNDS,
                 "pos.undelegate: %s has delegated %" G_GUINT64_FORMAT
                 " to %s, cannot undelegate %" G_GUINT64_FORMAT,
                 info->sender, have, b.validator, b.amount);
  if (v.delegated < b.amount)
    return fail (error, CAIRN_ERROR_CORRUPT,
                 "pos state val/%s: delegated %" G_GUINT64_FORMAT
                 " is below a delegation of %" G_GUINT64_FORMAT,
                 b.validator, v.delegated, have);
  v.delegated -= b.amount;
  if (!put_amount (st, tx, key, have - b.amount, error)
      || !unbond_add (st, tx, &P, info->height, info->sender, b.validator,
                      b.amount, &release, error)
      || !bonded_sub (st, tx, b.amount, error) || !val_put (st, tx, &v, error)
      || !mark_changed (st, tx, error))
    return FALSE;
  emit (st, tx, "pos.undelegate",
        json_pack ("{s:s, s:s, s:I, s:I, s:I}", "validator", b.validator,
                   "delegator", info->sender, "amount", (json_int_t)b.amount,
                   "delegation", (json_int_t)(have - b.amount),
                   "release_height", (json_int_t)release));
  return TRUE;
}

/* ---- pos.unjail ----------------------------------------------------------
 */

static gboolean
unjail_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  ValRec v;
  gboolean found;
  if (!begin (self, TX_UNJAIL, tx, body, &st, &P, &b, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  if (!val_get (st, tx, info->sender, &v, &found, error))
    return FALSE;
  if (!found)
    return fail (error, CAIRN_ERROR_NOT_FOUND,
                 "pos.unjail: %s is not a validator", info->sender);
  if (!v.jailed)
    return fail (error, CAIRN_ERROR_CONFLICT,
                 "pos.unjail: validator %s is not jailed", v.address);
  if (info->height < v.jailed_until)
    return fail (
        error, CAIRN_ERROR_CONFLICT,
        "pos.unjail: validator %s is jailed until height %" G_GUINT64_FORMAT
        " (this block is %" G_GUINT64_FORMAT ")",
        v.address, v.jailed_until, info->height);
  v.jailed = FALSE;
  if (!val_put (st, tx, &v, error) || !mark_changed (st, tx, error))
    return FALSE;
  emit (st, tx, "pos.unjail", json_pack ("{s:s}", "validator", v.address));
  return TRUE;
}

/* ---- pos.evidence: slashing and jailing ----------------------------------
 */

static char *
punished_key (uint64_t height, const char *address)
{
  return g_strdup_printf ("punished/" H20 "/%s", height, address);
}

gboolean
pos_staking_punished (PosStaking *st, CairnTxCtx *tx, const char *address,
                      uint64_t height, gboolean *out, GError **error)
{
  g_autofree char *key = punished_key (height, address);
  uint64_t v;
  if (!get_amount (st, tx, key, &v, error))
    return FALSE;
  *out = v != 0;
  return TRUE;
}

/* Unlock then burn amount of address's stake. */
static gboolean
burn_stake (PosStaking *st, CairnTxCtx *tx, const PosParams *P,
            const char *address, uint64_t amount, GError **error)
{
  if (amount == 0)
    return TRUE;
  if (!st->bank->unlock (st->self, tx, address, P->denom, amount, error)
      || !st->bank->burn (st->self, tx, address, P->denom, amount, error)) {
    g_prefix_error (error,
                    "pos.evidence: burning %" G_GUINT64_FORMAT " %s of %s "
                    "(pos must be in [bank] minters): ",
                    amount, P->denom, address);
    return FALSE;
  }
  return TRUE;
}

/* Burn slash_bps of v's self-stake and of every delegation to it. */
static gboolean
slash (PosStaking *st, CairnTxCtx *tx, const PosParams *P, ValRec *v,
       uint64_t *self_cut, uint64_t *del_cut, GError **error)
{
  *self_cut = mul_div (v->self_stake, P->slash_bps, BPS);
  *del_cut = 0;
  if (!burn_stake (st, tx, P, v->address, *self_cut, error))
    return FALSE;
  v->self_stake -= *self_cut;
  g_autofree char *prefix = g_strdup_printf ("del/%s/", v->address);
  g_autoptr (GPtrArray) dels = collect (st, tx, prefix, NULL, error);
  if (dels == NULL)
    return FALSE;
  for (guint i = 0; i < dels->len; i++) {
    Kv *kv = dels->pdata[i];
    const char *delegator = kv->key + strlen (prefix);
    gsize len;
    const uint8_t *p = g_bytes_get_data (kv->value, &len);
    uint64_t amount;
    if (!amount_parse (kv->key, p, len, &amount, error))
      return FALSE;
    uint64_t cut = mul_div (amount, P->slash_bps, BPS);
    if (cut == 0)
      continue;
    if (!burn_stake (st, tx, P, delegator, cut, error)
        || !put_amount (st, tx, kv->key, amount - cut, error))
      return FALSE;
    *del_cut += cut;
  }
  if (*del_cut > v->delegated)
    return fail (error, CAIRN_ERROR_CORRUPT,
                 "pos state val/%s: delegated %" G_GUINT64_FORMAT
                 " is below its delegations",
                 v->address, v->delegated);
  v->delegated -= *del_cut;
  v->slashed += *self_cut + *del_cut;
  return bonded_sub (st, tx, *self_cut + *del_cut, error);
}

/* Burn slash_bps of the unbonding entries of stake that was still bonded
 * to v at the infraction height eh (started at eh or later, so released at
 * eh + unbonding_blocks or later): unbonding right after double signing
 * must not escape the slash. */
static gboolean
slash_unbonding (PosStaking *st, CairnTxCtx *tx, const PosParams *P,
                 const char *validator, uint64_t eh, uint64_t *cut_out,
                 GError **error)
{
  *cut_out = 0;
  g_autoptr (GPtrArray) all = collect (st, tx, "unb/", NULL, error);
  if (all == NULL)
    return FALSE;
  for (guint i = 0; i < all->len; i++) {
    Kv *kv = all->pdata[i];
    Unbonding u;
    if (!unbonding_parse (kv, &u, error))
      return FALSE;
    if (strcmp (u.validator, validator) != 0
        || u.release < eh + P->unbonding_blocks)
      continue;
    uint64_t cut = mul_div (u.amount, P->slash_bps, BPS);
    if (cut == 0)
      continue;
    if (!burn_stake (st, tx, P, u.delegator, cut, error)
        || !put_amount (st, tx, kv->key, u.amount - cut, error))
      return FALSE;
    *cut_out += cut;
  }
  return TRUE;
}

/* Height of the first vote of an evidence (u32 len | vote | ...). */
static gboolean
evidence_height (const uint8_t *ev, size_t len, uint64_t *height,
                 GError **error)
{
  PosMsg m;
  if (len < 4)
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.evidence: %zu bytes are not evidence", len);
  size_t la
      = (size_t)ev[0] << 24 | (size_t)ev[1] << 16 | (size_t)ev[2] << 8 | ev[3];
  if (la > len - 4 || !pos_msg_decode (ev + 4, la, &m, NULL))
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.evidence: the first vote does not decode");
  *height = m.height;
  return TRUE;
}

static gboolean
verify_sig (void *ud, const uint8_t pubkey[32], const uint8_t *msg, size_t len,
            const uint8_t sig[64])
{
  return host->ed25519_verify (pubkey, POS_SIGN_DOMAIN, msg, len, sig);
}

static gboolean
evidence_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  PosStaking *st;
  PosParams P;
  Body b;
  if (!begin (self, TX_EVIDENCE, tx, body, &st, &P, &b, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  size_t n = strlen (b.evidence_hex) / 2;
  g_autofree uint8_t *ev = g_malloc (n);
  uint64_t eh = 0;
  if (!cairn_hex_decode (b.evidence_hex, ev, n))
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.evidence: body.evidence is not hex");
  if (!evidence_height (ev, n, &eh, error))
    return FALSE;
  if (eh > info->height)
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.evidence: votes of height %" G_GUINT64_FORMAT
                 " are from the future (this block is %" G_GUINT64_FORMAT ")",
                 eh, info->height);
  if (info->height - eh > P.evidence_max_age)
    return fail (error, CAIRN_ERROR_INVALID,
                 "pos.evidence: votes of height %" G_GUINT64_FORMAT
                 " are too old (this block is %" G_GUINT64_FORMAT
                 ", evidence_max_age %" G_GUINT64_FORMAT ")",
                 eh, info->height, P.evidence_max_age);
  g_autoptr (json_t) set_json = NULL;
  if (!pos_staking_set_at (st, tx, eh, NULL, &set_json, error))
    return FALSE;
  g_autoptr (PosValidatorSet) set = pos_staking_set_new (set_json, error);
  uint8_t raw[20];
  if (set == NULL)
    return FALSE;
  g_autoptr (GError) bad = NULL;
  if (!pos_evidence_verify (set, info->chain_id, ev, n, verify_sig, NULL, raw,
                            &bad))
    /* A forged signature or a non-validator is bad input, not a refusal
     * of the sender. */
    return fail (error, CAIRN_ERROR_INVALID, "pos.evidence: %s", bad->message);
  char who[41];
  g_autofree char *hex = cairn_hex_encode (raw, 20);
  g_strlcpy (who, hex, sizeof who);
  gboolean done;
  if (!pos_staking_punished (st, tx, who, eh, &done, error))
    return FALSE;
  if (done)
    return fail (error, CAIRN_ERROR_CONFLICT,
                 "pos.evidence: %s was already punished for double signing "
                 "at height %" G_GUINT64_FORMAT,
                 who, eh);
  ValRec v;
  gboolean found;
  if (!val_get (st, tx, who, &v, &found, error))
    return FALSE;
  if (!found)
    return fail (
        error, CAIRN_ERROR_CORRUPT,
        "pos state: validator %s of the set of height %" G_GUINT64_FORMAT
        " has no record",
        who, eh);
  uint64_t self_cut, del_cut, unb_cut;
  g_autofree char *pkey = punished_key (eh, who);
  if (!slash (st, tx, &P, &v, &self_cut, &del_cut, error)
      || !slash_unbonding (st, tx, &P, who, eh, &unb_cut, error))
    return FALSE;
  v.slashed += unb_cut;
  v.jailed = TRUE;
  v.jailed_until = MAX (v.jailed_until, info->height + P.jail_blocks);
  if (!val_put (st, tx, &v, error) || !mark_changed (st, tx, error)
      || !host->state_put (self, tx, pkey, "1", 1, error))
    return FALSE;
  emit (st, tx, "pos.slash",
        json_pack ("{s:s, s:I, s:I, s:I, s:I, s:s}", "validator", who, "height",
                   (json_int_t)eh, "burnt_self", (json_int_t)self_cut,
                   "burnt_delegations", (json_int_t)del_cut, "burnt_unbonding",
                   (json_int_t)unb_cut, "by", info->sender));
  emit (st, tx, "pos.jail",
        json_pack ("{s:s, s:I}", "validator", who, "jailed_until",
                   (json_int_t)v.jailed_until));
  return TRUE;
}

/* ---- genesis and end_block -----------------------------------------------
 */

static gboolean
genesis_validator (PosStaking *st, CairnTxCtx *tx, const PosParams *P, size_t i,
                   const json_t *jv, GError **error)
{
  const char *addr = json_string_value (json_object_get (jv, "address"));
  const char *pk = json_string_value (json_object_get (jv, "pubkey"));
  const json_t *stake = json_object_get (jv, "stake");
  g_autofree char *where = g_strdup_printf ("genesis: validators[%zu] (%s)", i,
                                            addr ? addr : "no address");
  uint8_t raw[32];
  char derived[41];
  if (addr == NULL || pk == NULL || !cairn_hex_decode (pk, raw, 32))
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s: needs an address and a 64-hex pubkey", where);
  host->address_from_pubkey (raw, derived);
  if (strcmp (derived, addr) != 0)
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s: pubkey is the key of %s, not of this address", where,
                 derived);
  if (!json_is_integer (stake) || json_integer_value (stake) <= 0)
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s.stake: must be a positive integer", where);
  uint64_t amount = (uint64_t)json_integer_value (stake);
  if (amount < P->min_self_stake || amount / P->power_unit == 0)
    return fail (error, CAIRN_ERROR_INVALID,
                 "%s.stake: %" G_GUINT64_FORMAT
                 " is below min_self_stake %" G_GUINT64_FORMAT
                 " or power_unit %" G_GUINT64_FORMAT,
                 where, amount, P->min_self_stake, P->power_unit);
  if (!bonded_add (st, tx, P, where, amount, error))
    return FALSE;
  if (!st->bank->lock (st->self, tx, addr, P->denom, amount, error)) {
    g_prefix_error (error,
                    "%s: cannot lock its stake of %" G_GUINT64_FORMAT
                    " %s (give the account that much in "
                    "accounts[].balances): ",
                    where, amount, P->denom);
    return FALSE;
  }
  ValRec v = { .self_stake = amount };
  g_strlcpy (v.address, addr, sizeof v.address);
  g_strlcpy (v.pubkey, pk, sizeof v.pubkey);
  return val_put (st, tx, &v, error);
}

static gboolean
staking_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
                 GError **error)
{
  PosStaking *st = pos_plugin_staking (self);
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), "pos");
  const json_t *vals = json_object_get (genesis, "validators");
  PosParams P;
  if (!params_parse (app, "genesis: app_state.pos", &P, error))
    return FALSE;
  g_autoptr (json_t) pj = params_json (&P);
  if (!host->state_put_json (self, tx, "params", pj, error))
    return FALSE;
  size_t n = json_array_size (vals);
  if (n == 0)
    return fail (error, CAIRN_ERROR_INVALID,
                 "genesis: validators: pos needs at least one validator");
  if (n > P.max_validators)
    return fail (error, CAIRN_ERROR_INVALID,
                 "genesis: validators: %zu validators but "
                 "app_state.pos.max_validators is %" G_GUINT64_FORMAT,
                 n, P.max_validators);
  for (size_t i = 0; i < n; i++)
    if (!genesis_validator (st, tx, &P, i, json_array_get (vals, i), error))
      return FALSE;
  g_autoptr (json_t) set = NULL;
  if (!compute_set (st, tx, &P, &set, error))
    return FALSE;
  g_assert (set != NULL); /* every genesis validator qualifies */
  return host->state_put_json (self, tx,
                               "set/"
                               "00000000000000000001",
                               set, error);
}

/* Mint amount to address (nothing for 0). */
static gboolean
mint (PosStaking *st, CairnTxCtx *tx, const PosParams *P, const char *address,
      uint64_t amount, GError **error)
{
  if (amount == 0
      || st->bank->mint (st->self, tx, address, P->denom, amount, error))
    return TRUE;
  g_prefix_error (error,
                  "pos: block reward of %" G_GUINT64_FORMAT
                  " %s to %s (pos must be in [bank] minters): ",
                  amount, P->denom, address);
  return FALSE;
}

/* A validator's share: to its delegators pro-rata by stake, the rest
 * (its own part and the remainders of the divisions) to the operator. */
static gboolean
pay_validator (PosStaking *st, CairnTxCtx *tx, const PosParams *P,
               const char *address, uint64_t share, GError **error)
{
  ValRec v;
  gboolean found;
  if (!val_get (st, tx, address, &v, &found, error))
    return FALSE;
  uint64_t total = found ? v.self_stake + v.delegated : 0;
  uint64_t paid = 0;
  if (found && v.delegated > 0) {
    g_autofree char *prefix = g_strdup_printf ("del/%s/", address);
    g_autoptr (GPtrArray) dels = collect (st, tx, prefix, NULL, error);
    if (dels == NULL)
      return FALSE;
    for (guint i = 0; i < dels->len; i++) {
      Kv *kv = dels->pdata[i];
      gsize len;
      const uint8_t *p = g_bytes_get_data (kv->value, &len);
      uint64_t amount;
      if (!amount_parse (kv->key, p, len, &amount, error))
        return FALSE;
      uint64_t part = mul_div (share, MIN (amount, total), total);
      if (!mint (st, tx, P, kv->key + strlen (prefix), part, error))
        return FALSE;
      paid += part;
    }
  }
  return mint (st, tx, P, address, share - MIN (paid, share), error);
}

/* per_block >> (height / halving_blocks): proposer_bps to the proposer
 * when it is in the height's set, the rest pro-rata by power to the set
 * (division remainders are not minted). */
static gboolean
rewards (PosStaking *st, CairnTxCtx *tx, const PosParams *P, GError **error)
{
  const CairnTxInfo *info = host->tx_info (tx);
  if (P->reward_per_block == 0)
    return TRUE;
  uint64_t halvings
      = P->reward_halving_blocks ? info->height / P->reward_halving_blocks : 0;
  uint64_t amount = halvings >= 64 ? 0 : P->reward_per_block >> halvings;
  if (amount == 0)
    return TRUE;
  g_autoptr (json_t) set = NULL;
  if (!pos_staking_set_at (st, tx, info->height, NULL, &set, error))
    return FALSE;
  const json_t *vals = json_object_get (set, "validators");
  uint64_t total
      = (uint64_t)json_integer_value (json_object_get (set, "total_power"));
  const char *proposer
      = CAIRN_STRUCT_HAS (info, info->size, proposer) ? info->proposer : NULL;
  uint64_t to_proposer = mul_div (amount, P->reward_proposer_bps, BPS);
  uint64_t rest = amount - to_proposer;
  size_t i;
  const json_t *v;
  json_array_foreach (vals, i, v)
  {
    const char *addr = json_string_value (json_object_get (v, "address"));
    uint64_t power
        = (uint64_t)json_integer_value (json_object_get (v, "power"));
    if (addr == NULL || power == 0 || total < power)
      return fail (error, CAIRN_ERROR_CORRUPT,
                   "pos: validator set of height %" G_GUINT64_FORMAT
                   " is malformed",
                   info->height);
    if (proposer != NULL && strcmp (addr, proposer) == 0
        && !mint (st, tx, P, addr, to_proposer, error))
      return FALSE;
    if (!pay_validator (st, tx, P, addr, mul_div (rest, power, total), error))
      return FALSE;
  }
  return TRUE;
}

/* Drop set entries and punishment marks no evidence can need any more:
 * evidence of height < height - evidence_max_age is refused. */
static gboolean
prune (PosStaking *st, CairnTxCtx *tx, const PosParams *P, uint64_t height,
       GError **error)
{
  if (height <= P->evidence_max_age + 1)
    return TRUE;
  uint64_t cutoff = height - P->evidence_max_age;
  /* Keep the last set in force at cutoff (from <= cutoff) and later ones. */
  g_autofree char *until = g_strdup_printf ("set/" H20, cutoff);
  g_autoptr (GPtrArray) old = collect (st, tx, "set/", until, error);
  if (old == NULL)
    return FALSE;
  for (guint i = 0; i + 1 < old->len; i++)
    if (!host->state_delete (st->self, tx, ((Kv *)old->pdata[i])->key, error))
      return FALSE;
  g_autofree char *puntil = g_strdup_printf ("punished/" H20, cutoff);
  g_autoptr (GPtrArray) marks = collect (st, tx, "punished/", puntil, error);
  if (marks == NULL)
    return FALSE;
  for (guint i = 0; i < marks->len; i++)
    if (!host->state_delete (st->self, tx, ((Kv *)marks->pdata[i])->key, error))
      return FALSE;
  return TRUE;
}

static gboolean
staking_end_block (CairnPlugin *self, CairnTxCtx *tx, GError **error)
{
  PosStaking *st = pos_plugin_staking (self);
  const CairnTxInfo *info = host->tx_info (tx);
  PosParams P;
  uint64_t changed;
  if (!pos_staking_params (st, tx, &P, error)
      || !release_unbonding (st, tx, &P, info->height, error)
      || !rewards (st, tx, &P, error)
      || !get_amount (st, tx, "changed", &changed, error))
    return FALSE;
  if (changed
      && (!schedule_set (st, tx, &P, info->height + P.set_change_delay, error)
          || !host->state_delete (self, tx, "changed", error)))
    return FALSE;
  return prune (st, tx, &P, info->height, error);
}

/* ---- routes --------------------------------------------------------------
 */

static json_t *
val_view (const ValRec *v, const PosParams *P, const json_t *set)
{
  json_t *j = val_json (v);
  gboolean in_set = FALSE;
  size_t i;
  const json_t *e;
  json_array_foreach (json_object_get (set, "validators"), i, e)
  {
    if (g_strcmp0 (json_string_value (json_object_get (e, "address")),
                   v->address)
        == 0)
      in_set = TRUE;
  }
  json_object_set_new (j, "power", json_integer ((json_int_t)val_power (v, P)));
  json_object_set_new (j, "in_set", json_boolean (in_set));
  return j;
}

/* The set the next block is made with. */
static json_t *
next_set (PosStaking *st)
{
  json_t *set = NULL;
  uint64_t next = host->chain_head (st->self)->height + 1;
  if (!pos_staking_set_at (st, NULL, next, NULL, &set, NULL))
    return NULL;
  return set;
}

static gboolean
route_validators (CairnPlugin *self, const CairnRequest *req,
                  CairnResponse *resp, void *user_data, GError **error)
{
  PosStaking *st = pos_plugin_staking (self);
  PosParams P;
  g_autoptr (GPtrArray) all = NULL;
  if (!pos_staking_params (st, NULL, &P, error)
      || (all = collect (st, NULL, "val/", NULL, error)) == NULL)
    return FALSE;
  g_autoptr (json_t) set = next_set (st);
  json_t *out = json_array ();
  for (guint i = 0; i < all->len; i++) {
    ValRec v;
    g_autoptr (json_t) j = kv_json (all->pdata[i], error);
    if (j == NULL || !val_parse (j, ((Kv *)all->pdata[i])->key, &v, error)) {
      json_decref (out);
      return FALSE;
    }
    json_array_append_new (out, val_view (&v, &P, set));
  }
  resp->json = json_pack ("{s:o}", "validators", out);
  return TRUE;
}

/* Unbonding entries of a validator: [{delegator, amount, release_height}] */
static gboolean
unbonding_of (PosStaking *st, const char *validator, json_t *out,
              GError **error)
{
  g_autoptr (GPtrArray) all = collect (st, NULL, "unb/", NULL, error);
  if (all == NULL)
    return FALSE;
  for (guint i = 0; i < all->len; i++) {
    Unbonding u;
    if (!unbonding_parse (all->pdata[i], &u, error))
      return FALSE;
    if (strcmp (u.validator, validator) != 0)
      continue;
    json_array_append_new (
        out, json_pack ("{s:s, s:I, s:I}", "delegator", u.delegator, "amount",
                        (json_int_t)u.amount, "release_height",
                        (json_int_t)u.release));
  }
  return TRUE;
}

static gboolean
route_validator (CairnPlugin *self, const CairnRequest *req,
                 CairnResponse *resp, void *user_data, GError **error)
{
  PosStaking *st = pos_plugin_staking (self);
  const char *addr = req->path_rest;
  if (addr == NULL || *addr == '\0')
    return route_validators (self, req, resp, user_data, error);
  if (!host->address_valid (addr))
    return fail (error, CAIRN_ERROR_INVALID,
                 "GET /v1/pos/validators/{address}: '%s' is not an address",
                 addr);
  PosParams P;
  ValRec v;
  gboolean found;
  if (!pos_staking_params (st, NULL, &P, error)
      || !val_get (st, NULL, addr, &v, &found, error))
    return FALSE;
  if (!found)
    return fail (error, CAIRN_ERROR_NOT_FOUND, "%s is not a validator", addr);
  g_autofree char *prefix = g_strdup_printf ("del/%s/", addr);
  g_autoptr (GPtrArray) dels = collect (st, NULL, prefix, NULL, error);
  if (dels == NULL)
    return FALSE;
  g_autoptr (json_t) set = next_set (st);
  g_autoptr (json_t) out = val_view (&v, &P, set);
  json_t *djson = json_array ();
  json_t *ujson = json_array ();
  json_object_set_new (out, "delegations", djson);
  json_object_set_new (out, "unbonding", ujson);
  for (guint i = 0; i < dels->len; i++) {
    Kv *kv = dels->pdata[i];
    gsize len;
    const uint8_t *p = g_bytes_get_data (kv->value, &len);
    uint64_t amount;
    if (!amount_parse (kv->key, p, len, &amount, error))
      return FALSE;
    json_array_append_new (djson, json_pack ("{s:s, s:I}", "delegator",
                                             kv->key + strlen (prefix),
                                             "amount", (json_int_t)amount));
  }
  if (!unbonding_of (st, addr, ujson, error))
    return FALSE;
  resp->json = g_steal_pointer (&out);
  return TRUE;
}

/* ---- init ----------------------------------------------------------------
 */

gboolean
pos_staking_check_minter (PosStaking *st, GError **error)
{
  /* From the genesis document (params never change), so this works in
   * init, before the store is open. Bad params: genesis reports them. */
  PosParams P;
  const json_t *app = json_object_get (
      json_object_get (host->genesis (st->self), "app_state"), "pos");
  if (!params_parse (app, "genesis: app_state.pos", &P, NULL)
      || (P.slash_bps == 0 && P.reward_per_block == 0))
    return TRUE;
  /* Without a tx the bank refuses every mint; it checks the minter list
   * first, so UNAUTHORIZED means pos is not a minter. */
  g_autoptr (GError) err = NULL;
  if (st->bank->mint (st->self, NULL, host->node_address (st->self), P.denom, 1,
                      &err)
      || !g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED))
    return TRUE;
  return fail (error, CAIRN_ERROR_CONFIG,
               "pos: %s through cairn.bank/1, but the bank refuses: %s "
               "(e.g. in conf.d/30-pos.conf: [bank] minters = pos)",
               P.slash_bps && P.reward_per_block
                   ? "slashing burns and block rewards mint"
               : P.slash_bps ? "slashing (slash_bps > 0) burns stake"
                             : "block rewards mint",
               err->message);
}

static const CairnTxHandler handlers[] = {
  { CAIRN_TX_HANDLER_VERSION, 0, bond_check, bond_apply },
  { CAIRN_TX_HANDLER_VERSION, 0, unbond_check, unbond_apply },
  { CAIRN_TX_HANDLER_VERSION, 0, delegate_check, delegate_apply },
  { CAIRN_TX_HANDLER_VERSION, 0, undelegate_check, undelegate_apply },
  { CAIRN_TX_HANDLER_VERSION, 0, unjail_check, unjail_apply },
  { CAIRN_TX_HANDLER_VERSION, 0, evidence_check, evidence_apply },
};

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = staking_genesis,
  .end_block = staking_end_block,
};

gboolean
pos_staking_init (PosStaking *st, CairnPlugin *self, const CairnHost *h,
                  GError **error)
{
  host = h;
  st->host = h;
  st->self = self;
  st->bank = host->lookup_service (self, CAIRN_BANK_SERVICE,
                                   CAIRN_BANK_SERVICE_VERSION);
  if (st->bank == NULL)
    return fail (error, CAIRN_ERROR_CONFIG,
                 "pos: needs the cairn.bank/1 service for stakes; load the "
                 "bank plugin ([plugins] load = bank)");
  if (!CAIRN_BANK_HAS (st->bank, locked))
    return fail (error, CAIRN_ERROR_ABI,
                 "pos: the loaded cairn.bank/1 lacks lock/unlock");
  for (guint i = 0; i < G_N_ELEMENTS (handlers); i++)
    if (!host->register_tx_type (self, tx_names[i], &handlers[i],
                                 sizeof handlers[i], error))
      return FALSE;
  return host->register_app (self, &app_iface, sizeof app_iface, error)
         && host->register_route (self, "GET", "/v1/pos/validators",
                                  route_validators, NULL, error)
         && host->register_route (self, "GET", "/v1/pos/validators/",
                                  route_validator, NULL, error);
}

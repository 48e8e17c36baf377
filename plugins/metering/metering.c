/* metering: lifecycle, config, state helpers and the checks that the chain
 * and the centers share (a center refuses exactly what the chain would);
 * see README.md. */
#include <string.h>

#include "metering.h"

#include <cairn/explorer.h>

#include <cairn/attest.h>

const CairnHost *meter_host;

/* ---- state helpers ------------------------------------------------------ */

json_t *
mtr_get (Meter *m, CairnTxCtx *tx, const char *key, GError **error)
{
  return cairn_state_get_json_opt (meter_host, m->self, tx, key, error);
}

gboolean
mtr_put (Meter *m, CairnTxCtx *tx, const char *key, const json_t *v,
         GError **error)
{
  return meter_host->state_put_json (m->self, tx, key, v, error);
}

gboolean
mtr_del (Meter *m, CairnTxCtx *tx, const char *key, GError **error)
{
  return meter_host->state_delete (m->self, tx, key, error);
}

const char *
mtr_str (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

json_int_t
mtr_int (const json_t *o, const char *k)
{
  return json_integer_value (json_object_get (o, k));
}

char *
mtr_seq_key (const char *prefix, const char *id, uint64_t n)
{
  return g_strdup_printf ("%s/%s/%020" G_GUINT64_FORMAT, prefix, id, n);
}

void
mtr_emit (Meter *m, CairnTxCtx *tx, const char *type, json_t *data)
{
  meter_host->emit_event (m->self, tx, type, data);
}

/* The value at key, or NOT_FOUND with `missing` when absent. */
static json_t *
get_required (Meter *m, CairnTxCtx *tx, const char *key, const char *missing,
              GError **error)
{
  GError *local = NULL;
  json_t *v = mtr_get (m, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  if (v == NULL)
    g_set_error_literal (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, missing);
  return v;
}

json_t *
mtr_params (Meter *m, CairnTxCtx *tx, GError **error)
{
  return get_required (m, tx, "params",
                       "metering is not configured yet: the operator sends "
                       "metering.configure first",
                       error);
}

json_t *
mtr_centers (Meter *m, CairnTxCtx *tx, GError **error)
{
  return get_required (m, tx, "centers",
                       "metering has no center group yet: the operator sends "
                       "metering.set_centers first",
                       error);
}

json_t *
mtr_terminal (Meter *m, CairnTxCtx *tx, const char *id, GError **error)
{
  if (!meter_id_valid (id)) {
    cairn_fail (error, CAIRN_ERROR_INVALID, "'%s' is not a terminal id",
                id ? id : "(null)");
    return NULL;
  }
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "term/%s", id);
  g_autofree char *missing = g_strdup_printf (
      "terminal %s is not registered (metering.register_terminal)", id);
  return get_required (m, tx, k, missing, error);
}

int64_t
mtr_period_of (const json_t *params, int64_t time_ms)
{
  int64_t period_ms = mtr_int (params, "period_s") * 1000;
  return period_ms > 0 && time_ms >= 0 ? time_ms / period_ms : 0;
}

/* ---- threshold proofs --------------------------------------------------- */

gboolean
mtr_proof_verify (Meter *m, CairnTxCtx *tx, const char *domain, const void *msg,
                  size_t len, const json_t *proof, GError **error)
{
  if (!meter_proof_check (proof, error))
    return FALSE;
  g_autoptr (json_t) c = mtr_centers (m, tx, error);
  if (c == NULL)
    return FALSE;
  json_int_t version = mtr_int (proof, "centers_version");
  if (version != mtr_int (c, "version"))
    return cairn_fail (
        error, CAIRN_ERROR_UNAUTHORIZED,
        "proof: made by center group version %" JSON_INTEGER_FORMAT
        ", but the current group is version %" JSON_INTEGER_FORMAT,
        version, mtr_int (c, "version"));
  const char *scheme = mtr_str (proof, "scheme");
  if (strcmp (scheme, mtr_str (c, "scheme")) != 0)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "proof: scheme %s, but the center group signs with %s",
                       scheme, mtr_str (c, "scheme"));
  if (strcmp (scheme, "frost") == 0) {
    uint8_t pub[32], sig[64];
    if (!cairn_hex_decode (mtr_str (c, "group_pubkey"), pub, 32)
        || !cairn_hex_decode (mtr_str (proof, "sig"), sig, 64))
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "proof: the group key or sig does not decode");
    if (!meter_host->ed25519_verify (pub, domain, msg, len, sig))
      return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                         "proof: the FROST signature does not verify under the "
                         "center group key %s (domain '%s'): fewer than t "
                         "centers signed, or they signed something else",
                         mtr_str (c, "group_pubkey"), domain);
    return TRUE;
  }
  json_t *members = json_object_get (c, "members");
  json_t *sigs = json_object_get (proof, "sigs");
  guint n = json_array_size (members), ns = json_array_size (sigs);
  g_autofree uint8_t (*keys)[32] = g_malloc (32 * (gsize)MAX (n, 1));
  g_autofree CairnMultisigSig *ms = g_new0 (CairnMultisigSig, MAX (ns, 1));
  for (guint i = 0; i < n; i++)
    if (!cairn_hex_decode (mtr_str (json_array_get (members, i), "pubkey"),
                           keys[i], 32))
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "centers: member %u's pubkey does not decode", i);
  for (guint i = 0; i < ns; i++) {
    json_t *s = json_array_get (sigs, i);
    cairn_hex_decode (mtr_str (s, "pubkey"), ms[i].pubkey, 32);
    cairn_hex_decode (mtr_str (s, "sig"), ms[i].sig, 64);
  }
  GError *local = NULL;
  if (!m->threshold->multisig_verify ((const uint8_t (*)[32])keys, n,
                                      (guint)mtr_int (c, "t"), domain, msg, len,
                                      ms, ns, &local)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED, "proof: %s",
                 local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

gboolean
mtr_proof_verify_json (Meter *m, CairnTxCtx *tx, const char *domain,
                       const json_t *obj, const json_t *proof, GError **error)
{
  size_t len;
  g_autofree char *msg = meter_canonical (obj, &len);
  return mtr_proof_verify (m, tx, domain, msg, len, proof, error);
}

/* ---- shared checks ------------------------------------------------------ */

static gboolean
device_registered (const json_t *term, const char *device)
{
  json_t *devs = json_object_get (term, "devices");
  for (size_t i = 0; i < json_array_size (devs); i++)
    if (g_strcmp0 (json_string_value (json_array_get (devs, i)), device) == 0)
      return TRUE;
  return FALSE;
}

gboolean
mtr_reading_acceptable (Meter *m, CairnTxCtx *tx, const json_t *reading,
                        int64_t now_ms, GError **error)
{
  if (!meter_reading_check (reading, error)
      || !meter_reading_verify (reading, meter_host->ed25519_verify, error))
    return FALSE;
  const char *tid = mtr_str (reading, "terminal");
  const char *device = mtr_str (reading, "device");
  json_int_t period = mtr_int (reading, "period");
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  g_autoptr (json_t) term = mtr_terminal (m, tx, tid, error);
  if (term == NULL)
    return FALSE;
  if (!json_is_true (json_object_get (term, "active")))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "reading: terminal %s is deactivated", tid);
  const CairnAttestService *attest = meter_host->lookup_service (
      m->self, CAIRN_ATTEST_SERVICE, CAIRN_ATTEST_SERVICE_VERSION);
  if (attest != NULL) {
    uint8_t pub[32];
    cairn_hex_decode (device, pub, 32);
    if (!attest->verify (m->self, tx, tid, pub,
                         json_object_get (reading, "evidence"), error)) {
      g_prefix_error (error,
                      "reading of %s by device %.16s...: attestation: ", tid,
                      device);
      return FALSE;
    }
  } else if (!device_registered (term, device))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "reading: device %s is not registered on terminal %s "
                       "(the default attestation accepts only device keys "
                       "the operator registered)",
                       device, tid);
  json_int_t next = mtr_int (term, "next_period");
  if (period < next)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "reading: period %" JSON_INTEGER_FORMAT
                       " of terminal %s "
                       "is already proven or before its registration (next "
                       "unproven period: %" JSON_INTEGER_FORMAT ")",
                       period, tid, next);
  int64_t current = mtr_period_of (params, now_ms);
  if (period > current)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "reading: period %" JSON_INTEGER_FORMAT " is in the "
                       "future (current period: %" G_GINT64_FORMAT ")",
                       period, current);
  return TRUE;
}

char *
mtr_voucher_key (const json_t *voucher)
{
  char h[65];
  meter_hash_hex (voucher, h);
  return g_strconcat ("voucher/", h, NULL);
}

gboolean
mtr_voucher_acceptable (Meter *m, CairnTxCtx *tx, const char *kind,
                        const json_t *v, GError **error)
{
  if (!meter_voucher_check (v, error))
    return FALSE;
  if (strcmp (mtr_str (v, "kind"), kind) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "voucher: kind %s where a %s voucher is expected",
                       mtr_str (v, "kind"), kind);
  const CairnChainHead *head = meter_host->chain_head (m->self);
  if (strcmp (mtr_str (v, "chain_id"), head->chain_id) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "voucher: for chain %s, this is %s",
                       mtr_str (v, "chain_id"), head->chain_id);
  g_autoptr (json_t) params = mtr_params (m, tx, error);
  if (params == NULL)
    return FALSE;
  if (strcmp (mtr_str (v, "denom"), mtr_str (params, "denom")) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "voucher: denom %s, metering settles in %s",
                       mtr_str (v, "denom"), mtr_str (params, "denom"));
  g_autoptr (json_t) fin = get_required (
      m, tx, "finance",
      "no financial terminal is registered (metering.set_finance)", error);
  if (fin == NULL)
    return FALSE;
  uint8_t ft[32];
  if (!cairn_hex_decode (mtr_str (fin, "pubkey"), ft, 32))
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "finance: pubkey does not decode");
  if (!meter_voucher_verify (v, ft, meter_host->ed25519_verify, error))
    return FALSE;
  g_autofree char *vk = mtr_voucher_key (v);
  GError *local = NULL;
  g_autoptr (json_t) seen = mtr_get (m, tx, vk, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (seen != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "voucher %s %s: already recorded at height "
                       "%" JSON_INTEGER_FORMAT " (a replay)",
                       kind, mtr_str (v, "ref"), mtr_int (seen, "height"));
  if (strcmp (kind, "recharge") == 0)
    return TRUE;
  /* settlement / withdrawal: the record it answers must be pending. */
  gboolean stl = strcmp (kind, "settlement") == 0;
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "%s/%s", stl ? "stl" : "wd", mtr_str (v, "ref"));
  g_autoptr (json_t) rec = mtr_get (m, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (rec == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "voucher: no %s %s on chain", kind, mtr_str (v, "ref"));
  const char *status = mtr_str (rec, "status");
  const char *pending = stl ? "open" : "requested";
  if (strcmp (status, pending) != 0)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "voucher: %s %s is %s, not %s", kind, mtr_str (v, "ref"),
                       status, pending);
  const char *account = mtr_str (rec, stl ? "payer" : "account");
  if (strcmp (mtr_str (v, "account"), account) != 0
      || mtr_int (v, "amount") != mtr_int (rec, "amount"))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "voucher: %s %s is %" JSON_INTEGER_FORMAT " from %s, "
                       "the voucher says %" JSON_INTEGER_FORMAT " from %s",
                       kind, mtr_str (v, "ref"), mtr_int (rec, "amount"),
                       account, mtr_int (v, "amount"), mtr_str (v, "account"));
  return TRUE;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
meter_free (Meter *m)
{
  if (m->centers)
    mtr_centers_free (m);
  g_free (m->share_file);
  g_free (m->finance_url);
  g_free (m);
}

static gboolean
meter_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  meter_host = h;
  Meter *m = g_new0 (Meter, 1);
  m->self = self;
  g_strlcpy (m->addr, h->node_address (self), sizeof m->addr);
  m->bank = h->lookup_service (self, CAIRN_BANK_SERVICE,
                               CAIRN_BANK_SERVICE_VERSION);
  m->threshold = h->lookup_service (self, CAIRN_THRESHOLD_SERVICE,
                                    CAIRN_THRESHOLD_SERVICE_VERSION);
  if (m->bank == NULL || m->threshold == NULL) {
    cairn_fail (error, CAIRN_ERROR_CONFIG,
                "metering needs the cairn.bank/1 and cairn.threshold/1 "
                "services: load the bank and threshold plugins");
    goto fail;
  }
  if (!h->config_bool (self, "center", FALSE, &m->center, error)
      || !h->config_string (self, "share_file", "frost-share.json",
                            &m->share_file, error)
      || !h->config_int (self, "grace_ms", 5000, 0, 3600 * 1000, &m->grace_ms,
                         error)
      || !h->config_int (self, "coordinator_delay_ms", 3000, 100, 600 * 1000,
                         &m->coordinator_delay_ms, error)
      || !h->config_string (self, "finance_url", "", &m->finance_url, error)
      || !h->config_int (self, "finance_timeout_ms", 10000, 100, 600 * 1000,
                         &m->finance_timeout_ms, error)
      || !h->config_int (self, "debug_lie_cpu_ms", 0, 0, METER_MAX_VALUE,
                         &m->debug_lie_cpu_ms, error))
    goto fail;
  h->set_data (self, m);
  if (!mtr_register_txs (m, error) || !mtr_register_reads (m, error))
    goto fail;
  if (m->center && !mtr_centers_init (m, error))
    goto fail;
  return TRUE;
fail:
  h->set_data (self, NULL);
  meter_free (m);
  return FALSE;
}

static gboolean
meter_start (CairnPlugin *self, GError **error)
{
  Meter *m = meter_host->get_data (self);
  cairn_explorer_add_panel (
      meter_host, self,
      "{\"id\":\"settlements\",\"title\":\"Metering settlements\","
      "\"route\":\"/v1/metering/settlements\",\"description\":"
      "\"Settlements opened from level-2 usage proofs of billing sets, and "
      "their state\",\"columns\":[{\"key\":\"set\",\"label\":\"Set\"},"
      "{\"key\":\"window\",\"label\":\"Window\"},{\"key\":\"amount\","
      "\"label\":\"Amount\"},{\"key\":\"denom\",\"label\":\"Denom\"},"
      "{\"key\":\"status\",\"label\":\"Status\"},{\"key\":\"payer\","
      "\"label\":\"Payer\",\"link\":\"account\"},{\"key\":\"height\","
      "\"label\":\"Height\",\"link\":\"block\"}]}");
  if (m->debug_lie_cpu_ms != 0)
    g_warning ("metering: debug_lie_cpu_ms = %" G_GINT64_FORMAT ": this center "
               "adds it to every aggregate it computes, lying on purpose (for "
               "tests only)",
               m->debug_lie_cpu_ms);
  return m->centers == NULL || mtr_centers_start (m, error);
}

static void
meter_stop (CairnPlugin *self)
{
  Meter *m = meter_host->get_data (self);
  if (m != NULL && m->centers != NULL)
    mtr_centers_stop (m);
}

static void
meter_fini (CairnPlugin *self)
{
  Meter *m = meter_host->get_data (self);
  if (m != NULL) {
    meter_stop (self);
    meter_free (m);
  }
  meter_host->set_data (self, NULL);
}

static const CairnServiceRef meter_requires[] = {
  { CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION, 0 },
  { CAIRN_THRESHOLD_SERVICE, CAIRN_THRESHOLD_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (metering, .id = METER_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Resource-usage proofs for cloud-network "
                                    "terminals: threshold-signed aggregates, "
                                    "level-1 and level-2 proofs, settlement, "
                                    "recharge and withdrawal",
                     .kinds = CAIRN_KIND_APP, .requires = meter_requires,
                     .init = meter_init, .start = meter_start,
                     .stop = meter_stop, .fini = meter_fini)

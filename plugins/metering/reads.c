/* metering: the JSON read routes (README.md, "Routes"); all read the
 * committed head. */
#include <string.h>

#include "metering.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

typedef struct {
  Meter *m;
  json_t *out;
  const char *prefix;
  const char *min_key; /* skip keys below it (NULL: none) */
  const char *status;  /* keep only records with this status (NULL: all) */
  guint limit;
  GError *error;
} ListCtx;

static gboolean
list_one (const char *key, const uint8_t *value, size_t len, void *ud)
{
  ListCtx *c = ud;
  if (c->min_key && strcmp (key, c->min_key) < 0)
    return TRUE;
  json_t *v
      = meter_host->json_parse_canonical ((const char *)value, len, &c->error);
  if (v == NULL)
    return FALSE;
  if (c->status && g_strcmp0 (mtr_str (v, "status"), c->status) != 0) {
    json_decref (v);
    return TRUE;
  }
  json_array_append_new (c->out, v);
  return json_array_size (c->out) < c->limit;
}

/* ?limit= (default LIST_DEFAULT, at most LIST_MAX); FALSE after answering
 * 400 itself. */
static gboolean
limit_of (const CairnRequest *req, CairnResponse *resp, guint *limit)
{
  const char *l = g_hash_table_lookup (req->query, "limit");
  guint64 v = LIST_DEFAULT;
  if (l && !g_ascii_string_to_unsigned (l, 10, 1, LIST_MAX, &v, NULL)) {
    cairn_reply_error (resp, 400, "invalid", "limit must be 1 to %d", LIST_MAX);
    return FALSE;
  }
  *limit = (guint)v;
  return TRUE;
}

static gboolean
list (Meter *m, const char *prefix, const char *min_key, const char *status,
      guint limit, CairnResponse *resp, GError **error)
{
  ListCtx c = { m, json_array (), prefix, min_key, status, limit, NULL };
  if (!meter_host->state_iter (m->self, NULL, NULL, prefix, list_one, &c, error)
      || c.error != NULL) {
    if (c.error)
      g_propagate_error (error, c.error);
    json_decref (c.out);
    return FALSE;
  }
  resp->json = c.out;
  return TRUE;
}

/* The record at key; NOT_FOUND naming `what` when absent. */
static gboolean
one (Meter *m, const char *key, const char *what, CairnResponse *resp,
     GError **error)
{
  GError *local = NULL;
  json_t *v = mtr_get (m, NULL, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (v == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no %s", what);
  resp->json = v;
  return TRUE;
}

static gboolean
id_ok (const char *id, gboolean hex, GError **error)
{
  if (hex ? !cairn_hex_lower_valid (id, 32) : !meter_id_valid (id))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "'%s' is not %s", id,
                       hex ? "an id (64 hex)" : "an id ([a-z0-9][a-z0-9_.-])");
  return TRUE;
}

/* ?from=N (a period or window number) as the smallest key to list. */
static gboolean
from_key (const CairnRequest *req, CairnResponse *resp, const char *prefix,
          const char *id, char **out)
{
  const char *f = g_hash_table_lookup (req->query, "from");
  guint64 v = 0;
  if (f && !g_ascii_string_to_unsigned (f, 10, 0, METER_MAX_VALUE, &v, NULL)) {
    cairn_reply_error (resp, 400, "invalid", "from must be a number");
    return FALSE;
  }
  *out = f ? mtr_seq_key (prefix, id, v) : NULL;
  return TRUE;
}

static gboolean
balances (Meter *m, const char *addr, CairnResponse *resp, GError **error)
{
  if (!meter_host->address_valid (addr))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "'%s' is not an address",
                       addr);
  g_autoptr (json_t) params = mtr_params (m, NULL, error);
  if (params == NULL)
    return FALSE;
  const char *denom = mtr_str (params, "denom");
  uint64_t bal, locked;
  if (!m->bank->balance (m->self, NULL, addr, denom, &bal, error)
      || !m->bank->locked (m->self, NULL, addr, denom, &locked, error))
    return FALSE;
  resp->json
      = json_pack ("{s:s,s:s,s:I,s:I}", "address", addr, "denom", denom,
                   "balance", (json_int_t)bal, "locked", (json_int_t)locked);
  return TRUE;
}

static gboolean
route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *ud, GError **error)
{
  Meter *m = ud;
  g_auto (GStrv) parts = g_strsplit (req->path_rest, "/", 3);
  guint n = g_strv_length (parts);
  const char *what = n > 0 ? parts[0] : "";
  const char *id = n > 1 ? parts[1] : NULL;
  if (n > 2)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no route %s", req->path);
  char k[METER_KEYBUF];
  guint limit;
  if (id == NULL) {
    if (strcmp (what, "params") == 0)
      return one (m, "params", "params (metering.configure has not run)", resp,
                  error);
    if (strcmp (what, "centers") == 0)
      return one (m, "centers", "center group (metering.set_centers)", resp,
                  error);
    if (strcmp (what, "finance") == 0)
      return one (m, "finance", "financial terminal (metering.set_finance)",
                  resp, error);
    if (strcmp (what, "totals") == 0)
      return one (m, "totals", "totals yet", resp, error);
    if (strcmp (what, "settlements") == 0
        || strcmp (what, "withdrawals") == 0) {
      const char *status = g_hash_table_lookup (req->query, "status");
      if (!limit_of (req, resp, &limit))
        return TRUE;
      return list (m, what[0] == 's' ? "stl/" : "wd/", NULL, status, limit,
                   resp, error);
    }
    if (strcmp (what, "faults") == 0 && m->centers != NULL)
      return mtr_centers_faults (m, resp, error);
    if (strcmp (what, "faults") == 0)
      return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                         "this node is not a data-processing center "
                         "([metering] center = false)");
  } else if (strcmp (what, "terminals") == 0) {
    if (!id_ok (id, FALSE, error))
      return FALSE;
    g_snprintf (k, sizeof k, "term/%s", id);
    return one (m, k, "such terminal", resp, error);
  } else if (strcmp (what, "sets") == 0) {
    if (!id_ok (id, FALSE, error))
      return FALSE;
    g_snprintf (k, sizeof k, "set/%s", id);
    return one (m, k, "such set", resp, error);
  } else if (strcmp (what, "proofs") == 0 || strcmp (what, "level2") == 0) {
    gboolean l1 = what[0] == 'p';
    g_autofree char *min = NULL;
    if (!id_ok (id, FALSE, error))
      return FALSE;
    if (!limit_of (req, resp, &limit)
        || !from_key (req, resp, l1 ? "proof" : "l2", id, &min))
      return TRUE;
    g_snprintf (k, sizeof k, "%s/%s/", l1 ? "proof" : "l2", id);
    return list (m, k, min, NULL, limit, resp, error);
  } else if (strcmp (what, "settlements") == 0) {
    if (!id_ok (id, TRUE, error))
      return FALSE;
    g_snprintf (k, sizeof k, "stl/%s", id);
    return one (m, k, "such settlement", resp, error);
  } else if (strcmp (what, "withdrawals") == 0) {
    if (!id_ok (id, TRUE, error))
      return FALSE;
    g_snprintf (k, sizeof k, "wd/%s", id);
    return one (m, k, "such withdrawal", resp, error);
  } else if (strcmp (what, "balances") == 0)
    return balances (m, id, resp, error);
  return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no route %s", req->path);
}

gboolean
mtr_register_reads (Meter *m, GError **error)
{
  return meter_host->register_route (m->self, "GET", "/v1/metering/", route_get,
                                     m, error);
}

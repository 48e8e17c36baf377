/* services: JSON read routes under GET /v1/services (the committed head).
 *
 *   /v1/services/[?provider=ADDR]         {"services":[...]} (the core
 *                                         routes only paths below
 * /v1/services/) /v1/services/params                   the chain's params
 *   /v1/services/providers[/ADDR]         {"providers":[...]} / one
 *   /v1/services/cases[?status=S][/ID]    {"cases":[...]} / one
 *   /v1/services/opinions                 {"opinions":[...]} (published)
 *   /v1/services/accounts/ADDR/entitlements
 *   /v1/services/ID                       the service, its cases, a rating
 *                                         summary
 *   /v1/services/ID/feedback | /entitlements | /cases
 * Lists are in key order (service and case ids, feedback by height). */
#include <string.h>

#include "services.h"

typedef struct {
  json_t *out;
  const char *field; /* keep values whose field equals value (or all) */
  const char *value;
  gboolean direct_only; /* skip keys with a '/' after the prefix */
  size_t skip;
} Collect;

static gboolean
collect_kv (const char *key, const uint8_t *v, size_t len, void *data)
{
  Collect *c = data;
  if (c->direct_only && strchr (key + c->skip, '/') != NULL)
    return TRUE;
  json_t *j = json_loadb ((const char *)v, len, 0, NULL);
  if (j == NULL)
    return TRUE;
  if (c->field != NULL
      && g_strcmp0 (json_string_value (json_object_get (j, c->field)), c->value)
             != 0) {
    json_decref (j);
    return TRUE;
  }
  json_array_append_new (c->out, j);
  return TRUE;
}

static json_t *
list (Services *s, const char *prefix, const char *field, const char *value,
      GError **error)
{
  Collect c = { json_array (), field, value, TRUE, strlen (prefix) };
  if (!svc_host->state_iter (s->self, NULL, NULL, prefix, collect_kv, &c,
                             error)) {
    json_decref (c.out);
    return NULL;
  }
  return c.out;
}

static gboolean
answer_list (Services *s, CairnResponse *resp, const char *name,
             const char *prefix, const char *field, const char *value,
             GError **error)
{
  json_t *l = list (s, prefix, field, value, error);
  if (l == NULL)
    return FALSE;
  resp->json = json_pack ("{s:o}", name, l);
  return TRUE;
}

static gboolean
answer_one (Services *s, CairnResponse *resp, const char *what, const char *key,
            GError **error)
{
  GError *local = NULL;
  json_t *v = svc_get (s, NULL, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (v == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no %s %s", what,
                       strchr (key, '/') + 1);
  resp->json = v;
  return TRUE;
}

static gboolean
address_or_fail (const char *a, GError **error)
{
  if (svc_host->address_valid (a))
    return TRUE;
  return cairn_fail (error, CAIRN_ERROR_INVALID,
                     "'%s' is not an address (40 lowercase hex characters)", a);
}

static gboolean
id_or_fail (const char *what, const char *id, GError **error)
{
  if (cairn_hex_lower_valid (id, 32))
    return TRUE;
  return cairn_fail (error, CAIRN_ERROR_INVALID,
                     "'%s' is not a %s id (64 lowercase hex characters)", id,
                     what);
}

/* The service, its cases and a rating summary (count, sum: integers). */
static gboolean
answer_service (Services *s, CairnResponse *resp, const char *id,
                GError **error)
{
  g_autofree char *key = g_strdup_printf ("svc/%s", id);
  if (!answer_one (s, resp, "service", key, error))
    return FALSE;
  g_autofree char *fbp = g_strdup_printf ("fb/%s/", id);
  g_autoptr (json_t) fb = list (s, fbp, NULL, NULL, error);
  g_autoptr (json_t) cases = list (s, "case/", "service", id, error);
  if (fb == NULL || cases == NULL) {
    g_clear_pointer (&resp->json, json_decref);
    return FALSE;
  }
  json_int_t sum = 0;
  size_t i;
  json_t *f;
  json_array_foreach (fb, i, f) sum
      += json_integer_value (json_object_get (f, "rating"));
  json_object_set_new (resp->json, "feedback",
                       json_pack ("{s:I,s:I}", "count",
                                  (json_int_t)json_array_size (fb),
                                  "rating_sum", sum));
  json_object_set (resp->json, "cases", cases);
  return TRUE;
}

gboolean
svc_route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
               void *user_data, GError **error)
{
  Services *s = user_data;
  const char *rest = req->path_rest ? req->path_rest : "";
  g_auto (GStrv) parts = g_strsplit (rest, "/", 4);
  guint n = g_strv_length (parts);
  if (n == 0 || (n == 1 && parts[0][0] == '\0')) {
    const char *prov = g_hash_table_lookup (req->query, "provider");
    if (prov != NULL && !address_or_fail (prov, error))
      return FALSE;
    return answer_list (s, resp, "services", "svc/", prov ? "provider" : NULL,
                        prov, error);
  }
  const char *a = parts[0];
  if (n == 1 && strcmp (a, "params") == 0) {
    resp->json = svc_params (s, NULL, error);
    return resp->json != NULL;
  }
  if (strcmp (a, "providers") == 0 && n <= 2) {
    if (n == 1 || parts[1][0] == '\0')
      return answer_list (s, resp, "providers", "provider/", NULL, NULL, error);
    if (!address_or_fail (parts[1], error))
      return FALSE;
    g_autofree char *key = g_strdup_printf ("provider/%s", parts[1]);
    return answer_one (s, resp, "provider", key, error);
  }
  if (strcmp (a, "cases") == 0 && n <= 2) {
    if (n == 1 || parts[1][0] == '\0') {
      const char *st = g_hash_table_lookup (req->query, "status");
      return answer_list (s, resp, "cases", "case/", st ? "status" : NULL, st,
                          error);
    }
    if (!id_or_fail ("case", parts[1], error))
      return FALSE;
    g_autofree char *key = g_strdup_printf ("case/%s", parts[1]);
    return answer_one (s, resp, "case", key, error);
  }
  if (strcmp (a, "opinions") == 0 && n == 1) {
    g_autoptr (json_t) cases = list (s, "case/", "status", "published", error);
    if (cases == NULL)
      return FALSE;
    json_t *ops = json_array ();
    size_t i;
    json_t *c;
    json_array_foreach (cases, i, c)
    {
      json_t *op = json_deep_copy (json_object_get (c, "opinion"));
      json_object_set (op, "case", json_object_get (c, "id"));
      json_object_set (op, "service", json_object_get (c, "service"));
      json_array_append_new (ops, op);
    }
    resp->json = json_pack ("{s:o}", "opinions", ops);
    return TRUE;
  }
  if (strcmp (a, "accounts") == 0 && n == 3
      && strcmp (parts[2], "entitlements") == 0) {
    if (!address_or_fail (parts[1], error))
      return FALSE;
    g_autofree char *p = g_strdup_printf ("acct/%s/", parts[1]);
    return answer_list (s, resp, "entitlements", p, NULL, NULL, error);
  }
  if (!id_or_fail ("service", a, error))
    return FALSE;
  if (n == 1)
    return answer_service (s, resp, a, error);
  if (n == 2) {
    g_autofree char *key = g_strdup_printf ("svc/%s", a);
    g_autoptr (json_t) svc = svc_get (s, NULL, key, error);
    if (svc == NULL) {
      if (error && *error)
        return FALSE;
      return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no service %s", a);
    }
    if (strcmp (parts[1], "feedback") == 0) {
      g_autofree char *p = g_strdup_printf ("fb/%s/", a);
      return answer_list (s, resp, "feedback", p, NULL, NULL, error);
    }
    if (strcmp (parts[1], "entitlements") == 0) {
      g_autofree char *p = g_strdup_printf ("ent/%s/", a);
      return answer_list (s, resp, "entitlements", p, NULL, NULL, error);
    }
    if (strcmp (parts[1], "cases") == 0)
      return answer_list (s, resp, "cases", "case/", "service", a, error);
  }
  return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                     "no route GET %s (see plugins/services/README.md)",
                     req->path);
}

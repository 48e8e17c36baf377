/* services: verified offline services, paid query keys, video evidence and
 * regulator review. Lifecycle, config, shared helpers and route dispatch;
 * see README.md. */
#include <string.h>

#include "services.h"

const CairnHost *svc_host;

/* ---- helpers ---------------------------------------------------------- */

json_t *
svc_get (Services *s, CairnTxCtx *tx, const char *key, GError **error)
{
  return cairn_state_get_json_opt (svc_host, s->self, tx, key, error);
}

char *
svc_b64url_encode (const void *data, size_t len)
{
  char *t = g_base64_encode (data, len);
  for (char *p = t; *p; p++)
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  char *eq = strchr (t, '=');
  if (eq)
    *eq = '\0';
  return t;
}

guchar *
svc_b64url_decode (const char *text, size_t n, size_t *out_len)
{
  if (n == 0 || n % 4 == 1 || n > 8192)
    return NULL;
  GString *s = g_string_sized_new (n + 3);
  for (size_t i = 0; i < n; i++) {
    char c = text[i];
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!g_ascii_isalnum (c)) {
      g_string_free (s, TRUE);
      return NULL;
    }
    g_string_append_c (s, c);
  }
  while (s->len % 4)
    g_string_append_c (s, '=');
  gsize len = 0;
  guchar *out = g_base64_decode (s->str, &len);
  g_string_free (s, TRUE);
  /* Refuse non-canonical encodings (stray bits): re-encode and compare. */
  g_autofree char *again = svc_b64url_encode (out, len);
  if (strlen (again) != n || strncmp (again, text, n) != 0) {
    g_free (out);
    return NULL;
  }
  *out_len = len;
  return out;
}

/* ---- routes ----------------------------------------------------------- */

/* POST /v1/services/content-keys, POST /v1/services/{id}/key */
static gboolean
route_post (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  Services *s = user_data;
  const char *rest = req->path_rest;
  if (strcmp (rest, "content-keys") == 0)
    return svc_route_content_key (s, req, resp, error);
  const char *slash = strchr (rest, '/');
  if (slash != NULL && strcmp (slash, "/key") == 0) {
    g_autofree char *id = g_strndup (rest, slash - rest);
    return svc_route_query_key (s, id, req, resp, error);
  }
  return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                     "no route POST %s (services has POST "
                     "/v1/services/content-keys and /v1/services/{id}/key)",
                     req->path);
}

/* GET /v1/services/{id}/video goes to the gateway, the rest to reads.c. */
static gboolean
route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *user_data, GError **error)
{
  Services *s = user_data;
  const char *rest = req->path_rest;
  const char *slash = strchr (rest, '/');
  if (slash != NULL && strcmp (slash, "/video") == 0) {
    g_autofree char *id = g_strndup (rest, slash - rest);
    return svc_route_video (s, id, req, resp, error);
  }
  return svc_route_get (self, req, resp, user_data, error);
}

/* ---- lifecycle -------------------------------------------------------- */

static void
services_free (Services *s)
{
  g_free (s->keys_path);
  json_decref (s->content_keys);
  g_free (s);
}

static gboolean
services_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  svc_host = h;
  Services *s = g_new0 (Services, 1);
  int64_t ttl, skew;
  s->self = self;
  s->bank = h->lookup_service (self, CAIRN_BANK_SERVICE,
                               CAIRN_BANK_SERVICE_VERSION);
  if (s->bank == NULL) {
    cairn_fail (
        error, CAIRN_ERROR_CONFIG,
        "services needs the cairn.bank/1 service: load the bank plugin");
    goto fail;
  }
  if (!h->config_int (self, "key_ttl_seconds", 600, 10, 7 * 86400, &ttl, error)
      || !h->config_int (self, "request_skew_seconds", 300, 1, 3600, &skew,
                         error)
      || !h->config_bool (self, "remote_content_keys", FALSE,
                          &s->remote_content_keys, error))
    goto fail;
  s->key_ttl_ms = ttl * 1000;
  s->skew_ms = skew * 1000;
  h->set_data (self, s);
  if (!svc_gateway_init (s, error) || !svc_register_txs (s, error)
      || !h->register_route (self, "GET", "/v1/services/", route_get, s, error)
      || !h->register_route (self, "POST", "/v1/services/", route_post, s,
                             error))
    goto fail;
  return TRUE;
fail:
  h->set_data (self, NULL);
  services_free (s);
  return FALSE;
}

static void
services_fini (CairnPlugin *self)
{
  Services *s = svc_host->get_data (self);
  if (s != NULL)
    services_free (s);
  svc_host->set_data (self, NULL);
}

static const CairnServiceRef services_requires[] = {
  { CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (services, .id = SVC_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Verified offline services: digests on "
                                    "chain, paid query keys, encrypted video "
                                    "gateway, regulator review",
                     .kinds = CAIRN_KIND_APP, .requires = services_requires,
                     .init = services_init, .fini = services_fini)

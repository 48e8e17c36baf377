/* groups: HTTP routes (README.md, "Routes"). Reads of the chain are open;
 * an activity's envelope goes only to a reader that proves, with a fresh
 * signature, that it is a recipient of that version. */
#include <string.h>

#include "groups.h"

#define MAX_LIST 1000

static const char *
str_of (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

/* Errors go back to the core, which answers {"error":{"code","message"}}
 * with the status of the code (SDK: CairnRouteFn). */
static gboolean
propagate (GError **error, GError **e)
{
  g_propagate_error (error, g_steal_pointer (e));
  return FALSE;
}

/* ---- GET /v1/groups/keys/{addr} --------------------------------------- */

static gboolean
get_key (Groups *g, const char *addr, CairnResponse *resp, GError **error)
{
  if (!grp_host->address_valid (addr))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an address (40 lowercase hex)",
                              addr);
  g_autofree char *k = g_strconcat ("k/", addr, NULL);
  g_autoptr (GError) e = NULL;
  json_t *v = grp_get (g, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (v == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "%s has no registered group encryption key",
                              addr);
  json_object_set_new (v, "address", json_string (addr));
  resp->json = v;
  return TRUE;
}

/* ---- GET /v1/groups/node ---------------------------------------------- */

static gboolean
count_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  (*(guint *)user_data)++;
  return TRUE;
}

static gboolean
get_node (Groups *g, CairnResponse *resp, GError **error)
{
  g_autofree char *k = g_strconcat ("k/", g->addr, NULL);
  g_autoptr (json_t) reg = grp_get (g, NULL, k, NULL);
  guint stored = 0;
  g_autoptr (GError) e = NULL;
  if (!grp_host->private_iter (g->self, "e/", count_cb, &stored, &e))
    return propagate (error, &e);
  json_t *missing = json_array ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, g->missing);
  while (g_hash_table_iter_next (&it, &key, NULL))
    json_array_append_new (missing, json_string (key));
  resp->json = json_pack (
      "{s:s,s:s,s:b,s:b,s:I,s:o,s:I,s:I,s:I,s:I}", "address", g->addr, "x25519",
      g->enc_pub_hex, "registered",
      reg != NULL && g_strcmp0 (str_of (reg, "x25519"), g->enc_pub_hex) == 0,
      "auto_register", g->auto_register, "stored", (json_int_t)stored,
      "missing", missing, "pending", (json_int_t)g_hash_table_size (g->pending),
      "relayed", (json_int_t)g->relayed, "rejected", (json_int_t)g->rejected,
      "pushes", (json_int_t)g->pushes);
  return TRUE;
}

/* ---- GET /v1/groups/?member=ADDR -------------------------------------- */

typedef struct {
  Groups *g;
  json_t *out;
  size_t skip;
} ListCtx;

static gboolean
list_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  ListCtx *c = user_data;
  g_autofree char *k = g_strconcat ("g/", key + c->skip, NULL);
  json_t *grp = grp_get (c->g, NULL, k, NULL);
  if (grp != NULL)
    json_array_append_new (c->out, grp);
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
list_groups (Groups *g, const CairnRequest *req, CairnResponse *resp,
             GError **error)
{
  const char *member = g_hash_table_lookup (req->query, "member");
  if (member == NULL || !grp_host->address_valid (member))
    return cairn_reply_error (
        resp, 400, "invalid",
        "list groups with ?member=ADDR (40 lowercase hex)");
  g_autofree char *prefix = g_strconcat ("m/", member, "/", NULL);
  ListCtx c = { g, json_array (), strlen (prefix) };
  g_autoptr (GError) e = NULL;
  if (!grp_host->state_iter (g->self, NULL, NULL, prefix, list_cb, &c, &e)) {
    json_decref (c.out);
    return propagate (error, &e);
  }
  resp->json = json_pack ("{s:s,s:o}", "member", member, "groups", c.out);
  return TRUE;
}

/* ---- GET /v1/groups/{id} ---------------------------------------------- */

typedef struct {
  Groups *g;
  const char *group;
  json_t *out;
} VersionsCtx;

/* "v/<id>/<version %020>" */
static gboolean
versions_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  VersionsCtx *c = user_data;
  const char *slash = strrchr (key, '/');
  uint64_t version = g_ascii_strtoull (slash + 1, NULL, 10);
  g_autoptr (GError) e = NULL;
  json_t *rec = grp_host->json_parse_canonical ((const char *)value, len, &e);
  if (rec == NULL)
    return TRUE;
  json_object_set_new (rec, "version", json_integer ((json_int_t)version));
  g_autoptr (GBytes) held = grp_stored (c->g, c->group, version, NULL);
  json_object_set_new (rec, "held", json_boolean (held != NULL));
  json_array_append_new (c->out, rec);
  return TRUE;
}

static gboolean
get_group (Groups *g, const char *id, CairnResponse *resp, GError **error)
{
  g_autofree char *k = g_strconcat ("g/", id, NULL);
  g_autoptr (GError) e = NULL;
  json_t *grp = grp_get (g, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (grp == NULL)
    return cairn_reply_error (resp, 404, "not_found", "unknown group %s", id);
  g_autofree char *prefix = g_strconcat ("v/", id, "/", NULL);
  VersionsCtx c = { g, id, json_array () };
  if (!grp_host->state_iter (g->self, NULL, NULL, prefix, versions_cb, &c,
                             &e)) {
    json_decref (c.out);
    json_decref (grp);
    return propagate (error, &e);
  }
  json_object_set_new (grp, "versions", c.out);
  json_object_set_new (
      grp, "node_is_member",
      json_boolean (json_object_get (json_object_get (grp, "members"), g->addr)
                    != NULL));
  resp->json = grp;
  return TRUE;
}

/* ---- GET /v1/groups/{id}/activities/{n} (signed read) ----------------- */

static gboolean
read_activity (Groups *g, const char *id, const char *vtext,
               const CairnRequest *req, CairnResponse *resp, GError **error)
{
  char *end = NULL;
  guint64 version = g_ascii_strtoull (vtext, &end, 10);
  if (*vtext == '\0' || *end != '\0' || version == 0)
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not a version number (1, 2, ...)",
                              vtext);
  const char *reader = g_hash_table_lookup (req->query, "reader");
  const char *pk = g_hash_table_lookup (req->query, "pubkey");
  const char *ts = g_hash_table_lookup (req->query, "timestamp");
  const char *sig = g_hash_table_lookup (req->query, "sig");
  uint8_t pub[32], sg[64];
  char derived[41];
  gint64 t;
  if (reader == NULL || ts == NULL
      || !g_ascii_string_to_signed (ts, 10, 0, G_MAXINT64, &t, NULL)
      || !cairn_hex_decode (pk, pub, 32) || !cairn_hex_decode (sig, sg, 64))
    return cairn_reply_error (
        resp, 403, "unauthorized",
        "reading an activity needs the reader's credentials: ?reader=ADDR"
        "&pubkey=HEX&timestamp=MS&sig=HEX (Ed25519, domain '%s', over "
        "canonical {\"group\",\"reader\",\"timestamp\",\"version\"})",
        GRP_DOMAIN_READ);
  grp_host->address_from_pubkey (pub, derived);
  if (strcmp (derived, reader) != 0)
    return cairn_reply_error (resp, 403, "bad_signature",
                              "pubkey is the key of %s, not of %s", derived,
                              reader);
  int64_t now = grp_host->now_ms (g->self);
  if (t < now - g->skew_ms || t > now + g->skew_ms)
    return cairn_reply_error (resp, 403, "stale_request",
                              "timestamp %" G_GINT64_FORMAT
                              " is more than %" G_GINT64_FORMAT
                              " s away from this node's clock "
                              "(%" G_GINT64_FORMAT "); sign a fresh request",
                              t, g->skew_ms / 1000, now);
  g_autoptr (json_t) signed_body
      = json_pack ("{s:s,s:s,s:I,s:I}", "group", id, "reader", reader,
                   "timestamp", (json_int_t)t, "version", (json_int_t)version);
  size_t len;
  g_autofree char *msg = grp_host->json_canonical (signed_body, &len, NULL);
  if (msg == NULL
      || !grp_host->ed25519_verify (pub, GRP_DOMAIN_READ, msg, len, sg))
    return cairn_reply_error (resp, 403, "bad_signature",
                              "the signature does not match (domain '%s', "
                              "canonical {\"group\",\"reader\",\"timestamp\","
                              "\"version\"})",
                              GRP_DOMAIN_READ);
  g_autofree char *vk = grp_version_key (id, version);
  g_autofree char *k = g_strconcat ("v/", vk, NULL);
  g_autoptr (json_t) rec = grp_get (g, NULL, k, NULL);
  if (rec == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "group %s has no version %" G_GUINT64_FORMAT, id,
                              version);
  const json_t *keys = json_object_get (rec, "keys");
  if (json_object_get (keys, reader) == NULL)
    return cairn_reply_error (
        resp, 403, "not_a_member",
        "%s is not a recipient of group %s version %" G_GUINT64_FORMAT, reader,
        id, version);
  if (json_object_get (keys, g->addr) == NULL)
    return cairn_reply_error (resp, 403, "not_a_member",
                              "this node (%s) is not a recipient of group %s "
                              "version %" G_GUINT64_FORMAT
                              " and serves none of it; ask a member's node",
                              g->addr, id, version);
  g_autoptr (GError) e = NULL;
  g_autoptr (GBytes) env = grp_stored (g, id, version, &e);
  if (env == NULL) {
    if (g_error_matches (e, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      return cairn_reply_error (resp, 404, "not_yet_received",
                                "this node has not received group %s version "
                                "%" G_GUINT64_FORMAT " yet",
                                id, version);
    return propagate (error, &e);
  }
  gsize n;
  const void *p = g_bytes_get_data (env, &n);
  g_autofree char *b64 = g_base64_encode (p, n);
  resp->json = json_pack (
      "{s:s,s:I,s:s,s:s,s:I,s:s}", "group", id, "version", (json_int_t)version,
      "commitment", str_of (rec, "commitment"), "keys_hash",
      str_of (rec, "keys_hash"), "size",
      json_integer_value (json_object_get (rec, "size")), "envelope", b64);
  return TRUE;
}

/* ---- POST /v1/groups/{id}/envelopes ----------------------------------- */

static gboolean
post_envelope (Groups *g, const char *id, const CairnRequest *req,
               CairnResponse *resp, GError **error)
{
  const char *b64 = str_of (req->body, "envelope");
  size_t max = GRP_LIMIT_PAYLOAD + GRP_FIXED + GRP_MAX_HEADER + GRP_TAG;
  size_t n = b64 ? strlen (b64) : 0;
  if (n == 0 || n % 4 != 0 || n / 4 * 3 > max + 3)
    return cairn_reply_error (resp, n / 4 * 3 > max + 3 ? 413 : 400, "invalid",
                              "the body must be {\"envelope\": base64} of at "
                              "most %zu bytes",
                              max);
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (b64[i]) && b64[i] != '+' && b64[i] != '/'
        && !(b64[i] == '=' && i >= n - 2))
      return cairn_reply_error (resp, 400, "invalid",
                                "envelope: not base64 (character %zu)", i);
  gsize len;
  guchar *raw = g_base64_decode (b64, &len);
  g_autoptr (GBytes) bytes = g_bytes_new_take (raw, len);
  g_autoptr (GError) e = NULL;
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (bytes, &e);
  if (env == NULL)
    return cairn_reply_error (resp, 400, "invalid", "envelope: %s", e->message);
  if (strcmp (env->group, id) != 0)
    return cairn_reply_error (resp, 400, "invalid",
                              "the envelope is for group %s, not %s",
                              env->group, id);
  if (!grp_accept (g, bytes, NULL, &e))
    return propagate (error, &e);
  char commitment[65];
  grp_hex (env->commitment, 32, commitment);
  json_t *to = json_array ();
  for (size_t i = 0; i < env->n_recipients; i++)
    if (strcmp (env->recipients[i].addr, g->addr) != 0)
      json_array_append_new (to, json_string (env->recipients[i].addr));
  resp->json = json_pack ("{s:s,s:I,s:s,s:b,s:o}", "group", id, "version",
                          (json_int_t)env->version, "commitment", commitment,
                          "stored", 1, "sent_to", to);
  return TRUE;
}

/* ---- dispatch --------------------------------------------------------- */

typedef struct {
  json_t *out;
  GError *error;
} Commitments;

static gboolean
collect_commitment (const char *key, const uint8_t *value, size_t len, void *ud)
{
  Commitments *c = ud;
  /* key: v/<id>/<version %020> */
  g_auto (GStrv) parts = g_strsplit (key, "/", 3);
  json_t *v
      = grp_host->json_parse_canonical ((const char *)value, len, &c->error);
  if (v == NULL || g_strv_length (parts) != 3)
    return FALSE;
  json_array_append_new (
      c->out,
      json_pack ("{s:s,s:I,s:O,s:O,s:O,s:O}", "group", parts[1], "version",
                 (json_int_t)g_ascii_strtoull (parts[2], NULL, 10),
                 "commitment", json_object_get (v, "commitment"), "size",
                 json_object_get (v, "size"), "publisher",
                 json_object_get (v, "publisher"), "height",
                 json_object_get (v, "height")));
  json_decref (v);
  return TRUE;
}

static int
by_height_desc (const void *a, const void *b)
{
  json_int_t x = json_integer_value (json_object_get (*(json_t **)a, "height"));
  json_int_t y = json_integer_value (json_object_get (*(json_t **)b, "height"));
  return x < y ? 1 : x > y ? -1 : 0;
}

/* GET /v1/groups/commitments[?limit=N]: the latest versions of all groups
 * (what the chain records of them: commitment, size, publisher), newest
 * first. */
static gboolean
list_commitments (Groups *g, const CairnRequest *req, CairnResponse *resp,
                  GError **error)
{
  const char *l = g_hash_table_lookup (req->query, "limit");
  guint64 limit = 100;
  if (l && !g_ascii_string_to_unsigned (l, 10, 1, 1000, &limit, NULL))
    return cairn_reply_error (resp, 400, "invalid", "limit must be 1 to 1000");
  Commitments c = { json_array (), NULL };
  if (!grp_host->state_iter (g->self, NULL, NULL, "v/", collect_commitment, &c,
                             error)
      || c.error != NULL) {
    if (c.error)
      g_propagate_error (error, c.error);
    json_decref (c.out);
    return FALSE;
  }
  size_t n = json_array_size (c.out);
  g_autofree json_t **rows = g_new (json_t *, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    rows[i] = json_array_get (c.out, i);
  qsort (rows, n, sizeof *rows, by_height_desc);
  json_t *out = json_array ();
  for (size_t i = 0; i < n && i < limit; i++)
    json_array_append (out, rows[i]);
  json_decref (c.out);
  resp->json = json_pack ("{s:o}", "commitments", out);
  return TRUE;
}

static gboolean
route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *user_data, GError **error)
{
  Groups *g = user_data;
  const char *rest = req->path_rest;
  if (*rest == '\0')
    return list_groups (g, req, resp, error);
  if (strcmp (rest, "node") == 0)
    return get_node (g, resp, error);
  if (strcmp (rest, "commitments") == 0)
    return list_commitments (g, req, resp, error);
  if (g_str_has_prefix (rest, "keys/"))
    return get_key (g, rest + 5, resp, error);
  g_auto (GStrv) parts = g_strsplit (rest, "/", 4);
  if (!cairn_hex_lower_valid (parts[0], 32))
    return cairn_reply_error (
        resp, 404, "not_found",
        "no route GET %s (a group id is 64 lowercase hex)", req->path);
  if (parts[1] == NULL)
    return get_group (g, parts[0], resp, error);
  if (strcmp (parts[1], "activities") == 0 && parts[2] != NULL
      && parts[3] == NULL)
    return read_activity (g, parts[0], parts[2], req, resp, error);
  return cairn_reply_error (resp, 404, "not_found", "no route GET %s",
                            req->path);
}

static gboolean
route_post (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  Groups *g = user_data;
  g_auto (GStrv) parts = g_strsplit (req->path_rest, "/", 3);
  if (parts[0] != NULL && cairn_hex_lower_valid (parts[0], 32)
      && parts[1] != NULL && strcmp (parts[1], "envelopes") == 0
      && parts[2] == NULL)
    return post_envelope (g, parts[0], req, resp, error);
  return cairn_reply_error (resp, 404, "not_found",
                            "no route POST %s (groups has POST "
                            "/v1/groups/{id}/envelopes)",
                            req->path);
}

gboolean
grp_register_routes (Groups *g, GError **error)
{
  return grp_host->register_route (g->self, "GET", "/v1/groups/", route_get, g,
                                   error)
         && grp_host->register_route (g->self, "POST", "/v1/groups/",
                                      route_post, g, error);
}

/* services: the cloud gateway on this node.
 *
 *   POST /v1/services/content-keys  a provider registers the content key of
 *                                   an encrypted video stored on this node
 *   POST /v1/services/{id}/key      an entitled account (or a regulator on
 *                                   an open case) gets a query key
 *   GET  /v1/services/{id}/video?key=TOKEN
 *                                   the decrypted video, streamed (Range
 *                                   answered by the core)
 *
 * Content keys never reach the chain: they live in
 * <data dir>/content-keys.json (mode 0600) and in memory. Query keys are
 * base64url(canonical JSON {exp,gateway,holder,scope,service}) "."
 * base64url(Ed25519 by the node key over SVC_DOMAIN_QUERY_KEY "\0" payload).
 * Routes run on the main loop; the video stream only decrypts (segcrypt.c).
 */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>

#include "segcrypt.h"
#include "services.h"

/* ---- the content-key file --------------------------------------------- */

gboolean
svc_gateway_init (Services *s, GError **error)
{
  const char *dir = svc_host->data_dir (s->self);
  s->keys_path = g_build_filename (dir, "content-keys.json", NULL);
  if (!g_file_test (s->keys_path, G_FILE_TEST_EXISTS)) {
    s->content_keys = json_object ();
    return TRUE;
  }
  json_error_t jerr;
  s->content_keys
      = json_load_file (s->keys_path, JSON_REJECT_DUPLICATES, &jerr);
  if (s->content_keys == NULL || !json_is_object (s->content_keys)) {
    g_clear_pointer (&s->content_keys, json_decref);
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "%s: not a JSON object of content keys (%s, line %d); "
                       "restore it from a backup or remove it (the providers "
                       "then register their keys again)",
                       s->keys_path, jerr.text, jerr.line);
  }
  /* Only the node's user may read it. */
  if (g_chmod (s->keys_path, 0600) != 0)
    return cairn_fail (error, CAIRN_ERROR_IO, "%s: chmod 0600: %s",
                       s->keys_path, g_strerror (errno));
  return TRUE;
}

static gboolean
keys_save (Services *s, GError **error)
{
  g_autofree char *text = json_dumps (s->content_keys, JSON_SORT_KEYS);
  GError *local = NULL;
  if (!g_file_set_contents_full (s->keys_path, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT
                                     | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local)) {
    cairn_fail (error, CAIRN_ERROR_IO, "saving content keys: %s",
                local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

static gboolean
content_key_lookup (Services *s, const char *provider, const char *cid,
                    uint8_t key[32])
{
  g_autofree char *name = g_strdup_printf ("%s/%s", provider, cid);
  const json_t *e = json_object_get (s->content_keys, name);
  const char *hex = json_string_value (json_object_get (e, "key"));
  return hex != NULL && cairn_hex_decode (hex, key, 32);
}

/* ---- requests signed by an account ------------------------------------ */

static gboolean
remote_is_loopback (const char *remote)
{
  return remote != NULL
         && (g_str_has_prefix (remote, "127.") || strcmp (remote, "::1") == 0
             || strcmp (remote, "::ffff:127.0.0.1") == 0);
}

/* Checks body.sig (Ed25519 by body.pubkey over domain "\0" the canonical
 * body without sig), that body.pubkey is body[addr_field]'s key and that
 * body.timestamp is within the allowed skew. Answers 400/403 itself. */
static gboolean
verify_signed (Services *s, const json_t *body, const char *domain,
               const char *addr_field, CairnResponse *resp)
{
  const char *pk = json_string_value (json_object_get (body, "pubkey"));
  const char *sig = json_string_value (json_object_get (body, "sig"));
  const char *addr = json_string_value (json_object_get (body, addr_field));
  const json_t *ts = json_object_get (body, "timestamp");
  uint8_t pub[32], sg[64];
  char derived[41];
  if (!cairn_hex_decode (pk, pub, 32) || !cairn_hex_decode (sig, sg, 64)
      || addr == NULL || !json_is_integer (ts))
    return !cairn_reply_error (resp, 400, "invalid",
                               "the body needs %s, pubkey (64 hex), timestamp "
                               "(ms) and sig (128 hex)",
                               addr_field);
  svc_host->address_from_pubkey (pub, derived);
  if (strcmp (derived, addr) != 0)
    return !cairn_reply_error (resp, 403, "bad_signature",
                               "pubkey is the key of %s, not of %s", derived,
                               addr);
  int64_t now = svc_host->now_ms (s->self);
  json_int_t t = json_integer_value (ts);
  if (t < now - s->skew_ms || t > now + s->skew_ms)
    return !cairn_reply_error (
        resp, 403, "stale_request",
        "timestamp %" JSON_INTEGER_FORMAT " is more than %" G_GINT64_FORMAT
        " s away from this node's clock (%" G_GINT64_FORMAT "); sign a fresh "
        "request",
        t, s->skew_ms / 1000, now);
  g_autoptr (json_t) unsigned_body = json_copy ((json_t *)body);
  json_object_del (unsigned_body, "sig");
  size_t len;
  g_autofree char *msg = svc_host->json_canonical (unsigned_body, &len, NULL);
  if (msg == NULL || !svc_host->ed25519_verify (pub, domain, msg, len, sg))
    return !cairn_reply_error (resp, 403, "bad_signature",
                               "the signature does not match the body (domain "
                               "'%s', canonical JSON without sig)",
                               domain);
  return TRUE;
}

/* ---- blobs ------------------------------------------------------------ */

static gboolean
read_exact (GInputStream *in, void *buf, size_t n, GError **error)
{
  gsize got = 0;
  if (!g_input_stream_read_all (in, buf, n, &got, NULL, error))
    return FALSE;
  if (got != n)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "the blob ended after %zu of %zu bytes", got, n);
  return TRUE;
}

/* The encrypted video's header, checked against the blob's size. Answers
 * 404 (not stored here), 501 (no blob store) or 422 itself. */
static gboolean
video_header (Services *s, const char *cid, uint8_t header[SEG_HEADER],
              SegHeader *h, CairnResponse *resp)
{
  g_autoptr (GError) err = NULL;
  uint64_t size = 0;
  if (!svc_host->blob_stat (s->self, cid, &size, &err)) {
    if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      return !cairn_reply_error (resp, 404, "blob_not_found",
                                 "blob %s is not stored on this node; upload "
                                 "the encrypted video first (POST /v1/blobs)",
                                 cid);
    if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED))
      return !cairn_reply_error (resp, 501, "not_implemented", "%s",
                                 err->message);
    return !cairn_reply_error (resp, 400, cairn_error_code_name (err->code),
                               "blob %s: %s", cid, err->message);
  }
  g_autoptr (GInputStream) in
      = svc_host->blob_open (s->self, cid, 0, SEG_HEADER, &err);
  gboolean read_ok = in != NULL && size >= SEG_HEADER
                     && read_exact (in, header, SEG_HEADER, &err);
  if (!read_ok && g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_CORRUPT))
    return !cairn_reply_error (resp, 500, "corrupt",
                               "blob %s is damaged on this node (its bytes no "
                               "longer match its CID): %s",
                               cid, err->message);
  if (!read_ok || !seg_header_parse (header, h, &err)
      || seg_cipher_size (h->plain_len, h->segment_size) != size)
    return !cairn_reply_error (
        resp, 422, "bad_video",
        "blob %s is not an encrypted video of format %s: %s", cid, SEG_ALG,
        err ? err->message : "its size does not match its header");
  return TRUE;
}

/* ---- POST /v1/services/content-keys ------------------------------------ */

gboolean
svc_route_content_key (Services *s, const CairnRequest *req,
                       CairnResponse *resp, GError **error)
{
  const char *provider, *pubkey, *cid, *keyhex, *sig;
  json_int_t ts;
  json_error_t jerr;
  uint8_t key[32];
  if (!s->remote_content_keys && !remote_is_loopback (req->remote))
    return cairn_reply_error (resp, 403, "remote_refused",
                              "content keys are accepted from loopback only "
                              "(the API is plain HTTP); run the CLI on this "
                              "node's host, or set [services] "
                              "remote_content_keys = true behind TLS");
  if (req->body == NULL
      || json_unpack_ex ((json_t *)req->body, &jerr, JSON_STRICT,
                         "{s:s,s:s,s:s,s:s,s:I,s:s}", "provider", &provider,
                         "pubkey", &pubkey, "cid", &cid, "key", &keyhex,
                         "timestamp", &ts, "sig", &sig)
             != 0)
    return cairn_reply_error (resp, 400, "invalid",
                              "body must be {\"cid\",\"key\",\"provider\","
                              "\"pubkey\",\"sig\",\"timestamp\"}: %s",
                              req->body ? jerr.text : "no JSON body");
  if (!cairn_cid_valid (cid) || !cairn_hex_decode (keyhex, key, 32))
    return cairn_reply_error (resp, 400, "invalid",
                              "cid must be a CIDv1 (base32) and key 64 hex "
                              "characters (32 bytes)");
  if (!verify_signed (s, req->body, SVC_DOMAIN_CONTENT_KEY, "provider", resp))
    return TRUE;
  g_autofree char *pkey = g_strdup_printf ("provider/%s", provider);
  g_autoptr (json_t) prov = svc_get (s, NULL, pkey, error);
  if (prov == NULL) {
    OPENSSL_cleanse (key, sizeof key);
    if (error && *error)
      return FALSE;
    return cairn_reply_error (resp, 403, "not_provider",
                              "%s is not a registered provider", provider);
  }
  /* The key must open the video: decrypt its first segment. */
  uint8_t header[SEG_HEADER];
  SegHeader h;
  if (!video_header (s, cid, header, &h, resp)) {
    OPENSSL_cleanse (key, sizeof key);
    return TRUE;
  }
  uint64_t c_off, c_len;
  seg_cipher_range (&h, 0, 1, &c_off, &c_len);
  g_autoptr (GError) err = NULL;
  g_autofree uint8_t *cbuf = g_malloc (c_len);
  g_autofree uint8_t *pbuf = g_malloc (c_len);
  g_autoptr (GInputStream) in
      = h.plain_len > 0 ? svc_host->blob_open (s->self, cid, c_off, c_len, &err)
                        : NULL;
  gboolean ok = in != NULL && read_exact (in, cbuf, c_len, &err)
                && seg_decrypt_segment (key, header, 0, cbuf, c_len, pbuf);
  OPENSSL_cleanse (pbuf, c_len);
  if (!ok) {
    OPENSSL_cleanse (key, sizeof key);
    return cairn_reply_error (
        resp, 422, "wrong_key", "the key does not decrypt blob %s: %s", cid,
        err ? err->message : "its first segment fails authentication");
  }
  g_autofree char *name = g_strdup_printf ("%s/%s", provider, cid);
  json_object_set_new (s->content_keys, name,
                       json_pack ("{s:s,s:I}", "key", keyhex, "ms",
                                  (json_int_t)svc_host->now_ms (s->self)));
  OPENSSL_cleanse (key, sizeof key);
  if (!keys_save (s, error))
    return FALSE;
  resp->json = json_pack ("{s:b,s:s,s:s,s:I}", "ok", TRUE, "provider", provider,
                          "cid", cid, "size", (json_int_t)h.plain_len);
  return TRUE;
}

/* ---- POST /v1/services/{id}/key --------------------------------------- */

static json_t *
service_head (Services *s, const char *id, GError **error)
{
  g_autofree char *key = g_strdup_printf ("svc/%s", id);
  return svc_get (s, NULL, key, error);
}

typedef struct {
  const char *service;
  gboolean open;
} OpenCase;

static gboolean
find_open_case (const char *key, const uint8_t *v, size_t len, void *data)
{
  OpenCase *oc = data;
  g_autoptr (json_t) c = json_loadb ((const char *)v, len, 0, NULL);
  const char *st = json_string_value (json_object_get (c, "status"));
  if (g_strcmp0 (json_string_value (json_object_get (c, "service")),
                 oc->service)
          == 0
      && (g_strcmp0 (st, "open") == 0 || g_strcmp0 (st, "reviewed") == 0)) {
    oc->open = TRUE;
    return FALSE;
  }
  return TRUE;
}

gboolean
svc_route_query_key (Services *s, const char *id, const CairnRequest *req,
                     CairnResponse *resp, GError **error)
{
  const char *service, *account, *pubkey, *sig, *scope = "view";
  json_int_t ts;
  json_error_t jerr;
  if (!cairn_hex_lower_valid (id, 32))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not a service id (64 hex characters)",
                              id);
  if (req->body == NULL
      || json_unpack_ex ((json_t *)req->body, &jerr, JSON_STRICT,
                         "{s:s,s:s,s:s,s?s,s:I,s:s}", "service", &service,
                         "account", &account, "pubkey", &pubkey, "scope",
                         &scope, "timestamp", &ts, "sig", &sig)
             != 0)
    return cairn_reply_error (
        resp, 400, "invalid",
        "body must be {\"account\",\"pubkey\",[\"scope\"],"
        "\"service\",\"sig\",\"timestamp\"}: %s",
        req->body ? jerr.text : "no JSON body");
  if (strcmp (service, id) != 0)
    return cairn_reply_error (resp, 400, "invalid",
                              "body.service %s is not the service of the path "
                              "(%s)",
                              service, id);
  if (strcmp (scope, "view") != 0 && strcmp (scope, "review") != 0)
    return cairn_reply_error (resp, 400, "invalid",
                              "scope must be 'view' or 'review' (got '%s')",
                              scope);
  if (!verify_signed (s, req->body, SVC_DOMAIN_KEY_REQUEST, "account", resp))
    return TRUE;
  GError *local = NULL;
  g_autoptr (json_t) svc = service_head (s, id, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (svc == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "unknown service %s (see GET /v1/services)", id);
  const char *provider = json_string_value (json_object_get (svc, "provider"));
  const json_t *price = json_object_get (svc, "price");
  if (strcmp (scope, "review") == 0) {
    if (!svc_is_regulator (s, NULL, account))
      return cairn_reply_error (resp, 403, "not_regulator",
                                "scope 'review' is for regulators; %s does not "
                                "hold the regulator role",
                                account);
    OpenCase oc = { id, FALSE };
    if (!svc_host->state_iter (s->self, NULL, NULL, "case/", find_open_case,
                               &oc, error))
      return FALSE;
    if (!oc.open)
      return cairn_reply_error (resp, 403, "no_open_case",
                                "service %s has no complaint under review; a "
                                "regulator's key is for an open case",
                                id);
  } else if (strcmp (account, provider) != 0) {
    g_autofree char *ek = g_strdup_printf ("ent/%s/%s", id, account);
    g_autoptr (json_t) ent = svc_get (s, NULL, ek, &local);
    if (local != NULL) {
      g_propagate_error (error, local);
      return FALSE;
    }
    if (ent == NULL)
      return cairn_reply_error (
          resp, 403, "entitlement_required",
          "provide entitlement first: %s holds no entitlement to service %s. "
          "Pay its price (%" JSON_INTEGER_FORMAT " %s) to the provider with a "
          "services.entitle tx, e.g. 'cairn services entitle %s --from KEY', "
          "then ask for the key again",
          account, id, json_integer_value (json_object_get (price, "amount")),
          json_string_value (json_object_get (price, "denom")), id);
  }
  uint8_t key[32];
  const char *cid = json_string_value (
      json_object_get (json_object_get (svc, "video"), "cid"));
  if (!content_key_lookup (s, provider, cid, key)) {
    const char *gw = json_string_value (json_object_get (svc, "gateway"));
    return cairn_reply_error (resp, 409, "not_gateway",
                              "this node does not serve the video of service "
                              "%s (it holds no content key for it); ask the "
                              "provider's gateway%s%s",
                              id, gw ? " at " : "", gw ? gw : "");
  }
  OPENSSL_cleanse (key, sizeof key);
  int64_t exp = svc_host->now_ms (s->self) + s->key_ttl_ms;
  g_autoptr (json_t) payload
      = json_pack ("{s:I,s:s,s:s,s:s,s:s}", "exp", (json_int_t)exp, "gateway",
                   svc_host->node_address (s->self), "holder", account, "scope",
                   scope, "service", id);
  size_t len;
  g_autofree char *msg = svc_host->json_canonical (payload, &len, error);
  uint8_t sg[64];
  if (msg == NULL
      || !svc_host->node_sign (s->self, SVC_DOMAIN_QUERY_KEY, msg, len, sg,
                               error))
    return FALSE;
  g_autofree char *a = svc_b64url_encode (msg, len);
  g_autofree char *b = svc_b64url_encode (sg, sizeof sg);
  g_autofree char *token = g_strconcat (a, ".", b, NULL);
  g_autofree char *url
      = g_strdup_printf ("/v1/services/%s/video?key=%s", id, token);
  resp->json = json_pack ("{s:s,s:s,s:s,s:s,s:I,s:s}", "token", token,
                          "service", id, "holder", account, "scope", scope,
                          "exp", (json_int_t)exp, "url", url);
  return TRUE;
}

/* ---- GET /v1/services/{id}/video?key=TOKEN ----------------------------- */

typedef struct {
  CairnPlugin *self;
  char *cid;
  uint8_t key[32];
  uint8_t header[SEG_HEADER];
  SegHeader h;
} VideoStream;

static void
video_stream_free (void *data)
{
  VideoStream *v = data;
  OPENSSL_cleanse (v->key, sizeof v->key);
  g_free (v->cid);
  g_free (v);
}

/* Called by the core on the main loop, once, for the bytes it sends; the
 * stream it returns only reads the blob stream and decrypts. */
static GInputStream *
video_open (void *data, uint64_t offset, uint64_t length, GError **error)
{
  VideoStream *v = data;
  uint64_t c_off, c_len;
  seg_cipher_range (&v->h, offset, length, &c_off, &c_len);
  g_autoptr (GInputStream) cipher
      = svc_host->blob_open (v->self, v->cid, c_off, c_len, error);
  if (cipher == NULL)
    return NULL;
  return seg_reader_new (cipher, v->key, v->header, offset, length);
}

/* Decodes and checks a token; answers 403 with the reason itself. */
static gboolean
token_check (Services *s, const char *id, const char *token,
             CairnResponse *resp)
{
  if (token == NULL || *token == '\0')
    return !cairn_reply_error (
        resp, 403, "key_missing",
        "this video needs a query key: add ?key=TOKEN, from POST "
        "/v1/services/%s/key (cairn services key %s)",
        id, id);
  const char *dot = strchr (token, '.');
  size_t plen = 0, slen = 0;
  g_autofree guchar *payload
      = dot ? svc_b64url_decode (token, dot - token, &plen) : NULL;
  g_autofree guchar *sig
      = dot ? svc_b64url_decode (dot + 1, strlen (dot + 1), &slen) : NULL;
  g_autoptr (json_t) p
      = payload
            ? svc_host->json_parse_canonical ((const char *)payload, plen, NULL)
            : NULL;
  const char *gw = json_string_value (json_object_get (p, "gateway"));
  const char *svc = json_string_value (json_object_get (p, "service"));
  const json_t *exp = json_object_get (p, "exp");
  if (p == NULL || sig == NULL || slen != 64 || gw == NULL || svc == NULL
      || !json_is_integer (exp)
      || json_string_value (json_object_get (p, "holder")) == NULL)
    return !cairn_reply_error (resp, 403, "key_malformed",
                               "the query key is not a token of this gateway "
                               "(base64url payload '.' base64url signature)");
  uint8_t pub[32];
  svc_host->node_pubkey (s->self, pub);
  if (!svc_host->ed25519_verify (pub, SVC_DOMAIN_QUERY_KEY, payload, plen,
                                 sig)) {
    if (strcmp (gw, svc_host->node_address (s->self)) != 0)
      return !cairn_reply_error (resp, 403, "key_foreign",
                                 "the query key was issued for gateway %s, not "
                                 "this one (%s); use it there",
                                 gw, svc_host->node_address (s->self));
    return !cairn_reply_error (resp, 403, "key_forged",
                               "the query key's signature is not this "
                               "gateway's: it was altered or forged");
  }
  int64_t now = svc_host->now_ms (s->self);
  if (json_integer_value (exp) <= now)
    return !cairn_reply_error (
        resp, 403, "key_expired",
        "the query key expired %" G_GINT64_FORMAT " s ago; ask for a new one "
        "(cairn services key %s)",
        (now - (int64_t)json_integer_value (exp)) / 1000, id);
  if (strcmp (svc, id) != 0)
    return !cairn_reply_error (resp, 403, "key_other_service",
                               "the query key is for service %s, not %s", svc,
                               id);
  return TRUE;
}

gboolean
svc_route_video (Services *s, const char *id, const CairnRequest *req,
                 CairnResponse *resp, GError **error)
{
  if (!cairn_hex_lower_valid (id, 32))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not a service id (64 hex characters)",
                              id);
  if (!token_check (s, id, g_hash_table_lookup (req->query, "key"), resp))
    return TRUE;
  GError *local = NULL;
  g_autoptr (json_t) svc = service_head (s, id, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (svc == NULL)
    return cairn_reply_error (resp, 404, "not_found", "unknown service %s", id);
  const json_t *video = json_object_get (svc, "video");
  const char *cid = json_string_value (json_object_get (video, "cid"));
  const char *provider = json_string_value (json_object_get (svc, "provider"));
  VideoStream *v = g_new0 (VideoStream, 1);
  v->self = s->self;
  v->cid = g_strdup (cid);
  if (!content_key_lookup (s, provider, cid, v->key)) {
    video_stream_free (v);
    return cairn_reply_error (resp, 409, "not_gateway",
                              "this node holds no content key for service %s",
                              id);
  }
  if (!video_header (s, cid, v->header, &v->h, resp)) {
    video_stream_free (v);
    return TRUE;
  }
  json_int_t size = json_integer_value (json_object_get (video, "size"));
  if ((uint64_t)size != v->h.plain_len) {
    uint64_t have = v->h.plain_len;
    video_stream_free (v);
    return cairn_reply_error (resp, 422, "bad_video",
                              "blob %s holds %" G_GUINT64_FORMAT
                              " bytes of video, the chain says "
                              "%" JSON_INTEGER_FORMAT,
                              cid, have, size);
  }
  resp->open_stream = video_open;
  resp->stream_data = v;
  resp->stream_free = video_stream_free;
  resp->stream_size = v->h.plain_len;
  /* content_type must outlive the reply: intern it. */
  resp->content_type = g_intern_string (
      json_string_value (json_object_get (video, "content_type")));
  return TRUE;
}

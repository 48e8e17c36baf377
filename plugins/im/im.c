/* im: end-to-end encrypted instant messaging. Lifecycle, config, shared
 * helpers, and the checks that the chain and the routes share (so a
 * registrar or a storing node refuses exactly what the chain would); see
 * README.md. */
#include <string.h>

#include "im.h"

#include <cairn/explorer.h>

const CairnHost *im_host;

/* ---- helpers ---------------------------------------------------------- */

json_t *
im_get (Im *im, CairnTxCtx *tx, const char *key, GError **error)
{
  return cairn_state_get_json_opt (im_host, im->self, tx, key, error);
}

gboolean
im_put (Im *im, CairnTxCtx *tx, const char *key, const json_t *v,
        GError **error)
{
  return im_host->state_put_json (im->self, tx, key, v, error);
}

const char *
im_str (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

json_int_t
im_int (const json_t *o, const char *k)
{
  return json_integer_value (json_object_get (o, k));
}

char *
im_box_key (const char *box, const char *addr, uint64_t seq)
{
  return g_strdup_printf ("%s/%s/%020" G_GUINT64_FORMAT, box, addr, seq);
}

char *
im_registrar_role (Im *im, CairnTxCtx *tx)
{
  g_autoptr (json_t) p = im_get (im, tx, "params", NULL);
  const char *role = im_str (p, "registrar_role");
  /* A chain that started without the plugin runs on the default. */
  return g_strdup (role ? role : "im_registrar");
}

char *
im_sig_key (const char *sig_hex)
{
  uint8_t d[32];
  im_host->sha256 (sig_hex, strlen (sig_hex), d);
  g_autofree char *hex = cairn_hex_encode (d, 32);
  return g_strconcat ("sig/", hex, NULL);
}

void
im_metrics (Im *im)
{
  const struct {
    const char *name, *help;
    int64_t v;
  } m[] = {
    { "im_streams", "Open message streams (GET /v1/im/stream)",
      (int64_t)im->streams->len },
    { "im_fetches", "Content fetches from other nodes in progress",
      (int64_t)g_hash_table_size (im->fetches) },
    { "im_chunks_served_total", "Content chunks sent to other nodes",
      (int64_t)im->chunks_served },
    { "im_fetches_done_total", "Contents fetched, checked and stored",
      (int64_t)im->fetches_done },
    { "im_fetches_failed_total",
      "Content fetches given up (absent, wrong CID, timeout)",
      (int64_t)im->fetches_failed },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (m); i++)
    im_host->metric_set (im->self, m[i].name, m[i].help, m[i].v, NULL);
}

/* ---- checks ----------------------------------------------------------- */

gboolean
im_name_valid (const char *name)
{
  size_t n = name ? strlen (name) : 0;
  if (n < IM_NAME_MIN || n > IM_NAME_MAX)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i])
        && name[i] != '_' && name[i] != '.' && name[i] != '-')
      return FALSE;
  return TRUE;
}

gboolean
im_address_ok (const char *what, const char *field, const char *a,
               GError **error)
{
  if (!im_host->address_valid (a))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s '%s' is not an address (40 lowercase hex)", what,
                       field, a ? a : "(null)");
  return TRUE;
}

static gboolean
key32_ok (const char *hex, gboolean nonzero)
{
  static const uint8_t zero[32];
  uint8_t raw[32];
  return cairn_hex_lower_valid (hex, 32) && cairn_hex_decode (hex, raw, 32)
         && (!nonzero || memcmp (raw, zero, 32) != 0);
}

/* A JSON string without an embedded NUL, valid UTF-8, at most max bytes. */
static gboolean
text_ok (const json_t *s, size_t max)
{
  const char *v = json_string_value (s);
  size_t n = json_string_length (s);
  return v != NULL && strlen (v) == n && n <= max
         && g_utf8_validate (v, (gssize)n, NULL);
}

static gboolean
profile_ok (const json_t *profile, GError **error)
{
  const char *what = "im.register";
  if (!json_is_object (profile)
      || json_object_size (profile) > IM_PROFILE_FIELDS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: request.profile must be an object of at most %d "
                       "fields",
                       what, IM_PROFILE_FIELDS);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)profile, k, v)
  {
    size_t n = strlen (k);
    gboolean key_ok = n >= 1 && n <= IM_PROFILE_KEY_MAX;
    for (size_t i = 0; key_ok && i < n; i++)
      key_ok = g_ascii_islower (k[i]) || g_ascii_isdigit (k[i]) || k[i] == '_';
    if (!key_ok)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: request.profile field '%s': names are 1-%d of "
                         "[a-z0-9_]",
                         what, k, IM_PROFILE_KEY_MAX);
    if (!text_ok (v, IM_PROFILE_VALUE_MAX))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: request.profile.%s must be a string of at most "
                         "%d bytes of UTF-8",
                         what, k, IM_PROFILE_VALUE_MAX);
  }
  return TRUE;
}

json_t *
im_user (Im *im, CairnTxCtx *tx, const char *what, const char *role,
         const char *addr, gboolean allow_revoked, GError **error)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "user/%s", addr);
  GError *local = NULL;
  json_t *cert = im_get (im, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  if (cert == NULL) {
    cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                "%s: the %s %s is not a registered im user", what, role, addr);
    return NULL;
  }
  if (!allow_revoked && json_is_true (json_object_get (cert, "revoked"))) {
    cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                "%s: the %s %s ('%s') is revoked: it can neither send nor "
                "receive",
                what, role, addr, im_str (cert, "name"));
    json_decref (cert);
    return NULL;
  }
  return cert;
}

static gboolean
timestamp_ok (const char *what, const char *field, json_int_t ts,
              int64_t now_ms, int64_t skew_ms, gboolean chain, GError **error)
{
  if (ts < now_ms - skew_ms || ts > now_ms + skew_ms)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s %" JSON_INTEGER_FORMAT
                       " is more than %" G_GINT64_FORMAT
                       " s from %s (%" G_GINT64_FORMAT "); sign it again now",
                       what, field, ts, skew_ms / 1000,
                       chain ? "the block time" : "this node's clock", now_ms);
  return TRUE;
}

gboolean
im_register_check_body (const json_t *body, GError **error)
{
  const char *what = "im.register";
  json_t *request = NULL, *profile = NULL;
  const char *pubkey, *sig, *name, *enc;
  json_int_t ts;
  if (!cairn_unpack_strict (what, body, error, "{s:o,s:s,s:s}", "request",
                            &request, "pubkey", &pubkey, "sig", &sig))
    return FALSE;
  if (!cairn_unpack_strict ("im.register request", request, error,
                            "{s:s,s:s,s?o,s:I}", "name", &name, "enc_pubkey",
                            &enc, "profile", &profile, "timestamp", &ts))
    return FALSE;
  if (!im_name_valid (name))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: name '%s' must be %d-%d of [a-z0-9_.-]", what, name,
                       IM_NAME_MIN, IM_NAME_MAX);
  if (!key32_ok (enc, TRUE))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: request.enc_pubkey must be a non-zero X25519 "
                       "public key (64 lowercase hex)",
                       what);
  if (profile != NULL && !profile_ok (profile, error))
    return FALSE;
  if (ts < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: request.timestamp must be milliseconds since the "
                       "epoch (>= 0)",
                       what);
  uint8_t pub[32], sg[64];
  if (!key32_ok (pubkey, FALSE) || !cairn_hex_decode (pubkey, pub, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: pubkey must be an Ed25519 public key (64 "
                       "lowercase hex)",
                       what);
  if (!cairn_hex_lower_valid (sig, 64) || !cairn_hex_decode (sig, sg, 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: sig must be an Ed25519 signature (128 lowercase "
                       "hex)",
                       what);
  size_t len;
  g_autoptr (GError) e = NULL;
  g_autofree char *msg = im_host->json_canonical (request, &len, &e);
  if (msg == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: request: %s", what,
                       e->message);
  if (!im_host->ed25519_verify (pub, IM_DOMAIN_REGISTER, msg, len, sg))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: sig is not pubkey's signature of the request "
                       "(Ed25519, domain '%s', over the canonical JSON of "
                       "request)",
                       what, IM_DOMAIN_REGISTER);
  return TRUE;
}

gboolean
im_register_check_state (Im *im, CairnTxCtx *tx, const json_t *body,
                         int64_t now_ms, int64_t skew_ms, GError **error)
{
  const char *what = "im.register";
  const json_t *request = json_object_get (body, "request");
  const char *name = im_str (request, "name");
  uint8_t pub[32];
  char addr[41], k[IM_KEYBUF];
  cairn_hex_decode (im_str (body, "pubkey"), pub, 32);
  im_host->address_from_pubkey (pub, addr);
  if (!timestamp_ok (what, "request.timestamp", im_int (request, "timestamp"),
                     now_ms, skew_ms, tx != NULL, error))
    return FALSE;
  GError *local = NULL;
  g_snprintf (k, sizeof k, "user/%s", addr);
  g_autoptr (json_t) cert = im_get (im, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (cert != NULL)
    return cairn_fail (
        error, CAIRN_ERROR_CONFLICT,
        "%s: account %s is already registered as '%s'%s", what, addr,
        im_str (cert, "name"),
        json_is_true (json_object_get (cert, "revoked")) ? " (revoked)" : "");
  g_snprintf (k, sizeof k, "name/%s", name);
  g_autoptr (json_t) taken = im_get (im, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (taken != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: the name '%s' is taken (by %s)", what, name,
                       im_str (taken, "address"));
  return TRUE;
}

gboolean
im_send_check_body (const json_t *body, GError **error)
{
  const char *what = "im.send";
  const char *to, *kind, *cid, *sha, *store, *sig;
  json_int_t size, ts;
  if (!cairn_unpack_strict (
          what, body, error, "{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "to", &to,
          "kind", &kind, "cid", &cid, "content_sha256", &sha, "size", &size,
          "timestamp", &ts, "store", &store, "sig", &sig)
      || !im_address_ok (what, "to", to, error)
      || !im_address_ok (what, "store", store, error))
    return FALSE;
  if (strcmp (kind, "text") != 0 && strcmp (kind, "file") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: kind '%s' must be \"text\" or \"file\"", what,
                       kind);
  if (!cairn_cid_valid (cid))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: cid '%s' is not a CIDv1 (base32, as the blob "
                       "store prints it)",
                       what, cid);
  if (!cairn_hex_lower_valid (sha, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: content_sha256 must be a SHA-256 digest (64 "
                       "lowercase hex)",
                       what);
  if (size < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: size %" JSON_INTEGER_FORMAT " must be >= 0", what,
                       size);
  if (ts < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: timestamp must be milliseconds since the epoch "
                       "(>= 0)",
                       what);
  if (!cairn_hex_lower_valid (sig, 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: sig must be an Ed25519 signature (128 lowercase "
                       "hex)",
                       what);
  return TRUE;
}

static gboolean
message_sig_ok (const char *pubkey_hex, const json_t *body, GError **error)
{
  uint8_t pub[32], sg[64];
  if (!cairn_hex_decode (pubkey_hex, pub, 32)
      || !cairn_hex_decode (im_str (body, "sig"), sg, 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "im.send: the sender's key or sig is malformed");
  g_autoptr (json_t) unsigned_body = json_copy ((json_t *)body);
  json_object_del (unsigned_body, "sig");
  size_t len;
  g_autoptr (GError) e = NULL;
  g_autofree char *msg = im_host->json_canonical (unsigned_body, &len, &e);
  if (msg == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "im.send: body: %s",
                       e->message);
  if (!im_host->ed25519_verify (pub, IM_DOMAIN_MESSAGE, msg, len, sg))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "im.send: sig is not the sender's signature of the "
                       "message (Ed25519 by the tx's key %s, domain '%s', over "
                       "the canonical body without sig)",
                       pubkey_hex, IM_DOMAIN_MESSAGE);
  return TRUE;
}

gboolean
im_send_check_state (Im *im, CairnTxCtx *tx, const char *sender,
                     const char *pubkey_hex, const json_t *body, int64_t now_ms,
                     GError **error)
{
  const char *what = "im.send";
  const char *to = im_str (body, "to");
  char k[IM_KEYBUF];
  GError *local = NULL;
  if (!message_sig_ok (pubkey_hex, body, error))
    return FALSE;
  if (strcmp (to, sender) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s sends to itself; a message needs another "
                       "recipient",
                       what, sender);
  g_autoptr (json_t) from_cert
      = im_user (im, tx, what, "sender", sender, FALSE, error);
  if (from_cert == NULL)
    return FALSE;
  g_autoptr (json_t) to_cert
      = im_user (im, tx, what, "recipient", to, FALSE, error);
  if (to_cert == NULL)
    return FALSE;
  g_snprintf (k, sizeof k, "c/%s/%s", sender, to);
  g_autoptr (json_t) contact = im_get (im, tx, k, &local);
  if (local == NULL && contact == NULL) {
    g_snprintf (k, sizeof k, "set/%s", to);
    g_autoptr (json_t) set = im_get (im, tx, k, &local);
    if (local == NULL
        && !json_is_true (json_object_get (set, "allow_strangers")))
      return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                         "%s: %s ('%s') is not a contact of %s ('%s') and "
                         "does not allow strangers: send im.bind_request "
                         "first",
                         what, to, im_str (to_cert, "name"), sender,
                         im_str (from_cert, "name"));
  }
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (!timestamp_ok (what, "timestamp", im_int (body, "timestamp"), now_ms,
                     IM_CHAIN_SKEW_MS, tx != NULL, error))
    return FALSE;
  g_autofree char *sk = im_sig_key (im_str (body, "sig"));
  g_autoptr (json_t) seen = im_get (im, tx, sk, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (seen != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: this message (sig %.16s...) is already recorded: "
                       "a replay",
                       what, im_str (body, "sig"));
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------- */

static void
im_free (Im *im)
{
  im_streams_free (im);
  im_content_free (im);
  g_hash_table_destroy (im->pending_regs);
  g_free (im);
}

static gboolean
im_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  im_host = h;
  if (!CAIRN_HOST_HAS (h, register_stream_route)
      || !CAIRN_HOST_HAS (h, stream_send) || !CAIRN_HOST_HAS (h, stream_close))
    return cairn_fail (error, CAIRN_ERROR_NOT_IMPLEMENTED,
                       "im needs SDK 1.4 server-sent event streams "
                       "(register_stream_route), which this node's core "
                       "does not provide: upgrade the node");
  Im *im = g_new0 (Im, 1);
  int64_t skew, timeout;
  im->self = self;
  g_strlcpy (im->addr, h->node_address (self), sizeof im->addr);
  im->streams_by_addr = g_hash_table_new_full (
      g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
  im->streams = g_ptr_array_new ();
  im->fetches = g_hash_table_new (g_str_hash, g_str_equal);
  im->pending_regs
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* The chain allows IM_CHAIN_SKEW_MS; a registrar may be stricter. */
  if (!h->config_int (self, "request_skew_seconds", 300, 1,
                      IM_CHAIN_SKEW_MS / 1000, &skew, error)
      || !h->config_int (self, "fetch_timeout_seconds", 60, 1, 86400, &timeout,
                         error))
    goto fail;
  im->skew_ms = skew * 1000;
  im->fetch_timeout_ms = timeout * 1000;
  h->set_data (self, im);
  if (!im_register_txs (im, error) || !im_register_routes (im, error)
      || !h->register_direct_handler (self, im_on_direct, im, error))
    goto fail;
  return TRUE;
fail:
  h->set_data (self, NULL);
  im_free (im);
  return FALSE;
}

static gboolean
im_start (CairnPlugin *self, GError **error)
{
  Im *im = im_host->get_data (self);
  cairn_explorer_add_panel (
      im_host, self,
      "{\"id\":\"network\",\"title\":\"Messaging network\",\"route\":"
      "\"/v1/im/stats\",\"description\":\"Users and message records of "
      "the encrypted messaging network (contents are never on chain)\","
      "\"columns\":[{\"key\":\"name\",\"label\":\"What\"},{\"key\":"
      "\"value\",\"label\":\"Count\"}]}");
  if (!im_streams_start (im, error))
    return FALSE;
  im_metrics (im);
  return TRUE;
}

static void
im_stop (CairnPlugin *self)
{
  Im *im = im_host->get_data (self);
  if (im != NULL) {
    im_streams_stop (im);
    im_content_stop (im);
  }
}

static void
im_fini (CairnPlugin *self)
{
  Im *im = im_host->get_data (self);
  if (im != NULL) {
    im_stop (self);
    im_free (im);
  }
  im_host->set_data (self, NULL);
}

CAIRN_PLUGIN_DEFINE (im, .id = IM_ID, .version = "0.1.0", .vendor = "Cairn",
                     .license = "Apache-2.0",
                     .description = "End-to-end encrypted instant messaging: "
                                    "registration, contacts and message "
                                    "records on chain, ciphertext in the "
                                    "blob store, fetched over P2P",
                     .kinds = CAIRN_KIND_APP, .init = im_init,
                     .start = im_start, .stop = im_stop, .fini = im_fini)

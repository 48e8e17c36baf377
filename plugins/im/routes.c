/* im: HTTP routes (README.md, "Reading" and "Messages"). Reads of the
 * chain are open (records hold ciphertext references, keys and
 * signatures only); POST /v1/im/registrations submits im.register on a
 * registrar node; POST /v1/im/messages checks a signed im.send against
 * this node's blob store before the client posts it to /v1/txs; GET
 * /v1/im/stream/{addr} (SDK 1.4) sends an inbox as server-sent events. */
#include <string.h>

#include "im.h"

#define MAX_LIST 1000
#define STREAM_BATCH 200
#define STREAM_PUMP_MS 20
#define PENDING_REG_MS (120 * 1000)

static gboolean
propagate (GError **error, GError **e)
{
  g_propagate_error (error, g_steal_pointer (e));
  return FALSE;
}

/* ?name=N as an unsigned integer in [min, max], or def when absent.
 * FALSE when present but not such a number. */
static gboolean
query_u64 (const CairnRequest *req, const char *name, guint64 def, guint64 min,
           guint64 max, guint64 *out)
{
  const char *v = g_hash_table_lookup (req->query, name);
  *out = def;
  return v == NULL || g_ascii_string_to_unsigned (v, 10, min, max, out, NULL);
}

/* The last seq of addr's inbox ("in") or outbox ("out"); 0 when empty. */
static uint64_t
box_count (Im *im, const char *addr, const char *box)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "seq/%s", addr);
  g_autoptr (json_t) c = im_get (im, NULL, k, NULL);
  json_int_t n = im_int (c, box);
  return n > 0 ? (uint64_t)n : 0;
}

/* The record seq of a box with its "seq", or NULL. */
static json_t *
box_record (Im *im, const char *box, const char *addr, uint64_t seq,
            GError **error)
{
  g_autofree char *k = im_box_key (box, addr, seq);
  json_t *rec = im_get (im, NULL, k, error);
  if (rec != NULL)
    json_object_set_new (rec, "seq", json_integer ((json_int_t)seq));
  return rec;
}

static const char *
name_of (Im *im, const char *addr, char *buf, size_t n)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "user/%s", addr);
  g_autoptr (json_t) cert = im_get (im, NULL, k, NULL);
  const char *name = im_str (cert, "name");
  g_strlcpy (buf, name ? name : "", n);
  return buf;
}

/* ---- GET /v1/im/users/{name-or-address} ------------------------------- */

typedef struct {
  json_t *out;
  size_t skip;
} KeysCtx;

/* "enc/<addr>/<version %06>" */
static gboolean
keys_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  KeysCtx *c = user_data;
  json_t *v = im_host->json_parse_canonical ((const char *)value, len, NULL);
  if (v == NULL)
    return TRUE;
  json_object_set_new (
      v, "version",
      json_integer ((json_int_t)g_ascii_strtoull (key + c->skip, NULL, 10)));
  json_array_append_new (c->out, v);
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
get_user (Im *im, const char *who, CairnResponse *resp, GError **error)
{
  char addr[41], k[IM_KEYBUF];
  g_autoptr (GError) e = NULL;
  if (im_host->address_valid (who)) {
    g_strlcpy (addr, who, sizeof addr);
  } else if (im_name_valid (who)) {
    g_snprintf (k, sizeof k, "name/%s", who);
    g_autoptr (json_t) owner = im_get (im, NULL, k, &e);
    if (e != NULL)
      return propagate (error, &e);
    if (owner == NULL)
      return cairn_reply_error (resp, 404, "not_found",
                                "no im user is named '%s'", who);
    g_strlcpy (addr, im_str (owner, "address"), sizeof addr);
  } else {
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is neither an address (40 lowercase hex) "
                              "nor a name (%d-%d of [a-z0-9_.-])",
                              who, IM_NAME_MIN, IM_NAME_MAX);
  }
  g_snprintf (k, sizeof k, "user/%s", addr);
  json_t *cert = im_get (im, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (cert == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "%s is not a registered im user", addr);
  g_snprintf (k, sizeof k, "enc/%s/", addr);
  KeysCtx c = { json_array (), strlen (k) };
  if (!im_host->state_iter (im->self, NULL, NULL, k, keys_cb, &c, &e)) {
    json_decref (c.out);
    json_decref (cert);
    return propagate (error, &e);
  }
  json_object_set_new (cert, "enc_keys", c.out);
  g_snprintf (k, sizeof k, "set/%s", addr);
  g_autoptr (json_t) set = im_get (im, NULL, k, NULL);
  json_object_set_new (
      cert, "allow_strangers",
      json_boolean (json_is_true (json_object_get (set, "allow_strangers"))));
  resp->json = cert;
  return TRUE;
}

/* ---- GET /v1/im/contacts/{addr} --------------------------------------- */

typedef struct {
  Im *im;
  json_t *out;
  size_t skip;
  const char *field; /* "address", "from", "to" */
} PairCtx;

/* "<prefix>/<addr>/<other>" -> {"<field>": other, "name", ...value} */
static gboolean
pair_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  PairCtx *c = user_data;
  const char *other = key + c->skip;
  json_t *v = im_host->json_parse_canonical ((const char *)value, len, NULL);
  if (v == NULL || !im_host->address_valid (other)) {
    json_decref (v);
    return TRUE;
  }
  char name[IM_NAME_MAX + 1];
  json_object_set_new (v, c->field, json_string (other));
  json_object_set_new (v, "name",
                       json_string (name_of (c->im, other, name, sizeof name)));
  json_array_append_new (c->out, v);
  return json_array_size (c->out) < MAX_LIST;
}

static gboolean
get_contacts (Im *im, const char *addr, CairnResponse *resp, GError **error)
{
  static const struct {
    const char *prefix, *out, *field;
  } lists[] = {
    { "c", "contacts", "address" },     { "req", "requests_in", "from" },
    { "reqout", "requests_out", "to" }, { "unreq", "unbind_in", "from" },
    { "unreqout", "unbind_out", "to" },
  };
  if (!im_host->address_valid (addr))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an address (40 lowercase hex)",
                              addr);
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) cert
      = im_user (im, NULL, "contacts", "user", addr, TRUE, &e);
  if (cert == NULL)
    return propagate (error, &e);
  g_autoptr (json_t) out
      = json_pack ("{s:s,s:s}", "address", addr, "name", im_str (cert, "name"));
  for (size_t i = 0; i < G_N_ELEMENTS (lists); i++) {
    char prefix[IM_KEYBUF];
    g_snprintf (prefix, sizeof prefix, "%s/%s/", lists[i].prefix, addr);
    PairCtx c = { im, json_array (), strlen (prefix), lists[i].field };
    if (!im_host->state_iter (im->self, NULL, NULL, prefix, pair_cb, &c, &e)) {
      json_decref (c.out);
      return propagate (error, &e);
    }
    json_object_set_new (out, lists[i].out, c.out);
  }
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "set/%s", addr);
  g_autoptr (json_t) set = im_get (im, NULL, k, NULL);
  json_object_set_new (
      out, "allow_strangers",
      json_boolean (json_is_true (json_object_get (set, "allow_strangers"))));
  resp->json = g_steal_pointer (&out);
  return TRUE;
}

/* ---- GET /v1/im/inbox/{addr}, /v1/im/outbox/{addr} -------------------- */

static gboolean
get_box (Im *im, const char *box, const char *addr, const CairnRequest *req,
         CairnResponse *resp, GError **error)
{
  guint64 after, limit;
  if (!im_host->address_valid (addr))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not an address (40 lowercase hex)",
                              addr);
  if (!query_u64 (req, "after", 0, 0, G_MAXINT64, &after)
      || !query_u64 (req, "limit", IM_PAGE_DEFAULT, 1, IM_PAGE_MAX, &limit))
    return cairn_reply_error (resp, 400, "invalid",
                              "?after=SEQ (>= 0) and ?limit=N (1..%d, default "
                              "%d)",
                              IM_PAGE_MAX, IM_PAGE_DEFAULT);
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) cert
      = im_user (im, NULL, strcmp (box, "in") == 0 ? "inbox" : "outbox", "user",
                 addr, TRUE, &e);
  if (cert == NULL)
    return propagate (error, &e);
  uint64_t last = box_count (im, addr, box);
  json_t *records = json_array ();
  for (uint64_t s = after + 1; s <= last && s <= after + limit; s++) {
    json_t *rec = box_record (im, box, addr, s, &e);
    if (rec == NULL) {
      json_decref (records);
      if (e == NULL)
        cairn_fail (&e, CAIRN_ERROR_CORRUPT,
                    "%sbox of %s: record %" G_GUINT64_FORMAT
                    " of %" G_GUINT64_FORMAT " is missing",
                    box, addr, s, last);
      return propagate (error, &e);
    }
    json_array_append_new (records, rec);
  }
  resp->json = json_pack ("{s:s,s:I,s:o}", "address", addr, "last",
                          (json_int_t)last, "records", records);
  return TRUE;
}

/* ---- GET /v1/im/content/{cid}?store=NODE ------------------------------ */

typedef struct {
  CairnPlugin *self;
  char *cid;
} Content;

static void
content_free (void *data)
{
  Content *c = data;
  g_free (c->cid);
  g_free (c);
}

/* On the main loop, once, for the bytes the core sends (ranges too). */
static GInputStream *
content_open (void *data, uint64_t offset, uint64_t length, GError **error)
{
  Content *c = data;
  return im_host->blob_open (c->self, c->cid, offset, length, error);
}

static gboolean
get_content (Im *im, const char *cid, const CairnRequest *req,
             CairnResponse *resp, GError **error)
{
  if (!cairn_cid_valid (cid))
    return cairn_reply_error (resp, 400, "invalid",
                              "'%s' is not a CIDv1 (base32)", cid);
  uint64_t size;
  g_autoptr (GError) e = NULL;
  if (im_host->blob_stat (im->self, cid, &size, &e)) {
    Content *c = g_new0 (Content, 1);
    c->self = im->self;
    c->cid = g_strdup (cid);
    resp->open_stream = content_open;
    resp->stream_data = c;
    resp->stream_free = content_free;
    resp->stream_size = size;
    resp->content_type = "application/octet-stream";
    return TRUE;
  }
  if (!g_error_matches (e, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
    return propagate (error, &e);
  g_clear_error (&e);
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "cid/%s", cid);
  g_autoptr (json_t) named = im_get (im, NULL, k, &e);
  if (e != NULL)
    return propagate (error, &e);
  if (named == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "this node does not hold %s, and no im message "
                              "names it",
                              cid);
  const char *store = g_hash_table_lookup (req->query, "store");
  if (store == NULL)
    return cairn_reply_error (resp, 404, "not_found",
                              "this node does not hold %s yet: add "
                              "?store=NODE (the message record's store) to "
                              "fetch it from there",
                              cid);
  if (!im_host->address_valid (store))
    return cairn_reply_error (resp, 400, "invalid",
                              "store '%s' is not a node address (40 lowercase "
                              "hex)",
                              store);
  if (strcmp (store, im->addr) == 0)
    return cairn_reply_error (resp, 404, "not_found",
                              "this node is the store of %s but its blob store "
                              "does not hold it",
                              cid);
  uint64_t have = 0, total = UINT64_MAX;
  if (!im_fetch (im, cid, store, &have, &total, &e))
    return cairn_reply_error (
        resp,
        g_error_matches (e, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND) ? 404 : 502,
        "fetch_failed", "%s", e->message);
  resp->status = 202;
  resp->json = json_pack (
      "{s:b,s:s,s:s,s:I,s:o}", "fetching", 1, "cid", cid, "store", store,
      "have", (json_int_t)have, "size",
      total == UINT64_MAX ? json_null () : json_integer ((json_int_t)total));
  return TRUE;
}

/* ---- POST /v1/im/registrations ---------------------------------------- */

static void
pending_purge (Im *im, int64_t now)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, im->pending_regs);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (*(int64_t *)value <= now)
      g_hash_table_iter_remove (&it);
}

static void
pending_add (Im *im, const char *key, int64_t until)
{
  int64_t *v = g_new (int64_t, 1);
  *v = until;
  g_hash_table_replace (im->pending_regs, g_strdup (key), v);
}

static gboolean
post_registration (Im *im, const CairnRequest *req, CairnResponse *resp,
                   GError **error)
{
  g_autoptr (GError) e = NULL;
  g_autofree char *role = im_registrar_role (im, NULL);
  if (!im_host->has_role (im->self, NULL, im->addr, role))
    return cairn_reply_error (resp, 403, "not_registrar",
                              "this node (%s) does not hold the role '%s': "
                              "post the registration to a registrar node",
                              im->addr, role);
  if (req->body == NULL)
    return cairn_reply_error (resp, 400, "invalid",
                              "the body must be {\"request\": {\"name\", "
                              "\"enc_pubkey\", \"profile\"?, \"timestamp\"}, "
                              "\"pubkey\", \"sig\"}");
  int64_t now = im_host->now_ms (im->self);
  if (!im_register_check_body (req->body, &e)
      || !im_register_check_state (im, NULL, req->body, now, im->skew_ms, &e))
    return propagate (error, &e);
  const char *name = im_str (json_object_get (req->body, "request"), "name");
  uint8_t pub[32];
  char addr[41], kname[IM_KEYBUF], kuser[IM_KEYBUF];
  cairn_hex_decode (im_str (req->body, "pubkey"), pub, 32);
  im_host->address_from_pubkey (pub, addr);
  g_snprintf (kname, sizeof kname, "name/%s", name);
  g_snprintf (kuser, sizeof kuser, "user/%s", addr);
  pending_purge (im, now);
  if (g_hash_table_contains (im->pending_regs, kname)
      || g_hash_table_contains (im->pending_regs, kuser))
    return cairn_reply_error (
        resp, 409, "conflict",
        "this node has submitted a registration of %s%s%s that has not "
        "committed yet",
        g_hash_table_contains (im->pending_regs, kname) ? "the name '"
                                                        : "account ",
        g_hash_table_contains (im->pending_regs, kname) ? name : addr,
        g_hash_table_contains (im->pending_regs, kname) ? "'" : "");
  g_autofree char *id = NULL;
  if (!im_host->submit_tx (im->self, "im.register", req->body, &id, &e)) {
    if (e->domain == CAIRN_ERROR)
      return propagate (error, &e);
    return cairn_reply_error (resp, 503, "not_submitted",
                              "the registration is valid, but this node could "
                              "not submit im.register now: %s",
                              e->message);
  }
  pending_add (im, kname, now + PENDING_REG_MS);
  pending_add (im, kuser, now + PENDING_REG_MS);
  cairn_log (im_host, im->self, G_LOG_LEVEL_INFO,
             "submitted the registration of '%s' (%s), tx %s", name, addr, id);
  resp->json
      = json_pack ("{s:s,s:s,s:s}", "tx", id, "address", addr, "name", name);
  return TRUE;
}

/* ---- POST /v1/im/messages --------------------------------------------- */

/* SHA-256 of a whole blob, lowercase hex (g_free). This reads the blob on
 * the main loop: a big attachment holds the node up while it is hashed
 * (about 1 s per GB here). Acceptable until the host can run plugin work
 * on a worker thread. */
static char *
blob_sha256 (Im *im, const char *cid, GError **error)
{
  g_autoptr (GInputStream) in
      = im_host->blob_open (im->self, cid, 0, UINT64_MAX, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (1 << 16);
  for (;;) {
    gssize n = g_input_stream_read (in, buf, 1 << 16, NULL, error);
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    g_checksum_update (sum, buf, (gsize)n);
  }
  return g_strdup (g_checksum_get_string (sum));
}

/* The signed tx envelope: shape, chain, key and signature, as /v1/txs
 * checks it (so a forged envelope is refused here too). */
static gboolean
tx_envelope_ok (Im *im, const json_t *tx, const json_t **body, GError **error)
{
  const char *what = "POST /v1/im/messages";
  const char *type, *from, *pubkey, *sig, *chain;
  json_int_t nonce;
  json_t *b;
  if (!cairn_unpack_strict (what, tx, error, "{s:o,s:s,s:s,s:I,s:s,s:s,s:s}",
                            "body", &b, "chain_id", &chain, "from", &from,
                            "nonce", &nonce, "pubkey", &pubkey, "sig", &sig,
                            "type", &type))
    return FALSE;
  if (strcmp (type, "im.send") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the tx is of type '%s'; this route takes im.send "
                       "(post other txs to /v1/txs)",
                       what, type);
  const char *chain_id = im_host->chain_head (im->self)->chain_id;
  if (g_strcmp0 (chain, chain_id) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the tx is for chain '%s', this node runs '%s'",
                       what, chain, chain_id);
  uint8_t pub[32], sg[64];
  char derived[41];
  if (!cairn_hex_lower_valid (pubkey, 32) || !cairn_hex_decode (pubkey, pub, 32)
      || !cairn_hex_lower_valid (sig, 64) || !cairn_hex_decode (sig, sg, 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: pubkey (64 hex) or sig (128 hex) is malformed",
                       what);
  im_host->address_from_pubkey (pub, derived);
  if (strcmp (derived, from) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: from %s is not the address of pubkey (%s)", what,
                       from, derived);
  g_autoptr (json_t) unsigned_tx = json_copy ((json_t *)tx);
  json_object_del (unsigned_tx, "sig");
  size_t len;
  g_autofree char *msg = im_host->json_canonical (unsigned_tx, &len, error);
  if (msg == NULL)
    return FALSE;
  if (!im_host->ed25519_verify (pub, IM_DOMAIN_TX, msg, len, sg))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the tx signature does not match (sign it as for "
                       "POST /v1/txs)",
                       what);
  *body = b;
  return TRUE;
}

static gboolean
post_message (Im *im, const CairnRequest *req, CairnResponse *resp,
              GError **error)
{
  g_autoptr (GError) e = NULL;
  const json_t *body = NULL;
  if (req->body == NULL)
    return cairn_reply_error (resp, 400, "invalid",
                              "the body must be a signed tx of type im.send, "
                              "as POST /v1/txs takes it");
  if (!tx_envelope_ok (im, req->body, &body, &e)
      || !im_send_check_body (body, &e))
    return propagate (error, &e);
  const char *store = im_str (body, "store");
  const char *cid = im_str (body, "cid");
  if (strcmp (store, im->addr) != 0)
    return cairn_reply_error (resp, 400, "wrong_store",
                              "the message names store %s, but this node is "
                              "%s: send it through the node that holds its "
                              "content",
                              store, im->addr);
  if (!im_send_check_state (im, NULL, im_str (req->body, "from"),
                            im_str (req->body, "pubkey"), body,
                            im_host->now_ms (im->self), &e))
    return propagate (error, &e);
  uint64_t size;
  if (!im_host->blob_stat (im->self, cid, &size, &e)) {
    if (!g_error_matches (e, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      return propagate (error, &e);
    return cairn_reply_error (resp, 400, "content_missing",
                              "this node's blob store does not hold %s: upload "
                              "the ciphertext first (POST /v1/blobs)",
                              cid);
  }
  if ((uint64_t)im_int (body, "size") != size)
    return cairn_reply_error (resp, 400, "content_mismatch",
                              "%s holds %" G_GUINT64_FORMAT
                              " bytes, the message says size "
                              "%" JSON_INTEGER_FORMAT,
                              cid, size, im_int (body, "size"));
  g_autofree char *sha = blob_sha256 (im, cid, &e);
  if (sha == NULL)
    return propagate (error, &e);
  if (strcmp (sha, im_str (body, "content_sha256")) != 0)
    return cairn_reply_error (resp, 400, "content_mismatch",
                              "the bytes of %s hash to %s, the message says "
                              "content_sha256 %s",
                              cid, sha, im_str (body, "content_sha256"));
  size_t len;
  g_autofree char *signed_text = im_host->json_canonical (req->body, &len, &e);
  if (signed_text == NULL)
    return propagate (error, &e);
  uint8_t id[32];
  im_host->sha256 (signed_text, len, id);
  g_autofree char *id_hex = cairn_hex_encode (id, 32);
  /* The host has no call that admits a tx signed by someone else, so the
   * client posts the same tx to /v1/txs next (README, "Messages"). */
  resp->json = json_pack ("{s:b,s:s,s:s,s:I,s:s}", "ok", 1, "tx", id_hex, "cid",
                          cid, "blob_size", (json_int_t)size, "next",
                          "POST the same tx to /v1/txs");
  return TRUE;
}

/* ---- GET /v1/im/stream/{addr}?after=SEQ (server-sent events) ---------- */

/* Each stream keeps the last seq it sent. Records after it come from the
 * state (the backlog, and any gap) in batches of STREAM_BATCH, the rest
 * from im.message events, which arrive in commit order: a record goes out
 * once, in order, whichever path brings it. */

struct ImStream {
  CairnStream *stream;
  char addr[41];
  uint64_t last;   /* the last seq sent */
  gboolean behind; /* records after last wait in the state */
  gboolean dead;   /* stream_send failed: closed follows */
  gboolean end;    /* to be closed by close_ended () */
};

/* Close the streams pump_one gave up on. After the loops over the lists,
 * in case the host runs closed (which frees the entry) right away. */
static void
close_ended (Im *im)
{
  g_autoptr (GPtrArray) ended = g_ptr_array_new ();
  for (guint i = 0; i < im->streams->len; i++) {
    ImStream *s = im->streams->pdata[i];
    if (s->end) {
      s->end = FALSE;
      g_ptr_array_add (ended, s->stream);
    }
  }
  for (guint i = 0; i < ended->len; i++)
    im_host->stream_close (ended->pdata[i]);
}

static gboolean pump_tick (CairnPlugin *self, void *user_data);

static void
pump_schedule (Im *im)
{
  if (im->pump_timer == 0)
    im->pump_timer
        = im_host->timer_add (im->self, STREAM_PUMP_MS, pump_tick, im);
}

/* Send up to STREAM_BATCH records after s->last from the state. */
static void
pump_one (Im *im, ImStream *s)
{
  uint64_t last = box_count (im, s->addr, "in");
  for (int i = 0; i < STREAM_BATCH && s->last < last; i++) {
    g_autoptr (GError) e = NULL;
    g_autoptr (json_t) rec = box_record (im, "in", s->addr, s->last + 1, &e);
    if (rec == NULL) {
      cairn_log (im_host, im->self, G_LOG_LEVEL_WARNING,
                 "stream of %s: inbox record %" G_GUINT64_FORMAT
                 " cannot be read (%s); ending the stream",
                 s->addr, s->last + 1, e ? e->message : "missing");
      s->dead = s->end = TRUE;
      return;
    }
    char id[24];
    g_snprintf (id, sizeof id, "%" G_GUINT64_FORMAT, s->last + 1);
    if (!im_host->stream_send (s->stream, "message", id, rec)) {
      s->dead = TRUE;
      return;
    }
    s->last++;
  }
  s->behind = s->last < last;
  if (s->behind)
    pump_schedule (im);
}

static gboolean
pump_tick (CairnPlugin *self, void *user_data)
{
  Im *im = user_data;
  gboolean more = FALSE;
  for (guint i = 0; i < im->streams->len; i++) {
    ImStream *s = im->streams->pdata[i];
    if (s->behind && !s->dead) {
      pump_one (im, s);
      more = more || (s->behind && !s->dead);
    }
  }
  if (!more)
    im->pump_timer = 0;
  close_ended (im);
  return more;
}

static void
on_message (CairnPlugin *self, const CairnEvent *ev, void *user_data)
{
  Im *im = user_data;
  const char *to = im_str (ev->attrs, "to");
  json_int_t seq = im_int (ev->attrs, "seq");
  GPtrArray *list = to ? g_hash_table_lookup (im->streams_by_addr, to) : NULL;
  if (list == NULL || seq < 1 || strcmp (ev->type, "im.message") != 0)
    return;
  char id[24];
  g_snprintf (id, sizeof id, "%" JSON_INTEGER_FORMAT, seq);
  for (guint i = 0; i < list->len; i++) {
    ImStream *s = list->pdata[i];
    if (s->dead || s->behind || (uint64_t)seq <= s->last)
      continue;
    if ((uint64_t)seq == s->last + 1) {
      if (im_host->stream_send (s->stream, "message", id, ev->attrs))
        s->last++;
      else
        s->dead = TRUE;
    } else {
      pump_one (im, s); /* a gap: the state has it */
    }
  }
  close_ended (im);
}

static void
stream_forget (Im *im, ImStream *s)
{
  GPtrArray *list = g_hash_table_lookup (im->streams_by_addr, s->addr);
  if (list != NULL) {
    g_ptr_array_remove (list, s);
    if (list->len == 0)
      g_hash_table_remove (im->streams_by_addr, s->addr);
  }
  g_ptr_array_remove (im->streams, s);
  g_free (s);
}

static gboolean
stream_open (CairnPlugin *self, const CairnRequest *req, CairnStream *stream,
             void *user_data, GError **error)
{
  Im *im = user_data;
  const char *addr = req->path_rest;
  guint64 after;
  if (!im_host->address_valid (addr))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "GET /v1/im/stream/{addr}: '%s' is not an address (40 "
                       "lowercase hex)",
                       addr);
  if (!query_u64 (req, "after", 0, 0, G_MAXINT64, &after))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "GET /v1/im/stream/%s: ?after=SEQ must be a seq (>= 0)",
                       addr);
  g_autoptr (json_t) cert
      = im_user (im, NULL, "GET /v1/im/stream", "user", addr, TRUE, error);
  if (cert == NULL)
    return FALSE;
  uint64_t last = box_count (im, addr, "in");
  if (after > last)
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "GET /v1/im/stream/%s: after=%" G_GUINT64_FORMAT
        " is past the last record of the inbox (%" G_GUINT64_FORMAT
        "): is this the same chain?",
        addr, after, last);
  ImStream *s = g_new0 (ImStream, 1);
  s->stream = stream;
  g_strlcpy (s->addr, addr, sizeof s->addr);
  s->last = after;
  GPtrArray *list = g_hash_table_lookup (im->streams_by_addr, addr);
  if (list == NULL) {
    list = g_ptr_array_new ();
    g_hash_table_insert (im->streams_by_addr, g_strdup (addr), list);
  }
  g_ptr_array_add (list, s);
  g_ptr_array_add (im->streams, s);
  pump_one (im, s);
  close_ended (im);
  im_metrics (im);
  return TRUE;
}

static void
stream_closed (CairnPlugin *self, CairnStream *stream, void *user_data)
{
  Im *im = user_data;
  for (guint i = 0; i < im->streams->len; i++) {
    ImStream *s = im->streams->pdata[i];
    if (s->stream == stream) {
      stream_forget (im, s);
      break;
    }
  }
  im_metrics (im);
}

gboolean
im_streams_start (Im *im, GError **error)
{
  im->sub_message = im_host->subscribe (im->self, "im.message", on_message, im);
  return TRUE;
}

void
im_streams_stop (Im *im)
{
  if (im->sub_message) {
    im_host->unsubscribe (im->self, im->sub_message);
    im->sub_message = 0;
  }
  if (im->pump_timer) {
    im_host->timer_remove (im->self, im->pump_timer);
    im->pump_timer = 0;
  }
}

/* fini: the core has closed every stream by now (HTTP stops first); free
 * what is left without calling the host. */
void
im_streams_free (Im *im)
{
  if (im->streams != NULL) {
    for (guint i = 0; i < im->streams->len; i++)
      g_free (im->streams->pdata[i]);
    g_ptr_array_unref (im->streams);
    im->streams = NULL;
  }
  g_clear_pointer (&im->streams_by_addr, g_hash_table_destroy);
}

/* ---- dispatch --------------------------------------------------------- */

typedef struct {
  uint64_t users, revoked, messages;
  GError *error;
} Stats;

static gboolean
count_user (const char *key, const uint8_t *value, size_t len, void *ud)
{
  Stats *st = ud;
  g_autoptr (json_t) u
      = im_host->json_parse_canonical ((const char *)value, len, &st->error);
  if (u == NULL)
    return FALSE;
  st->users++;
  if (json_is_true (json_object_get (u, "revoked")))
    st->revoked++;
  return TRUE;
}

static gboolean
count_messages (const char *key, const uint8_t *value, size_t len, void *ud)
{
  Stats *st = ud;
  g_autoptr (json_t) c
      = im_host->json_parse_canonical ((const char *)value, len, &st->error);
  if (c == NULL)
    return FALSE;
  st->messages += (uint64_t)MAX (0, im_int (c, "out"));
  return TRUE;
}

/* GET /v1/im/stats: {"stats":[{"name","value"}]}: registered and revoked
 * users, messages recorded, and this node's open streams and fetches. */
static gboolean
get_stats (Im *im, CairnResponse *resp, GError **error)
{
  Stats st = { 0 };
  if (!im_host->state_iter (im->self, NULL, NULL, "user/", count_user, &st,
                            error)
      || !im_host->state_iter (im->self, NULL, NULL, "seq/", count_messages,
                               &st, error)
      || st.error != NULL) {
    if (st.error)
      g_propagate_error (error, st.error);
    return FALSE;
  }
  resp->json = json_pack (
      "{s:[{s:s,s:I},{s:s,s:I},{s:s,s:I},{s:s,s:I},{s:s,s:I}]}", "stats",
      "name", "users", "value", (json_int_t)st.users, "name", "revoked users",
      "value", (json_int_t)st.revoked, "name", "messages recorded", "value",
      (json_int_t)st.messages, "name", "open streams on this node", "value",
      (json_int_t)im->streams->len, "name", "content fetches on this node",
      "value", (json_int_t)g_hash_table_size (im->fetches));
  return TRUE;
}

static gboolean
route_get (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *user_data, GError **error)
{
  Im *im = user_data;
  const char *rest = req->path_rest;
  if (strcmp (rest, "stats") == 0)
    return get_stats (im, resp, error);
  static const char *const one[]
      = { "users/", "contacts/", "inbox/", "outbox/", "content/" };
  for (size_t i = 0; i < G_N_ELEMENTS (one); i++) {
    if (!g_str_has_prefix (rest, one[i]))
      continue;
    const char *arg = rest + strlen (one[i]);
    if (*arg == '\0' || strchr (arg, '/') != NULL)
      break;
    switch (i) {
    case 0:
      return get_user (im, arg, resp, error);
    case 1:
      return get_contacts (im, arg, resp, error);
    case 2:
      return get_box (im, "in", arg, req, resp, error);
    case 3:
      return get_box (im, "out", arg, req, resp, error);
    default:
      return get_content (im, arg, req, resp, error);
    }
  }
  return cairn_reply_error (
      resp, 404, "not_found",
      "no route GET %s (im has users/{name-or-address}, contacts/{addr}, "
      "inbox/{addr}, outbox/{addr}, content/{cid}, stream/{addr})",
      req->path);
}

static gboolean
route_post (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  Im *im = user_data;
  if (strcmp (req->path_rest, "registrations") == 0)
    return post_registration (im, req, resp, error);
  if (strcmp (req->path_rest, "messages") == 0)
    return post_message (im, req, resp, error);
  return cairn_reply_error (resp, 404, "not_found",
                            "no route POST %s (im has POST "
                            "/v1/im/registrations and /v1/im/messages)",
                            req->path);
}

gboolean
im_register_routes (Im *im, GError **error)
{
  return im_host->register_route (im->self, "GET", "/v1/im/", route_get, im,
                                  error)
         && im_host->register_route (im->self, "POST", "/v1/im/", route_post,
                                     im, error)
         && im_host->register_stream_route (
             im->self, "/v1/im/stream/", stream_open, stream_closed, im, error);
}

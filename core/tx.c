/* The signed transaction envelope (see tx.h).
 *
 * Hot path (admission): the envelope read in place from its canonical
 * layout (cairn_tx_decode_layout; only the body goes through Jansson), a
 * copy of the input as `bytes`, field checks, two SHA-256 (id, address).
 * Anything else takes the full strict parse, which words the errors.
 * Verification never re-serialises: in canonical form the signed message is
 * `bytes` without its `,"sig":"<128 hex>"` member, which sits at a fixed
 * distance from the end (only "type" follows it). */
#include "tx.h"

#include "names.h"

#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"

/* A tx sits at depth 3 of a block ({"txs":[tx]}), so its body (depth 4) may
 * nest at most 64 - 3 levels for every block holding it to stay parseable. */
#define TX_BODY_MAX_DEPTH 61
#define TX_STACK_BYTES 4096

#define SIG_MEMBER_PREFIX ",\"sig\":\""   /* 8 bytes */
#define SIG_MEMBER_LEN (8 + 128 + 1)      /* ,"sig":"<128 hex>" */
#define TYPE_MEMBER_PREFIX ",\"type\":\"" /* 9 bytes */

GQuark
cairn_reject_quark (void)
{
  return g_quark_from_static_string ("cairn-reject-quark");
}

const char *
cairn_reject_name (int code)
{
  static const char *const names[] = {
    NULL,           "malformed",     "too_large",     "non_canonical",
    "wrong_chain",  "bad_signature", "nonce_too_low", "nonce_gap",
    "duplicate",    "mempool_full",  "unknown_type",  "invalid_body",
    "sender_limit",
  };
  if (code < 1 || code >= (int)G_N_ELEMENTS (names))
    return "unknown";
  return names[code];
}

/* Lowercase hex digits' values plus one; 0 for any other byte (an
 * uppercase digit too: a tx's hex is canonical). */
static const int8_t hex_lower_value[256] = {
  ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
  ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
  ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* The 2n lowercase hex digits of hex (whose length the caller checked)
 * into out, in one pass: every arriving tx's key and signature. */
static gboolean
hex_lower_decode (const char *hex, uint8_t *out, size_t n)
{
  unsigned bad = 0;
  for (size_t i = 0; i < n; i++) {
    int hi = hex_lower_value[(uint8_t)hex[2 * i]] - 1;
    int lo = hex_lower_value[(uint8_t)hex[2 * i + 1]] - 1;
    bad |= (unsigned)(hi | lo) >> 31;
    out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
  }
  return bad == 0;
}

/* "<plugin>.<name>" of [a-z0-9_.-]: a dot, neither first nor last. */
static gboolean
type_valid (const char *s)
{
  size_t n = 0;
  const char *dot = strchr (s, '.');

  for (; s[n] != '\0'; n++)
    if (!g_ascii_islower (s[n]) && !g_ascii_isdigit (s[n]) && s[n] != '_'
        && s[n] != '.' && s[n] != '-')
      return FALSE;
  return dot != NULL && dot != s && s[n - 1] != '.';
}

static gboolean
depth_exceeds (const json_t *value, int limit)
{
  json_t *v = (json_t *)value;
  const char *key;
  size_t i;
  json_t *item;

  if (!json_is_object (value) && !json_is_array (value))
    return FALSE;
  if (limit <= 0)
    return TRUE;
  if (json_is_array (value)) {
    json_array_foreach (v, i, item)
    {
      if (depth_exceeds (item, limit - 1))
        return TRUE;
    }
  } else {
    json_object_foreach (v, key, item)
    {
      if (depth_exceeds (item, limit - 1))
        return TRUE;
    }
  }
  return FALSE;
}

static const char *const tx_fields[] = {
  "body", "chain_id", "from", "nonce", "pubkey", "sig", "type",
};

static void
tx_free (CairnTx *tx)
{
  g_free (tx->chain_id);
  g_free (tx->type);
  if (tx->body != NULL)
    json_decref (tx->body);
  g_free (tx->bytes);
  g_free (tx);
}

static CairnTx *tx_build (const json_t *body, gboolean copy_body,
                          const char *cid, const char *type, const char *from,
                          gboolean nonce_ok, uint64_t nonce, const char *pubkey,
                          const char *sig, char *bytes, size_t len,
                          const char *chain_id, GError **error);

/* Field checks on a parsed tx whose canonical dump is `bytes` (taken).
 * copy_body: the object is the caller's, so the tx gets its own body. */
static CairnTx *
tx_from_parts (const json_t *obj, char *bytes, size_t len, gboolean copy_body,
               const char *chain_id, GError **error)
{
  json_t *o = (json_t *)obj;
  json_t *body, *nonce;
  const char *key, *cid, *type, *from, *pubkey, *sig;
  json_t *item;

  if (!json_is_object (obj)) {
    g_free (bytes);
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "tx: must be a JSON object");
    return NULL;
  }
  json_object_foreach (o, key, item)
  {
    gboolean known = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (tx_fields) && !known; i++)
      known = strcmp (key, tx_fields[i]) == 0;
    if (!known) {
      g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                   "tx: unknown field '%s'", key);
      g_free (bytes);
      return NULL;
    }
  }
  for (size_t i = 0; i < G_N_ELEMENTS (tx_fields); i++) {
    if (json_object_get (obj, tx_fields[i]) == NULL) {
      g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                   "tx: missing field '%s'", tx_fields[i]);
      g_free (bytes);
      return NULL;
    }
  }

  body = json_object_get (obj, "body");
  nonce = json_object_get (obj, "nonce");
  cid = json_string_value (json_object_get (obj, "chain_id"));
  type = json_string_value (json_object_get (obj, "type"));
  from = json_string_value (json_object_get (obj, "from"));
  pubkey = json_string_value (json_object_get (obj, "pubkey"));
  sig = json_string_value (json_object_get (obj, "sig"));
  gboolean nonce_ok
      = json_is_integer (nonce) && json_integer_value (nonce) >= 0;
  return tx_build (body, copy_body, cid, type, from, nonce_ok,
                   nonce_ok ? (uint64_t)json_integer_value (nonce) : 0, pubkey,
                   sig, bytes, len, chain_id, error);
}

/* The field checks (in this order: their errors are part of the API) and
 * the tx. bytes (its canonical form) is taken; body is copied or
 * referenced. */
static CairnTx *
tx_build (const json_t *body, gboolean copy_body, const char *cid,
          const char *type, const char *from, gboolean nonce_ok, uint64_t nonce,
          const char *pubkey, const char *sig, char *bytes, size_t len,
          const char *chain_id, GError **error)
{
  char addr[41];
  CairnTx *tx;

  tx = g_new0 (CairnTx, 1);
  tx->ref = 1;
  tx->bytes = bytes;
  tx->len = len;

#define FAIL(code, ...)                                                        \
  do {                                                                         \
    g_set_error (error, CAIRN_REJECT, code, __VA_ARGS__);                      \
    tx_free (tx);                                                              \
    return NULL;                                                               \
  } while (0)

  if (!json_is_object (body))
    FAIL (CAIRN_REJECT_MALFORMED, "body: must be a JSON object");
  if (depth_exceeds (body, TX_BODY_MAX_DEPTH))
    FAIL (CAIRN_REJECT_MALFORMED, "body: nested deeper than %d levels",
          TX_BODY_MAX_DEPTH);
  if (cid == NULL || !cairn_chain_id_valid (cid))
    FAIL (CAIRN_REJECT_MALFORMED,
          "chain_id: must be a string of 1 to 64 [A-Za-z0-9_.-]");
  if (chain_id != NULL && strcmp (cid, chain_id) != 0)
    FAIL (CAIRN_REJECT_WRONG_CHAIN,
          "chain_id: the tx is for chain '%s', not '%s'", cid, chain_id);
  if (type == NULL || !type_valid (type))
    FAIL (CAIRN_REJECT_MALFORMED,
          "type: must be a string \"<plugin>.<name>\" of [a-z0-9_.-]");
  if (!nonce_ok)
    FAIL (CAIRN_REJECT_MALFORMED, "nonce: must be a non-negative integer");
  if (pubkey == NULL || strlen (pubkey) != 64
      || !hex_lower_decode (pubkey, tx->pubkey, 32))
    FAIL (CAIRN_REJECT_MALFORMED,
          "pubkey: must be 64 lowercase hex characters");
  if (sig == NULL || strlen (sig) != 128
      || !hex_lower_decode (sig, tx->sig, 64))
    FAIL (CAIRN_REJECT_MALFORMED, "sig: must be 128 lowercase hex characters");
  if (!cairn_address_valid (from))
    FAIL (CAIRN_REJECT_MALFORMED,
          "from: must be an address (40 lowercase hex characters)");
  cairn_address_from_pubkey (tx->pubkey, addr);
  if (strcmp (addr, from) != 0)
    FAIL (CAIRN_REJECT_BAD_SIGNATURE,
          "from: %s is not the address of pubkey (%s)", from, addr);
#undef FAIL

  tx->chain_id = g_strdup (cid);
  tx->type = g_strdup (type);
  memcpy (tx->from, from, 41);
  tx->nonce = nonce;
  tx->body = copy_body ? json_deep_copy (body) : json_incref ((json_t *)body);
  cairn_sha256 (bytes, len, tx->id);
  cairn_hex_lower_into (tx->id, 32, tx->id_hex);
  return tx;
}

/* Copy the member `prefix` + `…"` at t[*pos] when its value holds only
 * printable ASCII without '"' or '\\' (as every valid value of these
 * members does) and fits out. */
static gboolean
layout_string (const char *t, size_t len, size_t *pos, const char *prefix,
               char *out, size_t cap)
{
  size_t p = strlen (prefix), start = *pos + p, end = start;
  if (len - *pos < p || memcmp (t + *pos, prefix, p) != 0)
    return FALSE;
  for (; end < len && t[end] != '"'; end++)
    if (t[end] < 0x20 || t[end] > 0x7e || t[end] == '\\')
      return FALSE;
  if (end >= len || end - start >= cap)
    return FALSE;
  memcpy (out, t + start, end - start);
  out[end - start] = '\0';
  *pos = end + 1;
  return TRUE;
}

CairnTx *
cairn_tx_decode_layout (const char *t, size_t len, const char *chain_id,
                        gboolean *laid_out, GError **error)
{
  static const char head[] = "{\"body\":", nonce_member[] = ",\"nonce\":";
  char cid[65], from[41], pubkey[65], sig[129], type[129];
  size_t b0 = sizeof head - 1, pos;
  uint64_t nonce = 0;

  *laid_out = FALSE;
  if (len > CAIRN_MAX_TX_BYTES || len <= b0 || memcmp (t, head, b0) != 0
      || t[b0] != '{')
    return NULL;
  size_t b1 = cairn_cjson_value_end (t, len, b0);
  pos = b1;
  if (!layout_string (t, len, &pos, ",\"chain_id\":\"", cid, sizeof cid)
      || !layout_string (t, len, &pos, ",\"from\":\"", from, sizeof from)
      || len - pos < sizeof nonce_member - 1
      || memcmp (t + pos, nonce_member, sizeof nonce_member - 1) != 0)
    return NULL;
  pos += sizeof nonce_member - 1;
  /* At most 18 digits, so below 2^63 without an overflow check. */
  size_t d0 = pos;
  for (; pos < len && g_ascii_isdigit (t[pos]) && pos - d0 < 18; pos++)
    nonce = nonce * 10 + (uint64_t)(t[pos] - '0');
  if (pos == d0 || (t[d0] == '0' && pos - d0 > 1)
      || (pos < len && g_ascii_isdigit (t[pos]))
      || !layout_string (t, len, &pos, ",\"pubkey\":\"", pubkey, sizeof pubkey)
      || !layout_string (t, len, &pos, ",\"sig\":\"", sig, sizeof sig)
      || !layout_string (t, len, &pos, ",\"type\":\"", type, sizeof type)
      || pos != len - 1 || t[pos] != '}')
    return NULL;
  /* The body's own text is canonical iff the whole tx's is. */
  g_autoptr (json_t) body = cairn_cjson_parse (t + b0, b1 - b0, TRUE, NULL);
  if (body == NULL)
    return NULL;
  *laid_out = TRUE;
  return tx_build (body, FALSE, cid, type, from, TRUE, nonce, pubkey, sig,
                   g_strndup (t, len), len, chain_id, error);
}

CairnTx *
cairn_tx_decode (const char *bytes, size_t len, const char *chain_id,
                 GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) obj = NULL;

  if (len > CAIRN_MAX_TX_BYTES) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_TOO_LARGE,
                 "tx: %zu bytes is over the limit of %d", len,
                 CAIRN_MAX_TX_BYTES);
    return NULL;
  }
  gboolean laid_out;
  CairnTx *tx = cairn_tx_decode_layout (bytes, len, chain_id, &laid_out, error);
  if (laid_out)
    return tx;
  obj = cairn_cjson_parse (bytes, len, TRUE, &err);
  if (obj == NULL) {
    /* Slow path only: tell "not strict JSON" from "not canonical". */
    g_autoptr (GError) strict = NULL;
    g_autoptr (json_t) any = cairn_cjson_parse (bytes, len, FALSE, &strict);
    if (any == NULL)
      g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED, "tx: %s",
                   strict->message);
    else
      g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_NON_CANONICAL, "tx: %s",
                   err->message);
    return NULL;
  }
  return tx_from_parts (obj, g_strndup (bytes, len), len, FALSE, chain_id,
                        error);
}

CairnTx *
cairn_tx_from_json (const json_t *obj, const char *chain_id, GError **error)
{
  g_autoptr (GError) err = NULL;
  size_t len;
  char *bytes;

  if (!json_is_object (obj)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "tx: must be a JSON object");
    return NULL;
  }
  bytes = cairn_cjson_dump (obj, &len, &err);
  if (bytes == NULL) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED, "tx: %s",
                 err->message);
    return NULL;
  }
  if (len > CAIRN_MAX_TX_BYTES) {
    g_free (bytes);
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_TOO_LARGE,
                 "tx: %zu bytes is over the limit of %d", len,
                 CAIRN_MAX_TX_BYTES);
    return NULL;
  }
  return tx_from_parts (obj, bytes, len, TRUE, chain_id, error);
}

gboolean
cairn_tx_verify (CairnTx *tx, GError **error)
{
  uint8_t stack[TX_STACK_BYTES];
  uint8_t *msg = stack;
  size_t tail, pos, mlen;
  gboolean ok;

  g_return_val_if_fail (tx != NULL, FALSE);

  if (g_atomic_int_get (&tx->sig_checked))
    return TRUE;
  /* bytes = <head>,"sig":"<hex>","type":"<type>"} ; signed = head + rest */
  tail = strlen (TYPE_MEMBER_PREFIX) + strlen (tx->type) + 2;
  if (tx->len < tail + SIG_MEMBER_LEN) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "tx %s: bytes are not a canonical signed tx", tx->id_hex);
    return FALSE;
  }
  pos = tx->len - tail - SIG_MEMBER_LEN;
  if (memcmp (tx->bytes + pos, SIG_MEMBER_PREFIX, 8) != 0
      || tx->bytes[pos + SIG_MEMBER_LEN - 1] != '"') {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "tx %s: bytes are not a canonical signed tx", tx->id_hex);
    return FALSE;
  }
  mlen = tx->len - SIG_MEMBER_LEN;
  if (mlen > sizeof stack)
    msg = g_malloc (mlen);
  memcpy (msg, tx->bytes, pos);
  memcpy (msg + pos, tx->bytes + pos + SIG_MEMBER_LEN, tail);
  ok = cairn_ed25519_verify (tx->pubkey, CAIRN_DOMAIN_TX, msg, mlen, tx->sig);
  if (msg != stack)
    g_free (msg);
  if (!ok) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE,
                 "sig: not a valid signature of tx %s by pubkey of %s",
                 tx->id_hex, tx->from);
    return FALSE;
  }
  g_atomic_int_set (&tx->sig_checked, TRUE);
  return TRUE;
}

CairnTx *
cairn_tx_sign (const CairnKey *key, const char *chain_id, const char *type,
               uint64_t nonce, const json_t *body, GError **error)
{
  g_autoptr (json_t) obj = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree char *pubhex = NULL;
  g_autofree char *unsigned_bytes = NULL;
  g_autofree char *sighex = NULL;
  size_t ulen;
  uint8_t sig[64];

  g_return_val_if_fail (key != NULL, NULL);

  if (nonce > (uint64_t)G_MAXINT64) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "nonce: %" G_GUINT64_FORMAT " is over the int64 range", nonce);
    return NULL;
  }
  if (!json_is_object (body)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "body: must be a JSON object");
    return NULL;
  }
  if (chain_id == NULL || !cairn_chain_id_valid (chain_id)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "chain_id: must be a string of 1 to 64 [A-Za-z0-9_.-]");
    return NULL;
  }
  if (type == NULL || !type_valid (type)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "type: must be a string \"<plugin>.<name>\" of [a-z0-9_.-]");
    return NULL;
  }
  pubhex = cairn_hex_encode (cairn_key_pubkey (key), 32);
  obj = json_object ();
  json_object_set_new (obj, "body", json_deep_copy (body));
  json_object_set_new (obj, "chain_id", json_string (chain_id));
  json_object_set_new (obj, "from", json_string (cairn_key_address (key)));
  json_object_set_new (obj, "nonce", json_integer ((json_int_t)nonce));
  json_object_set_new (obj, "pubkey", json_string (pubhex));
  json_object_set_new (obj, "type", json_string (type));
  unsigned_bytes = cairn_cjson_dump (obj, &ulen, &err);
  if (unsigned_bytes == NULL) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED, "tx: %s",
                 err->message);
    return NULL;
  }
  cairn_key_sign (key, CAIRN_DOMAIN_TX, unsigned_bytes, ulen, sig);
  sighex = cairn_hex_encode (sig, 64);
  json_object_set_new (obj, "sig", json_string (sighex));
  return cairn_tx_from_json (obj, NULL, error);
}

json_t *
cairn_tx_to_json (const CairnTx *tx)
{
  json_t *obj = json_object ();
  g_autofree char *pubhex = cairn_hex_encode (tx->pubkey, 32);
  g_autofree char *sighex = cairn_hex_encode (tx->sig, 64);

  json_object_set_new (obj, "body", json_deep_copy (tx->body));
  json_object_set_new (obj, "chain_id", json_string (tx->chain_id));
  json_object_set_new (obj, "from", json_string (tx->from));
  json_object_set_new (obj, "nonce", json_integer ((json_int_t)tx->nonce));
  json_object_set_new (obj, "pubkey", json_string (pubhex));
  json_object_set_new (obj, "sig", json_string (sighex));
  json_object_set_new (obj, "type", json_string (tx->type));
  return obj;
}

CairnTx *
cairn_tx_ref (CairnTx *tx)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_atomic_int_inc (&tx->ref);
  return tx;
}

void
cairn_tx_unref (CairnTx *tx)
{
  if (tx != NULL && g_atomic_int_dec_and_test (&tx->ref))
    tx_free (tx);
}

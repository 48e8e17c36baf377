/* The signed tx envelope: sign, decode, verify, and every refusal. */
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "fixed-key.h"
#include "tx.h"

/* A fixed key (Ed25519 signatures are deterministic: known answers). */
static CairnKey *key, *other;

static json_t *
transfer_body (void)
{
  return json_pack ("{s:s, s:I, s:s}", "to",
                    "66687aadf862bd776c8fc18b8e9f8e2008971485", "amount",
                    (json_int_t)250, "denom", "cairn");
}

static CairnTx *
sign_ok (const char *chain, const char *type, uint64_t nonce, json_t *body)
{
  g_autoptr (GError) error = NULL;
  CairnTx *tx = cairn_tx_sign (key, chain, type, nonce, body, &error);

  g_assert_no_error (error);
  g_assert_nonnull (tx);
  return tx;
}

static void
expect_reject (const char *bytes, size_t len, const char *chain, int code,
               const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTx) tx = cairn_tx_decode (bytes, len, chain, &error);

  if (tx != NULL)
    g_error ("decode of %.*s succeeded", (int)MIN (len, 300), bytes);
  g_assert_error (error, CAIRN_REJECT, code);
  if (strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

/* The tx's canonical object, changed by the caller, then decoded. */
static json_t *
tx_object (const CairnTx *tx)
{
  json_t *o = cairn_cjson_parse (tx->bytes, tx->len, TRUE, NULL);

  g_assert_nonnull (o);
  return o;
}

static void
expect_object_reject (json_t *o, const char *chain, int code, const char *want)
{
  size_t len;
  g_autofree char *bytes = cairn_cjson_dump (o, &len, NULL);

  g_assert_nonnull (bytes);
  expect_reject (bytes, len, chain, code, want);
}

static void
test_sign_decode_verify (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 7, body);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTx) back = NULL;
  g_autoptr (json_t) unsig = NULL;
  g_autofree char *pubhex = cairn_hex_encode (cairn_key_pubkey (key), 32);
  g_autofree char *unsig_bytes = NULL;
  uint8_t id[32];
  size_t ulen;

  /* Canonical, keys in order, id = SHA-256(bytes). */
  g_assert_true (g_str_has_prefix (
      tx->bytes, "{\"body\":{\"amount\":250,\"denom\":\"cairn\",\"to\":"));
  g_assert_nonnull (strstr (tx->bytes, "\"},\"chain_id\":\"dev\",\"from\":\""));
  g_assert_true (
      g_str_has_suffix (tx->bytes, "\",\"type\":\"bank.transfer\"}"));
  g_assert_cmpuint (strlen (tx->bytes), ==, tx->len);
  json_decref (tx_object (tx));
  cairn_sha256 (tx->bytes, tx->len, id);
  g_assert_cmpmem (id, 32, tx->id, 32);
  {
    g_autofree char *hex = cairn_hex_encode (id, 32);
    g_assert_cmpstr (hex, ==, tx->id_hex);
  }
  g_assert_cmpstr (tx->from, ==, cairn_key_address (key));
  g_assert_cmpuint (tx->nonce, ==, 7);
  g_assert_cmpstr (tx->type, ==, "bank.transfer");
  g_assert_cmpstr (tx->chain_id, ==, "dev");
  g_assert_true (json_equal (tx->body, body));

  /* Known answer: fixed key, deterministic Ed25519; derived independently
   * with `openssl pkeyutl -sign -rawin` over "cairn/tx/v1\0<unsigned>". */
  g_assert_cmpstr (tx->from, ==, "c3b3d6052b46d49cec9d36a169aa133827f40997");
  g_assert_cmpstr (
      tx->id_hex, ==,
      "a60a987d5d87799d4455c39ccf81ca47b16b23899d4db8b548080d38bc10d8bf");

  /* The signature covers the canonical object without "sig". */
  unsig = tx_object (tx);
  json_object_del (unsig, "sig");
  unsig_bytes = cairn_cjson_dump (unsig, &ulen, NULL);
  g_assert_true (cairn_ed25519_verify (tx->pubkey, CAIRN_DOMAIN_TX, unsig_bytes,
                                       ulen, tx->sig));

  back = cairn_tx_decode (tx->bytes, tx->len, "dev", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->id_hex, ==, tx->id_hex);
  g_assert_cmpmem (back->pubkey, 32, cairn_key_pubkey (key), 32);
  g_assert_cmpmem (back->sig, 64, tx->sig, 64);
  g_assert_false (back->sig_checked);
  g_assert_true (cairn_tx_verify (back, &error));
  g_assert_no_error (error);
  g_assert_true (back->sig_checked);
  g_assert_true (cairn_tx_verify (back, &error)); /* cached */
  g_assert_nonnull (strstr (tx->bytes, pubhex));

  /* No chain check when chain_id is NULL. */
  g_clear_pointer (&back, cairn_tx_unref);
  back = cairn_tx_decode (tx->bytes, tx->len, NULL, &error);
  g_assert_no_error (error);

  /* to_json gives the canonical object back. */
  {
    g_autoptr (json_t) j = cairn_tx_to_json (tx);
    g_autofree char *d = cairn_cjson_dump (j, NULL, NULL);
    g_assert_cmpstr (d, ==, tx->bytes);
  }
  /* ref/unref */
  g_assert_true (cairn_tx_ref (tx) == tx);
  g_assert_cmpint (tx->ref, ==, 2);
  cairn_tx_unref (tx);
}

static void
test_from_json (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  g_autoptr (json_t) o = tx_object (tx);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTx) back = cairn_tx_from_json (o, "dev", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (back->id_hex, ==, tx->id_hex);
  g_assert_cmpstr (back->bytes, ==, tx->bytes);
  g_assert_true (cairn_tx_verify (back, &error));
  /* The tx owns its body: changing the source changes nothing. */
  json_object_set_new (json_object_get (o, "body"), "amount", json_integer (1));
  g_assert_cmpint (json_integer_value (json_object_get (back->body, "amount")),
                   ==, 250);
  /* Reals and wrong chains are refused here too. */
  json_object_set_new (json_object_get (o, "body"), "amount", json_real (1.5));
  g_clear_pointer (&back, cairn_tx_unref);
  back = cairn_tx_from_json (o, "dev", &error);
  g_assert_null (back);
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
  g_assert_nonnull (strstr (error->message, "body.amount: real"));
  g_clear_error (&error);
  g_clear_pointer (&o, json_decref);
  o = tx_object (tx);
  g_assert_null (cairn_tx_from_json (o, "prod", &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_WRONG_CHAIN);
  g_clear_error (&error);
  g_assert_null (
      cairn_tx_from_json (json_object_get (o, "nonce"), NULL, &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
}

static void
test_wrong_chain (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  g_autoptr (json_t) o = tx_object (tx);

  expect_reject (tx->bytes, tx->len, "prod", CAIRN_REJECT_WRONG_CHAIN,
                 "chain_id: the tx is for chain 'dev', not 'prod'");
  json_object_set_new (o, "chain_id", json_string ("bad chain"));
  expect_object_reject (o, NULL, CAIRN_REJECT_MALFORMED, "chain_id: must be");
  json_object_set_new (o, "chain_id", json_integer (3));
  expect_object_reject (o, NULL, CAIRN_REJECT_MALFORMED, "chain_id: must be");
}

static void
test_bad_signature (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  g_autoptr (CairnTx) tx2 = sign_ok ("dev", "bank.transfer", 2, body);
  g_autoptr (json_t) o = tx_object (tx);
  g_autoptr (GError) error = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *flipped = g_strdup (tx->bytes);
  g_autofree char *sighex = cairn_hex_encode (tx2->sig, 64);
  char *p;
  size_t len;

  /* Another tx's signature: well formed, does not verify. */
  json_object_set_new (o, "sig", json_string (sighex));
  bytes = cairn_cjson_dump (o, &len, NULL);
  {
    g_autoptr (CairnTx) bad = cairn_tx_decode (bytes, len, "dev", &error);
    g_assert_no_error (error);
    g_assert_false (cairn_tx_verify (bad, &error));
    g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE);
    g_assert_nonnull (strstr (error->message, "sig: not a valid signature"));
    g_assert_false (bad->sig_checked);
    g_clear_error (&error);
  }
  /* One byte of the body changed (still canonical). */
  p = strstr (flipped, "\"cairn\"");
  g_assert_nonnull (p);
  p[1] = 'd';
  {
    g_autoptr (CairnTx) bad
        = cairn_tx_decode (flipped, strlen (flipped), "dev", &error);
    g_assert_no_error (error);
    g_assert_false (cairn_tx_verify (bad, &error));
    g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE);
    g_clear_error (&error);
  }
  /* One hex digit of the signature changed. */
  g_free (flipped);
  flipped = g_strdup (tx->bytes);
  p = strstr (flipped, "\"sig\":\"") + 7;
  *p = *p == '0' ? '1' : '0';
  {
    g_autoptr (CairnTx) bad
        = cairn_tx_decode (flipped, strlen (flipped), "dev", &error);
    g_assert_no_error (error);
    g_assert_false (cairn_tx_verify (bad, &error));
    g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE);
    g_clear_error (&error);
  }
  /* The nonce changed. */
  json_decref (o);
  o = tx_object (tx);
  json_object_set_new (o, "nonce", json_integer (2));
  g_free (bytes);
  bytes = cairn_cjson_dump (o, &len, NULL);
  {
    g_autoptr (CairnTx) bad = cairn_tx_decode (bytes, len, "dev", &error);
    g_assert_no_error (error);
    g_assert_false (cairn_tx_verify (bad, &error));
    g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE);
  }
}

static void
test_pubkey_from_mismatch (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  g_autoptr (json_t) o = tx_object (tx);
  g_autofree char *otherhex = cairn_hex_encode (cairn_key_pubkey (other), 32);

  json_object_set_new (o, "pubkey", json_string (otherhex));
  expect_object_reject (o, "dev", CAIRN_REJECT_BAD_SIGNATURE,
                        "from: c3b3d6052b46d49cec9d36a169aa133827f40997 is "
                        "not the address of pubkey");
  json_decref (o);
  o = tx_object (tx);
  json_object_set_new (o, "from", json_string (cairn_key_address (other)));
  expect_object_reject (o, "dev", CAIRN_REJECT_BAD_SIGNATURE, "from: ");
}

static void
test_missing_and_extra_fields (void)
{
  static const char *const fields[]
      = { "body", "chain_id", "from", "nonce", "pubkey", "sig", "type" };
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);

  for (size_t i = 0; i < G_N_ELEMENTS (fields); i++) {
    g_autoptr (json_t) o = tx_object (tx);
    g_autofree char *want
        = g_strdup_printf ("tx: missing field '%s'", fields[i]);
    json_object_del (o, fields[i]);
    expect_object_reject (o, "dev", CAIRN_REJECT_MALFORMED, want);
  }
  {
    g_autoptr (json_t) o = tx_object (tx);
    json_object_set_new (o, "memo", json_string ("hi"));
    expect_object_reject (o, "dev", CAIRN_REJECT_MALFORMED,
                          "tx: unknown field 'memo'");
  }
}

static void
test_field_rules (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  static const char *const bad_types[] = {
    "",
    "bank",
    ".transfer",
    "bank.",
    "Bank.transfer",
    "bank transfer",
    "bank/transfer",
    "bänk.x",
  };
  static const char *const good_types[]
      = { "bank.transfer", "a.b", "store-lmdb.put_x", "x.y.z-1" };
  json_t *o;

#define WITH(field, value, code, want)                                         \
  do {                                                                         \
    o = tx_object (tx);                                                        \
    json_object_set_new (o, field, value);                                     \
    expect_object_reject (o, "dev", code, want);                               \
    json_decref (o);                                                           \
  } while (0)

  WITH ("nonce", json_integer (-1), CAIRN_REJECT_MALFORMED,
        "nonce: must be a non-negative integer");
  WITH ("nonce", json_string ("1"), CAIRN_REJECT_MALFORMED, "nonce: ");
  WITH ("nonce", json_null (), CAIRN_REJECT_MALFORMED, "nonce: ");
  WITH ("body", json_array (), CAIRN_REJECT_MALFORMED,
        "body: must be a JSON object");
  WITH ("body", json_string ("x"), CAIRN_REJECT_MALFORMED, "body: ");
  WITH ("body", json_null (), CAIRN_REJECT_MALFORMED, "body: ");
  for (size_t i = 0; i < G_N_ELEMENTS (bad_types); i++)
    WITH ("type", json_string (bad_types[i]), CAIRN_REJECT_MALFORMED,
          "type: must be a string \"<plugin>.<name>\"");
  WITH ("type", json_integer (1), CAIRN_REJECT_MALFORMED, "type: ");
  WITH ("pubkey", json_string ("ABCD"), CAIRN_REJECT_MALFORMED,
        "pubkey: must be 64 lowercase hex");
  {
    g_autofree char *upper = cairn_hex_encode (tx->pubkey, 32);
    g_autofree char *u = g_ascii_strup (upper, -1);
    WITH ("pubkey", json_string (u), CAIRN_REJECT_MALFORMED, "pubkey: ");
  }
  WITH ("sig", json_string ("00"), CAIRN_REJECT_MALFORMED,
        "sig: must be 128 lowercase hex");
  {
    g_autofree char *s = cairn_hex_encode (tx->sig, 64);
    s[0] = 'g';
    WITH ("sig", json_string (s), CAIRN_REJECT_MALFORMED, "sig: ");
    /* Each position and each kind of non-digit byte, not only the first. */
    const char bad[] = { 'g', 'A', 'F', '/', ':', '`', ' ', 'G' };
    for (size_t k = 0; k < G_N_ELEMENTS (bad); k++) {
      g_autofree char *t = cairn_hex_encode (tx->sig, 64);
      t[(k * 37 + 127) % 128] = bad[k];
      WITH ("sig", json_string (t), CAIRN_REJECT_MALFORMED, "sig: ");
    }
  }
  WITH ("from", json_string ("nope"), CAIRN_REJECT_MALFORMED,
        "from: must be an address");
  WITH ("from", json_integer (5), CAIRN_REJECT_MALFORMED, "from: ");
#undef WITH

  for (size_t i = 0; i < G_N_ELEMENTS (good_types); i++) {
    g_autoptr (CairnTx) t = sign_ok ("dev", good_types[i], 0, body);
    g_autoptr (GError) error = NULL;
    g_assert_true (cairn_tx_verify (t, &error));
  }
  /* cairn_tx_sign applies the same rules. */
  for (size_t i = 0; i < G_N_ELEMENTS (bad_types); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_null (cairn_tx_sign (key, "dev", bad_types[i], 0, body, &error));
    g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
  }
}

static void
test_nonce_limits (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", G_MAXINT64, body);
  g_autoptr (CairnTx) back = NULL;
  g_autoptr (GError) error = NULL;

  back = cairn_tx_decode (tx->bytes, tx->len, "dev", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->nonce, ==, (uint64_t)G_MAXINT64);
  g_assert_true (cairn_tx_verify (back, &error));
  g_assert_null (cairn_tx_sign (key, "dev", "bank.transfer",
                                (uint64_t)G_MAXINT64 + 1, body, &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
  g_assert_nonnull (strstr (error->message, "nonce: "));
}

static void
test_size (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = json_object ();
  g_autoptr (CairnTx) probe = NULL;
  g_autoptr (CairnTx) exact = NULL;
  g_autoptr (CairnTx) back = NULL;
  g_autofree char *big = g_strnfill (CAIRN_MAX_TX_BYTES + 1, ' ');
  g_autofree char *memo = NULL;
  size_t overhead;

  /* Size is checked before anything else. */
  expect_reject (big, strlen (big), "dev", CAIRN_REJECT_TOO_LARGE,
                 "65537 bytes is over the limit of 65536");

  /* A tx of exactly CAIRN_MAX_TX_BYTES is fine (and verifies through the
   * heap path); one byte more is refused by sign and decode. */
  json_object_set_new (body, "memo", json_string (""));
  probe = sign_ok ("dev", "im.send", 0, body);
  overhead = probe->len;
  memo = g_strnfill (CAIRN_MAX_TX_BYTES - overhead, 'm');
  json_object_set_new (body, "memo", json_string (memo));
  exact = sign_ok ("dev", "im.send", 0, body);
  g_assert_cmpuint (exact->len, ==, CAIRN_MAX_TX_BYTES);
  back = cairn_tx_decode (exact->bytes, exact->len, "dev", &error);
  g_assert_no_error (error);
  g_assert_true (cairn_tx_verify (back, &error));
  g_assert_no_error (error);

  g_free (memo);
  memo = g_strnfill (CAIRN_MAX_TX_BYTES - overhead + 1, 'm');
  json_object_set_new (body, "memo", json_string (memo));
  g_assert_null (cairn_tx_sign (key, "dev", "im.send", 0, body, &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_TOO_LARGE);
}

static void
test_non_canonical_and_malformed (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 1, body);
  g_autoptr (json_t) o = tx_object (tx);
  g_autofree char *pretty = json_dumps (o, JSON_INDENT (2) | JSON_SORT_KEYS);
  g_autofree char *unsorted = json_dumps (o, JSON_COMPACT);
  g_autofree char *trailing = g_strconcat (tx->bytes, "\n", NULL);
  g_autofree char *escaped = g_strdup (tx->bytes);
  g_autofree char *real = NULL;
  char *p;

  expect_reject (pretty, strlen (pretty), "dev", CAIRN_REJECT_NON_CANONICAL,
                 "tx: not canonical JSON at byte 1");
  expect_reject (trailing, strlen (trailing), "dev", CAIRN_REJECT_NON_CANONICAL,
                 "not canonical");
  /* Jansson keeps insertion order without JSON_SORT_KEYS: reorder. */
  json_object_del (o, "body");
  json_object_set (o, "body", tx->body);
  g_free (unsorted);
  unsorted = json_dumps (o, JSON_COMPACT);
  expect_reject (unsorted, strlen (unsorted), "dev", CAIRN_REJECT_NON_CANONICAL,
                 "not canonical");
  /* "\u0063airn" for "cairn": same value, other spelling. */
  p = strstr (escaped, "\"cairn\"");
  {
    g_autofree char *head = g_strndup (escaped, p - escaped);
    g_autofree char *e = g_strconcat (head, "\"\\u0063airn\"", p + 7, NULL);
    expect_reject (e, strlen (e), "dev", CAIRN_REJECT_NON_CANONICAL,
                   "not canonical");
  }

  expect_reject ("", 0, "dev", CAIRN_REJECT_MALFORMED, "empty input");
  expect_reject ("{\"body\":", 8, "dev", CAIRN_REJECT_MALFORMED,
                 "tx: invalid JSON");
  expect_reject ("[1,2]", 5, "dev", CAIRN_REJECT_MALFORMED,
                 "tx: must be a JSON object");
  expect_reject ("\"x\"", 3, "dev", CAIRN_REJECT_MALFORMED,
                 "must be a JSON object");
  expect_reject ("{\"a\":1,\"a\":1}", 13, "dev", CAIRN_REJECT_MALFORMED,
                 "duplicate");
  /* A real number in the body: refused as malformed. */
  p = strstr (tx->bytes, "250");
  {
    g_autofree char *head = g_strndup (tx->bytes, p - tx->bytes);
    real = g_strconcat (head, "250.0", p + 3, NULL);
  }
  expect_reject (real, strlen (real), "dev", CAIRN_REJECT_MALFORMED,
                 "real number");
}

static json_t *
nested_body (int depth)
{
  json_t *v = json_object ();

  for (int i = 1; i < depth; i++)
    v = json_pack ("{s:o}", "n", v);
  return v;
}

static void
test_body_depth (void)
{
  g_autoptr (json_t) ok = nested_body (61);
  g_autoptr (json_t) deep = nested_body (62);
  g_autoptr (CairnTx) tx = sign_ok ("dev", "x.y", 0, ok);
  g_autoptr (GError) error = NULL;

  g_assert_true (cairn_tx_verify (tx, &error));
  g_assert_null (cairn_tx_sign (key, "dev", "x.y", 0, deep, &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
  g_assert_nonnull (strstr (error->message, "body: nested deeper than 61"));
}

typedef struct {
  CairnTx *tx;
  gboolean ok;
} VerifyJob;

static gpointer
verify_thread (gpointer data)
{
  VerifyJob *j = data;

  j->ok = TRUE;
  for (int i = 0; i < 50; i++) {
    g_autoptr (CairnTx) t
        = cairn_tx_decode (j->tx->bytes, j->tx->len, "dev", NULL);
    j->ok = j->ok && t != NULL && cairn_tx_verify (t, NULL)
            && cairn_tx_verify (j->tx, NULL);
  }
  return NULL;
}

static void
test_verify_threads (void)
{
  g_autoptr (json_t) body = transfer_body ();
  g_autoptr (CairnTx) tx = sign_ok ("dev", "bank.transfer", 3, body);
  VerifyJob jobs[3];
  GThread *t[3];

  for (int i = 0; i < 3; i++) {
    jobs[i] = (VerifyJob){ tx, FALSE };
    t[i] = g_thread_new ("verify", verify_thread, &jobs[i]);
  }
  for (int i = 0; i < 3; i++) {
    g_thread_join (t[i]);
    g_assert_true (jobs[i].ok);
  }
}

static void
test_reject_names (void)
{
  static const char *const names[] = {
    NULL,           "malformed",     "too_large",     "non_canonical",
    "wrong_chain",  "bad_signature", "nonce_too_low", "nonce_gap",
    "duplicate",    "mempool_full",  "unknown_type",  "invalid_body",
    "sender_limit",
  };

  g_assert_cmpint (CAIRN_REJECT_INVALID_BODY, ==, 11);
  g_assert_cmpint (CAIRN_REJECT_SENDER_LIMIT, ==, 12);
  for (int c = 1; c < (int)G_N_ELEMENTS (names); c++)
    g_assert_cmpstr (cairn_reject_name (c), ==, names[c]);
  g_assert_cmpstr (cairn_reject_name (0), ==, "unknown");
  g_assert_cmpstr (cairn_reject_name (13), ==, "unknown");
  g_assert_cmpstr (cairn_reject_name (-1), ==, "unknown");
  g_assert_cmpstr (g_quark_to_string (CAIRN_REJECT), ==, "cairn-reject-quark");
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  key = test_load_fixed_key ();
  other = cairn_key_generate (NULL);
  g_test_add_func ("/tx/sign-decode-verify", test_sign_decode_verify);
  g_test_add_func ("/tx/from-json", test_from_json);
  g_test_add_func ("/tx/wrong-chain", test_wrong_chain);
  g_test_add_func ("/tx/bad-signature", test_bad_signature);
  g_test_add_func ("/tx/pubkey-from-mismatch", test_pubkey_from_mismatch);
  g_test_add_func ("/tx/missing-and-extra-fields",
                   test_missing_and_extra_fields);
  g_test_add_func ("/tx/field-rules", test_field_rules);
  g_test_add_func ("/tx/nonce-limits", test_nonce_limits);
  g_test_add_func ("/tx/size", test_size);
  g_test_add_func ("/tx/non-canonical-and-malformed",
                   test_non_canonical_and_malformed);
  g_test_add_func ("/tx/body-depth", test_body_depth);
  g_test_add_func ("/tx/verify-threads", test_verify_threads);
  g_test_add_func ("/tx/reject-names", test_reject_names);
  rc = g_test_run ();
  cairn_key_free (key);
  cairn_key_free (other);
  return rc;
}

/* Blocks: assembly, encoding, hash, decoding and its checks. */
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "block.h"
#include "cjson.h"
#include "fixed-key.h"

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define ROOT1 "1111111111111111111111111111111111111111111111111111111111111111"
#define PREV1 "abababababababababababababababababababababababababababababababab"
#define PREV1_UPPER                                                            \
  "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"
#define ROOT_NOT_HEX                                                           \
  "zz11111111111111111111111111111111111111111111111111111111111111"

/* The fixed key (fixed-key.c): deterministic txs, pinned hashes. */
static CairnKey *key;
static CairnTx *txs[3];  /* chain "dev", nonces 0..2 */
static CairnTx *foreign; /* chain "prod" */

static CairnBlockData *
block_ok (uint64_t height, const char *prev, const char *proposer,
          const json_t *consensus, CairnTx **t, size_t n)
{
  g_autoptr (GError) error = NULL;
  CairnBlockData *b
      = cairn_block_new ("dev", height, prev, 1767225600000, proposer, ROOT1,
                         consensus, t, n, &error);

  g_assert_no_error (error);
  g_assert_nonnull (b);
  return b;
}

static CairnBlockData *
standard_block (void)
{
  g_autoptr (json_t) cons = json_pack ("{s:i}", "round", 3);
  CairnBlockData *b
      = block_ok (5, PREV1, cairn_key_address (key), cons, txs, 3);

  b->certificate = json_pack ("{s:[s]}", "votes", "v0");
  return b;
}

static void
assert_error_has (const GError *error, int code, const char *want)
{
  g_assert_error (error, CAIRN_ERROR, code);
  if (strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

static void
test_new (void)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  uint8_t ids[3][32], root[32], h[32];
  g_autofree char *root_hex = NULL;
  g_autofree char *dump = NULL;

  g_assert_cmpuint (b->height, ==, 5);
  g_assert_cmpint (b->time_ms, ==, 1767225600000);
  g_assert_cmpstr (b->chain_id, ==, "dev");
  g_assert_cmpstr (b->prev_hash, ==, PREV1);
  g_assert_cmpstr (b->proposer, ==, cairn_key_address (key));
  g_assert_cmpstr (b->state_root, ==, ROOT1);
  g_assert_cmpuint (b->txs->len, ==, 3);
  g_assert_true (b->txs->pdata[1] == txs[1]);
  g_assert_cmpint (txs[1]->ref, >=, 2);

  for (int i = 0; i < 3; i++)
    memcpy (ids[i], txs[i]->id, 32);
  cairn_merkle_root ((const uint8_t (*)[32])ids, 3, root);
  root_hex = cairn_hex_encode (root, 32);
  g_assert_cmpstr (b->tx_root, ==, root_hex);

  dump = cairn_cjson_dump (b->header, NULL, NULL);
  g_assert_cmpstr (dump, ==, b->header_bytes);
  g_assert_cmpuint (strlen (dump), ==, b->header_len);
  cairn_sha256 (b->header_bytes, b->header_len, h);
  g_assert_cmpmem (h, 32, b->hash, 32);
  {
    g_autofree char *hex = cairn_hex_encode (h, 32);
    g_assert_cmpstr (hex, ==, b->hash_hex);
  }
  g_assert_cmpint (json_integer_value (json_object_get (b->header, "tx_count")),
                   ==, 3);
  g_assert_cmpint (json_integer_value (json_object_get (
                       json_object_get (b->header, "consensus"), "round")),
                   ==, 3);
}

/* Concatenation == full canonical dump of the assembled object. */
static void
test_encode_is_canonical (void)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  g_autoptr (json_t) all = json_object ();
  g_autoptr (json_t) arr = json_array ();
  g_autoptr (GError) error = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *want_plain = NULL;
  g_autofree char *want_stored = NULL;
  size_t len = 0;

  for (int i = 0; i < 3; i++)
    json_array_append_new (arr, cairn_tx_to_json (txs[i]));
  json_object_set (all, "header", b->header);
  json_object_set (all, "txs", arr);
  want_plain = cairn_cjson_dump (all, NULL, NULL);
  json_object_set (all, "certificate", b->certificate);
  want_stored = cairn_cjson_dump (all, NULL, NULL);

  plain = cairn_block_encode (b, FALSE, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (plain, ==, want_plain);
  g_assert_cmpuint (len, ==, strlen (plain));
  stored = cairn_block_encode (b, TRUE, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored, ==, want_stored);
  g_assert_cmpuint (len, ==, strlen (stored));
  g_assert_true (g_str_has_prefix (stored, "{\"certificate\":{\"votes\":"));
  json_decref (cairn_cjson_parse (stored, len, TRUE, &error));
  g_assert_no_error (error);

  /* No certificate yet: only the plain form. */
  json_decref (b->certificate);
  b->certificate = NULL;
  g_assert_null (cairn_block_encode (b, TRUE, NULL, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "has no certificate");
}

static void
roundtrip (CairnBlockData *b, gboolean with_cert)
{
  g_autoptr (GError) error = NULL;
  size_t len = 0, len2 = 0;
  g_autofree char *bytes = cairn_block_encode (b, with_cert, &len, &error);
  g_autoptr (CairnBlockData) d = NULL;
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  d = cairn_block_decode (bytes, len, "dev", &error);
  g_assert_no_error (error);
  g_assert_nonnull (d);
  g_assert_cmpstr (d->hash_hex, ==, b->hash_hex);
  g_assert_cmpmem (d->hash, 32, b->hash, 32);
  g_assert_cmpstr (d->header_bytes, ==, b->header_bytes);
  g_assert_cmpuint (d->height, ==, b->height);
  g_assert_cmpint (d->time_ms, ==, b->time_ms);
  g_assert_cmpstr (d->chain_id, ==, b->chain_id);
  g_assert_cmpstr (d->prev_hash, ==, b->prev_hash);
  g_assert_cmpstr (d->proposer, ==, b->proposer);
  g_assert_cmpstr (d->state_root, ==, b->state_root);
  g_assert_cmpstr (d->tx_root, ==, b->tx_root);
  g_assert_cmpuint (d->txs->len, ==, b->txs->len);
  for (guint i = 0; i < d->txs->len; i++) {
    CairnTx *x = d->txs->pdata[i], *y = b->txs->pdata[i];
    g_assert_cmpstr (x->id_hex, ==, y->id_hex);
    g_assert_cmpstr (x->bytes, ==, y->bytes);
    g_assert_true (cairn_tx_verify (x, &error));
  }
  if (with_cert)
    g_assert_true (json_equal (d->certificate, b->certificate));
  else
    g_assert_null (d->certificate);
  again = cairn_block_encode (d, with_cert, &len2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len2, ==, len);
  g_assert_cmpstr (again, ==, bytes);
  /* No chain check with NULL. */
  cairn_block_unref (cairn_block_decode (bytes, len, NULL, &error));
  g_assert_no_error (error);
}

static void
test_roundtrip (void)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  g_autoptr (CairnBlockData) empty = block_ok (0, ZEROS, "", NULL, NULL, 0);

  roundtrip (b, FALSE);
  roundtrip (b, TRUE);
  empty->certificate = json_object ();
  roundtrip (empty, FALSE);
  roundtrip (empty, TRUE);
  g_assert_cmpstr (
      empty->tx_root, ==,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_assert_null (json_object_get (empty->header, "consensus"));
  g_assert_true (cairn_block_ref (b) == b);
  cairn_block_unref (b);
}

static void
test_hash_known_answers (void)
{
  g_autoptr (CairnBlockData) g = block_ok (0, ZEROS, "", NULL, NULL, 0);
  g_autoptr (CairnBlockData) a = standard_block ();
  g_autoptr (CairnBlockData) b = standard_block ();

  /* Genesis header, written out by hand; hash = sha256sum of that text. */
  g_assert_cmpstr (
      g->header_bytes, ==,
      "{\"chain_id\":\"dev\",\"height\":0,\"prev_hash\":\"" ZEROS
      "\",\"proposer\":\"\",\"state_root\":\"" ROOT1
      "\",\"time\":1767225600000,\"tx_count\":0,\"tx_root\":"
      "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}");
  g_assert_cmpstr (
      g->hash_hex, ==,
      "88797a56817a677a786fe0b8823dcd36d625fa6dfc16ec4afed6a4faae286740");

  /* Same inputs, same hash; pinned (fixed key, deterministic txs), and
   * derived independently with Python (json, hashlib, RFC 6962 recursion)
   * and `openssl pkeyutl -sign -rawin`. */
  g_assert_cmpstr (a->hash_hex, ==, b->hash_hex);
  g_assert_cmpstr (
      a->tx_root, ==,
      "9b058335098ad0f2b7f547bd1fa6200ec1ef33c8252b2c920ff2944e265a0abe");
  g_assert_cmpstr (
      a->hash_hex, ==,
      "80c68aa60bdf91eea1d0ef143f7833ca1b57454dc45c882813dc19ac89113265");
}

static void
test_new_refusals (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) list = json_array ();
  g_autoptr (json_t) real = json_pack ("{s:f}", "r", 0.5);
  CairnTx *mixed[2] = { txs[0], foreign };

#define REFUSED(call, want)                                                    \
  do {                                                                         \
    g_assert_null (call);                                                      \
    assert_error_has (error, CAIRN_ERROR_INVALID, want);                       \
    g_clear_error (&error);                                                    \
  } while (0)

  REFUSED (
      cairn_block_new ("dev", 0, PREV1, 1, "", ROOT1, NULL, NULL, 0, &error),
      "header.prev_hash: must be 64 zeros at height 0");
  REFUSED (
      cairn_block_new ("dev", 1, PREV1, 1, "", ROOT1, NULL, NULL, 0, &error),
      "header.proposer: may only be empty at height 0");
  REFUSED (
      cairn_block_new ("dev", 1, PREV1, 1, "xyz", ROOT1, NULL, NULL, 0, &error),
      "header.proposer: must be an address");
  REFUSED (cairn_block_new ("dev", 1, "ABAB", 1, cairn_key_address (key), ROOT1,
                            NULL, NULL, 0, &error),
           "header.prev_hash: must be 64 lowercase hex");
  REFUSED (cairn_block_new ("dev", 1, PREV1, 1, cairn_key_address (key), "nope",
                            NULL, NULL, 0, &error),
           "header.state_root: must be 64 lowercase hex");
  REFUSED (cairn_block_new ("dev", 1, PREV1, -1, cairn_key_address (key), ROOT1,
                            NULL, NULL, 0, &error),
           "header.time: must be a non-negative integer");
  REFUSED (cairn_block_new ("no chain!", 1, PREV1, 1, cairn_key_address (key),
                            ROOT1, NULL, NULL, 0, &error),
           "header.chain_id: must be");
  REFUSED (cairn_block_new ("dev", (uint64_t)G_MAXINT64 + 1, PREV1, 1,
                            cairn_key_address (key), ROOT1, NULL, NULL, 0,
                            &error),
           "header.height: 9223372036854775808 is over the int64 range");
  REFUSED (cairn_block_new ("dev", 1, PREV1, 1, cairn_key_address (key), ROOT1,
                            list, NULL, 0, &error),
           "header.consensus: must be an object");
  REFUSED (cairn_block_new ("dev", 1, PREV1, 1, cairn_key_address (key), ROOT1,
                            real, NULL, 0, &error),
           "real number");
  REFUSED (cairn_block_new ("dev", 1, PREV1, 1, cairn_key_address (key), ROOT1,
                            NULL, mixed, 2, &error),
           "txs[1].chain_id: the tx is for chain 'prod', not 'dev'");
#undef REFUSED
}

/* Decodes the stored form of the standard block after edit(). */
typedef void (*EditFn) (json_t *block);

static void
expect_decode_error (EditFn edit, int code, const char *want)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  g_autoptr (GError) error = NULL;
  size_t len;
  g_autofree char *bytes = cairn_block_encode (b, TRUE, &len, NULL);
  g_autoptr (json_t) o = cairn_cjson_parse (bytes, len, TRUE, NULL);
  g_autofree char *edited = NULL;

  edit (o);
  edited = cairn_cjson_dump (o, &len, NULL);
  g_assert_nonnull (edited);
  g_assert_null (cairn_block_decode (edited, len, "dev", &error));
  assert_error_has (error, code, want);
}

#define HEADER(o) json_object_get (o, "header")
#define EDIT(name, body)                                                       \
  static void name (json_t *o)                                                 \
  {                                                                            \
    body;                                                                      \
  }

EDIT (edit_root,
      json_object_set_new (HEADER (o), "tx_root", json_string (ROOT1)))
EDIT (edit_count,
      json_object_set_new (HEADER (o), "tx_count", json_integer (2)))
EDIT (edit_drop_tx, json_array_remove (json_object_get (o, "txs"), 2))
EDIT (edit_swap_txs, {
  json_t *t = json_object_get (o, "txs");
  json_t *first = json_incref (json_array_get (t, 0));
  json_array_remove (t, 0);
  json_array_append_new (t, first);
})
EDIT (edit_height_str,
      json_object_set_new (HEADER (o), "height", json_string ("5")))
EDIT (edit_height_neg,
      json_object_set_new (HEADER (o), "height", json_integer (-5)))
EDIT (edit_time_str,
      json_object_set_new (HEADER (o), "time", json_string ("now")))
EDIT (edit_time_neg,
      json_object_set_new (HEADER (o), "time", json_integer (-1)))
EDIT (edit_prev_upper,
      json_object_set_new (HEADER (o), "prev_hash", json_string (PREV1_UPPER)))
EDIT (edit_prev_short,
      json_object_set_new (HEADER (o), "prev_hash", json_string ("abab")))
EDIT (edit_state_root,
      json_object_set_new (HEADER (o), "state_root", json_integer (1)))
EDIT (edit_tx_root_hex,
      json_object_set_new (HEADER (o), "tx_root", json_string (ROOT_NOT_HEX)))
EDIT (edit_proposer,
      json_object_set_new (HEADER (o), "proposer", json_string ("somebody")))
EDIT (edit_unknown_header,
      json_object_set_new (HEADER (o), "extra", json_true ()))
EDIT (edit_missing_header_field, json_object_del (HEADER (o), "state_root"))
EDIT (edit_consensus,
      json_object_set_new (HEADER (o), "consensus", json_null ()))
EDIT (edit_chain,
      json_object_set_new (HEADER (o), "chain_id", json_string ("prod")))
EDIT (edit_header_type, json_object_set_new (o, "header", json_array ()))
EDIT (edit_no_header, json_object_del (o, "header"))
EDIT (edit_txs_type, json_object_set_new (o, "txs", json_object ()))
EDIT (edit_no_txs, json_object_del (o, "txs"))
EDIT (edit_cert_type, json_object_set_new (o, "certificate", json_string ("x")))
EDIT (edit_unknown_top, json_object_set_new (o, "results", json_array ()))
EDIT (edit_tx_missing_sig,
      json_object_del (json_array_get (json_object_get (o, "txs"), 1), "sig"))
EDIT (edit_tx_not_object,
      json_array_set_new (json_object_get (o, "txs"), 0, json_integer (1)))

static void
test_decode_checks (void)
{
  expect_decode_error (edit_root, CAIRN_ERROR_CORRUPT,
                       "header.tx_root: says " ROOT1
                       " but the Merkle root of the block's tx ids is");
  expect_decode_error (edit_count, CAIRN_ERROR_CORRUPT,
                       "header.tx_count: says 2 but the block holds 3 txs");
  expect_decode_error (edit_drop_tx, CAIRN_ERROR_CORRUPT,
                       "header.tx_count: says 3 but the block holds 2");
  expect_decode_error (edit_swap_txs, CAIRN_ERROR_CORRUPT, "header.tx_root");
  expect_decode_error (edit_height_str, CAIRN_ERROR_INVALID,
                       "header.height: must be a non-negative integer");
  expect_decode_error (edit_height_neg, CAIRN_ERROR_INVALID, "header.height: ");
  expect_decode_error (edit_time_str, CAIRN_ERROR_INVALID,
                       "header.time: must be a non-negative integer");
  expect_decode_error (edit_time_neg, CAIRN_ERROR_INVALID, "header.time: ");
  expect_decode_error (edit_prev_upper, CAIRN_ERROR_INVALID,
                       "header.prev_hash: must be 64 lowercase hex");
  expect_decode_error (edit_prev_short, CAIRN_ERROR_INVALID,
                       "header.prev_hash: ");
  expect_decode_error (edit_state_root, CAIRN_ERROR_INVALID,
                       "header.state_root: ");
  expect_decode_error (edit_tx_root_hex, CAIRN_ERROR_INVALID,
                       "header.tx_root: must be 64 lowercase hex");
  expect_decode_error (edit_proposer, CAIRN_ERROR_INVALID,
                       "header.proposer: must be an address");
  expect_decode_error (edit_unknown_header, CAIRN_ERROR_INVALID,
                       "header: unknown field 'extra'");
  expect_decode_error (edit_missing_header_field, CAIRN_ERROR_INVALID,
                       "header: missing field 'state_root'");
  expect_decode_error (edit_consensus, CAIRN_ERROR_INVALID,
                       "header.consensus: must be an object");
  expect_decode_error (edit_chain, CAIRN_ERROR_INVALID,
                       "header.chain_id: the block is for chain 'prod', not "
                       "'dev'");
  expect_decode_error (edit_header_type, CAIRN_ERROR_INVALID,
                       "header: must be a JSON object");
  expect_decode_error (edit_no_header, CAIRN_ERROR_INVALID,
                       "block: missing field 'header'");
  expect_decode_error (edit_txs_type, CAIRN_ERROR_INVALID,
                       "txs: must be an array");
  expect_decode_error (edit_no_txs, CAIRN_ERROR_INVALID,
                       "txs: must be an array");
  expect_decode_error (edit_cert_type, CAIRN_ERROR_INVALID,
                       "certificate: must be an object");
  expect_decode_error (edit_unknown_top, CAIRN_ERROR_INVALID,
                       "block: unknown field 'results'");
  expect_decode_error (edit_tx_missing_sig, CAIRN_ERROR_INVALID,
                       "txs[1]: tx: missing field 'sig'");
  expect_decode_error (edit_tx_not_object, CAIRN_ERROR_INVALID,
                       "txs[0]: tx: must be a JSON object");
}

static void
test_decode_foreign_tx (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  uint8_t root[32];
  g_autofree char *root_hex = NULL;

  /* A well-formed block (right root and count) holding a tx of another
   * chain, written by hand. */
  cairn_merkle_root ((const uint8_t (*)[32])foreign->id, 1, root);
  root_hex = cairn_hex_encode (root, 32);
  text = g_strdup_printf (
      "{\"header\":{\"chain_id\":\"dev\",\"height\":1,\"prev_hash\":\"" PREV1
      "\",\"proposer\":\"%s\",\"state_root\":\"" ROOT1
      "\",\"time\":1,\"tx_count\":1,\"tx_root\":\"%s\"},\"txs\":[%s]}",
      cairn_key_address (key), root_hex, foreign->bytes);
  g_assert_null (cairn_block_decode (text, strlen (text), "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID,
                    "txs[0]: chain_id: the tx is for chain 'prod', not 'dev'");
  g_clear_error (&error);
  /* The same with the header saying "prod": fine without a chain check,
   * refused against "dev". */
  {
    g_autofree char *prod = g_strdup_printf (
        "{\"header\":{\"chain_id\":\"prod\",\"height\":1,\"prev_hash\":"
        "\"" PREV1 "\",\"proposer\":\"%s\",\"state_root\":\"" ROOT1
        "\",\"time\":1,\"tx_count\":1,\"tx_root\":\"%s\"},\"txs\":[%s]}",
        cairn_key_address (key), root_hex, foreign->bytes);
    g_autoptr (CairnBlockData) d
        = cairn_block_decode (prod, strlen (prod), NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (d->chain_id, ==, "prod");
    g_assert_null (cairn_block_decode (prod, strlen (prod), "dev", &error));
    assert_error_has (error, CAIRN_ERROR_INVALID, "header.chain_id: ");
  }
}

static void
test_decode_no_signature_check (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnBlockData) b = NULL;
  g_autoptr (CairnBlockData) d = NULL;
  g_autoptr (CairnTx) bad = NULL;
  g_autofree char *forged = g_strdup (txs[0]->bytes);
  g_autofree char *bytes = NULL;
  char *p = strstr (forged, "\"sig\":\"") + 7;
  size_t len;
  CairnTx *one[1];

  *p = *p == '0' ? '1' : '0';
  bad = cairn_tx_decode (forged, strlen (forged), "dev", &error);
  g_assert_no_error (error);
  one[0] = bad;
  b = block_ok (1, PREV1, cairn_key_address (key), NULL, one, 1);
  bytes = cairn_block_encode (b, FALSE, &len, &error);
  d = cairn_block_decode (bytes, len, "dev", &error);
  g_assert_no_error (error);
  g_assert_false (cairn_tx_verify (d->txs->pdata[0], &error));
  g_assert_error (error, CAIRN_REJECT, CAIRN_REJECT_BAD_SIGNATURE);
}

static void
test_decode_non_canonical (void)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  g_autoptr (GError) error = NULL;
  size_t len;
  g_autofree char *bytes = cairn_block_encode (b, TRUE, &len, NULL);
  g_autoptr (json_t) o = cairn_cjson_parse (bytes, len, TRUE, NULL);
  g_autofree char *pretty = json_dumps (o, JSON_INDENT (1) | JSON_SORT_KEYS);
  g_autofree char *spaced = NULL;
  g_autofree char *unsorted_tx = NULL;
  json_t *t0 = json_array_get (json_object_get (o, "txs"), 0);
  char *p;

  g_assert_null (cairn_block_decode (pretty, strlen (pretty), "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID,
                    "block: not canonical JSON at byte 1");
  g_clear_error (&error);

  p = strstr (bytes, ",\"txs\":[");
  spaced
      = g_strdup_printf ("%.*s, \"txs\":[%s", (int)(p - bytes), bytes, p + 8);
  g_assert_null (cairn_block_decode (spaced, strlen (spaced), "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "not canonical JSON at byte");
  g_clear_error (&error);

  /* One tx with its keys out of order (Jansson keeps insertion order). */
  {
    json_t *body = json_incref (json_object_get (t0, "body"));
    json_object_del (t0, "body");
    json_object_set_new (t0, "body", body);
  }
  unsorted_tx = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  g_assert_null (
      cairn_block_decode (unsorted_tx, strlen (unsorted_tx), "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "not canonical");
  g_clear_error (&error);

  g_assert_null (cairn_block_decode ("", 0, "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "block: invalid JSON");
  g_clear_error (&error);
  g_assert_null (cairn_block_decode ("[]", 2, "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "block: must be a JSON object");
  g_clear_error (&error);
  g_assert_null (cairn_block_decode ("{\"header\":1.5}", 14, "dev", &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "real number");
}

/* Slicing a tx out of the stored bytes finds exactly its canonical bytes,
 * even when the certificate and header hold look-alike text. */
static void
test_tx_slice (void)
{
  g_autoptr (json_t) consensus
      = json_pack ("{s:s, s:[s]}", "note", "\"txs\":[ ] } ,", "x", "[{");
  g_autoptr (CairnBlockData) b
      = block_ok (1, PREV1, cairn_key_address (key), consensus, txs, 3);
  b->certificate = json_pack ("{s:s}", "sig", "\"txs\":[\"a\",\"b\"]");
  for (int with_cert = 0; with_cert < 2; with_cert++) {
    size_t len;
    g_autoptr (GError) error = NULL;
    g_autofree char *enc = cairn_block_encode (b, with_cert, &len, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < 3; i++) {
      size_t off, tlen;
      g_assert_true (cairn_block_tx_slice (enc, len, i, &off, &tlen));
      g_assert_cmpmem (enc + off, tlen, txs[i]->bytes, txs[i]->len);
    }
    size_t off, tlen;
    g_assert_false (cairn_block_tx_slice (enc, len, 3, &off, &tlen));
    g_assert_false (cairn_block_tx_slice (enc, len / 2, 2, &off, &tlen));
  }
  g_autoptr (CairnBlockData) empty
      = block_ok (1, PREV1, cairn_key_address (key), NULL, NULL, 0);
  size_t len, off, tlen;
  g_autofree char *enc = cairn_block_encode (empty, FALSE, &len, NULL);
  g_assert_false (cairn_block_tx_slice (enc, len, 0, &off, &tlen));
  g_assert_false (cairn_block_tx_slice ("{}", 2, 0, &off, &tlen));
}

/* The height is found in the header, not in the certificate or the
 * consensus field that precede or hold look-alike text. */
static void
test_peek_height (void)
{
  g_autoptr (json_t) consensus
      = json_pack ("{s:I, s:s}", "height", (json_int_t)99, "x", "\"height\":7");
  g_autoptr (CairnBlockData) b
      = block_ok (1, PREV1, cairn_key_address (key), consensus, txs, 2);
  b->certificate = json_pack ("{s:I}", "height", (json_int_t)42);
  for (int with_cert = 0; with_cert < 2; with_cert++) {
    size_t len;
    g_autofree char *enc = cairn_block_encode (b, with_cert, &len, NULL);
    uint64_t h = 0;
    g_assert_true (cairn_block_peek_height (enc, len, &h));
    g_assert_cmpuint (h, ==, 1);
    g_assert_false (cairn_block_peek_height (enc, 20, &h));
  }
  static const char *const bad[] = {
    "{}",
    "{\"header\":{}}",
    "{\"header\":{\"height\":-1}}",
    "{\"header\":{\"height\":01}}",
    "{\"header\":{\"height\":\"1\"}}",
    "{\"header\":{\"height\":99999999999999999999999}}",
    "{\"header\":{\"height\":10000000000000000000000000}}",
    "{\"x\":{\"height\":3}}",
    "[\"header\",{\"height\":3}]",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    uint64_t h;
    g_assert_false (cairn_block_peek_height (bad[i], strlen (bad[i]), &h));
  }
  uint64_t h;
  const char *max = "{\"header\":{\"height\":18446744073709551615}}";
  g_assert_true (cairn_block_peek_height (max, strlen (max), &h));
  g_assert_cmpuint (h, ==, G_MAXUINT64);
}

/* A lookup that knows txs[1] under its id, and answers a forged tx (other
 * bytes) for txs[2]'s id. */
static CairnTx *
lookup_known (const uint8_t id[32], gpointer data)
{
  if (memcmp (id, txs[1]->id, 32) == 0)
    return cairn_tx_ref (txs[1]);
  if (memcmp (id, txs[2]->id, 32) == 0)
    return cairn_tx_ref (txs[0]);
  return NULL;
}

static void
test_decode_known (void)
{
  g_autoptr (CairnBlockData) b = standard_block ();
  g_autoptr (GError) error = NULL;
  size_t len = 0;
  g_autofree char *bytes = cairn_block_encode (b, TRUE, &len, &error);
  g_assert_no_error (error);
  g_autoptr (CairnBlockData) d = cairn_block_decode_known (
      bytes, len, "dev", lookup_known, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d->txs->len, ==, 3);
  /* The known tx is taken as it is; the others are decoded (the forged
   * answer, whose bytes differ, is not used). */
  g_assert_true (d->txs->pdata[1] == txs[1]);
  g_assert_true (d->txs->pdata[0] != txs[0]);
  g_assert_true (d->txs->pdata[2] != txs[0] && d->txs->pdata[2] != txs[2]);
  g_assert_cmpstr (((CairnTx *)d->txs->pdata[2])->id_hex, ==, txs[2]->id_hex);
  g_assert_cmpstr (d->hash_hex, ==, b->hash_hex);
  /* A block for another chain is refused even when its txs are known. */
  g_autoptr (CairnBlockData) other = cairn_block_decode_known (
      bytes, len, "prod", lookup_known, NULL, &error);
  g_assert_null (other);
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  int rc;
  g_autoptr (json_t) body = NULL;

  g_test_init (&argc, &argv, NULL);
  key = test_load_fixed_key ();
  for (int i = 0; i < 3; i++) {
    g_autoptr (GError) error = NULL;
    body = json_pack ("{s:s, s:i}", "to",
                      "66687aadf862bd776c8fc18b8e9f8e2008971485", "amount",
                      10 * (i + 1));
    txs[i] = cairn_tx_sign (key, "dev", "bank.transfer", (uint64_t)i, body,
                            &error);
    g_assert_no_error (error);
    g_clear_pointer (&body, json_decref);
  }
  body = json_object ();
  foreign = cairn_tx_sign (key, "prod", "bank.transfer", 0, body, NULL);
  g_assert_nonnull (foreign);

  g_test_add_func ("/block/new", test_new);
  g_test_add_func ("/block/tx-slice", test_tx_slice);
  g_test_add_func ("/block/encode-is-canonical", test_encode_is_canonical);
  g_test_add_func ("/block/roundtrip", test_roundtrip);
  g_test_add_func ("/block/hash-known-answers", test_hash_known_answers);
  g_test_add_func ("/block/new-refusals", test_new_refusals);
  g_test_add_func ("/block/decode-checks", test_decode_checks);
  g_test_add_func ("/block/decode-foreign-tx", test_decode_foreign_tx);
  g_test_add_func ("/block/decode-no-signature-check",
                   test_decode_no_signature_check);
  g_test_add_func ("/block/decode-non-canonical", test_decode_non_canonical);
  g_test_add_func ("/block/peek-height", test_peek_height);
  g_test_add_func ("/block/decode-known", test_decode_known);
  rc = g_test_run ();

  for (int i = 0; i < 3; i++)
    cairn_tx_unref (txs[i]);
  cairn_tx_unref (foreign);
  cairn_key_free (key);
  return rc;
}

/* The HTTP API's request parsing (core/http_parse.c): POST /v1/txs bodies,
 * heights, /v1/state paths, Range headers. */
#include <string.h>

#include <cairn/error.h>
#include <cairn/interfaces.h>

#include "cjson.h"
#include "http_parse.h"

static CairnTx *
signed_tx (CairnKey *key, uint64_t nonce)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = json_pack ("{s:i}", "n", 1);
  CairnTx *tx
      = cairn_tx_sign (key, "dev", "bank.transfer", nonce, body, &error);
  g_assert_no_error (error);
  return tx;
}

static void
test_txs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = cairn_key_generate (&error);
  g_autoptr (CairnTx) t0 = signed_tx (key, 0);
  g_autoptr (CairnTx) t1 = signed_tx (key, 1);
  CairnTxBatch b;

  /* A lone tx: its exact bytes. */
  g_assert_true (cairn_http_parse_txs (t0->bytes, t0->len, "dev", &b, &error));
  g_assert_no_error (error);
  g_assert_true (b.single);
  g_assert_cmpuint (b.n, ==, 1);
  g_assert_nonnull (b.txs[0]);
  g_assert_cmpstr (b.txs[0]->id_hex, ==, t0->id_hex);
  cairn_tx_batch_clear (&b);
  g_assert_cmpuint (b.n, ==, 0);

  /* A batch: each element on its own. */
  g_autofree char *batch
      = g_strdup_printf ("[%s,%s,{\"x\":1}]", t0->bytes, t1->bytes);
  g_assert_true (
      cairn_http_parse_txs (batch, strlen (batch), "dev", &b, &error));
  g_assert_false (b.single);
  g_assert_cmpuint (b.n, ==, 3);
  g_assert_nonnull (b.txs[0]);
  g_assert_nonnull (b.txs[1]);
  g_assert_null (b.txs[2]);
  g_assert_error (b.errs[2], CAIRN_REJECT, CAIRN_REJECT_MALFORMED);
  cairn_tx_batch_clear (&b);

  /* Wrong chain: per tx. */
  g_assert_true (cairn_http_parse_txs (t0->bytes, t0->len, "prod", &b, &error));
  g_assert_error (b.errs[0], CAIRN_REJECT, CAIRN_REJECT_WRONG_CHAIN);
  cairn_tx_batch_clear (&b);

  /* The whole body unusable. */
  static const struct {
    const char *text;
    size_t len;
    int code;
  } bad[] = {
    { "", 0, CAIRN_REJECT_MALFORMED },
    { "[ ]", 3, CAIRN_REJECT_NON_CANONICAL },
    { "5", 1, CAIRN_REJECT_MALFORMED },
    { "[", 1, CAIRN_REJECT_MALFORMED },
    /* Only whitespace in the body's length, a '{' after it (found by
     * tests/fuzz/fuzz-http, tests/fuzz/regressions/http/): the byte past
     * the body is not read, so this is not taken for a lone tx. */
    { "  {", 2, CAIRN_REJECT_MALFORMED },
    { "\n", 1, CAIRN_REJECT_MALFORMED },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    g_assert_false (
        cairn_http_parse_txs (bad[i].text, bad[i].len, "dev", &b, &e));
    g_assert_error (e, CAIRN_REJECT, bad[i].code);
    g_assert_cmpuint (b.n, ==, 0);
    g_assert_null (b.txs);
  }
}

static void
test_paths (void)
{
  uint64_t h = 0;
  g_autofree char *ns = NULL;
  const char *key = NULL;

  g_assert_true (cairn_http_parse_height ("latest", &h));
  g_assert_cmpuint (h, ==, CAIRN_HEAD);
  g_assert_true (cairn_http_parse_height ("12", &h));
  g_assert_cmpuint (h, ==, 12);
  g_assert_true (cairn_http_parse_height ("9223372036854775807", &h));
  g_assert_false (cairn_http_parse_height ("9223372036854775808", &h));
  g_assert_false (cairn_http_parse_height ("-1", &h));
  g_assert_false (cairn_http_parse_height ("", &h));
  g_assert_false (cairn_http_parse_height (NULL, &h));

  g_assert_true (cairn_http_split_state_path ("bank/a/b", &ns, &key));
  g_assert_cmpstr (ns, ==, "bank");
  g_assert_cmpstr (key, ==, "a/b");
  static const char *const bad[] = { "bank", "bank/", "/key", "", "/" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    char *n = NULL;
    g_assert_false (cairn_http_split_state_path (bad[i], &n, &key));
    g_assert_null (n);
  }
}

static void
test_range (void)
{
  uint64_t off = 0, len = 0;

  g_assert_cmpint (cairn_http_parse_range (NULL, 1000, &off, &len), ==,
                   CAIRN_RANGE_NONE);
  g_assert_cmpint (cairn_http_parse_range ("items=0-1", 1000, &off, &len), ==,
                   CAIRN_RANGE_NONE);
  g_assert_cmpint (cairn_http_parse_range ("bytes=0-99", 1000, &off, &len), ==,
                   CAIRN_RANGE_OK);
  g_assert_cmpuint (off, ==, 0);
  g_assert_cmpuint (len, ==, 100);
  g_assert_cmpint (cairn_http_parse_range (" bytes=-5", 1000, &off, &len), ==,
                   CAIRN_RANGE_OK);
  g_assert_cmpuint (off, ==, 995);
  g_assert_cmpuint (len, ==, 5);
  g_assert_cmpint (cairn_http_parse_range ("bytes=990-, 0-1", 1000, &off, &len),
                   ==, CAIRN_RANGE_OK);
  g_assert_cmpuint (off, ==, 990);
  g_assert_cmpuint (len, ==, 10);
  g_assert_cmpint (cairn_http_parse_range ("bytes=1000-", 1000, &off, &len), ==,
                   CAIRN_RANGE_UNSAT);
  g_assert_cmpint (cairn_http_parse_range ("bytes=5-2", 1000, &off, &len), ==,
                   CAIRN_RANGE_NONE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/http-parse/txs", test_txs);
  g_test_add_func ("/http-parse/paths", test_paths);
  g_test_add_func ("/http-parse/range", test_range);
  return g_test_run ();
}

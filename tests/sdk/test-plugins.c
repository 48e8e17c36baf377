/* bank, solo and the hello example driven only through the SDK contract,
 * by the in-memory host of mock-host.c (no core code linked). */
#include <string.h>

#include "mock-host.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_bank (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_solo (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_hello (void);

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccc"
#define MAXAMT "9223372036854775807"

static const char genesis_bank[]
    = "{\"chain_id\":\"test\",\"genesis_time\":1,"
      "\"accounts\":[{\"address\":\"" A "\",\"balances\":{\"cairn\":1000,"
      "\"gold\":5}},{\"address\":\"" B "\",\"balances\":{\"cairn\":0}},"
      "{\"address\":\"" C "\"}],\"validators\":[]}";

static void
assert_state (MockNode *node, const char *key, const char *want)
{
  g_autofree char *v = mock_node_state (node, key);
  g_assert_cmpstr (v, ==, want);
}

static void
assert_error (GError *error, int code, const char *const *needles)
{
  g_assert_nonnull (error);
  if (!g_error_matches (error, CAIRN_ERROR, code))
    g_error ("expected %s, got %s: %s", cairn_error_code_name (code),
             cairn_error_code_name (error->code), error->message);
  for (; needles != NULL && *needles != NULL; needles++)
    if (strstr (error->message, *needles) == NULL)
      g_error ("'%s' not in error: %s", *needles, error->message);
}
#define ASSERT_ERROR(err, code, ...)                                           \
  assert_error (err, code, (const char *const[]){ __VA_ARGS__, NULL })

static void
assert_json (const json_t *got, const char *want_text)
{
  json_t *want = json_loads (want_text, 0, NULL);
  g_assert_nonnull (want);
  if (!json_equal ((json_t *)got, want)) {
    char *g = json_dumps (got, JSON_SORT_KEYS | JSON_COMPACT);
    g_error ("JSON differs:\n got  %s\n want %s", g, want_text);
  }
  json_decref (want);
}

/* ---- bank ---------------------------------------------------------------- */

static MockNode *
bank_node (const char *genesis, const char *config, CairnPlugin **bank)
{
  g_autoptr (GError) error = NULL;
  MockNode *node = mock_node_new (genesis, FALSE);
  CairnPlugin *p
      = mock_node_load (node, cairn_plugin_descriptor_bank, config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (p);
  if (bank != NULL)
    *bank = p;
  return node;
}

static void
test_bank_descriptor (void)
{
  const CairnPluginDescriptor *d = cairn_plugin_descriptor_bank ();
  g_assert_cmpstr (d->id, ==, "bank");
  g_assert_cmpuint (d->kinds, ==, CAIRN_KIND_APP);
  g_assert_cmpstr (d->provides[0].name, ==, CAIRN_BANK_SERVICE);
  g_assert_cmpuint (d->provides[0].version, ==, 1);
  g_assert_null (d->provides[1].name);
  g_assert_null (d->requires);
}

static void
test_bank_genesis (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = bank_node (genesis_bank, NULL, NULL);
  g_assert_true (mock_node_genesis (node, &error));
  g_assert_no_error (error);
  assert_state (node, "bank/bal/" A "/cairn", "1000");
  assert_state (node, "bank/bal/" A "/gold", "5");
  assert_state (node, "bank/bal/" B "/cairn", NULL); /* zero: not stored */
  assert_state (node, "bank/supply/cairn", "1000");
  assert_state (node, "bank/supply/gold", "5");
}

static void
genesis_fails (const char *genesis, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = bank_node (genesis, NULL, NULL);
  g_assert_false (mock_node_genesis (node, &error));
  ASSERT_ERROR (error, code, needle);
  assert_state (node, "bank/supply/cairn", NULL);
}

static void
test_bank_genesis_errors (void)
{
  genesis_fails ("{\"accounts\":[{\"address\":\"" A "\",\"balances\":"
                 "{\"Cairn\":1}}]}",
                 CAIRN_ERROR_INVALID, "accounts[0].balances.Cairn");
  genesis_fails ("{\"accounts\":[{\"address\":\"" A "\"},{\"address\":\"" B
                 "\",\"balances\":{\"cairn\":-1}}]}",
                 CAIRN_ERROR_INVALID, "accounts[1].balances.cairn");
  genesis_fails ("{\"accounts\":[{\"address\":\"" A "\",\"balances\":"
                 "{\"cairn\":\"1\"}}]}",
                 CAIRN_ERROR_INVALID, "non-negative integer");
  genesis_fails ("{\"accounts\":[{\"address\":\"" A
                 "\",\"balances\":{\"cairn\":" MAXAMT "}},{\"address\":\"" B
                 "\",\"balances\":{\"cairn\":1}}]}",
                 CAIRN_ERROR_OVERFLOW, "accounts[1].balances.cairn");
  genesis_fails ("{\"accounts\":[{\"address\":\"xyz\"}]}", CAIRN_ERROR_INVALID,
                 "accounts[0].address");
  genesis_fails ("{\"accounts\":[],\"app_state\":{\"bank\":{\"x\":1}}}",
                 CAIRN_ERROR_INVALID, "app_state.bank");
}

static void
test_bank_transfer_check (void)
{
  g_autoptr (MockNode) node = bank_node (genesis_bank, NULL, NULL);
  static const struct {
    const char *body;
    const char *needle; /* NULL: valid */
  } cases[] = {
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1}", NULL },
    { "{\"to\":\"" B "\",\"denom\":\"c0123456789abcde\",\"amount\":" MAXAMT "}",
      NULL },
    { "[]", "body must be an object" },
    { "{\"denom\":\"cairn\",\"amount\":1}", "body.to is missing" },
    { "{\"to\":\"" B "\",\"amount\":1}", "body.denom is missing" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\"}", "body.amount is missing" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1,\"memo\":\"x\"}",
      "body.memo: unknown field" },
    { "{\"to\":1,\"denom\":\"cairn\",\"amount\":1}", "body.to must be" },
    { "{\"to\":\"" B "\",\"denom\":1,\"amount\":1}", "body.denom must be" },
    { "{\"to\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\",\"denom\":"
      "\"cairn\","
      "\"amount\":1}",
      "body.to: 'BBBB" },
    { "{\"to\":\"" B "\",\"denom\":\"Cairn\",\"amount\":1}",
      "body.denom: 'Cairn'" },
    { "{\"to\":\"" B "\",\"denom\":\"c\",\"amount\":1}", "body.denom: 'c'" },
    { "{\"to\":\"" B "\",\"denom\":\"1cairn\",\"amount\":1}",
      "body.denom: '1cairn'" },
    { "{\"to\":\"" B "\",\"denom\":\"c0123456789abcdef\",\"amount\":1}",
      "body.denom" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":0}", "body.amount" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":-5}", "body.amount" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":\"5\"}",
      "body.amount" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gboolean ok
        = mock_node_check_tx (node, "bank.transfer", cases[i].body, &error);
    if (cases[i].needle == NULL) {
      g_assert_no_error (error);
      g_assert_true (ok);
    } else {
      g_assert_false (ok);
      ASSERT_ERROR (error, CAIRN_ERROR_INVALID, cases[i].needle);
    }
  }
}

static void
test_bank_transfer_apply (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = bank_node (genesis_bank, NULL, NULL);
  g_assert_true (mock_node_genesis (node, NULL));

  g_assert_true (mock_node_run_tx (
      node, "bank.transfer", A,
      "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":100}", &error));
  g_assert_no_error (error);
  assert_state (node, "bank/bal/" A "/cairn", "900");
  assert_state (node, "bank/bal/" B "/cairn", "100");
  assert_json (mock_node_last_events (node),
               "[{\"type\":\"bank.transfer\",\"attrs\":{\"from\":\"" A
               "\",\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":100}}]");

  /* Spending everything deletes the key. */
  g_assert_true (mock_node_run_tx (
      node, "bank.transfer", A,
      "{\"to\":\"" C "\",\"denom\":\"cairn\",\"amount\":900}", &error));
  assert_state (node, "bank/bal/" A "/cairn", NULL);
  assert_state (node, "bank/bal/" C "/cairn", "900");

  /* Insufficient: names the balance and the amount; nothing changes. */
  g_assert_false (mock_node_run_tx (
      node, "bank.transfer", B,
      "{\"to\":\"" A "\",\"denom\":\"cairn\",\"amount\":101}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, B, "100", "101",
                "cairn");
  g_clear_error (&error);
  assert_state (node, "bank/bal/" B "/cairn", "100");

  /* Unknown denom: balance 0. */
  g_assert_false (mock_node_run_tx (
      node, "bank.transfer", B,
      "{\"to\":\"" A "\",\"denom\":\"silver\",\"amount\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "has 0 silver");
  g_clear_error (&error);

  /* To oneself. */
  g_assert_false (mock_node_run_tx (
      node, "bank.transfer", B,
      "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "sender");
  g_clear_error (&error);

  /* Overflow at the receiver: checked before anything is written. */
  mock_node_state_set (node, "bank/bal/" A "/cairn", MAXAMT);
  g_assert_false (mock_node_run_tx (
      node, "bank.transfer", B,
      "{\"to\":\"" A "\",\"denom\":\"cairn\",\"amount\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_OVERFLOW, MAXAMT);
  g_clear_error (&error);
  assert_state (node, "bank/bal/" B "/cairn", "100");
  assert_state (node, "bank/bal/" A "/cairn", MAXAMT);

  /* A corrupt stored value is reported, not misread. */
  mock_node_state_set (node, "bank/bal/" B "/cairn", "0100");
  g_assert_false (mock_node_run_tx (
      node, "bank.transfer", B,
      "{\"to\":\"" C "\",\"denom\":\"cairn\",\"amount\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CORRUPT, "bal/" B "/cairn", "0100");
}

static void
test_bank_service (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node
      = bank_node (genesis_bank, "minters = mint; x\n", NULL);
  const CairnHost *host = mock_node_host (node);
  CairnPlugin *pos = mock_node_add_caller (node, "pos");
  CairnPlugin *mint = mock_node_add_caller (node, "mint");
  const CairnBankService *bank
      = host->lookup_service (pos, CAIRN_BANK_SERVICE, 1);
  uint64_t v = 42;
  g_assert_nonnull (bank);
  g_assert_cmpuint (bank->size, ==, sizeof (CairnBankService));
  g_assert_true (CAIRN_BANK_HAS (bank, locked));
  g_assert_true (mock_node_genesis (node, NULL));

  /* Reads without a tx see the committed head. */
  g_assert_true (bank->balance (pos, NULL, A, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 1000);
  g_assert_true (bank->balance (pos, NULL, B, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 0);
  g_assert_false (bank->balance (pos, NULL, "nope", "cairn", &v, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'nope'");
  g_clear_error (&error);

  /* Writes need a tx. */
  g_assert_false (bank->transfer (pos, NULL, A, B, "cairn", 1, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "tx context");
  g_clear_error (&error);

  CairnTxCtx *tx = mock_tx_begin (node, A, 1);
  g_assert_true (bank->transfer (pos, tx, A, B, "cairn", 10, &error));
  g_assert_no_error (error);
  /* Reads in the tx see its writes. */
  g_assert_true (bank->balance (pos, tx, B, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 10);
  g_assert_false (bank->transfer (pos, tx, A, B, "cairn", 0, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "greater than 0");
  g_clear_error (&error);
  g_assert_false (bank->transfer (pos, tx, A, B, "cairn",
                                  CAIRN_BANK_MAX_AMOUNT + 1, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_OVERFLOW, "9223372036854775808");
  g_clear_error (&error);
  g_assert_false (bank->transfer (pos, tx, A, A, "cairn", 1, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "same address");
  g_clear_error (&error);

  /* mint/burn: only for minters. */
  g_assert_false (bank->mint (pos, tx, C, "cairn", 5, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_UNAUTHORIZED, "'pos'", "minters");
  g_clear_error (&error);
  g_assert_false (bank->burn (pos, tx, A, "cairn", 5, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_UNAUTHORIZED, "'pos'");
  g_clear_error (&error);
  g_assert_true (bank->mint (mint, tx, C, "cairn", 50, &error));
  g_assert_true (bank->burn (mint, tx, A, "cairn", 40, &error));
  g_assert_false (bank->burn (mint, tx, B, "cairn", 11, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "has 10", "needs 11");
  g_clear_error (&error);
  g_assert_false (
      bank->mint (mint, tx, C, "cairn", CAIRN_BANK_MAX_AMOUNT, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_OVERFLOW, "supply/cairn");
  g_clear_error (&error);

  /* lock/unlock under the caller's id. */
  g_assert_true (bank->lock (pos, tx, A, "cairn", 300, &error));
  g_assert_true (bank->locked (pos, tx, A, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 300);
  g_assert_true (bank->locked (mint, tx, A, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 0);
  g_assert_true (bank->balance (pos, tx, A, "cairn", &v, &error));
  g_assert_cmpuint (v, ==, 1000 - 10 - 40 - 300);
  g_assert_false (bank->lock (pos, tx, A, "cairn", 651, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "has 650");
  g_clear_error (&error);
  g_assert_false (bank->unlock (mint, tx, A, "cairn", 1, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "locked by mint",
                "has 0");
  g_clear_error (&error);
  g_assert_false (bank->unlock (pos, tx, A, "cairn", 301, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "locked by pos",
                "has 300", "needs 301");
  g_clear_error (&error);
  g_assert_true (bank->unlock (pos, tx, A, "cairn", 100, &error));
  g_assert_true (bank->lock (mint, tx, A, "gold", 5, &error));
  g_assert_no_error (error);
  mock_tx_end (tx, TRUE);

  assert_state (node, "bank/bal/" A "/cairn", "750");
  assert_state (node, "bank/lock/pos/" A "/cairn", "200");
  assert_state (node, "bank/lock/mint/" A "/gold", "5");
  assert_state (node, "bank/bal/" A "/gold", NULL);
  assert_state (node, "bank/supply/cairn", "1010");
  assert_json (mock_node_last_events (node),
               "[{\"type\":\"bank.transfer\",\"attrs\":{\"from\":\"" A
               "\",\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":10,"
               "\"by\":\"pos\"}},"
               "{\"type\":\"bank.mint\",\"attrs\":{\"to\":\"" C
               "\",\"denom\":\"cairn\",\"amount\":50,\"by\":\"mint\"}},"
               "{\"type\":\"bank.burn\",\"attrs\":{\"from\":\"" A
               "\",\"denom\":\"cairn\",\"amount\":40,\"by\":\"mint\"}},"
               "{\"type\":\"bank.lock\",\"attrs\":{\"address\":\"" A
               "\",\"denom\":\"cairn\",\"amount\":300,\"holder\":\"pos\"}},"
               "{\"type\":\"bank.unlock\",\"attrs\":{\"address\":\"" A
               "\",\"denom\":\"cairn\",\"amount\":100,\"holder\":\"pos\"}},"
               "{\"type\":\"bank.lock\",\"attrs\":{\"address\":\"" A
               "\",\"denom\":\"gold\",\"amount\":5,\"holder\":\"mint\"}}]");

  /* Unlocking everything deletes the lock. */
  tx = mock_tx_begin (node, A, 2);
  g_assert_true (bank->unlock (pos, tx, A, "cairn", 200, &error));
  mock_tx_end (tx, TRUE);
  assert_state (node, "bank/lock/pos/" A "/cairn", NULL);
  assert_state (node, "bank/bal/" A "/cairn", "950");
}

static void
test_bank_routes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = bank_node (genesis_bank, NULL, NULL);
  const CairnHost *host = mock_node_host (node);
  CairnPlugin *pos = mock_node_add_caller (node, "pos");
  const CairnBankService *bank
      = host->lookup_service (pos, CAIRN_BANK_SERVICE, 1);
  g_assert_true (mock_node_genesis (node, NULL));
  CairnTxCtx *tx = mock_tx_begin (node, A, 1);
  g_assert_true (bank->lock (pos, tx, A, "cairn", 300, &error));
  mock_tx_end (tx, TRUE);

  json_t *j = mock_node_get (node, "/v1/bank/balances/" A, &error);
  g_assert_no_error (error);
  assert_json (j, "{\"address\":\"" A "\",\"balances\":{\"cairn\":700,"
                  "\"gold\":5},\"locked\":{\"pos\":{\"cairn\":300}}}");
  json_decref (j);
  j = mock_node_get (node, "/v1/bank/balances/" C, &error);
  assert_json (j, "{\"address\":\"" C "\",\"balances\":{},\"locked\":{}}");
  json_decref (j);
  g_assert_null (mock_node_get (node, "/v1/bank/balances/" C "/x", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "not an address");
  g_clear_error (&error);

  j = mock_node_get (node, "/v1/bank/supply/cairn", &error);
  assert_json (j, "{\"denom\":\"cairn\",\"supply\":1000}");
  json_decref (j);
  j = mock_node_get (node, "/v1/bank/supply/silver", &error);
  assert_json (j, "{\"denom\":\"silver\",\"supply\":0}");
  json_decref (j);
  j = mock_node_get (node, "/v1/bank/supply/", &error);
  assert_json (j, "{\"supply\":{\"cairn\":1000,\"gold\":5}}");
  json_decref (j);
  g_assert_null (mock_node_get (node, "/v1/bank/supply/X", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'X'");
}

static void
test_bank_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = mock_node_new (genesis_bank, FALSE);
  g_assert_null (mock_node_load (node, cairn_plugin_descriptor_bank,
                                 "minters = pos; Bad_Id\n", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, "[bank] minters", "'Bad_Id'");
  g_clear_error (&error);
  g_assert_null (mock_node_load (node, cairn_plugin_descriptor_bank,
                                 "mintres = pos\n", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, "mintres");
}

/* ---- solo ---------------------------------------------------------------- */

static const char genesis_solo[] = "{\"chain_id\":\"test\",\"accounts\":[],"
                                   "\"validators\":[]}";

static MockNode *
solo_node (const char *config, CairnPlugin **solo)
{
  g_autoptr (GError) error = NULL;
  MockNode *node = mock_node_new (genesis_solo, TRUE);
  *solo = mock_node_load (node, cairn_plugin_descriptor_solo, config, &error);
  g_assert_no_error (error);
  g_assert_true (mock_plugin_start (*solo, &error));
  g_assert_no_error (error);
  return node;
}

static gboolean
three_blocks (MockNode *node)
{
  return mock_node_n_blocks (node) >= 3;
}

static gboolean
one_block (MockNode *node)
{
  return mock_node_n_blocks (node) >= 1;
}

static gboolean
never (MockNode *node)
{
  return FALSE;
}

static void
test_solo_blocks (void)
{
  CairnPlugin *solo;
  g_autoptr (MockNode) node = solo_node (
      "batch_delay_ms = 1\nempty_block_interval_ms = 0\nmax_block_txs = 2\n",
      &solo);
  mock_node_set_mempool (node, 5);
  mock_node_txs_available (node);
  mock_node_txs_available (node); /* one pending build, not two */
  g_assert_true (mock_node_run_until (node, three_blocks, 5000));
  mock_node_run_until (node, never, 50);
  g_assert_cmpuint (mock_node_n_blocks (node), ==, 3);
  g_assert_cmpuint (mock_node_block_txs (node, 0), ==, 2);
  g_assert_cmpuint (mock_node_block_txs (node, 1), ==, 2);
  g_assert_cmpuint (mock_node_block_txs (node, 2), ==, 1);
  const json_t *cert = mock_node_block_cert (node, 0);
  g_assert_cmpstr (json_string_value (json_object_get (cert, "type")), ==,
                   "solo");
  g_assert_cmpstr (json_string_value (json_object_get (cert, "validator")), ==,
                   mock_node_address (node));
  g_assert_cmpstr (json_string_value (json_object_get (cert, "pubkey")), ==,
                   mock_node_pubkey_hex (node));
  g_assert_cmpuint (strlen (json_string_value (json_object_get (cert, "sig"))),
                    ==, 128);
  g_assert_cmpuint (json_object_size (cert), ==, 4);
  g_assert_cmpuint (mock_node_n_warnings (node), ==, 0);
  mock_plugin_stop (solo);
}

static void
test_solo_empty_blocks (void)
{
  CairnPlugin *solo;
  g_autoptr (MockNode) node
      = solo_node ("empty_block_interval_ms = 5\n", &solo);
  g_assert_true (mock_node_run_until (node, three_blocks, 5000));
  g_assert_cmpuint (mock_node_block_txs (node, 0), ==, 0);
  mock_plugin_stop (solo);
  /* Stopped: no timer left behind. */
  guint n = mock_node_n_blocks (node);
  mock_node_run_until (node, never, 30);
  g_assert_cmpuint (mock_node_n_blocks (node), ==, n);
}

static void
test_solo_no_empty_blocks (void)
{
  CairnPlugin *solo;
  g_autoptr (MockNode) node
      = solo_node ("empty_block_interval_ms = 0\n", &solo);
  mock_node_run_until (node, never, 50);
  g_assert_cmpuint (mock_node_n_blocks (node), ==, 0);
  mock_plugin_stop (solo);
}

static void
test_solo_build_failure (void)
{
  CairnPlugin *solo;
  g_autoptr (MockNode) node
      = solo_node ("empty_block_interval_ms = 0\nbatch_delay_ms = 0\n", &solo);
  mock_node_fail_next_build (node, "disk on fire");
  mock_node_set_mempool (node, 1);
  mock_node_txs_available (node);
  /* Logged, then retried after a back-off. */
  g_assert_true (mock_node_run_until (node, one_block, 5000));
  g_assert_cmpuint (mock_node_n_warnings (node), ==, 1);
  g_assert_cmpuint (mock_node_block_txs (node, 0), ==, 1);
  mock_plugin_stop (solo);
}

static void
test_solo_wrong_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) other = mock_node_new (genesis_solo, TRUE);
  g_autofree char *genesis = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      mock_node_address (other), mock_node_pubkey_hex (other));
  g_autoptr (MockNode) node = mock_node_new (genesis, FALSE);
  CairnPlugin *solo
      = mock_node_load (node, cairn_plugin_descriptor_solo, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (mock_plugin_start (solo, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, mock_node_address (node),
                mock_node_address (other));
}

static void
solo_init_fails (const char *genesis, const char *config, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = mock_node_new (genesis, FALSE);
  g_assert_null (
      mock_node_load (node, cairn_plugin_descriptor_solo, config, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, needle);
}

static void
test_solo_init_errors (void)
{
  g_autoptr (MockNode) n1 = mock_node_new (genesis_solo, TRUE);
  g_autoptr (MockNode) n2 = mock_node_new (genesis_solo, TRUE);
  g_autofree char *two = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"},"
      "{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      mock_node_address (n1), mock_node_pubkey_hex (n1), mock_node_address (n2),
      mock_node_pubkey_hex (n2));
  g_autofree char *mismatch = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      mock_node_address (n1), mock_node_pubkey_hex (n2));
  solo_init_fails (two, NULL, "found 2");
  solo_init_fails ("{\"validators\":[]}", NULL, "found 0");
  solo_init_fails ("{}", NULL, "exactly one");
  solo_init_fails (mismatch, NULL, mock_node_address (n2));
  solo_init_fails ("{\"validators\":[{\"address\":\"" A
                   "\",\"pubkey\":\"zz\"}]}",
                   NULL, "validators[0].pubkey");
  g_autofree char *one = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      mock_node_address (n1), mock_node_pubkey_hex (n1));
  solo_init_fails (one, "batch_delay_ms = -1\n", "batch_delay_ms");
  solo_init_fails (one, "empty_block_interval = 5\n", "empty_block_interval");
}

static json_t *
good_cert (MockNode *node, const char *hash_hex)
{
  uint8_t hash[32], sig[64];
  g_assert_true (cairn_hex_decode (hash_hex, hash, 32));
  mock_node_sign (node, "cairn/solo/v1", hash, 32, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  return json_pack ("{s:s,s:s,s:s,s:s}", "type", "solo", "validator",
                    mock_node_address (node), "pubkey",
                    mock_node_pubkey_hex (node), "sig", sig_hex);
}

static void
test_solo_verify (void)
{
  static const char hash[]
      = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  static const char other_hash[]
      = "10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  CairnPlugin *solo;
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node
      = solo_node ("empty_block_interval_ms = 0\n", &solo);
  g_autoptr (MockNode) stranger = mock_node_new (genesis_solo, FALSE);
  const char *me = mock_node_address (node);
  json_t *cert = good_cert (node, hash);
  g_assert_true (mock_node_verify (node, 7, hash, me, cert, &error));
  g_assert_no_error (error);

  /* The signature covers this block's hash only. */
  g_assert_false (mock_node_verify (node, 7, other_hash, me, cert, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "block 7", "'sig'");
  g_clear_error (&error);
  g_assert_false (mock_node_verify (node, 7, hash, A, cert, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "proposer");
  g_clear_error (&error);

  static const struct {
    const char *field;
    const char *value; /* NULL: delete the field */
  } cases[] = {
    { "type", "pos" },     { "type", NULL },   { "validator", A },
    { "validator", NULL }, { "pubkey", "00" }, { "pubkey", NULL },
    { "sig", "00" },       { "sig", NULL },    { "extra", "1" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    json_t *bad = json_deep_copy (cert);
    if (cases[i].value != NULL)
      json_object_set_new (bad, cases[i].field, json_string (cases[i].value));
    else
      json_object_del (bad, cases[i].field);
    g_autofree char *needle = g_strdup_printf ("'%s'", cases[i].field);
    g_assert_false (mock_node_verify (node, 7, hash, me, bad, &error));
    ASSERT_ERROR (error, CAIRN_ERROR_INVALID, needle);
    g_clear_error (&error);
    json_decref (bad);
  }

  /* Someone else's valid pubkey and signature. */
  json_t *forged = good_cert (stranger, hash);
  json_object_set_new (forged, "validator", json_string (me));
  g_assert_false (mock_node_verify (node, 7, hash, me, forged, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'pubkey'",
                mock_node_pubkey_hex (stranger));
  g_clear_error (&error);
  json_decref (forged);

  json_t *arr = json_array ();
  g_assert_false (mock_node_verify (node, 7, hash, me, arr, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "object");
  json_decref (arr);
  json_decref (cert);
  mock_plugin_stop (solo);
}

/* ---- hello (the out-of-tree example, linked statically) ------------------ */

static void
test_hello (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MockNode) node = mock_node_new (genesis_solo, FALSE);
  g_assert_nonnull (mock_node_load (node, cairn_plugin_descriptor_hello,
                                    "prefix = hey\n", &error));
  g_assert_no_error (error);

  g_assert_false (
      mock_node_check_tx (node, "hello.greet", "{\"greeting\":\"\"}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "0 characters");
  g_clear_error (&error);
  g_autofree char *long_body = g_strdup_printf ("{\"greeting\":\"%0141d\"}", 0);
  g_assert_false (mock_node_check_tx (node, "hello.greet", long_body, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "141 characters");
  g_clear_error (&error);
  /* 140 characters of two bytes each. */
  GString *wide = g_string_new ("{\"greeting\":\"");
  for (int i = 0; i < 140; i++)
    g_string_append (wide, "\xc3\xa9");
  g_string_append (wide, "\"}");
  g_assert_true (mock_node_check_tx (node, "hello.greet", wide->str, &error));
  g_assert_no_error (error);
  g_string_free (wide, TRUE);
  g_assert_false (mock_node_check_tx (node, "hello.greet",
                                      "{\"greeting\":\"hi\",\"x\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "unknown fields");
  g_clear_error (&error);
  g_assert_false (
      mock_node_check_tx (node, "hello.greet", "{\"greeting\":5}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "must be a string");
  g_clear_error (&error);

  g_assert_true (mock_node_run_tx (node, "hello.greet", A,
                                   "{\"greeting\":\"hi\"}", &error));
  g_assert_no_error (error);
  assert_state (node, "hello/greeting/" A,
                "{\"greeting\":\"hi\",\"height\":1}");
  assert_json (mock_node_last_events (node),
               "[{\"type\":\"hello.greeted\",\"attrs\":{\"sender\":\"" A
               "\",\"greeting\":\"hi\"}}]");
  json_t *j = mock_node_get (node, "/v1/hello/greetings/" A, &error);
  g_assert_no_error (error);
  assert_json (j, "{\"address\":\"" A "\",\"greeting\":\"hi\",\"height\":1,"
                  "\"text\":\"hey, hi\"}");
  json_decref (j);
  g_assert_null (mock_node_get (node, "/v1/hello/greetings/" B, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_NOT_FOUND, "no greeting from " B);
  g_clear_error (&error);
  g_assert_null (mock_node_get (node, "/v1/hello/greetings/zz", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'zz'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sdk/plugins/bank/descriptor", test_bank_descriptor);
  g_test_add_func ("/sdk/plugins/bank/genesis", test_bank_genesis);
  g_test_add_func ("/sdk/plugins/bank/genesis-errors",
                   test_bank_genesis_errors);
  g_test_add_func ("/sdk/plugins/bank/transfer-check",
                   test_bank_transfer_check);
  g_test_add_func ("/sdk/plugins/bank/transfer-apply",
                   test_bank_transfer_apply);
  g_test_add_func ("/sdk/plugins/bank/service", test_bank_service);
  g_test_add_func ("/sdk/plugins/bank/routes", test_bank_routes);
  g_test_add_func ("/sdk/plugins/bank/config", test_bank_config);
  g_test_add_func ("/sdk/plugins/solo/blocks", test_solo_blocks);
  g_test_add_func ("/sdk/plugins/solo/empty-blocks", test_solo_empty_blocks);
  g_test_add_func ("/sdk/plugins/solo/no-empty-blocks",
                   test_solo_no_empty_blocks);
  g_test_add_func ("/sdk/plugins/solo/build-failure", test_solo_build_failure);
  g_test_add_func ("/sdk/plugins/solo/wrong-key", test_solo_wrong_key);
  g_test_add_func ("/sdk/plugins/solo/init-errors", test_solo_init_errors);
  g_test_add_func ("/sdk/plugins/solo/verify", test_solo_verify);
  g_test_add_func ("/sdk/plugins/hello", test_hello);
  return g_test_run ();
}

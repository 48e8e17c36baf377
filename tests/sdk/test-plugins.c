/* bank, solo and the hello example driven only through the SDK contract,
 * on the SDK test library's mock host (<cairn/testing/mock_host.h>; no
 * core code linked). test-mock-host.c tests the mock host itself; this
 * file tests the plugins. */
#include <string.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_bank (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_solo (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_hello (void);

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccc"
#define MAXAMT "9223372036854775807"
#define SOLO_DOMAIN "cairn/solo/v1"

static const char genesis_bank[]
    = "{\"chain_id\":\"test\",\"genesis_time\":1,"
      "\"accounts\":[{\"address\":\"" A "\",\"balances\":{\"cairn\":1000,"
      "\"gold\":5}},{\"address\":\"" B "\",\"balances\":{\"cairn\":0}},"
      "{\"address\":\"" C "\"}],\"validators\":[]}";

/* ---- helpers -------------------------------------------------------------
 */

static void
assert_state (CairnTestHost *h, const char *key, const char *want)
{
  g_autofree char *v = cairn_test_host_state_string (h, key);
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
  g_autoptr (json_t) want = json_loads (want_text, 0, NULL);
  g_assert_nonnull (want);
  if (!json_equal ((json_t *)got, want)) {
    char *g
        = got != NULL ? json_dumps (got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    g_autofree char *copy = g_strdup (g != NULL ? g : "(null)");
    free (g);
    g_error ("JSON differs:\n got  %s\n want %s", copy, want_text);
  }
}

/* Events (a tx result's or the host's record) as [{"type","attrs"}]. */
static void
assert_events (const json_t *events, const char *want_text)
{
  g_autoptr (json_t) got = json_array ();
  size_t i;
  json_t *e;
  g_assert_true (json_is_array (events));
  json_array_foreach ((json_t *)events, i, e)
  {
    json_array_append_new (got, json_pack ("{s:O, s:O}", "type",
                                           json_object_get (e, "type"), "attrs",
                                           json_object_get (e, "attrs")));
  }
  assert_json (got, want_text);
}

/* Submits a tx in a block of its own; on success *events (may be NULL)
 * gets what it emitted (new ref). */
static gboolean
run_tx (CairnTestHost *h, const char *sender, const char *type,
        const char *body, json_t **events, GError **error)
{
  g_autoptr (json_t) r = NULL;
  gboolean ok = cairn_test_host_submit (h, sender, type, body, &r, error);
  g_assert_nonnull (r);
  g_assert_cmpint (json_is_true (json_object_get (r, "ok")), ==, ok);
  if (events != NULL)
    *events = ok ? json_incref (json_object_get (r, "events")) : NULL;
  return ok;
}

/* GET path, answered 200 with JSON (new ref). */
static json_t *
get_ok (CairnTestHost *h, const char *path)
{
  guint status = 0;
  json_t *j = NULL;
  g_assert_true (cairn_test_host_request (h, "GET", path, NULL, &status, &j));
  if (status != 200) {
    char *d = j != NULL ? json_dumps (j, JSON_COMPACT) : NULL;
    g_autofree char *copy = g_strdup (d != NULL ? d : "(no JSON)");
    free (d);
    g_error ("GET %s: status %u: %s", path, status, copy);
  }
  g_assert_nonnull (j);
  return j;
}

/* GET path, answered as the node answers the route's error: status, code
 * and a message containing needle. */
static void
get_fails (CairnTestHost *h, const char *path, guint want_status, int code,
           const char *needle)
{
  guint status = 0;
  g_autoptr (json_t) j = NULL;
  g_assert_true (cairn_test_host_request (h, "GET", path, NULL, &status, &j));
  g_assert_cmpuint (status, ==, want_status);
  const json_t *e = json_object_get (j, "error");
  g_assert_cmpstr (json_string_value (json_object_get (e, "code")), ==,
                   cairn_error_code_name (code));
  const char *message = json_string_value (json_object_get (e, "message"));
  g_assert_nonnull (message);
  if (strstr (message, needle) == NULL)
    g_error ("'%s' not in GET %s's error: %s", needle, path, message);
}

/* Lines the plugin logged at warning level or above. */
static guint
n_warnings (CairnTestPlugin *tp)
{
  const GPtrArray *log = cairn_test_plugin_log (tp);
  guint n = 0;
  for (guint i = 0; i < log->len; i++) {
    const char *line = log->pdata[i];
    if (g_str_has_prefix (line, "warning:")
        || g_str_has_prefix (line, "critical:")
        || g_str_has_prefix (line, "error:"))
      n++;
  }
  return n;
}

/* ---- bank ----------------------------------------------------------------
 */

/* A host with this genesis document and the bank loaded (not started). */
static CairnTestHost *
bank_host (const char *genesis, const char *const *config)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = cairn_test_host_new ();
  g_assert_true (cairn_test_host_set_genesis (h, genesis, &error));
  g_assert_no_error (error);
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_bank, config, &error));
  g_assert_no_error (error);
  return h;
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
  g_autoptr (CairnTestHost) h = bank_host (genesis_bank, NULL);
  g_assert_true (cairn_test_host_genesis (h, &error));
  g_assert_no_error (error);
  assert_state (h, "bank/bal/" A "/cairn", "1000");
  assert_state (h, "bank/bal/" A "/gold", "5");
  assert_state (h, "bank/bal/" B "/cairn", NULL); /* zero: not stored */
  assert_state (h, "bank/supply/cairn", "1000");
  assert_state (h, "bank/supply/gold", "5");
}

static void
genesis_fails (const char *genesis, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = bank_host (genesis, NULL);
  g_assert_false (cairn_test_host_genesis (h, &error));
  ASSERT_ERROR (error, code, needle);
  assert_state (h, "bank/supply/cairn", NULL);
  g_assert_null (cairn_test_host_block (h, 0)); /* no block 0 */
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
  g_autoptr (CairnTestHost) h = bank_host (genesis_bank, NULL);
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
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1,\"note\":\"x\"}",
      "body.note: unknown field" },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1,\"memo\":\"x\"}",
      NULL },
    { "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1,\"memo\":7}",
      "body.memo must be a string" },
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
        = cairn_test_host_check (h, "bank.transfer", cases[i].body, &error);
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
  g_autoptr (CairnTestHost) h = bank_host (genesis_bank, NULL);
  g_autoptr (json_t) events = NULL;
  g_assert_true (cairn_test_host_genesis (h, &error));

  g_assert_true (run_tx (h, A, "bank.transfer",
                         "{\"to\":\"" B
                         "\",\"denom\":\"cairn\",\"amount\":100}",
                         &events, &error));
  g_assert_no_error (error);
  assert_state (h, "bank/bal/" A "/cairn", "900");
  assert_state (h, "bank/bal/" B "/cairn", "100");
  assert_events (events,
                 "[{\"type\":\"bank.transfer\",\"attrs\":{\"from\":\"" A
                 "\",\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":100}}]");

  /* Spending everything deletes the key. */
  g_assert_true (run_tx (
      h, A, "bank.transfer",
      "{\"to\":\"" C "\",\"denom\":\"cairn\",\"amount\":900}", NULL, &error));
  assert_state (h, "bank/bal/" A "/cairn", NULL);
  assert_state (h, "bank/bal/" C "/cairn", "900");

  /* Insufficient: names the balance and the amount; nothing changes. */
  g_assert_false (run_tx (
      h, B, "bank.transfer",
      "{\"to\":\"" A "\",\"denom\":\"cairn\",\"amount\":101}", NULL, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, B, "100", "101",
                "cairn");
  g_clear_error (&error);
  assert_state (h, "bank/bal/" B "/cairn", "100");

  /* Unknown denom: balance 0. */
  g_assert_false (run_tx (
      h, B, "bank.transfer",
      "{\"to\":\"" A "\",\"denom\":\"silver\",\"amount\":1}", NULL, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INSUFFICIENT_FUNDS, "has 0 silver");
  g_clear_error (&error);

  /* To oneself. */
  g_assert_false (run_tx (h, B, "bank.transfer",
                          "{\"to\":\"" B "\",\"denom\":\"cairn\",\"amount\":1}",
                          NULL, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "sender");
  g_clear_error (&error);

  /* Overflow at the receiver: checked before anything is written. */
  cairn_test_host_state_set (h, "bank/bal/" A "/cairn", MAXAMT,
                             strlen (MAXAMT));
  g_assert_false (run_tx (h, B, "bank.transfer",
                          "{\"to\":\"" A "\",\"denom\":\"cairn\",\"amount\":1}",
                          NULL, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_OVERFLOW, MAXAMT);
  g_clear_error (&error);
  assert_state (h, "bank/bal/" B "/cairn", "100");
  assert_state (h, "bank/bal/" A "/cairn", MAXAMT);

  /* A corrupt stored value is reported, not misread. */
  cairn_test_host_state_set (h, "bank/bal/" B "/cairn", "0100", 4);
  g_assert_false (run_tx (h, B, "bank.transfer",
                          "{\"to\":\"" C "\",\"denom\":\"cairn\",\"amount\":1}",
                          NULL, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CORRUPT, "bal/" B "/cairn", "0100");
}

static void
test_bank_service (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = bank_host (
      genesis_bank, (const char *const[]){ "minters", "mint; x", NULL });
  const CairnHost *host = cairn_test_host_mock_table ();
  CairnPlugin *pos
      = cairn_test_plugin_self (cairn_test_host_add_caller (h, "pos"));
  CairnPlugin *mint
      = cairn_test_plugin_self (cairn_test_host_add_caller (h, "mint"));
  const CairnBankService *bank
      = host->lookup_service (pos, CAIRN_BANK_SERVICE, 1);
  uint64_t v = 42;
  g_assert_nonnull (bank);
  g_assert_cmpuint (bank->size, ==, sizeof (CairnBankService));
  g_assert_true (CAIRN_BANK_HAS (bank, locked));
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);

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

  cairn_test_host_clear_events (h);
  CairnTxCtx *tx = cairn_test_host_tx_begin (h, A);
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
  /* Nothing is committed before the tx (and its block) ends. */
  assert_state (h, "bank/bal/" A "/cairn", "1000");
  g_assert_true (cairn_test_host_tx_end (tx, TRUE, &error));
  g_assert_no_error (error);

  assert_state (h, "bank/bal/" A "/cairn", "750");
  assert_state (h, "bank/lock/pos/" A "/cairn", "200");
  assert_state (h, "bank/lock/mint/" A "/gold", "5");
  assert_state (h, "bank/bal/" A "/gold", NULL);
  assert_state (h, "bank/supply/cairn", "1010");
  g_autoptr (json_t) events = cairn_test_host_events_matching (h, "bank.");
  assert_events (events,
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
  tx = cairn_test_host_tx_begin (h, A);
  g_assert_true (bank->unlock (pos, tx, A, "cairn", 200, &error));
  g_assert_true (cairn_test_host_tx_end (tx, TRUE, &error));
  assert_state (h, "bank/lock/pos/" A "/cairn", NULL);
  assert_state (h, "bank/bal/" A "/cairn", "950");
}

static void
test_bank_routes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = bank_host (genesis_bank, NULL);
  const CairnHost *host = cairn_test_host_mock_table ();
  CairnPlugin *pos
      = cairn_test_plugin_self (cairn_test_host_add_caller (h, "pos"));
  const CairnBankService *bank
      = host->lookup_service (pos, CAIRN_BANK_SERVICE, 1);
  g_assert_true (cairn_test_host_start (h, &error));
  CairnTxCtx *tx = cairn_test_host_tx_begin (h, A);
  g_assert_true (bank->lock (pos, tx, A, "cairn", 300, &error));
  g_assert_true (cairn_test_host_tx_end (tx, TRUE, &error));
  g_assert_no_error (error);

  g_autoptr (json_t) j = get_ok (h, "/v1/bank/balances/" A);
  assert_json (j, "{\"address\":\"" A "\",\"balances\":{\"cairn\":700,"
                  "\"gold\":5},\"locked\":{\"pos\":{\"cairn\":300}}}");
  g_clear_pointer (&j, json_decref);
  j = get_ok (h, "/v1/bank/balances/" C);
  assert_json (j, "{\"address\":\"" C "\",\"balances\":{},\"locked\":{}}");
  g_clear_pointer (&j, json_decref);
  get_fails (h, "/v1/bank/balances/" C "/x", 400, CAIRN_ERROR_INVALID,
             "not an address");

  j = get_ok (h, "/v1/bank/supply/cairn");
  assert_json (j, "{\"denom\":\"cairn\",\"supply\":1000}");
  g_clear_pointer (&j, json_decref);
  j = get_ok (h, "/v1/bank/supply/silver");
  assert_json (j, "{\"denom\":\"silver\",\"supply\":0}");
  g_clear_pointer (&j, json_decref);
  j = get_ok (h, "/v1/bank/supply/");
  assert_json (j, "{\"supply\":{\"cairn\":1000,\"gold\":5}}");
  get_fails (h, "/v1/bank/supply/X", 400, CAIRN_ERROR_INVALID, "'X'");
}

static void
test_bank_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  g_assert_true (cairn_test_host_set_genesis (h, genesis_bank, &error));
  g_assert_null (cairn_test_host_load (
      h, cairn_plugin_descriptor_bank,
      (const char *const[]){ "minters", "pos; Bad_Id", NULL }, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, "[bank] minters", "'Bad_Id'");
  g_clear_error (&error);
  g_assert_null (cairn_test_host_plugin (h, "bank"));
  g_assert_null (cairn_test_host_load (
      h, cairn_plugin_descriptor_bank,
      (const char *const[]){ "mintres", "pos", NULL }, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, "mintres");
  g_assert_null (cairn_test_host_plugin (h, "bank"));
}

/* ---- solo ----------------------------------------------------------------
 */

/* A genesis document whose one validator is account name's key, or the
 * node's (name NULL). */
static char *
solo_genesis (CairnTestHost *h, const char *name)
{
  return g_strdup_printf (
      "{\"chain_id\":\"test\",\"accounts\":[],\"validators\":"
      "[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      name ? cairn_test_host_account (h, name)
           : cairn_test_host_node_address (h),
      name ? cairn_test_host_account_pubkey (h, name)
           : cairn_test_host_node_pubkey (h));
}

/* A started host whose node key is the only validator, running solo with
 * config, and hello for txs to put in blocks. */
static CairnTestHost *
solo_host (const char *const *config)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = cairn_test_host_new ();
  g_autofree char *genesis = solo_genesis (h, NULL);
  g_assert_true (cairn_test_host_set_genesis (h, genesis, &error));
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_hello, NULL, &error));
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_solo, config, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);
  g_assert_nonnull (cairn_test_host_engine (h));
  return h;
}

/* n txs (hello.greet from alice) into the mempool. */
static void
queue_txs (CairnTestHost *h, guint n)
{
  g_autoptr (GError) error = NULL;
  for (guint i = 0; i < n; i++) {
    g_autofree char *body = g_strdup_printf ("{\"greeting\":\"hi %u\"}", i);
    g_assert_true (cairn_test_host_queue_tx (
        h, cairn_test_host_account (h, "alice"), "hello.greet", body, &error));
    g_assert_no_error (error);
  }
}

/* How many txs the committed block at height holds (all applied). */
static guint
block_txs (CairnTestHost *h, uint64_t height)
{
  const json_t *b = cairn_test_host_block (h, height);
  size_t i;
  json_t *r;
  g_assert_nonnull (b);
  json_array_foreach (json_object_get (b, "results"), i, r)
      g_assert_true (json_is_true (json_object_get (r, "ok")));
  return (guint)json_array_size (json_object_get (b, "txs"));
}

/* solo's verify_certificate for a block of that height, hash and
 * proposer. */
static gboolean
verify (CairnTestHost *h, uint64_t height, const char *hash,
        const char *proposer, const json_t *cert, GError **error)
{
  const CairnBlockInfo info = {
    .size = sizeof info,
    .height = height,
    .hash = hash,
    .prev_hash = hash,
    .proposer = proposer,
    .state_root = hash,
  };
  return cairn_test_host_consensus (h)->verify_certificate (
      cairn_test_plugin_self (cairn_test_host_engine (h)), &info, cert, error);
}

static void
test_solo_blocks (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = solo_host (
      (const char *const[]){ "batch_delay_ms", "1", "empty_block_interval_ms",
                             "0", "max_block_txs", "2", NULL });
  CairnTestPlugin *solo = cairn_test_host_engine (h);
  const CairnConsensusIface *engine = cairn_test_host_consensus (h);
  queue_txs (h, 5);
  /* Told twice (and once more by the host): one pending build, not two. */
  engine->on_txs_available (cairn_test_plugin_self (solo));
  engine->on_txs_available (cairn_test_plugin_self (solo));
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 1);
  cairn_test_host_advance (h, 0);
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  /* batch_delay_ms later: blocks of at most max_block_txs until the
   * mempool is empty, then nothing. */
  cairn_test_host_advance (h, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);
  cairn_test_host_advance (h, 50);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);
  g_assert_cmpuint (cairn_test_host_mempool_size (h), ==, 0);
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 0);
  g_assert_cmpuint (block_txs (h, 1), ==, 2);
  g_assert_cmpuint (block_txs (h, 2), ==, 2);
  g_assert_cmpuint (block_txs (h, 3), ==, 1);
  g_autofree char *greeting = g_strdup_printf (
      "hello/greeting/%s", cairn_test_host_account (h, "alice"));
  g_autoptr (json_t) last = cairn_test_host_state_json (h, greeting);
  assert_json (last, "{\"greeting\":\"hi 4\",\"height\":3}");

  const json_t *cert
      = json_object_get (cairn_test_host_block (h, 1), "certificate");
  g_assert_cmpstr (json_string_value (json_object_get (cert, "type")), ==,
                   "solo");
  g_assert_cmpstr (json_string_value (json_object_get (cert, "validator")), ==,
                   cairn_test_host_node_address (h));
  g_assert_cmpstr (json_string_value (json_object_get (cert, "pubkey")), ==,
                   cairn_test_host_node_pubkey (h));
  g_assert_cmpuint (strlen (json_string_value (json_object_get (cert, "sig"))),
                    ==, 128);
  g_assert_cmpuint (json_object_size (cert), ==, 4);
  /* Each block's certificate is one solo accepts for that block only. */
  for (uint64_t height = 1; height <= 3; height++) {
    const json_t *b = cairn_test_host_block (h, height);
    const json_t *c = json_object_get (b, "certificate");
    const char *hash = json_string_value (json_object_get (b, "hash"));
    const char *proposer = json_string_value (
        json_object_get (json_object_get (b, "header"), "proposer"));
    g_assert_true (verify (h, height, hash, proposer, c, &error));
    g_assert_no_error (error);
    const char *other = json_string_value (
        json_object_get (cairn_test_host_block (h, height % 3 + 1), "hash"));
    g_assert_false (verify (h, height, other, proposer, c, &error));
    ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'sig'");
    g_clear_error (&error);
  }
  g_assert_cmpuint (n_warnings (solo), ==, 0);
}

static void
test_solo_empty_blocks (void)
{
  g_autoptr (CairnTestHost) h = solo_host (
      (const char *const[]){ "empty_block_interval_ms", "5", NULL });
  cairn_test_host_advance (h, 14);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 2);
  cairn_test_host_advance (h, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);
  g_assert_cmpuint (block_txs (h, 1), ==, 0);
  g_assert_nonnull (
      json_object_get (cairn_test_host_block (h, 1), "certificate"));
  cairn_test_host_stop (h);
  /* Stopped: no timer left behind. */
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 0);
  cairn_test_host_advance (h, 30);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);
}

static void
test_solo_no_empty_blocks (void)
{
  g_autoptr (CairnTestHost) h = solo_host (
      (const char *const[]){ "empty_block_interval_ms", "0", NULL });
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 0);
  cairn_test_host_advance (h, 60000);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
}

static void
test_solo_build_failure (void)
{
  g_autoptr (CairnTestHost) h = solo_host ((const char *const[]){
      "empty_block_interval_ms", "0", "batch_delay_ms", "0", NULL });
  CairnTestPlugin *solo = cairn_test_host_engine (h);
  cairn_test_host_fail_next_build (h, "disk on fire");
  queue_txs (h, 1);
  cairn_test_host_advance (h, 0);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  /* Logged, then retried after a back-off (250 ms). */
  g_assert_cmpuint (n_warnings (solo), ==, 1);
  g_assert_true (cairn_test_plugin_log_contains (solo, "disk on fire"));
  g_assert_true (cairn_test_plugin_log_contains (solo, "block 1"));
  cairn_test_host_advance (h, 249);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  cairn_test_host_advance (h, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 1);
  g_assert_cmpuint (block_txs (h, 1), ==, 1);
  g_assert_cmpuint (n_warnings (solo), ==, 1);
}

static void
test_solo_wrong_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  g_autofree char *genesis = solo_genesis (h, "other");
  g_assert_true (cairn_test_host_set_genesis (h, genesis, &error));
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_solo, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (cairn_test_host_start (h, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, cairn_test_host_node_address (h),
                cairn_test_host_account (h, "other"));
}

static void
solo_init_fails (const char *genesis, const char *const *config,
                 const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  g_assert_true (cairn_test_host_set_genesis (h, genesis, &error));
  g_assert_null (
      cairn_test_host_load (h, cairn_plugin_descriptor_solo, config, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_CONFIG, needle);
  g_assert_null (cairn_test_host_engine (h));
}

static void
test_solo_init_errors (void)
{
  /* Account keys are the same in every host. */
  g_autoptr (CairnTestHost) k = cairn_test_host_new ();
  const char *a1 = cairn_test_host_account (k, "n1");
  const char *p1 = cairn_test_host_account_pubkey (k, "n1");
  const char *a2 = cairn_test_host_account (k, "n2");
  const char *p2 = cairn_test_host_account_pubkey (k, "n2");
  g_autofree char *two = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"},"
      "{\"address\":\"%s\",\"pubkey\":\"%s\"}]}",
      a1, p1, a2, p2);
  g_autofree char *mismatch = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}", a1, p2);
  solo_init_fails (two, NULL, "found 2");
  solo_init_fails ("{\"validators\":[]}", NULL, "found 0");
  solo_init_fails ("{}", NULL, "exactly one");
  solo_init_fails (mismatch, NULL, a2);
  solo_init_fails ("{\"validators\":[{\"address\":\"" A
                   "\",\"pubkey\":\"zz\"}]}",
                   NULL, "validators[0].pubkey");
  g_autofree char *one = g_strdup_printf (
      "{\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]}", a1, p1);
  solo_init_fails (one, (const char *const[]){ "batch_delay_ms", "-1", NULL },
                   "batch_delay_ms");
  solo_init_fails (one,
                   (const char *const[]){ "empty_block_interval", "5", NULL },
                   "empty_block_interval");
}

/* A solo certificate of hash_hex signed by account name's key, or the
 * node's (name NULL). */
static json_t *
good_cert (CairnTestHost *h, const char *name, const char *hash_hex)
{
  g_autoptr (GError) error = NULL;
  uint8_t hash[32], sig[64];
  g_assert_true (cairn_hex_decode (hash_hex, hash, 32));
  if (name == NULL)
    g_assert_true (cairn_test_host_mock_table ()->node_sign (
        cairn_test_plugin_self (cairn_test_host_engine (h)), SOLO_DOMAIN, hash,
        32, sig, &error));
  else
    cairn_test_host_account_sign (h, name, SOLO_DOMAIN, hash, 32, sig);
  g_assert_no_error (error);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  return json_pack ("{s:s,s:s,s:s,s:s}", "type", "solo", "validator",
                    name ? cairn_test_host_account (h, name)
                         : cairn_test_host_node_address (h),
                    "pubkey",
                    name ? cairn_test_host_account_pubkey (h, name)
                         : cairn_test_host_node_pubkey (h),
                    "sig", sig_hex);
}

static void
test_solo_verify (void)
{
  static const char hash[]
      = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  static const char other_hash[]
      = "10112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = solo_host (
      (const char *const[]){ "empty_block_interval_ms", "0", NULL });
  const char *me = cairn_test_host_node_address (h);
  g_autoptr (json_t) cert = good_cert (h, NULL, hash);
  g_assert_true (verify (h, 7, hash, me, cert, &error));
  g_assert_no_error (error);

  /* The signature covers this block's hash only. */
  g_assert_false (verify (h, 7, other_hash, me, cert, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "block 7", "'sig'");
  g_clear_error (&error);
  g_assert_false (verify (h, 7, hash, A, cert, &error));
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
    g_autoptr (json_t) bad = json_deep_copy (cert);
    if (cases[i].value != NULL)
      json_object_set_new (bad, cases[i].field, json_string (cases[i].value));
    else
      json_object_del (bad, cases[i].field);
    g_autofree char *needle = g_strdup_printf ("'%s'", cases[i].field);
    g_assert_false (verify (h, 7, hash, me, bad, &error));
    ASSERT_ERROR (error, CAIRN_ERROR_INVALID, needle);
    g_clear_error (&error);
  }

  /* Someone else's valid pubkey and signature. */
  g_autoptr (json_t) forged = good_cert (h, "stranger", hash);
  json_object_set_new (forged, "validator", json_string (me));
  g_assert_false (verify (h, 7, hash, me, forged, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "'pubkey'",
                cairn_test_host_account_pubkey (h, "stranger"));
  g_clear_error (&error);

  g_autoptr (json_t) arr = json_array ();
  g_assert_false (verify (h, 7, hash, me, arr, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "object");
}

/* ---- hello (the out-of-tree example, linked statically) ------------------
 */

static void
test_hello (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  g_assert_nonnull (cairn_test_host_load (
      h, cairn_plugin_descriptor_hello,
      (const char *const[]){ "prefix", "hey", NULL }, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));

  g_assert_false (
      cairn_test_host_check (h, "hello.greet", "{\"greeting\":\"\"}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "0 characters");
  g_clear_error (&error);
  g_autofree char *long_body = g_strdup_printf ("{\"greeting\":\"%0141d\"}", 0);
  g_assert_false (cairn_test_host_check (h, "hello.greet", long_body, &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "141 characters");
  g_clear_error (&error);
  /* 140 characters of two bytes each. */
  g_autoptr (GString) wide = g_string_new ("{\"greeting\":\"");
  for (int i = 0; i < 140; i++)
    g_string_append (wide, "\xc3\xa9");
  g_string_append (wide, "\"}");
  g_assert_true (cairn_test_host_check (h, "hello.greet", wide->str, &error));
  g_assert_no_error (error);
  g_assert_false (cairn_test_host_check (
      h, "hello.greet", "{\"greeting\":\"hi\",\"x\":1}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "unknown fields");
  g_clear_error (&error);
  g_assert_false (
      cairn_test_host_check (h, "hello.greet", "{\"greeting\":5}", &error));
  ASSERT_ERROR (error, CAIRN_ERROR_INVALID, "must be a string");
  g_clear_error (&error);

  g_autoptr (json_t) events = NULL;
  g_assert_true (
      run_tx (h, A, "hello.greet", "{\"greeting\":\"hi\"}", &events, &error));
  g_assert_no_error (error);
  assert_state (h, "hello/greeting/" A, "{\"greeting\":\"hi\",\"height\":1}");
  assert_events (events,
                 "[{\"type\":\"hello.greeted\",\"attrs\":{\"sender\":\"" A
                 "\",\"greeting\":\"hi\"}}]");
  g_autoptr (json_t) j = get_ok (h, "/v1/hello/greetings/" A);
  assert_json (j, "{\"address\":\"" A "\",\"greeting\":\"hi\",\"height\":1,"
                  "\"text\":\"hey, hi\"}");
  get_fails (h, "/v1/hello/greetings/" B, 404, CAIRN_ERROR_NOT_FOUND,
             "no greeting from " B);
  get_fails (h, "/v1/hello/greetings/zz", 400, CAIRN_ERROR_INVALID, "'zz'");
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

/* The SDK test library's mock host (<cairn/testing/mock_host.h>) driving
 * real plugins: bank (its tx type, routes, genesis and service, against
 * the host's built-in bank), solo (timers on the fake clock, block_build
 * and block_commit), and "acme", a plugin of this file that uses the rest
 * of the table: a failing tx, block hooks, events and subscriptions,
 * routes and streams, timers, submit_tx, the private store, direct
 * messages, metrics and blobs. */
#include <string.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_bank (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_solo (void);

/* ---- acme: a plugin that touches most of the host table ---------------- */

typedef struct Acme {
  CairnPlugin *self;
  char *greeting;
  const CairnBankService *bank;
  guint timer;
  guint sub;
  guint ticks;
  guint seen_events; /* events its subscription got */
  GPtrArray *streams;
} Acme;

static const CairnHost *host;

static gboolean
note_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  const char *key, *value;
  if (!cairn_unpack_strict ("acme.note", body, error, "{s:s, s:s}", "key", &key,
                            "value", &value))
    return FALSE;
  g_autofree char *k = g_strconcat ("note/", key, NULL);
  if (!host->state_put (self, tx, k, value, strlen (value), error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  host->emit_event (self, tx, "acme.noted",
                    json_pack ("{s:s, s:s, s:I, s:I}", "key", key, "sender",
                               info->sender, "height", (json_int_t)info->height,
                               "index", (json_int_t)info->index));
  return TRUE;
}

static gboolean
note_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *key, *value;
  return cairn_unpack_strict ("acme.note", body, error, "{s:s, s:s}", "key",
                              &key, "value", &value);
}

/* Writes and emits, then fails: nothing of it may survive. */
static gboolean
fail_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  if (!host->state_put (self, tx, "note/doomed", "x", 1, error))
    return FALSE;
  host->emit_event (self, tx, "acme.doomed", json_object ());
  return cairn_fail (error, CAIRN_ERROR_CONFLICT, "acme.fail: always fails");
}

static gboolean
reward_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Acme *a = host->get_data (self);
  const char *to;
  json_int_t amount;
  if (!cairn_unpack_strict ("acme.reward", body, error, "{s:s, s:I}", "to", &to,
                            "amount", &amount))
    return FALSE;
  return a->bank->mint (self, tx, to, "gold", (uint64_t)amount, error);
}

static const CairnTxHandler note_h
    = { CAIRN_TX_HANDLER_VERSION, 0, note_check, note_apply };
static const CairnTxHandler fail_h
    = { CAIRN_TX_HANDLER_VERSION, 0, NULL, fail_apply };
static const CairnTxHandler reward_h
    = { CAIRN_TX_HANDLER_VERSION, 0, NULL, reward_apply };

static gboolean
acme_begin (CairnPlugin *self, CairnTxCtx *tx, GError **error)
{
  GError *local = NULL;
  g_autoptr (GBytes) flag
      = host->state_get (self, tx, NULL, "fail-begin", &local);
  g_clear_error (&local);
  if (flag != NULL)
    return cairn_fail (error, CAIRN_ERROR_FAILED, "told to fail");
  return host->state_put (self, tx, "last-begin", "1", 1, error);
}

static gboolean
acme_end (CairnPlugin *self, CairnTxCtx *tx, GError **error)
{
  g_autofree char *h
      = g_strdup_printf ("%" G_GUINT64_FORMAT, host->tx_info (tx)->height);
  host->emit_event (self, tx, "acme.block_end", json_pack ("{s:s}", "h", h));
  return host->state_put (self, tx, "last-end", h, strlen (h), error);
}

static const CairnAppIface acme_app
    = { CAIRN_APP_IFACE_VERSION, 0, NULL, acme_begin, acme_end };

static gboolean
route_note (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  g_autofree char *k = g_strconcat ("note/", req->path_rest, NULL);
  g_autoptr (GBytes) v = host->state_get (self, NULL, NULL, k, error);
  if (v == NULL)
    return FALSE;
  resp->json = json_pack ("{s:s, s:s%}", "key", req->path_rest, "value",
                          g_bytes_get_data (v, NULL), g_bytes_get_size (v));
  return TRUE;
}

static gboolean
route_echo (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  Acme *a = user_data;
  const char *q = g_hash_table_lookup (req->query, "q");
  resp->json
      = json_pack ("{s:s, s:s, s:s, s:o, s:O?}", "greeting", a->greeting,
                   "method", req->method, "path_rest", req->path_rest, "q",
                   q ? json_string (q) : json_null (), "body", req->body);
  if (strcmp (req->method, "POST") == 0)
    resp->status = 201;
  return TRUE;
}

static gboolean
route_todo (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  return cairn_fail (error, CAIRN_ERROR_NOT_IMPLEMENTED,
                     "acme: GET /v1/acme/todo is not implemented yet");
}

static gboolean
route_page (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
            void *user_data, GError **error)
{
  resp->body = g_bytes_new_static ("<p>acme</p>", 11);
  resp->content_type = "text/html";
  return TRUE;
}

static gboolean
stream_open (CairnPlugin *self, const CairnRequest *req, CairnStream *stream,
             void *user_data, GError **error)
{
  Acme *a = user_data;
  if (strcmp (req->path_rest, "refuse") == 0)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED, "not you");
  g_autoptr (json_t) hello = json_pack ("{s:s}", "who", req->path_rest);
  host->stream_send (stream, "hello", "0", hello);
  g_ptr_array_add (a->streams, stream);
  return TRUE;
}

static void
stream_closed (CairnPlugin *self, CairnStream *stream, void *user_data)
{
  Acme *a = user_data;
  g_assert_true (g_ptr_array_remove (a->streams, stream));
}

static void
on_event (CairnPlugin *self, const CairnEvent *ev, void *user_data)
{
  Acme *a = user_data;
  a->seen_events++;
  if (strcmp (ev->type, "acme.noted") == 0)
    for (guint i = 0; i < a->streams->len; i++)
      host->stream_send (a->streams->pdata[i], "noted", ev->tx_id, ev->attrs);
}

static void
on_direct (CairnPlugin *self, const char *peer_id, const void *data, size_t len,
           void *user_data)
{
  g_autofree char *k = g_strconcat ("inbox/", peer_id, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (host->private_put (self, k, data, len, &error));
  host->emit_local_event (
      self, "acme.received",
      json_pack ("{s:s, s:I}", "peer", peer_id, "len", (json_int_t)len));
}

static gboolean
tick (CairnPlugin *self, void *user_data)
{
  Acme *a = user_data;
  g_autoptr (GError) error = NULL;
  a->ticks++;
  g_assert_true (
      host->metric_set (self, "acme_ticks_total", NULL, a->ticks, &error));
  g_autofree char *v = g_strdup_printf ("%u", a->ticks);
  g_autoptr (json_t) body = json_pack ("{s:s, s:s}", "key", "tick", "value", v);
  g_autofree char *id = NULL;
  g_assert_true (host->submit_tx (self, "acme.note", body, &id, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_hex_lower_valid (id, 32));
  return a->ticks < 3; /* three ticks, then the timer ends */
}

static gboolean
acme_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  Acme *a = g_new0 (Acme, 1);
  a->self = self;
  a->streams = g_ptr_array_new ();
  host->set_data (self, a);
  a->bank = host->lookup_service (self, CAIRN_BANK_SERVICE, 1);
  g_assert_nonnull (a->bank);
  gboolean bad_route = FALSE;
  if (!host->config_string (self, "greeting", "hi", &a->greeting, error)
      || !host->config_bool (self, "bad_route", FALSE, &bad_route, error)
      || !host->register_tx_type (self, "acme.note", &note_h, sizeof note_h,
                                  error)
      || !host->register_tx_type (self, "acme.fail", &fail_h, sizeof fail_h,
                                  error)
      || !host->register_tx_type (self, "acme.reward", &reward_h,
                                  sizeof reward_h, error)
      || !host->register_app (self, &acme_app, sizeof acme_app, error)
      || !host->register_route (self, "GET", "/v1/acme/notes/", route_note, a,
                                error)
      || !host->register_route (self, "GET", "/v1/acme/", route_echo, a, error)
      || !host->register_route (self, "POST", "/v1/acme/echo", route_echo, a,
                                error)
      || !host->register_route (self, "GET", "/v1/acme/todo", route_todo, a,
                                error)
      || !host->register_route (self, "GET", "/acme/page", route_page, a, error)
      || !host->register_stream_route (self, "/v1/acme/stream/", stream_open,
                                       stream_closed, a, error)
      || !host->register_direct_handler (self, on_direct, a, error)
      || (bad_route
          && !host->register_route (self, "GET", "/v1/bank/x", route_page, a,
                                    error))) {
    g_ptr_array_unref (a->streams);
    g_free (a->greeting);
    g_free (a);
    host->set_data (self, NULL);
    return FALSE;
  }
  a->sub = host->subscribe (self, "", on_event, a);
  return TRUE;
}

static gboolean
acme_start (CairnPlugin *self, GError **error)
{
  Acme *a = host->get_data (self);
  a->timer = host->timer_add (self, 1000, tick, a);
  return TRUE;
}

static void
acme_fini (CairnPlugin *self)
{
  Acme *a = host->get_data (self);
  host->unsubscribe (self, a->sub);
  g_assert_cmpuint (a->streams->len, ==, 0);
  g_ptr_array_unref (a->streams);
  g_free (a->greeting);
  g_free (a);
}

static const CairnServiceRef acme_requires[]
    = { { CAIRN_BANK_SERVICE, 1, 0 }, { NULL, 0, 0 } };

CAIRN_PLUGIN_DEFINE (acme, .id = "acme", .version = "0.1.0", .vendor = "Test",
                     .license = "Apache-2.0",
                     .description = "Exercises the mock host",
                     .kinds = CAIRN_KIND_APP | CAIRN_KIND_PRIVACY,
                     .requires = acme_requires, .init = acme_init,
                     .start = acme_start, .fini = acme_fini)

/* ---- helpers ------------------------------------------------------------ */

static void
assert_json (const json_t *got, const char *want_text)
{
  g_autoptr (json_t) want = json_loads (want_text, JSON_DECODE_ANY, NULL);
  g_assert_nonnull (want);
  if (!json_equal ((json_t *)got, want)) {
    g_autofree char *g = NULL;
    char *d = json_dumps (got, JSON_SORT_KEYS | JSON_COMPACT);
    g = g_strdup (d);
    free (d);
    g_error ("JSON differs:\n got  %s\n want %s", g, want_text);
  }
}

static char *
genesis_with (CairnTestHost *h, const char *extra)
{
  return g_strdup_printf (
      "{\"chain_id\":\"mock\",\"genesis_time\":1767225600000,"
      "\"accounts\":[{\"address\":\"%s\",\"balances\":{\"cairn\":1000,"
      "\"gold\":5}}],\"validators\":[{\"address\":\"%s\",\"pubkey\":\"%s\"}]"
      "%s}",
      cairn_test_host_account (h, "alice"), cairn_test_host_node_address (h),
      cairn_test_host_node_pubkey (h), extra ? extra : "");
}

static CairnTestHost *
bank_host (const char *const *config)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = cairn_test_host_new ();
  g_autofree char *g = genesis_with (h, NULL);
  g_assert_true (cairn_test_host_set_genesis (h, g, &error));
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_bank, config, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);
  return h;
}

static char *
state_str (CairnTestHost *h, const char *key)
{
  return cairn_test_host_state_string (h, key);
}

/* ---- bank through its own tx type, routes and genesis ------------------- */

static void
test_bank_transfer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = bank_host (NULL);
  const char *alice = cairn_test_host_account (h, "alice");
  const char *bob = cairn_test_host_account (h, "bob");
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  g_assert_cmpuint (cairn_test_host_bank_balance (h, alice, "cairn"), ==, 1000);
  g_assert_cmpuint (cairn_test_host_bank_supply (h, "cairn"), ==, 1000);

  g_autofree char *body = g_strdup_printf (
      "{\"to\":\"%s\",\"denom\":\"cairn\",\"amount\":30}", bob);
  g_autoptr (json_t) result = NULL;
  g_assert_true (cairn_test_host_submit (h, alice, "bank.transfer", body,
                                         &result, &error));
  g_assert_no_error (error);
  g_assert_true (json_is_true (json_object_get (result, "ok")));
  g_assert_cmpint (json_integer_value (json_object_get (result, "height")), ==,
                   1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 1);
  g_assert_cmpuint (cairn_test_host_bank_balance (h, alice, "cairn"), ==, 970);
  g_assert_cmpuint (cairn_test_host_bank_balance (h, bob, "cairn"), ==, 30);
  g_autofree char *nonce = g_strdup_printf ("core/nonce/%s", alice);
  g_autofree char *n1 = state_str (h, nonce);
  g_assert_cmpstr (n1, ==, "1");

  /* The tx's event reached the record with its tx id, after "block". */
  g_autoptr (json_t) transfers = cairn_test_host_events_matching (h, "bank.");
  g_assert_cmpuint (json_array_size (transfers), ==, 1);
  const json_t *ev = json_array_get (transfers, 0);
  g_assert_cmpstr (json_string_value (json_object_get (ev, "tx_id")), ==,
                   json_string_value (json_object_get (result, "id")));
  g_assert_cmpstr (
      json_string_value (json_object_get (json_object_get (ev, "attrs"), "to")),
      ==, bob);
  g_assert_cmpstr (json_string_value (json_object_get (
                       json_array_get (cairn_test_host_events (h), 0), "type")),
                   ==, "block");

  /* Refused by the handler's apply: the nonce is consumed, nothing else. */
  g_clear_pointer (&result, json_decref);
  g_autofree char *too_much = g_strdup_printf (
      "{\"to\":\"%s\",\"denom\":\"cairn\",\"amount\":971}", bob);
  g_assert_false (cairn_test_host_submit (h, alice, "bank.transfer", too_much,
                                          &result, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INSUFFICIENT_FUNDS);
  g_clear_error (&error);
  assert_json (json_object_get (result, "code"), "\"insufficient_funds\"");
  g_assert_cmpstr (json_string_value (json_object_get (result, "stage")), ==,
                   "apply");
  g_assert_cmpuint (cairn_test_host_bank_balance (h, alice, "cairn"), ==, 970);
  g_autofree char *n2 = state_str (h, nonce);
  g_assert_cmpstr (n2, ==, "2");
  g_assert_cmpuint (cairn_test_host_height (h), ==, 2);

  /* Refused by check: never in a block, the nonce untouched. */
  g_clear_pointer (&result, json_decref);
  g_assert_false (cairn_test_host_submit (h, alice, "bank.transfer",
                                          "{\"to\":\"x\"}", &result, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpstr (json_string_value (json_object_get (result, "stage")), ==,
                   "check");
  g_assert_cmpuint (cairn_test_host_height (h), ==, 2);
  g_autofree char *n3 = state_str (h, nonce);
  g_assert_cmpstr (n3, ==, "2");

  /* Bad input to the mock itself. */
  g_assert_false (
      cairn_test_host_submit (h, "alice", "bank.transfer", body, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (
      cairn_test_host_submit (h, alice, "bank.nope", body, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (cairn_test_host_submit (h, alice, "bank.transfer",
                                          "{\"amount\":1.5}", NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);

  /* The bank's routes. */
  guint status;
  g_autoptr (json_t) answer = NULL;
  g_autofree char *path = g_strdup_printf ("/v1/bank/balances/%s", bob);
  g_assert_true (
      cairn_test_host_request (h, "GET", path, NULL, &status, &answer));
  g_assert_cmpuint (status, ==, 200);
  g_autofree char *want = g_strdup_printf (
      "{\"address\":\"%s\",\"balances\":{\"cairn\":30},\"locked\":{}}", bob);
  assert_json (answer, want);
  g_clear_pointer (&answer, json_decref);
  g_assert_true (cairn_test_host_request (h, "GET", "/v1/bank/balances/zz",
                                          NULL, &status, &answer));
  g_assert_cmpuint (status, ==, 400);
  assert_json (json_object_get (json_object_get (answer, "error"), "code"),
               "\"invalid\"");
  g_clear_pointer (&answer, json_decref);
  g_assert_true (cairn_test_host_request (h, "GET", "/v1/bank/supply/gold",
                                          NULL, &status, &answer));
  g_assert_cmpuint (status, ==, 200);
  assert_json (answer, "{\"denom\":\"gold\",\"supply\":5}");
  g_clear_pointer (&answer, json_decref);
  g_assert_false (cairn_test_host_request (h, "GET", "/v1/bank/nothing", NULL,
                                           &status, &answer));
  g_assert_cmpuint (status, ==, 404);
  assert_json (json_object_get (json_object_get (answer, "error"), "code"),
               "\"not_found\"");

  /* block_get through the stored chain. */
  const json_t *b1 = cairn_test_host_block (h, 1);
  g_assert_nonnull (b1);
  g_assert_cmpuint (json_array_size (json_object_get (b1, "txs")), ==, 1);
  g_assert_null (cairn_test_host_block (h, 3));
}

/* Every bank.* key of a host's state, as "key=value;..." */
static char *
bank_dump (CairnTestHost *h, const char *const *keys)
{
  GString *s = g_string_new (NULL);
  for (; *keys != NULL; keys++) {
    g_autofree char *v = state_str (h, *keys);
    g_string_append_printf (s, "%s=%s;", *keys, v ? v : "-");
  }
  return g_string_free (s, FALSE);
}

/* The same service calls against the real bank and the built-in one give
 * the same errors, writes and events. */
static void
run_service_script (CairnTestHost *h, GString *log)
{
  g_autoptr (GError) error = NULL;
  const char *alice = cairn_test_host_account (h, "alice");
  const char *bob = cairn_test_host_account (h, "bob");
  CairnTestPlugin *acme = cairn_test_host_plugin (h, "acme");
  CairnPlugin *self = cairn_test_plugin_self (acme);
  const CairnBankService *bank = cairn_test_host_mock_table ()->lookup_service (
      self, CAIRN_BANK_SERVICE, 1);
  g_assert_nonnull (bank);

  g_autofree char *reward
      = g_strdup_printf ("{\"to\":\"%s\",\"amount\":7}", bob);
  gboolean ok
      = cairn_test_host_submit (h, alice, "acme.reward", reward, NULL, &error);
  g_string_append_printf (log, "reward:%d:%s|", ok,
                          error ? cairn_error_code_name (error->code) : "-");
  g_clear_error (&error);

  struct {
    const char *what;
    uint64_t amount;
  } steps[] = { { "transfer", 10 }, { "transfer", 5000 }, { "lock", 100 },
                { "unlock", 40 },   { "unlock", 100 },    { "burn", 3 },
                { "transfer", 0 } };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    CairnTxCtx *tx = cairn_test_host_tx_begin (h, alice);
    const char *w = steps[i].what;
    uint64_t n = steps[i].amount;
    if (strcmp (w, "transfer") == 0)
      ok = bank->transfer (self, tx, alice, bob, "cairn", n, &error);
    else if (strcmp (w, "lock") == 0)
      ok = bank->lock (self, tx, alice, "cairn", n, &error);
    else if (strcmp (w, "unlock") == 0)
      ok = bank->unlock (self, tx, alice, "cairn", n, &error);
    else
      ok = bank->burn (self, tx, bob, "gold", n, &error);
    g_string_append_printf (log, "%s %" G_GUINT64_FORMAT ":%d:%s|", w, n, ok,
                            error ? cairn_error_code_name (error->code) : "-");
    g_clear_error (&error);
    g_assert_true (cairn_test_host_tx_end (tx, ok, &error));
    g_assert_no_error (error);
  }
  uint64_t locked = 0;
  g_assert_true (bank->locked (self, NULL, alice, "cairn", &locked, &error));
  g_string_append_printf (log, "locked:%" G_GUINT64_FORMAT "|", locked);
  g_autoptr (json_t) evs = cairn_test_host_events_matching (h, "bank.");
  size_t i;
  json_t *e;
  json_array_foreach (evs, i, e)
  {
    char *d = json_dumps (e, JSON_SORT_KEYS | JSON_COMPACT);
    g_string_append_printf (log, "%s|", d);
    free (d);
  }
}

static void
test_bank_service_matches_plugin (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) with_plugin = g_string_new (NULL);
  g_autoptr (GString) built_in = g_string_new (NULL);
  g_autoptr (GString) dump_plugin = g_string_new (NULL);
  const char *const minters[] = { "minters", "acme", NULL };
  for (int round = 0; round < 2; round++) {
    g_autoptr (CairnTestHost) h = NULL;
    if (round == 0) {
      h = bank_host (minters);
    } else {
      h = cairn_test_host_new ();
      g_autofree char *g = genesis_with (h, NULL);
      g_assert_true (cairn_test_host_set_genesis (h, g, &error));
    }
    g_assert_nonnull (
        cairn_test_host_load (h, cairn_plugin_descriptor_acme, NULL, &error));
    g_assert_no_error (error);
    if (round == 1) {
      /* Not a minter yet: mint is refused like the bank refuses it. */
      g_autofree char *reward = g_strdup_printf (
          "{\"to\":\"%s\",\"amount\":1}", cairn_test_host_account (h, "bob"));
      g_assert_false (
          cairn_test_host_submit (h, cairn_test_host_account (h, "alice"),
                                  "acme.reward", reward, NULL, &error));
      g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED);
      g_assert_nonnull (strstr (error->message, "minters"));
      g_clear_error (&error);
      cairn_test_host_bank_add_minter (h, "acme");
      g_assert_true (cairn_test_host_start (h, &error));
    }
    /* A round-1 host has one more block (the refused mint): compare
     * everything but heights. */
    run_service_script (h, round == 0 ? with_plugin : built_in);
    const char *alice = cairn_test_host_account (h, "alice");
    const char *bob = cairn_test_host_account (h, "bob");
    g_autofree char *k1 = g_strdup_printf ("bank/bal/%s/cairn", alice);
    g_autofree char *k2 = g_strdup_printf ("bank/bal/%s/cairn", bob);
    g_autofree char *k3 = g_strdup_printf ("bank/bal/%s/gold", bob);
    g_autofree char *k4 = g_strdup_printf ("bank/lock/acme/%s/cairn", alice);
    const char *const keys[] = { k1,
                                 k2,
                                 k3,
                                 k4,
                                 "bank/holders/acme",
                                 "bank/supply/cairn",
                                 "bank/supply/gold",
                                 NULL };
    g_autofree char *d = bank_dump (h, keys);
    if (round == 0)
      g_string_assign (dump_plugin, d);
    else
      g_assert_cmpstr (d, ==, dump_plugin->str);
    g_assert_cmpuint (cairn_test_host_bank_balance (h, bob, "gold"), ==, 4);
    g_assert_cmpuint (cairn_test_host_bank_locked (h, "acme", alice, "cairn"),
                      ==, 60);
  }
  /* Heights and tx ids (alice's nonce) differ by the one refused mint:
   * strip them. */
  GRegex *re
      = g_regex_new ("\"(height|tx_id)\":(\"[0-9a-f]+\"|[0-9]+)", 0, 0, NULL);
  g_autofree char *a
      = g_regex_replace (re, with_plugin->str, -1, 0, "", 0, NULL);
  g_autofree char *b = g_regex_replace (re, built_in->str, -1, 0, "", 0, NULL);
  g_regex_unref (re);
  g_assert_cmpstr (b, ==, a);
  g_assert_nonnull (strstr (a, "transfer 5000:0:insufficient_funds"));
  g_assert_nonnull (strstr (a, "unlock 100:0:insufficient_funds"));
  g_assert_nonnull (strstr (a, "transfer 0:0:invalid"));
}

/* ---- rollback of a failed tx and a failed block ------------------------- */

static CairnTestHost *
acme_host (const char *const *config)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = cairn_test_host_new ();
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_acme, config, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);
  return h;
}

static void
test_failing_tx_leaves_no_writes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = acme_host (NULL);
  const char *alice = cairn_test_host_account (h, "alice");
  g_autoptr (json_t) r = NULL;

  g_assert_true (cairn_test_host_begin_block (h, &error));
  g_assert_true (cairn_test_host_submit (
      h, alice, "acme.note", "{\"key\":\"a\",\"value\":\"1\"}", &r, &error));
  g_clear_pointer (&r, json_decref);
  g_assert_false (
      cairn_test_host_submit (h, alice, "acme.fail", "{}", &r, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
  g_clear_error (&error);
  assert_json (json_object_get (r, "code"), "\"conflict\"");
  g_assert_cmpint (json_integer_value (json_object_get (r, "index")), ==, 1);
  g_assert_null (json_object_get (r, "events"));
  g_clear_pointer (&r, json_decref);
  g_assert_true (cairn_test_host_submit (
      h, alice, "acme.note", "{\"key\":\"b\",\"value\":\"2\"}", &r, &error));
  /* Nothing is committed before the block ends. */
  g_assert_null (cairn_test_host_state_get (h, "acme/note/a"));
  g_assert_true (cairn_test_host_end_block (h, &error));
  g_assert_no_error (error);

  g_autofree char *a = state_str (h, "acme/note/a");
  g_autofree char *b = state_str (h, "acme/note/b");
  g_assert_cmpstr (a, ==, "1");
  g_assert_cmpstr (b, ==, "2");
  g_assert_null (cairn_test_host_state_get (h, "acme/note/doomed"));
  g_autoptr (json_t) doomed
      = cairn_test_host_events_matching (h, "acme.doomed");
  g_assert_cmpuint (json_array_size (doomed), ==, 0);
  g_autoptr (json_t) noted = cairn_test_host_events_matching (h, "acme.noted");
  g_assert_cmpuint (json_array_size (noted), ==, 2);
  assert_json (json_object_get (json_array_get (noted, 1), "tx_index"), "2");
  /* Three txs from alice, all consumed a nonce. */
  g_autofree char *nk = g_strdup_printf ("core/nonce/%s", alice);
  g_autofree char *n = state_str (h, nk);
  g_assert_cmpstr (n, ==, "3");
  /* The hooks ran: begin wrote, end wrote the height and emitted. */
  g_autofree char *end = state_str (h, "acme/last-end");
  g_assert_cmpstr (end, ==, "1");

  /* A failing begin_block hook discards the whole block. */
  cairn_test_host_state_set (h, "acme/fail-begin", "1", 1);
  g_assert_false (cairn_test_host_submit (
      h, alice, "acme.note", "{\"key\":\"c\",\"value\":\"3\"}", NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "acme begin_block at height 2"));
  g_clear_error (&error);
  g_assert_false (cairn_test_host_in_block (h));
  g_assert_cmpuint (cairn_test_host_height (h), ==, 1);
  g_assert_null (cairn_test_host_state_get (h, "acme/note/c"));

  /* A discarded block leaves nothing either. */
  cairn_test_host_state_set (h, "acme/fail-begin", NULL, 0);
  g_assert_true (cairn_test_host_begin_block (h, &error));
  g_assert_true (cairn_test_host_submit (
      h, alice, "acme.note", "{\"key\":\"d\",\"value\":\"4\"}", NULL, &error));
  cairn_test_host_discard_block (h);
  g_assert_null (cairn_test_host_state_get (h, "acme/note/d"));
  g_assert_cmpuint (cairn_test_host_height (h), ==, 1);

  /* Writes outside a tx and into another namespace are refused. */
  CairnPlugin *self
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "acme"));
  const CairnHost *t = cairn_test_host_mock_table ();
  g_assert_false (t->state_put (self, NULL, "x", "1", 1, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  CairnTxCtx *tx = cairn_test_host_tx_begin (h, alice);
  g_assert_false (t->state_put (self, tx, "/abs", "1", 1, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (t->state_put (self, tx, "with space", "1", 1, &error));
  g_clear_error (&error);
  g_assert_true (t->state_put (self, tx, "note/e", "5", 1, &error));
  /* The tx reads its own write; the head does not see it yet. */
  g_autoptr (GBytes) own = t->state_get (self, tx, NULL, "note/e", &error);
  cairn_test_assert_bytes_str (own, "5");
  g_assert_null (t->state_get (self, NULL, NULL, "note/e", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (cairn_test_host_tx_end (tx, FALSE, &error));
  g_assert_null (cairn_test_host_state_get (h, "acme/note/e"));
}

/* ---- events, subscriptions, streams, local events, direct messages ------ */

static void
test_events_and_streams (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = acme_host (NULL);
  const char *alice = cairn_test_host_account (h, "alice");
  Acme *a = cairn_test_host_mock_table ()->get_data (
      cairn_test_plugin_self (cairn_test_host_plugin (h, "acme")));
  guint status;
  g_autoptr (json_t) j = NULL;

  g_autoptr (CairnTestStream) s
      = cairn_test_host_stream_open (h, "/v1/acme/stream/me", &status, &j);
  g_assert_nonnull (s);
  g_assert_cmpuint (status, ==, 200);
  g_assert_null (j);
  assert_json (
      cairn_test_stream_messages (s),
      "[{\"event\":\"hello\",\"id\":\"0\",\"data\":{\"who\":\"me\"}}]");
  g_assert_null (
      cairn_test_host_stream_open (h, "/v1/acme/stream/refuse", &status, &j));
  g_assert_cmpuint (status, ==, 403);
  g_clear_pointer (&j, json_decref);
  g_assert_null (cairn_test_host_stream_open (h, "/v1/nope/", &status, NULL));
  g_assert_cmpuint (status, ==, 404);

  /* Events reach subscribers only when the block commits. */
  g_assert_true (cairn_test_host_begin_block (h, &error));
  g_assert_true (cairn_test_host_submit (
      h, alice, "acme.note", "{\"key\":\"k\",\"value\":\"v\"}", NULL, &error));
  g_assert_cmpuint (a->seen_events, ==, 0);
  g_assert_cmpuint (json_array_size (cairn_test_host_events (h)), ==, 0);
  g_assert_true (cairn_test_host_end_block (h, &error));
  /* block, acme.block_end (a hook's), acme.noted */
  g_assert_cmpuint (a->seen_events, ==, 3);
  const json_t *all = cairn_test_host_events (h);
  g_assert_cmpuint (json_array_size (all), ==, 3);
  assert_json (json_object_get (json_array_get (all, 1), "type"),
               "\"acme.block_end\"");
  assert_json (json_object_get (json_array_get (all, 1), "tx_id"), "null");
  g_autoptr (json_t) want
      = json_pack ("{s:s, s:s, s:i, s:i}", "key", "k", "sender", alice,
                   "height", 1, "index", 0);
  g_assert_true (
      json_equal (json_object_get (json_array_get (all, 2), "attrs"), want));
  /* The plugin pushed it to its stream. */
  g_assert_cmpuint (json_array_size (cairn_test_stream_messages (s)), ==, 2);
  assert_json (json_object_get (
                   json_array_get (cairn_test_stream_messages (s), 1), "event"),
               "\"noted\"");

  /* A direct message: stored privately, announced as a local event. */
  const char *peer = cairn_test_host_account (h, "peer");
  g_assert_true (
      cairn_test_host_deliver_direct (h, "acme", peer, "secret", 6, &error));
  g_autofree char *inbox = g_strdup_printf ("acme/inbox/%s", peer);
  g_autoptr (GBytes) kept = cairn_test_host_private_get (h, inbox);
  cairn_test_assert_bytes_str (kept, "secret");
  g_autoptr (json_t) local
      = cairn_test_host_events_matching (h, "acme.received");
  g_assert_cmpuint (json_array_size (local), ==, 1);
  assert_json (json_object_get (json_array_get (local, 0), "local"), "true");
  g_assert_false (
      cairn_test_host_deliver_direct (h, "nobody", peer, "x", 1, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* direct_send only to declared peers; recorded. */
  CairnPlugin *self
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "acme"));
  const CairnHost *t = cairn_test_host_mock_table ();
  g_assert_false (t->direct_send (self, peer, "hi", 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  cairn_test_host_add_peer (h, peer);
  g_assert_true (t->direct_send (self, peer, "hi", 2, &error));
  g_auto (GStrv) peers = t->peer_list (self);
  g_assert_cmpuint (g_strv_length (peers), ==, 1);
  g_autofree char *want_sent = g_strdup_printf (
      "[{\"kind\":\"direct\",\"plugin\":\"acme\",\"peer\":\"%s\","
      "\"data_hex\":\"6869\"}]",
      peer);
  assert_json (cairn_test_host_sent (h), want_sent);

  /* The stream ends when the client goes (closed runs: the plugin's fini
   * asserts it has no stream left). */
  cairn_test_stream_free (g_steal_pointer (&s));
  g_assert_cmpuint (a->streams->len, ==, 0);
  cairn_test_host_clear_events (h);
  g_assert_cmpuint (json_array_size (cairn_test_host_events (h)), ==, 0);
}

/* ---- timers on the fake clock, submit_tx, metrics ---------------------- */

static gboolean
never (CairnPlugin *self, void *user_data)
{
  g_error ("a removed timer ran");
  return FALSE;
}

static void
test_timers (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = acme_host (NULL);
  int64_t t0 = cairn_test_host_now_ms (h);
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 1);
  g_assert_cmpuint (cairn_test_host_advance (h, 999), ==, 0);
  g_assert_cmpint (cairn_test_host_now_ms (h), ==, t0 + 999);
  g_assert_false (cairn_test_host_metric (h, "acme_ticks_total", NULL));
  g_assert_cmpuint (cairn_test_host_advance (h, 1), ==, 1);
  int64_t v = 0;
  g_assert_true (cairn_test_host_metric (h, "acme_ticks_total", &v));
  g_assert_cmpint (v, ==, 1);
  /* The tick submitted a tx signed by the node: it waits in the mempool. */
  g_assert_cmpuint (cairn_test_host_mempool_size (h), ==, 1);
  /* 2.5 s more: ticks at +2000 and +3000, then the timer ends (FALSE). */
  g_assert_cmpuint (cairn_test_host_advance (h, 2500), ==, 2);
  g_assert_cmpuint (cairn_test_host_n_timers (h), ==, 0);
  g_assert_cmpuint (cairn_test_host_advance (h, 10000), ==, 0);
  g_assert_cmpint (cairn_test_host_now_ms (h), ==, t0 + 13500);
  g_assert_cmpuint (cairn_test_host_mempool_size (h), ==, 3);

  guint n = 0;
  g_assert_true (cairn_test_host_run_block (h, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpuint (cairn_test_host_mempool_size (h), ==, 0);
  g_autofree char *last = state_str (h, "acme/note/tick");
  g_assert_cmpstr (last, ==, "3");
  g_autofree char *nk
      = g_strdup_printf ("core/nonce/%s", cairn_test_host_node_address (h));
  g_autofree char *nonce = state_str (h, nk);
  g_assert_cmpstr (nonce, ==, "3");
  /* The block's time is the fake clock's. */
  g_assert_cmpint (cairn_test_host_head_time (h), ==, t0 + 13500);

  /* metric names are checked. */
  CairnPlugin *self
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "acme"));
  const CairnHost *t = cairn_test_host_mock_table ();
  g_assert_false (t->metric_set (self, "bank_x", NULL, 1, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (t->metric_set (self, "acme_q{kind=\"a\"}", NULL, 5, &error));
  g_assert_true (cairn_test_host_metric (h, "acme_q{kind=\"a\"}", &v));
  g_assert_cmpint (v, ==, 5);
  /* A timer removed before it is due never runs; removing twice is a
   * plugin bug the host reports. */
  guint id = t->timer_add (self, 50, never, NULL);
  t->timer_remove (self, id);
  g_assert_cmpuint (cairn_test_host_advance (h, 100), ==, 0);
}

/* ---- routes ------------------------------------------------------------- */

static void
test_routes (void)
{
  g_autoptr (CairnTestHost) h
      = acme_host ((const char *const[]){ "greeting", "hello", NULL });
  guint status;
  g_autoptr (json_t) j = NULL;
  g_assert_true (cairn_test_host_request (h, "GET", "/v1/acme/x/y?q=a%20b&z=1",
                                          NULL, &status, &j));
  g_assert_cmpuint (status, ==, 200);
  assert_json (j, "{\"body\":null,\"greeting\":\"hello\",\"method\":"
                  "\"GET\",\"path_rest\":\"x/y\",\"q\":\"a b\"}");
  g_clear_pointer (&j, json_decref);
  /* The longest prefix wins: notes/ over the catch-all /v1/acme/. */
  g_assert_true (cairn_test_host_request (h, "GET", "/v1/acme/notes/none", NULL,
                                          &status, &j));
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&j, json_decref);
  g_assert_true (cairn_test_host_request (h, "POST", "/v1/acme/echo",
                                          "{\"n\":1}", &status, &j));
  g_assert_cmpuint (status, ==, 201);
  assert_json (json_object_get (j, "body"), "{\"n\":1}");
  g_clear_pointer (&j, json_decref);
  g_assert_true (cairn_test_host_request (h, "POST", "/v1/acme/echo", "{nope",
                                          &status, &j));
  g_assert_cmpuint (status, ==, 400);
  assert_json (json_object_get (json_object_get (j, "error"), "code"),
               "\"invalid\"");
  g_clear_pointer (&j, json_decref);
  g_assert_true (
      cairn_test_host_request (h, "GET", "/v1/acme/todo", NULL, &status, &j));
  g_assert_cmpuint (status, ==, 501);
  assert_json (j, "{\"error\":{\"code\":\"not_implemented\",\"message\":"
                  "\"acme: GET /v1/acme/todo is not implemented yet\"}}");
  g_clear_pointer (&j, json_decref);
  g_assert_false (cairn_test_host_request (h, "DELETE", "/v1/acme/echo", NULL,
                                           &status, &j));
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&j, json_decref);
  /* A non-JSON answer. */
  g_assert_true (
      cairn_test_host_request (h, "GET", "/acme/page", NULL, &status, &j));
  g_assert_null (j);
  g_autofree char *ct = NULL;
  g_autoptr (GBytes) page = NULL;
  g_assert_true (cairn_test_host_request_bytes (h, "GET", "/acme/page", NULL,
                                                &status, &ct, &page));
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (ct, ==, "text/html");
  cairn_test_assert_bytes_str (page, "<p>acme</p>");
}

/* ---- loading as a node loads --------------------------------------------- */

static void
test_load_refusals (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  /* A key nobody reads. */
  g_assert_null (cairn_test_host_load (
      h, cairn_plugin_descriptor_acme,
      (const char *const[]){ "greting", "x", NULL }, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "greting"));
  g_clear_error (&error);
  g_assert_null (cairn_test_host_plugin (h, "acme"));
  /* A route outside its own prefix fails init, and nothing stays. */
  g_assert_null (cairn_test_host_load (
      h, cairn_plugin_descriptor_acme,
      (const char *const[]){ "bad_route", "true", NULL }, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "/v1/bank/x"));
  g_clear_error (&error);
  guint status;
  g_assert_false (
      cairn_test_host_request (h, "GET", "/v1/acme/todo", NULL, &status, NULL));
  g_assert_false (cairn_test_host_check (h, "acme.note", "{}", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* With its provider, it loads. */
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_bank, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_acme, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_check (
      h, "acme.note", "{\"key\":\"a\",\"value\":\"b\"}", &error));
  g_assert_false (
      cairn_test_host_check (h, "acme.note", "{\"key\":1}", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  /* Registering after init is refused. */
  CairnPlugin *self
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "acme"));
  g_assert_false (cairn_test_host_mock_table ()->register_tx_type (
      self, "acme.late", &note_h, sizeof note_h, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  /* The table says what it lacks. */
  const CairnHost *t = cairn_test_host_mock_table ();
  g_assert_false (CAIRN_HOST_HAS (t, block_validate));
  g_assert_true (CAIRN_HOST_HAS (t, register_stream_route));
  g_assert_true (CAIRN_HOST_HAS (t, private_iter));
  g_assert_false (cairn_test_host_set_genesis (h, "[1]", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
}

/* ---- solo: a consensus engine on the fake clock -------------------------- */

static void
test_solo_engine (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) h = cairn_test_host_new ();
  g_autofree char *g = genesis_with (h, NULL);
  g_assert_true (cairn_test_host_set_genesis (h, g, &error));
  g_assert_nonnull (
      cairn_test_host_load (h, cairn_plugin_descriptor_bank, NULL, &error));
  g_assert_nonnull (cairn_test_host_load (
      h, cairn_plugin_descriptor_solo,
      (const char *const[]){ "empty_block_interval_ms", "1000",
                             "batch_delay_ms", "20", NULL },
      &error));
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);
  const char *alice = cairn_test_host_account (h, "alice");
  const char *bob = cairn_test_host_account (h, "bob");

  /* Empty blocks, one a second of fake time. */
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  cairn_test_host_advance (h, 999);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 0);
  cairn_test_host_advance (h, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 1);
  cairn_test_host_advance (h, 2000);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);

  /* A tx: the engine hears of it, builds after batch_delay_ms, signs and
   * commits. */
  g_autofree char *body = g_strdup_printf (
      "{\"to\":\"%s\",\"denom\":\"cairn\",\"amount\":9}", bob);
  g_assert_true (
      cairn_test_host_queue_tx (h, alice, "bank.transfer", body, &error));
  g_assert_no_error (error);
  cairn_test_host_advance (h, 19);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 3);
  cairn_test_host_advance (h, 1);
  g_assert_cmpuint (cairn_test_host_height (h), ==, 4);
  g_assert_cmpuint (cairn_test_host_mempool_size (h), ==, 0);
  g_assert_cmpuint (cairn_test_host_bank_balance (h, bob, "cairn"), ==, 9);
  const json_t *b4 = cairn_test_host_block (h, 4);
  const json_t *cert = json_object_get (b4, "certificate");
  assert_json (json_object_get (cert, "type"), "\"solo\"");
  /* solo's own check of its certificate, through the host's Ed25519. */
  CairnPlugin *solo
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "solo"));
  const CairnHost *t = cairn_test_host_mock_table ();
  g_autoptr (json_t) stored = t->block_get (solo, 4, &error);
  g_assert_no_error (error);
  g_assert_true (
      json_equal (json_object_get (stored, "certificate"), (json_t *)cert));
  /* Only the engine builds. */
  CairnPlugin *bank
      = cairn_test_plugin_self (cairn_test_host_plugin (h, "bank"));
  CairnBuildOpts opts = { .size = sizeof opts, .allow_empty = TRUE };
  g_assert_null (t->block_build (bank, &opts, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED);
  g_clear_error (&error);
  g_assert_cmpuint (
      cairn_test_plugin_log (cairn_test_host_plugin (h, "solo"))->len, >, 0);
  g_assert_false (cairn_test_plugin_log_contains (
      cairn_test_host_plugin (h, "solo"), "warning:"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mock-host/bank/transfer", test_bank_transfer);
  g_test_add_func ("/mock-host/bank/service-matches-plugin",
                   test_bank_service_matches_plugin);
  g_test_add_func ("/mock-host/failing-tx-leaves-no-writes",
                   test_failing_tx_leaves_no_writes);
  g_test_add_func ("/mock-host/events-and-streams", test_events_and_streams);
  g_test_add_func ("/mock-host/timers", test_timers);
  g_test_add_func ("/mock-host/routes", test_routes);
  g_test_add_func ("/mock-host/load-refusals", test_load_refusals);
  g_test_add_func ("/mock-host/solo-engine", test_solo_engine);
  return g_test_run ();
}

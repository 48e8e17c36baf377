/* End to end, in one process: a node with store-lmdb, solo, bank and the
 * test app, driven through the C API and its HTTP API. Covers admission
 * rejections, executor rollback, events, restart, and two nodes applying
 * the same blocks to the same state root. */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "cjson.h"
#include "crypto.h"
#include "http.h"
#include "p2p.h"
#include "node_private.h"
#include "tx.h"

static char *testapp_dir;
static char *plugins_dir;

typedef struct {
  char *home;
  CairnKey *node_key, *admin, *alice;
  CairnNode *node;
  SoupSession *http;
  char *url;
} Net;

static const char *
addr (CairnKey *k)
{
  return cairn_key_address (k);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_mkdir_with_parents (parent, 0700);
  g_autoptr (GError) err = NULL;
  g_file_set_contents (path, text, -1, &err);
  g_assert_no_error (err);
}

/* A home with the given keys; the node key is the solo validator. */
static char *
make_home (CairnKey *node_key, CairnKey *admin)
{
  g_autoptr (GError) err = NULL;
  char *home = g_dir_make_tmp ("cairn-node-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *keys = g_build_filename (home, "keys", NULL);
  g_mkdir_with_parents (keys, 0700);
  g_autofree char *kp = g_build_filename (keys, "node.pem", NULL);
  g_assert_true (cairn_key_save (node_key, kp, &err));
  g_autofree char *npk = cairn_hex_encode (cairn_key_pubkey (node_key), 32);
  g_autoptr (json_t) genesis = json_pack (
      "{s:s, s:I, s:{s:i, s:[s]}, s:[{s:s, s:[s], s:{s:I}}], "
      "s:[{s:s, s:s, s:I, s:s}]}",
      "chain_id", "t", "genesis_time", (json_int_t)1700000000000, "admin",
      "threshold", 1, "members", addr (admin), "accounts", "address",
      addr (admin), "roles", "admin", "balances", "cairn", (json_int_t)1000000,
      "validators", "address", addr (node_key), "pubkey", npk, "stake",
      (json_int_t)100, "name", "n0");
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  write_file (home, "genesis.json", gtext);
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = t\nlog_level = %s\n"
      "[plugins]\npath = %s;%s\nload = store-lmdb;solo;bank;testapp\n"
      "[http]\nlisten = 127.0.0.1:0\n"
      "[solo]\nbatch_delay_ms = 1\nempty_block_interval_ms = 0\n"
      "[store-lmdb]\nmap_size = 1GiB\n",
      g_getenv ("CAIRN_TEST_LOG") ? g_getenv ("CAIRN_TEST_LOG") : "warning",
      plugins_dir, testapp_dir);
  write_file (home, "cairn.conf", conf);
  return home;
}

static CairnNode *
start_node (const char *home, gboolean start)
{
  g_autoptr (GError) err = NULL;
  CairnNodeOptions opts = { .home = home };
  CairnNode *node = cairn_node_new (&opts, &err);
  g_assert_no_error (err);
  if (start) {
    g_assert_true (cairn_node_start (node, &err));
    g_assert_no_error (err);
  }
  return node;
}

static void
net_up (Net *n)
{
  n->node_key = cairn_key_generate (NULL);
  n->admin = cairn_key_generate (NULL);
  n->alice = cairn_key_generate (NULL);
  n->home = make_home (n->node_key, n->admin);
  n->node = start_node (n->home, TRUE);
  n->url = g_strdup (cairn_node_http_url (n->node));
  g_assert_nonnull (n->url);
  n->http = soup_session_new ();
}

static void
rm_rf (const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);
  g_assert_cmpint (system (cmd), ==, 0);
}

static void
net_down (Net *n)
{
  g_clear_object (&n->http);
  g_clear_pointer (&n->node, cairn_node_free);
  rm_rf (n->home);
  g_free (n->home);
  g_free (n->url);
  cairn_key_free (n->node_key);
  cairn_key_free (n->admin);
  cairn_key_free (n->alice);
}

/* ---- HTTP from the same main loop --------------------------------------- */

typedef struct {
  GBytes *body;
  gboolean done;
  GError *error;
} Reply;

static void
on_reply (GObject *src, GAsyncResult *res, gpointer data)
{
  Reply *r = data;
  r->body
      = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &r->error);
  r->done = TRUE;
}

static char *
http (Net *n, const char *method, const char *path, const char *body,
      gsize body_len, guint *status)
{
  g_autofree char *uri = g_strconcat (n->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, body_len);
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  Reply r = { 0 };
  soup_session_send_and_read_async (n->http, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_reply, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (r.error);
  *status = soup_message_get_status (msg);
  gsize len;
  const char *p = g_bytes_get_data (r.body, &len);
  char *out = g_strndup (p, len);
  g_bytes_unref (r.body);
  return out;
}

static json_t *
http_json (Net *n, const char *method, const char *path, const char *body,
           guint want_status)
{
  guint status;
  g_autofree char *text
      = http (n, method, path, body, body ? strlen (body) : 0, &status);
  if (status != want_status)
    g_error ("%s %s: status %u, wanted %u: %s", method, path, status,
             want_status, text);
  json_t *j = json_loads (text, 0, NULL);
  g_assert_nonnull (j);
  return j;
}

static const char *
error_code (json_t *j)
{
  return json_string_value (
      json_object_get (json_object_get (j, "error"), "code"));
}

/* ---- tx helpers ---------------------------------------------------------- */

static uint64_t
next_nonce (Net *n, CairnKey *k)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a = cairn_node_account_json (n->node, addr (k), &err);
  g_assert_no_error (err);
  return json_integer_value (json_object_get (a, "next_nonce"));
}

static CairnTx *
sign (Net *n, CairnKey *k, const char *type, const char *body_text)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) body = json_loads (body_text, 0, NULL);
  g_assert_nonnull (body);
  CairnTx *tx = cairn_tx_sign (k, "t", type, next_nonce (n, k), body, &err);
  g_assert_no_error (err);
  return tx;
}

/* Submit over HTTP and wait for the commit; returns the tx's result. */
static json_t *
submit_and_wait (Net *n, CairnTx *tx)
{
  g_autoptr (json_t) r = http_json (n, "POST", "/v1/txs", tx->bytes, 202);
  g_assert_cmpstr (json_string_value (json_object_get (r, "id")), ==,
                   tx->id_hex);
  g_autofree char *path = g_strconcat ("/v1/txs/", tx->id_hex, NULL);
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, FALSE);
    g_autoptr (json_t) t = http_json (n, "GET", path, NULL, 200);
    if (g_strcmp0 (json_string_value (json_object_get (t, "status")),
                   "committed")
        == 0)
      return json_incref (json_object_get (t, "result"));
    g_usleep (1000);
  }
  g_error ("tx %s not committed in 10 s", tx->id_hex);
}

static json_int_t
balance (Net *n, CairnKey *k)
{
  g_autofree char *path = g_strdup_printf ("/v1/bank/balances/%s", addr (k));
  g_autoptr (json_t) j = http_json (n, "GET", path, NULL, 200);
  return json_integer_value (
      json_object_get (json_object_get (j, "balances"), "cairn"));
}

/* ---- tests --------------------------------------------------------------- */

static void
test_transfer_and_rollback (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autofree char *body = g_strdup_printf (
      "{\"amount\":100,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (n.alice));
  g_autoptr (CairnTx) t1 = sign (&n, n.admin, "bank.transfer", body);
  g_autoptr (json_t) r1 = submit_and_wait (&n, t1);
  g_assert_true (json_is_true (json_object_get (r1, "ok")));
  g_assert_cmpint (balance (&n, n.alice), ==, 100);
  g_assert_cmpint (balance (&n, n.admin), ==, 1000000 - 100);

  /* A handler that writes then fails: no state, no events, nonce used. */
  uint64_t before = next_nonce (&n, n.alice);
  g_autoptr (CairnTx) t2
      = sign (&n, n.alice, "testapp.write_then_fail", "{\"key\":\"k1\"}");
  g_autoptr (json_t) r2 = submit_and_wait (&n, t2);
  g_assert_false (json_is_true (json_object_get (r2, "ok")));
  g_assert_cmpstr (json_string_value (json_object_get (r2, "code")), ==,
                   "invalid");
  g_assert_null (json_object_get (r2, "events"));
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) v
      = cairn_node_state_get (n.node, "testapp", "k1", CAIRN_HEAD, &err);
  g_assert_null (v);
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_cmpuint (next_nonce (&n, n.alice), ==, before + 1);

  /* Insufficient funds: refused by bank, balances unchanged. */
  g_autofree char *big = g_strdup_printf (
      "{\"amount\":1000,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (n.admin));
  g_autoptr (CairnTx) t3 = sign (&n, n.alice, "bank.transfer", big);
  g_autoptr (json_t) r3 = submit_and_wait (&n, t3);
  g_assert_cmpstr (json_string_value (json_object_get (r3, "code")), ==,
                   "insufficient_funds");
  g_assert_cmpint (balance (&n, n.alice), ==, 100);

  /* A good app tx writes and its event is in the result. */
  g_autoptr (CairnTx) t4
      = sign (&n, n.alice, "testapp.put", "{\"key\":\"k2\",\"value\":\"v2\"}");
  g_autoptr (json_t) r4 = submit_and_wait (&n, t4);
  g_assert_true (json_is_true (json_object_get (r4, "ok")));
  g_assert_cmpuint (json_array_size (json_object_get (r4, "events")), ==, 1);
  g_autoptr (json_t) st
      = http_json (&n, "GET", "/v1/state/testapp/k2", NULL, 200);
  g_assert_cmpstr (json_string_value (json_object_get (st, "value_hex")), ==,
                   "7632");

  /* Peer messaging is declared in the SDK but this node has no transport:
   * a clear "not yet", never a fake success. */
  const CairnHost *host = cairn_host_table ();
  CairnPlugin *core = &n.node->core_plugin;
  g_autoptr (GError) perr = NULL;
  g_assert_false (host->peer_broadcast (core, "x", 1, &perr));
  g_assert_error (perr, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED);
  g_auto (GStrv) peers = host->peer_list (core);
  g_assert_cmpuint (g_strv_length (peers), ==, 0);
  net_down (&n);
}

static void
test_rejections (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autoptr (json_t) r = NULL;
  g_autofree char *body = g_strdup_printf (
      "{\"amount\":1,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (n.alice));

  /* Wrong chain id. */
  g_autoptr (json_t) jb = json_loads (body, 0, NULL);
  g_autoptr (CairnTx) other
      = cairn_tx_sign (n.admin, "other", "bank.transfer", 0, jb, NULL);
  r = http_json (&n, "POST", "/v1/txs", other->bytes, 400);
  g_assert_cmpstr (error_code (r), ==, "wrong_chain");
  g_clear_pointer (&r, json_decref);

  /* Bad signature: flip a hex digit of sig. */
  g_autoptr (CairnTx) good = sign (&n, n.admin, "bank.transfer", body);
  g_autofree char *forged = g_strdup (good->bytes);
  char *sig = strstr (forged, "\"sig\":\"") + 7;
  sig[5] = sig[5] == '0' ? '1' : '0';
  r = http_json (&n, "POST", "/v1/txs", forged, 400);
  g_assert_cmpstr (error_code (r), ==, "bad_signature");
  g_clear_pointer (&r, json_decref);

  /* Accepted, then replayed. */
  json_decref (http_json (&n, "POST", "/v1/txs", good->bytes, 202));
  r = http_json (&n, "POST", "/v1/txs", good->bytes, 409);
  g_assert_true (g_str_equal (error_code (r), "duplicate")
                 || g_str_equal (error_code (r), "nonce_too_low"));
  g_clear_pointer (&r, json_decref);

  /* Unknown type, invalid body, non-canonical, malformed. */
  g_autoptr (CairnTx) unk = sign (&n, n.alice, "nosuch.thing", "{}");
  r = http_json (&n, "POST", "/v1/txs", unk->bytes, 400);
  g_assert_cmpstr (error_code (r), ==, "unknown_type");
  g_clear_pointer (&r, json_decref);
  g_autoptr (CairnTx) neg
      = sign (&n, n.alice, "bank.transfer",
              "{\"amount\":-5,\"denom\":\"cairn\",\"to\":\"00\"}");
  r = http_json (&n, "POST", "/v1/txs", neg->bytes, 400);
  g_assert_cmpstr (error_code (r), ==, "invalid_body");
  g_clear_pointer (&r, json_decref);
  g_autofree char *spaced = g_strdup_printf ("{ %s", good->bytes + 1);
  r = http_json (&n, "POST", "/v1/txs", spaced, 400);
  g_assert_cmpstr (error_code (r), ==, "non_canonical");
  g_clear_pointer (&r, json_decref);
  r = http_json (&n, "POST", "/v1/txs", "{\"body\":", 400);
  g_assert_nonnull (error_code (r));
  g_clear_pointer (&r, json_decref);
  r = http_json (&n, "POST", "/v1/txs", "[1,2]", 200);
  g_assert_cmpint (json_integer_value (json_object_get (r, "accepted")), ==, 0);
  g_clear_pointer (&r, json_decref);

  /* Oversized body: refused before it is read. */
  gsize big = CAIRN_HTTP_MAX_BODY + 1;
  g_autofree char *huge = g_malloc (big);
  memset (huge, ' ', big);
  guint status;
  g_autofree char *text = http (&n, "POST", "/v1/txs", huge, big, &status);
  g_assert_cmpuint (status, ==, 413);

  /* Reads of things that are not there. */
  json_decref (http_json (&n, "GET", "/v1/blocks/99999", NULL, 404));
  json_decref (http_json (&n, "GET", "/v1/blocks/-1", NULL, 400));
  json_decref (http_json (&n, "GET", "/v1/txs/zz", NULL, 400));
  json_decref (http_json (&n, "GET", "/v1/nowhere", NULL, 404));
  json_decref (http_json (&n, "GET", "/v1/accounts/nope", NULL, 400));
  json_decref (http_json (&n, "GET", "/v1/state/bank", NULL, 400));

  /* Metrics count what happened. */
  g_autofree char *m = http (&n, "GET", "/metrics", NULL, 0, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (m, "cairn_block_height"));
  g_assert_nonnull (
      strstr (m, "cairn_txs_rejected_total{reason=\"bad_signature\"} 1"));
  net_down (&n);
}

static const char *
error_message (json_t *j)
{
  return json_string_value (
      json_object_get (json_object_get (j, "error"), "message"));
}

/* bank.transfer's optional memo: carried in the tx (the tx query shows
 * it), not in state; a string of at most 16384 bytes. */
static void
test_transfer_memo (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autoptr (json_t) body = json_pack (
      "{s:s, s:s, s:i, s:s}", "to", addr (n.alice), "denom", "cairn", "amount",
      7, "memo", "invoice 42 \xc3\xa9t\xc3\xa9");
  g_autoptr (GError) err = NULL;
  g_autoptr (CairnTx) t1 = cairn_tx_sign (n.admin, "t", "bank.transfer",
                                          next_nonce (&n, n.admin), body, &err);
  g_assert_no_error (err);
  g_autoptr (json_t) r1 = submit_and_wait (&n, t1);
  g_assert_true (json_is_true (json_object_get (r1, "ok")));
  g_assert_cmpint (balance (&n, n.alice), ==, 7);
  g_autofree char *path = g_strconcat ("/v1/txs/", t1->id_hex, NULL);
  g_autoptr (json_t) q = http_json (&n, "GET", path, NULL, 200);
  g_autofree char *qtext = json_dumps (q, JSON_COMPACT);
  g_assert_nonnull (
      strstr (qtext, "\"memo\":\"invoice 42 \xc3\xa9t\xc3\xa9\""));

  /* Exactly at the limit: accepted and committed. */
  g_autofree char *max = g_malloc (16384 + 1);
  memset (max, 'm', 16384);
  max[16384] = '\0';
  json_object_set_new (body, "memo", json_string (max));
  g_autoptr (CairnTx) t2 = cairn_tx_sign (n.admin, "t", "bank.transfer",
                                          next_nonce (&n, n.admin), body, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (t2->len, >, 16384);
  g_autoptr (json_t) r2 = submit_and_wait (&n, t2);
  g_assert_true (json_is_true (json_object_get (r2, "ok")));
  g_assert_cmpint (balance (&n, n.alice), ==, 14);

  /* One byte over: refused at admission, naming the field and the limit. */
  g_autofree char *over = g_malloc (16385 + 1);
  memset (over, 'm', 16385);
  over[16385] = '\0';
  json_object_set_new (body, "memo", json_string (over));
  g_autoptr (CairnTx) t3 = cairn_tx_sign (n.admin, "t", "bank.transfer",
                                          next_nonce (&n, n.admin), body, &err);
  g_assert_no_error (err);
  g_autoptr (json_t) r3 = http_json (&n, "POST", "/v1/txs", t3->bytes, 400);
  g_assert_cmpstr (error_code (r3), ==, "invalid_body");
  g_assert_nonnull (strstr (error_message (r3), "body.memo"));
  g_assert_nonnull (strstr (error_message (r3), "16385"));
  g_assert_nonnull (strstr (error_message (r3), "16384"));

  /* Not a string: refused. */
  json_object_set_new (body, "memo", json_integer (5));
  g_autoptr (CairnTx) t4 = cairn_tx_sign (n.admin, "t", "bank.transfer",
                                          next_nonce (&n, n.admin), body, &err);
  g_assert_no_error (err);
  g_autoptr (json_t) r4 = http_json (&n, "POST", "/v1/txs", t4->bytes, 400);
  g_assert_cmpstr (error_code (r4), ==, "invalid_body");
  g_assert_nonnull (strstr (error_message (r4), "body.memo must be a string"));

  /* Other fields are still refused. */
  json_object_set_new (body, "memo", json_string ("x"));
  json_object_set_new (body, "note", json_string ("x"));
  g_autoptr (CairnTx) t5 = cairn_tx_sign (n.admin, "t", "bank.transfer",
                                          next_nonce (&n, n.admin), body, &err);
  g_assert_no_error (err);
  g_autoptr (json_t) r5 = http_json (&n, "POST", "/v1/txs", t5->bytes, 400);
  g_assert_nonnull (strstr (error_message (r5), "body.note: unknown field"));
  g_assert_cmpint (balance (&n, n.alice), ==, 14);

  /* The memo is not stored: the bank's state of alice is her balance. */
  g_autofree char *bal
      = g_strdup_printf ("/v1/state/bank/bal/%s/cairn", addr (n.alice));
  g_autoptr (json_t) st = http_json (&n, "GET", bal, NULL, 200);
  g_assert_cmpint (json_integer_value (json_object_get (st, "value")), ==, 14);
  net_down (&n);
}

static void
test_batch_and_events (void)
{
  Net n = { 0 };
  net_up (&n);
  /* Event stream: subscribe through the node API (same path as SSE). */
  g_autoptr (GString) batch = g_string_new ("[");
  for (int i = 0; i < 50; i++) {
    g_autofree char *body
        = g_strdup_printf ("{\"amount\":%d,\"denom\":\"cairn\",\"to\":\"%s\"}",
                           i + 1, addr (n.alice));
    g_autoptr (json_t) jb = json_loads (body, 0, NULL);
    g_autoptr (CairnTx) tx
        = cairn_tx_sign (n.admin, "t", "bank.transfer", i, jb, NULL);
    g_string_append_printf (batch, "%s%s", i ? "," : "", tx->bytes);
  }
  g_string_append (batch, "]");
  g_autoptr (json_t) r = http_json (&n, "POST", "/v1/txs", batch->str, 200);
  g_assert_cmpint (json_integer_value (json_object_get (r, "accepted")), ==,
                   50);
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (balance (&n, n.alice) < 50 * 51 / 2
         && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (balance (&n, n.alice), ==, 50 * 51 / 2);
  net_down (&n);
}

typedef struct {
  GInputStream *in;
  gboolean done;
  GError *error;
  char buf[65536];
  gssize got;
} Stream;

static void
on_stream (GObject *src, GAsyncResult *res, gpointer data)
{
  Stream *s = data;
  s->in = soup_session_send_finish (SOUP_SESSION (src), res, &s->error);
  s->done = TRUE;
}

static void
on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  Stream *s = data;
  s->got = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &s->error);
  s->done = TRUE;
}

/* The server-sent event stream delivers block and tx events live. */
static void
test_event_stream (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autofree char *uri
      = g_strconcat (n.url, "/v1/events?types=block,testapp", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  Stream s = { 0 };
  soup_session_send_async (n.http, msg, G_PRIORITY_DEFAULT, NULL, on_stream,
                           &s);
  while (!s.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (s.error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_autoptr (CairnTx) tx
      = sign (&n, n.admin, "testapp.put", "{\"key\":\"e\",\"value\":\"1\"}");
  json_decref (http_json (&n, "POST", "/v1/txs", tx->bytes, 202));
  g_autoptr (GString) seen = g_string_new (NULL);
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!(strstr (seen->str, "event: testapp.put")
           && strstr (seen->str, "event: testapp.block_counted")
           && strstr (seen->str, "event: block"))
         && g_get_monotonic_time () < deadline) {
    s.done = FALSE;
    g_input_stream_read_async (s.in, s.buf, sizeof s.buf, G_PRIORITY_DEFAULT,
                               NULL, on_read, &s);
    while (!s.done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_no_error (s.error);
    g_assert_cmpint (s.got, >, 0);
    g_string_append_len (seen, s.buf, s.got);
  }
  g_assert_nonnull (strstr (seen->str, "event: block"));
  g_assert_nonnull (strstr (seen->str, tx->id_hex));
  g_assert_nonnull (strstr (seen->str, "event: testapp.put"));
  g_assert_nonnull (strstr (seen->str, "event: testapp.block_counted"));
  g_clear_object (&s.in);
  net_down (&n);
}

/* Read from s until `needle` has been seen (10 s at most). */
static void
read_until (Stream *s, GString *seen, const char *needle)
{
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!strstr (seen->str, needle) && g_get_monotonic_time () < deadline) {
    s->done = FALSE;
    g_input_stream_read_async (s->in, s->buf, sizeof s->buf, G_PRIORITY_DEFAULT,
                               NULL, on_read, s);
    while (!s->done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_no_error (s->error);
    g_assert_cmpint (s->got, >, 0);
    g_string_append_len (seen, s->buf, s->got);
  }
  if (!strstr (seen->str, needle))
    g_error ("no '%s' in the stream: %s", needle, seen->str);
}

static int64_t
open_streams (Net *n)
{
  g_autoptr (json_t) j = http_json (n, "GET", "/v1/testapp/streams", NULL, 200);
  return json_integer_value (json_object_get (j, "open"));
}

/* A plugin's event stream (SDK 1.4): what open sends, then live events;
 * a refusal answered as JSON; the plugin told when the client goes. */
static void
test_plugin_stream (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autofree char *uri = g_strconcat (n.url, "/v1/testapp/events/alice", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  Stream s = { 0 };
  soup_session_send_async (n.http, msg, G_PRIORITY_DEFAULT, NULL, on_stream,
                           &s);
  while (!s.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (s.error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (
                       soup_message_get_response_headers (msg), NULL),
                   ==, "text/event-stream");
  g_autoptr (GString) seen = g_string_new (NULL);
  read_until (&s, seen, "\n\n");
  g_assert_nonnull (
      strstr (seen->str, "event: hello\nid: 0\ndata: {\"who\":\"alice\"}\n\n"));
  g_assert_cmpint (open_streams (&n), ==, 1);

  g_autoptr (CairnTx) tx
      = sign (&n, n.admin, "testapp.put", "{\"key\":\"s\",\"value\":\"1\"}");
  json_decref (http_json (&n, "POST", "/v1/txs", tx->bytes, 202));
  read_until (&s, seen, "event: put\n");
  read_until (&s, seen, "\"key\":\"s\"}");

  /* Refused in open: a JSON error with the code's status, no stream. */
  g_autoptr (json_t) refused
      = http_json (&n, "GET", "/v1/testapp/events/refuse", NULL, 403);
  json_t *err = json_object_get (refused, "error");
  g_assert_cmpstr (json_string_value (json_object_get (err, "code")), ==,
                   "unauthorized");
  g_assert_nonnull (
      strstr (json_string_value (json_object_get (err, "message")), "refused"));
  g_assert_cmpint (open_streams (&n), ==, 1);

  /* The client goes: the plugin hears of it at the next write (an event;
   * otherwise the 15 s ping). */
  g_input_stream_close (s.in, NULL, NULL);
  g_clear_object (&s.in);
  g_autoptr (CairnTx) tx2
      = sign (&n, n.admin, "testapp.put", "{\"key\":\"t\",\"value\":\"2\"}");
  json_decref (http_json (&n, "POST", "/v1/txs", tx2->bytes, 202));
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (open_streams (&n) != 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (open_streams (&n), ==, 0);
  net_down (&n);
}

/* A plugin route with a streamed body (SDK 1.2): the whole of it, single
 * ranges (206 + Content-Range) and a range past the end (416). */
static void
test_streamed_route (void)
{
  Net n = { 0 };
  net_up (&n);
  const guint size = 3u << 20;
  struct {
    const char *range;
    guint status;
    guint off, len;
  } cases[] = {
    { NULL, 200, 0, size },
    { "bytes=0-0", 206, 0, 1 },
    { "bytes=1000-262143", 206, 1000, 262143 - 1000 + 1 },
    { "bytes=-5", 206, size - 5, 5 },
    { "bytes=3000000-", 206, 3000000, size - 3000000 },
    { "bytes=3145728-", 416, 0, 0 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autofree char *uri = g_strconcat (n.url, "/v1/testapp/stream", NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
    if (cases[c].range)
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Range", cases[c].range);
    Reply r = { 0 };
    soup_session_send_and_read_async (n.http, msg, G_PRIORITY_DEFAULT, NULL,
                                      on_reply, &r);
    while (!r.done)
      g_main_context_iteration (NULL, TRUE);
    g_assert_no_error (r.error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, cases[c].status);
    SoupMessageHeaders *h = soup_message_get_response_headers (msg);
    gsize len;
    const guint8 *p = g_bytes_get_data (r.body, &len);
    if (cases[c].status == 416) {
      g_assert_cmpstr (soup_message_headers_get_one (h, "Content-Range"), ==,
                       "bytes */3145728");
    } else {
      g_assert_cmpstr (soup_message_headers_get_content_type (h, NULL), ==,
                       "video/mp4");
      g_assert_cmpuint (len, ==, cases[c].len);
      for (guint i = 0; i < len; i++)
        if (p[i] != (guint8)((cases[c].off + i) * 7 % 251))
          g_error ("range %s: byte %u is %u", cases[c].range, i, p[i]);
    }
    if (cases[c].status == 206) {
      goffset s, e, total;
      g_assert_true (
          soup_message_headers_get_content_range (h, &s, &e, &total));
      g_assert_cmpint (s, ==, cases[c].off);
      g_assert_cmpint (e, ==, cases[c].off + cases[c].len - 1);
      g_assert_cmpint (total, ==, size);
    }
    g_bytes_unref (r.body);
  }
  net_down (&n);
}

static void
test_restart_and_replay (void)
{
  Net n = { 0 };
  net_up (&n);
  g_autoptr (CairnTx) first = NULL;
  for (int i = 0; i < 3; i++) {
    g_autofree char *body = g_strdup_printf (
        "{\"amount\":7,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (n.alice));
    g_autoptr (CairnTx) tx = sign (&n, n.admin, "bank.transfer", body);
    json_decref (submit_and_wait (&n, tx));
    if (first == NULL)
      first = cairn_tx_ref (tx);
  }
  const CairnChainHead *h = cairn_node_head (n.node);
  uint64_t height = h->height;
  g_autofree char *root = g_strdup (h->state_root);
  g_assert_cmpuint (height, >=, 1);

  /* Restart on the same data: same head, same root. */
  g_clear_pointer (&n.node, cairn_node_free);
  n.node = start_node (n.home, FALSE);
  g_assert_cmpuint (cairn_node_head (n.node)->height, ==, height);
  g_assert_cmpstr (cairn_node_head (n.node)->state_root, ==, root);

  /* A damaged store stops the node with a message naming the file, and
   * leaves the data alone: with the original file back, all is there. */
  g_clear_pointer (&n.node, cairn_node_free);
  g_autofree char *mdb
      = g_build_filename (n.home, "data", "store-lmdb", "data.mdb", NULL);
  g_autofree char *saved = NULL;
  gsize saved_len = 0;
  g_assert_true (g_file_get_contents (mdb, &saved, &saved_len, NULL));
  g_assert_cmpint (truncate (mdb, 8192), ==, 0);
  {
    g_autoptr (GError) terr = NULL;
    CairnNodeOptions o = { .home = n.home };
    g_assert_null (cairn_node_new (&o, &terr));
    g_assert_nonnull (terr);
    g_assert_nonnull (strstr (terr->message, "data.mdb"));
    g_assert_true (g_file_set_contents (mdb, saved, saved_len, NULL));
  }
  n.node = start_node (n.home, FALSE);
  g_assert_cmpuint (cairn_node_head (n.node)->height, ==, height);
  g_assert_cmpstr (cairn_node_head (n.node)->state_root, ==, root);

  /* A second node with the same genesis applies the same blocks through
   * validation and ends at the same state root. */
  g_autofree char *home2 = make_home (n.node_key, n.admin);
  g_autoptr (CairnNode) other = start_node (home2, FALSE);
  for (uint64_t hh = 1; hh <= height; hh++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (GBytes) raw
        = n.node->storage.block_get (n.node->store, hh, &err);
    g_assert_no_error (err);
    gsize len;
    const char *p = g_bytes_get_data (raw, &len);
    g_autoptr (json_t) stored = json_loadb (p, len, 0, NULL);
    CairnBlock *b = cairn_chain_validate (other, p, len, &err);
    g_assert_no_error (err);
    g_assert_true (cairn_chain_commit (
        other, b, json_object_get (stored, "certificate"), &err));
    g_assert_no_error (err);
  }
  g_assert_cmpstr (cairn_node_head (other)->state_root, ==, root);

  /* A tampered block is refused by validation. */
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) raw
      = n.node->storage.block_get (n.node->store, height, &err);
  g_autofree char *bad
      = g_strndup (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw));
  char *amt = strstr (bad, "\"amount\":7");
  g_assert_nonnull (amt);
  amt[9] = '8';
  g_clear_pointer (&other, cairn_node_free);
  rm_rf (home2);
  g_free (home2);
  home2 = make_home (n.node_key, n.admin);
  other = start_node (home2, FALSE);
  for (uint64_t hh = 1; hh < height; hh++) {
    g_autoptr (GBytes) rb = n.node->storage.block_get (n.node->store, hh, NULL);
    g_autoptr (json_t) stored = json_loadb (g_bytes_get_data (rb, NULL),
                                            g_bytes_get_size (rb), 0, NULL);
    CairnBlock *b = cairn_chain_validate (other, g_bytes_get_data (rb, NULL),
                                          g_bytes_get_size (rb), NULL);
    g_assert_nonnull (b);
    g_assert_true (cairn_chain_commit (
        other, b, json_object_get (stored, "certificate"), NULL));
  }
  g_assert_null (cairn_chain_validate (other, bad, strlen (bad), &err));
  g_assert_nonnull (err);
  g_clear_pointer (&other, cairn_node_free);
  rm_rf (home2);

  /* A block that repeats a committed tx is invalid (the tx would fail on
   * its used nonce, and the store indexes each tx id once): put one back
   * into the mempool, past its checks, and build. */
  g_clear_error (&err);
  g_assert_true (
      cairn_mempool_add (n.node->mempool, first, first->nonce, 0, &err));
  g_assert_no_error (err);
  g_assert_null (cairn_chain_build (n.node, NULL, &err));
  g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, first->id_hex));
  g_assert_nonnull (strstr (err->message, "was committed at height"));
  g_assert_cmpuint (cairn_node_head (n.node)->height, ==, height);
  net_down (&n);
}

static gboolean
has_role (Net *n, CairnKey *k, const char *role)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a = cairn_node_account_json (n->node, addr (k), &err);
  g_assert_no_error (err);
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get (a, "roles"), i,
                      r) if (g_strcmp0 (json_string_value (r), role)
                             == 0) return TRUE;
  return FALSE;
}

/* Roles: granted and revoked by the admin authority only. */
static void
test_roles (void)
{
  Net n = { 0 };
  net_up (&n);
  g_assert_true (has_role (&n, n.admin, "admin"));
  g_assert_true (has_role (&n, n.node_key, "validator"));
  g_assert_false (has_role (&n, n.alice, "regulator"));
  g_autofree char *body = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"regulator\"}", addr (n.alice));

  /* Not an admin member: refused, nothing granted. */
  g_autoptr (CairnTx) t0 = sign (&n, n.alice, "core.grant_role", body);
  g_autoptr (json_t) r0 = submit_and_wait (&n, t0);
  g_assert_cmpstr (json_string_value (json_object_get (r0, "code")), ==,
                   "unauthorized");
  g_assert_false (has_role (&n, n.alice, "regulator"));

  g_autoptr (CairnTx) t1 = sign (&n, n.admin, "core.grant_role", body);
  g_autoptr (json_t) r1 = submit_and_wait (&n, t1);
  g_assert_true (json_is_true (json_object_get (r1, "ok")));
  g_assert_true (has_role (&n, n.alice, "regulator"));

  g_autoptr (CairnTx) t2 = sign (&n, n.admin, "core.revoke_role", body);
  g_autoptr (json_t) r2 = submit_and_wait (&n, t2);
  g_assert_true (json_is_true (json_object_get (r2, "ok")));
  g_assert_false (has_role (&n, n.alice, "regulator"));

  /* A bad role name never reaches the mempool. */
  g_autofree char *bad = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"Bad Role\"}", addr (n.alice));
  g_autoptr (CairnTx) t3 = sign (&n, n.admin, "core.grant_role", bad);
  g_autoptr (json_t) r3 = http_json (&n, "POST", "/v1/txs", t3->bytes, 400);
  g_assert_cmpstr (error_code (r3), ==, "invalid_body");
  net_down (&n);
}

/* With a 2-of-2 admin authority a grant needs both members' txs. */
static void
test_roles_threshold (void)
{
  Net n = { 0 };
  n.node_key = cairn_key_generate (NULL);
  n.admin = cairn_key_generate (NULL);
  n.alice = cairn_key_generate (NULL);
  n.home = make_home (n.node_key, n.admin);
  /* Rewrite the admin authority: admin and alice, threshold 2. */
  g_autofree char *gpath = g_build_filename (n.home, "genesis.json", NULL);
  g_autoptr (json_t) g = json_load_file (gpath, 0, NULL);
  json_object_set_new (g, "admin",
                       json_pack ("{s:i, s:[s, s]}", "threshold", 2, "members",
                                  addr (n.admin), addr (n.alice)));
  g_assert_cmpint (json_dump_file (g, gpath, JSON_SORT_KEYS), ==, 0);
  n.node = start_node (n.home, TRUE);
  n.url = g_strdup (cairn_node_http_url (n.node));
  n.http = soup_session_new ();
  g_autoptr (CairnKey) carol = cairn_key_generate (NULL);
  g_autofree char *body = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"platform\"}", addr (carol));
  g_autoptr (CairnTx) t1 = sign (&n, n.admin, "core.grant_role", body);
  g_autoptr (json_t) r1 = submit_and_wait (&n, t1);
  g_assert_true (json_is_true (json_object_get (r1, "ok")));
  g_assert_false (has_role (&n, carol, "platform"));
  /* The same member approving twice does not count twice. */
  g_autoptr (CairnTx) t2 = sign (&n, n.admin, "core.grant_role", body);
  g_autoptr (json_t) r2 = submit_and_wait (&n, t2);
  g_assert_cmpstr (json_string_value (json_object_get (r2, "code")), ==,
                   "conflict");
  g_assert_false (has_role (&n, carol, "platform"));
  g_autoptr (CairnTx) t3 = sign (&n, n.alice, "core.grant_role", body);
  g_autoptr (json_t) r3 = submit_and_wait (&n, t3);
  g_assert_true (json_is_true (json_object_get (r3, "ok")));
  g_assert_true (has_role (&n, carol, "platform"));
  net_down (&n);
}

/* Wait (running the main loop) until cond (node) holds or 15 s pass. */
static gboolean
wait_for (gboolean (*cond) (CairnNode *a, CairnNode *b), CairnNode *a,
          CairnNode *b)
{
  int64_t deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (!cond (a, b) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (500), TRUE);
  return cond (a, b);
}

static gboolean
same_head (CairnNode *a, CairnNode *b)
{
  return cairn_node_head (a)->height == cairn_node_head (b)->height
         && g_strcmp0 (cairn_node_head (a)->hash, cairn_node_head (b)->hash)
                == 0;
}

/* A solo validator with P2P on, letting in the node ids of `allow`
 * (id;id...). */
static void
validator_up (Net *v, const char *allow)
{
  v->node_key = cairn_key_generate (NULL);
  v->admin = cairn_key_generate (NULL);
  v->alice = cairn_key_generate (NULL);
  v->home = make_home (v->node_key, v->admin);
  g_autofree char *conf = g_strdup_printf (
      "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\nallow = %s\n", allow);
  write_file (v->home, "conf.d/60-p2p.conf", conf);
  v->node = start_node (v->home, TRUE);
  v->url = g_strdup (cairn_node_http_url (v->node));
  v->http = soup_session_new ();
}

/* A follower of validator v that dials v and, if `also` is set, that
 * node too; it accepts `allow` (may be NULL) dialling it. */
static void
follower_up (Net *f, Net *v, CairnKey *key, CairnNode *also, CairnKey *allow)
{
  f->home = make_home (v->node_key, v->admin);
  g_autofree char *kp = g_build_filename (f->home, "keys", "node.pem", NULL);
  g_unlink (kp);
  g_assert_true (cairn_key_save (key, kp, NULL));
  g_autofree char *dial
      = g_strdup_printf ("%s@127.0.0.1:%u", addr (v->node_key),
                         cairn_tls_transport_port (v->node->p2p));
  if (also) {
    g_autofree char *one = g_steal_pointer (&dial);
    dial = g_strdup_printf ("%s;%s@127.0.0.1:%u", one,
                            cairn_key_address (also->key),
                            cairn_tls_transport_port (also->p2p));
  }
  g_autofree char *conf = g_strdup_printf (
      "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\npersistent_peers = "
      "%s\n%s%s%s[solo]\nfollow = true\n",
      dial, allow ? "allow = " : "", allow ? addr (allow) : "",
      allow ? "\n" : "");
  write_file (f->home, "conf.d/60-p2p.conf", conf);
  f->node = start_node (f->home, TRUE);
  f->url = g_strdup (cairn_node_http_url (f->node));
  f->http = soup_session_new ();
  f->admin = v->admin;
}

static void
follower_down (Net *f)
{
  f->admin = NULL;
  g_clear_object (&f->http);
  g_clear_pointer (&f->node, cairn_node_free);
  rm_rf (f->home);
  g_free (f->home);
  g_free (f->url);
}

/* A solo validator and a follower over real TLS on loopback: the follower
 * catches up from genesis, relays a tx it receives to the validator, and
 * both hold the same chain and state root. */
static void
test_p2p_follower (void)
{
  Net v = { 0 };
  g_autoptr (CairnKey) fkey = cairn_key_generate (NULL);
  validator_up (&v, addr (fkey));
  g_autofree char *body = g_strdup_printf (
      "{\"amount\":9,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (v.alice));
  for (int i = 0; i < 3; i++) {
    g_autoptr (CairnTx) tx = sign (&v, v.admin, "bank.transfer", body);
    json_decref (submit_and_wait (&v, tx));
  }

  /* The follower: same genesis, its own key, dials the validator. */
  Net f = { 0 };
  follower_up (&f, &v, fkey, NULL, NULL);
  g_assert_true (wait_for (same_head, v.node, f.node));
  g_assert_cmpuint (cairn_node_head (f.node)->height, >=, 3);
  g_assert_cmpstr (cairn_node_head (f.node)->state_root, ==,
                   cairn_node_head (v.node)->state_root);

  /* A tx sent to the follower reaches the validator and comes back in a
   * block. */
  g_autoptr (CairnTx) tx = sign (&v, v.admin, "bank.transfer", body);
  g_autoptr (json_t) r = submit_and_wait (&f, tx);
  g_assert_true (json_is_true (json_object_get (r, "ok")));
  g_assert_true (wait_for (same_head, v.node, f.node));
  g_assert_cmpint (balance (&f, v.alice), ==, 4 * 9);

  /* A direct message from the follower's testapp reaches the validator's,
   * named by the sender's node id; a node that is not a peer is refused. */
  g_autofree char *dm = g_strdup_printf (
      "{\"peer\":\"%s\",\"text\":\"hello group\"}", addr (v.node_key));
  json_decref (http_json (&f, "POST", "/v1/testapp/direct", dm, 200));
  int64_t until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  json_t *got = NULL;
  while (g_get_monotonic_time () < until) {
    got = http_json (&v, "GET", "/v1/testapp/direct", NULL, 200);
    if (json_array_size (json_object_get (got, "received")) > 0)
      break;
    g_clear_pointer (&got, json_decref);
    g_main_context_iteration (NULL, FALSE);
  }
  g_assert_nonnull (got);
  json_t *m0 = json_array_get (json_object_get (got, "received"), 0);
  g_assert_cmpstr (json_string_value (json_object_get (m0, "from")), ==,
                   addr (fkey));
  g_assert_cmpstr (json_string_value (json_object_get (m0, "text")), ==,
                   "hello group");
  json_decref (got);
  g_autoptr (json_t) none
      = http_json (&f, "GET", "/v1/testapp/direct", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (none, "received")), ==,
                    0);
  g_autofree char *stranger
      = g_strdup_printf ("{\"peer\":\"%s\",\"text\":\"x\"}", addr (v.alice));
  g_autoptr (json_t) nf
      = http_json (&f, "POST", "/v1/testapp/direct", stranger, 404);
  g_assert_cmpstr (error_code (nf), ==, "not_found");

  follower_down (&f);
  net_down (&v);
}

/* Has `at` heard from its peer `from` that `from` has n peers? */
static gboolean
knows_peers_of (CairnNode *at, CairnNode *from, guint n)
{
  GHashTable *theirs = at->peer_peers ? g_hash_table_lookup (
                           at->peer_peers, cairn_key_address (from->key))
                                      : NULL;
  return theirs != NULL && g_hash_table_size (theirs) == n;
}

static gboolean
wait_peers_of (CairnNode *at, CairnNode *from, guint n)
{
  int64_t deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (!knows_peers_of (at, from, n) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (500), TRUE);
  return knows_peers_of (at, from, n);
}

/* Gossip relays a tx to the peers its sender is not linked to, and only
 * to those: in a line f1 - v - f2, v passes f1's tx on to f2; in a
 * triangle nobody passes it on, and no node receives it twice. */
static void
test_p2p_relay (void)
{
  Net v = { 0 };
  g_autoptr (CairnKey) k1 = cairn_key_generate (NULL);
  g_autoptr (CairnKey) k2 = cairn_key_generate (NULL);
  g_autofree char *allow = g_strdup_printf ("%s;%s", addr (k1), addr (k2));
  validator_up (&v, allow);
  g_autofree char *body = g_strdup_printf (
      "{\"amount\":9,\"denom\":\"cairn\",\"to\":\"%s\"}", addr (v.alice));

  /* The line: f1 and f2 know only v. */
  Net f1 = { 0 }, f2 = { 0 };
  follower_up (&f1, &v, k1, NULL, NULL);
  follower_up (&f2, &v, k2, NULL, NULL);
  g_assert_true (wait_peers_of (v.node, f1.node, 1));
  g_assert_true (wait_peers_of (f2.node, v.node, 2));
  guint64 before = f2.node->metrics.txs_received;
  g_autoptr (CairnTx) tx1 = sign (&v, v.admin, "bank.transfer", body);
  json_decref (submit_and_wait (&f1, tx1));
  g_assert_true (wait_for (same_head, v.node, f2.node));
  g_assert_cmpuint (f2.node->metrics.txs_received, ==, before + 1);
  follower_down (&f2);

  /* The triangle: f2 dials v and f1, f1 lets it in. */
  follower_down (&f1);
  follower_up (&f1, &v, k1, NULL, k2);
  follower_up (&f2, &v, k2, f1.node, NULL);
  g_assert_true (wait_peers_of (v.node, f1.node, 2));
  g_assert_true (wait_peers_of (f2.node, f1.node, 2));
  g_assert_true (wait_for (same_head, v.node, f2.node));
  guint64 v_dups = v.node->metrics.p2p_tx_duplicates;
  guint64 f2_dups = f2.node->metrics.p2p_tx_duplicates;
  before = f2.node->metrics.txs_received;
  g_autoptr (CairnTx) tx2 = sign (&v, v.admin, "bank.transfer", body);
  json_decref (submit_and_wait (&f1, tx2));
  g_assert_true (wait_for (same_head, v.node, f2.node));
  g_assert_cmpint (balance (&f2, v.alice), ==, 2 * 9);
  g_assert_cmpuint (f2.node->metrics.txs_received, ==, before + 1);
  g_assert_cmpuint (f2.node->metrics.p2p_tx_duplicates, ==, f2_dups);
  g_assert_cmpuint (v.node->metrics.p2p_tx_duplicates, ==, v_dups);

  follower_down (&f2);
  follower_down (&f1);
  net_down (&v);
}

static void
test_bad_config (void)
{
  g_autoptr (CairnKey) k = cairn_key_generate (NULL);
  g_autofree char *home = make_home (k, k);
  g_autoptr (GError) err = NULL;
  CairnNodeOptions opts = { .home = home };

  /* Unknown key in a plugin's group stops the node, naming it. */
  write_file (home, "conf.d/50-typo.conf", "[bank]\nminterz = x\n");
  g_assert_null (cairn_node_new (&opts, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "minterz"));
  g_assert_nonnull (strstr (err->message, "50-typo.conf"));
  g_clear_error (&err);

  /* A plugin that does not exist. */
  write_file (home, "conf.d/50-typo.conf", "[plugins]\nload = nosuch\n");
  g_assert_null (cairn_node_new (&opts, &err));
  g_assert_nonnull (strstr (err->message, "nosuch"));
  g_clear_error (&err);

  /* A genesis for another chain. */
  g_autofree char *typo = g_build_filename (home, "conf.d/50-typo.conf", NULL);
  g_unlink (typo);
  write_file (home, "conf.d/50-chain.conf", "[node]\nchain_id = other\n");
  g_assert_null (cairn_node_new (&opts, &err));
  g_assert_nonnull (strstr (err->message, "other"));
  g_clear_error (&err);
  rm_rf (home);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  testapp_dir = g_strdup (argc > 1 ? argv[1] : ".");
  g_test_add_func ("/node/transfer-and-rollback", test_transfer_and_rollback);
  g_test_add_func ("/node/rejections", test_rejections);
  g_test_add_func ("/node/transfer-memo", test_transfer_memo);
  g_test_add_func ("/node/batch", test_batch_and_events);
  g_test_add_func ("/node/event-stream", test_event_stream);
  g_test_add_func ("/node/plugin-stream", test_plugin_stream);
  g_test_add_func ("/node/streamed-route", test_streamed_route);
  g_test_add_func ("/node/restart-and-replay", test_restart_and_replay);
  g_test_add_func ("/node/bad-config", test_bad_config);
  g_test_add_func ("/node/roles", test_roles);
  g_test_add_func ("/node/p2p-follower", test_p2p_follower);
  g_test_add_func ("/node/p2p-relay", test_p2p_relay);
  g_test_add_func ("/node/roles-threshold", test_roles_threshold);
  int rc = g_test_run ();
  g_free (plugins_dir);
  g_free (testapp_dir);
  return rc;
}

/* mock-node: just enough of a node's API for `cairn meter` tests that need
 * no metering plugin (tests/plugins/metering/meter-cli.sh).
 *
 *   mock-node --chain-id ID [--refuse TYPE]
 *
 * Prints its base URL (127.0.0.1, a free port) as the first stdout line.
 *   GET  /v1/status                {"chain_id", "height"}
 *   GET  /v1/accounts/{addr}       {"next_nonce"} (404 before its first tx)
 *   POST /v1/txs                   decoded and verified with the core's tx
 *                                  code (chain id, signature, next nonce);
 *                                  recorded; committed at once (result ok,
 *                                  unless its type is --refuse)
 *   GET  /v1/txs/{id}              the committed tx
 *   GET  /v1/metering/params       the body of the last metering.configure
 *   POST /v1/metering/readings     one reading or an array, each checked
 *                                  with formats.c (shape and signature)
 *   GET  /v1/metering/...          {"mock_path", "query"}: the route asked
 *   GET  /recorded                 {"txs": [{"type", "body", "from",
 *                                  "nonce", "id"}], "readings": [...]}
 * SIGTERM or SIGINT stops it. */
#include <string.h>

#include <cairn/util.h>

#include "crypto.h"
#include "formats.h"
#include "testsrv.h"
#include "tx.h"

typedef struct {
  char *chain_id;
  char *refuse;
  json_t *txs;       /* recorded, in order */
  json_t *readings;  /* recorded, in order */
  json_t *committed; /* id -> the tx's JSON as GET /v1/txs/{id} answers */
  json_t *nonces;    /* address -> next nonce */
  json_t *params;    /* last metering.configure body, or NULL */
} Mock;

static void
api_error (SoupServerMessage *msg, guint status, const char *code,
           const char *message)
{
  testsrv_reply (
      msg, status,
      json_pack ("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

static void
post_tx (Mock *m, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTx) tx
      = cairn_tx_decode (data ? data : "", len, m->chain_id, &error);
  if (tx == NULL || !cairn_tx_verify (tx, &error)) {
    api_error (msg, 400, cairn_reject_name (error->code), error->message);
    return;
  }
  json_int_t next = json_integer_value (json_object_get (m->nonces, tx->from));
  if ((json_int_t)tx->nonce != next) {
    g_autofree char *text = g_strdup_printf ("nonce %" G_GUINT64_FORMAT
                                             ", expected %" JSON_INTEGER_FORMAT,
                                             tx->nonce, next);
    api_error (msg, 400, "bad_nonce", text);
    return;
  }
  json_object_set_new (m->nonces, tx->from, json_integer (next + 1));
  json_array_append_new (m->txs,
                         json_pack ("{s:s,s:O,s:s,s:I,s:s}", "type", tx->type,
                                    "body", tx->body, "from", tx->from, "nonce",
                                    (json_int_t)tx->nonce, "id", tx->id_hex));
  gboolean refused = g_strcmp0 (m->refuse, tx->type) == 0;
  if (!refused && strcmp (tx->type, "metering.configure") == 0) {
    json_decref (m->params);
    m->params = json_deep_copy (tx->body);
  }
  json_t *result = refused
                       ? json_pack ("{s:b,s:s,s:s}", "ok", 0, "code", "invalid",
                                    "error", "refused by mock-node --refuse")
                       : json_pack ("{s:b,s:[]}", "ok", 1, "events");
  json_object_set_new (m->committed, tx->id_hex,
                       json_pack ("{s:s,s:s,s:I,s:s,s:o}", "id", tx->id_hex,
                                  "status", "committed", "height",
                                  (json_int_t)json_array_size (m->txs), "type",
                                  tx->type, "result", result));
  testsrv_reply (msg, 202, json_pack ("{s:s}", "id", tx->id_hex));
}

static void
post_readings (Mock *m, SoupServerMessage *msg)
{
  g_autoptr (json_t) body = testsrv_body_json (msg);
  if (body == NULL)
    return;
  g_autoptr (json_t) list
      = json_is_array (body) ? json_incref (body) : json_pack ("[O]", body);
  g_autoptr (json_t) ids = json_array ();
  size_t i;
  json_t *r;
  json_array_foreach (list, i, r)
  {
    g_autoptr (GError) error = NULL;
    if (!meter_reading_check (r, &error)
        || !meter_reading_verify (r, cairn_ed25519_verify, &error)) {
      api_error (msg, 400, "invalid", error->message);
      return;
    }
    char id[65];
    meter_reading_id (r, id);
    json_array_append_new (ids, json_string (id));
  }
  json_array_extend (m->readings, list);
  testsrv_reply (msg, 200, json_pack ("{s:O}", "accepted", ids));
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer data)
{
  Mock *m = data;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = strcmp (method, "GET") == 0;
  gboolean post = strcmp (method, "POST") == 0;
  if (get && strcmp (path, "/v1/status") == 0)
    testsrv_reply (msg, 200,
                   json_pack ("{s:s,s:I}", "chain_id", m->chain_id, "height",
                              (json_int_t)json_array_size (m->txs)));
  else if (get && g_str_has_prefix (path, "/v1/accounts/")) {
    json_t *n = json_object_get (m->nonces, path + strlen ("/v1/accounts/"));
    if (n == NULL)
      api_error (msg, 404, "not_found", "no such account");
    else
      testsrv_reply (msg, 200, json_pack ("{s:O}", "next_nonce", n));
  } else if (post && strcmp (path, "/v1/txs") == 0)
    post_tx (m, msg);
  else if (get && g_str_has_prefix (path, "/v1/txs/")) {
    json_t *t = json_object_get (m->committed, path + strlen ("/v1/txs/"));
    if (t == NULL)
      api_error (msg, 404, "not_found", "no such tx");
    else
      testsrv_reply (msg, 200, json_incref (t));
  } else if (get && strcmp (path, "/v1/metering/params") == 0) {
    if (m->params == NULL)
      api_error (msg, 404, "not_found",
                 "no params (metering.configure has not run)");
    else
      testsrv_reply (msg, 200, json_incref (m->params));
  } else if (post && strcmp (path, "/v1/metering/readings") == 0)
    post_readings (m, msg);
  else if (get && g_str_has_prefix (path, "/v1/metering/")) {
    const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
    testsrv_reply (
        msg, 200,
        json_pack ("{s:s,s:s}", "mock_path", path, "query", q ? q : ""));
  } else if (get && strcmp (path, "/recorded") == 0)
    testsrv_reply (
        msg, 200,
        json_pack ("{s:O,s:O}", "txs", m->txs, "readings", m->readings));
  else
    api_error (msg, 404, "not_found", "no such route in mock-node");
}

int
main (int argc, char **argv)
{
  g_autofree char *chain_id = NULL, *refuse = NULL;
  const GOptionEntry entries[] = {
    { "chain-id", 0, 0, G_OPTION_ARG_STRING, &chain_id, "The chain id", "ID" },
    { "refuse", 0, 0, G_OPTION_ARG_STRING, &refuse,
      "Commit txs of this type with a failed result", "TYPE" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- a node API stand-in for CLI tests");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc > 1
      || chain_id == NULL) {
    g_printerr (
        "mock-node: usage: mock-node --chain-id ID [--refuse TYPE]%s%s\n",
        error ? ": " : "", error ? error->message : "");
    return 2;
  }
  Mock m = { .chain_id = chain_id, .refuse = refuse };
  m.txs = json_array ();
  m.readings = json_array ();
  m.committed = json_object ();
  m.nonces = json_object ();
  gboolean ok = testsrv_run (0, handle, &m, &error);
  if (!ok)
    g_printerr ("mock-node: %s\n", error->message);
  json_decref (m.txs);
  json_decref (m.readings);
  json_decref (m.committed);
  json_decref (m.nonces);
  json_decref (m.params);
  return ok ? 0 : 1;
}

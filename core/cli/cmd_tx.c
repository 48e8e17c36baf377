/* cairn tx send: sign a transaction with a local key and submit it. */
#include <string.h>

#include "cli.h"
#include "tx.h"

/* BODY as given on the command line: a JSON object with integers only. */
static json_t *
parse_body (const char *text, GError **error)
{
  json_error_t jerr;
  g_autoptr (json_t) body = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
  if (body == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "BODY is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
    return NULL;
  }
  if (!json_is_object (body)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "BODY must be a JSON object, e.g. '{\"to\":\"...\","
                 "\"amount\":100}'");
    return NULL;
  }
  g_autofree char *real = cairn_cli_find_real (body, "BODY");
  if (real) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s is a floating-point number; transactions carry integers "
                 "only (write amounts in the smallest unit, e.g. 150 instead "
                 "of 1.5)",
                 real);
    return NULL;
  }
  return g_steal_pointer (&body);
}

static gboolean
parse_nonce (const char *text, uint64_t *out, GError **error)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &v, NULL)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--nonce: expected a non-negative integer (got '%s')", text);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static int
report_committed (const json_t *tx, gboolean json)
{
  g_autofree char *why = NULL;
  gboolean ok = cairn_client_tx_result_ok (tx, &why);
  g_autofree char *height
      = cairn_cli_json_text (json_object_get (tx, "height"));
  if (json)
    cairn_cli_print_json (tx);
  else
    g_print ("committed at height %s: %s\n", height, ok ? "ok" : why);
  if (ok)
    return CAIRN_EXIT_OK;
  cairn_cli_printerr ("tx %s failed at height %s: %s",
                      json_string_value (json_object_get (tx, "id")), height,
                      why);
  return CAIRN_EXIT_FAILED;
}

/* A refusal that means another tx of this key took the nonce chosen for
 * ours after the lookup ("nonce_too_low" once it committed, "duplicate"
 * while it is pending in another tx; the same tx pending again names our
 * own id). */
static gboolean
nonce_taken (const json_t *reply, guint status, const CairnTx *tx)
{
  if (status != 409)
    return FALSE;
  const json_t *err = json_object_get (reply, "error");
  const char *code = json_string_value (json_object_get (err, "code"));
  const char *message = json_string_value (json_object_get (err, "message"));
  if (g_strcmp0 (code, "nonce_too_low") == 0)
    return TRUE;
  return g_strcmp0 (code, "duplicate") == 0 && message != NULL
         && strstr (message, tx->id_hex) == NULL;
}

#define NONCE_ATTEMPTS 5

json_t *
cairn_cli_tx_submit (CairnClient *client, const CairnKey *key, const char *type,
                     const json_t *body, const uint64_t *nonce_opt,
                     gboolean wait, double timeout_s, GError **error)
{
  g_autofree char *chain_id = cairn_client_chain_id (client, error);
  if (chain_id == NULL)
    return NULL;
  for (int attempt = 1;; attempt++) {
    uint64_t nonce = nonce_opt ? *nonce_opt : 0;
    if (nonce_opt == NULL
        && !cairn_client_next_nonce (client, cairn_key_address (key), &nonce,
                                     error))
      return NULL;
    g_autoptr (GError) local = NULL;
    g_autoptr (CairnTx) tx
        = cairn_tx_sign (key, chain_id, type, nonce, body, &local);
    if (tx == NULL) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "cannot sign a '%s' tx: %s", type, local->message);
      return NULL;
    }
    guint status = 0;
    json_t *reply = cairn_client_call (client, "POST", "/v1/txs", tx->bytes,
                                       tx->len, &status, error);
    if (reply == NULL)
      return NULL;
    if (nonce_opt == NULL && attempt < NONCE_ATTEMPTS
        && nonce_taken (reply, status, tx)) {
      json_decref (reply);
      continue;
    }
    g_autoptr (json_t) ok
        = cairn_client_reply_ok (reply, status, "POST", "/v1/txs", error);
    if (ok == NULL)
      return NULL;
    const char *id = json_string_value (json_object_get (ok, "id"));
    if (id == NULL)
      id = tx->id_hex;
    if (!wait)
      return json_pack ("{s:s,s:s,s:I}", "id", id, "from", tx->from, "nonce",
                        (json_int_t)nonce);
    return cairn_client_wait_tx (client, id, timeout_s, error);
  }
}

static int
tx_send (const char *home, const char *from, const char *node_opt,
         const char *type, const char *body_text, const char *nonce_opt,
         gboolean wait, double timeout, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) body = parse_body (body_text, &error);
  if (body == NULL)
    return cairn_cli_usage ("%s", error->message);
  uint64_t nonce = 0;
  if (nonce_opt && !parse_nonce (nonce_opt, &nonce, &error))
    return cairn_cli_usage ("%s", error->message);

  g_autoptr (CairnKey) key = cairn_cli_load_key (home, from, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *url = cairn_client_url_for (home, node_opt, &error);
  if (url == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (CairnClient) client = cairn_client_new (url, 30, &error);
  if (client == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));

  /* Without --wait: only the acceptance. */
  g_autoptr (json_t) sent
      = cairn_cli_tx_submit (client, key, type, body, nonce_opt ? &nonce : NULL,
                             FALSE, timeout, &error);
  if (sent == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const char *id = json_string_value (json_object_get (sent, "id"));
  nonce = (uint64_t)json_integer_value (json_object_get (sent, "nonce"));
  if (!wait) {
    if (json) {
      json_object_del (sent, "from");
      cairn_cli_print_json (sent);
    } else
      g_print ("tx %s accepted (from %s, nonce %" G_GUINT64_FORMAT ")\n", id,
               json_string_value (json_object_get (sent, "from")), nonce);
    return CAIRN_EXIT_OK;
  }
  if (!json)
    g_print ("tx %s accepted (from %s, nonce %" G_GUINT64_FORMAT
             "), waiting for commit\n",
             id, json_string_value (json_object_get (sent, "from")), nonce);
  g_autoptr (json_t) committed
      = cairn_client_wait_tx (client, id, timeout, &error);
  if (committed == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  return report_committed (committed, json);
}

int
cairn_cmd_tx (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *from = NULL;
  g_autofree char *nonce = NULL;
  g_autofree char *node = NULL;
  gboolean wait = FALSE;
  gboolean json = FALSE;
  double timeout = 30;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home: its keys and [http] listen (default: $CAIRN_HOME)", "DIR" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &from,
      "Signing key: a NAME in DIR/keys or a path to a PEM file", "KEY" },
    { "nonce", 0, 0, G_OPTION_ARG_STRING, &nonce,
      "Nonce to use (default: the account's next_nonce)", "N" },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &wait,
      "Wait until the tx is committed; exit 1 if it failed", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
      "Seconds --wait waits (default: 30)", "S" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "send TYPE BODY", "Sign and submit a transaction.",
      "TYPE is '<plugin>.<name>', e.g. bank.transfer. BODY is a JSON object\n"
      "with integers only, e.g.\n"
      "  cairn tx send --home DIR --from admin bank.transfer \\\n"
      "    '{\"to\":\"ADDRESS\",\"denom\":\"cairn\",\"amount\":100}' --wait\n"
      "The chain id comes from the node's /v1/status.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage ("missing command: send");
  if (!g_str_equal (argv[1], "send"))
    return cairn_cli_usage ("unknown tx command '%s' (send)", argv[1]);
  if (argc != 4)
    return cairn_cli_usage ("usage: tx send TYPE BODY --from KEY --home DIR");
  if (from == NULL)
    return cairn_cli_usage ("missing --from KEY");
  if (!(timeout > 0))
    return cairn_cli_usage ("--timeout must be positive");
  const char *home = home_opt ? home_opt : g_getenv ("CAIRN_HOME");
  return tx_send (home, from, node, argv[2], argv[3], nonce, wait, timeout,
                  json);
}

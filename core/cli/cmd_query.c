/* cairn query: read the chain through the node's HTTP API. --json prints
 * the API's JSON as is (pretty); otherwise a short summary. */
#include <string.h>

#include <cairn/util.h>

#include "cli.h"

typedef void (*HumanFn) (const json_t *reply);

static gboolean
is_hex (const char *s, size_t len)
{
  if (strlen (s) != len)
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (!g_ascii_isxdigit (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
parse_height (const char *text, guint64 *out)
{
  return g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, out, NULL);
}

static void
human_block (const json_t *block)
{
  json_t *txs = cairn_cli_json_find (block, "txs");
  json_t *results = cairn_cli_json_find (block, "results");
  const char *fields[]
      = { "height", "hash", "time", "proposer", "prev_hash", "state_root" };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
    json_t *v = cairn_cli_json_find (block, fields[i]);
    if (v) {
      g_autofree char *text = cairn_cli_json_text (v);
      cairn_cli_print_field (fields[i], "%s", text);
    }
  }
  cairn_cli_print_field ("txs", "%zu", json_array_size (txs));
  size_t i;
  json_t *tx;
  json_array_foreach (txs, i, tx)
  {
    json_t *result = json_array_get (results, i);
    const char *type = json_string_value (json_object_get (tx, "type"));
    const char *from = json_string_value (json_object_get (tx, "from"));
    g_autofree char *nonce
        = cairn_cli_json_text (json_object_get (tx, "nonce"));
    g_autofree char *why = NULL;
    const char *outcome = "-";
    if (json_object_get (result, "result")) /* {"id","result":{..}} */
      outcome = cairn_client_tx_result_ok (result, &why) ? "ok" : why;
    else if (result) {
      g_autoptr (json_t) wrapped = json_pack ("{s:O}", "result", result);
      outcome = cairn_client_tx_result_ok (wrapped, &why) ? "ok" : why;
    }
    g_print ("  [%zu] %s from %s nonce %s: %s\n", i, type ? type : "?",
             from ? from : "?", nonce, outcome);
  }
}

static void
human_tx (const json_t *reply)
{
  json_t *tx = json_object_get (reply, "tx");
  const char *fields[] = { "id", "status", "height", "index" };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++) {
    json_t *v = json_object_get (reply, fields[i]);
    if (v) {
      g_autofree char *text = cairn_cli_json_text (v);
      cairn_cli_print_field (fields[i], "%s", text);
    }
  }
  const char *tx_fields[] = { "type", "from", "nonce" };
  for (guint i = 0; i < G_N_ELEMENTS (tx_fields); i++) {
    json_t *v = json_object_get (tx, tx_fields[i]);
    if (v) {
      g_autofree char *text = cairn_cli_json_text (v);
      cairn_cli_print_field (tx_fields[i], "%s", text);
    }
  }
  if (json_object_get (tx, "body")) {
    g_autofree char *body = cairn_cli_json_text (json_object_get (tx, "body"));
    cairn_cli_print_field ("body", "%s", body);
  }
  if (json_object_get (reply, "result")) {
    g_autofree char *why = NULL;
    gboolean ok = cairn_client_tx_result_ok (reply, &why);
    cairn_cli_print_field ("result", "%s", ok ? "ok" : why);
  }
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static void
human_balances (const json_t *reply)
{
  json_t *balances = json_object_get (reply, "balances");
  if (!json_is_object (balances)) {
    cairn_cli_print_flat (reply);
    return;
  }
  const char *address = json_string_value (json_object_get (reply, "address"));
  if (address)
    g_print ("%s\n", address);
  if (json_object_size (balances) == 0)
    g_print ("  (no balances)\n");
  const char *denom;
  json_t *amount;
  g_autoptr (GPtrArray) denoms = g_ptr_array_new ();
  json_object_foreach (balances, denom, amount)
      g_ptr_array_add (denoms, (gpointer)denom);
  g_ptr_array_sort (denoms, compare_names);
  for (guint i = 0; i < denoms->len; i++) {
    g_autofree char *text
        = cairn_cli_json_text (json_object_get (balances, denoms->pdata[i]));
    g_print ("  %-16s %s\n", (const char *)denoms->pdata[i], text);
  }
  json_t *locked = json_object_get (reply, "locked");
  if (json_object_size (locked) > 0) {
    g_print ("locked:\n");
    g_autoptr (json_t) wrap = json_pack ("{s:O}", "locked", locked);
    cairn_cli_print_flat (wrap);
  }
}

static int
run_query (CairnClient *client, const char *path, gboolean json, HumanFn human)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) reply = cairn_client_get (client, path, &error);
  if (reply == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json)
    cairn_cli_print_json (reply);
  else if (human)
    human (reply);
  else
    cairn_cli_print_flat (reply);
  return CAIRN_EXIT_OK;
}

/* The API path for a query, or NULL after printing a usage error. */
static char *
query_path (const char *home, int argc, char **argv, const char *height_opt)
{
  const char *what = argv[1];
  int want = 0;
  if (g_str_equal (what, "status"))
    want = 2;
  else if (g_str_equal (what, "state"))
    want = 4;
  else if (g_str_equal (what, "block") || g_str_equal (what, "tx")
           || g_str_equal (what, "account") || g_str_equal (what, "balances"))
    want = 3;
  if (want == 0) {
    cairn_cli_usage ("unknown query '%s' (status, block, tx, account, state, "
                     "balances)",
                     what);
    return NULL;
  }
  if (argc != want) {
    cairn_cli_usage ("usage: query %s%s", what,
                     want == 2                     ? ""
                     : want == 4                   ? " PLUGIN KEY"
                     : g_str_equal (what, "block") ? " latest|HEIGHT"
                     : g_str_equal (what, "tx")    ? " ID"
                                                   : " ADDRESS");
    return NULL;
  }
  if (height_opt && !g_str_equal (what, "state")) {
    cairn_cli_usage ("--height applies to 'query state' only");
    return NULL;
  }
  if (g_str_equal (what, "status"))
    return g_strdup ("/v1/status");
  if (g_str_equal (what, "block")) {
    guint64 h;
    if (g_str_equal (argv[2], "latest"))
      return g_strdup ("/v1/blocks/latest");
    if (!parse_height (argv[2], &h)) {
      cairn_cli_usage ("block: expected 'latest' or a height (got '%s')",
                       argv[2]);
      return NULL;
    }
    return g_strdup_printf ("/v1/blocks/%" G_GUINT64_FORMAT, h);
  }
  if (g_str_equal (what, "tx")) {
    if (!is_hex (argv[2], 64)) {
      cairn_cli_usage ("tx: an id is 64 hex characters (got '%s')", argv[2]);
      return NULL;
    }
    g_autofree char *lower = g_ascii_strdown (argv[2], -1);
    return g_strdup_printf ("/v1/txs/%s", lower);
  }
  if (g_str_equal (what, "account") || g_str_equal (what, "balances")) {
    g_autoptr (GError) error = NULL;
    g_autofree char *address
        = cairn_cli_resolve_address (home, argv[2], &error);
    if (address == NULL) {
      cairn_cli_usage ("%s", error->message);
      return NULL;
    }
    return g_strdup_printf (g_str_equal (what, "account")
                                ? "/v1/accounts/%s"
                                : "/v1/bank/balances/%s",
                            address);
  }
  /* state PLUGIN KEY: the key may hold '/', which stays a separator. */
  guint64 h = 0;
  if (height_opt && !parse_height (height_opt, &h)) {
    cairn_cli_usage ("--height: expected a non-negative integer (got '%s')",
                     height_opt);
    return NULL;
  }
  g_autofree char *plugin = g_uri_escape_string (argv[2], NULL, FALSE);
  g_autofree char *key = g_uri_escape_string (argv[3], "/", FALSE);
  if (height_opt)
    return g_strdup_printf ("/v1/state/%s/%s?height=%" G_GUINT64_FORMAT, plugin,
                            key, h);
  return g_strdup_printf ("/v1/state/%s/%s", plugin, key);
}

int
cairn_cmd_query (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *node = NULL;
  g_autofree char *height = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home: its [http] listen and keys (default: $CAIRN_HOME)", "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "height", 0, 0, G_OPTION_ARG_STRING, &height,
      "For 'state': read at this height (default: head)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the API's JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "WHAT [ARGS]", "Read the chain through the node's HTTP API.",
      "WHAT:\n"
      "  status                  chain id, head height and hash, plugins\n"
      "  block latest|HEIGHT     a block and its tx results\n"
      "  tx ID                   a tx: pending or committed, height, result\n"
      "  account ADDRESS         nonce and roles\n"
      "  state PLUGIN KEY        a raw state value (--height N for the past)\n"
      "  balances ADDRESS        bank balances\n"
      "ADDRESS may also be the name of a key in DIR/keys.\n"
      "Exit codes: 0 ok, 1 node error, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage (
        "missing WHAT: status, block, tx, account, state or balances");
  const char *home = home_opt ? home_opt : g_getenv ("CAIRN_HOME");
  g_autofree char *path = query_path (home, argc, argv, height);
  if (path == NULL)
    return CAIRN_EXIT_USAGE;

  g_autoptr (GError) error = NULL;
  g_autofree char *url = cairn_client_url_for (home, node, &error);
  if (url == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (CairnClient) client = cairn_client_new (url, 30, &error);
  if (client == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));

  const char *what = argv[1];
  HumanFn human = g_str_equal (what, "block")      ? human_block
                  : g_str_equal (what, "tx")       ? human_tx
                  : g_str_equal (what, "balances") ? human_balances
                                                   : NULL;
  return run_query (client, path, json, human);
}

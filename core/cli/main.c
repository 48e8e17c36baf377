/* cairn: the command-line tool. main() only dispatches to a subcommand;
 * each subcommand parses its own options (GOptionContext). */
#include <locale.h>
#include <string.h>

#include <cairn/abi.h>

#include "cli.h"

static int cmd_version (int argc, char **argv);

typedef struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "init", cairn_cmd_init, "create a node home (config, keys, genesis)" },
  { "node", cairn_cmd_node, "run a node" },
  { "keys", cairn_cmd_keys, "manage keys: new, list, show" },
  { "tx", cairn_cmd_tx, "sign and submit a transaction: send" },
  { "query", cairn_cmd_query,
    "read the chain: status, block, tx, account, state, balances" },
  { "plugin", cairn_cmd_plugin, "plugins: list, inspect, new" },
  { "bench", cairn_cmd_bench, "end-to-end benchmark against a real node" },
  { "blob", cairn_cmd_blob, "content-addressed files: put, get, stat" },
  { "services", cairn_cmd_services,
    "verified offline services: publish, entitle, key, feedback, review" },
  { "group", cairn_cmd_group,
    "node groups: create, publish, update, show, members, close" },
  { "market", cairn_cmd_market,
    "app services market: create, serve, usage, rate, rank, trade" },
  { "im", cairn_cmd_im,
    "encrypted messages: register, bind, send, inbox, get, chat" },
  { "meter", cairn_cmd_meter,
    "usage proofs: device-key, dealer, configure, collect, proofs, balance" },
  { "store", cairn_cmd_store,
    "move a chain between storage backends: export, import" },
  { "testnet", cairn_cmd_testnet,
    "a local network of nodes: init, start, stop, status" },
  { "dist", cairn_cmd_dist,
    "vendor distributions: build (tarball, .deb), verify" },
  { "version", cmd_version, "print the version and plugin ABI" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage:\n  cairn COMMAND [OPTION…]\n\n"
                "Cairn: a plugin-based consortium blockchain node.\n\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n'cairn COMMAND --help' shows a command's options.\n"
           "Read commands take --json. Exit codes: 0 ok, 1 failed, 2 usage,\n"
           "3 not found, 4 cannot reach the node.\n");
}

/* A distribution's share/cairn/branding.json beside bin/ (cairn dist):
 * {"branding":{"product",…},"name","version"}; NULL when there is none. */
static json_t *
dist_branding (void)
{
  g_autofree char *root = cairn_cli_dist_root ();
  if (root == NULL)
    return NULL;
  g_autofree char *path
      = g_build_filename (root, "share", "cairn", CAIRN_DIST_BRANDING, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  json_error_t jerr;
  json_t *doc = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL || !json_is_object (json_object_get (doc, "branding"))
      || !json_is_string (json_object_get (doc, "name"))
      || !json_is_string (json_object_get (doc, "version"))) {
    cairn_cli_printerr ("warning: %s: not a branding file (%s)", path,
                        doc ? "branding, name, version" : jerr.text);
    json_decref (doc);
    return NULL;
  }
  return doc;
}

static int
cmd_version (int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      NULL, "Print the version and the plugin ABI this binary speaks.",
      "In a vendor distribution (cairn dist) the product, its version and\n"
      "the vendor's branding (share/cairn/branding.json) come first.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc > 1)
    return cairn_cli_usage ("unexpected argument '%s'", argv[1]);
  g_autofree char *fp = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x",
                                         (guint64)CAIRN_BUILD_FINGERPRINT);
  g_autoptr (json_t) dist = dist_branding ();
  if (json) {
    g_autoptr (json_t) out = json_pack (
        "{s:s, s:{s:i, s:i}, s:s}", "version", CAIRN_VERSION, "abi", "major",
        CAIRN_ABI_MAJOR, "minor", CAIRN_ABI_MINOR, "build_fingerprint", fp);
    if (dist)
      json_object_set (out, "distribution", dist);
    cairn_cli_print_json (out);
    return CAIRN_EXIT_OK;
  }
  if (dist) {
    json_t *b = json_object_get (dist, "branding");
    const char *vendor = json_string_value (json_object_get (b, "vendor"));
    const char *name = json_string_value (json_object_get (dist, "name"));
    const char *product = json_string_value (json_object_get (b, "product"));
    g_print ("%s %s (%s)%s%s\n", product ? product : name,
             json_string_value (json_object_get (dist, "version")), name,
             vendor ? " by " : "", vendor ? vendor : "");
    const char *key;
    json_t *value;
    json_object_foreach (b, key, value)
    {
      if (g_str_equal (key, "product") || g_str_equal (key, "vendor"))
        continue;
      g_autofree char *label = g_strconcat ("  ", key, NULL);
      cairn_cli_print_field (label, "%s", json_string_value (value));
    }
  }
  g_print ("cairn %s\nplugin ABI %d.%d (build fingerprint %s)\n", CAIRN_VERSION,
           CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR, fp);
  return CAIRN_EXIT_OK;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2) {
    print_usage (stderr);
    return CAIRN_EXIT_USAGE;
  }
  const char *name = argv[1];
  int sub_argc = argc - 1;
  char **sub_argv = argv + 1;
  char *help_argv[] = { NULL, (char *)"--help", NULL };
  if (g_str_equal (name, "--help") || g_str_equal (name, "-h")
      || g_str_equal (name, "help")) {
    if (argc == 2) {
      print_usage (stdout);
      return CAIRN_EXIT_OK;
    }
    if (!g_str_equal (name, "help") || argc > 3) {
      g_set_prgname ("cairn");
      return cairn_cli_usage ("unexpected argument '%s'", argv[2]);
    }
    /* cairn help COMMAND = cairn COMMAND --help */
    name = argv[2];
    help_argv[0] = argv[2];
    sub_argv = help_argv;
    sub_argc = 2;
  } else if (g_str_equal (name, "--version")) {
    name = "version";
    argv[1] = (char *)"version";
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (!g_str_equal (name, commands[i].name))
      continue;
    /* Help and error hints then read "cairn keys ...". */
    g_autofree char *prgname = g_strconcat ("cairn ", name, NULL);
    g_set_prgname (prgname);
    return commands[i].run (sub_argc, sub_argv);
  }
  g_set_prgname ("cairn");
  return cairn_cli_usage ("unknown command '%s'", name);
}

/* cairn node: run a node from a home directory until SIGINT/SIGTERM. */
#include "cli.h"
#include "node.h"

int
cairn_cmd_node (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *listen = NULL;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home directory (default: $CAIRN_HOME)", "DIR" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      "HTTP API address, overrides [http] listen (port 0 picks a free one)",
      "HOST:PORT" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      NULL, "Run a node until SIGINT or SIGTERM.",
      "Plugins are searched in the build tree's plugins/ directory (when run\n"
      "from a build), the installed plugin directory and [plugins] path.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc > 1)
    return cairn_cli_usage ("unexpected argument '%s'", argv[1]);
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;
  if (!g_file_test (home, G_FILE_TEST_IS_DIR)) {
    cairn_cli_printerr ("%s is not a node home (create one with 'cairn init "
                        "--home %s')",
                        home, home);
    return CAIRN_EXIT_NOT_FOUND;
  }

  g_auto (GStrv) path = cairn_cli_default_plugin_path ();
  CairnNodeOptions opts = {
    .home = home,
    .plugin_path = (const char *const *)path,
    .http_listen = listen,
  };
  return cairn_node_run (&opts);
}

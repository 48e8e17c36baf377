/* cairn blob: store and read blobs through the node's blob routes
 * (POST /v1/blobs, GET /v1/blobs/{cid}[/stat]). Files are streamed both
 * ways, never held in memory. */
#include <string.h>

#include <gio/gunixoutputstream.h>

#include "cli.h"
#include "cmd_blob_migrate.h"

static int
blob_put (CairnClient *client, const char *file, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) f = g_file_new_for_commandline_arg (file);
  g_autoptr (GFileInfo) info = g_file_query_info (
      f, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
      G_FILE_QUERY_INFO_NONE, NULL, &error);
  if (info == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    return cairn_cli_usage ("%s is not a regular file", file);
  g_autoptr (GFileInputStream) in = g_file_read (f, NULL, &error);
  if (in == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) reply
      = cairn_client_upload (client, "/v1/blobs", G_INPUT_STREAM (in),
                             g_file_info_get_size (info), &error);
  if (reply == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json)
    cairn_cli_print_json (reply);
  else
    g_print ("%s\n", json_string_value (json_object_get (reply, "cid")));
  return CAIRN_EXIT_OK;
}

static int
blob_get (CairnClient *client, const char *cid, const char *out_path,
          const char *range)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *range_header = NULL;
  if (range) {
    if (strspn (range, "0123456789-") != strlen (range) || !strchr (range, '-'))
      return cairn_cli_usage ("--range: expected A-B, A- or -N (got '%s')",
                              range);
    range_header = g_strconcat ("bytes=", range, NULL);
  }
  g_autoptr (GOutputStream) out = NULL;
  g_autoptr (GFile) f = NULL;
  g_autofree char *tmp = NULL;
  if (out_path == NULL || strcmp (out_path, "-") == 0) {
    out = g_unix_output_stream_new (1, FALSE);
  } else {
    /* Into a temp file renamed at the end: a failed download leaves no
     * half file under the name asked for. */
    tmp = g_strconcat (out_path, ".part", NULL);
    f = g_file_new_for_commandline_arg (tmp);
    out = G_OUTPUT_STREAM (g_file_replace (
        f, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, &error));
    if (out == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *escaped = g_uri_escape_string (cid, NULL, FALSE);
  g_autofree char *path = g_strconcat ("/v1/blobs/", escaped, NULL);
  uint64_t n = 0;
  gboolean ok
      = cairn_client_download (client, path, range_header, out, &n, &error)
        && g_output_stream_close (out, NULL, &error);
  if (tmp == NULL)
    return ok ? CAIRN_EXIT_OK : cairn_cli_fail (g_steal_pointer (&error));
  if (ok) {
    g_autoptr (GFile) dest = g_file_new_for_commandline_arg (out_path);
    ok = g_file_move (f, dest, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  }
  if (!ok) {
    g_file_delete (f, NULL, NULL);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_printerr ("%" G_GUINT64_FORMAT " bytes written to %s\n", n, out_path);
  return CAIRN_EXIT_OK;
}

static int
blob_stat (CairnClient *client, const char *cid, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *escaped = g_uri_escape_string (cid, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/v1/blobs/%s/stat", escaped);
  g_autoptr (json_t) reply = cairn_client_get (client, path, &error);
  if (reply == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json) {
    cairn_cli_print_json (reply);
  } else {
    cairn_cli_print_field ("cid", "%s",
                           json_string_value (json_object_get (reply, "cid")));
    cairn_cli_print_field (
        "size", "%" JSON_INTEGER_FORMAT " bytes",
        json_integer_value (json_object_get (reply, "size")));
  }
  return CAIRN_EXIT_OK;
}

/* The first argument that is not an option or an option's value. */
static const char *
first_word (int argc, char **argv)
{
  static const char *const with_value[]
      = { "--home",  "--node", "--output", "-o",
          "--range", "--from", "--to",     NULL };
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--") == 0)
      return i + 1 < argc ? argv[i + 1] : NULL;
    if (argv[i][0] != '-')
      return argv[i];
    if (g_strv_contains (with_value, argv[i]))
      i++;
  }
  return NULL;
}

int
cairn_cmd_blob (int argc, char **argv)
{
  /* migrate works on a stopped node's home, with options of its own. */
  if (g_strcmp0 (first_word (argc, argv), "migrate") == 0)
    return cairn_cmd_blob_migrate (argc, argv);
  g_autofree char *home_opt = NULL;
  g_autofree char *node = NULL;
  g_autofree char *output = NULL;
  g_autofree char *range = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home: its [http] listen (default: $CAIRN_HOME)", "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "For 'get': write to FILE (default: standard output)", "FILE" },
    { "range", 0, 0, G_OPTION_ARG_STRING, &range,
      "For 'get': only bytes A-B (inclusive), A- or the last -N", "RANGE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the API's JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "put FILE | get CID | stat CID | migrate --from PLUGIN --to PLUGIN",
      "Store and read blobs (content-addressed files) on a node.",
      "  put FILE   store FILE (streamed); prints its CID\n"
      "  get CID    its bytes, to standard output or -o FILE\n"
      "  stat CID   its size\n"
      "  migrate --from PLUGIN --to PLUGIN [--dry-run] [--allow-missing]\n"
      "             with the node stopped: copy every blob the chain\n"
      "             references (a bafy... string in a committed tx body or a\n"
      "             state value at the head that the source has or says it\n"
      "             lacks) from one blob store to the other and verify each\n"
      "             byte; 'cairn blob migrate --help' says more\n"
      "The node needs a blobstore plugin (blob-fs). CIDs are the ones IPFS\n"
      "gives the same bytes (CIDv1, base32); the CIDv0 (Qm...) form works "
      "too.\n"
      "Exit codes: 0 ok, 1 node error, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc != 3)
    return cairn_cli_usage ("expected put FILE, get CID or stat CID");
  const char *what = argv[1];
  if (strcmp (what, "put") != 0 && strcmp (what, "get") != 0
      && strcmp (what, "stat") != 0)
    return cairn_cli_usage (
        "unknown blob command '%s': put, get, stat or migrate", what);
  const char *home = home_opt ? home_opt : g_getenv ("CAIRN_HOME");
  g_autoptr (GError) error = NULL;
  g_autofree char *url = cairn_client_url_for (home, node, &error);
  if (url == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  /* No timeout: a big blob takes as long as it takes. */
  g_autoptr (CairnClient) client = cairn_client_new (url, 0, &error);
  if (client == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (strcmp (what, "put") == 0)
    return blob_put (client, argv[2], json);
  if (strcmp (what, "get") == 0)
    return blob_get (client, argv[2], output, range);
  return blob_stat (client, argv[2], json);
}

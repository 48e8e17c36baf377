/* cairn store export|import|verify: move a chain between storage backends,
 * or check one (verify: core/chain_verify.c).
 *
 * export writes every committed block in its stored form (header, txs,
 * commit certificate) to a file; import replays such a file into a node
 * home (typically one configured with another storage plugin): each block
 * is re-executed, its state root checked, its certificate verified by the
 * consensus plugin, and committed. Both need the node stopped.
 *
 * File: one JSON line {"format":"cairn-blocks/1","chain_id","from","to",
 * "hash","state_root"} and then, per block, a 4-byte big-endian length and
 * the stored bytes. */
#include <string.h>

#include "apply_ahead.h"
#include "cli.h"
#include "node.h"

#define EXPORT_FORMAT "cairn-blocks/1"
#define MAX_BLOCK_FILE_BYTES (64u << 20)
#define IMPORT_AHEAD 8

typedef struct {
  char *home;
  char *file;
  gboolean json;
} Opts;

/* cairn_cli_print_json borrows; these replies are made to be printed. */
static void
print_json_steal (json_t *value)
{
  cairn_cli_print_json (value);
  json_decref (value);
}

static CairnNode *
open_node (const char *home, GError **error)
{
  g_auto (GStrv) path = cairn_cli_default_plugin_path ();
  CairnNodeOptions opts = {
    .home = home,
    .plugin_path = (const char *const *)path,
    .no_http = TRUE,
  };
  return cairn_node_new (&opts, error);
}

static int
do_export (const Opts *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnNode) node = open_node (o->home, &error);
  if (node == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const CairnChainHead *head = cairn_node_head (node);
  g_autoptr (GFile) f = g_file_new_for_commandline_arg (o->file);
  g_autoptr (GFileOutputStream) out = g_file_replace (
      f, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, &error);
  if (out == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) hdr = json_pack (
      "{s:s,s:s,s:I,s:I,s:s,s:s}", "format", EXPORT_FORMAT, "chain_id",
      head->chain_id, "from", (json_int_t)1, "to", (json_int_t)head->height,
      "hash", head->hash, "state_root", head->state_root);
  g_autofree char *line = json_dumps (hdr, JSON_COMPACT | JSON_SORT_KEYS);
  GOutputStream *os = G_OUTPUT_STREAM (out);
  if (!g_output_stream_write_all (os, line, strlen (line), NULL, NULL, &error)
      || !g_output_stream_write_all (os, "\n", 1, NULL, NULL, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  uint64_t bytes = 0;
  for (uint64_t h = 1; h <= head->height; h++) {
    g_autoptr (GBytes) b = cairn_node_stored_block_bytes (node, h, &error);
    if (b == NULL) {
      g_prefix_error (&error, "block %" G_GUINT64_FORMAT ": ", h);
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    gsize len;
    const void *data = g_bytes_get_data (b, &len);
    guint32 be = GUINT32_TO_BE ((guint32)len);
    if (!g_output_stream_write_all (os, &be, 4, NULL, NULL, &error)
        || !g_output_stream_write_all (os, data, len, NULL, NULL, &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    bytes += len + 4;
  }
  if (!g_output_stream_close (os, NULL, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (o->json)
    print_json_steal (
        json_pack ("{s:I,s:I,s:s}", "blocks", (json_int_t)head->height, "bytes",
                   (json_int_t)bytes, "state_root", head->state_root));
  else
    g_print ("exported blocks 1..%" G_GUINT64_FORMAT
             " of chain %s (%" G_GUINT64_FORMAT
             " bytes) to %s; state root %s\n",
             head->height, head->chain_id, bytes, o->file, head->state_root);
  return CAIRN_EXIT_OK;
}

static gboolean
read_exact (GInputStream *in, void *buf, gsize len, gboolean *eof,
            GError **error)
{
  gsize got = 0;
  if (!g_input_stream_read_all (in, buf, len, &got, NULL, error))
    return FALSE;
  *eof = got == 0;
  if (got != 0 && got != len) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "the file ends inside a block (truncated)");
    return FALSE;
  }
  return TRUE;
}

/* Stop an import at error: the blocks read before it are still applied
 * and made durable (a refusal among them replaces error), then fail. */
static int
import_fail (CairnApplyAhead *ahead, CairnNode *node, const char *file,
             GError *error)
{
  GError *earlier = NULL;
  if (!cairn_apply_ahead_drain (ahead, 0, FALSE, &earlier)) {
    g_error_free (error);
    error = earlier;
    g_prefix_error (&error, "%s: ", file);
  }
  cairn_node_sync_store (node, NULL);
  return cairn_cli_fail (error);
}

static int
do_import (const Opts *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GFile) f = g_file_new_for_commandline_arg (o->file);
  g_autoptr (GFileInputStream) fin = g_file_read (f, NULL, &error);
  if (fin == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (GDataInputStream) din
      = g_data_input_stream_new (G_INPUT_STREAM (fin));
  gsize llen;
  g_autofree char *line
      = g_data_input_stream_read_line (din, &llen, NULL, &error);
  g_autoptr (json_t) hdr = line ? json_loads (line, 0, NULL) : NULL;
  if (hdr == NULL
      || g_strcmp0 (json_string_value (json_object_get (hdr, "format")),
                    EXPORT_FORMAT)
             != 0)
    return cairn_cli_fail (g_error_new (
        CAIRN_ERROR, CAIRN_ERROR_INVALID,
        "%s: not a block export (the first line is not a %s header)", o->file,
        EXPORT_FORMAT));
  g_autoptr (CairnNode) node = open_node (o->home, &error);
  if (node == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const char *chain = json_string_value (json_object_get (hdr, "chain_id"));
  if (g_strcmp0 (chain, cairn_node_chain_id (node)) != 0)
    return cairn_cli_fail (
        g_error_new (CAIRN_ERROR, CAIRN_ERROR_INVALID,
                     "%s holds chain %s, but %s runs chain %s", o->file, chain,
                     o->home, cairn_node_chain_id (node)));
  uint64_t to = (uint64_t)json_integer_value (json_object_get (hdr, "to"));
  uint64_t skipped = 0;
  GInputStream *in = G_INPUT_STREAM (din);
  /* Applied IMPORT_AHEAD blocks behind the one read, so the verify pool
   * checks certificates meanwhile (core/apply_ahead.h). */
  g_autoptr (CairnApplyAhead) ahead = cairn_apply_ahead_new (node);
  for (uint64_t h = 1;; h++) {
    guint32 be;
    gboolean eof;
    if (!read_exact (in, &be, 4, &eof, &error))
      return import_fail (ahead, node, o->file, error);
    if (eof)
      break;
    guint32 len = GUINT32_FROM_BE (be);
    if (len == 0 || len > MAX_BLOCK_FILE_BYTES)
      return import_fail (ahead, node, o->file,
                          g_error_new (CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                                       "%s: block %" G_GUINT64_FORMAT
                                       " has a bad length %u",
                                       o->file, h, len));
    g_autofree char *buf = g_malloc (len);
    if (!read_exact (in, buf, len, &eof, &error) || eof) {
      if (error == NULL)
        g_set_error (&error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                     "the file ends inside a block (truncated)");
      g_prefix_error (&error, "%s: block %" G_GUINT64_FORMAT ": ", o->file, h);
      return import_fail (ahead, node, o->file, error);
    }
    if (h <= cairn_node_head (node)->height) {
      skipped++; /* this home has it already */
      continue;
    }
    if (!cairn_apply_ahead_push (ahead, buf, len, &error)) {
      g_prefix_error (&error, "%s: block %" G_GUINT64_FORMAT ": ", o->file, h);
      return import_fail (ahead, node, o->file, error);
    }
    /* A refused block names its height in the error. */
    if (!cairn_apply_ahead_drain (ahead, IMPORT_AHEAD, h < to, &error)) {
      g_prefix_error (&error, "%s: ", o->file);
      return import_fail (ahead, node, o->file, error);
    }
  }
  if (!cairn_apply_ahead_drain (ahead, 0, FALSE, &error)) {
    g_prefix_error (&error, "%s: ", o->file);
    return import_fail (ahead, node, o->file, error);
  }
  if (!cairn_node_sync_store (node, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  uint64_t applied = cairn_apply_ahead_applied (ahead);
  const CairnChainHead *head = cairn_node_head (node);
  const char *want = json_string_value (json_object_get (hdr, "state_root"));
  gboolean same = head->height == to && g_strcmp0 (head->state_root, want) == 0;
  if (o->json)
    print_json_steal (json_pack (
        "{s:I,s:I,s:I,s:s,s:b}", "applied", (json_int_t)applied, "skipped",
        (json_int_t)skipped, "height", (json_int_t)head->height, "state_root",
        head->state_root, "same_state_root", same));
  else
    g_print ("imported %" G_GUINT64_FORMAT " blocks (%" G_GUINT64_FORMAT
             " already there) into %s: height %" G_GUINT64_FORMAT
             ", state root %s (%s the export's)\n",
             applied, skipped, o->home, head->height, head->state_root,
             same ? "same as" : "DIFFERENT FROM");
  return same ? CAIRN_EXIT_OK : CAIRN_EXIT_FAILED;
}

static int
do_verify (const Opts *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnNode) node = open_node (o->home, &error);
  if (node == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) r = cairn_node_verify_chain (node, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (o->json)
    cairn_cli_print_json (r);
  else
    g_print ("verified blocks 1..%" JSON_INTEGER_FORMAT
             " of chain %s (%" JSON_INTEGER_FORMAT
             " txs, every signature and commit certificate) and "
             "%" JSON_INTEGER_FORMAT
             " state keys against state root %s in %.1f s\n",
             json_integer_value (json_object_get (r, "height")),
             cairn_node_chain_id (node),
             json_integer_value (json_object_get (r, "txs")),
             json_integer_value (json_object_get (r, "state_keys")),
             json_string_value (json_object_get (r, "state_root")),
             json_real_value (json_object_get (r, "seconds")));
  return CAIRN_EXIT_OK;
}

int
cairn_cmd_store (int argc, char **argv)
{
  Opts o = { 0 };
  g_autofree char *home_opt = NULL;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home (default: $CAIRN_HOME); the node must be stopped", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "export FILE | import FILE | verify",
      "Move a chain between storage backends, or check one.",
      "export writes every committed block of the home's chain (stored form,\n"
      "with commit certificates) to FILE. import replays FILE into the home,\n"
      "e.g. one whose conf.d loads another storage plugin: every block is\n"
      "re-executed, its state root and certificate checked, and committed;\n"
      "it ends with the export's state root or exits 1. Blocks the home\n"
      "already has are skipped, so an interrupted import can be rerun.\n"
      "verify checks the home's stored chain without executing it: every\n"
      "block's hash links, tx root, tx signatures and commit certificate,\n"
      "and the head state against the head's state root (a node does the\n"
      "same by itself when it opens a copied store, e.g. a git clone).",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  gboolean verify = argc == 2 && strcmp (argv[1], "verify") == 0;
  if (!verify
      && (argc != 3
          || (strcmp (argv[1], "export") != 0
              && strcmp (argv[1], "import") != 0)))
    return cairn_cli_usage (
        "usage: cairn store export|import FILE --home DIR, or cairn store "
        "verify --home DIR");
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;
  o.home = (char *)home;
  if (verify)
    return do_verify (&o);
  o.file = argv[2];
  return strcmp (argv[1], "export") == 0 ? do_export (&o) : do_import (&o);
}

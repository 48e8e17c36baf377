/* bench-blob-ipfs: put and get throughput of blob-ipfs against a local IPFS
 * daemon, next to blob-fs on the same disk.
 *
 *   run-jsipfs.sh bench-blob-ipfs [--size MIB] [--ranges N] [--api URL]
 *                                 [--dir DIR]
 *
 * Puts a generated stream of --size MiB (default 64) through each plugin's
 * interface, reads it back whole, then reads N random 64 KiB ranges (default
 * 200). The daemon is a fresh js-ipfs started here (its repository under
 * $TMPDIR), or the one at --api URL (e.g. a kubo). blob-fs runs with
 * sync = true and false in DIR (default: a fresh directory under $TMPDIR,
 * the disk the js-ipfs repository is on). The put's time includes
 * generating the bytes. */
#include <stdio.h>

#include <cairn/testing/testing.h>

#include "ipfsd.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_blob_ipfs (void);

static char *api_opt, *dir_opt;
static int size_mib = 64;
static int n_ranges = 200;

static const GOptionEntry entries[] = {
  { "size", 0, 0, G_OPTION_ARG_INT, &size_mib, "Blob size in MiB", "MIB" },
  { "ranges", 0, 0, G_OPTION_ARG_INT, &n_ranges, "Random range reads", "N" },
  { "api", 0, 0, G_OPTION_ARG_STRING, &api_opt,
    "An IPFS daemon's API (default: start js-ipfs)", "URL" },
  { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt, "blob-fs directory", "DIR" },
  { NULL },
};

static double
seconds_since (gint64 t0)
{
  return (double)(g_get_monotonic_time () - t0) / 1e6;
}

/* One backend: put, whole read, ranges; a line of results. */
static gboolean
run (const char *what, CairnTestBlobBackend *b, uint64_t size, GError **error)
{
  enum { BUF = 256 * 1024, RANGE = 64 * 1024 };
  g_autofree uint8_t *buf = g_malloc (BUF);
  const double mb = (double)size / 1e6;

  g_autoptr (GInputStream) gen = cairn_test_gen_stream_new (1, size);
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *cid = cairn_test_blob_put (b, gen, error);
  if (cid == NULL)
    return FALSE;
  double put_s = seconds_since (t0);

  t0 = g_get_monotonic_time ();
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, cid, 0, UINT64_MAX, error);
  if (in == NULL)
    return FALSE;
  uint64_t got = 0;
  for (;;) {
    gssize n = g_input_stream_read (in, buf, BUF, NULL, error);
    if (n < 0)
      return FALSE;
    if (n == 0)
      break;
    got += (uint64_t)n;
  }
  double get_s = seconds_since (t0);
  if (got != size) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "read %" G_GUINT64_FORMAT " bytes of %" G_GUINT64_FORMAT, got,
                 size);
    return FALSE;
  }

  GRand *rand = g_rand_new_with_seed (7);
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < n_ranges; i++) {
    uint64_t off
        = (uint64_t)g_rand_double_range (rand, 0, (double)(size - RANGE));
    g_autoptr (GInputStream) r
        = cairn_test_blob_get (b, cid, off, RANGE, error);
    gsize n;
    if (r == NULL
        || !g_input_stream_read_all (r, buf, RANGE, &n, NULL, error)) {
      g_rand_free (rand);
      return FALSE;
    }
  }
  g_rand_free (rand);
  double ranges_s = seconds_since (t0);
  printf ("%-24s put %7.1f MB/s   get %7.1f MB/s   64 KiB ranges %7.0f/s\n",
          what, mb / put_s, mb / get_s,
          n_ranges > 0 ? n_ranges / ranges_s : 0.0);
  fflush (stdout);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- blob-ipfs bench");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || size_mib < 1
      || n_ranges < 0) {
    g_printerr ("%s\n", error ? error->message : "bad --size or --ranges");
    return 2;
  }
  const uint64_t size = (uint64_t)size_mib << 20;
  g_autoptr (Ipfsd) d = NULL;
  const char *api = api_opt;
  if (api == NULL) {
    d = ipfsd_start (&error);
    if (d == NULL) {
      g_printerr ("cannot start js-ipfs: %s\n", error->message);
      return 1;
    }
    api = ipfsd_api_url (d);
  }
  printf ("%d MiB generated blob; IPFS daemon at %s%s\n", size_mib, api,
          d != NULL ? " (js-ipfs 0.66, started here)" : "");

  {
    /* Data dirs: temporary ones (NULL), removed with the backend. */
    g_autoptr (CairnTestBlobBackend) b = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_ipfs, NULL, &error, "api_url", api, NULL);
    if (b == NULL || !run ("blob-ipfs", b, size, &error)) {
      g_printerr ("blob-ipfs: %s\n", error->message);
      return 1;
    }
  }
  for (int sync = 1; sync >= 0; sync--) {
    g_autofree char *dir
        = dir_opt != NULL ? g_build_filename (dir_opt, "bench-blob-fs", NULL)
                          : NULL;
    CairnTestBlobBackend *b = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_fs, dir, &error, "sync",
        sync ? "true" : "false", NULL);
    gboolean ok
        = b != NULL
          && run (sync ? "blob-fs (sync = true)" : "blob-fs (sync = false)", b,
                  size, &error);
    cairn_test_blob_backend_stop (b);
    if (dir != NULL)
      cairn_test_rm_rf (dir);
    if (!ok) {
      g_printerr ("blob-fs: %s\n", error->message);
      return 1;
    }
  }
  return 0;
}

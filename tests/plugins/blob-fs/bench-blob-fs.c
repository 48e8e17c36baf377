/* bench-blob-fs: put and get throughput of blob-fs, and its peak memory.
 *
 *   bench-blob-fs [--dir DIR] [--size MIB] [--no-sync] [--ranges N]
 *
 * Puts a generated stream of --size MiB (default 1024) through the plugin's
 * interface, reads it back whole, then reads N random 64 KiB ranges. DIR
 * defaults to a fresh directory under $TMPDIR (/tmp), removed at the end;
 * its filesystem is printed (a tmpfs makes fsync free). The reads come
 * from the page cache (the blocks were just written). The put's time
 * includes generating the bytes (about 1/10 of it; printed). */
#include <stdio.h>
#include <sys/vfs.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);

static char *dir_opt;
static int size_mib = 1024;
static int n_ranges = 2000;
static gboolean no_sync;

static const GOptionEntry entries[] = {
  { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt, "Store directory", "DIR" },
  { "size", 0, 0, G_OPTION_ARG_INT, &size_mib, "Blob size in MiB", "MIB" },
  { "ranges", 0, 0, G_OPTION_ARG_INT, &n_ranges, "Random range reads", "N" },
  { "no-sync", 0, 0, G_OPTION_ARG_NONE, &no_sync, "sync = false", NULL },
  { NULL },
};

static const char *
fs_name (const char *path)
{
  struct statfs sf;
  if (statfs (path, &sf) != 0)
    return "unknown";
  switch ((unsigned long)sf.f_type) {
  case 0xEF53:
    return "ext2/3/4";
  case 0x01021994:
    return "tmpfs (fsync is free: numbers are optimistic)";
  case 0x58465342:
    return "xfs";
  case 0x9123683E:
    return "btrfs";
  case 0x794c7630:
    return "overlayfs";
  default:
    return "other";
  }
}

static double
seconds_since (gint64 t0)
{
  return (double)(g_get_monotonic_time () - t0) / 1e6;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- blob-fs bench");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || size_mib < 1
      || n_ranges < 0) {
    g_printerr ("%s\n", error ? error->message : "bad --size or --ranges");
    return 2;
  }
  g_autofree char *tmp = dir_opt ? NULL : cairn_test_make_tmpdir ();
  const char *dir = dir_opt ? dir_opt : tmp;
  const uint64_t size = (uint64_t)size_mib << 20;
  const double mb = (double)size / 1e6;
  enum { BUF = 256 * 1024 };
  g_autofree uint8_t *buf = g_malloc (BUF);

  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, "sync",
      no_sync ? "false" : "true", NULL);
  if (t == NULL) {
    g_printerr ("init: %s\n", error->message);
    return 1;
  }
  g_print ("blob-fs in %s on %s, sync %s, %d MiB blob\n", dir, fs_name (dir),
           no_sync ? "off" : "on", size_mib);

  /* The generator alone, for scale. */
  gint64 t0 = g_get_monotonic_time ();
  for (uint64_t pos = 0; pos < size; pos += BUF)
    cairn_test_gen_fill (1, pos, buf, BUF);
  double gen_s = seconds_since (t0);

  uint64_t hwm0 = cairn_test_peak_rss_kib ();
  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (1, size);
  t0 = g_get_monotonic_time ();
  g_autofree char *cid = cairn_test_blob_put (t, in, &error);
  if (cid == NULL) {
    g_printerr ("put: %s\n", error->message);
    return 1;
  }
  double put_s = seconds_since (t0);
  uint64_t hwm_put = cairn_test_peak_rss_kib ();

  g_autoptr (GInputStream) out
      = cairn_test_blob_get (t, cid, 0, UINT64_MAX, &error);
  uint64_t got = 0;
  gssize n;
  t0 = g_get_monotonic_time ();
  while (out != NULL
         && (n = g_input_stream_read (out, buf, BUF, NULL, &error)) > 0)
    got += (uint64_t)n;
  if (out == NULL || error != NULL || got != size) {
    g_printerr ("get: %s\n", error ? error->message : "short read");
    return 1;
  }
  double get_s = seconds_since (t0);
  uint64_t hwm_get = cairn_test_peak_rss_kib ();

  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < n_ranges; i++) {
    uint64_t off = (uint64_t)(g_rand_double (r) * (double)(size - 65536));
    g_autoptr (GInputStream) rin
        = cairn_test_blob_get (t, cid, off, 65536, &error);
    gsize rn;
    if (rin == NULL
        || !g_input_stream_read_all (rin, buf, 65536, &rn, NULL, &error)
        || rn != 65536) {
      g_printerr ("range: %s\n", error ? error->message : "short read");
      return 1;
    }
  }
  double range_s = seconds_since (t0);

  g_print ("cid %s\n", cid);
  g_print ("generator alone: %.0f MB/s\n", mb / gen_s);
  g_print ("put: %.2f s, %.0f MB/s\n", put_s, mb / put_s);
  g_print ("get: %.2f s, %.0f MB/s (page cache)\n", get_s, mb / get_s);
  if (n_ranges > 0)
    g_print ("random 64 KiB ranges: %.0f/s\n", n_ranges / range_s);
  g_print ("peak RSS (VmHWM): %" G_GUINT64_FORMAT
           " KiB before, %" G_GUINT64_FORMAT
           " KiB after put, %" G_GUINT64_FORMAT " KiB after get\n",
           hwm0, hwm_put, hwm_get);
  g_print ("{\"size_mib\":%d,\"sync\":%s,\"put_mb_s\":%.0f,\"get_mb_s\":%.0f,"
           "\"ranges_per_s\":%.0f,\"vmhwm_kib\":%" G_GUINT64_FORMAT "}\n",
           size_mib, no_sync ? "false" : "true", mb / put_s, mb / get_s,
           n_ranges > 0 ? n_ranges / range_s : 0, hwm_get);
  g_clear_object (&out);
  g_clear_pointer (&t, cairn_test_blob_backend_stop);
  if (tmp != NULL)
    cairn_test_rm_rf (tmp);
  return 0;
}

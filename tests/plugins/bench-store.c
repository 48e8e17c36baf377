/* bench-store: how long store-lmdb takes to commit node-sized blocks.
 *
 *   bench-store [--dir DIR] [--blocks N] [--txs N] [--writes-per-tx N]
 *               [--accounts N] [--no-sync] [--map-size SIZE]
 *
 * Each block has --txs txs, each writing --writes-per-tx keys shaped like a
 * bank transfer (sender and receiver balances, sender nonce) over a pool of
 * --accounts accounts, so blocks mix inserts and overwrites. Only the
 * commit call is timed. DIR defaults to a fresh directory under $TMPDIR
 * (its filesystem is printed: a tmpfs makes fsync free). */
#include <string.h>
#include <sys/vfs.h>

#include <cairn/cairn.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_store_lmdb (void);

static int n_blocks = 10;
static int n_txs = 5000;
static int writes_per_tx = 3;
static int n_accounts = 100000;
static gboolean no_sync;
static char *dir_opt;
static char *map_size = NULL;

static const GOptionEntry entries[] = {
  { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt, "Store directory", "DIR" },
  { "blocks", 0, 0, G_OPTION_ARG_INT, &n_blocks, "Blocks to commit", "N" },
  { "txs", 0, 0, G_OPTION_ARG_INT, &n_txs, "Txs per block", "N" },
  { "writes-per-tx", 0, 0, G_OPTION_ARG_INT, &writes_per_tx,
    "Keys written per tx", "N" },
  { "accounts", 0, 0, G_OPTION_ARG_INT, &n_accounts, "Account pool", "N" },
  { "no-sync", 0, 0, G_OPTION_ARG_NONE, &no_sync, "sync = false", NULL },
  { "map-size", 0, 0, G_OPTION_ARG_STRING, &map_size, "map_size", "SIZE" },
  { NULL },
};

static char *
address (GRand *r)
{
  guint32 n = (guint32)g_rand_int_range (r, 0, n_accounts);
  uint8_t digest[32];
  g_autofree char *seed = g_strdup_printf ("account:%u", n);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;
  g_checksum_update (sum, (const guchar *)seed, -1);
  g_checksum_get_digest (sum, digest, &len);
  return cairn_hex_encode (digest, 20);
}

static CairnTestCommit *
make_block (uint64_t h, GRand *r)
{
  CairnTestCommit *c = cairn_test_commit_new (h);
  GString *block = g_string_new ("{\"txs\":[");
  for (int t = 0; t < n_txs; t++) {
    g_autofree char *from = address (r);
    g_autofree char *to = address (r);
    char value[32];
    for (int w = 0; w < writes_per_tx; w++) {
      g_autofree char *key
          = w == 0   ? g_strdup_printf ("bank/balance/%s/cairn", from)
            : w == 1 ? g_strdup_printf ("bank/balance/%s/cairn", to)
            : w == 2 ? g_strdup_printf ("core/nonce/%s", from)
                     : g_strdup_printf ("app/extra/%s/%d", from, w);
      g_snprintf (value, sizeof value, "%u", g_rand_int (r));
      cairn_test_commit_put (c, key, value);
    }
    uint8_t id[32];
    cairn_test_tx_id (h, (uint32_t)t, id);
    cairn_test_commit_add_tx (c, id, "{\"code\":\"ok\",\"events\":[]}");
    g_string_append_printf (block,
                            "{\"body\":{\"amount\":%u,\"to\":\"%s\"},"
                            "\"sender\":\"%s\",\"sig\":\"%0128d\"},",
                            g_rand_int (r), to, from, 0);
  }
  g_string_append (block, "]}");
  cairn_test_commit_set_block (c, block->str, block->len);
  g_string_free (block, TRUE);
  return c;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

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

static gboolean
count_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  return ++*(guint *)user_data < 100;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- store-lmdb bench");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  g_autofree char *tmp = dir_opt ? NULL : cairn_test_make_tmpdir ();
  const char *dir = dir_opt ? dir_opt : tmp;
  g_autofree char *store_dir = g_build_filename (dir, "store", NULL);

  g_autoptr (CairnTestPlugin) fp
      = cairn_test_plugin_new (cairn_plugin_descriptor_store_lmdb, dir);
  cairn_test_plugin_set_config (fp, "sync", no_sync ? "false" : "true");
  if (map_size != NULL)
    cairn_test_plugin_set_config (fp, "map_size", map_size);
  if (!cairn_test_plugin_init (fp, &error)) {
    g_printerr ("init: %s\n", error->message);
    return 1;
  }
  const CairnStorageIface *iface = cairn_test_plugin_storage (fp);
  CairnStore *store
      = iface->open (cairn_test_plugin_self (fp), store_dir, &error);
  if (store == NULL) {
    g_printerr ("open: %s\n", error->message);
    return 1;
  }
  uint64_t first = 0;
  if (iface->head (store, &first, NULL))
    first++;

  g_print ("store %s on %s, sync %s\n", store_dir, fs_name (store_dir),
           no_sync ? "off" : "on");
  g_print ("%d blocks x %d txs x %d writes (%d state writes per block), "
           "%d accounts\n",
           n_blocks, n_txs, writes_per_tx, n_txs * writes_per_tx, n_accounts);

  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  g_autofree double *ms = g_new0 (double, n_blocks);
  double total = 0;
  for (int b = 0; b < n_blocks; b++) {
    g_autoptr (CairnTestCommit) c = make_block (first + (uint64_t)b, r);
    const CairnCommitData *d = cairn_test_commit_data (c);
    gint64 t0 = g_get_monotonic_time ();
    if (!iface->commit (store, d, &error)) {
      g_printerr ("commit: %s\n", error->message);
      return 1;
    }
    ms[b] = (g_get_monotonic_time () - t0) / 1000.0;
    total += ms[b];
    g_print ("  block %" G_GUINT64_FORMAT ": %zu writes, %zu KiB block, "
             "%.1f ms\n",
             d->height, d->n_writes, d->block_len / 1024, ms[b]);
  }
  qsort (ms, (size_t)n_blocks, sizeof (double), cmp_double);
  g_print ("commit: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms, "
           "mean %.1f ms\n",
           ms[0], ms[n_blocks / 2], ms[(n_blocks * 9) / 10 - (n_blocks >= 10)],
           ms[n_blocks - 1], total / n_blocks);

  /* Reads on the result: point reads at the head and at a past height,
   * and 100-key prefix scans. */
  const int n_reads = 20000;
  uint64_t head = first + (uint64_t)n_blocks - 1;
  gint64 t0 = g_get_monotonic_time ();
  guint hits = 0;
  for (int i = 0; i < n_reads; i++) {
    g_autofree char *a = address (r);
    g_autofree char *key = g_strdup_printf ("bank/balance/%s/cairn", a);
    g_autoptr (GBytes) v = iface->state_get (store, key, CAIRN_HEAD, NULL);
    hits += v != NULL;
  }
  double head_us = (double)(g_get_monotonic_time () - t0) / n_reads;
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < n_reads; i++) {
    g_autofree char *a = address (r);
    g_autofree char *key = g_strdup_printf ("bank/balance/%s/cairn", a);
    g_autoptr (GBytes) v = iface->state_get (store, key, head / 2, NULL);
  }
  double past_us = (double)(g_get_monotonic_time () - t0) / n_reads;
  t0 = g_get_monotonic_time ();
  for (int i = 0; i < 1000; i++) {
    guint n = 0;
    g_autofree char *prefix = g_strdup_printf ("bank/balance/%02x", i % 256);
    iface->state_iter (store, prefix, i % 2 ? CAIRN_HEAD : head / 2, count_cb,
                       &n, NULL);
  }
  double scan_us = (double)(g_get_monotonic_time () - t0) / 1000;
  g_print ("reads: state_get at head %.1f us (%u%% hits), at a past height "
           "%.1f us, 100-key prefix scan %.0f us (head and past)\n",
           head_us, hits * 100 / n_reads, past_us, scan_us);

  iface->close (store);
  if (tmp != NULL)
    cairn_test_rm_rf (tmp);
  return 0;
}

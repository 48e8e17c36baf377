/* The SDK's storage suite on a storage plugin's .so, plus a test of one's
 * own on the same fake host:
 *
 *   test-storage PLUGIN.so [GTEST-OPTION]...
 *
 * Built with nothing but the installed SDK (pkg-config
 * cairn-sdk-testing-1); see the SDK's README, "Testing your plugin". */
#include <cairn/testing/testing.h>

static CairnPluginEntry entry;

/* A test of one's own: a block, a reopen, the value read back. */
static void
test_reopen_reads (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = cairn_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  {
    g_autoptr (CairnTestStore) s
        = cairn_test_store_open (entry, NULL, dir, &error);
    g_assert_no_error (error);
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    cairn_test_commit_put (c, "vendor/greeting", "hello");
    g_assert_true (cairn_test_store_commit (s, c, &error));
    g_assert_no_error (error);
  }
  g_autoptr (CairnTestStore) s
      = cairn_test_store_open (entry, NULL, dir, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) v = cairn_test_store_iface (s)->state_get (
      cairn_test_store_handle (s), "vendor/greeting", CAIRN_HEAD, &error);
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (v, "hello");
  g_clear_pointer (&s, cairn_test_store_close);
  cairn_test_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  if (argc != 2) {
    g_printerr ("usage: %s PLUGIN.so [GTEST-OPTION]...\n", argv[0]);
    return 2;
  }
  /* dlopen with the node's load rule (refuses another ABI, by name). */
  entry = cairn_test_plugin_load (argv[1], &error);
  if (entry == NULL) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  const CairnPluginDescriptor *desc = entry ();
  if ((desc->kinds & CAIRN_KIND_STORAGE) == 0) {
    g_printerr ("%s: plugin '%s' is not a storage plugin\n", argv[1], desc->id);
    return 1;
  }
  /* Every conformance case and the crash harness, as /storage/<id>/... */
  cairn_test_storage_add (desc->id, entry, NULL);
  g_test_add_func ("/vendor/reopen-reads", test_reopen_reads);
  return g_test_run ();
}

/* store-lmdb crash consistency: the crash case of the SDK's storage suite
 * (libcairn-sdk-testing-1, <cairn/testing/storage.h>). A child process
 * commits the blocks of a deterministic chain in a loop and is SIGKILLed
 * at random moments, half of the time inside a large commit, 24 times;
 * after each kill the store must open with every block up to its head,
 * the exact state of the head (nothing half-applied), correct past
 * states, and accept head + 1. Randomness comes from the GLib test seed
 * (rerun a failure with --seed). The conformance cases run in
 * test-store-lmdb.c. */
#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_store_lmdb (void);

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const CairnTestStorageBackend lmdb = {
    .name = "store-lmdb",
    .entry = cairn_plugin_descriptor_store_lmdb,
    .cases = CAIRN_TEST_STORAGE_CRASH,
  };
  cairn_test_storage_add_backend (&lmdb);
  return g_test_run ();
}

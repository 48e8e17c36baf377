/* The storage conformance suite: one set of GLib tests that every storage
 * backend (CairnStorageIface) must pass.
 *
 * Usage, in a test program linked with the backend's static library:
 *
 *   g_test_init (&argc, &argv, NULL);
 *   cairn_storage_conformance_add_tests ("store-lmdb",
 *                                        cairn_plugin_descriptor_store_lmdb);
 *   return g_test_run ();
 *
 * Tests are registered as /storage/<backend_name>/<case>. Each case runs
 * the plugin's init through a fake host (fake_host.h), opens a store in a
 * fresh temp directory (which does not exist yet: open must create it) and
 * checks the contract of sdk/include/cairn/interfaces.h, including:
 *  - lookups of absent things fail with CAIRN_ERROR_NOT_FOUND;
 *  - commit refuses any height but head + 1 (0 on an empty store) with
 *    CAIRN_ERROR_CONFLICT and changes nothing;
 *  - state at CAIRN_HEAD and at every past height; an explicit height
 *    above the head is NOT_FOUND; iteration over an empty store at
 *    CAIRN_HEAD visits nothing and succeeds;
 *  - iteration is ascending bytewise, bounded by the prefix, stops when the
 *    callback returns FALSE (and still succeeds), and the callback may read
 *    the store;
 *  - keys up to "<32-char ns>/" + CAIRN_MAX_KEY bytes, values up to
 *    CAIRN_MAX_VALUE, empty values (distinct from deleted keys);
 *  - the private namespace is separate from the shared state;
 *  - everything survives close and reopen;
 *  - commits with CAIRN_COMMIT_DEFER_SYNC read like any other and survive
 *    sync() and reopen (a store without sync() ignores the flag).
 */
#pragma once

#include <cairn/cairn.h>

void cairn_storage_conformance_add_tests (const char *backend_name,
                                          CairnPluginEntry entry);
/* Same, with config keys for the plugin's group: key, value, ..., NULL. */
void
cairn_storage_conformance_add_tests_with_config (const char *backend_name,
                                                 CairnPluginEntry entry,
                                                 const char *const *config);

/* Cairn SDK testing — the storage conformance suite: one set of GLib tests
 * that every storage backend (CairnStorageIface, plugin kind storage) must
 * pass, including a crash harness.
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1). Usage,
 * in a test program linked with the backend (statically, or loaded with
 * cairn_test_plugin_load from <cairn/testing/fake_host.h>):
 *
 *   g_test_init (&argc, &argv, NULL);
 *   cairn_test_storage_add ("my-store", cairn_plugin_descriptor_my_store,
 *                           NULL);
 *   return g_test_run ();
 *
 * or run `cairn-conformance my-store.so`, which does the same.
 *
 * Tests are registered as /storage/<name>/<case>. Each case runs the
 * plugin's init through the fake host (<cairn/testing/fake_host.h>; every
 * config key given must be read during init), opens a store in a fresh
 * temporary directory (which does not exist yet: open must create it) and
 * checks the contract of <cairn/interfaces.h>:
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
 *    CAIRN_MAX_VALUE, empty values (distinct from deleted keys), 20000 keys
 *    in one block;
 *  - the private namespace is separate from the shared state, and
 *    private_write (optional, 1.3) works between blocks;
 *  - everything survives close and reopen;
 *  - commits with CAIRN_COMMIT_DEFER_SYNC read like any other and survive
 *    sync() and reopen (a store without sync() ignores the flag);
 *  - crash: a child process commits blocks of a deterministic chain (see
 *    cairn_test_chain_commit) in a loop and is SIGKILLed at random moments,
 *    half of the time inside a large commit, CAIRN_TEST_CRASH_ROUNDS times
 *    in a row on the same store. After each kill the store must open with
 *    every block whose commit returned and none that had not begun, no
 *    half-applied block (the exact state of the head, its txs and private
 *    keys), correct past states, and then accept head + 1. The kill times
 *    come from the GLib test seed (replay a failure with --seed) and scale
 *    with the time one large commit takes on this machine.
 */
#pragma once

#include <cairn/cairn.h>

#include "commit.h"
#include "fake_host.h"

G_BEGIN_DECLS

/* ---- registering the suite ------------------------------------------- */

/* Which cases to register (bits). */
typedef enum {
  CAIRN_TEST_STORAGE_CONFORMANCE = 1u << 0, /* the contract cases */
  CAIRN_TEST_STORAGE_CRASH = 1u << 1,       /* the crash harness */
  CAIRN_TEST_STORAGE_ALL = 0x3u,
} CairnTestStorageCases;

/* How many times the crash case kills the committing child. */
#define CAIRN_TEST_CRASH_ROUNDS 24

/* A backend and how to test it. Zero what you do not need. */
typedef struct CairnTestStorageBackend {
  /* The test paths are /storage/<name>/<case>; e.g. the plugin id, or the
   * id and a config variant ("store-lmdb-nosync"). Required. */
  const char *name;
  /* The plugin's entry point. Required. */
  CairnPluginEntry entry;
  /* The plugin's config: key, value, ..., NULL; or NULL. */
  const char *const *config;
  /* The cases to register; 0 means CAIRN_TEST_STORAGE_ALL. */
  CairnTestStorageCases cases;
  /* Kills in the crash case; 0 means CAIRN_TEST_CRASH_ROUNDS. */
  guint crash_rounds;
  /* Optional, for the crash case: called after each kill once the store
   * passed the checks (and is closed again), and once at the end, with
   * the store directory and its head (-1: empty). Check what is the
   * backend's own (its files) with g_assert; user_data is passed on. */
  void (*crash_check) (const char *dir, gint64 head, void *user_data);
  void *user_data;
} CairnTestStorageBackend;

/* Registers the whole suite (conformance and crash cases) for the backend
 * whose descriptor entry returns, with the config pairs key, value, ...,
 * NULL (or NULL), as /storage/<name>/<case>. Call between g_test_init and
 * g_test_run; name and config are copied. */
void cairn_test_storage_add (const char *name, CairnPluginEntry entry,
                             const char *const *config);

/* Same with every choice of CairnTestStorageBackend; the struct and its
 * strings are copied (user_data is not). */
void cairn_test_storage_add_backend (const CairnTestStorageBackend *backend);

/* ---- a store on the fake host -------------------------------------------
 */

/* A backend plugin initialised on the fake host with one store open. */
typedef struct CairnTestStore CairnTestStore;

/* Initialises the plugin of entry with config (key, value, ..., NULL; or
 * NULL) and data dir dir, and opens the store in dir. NULL + the error of
 * init or open. */
CairnTestStore *cairn_test_store_open (CairnPluginEntry entry,
                                       const char *const *config,
                                       const char *dir, GError **error);

/* Closes the store, runs the plugin's fini, frees s (NULL is ignored). */
void cairn_test_store_close (CairnTestStore *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestStore, cairn_test_store_close)

/* The storage interface the plugin registered. */
const CairnStorageIface *cairn_test_store_iface (CairnTestStore *s);

/* The open store, to pass to the interface's callbacks. */
CairnStore *cairn_test_store_handle (CairnTestStore *s);

/* The plugin instance (its log, config). */
CairnTestPlugin *cairn_test_store_plugin (CairnTestStore *s);

/* Commits c through the interface; FALSE + the backend's error. */
gboolean cairn_test_store_commit (CairnTestStore *s, CairnTestCommit *c,
                                  GError **error);

/* ---- the crash harness's deterministic chain ----------------------------
 *
 * Block h of the chain is a function of h only, so a checker knows what
 * any height must hold: a counter key c/counter = "<h>", a few of 10 small
 * keys k/<i> put or deleted, and at every fifth height a large block (256
 * KiB of bytes and 3000 values of 200 bytes under big/), CAIRN_TEST_CHAIN_N_TXS
 * txs, and the private key p/last = "<h>". Backend-specific crash tests
 * (e.g. a kill at each step of a commit, through the backend's own test
 * hooks) build on it. */

#define CAIRN_TEST_CHAIN_N_TXS 3

/* Block height of the chain, ready to commit (cairn_test_commit_free). */
CairnTestCommit *cairn_test_chain_commit (uint64_t height);

/* Whether block height is one of the large ones. */
gboolean cairn_test_chain_is_large (uint64_t height);

/* The whole shared state after block height, as "key=value;" in key
 * order (g_free). */
char *cairn_test_chain_state (uint64_t height);

/* Opens the store in dir with entry and config and checks that it holds a
 * prefix of the chain: a head at least min_head (-1: an empty store is
 * allowed) and at most max_head (-1: no bound); every block up to the head
 * with its bytes and hash, nothing above it; the head's txs and private
 * keys; the exact state of the head (at CAIRN_HEAD and at its height) and
 * of some past heights. Closes the store again. Returns the head, or -1
 * when the store is empty. Aborts the test on any difference, naming it. */
gint64 cairn_test_chain_verify (CairnPluginEntry entry,
                                const char *const *config, const char *dir,
                                gint64 min_head, gint64 max_head);

G_END_DECLS

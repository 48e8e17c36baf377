/* cairn-conformance (sdk/testing) on real shared objects:
 *
 *   /conformance/usage         no plugin, --config without KEY=VALUE, an
 *                              unknown option: exit 2 with the usage;
 *                              --help: exit 0
 *   /conformance/not-a-plugin  a missing file, a text file: exit 1 naming
 *                              the file
 *   /conformance/refused       the plugin-host fixtures of tests/unit/host:
 *                              another ABI major, a newer minor, another C
 *                              ABI, a bad magic, a short descriptor, no
 *                              version, no init, no entry symbol, an
 *                              undefined symbol: each refused naming the
 *                              file and the field, no test run
 *   /conformance/kind          an app plugin: refused, naming its kind
 *   /conformance/storage       store-lmdb.so: -l lists the whole suite with
 *                              the crash case; a few cases pass, with and
 *                              without config; an unread or bad config key
 *                              fails the run, naming the key
 *   /conformance/blob          blob-fs.so: two cases of the blob suite pass
 *
 * The full suites run on the installed .so files in tests/sdk (out-of-tree)
 * and on the static libraries in the plugin tests. */
#include <string.h>
#include <sys/wait.h>

#include <cairn/testing/testing.h>

typedef struct {
  int status; /* the exit status, or 128 + signal */
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

/* Runs cairn-conformance with the arguments, NULL-terminated. */
static Run run_exe (const char *first, ...) G_GNUC_NULL_TERMINATED;
static Run
run_exe (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  Run r = { 0 };
  int wait_status;
  va_list ap;

  g_ptr_array_add (argv, (char *)CONFORMANCE_EXE);
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *)a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_autofree char *cmd = g_strjoinv (" ", (char **)argv->pdata);
  if (!g_spawn_sync (NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                     NULL, &r.out, &r.err, &wait_status, &error))
    g_error ("cannot run %s: %s", CONFORMANCE_EXE, error->message);
  if (WIFEXITED (wait_status))
    r.status = WEXITSTATUS (wait_status);
  else
    r.status = 128 + WTERMSIG (wait_status);
  g_test_message ("%s: status %d\n%s%s", cmd, r.status, r.out, r.err);
  return r;
}

static void
assert_contains (const char *text, const char *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("'%s' does not contain '%s'", text, needle);
}

static void
test_usage (void)
{
  {
    g_auto (Run) r = run_exe (NULL, NULL);
    g_assert_cmpint (r.status, ==, 2);
    assert_contains (r.err, "no plugin given");
    assert_contains (r.err, "Usage: cairn-conformance");
  }
  {
    g_auto (Run) r = run_exe ("--config", NULL);
    g_assert_cmpint (r.status, ==, 2);
    assert_contains (r.err, "--config needs KEY=VALUE");
  }
  {
    g_auto (Run) r = run_exe ("--config", "sync", STORE_LMDB_SO, NULL);
    g_assert_cmpint (r.status, ==, 2);
    assert_contains (r.err, "--config 'sync': expected KEY=VALUE");
  }
  {
    g_auto (Run) r = run_exe ("--config==x", STORE_LMDB_SO, NULL);
    g_assert_cmpint (r.status, ==, 2);
    assert_contains (r.err, "expected KEY=VALUE");
  }
  {
    g_auto (Run) r = run_exe ("-p", "/storage", STORE_LMDB_SO, NULL);
    g_assert_cmpint (r.status, ==, 2);
    assert_contains (r.err, "unknown option -p");
    assert_contains (r.err, "after PLUGIN.so");
  }
  {
    g_auto (Run) r = run_exe ("--help", NULL);
    g_assert_cmpint (r.status, ==, 0);
    assert_contains (r.out, "Usage: cairn-conformance");
    assert_contains (r.out, "--config KEY=VALUE");
  }
}

static void
test_not_a_plugin (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autofree char *text = g_build_filename (dir, "notes.so", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.so", NULL);
  g_assert_true (g_file_set_contents (text, "not a plugin\n", -1, NULL));
  {
    g_auto (Run) r = run_exe (text, NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, text);
    assert_contains (r.err, "cannot load plugin");
    g_assert_cmpstr (r.out, ==, "");
  }
  {
    g_auto (Run) r = run_exe (missing, NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, missing);
    assert_contains (r.err, "no such file");
  }
  cairn_test_rm_rf (dir);
}

static void
test_refused (void)
{
  g_autofree char *minor
      = g_strdup_printf ("field abi_min_minor: plugin %d, host %d",
                         CAIRN_ABI_MINOR + 1, CAIRN_ABI_MINOR);
  g_autofree char *major
      = g_strdup_printf ("field abi_major: plugin 2, host %d", CAIRN_ABI_MAJOR);
  const struct {
    const char *name, *says, *also;
  } cases[] = {
    { "abi2", major, "rebuild the plugin against cairn-sdk-1" },
    { "newminor", minor, "CAIRN_PLUGIN_MIN_MINOR" },
    { "fingerprint", "field build_fingerprint", "sizeof(long): plugin 4" },
    { "badmagic", "field magic: plugin 0xdeadbeef", "CAIRN_PLUGIN_DEFINE" },
    { "small", "field struct_size: plugin 64", "rebuild" },
    { "noversion", "field version: plugin NULL", ".version" },
    { "noinit", "field init: plugin NULL", ".init" },
    { "noentry", "no 'cairn_plugin_descriptor' symbol", "CAIRN_PLUGIN_DEFINE" },
    { "undef", "undefined symbol", "cairn_fixture_no_such_function" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *name = g_strconcat (cases[i].name, ".so", NULL);
    g_autofree char *so = g_build_filename (FIXTURE_DIR, name, NULL);
    g_assert_true (g_file_test (so, G_FILE_TEST_IS_REGULAR));
    g_auto (Run) r = run_exe (so, NULL);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, so);
    assert_contains (r.err, cases[i].says);
    assert_contains (r.err, cases[i].also);
    /* Refused before any test. */
    g_assert_null (strstr (r.out, "ok "));
  }
}

static void
test_kind (void)
{
  g_autofree char *so = g_build_filename (FIXTURE_DIR, "good.so", NULL);
  g_auto (Run) r = run_exe (so, NULL);
  g_assert_cmpint (r.status, ==, 1);
  assert_contains (r.err, so);
  assert_contains (r.err, "plugin 'good' is of kind app");
  assert_contains (r.err, "storage and blobstore plugins only");
}

static void
test_storage (void)
{
  {
    g_auto (Run) r = run_exe (STORE_LMDB_SO, "-l", NULL);
    g_assert_cmpint (r.status, ==, 0);
    static const char *const cases[]
        = { "empty",     "genesis",       "wrong-height", "lookups",
            "history",   "iter-prefix",   "iter-stop",    "iter-reentrant",
            "private",   "private-write", "reopen",       "large-values",
            "many-keys", "long-keys",     "empty-value",  "deferred-sync",
            "crash" };
    for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
      g_autofree char *path
          = g_strdup_printf ("/storage/store-lmdb/%s\n", cases[i]);
      assert_contains (r.out, path);
    }
    g_assert_null (strstr (r.out, "/blob-store/"));
  }
  {
    g_auto (Run) r
        = run_exe (STORE_LMDB_SO, "-p", "/storage/store-lmdb/genesis", "-p",
                   "/storage/store-lmdb/wrong-height", NULL);
    g_assert_cmpint (r.status, ==, 0);
    assert_contains (r.out, "plugin 'store-lmdb'");
    assert_contains (r.out, "ok 1 /storage/store-lmdb/genesis");
    assert_contains (r.out, "ok 2 /storage/store-lmdb/wrong-height");
    g_assert_null (strstr (r.out, "not ok"));
  }
  {
    g_auto (Run) r
        = run_exe ("--config", "sync=false", "--config=map_size=1GiB",
                   STORE_LMDB_SO, "-p", "/storage/store-lmdb/reopen", NULL);
    g_assert_cmpint (r.status, ==, 0);
    assert_contains (r.out, "ok 1 /storage/store-lmdb/reopen");
  }
  {
    /* A key the plugin does not read fails the case, naming the key. */
    g_auto (Run) r = run_exe ("--config", "sync_typo=false", STORE_LMDB_SO,
                              "-p", "/storage/store-lmdb/genesis", NULL);
    g_assert_cmpint (r.status, !=, 0);
    g_autofree char *all = g_strconcat (r.out, r.err, NULL);
    assert_contains (all, "sync_typo: unknown key");
  }
  {
    g_auto (Run) r = run_exe ("--config", "map_size=lots", STORE_LMDB_SO, "-p",
                              "/storage/store-lmdb/genesis", NULL);
    g_assert_cmpint (r.status, !=, 0);
    g_autofree char *all = g_strconcat (r.out, r.err, NULL);
    assert_contains (all, "init failed");
    assert_contains (all, "map_size");
    assert_contains (all, "lots");
  }
}

static void
test_blob (void)
{
  g_auto (Run) r = run_exe ("--config", "sync=false", BLOB_FS_SO, "-p",
                            "/blob-store/blob-fs/errors", "-p",
                            "/blob-store/blob-fs/put-errors", NULL);
  g_assert_cmpint (r.status, ==, 0);
  assert_contains (r.out, "plugin 'blob-fs'");
  assert_contains (r.out, "ok 1 /blob-store/blob-fs/errors");
  assert_contains (r.out, "ok 2 /blob-store/blob-fs/put-errors");
  g_assert_null (strstr (r.out, "not ok"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/conformance/usage", test_usage);
  g_test_add_func ("/conformance/not-a-plugin", test_not_a_plugin);
  g_test_add_func ("/conformance/refused", test_refused);
  g_test_add_func ("/conformance/kind", test_kind);
  g_test_add_func ("/conformance/storage", test_storage);
  g_test_add_func ("/conformance/blob", test_blob);
  return g_test_run ();
}

/* store-lmdb: the SDK's storage conformance suite (libcairn-sdk-testing-1)
 * plus what is LMDB's own: config
 * keys, the format version, damaged files, locks, map size, records that do
 * not decode. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <leveldb/c.h>
#include <lmdb.h>

#include <cairn/cairn.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_store_lmdb (void);

/* ---- a plugin and a store in a temp dir ------------------------------- */

typedef struct {
  char *tmp;
  char *dir;
  CairnTestPlugin *fp;
  const CairnStorageIface *iface;
} Env;

static Env *
env_new_with (const char *const *config)
{
  g_autoptr (GError) error = NULL;
  Env *e = g_new0 (Env, 1);
  e->tmp = cairn_test_make_tmpdir ();
  e->dir = g_build_filename (e->tmp, "store", NULL);
  g_autofree char *data_dir = g_build_filename (e->tmp, "data", NULL);
  e->fp = cairn_test_plugin_new (cairn_plugin_descriptor_store_lmdb, data_dir);
  for (; config != NULL && config[0] != NULL; config += 2)
    cairn_test_plugin_set_config (e->fp, config[0], config[1]);
  g_assert_true (cairn_test_plugin_init (e->fp, &error));
  g_assert_no_error (error);
  e->iface = cairn_test_plugin_storage (e->fp);
  g_assert_nonnull (e->iface);
  return e;
}

static Env *
env_new (void)
{
  return env_new_with (NULL);
}

static void
env_free (Env *e)
{
  cairn_test_plugin_free (e->fp);
  cairn_test_rm_rf (e->tmp);
  g_free (e->dir);
  g_free (e->tmp);
  g_free (e);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Env, env_free)

static CairnStore *
env_open (Env *e)
{
  g_autoptr (GError) error = NULL;
  CairnStore *s
      = e->iface->open (cairn_test_plugin_self (e->fp), e->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

/* Open must fail with code; returns the message (g_free). */
static char *
env_open_fails (Env *e, int code)
{
  g_autoptr (GError) error = NULL;
  CairnStore *s
      = e->iface->open (cairn_test_plugin_self (e->fp), e->dir, &error);
  if (s != NULL)
    g_error ("open of %s should have failed", e->dir);
  g_assert_error (error, CAIRN_ERROR, code);
  g_test_message ("refused as expected: %s", error->message);
  return g_strdup (error->message);
}

static void
commit_ok (Env *e, CairnStore *s, CairnTestCommit *c)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (e->iface->commit (s, cairn_test_commit_data (c), &error));
  g_assert_no_error (error);
}

/* A closed store with some blocks of state (a file of a few hundred KiB). */
static void
fill_store (Env *e, uint64_t n_blocks)
{
  CairnStore *s = env_open (e);
  g_autofree char *value = g_strnfill (1000, 'v');
  for (uint64_t h = 0; h < n_blocks; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    for (int i = 0; i < 20; i++) {
      g_autofree char *key
          = g_strdup_printf ("fill/%" G_GUINT64_FORMAT "/%d", h, i);
      cairn_test_commit_put (c, key, value);
    }
    uint8_t id[32];
    cairn_test_tx_id (h, 0, id);
    cairn_test_commit_add_tx (c, id, "{}");
    cairn_test_commit_private_put (c, "p/last", "x");
    commit_ok (e, s, c);
  }
  e->iface->close (s);
}

static char *
data_path (Env *e)
{
  return g_build_filename (e->dir, "data.mdb", NULL);
}

/* ---- raw LMDB access to a closed store (to damage it on purpose) ------- */

typedef void (*RawFn) (MDB_txn *txn, MDB_dbi dbi, gpointer user_data);

static void
raw_edit_at (const char *dir, const char *table, RawFn fn, gpointer user_data)
{
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  g_assert_cmpint (mdb_env_create (&env), ==, 0);
  g_assert_cmpint (mdb_env_set_maxdbs (env, 16), ==, 0);
  g_assert_cmpint (mdb_env_set_mapsize (env, 64u << 20), ==, 0);
  g_assert_cmpint (mdb_env_open (env, dir, 0, 0600), ==, 0);
  g_assert_cmpint (mdb_txn_begin (env, NULL, 0, &txn), ==, 0);
  g_assert_cmpint (mdb_dbi_open (txn, table, MDB_CREATE, &dbi), ==, 0);
  fn (txn, dbi, user_data);
  g_assert_cmpint (mdb_txn_commit (txn), ==, 0);
  mdb_env_close (env);
}

static void
raw_edit (Env *e, const char *table, RawFn fn, gpointer user_data)
{
  raw_edit_at (e->dir, table, fn, user_data);
}

typedef struct {
  const void *key;
  size_t key_len;
  const void *value; /* NULL: delete */
  size_t value_len;
} RawPut;

static void
raw_put_fn (MDB_txn *txn, MDB_dbi dbi, gpointer user_data)
{
  const RawPut *p = user_data;
  MDB_val k = { p->key_len, (void *)p->key };
  if (p->value == NULL) {
    g_assert_cmpint (mdb_del (txn, dbi, &k, NULL), ==, 0);
    return;
  }
  MDB_val v = { p->value_len, (void *)p->value };
  g_assert_cmpint (mdb_put (txn, dbi, &k, &v, 0), ==, 0);
}

static void
raw_put (Env *e, const char *table, const void *key, size_t key_len,
         const void *value, size_t value_len)
{
  RawPut p = { key, key_len, value, value_len };
  raw_edit (e, table, raw_put_fn, &p);
}

/* Overwrite every value of a table with the same bytes. */
static void
raw_clobber_fn (MDB_txn *txn, MDB_dbi dbi, gpointer user_data)
{
  const RawPut *p = user_data;
  MDB_cursor *cur;
  MDB_val k, v;
  g_assert_cmpint (mdb_cursor_open (txn, dbi, &cur), ==, 0);
  int rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    /* k points into a page the put may rewrite: pass a copy. */
    g_autofree void *key = g_memdup2 (k.mv_data, k.mv_size);
    MDB_val kc = { k.mv_size, key };
    MDB_val nv = { p->value_len, (void *)p->value };
    g_assert_cmpint (mdb_cursor_put (cur, &kc, &nv, MDB_CURRENT), ==, 0);
    rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
  }
  g_assert_cmpint (rc, ==, MDB_NOTFOUND);
  mdb_cursor_close (cur);
}

typedef struct {
  const void *prefix;
  size_t prefix_len;
  guint count;
  size_t last_size;
} RawScan;

static void
raw_scan_fn (MDB_txn *txn, MDB_dbi dbi, gpointer user_data)
{
  RawScan *sc = user_data;
  MDB_cursor *cur;
  MDB_val k = { sc->prefix_len, (void *)sc->prefix }, v;
  g_assert_cmpint (mdb_cursor_open (txn, dbi, &cur), ==, 0);
  int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size >= sc->prefix_len
         && memcmp (k.mv_data, sc->prefix, sc->prefix_len) == 0) {
    sc->count++;
    sc->last_size = v.mv_size;
    rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close (cur);
}

/* Records of a closed store's table whose key starts with prefix. */
static RawScan
raw_scan (Env *e, const char *table, const void *prefix, size_t prefix_len)
{
  RawScan sc = { prefix, prefix_len, 0, 0 };
  raw_edit (e, table, raw_scan_fn, &sc);
  return sc;
}

/* ---- config ------------------------------------------------------------ */

static void
test_descriptor (void)
{
  const CairnPluginDescriptor *d = cairn_plugin_descriptor_store_lmdb ();
  g_assert_cmpuint (d->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_cmpuint (d->struct_size, ==, sizeof (CairnPluginDescriptor));
  g_assert_cmpstr (d->id, ==, "store-lmdb");
  g_assert_cmpuint (d->kinds, ==, CAIRN_KIND_STORAGE);
  g_assert_nonnull (d->version);
  g_assert_nonnull (d->init);
}

static void
test_config_good (void)
{
  static const char *const sizes[]
      = { "64GiB", "512MiB", "1048576", " 2 GiB ",
          "1mib",  "3TiB",   "1024KiB", "4194304B" };
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *tmp = cairn_test_make_tmpdir ();
    g_autoptr (CairnTestPlugin) fp
        = cairn_test_plugin_new (cairn_plugin_descriptor_store_lmdb, tmp);
    cairn_test_plugin_set_config (fp, "map_size", sizes[i]);
    cairn_test_plugin_set_config (fp, "sync", i % 2 ? "false" : "true");
    g_assert_true (cairn_test_plugin_init (fp, &error));
    g_assert_no_error (error);
    g_assert_nonnull (cairn_test_plugin_storage (fp));
    /* Every key of the conf.d snippet is read (the host rejects others). */
    g_auto (GStrv) unread = cairn_test_plugin_unread_config (fp);
    g_assert_cmpuint (g_strv_length (unread), ==, 0);
    cairn_test_rm_rf (tmp);
  }
}

static void
test_config_bad (void)
{
  static const struct {
    const char *key, *value;
  } bad[] = {
    { "map_size", "abc" },
    { "map_size", "" },
    { "map_size", "12XB" },
    { "map_size", "-5" },
    { "map_size", "1.5GiB" },
    { "map_size", "0" },
    { "map_size", "1KiB" },
    { "map_size", "99999999999999999999" },
    { "map_size", "20000000TiB" },
    { "map_size", "GiB" },
    { "map_size", "64 GiB extra" },
    { "map_size", "64GB" },
    { "sync", "maybe" },
    { "sync", "" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *tmp = cairn_test_make_tmpdir ();
    g_autoptr (CairnTestPlugin) fp
        = cairn_test_plugin_new (cairn_plugin_descriptor_store_lmdb, tmp);
    cairn_test_plugin_set_config (fp, bad[i].key, bad[i].value);
    g_assert_false (cairn_test_plugin_init (fp, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_test_message ("%s = '%s': %s", bad[i].key, bad[i].value, error->message);
    g_assert_nonnull (strstr (error->message, bad[i].key));
    g_autofree char *quoted = g_strdup_printf ("'%s'", bad[i].value);
    g_assert_nonnull (strstr (error->message, quoted));
    g_assert_null (cairn_test_plugin_storage (fp));
    cairn_test_rm_rf (tmp);
  }
}

/* ---- layout, format version -------------------------------------------- */

static void
test_creates_dir (void)
{
  g_autoptr (Env) e = env_new ();
  g_autofree char *nested = g_build_filename (e->dir, "a", "b", NULL);
  g_free (e->dir);
  e->dir = g_strdup (nested);
  CairnStore *s = env_open (e);
  GStatBuf sb;
  g_assert_cmpint (g_stat (e->dir, &sb), ==, 0);
  g_assert_true (S_ISDIR (sb.st_mode));
  g_assert_cmpint (sb.st_mode & 0777, ==, 0700);
  g_autofree char *dp = data_path (e);
  g_assert_true (g_file_test (dp, G_FILE_TEST_IS_REGULAR));
  e->iface->close (s);

  /* NULL dir: the plugin's data dir. */
  g_autoptr (GError) error = NULL;
  s = e->iface->open (cairn_test_plugin_self (e->fp), NULL, &error);
  g_assert_no_error (error);
  g_autofree char *dd = g_build_filename (e->tmp, "data", "data.mdb", NULL);
  g_assert_true (g_file_test (dd, G_FILE_TEST_IS_REGULAR));
  e->iface->close (s);
}

/* A creation interrupted before data.mdb was renamed into place leaves a
 * staging directory; the next open starts over. */
static void
test_interrupted_create (void)
{
  g_autoptr (Env) e = env_new ();
  g_autofree char *staging = g_build_filename (e->dir, "new-store.tmp", NULL);
  g_autofree char *junk = g_build_filename (staging, "data.mdb", NULL);
  g_assert_cmpint (g_mkdir_with_parents (staging, 0700), ==, 0);
  g_assert_true (g_file_set_contents (junk, "half-written", -1, NULL));
  CairnStore *s = env_open (e);
  g_assert_false (g_file_test (staging, G_FILE_TEST_EXISTS));
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  commit_ok (e, s, c);
  e->iface->close (s);
}

static void
test_format_version (void)
{
  g_autoptr (Env) e = env_new ();
  fill_store (e, 2);

  const uint8_t v99[4] = { 0, 0, 0, 99 };
  raw_put (e, "meta", "format", 6, v99, 4);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_NOT_IMPLEMENTED);
  g_assert_nonnull (strstr (msg, "data.mdb"));
  g_assert_nonnull (strstr (msg, "format version 99"));
  g_assert_nonnull (strstr (msg, "reads version 2"));

  raw_put (e, "meta", "format", 6, "\0\0\1", 3);
  g_autofree char *msg2 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg2, "format version"));

  raw_put (e, "meta", "format", 6, NULL, 0);
  g_autofree char *msg3 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg3, "no format version"));

  const uint8_t v2[4] = { 0, 0, 0, 2 };
  raw_put (e, "meta", "format", 6, v2, 4);
  CairnStore *s = env_open (e);
  e->iface->close (s);
}

static void
test_foreign_lmdb (void)
{
  g_autoptr (Env) e = env_new ();
  g_assert_cmpint (g_mkdir_with_parents (e->dir, 0700), ==, 0);
  raw_put (e, "something-else", "k", 1, "v", 1);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg, "not a store-lmdb store"));
}

/* ---- damaged files ------------------------------------------------------ */

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (from, &data, &len, &error));
  g_assert_true (g_file_set_contents (to, data, (gssize)len, &error));
  g_assert_no_error (error);
}

static void
truncate_to (const char *path, off_t size)
{
  g_assert_cmpint (truncate (path, size), ==, 0);
}

static void
write_garbage (const char *path, off_t offset, size_t len, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  g_autofree guint8 *buf = g_malloc (len);
  for (size_t i = 0; i < len; i++)
    buf[i] = (guint8)g_rand_int (r);
  int fd = open (path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, buf, len, offset), ==, (ssize_t)len);
  close (fd);
}

static off_t
file_size (const char *path)
{
  GStatBuf sb;
  g_assert_cmpint (g_stat (path, &sb), ==, 0);
  return sb.st_size;
}

static void
assert_damage_message (const char *msg, const char *what)
{
  g_assert_nonnull (strstr (msg, "data.mdb"));
  g_assert_nonnull (strstr (msg, what));
  g_assert_nonnull (strstr (msg, "damaged"));
  g_assert_nonnull (strstr (msg, "restore that directory from a backup"));
}

static void
test_damaged (void)
{
  g_autoptr (Env) e = env_new ();
  fill_store (e, 60);
  g_autofree char *dp = data_path (e);
  g_autofree char *good = g_build_filename (e->tmp, "good.mdb", NULL);
  copy_file (dp, good);
  off_t size = file_size (dp);
  g_test_message ("store file: %" G_GINT64_FORMAT " bytes", (gint64)size);
  g_assert_cmpint (size, >, 256 * 1024);

  struct {
    const char *name;
    off_t truncate; /* -1: keep */
    off_t garbage_at, garbage_len;
    const char *what;
  } cases[] = {
    { "truncated to half", size / 2, 0, 0, "truncated" },
    { "truncated to 0 bytes", 0, 0, 0, "empty (0 bytes)" },
    { "truncated to 100 bytes", 100, 0, 0, "not a valid LMDB file" },
    { "truncated to one page", 4096, 0, 0, "not a valid LMDB file" },
    { "garbage header", -1, 0, 16384, "not a valid LMDB file" },
    { "garbage second meta page", -1, 4096, 4096, "not a valid LMDB file" },
    { "all garbage", -1, 0, size, "not a valid LMDB file" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("damage: %s", cases[i].name);
    copy_file (good, dp);
    if (cases[i].truncate >= 0)
      truncate_to (dp, cases[i].truncate);
    if (cases[i].garbage_len > 0)
      write_garbage (dp, cases[i].garbage_at, (size_t)cases[i].garbage_len,
                     (guint32)i + 1);
    g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CORRUPT);
    assert_damage_message (msg, cases[i].what);
    /* Refusing does not repair or replace the file. */
    if (cases[i].truncate >= 0)
      g_assert_cmpint (file_size (dp), ==, cases[i].truncate);
  }

  /* data.mdb that is not a file. */
  g_assert_cmpint (g_unlink (dp), ==, 0);
  g_assert_cmpint (g_mkdir (dp, 0700), ==, 0);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  assert_damage_message (msg, "not a regular file");
  g_assert_cmpint (g_rmdir (dp), ==, 0);

  /* The good copy still opens: the damage, not the copying, was refused. */
  copy_file (good, dp);
  CairnStore *s = env_open (e);
  uint64_t head;
  g_autoptr (GError) error = NULL;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 59);
  e->iface->close (s);
}

static void
test_garbage_lock_file (void)
{
  g_autoptr (Env) e = env_new ();
  fill_store (e, 3);
  g_autofree char *lock = g_build_filename (e->dir, "lock.mdb", NULL);
  g_assert_true (g_file_test (lock, G_FILE_TEST_IS_REGULAR));
  write_garbage (lock, 0, 8192, 7);
  CairnStore *s = env_open (e);
  g_autoptr (GError) error = NULL;
  uint64_t head;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 2);
  e->iface->close (s);
}

/* ---- locks --------------------------------------------------------------- */

static void
test_in_use (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CONFLICT);
  g_assert_nonnull (strstr (msg, e->dir));
  g_assert_nonnull (strstr (msg, "already open"));
  /* The first handle is unharmed. */
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  commit_ok (e, s, c);
  e->iface->close (s);
  CairnStore *again = env_open (e);
  e->iface->close (again);
}

static gboolean
block_forever_cb (const char *key, const uint8_t *value, size_t len,
                  void *user_data)
{
  int fd = GPOINTER_TO_INT (user_data);
  g_assert_cmpint (write (fd, "R", 1), ==, 1);
  for (;;)
    pause ();
  return TRUE;
}

/* A process killed while it has the store open (here: inside a read, so it
 * holds a reader slot and the directory lock) leaves lock.mdb behind; the
 * next open must not care. */
static void
test_killed_holder (void)
{
  g_autoptr (Env) e = env_new ();
  fill_store (e, 3);
  int fds[2];
  g_assert_cmpint (pipe (fds), ==, 0);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    close (fds[0]);
    g_autoptr (GError) error = NULL;
    CairnStore *s
        = e->iface->open (cairn_test_plugin_self (e->fp), e->dir, &error);
    if (s == NULL)
      _exit (2);
    e->iface->state_iter (s, "", CAIRN_HEAD, block_forever_cb,
                          GINT_TO_POINTER (fds[1]), &error);
    _exit (3);
  }
  close (fds[1]);
  char c = 0;
  g_assert_cmpint (read (fds[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'R');
  /* While it lives, the store is in use. */
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CONFLICT);
  kill (pid, SIGKILL);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
  close (fds[0]);

  CairnStore *s = env_open (e);
  g_autoptr (CairnTestCommit) next = cairn_test_commit_new (3);
  cairn_test_commit_put (next, "after/kill", "1");
  commit_ok (e, s, next);
  g_autoptr (GError) error = NULL;
  uint64_t head;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 3);
  e->iface->close (s);
}

/* ---- map size, sync ------------------------------------------------------ */

static void
test_map_full (void)
{
  static const char *const config[] = { "map_size", "1MiB", NULL };
  g_autoptr (Env) e = env_new_with (config);
  g_autoptr (GError) error = NULL;
  CairnStore *s = env_open (e);
  g_autoptr (CairnTestCommit) g = cairn_test_commit_new (0);
  commit_ok (e, s, g);

  g_autoptr (CairnTestCommit) big = cairn_test_commit_new (1);
  g_autofree char *value = g_strnfill (2u << 20, 'x');
  cairn_test_commit_put (big, "big", value);
  g_assert_false (e->iface->commit (s, cairn_test_commit_data (big), &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "map_size"));
  g_assert_nonnull (strstr (error->message, "data.mdb"));
  g_clear_error (&error);

  /* Nothing of it stayed; a smaller block at the same height fits. */
  uint64_t head;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 0);
  g_autoptr (CairnTestCommit) small = cairn_test_commit_new (1);
  cairn_test_commit_put (small, "small", "1");
  commit_ok (e, s, small);
  e->iface->close (s);
}

static void
test_no_sync (void)
{
  static const char *const config[] = { "sync", "false", NULL };
  g_autoptr (Env) e = env_new_with (config);
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < 5; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    cairn_test_commit_put (c, "n", "v");
    commit_ok (e, s, c);
  }
  e->iface->close (s);
  s = env_open (e);
  g_autoptr (GError) error = NULL;
  uint64_t head;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 4);
  e->iface->close (s);
}

/* Rss of this process's mapping of path (/proc/self/smaps), in bytes. */
static guint64
mapped_rss (const char *path)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/smaps", &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in = FALSE;
  guint64 kb = 0;
  for (guint i = 0; lines[i]; i++) {
    if (g_ascii_isxdigit (lines[i][0]) && strchr (lines[i], '-'))
      in = g_str_has_suffix (lines[i], path);
    else if (in && g_str_has_prefix (lines[i], "Rss:"))
      kb += g_ascii_strtoull (lines[i] + 4, NULL, 10);
  }
  return kb * 1024;
}

/* Commit 24 blocks of 512 KiB, reading each value back after its commit
 * (which maps its pages); how much of data.mdb stays mapped. */
static guint64
resident_after_reads (const char *limit)
{
  const char *const config[]
      = { "sync", "false", "resident_limit", limit, NULL };
  g_autoptr (Env) e = env_new_with (config);
  CairnStore *s = env_open (e);
  g_autofree char *value = g_strnfill (512u << 10, 'v');
  g_autofree char *path = g_build_filename (e->dir, "data.mdb", NULL);
  for (uint64_t h = 0; h < 24; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    g_autofree char *key = g_strdup_printf ("k%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, key, value);
    commit_ok (e, s, c);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) b = e->iface->state_get (s, key, CAIRN_HEAD, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (b), ==, 512u << 10);
  }
  guint64 rss = mapped_rss (path);
  e->iface->close (s);
  return rss;
}

/* resident_limit: the pages reads map stay mapped without it (12 MiB of
 * values read), and are dropped past the limit with it. */
static void
test_resident_limit (void)
{
  guint64 kept = resident_after_reads ("0");
  guint64 trimmed = resident_after_reads ("2MiB");
  g_test_message ("data.mdb mapped: %" G_GUINT64_FORMAT
                  " bytes without a limit, %" G_GUINT64_FORMAT " with 2MiB",
                  kept, trimmed);
  g_assert_cmpuint (kept, >=, 10u << 20);
  /* The limit, plus what the reads after the last trim mapped again. */
  g_assert_cmpuint (trimmed, <=, 4u << 20);
}

/* ---- versions --------------------------------------------------------------
 */

static void
assert_value (Env *e, CairnStore *s, const char *key, uint64_t height,
              const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = e->iface->state_get (s, key, height, &error);
  if (want == NULL) {
    g_assert_null (b);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    return;
  }
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (b, want);
}

static char *
hot_value (uint64_t h)
{
  return g_strdup_printf ("%03" G_GUINT64_FORMAT "-%s", h,
                          "0123456789012345678901234567890123456789");
}

/* A key written at every height keeps its recent versions in its state
 * record and moves older ones to history in runs; a deleted key moves all
 * of them. Reads at every height see the same values either way. */
static void
test_versions_move_to_history (void)
{
  g_autoptr (Env) e = env_new ();
  const uint64_t n = 40;
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < n; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    g_autofree char *v = hot_value (h);
    cairn_test_commit_put (c, "hot", v);
    if (h == 0 || h == 30)
      cairn_test_commit_put (c, "cold", h == 0 ? "first" : "again");
    if (h == 20)
      cairn_test_commit_delete (c, "cold");
    commit_ok (e, s, c);
  }
  e->iface->close (s);

  RawScan hist = raw_scan (e, "history", "hot\0", 4);
  RawScan rec = raw_scan (e, "state", "hot", 3);
  g_test_message ("'hot': %u versions in history, state record %zu bytes",
                  hist.count, rec.last_size);
  g_assert_cmpuint (hist.count, >, 0);
  g_assert_cmpuint (hist.count, <, n);
  g_assert_cmpuint (rec.count, ==, 1);
  g_assert_cmpuint (rec.last_size, <, 256);
  /* 'cold': put at 0, deleted at 20 (both in history), put again at 30. */
  RawScan cold = raw_scan (e, "history", "cold\0", 5);
  g_assert_cmpuint (cold.count, ==, 2);

  s = env_open (e);
  for (uint64_t h = 0; h < n; h++) {
    g_autofree char *v = hot_value (h);
    assert_value (e, s, "hot", h, v);
    assert_value (e, s, "cold", h, h < 20 ? "first" : h < 30 ? NULL : "again");
  }
  e->iface->close (s);
}

/* ---- bad input and records that do not decode --------------------------- */

static void
assert_commit_invalid (Env *e, CairnStore *s, const CairnCommitData *d,
                       const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (e->iface->commit (s, d, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
}

static void
test_bad_commit_data (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  cairn_test_commit_put (c, "a", "1");
  cairn_test_commit_put (c, "b", "2");
  CairnCommitData d = *cairn_test_commit_data (c);

  assert_commit_invalid (e, s, NULL, "NULL");
  CairnCommitData bad = d;
  bad.size = 8;
  assert_commit_invalid (e, s, &bad, "too small");
  bad = d;
  bad.block_hash = NULL;
  assert_commit_invalid (e, s, &bad, "block_hash");
  bad = d;
  bad.block = NULL;
  assert_commit_invalid (e, s, &bad, "block is NULL");
  CairnWrite unsorted[2] = { d.writes[1], d.writes[0] };
  bad = d;
  bad.writes = unsorted;
  assert_commit_invalid (e, s, &bad, "sorted");
  CairnWrite dup[2] = { d.writes[0], d.writes[0] };
  bad = d;
  bad.writes = dup;
  assert_commit_invalid (e, s, &bad, "unique");
  CairnWrite empty_key = { "", (const uint8_t *)"x", 1, 0, 0 };
  bad = d;
  bad.writes = &empty_key;
  bad.n_writes = 1;
  assert_commit_invalid (e, s, &bad, "empty key");
  CairnWrite null_value = { "k", NULL, 3, 0, 0 };
  bad = d;
  bad.private_writes = &null_value;
  bad.n_private_writes = 1;
  assert_commit_invalid (e, s, &bad, "private_writes[0]");
  CairnCommitTx null_tx = { NULL, NULL, 0 };
  bad = d;
  bad.txs = &null_tx;
  bad.n_txs = 1;
  assert_commit_invalid (e, s, &bad, "txs[0]");

  /* Nothing was stored, and reads reject an empty key. */
  g_autoptr (GError) error = NULL;
  uint64_t head;
  g_assert_false (e->iface->head (s, &head, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (e->iface->state_get (s, "", CAIRN_HEAD, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (e->iface->private_get (s, "", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  commit_ok (e, s, c);
  e->iface->close (s);
}

/* A commit that fails halfway (a block hash already stored, found after
 * the block and its tx list were written) leaves nothing. */
static void
test_failed_commit_is_atomic (void)
{
  g_autoptr (Env) e = env_new ();
  g_autoptr (GError) error = NULL;
  CairnStore *s = env_open (e);
  uint8_t id[32], id1[32], hash0[32];
  cairn_test_tx_id (0, 0, id);
  cairn_test_tx_id (1, 0, id1);
  g_autoptr (CairnTestCommit) c0 = cairn_test_commit_new (0);
  cairn_test_commit_add_tx (c0, id, "first");
  commit_ok (e, s, c0);

  g_autoptr (CairnTestCommit) c1 = cairn_test_commit_new (1);
  cairn_test_block_hash (0, hash0);
  cairn_test_commit_set_hash (c1, hash0);
  cairn_test_commit_put (c1, "k", "1");
  cairn_test_commit_private_put (c1, "p", "1");
  cairn_test_commit_add_tx (c1, id1, "second");
  g_assert_false (e->iface->commit (s, cairn_test_commit_data (c1), &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  uint64_t head, th;
  g_autoptr (GBytes) res = NULL;
  g_assert_true (e->iface->head (s, &head, &error));
  g_assert_cmpuint (head, ==, 0);
  g_assert_null (e->iface->block_get (s, 1, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (e->iface->state_get (s, "k", CAIRN_HEAD, &error));
  g_clear_error (&error);
  g_assert_null (e->iface->private_get (s, "p", &error));
  g_clear_error (&error);
  g_assert_false (e->iface->tx_get (s, id1, NULL, NULL, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (e->iface->tx_get (s, id, &th, NULL, &res, &error));
  g_assert_cmpuint (th, ==, 0);
  cairn_test_assert_bytes_str (res, "first");

  /* The next right commit works. */
  g_autoptr (CairnTestCommit) c1b = cairn_test_commit_new (1);
  cairn_test_commit_add_tx (c1b, id1, "second");
  commit_ok (e, s, c1b);
  g_clear_pointer (&res, g_bytes_unref);
  g_assert_true (e->iface->tx_get (s, id1, &th, NULL, &res, &error));
  g_assert_cmpuint (th, ==, 1);
  cairn_test_assert_bytes_str (res, "second");
  e->iface->close (s);
}

static void
expect_corrupt (GError *error, const char *needle)
{
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_nonnull (strstr (error->message, "damaged"));
}

static gboolean
count_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  (*(guint *)user_data)++;
  return TRUE;
}

/* ---- the tx index (<dir>/txindex) and format 1 ------------------------ */

#define TX_BLOCKS 7

/* Block h holds h % 3 txs (some blocks none), each with its own result. */
static void
fill_txs (Env *e)
{
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < TX_BLOCKS; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    for (uint32_t i = 0; i < h % 3; i++) {
      uint8_t id[32];
      cairn_test_tx_id (h, i, id);
      g_autofree char *result
          = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      cairn_test_commit_add_tx (c, id, result);
    }
    commit_ok (e, s, c);
  }
  e->iface->close (s);
}

/* How many of fill_txs's txs tx_get finds at their place with their
 * result (failing on any other answer than NOT_FOUND). */
static guint
found_txs (Env *e, CairnStore *s)
{
  guint found = 0;
  for (uint64_t h = 0; h < TX_BLOCKS; h++)
    for (uint32_t i = 0; i < h % 3; i++) {
      uint8_t id[32];
      cairn_test_tx_id (h, i, id);
      uint64_t th = 0;
      uint32_t ti = 0;
      g_autoptr (GBytes) res = NULL;
      g_autoptr (GError) error = NULL;
      if (!e->iface->tx_get (s, id, &th, &ti, &res, &error)) {
        g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
        continue;
      }
      g_autofree char *want
          = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      g_assert_cmpuint (th, ==, h);
      g_assert_cmpuint (ti, ==, i);
      cairn_test_assert_bytes_str (res, want);
      found++;
    }
  return found;
}

#define TX_COUNT 6u /* 0+1+2+0+1+2+0 */

static char *
index_dir (Env *e)
{
  return g_build_filename (e->dir, "txindex", NULL);
}

/* Change the (closed) store's LevelDB tx index: delete the ids of txs
 * (heights from..to-1, all their indexes), then set "next" (or delete it
 * when next is G_MAXUINT64; leave it when 0). */
static void
index_edit (Env *e, uint64_t from, uint64_t to, uint64_t next)
{
  g_autofree char *dir = index_dir (e);
  leveldb_options_t *o = leveldb_options_create ();
  char *err = NULL;
  leveldb_t *db = leveldb_open (o, dir, &err);
  g_assert_null (err);
  leveldb_writeoptions_t *w = leveldb_writeoptions_create ();
  for (uint64_t h = from; h < to; h++)
    for (uint32_t i = 0; i < h % 3; i++) {
      uint8_t id[32];
      cairn_test_tx_id (h, i, id);
      leveldb_delete (db, w, (const char *)id, 32, &err);
      g_assert_null (err);
    }
  if (next == G_MAXUINT64)
    leveldb_delete (db, w, "next", 4, &err);
  else if (next != 0) {
    uint8_t v[8];
    for (int b = 0; b < 8; b++)
      v[b] = (uint8_t)(next >> (56 - 8 * b));
    leveldb_put (db, w, "next", 4, (const char *)v, 8, &err);
  }
  g_assert_null (err);
  leveldb_writeoptions_destroy (w);
  leveldb_close (db);
  leveldb_options_destroy (o);
}

static guint
reopen_and_count (Env *e)
{
  CairnStore *s = env_open (e);
  guint n = found_txs (e, s);
  e->iface->close (s);
  return n;
}

static void
test_txindex_recovery (void)
{
  g_autoptr (Env) e = env_new ();
  fill_txs (e);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);

  /* An index that says which heights it holds is used as it is: ids
   * taken out of it stay out. */
  index_edit (e, 5, 6, 0);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT - 2);

  /* Behind the store (a machine crash lost its last writes, or a write
   * failed): the heights from "next" on are indexed again. */
  index_edit (e, 3, TX_BLOCKS, 3);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);

  /* Ahead of the store (a store restored from an older copy), or without
   * "next": rebuilt. */
  index_edit (e, 5, 6, 99);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);
  index_edit (e, 5, 6, G_MAXUINT64);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);

  /* Files LevelDB cannot read, or no index at all: rebuilt. */
  g_autofree char *dir = index_dir (e);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  for (const char *name; (name = g_dir_read_name (d)) != NULL;) {
    g_autofree char *file = g_build_filename (dir, name, NULL);
    g_assert_true (g_file_set_contents (file, "garbage", -1, NULL));
  }
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);
  cairn_test_rm_rf (dir);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);

  /* The core refuses blocks that repeat a committed tx, so the store does
   * not look ids up before a commit: an id given again points at its later
   * place. */
  CairnStore *s = env_open (e);
  g_autoptr (GError) error = NULL;
  uint8_t old[32];
  cairn_test_tx_id (5, 1, old);
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (TX_BLOCKS);
  cairn_test_commit_add_tx (c, old, "again");
  commit_ok (e, s, c);
  uint64_t th = 0;
  uint32_t ti = 9;
  g_autoptr (GBytes) res = NULL;
  g_assert_true (e->iface->tx_get (s, old, &th, &ti, &res, &error));
  g_assert_cmpuint (th, ==, TX_BLOCKS);
  g_assert_cmpuint (ti, ==, 0);
  cairn_test_assert_bytes_str (res, "again");
  e->iface->close (s);
}

/* Format 1 kept the txs in table "txs" (id -> u64be height, u32be index,
 * result): rewrite a store that way, as an older store-lmdb left it. */
static void
make_format_1 (Env *e, gboolean damaged, gboolean keep_txlist)
{
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi meta, txs, txlist;
  g_assert_cmpint (mdb_env_create (&env), ==, 0);
  g_assert_cmpint (mdb_env_set_maxdbs (env, 16), ==, 0);
  g_assert_cmpint (mdb_env_set_mapsize (env, 64u << 20), ==, 0);
  g_assert_cmpint (mdb_env_open (env, e->dir, 0, 0600), ==, 0);
  g_assert_cmpint (mdb_txn_begin (env, NULL, 0, &txn), ==, 0);
  g_assert_cmpint (mdb_dbi_open (txn, "meta", 0, &meta), ==, 0);
  g_assert_cmpint (mdb_dbi_open (txn, "txs", MDB_CREATE, &txs), ==, 0);
  g_assert_cmpint (mdb_dbi_open (txn, "txlist", 0, &txlist), ==, 0);
  for (uint64_t h = 0; h < TX_BLOCKS; h++)
    for (uint32_t i = 0; i < h % 3; i++) {
      uint8_t id[32];
      cairn_test_tx_id (h, i, id);
      g_autofree char *result
          = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      size_t len = strlen (result);
      g_autofree uint8_t *rec = g_malloc (12 + len);
      for (int b = 0; b < 8; b++)
        rec[b] = (uint8_t)(h >> (56 - 8 * b));
      for (int b = 0; b < 4; b++)
        rec[8 + b] = (uint8_t)(i >> (24 - 8 * b));
      memcpy (rec + 12, result, len);
      MDB_val k = { 32, id }, v = { damaged ? 5 : 12 + len, rec };
      g_assert_cmpint (mdb_put (txn, txs, &k, &v, 0), ==, 0);
    }
  /* Kept: as a conversion that stopped halfway left it. */
  if (!keep_txlist)
    g_assert_cmpint (mdb_drop (txn, txlist, 1), ==, 0);
  const uint8_t v1[4] = { 0, 0, 0, 1 };
  MDB_val fk = { 6, "format" }, fv = { 4, (void *)v1 };
  g_assert_cmpint (mdb_put (txn, meta, &fk, &fv, 0), ==, 0);
  g_assert_cmpint (mdb_txn_commit (txn), ==, 0);
  mdb_env_close (env);
  g_autofree char *dir = index_dir (e);
  cairn_test_rm_rf (dir);
}

static void
test_migrate_format_1 (void)
{
  g_autoptr (Env) e = env_new ();
  fill_txs (e);
  make_format_1 (e, FALSE, FALSE);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);
  /* Converted once: format 2 on disk, no table txs. */
  RawScan none = raw_scan (e, NULL, "txs", 3); /* table names */
  g_assert_cmpuint (none.count, ==, 0);
  g_assert_cmpuint (reopen_and_count (e), ==, TX_COUNT);

  g_autoptr (Env) d = env_new ();
  fill_txs (d);
  make_format_1 (d, TRUE, FALSE);
  g_autofree char *msg = env_open_fails (d, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg, "table 'txs' (format 1)"));

  /* A conversion that stopped after writing part of txlist. */
  g_autoptr (Env) h = env_new ();
  fill_txs (h);
  make_format_1 (h, FALSE, TRUE);
  g_assert_cmpuint (reopen_and_count (h), ==, TX_COUNT);
}

static void
test_corrupt_records (void)
{
  g_autoptr (Env) e = env_new ();
  g_autoptr (GError) error = NULL;
  uint8_t hash[32], id[32];
  g_autofree char *long_key = g_strnfill (600, 'L');
  {
    CairnStore *s = env_open (e);
    for (uint64_t h = 0; h < 2; h++) {
      g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
      cairn_test_tx_id (h, 0, id);
      cairn_test_commit_add_tx (c, id, "{}");
      cairn_test_commit_put (c, "k", h == 0 ? "old" : "new");
      cairn_test_commit_put (c, long_key, "long");
      /* A deleted key: its versions are in history only. */
      if (h == 0)
        cairn_test_commit_put (c, "gone", "old");
      else
        cairn_test_commit_delete (c, "gone");
      commit_ok (e, s, c);
    }
    e->iface->close (s);
  }
  cairn_test_block_hash (1, hash);
  raw_put (e, "hashes", hash, 32, "abc", 3);
  cairn_test_tx_id (1, 0, id);
  uint8_t h1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
  raw_put (e, "txlist", h1, 8, "short", 5);
  RawPut clobber = { NULL, 0, "X", 1 };
  raw_edit (e, "history", raw_clobber_fn, &clobber);

  CairnStore *s = env_open (e);
  uint64_t h;
  g_assert_false (e->iface->block_find (s, hash, &h, &error));
  expect_corrupt (error, "hashes");
  g_clear_error (&error);
  g_assert_false (e->iface->tx_get (s, id, NULL, NULL, NULL, &error));
  expect_corrupt (error, "txlist");
  g_clear_error (&error);
  g_assert_null (e->iface->state_get (s, "gone", 0, &error));
  expect_corrupt (error, "history");
  g_clear_error (&error);
  guint n = 0;
  g_assert_false (e->iface->state_iter (s, "", 0, count_cb, &n, &error));
  expect_corrupt (error, "history");
  g_clear_error (&error);
  /* The head tables are intact. */
  g_autoptr (GBytes) v = e->iface->state_get (s, "k", CAIRN_HEAD, &error);
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (v, "new");
  e->iface->close (s);

  /* State records that do not decode: a long key's without its key, a
   * short key's that is no list of versions. */
  RawPut clobber_state = { NULL, 0, "no key here", 11 };
  raw_edit (e, "state", raw_clobber_fn, &clobber_state);
  s = env_open (e);
  g_assert_null (e->iface->state_get (s, long_key, CAIRN_HEAD, &error));
  expect_corrupt (error, "long key");
  g_clear_error (&error);
  g_assert_null (e->iface->state_get (s, "k", CAIRN_HEAD, &error));
  expect_corrupt (error, "versions");
  g_clear_error (&error);
  /* A commit that would rewrite such a record refuses too. */
  g_autoptr (CairnTestCommit) c2 = cairn_test_commit_new (2);
  cairn_test_commit_put (c2, "k", "newer");
  g_assert_false (e->iface->commit (s, cairn_test_commit_data (c2), &error));
  expect_corrupt (error, "versions");
  g_clear_error (&error);
  n = 0;
  g_assert_false (
      e->iface->state_iter (s, "", CAIRN_HEAD, count_cb, &n, &error));
  expect_corrupt (error, "long key");
  g_clear_error (&error);
  e->iface->close (s);

  /* A head record of the wrong size, or one that disagrees with the blocks:
   * the store does not open. */
  raw_put (e, "meta", "head", 4, "abc", 3);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg, "head"));
  const uint8_t head5[8] = { 0, 0, 0, 0, 0, 0, 0, 5 };
  raw_put (e, "meta", "head", 4, head5, 8);
  g_autofree char *msg2 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (msg2, "last block is height 1"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* The SDK's storage suite without its crash case, which runs as the
   * store-crash test (test-store-crash.c). */
  static const char *const no_sync[]
      = { "sync", "false", "map_size", "1GiB", NULL };
  const CairnTestStorageBackend backends[] = {
    { .name = "store-lmdb",
      .entry = cairn_plugin_descriptor_store_lmdb,
      .cases = CAIRN_TEST_STORAGE_CONFORMANCE },
    { .name = "store-lmdb-nosync",
      .entry = cairn_plugin_descriptor_store_lmdb,
      .config = no_sync,
      .cases = CAIRN_TEST_STORAGE_CONFORMANCE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (backends); i++)
    cairn_test_storage_add_backend (&backends[i]);

  g_test_add_func ("/store-lmdb/descriptor", test_descriptor);
  g_test_add_func ("/store-lmdb/config/good", test_config_good);
  g_test_add_func ("/store-lmdb/config/bad", test_config_bad);
  g_test_add_func ("/store-lmdb/creates-dir", test_creates_dir);
  g_test_add_func ("/store-lmdb/interrupted-create", test_interrupted_create);
  g_test_add_func ("/store-lmdb/format-version", test_format_version);
  g_test_add_func ("/store-lmdb/foreign-lmdb", test_foreign_lmdb);
  g_test_add_func ("/store-lmdb/damaged", test_damaged);
  g_test_add_func ("/store-lmdb/garbage-lock-file", test_garbage_lock_file);
  g_test_add_func ("/store-lmdb/in-use", test_in_use);
  g_test_add_func ("/store-lmdb/killed-holder", test_killed_holder);
  g_test_add_func ("/store-lmdb/map-full", test_map_full);
  g_test_add_func ("/store-lmdb/no-sync", test_no_sync);
  g_test_add_func ("/store-lmdb/resident-limit", test_resident_limit);
  g_test_add_func ("/store-lmdb/bad-commit-data", test_bad_commit_data);
  g_test_add_func ("/store-lmdb/failed-commit-is-atomic",
                   test_failed_commit_is_atomic);
  g_test_add_func ("/store-lmdb/corrupt-records", test_corrupt_records);
  g_test_add_func ("/store-lmdb/txindex-recovery", test_txindex_recovery);
  g_test_add_func ("/store-lmdb/migrate-format-1", test_migrate_format_1);
  g_test_add_func ("/store-lmdb/versions-move-to-history",
                   test_versions_move_to_history);
  return g_test_run ();
}

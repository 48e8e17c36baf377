/* store-git: the SDK's storage conformance suite (as for store-lmdb, also with
 * sync = false and with packing every 3 blocks) plus what is git's own:
 * the repository passes `git fsck --strict`, `git log` lists the blocks,
 * `git show chain:state/...` reads a value, the state tree is the same for
 * the same keys whatever the history, the index is rebuilt when lost,
 * behind or damaged, damaged repositories are refused by name, packing,
 * a `git clone` of the chain starts another store, no private value in
 * chain.git, concurrent readers. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <cairn/cairn.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_store_git (void);

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
  e->fp = cairn_test_plugin_new (cairn_plugin_descriptor_store_git, data_dir);
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
env_open_dir (Env *e, const char *dir)
{
  g_autoptr (GError) error = NULL;
  CairnStore *s = e->iface->open (cairn_test_plugin_self (e->fp), dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

static CairnStore *
env_open (Env *e)
{
  return env_open_dir (e, e->dir);
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

static char *
chain_path (Env *e)
{
  return g_build_filename (e->dir, "chain.git", NULL);
}

static void
assert_state (Env *e, CairnStore *s, const char *key, uint64_t height,
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

/* ---- the git command --------------------------------------------------- */

/* Run git with args in repo (no user or system config); returns the exit
 * status, stdout in *out (g_free) when out is not NULL. */
static int
git_run (const char *repo, char **out, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *)"git");
  g_ptr_array_add (argv, (char *)"-C");
  g_ptr_array_add (argv, (char *)repo);
  va_list ap;
  va_start (ap, out);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *)a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) env = g_get_environ ();
  env = g_environ_setenv (env, "GIT_CONFIG_NOSYSTEM", "1", TRUE);
  env = g_environ_setenv (env, "GIT_CONFIG_GLOBAL", "/dev/null", TRUE);
  env = g_environ_setenv (env, "LC_ALL", "C", TRUE);
  g_autofree char *sout = NULL, *serr = NULL;
  int status = -1;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **)argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, &sout, &serr, &status, &error))
    g_error ("cannot run git (Debian package git): %s", error->message);
  if (serr != NULL && serr[0] != '\0')
    g_test_message ("git %s: stderr: %s", (char *)argv->pdata[3], serr);
  if (out != NULL)
    *out = g_steal_pointer (&sout);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

/* `git fsck --strict` exits 0 and reports nothing wrong. */
static void
assert_fsck (const char *repo)
{
  g_autofree char *out = NULL;
  int rc = git_run (repo, &out, "fsck", "--strict", "--no-dangling", NULL);
  g_test_message ("git fsck --strict %s: exit %d%s%s", repo, rc,
                  out[0] ? ": " : "", out);
  g_assert_cmpint (rc, ==, 0);
  g_assert_null (strstr (out, "error"));
  g_assert_null (strstr (out, "warning"));
  g_assert_null (strstr (out, "missing"));
}

static char *
git_out (const char *repo, const char *a1, const char *a2)
{
  char *out = NULL;
  int rc = git_run (repo, &out, a1, a2, NULL);
  if (rc != 0)
    g_error ("git %s %s failed in %s (exit %d)", a1, a2, repo, rc);
  return out;
}

/* The encoding of the README, written independently of the plugin. */
static char *
readme_encode (const char *key)
{
  GString *s = g_string_new (NULL);
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    if (g_ascii_isalnum (*p) || *p == '-' || *p == '_')
      g_string_append_c (s, (char)*p);
    else if (*p == '/')
      g_string_append_c (s, '+');
    else
      g_string_append_printf (s, "%%%02X", *p);
  }
  return g_string_free (s, FALSE);
}

/* The path of key under state/ at rev: the listed path whose components
 * joined give the key's encoding (README, "Finding a key"). */
static char *
state_path (const char *repo, const char *rev, const char *key)
{
  g_autofree char *enc = readme_encode (key);
  g_autofree char *spec = g_strdup_printf ("%s:state", rev);
  g_autofree char *list = NULL;
  g_assert_cmpint (
      git_run (repo, &list, "ls-tree", "-r", "--name-only", spec, NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (list, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_autofree char *joined = g_strdup (lines[i]);
    char *w = joined;
    for (char *r = joined; *r; r++)
      if (*r != '/')
        *w++ = *r;
    *w = '\0';
    /* a key ending at an inner node is that node's "@" */
    if (g_str_has_suffix (joined, "@"))
      joined[strlen (joined) - 1] = '\0';
    if (strcmp (joined, enc) == 0)
      return g_strdup (lines[i]);
  }
  return NULL;
}

/* ---- blocks shaped like the core's -----------------------------------------
 */

static const int64_t time0_ms = 1700000000000;

static char *
core_block (uint64_t h, char **header_out)
{
  g_autofree char *header = g_strdup_printf (
      "{\"chain_id\":\"t\",\"height\":%" G_GUINT64_FORMAT ",\"prev_hash\":"
      "\"00\",\"proposer\":\"p\",\"state_root\":\"r\",\"time\":"
      "%" G_GINT64_FORMAT ",\"tx_count\":2,\"tx_root\":\"x\"}",
      h, time0_ms + (int64_t)h * 1000);
  char *block = g_strdup_printf (
      "{\"certificate\":{\"round\":1,\"sigs\":[\"a,}\\\"b\"]},\"header\":%s,"
      "\"txs\":[{\"body\":{\"s\":\"}]{[\\\\\"},\"n\":%" G_GUINT64_FORMAT "},"
      "{\"n\":-1}]}",
      header, h);
  /* Valid JSON, or the test would not test the split. */
  json_error_t jerr;
  json_t *doc = json_loads (block, 0, &jerr);
  if (doc == NULL)
    g_error ("test block is not JSON: %s: %s", jerr.text, block);
  json_decref (doc);
  if (header_out != NULL)
    *header_out = g_steal_pointer (&header);
  return block;
}

static CairnTestCommit *
core_commit (uint64_t h)
{
  CairnTestCommit *c = cairn_test_commit_new (h);
  g_autofree char *block = core_block (h, NULL);
  cairn_test_commit_set_block (c, block, strlen (block));
  for (uint32_t i = 0; i < 2; i++) {
    uint8_t id[32];
    g_autofree char *result = g_strdup_printf (
        "{\"code\":\"ok\",\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
    cairn_test_tx_id (h, i, id);
    cairn_test_commit_add_tx (c, id, result);
  }
  return c;
}

/* ---- descriptor and config ---------------------------------------------- */

static void
test_descriptor (void)
{
  const CairnPluginDescriptor *d = cairn_plugin_descriptor_store_git ();
  g_assert_cmpuint (d->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_cmpstr (d->id, ==, "store-git");
  g_assert_cmpuint (d->kinds, ==, CAIRN_KIND_STORAGE);
  g_assert_nonnull (d->init);
}

static void
test_config (void)
{
  static const char *const good[][2] = {
    { "index_map_size", "64GiB" }, { "index_map_size", " 2 MiB " },
    { "pack_every", "0" },         { "pack_every", "1" },
    { "sync", "false" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *tmp = cairn_test_make_tmpdir ();
    g_autoptr (CairnTestPlugin) fp
        = cairn_test_plugin_new (cairn_plugin_descriptor_store_git, tmp);
    cairn_test_plugin_set_config (fp, good[i][0], good[i][1]);
    g_assert_true (cairn_test_plugin_init (fp, &error));
    g_assert_no_error (error);
    g_auto (GStrv) unread = cairn_test_plugin_unread_config (fp);
    g_assert_cmpuint (g_strv_length (unread), ==, 0);
    cairn_test_rm_rf (tmp);
  }
  static const char *const bad[][2] = {
    { "index_map_size", "abc" },  { "index_map_size", "1KiB" },
    { "index_map_size", "64GB" }, { "index_map_size", "" },
    { "pack_every", "-1" },       { "pack_every", "ten" },
    { "sync", "maybe" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *tmp = cairn_test_make_tmpdir ();
    g_autoptr (CairnTestPlugin) fp
        = cairn_test_plugin_new (cairn_plugin_descriptor_store_git, tmp);
    cairn_test_plugin_set_config (fp, bad[i][0], bad[i][1]);
    g_assert_false (cairn_test_plugin_init (fp, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_test_message ("%s = '%s': %s", bad[i][0], bad[i][1], error->message);
    g_assert_nonnull (strstr (error->message, bad[i][0]));
    g_assert_null (cairn_test_plugin_storage (fp));
    cairn_test_rm_rf (tmp);
  }
}

/* ---- everyday git tools -------------------------------------------------- */

static const char *const odd_keys[] = {
  "bank/balance/0123abcd/cairn",
  "bank/balance/0123abce/cairn",
  "bank/balance/0123abcd/cairn/x", /* the key above is its prefix */
  "bank/b",
  "core/.git",
  "core/..",
  "core/git~1",
  "core/100%",
  "core/a b+c@d:e",
  "im/\x7f\xc3\xa9",
};

static void
test_git_tools (void)
{
  const uint64_t n = 12;
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < n; h++) {
    g_autoptr (CairnTestCommit) c = core_commit (h);
    for (size_t k = 0; k < G_N_ELEMENTS (odd_keys); k++) {
      g_autofree char *v = g_strdup_printf ("v%" G_GUINT64_FORMAT ".%zu", h, k);
      if ((h + k) % 4 != 3)
        cairn_test_commit_put (c, odd_keys[k], v);
      else
        cairn_test_commit_delete (c, odd_keys[k]);
    }
    cairn_test_commit_private_put (c, "p/secret", "do-not-leak-7f3a");
    commit_ok (e, s, c);
  }
  e->iface->close (s);
  g_autofree char *repo = chain_path (e);

  assert_fsck (repo);

  g_autofree char *log = git_out (repo, "log", "--oneline");
  g_auto (GStrv) lines = g_strsplit (g_strchomp (log), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, n);
  for (uint64_t i = 0; i < n; i++) {
    g_autofree char *want
        = g_strdup_printf (" block %" G_GUINT64_FORMAT, n - 1 - i);
    g_assert_true (g_str_has_suffix (lines[i], want));
  }
  /* HEAD is the chain, and chain names the same commits. */
  g_autofree char *log2 = git_out (repo, "log", "--oneline");
  g_autofree char *log_chain = NULL;
  g_assert_cmpint (
      git_run (repo, &log_chain, "log", "--oneline", "chain", NULL), ==, 0);
  g_assert_cmpstr (log_chain, ==, log2);

  /* git show chain:state/<path> gives each key's value at the head. */
  for (size_t k = 0; k < G_N_ELEMENTS (odd_keys); k++) {
    g_autofree char *path = state_path (repo, "chain", odd_keys[k]);
    gboolean deleted = (n - 1 + k) % 4 == 3;
    if (deleted) {
      g_assert_null (path);
      continue;
    }
    g_assert_nonnull (path);
    g_autofree char *spec = g_strdup_printf ("chain:state/%s", path);
    g_autofree char *value = git_out (repo, "show", spec);
    g_autofree char *want
        = g_strdup_printf ("v%" G_GUINT64_FORMAT ".%zu", n - 1, k);
    g_test_message ("git show %s -> %s", spec, value);
    g_assert_cmpstr (value, ==, want);
  }
  /* An older block's state by its commit. */
  g_autofree char *old_path = state_path (repo, "chain~5", odd_keys[0]);
  g_autofree char *old_spec = g_strdup_printf ("chain~5:state/%s", old_path);
  g_autofree char *old = git_out (repo, "show", old_spec);
  g_assert_cmpstr (old, ==, "v6.0");

  /* The block's parts and metadata. */
  g_autofree char *header = NULL;
  g_autofree char *block = core_block (n - 1, &header);
  g_autofree char *hj = git_out (repo, "show", "chain:header.json");
  g_assert_cmpstr (hj, ==, header);
  g_autofree char *height = git_out (repo, "show", "chain~4:height");
  g_autofree char *want_h = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", n - 5);
  g_assert_cmpstr (height, ==, want_h);
  g_autofree char *results = git_out (repo, "show", "chain:results");
  g_assert_nonnull (strstr (results, "{\"code\":\"ok\",\"h\":11,\"i\":1}\n"));
  /* Committed by the fixed identity at the block's time. */
  g_autofree char *raw = NULL;
  g_assert_cmpint (git_run (repo, &raw, "cat-file", "-p", "chain", NULL), ==,
                   0);
  g_autofree char *ident = g_strdup_printf (
      "committer cairn <chain@cairn.invalid> %" G_GINT64_FORMAT " +0000",
      (time0_ms + (int64_t)(n - 1) * 1000) / 1000);
  g_assert_nonnull (strstr (raw, ident));

  /* Nothing private is in chain.git, not even unreachable. */
  g_autofree char *all = NULL;
  g_assert_cmpint (
      git_run (repo, &all, "cat-file", "--batch-all-objects", "--batch", NULL),
      ==, 0);
  g_assert_null (strstr (all, "do-not-leak-7f3a"));

  /* The store reads back what git shows. */
  s = env_open (e);
  g_autoptr (GBytes) b = e->iface->block_get (s, n - 1, NULL);
  cairn_test_assert_bytes_str (b, block);
  e->iface->close (s);
}

/* ---- the trie: same keys, same tree ---------------------------------------
 */

static char *
random_key (void)
{
  static const char *const stems[]
      = { "a/", "a/b", "a/bc/", "bank/balance/", "z", "q/..", "%/+", "x~" };
  GString *s = g_string_new (stems[g_test_rand_int_range (0, 8)]);
  int parts = g_test_rand_int_range (0, 4);
  for (int i = 0; i < parts; i++)
    g_string_append_c (s, "0123456789abcdef/"[g_test_rand_int_range (0, 17)]);
  if (g_test_rand_int_range (0, 10) == 0) {
    /* long: several chain pieces (encoded > 240 per piece) */
    int len = g_test_rand_int_range (250, 520);
    while ((int)s->len < len)
      g_string_append_c (s, g_test_rand_bit () ? '.' : 'k');
  }
  if (s->len == 0 || s->str[0] == '/')
    g_string_prepend_c (s, 'k');
  return g_string_free (s, FALSE);
}

typedef struct {
  GString *out;
} Dump;

static gboolean
dump_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Dump *d = user_data;
  g_string_append_printf (d->out, "%s=%.*s;", key, (int)len,
                          (const char *)value);
  return TRUE;
}

static char *
dump_state (Env *e, CairnStore *s, uint64_t height, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  Dump d = { g_string_new (NULL) };
  g_assert_true (e->iface->state_iter (s, prefix, height, dump_cb, &d, &error));
  g_assert_no_error (error);
  return g_string_free (d.out, FALSE);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static char *
model_dump (GHashTable *m, const char *prefix)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  GString *out = g_string_new (NULL);
  g_hash_table_iter_init (&it, m);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_prefix (k, prefix))
      g_ptr_array_add (keys, k);
  g_ptr_array_sort (keys, cmp_str);
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (out, "%s=%s;", (char *)keys->pdata[i],
                            (char *)g_hash_table_lookup (m, keys->pdata[i]));
  return g_string_free (out, FALSE);
}

static GHashTable *
model_copy (GHashTable *m)
{
  GHashTable *c
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer k, v;
  if (m != NULL) {
    g_hash_table_iter_init (&it, m);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_hash_table_insert (c, g_strdup (k), g_strdup (v));
  }
  return c;
}

static void
test_canonical_trie (void)
{
  const guint n_heights = 40;
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  g_autoptr (GPtrArray) models
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_hash_table_unref);
  g_autoptr (GPtrArray) pool = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < 80; i++)
    g_ptr_array_add (pool, random_key ());

  for (guint h = 0; h < n_heights; h++) {
    GHashTable *m = model_copy (h > 0 ? models->pdata[h - 1] : NULL);
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    int ops = g_test_rand_int_range (1, 25);
    for (int i = 0; i < ops; i++) {
      const char *k = pool->pdata[g_test_rand_int_range (0, (gint32)pool->len)];
      /* deletes grow later, so nodes merge back as well as split */
      if (g_test_rand_int_range (0, 100) < (gint32)(20 + h)) {
        cairn_test_commit_delete (c, k);
        g_hash_table_remove (m, k);
      } else {
        g_autofree char *v = g_strdup_printf ("%u.%d", h, i);
        cairn_test_commit_put (c, k, v);
        g_hash_table_insert (m, g_strdup (k), g_strdup (v));
      }
    }
    commit_ok (e, s, c);
    g_ptr_array_add (models, m);
  }
  /* Every height, whole and by prefixes, against the model. */
  const char *prefixes[] = { "", "a", "a/b", "a/bc/", "bank/", "q/.", "z" };
  for (guint h = 0; h < n_heights; h++)
    for (size_t p = 0; p < G_N_ELEMENTS (prefixes); p++) {
      g_autofree char *got = dump_state (e, s, h, prefixes[p]);
      g_autofree char *want = model_dump (models->pdata[h], prefixes[p]);
      g_assert_cmpstr (got, ==, want);
    }
  e->iface->close (s);

  /* A second store gets the final state in one block: the same tree. */
  g_autofree char *other = g_build_filename (e->tmp, "other", NULL);
  CairnStore *s2 = env_open_dir (e, other);
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  GHashTable *last = models->pdata[n_heights - 1];
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, last);
  while (g_hash_table_iter_next (&it, &k, &v))
    cairn_test_commit_put (c, k, v);
  commit_ok (e, s2, c);
  e->iface->close (s2);
  g_autofree char *repo1 = chain_path (e);
  g_autofree char *repo2 = g_build_filename (other, "chain.git", NULL);
  g_autofree char *t1 = git_out (repo1, "rev-parse", "chain:state");
  g_autofree char *t2 = git_out (repo2, "rev-parse", "chain:state");
  g_test_message ("state tree after %u blocks: %s", n_heights, t1);
  g_assert_cmpstr (t1, ==, t2);
  assert_fsck (repo1);
  /* A long key is a chain of path components of at most 240 bytes. */
  g_autofree char *names = NULL;
  g_assert_cmpint (git_run (repo1, &names, "ls-tree", "-r", "-t", "--name-only",
                            "chain:state", NULL),
                   ==, 0);
  g_auto (GStrv) paths = g_strsplit (names, "\n", -1);
  for (guint i = 0; paths[i] != NULL; i++) {
    g_auto (GStrv) comps = g_strsplit (paths[i], "/", -1);
    for (guint j = 0; comps[j] != NULL; j++)
      g_assert_cmpuint (strlen (comps[j]), <=, 240);
  }
}

/* A node that loses all but one child merges with it; when that child is
 * a long edge stored as a chain of pieces, the merged edge is cut where a
 * store that never had the sibling cuts it. (Found by canonical-trie with
 * seed R02S0000303900000924000018b80000128e.) */
static void
test_long_edge_merge (void)
{
  g_autoptr (Env) e = env_new ();
  g_autofree char *long_key = g_strnfill (600, 'k');
  memcpy (long_key, "a/x", 3);

  CairnStore *s = env_open (e);
  g_autoptr (CairnTestCommit) c0 = cairn_test_commit_new (0);
  cairn_test_commit_put (c0, long_key, "long");
  cairn_test_commit_put (c0, "a/y", "sibling");
  cairn_test_commit_put (c0, "b", "other");
  commit_ok (e, s, c0);
  g_autoptr (CairnTestCommit) c1 = cairn_test_commit_new (1);
  cairn_test_commit_delete (c1, "a/y");
  commit_ok (e, s, c1);
  e->iface->close (s);

  g_autofree char *other = g_build_filename (e->tmp, "other", NULL);
  CairnStore *s2 = env_open_dir (e, other);
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  cairn_test_commit_put (c, long_key, "long");
  cairn_test_commit_put (c, "b", "other");
  commit_ok (e, s2, c);
  e->iface->close (s2);

  g_autofree char *repo1 = chain_path (e);
  g_autofree char *repo2 = g_build_filename (other, "chain.git", NULL);
  g_autofree char *t1 = git_out (repo1, "rev-parse", "chain:state");
  g_autofree char *t2 = git_out (repo2, "rev-parse", "chain:state");
  g_assert_cmpstr (t1, ==, t2);
  assert_fsck (repo1);
}

/* ---- the index ---------------------------------------------------------- */

static void
check_lookups (Env *e, CairnStore *s, uint64_t n)
{
  for (uint64_t h = 0; h < n; h++) {
    g_autoptr (GError) error = NULL;
    uint8_t hash[32];
    uint64_t found = 0;
    cairn_test_block_hash (h, hash);
    g_assert_true (e->iface->block_find (s, hash, &found, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (found, ==, h);
    for (uint32_t i = 0; i < 2; i++) {
      uint8_t id[32];
      uint64_t th;
      uint32_t ti;
      g_autoptr (GBytes) res = NULL;
      cairn_test_tx_id (h, i, id);
      g_assert_true (e->iface->tx_get (s, id, &th, &ti, &res, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (th, ==, h);
      g_assert_cmpuint (ti, ==, i);
      g_autofree char *want = g_strdup_printf (
          "{\"code\":\"ok\",\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      cairn_test_assert_bytes_str (res, want);
    }
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    assert_state (e, s, "c/counter", h, v);
  }
}

static void
commit_counted (Env *e, CairnStore *s, uint64_t from, uint64_t to)
{
  for (uint64_t h = from; h < to; h++) {
    g_autoptr (CairnTestCommit) c = core_commit (h);
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, "c/counter", v);
    commit_ok (e, s, c);
  }
}

static void
copy_dir (const char *from, const char *to)
{
  g_autofree char *cmd = g_strdup_printf ("cp -a '%s' '%s'", from, to);
  int status;
  g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static void
test_index_rebuild (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  commit_counted (e, s, 0, 4);
  e->iface->close (s);
  g_autofree char *index = g_build_filename (e->dir, "index", NULL);
  g_autofree char *saved = g_build_filename (e->tmp, "index-at-3", NULL);
  copy_dir (index, saved);

  /* Lost: rebuilt from chain.git on open. */
  s = env_open (e);
  commit_counted (e, s, 4, 9);
  e->iface->close (s);
  cairn_test_rm_rf (index);
  s = env_open (e);
  g_assert_true (cairn_test_plugin_log_contains (e->fp, "rebuilt the index"));
  check_lookups (e, s, 9);
  e->iface->close (s);

  /* Behind (an index of block 3): caught up, not rebuilt. */
  cairn_test_rm_rf (index);
  copy_dir (saved, index);
  s = env_open (e);
  g_assert_true (cairn_test_plugin_log_contains (e->fp,
                                                 "caught up the index of "
                                                 "blocks 4..8"));
  check_lookups (e, s, 9);
  commit_counted (e, s, 9, 10);
  check_lookups (e, s, 10);
  e->iface->close (s);

  /* Damaged: garbage in data.mdb, then a truncated one. */
  g_autofree char *data = g_build_filename (index, "data.mdb", NULL);
  g_autofree char *junk = g_strnfill (20000, 'j');
  g_assert_true (g_file_set_contents (data, junk, -1, NULL));
  s = env_open (e);
  g_assert_true (
      cairn_test_plugin_log_contains (e->fp, "the index is damaged"));
  check_lookups (e, s, 10);
  e->iface->close (s);
  g_assert_cmpint (truncate (data, 4096 * 3), ==, 0);
  s = env_open (e);
  check_lookups (e, s, 10);
  e->iface->close (s);
}

/* ---- damaged repositories --------------------------------------------------
 */

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
}

static void
test_damaged (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  commit_counted (e, s, 0, 3);
  e->iface->close (s);
  g_autofree char *repo = chain_path (e);
  g_autofree char *ref
      = g_build_filename (repo, "refs", "heads", "chain", NULL);
  g_autofree char *good = NULL;
  g_assert_true (g_file_get_contents (ref, &good, NULL, NULL));

  /* The ref: garbage, then a commit that does not exist. */
  write_file (ref, "this is not an object id\n");
  g_autofree char *m1 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (m1, repo));
  g_assert_nonnull (strstr (m1, "refs/heads/chain"));
  write_file (ref, "0123456789012345678901234567890123456789\n");
  g_autofree char *m2 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (m2, ref));
  g_assert_nonnull (strstr (m2, "0123456789012345678901234567890123456789"));
  g_assert_nonnull (strstr (m2, "damaged"));
  write_file (ref, good);

  /* The config: a newer format; none (adopted, as after a clone). */
  g_assert_cmpint (git_run (repo, NULL, "config", "cairn.format", "2", NULL),
                   ==, 0);
  g_autofree char *m4 = env_open_fails (e, CAIRN_ERROR_NOT_IMPLEMENTED);
  g_assert_nonnull (strstr (m4, "format version 2"));
  g_assert_cmpint (
      git_run (repo, NULL, "config", "--unset", "cairn.format", NULL), ==, 0);
  s = env_open (e);
  g_assert_true (cairn_test_plugin_log_contains (e->fp, "adopting it"));
  check_lookups (e, s, 3);
  e->iface->close (s);
  g_autofree char *format = git_out (repo, "config", "cairn.format");
  g_assert_cmpstr (format, ==, "1\n");

  /* Packs overwritten with garbage: the head cannot be read. */
  g_autofree char *saved = g_build_filename (e->tmp, "saved.git", NULL);
  copy_dir (repo, saved);
  g_autofree char *packs = g_build_filename (repo, "objects", "pack", NULL);
  g_autoptr (GDir) d = g_dir_open (packs, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".pack")) {
      g_autofree char *p = g_build_filename (packs, name, NULL);
      GStatBuf sb;
      g_assert_cmpint (g_stat (p, &sb), ==, 0);
      g_autofree char *junk = g_strnfill ((gsize)sb.st_size, 'x');
      write_file (p, junk);
    }
  g_autofree char *m5 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (m5, "refs/heads/chain"));
  cairn_test_rm_rf (repo);

  /* Another git repository, without blocks: not ours. */
  g_assert_cmpint (
      git_run (e->tmp, NULL, "init", "--quiet", "--bare", repo, NULL), ==, 0);
  g_autofree char *m3 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (m3, "not a store-git chain repository"));
  cairn_test_rm_rf (repo);

  /* Not a directory. */
  write_file (repo, "x");
  g_autofree char *m6 = env_open_fails (e, CAIRN_ERROR_CORRUPT);
  g_assert_nonnull (strstr (m6, "not a directory"));
  g_unlink (repo);
  g_assert_cmpint (g_rename (saved, repo), ==, 0);
  s = env_open (e);
  check_lookups (e, s, 3);
  e->iface->close (s);
}

/* Random bytes of the packs flipped: every read either gives the right
 * bytes or fails with CORRUPT or IO; nothing crashes. */
static void
test_flipped_bytes (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  commit_counted (e, s, 0, 6);
  e->iface->close (s);
  g_autofree char *repo = chain_path (e);
  g_autofree char *pristine = g_build_filename (e->tmp, "pristine.git", NULL);
  copy_dir (repo, pristine);
  guint refused = 0, fine = 0;
  for (int round = 0; round < 30; round++) {
    cairn_test_rm_rf (repo);
    copy_dir (pristine, repo);
    g_autofree char *packs = g_build_filename (repo, "objects", "pack", NULL);
    g_autoptr (GDir) d = g_dir_open (packs, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (d)) != NULL) {
      if (!g_str_has_suffix (name, ".pack"))
        continue;
      g_autofree char *p = g_build_filename (packs, name, NULL);
      g_chmod (p, 0644);
      int fd = open (p, O_RDWR);
      g_assert_cmpint (fd, >=, 0);
      off_t size = lseek (fd, 0, SEEK_END);
      off_t at = 12 + g_test_rand_int_range (0, (gint32)(size - 32));
      char byte = (char)g_test_rand_int_range (0, 256);
      g_assert_cmpint (pwrite (fd, &byte, 1, at), ==, 1);
      close (fd);
    }
    g_autoptr (GError) error = NULL;
    s = e->iface->open (cairn_test_plugin_self (e->fp), e->dir, &error);
    if (s == NULL) {
      g_assert_true (error->code == CAIRN_ERROR_CORRUPT
                     || error->code == CAIRN_ERROR_IO);
      refused++;
      continue;
    }
    for (uint64_t h = 0; h < 6; h++) {
      g_autoptr (GError) e2 = NULL;
      g_autoptr (GBytes) v = e->iface->state_get (s, "c/counter", h, &e2);
      g_autofree char *want = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
      if (v != NULL) {
        cairn_test_assert_bytes_str (v, want);
        fine++;
      } else {
        g_assert_true (e2->code == CAIRN_ERROR_CORRUPT
                       || e2->code == CAIRN_ERROR_IO);
        g_assert_nonnull (strstr (e2->message, repo));
        refused++;
      }
      g_autoptr (GBytes) b = e->iface->block_get (s, h, NULL);
      if (b != NULL) {
        g_autofree char *want_b = core_block (h, NULL);
        cairn_test_assert_bytes_str (b, want_b);
      }
    }
    e->iface->close (s);
  }
  g_test_message ("flipped bytes: %u reads right, %u refused", fine, refused);
  g_assert_cmpuint (refused, >, 0);
}

static void
test_in_use (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  g_autofree char *msg = env_open_fails (e, CAIRN_ERROR_CONFLICT);
  g_assert_nonnull (strstr (msg, "already open"));
  g_assert_nonnull (strstr (msg, e->dir));
  commit_counted (e, s, 0, 1);
  e->iface->close (s);
  s = env_open (e);
  e->iface->close (s);
}

/* ---- packing
 * ------------------------------------------------------------------- */

static guint
count_files (const char *dir, const char *suffix)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    n += g_str_has_suffix (name, suffix);
  return n;
}

static void
test_packing (void)
{
  static const char *const config[] = { "pack_every", "5", NULL };
  g_autoptr (Env) e = env_new_with (config);
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < 23; h++) {
    g_autoptr (CairnTestCommit) c = core_commit (h);
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, "c/counter", v);
    for (int i = 0; i < 50; i++) {
      g_autofree char *k
          = g_strdup_printf ("k/%02d/%" G_GUINT64_FORMAT, i, h % 7);
      cairn_test_commit_put (c, k, v);
    }
    cairn_test_commit_private_put (c, "p/last", v);
    commit_ok (e, s, c);
  }
  /* Reads work while the last checkpoint is packed in the background. */
  check_lookups (e, s, 23);
  g_autoptr (GBytes) last = e->iface->private_get (s, "p/last", NULL);
  cairn_test_assert_bytes_str (last, "22");
  /* Closing finishes it. */
  e->iface->close (s);
  g_autofree char *repo = chain_path (e);
  g_autofree char *packs = g_build_filename (repo, "objects", "pack", NULL);
  /* Kept packs for blocks 0-5, 6-10, 11-15, 16-20; one pack per block
   * since (21, 22). */
  g_assert_cmpuint (count_files (packs, ".keep"), ==, 4);
  g_assert_cmpuint (count_files (packs, ".pack"), ==, 6);
  g_autofree char *tags = git_out (repo, "tag", "--list");
  g_assert_cmpstr (tags, ==,
                   "checkpoint-10\ncheckpoint-15\ncheckpoint-20\n"
                   "checkpoint-5\n");
  g_autofree char *c20 = git_out (repo, "rev-parse", "checkpoint-20");
  g_autofree char *h20 = git_out (repo, "rev-parse", "chain~2");
  g_assert_cmpstr (c20, ==, h20);
  g_assert_true (cairn_test_plugin_log_contains (e->fp, "removed 5 packs"));
  /* private.git is packed as well (every 5 private commits). */
  g_autofree char *ppacks
      = g_build_filename (e->dir, "private.git", "objects", "pack", NULL);
  g_assert_cmpuint (count_files (ppacks, ".pack"), <=, 5);
  assert_fsck (repo);
  g_autofree char *prepo = g_build_filename (e->dir, "private.git", NULL);
  assert_fsck (prepo);
  /* A git gc by hand keeps the store working. */
  g_assert_cmpint (git_run (repo, NULL, "gc", "--quiet", NULL), ==, 0);
  s = env_open (e);
  check_lookups (e, s, 23);
  commit_counted (e, s, 23, 26);
  check_lookups (e, s, 26);
  e->iface->close (s);
  assert_fsck (repo);
}

/* Without checkpoints, packs are merged so that fewer than 32 are left
 * (every lookup tries each pack). */
static void
test_merging (void)
{
  static const char *const config[] = { "pack_every", "0", NULL };
  g_autoptr (Env) e = env_new_with (config);
  CairnStore *s = env_open (e);
  for (uint64_t h = 0; h < 70; h++) {
    g_autoptr (CairnTestCommit) c = core_commit (h);
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, "c/counter", v);
    g_autofree char *k = g_strdup_printf ("k/%" G_GUINT64_FORMAT, h % 13);
    cairn_test_commit_put (c, k, v);
    cairn_test_commit_private_put (c, "p/last", v);
    commit_ok (e, s, c);
  }
  g_assert_true (cairn_test_plugin_log_contains (e->fp, "merged 16 packs"));
  g_autofree char *repo = chain_path (e);
  g_autofree char *packs = g_build_filename (repo, "objects", "pack", NULL);
  g_autofree char *ppacks
      = g_build_filename (e->dir, "private.git", "objects", "pack", NULL);
  g_assert_cmpuint (count_files (packs, ".pack"), <, 32);
  g_assert_cmpuint (count_files (packs, ".keep"), ==, 0);
  g_assert_cmpuint (count_files (ppacks, ".pack"), <, 32);
  check_lookups (e, s, 70);
  for (uint64_t h = 0; h < 70; h += 7) {
    g_autofree char *k = g_strdup_printf ("k/%" G_GUINT64_FORMAT, h % 13);
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    assert_state (e, s, k, h, v);
  }
  g_autoptr (GBytes) last = e->iface->private_get (s, "p/last", NULL);
  cairn_test_assert_bytes_str (last, "69");
  e->iface->close (s);
  assert_fsck (repo);
  s = env_open (e);
  check_lookups (e, s, 70);
  e->iface->close (s);
}

/* ---- snapshots: git clone ------------------------------------------------ */

static void
test_clone (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  commit_counted (e, s, 0, 7);
  e->iface->close (s);
  g_autofree char *repo = chain_path (e);
  const char *modes[] = { "--bare", "--mirror" };
  for (size_t i = 0; i < G_N_ELEMENTS (modes); i++) {
    g_autofree char *other = g_strdup_printf ("%s/node%zu", e->tmp, i);
    g_autofree char *dest = g_build_filename (other, "chain.git", NULL);
    g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
    g_assert_cmpint (
        git_run (e->tmp, NULL, "clone", "--quiet", modes[i], repo, dest, NULL),
        ==, 0);
    /* git clone does not copy the config: the store adopts the chain. */
    CairnStore *c = env_open_dir (e, other);
    uint64_t head = 0;
    g_assert_true (e->iface->head (c, &head, NULL));
    g_assert_cmpuint (head, ==, 6);
    check_lookups (e, c, 7);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) none = e->iface->private_get (c, "p/last", &error);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    commit_counted (e, c, 7, 9);
    check_lookups (e, c, 9);
    e->iface->close (c);
    assert_fsck (dest);
  }
}

/* ---- refusals
 * ---------------------------------------------------------------- */

static void
test_refusals (void)
{
  g_autoptr (Env) e = env_new ();
  CairnStore *s = env_open (e);
  commit_counted (e, s, 0, 2);
  g_autofree char *repo = chain_path (e);
  g_autofree char *before = git_out (repo, "rev-parse", "chain");
  g_autoptr (GError) error = NULL;

  /* A tx id twice in one block, an id already stored, a stored hash. */
  {
    g_autoptr (CairnTestCommit) c = core_commit (2);
    uint8_t id[32];
    cairn_test_tx_id (2, 0, id);
    cairn_test_commit_add_tx (c, id, "{}");
    g_assert_false (e->iface->commit (s, cairn_test_commit_data (c), &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
    g_clear_error (&error);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (2);
    uint8_t id[32];
    cairn_test_tx_id (1, 1, id);
    cairn_test_commit_add_tx (c, id, "{}");
    g_assert_false (e->iface->commit (s, cairn_test_commit_data (c), &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
    g_assert_nonnull (strstr (error->message, "already stored"));
    g_clear_error (&error);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (2);
    uint8_t hash[32];
    cairn_test_block_hash (0, hash);
    cairn_test_commit_set_hash (c, hash);
    g_assert_false (e->iface->commit (s, cairn_test_commit_data (c), &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
    g_clear_error (&error);
  }
  /* Unsorted writes, an empty key. */
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (2);
    CairnCommitData d = *cairn_test_commit_data (c);
    CairnWrite w[] = { { "b/x", (const uint8_t *)"1", 1, 0, 0 },
                       { "a/x", (const uint8_t *)"1", 1, 0, 0 } };
    d.writes = w;
    d.n_writes = 2;
    g_assert_false (e->iface->commit (s, &d, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
    w[0].key = "";
    d.n_writes = 1;
    g_assert_false (e->iface->commit (s, &d, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_autoptr (GBytes) none = e->iface->state_get (s, "", CAIRN_HEAD, &error);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_autofree char *after = git_out (repo, "rev-parse", "chain");
  g_assert_cmpstr (before, ==, after);
  check_lookups (e, s, 2);
  commit_counted (e, s, 2, 3);
  e->iface->close (s);
  assert_fsck (repo);
}

/* ---- threads ----------------------------------------------------------------
 */

typedef struct {
  Env *e;
  CairnStore *s;
  volatile gint stop;
  guint reads;
} Readers;

static gboolean
count_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  (*(guint *)user_data)++;
  return TRUE;
}

static gpointer
reader_main (gpointer data)
{
  Readers *r = data;
  while (!g_atomic_int_get (&r->stop)) {
    uint64_t head;
    if (!r->e->iface->head (r->s, &head, NULL))
      continue;
    uint64_t h = (uint64_t)g_random_int_range (0, (gint32)head + 1);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) v
        = r->e->iface->state_get (r->s, "c/counter", h, &error);
    g_assert_no_error (error);
    g_autofree char *want = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_assert_bytes_str (v, want);
    guint n = 0;
    g_assert_true (
        r->e->iface->state_iter (r->s, "c/", h, count_cb, &n, &error));
    g_assert_cmpuint (n, ==, 1);
    g_atomic_int_inc ((gint *)&r->reads);
  }
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (Env) e = env_new ();
  Readers r = { e, env_open (e), 0, 0 };
  commit_counted (e, r.s, 0, 1);
  GThread *t[3];
  for (int i = 0; i < 3; i++)
    t[i] = g_thread_new ("reader", reader_main, &r);
  commit_counted (e, r.s, 1, 25);
  g_atomic_int_set (&r.stop, 1);
  for (int i = 0; i < 3; i++)
    g_thread_join (t[i]);
  g_test_message ("%u reads during 24 commits", r.reads);
  g_assert_cmpuint (r.reads, >, 0);
  check_lookups (e, r.s, 25);
  e->iface->close (r.s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* The SDK's storage suite without its crash case, which runs as the
   * store-git-crash test (test-store-git-crash.c). */
  static const char *const no_sync[] = { "sync", "false", NULL };
  static const char *const pack3[] = { "pack_every", "3", NULL };
  const CairnTestStorageBackend backends[] = {
    { .name = "store-git",
      .entry = cairn_plugin_descriptor_store_git,
      .cases = CAIRN_TEST_STORAGE_CONFORMANCE },
    { .name = "store-git-nosync",
      .entry = cairn_plugin_descriptor_store_git,
      .config = no_sync,
      .cases = CAIRN_TEST_STORAGE_CONFORMANCE },
    { .name = "store-git-pack3",
      .entry = cairn_plugin_descriptor_store_git,
      .config = pack3,
      .cases = CAIRN_TEST_STORAGE_CONFORMANCE },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (backends); i++)
    cairn_test_storage_add_backend (&backends[i]);

  g_test_add_func ("/store-git/descriptor", test_descriptor);
  g_test_add_func ("/store-git/config", test_config);
  g_test_add_func ("/store-git/git-tools", test_git_tools);
  g_test_add_func ("/store-git/canonical-trie", test_canonical_trie);
  g_test_add_func ("/store-git/long-edge-merge", test_long_edge_merge);
  g_test_add_func ("/store-git/index-rebuild", test_index_rebuild);
  g_test_add_func ("/store-git/damaged", test_damaged);
  g_test_add_func ("/store-git/flipped-bytes", test_flipped_bytes);
  g_test_add_func ("/store-git/in-use", test_in_use);
  g_test_add_func ("/store-git/packing", test_packing);
  g_test_add_func ("/store-git/merging", test_merging);
  g_test_add_func ("/store-git/clone", test_clone);
  g_test_add_func ("/store-git/refusals", test_refusals);
  g_test_add_func ("/store-git/threads", test_threads);
  return g_test_run ();
}

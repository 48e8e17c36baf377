/* The storage conformance suite: see <cairn/testing/storage.h>. The crash
 * case is in storage_crash.c. */
#include "cairn/testing/storage.h"

#include <string.h>

#include "cairn/testing/util.h"
#include "storage_private.h"

typedef struct {
  const StorageBackend *be;
  char *tmp;
  char *dir; /* the store directory, below tmp, not created before open */
  CairnTestPlugin *fp;
  const CairnStorageIface *iface;
  CairnStore *store;
} Fx;

/* ---- fixture ----------------------------------------------------------- */

static void
fx_open (Fx *fx)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (fx->store);
  fx->store
      = fx->iface->open (cairn_test_plugin_self (fx->fp), fx->dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->store);
}

static void
fx_close (Fx *fx)
{
  if (fx->store != NULL)
    fx->iface->close (fx->store);
  fx->store = NULL;
}

static void
fx_reopen (Fx *fx)
{
  fx_close (fx);
  fx_open (fx);
}

static void
fx_setup (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  fx->be = data;
  fx->tmp = cairn_test_make_tmpdir ();
  fx->dir = g_build_filename (fx->tmp, "store", NULL);
  g_autofree char *data_dir = g_build_filename (fx->tmp, "data", NULL);
  fx->fp = cairn_test_plugin_new (fx->be->entry, data_dir);
  cairn_test_plugin_set_config_list (fx->fp,
                                     (const char *const *)fx->be->config);
  if (!cairn_test_plugin_init (fx->fp, &error))
    g_error ("%s: init failed: %s", fx->be->name, error->message);
  if (!cairn_test_plugin_check_config_read (fx->fp, &error))
    g_error ("%s: %s", fx->be->name, error->message);
  fx->iface = cairn_test_plugin_storage (fx->fp);
  if (fx->iface == NULL)
    g_error ("%s: plugin '%s' registered no storage interface during init",
             fx->be->name, cairn_test_plugin_descriptor (fx->fp)->id);
  fx_open (fx);
}

static void
fx_teardown (Fx *fx, gconstpointer data)
{
  fx_close (fx);
  cairn_test_plugin_free (fx->fp);
  cairn_test_rm_rf (fx->tmp);
  g_free (fx->dir);
  g_free (fx->tmp);
}

/* ---- helpers ------------------------------------------------------------ */

static void
commit_ok (Fx *fx, CairnTestCommit *c)
{
  g_autoptr (GError) error = NULL;
  gboolean ok
      = fx->iface->commit (fx->store, cairn_test_commit_data (c), &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
commit_fails (Fx *fx, CairnTestCommit *c, int code)
{
  g_autoptr (GError) error = NULL;
  gboolean ok
      = fx->iface->commit (fx->store, cairn_test_commit_data (c), &error);
  g_assert_error (error, CAIRN_ERROR, code);
  g_assert_false (ok);
  g_test_message ("refused as expected: %s", error->message);
}

static void
assert_head (Fx *fx, uint64_t expected)
{
  g_autoptr (GError) error = NULL;
  uint64_t h = G_MAXUINT64 - 1;
  g_assert_true (fx->iface->head (fx->store, &h, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (h, ==, expected);
}

static void
assert_empty (Fx *fx)
{
  g_autoptr (GError) error = NULL;
  uint64_t h;
  g_assert_false (fx->iface->head (fx->store, &h, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
}

/* expected NULL: absent (NOT_FOUND). */
static void
assert_state (Fx *fx, const char *key, uint64_t height, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = fx->iface->state_get (fx->store, key, height, &error);
  if (expected == NULL) {
    if (b != NULL)
      g_error ("key '%s' at height %" G_GUINT64_FORMAT
               " should be absent but has %zu bytes",
               key, height, g_bytes_get_size (b));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    return;
  }
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (b, expected);
}

static void
assert_private (Fx *fx, const char *key, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = fx->iface->private_get (fx->store, key, &error);
  if (expected == NULL) {
    g_assert_null (b);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    return;
  }
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (b, expected);
}

typedef struct {
  GString *out;
  guint calls;
  guint stop_after; /* 0 = never stop */
  Fx *reread;       /* when set, re-read each key through state_get */
  uint64_t height;
} Collect;

static gboolean
collect_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Collect *c = user_data;
  gboolean printable = len <= 64;
  for (size_t i = 0; i < len && printable; i++)
    printable = g_ascii_isprint (value[i]);
  if (printable)
    g_string_append_printf (c->out, "%s=%.*s;", key, (int)len,
                            (const char *)value);
  else
    g_string_append_printf (c->out, "%s=<%zu bytes>;", key, len);
  c->calls++;
  if (c->reread != NULL) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) b = c->reread->iface->state_get (c->reread->store, key,
                                                        c->height, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), value,
                     len);
  }
  return c->stop_after == 0 || c->calls < c->stop_after;
}

/* "k=v;k=v;" of the state under prefix at height. */
static char *
state_list (Fx *fx, const char *prefix, uint64_t height)
{
  g_autoptr (GError) error = NULL;
  Collect c = { g_string_new (NULL), 0, 0, NULL, 0 };
  gboolean ok = fx->iface->state_iter (fx->store, prefix, height, collect_cb,
                                       &c, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return g_string_free (c.out, FALSE);
}

static char *
private_list (Fx *fx, const char *prefix)
{
  g_autoptr (GError) error = NULL;
  Collect c = { g_string_new (NULL), 0, 0, NULL, 0 };
  gboolean ok
      = fx->iface->private_iter (fx->store, prefix, collect_cb, &c, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return g_string_free (c.out, FALSE);
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* The expected state_list() of a model (key -> value text). */
static char *
model_list (GHashTable *model, const char *prefix)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;
  GString *out = g_string_new (NULL);

  g_hash_table_iter_init (&it, model);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (g_str_has_prefix (k, prefix))
      g_ptr_array_add (keys, k);
  g_ptr_array_sort (keys, cmp_str_ptr);
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (
        out, "%s=%s;", (char *)keys->pdata[i],
        (char *)g_hash_table_lookup (model, keys->pdata[i]));
  return g_string_free (out, FALSE);
}

static GHashTable *
model_copy (GHashTable *m)
{
  GHashTable *c
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer k, v;
  if (m == NULL)
    return c;
  g_hash_table_iter_init (&it, m);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_hash_table_insert (c, g_strdup (k), g_strdup (v));
  return c;
}

static void
commit_empty_blocks (Fx *fx, uint64_t from, uint64_t to)
{
  for (uint64_t h = from; h <= to; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    commit_ok (fx, c);
  }
}

/* ---- cases -------------------------------------------------------------- */

static void
test_empty (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  uint8_t hash[32];
  uint64_t h;
  uint32_t idx;
  GBytes *res = NULL;

  assert_empty (fx);
  g_assert_true (g_file_test (fx->dir, G_FILE_TEST_IS_DIR));

  GBytes *b = fx->iface->block_get (fx->store, 0, &error);
  g_assert_null (b);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  cairn_test_block_hash (0, hash);
  g_assert_false (fx->iface->block_find (fx->store, hash, &h, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  cairn_test_tx_id (0, 0, hash);
  g_assert_false (fx->iface->tx_get (fx->store, hash, &h, &idx, &res, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_null (res);
  g_clear_error (&error);

  assert_state (fx, "a/b", CAIRN_HEAD, NULL);
  assert_state (fx, "a/b", 0, NULL);
  assert_private (fx, "a/b", NULL);

  /* Iterating an empty store at the head: nothing, and no error. */
  g_autofree char *all = state_list (fx, "", CAIRN_HEAD);
  g_assert_cmpstr (all, ==, "");
  g_autofree char *priv = private_list (fx, "");
  g_assert_cmpstr (priv, ==, "");
  /* ... but an explicit height does not exist yet. */
  Collect c = { g_string_new (NULL), 0, 0, NULL, 0 };
  g_assert_false (
      fx->iface->state_iter (fx->store, "", 0, collect_cb, &c, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_cmpuint (c.calls, ==, 0);
  g_string_free (c.out, TRUE);

  /* Still empty after a reopen. */
  fx_reopen (fx);
  assert_empty (fx);
}

static void
test_genesis (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
  uint8_t id[32], hash[32];
  uint64_t h = 99;
  uint32_t idx = 99;
  g_autoptr (GBytes) res = NULL;

  cairn_test_commit_put (c, "core/chain", "dev");
  cairn_test_commit_put (c, "bank/alice", "100");
  cairn_test_commit_private_put (c, "groups/g1/key", "secret");
  cairn_test_tx_id (0, 0, id);
  cairn_test_commit_add_tx (c, id, "{\"ok\":true}");
  commit_ok (fx, c);

  assert_head (fx, 0);
  g_autoptr (GBytes) block = fx->iface->block_get (fx->store, 0, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) want = cairn_test_commit_block (c);
  g_assert_true (g_bytes_equal (block, want));
  cairn_test_block_hash (0, hash);
  g_assert_true (fx->iface->block_find (fx->store, hash, &h, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (h, ==, 0);
  g_assert_true (fx->iface->tx_get (fx->store, id, &h, &idx, &res, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (h, ==, 0);
  g_assert_cmpuint (idx, ==, 0);
  cairn_test_assert_bytes_str (res, "{\"ok\":true}");

  assert_state (fx, "bank/alice", CAIRN_HEAD, "100");
  assert_state (fx, "bank/alice", 0, "100");
  assert_state (fx, "core/chain", 0, "dev");
  assert_state (fx, "bank/bob", 0, NULL);
  assert_private (fx, "groups/g1/key", "secret");
  g_autofree char *all = state_list (fx, "", 0);
  g_assert_cmpstr (all, ==, "bank/alice=100;core/chain=dev;");

  /* Heights above the head do not exist. */
  assert_state (fx, "bank/alice", 1, NULL);
  GBytes *none = fx->iface->block_get (fx->store, 1, &error);
  g_assert_null (none);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
}

static void
test_wrong_height (Fx *fx, gconstpointer data)
{
  /* Empty store: only 0. */
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_put (c, "x/refused", "1");
    commit_fails (fx, c, CAIRN_ERROR_CONFLICT);
  }
  assert_empty (fx);
  assert_state (fx, "x/refused", CAIRN_HEAD, NULL);

  commit_empty_blocks (fx, 0, 0);
  const uint64_t bad[] = { 0, 2, 5, G_MAXUINT32 };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (bad[i]);
    cairn_test_commit_put (c, "x/refused", "1");
    cairn_test_commit_private_put (c, "x/refused", "1");
    commit_fails (fx, c, CAIRN_ERROR_CONFLICT);
  }
  assert_head (fx, 0);
  assert_state (fx, "x/refused", CAIRN_HEAD, NULL);
  assert_private (fx, "x/refused", NULL);

  /* A refused commit leaves no trace: the next right one works. */
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
  cairn_test_commit_put (c, "x/ok", "1");
  commit_ok (fx, c);
  assert_head (fx, 1);
  assert_state (fx, "x/ok", CAIRN_HEAD, "1");
  g_autoptr (CairnTestCommit) again = cairn_test_commit_new (1);
  commit_fails (fx, again, CAIRN_ERROR_CONFLICT);
  assert_head (fx, 1);
}

static void
test_lookups (Fx *fx, gconstpointer data)
{
  const uint64_t n = 5;
  for (uint64_t h = 0; h < n; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    for (uint32_t i = 0; i <= h; i++) {
      uint8_t id[32];
      g_autofree char *result
          = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      cairn_test_tx_id (h, i, id);
      cairn_test_commit_add_tx (c, id, result);
    }
    commit_ok (fx, c);
  }
  assert_head (fx, n - 1);

  for (uint64_t h = 0; h < n; h++) {
    g_autoptr (GError) error = NULL;
    uint8_t hash[32];
    uint64_t found = G_MAXUINT64;
    g_autoptr (GBytes) block = fx->iface->block_get (fx->store, h, &error);
    g_assert_no_error (error);
    g_autofree char *want
        = g_strdup_printf ("{\"height\":%" G_GUINT64_FORMAT "}", h);
    cairn_test_assert_bytes_str (block, want);
    cairn_test_block_hash (h, hash);
    g_assert_true (fx->iface->block_find (fx->store, hash, &found, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (found, ==, h);
    for (uint32_t i = 0; i <= h; i++) {
      uint8_t id[32];
      uint64_t th = 0;
      uint32_t ti = 99;
      g_autoptr (GBytes) res = NULL;
      cairn_test_tx_id (h, i, id);
      g_assert_true (fx->iface->tx_get (fx->store, id, &th, &ti, &res, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (th, ==, h);
      g_assert_cmpuint (ti, ==, i);
      g_autofree char *result
          = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
      cairn_test_assert_bytes_str (res, result);
    }
    /* Out parameters may be NULL. */
    uint8_t id0[32];
    cairn_test_tx_id (h, 0, id0);
    g_assert_true (
        fx->iface->tx_get (fx->store, id0, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
  }

  /* Absent: a block above the head, an unknown hash, an unknown tx. */
  g_autoptr (GError) error = NULL;
  uint8_t unknown[32];
  uint64_t h;
  GBytes *b = fx->iface->block_get (fx->store, n, &error);
  g_assert_null (b);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  cairn_test_block_hash (n, unknown);
  g_assert_false (fx->iface->block_find (fx->store, unknown, &h, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  cairn_test_tx_id (0, 1, unknown);
  g_assert_false (
      fx->iface->tx_get (fx->store, unknown, NULL, NULL, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
}

/* Random puts, overwrites and deletes over a few keys; every key checked at
 * every height against a model. */
static void
test_history (Fx *fx, gconstpointer data)
{
  const guint n_heights = 30, n_keys = 9;
  g_autoptr (GPtrArray) models
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_hash_table_unref);
  GHashTable *prev = NULL;

  for (guint h = 0; h < n_heights; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    GHashTable *m = model_copy (prev);
    guint n_ops = (guint)g_test_rand_int_range (0, 5);
    /* A key written at every height, with values of varying size. */
    GString *hs = g_string_new (NULL);
    g_string_printf (hs, "%u:", h);
    for (gint32 pad = g_test_rand_int_range (0, 60); pad > 0; pad--)
      g_string_append_c (hs, (char)('a' + pad % 26));
    g_autofree char *hot = g_string_free (hs, FALSE);
    cairn_test_commit_put (c, "hot", hot);
    g_hash_table_insert (m, g_strdup ("hot"), g_strdup (hot));
    for (guint i = 0; i < n_ops; i++) {
      g_autofree char *key = g_strdup_printf (
          "acct/%u", (guint)g_test_rand_int_range (0, (gint32)n_keys));
      if (g_test_rand_int_range (0, 3) == 0) {
        cairn_test_commit_delete (c, key);
        g_hash_table_remove (m, key);
      } else {
        /* Sometimes the empty value: present, zero bytes. */
        g_autofree char *value = g_test_rand_int_range (0, 6) == 0
                                     ? g_strdup ("")
                                     : g_strdup_printf ("v%u.%u", h, i);
        cairn_test_commit_put (c, key, value);
        g_hash_table_insert (m, g_strdup (key), g_strdup (value));
      }
    }
    commit_ok (fx, c);
    g_ptr_array_add (models, m);
    prev = m;
  }

  for (int pass = 0; pass < 2; pass++) {
    for (guint h = 0; h < n_heights; h++) {
      GHashTable *m = models->pdata[h];
      for (guint k = 0; k <= n_keys; k++) {
        g_autofree char *key
            = k < n_keys ? g_strdup_printf ("acct/%u", k) : g_strdup ("hot");
        assert_state (fx, key, h, g_hash_table_lookup (m, key));
        if (h == n_heights - 1)
          assert_state (fx, key, CAIRN_HEAD, g_hash_table_lookup (m, key));
      }
      g_autofree char *want = model_list (m, "");
      g_autofree char *got = state_list (fx, "", h);
      g_assert_cmpstr (got, ==, want);
      g_autofree char *want_p = model_list (m, "acct/1");
      g_autofree char *got_p = state_list (fx, "acct/1", h);
      g_assert_cmpstr (got_p, ==, want_p);
    }
    g_autofree char *want = model_list (models->pdata[n_heights - 1], "");
    g_autofree char *got = state_list (fx, "", CAIRN_HEAD);
    g_assert_cmpstr (got, ==, want);
    fx_reopen (fx); /* second pass: the same after a reopen */
  }

  /* Above the head: NOT_FOUND for reads and iteration. */
  g_autoptr (GError) error = NULL;
  assert_state (fx, "acct/0", n_heights, NULL);
  Collect c = { g_string_new (NULL), 0, 0, NULL, 0 };
  g_assert_false (
      fx->iface->state_iter (fx->store, "", n_heights, collect_cb, &c, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_cmpuint (c.calls, ==, 0);
  g_string_free (c.out, TRUE);
}

static void
test_iter_prefix (Fx *fx, gconstpointer data)
{
  static const char *const keys[]
      = { "a", "a/", "a/b", "a/b/c", "a/c", "a0", "a.", "b/x", "~", "A", "ab" };
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
      cairn_test_commit_put (c, keys[i], keys[i]);
    commit_ok (fx, c);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_delete (c, "a/b");
    cairn_test_commit_put (c, "a/bb", "new");
    cairn_test_commit_put (c, "a/c", "changed");
    commit_ok (fx, c);
  }

  struct {
    const char *prefix;
    uint64_t height;
    const char *want;
  } cases[] = {
    { "a/", CAIRN_HEAD, "a/=a/;a/b/c=a/b/c;a/bb=new;a/c=changed;" },
    { "a/", 1, "a/=a/;a/b/c=a/b/c;a/bb=new;a/c=changed;" },
    { "a/", 0, "a/=a/;a/b=a/b;a/b/c=a/b/c;a/c=a/c;" },
    { "a/b", 0, "a/b=a/b;a/b/c=a/b/c;" },
    { "a/b", 1, "a/b/c=a/b/c;a/bb=new;" },
    { "a", 0, "a=a;a.=a.;a/=a/;a/b=a/b;a/b/c=a/b/c;a/c=a/c;a0=a0;ab=ab;" },
    { "", 0,
      "A=A;a=a;a.=a.;a/=a/;a/b=a/b;a/b/c=a/b/c;a/c=a/c;a0=a0;ab=ab;"
      "b/x=b/x;~=~;" },
    { "", CAIRN_HEAD,
      "A=A;a=a;a.=a.;a/=a/;a/b/c=a/b/c;a/bb=new;a/c=changed;"
      "a0=a0;ab=ab;b/x=b/x;~=~;" },
    { NULL, 0,
      "A=A;a=a;a.=a.;a/=a/;a/b=a/b;a/b/c=a/b/c;a/c=a/c;a0=a0;ab=ab;"
      "b/x=b/x;~=~;" },
    { "a/b/c/d", 0, "" },
    { "a/b/c/d", CAIRN_HEAD, "" },
    { "zz", CAIRN_HEAD, "" },
    { "zz", 0, "" },
    { "~", 1, "~=~;" },
    { "B", 0, "" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = state_list (fx, cases[i].prefix, cases[i].height);
    if (g_strcmp0 (got, cases[i].want) != 0)
      g_error ("prefix '%s' at height %" G_GUINT64_FORMAT
               ":\n got  %s\n want %s",
               cases[i].prefix ? cases[i].prefix : "(null)", cases[i].height,
               got, cases[i].want);
  }
}

static void
test_iter_stop (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    for (int i = 0; i < 10; i++) {
      g_autofree char *key = g_strdup_printf ("n/%02d", i);
      cairn_test_commit_put (c, key, "x");
      cairn_test_commit_private_put (c, key, "x");
    }
    commit_ok (fx, c);
  }
  commit_empty_blocks (fx, 1, 1);

  const uint64_t heights[] = { CAIRN_HEAD, 0 };
  for (size_t i = 0; i < G_N_ELEMENTS (heights); i++) {
    Collect c = { g_string_new (NULL), 0, 3, NULL, 0 };
    g_assert_true (fx->iface->state_iter (fx->store, "n/", heights[i],
                                          collect_cb, &c, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (c.calls, ==, 3);
    g_assert_cmpstr (c.out->str, ==, "n/00=x;n/01=x;n/02=x;");
    g_string_free (c.out, TRUE);
  }
  Collect c = { g_string_new (NULL), 0, 1, NULL, 0 };
  g_assert_true (
      fx->iface->private_iter (fx->store, "n/", collect_cb, &c, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (c.calls, ==, 1);
  g_assert_cmpstr (c.out->str, ==, "n/00=x;");
  g_string_free (c.out, TRUE);
}

/* The callback may read the store (the executor does). */
static void
test_iter_reentrant (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  for (uint64_t h = 0; h < 3; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    for (int i = 0; i < 20; i++) {
      g_autofree char *key = g_strdup_printf ("r/%02d", i);
      g_autofree char *value
          = g_strdup_printf ("%" G_GUINT64_FORMAT ".%d", h, i);
      if ((i + (int)h) % 4 != 0)
        cairn_test_commit_put (c, key, value);
      else
        cairn_test_commit_delete (c, key);
    }
    commit_ok (fx, c);
  }
  const uint64_t heights[] = { CAIRN_HEAD, 0, 1, 2 };
  for (size_t i = 0; i < G_N_ELEMENTS (heights); i++) {
    Collect c = { g_string_new (NULL), 0, 0, fx, heights[i] };
    g_assert_true (fx->iface->state_iter (fx->store, "r/", heights[i],
                                          collect_cb, &c, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (c.calls, ==, 15);
    g_string_free (c.out, TRUE);
  }
}

static void
test_private (Fx *fx, gconstpointer data)
{
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    cairn_test_commit_put (c, "g/shared", "s");
    cairn_test_commit_private_put (c, "g/x", "px");
    cairn_test_commit_private_put (c, "g/y", "py");
    cairn_test_commit_private_put (c, "h/z", "pz");
    commit_ok (fx, c);
  }
  /* Two namespaces: neither sees the other. */
  assert_state (fx, "g/x", CAIRN_HEAD, NULL);
  assert_state (fx, "g/x", 0, NULL);
  assert_private (fx, "g/shared", NULL);
  assert_private (fx, "g/x", "px");
  g_autofree char *shared = state_list (fx, "", CAIRN_HEAD);
  g_assert_cmpstr (shared, ==, "g/shared=s;");
  g_autofree char *p0 = private_list (fx, "g/");
  g_assert_cmpstr (p0, ==, "g/x=px;g/y=py;");

  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_private_delete (c, "g/x");
    cairn_test_commit_private_put (c, "g/y", "py2");
    cairn_test_commit_private_delete (c, "never/was");
    commit_ok (fx, c);
  }
  assert_private (fx, "g/x", NULL);
  assert_private (fx, "g/y", "py2");
  g_autofree char *p1 = private_list (fx, "");
  g_assert_cmpstr (p1, ==, "g/y=py2;h/z=pz;");
  /* Private writes never reach the shared history either. */
  g_autofree char *s0 = state_list (fx, "", 0);
  g_assert_cmpstr (s0, ==, "g/shared=s;");

  fx_reopen (fx);
  g_autofree char *p2 = private_list (fx, "");
  g_assert_cmpstr (p2, ==, "g/y=py2;h/z=pz;");
}

static void
test_reopen (Fx *fx, gconstpointer data)
{
  for (uint64_t h = 0; h < 3; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    uint8_t id[32];
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, "k/counter", v);
    if (h == 1)
      cairn_test_commit_put (c, "k/once", "1");
    if (h == 2)
      cairn_test_commit_delete (c, "k/once");
    cairn_test_commit_private_put (c, "p/last", v);
    cairn_test_tx_id (h, 0, id);
    cairn_test_commit_add_tx (c, id, v);
    commit_ok (fx, c);
  }
  fx_reopen (fx);
  assert_head (fx, 2);
  assert_state (fx, "k/counter", CAIRN_HEAD, "2");
  assert_state (fx, "k/counter", 0, "0");
  assert_state (fx, "k/once", 1, "1");
  assert_state (fx, "k/once", 2, NULL);
  assert_private (fx, "p/last", "2");
  for (uint64_t h = 0; h < 3; h++) {
    g_autoptr (GError) error = NULL;
    uint8_t id[32];
    uint64_t th;
    cairn_test_tx_id (h, 0, id);
    g_assert_true (fx->iface->tx_get (fx->store, id, &th, NULL, NULL, &error));
    g_assert_cmpuint (th, ==, h);
  }

  /* Committing continues at head + 1 and only there. */
  g_autoptr (CairnTestCommit) wrong = cairn_test_commit_new (2);
  commit_fails (fx, wrong, CAIRN_ERROR_CONFLICT);
  g_autoptr (CairnTestCommit) next = cairn_test_commit_new (3);
  cairn_test_commit_put (next, "k/counter", "3");
  commit_ok (fx, next);
  fx_reopen (fx);
  assert_head (fx, 3);
  assert_state (fx, "k/counter", CAIRN_HEAD, "3");
  assert_state (fx, "k/counter", 2, "2");
}

static GBytes *
pattern_bytes (size_t len, guint seed)
{
  guint8 *p = g_malloc (len);
  guint32 x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (guint8)(x >> 16);
  }
  return g_bytes_new_take (p, len);
}

static void
assert_state_bytes (Fx *fx, const char *key, uint64_t height, GBytes *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) got
      = fx->iface->state_get (fx->store, key, height, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (got, want));
}

typedef struct {
  const char *key;
  GBytes *want;
  guint seen;
} BigVisit;

static gboolean
big_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  BigVisit *v = user_data;
  g_assert_cmpstr (key, ==, v->key);
  g_assert_cmpmem (value, len, g_bytes_get_data (v->want, NULL),
                   g_bytes_get_size (v->want));
  v->seen++;
  return TRUE;
}

static void
test_large_values (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) v0 = pattern_bytes (CAIRN_MAX_VALUE, 1);
  g_autoptr (GBytes) v1 = pattern_bytes (CAIRN_MAX_VALUE, 2);
  g_autoptr (GBytes) pv = pattern_bytes (CAIRN_MAX_VALUE, 3);
  g_autoptr (GBytes) block = pattern_bytes (8u << 20, 4);
  g_autoptr (GBytes) result = pattern_bytes (1u << 20, 5);
  uint8_t id[32];
  cairn_test_tx_id (0, 0, id);
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    cairn_test_commit_put_bytes (c, "big/v", g_bytes_get_data (v0, NULL),
                                 CAIRN_MAX_VALUE);
    cairn_test_commit_put (c, "big/w", "small");
    cairn_test_commit_set_block (c, g_bytes_get_data (block, NULL),
                                 g_bytes_get_size (block));
    commit_ok (fx, c);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_put_bytes (c, "big/v", g_bytes_get_data (v1, NULL),
                                 CAIRN_MAX_VALUE);
    commit_ok (fx, c);
  }
  {
    /* A private value and a tx result of the largest sizes. */
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (2);
    CairnWrite pw
        = { "big/p", g_bytes_get_data (pv, NULL), CAIRN_MAX_VALUE, 0, 0 };
    CairnCommitTx tx
        = { id, g_bytes_get_data (result, NULL), g_bytes_get_size (result) };
    CairnCommitData d = *cairn_test_commit_data (c);
    d.private_writes = &pw;
    d.n_private_writes = 1;
    d.txs = &tx;
    d.n_txs = 1;
    g_assert_true (fx->iface->commit (fx->store, &d, &error));
    g_assert_no_error (error);
  }

  for (int pass = 0; pass < 2; pass++) {
    assert_state_bytes (fx, "big/v", 0, v0);
    assert_state_bytes (fx, "big/v", 1, v1);
    assert_state_bytes (fx, "big/v", CAIRN_HEAD, v1);
    assert_state (fx, "big/w", 2, "small");
    g_autoptr (GBytes) b = fx->iface->block_get (fx->store, 0, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (b, block));
    g_autoptr (GBytes) p = fx->iface->private_get (fx->store, "big/p", &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (p, pv));
    g_autoptr (GBytes) r = NULL;
    g_assert_true (fx->iface->tx_get (fx->store, id, NULL, NULL, &r, &error));
    g_assert_true (g_bytes_equal (r, result));
    BigVisit visit = { "big/v", v0, 0 };
    g_assert_true (
        fx->iface->state_iter (fx->store, "big/v", 0, big_cb, &visit, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (visit.seen, ==, 1);
    visit = (BigVisit){ "big/v", v1, 0 };
    g_assert_true (fx->iface->state_iter (fx->store, "big/v", CAIRN_HEAD,
                                          big_cb, &visit, &error));
    g_assert_cmpuint (visit.seen, ==, 1);
    fx_reopen (fx);
  }
}

typedef struct {
  guint count;
  char last[64];
} Ordered;

static gboolean
ordered_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Ordered *o = user_data;
  if (o->count > 0 && strcmp (o->last, key) >= 0)
    g_error ("iteration not ascending: '%s' after '%s'", key, o->last);
  g_strlcpy (o->last, key, sizeof o->last);
  /* Each value names its key. */
  g_assert_cmpuint (len, >=, strlen (key));
  g_assert_cmpmem (value, strlen (key), key, strlen (key));
  o->count++;
  return TRUE;
}

static void
test_many_keys (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const int n = 20000;
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    for (int i = 0; i < n; i++) {
      char key[32];
      g_snprintf (key, sizeof key, "k/%06d", i);
      cairn_test_commit_put (c, key, key);
    }
    commit_ok (fx, c);
  }
  {
    /* Delete every third, overwrite every fifth, add a few. */
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    for (int i = 0; i < n; i++) {
      char key[32], value[48];
      g_snprintf (key, sizeof key, "k/%06d", i);
      g_snprintf (value, sizeof value, "%s+1", key);
      if (i % 3 == 0)
        cairn_test_commit_delete (c, key);
      else if (i % 5 == 0)
        cairn_test_commit_put (c, key, value);
    }
    for (int i = 0; i < 100; i++) {
      char key[32];
      g_snprintf (key, sizeof key, "k/%06d", n + i);
      cairn_test_commit_put (c, key, key);
    }
    commit_ok (fx, c);
  }
  Ordered o = { 0 };
  g_assert_true (
      fx->iface->state_iter (fx->store, "k/", 0, ordered_cb, &o, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (o.count, ==, n);
  o = (Ordered){ 0 };
  g_assert_true (fx->iface->state_iter (fx->store, "k/", CAIRN_HEAD, ordered_cb,
                                        &o, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (o.count, ==, n - (n + 2) / 3 + 100);
  o = (Ordered){ 0 };
  g_assert_true (
      fx->iface->state_iter (fx->store, "k/0123", 0, ordered_cb, &o, &error));
  g_assert_cmpuint (o.count, ==, 100);

  assert_state (fx, "k/000010", 1, "k/000010+1");
  assert_state (fx, "k/000010", 0, "k/000010");
  assert_state (fx, "k/000009", 1, NULL);
  assert_state (fx, "k/000009", 0, "k/000009");
  assert_state (fx, "k/000007", CAIRN_HEAD, "k/000007");
  assert_state (fx, "k/020050", 0, NULL);
  assert_state (fx, "k/020050", 1, "k/020050");
}

/* Keys as long as the host allows: "<32-char ns>/" + CAIRN_MAX_KEY bytes,
 * several sharing all but their last bytes. */
static char *
long_key (char last, size_t len)
{
  GString *s = g_string_new ("abcdefghijklmnopqrstuvwxyz012345/");
  while (s->len < len - 1)
    g_string_append_c (s, (char)('a' + s->len % 26));
  g_string_append_c (s, last);
  return g_string_free (s, FALSE);
}

static void
test_long_keys (Fx *fx, gconstpointer data)
{
  const size_t max = 33 + CAIRN_MAX_KEY;
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  const size_t lengths[] = { 100, 468, 469, 470, 471, 500, 511, 512, max };
  for (size_t i = 0; i < G_N_ELEMENTS (lengths); i++)
    for (char last = 'A'; last <= 'E'; last++)
      g_ptr_array_add (keys, long_key (last, lengths[i]));
  g_autoptr (GHashTable) m0
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) m1
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    for (guint i = 0; i < keys->len; i++) {
      g_autofree char *v = g_strdup_printf ("v0.%u", i);
      cairn_test_commit_put (c, keys->pdata[i], v);
      cairn_test_commit_private_put (c, keys->pdata[i], v);
      g_hash_table_insert (m0, g_strdup (keys->pdata[i]), g_strdup (v));
    }
    commit_ok (fx, c);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    for (guint i = 0; i < keys->len; i++) {
      g_autofree char *v = g_strdup_printf ("v1.%u", i);
      if (i % 3 == 1) {
        cairn_test_commit_delete (c, keys->pdata[i]);
        continue;
      }
      if (i % 3 == 2)
        cairn_test_commit_put (c, keys->pdata[i], v);
      g_hash_table_insert (
          m1, g_strdup (keys->pdata[i]),
          g_strdup (i % 3 == 2 ? v : g_hash_table_lookup (m0, keys->pdata[i])));
    }
    commit_ok (fx, c);
  }

  for (guint i = 0; i < keys->len; i++) {
    const char *k = keys->pdata[i];
    assert_state (fx, k, 0, g_hash_table_lookup (m0, k));
    assert_state (fx, k, 1, g_hash_table_lookup (m1, k));
    assert_state (fx, k, CAIRN_HEAD, g_hash_table_lookup (m1, k));
    assert_private (fx, k, g_hash_table_lookup (m0, k));
  }
  /* Prefixes of every length, including longer than LMDB-like key limits. */
  const size_t plens[] = { 0, 33, 468, 469, 470, 471, 511, max - 1, max };
  for (size_t i = 0; i < G_N_ELEMENTS (plens); i++) {
    g_autofree char *full = long_key ('C', max);
    full[plens[i]] = '\0';
    for (int h = 0; h < 3; h++) {
      uint64_t height = h == 2 ? CAIRN_HEAD : (uint64_t)h;
      GHashTable *m = h == 0 ? m0 : m1;
      g_autofree char *want = model_list (m, full);
      g_autofree char *got = state_list (fx, full, height);
      g_assert_cmpstr (got, ==, want);
    }
    g_autofree char *want_p = model_list (m0, full);
    g_autofree char *got_p = private_list (fx, full);
    g_assert_cmpstr (got_p, ==, want_p);
  }
}

static void
test_empty_value (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    cairn_test_commit_put (c, "e/empty", "");
    cairn_test_commit_put (c, "e/full", "x");
    cairn_test_commit_private_put (c, "e/empty", "");
    commit_ok (fx, c);
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_put (c, "e/full", "");
    cairn_test_commit_delete (c, "e/empty");
    commit_ok (fx, c);
  }
  g_autoptr (GBytes) b = fx->iface->state_get (fx->store, "e/empty", 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (b);
  g_assert_cmpuint (g_bytes_get_size (b), ==, 0);
  assert_state (fx, "e/empty", 1, NULL);
  assert_state (fx, "e/full", 0, "x");
  assert_state (fx, "e/full", CAIRN_HEAD, "");
  assert_private (fx, "e/empty", "");
  g_autofree char *l0 = state_list (fx, "e/", 0);
  g_assert_cmpstr (l0, ==, "e/empty=;e/full=x;");
  g_autofree char *l1 = state_list (fx, "e/", CAIRN_HEAD);
  g_assert_cmpstr (l1, ==, "e/full=;");
}

/* Deferred commits (CAIRN_COMMIT_DEFER_SYNC) are ordinary commits for
 * every reader; sync() makes them durable; a store without sync() must
 * ignore the flag. Durability across power loss cannot be tested here. */
static void
test_deferred_sync (Fx *fx, gconstpointer data)
{
  for (uint64_t h = 0; h < 6; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (h);
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    cairn_test_commit_put (c, "k/counter", v);
    CairnCommitData cd = *cairn_test_commit_data (c);
    cd.flags = h < 5 ? CAIRN_COMMIT_DEFER_SYNC : 0;
    g_autoptr (GError) error = NULL;
    g_assert_true (fx->iface->commit (fx->store, &cd, &error));
    g_assert_no_error (error);
    assert_state (fx, "k/counter", CAIRN_HEAD, v);
    if (h == 2 && fx->iface->sync) {
      g_assert_true (fx->iface->sync (fx->store, &error));
      g_assert_no_error (error);
    }
  }
  /* Deferred again, then closed without an explicit sync: close keeps it. */
  g_autoptr (CairnTestCommit) c = cairn_test_commit_new (6);
  cairn_test_commit_put (c, "k/counter", "6");
  CairnCommitData cd = *cairn_test_commit_data (c);
  cd.flags = CAIRN_COMMIT_DEFER_SYNC;
  g_assert_true (fx->iface->commit (fx->store, &cd, NULL));
  if (fx->iface->sync)
    g_assert_true (fx->iface->sync (fx->store, NULL));
  fx_reopen (fx);
  assert_head (fx, 6);
  for (uint64_t h = 0; h <= 6; h++) {
    g_autofree char *v = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    assert_state (fx, "k/counter", h, v);
  }
}

/* 1.3, optional: private writes outside blocks. */
static void
test_private_write (Fx *fx, gconstpointer data)
{
  if (fx->iface->private_write == NULL) {
    g_test_skip ("this backend has no private_write (optional, SDK 1.3)");
    return;
  }
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
    cairn_test_commit_put (c, "g/shared", "s");
    cairn_test_commit_private_put (c, "g/blockp", "b0");
    commit_ok (fx, c);
  }
  g_autoptr (GError) error = NULL;
  CairnWrite w[] = {
    { .key = "g/a", .value = (const uint8_t *)"1", .value_len = 1 },
    { .key = "g/b", .value = (const uint8_t *)"", .value_len = 0 },
    { .key = "g/blockp", .flags = CAIRN_WRITE_DELETE },
  };
  g_assert_true (fx->iface->private_write (fx->store, w, 3, &error));
  g_assert_no_error (error);
  assert_private (fx, "g/a", "1");
  assert_private (fx, "g/b", "");
  assert_private (fx, "g/blockp", NULL);
  /* Neither the head nor the shared state moved. */
  assert_head (fx, 0);
  g_autofree char *shared = state_list (fx, "", CAIRN_HEAD);
  g_assert_cmpstr (shared, ==, "g/shared=s;");

  /* Unsorted: refused whole. */
  CairnWrite bad[] = {
    { .key = "g/z", .value = (const uint8_t *)"z", .value_len = 1 },
    { .key = "g/c", .value = (const uint8_t *)"c", .value_len = 1 },
  };
  g_assert_false (fx->iface->private_write (fx->store, bad, 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  assert_private (fx, "g/z", NULL);

  /* Blocks and private writes interleave. */
  {
    g_autoptr (CairnTestCommit) c = cairn_test_commit_new (1);
    cairn_test_commit_private_put (c, "g/c", "from-block");
    commit_ok (fx, c);
  }
  CairnWrite del = { .key = "g/a", .flags = CAIRN_WRITE_DELETE };
  g_assert_true (fx->iface->private_write (fx->store, &del, 1, &error));
  g_assert_no_error (error);
  fx_reopen (fx);
  g_autofree char *p = private_list (fx, "g/");
  g_assert_cmpstr (p, ==, "g/b=;g/c=from-block;");
  assert_head (fx, 1);
}

/* ---- registration ------------------------------------------------------- */

typedef void (*CaseFn) (Fx *fx, gconstpointer data);

/* Backends live as long as the test program (reachable, not leaked). */
static GPtrArray *backends;

static StorageBackend *
backend_copy (const CairnTestStorageBackend *b)
{
  if (b == NULL || b->name == NULL || b->name[0] == '\0' || b->entry == NULL)
    g_error ("cairn_test_storage_add_backend: a backend needs a name and "
             "an entry");
  for (const char *p = b->name; *p; p++)
    if (*p == '/' || g_ascii_isspace (*p))
      g_error ("cairn_test_storage_add_backend: name '%s' is part of a test "
               "path: no '/' or spaces",
               b->name);
  StorageBackend *be = g_new0 (StorageBackend, 1);
  be->name = g_strdup (b->name);
  be->entry = b->entry;
  guint n = 0;
  while (b->config != NULL && b->config[n] != NULL) {
    if (b->config[n + 1] == NULL)
      g_error ("backend %s: config key '%s' has no value (the list is key, "
               "value, ..., NULL)",
               b->name, b->config[n]);
    n += 2;
  }
  be->config = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    be->config[i] = g_strdup (b->config[i]);
  be->cases = b->cases != 0 ? b->cases : CAIRN_TEST_STORAGE_ALL;
  be->crash_rounds
      = b->crash_rounds != 0 ? b->crash_rounds : CAIRN_TEST_CRASH_ROUNDS;
  be->crash_check = b->crash_check;
  be->user_data = b->user_data;
  if (backends == NULL)
    backends = g_ptr_array_new ();
  g_ptr_array_add (backends, be);
  return be;
}

void
cairn_test_storage_add_backend (const CairnTestStorageBackend *backend)
{
  static const struct {
    const char *name;
    CaseFn fn;
  } cases[] = {
    { "empty", test_empty },
    { "genesis", test_genesis },
    { "wrong-height", test_wrong_height },
    { "lookups", test_lookups },
    { "history", test_history },
    { "iter-prefix", test_iter_prefix },
    { "iter-stop", test_iter_stop },
    { "iter-reentrant", test_iter_reentrant },
    { "private", test_private },
    { "private-write", test_private_write },
    { "reopen", test_reopen },
    { "large-values", test_large_values },
    { "many-keys", test_many_keys },
    { "long-keys", test_long_keys },
    { "empty-value", test_empty_value },
    { "deferred-sync", test_deferred_sync },
  };
  StorageBackend *be = backend_copy (backend);

  if (be->cases & CAIRN_TEST_STORAGE_CONFORMANCE)
    for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
      g_autofree char *path
          = g_strdup_printf ("/storage/%s/%s", be->name, cases[i].name);
      g_test_add_vtable (path, sizeof (Fx), be, (GTestFixtureFunc)fx_setup,
                         (GTestFixtureFunc)cases[i].fn,
                         (GTestFixtureFunc)fx_teardown);
    }
  if (be->cases & CAIRN_TEST_STORAGE_CRASH) {
    g_autofree char *path = g_strdup_printf ("/storage/%s/crash", be->name);
    g_test_add_data_func (path, be, cairn_test__storage_crash_case);
  }
}

void
cairn_test_storage_add (const char *name, CairnPluginEntry entry,
                        const char *const *config)
{
  CairnTestStorageBackend b = { 0 };
  b.name = name;
  b.entry = entry;
  b.config = config;
  cairn_test_storage_add_backend (&b);
}

/* The configuration loader: files and their order, merge rules, typed
 * values, unknown groups and keys, and the messages that name the file and
 * line. */
#include <glib/gstdio.h>
#include <string.h>

#include <cairn/error.h>

#include "config.h"

typedef struct {
  const char *name;
  const char *text; /* NULL: make a directory of that name */
} ConfFile;

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_assert_no_error (error);
}

/* A temporary home with cairn.conf (unless main_text is NULL) and the
 * given conf.d entries (NULL-terminated by name). */
static char *
make_home (const char *main_text, const ConfFile *confd)
{
  g_autoptr (GError) error = NULL;
  char *home = g_dir_make_tmp ("cairn-config-XXXXXX", &error);
  g_autofree char *dir = g_build_filename (home, "conf.d", NULL);

  g_assert_no_error (error);
  if (main_text) {
    g_autofree char *path = g_build_filename (home, "cairn.conf", NULL);
    write_file (path, main_text);
  }
  for (const ConfFile *f = confd; f && f->name; f++) {
    g_autofree char *path = g_build_filename (dir, f->name, NULL);
    g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    if (f->text)
      write_file (path, f->text);
    else
      g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  }
  return home;
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    for (const char *n; dir && (n = g_dir_read_name (dir));) {
      g_autofree char *child = g_build_filename (path, n, NULL);
      rm_rf (child);
    }
    g_assert_cmpint (g_rmdir (path), ==, 0);
  } else
    g_assert_cmpint (g_remove (path), ==, 0);
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (!strstr (haystack, needle))
    g_error ("expected \"%s\" in message: %s", needle, haystack);
}

static CairnConfig *
parse (const char *text)
{
  g_autoptr (GError) error = NULL;
  CairnConfig *cfg
      = cairn_config_load_data ("/home/n", "mem.conf", text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  return cfg;
}

static char *
joined (char **strv)
{
  return g_strjoinv ("|", strv);
}

/* ---- files ---- */

static void
test_missing_main (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *home = make_home (NULL, NULL);
  g_autofree char *path = g_build_filename (home, "cairn.conf", NULL);

  g_assert_null (cairn_config_load (home, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, path));
  assert_contains (error->message, "no such file");
  assert_contains (error->message, "cairn init");
  rm_rf (home);
}

static void
test_append_load (void)
{
  const ConfFile confd[] = {
    { "20-z.conf", "[plugins]\nload = z ; w;\npath = p2\n" },
    { "10-x.conf", "# enables x\n[plugins]\nload = x\n" },
    { NULL, NULL },
  };
  g_autofree char *home = make_home ("[plugins]\npath = p1\nload = y\n", confd);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfig) cfg = cairn_config_load (home, &error);
  g_auto (GStrv) load = NULL;
  g_auto (GStrv) path = NULL;
  g_autofree char *load_s = NULL;
  g_autofree char *path_s = NULL;

  g_assert_no_error (error);
  g_assert_true (cairn_config_strv (cfg, "plugins", "load", &load, &error));
  g_assert_true (cairn_config_strv (cfg, "plugins", "path", &path, &error));
  load_s = joined (load);
  path_s = joined (path);
  /* cairn.conf first, then conf.d by name: y;x;z;w */
  g_assert_cmpstr (load_s, ==, "y|x|z|w");
  g_assert_cmpstr (path_s, ==, "p1|p2");
  g_assert_true (cairn_config_check_unknown (cfg, &error));
  g_assert_no_error (error);
  rm_rf (home);
}

static void
test_order_and_last_wins (void)
{
  const ConfFile confd[] = {
    { "20-b.conf", "[mempool]\nmax_txs = 3\n[bank]\nminters = b\n" },
    { "10-a.conf", "[mempool]\nmax_txs = 2\n[node]\nchain_id = a\n"
                   "[bank]\nminters = a1; a2\n" },
    /* not *.conf, hidden, or not a file: ignored */
    { "30-c.conf.bak", "this is not [valid\n" },
    { "README", "junk\n" },
    { ".hidden.conf", "junk\n" },
    { "dir.conf", NULL },
    { NULL, NULL },
  };
  g_autofree char *home = make_home (
      "[node]\nchain_id = main\n[mempool]\nmax_txs = 1\nmax_bytes = 1KiB\n",
      confd);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfig) cfg = cairn_config_load (home, &error);
  g_autofree char *chain = NULL;
  g_auto (GStrv) minters = NULL;
  g_autofree char *minters_s = NULL;
  int64_t max_txs;
  uint64_t max_bytes;

  g_assert_no_error (error);
  g_assert_true (cairn_config_int (cfg, "mempool", "max_txs", 0, 0, 100,
                                   &max_txs, &error));
  g_assert_cmpint (max_txs, ==, 3);
  g_assert_true (cairn_config_size (cfg, "mempool", "max_bytes", 0, 0,
                                    G_MAXUINT64, &max_bytes, &error));
  g_assert_cmpuint (max_bytes, ==, 1024);
  g_assert_true (
      cairn_config_string (cfg, "node", "chain_id", NULL, &chain, &error));
  g_assert_cmpstr (chain, ==, "a");
  /* Lists other than [plugins] path/load: last file wins. */
  g_assert_true (cairn_config_strv (cfg, "bank", "minters", &minters, &error));
  minters_s = joined (minters);
  g_assert_cmpstr (minters_s, ==, "b");
  g_assert_true (cairn_config_check_unknown (cfg, &error));
  g_assert_no_error (error);
  rm_rf (home);
}

static void
test_error_names_snippet_and_line (void)
{
  const ConfFile confd[] = {
    { "20-bank.conf", "# Bank\n[bank]\nminters =\nlimit = lots\n" },
    { NULL, NULL },
  };
  g_autofree char *home = make_home ("[node]\nchain_id = x\n", confd);
  g_autofree char *expect = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfig) cfg = cairn_config_load (home, &error);
  int64_t limit = -1;

  g_assert_no_error (error);
  g_assert_false (
      cairn_config_int (cfg, "bank", "limit", 7, 0, 100, &limit, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  expect = g_strdup_printf ("%s/conf.d/20-bank.conf:4: [bank] limit: not an "
                            "integer (got 'lots')",
                            home);
  g_assert_cmpstr (error->message, ==, expect);
  rm_rf (home);
}

static void
test_syntax_errors (void)
{
  static const struct {
    const char *text;
    const char *where;
    const char *why;
  } cases[] = {
    { "[node]\nchain_id = x\nthis is junk\n", ":3: syntax error",
      "'this is junk' is not a [group], a key = value line or a # comment" },
    { "# top\nchain_id = x\n[node]\n", ":2: syntax error",
      "key 'chain_id' comes before any [group] header" },
    { "[node]\n\n[mempool\nmax_txs = 1\n", ":3: syntax error",
      "'[mempool' is not a valid group header" },
    { "[node]\n = x\n", ":2: syntax error", "has no key name" },
    { "[node]\nchain_id[de] = x\n", ":2: syntax error",
      "[node] chain_id[de]: localized keys are not supported" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *home = make_home (cases[i].text, NULL);
    g_autofree char *prefix
        = g_strdup_printf ("%s/cairn.conf%s", home, cases[i].where);

    g_assert_null (cairn_config_load (home, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_test_message ("%s", error->message);
    g_assert_true (g_str_has_prefix (error->message, prefix));
    assert_contains (error->message, cases[i].why);
    rm_rf (home);
  }
}

static void
test_syntax_error_in_snippet (void)
{
  const ConfFile confd[] = {
    { "10-ok.conf", "[plugins]\nload = a\n" },
    { "50-bad.conf", "[a]\nx = 1\noops\n" },
    { NULL, NULL },
  };
  g_autofree char *home = make_home ("[node]\n", confd);
  g_autofree char *prefix
      = g_strdup_printf ("%s/conf.d/50-bad.conf:3: syntax error", home);
  g_autoptr (GError) error = NULL;

  g_assert_null (cairn_config_load (home, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, prefix));

  g_clear_error (&error);
  g_assert_null (cairn_config_load_data ("/h", "mem.conf", "x\n", &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, "mem.conf:1: syntax"));
  rm_rf (home);
}

/* ---- values ---- */

static void
test_int (void)
{
  g_autoptr (CairnConfig) cfg = parse (
      "[mempool]\nmax_txs = lots\nmax_bytes =  42 \nmax_nonce_gap = 0\n"
      "ttl_seconds = 99999999999999999999\n[block]\nmax_txs = -5\n"
      "max_bytes = 0x10\n[x]\nempty =\nfrac = 1.5\nneg = -9223372036854775808\n"
      "dup = 1\ndup = x\n");
  g_autoptr (GError) error = NULL;
  int64_t v = 0;

  g_assert_false (
      cairn_config_int (cfg, "mempool", "max_txs", 0, 1, 100, &v, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:2: [mempool] max_txs: not an integer "
                   "(got 'lots')");
  g_clear_error (&error);

  g_assert_true (
      cairn_config_int (cfg, "mempool", "max_bytes", 0, 0, 100, &v, &error));
  g_assert_cmpint (v, ==, 42);

  g_assert_false (cairn_config_int (cfg, "mempool", "max_nonce_gap", 5, 1,
                                    1000000, &v, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:4: [mempool] max_nonce_gap: out of range: must "
                   "be between 1 and 1000000 (got '0')");
  g_clear_error (&error);

  /* Beyond int64: out of range, not wrapped. */
  g_assert_false (cairn_config_int (cfg, "mempool", "ttl_seconds", 0,
                                    G_MININT64, G_MAXINT64, &v, &error));
  assert_contains (error->message, "[mempool] ttl_seconds: out of range");
  g_clear_error (&error);

  g_assert_true (
      cairn_config_int (cfg, "block", "max_txs", 0, -10, 10, &v, &error));
  g_assert_cmpint (v, ==, -5);
  g_assert_true (cairn_config_int (cfg, "x", "neg", 0, G_MININT64, G_MAXINT64,
                                   &v, &error));
  g_assert_cmpint (v, ==, G_MININT64);

  const char *bad[] = { "max_bytes", "empty", "frac" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    const char *group = i == 0 ? "block" : "x";
    g_assert_false (cairn_config_int (cfg, group, bad[i], 0, G_MININT64,
                                      G_MAXINT64, &v, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    assert_contains (error->message, "not an integer");
    g_clear_error (&error);
  }

  /* A key repeated in one group: the last value and its line. */
  g_assert_false (cairn_config_int (cfg, "x", "dup", 0, 0, 10, &v, &error));
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:14: [x] dup: not an integer (got 'x')");
  g_clear_error (&error);

  /* Missing: the default, unchecked. */
  v = 0;
  g_assert_true (cairn_config_int (cfg, "x", "absent", 77, 0, 10, &v, &error));
  g_assert_cmpint (v, ==, 77);
  g_assert_true (
      cairn_config_int (cfg, "nogroup", "absent", -1, 0, 10, &v, &error));
  g_assert_cmpint (v, ==, -1);
}

static void
test_size (void)
{
  static const struct {
    const char *text;
    uint64_t value; /* 0: must fail */
    const char *why;
  } cases[] = {
    { "123", 123, NULL },
    { "10B", 10, NULL },
    { "64KiB", 64 * 1024, NULL },
    { "16 MiB", 16 * 1024 * 1024, NULL },
    { "1GiB", 1024 * 1024 * 1024, NULL },
    { "3TiB", 3ull << 40, NULL },
    { "16777215TiB", 16777215ull << 40, NULL },
    { "16777216TiB", 0, "out of range" }, /* 2^64: overflow */
    { "99999999999999999999", 0, "out of range" },
    { "12kb", 0, "not a size" },
    { "12KB", 0, "not a size" },
    { "MiB", 0, "not a size" },
    { "-1", 0, "not a size" },
    { "1.5GiB", 0, "not a size" },
    { "", 0, "not a size" },
    { "1 GiB x", 0, "not a size" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text
        = g_strdup_printf ("[store]\nmap_size = %s\n", cases[i].text);
    g_autoptr (CairnConfig) cfg = parse (text);
    g_autoptr (GError) error = NULL;
    uint64_t v = 0;
    gboolean ok = cairn_config_size (cfg, "store", "map_size", 5, 0,
                                     G_MAXUINT64, &v, &error);

    g_test_message ("size '%s'", cases[i].text);
    if (cases[i].value) {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (v, ==, cases[i].value);
    } else {
      g_autofree char *got = g_strdup_printf ("(got '%s')", cases[i].text);
      g_assert_false (ok);
      g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
      g_assert_true (
          g_str_has_prefix (error->message, "mem.conf:2: [store] map_size: "));
      assert_contains (error->message, cases[i].why);
      assert_contains (error->message, got);
    }
  }
}

static void
test_size_range (void)
{
  g_autoptr (CairnConfig) cfg = parse ("[block]\nmax_bytes = 64MiB\n");
  g_autoptr (GError) error = NULL;
  uint64_t v = 0;

  g_assert_false (cairn_config_size (cfg, "block", "max_bytes", 0, 1024,
                                     32 << 20, &v, &error));
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:2: [block] max_bytes: out of range: must be "
                   "between 1024 and 33554432 bytes (got '64MiB')");
  g_clear_error (&error);
  g_assert_true (cairn_config_size (cfg, "block", "max_bytes", 0, 1024,
                                    64 << 20, &v, &error));
  g_assert_cmpuint (v, ==, 64 << 20);
  g_assert_true (
      cairn_config_size (cfg, "block", "absent", 4096, 0, 1, &v, &error));
  g_assert_cmpuint (v, ==, 4096);
}

static void
test_bool (void)
{
  g_autoptr (CairnConfig) cfg
      = parse ("[http]\nenabled = true\n[x]\nb = false\nyes = yes\none = 1\n"
               "upper = True\n");
  g_autoptr (GError) error = NULL;
  gboolean v = FALSE;
  const char *bad[] = { "yes", "one", "upper" };

  g_assert_true (cairn_config_bool (cfg, "http", "enabled", FALSE, &v, &error));
  g_assert_true (v);
  g_assert_true (cairn_config_bool (cfg, "x", "b", TRUE, &v, &error));
  g_assert_false (v);
  g_assert_true (cairn_config_bool (cfg, "x", "absent", TRUE, &v, &error));
  g_assert_true (v);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (cairn_config_bool (cfg, "x", bad[i], TRUE, &v, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    assert_contains (error->message, "not a boolean: write true or false");
    g_clear_error (&error);
  }
  g_assert_false (cairn_config_bool (cfg, "x", "yes", TRUE, &v, &error));
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:5: [x] yes: not a boolean: write true or false "
                   "(got 'yes')");
}

static void
test_string_and_strv (void)
{
  g_autoptr (CairnConfig) cfg
      = parse ("[node]\nchain_id =   dev chain  \nkey =\n"
               "[x]\nlist = a ; ;b;; c d ;\nempty =\nsemis = ; ;\n");
  g_autoptr (GError) error = NULL;
  g_autofree char *s = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *def = NULL;
  char *none = (char *)"unset";
  g_auto (GStrv) list = NULL;
  g_auto (GStrv) e1 = NULL;
  g_auto (GStrv) e2 = NULL;
  g_auto (GStrv) e3 = NULL;
  g_autofree char *list_s = NULL;

  g_assert_true (
      cairn_config_string (cfg, "node", "chain_id", "d", &s, &error));
  g_assert_cmpstr (s, ==, "dev chain");
  g_assert_true (cairn_config_string (cfg, "node", "key", "d", &empty, &error));
  g_assert_cmpstr (empty, ==, "");
  g_assert_true (cairn_config_string (cfg, "node", "genesis", "genesis.json",
                                      &def, &error));
  g_assert_cmpstr (def, ==, "genesis.json");
  g_assert_true (
      cairn_config_string (cfg, "node", "data_dir", NULL, &none, &error));
  g_assert_null (none);

  g_assert_true (cairn_config_strv (cfg, "x", "list", &list, &error));
  list_s = joined (list);
  g_assert_cmpstr (list_s, ==, "a|b|c d");
  g_assert_true (cairn_config_strv (cfg, "x", "empty", &e1, &error));
  g_assert_true (cairn_config_strv (cfg, "x", "semis", &e2, &error));
  g_assert_true (cairn_config_strv (cfg, "x", "absent", &e3, &error));
  g_assert_nonnull (e1);
  g_assert_nonnull (e2);
  g_assert_nonnull (e3);
  g_assert_cmpuint (g_strv_length (e1), ==, 0);
  g_assert_cmpuint (g_strv_length (e2), ==, 0);
  g_assert_cmpuint (g_strv_length (e3), ==, 0);
  g_assert_no_error (error);
}

static void
test_home_and_paths (void)
{
  g_autoptr (CairnConfig) cfg = parse ("[node]\n[bank]\n");
  g_autofree char *rel = cairn_config_path (cfg, "keys/node.pem");
  g_autofree char *abs = cairn_config_path (cfg, "/etc/x");

  g_assert_cmpstr (cairn_config_home (cfg), ==, "/home/n");
  g_assert_cmpstr (rel, ==, "/home/n/keys/node.pem");
  g_assert_cmpstr (abs, ==, "/etc/x");
  g_assert_true (cairn_config_has_group (cfg, "node"));
  g_assert_true (cairn_config_has_group (cfg, "bank"));
  g_assert_false (cairn_config_has_group (cfg, "http"));
}

/* ---- unknown groups and keys ---- */

static void
test_unknown_core_key (void)
{
  g_autoptr (CairnConfig) cfg
      = parse ("[node]\nchain_id = x\n[mempool]\nmax_txs = 5\nmax_tx = 5\n");
  g_autoptr (GError) error = NULL;
  int64_t v;

  /* Reading it does not make it a core key. */
  g_assert_true (
      cairn_config_int (cfg, "mempool", "max_tx", 0, 0, 10, &v, &error));
  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:5: [mempool] max_tx: unknown key (known keys of "
                   "[mempool]: max_txs, max_bytes, max_nonce_gap, "
                   "ttl_seconds, max_txs_per_sender)");
}

static void
test_core_keys_known_unread (void)
{
  /* Every core key, none of them read: nothing is unknown. */
  g_autoptr (CairnConfig) cfg
      = parse ("[node]\nchain_id = a\nlog_level = info\nkey = k\ngenesis = g\n"
               "data_dir = d\n[plugins]\npath =\nload =\n[http]\nlisten = x\n"
               "enabled = true\n[mempool]\nmax_txs = 1\nmax_bytes = 1\n"
               "max_nonce_gap = 1\nttl_seconds = 1\n[block]\nmax_txs = 1\n"
               "max_bytes = 1\n");
  g_autoptr (GError) error = NULL;

  g_assert_true (cairn_config_check_unknown (cfg, &error));
  g_assert_no_error (error);
}

static void
test_unknown_group (void)
{
  g_autoptr (CairnConfig) cfg = parse (
      "[plugins]\nload = bank\n[bank]\nminters = a\n[solo]\ninterval = 5\n"
      "[bnak]\nminters = b\n");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) minters = NULL;
  int64_t v;

  g_assert_true (cairn_config_strv (cfg, "bank", "minters", &minters, &error));
  g_assert_true (
      cairn_config_int (cfg, "solo", "interval", 0, 0, 10, &v, &error));
  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:8: [bnak] minters: unknown group [bnak] — no "
                   "loaded plugin has this id (loaded: bank, solo); fix the "
                   "group name or add 'bnak' to [plugins] load");
}

static void
test_unknown_empty_group (void)
{
  g_autoptr (CairnConfig) cfg = parse ("[node]\nchain_id = a\n\n[ghost]\n");
  g_autoptr (GError) error = NULL;

  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:4: [ghost]: unknown group [ghost] — no loaded "
                   "plugin has this id (loaded: none); fix the group name or "
                   "add 'ghost' to [plugins] load");
}

static void
test_unknown_plugin_key (void)
{
  g_autoptr (CairnConfig) cfg = parse ("[bank]\nminters = a\nmintrs = b\n");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) minters = NULL;
  g_autofree char *s = NULL;
  int64_t v;

  g_assert_true (cairn_config_strv (cfg, "bank", "minters", &minters, &error));
  g_assert_true (cairn_config_int (cfg, "bank", "limit", 0, 0, 10, &v, &error));
  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:3: [bank] mintrs: unknown key: plugin 'bank' "
                   "does not read it (it reads: limit, minters)");

  /* Once read, it is known. */
  g_clear_error (&error);
  g_assert_true (cairn_config_string (cfg, "bank", "mintrs", NULL, &s, &error));
  g_assert_cmpstr (s, ==, "b");
  g_assert_true (cairn_config_check_unknown (cfg, &error));
  g_assert_no_error (error);
}

static void
test_loaded_plugin_reading_nothing (void)
{
  g_autoptr (CairnConfig) cfg
      = parse ("[plugins]\nload = solo\n[solo]\nbatch = 5\n");
  g_autoptr (GError) error = NULL;

  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_cmpstr (error->message, ==,
                   "mem.conf:4: [solo] batch: unknown key: plugin 'solo' "
                   "does not read it (it reads: no keys)");
}

/* The config that `cairn init` installs (conf/ in the source tree) loads,
 * and passes the unknown check once core and plugins read their keys. */
static void
test_shipped_config (void)
{
  const char *src = g_getenv ("CAIRN_SOURCE_ROOT");
  g_autofree char *home = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfig) cfg = NULL;
  g_auto (GStrv) load = NULL;
  g_auto (GStrv) path = NULL;
  g_auto (GStrv) minters = NULL;
  g_autofree char *load_s = NULL;
  g_autofree char *s = NULL;
  gboolean b;
  int64_t i;
  uint64_t u;

  g_assert_nonnull (src); /* set by tests/meson.build's test_env */
  home = g_build_filename (src, "conf", NULL);
  cfg = cairn_config_load (home, &error);
  g_assert_no_error (error);

  g_assert_true (cairn_config_strv (cfg, "plugins", "load", &load, &error));
  load_s = joined (load);
  g_assert_cmpstr (load_s, ==, "store-lmdb|blob-fs|bank|solo|services|groups|market|threshold|im|"
                   "metering|explorer");
  g_assert_true (cairn_config_strv (cfg, "plugins", "path", &path, &error));
  g_assert_cmpuint (g_strv_length (path), ==, 0);
  g_assert_true (cairn_config_size (cfg, "mempool", "max_bytes", 0, 0,
                                    G_MAXUINT64, &u, &error));
  g_assert_cmpuint (u, ==, 256u << 20);
  g_assert_true (cairn_config_int (cfg, "mempool", "max_txs", 0, 1, G_MAXINT32,
                                   &i, &error));
  g_assert_cmpint (i, ==, 200000);
  g_assert_true (cairn_config_bool (cfg, "http", "enabled", FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (cairn_config_string (cfg, "http", "listen", NULL, &s, &error));
  g_assert_cmpstr (s, ==, "127.0.0.1:7700");

  /* No plugin has read its group yet. */
  g_assert_false (cairn_config_check_unknown (cfg, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  assert_contains (error->message,
                   "conf.d/10-store-lmdb.conf:7: [store-lmdb] map_size: "
                   "unknown key");
  g_clear_error (&error);

  g_assert_true (cairn_config_size (cfg, "store-lmdb", "map_size", 0, 0,
                                    G_MAXUINT64, &u, &error));
  g_assert_cmpuint (u, ==, 64ull << 30);
  g_assert_true (cairn_config_strv (cfg, "bank", "minters", &minters, &error));
  g_assert_cmpuint (g_strv_length (minters), ==, 2);
  g_assert_cmpstr (minters[0], ==, "market");
  g_assert_cmpstr (minters[1], ==, "metering");
  g_assert_true (cairn_config_int (cfg, "solo", "empty_block_interval_ms", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_true (cairn_config_int (cfg, "solo", "batch_delay_ms", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_true (cairn_config_int (cfg, "solo", "max_block_txs", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_true (
      cairn_config_bool (cfg, "store-lmdb", "sync", FALSE, &b, &error));
  g_assert_true (b);
  g_autofree char *resident = NULL;
  g_assert_true (cairn_config_string (cfg, "store-lmdb", "resident_limit",
                                      NULL, &resident, &error));
  g_assert_cmpstr (resident, ==, "64MiB");
  g_autofree char *blob_dir = NULL;
  g_assert_true (
      cairn_config_string (cfg, "blob-fs", "dir", NULL, &blob_dir, &error));
  g_assert_cmpstr (blob_dir, ==, "");
  g_assert_true (cairn_config_bool (cfg, "blob-fs", "sync", FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (cairn_config_int (cfg, "services", "key_ttl_seconds", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 600);
  g_assert_true (cairn_config_int (cfg, "services", "request_skew_seconds", 0,
                                   0, G_MAXINT32, &i, &error));
  g_assert_true (cairn_config_bool (cfg, "services", "remote_content_keys",
                                    TRUE, &b, &error));
  g_assert_false (b);
  g_assert_true (
      cairn_config_bool (cfg, "groups", "auto_register", FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (cairn_config_int (cfg, "groups", "sync_interval_ms", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 2000);
  g_assert_true (cairn_config_int (cfg, "groups", "pending_bytes", 0, 0,
                                   G_MAXINT64, &i, &error));
  g_assert_cmpint (i, ==, 64 << 20);
  g_assert_true (cairn_config_int (cfg, "groups", "request_skew_seconds", 0,
                                   0, G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 300);
  g_assert_true (
      cairn_config_bool (cfg, "market", "auto_rank", FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (cairn_config_int (cfg, "im", "request_skew_seconds", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 300);
  g_assert_true (cairn_config_int (cfg, "im", "fetch_timeout_seconds", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 60);
  g_assert_true (
      cairn_config_bool (cfg, "metering", "center", TRUE, &b, &error));
  g_assert_false (b);
  g_autofree char *share_file = NULL, *finance_url = NULL;
  g_assert_true (cairn_config_string (cfg, "metering", "share_file", NULL,
                                      &share_file, &error));
  g_assert_cmpstr (share_file, ==, "frost-share.json");
  g_assert_true (cairn_config_string (cfg, "metering", "finance_url", NULL,
                                      &finance_url, &error));
  g_assert_cmpstr (finance_url, ==, "");
  g_assert_true (cairn_config_int (cfg, "metering", "grace_ms", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 5000);
  g_assert_true (cairn_config_int (cfg, "metering", "coordinator_delay_ms", 0,
                                   0, G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 3000);
  g_assert_true (cairn_config_int (cfg, "metering", "finance_timeout_ms", 0, 0,
                                   G_MAXINT32, &i, &error));
  g_assert_cmpint (i, ==, 10000);
  g_assert_true (cairn_config_bool (cfg, "explorer", "index", FALSE, &b, &error));
  g_assert_true (b);
  g_assert_true (cairn_config_int (cfg, "explorer", "index_blocks", 0, 0,
                                   G_MAXINT64, &i, &error));
  g_assert_cmpint (i, ==, 10000);
  g_assert_true (cairn_config_int (cfg, "explorer", "index_txs", 0, 0,
                                   G_MAXINT64, &i, &error));
  g_assert_cmpint (i, ==, 250000);
  g_assert_true (cairn_config_check_unknown (cfg, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/missing-main", test_missing_main);
  g_test_add_func ("/config/append-load", test_append_load);
  g_test_add_func ("/config/order-and-last-wins", test_order_and_last_wins);
  g_test_add_func ("/config/error-names-snippet-and-line",
                   test_error_names_snippet_and_line);
  g_test_add_func ("/config/syntax-errors", test_syntax_errors);
  g_test_add_func ("/config/syntax-error-in-snippet",
                   test_syntax_error_in_snippet);
  g_test_add_func ("/config/int", test_int);
  g_test_add_func ("/config/size", test_size);
  g_test_add_func ("/config/size-range", test_size_range);
  g_test_add_func ("/config/bool", test_bool);
  g_test_add_func ("/config/string-and-strv", test_string_and_strv);
  g_test_add_func ("/config/home-and-paths", test_home_and_paths);
  g_test_add_func ("/config/unknown-core-key", test_unknown_core_key);
  g_test_add_func ("/config/core-keys-known-unread",
                   test_core_keys_known_unread);
  g_test_add_func ("/config/unknown-group", test_unknown_group);
  g_test_add_func ("/config/unknown-empty-group", test_unknown_empty_group);
  g_test_add_func ("/config/unknown-plugin-key", test_unknown_plugin_key);
  g_test_add_func ("/config/loaded-plugin-reading-nothing",
                   test_loaded_plugin_reading_nothing);
  g_test_add_func ("/config/shipped-config", test_shipped_config);

  return g_test_run ();
}

/* cairn init: a new node home from the configuration compiled into the
 * binary (conf/ as a GResource) or, run from a vendor distribution, from
 * its etc/cairn/ (conf_source.c), two fresh keys and a genesis document
 * (with the distribution's genesis template, when it has one).
 *
 *   DIR/cairn.conf              conf/cairn.conf with [node] chain_id set
 *   DIR/conf.d/NN-*.conf        conf/conf.d/ (one snippet per plugin)
 *   DIR/conf.d/00-profile.conf  conf/profiles/<profile>.conf
 *   (--store, --blobstore: conf/alternatives/10-<store>.conf or
 *    15-<blobstore>.conf in place of conf.d's 10-* or 15-* snippet)
 *   DIR/keys/node.pem           the validator key   (keys/ is 0700)
 *   DIR/keys/admin.pem          the chain's admin, funded in genesis
 *   DIR/genesis.json            pretty-printed, keys sorted */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "cli.h"
#include "genesis.h"

#define ADMIN_BALANCE INT64_C (1000000000000)
#define VALIDATOR_STAKE 100

static int
remove_entry (const char *path, const struct stat *st, int flag,
              struct FTW *ftw)
{
  return remove (path);
}

gboolean
cairn_cli_remove_tree (const char *path, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    return TRUE;
  if (nftw (path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0) {
    int err = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                 "cannot remove %s: %s", path, g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

static gboolean
chain_id_valid (const char *id)
{
  size_t n = strlen (id);
  if (n == 0 || n > 64)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (id[i]) && !strchr ("_.-", id[i]))
      return FALSE;
  return TRUE;
}

static gboolean
write_file (const char *path, const void *data, gsize len, int mode,
            GError **error)
{
  return g_file_set_contents_full (path, data, len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, mode, error);
}

static gboolean
write_resource (const CairnConfSource *src, const char *resource,
                const char *dest, GError **error)
{
  g_autoptr (GBytes) data = cairn_conf_source_read (src, resource, error);
  if (data == NULL)
    return FALSE;
  gsize len;
  const char *text = g_bytes_get_data (data, &len);
  return write_file (dest, text, len, 0644, error);
}

/* cairn.conf with [node] chain_id replaced, edited as text so the file
 * keeps the template's comments and layout. */
static gboolean
write_main_config (const CairnConfSource *src, const char *home,
                   const char *chain_id, GError **error)
{
  g_autoptr (GBytes) data = cairn_conf_source_read (src, "cairn.conf", error);
  if (data == NULL)
    return FALSE;
  gsize len;
  const char *text = g_bytes_get_data (data, &len);
  g_autofree char *copy = g_strndup (text, len);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean in_node = FALSE, done = FALSE;
  for (guint i = 0; lines[i]; i++) {
    const char *line = lines[i];
    const char *p = line + strspn (line, " \t");
    if (*p == '[') {
      if (in_node && !done) {
        g_string_append_printf (out, "chain_id = %s\n", chain_id);
        done = TRUE;
      }
      in_node = g_str_has_prefix (p, "[node]");
    } else if (in_node && !done && g_str_has_prefix (p, "chain_id")
               && p[8 + strspn (p + 8, " \t")] == '=') {
      g_string_append_printf (out, "chain_id = %s%s", chain_id,
                              lines[i + 1] ? "\n" : "");
      done = TRUE;
      continue;
    }
    g_string_append (out, line);
    if (lines[i + 1])
      g_string_append_c (out, '\n');
  }
  if (!done)
    g_string_append_printf (out, "\n[node]\nchain_id = %s\n", chain_id);
  /* The result must still be a key file that says what we meant. */
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *check = NULL;
  if (!g_key_file_load_from_data (kf, out->str, out->len, G_KEY_FILE_NONE,
                                  error))
    return FALSE;
  check = g_key_file_get_string (kf, "node", "chain_id", error);
  if (check == NULL)
    return FALSE;
  g_assert (g_str_equal (check, chain_id));
  g_autofree char *path = g_build_filename (home, "cairn.conf", NULL);
  return write_file (path, out->str, out->len, 0644, error);
}

/* The plugins a home may swap: storage in slot "10-", blob store in
 * "15-". The default's snippet is conf.d/<slot><name>.conf; the others are
 * conf/alternatives/<slot><name>.conf. */
static const struct {
  const char *prefix, *what;
} slots[] = { { "10-", "storage" }, { "15-", "blob-store" } };

static const char *
slot_choice (const CairnInitSpec *spec, size_t i)
{
  return i == 0 ? spec->store : spec->blobstore;
}

/* The resource of plugin `name`'s snippet for slot i, or NULL and a usage
 * error listing the choices. */
static char *
slot_snippet (const CairnConfSource *src, size_t i, const char *name,
              GError **error)
{
  static const char *const dirs[] = { "conf.d", "alternatives" };
  const char *prefix = slots[i].prefix;
  g_autoptr (GString) choices = g_string_new (NULL);
  for (size_t d = 0; d < G_N_ELEMENTS (dirs); d++) {
    g_autofree char *res
        = g_strdup_printf ("%s/%s%s.conf", dirs[d], prefix, name);
    if (cairn_conf_source_has (src, res))
      return g_steal_pointer (&res);
    g_auto (GStrv) names = cairn_conf_source_list (src, dirs[d], NULL);
    for (char **n = names; n && *n; n++)
      if (g_str_has_prefix (*n, prefix) && g_str_has_suffix (*n, ".conf"))
        g_string_append_printf (choices, "%s%.*s", choices->len ? ", " : "",
                                (int)(strlen (*n) - strlen (prefix) - 5),
                                *n + strlen (prefix));
  }
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
               "unknown %s plugin '%s' (available: %s)", slots[i].what, name,
               choices->str);
  return NULL;
}

static gboolean
slots_check (const CairnConfSource *src, const CairnInitSpec *spec,
             GError **error)
{
  for (size_t i = 0; i < G_N_ELEMENTS (slots); i++) {
    if (slot_choice (spec, i) == NULL)
      continue;
    g_autofree char *res = slot_snippet (src, i, slot_choice (spec, i), error);
    if (res == NULL)
      return FALSE;
  }
  return TRUE;
}

static gboolean
unlink_or_fail (const char *path, GError **error)
{
  if (g_unlink (path) == 0)
    return TRUE;
  int err = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
               "cannot remove %s: %s", path, g_strerror (err));
  return FALSE;
}

static gboolean
write_snippets (const CairnConfSource *src, const char *home,
                const CairnInitSpec *spec, GError **error)
{
  g_autofree char *dir = g_build_filename (home, "conf.d", NULL);
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    int err = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                 "cannot create %s: %s", dir, g_strerror (err));
    return FALSE;
  }
  /* --force over an old home: the storage and blob-store snippets it had
   * go, or the node could load two of a kind. */
  g_autoptr (GDir) old = g_dir_open (dir, 0, NULL);
  for (const char *n; old != NULL && (n = g_dir_read_name (old)) != NULL;)
    for (size_t i = 0; i < G_N_ELEMENTS (slots); i++)
      if (g_str_has_prefix (n, slots[i].prefix)
          && g_str_has_suffix (n, ".conf")) {
        g_autofree char *path = g_build_filename (dir, n, NULL);
        if (!unlink_or_fail (path, error))
          return FALSE;
      }
  g_auto (GStrv) names = cairn_conf_source_list (src, "conf.d", error);
  if (names == NULL)
    return FALSE;
  for (char **n = names; *n; n++) {
    gboolean replaced = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (slots); i++)
      replaced |= slot_choice (spec, i) != NULL
                  && g_str_has_prefix (*n, slots[i].prefix);
    if (replaced)
      continue; /* written below */
    g_autofree char *res = g_strconcat ("conf.d/", *n, NULL);
    g_autofree char *dest = g_build_filename (dir, *n, NULL);
    if (!write_resource (src, res, dest, error))
      return FALSE;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (slots); i++) {
    if (slot_choice (spec, i) == NULL)
      continue;
    g_autofree char *res = slot_snippet (src, i, slot_choice (spec, i), error);
    if (res == NULL)
      return FALSE;
    g_autofree char *dest = g_build_filename (dir, strchr (res, '/') + 1, NULL);
    if (!write_resource (src, res, dest, error))
      return FALSE;
  }
  g_autofree char *res = g_strdup_printf ("profiles/%s.conf", spec->profile);
  g_autofree char *dest = g_build_filename (dir, "00-profile.conf", NULL);
  return write_resource (src, res, dest, error);
}

static CairnKey *
new_key (const char *home, const char *name, gboolean force, GError **error)
{
  g_autofree char *file = g_strconcat (name, ".pem", NULL);
  g_autofree char *path = g_build_filename (home, "keys", file, NULL);
  if (force && g_unlink (path) != 0 && errno != ENOENT) {
    int err = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                 "cannot remove %s: %s", path, g_strerror (err));
    return NULL;
  }
  g_autoptr (CairnKey) key = cairn_key_generate (error);
  if (key == NULL || !cairn_key_save (key, path, error))
    return NULL;
  return g_steal_pointer (&key);
}

static json_t *
account_json (const char *address, const CairnKey *key, const char *role,
              int64_t balance)
{
  json_t *acc = json_pack ("{s:s, s:[], s:{}}", "address", address, "roles",
                           "balances");
  if (key) {
    g_autofree char *pub = cairn_hex_encode (cairn_key_pubkey (key), 32);
    json_object_set_new (acc, "pubkey", json_string (pub));
  }
  if (role)
    json_array_append_new (json_object_get (acc, "roles"), json_string (role));
  if (balance > 0)
    json_object_set_new (json_object_get (acc, "balances"), "cairn",
                         json_integer (balance));
  return acc;
}

/* The template's accounts come first, so that a message about one of them
 * names the index it has in the template. */
static json_t *
genesis_json (const CairnInitSpec *spec, const char *chain_id,
              const json_t *tmpl, const CairnKey *admin, const CairnKey *node)
{
  g_autofree char *node_pub = cairn_hex_encode (cairn_key_pubkey (node), 32);
  json_t *accounts = json_array ();
  json_t *extra = tmpl ? json_object_get (tmpl, "accounts") : NULL;
  size_t i;
  json_t *acc;
  json_array_foreach (extra, i, acc)
  {
    json_array_append_new (accounts, json_deep_copy (acc));
  }
  json_array_append_new (
      accounts,
      account_json (cairn_key_address (admin), admin, "admin", ADMIN_BALANCE));
  json_array_append_new (
      accounts, account_json (cairn_key_address (node), node, "validator", 0));
  for (const char *const *a = spec->funded; a && *a; a++)
    json_array_append_new (accounts,
                           account_json (*a, NULL, NULL, spec->funded_balance));
  json_t *doc = json_pack (
      "{s:s, s:I, s:{s:i, s:[s]}, s:o, s:[{s:s, s:s, s:i, s:s}]}", "chain_id",
      chain_id, "genesis_time", (json_int_t)(g_get_real_time () / 1000),
      "admin", "threshold", 1, "members", cairn_key_address (admin), "accounts",
      accounts, "validators", "address", cairn_key_address (node), "pubkey",
      node_pub, "stake", VALIDATOR_STAKE, "name", "node");
  json_t *app_state = tmpl ? json_object_get (tmpl, "app_state") : NULL;
  if (app_state)
    json_object_set_new (doc, "app_state", json_deep_copy (app_state));
  return doc;
}

/* What each field of a genesis template must be. */
static const struct {
  const char *name;
  json_type type;
  const char *what;
} template_fields[] = {
  { "chain_id", JSON_STRING, "a string" },
  { "accounts", JSON_ARRAY, "an array of genesis accounts" },
  { "app_state", JSON_OBJECT, "an object (plugin id -> its genesis state)" },
};

json_t *
cairn_cli_genesis_template_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) tmpl = cairn_cjson_parse (text, len, FALSE, &local);
  if (tmpl == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "%s: %s", path,
                 local->message);
    return NULL;
  }
  if (!json_is_object (tmpl)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s: a genesis template is a JSON object", path);
    return NULL;
  }
  const char *key;
  json_t *value;
  json_object_foreach (tmpl, key, value)
  {
    size_t f = 0;
    while (f < G_N_ELEMENTS (template_fields)
           && !g_str_equal (key, template_fields[f].name))
      f++;
    if (f == G_N_ELEMENTS (template_fields)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: unknown field '%s' (a genesis template holds "
                   "chain_id, accounts and app_state)",
                   path, key);
      return NULL;
    }
    if (json_typeof (value) != template_fields[f].type) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: %s: must be %s", path, key, template_fields[f].what);
      return NULL;
    }
  }
  const char *chain_id = json_string_value (json_object_get (tmpl, "chain_id"));
  if (chain_id && !chain_id_valid (chain_id)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s: chain_id: bad chain id '%s': use 1-64 of A-Z a-z 0-9 _ "
                 ". -",
                 path, chain_id);
    return NULL;
  }
  /* The accounts and app_state as the node will read them: a trial
   * genesis with throw-away keys. */
  g_autoptr (CairnKey) admin = cairn_key_generate (error);
  g_autoptr (CairnKey) node = admin ? cairn_key_generate (error) : NULL;
  if (node == NULL)
    return NULL;
  CairnInitSpec spec = { 0 };
  g_autoptr (json_t) doc
      = genesis_json (&spec, chain_id ? chain_id : "dev", tmpl, admin, node);
  g_autoptr (CairnGenesis) checked = cairn_genesis_from_json (doc, path, error);
  if (checked == NULL)
    return NULL;
  return g_steal_pointer (&tmpl);
}

/* The distribution's genesis template: *tmpl NULL when there is none. */
static gboolean
load_template (const CairnConfSource *src, json_t **tmpl, GError **error)
{
  *tmpl = NULL;
  const char *path = cairn_conf_source_genesis_template (src);
  if (path == NULL)
    return TRUE;
  *tmpl = cairn_cli_genesis_template_load (path, error);
  return *tmpl != NULL;
}

static const char *
default_chain_id (const json_t *tmpl)
{
  const char *id
      = tmpl ? json_string_value (json_object_get (tmpl, "chain_id")) : NULL;
  return id ? id : "dev";
}

/* An existing home must be empty, unless --force. */
static gboolean
check_home (const char *home, gboolean force, GError **error)
{
  if (!g_file_test (home, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_file_test (home, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s exists and is not a directory", home);
    return FALSE;
  }
  g_autoptr (GDir) dir = g_dir_open (home, 0, error);
  if (dir == NULL)
    return FALSE;
  if (g_dir_read_name (dir) == NULL || force)
    return TRUE;
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
               "%s is not empty; refusing to initialise over an existing home "
               "(use --force to replace its config, keys, genesis and data)",
               home);
  return FALSE;
}

gboolean
cairn_cli_init_home (const CairnInitSpec *spec, char **admin_address,
                     char **node_address, GError **error)
{
  g_autoptr (CairnConfSource) src = cairn_conf_source_default ();
  g_autoptr (json_t) tmpl = NULL;
  if (!load_template (src, &tmpl, error))
    return FALSE;
  const char *chain_id
      = spec->chain_id ? spec->chain_id : default_chain_id (tmpl);
  if (!chain_id_valid (chain_id)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "bad chain id '%s': use 1-64 of A-Z a-z 0-9 _ . -", chain_id);
    return FALSE;
  }
  g_autofree char *profile_res
      = g_strdup_printf ("profiles/%s.conf", spec->profile);
  if (!cairn_conf_source_has (src, profile_res)) {
    g_auto (GStrv) names = cairn_conf_source_list (src, "profiles", NULL);
    g_autoptr (GString) list = g_string_new (NULL);
    for (char **n = names; n && *n; n++) {
      g_autofree char *base = g_strndup (*n, strlen (*n) - strlen (".conf"));
      g_string_append_printf (list, "%s%s", list->len ? ", " : "", base);
    }
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "unknown profile '%s' (available in %s: %s)", spec->profile,
                 cairn_conf_source_describe (src), list->str);
    return FALSE;
  }
  /* Storage and blob-store names, before anything is written. */
  if (!slots_check (src, spec, error))
    return FALSE;
  if (!check_home (spec->home, spec->force, error))
    return FALSE;

  g_autofree char *keys_dir = g_build_filename (spec->home, "keys", NULL);
  if (g_mkdir_with_parents (keys_dir, 0700) != 0
      || g_chmod (keys_dir, 0700) != 0) {
    int err = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
                 "cannot create %s: %s", keys_dir, g_strerror (err));
    return FALSE;
  }
  if (spec->force) {
    /* The old chain's store would not match the new genesis. */
    g_autofree char *data = g_build_filename (spec->home, "data", NULL);
    if (!cairn_cli_remove_tree (data, error))
      return FALSE;
  }
  if (!write_main_config (src, spec->home, chain_id, error)
      || !write_snippets (src, spec->home, spec, error))
    return FALSE;

  g_autoptr (CairnKey) node = new_key (spec->home, "node", spec->force, error);
  if (node == NULL)
    return FALSE;
  g_autoptr (CairnKey) admin
      = new_key (spec->home, "admin", spec->force, error);
  if (admin == NULL)
    return FALSE;

  g_autoptr (json_t) doc = genesis_json (spec, chain_id, tmpl, admin, node);
  g_autofree char *genesis_path
      = g_build_filename (spec->home, "genesis.json", NULL);
  /* Refuse to write a document the node would refuse to start with. */
  g_autoptr (CairnGenesis) checked
      = cairn_genesis_from_json (doc, genesis_path, error);
  if (checked == NULL)
    return FALSE;
  g_autofree char *text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);
  g_autofree char *with_nl = g_strconcat (text, "\n", NULL);
  if (!write_file (genesis_path, with_nl, strlen (with_nl), 0644, error))
    return FALSE;

  if (admin_address)
    *admin_address = g_strdup (cairn_key_address (admin));
  if (node_address)
    *node_address = g_strdup (cairn_key_address (node));
  return TRUE;
}

int
cairn_cmd_init (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *chain_id = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *store = NULL, *blobstore = NULL;
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Directory to create (default: $CAIRN_HOME)", "DIR" },
    { "chain-id", 0, 0, G_OPTION_ARG_STRING, &chain_id,
      "Chain id (default: dev)", "ID" },
    { "profile", 0, 0, G_OPTION_ARG_STRING, &profile,
      "Configuration profile (default: dev)", "NAME" },
    { "store", 0, 0, G_OPTION_ARG_STRING, &store,
      "Storage plugin (default: store-lmdb; or store-git)", "NAME" },
    { "blobstore", 0, 0, G_OPTION_ARG_STRING, &blobstore,
      "Blob-store plugin (default: blob-fs; or blob-ipfs)", "NAME" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force,
      "Initialise a non-empty DIR: replace its config, keys and genesis and "
      "delete DIR/data",
      NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      NULL, "Create a node home: config, keys and a one-validator genesis.",
      "Writes DIR/cairn.conf, DIR/conf.d/*.conf, DIR/keys/{node,admin}.pem "
      "and\n"
      "DIR/genesis.json. The admin account holds 1000000000000 cairn; the\n"
      "node's key is the only validator. --store and --blobstore write\n"
      "another plugin's snippet (conf/alternatives/) in place of the\n"
      "default's 10-store-lmdb.conf or 15-blob-fs.conf.\n"
      "Run from a vendor distribution (cairn dist), the config comes from\n"
      "its etc/cairn/, and genesis.json takes the accounts, app_state and\n"
      "default chain id of its share/cairn/genesis-template.json.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc > 1)
    return cairn_cli_usage ("unexpected argument '%s'", argv[1]);
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;

  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfSource) src = cairn_conf_source_default ();
  g_autoptr (json_t) tmpl = NULL;
  if (!load_template (src, &tmpl, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  CairnInitSpec spec = {
    .home = home,
    .chain_id = chain_id ? chain_id : default_chain_id (tmpl),
    .profile = profile ? profile : "dev",
    .store = store,
    .blobstore = blobstore,
    .force = force,
  };
  g_autofree char *admin = NULL;
  g_autofree char *node = NULL;
  if (!cairn_cli_init_home (&spec, &admin, &node, &error))
    return cairn_cli_fail (g_steal_pointer (&error));

  g_autofree char *url = cairn_client_url_for (home, NULL, NULL);
  g_autofree char *q = home[strspn (home, "abcdefghijklmnopqrstuvwxyz"
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-./")]
                           ? g_shell_quote (home)
                           : g_strdup (home);
  g_print ("initialised %s (chain '%s', profile '%s')\n", home, spec.chain_id,
           spec.profile);
  g_autofree char *dist_root = cairn_cli_dist_root ();
  if (dist_root != NULL) {
    const char *t = cairn_conf_source_genesis_template (src);
    cairn_cli_print_field ("config", "%s%s%s", cairn_conf_source_describe (src),
                           t ? ", genesis template " : "", t ? t : "");
  }
  cairn_cli_print_field ("node", "%s  (keys/node.pem, validator)", node);
  cairn_cli_print_field ("admin",
                         "%s  (keys/admin.pem, %" G_GINT64_FORMAT " cairn)",
                         admin, ADMIN_BALANCE);
  g_print ("\nNext steps:\n"
           "  cairn node --home %s\n"
           "      start the node; its API is %s/v1/status\n"
           "  cairn keys new alice --home %s\n"
           "  cairn tx send --home %s --from admin bank.transfer \\\n"
           "      '{\"to\":\"ADDRESS\",\"denom\":\"cairn\",\"amount\":100}' "
           "--wait\n"
           "  cairn query --home %s balances ADDRESS\n",
           q, url ? url : "http://127.0.0.1:7700", q, q, q);
  return CAIRN_EXIT_OK;
}

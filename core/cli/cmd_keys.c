/* cairn keys new|list|show: Ed25519 key files in <home>/keys/NAME.pem. */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cli.h"

gboolean
cairn_cli_key_name_valid (const char *name)
{
  size_t n = name ? strlen (name) : 0;
  if (n == 0 || n > 64)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  return TRUE;
}

static char *
key_path (const char *home, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".pem", NULL);
  return g_build_filename (home, "keys", file, NULL);
}

CairnKey *
cairn_cli_load_key (const char *home, const char *name_or_path, char **path_out,
                    GError **error)
{
  g_autofree char *path = NULL;
  if (strchr (name_or_path, '/') || g_str_has_suffix (name_or_path, ".pem"))
    path = g_strdup (name_or_path);
  else if (!cairn_cli_key_name_valid (name_or_path)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "bad key name '%s': use 1-64 of A-Z a-z 0-9 _ - (or give a "
                 "path to a PEM file)",
                 name_or_path);
    return NULL;
  } else if (home == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "key '%s': missing --home DIR to find it in", name_or_path);
    return NULL;
  } else
    path = key_path (home, name_or_path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                 "no key '%s' (%s does not exist; create it with 'cairn keys "
                 "new NAME --home DIR')",
                 name_or_path, path);
    return NULL;
  }
  CairnKey *key = cairn_key_load (path, error);
  if (key && path_out)
    *path_out = g_steal_pointer (&path);
  return key;
}

char *
cairn_cli_resolve_address (const char *home, const char *what, GError **error)
{
  if (cairn_address_valid (what))
    return g_strdup (what);
  if (home && cairn_cli_key_name_valid (what)) {
    g_autofree char *path = key_path (home, what);
    if (g_file_test (path, G_FILE_TEST_EXISTS)) {
      g_autoptr (CairnKey) key = cairn_key_load (path, error);
      return key ? g_strdup (cairn_key_address (key)) : NULL;
    }
  }
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
               "'%s' is neither an address (40 lowercase hex characters) nor "
               "the name of a key in %s/keys",
               what, home ? home : "--home");
  return NULL;
}

static json_t *
key_json (const char *name, const char *path, const CairnKey *key)
{
  g_autofree char *pub = cairn_hex_encode (cairn_key_pubkey (key), 32);
  return json_pack ("{s:s, s:s, s:s, s:s}", "name", name, "address",
                    cairn_key_address (key), "pubkey", pub, "file", path);
}

static void
print_key_human (const char *name, const char *path, const CairnKey *key)
{
  g_autofree char *pub = cairn_hex_encode (cairn_key_pubkey (key), 32);
  cairn_cli_print_field ("name", "%s", name);
  cairn_cli_print_field ("address", "%s", cairn_key_address (key));
  cairn_cli_print_field ("pubkey", "%s", pub);
  cairn_cli_print_field ("file", "%s", path);
}

static int
keys_new (const char *home, const char *name, gboolean json)
{
  if (!cairn_cli_key_name_valid (name))
    return cairn_cli_usage ("bad key name '%s': use 1-64 of A-Z a-z 0-9 _ -",
                            name);
  g_autofree char *dir = g_build_filename (home, "keys", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int err = errno;
    cairn_cli_printerr ("cannot create %s: %s", dir, g_strerror (err));
    return CAIRN_EXIT_FAILED;
  }
  g_autofree char *path = key_path (home, name);
  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    cairn_cli_printerr ("key '%s' already exists (%s); keys are never "
                        "overwritten",
                        name, path);
    return CAIRN_EXIT_FAILED;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = cairn_key_generate (&error);
  if (key == NULL || !cairn_key_save (key, path, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json) {
    g_autoptr (json_t) out = key_json (name, path, key);
    cairn_cli_print_json (out);
  } else {
    g_print ("created key '%s'\n", name);
    print_key_human (name, path, key);
  }
  return CAIRN_EXIT_OK;
}

static int
keys_show (const char *home, const char *name, gboolean json)
{
  if (!cairn_cli_key_name_valid (name))
    return cairn_cli_usage ("bad key name '%s': use 1-64 of A-Z a-z 0-9 _ -",
                            name);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr (CairnKey) key = cairn_cli_load_key (home, name, &path, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json) {
    g_autoptr (json_t) out = key_json (name, path, key);
    cairn_cli_print_json (out);
  } else
    print_key_human (name, path, key);
  return CAIRN_EXIT_OK;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static int
keys_list (const char *home, gboolean json)
{
  g_autofree char *dir_path = g_build_filename (home, "keys", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &error);
  if (dir == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;
  while ((entry = g_dir_read_name (dir)) != NULL)
    /* X25519 keys (cairn im's NAME.x25519.pem) are not signing keys. */
    if (g_str_has_suffix (entry, ".pem")
        && !g_str_has_suffix (entry, ".x25519.pem"))
      g_ptr_array_add (names, g_strndup (entry, strlen (entry) - 4));
  g_ptr_array_sort (names, compare_names);

  g_autoptr (json_t) list = json_array ();
  int rc = CAIRN_EXIT_OK;
  for (guint i = 0; i < names->len; i++) {
    const char *name = names->pdata[i];
    g_autofree char *path = key_path (home, name);
    g_autoptr (GError) kerr = NULL;
    g_autoptr (CairnKey) key = cairn_key_load (path, &kerr);
    if (key == NULL) {
      /* One unreadable file does not hide the others. */
      cairn_cli_printerr ("%s", kerr->message);
      rc = CAIRN_EXIT_FAILED;
      continue;
    }
    if (json)
      json_array_append_new (list, key_json (name, path, key));
    else
      g_print ("%-20s %s\n", name, cairn_key_address (key));
  }
  if (json)
    cairn_cli_print_json (list);
  else if (names->len == 0)
    g_print ("no keys in %s\n", dir_path);
  return rc;
}

int
cairn_cmd_keys (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home directory (default: $CAIRN_HOME)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "new NAME | list | show NAME", "Manage the Ed25519 keys in DIR/keys.",
      "Commands:\n"
      "  new NAME    create DIR/keys/NAME.pem (mode 0600) and print its "
      "address\n"
      "  list        every key: name and address\n"
      "  show NAME   address, public key and file of one key\n"
      "\nNAME is 1-64 characters of A-Z a-z 0-9 _ -. The files are PKCS#8 "
      "PEM,\n"
      "readable with 'openssl pkey'.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage ("missing command: new, list or show");
  const char *sub = argv[1];
  gboolean wants_name = g_str_equal (sub, "new") || g_str_equal (sub, "show");
  if (!wants_name && !g_str_equal (sub, "list"))
    return cairn_cli_usage ("unknown keys command '%s' (new, list, show)", sub);
  if (wants_name ? argc != 3 : argc != 2)
    return cairn_cli_usage (wants_name ? "usage: keys %s NAME --home DIR"
                                       : "usage: keys %s --home DIR",
                            sub);
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;
  if (g_str_equal (sub, "new"))
    return keys_new (home, argv[2], json);
  if (g_str_equal (sub, "show"))
    return keys_show (home, argv[2], json);
  return keys_list (home, json);
}

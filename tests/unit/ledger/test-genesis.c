/* The genesis document: loading, hashing and every validation rule, each
 * error naming the file and the JSON path. */
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "crypto.h"
#include "genesis.h"

static CairnKey *k1, *k2, *k3;
static char *tmpdir;

/* Replaces <a1> <a2> <a3> <p1> <p2> <p3> with the test keys' values. */
static char *
fill (const char *text)
{
  GString *s = g_string_new (text);
  CairnKey *keys[] = { k1, k2, k3 };

  for (int i = 0; i < 3; i++) {
    g_autofree char *a = g_strdup_printf ("<a%d>", i + 1);
    g_autofree char *p = g_strdup_printf ("<p%d>", i + 1);
    g_autofree char *hex = cairn_hex_encode (cairn_key_pubkey (keys[i]), 32);
    g_string_replace (s, a, cairn_key_address (keys[i]), 0);
    g_string_replace (s, p, hex, 0);
  }
  return g_string_free (s, FALSE);
}

static json_t *
valid_doc (void)
{
  g_autofree char *text = fill (
      "{\"chain_id\": \"dev\", \"genesis_time\": 1767225600000,"
      " \"admin\": {\"threshold\": 2, \"members\": [\"<a1>\", \"<a2>\", "
      "\"<a3>\"]},"
      " \"accounts\": ["
      "  {\"address\": \"<a1>\", \"pubkey\": \"<p1>\","
      "   \"roles\": [\"platform\", \"regulator\"],"
      "   \"balances\": {\"cairn\": 1000, \"usd.c\": 5}},"
      "  {\"address\": \"<a2>\", \"balances\": {\"cairn\": 0}},"
      "  {\"address\": \"<a3>\", \"roles\": []}],"
      " \"validators\": ["
      "  {\"address\": \"<a1>\", \"pubkey\": \"<p1>\", \"stake\": 100, "
      "\"name\": \"n0\"},"
      "  {\"address\": \"<a2>\", \"pubkey\": \"<p2>\", \"stake\": 0}],"
      " \"app_state\": {\"bank\": {\"denoms\": [\"cairn\"]}}}");
  json_t *doc = cairn_cjson_parse (text, strlen (text), FALSE, NULL);

  g_assert_nonnull (doc);
  return doc;
}

/* "a.b[2].c": set (value != NULL) or delete the member at the path. */
static void
edit (json_t *doc, const char *path, json_t *value)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  json_t *cur = doc;

  for (int i = 0; parts[i] != NULL; i++) {
    char *name = parts[i];
    char *bracket = strchr (name, '[');
    gboolean last = parts[i + 1] == NULL;
    int index = -1;

    if (bracket != NULL) {
      index = atoi (bracket + 1);
      *bracket = '\0';
    }
    if (index < 0 && last) {
      if (value != NULL)
        json_object_set_new (cur, name, value);
      else
        json_object_del (cur, name);
      return;
    }
    cur = json_object_get (cur, name);
    if (index >= 0 && last) {
      if (value != NULL)
        json_array_set_new (cur, (size_t)index, value);
      else
        json_array_remove (cur, (size_t)index);
      return;
    }
    if (index >= 0)
      cur = json_array_get (cur, (size_t)index);
    g_assert_nonnull (cur);
  }
}

static void
expect_refusal (json_t *doc, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnGenesis) g
      = cairn_genesis_from_json (doc, "genesis.json", &error);

  g_assert_null (g);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  if (strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
  g_assert_true (g_str_has_prefix (error->message, "genesis.json: "));
}

static void
test_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) doc = valid_doc ();
  g_autoptr (CairnGenesis) g = cairn_genesis_from_json (doc, NULL, &error);
  g_autofree char *canonical = NULL;
  size_t len;
  uint8_t h[32];

  g_assert_no_error (error);
  g_assert_cmpstr (g->chain_id, ==, "dev");
  g_assert_cmpint (g->genesis_time, ==, 1767225600000);
  g_assert_true (json_equal (g->doc, doc));
  canonical = cairn_cjson_dump (doc, &len, NULL);
  cairn_sha256 (canonical, len, h);
  g_assert_cmpmem (h, 32, g->hash, 32);

  /* The tree is the genesis's own. */
  json_object_set_new (doc, "chain_id", json_string ("changed"));
  g_assert_cmpstr (json_string_value (json_object_get (g->doc, "chain_id")), ==,
                   "dev");
}

static void
test_load_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) doc = valid_doc ();
  g_autofree char *pretty_path = g_build_filename (tmpdir, "pretty.json", NULL);
  g_autofree char *compact_path
      = g_build_filename (tmpdir, "compact.json", NULL);
  g_autofree char *pretty = json_dumps (doc, JSON_INDENT (4));
  g_autofree char *compact = cairn_cjson_dump (doc, NULL, NULL);
  g_autoptr (CairnGenesis) a = NULL;
  g_autoptr (CairnGenesis) b = NULL;
  g_autoptr (CairnGenesis) c = cairn_genesis_from_json (doc, "x", NULL);

  g_file_set_contents (pretty_path, pretty, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (compact_path, compact, -1, &error);
  g_assert_no_error (error);
  a = cairn_genesis_load (pretty_path, &error);
  g_assert_no_error (error);
  b = cairn_genesis_load (compact_path, &error);
  g_assert_no_error (error);
  /* Formatting and key order do not change the hash. */
  g_assert_cmpmem (a->hash, 32, b->hash, 32);
  g_assert_cmpmem (a->hash, 32, c->hash, 32);
  g_assert_cmpstr (a->chain_id, ==, "dev");
}

static void
test_load_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_build_filename (tmpdir, "missing.json", NULL);
  g_autofree char *bad = g_build_filename (tmpdir, "bad.json", NULL);
  g_autoptr (json_t) doc = valid_doc ();
  g_autofree char *text = json_dumps (doc, JSON_INDENT (2));
  g_autofree char *with_real = NULL;
  char *p;

  g_assert_null (cairn_genesis_load (missing, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_file_set_contents (bad, "{\"chain_id\": \"dev\",}", -1, &error);
  g_assert_no_error (error);
  g_assert_null (cairn_genesis_load (bad, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, bad));
  g_assert_nonnull (strstr (error->message, ": invalid JSON at byte"));
  g_clear_error (&error);

  /* Integers only, in the file too. */
  p = strstr (text, "1767225600000");
  g_assert_nonnull (p);
  with_real = g_strdup_printf ("%.*s1767225600000.5%s", (int)(p - text), text,
                               p + 13);
  g_file_set_contents (bad, with_real, -1, &error);
  g_assert_no_error (error);
  g_assert_null (cairn_genesis_load (bad, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "real number"));
  g_clear_error (&error);

  g_file_set_contents (bad, "[]", -1, &error);
  g_assert_no_error (error);
  g_assert_null (cairn_genesis_load (bad, &error));
  g_assert_nonnull (strstr (error->message, "must be a JSON object"));
  g_clear_error (&error);

  g_file_set_contents (bad, "{\"chain_id\":\"a\",\"chain_id\":\"b\"}", -1,
                       &error);
  g_assert_no_error (error);
  g_assert_null (cairn_genesis_load (bad, &error));
  g_assert_nonnull (strstr (error->message, "duplicate object key"));
}

static void
test_optional_parts (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text
      = fill ("{\"chain_id\":\"a-b_c.9\",\"genesis_time\":9223372036854775807,"
              "\"admin\":{\"threshold\":1,\"members\":[\"<a1>\"]},"
              "\"accounts\":[{\"address\":\"<a2>\"}],\"validators\":[]}");
  g_autoptr (json_t) doc = cairn_cjson_parse (text, strlen (text), FALSE, NULL);
  g_autoptr (CairnGenesis) g = cairn_genesis_from_json (doc, "g", &error);

  g_assert_no_error (error);
  g_assert_cmpint (g->genesis_time, ==, G_MAXINT64);
  g_assert_cmpstr (g->chain_id, ==, "a-b_c.9");
}

typedef struct {
  const char *path;
  const char *value; /* JSON with <aN>/<pN>; NULL = delete */
  const char *want;  /* with <aN> too */
} Case;

static void
test_rules (void)
{
  g_autofree char *long_id = g_strnfill (65, 'c');
  g_autofree char *long_role = g_strnfill (33, 'r');
  g_autofree char *long_id_json = g_strdup_printf ("\"%s\"", long_id);
  g_autofree char *long_role_json = g_strdup_printf ("\"%s\"", long_role);
  const Case cases[] = {
    { "chain_id", NULL, "chain_id: required field is missing" },
    { "chain_id", "\"bad id\"",
      "chain_id: must be a string of 1 to 64 [A-Za-z0-9_.-]" },
    { "chain_id", "\"\"", "chain_id: must be" },
    { "chain_id", long_id_json, "chain_id: must be" },
    { "chain_id", "5", "chain_id: must be" },
    { "genesis_time", NULL, "genesis_time: required field is missing" },
    { "genesis_time", "0",
      "genesis_time: must be a positive integer (ms since the epoch)" },
    { "genesis_time", "-5", "genesis_time: must be a positive integer" },
    { "genesis_time", "\"2026-01-01\"", "genesis_time: must be" },
    { "admin", NULL, "admin: required field is missing" },
    { "admin", "[]", "admin: must be an object" },
    { "admin.threshold", "0",
      "admin.threshold: must be an integer from 1 to 3 (the number of "
      "admin.members)" },
    { "admin.threshold", "4", "admin.threshold: must be an integer from 1" },
    { "admin.threshold", NULL, "admin.threshold: must be" },
    { "admin.threshold", "\"2\"", "admin.threshold: must be" },
    { "admin.members", "\"<a1>\"",
      "admin.members: must be an array of addresses" },
    { "admin.members", "[]",
      "admin.threshold: must be an integer from 1 to 0" },
    { "admin.members[1]", "\"ABC\"",
      "admin.members[1]: must be an address (40 lowercase hex" },
    { "admin.members[2]", "\"<a1>\"",
      "admin.members[2]: <a1> is already admin.members[0]" },
    { "admin.quorum", "1", "admin.quorum: unknown field" },
    { "accounts", NULL, "accounts: required field is missing" },
    { "accounts", "{}", "accounts: must be an array" },
    { "accounts[1]", "5", "accounts[1]: must be an object" },
    { "accounts[1].address", "\"xyz\"",
      "accounts[1].address: must be an address" },
    { "accounts[1].address", NULL, "accounts[1].address: must be an address" },
    { "accounts[2].address", "\"<a1>\"",
      "accounts[2].address: <a1> is already accounts[0]" },
    { "accounts[0].pubkey", "\"<p2>\"",
      "accounts[0].pubkey: is the key of address <a2>, not of <a1>" },
    { "accounts[0].pubkey", "\"abc\"",
      "accounts[0].pubkey: must be 64 lowercase hex characters" },
    { "accounts[0].roles", "\"platform\"",
      "accounts[0].roles: must be an array of role names" },
    { "accounts[0].roles[1]", "\"Regulator\"",
      "accounts[0].roles[1]: must be a role name of 1 to 32 [a-z_]" },
    { "accounts[0].roles[1]", long_role_json,
      "accounts[0].roles[1]: must be a role name" },
    { "accounts[0].roles[1]", "\"\"", "accounts[0].roles[1]: must be" },
    { "accounts[0].roles[0]", "7", "accounts[0].roles[0]: must be" },
    { "accounts[0].roles[1]", "\"platform\"",
      "accounts[0].roles[1]: 'platform' is listed twice" },
    { "accounts[0].balances.cairn", "-1",
      "accounts[0].balances.cairn: must be a non-negative integer" },
    { "accounts[0].balances.cairn", "\"100\"",
      "accounts[0].balances.cairn: must be a non-negative integer" },
    { "accounts[0].balances", "[]", "accounts[0].balances: must be an object" },
    { "accounts[0].nickname", "\"x\"", "accounts[0].nickname: unknown field" },
    { "validators", NULL, "validators: required field is missing" },
    { "validators", "{}", "validators: must be an array" },
    { "validators[1]", "[]", "validators[1]: must be an object" },
    { "validators[0].address", "\"00\"",
      "validators[0].address: must be an address" },
    { "validators[0].pubkey", NULL,
      "validators[0].pubkey: must be 64 lowercase hex characters" },
    { "validators[0].pubkey", "\"<p2>\"",
      "validators[0].pubkey: is the key of address <a2>, not of <a1>" },
    { "validators[0].stake", "-1",
      "validators[0].stake: must be a non-negative integer" },
    { "validators[0].stake", NULL, "validators[0].stake: must be" },
    { "validators[1]", "{\"address\":\"<a1>\",\"pubkey\":\"<p1>\",\"stake\":1}",
      "validators[1].address: <a1> is already validators[0]" },
    { "validators[0].name", "\"\"",
      "validators[0].name: must be a non-empty string" },
    { "validators[0].name", "3", "validators[0].name: must be" },
    { "validators[0].power", "1", "validators[0].power: unknown field" },
    { "app_state", "[]", "app_state: must be an object of plugin id" },
    { "app_state.bank", "5", "app_state.bank: must be an object" },
    { "validator", "[]", "validator: unknown field" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (json_t) doc = valid_doc ();
    g_autofree char *want = fill (cases[i].want);
    json_t *value = NULL;

    if (cases[i].value != NULL) {
      g_autofree char *v = fill (cases[i].value);
      value = cairn_cjson_parse (v, strlen (v), FALSE, NULL);
      g_assert_nonnull (value);
    }
    edit (doc, cases[i].path, value);
    g_test_message ("case %zu: %s", i, cases[i].path);
    expect_refusal (doc, want);
  }
}

static void
test_odd_paths (void)
{
  g_autoptr (json_t) doc = valid_doc ();
  g_autoptr (json_t) doc2 = valid_doc ();
  g_autoptr (json_t) doc3 = valid_doc ();
  g_autoptr (GError) error = NULL;

  /* A key that is not an identifier is quoted in the path. */
  edit (doc, "accounts[0].balances", json_pack ("{s:i}", "usd.c", -1));
  expect_refusal (doc, "accounts[0].balances[\"usd.c\"]: must be a "
                       "non-negative integer");
  edit (doc2, "accounts[0].balances", json_pack ("{s:i}", "", 1));
  expect_refusal (doc2, "accounts[0].balances[\"\"]: a denomination needs a "
                        "name");
  /* Reals anywhere (here inside a plugin's state) are refused. */
  edit (doc3, "app_state.bank", json_pack ("{s:f}", "rate", 1.5));
  expect_refusal (doc3, "app_state.bank.rate: real number");
  /* Not an object at all. */
  {
    g_autoptr (json_t) arr = json_array ();
    g_assert_null (cairn_genesis_from_json (arr, NULL, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_assert_true (g_str_has_prefix (error->message, "genesis: "));
  }
}

int
main (int argc, char **argv)
{
  int rc;
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  k1 = cairn_key_generate (NULL);
  k2 = cairn_key_generate (NULL);
  k3 = cairn_key_generate (NULL);
  tmpdir = g_dir_make_tmp ("cairn-test-genesis-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/genesis/valid", test_valid);
  g_test_add_func ("/genesis/load-file", test_load_file);
  g_test_add_func ("/genesis/load-errors", test_load_errors);
  g_test_add_func ("/genesis/optional-parts", test_optional_parts);
  g_test_add_func ("/genesis/rules", test_rules);
  g_test_add_func ("/genesis/odd-paths", test_odd_paths);
  rc = g_test_run ();

  {
    const char *const rm[] = { "rm", "-rf", tmpdir, NULL };
    g_spawn_sync (NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                  NULL, NULL, NULL, NULL);
  }
  g_free (tmpdir);
  cairn_key_free (k1);
  cairn_key_free (k2);
  cairn_key_free (k3);
  return rc;
}

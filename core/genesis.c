/* The genesis document: load and validate (see genesis.h).
 *
 * Every error reads "<origin>: <json path>: <what is wrong>". Besides the
 * header's rules: unknown fields are refused at every level we define (so a
 * typo such as "validator" is not silently ignored), admin members and the
 * roles of an account must not repeat, an account's pubkey/roles/balances
 * and a validator's name are optional, app_state values are objects. */
#include "genesis.h"

#include "names.h"

#include <stdarg.h>
#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "crypto.h"

static gboolean fail (GError **error, const char *origin, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *origin, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG, "%s: %s", origin, msg);
  return FALSE;
}

/* ".key", or ["key"] when the key is not a plain identifier. */
static char *
key_segment (const char *key)
{
  gboolean plain = key[0] != '\0';

  for (const char *p = key; *p && plain; p++)
    plain = g_ascii_isalnum (*p) || *p == '_' || *p == '-';
  if (plain)
    return g_strconcat (".", key, NULL);
  else {
    g_autoptr (json_t) s = json_string (key);
    g_autofree char *quoted = json_dumps (s, JSON_ENCODE_ANY);
    return g_strdup_printf ("[%s]", quoted ? quoted : "?");
  }
}

static gboolean
nonneg_int (const json_t *v)
{
  return json_is_integer (v) && json_integer_value (v) >= 0;
}

/* Refuses keys of obj that are not in allowed (NULL-terminated). */
static gboolean
only_fields (const json_t *obj, const char *const *allowed, const char *origin,
             const char *path, GError **error)
{
  const char *key;
  json_t *item;

  json_object_foreach ((json_t *)obj, key, item)
  {
    gboolean known = FALSE;
    for (const char *const *a = allowed; *a && !known; a++)
      known = strcmp (key, *a) == 0;
    if (!known) {
      g_autofree char *seg = key_segment (key);
      /* at the top level the path starts with the key itself */
      const char *s = path[0] == '\0' && seg[0] == '.' ? seg + 1 : seg;
      return fail (error, origin, "%s%s: unknown field", path, s);
    }
  }
  return TRUE;
}

/* address (required) and pubkey (required or optional) of an entry. */
static gboolean
check_identity (const json_t *entry, gboolean pubkey_required,
                const char *origin, const char *path, GError **error)
{
  const char *address = json_string_value (json_object_get (entry, "address"));
  json_t *pk = json_object_get (entry, "pubkey");
  uint8_t pub[32];
  char derived[41];

  if (!cairn_address_valid (address))
    return fail (error, origin,
                 "%s.address: must be an address (40 lowercase hex "
                 "characters)",
                 path);
  if (pk == NULL && !pubkey_required)
    return TRUE;
  if (!json_is_string (pk) || json_string_length (pk) != 64
      || strspn (json_string_value (pk), "0123456789abcdef") != 64
      || !cairn_hex_decode (json_string_value (pk), pub, 32))
    return fail (error, origin,
                 "%s.pubkey: must be 64 lowercase hex characters (an Ed25519 "
                 "public key)",
                 path);
  cairn_address_from_pubkey (pub, derived);
  if (strcmp (derived, address) != 0)
    return fail (error, origin,
                 "%s.pubkey: is the key of address %s, not of %s", path,
                 derived, address);
  return TRUE;
}

static gboolean
check_admin (const json_t *admin, const char *origin, GError **error)
{
  static const char *const fields[] = { "members", "threshold", NULL };
  json_t *members, *threshold, *m;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  size_t i, n;

  if (!json_is_object (admin))
    return fail (error, origin, "admin: must be an object");
  if (!only_fields (admin, fields, origin, "admin", error))
    return FALSE;
  members = json_object_get (admin, "members");
  threshold = json_object_get (admin, "threshold");
  if (!json_is_array (members))
    return fail (error, origin,
                 "admin.members: must be an array of "
                 "addresses");
  json_array_foreach (members, i, m)
  {
    const char *a = json_string_value (m);
    gpointer prev;
    if (!cairn_address_valid (a))
      return fail (error, origin,
                   "admin.members[%zu]: must be an address (40 lowercase hex "
                   "characters)",
                   i);
    if (g_hash_table_lookup_extended (seen, a, NULL, &prev))
      return fail (error, origin,
                   "admin.members[%zu]: %s is already admin.members[%u]", i, a,
                   GPOINTER_TO_UINT (prev));
    g_hash_table_insert (seen, (gpointer)a, GUINT_TO_POINTER (i));
  }
  n = json_array_size (members);
  if (!json_is_integer (threshold) || json_integer_value (threshold) < 1
      || (size_t)json_integer_value (threshold) > n)
    return fail (error, origin,
                 "admin.threshold: must be an integer from 1 to %zu (the "
                 "number of admin.members)",
                 n);
  return TRUE;
}

static gboolean
check_accounts (const json_t *accounts, const char *origin, GError **error)
{
  static const char *const fields[]
      = { "address", "balances", "pubkey", "roles", NULL };
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  size_t i;
  json_t *acc;

  if (!json_is_array (accounts))
    return fail (error, origin, "accounts: must be an array");
  json_array_foreach (accounts, i, acc)
  {
    g_autofree char *path = g_strdup_printf ("accounts[%zu]", i);
    json_t *roles, *balances, *v;
    const char *address, *key;
    gpointer prev;
    size_t j;

    if (!json_is_object (acc))
      return fail (error, origin, "%s: must be an object", path);
    if (!only_fields (acc, fields, origin, path, error)
        || !check_identity (acc, FALSE, origin, path, error))
      return FALSE;
    address = json_string_value (json_object_get (acc, "address"));
    if (g_hash_table_lookup_extended (seen, address, NULL, &prev))
      return fail (error, origin, "%s.address: %s is already accounts[%u]",
                   path, address, GPOINTER_TO_UINT (prev));
    g_hash_table_insert (seen, (gpointer)address, GUINT_TO_POINTER (i));

    roles = json_object_get (acc, "roles");
    if (roles != NULL && !json_is_array (roles))
      return fail (error, origin, "%s.roles: must be an array of role names",
                   path);
    json_array_foreach (roles, j, v)
    {
      const char *r = json_string_value (v);
      if (r == NULL || !cairn_role_valid (r))
        return fail (error, origin,
                     "%s.roles[%zu]: must be a role name of 1 to 32 [a-z_]",
                     path, j);
      for (size_t k = 0; k < j; k++)
        if (strcmp (r, json_string_value (json_array_get (roles, k))) == 0)
          return fail (error, origin, "%s.roles[%zu]: '%s' is listed twice",
                       path, j, r);
    }

    balances = json_object_get (acc, "balances");
    if (balances != NULL && !json_is_object (balances))
      return fail (error, origin,
                   "%s.balances: must be an object of denomination: amount",
                   path);
    if (balances != NULL) {
      json_object_foreach (balances, key, v)
      {
        g_autofree char *seg = key_segment (key);
        if (key[0] == '\0')
          return fail (error, origin,
                       "%s.balances[\"\"]: a denomination needs a name", path);
        if (!nonneg_int (v))
          return fail (error, origin,
                       "%s.balances%s: must be a non-negative integer", path,
                       seg);
      }
    }
  }
  return TRUE;
}

static gboolean
check_validators (const json_t *validators, const char *origin, GError **error)
{
  static const char *const fields[]
      = { "address", "name", "pubkey", "stake", NULL };
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  size_t i;
  json_t *val, *name;

  if (!json_is_array (validators))
    return fail (error, origin, "validators: must be an array");
  json_array_foreach (validators, i, val)
  {
    g_autofree char *path = g_strdup_printf ("validators[%zu]", i);
    const char *address;
    gpointer prev;

    if (!json_is_object (val))
      return fail (error, origin, "%s: must be an object", path);
    if (!only_fields (val, fields, origin, path, error)
        || !check_identity (val, TRUE, origin, path, error))
      return FALSE;
    address = json_string_value (json_object_get (val, "address"));
    if (g_hash_table_lookup_extended (seen, address, NULL, &prev))
      return fail (error, origin, "%s.address: %s is already validators[%u]",
                   path, address, GPOINTER_TO_UINT (prev));
    g_hash_table_insert (seen, (gpointer)address, GUINT_TO_POINTER (i));
    if (!nonneg_int (json_object_get (val, "stake")))
      return fail (error, origin, "%s.stake: must be a non-negative integer",
                   path);
    name = json_object_get (val, "name");
    if (name != NULL
        && (!json_is_string (name) || json_string_length (name) == 0))
      return fail (error, origin, "%s.name: must be a non-empty string", path);
  }
  return TRUE;
}

/* Takes doc. */
static CairnGenesis *
genesis_check (json_t *doc, const char *origin, GError **error)
{
  static const char *const fields[]
      = { "accounts",     "admin",      "app_state", "chain_id",
          "genesis_time", "validators", NULL };
  static const char *const required[]
      = { "chain_id", "genesis_time", "admin", "accounts", "validators" };
  g_autoptr (json_t) owned = doc;
  g_autoptr (GError) err = NULL;
  g_autofree char *canonical = NULL;
  const char *chain_id, *key;
  json_t *time, *app_state, *v;
  size_t len;
  CairnGenesis *g;

  if (!json_is_object (doc)) {
    fail (error, origin, "(document): must be a JSON object");
    return NULL;
  }
  if (!only_fields (doc, fields, origin, "", error))
    return NULL;
  for (size_t i = 0; i < G_N_ELEMENTS (required); i++)
    if (json_object_get (doc, required[i]) == NULL) {
      fail (error, origin, "%s: required field is missing", required[i]);
      return NULL;
    }
  chain_id = json_string_value (json_object_get (doc, "chain_id"));
  if (chain_id == NULL || !cairn_chain_id_valid (chain_id)) {
    fail (error, origin,
          "chain_id: must be a string of 1 to 64 [A-Za-z0-9_.-]");
    return NULL;
  }
  time = json_object_get (doc, "genesis_time");
  if (!json_is_integer (time) || json_integer_value (time) <= 0) {
    fail (error, origin,
          "genesis_time: must be a positive integer (ms since the epoch)");
    return NULL;
  }
  if (!check_admin (json_object_get (doc, "admin"), origin, error)
      || !check_accounts (json_object_get (doc, "accounts"), origin, error)
      || !check_validators (json_object_get (doc, "validators"), origin, error))
    return NULL;
  app_state = json_object_get (doc, "app_state");
  if (app_state != NULL && !json_is_object (app_state)) {
    fail (error, origin, "app_state: must be an object of plugin id: {...}");
    return NULL;
  }
  if (app_state != NULL) {
    json_object_foreach (app_state, key, v)
    {
      if (!json_is_object (v)) {
        g_autofree char *seg = key_segment (key);
        fail (error, origin, "app_state%s: must be an object", seg);
        return NULL;
      }
    }
  }
  canonical = cairn_cjson_dump (doc, &len, &err);
  if (canonical == NULL) {
    fail (error, origin, "%s", err->message);
    return NULL;
  }

  g = g_new0 (CairnGenesis, 1);
  g->doc = g_steal_pointer (&owned);
  g->chain_id = g_strdup (chain_id);
  g->genesis_time = json_integer_value (time);
  cairn_sha256 (canonical, len, g->hash);
  return g;
}

CairnGenesis *
cairn_genesis_load (const char *path, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *text = NULL;
  gsize len;
  json_t *doc;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &text, &len, &err)) {
    g_set_error (error, CAIRN_ERROR,
                 g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? CAIRN_ERROR_NOT_FOUND
                     : CAIRN_ERROR_IO,
                 "%s", err->message);
    return NULL;
  }
  doc = cairn_cjson_parse (text, len, FALSE, &err);
  if (doc == NULL) {
    fail (error, path, "%s", err->message);
    return NULL;
  }
  return genesis_check (doc, path, error);
}

CairnGenesis *
cairn_genesis_from_json (const json_t *doc, const char *origin, GError **error)
{
  g_return_val_if_fail (doc != NULL, NULL);

  return genesis_check (json_deep_copy (doc), origin ? origin : "genesis",
                        error);
}

void
cairn_genesis_free (CairnGenesis *g)
{
  if (g == NULL)
    return;
  if (g->doc != NULL)
    json_decref (g->doc);
  g_free (g->chain_id);
  g_free (g);
}

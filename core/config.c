/* Node configuration: cairn.conf plus the conf.d snippets, typed getters
 * that remember what was read, and the unknown-key check. See config.h. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <cairn/error.h>

/* One (group, key) as merged over all files. */
typedef struct {
  char *group;
  char *key;
  char *value; /* trimmed; append keys: every file's value joined by ';' */
  char *file;  /* the file the (last) value came from */
  int line;    /* its line, 0 when unknown */
} ConfigEntry;

typedef struct {
  char *name;
  char *file; /* where the group first appeared */
  int line;
  GPtrArray *entries; /* ConfigEntry *, first-seen order (not owned) */
} ConfigGroup;

struct CairnConfig {
  char *home;
  GPtrArray *groups;       /* ConfigGroup *, first-seen order (owned) */
  GHashTable *group_index; /* name -> ConfigGroup * */
  GHashTable *entries;     /* "group\x1fkey" -> ConfigEntry * (owned) */
  GHashTable *read_keys;   /* "group\x1fkey" of every getter call */
  GHashTable *read_groups; /* group of every getter call */
};

/* The core's own groups and, for each, its only keys (config.h). */
static const struct {
  const char *group;
  const char *keys[16];
} core_groups[] = {
  { "node",
    { "chain_id", "log_level", "key", "genesis", "data_dir", "user",
      "watchdog_ms" } },
  { "plugins", { "path", "load", "require_signed_plugins", "trusted_keys" } },
  { "http",
    { "listen", "enabled", "max_blob_bytes", "max_connections",
      "max_connections_per_ip", "max_body_bytes", "requests_per_second_per_ip",
      "requests_burst_per_ip", "rate_limit_exempt_loopback",
      "request_timeout_ms" } },
  { "mempool",
    { "max_txs", "max_bytes", "max_nonce_gap", "ttl_seconds",
      "max_txs_per_sender" } },
  { "block", { "max_txs", "max_bytes" } },
  { "p2p",
    { "enabled", "listen", "persistent_peers", "allow", "max_inbound",
      "max_inbound_per_ip", "handshake_timeout_ms", "frame_timeout_ms",
      "max_frame_bytes", "rate_bytes_per_second", "rate_burst_bytes",
      "rate_frames_per_second", "rate_burst_frames" } },
};

static int
core_group_index (const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS (core_groups); i++)
    if (strcmp (core_groups[i].group, group) == 0)
      return (int)i;
  return -1;
}

static gboolean
is_core_key (int gi, const char *key)
{
  for (guint k = 0; k < G_N_ELEMENTS (core_groups[gi].keys); k++)
    if (core_groups[gi].keys[k] && strcmp (core_groups[gi].keys[k], key) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is_append_key (const char *group, const char *key)
{
  return strcmp (group, "plugins") == 0
         && (strcmp (key, "path") == 0 || strcmp (key, "load") == 0
             || strcmp (key, "trusted_keys") == 0);
}

static char *
entry_name (const char *group, const char *key)
{
  return g_strconcat (group, "\x1f", key, NULL);
}

static void
config_entry_free (gpointer p)
{
  ConfigEntry *e = p;
  g_free (e->group);
  g_free (e->key);
  g_free (e->value);
  g_free (e->file);
  g_free (e);
}

static void
config_group_free (gpointer p)
{
  ConfigGroup *g = p;
  g_free (g->name);
  g_free (g->file);
  g_ptr_array_unref (g->entries);
  g_free (g);
}

static CairnConfig *
config_new (const char *home)
{
  CairnConfig *cfg = g_new0 (CairnConfig, 1);
  cfg->home = g_strdup (home ? home : ".");
  cfg->groups = g_ptr_array_new_with_free_func (config_group_free);
  cfg->group_index = g_hash_table_new (g_str_hash, g_str_equal);
  cfg->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        config_entry_free);
  cfg->read_keys
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cfg->read_groups
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return cfg;
}

void
cairn_config_free (CairnConfig *cfg)
{
  if (!cfg)
    return;
  g_free (cfg->home);
  g_hash_table_unref (cfg->group_index);
  g_ptr_array_unref (cfg->groups);
  g_hash_table_unref (cfg->entries);
  g_hash_table_unref (cfg->read_keys);
  g_hash_table_unref (cfg->read_groups);
  g_free (cfg);
}

/* "file:12" or "file" when the line is unknown (g_free). */
static char *
where (const char *file, int line)
{
  return line > 0 ? g_strdup_printf ("%s:%d", file, line) : g_strdup (file);
}

/* ---- reading one file ---- */

/* Line numbers of a file's groups and keys, found by scanning its text the
 * way GKeyFile reads it, plus the first line GKeyFile would refuse. */
typedef struct {
  GHashTable *keys;   /* "group\x1fkey" -> last line (GINT_TO_POINTER) */
  GHashTable *groups; /* group -> first line */
  int bad_line;       /* first line that is not a group, key or comment */
  char *bad_why;
} LineMap;

static void
line_map_clear (LineMap *map)
{
  g_clear_pointer (&map->keys, g_hash_table_unref);
  g_clear_pointer (&map->groups, g_hash_table_unref);
  g_clear_pointer (&map->bad_why, g_free);
}

static gboolean
group_name_ok (const char *name, size_t len)
{
  if (len == 0)
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (name[i] == '[' || name[i] == ']' || g_ascii_iscntrl (name[i]))
      return FALSE;
  return TRUE;
}

static void
line_map_scan (LineMap *map, const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *group = NULL;

  map->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  map->groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int n = 0; lines[n]; n++) {
    char *l = lines[n];
    size_t len;
    const char *eq;

    while (g_ascii_isspace (*l))
      l++;
    len = strlen (l);
    while (len > 0 && g_ascii_isspace (l[len - 1]))
      len--;
    l[len] = '\0';
    if (len == 0 || l[0] == '#')
      continue;
    if (l[0] == '[') {
      if (l[len - 1] != ']' || !group_name_ok (l + 1, len - 2)) {
        if (!map->bad_line) {
          map->bad_line = n + 1;
          map->bad_why = g_strdup_printf (
              "'%s' is not a valid group header; write [name]", l);
        }
        continue;
      }
      g_free (group);
      group = g_strndup (l + 1, len - 2);
      if (!g_hash_table_contains (map->groups, group))
        g_hash_table_insert (map->groups, g_strdup (group),
                             GINT_TO_POINTER (n + 1));
      continue;
    }
    eq = strchr (l, '=');
    if (eq) {
      const char *end = eq;
      while (end > l && g_ascii_isspace (end[-1]))
        end--;
      g_autofree char *key = g_strndup (l, (gsize)(end - l));
      if (!map->bad_line && key[0] == '\0') {
        map->bad_line = n + 1;
        map->bad_why = g_strdup_printf ("'%s' has no key name", l);
      } else if (!map->bad_line && !group) {
        map->bad_line = n + 1;
        map->bad_why
            = g_strdup_printf ("key '%s' comes before any [group] header", key);
      } else if (!map->bad_line && strchr (key, '[')) {
        /* GKeyFile would silently hide "key[locale]". */
        map->bad_line = n + 1;
        map->bad_why = g_strdup_printf (
            "[%s] %s: localized keys are not supported", group, key);
      } else if (group)
        g_hash_table_insert (map->keys, entry_name (group, key),
                             GINT_TO_POINTER (n + 1));
      continue;
    }
    if (!map->bad_line) {
      map->bad_line = n + 1;
      map->bad_why = g_strdup_printf (
          "'%s' is not a [group], a key = value line or a # comment", l);
    }
  }
}

static ConfigGroup *
config_group (CairnConfig *cfg, const char *name, const char *file, int line)
{
  ConfigGroup *g = g_hash_table_lookup (cfg->group_index, name);
  if (g)
    return g;
  g = g_new0 (ConfigGroup, 1);
  g->name = g_strdup (name);
  g->file = g_strdup (file);
  g->line = line;
  g->entries = g_ptr_array_new ();
  g_ptr_array_add (cfg->groups, g);
  g_hash_table_insert (cfg->group_index, g->name, g);
  return g;
}

static void
config_set (CairnConfig *cfg, ConfigGroup *g, const char *key, const char *raw,
            const char *file, int line)
{
  g_autofree char *name = entry_name (g->name, key);
  ConfigEntry *e = g_hash_table_lookup (cfg->entries, name);
  g_autofree char *value = g_strstrip (g_strdup (raw));

  if (!e) {
    e = g_new0 (ConfigEntry, 1);
    e->group = g_strdup (g->name);
    e->key = g_strdup (key);
    g_hash_table_insert (cfg->entries, g_steal_pointer (&name), e);
    g_ptr_array_add (g->entries, e);
  }
  g_free (e->file);
  e->file = g_strdup (file);
  e->line = line;
  if (e->value && is_append_key (g->name, key)) {
    char *joined = g_strconcat (e->value, ";", value, NULL);
    g_free (e->value);
    e->value = joined;
  } else {
    g_free (e->value);
    e->value = g_steal_pointer (&value);
  }
}

/* Merge one file's text into cfg; `file` names it in messages. */
static gboolean
config_add_text (CairnConfig *cfg, const char *file, const char *text,
                 GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  LineMap map = { 0 };
  g_auto (GStrv) groups = NULL;

  line_map_scan (&map, text);
  if (!g_key_file_load_from_data (kf, text, (gsize)-1, G_KEY_FILE_NONE,
                                  &local)) {
    g_autofree char *at = where (file, map.bad_line);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG, "%s: syntax error: %s",
                 at, map.bad_why ? map.bad_why : local->message);
    line_map_clear (&map);
    return FALSE;
  }
  if (map.bad_line) {
    /* Accepted by GKeyFile but would be misread (localized key). */
    g_autofree char *at = where (file, map.bad_line);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG, "%s: syntax error: %s",
                 at, map.bad_why);
    line_map_clear (&map);
    return FALSE;
  }

  groups = g_key_file_get_groups (kf, NULL);
  for (char **gn = groups; *gn; gn++) {
    g_auto (GStrv) keys = g_key_file_get_keys (kf, *gn, NULL, NULL);
    ConfigGroup *g = config_group (
        cfg, *gn, file,
        GPOINTER_TO_INT (g_hash_table_lookup (map.groups, *gn)));
    g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

    for (char **k = keys; k && *k; k++) {
      g_autofree char *raw = NULL;
      g_autofree char *name = NULL;

      /* GKeyFile lists a key repeated in one group twice; its last
       * value is the one it returns. */
      if (!g_hash_table_add (seen, *k))
        continue;
      raw = g_key_file_get_value (kf, *gn, *k, NULL);
      name = entry_name (*gn, *k);
      config_set (cfg, g, *k, raw ? raw : "", file,
                  GPOINTER_TO_INT (g_hash_table_lookup (map.keys, name)));
    }
  }
  line_map_clear (&map);
  return TRUE;
}

static gboolean
config_add_file (CairnConfig *cfg, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, NULL, &local)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: cannot read: %s",
                 path, local->message);
    return FALSE;
  }
  return config_add_text (cfg, path, text, error);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

CairnConfig *
cairn_config_load (const char *home, GError **error)
{
  g_autoptr (CairnConfig) cfg = config_new (home);
  g_autofree char *main_file = g_build_filename (cfg->home, "cairn.conf", NULL);
  g_autofree char *confd = g_build_filename (cfg->home, "conf.d", NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) dir = NULL;

  if (!g_file_test (main_file, G_FILE_TEST_EXISTS)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "%s: no such file: '%s' is not a Cairn node home; create "
                 "one with `cairn init --home %s`",
                 main_file, cfg->home, cfg->home);
    return NULL;
  }
  if (!config_add_file (cfg, main_file, error))
    return NULL;

  dir = g_dir_open (confd, 0, &local);
  if (!dir) {
    if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer (&cfg);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "%s: cannot list: %s",
                 confd, local->message);
    return NULL;
  }
  for (const char *n; (n = g_dir_read_name (dir));)
    /* Only *.conf; hidden files are editor leftovers. */
    if (n[0] != '.' && g_str_has_suffix (n, ".conf"))
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename (confd, names->pdata[i], NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
      continue;
    if (!config_add_file (cfg, path, error))
      return NULL;
  }
  return g_steal_pointer (&cfg);
}

CairnConfig *
cairn_config_load_data (const char *home, const char *origin, const char *text,
                        GError **error)
{
  g_autoptr (CairnConfig) cfg = config_new (home);
  if (!config_add_text (cfg, origin ? origin : "<config>", text ? text : "",
                        error))
    return NULL;
  return g_steal_pointer (&cfg);
}

const char *
cairn_config_home (const CairnConfig *cfg)
{
  return cfg->home;
}

char *
cairn_config_path (const CairnConfig *cfg, const char *path)
{
  if (!path)
    return NULL;
  if (g_path_is_absolute (path))
    return g_strdup (path);
  return g_build_filename (cfg->home, path, NULL);
}

/* ---- getters ---- */

/* Marks (group, key) as known and returns its entry, or NULL. */
static ConfigEntry *
config_lookup (CairnConfig *cfg, const char *group, const char *key)
{
  g_autofree char *name = entry_name (group, key);
  ConfigEntry *e = g_hash_table_lookup (cfg->entries, name);

  if (!g_hash_table_contains (cfg->read_groups, group))
    g_hash_table_add (cfg->read_groups, g_strdup (group));
  if (!g_hash_table_contains (cfg->read_keys, name))
    g_hash_table_add (cfg->read_keys, g_steal_pointer (&name));
  return e;
}

static gboolean G_GNUC_PRINTF (3, 4)
    bad_value (GError **error, const ConfigEntry *e, const char *fmt, ...)
{
  g_autofree char *at = where (e->file, e->line);
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "%s: [%s] %s: %s (got '%s')", at, e->group, e->key, why,
               e->value);
  return FALSE;
}

gboolean
cairn_config_string (CairnConfig *cfg, const char *group, const char *key,
                     const char *def, char **out, GError **error)
{
  ConfigEntry *e = config_lookup (cfg, group, key);
  *out = g_strdup (e ? e->value : def);
  return TRUE;
}

gboolean
cairn_config_int (CairnConfig *cfg, const char *group, const char *key,
                  int64_t def, int64_t min, int64_t max, int64_t *out,
                  GError **error)
{
  ConfigEntry *e = config_lookup (cfg, group, key);
  g_autoptr (GError) local = NULL;
  gint64 v;

  if (!e) {
    *out = def;
    return TRUE;
  }
  if (!g_ascii_string_to_signed (e->value, 10, min, max, &v, &local)) {
    if (g_error_matches (local, G_NUMBER_PARSER_ERROR,
                         G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
      return bad_value (
          error, e, "out of range: must be between %" PRId64 " and %" PRId64,
          min, max);
    return bad_value (error, e, "not an integer");
  }
  *out = v;
  return TRUE;
}

static const struct {
  const char *suffix;
  uint64_t factor;
} size_units[] = {
  { "", 1 },
  { "B", 1 },
  { "KiB", (uint64_t)1 << 10 },
  { "MiB", (uint64_t)1 << 20 },
  { "GiB", (uint64_t)1 << 30 },
  { "TiB", (uint64_t)1 << 40 },
};

gboolean
cairn_config_size (CairnConfig *cfg, const char *group, const char *key,
                   uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
                   GError **error)
{
  ConfigEntry *e = config_lookup (cfg, group, key);
  g_autofree char *digits = NULL;
  const char *p, *suffix;
  guint64 n, v;
  guint u;

  if (!e) {
    *out = def;
    return TRUE;
  }
  for (p = e->value; g_ascii_isdigit (*p); p++)
    ;
  digits = g_strndup (e->value, (gsize)(p - e->value));
  for (suffix = p; *suffix == ' ' || *suffix == '\t'; suffix++)
    ;
  for (u = 0; u < G_N_ELEMENTS (size_units); u++)
    if (strcmp (suffix, size_units[u].suffix) == 0)
      break;
  if (digits[0] == '\0' || u == G_N_ELEMENTS (size_units))
    return bad_value (error, e,
                      "not a size: write a whole number of bytes with an "
                      "optional B, KiB, MiB, GiB or TiB suffix");
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &n, NULL)
      || !g_uint64_checked_mul (&v, n, size_units[u].factor) || v < min
      || v > max)
    return bad_value (error, e,
                      "out of range: must be between %" PRIu64 " and %" PRIu64
                      " bytes",
                      min, max);
  *out = v;
  return TRUE;
}

gboolean
cairn_config_bool (CairnConfig *cfg, const char *group, const char *key,
                   gboolean def, gboolean *out, GError **error)
{
  ConfigEntry *e = config_lookup (cfg, group, key);

  if (!e)
    *out = def;
  else if (strcmp (e->value, "true") == 0)
    *out = TRUE;
  else if (strcmp (e->value, "false") == 0)
    *out = FALSE;
  else
    return bad_value (error, e, "not a boolean: write true or false");
  return TRUE;
}

gboolean
cairn_config_strv (CairnConfig *cfg, const char *group, const char *key,
                   char ***out, GError **error)
{
  ConfigEntry *e = config_lookup (cfg, group, key);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  if (e) {
    /* For append keys, value already joins every file's list. */
    g_auto (GStrv) items = g_strsplit (e->value, ";", -1);
    for (char **it = items; *it; it++) {
      g_strstrip (*it);
      if (**it)
        g_strv_builder_add (b, *it);
    }
  }
  *out = g_strv_builder_end (b);
  return TRUE;
}

gboolean
cairn_config_has_group (const CairnConfig *cfg, const char *group)
{
  return g_hash_table_contains (cfg->group_index, group);
}

/* ---- unknown groups and keys ---- */

/* "a, b, c" of the keys read in group (sorted), or NULL if none. */
static char *
read_keys_of (const CairnConfig *cfg, const char *group)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  g_autofree char *prefix = g_strconcat (group, "\x1f", NULL);
  GHashTableIter it;
  gpointer name;

  g_hash_table_iter_init (&it, cfg->read_keys);
  while (g_hash_table_iter_next (&it, &name, NULL))
    if (g_str_has_prefix (name, prefix))
      g_ptr_array_add (keys, (char *)name + strlen (prefix));
  if (keys->len == 0)
    return NULL;
  g_ptr_array_sort (keys, compare_names);
  g_ptr_array_add (keys, NULL);
  return g_strjoinv (", ", (char **)keys->pdata);
}

/* The plugin ids in [plugins] load (file stems for paths), without marking
 * anything as read. */
static GPtrArray *
plugin_ids_to_load (const CairnConfig *cfg)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *name = entry_name ("plugins", "load");
  ConfigEntry *e = g_hash_table_lookup (cfg->entries, name);
  g_auto (GStrv) items = e ? g_strsplit (e->value, ";", -1) : NULL;

  for (char **it = items; it && *it; it++) {
    char *id = g_path_get_basename (g_strstrip (*it));
    if (g_str_has_suffix (id, ".so"))
      id[strlen (id) - 3] = '\0';
    if (**it)
      g_ptr_array_add (ids, id);
    else
      g_free (id);
  }
  return ids;
}

static gboolean
str_in (GPtrArray *strs, const char *s)
{
  return g_ptr_array_find_with_equal_func (strs, s, g_str_equal, NULL);
}

gboolean
cairn_config_check_unknown (const CairnConfig *cfg, GError **error)
{
  g_autoptr (GPtrArray) load = plugin_ids_to_load (cfg);

  for (guint i = 0; i < cfg->groups->len; i++) {
    const ConfigGroup *g = cfg->groups->pdata[i];
    int gi = core_group_index (g->name);
    gboolean group_read = g_hash_table_contains (cfg->read_groups, g->name);
    const ConfigEntry *bad = NULL;

    for (guint k = 0; k < g->entries->len && !bad; k++) {
      const ConfigEntry *e = g->entries->pdata[k];
      g_autofree char *name = entry_name (e->group, e->key);
      if (gi >= 0 ? !is_core_key (gi, e->key)
                  : !g_hash_table_contains (cfg->read_keys, name))
        bad = e;
    }

    if (gi < 0 && !group_read && !str_in (load, g->name)) {
      /* Nobody claims this group: most likely a typo or a plugin that
       * is not enabled. Name every plugin id we know of. */
      g_autoptr (GPtrArray) known = g_ptr_array_new ();
      GHashTableIter it;
      gpointer id;
      g_autofree char *at = NULL;
      g_autofree char *loaded = NULL;

      for (guint l = 0; l < load->len; l++)
        g_ptr_array_add (known, load->pdata[l]);
      g_hash_table_iter_init (&it, cfg->read_groups);
      while (g_hash_table_iter_next (&it, &id, NULL))
        if (core_group_index (id) < 0 && !str_in (known, id))
          g_ptr_array_add (known, id);
      g_ptr_array_sort (known, compare_names);
      g_ptr_array_add (known, NULL);
      loaded = g_strjoinv (", ", (char **)known->pdata);
      at = bad ? where (bad->file, bad->line) : where (g->file, g->line);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "%s: [%s]%s%s: unknown group [%s] — no loaded plugin "
                   "has this id (loaded: %s); fix the group name or add "
                   "'%s' to [plugins] load",
                   at, g->name, bad ? " " : "", bad ? bad->key : "", g->name,
                   loaded[0] ? loaded : "none", g->name);
      return FALSE;
    }
    if (bad) {
      g_autofree char *at = where (bad->file, bad->line);
      g_autofree char *known = NULL;

      if (gi >= 0) {
        known = g_strjoinv (", ", (char **)core_groups[gi].keys);
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                     "%s: [%s] %s: unknown key (known keys of [%s]: "
                     "%s)",
                     at, g->name, bad->key, g->name, known);
      } else {
        known = read_keys_of (cfg, g->name);
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                     "%s: [%s] %s: unknown key: plugin '%s' does not "
                     "read it (it reads: %s)",
                     at, g->name, bad->key, g->name, known ? known : "no keys");
      }
      return FALSE;
    }
  }
  return TRUE;
}

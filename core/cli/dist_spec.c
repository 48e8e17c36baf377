/* cairn dist build: the vendor's spec (vendor.json), read strictly. Every
 * refusal names the spec file and the field; files are relative to the
 * spec's directory. See dist_private.h and README "Vendor distributions". */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <cairn/util.h>

#include "dist_private.h"
#include "plugin_host.h"

static GError *spec_error (const CairnDistSpec *spec, const char *field,
                           const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static GError *
spec_error (const CairnDistSpec *spec, const char *field, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return g_error_new (CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "%s: %s%s%s",
                      spec->path, field ? field : "", field ? ": " : "", msg);
}

static void
plugin_free (gpointer p)
{
  CairnDistPlugin *pl = p;
  g_free (pl->id);
  g_free (pl->file);
  g_free (pl->conf_file);
  g_free (pl->conf_res);
  g_free (pl->conf_name);
  g_free (pl->conf_dir);
  g_free (pl);
}

static void
snippet_free (gpointer p)
{
  CairnDistSnippet *s = p;
  g_free (s->file);
  g_free (s->name);
  g_free (s);
}

void
cairn_dist_spec_free (CairnDistSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->path);
  g_free (spec->name);
  g_free (spec->version);
  json_decref (spec->branding);
  g_ptr_array_unref (spec->plugins);
  g_ptr_array_unref (spec->snippets);
  json_decref (spec->genesis_template);
  g_array_unref (spec->trusted_keys);
  g_free (spec);
}

/* ---- field rules ---- */

/* Also the .deb's package name, its system user and the unit's name. */
static gboolean
name_valid (const char *s)
{
  size_t n = strlen (s);
  return n >= 2 && n <= 32 && g_ascii_islower (s[0]) && s[n - 1] != '-'
         && strspn (s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Also a Debian version: starts with a digit, no trailing '-'. */
static gboolean
version_valid (const char *s)
{
  size_t n = strlen (s);
  return n >= 1 && n <= 64 && g_ascii_isdigit (s[0]) && s[n - 1] != '-'
         && strspn (s, "abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~-")
                == n;
}

/* A snippet's name in conf.d/: [A-Za-z0-9._-], ends in .conf. */
static gboolean
snippet_name_valid (const char *s)
{
  size_t n = strlen (s);
  return n > 5 && n <= 64 && s[0] != '.' && g_str_has_suffix (s, ".conf")
         && strspn (s, "abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                == n;
}

static gboolean
branding_key_valid (const char *s)
{
  size_t n = strlen (s);
  return n >= 1 && n <= 32 && g_ascii_islower (s[0])
         && strspn (s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* One line of printable text (no control characters). */
static gboolean
text_valid (const char *s, size_t max)
{
  size_t n = strlen (s);
  if (n == 0 || n > max)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return FALSE;
  return TRUE;
}

/* A path of the spec, relative to its directory. */
static char *
spec_file (const CairnDistSpec *spec, const char *rel)
{
  if (g_path_is_absolute (rel))
    return g_strdup (rel);
  g_autofree char *dir = g_path_get_dirname (spec->path);
  return g_build_filename (dir, rel, NULL);
}

/* A regular file the spec names, resolved; NULL and an error naming field
 * when it is not there. */
static char *
spec_regular_file (const CairnDistSpec *spec, const json_t *value,
                   const char *field, GError **error)
{
  if (!json_is_string (value) || json_string_length (value) == 0) {
    g_propagate_error (error, spec_error (spec, field,
                                          "must be a file name (a "
                                          "string, relative to the "
                                          "spec's directory)"));
    return NULL;
  }
  g_autofree char *path = spec_file (spec, json_string_value (value));
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_propagate_error (error,
                       spec_error (spec, field, "%s: no such file", path));
    return NULL;
  }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_propagate_error (
        error, spec_error (spec, field, "%s: not a regular file", path));
    return NULL;
  }
  return g_steal_pointer (&path);
}

/* ---- snippets ---- */

/* The [plugins] keys a distribution sets itself (05-dist.conf): a vendor
 * snippet may not change them. */
static const char *const reserved_plugin_keys[]
    = { "path", "require_signed_plugins", "trusted_keys" };

static gboolean
check_snippet (const CairnDistSpec *spec, const char *field, const char *file,
               GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_file (kf, file, G_KEY_FILE_NONE, &local)) {
    g_propagate_error (error,
                       spec_error (spec, field, "%s: not a config snippet: %s",
                                   file, local->message));
    return FALSE;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (reserved_plugin_keys); i++)
    if (g_key_file_has_key (kf, "plugins", reserved_plugin_keys[i], NULL)) {
      g_propagate_error (
          error,
          spec_error (spec, field,
                      "%s sets [plugins] %s, which the distribution sets "
                      "itself in conf.d/" CAIRN_DIST_CONF_NAME
                      " (its own plugins only, signatures required, the "
                      "spec's trusted_keys); remove it",
                      file, reserved_plugin_keys[i]));
      return FALSE;
    }
  return TRUE;
}

/* The snippet name "NN-<id>.conf" of plugin id among names, or NULL. */
static const char *
snippet_for (char **names, const char *id)
{
  for (char **n = names; n && *n; n++) {
    size_t digits = strspn (*n, "0123456789");
    if (digits == 0 || (*n)[digits] != '-')
      continue;
    const char *rest = *n + digits + 1;
    size_t idlen = strlen (id);
    if (strncmp (rest, id, idlen) == 0 && g_str_equal (rest + idlen, ".conf"))
      return *n;
  }
  return NULL;
}

/* ---- plugins ---- */

/* <dir>/<id>.so or <dir>/<id>/<id>.so in the running cairn's search path,
 * the way the node looks. */
static char *
find_plugin (const char *id, char **tried)
{
  g_auto (GStrv) dirs = cairn_cli_default_plugin_path ();
  g_autoptr (GString) list = g_string_new (NULL);
  g_autofree char *so = g_strconcat (id, ".so", NULL);
  for (char **d = dirs; *d; d++) {
    g_autofree char *flat = g_build_filename (*d, so, NULL);
    if (g_file_test (flat, G_FILE_TEST_IS_REGULAR))
      return g_steal_pointer (&flat);
    g_autofree char *nested = g_build_filename (*d, id, so, NULL);
    if (g_file_test (nested, G_FILE_TEST_IS_REGULAR))
      return g_steal_pointer (&nested);
    g_string_append_printf (list, "%s%s", list->len ? ", " : "", *d);
  }
  *tried = g_strdup (list->len ? list->str : "(no directory)");
  return NULL;
}

/* The plugin's id from its descriptor (checked the way the node checks
 * it); NULL and an error naming field otherwise. */
static char *
plugin_file_id (const CairnDistSpec *spec, const char *field, const char *file,
                GError **error)
{
  CairnPluginDescriptor d;
  void *dl = NULL;
  g_autoptr (GError) local = NULL;
  if (!cairn_plugin_inspect_file (file, &d, &dl, &local)) {
    if (dl)
      dlclose (dl);
    g_propagate_error (error, spec_error (spec, field, "%s", local->message));
    return NULL;
  }
  char *id = g_strdup (d.id);
  dlclose (dl);
  return id;
}

static CairnDistPlugin *
read_plugin (const CairnDistSpec *spec, const CairnConfSource *src,
             const json_t *item, size_t index, char **conf_d, char **alts,
             GError **error)
{
  g_autofree char *field = g_strdup_printf ("plugins[%zu]", index);
  CairnDistPlugin *pl = g_new0 (CairnDistPlugin, 1);
  g_autoptr (GPtrArray) holder = g_ptr_array_new_with_free_func (plugin_free);
  g_ptr_array_add (holder, pl);
  const char *id = NULL;
  const json_t *conf = NULL;
  if (json_is_string (item)) {
    id = json_string_value (item);
  } else if (json_is_object (item)) {
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)item, key, value)
    {
      if (!g_str_equal (key, "id") && !g_str_equal (key, "file")
          && !g_str_equal (key, "conf")) {
        g_propagate_error (error,
                           spec_error (spec, field,
                                       "unknown field '%s' (a plugin is an "
                                       "id, or an object with \"id\" or "
                                       "\"file\", and \"conf\")",
                                       key));
        return NULL;
      }
    }
    const json_t *jid = json_object_get (item, "id");
    const json_t *jfile = json_object_get (item, "file");
    conf = json_object_get (item, "conf");
    if ((jid == NULL) == (jfile == NULL)) {
      g_propagate_error (error,
                         spec_error (spec, field,
                                     "give exactly one of \"id\" (a plugin of "
                                     "this cairn) and \"file\" (a vendor "
                                     "plugin's .so)"));
      return NULL;
    }
    if (jid && !json_is_string (jid)) {
      g_autofree char *f = g_strconcat (field, ".id", NULL);
      g_propagate_error (error, spec_error (spec, f, "must be a string"));
      return NULL;
    }
    id = json_string_value (jid);
    if (jfile) {
      g_autofree char *f = g_strconcat (field, ".file", NULL);
      pl->file = spec_regular_file (spec, jfile, f, error);
      if (pl->file == NULL)
        return NULL;
      pl->id = plugin_file_id (spec, f, pl->file, error);
      if (pl->id == NULL)
        return NULL;
    }
  } else {
    g_propagate_error (error,
                       spec_error (spec, field,
                                   "must be a plugin id (a string) or an "
                                   "object {\"file\": …, \"conf\": …}"));
    return NULL;
  }
  if (id != NULL) {
    if (!cairn_plugin_id_valid (id)) {
      g_propagate_error (error, spec_error (spec, field,
                                            "bad plugin id '%s' (1-32 of "
                                            "a-z 0-9 -)",
                                            id));
      return NULL;
    }
    g_autofree char *tried = NULL;
    pl->file = find_plugin (id, &tried);
    if (pl->file == NULL) {
      g_propagate_error (error,
                         spec_error (spec, field,
                                     "no plugin '%s' in this cairn's plugin "
                                     "search path (searched %s); give a "
                                     "vendor plugin as {\"file\": "
                                     "\"path/to/%s.so\", \"conf\": …}",
                                     id, tried, id));
      return NULL;
    }
    g_autofree char *found = plugin_file_id (spec, field, pl->file, error);
    if (found == NULL)
      return NULL;
    if (!g_str_equal (found, id)) {
      g_propagate_error (error, spec_error (spec, field,
                                            "%s holds plugin '%s', not '%s'",
                                            pl->file, found, id));
      return NULL;
    }
    pl->id = g_strdup (id);
  }
  /* Its snippet: the vendor's, or this cairn's (conf.d/, else
   * alternatives/). */
  if (conf != NULL) {
    g_autofree char *f = g_strconcat (field, ".conf", NULL);
    pl->conf_file = spec_regular_file (spec, conf, f, error);
    if (pl->conf_file == NULL || !check_snippet (spec, f, pl->conf_file, error))
      return NULL;
    pl->conf_name = g_path_get_basename (pl->conf_file);
    if (!snippet_name_valid (pl->conf_name)) {
      g_propagate_error (error,
                         spec_error (spec, f,
                                     "bad snippet name '%s' (it keeps its "
                                     "name in conf.d/: use A-Z a-z 0-9 . _ - "
                                     "and end in .conf, e.g. 70-%s.conf)",
                                     pl->conf_name, pl->id));
      return NULL;
    }
    pl->conf_dir = g_strdup ("conf.d");
  } else {
    const char *name = snippet_for (conf_d, pl->id);
    const char *dir = "conf.d";
    if (name == NULL) {
      name = snippet_for (alts, pl->id);
      dir = "alternatives";
    }
    if (name == NULL) {
      g_propagate_error (
          error, spec_error (spec, field,
                             "plugin '%s' has no config snippet in %s "
                             "(conf.d/ or alternatives/), so nothing "
                             "would load it; give one: {\"%s\": "
                             "\"%s\", \"conf\": \"NN-%s.conf\"}",
                             pl->id, cairn_conf_source_describe (src),
                             id ? "id" : "file", id ? id : pl->file, pl->id));
      return NULL;
    }
    pl->conf_name = g_strdup (name);
    pl->conf_res = g_strdup_printf ("%s/%s", dir, name);
    pl->conf_dir = g_strdup (dir);
  }
  return g_ptr_array_steal_index (holder, 0);
}

/* An alternative snippet ("10-store-git.conf") goes to conf.d/ when no
 * included plugin fills its slot ("10-") there, else to alternatives/ for
 * `cairn init --store|--blobstore`. */
static void
place_alternatives (CairnDistSpec *spec)
{
  for (guint i = 0; i < spec->plugins->len; i++) {
    CairnDistPlugin *alt = spec->plugins->pdata[i];
    if (!g_str_equal (alt->conf_dir, "alternatives"))
      continue;
    size_t slot = strspn (alt->conf_name, "0123456789") + 1;
    gboolean taken = FALSE;
    for (guint j = 0; j < spec->plugins->len; j++) {
      CairnDistPlugin *p = spec->plugins->pdata[j];
      taken |= g_str_equal (p->conf_dir, "conf.d")
               && strncmp (p->conf_name, alt->conf_name, slot) == 0;
    }
    if (!taken) {
      g_free (alt->conf_dir);
      alt->conf_dir = g_strdup ("conf.d");
    }
  }
}

static gboolean
read_plugins (CairnDistSpec *spec, const CairnConfSource *src,
              const json_t *list, GError **error)
{
  if (!json_is_array (list) || json_array_size (list) == 0) {
    g_propagate_error (error, spec_error (spec, "plugins",
                                          "must be a non-empty array of "
                                          "plugin ids or {\"file\", \"conf\"} "
                                          "objects"));
    return FALSE;
  }
  g_auto (GStrv) conf_d = cairn_conf_source_list (src, "conf.d", error);
  if (conf_d == NULL)
    return FALSE;
  g_auto (GStrv) alts = cairn_conf_source_list (src, "alternatives", error);
  if (alts == NULL)
    return FALSE;
  size_t i;
  json_t *item;
  json_array_foreach (list, i, item)
  {
    CairnDistPlugin *pl = read_plugin (spec, src, item, i, conf_d, alts, error);
    if (pl == NULL)
      return FALSE;
    for (guint j = 0; j < spec->plugins->len; j++) {
      CairnDistPlugin *other = spec->plugins->pdata[j];
      if (g_str_equal (other->id, pl->id)) {
        g_autofree char *f = g_strdup_printf ("plugins[%zu]", i);
        g_propagate_error (error, spec_error (spec, f,
                                              "plugin '%s' is already included "
                                              "(plugins[%u])",
                                              pl->id, j));
        plugin_free (pl);
        return FALSE;
      }
    }
    g_ptr_array_add (spec->plugins, pl);
  }
  place_alternatives (spec);
  return TRUE;
}

static gboolean
read_snippets (CairnDistSpec *spec, const json_t *list, GError **error)
{
  if (!json_is_array (list)) {
    g_propagate_error (
        error, spec_error (spec, "conf", "must be an array of snippet files"));
    return FALSE;
  }
  size_t i;
  json_t *item;
  json_array_foreach (list, i, item)
  {
    g_autofree char *field = g_strdup_printf ("conf[%zu]", i);
    g_autofree char *file = spec_regular_file (spec, item, field, error);
    if (file == NULL || !check_snippet (spec, field, file, error))
      return FALSE;
    g_autofree char *name = g_path_get_basename (file);
    if (!snippet_name_valid (name)) {
      g_propagate_error (error,
                         spec_error (spec, field,
                                     "bad snippet name '%s' (it keeps its "
                                     "name in conf.d/: use A-Z a-z 0-9 . _ - "
                                     "and end in .conf)",
                                     name));
      return FALSE;
    }
    CairnDistSnippet *s = g_new0 (CairnDistSnippet, 1);
    s->file = g_steal_pointer (&file);
    s->name = g_steal_pointer (&name);
    g_ptr_array_add (spec->snippets, s);
  }
  return TRUE;
}

/* Two files may not land on one name in etc/cairn/conf.d or alternatives. */
static gboolean
check_names (CairnDistSpec *spec, GError **error)
{
  g_autoptr (GHashTable) seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (seen, g_strdup ("conf.d/" CAIRN_DIST_CONF_NAME),
                       g_strdup ("the distribution's own settings"));
  for (guint i = 0; i < spec->plugins->len + spec->snippets->len; i++) {
    g_autofree char *key = NULL, *what = NULL;
    if (i < spec->plugins->len) {
      CairnDistPlugin *p = spec->plugins->pdata[i];
      key = g_strdup_printf ("%s/%s", p->conf_dir, p->conf_name);
      what = g_strdup_printf ("plugins[%u] (%s)", i, p->id);
    } else {
      CairnDistSnippet *s = spec->snippets->pdata[i - spec->plugins->len];
      key = g_strdup_printf ("conf.d/%s", s->name);
      what = g_strdup_printf ("conf[%u]", i - spec->plugins->len);
    }
    const char *other = g_hash_table_lookup (seen, key);
    if (other) {
      g_propagate_error (error, spec_error (spec, what,
                                            "its snippet would be "
                                            "etc/cairn/%s, like that of %s; "
                                            "rename one",
                                            key, other));
      return FALSE;
    }
    g_hash_table_insert (seen, g_steal_pointer (&key), g_steal_pointer (&what));
  }
  return TRUE;
}

static gboolean
read_branding (CairnDistSpec *spec, json_t *branding, GError **error)
{
  if (!json_is_object (branding)) {
    g_propagate_error (
        error, spec_error (spec, "branding",
                           "must be an object of strings, e.g. "
                           "{\"product\": \"Acme Chain\", \"vendor\": "
                           "\"Acme Ltd\", \"url\": …, \"support\": …}"));
    return FALSE;
  }
  const char *key;
  json_t *value;
  json_object_foreach (branding, key, value)
  {
    g_autofree char *field = g_strdup_printf ("branding.%s", key);
    if (!branding_key_valid (key)) {
      g_propagate_error (error, spec_error (spec, field,
                                            "bad key (1-32 of a-z 0-9 _, "
                                            "starting with a letter)"));
      return FALSE;
    }
    if (!json_is_string (value)
        || !text_valid (json_string_value (value), 256)) {
      g_propagate_error (error,
                         spec_error (spec, field,
                                     "must be a string of 1-256 characters "
                                     "without control characters"));
      return FALSE;
    }
  }
  if (json_object_get (branding, "product") == NULL) {
    g_propagate_error (error, spec_error (spec, "branding.product",
                                          "missing: the product's name, "
                                          "shown by `cairn version`"));
    return FALSE;
  }
  spec->branding = json_incref (branding);
  return TRUE;
}

static gboolean
read_trusted_keys (CairnDistSpec *spec, const json_t *list, GError **error)
{
  if (!json_is_array (list)) {
    g_propagate_error (error, spec_error (spec, "trusted_keys",
                                          "must be an array of public keys "
                                          "(PEM files or 64 hex digits)"));
    return FALSE;
  }
  size_t i;
  json_t *item;
  json_array_foreach (list, i, item)
  {
    g_autofree char *field = g_strdup_printf ("trusted_keys[%zu]", i);
    const char *s = json_string_value (item);
    uint8_t pk[32];
    if (s && strlen (s) == 64 && strspn (s, "0123456789abcdef") == 64) {
      cairn_hex_decode (s, pk, 32);
    } else {
      g_autofree char *file = spec_regular_file (spec, item, field, error);
      if (file == NULL)
        return FALSE;
      g_autoptr (GError) local = NULL;
      if (!cairn_pubkey_load (file, pk, &local)) {
        g_propagate_error (error, spec_error (spec, field,
                                              "%s (a PEM public key, as "
                                              "`openssl pkey -pubout` "
                                              "writes, or 64 hex digits)",
                                              local->message));
        return FALSE;
      }
    }
    gboolean dup = FALSE;
    for (guint k = 0; k < spec->trusted_keys->len; k++)
      dup |= memcmp (&g_array_index (spec->trusted_keys, uint8_t, k * 32), pk,
                     32)
             == 0;
    if (!dup)
      g_array_append_vals (spec->trusted_keys, pk, 1);
  }
  return TRUE;
}

static const char *const spec_fields[]
    = { "name", "version",          "branding",     "plugins",
        "conf", "genesis_template", "trusted_keys", "source_date_epoch",
        NULL };

CairnDistSpec *
cairn_dist_spec_load (const char *path, const CairnConfSource *src,
                      GError **error)
{
  g_autoptr (CairnDistSpec) spec = g_new0 (CairnDistSpec, 1);
  spec->path = g_strdup (path);
  spec->plugins = g_ptr_array_new_with_free_func (plugin_free);
  spec->snippets = g_ptr_array_new_with_free_func (snippet_free);
  spec->trusted_keys = g_array_new (FALSE, FALSE, 32);

  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local)) {
    g_set_error (error, CAIRN_CLI_ERROR,
                 g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? CAIRN_EXIT_NOT_FOUND
                     : CAIRN_EXIT_FAILED,
                 "cannot read the spec: %s", local->message);
    return NULL;
  }
  g_autoptr (json_t) doc = cairn_cjson_parse (text, len, FALSE, &local);
  if (doc == NULL) {
    g_propagate_error (
        error, spec_error (spec, NULL, "not valid JSON: %s", local->message));
    return NULL;
  }
  if (!json_is_object (doc)) {
    g_propagate_error (error,
                       spec_error (spec, NULL, "a spec is a JSON object"));
    return NULL;
  }
  const char *key;
  json_t *value;
  json_object_foreach (doc, key, value)
  {
    if (!g_strv_contains (spec_fields, key)) {
      g_autofree char *known = g_strjoinv (", ", (char **)spec_fields);
      g_propagate_error (error, spec_error (spec, NULL,
                                            "unknown field '%s' (a spec "
                                            "holds %s)",
                                            key, known));
      return NULL;
    }
  }
  for (size_t i = 0; i < 4; i++)
    if (json_object_get (doc, spec_fields[i]) == NULL) {
      g_propagate_error (
          error, spec_error (spec, spec_fields[i], "missing (required)"));
      return NULL;
    }

  const char *name = json_string_value (json_object_get (doc, "name"));
  if (name == NULL || !name_valid (name)) {
    g_autofree char *shown
        = name ? g_strdup_printf (" (got '%s')", name) : g_strdup ("");
    g_propagate_error (error,
                       spec_error (spec, "name",
                                   "must be 2-32 of a-z 0-9 -, starting with "
                                   "a letter and not ending in '-'%s: it "
                                   "names the tarball, the .deb package, its "
                                   "user and its systemd unit",
                                   shown));
    return NULL;
  }
  spec->name = g_strdup (name);
  const char *version = json_string_value (json_object_get (doc, "version"));
  if (version == NULL || !version_valid (version)) {
    g_autofree char *shown
        = version ? g_strdup_printf (" (got '%s')", version) : g_strdup ("");
    g_propagate_error (error,
                       spec_error (spec, "version",
                                   "must be 1-64 of A-Z a-z 0-9 . + ~ -, "
                                   "starting with a digit (a Debian "
                                   "version)%s",
                                   shown));
    return NULL;
  }
  spec->version = g_strdup (version);
  if (!read_branding (spec, json_object_get (doc, "branding"), error)
      || !read_plugins (spec, src, json_object_get (doc, "plugins"), error))
    return NULL;
  if ((value = json_object_get (doc, "conf")) != NULL
      && !read_snippets (spec, value, error))
    return NULL;
  if (!check_names (spec, error))
    return NULL;
  if ((value = json_object_get (doc, "trusted_keys")) != NULL
      && !read_trusted_keys (spec, value, error))
    return NULL;
  if ((value = json_object_get (doc, "genesis_template")) != NULL) {
    g_autofree char *file
        = spec_regular_file (spec, value, "genesis_template", error);
    if (file == NULL)
      return NULL;
    spec->genesis_template = cairn_cli_genesis_template_load (file, &local);
    if (spec->genesis_template == NULL) {
      g_propagate_error (
          error, spec_error (spec, "genesis_template", "%s", local->message));
      return NULL;
    }
  }
  if ((value = json_object_get (doc, "source_date_epoch")) != NULL) {
    if (!json_is_integer (value) || json_integer_value (value) < 0
        || json_integer_value (value) > CAIRN_DIST_MAX_EPOCH) {
      g_propagate_error (error, spec_error (spec, "source_date_epoch",
                                            "must be an integer, seconds since "
                                            "1970, from 0 to %" G_GINT64_FORMAT,
                                            CAIRN_DIST_MAX_EPOCH));
      return NULL;
    }
    spec->has_epoch = TRUE;
    spec->epoch = json_integer_value (value);
  }
  return g_steal_pointer (&spec);
}

gboolean
cairn_dist_epoch (const CairnDistSpec *spec, gint64 *epoch, GError **error)
{
  const char *env = g_getenv ("SOURCE_DATE_EPOCH");
  if (env != NULL && *env != '\0') {
    gint64 v;
    g_autoptr (GError) local = NULL;
    if (!g_ascii_string_to_signed (env, 10, 0, CAIRN_DIST_MAX_EPOCH, &v,
                                   &local)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "SOURCE_DATE_EPOCH='%s': %s (seconds since 1970)", env,
                   local->message);
      return FALSE;
    }
    *epoch = v;
    return TRUE;
  }
  *epoch = spec->has_epoch ? spec->epoch : 0;
  return TRUE;
}

/* A fake Cairn host for plugin tests: see fake_host.h. */
#include "fake_host.h"

#include <string.h>

/* CairnPlugin is opaque in the SDK: the handle given to the plugin is a
 * FakePlugin cast to it. */
struct FakePlugin {
  const CairnPluginDescriptor *desc;
  char *data_dir;
  GHashTable *config;    /* key -> value */
  GHashTable *read_keys; /* keys the plugin asked for */
  void *data;
  gboolean in_init;
  gboolean initialised;
  gboolean have_storage;
  CairnStorageIface storage;
  GPtrArray *log;
};

static FakePlugin *
fp_of (CairnPlugin *self)
{
  g_assert_nonnull (self);
  return (FakePlugin *)self;
}

static const char *
fake_plugin_id (CairnPlugin *self)
{
  return fp_of (self)->desc->id;
}

static void
fake_set_data (CairnPlugin *self, void *data)
{
  fp_of (self)->data = data;
}

static void *
fake_get_data (CairnPlugin *self)
{
  return fp_of (self)->data;
}

static const char *
level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK) {
  case G_LOG_LEVEL_ERROR:
    return "error";
  case G_LOG_LEVEL_CRITICAL:
    return "critical";
  case G_LOG_LEVEL_WARNING:
    return "warning";
  case G_LOG_LEVEL_MESSAGE:
    return "message";
  case G_LOG_LEVEL_INFO:
    return "info";
  default:
    return "debug";
  }
}

static void
fake_logv (CairnPlugin *self, GLogLevelFlags level, const char *fmt, va_list ap)
{
  FakePlugin *fp = fp_of (self);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  char *line = g_strdup_printf ("%s: %s", level_name (level), msg);
  g_test_message ("[%s] %s", fp->desc->id, line);
  g_ptr_array_add (fp->log, line);
}

/* The value of key, marking it read; NULL when unset. */
static const char *
config_lookup (FakePlugin *fp, const char *key)
{
  g_hash_table_add (fp->read_keys, g_strdup (key));
  return g_hash_table_lookup (fp->config, key);
}

static gboolean
config_fail (FakePlugin *fp, const char *key, const char *why,
             const char *value, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "fake.conf: [%s] %s: %s (got '%s')", fp->desc->id, key, why,
               value);
  return FALSE;
}

static gboolean
fake_config_string (CairnPlugin *self, const char *key, const char *def,
                    char **out, GError **error)
{
  const char *v = config_lookup (fp_of (self), key);
  *out = g_strdup (v != NULL ? v : def);
  return TRUE;
}

static gboolean
fake_config_int (CairnPlugin *self, const char *key, int64_t def, int64_t min,
                 int64_t max, int64_t *out, GError **error)
{
  FakePlugin *fp = fp_of (self);
  const char *v = config_lookup (fp, key);
  gint64 n;
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  g_autofree char *trimmed = g_strstrip (g_strdup (v));
  if (!g_ascii_string_to_signed (trimmed, 10, min, max, &n, NULL))
    return config_fail (fp, key, "not an integer in range", v, error);
  *out = n;
  return TRUE;
}

static gboolean
fake_config_bool (CairnPlugin *self, const char *key, gboolean def,
                  gboolean *out, GError **error)
{
  FakePlugin *fp = fp_of (self);
  const char *v = config_lookup (fp, key);
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  g_autofree char *trimmed = g_strstrip (g_strdup (v));
  if (strcmp (trimmed, "true") == 0 || strcmp (trimmed, "1") == 0)
    *out = TRUE;
  else if (strcmp (trimmed, "false") == 0 || strcmp (trimmed, "0") == 0)
    *out = FALSE;
  else
    return config_fail (fp, key, "not a boolean (true or false)", v, error);
  return TRUE;
}

static gboolean
fake_config_strv (CairnPlugin *self, const char *key, char ***out,
                  GError **error)
{
  const char *v = config_lookup (fp_of (self), key);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (v != NULL) {
    g_auto (GStrv) parts = g_strsplit (v, ";", -1);
    for (char **p = parts; *p != NULL; p++) {
      g_strstrip (*p);
      if (**p != '\0')
        g_strv_builder_add (b, *p);
    }
  }
  *out = g_strv_builder_end (b);
  return TRUE;
}

static const char *
fake_data_dir (CairnPlugin *self)
{
  FakePlugin *fp = fp_of (self);
  g_assert_cmpint (g_mkdir_with_parents (fp->data_dir, 0700), ==, 0);
  return fp->data_dir;
}

static gboolean
fake_register_storage (CairnPlugin *self, const CairnStorageIface *iface,
                       size_t size, GError **error)
{
  FakePlugin *fp = fp_of (self);
  const char *missing = NULL;

  if (!fp->in_init) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "register_storage called outside init");
    return FALSE;
  }
  if (fp->have_storage) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "plugin '%s' registered a storage interface twice",
                 fp->desc->id);
    return FALSE;
  }
  if (iface == NULL
      || size < offsetof (CairnStorageIface, private_iter)
                    + sizeof iface->private_iter
      || size > sizeof (CairnStorageIface)
      || iface->iface_version != CAIRN_STORAGE_IFACE_VERSION) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s': storage interface of size %zu, version %u; "
                 "this host knows size %zu, version %u",
                 fp->desc->id, size, iface ? iface->iface_version : 0,
                 sizeof (CairnStorageIface), CAIRN_STORAGE_IFACE_VERSION);
    return FALSE;
  }
#define REQUIRE(field)                                                         \
  if (missing == NULL && iface->field == NULL)                                 \
  missing = #field
  REQUIRE (open);
  REQUIRE (close);
  REQUIRE (head);
  REQUIRE (commit);
  REQUIRE (block_get);
  REQUIRE (block_find);
  REQUIRE (tx_get);
  REQUIRE (state_get);
  REQUIRE (state_iter);
  REQUIRE (private_get);
  REQUIRE (private_iter);
#undef REQUIRE
  if (missing != NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s': storage interface lacks required callback %s",
                 fp->desc->id, missing);
    return FALSE;
  }
  memcpy (&fp->storage, iface, size);
  fp->have_storage = TRUE;
  return TRUE;
}

static const CairnHost fake_host = {
  .size = sizeof (CairnHost),
  .abi_major = CAIRN_ABI_MAJOR,
  .abi_minor = CAIRN_ABI_MINOR,
  .plugin_id = fake_plugin_id,
  .set_data = fake_set_data,
  .get_data = fake_get_data,
  .logv = fake_logv,
  .config_string = fake_config_string,
  .config_int = fake_config_int,
  .config_bool = fake_config_bool,
  .config_strv = fake_config_strv,
  .data_dir = fake_data_dir,
  .register_storage = fake_register_storage,
};

const CairnHost *
fake_host_table (void)
{
  return &fake_host;
}

FakePlugin *
fake_plugin_new (CairnPluginEntry entry, const char *data_dir)
{
  FakePlugin *fp = g_new0 (FakePlugin, 1);
  fp->desc = entry ();
  g_assert_nonnull (fp->desc);
  g_assert_cmpuint (fp->desc->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_nonnull (fp->desc->init);
  fp->data_dir = g_strdup (data_dir);
  fp->config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fp->read_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fp->log = g_ptr_array_new_with_free_func (g_free);
  return fp;
}

void
fake_plugin_free (FakePlugin *fp)
{
  if (fp == NULL)
    return;
  if (fp->initialised && fp->desc->fini != NULL)
    fp->desc->fini ((CairnPlugin *)fp);
  g_free (fp->data_dir);
  g_hash_table_unref (fp->config);
  g_hash_table_unref (fp->read_keys);
  g_ptr_array_unref (fp->log);
  g_free (fp);
}

void
fake_plugin_set_config (FakePlugin *fp, const char *key, const char *value)
{
  if (value == NULL)
    g_hash_table_remove (fp->config, key);
  else
    g_hash_table_insert (fp->config, g_strdup (key), g_strdup (value));
}

gboolean
fake_plugin_init (FakePlugin *fp, GError **error)
{
  g_assert_false (fp->initialised);
  fp->in_init = TRUE;
  gboolean ok = fp->desc->init ((CairnPlugin *)fp, &fake_host, error);
  fp->in_init = FALSE;
  fp->initialised = ok;
  if (!ok)
    fp->have_storage = FALSE; /* a failed init registers nothing */
  g_assert_true (ok || error == NULL || *error != NULL);
  return ok;
}

CairnPlugin *
fake_plugin_handle (FakePlugin *fp)
{
  return (CairnPlugin *)fp;
}

const CairnPluginDescriptor *
fake_plugin_descriptor (FakePlugin *fp)
{
  return fp->desc;
}

const CairnStorageIface *
fake_plugin_storage (FakePlugin *fp)
{
  return fp->have_storage ? &fp->storage : NULL;
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

char **
fake_plugin_unread_config (FakePlugin *fp)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, fp->config);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (fp->read_keys, key))
      g_ptr_array_add (keys, g_strdup (key));
  g_ptr_array_sort (keys, cmp_str_ptr);
  g_ptr_array_add (keys, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&keys), FALSE);
}

const GPtrArray *
fake_plugin_log (FakePlugin *fp)
{
  return fp->log;
}

gboolean
fake_plugin_log_contains (FakePlugin *fp, const char *needle)
{
  for (guint i = 0; i < fp->log->len; i++)
    if (strstr (fp->log->pdata[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

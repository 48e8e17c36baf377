/* A fake Cairn host for driving one plugin: see <cairn/testing/fake_host.h>.
 */
#include "testing_private.h"

#include <errno.h>
#include <string.h>

static CairnTestPlugin *
tp_of (CairnPlugin *self)
{
  g_assert_nonnull (self);
  return (CairnTestPlugin *)self;
}

static const char *
fake_plugin_id (CairnPlugin *self)
{
  return tp_of (self)->desc->id;
}

static void
fake_set_data (CairnPlugin *self, void *data)
{
  tp_of (self)->data = data;
}

static void *
fake_get_data (CairnPlugin *self)
{
  return tp_of (self)->data;
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
  CairnTestPlugin *tp = tp_of (self);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  char *line = g_strdup_printf ("%s: %s", level_name (level), msg);
  g_test_message ("[%s] %s", tp->desc->id, line);
  g_mutex_lock (&tp->log_lock);
  g_ptr_array_add (tp->log, line);
  g_mutex_unlock (&tp->log_lock);
}

/* The value of key, marking it read; NULL when unset. */
static const char *
config_lookup (CairnTestPlugin *tp, const char *key)
{
  g_hash_table_add (tp->read_keys, g_strdup (key));
  return g_hash_table_lookup (tp->config, key);
}

static gboolean
config_fail (CairnTestPlugin *tp, const char *key, const char *why,
             const char *value, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "fake.conf: [%s] %s: %s (got '%s')", tp->desc->id, key, why,
               value);
  return FALSE;
}

static gboolean
fake_config_string (CairnPlugin *self, const char *key, const char *def,
                    char **out, GError **error)
{
  const char *v = config_lookup (tp_of (self), key);
  *out = g_strdup (v != NULL ? v : def);
  return TRUE;
}

static gboolean
fake_config_int (CairnPlugin *self, const char *key, int64_t def, int64_t min,
                 int64_t max, int64_t *out, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  const char *v = config_lookup (tp, key);
  gint64 n;
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  g_autofree char *trimmed = g_strstrip (g_strdup (v));
  if (!g_ascii_string_to_signed (trimmed, 10, min, max, &n, NULL))
    return config_fail (tp, key, "not an integer in range", v, error);
  *out = n;
  return TRUE;
}

static gboolean
fake_config_bool (CairnPlugin *self, const char *key, gboolean def,
                  gboolean *out, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  const char *v = config_lookup (tp, key);
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
    return config_fail (tp, key, "not a boolean (true or false)", v, error);
  return TRUE;
}

static gboolean
fake_config_strv (CairnPlugin *self, const char *key, char ***out,
                  GError **error)
{
  const char *v = config_lookup (tp_of (self), key);
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
  CairnTestPlugin *tp = tp_of (self);
  if (g_mkdir_with_parents (tp->data_dir, 0700) != 0)
    g_error ("fake host: cannot create the data dir %s of plugin '%s': %s",
             tp->data_dir, tp->desc->id, g_strerror (errno));
  return tp->data_dir;
}

/* Only during init, only once per kind. */
static gboolean
check_registering (CairnTestPlugin *tp, const char *what, gboolean have,
                   GError **error)
{
  if (!tp->in_init) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "plugin '%s': register_%s called outside init", tp->desc->id,
                 what);
    return FALSE;
  }
  if (have) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "plugin '%s' registered a %s interface twice", tp->desc->id,
                 what);
    return FALSE;
  }
  return TRUE;
}

/* Copy an interface struct the plugin built with its own sizeof, as the
 * node does: refuse a larger one or an unknown iface_version. */
static gboolean
copy_iface (CairnTestPlugin *tp, const char *what, void *dst, size_t ours,
            const void *src, size_t theirs, uint32_t max_version,
            GError **error)
{
  if (src == NULL || theirs < sizeof (uint32_t)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s': %s interface missing or too small (%zu bytes)",
                 tp->desc->id, what, theirs);
    return FALSE;
  }
  if (theirs > ours) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s': %s interface is %zu bytes but this SDK knows "
                 "%zu; the plugin was built for a newer SDK",
                 tp->desc->id, what, theirs, ours);
    return FALSE;
  }
  uint32_t v = *(const uint32_t *)src;
  if (v == 0 || v > max_version) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s': %s iface_version %u, this SDK supports 1..%u",
                 tp->desc->id, what, v, max_version);
    return FALSE;
  }
  memset (dst, 0, ours);
  memcpy (dst, src, theirs);
  return TRUE;
}

static gboolean
missing_callback (CairnTestPlugin *tp, const char *what, const char *cb,
                  GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
               "plugin '%s': %s interface lacks the required callback %s",
               tp->desc->id, what, cb);
  return FALSE;
}

static gboolean
fake_register_storage (CairnPlugin *self, const CairnStorageIface *iface,
                       size_t size, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnStorageIface s;

  if (!check_registering (tp, "storage", tp->have_storage, error)
      || !copy_iface (tp, "storage", &s, sizeof s, iface, size,
                      CAIRN_STORAGE_IFACE_VERSION, error))
    return FALSE;
  static const char *const names[]
      = { "open",       "close",       "head",        "commit",
          "block_get",  "block_find",  "tx_get",      "state_get",
          "state_iter", "private_get", "private_iter" };
  void *cbs[] = { s.open,       s.close,       s.head,        s.commit,
                  s.block_get,  s.block_find,  s.tx_get,      s.state_get,
                  s.state_iter, s.private_get, s.private_iter };
  for (guint i = 0; i < G_N_ELEMENTS (cbs); i++)
    if (cbs[i] == NULL)
      return missing_callback (tp, "storage", names[i], error);
  tp->storage = s;
  tp->have_storage = TRUE;
  return TRUE;
}

static gboolean
fake_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                         size_t size, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnBlobstoreIface b;

  if (!check_registering (tp, "blobstore", tp->have_blobstore, error)
      || !copy_iface (tp, "blobstore", &b, sizeof b, iface, size,
                      CAIRN_BLOBSTORE_IFACE_VERSION, error))
    return FALSE;
  if (b.put == NULL)
    return missing_callback (tp, "blobstore", "put", error);
  if (b.get == NULL)
    return missing_callback (tp, "blobstore", "get", error);
  if (b.stat == NULL)
    return missing_callback (tp, "blobstore", "stat", error);
  tp->blobstore = b;
  tp->have_blobstore = TRUE;
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
  .register_blobstore = fake_register_blobstore,
};

const CairnHost *
cairn_test_host_table (void)
{
  return &fake_host;
}

const CairnHost *
cairn_test__fake_table (void)
{
  return &fake_host;
}

CairnTestPlugin *
cairn_test_plugin_new (CairnPluginEntry entry, const char *data_dir)
{
  g_assert_nonnull (entry);
  g_assert_nonnull (data_dir);
  CairnTestPlugin *tp = g_new0 (CairnTestPlugin, 1);
  tp->desc = entry ();
  g_assert_nonnull (tp->desc);
  g_assert_cmphex (tp->desc->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_nonnull (tp->desc->id);
  g_assert_nonnull (tp->desc->init);
  tp->data_dir = g_strdup (data_dir);
  tp->table = &fake_host;
  tp->config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  tp->read_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&tp->log_lock);
  tp->log = g_ptr_array_new_with_free_func (g_free);
  return tp;
}

void
cairn_test_plugin_free (CairnTestPlugin *tp)
{
  if (tp == NULL)
    return;
  if (tp->initialised && tp->desc->fini != NULL)
    tp->desc->fini ((CairnPlugin *)tp);
  g_free (tp->data_dir);
  g_hash_table_unref (tp->config);
  g_hash_table_unref (tp->read_keys);
  g_ptr_array_unref (tp->log);
  g_mutex_clear (&tp->log_lock);
  g_free (tp->own_desc);
  g_free (tp->own_id);
  g_free (tp);
}

void
cairn_test_plugin_set_config (CairnTestPlugin *tp, const char *key,
                              const char *value)
{
  g_assert_nonnull (key);
  if (value == NULL)
    g_hash_table_remove (tp->config, key);
  else
    g_hash_table_insert (tp->config, g_strdup (key), g_strdup (value));
}

void
cairn_test_plugin_set_config_list (CairnTestPlugin *tp,
                                   const char *const *config)
{
  for (; config != NULL && config[0] != NULL; config += 2)
    cairn_test_plugin_set_config (tp, config[0], config[1]);
}

gboolean
cairn_test_plugin_init (CairnTestPlugin *tp, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (tp->init_called)
    g_error ("cairn_test_plugin_init: plugin '%s' was initialised already",
             tp->desc->id);
  tp->init_called = TRUE;
  tp->in_init = TRUE;
  gboolean ok = tp->desc->init ((CairnPlugin *)tp, tp->table, &local);
  tp->in_init = FALSE;
  tp->initialised = ok;
  if (!ok) {
    /* A failed init registers nothing. */
    tp->have_storage = FALSE;
    tp->have_blobstore = FALSE;
    if (tp->host != NULL)
      cairn_test__mock_forget (tp->host, tp);
    if (local == NULL)
      g_error ("plugin '%s': init returned FALSE without setting an error",
               tp->desc->id);
    g_propagate_error (error, g_steal_pointer (&local));
  } else if (local != NULL) {
    g_error ("plugin '%s': init succeeded but set an error: %s", tp->desc->id,
             local->message);
  }
  return ok;
}

CairnPlugin *
cairn_test_plugin_self (CairnTestPlugin *tp)
{
  return (CairnPlugin *)tp;
}

const CairnPluginDescriptor *
cairn_test_plugin_descriptor (CairnTestPlugin *tp)
{
  return tp->desc;
}

const CairnStorageIface *
cairn_test_plugin_storage (CairnTestPlugin *tp)
{
  return tp->have_storage ? &tp->storage : NULL;
}

const CairnBlobstoreIface *
cairn_test_plugin_blobstore (CairnTestPlugin *tp)
{
  return tp->have_blobstore ? &tp->blobstore : NULL;
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

char **
cairn_test_plugin_unread_config (CairnTestPlugin *tp)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, tp->config);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (tp->read_keys, key))
      g_ptr_array_add (keys, g_strdup (key));
  g_ptr_array_sort (keys, cmp_str_ptr);
  g_ptr_array_add (keys, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&keys), FALSE);
}

gboolean
cairn_test_plugin_check_config_read (CairnTestPlugin *tp, GError **error)
{
  g_auto (GStrv) unread = cairn_test_plugin_unread_config (tp);
  if (unread[0] == NULL)
    return TRUE;
  g_autofree char *list = g_strjoinv (", ", unread);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "[%s] %s: unknown key%s: plugin '%s' does not read %s during "
               "init (a node would refuse to start)",
               tp->desc->id, list, unread[1] != NULL ? "s" : "", tp->desc->id,
               unread[1] != NULL ? "them" : "it");
  return FALSE;
}

const GPtrArray *
cairn_test_plugin_log (CairnTestPlugin *tp)
{
  return tp->log;
}

gboolean
cairn_test_plugin_log_contains (CairnTestPlugin *tp, const char *needle)
{
  gboolean found = FALSE;
  g_mutex_lock (&tp->log_lock);
  for (guint i = 0; i < tp->log->len && !found; i++)
    found = strstr (tp->log->pdata[i], needle) != NULL;
  g_mutex_unlock (&tp->log_lock);
  return found;
}

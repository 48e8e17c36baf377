/* The mock host: plugins, their registrations and the host table (see
 * <cairn/testing/mock_host.h>). State, execution, clock, routes, bank,
 * network and crypto live in the other mock_*.c files. */
#include <string.h>

#include "cairn/testing/util.h"
#include "mock_private.h"

#define DEFAULT_TIME_MS INT64_C (1767225600000) /* 2026-01-01T00:00:00Z */

CairnTestHost *
cairn_test__host_of (CairnPlugin *self)
{
  g_assert_nonnull (self);
  CairnTestHost *h = ((CairnTestPlugin *)self)->host;
  if (h == NULL)
    g_error ("plugin '%s' called a mock host function but runs on the fake "
             "host (cairn_test_plugin_new): add it with cairn_test_host_add",
             ((CairnTestPlugin *)self)->desc->id);
  return h;
}

static CairnTestPlugin *
tp_of (CairnPlugin *self)
{
  g_assert_nonnull (self);
  return (CairnTestPlugin *)self;
}

gboolean
cairn_test__registering (CairnTestPlugin *tp, const char *what, GError **error)
{
  if (!tp->in_init)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: %s must be registered during init",
                       tp->desc->id, what);
  return TRUE;
}

gboolean
cairn_test__name_chars_valid (const char *s)
{
  for (; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '-'
          || *s == '.'))
      return FALSE;
  return TRUE;
}

/* As the node: copy the plugin's struct into a zeroed one of our size,
 * refuse a larger one or an unknown iface_version. */
static gboolean
copy_iface (CairnTestPlugin *tp, const char *what, void *dst, size_t ours,
            const void *src, size_t theirs, uint32_t max_version,
            GError **error)
{
  if (src == NULL || theirs < sizeof (uint32_t))
    return cairn_fail (error, CAIRN_ERROR_ABI,
                       "plugin %s: %s interface missing or too small (%zu "
                       "bytes)",
                       tp->desc->id, what, theirs);
  if (theirs > ours)
    return cairn_fail (error, CAIRN_ERROR_ABI,
                       "plugin %s: %s interface is %zu bytes but this SDK "
                       "knows %zu; the plugin was built for a newer SDK",
                       tp->desc->id, what, theirs, ours);
  uint32_t v = *(const uint32_t *)src;
  if (v == 0 || v > max_version)
    return cairn_fail (error, CAIRN_ERROR_ABI,
                       "plugin %s: %s iface_version %u, this SDK supports "
                       "1..%u",
                       tp->desc->id, what, v, max_version);
  memset (dst, 0, ours);
  memcpy (dst, src, theirs);
  return TRUE;
}

/* ---- registration ---- */

static gboolean
m_register_tx_type (CairnPlugin *self, const char *type,
                    const CairnTxHandler *handler, size_t size, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnTestHost *h = cairn_test__host_of (self);
  if (!cairn_test__registering (tp, "tx types", error))
    return FALSE;
  g_autofree char *prefix = g_strconcat (tp->desc->id, ".", NULL);
  if (type == NULL || !g_str_has_prefix (type, prefix)
      || strlen (type) == strlen (prefix) || strlen (type) > 64
      || !cairn_test__name_chars_valid (type))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: tx type '%s' must be '%s<name>' with "
                       "[a-z0-9_.-]",
                       tp->desc->id, type ? type : "(null)", prefix);
  MockTxType t = { .tp = tp };
  if (!copy_iface (tp, "tx handler", &t.handler, sizeof t.handler, handler,
                   size, CAIRN_TX_HANDLER_VERSION, error))
    return FALSE;
  if (t.handler.apply == NULL)
    return cairn_fail (error, CAIRN_ERROR_ABI,
                       "plugin %s: tx handler interface lacks the required "
                       "callback apply",
                       tp->desc->id);
  if (g_hash_table_contains (h->tx_types, type))
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "plugin %s: tx type %s is already registered",
                       tp->desc->id, type);
  g_hash_table_insert (h->tx_types, g_strdup (type), g_memdup2 (&t, sizeof t));
  return TRUE;
}

static gboolean
m_register_app (CairnPlugin *self, const CairnAppIface *iface, size_t size,
                GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnTestHost *h = cairn_test__host_of (self);
  if (!cairn_test__registering (tp, "the app interface", error))
    return FALSE;
  for (guint i = 0; i < h->apps->len; i++)
    if (((MockApp *)h->apps->pdata[i])->tp == tp)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "plugin %s registered its app interface twice",
                         tp->desc->id);
  MockApp a = { .tp = tp };
  if (!copy_iface (tp, "app", &a.iface, sizeof a.iface, iface, size,
                   CAIRN_APP_IFACE_VERSION, error))
    return FALSE;
  g_ptr_array_add (h->apps, g_memdup2 (&a, sizeof a));
  return TRUE;
}

static void
route_free (gpointer p)
{
  MockRoute *r = p;
  g_free (r->method);
  g_free (r->path);
  g_free (r);
}

static gboolean
add_route (CairnTestPlugin *tp, const char *method, const char *path,
           CairnRouteFn fn, CairnStreamOpenFn open, CairnStreamClosedFn closed,
           void *user_data, GError **error)
{
  CairnTestHost *h = tp->host;
  if (!cairn_test__registering (tp, "routes", error))
    return FALSE;
  g_autofree char *api = g_strdup_printf ("/v1/%s/", tp->desc->id);
  g_autofree char *top = g_strdup_printf ("/%s/", tp->desc->id);
  g_autofree char *top_exact = g_strdup_printf ("/%s", tp->desc->id);
  static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", NULL };
  if (method == NULL || !g_strv_contains (methods, method) || path == NULL
      || !(g_str_has_prefix (path, api) || g_str_has_prefix (path, top)
           || strcmp (path, top_exact) == 0))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: route %s %s must use GET/POST/PUT/DELETE "
                       "and a path under %s or %s",
                       tp->desc->id, method ? method : "(null)",
                       path ? path : "(null)", api, top);
  for (guint i = 0; i < h->routes->len; i++) {
    MockRoute *r = h->routes->pdata[i];
    if (strcmp (r->method, method) == 0 && strcmp (r->path, path) == 0)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "plugin %s: route %s %s is already registered",
                         tp->desc->id, method, path);
  }
  MockRoute *r = g_new0 (MockRoute, 1);
  *r = (MockRoute){ .tp = tp,
                    .method = g_strdup (method),
                    .path = g_strdup (path),
                    .prefix = g_str_has_suffix (path, "/"),
                    .fn = fn,
                    .open = open,
                    .closed = closed,
                    .user_data = user_data };
  g_ptr_array_add (h->routes, r);
  return TRUE;
}

static gboolean
m_register_route (CairnPlugin *self, const char *method, const char *path,
                  CairnRouteFn fn, void *user_data, GError **error)
{
  cairn_test__host_of (self);
  if (fn == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: route %s %s has no function",
                       tp_of (self)->desc->id, method ? method : "(null)",
                       path ? path : "(null)");
  return add_route (tp_of (self), method, path, fn, NULL, NULL, user_data,
                    error);
}

static gboolean
m_register_stream_route (CairnPlugin *self, const char *path,
                         CairnStreamOpenFn open, CairnStreamClosedFn closed,
                         void *user_data, GError **error)
{
  cairn_test__host_of (self);
  if (open == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: stream route %s has no open function",
                       tp_of (self)->desc->id, path ? path : "(null)");
  return add_route (tp_of (self), "GET", path, NULL, open, closed, user_data,
                    error);
}

static gboolean
m_register_consensus (CairnPlugin *self, const CairnConsensusIface *iface,
                      size_t size, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnTestHost *h = cairn_test__host_of (self);
  if (!cairn_test__registering (tp, "consensus", error))
    return FALSE;
  if (h->engine != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "plugins %s and %s both register a consensus backend; "
                       "load only one of them",
                       h->engine->desc->id, tp->desc->id);
  CairnConsensusIface c;
  if (!copy_iface (tp, "consensus", &c, sizeof c, iface, size,
                   CAIRN_CONSENSUS_IFACE_VERSION, error))
    return FALSE;
  if (c.verify_certificate == NULL)
    return cairn_fail (error, CAIRN_ERROR_ABI,
                       "plugin %s: consensus interface lacks the required "
                       "callback verify_certificate",
                       tp->desc->id);
  h->consensus = c;
  h->engine = tp;
  return TRUE;
}

/* Storage and blob store registrations are the fake host's (recorded in
 * the CairnTestPlugin); only one of each per host, as on a node. */
static gboolean
m_register_storage (CairnPlugin *self, const CairnStorageIface *iface,
                    size_t size, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  for (guint i = 0; i < h->plugins->len; i++) {
    CairnTestPlugin *o = h->plugins->pdata[i];
    if (o != tp_of (self) && o->have_storage)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "plugins %s and %s both register a storage backend; "
                         "load only one of them",
                         o->desc->id, tp_of (self)->desc->id);
  }
  return cairn_test__fake_table ()->register_storage (self, iface, size, error);
}

static gboolean
m_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                      size_t size, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  for (guint i = 0; i < h->plugins->len; i++) {
    CairnTestPlugin *o = h->plugins->pdata[i];
    if (o != tp_of (self) && o->have_blobstore)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "plugins %s and %s both register a blobstore "
                         "backend; load only one of them",
                         o->desc->id, tp_of (self)->desc->id);
  }
  return cairn_test__fake_table ()->register_blobstore (self, iface, size,
                                                        error);
}

static gboolean
m_register_direct_handler (CairnPlugin *self, CairnDirectFn fn, void *user_data,
                           GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnTestHost *h = cairn_test__host_of (self);
  if (!cairn_test__registering (tp, "a direct message handler", error))
    return FALSE;
  if (fn == NULL || g_hash_table_contains (h->direct, tp->desc->id))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: one direct message handler, not NULL",
                       tp->desc->id);
  MockDirect d = { tp, fn, user_data };
  g_hash_table_insert (h->direct, (gpointer)tp->desc->id,
                       g_memdup2 (&d, sizeof d));
  return TRUE;
}

/* ---- services ---- */

static gboolean
m_provide_service (CairnPlugin *self, const char *name, uint32_t version,
                   const void *vtable, GError **error)
{
  CairnTestPlugin *tp = tp_of (self);
  CairnTestHost *h = cairn_test__host_of (self);
  gboolean declared = FALSE;
  for (const CairnServiceRef *r = tp->desc->provides; r && r->name; r++)
    if (g_strcmp0 (r->name, name) == 0 && r->version == version)
      declared = TRUE;
  if (!declared || vtable == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: service %s/%u is not in its descriptor's "
                       "`provides` (or the vtable is NULL)",
                       tp->desc->id, name ? name : "(null)", version);
  if (*(const uint32_t *)vtable < sizeof (uint32_t))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: service %s/%u: the vtable must start with "
                       "its size (uint32_t), got %u",
                       tp->desc->id, name, version, *(const uint32_t *)vtable);
  g_autofree char *key = g_strdup_printf ("%s/%u", name, version);
  MockService *old = g_hash_table_lookup (h->services, key);
  /* A plugin's service replaces the host's built-in one (the bank). */
  if (old != NULL && old->tp != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "plugin %s: service %s is already provided by plugin "
                       "%s",
                       tp->desc->id, key, old->tp->desc->id);
  MockService s = { tp, vtable };
  g_hash_table_insert (h->services, g_steal_pointer (&key),
                       g_memdup2 (&s, sizeof s));
  return TRUE;
}

static const void *
m_lookup_service (CairnPlugin *self, const char *name, uint32_t version)
{
  if (name == NULL)
    return NULL;
  g_autofree char *key = g_strdup_printf ("%s/%u", name, version);
  MockService *s
      = g_hash_table_lookup (cairn_test__host_of (self)->services, key);
  return s != NULL ? s->vtable : NULL;
}

static const json_t *
m_genesis (CairnPlugin *self)
{
  return cairn_test__host_of (self)->genesis;
}

/* ---- the table ---- */

static CairnHost mock_table;

const CairnHost *
cairn_test_host_mock_table (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done)) {
    /* Identity, data, log, config and data_dir are the fake host's. */
    mock_table = *cairn_test__fake_table ();
    mock_table.genesis = m_genesis;
    mock_table.register_tx_type = m_register_tx_type;
    mock_table.register_app = m_register_app;
    mock_table.register_route = m_register_route;
    mock_table.register_stream_route = m_register_stream_route;
    mock_table.register_storage = m_register_storage;
    mock_table.register_consensus = m_register_consensus;
    mock_table.register_blobstore = m_register_blobstore;
    mock_table.register_direct_handler = m_register_direct_handler;
    mock_table.provide_service = m_provide_service;
    mock_table.lookup_service = m_lookup_service;
    cairn_test__fill_state_table (&mock_table);
    cairn_test__fill_exec_table (&mock_table);
    cairn_test__fill_clock_table (&mock_table);
    cairn_test__fill_http_table (&mock_table);
    cairn_test__fill_net_table (&mock_table);
    cairn_test__fill_crypto_table (&mock_table);
    /* No peer proposes blocks here: see mock_host.h. */
    mock_table.block_validate = NULL;
    g_once_init_leave (&done, 1);
  }
  return &mock_table;
}

/* ---- the host ---- */

static void
account_free (gpointer p)
{
  MockAccount *a = p;
  cairn_test__account_clear (a);
  g_free (a);
}

static void
sub_free (gpointer p)
{
  MockSub *s = p;
  g_free (s->prefix);
  g_free (s);
}

CairnTestHost *
cairn_test_host_new (void)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = g_new0 (CairnTestHost, 1);
  h->root = g_dir_make_tmp ("cairn-mock-host-XXXXXX", &error);
  if (h->root == NULL)
    g_error ("mock host: cannot make a temporary directory: %s",
             error->message);
  h->genesis = json_pack ("{s:[], s:{}, s:s, s:I, s:[]}", "accounts",
                          "app_state", "chain_id", "test", "genesis_time",
                          (json_int_t)DEFAULT_TIME_MS, "validators");
  h->chain_id = g_strdup ("test");
  h->plugins = g_ptr_array_new ();
  h->tx_types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->apps = g_ptr_array_new_with_free_func (g_free);
  h->routes = g_ptr_array_new_with_free_func (route_free);
  h->services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->direct = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  h->subs = g_ptr_array_new_with_free_func (sub_free);
  h->state = cairn_test__kv_new ();
  h->private = cairn_test__kv_new ();
  h->blocks = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  h->mempool = g_ptr_array_new ();
  h->accounts
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, account_free);
  h->pubkeys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  cairn_test__account_init (&h->node, "cairn-test-node");
  h->events = json_array ();
  h->now_ms = DEFAULT_TIME_MS;
  h->timers = g_ptr_array_new_with_free_func (g_free);
  h->peers = g_ptr_array_new_with_free_func (g_free);
  h->sent = json_array ();
  h->metrics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->blobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify)g_bytes_unref);
  h->streams = g_ptr_array_new ();
  h->minters = g_ptr_array_new_with_free_func (g_free);
  memset (h->head_hash, '0', 64);
  memset (h->state_root, '0', 64);
  h->head = (CairnChainHead){ .size = sizeof (CairnChainHead),
                              .height = 0,
                              .time_ms = DEFAULT_TIME_MS,
                              .hash = h->head_hash,
                              .state_root = h->state_root,
                              .chain_id = h->chain_id };
  cairn_test__bank_init (h);
  cairn_test_host_mock_table ();
  return h;
}

void
cairn_test_host_free (CairnTestHost *h)
{
  if (h == NULL)
    return;
  cairn_test_host_stop (h);
  cairn_test__streams_close_all (h);
  /* fini in reverse load order, with the host still whole: a plugin's fini
   * may remove its timers or read its data. */
  while (h->plugins->len > 0) {
    CairnTestPlugin *tp = h->plugins->pdata[h->plugins->len - 1];
    g_ptr_array_remove_index (h->plugins, h->plugins->len - 1);
    cairn_test_plugin_free (tp);
  }
  cairn_test__exec_free (h);
  g_ptr_array_unref (h->plugins);
  g_hash_table_unref (h->tx_types);
  g_ptr_array_unref (h->apps);
  g_ptr_array_unref (h->routes);
  g_hash_table_unref (h->services);
  g_hash_table_unref (h->direct);
  g_ptr_array_unref (h->subs);
  g_tree_unref (h->state);
  g_tree_unref (h->private);
  g_ptr_array_unref (h->blocks);
  g_ptr_array_unref (h->mempool);
  g_hash_table_unref (h->accounts);
  g_hash_table_unref (h->pubkeys);
  cairn_test__account_clear (&h->node);
  json_decref (h->events);
  json_decref (h->genesis);
  g_ptr_array_unref (h->timers);
  g_ptr_array_unref (h->peers);
  json_decref (h->sent);
  g_hash_table_unref (h->metrics);
  g_hash_table_unref (h->blobs);
  g_ptr_array_unref (h->streams);
  g_ptr_array_unref (h->minters);
  cairn_test_rm_rf (h->root);
  g_free (h->root);
  g_free (h->chain_id);
  g_free (h);
}

gboolean
cairn_test_host_set_genesis (CairnTestHost *h, const char *json_text,
                             GError **error)
{
  json_error_t jerr;
  if (h->genesis_done)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "mock host: genesis has run already; set the genesis "
                       "document before the first block");
  json_t *doc = json_loads (json_text != NULL ? json_text : "",
                            JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object (doc)) {
    json_decref (doc);
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "mock host: genesis must be a JSON object%s%s",
                       doc == NULL ? ": " : "", doc == NULL ? jerr.text : "");
  }
  const char *chain_id = json_string_value (json_object_get (doc, "chain_id"));
  const json_t *t = json_object_get (doc, "genesis_time");
  json_decref (h->genesis);
  h->genesis = doc;
  g_free (h->chain_id);
  h->chain_id = g_strdup (chain_id != NULL ? chain_id : "test");
  h->head.chain_id = h->chain_id;
  if (json_is_integer (t)) {
    h->head.time_ms = json_integer_value (t);
    if (h->now_ms < h->head.time_ms)
      h->now_ms = h->head.time_ms;
  }
  return TRUE;
}

CairnTestPlugin *
cairn_test_host_add (CairnTestHost *h, CairnPluginEntry entry)
{
  g_assert_nonnull (entry);
  const CairnPluginDescriptor *d = entry ();
  g_assert_nonnull (d);
  g_assert_nonnull (d->id);
  if (cairn_test_host_plugin (h, d->id) != NULL)
    g_error ("mock host: a plugin '%s' was added already", d->id);
  g_autofree char *dir = g_build_filename (h->root, d->id, NULL);
  CairnTestPlugin *tp = cairn_test_plugin_new (entry, dir);
  tp->host = h;
  tp->table = cairn_test_host_mock_table ();
  g_ptr_array_add (h->plugins, tp);
  return tp;
}

CairnTestPlugin *
cairn_test_host_plugin (CairnTestHost *h, const char *id)
{
  for (guint i = 0; i < h->plugins->len; i++) {
    CairnTestPlugin *tp = h->plugins->pdata[i];
    if (strcmp (tp->desc->id, id) == 0)
      return tp;
  }
  return NULL;
}

/* ---- callers: plugins that are only an id ---- */

static gboolean
caller_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  return TRUE;
}

static const CairnPluginDescriptor caller_template = {
  .magic = CAIRN_PLUGIN_MAGIC,
  .struct_size = sizeof (CairnPluginDescriptor),
  .abi_major = CAIRN_ABI_MAJOR,
  .abi_built_minor = CAIRN_ABI_MINOR,
  .build_fingerprint = CAIRN_BUILD_FINGERPRINT,
  .id = "caller",
  .version = "0",
  .vendor = "cairn-sdk-testing",
  .license = "Apache-2.0",
  .description = "A service caller of the mock host "
                 "(cairn_test_host_add_caller)",
  .kinds = CAIRN_KIND_APP,
  .init = caller_init,
};

static const CairnPluginDescriptor *
caller_entry (void)
{
  return &caller_template;
}

CairnTestPlugin *
cairn_test_host_add_caller (CairnTestHost *h, const char *id)
{
  g_autoptr (GError) error = NULL;
  if (!cairn_plugin_id_valid (id))
    g_error ("mock host: add_caller: '%s' is not a plugin id "
             "([a-z0-9-]{1,32})",
             id ? id : "(null)");
  if (cairn_test_host_plugin (h, id) != NULL)
    g_error ("mock host: add_caller: a plugin '%s' was added already", id);
  g_autofree char *dir = g_build_filename (h->root, id, NULL);
  CairnTestPlugin *tp = cairn_test_plugin_new (caller_entry, dir);
  tp->own_id = g_strdup (id);
  tp->own_desc = g_memdup2 (&caller_template, sizeof caller_template);
  tp->own_desc->id = tp->own_id;
  tp->desc = tp->own_desc;
  tp->host = h;
  tp->table = cairn_test_host_mock_table ();
  g_ptr_array_add (h->plugins, tp);
  if (!cairn_test_plugin_init (tp, &error))
    g_error ("mock host: add_caller '%s': %s", id, error->message);
  return tp;
}

static gboolean
remove_by_plugin (gpointer key, gpointer value, gpointer tp)
{
  return *(CairnTestPlugin **)value == tp;
}

void
cairn_test__mock_forget (CairnTestHost *h, CairnTestPlugin *tp)
{
  g_hash_table_foreach_remove (h->tx_types, remove_by_plugin, tp);
  g_hash_table_foreach_remove (h->direct, remove_by_plugin, tp);
  for (guint i = h->apps->len; i > 0; i--)
    if (((MockApp *)h->apps->pdata[i - 1])->tp == tp)
      g_ptr_array_remove_index (h->apps, i - 1);
  for (guint i = h->routes->len; i > 0; i--)
    if (((MockRoute *)h->routes->pdata[i - 1])->tp == tp)
      g_ptr_array_remove_index (h->routes, i - 1);
  for (guint i = 0; i < h->subs->len; i++)
    if (((MockSub *)h->subs->pdata[i])->tp == tp)
      ((MockSub *)h->subs->pdata[i])->removed = TRUE;
  for (guint i = 0; i < h->timers->len; i++)
    if (((MockTimer *)h->timers->pdata[i])->tp == tp)
      ((MockTimer *)h->timers->pdata[i])->removed = TRUE;
  /* A plugin's service goes; the built-in bank comes back if it was it. */
  g_hash_table_foreach_remove (h->services, remove_by_plugin, tp);
  if (!g_hash_table_contains (h->services, CAIRN_BANK_SERVICE "/1"))
    cairn_test__bank_init (h);
  if (h->engine == tp) {
    h->engine = NULL;
    memset (&h->consensus, 0, sizeof h->consensus);
  }
}

/* Removes a plugin that failed to load (its fini runs if init succeeded). */
static void
unload (CairnTestHost *h, CairnTestPlugin *tp)
{
  cairn_test__mock_forget (h, tp);
  g_ptr_array_remove (h->plugins, tp);
  cairn_test_plugin_free (tp);
}

CairnTestPlugin *
cairn_test_host_load (CairnTestHost *h, CairnPluginEntry entry,
                      const char *const *config, GError **error)
{
  CairnTestPlugin *tp = cairn_test_host_add (h, entry);
  const CairnPluginDescriptor *d = tp->desc;
  cairn_test_plugin_set_config_list (tp, config);
  for (const CairnServiceRef *r = d->requires; r && r->name; r++) {
    g_autofree char *key = g_strdup_printf ("%s/%u", r->name, r->version);
    if (!g_hash_table_contains (h->services, key)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "plugin %s requires service %s, which no plugin loaded "
                   "before it provides: load its provider first",
                   d->id, key);
      unload (h, tp);
      return NULL;
    }
  }
  if (!cairn_test_plugin_init (tp, error)) {
    unload (h, tp);
    return NULL;
  }
  if (!cairn_test_plugin_check_config_read (tp, error)) {
    unload (h, tp);
    return NULL;
  }
  for (const CairnServiceRef *r = d->provides; r && r->name; r++) {
    g_autofree char *key = g_strdup_printf ("%s/%u", r->name, r->version);
    MockService *s = g_hash_table_lookup (h->services, key);
    if (s == NULL || s->tp != tp) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                   "plugin %s lists service %s in `provides` but did not "
                   "register it with provide_service during init",
                   d->id, key);
      unload (h, tp);
      return NULL;
    }
  }
  return tp;
}

gboolean
cairn_test_host_start (CairnTestHost *h, GError **error)
{
  if (h->started)
    g_error ("mock host: cairn_test_host_start called twice");
  if (!h->genesis_done && !cairn_test_host_genesis (h, error))
    return FALSE;
  h->started = TRUE;
  for (guint i = 0; i < h->plugins->len; i++) {
    CairnTestPlugin *tp = h->plugins->pdata[i];
    if (!tp->initialised)
      continue;
    if (tp->desc->start != NULL
        && !tp->desc->start ((CairnPlugin *)tp, error)) {
      g_prefix_error (error, "start of plugin %s: ", tp->desc->id);
      return FALSE;
    }
    tp->started = TRUE;
  }
  /* Txs queued before start wait for the engine too. */
  if (h->mempool->len > 0)
    cairn_test__notify_engine (h);
  return TRUE;
}

void
cairn_test_host_stop (CairnTestHost *h)
{
  for (guint i = h->plugins->len; i > 0; i--) {
    CairnTestPlugin *tp = h->plugins->pdata[i - 1];
    if (!tp->started)
      continue;
    tp->started = FALSE;
    if (tp->desc->stop != NULL)
      tp->desc->stop ((CairnPlugin *)tp);
  }
}

void
cairn_test_host_set_role (CairnTestHost *h, const char *address,
                          const char *role, gboolean grant)
{
  g_assert_true (cairn_test__address_valid (address));
  g_assert_true (cairn_role_valid (role));
  g_autofree char *key = g_strdup_printf ("core/role/%s/%s", address, role);
  cairn_test_host_state_set (h, key, grant ? "1" : NULL, grant ? 1 : 0);
}

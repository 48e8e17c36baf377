/* The host table: the one door from plugins into the core (see
 * sdk/include/cairn/host.h for the contract of every function). */
#include <string.h>

#include "cjson.h"
#include "http.h"
#include "node_private.h"
#include "watchdog.h"
#include "p2p.h"
#include "sig_ahead.h"

CairnNode *
cairn_plugin_node (CairnPlugin *p)
{
  return p->node;
}

#define NODE(p) ((CairnNode *)(p)->node)

/* ---- identity, logging, config ------------------------------------------ */

static const char *
h_plugin_id (CairnPlugin *self)
{
  return self->desc.id;
}

static void
h_set_data (CairnPlugin *self, void *data)
{
  self->data = data;
}

static void *
h_get_data (CairnPlugin *self)
{
  return self->data;
}

static void
h_logv (CairnPlugin *self, GLogLevelFlags level, const char *fmt, va_list ap)
{
  /* A plugin must not be able to abort the node by logging. */
  if (level & G_LOG_LEVEL_ERROR)
    level = G_LOG_LEVEL_CRITICAL;
  g_logv (self->log_domain ? self->log_domain : "cairn", level, fmt, ap);
}

static gboolean
h_config_string (CairnPlugin *self, const char *key, const char *def,
                 char **out, GError **error)
{
  return cairn_config_string (NODE (self)->cfg, self->desc.id, key, def, out,
                              error);
}

static gboolean
h_config_int (CairnPlugin *self, const char *key, int64_t def, int64_t min,
              int64_t max, int64_t *out, GError **error)
{
  return cairn_config_int (NODE (self)->cfg, self->desc.id, key, def, min, max,
                           out, error);
}

static gboolean
h_config_bool (CairnPlugin *self, const char *key, gboolean def, gboolean *out,
               GError **error)
{
  return cairn_config_bool (NODE (self)->cfg, self->desc.id, key, def, out,
                            error);
}

static gboolean
h_config_strv (CairnPlugin *self, const char *key, char ***out, GError **error)
{
  return cairn_config_strv (NODE (self)->cfg, self->desc.id, key, out, error);
}

static const char *
h_data_dir (CairnPlugin *self)
{
  if (self->data_dir == NULL) {
    self->data_dir
        = g_build_filename (NODE (self)->data_dir, self->desc.id, NULL);
    if (g_mkdir_with_parents (self->data_dir, 0700) != 0)
      g_critical ("cannot create %s: %s", self->data_dir, g_strerror (errno));
  }
  return self->data_dir;
}

static const json_t *
h_genesis (CairnPlugin *self)
{
  return NODE (self)->genesis->doc;
}

/* ---- registration ------------------------------------------------------- */

static gboolean
check_registering (CairnPlugin *self, const char *what, GError **error)
{
  if (self->state != CAIRN_PLUGIN_STATE_FOUND) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: %s must be registered during init", self->desc.id,
                 what);
    return FALSE;
  }
  return TRUE;
}

/* Copy an interface struct the plugin built with its own sizeof. */
static gboolean
copy_iface (CairnPlugin *self, const char *what, void *dst, size_t ours,
            const void *src, size_t theirs, uint32_t max_version,
            GError **error)
{
  if (src == NULL || theirs < sizeof (uint32_t)) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_ABI,
        "plugin %s (%s): %s interface missing or too small (%zu bytes)",
        self->desc.id, self->file, what, theirs);
    return FALSE;
  }
  if (theirs > ours) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin %s (%s): %s interface is %zu bytes but this node "
                 "knows %zu; the plugin was built for a newer SDK — upgrade "
                 "the node or rebuild the plugin",
                 self->desc.id, self->file, what, theirs, ours);
    return FALSE;
  }
  uint32_t v = *(const uint32_t *)src;
  if (v == 0 || v > max_version) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_ABI,
        "plugin %s (%s): %s iface_version %u, this node supports 1..%u",
        self->desc.id, self->file, what, v, max_version);
    return FALSE;
  }
  memset (dst, 0, ours);
  memcpy (dst, src, theirs);
  return TRUE;
}

static gboolean
missing_callback (CairnPlugin *self, const char *what, const char *cb,
                  GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
               "plugin %s (%s): %s interface lacks the required callback %s",
               self->desc.id, self->file, what, cb);
  return FALSE;
}

static gboolean
name_chars_valid (const char *s)
{
  for (; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '-'
          || *s == '.'))
      return FALSE;
  return TRUE;
}

static gboolean
h_register_tx_type (CairnPlugin *self, const char *type,
                    const CairnTxHandler *handler, size_t size, GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "tx types", error))
    return FALSE;
  g_autofree char *prefix = g_strconcat (self->desc.id, ".", NULL);
  if (type == NULL || !g_str_has_prefix (type, prefix)
      || strlen (type) == strlen (prefix) || strlen (type) > 64
      || !name_chars_valid (type)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: tx type '%s' must be '%s<name>' with [a-z0-9_.-]",
                 self->desc.id, type ? type : "(null)", prefix);
    return FALSE;
  }
  TxTypeEntry *e = g_new0 (TxTypeEntry, 1);
  e->plugin = self;
  if (!copy_iface (self, "tx handler", &e->handler, sizeof e->handler, handler,
                   size, CAIRN_TX_HANDLER_VERSION, error)) {
    g_free (e);
    return FALSE;
  }
  if (e->handler.apply == NULL) {
    g_free (e);
    return missing_callback (self, "tx handler", "apply", error);
  }
  if (g_hash_table_contains (node->tx_types, type)) {
    g_free (e);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "plugin %s: tx type %s is already registered", self->desc.id,
                 type);
    return FALSE;
  }
  g_hash_table_insert (node->tx_types, g_strdup (type), e);
  return TRUE;
}

static gboolean
h_register_app (CairnPlugin *self, const CairnAppIface *iface, size_t size,
                GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "the app interface", error))
    return FALSE;
  for (guint i = 0; i < node->apps->len; i++)
    if (((AppEntry *)node->apps->pdata[i])->plugin == self) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "plugin %s registered its app interface twice",
                   self->desc.id);
      return FALSE;
    }
  AppEntry *e = g_new0 (AppEntry, 1);
  e->plugin = self;
  if (!copy_iface (self, "app", &e->iface, sizeof e->iface, iface, size,
                   CAIRN_APP_IFACE_VERSION, error)) {
    g_free (e);
    return FALSE;
  }
  g_ptr_array_add (node->apps, e);
  return TRUE;
}

static gboolean add_route (CairnPlugin *self, const char *method,
                           const char *path, CairnRouteFn fn,
                           CairnStreamOpenFn open, CairnStreamClosedFn closed,
                           void *user_data, GError **error);

static gboolean
h_register_route (CairnPlugin *self, const char *method, const char *path,
                  CairnRouteFn fn, void *user_data, GError **error)
{
  if (fn == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: route %s %s has no function", self->desc.id,
                       method ? method : "(null)", path ? path : "(null)");
  return add_route (self, method, path, fn, NULL, NULL, user_data, error);
}

static gboolean
h_register_stream_route (CairnPlugin *self, const char *path,
                         CairnStreamOpenFn open, CairnStreamClosedFn closed,
                         void *user_data, GError **error)
{
  if (open == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: stream route %s has no open function",
                       self->desc.id, path ? path : "(null)");
  return add_route (self, "GET", path, NULL, open, closed, user_data, error);
}

static gboolean
add_route (CairnPlugin *self, const char *method, const char *path,
           CairnRouteFn fn, CairnStreamOpenFn open, CairnStreamClosedFn closed,
           void *user_data, GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "routes", error))
    return FALSE;
  g_autofree char *api = g_strdup_printf ("/v1/%s/", self->desc.id);
  g_autofree char *top = g_strdup_printf ("/%s/", self->desc.id);
  g_autofree char *top_exact = g_strdup_printf ("/%s", self->desc.id);
  static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", NULL };
  if (method == NULL || !g_strv_contains (methods, method) || path == NULL
      || !(g_str_has_prefix (path, api) || g_str_has_prefix (path, top)
           || strcmp (path, top_exact) == 0)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: route %s %s must use GET/POST/PUT/DELETE and a "
                 "path under %s or %s",
                 self->desc.id, method ? method : "(null)",
                 path ? path : "(null)", api, top);
    return FALSE;
  }
  for (guint i = 0; i < node->routes->len; i++) {
    RouteEntry *r = node->routes->pdata[i];
    if (strcmp (r->method, method) == 0 && strcmp (r->path, path) == 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "plugin %s: route %s %s is already registered",
                   self->desc.id, method, path);
      return FALSE;
    }
  }
  RouteEntry *r = g_new0 (RouteEntry, 1);
  r->plugin = self;
  r->method = g_strdup (method);
  r->path = g_strdup (path);
  r->prefix = g_str_has_suffix (path, "/");
  r->fn = fn;
  r->stream_open = open;
  r->stream_closed = closed;
  r->user_data = user_data;
  g_ptr_array_add (node->routes, r);
  return TRUE;
}

static gboolean
only_one (CairnPlugin *self, CairnPlugin *existing, const char *kind,
          GError **error)
{
  if (existing == NULL)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
               "plugins %s and %s both register a %s backend; load only one "
               "of them",
               existing->desc.id, self->desc.id, kind);
  return FALSE;
}

static gboolean
h_register_storage (CairnPlugin *self, const CairnStorageIface *iface,
                    size_t size, GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "storage", error)
      || !only_one (self, node->storage_plugin, "storage", error))
    return FALSE;
  CairnStorageIface s;
  if (!copy_iface (self, "storage", &s, sizeof s, iface, size,
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
      return missing_callback (self, "storage", names[i], error);
  node->storage = s;
  node->storage_plugin = self;
  return TRUE;
}

static gboolean
h_register_consensus (CairnPlugin *self, const CairnConsensusIface *iface,
                      size_t size, GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "consensus", error)
      || !only_one (self, node->consensus_plugin, "consensus", error))
    return FALSE;
  CairnConsensusIface c;
  if (!copy_iface (self, "consensus", &c, sizeof c, iface, size,
                   CAIRN_CONSENSUS_IFACE_VERSION, error))
    return FALSE;
  if (c.verify_certificate == NULL)
    return missing_callback (self, "consensus", "verify_certificate", error);
  node->consensus = c;
  node->consensus_plugin = self;
  return TRUE;
}

static gboolean
h_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                      size_t size, GError **error)
{
  CairnNode *node = NODE (self);
  /* An extra blob store (CairnNodeOptions.extra_blobstores) sits beside
   * the node's own; only the node's own must be the only one. */
  gboolean extra
      = node->extra_blobstores != NULL
        && g_strv_contains ((const char *const *)node->extra_blobstores,
                            self->desc.id);
  if (!check_registering (self, "blobstore", error)
      || (!extra && !only_one (self, node->blob_plugin, "blobstore", error)))
    return FALSE;
  for (guint i = 0; i < node->blobstores->len; i++)
    if (((BlobstoreEntry *)node->blobstores->pdata[i])->plugin == self)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "plugin %s registered its blob store twice",
                         self->desc.id);
  CairnBlobstoreIface b;
  if (!copy_iface (self, "blobstore", &b, sizeof b, iface, size,
                   CAIRN_BLOBSTORE_IFACE_VERSION, error))
    return FALSE;
  if (b.put == NULL)
    return missing_callback (self, "blobstore", "put", error);
  if (b.get == NULL)
    return missing_callback (self, "blobstore", "get", error);
  if (b.stat == NULL)
    return missing_callback (self, "blobstore", "stat", error);
  BlobstoreEntry *e = g_new0 (BlobstoreEntry, 1);
  e->plugin = self;
  e->iface = b;
  g_ptr_array_add (node->blobstores, e);
  if (!extra) {
    node->blob = b;
    node->blob_plugin = self;
  }
  return TRUE;
}

/* ---- services ----------------------------------------------------------- */

static gboolean
h_provide_service (CairnPlugin *self, const char *name, uint32_t version,
                   const void *vtable, GError **error)
{
  CairnNode *node = NODE (self);
  gboolean declared = FALSE;
  for (const CairnServiceRef *r = self->desc.provides; r && r->name; r++)
    if (g_strcmp0 (r->name, name) == 0 && r->version == version)
      declared = TRUE;
  if (!declared || vtable == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: service %s/%u is not in its descriptor's "
                 "`provides` (or the vtable is NULL)",
                 self->desc.id, name ? name : "(null)", version);
    return FALSE;
  }
  g_autofree char *key = g_strdup_printf ("%s/%u", name, version);
  if (g_hash_table_contains (node->services, key)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "plugin %s: service %s is already provided by another plugin",
                 self->desc.id, key);
    return FALSE;
  }
  ServiceEntry *e = g_new0 (ServiceEntry, 1);
  e->plugin = self;
  e->vtable = vtable;
  g_ptr_array_add (self->provided, g_strdup (key));
  g_hash_table_insert (node->services, g_steal_pointer (&key), e);
  return TRUE;
}

static const void *
h_lookup_service (CairnPlugin *self, const char *name, uint32_t version)
{
  g_autofree char *key = g_strdup_printf ("%s/%u", name, version);
  ServiceEntry *e = g_hash_table_lookup (NODE (self)->services, key);
  return e ? e->vtable : NULL;
}

/* ---- state -------------------------------------------------------------- */

static gboolean
key_valid (const char *key, GError **error)
{
  size_t n = key ? strlen (key) : 0;
  gboolean ok = n > 0 && n <= CAIRN_MAX_KEY && key[0] != '/';
  for (size_t i = 0; ok && i < n; i++)
    if (key[i] <= 0x20 || key[i] >= 0x7f)
      ok = FALSE;
  if (!ok)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "state key '%s' must be 1-%d printable ASCII characters "
                 "without spaces, not starting with '/'",
                 key ? key : "(null)", CAIRN_MAX_KEY);
  return ok;
}

static char *
full_key (CairnPlugin *self, const char *ns, const char *key)
{
  return g_strconcat (ns ? ns : self->desc.id, "/", key, NULL);
}

static GBytes *
h_state_get (CairnPlugin *self, CairnTxCtx *tx, const char *ns, const char *key,
             GError **error)
{
  if (!key_valid (key, error))
    return NULL;
  CairnNode *node = NODE (self);
  g_autofree char *fk = full_key (self, ns, key);
  GBytes *v;
  if (tx) {
    GError *local = NULL;
    v = cairn_overlay_get (tx->overlay, fk, &local);
    if (local) {
      g_propagate_error (error, local);
      return NULL;
    }
    if (v == NULL)
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "%s: no value",
                   fk);
    return v;
  }
  v = node->storage.state_get (node->store, fk, CAIRN_HEAD, error);
  return v;
}

static json_t *
h_state_get_json (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                  const char *key, GError **error)
{
  g_autoptr (GBytes) v = h_state_get (self, tx, ns, key, error);
  if (v == NULL)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  json_t *j = cairn_cjson_parse (p, len, FALSE, error);
  if (j == NULL)
    g_prefix_error (error, "state %s/%s: ", ns ? ns : self->desc.id, key);
  return j;
}

static gboolean
writable (CairnPlugin *self, CairnTxCtx *tx, const char *key, GError **error)
{
  if (tx == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: state writes are only possible inside a tx",
                 self->desc.id);
    return FALSE;
  }
  return key_valid (key, error);
}

static gboolean
h_state_put (CairnPlugin *self, CairnTxCtx *tx, const char *key,
             const void *value, size_t len, GError **error)
{
  if (!writable (self, tx, key, error))
    return FALSE;
  if (len > CAIRN_MAX_VALUE) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "state %s/%s: value of %zu bytes exceeds %u", self->desc.id,
                 key, len, CAIRN_MAX_VALUE);
    return FALSE;
  }
  g_autofree char *fk = full_key (self, NULL, key);
  g_autoptr (GBytes) b = g_bytes_new (value, len);
  cairn_overlay_put (tx->overlay, fk, b);
  return TRUE;
}

static gboolean
h_state_put_json (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                  const json_t *value, GError **error)
{
  size_t len;
  g_autofree char *text = cairn_cjson_dump (value, &len, error);
  if (text == NULL)
    return FALSE;
  return h_state_put (self, tx, key, text, len, error);
}

static gboolean
h_state_delete (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                GError **error)
{
  if (!writable (self, tx, key, error))
    return FALSE;
  g_autofree char *fk = full_key (self, NULL, key);
  cairn_overlay_delete (tx->overlay, fk);
  return TRUE;
}

typedef struct {
  size_t strip;
  CairnKvFn fn;
  void *user_data;
} StripIter;

static gboolean
strip_ns (const char *key, const uint8_t *value, size_t len, void *data)
{
  StripIter *s = data;
  return s->fn (key + s->strip, value, len, s->user_data);
}

static gboolean
h_state_iter (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
              const char *prefix, CairnKvFn fn, void *user_data, GError **error)
{
  CairnNode *node = NODE (self);
  const char *space = ns ? ns : self->desc.id;
  g_autofree char *full = g_strconcat (space, "/", prefix ? prefix : "", NULL);
  StripIter s = { strlen (space) + 1, fn, user_data };
  if (tx)
    return cairn_overlay_iter (tx->overlay, full, strip_ns, &s, error);
  return node->storage.state_iter (node->store, full, CAIRN_HEAD, strip_ns, &s,
                                   error);
}

/* ---- the tx ------------------------------------------------------------- */

static const CairnTxInfo *
h_tx_info (CairnTxCtx *tx)
{
  return &tx->info;
}

static void
h_emit_event (CairnPlugin *self, CairnTxCtx *tx, const char *type,
              json_t *attrs)
{
  g_autofree char *prefix = g_strconcat (self->desc.id, ".", NULL);
  if (tx == NULL || type == NULL || !g_str_has_prefix (type, prefix)
      || !name_chars_valid (type) || (attrs && !json_is_object (attrs))) {
    g_critical ("plugin %s: event '%s' dropped: events need a tx, a type "
                "'%s<name>' and object attrs",
                self->desc.id, type ? type : "(null)", prefix);
    json_decref (attrs);
    return;
  }
  /* Built directly (json_pack parses its format at every event); the type
   * was checked above. */
  json_t *ev = json_object ();
  json_object_set_new_nocheck (ev, "type", json_string_nocheck (type));
  json_object_set_new_nocheck (ev, "attrs", attrs ? attrs : json_object ());
  json_array_append_new (tx->events, ev);
}

static gboolean
h_has_role (CairnPlugin *self, CairnTxCtx *tx, const char *address,
            const char *role)
{
  CairnNode *node = NODE (self);
  g_autofree char *key = g_strdup_printf ("core/role/%s/%s", address, role);
  g_autoptr (GBytes) v = NULL;
  if (tx)
    v = cairn_overlay_get (tx->overlay, key, NULL);
  else
    v = node->storage.state_get (node->store, key, CAIRN_HEAD, NULL);
  return v != NULL;
}

/* ---- events, timers, clock ---------------------------------------------- */

static guint
h_subscribe (CairnPlugin *self, const char *type_prefix, CairnEventFn fn,
             void *user_data)
{
  return cairn_events_subscribe (NODE (self), type_prefix, self, fn, NULL,
                                 user_data);
}

static void
h_unsubscribe (CairnPlugin *self, guint id)
{
  cairn_events_unsubscribe (NODE (self), id);
}

typedef struct {
  CairnPlugin *self;
  CairnTimerFn fn;
  void *user_data;
} Timer;

static gboolean
timer_fire (gpointer data)
{
  Timer *t = data;
  CairnPluginCall call = cairn_plugin_call_enter (t->self->desc.id, "timer");
  gboolean again = t->fn (t->self, t->user_data);
  cairn_plugin_call_leave (call);
  return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static guint
h_timer_add (CairnPlugin *self, uint32_t interval_ms, CairnTimerFn fn,
             void *user_data)
{
  Timer *t = g_new (Timer, 1);
  *t = (Timer){ self, fn, user_data };
  CairnClock *clock = NODE (self)->clock;
  return clock->timeout_add (clock, interval_ms, timer_fire, t, g_free);
}

static void
h_timer_remove (CairnPlugin *self, guint id)
{
  cairn_clock_clear (NODE (self)->clock, &id);
}

static int64_t
h_now_ms (CairnPlugin *self)
{
  CairnClock *clock = NODE (self)->clock;
  return clock->wall_ms (clock);
}

/* ---- crypto ------------------------------------------------------------- */

static char *
h_json_canonical (const json_t *value, size_t *len, GError **error)
{
  return cairn_cjson_dump (value, len, error);
}

static json_t *
h_json_parse_canonical (const char *text, size_t len, GError **error)
{
  return cairn_cjson_parse (text, len, TRUE, error);
}

static const char *
h_node_address (CairnPlugin *self)
{
  return cairn_key_address (NODE (self)->key);
}

static void
h_node_pubkey (CairnPlugin *self, uint8_t out[32])
{
  memcpy (out, cairn_key_pubkey (NODE (self)->key), 32);
}

static gboolean
h_node_sign (CairnPlugin *self, const char *domain, const void *msg, size_t len,
             uint8_t sig[64], GError **error)
{
  if (domain == NULL || g_str_has_prefix (domain, "cairn/tx")) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "plugin %s: node_sign needs the plugin's own domain, not '%s'",
                 self->desc.id, domain ? domain : "(null)");
    return FALSE;
  }
  cairn_key_sign (NODE (self)->key, domain, msg, len, sig);
  return TRUE;
}

/* ---- blob store --------------------------------------------------------- */

gboolean
cairn_node_have_blobstore (CairnNode *node, GError **error)
{
  if (node->blob_plugin)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
               "no blobstore plugin is loaded; enable one (e.g. blob-fs) in "
               "[plugins] load");
  return FALSE;
}

static GInputStream *
h_blob_open (CairnPlugin *self, const char *cid, uint64_t offset,
             uint64_t length, GError **error)
{
  CairnNode *node = NODE (self);
  if (!cairn_node_have_blobstore (node, error))
    return NULL;
  return node->blob.get (node->blob_plugin, cid, offset, length, error);
}

static gboolean
h_blob_put_stream (CairnPlugin *self, GInputStream *in, char **cid,
                   GError **error)
{
  CairnNode *node = NODE (self);
  if (!cairn_node_have_blobstore (node, error))
    return FALSE;
  return node->blob.put (node->blob_plugin, in, cid, NULL, error);
}

static gboolean
h_blob_put (CairnPlugin *self, const void *data, size_t len, char **cid,
            GError **error)
{
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (data, len, NULL);
  return h_blob_put_stream (self, in, cid, error);
}

static GBytes *
h_blob_get (CairnPlugin *self, const char *cid, GError **error)
{
  g_autoptr (GInputStream) in = h_blob_open (self, cid, 0, UINT64_MAX, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                                  | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error)
      < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static gboolean
h_blob_stat (CairnPlugin *self, const char *cid, uint64_t *size, GError **error)
{
  CairnNode *node = NODE (self);
  if (!cairn_node_have_blobstore (node, error))
    return FALSE;
  return node->blob.stat (node->blob_plugin, cid, size, error);
}

/* ---- chain (consensus engine only) -------------------------------------- */

static gboolean
is_engine (CairnPlugin *self, GError **error)
{
  if (NODE (self)->consensus_plugin == self)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
               "plugin %s is not the consensus engine; only it builds and "
               "commits blocks",
               self->desc.id);
  return FALSE;
}

static const CairnChainHead *
h_chain_head (CairnPlugin *self)
{
  return &NODE (self)->head;
}

static guint
h_mempool_size (CairnPlugin *self)
{
  return cairn_mempool_executable (NODE (self)->mempool);
}

static CairnBlock *
h_block_build (CairnPlugin *self, const CairnBuildOpts *opts, GError **error)
{
  if (!is_engine (self, error))
    return NULL;
  CairnBuildOpts o = { 0 };
  if (opts)
    memcpy (&o, opts, MIN (sizeof o, MAX (opts->size, sizeof (uint32_t))));
  return cairn_chain_build (NODE (self), &o, error);
}

static CairnBlock *
h_block_validate (CairnPlugin *self, const void *bytes, size_t len,
                  GError **error)
{
  if (!is_engine (self, error))
    return NULL;
  return cairn_chain_validate (NODE (self), bytes, len, error);
}

static const CairnBlockInfo *
h_block_info (CairnBlock *block)
{
  return &block->info;
}

static gboolean
h_block_commit (CairnPlugin *self, CairnBlock *block, const json_t *cert,
                GError **error)
{
  if (!is_engine (self, error)) {
    cairn_block_discard (block);
    return FALSE;
  }
  return cairn_chain_commit (NODE (self), block, cert, error);
}

static void
h_block_discard (CairnPlugin *self, CairnBlock *block)
{
  cairn_block_discard (block);
}

static json_t *
h_block_get (CairnPlugin *self, uint64_t height, GError **error)
{
  if (height == CAIRN_HEAD)
    height = NODE (self)->head.height;
  return cairn_node_stored_block (NODE (self), height, error);
}

/* ---- peers ------------------------------------------------------------- */

static gboolean
have_transport (CairnPlugin *self, GError **error)
{
  if (NODE (self)->p2p)
    return TRUE;
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
               "plugin %s: this node runs without P2P ([p2p] enabled = "
               "false), so there is no peer to message",
               self->desc.id);
  return FALSE;
}

static gboolean
h_peer_send (CairnPlugin *self, const char *peer_id, const void *data,
             size_t len, GError **error)
{
  if (!have_transport (self, error))
    return FALSE;
  struct CairnTransport *t = NODE (self)->p2p;
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  return t->ops->send (t, peer_id, CAIRN_P2P_CH_CONSENSUS, b, error);
}

static gboolean
h_peer_broadcast (CairnPlugin *self, const void *data, size_t len,
                  GError **error)
{
  if (!have_transport (self, error))
    return FALSE;
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  cairn_gossip_broadcast (NODE (self), CAIRN_P2P_CH_CONSENSUS, b, NULL);
  return TRUE;
}

static char **
h_peer_list (CairnPlugin *self)
{
  struct CairnTransport *t = NODE (self)->p2p;
  return t ? t->ops->peers (t) : g_new0 (char *, 1);
}

/* ---- direct messages (CAIRN_P2P_CH_DIRECT: u8 id length, id, data) ---- */

static gboolean
h_direct_send (CairnPlugin *self, const char *peer_id, const void *data,
               size_t len, GError **error)
{
  if (!have_transport (self, error))
    return FALSE;
  if (len > CAIRN_MAX_DIRECT) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: a direct message of %zu bytes exceeds %u",
                 self->desc.id, len, CAIRN_MAX_DIRECT);
    return FALSE;
  }
  struct CairnTransport *t = NODE (self)->p2p;
  g_auto (GStrv) peers = t->ops->peers (t);
  if (peer_id == NULL
      || !g_strv_contains ((const char *const *)peers, peer_id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "plugin %s: node %s is not a connected peer", self->desc.id,
                 peer_id ? peer_id : "(null)");
    return FALSE;
  }
  size_t idlen = strlen (self->desc.id);
  g_autoptr (GByteArray) frame = g_byte_array_sized_new (1 + idlen + len);
  guint8 n = (guint8)idlen; /* plugin ids are at most 64 bytes */
  g_byte_array_append (frame, &n, 1);
  g_byte_array_append (frame, (const guint8 *)self->desc.id, idlen);
  g_byte_array_append (frame, data, len);
  g_autoptr (GBytes) b = g_byte_array_free_to_bytes (g_steal_pointer (&frame));
  return t->ops->send (t, peer_id, CAIRN_P2P_CH_DIRECT, b, error);
}

static gboolean
h_register_direct_handler (CairnPlugin *self, CairnDirectFn fn, void *user_data,
                           GError **error)
{
  CairnNode *node = NODE (self);
  if (!check_registering (self, "a direct message handler", error))
    return FALSE;
  if (fn == NULL || g_hash_table_contains (node->direct, self->desc.id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: one direct message handler, not NULL",
                 self->desc.id);
    return FALSE;
  }
  DirectEntry *d = g_new0 (DirectEntry, 1);
  *d = (DirectEntry){ self, fn, user_data };
  g_hash_table_insert (node->direct, (gpointer)self->desc.id, d);
  return TRUE;
}

/* ---- 1.1: txs from the node, plugin metrics ---------------------------- */

static gboolean
h_submit_tx (CairnPlugin *self, const char *type, const json_t *body, char **id,
             GError **error)
{
  CairnNode *node = NODE (self);
  size_t plen = strlen (self->desc.id);
  if (type == NULL || strncmp (type, self->desc.id, plen) != 0
      || type[plen] != '.') {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: submit_tx of type '%s': the node signs only txs "
                 "of the plugin's own types (%s.*)",
                 self->desc.id, type ? type : "(null)", self->desc.id);
    return FALSE;
  }
  const char *me = cairn_key_address (node->key);
  GError *local = NULL;
  uint64_t nonce = cairn_account_nonce (node, NULL, me, &local);
  if (local) {
    g_propagate_prefixed_error (
        error, local,
        "plugin %s: submit_tx: node account nonce: ", self->desc.id);
    return FALSE;
  }
  nonce = cairn_mempool_next_nonce (node->mempool, me, nonce);
  g_autoptr (CairnTx) tx = cairn_tx_sign (node->key, node->genesis->chain_id,
                                          type, nonce, body, error);
  if (tx == NULL)
    return FALSE;
  tx->sig_checked = TRUE; /* signed here */
  if (!cairn_node_submit (node, tx, error)) {
    g_prefix_error (error, "plugin %s: submit_tx %s: ", self->desc.id, type);
    return FALSE;
  }
  if (id)
    *id = g_strdup (tx->id_hex);
  return TRUE;
}

static gboolean
h_metric_set (CairnPlugin *self, const char *name, const char *help,
              int64_t value, GError **error)
{
  return cairn_node_metric_set (NODE (self), self->desc.id, name, help, value,
                                error);
}

/* ---- the private store (1.3) ---------------------------------------- */

static gboolean
have_private_store (CairnPlugin *self, const char *key, GError **error)
{
  CairnNode *node = NODE (self);
  if (node->store == NULL || node->storage.private_write == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
                 "plugin %s: the storage plugin%s%s has no private store "
                 "(private_write, SDK 1.3)%s",
                 self->desc.id, node->storage_plugin ? " " : "",
                 node->storage_plugin ? node->storage_plugin->desc.id : "",
                 node->store ? "" : " or is not open yet");
    return FALSE;
  }
  return key == NULL || key_valid (key, error);
}

static GBytes *
h_private_get (CairnPlugin *self, const char *key, GError **error)
{
  if (!have_private_store (self, key, error))
    return NULL;
  CairnNode *node = NODE (self);
  g_autofree char *fk = full_key (self, NULL, key);
  return node->storage.private_get (node->store, fk, error);
}

static gboolean
private_write_one (CairnPlugin *self, const char *key, const void *value,
                   size_t len, gboolean del, GError **error)
{
  if (!have_private_store (self, key, error))
    return FALSE;
  if (len > CAIRN_MAX_VALUE) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "private %s/%s: value of %zu bytes exceeds %u", self->desc.id,
                 key, len, CAIRN_MAX_VALUE);
    return FALSE;
  }
  CairnNode *node = NODE (self);
  g_autofree char *fk = full_key (self, NULL, key);
  CairnWrite w = { .key = fk,
                   .value = del ? NULL : (value ? value : (const void *)""),
                   .value_len = del ? 0 : len,
                   .flags = del ? CAIRN_WRITE_DELETE : 0 };
  return node->storage.private_write (node->store, &w, 1, error);
}

static gboolean
h_private_put (CairnPlugin *self, const char *key, const void *value,
               size_t len, GError **error)
{
  return private_write_one (self, key, value, len, FALSE, error);
}

static gboolean
h_private_delete (CairnPlugin *self, const char *key, GError **error)
{
  return private_write_one (self, key, NULL, 0, TRUE, error);
}

static gboolean
h_private_iter (CairnPlugin *self, const char *prefix, CairnKvFn fn,
                void *user_data, GError **error)
{
  if (!have_private_store (self, NULL, error))
    return FALSE;
  CairnNode *node = NODE (self);
  g_autofree char *full
      = g_strconcat (self->desc.id, "/", prefix ? prefix : "", NULL);
  StripIter s = { strlen (self->desc.id) + 1, fn, user_data };
  return node->storage.private_iter (node->store, full, strip_ns, &s, error);
}

static void
h_emit_local_event (CairnPlugin *self, const char *type, json_t *attrs)
{
  g_autofree char *prefix = g_strconcat (self->desc.id, ".", NULL);
  if (type == NULL || !g_str_has_prefix (type, prefix)
      || !name_chars_valid (type) || (attrs && !json_is_object (attrs))) {
    g_critical ("plugin %s: local event '%s' dropped: it needs a type "
                "'%s<name>' and object attrs",
                self->desc.id, type ? type : "(null)", prefix);
    json_decref (attrs);
    return;
  }
  g_autoptr (json_t) a = attrs ? attrs : json_object ();
  CairnNode *node = NODE (self);
  CairnEvent ev = { .size = sizeof (CairnEvent),
                    .tx_index = UINT32_MAX,
                    .type = type,
                    .height = node->head.height,
                    .attrs = a };
  cairn_events_publish (node, &ev);
}

/* One table for the whole process: it never dangles, whichever node a
 * plugin was initialised for (tests run several nodes in one process). */
static const CairnHost host_table = {
  .size = sizeof (CairnHost),
  .abi_major = CAIRN_ABI_MAJOR,
  .abi_minor = CAIRN_ABI_MINOR,
  .plugin_id = h_plugin_id,
  .set_data = h_set_data,
  .get_data = h_get_data,
  .logv = h_logv,
  .config_string = h_config_string,
  .config_int = h_config_int,
  .config_bool = h_config_bool,
  .config_strv = h_config_strv,
  .data_dir = h_data_dir,
  .genesis = h_genesis,
  .register_tx_type = h_register_tx_type,
  .register_app = h_register_app,
  .register_route = h_register_route,
  .register_storage = h_register_storage,
  .register_consensus = h_register_consensus,
  .register_blobstore = h_register_blobstore,
  .provide_service = h_provide_service,
  .lookup_service = h_lookup_service,
  .state_get = h_state_get,
  .state_get_json = h_state_get_json,
  .state_put = h_state_put,
  .state_put_json = h_state_put_json,
  .state_delete = h_state_delete,
  .state_iter = h_state_iter,
  .tx_info = h_tx_info,
  .emit_event = h_emit_event,
  .has_role = h_has_role,
  .subscribe = h_subscribe,
  .unsubscribe = h_unsubscribe,
  .timer_add = h_timer_add,
  .timer_remove = h_timer_remove,
  .now_ms = h_now_ms,
  .sha256 = cairn_sha256,
  .ed25519_verify = cairn_sig_ahead_verify,
  .json_canonical = h_json_canonical,
  .json_parse_canonical = h_json_parse_canonical,
  .address_from_pubkey = cairn_address_from_pubkey,
  .address_valid = cairn_address_valid,
  .node_address = h_node_address,
  .node_pubkey = h_node_pubkey,
  .node_sign = h_node_sign,
  .blob_put = h_blob_put,
  .blob_get = h_blob_get,
  .chain_head = h_chain_head,
  .mempool_size = h_mempool_size,
  .block_build = h_block_build,
  .block_validate = h_block_validate,
  .block_info = h_block_info,
  .block_commit = h_block_commit,
  .block_discard = h_block_discard,
  .block_get = h_block_get,
  .peer_broadcast = h_peer_broadcast,
  .peer_send = h_peer_send,
  .peer_list = h_peer_list,
  .submit_tx = h_submit_tx,
  .metric_set = h_metric_set,
  .blob_open = h_blob_open,
  .blob_stat = h_blob_stat,
  .blob_put_stream = h_blob_put_stream,
  .direct_send = h_direct_send,
  .register_direct_handler = h_register_direct_handler,
  .private_get = h_private_get,
  .private_put = h_private_put,
  .private_delete = h_private_delete,
  .private_iter = h_private_iter,
  .emit_local_event = h_emit_local_event,
  .register_stream_route = h_register_stream_route,
  .stream_send = cairn_http_stream_send,
  .stream_close = cairn_http_stream_close,
};

const CairnHost *
cairn_host_table (void)
{
  return &host_table;
}

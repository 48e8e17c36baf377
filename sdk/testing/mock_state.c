/* The mock host's state: the committed key-value space, the block's and
 * each tx's overlays, the host's state_* and has_role, and the private
 * store (see <cairn/testing/mock_host.h>). */
#include <string.h>

#include "mock_private.h"

static void
bytes_free0 (gpointer p)
{
  if (p != NULL)
    g_bytes_unref (p);
}

static int
key_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

GTree *
cairn_test__kv_new (void)
{
  return g_tree_new_full (key_cmp, NULL, g_free, bytes_free0);
}

gboolean
cairn_test__key_valid (const char *key, GError **error)
{
  size_t n = key != NULL ? strlen (key) : 0;
  gboolean ok = n > 0 && n <= CAIRN_MAX_KEY && key[0] != '/';
  for (size_t i = 0; ok && i < n; i++)
    if (key[i] <= 0x20 || key[i] >= 0x7f)
      ok = FALSE;
  if (!ok)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "state key '%s' must be 1-%d printable ASCII characters "
                 "without spaces, not starting with '/'",
                 key != NULL ? key : "(null)", CAIRN_MAX_KEY);
  return ok;
}

/* Whether tree holds key; *value gets its value (NULL = deleted). */
static gboolean
lookup (GTree *tree, const char *key, GBytes **value)
{
  gpointer orig, v;
  if (tree == NULL || !g_tree_lookup_extended (tree, key, &orig, &v))
    return FALSE;
  *value = v;
  return TRUE;
}

GBytes *
cairn_test__read (CairnTestHost *h, CairnTxCtx *tx, const char *full_key)
{
  GBytes *v;
  if (tx != NULL
      && (lookup (tx->writes, full_key, &v)
          || lookup (tx->parent, full_key, &v)))
    return v != NULL ? g_bytes_ref (v) : NULL;
  v = g_tree_lookup (h->state, full_key);
  return v != NULL ? g_bytes_ref (v) : NULL;
}

void
cairn_test__write (CairnTxCtx *tx, const char *full_key, GBytes *value)
{
  g_tree_insert (tx->writes, g_strdup (full_key),
                 value != NULL ? g_bytes_ref (value) : NULL);
}

typedef struct {
  GTree *dst;
  gboolean dst_is_state;
} MergeCtx;

static gboolean
merge_one (gpointer key, gpointer value, gpointer data)
{
  MergeCtx *m = data;
  if (m->dst_is_state && value == NULL)
    g_tree_remove (m->dst, key);
  else
    g_tree_insert (m->dst, g_strdup (key),
                   value != NULL ? g_bytes_ref (value) : NULL);
  return FALSE;
}

void
cairn_test__merge (GTree *writes, GTree *dst, gboolean dst_is_state)
{
  MergeCtx m = { dst, dst_is_state };
  g_tree_foreach (writes, merge_one, &m);
}

/* Copies the entries of src whose key starts with prefix into dst. */
static void
copy_prefix (GTree *src, const char *prefix, GTree *dst)
{
  if (src == NULL)
    return;
  size_t n = strlen (prefix);
  for (GTreeNode *node = g_tree_lower_bound (src, prefix); node != NULL;
       node = g_tree_node_next (node)) {
    const char *k = g_tree_node_key (node);
    if (strncmp (k, prefix, n) != 0)
      break;
    GBytes *v = g_tree_node_value (node);
    g_tree_insert (dst, g_strdup (k), v != NULL ? g_bytes_ref (v) : NULL);
  }
}

gboolean
cairn_test__iter (CairnTestHost *h, CairnTxCtx *tx, const char *full_prefix,
                  size_t strip, CairnKvFn fn, void *user_data)
{
  /* A snapshot: the callback may write without disturbing the walk. */
  g_autoptr (GTree) view = cairn_test__kv_new ();
  copy_prefix (h->state, full_prefix, view);
  if (tx != NULL) {
    copy_prefix (tx->parent, full_prefix, view);
    copy_prefix (tx->writes, full_prefix, view);
  }
  for (GTreeNode *node = g_tree_node_first (view); node != NULL;
       node = g_tree_node_next (node)) {
    GBytes *v = g_tree_node_value (node);
    if (v == NULL)
      continue;
    gsize len;
    const uint8_t *p = g_bytes_get_data (v, &len);
    if (!fn ((const char *)g_tree_node_key (node) + strip, p, len, user_data))
      break;
  }
  return TRUE;
}

/* ---- the host's state functions ---- */

static const char *
id_of (CairnPlugin *self)
{
  return ((CairnTestPlugin *)self)->desc->id;
}

static char *
full_key (CairnPlugin *self, const char *ns, const char *key)
{
  return g_strconcat (ns != NULL ? ns : id_of (self), "/", key, NULL);
}

/* A tx context must belong to the same host as the plugin. */
static void
check_tx (CairnPlugin *self, CairnTxCtx *tx)
{
  if (tx != NULL && tx->host != cairn_test__host_of (self))
    g_error ("mock host: plugin '%s' used a tx context of another host",
             id_of (self));
}

static GBytes *
m_state_get (CairnPlugin *self, CairnTxCtx *tx, const char *ns, const char *key,
             GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  check_tx (self, tx);
  if (!cairn_test__key_valid (key, error))
    return NULL;
  g_autofree char *fk = full_key (self, ns, key);
  GBytes *v = cairn_test__read (h, tx, fk);
  if (v == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "%s: no value", fk);
  return v;
}

static json_t *
m_state_get_json (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                  const char *key, GError **error)
{
  g_autoptr (GBytes) v = m_state_get (self, tx, ns, key, error);
  if (v == NULL)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  json_t *j = cairn_test__cjson_parse (p, len, FALSE, error);
  if (j == NULL)
    g_prefix_error (error, "state %s/%s: ", ns != NULL ? ns : id_of (self),
                    key);
  return j;
}

static gboolean
writable (CairnPlugin *self, CairnTxCtx *tx, const char *key, GError **error)
{
  check_tx (self, tx);
  if (tx == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: state writes are only possible inside a tx",
                       id_of (self));
  return cairn_test__key_valid (key, error);
}

static gboolean
m_state_put (CairnPlugin *self, CairnTxCtx *tx, const char *key,
             const void *value, size_t len, GError **error)
{
  if (!writable (self, tx, key, error))
    return FALSE;
  if (len > CAIRN_MAX_VALUE)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "state %s/%s: value of %zu bytes exceeds %u",
                       id_of (self), key, len, CAIRN_MAX_VALUE);
  g_autofree char *fk = full_key (self, NULL, key);
  g_autoptr (GBytes) b = g_bytes_new (value, len);
  cairn_test__write (tx, fk, b);
  return TRUE;
}

static gboolean
m_state_put_json (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                  const json_t *value, GError **error)
{
  size_t len;
  g_autofree char *text = cairn_test__cjson_dump (value, &len, error);
  if (text == NULL)
    return FALSE;
  return m_state_put (self, tx, key, text, len, error);
}

static gboolean
m_state_delete (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                GError **error)
{
  if (!writable (self, tx, key, error))
    return FALSE;
  g_autofree char *fk = full_key (self, NULL, key);
  cairn_test__write (tx, fk, NULL);
  return TRUE;
}

static gboolean
m_state_iter (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
              const char *prefix, CairnKvFn fn, void *user_data, GError **error)
{
  check_tx (self, tx);
  if (fn == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: state_iter without a function",
                       id_of (self));
  const char *space = ns != NULL ? ns : id_of (self);
  g_autofree char *full
      = g_strconcat (space, "/", prefix != NULL ? prefix : "", NULL);
  return cairn_test__iter (cairn_test__host_of (self), tx, full,
                           strlen (space) + 1, fn, user_data);
}

static gboolean
m_has_role (CairnPlugin *self, CairnTxCtx *tx, const char *address,
            const char *role)
{
  check_tx (self, tx);
  if (address == NULL || role == NULL)
    return FALSE;
  g_autofree char *key = g_strdup_printf ("core/role/%s/%s", address, role);
  g_autoptr (GBytes) v = cairn_test__read (cairn_test__host_of (self), tx, key);
  return v != NULL;
}

/* ---- the private store (durable at once, outside blocks) ---- */

static gboolean
m_private_write (CairnPlugin *self, const char *key, const void *value,
                 size_t len, gboolean del, GError **error)
{
  if (!cairn_test__key_valid (key, error))
    return FALSE;
  if (len > CAIRN_MAX_VALUE)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "private %s/%s: value of %zu bytes exceeds %u",
                       id_of (self), key, len, CAIRN_MAX_VALUE);
  CairnTestHost *h = cairn_test__host_of (self);
  g_autofree char *fk = full_key (self, NULL, key);
  if (del)
    g_tree_remove (h->private, fk);
  else
    g_tree_insert (h->private, g_steal_pointer (&fk),
                   g_bytes_new (value != NULL ? value : "", len));
  return TRUE;
}

static GBytes *
m_private_get (CairnPlugin *self, const char *key, GError **error)
{
  if (!cairn_test__key_valid (key, error))
    return NULL;
  g_autofree char *fk = full_key (self, NULL, key);
  GBytes *v = g_tree_lookup (cairn_test__host_of (self)->private, fk);
  if (v == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "private %s: no value", fk);
    return NULL;
  }
  return g_bytes_ref (v);
}

static gboolean
m_private_put (CairnPlugin *self, const char *key, const void *value,
               size_t len, GError **error)
{
  return m_private_write (self, key, value, len, FALSE, error);
}

static gboolean
m_private_delete (CairnPlugin *self, const char *key, GError **error)
{
  return m_private_write (self, key, NULL, 0, TRUE, error);
}

static gboolean
m_private_iter (CairnPlugin *self, const char *prefix, CairnKvFn fn,
                void *user_data, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (fn == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: private_iter without a function",
                       id_of (self));
  g_autofree char *full
      = g_strconcat (id_of (self), "/", prefix != NULL ? prefix : "", NULL);
  g_autoptr (GTree) view = cairn_test__kv_new ();
  copy_prefix (h->private, full, view);
  size_t strip = strlen (id_of (self)) + 1;
  for (GTreeNode *node = g_tree_node_first (view); node != NULL;
       node = g_tree_node_next (node)) {
    gsize len;
    const uint8_t *p = g_bytes_get_data (g_tree_node_value (node), &len);
    if (!fn ((const char *)g_tree_node_key (node) + strip, p, len, user_data))
      break;
  }
  return TRUE;
}

void
cairn_test__fill_state_table (CairnHost *t)
{
  t->state_get = m_state_get;
  t->state_get_json = m_state_get_json;
  t->state_put = m_state_put;
  t->state_put_json = m_state_put_json;
  t->state_delete = m_state_delete;
  t->state_iter = m_state_iter;
  t->has_role = m_has_role;
  t->private_get = m_private_get;
  t->private_put = m_private_put;
  t->private_delete = m_private_delete;
  t->private_iter = m_private_iter;
}

/* ---- the test's view ---- */

GBytes *
cairn_test_host_state_get (CairnTestHost *h, const char *full_key)
{
  GBytes *v = g_tree_lookup (h->state, full_key);
  return v != NULL ? g_bytes_ref (v) : NULL;
}

char *
cairn_test_host_state_string (CairnTestHost *h, const char *full_key)
{
  GBytes *v = g_tree_lookup (h->state, full_key);
  if (v == NULL)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  return g_strndup (p, len);
}

json_t *
cairn_test_host_state_json (CairnTestHost *h, const char *full_key)
{
  GBytes *v = g_tree_lookup (h->state, full_key);
  g_autoptr (GError) error = NULL;
  if (v == NULL)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  json_t *j = cairn_test__cjson_parse (p, len, FALSE, &error);
  if (j == NULL)
    g_error ("mock host: state %s is not JSON: %s", full_key, error->message);
  return j;
}

void
cairn_test_host_state_set (CairnTestHost *h, const char *full_key,
                           const void *value, size_t len)
{
  g_autoptr (GError) error = NULL;
  if (full_key == NULL || strchr (full_key, '/') == NULL
      || !cairn_test__key_valid (full_key, &error))
    g_error ("mock host: state_set: '%s' is not a full key \"<ns>/<key>\"%s%s",
             full_key != NULL ? full_key : "(null)", error ? ": " : "",
             error ? error->message : "");
  if (value == NULL)
    g_tree_remove (h->state, full_key);
  else
    g_tree_insert (h->state, g_strdup (full_key), g_bytes_new (value, len));
}

guint
cairn_test_host_state_count (CairnTestHost *h, const char *prefix)
{
  guint n = 0;
  size_t len = strlen (prefix);
  for (GTreeNode *node = g_tree_lower_bound (h->state, prefix); node != NULL;
       node = g_tree_node_next (node)) {
    if (strncmp (g_tree_node_key (node), prefix, len) != 0)
      break;
    n++;
  }
  return n;
}

GBytes *
cairn_test_host_private_get (CairnTestHost *h, const char *full_key)
{
  GBytes *v = g_tree_lookup (h->private, full_key);
  return v != NULL ? g_bytes_ref (v) : NULL;
}

/* State overlays (see state.h). */
#include "state.h"

#include <string.h>

#include <cairn/error.h>

/* Entry value: a GBytes, or DELETED. */
#define DELETED ((GBytes *)&deleted_marker)
static const char deleted_marker = 0;

struct CairnOverlay {
  CairnStateBase base;
  CairnOverlay *parent;
  GHashTable *writes; /* char* key -> GBytes* or DELETED */
  /* Committed values read through this (root) overlay, for the LtHash:
   * key -> GBytes* or DELETED (absent). Only the root overlay caches. */
  GHashTable *base_cache;
};

static void
value_free (gpointer p)
{
  if (p != DELETED && p != NULL)
    g_bytes_unref (p);
}

CairnOverlay *
cairn_overlay_new (const CairnStateBase *base, CairnOverlay *parent)
{
  CairnOverlay *ov = g_new0 (CairnOverlay, 1);
  ov->base = *base;
  ov->parent = parent;
  ov->writes
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, value_free);
  if (parent == NULL)
    ov->base_cache
        = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, value_free);
  return ov;
}

void
cairn_overlay_free (CairnOverlay *ov)
{
  if (ov == NULL)
    return;
  g_hash_table_destroy (ov->writes);
  if (ov->base_cache)
    g_hash_table_destroy (ov->base_cache);
  g_free (ov);
}

static CairnOverlay *
root_of (CairnOverlay *ov)
{
  while (ov->parent)
    ov = ov->parent;
  return ov;
}

/* Committed value of key (cached in the root overlay). */
static GBytes *
base_get (CairnOverlay *root, const char *key, GError **error)
{
  gpointer cached;
  if (g_hash_table_lookup_extended (root->base_cache, key, NULL, &cached))
    return cached == DELETED ? NULL : g_bytes_ref (cached);
  if (root->base.iface == NULL)
    return NULL;
  GError *local = NULL;
  GBytes *v
      = root->base.iface->state_get (root->base.store, key, CAIRN_HEAD, &local);
  if (v == NULL) {
    if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      g_propagate_error (error, local);
      return NULL;
    }
    g_error_free (local);
  }
  g_hash_table_insert (root->base_cache, g_strdup (key),
                       v ? g_bytes_ref (v) : DELETED);
  return v;
}

GBytes *
cairn_overlay_get (CairnOverlay *ov, const char *key, GError **error)
{
  for (CairnOverlay *o = ov; o; o = o->parent) {
    gpointer v;
    if (g_hash_table_lookup_extended (o->writes, key, NULL, &v))
      return v == DELETED ? NULL : g_bytes_ref (v);
  }
  return base_get (root_of (ov), key, error);
}

void
cairn_overlay_put (CairnOverlay *ov, const char *key, GBytes *value)
{
  g_hash_table_replace (ov->writes, g_strdup (key), g_bytes_ref (value));
}

void
cairn_overlay_delete (CairnOverlay *ov, const char *key)
{
  g_hash_table_replace (ov->writes, g_strdup (key), DELETED);
}

void
cairn_overlay_merge_into_parent (CairnOverlay *child)
{
  g_return_if_fail (child->parent != NULL);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, child->writes);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    g_hash_table_iter_steal (&it);
    g_hash_table_replace (child->parent->writes, k, v);
  }
}

guint
cairn_overlay_size (CairnOverlay *ov)
{
  return g_hash_table_size (ov->writes);
}

/* ---- iteration ---------------------------------------------------------- */

typedef struct {
  GTree *merged; /* key -> GBytes* or DELETED (not owned by the tree) */
  GPtrArray *owned;
  const char *prefix;
} IterCollect;

static gboolean
collect_base (const char *key, const uint8_t *value, size_t len, void *data)
{
  IterCollect *c = data;
  GBytes *b = g_bytes_new (value, len);
  char *k = g_strdup (key);
  g_ptr_array_add (c->owned, b);
  g_ptr_array_add (c->owned, k);
  g_tree_insert (c->merged, k, b);
  return TRUE;
}

static void
collect_layer (IterCollect *c, CairnOverlay *o)
{
  GHashTableIter it;
  gpointer k, v;
  size_t plen = strlen (c->prefix);
  g_hash_table_iter_init (&it, o->writes);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (strncmp (k, c->prefix, plen) == 0)
      g_tree_insert (c->merged, k, v);
}

typedef struct {
  CairnKvFn fn;
  void *user_data;
} IterEmit;

static gboolean
emit_one (gpointer key, gpointer value, gpointer data)
{
  IterEmit *e = data;
  if (value == DELETED)
    return FALSE;
  gsize len;
  const uint8_t *p = g_bytes_get_data (value, &len);
  return !e->fn (key, p, len, e->user_data);
}

static int
key_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (a, b);
}

gboolean
cairn_overlay_iter (CairnOverlay *ov, const char *prefix, CairnKvFn fn,
                    void *user_data, GError **error)
{
  g_autoptr (GPtrArray) owned = g_ptr_array_new ();
  IterCollect c = { g_tree_new (key_cmp), owned, prefix };
  CairnOverlay *root = root_of (ov);
  gboolean ok = TRUE;
  if (root->base.iface)
    ok = root->base.iface->state_iter (root->base.store, prefix, CAIRN_HEAD,
                                       collect_base, &c, error);
  if (ok) {
    /* Apply layers from the bottom up so the nearest write wins. */
    g_autoptr (GPtrArray) chain = g_ptr_array_new ();
    for (CairnOverlay *o = ov; o; o = o->parent)
      g_ptr_array_add (chain, o);
    for (guint i = chain->len; i > 0; i--)
      collect_layer (&c, chain->pdata[i - 1]);
    IterEmit e = { fn, user_data };
    g_tree_foreach (c.merged, emit_one, &e);
  }
  g_tree_destroy (c.merged);
  for (guint i = 0; i < owned->len; i += 2) {
    g_bytes_unref (owned->pdata[i]);
    g_free (owned->pdata[i + 1]);
  }
  return ok;
}

/* ---- write-set ---------------------------------------------------------- */

static int
write_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (((const CairnWrite *)a)->key, ((const CairnWrite *)b)->key);
}

GArray *
cairn_overlay_write_set (CairnOverlay *ov, const CairnLtHash *old,
                         CairnLtHash *new_hash, GError **error)
{
  g_return_val_if_fail (ov->parent == NULL, NULL);
  GArray *ws = g_array_sized_new (FALSE, TRUE, sizeof (CairnWrite),
                                  g_hash_table_size (ov->writes));
  if (new_hash)
    *new_hash = *old;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, ov->writes);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    GError *local = NULL;
    g_autoptr (GBytes) prev = base_get (ov, k, &local);
    if (local) {
      g_propagate_error (error, local);
      g_array_unref (ws);
      return NULL;
    }
    if (prev && new_hash) {
      gsize plen;
      const void *pp = g_bytes_get_data (prev, &plen);
      cairn_lthash_remove (new_hash, k, pp, plen);
    }
    CairnWrite w = { .key = k };
    if (v == DELETED) {
      w.flags = CAIRN_WRITE_DELETE;
    } else {
      gsize len;
      w.value = g_bytes_get_data (v, &len);
      w.value_len = len;
      if (w.value == NULL)
        w.value = (const uint8_t *)"";
      if (new_hash)
        cairn_lthash_add (new_hash, k, w.value, w.value_len);
    }
    /* Deleting an absent key changes nothing; keep the write-set minimal. */
    if (v == DELETED && prev == NULL)
      continue;
    g_array_append_val (ws, w);
  }
  g_array_sort (ws, write_cmp);
  return ws;
}

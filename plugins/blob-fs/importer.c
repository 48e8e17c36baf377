/* blob-fs: put. A stream becomes a balanced UnixFS DAG, built while the
 * stream is read: one chunk in memory, plus at most max_links pending
 * links per level of the tree (the right edge of the DAG).
 *
 * The shape is go-ipfs's balanced layout (go-unixfs importer/balanced):
 * leaves of chunk_size bytes (the last one shorter), grouped max_links at
 * a time into inner nodes, those grouped max_links at a time, and so on;
 * the root is the first level that holds a single node; the empty stream
 * is one empty leaf. A full group is written as soon as it is full; at
 * the end every level below the top is closed into one more node, even a
 * node of a single link, exactly as go-ipfs's fillNodeRec does. */
#include "blob_fs.h"

#include <string.h>

typedef struct {
  BlobFsBatch *batch;
  size_t max_links;
  GPtrArray *levels; /* GArray of BlobFsLink; [0] holds leaves */
  GByteArray *node;  /* the node being encoded */
} Builder;

/* Stores the node in b->node; link gets its digest and Tsize (its size
 * plus the Tsize of its links, i.e. the whole subgraph). */
static gboolean
store_node (Builder *b, uint64_t below, BlobFsLink *link, GError **error)
{
  blob_fs_sha256 (b->node->data, b->node->len, link->digest);
  link->tsize = b->node->len + below;
  return blob_fs_batch_put (b->batch, link->digest, b->node->data, b->node->len,
                            error);
}

static GArray *
level (Builder *b, guint k)
{
  while (b->levels->len <= k)
    g_ptr_array_add (b->levels,
                     g_array_new (FALSE, FALSE, sizeof (BlobFsLink)));
  return b->levels->pdata[k];
}

static gboolean add_link (Builder *b, guint k, const BlobFsLink *link,
                          GError **error);

/* Closes level k into one inner node, linked from level k + 1. */
static gboolean
close_level (Builder *b, guint k, GError **error)
{
  GArray *links = level (b, k);
  BlobFsLink up;
  uint64_t below = 0;

  /* Every block this node links to must be durable before it is. */
  if (!blob_fs_batch_commit (b->batch, error))
    return FALSE;
  for (guint i = 0; i < links->len; i++)
    below += g_array_index (links, BlobFsLink, i).tsize;
  blob_fs_encode_inner (b->node, (const BlobFsLink *)links->data, links->len,
                        &up.filesize);
  if (!store_node (b, below, &up, error))
    return FALSE;
  g_array_set_size (links, 0);
  return add_link (b, k + 1, &up, error);
}

static gboolean
add_link (Builder *b, guint k, const BlobFsLink *link, GError **error)
{
  GArray *links = level (b, k);
  g_array_append_val (links, *link);
  return links->len < b->max_links || close_level (b, k, error);
}

static gboolean
is_top (Builder *b, guint k)
{
  for (guint j = k + 1; j < b->levels->len; j++)
    if (((GArray *)b->levels->pdata[j])->len > 0)
      return FALSE;
  return TRUE;
}

/* After the last leaf: the root's link. */
static gboolean
finish (Builder *b, BlobFsLink *root, GError **error)
{
  for (guint k = 0; k < b->levels->len; k++) {
    GArray *links = b->levels->pdata[k];
    if (links->len == 1 && is_top (b, k)) {
      *root = g_array_index (links, BlobFsLink, 0);
      return blob_fs_batch_commit (b->batch, error);
    }
    if (links->len > 0 && !close_level (b, k, error))
      return FALSE;
  }
  g_assert_not_reached ();
}

gboolean
blob_fs_import (BlobFsStore *store, GInputStream *in, size_t chunk_size,
                size_t max_links, uint8_t digest[BLOB_FS_DIGEST_LEN],
                GCancellable *cancellable, GError **error)
{
  g_autoptr (BlobFsBatch) batch = blob_fs_batch_new (store);
  g_autoptr (GPtrArray) levels
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  g_autoptr (GByteArray) node = g_byte_array_sized_new (chunk_size + 32);
  g_autofree uint8_t *chunk = g_malloc (chunk_size);
  Builder b = { batch, max_links, levels, node };
  gboolean any = FALSE;
  BlobFsLink root;

  g_return_val_if_fail (chunk_size > 0 && max_links >= 2, FALSE);
  for (;;) {
    gsize n = 0;
    BlobFsLink leaf;
    if (g_cancellable_set_error_if_cancelled (cancellable, error)
        || !g_input_stream_read_all (in, chunk, chunk_size, &n, cancellable,
                                     error)) {
      g_prefix_error (error, "blob-fs: reading the blob to store: ");
      return FALSE;
    }
    if (n == 0 && any)
      break;
    blob_fs_encode_leaf (node, chunk, n);
    leaf.filesize = n;
    if (!store_node (&b, 0, &leaf, error) || !add_link (&b, 0, &leaf, error))
      return FALSE;
    any = TRUE;
    if (n < chunk_size)
      break;
  }
  if (!finish (&b, &root, error))
    return FALSE;
  memcpy (digest, root.digest, BLOB_FS_DIGEST_LEN);
  return TRUE;
}

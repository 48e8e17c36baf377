/* blob-fs: get. A GInputStream over [offset, offset + length) of a blob
 * that walks the DAG depth first, holding only the path from the root to
 * the current leaf (one block per level, buffers reused). It starts by
 * descending from the root along the UnixFS blocksizes to the leaf that
 * holds `offset`, so a range read touches only the blocks it needs.
 *
 * Every block is hashed again as it is read (blob_fs_store_read) and the
 * file size it holds checked against its parent's blocksize for it, so the
 * stream fails with CAIRN_ERROR_CORRUPT rather than return a wrong byte. The
 * object uses only the store (immutable, reference counted), never the host, so
 * GIO may run its read() on a worker thread. */
#include "blob_fs.h"

#include <string.h>

typedef struct {
  GByteArray *block; /* the block's bytes; node points into them */
  BlobFsNode node;
  guint next; /* the next link to descend into */
} Frame;

/* GType names are process-wide: prefixed so no other plugin collides. */
#define BLOB_FS_TYPE_READER (cairn_blob_fs_reader_get_type ())
G_DECLARE_FINAL_TYPE (CairnBlobFsReader, cairn_blob_fs_reader, CAIRN_BLOB_FS,
                      READER, GInputStream)

struct _CairnBlobFsReader {
  GInputStream parent;
  BlobFsStore *store;
  char *cid; /* as the caller wrote it, for messages */
  Frame frames[BLOB_FS_MAX_DEPTH];
  guint depth;             /* frames in use: [0] root .. [depth-1] current */
  const uint8_t *data;     /* the next bytes to hand out, in frames[depth-1] */
  size_t data_left;        /* (only the node's own data, not its children) */
  uint64_t pos, remaining; /* blob offset of data; bytes still to give */
  GError *failed;          /* the first error; read() repeats it */
};

G_DEFINE_FINAL_TYPE (CairnBlobFsReader, cairn_blob_fs_reader,
                     G_TYPE_INPUT_STREAM)

static void
release_frames (CairnBlobFsReader *self)
{
  for (guint i = 0; i < BLOB_FS_MAX_DEPTH; i++) {
    blob_fs_node_clear (&self->frames[i].node);
    g_clear_pointer (&self->frames[i].block, g_byte_array_unref);
  }
  self->depth = 0;
  self->data = NULL;
  self->data_left = 0;
}

/* Reads the block into frame (reusing its buffer) and decodes it. */
static gboolean
load (BlobFsStore *store, const char *cid,
      const uint8_t digest[BLOB_FS_DIGEST_LEN], Frame *frame, GError **error)
{
  blob_fs_node_clear (&frame->node);
  frame->next = 0;
  if (frame->block == NULL)
    frame->block = g_byte_array_new ();
  if (!blob_fs_store_read (store, digest, frame->block, error)) {
    g_prefix_error (error, "blob-fs: blob %s: ", cid);
    return FALSE;
  }
  if (!blob_fs_node_decode (frame->block->data, frame->block->len, &frame->node,
                            error)) {
    g_autofree char *block = blob_fs_cid_v1 (digest);
    g_prefix_error (
        error, "blob-fs: blob %s: block %s is not a UnixFS file node: ", cid,
        block);
    return FALSE;
  }
  return TRUE;
}

/* The root of the blob named cid, in frame. */
static gboolean
load_root (BlobFsStore *store, const char *cid, Frame *frame, GError **error)
{
  uint8_t digest[BLOB_FS_DIGEST_LEN];
  g_autoptr (GError) local = NULL;

  if (!blob_fs_cid_parse (cid, digest, error)) {
    g_prefix_error (error, "blob-fs: ");
    return FALSE;
  }
  if (load (store, cid, digest, frame, &local))
    return TRUE;
  if (g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "blob-fs: no blob %s in %s", cid, blob_fs_store_dir (store));
    return FALSE;
  }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
blob_fs_blob_size (BlobFsStore *store, const char *cid, uint64_t *size,
                   GError **error)
{
  Frame root = { 0 };
  gboolean ok = load_root (store, cid, &root, error);
  if (ok)
    *size = root.node.filesize;
  blob_fs_node_clear (&root.node);
  g_clear_pointer (&root.block, g_byte_array_unref);
  return ok;
}

/* Descends into link i of the current node. */
static gboolean
push_child (CairnBlobFsReader *self, guint i, GError **error)
{
  Frame *parent = &self->frames[self->depth - 1];
  const BlobFsLink *link = &g_array_index (parent->node.links, BlobFsLink, i);
  g_autoptr (GError) local = NULL;
  g_autofree char *block = blob_fs_cid_v1 (link->digest);

  if (self->depth == BLOB_FS_MAX_DEPTH) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-fs: blob %s: block %s is deeper than %u levels",
                 self->cid, block, BLOB_FS_MAX_DEPTH);
    return FALSE;
  }
  Frame *f = &self->frames[self->depth];
  parent->next = i + 1;
  if (!load (self->store, self->cid, link->digest, f, &local)) {
    /* A block missing below a stored root: the store is damaged. */
    if (local->domain == CAIRN_ERROR && local->code == CAIRN_ERROR_NOT_FOUND)
      local->code = CAIRN_ERROR_CORRUPT;
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (f->node.filesize != link->filesize) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-fs: blob %s: block %s holds %" G_GUINT64_FORMAT
                 " bytes of the file but its parent says %" G_GUINT64_FORMAT,
                 self->cid, block, f->node.filesize, link->filesize);
    return FALSE;
  }
  self->depth++;
  self->data = f->node.data;
  self->data_left = f->node.data_len;
  return TRUE;
}

/* From the root, down to the node whose own data holds pos. */
static gboolean
seek (CairnBlobFsReader *self, uint64_t pos, GError **error)
{
  for (;;) {
    const BlobFsNode *node = &self->frames[self->depth - 1].node;
    guint n = node->links != NULL ? node->links->len : 0, i;

    if (pos < node->data_len) {
      self->data = node->data + pos;
      self->data_left = node->data_len - pos;
      return TRUE;
    }
    pos -= node->data_len;
    self->data_left = 0;
    for (i = 0; i < n; i++) {
      uint64_t size = g_array_index (node->links, BlobFsLink, i).filesize;
      if (pos < size)
        break;
      pos -= size;
    }
    if (i == n) { /* the end of the blob */
      self->frames[self->depth - 1].next = n;
      return TRUE;
    }
    if (!push_child (self, i, error))
      return FALSE;
  }
}

/* Until there are bytes to give or the DAG is done. */
static gboolean
advance (CairnBlobFsReader *self, GError **error)
{
  while (self->data_left == 0 && self->depth > 0) {
    Frame *top = &self->frames[self->depth - 1];
    if (top->node.links != NULL && top->next < top->node.links->len) {
      if (!push_child (self, top->next, error))
        return FALSE;
    } else {
      self->depth--;
    }
  }
  return TRUE;
}

static gssize
reader_read (GInputStream *stream, void *buffer, gsize count,
             GCancellable *cancellable, GError **error)
{
  CairnBlobFsReader *self = CAIRN_BLOB_FS_READER (stream);

  if (self->failed != NULL) {
    g_propagate_error (error, g_error_copy (self->failed));
    return -1;
  }
  if (self->remaining == 0 || count == 0)
    return 0;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return -1;
  if (!advance (self, &self->failed))
    goto fail;
  if (self->data_left == 0) {
    g_set_error (&self->failed, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-fs: blob %s ends at byte %" G_GUINT64_FORMAT
                 ", %" G_GUINT64_FORMAT " bytes before its size",
                 self->cid, self->pos, self->remaining);
    goto fail;
  }
  size_t n = MIN (MIN (count, (gsize)G_MAXSSIZE), self->data_left);
  if (n > self->remaining)
    n = (size_t)self->remaining;
  memcpy (buffer, self->data, n);
  self->data += n;
  self->data_left -= n;
  self->pos += n;
  self->remaining -= n;
  return (gssize)n;

fail:
  release_frames (self);
  g_propagate_error (error, g_error_copy (self->failed));
  return -1;
}

static gboolean
reader_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  release_frames (CAIRN_BLOB_FS_READER (stream));
  return TRUE;
}

static void
reader_finalize (GObject *object)
{
  CairnBlobFsReader *self = CAIRN_BLOB_FS_READER (object);
  release_frames (self);
  blob_fs_store_unref (self->store);
  g_free (self->cid);
  g_clear_error (&self->failed);
  G_OBJECT_CLASS (cairn_blob_fs_reader_parent_class)->finalize (object);
}

static void
cairn_blob_fs_reader_class_init (CairnBlobFsReaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = reader_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = reader_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = reader_close;
}

static void
cairn_blob_fs_reader_init (CairnBlobFsReader *self)
{
}

GInputStream *
blob_fs_reader_new (BlobFsStore *store, const char *cid, uint64_t offset,
                    uint64_t length, GError **error)
{
  g_autoptr (CairnBlobFsReader) self = g_object_new (BLOB_FS_TYPE_READER, NULL);

  self->store = blob_fs_store_ref (store);
  self->cid = g_strdup (cid);
  if (!load_root (store, cid, &self->frames[0], error))
    return NULL;
  self->depth = 1;

  uint64_t size = self->frames[0].node.filesize;
  if (offset > size) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "blob-fs: offset %" G_GUINT64_FORMAT
                 " is beyond the end of blob %s (%" G_GUINT64_FORMAT " bytes)",
                 offset, cid, size);
    return NULL;
  }
  self->pos = offset;
  self->remaining = MIN (length, size - offset);
  if (self->remaining > 0 && !seek (self, offset, error))
    return NULL;
  return G_INPUT_STREAM (g_steal_pointer (&self));
}

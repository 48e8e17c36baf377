/* blob-ipfs: get and stat. A GInputStream over [offset, offset + length)
 * of a blob in which no byte is handed out before it was checked against
 * the hash of the block it belongs to.
 *
 * The root block comes first (/api/v0/block/get, hashed here), when the
 * stream is made: it gives the size and the links, and a missing blob fails
 * there. On the first read() a fetcher thread walks the DAG depth first,
 * skipping subtrees outside the range by their UnixFS blocksizes:
 *
 *  - an inner node is fetched with /api/v0/block/get and hashed;
 *  - a leaf's bytes come from one streamed /api/v0/cat?offset=&length=
 *    that covers the leaves of the range (whole leaves: the first one from
 *    its start, the last one to its end); each leaf's bytes are encoded as
 *    the leaf block blob-fs would write (unixfs.c) and hashed, and compared
 *    with the digest its parent links to. A link is taken for such a leaf
 *    when its Tsize is exactly that block's size; any other child is
 *    fetched as a block (so a DAG of another shape is read too, through
 *    block/get), and a wrong guess can only fail the check, never pass
 *    wrong bytes.
 *
 * Checked bytes go into a queue of at most QUEUE_MAX bytes that read()
 * takes from; a failure reaches read() after the good bytes before it.
 * The fetcher owns its own libsoup session (libsoup's sync I/O stays on
 * the thread that sent), so read() may run on any thread, as GIO's async
 * reads do. */
#include "blob_ipfs.h"

#include <string.h>

#define QUEUE_MAX (1u << 20)
/* Read forward over a gap in the open /cat rather than ask again. */
#define SKIP_MAX (1u << 20)

#define BLOB_IPFS_TYPE_READER (cairn_blob_ipfs_reader_get_type ())
G_DECLARE_FINAL_TYPE (CairnBlobIpfsReader, cairn_blob_ipfs_reader,
                      CAIRN_BLOB_IPFS, READER, GInputStream)

struct _CairnBlobIpfsReader {
  GInputStream parent;
  BlobIpfs *b;
  char *cid;           /* as the caller wrote it, for messages */
  char *cid_v1;        /* for the daemon */
  GBytes *root;        /* the root block, checked */
  uint64_t size;       /* the blob's */
  uint64_t start, end; /* the range */

  /* Shared with the fetcher, under lock. */
  GMutex lock;
  GCond cond;
  GQueue ready; /* GBytes, checked, in order */
  gsize queued;
  gboolean done; /* the fetcher finished; error says how */
  GError *error;
  gboolean stop; /* closing: the fetcher gives up */

  GThread *thread;
  GCancellable *fetch_cancel;

  /* read()'s own. */
  GBytes *cur;
  gsize cur_used;
  uint64_t given;
};

G_DEFINE_FINAL_TYPE (CairnBlobIpfsReader, cairn_blob_ipfs_reader,
                     G_TYPE_INPUT_STREAM)

/* ---- the fetcher ----------------------------------------------------------
 */

typedef struct {
  CairnBlobIpfsReader *r;
  SoupSession *session;
  GByteArray *enc;      /* a leaf encoded again, to hash */
  SoupMessage *cat_msg; /* the open /cat, if any */
  GInputStream *cat;
  uint64_t cat_pos, cat_end; /* where it is, where it ends */
} Walk;

static size_t
varint_len (uint64_t v)
{
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* Is the child a leaf as the default importer writes it? Its Tsize is then
 * its block's size: PBNode{Data: UnixFS{Type, Data, filesize}}. */
static gboolean
is_leaf (const BlobFsLink *link)
{
  uint64_t n = link->filesize;
  if (n == 0 || n > BLOB_FS_MAX_BLOCK)
    return FALSE;
  uint64_t ufs = 2 + 1 + varint_len (n) + n + 1 + varint_len (n);
  return link->tsize == 1 + varint_len (ufs) + ufs;
}

/* Hands [pos, pos + size) of the blob, or its part in the range, to
 * read(), once the queue has room. */
static gboolean
emit (Walk *w, GBytes *bytes, uint64_t pos, GError **error)
{
  CairnBlobIpfsReader *r = w->r;
  uint64_t len = g_bytes_get_size (bytes);
  uint64_t a = MAX (pos, r->start), e = MIN (pos + len, r->end);
  gboolean stopped;

  if (a >= e)
    return TRUE;
  GBytes *part
      = g_bytes_new_from_bytes (bytes, (gsize)(a - pos), (gsize)(e - a));
  g_mutex_lock (&r->lock);
  while (r->queued >= QUEUE_MAX && !r->stop)
    g_cond_wait (&r->cond, &r->lock);
  stopped = r->stop;
  if (!stopped) {
    g_queue_push_tail (&r->ready, part);
    r->queued += (gsize)(e - a);
    g_cond_broadcast (&r->cond);
  }
  g_mutex_unlock (&r->lock);
  if (stopped) {
    g_bytes_unref (part);
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                         "the stream was closed");
    return FALSE;
  }
  return TRUE;
}

static void
cat_close (Walk *w)
{
  if (w->cat != NULL)
    blob_ipfs_abandon (w->cat);
  g_clear_object (&w->cat);
  g_clear_object (&w->cat_msg);
}

/* Opens /cat at pos, where a leaf of n bytes starts, up to the end of the
 * leaf that holds the range's last byte if the leaves that follow are as
 * long (the importer's fixed chunks; else cat_read asks again). */
static gboolean
cat_open (Walk *w, uint64_t pos, uint64_t n, GError **error)
{
  CairnBlobIpfsReader *r = w->r;
  uint64_t leaves = (r->end - pos + n - 1) / n;
  uint64_t len = MAX (n, MIN (r->size - pos, leaves * n));
  g_autofree char *query = g_strdup_printf (
      "arg=%s&offset=%" G_GUINT64_FORMAT "&length=%" G_GUINT64_FORMAT "%s",
      r->cid_v1, pos, len, r->b->offline ? "&offline=true" : "");

  cat_close (w);
  w->cat_msg = blob_ipfs_message (r->b, "cat", query);
  w->cat = blob_ipfs_send (r->b, w->session, w->cat_msg, NULL, r->fetch_cancel,
                           error);
  if (w->cat == NULL) {
    g_clear_object (&w->cat_msg);
    g_prefix_error (error, "blob %s: ", r->cid);
    return FALSE;
  }
  w->cat_pos = pos;
  w->cat_end = pos + len;
  return TRUE;
}

/* n bytes from /cat, reading on where the open one is, or asking again. */
static gboolean
cat_read (Walk *w, uint64_t pos, guint8 *buf, gsize n, GError **error)
{
  CairnBlobIpfsReader *r = w->r;
  g_autoptr (GError) local = NULL;
  gsize got = 0;

  if (w->cat != NULL && w->cat_pos < pos && pos - w->cat_pos <= SKIP_MAX
      && pos + n <= w->cat_end) {
    while (w->cat_pos < pos) {
      gssize k = g_input_stream_skip (w->cat, (gsize)(pos - w->cat_pos),
                                      r->fetch_cancel, &local);
      if (k <= 0)
        break;
      w->cat_pos += (uint64_t)k;
    }
    g_clear_error (&local);
  }
  if (w->cat == NULL || w->cat_pos != pos || pos + n > w->cat_end) {
    if (!cat_open (w, pos, n, error))
      return FALSE;
  }
  if (!g_input_stream_read_all (w->cat, buf, n, &got, r->fetch_cancel,
                                &local)) {
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "blob-ipfs: blob %s: reading POST /api/v0/cat from the IPFS "
                 "daemon at %s at byte %" G_GUINT64_FORMAT ": %s",
                 r->cid, r->b->api_url, pos + got, local->message);
    cat_close (w);
    return FALSE;
  }
  if (got < n) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "blob-ipfs: blob %s: POST /api/v0/cat from the IPFS daemon "
                 "at %s ended at byte %" G_GUINT64_FORMAT
                 ", before byte %" G_GUINT64_FORMAT
                 " of the blob's %" G_GUINT64_FORMAT,
                 r->cid, r->b->api_url, pos + got, pos + n, r->size);
    cat_close (w);
    return FALSE;
  }
  w->cat_pos = pos + n;
  return TRUE;
}

static gboolean
leaf_from_cat (Walk *w, const BlobFsLink *link, uint64_t pos, GError **error)
{
  CairnBlobIpfsReader *r = w->r;
  gsize n = (gsize)link->filesize;
  guint8 *buf = g_malloc (n);
  uint8_t digest[BLOB_FS_DIGEST_LEN];

  if (!cat_read (w, pos, buf, n, error)) {
    g_free (buf);
    return FALSE;
  }
  blob_fs_encode_leaf (w->enc, buf, n);
  blob_fs_sha256 (w->enc->data, w->enc->len, digest);
  if (memcmp (digest, link->digest, BLOB_FS_DIGEST_LEN) != 0) {
    g_autofree char *block = blob_fs_cid_v1 (link->digest);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-ipfs: blob %s: the IPFS daemon at %s returned wrong "
                 "bytes: bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                 " from POST /api/v0/cat do not match their block %s",
                 r->cid, r->b->api_url, pos, pos + n - 1, block);
    g_free (buf);
    return FALSE;
  }
  g_autoptr (GBytes) bytes = g_bytes_new_take (buf, n);
  return emit (w, bytes, pos, error);
}

static gboolean walk (Walk *w, GBytes *block, const BlobFsNode *node,
                      uint64_t pos, guint depth, GError **error);

/* A child fetched as a block and walked. */
static gboolean
child (Walk *w, const BlobFsLink *link, uint64_t pos, guint depth,
       GError **error)
{
  CairnBlobIpfsReader *r = w->r;
  g_autofree char *cid = blob_fs_cid_v1 (link->digest);
  BlobFsNode node;

  if (depth + 1 >= BLOB_FS_MAX_DEPTH) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-ipfs: blob %s: block %s is deeper than %u levels",
                 r->cid, cid, BLOB_FS_MAX_DEPTH);
    return FALSE;
  }
  g_autoptr (GBytes) block = blob_ipfs_block_get (
      r->b, w->session, r->cid, FALSE, link->digest, r->fetch_cancel, error);
  if (block == NULL)
    return FALSE;
  gsize len;
  const guint8 *data = g_bytes_get_data (block, &len);
  if (!blob_fs_node_decode (data, len, &node, error)) {
    g_prefix_error (error,
                    "blob-ipfs: blob %s: block %s is not a UnixFS file node: ",
                    r->cid, cid);
    return FALSE;
  }
  gboolean ok;
  if (node.filesize != link->filesize) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-ipfs: blob %s: block %s holds %" G_GUINT64_FORMAT
                 " bytes of the file but its parent says %" G_GUINT64_FORMAT,
                 r->cid, cid, node.filesize, link->filesize);
    ok = FALSE;
  } else {
    ok = walk (w, block, &node, pos, depth + 1, error);
  }
  blob_fs_node_clear (&node);
  return ok;
}

/* The node whose file bytes start at pos: its own data, then its links. */
static gboolean
walk (Walk *w, GBytes *block, const BlobFsNode *node, uint64_t pos, guint depth,
      GError **error)
{
  CairnBlobIpfsReader *r = w->r;

  if (node->data_len > 0) {
    const guint8 *data = g_bytes_get_data (block, NULL);
    g_autoptr (GBytes) own = g_bytes_new_from_bytes (
        block, (gsize)(node->data - data), node->data_len);
    if (!emit (w, own, pos, error))
      return FALSE;
    pos += node->data_len;
  }
  for (guint i = 0; node->links != NULL && i < node->links->len; i++) {
    const BlobFsLink *link = &g_array_index (node->links, BlobFsLink, i);
    if (pos >= r->end)
      return TRUE;
    if (pos + link->filesize > r->start
        && !(is_leaf (link) ? leaf_from_cat (w, link, pos, error)
                            : child (w, link, pos, depth, error)))
      return FALSE;
    pos += link->filesize;
  }
  return TRUE;
}

static gpointer
fetch_main (gpointer data)
{
  CairnBlobIpfsReader *r = data;
  Walk w = { r, blob_ipfs_session (r->b), g_byte_array_new () };
  GError *error = NULL;
  BlobFsNode root;
  gsize len;
  const guint8 *block = g_bytes_get_data (r->root, &len);

  /* Decoded once already, by blob_ipfs_reader_new. */
  if (blob_fs_node_decode (block, len, &root, &error)) {
    walk (&w, r->root, &root, 0, 0, &error); /* FALSE sets error */
    blob_fs_node_clear (&root);
  }
  cat_close (&w);
  g_object_unref (w.session);
  g_byte_array_unref (w.enc);

  g_mutex_lock (&r->lock);
  r->done = TRUE;
  r->error = error;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return NULL;
}

/* ---- the stream -----------------------------------------------------------
 */

static void
wake (GCancellable *cancellable, gpointer data)
{
  CairnBlobIpfsReader *r = data;
  g_mutex_lock (&r->lock);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* The next checked bytes into r->cur; FALSE + error when there are none. */
static gboolean
next_bytes (CairnBlobIpfsReader *r, GCancellable *cancellable, GError **error)
{
  gulong id = 0;

  if (r->thread == NULL)
    r->thread = g_thread_new ("blob-ipfs-get", fetch_main, r);
  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (wake), r, NULL);
  g_mutex_lock (&r->lock);
  while (g_queue_is_empty (&r->ready) && !r->done
         && !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&r->cond, &r->lock);
  if (!g_queue_is_empty (&r->ready)) {
    r->cur = g_queue_pop_head (&r->ready);
    r->cur_used = 0;
    r->queued -= g_bytes_get_size (r->cur);
    g_cond_broadcast (&r->cond);
  } else if (g_cancellable_is_cancelled (cancellable)) {
    g_cancellable_set_error_if_cancelled (cancellable, error);
  } else if (r->error != NULL) {
    g_propagate_error (error, g_error_copy (r->error));
  } else {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-ipfs: blob %s ends at byte %" G_GUINT64_FORMAT
                 ", before the %" G_GUINT64_FORMAT " bytes its root says",
                 r->cid, r->start + r->given, r->size);
  }
  g_mutex_unlock (&r->lock);
  if (id != 0)
    g_cancellable_disconnect (cancellable, id);
  return r->cur != NULL;
}

static gssize
reader_read (GInputStream *stream, void *buffer, gsize count,
             GCancellable *cancellable, GError **error)
{
  CairnBlobIpfsReader *r = CAIRN_BLOB_IPFS_READER (stream);

  if (count == 0 || r->given == r->end - r->start)
    return 0;
  if (r->cur == NULL && !next_bytes (r, cancellable, error))
    return -1;
  gsize size;
  const guint8 *data = g_bytes_get_data (r->cur, &size);
  gsize n = MIN (MIN (count, (gsize)G_MAXSSIZE), size - r->cur_used);
  memcpy (buffer, data + r->cur_used, n);
  r->cur_used += n;
  r->given += n;
  if (r->cur_used == size)
    g_clear_pointer (&r->cur, g_bytes_unref);
  return (gssize)n;
}

/* Stops the fetcher (it may wait for room in the queue, or on the daemon)
 * and drops what it queued. */
static void
stop_fetcher (CairnBlobIpfsReader *r)
{
  if (r->thread != NULL) {
    g_mutex_lock (&r->lock);
    r->stop = TRUE;
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
    g_cancellable_cancel (r->fetch_cancel);
    g_thread_join (g_steal_pointer (&r->thread));
  }
  g_queue_clear_full (&r->ready, (GDestroyNotify)g_bytes_unref);
  r->queued = 0;
  g_clear_pointer (&r->cur, g_bytes_unref);
}

static gboolean
reader_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  stop_fetcher (CAIRN_BLOB_IPFS_READER (stream));
  return TRUE;
}

static void
reader_finalize (GObject *object)
{
  CairnBlobIpfsReader *r = CAIRN_BLOB_IPFS_READER (object);
  stop_fetcher (r);
  g_clear_error (&r->error);
  g_clear_object (&r->fetch_cancel);
  g_clear_pointer (&r->root, g_bytes_unref);
  g_clear_pointer (&r->b, blob_ipfs_unref);
  g_free (r->cid);
  g_free (r->cid_v1);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  G_OBJECT_CLASS (cairn_blob_ipfs_reader_parent_class)->finalize (object);
}

static void
cairn_blob_ipfs_reader_class_init (CairnBlobIpfsReaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = reader_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = reader_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = reader_close;
}

static void
cairn_blob_ipfs_reader_init (CairnBlobIpfsReader *r)
{
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  g_queue_init (&r->ready);
  r->fetch_cancel = g_cancellable_new ();
}

/* ---- the root --------------------------------------------------------------
 */

/* The blob's root block, checked; *size gets the file size it holds. */
static GBytes *
load_root (BlobIpfs *b, const char *cid, uint8_t digest[BLOB_FS_DIGEST_LEN],
           uint64_t *size, GError **error)
{
  BlobFsNode node;

  if (!blob_fs_cid_parse (cid, digest, error)) {
    g_prefix_error (error, "blob-ipfs: ");
    return NULL;
  }
  g_autoptr (SoupSession) session = blob_ipfs_session (b);
  g_autoptr (GBytes) block
      = blob_ipfs_block_get (b, session, cid, TRUE, digest, NULL, error);
  if (block == NULL)
    return NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (block, &len);
  if (!blob_fs_node_decode (data, len, &node, error)) {
    g_prefix_error (
        error, "blob-ipfs: blob %s: its root is not a UnixFS file node: ", cid);
    return NULL;
  }
  *size = node.filesize;
  blob_fs_node_clear (&node);
  return g_steal_pointer (&block);
}

gboolean
blob_ipfs_size (BlobIpfs *b, const char *cid, uint64_t *size, GError **error)
{
  uint8_t digest[BLOB_FS_DIGEST_LEN];
  g_autoptr (GBytes) root = load_root (b, cid, digest, size, error);
  return root != NULL;
}

GInputStream *
blob_ipfs_reader_new (BlobIpfs *b, const char *cid, uint64_t offset,
                      uint64_t length, GError **error)
{
  uint8_t digest[BLOB_FS_DIGEST_LEN];
  uint64_t size = 0;
  g_autoptr (GBytes) root = load_root (b, cid, digest, &size, error);

  if (root == NULL)
    return NULL;
  if (offset > size) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "blob-ipfs: offset %" G_GUINT64_FORMAT
                 " is beyond the end of blob %s (%" G_GUINT64_FORMAT " bytes)",
                 offset, cid, size);
    return NULL;
  }
  CairnBlobIpfsReader *r = g_object_new (BLOB_IPFS_TYPE_READER, NULL);
  r->b = blob_ipfs_ref (b);
  r->cid = g_strdup (cid);
  r->cid_v1 = blob_fs_cid_v1 (digest);
  r->root = g_steal_pointer (&root);
  r->size = size;
  r->start = offset;
  r->end = offset + MIN (length, size - offset);
  return G_INPUT_STREAM (r);
}

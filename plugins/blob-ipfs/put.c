/* blob-ipfs: put. The input is read once and goes two ways at the same
 * time, without ever being held whole:
 *
 *   in ──> tee ──> blob-fs's importer (a thread)  -> the CID, here
 *           └────> pipe ──> multipart body of POST /api/v0/add (libsoup,
 *                           this thread)          -> the daemon's CID
 *
 * The importer is blob-fs's own (importer.c, compiled into this plugin)
 * with a batch that stores nothing (below), so the id is computed exactly
 * as blob-fs computes it. The pipe holds at most PIPE_MAX bytes: the
 * importer waits for the upload and the upload for the importer. The two
 * CIDs must be equal; otherwise the blob is refused (and unpinned). */
#include "blob_ipfs.h"

#include <string.h>

#include <jansson.h>

#define PIPE_MAX (1u << 20)
/* The answer of add: one JSON line per file (and maybe progress lines). */
#define ADD_ANSWER_MAX (1u << 20)

/* The add parameters that make the daemon build blob-fs's DAG: the
 * default importer with CIDv0 settings (dag-pb leaves, not raw), whatever
 * the daemon's own Import.* defaults are. */
#define ADD_QUERY                                                              \
  "cid-version=0&raw-leaves=false&chunker=size-262144&hash=sha2-256"           \
  "&trickle=false&wrap-with-directory=false&progress=false"

/* ---- blob-fs's importer without a store ---------------------------------
 * importer.c writes each node through these; here they only let it run.
 * (The names are renamed for this plugin by meson, see meson.build.) */

struct BlobFsBatch {
  int unused;
};

BlobFsBatch *
blob_fs_batch_new (BlobFsStore *store)
{
  return g_new0 (BlobFsBatch, 1);
}

void
blob_fs_batch_free (BlobFsBatch *batch)
{
  g_free (batch);
}

gboolean
blob_fs_batch_put (BlobFsBatch *batch, const uint8_t digest[BLOB_FS_DIGEST_LEN],
                   const void *block, size_t len, GError **error)
{
  return TRUE;
}

gboolean
blob_fs_batch_commit (BlobFsBatch *batch, GError **error)
{
  return TRUE;
}

/* ---- the pipe ------------------------------------------------------------ */

typedef struct {
  GMutex lock;
  GCond cond;
  GQueue chunks;      /* GBytes, oldest first */
  gsize head_used;    /* bytes of the first chunk already read */
  gsize queued;       /* bytes in chunks, unread */
  gboolean closed;    /* the writer is done (error says how) */
  GError *error;      /* the writer's failure, given to the reader */
  gboolean abandoned; /* the reader is gone: writes fail */
} Pipe;

static void
pipe_clear (gpointer data)
{
  Pipe *p = data;
  g_queue_clear_full (&p->chunks, (GDestroyNotify)g_bytes_unref);
  g_clear_error (&p->error);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
}

static Pipe *
pipe_new (void)
{
  Pipe *p = g_atomic_rc_box_new0 (Pipe);
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  g_queue_init (&p->chunks);
  return p;
}

static void
pipe_unref (Pipe *p)
{
  g_atomic_rc_box_release_full (p, pipe_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pipe, pipe_unref)

static void
wake (GCancellable *cancellable, gpointer data)
{
  Pipe *p = data;
  g_mutex_lock (&p->lock);
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

/* Queues a copy of the bytes once fewer than PIPE_MAX are waiting. */
static gboolean
pipe_write (Pipe *p, const void *data, gsize len, GError **error)
{
  g_mutex_lock (&p->lock);
  while (p->queued >= PIPE_MAX && !p->abandoned)
    g_cond_wait (&p->cond, &p->lock);
  gboolean ok = !p->abandoned;
  if (ok && len > 0) {
    g_queue_push_tail (&p->chunks, g_bytes_new (data, len));
    p->queued += len;
    g_cond_broadcast (&p->cond);
  }
  g_mutex_unlock (&p->lock);
  if (!ok)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                         "the upload to the IPFS daemon stopped");
  return ok;
}

/* The writer is done: error NULL is the end of the data (taken). */
static void
pipe_close (Pipe *p, GError *error)
{
  g_mutex_lock (&p->lock);
  p->closed = TRUE;
  p->error = error;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

static void
pipe_abandon (Pipe *p)
{
  g_mutex_lock (&p->lock);
  p->abandoned = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

static gssize
pipe_read (Pipe *p, void *buf, gsize count, GCancellable *cancellable,
           GError **error)
{
  gulong id
      = cancellable != NULL
            ? g_cancellable_connect (cancellable, G_CALLBACK (wake), p, NULL)
            : 0;
  gssize n = -1;

  g_mutex_lock (&p->lock);
  while (g_queue_is_empty (&p->chunks) && !p->closed
         && !g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&p->cond, &p->lock);
  if (!g_queue_is_empty (&p->chunks)) {
    GBytes *head = g_queue_peek_head (&p->chunks);
    gsize size;
    const guint8 *data = g_bytes_get_data (head, &size);
    n = (gssize)MIN (MIN (count, (gsize)G_MAXSSIZE), size - p->head_used);
    memcpy (buf, data + p->head_used, (gsize)n);
    p->head_used += (gsize)n;
    p->queued -= (gsize)n;
    if (p->head_used == size) {
      g_bytes_unref (g_queue_pop_head (&p->chunks));
      p->head_used = 0;
    }
    g_cond_broadcast (&p->cond);
  } else if (g_cancellable_set_error_if_cancelled (cancellable, error)) {
    n = -1;
  } else if (p->error != NULL) {
    g_propagate_error (error, g_error_copy (p->error));
    n = -1;
  } else {
    n = 0;
  }
  g_mutex_unlock (&p->lock);
  if (id != 0)
    g_cancellable_disconnect (cancellable, id);
  return n;
}

/* The request body: what the pipe gives. */
#define BLOB_IPFS_TYPE_PIPE_STREAM (cairn_blob_ipfs_pipe_stream_get_type ())
G_DECLARE_FINAL_TYPE (CairnBlobIpfsPipeStream, cairn_blob_ipfs_pipe_stream,
                      CAIRN_BLOB_IPFS, PIPE_STREAM, GInputStream)

struct _CairnBlobIpfsPipeStream {
  GInputStream parent;
  Pipe *pipe;
};

G_DEFINE_FINAL_TYPE (CairnBlobIpfsPipeStream, cairn_blob_ipfs_pipe_stream,
                     G_TYPE_INPUT_STREAM)

static gssize
pipe_stream_read (GInputStream *stream, void *buffer, gsize count,
                  GCancellable *cancellable, GError **error)
{
  return pipe_read (CAIRN_BLOB_IPFS_PIPE_STREAM (stream)->pipe, buffer, count,
                    cancellable, error);
}

static void
pipe_stream_finalize (GObject *object)
{
  CairnBlobIpfsPipeStream *self = CAIRN_BLOB_IPFS_PIPE_STREAM (object);
  pipe_abandon (self->pipe);
  pipe_unref (self->pipe);
  G_OBJECT_CLASS (cairn_blob_ipfs_pipe_stream_parent_class)->finalize (object);
}

static void
cairn_blob_ipfs_pipe_stream_class_init (CairnBlobIpfsPipeStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pipe_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = pipe_stream_read;
}

static void
cairn_blob_ipfs_pipe_stream_init (CairnBlobIpfsPipeStream *self)
{
}

/* ---- the tee: what the importer reads also goes into the pipe ---------- */

#define BLOB_IPFS_TYPE_TEE (cairn_blob_ipfs_tee_get_type ())
G_DECLARE_FINAL_TYPE (CairnBlobIpfsTee, cairn_blob_ipfs_tee, CAIRN_BLOB_IPFS,
                      TEE, GInputStream)

struct _CairnBlobIpfsTee {
  GInputStream parent;
  GInputStream *in;
  Pipe *pipe;
  GError *input_error; /* the input's own failure (not the pipe's) */
  uint64_t bytes;
};

G_DEFINE_FINAL_TYPE (CairnBlobIpfsTee, cairn_blob_ipfs_tee, G_TYPE_INPUT_STREAM)

static gssize
tee_read (GInputStream *stream, void *buffer, gsize count,
          GCancellable *cancellable, GError **error)
{
  CairnBlobIpfsTee *self = CAIRN_BLOB_IPFS_TEE (stream);
  g_autoptr (GError) local = NULL;
  gssize n = g_input_stream_read (self->in, buffer, count, cancellable, &local);

  if (n < 0) {
    /* A read we cancelled (the upload failed first) is not the input's
     * fault: the upload's error is the one to report. */
    gboolean ours = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                    && g_cancellable_is_cancelled (cancellable);
    if (self->input_error == NULL && !ours)
      self->input_error = g_error_copy (local);
    g_propagate_error (error, g_steal_pointer (&local));
    return -1;
  }
  if (n > 0 && !pipe_write (self->pipe, buffer, (gsize)n, error))
    return -1;
  self->bytes += (uint64_t)n;
  return n;
}

static void
tee_finalize (GObject *object)
{
  CairnBlobIpfsTee *self = CAIRN_BLOB_IPFS_TEE (object);
  g_object_unref (self->in);
  pipe_unref (self->pipe);
  g_clear_error (&self->input_error);
  G_OBJECT_CLASS (cairn_blob_ipfs_tee_parent_class)->finalize (object);
}

static void
cairn_blob_ipfs_tee_class_init (CairnBlobIpfsTeeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tee_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = tee_read;
}

static void
cairn_blob_ipfs_tee_init (CairnBlobIpfsTee *self)
{
}

/* ---- the importer thread ------------------------------------------------ */

typedef struct {
  CairnBlobIpfsTee *tee;
  Pipe *pipe;
  const char *epilogue;
  GCancellable *cancel;
  gboolean ok;
  GError *error;
  uint8_t digest[BLOB_FS_DIGEST_LEN];
} Import;

static gpointer
import_main (gpointer data)
{
  Import *im = data;

  im->ok
      = blob_fs_import (NULL, G_INPUT_STREAM (im->tee), BLOB_FS_CHUNK_SIZE,
                        BLOB_FS_MAX_LINKS, im->digest, im->cancel, &im->error)
        && pipe_write (im->pipe, im->epilogue, strlen (im->epilogue),
                       &im->error);
  /* The body ends, or fails with the reason, which libsoup passes on. */
  pipe_close (im->pipe, im->ok ? NULL : g_error_copy (im->error));
  return NULL;
}

/* ---- the answer ---------------------------------------------------------- */

/* The "Hash" of add's answer (NDJSON: one object per line; kubo may put
 * an error object in a 200 answer once it has started streaming). */
static char *
added_hash (BlobIpfs *b, GBytes *answer, GError **error)
{
  gsize len;
  const char *text = g_bytes_get_data (answer, &len);
  g_autofree char *copy = g_strndup (text, len);
  g_auto (GStrv) lines = g_strsplit (copy, "\n", -1);
  g_autofree char *hash = NULL;

  for (guint i = 0; lines[i] != NULL; i++) {
    if (*g_strstrip (lines[i]) == '\0')
      continue;
    json_t *j = json_loads (lines[i], 0, NULL);
    const char *h = json_string_value (json_object_get (j, "Hash"));
    const char *m = json_string_value (json_object_get (j, "Message"));
    if (h != NULL) {
      g_free (hash);
      hash = g_strdup (h);
    } else if (m != NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                   "blob-ipfs: the IPFS daemon at %s failed POST "
                   "/api/v0/add: %s",
                   b->api_url, m);
      json_decref (j);
      return NULL;
    }
    json_decref (j);
  }
  if (hash == NULL) {
    g_autofree char *raw = g_strndup (text, MIN (len, 200));
    g_autofree char *head = g_strescape (raw, NULL);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "blob-ipfs: the IPFS daemon at %s answered POST /api/v0/add "
                 "without a \"Hash\": '%s'",
                 b->api_url, head);
    return NULL;
  }
  return g_steal_pointer (&hash);
}

/* Unpins what the daemon stored under a CID that is not ours; a note on
 * how it went, for the error message. */
static char *
unpin (BlobIpfs *b, SoupSession *session, const char *hash)
{
  if (!b->pin)
    return g_strdup ("not pinned");
  g_autofree char *escaped = g_uri_escape_string (hash, NULL, TRUE);
  g_autofree char *query = g_strdup_printf ("arg=%s", escaped);
  g_autoptr (SoupMessage) msg = blob_ipfs_message (b, "pin/rm", query);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = blob_ipfs_send (b, session, msg, NULL, NULL, &error);
  g_autoptr (GBytes) body
      = in != NULL
            ? blob_ipfs_read_body (b, msg, in, ADD_ANSWER_MAX, NULL, &error)
            : NULL;
  if (body == NULL)
    return g_strdup_printf ("unpinning it failed too: %s", error->message);
  return g_strdup ("unpinned it");
}

gboolean
blob_ipfs_put (BlobIpfs *b, GInputStream *in, char **cid,
               GCancellable *cancellable, GError **error)
{
  g_autofree char *boundary
      = g_strdup_printf ("cairn-blob-ipfs-%08x%08x%08x%08x", g_random_int (),
                         g_random_int (), g_random_int (), g_random_int ());
  g_autofree char *preamble = g_strdup_printf (
      "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
      "filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n",
      boundary);
  g_autofree char *epilogue = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  g_autofree char *content_type
      = g_strdup_printf ("multipart/form-data; boundary=%s", boundary);
  g_autofree char *query
      = g_strdup_printf ("%s&pin=%s", ADD_QUERY, b->pin ? "true" : "false");
  g_autoptr (Pipe) pipe = pipe_new ();
  g_autoptr (GCancellable) import_cancel = g_cancellable_new ();
  g_autoptr (GError) http_error = NULL;
  Import im = { .pipe = pipe, .epilogue = epilogue, .cancel = import_cancel };

  im.tee = g_object_new (BLOB_IPFS_TYPE_TEE, NULL);
  im.tee->in = g_object_ref (in);
  im.tee->pipe = g_atomic_rc_box_acquire (pipe);
  /* The first bytes of the body never wait. */
  pipe_write (pipe, preamble, strlen (preamble), NULL);

  g_autoptr (GThread) thread = g_thread_new ("blob-ipfs-put", import_main, &im);
  g_autoptr (SoupSession) session = blob_ipfs_session (b);
  g_autoptr (SoupMessage) msg = blob_ipfs_message (b, "add", query);
  {
    CairnBlobIpfsPipeStream *body
        = g_object_new (BLOB_IPFS_TYPE_PIPE_STREAM, NULL);
    body->pipe = g_atomic_rc_box_acquire (pipe);
    soup_message_set_request_body (msg, content_type, G_INPUT_STREAM (body),
                                   -1);
    g_object_unref (body);
  }
  g_autoptr (GInputStream) answer_in
      = blob_ipfs_send (b, session, msg, NULL, cancellable, &http_error);
  g_autoptr (GBytes) answer
      = answer_in != NULL ? blob_ipfs_read_body (
            b, msg, answer_in, ADD_ANSWER_MAX, cancellable, &http_error)
                          : NULL;

  /* Whatever happened, the importer stops now: it is done, or it waits for
   * an upload that ended, or for input it no longer needs. */
  pipe_abandon (pipe);
  if (answer == NULL)
    g_cancellable_cancel (import_cancel);
  g_thread_join (g_steal_pointer (&thread));

  g_autoptr (GError) input_error = g_steal_pointer (&im.tee->input_error);
  uint64_t bytes = im.tee->bytes;
  g_object_unref (im.tee);
  g_autoptr (GError) import_error = g_steal_pointer (&im.error);

  if (input_error != NULL) {
    g_propagate_prefixed_error (error, g_steal_pointer (&input_error),
                                "blob-ipfs: reading the blob to store: ");
    return FALSE;
  }
  if (answer == NULL && bytes == 0) {
    g_propagate_error (error, g_steal_pointer (&http_error));
    return FALSE;
  }
  if (answer == NULL) {
    g_set_error (error, http_error->domain, http_error->code,
                 "%s (after %" G_GUINT64_FORMAT " bytes of the blob)",
                 http_error->message, bytes);
    return FALSE;
  }
  if (!im.ok) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "blob-ipfs: the IPFS daemon at %s answered POST /api/v0/add "
                 "before it had the whole blob (%" G_GUINT64_FORMAT
                 " bytes read): %s",
                 b->api_url, bytes, import_error->message);
    return FALSE;
  }

  g_autofree char *hash = added_hash (b, answer, error);
  if (hash == NULL)
    return FALSE;
  g_autofree char *ours = blob_fs_cid_v1 (im.digest);
  uint8_t theirs[BLOB_FS_DIGEST_LEN];
  g_autoptr (GError) parse_error = NULL;
  if (!blob_fs_cid_parse (hash, theirs, &parse_error)
      || memcmp (theirs, im.digest, BLOB_FS_DIGEST_LEN) != 0) {
    g_autofree char *note = unpin (b, session, hash);
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
        "blob-ipfs: the IPFS daemon at %s stored the blob (%" G_GUINT64_FORMAT
        " bytes) as %s, but its id is %s (IPFS's default importer: "
        "CIDv0 dag-pb, 256 KiB chunks, balanced, 174 links per "
        "node); refused (%s)",
        b->api_url, bytes, hash, ours, note);
    return FALSE;
  }
  *cid = g_steal_pointer (&ours);
  return TRUE;
}

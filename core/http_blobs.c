/* Blob routes over the loaded blobstore plugin:
 *
 *   POST /v1/blobs             the bytes as the body (Content-Length, at
 *                              most [http] max_blob_bytes) -> 201
 *                              {"cid","size"}
 *   GET  /v1/blobs/{cid}       the bytes; "Range: bytes=A-B" -> 206
 *   GET  /v1/blobs/{cid}/stat  {"cid","size"}
 *
 * An upload is streamed to a file under <data_dir>/tmp as it arrives and
 * stored from there by the plugin on a worker thread: neither memory nor
 * the main loop ever holds a whole blob. Downloads are streamed too. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "http_private.h"

#define UPLOAD_KEY "cairn-blob-upload"
#define UPLOAD_PREFIX "upload-"

typedef struct {
  CairnHttp *http;
  char *path;
  int fd;
  uint64_t expected, got;
  char *write_error;
  /* worker results */
  char *cid;
  GError *error;
} Upload;

static void
upload_free (gpointer data)
{
  Upload *u = data;
  if (u->fd >= 0)
    close (u->fd);
  if (u->path)
    g_unlink (u->path);
  g_free (u->path);
  g_free (u->write_error);
  g_free (u->cid);
  g_clear_error (&u->error);
  g_free (u);
}

static char *
tmp_dir (CairnHttp *http)
{
  return g_build_filename (http->node->data_dir, "tmp", NULL);
}

void
cairn_http_blobs_clean (CairnHttp *http)
{
  g_autofree char *dir = tmp_dir (http);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    if (!g_str_has_prefix (name, UPLOAD_PREFIX))
      continue;
    g_autofree char *p = g_build_filename (dir, name, NULL);
    if (g_unlink (p) == 0)
      g_info ("http: removed %s, left by an interrupted upload", p);
  }
}

static gboolean
have_blobstore (CairnHttp *http, SoupServerMessage *msg)
{
  g_autoptr (GError) err = NULL;
  if (cairn_node_have_blobstore (http->node, &err))
    return TRUE;
  cairn_http_reply_gerror (msg, err);
  return FALSE;
}

/* ---- upload ------------------------------------------------------------- */

static void
on_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  Upload *u = data;
  gsize n;
  const char *p = g_bytes_get_data (chunk, &n);
  while (n > 0 && u->write_error == NULL) {
    ssize_t w = write (u->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      u->write_error
          = g_strdup_printf ("writing %s: %s", u->path, g_strerror (errno));
      break;
    }
    p += w;
    n -= (gsize)w;
    u->got += (uint64_t)w;
  }
}

gboolean
cairn_http_blobs_early (CairnHttp *http, SoupServerMessage *msg,
                        const char *method, const char *path)
{
  if (strcmp (path, "/v1/blobs") != 0 || strcmp (method, "POST") != 0)
    return FALSE;
  if (!have_blobstore (http, msg))
    return TRUE;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  if (soup_message_headers_get_encoding (h) != SOUP_ENCODING_CONTENT_LENGTH) {
    cairn_http_reply_error (msg, 411, "length_required",
                            "send the blob with a Content-Length");
    return TRUE;
  }
  uint64_t len = (uint64_t)soup_message_headers_get_content_length (h);
  if (len > http->node->http_max_blob) {
    g_autofree char *m = g_strdup_printf (
        "blob of %" G_GUINT64_FORMAT " bytes exceeds [http] max_blob_bytes "
        "(%" G_GUINT64_FORMAT ")",
        len, http->node->http_max_blob);
    cairn_http_reply_error (msg, 413, "too_large", m);
    return TRUE;
  }
  g_autofree char *dir = tmp_dir (http);
  Upload *u = g_new0 (Upload, 1);
  u->http = http;
  u->expected = len;
  u->path = g_build_filename (dir, UPLOAD_PREFIX "XXXXXX", NULL);
  u->fd = -1;
  if (g_mkdir_with_parents (dir, 0700) != 0
      || (u->fd = g_mkstemp_full (u->path, O_RDWR, 0600)) < 0) {
    g_autofree char *m
        = g_strdup_printf ("cannot create %s: %s", u->path, g_strerror (errno));
    g_clear_pointer (&u->path, g_free); /* nothing to unlink */
    upload_free (u);
    cairn_http_reply_error (msg, 500, "io", m);
    return TRUE;
  }
  /* Freed (and the file removed) with the message, whatever happens. */
  g_object_set_data_full (G_OBJECT (msg), UPLOAD_KEY, u, upload_free);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_chunk), u);
  return TRUE;
}

static void
put_thread (GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
  SoupServerMessage *msg = data;
  Upload *u = g_object_get_data (G_OBJECT (msg), UPLOAD_KEY);
  CairnNode *node = u->http->node;
  g_autoptr (GFile) f = g_file_new_for_path (u->path);
  g_autoptr (GFileInputStream) in = g_file_read (f, NULL, &u->error);
  if (in != NULL)
    node->blob.put (node->blob_plugin, G_INPUT_STREAM (in), &u->cid, NULL,
                    &u->error);
  g_task_return_boolean (task, TRUE);
}

static void
put_done (GObject *src, GAsyncResult *res, gpointer data)
{
  SoupServerMessage *msg = g_task_get_task_data (G_TASK (res));
  Upload *u = g_object_get_data (G_OBJECT (msg), UPLOAD_KEY);
  CairnHttp *http = u->http;
  http->pending_blobs--;
  if (u->cid == NULL && u->error == NULL)
    g_set_error (&u->error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "the blobstore stored nothing and said nothing");
  if (u->error != NULL) {
    g_prefix_error (&u->error, "storing the blob: ");
    cairn_http_reply_gerror (msg, u->error);
  } else {
    cairn_http_reply_json (
        msg, 201,
        json_pack ("{s:s, s:I}", "cid", u->cid, "size", (json_int_t)u->got));
  }
  soup_server_message_unpause (msg);
}

static void
post_blob (CairnHttp *http, SoupServerMessage *msg)
{
  Upload *u = g_object_get_data (G_OBJECT (msg), UPLOAD_KEY);
  if (u == NULL) { /* the early handler answered already */
    cairn_http_reply_error (msg, 500, "failed", "upload was not set up");
    return;
  }
  if (u->write_error != NULL) {
    cairn_http_reply_error (msg, 500, "io", u->write_error);
    return;
  }
  if (u->got != u->expected) {
    g_autofree char *m = g_strdup_printf ("got %" G_GUINT64_FORMAT
                                          " of %" G_GUINT64_FORMAT " bytes",
                                          u->got, u->expected);
    cairn_http_reply_error (msg, 400, "invalid", m);
    return;
  }
  close (u->fd);
  u->fd = -1;
  http->pending_blobs++;
  soup_server_message_pause (msg);
  g_autoptr (GTask) task = g_task_new (NULL, NULL, put_done, NULL);
  g_task_set_task_data (task, g_object_ref (msg), g_object_unref);
  g_task_run_in_thread (task, put_thread);
}

/* ---- download ----------------------------------------------------------- */

typedef struct {
  CairnNode *node;
  const char *cid;
} BlobRef;

static GInputStream *
open_blob (void *data, uint64_t offset, uint64_t length, GError **error)
{
  BlobRef *b = data;
  return b->node->blob.get (b->node->blob_plugin, b->cid, offset, length,
                            error);
}

static void
get_blob (CairnHttp *http, SoupServerMessage *msg, const char *cid,
          gboolean stat_only)
{
  CairnNode *node = http->node;
  g_autoptr (GError) err = NULL;
  uint64_t size;
  if (!node->blob.stat (node->blob_plugin, cid, &size, &err)) {
    cairn_http_reply_gerror (msg, err);
    return;
  }
  if (stat_only) {
    cairn_http_reply_json (
        msg, 200,
        json_pack ("{s:s, s:I}", "cid", cid, "size", (json_int_t)size));
    return;
  }
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_content_type (h, "application/octet-stream", NULL);
  g_autofree char *etag = g_strdup_printf ("\"%s\"", cid);
  soup_message_headers_replace (h, "ETag", etag);
  /* A CID names its bytes forever. */
  soup_message_headers_replace (h, "Cache-Control",
                                "public, max-age=31536000, immutable");
  BlobRef ref = { node, cid };
  if (!cairn_http_reply_ranged (http, msg, 200, size, open_blob, &ref, &err)) {
    soup_message_headers_remove (h, "ETag");
    soup_message_headers_remove (h, "Cache-Control");
    cairn_http_reply_gerror (msg, err);
  }
}

gboolean
cairn_http_blobs_handle (CairnHttp *http, SoupServerMessage *msg,
                         const char *method, const char *path)
{
  if (strcmp (path, "/v1/blobs") == 0) {
    if (strcmp (method, "POST") != 0)
      cairn_http_reply_error (msg, 405, "method_not_allowed",
                              "use POST /v1/blobs to store a blob");
    else if (have_blobstore (http, msg))
      post_blob (http, msg);
    return TRUE;
  }
  if (!g_str_has_prefix (path, "/v1/blobs/"))
    return FALSE;
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0) {
    cairn_http_reply_error (msg, 405, "method_not_allowed",
                            "blobs are read with GET");
    return TRUE;
  }
  if (!have_blobstore (http, msg))
    return TRUE;
  g_autofree char *cid = g_strdup (path + strlen ("/v1/blobs/"));
  gboolean stat_only = g_str_has_suffix (cid, "/stat");
  if (stat_only)
    cid[strlen (cid) - 5] = '\0';
  if (*cid == '\0' || strchr (cid, '/') != NULL) {
    cairn_http_reply_error (msg, 404, "not_found",
                            "expected /v1/blobs/{cid} or /v1/blobs/{cid}/stat");
    return TRUE;
  }
  get_blob (http, msg, cid, stat_only);
  return TRUE;
}

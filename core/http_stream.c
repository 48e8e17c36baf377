/* Response bodies streamed from a GInputStream (blobs, videos), and HTTP
 * range requests (RFC 9110 §14). */
#include <string.h>

#include "http_private.h"

/* Read this much at a time, and keep at most READ_AHEAD bytes appended but
 * not yet written to the socket. */
#define CHUNK (256u << 10)
#define READ_AHEAD (1u << 20)

typedef struct CairnHttpStream {
  CairnHttp *http;
  SoupServerMessage *msg;
  GInputStream *in;
  GCancellable *cancel;
  uint64_t left; /* still to read */
  uint64_t appended, written;
  gboolean reading;
  gboolean done; /* the message finished (or is being torn down) */
} CairnHttpStream;

/* ---- streaming ---------------------------------------------------------- */

static void stream_read (CairnHttpStream *s);

static void
stream_free (CairnHttpStream *s)
{
  g_signal_handlers_disconnect_by_data (s->msg, s);
  g_object_unref (s->msg);
  g_object_unref (s->in);
  g_object_unref (s->cancel);
  g_free (s);
}

/* The status line and headers are out: the only way to say "broken" is to
 * drop the connection, so the client sees a short body. */
static void
stream_abort (CairnHttpStream *s, const char *why)
{
  g_warning ("http: stream of %s aborted after %" G_GUINT64_FORMAT " bytes: %s",
             g_uri_get_path (soup_server_message_get_uri (s->msg)), s->appended,
             why);
  GSocket *sock = soup_server_message_get_socket (s->msg);
  if (sock)
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
  s->left = 0;
  soup_message_body_complete (soup_server_message_get_response_body (s->msg));
  soup_server_message_unpause (s->msg);
}

static void
on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  CairnHttpStream *s = data;
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) b
      = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src), res, &err);
  s->reading = FALSE;
  if (s->done) {
    s->http->streams = g_list_remove (s->http->streams, s);
    stream_free (s);
    return;
  }
  gsize n = b ? g_bytes_get_size (b) : 0;
  if (b == NULL || n == 0) {
    stream_abort (s, err ? err->message : "the stream ended early");
    return;
  }
  n = MIN (n, s->left);
  SoupMessageBody *body = soup_server_message_get_response_body (s->msg);
  g_autoptr (GBytes) part = g_bytes_new_from_bytes (b, 0, n);
  soup_message_body_append_bytes (body, part);
  s->appended += n;
  s->left -= n;
  if (s->left == 0)
    soup_message_body_complete (body);
  soup_server_message_unpause (s->msg);
  if (s->appended - s->written < READ_AHEAD)
    stream_read (s);
}

static void
stream_read (CairnHttpStream *s)
{
  if (s->reading || s->left == 0 || s->done)
    return;
  s->reading = TRUE;
  g_input_stream_read_bytes_async (s->in, MIN (s->left, CHUNK),
                                   G_PRIORITY_DEFAULT, s->cancel, on_read, s);
}

static void
on_wrote (SoupServerMessage *msg, guint n, gpointer data)
{
  CairnHttpStream *s = data;
  s->written += n;
  if (s->appended - s->written < READ_AHEAD)
    stream_read (s);
}

static void
on_finished (SoupServerMessage *msg, gpointer data)
{
  CairnHttpStream *s = data;
  s->done = TRUE;
  s->http->streams = g_list_remove (s->http->streams, s);
  g_cancellable_cancel (s->cancel);
  if (!s->reading)
    stream_free (s);
}

void
cairn_http_send_stream (CairnHttp *http, SoupServerMessage *msg,
                        GInputStream *in, uint64_t length)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_content_length (h, (goffset)length);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  soup_message_body_set_accumulate (body, FALSE);
  if (length == 0) {
    soup_message_body_complete (body);
    return;
  }
  CairnHttpStream *s = g_new0 (CairnHttpStream, 1);
  s->http = http;
  s->msg = g_object_ref (msg);
  s->in = g_object_ref (in);
  s->cancel = g_cancellable_new ();
  s->left = length;
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote), s);
  g_signal_connect (msg, "finished", G_CALLBACK (on_finished), s);
  http->streams = g_list_prepend (http->streams, s);
  soup_server_message_pause (msg);
  stream_read (s);
}

void
cairn_http_streams_close (CairnHttp *http)
{
  for (GList *l = http->streams; l; l = l->next) {
    CairnHttpStream *s = l->data;
    s->done = TRUE;
    g_cancellable_cancel (s->cancel);
  }
  /* A cancelled read still calls back; wait for those. */
  gboolean busy = TRUE;
  while (busy) {
    busy = FALSE;
    for (GList *l = http->streams; l; l = l->next)
      busy |= ((CairnHttpStream *)l->data)->reading;
    if (busy)
      g_main_context_iteration (NULL, TRUE);
  }
  GList *all = g_steal_pointer (&http->streams);
  for (GList *l = all; l; l = l->next) {
    CairnHttpStream *s = l->data;
    soup_message_body_complete (soup_server_message_get_response_body (s->msg));
    soup_server_message_unpause (s->msg);
    stream_free (s);
  }
  g_list_free (all);
}

gboolean
cairn_http_reply_ranged (CairnHttp *http, SoupServerMessage *msg, guint status,
                         uint64_t size, CairnOpenStreamFn open, void *data,
                         GError **error)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  const char *range = soup_message_headers_get_one (req, "Range");
  uint64_t off = 0, len = size;
  switch (cairn_http_parse_range (range, size, &off, &len)) {
  case CAIRN_RANGE_NONE:
    break;
  case CAIRN_RANGE_OK:
    status = 206;
    soup_message_headers_set_content_range (
        h, (goffset)off, (goffset)(off + len - 1), (goffset)size);
    break;
  case CAIRN_RANGE_UNSAT: {
    g_autofree char *cr = g_strdup_printf ("bytes */%" G_GUINT64_FORMAT, size);
    soup_message_headers_replace (h, "Content-Range", cr);
    g_autofree char *m = g_strdup_printf (
        "range '%s' is outside the body's %" G_GUINT64_FORMAT " bytes", range,
        size);
    cairn_http_reply_error (msg, 416, "range_not_satisfiable", m);
    return TRUE;
  }
  }
  g_autoptr (GInputStream) in = open (data, off, len, error);
  if (in == NULL)
    return FALSE;
  soup_message_headers_replace (h, "Accept-Ranges", "bytes");
  soup_server_message_set_status (msg, status, NULL);
  cairn_http_send_stream (http, msg, in, len);
  return TRUE;
}

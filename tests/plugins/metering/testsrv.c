/* tests/plugins/metering: see testsrv.h. */
#include "testsrv.h"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>

#include "cjson.h"

void
testsrv_reply (SoupServerMessage *msg, guint status, json_t *body)
{
  char *text
      = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref (body);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    text, text ? strlen (text) : 0);
  free (text);
}

void
testsrv_error (SoupServerMessage *msg, guint status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  testsrv_reply (msg, status, json_pack ("{s:s}", "error", text));
}

json_t *
testsrv_body_json (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (body->length > TESTSRV_MAX_BODY) {
    testsrv_error (msg, 413,
                   "request body of %" G_GINT64_FORMAT " bytes (at most %u)",
                   (gint64)body->length, TESTSRV_MAX_BODY);
    return NULL;
  }
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GError) error = NULL;
  json_t *v = cairn_cjson_parse (data ? data : "", len, FALSE, &error);
  if (v == NULL)
    testsrv_error (msg, 400, "body: %s", error->message);
  return v;
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

gboolean
testsrv_run (guint port, SoupServerCallback handler, gpointer data,
             GError **error)
{
  g_autoptr (SoupServer) server
      = soup_server_new ("server-header", "cairn-test", NULL);
  soup_server_add_handler (server, NULL, handler, data, NULL);
  if (!soup_server_listen_local (server, port, SOUP_SERVER_LISTEN_IPV4_ONLY,
                                 error))
    return FALSE;
  GSList *uris = soup_server_get_uris (server);
  if (uris == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no listening URI");
    return FALSE;
  }
  printf ("http://127.0.0.1:%d\n", g_uri_get_port (uris->data));
  fflush (stdout);
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint term = g_unix_signal_add (SIGTERM, on_signal, loop);
  guint intr = g_unix_signal_add (SIGINT, on_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (term);
  g_source_remove (intr);
  soup_server_disconnect (server);
  return TRUE;
}

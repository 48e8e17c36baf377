/* A test-only app plugin: state writes that succeed or fail on demand, to
 * check the executor's rollback and the block hooks. */
#include <string.h>

#include <cairn/cairn.h>

static const CairnHost *host;

static gboolean
put_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
           GError **error)
{
  const char *key = json_string_value (json_object_get (body, "key"));
  const char *value = json_string_value (json_object_get (body, "value"));
  if (key == NULL || value == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "body needs string key and value");
    return FALSE;
  }
  host->emit_event (self, tx, "testapp.put", json_pack ("{s:s}", "key", key));
  return host->state_put (self, tx, key, value, strlen (value), error);
}

/* Writes, emits an event, then fails: none of it may survive. */
static gboolean
write_then_fail_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                       GError **error)
{
  const char *key = json_string_value (json_object_get (body, "key"));
  if (key == NULL)
    key = "doomed";
  host->state_put (self, tx, key, "x", 1, NULL);
  host->emit_event (self, tx, "testapp.doomed", json_object ());
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
               "testapp refuses on purpose after writing %s", key);
  return FALSE;
}

static gboolean
end_block (CairnPlugin *self, CairnTxCtx *tx, GError **error)
{
  /* Count blocks in state: exercises hooks and keeps roots moving. */
  g_autoptr (GError) local = NULL;
  json_t *n = host->state_get_json (self, tx, NULL, "blocks", &local);
  json_int_t count = n ? json_integer_value (n) : 0;
  json_decref (n);
  json_t *next = json_integer (count + 1);
  gboolean ok = host->state_put_json (self, tx, "blocks", next, error);
  json_decref (next);
  /* A block hook's events reach the event stream like a tx's. */
  if (ok)
    host->emit_event (self, tx, "testapp.block_counted",
                      json_pack ("{s:I}", "count", count + 1));
  return ok;
}

static const CairnTxHandler put_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .apply = put_apply,
};
static const CairnTxHandler fail_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .apply = write_then_fail_apply,
};
static const CairnAppIface app = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .end_block = end_block,
};

/* GET /v1/testapp/stream: STREAM_SIZE bytes (i * 7 mod 251), streamed
 * (SDK 1.2): the core handles Range. */
#define STREAM_SIZE (3u << 20)

static GInputStream *
open_stream (void *data, uint64_t offset, uint64_t length, GError **error)
{
  if (offset + length > STREAM_SIZE) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "past the end");
    return NULL;
  }
  GBytes *all = data;
  g_autoptr (GBytes) part = g_bytes_new_from_bytes (all, offset, length);
  return g_memory_input_stream_new_from_bytes (part);
}

static gboolean
stream_route (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *user_data, GError **error)
{
  if (!CAIRN_STRUCT_HAS (resp, resp->size, stream_size)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED,
                 "this node is older than SDK 1.2");
    return FALSE;
  }
  guint8 *buf = g_malloc (STREAM_SIZE);
  for (guint i = 0; i < STREAM_SIZE; i++)
    buf[i] = (guint8)(i * 7 % 251);
  resp->content_type = "video/mp4";
  resp->open_stream = open_stream;
  resp->stream_data = g_bytes_new_take (buf, STREAM_SIZE);
  resp->stream_free = (GDestroyNotify)g_bytes_unref;
  resp->stream_size = STREAM_SIZE;
  return TRUE;
}

/* Direct messages (SDK 1.2): POST /v1/testapp/direct {"peer","text"}
 * sends; GET /v1/testapp/direct lists what arrived, {"from","text"}. */
static void
on_direct (CairnPlugin *self, const char *peer_id, const void *data, size_t len,
           void *user_data)
{
  json_t *received = host->get_data (self);
  json_array_append_new (received, json_pack ("{s:s, s:s%}", "from", peer_id,
                                              "text", (const char *)data, len));
}

static gboolean
direct_route (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *user_data, GError **error)
{
  if (strcmp (req->method, "GET") == 0) {
    resp->json = json_pack ("{s:O}", "received", host->get_data (self));
    return TRUE;
  }
  const char *peer = json_string_value (json_object_get (req->body, "peer"));
  const char *text = json_string_value (json_object_get (req->body, "text"));
  if (text == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "need peer, text");
    return FALSE;
  }
  if (!host->direct_send (self, peer, text, strlen (text), error))
    return FALSE;
  resp->json = json_pack ("{s:b}", "sent", 1);
  return TRUE;
}

/* Event streams (SDK 1.4): GET /v1/testapp/events/{who} says hello, then
 * forwards each committed testapp.put; /v1/testapp/events/refuse is
 * refused; GET /v1/testapp/streams counts the open ones. */
static GPtrArray *streams; /* of every node in the process; never freed */

static gboolean
stream_open (CairnPlugin *self, const CairnRequest *req, CairnStream *stream,
             void *user_data, GError **error)
{
  if (strcmp (req->path_rest, "refuse") == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "testapp refused this stream");
    return FALSE;
  }
  g_autoptr (json_t) hello = json_pack ("{s:s}", "who", req->path_rest);
  if (!host->stream_send (stream, "hello", "0", hello))
    return FALSE;
  g_ptr_array_add (streams, stream);
  return TRUE;
}

static void
stream_closed (CairnPlugin *self, CairnStream *stream, void *user_data)
{
  g_ptr_array_remove (streams, stream);
}

static void
on_put (CairnPlugin *self, const CairnEvent *ev, void *user_data)
{
  g_autofree char *id = g_strdup_printf ("%" G_GUINT64_FORMAT, ev->height);
  for (guint i = 0; i < streams->len; i++)
    host->stream_send (streams->pdata[i], "put", id, ev->attrs);
}

static gboolean
streams_route (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
               void *user_data, GError **error)
{
  resp->json = json_pack ("{s:i}", "open", (int)streams->len);
  return TRUE;
}

static void
testapp_fini (CairnPlugin *self)
{
  json_decref (host->get_data (self));
}

static gboolean
testapp_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  host->set_data (self, json_array ());
  if (!host->register_direct_handler (self, on_direct, NULL, error)
      || !host->register_route (self, "GET", "/v1/testapp/direct", direct_route,
                                NULL, error)
      || !host->register_route (self, "POST", "/v1/testapp/direct",
                                direct_route, NULL, error)) {
    json_decref (host->get_data (self));
    return FALSE;
  }
  if (!host->register_route (self, "GET", "/v1/testapp/stream", stream_route,
                             NULL, error))
    return FALSE;
  if (streams == NULL)
    streams = g_ptr_array_new ();
  host->subscribe (self, "testapp.put", on_put, NULL);
  if (!host->register_stream_route (self, "/v1/testapp/events/", stream_open,
                                    stream_closed, NULL, error)
      || !host->register_route (self, "GET", "/v1/testapp/streams",
                                streams_route, NULL, error))
    return FALSE;
  return host->register_tx_type (self, "testapp.put", &put_handler,
                                 sizeof put_handler, error)
         && host->register_tx_type (self, "testapp.write_then_fail",
                                    &fail_handler, sizeof fail_handler, error)
         && host->register_app (self, &app, sizeof app, error);
}

CAIRN_PLUGIN_DEFINE (testapp, .id = "testapp", .version = "0.0.1",
                     .vendor = "Cairn tests", .license = "Apache-2.0",
                     .description = "test-only app plugin",
                     .kinds = CAIRN_KIND_APP, .init = testapp_init,
                     .fini = testapp_fini)

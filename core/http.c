/* The HTTP JSON API (libsoup 3); routes are listed in http.h. */
#include "http.h"

#include <string.h>

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libsoup/soup.h>

#include "cjson.h"
#include "http_private.h"
#include "node_private.h"
#include "token_bucket.h"
#include "watchdog.h"

#define SSE_MAX_CLIENTS 64
#define SSE_MAX_BACKLOG (16u << 20)
#define SSE_PING_SECONDS 15

/* A server-sent event stream: /v1/events, or a plugin's stream route
 * (1.4), whose handle plugins hold as CairnStream. */
struct CairnStream {
  CairnHttp *http;
  SoupServerMessage *msg;
  guint sub;   /* /v1/events: the node subscription */
  GStrv types; /* /v1/events: prefixes; NULL = all */
  guint64 appended, written;
  gboolean closed;
  /* plugin streams */
  CairnPlugin *plugin;
  CairnStreamClosedFn on_closed;
  void *user_data;
};
typedef struct CairnStream SseClient;

/* ---- responses ---------------------------------------------------------- */

void
cairn_http_reply_json (SoupServerMessage *msg, guint status, json_t *body)
{
  char *text
      = json_dumps (body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref (body);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    text, text ? strlen (text) : 0);
}

void
cairn_http_reply_error (SoupServerMessage *msg, guint status, const char *code,
                        const char *message)
{
  cairn_http_reply_json (
      msg, status,
      json_pack ("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

static guint
status_for_cairn_error (const GError *e)
{
  if (e->domain != CAIRN_ERROR)
    return 500;
  switch (e->code) {
  case CAIRN_ERROR_INVALID:
  case CAIRN_ERROR_INSUFFICIENT_FUNDS:
  case CAIRN_ERROR_OVERFLOW:
    return 400;
  case CAIRN_ERROR_UNAUTHORIZED:
    return 403;
  case CAIRN_ERROR_NOT_FOUND:
    return 404;
  case CAIRN_ERROR_CONFLICT:
    return 409;
  case CAIRN_ERROR_NOT_IMPLEMENTED:
    return 501;
  default:
    return 500;
  }
}

void
cairn_http_reply_gerror (SoupServerMessage *msg, const GError *e)
{
  if (e->domain == CAIRN_REJECT) {
    guint status = 400;
    if (e->code == CAIRN_REJECT_DUPLICATE
        || e->code == CAIRN_REJECT_NONCE_TOO_LOW)
      status = 409;
    else if (e->code == CAIRN_REJECT_MEMPOOL_FULL)
      status = 503;
    else if (e->code == CAIRN_REJECT_SENDER_LIMIT)
      status = 429;
    else if (e->code == CAIRN_REJECT_TOO_LARGE)
      status = 413;
    cairn_http_reply_error (msg, status, cairn_reject_name (e->code),
                            e->message);
    return;
  }
  cairn_http_reply_error (
      msg, status_for_cairn_error (e),
      e->domain == CAIRN_ERROR ? cairn_error_code_name (e->code) : "failed",
      e->message);
}

static json_t *
error_object (const GError *e)
{
  const char *code = e->domain == CAIRN_REJECT ? cairn_reject_name (e->code)
                     : e->domain == CAIRN_ERROR
                         ? cairn_error_code_name (e->code)
                         : "failed";
  return json_pack ("{s:{s:s, s:s}}", "error", "code", code, "message",
                    e->message);
}

/* ---- /v1/txs ------------------------------------------------------------
 *
 * Decoding and signature checks run on a worker thread while the main loop
 * keeps executing and committing blocks; only admission to the mempool
 * (which reads the chain's nonces) runs back on the main thread. */

#define MAX_PENDING_SUBMITS 8

typedef struct {
  CairnHttp *http;
  SoupServerMessage *msg;
  GBytes *body;
  char *chain_id;
  CairnTxBatch batch; /* decoded (http_parse.c) */
  GError *fatal;      /* the whole body is unusable */
} Submit;

static void
submit_free (Submit *s)
{
  cairn_tx_batch_clear (&s->batch);
  g_clear_error (&s->fatal);
  g_bytes_unref (s->body);
  g_free (s->chain_id);
  g_object_unref (s->msg);
  g_free (s);
}

/* Worker thread: pure functions of the bytes only. */
static void
submit_decode (Submit *s)
{
  gsize len;
  const char *data = g_bytes_get_data (s->body, &len);
  cairn_http_parse_txs (data, len, s->chain_id, &s->batch, &s->fatal);
}

static void
submit_work (GTask *task, gpointer src, gpointer data, GCancellable *c)
{
  Submit *s = data;
  submit_decode (s);
  for (guint k = 0; k < s->batch.n; k++)
    if (s->batch.txs[k])
      cairn_tx_verify (s->batch.txs[k], &s->batch.errs[k]);
  g_task_return_boolean (task, TRUE);
}

static void
count_reject (CairnNode *node, const GError *e)
{
  if (e->domain == CAIRN_REJECT && e->code > 0
      && e->code < (int)G_N_ELEMENTS (node->metrics.txs_rejected))
    node->metrics.txs_rejected[e->code]++;
}

/* Main thread: admit what decoded and verified, answer, resume. */
static void
submit_finish (Submit *s)
{
  CairnHttp *http = s->http;
  CairnNode *node = http->node;
  SoupServerMessage *msg = s->msg;
  http->pending_submits--;
  if (s->fatal) {
    node->metrics.txs_received++;
    count_reject (node, s->fatal);
    cairn_http_reply_gerror (msg, s->fatal);
    return;
  }
  g_autofree CairnTx **good = g_new0 (CairnTx *, MAX (s->batch.n, 1));
  g_autofree guint *where = g_new0 (guint, MAX (s->batch.n, 1));
  guint ngood = 0;
  for (guint k = 0; k < s->batch.n; k++) {
    if (s->batch.errs[k]) {
      node->metrics.txs_received++;
      count_reject (node, s->batch.errs[k]);
    } else {
      where[ngood] = k;
      good[ngood++] = s->batch.txs[k];
    }
  }
  g_autofree GError **gerrs = g_new0 (GError *, MAX (ngood, 1));
  guint accepted
      = http->closing ? 0 : cairn_node_submit_many (node, good, ngood, gerrs);
  for (guint g = 0; g < ngood; g++) {
    if (http->closing && gerrs[g] == NULL)
      g_set_error (&gerrs[g], CAIRN_REJECT, CAIRN_REJECT_MEMPOOL_FULL,
                   "the node is shutting down");
    s->batch.errs[where[g]] = gerrs[g];
  }
  if (s->batch.single) {
    if (s->batch.errs[0])
      cairn_http_reply_gerror (msg, s->batch.errs[0]);
    else
      cairn_http_reply_json (
          msg, 202, json_pack ("{s:s}", "id", s->batch.txs[0]->id_hex));
    return;
  }
  /* Written out rather than built as a Jansson tree: one reply per batch
   * of up to thousands of txs, mostly {"id":…}. Same bytes as the dump. */
  GString *out = g_string_sized_new (32 + s->batch.n * 76);
  g_string_append_printf (out, "{\"accepted\":%u,\"results\":[", accepted);
  for (guint k = 0; k < s->batch.n; k++) {
    if (k)
      g_string_append_c (out, ',');
    if (s->batch.errs[k] == NULL) {
      g_string_append (out, "{\"id\":\"");
      g_string_append (out, s->batch.txs[k]->id_hex);
      g_string_append (out, "\"}");
      continue;
    }
    g_autoptr (json_t) e = error_object (s->batch.errs[k]);
    g_autofree char *text
        = json_dumps (e, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    g_string_append (out, text ? text : "null");
  }
  g_string_append (out, "]}");
  soup_server_message_set_status (msg, 200, NULL);
  gsize n = out->len;
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_string_free (out, FALSE), n);
}

static void
submit_done (GObject *src, GAsyncResult *res, gpointer data)
{
  Submit *s = g_task_get_task_data (G_TASK (res));
  submit_finish (s);
  soup_server_message_unpause (s->msg);
}

static void
post_txs (CairnHttp *http, SoupServerMessage *msg)
{
  CairnNode *node = http->node;
  Submit *s = g_new0 (Submit, 1);
  s->http = http;
  s->msg = g_object_ref (msg);
  s->body
      = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  s->chain_id = g_strdup (node->genesis->chain_id);
  http->pending_submits++;
  if (http->pending_submits > MAX_PENDING_SUBMITS) {
    /* Back-pressure: the workers are busy, so this client waits for us. */
    g_autoptr (GTask) t = g_task_new (NULL, NULL, NULL, NULL);
    submit_work (t, NULL, s, NULL);
    submit_finish (s);
    submit_free (s);
    return;
  }
  soup_server_message_pause (msg);
  GTask *task = g_task_new (NULL, NULL, submit_done, NULL);
  g_task_set_task_data (task, s, (GDestroyNotify)submit_free);
  g_task_run_in_thread (task, submit_work);
  g_object_unref (task);
}

/* ---- events (server-sent) ----------------------------------------------- */

static void
sse_send (SseClient *c, const char *text, gsize len)
{
  if (c->closed)
    return;
  SoupMessageBody *body = soup_server_message_get_response_body (c->msg);
  if (c->appended - c->written > SSE_MAX_BACKLOG) {
    /* The client does not keep up: end its stream rather than buffer on. */
    c->closed = TRUE;
    c->http->node->metrics.events_dropped++;
    soup_message_body_complete (body);
    soup_server_message_unpause (c->msg);
    return;
  }
  soup_message_body_append (body, SOUP_MEMORY_COPY, text, len);
  c->appended += len;
  soup_server_message_unpause (c->msg);
}

static void
sse_on_event (const CairnEvent *ev, void *data)
{
  SseClient *c = data;
  if (c->types) {
    gboolean want = FALSE;
    for (guint i = 0; c->types[i] && !want; i++)
      want = g_str_has_prefix (ev->type, c->types[i]);
    if (!want)
      return;
  }
  g_autoptr (json_t) obj
      = json_pack ("{s:s, s:I, s:O}", "type", ev->type, "height",
                   (json_int_t)ev->height, "attrs", ev->attrs);
  if (ev->tx_id) {
    json_object_set_new (obj, "tx_id", json_string (ev->tx_id));
    json_object_set_new (obj, "tx_index", json_integer (ev->tx_index));
  }
  g_autofree char *data_text = json_dumps (obj, JSON_COMPACT | JSON_SORT_KEYS);
  g_autofree char *frame
      = g_strdup_printf ("event: %s\ndata: %s\n\n", ev->type, data_text);
  sse_send (c, frame, strlen (frame));
}

static void
sse_wrote (SoupServerMessage *msg, guint size, gpointer data)
{
  ((SseClient *)data)->written += size;
}

/* A plugin stream is over: tell its plugin (once). */
static void
sse_plugin_closed (SseClient *c)
{
  CairnStreamClosedFn fn = c->on_closed;
  c->on_closed = NULL;
  c->closed = TRUE;
  if (fn != NULL)
    fn (c->plugin, c, c->user_data);
}

static void
sse_finished (SoupServerMessage *msg, gpointer data)
{
  SseClient *c = data;
  sse_plugin_closed (c);
  if (c->sub)
    cairn_node_unsubscribe (c->http->node, c->sub);
  c->http->sse_clients = g_list_remove (c->http->sse_clients, c);
  g_strfreev (c->types);
  g_object_unref (c->msg);
  g_free (c);
}

static gboolean
sse_ping (gpointer data)
{
  CairnHttp *http = data;
  for (GList *l = http->sse_clients; l; l = l->next)
    sse_send (l->data, ": ping\n\n", 8);
  return G_SOURCE_CONTINUE;
}

/* Start an event stream answer on msg. */
static void
sse_begin (SseClient *c)
{
  SoupServerMessage *msg = c->msg;
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (h, "text/event-stream", NULL);
  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  soup_server_message_set_status (msg, 200, NULL);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg),
                                    FALSE);
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (sse_wrote), c);
  g_signal_connect (msg, "finished", G_CALLBACK (sse_finished), c);
  c->http->sse_clients = g_list_prepend (c->http->sse_clients, c);
}

static gboolean
sse_room (CairnHttp *http, SoupServerMessage *msg)
{
  if (g_list_length (http->sse_clients) < SSE_MAX_CLIENTS)
    return TRUE;
  cairn_http_reply_error (msg, 503, "busy", "too many event stream clients");
  return FALSE;
}

static void
get_events (CairnHttp *http, SoupServerMessage *msg, GHashTable *query)
{
  if (!sse_room (http, msg))
    return;
  SseClient *c = g_new0 (SseClient, 1);
  c->http = http;
  c->msg = g_object_ref (msg);
  const char *types = query ? g_hash_table_lookup (query, "types") : NULL;
  if (types && *types)
    c->types = g_strsplit (types, ",", -1);
  sse_begin (c);
  c->sub = cairn_node_subscribe (http->node, "", sse_on_event, c);
  sse_send (c, ": cairn events\n\n", 16);
}

/* ---- plugin event streams (1.4) ----------------------------------------- */

static void
plugin_stream (CairnHttp *http, SoupServerMessage *msg, const char *path,
               GHashTable *query, const RouteEntry *r, const char *rest)
{
  if (!sse_room (http, msg))
    return;
  g_autoptr (GHashTable) empty = NULL;
  if (query == NULL)
    query = empty = g_hash_table_new (g_str_hash, g_str_equal);
  GInetSocketAddress *ra
      = G_INET_SOCKET_ADDRESS (soup_server_message_get_remote_address (msg));
  g_autofree char *remote
      = ra ? g_inet_address_to_string (g_inet_socket_address_get_address (ra))
           : g_strdup ("");
  CairnRequest req = { .size = sizeof req,
                       .method = "GET",
                       .path = path,
                       .path_rest = rest,
                       .query = query,
                       .remote = remote };
  SseClient *c = g_new0 (SseClient, 1);
  c->http = http;
  c->msg = g_object_ref (msg);
  c->plugin = r->plugin;
  c->user_data = r->user_data;
  /* open may send already: that goes into the body, which libsoup sends
   * only after this handler returns, so a refusal can still replace it. */
  GError *err = NULL;
  if (!r->stream_open (r->plugin, &req, c, r->user_data, &err)) {
    soup_message_body_truncate (soup_server_message_get_response_body (msg));
    if (err == NULL)
      g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                   "stream %s failed without saying why", path);
    cairn_http_reply_gerror (msg, err);
    g_error_free (err);
    g_object_unref (c->msg);
    g_free (c);
    return;
  }
  c->on_closed = r->stream_closed;
  sse_begin (c);
  if (c->closed) /* closed or overrun in open */
    cairn_http_stream_close (c);
  else
    sse_send (c, ": cairn stream\n\n", 16);
}

gboolean
cairn_http_stream_send (CairnStream *c, const char *event, const char *id,
                        const json_t *data)
{
  if (c == NULL || c->closed || event == NULL || data == NULL
      || strpbrk (event, "\r\n") || (id && strpbrk (id, "\r\n")))
    return FALSE;
  g_autofree char *text = json_dumps (data, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL)
    return FALSE;
  g_autofree char *frame
      = id ? g_strdup_printf ("event: %s\nid: %s\ndata: %s\n\n", event, id,
                              text)
           : g_strdup_printf ("event: %s\ndata: %s\n\n", event, text);
  sse_send (c, frame, strlen (frame));
  return !c->closed;
}

void
cairn_http_stream_close (CairnStream *c)
{
  if (c == NULL || c->closed)
    return;
  c->closed = TRUE;
  soup_message_body_complete (soup_server_message_get_response_body (c->msg));
  soup_server_message_unpause (c->msg);
}

/* ---- plugin routes ------------------------------------------------------ */

static void
plugin_route (CairnHttp *http, SoupServerMessage *msg, const char *method,
              const char *path, GHashTable *query, CairnPlugin *plugin,
              CairnRouteFn fn, void *user_data, const char *rest)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (json_t) jbody = NULL;
  if (body->length > 0) {
    json_error_t jerr;
    jbody
        = json_loadb (body->data, body->length, JSON_REJECT_DUPLICATES, &jerr);
    if (jbody == NULL) {
      g_autofree char *m = g_strdup_printf ("body is not JSON: %s at byte %d",
                                            jerr.text, jerr.position);
      cairn_http_reply_error (msg, 400, "invalid", m);
      return;
    }
  }
  g_autoptr (GHashTable) empty = NULL;
  if (query == NULL)
    query = empty = g_hash_table_new (g_str_hash, g_str_equal);
  GInetSocketAddress *ra
      = G_INET_SOCKET_ADDRESS (soup_server_message_get_remote_address (msg));
  g_autofree char *remote
      = ra ? g_inet_address_to_string (g_inet_socket_address_get_address (ra))
           : g_strdup ("");
  CairnRequest req = { .size = sizeof req,
                       .method = method,
                       .path = path,
                       .path_rest = rest,
                       .query = query,
                       .body = jbody,
                       .remote = remote };
  CairnResponse resp = { .size = sizeof resp, .status = 200 };
  GError *err = NULL;
  CairnPluginCall call
      = cairn_plugin_call_enter (plugin->desc.id, "HTTP route");
  gboolean routed = fn (plugin, &req, &resp, user_data, &err);
  cairn_plugin_call_leave (call);
  if (!routed) {
    json_decref (resp.json);
    if (resp.body)
      g_bytes_unref (resp.body);
    if (resp.stream_free)
      resp.stream_free (resp.stream_data);
    if (err == NULL)
      g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                   "route %s %s failed without saying why", method, path);
    cairn_http_reply_gerror (msg, err);
    g_error_free (err);
    return;
  }
  if (resp.open_stream) {
    json_decref (resp.json);
    if (resp.body)
      g_bytes_unref (resp.body);
    soup_message_headers_set_content_type (
        soup_server_message_get_response_headers (msg),
        resp.content_type ? resp.content_type : "application/octet-stream",
        NULL);
    if (!cairn_http_reply_ranged (http, msg, resp.status ? resp.status : 200,
                                  resp.stream_size, resp.open_stream,
                                  resp.stream_data, &err)) {
      g_prefix_error (&err, "route %s %s: opening its body: ", method, path);
      cairn_http_reply_gerror (msg, err);
      g_error_free (err);
    }
    if (resp.stream_free)
      resp.stream_free (resp.stream_data);
  } else if (resp.json) {
    cairn_http_reply_json (msg, resp.status ? resp.status : 200, resp.json);
    if (resp.body)
      g_bytes_unref (resp.body);
  } else if (resp.body) {
    gsize len;
    const void *p = g_bytes_get_data (resp.body, &len);
    soup_server_message_set_status (msg, resp.status ? resp.status : 200, NULL);
    soup_server_message_set_response (
        msg, resp.content_type ? resp.content_type : "application/octet-stream",
        SOUP_MEMORY_COPY, p, len);
    g_bytes_unref (resp.body);
  } else {
    soup_server_message_set_status (msg, resp.status ? resp.status : 204, NULL);
  }
}

/* ---- dispatch ----------------------------------------------------------- */

static void
reply_result (SoupServerMessage *msg, json_t *obj, GError *err)
{
  if (obj)
    cairn_http_reply_json (msg, 200, obj);
  else {
    cairn_http_reply_gerror (msg, err);
    g_error_free (err);
  }
}

static void
get_state (CairnHttp *http, SoupServerMessage *msg, const char *rest,
           GHashTable *query)
{
  g_autofree char *ns = NULL;
  const char *key;
  if (!cairn_http_split_state_path (rest, &ns, &key)) {
    cairn_http_reply_error (msg, 400, "invalid",
                            "use /v1/state/{plugin}/{key}");
    return;
  }
  uint64_t height = CAIRN_HEAD;
  const char *hq = query ? g_hash_table_lookup (query, "height") : NULL;
  if (hq && !cairn_http_parse_height (hq, &height)) {
    cairn_http_reply_error (msg, 400, "invalid",
                            "height must be an integer or 'latest'");
    return;
  }
  GError *err = NULL;
  g_autoptr (GBytes) v
      = cairn_node_state_get (http->node, ns, key, height, &err);
  if (v == NULL) {
    reply_result (msg, NULL, err);
    return;
  }
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  json_t *value = json_loadb (p, len, JSON_DECODE_ANY, NULL);
  json_t *out = json_pack ("{s:s, s:s}", "plugin", ns, "key", key);
  if (value) {
    json_object_set_new (out, "value", value);
  } else {
    g_autofree char *hex = cairn_hex_encode (p, len);
    json_object_set_new (out, "value_hex", json_string (hex));
  }
  cairn_http_reply_json (msg, 200, out);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer data)
{
  CairnHttp *http = data;
  CairnNode *node = http->node;
  const char *method = soup_server_message_get_method (msg);
  gboolean get = strcmp (method, "GET") == 0;
  node->metrics.http_requests++;
  GError *err = NULL;

  if (get && strcmp (path, "/metrics") == 0) {
    g_autoptr (GString) s = g_string_new (NULL);
    cairn_node_metrics (node, s);
    soup_server_message_set_status (msg, 200, NULL);
    soup_server_message_set_response (msg, "text/plain; version=0.0.4",
                                      SOUP_MEMORY_COPY, s->str, s->len);
    return;
  }
  if (get && strcmp (path, "/v1/status") == 0) {
    cairn_http_reply_json (msg, 200, cairn_node_status_json (node));
    return;
  }
  if (strcmp (path, "/v1/txs") == 0) {
    if (strcmp (method, "POST") != 0)
      cairn_http_reply_error (msg, 405, "method_not_allowed",
                              "use POST /v1/txs");
    else
      post_txs (http, msg);
    return;
  }
  if (get && g_str_has_prefix (path, "/v1/txs/")) {
    json_t *obj = cairn_node_tx_json (node, path + 8, &err);
    reply_result (msg, obj, err);
    return;
  }
  if (get && g_str_has_prefix (path, "/v1/blocks/")) {
    uint64_t h;
    if (!cairn_http_parse_height (path + 11, &h)) {
      cairn_http_reply_error (
          msg, 400, "invalid",
          "block height must be a non-negative integer or 'latest'");
      return;
    }
    json_t *obj = cairn_node_block_json (node, h, &err);
    reply_result (msg, obj, err);
    return;
  }
  if (get && g_str_has_prefix (path, "/v1/accounts/")) {
    json_t *obj = cairn_node_account_json (node, path + 13, &err);
    reply_result (msg, obj, err);
    return;
  }
  if (get && g_str_has_prefix (path, "/v1/state/")) {
    get_state (http, msg, path + 10, query);
    return;
  }
  if (get && strcmp (path, "/v1/events") == 0) {
    get_events (http, msg, query);
    return;
  }
  if (cairn_http_blobs_handle (http, msg, method, path))
    return;
  const char *srest;
  const RouteEntry *sr
      = get ? cairn_node_find_stream_route (node, path, &srest) : NULL;
  if (sr != NULL) {
    plugin_stream (http, msg, path, query, sr, srest);
    return;
  }
  CairnPlugin *plugin;
  CairnRouteFn fn;
  void *user_data;
  const char *rest;
  if (cairn_node_find_route (node, method, path, &plugin, &fn, &user_data,
                             &rest)) {
    plugin_route (http, msg, method, path, query, plugin, fn, user_data, rest);
    return;
  }
  node->metrics.http_errors++;
  g_autofree char *m = g_strdup_printf ("no route for %s %s", method, path);
  cairn_http_reply_error (msg, 404, "not_found", m);
}

/* ---- limits -------------------------------------------------------------
 *
 * Connections are counted by their GSocket from the request-started signal
 * (libsoup starts reading a request on it); the first one of a socket is
 * its accept, and a connection over max_connections(_per_ip) is shut down
 * there. Each request must be read (headers and body) within
 * request_timeout_ms of its start, or the connection is shut down: a
 * slowloris client holds a slot that long at most. Blob uploads, streamed,
 * are exempt once their headers are in. Between requests (from
 * request-finished) a kept-alive connection may idle as long, then it is
 * closed. The request rate per IP is a token bucket checked in the early
 * handler. */

void
cairn_http_limits_default (CairnHttpLimits *out)
{
  *out = (CairnHttpLimits){
    .max_connections = 1024,
    .max_connections_per_ip = 256,
    .max_body_bytes = CAIRN_HTTP_MAX_BODY,
    .rate_per_s = 200,
    .rate_burst = 400,
    .rate_exempt_loopback = TRUE,
    .request_timeout_ms = 30000,
  };
}

typedef struct {
  CairnHttp *http;
  GSocket *sock;
  char ip[INET6_ADDRSTRLEN + 1];
  guint timer;   /* the request being read must be in by then */
  gboolean busy; /* a request is being read or answered */
} HttpConn;

static void http_conn_gone (gpointer data, GObject *where);

static void
http_conn_free (gpointer p)
{
  HttpConn *c = p;
  g_clear_handle_id (&c->timer, g_source_remove);
  if (c->sock != NULL)
    g_object_weak_unref (G_OBJECT (c->sock), http_conn_gone, c);
  g_free (c);
}

/* libsoup dropped the connection's socket: the connection is over. */
static void
http_conn_gone (gpointer data, GObject *where)
{
  HttpConn *c = data;
  gpointer key = c->sock;
  c->sock = NULL;
  g_hash_table_remove (c->http->conns, key);
}

/* Is c over? An idle kept-alive connection whose client has gone is
 * closed here: libsoup 3.2 leaves those in CLOSE_WAIT (an fd each, for as
 * long as the process lives) since it reads nothing between requests. */
static gboolean
http_conn_closed (gpointer key, gpointer value, gpointer data)
{
  HttpConn *c = value;
  char b;
  ssize_t r;
  if (c->sock == NULL || g_socket_is_closed (c->sock))
    return TRUE;
  if (c->busy)
    return FALSE;
  r = recv (g_socket_get_fd (c->sock), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0
      || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    g_socket_close (c->sock, NULL);
    return TRUE;
  }
  return FALSE;
}

/* Forget the connections libsoup closed, and the rate buckets that are
 * full again (an idle IP costs nothing). */
static gboolean
http_sweep (gpointer data)
{
  CairnHttp *http = data;
  GHashTableIter it;
  gpointer v;
  gint64 now = g_get_monotonic_time ();

  g_hash_table_foreach_remove (http->conns, http_conn_closed, NULL);
  g_hash_table_iter_init (&it, http->buckets);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    if (cairn_token_bucket_level (v, http->lim.rate_per_s, http->lim.rate_burst,
                                  now)
        >= http->lim.rate_burst)
      g_hash_table_iter_remove (&it);
  }
  return G_SOURCE_CONTINUE;
}

static void
socket_ip (GSocket *sock, char *out, gsize len)
{
  g_autoptr (GSocketAddress) sa = g_socket_get_remote_address (sock, NULL);
  g_strlcpy (out, "?", len);
  if (sa != NULL && G_IS_INET_SOCKET_ADDRESS (sa)) {
    g_autofree char *s = g_inet_address_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
    g_strlcpy (out, s, len);
  }
}

static gboolean
http_conn_timeout (gpointer data)
{
  HttpConn *c = data;
  c->timer = 0;
  if (c->busy) /* an idle kept-alive connection just ends */
    c->http->stats.timeouts++;
  g_debug ("http: closing the connection of %s: no whole request in %u ms "
           "([http] request_timeout_ms)",
           c->ip, c->http->lim.request_timeout_ms);
  g_socket_shutdown (c->sock, TRUE, TRUE, NULL);
  if (!c->busy) /* libsoup is not reading it: nobody else will close it */
    g_socket_close (c->sock, NULL);
  return G_SOURCE_REMOVE;
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  CairnHttp *http = data;
  GSocket *sock = soup_server_message_get_socket (msg);
  if (sock == NULL)
    return;
  HttpConn *c = g_hash_table_lookup (http->conns, sock);
  if (c == NULL) {
    char ip[INET6_ADDRSTRLEN + 1];
    guint same = 0;
    GHashTableIter it;
    gpointer v;
    g_hash_table_foreach_remove (http->conns, http_conn_closed, NULL);
    socket_ip (sock, ip, sizeof ip);
    g_hash_table_iter_init (&it, http->conns);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (strcmp (((HttpConn *)v)->ip, ip) == 0)
        same++;
    if (g_hash_table_size (http->conns) >= http->lim.max_connections
        || same >= http->lim.max_connections_per_ip) {
      if (same >= http->lim.max_connections_per_ip)
        http->stats.per_ip++;
      else
        http->stats.max_connections++;
      g_debug ("http: refused a connection from %s (%u open, %u from it)", ip,
               g_hash_table_size (http->conns), same);
      g_socket_shutdown (sock, TRUE, TRUE, NULL);
      return;
    }
    c = g_new0 (HttpConn, 1);
    c->http = http;
    c->sock = sock; /* weak: libsoup owns it */
    g_object_weak_ref (G_OBJECT (sock), http_conn_gone, c);
    g_strlcpy (c->ip, ip, sizeof c->ip);
    g_hash_table_insert (http->conns, sock, c);
  }
  c->busy = TRUE;
  g_clear_handle_id (&c->timer, g_source_remove);
  c->timer = g_timeout_add (http->lim.request_timeout_ms, http_conn_timeout, c);
}

/* Answered (or aborted): the connection waits for its next request, at
 * most request_timeout_ms. */
static void
on_request_done (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  CairnHttp *http = data;
  GSocket *sock = soup_server_message_get_socket (msg);
  HttpConn *c = sock ? g_hash_table_lookup (http->conns, sock) : NULL;
  if (c == NULL)
    return;
  c->busy = FALSE;
  g_clear_handle_id (&c->timer, g_source_remove);
  c->timer = g_timeout_add (http->lim.request_timeout_ms, http_conn_timeout, c);
}

static void
request_in (CairnHttp *http, SoupServerMessage *msg)
{
  GSocket *sock = soup_server_message_get_socket (msg);
  HttpConn *c = sock ? g_hash_table_lookup (http->conns, sock) : NULL;
  if (c != NULL)
    g_clear_handle_id (&c->timer, g_source_remove);
}

static void
on_request_read (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  request_in (data, msg);
}

/* TRUE if the request may go on; otherwise answered 429. */
static gboolean
rate_allow (CairnHttp *http, SoupServerMessage *msg)
{
  if (http->lim.rate_per_s <= 0)
    return TRUE;
  GSocketAddress *sa = soup_server_message_get_remote_address (msg);
  if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
    return TRUE;
  GInetAddress *a
      = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  if (http->lim.rate_exempt_loopback && g_inet_address_get_is_loopback (a))
    return TRUE;
  g_autofree char *ip = g_inet_address_to_string (a);
  gint64 now = g_get_monotonic_time ();
  CairnTokenBucket *b = g_hash_table_lookup (http->buckets, ip);
  if (b == NULL) {
    b = g_new (CairnTokenBucket, 1);
    cairn_token_bucket_init (b, http->lim.rate_burst, now);
    g_hash_table_insert (http->buckets, g_strdup (ip), b);
  }
  cairn_token_bucket_refill (b, http->lim.rate_per_s, http->lim.rate_burst,
                             now);
  if (b->tokens >= 1) {
    b->tokens -= 1;
    return TRUE;
  }
  http->stats.rate_limited++;
  guint after = (guint)((1 - b->tokens) / http->lim.rate_per_s) + 1;
  char val[16];
  g_snprintf (val, sizeof val, "%u", after);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Retry-After", val);
  g_autofree char *m
      = g_strdup_printf ("more than %g requests per second from %s ([http] "
                         "requests_per_second_per_ip); retry in %u s",
                         http->lim.rate_per_s, ip, after);
  cairn_http_reply_error (msg, 429, "rate_limited", m);
  return FALSE;
}

void
cairn_http_limit_stats (CairnHttp *http, CairnHttpLimitStats *out)
{
  g_hash_table_foreach_remove (http->conns, http_conn_closed, NULL);
  *out = http->stats;
  out->connections = g_hash_table_size (http->conns);
}

/* Refuse oversized or unsized bodies before libsoup reads them. */
static void
early (SoupServer *server, SoupServerMessage *msg, const char *path,
       GHashTable *query, gpointer data)
{
  CairnHttp *http = data;
  if (!rate_allow (http, msg))
    return;
  if (cairn_http_blobs_early (http, msg, soup_server_message_get_method (msg),
                              path)) {
    /* A blob upload streams for as long as it takes. */
    request_in (http, msg);
    return;
  }
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (h);
  if (enc == SOUP_ENCODING_CHUNKED || enc == SOUP_ENCODING_EOF) {
    cairn_http_reply_error (
        msg, 411, "length_required",
        "send a Content-Length (chunked request bodies are refused)");
    return;
  }
  if (enc == SOUP_ENCODING_CONTENT_LENGTH
      && (guint64)soup_message_headers_get_content_length (h)
             > http->lim.max_body_bytes) {
    g_autofree char *m = g_strdup_printf (
        "request body of %" G_GINT64_FORMAT " bytes exceeds %" G_GUINT64_FORMAT
        " ([http] max_body_bytes)",
        soup_message_headers_get_content_length (h), http->lim.max_body_bytes);
    http->stats.body_too_large++;
    cairn_http_reply_error (msg, 413, "too_large", m);
  }
}

CairnHttp *
cairn_http_new (CairnNode *node, const char *listen, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  const char *colon = listen ? strrchr (listen, ':') : NULL;
  guint64 p;
  if (colon == NULL || colon == listen
      || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &p, NULL)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[http] listen: expected HOST:PORT (got '%s')",
                 listen ? listen : "");
    return NULL;
  }
  port = p;
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[' && g_str_has_suffix (host, "]")) {
    char *inner = g_strndup (host + 1, strlen (host) - 2);
    g_free (host);
    host = inner;
  }
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (host);
  if (addr == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[http] listen: '%s' is not an IP address", host);
    return NULL;
  }
  CairnHttp *http = g_new0 (CairnHttp, 1);
  http->node = node;
  http->lim = node->http_limits; /* read by the node with their defaults */
  http->conns = g_hash_table_new_full (NULL, NULL, NULL, http_conn_free);
  http->buckets
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  http->server
      = soup_server_new ("server-header", "cairn/" CAIRN_VERSION, NULL);
  g_signal_connect (http->server, "request-started",
                    G_CALLBACK (on_request_started), http);
  g_signal_connect (http->server, "request-read", G_CALLBACK (on_request_read),
                    http);
  g_signal_connect (http->server, "request-finished",
                    G_CALLBACK (on_request_done), http);
  g_signal_connect (http->server, "request-aborted",
                    G_CALLBACK (on_request_done), http);
  http->sweep_source = g_timeout_add_seconds (5, http_sweep, http);
  soup_server_add_early_handler (http->server, NULL, early, http, NULL);
  soup_server_add_handler (http->server, NULL, handle, http, NULL);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (addr, port);
  if (!soup_server_listen (http->server, sa, 0, error)) {
    g_prefix_error (error, "[http] listen %s: ", listen);
    cairn_http_free (http);
    return NULL;
  }
  GSList *uris = soup_server_get_uris (http->server);
  if (uris) {
    GUri *u = uris->data;
    if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6)
      http->url = g_strdup_printf ("http://[%s]:%d", host, g_uri_get_port (u));
    else
      http->url = g_strdup_printf ("http://%s:%d", host, g_uri_get_port (u));
  }
  g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  cairn_http_blobs_clean (http);
  http->ping_source = g_timeout_add_seconds (SSE_PING_SECONDS, sse_ping, http);
  if (!g_inet_address_get_is_loopback (addr))
    g_warning ("the HTTP API listens on %s, beyond this machine: anyone who "
               "reaches it can submit transactions",
               listen);
  return http;
}

const char *
cairn_http_url (CairnHttp *http)
{
  return http->url;
}

void
cairn_http_free (CairnHttp *http)
{
  if (http == NULL)
    return;
  g_clear_handle_id (&http->ping_source, g_source_remove);
  g_clear_handle_id (&http->sweep_source, g_source_remove);
  /* Let submissions still on worker threads come back (they are quick). */
  http->closing = TRUE;
  while (http->pending_submits > 0 || http->pending_blobs > 0)
    g_main_context_iteration (NULL, TRUE);
  cairn_http_streams_close (http);
  for (GList *l = http->sse_clients; l; l = l->next) {
    SseClient *c = l->data;
    if (c->sub)
      cairn_node_unsubscribe (http->node, c->sub);
    c->sub = 0;
    g_signal_handlers_disconnect_by_data (c->msg, c);
    gboolean was_closed = c->closed;
    sse_plugin_closed (c);
    c->closed = was_closed;
    if (!c->closed) {
      soup_message_body_complete (
          soup_server_message_get_response_body (c->msg));
      soup_server_message_unpause (c->msg);
    }
    g_strfreev (c->types);
    g_object_unref (c->msg);
    g_free (c);
  }
  g_list_free (http->sse_clients);
  if (http->server) {
    g_signal_handlers_disconnect_by_data (http->server, http);
    soup_server_disconnect (http->server);
    g_object_unref (http->server);
  }
  if (http->conns)
    g_hash_table_destroy (http->conns);
  if (http->buckets)
    g_hash_table_destroy (http->buckets);
  g_free (http->url);
  g_free (http);
}

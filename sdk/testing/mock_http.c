/* The mock host's HTTP side: plugin routes and server-sent event streams
 * called directly, answered as the node's core/http.c answers (see
 * <cairn/testing/mock_host.h>). */
#include <string.h>

#include "mock_private.h"

struct CairnTestStream {
  CairnTestHost *host; /* NULL once the host is gone */
  CairnTestPlugin *tp;
  CairnStreamClosedFn closed;
  void *user_data;
  json_t *messages;
  gboolean ended;
};

/* The status the node answers a route's CAIRN_ERROR with. */
static guint
status_for (const GError *e)
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

static json_t *
error_json (const char *code, const char *message)
{
  return json_pack ("{s:{s:s, s:s}}", "error", "code", code, "message",
                    message);
}

static json_t *
gerror_json (const GError *e)
{
  return error_json (e->domain == CAIRN_ERROR ? cairn_error_code_name (e->code)
                                              : "failed",
                     e->message);
}

/* The longest match, as cairn_node_find_route. */
static MockRoute *
find_route (CairnTestHost *h, const char *method, const char *path,
            gboolean stream)
{
  MockRoute *best = NULL;
  for (guint i = 0; i < h->routes->len; i++) {
    MockRoute *r = h->routes->pdata[i];
    if (strcmp (r->method, method) != 0
        || (stream ? r->open == NULL : r->fn == NULL))
      continue;
    gboolean match = r->prefix ? g_str_has_prefix (path, r->path)
                               : strcmp (path, r->path) == 0;
    if (match && (best == NULL || strlen (r->path) > strlen (best->path)))
      best = r;
  }
  return best;
}

/* Splits "path?query" into the path and a query table (never NULL). */
static char *
split_query (const char *full, GHashTable **query)
{
  const char *q = strchr (full, '?');
  *query = NULL;
  if (q != NULL)
    *query = g_uri_parse_params (q + 1, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
  if (*query == NULL)
    *query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return q != NULL ? g_strndup (full, (gsize)(q - full)) : g_strdup (full);
}

/* Reads a streamed answer whole (resp->open_stream), as a client would. */
static GBytes *
read_stream (CairnResponse *resp, GError **error)
{
  g_autoptr (GInputStream) in
      = resp->open_stream (resp->stream_data, 0, resp->stream_size, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                                  | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error)
      < 0)
    return NULL;
  GBytes *b
      = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  if (g_bytes_get_size (b) != resp->stream_size) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "the streamed body has %" G_GSIZE_FORMAT
                 " bytes, stream_size says %" G_GUINT64_FORMAT,
                 g_bytes_get_size (b), resp->stream_size);
    g_bytes_unref (b);
    return NULL;
  }
  return b;
}

/* One request; exactly one of *json and *bytes is set on return. */
static gboolean
request (CairnTestHost *h, const char *method, const char *full_path,
         const char *body, guint *status, json_t **json, GBytes **bytes,
         char **content_type)
{
  GHashTable *query_raw;
  g_autofree char *path = split_query (full_path, &query_raw);
  g_autoptr (GHashTable) query = query_raw;
  *json = NULL;
  *bytes = NULL;
  *content_type = NULL;
  MockRoute *r = find_route (h, method, path, FALSE);
  if (r == NULL) {
    g_autofree char *m = g_strdup_printf ("no route for %s %s", method, path);
    *status = 404;
    *json = error_json ("not_found", m);
    return FALSE;
  }
  g_autoptr (json_t) jbody = NULL;
  if (body != NULL && *body != '\0') {
    json_error_t jerr;
    jbody = json_loads (body, JSON_REJECT_DUPLICATES, &jerr);
    if (jbody == NULL) {
      g_autofree char *m = g_strdup_printf ("body is not JSON: %s at byte %d",
                                            jerr.text, jerr.position);
      *status = 400;
      *json = error_json ("invalid", m);
      return TRUE;
    }
  }
  CairnRequest req = { .size = sizeof req,
                       .method = method,
                       .path = path,
                       .path_rest = path + strlen (r->path),
                       .query = query,
                       .body = jbody,
                       .remote = "127.0.0.1" };
  CairnResponse resp = { .size = sizeof resp, .status = 200 };
  GError *err = NULL;
  if (!r->fn ((CairnPlugin *)r->tp, &req, &resp, r->user_data, &err)) {
    json_decref (resp.json);
    if (resp.body != NULL)
      g_bytes_unref (resp.body);
    if (resp.stream_free != NULL)
      resp.stream_free (resp.stream_data);
    if (err == NULL)
      g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                   "route %s %s failed without saying why", method, path);
    *status = status_for (err);
    *json = gerror_json (err);
    g_error_free (err);
    return TRUE;
  }
  if (err != NULL)
    g_error ("mock host: route %s %s of plugin '%s' succeeded but set an "
             "error: %s",
             method, path, r->tp->desc->id, err->message);
  if (resp.open_stream != NULL) {
    json_decref (resp.json);
    if (resp.body != NULL)
      g_bytes_unref (resp.body);
    *bytes = read_stream (&resp, &err);
    if (resp.stream_free != NULL)
      resp.stream_free (resp.stream_data);
    if (*bytes == NULL) {
      g_prefix_error (&err, "route %s %s: opening its body: ", method, path);
      *status = status_for (err);
      *json = gerror_json (err);
      g_error_free (err);
      return TRUE;
    }
    *status = resp.status ? (guint)resp.status : 200;
    *content_type = g_strdup (resp.content_type ? resp.content_type
                                                : "application/octet-stream");
  } else if (resp.json != NULL) {
    *status = resp.status ? (guint)resp.status : 200;
    *json = resp.json;
    if (resp.body != NULL)
      g_bytes_unref (resp.body);
  } else if (resp.body != NULL) {
    *status = resp.status ? (guint)resp.status : 200;
    *bytes = resp.body;
    *content_type = g_strdup (resp.content_type ? resp.content_type
                                                : "application/octet-stream");
  } else {
    *status = resp.status ? (guint)resp.status : 204;
    *bytes = g_bytes_new (NULL, 0);
  }
  return TRUE;
}

gboolean
cairn_test_host_request (CairnTestHost *h, const char *method, const char *path,
                         const char *body, guint *status, json_t **json)
{
  json_t *j;
  GBytes *b;
  g_autofree char *ct = NULL;
  guint st;
  g_assert_nonnull (method);
  g_assert_nonnull (path);
  gboolean found = request (h, method, path, body, &st, &j, &b, &ct);
  if (b != NULL)
    g_bytes_unref (b);
  if (status != NULL)
    *status = st;
  if (json != NULL)
    *json = j;
  else
    json_decref (j);
  return found;
}

gboolean
cairn_test_host_request_bytes (CairnTestHost *h, const char *method,
                               const char *path, const char *body,
                               guint *status, char **content_type,
                               GBytes **bytes)
{
  json_t *j;
  GBytes *b;
  char *ct;
  guint st;
  g_assert_nonnull (method);
  g_assert_nonnull (path);
  gboolean found = request (h, method, path, body, &st, &j, &b, &ct);
  if (j != NULL) {
    char *text
        = json_dumps (j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    b = g_bytes_new (text, strlen (text));
    free (text);
    json_decref (j);
    g_free (ct);
    ct = g_strdup ("application/json");
  }
  if (status != NULL)
    *status = st;
  if (content_type != NULL)
    *content_type = ct;
  else
    g_free (ct);
  if (bytes != NULL)
    *bytes = b;
  else
    g_bytes_unref (b);
  return found;
}

/* ---- streams ---- */

static gboolean
m_stream_send (CairnStream *stream, const char *event, const char *id,
               const json_t *data)
{
  CairnTestStream *s = (CairnTestStream *)stream;
  g_assert_nonnull (s);
  if (s->ended || s->host == NULL)
    return FALSE;
  json_array_append_new (s->messages,
                         json_pack ("{s:s, s:o, s:O}", "event",
                                    event ? event : "message", "id",
                                    id ? json_string (id) : json_null (),
                                    "data", data ? data : json_null ()));
  return TRUE;
}

/* Ends s and runs the route's closed callback (once). */
static void
end_stream (CairnTestStream *s)
{
  if (s->ended)
    return;
  s->ended = TRUE;
  if (s->host != NULL)
    g_ptr_array_remove (s->host->streams, s);
  if (s->closed != NULL)
    s->closed ((CairnPlugin *)s->tp, (CairnStream *)s, s->user_data);
}

static void
m_stream_close (CairnStream *stream)
{
  g_assert_nonnull (stream);
  end_stream ((CairnTestStream *)stream);
}

void
cairn_test__fill_http_table (CairnHost *t)
{
  t->stream_send = m_stream_send;
  t->stream_close = m_stream_close;
}

CairnTestStream *
cairn_test_host_stream_open (CairnTestHost *h, const char *full_path,
                             guint *status, json_t **json)
{
  GHashTable *query_raw;
  g_autofree char *path = split_query (full_path, &query_raw);
  g_autoptr (GHashTable) query = query_raw;
  guint st = 200;
  json_t *j = NULL;
  CairnTestStream *s = NULL;
  MockRoute *r = find_route (h, "GET", path, TRUE);
  if (r == NULL) {
    g_autofree char *m = g_strdup_printf ("no stream route for GET %s", path);
    st = 404;
    j = error_json ("not_found", m);
  } else {
    s = g_new0 (CairnTestStream, 1);
    *s = (CairnTestStream){ .host = h,
                            .tp = r->tp,
                            .closed = r->closed,
                            .user_data = r->user_data,
                            .messages = json_array () };
    CairnRequest req = { .size = sizeof req,
                         .method = "GET",
                         .path = path,
                         .path_rest = path + strlen (r->path),
                         .query = query,
                         .remote = "127.0.0.1" };
    GError *err = NULL;
    g_ptr_array_add (h->streams, s);
    if (!r->open ((CairnPlugin *)r->tp, &req, (CairnStream *)s, r->user_data,
                  &err)) {
      /* Not closed: the closed callback is not called for a failed open. */
      g_ptr_array_remove (h->streams, s);
      json_decref (s->messages);
      g_clear_pointer (&s, g_free);
      if (err == NULL)
        g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "stream %s refused without saying why", path);
      st = status_for (err);
      j = gerror_json (err);
      g_error_free (err);
    }
  }
  if (status != NULL)
    *status = st;
  if (json != NULL)
    *json = j;
  else
    json_decref (j);
  return s;
}

const json_t *
cairn_test_stream_messages (CairnTestStream *s)
{
  return s->messages;
}

gboolean
cairn_test_stream_ended (CairnTestStream *s)
{
  return s->ended;
}

void
cairn_test_stream_free (CairnTestStream *s)
{
  if (s == NULL)
    return;
  end_stream (s);
  json_decref (s->messages);
  g_free (s);
}

void
cairn_test__streams_close_all (CairnTestHost *h)
{
  while (h->streams->len > 0) {
    CairnTestStream *s = h->streams->pdata[h->streams->len - 1];
    end_stream (s);
    s->host = NULL;
  }
}

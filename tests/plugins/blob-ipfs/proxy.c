/* A lying IPFS daemon for the tests: see proxy.h. */
#include "proxy.h"

#include <string.h>

#include <jansson.h>
#include <libsoup/soup.h>

struct Proxy {
  char *upstream;
  char *url;
  GThread *thread;
  GMainContext *ctx;
  GMainLoop *loop;

  GMutex lock; /* the rest */
  GCond cond;
  gboolean ready;
  char *listen_error;
  ProxyMode mode;
  uint64_t flip_at;
  GHashTable *calls;      /* cmd -> count (GUINT_TO_POINTER) */
  GHashTable *bytes;      /* cmd -> uint64_t * */
  GHashTable *last_query; /* cmd -> char * */
};

/* "add" from "/api/v0/add". */
static const char *
command (const char *path)
{
  return g_str_has_prefix (path, "/api/v0/") ? path + strlen ("/api/v0/")
                                             : path;
}

static char *
replace (const char *text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (text, from, -1);
  return g_strjoinv (to, parts);
}

static GBytes *
lie (ProxyMode mode, uint64_t flip_at, const char *cmd, GBytes *answer)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (answer, &len);

  if ((mode == PROXY_FLIP_CAT && strcmp (cmd, "cat") == 0)
      || (mode == PROXY_FLIP_BLOCK && strcmp (cmd, "block/get") == 0)) {
    if (flip_at >= len)
      return g_bytes_ref (answer);
    guint8 *copy = g_memdup2 (data, len);
    copy[flip_at] ^= 0x01;
    return g_bytes_new_take (copy, len);
  }
  if (mode == PROXY_SHORT_CAT && strcmp (cmd, "cat") == 0)
    return g_bytes_new_from_bytes (answer, 0, MIN (len, (gsize)flip_at));
  if (mode == PROXY_WRONG_HASH && strcmp (cmd, "add") == 0) {
    json_t *j
        = json_loadb ((const char *)data, len, JSON_DISABLE_EOF_CHECK, NULL);
    if (j == NULL || json_object_get (j, "Hash") == NULL) {
      json_decref (j);
      return g_bytes_ref (answer);
    }
    /* The CID of "hello world\n". */
    json_object_set_new (
        j, "Hash",
        json_string ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"));
    char *text = json_dumps (j, JSON_COMPACT);
    json_decref (j);
    char *line = g_strconcat (text, "\n", NULL);
    free (text);
    return g_bytes_new_take (line, strlen (line));
  }
  return g_bytes_ref (answer);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer data)
{
  Proxy *p = data;
  const char *cmd = command (path);
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  g_autofree char *qq = g_strdup (q != NULL ? q : "");
  ProxyMode mode;
  uint64_t flip_at;

  g_mutex_lock (&p->lock);
  mode = p->mode;
  flip_at = p->flip_at;
  g_hash_table_replace (p->last_query, g_strdup (cmd), g_strdup (qq));
  g_mutex_unlock (&p->lock);

  if (mode == PROXY_RAW_LEAVES && strcmp (cmd, "add") == 0) {
    g_autofree char *a = replace (qq, "cid-version=0", "cid-version=1");
    g_free (qq);
    qq = replace (a, "raw-leaves=false", "raw-leaves=true");
  }
  g_autofree char *url
      = g_strdup_printf ("%s%s%s%s", p->upstream, path, *qq ? "?" : "", qq);
  g_autoptr (SoupSession) session
      = soup_session_new_with_options ("timeout", 60, NULL);
  soup_session_set_proxy_resolver (session, NULL);
  g_autoptr (SoupMessage) up
      = soup_message_new (soup_server_message_get_method (msg), url);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *ctype = soup_message_headers_get_one (req, "Content-Type");
  g_autoptr (GBytes) body
      = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (g_bytes_get_size (body) > 0 || ctype != NULL)
    soup_message_set_request_body_from_bytes (up, ctype, body);

  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) answer
      = soup_session_send_and_read (session, up, NULL, &error);
  if (answer == NULL) {
    soup_server_message_set_status (msg, 502, NULL);
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
                                      error->message, strlen (error->message));
    return;
  }
  g_autoptr (GBytes) out = soup_message_get_status (up) == 200
                               ? lie (mode, flip_at, cmd, answer)
                               : g_bytes_ref (answer);
  gsize len;
  const void *bytes = g_bytes_get_data (out, &len);
  const char *rtype = soup_message_headers_get_one (
      soup_message_get_response_headers (up), "Content-Type");
  soup_server_message_set_status (msg, soup_message_get_status (up), NULL);
  soup_server_message_set_response (msg, rtype ? rtype : "text/plain",
                                    SOUP_MEMORY_COPY, bytes, len);

  g_mutex_lock (&p->lock);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (p->calls, cmd));
  g_hash_table_replace (p->calls, g_strdup (cmd), GUINT_TO_POINTER (n + 1));
  uint64_t *total = g_hash_table_lookup (p->bytes, cmd);
  if (total == NULL) {
    total = g_new0 (uint64_t, 1);
    g_hash_table_replace (p->bytes, g_strdup (cmd), total);
  }
  *total += len;
  g_mutex_unlock (&p->lock);
}

static gpointer
proxy_main (gpointer data)
{
  Proxy *p = data;
  g_autoptr (GError) error = NULL;

  g_main_context_push_thread_default (p->ctx);
  SoupServer *server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, NULL, handle, p, NULL);
  gboolean ok = soup_server_listen_local (server, 0,
                                          SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_mutex_lock (&p->lock);
  if (ok) {
    GSList *uris = soup_server_get_uris (server);
    p->url
        = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
    g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  } else {
    p->listen_error = g_strdup (error->message);
  }
  p->ready = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);

  if (ok)
    g_main_loop_run (p->loop);
  soup_server_disconnect (server);
  g_object_unref (server);
  while (g_main_context_iteration (p->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (p->ctx);
  return NULL;
}

Proxy *
proxy_start (const char *upstream)
{
  Proxy *p = g_new0 (Proxy, 1);
  p->upstream = g_strdup (upstream);
  p->ctx = g_main_context_new ();
  p->loop = g_main_loop_new (p->ctx, FALSE);
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->calls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->bytes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->last_query
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->thread = g_thread_new ("test-proxy", proxy_main, p);
  g_mutex_lock (&p->lock);
  while (!p->ready)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);
  if (p->listen_error != NULL)
    g_error ("test proxy: cannot listen: %s", p->listen_error);
  return p;
}

void
proxy_stop (Proxy *p)
{
  if (p == NULL)
    return;
  g_main_loop_quit (p->loop);
  g_thread_join (p->thread);
  g_main_loop_unref (p->loop);
  g_main_context_unref (p->ctx);
  g_hash_table_unref (p->calls);
  g_hash_table_unref (p->bytes);
  g_hash_table_unref (p->last_query);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p->listen_error);
  g_free (p->upstream);
  g_free (p->url);
  g_free (p);
}

const char *
proxy_url (Proxy *p)
{
  return p->url;
}

void
proxy_set_mode (Proxy *p, ProxyMode mode, uint64_t flip_at)
{
  g_mutex_lock (&p->lock);
  p->mode = mode;
  p->flip_at = flip_at;
  g_mutex_unlock (&p->lock);
}

guint
proxy_calls (Proxy *p, const char *cmd)
{
  g_mutex_lock (&p->lock);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (p->calls, cmd));
  g_mutex_unlock (&p->lock);
  return n;
}

uint64_t
proxy_bytes (Proxy *p, const char *cmd)
{
  g_mutex_lock (&p->lock);
  uint64_t *n = g_hash_table_lookup (p->bytes, cmd);
  uint64_t v = n != NULL ? *n : 0;
  g_mutex_unlock (&p->lock);
  return v;
}

char *
proxy_last_query (Proxy *p, const char *cmd)
{
  g_mutex_lock (&p->lock);
  char *q = g_strdup (g_hash_table_lookup (p->last_query, cmd));
  g_mutex_unlock (&p->lock);
  return q;
}

void
proxy_reset_counts (Proxy *p)
{
  g_mutex_lock (&p->lock);
  g_hash_table_remove_all (p->calls);
  g_hash_table_remove_all (p->bytes);
  g_mutex_unlock (&p->lock);
}

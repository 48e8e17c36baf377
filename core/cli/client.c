/* The CLI's HTTP client for the node's JSON API (libsoup 3, sync API).
 * This is the only HTTP client code in the tree: tx, query and bench all go
 * through it. A CairnClient owns one SoupSession, which keeps its
 * connection alive between requests; use one client per thread. */
#include <string.h>

#include <libsoup/soup.h>

#include <cairn/error.h>

#include "config.h"
#include "cli.h"

/* g_set_str() needs GLib 2.76. */
static void
replace_str (char **slot, const char *value)
{
  char *copy = g_strdup (value);
  g_free (*slot);
  *slot = copy;
}

struct CairnClient {
  SoupSession *session;
  char *base; /* without a trailing '/' */
  GCancellable *cancel;
};

static gboolean
is_loopback_host (const char *host)
{
  return host
         && (g_str_equal (host, "127.0.0.1") || g_str_equal (host, "::1")
             || g_str_equal (host, "localhost"));
}

CairnClient *
cairn_client_new (const char *base_url, guint timeout_s, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL
      || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
          && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "bad node URL '%s': expected http://HOST:PORT", base_url);
    return NULL;
  }
  CairnClient *client = g_new0 (CairnClient, 1);
  client->session = soup_session_new_with_options (
      "timeout", timeout_s, "user-agent", "cairn/" CAIRN_VERSION, NULL);
  /* A local node is never behind a proxy, whatever http_proxy says. */
  if (is_loopback_host (g_uri_get_host (uri)))
    soup_session_set_proxy_resolver (client->session, NULL);
  client->base = g_strdup (base_url);
  gsize n = strlen (client->base);
  while (n > 0 && client->base[n - 1] == '/')
    client->base[--n] = '\0';
  return client;
}

void
cairn_client_free (CairnClient *client)
{
  if (client == NULL)
    return;
  g_clear_object (&client->session);
  g_clear_object (&client->cancel);
  g_free (client->base);
  g_free (client);
}

const char *
cairn_client_url (CairnClient *client)
{
  return client->base;
}

void
cairn_client_set_cancellable (CairnClient *client, GCancellable *cancel)
{
  g_set_object (&client->cancel, cancel);
}

/* Turn a transport error into "cannot reach" (exit 4), keeping the cause. */
static void
set_transport_error (CairnClient *client, GError **error, GError *cause)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "interrupted");
    return;
  }
  gboolean unreachable = cause->domain == G_RESOLVER_ERROR
                         || cause->domain == G_TLS_ERROR
                         || cause->domain == G_IO_ERROR;
  g_set_error (error, CAIRN_CLI_ERROR,
               unreachable ? CAIRN_EXIT_UNREACHABLE : CAIRN_EXIT_FAILED,
               "cannot reach the node at %s: %s (is the node running? "
               "start it with 'cairn node --home DIR')",
               client->base, cause->message);
}

static SoupMessage *
new_message (CairnClient *client, const char *method, const char *path,
             GError **error)
{
  g_autofree char *url = g_strconcat (client->base, path, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  if (msg == NULL)
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "cannot build a request for '%s'", url);
  return msg;
}

/* The JSON body of a reply whatever its status. */
static json_t *
reply_json (SoupMessage *msg, const char *method, const char *path,
            GBytes *reply, guint *status, GError **error)
{
  guint code = soup_message_get_status (msg);
  if (status)
    *status = code;
  gsize size = 0;
  const char *data = g_bytes_get_data (reply, &size);
  json_error_t jerr;
  json_t *value = size ? json_loadb (data, size, JSON_DECODE_ANY, &jerr) : NULL;
  if (value == NULL) {
    g_autofree char *head = g_strndup (data ? data : "", MIN (size, 200));
    g_set_error (error, CAIRN_CLI_ERROR,
                 code == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
                 "%s %s: HTTP %u %s with a body that is not JSON: '%s'", method,
                 path, code,
                 soup_message_get_reason_phrase (msg)
                     ? soup_message_get_reason_phrase (msg)
                     : "",
                 head);
    return NULL;
  }
  return value;
}

json_t *
cairn_client_call (CairnClient *client, const char *method, const char *path,
                   const char *body, size_t len, guint *status, GError **error)
{
  g_autoptr (SoupMessage) msg = new_message (client, method, path, error);
  if (msg == NULL)
    return NULL;
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (body) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, len);
    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) reply = soup_session_send_and_read (
      client->session, msg, client->cancel, &local);
  if (reply == NULL) {
    set_transport_error (client, error, local);
    return NULL;
  }
  return reply_json (msg, method, path, reply, status, error);
}

/* {"error":{"code","message"}} → "code: message". */
static char *
api_error_text (const json_t *body)
{
  json_t *err = json_object_get (body, "error");
  if (json_is_object (err)) {
    const char *code = json_string_value (json_object_get (err, "code"));
    const char *message = json_string_value (json_object_get (err, "message"));
    return g_strdup_printf ("%s: %s", code ? code : "error",
                            message ? message : "(no message)");
  }
  if (json_is_string (err))
    return g_strdup (json_string_value (err));
  return json_dumps (body, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* value if status is 2xx, else its API error as a GError. Takes value. */
json_t *
cairn_client_reply_ok (json_t *value, guint status, const char *method,
                       const char *path, GError **error)
{
  if (value == NULL || (status >= 200 && status < 300))
    return value;
  g_autofree char *text = api_error_text (value);
  json_decref (value);
  g_set_error (error, CAIRN_CLI_ERROR,
               status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
               "%s %s: %s (HTTP %u)", method, path, text, status);
  return NULL;
}

static json_t *
request_ok (CairnClient *client, const char *method, const char *path,
            const char *body, size_t len, GError **error)
{
  guint status = 0;
  json_t *value
      = cairn_client_call (client, method, path, body, len, &status, error);
  return cairn_client_reply_ok (value, status, method, path, error);
}

json_t *
cairn_client_get (CairnClient *client, const char *path, GError **error)
{
  return request_ok (client, "GET", path, NULL, 0, error);
}

json_t *
cairn_client_post (CairnClient *client, const char *path, const char *body,
                   size_t len, GError **error)
{
  return request_ok (client, "POST", path, body, len, error);
}

GInputStream *
cairn_client_open_stream (CairnClient *client, const char *path, GError **error)
{
  g_autoptr (SoupMessage) msg = new_message (client, "GET", path, error);
  if (msg == NULL)
    return NULL;
  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Accept", "text/event-stream");
  g_autoptr (GError) local = NULL;
  g_autoptr (GInputStream) in
      = soup_session_send (client->session, msg, client->cancel, &local);
  if (in == NULL) {
    set_transport_error (client, error, local);
    return NULL;
  }
  guint status = soup_message_get_status (msg);
  if (status != 200) {
    g_set_error (error, CAIRN_CLI_ERROR,
                 status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
                 "GET %s: HTTP %u %s", path, status,
                 soup_message_get_reason_phrase (msg)
                     ? soup_message_get_reason_phrase (msg)
                     : "");
    return NULL;
  }
  return g_steal_pointer (&in);
}

json_t *
cairn_client_upload (CairnClient *client, const char *path, GInputStream *in,
                     goffset length, GError **error)
{
  g_autoptr (SoupMessage) msg = new_message (client, "POST", path, error);
  if (msg == NULL)
    return NULL;
  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Accept", "application/json");
  soup_message_set_request_body (msg, "application/octet-stream", in, length);
  /* Let the node refuse (too large, no blob store) before the body goes. */
  soup_message_headers_set_expectations (soup_message_get_request_headers (msg),
                                         SOUP_EXPECTATION_CONTINUE);
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) reply = soup_session_send_and_read (
      client->session, msg, client->cancel, &local);
  if (reply == NULL) {
    set_transport_error (client, error, local);
    return NULL;
  }
  guint status = 0;
  json_t *value = reply_json (msg, "POST", path, reply, &status, error);
  return cairn_client_reply_ok (value, status, "POST", path, error);
}

gboolean
cairn_client_download (CairnClient *client, const char *path, const char *range,
                       GOutputStream *out, uint64_t *written, GError **error)
{
  g_autoptr (SoupMessage) msg = new_message (client, "GET", path, error);
  if (msg == NULL)
    return FALSE;
  if (range)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "Range", range);
  g_autoptr (GError) local = NULL;
  g_autoptr (GInputStream) in
      = soup_session_send (client->session, msg, client->cancel, &local);
  if (in == NULL) {
    set_transport_error (client, error, local);
    return FALSE;
  }
  guint status = soup_message_get_status (msg);
  if (status != 200 && status != 206) {
    /* The error is a small JSON body. */
    g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
    g_output_stream_splice (mem, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                            client->cancel, NULL);
    g_autoptr (GBytes) body
        = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
    json_t *value = reply_json (msg, "GET", path, body, &status, error);
    cairn_client_reply_ok (value, status, "GET", path, error);
    return FALSE;
  }
  goffset expected = soup_message_headers_get_content_length (
      soup_message_get_response_headers (msg));
  gssize n = g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_NONE,
                                     client->cancel, &local);
  if (n < 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "GET %s: %s", path,
                 local->message);
    return FALSE;
  }
  if (expected > 0 && n != expected) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "GET %s: got %" G_GSSIZE_FORMAT " of %" G_GOFFSET_FORMAT
                 " bytes (the node stopped sending)",
                 path, n, expected);
    return FALSE;
  }
  if (written)
    *written = (uint64_t)n;
  return TRUE;
}

char *
cairn_client_url_for (const char *home, const char *node_opt, GError **error)
{
  if (node_opt && *node_opt)
    return g_strdup (node_opt);
  if (home == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "missing --home DIR or --node URL");
    return NULL;
  }
  g_autoptr (CairnConfig) cfg = cairn_config_load (home, error);
  if (cfg == NULL)
    return NULL;
  g_autofree char *listen = NULL;
  if (!cairn_config_string (cfg, "http", "listen", "127.0.0.1:7700", &listen,
                            error))
    return NULL;
  /* host:port or [v6]:port; a wildcard listen address is reached on
   * loopback. */
  const char *colon = strrchr (listen, ':');
  if (colon == NULL || colon == listen || colon[1] == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s/cairn.conf: [http] listen: expected HOST:PORT (got '%s')",
                 home, listen);
    return NULL;
  }
  g_autofree char *host = g_strndup (listen, colon - listen);
  if (g_str_equal (host, "0.0.0.0") || g_str_equal (host, "*"))
    replace_str (&host, "127.0.0.1");
  else if (g_str_equal (host, "[::]") || g_str_equal (host, "::"))
    replace_str (&host, "[::1]");
  else if (strchr (host, ':') && host[0] != '[') {
    char *bracketed = g_strdup_printf ("[%s]", host);
    g_free (host);
    host = bracketed;
  }
  return g_strdup_printf ("http://%s:%s", host, colon + 1);
}

char *
cairn_client_chain_id (CairnClient *client, GError **error)
{
  g_autoptr (json_t) status = cairn_client_get (client, "/v1/status", error);
  if (status == NULL)
    return NULL;
  const char *chain_id
      = json_string_value (json_object_get (status, "chain_id"));
  if (chain_id == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "GET /v1/status: no \"chain_id\" in the reply");
    return NULL;
  }
  return g_strdup (chain_id);
}

/* field: "next_nonce" (falling back to "nonce") or "nonce". */
static gboolean
account_nonce (CairnClient *client, const char *address, const char *field,
               uint64_t *out, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/accounts/%s", address);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) account = cairn_client_get (client, path, &local);
  if (account == NULL) {
    /* An account the chain has never seen starts at nonce 0. */
    if (g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND)) {
      *out = 0;
      return TRUE;
    }
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  json_t *nonce = json_object_get (account, field);
  if (nonce == NULL)
    nonce = json_object_get (account, "nonce");
  if (!json_is_integer (nonce) || json_integer_value (nonce) < 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "GET %s: no non-negative integer \"%s\" in the reply", path,
                 field);
    return FALSE;
  }
  *out = (uint64_t)json_integer_value (nonce);
  return TRUE;
}

gboolean
cairn_client_next_nonce (CairnClient *client, const char *address,
                         uint64_t *out, GError **error)
{
  return account_nonce (client, address, "next_nonce", out, error);
}

gboolean
cairn_client_committed_nonce (CairnClient *client, const char *address,
                              uint64_t *out, GError **error)
{
  return account_nonce (client, address, "nonce", out, error);
}

json_t *
cairn_client_wait_tx (CairnClient *client, const char *id, double timeout_s,
                      GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/txs/%s", id);
  gint64 deadline
      = g_get_monotonic_time () + (gint64)(timeout_s * G_USEC_PER_SEC);
  g_autofree char *last = g_strdup ("unknown");
  gulong delay_us = 20000;
  for (;;) {
    g_autoptr (GError) local = NULL;
    g_autoptr (json_t) tx = cairn_client_get (client, path, &local);
    if (tx) {
      const char *status = json_string_value (json_object_get (tx, "status"));
      if (g_strcmp0 (status, "committed") == 0)
        return g_steal_pointer (&tx);
      replace_str (&last, status ? status : "no status");
    } else if (g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND)) {
      /* Dropped from the mempool, or not indexed yet: keep asking until the
       * deadline. */
      replace_str (&last, "not found");
    } else {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    if (g_get_monotonic_time () >= deadline) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "tx %s not committed after %.0f s (last status: %s)", id,
                   timeout_s, last);
      return NULL;
    }
    if (client->cancel && g_cancellable_is_cancelled (client->cancel)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "interrupted");
      return NULL;
    }
    g_usleep (delay_us);
    delay_us = MIN (delay_us * 2, 250000);
  }
}

gboolean
cairn_client_tx_result_ok (const json_t *tx_json, char **why)
{
  json_t *result = json_object_get (tx_json, "result");
  if (json_is_true (json_object_get (result, "ok")))
    return TRUE;
  if (why) {
    const char *code = json_string_value (json_object_get (result, "code"));
    const char *text = json_string_value (json_object_get (result, "error"));
    if (code || text)
      *why = g_strdup_printf ("%s: %s", code ? code : "failed",
                              text ? text : "(no message)");
    else {
      g_autofree char *dump
          = result ? json_dumps (result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
      *why = g_strdup_printf ("unexpected result %s", dump ? dump : "(none)");
    }
  }
  return FALSE;
}

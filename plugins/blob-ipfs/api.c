/* blob-ipfs: the IPFS daemon's HTTP RPC API (kubo's /api/v0, also served
 * by js-ipfs): sessions, calls, their errors, and a verified block/get.
 *
 * Every call is a POST (the RPC API refuses GET) with its arguments in the
 * query. A failed call answers with a status other than 200 and a JSON body
 * {"Message": "...", "Code": n, "Type": "error"}; the message is quoted in
 * ours, after the daemon's URL and the call. */
#include "blob_ipfs.h"

#include <string.h>

#include <jansson.h>

/* An error body is short; more is not worth reading. */
#define ERROR_BODY_MAX (64u << 10)

BlobIpfs *
blob_ipfs_ref (BlobIpfs *b)
{
  g_atomic_ref_count_inc (&b->ref);
  return b;
}

void
blob_ipfs_unref (BlobIpfs *b)
{
  if (b == NULL || !g_atomic_ref_count_dec (&b->ref))
    return;
  g_free (b->api_url);
  g_free (b);
}

SoupSession *
blob_ipfs_session (BlobIpfs *b)
{
  SoupSession *s = soup_session_new_with_options (
      "timeout", b->timeout_s, "user-agent",
      "cairn-blob-ipfs/" BLOB_IPFS_VERSION, NULL);
  /* The daemon's API is a local service: never through an http_proxy. */
  soup_session_set_proxy_resolver (s, NULL);
  return s;
}

SoupMessage *
blob_ipfs_message (BlobIpfs *b, const char *cmd, const char *query)
{
  g_autofree char *url = g_strdup_printf ("%s/api/v0/%s%s%s", b->api_url, cmd,
                                          *query != '\0' ? "?" : "", query);
  SoupMessage *msg = soup_message_new (SOUP_METHOD_POST, url);
  /* api_url was checked at init, and cmd and query are ours. */
  g_assert (msg != NULL);
  return msg;
}

char *
blob_ipfs_call_name (BlobIpfs *b, SoupMessage *msg)
{
  return g_strdup_printf ("%s %s", soup_message_get_method (msg),
                          g_uri_get_path (soup_message_get_uri (msg)));
}

/* The daemon's "Message" from an error body, or the body itself (trimmed,
 * cut at 200 characters) when it is not that JSON. */
static char *
daemon_message (GBytes *body)
{
  gsize len = 0;
  const char *text = body != NULL ? g_bytes_get_data (body, &len) : NULL;
  json_t *j = text != NULL ? json_loadb (text, len, 0, NULL) : NULL;
  const char *m = json_string_value (json_object_get (j, "Message"));
  char *out;

  if (m != NULL) {
    out = g_strdup (m);
  } else if (len == 0) {
    out = g_strdup ("(no message)");
  } else {
    g_autofree char *raw = g_strndup (text, MIN (len, 200));
    out = g_strescape (g_strstrip (raw), NULL);
  }
  json_decref (j);
  return out;
}

void
blob_ipfs_abandon (GInputStream *in)
{
  /* libsoup's close reads the rest of the body (to keep the connection);
   * a cancelled close drops the connection instead. */
  g_autoptr (GCancellable) now = g_cancellable_new ();
  g_cancellable_cancel (now);
  g_input_stream_close (in, now, NULL);
}

GBytes *
blob_ipfs_read_body (BlobIpfs *b, SoupMessage *msg, GInputStream *in, gsize max,
                     GCancellable *cancellable, GError **error)
{
  g_autoptr (GByteArray) body = g_byte_array_new ();
  guint8 buf[16384];

  for (;;) {
    g_autoptr (GError) local = NULL;
    gssize n = g_input_stream_read (in, buf, sizeof buf, cancellable, &local);
    if (n < 0) {
      g_autofree char *call = blob_ipfs_call_name (b, msg);
      blob_ipfs_abandon (in);
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                    "blob-ipfs: %s at %s: ", call, b->api_url);
        return NULL;
      }
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                   "blob-ipfs: reading the answer of the IPFS daemon at %s to "
                   "%s: %s",
                   b->api_url, call, local->message);
      return NULL;
    }
    if (n == 0)
      break;
    if (body->len + (gsize)n > max) {
      g_autofree char *call = blob_ipfs_call_name (b, msg);
      blob_ipfs_abandon (in);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                   "blob-ipfs: the answer of the IPFS daemon at %s to %s is "
                   "longer than %zu bytes",
                   b->api_url, call, max);
      return NULL;
    }
    g_byte_array_append (body, buf, (guint)n);
  }
  g_input_stream_close (in, NULL, NULL);
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

/* blob_ipfs_send, also giving the daemon's own message when it refused. */
static GInputStream *
send_call (BlobIpfs *b, SoupSession *session, SoupMessage *msg, guint *status,
           char **refusal, GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *call = blob_ipfs_call_name (b, msg);
  g_autoptr (GInputStream) in
      = soup_session_send (session, msg, cancellable, &local);

  if (status != NULL)
    *status = 0;
  if (in == NULL) {
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "blob-ipfs: %s at %s: ", call, b->api_url);
      return NULL;
    }
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "blob-ipfs: cannot reach the IPFS daemon at %s (%s): %s",
                 b->api_url, call, local->message);
    return NULL;
  }
  guint code = soup_message_get_status (msg);
  if (status != NULL)
    *status = code;
  if (code == SOUP_STATUS_OK)
    return g_steal_pointer (&in);

  g_autoptr (GBytes) body
      = blob_ipfs_read_body (b, msg, in, ERROR_BODY_MAX, cancellable, NULL);
  g_autofree char *why = daemon_message (body);
  const char *reason = soup_message_get_reason_phrase (msg);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
               "blob-ipfs: the IPFS daemon at %s refused %s: HTTP %u%s%s: %s",
               b->api_url, call, code, reason != NULL ? " " : "",
               reason != NULL ? reason : "", why);
  if (refusal != NULL)
    *refusal = g_steal_pointer (&why);
  return NULL;
}

GInputStream *
blob_ipfs_send (BlobIpfs *b, SoupSession *session, SoupMessage *msg,
                guint *status, GCancellable *cancellable, GError **error)
{
  return send_call (b, session, msg, status, NULL, cancellable, error);
}

/* How kubo (offline, or after `timeout`) and js-ipfs (after `timeout`) say
 * that they do not have a block. */
static gboolean
means_missing (const char *refusal)
{
  static const char *const phrases[] = {
    "not found",
    "could not find",
    "timed out",
    "deadline exceeded",
  };
  g_autofree char *lower = g_ascii_strdown (refusal, -1);
  for (size_t i = 0; i < G_N_ELEMENTS (phrases); i++)
    if (strstr (lower, phrases[i]) != NULL)
      return TRUE;
  return FALSE;
}

GBytes *
blob_ipfs_block_get (BlobIpfs *b, SoupSession *session, const char *blob,
                     gboolean root, const uint8_t digest[BLOB_FS_DIGEST_LEN],
                     GCancellable *cancellable, GError **error)
{
  g_autofree char *cid = blob_fs_cid_v1 (digest);
  g_autofree char *query
      = g_strdup_printf ("arg=%s&timeout=%ums%s", cid, b->lookup_timeout_ms,
                         b->offline ? "&offline=true" : "");
  g_autoptr (SoupMessage) msg = blob_ipfs_message (b, "block/get", query);
  g_autofree char *refusal = NULL;
  g_autoptr (GError) local = NULL;
  guint status;
  g_autoptr (GInputStream) in
      = send_call (b, session, msg, &status, &refusal, cancellable, &local);

  if (in == NULL) {
    if (status == SOUP_STATUS_INTERNAL_SERVER_ERROR && refusal != NULL
        && means_missing (refusal)) {
      if (root)
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                     "blob-ipfs: no blob %s at the IPFS daemon at %s "
                     "(lookup_timeout_ms = %u; it said: %s)",
                     blob, b->api_url, b->lookup_timeout_ms, refusal);
      else /* below a root it has: a damaged store */
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                     "blob-ipfs: blob %s: its block %s is not at the IPFS "
                     "daemon at %s (lookup_timeout_ms = %u; it said: %s)",
                     blob, cid, b->api_url, b->lookup_timeout_ms, refusal);
      return NULL;
    }
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  g_autoptr (GBytes) block
      = blob_ipfs_read_body (b, msg, in, BLOB_FS_MAX_BLOCK, cancellable, error);
  if (block == NULL)
    return NULL;

  gsize len;
  const void *data = g_bytes_get_data (block, &len);
  uint8_t got[BLOB_FS_DIGEST_LEN];
  blob_fs_sha256 (data, len, got);
  if (memcmp (got, digest, BLOB_FS_DIGEST_LEN) != 0) {
    g_autofree char *got_cid = blob_fs_cid_v1 (got);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "blob-ipfs: blob %s: the IPFS daemon at %s returned wrong "
                 "bytes for block %s (%zu bytes that hash to %s)",
                 blob, b->api_url, cid, len, got_cid);
    return NULL;
  }
  return g_steal_pointer (&block);
}

/* cairn services: the services plugin's flows from the command line
 * (plugins/services/README.md).
 *
 *   publish --video FILE ...   encrypt FILE (AES-256-GCM, 64 KiB segments,
 *                              a fresh content key), upload the ciphertext,
 *                              register the key with the gateway node,
 *                              send services.publish; print the service id
 *   entitle ID                 pay the price (services.entitle)
 *   key ID [--scope review]    a query key and the video URL
 *   feedback ID ...            services.feedback (complaints open a case)
 *   review CASE ...            services.review (regulator)
 *   opinion CASE               services.publish_opinion (regulator)
 *   list | show ID | cases     reads
 *
 * The plaintext never leaves this process: only the ciphertext is
 * uploaded, and the content key goes only to a loopback http:// or an
 * https:// node. */
#include <string.h>

#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"
/* The encrypted format is the plugin's own (plugins/services). */
#include "segcrypt.h"

typedef struct {
  char *home, *node, *from, *video, *place, *type, *denom, *content_type,
      *gateway_url, *scope, *text, *verdict;
  gint64 price, time_ms, rating;
  gboolean complaint, stake, json;
  double timeout;
} Opts;

static void
opts_clear (Opts *o)
{
  g_free (o->home);
  g_free (o->node);
  g_free (o->from);
  g_free (o->video);
  g_free (o->place);
  g_free (o->type);
  g_free (o->denom);
  g_free (o->content_type);
  g_free (o->gateway_url);
  g_free (o->scope);
  g_free (o->text);
  g_free (o->verdict);
}

typedef struct {
  Opts *o;
  const char *home;
  CairnClient *client;
  char *url;
} Ctx;

/* ---- the encrypted format (plugins/services/segcrypt.h) ---------------- */

/* Encrypt `in` (size bytes) into `out` under key, streaming one segment
 * at a time; sha256 gets the plaintext's digest. */
static gboolean
encrypt_stream (GInputStream *in, uint64_t size, GOutputStream *out,
                const uint8_t key[32], uint8_t sha256[32], GError **error)
{
  uint8_t header[SEG_HEADER], prefix[8];
  if (RAND_bytes (prefix, 8) != 1) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "no randomness for the nonce prefix");
    return FALSE;
  }
  seg_header_build (header, size, prefix);
  if (!g_output_stream_write_all (out, header, SEG_HEADER, NULL, NULL, error))
    return FALSE;
  g_autofree uint8_t *pbuf = g_malloc (SEG_SIZE);
  g_autofree uint8_t *cbuf = g_malloc (SEG_SIZE + SEG_TAG);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
  gboolean ok = TRUE;
  uint64_t done = 0;
  for (uint32_t i = 0; ok && done < size; i++) {
    gsize want = (gsize)MIN ((uint64_t)SEG_SIZE, size - done), got = 0;
    ok = g_input_stream_read_all (in, pbuf, want, &got, NULL, error);
    if (ok && got != want) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "the video file shrank while being read (%" G_GUINT64_FORMAT
                   " bytes read, %" G_GUINT64_FORMAT " expected)",
                   done + got, size);
      ok = FALSE;
    }
    if (ok && !seg_encrypt_segment (key, header, i, pbuf, want, cbuf)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "AES-256-GCM encryption failed");
      ok = FALSE;
    }
    if (ok) {
      EVP_DigestUpdate (md, pbuf, want);
      ok = g_output_stream_write_all (out, cbuf, want + SEG_TAG, NULL, NULL,
                                      error);
      done += want;
    }
  }
  unsigned int dl = 32;
  EVP_DigestFinal_ex (md, sha256, &dl);
  EVP_MD_CTX_free (md);
  OPENSSL_cleanse (pbuf, SEG_SIZE);
  return ok;
}

/* ---- helpers ------------------------------------------------------------ */

/* Content keys go only to this host or over TLS. */
static gboolean
url_safe_for_keys (const char *url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri ? g_uri_get_host (uri) : NULL;
  if (g_strcmp0 (scheme, "https") == 0)
    return TRUE;
  if (g_strcmp0 (scheme, "http") == 0 && host != NULL
      && (g_str_has_prefix (host, "127.") || strcmp (host, "::1") == 0
          || strcmp (host, "localhost") == 0))
    return TRUE;
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
               "refusing to send a content key to %s: plain http:// is only "
               "allowed to this host (127.0.0.1, ::1, localhost); use the "
               "gateway node's loopback address or https://",
               url);
  return FALSE;
}

static gboolean
id_valid (const char *id)
{
  if (id == NULL || strlen (id) != 64)
    return FALSE;
  for (size_t i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (id[i]) || g_ascii_isupper (id[i]))
      return FALSE;
  return TRUE;
}

/* body (stolen) + pubkey, timestamp and sig over domain. */
static char *
sign_request (const CairnKey *key, const char *domain, json_t *body,
              size_t *len, GError **error)
{
  g_autoptr (json_t) b = body;
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
  json_object_set_new (b, "pubkey", json_string (pk));
  json_object_set_new (b, "timestamp",
                       json_integer (g_get_real_time () / 1000));
  size_t mlen;
  g_autofree char *msg = cairn_cjson_dump (b, &mlen, error);
  if (msg == NULL)
    return NULL;
  uint8_t sig[64];
  cairn_key_sign (key, domain, msg, mlen, sig);
  g_autofree char *sh = cairn_hex_encode (sig, 64);
  json_object_set_new (b, "sig", json_string (sh));
  return cairn_cjson_dump (b, len, error);
}

static CairnKey *
need_key (Ctx *c, GError **error)
{
  if (c->o->from == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "missing --from KEY (the account that signs)");
    return NULL;
  }
  return cairn_cli_load_key (c->home, c->o->from, NULL, error);
}

/* Send a tx and wait; print it; 0 when it succeeded. *id_out (may be NULL)
 * gets the tx id. */
static int
send_tx (Ctx *c, const CairnKey *key, const char *type, const json_t *body,
         const char *what, char **id_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) t = cairn_cli_tx_submit (c->client, key, type, body, NULL,
                                              TRUE, c->o->timeout, &error);
  if (t == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *why = NULL;
  const char *id = json_string_value (json_object_get (t, "id"));
  if (!cairn_client_tx_result_ok (t, &why)) {
    if (c->o->json)
      cairn_cli_print_json (t);
    cairn_cli_printerr ("%s failed (tx %s): %s", type, id, why);
    return CAIRN_EXIT_FAILED;
  }
  if (id_out)
    *id_out = g_strdup (id);
  if (what != NULL) {
    if (c->o->json)
      cairn_cli_print_json (t);
    else
      g_print ("%s %s (height %" JSON_INTEGER_FORMAT ")\n", what, id,
               json_integer_value (json_object_get (t, "height")));
  }
  return CAIRN_EXIT_OK;
}

/* ---- publish ------------------------------------------------------------ */

static int
cmd_publish (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (!o->video || !o->place || !o->type || o->price <= 0 || !o->denom)
    return cairn_cli_usage ("publish needs --video FILE --place P --type T "
                            "--price N (> 0) --denom D");
  if (!url_safe_for_keys (c->url, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (CairnKey) key = need_key (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (GFile) vf = g_file_new_for_commandline_arg (o->video);
  g_autoptr (GFileInfo) info = g_file_query_info (
      vf, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
      G_FILE_QUERY_INFO_NONE, NULL, &error);
  if (info == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR
      || g_file_info_get_size (info) <= 0)
    return cairn_cli_usage ("--video %s: not a non-empty regular file",
                            o->video);
  uint64_t size = (uint64_t)g_file_info_get_size (info);

  /* Encrypt into a private temp file, then upload it (streamed). */
  uint8_t ckey[32], sha[32];
  if (RAND_bytes (ckey, sizeof ckey) != 1)
    return cairn_cli_usage ("no randomness for the content key");
  g_autofree char *tmp = NULL;
  int fd = g_file_open_tmp ("cairn-video-XXXXXX.enc", &tmp, &error);
  if (fd < 0)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (GOutputStream) out = g_unix_output_stream_new (fd, TRUE);
  g_autoptr (GFileInputStream) in = g_file_read (vf, NULL, &error);
  gboolean ok
      = in != NULL
        && encrypt_stream (G_INPUT_STREAM (in), size, out, ckey, sha, &error)
        && g_output_stream_close (out, NULL, &error);
  g_autoptr (json_t) up = NULL;
  if (ok) {
    g_autoptr (GFile) tf = g_file_new_for_path (tmp);
    g_autoptr (GFileInputStream) tin = g_file_read (tf, NULL, &error);
    uint64_t csize = 32 + size + (size + SEG_SIZE - 1) / SEG_SIZE * SEG_TAG;
    up = tin ? cairn_client_upload (c->client, "/v1/blobs",
                                    G_INPUT_STREAM (tin), (goffset)csize,
                                    &error)
             : NULL;
  }
  g_unlink (tmp);
  if (up == NULL) {
    OPENSSL_cleanse (ckey, sizeof ckey);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  const char *cid = json_string_value (json_object_get (up, "cid"));
  if (!o->json)
    g_printerr ("encrypted video stored as %s\n", cid);

  /* The content key, to the gateway node only. */
  g_autofree char *kh = cairn_hex_encode (ckey, 32);
  OPENSSL_cleanse (ckey, sizeof ckey);
  size_t blen;
  g_autofree char *kbody = sign_request (key, "cairn/services/content-key/v1",
                                         json_pack ("{s:s,s:s,s:s}", "provider",
                                                    cairn_key_address (key),
                                                    "cid", cid, "key", kh),
                                         &blen, &error);
  OPENSSL_cleanse (kh, 64);
  if (kbody == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) kr = cairn_client_post (
      c->client, "/v1/services/content-keys", kbody, blen, &error);
  OPENSSL_cleanse (kbody, blen);
  if (kr == NULL) {
    g_prefix_error (&error, "registering the content key: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }

  g_autofree char *shahex = cairn_hex_encode (sha, 32);
  int64_t t = o->time_ms > 0 ? o->time_ms : g_get_real_time () / 1000;
  g_autoptr (json_t) body = json_pack (
      "{s:s,s:s,s:I,s:{s:s,s:I},s:{s:s,s:s,s:I,s:s,s:{s:s,s:i}}}", "place",
      o->place, "type", o->type, "time", (json_int_t)t, "price", "denom",
      o->denom, "amount", (json_int_t)o->price, "video", "cid", cid, "sha256",
      shahex, "size", (json_int_t)size, "content_type",
      o->content_type ? o->content_type : "video/mp4", "enc", "alg",
      "aes-256-gcm-seg64k", "segment_size", (int)SEG_SIZE);
  json_object_set_new (body, "gateway",
                       json_string (o->gateway_url ? o->gateway_url : c->url));
  g_autofree char *id = NULL;
  int rc = send_tx (c, key, "services.publish", body, NULL, &id);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  if (o->json) {
    g_autoptr (json_t) j
        = json_pack ("{s:s,s:s,s:s,s:I}", "service", id, "cid", cid, "sha256",
                     shahex, "size", (json_int_t)size);
    cairn_cli_print_json (j);
  } else
    g_print ("%s\n", id);
  return CAIRN_EXIT_OK;
}

/* ---- entitle, key ------------------------------------------------------- */

static json_t *
get_service (Ctx *c, const char *id, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/services/%s", id);
  return cairn_client_get (c->client, path, error);
}

static int
cmd_entitle (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = need_key (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) svc = get_service (c, id, &error);
  if (svc == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const json_t *price = json_object_get (svc, "price");
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:O,s:O,s:s}", "service", id, "denom",
                   json_object_get (price, "denom"), "amount",
                   json_object_get (price, "amount"), "by",
                   c->o->stake ? "stake" : "payment");
  if (!c->o->json)
    g_printerr ("%s %" JSON_INTEGER_FORMAT " %s %s %s\n",
                c->o->stake ? "staking" : "paying",
                json_integer_value (json_object_get (price, "amount")),
                json_string_value (json_object_get (price, "denom")),
                c->o->stake ? "for service" : "to",
                c->o->stake
                    ? id
                    : json_string_value (json_object_get (svc, "provider")));
  return send_tx (c, key, "services.entitle", body, "entitled: tx", NULL);
}

static int
cmd_key (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = need_key (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  json_t *b = json_pack ("{s:s,s:s}", "service", id, "account",
                         cairn_key_address (key));
  if (c->o->scope)
    json_object_set_new (b, "scope", json_string (c->o->scope));
  size_t len;
  g_autofree char *body
      = sign_request (key, "cairn/services/key-request/v1", b, &len, &error);
  if (body == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *path = g_strdup_printf ("/v1/services/%s/key", id);
  guint status = 0;
  g_autoptr (json_t) r
      = cairn_client_call (c->client, "POST", path, body, len, &status, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (status != 200) {
    const json_t *e = json_object_get (r, "error");
    if (c->o->json)
      cairn_cli_print_json (r);
    cairn_cli_printerr ("%s: %s",
                        json_string_value (json_object_get (e, "code")),
                        json_string_value (json_object_get (e, "message")));
    return status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED;
  }
  g_autofree char *full
      = g_strconcat (cairn_client_url (c->client),
                     json_string_value (json_object_get (r, "url")), NULL);
  json_object_set_new (r, "video_url", json_string (full));
  if (c->o->json) {
    cairn_cli_print_json (r);
  } else {
    g_print ("%s\n%s\n", json_string_value (json_object_get (r, "token")),
             full);
  }
  return CAIRN_EXIT_OK;
}

/* ---- feedback, review, opinion ------------------------------------------ */

static int
cmd_feedback (Ctx *c, const char *id)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->rating < 1 || o->rating > 5 || o->text == NULL)
    return cairn_cli_usage ("feedback needs --rating 1..5 and --text TXT");
  g_autoptr (CairnKey) key = need_key (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  uint8_t d[32];
  cairn_sha256 (o->text, strlen (o->text), d);
  g_autofree char *hex = cairn_hex_encode (d, 32);
  /* Only the text's hash goes on chain; the text itself is stored as a
   * blob on this node when it has a blob store, for the regulator. */
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:s,s:I,s:s}", "service", id, "kind",
                   o->complaint ? "complaint" : "experience", "rating",
                   (json_int_t)o->rating, "text_sha256", hex);
  g_autoptr (GInputStream) tin = g_memory_input_stream_new_from_data (
      o->text, (gssize)strlen (o->text), NULL);
  g_autoptr (GError) uerr = NULL;
  g_autoptr (json_t) up = cairn_client_upload (
      c->client, "/v1/blobs", tin, (goffset)strlen (o->text), &uerr);
  if (up != NULL)
    json_object_set (body, "text_cid", json_object_get (up, "cid"));
  else if (!o->json)
    g_printerr ("note: the text was not stored as a blob (%s); only its "
                "hash goes on chain\n",
                uerr->message);
  g_autofree char *tx = NULL;
  int rc = send_tx (c, key, "services.feedback", body,
                    o->complaint ? NULL : "feedback: tx", &tx);
  if (rc == CAIRN_EXIT_OK && o->complaint) {
    if (o->json) {
      g_autoptr (json_t) j = json_pack ("{s:s,s:s}", "case", tx, "service", id);
      cairn_cli_print_json (j);
    } else
      g_print ("complaint filed: case %s\n", tx);
  }
  return rc;
}

static int
cmd_review (Ctx *c, const char *case_id, gboolean publish)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (!publish
      && (o->text == NULL
          || (g_strcmp0 (o->verdict, "upheld") != 0
              && g_strcmp0 (o->verdict, "dismissed") != 0)))
    return cairn_cli_usage ("review needs --verdict upheld|dismissed and "
                            "--text TXT");
  g_autoptr (CairnKey) key = need_key (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body
      = publish ? json_pack ("{s:s}", "case", case_id)
                : json_pack ("{s:s,s:s,s:s}", "case", case_id, "verdict",
                             o->verdict, "text", o->text);
  return send_tx (
      c, key, publish ? "services.publish_opinion" : "services.review", body,
      publish ? "opinion published: tx" : "reviewed: tx", NULL);
}

/* ---- reads -------------------------------------------------------------- */

static int
cmd_read (Ctx *c, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->o->json)
    cairn_cli_print_json (r);
  else
    cairn_cli_print_flat (r);
  return CAIRN_EXIT_OK;
}

static int
cmd_list (Ctx *c)
{
  if (c->o->json)
    return cmd_read (c, "/v1/services/");
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) r = cairn_client_get (c->client, "/v1/services/", &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get (r, "services"), i, s)
  {
    const json_t *price = json_object_get (s, "price");
    g_print ("%s  %s  %s  %" JSON_INTEGER_FORMAT " %s\n",
             json_string_value (json_object_get (s, "id")),
             json_string_value (json_object_get (s, "type")),
             json_string_value (json_object_get (s, "place")),
             json_integer_value (json_object_get (price, "amount")),
             json_string_value (json_object_get (price, "denom")));
  }
  return CAIRN_EXIT_OK;
}

int
cairn_cmd_services (int argc, char **argv)
{
  Opts o = { .timeout = 30 };
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &o.home,
      "Node home: its keys and [http] listen (default: $CAIRN_HOME)", "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &o.node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &o.from,
      "Signing key: a NAME in DIR/keys or a PEM file", "KEY" },
    { "video", 0, 0, G_OPTION_ARG_FILENAME, &o.video, "publish: the video file",
      "FILE" },
    { "place", 0, 0, G_OPTION_ARG_STRING, &o.place, "publish: where", "P" },
    { "type", 0, 0, G_OPTION_ARG_STRING, &o.type,
      "publish: the kind of service", "T" },
    { "price", 0, 0, G_OPTION_ARG_INT64, &o.price,
      "publish: price in whole units", "N" },
    { "denom", 0, 0, G_OPTION_ARG_STRING, &o.denom,
      "publish: denomination of the price", "D" },
    { "time", 0, 0, G_OPTION_ARG_INT64, &o.time_ms,
      "publish: when it was delivered, ms since 1970 (default: now)", "MS" },
    { "content-type", 0, 0, G_OPTION_ARG_STRING, &o.content_type,
      "publish: media type (default: video/mp4)", "TYPE" },
    { "gateway-url", 0, 0, G_OPTION_ARG_STRING, &o.gateway_url,
      "publish: the gateway's public URL (default: the node URL)", "URL" },
    { "scope", 0, 0, G_OPTION_ARG_STRING, &o.scope,
      "key: 'review' for a regulator's key on an open case", "S" },
    { "rating", 0, 0, G_OPTION_ARG_INT64, &o.rating, "feedback: 1..5", "N" },
    { "complaint", 0, 0, G_OPTION_ARG_NONE, &o.complaint,
      "feedback: a complaint (opens a case)", NULL },
    { "stake", 0, 0, G_OPTION_ARG_NONE, &o.stake,
      "entitle: lock the price as stake instead of paying it (released, "
      "and the entitlement ended, after the chain's stake_blocks)",
      NULL },
    { "text", 0, 0, G_OPTION_ARG_STRING, &o.text, "feedback/review: the text",
      "TXT" },
    { "verdict", 0, 0, G_OPTION_ARG_STRING, &o.verdict,
      "review: upheld or dismissed", "V" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout,
      "Seconds to wait for a tx's commit (default: 30)", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "COMMAND [ID]",
      "Verified offline services: publish, pay, view, complain, review.",
      "Commands:\n"
      "  publish --video FILE --place P --type T --price N --denom D "
      "--from KEY\n"
      "                    encrypt and upload FILE, register its key with "
      "the node,\n"
      "                    send services.publish; prints the service id\n"
      "  entitle ID        pay the service's price, or --stake it\n"
      "  key ID [--scope review]\n"
      "                    a query key and the video URL\n"
      "  feedback ID --rating N --text TXT [--complaint]\n"
      "  review CASE --verdict upheld|dismissed --text TXT   (regulator)\n"
      "  opinion CASE      publish the opinion after the review period\n"
      "  list | show ID | cases | case CASE | opinions\n"
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    opts_clear (&o);
    return rc;
  }
  const char *cmd = argc > 1 ? argv[1] : NULL;
  const char *id = argc > 2 ? argv[2] : NULL;
  static const char *const with_id[]
      = { "entitle", "key",  "feedback", "review",
          "opinion", "show", "case",     NULL };
  static const char *const without[]
      = { "publish", "list", "cases", "opinions", NULL };
  if (cmd == NULL) {
    opts_clear (&o);
    return cairn_cli_usage ("missing command: publish, entitle, key, "
                            "feedback, review, opinion, list, show");
  }
  gboolean needs_id = g_strv_contains (with_id, cmd);
  if (!needs_id && !g_strv_contains (without, cmd)) {
    opts_clear (&o);
    return cairn_cli_usage ("unknown services command '%s'", cmd);
  }
  if ((needs_id && (argc != 3 || !id_valid (id))) || (!needs_id && argc != 2)) {
    opts_clear (&o);
    return needs_id ? cairn_cli_usage ("%s needs one id (64 lowercase hex "
                                       "characters)",
                                       cmd)
                    : cairn_cli_usage ("%s takes no argument", cmd);
  }
  if (o.scope && strcmp (o.scope, "view") != 0
      && strcmp (o.scope, "review") != 0) {
    opts_clear (&o);
    return cairn_cli_usage ("--scope must be view or review");
  }
  Ctx c = { .o = &o, .home = o.home ? o.home : g_getenv ("CAIRN_HOME") };
  g_autoptr (GError) error = NULL;
  c.url = cairn_client_url_for (c.home, o.node, &error);
  if (c.url != NULL)
    c.client = cairn_client_new (c.url, 0, &error);
  if (c.client == NULL) {
    g_free (c.url);
    opts_clear (&o);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *path = NULL;
  if (strcmp (cmd, "publish") == 0)
    rc = cmd_publish (&c);
  else if (strcmp (cmd, "entitle") == 0)
    rc = cmd_entitle (&c, id);
  else if (strcmp (cmd, "key") == 0)
    rc = cmd_key (&c, id);
  else if (strcmp (cmd, "feedback") == 0)
    rc = cmd_feedback (&c, id);
  else if (strcmp (cmd, "review") == 0)
    rc = cmd_review (&c, id, FALSE);
  else if (strcmp (cmd, "opinion") == 0)
    rc = cmd_review (&c, id, TRUE);
  else if (strcmp (cmd, "list") == 0)
    rc = cmd_list (&c);
  else {
    if (strcmp (cmd, "show") == 0)
      path = g_strdup_printf ("/v1/services/%s", id);
    else if (strcmp (cmd, "case") == 0)
      path = g_strdup_printf ("/v1/services/cases/%s", id);
    else
      path = g_strdup_printf ("/v1/services/%s", cmd); /* cases, opinions */
    rc = cmd_read (&c, path);
  }
  cairn_client_free (c.client);
  g_free (c.url);
  opts_clear (&o);
  return rc;
}

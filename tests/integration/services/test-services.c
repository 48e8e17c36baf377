/* The services plugin end to end, in one process: three nodes (a solo
 * validator that is also the provider's gateway, two followers over TLS on
 * loopback) with the real store-lmdb, solo, bank, blob-fs and services
 * plugins loaded from the build tree, driven over their HTTP APIs.
 *
 * Covers every tx type and each refusal of the "bad input" list
 * (wrong price, double entitlement, feedback without entitlement, review by
 * a non-regulator, opinion before the period ends, unknown CID, a blob
 * whose bytes no longer match), content keys, query keys (valid, missing,
 * malformed, forged, expired, foreign, other service), range reads of the
 * decrypted video, and complaint -> review -> opinion (by the regulator and
 * automatically at the deadline) on every node. The encrypted format is
 * also checked alone (segment boundaries, tampering). */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "cjson.h"
#include "node_private.h"
#include "p2p.h"
#include "segcrypt.h"
#include "tx.h"

#define CHAIN "svc"
#define PRICE 25
#define REVIEW_PERIOD 40
#define PUBLISH_DELAY 30
#define STAKE_BLOCKS 8
#define QKEY_DOMAIN "cairn/services/query-key/v1"

static char *plugins_dir;

typedef struct {
  char *home;
  CairnKey *key;
  CairnNode *node;
  char *url;
} Node;

typedef struct {
  Node n[3]; /* n[0]: validator + gateway; n[1], n[2]: followers */
  CairnKey *admin, *platform, *provider, *user, *user2, *regulator, *outsider;
  SoupSession *http;
} Net;

static const char *
addr (CairnKey *k)
{
  return cairn_key_address (k);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_mkdir_with_parents (parent, 0700);
  g_autoptr (GError) err = NULL;
  g_file_set_contents (path, text, -1, &err);
  g_assert_no_error (err);
}

static json_t *
account (CairnKey *k, json_int_t balance, const char *role)
{
  json_t *a = json_pack ("{s:s,s:[],s:{s:I}}", "address", addr (k), "roles",
                         "balances", "cairn", balance);
  if (role)
    json_array_append_new (json_object_get (a, "roles"), json_string (role));
  return a;
}

static void
make_home (Net *net, int i, const char *p2p_conf)
{
  Node *nd = &net->n[i];
  g_autoptr (GError) err = NULL;
  nd->home = g_dir_make_tmp ("cairn-services-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *kp = g_build_filename (nd->home, "keys", "node.pem", NULL);
  g_autofree char *kdir = g_path_get_dirname (kp);
  g_mkdir_with_parents (kdir, 0700);
  g_assert_true (cairn_key_save (nd->key, kp, &err));
  CairnKey *v = net->n[0].key;
  g_autofree char *vpk = cairn_hex_encode (cairn_key_pubkey (v), 32);
  json_t *accounts = json_array ();
  json_array_append_new (accounts, account (net->admin, 1000000, "admin"));
  json_array_append_new (accounts, account (net->platform, 0, NULL));
  json_array_append_new (accounts, account (net->provider, 0, NULL));
  json_array_append_new (accounts, account (net->user, 1000, NULL));
  json_array_append_new (accounts, account (net->user2, 1000, NULL));
  json_array_append_new (accounts, account (net->regulator, 0, NULL));
  json_array_append_new (accounts, account (net->outsider, 10, NULL));
  g_autoptr (json_t) genesis = json_pack (
      "{s:s,s:I,s:{s:i,s:[s]},s:o,s:[{s:s,s:s,s:I}],s:{s:{s:I,s:I,s:I}}}",
      "chain_id", CHAIN, "genesis_time", (json_int_t)1700000000000, "admin",
      "threshold", 1, "members", addr (net->admin), "accounts", accounts,
      "validators", "address", addr (v), "pubkey", vpk, "stake",
      (json_int_t)100, "app_state", "services", "review_period_blocks",
      (json_int_t)REVIEW_PERIOD, "publish_delay_blocks",
      (json_int_t)PUBLISH_DELAY, "stake_blocks", (json_int_t)STAKE_BLOCKS);
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  write_file (nd->home, "genesis.json", gtext);
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = " CHAIN "\nlog_level = %s\n"
      "[plugins]\npath = %s\n"
      "load = store-lmdb;solo;bank;blob-fs;services\n"
      "[http]\nlisten = 127.0.0.1:0\n"
      "[solo]\nbatch_delay_ms = 1\nempty_block_interval_ms = 20\n%s"
      "[store-lmdb]\nmap_size = 1GiB\n"
      "[blob-fs]\nsync = false\n"
      "[services]\nkey_ttl_seconds = 600\n%s",
      g_getenv ("CAIRN_TEST_LOG") ? g_getenv ("CAIRN_TEST_LOG") : "warning",
      plugins_dir, i > 0 ? "follow = true\n" : "", p2p_conf);
  write_file (nd->home, "cairn.conf", conf);
}

static void
node_start (Node *nd)
{
  g_autoptr (GError) err = NULL;
  CairnNodeOptions opts = { .home = nd->home };
  nd->node = cairn_node_new (&opts, &err);
  g_assert_no_error (err);
  g_assert_true (cairn_node_start (nd->node, &err));
  g_assert_no_error (err);
  g_free (nd->url);
  nd->url = g_strdup (cairn_node_http_url (nd->node));
}

static void
net_up (Net *net, int nodes)
{
  for (int i = 0; i < 3; i++)
    net->n[i].key = cairn_key_generate (NULL);
  net->admin = cairn_key_generate (NULL);
  net->platform = cairn_key_generate (NULL);
  net->provider = cairn_key_generate (NULL);
  net->user = cairn_key_generate (NULL);
  net->user2 = cairn_key_generate (NULL);
  net->regulator = cairn_key_generate (NULL);
  net->outsider = cairn_key_generate (NULL);
  net->http = soup_session_new ();
  g_autofree char *vconf = g_strdup_printf (
      "[p2p]\nenabled = %s\nlisten = 127.0.0.1:0\nallow = %s;%s\n",
      nodes > 1 ? "true" : "false", addr (net->n[1].key), addr (net->n[2].key));
  make_home (net, 0, vconf);
  node_start (&net->n[0]);
  for (int i = 1; i < nodes; i++) {
    g_autofree char *fconf = g_strdup_printf (
        "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\n"
        "persistent_peers = %s@127.0.0.1:%u\n",
        addr (net->n[0].key), cairn_tls_transport_port (net->n[0].node->p2p));
    make_home (net, i, fconf);
    node_start (&net->n[i]);
  }
}

static void
net_down (Net *net)
{
  g_clear_object (&net->http);
  for (int i = 2; i >= 0; i--) {
    Node *nd = &net->n[i];
    g_clear_pointer (&nd->node, cairn_node_free);
    if (nd->home) {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", nd->home);
      g_assert_cmpint (system (cmd), ==, 0);
    }
    g_free (nd->home);
    g_free (nd->url);
    cairn_key_free (nd->key);
  }
  CairnKey *keys[] = { net->admin, net->platform,  net->provider, net->user,
                       net->user2, net->regulator, net->outsider };
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    cairn_key_free (keys[i]);
}

/* ---- HTTP on the shared main loop --------------------------------------- */

typedef struct {
  GBytes *body;
  gboolean done;
  GError *error;
} Reply;

static void
on_reply (GObject *src, GAsyncResult *res, gpointer data)
{
  Reply *r = data;
  r->body
      = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &r->error);
  r->done = TRUE;
}

typedef struct {
  guint status;
  GBytes *body;
  char *content_range;
  char *content_type;
  GError *error; /* the transfer broke (e.g. a stream aborted) */
} Resp;

static void
resp_clear (Resp *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_pointer (&r->content_range, g_free);
  g_clear_pointer (&r->content_type, g_free);
  g_clear_error (&r->error);
}

static void
request (Net *net, int node, const char *method, const char *path,
         const void *body, gsize len, const char *range, Resp *out)
{
  g_autofree char *uri = g_strconcat (net->n[node].url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_assert_nonnull (msg);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, len);
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  if (range)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
                                  "Range", range);
  Reply r = { 0 };
  soup_session_send_and_read_async (net->http, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_reply, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  memset (out, 0, sizeof *out);
  out->status = soup_message_get_status (msg);
  out->body = r.body;
  out->error = r.error;
  SoupMessageHeaders *h = soup_message_get_response_headers (msg);
  out->content_range
      = g_strdup (soup_message_headers_get_one (h, "Content-Range"));
  out->content_type
      = g_strdup (soup_message_headers_get_content_type (h, NULL));
}

static json_t *
http_json (Net *net, int node, const char *method, const char *path,
           const char *body, guint want)
{
  Resp r;
  request (net, node, method, path, body, body ? strlen (body) : 0, NULL, &r);
  g_assert_no_error (r.error);
  gsize len;
  const char *p = g_bytes_get_data (r.body, &len);
  if (r.status != want)
    g_error ("%s %s: status %u, wanted %u: %.*s", method, path, r.status, want,
             (int)len, p);
  json_t *j = json_loadb (p, len, 0, NULL);
  g_assert_nonnull (j);
  resp_clear (&r);
  return j;
}

static const char *
err_code (const json_t *j)
{
  return json_string_value (
      json_object_get (json_object_get (j, "error"), "code"));
}

static void
assert_contains (const char *text, const char *words)
{
  if (text == NULL || strstr (text, words) == NULL)
    g_error ("'%s' does not mention '%s'", text ? text : "(null)", words);
}

/* A 4xx with this error code whose message mentions words. */
static void
http_refused (Net *net, int node, const char *method, const char *path,
              const char *body, guint status, const char *code,
              const char *words)
{
  g_autoptr (json_t) j = http_json (net, node, method, path, body, status);
  g_assert_nonnull (err_code (j));
  if (code)
    g_assert_cmpstr (err_code (j), ==, code);
  if (words)
    assert_contains (json_string_value (json_object_get (
                         json_object_get (j, "error"), "message")),
                     words);
}

/* ---- chain helpers ------------------------------------------------------ */

static uint64_t
head (Net *net, int i)
{
  return cairn_node_head (net->n[i].node)->height;
}

static void
wait_height (Net *net, int i, uint64_t h)
{
  int64_t deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (head (net, i) < h && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (head (net, i) < h)
    g_error ("node %d: height %" G_GUINT64_FORMAT " not reached in 60 s", i, h);
}

static CairnTx *
sign (Net *net, CairnKey *k, const char *type, const char *body_text)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a
      = cairn_node_account_json (net->n[0].node, addr (k), &err);
  g_assert_no_error (err);
  g_autoptr (json_t) body = json_loads (body_text, 0, NULL);
  g_assert_nonnull (body);
  CairnTx *tx = cairn_tx_sign (
      k, CHAIN, type, json_integer_value (json_object_get (a, "next_nonce")),
      body, &err);
  g_assert_no_error (err);
  return tx;
}

/* Submit to node 0, wait for the commit; the committed tx JSON. */
static json_t *
run_tx (Net *net, CairnKey *k, const char *type, const char *body)
{
  g_autoptr (CairnTx) tx = sign (net, k, type, body);
  json_decref (http_json (net, 0, "POST", "/v1/txs", tx->bytes, 202));
  int64_t deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, TRUE);
    g_autoptr (json_t) t
        = cairn_node_tx_json (net->n[0].node, tx->id_hex, NULL);
    if (t
        && g_strcmp0 (json_string_value (json_object_get (t, "status")),
                      "committed")
               == 0)
      return g_steal_pointer (&t);
  }
  g_error ("%s %s not committed in 30 s", type, body);
}

/* OK; returns the tx id (g_free). */
static char *
ok_tx (Net *net, CairnKey *k, const char *type, const char *body)
{
  g_autoptr (json_t) t = run_tx (net, k, type, body);
  const json_t *r = json_object_get (t, "result");
  if (!json_is_true (json_object_get (r, "ok")))
    g_error ("%s failed: %s: %s", type,
             json_string_value (json_object_get (r, "code")),
             json_string_value (json_object_get (r, "error")));
  return g_strdup (json_string_value (json_object_get (t, "id")));
}

/* Committed but failed with code, the message mentioning words. */
static void
bad_tx (Net *net, CairnKey *k, const char *type, const char *body,
        const char *code, const char *words)
{
  g_autoptr (json_t) t = run_tx (net, k, type, body);
  const json_t *r = json_object_get (t, "result");
  g_assert_false (json_is_true (json_object_get (r, "ok")));
  g_assert_cmpstr (json_string_value (json_object_get (r, "code")), ==, code);
  assert_contains (json_string_value (json_object_get (r, "error")), words);
}

/* Refused at admission by the handler's check(): 400 invalid_body. */
static void
refused_tx (Net *net, CairnKey *k, const char *type, const char *body,
            const char *words)
{
  g_autoptr (CairnTx) tx = sign (net, k, type, body);
  g_autoptr (json_t) r = http_json (net, 0, "POST", "/v1/txs", tx->bytes, 400);
  g_assert_cmpstr (err_code (r), ==, "invalid_body");
  assert_contains (json_string_value (json_object_get (
                       json_object_get (r, "error"), "message")),
                   words);
}

static json_int_t
balance (Net *net, int node, CairnKey *k)
{
  g_autofree char *path = g_strdup_printf ("/v1/bank/balances/%s", addr (k));
  g_autoptr (json_t) j = http_json (net, node, "GET", path, NULL, 200);
  return json_integer_value (
      json_object_get (json_object_get (j, "balances"), "cairn"));
}

/* ---- signed requests and tokens ------------------------------------------ */

/* body (stolen) + pubkey, timestamp (now + skew_ms) and sig. */
static char *
signed_body (CairnKey *k, const char *domain, json_t *body, int64_t skew_ms)
{
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (k), 32);
  json_object_set_new (body, "pubkey", json_string (pk));
  json_object_set_new (
      body, "timestamp",
      json_integer (g_get_real_time () / 1000 + (json_int_t)skew_ms));
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (body, &len, NULL);
  uint8_t sig[64];
  cairn_key_sign (k, domain, msg, len, sig);
  g_autofree char *sh = cairn_hex_encode (sig, 64);
  json_object_set_new (body, "sig", json_string (sh));
  char *out = cairn_cjson_dump (body, NULL, NULL);
  json_decref (body);
  return out;
}

static char *
content_key_body (CairnKey *k, const char *cid, const uint8_t key[32],
                  int64_t skew_ms)
{
  g_autofree char *kh = cairn_hex_encode (key, 32);
  return signed_body (
      k, "cairn/services/content-key/v1",
      json_pack ("{s:s,s:s,s:s}", "provider", addr (k), "cid", cid, "key", kh),
      skew_ms);
}

static char *
key_request (CairnKey *k, const char *service, const char *scope)
{
  json_t *b = json_pack ("{s:s,s:s}", "service", service, "account", addr (k));
  if (scope)
    json_object_set_new (b, "scope", json_string (scope));
  return signed_body (k, "cairn/services/key-request/v1", b, 0);
}

/* A query key for k from node 0: the token (g_free). */
static char *
get_token (Net *net, CairnKey *k, const char *service, const char *scope)
{
  g_autofree char *body = key_request (k, service, scope);
  g_autofree char *path = g_strdup_printf ("/v1/services/%s/key", service);
  g_autoptr (json_t) j = http_json (net, 0, "POST", path, body, 200);
  g_assert_cmpstr (json_string_value (json_object_get (j, "service")), ==,
                   service);
  g_assert_cmpstr (json_string_value (json_object_get (j, "holder")), ==,
                   addr (k));
  g_autofree char *want_url
      = g_strdup_printf ("/v1/services/%s/video?key=%s", service,
                         json_string_value (json_object_get (j, "token")));
  g_assert_cmpstr (json_string_value (json_object_get (j, "url")), ==,
                   want_url);
  return g_strdup (json_string_value (json_object_get (j, "token")));
}

static char *
b64url (const void *data, size_t len)
{
  char *t = g_base64_encode (data, len);
  for (char *p = t; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  char *eq = strchr (t, '=');
  if (eq)
    *eq = '\0';
  return t;
}

/* A token signed by `signer` (the test holds the nodes' keys). */
static char *
make_token (CairnKey *signer, const char *gateway, const char *holder,
            const char *service, int64_t exp)
{
  g_autoptr (json_t) p = json_pack (
      "{s:I,s:s,s:s,s:s,s:s}", "exp", (json_int_t)exp, "gateway", gateway,
      "holder", holder, "scope", "view", "service", service);
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (p, &len, NULL);
  uint8_t sig[64];
  cairn_key_sign (signer, QKEY_DOMAIN, msg, len, sig);
  g_autofree char *a = b64url (msg, len);
  g_autofree char *b = b64url (sig, 64);
  return g_strconcat (a, ".", b, NULL);
}

static char *
video_path (const char *service, const char *token)
{
  return g_strdup_printf ("/v1/services/%s/video?key=%s", service, token);
}

/* GET the video (range may be NULL); must be 200/206 with exactly
 * plain[off, off+len). */
static void
video_range (Net *net, const char *service, const char *token,
             const char *range, GBytes *plain, uint64_t off, uint64_t len)
{
  g_autofree char *path = video_path (service, token);
  Resp r;
  request (net, 0, "GET", path, NULL, 0, range, &r);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, range ? 206 : 200);
  g_assert_cmpstr (r.content_type, ==, "video/mp4");
  gsize n;
  const uint8_t *p = g_bytes_get_data (r.body, &n);
  g_assert_cmpuint (n, ==, len);
  g_assert_true (
      memcmp (p, (const uint8_t *)g_bytes_get_data (plain, NULL) + off, len)
      == 0);
  if (range) {
    g_autofree char *cr = g_strdup_printf (
        "bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "/%zu", off,
        off + len - 1, g_bytes_get_size (plain));
    g_assert_cmpstr (r.content_range, ==, cr);
  }
  resp_clear (&r);
}

static void
video_refused (Net *net, const char *service, const char *token,
               const char *code)
{
  g_autofree char *path = video_path (service, token ? token : "");
  http_refused (net, 0, "GET", path, NULL, 403, code, NULL);
}

static GBytes *
random_bytes (size_t n, uint32_t seed)
{
  uint8_t *p = g_malloc (n);
  GRand *r = g_rand_new_with_seed (seed);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)g_rand_int (r);
  g_rand_free (r);
  return g_bytes_new_take (p, n);
}

/* Encrypt plain like the CLI, upload it to node 0; the CID (g_free). */
static char *
upload_encrypted (Net *net, GBytes *plain, const uint8_t key[32])
{
  uint8_t prefix[8];
  for (int i = 0; i < 8; i++)
    prefix[i] = (uint8_t)g_random_int ();
  g_autoptr (GBytes) enc = seg_encrypt (
      key, prefix, g_bytes_get_data (plain, NULL), g_bytes_get_size (plain));
  Resp r;
  request (net, 0, "POST", "/v1/blobs", g_bytes_get_data (enc, NULL),
           g_bytes_get_size (enc), NULL, &r);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.status, ==, 201);
  g_autoptr (json_t) j = json_loadb (g_bytes_get_data (r.body, NULL),
                                     g_bytes_get_size (r.body), 0, NULL);
  resp_clear (&r);
  return g_strdup (json_string_value (json_object_get (j, "cid")));
}

static char *
sha256_hex (GBytes *b)
{
  uint8_t d[32];
  cairn_sha256 (g_bytes_get_data (b, NULL), g_bytes_get_size (b), d);
  return cairn_hex_encode (d, 32);
}

static char *
publish_body (const char *cid, GBytes *plain, const char *alg)
{
  g_autofree char *sha = sha256_hex (plain);
  return g_strdup_printf (
      "{\"place\":\"Lakeside pier\",\"type\":\"boat tour\","
      "\"time\":1700000100000,\"price\":{\"denom\":\"cairn\",\"amount\":%d},"
      "\"video\":{\"cid\":\"%s\",\"sha256\":\"%s\",\"size\":%zu,"
      "\"enc\":{\"alg\":\"%s\",\"segment_size\":65536}}}",
      PRICE, cid, sha, g_bytes_get_size (plain), alg);
}

static json_t *
get_case (Net *net, int node, const char *id)
{
  g_autofree char *path = g_strdup_printf ("/v1/services/cases/%s", id);
  return http_json (net, node, "GET", path, NULL, 200);
}

/* Wait until every node's head reaches h and they agree on the state. */
static void
all_nodes_at (Net *net, uint64_t h)
{
  for (int i = 0; i < 3; i++)
    wait_height (net, i, h);
}

/* ---- the encrypted format alone ------------------------------------------ */

static GBytes *
read_range (GBytes *enc, const uint8_t key[32], uint64_t off, uint64_t len,
            GError **error)
{
  const uint8_t *c = g_bytes_get_data (enc, NULL);
  SegHeader h;
  g_assert_true (seg_header_parse (c, &h, NULL));
  uint64_t co, cl;
  seg_cipher_range (&h, off, len, &co, &cl);
  g_assert_cmpuint (co, <=, g_bytes_get_size (enc));
  cl = MIN (cl, g_bytes_get_size (enc) - co); /* a cut file: what is left */
  g_autoptr (GBytes) part = g_bytes_new_from_bytes (enc, co, cl);
  g_autoptr (GInputStream) cin = g_memory_input_stream_new_from_bytes (part);
  g_autoptr (GInputStream) r = seg_reader_new (cin, key, c, off, len);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  uint8_t buf[7000];
  for (;;) {
    gssize n = g_input_stream_read (r, buf, sizeof buf, NULL, error);
    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    g_byte_array_append (out, buf, n);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
test_segcrypt (void)
{
  uint8_t key[32], prefix[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  memset (key, 7, sizeof key);
  const size_t sizes[]
      = { 1, SEG_SIZE - 1, SEG_SIZE, SEG_SIZE + 1, 3 * SEG_SIZE + 12345 };
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++) {
    g_autoptr (GBytes) plain = random_bytes (sizes[s], (uint32_t)s);
    const uint8_t *pp = g_bytes_get_data (plain, NULL);
    g_autoptr (GBytes) enc = seg_encrypt (key, prefix, pp, sizes[s]);
    g_assert_cmpuint (g_bytes_get_size (enc), ==,
                      seg_cipher_size (sizes[s], SEG_SIZE));
    /* Whole, and ranges at and across segment boundaries. */
    const uint64_t offs[]
        = { 0, 1, SEG_SIZE - 3, SEG_SIZE, SEG_SIZE + 5, 2 * SEG_SIZE - 1 };
    for (size_t o = 0; o < G_N_ELEMENTS (offs); o++) {
      if (offs[o] >= sizes[s])
        continue;
      for (uint64_t len = 1; len <= sizes[s] - offs[o]; len = len * 7 + 3) {
        g_autoptr (GError) err = NULL;
        g_autoptr (GBytes) got = read_range (enc, key, offs[o], len, &err);
        g_assert_no_error (err);
        g_assert_cmpuint (g_bytes_get_size (got), ==, len);
        g_assert_true (memcmp (g_bytes_get_data (got, NULL), pp + offs[o], len)
                       == 0);
      }
    }
    g_autoptr (GBytes) all = read_range (enc, key, 0, sizes[s], NULL);
    g_assert_true (g_bytes_equal (all, plain));
  }
  /* Tampering: a flipped ciphertext byte, a flipped header byte, the wrong
   * key: the read fails, nothing is delivered from that segment. */
  g_autoptr (GBytes) plain = random_bytes (2 * SEG_SIZE, 99);
  g_autoptr (GBytes) enc
      = seg_encrypt (key, prefix, g_bytes_get_data (plain, NULL), 2 * SEG_SIZE);
  gsize n = g_bytes_get_size (enc);
  uint8_t *bad = g_memdup2 (g_bytes_get_data (enc, NULL), n);
  bad[SEG_HEADER + SEG_SIZE + SEG_TAG + 10] ^= 1; /* in segment 1 */
  g_autoptr (GBytes) benc = g_bytes_new_take (bad, n);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) ok0 = read_range (benc, key, 0, 100, &err);
  g_assert_no_error (err); /* segment 0 is intact */
  g_autoptr (GBytes) r1 = read_range (benc, key, SEG_SIZE, 100, &err);
  g_assert_null (r1);
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  assert_contains (err->message, "failed authentication");
  g_clear_error (&err);
  uint8_t *bh = g_memdup2 (g_bytes_get_data (enc, NULL), n);
  bh[24] ^= 1; /* the nonce prefix, authenticated as AAD */
  g_autoptr (GBytes) henc = g_bytes_new_take (bh, n);
  g_assert_null (read_range (henc, key, 0, 10, &err));
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&err);
  uint8_t wrong[32];
  memset (wrong, 8, sizeof wrong);
  g_assert_null (read_range (enc, wrong, 0, 10, &err));
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&err);
  /* A cut ciphertext. */
  g_autoptr (GBytes) cut = g_bytes_new_from_bytes (enc, 0, n - 1);
  g_assert_null (read_range (cut, key, SEG_SIZE, SEG_SIZE, &err));
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&err);
  /* Bad headers. */
  uint8_t h[SEG_HEADER];
  SegHeader sh;
  memcpy (h, g_bytes_get_data (enc, NULL), SEG_HEADER);
  h[0] = 'X';
  g_assert_false (seg_header_parse (h, &sh, &err));
  g_clear_error (&err);
  memcpy (h, g_bytes_get_data (enc, NULL), SEG_HEADER);
  h[14] = 0x20; /* segment size */
  g_assert_false (seg_header_parse (h, &sh, &err));
  g_clear_error (&err);
}

/* ---- the whole flow on three nodes --------------------------------------- */

typedef struct {
  Net net;
  GBytes *plain;
  uint8_t key[32];
  char *cid;
  char *svc;
} Flow;

static void
flow_setup_roles_and_provider (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *b = NULL;
  /* register_provider before anyone holds the platform role. */
  b = g_strdup_printf ("{\"address\":\"%s\",\"name\":\"Lake Tours\"}",
                       addr (net->provider));
  bad_tx (net, net->platform, "services.register_provider", b, "unauthorized",
          "platform");
  g_autofree char *g1 = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"platform\"}", addr (net->platform));
  g_autofree char *g2 = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"regulator\"}", addr (net->regulator));
  g_free (ok_tx (net, net->admin, "core.grant_role", g1));
  g_free (ok_tx (net, net->admin, "core.grant_role", g2));
  g_free (ok_tx (net, net->platform, "services.register_provider", b));
  bad_tx (net, net->platform, "services.register_provider", b, "conflict",
          "already registered");
  refused_tx (net, net->platform, "services.register_provider",
              "{\"address\":\"nope\",\"name\":\"x\"}", "not an address");
  refused_tx (net, net->platform, "services.register_provider",
              "{\"address\":\"nope\"}", "name");
  g_autofree char *pp
      = g_strdup_printf ("/v1/services/providers/%s", addr (net->provider));
  g_autoptr (json_t) p = http_json (net, 0, "GET", pp, NULL, 200);
  g_assert_cmpstr (json_string_value (json_object_get (p, "name")), ==,
                   "Lake Tours");
}

static void
flow_content_key (Flow *f)
{
  Net *net = &f->net;
  const char *path = "/v1/services/content-keys";
  g_autofree char *b = NULL;
  uint8_t wrong[32];
  memset (wrong, 0x42, sizeof wrong);
  /* Not a provider (outsider), bad signature, stale, wrong key, a CID
   * that is not stored here: refused, nothing saved. */
  b = content_key_body (net->outsider, f->cid, f->key, 0);
  http_refused (net, 0, "POST", path, b, 403, "not_provider", NULL);
  g_free (b);
  b = content_key_body (net->provider, f->cid, f->key, 0);
  char *sig = strstr (b, "\"sig\":\"") + 7;
  sig[3] = sig[3] == '0' ? '1' : '0';
  http_refused (net, 0, "POST", path, b, 403, "bad_signature", NULL);
  g_free (b);
  b = content_key_body (net->provider, f->cid, f->key, -3600 * 1000);
  http_refused (net, 0, "POST", path, b, 403, "stale_request", NULL);
  g_free (b);
  b = content_key_body (net->provider, f->cid, wrong, 0);
  http_refused (net, 0, "POST", path, b, 422, "wrong_key", "does not decrypt");
  g_free (b);
  const char *unknown
      = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
  b = content_key_body (net->provider, unknown, f->key, 0);
  http_refused (net, 0, "POST", path, b, 404, "blob_not_found",
                "not stored on this node");
  g_free (b);
  http_refused (net, 0, "POST", path, "{\"cid\":1}", 400, "invalid", NULL);
  g_autofree char *file = g_build_filename (net->n[0].home, "data", "services",
                                            "content-keys.json", NULL);
  g_autofree char *before = NULL;
  g_file_get_contents (file, &before, NULL, NULL);
  g_assert_true (before == NULL || strstr (before, f->cid) == NULL);

  b = content_key_body (net->provider, f->cid, f->key, 0);
  g_autoptr (json_t) ok = http_json (net, 0, "POST", path, b, 200);
  g_assert_cmpint (json_integer_value (json_object_get (ok, "size")), ==,
                   (json_int_t)g_bytes_get_size (f->plain));
  /* Kept in a 0600 file in the node's data dir. */
  struct stat st;
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  g_autofree char *kh = cairn_hex_encode (f->key, 32);
  assert_contains (text, kh);
}

static void
flow_publish (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *body = publish_body (f->cid, f->plain, SEG_ALG);
  bad_tx (net, net->outsider, "services.publish", body, "unauthorized",
          "not a registered provider");
  g_autofree char *badalg = publish_body (f->cid, f->plain, "rot13");
  refused_tx (net, net->provider, "services.publish", badalg,
              "aes-256-gcm-seg64k");
  g_autofree char *badcid = publish_body ("Qmnot-a-cid", f->plain, SEG_ALG);
  refused_tx (net, net->provider, "services.publish", badcid, "CIDv1");
  f->svc = ok_tx (net, net->provider, "services.publish", body);
  g_autofree char *path = g_strdup_printf ("/v1/services/%s", f->svc);
  g_autoptr (json_t) s = http_json (net, 0, "GET", path, NULL, 200);
  g_assert_cmpstr (json_string_value (json_object_get (s, "provider")), ==,
                   addr (net->provider));
  g_assert_cmpstr (json_string_value (json_object_get (
                       json_object_get (s, "video"), "content_type")),
                   ==, "video/mp4");
  g_autoptr (json_t) all
      = http_json (net, 0, "GET", "/v1/services/", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (all, "services")), ==, 1);
}

static void
flow_entitle (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *keypath = g_strdup_printf ("/v1/services/%s/key", f->svc);
  /* No entitlement yet: a clear "provide entitlement first". */
  g_autofree char *req = key_request (net->user, f->svc, NULL);
  http_refused (net, 0, "POST", keypath, req, 403, "entitlement_required",
                "cairn services entitle");
  video_refused (net, f->svc, NULL, "key_missing");

  json_int_t u0 = balance (net, 0, net->user),
             p0 = balance (net, 0, net->provider);
  g_autofree char *wrong = g_strdup_printf (
      "{\"service\":\"%s\",\"denom\":\"cairn\",\"amount\":%d}", f->svc,
      PRICE - 1);
  bad_tx (net, net->user, "services.entitle", wrong, "invalid", "wrong price");
  g_autofree char *wrongd = g_strdup_printf (
      "{\"service\":\"%s\",\"denom\":\"gold\",\"amount\":%d}", f->svc, PRICE);
  bad_tx (net, net->user, "services.entitle", wrongd, "invalid", "wrong price");
  g_autofree char *unknown = g_strdup_printf (
      "{\"service\":\"%064d\",\"denom\":\"cairn\",\"amount\":%d}", 0, PRICE);
  bad_tx (net, net->user, "services.entitle", unknown, "not_found",
          "unknown service");
  g_autofree char *right = g_strdup_printf (
      "{\"service\":\"%s\",\"denom\":\"cairn\",\"amount\":%d}", f->svc, PRICE);
  /* Too poor: the bank refuses, nothing recorded. */
  bad_tx (net, net->outsider, "services.entitle", right, "insufficient_funds",
          "insufficient funds");
  g_assert_cmpint (balance (net, 0, net->user), ==, u0);
  g_assert_cmpint (balance (net, 0, net->provider), ==, p0);

  g_free (ok_tx (net, net->user, "services.entitle", right));
  g_assert_cmpint (balance (net, 0, net->user), ==, u0 - PRICE);
  g_assert_cmpint (balance (net, 0, net->provider), ==, p0 + PRICE);
  bad_tx (net, net->user, "services.entitle", right, "conflict",
          "already holds an entitlement");
  g_assert_cmpint (balance (net, 0, net->user), ==, u0 - PRICE);
  g_assert_cmpint (balance (net, 0, net->provider), ==, p0 + PRICE);
  bad_tx (net, net->provider, "services.entitle", right, "invalid",
          "is the provider");
  g_autofree char *ep
      = g_strdup_printf ("/v1/services/%s/entitlements", f->svc);
  g_autoptr (json_t) e = http_json (net, 0, "GET", ep, NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (e, "entitlements")), ==,
                    1);
  g_autofree char *ap = g_strdup_printf (
      "/v1/services/accounts/%s/entitlements", addr (net->user));
  g_autoptr (json_t) a = http_json (net, 0, "GET", ap, NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (a, "entitlements")), ==,
                    1);
}

static void
flow_keys_and_video (Flow *f)
{
  Net *net = &f->net;
  size_t size = g_bytes_get_size (f->plain);
  g_autofree char *token = get_token (net, net->user, f->svc, NULL);
  video_range (net, f->svc, token, NULL, f->plain, 0, size);
  video_range (net, f->svc, token, "bytes=0-99", f->plain, 0, 100);
  video_range (net, f->svc, token, "bytes=65530-65545", f->plain, 65530, 16);
  video_range (net, f->svc, token, "bytes=131072-131072", f->plain, 131072, 1);
  video_range (net, f->svc, token, "bytes=-100", f->plain, size - 100, 100);
  video_range (net, f->svc, token, "bytes=200000-", f->plain, 200000,
               size - 200000);
  g_autofree char *vp = video_path (f->svc, token);
  g_autofree char *beyond = g_strdup_printf ("bytes=%zu-", size);
  Resp r;
  request (net, 0, "GET", vp, NULL, 0, beyond, &r);
  g_assert_cmpuint (r.status, ==, 416);
  resp_clear (&r);
  /* The provider may always view its own video. */
  g_autofree char *ptoken = get_token (net, net->provider, f->svc, NULL);
  video_range (net, f->svc, ptoken, "bytes=5-9", f->plain, 5, 5);

  /* Refused keys, each with its reason. */
  video_refused (net, f->svc, "garbage", "key_malformed");
  video_refused (net, f->svc, "abc.def", "key_malformed");
  g_autofree char *forged = g_strdup (token);
  char *sig = strchr (forged, '.') + 10;
  *sig = *sig == 'A' ? 'B' : 'A';
  video_refused (net, f->svc, forged, "key_forged");
  /* Someone's own key signs a token naming this gateway. */
  int64_t now = g_get_real_time () / 1000;
  g_autofree char *selfmade = make_token (
      net->user, addr (net->n[0].key), addr (net->user), f->svc, now + 600000);
  video_refused (net, f->svc, selfmade, "key_forged");
  /* Signed by the gateway, but expired. */
  g_autofree char *expired = make_token (net->n[0].key, addr (net->n[0].key),
                                         addr (net->user), f->svc, now - 1000);
  video_refused (net, f->svc, expired, "key_expired");
  /* Issued by another gateway (node 1's key). */
  g_autofree char *foreign
      = make_token (net->n[1].key, addr (net->n[1].key), addr (net->user),
                    f->svc, now + 600000);
  video_refused (net, f->svc, foreign, "key_foreign");
  /* Another node holds no content key: it does not issue keys. */
  g_autofree char *keypath = g_strdup_printf ("/v1/services/%s/key", f->svc);
  g_autofree char *req = key_request (net->user, f->svc, NULL);
  http_refused (net, 1, "POST", keypath, req, 409, "not_gateway", NULL);
  /* Request signatures: another account's key, a tampered body. */
  g_autofree char *other = key_request (net->user2, f->svc, NULL);
  http_refused (net, 0, "POST", keypath, other, 403, "entitlement_required",
                NULL);
  g_autofree char *tampered = g_strdup (req);
  char *t = strchr (strstr (tampered, "\"timestamp\":"), '}') - 1;
  *t = *t == '1' ? '2' : '1'; /* 1 ms later: fresh, but not what was signed */
  http_refused (net, 0, "POST", keypath, tampered, 403, "bad_signature",
                "does not match");

  /* A second service: its key does not open the first one. */
  uint8_t key2[32];
  memset (key2, 0x17, sizeof key2);
  g_autoptr (GBytes) plain2 = random_bytes (1000, 2);
  g_autofree char *cid2 = upload_encrypted (net, plain2, key2);
  g_autofree char *ck = content_key_body (net->provider, cid2, key2, 0);
  json_decref (
      http_json (net, 0, "POST", "/v1/services/content-keys", ck, 200));
  g_autofree char *body2 = publish_body (cid2, plain2, SEG_ALG);
  g_autofree char *svc2 = ok_tx (net, net->provider, "services.publish", body2);
  g_autofree char *token2 = get_token (net, net->provider, svc2, NULL);
  video_refused (net, f->svc, token2, "key_other_service");
  video_range (net, svc2, token2, NULL, plain2, 0, 1000);
}

/* complaint -> review -> opinion by the regulator; two more complaints
 * published automatically at its publish height. */
static void
flow_cases (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *hash = g_strnfill (64, 'a');
  g_autofree char *fb = g_strdup_printf (
      "{\"service\":\"%s\",\"kind\":\"experience\",\"rating\":4,"
      "\"text_sha256\":\"%s\"}",
      f->svc, hash);
  bad_tx (net, net->user2, "services.feedback", fb, "unauthorized",
          "no entitlement");
  g_free (ok_tx (net, net->user, "services.feedback", fb));
  g_autofree char *bad6 = g_strdup_printf (
      "{\"service\":\"%s\",\"kind\":\"experience\",\"rating\":6,"
      "\"text_sha256\":\"%s\"}",
      f->svc, hash);
  refused_tx (net, net->user, "services.feedback", bad6, "rating");
  g_autofree char *badkind
      = g_strdup_printf ("{\"service\":\"%s\",\"kind\":\"rant\",\"rating\":1,"
                         "\"text_sha256\":\"%s\"}",
                         f->svc, hash);
  refused_tx (net, net->user, "services.feedback", badkind, "complaint");
  g_autofree char *complaint = g_strdup_printf (
      "{\"service\":\"%s\",\"kind\":\"complaint\",\"rating\":1,"
      "\"text_sha256\":\"%s\"}",
      f->svc, hash);
  g_autofree char *case1
      = ok_tx (net, net->user, "services.feedback", complaint);
  bad_tx (net, net->user, "services.feedback", complaint, "conflict",
          "already filed a complaint");
  g_autoptr (json_t) c = get_case (net, 0, case1);
  g_assert_cmpstr (json_string_value (json_object_get (c, "status")), ==,
                   "open");
  json_int_t opened = json_integer_value (json_object_get (c, "opened"));
  json_int_t deadline = json_integer_value (json_object_get (c, "deadline"));
  g_assert_cmpint (deadline, ==, opened + REVIEW_PERIOD);
  g_autofree char *fp = g_strdup_printf ("/v1/services/%s/feedback", f->svc);
  g_autoptr (json_t) fl = http_json (net, 0, "GET", fp, NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (fl, "feedback")), ==, 2);
  g_autoptr (json_t) open
      = http_json (net, 0, "GET", "/v1/services/cases?status=open", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (open, "cases")), ==, 1);

  /* The regulator's own key for the case; a user cannot ask for one. */
  g_autofree char *keypath = g_strdup_printf ("/v1/services/%s/key", f->svc);
  g_autofree char *ureq = key_request (net->user, f->svc, "review");
  http_refused (net, 0, "POST", keypath, ureq, 403, "not_regulator", NULL);
  g_autofree char *rtoken = get_token (net, net->regulator, f->svc, "review");
  video_range (net, f->svc, rtoken, "bytes=1000-1999", f->plain, 1000, 1000);

  g_autofree char *review = g_strdup_printf (
      "{\"case\":\"%s\",\"verdict\":\"upheld\",\"text\":\"The video shows "
      "the tour was cut short.\"}",
      case1);
  bad_tx (net, net->user, "services.review", review, "unauthorized",
          "regulator");
  g_autofree char *op1 = g_strdup_printf ("{\"case\":\"%s\"}", case1);
  bad_tx (net, net->regulator, "services.publish_opinion", op1, "invalid",
          "review period");
  refused_tx (net, net->regulator, "services.review",
              "{\"case\":\"zz\",\"verdict\":\"upheld\",\"text\":\"x\"}",
              "case");
  g_autofree char *badverdict = g_strdup_printf (
      "{\"case\":\"%s\",\"verdict\":\"maybe\",\"text\":\"x\"}", case1);
  refused_tx (net, net->regulator, "services.review", badverdict, "verdict");
  g_autofree char *unknown = g_strdup_printf (
      "{\"case\":\"%064d\",\"verdict\":\"upheld\",\"text\":\"x\"}", 0);
  bad_tx (net, net->regulator, "services.review", unknown, "not_found",
          "unknown case");
  g_free (ok_tx (net, net->regulator, "services.review", review));
  bad_tx (net, net->regulator, "services.review", review, "conflict",
          "already reviewed");
  bad_tx (net, net->regulator, "services.publish_opinion", op1, "invalid",
          "review period");

  /* A second complaint, by user2, that nobody reviews. */
  g_autofree char *right = g_strdup_printf (
      "{\"service\":\"%s\",\"denom\":\"cairn\",\"amount\":%d}", f->svc, PRICE);
  g_free (ok_tx (net, net->user2, "services.entitle", right));
  g_autofree char *case2
      = ok_tx (net, net->user2, "services.feedback", complaint);
  g_autoptr (json_t) c2 = get_case (net, 0, case2);
  json_int_t publish_at2
      = json_integer_value (json_object_get (c2, "publish_at"));
  g_assert_cmpint (publish_at2, ==,
                   json_integer_value (json_object_get (c2, "deadline"))
                       + PUBLISH_DELAY);

  /* After the period the regulator publishes case 1 itself. */
  wait_height (net, 0, (uint64_t)deadline);
  g_free (ok_tx (net, net->regulator, "services.publish_opinion", op1));
  bad_tx (net, net->regulator, "services.publish_opinion", op1, "conflict",
          "already published");
  /* Case 2 is published automatically at its publish height. */
  all_nodes_at (net, (uint64_t)publish_at2);
  for (int i = 0; i < 3; i++) {
    g_autoptr (json_t) k1 = get_case (net, i, case1);
    g_assert_cmpstr (json_string_value (json_object_get (k1, "status")), ==,
                     "published");
    const json_t *o1 = json_object_get (k1, "opinion");
    g_assert_cmpstr (json_string_value (json_object_get (o1, "verdict")), ==,
                     "upheld");
    g_assert_cmpstr (json_string_value (json_object_get (o1, "by")), ==,
                     addr (net->regulator));
    g_autoptr (json_t) k2 = get_case (net, i, case2);
    const json_t *o2 = json_object_get (k2, "opinion");
    g_assert_cmpstr (json_string_value (json_object_get (k2, "status")), ==,
                     "published");
    g_assert_cmpstr (json_string_value (json_object_get (o2, "verdict")), ==,
                     "not_reviewed");
    g_assert_cmpstr (json_string_value (json_object_get (o2, "by")), ==,
                     "auto");
    g_assert_cmpint (json_integer_value (json_object_get (o2, "height")), ==,
                     publish_at2);
    g_autoptr (json_t) ops
        = http_json (net, i, "GET", "/v1/services/opinions", NULL, 200);
    g_assert_cmpuint (json_array_size (json_object_get (ops, "opinions")), ==,
                      2);
    g_autofree char *sp = g_strdup_printf ("/v1/services/%s", f->svc);
    g_autoptr (json_t) s = http_json (net, i, "GET", sp, NULL, 200);
    g_assert_cmpuint (json_array_size (json_object_get (s, "cases")), ==, 2);
    g_assert_cmpint (json_integer_value (json_object_get (
                         json_object_get (s, "feedback"), "count")),
                     ==, 3);
  }
  /* A regulator's key for a service without an open case: refused. */
  g_autofree char *rreq = key_request (net->regulator, f->svc, "review");
  http_refused (net, 0, "POST", keypath, rreq, 403, "no_open_case", NULL);
  /* Same state on every node. */
  uint64_t h = head (net, 0);
  all_nodes_at (net, h);
  for (int i = 1; i < 3; i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (json_t) b0 = cairn_node_block_json (net->n[0].node, h, &err);
    g_autoptr (json_t) bi = cairn_node_block_json (net->n[i].node, h, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (json_string_value (json_object_get (
                         json_object_get (b0, "header"), "state_root")),
                     ==,
                     json_string_value (json_object_get (
                         json_object_get (bi, "header"), "state_root")));
  }
}

/* Flip a byte in every blob-fs block file of node 0 matching find_args. */
static void
corrupt_blocks (Net *net, const char *find_args)
{
  g_autofree char *blocks
      = g_build_filename (net->n[0].home, "data", "blob-fs", "blocks", NULL);
  g_autofree char *cmd = g_strdup_printf (
      "n=0; for f in $(find '%s' -name '*.data' %s); do "
      "printf 'X' | dd of=\"$f\" bs=1 seek=40000 conv=notrunc 2>/dev/null; "
      "n=$((n+1)); done; test $n -gt 0",
      blocks, find_args);
  g_assert_cmpint (system (cmd), ==, 0);
}

/* GET the whole video: it must not be served as it was. Returns how it
 * failed: the HTTP status of a refusal before the body, or 0 for a body
 * cut short mid-stream. */
static guint
video_not_served (Net *net, Flow *f, const char *token, const char *range)
{
  g_autofree char *path = video_path (f->svc, token);
  Resp r;
  request (net, 0, "GET", path, NULL, 0, range, &r);
  guint how = 0;
  if (r.error == NULL && r.status >= 400) {
    g_autoptr (json_t) j = json_loadb (g_bytes_get_data (r.body, NULL),
                                       g_bytes_get_size (r.body), 0, NULL);
    g_assert_nonnull (err_code (j));
    g_test_message ("corrupt blob: refused with %u %s: %s", r.status,
                    err_code (j),
                    json_string_value (json_object_get (
                        json_object_get (j, "error"), "message")));
    how = r.status;
  } else {
    /* Failed mid-stream: cut short (the headers were out already). */
    gsize n = r.body ? g_bytes_get_size (r.body) : 0;
    g_assert_true (r.error != NULL || n < g_bytes_get_size (f->plain));
    g_test_message ("corrupt blob: stream cut after %zu bytes (%s)", n,
                    r.error ? r.error->message : "short body");
  }
  resp_clear (&r);
  return how;
}

/* The blob's bytes changed on disk: the gateway fails, never serves them.
 * The video's ciphertext is two blob-fs chunks (256 KiB + the rest). */
static void
flow_corrupt_blob (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *token = get_token (net, net->user, f->svc, NULL);
  /* The second chunk: the first 256 KiB still play, the rest fails. */
  corrupt_blocks (net, "-size +50k -size -120k");
  video_range (net, f->svc, token, "bytes=0-99999", f->plain, 0, 100000);
  /* The core warns when it cuts a stream (node logs are structured, which
   * g_test_expect_message does not see): not fatal for this request. */
  GLogLevelFlags old
      = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_cmpuint (video_not_served (net, f, token, NULL), ==, 0);
  g_log_set_always_fatal (old);
  /* The first chunk (with the header): refused before any byte. */
  corrupt_blocks (net, "-size +200k");
  g_assert_cmpuint (video_not_served (net, f, token, NULL), ==, 500);
}

/* Entitlement by stake: the price stays the user's but is locked; the
 * entitlement gives a key like a payment, and ends when the stake is
 * released after stake_blocks, on every node. */
static void
flow_stake (Flow *f)
{
  Net *net = &f->net;
  g_autofree char *fund
      = g_strdup_printf ("{\"amount\":100,\"denom\":\"cairn\",\"to\":\"%s\"}",
                         addr (net->outsider));
  g_free (ok_tx (net, net->user, "bank.transfer", fund));
  json_int_t o0 = balance (net, 0, net->outsider),
             p0 = balance (net, 0, net->provider);
  g_autofree char *bad_by = g_strdup_printf (
      "{\"by\":\"gift\",\"service\":\"%s\",\"denom\":\"cairn\","
      "\"amount\":%d}",
      f->svc, PRICE);
  refused_tx (net, net->outsider, "services.entitle", bad_by,
              "body.by must be");
  g_autofree char *stake = g_strdup_printf (
      "{\"by\":\"stake\",\"service\":\"%s\",\"denom\":\"cairn\","
      "\"amount\":%d}",
      f->svc, PRICE);
  g_free (ok_tx (net, net->outsider, "services.entitle", stake));
  /* Locked, not paid. */
  g_assert_cmpint (balance (net, 0, net->outsider), ==, o0 - PRICE);
  g_assert_cmpint (balance (net, 0, net->provider), ==, p0);
  bad_tx (net, net->outsider, "services.entitle", stake, "conflict",
          "already holds an entitlement");
  g_autofree char *ap = g_strdup_printf (
      "/v1/services/accounts/%s/entitlements", addr (net->outsider));
  g_autoptr (json_t) a = http_json (net, 0, "GET", ap, NULL, 200);
  const json_t *ent = json_array_get (json_object_get (a, "entitlements"), 0);
  g_assert_cmpstr (json_string_value (json_object_get (ent, "by")), ==,
                   "stake");
  uint64_t until = json_integer_value (json_object_get (ent, "until"));
  g_assert_cmpuint (until, ==,
                    json_integer_value (json_object_get (ent, "height"))
                        + STAKE_BLOCKS);
  g_free (get_token (net, net->outsider, f->svc, NULL));

  /* Released at `until` on every node: the coins are back, the
   * entitlement is gone. */
  for (int i = 0; i < 3; i++)
    wait_height (net, i, until);
  g_autofree char *keypath = g_strdup_printf ("/v1/services/%s/key", f->svc);
  g_autofree char *req = key_request (net->outsider, f->svc, NULL);
  http_refused (net, 0, "POST", keypath, req, 403, "entitlement_required",
                "cairn services entitle");
  for (int i = 0; i < 3; i++) {
    g_assert_cmpint (balance (net, i, net->outsider), ==, o0);
    g_autoptr (json_t) after = http_json (net, i, "GET", ap, NULL, 200);
    g_assert_cmpuint (json_array_size (json_object_get (after, "entitlements")),
                      ==, 0);
  }
}

static void
test_flow (void)
{
  Flow f = { 0 };
  net_up (&f.net, 3);
  f.plain = random_bytes (5 * SEG_SIZE + 4321, 1);
  for (int i = 0; i < 32; i++)
    f.key[i] = (uint8_t)g_random_int ();
  flow_setup_roles_and_provider (&f);
  f.cid = upload_encrypted (&f.net, f.plain, f.key);
  flow_content_key (&f);
  flow_publish (&f);
  flow_entitle (&f);
  flow_keys_and_video (&f);
  flow_cases (&f);
  flow_stake (&f);
  flow_corrupt_blob (&f);
  g_bytes_unref (f.plain);
  g_free (f.cid);
  g_free (f.svc);
  net_down (&f.net);
}

/* Content keys survive a restart of the gateway; a content key is refused
 * from a non-loopback client unless configured. */
static void
test_restart (void)
{
  Flow f = { 0 };
  net_up (&f.net, 1);
  Net *net = &f.net;
  f.plain = random_bytes (70000, 3);
  memset (f.key, 0x33, sizeof f.key);
  g_autofree char *g1 = g_strdup_printf (
      "{\"address\":\"%s\",\"role\":\"platform\"}", addr (net->platform));
  g_free (ok_tx (net, net->admin, "core.grant_role", g1));
  g_autofree char *b = g_strdup_printf (
      "{\"address\":\"%s\",\"name\":\"Clinic\"}", addr (net->provider));
  g_free (ok_tx (net, net->platform, "services.register_provider", b));
  f.cid = upload_encrypted (net, f.plain, f.key);
  g_autofree char *ck = content_key_body (net->provider, f.cid, f.key, 0);
  json_decref (
      http_json (net, 0, "POST", "/v1/services/content-keys", ck, 200));
  g_autofree char *body = publish_body (f.cid, f.plain, SEG_ALG);
  f.svc = ok_tx (net, net->provider, "services.publish", body);
  g_autofree char *right = g_strdup_printf (
      "{\"service\":\"%s\",\"denom\":\"cairn\",\"amount\":%d}", f.svc, PRICE);
  g_free (ok_tx (net, net->user, "services.entitle", right));

  g_clear_pointer (&net->n[0].node, cairn_node_free);
  node_start (&net->n[0]);
  g_autofree char *token = get_token (net, net->user, f.svc, NULL);
  video_range (net, f.svc, token, "bytes=65000-66000", f.plain, 65000, 1001);
  g_bytes_unref (f.plain);
  g_free (f.cid);
  g_free (f.svc);
  net_down (net);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  g_test_add_func ("/services/segcrypt", test_segcrypt);
  g_test_add_func ("/services/flow", test_flow);
  g_test_add_func ("/services/restart", test_restart);
  int rc = g_test_run ();
  g_free (plugins_dir);
  return rc;
}

/* The groups plugin end to end, in one process: four nodes (n0 a solo
 * validator, n1..n3 followers over TLS on loopback) with the real
 * store-lmdb, solo and groups plugins loaded from the build tree, driven
 * over their HTTP APIs. The members are the nodes themselves: each node
 * registers its X25519 key by itself, and the test signs txs and reads
 * with the nodes' own keys (keys/node.pem) and decrypts with their
 * encryption keys (data/groups/enc.pem), like `cairn group` does.
 *
 * Group A: initiator n0, receiver n1, regulator n2 (the genesis gives n2
 * the regulator role); n3 is registered but not a member until it is
 * added. Covers the group id, every refusal of create/publish/update/
 * members/close (each leaving the state as it was), sealing and direct
 * delivery to exactly the recipients, signed reads (member, outsider,
 * stale, forged, on a node that is not a recipient), a tampered envelope,
 * removal of a member (it gets no later version and cannot open one), the
 * local groups.received event, and equal state roots on every node. */
#include <string.h>

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "cjson.h"
#include "envelope.h"
#include "node_private.h"
#include "p2p.h"
#include "tx.h"

#define CHAIN "grp"
#define NODES 4
#define MAX_MEMBERS 4
#define MAX_PAYLOAD 4096
#define READ_DOMAIN "cairn.groups.read"
#define ID_DOMAIN "cairn.groups.id" /* and its NUL */

static char *plugins_dir;

typedef struct {
  char *home;
  CairnKey *key; /* loaded from <home>/keys/node.pem */
  CairnNode *node;
  char *url;
  uint8_t enc[32]; /* <home>/data/groups/enc.pem */
} Node;

typedef struct {
  Node n[NODES];
  CairnKey *admin, *outsider;
  SoupSession *http;
} Net;

static const char *
addr (CairnKey *k)
{
  return cairn_key_address (k);
}

static const char *
naddr (Net *net, int i)
{
  return addr (net->n[i].key);
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

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
assert_contains (const char *text, const char *words)
{
  if (text == NULL || strstr (text, words) == NULL)
    g_error ("'%s' does not mention '%s'", text ? text : "(null)", words);
}

/* ---- the network ------------------------------------------------------- */

/* A home with a fresh node key; the key the test signs with is read back
 * from keys/node.pem, like a member's operator would. */
static void
make_home (Net *net, int i)
{
  Node *nd = &net->n[i];
  g_autoptr (GError) err = NULL;
  nd->home = g_dir_make_tmp ("cairn-groups-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *kp = g_build_filename (nd->home, "keys", "node.pem", NULL);
  g_autofree char *kdir = g_path_get_dirname (kp);
  g_mkdir_with_parents (kdir, 0700);
  g_autoptr (CairnKey) fresh = cairn_key_generate (&err);
  g_assert_no_error (err);
  g_assert_true (cairn_key_save (fresh, kp, &err));
  nd->key = cairn_key_load (kp, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (addr (nd->key), ==, addr (fresh));
}

static void
write_config (Net *net, int i, const char *p2p_conf)
{
  Node *nd = &net->n[i];
  CairnKey *v = net->n[0].key;
  g_autofree char *vpk = cairn_hex_encode (cairn_key_pubkey (v), 32);
  /* n2 is the regulator (genesis role); the admin authority is unused. */
  g_autoptr (json_t) genesis = json_pack (
      "{s:s,s:I,s:{s:i,s:[s]},s:[{s:s,s:[]},{s:s,s:[s]}],"
      "s:[{s:s,s:s,s:I}],s:{s:{s:I,s:I}}}",
      "chain_id", CHAIN, "genesis_time", (json_int_t)1700000000000, "admin",
      "threshold", 1, "members", addr (net->admin), "accounts", "address",
      addr (net->admin), "roles", "address", naddr (net, 2), "roles",
      "regulator", "validators", "address", addr (v), "pubkey", vpk, "stake",
      (json_int_t)100, "app_state", "groups", "max_payload_bytes",
      (json_int_t)MAX_PAYLOAD, "max_members", (json_int_t)MAX_MEMBERS);
  g_assert_nonnull (genesis);
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  write_file (nd->home, "genesis.json", gtext);
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = " CHAIN "\nlog_level = %s\n"
      "[plugins]\npath = %s\n"
      "load = store-lmdb;solo;groups\n"
      "[http]\nlisten = 127.0.0.1:0\n"
      "[solo]\nbatch_delay_ms = 1\nempty_block_interval_ms = 50\n%s"
      "[store-lmdb]\nmap_size = 256MiB\n"
      "[groups]\nsync_interval_ms = 200\n%s",
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
net_up (Net *net)
{
  net->admin = cairn_key_generate (NULL);
  net->outsider = cairn_key_generate (NULL);
  net->http = soup_session_new ();
  for (int i = 0; i < NODES; i++)
    make_home (net, i);
  g_autofree char *vconf = g_strdup_printf (
      "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\nallow = %s;%s;%s\n",
      naddr (net, 1), naddr (net, 2), naddr (net, 3));
  write_config (net, 0, vconf);
  node_start (&net->n[0]);
  for (int i = 1; i < NODES; i++) {
    g_autofree char *fconf = g_strdup_printf (
        "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\n"
        "persistent_peers = %s@127.0.0.1:%u\n",
        naddr (net, 0), cairn_tls_transport_port (net->n[0].node->p2p));
    write_config (net, i, fconf);
    node_start (&net->n[i]);
  }
}

static void
net_down (Net *net)
{
  g_clear_object (&net->http);
  for (int i = NODES - 1; i >= 0; i--) {
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
  cairn_key_free (net->admin);
  cairn_key_free (net->outsider);
}

/* ---- HTTP on the shared main loop -------------------------------------- */

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

/* The JSON answer of node i; fails the test unless the status is want. */
static json_t *
http_json (Net *net, int node, const char *method, const char *path,
           const char *body, guint want)
{
  g_autofree char *uri = g_strconcat (net->n[node].url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_assert_nonnull (msg);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  Reply r = { 0 };
  soup_session_send_and_read_async (net->http, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_reply, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (r.error);
  gsize len;
  const char *p = g_bytes_get_data (r.body, &len);
  guint status = soup_message_get_status (msg);
  if (status != want)
    g_error ("node %d: %s %s: status %u, wanted %u: %.*s", node, method, path,
             status, want, (int)len, p);
  json_t *j = json_loadb (p, len, 0, NULL);
  g_assert_nonnull (j);
  g_bytes_unref (r.body);
  return j;
}

/* A refusal with this status and error code whose message has words. */
static void
http_refused (Net *net, int node, const char *method, const char *path,
              const char *body, guint status, const char *code,
              const char *words)
{
  g_autoptr (json_t) j = http_json (net, node, method, path, body, status);
  const json_t *e = json_object_get (j, "error");
  g_assert_cmpstr (json_string_value (json_object_get (e, "code")), ==, code);
  if (words)
    assert_contains (json_string_value (json_object_get (e, "message")), words);
}

/* ---- chain helpers ----------------------------------------------------- */

static uint64_t
head (Net *net, int i)
{
  return cairn_node_head (net->n[i].node)->height;
}

static void
wait_height (Net *net, int i, uint64_t h)
{
  int64_t deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (head (net, i) < h && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (head (net, i) < h)
    g_error ("node %d: height %" G_GUINT64_FORMAT " not reached in 30 s", i, h);
}

/* Every node at n0's head (at least). */
static void
sync_all (Net *net)
{
  uint64_t h = head (net, 0);
  for (int i = 1; i < NODES; i++)
    wait_height (net, i, h);
}

/* Run the main loop for ms milliseconds. */
static void
spin (int ms)
{
  int64_t until = g_get_monotonic_time () + (int64_t)ms * 1000;
  while (g_get_monotonic_time () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

/* body is stolen. */
static CairnTx *
sign (Net *net, CairnKey *k, const char *type, json_t *body)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a
      = cairn_node_account_json (net->n[0].node, addr (k), &err);
  g_assert_no_error (err);
  g_assert_nonnull (body);
  CairnTx *tx = cairn_tx_sign (
      k, CHAIN, type, json_integer_value (json_object_get (a, "next_nonce")),
      body, &err);
  g_assert_no_error (err);
  json_decref (body);
  return tx;
}

/* Submit to n0, wait for the commit there; the committed tx JSON. */
static json_t *
run_tx (Net *net, CairnKey *k, const char *type, json_t *body)
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
  g_error ("%s %s not committed in 30 s", type, tx->bytes);
}

/* OK; the tx id (g_free). */
static char *
ok_tx (Net *net, CairnKey *k, const char *type, json_t *body)
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
bad_tx (Net *net, CairnKey *k, const char *type, json_t *body, const char *code,
        const char *words)
{
  g_autoptr (json_t) t = run_tx (net, k, type, body);
  const json_t *r = json_object_get (t, "result");
  if (json_is_true (json_object_get (r, "ok")))
    g_error ("%s succeeded; wanted %s (%s)", type, code, words);
  g_assert_cmpstr (json_string_value (json_object_get (r, "code")), ==, code);
  assert_contains (json_string_value (json_object_get (r, "error")), words);
}

/* Refused at admission by the handler's check(): 400 invalid_body. */
static void
refused_tx (Net *net, CairnKey *k, const char *type, json_t *body,
            const char *words)
{
  g_autoptr (CairnTx) tx = sign (net, k, type, body);
  http_refused (net, 0, "POST", "/v1/txs", tx->bytes, 400, "invalid_body",
                words);
}

/* ---- groups helpers ---------------------------------------------------- */

static json_t *
get_group (Net *net, int node, const char *gid)
{
  g_autofree char *path = g_strdup_printf ("/v1/groups/%s", gid);
  return http_json (net, node, "GET", path, NULL, 200);
}

static json_int_t
group_version (Net *net, const char *gid)
{
  g_autoptr (json_t) g = get_group (net, 0, gid);
  return json_integer_value (json_object_get (g, "version"));
}

/* The on-chain record of version v as node shows it, or NULL. */
static json_t *
version_rec (Net *net, int node, const char *gid, json_int_t v)
{
  g_autoptr (json_t) g = get_group (net, node, gid);
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get (g, "versions"), i, r)
  {
    if (json_integer_value (json_object_get (r, "version")) == v)
      return json_incref (r);
  }
  return NULL;
}

static gboolean
held (Net *net, int node, const char *gid, json_int_t v)
{
  g_autoptr (json_t) r = version_rec (net, node, gid, v);
  if (r == NULL)
    return FALSE;
  return json_is_true (json_object_get (r, "held"));
}

static void
wait_held (Net *net, int node, const char *gid, json_int_t v)
{
  int64_t deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!held (net, node, gid, v)) {
    if (g_get_monotonic_time () > deadline)
      g_error ("node %d does not hold group %s version %" JSON_INTEGER_FORMAT
               " after 20 s",
               node, gid, v);
    spin (50);
  }
}

/* A counter of node's /metrics (cairn_<name> N), or -1. */
static int64_t
metric (Net *net, int node, const char *name)
{
  g_autoptr (GString) out = g_string_new (NULL);
  cairn_node_metrics (net->n[node].node, out);
  g_autofree char *prefix = g_strdup_printf ("\ncairn_%s ", name);
  const char *p = strstr (out->str, prefix);
  return p ? g_ascii_strtoll (p + strlen (prefix), NULL, 10) : -1;
}

static json_t *
node_info (Net *net, int node)
{
  return http_json (net, node, "GET", "/v1/groups/node", NULL, 200);
}

/* The ids of the groups ?member=a lists on node. */
static GPtrArray *
groups_of (Net *net, int node, const char *a)
{
  g_autofree char *path = g_strdup_printf ("/v1/groups/?member=%s", a);
  g_autoptr (json_t) j = http_json (net, node, "GET", path, NULL, 200);
  g_assert_cmpstr (json_string_value (json_object_get (j, "member")), ==, a);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  size_t i;
  json_t *g;
  json_array_foreach (json_object_get (j, "groups"), i, g)
  {
    g_ptr_array_add (ids,
                     g_strdup (json_string_value (json_object_get (g, "id"))));
  }
  return ids;
}

static gboolean
lists (Net *net, int node, const char *a, const char *gid)
{
  g_autoptr (GPtrArray) ids = groups_of (net, node, a);
  for (guint i = 0; i < ids->len; i++)
    if (strcmp (ids->pdata[i], gid) == 0)
      return TRUE;
  return FALSE;
}

/* hex SHA-256 ("cairn.groups.id\0" || raw tx id), computed here. */
static char *
expected_group_id (const char *tx_id)
{
  uint8_t buf[sizeof ID_DOMAIN + 32], d[32];
  memcpy (buf, ID_DOMAIN, sizeof ID_DOMAIN);
  g_assert_true (cairn_hex_decode (tx_id, buf + sizeof ID_DOMAIN, 32));
  cairn_sha256 (buf, sizeof buf, d);
  return cairn_hex_encode (d, 32);
}

/* Sorted JSON array of node addresses (the set given by idx, -1 ends). */
static json_t *
sorted_addrs (Net *net, const int *idx)
{
  g_autoptr (GPtrArray) a = g_ptr_array_new ();
  for (int i = 0; idx[i] >= 0; i++)
    g_ptr_array_add (a, (gpointer)naddr (net, idx[i]));
  g_ptr_array_sort (a, cmp_str);
  json_t *out = json_array ();
  for (guint i = 0; i < a->len; i++)
    json_array_append_new (out, json_string (a->pdata[i]));
  return out;
}

/* Seal plain for the nodes in idx (-1 ends) with their registered keys
 * (GET /v1/groups/keys/{addr}), like the CLI does. */
static GrpEnvelope *
seal (Net *net, const char *gid, uint64_t version, const int *idx,
      const char *plain)
{
  GrpRecipient r[NODES];
  size_t n = 0;
  for (; idx[n] >= 0; n++) {
    g_autofree char *path
        = g_strdup_printf ("/v1/groups/keys/%s", naddr (net, idx[n]));
    g_autoptr (json_t) k = http_json (net, 0, "GET", path, NULL, 200);
    g_strlcpy (r[n].addr, naddr (net, idx[n]), sizeof r[n].addr);
    g_assert_true (cairn_hex_decode (
        json_string_value (json_object_get (k, "x25519")), r[n].pk, 32));
  }
  g_autoptr (GError) err = NULL;
  GrpEnvelope *env = grp_seal (gid, version, r, n, plain, strlen (plain), &err);
  g_assert_no_error (err);
  return env;
}

/* The publish/update body of env (recipients given, stolen; NULL: the
 * envelope's own). */
static json_t *
version_body (const GrpEnvelope *env, json_int_t size, json_t *recipients)
{
  char c[65], kh[65];
  grp_hex (env->commitment, 32, c);
  grp_hex (env->keys_hash, 32, kh);
  if (recipients == NULL) {
    recipients = json_array ();
    for (size_t i = 0; i < env->n_recipients; i++)
      json_array_append_new (recipients, json_string (env->recipients[i].addr));
  }
  return json_pack ("{s:s,s:I,s:s,s:s,s:I,s:o}", "group", env->group, "version",
                    (json_int_t)env->version, "commitment", c, "keys_hash", kh,
                    "size", size, "recipients", recipients);
}

static char *
envelope_body (GBytes *bytes)
{
  g_autofree char *b64 = g_base64_encode (g_bytes_get_data (bytes, NULL),
                                          g_bytes_get_size (bytes));
  g_autoptr (json_t) j = json_pack ("{s:s}", "envelope", b64);
  return json_dumps (j, JSON_COMPACT);
}

static char *
envelopes_path (const char *gid)
{
  return g_strdup_printf ("/v1/groups/%s/envelopes", gid);
}

/* A signed read of version v for reader, signed by signer at now +
 * skew_ms; bad_sig flips a bit of the signature. */
static char *
read_path (const char *gid, json_int_t v, const char *reader, CairnKey *signer,
           int64_t skew_ms, gboolean bad_sig)
{
  json_int_t ts = g_get_real_time () / 1000 + skew_ms;
  g_autoptr (json_t) m = json_pack ("{s:s,s:s,s:I,s:I}", "group", gid, "reader",
                                    reader, "timestamp", ts, "version", v);
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (m, &len, NULL);
  uint8_t sig[64];
  cairn_key_sign (signer, READ_DOMAIN, msg, len, sig);
  if (bad_sig)
    sig[7] ^= 0x10;
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (signer), 32);
  g_autofree char *sh = cairn_hex_encode (sig, 64);
  return g_strdup_printf ("/v1/groups/%s/activities/%" JSON_INTEGER_FORMAT
                          "?reader=%s&pubkey=%s&timestamp=%" JSON_INTEGER_FORMAT
                          "&sig=%s",
                          gid, v, reader, pk, ts, sh);
}

/* Node `node` serves version v to node `reader` (signed by its key); the
 * envelope is decrypted with reader's enc key and must be want. */
static void
read_ok (Net *net, int node, int reader, const char *gid, json_int_t v,
         const char *want)
{
  g_autofree char *path
      = read_path (gid, v, naddr (net, reader), net->n[reader].key, 0, FALSE);
  g_autoptr (json_t) j = http_json (net, node, "GET", path, NULL, 200);
  g_assert_cmpstr (json_string_value (json_object_get (j, "group")), ==, gid);
  g_assert_cmpint (json_integer_value (json_object_get (j, "version")), ==, v);
  g_assert_cmpint (json_integer_value (json_object_get (j, "size")), ==,
                   (json_int_t)strlen (want));
  gsize n;
  guchar *raw = g_base64_decode (
      json_string_value (json_object_get (j, "envelope")), &n);
  g_autoptr (GBytes) bytes = g_bytes_new_take (raw, n);
  g_autoptr (GError) err = NULL;
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (bytes, &err);
  g_assert_no_error (err);
  char c[65];
  grp_hex (env->commitment, 32, c);
  g_assert_cmpstr (c, ==,
                   json_string_value (json_object_get (j, "commitment")));
  g_autoptr (GBytes) plain
      = grp_open (env, naddr (net, reader), net->n[reader].enc, &err);
  g_assert_no_error (err);
  g_assert_cmpmem (g_bytes_get_data (plain, NULL), g_bytes_get_size (plain),
                   want, strlen (want));
}

/* groups.received events seen on n1 (in-process subscription). */
static void
on_received (const CairnEvent *ev, void *user_data)
{
  g_ptr_array_add (user_data, json_deep_copy (ev->attrs));
}

/* ---- the flow ---------------------------------------------------------- */

typedef struct {
  Net net;
  char *gid;
  GPtrArray *received; /* attrs of groups.received on n1 */
  guint sub;
  GrpEnvelope *v1;
} Flow;

static const char *const V1 = "{\"order\":\"4711\",\"item\":\"steel coil\","
                              "\"qty\":20,\"price\":\"confidential\"}";
static const char *const V2
    = "{\"order\":\"4711\",\"item\":\"steel coil\",\"qty\":25}";
static const char *const V3 = "{\"order\":\"4711\",\"status\":\"shipped\"}";

/* Every node registers its encryption key by itself (auto_register, signed
 * with the node key through the host's submit_tx). */
static void
flow_registration (Flow *f)
{
  Net *net = &f->net;
  int64_t deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  for (int i = 0; i < NODES; i++) {
    for (;;) {
      g_autoptr (json_t) j = node_info (net, i);
      if (json_is_true (json_object_get (j, "registered")))
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("node %d did not register its key in 30 s", i);
      spin (50);
    }
  }
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    Node *nd = &net->n[i];
    g_autoptr (json_t) info = node_info (net, i);
    g_assert_cmpstr (json_string_value (json_object_get (info, "address")), ==,
                     naddr (net, i));
    /* The key file is the one registered, on every node's view. */
    g_autoptr (GError) err = NULL;
    g_autofree char *enc_path
        = g_build_filename (nd->home, "data", "groups", "enc.pem", NULL);
    g_assert_true (grp_key_load (enc_path, nd->enc, &err));
    g_assert_no_error (err);
    uint8_t pub[32];
    g_assert_true (grp_key_public (nd->enc, pub, &err));
    g_autofree char *pub_hex = cairn_hex_encode (pub, 32);
    g_assert_cmpstr (json_string_value (json_object_get (info, "x25519")), ==,
                     pub_hex);
    g_autofree char *kp
        = g_strdup_printf ("/v1/groups/keys/%s", naddr (net, i));
    for (int j = 0; j < NODES; j++) {
      g_autoptr (json_t) k = http_json (net, j, "GET", kp, NULL, 200);
      g_assert_cmpstr (json_string_value (json_object_get (k, "x25519")), ==,
                       pub_hex);
    }
  }
  g_autofree char *op
      = g_strdup_printf ("/v1/groups/keys/%s", addr (net->outsider));
  http_refused (net, 0, "GET", op, NULL, 404, "not_found",
                "no registered group encryption key");
  http_refused (net, 0, "GET", "/v1/groups/keys/nope", NULL, 400, "invalid",
                "not an address");
  /* A second registration (another key) is refused: no rotation yet. */
  g_autofree char *other = g_strnfill (64, '1');
  bad_tx (net, net->n[1].key, "groups.register_key",
          json_pack ("{s:s}", "x25519", other), "conflict",
          "rotation is not supported");
  refused_tx (net, net->outsider, "groups.register_key",
              json_pack ("{s:s}", "x25519", "00"), "x25519");
}

static json_t *
create_body (const char *activity, json_t *receivers, const char *regulator)
{
  return json_pack ("{s:s,s:o,s:s}", "activity", activity, "receivers",
                    receivers, "regulator", regulator);
}

static void
flow_create (Flow *f)
{
  Net *net = &f->net;
  const char *n1 = naddr (net, 1), *n2 = naddr (net, 2), *n3 = naddr (net, 3);
  const char *out = addr (net->outsider);

  /* Refusals: each leaves no group behind. */
  bad_tx (net, net->n[0].key, "groups.create",
          create_body ("trade.order", json_pack ("[s]", n3), n1),
          "unauthorized", "does not hold the regulator role");
  bad_tx (net, net->n[0].key, "groups.create",
          create_body ("trade.order", json_pack ("[s]", out), n2), "invalid",
          "no registered encryption key");
  bad_tx (net, net->n[0].key, "groups.create",
          create_body ("trade.order", json_pack ("[s,s]", n1, n1), n2),
          "invalid", "listed twice");
  bad_tx (net, net->n[0].key, "groups.create",
          create_body ("trade.order", json_pack ("[s]", n2), n2), "invalid",
          "listed twice");
  bad_tx (net, net->n[0].key, "groups.create",
          create_body ("trade.order", json_pack ("[s]", naddr (net, 0)), n2),
          "invalid", "listed twice");
  bad_tx (net, net->n[2].key, "groups.create",
          create_body ("trade.order", json_pack ("[s]", n1), n2), "invalid",
          "regulator cannot be the initiator");
  g_autofree char *r1 = g_strnfill (40, 'a'), *r2 = g_strnfill (40, 'b');
  bad_tx (
      net, net->n[0].key, "groups.create",
      create_body ("trade.order", json_pack ("[s,s,s,s]", n1, n3, r1, r2), n2),
      "invalid", "6 members exceed max_members 4");
  refused_tx (net, net->n[0].key, "groups.create",
              create_body ("Trade Order", json_pack ("[s]", n1), n2),
              "activity must be");
  refused_tx (net, net->n[0].key, "groups.create",
              create_body ("", json_pack ("[s]", n1), n2), "activity must be");
  refused_tx (net, net->n[0].key, "groups.create",
              json_pack ("{s:s,s:[s],s:s,s:i}", "activity", "trade.order",
                         "receivers", n1, "regulator", n2, "extra", 1),
              "extra");
  refused_tx (
      net, net->n[0].key, "groups.create",
      json_pack ("{s:s,s:[s]}", "activity", "trade.order", "receivers", n1),
      "regulator");
  refused_tx (net, net->n[0].key, "groups.create",
              create_body ("trade.order", json_array (), n2), "receivers");
  refused_tx (net, net->n[0].key, "groups.create",
              create_body ("trade.order", json_pack ("[s]", "ABC"), n2),
              "not an address");
  {
    g_autoptr (GPtrArray) none = groups_of (net, 0, naddr (net, 0));
    g_assert_cmpuint (none->len, ==, 0);
  }
  http_refused (net, 0, "GET", "/v1/groups/?member=xyz", NULL, 400, "invalid",
                "member=ADDR");

  /* The group: n0 initiates, n1 receives, n2 regulates. */
  g_autofree char *tx
      = ok_tx (net, net->n[0].key, "groups.create",
               create_body ("trade.order", json_pack ("[s]", n1), n2));
  g_autofree char *want_id = expected_group_id (tx);
  sync_all (net);
  g_autoptr (GPtrArray) ids = groups_of (net, 0, naddr (net, 0));
  g_assert_cmpuint (ids->len, ==, 1);
  f->gid = g_strdup (ids->pdata[0]);
  g_assert_cmpstr (f->gid, ==, want_id);
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) g = get_group (net, i, f->gid);
    g_assert_cmpstr (json_string_value (json_object_get (g, "id")), ==,
                     want_id);
    g_assert_cmpstr (json_string_value (json_object_get (g, "activity")), ==,
                     "trade.order");
    g_assert_cmpstr (json_string_value (json_object_get (g, "initiator")), ==,
                     naddr (net, 0));
    g_assert_cmpstr (json_string_value (json_object_get (g, "regulator")), ==,
                     n2);
    g_assert_cmpint (json_integer_value (json_object_get (g, "version")), ==,
                     0);
    g_assert_false (json_is_true (json_object_get (g, "closed")));
    g_assert_cmpstr (json_string_value (json_object_get (g, "tx")), ==, tx);
    const json_t *m = json_object_get (g, "members");
    g_assert_cmpuint (json_object_size (m), ==, 3);
    g_assert_cmpstr (json_string_value (json_object_get (m, naddr (net, 0))),
                     ==, "initiator");
    g_assert_cmpstr (json_string_value (json_object_get (m, n1)), ==,
                     "receiver");
    g_assert_cmpstr (json_string_value (json_object_get (m, n2)), ==,
                     "regulator");
    g_assert_cmpuint (json_array_size (json_object_get (g, "versions")), ==, 0);
    g_assert_true (json_is_boolean (json_object_get (g, "node_is_member")));
    g_assert_cmpint (json_is_true (json_object_get (g, "node_is_member")), ==,
                     i < 3);
    g_assert_true (lists (net, i, n1, f->gid));
    g_assert_true (lists (net, i, n2, f->gid));
    g_assert_false (lists (net, i, n3, f->gid));
  }
  g_autofree char *unknown = g_strnfill (64, 'e');
  g_autofree char *up = g_strdup_printf ("/v1/groups/%s", unknown);
  http_refused (net, 0, "GET", up, NULL, 404, "not_found", "unknown group");
}

/* The first version: refusals before it, sealing, upload to n0, pushes to
 * n1 and n2, signed reads. */
static void
flow_publish (Flow *f)
{
  Net *net = &f->net;
  static const int members[] = { 0, 1, 2, -1 };
  f->v1 = seal (net, f->gid, 1, members, V1);
  json_int_t len = (json_int_t)strlen (V1);

  /* Before publish: an update, a publish by a receiver; and an upload of
   * an envelope whose version is not on chain. */
  g_autoptr (GrpEnvelope) early = seal (net, f->gid, 1, members, V1);
  bad_tx (net, net->n[1].key, "groups.update", version_body (early, len, NULL),
          "conflict", "has no version yet");
  bad_tx (net, net->n[1].key, "groups.publish", version_body (early, len, NULL),
          "unauthorized", "only the initiator");
  g_autofree char *epath = envelopes_path (f->gid);
  g_autofree char *ebody = envelope_body (f->v1->bytes);
  http_refused (net, 0, "POST", epath, ebody, 404, "not_found",
                "is not on chain");
  g_assert_cmpint (group_version (net, f->gid), ==, 0);

  f->received = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  f->sub = cairn_node_subscribe (net->n[1].node, "groups.received", on_received,
                                 f->received);
  g_autofree char *tx = ok_tx (net, net->n[0].key, "groups.publish",
                               version_body (f->v1, len, NULL));
  g_autoptr (json_t) up = http_json (net, 0, "POST", epath, ebody, 200);
  g_assert_true (json_is_true (json_object_get (up, "stored")));
  g_autoptr (json_t) sent_to = sorted_addrs (net, (const int[]){ 1, 2, -1 });
  g_assert_true (json_equal (json_object_get (up, "sent_to"), sent_to));
  char c[65], kh[65];
  grp_hex (f->v1->commitment, 32, c);
  grp_hex (f->v1->keys_hash, 32, kh);
  g_assert_cmpstr (json_string_value (json_object_get (up, "commitment")), ==,
                   c);

  /* n1 and n2 get it by direct push; n3 (not a member) never does. */
  for (int i = 0; i < 3; i++)
    wait_held (net, i, f->gid, 1);
  sync_all (net);
  g_autoptr (json_t) want_keys = json_object ();
  for (int i = 0; i < 3; i++) {
    char pk[65];
    grp_hex (f->v1->recipients[i].pk, 32, pk);
    json_object_set_new (want_keys, f->v1->recipients[i].addr,
                         json_string (pk));
  }
  g_autoptr (json_t) recipients = sorted_addrs (net, members);
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) r = version_rec (net, i, f->gid, 1);
    g_assert_nonnull (r);
    g_assert_cmpstr (json_string_value (json_object_get (r, "commitment")), ==,
                     c);
    g_assert_cmpstr (json_string_value (json_object_get (r, "keys_hash")), ==,
                     kh);
    g_assert_cmpint (json_integer_value (json_object_get (r, "size")), ==, len);
    g_assert_cmpstr (json_string_value (json_object_get (r, "publisher")), ==,
                     naddr (net, 0));
    g_assert_cmpstr (json_string_value (json_object_get (r, "tx")), ==, tx);
    g_assert_true (json_equal (json_object_get (r, "recipients"), recipients));
    g_assert_true (json_equal (json_object_get (r, "keys"), want_keys));
    g_assert_cmpint (json_is_true (json_object_get (r, "held")), ==, i < 3);
  }
  g_assert_false (held (net, 3, f->gid, 1));

  /* The local event on n1: v1 stored, from n0's push. */
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (f->received->len == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f->received->len, ==, 1);
  const json_t *ev = f->received->pdata[0];
  g_assert_cmpstr (json_string_value (json_object_get (ev, "group")), ==,
                   f->gid);
  g_assert_cmpint (json_integer_value (json_object_get (ev, "version")), ==, 1);
  g_assert_cmpstr (json_string_value (json_object_get (ev, "commitment")), ==,
                   c);
  g_assert_cmpint (json_integer_value (json_object_get (ev, "size")), ==, len);
  g_assert_cmpstr (json_string_value (json_object_get (ev, "from")), ==,
                   naddr (net, 0));
  g_assert_true (json_is_true (json_object_get (ev, "readable")));

  /* Reads: each member from its own node, decrypted with its own key; n1
   * also from n0. */
  read_ok (net, 1, 1, f->gid, 1, V1);
  read_ok (net, 0, 1, f->gid, 1, V1);
  read_ok (net, 2, 2, f->gid, 1, V1);
  read_ok (net, 0, 0, f->gid, 1, V1);

  /* Refused reads: 403 each. */
  const char *n1 = naddr (net, 1);
  g_autofree char *p_out
      = read_path (f->gid, 1, addr (net->outsider), net->outsider, 0, FALSE);
  http_refused (net, 1, "GET", p_out, NULL, 403, "not_a_member",
                "is not a recipient");
  g_autofree char *p_stale
      = read_path (f->gid, 1, n1, net->n[1].key, -3600 * 1000, FALSE);
  http_refused (net, 1, "GET", p_stale, NULL, 403, "stale_request",
                "sign a fresh request");
  g_autofree char *p_future
      = read_path (f->gid, 1, n1, net->n[1].key, 3600 * 1000, FALSE);
  http_refused (net, 1, "GET", p_future, NULL, 403, "stale_request", NULL);
  g_autofree char *p_bad = read_path (f->gid, 1, n1, net->n[1].key, 0, TRUE);
  http_refused (net, 1, "GET", p_bad, NULL, 403, "bad_signature",
                "does not match");
  /* Signed by another member's key on n1's behalf. */
  g_autofree char *p_other = read_path (f->gid, 1, n1, net->n[2].key, 0, FALSE);
  http_refused (net, 1, "GET", p_other, NULL, 403, "bad_signature",
                "is the key of");
  g_autofree char *p_none
      = g_strdup_printf ("/v1/groups/%s/activities/1", f->gid);
  http_refused (net, 1, "GET", p_none, NULL, 403, "unauthorized", READ_DOMAIN);
  /* The signature covers the version: v1's signature does not read v2. */
  g_autofree char *p_v = read_path (f->gid, 1, n1, net->n[1].key, 0, FALSE);
  char *a = strstr (p_v, "/activities/1?");
  g_assert_nonnull (a);
  a[strlen ("/activities/")] = '2';
  http_refused (net, 1, "GET", p_v, NULL, 403, "bad_signature", NULL);
  /* A node that is not a recipient serves nothing, even to a member. */
  g_autofree char *p_n3 = read_path (f->gid, 1, n1, net->n[1].key, 0, FALSE);
  http_refused (net, 3, "GET", p_n3, NULL, 403, "not_a_member", "this node");
  http_refused (net, 3, "POST", epath, ebody, 403, "unauthorized",
                "not a recipient");
  g_assert_false (held (net, 3, f->gid, 1));
  /* A version that does not exist. */
  g_autofree char *p_v9 = read_path (f->gid, 9, n1, net->n[1].key, 0, FALSE);
  http_refused (net, 1, "GET", p_v9, NULL, 404, "not_found", "no version 9");
}

/* Refusals of publish/update, each leaving the group at version 1. */
static void
flow_version_refusals (Flow *f)
{
  Net *net = &f->net;
  static const int members[] = { 0, 1, 2, -1 };
  const char *n0 = naddr (net, 0), *n1 = naddr (net, 1), *n2 = naddr (net, 2);
  g_autoptr (GrpEnvelope) v2 = seal (net, f->gid, 2, members, V2);
  json_int_t len = (json_int_t)strlen (V2);
  g_autoptr (json_t) recipients = sorted_addrs (net, members);

  /* Unknown group. */
  json_t *b = version_body (v2, len, NULL);
  g_autofree char *unknown = g_strnfill (64, 'e');
  json_object_set_new (b, "group", json_string (unknown));
  bad_tx (net, net->n[0].key, "groups.update", b, "not_found", "unknown group");
  /* Sent by a non-member. */
  bad_tx (net, net->outsider, "groups.update", version_body (v2, len, NULL),
          "unauthorized", "is not a member");
  bad_tx (net, net->n[3].key, "groups.update", version_body (v2, len, NULL),
          "unauthorized", "is not a member");
  /* Publish twice. */
  bad_tx (net, net->n[0].key, "groups.publish",
          version_body (f->v1, (json_int_t)strlen (V1), NULL), "conflict",
          "already published");
  /* Wrong version order: 3 at version 1, and 1 again. */
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "version", json_integer (3));
  bad_tx (net, net->n[1].key, "groups.update", b, "conflict",
          "wrong version order");
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "version", json_integer (1));
  bad_tx (net, net->n[1].key, "groups.update", b, "conflict",
          "wrong version order");
  /* Over max_payload_bytes. */
  bad_tx (net, net->n[1].key, "groups.update", version_body (v2, 5000, NULL),
          "invalid", "exceeds max_payload_bytes 4096");
  /* Recipients: a member missing, a registered non-member, an unregistered
   * non-member. */
  bad_tx (net, net->n[1].key, "groups.update",
          version_body (v2, len, sorted_addrs (net, (const int[]){ 0, 1, -1 })),
          "invalid", "is missing from recipients");
  bad_tx (net, net->n[1].key, "groups.update",
          version_body (v2, len,
                        sorted_addrs (net, (const int[]){ 0, 1, 2, 3, -1 })),
          "invalid", "not a member");
  g_autoptr (GPtrArray) with_out = g_ptr_array_new ();
  g_ptr_array_add (with_out, (gpointer)n0);
  g_ptr_array_add (with_out, (gpointer)n1);
  g_ptr_array_add (with_out, (gpointer)n2);
  g_ptr_array_add (with_out, (gpointer)addr (net->outsider));
  g_ptr_array_sort (with_out, cmp_str);
  json_t *wo = json_array ();
  for (guint i = 0; i < with_out->len; i++)
    json_array_append_new (wo, json_string (with_out->pdata[i]));
  bad_tx (net, net->n[1].key, "groups.update", version_body (v2, len, wo),
          "invalid", "no registered encryption key");
  /* At admission: unsorted and duplicate recipients, bad fields. */
  json_t *unsorted = json_array ();
  for (size_t i = json_array_size (recipients); i > 0; i--)
    json_array_append (unsorted, json_array_get (recipients, i - 1));
  refused_tx (net, net->n[1].key, "groups.update",
              version_body (v2, len, unsorted), "sorted and unique");
  refused_tx (net, net->n[1].key, "groups.update",
              version_body (v2, len, json_pack ("[s,s]", n1, n1)),
              "sorted and unique");
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "version", json_integer (0));
  refused_tx (net, net->n[1].key, "groups.update", b, "version must be");
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "commitment", json_string ("abc"));
  refused_tx (net, net->n[1].key, "groups.update", b, "SHA-256");
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "size", json_integer (-1));
  refused_tx (net, net->n[1].key, "groups.update", b, "outside");
  b = version_body (v2, len, NULL);
  json_object_set_new (b, "note", json_string ("x"));
  refused_tx (net, net->n[1].key, "groups.update", b, "note");

  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) g = get_group (net, i, f->gid);
    g_assert_cmpint (json_integer_value (json_object_get (g, "version")), ==,
                     1);
    g_assert_cmpuint (json_array_size (json_object_get (g, "versions")), ==, 1);
  }
}

/* v2 by a receiver (n1): a tampered upload is refused and not stored; the
 * genuine one is stored and pushed. */
static void
flow_tamper (Flow *f)
{
  Net *net = &f->net;
  static const int members[] = { 0, 1, 2, -1 };
  g_autoptr (GrpEnvelope) v2 = seal (net, f->gid, 2, members, V2);
  g_free (ok_tx (net, net->n[1].key, "groups.update",
                 version_body (v2, (json_int_t)strlen (V2), NULL)));
  g_autofree char *epath = envelopes_path (f->gid);
  gsize n;
  const uint8_t *p = g_bytes_get_data (v2->bytes, &n);

  /* One ciphertext byte flipped. */
  uint8_t *bad = g_memdup2 (p, n);
  bad[v2->cipher_offset + 3] ^= 0x01;
  g_autoptr (GBytes) badb = g_bytes_new_take (bad, n);
  g_autofree char *bbody = envelope_body (badb);
  http_refused (net, 0, "POST", epath, bbody, 400, "invalid",
                "does not match the on-chain commitment");
  /* The tag flipped (the last byte). */
  uint8_t *badt = g_memdup2 (p, n);
  badt[n - 1] ^= 0x80;
  g_autoptr (GBytes) badtb = g_bytes_new_take (badt, n);
  g_autofree char *tbody = envelope_body (badtb);
  http_refused (net, 0, "POST", epath, tbody, 400, "invalid",
                "does not match the on-chain commitment");
  /* Another envelope of the same version (same plaintext, other keys). */
  g_autoptr (GrpEnvelope) other = seal (net, f->gid, 2, members, V2);
  g_autofree char *obody = envelope_body (other->bytes);
  http_refused (net, 0, "POST", epath, obody, 400, "invalid",
                "does not match the on-chain commitment");
  /* Garbage, and an envelope for another group id in the path. */
  http_refused (net, 0, "POST", epath, "{\"envelope\":\"QUJD\"}", 400,
                "invalid", "envelope");
  http_refused (net, 0, "POST", epath, "{\"envelope\":\"**\"}", 400, "invalid",
                "base64");
  g_autofree char *unknown = g_strnfill (64, 'e');
  g_autofree char *upath = envelopes_path (unknown);
  g_autofree char *gbody = envelope_body (v2->bytes);
  http_refused (net, 0, "POST", upath, gbody, 400, "invalid", "is for group");
  spin (300);
  for (int i = 0; i < NODES; i++)
    g_assert_false (held (net, i, f->gid, 2));
  g_autoptr (json_t) info = node_info (net, 0);
  g_assert_cmpint (json_integer_value (json_object_get (info, "stored")), ==,
                   1);

  /* The genuine one, uploaded to the publisher's node n1: it pushes to n0
   * directly and to n2, which it has no link to, through n0 (a relay that
   * sees only ciphertext). */
  g_autoptr (json_t) r0 = node_info (net, 0);
  json_int_t relayed0 = json_integer_value (json_object_get (r0, "relayed"));
  g_autoptr (json_t) up = http_json (net, 1, "POST", epath, gbody, 200);
  g_assert_true (json_is_true (json_object_get (up, "stored")));
  g_autoptr (json_t) sent_to = sorted_addrs (net, (const int[]){ 0, 2, -1 });
  g_assert_true (json_equal (json_object_get (up, "sent_to"), sent_to));
  for (int i = 0; i < 3; i++)
    wait_held (net, i, f->gid, 2);
  g_assert_false (held (net, 3, f->gid, 2));
  g_autoptr (json_t) r1 = node_info (net, 0);
  g_assert_cmpint (json_integer_value (json_object_get (r1, "relayed")), >,
                   relayed0);
  read_ok (net, 1, 1, f->gid, 2, V2);
  read_ok (net, 2, 2, f->gid, 2, V2);
  read_ok (net, 0, 0, f->gid, 2, V2);
  /* Uploading it again is harmless. */
  json_decref (http_json (net, 0, "POST", epath, gbody, 200));
  int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (f->received->len < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f->received->len, ==, 2);
  g_assert_cmpint (
      json_integer_value (json_object_get (f->received->pdata[1], "version")),
      ==, 2);
}

/* add/remove/close: only the initiator changes members; n3 joins, n1 is
 * removed and gets nothing of v3; the regulator closes. */
static void
flow_members (Flow *f)
{
  Net *net = &f->net;
  const char *n1 = naddr (net, 1), *n2 = naddr (net, 2), *n3 = naddr (net, 3);
  const char *out = addr (net->outsider);
  json_t *b;
#define MEMBER(who) json_pack ("{s:s,s:s}", "group", f->gid, "member", (who))

  bad_tx (net, net->n[1].key, "groups.add_member", MEMBER (n3), "unauthorized",
          "only the initiator");
  bad_tx (net, net->n[0].key, "groups.add_member", MEMBER (out), "invalid",
          "no registered encryption key");
  bad_tx (net, net->n[0].key, "groups.add_member", MEMBER (n1), "conflict",
          "already a member");
  refused_tx (net, net->n[0].key, "groups.add_member", MEMBER ("n3"),
              "not an address");
  refused_tx (net, net->n[0].key, "groups.add_member",
              json_pack ("{s:s}", "group", f->gid), "member");
  b = MEMBER (n3);
  json_object_set_new (b, "group", json_string ("xyz"));
  refused_tx (net, net->n[0].key, "groups.add_member", b, "group id");
  g_autoptr (json_t) g0 = get_group (net, 0, f->gid);
  g_assert_cmpuint (json_object_size (json_object_get (g0, "members")), ==, 3);
  g_assert_cmpint (json_integer_value (json_object_get (g0, "epoch")), ==, 0);

  g_free (ok_tx (net, net->n[0].key, "groups.add_member", MEMBER (n3)));
  /* Full at max_members 4 (checked before the key). */
  bad_tx (net, net->n[0].key, "groups.add_member", MEMBER (out), "invalid",
          "is full (max_members 4)");

  bad_tx (net, net->n[0].key, "groups.remove_member", MEMBER (n2), "invalid",
          "only receivers can be removed");
  bad_tx (net, net->n[0].key, "groups.remove_member", MEMBER (naddr (net, 0)),
          "invalid", "only receivers can be removed");
  bad_tx (net, net->n[2].key, "groups.remove_member", MEMBER (n1),
          "unauthorized", "only the initiator");
  g_free (ok_tx (net, net->n[0].key, "groups.remove_member", MEMBER (n1)));
  bad_tx (net, net->n[0].key, "groups.remove_member", MEMBER (n3), "invalid",
          "last receiver");
  bad_tx (net, net->n[0].key, "groups.remove_member", MEMBER (n1), "not_found",
          "is not a member");
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) g = get_group (net, i, f->gid);
    const json_t *m = json_object_get (g, "members");
    g_assert_cmpuint (json_object_size (m), ==, 3);
    g_assert_null (json_object_get (m, n1));
    g_assert_cmpstr (json_string_value (json_object_get (m, n3)), ==,
                     "receiver");
    g_assert_cmpint (json_integer_value (json_object_get (g, "epoch")), ==, 2);
    g_assert_cmpint (json_integer_value (json_object_get (g, "version")), ==,
                     2);
    g_assert_false (lists (net, i, n1, f->gid));
    g_assert_true (lists (net, i, n3, f->gid));
  }

  /* v3 for the new members: n1 is neither a sender nor a recipient. */
  static const int now_members[] = { 0, 2, 3, -1 };
  static const int old_members[] = { 0, 1, 2, 3, -1 };
  g_autoptr (GrpEnvelope) v3 = seal (net, f->gid, 3, now_members, V3);
  json_int_t len = (json_int_t)strlen (V3);
  bad_tx (net, net->n[0].key, "groups.update",
          version_body (v3, len, sorted_addrs (net, old_members)), "invalid",
          "not a member");
  bad_tx (net, net->n[1].key, "groups.update", version_body (v3, len, NULL),
          "unauthorized", "is not a member");
  g_autoptr (GrpEnvelope) v3old = seal (net, f->gid, 3, old_members, V3);
  g_free (ok_tx (net, net->n[3].key, "groups.update",
                 version_body (v3, len, NULL)));
  g_autofree char *epath = envelopes_path (f->gid);
  /* An envelope of v3 that still wraps for n1 does not match the chain. */
  g_autofree char *obody = envelope_body (v3old->bytes);
  http_refused (net, 0, "POST", epath, obody, 400, "invalid",
                "does not match the on-chain commitment");
  /* n1's node is not a recipient of v3: it takes no upload. */
  g_autofree char *body = envelope_body (v3->bytes);
  sync_all (net);
  http_refused (net, 1, "POST", epath, body, 403, "unauthorized",
                "not a recipient");
  /* n3 is down when v3 is uploaded: after its restart it asks the other
   * recipients for the version it lacks. */
  g_clear_pointer (&net->n[3].node, cairn_node_free);
  g_autoptr (json_t) up = http_json (net, 0, "POST", epath, body, 200);
  g_autoptr (json_t) sent_to = sorted_addrs (net, (const int[]){ 2, 3, -1 });
  g_assert_true (json_equal (json_object_get (up, "sent_to"), sent_to));
  wait_held (net, 2, f->gid, 3);
  spin (300);
  node_start (&net->n[3]);
  g_assert_cmpint (metric (net, 3, "groups_stored_total"), ==, 0);
  wait_held (net, 3, f->gid, 3);
  g_assert_cmpint (metric (net, 3, "groups_stored_total"), ==, 1);
  g_assert_cmpint (metric (net, 3, "groups_wants_total"), >=, 1);
  g_assert_true (held (net, 0, f->gid, 3));
  read_ok (net, 3, 3, f->gid, 3, V3);
  read_ok (net, 2, 2, f->gid, 3, V3);
  /* n3 joined after v1 and v2: it holds neither and may read neither. */
  g_assert_false (held (net, 3, f->gid, 1));
  g_assert_false (held (net, 3, f->gid, 2));
  g_autofree char *p31 = read_path (f->gid, 1, n3, net->n[3].key, 0, FALSE);
  http_refused (net, 0, "GET", p31, NULL, 403, "not_a_member",
                "is not a recipient");

  /* Several sync intervals later, n1 still does not hold v3. */
  spin (1000);
  g_assert_false (held (net, 1, f->gid, 3));
  g_autofree char *p13 = read_path (f->gid, 3, n1, net->n[1].key, 0, FALSE);
  http_refused (net, 0, "GET", p13, NULL, 403, "not_a_member",
                "is not a recipient");
  http_refused (net, 1, "GET", p13, NULL, 403, "not_a_member", NULL);
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) nope = grp_open (v3, n1, net->n[1].enc, &err);
  g_assert_null (nope);
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  /* n1 keeps what it was given. */
  read_ok (net, 1, 1, f->gid, 1, V1);
  read_ok (net, 1, 1, f->gid, 2, V2);
  g_assert_cmpuint (f->received->len, ==, 2);

  /* Close: not by a receiver or an ex-member; by the regulator. */
  bad_tx (net, net->n[3].key, "groups.close",
          json_pack ("{s:s}", "group", f->gid), "unauthorized",
          "only the initiator or the regulator");
  bad_tx (net, net->n[1].key, "groups.close",
          json_pack ("{s:s}", "group", f->gid), "unauthorized",
          "is not a member");
  refused_tx (net, net->n[2].key, "groups.close",
              json_pack ("{s:s}", "group", "nope"), "group id");
  g_free (ok_tx (net, net->n[2].key, "groups.close",
                 json_pack ("{s:s}", "group", f->gid)));
  g_autoptr (GrpEnvelope) v4 = seal (net, f->gid, 4, now_members, V3);
  bad_tx (net, net->n[0].key, "groups.update", version_body (v4, len, NULL),
          "conflict", "is closed");
  bad_tx (net, net->n[0].key, "groups.add_member", MEMBER (n1), "conflict",
          "is closed");
  bad_tx (net, net->n[0].key, "groups.remove_member", MEMBER (n3), "conflict",
          "is closed");
  bad_tx (net, net->n[2].key, "groups.close",
          json_pack ("{s:s}", "group", f->gid), "conflict", "is closed");
#undef MEMBER
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) g = get_group (net, i, f->gid);
    g_assert_true (json_is_true (json_object_get (g, "closed")));
    g_assert_cmpint (json_integer_value (json_object_get (g, "version")), ==,
                     3);
  }
  /* Closed groups still serve what was published. */
  read_ok (net, 0, 0, f->gid, 3, V3);
}

/* What each node stored, nothing missing; same state root everywhere. */
static void
flow_final (Flow *f)
{
  Net *net = &f->net;
  static const json_int_t want_stored[NODES] = { 3, 2, 3, 1 };
  for (int i = 0; i < NODES; i++) {
    int64_t deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    for (;;) {
      g_autoptr (json_t) info = node_info (net, i);
      if (json_array_size (json_object_get (info, "missing")) == 0)
        break;
      if (g_get_monotonic_time () > deadline) {
        g_autofree char *t = json_dumps (info, 0);
        g_error ("node %d still misses versions: %s", i, t);
      }
      spin (50);
    }
    g_autoptr (json_t) info = node_info (net, i);
    g_assert_cmpint (json_integer_value (json_object_get (info, "stored")), ==,
                     want_stored[i]);
    g_assert_cmpint (json_integer_value (json_object_get (info, "pending")), ==,
                     0);
  }
  g_autoptr (json_t) n0info = node_info (net, 0);
  g_assert_cmpint (json_integer_value (json_object_get (n0info, "rejected")),
                   >=, 4);

  uint64_t h = head (net, 0);
  sync_all (net);
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) b0 = cairn_node_block_json (net->n[0].node, h, &err);
  g_assert_no_error (err);
  const char *root0 = json_string_value (
      json_object_get (json_object_get (b0, "header"), "state_root"));
  g_assert_nonnull (root0);
  for (int i = 1; i < NODES; i++) {
    g_autoptr (json_t) bi = cairn_node_block_json (net->n[i].node, h, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (json_string_value (json_object_get (
                         json_object_get (bi, "header"), "state_root")),
                     ==, root0);
    g_assert_cmpstr (json_string_value (json_object_get (bi, "hash")), ==,
                     json_string_value (json_object_get (b0, "hash")));
  }
  g_test_message (
      "%d nodes agree on the state root %s at height %" G_GUINT64_FORMAT, NODES,
      root0, h);
}

static void
test_flow (void)
{
  Flow f = { 0 };
  int64_t t0 = g_get_monotonic_time ();
  net_up (&f.net);
  flow_registration (&f);
  flow_create (&f);
  flow_publish (&f);
  flow_version_refusals (&f);
  flow_tamper (&f);
  flow_members (&f);
  flow_final (&f);
  g_test_message ("flow took %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - t0) / 1000);
  cairn_node_unsubscribe (f.net.n[1].node, f.sub);
  g_ptr_array_unref (f.received);
  grp_envelope_free (f.v1);
  g_free (f.gid);
  net_down (&f.net);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  g_test_add_func ("/groups/flow", test_flow);
  int rc = g_test_run ();
  g_free (plugins_dir);
  return rc;
}

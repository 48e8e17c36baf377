/* The market plugin end to end, in one process.
 *
 * /market/platform: three app nodes (n0 a solo validator, n1 and n2
 * followers over TLS on loopback) with the real store-lmdb, solo, bank,
 * blob-fs and market plugins loaded from the build tree, driven over their
 * HTTP APIs with txs signed by the test's keys (the nodes' own keys read
 * from keys/node.pem). A simulated platform: 20 services (one package put
 * into n0's blob store), each served by 1-3 app nodes, 200 users, 8
 * developers, 10 epochs of seeded random usage reports and ratings (one
 * epoch without ratings, one built for ties). Blocks are made only when txs
 * arrive (solo's empty blocks are off), so the test controls every height:
 * each epoch's reports go in early and fillers then walk the chain to the
 * epoch's last block. After each epoch the app nodes send market.rank by
 * themselves; the first one wins (the producer), the others are refused.
 *
 * Checked: each epoch's ranking, usage and ratings entries on all three
 * nodes equal an independent implementation of README.md's formulas (the
 * hash over the canonical JSON of the test's own object); the rewards of
 * every epoch and every account's voucher balance match the schedule to the
 * unit; the minted supply never exceeds the cap, reaches it, and later
 * epochs mint nothing; the producer pool goes to the producer once; every
 * refusal of the bad-input list (with its message, and the state
 * unchanged); trades, orders, fills and cancels with their refusals
 * (amounts 0, -1, 2^63, the int64 maximum); equal state roots.
 *
 * /market/manual-rank: one node with auto_rank = false (it sends no
 * market.rank by itself): the preview, a wrong hash, an incomplete and an
 * empty epoch, an outsider, then the right hash; the rewards of an epoch
 * with fewer ranked services than top_services (README: weight
 * top_services - rank + 1); a distribution that would push the voucher
 * supply over 2^63-1 refused whole (overflow), the mints before it undone. */
#include <string.h>

#include <libsoup/soup.h>

#include "cjson.h"
#include "node_private.h"
#include "p2p.h"
#include "tx.h"

#define CHAIN "mkt"
#define NODES 3
#define N_SERVICES 20
#define N_USERS 200
#define N_DEVS 8
#define EPOCHS 10
#define SEED 20240611u
#define RECORDS_PER_TX 150
#define TIE_EPOCH 8        /* usage and ratings built for ties */
#define NO_RATINGS_EPOCH 4 /* the raters' pool has nobody to pay */
#define BIG_DENOM "big"

static char *plugins_dir;

/* ---- params ------------------------------------------------------------ */

enum { POOL_DEV, POOL_USERS, POOL_RATERS, POOL_PRODUCER, N_POOLS };
static const char *const pool_names[N_POOLS]
    = { "developers", "users", "raters", "producer" };

typedef struct {
  int64_t epoch_blocks, initial, halving, cap, top, prior_milli, prior_weight;
  int64_t bps[N_POOLS];
  gboolean explicit;     /* written into genesis (else the defaults apply) */
  int64_t poor_vouchers; /* the genesis voucher balance of Net.poor */
} Params;

/* The platform test: the cap binds inside the 10 epochs. With all pools
 * paid, epochs 0-2 issue 100000, 3-5 50000 (epoch 4 has no raters, so
 * 41500 is minted), 6 25000, 7 the rest up to the cap (13500), 8-9 0. */
static const Params platform_params = {
  .epoch_blocks = 25,
  .initial = 100000,
  .halving = 3,
  .cap = 480000,
  .top = 5,
  .prior_milli = 3500,
  .prior_weight = 4,
  .bps = { 4500, 2700, 1700, 1100 },
  .explicit = TRUE,
};

/* README defaults, but for the few set in genesis by the manual test. */
static const Params manual_params = {
  .epoch_blocks = 10,
  .initial = 1000000,
  .halving = 100,
  .cap = 1000000000,
  .top = 10,
  .prior_milli = 3000,
  .prior_weight = 5,
  .bps = { 5000, 2500, 1500, 1000 },
  .explicit = FALSE,
  /* Epoch 0's 1000000 fit under the int64 maximum, epoch 2's do not. */
  .poor_vouchers = G_MAXINT64 - 1500000,
};

/* ---- the network ------------------------------------------------------- */

typedef struct {
  char *home;
  CairnKey *key; /* loaded from <home>/keys/node.pem */
  CairnNode *node;
  char *url;
} Node;

typedef struct {
  Node n[NODES];
  int nodes;
  const Params *p;
  CairnKey *admin, *platform, *outsider, *filler, *sink, *rich, *poor;
  CairnKey *devs[N_DEVS];
  CairnKey *users[N_USERS];
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

static void
assert_contains (const char *text, const char *words)
{
  if (text == NULL || strstr (text, words) == NULL)
    g_error ("'%s' does not mention '%s'", text ? text : "(null)", words);
}

static void
make_home (Net *net, int i)
{
  Node *nd = &net->n[i];
  g_autoptr (GError) err = NULL;
  nd->home = g_dir_make_tmp ("cairn-market-XXXXXX", &err);
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

static json_t *
account (CairnKey *k, const char *role, const char *denom, json_int_t balance)
{
  json_t *a
      = json_pack ("{s:s,s:[],s:{}}", "address", addr (k), "roles", "balances");
  if (role)
    json_array_append_new (json_object_get (a, "roles"), json_string (role));
  if (denom)
    json_object_set_new (json_object_get (a, "balances"), denom,
                         json_integer (balance));
  return a;
}

static json_t *
params_json (const Params *p)
{
  if (!p->explicit)
    return json_pack ("{s:I}", "epoch_blocks", (json_int_t)p->epoch_blocks);
  return json_pack (
      "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "epoch_blocks",
      (json_int_t)p->epoch_blocks, "initial_issuance", (json_int_t)p->initial,
      "halving_epochs", (json_int_t)p->halving, "supply_cap",
      (json_int_t)p->cap, "top_services", (json_int_t)p->top,
      "prior_rating_milli", (json_int_t)p->prior_milli, "prior_weight",
      (json_int_t)p->prior_weight, "shares_bps", "developers",
      (json_int_t)p->bps[POOL_DEV], "users", (json_int_t)p->bps[POOL_USERS],
      "raters", (json_int_t)p->bps[POOL_RATERS], "producer",
      (json_int_t)p->bps[POOL_PRODUCER]);
}

static void
write_config (Net *net, int i, gboolean auto_rank, const char *p2p_conf)
{
  Node *nd = &net->n[i];
  CairnKey *v = net->n[0].key;
  g_autofree char *vpk = cairn_hex_encode (cairn_key_pubkey (v), 32);
  json_t *accounts = json_array ();
  json_array_append_new (accounts, account (net->admin, NULL, NULL, 0));
  json_array_append_new (accounts,
                         account (net->platform, "platform", NULL, 0));
  for (int k = 0; k < net->nodes; k++)
    json_array_append_new (accounts,
                           account (net->n[k].key, "app_node", NULL, 0));
  json_array_append_new (accounts,
                         account (net->filler, NULL, "cairn", 1000000000));
  /* The whole supply of BIG_DENOM: balances up to the int64 maximum. */
  json_array_append_new (accounts,
                         account (net->rich, NULL, BIG_DENOM, G_MAXINT64 - 10));
  json_t *poor = account (net->poor, NULL, BIG_DENOM, 10);
  if (net->p->poor_vouchers)
    json_object_set_new (json_object_get (poor, "balances"), "voucher",
                         json_integer (net->p->poor_vouchers));
  json_array_append_new (accounts, poor);
  json_array_append_new (accounts,
                         account (net->users[1], NULL, "cairn", 1000));
  json_array_append_new (accounts, account (net->users[2], NULL, "cairn", 10));
  g_autoptr (json_t) genesis = json_pack (
      "{s:s,s:I,s:{s:i,s:[s]},s:o,s:[{s:s,s:s,s:I}],s:{s:o}}", "chain_id",
      CHAIN, "genesis_time", (json_int_t)1700000000000, "admin", "threshold", 1,
      "members", addr (net->admin), "accounts", accounts, "validators",
      "address", addr (v), "pubkey", vpk, "stake", (json_int_t)100, "app_state",
      "market", params_json (net->p));
  g_assert_nonnull (genesis);
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  write_file (nd->home, "genesis.json", gtext);
  /* empty_block_interval_ms = 0: blocks only when txs arrive. */
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = " CHAIN "\nlog_level = %s\n"
      "[plugins]\npath = %s\n"
      "load = store-lmdb;solo;bank;blob-fs;market\n"
      "[http]\nlisten = 127.0.0.1:0\n"
      "[solo]\nbatch_delay_ms = 2\nempty_block_interval_ms = 0\n%s"
      "[store-lmdb]\nmap_size = 1GiB\n"
      "[blob-fs]\nsync = false\n"
      "[bank]\nminters = market\n"
      "[market]\nauto_rank = %s\n%s",
      g_getenv ("CAIRN_TEST_LOG") ? g_getenv ("CAIRN_TEST_LOG") : "warning",
      plugins_dir, i > 0 ? "follow = true\n" : "", auto_rank ? "true" : "false",
      p2p_conf);
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
net_up (Net *net, int nodes, const Params *p, gboolean auto_rank)
{
  net->nodes = nodes;
  net->p = p;
  CairnKey **keys[]
      = { &net->admin, &net->platform, &net->outsider, &net->filler,
          &net->sink,  &net->rich,     &net->poor };
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    *keys[i] = cairn_key_generate (NULL);
  for (int i = 0; i < N_DEVS; i++)
    net->devs[i] = cairn_key_generate (NULL);
  for (int i = 0; i < N_USERS; i++)
    net->users[i] = cairn_key_generate (NULL);
  net->http = soup_session_new ();
  for (int i = 0; i < nodes; i++)
    make_home (net, i);
  GString *allow = g_string_new (NULL);
  for (int i = 1; i < nodes; i++)
    g_string_append_printf (allow, "%s%s", i > 1 ? ";" : "", naddr (net, i));
  g_autofree char *vconf
      = nodes > 1 ? g_strdup_printf ("[p2p]\nenabled = true\nlisten = "
                                     "127.0.0.1:0\nallow = %s\n",
                                     allow->str)
                  : g_strdup ("[p2p]\nenabled = false\n");
  g_string_free (allow, TRUE);
  write_config (net, 0, auto_rank, vconf);
  node_start (&net->n[0]);
  for (int i = 1; i < nodes; i++) {
    g_autofree char *fconf = g_strdup_printf (
        "[p2p]\nenabled = true\nlisten = 127.0.0.1:0\n"
        "persistent_peers = %s@127.0.0.1:%u\n",
        naddr (net, 0), cairn_tls_transport_port (net->n[0].node->p2p));
    write_config (net, i, auto_rank, fconf);
    node_start (&net->n[i]);
  }
}

static void
net_down (Net *net)
{
  g_clear_object (&net->http);
  for (int i = net->nodes - 1; i >= 0; i--) {
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
  CairnKey *keys[] = { net->admin, net->platform, net->outsider, net->filler,
                       net->sink,  net->rich,     net->poor };
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    cairn_key_free (keys[i]);
  for (int i = 0; i < N_DEVS; i++)
    cairn_key_free (net->devs[i]);
  for (int i = 0; i < N_USERS; i++)
    cairn_key_free (net->users[i]);
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
http_raw (Net *net, int node, const char *method, const char *path,
          const void *body, gsize blen, guint want)
{
  g_autofree char *uri = g_strconcat (net->n[node].url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_assert_nonnull (msg);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, blen);
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
  if (j == NULL)
    g_error ("node %d: %s %s: not JSON: %.*s", node, method, path, (int)len, p);
  g_bytes_unref (r.body);
  return j;
}

static json_t *
http_json (Net *net, int node, const char *method, const char *path,
           const char *body, guint want)
{
  return http_raw (net, node, method, path, body, body ? strlen (body) : 0,
                   want);
}

static json_t *
get_json (Net *net, int node, const char *path)
{
  return http_json (net, node, "GET", path, NULL, 200);
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

/* Run the main loop once, sleeping a little when nothing is ready. */
static void
pump (void)
{
  if (!g_main_context_iteration (NULL, FALSE))
    g_usleep (500);
}

static void
wait_height (Net *net, int i, uint64_t h)
{
  int64_t deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (head (net, i) < h && g_get_monotonic_time () < deadline)
    pump ();
  if (head (net, i) < h)
    g_error ("node %d: height %" G_GUINT64_FORMAT " not reached in 60 s", i, h);
}

/* Every node at n0's head (at least). */
static void
sync_all (Net *net)
{
  uint64_t h = head (net, 0);
  for (int i = 1; i < net->nodes; i++)
    wait_height (net, i, h);
}

static void
spin (int ms)
{
  int64_t until = g_get_monotonic_time () + (int64_t)ms * 1000;
  while (g_get_monotonic_time () < until)
    pump ();
}

static uint64_t
next_nonce (Net *net, CairnKey *k)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a
      = cairn_node_account_json (net->n[0].node, addr (k), &err);
  g_assert_no_error (err);
  return (uint64_t)json_integer_value (json_object_get (a, "next_nonce"));
}

/* body is stolen. */
static CairnTx *
sign (Net *net, CairnKey *k, const char *type, json_t *body)
{
  g_autoptr (GError) err = NULL;
  g_assert_nonnull (body);
  CairnTx *tx = cairn_tx_sign (k, CHAIN, type, next_nonce (net, k), body, &err);
  g_assert_no_error (err);
  json_decref (body);
  return tx;
}

/* The committed tx on n0 (waits). */
static json_t *
wait_committed (Net *net, const char *id)
{
  int64_t deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_autoptr (json_t) t = cairn_node_tx_json (net->n[0].node, id, NULL);
    if (t
        && g_strcmp0 (json_string_value (json_object_get (t, "status")),
                      "committed")
               == 0)
      return g_steal_pointer (&t);
    pump ();
  }
  g_error ("tx %s not committed in 60 s", id);
}

/* Submit to n0, wait for the commit there; the committed tx JSON. */
static json_t *
run_tx (Net *net, CairnKey *k, const char *type, json_t *body)
{
  g_autoptr (CairnTx) tx = sign (net, k, type, body);
  json_decref (http_json (net, 0, "POST", "/v1/txs", tx->bytes, 202));
  return wait_committed (net, tx->id_hex);
}

static void
assert_ok (const json_t *t)
{
  const json_t *r = json_object_get (t, "result");
  if (!json_is_true (json_object_get (r, "ok")))
    g_error (
        "%s failed: %s: %s",
        json_string_value (json_object_get (json_object_get (t, "tx"), "type")),
        json_string_value (json_object_get (r, "code")),
        json_string_value (json_object_get (r, "error")));
}

/* OK; the tx id (g_free). */
static char *
ok_tx (Net *net, CairnKey *k, const char *type, json_t *body)
{
  g_autoptr (json_t) t = run_tx (net, k, type, body);
  assert_ok (t);
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
  g_test_message ("refused as wanted: %s: %s: %s", type,
                  json_string_value (json_object_get (r, "code")),
                  json_string_value (json_object_get (r, "error")));
}

/* Refused at admission by the handler's check(): 400 invalid_body, and the
 * sender's nonce is not used. */
static void
refused_tx (Net *net, CairnKey *k, const char *type, json_t *body,
            const char *words)
{
  uint64_t before = next_nonce (net, k);
  g_autoptr (CairnTx) tx = sign (net, k, type, body);
  http_refused (net, 0, "POST", "/v1/txs", tx->bytes, 400, "invalid_body",
                words);
  g_assert_cmpuint (next_nonce (net, k), ==, before);
}

/* Filler blocks until the head reaches h (blocks are made only when txs
 * arrive). The app nodes' own market.rank txs for the epoch that just
 * ended race with the last filler and may make more blocks, so the head
 * can be past h when this returns (a slow run, e.g. under ASan). */
static void
advance_to (Net *net, uint64_t h)
{
  while (head (net, 0) < h) {
    g_autoptr (json_t) b
        = json_pack ("{s:s,s:s,s:I}", "to", addr (net->sink), "denom", "cairn",
                     "amount", (json_int_t)1);
    g_free (ok_tx (net, net->filler, "bank.transfer", g_steal_pointer (&b)));
  }
  g_assert_cmpuint (head (net, 0), >=, h);
}

/* ---- batches: many signed txs in one POST ------------------------------ */

typedef struct {
  GPtrArray *txs;     /* CairnTx* */
  GHashTable *nonces; /* address -> next nonce (guint64*) */
} Batch;

static void
batch_init (Batch *b)
{
  b->txs = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  b->nonces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
batch_clear (Batch *b)
{
  g_clear_pointer (&b->txs, g_ptr_array_unref);
  g_clear_pointer (&b->nonces, g_hash_table_destroy);
}

/* body is stolen. Nonces come from n0's view (mempool included), then
 * count up for the batch. */
static void
batch_add (Net *net, Batch *b, CairnKey *k, const char *type, json_t *body)
{
  guint64 *n = g_hash_table_lookup (b->nonces, addr (k));
  if (n == NULL) {
    n = g_new (guint64, 1);
    *n = next_nonce (net, k);
    g_hash_table_insert (b->nonces, g_strdup (addr (k)), n);
  }
  g_autoptr (GError) err = NULL;
  CairnTx *tx = cairn_tx_sign (k, CHAIN, type, (*n)++, body, &err);
  g_assert_no_error (err);
  json_decref (body);
  g_ptr_array_add (b->txs, tx);
}

/* POST the batch to node i: every tx must be accepted. */
static void
batch_post (Net *net, int node, Batch *b)
{
  if (b->txs->len == 0)
    return;
  GString *s = g_string_new ("[");
  for (guint i = 0; i < b->txs->len; i++) {
    CairnTx *tx = b->txs->pdata[i];
    if (i > 0)
      g_string_append_c (s, ',');
    g_string_append_len (s, tx->bytes, (gssize)tx->len);
  }
  g_string_append_c (s, ']');
  g_autoptr (json_t) j
      = http_raw (net, node, "POST", "/v1/txs", s->str, s->len, 200);
  g_string_free (s, TRUE);
  const json_t *res = json_object_get (j, "results");
  for (guint i = 0; i < b->txs->len; i++) {
    const json_t *r = json_array_get (res, i);
    if (json_object_get (r, "error"))
      g_error ("batch tx %u refused: %s", i,
               json_string_value (
                   json_object_get (json_object_get (r, "error"), "message")));
    g_assert_cmpstr (json_string_value (json_object_get (r, "id")), ==,
                     ((CairnTx *)b->txs->pdata[i])->id_hex);
  }
  g_assert_cmpint (json_integer_value (json_object_get (j, "accepted")), ==,
                   b->txs->len);
}

/* Wait for every tx of the batch on n0; each must have succeeded. Returns
 * the highest height. */
static uint64_t
batch_wait_ok (Net *net, Batch *b)
{
  uint64_t top = 0;
  for (guint i = 0; i < b->txs->len; i++) {
    g_autoptr (json_t) t
        = wait_committed (net, ((CairnTx *)b->txs->pdata[i])->id_hex);
    assert_ok (t);
    top = MAX (top,
               (uint64_t)json_integer_value (json_object_get (t, "height")));
  }
  return top;
}

/* ---- reads ------------------------------------------------------------- */

static int64_t
balance (Net *net, int node, const char *a, const char *denom)
{
  g_autofree char *path = g_strdup_printf ("/v1/bank/balances/%s", a);
  g_autoptr (json_t) j = get_json (net, node, path);
  return json_integer_value (
      json_object_get (json_object_get (j, "balances"), denom));
}

static int64_t
locked (Net *net, int node, const char *a, const char *denom)
{
  g_autofree char *path = g_strdup_printf ("/v1/bank/balances/%s", a);
  g_autoptr (json_t) j = get_json (net, node, path);
  return json_integer_value (json_object_get (
      json_object_get (json_object_get (j, "locked"), "market"), denom));
}

static int64_t
bank_supply (Net *net, int node, const char *denom)
{
  g_autofree char *path = g_strdup_printf ("/v1/bank/supply/%s", denom);
  g_autoptr (json_t) j = get_json (net, node, path);
  return json_integer_value (json_object_get (j, "supply"));
}

static json_t *
get_epoch (Net *net, int node, int64_t e)
{
  g_autofree char *path
      = g_strdup_printf ("/v1/market/epochs/%" G_GINT64_FORMAT, e);
  return get_json (net, node, path);
}

/* A market state key: its JSON value, or NULL when absent (404). */
static json_t *
state_value (Net *net, int node, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/v1/state/market/%s", key);
  g_autofree char *uri = g_strconcat (net->n[node].url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  Reply r = { 0 };
  soup_session_send_and_read_async (net->http, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_reply, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (r.error);
  guint status = soup_message_get_status (msg);
  gsize len;
  const char *p = g_bytes_get_data (r.body, &len);
  json_t *out = NULL;
  if (status == 200) {
    g_autoptr (json_t) j = json_loadb (p, len, 0, NULL);
    g_assert_nonnull (j);
    out = json_incref (json_object_get (j, "value"));
  } else if (status != 404)
    g_error ("GET %s: status %u: %.*s", path, status, (int)len, p);
  g_bytes_unref (r.body);
  return out;
}

static char *
sha256_hex (const void *data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

/* ---- the independent model (README.md, "The ranking of epoch E" and
 * "Rewards of epoch E") --------------------------------------------------- */

typedef struct {
  int64_t calls, duration, ratings, rating_sum;
  gboolean seen;
} SvcStat;

typedef struct {
  SvcStat svc[N_SERVICES];
  int64_t node_calls[NODES], node_dur[NODES];
  gboolean node_svc[NODES][N_SERVICES], node_seen[NODES];
  int64_t user_calls[N_USERS], rater_count[N_USERS];
  int order[N_SERVICES]; /* ranked services, best first */
  int nranked;
  json_t *ranking; /* the test's own {"epoch","services","nodes"} */
  char *hash;
  char *producer;
  int64_t minted;
} Epoch;

/* The names the model needs. */
typedef struct {
  const Params *p;
  const char *svc_id[N_SERVICES];
  const char *svc_dev[N_SERVICES]; /* developer address */
  int nsvc;
  const char *node[NODES];
  int nnodes;
  const char *user[N_USERS];
} Names;

static void
model_usage (Epoch *ep, int svc, int user, int node, int64_t calls,
             int64_t duration)
{
  ep->svc[svc].calls += calls;
  ep->svc[svc].duration += duration;
  ep->svc[svc].seen = TRUE;
  ep->node_calls[node] += calls;
  ep->node_dur[node] += duration;
  ep->node_svc[node][svc] = TRUE;
  ep->node_seen[node] = TRUE;
  ep->user_calls[user] += calls;
}

static void
model_rating (Epoch *ep, int svc, int user, int rating)
{
  ep->svc[svc].ratings++;
  ep->svc[svc].rating_sum += rating;
  ep->svc[svc].seen = TRUE;
  ep->rater_count[user]++;
}

/* floor(log2(x + 1)) + 1 by counting bits. */
static int64_t
bit_length_plus_one (int64_t calls)
{
  uint64_t x = (uint64_t)calls + 1;
  int64_t n = 0;
  while (x) {
    n++;
    x >>= 1;
  }
  return n;
}

static int64_t
bayes_of (const Params *p, const SvcStat *s)
{
  return (p->prior_weight * p->prior_milli + 1000 * s->rating_sum)
         / (p->prior_weight + s->ratings);
}

typedef struct {
  const Names *names;
  const Epoch *ep;
} SortCtx;

static int
svc_order (gconstpointer a, gconstpointer b, gpointer data)
{
  const SortCtx *c = data;
  int x = *(const int *)a, y = *(const int *)b;
  const SvcStat *sx = &c->ep->svc[x], *sy = &c->ep->svc[y];
  int64_t kx = bayes_of (c->names->p, sx) * bit_length_plus_one (sx->calls);
  int64_t ky = bayes_of (c->names->p, sy) * bit_length_plus_one (sy->calls);
  if (kx != ky)
    return kx > ky ? -1 : 1;
  if (sx->calls != sy->calls)
    return sx->calls > sy->calls ? -1 : 1;
  return strcmp (c->names->svc_id[x], c->names->svc_id[y]);
}

static int
node_order (gconstpointer a, gconstpointer b, gpointer data)
{
  const SortCtx *c = data;
  int x = *(const int *)a, y = *(const int *)b;
  if (c->ep->node_calls[x] != c->ep->node_calls[y])
    return c->ep->node_calls[x] > c->ep->node_calls[y] ? -1 : 1;
  if (c->ep->node_dur[x] != c->ep->node_dur[y])
    return c->ep->node_dur[x] > c->ep->node_dur[y] ? -1 : 1;
  return strcmp (c->names->node[x], c->names->node[y]);
}

/* The ranking of ep as README.md defines it, and its hash: SHA-256 of the
 * canonical JSON (sorted keys, compact) of the test's own object. */
static void
model_ranking (const Names *names, int64_t e, Epoch *ep)
{
  const Params *p = names->p;
  SortCtx ctx = { names, ep };
  ep->nranked = 0;
  for (int s = 0; s < names->nsvc; s++)
    if (ep->svc[s].seen)
      ep->order[ep->nranked++] = s;
  g_qsort_with_data (ep->order, ep->nranked, sizeof (int), svc_order, &ctx);
  json_t *sl = json_array ();
  for (int r = 0; r < ep->nranked; r++) {
    const SvcStat *s = &ep->svc[ep->order[r]];
    int64_t bayes = bayes_of (p, s);
    json_array_append_new (
        sl,
        json_pack (
            "{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "service",
            names->svc_id[ep->order[r]], "rank", (json_int_t)r + 1, "score",
            (json_int_t)(bayes * bit_length_plus_one (s->calls)), "bayes_milli",
            (json_int_t)bayes, "calls", (json_int_t)s->calls, "duration",
            (json_int_t)s->duration, "ratings", (json_int_t)s->ratings,
            "rating_sum", (json_int_t)s->rating_sum));
  }
  int nodes[NODES], nn = 0;
  for (int i = 0; i < names->nnodes; i++)
    if (ep->node_seen[i])
      nodes[nn++] = i;
  g_qsort_with_data (nodes, nn, sizeof (int), node_order, &ctx);
  json_t *nl = json_array ();
  for (int r = 0; r < nn; r++) {
    int i = nodes[r];
    int served = 0;
    for (int s = 0; s < names->nsvc; s++)
      served += ep->node_svc[i][s];
    json_array_append_new (nl,
                           json_pack ("{s:s,s:I,s:I,s:I,s:I}", "node",
                                      names->node[i], "rank", (json_int_t)r + 1,
                                      "calls", (json_int_t)ep->node_calls[i],
                                      "duration", (json_int_t)ep->node_dur[i],
                                      "services", (json_int_t)served));
  }
  ep->ranking = json_pack ("{s:I,s:o,s:o}", "epoch", (json_int_t)e, "services",
                           sl, "nodes", nl);
  size_t len;
  g_autoptr (GError) err = NULL;
  g_autofree char *text = cairn_cjson_dump (ep->ranking, &len, &err);
  g_assert_no_error (err);
  ep->hash = sha256_hex (text, len);
}

/* The epoch's usage and ratings entries (README "State"). */
static json_t *
model_usage_entry (const Names *names, const Epoch *ep)
{
  json_t *svcs = json_object (), *nodes = json_object (),
         *users = json_object ();
  for (int s = 0; s < names->nsvc; s++)
    if (ep->svc[s].calls > 0)
      json_object_set_new (svcs, names->svc_id[s],
                           json_pack ("{s:I,s:I}", "calls",
                                      (json_int_t)ep->svc[s].calls, "duration",
                                      (json_int_t)ep->svc[s].duration));
  for (int i = 0; i < names->nnodes; i++) {
    if (!ep->node_seen[i])
      continue;
    int served = 0;
    for (int s = 0; s < names->nsvc; s++)
      served += ep->node_svc[i][s];
    json_object_set_new (nodes, names->node[i],
                         json_pack ("{s:I,s:I,s:I}", "calls",
                                    (json_int_t)ep->node_calls[i], "duration",
                                    (json_int_t)ep->node_dur[i], "services",
                                    (json_int_t)served));
  }
  for (int u = 0; u < N_USERS; u++)
    if (ep->user_calls[u] > 0)
      json_object_set_new (users, names->user[u],
                           json_integer (ep->user_calls[u]));
  return json_pack ("{s:o,s:o,s:o}", "services", svcs, "nodes", nodes, "users",
                    users);
}

static json_t *
model_ratings_entry (const Names *names, const Epoch *ep)
{
  json_t *svcs = json_object (), *raters = json_object ();
  for (int s = 0; s < names->nsvc; s++)
    if (ep->svc[s].ratings > 0)
      json_object_set_new (
          svcs, names->svc_id[s],
          json_pack ("{s:I,s:I}", "ratings", (json_int_t)ep->svc[s].ratings,
                     "rating_sum", (json_int_t)ep->svc[s].rating_sum));
  for (int u = 0; u < N_USERS; u++)
    if (ep->rater_count[u] > 0)
      json_object_set_new (raters, names->user[u],
                           json_integer (ep->rater_count[u]));
  return json_pack ("{s:o,s:o}", "services", svcs, "raters", raters);
}

/* issuance(E) = min(initial >> (E / halving), cap - minted_before), 0 once
 * the shift reaches 63. */
static int64_t
model_issuance (const Params *p, int64_t e, int64_t minted_before)
{
  int64_t shift = e / p->halving;
  int64_t v = shift >= 63 ? 0 : p->initial >> shift;
  int64_t left = p->cap - minted_before;
  return v < left ? v : left;
}

typedef struct {
  const char *addr;
  int64_t weight;
} Share;

static int
share_order (gconstpointer a, gconstpointer b)
{
  const Share *x = a, *y = b;
  if (x->weight != y->weight)
    return x->weight > y->weight ? -1 : 1;
  return strcmp (x->addr, y->addr);
}

/* pool * weight / total each, the remainder to the first; amounts added
 * into out. Returns what is minted: pool, or 0 with nobody to pay. */
static int64_t
model_split (int64_t pool, const Share *sh, int n, json_t *out)
{
  int64_t total = 0;
  for (int i = 0; i < n; i++)
    total += sh[i].weight;
  if (pool == 0 || total == 0)
    return 0;
  g_autofree int64_t *amt = g_new0 (int64_t, n);
  int64_t paid = 0;
  for (int i = 0; i < n; i++) {
    /* pool and weights are small here: no 64-bit overflow. */
    g_assert_cmpint (sh[i].weight, <=, G_MAXINT64 / MAX (pool, 1));
    amt[i] = pool * sh[i].weight / total;
    paid += amt[i];
  }
  amt[0] += pool - paid;
  for (int i = 0; i < n; i++)
    if (amt[i] > 0)
      json_object_set_new (
          out, sh[i].addr,
          json_integer (json_integer_value (json_object_get (out, sh[i].addr))
                        + amt[i]));
  return pool;
}

/* Shares of {user index: count}, by count (high first), then address. */
static int
count_shares (const Names *names, const int64_t *counts, Share *out)
{
  int n = 0;
  for (int u = 0; u < N_USERS; u++)
    if (counts[u] > 0)
      out[n++] = (Share){ names->user[u], counts[u] };
  qsort (out, n, sizeof (Share), share_order);
  return n;
}

/* The rewards entry README.md's schedule gives for epoch e (after
 * model_ranking): {"issuance","minted","developers","users","raters",
 * "producer"}. */
static json_t *
model_rewards (const Names *names, int64_t e, Epoch *ep, int64_t minted_before)
{
  const Params *p = names->p;
  int64_t iss = model_issuance (p, e, minted_before);
  int64_t pool[N_POOLS], sum = 0;
  for (int k = 0; k < N_POOLS; k++) {
    pool[k] = iss * p->bps[k] / 10000;
    sum += pool[k];
  }
  pool[POOL_DEV] += iss - sum;
  json_t *out[N_POOLS];
  for (int k = 0; k < N_POOLS; k++)
    out[k] = json_object ();
  int64_t minted = 0;
  /* The top `top` services, weight top - rank + 1. */
  Share devs[N_SERVICES];
  int nd = 0;
  for (int r = 0; r < ep->nranked && r < p->top; r++)
    devs[nd++] = (Share){ names->svc_dev[ep->order[r]], p->top - r };
  minted += model_split (pool[POOL_DEV], devs, nd, out[POOL_DEV]);
  Share sh[N_USERS];
  int n = count_shares (names, ep->user_calls, sh);
  minted += model_split (pool[POOL_USERS], sh, n, out[POOL_USERS]);
  n = count_shares (names, ep->rater_count, sh);
  minted += model_split (pool[POOL_RATERS], sh, n, out[POOL_RATERS]);
  Share prod = { ep->producer, 1 };
  minted += model_split (pool[POOL_PRODUCER], &prod, 1, out[POOL_PRODUCER]);
  ep->minted = minted;
  json_t *r = json_pack ("{s:I,s:I}", "issuance", (json_int_t)iss, "minted",
                         (json_int_t)minted);
  for (int k = 0; k < N_POOLS; k++)
    json_object_set_new (r, pool_names[k], out[k]);
  return r;
}

static void
epoch_clear (Epoch *ep)
{
  g_clear_pointer (&ep->ranking, json_decref);
  g_clear_pointer (&ep->hash, g_free);
  g_clear_pointer (&ep->producer, g_free);
}

/* The chain's ranking of epoch e on node i equals the model's. */
static void
check_ranking (Net *net, int node, const Names *names, int64_t e, Epoch *ep)
{
  g_autoptr (json_t) j = get_epoch (net, node, e);
  const json_t *r = json_object_get (j, "ranking");
  if (!json_is_object (r))
    g_error ("node %d: epoch %" G_GINT64_FORMAT " has no ranking", node, e);
  g_autoptr (json_t) core = json_pack (
      "{s:O,s:O,s:O}", "epoch", json_object_get (r, "epoch"), "services",
      json_object_get (r, "services"), "nodes", json_object_get (r, "nodes"));
  if (!json_equal (core, ep->ranking)) {
    g_autofree char *a = json_dumps (core, JSON_SORT_KEYS | JSON_INDENT (1));
    g_autofree char *b
        = json_dumps (ep->ranking, JSON_SORT_KEYS | JSON_INDENT (1));
    g_error ("node %d: ranking of epoch %" G_GINT64_FORMAT
             " differs:\nchain %s\nmodel %s",
             node, e, a, b);
  }
  g_assert_cmpstr (json_string_value (json_object_get (r, "hash")), ==,
                   ep->hash);
  g_autoptr (json_t) usage = model_usage_entry (names, ep);
  g_autoptr (json_t) ratings = model_ratings_entry (names, ep);
  const json_t *cu = json_object_get (j, "usage");
  const json_t *cr = json_object_get (j, "ratings");
  const char *uk[] = { "services", "nodes", "users" };
  for (size_t k = 0; k < G_N_ELEMENTS (uk); k++)
    if (!json_equal (json_object_get (cu, uk[k]),
                     json_object_get (usage, uk[k])))
      g_error ("node %d: epoch %" G_GINT64_FORMAT " usage.%s differs", node, e,
               uk[k]);
  const char *rk[] = { "services", "raters" };
  for (size_t k = 0; k < G_N_ELEMENTS (rk); k++)
    if (!json_equal (json_object_get (cr, rk[k]),
                     json_object_get (ratings, rk[k])))
      g_error ("node %d: epoch %" G_GINT64_FORMAT " ratings.%s differs", node,
               e, rk[k]);
}

/* The chain's rewards of epoch e on node i equal the model's. */
static void
check_rewards (Net *net, int node, int64_t e, const json_t *want)
{
  g_autoptr (json_t) j = get_epoch (net, node, e);
  const json_t *r = json_object_get (j, "rewards");
  if (!json_is_object (r))
    g_error ("node %d: epoch %" G_GINT64_FORMAT " has no rewards", node, e);
  const char *keys[]
      = { "issuance", "minted", "developers", "users", "raters", "producer" };
  for (size_t k = 0; k < G_N_ELEMENTS (keys); k++)
    if (!json_equal (json_object_get (r, keys[k]),
                     json_object_get (want, keys[k]))) {
      g_autofree char *a = json_dumps (json_object_get (r, keys[k]),
                                       JSON_SORT_KEYS | JSON_ENCODE_ANY);
      g_autofree char *b = json_dumps (json_object_get (want, keys[k]),
                                       JSON_SORT_KEYS | JSON_ENCODE_ANY);
      g_error ("node %d: rewards of epoch %" G_GINT64_FORMAT
               ".%s: chain %s, model %s",
               node, e, keys[k], a, b);
    }
}

/* ---- the simulated platform ------------------------------------------- */

typedef struct {
  int svc, user, node;
  int64_t calls, duration;
} Rec;

typedef struct {
  int svc, user, rating;
  gboolean text;
} Rating;

typedef struct {
  Net net;
  Names names;
  GRand *rand;
  char *cid, *sha;
  char *svc_id[N_SERVICES];
  int svc_devi[N_SERVICES];
  gboolean serves[NODES][N_SERVICES];
  Epoch ep[EPOCHS];
  json_t *rewards[EPOCHS]; /* the model's */
  int64_t minted;          /* the model's running total */
  GHashTable *vouchers;    /* address -> gint64* (model balances) */
  GHashTable *reported;    /* "E/svc/user/node" of this epoch's reports */
  uint64_t rank_scan;      /* next n0 height to scan for market.rank */
} Sim;

static void
voucher_add (Sim *s, const char *a, int64_t amount)
{
  gint64 *v = g_hash_table_lookup (s->vouchers, a);
  if (v == NULL) {
    v = g_new0 (gint64, 1);
    g_hash_table_insert (s->vouchers, g_strdup (a), v);
  }
  *v += amount;
}

static int64_t
voucher_of (Sim *s, const char *a)
{
  gint64 *v = g_hash_table_lookup (s->vouchers, a);
  return v ? *v : 0;
}

static json_t *
record_json (Sim *s, int svc, int user, int64_t calls, int64_t duration)
{
  return json_pack ("{s:s,s:s,s:I,s:I}", "service", s->svc_id[svc], "user",
                    addr (s->net.users[user]), "calls", (json_int_t)calls,
                    "duration", (json_int_t)duration);
}

static char *
use_key (Sim *s, int64_t e, int svc, int user, int node)
{
  return g_strdup_printf ("use/%010" G_GINT64_FORMAT "/%s/%s/%s", e,
                          s->svc_id[svc], addr (s->net.users[user]),
                          naddr (&s->net, node));
}

static gboolean
was_reported (Sim *s, int64_t e, int svc, int user, int node)
{
  g_autofree char *k = use_key (s, e, svc, user, node);
  return g_hash_table_contains (s->reported, k);
}

/* Seeded usage and ratings of epoch e. */
static void
generate (Sim *s, int64_t e, GArray *recs, GArray *rates)
{
  GRand *r = s->rand;
  if (e == TIE_EPOCH) {
    /* Service 0 (served by every node): one equal report per node, so the
     * nodes tie on calls and duration and are ordered by address.
     * Services 1 and 2: one equal rating each, no usage: equal score and
     * calls, ordered by id. */
    for (int i = 0; i < NODES; i++)
      g_array_append_val (recs, ((Rec){ 0, 10 + i, i, 7, 100 }));
    g_array_append_val (rates, ((Rating){ 1, 20, 4, FALSE }));
    g_array_append_val (rates, ((Rating){ 2, 21, 4, TRUE }));
    return;
  }
  /* User 0 uses service 0 on n0 every epoch (a voucher holder to trade). */
  g_array_append_val (recs, ((Rec){ 0, 0, 0, 50000, 60 }));
  for (int svc = 0; svc < N_SERVICES; svc++) {
    int nusers = g_rand_int_range (r, 0, 16);
    for (int k = 0; k < nusers; k++) {
      int user = g_rand_int_range (r, 1, N_USERS);
      int nodes[NODES], nn = 0;
      for (int i = 0; i < NODES; i++)
        if (s->serves[i][svc])
          nodes[nn++] = i;
      int first = g_rand_int_range (r, 0, nn);
      for (int t = 0; t < (nn > 1 && g_rand_int_range (r, 0, 4) == 0 ? 2 : 1);
           t++) {
        int node = nodes[(first + t) % nn];
        gboolean dup = FALSE;
        for (guint q = 0; q < recs->len; q++) {
          Rec *o = &g_array_index (recs, Rec, q);
          dup |= o->svc == svc && o->user == user && o->node == node;
        }
        if (dup)
          continue;
        int64_t calls = g_rand_int_range (r, 0, 20) == 0
                            ? g_rand_int_range (r, 1000, 200000)
                            : g_rand_int_range (r, 1, 40);
        Rec rec = { svc, user, node, calls, g_rand_int_range (r, 0, 5000) };
        g_array_append_val (recs, rec);
      }
    }
  }
  if (e == NO_RATINGS_EPOCH)
    return;
  int nraters = g_rand_int_range (r, 20, 41);
  for (int k = 0; k < nraters; k++) {
    int user = g_rand_int_range (r, 0, N_USERS);
    int n = g_rand_int_range (r, 1, 3);
    for (int t = 0; t < n; t++) {
      int svc = g_rand_int_range (r, 0, N_SERVICES);
      gboolean dup = FALSE;
      for (guint q = 0; q < rates->len; q++) {
        Rating *o = &g_array_index (rates, Rating, q);
        dup |= o->svc == svc && o->user == user;
      }
      if (dup)
        continue;
      Rating rt = { svc, user, g_rand_int_range (r, 1, 6),
                    g_rand_int_range (r, 0, 3) == 0 };
      g_array_append_val (rates, rt);
    }
  }
}

/* Node i's usage txs of epoch e (RECORDS_PER_TX records each). */
static void
add_usage_txs (Sim *s, Batch *b, int node, int64_t e, GArray *recs)
{
  json_t *list = NULL;
  for (guint q = 0; q <= recs->len; q++) {
    Rec *rec = q < recs->len ? &g_array_index (recs, Rec, q) : NULL;
    if (rec && rec->node != node)
      continue;
    if (list && (rec == NULL || json_array_size (list) == RECORDS_PER_TX)) {
      batch_add (
          &s->net, b, s->net.n[node].key, "market.usage",
          json_pack ("{s:I,s:o}", "period", (json_int_t)e, "records", list));
      list = NULL;
    }
    if (rec == NULL)
      break;
    if (list == NULL)
      list = json_array ();
    json_array_append_new (
        list, record_json (s, rec->svc, rec->user, rec->calls, rec->duration));
  }
}

static json_t *
rating_body (Sim *s, int svc, int64_t e, int rating, gboolean text)
{
  json_t *b
      = json_pack ("{s:s,s:I,s:I}", "service", svc >= 0 ? s->svc_id[svc] : "",
                   "period", (json_int_t)e, "rating", (json_int_t)rating);
  if (text) {
    g_autofree char *h
        = g_strdup_printf ("%064x", (unsigned)(svc * 7 + rating));
    json_object_set_new (b, "text_sha256", json_string (h));
  }
  return b;
}

/* Each app node posts its own usage and a third of the ratings to its own
 * API; every tx must commit in epoch e. */
static void
submit_epoch (Sim *s, int64_t e, GArray *recs, GArray *rates)
{
  Net *net = &s->net;
  Batch b[NODES];
  for (int i = 0; i < NODES; i++) {
    batch_init (&b[i]);
    add_usage_txs (s, &b[i], i, e, recs);
  }
  for (guint q = 0; q < rates->len; q++) {
    Rating *rt = &g_array_index (rates, Rating, q);
    batch_add (net, &b[rt->user % NODES], net->users[rt->user], "market.rate",
               rating_body (s, rt->svc, e, rt->rating, rt->text));
  }
  for (int i = 0; i < NODES; i++)
    batch_post (net, i, &b[i]);
  uint64_t top = 0;
  for (int i = 0; i < NODES; i++) {
    top = MAX (top, batch_wait_ok (net, &b[i]));
    batch_clear (&b[i]);
  }
  g_assert_cmpint ((int64_t)(top - 1) / net->p->epoch_blocks, ==, e);
  Epoch *ep = &s->ep[e];
  for (guint q = 0; q < recs->len; q++) {
    Rec *rec = &g_array_index (recs, Rec, q);
    model_usage (ep, rec->svc, rec->user, rec->node, rec->calls, rec->duration);
    g_hash_table_add (s->reported,
                      use_key (s, e, rec->svc, rec->user, rec->node));
  }
  for (guint q = 0; q < rates->len; q++) {
    Rating *rt = &g_array_index (rates, Rating, q);
    model_rating (ep, rt->svc, rt->user, rt->rating);
  }
  g_test_message ("epoch %" G_GINT64_FORMAT ": %u usage records, %u ratings, "
                  "committed by height %" G_GUINT64_FORMAT,
                  e, recs->len, rates->len, top);
}

/* /v1/market/params: the params and the epoch the next block belongs to. */
static void
check_params (Net *net, int node)
{
  const Params *p = net->p;
  g_autoptr (json_t) j = get_json (net, node, "/v1/market/params");
  uint64_t h = head (net, node);
  int64_t epoch = (int64_t)h / p->epoch_blocks;
  g_assert_cmpint (json_integer_value (json_object_get (j, "epoch")), ==,
                   epoch);
  g_assert_cmpint (json_integer_value (json_object_get (j, "epoch_start")), ==,
                   epoch * p->epoch_blocks + 1);
  g_assert_cmpint (json_integer_value (json_object_get (j, "epoch_end")), ==,
                   (epoch + 1) * p->epoch_blocks);
  struct {
    const char *k;
    int64_t v;
  } want[] = {
    { "epoch_blocks", p->epoch_blocks },
    { "initial_issuance", p->initial },
    { "halving_epochs", p->halving },
    { "supply_cap", p->cap },
    { "top_services", p->top },
    { "prior_rating_milli", p->prior_milli },
    { "prior_weight", p->prior_weight },
  };
  for (size_t k = 0; k < G_N_ELEMENTS (want); k++)
    g_assert_cmpint (json_integer_value (json_object_get (j, want[k].k)), ==,
                     want[k].v);
  for (int k = 0; k < N_POOLS; k++)
    g_assert_cmpint (json_integer_value (json_object_get (
                         json_object_get (j, "shares_bps"), pool_names[k])),
                     ==, p->bps[k]);
  g_assert_cmpstr (json_string_value (json_object_get (j, "denom")), ==,
                   "voucher");
}

/* ---- epoch 0: the package, the services, who serves them --------------- */

static void
setup_services (Sim *s)
{
  Net *net = &s->net;
  /* The package, in n0's blob store. */
  static const char pkg[] = "PK\003\004 a tiny app package for the market test";
  g_autoptr (json_t) put
      = http_raw (net, 0, "POST", "/v1/blobs", pkg, sizeof pkg - 1, 201);
  s->cid = g_strdup (json_string_value (json_object_get (put, "cid")));
  s->sha = sha256_hex (pkg, sizeof pkg - 1);
  g_assert_cmpint (json_integer_value (json_object_get (put, "size")), ==,
                   sizeof pkg - 1);

  static const char *const categories[]
      = { "music", "rides", "stories", "news" };
  Batch b;
  batch_init (&b);
  for (int i = 0; i < N_SERVICES; i++) {
    s->svc_devi[i] = i % N_DEVS;
    g_autofree char *name = g_strdup_printf ("Service %d", i);
    batch_add (net, &b, net->platform, "market.create",
               json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "developer",
                          addr (net->devs[i % N_DEVS]), "name", name,
                          "category", categories[i % 4], "version", "1.0.0",
                          "package_cid", s->cid, "package_sha256", s->sha));
  }
  batch_post (net, 0, &b);
  batch_wait_ok (net, &b);
  for (int i = 0; i < N_SERVICES; i++)
    s->svc_id[i] = g_strdup (((CairnTx *)b.txs->pdata[i])->id_hex);
  batch_clear (&b);

  /* Service 0 on every node; the others on 1-3 nodes. */
  for (int i = 0; i < N_SERVICES; i++) {
    int n = i == 0 ? NODES : g_rand_int_range (s->rand, 1, NODES + 1);
    int first = i % NODES;
    for (int k = 0; k < n; k++)
      s->serves[(first + k) % NODES][i] = TRUE;
  }
  Batch sb[NODES];
  for (int node = 0; node < NODES; node++) {
    batch_init (&sb[node]);
    for (int i = 0; i < N_SERVICES; i++)
      if (s->serves[node][i])
        batch_add (net, &sb[node], net->n[node].key, "market.serve",
                   json_pack ("{s:s}", "service", s->svc_id[i]));
    batch_post (net, node, &sb[node]);
  }
  for (int node = 0; node < NODES; node++) {
    batch_wait_ok (net, &sb[node]);
    batch_clear (&sb[node]);
  }
  for (int i = 0; i < N_SERVICES; i++) {
    s->names.svc_id[i] = s->svc_id[i];
    s->names.svc_dev[i] = addr (net->devs[s->svc_devi[i]]);
  }

  /* The registry on every node. */
  sync_all (net);
  for (int node = 0; node < NODES; node++) {
    g_autoptr (json_t) all = get_json (net, node, "/v1/market/services/");
    g_assert_cmpuint (json_array_size (json_object_get (all, "services")), ==,
                      N_SERVICES);
    g_autoptr (json_t) music
        = get_json (net, node, "/v1/market/services/?category=music");
    g_assert_cmpuint (json_array_size (json_object_get (music, "services")), ==,
                      N_SERVICES / 4);
    for (int i = 0; i < N_SERVICES; i++) {
      g_autofree char *path
          = g_strdup_printf ("/v1/market/services/%s", s->svc_id[i]);
      g_autoptr (json_t) j = get_json (net, node, path);
      g_assert_cmpstr (json_string_value (json_object_get (j, "developer")), ==,
                       s->names.svc_dev[i]);
      g_assert_cmpstr (json_string_value (json_object_get (j, "package_cid")),
                       ==, s->cid);
      g_assert_cmpstr (
          json_string_value (json_object_get (j, "package_sha256")), ==,
          s->sha);
      const json_t *nodes = json_object_get (j, "nodes");
      int n = 0;
      for (int k = 0; k < NODES; k++) {
        gboolean listed = FALSE;
        for (size_t q = 0; q < json_array_size (nodes); q++)
          listed |= g_strcmp0 (json_string_value (json_array_get (nodes, q)),
                               naddr (net, k))
                    == 0;
        g_assert_true (listed == s->serves[k][i]);
        n += s->serves[k][i];
      }
      g_assert_cmpuint (json_array_size (nodes), ==, n);
      g_assert_cmpint (json_integer_value (json_object_get (j, "servers")), ==,
                       n);
    }
  }
  g_autofree char *dpath
      = g_strdup_printf ("/v1/market/developers/%s", addr (net->devs[0]));
  g_autoptr (json_t) dev = get_json (net, 1, dpath);
  g_assert_cmpuint (json_array_size (json_object_get (dev, "services")), ==,
                    (N_SERVICES + N_DEVS - 1) / N_DEVS);
}

/* market.create and market.serve refusals (epoch 0). */
static void
bad_registry (Sim *s)
{
  Net *net = &s->net;
  json_t *body = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "developer",
                            addr (net->devs[0]), "name", "Rogue", "category",
                            "music", "version", "1.0.0", "package_cid", s->cid,
                            "package_sha256", s->sha);
  bad_tx (net, net->outsider, "market.create", json_incref (body),
          "unauthorized", "does not hold the platform role");
  json_object_set_new (body, "package_cid", json_string ("Qmnotacidv1"));
  refused_tx (net, net->platform, "market.create", json_incref (body),
              "is not a CIDv1");
  json_object_set_new (body, "package_cid", json_string (s->cid));
  json_object_set_new (body, "package_sha256", json_string ("abc"));
  refused_tx (net, net->platform, "market.create", body,
              "package_sha256 must be 64 lowercase hex");
  g_autoptr (json_t) all = get_json (net, 0, "/v1/market/services/");
  g_assert_cmpuint (json_array_size (json_object_get (all, "services")), ==,
                    N_SERVICES);

  g_autofree char *svc_path
      = g_strdup_printf ("/v1/market/services/%s", s->svc_id[0]);
  g_autoptr (json_t) before = get_json (net, 0, svc_path);
  bad_tx (net, net->n[1].key, "market.serve",
          json_pack ("{s:s}", "service", s->svc_id[0]), "conflict",
          "already serves");
  g_autofree char *unknown = g_strnfill (64, 'a');
  bad_tx (net, net->n[1].key, "market.serve",
          json_pack ("{s:s}", "service", unknown), "not_found",
          "unknown service");
  bad_tx (net, net->outsider, "market.serve",
          json_pack ("{s:s}", "service", s->svc_id[0]), "unauthorized",
          "does not hold the app_node role");
  refused_tx (net, net->n[1].key, "market.serve",
              json_pack ("{s:s}", "service", "xyz"), "service id");
  g_autoptr (json_t) after = get_json (net, 0, svc_path);
  g_assert_true (json_equal (before, after));
}

/* market.usage refusals (epoch 1), each leaving the reports as they were. */
static void
bad_usage (Sim *s, int64_t e, GArray *recs)
{
  Net *net = &s->net;
  const int n1 = 1;
  /* A service n1 serves and one it does not; a user n1 did not report. */
  int served = -1, foreign = -1, fresh = -1;
  for (int i = 0; i < N_SERVICES; i++) {
    if (s->serves[n1][i] && served < 0)
      served = i;
    if (!s->serves[n1][i] && foreign < 0)
      foreign = i;
  }
  g_assert_cmpint (foreign, >=, 0);
  for (int u = N_USERS - 1; u > 0 && fresh < 0; u--)
    if (!was_reported (s, e, served, u, n1))
      fresh = u;
  g_autofree char *fresh_key = use_key (s, e, served, fresh, n1);
  g_autofree char *foreign_key = use_key (s, e, foreign, fresh, n1);

  /* A valid record, then one for a service n1 does not serve: the whole tx
   * fails and the valid record is not kept. */
  json_t *recs_json = json_pack ("[o,o]", record_json (s, served, fresh, 3, 4),
                                 record_json (s, foreign, fresh, 3, 4));
  bad_tx (
      net, net->n[n1].key, "market.usage",
      json_pack ("{s:I,s:o}", "period", (json_int_t)e, "records", recs_json),
      "unauthorized", "does not serve service");
  json_t *v = state_value (net, 0, fresh_key);
  g_assert_null (v);
  v = state_value (net, 0, foreign_key);
  g_assert_null (v);

  /* A duplicate of a report of the batch: refused, the first one stays. */
  Rec *orig = NULL;
  for (guint q = 0; q < recs->len && orig == NULL; q++)
    if (g_array_index (recs, Rec, q).node == n1)
      orig = &g_array_index (recs, Rec, q);
  g_assert_nonnull (orig);
  g_autofree char *orig_key = use_key (s, e, orig->svc, orig->user, orig->node);
  g_autoptr (json_t) orig_before = state_value (net, 0, orig_key);
  g_assert_nonnull (orig_before);
  g_assert_cmpint (json_integer_value (json_object_get (orig_before, "calls")),
                   ==, orig->calls);
  bad_tx (
      net, net->n[n1].key, "market.usage",
      json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records",
                 record_json (s, orig->svc, orig->user, orig->calls + 100, 1)),
      "conflict", "duplicate report");
  g_autoptr (json_t) orig_after = state_value (net, 0, orig_key);
  g_assert_true (json_equal (orig_before, orig_after));

  /* The same record twice in one tx. */
  bad_tx (net, net->n[n1].key, "market.usage",
          json_pack ("{s:I,s:[o,o]}", "period", (json_int_t)e, "records",
                     record_json (s, served, fresh, 1, 1),
                     record_json (s, served, fresh, 2, 2)),
          "conflict", "duplicate report");
  v = state_value (net, 0, fresh_key);
  g_assert_null (v);

  /* Out of period: the next epoch and the previous one. */
  for (int64_t d = -1; d <= 1; d += 2) {
    bad_tx (net, net->n[n1].key, "market.usage",
            json_pack ("{s:I,s:[o]}", "period", (json_int_t)(e + d), "records",
                       record_json (s, served, fresh, 1, 1)),
            "invalid", "out-of-period report");
    g_autofree char *k = use_key (s, e + d, served, fresh, n1);
    v = state_value (net, 0, k);
    g_assert_null (v);
  }
  v = state_value (net, 0, fresh_key);
  g_assert_null (v);

  /* An unknown service. */
  json_t *rec = record_json (s, served, fresh, 1, 1);
  g_autofree char *unknown = g_strnfill (64, 'b');
  json_object_set_new (rec, "service", json_string (unknown));
  bad_tx (net, net->n[n1].key, "market.usage",
          json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records", rec),
          "not_found", "unknown service");

  /* Not an app node. */
  bad_tx (net, net->outsider, "market.usage",
          json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records",
                     record_json (s, served, fresh, 1, 1)),
          "unauthorized", "does not hold the app_node role");

  /* Stateless refusals at admission. */
  refused_tx (net, net->n[n1].key, "market.usage",
              json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records",
                         record_json (s, served, fresh, 0, 1)),
              "calls must be 1..");
  refused_tx (net, net->n[n1].key, "market.usage",
              json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records",
                         record_json (s, served, fresh, 1000000001, 1)),
              "calls must be 1..");
  refused_tx (net, net->n[n1].key, "market.usage",
              json_pack ("{s:I,s:[o]}", "period", (json_int_t)e, "records",
                         record_json (s, served, fresh, 1, -1)),
              "duration 0..");
  refused_tx (net, net->n[n1].key, "market.usage",
              json_pack ("{s:I,s:[]}", "period", (json_int_t)e, "records"),
              "records must be a list of 1..1000");
  v = state_value (net, 0, fresh_key);
  g_assert_null (v);
}

/* market.rate refusals (epoch 2). */
static void
bad_ratings (Sim *s, int64_t e, GArray *rates)
{
  Net *net = &s->net;
  g_assert_cmpuint (rates->len, >, 0);
  Rating *first = &g_array_index (rates, Rating, 0);
  CairnKey *u = net->users[first->user];
  refused_tx (net, u, "market.rate", rating_body (s, first->svc, e, 0, FALSE),
              "rating 0 is out of range (1..5)");
  refused_tx (net, u, "market.rate", rating_body (s, first->svc, e, 6, FALSE),
              "rating 6 is out of range (1..5)");
  json_t *badtext = rating_body (s, first->svc, e, 3, FALSE);
  json_object_set_new (badtext, "text_sha256", json_string ("XYZ"));
  refused_tx (net, u, "market.rate", badtext, "text_sha256");

  g_autofree char *key = g_strdup_printf ("rate/%010" G_GINT64_FORMAT "/%s/%s",
                                          e, s->svc_id[first->svc], addr (u));
  g_autoptr (json_t) before = state_value (net, 0, key);
  g_assert_nonnull (before);
  g_assert_cmpint (json_integer_value (json_object_get (before, "rating")), ==,
                   first->rating);
  bad_tx (net, u, "market.rate",
          rating_body (s, first->svc, e, first->rating % 5 + 1, FALSE),
          "conflict", "already rated");
  g_autoptr (json_t) after = state_value (net, 0, key);
  g_assert_true (json_equal (before, after));

  json_t *unknown = rating_body (s, first->svc, e, 3, FALSE);
  g_autofree char *uid = g_strnfill (64, 'c');
  json_object_set_new (unknown, "service", json_string (uid));
  bad_tx (net, u, "market.rate", unknown, "not_found", "unknown service");

  /* Out of period, by a user who has not rated service 0 this epoch. */
  int other = -1;
  for (int cand = N_USERS - 1; cand >= 0 && other < 0; cand--) {
    gboolean rated = FALSE;
    for (guint q = 0; q < rates->len; q++)
      rated |= g_array_index (rates, Rating, q).user == cand
               && g_array_index (rates, Rating, q).svc == 0;
    if (!rated)
      other = cand;
  }
  bad_tx (net, net->users[other], "market.rate",
          rating_body (s, 0, e + 1, 3, FALSE), "invalid", "out-of-period");
  g_autofree char *okey
      = g_strdup_printf ("rate/%010" G_GINT64_FORMAT "/%s/%s", e + 1,
                         s->svc_id[0], addr (net->users[other]));
  json_t *v = state_value (net, 0, okey);
  g_assert_null (v);
}

/* ---- ranking and rewards of each epoch -------------------------------- */

typedef struct {
  char sender[41];
  gboolean ok;
  char *code, *error;
  uint64_t height;
  size_t index;
} RankTx;

static void
rank_tx_free (gpointer p)
{
  RankTx *r = p;
  g_free (r->code);
  g_free (r->error);
  g_free (r);
}

/* The market.rank txs for epoch e that the app nodes sent by themselves:
 * scan n0's blocks until every app node's has committed. */
static GPtrArray *
collect_auto_ranks (Sim *s, int64_t e)
{
  Net *net = &s->net;
  GPtrArray *out = g_ptr_array_new_with_free_func (rank_tx_free);
  /* They come after the epoch's last block. */
  s->rank_scan = (uint64_t)((e + 1) * net->p->epoch_blocks) + 1;
  int64_t deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (out->len < NODES) {
    while (s->rank_scan <= head (net, 0)) {
      g_autoptr (GError) err = NULL;
      g_autoptr (json_t) b
          = cairn_node_block_json (net->n[0].node, s->rank_scan, &err);
      g_assert_no_error (err);
      const json_t *txs = json_object_get (b, "txs");
      for (size_t i = 0; i < json_array_size (txs); i++) {
        const json_t *tx = json_array_get (txs, i);
        const json_t *body = json_object_get (tx, "body");
        if (g_strcmp0 (json_string_value (json_object_get (tx, "type")),
                       "market.rank")
                != 0
            || json_integer_value (json_object_get (body, "epoch")) != e)
          continue;
        const json_t *res = json_object_get (
            json_array_get (json_object_get (b, "results"), i), "result");
        RankTx *r = g_new0 (RankTx, 1);
        g_strlcpy (r->sender, json_string_value (json_object_get (tx, "from")),
                   sizeof r->sender);
        r->ok = json_is_true (json_object_get (res, "ok"));
        r->code = g_strdup (json_string_value (json_object_get (res, "code")));
        r->error
            = g_strdup (json_string_value (json_object_get (res, "error")));
        r->height = s->rank_scan;
        r->index = i;
        g_ptr_array_add (out, r);
      }
      s->rank_scan++;
    }
    if (out->len >= NODES)
      break;
    if (g_get_monotonic_time () > deadline)
      g_error ("epoch %" G_GINT64_FORMAT ": only %u of %d app nodes sent "
               "market.rank in 60 s",
               e, out->len, NODES);
    pump ();
  }
  return out;
}

/* After the epoch's last block: the first-producer rule, and the ranking
 * on every node equal to the model's. */
static void
epoch_ranked (Sim *s, int64_t e)
{
  Net *net = &s->net;
  Epoch *ep = &s->ep[e];
  model_ranking (&s->names, e, ep);
  g_autoptr (GPtrArray) ranks = collect_auto_ranks (s, e);
  g_assert_cmpuint (ranks->len, ==, NODES);
  RankTx *winner = NULL;
  for (guint i = 0; i < ranks->len; i++) {
    RankTx *r = ranks->pdata[i];
    gboolean from_node = FALSE;
    for (int k = 0; k < NODES; k++)
      from_node |= strcmp (r->sender, naddr (net, k)) == 0;
    g_assert_true (from_node);
    for (guint j = 0; j < i; j++)
      g_assert_cmpstr (r->sender, !=, ((RankTx *)ranks->pdata[j])->sender);
    if (r->ok) {
      g_assert_null (winner);
      winner = r;
    }
  }
  g_assert_nonnull (winner);
  for (guint i = 0; i < ranks->len; i++) {
    RankTx *r = ranks->pdata[i];
    if (r == winner)
      continue;
    /* Later than the winner, and refused. */
    g_assert_true (
        r->height > winner->height
        || (r->height == winner->height && r->index > winner->index));
    g_assert_cmpstr (r->code, ==, "conflict");
    assert_contains (r->error, "already ranked");
  }
  ep->producer = g_strdup (winner->sender);
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    check_ranking (net, i, &s->names, e, ep);
    g_autoptr (json_t) j = get_epoch (net, i, e);
    const json_t *r = json_object_get (j, "ranking");
    g_assert_cmpstr (json_string_value (json_object_get (r, "producer")), ==,
                     winner->sender);
    g_assert_cmpint (json_integer_value (json_object_get (r, "height")), ==,
                     winner->height);
    g_assert_true (json_is_null (json_object_get (j, "rewards")));
  }
  g_test_message ("epoch %" G_GINT64_FORMAT ": %d services ranked, producer "
                  "%s at height %" G_GUINT64_FORMAT ", hash %s",
                  e, ep->nranked, winner->sender, winner->height, ep->hash);
}

static void
check_supply (Sim *s)
{
  Net *net = &s->net;
  for (int i = 0; i < NODES; i++) {
    g_autoptr (json_t) j = get_json (net, i, "/v1/market/supply");
    g_assert_cmpint (json_integer_value (json_object_get (j, "minted")), ==,
                     s->minted);
    g_assert_cmpint (json_integer_value (json_object_get (j, "cap")), ==,
                     net->p->cap);
    g_assert_cmpint (json_integer_value (json_object_get (j, "remaining")), ==,
                     net->p->cap - s->minted);
    g_assert_cmpint (bank_supply (net, i, "voucher"), ==, s->minted);
    g_assert_cmpint (s->minted, <=, net->p->cap);
  }
}

/* market.distribute for a ranked epoch: the model's rewards, minted. */
static void
distribute (Sim *s, int64_t e)
{
  Net *net = &s->net;
  Epoch *ep = &s->ep[e];
  s->rewards[e] = model_rewards (&s->names, e, ep, s->minted);
  g_free (ok_tx (net, net->platform, "market.distribute",
                 json_pack ("{s:I}", "epoch", (json_int_t)e)));
  s->minted += ep->minted;
  for (int k = 0; k < N_POOLS; k++) {
    const char *a;
    json_t *v;
    json_object_foreach (json_object_get (s->rewards[e], pool_names[k]), a, v)
    {
      voucher_add (s, a, json_integer_value (v));
    }
  }
  /* The producer's pool goes to the producer only. */
  const json_t *prod = json_object_get (s->rewards[e], "producer");
  g_assert_cmpuint (json_object_size (prod), ==, ep->minted > 0 ? 1 : 0);
  sync_all (net);
  for (int i = 0; i < NODES; i++)
    check_rewards (net, i, e, s->rewards[e]);
  check_supply (s);
  g_test_message (
      "epoch %" G_GINT64_FORMAT ": issuance %" JSON_INTEGER_FORMAT
      ", minted %" G_GINT64_FORMAT ", total %" G_GINT64_FORMAT,
      e, json_integer_value (json_object_get (s->rewards[e], "issuance")),
      ep->minted, s->minted);
}

/* market.rank and market.distribute refusals (epoch 3, after distributing
 * epoch 2). */
static void
bad_rank_distribute (Sim *s, int64_t e)
{
  Net *net = &s->net;
  g_autoptr (json_t) before = get_epoch (net, 0, e - 1);
  int64_t minted = s->minted;
  bad_tx (net, net->platform, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)e), "not_found",
          "has no ranking yet");
  bad_tx (net, net->platform, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)(e - 1)), "conflict",
          "already distributed");
  bad_tx (net, net->outsider, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)(e - 1)), "unauthorized",
          "does not hold the platform role");
  bad_tx (net, net->n[1].key, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)e), "unauthorized",
          "does not hold the platform role");
  refused_tx (net, net->platform, "market.distribute",
              json_pack ("{s:I}", "epoch", (json_int_t)-1), "epoch must be");

  const char *hash = s->ep[e - 1].hash;
  bad_tx (net, net->n[1].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)(e - 1), "hash", hash),
          "conflict", "already ranked");
  bad_tx (net, net->n[2].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)e, "hash", hash),
          "invalid", "is not complete");
  bad_tx (net, net->outsider, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)(e - 1), "hash", hash),
          "unauthorized", "app nodes produce rankings");
  refused_tx (
      net, net->n[1].key, "market.rank",
      json_pack ("{s:I,s:s}", "epoch", (json_int_t)(e - 1), "hash", "ABC"),
      "hash a SHA-256");
  g_autoptr (json_t) after = get_epoch (net, 0, e - 1);
  g_assert_true (json_equal (before, after));
  g_assert_cmpint (s->minted, ==, minted);
  check_supply (s);
  g_autoptr (json_t) now = get_epoch (net, 0, e);
  g_assert_true (json_is_null (json_object_get (now, "ranking")));
  g_assert_true (json_is_null (json_object_get (now, "rewards")));
  /* Preview of an epoch that is not complete: 409. */
  g_autofree char *pp
      = g_strdup_printf ("/v1/market/epochs/%" G_GINT64_FORMAT "?preview=1", e);
  http_refused (net, 0, "GET", pp, NULL, 409, "conflict", "is not complete");
  http_refused (net, 0, "GET", "/v1/market/epochs/x1", NULL, 400, "invalid",
                "not an epoch number");
}

/* ---- trading ----------------------------------------------------------- */

/* A market.trade whose amount is 2^63 (out of int64, so no json_t can hold
 * it): the canonical bytes are built and signed by hand. */
static void
trade_2_63 (Net *net, CairnKey *k, const char *to)
{
  const char *placeholder = "1111111111111111111";
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (k), 32);
  g_autoptr (json_t) unsigned_tx = json_pack (
      "{s:{s:I,s:s,s:s},s:s,s:s,s:I,s:s,s:s}", "body", "amount",
      (json_int_t)1111111111111111111LL, "denom", "voucher", "to", to,
      "chain_id", CHAIN, "from", addr (k), "nonce",
      (json_int_t)next_nonce (net, k), "pubkey", pk, "type", "market.trade");
  g_autofree char *text = cairn_cjson_dump (unsigned_tx, NULL, NULL);
  g_autofree char *big = NULL;
  {
    g_auto (GStrv) parts = g_strsplit (text, placeholder, 2);
    g_assert_nonnull (parts[1]);
    big = g_strconcat (parts[0], "9223372036854775808", parts[1], NULL);
  }
  uint8_t sig[64];
  cairn_key_sign (k, CAIRN_DOMAIN_TX, big, strlen (big), sig);
  g_autofree char *sighex = cairn_hex_encode (sig, 64);
  /* Insert "sig" in its sorted place, before "type". */
  g_auto (GStrv) halves = g_strsplit (big, ",\"type\":", 2);
  g_assert_nonnull (halves[1]);
  g_autofree char *signed_text = g_strdup_printf (
      "%s,\"sig\":\"%s\",\"type\":%s", halves[0], sighex, halves[1]);
  g_autoptr (json_t) j
      = http_json (net, 0, "POST", "/v1/txs", signed_text, 400);
  const json_t *e = json_object_get (j, "error");
  g_test_message ("amount 2^63: %s: %s",
                  json_string_value (json_object_get (e, "code")),
                  json_string_value (json_object_get (e, "message")));
  g_assert_cmpstr (json_string_value (json_object_get (e, "code")), ==,
                   "malformed");
  assert_contains (json_string_value (json_object_get (e, "message")),
                   "integer");
}

static json_t *
trade_body (const char *to, const char *denom, json_int_t amount)
{
  return json_pack ("{s:s,s:s,s:I}", "to", to, "denom", denom, "amount",
                    amount);
}

static json_t *
get_trades (Net *net, int node, const char *a)
{
  g_autofree char *path = g_strdup_printf ("/v1/market/trades/%s", a);
  g_autoptr (json_t) j = get_json (net, node, path);
  return json_incref (json_object_get (j, "trades"));
}

static json_t *
get_order (Net *net, int node, const char *id)
{
  g_autofree char *path = g_strdup_printf ("/v1/market/orders/%s", id);
  return get_json (net, node, path);
}

static void
trading (Sim *s)
{
  Net *net = &s->net;
  CairnKey *a = net->users[0], *b = net->users[3];
  CairnKey *payer = net->users[1], *broke = net->users[2];
  int64_t va = balance (net, 0, addr (a), "voucher");
  int64_t vb = balance (net, 0, addr (b), "voucher");
  g_assert_cmpint (va, ==, voucher_of (s, addr (a)));
  g_assert_cmpint (va, >, 100);

  /* Stateless refusals at admission: amounts 0, -1, 2^63; a 1-letter
   * denom. */
  refused_tx (net, a, "market.trade", trade_body (addr (b), "voucher", 0),
              "must be a positive integer");
  refused_tx (net, a, "market.trade", trade_body (addr (b), "voucher", -1),
              "must be a positive integer");
  trade_2_63 (net, a, addr (b));
  refused_tx (net, a, "market.trade", trade_body (addr (b), "v", 5),
              "denom 'v' must be 2-16");
  refused_tx (net, a, "market.trade", trade_body ("nobody", "voucher", 5),
              "is not an address");
  /* Refused when executed: to oneself, more than the balance, the int64
   * maximum. */
  bad_tx (net, a, "market.trade", trade_body (addr (a), "voucher", 5),
          "invalid", "sender and receiver are both");
  bad_tx (net, a, "market.trade", trade_body (addr (b), "voucher", va + 1),
          "insufficient_funds", "insufficient funds");
  bad_tx (net, a, "market.trade", trade_body (addr (b), "voucher", G_MAXINT64),
          "insufficient_funds", "insufficient funds");
  g_assert_cmpint (balance (net, 0, addr (a), "voucher"), ==, va);
  g_assert_cmpint (balance (net, 0, addr (b), "voucher"), ==, vb);
  g_autoptr (json_t) none = get_trades (net, 0, addr (a));
  g_assert_cmpuint (json_array_size (none), ==, 0);

  /* A valid trade, recorded for both sides. */
  json_t *tb = trade_body (addr (b), "voucher", 7);
  json_object_set_new (tb, "memo", json_string ("for the ride"));
  g_autofree char *tid = ok_tx (net, a, "market.trade", tb);
  va -= 7;
  vb += 7;
  voucher_add (s, addr (a), -7);
  voucher_add (s, addr (b), 7);
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    g_assert_cmpint (balance (net, i, addr (a), "voucher"), ==, va);
    g_assert_cmpint (balance (net, i, addr (b), "voucher"), ==, vb);
    CairnKey *side[] = { a, b };
    for (int k = 0; k < 2; k++) {
      g_autoptr (json_t) t = get_trades (net, i, addr (side[k]));
      g_assert_cmpuint (json_array_size (t), ==, 1);
      const json_t *r = json_array_get (t, 0);
      g_assert_cmpstr (json_string_value (json_object_get (r, "kind")), ==,
                       "transfer");
      g_assert_cmpstr (json_string_value (json_object_get (r, "from")), ==,
                       addr (a));
      g_assert_cmpstr (json_string_value (json_object_get (r, "to")), ==,
                       addr (b));
      g_assert_cmpint (json_integer_value (json_object_get (r, "amount")), ==,
                       7);
      g_assert_cmpstr (json_string_value (json_object_get (r, "memo")), ==,
                       "for the ride");
      g_assert_cmpstr (json_string_value (json_object_get (r, "tx")), ==, tid);
    }
  }

  /* The int64 maximum, exactly: the whole supply of BIG_DENOM moves to one
   * account and back. A receiver cannot be pushed over 2^63-1 by a trade,
   * because the bank keeps each supply (the sum of all balances) within
   * it; the genesis gives rich + poor exactly INT64_MAX. */
  g_assert_cmpint (bank_supply (net, 0, BIG_DENOM), ==, G_MAXINT64);
  g_free (ok_tx (net, net->poor, "market.trade",
                 trade_body (addr (net->rich), BIG_DENOM, 10)));
  g_assert_cmpint (balance (net, 0, addr (net->rich), BIG_DENOM), ==,
                   G_MAXINT64);
  bad_tx (net, net->poor, "market.trade",
          trade_body (addr (net->rich), BIG_DENOM, 1), "insufficient_funds",
          "has 0 big, needs 1");
  g_free (ok_tx (net, net->rich, "market.trade",
                 trade_body (addr (net->poor), BIG_DENOM, G_MAXINT64)));
  g_assert_cmpint (balance (net, 0, addr (net->poor), BIG_DENOM), ==,
                   G_MAXINT64);
  g_assert_cmpint (balance (net, 0, addr (net->rich), BIG_DENOM), ==, 0);
  g_assert_cmpint (bank_supply (net, 0, BIG_DENOM), ==, G_MAXINT64);

  /* An order: a sells 20 vouchers for 50 cairn; they are locked. */
  json_t *ob = json_pack ("{s:{s:s,s:I},s:{s:s,s:I}}", "sell", "denom",
                          "voucher", "amount", (json_int_t)20, "buy", "denom",
                          "cairn", "amount", (json_int_t)50);
  refused_tx (net, a, "market.order",
              json_pack ("{s:{s:s,s:I},s:{s:s,s:I}}", "sell", "denom",
                         "voucher", "amount", (json_int_t)20, "buy", "denom",
                         "voucher", "amount", (json_int_t)50),
              "two different denominations");
  refused_tx (net, a, "market.order",
              json_pack ("{s:{s:s,s:I},s:{s:s,s:I}}", "sell", "denom",
                         "voucher", "amount", (json_int_t)0, "buy", "denom",
                         "cairn", "amount", (json_int_t)50),
              "sell.amount must be a positive integer");
  bad_tx (net, a, "market.order",
          json_pack ("{s:{s:s,s:I},s:{s:s,s:I}}", "sell", "denom", "voucher",
                     "amount", (json_int_t)(va + 1), "buy", "denom", "cairn",
                     "amount", (json_int_t)1),
          "insufficient_funds", "insufficient funds");
  g_autofree char *oid = ok_tx (net, a, "market.order", ob);
  g_assert_cmpint (balance (net, 0, addr (a), "voucher"), ==, va - 20);
  g_assert_cmpint (locked (net, 0, addr (a), "voucher"), ==, 20);
  g_autoptr (json_t) open = get_json (net, 0, "/v1/market/orders/?status=open");
  g_assert_cmpuint (json_array_size (json_object_get (open, "orders")), ==, 1);

  /* A fill without the cairn: refused, the order stays open and locked. */
  int64_t pc = balance (net, 0, addr (payer), "cairn");
  int64_t bc = balance (net, 0, addr (broke), "cairn");
  g_assert_cmpint (bc, <, 50);
  bad_tx (net, broke, "market.fill", json_pack ("{s:s}", "order", oid),
          "insufficient_funds", "insufficient funds");
  bad_tx (net, a, "market.fill", json_pack ("{s:s}", "order", oid), "invalid",
          "cannot fill its own order");
  bad_tx (net, b, "market.cancel", json_pack ("{s:s}", "order", oid),
          "unauthorized", "only the maker");
  g_autofree char *unknown = g_strnfill (64, 'd');
  bad_tx (net, payer, "market.fill", json_pack ("{s:s}", "order", unknown),
          "not_found", "unknown order");
  refused_tx (net, payer, "market.fill", json_pack ("{s:s}", "order", "12"),
              "order id");
  g_autoptr (json_t) still = get_order (net, 0, oid);
  g_assert_cmpstr (json_string_value (json_object_get (still, "status")), ==,
                   "open");
  g_assert_cmpint (locked (net, 0, addr (a), "voucher"), ==, 20);
  g_assert_cmpint (balance (net, 0, addr (broke), "cairn"), ==, bc);
  g_assert_cmpint (balance (net, 0, addr (broke), "voucher"), ==,
                   voucher_of (s, addr (broke)));

  /* Filled by the payer: exact movements, the order closed. */
  g_free (ok_tx (net, payer, "market.fill", json_pack ("{s:s}", "order", oid)));
  voucher_add (s, addr (a), -20);
  voucher_add (s, addr (payer), 20);
  va -= 20;
  sync_all (net);
  for (int i = 0; i < NODES; i++) {
    g_assert_cmpint (balance (net, i, addr (a), "voucher"), ==, va);
    g_assert_cmpint (locked (net, i, addr (a), "voucher"), ==, 0);
    g_assert_cmpint (balance (net, i, addr (a), "cairn"), ==, 50);
    g_assert_cmpint (balance (net, i, addr (payer), "cairn"), ==, pc - 50);
    g_assert_cmpint (balance (net, i, addr (payer), "voucher"), ==,
                     voucher_of (s, addr (payer)));
    g_autoptr (json_t) o = get_order (net, i, oid);
    g_assert_cmpstr (json_string_value (json_object_get (o, "status")), ==,
                     "filled");
    g_assert_cmpstr (json_string_value (json_object_get (o, "taker")), ==,
                     addr (payer));
    g_autoptr (json_t) t = get_trades (net, i, addr (payer));
    g_assert_cmpuint (json_array_size (t), ==, 1);
    g_assert_cmpstr (
        json_string_value (json_object_get (json_array_get (t, 0), "kind")), ==,
        "fill");
    g_autoptr (json_t) ta = get_trades (net, i, addr (a));
    g_assert_cmpuint (json_array_size (ta), ==, 2); /* newest first */
    g_assert_cmpstr (
        json_string_value (json_object_get (json_array_get (ta, 0), "kind")),
        ==, "fill");
  }
  bad_tx (net, payer, "market.fill", json_pack ("{s:s}", "order", oid),
          "conflict", "is filled");
  bad_tx (net, a, "market.cancel", json_pack ("{s:s}", "order", oid),
          "conflict", "is filled");

  /* Cancelled by the maker: the locked vouchers come back. */
  g_autofree char *oid2
      = ok_tx (net, a, "market.order",
               json_pack ("{s:{s:s,s:I},s:{s:s,s:I}}", "sell", "denom",
                          "voucher", "amount", (json_int_t)5, "buy", "denom",
                          "cairn", "amount", (json_int_t)1));
  g_assert_cmpint (balance (net, 0, addr (a), "voucher"), ==, va - 5);
  g_free (ok_tx (net, a, "market.cancel", json_pack ("{s:s}", "order", oid2)));
  g_assert_cmpint (balance (net, 0, addr (a), "voucher"), ==, va);
  g_assert_cmpint (locked (net, 0, addr (a), "voucher"), ==, 0);
  g_autoptr (json_t) o2 = get_order (net, 0, oid2);
  g_assert_cmpstr (json_string_value (json_object_get (o2, "status")), ==,
                   "cancelled");
  bad_tx (net, a, "market.cancel", json_pack ("{s:s}", "order", oid2),
          "conflict", "is cancelled");
  g_autoptr (json_t) none_open
      = get_json (net, 0, "/v1/market/orders/?status=open");
  g_assert_cmpuint (json_array_size (json_object_get (none_open, "orders")), ==,
                    0);
  /* Trades move vouchers, they never mint. */
  g_assert_cmpint (bank_supply (net, 0, "voucher"), ==, s->minted);
}

/* ---- the platform test ------------------------------------------------- */

static void
check_balances (Sim *s)
{
  Net *net = &s->net;
  sync_all (net);
  GPtrArray *who = g_ptr_array_new ();
  for (int u = 0; u < N_USERS; u++)
    g_ptr_array_add (who, (gpointer)addr (net->users[u]));
  for (int d = 0; d < N_DEVS; d++)
    g_ptr_array_add (who, (gpointer)addr (net->devs[d]));
  for (int i = 0; i < NODES; i++)
    g_ptr_array_add (who, (gpointer)naddr (net, i));
  g_ptr_array_add (who, (gpointer)addr (net->platform));
  int64_t total = 0;
  for (guint k = 0; k < who->len; k++) {
    int64_t want = voucher_of (s, who->pdata[k]);
    total += want;
    for (int i = 0; i < NODES; i++)
      if (balance (net, i, who->pdata[k], "voucher") != want)
        g_error ("node %d: %s holds %" G_GINT64_FORMAT
                 " vouchers, the schedule gives %" G_GINT64_FORMAT,
                 i, (const char *)who->pdata[k],
                 balance (net, i, who->pdata[k], "voucher"), want);
  }
  g_ptr_array_unref (who);
  g_assert_cmpint (total, ==, s->minted);
  /* The producers' vouchers are exactly their producer pools. */
  for (int i = 0; i < NODES; i++) {
    int64_t prod = 0;
    for (int e = 0; e < EPOCHS; e++)
      prod += json_integer_value (json_object_get (
          json_object_get (s->rewards[e], "producer"), naddr (net, i)));
    g_assert_cmpint (voucher_of (s, naddr (net, i)), ==, prod);
  }
}

/* A user's usage and rewards over the users route (before any trade). */
static void
check_user_route (Sim *s, int user)
{
  Net *net = &s->net;
  g_autofree char *path = g_strdup_printf ("/v1/market/users/%s?from=0&to=%d",
                                           addr (net->users[user]), EPOCHS);
  g_autoptr (json_t) u = get_json (net, 2, path);
  int64_t sum = 0;
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get (u, "rewards"), i, r)
  {
    sum += json_integer_value (json_object_get (r, "amount"));
  }
  g_assert_cmpint (sum, ==, voucher_of (s, addr (net->users[user])));
  if (user == 0)
    g_assert_cmpuint (json_array_size (json_object_get (u, "usage")), ==,
                      EPOCHS - 1); /* every epoch but the tie epoch */
}

static void
check_same_state (Net *net)
{
  sync_all (net);
  uint64_t h = head (net, 0);
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) b0 = cairn_node_block_json (net->n[0].node, h, &err);
  g_assert_no_error (err);
  const char *root = json_string_value (
      json_object_get (json_object_get (b0, "header"), "state_root"));
  for (int i = 1; i < net->nodes; i++) {
    g_assert_cmpuint (head (net, i), ==, h);
    g_autoptr (json_t) bi = cairn_node_block_json (net->n[i].node, h, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (json_string_value (json_object_get (
                         json_object_get (bi, "header"), "state_root")),
                     ==, root);
    g_assert_cmpstr (root, ==, net->n[i].node->head_state_root);
  }
  g_test_message ("height %" G_GUINT64_FORMAT ": state root %s on %d nodes", h,
                  root, net->nodes);
}

static void
test_platform (void)
{
  int64_t t0 = g_get_monotonic_time ();
  Sim *s = g_new0 (Sim, 1);
  Net *net = &s->net;
  const Params *p = &platform_params;
  net_up (net, NODES, p, TRUE);
  s->rand = g_rand_new_with_seed (SEED);
  s->vouchers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->rank_scan = 1;
  s->names.p = p;
  s->names.nsvc = N_SERVICES;
  s->names.nnodes = NODES;
  for (int i = 0; i < NODES; i++)
    s->names.node[i] = naddr (net, i);
  for (int u = 0; u < N_USERS; u++)
    s->names.user[u] = addr (net->users[u]);
  for (int i = 0; i < NODES; i++)
    check_params (net, i);

  setup_services (s);
  bad_registry (s);
  for (int64_t e = 0; e < EPOCHS; e++) {
    if (e > 0) {
      if (e == 3) {
        /* Distributing before the ranking exists, at the start. */
        bad_tx (net, net->platform, "market.distribute",
                json_pack ("{s:I}", "epoch", (json_int_t)e), "not_found",
                "no ranking");
      }
      distribute (s, e - 1);
      if (e == 3)
        bad_rank_distribute (s, e);
    }
    check_params (net, 0);
    g_autoptr (GArray) recs = g_array_new (FALSE, FALSE, sizeof (Rec));
    g_autoptr (GArray) rates = g_array_new (FALSE, FALSE, sizeof (Rating));
    generate (s, e, recs, rates);
    submit_epoch (s, e, recs, rates);
    if (e == 1)
      bad_usage (s, e, recs);
    if (e == 2)
      bad_ratings (s, e, rates);
    g_hash_table_remove_all (s->reported);
    uint64_t end = (uint64_t)((e + 1) * p->epoch_blocks);
    if (head (net, 0) >= end)
      g_error ("epoch %" G_GINT64_FORMAT ": its work took the chain to "
               "height %" G_GUINT64_FORMAT ", past its end %" G_GUINT64_FORMAT
               ": raise epoch_blocks",
               e, head (net, 0), end);
    g_test_message ("epoch %" G_GINT64_FORMAT ": %" G_GUINT64_FORMAT
                    " of %" G_GINT64_FORMAT " blocks used before the fillers",
                    e, head (net, 0) - (uint64_t)(e * p->epoch_blocks),
                    p->epoch_blocks);
    advance_to (net, end);
    epoch_ranked (s, e);
    g_assert_cmpint (s->ep[e].nranked, >=, e == TIE_EPOCH ? 3 : p->top);
  }
  distribute (s, EPOCHS - 1);

  /* The schedule: the cap binds inside the run, nothing after it. */
  int cap_epoch = -1;
  int64_t sum = 0;
  for (int e = 0; e < EPOCHS; e++) {
    sum += s->ep[e].minted;
    if (sum == p->cap && cap_epoch < 0)
      cap_epoch = e;
    if (cap_epoch >= 0 && e > cap_epoch) {
      g_assert_cmpint (s->ep[e].minted, ==, 0);
      g_assert_cmpint (
          json_integer_value (json_object_get (s->rewards[e], "issuance")), ==,
          0);
    }
  }
  g_assert_cmpint (cap_epoch, >=, 0);
  g_assert_cmpint (cap_epoch, <, EPOCHS - 2);
  g_assert_cmpint (s->minted, ==, p->cap);
  /* The epoch without ratings left its raters' pool unissued. */
  g_assert_cmpint (s->ep[NO_RATINGS_EPOCH].minted, <,
                   json_integer_value (json_object_get (
                       s->rewards[NO_RATINGS_EPOCH], "issuance")));
  g_assert_cmpuint (json_object_size (json_object_get (
                        s->rewards[NO_RATINGS_EPOCH], "raters")),
                    ==, 0);
  g_autoptr (json_t) sup = get_json (net, 1, "/v1/market/supply");
  g_assert_cmpint (json_integer_value (json_object_get (sup, "remaining")), ==,
                   0);
  g_assert_cmpint (json_integer_value (json_object_get (sup, "issuance_now")),
                   ==, 0);
  g_test_message ("the cap %" G_GINT64_FORMAT " is reached in epoch %d", p->cap,
                  cap_epoch);

  /* Every epoch identical on every node; the ranking route agrees. */
  sync_all (net);
  for (int64_t e = 0; e < EPOCHS; e++) {
    g_autoptr (json_t) e0 = get_epoch (net, 0, e);
    for (int i = 1; i < NODES; i++) {
      g_autoptr (json_t) ei = get_epoch (net, i, e);
      g_assert_true (json_equal (e0, ei));
    }
    check_ranking (net, 0, &s->names, e, &s->ep[e]);
    check_rewards (net, 0, e, s->rewards[e]);
  }
  g_autofree char *rp
      = g_strdup_printf ("/v1/market/ranking?from=0&to=%d", EPOCHS - 1);
  g_autoptr (json_t) rl = get_json (net, 2, rp);
  g_assert_cmpuint (json_array_size (json_object_get (rl, "epochs")), ==,
                    EPOCHS);
  for (int e = 0; e < EPOCHS; e++)
    g_assert_cmpstr (
        json_string_value (json_object_get (
            json_array_get (json_object_get (rl, "epochs"), e), "hash")),
        ==, s->ep[e].hash);
  check_balances (s);
  for (int u = 0; u < 5; u++)
    check_user_route (s, u);

  trading (s);
  check_balances (s);
  check_same_state (net);
  g_test_message ("platform test: %" G_GUINT64_FORMAT " blocks in %.1f s",
                  head (net, 0),
                  (double)(g_get_monotonic_time () - t0) / G_USEC_PER_SEC);

  for (int e = 0; e < EPOCHS; e++) {
    epoch_clear (&s->ep[e]);
    json_decref (s->rewards[e]);
  }
  for (int i = 0; i < N_SERVICES; i++)
    g_free (s->svc_id[i]);
  g_free (s->cid);
  g_free (s->sha);
  g_rand_free (s->rand);
  g_hash_table_destroy (s->vouchers);
  g_hash_table_destroy (s->reported);
  net_down (net);
  g_free (s);
}

/* ---- one node, auto_rank = false -------------------------------------- */

static void
test_manual_rank (void)
{
  Sim *s = g_new0 (Sim, 1);
  Net *net = &s->net;
  const Params *p = &manual_params;
  net_up (net, 1, p, FALSE);
  check_params (net, 0);
  s->names.p = p;
  s->names.nsvc = 2;
  s->names.nnodes = 1;
  s->names.node[0] = naddr (net, 0);
  for (int u = 0; u < N_USERS; u++)
    s->names.user[u] = addr (net->users[u]);

  static const char pkg[] = "another package";
  g_autoptr (json_t) put
      = http_raw (net, 0, "POST", "/v1/blobs", pkg, sizeof pkg - 1, 201);
  g_autofree char *sha = sha256_hex (pkg, sizeof pkg - 1);
  for (int i = 0; i < 2; i++) {
    s->svc_id[i] = ok_tx (
        net, net->platform, "market.create",
        json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "developer",
                   addr (net->devs[i]), "name", i ? "Stories" : "Music",
                   "category", i ? "stories" : "music", "version", "2.1.0",
                   "package_cid",
                   json_string_value (json_object_get (put, "cid")),
                   "package_sha256", sha));
    s->names.svc_id[i] = s->svc_id[i];
    s->names.svc_dev[i] = addr (net->devs[i]);
    g_free (ok_tx (net, net->n[0].key, "market.serve",
                   json_pack ("{s:s}", "service", s->svc_id[i])));
  }
  /* Epoch 0 (heights 1-10): four blocks are used; one usage tx, two
   * ratings. */
  Epoch *ep = &s->ep[0];
  Batch b;
  batch_init (&b);
  batch_add (net, &b, net->n[0].key, "market.usage",
             json_pack ("{s:I,s:[o,o,o]}", "period", (json_int_t)0, "records",
                        record_json (s, 0, 0, 10, 60),
                        record_json (s, 0, 1, 2, 5),
                        record_json (s, 1, 2, 3, 30)));
  batch_add (net, &b, net->users[0], "market.rate",
             rating_body (s, 0, 0, 5, FALSE));
  batch_add (net, &b, net->users[3], "market.rate",
             rating_body (s, 1, 0, 2, TRUE));
  batch_post (net, 0, &b);
  g_assert_cmpuint (batch_wait_ok (net, &b), <=, (uint64_t)p->epoch_blocks);
  batch_clear (&b);
  model_usage (ep, 0, 0, 0, 10, 60);
  model_usage (ep, 0, 1, 0, 2, 5);
  model_usage (ep, 1, 2, 0, 3, 30);
  model_rating (ep, 0, 0, 5);
  model_rating (ep, 1, 3, 2);
  model_ranking (&s->names, 0, ep);

  advance_to (net, (uint64_t)p->epoch_blocks);
  /* auto_rank = false: the node sends nothing. */
  uint64_t nonce = next_nonce (net, net->n[0].key);
  spin (300);
  g_assert_cmpuint (head (net, 0), ==, (uint64_t)p->epoch_blocks);
  g_assert_cmpuint (next_nonce (net, net->n[0].key), ==, nonce);
  g_autoptr (json_t) none = get_epoch (net, 0, 0);
  g_assert_true (json_is_null (json_object_get (none, "ranking")));

  /* The preview computes the same ranking as the model. */
  g_autoptr (json_t) pv = get_json (net, 0, "/v1/market/epochs/0?preview=1");
  g_assert_true (json_is_true (json_object_get (pv, "preview")));
  g_assert_cmpstr (json_string_value (json_object_get (
                       json_object_get (pv, "ranking"), "hash")),
                   ==, ep->hash);
  http_refused (net, 0, "GET", "/v1/market/epochs/1?preview=1", NULL, 409,
                "conflict", "is not complete");

  g_autofree char *wrong = g_strnfill (64, '0');
  bad_tx (net, net->n[0].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)1, "hash", ep->hash),
          "invalid", "is not complete");
  bad_tx (net, net->n[0].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)0, "hash", wrong),
          "invalid", "does not match");
  bad_tx (net, net->platform, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)0), "not_found",
          "no ranking");
  bad_tx (net, net->outsider, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)0, "hash", ep->hash),
          "unauthorized", "app nodes produce rankings");
  g_autoptr (json_t) still = get_epoch (net, 0, 0);
  g_assert_true (json_is_null (json_object_get (still, "ranking")));
  g_autoptr (json_t) sup0 = get_json (net, 0, "/v1/market/supply");
  g_assert_cmpint (json_integer_value (json_object_get (sup0, "minted")), ==,
                   0);

  g_autofree char *rid = ok_tx (
      net, net->n[0].key, "market.rank",
      json_pack ("{s:I,s:s}", "epoch", (json_int_t)0, "hash", ep->hash));
  ep->producer = g_strdup (naddr (net, 0));
  check_ranking (net, 0, &s->names, 0, ep);
  bad_tx (net, net->n[0].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)0, "hash", ep->hash),
          "conflict", "already ranked");

  /* Two services ranked, top_services 10: README weights 10 and 9. */
  g_autoptr (json_t) want = model_rewards (&s->names, 0, ep, 0);
  g_free (ok_tx (net, net->platform, "market.distribute",
                 json_pack ("{s:I}", "epoch", (json_int_t)0)));
  check_rewards (net, 0, 0, want);
  int64_t supply = p->poor_vouchers + p->initial;
  g_assert_cmpint (bank_supply (net, 0, "voucher"), ==, supply);
  bad_tx (net, net->platform, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)0), "conflict",
          "already distributed");
  g_assert_cmpint (bank_supply (net, 0, "voucher"), ==, supply);

  /* Epoch 1 completes with nothing in it: nothing to rank. */
  advance_to (net, 2 * (uint64_t)p->epoch_blocks);
  bad_tx (net, net->n[0].key, "market.rank",
          json_pack ("{s:I,s:s}", "epoch", (json_int_t)1, "hash", ep->hash),
          "invalid", "nothing to rank");

  /* Epoch 2: its issuance would push the voucher supply over 2^63-1. The
   * developers' 500000 fit exactly (INT64_MAX), the users' pool does not:
   * the whole distribution fails and the developer's mint is undone. */
  Epoch *ep2 = &s->ep[2];
  g_free (ok_tx (net, net->n[0].key, "market.usage",
                 json_pack ("{s:I,s:[o]}", "period", (json_int_t)2, "records",
                            record_json (s, 1, 5, 4, 40))));
  model_usage (ep2, 1, 5, 0, 4, 40);
  model_ranking (&s->names, 2, ep2);
  advance_to (net, 3 * (uint64_t)p->epoch_blocks);
  g_free (ok_tx (
      net, net->n[0].key, "market.rank",
      json_pack ("{s:I,s:s}", "epoch", (json_int_t)2, "hash", ep2->hash)));
  ep2->producer = g_strdup (naddr (net, 0));
  check_ranking (net, 0, &s->names, 2, ep2);
  int64_t dev1 = balance (net, 0, addr (net->devs[1]), "voucher");
  g_assert_cmpint (dev1, >, 0);
  bad_tx (net, net->platform, "market.distribute",
          json_pack ("{s:I}", "epoch", (json_int_t)2), "overflow",
          "exceeds the maximum amount");
  g_assert_cmpint (balance (net, 0, addr (net->devs[1]), "voucher"), ==, dev1);
  g_assert_cmpint (bank_supply (net, 0, "voucher"), ==, supply);
  g_autoptr (json_t) e2 = get_epoch (net, 0, 2);
  g_assert_true (json_is_null (json_object_get (e2, "rewards")));
  g_autoptr (json_t) sup1 = get_json (net, 0, "/v1/market/supply");
  g_assert_cmpint (json_integer_value (json_object_get (sup1, "minted")), ==,
                   p->initial);
  epoch_clear (ep2);

  epoch_clear (ep);
  for (int i = 0; i < 2; i++)
    g_free (s->svc_id[i]);
  net_down (net);
  g_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  g_test_add_func ("/market/platform", test_platform);
  g_test_add_func ("/market/manual-rank", test_manual_rank);
  int rc = g_test_run ();
  g_free (plugins_dir);
  return rc;
}

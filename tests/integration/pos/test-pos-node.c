/* In-process PoS nodes with the real store-lmdb, bank and pos plugins and
 * no P2P: staking txs, the validator set per height, unbonding, slashing
 * on double-signing evidence (detected by the engine, submitted by the
 * node), jailing, block rewards and the pos metrics.
 *
 * Each node has two genesis validators: V1 (the node key, stake 1000) and
 * V2 (stake 100, its key held by the test), so V1 alone holds > 2/3 of the
 * power and the node makes blocks by itself. Exact checks read the state
 * at past heights (cairn_node_state_get), so they do not race the chain. */
#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "engine.h"
#include "node_private.h"
#include "tx.h"

#define CHAIN "t"
#define V1_STAKE 1000
#define V2_STAKE 100
#define START_BALANCE 5000

static char *plugins_dir;

typedef struct {
  json_t *params;         /* app_state.pos (borrowed), NULL = none */
  const char *extra_conf; /* appended to cairn.conf */
  int64_t v2_balance;     /* 0 = START_BALANCE */
} Opts;

typedef struct {
  char *home;
  CairnKey *v1, *v2, *admin, *alice, *carol;
  CairnNode *node;
  SoupSession *http;
  char *url;
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
  g_autoptr (GError) err = NULL;
  g_file_set_contents (path, text, -1, &err);
  g_assert_no_error (err);
}

static json_t *
account (CairnKey *k, int64_t balance, const char *role)
{
  json_t *a = json_pack ("{s:s, s:[], s:{s:I}}", "address", addr (k), "roles",
                         "balances", "cairn", (json_int_t)balance);
  if (role)
    json_array_append_new (json_object_get (a, "roles"), json_string (role));
  return a;
}

static json_t *
validator (CairnKey *k, int64_t stake)
{
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (k), 32);
  return json_pack ("{s:s, s:s, s:I}", "address", addr (k), "pubkey", pk,
                    "stake", (json_int_t)stake);
}

static void
make_home (Net *n, const Opts *o)
{
  g_autoptr (GError) err = NULL;
  n->home = g_dir_make_tmp ("cairn-pos-node-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *keys = g_build_filename (n->home, "keys", NULL);
  g_mkdir_with_parents (keys, 0700);
  g_autofree char *kp = g_build_filename (keys, "node.pem", NULL);
  g_assert_true (cairn_key_save (n->v1, kp, &err));
  json_t *accounts = json_array ();
  json_array_append_new (accounts, account (n->admin, 1000000, "admin"));
  json_array_append_new (accounts, account (n->v1, 10000, NULL));
  json_array_append_new (
      accounts,
      account (n->v2, o->v2_balance ? o->v2_balance : START_BALANCE, NULL));
  json_array_append_new (accounts, account (n->alice, START_BALANCE, NULL));
  json_array_append_new (accounts, account (n->carol, START_BALANCE, NULL));
  g_autoptr (json_t) genesis = json_pack (
      "{s:s, s:I, s:{s:i, s:[s]}, s:o, s:[o, o]}", "chain_id", CHAIN,
      "genesis_time", (json_int_t)1700000000000, "admin", "threshold", 1,
      "members", addr (n->admin), "accounts", accounts, "validators",
      validator (n->v1, V1_STAKE), validator (n->v2, V2_STAKE));
  if (o->params)
    json_object_set_new (genesis, "app_state",
                         json_pack ("{s:O}", "pos", o->params));
  g_autofree char *gtext
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  write_file (n->home, "genesis.json", gtext);
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = " CHAIN "\nlog_level = %s\n"
      "[plugins]\npath = %s\nload = store-lmdb;bank;pos\n"
      "[http]\nlisten = 127.0.0.1:0\n"
      "[p2p]\nenabled = false\n"
      "[store-lmdb]\nmap_size = 1GiB\n"
      "[pos]\nblock_interval_ms = 25\ntimeout_propose_ms = 100\n"
      "timeout_propose_delta_ms = 50\ntimeout_prevote_ms = 50\n"
      "timeout_precommit_ms = 50\nrebroadcast_ms = 0\n"
      "[bank]\nminters = pos\n%s",
      g_getenv ("CAIRN_TEST_LOG") ? g_getenv ("CAIRN_TEST_LOG") : "warning",
      plugins_dir, o->extra_conf ? o->extra_conf : "");
  write_file (n->home, "cairn.conf", conf);
}

static void
keys_new (Net *n)
{
  n->v1 = cairn_key_generate (NULL);
  n->v2 = cairn_key_generate (NULL);
  n->admin = cairn_key_generate (NULL);
  n->alice = cairn_key_generate (NULL);
  n->carol = cairn_key_generate (NULL);
}

static void
node_up (Net *n)
{
  g_autoptr (GError) err = NULL;
  CairnNodeOptions opts = { .home = n->home };
  n->node = cairn_node_new (&opts, &err);
  g_assert_no_error (err);
  g_assert_true (cairn_node_start (n->node, &err));
  g_assert_no_error (err);
  g_free (n->url);
  n->url = g_strdup (cairn_node_http_url (n->node));
  if (n->http == NULL)
    n->http = soup_session_new ();
}

static void
net_up (Net *n, const Opts *o)
{
  keys_new (n);
  make_home (n, o);
  node_up (n);
}

static void
net_down (Net *n)
{
  g_clear_object (&n->http);
  g_clear_pointer (&n->node, cairn_node_free);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", n->home);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (n->home);
  g_free (n->url);
  cairn_key_free (n->v1);
  cairn_key_free (n->v2);
  cairn_key_free (n->admin);
  cairn_key_free (n->alice);
  cairn_key_free (n->carol);
}

/* ---- the main loop and HTTP ----------------------------------------------
 */

static uint64_t
head (Net *n)
{
  return cairn_node_head (n->node)->height;
}

static void
wait_height (Net *n, uint64_t h)
{
  int64_t deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (head (n) < h && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (head (n) < h)
    g_error ("height %" G_GUINT64_FORMAT
             " not reached in 60 s (head %" G_GUINT64_FORMAT ")",
             h, head (n));
}

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

static char *
http (Net *n, const char *method, const char *path, const char *body,
      guint *status)
{
  g_autofree char *uri = g_strconcat (n->url, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  if (body) {
    g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));
    soup_message_set_request_body_from_bytes (msg, "application/json", b);
  }
  Reply r = { 0 };
  soup_session_send_and_read_async (n->http, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_reply, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (r.error);
  *status = soup_message_get_status (msg);
  gsize len;
  const char *p = g_bytes_get_data (r.body, &len);
  char *out = g_strndup (p, len);
  g_bytes_unref (r.body);
  return out;
}

static json_t *
http_json (Net *n, const char *method, const char *path, const char *body,
           guint want_status)
{
  guint status;
  g_autofree char *text = http (n, method, path, body, &status);
  if (status != want_status)
    g_error ("%s %s: status %u, wanted %u: %s", method, path, status,
             want_status, text);
  json_t *j = json_loads (text, 0, NULL);
  g_assert_nonnull (j);
  return j;
}

/* ---- txs ------------------------------------------------------------------
 */

static CairnTx *
sign (Net *n, CairnKey *k, const char *type, const char *body_text)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) a = cairn_node_account_json (n->node, addr (k), &err);
  g_assert_no_error (err);
  g_autoptr (json_t) body = json_loads (body_text, 0, NULL);
  g_assert_nonnull (body);
  CairnTx *tx = cairn_tx_sign (
      k, CHAIN, type, json_integer_value (json_object_get (a, "next_nonce")),
      body, &err);
  g_assert_no_error (err);
  return tx;
}

/* Submit over HTTP, wait for the commit; returns the committed tx
 * ({"height","result",...}). */
static json_t *
run_tx (Net *n, CairnKey *k, const char *type, const char *body)
{
  g_autoptr (CairnTx) tx = sign (n, k, type, body);
  json_decref (http_json (n, "POST", "/v1/txs", tx->bytes, 202));
  int64_t deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, TRUE);
    g_autoptr (json_t) t = cairn_node_tx_json (n->node, tx->id_hex, NULL);
    if (t
        && g_strcmp0 (json_string_value (json_object_get (t, "status")),
                      "committed")
               == 0)
      return g_steal_pointer (&t);
  }
  g_error ("%s %s not committed in 30 s", type, body);
}

static uint64_t
tx_height (const json_t *t)
{
  return (uint64_t)json_integer_value (json_object_get (t, "height"));
}

static void
assert_ok (const json_t *t)
{
  const json_t *r = json_object_get (t, "result");
  if (!json_is_true (json_object_get (r, "ok")))
    g_error ("tx failed: %s", json_string_value (json_object_get (r, "error")));
}

/* The tx failed with code and a message containing `words`. */
static void
assert_fails (const json_t *t, const char *code, const char *words)
{
  const json_t *r = json_object_get (t, "result");
  const char *msg = json_string_value (json_object_get (r, "error"));
  g_assert_false (json_is_true (json_object_get (r, "ok")));
  g_assert_cmpstr (json_string_value (json_object_get (r, "code")), ==, code);
  if (strstr (msg, words) == NULL)
    g_error ("error '%s' does not mention '%s'", msg, words);
}

static void
ok_tx (Net *n, CairnKey *k, const char *type, const char *body, uint64_t *h)
{
  g_autoptr (json_t) t = run_tx (n, k, type, body);
  assert_ok (t);
  if (h)
    *h = tx_height (t);
}

static void
bad_tx (Net *n, CairnKey *k, const char *type, const char *body,
        const char *code, const char *words)
{
  g_autoptr (json_t) t = run_tx (n, k, type, body);
  assert_fails (t, code, words);
}

/* Refused at admission (body shape): 400 invalid_body. */
static void
refused (Net *n, CairnKey *k, const char *type, const char *body)
{
  g_autoptr (CairnTx) tx = sign (n, k, type, body);
  g_autoptr (json_t) r = http_json (n, "POST", "/v1/txs", tx->bytes, 400);
  g_assert_cmpstr (json_string_value (
                       json_object_get (json_object_get (r, "error"), "code")),
                   ==, "invalid_body");
}

/* ---- state at a height ------------------------------------------------------
 */

static uint64_t
state_amount (Net *n, const char *ns, const char *key, uint64_t height)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) v = cairn_node_state_get (n->node, ns, key, height, &err);
  if (v == NULL) {
    g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    return 0;
  }
  g_autofree char *text
      = g_strndup (g_bytes_get_data (v, NULL), g_bytes_get_size (v));
  return g_ascii_strtoull (text, NULL, 10);
}

static uint64_t
locked (Net *n, CairnKey *k, uint64_t height)
{
  g_autofree char *key = g_strdup_printf ("lock/pos/%s/cairn", addr (k));
  return state_amount (n, "bank", key, height);
}

static uint64_t
balance (Net *n, CairnKey *k, uint64_t height)
{
  g_autofree char *key = g_strdup_printf ("bal/%s/cairn", addr (k));
  return state_amount (n, "bank", key, height);
}

static uint64_t
supply (Net *n, uint64_t height)
{
  return state_amount (n, "bank", "supply/cairn", height);
}

static json_t *
validator_json (Net *n, CairnKey *k)
{
  g_autofree char *path = g_strdup_printf ("/v1/pos/validators/%s", addr (k));
  return http_json (n, "GET", path, NULL, 200);
}

static json_int_t
field (const json_t *j, const char *name)
{
  return json_integer_value (json_object_get (j, name));
}

static gboolean
set_has (const json_t *set, CairnKey *k)
{
  size_t i;
  const json_t *v;
  json_array_foreach (json_object_get (set, "validators"), i, v)
  {
    if (g_strcmp0 (json_string_value (json_object_get (v, "address")), addr (k))
        == 0)
      return TRUE;
  }
  return FALSE;
}

/* The set in force at height h, from the set history in /v1/pos/status. */
static json_t *
set_at (Net *n, uint64_t h)
{
  g_autoptr (json_t) st = http_json (n, "GET", "/v1/pos/status", NULL, 200);
  json_t *best = NULL;
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get (st, "sets"), i, s)
  {
    if ((uint64_t)field (s, "from") <= h)
      best = s;
  }
  g_assert_nonnull (best);
  return json_incref (best);
}

static uint64_t
engine_height (Net *n)
{
  g_autoptr (json_t) st = http_json (n, "GET", "/v1/pos/status", NULL, 200);
  return (uint64_t)field (json_object_get (st, "engine"), "height");
}

static void
wait_engine_height (Net *n, uint64_t h)
{
  wait_height (n, h - 1);
  int64_t deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (engine_height (n) < h && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (engine_height (n), >=, h);
}

static json_t *
default_params (void)
{
  return json_pack ("{s:i, s:i, s:i, s:i, s:i, s:i}", "set_change_delay", 2,
                    "unbonding_blocks", 10, "slash_bps", 1000, "jail_blocks",
                    30, "evidence_max_age", 10, "min_self_stake", 10);
}

/* ---- evidence -------------------------------------------------------------
 */

/* A prevote of k for (height, round) and a block id of `fill` bytes. */
static GBytes *
prevote (CairnKey *k, uint64_t height, uint32_t round, uint8_t fill)
{
  PosMsg m = {
    .kind = POS_MSG_PREVOTE, .height = height, .round = round, .pol_round = -1
  };
  memset (m.block_id, fill, 32);
  g_assert_true (cairn_hex_decode (addr (k), m.signer, 20));
  g_autoptr (GBytes) sb = pos_msg_sign_bytes (CHAIN, &m);
  cairn_key_sign (k, POS_SIGN_DOMAIN, g_bytes_get_data (sb, NULL),
                  g_bytes_get_size (sb), m.sig);
  return pos_msg_encode (&m);
}

/* The evidence encoding: u32 len | vote a | u32 len | vote b, as hex. */
static char *
evidence_hex (GBytes *a, GBytes *b)
{
  g_autoptr (GByteArray) ev = g_byte_array_new ();
  GBytes *votes[2] = { a, b };
  for (int i = 0; i < 2; i++) {
    gsize len;
    const uint8_t *p = g_bytes_get_data (votes[i], &len);
    uint8_t l[4] = { len >> 24, len >> 16, len >> 8, len };
    g_byte_array_append (ev, l, 4);
    g_byte_array_append (ev, p, (guint)len);
  }
  return cairn_hex_encode (ev->data, ev->len);
}

static char *
evidence_body (GBytes *a, GBytes *b)
{
  g_autofree char *hex = evidence_hex (a, b);
  return g_strdup_printf ("{\"evidence\":\"%s\"}", hex);
}

/* The first height >= from whose round-0 proposer is k, in the latest
 * validator set. */
static uint64_t
next_slot_of (Net *n, CairnKey *k, uint64_t from)
{
  g_autoptr (json_t) s = set_at (n, G_MAXUINT64);
  const json_t *vals = json_object_get (s, "validators");
  size_t count = json_array_size (vals);
  g_autofree PosValidator *list = g_new0 (PosValidator, count);
  for (size_t i = 0; i < count; i++) {
    const json_t *v = json_array_get (vals, i);
    g_strlcpy (list[i].address,
               json_string_value (json_object_get (v, "address")), 41);
    g_assert_true (cairn_hex_decode (
        json_string_value (json_object_get (v, "pubkey")), list[i].pubkey, 32));
    list[i].power = (uint64_t)field (v, "power");
  }
  g_autoptr (PosValidatorSet) set = pos_validator_set_new (list, count, NULL);
  g_assert_nonnull (set);
  int me = pos_validator_set_find (set, addr (k));
  g_assert_cmpint (me, >=, 0);
  for (uint64_t h = from; h < from + 10000; h++)
    if (pos_proposer (set, h, 0) == (size_t)me)
      return h;
  g_error ("%s never proposes", addr (k));
}

/* ---- tests ------------------------------------------------------------------
 */

/* The node refuses to be created, with an error holding w1 (and w2). */
static gboolean
start_fails (const Opts *o, const char *w1, const char *w2)
{
  Net n = { 0 };
  keys_new (&n);
  make_home (&n, o);
  g_autoptr (GError) err = NULL;
  CairnNodeOptions opts = { .home = n.home };
  g_assert_null (cairn_node_new (&opts, &err));
  g_assert_nonnull (err);
  g_test_message ("refused: %s", err->message);
  gboolean ok = strstr (err->message, w1) != NULL
                && (w2 == NULL || strstr (err->message, w2) != NULL);
  if (!ok)
    g_printerr ("error '%s' lacks '%s' / '%s'\n", err->message, w1,
                w2 ? w2 : "");
  net_down (&n);
  return ok;
}

/* Genesis and config errors name what is wrong. */
static void
test_genesis_errors (void)
{
  g_autoptr (json_t) p = default_params ();
  /* V2's account cannot cover its stake: named, with the remedy. */
  Opts poor = { .params = p, .v2_balance = V2_STAKE - 1 };
  g_assert_true (start_fails (&poor, "validators[1]", "cannot lock"));
  g_autoptr (json_t) bad = json_pack ("{s:i}", "slash_bps", 20000);
  Opts o1 = { .params = bad };
  g_assert_true (start_fails (&o1, "genesis: app_state.pos.slash_bps", NULL));
  g_autoptr (json_t) unknown = json_pack ("{s:i}", "slash_bsp", 1);
  Opts o2 = { .params = unknown };
  g_assert_true (
      start_fails (&o2, "app_state.pos.slash_bsp: unknown key", NULL));
  g_autoptr (json_t) rew = json_pack ("{s:{s:i}}", "rewards", "per_blok", 1);
  Opts o3 = { .params = rew };
  g_assert_true (start_fails (&o3, "app_state.pos.rewards.per_blok", NULL));
  g_autoptr (json_t) delay = json_pack ("{s:i}", "set_change_delay", 0);
  Opts o4 = { .params = delay };
  g_assert_true (start_fails (&o4, "app_state.pos.set_change_delay", NULL));
  /* Slashing burns: pos must be a minter. */
  Opts nominter = { .params = p, .extra_conf = "[bank]\nminters =\n" };
  g_assert_true (start_fails (&nominter, "[bank] minters", NULL));
}

static gboolean
has_line (const char *text, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, prefix))
      return TRUE;
  return FALSE;
}

/* A bond shows at once in the validator list and enters the engine's set
 * at h + set_change_delay; the set survives a restart (read from state). */
static void
test_bond_and_set (void)
{
  g_autoptr (json_t) p = default_params ();
  Opts o = { .params = p };
  Net n = { 0 };
  net_up (&n, &o);
  wait_height (&n, 2);

  /* Bad bodies never reach a block. */
  refused (&n, n.carol, "pos.bond", "{\"amount\":0}");
  refused (&n, n.carol, "pos.bond", "{\"amount\":\"5\"}");
  refused (&n, n.carol, "pos.bond", "{\"amount\":5,\"validator\":\"x\"}");
  refused (&n, n.carol, "pos.bond", "{}");
  refused (&n, n.carol, "pos.delegate", "{\"amount\":5}");
  refused (&n, n.carol, "pos.delegate",
           "{\"amount\":5,\"validator\":\"nothex\"}");
  refused (&n, n.carol, "pos.unjail", "{\"now\":true}");
  refused (&n, n.carol, "pos.evidence", "{\"evidence\":\"abc\"}");
  refused (&n, n.carol, "pos.evidence", "{\"evidence\":12}");
  /* Refused in the block, with the reason. */
  bad_tx (&n, n.carol, "pos.bond", "{\"amount\":5}", "invalid",
          "min_self_stake");
  bad_tx (&n, n.carol, "pos.bond", "{\"amount\":1000000000}",
          "insufficient_funds", "insufficient funds");
  g_assert_cmpuint (locked (&n, n.carol, CAIRN_HEAD), ==, 0);

  uint64_t h;
  ok_tx (&n, n.carol, "pos.bond", "{\"amount\":50}", &h);
  g_assert_cmpuint (locked (&n, n.carol, h), ==, 50);
  g_assert_cmpuint (balance (&n, n.carol, h), ==, START_BALANCE - 50);
  /* At once in the validator list... */
  g_autoptr (json_t) list
      = http_json (&n, "GET", "/v1/pos/validators", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (list, "validators")), ==,
                    3);
  g_autoptr (json_t) c = validator_json (&n, n.carol);
  g_assert_cmpint (field (c, "self_stake"), ==, 50);
  g_assert_cmpint (field (c, "power"), ==, 50);
  g_assert_false (json_is_true (json_object_get (c, "jailed")));
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (n.carol), 32);
  g_assert_cmpstr (json_string_value (json_object_get (c, "pubkey")), ==, pk);
  /* ...but in the set only from h + 2: written in block h as set/<h+2>. */
  g_autoptr (json_t) before = set_at (&n, h + 1);
  g_autoptr (json_t) after = set_at (&n, h + 2);
  g_assert_false (set_has (before, n.carol));
  g_assert_true (set_has (after, n.carol));
  g_assert_cmpint (field (after, "from"), ==, h + 2);
  g_assert_cmpint (field (after, "total_power"), ==, V1_STAKE + V2_STAKE + 50);
  g_autofree char *key = g_strdup_printf ("set/%020" G_GUINT64_FORMAT, h + 2);
  g_autoptr (GBytes) raw
      = cairn_node_state_get (n.node, "pos", key, CAIRN_HEAD, NULL);
  g_assert_nonnull (raw);
  /* The engine works with it from h + 2 on. */
  wait_engine_height (&n, h + 2);
  g_autoptr (json_t) st = http_json (&n, "GET", "/v1/pos/status", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (st, "validators")), ==,
                    3);
  g_assert_cmpint (field (st, "total_power"), ==, V1_STAKE + V2_STAKE + 50);

  /* Metrics: the engine's counters and gauges. */
  guint status;
  wait_height (&n, h + 3);
  g_autofree char *m = http (&n, "GET", "/metrics", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  static const char *const outcomes[]
      = { "accepted",   "duplicate", "bad_signature",    "non_validator",
          "bad_height", "malformed", "refused_conflict", "evidence" };
  for (guint i = 0; i < G_N_ELEMENTS (outcomes); i++) {
    g_autofree char *line = g_strdup_printf (
        "cairn_pos_messages_total{outcome=\"%s\"} ", outcomes[i]);
    g_assert_true (has_line (m, line));
  }
  g_assert_true (has_line (m, "cairn_pos_height "));
  g_assert_true (has_line (m, "cairn_pos_round "));
  g_assert_true (has_line (m, "cairn_pos_validators 3"));
  g_assert_true (has_line (m, "cairn_pos_total_power 1150"));

  /* Restart: the set comes from committed state. */
  uint64_t was = head (&n);
  g_clear_pointer (&n.node, cairn_node_free);
  node_up (&n);
  g_autoptr (json_t) st2 = http_json (&n, "GET", "/v1/pos/status", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (st2, "validators")), ==,
                    3);
  wait_height (&n, was + 3);
  net_down (&n);
}

/* Unbonding and undelegating lock the amount for unbonding_blocks and
 * release it exactly then; bad requests are refused with clear errors. */
static void
test_unbond_and_delegate (void)
{
  g_autoptr (json_t) p = default_params ();
  Opts o = { .params = p };
  Net n = { 0 };
  net_up (&n, &o);
  uint64_t hb, hu, hd, hud;
  ok_tx (&n, n.carol, "pos.bond", "{\"amount\":50}", &hb);
  ok_tx (&n, n.carol, "pos.unbond", "{\"amount\":20}", &hu);
  g_autoptr (json_t) c = validator_json (&n, n.carol);
  g_assert_cmpint (field (c, "self_stake"), ==, 30);
  wait_height (&n, hu + 10);
  g_assert_cmpuint (locked (&n, n.carol, hu), ==, 50);
  g_assert_cmpuint (locked (&n, n.carol, hu + 9), ==, 50);
  g_assert_cmpuint (balance (&n, n.carol, hu + 9), ==, START_BALANCE - 50);
  g_assert_cmpuint (locked (&n, n.carol, hu + 10), ==, 30);
  g_assert_cmpuint (balance (&n, n.carol, hu + 10), ==, START_BALANCE - 30);

  g_autofree char *to_v2
      = g_strdup_printf ("{\"amount\":100,\"validator\":\"%s\"}", addr (n.v2));
  ok_tx (&n, n.alice, "pos.delegate", to_v2, &hd);
  g_assert_cmpuint (locked (&n, n.alice, hd), ==, 100);
  g_autoptr (json_t) v2 = validator_json (&n, n.v2);
  g_assert_cmpint (field (v2, "delegated"), ==, 100);
  g_assert_cmpint (field (v2, "power"), ==, V2_STAKE + 100);
  g_autofree char *back
      = g_strdup_printf ("{\"amount\":40,\"validator\":\"%s\"}", addr (n.v2));
  ok_tx (&n, n.alice, "pos.undelegate", back, &hud);
  {
    g_autoptr (json_t) v = validator_json (&n, n.v2);
    g_assert_cmpuint (head (&n), <, hud + 10); /* not released yet */
    g_assert_cmpint (field (v, "delegated"), ==, 60);
    const json_t *d = json_array_get (json_object_get (v, "delegations"), 0);
    g_assert_cmpstr (json_string_value (json_object_get (d, "delegator")), ==,
                     addr (n.alice));
    g_assert_cmpint (field (d, "amount"), ==, 60);
    const json_t *u = json_array_get (json_object_get (v, "unbonding"), 0);
    g_assert_nonnull (u);
    g_assert_cmpint (field (u, "amount"), ==, 40);
    g_assert_cmpint (field (u, "release_height"), ==, hud + 10);
  }
  wait_height (&n, hud + 10);
  g_assert_cmpuint (locked (&n, n.alice, hud + 9), ==, 100);
  g_assert_cmpuint (locked (&n, n.alice, hud + 10), ==, 60);
  g_assert_cmpuint (balance (&n, n.alice, hud + 10), ==, START_BALANCE - 60);
  {
    g_autoptr (json_t) v = validator_json (&n, n.v2);
    g_assert_cmpuint (json_array_size (json_object_get (v, "unbonding")), ==,
                      0);
  }

  /* Refusals. */
  g_autoptr (CairnKey) nobody = cairn_key_generate (NULL);
  g_autofree char *to_nobody
      = g_strdup_printf ("{\"amount\":5,\"validator\":\"%s\"}", addr (nobody));
  bad_tx (&n, n.alice, "pos.delegate", to_nobody, "not_found",
          "is not a validator");
  g_autofree char *too_much
      = g_strdup_printf ("{\"amount\":1000,\"validator\":\"%s\"}", addr (n.v2));
  bad_tx (&n, n.alice, "pos.undelegate", too_much, "insufficient_funds",
          "cannot undelegate 1000");
  g_autofree char *rich = g_strdup_printf (
      "{\"amount\":1000000000,\"validator\":\"%s\"}", addr (n.v2));
  bad_tx (&n, n.alice, "pos.delegate", rich, "insufficient_funds",
          "insufficient funds");
  bad_tx (&n, n.carol, "pos.unbond", "{\"amount\":31}", "insufficient_funds",
          "self-stake of 30");
  bad_tx (&n, n.alice, "pos.unbond", "{\"amount\":5}", "not_found",
          "is not a validator");
  bad_tx (&n, n.carol, "pos.unjail", "{}", "conflict", "is not jailed");
  bad_tx (&n, n.alice, "pos.unjail", "{}", "not_found", "is not a validator");
  g_autofree char *self
      = g_strdup_printf ("{\"amount\":5,\"validator\":\"%s\"}", addr (n.carol));
  bad_tx (&n, n.carol, "pos.delegate", self, "invalid", "pos.bond");
  g_assert_cmpuint (locked (&n, n.alice, CAIRN_HEAD), ==, 60);
  g_autofree char *nope
      = g_strdup_printf ("/v1/pos/validators/%s", addr (nobody));
  json_decref (http_json (&n, "GET", nope, NULL, 404));
  json_decref (http_json (&n, "GET", "/v1/pos/validators/zz", NULL, 400));
  net_down (&n);
}

typedef struct {
  uint64_t height;
  char *tx_id;
  json_t *attrs;
} Seen;

static void
on_slash (const CairnEvent *ev, void *ud)
{
  Seen *s = ud;
  if (s->tx_id != NULL)
    return;
  s->height = ev->height;
  s->tx_id = g_strdup (ev->tx_id);
  s->attrs = json_incref ((json_t *)ev->attrs);
}

/* V2 double-signs: the engine sees it, the node submits pos.evidence, V2
 * and its delegators lose slash_bps of their stake (burnt), V2 is jailed
 * and leaves the set at the delay, and may come back with pos.unjail. */
static void
test_evidence (void)
{
  g_autoptr (json_t) p = default_params ();
  Opts o = { .params = p };
  Net n = { 0 };
  net_up (&n, &o);
  g_autofree char *to_v2
      = g_strdup_printf ("{\"amount\":100,\"validator\":\"%s\"}", addr (n.v2));
  ok_tx (&n, n.alice, "pos.delegate", to_v2, NULL);
  /* Evidence of height 1, to be too old later. */
  g_autoptr (GBytes) old_a = prevote (n.v2, 1, 0, 0x11);
  g_autoptr (GBytes) old_b = prevote (n.v2, 1, 0, 0x22);
  g_autofree char *old_body = evidence_body (old_a, old_b);

  Seen seen = { 0 };
  guint sub = cairn_node_subscribe (n.node, "pos.slash", on_slash, &seen);
  /* Two prevotes of V2 for one (height, round) with different blocks, fed
   * as consensus messages from a peer. V1 alone decides a height as soon
   * as it proposes, after which votes are ignored; so aim at a height
   * whose round 0 is V2's to propose (the node waits for the propose
   * timeout there), sent a height ahead: the engine buffers them and sees
   * the conflict when it starts that height. */
  uint64_t H = 0;
  for (int attempt = 0; attempt < 5 && seen.tx_id == NULL; attempt++) {
    H = next_slot_of (&n, n.v2, engine_height (&n) + 2);
    int64_t until = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    while (engine_height (&n) + 1 < H && g_get_monotonic_time () < until)
      g_main_context_iteration (NULL, FALSE);
    if (engine_height (&n) > H)
      continue;
    g_autoptr (GBytes) a = prevote (n.v2, H, 0, 0xaa);
    g_autoptr (GBytes) b = prevote (n.v2, H, 0, 0xbb);
    CairnConsensusIface *ci = &n.node->consensus;
    ci->on_peer_message (n.node->consensus_plugin, addr (n.v2),
                         g_bytes_get_data (a, NULL), g_bytes_get_size (a));
    ci->on_peer_message (n.node->consensus_plugin, addr (n.v2),
                         g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    int64_t deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    while (seen.tx_id == NULL && g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, TRUE);
  }
  cairn_node_unsubscribe (n.node, sub);
  g_assert_nonnull (seen.tx_id);
  uint64_t he = seen.height;
  g_assert_cmpstr (
      json_string_value (json_object_get (seen.attrs, "validator")), ==,
      addr (n.v2));
  g_assert_cmpint (field (seen.attrs, "height"), ==, H);
  g_assert_cmpint (field (seen.attrs, "burnt_self"), ==, 10);
  g_assert_cmpint (field (seen.attrs, "burnt_delegations"), ==, 10);
  /* The node (V1) signed it. */
  g_autoptr (json_t) etx = cairn_node_tx_json (n.node, seen.tx_id, NULL);
  g_assert_nonnull (etx);
  const json_t *etx_tx = json_object_get (etx, "tx");
  g_assert_cmpstr (json_string_value (json_object_get (etx_tx, "from")), ==,
                   addr (n.v1));
  g_assert_cmpstr (json_string_value (json_object_get (etx_tx, "type")), ==,
                   "pos.evidence");
  g_autofree char *same_body = json_dumps (json_object_get (etx_tx, "body"),
                                           JSON_COMPACT | JSON_SORT_KEYS);

  /* An early unjail is refused. */
  bad_tx (&n, n.v2, "pos.unjail", "{}", "conflict", "jailed until");

  /* Burnt, not moved: the supply drops by exactly the cut. */
  g_assert_cmpuint (supply (&n, he), ==, supply (&n, he - 1) - 20);
  g_assert_cmpuint (locked (&n, n.v2, he), ==, V2_STAKE - 10);
  g_assert_cmpuint (locked (&n, n.alice, he), ==, 90);
  g_assert_cmpuint (balance (&n, n.v2, he), ==, START_BALANCE - V2_STAKE);
  g_autoptr (json_t) v = validator_json (&n, n.v2);
  g_assert_cmpint (field (v, "self_stake"), ==, V2_STAKE - 10);
  g_assert_cmpint (field (v, "delegated"), ==, 90);
  g_assert_cmpint (field (v, "slashed"), ==, 20);
  g_assert_true (json_is_true (json_object_get (v, "jailed")));
  g_assert_cmpint (field (v, "jailed_until"), ==, he + 30);
  /* Out of the set from he + 2. */
  g_autoptr (json_t) s1 = set_at (&n, he + 1);
  g_autoptr (json_t) s2 = set_at (&n, he + 2);
  g_assert_true (set_has (s1, n.v2));
  g_assert_false (set_has (s2, n.v2));
  wait_engine_height (&n, he + 2);
  g_autoptr (json_t) st = http_json (&n, "GET", "/v1/pos/status", NULL, 200);
  g_assert_cmpuint (json_array_size (json_object_get (st, "validators")), ==,
                    1);
  g_assert_cmpint (field (json_object_get (st, "messages"), "evidence"), >=, 1);

  /* The same evidence again: already punished. */
  bad_tx (&n, n.alice, "pos.evidence", same_body, "conflict",
          "already punished");
  /* Forgeries, at a height whose set holds V2. */
  uint64_t hf = he;
  g_autoptr (GBytes) fa = prevote (n.v2, hf, 0, 0x01);
  g_autoptr (GBytes) fb = prevote (n.v2, hf, 0, 0x02);
  g_autofree char *twice = evidence_body (fa, fa);
  bad_tx (&n, n.alice, "pos.evidence", twice, "invalid", "not conflicting");
  gsize blen = g_bytes_get_size (fb);
  g_autofree uint8_t *forged = g_memdup2 (g_bytes_get_data (fb, NULL), blen);
  forged[blen - 1] ^= 1; /* the signature is last */
  g_autoptr (GBytes) fbad = g_bytes_new (forged, blen);
  g_autofree char *badsig = evidence_body (fa, fbad);
  bad_tx (&n, n.alice, "pos.evidence", badsig, "invalid", "signature");
  g_autoptr (GBytes) ca = prevote (n.carol, hf, 0, 0x01);
  g_autoptr (GBytes) cb = prevote (n.carol, hf, 0, 0x02);
  g_autofree char *outsider = evidence_body (ca, cb);
  bad_tx (&n, n.alice, "pos.evidence", outsider, "invalid", "pos.evidence");
  g_autoptr (GBytes) za = prevote (n.v2, head (&n) + 100, 0, 0x01);
  g_autoptr (GBytes) zb = prevote (n.v2, head (&n) + 100, 0, 0x02);
  g_autofree char *future = evidence_body (za, zb);
  bad_tx (&n, n.alice, "pos.evidence", future, "invalid", "future");
  bad_tx (&n, n.alice, "pos.evidence", "{\"evidence\":\"00000001ff\"}",
          "invalid", "does not decode");
  wait_height (&n, 12);
  bad_tx (&n, n.alice, "pos.evidence", old_body, "invalid", "too old");
  /* Nothing more was burnt. */
  g_assert_cmpuint (supply (&n, CAIRN_HEAD), ==, supply (&n, he));

  /* After the jail: back in the set at the delay. */
  wait_height (&n, he + 30);
  uint64_t hj;
  ok_tx (&n, n.v2, "pos.unjail", "{}", &hj);
  g_autoptr (json_t) s3 = set_at (&n, hj + 2);
  g_assert_true (set_has (s3, n.v2));
  g_autoptr (json_t) s4 = set_at (&n, hj + 1);
  g_assert_false (set_has (s4, n.v2));
  g_free (seen.tx_id);
  json_decref (seen.attrs);
  net_down (&n);
}

/* Stake that starts unbonding at or after the infraction height is slashed
 * with the bonded stake; stake that left before it is not. */
static void
test_evidence_unbonding (void)
{
  g_autoptr (json_t) p = default_params ();
  Opts o = { .params = p };
  Net n = { 0 };
  net_up (&n, &o);
  g_autofree char *to_v2
      = g_strdup_printf ("{\"amount\":100,\"validator\":\"%s\"}", addr (n.v2));
  g_autofree char *back20
      = g_strdup_printf ("{\"amount\":20,\"validator\":\"%s\"}", addr (n.v2));
  g_autofree char *back40
      = g_strdup_printf ("{\"amount\":40,\"validator\":\"%s\"}", addr (n.v2));
  uint64_t c0, c1, he;
  ok_tx (&n, n.alice, "pos.delegate", to_v2, NULL);
  ok_tx (&n, n.alice, "pos.undelegate", back20, &c0);
  uint64_t eh = c0 + 1; /* the infraction: after the first undelegation */
  wait_height (&n, eh);
  ok_tx (&n, n.alice, "pos.undelegate", back40, &c1);
  g_assert_cmpuint (c1, >=, eh);
  g_autoptr (GBytes) a = prevote (n.v2, eh, 0, 0xaa);
  g_autoptr (GBytes) b = prevote (n.v2, eh, 0, 0xbb);
  g_autofree char *body = evidence_body (a, b);
  ok_tx (&n, n.alice, "pos.evidence", body, &he);

  /* 10% of: self-stake 100, delegation 40, the unbonding 40; not of the
   * 20 that left before eh. */
  g_assert_cmpuint (supply (&n, he), ==, supply (&n, he - 1) - 18);
  g_assert_cmpuint (locked (&n, n.alice, he), ==, 100 - 4 - 4);
  g_autoptr (json_t) v = validator_json (&n, n.v2);
  g_assert_cmpint (field (v, "self_stake"), ==, V2_STAKE - 10);
  g_assert_cmpint (field (v, "delegated"), ==, 36);
  g_assert_cmpint (field (v, "slashed"), ==, 18);
  const json_t *unb = json_object_get (v, "unbonding");
  g_assert_cmpuint (json_array_size (unb), ==, 2);
  g_assert_cmpint (field (json_array_get (unb, 0), "release_height"), ==,
                   c0 + 10);
  g_assert_cmpint (field (json_array_get (unb, 0), "amount"), ==, 20);
  g_assert_cmpint (field (json_array_get (unb, 1), "release_height"), ==,
                   c1 + 10);
  g_assert_cmpint (field (json_array_get (unb, 1), "amount"), ==, 36);
  /* Each entry releases what is left of it. */
  wait_height (&n, c1 + 10);
  g_assert_cmpuint (locked (&n, n.alice, c0 + 10), ==, 92 - 20);
  g_assert_cmpuint (locked (&n, n.alice, c1 + 10), ==, 36);
  g_assert_cmpuint (balance (&n, n.alice, c1 + 10), ==, START_BALANCE - 36 - 8);
  net_down (&n);
}

/* Block rewards: per_block >> (height / halving_blocks); proposer_bps to
 * the proposer, the rest by power, each validator's share split with its
 * delegators by stake. Checked to the unit over 40 blocks. */
static void
test_rewards (void)
{
  g_autoptr (json_t) p
      = json_pack ("{s:i, s:i, s:{s:i, s:i, s:i}}", "set_change_delay", 2,
                   "evidence_max_age", 100000, "rewards", "per_block", 1000,
                   "halving_blocks", 16, "proposer_bps", 1000);
  Opts o = { .params = p };
  Net n = { 0 };
  net_up (&n, &o);
  g_autofree char *to_v2
      = g_strdup_printf ("{\"amount\":100,\"validator\":\"%s\"}", addr (n.v2));
  uint64_t hd;
  ok_tx (&n, n.alice, "pos.delegate", to_v2, &hd);
  wait_height (&n, hd + 2);
  uint64_t a = head (&n), b = a + 40;
  wait_height (&n, b);
  /* Powers in force over (a, b]: V1 1000, V2 100 + 100 delegated. */
  for (uint64_t h = a + 1; h <= b; h += 13) {
    g_autoptr (json_t) s = set_at (&n, h);
    g_assert_cmpint (field (s, "total_power"), ==, 1200);
  }
  uint64_t want_v1 = 0, want_v2 = 0, want_alice = 0;
  for (uint64_t h = a + 1; h <= b; h++) {
    uint64_t amount = h / 16 >= 64 ? 0 : 1000u >> (h / 16);
    uint64_t prop = amount * 1000 / 10000, rest = amount - prop;
    uint64_t s1 = rest * 1000 / 1200, s2 = rest * 200 / 1200;
    uint64_t to_alice = s2 * 100 / 200;
    g_autoptr (json_t) blk = cairn_node_block_json (n.node, h, NULL);
    const char *proposer = json_string_value (
        json_object_get (json_object_get (blk, "header"), "proposer"));
    g_assert_cmpstr (proposer, ==, addr (n.v1)); /* only V1 builds */
    want_v1 += s1 + prop;
    want_v2 += s2 - to_alice;
    want_alice += to_alice;
  }
  g_assert_cmpuint (want_v1, >, 0);
  g_assert_cmpuint (balance (&n, n.v1, b) - balance (&n, n.v1, a), ==, want_v1);
  g_assert_cmpuint (balance (&n, n.v2, b) - balance (&n, n.v2, a), ==, want_v2);
  g_assert_cmpuint (balance (&n, n.alice, b) - balance (&n, n.alice, a), ==,
                    want_alice);
  g_assert_cmpuint (supply (&n, b) - supply (&n, a), ==,
                    want_v1 + want_v2 + want_alice);
  /* Stakes are untouched by rewards. */
  g_assert_cmpuint (locked (&n, n.v1, b), ==, V1_STAKE);
  g_assert_cmpuint (locked (&n, n.alice, b), ==, 100);
  net_down (&n);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  g_test_add_func ("/pos-node/genesis-errors", test_genesis_errors);
  g_test_add_func ("/pos-node/bond-and-set", test_bond_and_set);
  g_test_add_func ("/pos-node/unbond-and-delegate", test_unbond_and_delegate);
  g_test_add_func ("/pos-node/evidence", test_evidence);
  g_test_add_func ("/pos-node/evidence-unbonding", test_evidence_unbonding);
  g_test_add_func ("/pos-node/rewards", test_rewards);
  int rc = g_test_run ();
  g_free (plugins_dir);
  return rc;
}

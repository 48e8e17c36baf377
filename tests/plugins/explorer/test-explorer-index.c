/* The explorer's in-memory index (plugins/explorer/index.c) on the SDK's
 * mock host, without a node:
 *   - paths-agree: blocks indexed from the store (the mock's "block" event
 *     has no per-tx lists, so the plugin reads each block back) and the
 *     same blocks indexed from core-style "block" events (ex_index_event)
 *     give byte-identical answers of every route, equal to what the
 *     blocks imply (ids, heights, indexes, types, roles, newest first);
 *   - bounds: with index_txs = 1000 the oldest blocks leave, the routes
 *     answer for them as README documents (search still offers the tx,
 *     by-hash 404, account txs without them, stats' indexed_from) and the
 *     newest are served; index_blocks bounds empty blocks; the config
 *     keys are range-checked;
 *   - memory: 100,000 synthetic txs (250 per block, 1,000 senders, every
 *     recipient new: one new account per tx) cost at most 200 bytes per
 *     tx of heap, and the next 100,000 (the index full, evicting) do not
 *     grow it. The figures are printed (g_test_message; -p
 *     /explorer-index/memory --verbose).
 * Heap in use is glibc's mallinfo2 (uordblks + hblkhd), or ASan's allocator
 * statistics in a sanitizer build. */
#include <string.h>

#include "explorer.h" /* first: it sets CAIRN_PLUGIN_MIN_MINOR */

#include <cairn/testing/testing.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif
#ifdef HEAP_ASAN
/* <sanitizer/allocator_interface.h>, which Debian's gcc does not ship. */
size_t __sanitizer_get_current_allocated_bytes (void);
#else
#include <malloc.h>
#endif

const CairnPluginDescriptor *cairn_plugin_descriptor_bank (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_explorer (void);

static size_t
heap_in_use (void)
{
#ifdef HEAP_ASAN
  return __sanitizer_get_current_allocated_bytes ();
#else
  /* Allocated chunks plus mmapped ones (large arrays: the sets' tables). */
  struct mallinfo2 m = mallinfo2 ();
  return m.uordblks + m.hblkhd;
#endif
}

static Explorer *
explorer_of (CairnTestPlugin *tp)
{
  return cairn_test_host_mock_table ()->get_data (cairn_test_plugin_self (tp));
}

/* A host with the explorer (config: NULL-terminated key, value list)
 * started and caught up (its first timer tick). */
static CairnTestHost *
explorer_host (const char *const *config, CairnTestPlugin **tp)
{
  g_autoptr (GError) error = NULL;
  CairnTestHost *h = cairn_test_host_new ();
  *tp = cairn_test_host_load (h, cairn_plugin_descriptor_explorer, config,
                              &error);
  g_assert_no_error (error);
  g_assert_true (cairn_test_host_start (h, &error));
  g_assert_no_error (error);
  cairn_test_host_advance (h, 60);
  return h;
}

/* A route's answer as compact text, asserting its status. */
static char *
route (CairnTestHost *h, const char *path, guint want_status)
{
  guint status = 0;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *ct = NULL;
  g_assert_true (cairn_test_host_request_bytes (h, "GET", path, NULL, &status,
                                                &ct, &bytes));
  gsize len;
  const char *d = g_bytes_get_data (bytes, &len);
  char *text = g_strndup (d, len);
  if (status != want_status)
    g_error ("GET %s: %u (want %u): %s", path, status, want_status, text);
  return text;
}

static json_t *
route_json (CairnTestHost *h, const char *path, guint want_status)
{
  g_autofree char *text = route (h, path, want_status);
  json_t *j = json_loads (text, 0, NULL);
  g_assert_nonnull (j);
  return j;
}

/* ---- paths-agree -------------------------------------------------------- */

static void
test_paths_agree (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestHost) a = cairn_test_host_new ();
  g_assert_nonnull (
      cairn_test_host_load (a, cairn_plugin_descriptor_bank, NULL, &error));
  g_assert_no_error (error);
  CairnTestPlugin *ea = cairn_test_host_load (
      a, cairn_plugin_descriptor_explorer, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ea);
  g_assert_true (cairn_test_host_start (a, &error));
  g_assert_no_error (error);
  const char *acct[4];
  const char *names[] = { "alice", "bob", "carol", "dave" };
  for (guint i = 0; i < 4; i++) {
    acct[i] = cairn_test_host_account (a, names[i]);
    cairn_test_host_bank_set_balance (a, acct[i], "cairn", 1000);
  }
  /* 6 blocks of 1 to 4 transfers among the four accounts. */
  for (guint blk = 0; blk < 6; blk++) {
    g_assert_true (cairn_test_host_begin_block (a, &error));
    for (guint t = 0; t < 1 + blk % 4; t++) {
      guint from = (blk + t) % 4, to = (from + 1 + t % 3) % 4;
      g_autofree char *body = g_strdup_printf (
          "{\"to\":\"%s\",\"denom\":\"cairn\",\"amount\":1}", acct[to]);
      gboolean ok = cairn_test_host_submit (a, acct[from], "bank.transfer",
                                            body, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
    }
    g_assert_true (cairn_test_host_end_block (a, &error));
    cairn_test_host_advance (a, 60); /* the catch-up tick */
  }
  uint64_t head = cairn_test_host_height (a);
  g_assert_cmpuint (head, >=, 6);

  /* B: the same blocks as core-style "block" events. */
  CairnTestPlugin *eb;
  g_autoptr (CairnTestHost) b = explorer_host (NULL, &eb);
  g_autoptr (json_t) events = cairn_test_host_events_matching (a, "block");
  size_t k;
  json_t *e;
  guint fed = 0;
  json_array_foreach (events, k, e)
  {
    if (g_strcmp0 (json_string_value (json_object_get (e, "type")), "block"))
      continue;
    uint64_t height = json_integer_value (json_object_get (e, "height"));
    const json_t *blk = cairn_test_host_block (a, height);
    g_autoptr (json_t) attrs = json_deep_copy (json_object_get (e, "attrs"));
    json_t *types = json_array (), *senders = json_array ();
    json_t *recipients = json_array (), *ids = json_array ();
    size_t i;
    json_t *tx;
    json_array_foreach (json_object_get (blk, "txs"), i, tx)
    {
      /* A node's tx id is the SHA-256 of the stored tx's canonical JSON
       * (what the store path computes); the mock's event ids are not. */
      size_t len;
      g_autofree char *canon
          = cairn_test_host_mock_table ()->json_canonical (tx, &len, NULL);
      uint8_t d[32];
      cairn_test_host_mock_table ()->sha256 (canon, len, d);
      g_autofree char *id = cairn_hex_encode (d, 32);
      json_array_append_new (ids, json_string (id));
      json_array_append (types, json_object_get (tx, "type"));
      json_array_append (senders, json_object_get (tx, "from"));
      json_t *to = json_object_get (json_object_get (tx, "body"), "to");
      json_array_append_new (recipients, to ? json_incref (to) : json_null ());
    }
    json_object_set_new (attrs, "txs", ids);
    json_object_set_new (attrs, "tx_types", types);
    json_object_set_new (attrs, "senders", senders);
    json_object_set_new (attrs, "recipients", recipients);
    CairnEvent ev = { .size = sizeof (CairnEvent),
                      .tx_index = UINT32_MAX,
                      .type = "block",
                      .height = height,
                      .attrs = attrs };
    g_assert_true (ex_index_event (explorer_of (eb), &ev));
    fed++;
  }
  g_assert_cmpuint (fed, ==, head);

  /* Every account's txs, every tx id, every block hash: the same text,
   * and what the blocks say. */
  guint n_entries = 0;
  for (guint i = 0; i < 4; i++) {
    g_autofree char *path
        = g_strdup_printf ("/v1/explorer/accounts/%s/txs", acct[i]);
    g_autofree char *ta = route (a, path, 200);
    g_autofree char *tb = route (b, path, 200);
    g_assert_cmpstr (ta, ==, tb);
    /* Expected from the blocks, newest first. */
    g_autoptr (json_t) want = json_array ();
    for (uint64_t hh = head; hh >= 1; hh--) {
      json_t *txs = json_object_get (cairn_test_host_block (a, hh), "txs");
      for (size_t j = json_array_size (txs); j-- > 0;) {
        json_t *tx = json_array_get (txs, j);
        const char *from = json_string_value (json_object_get (tx, "from"));
        const char *to = json_string_value (
            json_object_get (json_object_get (tx, "body"), "to"));
        const char *role = strcmp (from, acct[i]) == 0 ? "sender"
                           : strcmp (to, acct[i]) == 0 ? "recipient"
                                                       : NULL;
        if (role == NULL)
          continue;
        size_t len;
        g_autofree char *canon
            = cairn_test_host_mock_table ()->json_canonical (tx, &len, NULL);
        uint8_t d[32];
        cairn_test_host_mock_table ()->sha256 (canon, len, d);
        g_autofree char *id = cairn_hex_encode (d, 32);
        json_array_append_new (want, json_pack ("{s:s,s:I,s:I,s:s,s:s}", "id",
                                                id, "height", (json_int_t)hh,
                                                "index", (json_int_t)j, "type",
                                                "bank.transfer", "role", role));
      }
    }
    g_autoptr (json_t) got = json_loads (ta, 0, NULL);
    g_assert_true (json_equal (json_object_get (got, "txs"), want));
    g_assert_cmpstr (json_string_value (json_object_get (got, "address")), ==,
                     acct[i]);
    n_entries += json_array_size (want);
  }
  g_assert_cmpuint (n_entries, >, 10);
  for (uint64_t hh = 1; hh <= head; hh++) {
    const json_t *blk = cairn_test_host_block (a, hh);
    size_t len;
    g_autofree char *canon = cairn_test_host_mock_table ()->json_canonical (
        json_object_get (blk, "header"), &len, NULL);
    uint8_t d[32];
    cairn_test_host_mock_table ()->sha256 (canon, len, d);
    g_autofree char *hash = cairn_hex_encode (d, 32);
    g_autofree char *up = g_ascii_strup (hash, -1);
    g_autofree char *p1 = g_strdup_printf ("/v1/explorer/search?q=%s", up);
    g_autofree char *s1a = route (a, p1, 200), *s1b = route (b, p1, 200);
    g_autofree char *want
        = g_strdup_printf ("{\"q\":\"%s\",\"matches\":[{\"kind\":\"block\","
                           "\"id\":\"%" G_GUINT64_FORMAT "\"}]}",
                           up, hh);
    g_assert_cmpstr (s1a, ==, s1b);
    g_autoptr (json_t) w = json_loads (want, 0, NULL);
    g_autoptr (json_t) g = json_loads (s1a, 0, NULL);
    g_assert_true (json_equal (w, g));
    g_autofree char *p2
        = g_strdup_printf ("/v1/explorer/blocks/by-hash/%s", up);
    g_autofree char *s2a = route (a, p2, 200), *s2b = route (b, p2, 200);
    g_assert_cmpstr (s2a, ==, s2b);
    g_assert_nonnull (strstr (s2a, hash));
    size_t i;
    json_t *tx;
    json_array_foreach (json_object_get (blk, "txs"), i, tx)
    {
      g_autofree char *tc
          = cairn_test_host_mock_table ()->json_canonical (tx, &len, NULL);
      cairn_test_host_mock_table ()->sha256 (tc, len, d);
      g_autofree char *id = cairn_hex_encode (d, 32);
      g_autofree char *p3 = g_strdup_printf ("/v1/explorer/search?q=%s", id);
      g_autofree char *s3a = route (a, p3, 200), *s3b = route (b, p3, 200);
      g_assert_cmpstr (s3a, ==, s3b);
      g_autofree char *want3 = g_strdup_printf (
          "{\"q\":\"%s\",\"matches\":[{\"kind\":\"tx\",\"id\":\"%s\"}]}", id,
          id);
      g_autoptr (json_t) w3 = json_loads (want3, 0, NULL);
      g_autoptr (json_t) g3 = json_loads (s3a, 0, NULL);
      g_assert_true (json_equal (w3, g3));
    }
  }
  g_autoptr (json_t) sta = route_json (a, "/v1/explorer/stats", 200);
  g_autoptr (json_t) stb = route_json (b, "/v1/explorer/stats", 200);
  g_assert_cmpint (json_integer_value (json_object_get (sta, "indexed_from")),
                   ==, 1);
  g_assert_cmpint (json_integer_value (json_object_get (stb, "indexed_from")),
                   ==, 1);
  g_assert_cmpint (json_integer_value (json_object_get (sta, "indexed_to")), ==,
                   (json_int_t)head);
  g_assert_cmpint (json_integer_value (json_object_get (stb, "indexed_to")), ==,
                   (json_int_t)head);
}

/* ---- synthetic blocks --------------------------------------------------- */

/* Deterministic 32-byte ids and 20-byte addresses from counters. */
static void
synth_id (const char *what, uint64_t n, char out[65])
{
  g_autofree char *s = g_strdup_printf ("%s/%" G_GUINT64_FORMAT, what, n);
  g_autofree char *hex
      = g_compute_checksum_for_string (G_CHECKSUM_SHA256, s, -1);
  g_strlcpy (out, hex, 65);
}

static void
synth_addr (const char *what, uint64_t n, char out[41])
{
  char id[65];
  synth_id (what, n, id);
  g_strlcpy (out, id, 41);
}

typedef struct {
  uint64_t tx;    /* txs made so far */
  guint senders;  /* sender pool size */
  gboolean fresh; /* every recipient a new address (else from the pool) */
  const char *type;
} Synth;

/* The "block" event core/chain.c publishes for a block of n synthetic txs
 * at height (sender pool "s", recipients "r"). */
static void
feed_block (Explorer *ex, Synth *s, uint64_t height, guint n)
{
  json_t *ids = json_array (), *types = json_array ();
  json_t *senders = json_array (), *recipients = json_array ();
  for (guint i = 0; i < n; i++, s->tx++) {
    char id[65], from[41], to[41];
    synth_id ("tx", s->tx, id);
    synth_addr ("s", s->tx % s->senders, from);
    if (s->fresh)
      synth_addr ("r", s->tx, to);
    else
      synth_addr ("s", (s->tx + 1) % s->senders, to);
    json_array_append_new (ids, json_string (id));
    json_array_append_new (types, json_string (s->type));
    json_array_append_new (senders, json_string (from));
    json_array_append_new (recipients, json_string (to));
  }
  char hash[65];
  synth_id ("block", height, hash);
  g_autoptr (json_t) attrs = json_pack (
      "{s:I, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o}", "height",
      (json_int_t)height, "hash", hash, "time",
      (json_int_t)(1767225600000 + (int64_t)height * 100), "tx_count",
      (json_int_t)n, "proposer", "", "txs", ids, "tx_types", types, "senders",
      senders, "recipients", recipients);
  CairnEvent ev = { .size = sizeof (CairnEvent),
                    .tx_index = UINT32_MAX,
                    .type = "block",
                    .height = height,
                    .attrs = attrs };
  g_assert_true (ex_index_event (ex, &ev));
}

/* ---- bounds ------------------------------------------------------------- */

static void
test_bounds (void)
{
  CairnTestPlugin *tp;
  g_autoptr (CairnTestHost) h = explorer_host (
      (const char *const[]){ "index_txs", "1000", "index_blocks", "100", NULL },
      &tp);
  Explorer *ex = explorer_of (tp);
  /* 30 blocks of 100 txs, all from one sender ("s/0"), each to a new
   * address: the index keeps the newest 10 blocks (1,000 txs). */
  Synth s = { .senders = 1, .fresh = TRUE, .type = "bank.transfer" };
  for (uint64_t height = 1; height <= 30; height++)
    feed_block (ex, &s, height, 100);
  g_autoptr (json_t) st = route_json (h, "/v1/explorer/stats", 200);
  g_assert_cmpint (json_integer_value (json_object_get (st, "indexed_from")),
                   ==, 21);
  g_assert_cmpint (json_integer_value (json_object_get (st, "indexed_to")), ==,
                   30);
  char sender[41], id[65], hash[65], to[41];
  synth_addr ("s", 0, sender);
  /* The sender's txs: exactly the indexed 1,000, newest first. */
  g_autofree char *p
      = g_strdup_printf ("/v1/explorer/accounts/%s/txs?limit=1000", sender);
  g_autoptr (json_t) acc = route_json (h, p, 200);
  json_t *txs = json_object_get (acc, "txs");
  g_assert_cmpuint (json_array_size (txs), ==, 1000);
  for (guint i = 0; i < 1000; i++) {
    json_t *t = json_array_get (txs, i);
    uint64_t n = 2999 - i; /* the tx counter */
    synth_id ("tx", n, id);
    g_assert_cmpstr (json_string_value (json_object_get (t, "id")), ==, id);
    g_assert_cmpint (json_integer_value (json_object_get (t, "height")), ==,
                     (json_int_t)(n / 100 + 1));
    g_assert_cmpint (json_integer_value (json_object_get (t, "index")), ==,
                     (json_int_t)(n % 100));
    g_assert_cmpstr (json_string_value (json_object_get (t, "role")), ==,
                     "sender");
    g_assert_cmpstr (json_string_value (json_object_get (t, "type")), ==,
                     "bank.transfer");
  }
  /* The newest recipient is served, the oldest one has no indexed tx. */
  synth_addr ("r", 2999, to);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/accounts/%s/txs", to);
  g_autoptr (json_t) newest = route_json (h, p, 200);
  g_assert_cmpuint (json_array_size (json_object_get (newest, "txs")), ==, 1);
  synth_addr ("r", 0, to);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/accounts/%s/txs", to);
  g_autofree char *oldest = route (h, p, 200);
  g_autofree char *want_oldest
      = g_strdup_printf ("{\"address\":\"%s\",\"txs\":[]}", to);
  g_assert_cmpstr (oldest, ==, want_oldest);
  /* Search: a tx that left is still offered as a tx (the page asks the
   * core's /v1/txs/{id}); a block that left is not found by hash. */
  synth_id ("tx", 0, id);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/search?q=%s", id);
  g_autoptr (json_t) sr = route_json (h, p, 200);
  g_autofree char *mt = json_dumps (json_object_get (sr, "matches"),
                                    JSON_SORT_KEYS | JSON_COMPACT);
  g_autofree char *want_tx
      = g_strdup_printf ("[{\"id\":\"%s\",\"kind\":\"tx\"}]", id);
  g_assert_cmpstr (mt, ==, want_tx);
  synth_id ("block", 20, hash);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/blocks/by-hash/%s", hash);
  g_autofree char *gone = route (h, p, 404);
  g_assert_nonnull (strstr (gone, "among the 10 latest"));
  synth_id ("block", 21, hash);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/blocks/by-hash/%s", hash);
  g_autofree char *kept = route (h, p, 200);
  g_autofree char *want_kept
      = g_strdup_printf ("{\"hash\":\"%s\",\"height\":21}", hash);
  g_assert_cmpstr (kept, ==, want_kept);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/search?q=%s", hash);
  g_autoptr (json_t) sb = route_json (h, p, 200);
  g_autofree char *mb = json_dumps (json_object_get (sb, "matches"),
                                    JSON_SORT_KEYS | JSON_COMPACT);
  g_assert_cmpstr (mb, ==, "[{\"id\":\"21\",\"kind\":\"block\"}]");

  /* A block larger than index_txs stays alone (the newest always stays). */
  feed_block (ex, &s, 31, 1500);
  g_autoptr (json_t) st2 = route_json (h, "/v1/explorer/stats", 200);
  g_assert_cmpint (json_integer_value (json_object_get (st2, "indexed_from")),
                   ==, 31);
  /* Then index_blocks bounds empty blocks: 100 of them push it out. */
  for (uint64_t height = 32; height <= 131; height++)
    feed_block (ex, &s, height, 0);
  g_autoptr (json_t) st3 = route_json (h, "/v1/explorer/stats", 200);
  g_assert_cmpint (json_integer_value (json_object_get (st3, "indexed_from")),
                   ==, 32);
  g_assert_cmpint (json_integer_value (json_object_get (st3, "indexed_to")), ==,
                   131);
  g_free (p);
  p = g_strdup_printf ("/v1/explorer/accounts/%s/txs", sender);
  g_autofree char *none = route (h, p, 200);
  g_autofree char *want_none
      = g_strdup_printf ("{\"address\":\"%s\",\"txs\":[]}", sender);
  g_assert_cmpstr (none, ==, want_none);
}

static void
test_config (void)
{
  static const char *const bad[][5] = {
    { "index_txs", "999", NULL },
    { "index_txs", "100000001", NULL },
    { "index_txs", "lots", NULL },
    { "index_blocks", "99", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnTestHost) h = cairn_test_host_new ();
    g_assert_null (cairn_test_host_load (h, cairn_plugin_descriptor_explorer,
                                         bad[i], &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, bad[i][0]));
  }
}

/* index = false keeps no index (it did index every block committed after
 * start), but still tx/s and the height. */
static void
test_index_off (void)
{
  g_autoptr (GError) error = NULL;
  for (int on = 0; on <= 1; on++) {
    CairnTestPlugin *tp;
    g_autoptr (CairnTestHost) h = explorer_host (
        (const char *const[]){ "index", on ? "true" : "false", NULL }, &tp);
    for (int i = 0; i < 3; i++) {
      g_assert_true (cairn_test_host_begin_block (h, &error));
      g_assert_true (cairn_test_host_end_block (h, &error));
      g_assert_no_error (error);
      cairn_test_host_advance (h, 60);
    }
    g_autoptr (json_t) st = route_json (h, "/v1/explorer/stats", 200);
    g_assert_cmpint (json_integer_value (json_object_get (st, "indexed_to")),
                     ==, 3);
    g_assert_cmpint (json_integer_value (json_object_get (st, "indexed_from")),
                     ==, on ? 1 : 0);
    g_assert_true (json_is_true (json_object_get (st, "caught_up")));
    size_t len;
    g_autofree char *canon = cairn_test_host_mock_table ()->json_canonical (
        json_object_get (cairn_test_host_block (h, 3), "header"), &len, NULL);
    uint8_t d[32];
    cairn_test_host_mock_table ()->sha256 (canon, len, d);
    g_autofree char *hash = cairn_hex_encode (d, 32);
    g_autofree char *p
        = g_strdup_printf ("/v1/explorer/blocks/by-hash/%s", hash);
    g_autofree char *r = route (h, p, on ? 200 : 404);
  }
}

/* ---- memory ------------------------------------------------------------- */

#ifndef MEM_TXS /* -DMEM_TXS=N to measure another size by hand */
#define MEM_TXS 100000
#endif
#define MEM_PER_BLOCK 250
#define MEM_ROUNDS 4
#define MEM_BOUND 200 /* bytes per indexed tx */

static void
test_memory (gconstpointer data)
{
  gboolean fresh = GPOINTER_TO_INT (data);
  CairnTestPlugin *tp;
  /* index_blocks caps it at MEM_TXS txs (so the same test measures an
   * explorer without index_txs); index_txs is left at its default. */
  g_autofree char *nb = g_strdup_printf ("%d", MEM_TXS / MEM_PER_BLOCK);
  g_autoptr (CairnTestHost) h
      = explorer_host ((const char *const[]){ "index_blocks", nb, NULL }, &tp);
  Explorer *ex = explorer_of (tp);
  Synth s = { .senders = 1000, .fresh = fresh, .type = "bank.transfer" };
  uint64_t height = 1;
  size_t before = heap_in_use ();
  for (; s.tx < MEM_TXS; height++)
    feed_block (ex, &s, height, MEM_PER_BLOCK);
  size_t full = heap_in_use ();
  double per_tx = ((double)full - (double)before) / MEM_TXS;
  g_test_message ("explorer index: %.1f bytes per indexed tx (%zu bytes for "
                  "%d txs, 1,000 senders, %s)",
                  per_tx, full - before, MEM_TXS,
                  fresh ? "every recipient new" : "recipients among them");
  /* Then MEM_ROUNDS times MEM_TXS more: the index is full and evicts as
   * it goes. Its sets leave removed entries behind until they resize, so
   * the heap varies by round, but within a bound. */
  size_t most = full;
  for (guint round = 1; round <= MEM_ROUNDS; round++) {
    for (; s.tx < (round + 1) * (uint64_t)MEM_TXS; height++)
      feed_block (ex, &s, height, MEM_PER_BLOCK);
    size_t now = heap_in_use ();
    most = MAX (most, now);
    g_test_message ("after %u x %d more txs (evicting): %.1f bytes per "
                    "indexed tx",
                    round, MEM_TXS, ((double)now - (double)before) / MEM_TXS);
  }
  double per_tx_most = ((double)most - (double)before) / MEM_TXS;
  g_printerr ("# explorer index (%s): %.1f bytes per indexed tx when "
              "filled, at most %.1f while evicting\n",
              fresh ? "every recipient new" : "1,000 accounts", per_tx,
              per_tx_most);
  g_assert_cmpfloat (per_tx, <=, MEM_BOUND);
  g_assert_cmpfloat (per_tx_most, <=, MEM_BOUND);
  g_assert_cmpfloat (per_tx, >, 32); /* at least the ids: it measured */

  /* After all that eviction the sets still answer right: every indexed
   * block by hash, none of the evicted; each sender's 100 txs (its 100
   * of the last MEM_TXS), recipients new in the last block but not the
   * first. */
  uint64_t last = height - 1, first = last - MEM_TXS / MEM_PER_BLOCK + 1;
  g_autoptr (json_t) st = route_json (h, "/v1/explorer/stats", 200);
  g_assert_cmpint (json_integer_value (json_object_get (st, "indexed_from")),
                   ==, (json_int_t)first);
  for (uint64_t b = first - 50; b <= last; b++) {
    char hash[65];
    synth_id ("block", b, hash);
    g_autofree char *p
        = g_strdup_printf ("/v1/explorer/blocks/by-hash/%s", hash);
    g_autofree char *r = route (h, p, b >= first ? 200 : 404);
  }
  for (guint i = 0; i < 1000; i += fresh ? 1 : 7) {
    char addr[41];
    synth_addr ("s", i, addr);
    g_autofree char *p
        = g_strdup_printf ("/v1/explorer/accounts/%s/txs?limit=1000", addr);
    g_autoptr (json_t) a = route_json (h, p, 200);
    g_assert_cmpuint (json_array_size (json_object_get (a, "txs")), ==,
                      fresh ? 100 : 200);
  }
  if (fresh)
    for (uint64_t n = s.tx - 300; n < s.tx; n += 7) {
      char addr[41];
      synth_addr ("r", n, addr);
      g_autofree char *p
          = g_strdup_printf ("/v1/explorer/accounts/%s/txs", addr);
      g_autoptr (json_t) a = route_json (h, p, 200);
      g_assert_cmpuint (json_array_size (json_object_get (a, "txs")), ==, 1);
      synth_addr ("r", n - MEM_TXS, addr);
      g_autofree char *q
          = g_strdup_printf ("/v1/explorer/accounts/%s/txs", addr);
      g_autoptr (json_t) gone = route_json (h, q, 200);
      g_assert_cmpuint (json_array_size (json_object_get (gone, "txs")), ==, 0);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/explorer-index/paths-agree", test_paths_agree);
  g_test_add_func ("/explorer-index/bounds", test_bounds);
  g_test_add_func ("/explorer-index/config", test_config);
  g_test_add_func ("/explorer-index/index-off", test_index_off);
  g_test_add_data_func ("/explorer-index/memory", GINT_TO_POINTER (TRUE),
                        test_memory);
  g_test_add_data_func ("/explorer-index/memory-pool", GINT_TO_POINTER (FALSE),
                        test_memory);
  return g_test_run ();
}

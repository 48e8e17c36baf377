/* Mempool rules: dedupe, nonce order, gaps, bounds, eviction. */
#include <string.h>

#include <cairn/cairn.h>

#include "cjson.h"
#include "crypto.h"
#include "mempool.h"
#include "tx.h"

static CairnKey *alice, *bob;

static CairnTx *
mk (CairnKey *k, uint64_t nonce, int amount)
{
  g_autoptr (json_t) body = json_pack ("{s:i}", "amount", amount);
  g_autoptr (GError) err = NULL;
  CairnTx *tx = cairn_tx_sign (k, "t", "bank.transfer", nonce, body, &err);
  g_assert_no_error (err);
  return tx;
}

static CairnMempool *
pool (guint max_txs, guint64 max_bytes)
{
  CairnMempoolLimits l = { .max_txs = max_txs,
                           .max_bytes = max_bytes,
                           .max_nonce_gap = 4,
                           .ttl_ms = 1000 };
  return cairn_mempool_new (&l);
}

static void
test_order_and_gaps (void)
{
  g_autoptr (CairnMempool) mp = pool (100, 1 << 20);
  g_autoptr (GError) err = NULL;
  /* Nonces 2, 0, 3 arrive; only 0 is executable until 1 arrives. */
  g_autoptr (CairnTx) t2 = mk (alice, 2, 1);
  g_autoptr (CairnTx) t0 = mk (alice, 0, 1);
  g_autoptr (CairnTx) t3 = mk (alice, 3, 1);
  g_autoptr (CairnTx) t1 = mk (alice, 1, 1);
  g_assert_true (cairn_mempool_add (mp, t2, 0, 0, &err));
  g_assert_true (cairn_mempool_add (mp, t0, 0, 0, &err));
  g_assert_true (cairn_mempool_add (mp, t3, 0, 0, &err));
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 1);
  g_assert_cmpuint (cairn_mempool_next_nonce (mp, t0->from, 0), ==, 1);
  g_assert_true (cairn_mempool_add (mp, t1, 0, 0, &err));
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 4);
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  cairn_mempool_collect (mp, 100, 1 << 20, out);
  g_assert_cmpuint (out->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (((CairnTx *)out->pdata[i])->nonce, ==, i);
  /* Collect respects max_txs. */
  g_ptr_array_set_size (out, 0);
  cairn_mempool_collect (mp, 2, 1 << 20, out);
  g_assert_cmpuint (out->len, ==, 2);
  /* Commit of nonces 0..1: they and nothing else leave. */
  cairn_mempool_set_nonce (mp, t0->from, 2);
  g_assert_cmpuint (cairn_mempool_count (mp), ==, 2);
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 2);
  g_assert_null (cairn_mempool_lookup (mp, t0->id_hex));
  g_assert_nonnull (cairn_mempool_lookup (mp, t2->id_hex));
  cairn_mempool_set_nonce (mp, t0->from, 4);
  g_assert_cmpuint (cairn_mempool_count (mp), ==, 0);
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 0);
  g_assert_cmpuint (cairn_mempool_bytes (mp), ==, 0);
}

static void
test_rejections (void)
{
  g_autoptr (CairnMempool) mp = pool (3, 1 << 20);
  g_autoptr (CairnTx) t5 = mk (alice, 5, 1);
  g_autoptr (CairnTx) t5b = mk (alice, 5, 2);
  g_autoptr (CairnTx) t10 = mk (alice, 10, 1);
  g_autoptr (CairnTx) low = mk (alice, 4, 1);
  GError *err = NULL;
  g_assert_true (cairn_mempool_add (mp, t5, 5, 0, &err));
  /* Same id again. */
  g_assert_false (cairn_mempool_add (mp, t5, 5, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_DUPLICATE);
  g_clear_error (&err);
  /* Another tx with a pending nonce. */
  g_assert_false (cairn_mempool_add (mp, t5b, 5, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_DUPLICATE);
  g_assert_nonnull (strstr (err->message, t5->id_hex));
  g_clear_error (&err);
  /* Replay of a used nonce. */
  g_assert_false (cairn_mempool_add (mp, low, 5, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_NONCE_TOO_LOW);
  g_clear_error (&err);
  /* Too far ahead (gap limit 4). */
  g_assert_false (cairn_mempool_add (mp, t10, 5, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_NONCE_GAP);
  g_clear_error (&err);
  /* Count bound. */
  g_autoptr (CairnTx) b0 = mk (bob, 0, 1);
  g_autoptr (CairnTx) b1 = mk (bob, 1, 1);
  g_autoptr (CairnTx) b2 = mk (bob, 2, 1);
  g_assert_true (cairn_mempool_add (mp, b0, 0, 0, &err));
  g_assert_true (cairn_mempool_add (mp, b1, 0, 0, &err));
  g_assert_false (cairn_mempool_add (mp, b2, 0, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_MEMPOOL_FULL);
  g_clear_error (&err);
}

static void
test_byte_bound_and_ttl (void)
{
  g_autoptr (CairnTx) a0 = mk (alice, 0, 1);
  g_autoptr (CairnMempool) mp = pool (100, a0->len + 10);
  g_autoptr (CairnTx) a1 = mk (alice, 1, 1);
  GError *err = NULL;
  g_assert_true (cairn_mempool_add (mp, a0, 0, 100, &err));
  g_assert_false (cairn_mempool_add (mp, a1, 0, 100, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_MEMPOOL_FULL);
  g_clear_error (&err);
  /* ttl 1000 ms: nothing expires at 1000, a0 does at 1101. */
  g_assert_cmpuint (cairn_mempool_expire (mp, 1000), ==, 0);
  g_assert_cmpuint (cairn_mempool_expire (mp, 1101), ==, 1);
  g_assert_cmpuint (cairn_mempool_count (mp), ==, 0);
  g_assert_true (cairn_mempool_add (mp, a1, 1, 2000, &err));
}

/* Expiry of a tx in the middle of a run leaves only the part before it
 * executable; a later account nonce from admission recounts the run. */
static void
test_executable_count (void)
{
  CairnMempoolLimits l = {
    .max_txs = 100, .max_bytes = 1 << 20, .max_nonce_gap = 8, .ttl_ms = 1000
  };
  g_autoptr (CairnMempool) mp = cairn_mempool_new (&l);
  GError *err = NULL;
  g_autoptr (CairnTx) a0 = mk (alice, 0, 1);
  g_autoptr (CairnTx) a1 = mk (alice, 1, 1);
  g_autoptr (CairnTx) a2 = mk (alice, 2, 1);
  g_autoptr (CairnTx) a3 = mk (alice, 3, 1);
  g_assert_true (cairn_mempool_add (mp, a0, 0, 0, &err));
  g_assert_true (cairn_mempool_add (mp, a1, 0, 500, &err));
  g_assert_true (cairn_mempool_add (mp, a2, 0, 0, &err));
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 3);
  /* At 1200 ms, a0 and a2 (arrived at 0) expire; a1 stays, not runnable. */
  g_assert_cmpuint (cairn_mempool_expire (mp, 1200), ==, 2);
  g_assert_cmpuint (cairn_mempool_count (mp), ==, 1);
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 0);
  /* The chain moved to nonce 1 meanwhile: a3's admission says so. */
  g_assert_true (cairn_mempool_add (mp, a3, 1, 1200, &err));
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 1);
  g_assert_true (cairn_mempool_add (mp, a2, 1, 1200, &err));
  g_assert_cmpuint (cairn_mempool_executable (mp), ==, 3);
}

static void
test_fair_senders (void)
{
  g_autoptr (CairnMempool) mp = pool (100, 1 << 20);
  GError *err = NULL;
  for (int i = 0; i < 3; i++) {
    g_autoptr (CairnTx) a = mk (alice, i, 1);
    g_autoptr (CairnTx) b = mk (bob, i, 1);
    g_assert_true (cairn_mempool_add (mp, a, 0, 0, &err));
    g_assert_true (cairn_mempool_add (mp, b, 0, 0, &err));
  }
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  cairn_mempool_collect (mp, 100, 1 << 20, out);
  g_assert_cmpuint (out->len, ==, 6);
  /* Per sender, nonces stay in order. */
  uint64_t next_a = 0, next_b = 0;
  for (guint i = 0; i < out->len; i++) {
    CairnTx *t = out->pdata[i];
    uint64_t *next
        = g_str_equal (t->from, cairn_key_address (alice)) ? &next_a : &next_b;
    g_assert_cmpuint (t->nonce, ==, *next);
    (*next)++;
  }
}

/* [mempool] max_txs_per_sender: one sender cannot hold more than its
 * share; others still get in, and room comes back after a commit. */
static void
test_per_sender_limit (void)
{
  CairnMempoolLimits l = { .max_txs = 100,
                           .max_bytes = 1 << 20,
                           .max_nonce_gap = 100,
                           .ttl_ms = 1000,
                           .max_per_sender = 3 };
  g_autoptr (CairnMempool) mp = cairn_mempool_new (&l);
  g_autoptr (GError) err = NULL;
  for (uint64_t n = 0; n < 3; n++) {
    g_autoptr (CairnTx) t = mk (alice, n, 1);
    g_assert_true (cairn_mempool_add (mp, t, 0, 0, &err));
  }
  g_autoptr (CairnTx) t3 = mk (alice, 3, 1);
  g_assert_false (cairn_mempool_precheck (mp, t3, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_SENDER_LIMIT);
  g_assert_nonnull (strstr (err->message, "max_txs_per_sender"));
  g_assert_cmpstr (cairn_reject_name (err->code), ==, "sender_limit");
  g_clear_error (&err);
  g_assert_false (cairn_mempool_add (mp, t3, 0, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_SENDER_LIMIT);
  g_clear_error (&err);
  g_assert_cmpuint (cairn_mempool_count (mp), ==, 3);
  /* Another sender is not affected. */
  g_autoptr (CairnTx) b0 = mk (bob, 0, 1);
  g_assert_true (cairn_mempool_add (mp, b0, 0, 0, &err));
  /* A commit of alice's nonce 0 makes room for one more. */
  cairn_mempool_set_nonce (mp, t3->from, 1);
  g_assert_true (cairn_mempool_add (mp, t3, 1, 0, &err));
  g_autoptr (CairnTx) t4 = mk (alice, 4, 1);
  g_assert_false (cairn_mempool_add (mp, t4, 1, 0, &err));
  g_assert_error (err, CAIRN_REJECT, CAIRN_REJECT_SENDER_LIMIT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  alice = cairn_key_generate (NULL);
  bob = cairn_key_generate (NULL);
  g_test_add_func ("/mempool/order-and-gaps", test_order_and_gaps);
  g_test_add_func ("/mempool/rejections", test_rejections);
  g_test_add_func ("/mempool/bytes-and-ttl", test_byte_bound_and_ttl);
  g_test_add_func ("/mempool/fair-senders", test_fair_senders);
  g_test_add_func ("/mempool/executable-count", test_executable_count);
  g_test_add_func ("/mempool/per-sender-limit", test_per_sender_limit);
  int rc = g_test_run ();
  cairn_key_free (alice);
  cairn_key_free (bob);
  return rc;
}

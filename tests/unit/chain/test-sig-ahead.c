/* Checks made ahead (core/sig_ahead.c): every answer is the one
 * cairn_ed25519_verify gives, whether the pool made the check, the caller
 * took it back, or it was never listed. */
#include <string.h>

#include "crypto.h"
#include "sig_ahead.h"

#define N 24
#define DOMAIN "cairn-test/sig-ahead"

static CairnKey *key;

typedef struct {
  uint8_t msg[40];
  uint8_t sig[64];
} Signed;

static void
make_signed (Signed *s, guint i, gboolean corrupt)
{
  memset (s->msg, 0, sizeof s->msg);
  g_snprintf ((char *)s->msg, sizeof s->msg, "message %u", i);
  cairn_key_sign (key, DOMAIN, s->msg, sizeof s->msg, s->sig);
  if (corrupt)
    s->sig[7] ^= 0x20;
}

static void
pool_run (gpointer data, gpointer unused)
{
  CairnPoolJob *job = data;
  job->run (job);
}

/* Good and bad signatures listed, made on a pool of `workers` threads
 * (0: no pool, all made when asked), then asked for in list order. */
static void
check_answers (guint workers)
{
  Signed s[N];
  g_autoptr (CairnSigAhead) a = cairn_sig_ahead_new ();
  for (guint i = 0; i < N; i++) {
    make_signed (&s[i], i, i % 3 == 1);
    cairn_sig_ahead_add (a, cairn_key_pubkey (key), DOMAIN, s[i].msg,
                         sizeof s[i].msg, s[i].sig);
  }
  GThreadPool *pool
      = workers ? g_thread_pool_new (pool_run, NULL, workers, TRUE, NULL)
                : NULL;
  cairn_sig_ahead_start (a, pool);
  CairnSigAhead *prev = cairn_sig_ahead_enter (a);
  for (guint i = 0; i < N; i++) {
    gboolean want = i % 3 != 1;
    g_assert_cmpint (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN,
                                             s[i].msg, sizeof s[i].msg,
                                             s[i].sig),
                     ==, want);
    /* Asked again: the same answer. */
    g_assert_cmpint (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN,
                                             s[i].msg, sizeof s[i].msg,
                                             s[i].sig),
                     ==, want);
  }
  cairn_sig_ahead_leave (prev);
  if (pool)
    g_thread_pool_free (pool, FALSE, TRUE);
}

static void
test_no_pool (void)
{
  check_answers (0);
}

static void
test_one_worker (void)
{
  check_answers (1);
}

static void
test_three_workers (void)
{
  check_answers (3);
}

/* Only the exact listed check is answered from the list: the same
 * signature with another message, domain or key is made afresh (and
 * fails), and outside enter/leave nothing is taken from the list. */
static void
test_exact_match_only (void)
{
  Signed s;
  make_signed (&s, 1, FALSE);
  g_autoptr (CairnKey) other = cairn_key_generate (NULL);
  g_autoptr (CairnSigAhead) a = cairn_sig_ahead_new ();
  cairn_sig_ahead_add (a, cairn_key_pubkey (key), DOMAIN, s.msg, sizeof s.msg,
                       s.sig);
  cairn_sig_ahead_start (a, NULL);
  CairnSigAhead *prev = cairn_sig_ahead_enter (a);
  uint8_t msg2[sizeof s.msg];
  memcpy (msg2, s.msg, sizeof msg2);
  msg2[sizeof msg2 - 1] ^= 1;
  g_assert_false (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN, msg2,
                                          sizeof msg2, s.sig));
  g_assert_false (cairn_sig_ahead_verify (
      cairn_key_pubkey (key), "cairn-test/other", s.msg, sizeof s.msg, s.sig));
  g_assert_false (cairn_sig_ahead_verify (cairn_key_pubkey (other), DOMAIN,
                                          s.msg, sizeof s.msg, s.sig));
  g_assert_false (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN, s.msg,
                                          sizeof s.msg - 1, s.sig));
  g_assert_true (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN, s.msg,
                                         sizeof s.msg, s.sig));
  cairn_sig_ahead_leave (prev);
  /* Not entered: a bad signature is made and refused. */
  s.sig[0] ^= 1;
  g_assert_false (cairn_sig_ahead_verify (cairn_key_pubkey (key), DOMAIN, s.msg,
                                          sizeof s.msg, s.sig));
}

/* The list outlives its caller's reference while pool jobs hold it:
 * dropped right after start, with the jobs still queued behind a busy
 * single worker (run under ASan/valgrind for the lifetime). */
static void
test_dropped_while_queued (void)
{
  GThreadPool *pool = g_thread_pool_new (pool_run, NULL, 1, TRUE, NULL);
  for (guint round = 0; round < 8; round++) {
    CairnSigAhead *a = cairn_sig_ahead_new ();
    for (guint i = 0; i < N; i++) {
      Signed s;
      make_signed (&s, i, FALSE);
      cairn_sig_ahead_add (a, cairn_key_pubkey (key), DOMAIN, s.msg,
                           sizeof s.msg, s.sig);
    }
    cairn_sig_ahead_start (a, pool);
    cairn_sig_ahead_unref (a);
  }
  g_thread_pool_free (pool, FALSE, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  key = cairn_key_generate (NULL);
  g_assert_nonnull (key);
  g_test_add_func ("/sig-ahead/no-pool", test_no_pool);
  g_test_add_func ("/sig-ahead/one-worker", test_one_worker);
  g_test_add_func ("/sig-ahead/three-workers", test_three_workers);
  g_test_add_func ("/sig-ahead/exact-match-only", test_exact_match_only);
  g_test_add_func ("/sig-ahead/dropped-while-queued",
                   test_dropped_while_queued);
  int rc = g_test_run ();
  cairn_key_free (key);
  return rc;
}

/* Time per FROST step (plugins/threshold/frost.c) for t-of-n = 2-of-3 and
 * 5-of-7: frost_commit and frost_sign per participant, frost_verify_share
 * per share, frost_aggregate per signature (which verifies the result).
 * Built, not run by `meson test`: `meson test --benchmark` or run it
 * (argument: rounds, default 200). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "frost.h"

static void
check (gboolean ok, GError *error)
{
  if (!ok)
    g_error ("%s", error != NULL ? error->message : "failed");
}

static void
bench (guint t, guint n, guint rounds)
{
  uint8_t pk[32], (*shares)[32] = g_malloc ((size_t)n * 32);
  uint8_t (*vshares)[32] = g_malloc ((size_t)n * 32);
  CairnFrostNonces *nonces = g_new0 (CairnFrostNonces, t);
  CairnFrostCommitment *commitments = g_new0 (CairnFrostCommitment, t);
  CairnFrostShare *sig_shares = g_new0 (CairnFrostShare, t);
  GError *error = NULL;
  static const char msg[] = "a 32-byte message to be signed..";
  uint8_t sig[64];
  gint64 t0, keygen_us, commit_us = 0, sign_us = 0, verify_us = 0,
                        aggregate_us = 0;

  t0 = g_get_monotonic_time ();
  for (guint r = 0; r < rounds; r++)
    check (frost_dealer_keygen (t, n, pk, shares, vshares, &error), error);
  keygen_us = g_get_monotonic_time () - t0;

  for (guint r = 0; r < rounds; r++) {
    t0 = g_get_monotonic_time ();
    for (guint i = 0; i < t; i++)
      check (
          frost_commit (i + 1, shares[i], &nonces[i], &commitments[i], &error),
          error);
    commit_us += g_get_monotonic_time () - t0;
    t0 = g_get_monotonic_time ();
    for (guint i = 0; i < t; i++) {
      sig_shares[i].identifier = i + 1;
      check (frost_sign (i + 1, shares[i], pk, &nonces[i], commitments, t, msg,
                         sizeof msg - 1, sig_shares[i].share, &error),
             error);
    }
    sign_us += g_get_monotonic_time () - t0;
    t0 = g_get_monotonic_time ();
    for (guint i = 0; i < t; i++)
      check (frost_verify_share (&sig_shares[i], vshares[i], commitments, t, pk,
                                 msg, sizeof msg - 1, &error),
             error);
    verify_us += g_get_monotonic_time () - t0;
    t0 = g_get_monotonic_time ();
    check (frost_aggregate (commitments, t, sig_shares, t, pk, msg,
                            sizeof msg - 1, sig, &error),
           error);
    aggregate_us += g_get_monotonic_time () - t0;
  }
  printf ("t=%u n=%u (%u rounds): keygen %.1f us, commit %.1f us, sign %.1f "
          "us, verify_share %.1f us (per participant); aggregate %.1f us (per "
          "signature, verification included)\n",
          t, n, rounds, (double)keygen_us / rounds,
          (double)commit_us / rounds / t, (double)sign_us / rounds / t,
          (double)verify_us / rounds / t, (double)aggregate_us / rounds);
  sodium_memzero (shares, (size_t)n * 32);
  g_free (shares);
  g_free (vshares);
  g_free (nonces);
  g_free (commitments);
  g_free (sig_shares);
}

int
main (int argc, char **argv)
{
  guint rounds = argc > 1 ? (guint)atoi (argv[1]) : 200;

  if (rounds == 0 || sodium_init () < 0)
    return 2;
  bench (2, 3, rounds);
  bench (5, 7, rounds);
  return 0;
}

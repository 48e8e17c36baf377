/* Micro-benchmark of the ledger hot paths (built, not run as a test):
 *   bench-ledger [N_TXS]
 * prints tx decode / verify / decode+verify rates on 1 and 2 threads, block
 * encode/decode and LtHash update rates. */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "block.h"
#include "cjson.h"
#include "crypto.h"
#include "lthash.h"
#include "tx.h"

typedef struct {
  GPtrArray *wire; /* GBytes* */
  guint from, to;
  gboolean verify;
  guint ok;
} Work;

static gpointer
decode_verify (gpointer data)
{
  Work *w = data;

  for (guint i = w->from; i < w->to; i++) {
    GBytes *b = w->wire->pdata[i];
    gsize len;
    const char *p = g_bytes_get_data (b, &len);
    g_autoptr (CairnTx) tx = cairn_tx_decode (p, len, "bench", NULL);
    if (tx != NULL && (!w->verify || cairn_tx_verify (tx, NULL)))
      w->ok++;
  }
  return NULL;
}

static double
run (GPtrArray *wire, guint threads, gboolean verify)
{
  Work w[8];
  GThread *t[8];
  gint64 start = g_get_monotonic_time ();
  guint ok = 0;

  for (guint k = 0; k < threads; k++) {
    w[k] = (Work){ wire, wire->len * k / threads, wire->len * (k + 1) / threads,
                   verify, 0 };
    t[k] = g_thread_new ("bench", decode_verify, &w[k]);
  }
  for (guint k = 0; k < threads; k++) {
    g_thread_join (t[k]);
    ok += w[k].ok;
  }
  if (ok != wire->len)
    g_error ("only %u of %u txs passed", ok, wire->len);
  return wire->len / ((g_get_monotonic_time () - start) / 1e6);
}

static double
verify_only (GPtrArray *txs)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < txs->len; i++) {
    CairnTx *tx = txs->pdata[i];
    g_atomic_int_set (&tx->sig_checked, FALSE);
    if (!cairn_tx_verify (tx, NULL))
      g_error ("verify failed");
  }
  return txs->len / ((g_get_monotonic_time () - start) / 1e6);
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint)atoi (argv[1]) : 20000;
  g_autoptr (GPtrArray) wire
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  g_autoptr (GPtrArray) txs
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  g_autoptr (CairnKey) key = cairn_key_generate (NULL);
  g_autoptr (CairnKey) other = cairn_key_generate (NULL);
  gint64 start;
  size_t total = 0;

  for (guint i = 0; i < n; i++) {
    g_autoptr (json_t) body
        = json_pack ("{s:s, s:I, s:s, s:s}", "to", cairn_key_address (other),
                     "amount", (json_int_t)(1000 + i), "denom", "cairn", "memo",
                     "payment for invoice 2026-0042");
    CairnTx *tx = cairn_tx_sign (key, "bench", "bank.transfer", i, body, NULL);
    total += tx->len;
    g_ptr_array_add (wire, g_bytes_new (tx->bytes, tx->len));
    g_ptr_array_add (txs, tx);
  }
  printf ("txs: %u, mean size %zu bytes\n", n, total / n);
  printf ("decode only, 1 thread:      %8.0f txs/s\n", run (wire, 1, FALSE));
  printf ("verify only, 1 thread:      %8.0f txs/s\n", verify_only (txs));
  printf ("decode+verify, 1 thread:    %8.0f txs/s\n", run (wire, 1, TRUE));
  printf ("decode+verify, 2 threads:   %8.0f txs/s\n", run (wire, 2, TRUE));

  {
    guint bn = MIN (n, 1000u);
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnBlockData) b = cairn_block_new (
        "bench", 1,
        "0000000000000000000000000000000000000000000000000000"
        "000000000000",
        1767225600000, cairn_key_address (key),
        "1111111111111111111111111111111111111111111111111111111111111111",
        NULL, (CairnTx **)txs->pdata, bn, &error);
    int rounds = 20;
    size_t len = 0;
    double enc, dec;

    g_assert_no_error (error);
    b->certificate = json_pack ("{s:i}", "round", 1);
    start = g_get_monotonic_time ();
    for (int r = 0; r < rounds; r++)
      g_free (cairn_block_encode (b, TRUE, &len, NULL));
    enc = (g_get_monotonic_time () - start) / 1e3 / rounds;
    {
      g_autofree char *bytes = cairn_block_encode (b, TRUE, &len, NULL);
      start = g_get_monotonic_time ();
      for (int r = 0; r < rounds; r++) {
        CairnBlockData *d = cairn_block_decode (bytes, len, "bench", &error);
        g_assert_no_error (error);
        cairn_block_unref (d);
      }
      dec = (g_get_monotonic_time () - start) / 1e3 / rounds;
    }
    printf ("block of %u txs (%zu bytes): encode %.2f ms, decode %.2f ms "
            "(%.0f txs/s)\n",
            bn, len, enc, dec, bn / (dec / 1e3));
  }

  {
    CairnLtHash h;
    guint m = 200000;
    char value[100] = { 0 };

    cairn_lthash_init (&h);
    start = g_get_monotonic_time ();
    for (guint i = 0; i < m; i++) {
      char k[48];
      g_snprintf (k, sizeof k, "bank/balance/%08x", i);
      cairn_lthash_add (&h, k, value, sizeof value);
    }
    printf ("lthash add (24-byte key, 100-byte value): %8.0f updates/s\n",
            m / ((g_get_monotonic_time () - start) / 1e6));
  }
  return 0;
}

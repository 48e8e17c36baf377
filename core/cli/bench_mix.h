/* cairn bench --mix: which tx types the load holds and how each body is
 * made. A type is a row of bench_mix.c's table: its name in --mix (= the tx
 * type it signs), its body generator and its setup (genesis roles and setup
 * txs, bench_mix_genesis and bench_mix_setup). Types whose setup the bench
 * cannot do yet are rows with the reason, and asking for them is an error
 * naming it. --tx-size pads bank.transfer's memo (cmd_bench.c), so it takes
 * a mix of bank.transfer alone. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <stdint.h>

typedef struct BenchMix BenchMix;

#include "cli.h"
#include "crypto.h"

typedef struct CairnClient CairnClient;

/* What a body generator may use for tx i of one sender. */
typedef struct {
  const CairnKey *key; /* the sender (inner signatures: im.send) */
  const char *to;      /* another sender (bank.transfer, im.send) */
  guint64 i;           /* the tx's index in the run */
} BenchMixCtx;

/* spec: "TYPE=WEIGHT,TYPE=WEIGHT..." (weights integers 1..10000, sum at
 * most 10000, each type once), or NULL for "bank.transfer=1". tx_size:
 * 0, or the --tx-size the bench pads bank.transfer's memo to; with any other
 * type in the mix it is an error. Errors: CAIRN_CLI_ERROR USAGE naming the
 * part of spec. */
BenchMix *bench_mix_parse (const char *spec, guint tx_size, GError **error);
void bench_mix_free (BenchMix *mix);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BenchMix, bench_mix_free)

guint bench_mix_n (const BenchMix *mix);
/* The k-th type's --mix name, which is also its tx type. */
const char *bench_mix_name (const BenchMix *mix, guint k);
guint bench_mix_weight (const BenchMix *mix, guint k);
/* The type index of tx i: the weights spread evenly over every run of
 * sum-of-weights consecutive txs. */
guint bench_mix_pick (const BenchMix *mix, guint64 i);
/* A new body for a tx of type k. */
json_t *bench_mix_body (const BenchMix *mix, guint k, const BenchMixCtx *ctx);
/* TRUE when every type needs no setup (the only mixes --home/--target
 * take: the bench does not own that genesis). */
gboolean bench_mix_plain (const BenchMix *mix);
/* Before the network starts: the genesis roles the mix needs (services:
 * "platform" on every sender, to register itself as a provider; im:
 * "im_registrar" on node0's key, the registrar node; market: "app_node"
 * on every sender, "platform" on sender 0, and epoch_blocks 10^8 so that
 * period 0 lasts). node0_address is also im.send's "store". */
void bench_mix_genesis (BenchMix *mix, json_t *genesis,
                        CairnKey *const *senders, guint n,
                        const char *node0_address);
/* Before the clock, through node0's API: the setup txs of the mix's types
 * (services.register_provider per sender; market.create by sender 0 and
 * market.serve per sender; im registration at the registrar route and
 * im.settings {"allow_strangers": true} per sender),
 * each committed and successful. nonce[s] is each sender's next nonce and
 * advances with its setup txs. */
gboolean bench_mix_setup (BenchMix *mix, CairnClient *client,
                          const char *chain_id, CairnKey *const *senders,
                          guint n, uint64_t *nonce, GError **error);
/* The fewest sender accounts the mix works with (im.send: 2, a sender
 * writes to another registered sender). */
guint bench_mix_min_accounts (const BenchMix *mix);
/* {"TYPE": weight, ...} */
json_t *bench_mix_json (const BenchMix *mix);

/* Submit txs (batches of 500), then wait until each committed with
 * success; errors name what ("funding tx", a setup step) and the tx. */
gboolean bench_commit_txs (CairnClient *client, GPtrArray *txs,
                           const char *what, GError **error);

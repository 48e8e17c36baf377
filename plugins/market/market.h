/* market: third-party app services (internal declarations).
 *
 * The plugin's files: market.c (lifecycle, config, helpers, auto-rank),
 * txs.c (params, create, serve, usage, rate), ranking.c (the ranking of an
 * epoch, market.rank, rewards and market.distribute), trade.c (trade,
 * order, fill, cancel), reads.c (routes). README.md has the formulas and
 * the state layout. */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 1
#include <cairn/bank.h>
#include <cairn/cairn.h>

#define MKT_ID "market"
#define MKT_KEYBUF 320
#define MKT_MAX_RECORDS 1000
#define MKT_MAX_CALLS 1000000000LL
#define MKT_MAX_DURATION 1000000000000LL
#define MKT_MAX_RANGE 100

/* Params, read once per call from state (or the defaults). */
typedef struct {
  char platform_role[33], app_node_role[33], denom[17];
  int64_t epoch_blocks, supply_cap, initial_issuance, halving_epochs;
  int64_t top_services, prior_rating_milli, prior_weight;
  int64_t bps_developers, bps_users, bps_raters, bps_producer;
} MktParams;

typedef struct Market {
  CairnPlugin *self;
  const CairnBankService *bank;
  gboolean auto_rank;
  guint sub_block;
  int64_t last_auto_epoch; /* last epoch this node sent market.rank for */
  GBytes *params_raw;      /* the stored params last parsed, */
  MktParams params;        /* and what they gave */
} Market;

extern const CairnHost *mkt_host;

/* A JSON value of the plugin's state, or NULL with *error unset when
 * absent. */
json_t *mkt_get (Market *m, CairnTxCtx *tx, const char *key, GError **error);
gboolean mkt_put (Market *m, CairnTxCtx *tx, const char *key, const json_t *v,
                  GError **error);
const char *mkt_str (const json_t *o, const char *k);
json_int_t mkt_int (const json_t *o, const char *k);
/* Epoch of a block height (heights >= 1). */
int64_t mkt_epoch_of (const MktParams *p, uint64_t height);

/* ---- txs.c ---- */
gboolean mkt_register_txs (Market *m, GError **error);
gboolean mkt_params (Market *m, CairnTxCtx *tx, MktParams *out, GError **error);
gboolean mkt_has_role (Market *m, CairnTxCtx *tx, const char *addr,
                       const char *role);

/* ---- ranking.c ---- */
/* The ranking of epoch e from the state seen by tx (NULL: the head), with
 * "hash"; and the epoch's usage and ratings entries. */
json_t *mkt_ranking_compute (Market *m, CairnTxCtx *tx, const MktParams *p,
                             int64_t epoch, json_t **usage, json_t **ratings,
                             GError **error);
/* Issuance of epoch e given the vouchers minted before it. */
uint64_t mkt_issuance (const MktParams *p, int64_t epoch,
                       uint64_t minted_before);
extern const CairnTxHandler mkt_rank_handler, mkt_distribute_handler;

/* ---- trade.c ---- */
extern const CairnTxHandler mkt_trade_handler, mkt_order_handler,
    mkt_fill_handler, mkt_cancel_handler;

/* ---- reads.c ---- */
gboolean mkt_register_routes (Market *m, GError **error);

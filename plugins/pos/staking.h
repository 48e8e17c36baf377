/* pos staking: the on-chain validator set of the pos plugin — params,
 * validators, delegations, unbonding, slashing, jailing, rewards and the
 * history of validator sets per height. Everything here runs inside tx
 * handlers, the genesis hook and end_block, so it is deterministic:
 * integers only, state iterated in key order, canonical JSON values.
 *
 * State (namespace "pos"; heights are 20-digit zero-padded decimals so key
 * order is height order):
 *   params                            the chain's staking params (JSON)
 *   bonded                            total bonded stake (JSON integer)
 *   changed                           "1": recompute the set at end_block
 *   val/<addr>                        a validator (JSON, see README.md)
 *   del/<validator>/<delegator>       a delegation (JSON integer)
 *   unb/<release>/<delegator>/<validator>  stake being unbonded
 *   set/<from>                        the set in force from height <from>
 *   punished/<height>/<addr>          double-signing at <height> punished
 *
 * See README.md ("Staking") for the rules. */
#pragma once

#include <cairn/bank.h>
#include <cairn/cairn.h>

#include "engine.h"

typedef struct PosParams {
  char denom[17];
  uint64_t power_unit;       /* stake per unit of voting power */
  uint64_t set_change_delay; /* changes in block h apply at h + this */
  uint64_t unbonding_blocks;
  uint64_t slash_bps; /* of bonded stake, burnt on double signing */
  uint64_t jail_blocks;
  uint64_t evidence_max_age;
  uint64_t min_self_stake;
  uint64_t max_validators;
  uint64_t reward_per_block; /* 0 = no rewards */
  uint64_t reward_halving_blocks;
  uint64_t reward_proposer_bps;
} PosParams;

typedef struct PosStaking {
  const CairnHost *host;
  CairnPlugin *self;
  const CairnBankService *bank;
  PosParams params; /* cached once read: params never change */
  gboolean have_params;
} PosStaking;

/* Implemented by pos.c: the staking part of the plugin instance of self. */
PosStaking *pos_plugin_staking (CairnPlugin *self);

/* During init: look up cairn.bank/1, register the pos.* tx types, the app
 * hooks (genesis, end_block) and the GET /v1/pos/validators routes. */
gboolean pos_staking_init (PosStaking *st, CairnPlugin *self,
                           const CairnHost *host, GError **error);

/* The params (from state; tx NULL = committed head). */
gboolean pos_staking_params (PosStaking *st, CairnTxCtx *tx, PosParams *out,
                             GError **error);

/* The validator set in force at height: *set gets its JSON
 * {"total_power":T,"validators":[{"address","power","pubkey"}...]} and
 * *from (may be NULL) the height it took effect. CAIRN_ERROR_NOT_FOUND
 * when no kept set covers height (before height 1, or pruned). */
gboolean pos_staking_set_at (PosStaking *st, CairnTxCtx *tx, uint64_t height,
                             uint64_t *from, json_t **set, GError **error);

/* The same set as its stored bytes (canonical JSON). */
gboolean pos_staking_set_bytes_at (PosStaking *st, CairnTxCtx *tx,
                                   uint64_t height, uint64_t *from,
                                   GBytes **value, GError **error);

/* The engine's validator set built from such JSON. */
PosValidatorSet *pos_staking_set_new (const json_t *set, GError **error);

/* Every kept set entry, ascending: [{"from":H,"total_power":T,
 * "validators":[...]}]. */
json_t *pos_staking_sets_json (PosStaking *st, GError **error);

/* Has double signing by address at height already been punished? */
gboolean pos_staking_punished (PosStaking *st, CairnTxCtx *tx,
                               const char *address, uint64_t height,
                               gboolean *out, GError **error);

/* Slashing burns and rewards mint through cairn.bank/1: fails (naming
 * [bank] minters) when the genesis params need that and the bank refuses
 * pos. Works during init. */
gboolean pos_staking_check_minter (PosStaking *st, GError **error);

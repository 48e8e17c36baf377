/* The genesis document (<home>/genesis.json, canonical or pretty JSON;
 * integers only):
 * {
 *   "chain_id": "dev",                     [A-Za-z0-9_.-]{1,64}
 *   "genesis_time": 1767225600000,         ms since the epoch, > 0
 *   "admin": {"threshold": 1, "members": ["<address>", ...]},
 *   "accounts": [ {"address": "<address>", "pubkey": "<hex>" (optional),
 *                  "roles": ["platform", ...], "balances": {"cairn": 1000}} ],
 *   "validators": [ {"address": "<address>", "pubkey": "<hex>",
 *                    "stake": 100, "name": "n0"} ],
 *   "app_state": { "<plugin id>": {...} }   optional, per plugin
 * }
 * Checks: required fields and types, addresses valid, pubkey matches
 * address, no duplicate accounts/validators, 1 <= threshold <= members,
 * balances and stakes non-negative, role names [a-z_]{1,32}. Errors name
 * the file and the JSON path, e.g. "genesis.json: accounts[2].balances.cairn:
 * must be a non-negative integer". */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

typedef struct CairnGenesis {
  json_t *doc; /* the whole document (owned) */
  char *chain_id;
  int64_t genesis_time;
  uint8_t hash[32]; /* SHA-256 of the canonical document */
} CairnGenesis;

CairnGenesis *cairn_genesis_load (const char *path, GError **error);
CairnGenesis *cairn_genesis_from_json (const json_t *doc, const char *origin,
                                       GError **error);
void cairn_genesis_free (CairnGenesis *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnGenesis, cairn_genesis_free)

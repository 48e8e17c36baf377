/* Blocks: header + txs + commit certificate, all canonical JSON.
 *
 * header = {"chain_id","consensus":{..}|null? (omitted when absent),
 *           "height","prev_hash","proposer","state_root","time","tx_count",
 *           "tx_root"}   (time in ms since the epoch; hashes lowercase hex)
 * block hash = SHA-256(canonical(header)); tx_root = cairn_merkle_root of
 * the tx ids in block order; prev_hash of block 0 is 64 zeros.
 * Stored form: canonical {"certificate":{..},"header":{..},"txs":[..]}. */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "tx.h"

typedef struct CairnBlockData {
  gint ref;
  json_t *header; /* owned */
  uint64_t height;
  int64_t time_ms;
  char *chain_id;
  char prev_hash[65];
  char proposer[41]; /* "" for genesis */
  char state_root[65];
  char tx_root[65];
  uint8_t hash[32];
  char hash_hex[65];
  GPtrArray *txs;      /* CairnTx*, owned refs */
  json_t *certificate; /* owned, may be NULL before commit */
  char *header_bytes;  /* canonical header */
  size_t header_len;
} CairnBlockData;

/* Assemble from parts; computes tx_root, header and hash. consensus may be
 * NULL. txs: array of CairnTx* (refs taken). */
CairnBlockData *cairn_block_new (const char *chain_id, uint64_t height,
                                 const char *prev_hash, int64_t time_ms,
                                 const char *proposer, const char *state_root,
                                 const json_t *consensus, CairnTx **txs,
                                 size_t n_txs, GError **error);
/* Encode without certificate ({"header","txs"}) or with it (stored form). */
char *cairn_block_encode (const CairnBlockData *b, gboolean with_certificate,
                          size_t *len, GError **error);
/* Decode either form; checks header fields, tx_root, tx count, every tx's
 * envelope and chain id (signatures are NOT verified here).
 * Errors: CAIRN_ERROR_INVALID / CAIRN_ERROR_CORRUPT with the field name. */
CairnBlockData *cairn_block_decode (const char *bytes, size_t len,
                                    const char *chain_id, GError **error);
/* A tx this node already holds with this id (a new reference), or NULL. */
typedef CairnTx *(*CairnTxLookup) (const uint8_t id[32], gpointer data);

/* cairn_block_decode that takes the txs lookup knows (same id: same bytes,
 * compared) instead of decoding them again: a proposal's txs are mostly
 * in the mempool already. */
CairnBlockData *cairn_block_decode_known (const char *bytes, size_t len,
                                          const char *chain_id,
                                          CairnTxLookup lookup, gpointer data,
                                          GError **error);
CairnBlockData *cairn_block_ref (CairnBlockData *b);
void cairn_block_unref (CairnBlockData *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnBlockData, cairn_block_unref)

/* The header's height in the bytes of a block (either form) without
 * parsing it, for cheap filtering of gossip; the block still has to be
 * decoded before it is trusted. FALSE when not found. */
gboolean cairn_block_peek_height (const char *bytes, size_t len,
                                  uint64_t *height);
/* Locate tx `index` in the stored bytes of a block (either form) without
 * parsing the block: the tx's canonical bytes are bytes[*start, +*tx_len).
 * FALSE when the index is out of range or the bytes are not a block. */
gboolean cairn_block_tx_slice (const char *bytes, size_t len, guint index,
                               size_t *start, size_t *tx_len);

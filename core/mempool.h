/* The mempool: verified txs waiting for a block.
 *
 * Bounded by count and bytes; deduplicated by id; per sender, txs are kept
 * in nonce order and only a consecutive run starting at the account's
 * committed nonce is executable. Txs older than the TTL are dropped. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "tx.h"

typedef struct CairnMempool CairnMempool;

typedef struct CairnMempoolLimits {
  guint max_txs;
  guint64 max_bytes;
  uint64_t max_nonce_gap;
  int64_t ttl_ms;
  guint max_per_sender; /* pending txs of one sender; 0 = no limit */
} CairnMempoolLimits;

CairnMempool *cairn_mempool_new (const CairnMempoolLimits *limits);
void cairn_mempool_free (CairnMempool *mp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnMempool, cairn_mempool_free)

/* The checks of cairn_mempool_add that need no room (duplicate id or
 * sender+nonce, nonce too low or too far ahead): cheap, so they run before
 * the signature check. */
gboolean cairn_mempool_precheck (CairnMempool *mp, CairnTx *tx,
                                 uint64_t account_nonce, GError **error);
/* account_nonce: the sender's next nonce in committed state. Errors in
 * CAIRN_REJECT (duplicate, nonce_too_low, nonce_gap, sender_limit,
 * mempool_full). */
gboolean cairn_mempool_add (CairnMempool *mp, CairnTx *tx,
                            uint64_t account_nonce, int64_t now_ms,
                            GError **error);
/* Executable txs in order (refs added to out), without removing them. */
void cairn_mempool_collect (CairnMempool *mp, guint max_txs, guint64 max_bytes,
                            GPtrArray *out);
/* After a commit: the sender's committed nonce is now `account_nonce`;
 * drop everything of theirs below it. */
void cairn_mempool_set_nonce (CairnMempool *mp, const char *sender,
                              uint64_t account_nonce);
/* Drop txs that arrived before now - ttl. Returns how many. */
guint cairn_mempool_expire (CairnMempool *mp, int64_t now_ms);

CairnTx *cairn_mempool_lookup (CairnMempool *mp, const char *id_hex);
/* account_nonce + length of the consecutive pending run. */
uint64_t cairn_mempool_next_nonce (CairnMempool *mp, const char *sender,
                                   uint64_t account_nonce);
guint cairn_mempool_count (CairnMempool *mp);
guint cairn_mempool_executable (CairnMempool *mp);
guint64 cairn_mempool_bytes (CairnMempool *mp);

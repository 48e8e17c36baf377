/* Verifying a stored chain without executing it (see chain_verify.c). */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "lthash.h"

typedef struct CairnNode CairnNode;

typedef struct {
  uint64_t blocks;     /* blocks 1..head checked */
  uint64_t txs;        /* their txs, signatures checked */
  uint64_t state_keys; /* keys hashed at the head */
  double seconds;
  CairnLtHash lthash; /* the accumulator of the head state */
} CairnChainVerifyReport;

typedef struct CairnBlockData CairnBlockData;

/* A committed block from the store, decoded (chain.c). */
CairnBlockData *cairn_chain_load_block (CairnNode *node, uint64_t height,
                                        GError **error);

/* Blocks 1..head of node's store: links, tx roots and signatures, commit
 * certificates (by the consensus plugin); then the head state against the
 * head's state_root. CAIRN_ERROR_CORRUPT naming the block and what is
 * wrong. */
gboolean cairn_chain_verify_stored (CairnNode *node, uint64_t head,
                                    CairnChainVerifyReport *report,
                                    GError **error);

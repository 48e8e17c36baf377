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

/* A committed block from the store, decoded (chain.c). Its header must
 * hash to the hash the store indexed for the height and its txs to its tx
 * root: a damaged record is CAIRN_ERROR_CORRUPT naming the data dir, never
 * another block. */
CairnBlockData *cairn_chain_load_block (CairnNode *node, uint64_t height,
                                        GError **error);
/* The same checks on block bytes already read from the store. */
CairnBlockData *cairn_chain_check_stored (CairnNode *node, uint64_t height,
                                          GBytes *raw, GError **error);

/* Blocks 1..head of node's store: links, tx roots and signatures, commit
 * certificates (by the consensus plugin); then the head state against the
 * head's state_root. CAIRN_ERROR_CORRUPT naming the block and what is
 * wrong. */
gboolean cairn_chain_verify_stored (CairnNode *node, uint64_t head,
                                    CairnChainVerifyReport *report,
                                    GError **error);

/* explorer: the chain's web page (internal declarations; README.md).
 *
 * Files: explorer.c (lifecycle, config, the web files, the panels service
 * cairn.explorer/1), index.c (this node's in-memory index of recent
 * blocks: block hash -> height, tx id -> height, account -> txs; tx/s;
 * and the /v1/explorer/... routes that read it). */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 2
#include <cairn/cairn.h>
#include <cairn/explorer.h>

#define EXPLORER_ID "explorer"
#define EXPLORER_TPS_SECONDS 60
/* Defaults of the index's bounds ([explorer] index_blocks, index_txs). */
#define EXPLORER_INDEX_BLOCKS 10000
#define EXPLORER_INDEX_TXS 250000

typedef struct ExplorerIndex ExplorerIndex; /* index.c */

typedef struct Explorer {
  CairnPlugin *self;
  GResource *web; /* the files of web/ */
  json_t *panels; /* array of registered panels */
  gboolean index_on;
  int64_t index_blocks; /* at most this many of the latest blocks ... */
  int64_t index_txs;    /* ... and at most this many txs (README) */
  ExplorerIndex *index;
} Explorer;

extern const CairnHost *ex_host;

/* ---- index.c ---- */
gboolean ex_index_init (Explorer *ex, GError **error);
gboolean ex_index_start (Explorer *ex, GError **error);
void ex_index_stop (Explorer *ex);
void ex_index_free (Explorer *ex);
gboolean ex_register_api (Explorer *ex, GError **error);
/* Indexes a committed block from its "block" event (attrs txs, tx_types,
 * senders, recipients); FALSE, indexing nothing, when the event lacks
 * them. The block's height must be the next the index expects. Used by
 * the block subscription, and by tests/plugins/explorer to feed blocks. */
gboolean ex_index_event (Explorer *ex, const CairnEvent *ev);

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

typedef struct ExplorerIndex ExplorerIndex; /* index.c */

typedef struct Explorer {
  CairnPlugin *self;
  GResource *web; /* the files of web/ */
  json_t *panels; /* array of registered panels */
  gboolean index_on;
  int64_t index_blocks;
  ExplorerIndex *index;
} Explorer;

extern const CairnHost *ex_host;

/* ---- index.c ---- */
gboolean ex_index_init (Explorer *ex, GError **error);
gboolean ex_index_start (Explorer *ex, GError **error);
void ex_index_stop (Explorer *ex);
void ex_index_free (Explorer *ex);
gboolean ex_register_api (Explorer *ex, GError **error);

/* The HTTP API's request parsing, without libsoup or a node: the body of
 * POST /v1/txs, block heights, /v1/state paths, Range headers. http.c and
 * http_stream.c call these; tests/fuzz/fuzz-http.c feeds them fuzzed
 * bytes. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "tx.h"

/* A decoded POST /v1/txs body: one tx per element (or the lone tx). */
typedef struct CairnTxBatch {
  gboolean single; /* a lone tx object, not an array */
  guint n;
  CairnTx **txs; /* NULL where decoding failed (errs[k] says why) */
  GError **errs;
} CairnTxBatch;

/* Decodes the body: a lone tx object (its exact bytes, so the size cap and
 * the canonical check apply to them) or a canonical JSON array of tx
 * objects. Signatures are not checked. FALSE with *error (CAIRN_REJECT)
 * when the whole body is unusable; then out is left empty. */
gboolean cairn_http_parse_txs (const char *data, gsize len,
                               const char *chain_id, CairnTxBatch *out,
                               GError **error);
void cairn_tx_batch_clear (CairnTxBatch *b);

/* "latest" (CAIRN_HEAD) or a decimal height up to G_MAXINT64. */
gboolean cairn_http_parse_height (const char *s, uint64_t *out);

/* "{plugin}/{key}" after /v1/state/: *ns (g_free) and *key (points into
 * rest). FALSE when either part is empty. */
gboolean cairn_http_split_state_path (const char *rest, char **ns,
                                      const char **key);

/* A "Range: bytes=..." header against a body of `size` bytes. Only one
 * range is served (a list asks for the first). */
typedef enum {
  CAIRN_RANGE_NONE,  /* no header, or one to ignore: send everything */
  CAIRN_RANGE_OK,    /* [*offset, *offset + *length) */
  CAIRN_RANGE_UNSAT, /* 416 */
} CairnRangeResult;
CairnRangeResult cairn_http_parse_range (const char *header, uint64_t size,
                                         uint64_t *offset, uint64_t *length);

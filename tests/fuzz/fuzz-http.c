/* Fuzz target: the HTTP API's request parsing (core/http_parse.c, what
 * core/http.c and core/http_stream.c call).
 *
 * The first byte picks:
 *   0: the body of POST /v1/txs (a lone tx or a canonical array of them),
 *      decoded for chain "dev", then every tx's signature checked, as the
 *      submit worker does.
 *   1: a request target "path[?query]" of the core routes: /v1/blocks/{h},
 *      /v1/state/{plugin}/{key}?height=, /v1/events?types= (the query
 *      decoded by libsoup as the server does).
 *   2: a Range header against a body size (8 bytes, big-endian, then the
 *      header text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsoup/soup.h>

#include <cairn/interfaces.h>

#include "cjson.h"
#include "http_parse.h"
#include "tx.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_txs (const uint8_t *data, size_t size)
{
  /* libsoup's body is exactly the bytes: no terminator is promised. */
  CairnTxBatch batch;
  g_autoptr (GError) error = NULL;

  if (!cairn_http_parse_txs ((const char *)data, size, "dev", &batch, &error)) {
    CHECK (error != NULL && error->domain == CAIRN_REJECT);
    CHECK (batch.n == 0 && batch.txs == NULL);
    return;
  }
  CHECK (!batch.single || batch.n == 1);
  if (!batch.single) {
    /* Whichever path read the batch, it is the canonical array whose
     * elements decode one by one to the same txs or errors. */
    g_autoptr (json_t) arr
        = cairn_cjson_parse ((const char *)data, size, TRUE, NULL);
    CHECK (json_is_array (arr) && json_array_size (arr) == batch.n);
    for (guint k = 0; k < batch.n; k++) {
      g_autoptr (GError) e = NULL;
      g_autoptr (CairnTx) one
          = cairn_tx_from_json (json_array_get (arr, k), "dev", &e);
      CHECK ((one == NULL) == (batch.txs[k] == NULL));
      if (one)
        CHECK (memcmp (one->id, batch.txs[k]->id, 32) == 0);
      else
        CHECK (e->code == batch.errs[k]->code);
    }
  }
  for (guint k = 0; k < batch.n; k++) {
    CHECK ((batch.txs[k] == NULL) == (batch.errs[k] != NULL));
    if (batch.txs[k] == NULL)
      continue;
    /* A tx's bytes (cut from the batch text) are its canonical form. */
    g_autoptr (json_t) obj = cairn_tx_to_json (batch.txs[k]);
    size_t n = 0;
    g_autofree char *canon = cairn_cjson_dump (obj, &n, NULL);
    CHECK (canon != NULL && n == batch.txs[k]->len
           && memcmp (canon, batch.txs[k]->bytes, n) == 0);
    cairn_tx_verify (batch.txs[k], &batch.errs[k]);
  }
  cairn_tx_batch_clear (&batch);
}

static void
fuzz_target (const uint8_t *data, size_t size)
{
  g_autofree char *target = g_strndup ((const char *)data, size);
  char *q = strchr (target, '?');
  g_autoptr (GHashTable) query = NULL;
  uint64_t h;

  if (q != NULL) {
    *q++ = '\0';
    query = soup_form_decode (q);
  }
  if (g_str_has_prefix (target, "/v1/blocks/")) {
    if (cairn_http_parse_height (target + 11, &h))
      CHECK (h == CAIRN_HEAD || h <= G_MAXINT64);
  } else if (g_str_has_prefix (target, "/v1/state/")) {
    g_autofree char *ns = NULL;
    const char *key = NULL;
    if (cairn_http_split_state_path (target + 10, &ns, &key))
      CHECK (*ns != '\0' && *key != '\0' && strchr (ns, '/') == NULL);
    const char *hq = query ? g_hash_table_lookup (query, "height") : NULL;
    if (hq)
      cairn_http_parse_height (hq, &h);
  } else if (strcmp (target, "/v1/events") == 0) {
    const char *types = query ? g_hash_table_lookup (query, "types") : NULL;
    g_auto (GStrv) parts = types && *types ? g_strsplit (types, ",", -1) : NULL;
    CHECK (parts == NULL || parts[0] != NULL);
  } else {
    cairn_http_parse_height (target, &h);
  }
}

static void
fuzz_range (const uint8_t *data, size_t size)
{
  uint64_t body = 0, off = 0, len = 0;

  if (size < 8)
    return;
  for (int i = 0; i < 8; i++)
    body = (body << 8) | data[i];
  g_autofree char *header = g_strndup ((const char *)data + 8, size - 8);
  switch (cairn_http_parse_range (header, body, &off, &len)) {
  case CAIRN_RANGE_OK:
    CHECK (len >= 1 && off < body && len <= body - off);
    break;
  case CAIRN_RANGE_NONE:
  case CAIRN_RANGE_UNSAT:
    break;
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  switch (data[0] % 3) {
  case 0:
    fuzz_txs (data + 1, size - 1);
    break;
  case 1:
    fuzz_target (data + 1, size - 1);
    break;
  case 2:
    fuzz_range (data + 1, size - 1);
    break;
  }
  return 0;
}

/* store-lmdb: the per-height record of a block's tx ids and results (table
 * txlist), written once at commit and read by tx lookups and by the tx
 * index when it is rebuilt. */
#include "store_lmdb.h"

#include <string.h>

#define ENTRY_BYTES 36u /* 32-byte id, u32be end of its result */

size_t
store_lmdb_txlist_size (const CairnCommitTx *txs, size_t n)
{
  size_t size = 4 + n * ENTRY_BYTES;
  for (size_t i = 0; i < n; i++)
    size += txs[i].result_len;
  return size;
}

void
store_lmdb_txlist_write (uint8_t *out, const CairnCommitTx *txs, size_t n)
{
  store_lmdb_put_u32be (out, (uint32_t)n);
  uint8_t *entry = out + 4;
  uint8_t *results = entry + n * ENTRY_BYTES;
  uint32_t end = 0;
  for (size_t i = 0; i < n; i++, entry += ENTRY_BYTES) {
    memcpy (entry, txs[i].id, 32);
    if (txs[i].result_len > 0)
      memcpy (results + end, txs[i].result, txs[i].result_len);
    end += (uint32_t)txs[i].result_len;
    store_lmdb_put_u32be (entry + 32, end);
  }
}

gboolean
store_lmdb_txlist_check (const uint8_t *rec, size_t len, uint32_t *n)
{
  if (len < 4)
    return FALSE;
  uint64_t count = store_lmdb_get_u32be (rec);
  if (count > (len - 4) / ENTRY_BYTES)
    return FALSE;
  size_t results = len - 4 - count * ENTRY_BYTES;
  uint32_t prev = 0;
  for (uint64_t i = 0; i < count; i++) {
    uint32_t end = store_lmdb_get_u32be (rec + 4 + i * ENTRY_BYTES + 32);
    if (end < prev || end > results)
      return FALSE;
    prev = end;
  }
  if (prev != results)
    return FALSE;
  *n = (uint32_t)count;
  return TRUE;
}

void
store_lmdb_txlist_entry (const uint8_t *rec, uint32_t i, const uint8_t **id,
                         const uint8_t **result, size_t *result_len)
{
  uint32_t n = store_lmdb_get_u32be (rec);
  const uint8_t *entry = rec + 4 + (size_t)i * ENTRY_BYTES;
  const uint8_t *results = rec + 4 + (size_t)n * ENTRY_BYTES;
  uint32_t start = i == 0 ? 0 : store_lmdb_get_u32be (entry - 4);
  uint32_t end = store_lmdb_get_u32be (entry + 32);
  *id = entry;
  *result = results + start;
  *result_len = end - start;
}

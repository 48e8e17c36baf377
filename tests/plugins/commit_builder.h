/* Build CairnCommitData for storage tests: blocks, txs and write-sets with
 * owned memory, sorted and de-duplicated like the core's. */
#pragma once

#include <cairn/cairn.h>

typedef struct TestCommit TestCommit;

/* A block at height with default bytes ({"height":N}) and hash
 * test_block_hash(height). */
TestCommit *test_commit_new (uint64_t height);
void test_commit_free (TestCommit *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestCommit, test_commit_free)

void test_commit_set_block (TestCommit *c, const void *bytes, size_t len);
void test_commit_set_hash (TestCommit *c, const uint8_t hash[32]);
/* Shared state; a later write of the same key replaces an earlier one. */
void test_commit_put (TestCommit *c, const char *key, const char *value);
void test_commit_put_bytes (TestCommit *c, const char *key, const void *value,
                            size_t len);
void test_commit_delete (TestCommit *c, const char *key);
/* Private namespace. */
void test_commit_private_put (TestCommit *c, const char *key,
                              const char *value);
void test_commit_private_delete (TestCommit *c, const char *key);
/* Appends a tx (block order); result is its canonical JSON text. */
void test_commit_add_tx (TestCommit *c, const uint8_t id[32],
                         const char *result);

/* The commit data; valid until the next change or free. Writes are sorted
 * by key. */
const CairnCommitData *test_commit_data (TestCommit *c);
uint64_t test_commit_height (const TestCommit *c);
GBytes *test_commit_block (const TestCommit *c);

/* Deterministic 32-byte ids: SHA-256 of "block:<h>" / "tx:<h>:<i>". */
void test_block_hash (uint64_t height, uint8_t out[32]);
void test_tx_id (uint64_t height, uint32_t index, uint8_t out[32]);

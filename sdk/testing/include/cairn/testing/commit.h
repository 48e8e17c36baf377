/* Cairn SDK testing — build the CairnCommitData a storage backend's commit
 * receives: a block, its txs and write-sets with owned memory, sorted by
 * key and de-duplicated as the node passes them.
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1).
 *
 *   g_autoptr (CairnTestCommit) c = cairn_test_commit_new (0);
 *   cairn_test_commit_put (c, "bank/alice", "100");
 *   cairn_test_commit_private_put (c, "groups/g1/key", "secret");
 *   iface->commit (store, cairn_test_commit_data (c), &error);
 */
#pragma once

#include <cairn/cairn.h>

G_BEGIN_DECLS

/* One block to commit, with its write-sets. */
typedef struct CairnTestCommit CairnTestCommit;

/* A block at height with the bytes {"height":<height>}, the hash
 * cairn_test_block_hash(height), no txs and no writes. */
CairnTestCommit *cairn_test_commit_new (uint64_t height);

/* Frees c and everything it owns (NULL is ignored). */
void cairn_test_commit_free (CairnTestCommit *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestCommit, cairn_test_commit_free)

/* Replaces the block's bytes (copied). */
void cairn_test_commit_set_block (CairnTestCommit *c, const void *bytes,
                                  size_t len);

/* Replaces the block's 32-byte hash (copied). */
void cairn_test_commit_set_hash (CairnTestCommit *c, const uint8_t hash[32]);

/* Writes the text value (without its NUL) to key of the shared state; a
 * later write of the same key in this block replaces an earlier one. */
void cairn_test_commit_put (CairnTestCommit *c, const char *key,
                            const char *value);

/* Same with len bytes of value (copied; len 0 is the empty value, which
 * is present, unlike a deleted key). */
void cairn_test_commit_put_bytes (CairnTestCommit *c, const char *key,
                                  const void *value, size_t len);

/* Deletes key of the shared state (CAIRN_WRITE_DELETE). */
void cairn_test_commit_delete (CairnTestCommit *c, const char *key);

/* Writes the text value to key of the private namespace. */
void cairn_test_commit_private_put (CairnTestCommit *c, const char *key,
                                    const char *value);

/* Deletes key of the private namespace. */
void cairn_test_commit_private_delete (CairnTestCommit *c, const char *key);

/* Appends a tx (block order) with its 32-byte id and its result text, the
 * canonical JSON the node would store. */
void cairn_test_commit_add_tx (CairnTestCommit *c, const uint8_t id[32],
                               const char *result);

/* The commit data (size set, flags 0), writes sorted by key; valid until
 * the next change of c or its free. Copy it to change a field:
 *   CairnCommitData d = *cairn_test_commit_data (c);
 *   d.flags = CAIRN_COMMIT_DEFER_SYNC; */
const CairnCommitData *cairn_test_commit_data (CairnTestCommit *c);

/* The block's height. */
uint64_t cairn_test_commit_height (const CairnTestCommit *c);

/* The block's bytes (a new reference: g_bytes_unref). */
GBytes *cairn_test_commit_block (const CairnTestCommit *c);

/* The deterministic 32-byte block hash the tests use for height: the
 * SHA-256 of "block:<height>". */
void cairn_test_block_hash (uint64_t height, uint8_t out[32]);

/* The deterministic 32-byte tx id of tx index of block height: the SHA-256
 * of "tx:<height>:<index>". */
void cairn_test_tx_id (uint64_t height, uint32_t index, uint8_t out[32]);

G_END_DECLS

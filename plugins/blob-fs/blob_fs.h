/* blob-fs: private declarations shared by the plugin's source files.
 *
 * A blob is a file cut into fixed chunks and stored as a UnixFS DAG in
 * dag-pb blocks, exactly as IPFS's default importer (`ipfs add`, CIDv0
 * settings) builds it, so a blob's id is the CID IPFS gives the same bytes.
 * Every block is one file named by its multihash (see blockstore.c); a
 * block is hashed again whenever it is read.
 *
 *   cid.c         CID text <-> SHA-256 digest (CIDv0 base58btc, CIDv1 base32)
 *   unixfs.c      dag-pb + UnixFS encoding and decoding of one node
 *   blockstore.c  blocks on disk: atomic writes, verified reads, cleanup
 *   importer.c    put: a stream -> chunks -> balanced DAG, streaming
 *   reader.c      get: a GInputStream over [offset, offset+length) of a DAG
 *   blob_fs.c     the plugin: config, registration, the interface glue
 *
 * Nothing here calls the host: put and the reader's read() may run on a
 * worker thread (see README.md, "Threads").
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include <cairn/cairn.h>

/* The importer's parameters (go-ipfs defaults; part of the ids). */
#define BLOB_FS_CHUNK_SIZE 262144u
#define BLOB_FS_MAX_LINKS 174u

#define BLOB_FS_DIGEST_LEN 32u
/* Largest block file read back; ours are at most a chunk plus a few bytes
 * (leaves) or 174 links (about 8 KiB). */
#define BLOB_FS_MAX_BLOCK (2u << 20)
/* Deepest DAG walked: 174^15 chunks is far beyond any disk. */
#define BLOB_FS_MAX_DEPTH 16u

/* ---- cid.c ---------------------------------------------------------- */

/* "bafybei…": CIDv1, dag-pb, sha2-256, multibase base32 (g_free). */
char *blob_fs_cid_v1 (const uint8_t digest[BLOB_FS_DIGEST_LEN]);
/* "Qm…": CIDv0, the base58btc multihash (g_free). */
char *blob_fs_cid_v0 (const uint8_t digest[BLOB_FS_DIGEST_LEN]);
/* Accepts either form (CIDv1 also in base32 upper case, 'B…'); anything
 * else fails with CAIRN_ERROR_INVALID saying what is wrong. */
gboolean blob_fs_cid_parse (const char *text,
                            uint8_t digest[BLOB_FS_DIGEST_LEN], GError **error);
/* Name of a block's file: the multihash in base32 upper case without
 * padding ("CIQ…"), as go-ipfs's flatfs names it (g_free). */
char *blob_fs_block_key (const uint8_t digest[BLOB_FS_DIGEST_LEN]);

/* ---- unixfs.c ------------------------------------------------------- */

typedef struct {
  uint8_t digest[BLOB_FS_DIGEST_LEN]; /* sha2-256 of the child block */
  uint64_t tsize;    /* PBLink.Tsize: the child's whole subgraph in bytes */
  uint64_t filesize; /* bytes of file below the child (UnixFS blocksize) */
} BlobFsLink;

/* A decoded node. data points into the block that was decoded. */
typedef struct {
  const uint8_t *data; /* UnixFS Data: the node's own file bytes */
  size_t data_len;
  uint64_t filesize; /* data_len + sum of the links' filesize */
  GArray *links;     /* BlobFsLink, digest and tsize from the PBLinks and
                        filesize from the UnixFS blocksizes; NULL if none */
} BlobFsNode;

/* sha2-256 (OpenSSL). */
void blob_fs_sha256 (const void *data, size_t len,
                     uint8_t out[BLOB_FS_DIGEST_LEN]);

/* A leaf: PBNode{Data: UnixFS{Type: File, Data: bytes, filesize: len}},
 * written into out (cleared first). len 0 is the empty file's node. */
void blob_fs_encode_leaf (GByteArray *out, const void *bytes, size_t len);
/* An inner node: PBNode{Links, Data: UnixFS{Type: File, filesize,
 * blocksizes}}, written into out (cleared first); *filesize gets the sum
 * of the links' filesize. */
void blob_fs_encode_inner (GByteArray *out, const BlobFsLink *links,
                           size_t n_links, uint64_t *filesize);
/* Decodes a dag-pb node holding a UnixFS File (or Raw) and checks that its
 * sizes agree. Fails with CAIRN_ERROR_CORRUPT saying what is wrong (the
 * caller adds which block it is). */
gboolean blob_fs_node_decode (const uint8_t *block, size_t len,
                              BlobFsNode *node, GError **error);
void blob_fs_node_clear (BlobFsNode *node);

/* ---- blockstore.c --------------------------------------------------- */

typedef struct BlobFsStore BlobFsStore;

/* Opens (creating it if needed) the store under dir: <dir>/blocks/<XX>/
 * and <dir>/tmp/. Leftover files in tmp/ (uploads that crashed) are
 * removed; *n_removed gets how many. sync: fsync what is written. */
BlobFsStore *blob_fs_store_open (const char *dir, gboolean sync,
                                 guint *n_removed, GError **error);
/* Thread-safe reference counting; the store is immutable once open. */
BlobFsStore *blob_fs_store_ref (BlobFsStore *store);
void blob_fs_store_unref (BlobFsStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlobFsStore, blob_fs_store_unref)
const char *blob_fs_store_dir (BlobFsStore *store);
/* Path of a block's file (g_free). */
char *blob_fs_store_block_path (BlobFsStore *store,
                                const uint8_t digest[BLOB_FS_DIGEST_LEN]);

/* One upload's writes: which directories still need an fsync. */
typedef struct BlobFsBatch BlobFsBatch;
BlobFsBatch *blob_fs_batch_new (BlobFsStore *store);
void blob_fs_batch_free (BlobFsBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlobFsBatch, blob_fs_batch_free)
/* Stores the block whose sha2-256 is digest: to a temp file, fsync,
 * rename into place. A block already stored intact is left alone; a
 * damaged one is replaced. */
gboolean blob_fs_batch_put (BlobFsBatch *batch,
                            const uint8_t digest[BLOB_FS_DIGEST_LEN],
                            const void *block, size_t len, GError **error);
/* Makes every rename so far durable (fsync of the directories); the
 * importer calls it before writing a node that links to those blocks. */
gboolean blob_fs_batch_commit (BlobFsBatch *batch, GError **error);

/* Reads the block into buf (its previous content replaced) and checks its
 * hash. Errors (CAIRN_ERROR): NOT_FOUND when there is no such block,
 * CORRUPT when the bytes do not hash to digest, IO otherwise. Messages
 * name the block's CID and file. */
gboolean blob_fs_store_read (BlobFsStore *store,
                             const uint8_t digest[BLOB_FS_DIGEST_LEN],
                             GByteArray *buf, GError **error);

/* ---- importer.c ----------------------------------------------------- */

/* Reads `in` to its end and stores it as a DAG; *digest gets the root's.
 * chunk_size and max_links are BLOB_FS_CHUNK_SIZE and BLOB_FS_MAX_LINKS
 * for real ids (other values only for tests of the layout). */
gboolean blob_fs_import (BlobFsStore *store, GInputStream *in,
                         size_t chunk_size, size_t max_links,
                         uint8_t digest[BLOB_FS_DIGEST_LEN],
                         GCancellable *cancellable, GError **error);

/* ---- reader.c ------------------------------------------------------- */

/* The blob's size, from its root node (read and verified). */
gboolean blob_fs_blob_size (BlobFsStore *store, const char *cid, uint64_t *size,
                            GError **error);
/* A stream of [offset, offset+length) of the blob (length clipped at the
 * end; UINT64_MAX = to the end). Fails here with NOT_FOUND / INVALID /
 * CORRUPT for the root, later in read() for the blocks below it. */
GInputStream *blob_fs_reader_new (BlobFsStore *store, const char *cid,
                                  uint64_t offset, uint64_t length,
                                  GError **error);

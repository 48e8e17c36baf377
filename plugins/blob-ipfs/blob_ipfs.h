/* blob-ipfs: private declarations shared by the plugin's source files.
 *
 * Blobs live in an IPFS node, reached through its HTTP RPC API (kubo's
 * /api/v0; js-ipfs serves the same calls). Ids are blob-fs's: the CID of
 * IPFS's default importer with CIDv0 settings, shown as CIDv1 base32. The
 * daemon is not trusted with the bytes: put computes the id here with
 * blob-fs's own importer (../blob-fs/importer.c, compiled in) while the
 * bytes stream to /api/v0/add, and refuses a different answer; get checks
 * every byte against the hash of its block before handing it out.
 *
 *   api.c          settings, HTTP calls, error messages, verified block/get
 *   put.c          put: a stream -> /api/v0/add and the local importer, at
 *                  once (two threads joined by a bounded pipe)
 *   reader.c       get: a GInputStream over [offset, offset+length) that
 *                  walks the DAG; leaves come from /api/v0/cat, inner nodes
 *                  from /api/v0/block/get; stat
 *   blob_ipfs.c    the plugin: config, registration, the interface glue
 *
 * Nothing here calls the host: put and the reader run on worker threads
 * (see README.md, "Threads").
 */
#pragma once

#include <stdint.h>

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <cairn/cairn.h>

#include "blob_fs.h"

#define BLOB_IPFS_VERSION "0.1.0"

/* The settings of one plugin instance: immutable after init, reference
 * counted (a put or a stream still running at fini finishes normally). */
typedef struct {
  gatomicrefcount ref;
  char *api_url;           /* "http://127.0.0.1:5001", no trailing '/' */
  guint timeout_s;         /* socket I/O: connect, each read and write */
  guint lookup_timeout_ms; /* how long the daemon may look for a block */
  gboolean offline;        /* pass offline=true: only the daemon's blocks */
  gboolean pin;            /* add with pin=true */
} BlobIpfs;

BlobIpfs *blob_ipfs_ref (BlobIpfs *b);
void blob_ipfs_unref (BlobIpfs *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlobIpfs, blob_ipfs_unref)

/* ---- api.c ----------------------------------------------------------- */

/* A session for one call or one stream, used from one thread only. */
SoupSession *blob_ipfs_session (BlobIpfs *b);
/* POST <api_url>/api/v0/<cmd>?<query>; query is already escaped (may be
 * empty). */
SoupMessage *blob_ipfs_message (BlobIpfs *b, const char *cmd,
                                const char *query);
/* Sends msg and checks the answer. On HTTP 200: the body stream. Else NULL
 * and an error naming the daemon's URL, the call and the reason (the
 * transport's error, or the status and the daemon's own "Message"):
 * CAIRN_ERROR_IO, or G_IO_ERROR_CANCELLED. *status gets the HTTP status
 * (0 when there was no answer) when not NULL. */
GInputStream *blob_ipfs_send (BlobIpfs *b, SoupSession *session,
                              SoupMessage *msg, guint *status,
                              GCancellable *cancellable, GError **error);
/* Closes an answer's body without reading the rest of it (libsoup's
 * plain close would, however long it is): the connection is dropped. */
void blob_ipfs_abandon (GInputStream *in);
/* Reads a whole body of at most max bytes (more is an error). */
GBytes *blob_ipfs_read_body (BlobIpfs *b, SoupMessage *msg, GInputStream *in,
                             gsize max, GCancellable *cancellable,
                             GError **error);
/* The block whose sha2-256 is digest, hashed again here. blob names the
 * blob in messages; root: the block is the blob's root. Errors
 * (CAIRN_ERROR): when the daemon does not have the block (within
 * lookup_timeout_ms), NOT_FOUND for a root and CORRUPT below one; CORRUPT
 * when its bytes hash to something else; IO otherwise. */
GBytes *blob_ipfs_block_get (BlobIpfs *b, SoupSession *session,
                             const char *blob, gboolean root,
                             const uint8_t digest[BLOB_FS_DIGEST_LEN],
                             GCancellable *cancellable, GError **error);
/* "POST http://…/api/v0/<cmd>" for messages (g_free). */
char *blob_ipfs_call_name (BlobIpfs *b, SoupMessage *msg);

/* ---- put.c ----------------------------------------------------------- */

/* Stores `in` in the daemon; *cid gets the CIDv1 (g_free). Fails when the
 * daemon's CID is not the one computed here (and unpins it). */
gboolean blob_ipfs_put (BlobIpfs *b, GInputStream *in, char **cid,
                        GCancellable *cancellable, GError **error);

/* ---- reader.c -------------------------------------------------------- */

/* The blob's size, from its root node (fetched and verified). */
gboolean blob_ipfs_size (BlobIpfs *b, const char *cid, uint64_t *size,
                         GError **error);
/* A stream of [offset, offset+length) of the blob (length clipped at the
 * end; UINT64_MAX = to the end). Fails here with NOT_FOUND / INVALID /
 * CORRUPT / IO for the root, later in read() for what is below it. */
GInputStream *blob_ipfs_reader_new (BlobIpfs *b, const char *cid,
                                    uint64_t offset, uint64_t length,
                                    GError **error);

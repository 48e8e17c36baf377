/* Cairn SDK testing — the blob store conformance suite: the behaviour every
 * CairnBlobstoreIface backend (plugin kind blobstore) owes the node,
 * checked through the interface only, so the same cases run against
 * blob-fs, blob-ipfs and a vendor's backend:
 *
 *   roundtrip    sizes 0, 1, 256 KiB - 1, 256 KiB, 256 KiB + 1, 3 chunks
 *                + 17, 174 chunks + 1 (two DAG levels), 5 MiB: the CID is
 *                the one `ipfs_cid` (Debian package ipfs-cid) gives the
 *                bytes, stat says the size, the bytes come back, the CIDv0
 *                spelling works too
 *   ranges       every chunk and subtree edge, open ranges, length 0,
 *                offset == size, clipping, random ranges; offset > size is
 *                CAIRN_ERROR_INVALID naming the offset
 *   errors       an unknown CID (NOT_FOUND, named), malformed and foreign
 *                CIDs (INVALID)
 *   put-errors   a failing input stream and a cancelled put: the caller's
 *                error, no CID, nothing stored; the backend goes on
 *   threads      puts on four threads at once (two of the same bytes),
 *                then reads with GIO's async read, as the node does
 *   cancel-read  an async read cancelled halfway, then the stream dropped
 *
 * Tests are registered as /blob-store/<name>/<case>; each case opens a
 * fresh backend through the suite's open function. The `ipfs_cid` tool
 * must be in PATH (the ids are checked against IPFS's own importer).
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1):
 *
 *   static CairnTestBlobBackend *
 *   open_mine (void *data)
 *   {
 *     g_autoptr (GError) error = NULL;
 *     CairnTestBlobBackend *b = cairn_test_blob_backend_start (
 *         cairn_plugin_descriptor_my_blobs, NULL, &error, "sync", "false",
 *         NULL);
 *     g_assert_no_error (error);
 *     return b;
 *   }
 *   ...
 *   static const CairnTestBlobSuite suite = { "my-blobs", open_mine, NULL };
 *   cairn_test_blob_suite_add (&suite);
 *
 * or run `cairn-conformance my-blobs.so`.
 */
#pragma once

#include <stdint.h>

#include <gio/gio.h>

#include <cairn/cairn.h>

#include "fake_host.h"

G_BEGIN_DECLS

/* The UnixFS chunk size of IPFS's default importer (256 KiB). */
#define CAIRN_TEST_BLOB_CHUNK ((uint64_t)262144)

/* ---- a blob store on the fake host ------------------------------------- */

/* A blob store plugin initialised on the fake host. */
typedef struct CairnTestBlobBackend CairnTestBlobBackend;

/* Initialises the plugin of entry on the fake host with data dir data_dir
 * (NULL: a new temporary directory, removed again when the backend is
 * stopped; a given data_dir is left alone) and the config pairs config
 * (key, value, ..., NULL; or NULL). NULL + the plugin's error when init
 * fails, or a CAIRN_ERROR_CONFIG error when a config key was never read
 * during init (a node would refuse it). */
CairnTestBlobBackend *cairn_test_blob_backend_new (CairnPluginEntry entry,
                                                   const char *data_dir,
                                                   const char *const *config,
                                                   GError **error);

/* The same with the config pairs as arguments: key, value, ..., NULL. */
CairnTestBlobBackend *
cairn_test_blob_backend_start (CairnPluginEntry entry, const char *data_dir,
                               GError **error, ...) G_GNUC_NULL_TERMINATED;

/* Runs the plugin's fini, removes a temporary data dir, frees b (NULL is
 * ignored). Drop every stream of the backend first. */
void cairn_test_blob_backend_stop (CairnTestBlobBackend *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestBlobBackend,
                               cairn_test_blob_backend_stop)

/* The plugin's id (e.g. "blob-fs"). */
const char *cairn_test_blob_backend_name (CairnTestBlobBackend *b);

/* The plugin's data dir. */
const char *cairn_test_blob_backend_data_dir (CairnTestBlobBackend *b);

/* The `self` to pass to the interface's callbacks. */
CairnPlugin *cairn_test_blob_backend_self (CairnTestBlobBackend *b);

/* The interface the plugin registered. */
const CairnBlobstoreIface *
cairn_test_blob_backend_iface (CairnTestBlobBackend *b);

/* The plugin instance (its log, config). */
CairnTestPlugin *cairn_test_blob_backend_plugin (CairnTestBlobBackend *b);

/* Whether a log line of the plugin contains needle. */
gboolean cairn_test_blob_backend_logged (CairnTestBlobBackend *b,
                                         const char *needle);

/* ---- calls through the interface ----------------------------------------
 */

/* put of the stream in: the CID (g_free), or NULL + the backend's error
 * (asserts that a failed put gives no CID and sets the error). */
char *cairn_test_blob_put (CairnTestBlobBackend *b, GInputStream *in,
                           GError **error);

/* put of len bytes of data; asserts that it succeeds. */
char *cairn_test_blob_put_data (CairnTestBlobBackend *b, const void *data,
                                size_t len);

/* put of the generated blob (seed, size); asserts that it succeeds. */
char *cairn_test_blob_put_gen (CairnTestBlobBackend *b, uint64_t seed,
                               uint64_t size);

/* stat: the size of the blob cid. */
gboolean cairn_test_blob_stat (CairnTestBlobBackend *b, const char *cid,
                               uint64_t *size, GError **error);

/* get: a stream of [offset, offset+length) of the blob (length UINT64_MAX:
 * to the end), or NULL + the backend's error. */
GInputStream *cairn_test_blob_get (CairnTestBlobBackend *b, const char *cid,
                                   uint64_t offset, uint64_t length,
                                   GError **error);

/* get of the range, read whole into memory (small blobs only). */
GBytes *cairn_test_blob_get_bytes (CairnTestBlobBackend *b, const char *cid,
                                   uint64_t offset, uint64_t length,
                                   GError **error);

/* Streams [offset, offset+length) of the generated blob (seed, size) and
 * compares it with the generator; *good (may be NULL) gets how many bytes
 * were right before the first failure. TRUE when every byte came, right,
 * and nothing more; else FALSE + the stream's error, or one saying where
 * the first wrong byte is or where the stream ended. */
gboolean cairn_test_blob_check_gen (CairnTestBlobBackend *b, const char *cid,
                                    uint64_t seed, uint64_t size,
                                    uint64_t offset, uint64_t length,
                                    uint64_t *good, GError **error);

/* The CIDv1 (*v1) and CIDv0 (*v0, may be NULL) that `ipfs_cid` gives the
 * generated blob (seed, size) (g_free). Aborts the test, saying what to
 * install, when the tool is not in PATH. */
void cairn_test_blob_ipfs_cid_of_gen (uint64_t seed, uint64_t size, char **v1,
                                      char **v0);

/* ---- generated content --------------------------------------------------
 *
 * Byte i of the blob with seed s is a pure function of (s, i), so a test
 * can check any range of any size without keeping the data. */

/* Fills buf with bytes [offset, offset+len) of the generated blob seed. */
void cairn_test_gen_fill (uint64_t seed, uint64_t offset, uint8_t *buf,
                          size_t len);

/* A stream of the size generated bytes of seed; its reads allocate
 * nothing (g_object_unref). */
GInputStream *cairn_test_gen_stream_new (uint64_t seed, uint64_t size);

/* When the stream reaches byte at: print "paused\n" on stdout and sleep
 * until the process is killed (for crash tests in a child process). */
void cairn_test_gen_stream_pause_at (GInputStream *stream, uint64_t at);

/* When the stream reaches byte at: fail the read with
 * G_IO_ERROR_CONNECTION_CLOSED (an upload cut off). */
void cairn_test_gen_stream_fail_at (GInputStream *stream, uint64_t at);

/* Writes the size generated bytes of seed to the file path (asserts). */
void cairn_test_gen_write_file (const char *path, uint64_t seed, uint64_t size);

/* ---- the suite ---------------------------------------------------------- */

typedef struct CairnTestBlobSuite {
  /* The test paths are /blob-store/<name>/<case>. */
  const char *name;
  /* A fresh backend for one case (stopped by the case); it may fail the
   * test itself, or return NULL after g_test_fail or g_test_skip. */
  CairnTestBlobBackend *(*open) (void *data);
  void *data;
} CairnTestBlobSuite;

/* Registers the suite's cases; suite (and its name) must outlive
 * g_test_run. Call between g_test_init and g_test_run. */
void cairn_test_blob_suite_add (const CairnTestBlobSuite *suite);

G_END_DECLS

/* blob-fs through its interface (put, get, stat) on the SDK's fake host
 * (libcairn-sdk-testing-1).
 *
 *   /blob-store/blob-fs/... the SDK's blob store conformance suite
 *                           (<cairn/testing/blob.h>) on blob-fs
 *   /blob-fs/ranges         random and boundary ranges, offset == size,
 *                           clipping, on one- and two-level DAGs
 *   /blob-fs/seek           a range read touches only its blocks
 *   /blob-fs/errors         unknown and malformed CIDs, offset > size
 *   /blob-fs/corrupt        a flipped byte, a truncated or missing block:
 *                           CORRUPT naming the block, never wrong bytes;
 *                           a new put of the same bytes repairs the store
 *   /blob-fs/put-errors     a failing input stream, a cancelled put
 *   /blob-fs/nodes          nodes put does not write (own data plus links,
 *                           CIDv1 links) and malformed ones with good hashes
 *   /blob-fs/threads        puts on worker threads, reads by GIO's
 *                           async read (worker thread)
 *   /blob-fs/config         dir, sync, bad values, an unusable dir
 *   /blob-fs/memory         put and get of 200 MB in bounded memory
 */
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/testing/testing.h>

#include "blob_fs.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);

#define CHUNK ((uint64_t)BLOB_FS_CHUNK_SIZE)

static CairnTestBlobBackend *
start (const char *dir)
{
  g_autoptr (GError) error = NULL;
  CairnTestBlobBackend *t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, NULL);
  g_assert_no_error (error);
  return t;
}

static void
check_range (CairnTestBlobBackend *t, const char *cid, uint64_t seed,
             uint64_t size, uint64_t off, uint64_t len)
{
  g_autoptr (GError) error = NULL;
  if (!cairn_test_blob_check_gen (t, cid, seed, size, off, len, NULL, &error))
    g_error ("range [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT
             ") of %" G_GUINT64_FORMAT " bytes: %s",
             off, len, size, error->message);
}

/* Boundaries: every chunk edge +-1, the subtree edge, the ends. */
static void
check_ranges (CairnTestBlobBackend *t, const char *cid, uint64_t seed,
              uint64_t size, guint n_random)
{
  uint64_t n_chunks = size / CHUNK + 1;
  uint64_t edges[] = { 0,           1,
                       CHUNK - 1,   CHUNK,
                       CHUNK + 1,   174 * CHUNK - 1,
                       174 * CHUNK, 174 * CHUNK + 1,
                       size - 1,    size };
  for (size_t i = 0; i < G_N_ELEMENTS (edges); i++) {
    if (edges[i] > size)
      continue;
    check_range (t, cid, seed, size, edges[i], UINT64_MAX);
    check_range (t, cid, seed, size, edges[i], 1);
    check_range (t, cid, seed, size, edges[i], CHUNK + 2);
    check_range (t, cid, seed, size, edges[i] - MIN (edges[i], 7), 14);
  }
  for (uint64_t c = 1; c < n_chunks && c < 8; c++)
    check_range (t, cid, seed, size, c * CHUNK - 3, 6);
  for (guint i = 0; i < n_random; i++) {
    uint64_t off = (uint64_t)g_test_rand_double_range (0, (double)size + 1);
    uint64_t len = g_test_rand_bit ()
                       ? (uint64_t)g_test_rand_int_range (0, 1000)
                       : (uint64_t)g_test_rand_double_range (0, 3.0 * CHUNK);
    check_range (t, cid, seed, size, MIN (off, size), len);
  }
}

static void
test_ranges (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;
  const uint64_t small = 3 * CHUNK + 17, big = 175 * CHUNK + 1;

  g_autofree char *a = cairn_test_blob_put_gen (t, 1, small);
  check_ranges (t, a, 1, small, 200);
  check_range (t, a, 1, small, 0, small); /* exactly to the end */
  check_range (t, a, 1, small, 5, small); /* clipped at the end */
  check_range (t, a, 1, small, 0, UINT64_MAX - 1);

  g_autofree char *b = cairn_test_blob_put_gen (t, 2, big);
  check_ranges (t, b, 2, big, 40);

  /* offset == size: an empty stream, for every blob shape. */
  uint64_t sizes[] = { 0, 1, CHUNK, small, big };
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autofree char *cid = cairn_test_blob_put_gen (t, 3, sizes[i]);
    uint64_t size = 1234;
    g_assert_true (cairn_test_blob_stat (t, cid, &size, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (size, ==, sizes[i]);
    g_autoptr (GBytes) end
        = cairn_test_blob_get_bytes (t, cid, sizes[i], UINT64_MAX, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (end), ==, 0);
    g_autoptr (GBytes) none = cairn_test_blob_get_bytes (t, cid, 0, 0, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (none), ==, 0);
  }
  cairn_test_rm_rf (dir);
}

/* Path of the block holding bytes [i*CHUNK, ...) of a generated blob: the
 * leaf that a put of that chunk alone stores (a one-chunk blob is its
 * leaf). */
static char *
leaf_path (CairnTestBlobBackend *t, uint64_t seed, uint64_t size, uint64_t i)
{
  g_autoptr (GError) error = NULL;
  uint64_t n = MIN (CHUNK, size - i * CHUNK);
  g_autofree uint8_t *buf = g_malloc (n);
  g_autoptr (GByteArray) leaf = g_byte_array_new ();
  uint8_t digest[BLOB_FS_DIGEST_LEN];
  guint removed;

  cairn_test_gen_fill (seed, i * CHUNK, buf, n);
  blob_fs_encode_leaf (leaf, buf, n);
  blob_fs_sha256 (leaf->data, leaf->len, digest);
  g_autoptr (BlobFsStore) store = blob_fs_store_open (
      cairn_test_blob_backend_data_dir (t), FALSE, &removed, &error);
  g_assert_no_error (error);
  char *path = blob_fs_store_block_path (store, digest);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  return path;
}

static void
flip_byte (const char *path, gsize at)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  g_assert_cmpuint (at, <, len);
  data[at] ^= 0x01;
  g_assert_true (g_file_set_contents (path, data, (gssize)len, &error));
  g_assert_no_error (error);
}

static void
test_seek (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;
  const uint64_t size = 175 * CHUNK + 1;
  g_autofree char *cid = cairn_test_blob_put_gen (t, 9, size);

  /* Damage the first leaf: ranges after it still read, since the reader
   * goes down by blocksizes instead of reading from the start. */
  g_autofree char *first = leaf_path (t, 9, size, 0);
  flip_byte (first, 100);
  check_range (t, cid, 9, size, CHUNK, 10);
  check_range (t, cid, 9, size, 174 * CHUNK - 5, 10);
  check_range (t, cid, 9, size, size - 1, 1);
  g_assert_false (
      cairn_test_blob_check_gen (t, cid, 9, size, 0, 10, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  cairn_test_rm_rf (dir);
}

static void
assert_error (GError *error, int code, const char *part)
{
  g_assert_error (error, CAIRN_ERROR, code);
  if (strstr (error->message, part) == NULL)
    g_error ("error '%s' does not say '%s'", error->message, part);
}

static void
test_errors (void)
{
  static const struct {
    const char *cid, *says;
  } bad[] = {
    { "", "empty" },
    { "Qm", "a CIDv0 ('Qm…') has exactly 46" },
    { "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ0",
      "'0' at position 46 is not a base58btc" },
    { "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQHH", "has exactly 46" },
    { "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1Aw/H", "'/' at position 45" },
    { "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4", "byte" },
    { "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4yaa",
      "digest" },
    { "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb1y",
      "'1' at position 58 is not a base32" },
    { "bafybeiF7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y",
      "'F' at position 8" },
    /* a raw block (codec 0x55) */
    { "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "codec 0x55 is not dag-pb" },
    /* CIDv1 in base58btc, base16 */
    { "zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7",
      "multibase prefix 'z'" },
    { "f01701220", "multibase prefix 'f'" },
    /* other multihashes: sha2-512, a 20-byte and an empty digest */
    { "bafybgqaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "hash function 0x13 is not sha2-256" },
    { "bafybefaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "digest of 20 bytes" },
    { "bafybeaa", "digest of 0 bytes" },
    /* 31 and 33 bytes of digest */
    { "bafybeiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "31 bytes of digest" },
    { "bafybeiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "33 bytes of digest" },
    /* version 0 and 2 in a multibase string */
    { "babybeiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "version 0" },
    { "bajybeiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "version 2" },
    { "bae", "truncated codec" },
    { "b", "truncated" },
  };
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;
  uint64_t size;

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_test_message ("%s", bad[i].cid);
    g_assert_false (cairn_test_blob_stat (t, bad[i].cid, &size, &error));
    assert_error (error, CAIRN_ERROR_INVALID, bad[i].says);
    g_assert_true (strstr (error->message, "invalid CID") != NULL);
    g_clear_error (&error);
    g_assert_null (cairn_test_blob_get (t, bad[i].cid, 0, 1, &error));
    assert_error (error, CAIRN_ERROR_INVALID, bad[i].says);
    g_clear_error (&error);
  }

  /* Well-formed but not stored: NOT_FOUND naming the CID as given. */
  const char *absent[] = {
    "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",
    "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (absent); i++) {
    g_assert_false (cairn_test_blob_stat (t, absent[i], &size, &error));
    assert_error (error, CAIRN_ERROR_NOT_FOUND, absent[i]);
    g_clear_error (&error);
    g_assert_null (cairn_test_blob_get (t, absent[i], 0, UINT64_MAX, &error));
    assert_error (error, CAIRN_ERROR_NOT_FOUND, absent[i]);
    g_clear_error (&error);
  }

  /* offset > size is INVALID; offset == size is an empty stream. */
  g_autofree char *cid = cairn_test_blob_put_data (t, "hello world\n", 12);
  g_assert_null (cairn_test_blob_get (t, cid, 13, 1, &error));
  assert_error (error, CAIRN_ERROR_INVALID, "offset 13 is beyond the end");
  g_clear_error (&error);
  g_assert_null (cairn_test_blob_get (t, cid, UINT64_MAX, 1, &error));
  assert_error (error, CAIRN_ERROR_INVALID, "(12 bytes)");
  g_clear_error (&error);
  g_autoptr (GBytes) tail
      = cairn_test_blob_get_bytes (t, cid, 6, UINT64_MAX, &error);
  g_assert_no_error (error);
  cairn_test_assert_bytes_str (tail, "world\n");
  cairn_test_rm_rf (dir);
}

static void
test_corrupt (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;
  const uint64_t size = 3 * CHUNK + 17;
  g_autofree char *cid = cairn_test_blob_put_gen (t, 5, size);
  g_autofree char *leaf = leaf_path (t, 5, size, 1);
  g_autofree char *leaf_name = g_path_get_basename (leaf);
  uint8_t buf[4096];
  gsize n;

  /* A flipped byte in the second leaf: the stream gives the first chunk,
   * then fails, and keeps failing. */
  flip_byte (leaf, CHUNK / 2);
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (t, cid, CHUNK - 10, UINT64_MAX, &error);
  g_assert_no_error (error);
  g_assert_true (g_input_stream_read_all (in, buf, 10, &n, NULL, &error));
  g_assert_cmpuint (n, ==, 10);
  g_assert_false (
      g_input_stream_read_all (in, buf, sizeof buf, &n, NULL, &error));
  assert_error (error, CAIRN_ERROR_CORRUPT, cid);
  g_assert_true (strstr (error->message, leaf_name) != NULL);
  g_assert_true (strstr (error->message, "is corrupt") != NULL);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (g_input_stream_read (in, buf, sizeof buf, NULL, &error), ==,
                   -1);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_clear_error (&error);
  /* stat reads only the root: still fine. */
  uint64_t got;
  g_assert_true (cairn_test_blob_stat (t, cid, &got, &error));
  g_assert_cmpuint (got, ==, size);

  /* A new put of the same bytes replaces the damaged block. */
  g_autofree char *again = cairn_test_blob_put_gen (t, 5, size);
  g_assert_cmpstr (again, ==, cid);
  check_range (t, cid, 5, size, 0, UINT64_MAX);

  /* Truncated, then missing: CORRUPT too (the root says it should be). */
  g_assert_cmpint (truncate (leaf, 1000), ==, 0);
  g_assert_false (
      cairn_test_blob_check_gen (t, cid, 5, size, 0, UINT64_MAX, NULL, &error));
  assert_error (error, CAIRN_ERROR_CORRUPT, leaf_name);
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (leaf), ==, 0);
  g_assert_false (
      cairn_test_blob_check_gen (t, cid, 5, size, 0, UINT64_MAX, NULL, &error));
  assert_error (error, CAIRN_ERROR_CORRUPT, "is not stored");
  g_clear_error (&error);

  /* A damaged root: stat and get fail at once. */
  g_autoptr (GPtrArray) files = cairn_test_list_files (dir);
  g_autofree char *blocks = g_build_filename (dir, "blocks", NULL);
  const char *root = NULL;
  for (guint i = 0; i < files->len; i++) {
    GStatBuf sb;
    g_assert_cmpint (g_stat (files->pdata[i], &sb), ==, 0);
    if (sb.st_size < 1000) /* the only inner node */
      root = files->pdata[i];
  }
  g_assert_nonnull (root);
  flip_byte (root, 3);
  g_assert_false (cairn_test_blob_stat (t, cid, &got, &error));
  assert_error (error, CAIRN_ERROR_CORRUPT, cid);
  g_clear_error (&error);
  g_assert_null (cairn_test_blob_get (t, cid, 0, UINT64_MAX, &error));
  assert_error (error, CAIRN_ERROR_CORRUPT, "is corrupt");
  cairn_test_rm_rf (dir);
}

static void
test_put_errors (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;
  char *cid = NULL;

  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (4, 3 * CHUNK);
  cairn_test_gen_stream_fail_at (in, CHUNK + 100);
  g_assert_false (cairn_test_blob_backend_iface (t)->put (
      cairn_test_blob_backend_self (t), in, &cid, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_true (strstr (error->message, "blob-fs: reading the blob") != NULL);
  g_assert_null (cid);
  g_clear_error (&error);

  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_autoptr (GInputStream) in2 = cairn_test_gen_stream_new (4, 3 * CHUNK);
  g_assert_false (cairn_test_blob_backend_iface (t)->put (
      cairn_test_blob_backend_self (t), in2, &cid, cancel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (cid);
  g_clear_error (&error);

  /* Neither left a blob or a temp file. */
  g_autoptr (GInputStream) all = cairn_test_gen_stream_new (4, 3 * CHUNK);
  g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
  g_autoptr (GPtrArray) left = cairn_test_list_files (tmp);
  g_assert_cmpuint (left->len, ==, 0);
  g_autofree char *whole = cairn_test_blob_put (t, all, &error);
  g_assert_no_error (error);
  check_range (t, whole, 4, 3 * CHUNK, 0, UINT64_MAX);
  cairn_test_rm_rf (dir);
}

/* ---- threads ------------------------------------------------------------ */

typedef struct {
  CairnTestBlobBackend *t;
  uint64_t seed, size;
  char *cid;
} PutJob;

static gpointer
put_thread (gpointer data)
{
  PutJob *job = data;
  job->cid = cairn_test_blob_put_gen (job->t, job->seed, job->size);
  return NULL;
}

typedef struct {
  GMainLoop *loop;
  uint8_t *buf;
  gsize n;
  GError *error;
} ReadJob;

static void
read_done (GObject *src, GAsyncResult *res, gpointer data)
{
  ReadJob *job = data;
  g_input_stream_read_all_finish (G_INPUT_STREAM (src), res, &job->n,
                                  &job->error);
  g_main_loop_quit (job->loop);
}

static void
test_threads (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  PutJob jobs[4] = {
    { t, 11, 2 * CHUNK + 5 },
    { t, 11, 2 * CHUNK + 5 }, /* the same bytes at the same time */
    { t, 12, 5 * CHUNK },
    { t, 13, 1 },
  };
  GThread *threads[G_N_ELEMENTS (jobs)];

  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++)
    threads[i] = g_thread_new ("put", put_thread, &jobs[i]);
  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++)
    g_thread_join (threads[i]);
  g_assert_cmpstr (jobs[0].cid, ==, jobs[1].cid);

  /* GIO's default read_all_async runs read() on a worker thread. */
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree uint8_t *want = g_malloc (jobs[i].size);
    ReadJob job = { loop, g_malloc (jobs[i].size + 1), 0, NULL };
    g_autoptr (GInputStream) in
        = cairn_test_blob_get (t, jobs[i].cid, 0, UINT64_MAX, &error);
    g_assert_no_error (error);
    g_input_stream_read_all_async (in, job.buf, jobs[i].size + 1,
                                   G_PRIORITY_DEFAULT, NULL, read_done, &job);
    g_main_loop_run (loop);
    g_assert_no_error (job.error);
    cairn_test_gen_fill (jobs[i].seed, 0, want, jobs[i].size);
    g_assert_cmpmem (job.buf, job.n, want, jobs[i].size);
    g_free (job.buf);
    g_free (jobs[i].cid);
  }
  cairn_test_rm_rf (dir);
}

/* ---- nodes not written by put -------------------------------------------- */

/* Stores block under its own hash; returns its CIDv1 (g_free). */
static char *
store_block (const char *dir, const void *block, size_t len, uint8_t *digest)
{
  g_autoptr (GError) error = NULL;
  guint removed;
  uint8_t d[BLOB_FS_DIGEST_LEN];
  g_autoptr (BlobFsStore) store
      = blob_fs_store_open (dir, FALSE, &removed, &error);
  g_assert_no_error (error);
  g_autoptr (BlobFsBatch) batch = blob_fs_batch_new (store);
  blob_fs_sha256 (block, len, d);
  g_assert_true (blob_fs_batch_put (batch, d, block, len, &error));
  g_assert_true (blob_fs_batch_commit (batch, &error));
  g_assert_no_error (error);
  if (digest != NULL)
    memcpy (digest, d, sizeof d);
  return blob_fs_cid_v1 (d);
}

/* An inner node with data of its own ("abc") and one link, written as a
 * binary CIDv1, to a leaf ("defg"); blocksize is what it says of it. */
static char *
store_foreign (const char *dir, uint8_t blocksize)
{
  uint8_t leaf_digest[BLOB_FS_DIGEST_LEN];
  g_autoptr (GByteArray) leaf = g_byte_array_new ();
  blob_fs_encode_leaf (leaf, "defg", 4);
  g_autofree char *leaf_cid
      = store_block (dir, leaf->data, leaf->len, leaf_digest);
  g_autoptr (GByteArray) n = g_byte_array_new ();
  const uint8_t link_head[]
      = { 0x12, 2 + 36 + 2 + 2, 0x0a, 36, 0x01, 0x70, 0x12, 0x20 };
  const uint8_t link_tail[] = { 0x12, 0x00, 0x18, (uint8_t)leaf->len };
  const uint8_t data[] = { 0x0a,
                           11,
                           0x08,
                           0x02,
                           0x12,
                           0x03,
                           'a',
                           'b',
                           'c',
                           0x18,
                           (uint8_t)(3 + blocksize),
                           0x20,
                           blocksize };
  g_byte_array_append (n, link_head, sizeof link_head);
  g_byte_array_append (n, leaf_digest, sizeof leaf_digest);
  g_byte_array_append (n, link_tail, sizeof link_tail);
  g_byte_array_append (n, data, sizeof data);
  return store_block (dir, n->data, n->len, NULL);
}

static void
assert_get_fails (CairnTestBlobBackend *t, const char *cid, const char *says)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b
      = cairn_test_blob_get_bytes (t, cid, 0, UINT64_MAX, &error);
  g_assert_null (b);
  assert_error (error, CAIRN_ERROR_CORRUPT, says);
  g_test_message ("%s", error->message);
}

static void
test_nodes (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (CairnTestBlobBackend) t = start (dir);
  g_autoptr (GError) error = NULL;

  /* Read as data then children: "abc" + "defg", from any offset. */
  g_autofree char *cid = store_foreign (dir, 4);
  const char *whole = "abcdefg";
  for (uint64_t off = 0; off <= 7; off++) {
    g_autoptr (GBytes) b
        = cairn_test_blob_get_bytes (t, cid, off, UINT64_MAX, &error);
    g_assert_no_error (error);
    cairn_test_assert_bytes_str (b, whole + off);
  }
  /* The parent says 5 bytes below the link; the leaf holds 4. */
  g_autofree char *lying = store_foreign (dir, 5);
  uint64_t size;
  g_assert_true (cairn_test_blob_stat (t, lying, &size, &error));
  g_assert_cmpuint (size, ==, 8);
  assert_get_fails (t, lying,
                    "holds 4 bytes of the file but its parent "
                    "says 5");

  /* Blocks whose hash is right but which are not UnixFS file nodes. */
  const struct {
    const char *bytes;
    size_t len;
    const char *says;
  } bad[] = {
    { "hello", 5, "not a UnixFS file node: dag-pb" },
    { "\x0a\x02\x08\x01", 4, "UnixFS Type 1 is not a file" },
    { "\x0a\x04\x08\x02\x18\x05", 6,
      "filesize 5 but data and blocksizes "
      "add up to 0" },
    { "\x0a\x02\x18\x00", 4, "UnixFS: no Type" },
    { "\x0a\x04\x08\x02\x20\x01", 6, "0 links but 1 UnixFS blocksizes" },
    { "", 0, "without UnixFS Data" },
    { "\x0a\x02\x08\x02\x12\x00", 6, "unexpected field 2" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *c = store_block (dir, bad[i].bytes, bad[i].len, NULL);
    g_assert_false (cairn_test_blob_stat (t, c, &size, &error));
    assert_error (error, CAIRN_ERROR_CORRUPT, bad[i].says);
    g_clear_error (&error);
    assert_get_fails (t, c, bad[i].says);
  }
  cairn_test_rm_rf (dir);
}

/* ---- config ------------------------------------------------------------- */

static void
test_config (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autofree char *abs = g_build_filename (dir, "elsewhere", NULL);
  g_autoptr (GError) error = NULL;

  /* Default: the data directory itself. */
  {
    g_autoptr (CairnTestBlobBackend) t = start (dir);
    g_autofree char *cid = cairn_test_blob_put_data (t, "x", 1);
    g_autofree char *blocks = g_build_filename (dir, "blocks", NULL);
    g_assert_true (g_file_test (blocks, G_FILE_TEST_IS_DIR));
  }
  /* Relative to the data directory, and absolute; sync = false. */
  {
    g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_fs, dir, &error, "dir", "sub/blobs",
        "sync", "false", NULL);
    g_assert_no_error (error);
    g_autofree char *cid = cairn_test_blob_put_data (t, "y", 1);
    g_autofree char *blocks
        = g_build_filename (dir, "sub", "blobs", "blocks", NULL);
    g_assert_true (g_file_test (blocks, G_FILE_TEST_IS_DIR));
    g_autoptr (GPtrArray) files = cairn_test_list_files (blocks);
    g_assert_cmpuint (files->len, ==, 1);
    /* blocks/<next-to-last two chars of KEY>/<KEY>.data */
    g_autofree char *name = g_path_get_basename (files->pdata[0]);
    g_autofree char *parent = g_path_get_dirname (files->pdata[0]);
    g_autofree char *shard = g_path_get_basename (parent);
    g_assert_true (g_str_has_prefix (name, "CIQ"));
    g_assert_true (g_str_has_suffix (name, ".data"));
    size_t n = strlen (name) - strlen (".data");
    g_assert_cmpuint (strlen (shard), ==, 2);
    g_assert_true (strncmp (shard, name + n - 3, 2) == 0);
  }
  {
    g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_fs, dir, &error, "dir", abs, "sync",
        "true", NULL);
    g_assert_no_error (error);
    g_autofree char *cid = cairn_test_blob_put_data (t, "z", 1);
    g_autofree char *blocks = g_build_filename (abs, "blocks", NULL);
    g_assert_true (g_file_test (blocks, G_FILE_TEST_IS_DIR));
  }
  /* A bad boolean, and a dir that is a file. */
  g_assert_null (cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, "sync", "maybe", NULL));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (strstr (error->message, "sync") != NULL);
  g_clear_error (&error);
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  g_assert_null (cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, "dir", file, NULL));
  assert_error (error, CAIRN_ERROR_IO, file);
  g_assert_true (strstr (error->message, "[blob-fs] dir") != NULL);
  g_test_message ("%s", error->message);
  cairn_test_rm_rf (dir);
}

/* ---- memory -------------------------------------------------------------- */

static void
test_memory (void)
{
  if (!g_test_subprocess ()) {
    /* A fresh process, so that VmHWM is not the peak of earlier tests. */
    g_test_trap_subprocess (NULL, 0,
                            G_TEST_SUBPROCESS_INHERIT_STDOUT
                                | G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed ();
    return;
  }

  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, "sync", "false", NULL);
  const uint64_t size = 200u << 20;
  g_assert_no_error (error);

  /* Warm up (allocator, GIO types) before the baseline. */
  g_autofree char *warm = cairn_test_blob_put_gen (t, 20, 2 * CHUNK);
  check_range (t, warm, 20, 2 * CHUNK, 0, UINT64_MAX);
  uint64_t before = cairn_test_peak_rss_kib ();
  g_autofree char *cid = cairn_test_blob_put_gen (t, 21, size);
  uint64_t after_put = cairn_test_peak_rss_kib ();
  check_range (t, cid, 21, size, 0, UINT64_MAX);
  uint64_t after_get = cairn_test_peak_rss_kib ();
  /* A TAP comment on the inherited stdout (g_test_message is quiet in a
   * subprocess). */
  printf ("# VmHWM %" G_GUINT64_FORMAT
          " KiB, after a 200 MB put %" G_GUINT64_FORMAT
          " KiB, after reading it back %" G_GUINT64_FORMAT " KiB\n",
          before, after_put, after_get);
  g_assert_cmpuint (after_put - before, <, 64u << 10);
  g_assert_cmpuint (after_get - before, <, 64u << 10);
  cairn_test_rm_rf (dir);
}

/* A fresh blob-fs in a temporary data dir, for the conformance suite. */
static CairnTestBlobBackend *
open_suite_backend (void *data)
{
  g_autoptr (GError) error = NULL;
  CairnTestBlobBackend *b = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, NULL, &error, "sync", "false", NULL);
  g_assert_no_error (error);
  return b;
}

int
main (int argc, char **argv)
{
  static const CairnTestBlobSuite suite
      = { "blob-fs", open_suite_backend, NULL };
  g_test_init (&argc, &argv, NULL);
  cairn_test_blob_suite_add (&suite);
  g_test_add_func ("/blob-fs/ranges", test_ranges);
  g_test_add_func ("/blob-fs/seek", test_seek);
  g_test_add_func ("/blob-fs/errors", test_errors);
  g_test_add_func ("/blob-fs/corrupt", test_corrupt);
  g_test_add_func ("/blob-fs/put-errors", test_put_errors);
  g_test_add_func ("/blob-fs/nodes", test_nodes);
  g_test_add_func ("/blob-fs/threads", test_threads);
  g_test_add_func ("/blob-fs/config", test_config);
  g_test_add_func ("/blob-fs/memory", test_memory);
  return g_test_run ();
}

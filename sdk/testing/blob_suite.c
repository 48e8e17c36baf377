/* The blob store conformance suite: see <cairn/testing/blob.h>. */
#include "cairn/testing/blob.h"

#include <string.h>

#define CHUNK CAIRN_TEST_BLOB_CHUNK

/* ---- the cases ----------------------------------------------------------- */

static void
check_range (CairnTestBlobBackend *b, const char *cid, uint64_t seed,
             uint64_t size, uint64_t off, uint64_t len)
{
  g_autoptr (GError) error = NULL;
  if (!cairn_test_blob_check_gen (b, cid, seed, size, off, len, NULL, &error))
    g_error ("%s: range [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT
             ") of %" G_GUINT64_FORMAT " bytes: %s",
             cairn_test_blob_backend_name (b), off, len, size, error->message);
}

static void
case_roundtrip (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  static const uint64_t sizes[] = {
    0,        1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 174 * CHUNK + 1,
    5u << 20,
  };
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autofree char *v1 = NULL, *v0 = NULL;
    g_autoptr (GError) error = NULL;
    uint64_t seed = 300 + i, size = UINT64_MAX, size0 = UINT64_MAX;
    cairn_test_blob_ipfs_cid_of_gen (seed, sizes[i], &v1, &v0);
    g_autofree char *cid = cairn_test_blob_put_gen (b, seed, sizes[i]);
    g_test_message ("%s: %" G_GUINT64_FORMAT " bytes: %s",
                    cairn_test_blob_backend_name (b), sizes[i], cid);
    g_assert_cmpstr (cid, ==, v1);
    g_assert_true (cairn_test_blob_stat (b, cid, &size, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (size, ==, sizes[i]);
    g_assert_true (cairn_test_blob_stat (b, v0, &size0, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (size0, ==, sizes[i]);
    check_range (b, cid, seed, sizes[i], 0, UINT64_MAX);
    if (sizes[i] <= CHUNK + 1)
      check_range (b, v0, seed, sizes[i], 0, UINT64_MAX);
  }
}

static void
case_ranges (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  const uint64_t size = 174 * CHUNK + 3 * CHUNK + 5, seed = 400;
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *cid = cairn_test_blob_put_gen (b, seed, size);
  uint64_t edges[] = { 0,
                       1,
                       CHUNK - 1,
                       CHUNK,
                       CHUNK + 1,
                       174 * CHUNK - 1,
                       174 * CHUNK,
                       174 * CHUNK + 1,
                       size - CHUNK,
                       size - 1,
                       size };

  for (size_t i = 0; i < G_N_ELEMENTS (edges); i++) {
    check_range (b, cid, seed, size, edges[i], 1);
    check_range (b, cid, seed, size, edges[i], CHUNK + 2);
    check_range (b, cid, seed, size, edges[i] - MIN (edges[i], 7), 14);
    check_range (b, cid, seed, size, edges[i], 0);
  }
  check_range (b, cid, seed, size, 170 * CHUNK + 9, UINT64_MAX); /* open */
  check_range (b, cid, seed, size, size - 10, 1000);             /* clipped */
  check_range (b, cid, seed, size, 100 * CHUNK - 1, 10 * CHUNK); /* 11 leaves */
  for (guint i = 0; i < 20; i++) {
    uint64_t off = (uint64_t)g_test_rand_double_range (0, (double)size + 1);
    uint64_t len = g_test_rand_bit ()
                       ? (uint64_t)g_test_rand_int_range (0, 1000)
                       : (uint64_t)g_test_rand_double_range (0, 3.0 * CHUNK);
    check_range (b, cid, seed, size, MIN (off, size), len);
  }

  /* Past the end: invalid, naming the offset. */
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, cid, size + 1, 1, &error);
  g_assert_null (in);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_autofree char *off = g_strdup_printf ("%" G_GUINT64_FORMAT, size + 1);
  g_assert_nonnull (strstr (error->message, off));
}

static void
case_errors (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  static const char *const malformed[] = {
    "",
    "bafy",
    "Qmbad",
    "zdj7WirpC4chR56igHPiwHNkBz3QnVHn5K8Bxe95KC1z8CTXf", /* base58 CIDv1 */
    "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", /* raw */
    "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mb!",
    "../../etc/passwd",
  };
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *absent = NULL;
  uint64_t size = 0;

  /* Bytes nobody stored (no other case uses this seed). */
  cairn_test_blob_ipfs_cid_of_gen (999999, 1000, &absent, NULL);
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (cairn_test_blob_stat (b, absent, &size, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, absent));
    g_test_message ("%s: %s", cairn_test_blob_backend_name (b), error->message);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in
        = cairn_test_blob_get (b, absent, 0, UINT64_MAX, &error);
    g_assert_null (in);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  }
  for (size_t i = 0; i < G_N_ELEMENTS (malformed); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GError) error2 = NULL;
    g_assert_false (cairn_test_blob_stat (b, malformed[i], &size, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_autoptr (GInputStream) in
        = cairn_test_blob_get (b, malformed[i], 0, UINT64_MAX, &error2);
    g_assert_null (in);
    g_assert_error (error2, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_test_message ("%s: %s", cairn_test_blob_backend_name (b), error->message);
  }
}

static void
case_put_errors (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  char *cid = NULL;

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in = cairn_test_gen_stream_new (40, 3 * CHUNK);
    cairn_test_gen_stream_fail_at (in, CHUNK + 100);
    g_assert_false (cairn_test_blob_backend_iface (b)->put (
        cairn_test_blob_backend_self (b), in, &cid, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_nonnull (strstr (error->message, "reading the blob to store"));
    g_assert_null (cid);
    g_test_message ("%s: %s", cairn_test_blob_backend_name (b), error->message);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GCancellable) cancel = g_cancellable_new ();
    g_autoptr (GInputStream) in = cairn_test_gen_stream_new (41, 3 * CHUNK);
    g_cancellable_cancel (cancel);
    g_assert_false (cairn_test_blob_backend_iface (b)->put (
        cairn_test_blob_backend_self (b), in, &cid, cancel, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_null (cid);
  }
  /* Neither stored the blob. */
  g_autofree char *v1 = NULL;
  uint64_t size;
  g_autoptr (GError) error = NULL;
  cairn_test_blob_ipfs_cid_of_gen (41, 3 * CHUNK, &v1, NULL);
  g_assert_false (cairn_test_blob_stat (b, v1, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  /* And the backend goes on. */
  g_autofree char *whole = cairn_test_blob_put_gen (b, 40, 3 * CHUNK);
  check_range (b, whole, 40, 3 * CHUNK, 0, UINT64_MAX);
}

typedef struct {
  CairnTestBlobBackend *b;
  uint64_t seed, size;
  char *cid;
} PutJob;

static gpointer
put_thread (gpointer data)
{
  PutJob *job = data;
  job->cid = cairn_test_blob_put_gen (job->b, job->seed, job->size);
  return NULL;
}

typedef struct {
  GMainLoop *loop;
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
case_threads (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  PutJob jobs[4] = {
    { b, 51, 2 * CHUNK + 5 },
    { b, 51, 2 * CHUNK + 5 }, /* the same bytes at the same time */
    { b, 52, 5 * CHUNK },
    { b, 53, 1 },
  };
  GThread *threads[G_N_ELEMENTS (jobs)];

  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++)
    threads[i] = g_thread_new ("put", put_thread, &jobs[i]);
  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++)
    g_thread_join (threads[i]);
  g_assert_cmpstr (jobs[0].cid, ==, jobs[1].cid);

  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  for (size_t i = 0; i < G_N_ELEMENTS (jobs); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in
        = cairn_test_blob_get (b, jobs[i].cid, 0, UINT64_MAX, &error);
    g_assert_no_error (error);
    g_autofree uint8_t *got = g_malloc (jobs[i].size + 1);
    g_autofree uint8_t *want = g_malloc (jobs[i].size + 1);
    g_autoptr (GMainLoop) loop = g_main_loop_new (ctx, FALSE);
    ReadJob rj = { loop, 0, NULL };
    g_input_stream_read_all_async (in, got, jobs[i].size + 1,
                                   G_PRIORITY_DEFAULT, NULL, read_done, &rj);
    g_main_loop_run (loop);
    g_assert_no_error (rj.error);
    g_assert_cmpuint (rj.n, ==, jobs[i].size);
    cairn_test_gen_fill (jobs[i].seed, 0, want, jobs[i].size);
    g_assert_cmpmem (got, rj.n, want, jobs[i].size);
    g_free (jobs[i].cid);
  }
  g_main_context_pop_thread_default (ctx);
}

static void
bytes_done (GObject *src, GAsyncResult *res, gpointer data)
{
  ReadJob *job = data;
  g_autoptr (GBytes) b = g_input_stream_read_bytes_finish (G_INPUT_STREAM (src),
                                                           res, &job->error);
  job->n = b != NULL ? g_bytes_get_size (b) : 0;
  g_main_loop_quit (job->loop);
}

static void
case_cancel_read (gconstpointer data)
{
  const CairnTestBlobSuite *suite = data;
  g_autoptr (CairnTestBlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *cid = cairn_test_blob_put_gen (b, 60, 40 * CHUNK);
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  g_autoptr (GMainLoop) loop = g_main_loop_new (ctx, FALSE);

  for (guint round = 0; round < 3; round++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in
        = cairn_test_blob_get (b, cid, round * CHUNK, UINT64_MAX, &error);
    g_assert_no_error (error);
    ReadJob rj = { loop, 0, NULL };
    g_input_stream_read_bytes_async (in, 65536, G_PRIORITY_DEFAULT, NULL,
                                     bytes_done, &rj);
    g_main_loop_run (loop);
    g_assert_no_error (rj.error);
    g_assert_cmpuint (rj.n, >, 0);

    /* A read cancelled at once, as the node does when a client goes. */
    g_autoptr (GCancellable) cancel = g_cancellable_new ();
    ReadJob rj2 = { loop, 0, NULL };
    g_input_stream_read_bytes_async (in, 65536, G_PRIORITY_DEFAULT, cancel,
                                     bytes_done, &rj2);
    g_cancellable_cancel (cancel);
    g_main_loop_run (loop);
    if (rj2.error != NULL)
      g_assert_error (rj2.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&rj2.error);
    /* Round 1 closes the stream, the others just drop it half read. */
    if (round == 1)
      g_assert_true (g_input_stream_close (in, NULL, NULL));
  }
  g_main_context_pop_thread_default (ctx);
  /* The backend still serves. */
  check_range (b, cid, 60, 40 * CHUNK, 7 * CHUNK + 3, 3 * CHUNK);
}

void
cairn_test_blob_suite_add (const CairnTestBlobSuite *suite)
{
  static const struct {
    const char *name;
    GTestDataFunc fn;
  } cases[] = {
    { "roundtrip", case_roundtrip }, { "ranges", case_ranges },
    { "errors", case_errors },       { "put-errors", case_put_errors },
    { "threads", case_threads },     { "cancel-read", case_cancel_read },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path
        = g_strdup_printf ("/blob-store/%s/%s", suite->name, cases[i].name);
    g_test_add_data_func (path, suite, cases[i].fn);
  }
}

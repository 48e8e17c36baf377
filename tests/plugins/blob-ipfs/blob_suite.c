/* The blob store conformance suite: see blob_suite.h. */
#include "blob_suite.h"

#include <string.h>

#include <jansson.h>

#include "blob_fs_test.h" /* the generator */
#include "fake_host.h"
#include "test_util.h"

#define CHUNK ((uint64_t)262144)

/* ---- a backend on the fake host ----------------------------------------- */

static BlobBackend *registering; /* the backend whose init is running */

static gboolean
fake_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                         size_t size, GError **error)
{
  if (registering == NULL || blob_backend_self (registering) != self) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "register_blobstore called outside init");
    return FALSE;
  }
  if (iface == NULL || size < offsetof (CairnBlobstoreIface, stat) + 8
      || size > sizeof (CairnBlobstoreIface)
      || iface->iface_version != CAIRN_BLOBSTORE_IFACE_VERSION
      || iface->put == NULL || iface->get == NULL || iface->stat == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "bad blobstore interface (size %zu)", size);
    return FALSE;
  }
  memcpy (&registering->iface, iface, size);
  return TRUE;
}

static const CairnHost *
host_with_blobstore (void)
{
  static CairnHost host;
  static gsize once;
  if (g_once_init_enter (&once)) {
    host = *fake_host_table ();
    host.register_blobstore = fake_register_blobstore;
    g_once_init_leave (&once, 1);
  }
  return &host;
}

BlobBackend *
blob_backend_start (CairnPluginEntry entry, const char *data_dir,
                    GError **error, ...)
{
  g_autoptr (BlobBackend) b = g_new0 (BlobBackend, 1);
  va_list ap;
  const char *key;

  b->data_dir = g_strdup (data_dir);
  b->fp = fake_plugin_new (entry, data_dir);
  b->name = g_strdup (fake_plugin_descriptor (b->fp)->id);
  va_start (ap, error);
  while ((key = va_arg (ap, const char *)) != NULL)
    fake_plugin_set_config (b->fp, key, va_arg (ap, const char *));
  va_end (ap);

  registering = b;
  gboolean ok = fake_plugin_descriptor (b->fp)->init (
      blob_backend_self (b), host_with_blobstore (), error);
  registering = NULL;
  if (!ok) {
    g_assert_true (error == NULL || *error != NULL);
    g_assert_null (b->iface.put); /* nothing registered */
    return NULL;
  }
  g_assert_nonnull (b->iface.put);
  g_auto (GStrv) unread = fake_plugin_unread_config (b->fp);
  g_assert_cmpuint (g_strv_length (unread), ==, 0);
  return g_steal_pointer (&b);
}

void
blob_backend_stop (BlobBackend *b)
{
  if (b == NULL)
    return;
  if (b->iface.put != NULL)
    fake_plugin_descriptor (b->fp)->fini (blob_backend_self (b));
  fake_plugin_free (b->fp);
  if (b->data_dir != NULL)
    test_rm_rf (b->data_dir);
  g_free (b->data_dir);
  g_free (b->name);
  g_free (b);
}

CairnPlugin *
blob_backend_self (BlobBackend *b)
{
  return fake_plugin_handle (b->fp);
}

gboolean
blob_backend_logged (BlobBackend *b, const char *needle)
{
  return fake_plugin_log_contains (b->fp, needle);
}

/* ---- calls --------------------------------------------------------------- */

char *
blob_put (BlobBackend *b, GInputStream *in, GError **error)
{
  char *cid = NULL;
  if (!b->iface.put (blob_backend_self (b), in, &cid, NULL, error)) {
    g_assert_null (cid);
    g_assert_true (error == NULL || *error != NULL);
    return NULL;
  }
  g_assert_nonnull (cid);
  return cid;
}

char *
blob_put_gen (BlobBackend *b, uint64_t seed, uint64_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = gen_stream_new (seed, size);
  char *cid = blob_put (b, in, &error);
  g_assert_no_error (error);
  return cid;
}

gboolean
blob_stat (BlobBackend *b, const char *cid, uint64_t *size, GError **error)
{
  return b->iface.stat (blob_backend_self (b), cid, size, error);
}

GBytes *
blob_get_bytes (BlobBackend *b, const char *cid, uint64_t offset,
                uint64_t length, GError **error)
{
  g_autoptr (GInputStream) in
      = b->iface.get (blob_backend_self (b), cid, offset, length, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                                  | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error)
      < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

gboolean
blob_check_gen (BlobBackend *b, const char *cid, uint64_t seed, uint64_t size,
                uint64_t offset, uint64_t length, uint64_t *good,
                GError **error)
{
  enum { BUF = 100000 }; /* not a divisor of the chunk size */
  g_autofree uint8_t *got = g_malloc (BUF);
  g_autofree uint8_t *want = g_malloc (BUF);
  uint64_t end = offset + MIN (length, size - offset), pos = offset;
  uint64_t ignored;
  g_autoptr (GInputStream) in
      = b->iface.get (blob_backend_self (b), cid, offset, length, error);

  if (good == NULL)
    good = &ignored;
  *good = 0;
  if (in == NULL)
    return FALSE;
  for (;;) {
    gsize n;
    gboolean ok = g_input_stream_read_all (in, got, BUF, &n, NULL, error);
    if (pos + n > end) {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "got more than the %" G_GUINT64_FORMAT " bytes asked",
                   end - offset);
      return FALSE;
    }
    gen_fill (seed, pos, want, n);
    for (gsize i = 0; i < n; i++)
      if (got[i] != want[i]) {
        g_clear_error (error);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "wrong byte at offset %" G_GUINT64_FORMAT
                     ": 0x%02x, want 0x%02x",
                     pos + i, got[i], want[i]);
        return FALSE;
      }
    pos += n;
    *good = pos - offset;
    if (!ok)
      return FALSE;
    if (n == 0)
      break;
  }
  if (pos != end) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "stream ended at %" G_GUINT64_FORMAT
                 ", want %" G_GUINT64_FORMAT,
                 pos, end);
    return FALSE;
  }
  return g_input_stream_close (in, NULL, error);
}

void
blob_ipfs_cid_of_gen (uint64_t seed, uint64_t size, char **v1, char **v0)
{
  g_autofree char *tool = g_find_program_in_path ("ipfs_cid");
  if (tool == NULL)
    g_error ("the ipfs_cid tool is not in PATH: install the Debian package "
             "ipfs-cid (./dev deps installs it); blob ids are checked "
             "against it");
  g_autofree char *dir = test_make_tmpdir ();
  g_autofree char *file = g_build_filename (dir, "blob", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { tool, file, NULL };
  int status;

  gen_write_file (file, seed, size);
  g_assert_true (g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s %s: %s; stderr: %s", tool, file, error->message, err);
  json_t *j = json_loads (out, 0, NULL);
  const char *s1 = json_string_value (json_object_get (j, "CIDv1"));
  const char *s0 = json_string_value (json_object_get (j, "CIDv0"));
  if (s0 == NULL || s1 == NULL)
    g_error ("%s printed '%s', not {\"CIDv0\",\"CIDv1\"}", tool, out);
  *v1 = g_strdup (s1);
  if (v0 != NULL)
    *v0 = g_strdup (s0);
  json_decref (j);
  test_rm_rf (dir);
}

/* ---- the cases ----------------------------------------------------------- */

static void
check_range (BlobBackend *b, const char *cid, uint64_t seed, uint64_t size,
             uint64_t off, uint64_t len)
{
  g_autoptr (GError) error = NULL;
  if (!blob_check_gen (b, cid, seed, size, off, len, NULL, &error))
    g_error ("%s: range [%" G_GUINT64_FORMAT ", +%" G_GUINT64_FORMAT
             ") of %" G_GUINT64_FORMAT " bytes: %s",
             b->name, off, len, size, error->message);
}

static void
case_roundtrip (gconstpointer data)
{
  const BlobSuite *suite = data;
  static const uint64_t sizes[] = {
    0,        1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 174 * CHUNK + 1,
    5u << 20,
  };
  g_autoptr (BlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autofree char *v1 = NULL, *v0 = NULL;
    g_autoptr (GError) error = NULL;
    uint64_t seed = 300 + i, size = UINT64_MAX, size0 = UINT64_MAX;
    blob_ipfs_cid_of_gen (seed, sizes[i], &v1, &v0);
    g_autofree char *cid = blob_put_gen (b, seed, sizes[i]);
    g_test_message ("%s: %" G_GUINT64_FORMAT " bytes: %s", b->name, sizes[i],
                    cid);
    g_assert_cmpstr (cid, ==, v1);
    g_assert_true (blob_stat (b, cid, &size, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (size, ==, sizes[i]);
    g_assert_true (blob_stat (b, v0, &size0, &error));
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
  const BlobSuite *suite = data;
  const uint64_t size = 174 * CHUNK + 3 * CHUNK + 5, seed = 400;
  g_autoptr (BlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *cid = blob_put_gen (b, seed, size);
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
      = b->iface.get (blob_backend_self (b), cid, size + 1, 1, &error);
  g_assert_null (in);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_autofree char *off = g_strdup_printf ("%" G_GUINT64_FORMAT, size + 1);
  g_assert_nonnull (strstr (error->message, off));
}

static void
case_errors (gconstpointer data)
{
  const BlobSuite *suite = data;
  static const char *const malformed[] = {
    "",
    "bafy",
    "Qmbad",
    "zdj7WirpC4chR56igHPiwHNkBz3QnVHn5K8Bxe95KC1z8CTXf", /* base58 CIDv1 */
    "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e", /* raw */
    "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mb!",
    "../../etc/passwd",
  };
  g_autoptr (BlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *absent = NULL;
  uint64_t size = 0;

  /* Bytes nobody stored (no other case uses this seed). */
  blob_ipfs_cid_of_gen (999999, 1000, &absent, NULL);
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (blob_stat (b, absent, &size, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, absent));
    g_test_message ("%s: %s", b->name, error->message);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in
        = b->iface.get (blob_backend_self (b), absent, 0, UINT64_MAX, &error);
    g_assert_null (in);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  }
  for (size_t i = 0; i < G_N_ELEMENTS (malformed); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GError) error2 = NULL;
    g_assert_false (blob_stat (b, malformed[i], &size, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_autoptr (GInputStream) in = b->iface.get (
        blob_backend_self (b), malformed[i], 0, UINT64_MAX, &error2);
    g_assert_null (in);
    g_assert_error (error2, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_test_message ("%s: %s", b->name, error->message);
  }
}

static void
case_put_errors (gconstpointer data)
{
  const BlobSuite *suite = data;
  g_autoptr (BlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  char *cid = NULL;

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in = gen_stream_new (40, 3 * CHUNK);
    gen_stream_fail_at (in, CHUNK + 100);
    g_assert_false (
        b->iface.put (blob_backend_self (b), in, &cid, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    g_assert_nonnull (strstr (error->message, "reading the blob to store"));
    g_assert_null (cid);
    g_test_message ("%s: %s", b->name, error->message);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GCancellable) cancel = g_cancellable_new ();
    g_autoptr (GInputStream) in = gen_stream_new (41, 3 * CHUNK);
    g_cancellable_cancel (cancel);
    g_assert_false (
        b->iface.put (blob_backend_self (b), in, &cid, cancel, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_null (cid);
  }
  /* Neither stored the blob. */
  g_autofree char *v1 = NULL;
  uint64_t size;
  g_autoptr (GError) error = NULL;
  blob_ipfs_cid_of_gen (41, 3 * CHUNK, &v1, NULL);
  g_assert_false (blob_stat (b, v1, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  /* And the backend goes on. */
  g_autofree char *whole = blob_put_gen (b, 40, 3 * CHUNK);
  check_range (b, whole, 40, 3 * CHUNK, 0, UINT64_MAX);
}

typedef struct {
  BlobBackend *b;
  uint64_t seed, size;
  char *cid;
} PutJob;

static gpointer
put_thread (gpointer data)
{
  PutJob *job = data;
  job->cid = blob_put_gen (job->b, job->seed, job->size);
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
  const BlobSuite *suite = data;
  g_autoptr (BlobBackend) b = suite->open (suite->data);
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
    g_autoptr (GInputStream) in = b->iface.get (
        blob_backend_self (b), jobs[i].cid, 0, UINT64_MAX, &error);
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
    gen_fill (jobs[i].seed, 0, want, jobs[i].size);
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
  const BlobSuite *suite = data;
  g_autoptr (BlobBackend) b = suite->open (suite->data);
  if (b == NULL)
    return;
  g_autofree char *cid = blob_put_gen (b, 60, 40 * CHUNK);
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  g_autoptr (GMainLoop) loop = g_main_loop_new (ctx, FALSE);

  for (guint round = 0; round < 3; round++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in = b->iface.get (
        blob_backend_self (b), cid, round * CHUNK, UINT64_MAX, &error);
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
blob_suite_add (const BlobSuite *suite)
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

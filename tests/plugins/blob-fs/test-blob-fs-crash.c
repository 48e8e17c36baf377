/* blob-fs crash safety: an upload that did not finish is never visible,
 * and its leftovers are removed at the next init.
 *
 *   /blob-fs/crash/paused     a child process stops mid-upload (its input
 *                             stream blocks) and is SIGKILLed: neither the
 *                             blob nor its prefix exists; the next init
 *                             cleans tmp/; the same put then succeeds
 *   /blob-fs/crash/random     SIGKILL at random times during a put with
 *                             sync = true: after restart the blob is either
 *                             absent or whole and correct
 *   /blob-fs/crash/simulated  temp files present, root not written: the
 *                             CID is not found, and init removes them
 *
 * The child is this binary run as `test-blob-fs-crash --put DIR SEED SIZE
 * PAUSE` (PAUSE: byte at which the input stream blocks, or -1).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include <cairn/testing/testing.h>

#include "blob_fs.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);

#define CHUNK ((uint64_t)BLOB_FS_CHUNK_SIZE)

static int
child_main (char **argv)
{
  g_autoptr (GError) error = NULL;
  uint64_t seed = g_ascii_strtoull (argv[1], NULL, 10);
  uint64_t size = g_ascii_strtoull (argv[2], NULL, 10);
  int64_t pause_at = g_ascii_strtoll (argv[3], NULL, 10);
  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, argv[0], &error, "sync", "true", NULL);
  if (t == NULL) {
    fprintf (stderr, "child: %s\n", error->message);
    return 1;
  }
  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (seed, size);
  if (pause_at >= 0)
    cairn_test_gen_stream_pause_at (in, (uint64_t)pause_at);
  g_autofree char *cid = cairn_test_blob_put (t, in, &error);
  if (cid == NULL) {
    fprintf (stderr, "child: %s\n", error->message);
    return 1;
  }
  printf ("cid %s\n", cid);
  return 0;
}

typedef struct {
  GPid pid;
  GIOChannel *out;
} Child;

static Child
spawn_put (const char *dir, uint64_t seed, uint64_t size, int64_t pause_at)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *s_seed = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  g_autofree char *s_size = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
  g_autofree char *s_pause = g_strdup_printf ("%" G_GINT64_FORMAT, pause_at);
  const char *argv[]
      = { "/proc/self/exe", "--put", dir, s_seed, s_size, s_pause, NULL };
  Child c = { 0 };
  int out_fd;

  g_assert_true (g_spawn_async_with_pipes (
      NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &c.pid,
      NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  c.out = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (c.out, TRUE);
  return c;
}

/* Kills the child (if still running) and reaps it; TRUE if it had exited
 * with status 0 before the kill. */
static gboolean
kill_child (Child *c)
{
  int status;
  kill (c->pid, SIGKILL);
  g_assert_cmpint (waitpid (c->pid, &status, 0), ==, c->pid);
  g_spawn_close_pid (c->pid);
  g_io_channel_unref (c->out);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* The CID of a generated blob, from a put into a scratch store. */
static char *
reference_cid (uint64_t seed, uint64_t size)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, "sync", "false", NULL);
  g_assert_no_error (error);
  char *cid = cairn_test_blob_put_gen (t, seed, size);
  cairn_test_rm_rf (dir);
  return cid;
}

static guint
count_files (const char *dir, const char *sub)
{
  g_autofree char *path = g_build_filename (dir, sub, NULL);
  g_autoptr (GPtrArray) files = cairn_test_list_files (path);
  return files->len;
}

static void
assert_absent (CairnTestBlobBackend *t, const char *cid)
{
  g_autoptr (GError) error = NULL;
  uint64_t size;
  g_assert_false (cairn_test_blob_stat (t, cid, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (cairn_test_blob_get (t, cid, 0, UINT64_MAX, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
}

/* Leftover temp files as a crash in the middle of a block write leaves
 * them: a part of a block, and an empty one. */
static void
add_leftovers (const char *dir)
{
  g_autofree char *a = g_build_filename (dir, "tmp", "CIQAAAA.XY12ab", NULL);
  g_autofree char *b = g_build_filename (dir, "tmp", "CIQBBBB.Zz9911", NULL);
  g_assert_true (g_file_set_contents (a, "\x0a\x04\x08\x02", 4, NULL));
  g_assert_true (g_file_set_contents (b, "", 0, NULL));
}

static void
test_paused (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (GError) error = NULL;
  const uint64_t size = 40 * CHUNK + 3, pause_at = 20 * CHUNK + 1000;
  g_autofree char *full = reference_cid (31, size);
  g_autofree char *prefix = reference_cid (31, pause_at);
  g_autofree char *line = NULL;

  Child c = spawn_put (dir, 31, size, (int64_t)pause_at);
  g_assert_cmpint (g_io_channel_read_line (c.out, &line, NULL, NULL, &error),
                   ==, G_IO_STATUS_NORMAL);
  g_assert_cmpstr (line, ==, "paused\n");
  g_assert_false (kill_child (&c));

  /* 20 leaves were written, nothing that links to them. */
  g_assert_cmpuint (count_files (dir, "blocks"), ==, 20);
  add_leftovers (dir);
  guint leftovers = count_files (dir, "tmp");
  g_assert_cmpuint (leftovers, >=, 2);

  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (count_files (dir, "tmp"), ==, 0);
  g_autofree char *logged = g_strdup_printf ("removed %u leftover", leftovers);
  g_assert_true (cairn_test_blob_backend_logged (t, logged));
  assert_absent (t, full);
  assert_absent (t, prefix);

  /* The upload again, now to its end: the same id, the right bytes. */
  g_autofree char *cid = cairn_test_blob_put_gen (t, 31, size);
  g_assert_cmpstr (cid, ==, full);
  g_assert_true (cairn_test_blob_check_gen (t, cid, 31, size, 0, UINT64_MAX,
                                            NULL, &error));
  g_assert_no_error (error);
  cairn_test_rm_rf (dir);
}

static void
test_random (void)
{
  const uint64_t size = 120 * CHUNK + 77;
  g_autofree char *full = reference_cid (32, size);
  guint finished = 0, rounds = 6;

  for (guint round = 0; round < rounds; round++) {
    g_autofree char *dir = cairn_test_make_tmpdir ();
    g_autoptr (GError) error = NULL;
    guint delay_ms = (guint)g_test_rand_int_range (0, 250);
    Child c = spawn_put (dir, 32, size, -1);
    g_usleep (delay_ms * 1000);
    gboolean done = kill_child (&c);
    finished += done;

    g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_fs, dir, &error, NULL);
    g_assert_no_error (error);
    g_assert_cmpuint (count_files (dir, "tmp"), ==, 0);
    uint64_t got = 0;
    gboolean found = cairn_test_blob_stat (t, full, &got, &error);
    g_test_message ("kill after %u ms: %s, blob %s, %u blocks", delay_ms,
                    done ? "finished" : "killed", found ? "whole" : "absent",
                    count_files (dir, "blocks"));
    if (done)
      g_assert_true (found);
    if (found) {
      g_assert_cmpuint (got, ==, size);
      g_assert_true (cairn_test_blob_check_gen (t, full, 32, size, 0,
                                                UINT64_MAX, NULL, &error));
      g_assert_no_error (error);
    } else {
      g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    }
    cairn_test_rm_rf (dir);
  }
  g_test_message ("%u of %u uploads finished before the kill", finished,
                  rounds);
}

static void
test_simulated (void)
{
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autoptr (GError) error = NULL;
  const uint64_t size = 3 * CHUNK + 5;
  uint8_t digest[BLOB_FS_DIGEST_LEN];
  g_autofree char *cid = NULL;
  g_autofree char *root = NULL;

  {
    g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_fs, dir, &error, NULL);
    g_assert_no_error (error);
    cid = cairn_test_blob_put_gen (t, 33, size);
  }
  /* The root's rename never happened: its bytes are in a temp file. */
  guint removed;
  g_autoptr (BlobFsStore) store
      = blob_fs_store_open (dir, FALSE, &removed, &error);
  g_assert_no_error (error);
  g_assert_true (blob_fs_cid_parse (cid, digest, &error));
  root = blob_fs_store_block_path (store, digest);
  g_autofree char *key = blob_fs_block_key (digest);
  g_autofree char *tmp_name = g_strconcat (key, ".Q1w2E3", NULL);
  g_autofree char *tmp = g_build_filename (dir, "tmp", tmp_name, NULL);
  g_assert_cmpint (g_rename (root, tmp), ==, 0);
  add_leftovers (dir);

  g_autoptr (CairnTestBlobBackend) t = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, dir, &error, NULL);
  g_assert_no_error (error);
  g_assert_true (cairn_test_blob_backend_logged (t, "removed 3 leftover"));
  g_assert_cmpuint (count_files (dir, "tmp"), ==, 0);
  assert_absent (t, cid);
  g_autofree char *again = cairn_test_blob_put_gen (t, 33, size);
  g_assert_cmpstr (again, ==, cid);
  g_assert_true (g_file_test (root, G_FILE_TEST_IS_REGULAR));
  cairn_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
  if (argc == 6 && strcmp (argv[1], "--put") == 0)
    return child_main (argv + 2);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/blob-fs/crash/paused", test_paused);
  g_test_add_func ("/blob-fs/crash/random", test_random);
  g_test_add_func ("/blob-fs/crash/simulated", test_simulated);
  return g_test_run ();
}

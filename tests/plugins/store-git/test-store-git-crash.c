/* store-git crash recovery.
 *
 * 1. At every step of a commit: the static library calls
 *    store_git_test_hook at each step (objects built, pack written,
 *    private commit, ref moved, index written, each step of packing, a
 *    private write); a child process commits with the hook set to SIGKILL
 *    itself at one step, and the parent checks that the store opens with
 *    exactly the blocks that step implies (before the ref moved: the
 *    previous head; after: the new one), the exact state, the private
 *    keys of the head, passes `git fsck --strict`, and goes on.
 * 2. At random moments: the store-crash harness of tests/plugins
 *    (test-store-crash.c, included unchanged, with store-git's descriptor
 *    in place of store-lmdb's): its deterministic chain, child and
 *    verification, 24 SIGKILLs, half inside a large commit. Its kill
 *    windows (up to 150 ms after the start, up to 8 ms into a large
 *    commit) assume a large commit takes well under 150 ms; store-git's
 *    takes ~40 ms here, ~100 ms under ASan, so the schedule here scales the
 *    windows to the measured time of one large commit (the harness's own
 *    windows whenever that is at most 30 ms).
 */
#include <signal.h>
#include <sys/wait.h>

/* The harness, pointed at store-git; its main is not ours. */
#define cairn_plugin_descriptor_store_lmdb cairn_plugin_descriptor_store_git
#define main store_crash_harness_main
int main (int argc, char **argv);
#include "../test-store-crash.c"
#undef main

extern void (*store_git_test_hook) (const char *step);

static const char *kill_at;

static void
kill_hook (const char *step)
{
  if (kill_at != NULL && strcmp (step, kill_at) == 0)
    raise (SIGKILL);
}

/* A handle with packing every 4 blocks (the harness's opens the default),
 * or never (merging only) for the merge step. */
static const char *pack_every = "4";

static gboolean
open_packing (Handle *hd, const char *dir, GError **error)
{
  hd->fp = fake_plugin_new (cairn_plugin_descriptor_store_git, dir);
  fake_plugin_set_config (hd->fp, "pack_every", pack_every);
  if (!fake_plugin_init (hd->fp, error))
    return FALSE;
  hd->iface = fake_plugin_storage (hd->fp);
  hd->store = hd->iface->open (fake_plugin_handle (hd->fp), dir, error);
  return hd->store != NULL;
}

static void
commit_range (const char *dir, uint64_t from, uint64_t to)
{
  g_autoptr (GError) error = NULL;
  Handle hd = { 0 };
  g_assert_true (open_packing (&hd, dir, &error));
  for (uint64_t h = from; h < to; h++) {
    g_autoptr (TestCommit) c = build_commit (h);
    g_assert_true (hd.iface->commit (hd.store, test_commit_data (c), &error));
    g_assert_no_error (error);
  }
  handle_close (&hd);
}

static int
git_status (const char *repo, char **out, const char *a1, const char *a2,
            const char *a3)
{
  const char *argv[] = { "git", "-C", repo, a1, a2, a3, NULL };
  g_auto (GStrv) env = g_get_environ ();
  env = g_environ_setenv (env, "GIT_CONFIG_NOSYSTEM", "1", TRUE);
  env = g_environ_setenv (env, "GIT_CONFIG_GLOBAL", "/dev/null", TRUE);
  g_autofree char *err = NULL;
  int status;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     out, &err, &status, &error))
    g_error ("cannot run git (Debian package git): %s", error->message);
  if (err != NULL && err[0] != '\0')
    g_test_message ("git %s: %s", a1, err);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

static void
assert_git_ok (const char *dir, uint64_t head)
{
  g_autofree char *chain = g_build_filename (dir, "chain.git", NULL);
  g_autofree char *priv = g_build_filename (dir, "private.git", NULL);
  g_autofree char *out = NULL;
  g_assert_cmpint (
      git_status (chain, &out, "fsck", "--strict", "--no-dangling"), ==, 0);
  g_assert_null (strstr (out, "error"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (git_status (priv, NULL, "fsck", "--strict", "--no-dangling"),
                   ==, 0);
  g_assert_cmpint (git_status (chain, &out, "rev-list", "--count", "chain"), ==,
                   0);
  g_assert_cmpuint (g_ascii_strtoull (out, NULL, 10), ==, head + 1);
}

typedef struct {
  const char *step;
  uint64_t head;          /* the head after the kill */
  gboolean private_write; /* the child makes a private write, no block */
  uint64_t before;        /* blocks committed before the child starts */
} StepCase;

static void
test_step (gconstpointer data)
{
  const StepCase *sc = data;
  g_autofree char *tmp = test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  uint64_t before = sc->before ? sc->before : 3;

  /* The merge step: no checkpoints, 31 packs before the child's block. */
  pack_every = sc->before ? "0" : "4";
  commit_range (dir, 0, before);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    g_autoptr (GError) error = NULL;
    Handle hd = { 0 };
    if (!open_packing (&hd, dir, &error))
      _exit (2);
    kill_at = sc->step;
    store_git_test_hook = kill_hook;
    if (sc->private_write) {
      CairnWrite w = { "p/extra", (const uint8_t *)"kept", 4, 0, 0 };
      hd.iface->private_write (hd.store, &w, 1, &error);
      _exit (3);
    }
    for (uint64_t h = before; h <= before + 1; h++) {
      TestCommit *c = build_commit (h);
      if (!hd.iface->commit (hd.store, test_commit_data (c), &error))
        _exit (4);
      test_commit_free (c);
    }
    /* A checkpoint is packed in the background: closing finishes it. */
    handle_close (&hd);
    _exit (5); /* the step never came */
  }
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    g_error ("step '%s': the child was not killed there (status 0x%x)",
             sc->step, status);

  /* Exactly the blocks the step implies, their state, the private keys
   * of the head (verify_store checks p/last == head), git's view. */
  g_assert_cmpuint (
      verify_store (dir, (gint64)sc->head, (gint64)sc->head, (gint64)sc->head),
      ==, sc->head);
  assert_git_ok (dir, sc->head);
  if (sc->private_write) {
    g_autoptr (GError) error = NULL;
    Handle hd = { 0 };
    g_assert_true (open_packing (&hd, dir, &error));
    g_autoptr (GBytes) v = hd.iface->private_get (hd.store, "p/extra", &error);
    g_assert_no_error (error);
    test_assert_bytes_str (v, "kept");
    handle_close (&hd);
  }
  /* And it goes on: through the next checkpoint. */
  uint64_t end = MAX (10, sc->head + 3);
  commit_range (dir, sc->head + 1, end);
  g_assert_cmpuint (
      verify_store (dir, (gint64)end - 1, (gint64)end - 1, (gint64)end - 1), ==,
      end - 1);
  assert_git_ok (dir, end - 1);
  g_autofree char *chain = g_build_filename (dir, "chain.git", NULL);
  g_autofree char *tags = NULL;
  g_assert_cmpint (git_status (chain, &tags, "tag", "--list", NULL), ==, 0);
  g_assert_cmpstr (tags, ==, sc->before ? "" : "checkpoint-4\ncheckpoint-8\n");
  test_rm_rf (tmp);
}

/* Microseconds of one large commit (the harness's block 5). */
static gint64
measure_big_commit (void)
{
  g_autofree char *tmp = test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  g_autoptr (GError) error = NULL;
  Handle hd = { 0 };
  gint64 worst = 0;
  g_assert_true (handle_open (&hd, dir, &error));
  for (uint64_t h = 0; h <= 10; h++) {
    g_autoptr (TestCommit) c = build_commit (h);
    gint64 t0 = g_get_monotonic_time ();
    g_assert_true (hd.iface->commit (hd.store, test_commit_data (c), &error));
    if (is_big_height (h))
      worst = MAX (worst, g_get_monotonic_time () - t0);
  }
  handle_close (&hd);
  test_rm_rf (tmp);
  return worst;
}

/* test_crash_consistency of the harness with scaled kill windows. */
static void
test_crash_random (void)
{
  g_autofree char *tmp = test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  gint64 head = -1, last_done_ever = -1;
  guint mid_big = 0, big_rounds = 0;
  gint64 big_us = measure_big_commit ();
  gint32 random_us = (gint32)MAX (150000, 5 * big_us);
  gint32 inside_us = (gint32)MAX (8000, big_us / 6);
  g_test_message ("a large commit takes %.1f ms: kills up to %.0f ms after "
                  "the start, up to %.1f ms into a large commit",
                  big_us / 1e3, random_us / 1e3, inside_us / 1e3);

  for (int round = 0; round < ROUNDS; round++) {
    int fds[2];
    g_assert_cmpint (pipe (fds), ==, 0);
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
      close (fds[0]);
      child_main (dir, fds[1]);
    }
    close (fds[1]);

    Progress p = { g_string_new (NULL), -1, -1, FALSE, -1 };
    gboolean wait_big = round % 2 == 1;
    if (wait_big) {
      big_rounds++;
      gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
      while (p.big_begun < 0) {
        g_assert_true (read_some (fds[0], &p, 100));
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      }
      g_usleep ((gulong)g_test_rand_int_range (0, inside_us));
    } else {
      g_usleep ((gulong)g_test_rand_int_range (0, random_us));
    }
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    int status;
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    while (read_some (fds[0], &p, 1000))
      ;
    close (fds[0]);
    if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
      g_error ("the child did not die by SIGKILL (status %d): %s", status,
               p.buf->str);
    if (wait_big && p.last_was_begin && is_big_height ((guint64)p.last_begun))
      mid_big++;
    if (p.last_done >= 0)
      last_done_ever = p.last_done;
    gint64 new_head = (gint64)verify_store (
        dir, last_done_ever, p.last_begun >= 0 ? p.last_begun : head, head);
    if (new_head == (gint64)UINT64_MAX)
      new_head = -1;
    g_test_message ("round %d: %s, begun up to %" G_GINT64_FORMAT
                    ", done up to %" G_GINT64_FORMAT ", head %" G_GINT64_FORMAT
                    "%s",
                    round, wait_big ? "kill in a big commit" : "random kill",
                    p.last_begun, p.last_done, new_head,
                    p.last_was_begin ? " (killed inside commit)" : "");
    head = new_head;
    g_string_free (p.buf, TRUE);
  }
  g_test_message ("%d kills, %u of %u aimed at big commits landed inside "
                  "one; final head %" G_GINT64_FORMAT,
                  ROUNDS, mid_big, big_rounds, head);
  g_assert_cmpint (head, >=, 20);
  g_assert_cmpuint (mid_big, >=, 1);
  assert_git_ok (dir, (uint64_t)head);

  /* The survivor continues from head + 1. */
  g_autoptr (GError) error = NULL;
  Handle hd = { 0 };
  g_assert_true (handle_open (&hd, dir, &error));
  g_autoptr (TestCommit) next = build_commit ((uint64_t)head + 1);
  g_assert_true (hd.iface->commit (hd.store, test_commit_data (next), &error));
  g_assert_no_error (error);
  handle_close (&hd);
  g_assert_cmpuint (verify_store (dir, head + 1, head + 1, head + 1), ==,
                    (uint64_t)head + 1);
  test_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  static const StepCase steps[] = {
    /* block 3: before the ref moves, the head stays at 2 */
    { "objects", 2, FALSE },
    { "pack", 2, FALSE },
    { "private", 2, FALSE },
    /* after it, block 3 is there (the index is caught up on open) */
    { "ref", 3, FALSE },
    { "index", 3, FALSE },
    /* block 4 is a checkpoint: packing is after the commit point */
    { "consolidate-pack", 4, FALSE },
    { "consolidate-tag", 4, FALSE },
    { "consolidate-done", 4, FALSE },
    /* a private write is durable once its ref moved */
    { "private-write", 2, TRUE },
    /* the 32nd pack: merged after the commit, before the small ones go */
    { "merge-pack", 31, FALSE, 31 },
  };
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (steps); i++) {
    g_autofree char *path
        = g_strdup_printf ("/store-git/crash/step/%s", steps[i].step);
    g_test_add_data_func (path, &steps[i], test_step);
  }
  /* The harness's own schedule (for store-lmdb) is not used here. */
  (void)test_crash_consistency;
  g_test_add_func ("/store-git/crash/random", test_crash_random);
  return g_test_run ();
}

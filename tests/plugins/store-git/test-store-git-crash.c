/* store-git crash recovery.
 *
 * 1. At every step of a commit: the static library calls
 *    store_git_test_hook at each step (objects built, pack written,
 *    private commit, ref moved, index written, each step of packing, a
 *    private write); a child process commits blocks of the SDK crash
 *    harness's deterministic chain (cairn_test_chain_commit) with the hook
 *    set to SIGKILL itself at one step, and the parent checks that the
 *    store opens with exactly the blocks that step implies (before the ref
 *    moved: the previous head; after: the new one), the exact state, the
 *    private keys of the head (cairn_test_chain_verify), passes `git fsck
 *    --strict`, and goes on.
 * 2. At random moments: the crash case of the SDK's storage suite
 *    (<cairn/testing/storage.h>), 24 SIGKILLs, half inside a large commit,
 *    its kill windows scaled to the time of one large commit here (~40 ms,
 *    ~100 ms under ASan); after every kill, and at the end, `git fsck
 *    --strict` of both repositories and one commit per block.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cairn/testing/testing.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_store_git (void);

extern void (*store_git_test_hook) (const char *step);

static const char *kill_at;

static void
kill_hook (const char *step)
{
  if (kill_at != NULL && strcmp (step, kill_at) == 0)
    raise (SIGKILL);
}

/* A store with packing every 4 blocks (the checks open it with the
 * default config), or never (merging only) for the merge step. */
static const char *pack_every = "4";

static CairnTestStore *
open_packing (const char *dir, GError **error)
{
  const char *const config[] = { "pack_every", pack_every, NULL };
  return cairn_test_store_open (cairn_plugin_descriptor_store_git, config, dir,
                                error);
}

static void
commit_range (const char *dir, uint64_t from, uint64_t to)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestStore) s = open_packing (dir, &error);
  g_assert_no_error (error);
  for (uint64_t h = from; h < to; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_chain_commit (h);
    g_assert_true (cairn_test_store_commit (s, c, &error));
    g_assert_no_error (error);
  }
}

/* The chain's check, with the default config. */
static gint64
verify (const char *dir, gint64 min_head, gint64 max_head)
{
  return cairn_test_chain_verify (cairn_plugin_descriptor_store_git, NULL, dir,
                                  min_head, max_head);
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
  g_autofree char *tmp = cairn_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  uint64_t before = sc->before ? sc->before : 3;

  /* The merge step: no checkpoints, 31 packs before the child's block. */
  pack_every = sc->before ? "0" : "4";
  commit_range (dir, 0, before);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    g_autoptr (GError) error = NULL;
    CairnTestStore *s = open_packing (dir, &error);
    if (s == NULL)
      _exit (2);
    kill_at = sc->step;
    store_git_test_hook = kill_hook;
    if (sc->private_write) {
      CairnWrite w = { "p/extra", (const uint8_t *)"kept", 4, 0, 0 };
      cairn_test_store_iface (s)->private_write (cairn_test_store_handle (s),
                                                 &w, 1, &error);
      _exit (3);
    }
    for (uint64_t h = before; h <= before + 1; h++) {
      CairnTestCommit *c = cairn_test_chain_commit (h);
      if (!cairn_test_store_commit (s, c, &error))
        _exit (4);
      cairn_test_commit_free (c);
    }
    /* A checkpoint is packed in the background: closing finishes it. */
    cairn_test_store_close (s);
    _exit (5); /* the step never came */
  }
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
    g_error ("step '%s': the child was not killed there (status 0x%x)",
             sc->step, status);

  /* Exactly the blocks the step implies, their state, the private keys
   * of the head (the chain's p/last == head), git's view. */
  g_assert_cmpint (verify (dir, (gint64)sc->head, (gint64)sc->head), ==,
                   (gint64)sc->head);
  assert_git_ok (dir, sc->head);
  if (sc->private_write) {
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnTestStore) s = open_packing (dir, &error);
    g_assert_no_error (error);
    g_autoptr (GBytes) v = cairn_test_store_iface (s)->private_get (
        cairn_test_store_handle (s), "p/extra", &error);
    g_assert_no_error (error);
    cairn_test_assert_bytes_str (v, "kept");
  }
  /* And it goes on: through the next checkpoint. */
  uint64_t end = MAX (10, sc->head + 3);
  commit_range (dir, sc->head + 1, end);
  g_assert_cmpint (verify (dir, (gint64)end - 1, (gint64)end - 1), ==,
                   (gint64)end - 1);
  assert_git_ok (dir, end - 1);
  g_autofree char *chain = g_build_filename (dir, "chain.git", NULL);
  g_autofree char *tags = NULL;
  g_assert_cmpint (git_status (chain, &tags, "tag", "--list", NULL), ==, 0);
  g_assert_cmpstr (tags, ==, sc->before ? "" : "checkpoint-4\ncheckpoint-8\n");
  cairn_test_rm_rf (tmp);
}

/* The crash case's check after every kill: git's own view of the store. */
static void
crash_check (const char *dir, gint64 head, void *user_data)
{
  guint *calls = user_data;
  (*calls)++;
  if (head >= 0)
    assert_git_ok (dir, (uint64_t)head);
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
  /* At random moments: the SDK suite's crash case, checked by git too. */
  static guint checks;
  const CairnTestStorageBackend git = {
    .name = "store-git",
    .entry = cairn_plugin_descriptor_store_git,
    .cases = CAIRN_TEST_STORAGE_CRASH,
    .crash_check = crash_check,
    .user_data = &checks,
  };
  cairn_test_storage_add_backend (&git);
  int rc = g_test_run ();
  /* Every kill and the end were checked (when the case ran). */
  g_assert_true (checks == 0 || checks == CAIRN_TEST_CRASH_ROUNDS + 1);
  return rc;
}

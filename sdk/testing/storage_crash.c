/* The storage crash harness, its deterministic chain and CairnTestStore:
 * see <cairn/testing/storage.h>.
 *
 * A child process (fork, no exec) commits blocks of the chain in a loop and
 * says "B <h>" before and "D <h>" after each commit on a pipe; the parent
 * kills it with SIGKILL at a random moment (every second round: a moment
 * inside a large commit), then checks the store against the chain with
 * what the child said: every "D" height is there, nothing above the last
 * "B" height is. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/testing/util.h"
#include "storage_private.h"

#define N_SMALL 10
#define N_BIG 3000
#define BIG_VALUE_LEN 200
#define BIG_BLOCK_LEN (256u << 10)

/* ---- a store on the fake host ------------------------------------------ */

struct CairnTestStore {
  CairnTestPlugin *tp;
  const CairnStorageIface *iface;
  CairnStore *store;
};

CairnTestStore *
cairn_test_store_open (CairnPluginEntry entry, const char *const *config,
                       const char *dir, GError **error)
{
  g_autoptr (CairnTestStore) s = g_new0 (CairnTestStore, 1);
  s->tp = cairn_test_plugin_new (entry, dir);
  cairn_test_plugin_set_config_list (s->tp, config);
  if (!cairn_test_plugin_init (s->tp, error))
    return NULL;
  s->iface = cairn_test_plugin_storage (s->tp);
  if (s->iface == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "plugin '%s' registered no storage interface during init",
                 cairn_test_plugin_descriptor (s->tp)->id);
    return NULL;
  }
  s->store = s->iface->open (cairn_test_plugin_self (s->tp), dir, error);
  if (s->store == NULL)
    return NULL;
  return g_steal_pointer (&s);
}

void
cairn_test_store_close (CairnTestStore *s)
{
  if (s == NULL)
    return;
  if (s->store != NULL)
    s->iface->close (s->store);
  cairn_test_plugin_free (s->tp);
  g_free (s);
}

const CairnStorageIface *
cairn_test_store_iface (CairnTestStore *s)
{
  return s->iface;
}

CairnStore *
cairn_test_store_handle (CairnTestStore *s)
{
  return s->store;
}

CairnTestPlugin *
cairn_test_store_plugin (CairnTestStore *s)
{
  return s->tp;
}

gboolean
cairn_test_store_commit (CairnTestStore *s, CairnTestCommit *c, GError **error)
{
  return s->iface->commit (s->store, cairn_test_commit_data (c), error);
}

/* ---- the deterministic chain ------------------------------------------- */

typedef enum { OP_NONE, OP_PUT, OP_DEL } Op;

gboolean
cairn_test_chain_is_large (uint64_t h)
{
  return h > 0 && h % 5 == 0;
}

/* What height h does to "k/<i>". */
static Op
op_small (uint64_t h, int i, char **value)
{
  int puts[3] = { (int)(h % N_SMALL), (int)((3 * h + 1) % N_SMALL),
                  (int)((7 * h + 2) % N_SMALL) };
  for (int p = 0; p < 3; p++)
    if (puts[p] == i) {
      *value = g_strdup_printf ("h=%" G_GUINT64_FORMAT "/%d", h, i);
      return OP_PUT;
    }
  if ((int)((5 * h + 3) % N_SMALL) == i)
    return OP_DEL;
  return OP_NONE;
}

/* What height h does to "big/<j>". */
static Op
op_big (uint64_t h, int j, char **value)
{
  if (cairn_test_chain_is_large (h)) {
    GString *s = g_string_new (NULL);
    g_string_printf (s, "h=%" G_GUINT64_FORMAT " j=%04d ", h, j);
    while (s->len < BIG_VALUE_LEN)
      g_string_append_c (s, (char)('a' + (s->len + h) % 26));
    *value = g_string_free (s, FALSE);
    return OP_PUT;
  }
  if (h % 10 == 3 && j % 3 == 0)
    return OP_DEL;
  return OP_NONE;
}

typedef enum { KEY_COUNTER, KEY_SMALL, KEY_BIG } KeyKind;

static Op
op_for (uint64_t h, KeyKind kind, int i, char **value)
{
  switch (kind) {
  case KEY_COUNTER:
    *value = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    return OP_PUT;
  case KEY_SMALL:
    return op_small (h, i, value);
  case KEY_BIG:
    return op_big (h, i, value);
  }
  g_assert_not_reached ();
}

static char *
key_name (KeyKind kind, int i)
{
  switch (kind) {
  case KEY_COUNTER:
    return g_strdup ("c/counter");
  case KEY_SMALL:
    return g_strdup_printf ("k/%d", i);
  case KEY_BIG:
    return g_strdup_printf ("big/%04d", i);
  }
  g_assert_not_reached ();
}

/* The value of a key at height h (NULL: absent). */
static char *
expected_value (KeyKind kind, int i, uint64_t h)
{
  for (uint64_t at = h + 1; at-- > 0;) {
    char *value = NULL;
    switch (op_for (at, kind, i, &value)) {
    case OP_PUT:
      return value;
    case OP_DEL:
      return NULL;
    case OP_NONE:
      break;
    }
  }
  return NULL;
}

static GBytes *
block_bytes (uint64_t h)
{
  size_t len = cairn_test_chain_is_large (h) ? BIG_BLOCK_LEN : 200;
  GString *s = g_string_new (NULL);
  g_string_printf (s, "{\"height\":%" G_GUINT64_FORMAT ",\"pad\":\"", h);
  while (s->len < len - 2)
    g_string_append_c (s, (char)('A' + (s->len * 7 + h) % 26));
  g_string_append (s, "\"}");
  return g_string_free_to_bytes (s);
}

CairnTestCommit *
cairn_test_chain_commit (uint64_t h)
{
  CairnTestCommit *c = cairn_test_commit_new (h);
  g_autoptr (GBytes) block = block_bytes (h);
  cairn_test_commit_set_block (c, g_bytes_get_data (block, NULL),
                               g_bytes_get_size (block));
  const struct {
    KeyKind kind;
    int n;
  } kinds[]
      = { { KEY_COUNTER, 1 }, { KEY_SMALL, N_SMALL }, { KEY_BIG, N_BIG } };
  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (int i = 0; i < kinds[k].n; i++) {
      g_autofree char *value = NULL;
      g_autofree char *key = key_name (kinds[k].kind, i);
      switch (op_for (h, kinds[k].kind, i, &value)) {
      case OP_PUT:
        cairn_test_commit_put (c, key, value);
        break;
      case OP_DEL:
        cairn_test_commit_delete (c, key);
        break;
      case OP_NONE:
        break;
      }
    }
  g_autofree char *last = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
  cairn_test_commit_private_put (c, "p/last", last);
  for (uint32_t i = 0; i < CAIRN_TEST_CHAIN_N_TXS; i++) {
    uint8_t id[32];
    g_autofree char *result
        = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
    cairn_test_tx_id (h, i, id);
    cairn_test_commit_add_tx (c, id, result);
  }
  return c;
}

char *
cairn_test_chain_state (uint64_t h)
{
  GString *out = g_string_new (NULL);
  /* Key order: big/ < c/ < k/. */
  const KeyKind order[] = { KEY_BIG, KEY_COUNTER, KEY_SMALL };
  const int counts[] = { N_BIG, 1, N_SMALL };
  for (size_t k = 0; k < G_N_ELEMENTS (order); k++)
    for (int i = 0; i < counts[k]; i++) {
      g_autofree char *value = expected_value (order[k], i, h);
      g_autofree char *key = key_name (order[k], i);
      if (value != NULL)
        g_string_append_printf (out, "%s=%s;", key, value);
    }
  return g_string_free (out, FALSE);
}

/* ---- checking a store against the chain ---------------------------------
 */

static gboolean
append_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  g_string_append_printf (user_data, "%s=%.*s;", key, (int)len,
                          (const char *)value);
  return TRUE;
}

static char *
actual_state (CairnTestStore *s, uint64_t h)
{
  g_autoptr (GError) error = NULL;
  GString *out = g_string_new (NULL);
  if (!s->iface->state_iter (s->store, "", h, append_cb, out, &error))
    g_error ("state_iter at height %" G_GUINT64_FORMAT " failed: %s", h,
             error->message);
  return g_string_free (out, FALSE);
}

static void
assert_state_at (CairnTestStore *s, uint64_t h, uint64_t query)
{
  g_autofree char *want = cairn_test_chain_state (h);
  g_autofree char *got = actual_state (s, query);
  if (strcmp (want, got) != 0) {
    size_t i = 0;
    while (want[i] != '\0' && want[i] == got[i])
      i++;
    size_t from = i > 40 ? i - 40 : 0;
    g_error ("state at height %" G_GUINT64_FORMAT " differs from the "
             "deterministic chain at byte %zu (a half-applied or lost "
             "block?):\n got  ...%.120s\n want ...%.120s",
             h, i, got + from, want + from);
  }
}

gint64
cairn_test_chain_verify (CairnPluginEntry entry, const char *const *config,
                         const char *dir, gint64 min_head, gint64 max_head)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestStore) s = NULL;
  uint64_t head;

  s = cairn_test_store_open (entry, config, dir, &error);
  if (s == NULL)
    g_error ("reopening the store in %s failed: %s", dir, error->message);
  const CairnStorageIface *iface = s->iface;
  if (!iface->head (s->store, &head, &error)) {
    if (!g_error_matches (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      g_error ("head of the store in %s: %s", dir, error->message);
    if (min_head >= 0)
      g_error ("the store in %s is empty, but block %" G_GINT64_FORMAT
               " was committed (lost)",
               dir, min_head);
    return -1;
  }
  /* Every commit that returned is there; none that did not start is. */
  if ((gint64)head < min_head)
    g_error ("the store's head is %" G_GUINT64_FORMAT
             " but block %" G_GINT64_FORMAT " was committed (lost)",
             head, min_head);
  if (max_head >= 0 && (gint64)head > max_head)
    g_error ("the store's head is %" G_GUINT64_FORMAT
             " but no commit above %" G_GINT64_FORMAT " had begun",
             head, max_head);

  for (uint64_t h = 0; h <= head; h++) {
    g_autoptr (GBytes) want = block_bytes (h);
    g_autoptr (GBytes) got = iface->block_get (s->store, h, &error);
    if (got == NULL)
      g_error ("block %" G_GUINT64_FORMAT " (head %" G_GUINT64_FORMAT "): %s",
               h, head, error->message);
    if (!g_bytes_equal (got, want))
      g_error ("block %" G_GUINT64_FORMAT " has other bytes than committed", h);
    uint8_t hash[32];
    uint64_t found = G_MAXUINT64;
    cairn_test_block_hash (h, hash);
    if (!iface->block_find (s->store, hash, &found, &error))
      g_error ("block_find of block %" G_GUINT64_FORMAT ": %s", h,
               error->message);
    g_assert_cmpuint (found, ==, h);
  }
  GBytes *above = iface->block_get (s->store, head + 1, &error);
  g_assert_null (above);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The head's txs and private state. */
  for (uint32_t i = 0; i < CAIRN_TEST_CHAIN_N_TXS; i++) {
    uint8_t id[32];
    uint64_t th = G_MAXUINT64;
    uint32_t ti = G_MAXUINT32;
    g_autoptr (GBytes) res = NULL;
    cairn_test_tx_id (head, i, id);
    if (!iface->tx_get (s->store, id, &th, &ti, &res, &error))
      g_error ("tx %u of the head %" G_GUINT64_FORMAT ": %s", i, head,
               error->message);
    g_assert_cmpuint (th, ==, head);
    g_assert_cmpuint (ti, ==, i);
    g_autofree char *want_res
        = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", head, i);
    cairn_test_assert_bytes_str (res, want_res);
  }
  g_autoptr (GBytes) last = iface->private_get (s->store, "p/last", &error);
  if (last == NULL)
    g_error ("private key p/last of the head %" G_GUINT64_FORMAT ": %s", head,
             error->message);
  g_autofree char *head_text = g_strdup_printf ("%" G_GUINT64_FORMAT, head);
  cairn_test_assert_bytes_str (last, head_text);

  /* Exactly the head's state, at CAIRN_HEAD and at its height. */
  assert_state_at (s, head, CAIRN_HEAD);
  assert_state_at (s, head, head);
  /* Some past heights, always including the last large one. */
  for (int i = 0; i < 3 && head > 0; i++) {
    uint64_t h = (uint64_t)g_test_rand_int_range (0, (gint32)head);
    if (i == 0) {
      h = head - head % 5;
      if (h == head && h >= 5)
        h -= 5;
    }
    assert_state_at (s, h, h);
    g_autofree char *counter = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    g_autoptr (GBytes) c = iface->state_get (s->store, "c/counter", h, &error);
    g_assert_no_error (error);
    cairn_test_assert_bytes_str (c, counter);
  }
  return (gint64)head;
}

/* ---- the child --------------------------------------------------------- */

static void say (int fd, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static void
say (int fd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  size_t len = strlen (line), off = 0;
  while (off < len) {
    ssize_t n = write (fd, line + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      _exit (4);
    off += (size_t)n;
  }
}

static G_NORETURN void
child_main (const StorageBackend *be, const char *dir, int fd)
{
  g_autoptr (GError) error = NULL;
  uint64_t h = 0, head;
  CairnTestStore *s = cairn_test_store_open (
      be->entry, (const char *const *)be->config, dir, &error);

  if (s == NULL) {
    say (fd, "E open: %s\n", error->message);
    _exit (2);
  }
  if (s->iface->head (s->store, &head, &error))
    h = head + 1;
  g_clear_error (&error);
  for (;; h++) {
    CairnTestCommit *c = cairn_test_chain_commit (h);
    say (fd, "B %" G_GUINT64_FORMAT "\n", h);
    if (!cairn_test_store_commit (s, c, &error)) {
      say (fd, "E commit %" G_GUINT64_FORMAT ": %s\n", h, error->message);
      _exit (3);
    }
    say (fd, "D %" G_GUINT64_FORMAT "\n", h);
    cairn_test_commit_free (c);
  }
}

/* ---- the parent -------------------------------------------------------- */

typedef struct {
  GString *buf;      /* unparsed text from the child */
  gint64 last_done;  /* -1: none this round */
  gint64 last_begun; /* -1: none this round */
  gboolean last_was_begin;
  gint64 big_begun; /* a large height whose B line was seen, or -1 */
} Progress;

static void
parse_lines (Progress *p)
{
  char *nl;
  while ((nl = strchr (p->buf->str, '\n')) != NULL) {
    *nl = '\0';
    const char *line = p->buf->str;
    if (line[0] == 'E')
      g_error ("the committing child failed: %s", line + 2);
    guint64 h = g_ascii_strtoull (line + 2, NULL, 10);
    if (line[0] == 'B') {
      p->last_begun = (gint64)h;
      p->last_was_begin = TRUE;
      if (cairn_test_chain_is_large (h))
        p->big_begun = (gint64)h;
    } else if (line[0] == 'D') {
      p->last_done = (gint64)h;
      p->last_was_begin = FALSE;
    } else {
      g_error ("unexpected line from the child: %s", line);
    }
    g_string_erase (p->buf, 0, nl - p->buf->str + 1);
  }
}

/* Read what is available (or wait up to timeout_ms); FALSE at EOF. */
static gboolean
read_some (int fd, Progress *p, int timeout_ms)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  int rc = poll (&pfd, 1, timeout_ms);
  if (rc < 0 && errno == EINTR)
    return TRUE;
  g_assert_cmpint (rc, >=, 0);
  if (rc == 0)
    return TRUE;
  char buf[4096];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR)
    return TRUE;
  g_assert_cmpint (n, >=, 0);
  if (n == 0)
    return FALSE;
  g_string_append_len (p->buf, buf, n);
  parse_lines (p);
  return TRUE;
}

/* Microseconds of the slowest large commit of the chain's first 11 blocks
 * (2 large ones), on a scratch store. */
static gint64
measure_big_commit (const StorageBackend *be)
{
  g_autofree char *tmp = cairn_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  g_autoptr (GError) error = NULL;
  gint64 worst = 0;
  CairnTestStore *s = cairn_test_store_open (
      be->entry, (const char *const *)be->config, dir, &error);
  if (s == NULL)
    g_error ("%s: opening a store in %s failed: %s", be->name, dir,
             error->message);
  for (uint64_t h = 0; h <= 10; h++) {
    g_autoptr (CairnTestCommit) c = cairn_test_chain_commit (h);
    gint64 t0 = g_get_monotonic_time ();
    if (!cairn_test_store_commit (s, c, &error))
      g_error ("%s: commit of block %" G_GUINT64_FORMAT " failed: %s", be->name,
               h, error->message);
    if (cairn_test_chain_is_large (h))
      worst = MAX (worst, g_get_monotonic_time () - t0);
  }
  cairn_test_store_close (s);
  cairn_test_rm_rf (tmp);
  return worst;
}

void
cairn_test__storage_crash_case (gconstpointer data)
{
  const StorageBackend *be = data;
  const char *const *config = (const char *const *)be->config;
  g_autofree char *tmp = cairn_test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  gint64 head = -1, last_done_ever = -1;
  guint mid_big = 0, big_rounds = 0;
  gint64 t0 = g_get_monotonic_time ();
  /* Kill windows: up to 150 ms after the start, up to 8 ms into a large
   * commit; scaled up for a backend (or a build) whose large commit takes
   * more than 30 ms, so that kills still land all over it. */
  gint64 big_us = measure_big_commit (be);
  gint32 random_us = (gint32)MIN (MAX (150000, 5 * big_us), G_MAXINT32);
  gint32 inside_us = (gint32)MIN (MAX (8000, big_us / 6), G_MAXINT32);
  g_test_message ("%s: a large commit takes %.1f ms: kills up to %.0f ms "
                  "after the start, up to %.1f ms into a large commit",
                  be->name, big_us / 1e3, random_us / 1e3, inside_us / 1e3);

  for (guint round = 0; round < be->crash_rounds; round++) {
    int fds[2];
    g_assert_cmpint (pipe (fds), ==, 0);
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
      close (fds[0]);
      child_main (be, dir, fds[1]);
    }
    close (fds[1]);

    Progress p = { g_string_new (NULL), -1, -1, FALSE, -1 };
    gboolean wait_big = round % 2 == 1;
    if (wait_big) {
      /* Kill inside a large commit: after it said "B <large height>". */
      big_rounds++;
      gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
      while (p.big_begun < 0) {
        if (!read_some (fds[0], &p, 100))
          g_error ("the committing child ended before a large commit: %s",
                   p.buf->str);
        if (g_get_monotonic_time () > deadline)
          g_error ("%s: no large commit began within 60 s", be->name);
      }
      g_usleep ((gulong)g_test_rand_int_range (0, inside_us));
    } else {
      /* Every other random kill waits for the child's first commit: the
       * others may land while it opens (and recovers) the store, which on
       * a slow build can take most of the window, and the chain must still
       * get somewhere. */
      gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
      while (round % 4 == 2 && p.last_done < 0) {
        if (!read_some (fds[0], &p, 100))
          g_error ("the committing child ended before its first commit: %s",
                   p.buf->str);
        if (g_get_monotonic_time () > deadline)
          g_error ("%s: no commit within 60 s", be->name);
      }
      g_usleep ((gulong)g_test_rand_int_range (0, random_us));
    }
    g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
    int status;
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    while (read_some (fds[0], &p, 1000))
      ;
    close (fds[0]);
    if (!WIFSIGNALED (status) || WTERMSIG (status) != SIGKILL)
      g_error ("the committing child did not die by SIGKILL (status %d): %s",
               status, p.buf->str);
    if (wait_big && p.last_was_begin
        && cairn_test_chain_is_large ((guint64)p.last_begun))
      mid_big++;
    if (p.last_done >= 0)
      last_done_ever = p.last_done;

    gint64 new_head = cairn_test_chain_verify (
        be->entry, config, dir, MAX (last_done_ever, head),
        p.last_begun >= 0 ? p.last_begun : head);
    g_test_message ("round %u: %s, heights begun up to %" G_GINT64_FORMAT
                    ", done up to %" G_GINT64_FORMAT ", head %" G_GINT64_FORMAT
                    "%s",
                    round, wait_big ? "kill in a large commit" : "random kill",
                    p.last_begun, p.last_done, new_head,
                    p.last_was_begin ? " (killed inside a commit)" : "");
    head = new_head;
    g_string_free (p.buf, TRUE);
    if (be->crash_check != NULL)
      be->crash_check (dir, head, be->user_data);
  }

  g_test_message ("%s: %u kills, %u of %u aimed at large commits landed "
                  "inside one; final head %" G_GINT64_FORMAT " after %.1f s",
                  be->name, be->crash_rounds, mid_big, big_rounds, head,
                  (g_get_monotonic_time () - t0) / 1e6);
  if (be->crash_rounds >= 8) {
    /* Through several large commits, and some kills inside one. */
    g_assert_cmpint (head, >=, 20);
    g_assert_cmpuint (mid_big, >=, 1);
  }

  /* The survivor continues from head + 1 here too. */
  g_autoptr (GError) error = NULL;
  CairnTestStore *s = cairn_test_store_open (be->entry, config, dir, &error);
  if (s == NULL)
    g_error ("%s: reopening %s: %s", be->name, dir, error->message);
  g_autoptr (CairnTestCommit) next
      = cairn_test_chain_commit ((uint64_t)(head + 1));
  if (!cairn_test_store_commit (s, next, &error))
    g_error ("%s: commit of block %" G_GINT64_FORMAT " after the kills: %s",
             be->name, head + 1, error->message);
  cairn_test_store_close (s);
  g_assert_cmpint (
      cairn_test_chain_verify (be->entry, config, dir, head + 1, head + 1), ==,
      head + 1);
  if (be->crash_check != NULL)
    be->crash_check (dir, head + 1, be->user_data);
  cairn_test_rm_rf (tmp);
}

/* store-lmdb crash consistency: a child process commits blocks in a loop
 * and is SIGKILLed at random moments (some while a large commit is in
 * flight); after each kill the store must open with every block up to its
 * head, the exact state of the head (nothing half-applied), correct past
 * states, and accept head + 1.
 *
 * Each block's write-set is a function of its height only, so the parent
 * knows what any height must look like. Randomness comes from the GLib test
 * seed (rerun a failure with --seed). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "commit_builder.h"
#include "fake_host.h"
#include "test_util.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_store_lmdb (void);

#define N_SMALL 10
#define N_BIG 3000
#define BIG_VALUE_LEN 200
#define BIG_BLOCK_LEN (256u << 10)
#define N_TXS 3
#define ROUNDS 24

/* ---- the deterministic chain ------------------------------------------- */

typedef enum { OP_NONE, OP_PUT, OP_DEL } Op;

static gboolean
is_big_height (uint64_t h)
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
  if (is_big_height (h)) {
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
  size_t len = is_big_height (h) ? BIG_BLOCK_LEN : 200;
  GString *s = g_string_new (NULL);
  g_string_printf (s, "{\"height\":%" G_GUINT64_FORMAT ",\"pad\":\"", h);
  while (s->len < len - 2)
    g_string_append_c (s, (char)('A' + (s->len * 7 + h) % 26));
  g_string_append (s, "\"}");
  return g_string_free_to_bytes (s);
}

static TestCommit *
build_commit (uint64_t h)
{
  TestCommit *c = test_commit_new (h);
  g_autoptr (GBytes) block = block_bytes (h);
  test_commit_set_block (c, g_bytes_get_data (block, NULL),
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
        test_commit_put (c, key, value);
        break;
      case OP_DEL:
        test_commit_delete (c, key);
        break;
      case OP_NONE:
        break;
      }
    }
  g_autofree char *last = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
  test_commit_private_put (c, "p/last", last);
  for (uint32_t i = 0; i < N_TXS; i++) {
    uint8_t id[32];
    g_autofree char *result
        = g_strdup_printf ("{\"h\":%" G_GUINT64_FORMAT ",\"i\":%u}", h, i);
    test_tx_id (h, i, id);
    test_commit_add_tx (c, id, result);
  }
  return c;
}

/* "key=value;" of the whole state at h, in key order (big/ < c/ < k/). */
static char *
expected_state (uint64_t h)
{
  GString *out = g_string_new (NULL);
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

/* ---- the store through the fake host ------------------------------------ */

typedef struct {
  FakePlugin *fp;
  const CairnStorageIface *iface;
  CairnStore *store;
} Handle;

static gboolean
handle_open (Handle *hd, const char *dir, GError **error)
{
  hd->fp = fake_plugin_new (cairn_plugin_descriptor_store_lmdb, dir);
  if (!fake_plugin_init (hd->fp, error))
    return FALSE;
  hd->iface = fake_plugin_storage (hd->fp);
  hd->store = hd->iface->open (fake_plugin_handle (hd->fp), dir, error);
  return hd->store != NULL;
}

static void
handle_close (Handle *hd)
{
  if (hd->store != NULL)
    hd->iface->close (hd->store);
  fake_plugin_free (hd->fp);
  memset (hd, 0, sizeof *hd);
}

static gboolean
append_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  g_string_append_printf (user_data, "%s=%.*s;", key, (int)len,
                          (const char *)value);
  return TRUE;
}

static char *
actual_state (Handle *hd, uint64_t h)
{
  g_autoptr (GError) error = NULL;
  GString *out = g_string_new (NULL);
  g_assert_true (
      hd->iface->state_iter (hd->store, "", h, append_cb, out, &error));
  g_assert_no_error (error);
  return g_string_free (out, FALSE);
}

static void
assert_state_at (Handle *hd, uint64_t h, uint64_t query)
{
  g_autofree char *want = expected_state (h);
  g_autofree char *got = actual_state (hd, query);
  if (strcmp (want, got) != 0) {
    size_t i = 0;
    while (want[i] != '\0' && want[i] == got[i])
      i++;
    size_t from = i > 40 ? i - 40 : 0;
    g_error (
        "state at height %" G_GUINT64_FORMAT " differs from the "
        "deterministic chain at byte %zu:\n got  ...%.120s\n want ...%.120s",
        h, i, got + from, want + from);
  }
}

/* Everything the store holds must be a prefix of the deterministic chain. */
static uint64_t
verify_store (const char *dir, gint64 last_done, gint64 last_begun,
              gint64 prev_head)
{
  g_autoptr (GError) error = NULL;
  Handle hd = { 0 };
  uint64_t head;

  if (!handle_open (&hd, dir, &error))
    g_error ("reopen after kill failed: %s", error->message);
  if (!hd.iface->head (hd.store, &head, &error)) {
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    g_assert_cmpint (last_done, <, 0);
    g_assert_cmpint (prev_head, <, 0);
    handle_close (&hd);
    return UINT64_MAX;
  }
  /* Every commit that returned is there; none that did not start is. */
  g_assert_cmpint ((gint64)head, >=, last_done);
  g_assert_cmpint ((gint64)head, >=, prev_head);
  if (last_begun >= 0)
    g_assert_cmpint ((gint64)head, <=, last_begun);

  for (uint64_t h = 0; h <= head; h++) {
    g_autoptr (GBytes) want = block_bytes (h);
    g_autoptr (GBytes) got = hd.iface->block_get (hd.store, h, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (got, want));
    uint8_t hash[32];
    uint64_t found;
    test_block_hash (h, hash);
    g_assert_true (hd.iface->block_find (hd.store, hash, &found, &error));
    g_assert_cmpuint (found, ==, h);
  }
  GBytes *above = hd.iface->block_get (hd.store, head + 1, &error);
  g_assert_null (above);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The head's txs and private state. */
  for (uint32_t i = 0; i < N_TXS; i++) {
    uint8_t id[32];
    uint64_t th;
    uint32_t ti;
    g_autoptr (GBytes) res = NULL;
    test_tx_id (head, i, id);
    g_assert_true (hd.iface->tx_get (hd.store, id, &th, &ti, &res, &error));
    g_assert_cmpuint (th, ==, head);
    g_assert_cmpuint (ti, ==, i);
  }
  g_autoptr (GBytes) last = hd.iface->private_get (hd.store, "p/last", &error);
  g_assert_no_error (error);
  g_autofree char *head_text = g_strdup_printf ("%" G_GUINT64_FORMAT, head);
  test_assert_bytes_str (last, head_text);

  /* Exactly the head's state, at CAIRN_HEAD and at its height. */
  assert_state_at (&hd, head, CAIRN_HEAD);
  assert_state_at (&hd, head, head);
  /* Some past heights, always including the last big one. */
  for (int i = 0; i < 3 && head > 0; i++) {
    uint64_t h = (uint64_t)g_test_rand_int_range (0, (gint32)head);
    if (i == 0) {
      h = head - head % 5;
      if (h == head && h >= 5)
        h -= 5;
    }
    assert_state_at (&hd, h, h);
    g_autofree char *counter = g_strdup_printf ("%" G_GUINT64_FORMAT, h);
    g_autoptr (GBytes) c
        = hd.iface->state_get (hd.store, "c/counter", h, &error);
    g_assert_no_error (error);
    test_assert_bytes_str (c, counter);
  }
  handle_close (&hd);
  return head;
}

/* ---- the child ------------------------------------------------------------
 */

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
child_main (const char *dir, int fd)
{
  g_autoptr (GError) error = NULL;
  Handle hd = { 0 };
  uint64_t h = 0, head;

  if (!handle_open (&hd, dir, &error)) {
    say (fd, "E open: %s\n", error->message);
    _exit (2);
  }
  if (hd.iface->head (hd.store, &head, &error))
    h = head + 1;
  g_clear_error (&error);
  for (;; h++) {
    TestCommit *c = build_commit (h);
    const CairnCommitData *d = test_commit_data (c);
    say (fd, "B %" G_GUINT64_FORMAT "\n", h);
    if (!hd.iface->commit (hd.store, d, &error)) {
      say (fd, "E commit %" G_GUINT64_FORMAT ": %s\n", h, error->message);
      _exit (3);
    }
    say (fd, "D %" G_GUINT64_FORMAT "\n", h);
    test_commit_free (c);
  }
}

/* ---- the parent -----------------------------------------------------------
 */

typedef struct {
  GString *buf;      /* unparsed text from the child */
  gint64 last_done;  /* -1: none this round */
  gint64 last_begun; /* -1: none this round */
  gboolean last_was_begin;
  gint64 big_begun; /* a big height whose B line was seen, or -1 */
} Progress;

static void
parse_lines (Progress *p)
{
  char *nl;
  while ((nl = strchr (p->buf->str, '\n')) != NULL) {
    *nl = '\0';
    const char *line = p->buf->str;
    if (line[0] == 'E')
      g_error ("child failed: %s", line);
    guint64 h = g_ascii_strtoull (line + 2, NULL, 10);
    if (line[0] == 'B') {
      p->last_begun = (gint64)h;
      p->last_was_begin = TRUE;
      if (is_big_height (h))
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
  g_assert_cmpint (rc, >=, 0);
  if (rc == 0)
    return TRUE;
  char buf[4096];
  ssize_t n = read (fd, buf, sizeof buf);
  g_assert_cmpint (n, >=, 0);
  if (n == 0)
    return FALSE;
  g_string_append_len (p->buf, buf, n);
  parse_lines (p);
  return TRUE;
}

static void
test_crash_consistency (void)
{
  g_autofree char *tmp = test_make_tmpdir ();
  g_autofree char *dir = g_build_filename (tmp, "store", NULL);
  gint64 head = -1, last_done_ever = -1;
  guint mid_big = 0, big_rounds = 0;
  gint64 t0 = g_get_monotonic_time ();

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
      /* Kill inside a large commit: after it said "B <big height>". */
      big_rounds++;
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while (p.big_begun < 0) {
        g_assert_true (read_some (fds[0], &p, 100));
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      }
      g_usleep ((gulong)g_test_rand_int_range (0, 8000));
    } else {
      g_usleep ((gulong)g_test_rand_int_range (0, 150000));
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
    g_test_message ("round %d: %s, heights begun up to %" G_GINT64_FORMAT
                    ", done up to %" G_GINT64_FORMAT ", head %" G_GINT64_FORMAT
                    "%s",
                    round, wait_big ? "kill in a big commit" : "random kill",
                    p.last_begun, p.last_done, new_head,
                    p.last_was_begin ? " (killed inside commit)" : "");
    head = new_head;
    g_string_free (p.buf, TRUE);
  }

  g_test_message ("%d kills, %u of %u aimed at big commits landed inside "
                  "one; final head %" G_GINT64_FORMAT " after %.1f s",
                  ROUNDS, mid_big, big_rounds, head,
                  (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpint (head, >=, 20); /* through several big commits */
  g_assert_cmpuint (mid_big, >=, 1);

  /* The survivor continues from head + 1 here too. */
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
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store-lmdb/crash-consistency", test_crash_consistency);
  return g_test_run ();
}

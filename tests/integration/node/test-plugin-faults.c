/* Plugins that fail, in a real node: a tx handler that crashes the process
 * (run under g_test_trap_subprocess: the process's last line names the
 * plugin and the tx type, and a restart keeps every committed block), an
 * init that fails (start-up stops with the plugin's message, and the data
 * dir is usable again at once), a handler that blocks the main loop (the
 * watchdog names it, in the log and in /metrics), and [node] user (a node
 * started as root runs as that user). */
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "crypto.h"
#include "node_private.h"
#include "tx.h"
#include "watchdog.h"

static char *plugins_dir;
static char *faulty_dir;

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;
  g_file_set_contents (path, text, -1, &err);
  g_assert_no_error (err);
}

/* A solo node's home with the faulty plugin; EXTRA is appended to its
 * cairn.conf. The admin key is keys/admin.pem. */
static char *
make_home (const char *extra)
{
  g_autoptr (GError) err = NULL;
  char *home = g_dir_make_tmp ("cairn-faults-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *keys = g_build_filename (home, "keys", NULL);
  g_assert_cmpint (g_mkdir (keys, 0700), ==, 0);
  g_autoptr (CairnKey) node_key = cairn_key_generate (NULL);
  g_autoptr (CairnKey) admin = cairn_key_generate (NULL);
  g_autofree char *kp = g_build_filename (keys, "node.pem", NULL);
  g_autofree char *ap = g_build_filename (keys, "admin.pem", NULL);
  g_assert_true (cairn_key_save (node_key, kp, &err));
  g_assert_true (cairn_key_save (admin, ap, &err));
  g_autofree char *npk = cairn_hex_encode (cairn_key_pubkey (node_key), 32);
  g_autoptr (json_t) genesis = json_pack (
      "{s:s, s:I, s:{s:i, s:[s]}, s:[{s:s, s:[s], s:{s:I}}], "
      "s:[{s:s, s:s, s:I, s:s}]}",
      "chain_id", "t", "genesis_time", (json_int_t)1700000000000, "admin",
      "threshold", 1, "members", cairn_key_address (admin), "accounts",
      "address", cairn_key_address (admin), "roles", "admin", "balances",
      "cairn", (json_int_t)1000, "validators", "address",
      cairn_key_address (node_key), "pubkey", npk, "stake", (json_int_t)1,
      "name", "n0");
  g_autofree char *gtext = json_dumps (genesis, JSON_SORT_KEYS);
  write_file (home, "genesis.json", gtext);
  g_autofree char *conf = g_strdup_printf (
      "[node]\nchain_id = t\nlog_level = warning\n"
      "[plugins]\npath = %s;%s\nload = store-lmdb;solo;faulty\n"
      "[http]\nenabled = false\n"
      "[solo]\nbatch_delay_ms = 1\nempty_block_interval_ms = 0\n"
      "[store-lmdb]\nmap_size = 64MiB\n%s",
      plugins_dir, faulty_dir, extra ? extra : "");
  write_file (home, "cairn.conf", conf);
  return home;
}

static void
rm_rf (const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);
  g_assert_cmpint (system (cmd), ==, 0);
}

static CairnNode *
open_node (const char *home, GError **error)
{
  CairnNodeOptions opts = { .home = home };
  return cairn_node_new (&opts, error);
}

/* Signs TYPE/BODY with keys/admin.pem at the admin's next nonce, submits it
 * and returns its id. */
static char *
submit (CairnNode *node, const char *home, const char *type, const char *body)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *ap = g_build_filename (home, "keys", "admin.pem", NULL);
  g_autoptr (CairnKey) admin = cairn_key_load (ap, &err);
  g_assert_no_error (err);
  g_autoptr (json_t) acct
      = cairn_node_account_json (node, cairn_key_address (admin), &err);
  g_assert_no_error (err);
  g_autoptr (json_t) jbody = json_loads (body, 0, NULL);
  g_assert_nonnull (jbody);
  g_autoptr (CairnTx) tx = cairn_tx_sign (
      admin, "t", type,
      (uint64_t)json_integer_value (json_object_get (acct, "next_nonce")),
      jbody, &err);
  g_assert_no_error (err);
  char *id = g_strdup (tx->id_hex);
  g_assert_true (cairn_node_submit (node, tx, &err));
  g_assert_no_error (err);
  return id;
}

static void
wait_committed (CairnNode *node, const char *id)
{
  int64_t deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    g_main_context_iteration (NULL, FALSE);
    g_autoptr (json_t) t = cairn_node_tx_json (node, id, NULL);
    const char *status = json_string_value (json_object_get (t, "status"));
    if (g_strcmp0 (status, "committed") == 0)
      return;
    g_usleep (1000);
  }
  g_error ("tx %s not committed in 20 s", id);
}

static char *
state_value (CairnNode *node, const char *key)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) v
      = cairn_node_state_get (node, "faulty", key, CAIRN_HEAD, &err);
  if (v == NULL)
    return NULL;
  return g_strndup (g_bytes_get_data (v, NULL), g_bytes_get_size (v));
}

/* ---- a crashing tx handler ---------------------------------------------- */

static void
crash_child (void)
{
  const char *home = g_getenv ("CAIRN_FAULTS_HOME");
  g_autoptr (GError) err = NULL;
  cairn_fatal_signals_install ();
  CairnNode *node = open_node (home, &err);
  g_assert_no_error (err);
  g_assert_true (cairn_node_start (node, &err));
  g_autofree char *first
      = submit (node, home, "faulty.stall", "{\"key\":\"before\",\"ms\":0}");
  wait_committed (node, first);
  g_printerr ("committed at height %" G_GUINT64_FORMAT "\n", node->head.height);
  g_autofree char *boom = submit (node, home, "faulty.crash", "{}");
  wait_committed (node, boom);
  g_error ("faulty.crash did not crash the node");
}

static void
test_crash_in_handler (void)
{
  if (g_test_subprocess ()) {
    crash_child ();
    return;
  }
  g_autofree char *home = make_home (NULL);
  g_setenv ("CAIRN_FAULTS_HOME", home, TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*committed at height 1*");
  g_test_trap_assert_stderr (
      "*cairn: fatal signal SIGSEGV in plugin faulty (faulty.crash)*");

  /* What was committed before the crash is all there; the node starts and
   * goes on (the crashing tx died with the mempool). */
  g_autoptr (GError) err = NULL;
  CairnNode *node = open_node (home, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (node->head.height, ==, 1);
  g_autofree char *v = state_value (node, "before");
  g_assert_cmpstr (v, ==, "done");
  g_assert_true (cairn_node_start (node, &err));
  g_autofree char *after
      = submit (node, home, "faulty.stall", "{\"key\":\"after\",\"ms\":0}");
  wait_committed (node, after);
  g_assert_cmpuint (node->head.height, ==, 2);
  cairn_node_free (node);
  rm_rf (home);
}

/* ---- a failing init -------------------------------------------------------
 */

static void
test_init_error (void)
{
  g_autofree char *home = make_home ("[faulty]\nfail_init = true\n");
  g_autoptr (GError) err = NULL;
  CairnNode *node = open_node (home, &err);
  g_assert_null (node);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "faulty"));
  g_assert_nonnull (strstr (
      err->message, "faulty refuses to start ([faulty] fail_init = true)"));
  g_clear_error (&err);

  /* Nothing is held: the same data dir opens at once. */
  g_autofree char *conf = g_build_filename (home, "cairn.conf", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (conf, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "fail_init = true"));
  g_auto (GStrv) parts = g_strsplit (text, "fail_init = true", -1);
  g_autofree char *fixed = g_strjoinv ("fail_init = false", parts);
  write_file (home, "cairn.conf", fixed);
  node = open_node (home, &err);
  g_assert_no_error (err);
  g_assert_true (cairn_node_start (node, &err));
  cairn_node_free (node);
  rm_rf (home);
}

/* ---- a handler that blocks the main loop ----------------------------------
 */

static void
watchdog_child (void)
{
  const char *home = g_getenv ("CAIRN_FAULTS_HOME");
  g_autoptr (GError) err = NULL;
  /* The watchdog's warnings are what this child is for. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  CairnNode *node = open_node (home, &err);
  g_assert_no_error (err);
  g_assert_true (cairn_node_start (node, &err));
  g_autofree char *id
      = submit (node, home, "faulty.stall", "{\"key\":\"slow\",\"ms\":1500}");
  wait_committed (node, id);
  /* Let the beat after the stall run. */
  int64_t until = g_get_monotonic_time () + 300 * 1000;
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
  g_autoptr (GString) metrics = g_string_new (NULL);
  cairn_node_metrics (node, metrics);
  g_printerr ("%s", metrics->str);
  cairn_node_free (node);
}

static void
test_watchdog (void)
{
  if (g_test_subprocess ()) {
    watchdog_child ();
    return;
  }
  g_autofree char *home = make_home ("[node]\nwatchdog_ms = 200\n");
  /* make_home wrote [node] twice: GKeyFile merges them. */
  g_setenv ("CAIRN_FAULTS_HOME", home, TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr (
      "*watchdog: the main loop has not run for * ms (in plugin faulty: "
      "faulty.stall)*");
  g_test_trap_assert_stderr ("*watchdog: the main loop was blocked for * ms "
                             "(in plugin faulty: faulty.stall)*");
  g_test_trap_assert_stderr ("*\ncairn_watchdog_stalls_total 1\n*");
  g_test_trap_assert_stderr ("*\ncairn_watchdog_longest_stall_ms 1*");
  rm_rf (home);
}

/* ---- [node] user ------------------------------------------------------------
 */

static void
user_child (void)
{
  const char *home = g_getenv ("CAIRN_FAULTS_HOME");
  g_autoptr (GError) err = NULL;
  CairnNode *node = open_node (home, &err);
  g_assert_no_error (err);
  struct passwd *pw = getpwnam ("nobody");
  g_assert_nonnull (pw);
  g_assert_cmpuint (getuid (), ==, pw->pw_uid);
  g_assert_cmpuint (geteuid (), ==, pw->pw_uid);
  g_assert_cmpuint (getegid (), ==, pw->pw_gid);
  g_assert_cmpint (setuid (0), !=, 0);
  g_assert_true (cairn_node_start (node, &err));
  g_autofree char *id
      = submit (node, home, "faulty.stall", "{\"key\":\"as\",\"ms\":0}");
  wait_committed (node, id);
  cairn_node_free (node);
}

static void
test_run_as_user (void)
{
  if (g_test_subprocess ()) {
    user_child ();
    return;
  }
  /* Not root: the switch is refused unless it is to ourselves. */
  struct passwd *pw = getpwnam ("nobody");
  g_assert_nonnull (pw);
  g_autoptr (GError) err = NULL;
  {
    g_autofree char *home = make_home ("[node]\nuser = no-such-user-here\n");
    CairnNode *node = open_node (home, &err);
    g_assert_null (node);
    g_assert_error (err, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_assert_nonnull (
        strstr (err->message, "no user named 'no-such-user-here'"));
    g_clear_error (&err);
    rm_rf (home);
  }
  if (geteuid () != 0) {
    g_test_skip ("switching users needs root; the unknown-user case ran");
    return;
  }
  g_autofree char *home = make_home ("[node]\nuser = nobody\n");
  g_autofree char *cmd = g_strdup_printf ("chown -R nobody: '%s'", home);
  g_assert_cmpint (system (cmd), ==, 0);
  g_setenv ("CAIRN_FAULTS_HOME", home, TRUE);
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  /* What the node made is the user's, not root's. */
  g_autofree char *mdb
      = g_build_filename (home, "data", "store-lmdb", "data.mdb", NULL);
  struct stat st;
  g_assert_cmpint (g_stat (mdb, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, pw->pw_uid);
  rm_rf (home);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("CAIRN_BUILD_ROOT");
  g_assert_nonnull (build);
  plugins_dir = g_build_filename (build, "plugins", NULL);
  faulty_dir = g_strdup (argc > 1 ? argv[1] : ".");
  g_test_add_func ("/plugin-faults/crash-in-handler", test_crash_in_handler);
  g_test_add_func ("/plugin-faults/init-error", test_init_error);
  g_test_add_func ("/plugin-faults/watchdog", test_watchdog);
  g_test_add_func ("/plugin-faults/run-as-user", test_run_as_user);
  int rc = g_test_run ();
  g_free (plugins_dir);
  g_free (faulty_dir);
  return rc;
}

/* cairn testnet: a local network of nodes on loopback.
 *
 * init writes DIR/node0..node{N-1}: one shared genesis, a key per node, and
 * conf.d/90-testnet.conf with free loopback ports for HTTP and P2P, every
 * other node as a persistent peer, and every node id allowed. With solo
 * (one validator only), node0 runs solo and the others follow it (they
 * gossip txs to it and take its blocks); with pos (the default for more
 * than one validator), every node runs pos and the first N nodes are the
 * genesis validators.
 * init, start and stop are also cairn bench's network (cli.h).
 * start runs the nodes in the background (DIR/nodeI/node.log, node.pid),
 * stop ends them, status asks each one for its head and peers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "cli.h"

#define MAX_NODES 64

static char *
node_dir (const char *dir, guint i)
{
  g_autofree char *name = g_strdup_printf ("node%u", i);
  return g_build_filename (dir, name, NULL);
}

/* The node homes in DIR, in order. */
static GPtrArray *
list_nodes (const char *dir, GError **error)
{
  GPtrArray *homes = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < MAX_NODES; i++) {
    char *home = node_dir (dir, i);
    g_autofree char *conf = g_build_filename (home, "cairn.conf", NULL);
    if (!g_file_test (conf, G_FILE_TEST_EXISTS)) {
      g_free (home);
      break;
    }
    g_ptr_array_add (homes, home);
  }
  if (homes->len == 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                 "%s holds no testnet (create one with 'cairn testnet init "
                 "--dir %s')",
                 dir, dir);
    g_ptr_array_unref (homes);
    return NULL;
  }
  return homes;
}

static gboolean
copy_file (const char *from, const char *to, int mode, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  if (!g_file_get_contents (from, &text, &len, error))
    return FALSE;
  if (!g_file_set_contents_full (to, text, len, G_FILE_SET_CONTENTS_CONSISTENT,
                                 mode, error))
    return FALSE;
  return TRUE;
}

/* ---- init ---------------------------------------------------------------- */

#define POS_STAKE 100
#define POS_BALANCE 1000

/* A validator's genesis account holds POS_BALANCE, of which pos locks the
 * stake at genesis. */
static void
fund_validator (json_t *accounts, const CairnKey *key)
{
  const char *addr = cairn_key_address (key);
  json_t *acc = NULL;
  for (size_t i = 0; i < json_array_size (accounts) && acc == NULL; i++) {
    json_t *a = json_array_get (accounts, i);
    if (g_strcmp0 (json_string_value (json_object_get (a, "address")), addr)
        == 0)
      acc = a;
  }
  if (acc == NULL) {
    g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
    acc = json_pack ("{s:s, s:s, s:[], s:{}}", "address", addr, "pubkey", pk,
                     "roles", "balances");
    json_array_append_new (accounts, acc);
  }
  json_t *bal = json_object_get (acc, "balances");
  if (bal == NULL) {
    bal = json_object ();
    json_object_set_new (acc, "balances", bal);
  }
  json_object_set_new (bal, "cairn", json_integer (POS_BALANCE));
}

/* PoS: the first n_val nodes are the genesis validators (stake POS_STAKE
 * each, locked by pos from a balance of POS_BALANCE); every node runs pos
 * instead of solo, and the bank lets pos burn slashed stake and mint
 * rewards. */
static gboolean
use_pos (const char *dir, guint n, guint n_val, GError **error)
{
  g_autoptr (json_t) vals = json_array ();
  g_autoptr (GPtrArray) keys
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_key_free);
  for (guint i = 0; i < n_val; i++) {
    g_autofree char *home = node_dir (dir, i);
    g_autofree char *kp = g_build_filename (home, "keys", "node.pem", NULL);
    CairnKey *key = cairn_key_load (kp, error);
    if (key == NULL)
      return FALSE;
    g_ptr_array_add (keys, key);
    g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
    g_autofree char *name = g_strdup_printf ("node%u", i);
    json_array_append_new (vals,
                           json_pack ("{s:s, s:s, s:i, s:s}", "address",
                                      cairn_key_address (key), "pubkey", pk,
                                      "stake", POS_STAKE, "name", name));
  }
  g_autofree char *g0 = node_dir (dir, 0);
  g_autofree char *gpath = g_build_filename (g0, "genesis.json", NULL);
  json_error_t jerr;
  g_autoptr (json_t) genesis = json_load_file (gpath, 0, &jerr);
  if (genesis == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "%s: %s", gpath,
                 jerr.text);
    return FALSE;
  }
  json_object_set (genesis, "validators", vals);
  json_t *accounts = json_object_get (genesis, "accounts");
  if (!json_is_array (accounts)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s: accounts: must be an array", gpath);
    return FALSE;
  }
  for (guint i = 0; i < keys->len; i++)
    fund_validator (accounts, keys->pdata[i]);
  g_autofree char *text
      = json_dumps (genesis, JSON_INDENT (2) | JSON_SORT_KEYS);
  for (guint i = 0; i < n; i++) {
    g_autofree char *home = node_dir (dir, i);
    g_autofree char *g = g_build_filename (home, "genesis.json", NULL);
    g_autofree char *solo
        = g_build_filename (home, "conf.d", "30-solo.conf", NULL);
    g_autofree char *pos
        = g_build_filename (home, "conf.d", "30-pos.conf", NULL);
    g_unlink (solo);
    if (!g_file_set_contents (g, text, -1, error)
        || !g_file_set_contents (
            pos,
            "# Proof-of-stake BFT consensus (written by cairn testnet init).\n"
            "[plugins]\nload = pos\n\n[pos]\n"
            "# Pause between blocks when no tx waits.\n"
            "block_interval_ms = 200\n"
            "timeout_propose_ms = 1000\ntimeout_prevote_ms = 500\n"
            "timeout_precommit_ms = 500\nrebroadcast_ms = 1000\n\n"
            "# pos burns slashed stake and mints block rewards; market\n"
            "# mints reward vouchers (this replaces conf.d/20-bank.conf's\n"
            "# list: the last file wins).\n"
            "[bank]\nminters = pos; market; metering\n",
            -1, error))
      return FALSE;
  }
  return TRUE;
}

/* A free loopback port for node i's HTTP (p2p FALSE) or P2P listener that
 * no earlier choice of this init has: a port the kernel lends for a probe
 * can come back at the next probe, since nothing holds it yet. */
static gboolean
distinct_free_port (guint16 *http_port, guint16 *p2p_port, guint i,
                    gboolean p2p, GError **error)
{
  guint16 *out = p2p ? &p2p_port[i] : &http_port[i];
  for (guint attempt = 0; attempt < 100; attempt++) {
    if (!cairn_cli_free_port (out, error))
      return FALSE;
    gboolean taken = p2p && *out == http_port[i];
    for (guint j = 0; j < i && !taken; j++)
      taken = *out == http_port[j] || *out == p2p_port[j];
    if (!taken)
      return TRUE;
  }
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
               "no distinct free loopback port after 100 tries");
  return FALSE;
}

gboolean
cairn_testnet_init (const char *dir, guint n, guint n_val, gboolean pos,
                    const CairnInitSpec *tmpl, gboolean force, gboolean quiet,
                    GError **error)
{
  const char *chain_id = tmpl->chain_id;
  if (n < 1 || n > MAX_NODES || n_val < 1 || n_val > n || (!pos && n_val > 1)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "a testnet has 1..%d nodes and 1..nodes validators, and solo "
                 "has one validator (asked: %u nodes, %u validators, %s)",
                 MAX_NODES, n, n_val, pos ? "pos" : "solo");
    return FALSE;
  }
  if (g_file_test (dir, G_FILE_TEST_EXISTS)) {
    if (!force) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s exists; pick another --dir or add --force to replace "
                   "it",
                   dir);
      return FALSE;
    }
    if (!cairn_cli_remove_tree (dir, error))
      return FALSE;
  }
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "cannot create %s: %s", dir, g_strerror (errno));
    return FALSE;
  }
  /* node0 is a normal home; the others copy its genesis and admin key. */
  g_autofree char *home0 = node_dir (dir, 0);
  CairnInitSpec spec = *tmpl;
  spec.home = home0;
  if (!cairn_cli_init_home (&spec, NULL, NULL, error))
    return FALSE;
  g_autofree char *genesis0 = g_build_filename (home0, "genesis.json", NULL);
  g_autofree char *admin0 = g_build_filename (home0, "keys", "admin.pem", NULL);
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  guint16 http_port[MAX_NODES], p2p_port[MAX_NODES];
  for (guint i = 0; i < n; i++) {
    g_autofree char *home = node_dir (dir, i);
    if (i > 0) {
      CairnInitSpec s = *tmpl;
      s.home = home;
      g_autofree char *g = g_build_filename (home, "genesis.json", NULL);
      g_autofree char *a = g_build_filename (home, "keys", "admin.pem", NULL);
      if (!cairn_cli_init_home (&s, NULL, NULL, error)
          || !copy_file (genesis0, g, 0644, error)
          || !copy_file (admin0, a, 0600, error))
        return FALSE;
    }
    g_autofree char *kp = g_build_filename (home, "keys", "node.pem", NULL);
    g_autoptr (CairnKey) key = cairn_key_load (kp, error);
    if (key == NULL)
      return FALSE;
    g_ptr_array_add (ids, g_strdup (cairn_key_address (key)));
    if (!distinct_free_port (http_port, p2p_port, i, FALSE, error)
        || !distinct_free_port (http_port, p2p_port, i, TRUE, error))
      return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    g_autofree char *home = node_dir (dir, i);
    g_autoptr (GString) peers = g_string_new (NULL);
    g_autoptr (GString) allow = g_string_new (NULL);
    for (guint j = 0; j < n; j++) {
      if (j == i)
        continue;
      g_string_append_printf (peers, "%s%s@127.0.0.1:%u", peers->len ? ";" : "",
                              (char *)ids->pdata[j], p2p_port[j]);
      g_string_append_printf (allow, "%s%s", allow->len ? ";" : "",
                              (char *)ids->pdata[j]);
    }
    g_autofree char *conf = g_strdup_printf (
        "# Written by cairn testnet init: node%u of %u.\n"
        "[http]\nlisten = 127.0.0.1:%u\n\n"
        "[p2p]\nenabled = true\nlisten = 127.0.0.1:%u\n"
        "persistent_peers = %s\nallow = %s\n%s",
        i, n, http_port[i], p2p_port[i], peers->str, allow->str,
        i == 0 || pos ? ""
                      : "\n# With one validator, the others follow it.\n"
                        "[solo]\nfollow = true\n");
    g_autofree char *path
        = g_build_filename (home, "conf.d", "90-testnet.conf", NULL);
    if (!g_file_set_contents (path, conf, -1, error))
      return FALSE;
  }
  if (pos && !use_pos (dir, n, n_val, error))
    return FALSE;
  if (quiet)
    return TRUE;
  g_print ("testnet of %u nodes in %s (chain '%s', %s)\n", n, dir, chain_id,
           pos ? "pos" : "solo");
  for (guint i = 0; i < n; i++)
    g_print ("  node%u  %s  api http://127.0.0.1:%u  p2p %u%s\n", i,
             (char *)ids->pdata[i], http_port[i], p2p_port[i],
             i < n_val ? "  (validator)" : "  (follower)");
  g_print ("start it with: cairn testnet start --dir %s\n", dir);
  return TRUE;
}

/* ---- start / stop ------------------------------------------------------- */

GPid
cairn_testnet_node_pid (const char *home)
{
  g_autofree char *path = g_build_filename (home, "node.pid", NULL);
  g_autofree char *text = NULL;
  guint64 pid;
  if (!g_file_get_contents (path, &text, NULL, NULL)
      || !g_ascii_string_to_unsigned (g_strstrip (text), 10, 1, G_MAXINT32,
                                      &pid, NULL))
    return 0;
  /* Alive and a cairn process (pids are reused; a zombie child of ours has
   * no exe link). */
  g_autofree char *exe_link = g_strdup_printf ("/proc/%d/exe", (int)pid);
  g_autofree char *exe = g_file_read_link (exe_link, NULL);
  if (kill ((pid_t)pid, 0) != 0 || exe == NULL || strstr (exe, "cairn") == NULL)
    return 0;
  return (GPid)pid;
}

char *
cairn_testnet_node_home (const char *dir, guint i)
{
  return node_dir (dir, i);
}

static void
detach (gpointer data)
{
  setsid ();
  /* Owned by the calling process (cairn bench): no orphan if it dies. */
  if (data)
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
start_node (const char *home, gboolean owned, GError **error)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", error);
  if (exe == NULL)
    return FALSE;
  g_autofree char *log = g_build_filename (home, "node.log", NULL);
  int fd = g_open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "%s: %s", log,
                 g_strerror (errno));
    return FALSE;
  }
  const char *argv[] = { exe, "node", "--home", home, NULL };
  GPid pid = 0;
  gboolean ok = g_spawn_async_with_fds (
      NULL, (char **)argv, NULL,
      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL, detach,
      owned ? GINT_TO_POINTER (1) : NULL, &pid, -1, fd, fd, error);
  close (fd);
  if (!ok)
    return FALSE;
  g_autofree char *pidfile = g_build_filename (home, "node.pid", NULL);
  g_autofree char *text = g_strdup_printf ("%d\n", (int)pid);
  return g_file_set_contents (pidfile, text, -1, error);
}

static json_t *
node_status (const char *home, GPid pid)
{
  json_t *st = json_pack ("{s:s, s:b}", "home", home, "running", pid != 0);
  if (pid)
    json_object_set_new (st, "pid", json_integer (pid));
  g_autofree char *url = cairn_client_url_for (home, NULL, NULL);
  if (url)
    json_object_set_new (st, "api", json_string (url));
  if (pid == 0 || url == NULL)
    return st;
  g_autoptr (CairnClient) c = cairn_client_new (url, 2, NULL);
  g_autoptr (json_t) s = c ? cairn_client_get (c, "/v1/status", NULL) : NULL;
  if (s == NULL)
    return st;
  json_object_set (st, "height", json_object_get (s, "height"));
  json_object_set (st, "hash", json_object_get (s, "hash"));
  json_object_set (st, "node", json_object_get (s, "node"));
  json_t *p2p = json_object_get (s, "p2p");
  if (p2p)
    json_object_set (st, "peers", json_object_get (p2p, "peers"));
  return st;
}

static gboolean
wait_ready (const char *home, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline) {
    GPid pid = cairn_testnet_node_pid (home);
    if (pid == 0) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "the node of %s exited; see %s/node.log", home, home);
      return FALSE;
    }
    g_autoptr (json_t) st = node_status (home, pid);
    if (json_object_get (st, "height"))
      return TRUE;
    g_usleep (10000);
  }
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
               "the node of %s did not answer in 20 s; see %s/node.log", home,
               home);
  return FALSE;
}

gboolean
cairn_testnet_start (const char *dir, gboolean owned, gint64 *ready_us,
                     GError **error)
{
  g_autoptr (GPtrArray) homes = list_nodes (dir, error);
  if (homes == NULL)
    return FALSE;
  for (guint i = 0; i < homes->len; i++) {
    const char *home = homes->pdata[i];
    if (cairn_testnet_node_pid (home)) {
      if (!owned)
        g_print ("node%u already running\n", i);
      continue;
    }
    if (!start_node (home, owned, error))
      return FALSE;
  }
  for (guint i = 0; i < homes->len; i++) {
    if (!wait_ready (homes->pdata[i], error))
      return FALSE;
    if (ready_us)
      ready_us[i] = g_get_monotonic_time ();
  }
  for (guint i = 0; i < homes->len && !owned; i++) {
    g_autoptr (json_t) st = node_status (
        homes->pdata[i], cairn_testnet_node_pid (homes->pdata[i]));
    g_print ("node%u  %s  height %" JSON_INTEGER_FORMAT "\n", i,
             json_string_value (json_object_get (st, "api")),
             json_integer_value (json_object_get (st, "height")));
  }
  return TRUE;
}

/* Gone: reaped here when it is our child (cairn bench), else no such
 * process. */
static gboolean
gone (GPid pid)
{
  int st;
  return waitpid (pid, &st, WNOHANG) == pid || kill (pid, 0) != 0;
}

gboolean
cairn_testnet_stop (const char *dir, gboolean quiet, GError **error)
{
  g_autoptr (GPtrArray) homes = list_nodes (dir, error);
  if (homes == NULL)
    return FALSE;
  GPid pids[MAX_NODES] = { 0 };
  for (guint i = 0; i < homes->len; i++)
    if ((pids[i] = cairn_testnet_node_pid (homes->pdata[i])))
      kill (pids[i], SIGTERM);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (guint i = 0; i < homes->len; i++) {
    while (pids[i] && !gone (pids[i]) && g_get_monotonic_time () < deadline)
      g_usleep (20000);
    if (pids[i] && !gone (pids[i])) {
      g_printerr ("node%u did not stop in 10 s: killing it\n", i);
      kill (pids[i], SIGKILL);
      waitpid (pids[i], NULL, 0); /* ECHILD when not ours */
    }
    g_autofree char *pidfile
        = g_build_filename (homes->pdata[i], "node.pid", NULL);
    g_unlink (pidfile);
    if (pids[i] && !quiet)
      g_print ("node%u stopped\n", i);
  }
  return TRUE;
}

static int
testnet_status (const char *dir, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) homes = list_nodes (dir, &error);
  if (homes == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) all = json_array ();
  for (guint i = 0; i < homes->len; i++)
    json_array_append_new (
        all, node_status (homes->pdata[i],
                          cairn_testnet_node_pid (homes->pdata[i])));
  if (json) {
    cairn_cli_print_json (all);
    return CAIRN_EXIT_OK;
  }
  size_t i;
  json_t *st;
  json_array_foreach (all, i, st)
  {
    json_t *h = json_object_get (st, "height");
    char height[24] = "-";
    if (h)
      g_snprintf (height, sizeof height, "%" JSON_INTEGER_FORMAT,
                  json_integer_value (h));
    g_print ("node%zu  %-8s  %-26s  height %-8s  peers %zu  %s\n", i,
             json_is_true (json_object_get (st, "running")) ? "running"
                                                            : "stopped",
             json_string_value (json_object_get (st, "api")), height,
             json_array_size (json_object_get (st, "peers")),
             json_string_value (json_object_get (st, "hash"))
                 ? json_string_value (json_object_get (st, "hash"))
                 : "");
  }
  return CAIRN_EXIT_OK;
}

int
cairn_cmd_testnet (int argc, char **argv)
{
  g_autofree char *dir = NULL, *chain_id = NULL;
  g_autofree char *store = NULL, *blobstore = NULL, *consensus = NULL;
  int nodes = 0, validators = 1;
  gboolean force = FALSE, json = FALSE;
  const GOptionEntry entries[] = {
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "The testnet's folder", "D" },
    { "nodes", 0, 0, G_OPTION_ARG_INT, &nodes,
      "init: how many nodes (default: the validators, at least 4)", "N" },
    { "validators", 0, 0, G_OPTION_ARG_INT, &validators,
      "init: validators among them (default 1)", "N" },
    { "consensus", 0, 0, G_OPTION_ARG_STRING, &consensus,
      "init: solo or pos (default: solo for 1 validator, pos for more)", "C" },
    { "chain-id", 0, 0, G_OPTION_ARG_STRING, &chain_id,
      "init: chain id (default testnet)", "ID" },
    { "store", 0, 0, G_OPTION_ARG_STRING, &store,
      "init: storage plugin (default store-lmdb; or store-git)", "NAME" },
    { "blobstore", 0, 0, G_OPTION_ARG_STRING, &blobstore,
      "init: blob-store plugin (default blob-fs; or blob-ipfs)", "NAME" },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "init: replace D", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "status: JSON output", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "init|start|stop|status", "A local network of nodes on loopback.",
      "init writes D/node0..node{N-1} (shared genesis, own keys, free ports,\n"
      "full-mesh peers); start runs them in the background (node.log,\n"
      "node.pid in each home); stop ends them; status shows each node's\n"
      "height, head hash, peers and API URL. With --consensus solo (the\n"
      "default for --validators 1) node0 runs solo and the others follow it;\n"
      "with --consensus pos (the default for more validators; also valid\n"
      "with one) every node runs pos and the first N nodes are the genesis\n"
      "validators (stake 100 each, locked by pos from a genesis balance of\n"
      "1000).",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc != 2)
    return cairn_cli_usage ("expected one of init, start, stop, status");
  if (dir == NULL)
    return cairn_cli_usage ("--dir is required");
  const char *what = argv[1];
  g_autoptr (GError) error = NULL;
  if (strcmp (what, "init") == 0) {
    if (nodes == 0)
      nodes = MAX (validators, 4);
    if (nodes < 1 || nodes > MAX_NODES)
      return cairn_cli_usage ("--nodes must be 1..%d", MAX_NODES);
    if (validators < 1 || validators > nodes)
      return cairn_cli_usage ("--validators must be 1..--nodes (%d)", nodes);
    gboolean pos = validators > 1;
    if (consensus && g_str_equal (consensus, "pos"))
      pos = TRUE;
    else if (consensus && g_str_equal (consensus, "solo")) {
      if (validators > 1)
        return cairn_cli_usage ("--consensus solo has one validator; "
                                "--validators %d needs pos",
                                validators);
      pos = FALSE;
    } else if (consensus)
      return cairn_cli_usage ("--consensus must be solo or pos, not '%s'",
                              consensus);
    CairnInitSpec tmpl = { .chain_id = chain_id ? chain_id : "testnet",
                           .profile = "dev",
                           .store = store,
                           .blobstore = blobstore };
    if (!cairn_testnet_init (dir, nodes, validators, pos, &tmpl, force, FALSE,
                             &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    return CAIRN_EXIT_OK;
  }
  if (strcmp (what, "start") == 0)
    return cairn_testnet_start (dir, FALSE, NULL, &error)
               ? CAIRN_EXIT_OK
               : cairn_cli_fail (g_steal_pointer (&error));
  if (strcmp (what, "stop") == 0)
    return cairn_testnet_stop (dir, FALSE, &error)
               ? CAIRN_EXIT_OK
               : cairn_cli_fail (g_steal_pointer (&error));
  if (strcmp (what, "status") == 0)
    return testnet_status (dir, json);
  return cairn_cli_usage ("unknown testnet command '%s'", what);
}

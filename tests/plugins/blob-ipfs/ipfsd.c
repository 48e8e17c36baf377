/* A js-ipfs daemon for the tests: see ipfsd.h. */
#include "ipfsd.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <jansson.h>
#include <libsoup/soup.h>

#include <cairn/testing/testing.h>

struct Ipfsd {
  char *dir;  /* temp dir: repo/ and daemon.log */
  char *repo; /* IPFS_PATH */
  char *log;
  char *api_url;
  guint port;
  GSubprocess *proc;
};

static gboolean fail (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
  return FALSE;
}

/* The command and the shim the driver installed. */
static gboolean
driver_env (const char **jsipfs, const char **shim, GError **error)
{
  *jsipfs = g_getenv ("JSIPFS");
  *shim = g_getenv ("BLOB_IPFS_SHIM");
  if (*jsipfs == NULL || *shim == NULL)
    return fail (error,
                 "JSIPFS and BLOB_IPFS_SHIM are not set: run this test "
                 "through tests/plugins/blob-ipfs/run-jsipfs.sh (meson test "
                 "does), which installs js-ipfs with npm (Debian packages "
                 "nodejs and npm)");
  if (!g_file_test (*jsipfs, G_FILE_TEST_IS_EXECUTABLE))
    return fail (error, "JSIPFS=%s is not an executable", *jsipfs);
  return TRUE;
}

/* In the child, before exec: the daemon must not outlive the test, even a
 * crashed one. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *
launcher (Ipfsd *d, const char *shim)
{
  GSubprocessLauncher *l
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_autofree char *opts = g_strdup_printf ("--require=%s", shim);
  g_subprocess_launcher_setenv (l, "IPFS_PATH", d->repo, TRUE);
  g_subprocess_launcher_setenv (l, "NODE_OPTIONS", opts, TRUE);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stdout_file_path (l, d->log);
  g_subprocess_launcher_set_stderr_file_path (l, d->log);
  return l;
}

/* The last lines of the daemon's log, for messages. */
static char *
log_tail (Ipfsd *d)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (d->log, &text, &len, NULL))
    return g_strdup ("(no log)");
  return g_strdup (len > 2000 ? text + len - 2000 : text);
}

static guint
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo
      = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Bootstrap and Swarm empty (offline, nothing to dial), the API on our
 * port, no gateway, gRPC, delegates or discovery. */
static gboolean
configure (Ipfsd *d, GError **error)
{
  g_autofree char *path = g_build_filename (d->repo, "config", NULL);
  json_error_t jerr;
  json_t *c = json_load_file (path, 0, &jerr);
  if (c == NULL)
    return fail (error, "%s: %s", path, jerr.text);
  g_autofree char *api = g_strdup_printf ("/ip4/127.0.0.1/tcp/%u", d->port);
  json_t *addrs = json_object_get (c, "Addresses");
  json_object_set_new (c, "Bootstrap", json_array ());
  json_object_set_new (addrs, "Swarm", json_array ());
  json_object_set_new (addrs, "API", json_string (api));
  json_object_set_new (addrs, "Gateway", json_string (""));
  json_object_set_new (addrs, "RPC", json_string (""));
  json_object_set_new (addrs, "Delegates", json_array ());
  json_t *disc = json_object_get (c, "Discovery");
  json_object_set_new (json_object_get (disc, "MDNS"), "Enabled",
                       json_false ());
  json_object_set_new (json_object_get (disc, "webRTCStar"), "Enabled",
                       json_false ());
  int rc = json_dump_file (c, path, JSON_INDENT (2));
  json_decref (c);
  if (rc != 0)
    return fail (error, "cannot write %s", path);
  return TRUE;
}

GBytes *
ipfsd_call (const char *api_url, const char *cmd, const char *query,
            GError **error)
{
  g_autoptr (SoupSession) s
      = soup_session_new_with_options ("timeout", 30, NULL);
  soup_session_set_proxy_resolver (s, NULL);
  g_autofree char *url = g_strdup_printf ("%s/api/v0/%s%s%s", api_url, cmd,
                                          query ? "?" : "", query ? query : "");
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) body = soup_session_send_and_read (s, msg, NULL, error);
  if (body == NULL)
    return NULL;
  if (soup_message_get_status (msg) != 200) {
    fail (error, "%s: HTTP %u: %.*s", url, soup_message_get_status (msg),
          (int)g_bytes_get_size (body),
          (const char *)g_bytes_get_data (body, NULL));
    return NULL;
  }
  return g_steal_pointer (&body);
}

static gboolean
spawn_daemon (Ipfsd *d, GError **error)
{
  const char *jsipfs, *shim;
  if (!driver_env (&jsipfs, &shim, error))
    return FALSE;
  /* A SIGKILLed js-ipfs leaves its lock behind. */
  g_autofree char *lock = g_build_filename (d->repo, "repo.lock", NULL);
  cairn_test_rm_rf (lock);
  g_autoptr (GSubprocessLauncher) l = launcher (d, shim);
  d->proc = g_subprocess_launcher_spawn (l, error, jsipfs, "daemon",
                                         "--offline", NULL);
  if (d->proc == NULL)
    return FALSE;
  for (guint i = 0; i < 600; i++) {
    g_autoptr (GBytes) id = ipfsd_call (d->api_url, "id", NULL, NULL);
    if (id != NULL)
      return TRUE;
    if (g_subprocess_get_identifier (d->proc) == NULL) {
      g_autofree char *tail = log_tail (d);
      g_clear_object (&d->proc);
      return fail (error, "jsipfs daemon exited at start:\n%s", tail);
    }
    g_usleep (100 * 1000);
  }
  g_autofree char *tail = log_tail (d);
  ipfsd_kill (d);
  return fail (error, "jsipfs daemon: no API at %s after 60 s:\n%s", d->api_url,
               tail);
}

Ipfsd *
ipfsd_start (GError **error)
{
  const char *jsipfs, *shim;
  if (!driver_env (&jsipfs, &shim, error))
    return NULL;
  g_autoptr (Ipfsd) d = g_new0 (Ipfsd, 1);
  d->dir = cairn_test_make_tmpdir ();
  d->repo = g_build_filename (d->dir, "repo", NULL);
  d->log = g_build_filename (d->dir, "daemon.log", NULL);

  g_autoptr (GSubprocessLauncher) l = launcher (d, shim);
  g_autoptr (GSubprocess) init = g_subprocess_launcher_spawn (
      l, error, jsipfs, "init", "--empty-repo", NULL);
  if (init == NULL || !g_subprocess_wait_check (init, NULL, error)) {
    g_autofree char *tail = log_tail (d);
    g_prefix_error (error, "jsipfs init: %s: ", tail);
    return NULL;
  }
  /* A port can be taken between our look and the daemon's bind. */
  for (guint attempt = 0;; attempt++) {
    g_autoptr (GError) local = NULL;
    d->port = free_port ();
    g_free (d->api_url);
    d->api_url = g_strdup_printf ("http://127.0.0.1:%u", d->port);
    if (!configure (d, error))
      return NULL;
    if (spawn_daemon (d, &local))
      break;
    if (attempt == 2 || strstr (local->message, "EADDRINUSE") == NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  }
  return g_steal_pointer (&d);
}

gboolean
ipfsd_restart (Ipfsd *d, GError **error)
{
  g_assert_null (d->proc);
  return spawn_daemon (d, error);
}

void
ipfsd_kill (Ipfsd *d)
{
  if (d->proc == NULL)
    return;
  g_subprocess_force_exit (d->proc);
  g_subprocess_wait (d->proc, NULL, NULL);
  g_clear_object (&d->proc);
}

void
ipfsd_free (Ipfsd *d)
{
  if (d == NULL)
    return;
  if (d->proc != NULL) {
    g_subprocess_send_signal (d->proc, SIGTERM);
    for (guint i = 0; i < 100 && g_subprocess_get_identifier (d->proc) != NULL;
         i++)
      g_usleep (100 * 1000);
    ipfsd_kill (d);
  }
  if (d->dir != NULL)
    cairn_test_rm_rf (d->dir);
  g_free (d->dir);
  g_free (d->repo);
  g_free (d->log);
  g_free (d->api_url);
  g_free (d);
}

const char *
ipfsd_api_url (Ipfsd *d)
{
  return d->api_url;
}

GPid
ipfsd_pid (Ipfsd *d)
{
  const char *id
      = d->proc != NULL ? g_subprocess_get_identifier (d->proc) : NULL;
  return id != NULL ? (GPid)g_ascii_strtoll (id, NULL, 10) : 0;
}

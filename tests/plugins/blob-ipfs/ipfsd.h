/* A real IPFS daemon for the tests: js-ipfs (npm package `ipfs`, command
 * `jsipfs`) on loopback, offline, started and stopped by the test itself.
 *
 * The driver run-jsipfs.sh installs js-ipfs (npm) and sets JSIPFS (the
 * command) and BLOB_IPFS_SHIM (a script loaded with NODE_OPTIONS=--require
 * that adds Promise.withResolvers where Node lacks it). Each daemon gets
 * its own repository in a temp dir (`jsipfs init`, then Bootstrap,
 * Addresses.Swarm, Gateway and RPC emptied and the API on a free loopback
 * port) and runs `jsipfs daemon --offline`; it dies with the test process
 * (PR_SET_PDEATHSIG), so a crashed test leaves no daemon behind. */
#pragma once

#include <gio/gio.h>

typedef struct Ipfsd Ipfsd;

/* Starts a daemon on a new repository; NULL + error naming what is
 * missing (the driver's variables, node) or what failed (with the end of
 * the daemon's log). */
Ipfsd *ipfsd_start (GError **error);
/* Starts it again on the same repository and port (after ipfsd_kill). */
gboolean ipfsd_restart (Ipfsd *d, GError **error);
/* SIGKILL, and waits for it. */
void ipfsd_kill (Ipfsd *d);
/* Stops it (SIGTERM, then SIGKILL after 10 s) and removes the repository. */
void ipfsd_free (Ipfsd *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Ipfsd, ipfsd_free)

/* "http://127.0.0.1:<port>" */
const char *ipfsd_api_url (Ipfsd *d);
/* Its process id (0 when not running). */
GPid ipfsd_pid (Ipfsd *d);

/* POST <api_url>/api/v0/<cmd>?<query> and the answer's body; NULL + error
 * on a transport error or a status other than 200. */
GBytes *ipfsd_call (const char *api_url, const char *cmd, const char *query,
                    GError **error);

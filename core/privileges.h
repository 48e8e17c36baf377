/* [node] user: a node started as root runs as that user instead. */
#pragma once

#include <glib.h>

/* Switches the process to USER's uid, gid and supplementary groups when it
 * runs as root, and checks that root cannot be taken back. When it does
 * not run as root, succeeds only if it already runs as USER. An unknown
 * user, or any failing step, is a CAIRN_ERROR_CONFIG naming the user. */
gboolean cairn_drop_privileges (const char *user, GError **error);

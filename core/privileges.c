/* Dropping root (privileges.h). */
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cairn/error.h>

gboolean
cairn_drop_privileges (const char *user, GError **error)
{
  struct passwd pw, *found = NULL;
  char buf[4096];
  int e = getpwnam_r (user, &pw, buf, sizeof buf, &found);
  if (found == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[node] user: no user named '%s'%s%s", user, e ? ": " : "",
                 e ? g_strerror (e) : "");
    return FALSE;
  }
  uid_t uid = geteuid ();
  if (uid != 0) {
    if (uid == pw.pw_uid)
      return TRUE;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[node] user = %s: the node runs as uid %u, not as root, so "
                 "it cannot become %s (uid %u); start it as root or as %s",
                 user, (unsigned)uid, user, (unsigned)pw.pw_uid, user);
    return FALSE;
  }
  /* Groups first: after setuid there is no right left to change them. */
  if (initgroups (user, pw.pw_gid) != 0 || setgid (pw.pw_gid) != 0
      || setuid (pw.pw_uid) != 0) {
    e = errno;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[node] user = %s: cannot switch to uid %u gid %u: %s", user,
                 (unsigned)pw.pw_uid, (unsigned)pw.pw_gid, g_strerror (e));
    return FALSE;
  }
  if (pw.pw_uid != 0 && (setuid (0) == 0 || seteuid (0) == 0)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[node] user = %s: root could be taken back after the switch",
                 user);
    return FALSE;
  }
  g_message ("running as %s (uid %u, gid %u)", user, (unsigned)pw.pw_uid,
             (unsigned)pw.pw_gid);
  return TRUE;
}

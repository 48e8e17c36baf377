/* Small helpers shared by the plugin tests: see test_util.h. */
#include "test_util.h"

#include <errno.h>

#include <glib/gstdio.h>

char *
test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("cairn-plugin-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
test_rm_rf (const char *path)
{
  GStatBuf sb;
  if (g_lstat (path, &sb) != 0)
    return;
  if (S_ISDIR (sb.st_mode)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      test_rm_rf (child);
    }
    if (g_rmdir (path) != 0)
      g_error ("cannot remove %s: %s", path, g_strerror (errno));
  } else if (g_unlink (path) != 0) {
    g_error ("cannot remove %s: %s", path, g_strerror (errno));
  }
}

/* Small helpers for plugin tests: see <cairn/testing/util.h>. */
#include "cairn/testing/util.h"

#include <errno.h>

#include <glib/gstdio.h>

char *
cairn_test_make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("cairn-plugin-test-XXXXXX", &error);
  if (dir == NULL)
    g_error ("cannot make a temporary directory in %s: %s", g_get_tmp_dir (),
             error->message);
  return dir;
}

void
cairn_test_rm_rf (const char *path)
{
  GStatBuf sb;
  if (g_lstat (path, &sb) != 0)
    return;
  if (S_ISDIR (sb.st_mode)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      cairn_test_rm_rf (child);
    }
    if (g_rmdir (path) != 0)
      g_error ("cannot remove %s: %s", path, g_strerror (errno));
  } else if (g_unlink (path) != 0) {
    g_error ("cannot remove %s: %s", path, g_strerror (errno));
  }
}

static void
list_into (const char *dir, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)
        && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
      list_into (path, out);
      g_free (path);
    } else {
      g_ptr_array_add (out, path);
    }
  }
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
cairn_test_list_files (const char *dir)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  list_into (dir, out);
  g_ptr_array_sort (out, cmp_str);
  return out;
}

uint64_t
cairn_test_peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error))
    g_error ("cannot read the peak memory of this process: %s", error->message);
  const char *line = strstr (status, "\nVmHWM:");
  if (line == NULL)
    g_error ("/proc/self/status has no VmHWM line");
  return g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10);
}

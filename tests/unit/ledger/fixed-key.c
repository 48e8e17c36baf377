#include "fixed-key.h"

#include <glib/gstdio.h>

static const char fixed_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MC4CAQAwBQYDK2VwBCIEID7dlcMVG1kVTvo4G5IEcJD9"
                                "DdDrq2qCU6nFX/EePu07\n"
                                "-----END PRIVATE KEY-----\n";

CairnKey *
test_load_fixed_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("cairn-test-key-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "k.pem", NULL);
  g_file_set_contents (path, fixed_pem, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  CairnKey *k = cairn_key_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_rmdir (dir);
  return k;
}

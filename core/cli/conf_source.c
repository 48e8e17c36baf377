/* Where `cairn init` (and `cairn dist build`) take the node configuration
 * from: the conf/ tree compiled into the binary as a GResource, or, for a
 * relocatable distribution (see cmd_dist.c), the etc/cairn/ directory beside
 * the executable's bin/. Both hold the same relative names: cairn.conf,
 * conf.d/NN-<id>.conf, profiles/<name>.conf, alternatives/NN-<id>.conf. */
#include <errno.h>
#include <string.h>

#include "cairn-conf-resources.h"
#include "cli.h"

#define RESOURCE_ROOT "/org/cairn/conf"

struct CairnConfSource {
  char *dir;  /* etc/cairn of a distribution, or NULL: the GResource */
  char *root; /* the distribution's root (dir/../..), or NULL */
  char *genesis_template;
};

char *
cairn_cli_dist_root (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe == NULL)
    return NULL;
  g_autofree char *bin = g_path_get_dirname (exe);
  g_autofree char *rel = g_build_filename (bin, "..", NULL);
  g_autofree char *root = g_canonicalize_filename (rel, NULL);
  g_autofree char *conf
      = g_build_filename (root, "etc", "cairn", "cairn.conf", NULL);
  g_autofree char *plugins
      = g_build_filename (root, "lib", "cairn-1", "plugins", NULL);
  if (!g_file_test (conf, G_FILE_TEST_IS_REGULAR)
      || !g_file_test (plugins, G_FILE_TEST_IS_DIR))
    return NULL;
  return g_steal_pointer (&root);
}

CairnConfSource *
cairn_conf_source_default (void)
{
  CairnConfSource *src = g_new0 (CairnConfSource, 1);
  src->root = cairn_cli_dist_root ();
  if (src->root == NULL)
    return src;
  src->dir = g_build_filename (src->root, "etc", "cairn", NULL);
  char *tmpl = g_build_filename (src->root, "share", "cairn",
                                 CAIRN_DIST_GENESIS_TEMPLATE, NULL);
  if (g_file_test (tmpl, G_FILE_TEST_IS_REGULAR))
    src->genesis_template = tmpl;
  else
    g_free (tmpl);
  return src;
}

void
cairn_conf_source_free (CairnConfSource *src)
{
  if (src == NULL)
    return;
  g_free (src->dir);
  g_free (src->root);
  g_free (src->genesis_template);
  g_free (src);
}

const char *
cairn_conf_source_describe (const CairnConfSource *src)
{
  return src->dir ? src->dir : "the configuration built into cairn";
}

const char *
cairn_conf_source_genesis_template (const CairnConfSource *src)
{
  return src->genesis_template;
}

gboolean
cairn_conf_source_has (const CairnConfSource *src, const char *rel)
{
  if (src->dir) {
    g_autofree char *path = g_build_filename (src->dir, rel, NULL);
    return g_file_test (path, G_FILE_TEST_IS_REGULAR);
  }
  g_autofree char *full = g_strconcat (RESOURCE_ROOT "/", rel, NULL);
  return g_resources_get_info (full, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL, NULL,
                               NULL);
}

GBytes *
cairn_conf_source_read (const CairnConfSource *src, const char *rel,
                        GError **error)
{
  if (src->dir) {
    g_autofree char *path = g_build_filename (src->dir, rel, NULL);
    g_autofree char *text = NULL;
    gsize len;
    if (!g_file_get_contents (path, &text, &len, error))
      return NULL;
    return g_bytes_new_take (g_steal_pointer (&text), len);
  }
  g_autofree char *full = g_strconcat (RESOURCE_ROOT "/", rel, NULL);
  return g_resources_lookup_data (full, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

char **
cairn_conf_source_list (const CairnConfSource *src, const char *dir,
                        GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (src->dir) {
    g_autofree char *path = g_build_filename (src->dir, dir, NULL);
    g_autoptr (GError) local = NULL;
    g_autoptr (GDir) d = g_dir_open (path, 0, &local);
    if (d == NULL
        && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
    for (const char *n; d && (n = g_dir_read_name (d)) != NULL;) {
      g_autofree char *file = g_build_filename (path, n, NULL);
      if (g_str_has_suffix (n, ".conf")
          && g_file_test (file, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_strdup (n));
    }
  } else {
    g_autofree char *full = g_strconcat (RESOURCE_ROOT "/", dir, NULL);
    g_auto (GStrv) children = g_resources_enumerate_children (
        full, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    for (char **n = children; n && *n; n++)
      if (g_str_has_suffix (*n, ".conf"))
        g_ptr_array_add (names, g_strdup (*n));
  }
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

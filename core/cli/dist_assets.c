/* A plugin's web assets for share/cairn/<id>/web/: plugins compile them in
 * (glib-compile-resources, e.g. the explorer's /cairn/explorer/web/), and
 * with GCC the bundle sits in its own ELF section ".gresource.<c name>".
 * Only the file is read (no plugin code runs); the section's bytes are a
 * GResource bundle that GLib opens from memory. */
#include <elf.h>
#include <string.h>

#include "dist_private.h"

#define MAX_SO_BYTES (256u << 20)

/* The first ".gresource.*" section of an ELF64 file of this machine's byte
 * order; NULL when there is none (or the file is not such an ELF). */
static GBytes *
gresource_section (GBytes *file)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (file, &len);
  Elf64_Ehdr eh;
  if (len < sizeof eh)
    return NULL;
  memcpy (&eh, data, sizeof eh);
  if (memcmp (eh.e_ident, ELFMAG, SELFMAG) != 0
      || eh.e_ident[EI_CLASS] != ELFCLASS64
      || eh.e_ident[EI_DATA]
             != (G_BYTE_ORDER == G_LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB)
      || eh.e_shentsize != sizeof (Elf64_Shdr) || eh.e_shoff > len
      || eh.e_shnum > (len - eh.e_shoff) / sizeof (Elf64_Shdr)
      || eh.e_shstrndx >= eh.e_shnum)
    return NULL;
  Elf64_Shdr names;
  memcpy (&names, data + eh.e_shoff + eh.e_shstrndx * sizeof names,
          sizeof names);
  if (names.sh_offset > len || names.sh_size > len - names.sh_offset)
    return NULL;
  for (guint i = 0; i < eh.e_shnum; i++) {
    Elf64_Shdr sh;
    memcpy (&sh, data + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_name >= names.sh_size || sh.sh_type != SHT_PROGBITS
        || sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
      continue;
    const char *name = (const char *)data + names.sh_offset + sh.sh_name;
    size_t max = names.sh_size - sh.sh_name;
    if (strnlen (name, max) < max && g_str_has_prefix (name, ".gresource."))
      return g_bytes_new_from_bytes (file, sh.sh_offset, sh.sh_size);
  }
  return NULL;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* Every file under res_dir (ends in '/') written below dest. */
static gboolean
extract_dir (GResource *res, const char *res_dir, const char *dest,
             guint *n_files, GError **error)
{
  g_auto (GStrv) children = g_resource_enumerate_children (
      res, res_dir, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (children == NULL)
    return FALSE;
  qsort (children, g_strv_length (children), sizeof (char *), compare_names);
  if (!cairn_dist_mkdir (dest, error))
    return FALSE;
  for (char **c = children; *c; c++) {
    if (strstr (*c, "..") != NULL || (*c)[0] == '/') {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "web asset with a bad name '%s%s'", res_dir, *c);
      return FALSE;
    }
    g_autofree char *path = g_strconcat (res_dir, *c, NULL);
    if (g_str_has_suffix (*c, "/")) {
      g_autofree char *sub = g_strndup (*c, strlen (*c) - 1);
      g_autofree char *sub_dest = g_build_filename (dest, sub, NULL);
      if (!extract_dir (res, path, sub_dest, n_files, error))
        return FALSE;
      continue;
    }
    g_autoptr (GBytes) bytes = g_resource_lookup_data (
        res, path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
    if (bytes == NULL)
      return FALSE;
    g_autofree char *file = g_build_filename (dest, *c, NULL);
    gsize len;
    const void *data = g_bytes_get_data (bytes, &len);
    if (!cairn_dist_write_file (file, data, len, 0644, error))
      return FALSE;
    (*n_files)++;
  }
  return TRUE;
}

gboolean
cairn_dist_extract_web (const char *so, const char *id, const char *dest_dir,
                        guint *n_files, GError **error)
{
  *n_files = 0;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (so, FALSE, error);
  if (mapped == NULL)
    return FALSE;
  if (g_mapped_file_get_length (mapped) > MAX_SO_BYTES)
    return TRUE;
  g_autoptr (GBytes) file = g_mapped_file_get_bytes (mapped);
  g_autoptr (GBytes) section = gresource_section (file);
  if (section == NULL)
    return TRUE;
  /* A copy: GLib wants the bundle aligned, the section may not be. */
  g_autoptr (GBytes) copy = g_bytes_new (g_bytes_get_data (section, NULL),
                                         g_bytes_get_size (section));
  g_autoptr (GError) local = NULL;
  g_autoptr (GResource) res = g_resource_new_from_data (copy, &local);
  if (res == NULL)
    return TRUE; /* not a bundle after all */
  g_autofree char *web = g_strdup_printf ("/cairn/%s/web/", id);
  g_auto (GStrv) probe = g_resource_enumerate_children (
      res, web, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (probe == NULL)
    return TRUE; /* a bundle, but no web/ of this plugin's */
  g_autofree char *dest = g_build_filename (dest_dir, "web", NULL);
  if (!extract_dir (res, web, dest, n_files, error)) {
    g_prefix_error (error, "%s: web assets: ", so);
    return FALSE;
  }
  return TRUE;
}

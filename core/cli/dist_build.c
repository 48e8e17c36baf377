/* cairn dist build: stage the distribution's tree (dist_private.h), check
 * that a home made from it loads exactly its plugins with signatures
 * required, write MANIFEST.json and its signature, and pack the tree as a
 * reproducible <name>-<version>.tar.gz (libarchive): ustar entries sorted
 * by path, every mtime the epoch, owner 0/0 root, modes 0755/0644, gzip
 * without a timestamp or name. The tree is staged in a hidden directory of
 * the output directory, removed at the end. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>

#include <cairn/abi.h>
#include <cairn/error.h>
#include <cairn/util.h>

#include "config.h"
#include "dist_private.h"
#include "plugin_host.h"
#include "plugin_sig.h"

#define COPY_BUF (64 * 1024)

static gboolean
errno_error (GError **error, int err, const char *what, const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err),
               "cannot %s %s: %s", what, path, g_strerror (err));
  return FALSE;
}

gboolean
cairn_dist_mkdir (const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  g_autofree char *parent = g_path_get_dirname (path);
  if (!g_str_equal (parent, path) && !cairn_dist_mkdir (parent, error))
    return FALSE;
  if (g_mkdir (path, 0755) != 0 && errno != EEXIST)
    return errno_error (error, errno, "create", path);
  if (g_chmod (path, 0755) != 0)
    return errno_error (error, errno, "chmod", path);
  return TRUE;
}

gboolean
cairn_dist_write_file (const char *path, const void *data, gsize len, int mode,
                       GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  if (!cairn_dist_mkdir (dir, error)
      || !g_file_set_contents_full (
          path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, mode, error))
    return FALSE;
  if (g_chmod (path, mode) != 0)
    return errno_error (error, errno, "chmod", path);
  return TRUE;
}

/* Stream src to dest (created with exactly mode). */
static gboolean
copy_file (const char *src, const char *dest, int mode, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (dest);
  if (!cairn_dist_mkdir (dir, error))
    return FALSE;
  int in = open (src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return errno_error (error, errno, "read", src);
  int out = open (dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    close (in);
    return errno_error (error, err, "create", dest);
  }
  g_autofree char *buf = g_malloc (COPY_BUF);
  gboolean ok = TRUE;
  for (;;) {
    ssize_t n = read (in, buf, COPY_BUF);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      ok = errno_error (error, errno, "read", src);
      break;
    }
    for (ssize_t off = 0; off < n && ok;) {
      ssize_t w = write (out, buf + off, n - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        ok = errno_error (error, errno, "write", dest);
      else
        off += w;
    }
    if (!ok)
      break;
  }
  if (ok && fchmod (out, mode) != 0)
    ok = errno_error (error, errno, "chmod", dest);
  if (close (out) != 0 && ok)
    ok = errno_error (error, errno, "write", dest);
  close (in);
  return ok;
}

gboolean
cairn_dist_hash_file (const char *path, uint8_t sha[32], guint64 *size,
                      GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno_error (error, errno, "read", path);
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (COPY_BUF);
  guint64 total = 0;
  for (;;) {
    ssize_t n = read (fd, buf, COPY_BUF);
    if (n == 0)
      break;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      close (fd);
      return errno_error (error, err, "read", path);
    }
    g_checksum_update (ck, buf, n);
    total += n;
  }
  close (fd);
  gsize len = 32;
  g_checksum_get_digest (ck, sha, &len);
  *size = total;
  return TRUE;
}

/* ---- staging ---- */

static gboolean
write_conf_res (const CairnConfSource *src, const char *res, const char *dest,
                GError **error)
{
  g_autoptr (GBytes) data = cairn_conf_source_read (src, res, error);
  if (data == NULL)
    return FALSE;
  gsize len;
  const void *p = g_bytes_get_data (data, &len);
  return cairn_dist_write_file (dest, p, len, 0644, error);
}

static gboolean
write_json (const char *path, const json_t *doc, GError **error)
{
  g_autofree char *text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);
  g_autofree char *with_nl = g_strconcat (text, "\n", NULL);
  return cairn_dist_write_file (path, with_nl, strlen (with_nl), 0644, error);
}

/* Every trusted key as hex: the signer's first, then the spec's. */
static GPtrArray *
trusted_hex (const CairnDistSpec *spec, const CairnKey *key)
{
  GPtrArray *hex = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (hex, cairn_hex_encode (cairn_key_pubkey (key), 32));
  for (guint i = 0; i < spec->trusted_keys->len; i++) {
    const uint8_t *pk = &g_array_index (spec->trusted_keys, uint8_t, i * 32);
    if (memcmp (pk, cairn_key_pubkey (key), 32) != 0)
      g_ptr_array_add (hex, cairn_hex_encode (pk, 32));
  }
  return hex;
}

static gboolean
stage_plugins (const CairnDistSpec *spec, const CairnKey *key, const char *tree,
               GError **error)
{
  g_autofree char *dir = g_build_filename (tree, CAIRN_DIST_PLUGIN_DIR, NULL);
  for (guint i = 0; i < spec->plugins->len; i++) {
    const CairnDistPlugin *p = spec->plugins->pdata[i];
    g_autofree char *so = g_strconcat (p->id, ".so", NULL);
    g_autofree char *dest = g_build_filename (dir, so, NULL);
    if (!copy_file (p->file, dest, 0644, error))
      return FALSE;
    /* Sign the copy (its descriptor read the way the node reads it). */
    CairnPluginDescriptor d;
    void *dl = NULL;
    if (!cairn_plugin_inspect_file (dest, &d, &dl, error)) {
      if (dl)
        dlclose (dl);
      return FALSE;
    }
    g_autofree char *sig = NULL;
    gboolean ok = cairn_plugin_sig_write (dest, &d, key, &sig, error);
    dlclose (dl);
    if (!ok || g_chmod (sig, 0644) != 0)
      return ok ? errno_error (error, errno, "chmod", sig) : FALSE;
  }
  return TRUE;
}

static gboolean
stage_conf (const CairnDistSpec *spec, const CairnConfSource *src,
            const CairnKey *key, const char *tree, GError **error)
{
  g_autofree char *etc = g_build_filename (tree, "etc", "cairn", NULL);
  g_autofree char *main_conf = g_build_filename (etc, "cairn.conf", NULL);
  if (!write_conf_res (src, "cairn.conf", main_conf, error))
    return FALSE;
  for (guint i = 0; i < spec->plugins->len; i++) {
    const CairnDistPlugin *p = spec->plugins->pdata[i];
    g_autofree char *dest
        = g_build_filename (etc, p->conf_dir, p->conf_name, NULL);
    if (p->conf_file ? !copy_file (p->conf_file, dest, 0644, error)
                     : !write_conf_res (src, p->conf_res, dest, error))
      return FALSE;
  }
  for (guint i = 0; i < spec->snippets->len; i++) {
    const CairnDistSnippet *s = spec->snippets->pdata[i];
    g_autofree char *dest = g_build_filename (etc, "conf.d", s->name, NULL);
    if (!copy_file (s->file, dest, 0644, error))
      return FALSE;
  }
  g_auto (GStrv) profiles = cairn_conf_source_list (src, "profiles", error);
  if (profiles == NULL)
    return FALSE;
  for (char **n = profiles; *n; n++) {
    g_autofree char *res = g_strconcat ("profiles/", *n, NULL);
    g_autofree char *dest = g_build_filename (etc, "profiles", *n, NULL);
    if (!write_conf_res (src, res, dest, error))
      return FALSE;
  }
  g_autoptr (GPtrArray) keys = trusted_hex (spec, key);
  g_autoptr (GString) conf = g_string_new (NULL);
  g_string_append_printf (
      conf,
      "# Written by `cairn dist build` for %s %s: this distribution loads\n"
      "# only its own plugins (lib/cairn-1/plugins), each signed by one of\n"
      "# these vendor keys (Ed25519 public keys, hex).\n"
      "[plugins]\n"
      "require_signed_plugins = true\n"
      "trusted_keys = ",
      spec->name, spec->version);
  for (guint i = 0; i < keys->len; i++)
    g_string_append_printf (conf, "%s%s", i ? ";" : "", (char *)keys->pdata[i]);
  g_string_append_c (conf, '\n');
  g_autofree char *dist_conf = g_build_filename (tree, CAIRN_DIST_CONF, NULL);
  return cairn_dist_write_file (dist_conf, conf->str, conf->len, 0644, error);
}

static gboolean
stage_share (const CairnDistSpec *spec, const char *tree, guint *n_assets,
             GError **error)
{
  g_autofree char *share = g_build_filename (tree, "share", "cairn", NULL);
  g_autoptr (json_t) branding
      = json_pack ("{s:O,s:s,s:s}", "branding", spec->branding, "name",
                   spec->name, "version", spec->version);
  g_autofree char *bpath = g_build_filename (share, CAIRN_DIST_BRANDING, NULL);
  if (!write_json (bpath, branding, error))
    return FALSE;
  if (spec->genesis_template) {
    g_autofree char *gpath
        = g_build_filename (share, CAIRN_DIST_GENESIS_TEMPLATE, NULL);
    if (!write_json (gpath, spec->genesis_template, error))
      return FALSE;
  }
  *n_assets = 0;
  for (guint i = 0; i < spec->plugins->len; i++) {
    const CairnDistPlugin *p = spec->plugins->pdata[i];
    g_autofree char *dest = g_build_filename (share, p->id, NULL);
    guint n = 0;
    if (!cairn_dist_extract_web (p->file, p->id, dest, &n, error))
      return FALSE;
    *n_assets += n;
    if (n == 0 && g_str_equal (p->id, "explorer"))
      g_printerr ("cairn: warning: %s has no web assets to copy into "
                  "share/cairn/explorer/ (no .gresource.* ELF section with "
                  "/cairn/explorer/web/)\n",
                  p->file);
  }
  return TRUE;
}

/* A home made from this tree loads exactly the included plugins that its
 * conf.d enables, each signed by a trusted key, and they resolve. */
static gboolean
check_loads (const CairnDistSpec *spec, const char *tree, GError **error)
{
  g_autofree char *etc = g_build_filename (tree, "etc", "cairn", NULL);
  g_autoptr (CairnConfig) cfg = cairn_config_load (etc, error);
  if (cfg == NULL)
    return FALSE;
  CairnPluginTrust *trust = cairn_plugin_trust_from_config (cfg, error);
  if (trust == NULL)
    return FALSE;
  g_auto (GStrv) load = NULL;
  if (!cairn_config_strv (cfg, "plugins", "load", &load, error)) {
    cairn_plugin_trust_free (trust);
    return FALSE;
  }
  for (char **id = load; *id; id++) {
    gboolean found = FALSE;
    for (guint i = 0; i < spec->plugins->len && !found; i++)
      found
          = g_str_equal (((CairnDistPlugin *)spec->plugins->pdata[i])->id, *id);
    if (!found) {
      cairn_plugin_trust_free (trust);
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: a snippet of etc/cairn/conf.d loads plugin '%s', "
                   "which the distribution does not include; add it to "
                   "\"plugins\"",
                   spec->path, *id);
      return FALSE;
    }
  }
  g_autoptr (CairnPluginHost) ph = cairn_plugin_host_new ();
  g_autofree char *dir = g_build_filename (tree, CAIRN_DIST_PLUGIN_DIR, NULL);
  const char *path[] = { dir, NULL };
  cairn_plugin_host_set_path (ph, path);
  cairn_plugin_host_set_trust (ph, trust);
  if (!cairn_plugin_host_load (ph, (const char *const *)load, error)
      || !cairn_plugin_host_resolve (ph, error)) {
    g_prefix_error (error,
                    "%s: the distribution's plugins do not load "
                    "together: ",
                    spec->path);
    return FALSE;
  }
  return TRUE;
}

/* ---- the tree as a sorted list ---- */

typedef struct {
  char *rel;
  gboolean dir;
  guint mode;
  guint64 size;
} TreeEntry;

static void
tree_entry_free (gpointer p)
{
  TreeEntry *e = p;
  g_free (e->rel);
  g_free (e);
}

static gboolean
walk (const char *root, const char *rel, GPtrArray *out, GError **error)
{
  g_autofree char *path
      = rel ? g_build_filename (root, rel, NULL) : g_strdup (root);
  g_autoptr (GDir) dir = g_dir_open (path, 0, error);
  if (dir == NULL)
    return FALSE;
  for (const char *n; (n = g_dir_read_name (dir)) != NULL;) {
    g_autofree char *sub = rel ? g_build_filename (rel, n, NULL) : g_strdup (n);
    g_autofree char *full = g_build_filename (root, sub, NULL);
    GStatBuf st;
    if (g_lstat (full, &st) != 0)
      return errno_error (error, errno, "stat", full);
    if (!S_ISDIR (st.st_mode) && !S_ISREG (st.st_mode)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: not a file or a directory", full);
      return FALSE;
    }
    TreeEntry *e = g_new0 (TreeEntry, 1);
    e->rel = g_strdup (sub);
    e->dir = S_ISDIR (st.st_mode);
    e->mode = st.st_mode & 07777;
    e->size = e->dir ? 0 : (guint64)st.st_size;
    g_ptr_array_add (out, e);
    if (e->dir && !walk (root, sub, out, error))
      return FALSE;
  }
  return TRUE;
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const TreeEntry *x = *(TreeEntry *const *)a, *y = *(TreeEntry *const *)b;
  return strcmp (x->rel, y->rel);
}

static GPtrArray *
list_tree (const char *tree, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (tree_entry_free);
  if (!walk (tree, NULL, out, error))
    return NULL;
  g_ptr_array_sort (out, compare_entries);
  return g_steal_pointer (&out);
}

/* ---- MANIFEST.json ---- */

static gboolean
write_manifest (const CairnDistSpec *spec, const CairnKey *key,
                const char *tree, guint *n_files, GError **error)
{
  g_autoptr (GPtrArray) entries = list_tree (tree, error);
  if (entries == NULL)
    return FALSE;
  json_t *files = json_array ();
  g_autofree char *abi
      = g_strdup_printf ("%d.%d", CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
  g_autoptr (json_t) doc = json_pack (
      "{s:s,s:s,s:s,s:O,s:o,s:{s:s,s:s}}", "format", CAIRN_DIST_FORMAT, "name",
      spec->name, "version", spec->version, "branding", spec->branding, "files",
      files, "cairn", "version", CAIRN_VERSION, "abi", abi);
  *n_files = 0;
  for (guint i = 0; i < entries->len; i++) {
    const TreeEntry *e = entries->pdata[i];
    if (e->dir)
      continue;
    uint8_t sha[32];
    guint64 size;
    g_autofree char *full = g_build_filename (tree, e->rel, NULL);
    if (!cairn_dist_hash_file (full, sha, &size, error))
      return FALSE;
    g_autofree char *hex = cairn_hex_encode (sha, 32);
    g_autofree char *mode = g_strdup_printf ("%04o", e->mode);
    json_array_append_new (files, json_pack ("{s:s,s:s,s:s,s:I}", "path",
                                             e->rel, "mode", mode, "sha256",
                                             hex, "size", (json_int_t)size));
    (*n_files)++;
  }
  json_t *plugins = json_array ();
  for (guint i = 0; i < spec->plugins->len; i++)
    json_array_append_new (
        plugins,
        json_string (((CairnDistPlugin *)spec->plugins->pdata[i])->id));
  json_object_set_new (doc, "plugins", plugins);
  g_autoptr (GPtrArray) keys = trusted_hex (spec, key);
  json_t *trusted = json_array ();
  for (guint i = 0; i < keys->len; i++)
    json_array_append_new (trusted, json_string (keys->pdata[i]));
  json_object_set_new (doc, "trusted_keys", trusted);

  size_t len;
  g_autofree char *canon = cairn_cjson_dump (doc, &len, error);
  if (canon == NULL)
    return FALSE;
  g_autofree char *with_nl = g_strconcat (canon, "\n", NULL);
  g_autofree char *sig = cairn_dist_manifest_sign (canon, len, key);
  g_autofree char *mpath = g_build_filename (tree, CAIRN_DIST_MANIFEST, NULL);
  g_autofree char *spath
      = g_build_filename (tree, CAIRN_DIST_MANIFEST_SIG, NULL);
  return cairn_dist_write_file (mpath, with_nl, len + 1, 0644, error)
         && cairn_dist_write_file (spath, sig, strlen (sig), 0644, error);
}

/* ---- the tarball ---- */

static gboolean
archive_fail (struct archive *a, const char *what, GError **error)
{
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "%s: %s", what,
               archive_error_string (a) ? archive_error_string (a)
                                        : "libarchive error");
  return FALSE;
}

static gboolean
add_entry (struct archive *a, const char *top, const char *tree,
           const TreeEntry *e, gint64 epoch, GError **error)
{
  g_autofree char *name
      = e ? g_strconcat (top, "/", e->rel, NULL) : g_strconcat (top, "/", NULL);
  gboolean dir = e == NULL || e->dir;
  g_autoptr (GString) path = g_string_new (name);
  if (dir && !g_str_has_suffix (path->str, "/"))
    g_string_append_c (path, '/');
  struct archive_entry *entry = archive_entry_new ();
  archive_entry_set_pathname (entry, path->str);
  archive_entry_set_filetype (entry, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm (entry, dir ? 0755 : e->mode);
  archive_entry_set_size (entry, dir ? 0 : (la_int64_t)e->size);
  archive_entry_set_mtime (entry, (time_t)epoch, 0);
  archive_entry_set_uid (entry, 0);
  archive_entry_set_gid (entry, 0);
  archive_entry_set_uname (entry, "root");
  archive_entry_set_gname (entry, "root");
  int r = archive_write_header (a, entry);
  archive_entry_free (entry);
  if (r != ARCHIVE_OK)
    return archive_fail (a, path->str, error);
  if (dir)
    return TRUE;
  g_autofree char *full = g_build_filename (tree, e->rel, NULL);
  int fd = open (full, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno_error (error, errno, "read", full);
  g_autofree char *buf = g_malloc (COPY_BUF);
  guint64 total = 0;
  gboolean ok = TRUE;
  for (;;) {
    ssize_t n = read (fd, buf, COPY_BUF);
    if (n == 0)
      break;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ok = errno_error (error, errno, "read", full);
      break;
    }
    if (archive_write_data (a, buf, n) != n) {
      ok = archive_fail (a, path->str, error);
      break;
    }
    total += n;
  }
  close (fd);
  if (ok && total != e->size) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s changed while it was packed", full);
    ok = FALSE;
  }
  return ok;
}

static gboolean
write_tarball (const CairnDistSpec *spec, const char *tree, const char *dest,
               gint64 epoch, GError **error)
{
  g_autoptr (GPtrArray) entries = list_tree (tree, error);
  if (entries == NULL)
    return FALSE;
  g_autofree char *top = g_strdup_printf ("%s-%s", spec->name, spec->version);
  struct archive *a = archive_write_new ();
  gboolean ok
      = archive_write_add_filter_gzip (a) == ARCHIVE_OK
        /* No time in the gzip header (and libarchive writes no name). */
        && archive_write_set_filter_option (a, "gzip", "timestamp", NULL)
               == ARCHIVE_OK
        && archive_write_set_format_ustar (a) == ARCHIVE_OK
        && archive_write_open_filename (a, dest) == ARCHIVE_OK;
  if (!ok)
    archive_fail (a, dest, error);
  ok = ok && add_entry (a, top, tree, NULL, epoch, error);
  for (guint i = 0; ok && i < entries->len; i++)
    ok = add_entry (a, top, tree, entries->pdata[i], epoch, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = archive_fail (a, dest, error);
  archive_write_free (a);
  return ok;
}

/* ---- the whole build ---- */

static gboolean
file_summary (const char *path, json_t *result, const char *key, GError **error)
{
  uint8_t sha[32];
  guint64 size;
  if (!cairn_dist_hash_file (path, sha, &size, error))
    return FALSE;
  g_autofree char *hex = cairn_hex_encode (sha, 32);
  g_autofree char *k_size = g_strconcat (key, "_size", NULL);
  g_autofree char *k_sha = g_strconcat (key, "_sha256", NULL);
  json_object_set_new (result, key, json_string (path));
  json_object_set_new (result, k_size, json_integer ((json_int_t)size));
  json_object_set_new (result, k_sha, json_string (hex));
  return TRUE;
}

static gboolean
build_in (const CairnDistSpec *spec, const CairnConfSource *src,
          const CairnKey *key, const char *out_dir, const char *staging,
          gboolean deb, gint64 epoch, json_t *result, GError **error)
{
  g_autofree char *tree = g_build_filename (staging, "tree", NULL);
  g_autofree char *bin = g_build_filename (tree, "bin", "cairn", NULL);
  guint n_assets = 0, n_files = 0;
  if (!copy_file ("/proc/self/exe", bin, 0755, error)
      || !stage_plugins (spec, key, tree, error)
      || !stage_conf (spec, src, key, tree, error)
      || !stage_share (spec, tree, &n_assets, error)
      || !check_loads (spec, tree, error)
      || !write_manifest (spec, key, tree, &n_files, error))
    return FALSE;

  g_autofree char *base
      = g_strdup_printf ("%s-%s.tar.gz", spec->name, spec->version);
  g_autofree char *dest = g_build_filename (out_dir, base, NULL);
  g_autofree char *tmp = g_build_filename (staging, base, NULL);
  if (!write_tarball (spec, tree, tmp, epoch, error))
    return FALSE;
  if (g_chmod (tmp, 0644) != 0 || g_rename (tmp, dest) != 0)
    return errno_error (error, errno, "write", dest);
  if (!file_summary (dest, result, "tarball", error))
    return FALSE;
  json_object_set_new (result, "files", json_integer (n_files));
  json_object_set_new (result, "web_assets", json_integer (n_assets));
  json_object_set_new (result, "source_date_epoch", json_integer (epoch));

  if (deb) {
    g_autofree char *deb_path = NULL;
    if (!cairn_dist_deb_build (spec, tree, staging, out_dir, epoch, &deb_path,
                               error)
        || !file_summary (deb_path, result, "deb", error))
      return FALSE;
  }
  return TRUE;
}

gboolean
cairn_dist_build (const CairnDistSpec *spec, const CairnConfSource *src,
                  const CairnKey *key, const char *out_dir, gboolean deb,
                  json_t **result, GError **error)
{
  gint64 epoch;
  if (!cairn_dist_epoch (spec, &epoch, error)
      || !cairn_dist_mkdir (out_dir, error))
    return FALSE;
  g_autofree char *tmpl
      = g_build_filename (out_dir, ".cairn-dist-XXXXXX", NULL);
  if (g_mkdtemp_full (tmpl, 0755) == NULL)
    return errno_error (error, errno, "create", tmpl);
  g_autoptr (json_t) out
      = json_pack ("{s:s,s:s}", "name", spec->name, "version", spec->version);
  json_t *ids = json_array ();
  for (guint i = 0; i < spec->plugins->len; i++)
    json_array_append_new (
        ids, json_string (((CairnDistPlugin *)spec->plugins->pdata[i])->id));
  json_object_set_new (out, "plugins", ids);
  gboolean ok
      = build_in (spec, src, key, out_dir, tmpl, deb, epoch, out, error);
  g_autoptr (GError) cleanup = NULL;
  if (!cairn_cli_remove_tree (tmpl, &cleanup))
    g_printerr ("cairn: warning: %s\n", cleanup->message);
  if (ok)
    *result = g_steal_pointer (&out);
  return ok;
}

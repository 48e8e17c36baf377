/* cairn dist verify TARBALL [--key VENDOR.pub] [--json]: read a
 * distribution's tarball once, streamed (libarchive), and check
 *   - one top directory <name>-<version>/ holding only files and
 *     directories (no links, devices, absolute or ".." paths, duplicates);
 *   - MANIFEST.json: canonical, format cairn-dist/1, its name and version
 *     those of the top directory;
 *   - MANIFEST.json.sig: a good Ed25519 signature over it, by --key when
 *     given (else the signer's key is reported);
 *   - every file's size, mode and SHA-256 against the manifest, none
 *     missing, none extra;
 *   - etc/cairn/conf.d/05-dist.conf requires signed plugins and trusts
 *     exactly the manifest's trusted_keys, the signer among them;
 *   - every lib/cairn-1/plugins/<id>.so has a .sig that the node would
 *     accept under those keys (plugin_sig.c's own check, on a copy in a
 *     temporary directory) for plugin <id>, and the manifest lists it.
 * Every problem is reported with the file it concerns; exit 0 only when
 * there is none. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>

#include <cairn/util.h>

#include "dist_private.h"
#include "plugin_sig.h"

#define BUF_SIZE (64 * 1024)
/* Files verify reads itself (manifest, signatures, 05-dist.conf). */
#define MAX_KEPT (1u << 20)

typedef struct {
  gboolean dir;
  guint64 size;
  uint8_t sha[32];
  guint mode;
  GByteArray *data; /* kept for the files read below, else NULL */
  char *copy;       /* plugins and signatures: the copy in tmp */
} Found;

static void
found_free (gpointer p)
{
  Found *f = p;
  if (f->data)
    g_byte_array_unref (f->data);
  g_free (f->copy);
  g_free (f);
}

typedef struct {
  const char *tarball;
  char *tmp;             /* directory for plugin copies */
  char *top;             /* "<name>-<version>" as found */
  GHashTable *found;     /* rel path -> Found*; directories too */
  json_t *problems;      /* [{"file","error"}] */
  json_t *plugins;       /* [{"id","status","error"}] */
  char *name, *version;  /* the manifest's */
  char *signer;          /* hex, from MANIFEST.json.sig */
  const char *signature; /* missing, valid, bad, wrong key */
  guint n_files;
  gboolean has_manifest;
} Verify;

static void add_problem (Verify *v, const char *file, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
add_problem (Verify *v, const char *file, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  json_array_append_new (v->problems,
                         json_pack ("{s:s,s:s}", "file", file, "error", msg));
}

static gboolean
is_hex (const char *s, size_t len)
{
  return s != NULL && strlen (s) == len
         && strspn (s, "0123456789abcdef") == len;
}

/* A safe relative path: no empty, "." or ".." component. */
static gboolean
path_safe (const char *p)
{
  if (*p == '\0' || *p == '/')
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (p, "/", -1);
  for (char **c = parts; *c; c++)
    if (**c == '\0' || g_str_equal (*c, ".") || g_str_equal (*c, ".."))
      return FALSE;
  return TRUE;
}

static gboolean
keep_data (const char *rel)
{
  return g_str_equal (rel, CAIRN_DIST_MANIFEST)
         || g_str_equal (rel, CAIRN_DIST_MANIFEST_SIG)
         || g_str_equal (rel, CAIRN_DIST_CONF);
}

/* lib/cairn-1/plugins/<file> → <file>, else NULL. */
static const char *
plugin_file (const char *rel)
{
  const char *prefix = CAIRN_DIST_PLUGIN_DIR "/";
  if (!g_str_has_prefix (rel, prefix) || strchr (rel + strlen (prefix), '/'))
    return NULL;
  return rel + strlen (prefix);
}

static const char *
entry_type (mode_t type)
{
  switch (type) {
  case AE_IFLNK:
    return "a symbolic link";
  case AE_IFCHR:
  case AE_IFBLK:
    return "a device";
  case AE_IFIFO:
    return "a FIFO";
  case AE_IFSOCK:
    return "a socket";
  default:
    return "not a regular file";
  }
}

/* One regular file's bytes: hashed, and kept or copied when needed. */
static gboolean
read_file (Verify *v, struct archive *a, const char *rel, Found *f,
           GError **error)
{
  const char *plugin = plugin_file (rel);
  int fd = -1;
  if (plugin
      && (g_str_has_suffix (plugin, ".so")
          || g_str_has_suffix (plugin, ".so.sig"))) {
    f->copy = g_build_filename (v->tmp, plugin, NULL);
    fd = g_open (f->copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot write %s: %s", f->copy, g_strerror (errno));
      return FALSE;
    }
  }
  if (keep_data (rel))
    f->data = g_byte_array_new ();
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (BUF_SIZE);
  gboolean ok = TRUE;
  for (;;) {
    la_ssize_t n = archive_read_data (a, buf, BUF_SIZE);
    if (n == 0)
      break;
    if (n < 0) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: cannot read its bytes: %s", rel,
                   archive_error_string (a));
      ok = FALSE;
      break;
    }
    g_checksum_update (ck, buf, n);
    f->size += n;
    if (f->data && f->data->len + n <= MAX_KEPT)
      g_byte_array_append (f->data, buf, n);
    else if (f->data) {
      g_byte_array_unref (f->data);
      f->data = NULL;
      add_problem (v, rel, "larger than %u bytes", MAX_KEPT);
    }
    for (la_ssize_t off = 0; fd >= 0 && off < n;) {
      ssize_t w = write (fd, buf + off, n - off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                     "cannot write %s: %s", f->copy, g_strerror (errno));
        ok = FALSE;
        break;
      }
      off += w;
    }
    if (!ok)
      break;
  }
  if (fd >= 0)
    close (fd);
  gsize len = 32;
  g_checksum_get_digest (ck, f->sha, &len);
  return ok;
}

/* Read every entry; FALSE when the tarball itself cannot be read. */
static gboolean
read_tarball (Verify *v, GError **error)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_tar (a);
  if (archive_read_open_filename (a, v->tarball, BUF_SIZE) != ARCHIVE_OK) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s: not a readable tarball: %s", v->tarball,
                 archive_error_string (a));
    archive_read_free (a);
    return FALSE;
  }
  gboolean ok = TRUE;
  struct archive_entry *e;
  for (;;) {
    int r = archive_read_next_header (a, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "%s: damaged tarball: %s", v->tarball,
                   archive_error_string (a));
      ok = FALSE;
      break;
    }
    const char *name = archive_entry_pathname (e);
    g_autofree char *path = g_strdup (name ? name : "");
    mode_t type = archive_entry_filetype (e);
    while (g_str_has_suffix (path, "/"))
      path[strlen (path) - 1] = '\0';
    if (!path_safe (path)) {
      add_problem (v, name ? name : "",
                   "an unsafe path (absolute, empty, "
                   "'.' or '..')");
      continue;
    }
    char *slash = strchr (path, '/');
    g_autofree char *top
        = slash ? g_strndup (path, slash - path) : g_strdup (path);
    if (v->top == NULL)
      v->top = g_strdup (top);
    if (!g_str_equal (top, v->top)) {
      add_problem (v, path, "outside the top directory %s/", v->top);
      continue;
    }
    if (slash == NULL) {
      if (type != AE_IFDIR)
        add_problem (v, path, "the top of a distribution is a directory");
      continue;
    }
    const char *rel = slash + 1;
    if (g_hash_table_contains (v->found, rel)) {
      add_problem (v, rel, "twice in the tarball");
      continue;
    }
    if (archive_entry_hardlink (e) != NULL) {
      add_problem (v, rel,
                   "a hard link (a distribution holds only files and "
                   "directories)");
      continue;
    }
    Found *f = g_new0 (Found, 1);
    g_hash_table_insert (v->found, g_strdup (rel), f);
    f->mode = archive_entry_perm (e);
    if (type == AE_IFDIR) {
      f->dir = TRUE;
      continue;
    }
    if (type != AE_IFREG) {
      f->dir = TRUE; /* not compared as a file */
      add_problem (v, rel,
                   "%s (a distribution holds only files and "
                   "directories)",
                   entry_type (type));
      continue;
    }
    if (!read_file (v, a, rel, f, error)) {
      ok = FALSE;
      break;
    }
  }
  archive_read_free (a);
  return ok;
}

static gint
compare_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static Found *
found_file (Verify *v, const char *rel)
{
  Found *f = g_hash_table_lookup (v->found, rel);
  return f && !f->dir ? f : NULL;
}

/* The manifest's files against the tarball's. */
static void
check_files (Verify *v, const json_t *files)
{
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  size_t i;
  json_t *item;
  json_array_foreach (files, i, item)
  {
    const char *path = NULL, *mode = NULL, *sha = NULL;
    json_int_t size = -1;
    if (json_unpack (item, "{s:s,s:s,s:s,s:I!}", "path", &path, "mode", &mode,
                     "sha256", &sha, "size", &size)
            != 0
        || !path_safe (path) || !is_hex (sha, 64) || size < 0) {
      g_autofree char *where = g_strdup_printf ("files[%zu]", i);
      add_problem (v, CAIRN_DIST_MANIFEST,
                   "%s: not {\"path\",\"mode\",\"sha256\",\"size\"}", where);
      continue;
    }
    if (!g_hash_table_add (listed, (gpointer)path)) {
      add_problem (v, CAIRN_DIST_MANIFEST, "lists %s twice", path);
      continue;
    }
    Found *f = found_file (v, path);
    if (f == NULL) {
      add_problem (v, path,
                   "missing from the tarball (listed in "
                   "MANIFEST.json)");
      continue;
    }
    g_autofree char *have = cairn_hex_encode (f->sha, 32);
    if ((guint64)size != f->size)
      add_problem (v, path,
                   "size %" G_GUINT64_FORMAT " bytes, the manifest says "
                   "%" G_GINT64_FORMAT,
                   f->size, (gint64)size);
    if (!g_str_equal (have, sha))
      add_problem (v, path, "SHA-256 %s, the manifest says %s", have, sha);
    g_autofree char *m = g_strdup_printf ("%04o", f->mode);
    if (!g_str_equal (m, mode))
      add_problem (v, path, "mode %s, the manifest says %s", m, mode);
  }
  /* Nothing else: files not listed, directories holding no listed file. */
  GHashTableIter it;
  gpointer key, value;
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  g_hash_table_iter_init (&it, v->found);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    const char *rel = key;
    Found *f = value;
    if (g_str_equal (rel, CAIRN_DIST_MANIFEST)
        || g_str_equal (rel, CAIRN_DIST_MANIFEST_SIG))
      continue;
    if (!f->dir) {
      if (!g_hash_table_contains (listed, rel))
        g_ptr_array_add (extra, key);
      continue;
    }
    g_autofree char *prefix = g_strconcat (rel, "/", NULL);
    gboolean used = FALSE;
    GHashTableIter it2;
    gpointer k2;
    g_hash_table_iter_init (&it2, listed);
    while (!used && g_hash_table_iter_next (&it2, &k2, NULL))
      used = g_str_has_prefix (k2, prefix);
    if (!used)
      g_ptr_array_add (extra, key);
  }
  g_ptr_array_sort (extra, compare_str);
  for (guint k = 0; k < extra->len; k++)
    add_problem (v, extra->pdata[k], "not in MANIFEST.json");
}

/* 05-dist.conf's [plugins] against the manifest's trusted keys. */
static void
check_dist_conf (Verify *v, const json_t *trusted)
{
  Found *f = found_file (v, CAIRN_DIST_CONF);
  if (f == NULL || f->data == NULL) {
    add_problem (v, CAIRN_DIST_CONF,
                 "missing: a distribution requires "
                 "signed plugins there");
    return;
  }
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, (const char *)f->data->data, f->data->len,
                                  G_KEY_FILE_NONE, &local)) {
    add_problem (v, CAIRN_DIST_CONF, "%s", local->message);
    return;
  }
  g_autofree char *req
      = g_key_file_get_value (kf, "plugins", "require_signed_plugins", NULL);
  if (req == NULL || !g_str_equal (g_strstrip (req), "true"))
    add_problem (v, CAIRN_DIST_CONF,
                 "[plugins] require_signed_plugins is not true");
  g_autofree char *keys
      = g_key_file_get_value (kf, "plugins", "trusted_keys", NULL);
  g_auto (GStrv) list = g_strsplit (keys ? keys : "", ";", -1);
  g_autoptr (GPtrArray) have = g_ptr_array_new ();
  for (char **k = list; *k; k++)
    if (*g_strstrip (*k))
      g_ptr_array_add (have, *k);
  gboolean same = have->len == json_array_size (trusted);
  for (guint i = 0; same && i < have->len; i++) {
    gboolean in = FALSE;
    size_t j;
    json_t *t;
    json_array_foreach (trusted, j, t)
    {
      in |= g_strcmp0 (json_string_value (t), have->pdata[i]) == 0;
    }
    same = in;
  }
  if (!same)
    add_problem (v, CAIRN_DIST_CONF,
                 "[plugins] trusted_keys is not the manifest's trusted_keys");
}

/* Every plugin and signature under lib/cairn-1/plugins/, as the node will
 * check them. */
static void
check_plugins (Verify *v, const json_t *trusted, const json_t *listed_ids)
{
  g_autoptr (CairnPluginTrust) trust = cairn_plugin_trust_new (TRUE);
  size_t i;
  json_t *t;
  json_array_foreach (trusted, i, t)
  {
    g_autoptr (GError) local = NULL;
    const char *hex = json_string_value (t);
    if (!is_hex (hex, 64) || !cairn_plugin_trust_add (trust, hex, NULL, &local))
      add_problem (v, CAIRN_DIST_MANIFEST,
                   "trusted_keys[%zu]: not 64 hex "
                   "digits",
                   i);
  }
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, v->found);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (plugin_file (key) && !((Found *)value)->dir)
      g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_str);
  g_autoptr (GHashTable) ids
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint k = 0; k < names->len; k++) {
    const char *rel = names->pdata[k];
    const char *file = plugin_file (rel);
    if (g_str_has_suffix (file, ".so.sig")) {
      g_autofree char *so = g_strndup (rel, strlen (rel) - 4);
      if (found_file (v, so) == NULL)
        add_problem (v, rel, "a signature without its plugin %s", so);
      continue;
    }
    if (!g_str_has_suffix (file, ".so")) {
      add_problem (v, rel, "neither a plugin (.so) nor its signature");
      continue;
    }
    g_autofree char *id = g_strndup (file, strlen (file) - 3);
    Found *f = found_file (v, rel);
    g_autoptr (GBytes) bytes = NULL;
    g_autoptr (json_t) desc = NULL;
    g_autoptr (GError) local = NULL;
    const char *status = "valid";
    g_autofree char *why = NULL;
    if (!cairn_plugin_sig_check (trust, f->copy, &bytes, &desc, &local)) {
      /* Messages name our copy: name the file in the distribution. */
      g_autofree char *copy_sig = g_strconcat (f->copy, ".sig", NULL);
      g_autofree char *rel_sig = g_strconcat (rel, ".sig", NULL);
      g_autoptr (GString) msg = g_string_new (local->message);
      g_string_replace (msg, copy_sig, rel_sig, 0);
      g_string_replace (msg, f->copy, rel, 0);
      g_autofree char *own = g_strconcat (rel, ": ", NULL);
      why = g_strdup (g_str_has_prefix (msg->str, own) ? msg->str + strlen (own)
                                                       : msg->str);
      status = "refused";
    } else if (g_strcmp0 (json_string_value (json_object_get (desc, "id")), id)
               != 0) {
      why = g_strdup_printf ("its signature is for plugin '%s'",
                             json_string_value (json_object_get (desc, "id")));
      status = "refused";
    }
    if (why)
      add_problem (v, rel, "%s", why);
    json_array_append_new (
        v->plugins,
        json_pack ("{s:s,s:s,s:s?}", "id", id, "status", status, "error", why));
    g_hash_table_add (ids, g_steal_pointer (&id));
  }
  json_t *item;
  guint n_listed = 0;
  json_array_foreach (listed_ids, i, item)
  {
    const char *id = json_string_value (item);
    n_listed++;
    if (id == NULL || !g_hash_table_contains (ids, id)) {
      g_autofree char *rel
          = g_strdup_printf (CAIRN_DIST_PLUGIN_DIR "/%s.so", id ? id : "?");
      add_problem (v, rel, "missing (MANIFEST.json lists plugin '%s')",
                   id ? id : "?");
    }
  }
  if (n_listed != g_hash_table_size (ids))
    add_problem (v, CAIRN_DIST_MANIFEST,
                 "lists %u plugins, the tarball holds %u", n_listed,
                 g_hash_table_size (ids));
}

/* The expected signer from --key: 64 hex, a PEM public key or a PEM
 * private key. */
static gboolean
expected_key (const char *key, uint8_t pk[32], GError **error)
{
  if (is_hex (key, 64)) {
    cairn_hex_decode (key, pk, 32);
    return TRUE;
  }
  g_autoptr (GError) local = NULL;
  if (cairn_pubkey_load (key, pk, &local))
    return TRUE;
  g_autoptr (CairnKey) priv = cairn_key_load (key, NULL);
  if (priv) {
    memcpy (pk, cairn_key_pubkey (priv), 32);
    return TRUE;
  }
  g_set_error (error, CAIRN_CLI_ERROR,
               g_file_test (key, G_FILE_TEST_EXISTS) ? CAIRN_EXIT_USAGE
                                                     : CAIRN_EXIT_NOT_FOUND,
               "--key %s: %s (a PEM public key, as `openssl pkey -pubout` "
               "writes, or 64 hex digits)",
               key, local->message);
  return FALSE;
}

/* MANIFEST.json, canonical and of our format; NULL after a problem. */
static json_t *
read_manifest (Verify *v, Found *mf)
{
  if (mf == NULL || mf->data == NULL) {
    add_problem (v, CAIRN_DIST_MANIFEST, "missing");
    return NULL;
  }
  if (mf->data->len == 0 || mf->data->data[mf->data->len - 1] != '\n') {
    add_problem (v, CAIRN_DIST_MANIFEST, "does not end with a newline");
    return NULL;
  }
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) m = cairn_cjson_parse ((const char *)mf->data->data,
                                            mf->data->len - 1, TRUE, &local);
  if (m == NULL) {
    add_problem (v, CAIRN_DIST_MANIFEST, "%s", local->message);
    return NULL;
  }
  const char *format = NULL, *name = NULL, *version = NULL;
  if (json_unpack (m, "{s:s,s:s,s:s}", "format", &format, "name", &name,
                   "version", &version)
          != 0
      || !g_str_equal (format, CAIRN_DIST_FORMAT)
      || !json_is_array (json_object_get (m, "files"))
      || !json_is_array (json_object_get (m, "trusted_keys"))
      || !json_is_array (json_object_get (m, "plugins"))) {
    add_problem (v, CAIRN_DIST_MANIFEST,
                 "not a %s manifest (format, name, version, files, plugins, "
                 "trusted_keys)",
                 CAIRN_DIST_FORMAT);
    return NULL;
  }
  v->name = g_strdup (name);
  v->version = g_strdup (version);
  return g_steal_pointer (&m);
}

static void
check_signature (Verify *v, Found *mf, Found *sf, const char *key,
                 const uint8_t want[32])
{
  if (sf == NULL || sf->data == NULL) {
    add_problem (v, CAIRN_DIST_MANIFEST_SIG,
                 "missing: the distribution is not signed");
    return;
  }
  uint8_t pk[32];
  static const uint8_t zero[32] = { 0 };
  g_autoptr (GError) local = NULL;
  gboolean good = cairn_dist_manifest_check_sig (
      (const char *)sf->data->data, sf->data->len, (const char *)mf->data->data,
      mf->data->len - 1, pk, &local);
  if (memcmp (pk, zero, 32) != 0)
    v->signer = cairn_hex_encode (pk, 32);
  v->signature = good ? "valid" : "bad";
  if (!good) {
    add_problem (v, CAIRN_DIST_MANIFEST_SIG, "%s", local->message);
  } else if (key && memcmp (pk, want, 32) != 0) {
    g_autofree char *w = cairn_hex_encode (want, 32);
    v->signature = "wrong key";
    add_problem (v, CAIRN_DIST_MANIFEST_SIG,
                 "signed by key %s, not by the expected key %s (--key)",
                 v->signer, w);
  }
}

/* Everything after reading the tarball. */
static void
check_all (Verify *v, const char *key, const uint8_t want[32])
{
  if (v->top == NULL) {
    add_problem (v, v->tarball, "empty: no distribution in it");
    return;
  }
  Found *mf = found_file (v, CAIRN_DIST_MANIFEST);
  g_autoptr (json_t) manifest = read_manifest (v, mf);
  if (manifest == NULL)
    return;
  v->has_manifest = TRUE;
  check_signature (v, mf, found_file (v, CAIRN_DIST_MANIFEST_SIG), key, want);
  g_autofree char *want_top = g_strdup_printf ("%s-%s", v->name, v->version);
  if (!g_str_equal (want_top, v->top))
    add_problem (v, v->top,
                 "the top directory is not %s/ (the manifest's name and "
                 "version)",
                 want_top);
  const json_t *files = json_object_get (manifest, "files");
  const json_t *trusted = json_object_get (manifest, "trusted_keys");
  v->n_files = json_array_size (files);
  check_files (v, files);
  gboolean signer_trusted = FALSE;
  size_t i;
  json_t *t;
  json_array_foreach (trusted, i, t)
  {
    signer_trusted
        |= v->signer && g_strcmp0 (json_string_value (t), v->signer) == 0;
  }
  if (!signer_trusted && v->signer)
    add_problem (v, CAIRN_DIST_MANIFEST,
                 "trusted_keys does not hold the signer's key %s", v->signer);
  check_dist_conf (v, trusted);
  check_plugins (v, trusted, json_object_get (manifest, "plugins"));
}

static void
report (Verify *v, const char *key, gboolean json, gboolean ok)
{
  if (json) {
    g_autoptr (json_t) out = json_pack (
        "{s:s,s:b,s:s?,s:s?,s:s,s:s?,s:b,s:i,s:O,s:O}", "tarball", v->tarball,
        "ok", ok, "name", v->name, "version", v->version, "signature",
        v->signature, "signer", v->signer, "key_checked", key != NULL, "files",
        (int)v->n_files, "plugins", v->plugins, "problems", v->problems);
    cairn_cli_print_json (out);
  } else {
    if (v->name)
      g_print ("%s: %s %s\n", v->tarball, v->name, v->version);
    if (v->signer)
      cairn_cli_print_field (
          "  signature", "%s, by key %s%s", v->signature, v->signer,
          key ? (g_str_equal (v->signature, "valid") ? " (the expected key)"
                                                     : "")
              : " (not checked against a key: pass --key VENDOR.pub)");
    if (v->has_manifest)
      cairn_cli_print_field ("  files", "%u listed in MANIFEST.json",
                             v->n_files);
    guint n_valid = 0;
    size_t i;
    json_t *p;
    json_array_foreach (v->plugins, i, p)
    {
      n_valid += g_str_equal (json_string_value (json_object_get (p, "status")),
                              "valid");
    }
    if (json_array_size (v->plugins))
      cairn_cli_print_field ("  plugins", "%u of %zu signed by a trusted key",
                             n_valid, json_array_size (v->plugins));
  }
  size_t i;
  json_t *pr;
  json_array_foreach (v->problems, i, pr)
  {
    const char *file = json_string_value (json_object_get (pr, "file"));
    const char *msg = json_string_value (json_object_get (pr, "error"));
    if (g_str_equal (file, v->tarball))
      cairn_cli_printerr ("%s: %s", file, msg);
    else
      cairn_cli_printerr ("%s: %s: %s", v->tarball, file, msg);
  }
  if (!json) {
    if (ok)
      g_print ("ok\n");
    else
      g_print ("FAILED: %zu problem%s\n", json_array_size (v->problems),
               json_array_size (v->problems) == 1 ? "" : "s");
  }
}

int
cairn_dist_verify (const char *tarball, const char *key, gboolean json)
{
  uint8_t want[32] = { 0 };
  g_autoptr (GError) error = NULL;
  if (key && !expected_key (key, want, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (!g_file_test (tarball, G_FILE_TEST_IS_REGULAR)) {
    cairn_cli_printerr ("%s: no such file", tarball);
    return CAIRN_EXIT_NOT_FOUND;
  }
  Verify v = {
    .tarball = tarball,
    .found
    = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, found_free),
    .problems = json_array (),
    .plugins = json_array (),
    .signature = "missing",
  };
  v.tmp = g_dir_make_tmp ("cairn-dist-verify-XXXXXX", &error);
  if (v.tmp != NULL && read_tarball (&v, &error))
    check_all (&v, key, want);
  if (error)
    add_problem (&v, tarball, "%s", error->message);
  gboolean ok = json_array_size (v.problems) == 0;
  report (&v, key, json, ok);
  if (v.tmp) {
    g_autoptr (GError) cleanup = NULL;
    if (!cairn_cli_remove_tree (v.tmp, &cleanup))
      g_printerr ("cairn: warning: %s\n", cleanup->message);
  }
  g_free (v.tmp);
  g_free (v.top);
  g_free (v.name);
  g_free (v.version);
  g_free (v.signer);
  g_hash_table_unref (v.found);
  json_decref (v.problems);
  json_decref (v.plugins);
  return ok ? CAIRN_EXIT_OK : CAIRN_EXIT_FAILED;
}

/* cairn dist build --deb: the distribution's tree as a Debian package,
 * installed under /opt/<name>/, with
 *   /lib/systemd/system/<name>-node.service   runs /opt/<name>/bin/cairn
 *                                              node --home /var/lib/<name>
 *                                              as the user <name>, hardened
 *   DEBIAN/postinst   makes the system user <name> and, on first install,
 *                     the node home /var/lib/<name> (`cairn init` of the
 *                     distribution); the service is not enabled or started
 *   DEBIAN/prerm, postrm   stop the service on removal, reload systemd;
 *                     purge keeps /var/lib/<name> (the chain, the keys)
 *   Depends           adduser and the shared libraries of bin/cairn and the
 *                     plugins, from dpkg-shlibdeps (Debian package
 *                     dpkg-dev); without it a fixed list (FALLBACK_DEPENDS)
 * built by `dpkg-deb --root-owner-group --build` with SOURCE_DATE_EPOCH set
 * and every mtime set to the epoch, so two builds are byte-identical. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "dist_private.h"

/* The runtime libraries of `cairn` and the plugins of this tree on Debian
 * 12 (the runtime half of ./dev's DEBS), used when dpkg-shlibdeps is not
 * installed. */
#define FALLBACK_DEPENDS                                                       \
  "libc6, libglib2.0-0, libjansson4, libssl3, libsoup-3.0-0, libsodium23, "    \
  "liblmdb0, libleveldb1d, libgit2-1.5"

/* Run argv (in cwd, with SOURCE_DATE_EPOCH = epoch); its stdout. */
static char *
run (const char *const *argv, const char *cwd, gint64 epoch, GError **error)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (cwd)
    g_subprocess_launcher_set_cwd (l, cwd);
  g_autofree char *e = g_strdup_printf ("%" G_GINT64_FORMAT, epoch);
  g_subprocess_launcher_setenv (l, "SOURCE_DATE_EPOCH", e, TRUE);
  g_subprocess_launcher_setenv (l, "LC_ALL", "C", TRUE);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (l, argv, error);
  if (p == NULL) {
    g_prefix_error (error, "%s: ", argv[0]);
    return NULL;
  }
  g_autofree char *out = NULL, *err = NULL;
  if (!g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, error))
    return NULL;
  if (!g_subprocess_get_if_exited (p) || g_subprocess_get_exit_status (p)) {
    g_set_error (
        error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
        "%s failed (exit status %d): %s", argv[0],
        g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : -1,
        err ? g_strstrip (err) : "");
    return NULL;
  }
  return g_steal_pointer (&out);
}

static int
compare_names (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* The Depends of the package's shared objects (bin/cairn and the
 * plugins). */
static char *
shlib_depends (const char *opt_rel, const char *staging, gint64 epoch,
               GError **error)
{
  /* It runs in its own directory. */
  g_autofree char *opt = g_canonicalize_filename (opt_rel, NULL);
  g_autofree char *shlibdeps = g_find_program_in_path ("dpkg-shlibdeps");
  if (shlibdeps == NULL) {
    g_printerr ("cairn: warning: dpkg-shlibdeps not found (Debian package "
                "dpkg-dev): the .deb depends on a fixed list: %s\n",
                FALLBACK_DEPENDS);
    return g_strdup (FALLBACK_DEPENDS);
  }
  /* It wants a source package around the files it looks at. */
  g_autofree char *dir = g_build_filename (staging, "shlibs", NULL);
  g_autofree char *control = g_build_filename (dir, "debian", "control", NULL);
  const char *text = "Source: cairn-dist\n\nPackage: cairn-dist\n"
                     "Architecture: any\n";
  if (!cairn_dist_write_file (control, text, strlen (text), 0644, error))
    return NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("dpkg-shlibdeps"));
  g_ptr_array_add (argv, g_strdup ("-O"));
  g_ptr_array_add (argv, g_strdup_printf ("-e%s/bin/cairn", opt));
  g_autofree char *plugins
      = g_build_filename (opt, CAIRN_DIST_PLUGIN_DIR, NULL);
  g_auto (GStrv) names = NULL;
  {
    g_autoptr (GDir) d = g_dir_open (plugins, 0, error);
    if (d == NULL)
      return NULL;
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    for (const char *n; (n = g_dir_read_name (d)) != NULL;)
      if (g_str_has_suffix (n, ".so"))
        g_strv_builder_add (b, n);
    names = g_strv_builder_end (b);
  }
  qsort (names, g_strv_length (names), sizeof (char *), compare_names);
  for (char **n = names; *n; n++)
    g_ptr_array_add (argv, g_strdup_printf ("-e%s/%s", plugins, *n));
  g_ptr_array_add (argv, NULL);
  g_autofree char *out
      = run ((const char *const *)argv->pdata, dir, epoch, error);
  if (out == NULL)
    return NULL;
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (char **line = lines; *line; line++)
    if (g_str_has_prefix (*line, "shlibs:Depends="))
      return g_strdup (*line + strlen ("shlibs:Depends="));
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
               "dpkg-shlibdeps printed no shlibs:Depends: %s", out);
  return NULL;
}

static const char *
branding (const CairnDistSpec *spec, const char *key)
{
  return json_string_value (json_object_get (spec->branding, key));
}

static char *
unit_text (const CairnDistSpec *spec)
{
  const char *n = spec->name;
  const char *url = branding (spec, "url");
  g_autofree char *doc = url
                                 && (g_str_has_prefix (url, "https://")
                                     || g_str_has_prefix (url, "http://"))
                             ? g_strdup_printf ("Documentation=%s\n", url)
                             : g_strdup ("");
  return g_strdup_printf (
      "# %s node, from the %s %s distribution (written by cairn dist "
      "build).\n"
      "# Enable it with: systemctl enable --now %s-node.service\n"
      "[Unit]\n"
      "Description=%s node (%s %s)\n"
      "%s"
      "After=network-online.target\n"
      "Wants=network-online.target\n"
      "\n"
      "[Service]\n"
      "Type=simple\n"
      "User=%s\n"
      "Group=%s\n"
      "ExecStart=/opt/%s/bin/cairn node --home /var/lib/%s\n"
      "Restart=on-failure\n"
      "RestartSec=5s\n"
      "TimeoutStopSec=60s\n"
      "LimitNOFILE=65536\n"
      "UMask=0077\n"
      "# Hardening: the node writes only its home.\n"
      "NoNewPrivileges=yes\n"
      "ProtectSystem=strict\n"
      "ReadWritePaths=/var/lib/%s\n"
      "ProtectHome=yes\n"
      "PrivateTmp=yes\n"
      "PrivateDevices=yes\n"
      "ProtectKernelTunables=yes\n"
      "ProtectKernelModules=yes\n"
      "ProtectKernelLogs=yes\n"
      "ProtectControlGroups=yes\n"
      "ProtectClock=yes\n"
      "ProtectHostname=yes\n"
      "RestrictNamespaces=yes\n"
      "RestrictRealtime=yes\n"
      "RestrictSUIDSGID=yes\n"
      "LockPersonality=yes\n"
      "RemoveIPC=yes\n"
      "CapabilityBoundingSet=\n"
      "AmbientCapabilities=\n"
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n"
      "SystemCallArchitectures=native\n"
      "SystemCallFilter=@system-service\n"
      "SystemCallFilter=~@privileged @resources\n"
      "# Not MemoryDenyWriteExecute: signed plugins are loaded from a memfd\n"
      "# holding the checked bytes.\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      branding (spec, "product"), n, spec->version, n,
      branding (spec, "product"), n, spec->version, doc, n, n, n, n, n);
}

static char *
postinst_text (const CairnDistSpec *spec)
{
  return g_strdup_printf (
      "#!/bin/sh\n"
      "# %s %s: the system user and, on first install, the node home.\n"
      "set -e\n"
      "NAME=%s\n"
      "HOME_DIR=/var/lib/$NAME\n"
      "if [ \"$1\" = configure ]; then\n"
      "  if ! getent passwd \"$NAME\" >/dev/null; then\n"
      "    adduser --system --group --quiet --home \"$HOME_DIR\" "
      "--no-create-home \"$NAME\"\n"
      "  fi\n"
      "  if [ ! -d \"$HOME_DIR\" ]; then\n"
      "    install -d -m 0750 -o \"$NAME\" -g \"$NAME\" \"$HOME_DIR\"\n"
      "  fi\n"
      "  if [ ! -e \"$HOME_DIR/cairn.conf\" ]; then\n"
      "    runuser -u \"$NAME\" -- /opt/$NAME/bin/cairn init --home "
      "\"$HOME_DIR\" >/dev/null\n"
      "    echo \"$NAME: node home $HOME_DIR initialised (keys in "
      "$HOME_DIR/keys); start it with: systemctl enable --now "
      "$NAME-node.service\"\n"
      "  fi\n"
      "  if [ -d /run/systemd/system ]; then\n"
      "    systemctl --system daemon-reload >/dev/null || true\n"
      "  fi\n"
      "fi\n"
      "exit 0\n",
      spec->name, spec->version, spec->name);
}

static char *
prerm_text (const CairnDistSpec *spec)
{
  return g_strdup_printf (
      "#!/bin/sh\n"
      "set -e\n"
      "if [ -d /run/systemd/system ] && [ \"$1\" = remove ]; then\n"
      "  systemctl --system stop %s-node.service >/dev/null 2>&1 || true\n"
      "fi\n"
      "exit 0\n",
      spec->name);
}

static const char *postrm
    = "#!/bin/sh\n"
      "# The node home /var/lib/<name> (chain and keys) and the user stay,\n"
      "# even on purge: remove them by hand.\n"
      "set -e\n"
      "if [ -d /run/systemd/system ]; then\n"
      "  systemctl --system daemon-reload >/dev/null || true\n"
      "fi\n"
      "exit 0\n";

/* Modes 0755 on every directory, every mtime = epoch (children first);
 * *kib the Installed-Size (KiB per file rounded up, one per directory). */
static gboolean
normalise (const char *path, gint64 epoch, guint64 *kib, GError **error)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "cannot stat %s: %s", path, g_strerror (errno));
    return FALSE;
  }
  if (S_ISDIR (st.st_mode)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, error);
    if (d == NULL)
      return FALSE;
    for (const char *n; (n = g_dir_read_name (d)) != NULL;) {
      g_autofree char *sub = g_build_filename (path, n, NULL);
      if (!normalise (sub, epoch, kib, error))
        return FALSE;
    }
    if (g_chmod (path, 0755) != 0) {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot chmod %s: %s", path, g_strerror (errno));
      return FALSE;
    }
    *kib += 1;
  } else {
    *kib += ((guint64)st.st_size + 1023) / 1024;
  }
  struct timespec times[2] = { { .tv_sec = epoch }, { .tv_sec = epoch } };
  if (utimensat (AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "cannot set the time of %s: %s", path, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static char *
control_text (const CairnDistSpec *spec, const char *arch, const char *depends,
              guint64 kib)
{
  const char *product = branding (spec, "product");
  const char *maint = branding (spec, "maintainer");
  if (maint == NULL)
    maint = branding (spec, "vendor");
  if (maint == NULL)
    maint = product;
  const char *url = branding (spec, "url");
  const char *about = branding (spec, "description");
  g_autoptr (GString) s = g_string_new (NULL);
  g_string_append_printf (s,
                          "Package: %s\n"
                          "Version: %s\n"
                          "Architecture: %s\n"
                          "Maintainer: %s\n"
                          "Installed-Size: %" G_GUINT64_FORMAT "\n"
                          "Depends: adduser, %s\n"
                          "Section: net\n"
                          "Priority: optional\n",
                          spec->name, spec->version, arch, maint, kib, depends);
  if (url
      && (g_str_has_prefix (url, "https://")
          || g_str_has_prefix (url, "http://")))
    g_string_append_printf (s, "Homepage: %s\n", url);
  g_string_append_printf (s, "Description: %s node (a Cairn distribution)\n",
                          product);
  if (about)
    g_string_append_printf (s, " %s\n .\n", about);
  g_string_append_printf (s,
                          " %s %s is installed under /opt/%s; the unit\n"
                          " %s-node.service runs its node as the user %s\n"
                          " with the home /var/lib/%s.\n",
                          spec->name, spec->version, spec->name, spec->name,
                          spec->name, spec->name);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
cairn_dist_deb_build (const CairnDistSpec *spec, const char *tree,
                      const char *staging, const char *out_dir, gint64 epoch,
                      char **deb_path, GError **error)
{
  g_autofree char *dpkg_deb = g_find_program_in_path ("dpkg-deb");
  if (dpkg_deb == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "--deb needs dpkg-deb (Debian package dpkg)");
    return FALSE;
  }
  const char *arch_argv[] = { "dpkg", "--print-architecture", NULL };
  g_autofree char *arch = run (arch_argv, NULL, epoch, error);
  if (arch == NULL)
    return FALSE;
  g_strstrip (arch);

  g_autofree char *root = g_build_filename (staging, "deb", NULL);
  g_autofree char *opt = g_build_filename (root, "opt", spec->name, NULL);
  g_autofree char *opt_dir = g_path_get_dirname (opt);
  if (!cairn_dist_mkdir (opt_dir, error))
    return FALSE;
  if (g_rename (tree, opt) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "cannot move %s to %s: %s", tree, opt, g_strerror (errno));
    return FALSE;
  }
  g_autofree char *depends = shlib_depends (opt, staging, epoch, error);
  if (depends == NULL)
    return FALSE;

  g_autofree char *unit_name = g_strdup_printf ("%s-node.service", spec->name);
  g_autofree char *unit
      = g_build_filename (root, "lib", "systemd", "system", unit_name, NULL);
  g_autofree char *unit_body = unit_text (spec);
  g_autofree char *postinst = postinst_text (spec);
  g_autofree char *prerm = prerm_text (spec);
  g_autofree char *debian = g_build_filename (root, "DEBIAN", NULL);
  g_autofree char *p_postinst = g_build_filename (debian, "postinst", NULL);
  g_autofree char *p_prerm = g_build_filename (debian, "prerm", NULL);
  g_autofree char *p_postrm = g_build_filename (debian, "postrm", NULL);
  if (!cairn_dist_write_file (unit, unit_body, strlen (unit_body), 0644, error)
      || !cairn_dist_write_file (p_postinst, postinst, strlen (postinst), 0755,
                                 error)
      || !cairn_dist_write_file (p_prerm, prerm, strlen (prerm), 0755, error)
      || !cairn_dist_write_file (p_postrm, postrm, strlen (postrm), 0755,
                                 error))
    return FALSE;
  /* Installed-Size counts what lands on disk, not DEBIAN/. */
  guint64 kib = 0;
  g_autofree char *p_opt = g_build_filename (root, "opt", NULL);
  g_autofree char *p_lib = g_build_filename (root, "lib", NULL);
  if (!normalise (p_opt, epoch, &kib, error)
      || !normalise (p_lib, epoch, &kib, error))
    return FALSE;
  g_autofree char *control = control_text (spec, arch, depends, kib);
  g_autofree char *p_control = g_build_filename (debian, "control", NULL);
  guint64 ignored = 0;
  if (!cairn_dist_write_file (p_control, control, strlen (control), 0644, error)
      || !normalise (root, epoch, &ignored, error))
    return FALSE;

  g_autofree char *base
      = g_strdup_printf ("%s_%s_%s.deb", spec->name, spec->version, arch);
  g_autofree char *tmp = g_build_filename (staging, base, NULL);
  g_autofree char *dest = g_build_filename (out_dir, base, NULL);
  const char *argv[] = { dpkg_deb,  "--root-owner-group",
                         "-Zxz",    "--threads-max=1",
                         "--build", root,
                         tmp,       NULL };
  g_autofree char *out = run (argv, NULL, epoch, error);
  if (out == NULL)
    return FALSE;
  if (g_chmod (tmp, 0644) != 0 || g_rename (tmp, dest) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                 "cannot write %s: %s", dest, g_strerror (errno));
    return FALSE;
  }
  *deb_path = g_steal_pointer (&dest);
  return TRUE;
}

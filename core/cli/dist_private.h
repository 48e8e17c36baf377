/* cairn dist: vendor distributions (shared by core/cli/cmd_dist.c and
 * dist_*.c; the user's view is README "Vendor distributions").
 *
 * A distribution is one directory <name>-<version>/ holding
 *   bin/cairn                         a copy of the building executable
 *   lib/cairn-1/plugins/<id>.so(.sig) every plugin, signed at build time
 *   etc/cairn/                        cairn.conf, conf.d/ (the included
 *                                     plugins' snippets, the vendor's, and
 *                                     05-dist.conf), profiles/, alternatives/
 *   share/cairn/                      branding.json, genesis-template.json,
 *                                     <id>/web/ (a plugin's web assets)
 *   MANIFEST.json                     canonical JSON, format cairn-dist/1:
 *                                     every other file's path, size, mode
 *                                     and SHA-256, sorted by path
 *   MANIFEST.json.sig                 {"format","pubkey","sig"}: Ed25519 by
 *                                     the vendor over "cairn/dist-manifest/v1"
 *                                     \0 + MANIFEST.json without its final
 *                                     newline
 * packed as <name>-<version>.tar.gz (ustar, sorted, fixed mtime, 0/0 root,
 * gzip without name or time) and optionally as a .deb under /opt/<name>. */
#pragma once

#include <stdint.h>

#include "cli.h"

#define CAIRN_DIST_FORMAT "cairn-dist/1"
#define CAIRN_DIST_SIG_FORMAT "cairn-dist-signature/1"
#define CAIRN_DIST_SIG_DOMAIN "cairn/dist-manifest/v1"
#define CAIRN_DIST_MANIFEST "MANIFEST.json"
#define CAIRN_DIST_MANIFEST_SIG "MANIFEST.json.sig"
#define CAIRN_DIST_PLUGIN_DIR "lib/cairn-1/plugins"
#define CAIRN_DIST_CONF_NAME "05-dist.conf"
#define CAIRN_DIST_CONF "etc/cairn/conf.d/" CAIRN_DIST_CONF_NAME
/* The largest mtime a ustar header holds (11 octal digits). */
#define CAIRN_DIST_MAX_EPOCH G_GINT64_CONSTANT (8589934591)

/* ---- dist_spec.c: the vendor's spec, read and checked ---- */
typedef struct {
  char *id;
  char *file;      /* the .so copied into the distribution */
  char *conf_file; /* the vendor's snippet for it, or NULL */
  char *conf_res;  /* else the built-in one ("conf.d/20-bank.conf"), or NULL */
  char *conf_name; /* the snippet's name in etc/cairn/<conf_dir>/ */
  char *conf_dir;  /* "conf.d" or "alternatives" */
} CairnDistPlugin;

typedef struct {
  char *file; /* a vendor snippet */
  char *name; /* its name in etc/cairn/conf.d/ */
} CairnDistSnippet;

typedef struct {
  char *path; /* the spec file, as given (for messages) */
  char *name;
  char *version;
  json_t *branding;         /* object of strings, with "product" */
  GPtrArray *plugins;       /* CairnDistPlugin*, in spec order */
  GPtrArray *snippets;      /* CairnDistSnippet*, the spec's "conf" */
  json_t *genesis_template; /* checked, or NULL */
  GArray *trusted_keys;     /* uint8_t[32] each: the spec's, deduplicated */
  gboolean has_epoch;
  gint64 epoch; /* "source_date_epoch" */
} CairnDistSpec;

/* Read and check a spec: unknown fields, types, names, every file it names
 * (relative to the spec's directory), every plugin (found in the running
 * cairn's plugin search path, or the vendor's file, its descriptor read),
 * every snippet and the genesis template. Errors name the spec file and
 * the field, e.g. "vendor.json: plugins[2].file: …". src is where built-in
 * plugin snippets come from. */
CairnDistSpec *cairn_dist_spec_load (const char *path,
                                     const CairnConfSource *src,
                                     GError **error);
void cairn_dist_spec_free (CairnDistSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnDistSpec, cairn_dist_spec_free)

/* SOURCE_DATE_EPOCH when set, else the spec's source_date_epoch, else 0. */
gboolean cairn_dist_epoch (const CairnDistSpec *spec, gint64 *epoch,
                           GError **error);

/* ---- dist_build.c ---- */
/* Assemble, sign and pack the distribution into out_dir; with deb also the
 * .deb. *result: {"tarball","size","sha256","files","plugins",
 * ["deb","deb_size","deb_sha256"]}. */
gboolean cairn_dist_build (const CairnDistSpec *spec,
                           const CairnConfSource *src, const CairnKey *key,
                           const char *out_dir, gboolean deb, json_t **result,
                           GError **error);

/* SHA-256 of a file, streamed; *size its length. */
gboolean cairn_dist_hash_file (const char *path, uint8_t sha[32], guint64 *size,
                               GError **error);
/* Write a file with exactly this mode (not subject to the umask). */
gboolean cairn_dist_write_file (const char *path, const void *data, gsize len,
                                int mode, GError **error);
/* mkdir -p with mode 0755 for every directory it makes. */
gboolean cairn_dist_mkdir (const char *path, GError **error);

/* ---- dist_manifest.c ---- */
/* The MANIFEST.json.sig text for the canonical manifest bytes. */
char *cairn_dist_manifest_sign (const char *canon, size_t len,
                                const CairnKey *key);
/* Check MANIFEST.json.sig's text against the canonical manifest bytes;
 * pubkey receives the signer's key (also when the signature is bad, if
 * the file names one). */
gboolean cairn_dist_manifest_check_sig (const char *sig_text, size_t sig_len,
                                        const char *canon, size_t len,
                                        uint8_t pubkey[32], GError **error);

/* ---- dist_assets.c ---- */
/* A plugin's web assets: the GResource bundle glib-compile-resources puts
 * in an ELF section ".gresource.<c name>", its files under
 * /cairn/<id>/web/ written to dest_dir/web/. *n_files 0 (and TRUE) when
 * the plugin has no such bundle. */
gboolean cairn_dist_extract_web (const char *so, const char *id,
                                 const char *dest_dir, guint *n_files,
                                 GError **error);

/* ---- dist_deb.c ---- */
/* A .deb of tree (moved to staging/deb/opt/<name>/), with a systemd unit
 * and a user made in postinst; written to out_dir. */
gboolean cairn_dist_deb_build (const CairnDistSpec *spec, const char *tree,
                               const char *staging, const char *out_dir,
                               gint64 epoch, char **deb_path, GError **error);

/* ---- dist_verify.c ---- */
int cairn_dist_verify (const char *tarball, const char *key, gboolean json);

/* Signed plugins: a detached signature FILE.so.sig beside a plugin, made
 * by its vendor's Ed25519 key over the file's SHA-256 and the fields of
 * its descriptor, checked by the node before dlopen.
 *
 * FILE.so.sig is canonical JSON:
 *   {"descriptor":{"abi_built_minor","abi_major","abi_min_minor","id",
 *                  "kinds","vendor","version"},
 *    "file":"<basename>","format":"cairn-plugin-signature/1",
 *    "pubkey":"<64 hex>","sha256":"<64 hex>","sig":"<128 hex>"}
 * sig = Ed25519 over "cairn/plugin-signature/v1\0" + the canonical JSON of
 * the same object without "sig". The file name is informative (renaming a
 * plugin does not break its signature); the hash and the descriptor are
 * what count.
 *
 * The node (config [plugins] require_signed_plugins, trusted_keys) reads
 * the plugin once into memory, checks the hash and signature there, and
 * loads exactly those bytes (from a memfd), so a file swapped after the
 * check is never what runs. */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include <cairn/plugin.h>

#include "crypto.h"

#define CAIRN_PLUGIN_SIG_FORMAT "cairn-plugin-signature/1"
#define CAIRN_PLUGIN_SIG_DOMAIN "cairn/plugin-signature/v1"
#define CAIRN_PLUGIN_SIG_SUFFIX ".sig"

typedef struct CairnPluginTrust CairnPluginTrust;

/* require: refuse unsigned plugins (and those signed by a key not in the
 * set). Without require, a plugin with a signature file is still checked
 * and refused when the signature is bad or the file was changed. */
CairnPluginTrust *cairn_plugin_trust_new (gboolean require);
/* From [plugins] require_signed_plugins (default false) and trusted_keys
 * (PEM public key files relative to the home, or 64 hex digits; appended
 * across conf.d files). CAIRN_ERROR_CONFIG when a key does not read or
 * signatures are required with no key to check them. */
struct CairnConfig;
CairnPluginTrust *cairn_plugin_trust_from_config (struct CairnConfig *cfg,
                                                  GError **error);
void cairn_plugin_trust_free (CairnPluginTrust *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnPluginTrust, cairn_plugin_trust_free)
/* A trusted key: 64 hex digits, or a PEM public key file (relative paths
 * resolved against base_dir). */
gboolean cairn_plugin_trust_add (CairnPluginTrust *t, const char *key,
                                 const char *base_dir, GError **error);
gboolean cairn_plugin_trust_required (const CairnPluginTrust *t);
guint cairn_plugin_trust_n_keys (const CairnPluginTrust *t);

/* Check path against its signature file under t. On success *bytes holds
 * the verified contents (NULL when the plugin is unsigned and that is
 * allowed) and *signed_desc the signed descriptor fields (or NULL).
 * Errors (CAIRN_ERROR_ABI, naming the file and the reason): unsigned
 * under require, a signature by an untrusted key under require, a bad
 * signature, a file whose hash differs (tampered), a malformed .sig. */
gboolean cairn_plugin_sig_check (const CairnPluginTrust *t, const char *path,
                                 GBytes **bytes, json_t **signed_desc,
                                 GError **error);
/* After loading: the descriptor must be the one that was signed. */
gboolean cairn_plugin_sig_match (const json_t *signed_desc,
                                 const CairnPluginDescriptor *d,
                                 const char *path, GError **error);
/* Sign path (whose descriptor d was read from it) with key: writes
 * path + ".sig" (replacing one), returns its name in *sig_path. */
gboolean cairn_plugin_sig_write (const char *path,
                                 const CairnPluginDescriptor *d,
                                 const CairnKey *key, char **sig_path,
                                 GError **error);
/* What a signature file says (for `cairn plugin inspect|list`):
 * {"status", "pubkey", "error"}; status "unsigned", "bad" (with error:
 * malformed, bad signature or changed file), "signed" (good, t is NULL),
 * "valid" (good, by a key in t) or "untrusted" (good, by another key). */
json_t *cairn_plugin_sig_status (const CairnPluginTrust *t, const char *path);

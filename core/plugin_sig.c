/* Signed plugins (see plugin_sig.h). */
#include "plugin_sig.h"

#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "config.h"

#define MAX_PLUGIN_BYTES (256u << 20)
#define MAX_SIG_BYTES (64u << 10)

struct CairnPluginTrust {
  gboolean require;
  GArray *keys; /* uint8_t[32] each */
};

static gboolean
is_hex (const char *s, size_t len)
{
  return strlen (s) == len && strspn (s, "0123456789abcdef") == len;
}

CairnPluginTrust *
cairn_plugin_trust_new (gboolean require)
{
  CairnPluginTrust *t = g_new0 (CairnPluginTrust, 1);
  t->require = require;
  t->keys = g_array_new (FALSE, FALSE, 32);
  return t;
}

void
cairn_plugin_trust_free (CairnPluginTrust *t)
{
  if (t == NULL)
    return;
  g_array_unref (t->keys);
  g_free (t);
}

CairnPluginTrust *
cairn_plugin_trust_from_config (CairnConfig *cfg, GError **error)
{
  gboolean require;
  g_auto (GStrv) keys = NULL;
  if (!cairn_config_bool (cfg, "plugins", "require_signed_plugins", FALSE,
                          &require, error)
      || !cairn_config_strv (cfg, "plugins", "trusted_keys", &keys, error))
    return NULL;
  g_autoptr (CairnPluginTrust) t = cairn_plugin_trust_new (require);
  for (char **k = keys; *k; k++) {
    g_autofree char *path
        = is_hex (*k, 64) ? g_strdup (*k) : cairn_config_path (cfg, *k);
    if (!cairn_plugin_trust_add (t, path, NULL, error)) {
      g_prefix_error (error, "[plugins] trusted_keys: ");
      return NULL;
    }
  }
  if (require && t->keys->len == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[plugins] require_signed_plugins is true but trusted_keys "
                 "is empty: no plugin could load; list the vendors' public "
                 "keys (PEM files or 64 hex digits)");
    return NULL;
  }
  return g_steal_pointer (&t);
}

gboolean
cairn_plugin_trust_required (const CairnPluginTrust *t)
{
  return t != NULL && t->require;
}

guint
cairn_plugin_trust_n_keys (const CairnPluginTrust *t)
{
  return t != NULL ? t->keys->len : 0;
}

gboolean
cairn_plugin_trust_add (CairnPluginTrust *t, const char *key,
                        const char *base_dir, GError **error)
{
  uint8_t pk[32];
  if (is_hex (key, 64)) {
    cairn_hex_decode (key, pk, 32);
  } else {
    g_autofree char *path = g_path_is_absolute (key) || base_dir == NULL
                                ? g_strdup (key)
                                : g_build_filename (base_dir, key, NULL);
    if (!cairn_pubkey_load (path, pk, error))
      return FALSE;
  }
  g_array_append_val (t->keys, pk);
  return TRUE;
}

static gboolean
trusted (const CairnPluginTrust *t, const uint8_t pk[32])
{
  for (guint i = 0; i < t->keys->len; i++)
    if (memcmp (&g_array_index (t->keys, uint8_t, i * 32), pk, 32) == 0)
      return TRUE;
  return FALSE;
}

static json_t *
descriptor_json (const CairnPluginDescriptor *d)
{
  return json_pack ("{s:i,s:i,s:i,s:s,s:I,s:s?,s:s}", "abi_built_minor",
                    (int)d->abi_built_minor, "abi_major", (int)d->abi_major,
                    "abi_min_minor", (int)d->abi_min_minor, "id", d->id,
                    "kinds", (json_int_t)d->kinds, "vendor", d->vendor,
                    "version", d->version);
}

static GError *refuse (const char *path, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static GError *
refuse (const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return g_error_new (CAIRN_ERROR, CAIRN_ERROR_ABI, "%s: plugin refused: %s",
                      path, why);
}

/* The signature file parsed and its own signature checked; the hash it
 * covers in sha, its key in pk. */
static json_t *
read_sig (const char *path, const char *sig_path, uint8_t sha[32],
          uint8_t pk[32], GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (sig_path, &text, &len, &local)) {
    g_propagate_error (
        error, refuse (path, "cannot read %s: %s", sig_path, local->message));
    return NULL;
  }
  if (len > MAX_SIG_BYTES) {
    g_propagate_error (error,
                       refuse (path, "%s is not a signature file (%zu bytes)",
                               sig_path, (size_t)len));
    return NULL;
  }
  json_error_t jerr;
  g_autoptr (json_t) sig
      = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
  const char *format = NULL, *pk_hex = NULL, *sha_hex = NULL, *sig_hex = NULL,
             *file = NULL;
  json_t *desc = NULL;
  if (sig == NULL
      || json_unpack (sig, "{s:s,s:s,s:s,s:s,s:o,s?s}", "format", &format,
                      "pubkey", &pk_hex, "sha256", &sha_hex, "sig", &sig_hex,
                      "descriptor", &desc, "file", &file)
             != 0
      || strcmp (format, CAIRN_PLUGIN_SIG_FORMAT) != 0 || !is_hex (pk_hex, 64)
      || !is_hex (sha_hex, 64) || !is_hex (sig_hex, 128)
      || !json_is_object (desc)) {
    g_propagate_error (
        error, refuse (path,
                       "%s is not a %s file (it needs format, pubkey, sha256, "
                       "sig and descriptor)",
                       sig_path, CAIRN_PLUGIN_SIG_FORMAT));
    return NULL;
  }
  uint8_t raw_sig[64];
  cairn_hex_decode (pk_hex, pk, 32);
  cairn_hex_decode (sha_hex, sha, 32);
  cairn_hex_decode (sig_hex, raw_sig, 64);
  g_autoptr (json_t) body = json_deep_copy (sig);
  json_object_del (body, "sig");
  size_t blen;
  g_autofree char *canon = cairn_cjson_dump (body, &blen, &local);
  if (canon == NULL
      || !cairn_ed25519_verify (pk, CAIRN_PLUGIN_SIG_DOMAIN, canon, blen,
                                raw_sig)) {
    g_propagate_error (
        error, refuse (path, "bad signature in %s (key %s)", sig_path, pk_hex));
    return NULL;
  }
  return g_steal_pointer (&sig);
}

gboolean
cairn_plugin_sig_check (const CairnPluginTrust *t, const char *path,
                        GBytes **bytes, json_t **signed_desc, GError **error)
{
  *bytes = NULL;
  *signed_desc = NULL;
  g_autofree char *sig_path = g_strconcat (path, CAIRN_PLUGIN_SIG_SUFFIX, NULL);
  if (!g_file_test (sig_path, G_FILE_TEST_EXISTS)) {
    if (cairn_plugin_trust_required (t)) {
      g_propagate_error (error,
                         refuse (path,
                                 "unsigned (no %s) and [plugins] "
                                 "require_signed_plugins is true; sign it with "
                                 "`cairn plugin sign --key VENDOR.pem %s`",
                                 sig_path, path));
      return FALSE;
    }
    return TRUE;
  }
  uint8_t sha[32], pk[32];
  g_autoptr (json_t) sig = read_sig (path, sig_path, sha, pk, error);
  if (sig == NULL)
    return FALSE;
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &contents, &len, &local)) {
    g_propagate_error (error, refuse (path, "%s", local->message));
    return FALSE;
  }
  if (len > MAX_PLUGIN_BYTES) {
    g_propagate_error (
        error, refuse (path, "larger than %u MiB", MAX_PLUGIN_BYTES >> 20));
    return FALSE;
  }
  uint8_t have[32];
  cairn_sha256 (contents, len, have);
  if (memcmp (have, sha, 32) != 0) {
    g_autofree char *h1 = cairn_hex_encode (have, 32);
    g_autofree char *h2 = cairn_hex_encode (sha, 32);
    g_propagate_error (error,
                       refuse (path,
                               "the file was changed after it was signed (its "
                               "SHA-256 is %s, %s signs %s)",
                               h1, sig_path, h2));
    return FALSE;
  }
  if (!trusted (t, pk)) {
    g_autofree char *hex = cairn_hex_encode (pk, 32);
    if (cairn_plugin_trust_required (t)) {
      g_propagate_error (error,
                         refuse (path,
                                 "signed by key %s, which is not in [plugins] "
                                 "trusted_keys",
                                 hex));
      return FALSE;
    }
    g_warning ("%s: signed by key %s, which is not in [plugins] "
               "trusted_keys (loaded: require_signed_plugins is false)",
               path, hex);
  }
  *signed_desc = json_incref (json_object_get (sig, "descriptor"));
  *bytes = g_bytes_new_take (g_steal_pointer (&contents), len);
  return TRUE;
}

gboolean
cairn_plugin_sig_match (const json_t *signed_desc,
                        const CairnPluginDescriptor *d, const char *path,
                        GError **error)
{
  g_autoptr (json_t) have = descriptor_json (d);
  if (json_equal (have, signed_desc))
    return TRUE;
  g_autofree char *a = json_dumps (have, JSON_COMPACT | JSON_SORT_KEYS);
  g_autofree char *b = json_dumps (signed_desc, JSON_COMPACT | JSON_SORT_KEYS);
  g_propagate_error (error, refuse (path,
                                    "its descriptor %s is not the one "
                                    "signed (%s)",
                                    a, b));
  return FALSE;
}

gboolean
cairn_plugin_sig_write (const char *path, const CairnPluginDescriptor *d,
                        const CairnKey *key, char **sig_path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len;
  if (!g_file_get_contents (path, &contents, &len, error))
    return FALSE;
  uint8_t sha[32], sig[64];
  cairn_sha256 (contents, len, sha);
  g_autofree char *sha_hex = cairn_hex_encode (sha, 32);
  g_autofree char *pk_hex = cairn_hex_encode (cairn_key_pubkey (key), 32);
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (json_t) body = json_pack (
      "{s:o,s:s,s:s,s:s,s:s}", "descriptor", descriptor_json (d), "file", base,
      "format", CAIRN_PLUGIN_SIG_FORMAT, "pubkey", pk_hex, "sha256", sha_hex);
  size_t blen;
  g_autofree char *canon = cairn_cjson_dump (body, &blen, error);
  if (canon == NULL)
    return FALSE;
  cairn_key_sign (key, CAIRN_PLUGIN_SIG_DOMAIN, canon, blen, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  json_object_set_new (body, "sig", json_string (sig_hex));
  g_autofree char *out = cairn_cjson_dump (body, &blen, error);
  if (out == NULL)
    return FALSE;
  g_autofree char *with_nl = g_strconcat (out, "\n", NULL);
  g_autofree char *dest = g_strconcat (path, CAIRN_PLUGIN_SIG_SUFFIX, NULL);
  if (!g_file_set_contents_full (dest, with_nl, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
    return FALSE;
  *sig_path = g_steal_pointer (&dest);
  return TRUE;
}

json_t *
cairn_plugin_sig_status (const CairnPluginTrust *t, const char *path)
{
  g_autofree char *sig_path = g_strconcat (path, CAIRN_PLUGIN_SIG_SUFFIX, NULL);
  if (!g_file_test (sig_path, G_FILE_TEST_EXISTS))
    return json_pack ("{s:s}", "status", "unsigned");
  g_autoptr (GError) error = NULL;
  uint8_t sha[32], pk[32];
  g_autoptr (json_t) sig = read_sig (path, sig_path, sha, pk, &error);
  if (sig == NULL)
    return json_pack ("{s:s,s:s}", "status", "bad", "error", error->message);
  const char *pk_hex = json_string_value (json_object_get (sig, "pubkey"));
  /* The hash and descriptor, under a set holding the signer alone. */
  g_autoptr (CairnPluginTrust) signer = cairn_plugin_trust_new (TRUE);
  g_array_append_val (signer->keys, pk);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (json_t) desc = NULL;
  if (!cairn_plugin_sig_check (signer, path, &bytes, &desc, &error))
    return json_pack ("{s:s,s:s,s:s}", "status", "bad", "pubkey", pk_hex,
                      "error", error->message);
  const char *status = t == NULL         ? "signed"
                       : trusted (t, pk) ? "valid"
                                         : "untrusted";
  return json_pack ("{s:s,s:s}", "status", status, "pubkey", pk_hex);
}

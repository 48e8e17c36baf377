/* MANIFEST.json.sig: the vendor's Ed25519 signature over a distribution's
 * canonical MANIFEST.json (see dist_private.h). The file is canonical JSON
 * {"format":"cairn-dist-signature/1","pubkey":"<64 hex>","sig":"<128 hex>"}
 * plus a newline; the signed message is "cairn/dist-manifest/v1" 0x00 and
 * the manifest's canonical bytes (the file without its final newline). */
#include <string.h>

#include <cairn/util.h>

#include "dist_private.h"

char *
cairn_dist_manifest_sign (const char *canon, size_t len, const CairnKey *key)
{
  uint8_t sig[64];
  cairn_key_sign (key, CAIRN_DIST_SIG_DOMAIN, canon, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  g_autofree char *pk_hex = cairn_hex_encode (cairn_key_pubkey (key), 32);
  g_autoptr (json_t) doc
      = json_pack ("{s:s,s:s,s:s}", "format", CAIRN_DIST_SIG_FORMAT, "pubkey",
                   pk_hex, "sig", sig_hex);
  g_autofree char *text = cairn_cjson_dump (doc, NULL, NULL);
  return g_strconcat (text, "\n", NULL);
}

static gboolean
is_hex (const char *s, size_t len)
{
  return s != NULL && strlen (s) == len
         && strspn (s, "0123456789abcdef") == len;
}

gboolean
cairn_dist_manifest_check_sig (const char *sig_text, size_t sig_len,
                               const char *canon, size_t len,
                               uint8_t pubkey[32], GError **error)
{
  memset (pubkey, 0, 32);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) doc = cairn_cjson_parse (sig_text, sig_len, FALSE, &local);
  const char *format = NULL, *pk = NULL, *sig = NULL;
  if (doc == NULL
      || json_unpack (doc, "{s:s,s:s,s:s!}", "format", &format, "pubkey", &pk,
                      "sig", &sig)
             != 0
      || !g_str_equal (format, CAIRN_DIST_SIG_FORMAT) || !is_hex (pk, 64)
      || !is_hex (sig, 128)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "not a %s file (canonical JSON with exactly format, pubkey "
                 "and sig)%s%s",
                 CAIRN_DIST_SIG_FORMAT, local ? ": " : "",
                 local ? local->message : "");
    return FALSE;
  }
  uint8_t raw[64];
  cairn_hex_decode (pk, pubkey, 32);
  cairn_hex_decode (sig, raw, 64);
  if (!cairn_ed25519_verify (pubkey, CAIRN_DIST_SIG_DOMAIN, canon, len, raw)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "bad signature: MANIFEST.json is not what key %s signed", pk);
    return FALSE;
  }
  return TRUE;
}

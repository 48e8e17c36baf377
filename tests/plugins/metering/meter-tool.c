/* meter-tool: checks and signatures for the `cairn meter` tests, with the
 * plugin's own format code (formats.c) and FROST (plugins/threshold/frost.c).
 *
 *   meter-tool check-reading FILE|-
 *       meter_reading_check + meter_reading_verify; prints the reading id
 *   meter-tool check-share SHARE.json CENTERS.json
 *       the share file's fields, share * G == its verifying_share == the one
 *       centers.json lists for its identifier and address, same group key
 *   meter-tool frost-proof DOMAIN VERSION FILE SHARE.json...
 *       a t-of-n FROST signature (commit, sign, each share checked against
 *       its verifying share, aggregate) of the canonical JSON of FILE under
 *       DOMAIN, checked with the core's Ed25519 verifier under the group
 *       key; prints {"scheme":"frost","centers_version","sig"}
 *   meter-tool multisig-proof DOMAIN VERSION FILE KEY.pem...
 *       prints {"scheme":"multisig","centers_version","sigs":[...]}
 *   meter-tool check-voucher FT_PUBKEY FILE|-
 *       meter_voucher_check + meter_voucher_verify; prints "kind status"
 * Exit 0 when the check passes, 1 with the reason on stderr otherwise,
 * 2 for a usage error. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <cairn/util.h>

#include "cjson.h"
#include "crypto.h"
#include "formats.h"
#include "frost.h"

static int fail (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static int
fail (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("meter-tool: %s\n", msg);
  return 1;
}

/* A JSON file ("-": stdin), parsed strictly. */
static json_t *
load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (strcmp (path, "-") == 0) {
    g_autoptr (GString) s = g_string_new (NULL);
    char buf[4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
      g_string_append_len (s, buf, (gssize)n);
    len = s->len;
    text = g_string_free (g_steal_pointer (&s), FALSE);
  } else if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  return cairn_cjson_parse (text, len, FALSE, error);
}

static gboolean
hex32 (const json_t *obj, const char *key, uint8_t out[32])
{
  const char *s = json_string_value (json_object_get (obj, key));
  return cairn_hex_lower_valid (s, 32) && cairn_hex_decode (s, out, 32);
}

typedef struct {
  guint16 id;
  guint t, n;
  char address[41];
  uint8_t share[32], vshare[32], group[32];
} Share;

static gboolean
load_share (const char *path, Share *s, GError **error)
{
  g_autoptr (json_t) j = load (path, error);
  if (j == NULL)
    return FALSE;
  static const char *const keys[]
      = { "kind",         "identifier", "address", "share", "verifying_share",
          "group_pubkey", "t",          "n" };
  json_t *id = json_object_get (j, "identifier");
  const char *addr = json_string_value (json_object_get (j, "address"));
  gboolean ok = json_is_object (j)
                && json_object_size (j) == G_N_ELEMENTS (keys)
                && g_strcmp0 (json_string_value (json_object_get (j, "kind")),
                              "cairn-frost-share")
                       == 0
                && json_is_integer (id) && json_integer_value (id) >= 1
                && json_integer_value (id) <= CAIRN_THRESHOLD_MAX_PARTICIPANTS
                && cairn_address_valid (addr) && hex32 (j, "share", s->share)
                && hex32 (j, "verifying_share", s->vshare)
                && hex32 (j, "group_pubkey", s->group)
                && json_is_integer (json_object_get (j, "t"))
                && json_is_integer (json_object_get (j, "n"));
  if (!ok) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: not a cairn-frost-share file with identifier, address, "
                 "share, verifying_share, group_pubkey, t and n",
                 path);
    return FALSE;
  }
  s->id = (guint16)json_integer_value (id);
  s->t = (guint)json_integer_value (json_object_get (j, "t"));
  s->n = (guint)json_integer_value (json_object_get (j, "n"));
  memcpy (s->address, addr, 41);
  uint8_t vs[32];
  if (!frost_verifying_share (s->share, vs, error))
    return FALSE;
  if (memcmp (vs, s->vshare, 32) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: share * G is not the file's verifying_share", path);
    return FALSE;
  }
  return TRUE;
}

static int
check_reading (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) r = load (path, &error);
  if (r == NULL || !meter_reading_check (r, &error)
      || !meter_reading_verify (r, cairn_ed25519_verify, &error))
    return fail ("%s", error->message);
  char id[65];
  meter_reading_id (r, id);
  g_print ("%s\n", id);
  return 0;
}

static int
check_share (const char *share_path, const char *centers_path)
{
  g_autoptr (GError) error = NULL;
  Share s;
  if (!load_share (share_path, &s, &error))
    return fail ("%s", error->message);
  g_autoptr (json_t) c = load (centers_path, &error);
  if (c == NULL)
    return fail ("%s", error->message);
  uint8_t group[32], vs[32];
  json_t *members = json_object_get (c, "members");
  json_t *m = json_array_get (members, s.id - 1);
  if (!hex32 (c, "group_pubkey", group) || memcmp (group, s.group, 32) != 0)
    return fail ("%s: group_pubkey differs from %s's", share_path,
                 centers_path);
  if (m == NULL || !hex32 (m, "verifying_share", vs)
      || memcmp (vs, s.vshare, 32) != 0)
    return fail ("%s: verifying_share differs from members[%u] of %s",
                 share_path, s.id - 1, centers_path);
  if (g_strcmp0 (json_string_value (json_object_get (m, "address")), s.address)
      != 0)
    return fail ("%s: address %s is not members[%u]'s", share_path, s.address,
                 s.id - 1);
  if ((json_int_t)s.t != json_integer_value (json_object_get (c, "t"))
      || s.n != json_array_size (members))
    return fail ("%s: t or n differs from %s", share_path, centers_path);
  g_print ("share %u of %u ok\n", s.id, s.n);
  return 0;
}

/* domain "\0" canonical JSON of FILE (g_free); *payload_len its JSON part. */
static char *
message_of (const char *domain, const char *file, size_t *len, char **payload,
            size_t *payload_len, GError **error)
{
  g_autoptr (json_t) v = load (file, error);
  if (v == NULL)
    return NULL;
  *payload = meter_canonical (v, payload_len);
  size_t dl = strlen (domain) + 1;
  char *msg = g_malloc (dl + *payload_len);
  memcpy (msg, domain, dl);
  memcpy (msg + dl, *payload, *payload_len);
  *len = dl + *payload_len;
  return msg;
}

static int
frost_proof (const char *domain, const char *version, const char *file,
             char **share_paths, guint k)
{
  g_autoptr (GError) error = NULL;
  g_autofree Share *s = g_new0 (Share, k);
  for (guint i = 0; i < k; i++) {
    if (!load_share (share_paths[i], &s[i], &error))
      return fail ("%s", error->message);
    if (memcmp (s[i].group, s[0].group, 32) != 0)
      return fail ("%s and %s are shares of different groups", share_paths[0],
                   share_paths[i]);
  }
  size_t len, plen;
  g_autofree char *payload = NULL;
  g_autofree char *msg
      = message_of (domain, file, &len, &payload, &plen, &error);
  if (msg == NULL)
    return fail ("%s", error->message);
  g_autofree CairnFrostNonces *nonces = g_new0 (CairnFrostNonces, k);
  g_autofree CairnFrostCommitment *comms = g_new0 (CairnFrostCommitment, k);
  g_autofree CairnFrostShare *sig_shares = g_new0 (CairnFrostShare, k);
  for (guint i = 0; i < k; i++)
    if (!frost_commit (s[i].id, s[i].share, &nonces[i], &comms[i], &error))
      return fail ("commit of %s: %s", share_paths[i], error->message);
  for (guint i = 0; i < k; i++) {
    sig_shares[i].identifier = s[i].id;
    if (!frost_sign (s[i].id, s[i].share, s[0].group, &nonces[i], comms, k, msg,
                     len, sig_shares[i].share, &error)
        || !frost_verify_share (&sig_shares[i], s[i].vshare, comms, k,
                                s[0].group, msg, len, &error))
      return fail ("signature share of %s: %s", share_paths[i], error->message);
  }
  uint8_t sig[64];
  if (!frost_aggregate (comms, k, sig_shares, k, s[0].group, msg, len, sig,
                        &error))
    return fail ("aggregate: %s", error->message);
  uint8_t group[32];
  memcpy (group, s[0].group, 32);
  sodium_memzero (s, sizeof *s * k);
  /* An ordinary Ed25519 signature under the group key. */
  if (!cairn_ed25519_verify (group, domain, payload, plen, sig))
    return fail ("the aggregated signature does not verify under the group "
                 "key");
  g_autofree char *hex = cairn_hex_encode (sig, 64);
  g_print ("{\"centers_version\":%s,\"scheme\":\"frost\",\"sig\":\"%s\"}\n",
           version, hex);
  return 0;
}

static int
multisig_proof (const char *domain, const char *version, const char *file,
                char **keys, guint k)
{
  g_autoptr (GError) error = NULL;
  size_t len, plen;
  g_autofree char *payload = NULL;
  g_autofree char *msg
      = message_of (domain, file, &len, &payload, &plen, &error);
  if (msg == NULL)
    return fail ("%s", error->message);
  g_autoptr (json_t) sigs = json_array ();
  for (guint i = 0; i < k; i++) {
    g_autoptr (CairnKey) key = cairn_key_load (keys[i], &error);
    if (key == NULL)
      return fail ("%s", error->message);
    uint8_t sig[64];
    cairn_key_sign (key, domain, payload, plen, sig);
    g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
    g_autofree char *sh = cairn_hex_encode (sig, 64);
    json_array_append_new (sigs,
                           json_pack ("{s:s,s:s}", "pubkey", pk, "sig", sh));
  }
  g_autoptr (json_t) proof = json_pack (
      "{s:s,s:I,s:O}", "scheme", "multisig", "centers_version",
      (json_int_t)g_ascii_strtoll (version, NULL, 10), "sigs", sigs);
  g_autofree char *text = meter_canonical (proof, NULL);
  g_print ("%s\n", text);
  return 0;
}

static int
check_voucher (const char *pub_hex, const char *path)
{
  uint8_t pub[32];
  if (!cairn_hex_lower_valid (pub_hex, 32)
      || !cairn_hex_decode (pub_hex, pub, 32))
    return fail ("FT_PUBKEY '%s' is not 64 lower-case hex", pub_hex);
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) v = load (path, &error);
  if (v == NULL || !meter_voucher_check (v, &error)
      || !meter_voucher_verify (v, pub, cairn_ed25519_verify, &error))
    return fail ("%s", error->message);
  g_print ("%s %s\n", json_string_value (json_object_get (v, "kind")),
           json_string_value (json_object_get (v, "status")));
  return 0;
}

int
main (int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp (cmd, "check-reading") == 0 && argc == 3)
    return check_reading (argv[2]);
  if (strcmp (cmd, "check-share") == 0 && argc == 4)
    return check_share (argv[2], argv[3]);
  if (strcmp (cmd, "frost-proof") == 0 && argc >= 6)
    return frost_proof (argv[2], argv[3], argv[4], argv + 5, (guint)(argc - 5));
  if (strcmp (cmd, "multisig-proof") == 0 && argc >= 6)
    return multisig_proof (argv[2], argv[3], argv[4], argv + 5,
                           (guint)(argc - 5));
  if (strcmp (cmd, "check-voucher") == 0 && argc == 4)
    return check_voucher (argv[2], argv[3]);
  g_printerr ("usage: meter-tool check-reading FILE | check-share SHARE "
              "CENTERS | frost-proof DOMAIN VERSION FILE SHARE... | "
              "multisig-proof DOMAIN VERSION FILE KEY... | check-voucher "
              "FT_PUBKEY FILE\n");
  return 2;
}

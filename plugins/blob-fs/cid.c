/* blob-fs: CIDs as text. Every blob-fs id is a dag-pb node hashed with
 * sha2-256, so a CID is just that digest under one of two spellings:
 *
 *   CIDv0  base58btc(0x12 0x20 digest)                   "Qm…" (46 chars)
 *   CIDv1  'b' base32(0x01 0x70 0x12 0x20 digest)        "bafybei…" (59)
 *
 * (0x01 version, 0x70 dag-pb, 0x12 sha2-256, 0x20 its length; base32 is
 * RFC 4648 lower case without padding, 'B' the same in upper case.) */
#include "blob_fs.h"

#include <string.h>

#define MH_SHA2_256 0x12u
#define CODEC_DAG_PB 0x70u
#define MH_LEN (2u + BLOB_FS_DIGEST_LEN)
#define CIDV1_LEN (2u + MH_LEN)
#define CIDV0_CHARS 46u

static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b32_upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b58[]
    = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static char *
base32_encode (const char *prefix, const uint8_t *in, size_t len,
               const char *alphabet)
{
  GString *s = g_string_new (prefix);
  uint32_t acc = 0;
  unsigned bits = 0;

  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      g_string_append_c (s, alphabet[(acc >> bits) & 31]);
    }
  }
  if (bits > 0)
    g_string_append_c (s, alphabet[(acc << (5 - bits)) & 31]);
  return g_string_free (s, FALSE);
}

static void
multihash (const uint8_t digest[BLOB_FS_DIGEST_LEN], uint8_t out[MH_LEN])
{
  out[0] = MH_SHA2_256;
  out[1] = BLOB_FS_DIGEST_LEN;
  memcpy (out + 2, digest, BLOB_FS_DIGEST_LEN);
}

char *
blob_fs_cid_v1 (const uint8_t digest[BLOB_FS_DIGEST_LEN])
{
  uint8_t cid[CIDV1_LEN] = { 0x01, CODEC_DAG_PB };
  multihash (digest, cid + 2);
  return base32_encode ("b", cid, sizeof cid, b32_lower);
}

char *
blob_fs_block_key (const uint8_t digest[BLOB_FS_DIGEST_LEN])
{
  uint8_t mh[MH_LEN];
  multihash (digest, mh);
  return base32_encode ("", mh, sizeof mh, b32_upper);
}

char *
blob_fs_cid_v0 (const uint8_t digest[BLOB_FS_DIGEST_LEN])
{
  uint8_t mh[MH_LEN];
  uint8_t b58digits[CIDV0_CHARS + 4] = { 0 }; /* little-endian base 58 */
  size_t n = 0;

  multihash (digest, mh);
  for (size_t i = 0; i < MH_LEN; i++) {
    unsigned carry = mh[i];
    for (size_t j = 0; j < n; j++) {
      carry += (unsigned)b58digits[j] << 8;
      b58digits[j] = carry % 58;
      carry /= 58;
    }
    while (carry > 0) {
      b58digits[n++] = carry % 58;
      carry /= 58;
    }
  }
  /* mh[0] is never 0, so there are no leading zero bytes ('1's). */
  char *s = g_malloc (n + 1);
  for (size_t j = 0; j < n; j++)
    s[j] = b58[b58digits[n - 1 - j]];
  s[n] = '\0';
  return s;
}

static gboolean invalid (GError **error, const char *text, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError **error, const char *text, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
               "invalid CID '%.80s%s': %s", text, strlen (text) > 80 ? "…" : "",
               why);
  return FALSE;
}

/* Decodes base58btc text into out[len] exactly (big-endian, leading '1's
 * are zero bytes). */
static gboolean
base58_decode (const char *text, uint8_t *out, size_t len, GError **error)
{
  size_t zeros = 0, n = 0; /* n: significant bytes, little-endian in tmp */
  g_autofree uint8_t *tmp = g_malloc0 (len + 1);

  for (size_t i = 0; text[i] != '\0'; i++) {
    const char *p = strchr (b58, text[i]);
    if (p == NULL)
      return invalid (error, text,
                      "'%c' at position %zu is not a base58btc character",
                      text[i], i + 1);
    unsigned carry = (unsigned)(p - b58);
    if (carry == 0 && n == 0) {
      zeros++;
      continue;
    }
    for (size_t j = 0; j < n; j++) {
      carry += (unsigned)tmp[j] * 58;
      tmp[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      if (n == len)
        return invalid (error, text, "more than %zu bytes in base58btc", len);
      tmp[n++] = carry & 0xff;
      carry >>= 8;
    }
  }
  if (zeros + n != len)
    return invalid (error, text,
                    "decodes to %zu bytes; a CIDv0 is a %zu-byte multihash",
                    zeros + n, len);
  memset (out, 0, zeros);
  for (size_t j = 0; j < n; j++)
    out[zeros + j] = tmp[n - 1 - j];
  return TRUE;
}

/* Decodes base32 (one case, no padding) into a new array. */
static GByteArray *
base32_decode (const char *full, const char *text, const char *alphabet,
               GError **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  uint32_t acc = 0;
  unsigned bits = 0;

  for (size_t i = 0; text[i] != '\0'; i++) {
    const char *p = strchr (alphabet, text[i]);
    if (p == NULL) {
      invalid (error, full,
               "'%c' at position %zu is not a base32 character (%s)", text[i],
               i + 2, alphabet);
      return NULL;
    }
    acc = (acc << 5) | (uint32_t)(p - alphabet);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      uint8_t byte = (acc >> bits) & 0xff;
      g_byte_array_append (out, &byte, 1);
    }
  }
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) {
    invalid (error, full, "base32 text does not end on a byte boundary");
    return NULL;
  }
  return g_steal_pointer (&out);
}

static gboolean
read_varint (const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  *v = 0;
  for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      return TRUE;
  }
  return FALSE;
}

/* A binary multihash that must be sha2-256 and end exactly at end. */
static gboolean
parse_multihash (const char *text, const uint8_t *p, const uint8_t *end,
                 uint8_t digest[BLOB_FS_DIGEST_LEN], GError **error)
{
  uint64_t fn, len;

  if (!read_varint (&p, end, &fn) || !read_varint (&p, end, &len))
    return invalid (error, text, "truncated multihash");
  if (fn != MH_SHA2_256)
    return invalid (error, text,
                    "hash function 0x%" G_GINT64_MODIFIER
                    "x is not sha2-256 (0x12), the only one blob-fs uses",
                    fn);
  if (len != BLOB_FS_DIGEST_LEN)
    return invalid (error, text,
                    "sha2-256 digest of %" G_GUINT64_FORMAT " bytes; it has 32",
                    len);
  if ((size_t)(end - p) != BLOB_FS_DIGEST_LEN)
    return invalid (error, text, "%zu bytes of digest; sha2-256 has 32",
                    (size_t)(end - p));
  memcpy (digest, p, BLOB_FS_DIGEST_LEN);
  return TRUE;
}

gboolean
blob_fs_cid_parse (const char *text, uint8_t digest[BLOB_FS_DIGEST_LEN],
                   GError **error)
{
  if (text == NULL || *text == '\0')
    return invalid (error, "", "empty");

  if (g_str_has_prefix (text, "Qm")) {
    uint8_t mh[MH_LEN];
    if (strlen (text) != CIDV0_CHARS)
      return invalid (error, text,
                      "%zu characters; a CIDv0 ('Qm…') has exactly 46",
                      strlen (text));
    return base58_decode (text, mh, sizeof mh, error)
           && parse_multihash (text, mh, mh + sizeof mh, digest, error);
  }

  const char *alphabet = text[0] == 'b'   ? b32_lower
                         : text[0] == 'B' ? b32_upper
                                          : NULL;
  if (alphabet == NULL)
    return invalid (error, text,
                    "multibase prefix '%c' is not read by blob-fs; write the "
                    "CIDv1 in base32 ('b…') or the CIDv0 ('Qm…')",
                    text[0]);
  g_autoptr (GByteArray) bytes
      = base32_decode (text, text + 1, alphabet, error);
  if (bytes == NULL)
    return FALSE;
  /* "b" alone: an empty array has no data pointer to offset (UB). */
  if (bytes->len == 0)
    return invalid (error, text, "truncated CID version");

  const uint8_t *p = bytes->data, *end = bytes->data + bytes->len;
  uint64_t version, codec;
  if (!read_varint (&p, end, &version))
    return invalid (error, text, "truncated CID version");
  if (version != 1)
    return invalid (error, text,
                    "CID version %" G_GUINT64_FORMAT
                    " in a multibase string; only version 1 is",
                    version);
  if (!read_varint (&p, end, &codec))
    return invalid (error, text, "truncated codec");
  if (codec != CODEC_DAG_PB)
    return invalid (error, text,
                    "codec 0x%" G_GINT64_MODIFIER
                    "x is not dag-pb (0x70); blob-fs ids are dag-pb nodes%s",
                    codec, codec == 0x55 ? " (0x55 is a raw block)" : "");
  return parse_multihash (text, p, end, digest, error);
}

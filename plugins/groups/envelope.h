/* The encrypted envelope of one version of a group activity
 * (plugins/groups/README.md, "The envelope"). Shared by the plugin and the
 * `cairn group` CLI; calls nothing of the host, only OpenSSL, GLib/GIO (for
 * G_IO_ERROR) and Jansson.
 *
 * Byte-exact details the README leaves implicit: the content AAD is
 * "cairn.groups.content/1" and its NUL, the group id as 64 ASCII hex, be64
 * version; the wrap AAD is "cairn.groups.wrap/1" and its NUL, the group id
 * (64 ASCII hex), be64 version, the raw 32-byte commitment, the address (40
 * ASCII hex); the HKDF info is "cairn.groups.wrap/1" without a NUL and the
 * salt is the raw epk followed by the raw member key. A version is 1 to
 * 2^63 - 1 (a JSON integer). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define GRP_MAGIC "CAIRNGRP"
#define GRP_FORMAT 1u
#define GRP_FIXED 16u /* magic, format, reserved, header length */
#define GRP_TAG 16u   /* AES-GCM tag */
#define GRP_NONCE 12u
#define GRP_WRAP 48u /* wrapped 32-byte key + tag */
#define GRP_MAX_HEADER (256u << 10)

typedef struct {
  char addr[41];  /* 40 lowercase hex + NUL */
  uint8_t pk[32]; /* X25519 public key */
} GrpRecipient;

/* A parsed (not yet decrypted) envelope; free with grp_envelope_free. */
typedef struct {
  char group[65];
  uint64_t version;
  uint8_t epk[32];
  uint8_t nonce[GRP_NONCE];
  GrpRecipient *recipients;   /* sorted by address, unique */
  uint8_t (*wraps)[GRP_WRAP]; /* wraps[i] belongs to recipients[i] */
  size_t n_recipients;
  uint8_t commitment[32]; /* SHA-256 (ciphertext || tag) */
  uint8_t keys_hash[32];  /* SHA-256 (header bytes) */
  uint64_t size;          /* plaintext length */
  GBytes *bytes;          /* the whole envelope */
  size_t cipher_offset;   /* where ciphertext || tag starts in bytes */
} GrpEnvelope;

void grp_envelope_free (GrpEnvelope *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GrpEnvelope, grp_envelope_free)

/* Encrypt plain for the recipients (any order, unique addresses, 1..n)
 * under a fresh content key and ephemeral key. The result's recipients are
 * sorted by address. Errors: G_IO_ERROR_INVALID_ARGUMENT (bad group id,
 * version 0 or over 2^63 - 1, no or duplicate recipients, an address that
 * is not 40 lowercase hex, a recipient key of small order, a header over
 * GRP_MAX_HEADER), G_IO_ERROR_FAILED (OpenSSL). */
GrpEnvelope *grp_seal (const char *group, uint64_t version,
                       const GrpRecipient *recipients, size_t n,
                       const void *plain, size_t len, GError **error);

/* Parse and check the structure (magic, format, zero reserved bytes,
 * header length <= GRP_MAX_HEADER, canonical header: exact key sets,
 * integers only, hex fields lowercase and of exact length, at least one
 * recipient; ciphertext || tag at least GRP_TAG bytes) and compute
 * commitment, keys_hash and size. Decrypts nothing, so a tampered
 * ciphertext parses (with another commitment) and fails in grp_open.
 * Takes a ref on bytes. Errors: G_IO_ERROR_INVALID_DATA naming the part. */
GrpEnvelope *grp_envelope_parse (GBytes *bytes, GError **error);

/* Decrypt as recipient addr with its X25519 private key (32 raw bytes).
 * Errors: G_IO_ERROR_NOT_FOUND (addr is not a recipient, or priv is not
 * the key the envelope was wrapped for), G_IO_ERROR_INVALID_DATA (a wrap
 * or the ciphertext fails its tag: tampered; or an unusable epk),
 * G_IO_ERROR_FAILED (OpenSSL). */
GBytes *grp_open (const GrpEnvelope *env, const char *addr,
                  const uint8_t priv[32], GError **error);

/* ---- X25519 keys ---- */
/* A new key pair. */
gboolean grp_key_generate (uint8_t priv[32], uint8_t pub[32], GError **error);
gboolean grp_key_public (const uint8_t priv[32], uint8_t pub[32],
                         GError **error);
/* Read a PKCS#8 PEM X25519 private key (unencrypted; also one made by
 * `openssl genpkey -algorithm X25519`). Errors name the path: the
 * G_IO_ERROR code of errno (NOT_FOUND for a missing file), INVALID_DATA
 * (not a PEM private key, or not an X25519 one). */
gboolean grp_key_load (const char *path, uint8_t priv[32], GError **error);
/* Write one as PKCS#8 PEM, mode 0600, atomically (a temporary file in the
 * same directory, renamed into place); refuses to overwrite an existing
 * file (G_IO_ERROR_EXISTS). Other errors: the code of errno, naming the
 * path. */
gboolean grp_key_save (const char *path, const uint8_t priv[32],
                       GError **error);

/* KEK = HKDF-SHA256 (IKM = X25519 (mine, peer), salt = epk || pk,
 * info): the key-wrapping key of a recipient. The sealer passes (its
 * ephemeral key, pk), the recipient (its key, epk). FALSE for a peer key of
 * small order or an OpenSSL failure (kek is then wiped). Also used by the
 * im content format (plugins/im/imcrypt.c). */
typedef struct evp_pkey_st EVP_PKEY;
gboolean grp_x25519_kek (EVP_PKEY *mine, const uint8_t peer[32],
                         const uint8_t epk[32], const uint8_t pk[32],
                         const char *info, uint8_t kek[32]);

/* Lowercase hex of n bytes (out has 2n + 1). */
void grp_hex (const uint8_t *in, size_t n, char *out);

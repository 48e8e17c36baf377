/* Keys, signatures and hashes (OpenSSL 3).
 *
 * Keys are Ed25519, stored as unencrypted PKCS#8 PEM files with mode 0600
 * ("-----BEGIN PRIVATE KEY-----", readable by `openssl pkey`).
 * Signatures are Ed25519 over "<domain>\0<message>" so a signature made for
 * one purpose (a tx, a block, a vote) is never valid for another.
 * An address is the lowercase hex of the first 20 bytes of SHA-256(pubkey). */
#pragma once

#include <stdint.h>

#include <glib.h>

#define CAIRN_DOMAIN_TX "cairn/tx/v1"
#define CAIRN_DOMAIN_BLOCK "cairn/block/v1"

typedef struct CairnKey CairnKey;

CairnKey *cairn_key_generate (GError **error);
CairnKey *cairn_key_load (const char *path, GError **error);
/* Creates the file with mode 0600; refuses to overwrite (CAIRN_ERROR_CONFLICT).
 */
gboolean cairn_key_save (CairnKey *key, const char *path, GError **error);
void cairn_key_free (CairnKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnKey, cairn_key_free)

/* An Ed25519 public key from a PEM file ("BEGIN PUBLIC KEY", as
 * `openssl pkey -pubout` writes it). */
gboolean cairn_pubkey_load (const char *path, uint8_t pubkey[32],
                            GError **error);

const uint8_t *cairn_key_pubkey (const CairnKey *key); /* 32 bytes */
const char *cairn_key_address (const CairnKey *key);   /* 40 hex */
void cairn_key_sign (const CairnKey *key, const char *domain, const void *msg,
                     size_t len, uint8_t sig[64]);

/* Thread-safe; may be called from worker threads. */
gboolean cairn_ed25519_verify (const uint8_t pubkey[32], const char *domain,
                               const void *msg, size_t len,
                               const uint8_t sig[64]);

void cairn_sha256 (const void *data, size_t len, uint8_t out[32]);
void cairn_address_from_pubkey (const uint8_t pubkey[32], char out[41]);
/* The 2n lowercase hex digits of in[0..n) and a NUL into out (2n + 1
 * bytes); cairn_hex_encode (cairn/util.h) when a new string is wanted. */
void cairn_hex_lower_into (const uint8_t *in, size_t n, char *out);
/* A CIDv1 (raw codec, sha2-256) of digest, as blob stores print one: "b"
 * and the lowercase unpadded base32 (RFC 4648) of 01 55 12 20 digest
 * (g_free). */
char *cairn_cid_raw_sha256 (const uint8_t digest[32]);
/* 40 lowercase hex characters. */
gboolean cairn_address_valid (const char *address);

/* Binary Merkle root (RFC 6962 style: leaf = H(0x00||id), node =
 * H(0x01||l||r), an odd node is promoted); SHA-256("") for n == 0. */
void cairn_merkle_root (const uint8_t (*leaves)[32], size_t n, uint8_t out[32]);

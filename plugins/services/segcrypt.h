/* The encrypted video format of `services` ("aes-256-gcm-seg64k").
 *
 *   header (32 bytes, also the AAD of every segment):
 *     0  "CAIRNVID"           magic
 *     8  1                    version
 *     9  1                    algorithm: AES-256-GCM
 *    10  0 0                  reserved
 *    12  be32 segment size    65536
 *    16  be64 plaintext length
 *    24  8 random bytes       nonce prefix
 *   then segment i = 0, 1, ...: AES-256-GCM of plaintext bytes
 *   [i*S, min((i+1)*S, L)) under the content key, nonce = prefix || be32(i),
 *   followed by its 16-byte tag.
 *
 * Any byte range of the plaintext is decrypted by reading only the
 * segments it covers. The header is authenticated by every segment, so a
 * changed length, segment size or prefix fails the first tag checked; a
 * moved or swapped segment fails its own (the index is in the nonce).
 * Nothing here calls the host: the reading stream runs on any thread. */
#pragma once

#include <stdint.h>

#include <gio/gio.h>
#include <glib.h>

#define SEG_MAGIC "CAIRNVID"
#define SEG_HEADER 32u
#define SEG_SIZE 65536u
#define SEG_TAG 16u
#define SEG_ALG "aes-256-gcm-seg64k"

typedef struct {
  uint32_t segment_size;
  uint64_t plain_len;
  uint8_t prefix[8];
} SegHeader;

/* Parse and check a header (magic, version, algorithm, segment size). */
gboolean seg_header_parse (const uint8_t h[SEG_HEADER], SegHeader *out,
                           GError **error);
/* Size of the encrypted file for a plaintext of plain_len bytes. */
uint64_t seg_cipher_size (uint64_t plain_len, uint32_t segment_size);
/* The ciphertext byte range holding plaintext [offset, offset + length). */
void seg_cipher_range (const SegHeader *h, uint64_t offset, uint64_t length,
                       uint64_t *c_off, uint64_t *c_len);

/* A stream of plaintext [offset, offset + length) decrypted on demand from
 * `cipher`, which must start at the seg_cipher_range() offset. Takes a ref
 * on cipher. A tag failure or a short ciphertext fails the read
 * (G_IO_ERROR_INVALID_DATA). */
GInputStream *seg_reader_new (GInputStream *cipher, const uint8_t key[32],
                              const uint8_t header[SEG_HEADER], uint64_t offset,
                              uint64_t length);

/* The header of a plaintext of plain_len bytes with this nonce prefix. */
void seg_header_build (uint8_t h[SEG_HEADER], uint64_t plain_len,
                       const uint8_t prefix[8]);
/* Encrypt segment `index` (len <= segment size): cipher_out gets len bytes
 * and the tag (len + SEG_TAG). FALSE when OpenSSL fails. */
gboolean seg_encrypt_segment (const uint8_t key[32],
                              const uint8_t header[SEG_HEADER], uint32_t index,
                              const uint8_t *plain, size_t len,
                              uint8_t *cipher_out);
/* Encrypt all of plaintext in memory (tests, small files). */
GBytes *seg_encrypt (const uint8_t key[32], const uint8_t prefix[8],
                     const void *plain, size_t len);
/* Decrypt one segment; FALSE when the tag does not match. */
gboolean seg_decrypt_segment (const uint8_t key[32],
                              const uint8_t header[SEG_HEADER], uint32_t index,
                              const uint8_t *cipher, size_t len,
                              uint8_t *plain_out);

/* The encrypted content format of `im` (plugins/im/README.md, "Messages"):
 * a text or a file of any size, encrypted on the sender's machine under a
 * fresh content key K that is wrapped for each recipient (the addressee and
 * the sender), streamed one 64 KiB segment at a time. Shared by the plugin
 * and the `cairn im` CLI; calls nothing of the host, only OpenSSL, GLib/GIO
 * and Jansson.
 *
 *   0     "CAIRNIM1"          magic (the format version is its last byte)
 *   8     be32 H              header length, 1 .. IM_MAX_HEADER
 *   12    header (H bytes): canonical JSON (compact, keys sorted, as
 *         json_dumps (JSON_COMPACT | JSON_SORT_KEYS) writes it; a reader
 *         rejects duplicate keys and anything that is not its own re-dump)
 *           {"epk":  hex32   X25519 ephemeral public key (fresh per blob),
 *            "keys": {ADDR: {"pk": hex32 the recipient's X25519 key,
 *                            "wrap": hex48 K wrapped for it}, ...},
 *            "seg":  hex32   the 32-byte segcrypt header}
 *         exactly these keys; hex is lowercase and of exact length; ADDR
 *         is 40 lowercase hex; 1 .. IM_MAX_RECIPIENTS entries.
 *   12+H  the segments of the plaintext under K, exactly as
 *         plugins/services/segcrypt.h: segment i holds plaintext bytes
 *         [i * 65536, min ((i + 1) * 65536, L)), AES-256-GCM with nonce =
 *         the seg header's 8-byte prefix || be32 (i), AAD = the 32-byte seg
 *         header, then its 16-byte tag. L (the seg header's plaintext
 *         length) fixes the blob's size: 12 + H + L + 16 * ceil (L / 65536)
 *         (a 0-byte content has no segment). Nothing follows the last one.
 *
 * The wrap for recipient (ADDR, pk):
 *   KEK  = HKDF-SHA256 (IKM = X25519 (eph, pk), salt = epk || pk (raw, 64
 *          bytes), info = "cairn.im.wrap/1" (15 bytes, no NUL))
 *   wrap = AES-256-GCM (KEK, nonce = 12 zero bytes, AAD = "cairn.im.wrap/1"
 *          NUL, ADDR (40 ASCII), the raw 32-byte seg header) of K: the 32
 *          encrypted bytes then the 16-byte tag.
 * The zero nonce is safe: each KEK encrypts once (fresh eph per blob). The
 * address in the AAD refuses a wrap moved to another entry even when both
 * entries hold the same key; the seg header in the AAD binds the length and
 * nonce prefix to K, and every segment authenticates that header again.
 *
 * What a reader gets: a plaintext byte is returned only after its
 * segment's tag checked, so a changed blob fails (INVALID_DATA), never
 * yields other plaintext. The header is authenticated per recipient only:
 * a change to another recipient's entry (its address, pk or wrap) does not
 * stop this one from reading the true plaintext. Whole-blob integrity is
 * the signed content_sha256 of the `im.send` record (check it first).
 *
 * Memory: sealing and opening hold one segment (and the header), whatever
 * the size of the content. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>
#include <glib.h>

#define IM_MAGIC "CAIRNIM1"
#define IM_FIXED 12u               /* magic and be32 H */
#define IM_MAX_HEADER (256u << 10) /* H */
#define IM_MAX_RECIPIENTS 8u
#define IM_MAX_SIZE ((uint64_t)1 << 48) /* plaintext bytes (segcrypt's) */
#define IM_WRAP_DOMAIN "cairn.im.wrap/1"

typedef struct {
  char addr[41];  /* 40 lowercase hex + NUL */
  uint8_t pk[32]; /* X25519 public key */
} ImRecipient;

/* Encrypt exactly `size` bytes of `in` (more bytes are left unread) into
 * `out` for 1..IM_MAX_RECIPIENTS recipients (unique addresses, any order),
 * one segment at a time. *sha256 gets the SHA-256 of every byte written
 * and *written their count (either may be NULL). `out` is flushed, not
 * closed. Errors: G_IO_ERROR_INVALID_ARGUMENT (no, too many or duplicate
 * recipients, an address that is not 40 lowercase hex, a recipient key of
 * small order, size over IM_MAX_SIZE), G_IO_ERROR_PARTIAL_INPUT (`in` ended
 * before `size` bytes), G_IO_ERROR_FAILED (OpenSSL), G_IO_ERROR_CANCELLED,
 * or the error of a failed read or write. On error part of the blob may
 * have been written: discard it. */
gboolean im_seal_stream (GInputStream *in, uint64_t size, GOutputStream *out,
                         const ImRecipient *r, size_t n, uint8_t sha256[32],
                         uint64_t *written, GCancellable *cancel,
                         GError **error);

/* The same for small contents (text), in memory. */
GBytes *im_seal_bytes (const void *data, size_t len, const ImRecipient *r,
                       size_t n, uint8_t sha256[32], GError **error);

/* Read and check the fixed part and header from `in` (consumes exactly
 * 12 + H bytes), unwrap K as recipient `addr` with its X25519 private key
 * (32 raw bytes), and return a stream of the plaintext that decrypts the
 * rest of `in` segment by segment as it is read (takes a ref on `in`;
 * closing it closes `in`). *plain_size (may be NULL) gets the plaintext
 * length. Errors: G_IO_ERROR_NOT_FOUND (addr is not a recipient, or priv
 * is not the key it was wrapped for), G_IO_ERROR_INVALID_DATA (bad magic,
 * header or epk, the wrap fails its tag: tampered; truncated), the error
 * of a failed read, G_IO_ERROR_FAILED (OpenSSL). Reading the stream fails
 * with G_IO_ERROR_INVALID_DATA when a segment fails its tag or is cut
 * short, or when bytes follow the last segment (checked at the end). */
GInputStream *im_open_stream (GInputStream *in, const char *addr,
                              const uint8_t priv[32], uint64_t *plain_size,
                              GError **error);

/* The same for a whole blob in memory; the plaintext, or NULL with the
 * errors of im_open_stream (a blob whose length is not the one its header
 * gives: G_IO_ERROR_INVALID_DATA, before any allocation of that size). */
GBytes *im_open_bytes (GBytes *blob, const char *addr, const uint8_t priv[32],
                       GError **error);

/* The recipients listed in a blob's header (addresses, sorted; g_strfreev)
 * without decrypting anything: for `cairn im` to show who can read it.
 * blob_prefix is the blob or its first bytes, at least 12 + H
 * (IM_FIXED + IM_MAX_HEADER bytes always suffice). Errors:
 * G_IO_ERROR_PARTIAL_INPUT (the prefix ends inside the header: fetch
 * more), G_IO_ERROR_INVALID_DATA (bad magic or header). */
char **im_recipients (GBytes *blob_prefix, GError **error);

/* LtHash16 multiset hash of the shared state (Bellare–Micciancio, as used by
 * Meta's "Securing update propagation with homomorphic hashing").
 *
 * The state is a set of (key, value) pairs; each pair maps to 1024 uint16
 * lanes: the 2048-byte ChaCha20 keystream (zero counter and nonce) keyed by
 * SHA-256("cairn/state/v1\0" || u32be(len key) || key || value), read as
 * little-endian uint16; the accumulator is the lane-wise sum mod 2^16. Adding or removing a
 * pair is O(1) in the state size, so a block's state root costs only its
 * write-set. state root = SHA-256(accumulator as 2048 little-endian bytes). */
#pragma once

#include <stdint.h>

#include <glib.h>

#define CAIRN_LTHASH_LANES 1024
#define CAIRN_LTHASH_BYTES (CAIRN_LTHASH_LANES * 2)

typedef struct CairnLtHash {
  uint16_t lanes[CAIRN_LTHASH_LANES];
} CairnLtHash;

void cairn_lthash_init (CairnLtHash *h); /* the empty set */
void cairn_lthash_add (CairnLtHash *h, const char *key, const void *value,
                       size_t len);
void cairn_lthash_remove (CairnLtHash *h, const char *key, const void *value,
                          size_t len);
void cairn_lthash_root (const CairnLtHash *h, uint8_t out[32]);
/* Serialize to / from CAIRN_LTHASH_BYTES little-endian bytes. */
void cairn_lthash_to_bytes (const CairnLtHash *h,
                            uint8_t out[CAIRN_LTHASH_BYTES]);
gboolean cairn_lthash_from_bytes (CairnLtHash *h, const void *data, size_t len);

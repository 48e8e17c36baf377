/* FROST(Ed25519, SHA-512) (RFC 9591, contextString "FROST-ED25519-SHA512-v1")
 * on libsodium, with no host dependency: the threshold plugin puts these
 * functions in its cairn.threshold/1 vtable, and the CLI and the tests
 * compile this file directly (meson: threshold_frost_dep).
 *
 * The first six functions are the service's FROST entries, with the
 * semantics, argument checks and messages documented in
 * <cairn/threshold.h>. The rest are the RFC's deterministic steps, exposed
 * so that the RFC 9591 appendix E.1 test vectors can be checked value by
 * value; production code needs only the first six.
 *
 * Encodings (RFC 9591 section 6.1): a scalar is 32 bytes little-endian and
 * must be below the group order L; an element is a canonical compressed
 * Edwards point in the prime-order subgroup and not the identity; an
 * identifier i is the scalar encoding of the integer i, 1 <= i <=
 * CAIRN_THRESHOLD_MAX_PARTICIPANTS. Every function checks every encoding it
 * is given and fails with CAIRN_ERROR_INVALID naming the argument.
 *
 * Every secret intermediate (nonces, shares, polynomial coefficients,
 * products with them) is wiped with sodium_memzero before a function
 * returns, on success and on failure. All functions are thread-safe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <cairn/error.h>
#include <cairn/threshold.h>

#define FROST_CONTEXT_STRING "FROST-ED25519-SHA512-v1"
/* group public key (32) || H4(msg) (64) || H5(commitments) (64) ||
 * identifier (32): the input of H1 for one participant (section 4.4). */
#define FROST_BINDING_INPUT_BYTES 192

/* ---- the service's FROST entries (see <cairn/threshold.h>) ---- */

gboolean frost_dealer_keygen (guint t, guint n, uint8_t group_pubkey[32],
                              uint8_t (*shares)[32],
                              uint8_t (*verifying_shares)[32], GError **error);
gboolean frost_verifying_share (const uint8_t share[32],
                                uint8_t verifying_share[32], GError **error);
gboolean frost_commit (guint16 identifier, const uint8_t share[32],
                       CairnFrostNonces *nonces,
                       CairnFrostCommitment *commitment, GError **error);
gboolean frost_sign (guint16 identifier, const uint8_t share[32],
                     const uint8_t group_pubkey[32], CairnFrostNonces *nonces,
                     const CairnFrostCommitment *commitments,
                     guint n_commitments, const void *msg, size_t len,
                     uint8_t sig_share[32], GError **error);
gboolean frost_verify_share (const CairnFrostShare *share,
                             const uint8_t verifying_share[32],
                             const CairnFrostCommitment *commitments,
                             guint n_commitments,
                             const uint8_t group_pubkey[32], const void *msg,
                             size_t len, GError **error);
gboolean frost_aggregate (const CairnFrostCommitment *commitments,
                          guint n_commitments, const CairnFrostShare *shares,
                          guint n_shares, const uint8_t group_pubkey[32],
                          const void *msg, size_t len, uint8_t sig[64],
                          GError **error);

/* ---- encodings ---- */

/* sodium_init, once per process (the entries above call it themselves). */
gboolean frost_init (GError **error);
/* TRUE when s < L (constant time). */
gboolean frost_scalar_is_canonical (const uint8_t s[32]);
/* RFC DeserializeElement: a canonical encoding of a point of the
 * prime-order subgroup other than the identity. `what` names the argument
 * in the error ("group_pubkey"). */
gboolean frost_element_check (const uint8_t e[32], const char *what,
                              GError **error);
/* RFC DeserializeScalar: canonical (< L). */
gboolean frost_scalar_check (const uint8_t s[32], const char *what,
                             GError **error);
/* SerializeScalar(identifier). */
void frost_identifier_scalar (guint16 identifier, uint8_t out[32]);

/* ---- deterministic steps (RFC 9591 sections 4 and 5, appendix C) ---- */

/* Appendix C, trusted_dealer_keygen with the polynomial given: f(x) =
 * secret + coefficients[0] x + ... + coefficients[t-2] x^(t-1). Writes the
 * group public key, shares[i] = f(i+1), verifying_shares[i] = shares[i] * G
 * and, when vss_commitment is not NULL, the t elements of vss_commit
 * ([secret*G, coefficients[0]*G, ...]). Every coefficient and the secret
 * must be canonical and non-zero. */
gboolean
frost_keygen_with_coefficients (guint t, guint n, const uint8_t secret[32],
                                const uint8_t (*coefficients)[32],
                                uint8_t group_pubkey[32], uint8_t (*shares)[32],
                                uint8_t (*verifying_shares)[32],
                                uint8_t (*vss_commitment)[32], GError **error);
/* Appendix C.2, vss_verify: share * G == sum_j vss_commitment[j] * i^j. */
gboolean frost_vss_verify (guint16 identifier, const uint8_t share[32],
                           const uint8_t (*vss_commitment)[32], guint t,
                           GError **error);
/* Appendix C.1, polynomial_interpolate_constant: f(0) from n points.
 * For tests only: it materialises the group secret. */
gboolean frost_interpolate_secret (const guint16 *identifiers,
                                   const uint8_t (*shares)[32], guint n,
                                   uint8_t secret[32], GError **error);

/* Section 4.1, nonce_generate with the 32 random bytes given:
 * H3(random || SerializeScalar(secret)). */
gboolean frost_nonce_generate (const uint8_t random[32],
                               const uint8_t secret[32], uint8_t nonce[32],
                               GError **error);
/* Section 5.1, commit with the randomness of both nonce_generate calls
 * given (the hiding nonce's first). */
gboolean frost_commit_with_randomness (
    guint16 identifier, const uint8_t share[32],
    const uint8_t hiding_random[32], const uint8_t binding_random[32],
    CairnFrostNonces *nonces, CairnFrostCommitment *commitment, GError **error);

/* Section 4.4, compute_binding_factors over the commitment list sorted by
 * identifier (commitments may be in any order; checked as in frost_sign).
 * factors[i] (and inputs[i], the H1 input, when inputs is not NULL) is for
 * commitments[i]. */
gboolean frost_binding_factors (const uint8_t group_pubkey[32],
                                const CairnFrostCommitment *commitments,
                                guint n_commitments, const void *msg,
                                size_t len,
                                uint8_t (*inputs)[FROST_BINDING_INPUT_BYTES],
                                uint8_t (*factors)[32], GError **error);
/* Sections 4.5 and 4.6: the group commitment R and the challenge
 * H2(R || group_pubkey || msg). */
gboolean frost_group_commitment (const uint8_t group_pubkey[32],
                                 const CairnFrostCommitment *commitments,
                                 guint n_commitments, const void *msg,
                                 size_t len, uint8_t group_commitment[32],
                                 uint8_t challenge[32], GError **error);
/* Section 4.2, derive_interpolating_value: the Lagrange coefficient at 0 of
 * `identifier` within identifiers[0..n) (distinct, in 1..MAX). */
gboolean frost_interpolating_value (const guint16 *identifiers, guint n,
                                    guint16 identifier, uint8_t value[32],
                                    GError **error);

/* Cairn SDK — the cairn.threshold/1 service: t-of-n signatures.
 *
 * Provided by the `threshold` plugin. A plugin that needs t-of-n signing
 * lists {CAIRN_THRESHOLD_SERVICE, CAIRN_THRESHOLD_SERVICE_VERSION} in its
 * descriptor's `requires` and looks the vtable up in init.
 *
 * Two schemes:
 *
 *  - MULTISIG: each of n members holds an ordinary Ed25519 key; a proof is
 *    at least t signatures by distinct members over the same message. Simple
 *    and each signer is visible, but a proof grows with t.
 *
 *  - FROST (RFC 9591, ciphersuite FROST(Ed25519, SHA-512),
 *    "FROST-ED25519-SHA512-v1"): a trusted dealer splits one group key into n
 *    shares (Shamir, degree t-1); any t members make, in two rounds, one
 *    signature that is an ordinary 64-byte Ed25519 signature under the group
 *    public key, checked with any Ed25519 verifier (host->ed25519_verify,
 *    OpenSSL, libsodium). To be checked with
 *    host->ed25519_verify (group_pubkey, domain, payload, len, sig), sign
 *    the message domain "\0" payload, as every Cairn signature is.
 *
 * Encodings are RFC 9591's for Ed25519: a scalar is 32 bytes little-endian
 * and below the group order L; an element is a 32-byte compressed Edwards
 * point in the prime-order subgroup and not the identity. Participant
 * identifiers are 1..n (RFC 9591 section 5.1, scalar encoding of the
 * integer). Every function that takes an encoding checks it and fails with
 * CAIRN_ERROR_INVALID naming the argument ("commitment of participant 3:
 * binding nonce commitment is not a valid element").
 *
 * Secrets (shares, nonces) are caller-owned buffers; the service never keeps
 * them. frost_sign wipes the nonces it was given, so a nonce pair can sign
 * only once: never persist nonces, never reuse them.
 *
 * Every function is thread-safe and does not touch node state; they need no
 * tx context and may run on any thread.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "abi.h"
#include "plugin.h"

#define CAIRN_THRESHOLD_SERVICE "cairn.threshold"
#define CAIRN_THRESHOLD_SERVICE_VERSION 1

/* Largest n for both schemes. */
#define CAIRN_THRESHOLD_MAX_PARTICIPANTS 64

/* One member's secret nonces from round 1 (RFC 9591 section 5.1). Secret:
 * kept in memory only until the member's round 2, then wiped by it. */
typedef struct CairnFrostNonces {
  uint8_t hiding[32];
  uint8_t binding[32];
} CairnFrostNonces;

/* One member's public commitment from round 1. */
typedef struct CairnFrostCommitment {
  uint16_t identifier; /* 1..n */
  uint8_t hiding[32];  /* element: hiding_nonce * G */
  uint8_t binding[32]; /* element: binding_nonce * G */
} CairnFrostCommitment;

/* A signature share from round 2, with who made it. */
typedef struct CairnFrostShare {
  uint16_t identifier; /* 1..n */
  uint8_t share[32];   /* scalar */
} CairnFrostShare;

/* A MULTISIG member's signature. */
typedef struct CairnMultisigSig {
  uint8_t pubkey[32];
  uint8_t sig[64];
} CairnMultisigSig;

typedef struct CairnThresholdService {
  uint32_t size; /* sizeof(CairnThresholdService) in the provider */
  uint32_t reserved;

  /* ---- FROST(Ed25519, SHA-512) ---- */

  /* Trusted-dealer key generation (RFC 9591 appendix C): a fresh random
   * group secret and polynomial of degree t-1; 2 <= t <= n <= MAX.
   * Writes the group public key, each member's signing share
   * (shares[i] for identifier i+1, secret) and verifying share
   * (verifying_shares[i], public: share * G). The group secret is never
   * materialised outside this call and is wiped before it returns. */
  gboolean (*frost_dealer_keygen) (guint t, guint n, uint8_t group_pubkey[32],
                                   uint8_t (*shares)[32],
                                   uint8_t (*verifying_shares)[32],
                                   GError **error);
  /* The verifying share of a signing share (share * G): a member checks
   * what the dealer gave it against the published verifying shares. */
  gboolean (*frost_verifying_share) (const uint8_t share[32],
                                     uint8_t verifying_share[32],
                                     GError **error);
  /* Round 1 (RFC 9591 section 5.1, commit): fresh nonces (32 random bytes
   * and the share through H3) and their commitments. */
  gboolean (*frost_commit) (guint16 identifier, const uint8_t share[32],
                            CairnFrostNonces *nonces,
                            CairnFrostCommitment *commitment, GError **error);
  /* Round 2 (section 5.2, sign): this member's signature share of msg.
   * commitments: the signing set, at least 2, identifiers distinct (any
   * order; sorted internally), and must include this member's commitment
   * with the values matching `nonces`. Wipes *nonces on every return. */
  gboolean (*frost_sign) (guint16 identifier, const uint8_t share[32],
                          const uint8_t group_pubkey[32],
                          CairnFrostNonces *nonces,
                          const CairnFrostCommitment *commitments,
                          guint n_commitments, const void *msg, size_t len,
                          uint8_t sig_share[32], GError **error);
  /* Section 5.4: check one member's signature share against its verifying
   * share (the coordinator names a misbehaving member with it). */
  gboolean (*frost_verify_share) (const CairnFrostShare *share,
                                  const uint8_t verifying_share[32],
                                  const CairnFrostCommitment *commitments,
                                  guint n_commitments,
                                  const uint8_t group_pubkey[32],
                                  const void *msg, size_t len, GError **error);
  /* Section 5.3: the coordinator combines one share per commitment (same
   * identifiers) into the 64-byte Ed25519 signature R || z. It verifies
   * the result under group_pubkey before returning TRUE. */
  gboolean (*frost_aggregate) (const CairnFrostCommitment *commitments,
                               guint n_commitments,
                               const CairnFrostShare *shares, guint n_shares,
                               const uint8_t group_pubkey[32], const void *msg,
                               size_t len, uint8_t sig[64], GError **error);

  /* ---- MULTISIG ---- */

  /* TRUE when sigs hold valid Ed25519 signatures (domain-separated as
   * host->ed25519_verify: domain "\0" msg) by at least t distinct keys of
   * members[0..n). A signature by a non-member, a duplicate member or an
   * invalid signature fails the whole proof, naming it. */
  gboolean (*multisig_verify) (const uint8_t (*members)[32], guint n, guint t,
                               const char *domain, const void *msg, size_t len,
                               const CairnMultisigSig *sigs, guint n_sigs,
                               GError **error);
} CairnThresholdService;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnThresholdService) == 8 + 7 * sizeof (void *),
               "CairnThresholdService is append-only: update the count when "
               "adding");
#endif

/* TRUE when the running provider's vtable has `fn`. */
#define CAIRN_THRESHOLD_HAS(svc, fn)                                           \
  ((svc) != NULL && CAIRN_STRUCT_HAS (svc, (svc)->size, fn)                    \
   && (svc)->fn != NULL)

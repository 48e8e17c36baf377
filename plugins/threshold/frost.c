/* FROST(Ed25519, SHA-512), RFC 9591, on libsodium's edwards25519 group and
 * scalar arithmetic. See frost.h; section numbers below are the RFC's. */
#include "frost.h"

#include <stdarg.h>
#include <string.h>

#include <sodium.h>

#define MAXP CAIRN_THRESHOLD_MAX_PARTICIPANTS

/* The canonical encoding of the identity element (x = 0, y = 1). */
static const uint8_t identity_element[32] = { 1 };

static gboolean fail (GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, int code, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_propagate_error (error, g_error_new_valist (CAIRN_ERROR, code, fmt, ap));
  va_end (ap);
  return FALSE;
}
#define FAIL_INVALID(...) fail (error, CAIRN_ERROR_INVALID, __VA_ARGS__)
#define FAIL_FAILED(...) fail (error, CAIRN_ERROR_FAILED, __VA_ARGS__)

/* ---- init and encodings ---- */

static gpointer
sodium_setup (gpointer unused)
{
  return GINT_TO_POINTER (sodium_init () >= 0 ? 1 : 2);
}

gboolean
frost_init (GError **error)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, sodium_setup, NULL);
  if (GPOINTER_TO_INT (once.retval) != 1)
    return FAIL_FAILED ("libsodium: sodium_init failed");
  return TRUE;
}

gboolean
frost_scalar_is_canonical (const uint8_t s[32])
{
  uint8_t wide[64] = { 0 };
  uint8_t reduced[32];
  gboolean ok;

  /* s < L exactly when reducing it mod L leaves it unchanged. */
  memcpy (wide, s, 32);
  crypto_core_ed25519_scalar_reduce (reduced, wide);
  ok = sodium_memcmp (reduced, s, 32) == 0;
  sodium_memzero (wide, sizeof wide);
  sodium_memzero (reduced, sizeof reduced);
  return ok;
}

gboolean
frost_scalar_check (const uint8_t s[32], const char *what, GError **error)
{
  if (s == NULL)
    return FAIL_INVALID ("%s is missing", what);
  if (!frost_scalar_is_canonical (s))
    return FAIL_INVALID ("%s is not a canonical scalar (it must be 32 bytes "
                         "little-endian below the group order)",
                         what);
  return TRUE;
}

/* 0 valid, 1 the identity, 2 anything else that is not a valid element. */
static int
element_status (const uint8_t e[32])
{
  if (sodium_memcmp (e, identity_element, 32) == 0)
    return 1;
  /* Canonical, on the curve, in the prime-order subgroup, not of small
   * order (the identity is of order 1). */
  return crypto_core_ed25519_is_valid_point (e) == 1 ? 0 : 2;
}

static const char *
element_problem (int status)
{
  return status == 1 ? "is the identity element"
                     : "is not a valid element (a canonical point of the "
                       "prime-order subgroup)";
}

gboolean
frost_element_check (const uint8_t e[32], const char *what, GError **error)
{
  int st;

  if (e == NULL)
    return FAIL_INVALID ("%s is missing", what);
  st = element_status (e);
  if (st != 0)
    return FAIL_INVALID ("%s %s", what, element_problem (st));
  return TRUE;
}

void
frost_identifier_scalar (guint16 identifier, uint8_t out[32])
{
  memset (out, 0, 32);
  out[0] = identifier & 0xff;
  out[1] = identifier >> 8;
}

static gboolean
identifier_check (guint identifier, const char *what, GError **error)
{
  if (identifier < 1 || identifier > MAXP)
    return FAIL_INVALID ("%s: identifier %u is out of range 1..%u", what,
                         identifier, (guint)MAXP);
  return TRUE;
}

/* A share, checked: canonical and not zero (a zero share is a wiped or
 * uninitialised buffer; no dealer hands one out). */
static gboolean
share_check (const uint8_t share[32], const char *what, GError **error)
{
  if (!frost_scalar_check (share, what, error))
    return FALSE;
  if (sodium_is_zero (share, 32))
    return FAIL_INVALID ("%s is zero (wiped or never set?)", what);
  return TRUE;
}

/* G.ScalarBaseMult for a non-zero scalar below L (never the identity). */
static gboolean
base_mult (uint8_t out[32], const uint8_t s[32])
{
  return crypto_scalarmult_ed25519_base_noclamp (out, s) == 0;
}

static const uint8_t *
msg_bytes (const void *msg)
{
  static const uint8_t empty[1] = { 0 };
  return msg != NULL ? msg : empty;
}

/* ---- hashes (section 6.1) ---- */

static void
sha512_update (crypto_hash_sha512_state *st, const void *data, size_t len)
{
  if (len > 0)
    crypto_hash_sha512_update (st, data, len);
}

/* H(contextString || label || data), 64 bytes (H4, H5; H1 and H3 reduce
 * it). */
static void
hash_labelled (const char *label, const void *data, size_t len, uint8_t out[64])
{
  crypto_hash_sha512_state st;

  crypto_hash_sha512_init (&st);
  sha512_update (&st, FROST_CONTEXT_STRING, strlen (FROST_CONTEXT_STRING));
  sha512_update (&st, label, strlen (label));
  sha512_update (&st, data, len);
  crypto_hash_sha512_final (&st, out);
  sodium_memzero (&st, sizeof st);
}

static void
hash_to_scalar (const char *label, const void *data, size_t len,
                uint8_t out[32])
{
  uint8_t digest[64];

  hash_labelled (label, data, len, digest);
  crypto_core_ed25519_scalar_reduce (out, digest);
  sodium_memzero (digest, sizeof digest);
}

/* ---- polynomials (section 4.2, appendix C.1) ---- */

static void
lagrange_at_zero (const guint16 *ids, guint n, guint16 id, uint8_t out[32])
{
  uint8_t num[32] = { 1 }, den[32] = { 1 }, xi[32], xj[32], diff[32];

  frost_identifier_scalar (id, xi);
  for (guint j = 0; j < n; j++) {
    if (ids[j] == id)
      continue;
    frost_identifier_scalar (ids[j], xj);
    crypto_core_ed25519_scalar_mul (num, num, xj);
    crypto_core_ed25519_scalar_sub (diff, xj, xi);
    crypto_core_ed25519_scalar_mul (den, den, diff);
  }
  /* Distinct identifiers below L: den is never zero. */
  if (crypto_core_ed25519_scalar_invert (den, den) != 0)
    g_error ("frost: interpolation denominator is zero");
  crypto_core_ed25519_scalar_mul (out, num, den);
}

/* Identifiers in range, distinct, containing `id` (when id != 0). */
static gboolean
identifiers_check (const guint16 *ids, guint n, guint16 id, GError **error)
{
  gboolean found = FALSE;

  if (ids == NULL || n < 1 || n > MAXP)
    return FAIL_INVALID ("identifiers: %u given, between 1 and %u needed", n,
                         (guint)MAXP);
  for (guint i = 0; i < n; i++) {
    if (!identifier_check (ids[i], "identifiers", error))
      return FALSE;
    for (guint j = 0; j < i; j++)
      if (ids[j] == ids[i])
        return FAIL_INVALID ("identifiers: %u appears twice", ids[i]);
    found |= ids[i] == id;
  }
  if (id != 0 && !found)
    return FAIL_INVALID ("identifiers: %u is not in the list", id);
  return TRUE;
}

gboolean
frost_interpolating_value (const guint16 *identifiers, guint n,
                           guint16 identifier, uint8_t value[32],
                           GError **error)
{
  if (!identifier_check (identifier, "identifier", error)
      || !identifiers_check (identifiers, n, identifier, error))
    return FALSE;
  lagrange_at_zero (identifiers, n, identifier, value);
  return TRUE;
}

gboolean
frost_interpolate_secret (const guint16 *identifiers,
                          const uint8_t (*shares)[32], guint n,
                          uint8_t secret[32], GError **error)
{
  uint8_t acc[32] = { 0 }, lambda[32], term[32];

  if (!identifiers_check (identifiers, n, 0, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!frost_scalar_check (shares[i], "shares", error))
      return FALSE;
  for (guint i = 0; i < n; i++) {
    lagrange_at_zero (identifiers, n, identifiers[i], lambda);
    crypto_core_ed25519_scalar_mul (term, shares[i], lambda);
    crypto_core_ed25519_scalar_add (acc, acc, term);
  }
  memcpy (secret, acc, 32);
  sodium_memzero (acc, sizeof acc);
  sodium_memzero (term, sizeof term);
  return TRUE;
}

/* ---- key generation (appendix C) ---- */

gboolean
frost_keygen_with_coefficients (guint t, guint n, const uint8_t secret[32],
                                const uint8_t (*coefficients)[32],
                                uint8_t group_pubkey[32], uint8_t (*shares)[32],
                                uint8_t (*verifying_shares)[32],
                                uint8_t (*vss_commitment)[32], GError **error)
{
  uint8_t x[32], value[32];
  gboolean ok = FALSE;

  if (!frost_init (error))
    return FALSE;
  if (t < 2 || t > n || n > MAXP)
    return FAIL_INVALID ("t = %u, n = %u: FROST needs 2 <= t <= n <= %u", t, n,
                         (guint)MAXP);
  if (group_pubkey == NULL || shares == NULL || verifying_shares == NULL)
    return FAIL_INVALID ("group_pubkey, shares and verifying_shares are "
                         "required");
  if (!share_check (secret, "secret", error))
    return FALSE;
  if (coefficients == NULL)
    return FAIL_INVALID ("coefficients: %u needed", t - 1);
  for (guint j = 0; j + 1 < t; j++) {
    if (!frost_scalar_check (coefficients[j], "coefficients", error))
      return FALSE;
    if (sodium_is_zero (coefficients[j], 32))
      return FAIL_INVALID ("coefficients[%u] is zero", j);
  }

  if (!base_mult (group_pubkey, secret))
    goto out; /* not reached: secret is non-zero and below L */
  for (guint i = 1; i <= n; i++) {
    /* polynomial_evaluate (Horner), from the highest coefficient down. */
    frost_identifier_scalar (i, x);
    memcpy (value, coefficients[t - 2], 32);
    for (guint j = t - 2; j-- > 0;) {
      crypto_core_ed25519_scalar_mul (value, value, x);
      crypto_core_ed25519_scalar_add (value, value, coefficients[j]);
    }
    crypto_core_ed25519_scalar_mul (value, value, x);
    crypto_core_ed25519_scalar_add (value, value, secret);
    if (sodium_is_zero (value, 32)) {
      FAIL_INVALID ("the polynomial is zero at %u: choose other "
                    "coefficients",
                    i);
      goto out;
    }
    memcpy (shares[i - 1], value, 32);
    if (!base_mult (verifying_shares[i - 1], value))
      goto out;
  }
  if (vss_commitment != NULL) {
    if (!base_mult (vss_commitment[0], secret))
      goto out;
    for (guint j = 0; j + 1 < t; j++)
      if (!base_mult (vss_commitment[j + 1], coefficients[j]))
        goto out;
  }
  ok = TRUE;

out:
  if (!ok) {
    if (error != NULL && *error == NULL)
      FAIL_FAILED ("FROST key generation failed");
    sodium_memzero (shares, (size_t)n * 32);
  }
  sodium_memzero (value, sizeof value);
  return ok;
}

gboolean
frost_dealer_keygen (guint t, guint n, uint8_t group_pubkey[32],
                     uint8_t (*shares)[32], uint8_t (*verifying_shares)[32],
                     GError **error)
{
  uint8_t secret[32];
  uint8_t coefficients[MAXP - 1][32];
  gboolean ok = FALSE;

  if (!frost_init (error))
    return FALSE;
  if (t < 2 || t > n || n > MAXP)
    return FAIL_INVALID ("t = %u, n = %u: FROST needs 2 <= t <= n <= %u", t, n,
                         (guint)MAXP);
  /* A polynomial that is zero at some identifier (probability about n/L)
   * is drawn again. */
  for (int attempt = 0; attempt < 4 && !ok; attempt++) {
    g_clear_error (error);
    crypto_core_ed25519_scalar_random (secret); /* non-zero, below L */
    for (guint j = 0; j + 1 < t; j++)
      crypto_core_ed25519_scalar_random (coefficients[j]);
    ok = frost_keygen_with_coefficients (
        t, n, secret, (const uint8_t (*)[32])coefficients, group_pubkey, shares,
        verifying_shares, NULL, error);
  }
  sodium_memzero (secret, sizeof secret);
  sodium_memzero (coefficients, sizeof coefficients);
  return ok;
}

gboolean
frost_verifying_share (const uint8_t share[32], uint8_t verifying_share[32],
                       GError **error)
{
  if (!frost_init (error) || !share_check (share, "share", error))
    return FALSE;
  if (verifying_share == NULL)
    return FAIL_INVALID ("verifying_share is required");
  if (!base_mult (verifying_share, share))
    return FAIL_FAILED ("share * G failed");
  return TRUE;
}

gboolean
frost_vss_verify (guint16 identifier, const uint8_t share[32],
                  const uint8_t (*vss_commitment)[32], guint t, GError **error)
{
  uint8_t expected[32], sum[32], x[32], power[32] = { 1 }, term[32];

  if (!frost_init (error) || !identifier_check (identifier, "identifier", error)
      || !share_check (share, "share", error))
    return FALSE;
  if (vss_commitment == NULL || t < 2 || t > MAXP)
    return FAIL_INVALID ("vss_commitment: %u elements given, 2..%u needed", t,
                         (guint)MAXP);
  for (guint j = 0; j < t; j++) {
    g_autofree char *what = g_strdup_printf ("vss_commitment[%u]", j);
    if (!frost_element_check (vss_commitment[j], what, error))
      return FALSE;
  }
  if (!base_mult (expected, share))
    return FAIL_FAILED ("share * G failed");
  memcpy (sum, identity_element, 32);
  frost_identifier_scalar (identifier, x);
  for (guint j = 0; j < t; j++) {
    if (crypto_scalarmult_ed25519_noclamp (term, power, vss_commitment[j]) != 0
        || crypto_core_ed25519_add (sum, sum, term) != 0)
      return FAIL_FAILED ("vss_verify: group operation failed");
    crypto_core_ed25519_scalar_mul (power, power, x);
  }
  if (sodium_memcmp (sum, expected, 32) != 0)
    return FAIL_INVALID ("share of participant %u does not match the VSS "
                         "commitment",
                         identifier);
  return TRUE;
}

/* ---- round one (sections 4.1, 5.1) ---- */

gboolean
frost_nonce_generate (const uint8_t random[32], const uint8_t secret[32],
                      uint8_t nonce[32], GError **error)
{
  uint8_t input[64];

  if (!frost_init (error) || !frost_scalar_check (secret, "secret", error))
    return FALSE;
  if (random == NULL || nonce == NULL)
    return FAIL_INVALID ("random and nonce are required");
  memcpy (input, random, 32);
  memcpy (input + 32, secret, 32);
  hash_to_scalar ("nonce", input, sizeof input, nonce);
  sodium_memzero (input, sizeof input);
  return TRUE;
}

gboolean
frost_commit_with_randomness (guint16 identifier, const uint8_t share[32],
                              const uint8_t hiding_random[32],
                              const uint8_t binding_random[32],
                              CairnFrostNonces *nonces,
                              CairnFrostCommitment *commitment, GError **error)
{
  if (!frost_init (error) || !identifier_check (identifier, "identifier", error)
      || !share_check (share, "share", error))
    return FALSE;
  if (nonces == NULL || commitment == NULL)
    return FAIL_INVALID ("nonces and commitment are required");
  if (!frost_nonce_generate (hiding_random, share, nonces->hiding, error)
      || !frost_nonce_generate (binding_random, share, nonces->binding, error))
    goto fail;
  memset (commitment, 0, sizeof *commitment);
  commitment->identifier = identifier;
  /* A nonce of zero (probability 2^-252) has no valid commitment. */
  if (!base_mult (commitment->hiding, nonces->hiding)
      || !base_mult (commitment->binding, nonces->binding)) {
    FAIL_FAILED ("a nonce is zero: commit again");
    goto fail;
  }
  return TRUE;

fail:
  sodium_memzero (nonces, sizeof *nonces);
  return FALSE;
}

gboolean
frost_commit (guint16 identifier, const uint8_t share[32],
              CairnFrostNonces *nonces, CairnFrostCommitment *commitment,
              GError **error)
{
  uint8_t random[2][32];
  gboolean ok;

  if (!frost_init (error))
    return FALSE;
  randombytes_buf (random, sizeof random);
  ok = frost_commit_with_randomness (identifier, share, random[0], random[1],
                                     nonces, commitment, error);
  sodium_memzero (random, sizeof random);
  return ok;
}

/* ---- the signing set (sections 4.3 to 4.6) ---- */

typedef struct {
  guint n;
  CairnFrostCommitment c[MAXP]; /* sorted by identifier */
  guint16 ids[MAXP];            /* c[k].identifier */
  guint from[MAXP];             /* c[k] is the caller's commitments[from[k]] */
  uint8_t rho[MAXP][32];        /* binding factor of c[k] */
  uint8_t group_commitment[32];
  uint8_t challenge[32];
} SigningSet;

/* Checks and sorts the commitment list: 2..MAX commitments, identifiers in
 * range and distinct, every element valid. */
static gboolean
signing_set_load (SigningSet *s, const CairnFrostCommitment *commitments,
                  guint n, GError **error)
{
  if (commitments == NULL || n < 2 || n > MAXP)
    return FAIL_INVALID ("commitments: %u given; a signing set has 2 to %u",
                         commitments == NULL ? 0 : n, (guint)MAXP);
  s->n = n;
  for (guint i = 0; i < n; i++) {
    const CairnFrostCommitment *c = &commitments[i];
    guint k = i;

    if (c->identifier < 1 || c->identifier > MAXP)
      return FAIL_INVALID ("commitments[%u]: identifier %u is out of range "
                           "1..%u",
                           i, c->identifier, (guint)MAXP);
    for (int which = 0; which < 2; which++) {
      int st = element_status (which == 0 ? c->hiding : c->binding);
      if (st != 0)
        return FAIL_INVALID ("commitment of participant %u: %s nonce "
                             "commitment %s",
                             c->identifier, which == 0 ? "hiding" : "binding",
                             element_problem (st));
    }
    /* Insertion sort by identifier. */
    while (k > 0 && s->c[k - 1].identifier > c->identifier) {
      s->c[k] = s->c[k - 1];
      s->from[k] = s->from[k - 1];
      k--;
    }
    if (k > 0 && s->c[k - 1].identifier == c->identifier)
      return FAIL_INVALID ("commitments: participant %u appears twice",
                           c->identifier);
    s->c[k] = *c;
    s->from[k] = i;
  }
  for (guint k = 0; k < n; k++)
    s->ids[k] = s->c[k].identifier;
  return TRUE;
}

static int
signing_set_find (const SigningSet *s, guint identifier)
{
  for (guint k = 0; k < s->n; k++)
    if (s->c[k].identifier == identifier)
      return (int)k;
  return -1;
}

/* compute_binding_factors: rho[k] = H1(pk || H4(msg) || H5(encoded
 * commitments) || SerializeScalar(id_k)). */
static void
signing_set_binding_factors (SigningSet *s, const uint8_t group_pubkey[32],
                             const void *msg, size_t len,
                             uint8_t (*inputs)[FROST_BINDING_INPUT_BYTES])
{
  uint8_t input[FROST_BINDING_INPUT_BYTES];
  crypto_hash_sha512_state st;

  memcpy (input, group_pubkey, 32);
  hash_labelled ("msg", msg, len, input + 32);
  /* encode_group_commitment_list, hashed as it is encoded. */
  crypto_hash_sha512_init (&st);
  sha512_update (&st, FROST_CONTEXT_STRING, strlen (FROST_CONTEXT_STRING));
  sha512_update (&st, "com", 3);
  for (guint k = 0; k < s->n; k++) {
    uint8_t id[32];
    frost_identifier_scalar (s->c[k].identifier, id);
    sha512_update (&st, id, 32);
    sha512_update (&st, s->c[k].hiding, 32);
    sha512_update (&st, s->c[k].binding, 32);
  }
  crypto_hash_sha512_final (&st, input + 96);
  for (guint k = 0; k < s->n; k++) {
    frost_identifier_scalar (s->c[k].identifier, input + 160);
    hash_to_scalar ("rho", input, sizeof input, s->rho[k]);
    if (inputs != NULL)
      memcpy (inputs[s->from[k]], input, sizeof input);
  }
}

/* compute_group_commitment and compute_challenge. */
static gboolean
signing_set_commit (SigningSet *s, const uint8_t group_pubkey[32],
                    const void *msg, size_t len, GError **error)
{
  uint8_t term[32];
  crypto_hash_sha512_state st;
  uint8_t digest[64];

  memcpy (s->group_commitment, identity_element, 32);
  for (guint k = 0; k < s->n; k++) {
    /* Fails only for a zero binding factor (probability 2^-252). */
    if (crypto_scalarmult_ed25519_noclamp (term, s->rho[k], s->c[k].binding)
        != 0)
      return FAIL_FAILED ("binding factor of participant %u is zero: "
                          "commit again",
                          s->c[k].identifier);
    if (crypto_core_ed25519_add (s->group_commitment, s->group_commitment,
                                 s->c[k].hiding)
            != 0
        || crypto_core_ed25519_add (s->group_commitment, s->group_commitment,
                                    term)
               != 0)
      return FAIL_FAILED ("group commitment: point addition failed");
  }
  /* SerializeElement refuses the identity. */
  if (sodium_memcmp (s->group_commitment, identity_element, 32) == 0)
    return FAIL_INVALID ("the group commitment is the identity element: "
                         "commit again");
  /* H2: plain SHA-512 for RFC 8032 compatibility. */
  crypto_hash_sha512_init (&st);
  sha512_update (&st, s->group_commitment, 32);
  sha512_update (&st, group_pubkey, 32);
  sha512_update (&st, msg, len);
  crypto_hash_sha512_final (&st, digest);
  crypto_core_ed25519_scalar_reduce (s->challenge, digest);
  return TRUE;
}

/* The checks every round-two step shares, then binding factors, group
 * commitment and challenge. */
static gboolean
signing_set_prepare (SigningSet *s, const uint8_t group_pubkey[32],
                     const CairnFrostCommitment *commitments, guint n,
                     const void *msg, size_t len,
                     uint8_t (*inputs)[FROST_BINDING_INPUT_BYTES],
                     gboolean commit, GError **error)
{
  if (!frost_init (error)
      || !frost_element_check (group_pubkey, "group_pubkey", error))
    return FALSE;
  if (msg == NULL && len > 0)
    return FAIL_INVALID ("msg is NULL but len is %zu", len);
  if (!signing_set_load (s, commitments, n, error))
    return FALSE;
  signing_set_binding_factors (s, group_pubkey, msg_bytes (msg), len, inputs);
  return !commit
         || signing_set_commit (s, group_pubkey, msg_bytes (msg), len, error);
}

gboolean
frost_binding_factors (const uint8_t group_pubkey[32],
                       const CairnFrostCommitment *commitments,
                       guint n_commitments, const void *msg, size_t len,
                       uint8_t (*inputs)[FROST_BINDING_INPUT_BYTES],
                       uint8_t (*factors)[32], GError **error)
{
  SigningSet s;

  if (factors == NULL)
    return FAIL_INVALID ("factors is required");
  if (!signing_set_prepare (&s, group_pubkey, commitments, n_commitments, msg,
                            len, inputs, FALSE, error))
    return FALSE;
  for (guint k = 0; k < s.n; k++)
    memcpy (factors[s.from[k]], s.rho[k], 32);
  return TRUE;
}

gboolean
frost_group_commitment (const uint8_t group_pubkey[32],
                        const CairnFrostCommitment *commitments,
                        guint n_commitments, const void *msg, size_t len,
                        uint8_t group_commitment[32], uint8_t challenge[32],
                        GError **error)
{
  SigningSet s;

  if (!signing_set_prepare (&s, group_pubkey, commitments, n_commitments, msg,
                            len, NULL, TRUE, error))
    return FALSE;
  if (group_commitment != NULL)
    memcpy (group_commitment, s.group_commitment, 32);
  if (challenge != NULL)
    memcpy (challenge, s.challenge, 32);
  return TRUE;
}

/* ---- round two (section 5.2) ---- */

gboolean
frost_sign (guint16 identifier, const uint8_t share[32],
            const uint8_t group_pubkey[32], CairnFrostNonces *nonces,
            const CairnFrostCommitment *commitments, guint n_commitments,
            const void *msg, size_t len, uint8_t sig_share[32], GError **error)
{
  CairnFrostNonces local;
  SigningSet s;
  uint8_t lambda[32], t1[32], t2[32], point[32];
  gboolean ok = FALSE;
  int k;

  if (nonces == NULL)
    return FAIL_INVALID ("nonces is required");
  /* The nonces are the caller's only until here: whatever happens next,
   * they cannot sign again. */
  memcpy (&local, nonces, sizeof local);
  sodium_memzero (nonces, sizeof *nonces);
  if (sig_share == NULL) {
    FAIL_INVALID ("sig_share is required");
    goto out;
  }
  memset (sig_share, 0, 32);

  if (!frost_init (error) || !identifier_check (identifier, "identifier", error)
      || !share_check (share, "share", error))
    goto out;
  if (sodium_is_zero ((const uint8_t *)&local, sizeof local)) {
    FAIL_INVALID ("nonces are wiped: a nonce pair signs only once (run "
                  "frost_commit again)");
    goto out;
  }
  if (!frost_scalar_check (local.hiding, "hiding nonce", error)
      || !frost_scalar_check (local.binding, "binding nonce", error))
    goto out;
  if (!signing_set_prepare (&s, group_pubkey, commitments, n_commitments, msg,
                            len, NULL, FALSE, error))
    goto out;
  k = signing_set_find (&s, identifier);
  if (k < 0) {
    FAIL_INVALID ("commitments: no commitment of participant %u (the "
                  "signer)",
                  identifier);
    goto out;
  }
  /* The commitment the coordinator relays must be the one made with these
   * nonces. */
  if (!base_mult (point, local.hiding)
      || sodium_memcmp (point, s.c[k].hiding, 32) != 0
      || !base_mult (point, local.binding)
      || sodium_memcmp (point, s.c[k].binding, 32) != 0) {
    FAIL_INVALID ("commitment of participant %u does not match its nonces "
                  "(not the commitment made with them)",
                  identifier);
    goto out;
  }
  if (!signing_set_commit (&s, group_pubkey, msg_bytes (msg), len, error))
    goto out;
  lagrange_at_zero (s.ids, s.n, identifier, lambda);

  /* z_i = hiding + binding * rho_i + lambda_i * sk_i * c */
  crypto_core_ed25519_scalar_mul (t1, local.binding, s.rho[k]);
  crypto_core_ed25519_scalar_add (t1, t1, local.hiding);
  crypto_core_ed25519_scalar_mul (t2, lambda, share);
  crypto_core_ed25519_scalar_mul (t2, t2, s.challenge);
  crypto_core_ed25519_scalar_add (sig_share, t1, t2);
  ok = TRUE;

out:
  sodium_memzero (&local, sizeof local);
  sodium_memzero (t1, sizeof t1);
  sodium_memzero (t2, sizeof t2);
  return ok;
}

/* ---- aggregation and share verification (sections 5.3, 5.4) ---- */

gboolean
frost_verify_share (const CairnFrostShare *share,
                    const uint8_t verifying_share[32],
                    const CairnFrostCommitment *commitments,
                    guint n_commitments, const uint8_t group_pubkey[32],
                    const void *msg, size_t len, GError **error)
{
  SigningSet s;
  uint8_t lambda[32], cl[32], left[32], right[32], term[32];
  g_autofree char *what = NULL;
  int k;

  if (share == NULL)
    return FAIL_INVALID ("share is required");
  if (!identifier_check (share->identifier, "share", error))
    return FALSE;
  what = g_strdup_printf ("signature share of participant %u",
                          share->identifier);
  if (!frost_init (error) || !frost_scalar_check (share->share, what, error))
    return FALSE;
  g_free (what);
  what = g_strdup_printf ("verifying share of participant %u",
                          share->identifier);
  if (!frost_element_check (verifying_share, what, error))
    return FALSE;
  if (!signing_set_prepare (&s, group_pubkey, commitments, n_commitments, msg,
                            len, NULL, TRUE, error))
    return FALSE;
  k = signing_set_find (&s, share->identifier);
  if (k < 0)
    return FAIL_INVALID ("commitments: no commitment of participant %u",
                         share->identifier);
  lagrange_at_zero (s.ids, s.n, share->identifier, lambda);

  /* z_i * G == D_i + rho_i * E_i + (c * lambda_i) * PK_i */
  crypto_core_ed25519_scalar_mul (cl, s.challenge, lambda);
  if (!base_mult (left, share->share)
      || crypto_scalarmult_ed25519_noclamp (term, s.rho[k], s.c[k].binding) != 0
      || crypto_core_ed25519_add (right, s.c[k].hiding, term) != 0
      || crypto_scalarmult_ed25519_noclamp (term, cl, verifying_share) != 0
      || crypto_core_ed25519_add (right, right, term) != 0
      || sodium_memcmp (left, right, 32) != 0)
    return FAIL_INVALID ("signature share of participant %u is invalid: it "
                         "does not match the participant's commitment and "
                         "verifying share for this message and signing set",
                         share->identifier);
  return TRUE;
}

gboolean
frost_aggregate (const CairnFrostCommitment *commitments, guint n_commitments,
                 const CairnFrostShare *shares, guint n_shares,
                 const uint8_t group_pubkey[32], const void *msg, size_t len,
                 uint8_t sig[64], GError **error)
{
  SigningSet s;
  uint8_t z[32] = { 0 };
  guint64 seen = 0;

  if (sig == NULL)
    return FAIL_INVALID ("sig is required");
  memset (sig, 0, 64);
  if (!signing_set_prepare (&s, group_pubkey, commitments, n_commitments, msg,
                            len, NULL, TRUE, error))
    return FALSE;
  if (shares == NULL || n_shares != s.n)
    return FAIL_INVALID ("shares: %u given for %u commitments; one share per "
                         "commitment is needed",
                         shares == NULL ? 0 : n_shares, s.n);
  for (guint i = 0; i < n_shares; i++) {
    guint id = shares[i].identifier;
    g_autofree char *what = NULL;

    if (id < 1 || id > MAXP || signing_set_find (&s, id) < 0)
      return FAIL_INVALID ("shares[%u]: participant %u has no commitment in "
                           "the signing set",
                           i, id);
    if (seen & (G_GUINT64_CONSTANT (1) << (id - 1)))
      return FAIL_INVALID ("shares: participant %u appears twice", id);
    seen |= G_GUINT64_CONSTANT (1) << (id - 1);
    what = g_strdup_printf ("signature share of participant %u", id);
    if (!frost_scalar_check (shares[i].share, what, error))
      return FALSE;
    crypto_core_ed25519_scalar_add (z, z, shares[i].share);
  }
  memcpy (sig, s.group_commitment, 32);
  memcpy (sig + 32, z, 32);
  /* The coordinator checks the result before releasing it (section 5.3).
   * libsodium verifies cofactorless; R and the group key are in the
   * prime-order subgroup, where that agrees with the RFC's cofactored
   * equation. */
  if (crypto_sign_ed25519_verify_detached (sig, msg_bytes (msg), len,
                                           group_pubkey)
      != 0) {
    memset (sig, 0, 64);
    return FAIL_INVALID ("the aggregate signature does not verify under the "
                         "group public key: a share is invalid or fewer than "
                         "t participants signed (frost_verify_share names a "
                         "participant whose share is invalid)");
  }
  return TRUE;
}

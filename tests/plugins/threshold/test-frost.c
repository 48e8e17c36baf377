/* The threshold plugin (plugins/threshold): FROST(Ed25519, SHA-512) against
 * the RFC 9591 test vectors step by step, random dealer keys and signing
 * sets whose signatures OpenSSL, libsodium and the core's own verifier
 * accept, what must fail (fewer than t signers, wrong or tampered shares,
 * reused nonces, malformed encodings), MULTISIG with keys and signatures
 * made by the core, and the plugin's descriptor and service. */
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include <cairn/cairn.h>
#include <cairn/threshold.h>

#include "crypto.h" /* the core's keys and verifier */
#include "frost.h"

const CairnPluginDescriptor *cairn_plugin_descriptor_threshold (void);

/* ---- helpers ----------------------------------------------------------- */

static void
hex_decode (const char *hex, uint8_t *out, size_t len)
{
  size_t got = 0;

  g_assert_cmpuint (strlen (hex), ==, 2 * len);
  g_assert_cmpint (
      sodium_hex2bin (out, len, hex, strlen (hex), NULL, &got, NULL), ==, 0);
  g_assert_cmpuint (got, ==, len);
}

static void
assert_bytes (const uint8_t *got, const char *want_hex, size_t len)
{
  g_autofree uint8_t *want = g_malloc (len);
  g_autofree char *got_hex = g_malloc (2 * len + 1);

  hex_decode (want_hex, want, len);
  sodium_bin2hex (got_hex, 2 * len + 1, got, len);
  g_assert_cmpstr (got_hex, ==, want_hex);
}

/* An independent check of an ordinary Ed25519 signature: OpenSSL's EVP. */
static gboolean
openssl_verify (const uint8_t pk[32], const void *msg, size_t len,
                const uint8_t sig[64])
{
  EVP_PKEY *key = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pk, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gboolean ok;

  g_assert_nonnull (key);
  g_assert_nonnull (ctx);
  ok = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, key) == 1
       && EVP_DigestVerify (ctx, sig, 64, msg, len) == 1;
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (key);
  return ok;
}

static gboolean
sodium_verify (const uint8_t pk[32], const void *msg, size_t len,
               const uint8_t sig[64])
{
  return crypto_sign_ed25519_verify_detached (sig, msg, len, pk) == 0;
}

static void
assert_error (GError *error, const char *needle)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == CAIRN_ERROR);
  if (strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not contain '%s'", error->message, needle);
}

static const char group_order_hex[]
    = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
/* An element of order 8. */
static const char order8_hex[]
    = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";

/* ---- the plugin through a minimal host ------------------------------- */

static struct {
  char *name;
  uint32_t version;
  const CairnThresholdService *vt;
  guint calls;
} provided;

static gboolean
mini_provide_service (CairnPlugin *self, const char *name, uint32_t version,
                      const void *vtable, GError **error)
{
  g_free (provided.name);
  provided.name = g_strdup (name);
  provided.version = version;
  provided.vt = vtable;
  provided.calls++;
  return TRUE;
}

static const CairnThresholdService *
service (void)
{
  static CairnHost host;
  static char handle; /* the plugin never looks inside */
  g_autoptr (GError) error = NULL;

  if (provided.vt != NULL)
    return provided.vt;
  host.size = sizeof host;
  host.abi_major = CAIRN_ABI_MAJOR;
  host.abi_minor = CAIRN_ABI_MINOR;
  host.provide_service = mini_provide_service;
  g_assert_true (cairn_plugin_descriptor_threshold ()->init (
      (CairnPlugin *)&handle, &host, &error));
  g_assert_no_error (error);
  g_assert_nonnull (provided.vt);
  return provided.vt;
}

static void
test_plugin (void)
{
  const CairnPluginDescriptor *d = cairn_plugin_descriptor_threshold ();
  const CairnThresholdService *svc = service ();

  g_assert_cmpuint (d->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_cmpstr (d->id, ==, "threshold");
  g_assert_cmpstr (d->version, ==, "0.1.0");
  g_assert_cmpstr (d->vendor, ==, "Cairn");
  g_assert_cmpuint (d->kinds, ==, CAIRN_KIND_APP);
  g_assert_nonnull (d->provides);
  g_assert_cmpstr (d->provides[0].name, ==, CAIRN_THRESHOLD_SERVICE);
  g_assert_cmpuint (d->provides[0].version, ==,
                    CAIRN_THRESHOLD_SERVICE_VERSION);
  g_assert_null (d->provides[1].name);
  g_assert_null (d->requires);

  g_assert_cmpuint (provided.calls, ==, 1);
  g_assert_cmpstr (provided.name, ==, "cairn.threshold");
  g_assert_cmpuint (provided.version, ==, 1);
  g_assert_cmpuint (svc->size, ==, sizeof (CairnThresholdService));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_dealer_keygen));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_verifying_share));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_commit));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_sign));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_verify_share));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, frost_aggregate));
  g_assert_true (CAIRN_THRESHOLD_HAS (svc, multisig_verify));
  /* A provider built before a function existed does not have it. */
  {
    CairnThresholdService older = *svc;
    older.size = offsetof (CairnThresholdService, multisig_verify);
    g_assert_false (CAIRN_THRESHOLD_HAS (&older, multisig_verify));
    g_assert_true (CAIRN_THRESHOLD_HAS (&older, frost_aggregate));
  }
}

/* ---- RFC 9591 test vectors -------------------------------------------- */

/* FROST(Ed25519, SHA-512), t = 2, n = 3, signers 1 and 3, message "test". */
typedef struct {
  const char *group_secret_key, *group_public_key, *message, *coefficient;
  const char *shares[3];
  /* For participants 1 and 3. */
  const char *hiding_randomness[2], *binding_randomness[2];
  const char *hiding_nonce[2], *binding_nonce[2];
  const char *hiding_commitment[2], *binding_commitment[2];
  const char *binding_factor_input[2], *binding_factor[2];
  const char *sig_share[2];
  const char *sig;
} Vectors;

#define BFI_PREFIX_1                                                           \
  "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3f"                               \
  "af66040d380fb9738673504df914fa965023fb75c25ded4bb260f417de6d32e5c442c"      \
  "6ba313791cc9a4948d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a"      \
  "193751cbc973af46d8ac3440e518d4ce440a0e7d4ad5f62ca8940f32de6d8dc00fc12"      \
  "c660b817d587d82f856d277ce6473cae6d2f5763f7da2e8b4d799a3f3e725d4522ec7"

/* RFC 9591 appendix E.1, copied from the text of draft-irtf-cfrg-frost-15
 * (appendix F.1 there; the RFC's vectors are the same), github.com/cfrg/
 * draft-irtf-cfrg-frost, draft-irtf-cfrg-frost-15/draft-irtf-cfrg-frost.txt.
 * The strings are split where the RFC wraps them. */
static const Vectors rfc9591 = {
  .group_secret_key = "7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a7"
                      "90c6e13a98304",
  .group_public_key = "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040"
                      "d380fb9738673",
  .message = "74657374",
  .coefficient = "178199860edd8c62f5212ee91eff1295d0d"
                 "670ab4ed4506866bae57e7030b204",
  .shares = { "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f"
              "4a033f2ec83d93509",
              "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685"
              "c07eed76bf409e80d",
              "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c"
              "46da8bdea643a9a02" },
  .hiding_randomness = { "0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d"
                         "3cb583dfcb9bbaf8d4c9fec",
                         "86d64a260059e495d0fb4fcc17ea3da7452391baa"
                         "494d4b00321098ed2a0062f" },
  .binding_randomness = { "69cd85f631d5f7f2721ed5e40519b1366f340a87"
                          "c2f6856363dbdcda348a7501",
                          "13e6b25afb2eba51716a9a7d44130c0dbae0004a"
                          "9ef8d7b5550c8a0e07c61775" },
  .hiding_nonce = { "812d6104142944d5a55924de6d49940956206909f2acaeedecda"
                    "2b726e630407",
                    "c256de65476204095ebdc01bd11dc10e57b36bc96284595b8215"
                    "222374f99c0e" },
  .binding_nonce = { "b1110165fc2334149750b28dd813a39244f315cff14d4e89e61"
                     "42f262ed83301",
                     "243d71944d929063bc51205714ae3c2218bd3451d0214dfb5ae"
                     "ec2a90c35180d" },
  .hiding_commitment = { "b5aa8ab305882a6fc69cbee9327e5a45e54c08af6"
                         "1ae77cb8207be3d2ce13de3",
                         "cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57"
                         "fdcc98ed12c0669e90aec91" },
  .binding_commitment = { "67e98ab55aa310c3120418e5050c9cf76cf387cb"
                          "20ac9e4b6fdb6f82a469f932",
                          "7487bc41a6e712eea2f2af24681b58b1cf1da278"
                          "ea11fe4e8b78398965f13552" },
  .binding_factor_input
  = { BFI_PREFIX_1 "0100000000000000000000000000000000000000000000"
                   "000000000000000000",
      BFI_PREFIX_1 "0300000000000000000000000000000000000000000000"
                   "000000000000000000" },
  .binding_factor = { "f2cb9d7dd9beff688da6fcc83fa89046b3479417f47f55600b"
                      "106760eb3b5603",
                      "b087686bf35a13f3dc78e780a34b0fe8a77fef1b9938c563f5"
                      "573d71d8d7890f" },
  .sig_share = { "001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24"
                 "b7281b603",
                 "bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bf"
                 "d14326007" },
  .sig = "36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbe"
         "bd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b",
};

#define BFI_PREFIX_2                                                           \
  "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673"           \
  "504df914fa965023fb75c25ded4bb260f417de6d32e5c442c6ba313791cc9a49"           \
  "48d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a193751cbc9"           \
  "3df7739fd1223d8697dfc21b1679435bafda1f92815944f28d2faf21ded33ae9"           \
  "4a16100090ae7d83555c9b2d961e3d5d1b62828e8cb58a88a73cda404f8f725a"

/* A second set with the same keys and other nonce randomness, from the
 * Zcash Foundation's implementation: github.com/ZcashFoundation/frost,
 * frost-ed25519/tests/helpers/vectors.json. */
static const Vectors zcash = {
  .group_secret_key
  = "7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304",
  .group_public_key
  = "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673",
  .message = "74657374",
  .coefficient
  = "178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204",
  .shares
  = { "929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509",
      "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d",
      "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02" },
  .hiding_randomness
  = { "06894e04ee4aceec8619d5f6a0a180e2f47194d2ac306cba586b555e7c48d765",
      "fa5d950626782aade9e33fa781376d4888c2d1de7c37518bc248eb818ed0cdde" },
  .binding_randomness
  = { "40d6f879ff22e22409f7d808fed81f37118e7d3e4af71c0f44c60207553bcbce",
      "7459a4d14ded0e365b085271be8dc6600d5b88f3978a2174297ffa32001a5afc" },
  .hiding_nonce
  = { "ef6599dea4010581a72b3018c37c29a4341d7cab0773e8687ca74dcf14009701",
      "80f8d9a4b8f9366e1a0b618107c907cd3ee29fa9bb40b4691cc1bde696240005" },
  .binding_nonce
  = { "2baadfa0c69aa60d517ad4751de372a73f9d89cfc39026601f18458cdec12605",
      "2610b664a5a187b4855e87d2ff485bebdf043dc2f161fcd4854cd01dc0276404" },
  .hiding_commitment
  = { "9b116f12589591a7e23fe8048059ab10ab48e67739e7a2fb3890f61a7999478c",
      "e679a2a971748ccfaabead4dbe8ac1def61275c186c79d471e1e45091ad1e687" },
  .binding_commitment
  = { "c39b66b7dfccb122da24f13587f9a08c4347cae70046ca15169adf90ba65854d",
      "b2a942478453fabb6bd3181c56ba657413447b4136e1daea2484d396d1a516b3" },
  .binding_factor_input
  = { BFI_PREFIX_2
      "0100000000000000000000000000000000000000000000000000000000000000",
      BFI_PREFIX_2
      "0300000000000000000000000000000000000000000000000000000000000000" },
  .binding_factor
  = { "ff960a65374e216a0918729b153466016664fa980d409bc3f308daa7acb30d0d",
      "279d48ec56f16d234c09ea62f3d02ab776ee38e03f66b20f939f1316e13df10f" },
  .sig_share
  = { "60997f0142e43e8005027fe5ab7447dac00d22c2d7ddd9571a02613ba7d81c08",
      "79390e78bc59699c7af831f8f5fb478ec871a85f561a8641b5670ac4443f720f" },
  .sig = "154fb694ee7fcb37bf2381d94488c2a84b03b3352ad085feca81ad26d45852b7"
         "ecfe971ce4da95c4a95db93ac376b053897fca212ef85f99cf696bffeb178f07",
};

static void
check_vectors (const Vectors *v)
{
  static const guint16 signers[2] = { 1, 3 };
  g_autoptr (GError) error = NULL;
  uint8_t secret[32], coefficient[1][32], pk[32], shares[3][32], vshares[3][32];
  uint8_t vss[2][32], msg[4], random[2][32], nonce[32], rebuilt[32];
  uint8_t inputs[2][FROST_BINDING_INPUT_BYTES], factors[2][32];
  uint8_t group_commitment[32], challenge[32], lambda[32], check[32];
  uint8_t sig[64], two[32] = { 2 }, three[32] = { 3 }, one[32] = { 1 };
  CairnFrostNonces nonces[2], saved[2];
  CairnFrostCommitment commitments[2], swapped[2];
  CairnFrostShare sig_shares[2];
  uint8_t signer_shares[2][32];

  hex_decode (v->group_secret_key, secret, 32);
  hex_decode (v->coefficient, coefficient[0], 32);
  hex_decode (v->message, msg, sizeof msg);

  /* Trusted dealer (appendix C) with the vectors' polynomial. */
  g_assert_true (frost_keygen_with_coefficients (
      2, 3, secret, (const uint8_t (*)[32])coefficient, pk, shares, vshares,
      vss, &error));
  g_assert_no_error (error);
  assert_bytes (pk, v->group_public_key, 32);
  for (guint i = 0; i < 3; i++) {
    uint8_t vs[32];

    assert_bytes (shares[i], v->shares[i], 32);
    g_assert_true (frost_verifying_share (shares[i], vs, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (vs, 32, vshares[i], 32);
    g_assert_true (frost_vss_verify (i + 1, shares[i],
                                     (const uint8_t (*)[32])vss, 2, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpmem (vss[0], 32, pk, 32);
  /* A share under another identifier fails the VSS check. */
  g_assert_false (
      frost_vss_verify (2, shares[0], (const uint8_t (*)[32])vss, 2, &error));
  assert_error (error, "participant 2 does not match the VSS commitment");
  g_clear_error (&error);
  /* Any two shares give back the secret. */
  for (guint a = 0; a < 3; a++)
    for (guint b = a + 1; b < 3; b++) {
      guint16 ids[2] = { a + 1, b + 1 };
      uint8_t pair[2][32];
      memcpy (pair[0], shares[a], 32);
      memcpy (pair[1], shares[b], 32);
      g_assert_true (frost_interpolate_secret (ids, (const uint8_t (*)[32])pair,
                                               2, rebuilt, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (rebuilt, 32, secret, 32);
    }

  /* Round one: nonce_generate, then commit with the same randomness. */
  for (guint k = 0; k < 2; k++) {
    const uint8_t *share = shares[signers[k] - 1];

    hex_decode (v->hiding_randomness[k], random[0], 32);
    hex_decode (v->binding_randomness[k], random[1], 32);
    g_assert_true (frost_nonce_generate (random[0], share, nonce, &error));
    assert_bytes (nonce, v->hiding_nonce[k], 32);
    g_assert_true (frost_nonce_generate (random[1], share, nonce, &error));
    assert_bytes (nonce, v->binding_nonce[k], 32);
    g_assert_true (frost_commit_with_randomness (signers[k], share, random[0],
                                                 random[1], &nonces[k],
                                                 &commitments[k], &error));
    g_assert_no_error (error);
    assert_bytes (nonces[k].hiding, v->hiding_nonce[k], 32);
    assert_bytes (nonces[k].binding, v->binding_nonce[k], 32);
    g_assert_cmpuint (commitments[k].identifier, ==, signers[k]);
    assert_bytes (commitments[k].hiding, v->hiding_commitment[k], 32);
    assert_bytes (commitments[k].binding, v->binding_commitment[k], 32);
    memcpy (signer_shares[k], share, 32);
  }
  saved[0] = nonces[0];
  saved[1] = nonces[1];

  /* Binding factors and their inputs, in list order and reversed. */
  g_assert_true (frost_binding_factors (pk, commitments, 2, msg, sizeof msg,
                                        inputs, factors, &error));
  g_assert_no_error (error);
  for (guint k = 0; k < 2; k++) {
    assert_bytes (inputs[k], v->binding_factor_input[k],
                  FROST_BINDING_INPUT_BYTES);
    assert_bytes (factors[k], v->binding_factor[k], 32);
  }
  swapped[0] = commitments[1];
  swapped[1] = commitments[0];
  g_assert_true (frost_binding_factors (pk, swapped, 2, msg, sizeof msg, inputs,
                                        factors, &error));
  assert_bytes (factors[0], v->binding_factor[1], 32);
  assert_bytes (inputs[1], v->binding_factor_input[0],
                FROST_BINDING_INPUT_BYTES);

  /* The interpolating values of {1, 3}: 3/2 and -1/2. */
  g_assert_true (frost_interpolating_value (signers, 2, 1, lambda, &error));
  crypto_core_ed25519_scalar_mul (check, lambda, two);
  g_assert_cmpmem (check, 32, three, 32);
  g_assert_true (frost_interpolating_value (signers, 2, 3, lambda, &error));
  crypto_core_ed25519_scalar_mul (check, lambda, two);
  crypto_core_ed25519_scalar_negate (check, check);
  g_assert_cmpmem (check, 32, one, 32);

  /* Round two. */
  for (guint k = 0; k < 2; k++) {
    sig_shares[k].identifier = signers[k];
    g_assert_true (frost_sign (signers[k], signer_shares[k], pk, &nonces[k],
                               commitments, 2, msg, sizeof msg,
                               sig_shares[k].share, &error));
    g_assert_no_error (error);
    assert_bytes (sig_shares[k].share, v->sig_share[k], 32);
    g_assert_true (
        sodium_is_zero ((const uint8_t *)&nonces[k], sizeof nonces[k]));
    g_assert_true (frost_verify_share (&sig_shares[k], vshares[signers[k] - 1],
                                       commitments, 2, pk, msg, sizeof msg,
                                       &error));
    g_assert_no_error (error);
  }
  /* The same shares whatever the order of the commitment list. */
  {
    uint8_t again[32];
    CairnFrostNonces n = saved[1];
    g_assert_true (frost_sign (3, signer_shares[1], pk, &n, swapped, 2, msg,
                               sizeof msg, again, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (again, 32, sig_shares[1].share, 32);
  }

  /* Aggregation. */
  g_assert_true (frost_group_commitment (pk, commitments, 2, msg, sizeof msg,
                                         group_commitment, challenge, &error));
  g_assert_true (frost_aggregate (commitments, 2, sig_shares, 2, pk, msg,
                                  sizeof msg, sig, &error));
  g_assert_no_error (error);
  assert_bytes (sig, v->sig, 64);
  g_assert_cmpmem (sig, 32, group_commitment, 32);
  g_assert_true (sodium_verify (pk, msg, sizeof msg, sig));
  g_assert_true (openssl_verify (pk, msg, sizeof msg, sig));
  /* The shares in another order aggregate to the same signature. */
  {
    CairnFrostShare rev[2] = { sig_shares[1], sig_shares[0] };
    uint8_t sig2[64];
    g_assert_true (frost_aggregate (swapped, 2, rev, 2, pk, msg, sizeof msg,
                                    sig2, &error));
    g_assert_cmpmem (sig2, 64, sig, 64);
  }
  sodium_memzero (saved, sizeof saved);
}

static void
test_vectors_rfc9591 (void)
{
  check_vectors (&rfc9591);
}

static void
test_vectors_zcash (void)
{
  check_vectors (&zcash);
}

/* ---- whole sessions with random keys --------------------------------- */

typedef struct {
  guint t, n;
  uint8_t pk[32];
  uint8_t (*shares)[32];
  uint8_t (*vshares)[32];
} Group;

static Group *
group_new (guint t, guint n)
{
  Group *g = g_new0 (Group, 1);
  g_autoptr (GError) error = NULL;

  g->t = t;
  g->n = n;
  g->shares = sodium_malloc ((size_t)n * 32);
  g->vshares = g_malloc ((size_t)n * 32);
  g_assert_true (
      frost_dealer_keygen (t, n, g->pk, g->shares, g->vshares, &error));
  g_assert_no_error (error);
  return g;
}

static void
group_free (Group *g)
{
  sodium_free (g->shares);
  g_free (g->vshares);
  g_free (g);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Group, group_free)

/* Rounds one and two for the signers ids[0..k), every share checked with
 * frost_verify_share; returns frost_aggregate's result. */
static gboolean
group_sign (Group *g, const guint16 *ids, guint k, const void *msg, size_t len,
            uint8_t sig[64], GError **error)
{
  g_autofree CairnFrostNonces *nonces = g_new0 (CairnFrostNonces, k);
  g_autofree CairnFrostCommitment *commitments
      = g_new0 (CairnFrostCommitment, k);
  g_autofree CairnFrostShare *shares = g_new0 (CairnFrostShare, k);
  g_autoptr (GError) local = NULL;
  gboolean ok;

  for (guint i = 0; i < k; i++) {
    g_assert_true (frost_commit (ids[i], g->shares[ids[i] - 1], &nonces[i],
                                 &commitments[i], &local));
    g_assert_no_error (local);
  }
  for (guint i = 0; i < k; i++) {
    shares[i].identifier = ids[i];
    g_assert_true (frost_sign (ids[i], g->shares[ids[i] - 1], g->pk, &nonces[i],
                               commitments, k, msg, len, shares[i].share,
                               &local));
    g_assert_no_error (local);
    g_assert_true (frost_verify_share (&shares[i], g->vshares[ids[i] - 1],
                                       commitments, k, g->pk, msg, len,
                                       &local));
    g_assert_no_error (local);
  }
  ok = frost_aggregate (commitments, k, shares, k, g->pk, msg, len, sig, error);
  if (!ok) {
    /* The same bytes assembled by hand do not verify either. */
    uint8_t z[32] = { 0 }, forged[64];
    g_assert_true (frost_group_commitment (g->pk, commitments, k, msg, len,
                                           forged, NULL, &local));
    for (guint i = 0; i < k; i++)
      crypto_core_ed25519_scalar_add (z, z, shares[i].share);
    memcpy (forged + 32, z, 32);
    g_assert_false (sodium_verify (g->pk, msg, len, forged));
    g_assert_false (openssl_verify (g->pk, msg, len, forged));
  }
  return ok;
}

/* k distinct identifiers of 1..n in random order. */
static void
random_subset (guint n, guint k, guint16 *ids)
{
  guint16 all[CAIRN_THRESHOLD_MAX_PARTICIPANTS];

  for (guint i = 0; i < n; i++)
    all[i] = i + 1;
  for (guint i = 0; i < k; i++) {
    guint j = g_test_rand_int_range (i, n);
    guint16 tmp = all[i];
    all[i] = all[j];
    all[j] = tmp;
    ids[i] = all[i];
  }
}

static void
check_signature (Group *g, const void *msg, size_t len, const uint8_t sig[64])
{
  g_assert_true (sodium_verify (g->pk, msg, len, sig));
  g_assert_true (openssl_verify (g->pk, msg, len, sig));
  /* A signature of this message is no signature of another. */
  g_assert_false (sodium_verify (g->pk, "other", 5, sig));
  g_assert_false (openssl_verify (g->pk, "other", 5, sig));
}

static void
test_random_groups (void)
{
  static const guint params[][2] = { { 2, 2 }, { 2, 3 }, { 3, 5 }, { 5, 7 } };

  for (guint p = 0; p < G_N_ELEMENTS (params); p++) {
    guint t = params[p][0], n = params[p][1];
    g_autoptr (Group) g = group_new (t, n);
    g_autoptr (GError) error = NULL;
    guint16 ids[CAIRN_THRESHOLD_MAX_PARTICIPANTS];
    uint8_t sig[64], secret[32], again[32];
    g_autofree char *msg = g_strdup_printf ("pay 10 to bob (%u of %u)", t, n);

    /* Verifying shares are share * G, and any t shares hold the key. */
    for (guint i = 0; i < n; i++) {
      uint8_t vs[32];
      g_assert_true (frost_verifying_share (g->shares[i], vs, &error));
      g_assert_cmpmem (vs, 32, g->vshares[i], 32);
    }
    for (int round = 0; round < 3; round++) {
      uint8_t (*picked)[32] = g_malloc ((size_t)n * 32);
      random_subset (n, t, ids);
      for (guint i = 0; i < t; i++)
        memcpy (picked[i], g->shares[ids[i] - 1], 32);
      g_assert_true (frost_interpolate_secret (
          ids, (const uint8_t (*)[32])picked, t, secret, &error));
      g_assert_true (crypto_scalarmult_ed25519_base_noclamp (again, secret)
                     == 0);
      g_assert_cmpmem (again, 32, g->pk, 32);
      /* t - 1 of them do not. */
      g_assert_true (frost_interpolate_secret (
          ids, (const uint8_t (*)[32])picked, t - 1, secret, &error));
      crypto_scalarmult_ed25519_base_noclamp (again, secret);
      g_assert_true (memcmp (again, g->pk, 32) != 0);
      sodium_memzero (picked, (size_t)n * 32);
      g_free (picked);
    }
    sodium_memzero (secret, sizeof secret);

    /* The first t, the last t, random t-subsets, more than t, all n. */
    for (guint i = 0; i < t; i++)
      ids[i] = i + 1;
    g_assert_true (group_sign (g, ids, t, msg, strlen (msg), sig, &error));
    g_assert_no_error (error);
    check_signature (g, msg, strlen (msg), sig);
    for (guint i = 0; i < t; i++)
      ids[i] = n - i;
    g_assert_true (group_sign (g, ids, t, msg, strlen (msg), sig, &error));
    check_signature (g, msg, strlen (msg), sig);
    for (int round = 0; round < 4; round++) {
      random_subset (n, t, ids);
      g_assert_true (group_sign (g, ids, t, msg, strlen (msg), sig, &error));
      g_assert_no_error (error);
      check_signature (g, msg, strlen (msg), sig);
    }
    if (n > t) {
      random_subset (n, t + 1, ids);
      g_assert_true (
          group_sign (g, ids, t + 1, msg, strlen (msg), sig, &error));
      g_assert_no_error (error);
      check_signature (g, msg, strlen (msg), sig);
      random_subset (n, n, ids);
      g_assert_true (group_sign (g, ids, n, msg, strlen (msg), sig, &error));
      check_signature (g, msg, strlen (msg), sig);
    }
    /* An empty message. */
    random_subset (n, t, ids);
    g_assert_true (group_sign (g, ids, t, NULL, 0, sig, &error));
    g_assert_no_error (error);
    g_assert_true (sodium_verify (g->pk, "", 0, sig));
    g_assert_true (openssl_verify (g->pk, "", 0, sig));
  }
}

/* Signed as every Cairn signature is ("<domain>\0<payload>"), the
 * aggregate is checked by the core's own verifier (host->ed25519_verify). */
static void
test_domain_separated (void)
{
  static const char domain[] = "cairn/test/threshold/v1";
  static const char payload[] = "{\"amount\":10,\"to\":\"bob\"}";
  g_autoptr (Group) g = group_new (3, 5);
  g_autoptr (GError) error = NULL;
  guint16 ids[3] = { 5, 2, 4 };
  uint8_t sig[64];
  gsize mlen = sizeof domain + strlen (payload);
  g_autofree uint8_t *m = g_malloc (mlen);

  memcpy (m, domain, sizeof domain); /* with its '\0' */
  memcpy (m + sizeof domain, payload, strlen (payload));
  g_assert_true (group_sign (g, ids, 3, m, mlen, sig, &error));
  g_assert_no_error (error);
  g_assert_true (
      cairn_ed25519_verify (g->pk, domain, payload, strlen (payload), sig));
  g_assert_false (cairn_ed25519_verify (g->pk, "cairn/tx/v1", payload,
                                        strlen (payload), sig));
  g_assert_false (
      cairn_ed25519_verify (g->pk, domain, payload, strlen (payload) - 1, sig));
  g_assert_true (openssl_verify (g->pk, m, mlen, sig));
}

static void
test_below_threshold (void)
{
  g_autoptr (Group) g = group_new (3, 5);
  g_autoptr (GError) error = NULL;
  guint16 ids[4];
  uint8_t sig[64], zero[64] = { 0 };

  /* Two of a 3-of-5 group: each share is consistent on its own (it passes
   * frost_verify_share in group_sign) but the sum is no signature. */
  for (int round = 0; round < 5; round++) {
    random_subset (5, 2, ids);
    g_assert_false (group_sign (g, ids, 2, "msg", 3, sig, &error));
    assert_error (error, "fewer than t participants signed");
    g_assert_cmpmem (sig, 64, zero, 64);
    g_clear_error (&error);
  }

  /* Three commit, one does not answer in round two. */
  {
    CairnFrostNonces nonces[3];
    CairnFrostCommitment commitments[3];
    CairnFrostShare shares[3];

    for (guint i = 0; i < 3; i++)
      g_assert_true (frost_commit (i + 1, g->shares[i], &nonces[i],
                                   &commitments[i], &error));
    for (guint i = 0; i < 3; i++) {
      shares[i].identifier = i + 1;
      g_assert_true (frost_sign (i + 1, g->shares[i], g->pk, &nonces[i],
                                 commitments, 3, "msg", 3, shares[i].share,
                                 &error));
    }
    g_assert_false (frost_aggregate (commitments, 3, shares, 2, g->pk, "msg", 3,
                                     sig, &error));
    assert_error (error, "shares: 2 given for 3 commitments");
    g_clear_error (&error);
    /* Dropping the silent member's commitment afterwards does not help:
     * the others signed for a set of three. */
    g_assert_false (frost_aggregate (commitments, 2, shares, 2, g->pk, "msg", 3,
                                     sig, &error));
    assert_error (error, "does not verify under the group public key");
    g_clear_error (&error);
    g_assert_true (frost_aggregate (commitments, 3, shares, 3, g->pk, "msg", 3,
                                    sig, &error));
    g_assert_no_error (error);
  }
}

/* A signing session of 1 and 2 in a 2-of-3 group, kept open so that the
 * tests can tamper with it. */
typedef struct {
  Group *g;
  CairnFrostCommitment commitments[2];
  CairnFrostShare shares[2];
  CairnFrostNonces spare; /* unused nonces of participant 2 for msg2 */
} Session;

static const char msg1[] = "transfer 1";
static const char msg2[] = "transfer 2";

static void
session_start (Session *s)
{
  g_autoptr (GError) error = NULL;
  CairnFrostNonces nonces[2];

  s->g = group_new (2, 3);
  for (guint i = 0; i < 2; i++) {
    g_assert_true (frost_commit (i + 1, s->g->shares[i], &nonces[i],
                                 &s->commitments[i], &error));
    s->shares[i].identifier = i + 1;
  }
  s->spare = nonces[1];
  for (guint i = 0; i < 2; i++)
    g_assert_true (frost_sign (i + 1, s->g->shares[i], s->g->pk, &nonces[i],
                               s->commitments, 2, msg1, strlen (msg1),
                               s->shares[i].share, &error));
  g_assert_no_error (error);
}

static gboolean
session_verify (Session *s, const CairnFrostShare *share, guint vs_index,
                GError **error)
{
  return frost_verify_share (share, s->g->vshares[vs_index], s->commitments, 2,
                             s->g->pk, msg1, strlen (msg1), error);
}

static void
test_bad_shares (void)
{
  Session s;
  g_autoptr (GError) error = NULL;
  CairnFrostShare bad;
  uint8_t sig[64];

  session_start (&s);
  g_assert_true (session_verify (&s, &s.shares[0], 0, &error));
  g_assert_true (session_verify (&s, &s.shares[1], 1, &error));
  g_assert_no_error (error);

  /* Participant 2 signs another message with the same commitments. */
  bad.identifier = 2;
  g_assert_true (frost_sign (2, s.g->shares[1], s.g->pk, &s.spare,
                             s.commitments, 2, msg2, strlen (msg2), bad.share,
                             &error));
  g_assert_no_error (error);
  g_assert_false (session_verify (&s, &bad, 1, &error));
  assert_error (error, "signature share of participant 2 is invalid");
  g_clear_error (&error);
  {
    CairnFrostShare mixed[2] = { s.shares[0], bad };
    g_assert_false (frost_aggregate (s.commitments, 2, mixed, 2, s.g->pk, msg1,
                                     strlen (msg1), sig, &error));
    assert_error (error, "does not verify");
    g_clear_error (&error);
  }

  /* A flipped bit (the lowest, so that the scalar stays canonical). */
  for (guint bit = 0; bit < 8; bit++) {
    bad = s.shares[0];
    bad.share[bit * 3] ^= 1u << bit;
    g_assert_false (session_verify (&s, &bad, 0, &error));
    assert_error (error, "signature share of participant 1 is invalid");
    g_clear_error (&error);
  }

  /* Participant 1's share presented as participant 2's. */
  bad = s.shares[0];
  bad.identifier = 2;
  g_assert_false (session_verify (&s, &bad, 1, &error));
  assert_error (error, "participant 2 is invalid");
  g_clear_error (&error);
  /* A genuine share checked against another member's verifying share. */
  g_assert_false (session_verify (&s, &s.shares[0], 2, &error));
  assert_error (error, "participant 1 is invalid");
  g_clear_error (&error);
  /* A share of a member outside the signing set. */
  bad = s.shares[0];
  bad.identifier = 3;
  g_assert_false (session_verify (&s, &bad, 2, &error));
  assert_error (error, "no commitment of participant 3");
  g_clear_error (&error);

  /* Non-canonical share: aggregate and verify_share refuse it by name. */
  bad = s.shares[1];
  hex_decode (group_order_hex, bad.share, 32);
  g_assert_false (session_verify (&s, &bad, 1, &error));
  assert_error (error,
                "signature share of participant 2 is not a canonical scalar");
  g_clear_error (&error);
  {
    CairnFrostShare mixed[2] = { s.shares[0], bad };
    g_assert_false (frost_aggregate (s.commitments, 2, mixed, 2, s.g->pk, msg1,
                                     strlen (msg1), sig, &error));
    assert_error (error, "participant 2 is not a canonical scalar");
    g_clear_error (&error);
  }

  /* The genuine shares still aggregate. */
  g_assert_true (frost_aggregate (s.commitments, 2, s.shares, 2, s.g->pk, msg1,
                                  strlen (msg1), sig, &error));
  g_assert_no_error (error);
  g_assert_true (openssl_verify (s.g->pk, msg1, strlen (msg1), sig));
  group_free (s.g);
}

static void
test_nonces_once (void)
{
  g_autoptr (Group) g = group_new (2, 3);
  g_autoptr (GError) error = NULL;
  CairnFrostNonces nonces[2], copy, other;
  CairnFrostCommitment commitments[2], other_commitment;
  uint8_t share[32];

  for (guint i = 0; i < 2; i++)
    g_assert_true (frost_commit (i + 1, g->shares[i], &nonces[i],
                                 &commitments[i], &error));
  /* Fresh randomness every time. */
  g_assert_true (
      frost_commit (1, g->shares[0], &other, &other_commitment, &error));
  g_assert_true (memcmp (&other, &nonces[0], sizeof other) != 0);
  g_assert_true (memcmp (other_commitment.hiding, commitments[0].hiding, 32)
                 != 0);

  copy = nonces[0];
  g_assert_true (frost_sign (1, g->shares[0], g->pk, &nonces[0], commitments, 2,
                             "a", 1, share, &error));
  g_assert_no_error (error);
  g_assert_true (
      sodium_is_zero ((const uint8_t *)&nonces[0], sizeof nonces[0]));
  /* The wiped pair cannot sign again, not even the same message. */
  g_assert_false (frost_sign (1, g->shares[0], g->pk, &nonces[0], commitments,
                              2, "a", 1, share, &error));
  assert_error (error, "nonces are wiped");
  g_clear_error (&error);
  g_assert_true (sodium_is_zero (share, 32));

  /* Nonces that do not belong to the relayed commitment. */
  g_assert_false (frost_sign (1, g->shares[0], g->pk, &other, commitments, 2,
                              "a", 1, share, &error));
  assert_error (error, "commitment of participant 1 does not match its nonces");
  g_clear_error (&error);
  /* ... and a failed sign wiped them too. */
  g_assert_true (sodium_is_zero ((const uint8_t *)&other, sizeof other));

  /* A failure on other arguments also consumes the nonces. */
  g_assert_false (frost_sign (2, g->shares[1], g->pk, &nonces[1], commitments,
                              1, "a", 1, share, &error));
  assert_error (error, "a signing set has 2 to 64");
  g_clear_error (&error);
  g_assert_true (
      sodium_is_zero ((const uint8_t *)&nonces[1], sizeof nonces[1]));
  sodium_memzero (&copy, sizeof copy);
}

static void
test_malformed (void)
{
  g_autoptr (Group) g = group_new (2, 3);
  g_autoptr (GError) error = NULL;
  CairnFrostNonces nonces[3], n;
  CairnFrostCommitment commitments[3], bad[3];
  CairnFrostShare shares[2];
  uint8_t order8[32], big[32], scalar[32], sig[64], out[32], x[32];
  uint8_t all_ff[32], off_curve[32] = { 0 }, noncanon[32];
  uint8_t pks[3][32], vs[3][32];

  memset (shares, 0, sizeof shares);
  hex_decode (order8_hex, order8, 32);
  hex_decode (group_order_hex, big, 32);
  memset (all_ff, 0xff, 32);
  /* y = p + 1 (a non-canonical spelling of y = 1). */
  memset (noncanon, 0xff, 32);
  noncanon[0] = 0xee;
  noncanon[31] = 0x7f;
  /* A y with no x on the curve. */
  for (off_curve[0] = 2; off_curve[0] < 255; off_curve[0]++)
    if (crypto_core_ed25519_add (x, off_curve, off_curve) != 0)
      break;
  g_assert_cmpuint (off_curve[0], <, 255);

  for (guint i = 0; i < 3; i++)
    g_assert_true (frost_commit (i + 1, g->shares[i], &nonces[i],
                                 &commitments[i], &error));
  g_assert_no_error (error);

  /* Scalars. */
  g_assert_true (frost_scalar_is_canonical (g->shares[0]));
  g_assert_false (frost_scalar_is_canonical (big));
  g_assert_false (frost_scalar_is_canonical (all_ff));
  memcpy (scalar, big, 32);
  scalar[0]--; /* L - 1 */
  g_assert_true (frost_scalar_is_canonical (scalar));
  g_assert_false (frost_commit (1, big, &n, &commitments[0], &error));
  assert_error (error, "share is not a canonical scalar");
  g_clear_error (&error);
  memset (scalar, 0, 32);
  g_assert_false (frost_commit (1, scalar, &n, &commitments[0], &error));
  assert_error (error, "share is zero");
  g_clear_error (&error);
  g_assert_false (frost_verifying_share (all_ff, out, &error));
  assert_error (error, "not a canonical scalar");
  g_clear_error (&error);
  g_assert_false (frost_commit (0, g->shares[0], &n, &bad[0], &error));
  assert_error (error, "identifier 0 is out of range 1..64");
  g_clear_error (&error);
  g_assert_false (frost_commit (65, g->shares[0], &n, &bad[0], &error));
  assert_error (error, "identifier 65 is out of range");
  g_clear_error (&error);

  /* Elements in a commitment: the header's own example, the identity,
   * a point with a small-order component, off the curve, non-canonical. */
  {
    uint8_t mixed[32], identity[32] = { 1 };
    const struct {
      const uint8_t *value;
      gboolean hiding;
      const char *message;
    } cases[] = {
      /* The example of <cairn/threshold.h>. */
      { mixed, FALSE,
        "commitment of participant 3: binding nonce commitment "
        "is not a valid element" },
      { identity, TRUE,
        "commitment of participant 3: hiding nonce commitment "
        "is the identity element" },
      { order8, TRUE, "is not a valid element" },
      { off_curve, FALSE, "is not a valid element" },
      { noncanon, TRUE, "is not a valid element" },
    };

    g_assert_cmpint (
        crypto_core_ed25519_add (mixed, commitments[2].binding, order8), ==, 0);
    g_assert_cmpint (crypto_core_ed25519_is_valid_point (mixed), ==, 0);
    for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
      memcpy (bad, commitments, sizeof bad);
      memcpy (cases[c].hiding ? bad[2].hiding : bad[2].binding, cases[c].value,
              32);
      n = nonces[0];
      g_assert_false (
          frost_sign (1, g->shares[0], g->pk, &n, bad, 3, "m", 1, out, &error));
      assert_error (error, cases[c].message);
      g_assert_true (g_str_has_prefix (error->message, "commitment of "
                                                       "participant 3: "));
      g_clear_error (&error);
      shares[0].identifier = 1;
      memset (shares[0].share, 1, 31);
      g_assert_false (frost_verify_share (&shares[0], g->vshares[0], bad, 3,
                                          g->pk, "m", 1, &error));
      assert_error (error, cases[c].message);
      g_clear_error (&error);
      g_assert_false (
          frost_aggregate (bad, 3, shares, 1, g->pk, "m", 1, sig, &error));
      assert_error (error, cases[c].message);
      g_clear_error (&error);
    }
  }

  /* The group key and verifying shares. */
  {
    uint8_t identity[32] = { 1 };
    n = nonces[0];
    g_assert_false (frost_sign (1, g->shares[0], identity, &n, commitments, 3,
                                "m", 1, out, &error));
    assert_error (error, "group_pubkey is the identity element");
    g_clear_error (&error);
    g_assert_false (frost_aggregate (commitments, 3, shares, 1, order8, "m", 1,
                                     sig, &error));
    assert_error (error, "group_pubkey is not a valid element");
    g_clear_error (&error);
    shares[0].identifier = 1;
    g_assert_false (frost_verify_share (&shares[0], off_curve, commitments, 3,
                                        g->pk, "m", 1, &error));
    assert_error (error,
                  "verifying share of participant 1 is not a valid element");
    g_clear_error (&error);
  }

  /* Identifiers in the commitment list. */
  memcpy (bad, commitments, sizeof bad);
  bad[2].identifier = 1;
  n = nonces[0];
  g_assert_false (
      frost_sign (1, g->shares[0], g->pk, &n, bad, 3, "m", 1, out, &error));
  assert_error (error, "commitments: participant 1 appears twice");
  g_clear_error (&error);
  bad[2].identifier = 0;
  n = nonces[0];
  g_assert_false (
      frost_sign (1, g->shares[0], g->pk, &n, bad, 3, "m", 1, out, &error));
  assert_error (error, "commitments[2]: identifier 0 is out of range");
  g_clear_error (&error);
  /* The signer's own commitment is missing. */
  n = nonces[0];
  g_assert_false (frost_sign (1, g->shares[0], g->pk, &n, commitments + 1, 2,
                              "m", 1, out, &error));
  assert_error (error, "no commitment of participant 1 (the signer)");
  g_clear_error (&error);
  /* msg NULL with a length. */
  n = nonces[0];
  g_assert_false (frost_sign (1, g->shares[0], g->pk, &n, commitments, 3, NULL,
                              4, out, &error));
  assert_error (error, "msg is NULL");
  g_clear_error (&error);

  /* Shares given to the aggregator. */
  for (guint i = 0; i < 2; i++) {
    shares[i].identifier = i + 1;
    g_assert_true (frost_sign (i + 1, g->shares[i], g->pk, &nonces[i],
                               commitments, 2, "m", 1, shares[i].share,
                               &error));
  }
  {
    CairnFrostShare dup[2] = { shares[0], shares[0] };
    CairnFrostShare other[2] = { shares[0], shares[1] };
    g_assert_false (
        frost_aggregate (commitments, 2, dup, 2, g->pk, "m", 1, sig, &error));
    assert_error (error, "shares: participant 1 appears twice");
    g_clear_error (&error);
    other[1].identifier = 3;
    g_assert_false (
        frost_aggregate (commitments, 2, other, 2, g->pk, "m", 1, sig, &error));
    assert_error (error, "shares[1]: participant 3 has no commitment");
    g_clear_error (&error);
    g_assert_true (frost_aggregate (commitments, 2, shares, 2, g->pk, "m", 1,
                                    sig, &error));
    g_assert_no_error (error);
  }

  /* Key generation parameters and polynomials. */
  g_assert_false (frost_dealer_keygen (1, 3, out, pks, vs, &error));
  assert_error (error, "2 <= t <= n <= 64");
  g_clear_error (&error);
  g_assert_false (frost_dealer_keygen (4, 3, out, pks, vs, &error));
  assert_error (error, "t = 4, n = 3");
  g_clear_error (&error);
  g_assert_false (frost_dealer_keygen (2, 65, out, NULL, NULL, &error));
  assert_error (error, "n = 65");
  g_clear_error (&error);
  {
    uint8_t secret[32] = { 7 }, coeffs[1][32] = { { 0 } };
    g_assert_false (frost_keygen_with_coefficients (
        2, 3, secret, (const uint8_t (*)[32])coeffs, out, pks, vs, NULL,
        &error));
    assert_error (error, "coefficients[0] is zero");
    g_clear_error (&error);
    memcpy (coeffs[0], big, 32);
    g_assert_false (frost_keygen_with_coefficients (
        2, 3, secret, (const uint8_t (*)[32])coeffs, out, pks, vs, NULL,
        &error));
    assert_error (error, "coefficients is not a canonical scalar");
    g_clear_error (&error);
    /* f(x) = 7 + (L - 7) x is zero at 1. */
    memset (x, 0, 32);
    x[0] = 7;
    crypto_core_ed25519_scalar_negate (coeffs[0], x);
    g_assert_false (frost_keygen_with_coefficients (
        2, 3, secret, (const uint8_t (*)[32])coeffs, out, pks, vs, NULL,
        &error));
    assert_error (error, "the polynomial is zero at 1");
    g_clear_error (&error);
    g_assert_true (sodium_is_zero ((const uint8_t *)pks, sizeof pks));
  }

  /* Interpolation inputs. */
  {
    guint16 ids[3] = { 1, 2, 2 };
    g_assert_false (frost_interpolating_value (ids, 2, 3, out, &error));
    assert_error (error, "identifiers: 3 is not in the list");
    g_clear_error (&error);
    g_assert_false (frost_interpolating_value (ids, 3, 1, out, &error));
    assert_error (error, "identifiers: 2 appears twice");
    g_clear_error (&error);
  }
}

/* ---- MULTISIG, with keys and signatures made by the core ------------- */

static void
test_multisig (void)
{
  const CairnThresholdService *svc = service ();
  static const char domain[] = "cairn/test/approval/v1";
  static const char msg[] = "{\"proposal\":7}";
  CairnKey *keys[6];
  uint8_t members[5][32];
  CairnMultisigSig sigs[6];
  g_autoptr (GError) error = NULL;
  const uint8_t (*m)[32] = (const uint8_t (*)[32])members;

  for (guint i = 0; i < 6; i++) {
    keys[i] = cairn_key_generate (&error);
    g_assert_no_error (error);
    memcpy (sigs[i].pubkey, cairn_key_pubkey (keys[i]), 32);
    cairn_key_sign (keys[i], domain, msg, strlen (msg), sigs[i].sig);
    if (i < 5)
      memcpy (members[i], sigs[i].pubkey, 32);
  }
  /* keys[5] is not a member. */

  /* t reached, by any members, in any order; more than t is fine. */
  g_assert_true (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg), sigs,
                                       3, &error));
  g_assert_no_error (error);
  {
    CairnMultisigSig some[3] = { sigs[4], sigs[0], sigs[2] };
    g_assert_true (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg),
                                         some, 3, &error));
  }
  g_assert_true (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg), sigs,
                                       5, &error));
  g_assert_true (svc->multisig_verify (m, 5, 5, domain, msg, strlen (msg), sigs,
                                       5, &error));
  g_assert_true (svc->multisig_verify (m, 5, 1, domain, msg, strlen (msg),
                                       sigs + 3, 1, &error));
  g_assert_no_error (error);

  /* Below t. */
  g_assert_false (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg),
                                        sigs, 2, &error));
  assert_error (error, "2 signatures for a threshold of 3 of 5");
  g_clear_error (&error);

  /* The same member twice does not count twice. */
  {
    CairnMultisigSig dup[3] = { sigs[0], sigs[1], sigs[0] };
    g_assert_false (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg),
                                          dup, 3, &error));
    assert_error (error, "sigs[2]: member 0");
    assert_error (error, "signed twice");
    g_clear_error (&error);
  }

  /* A non-member's valid signature fails the whole proof. */
  {
    CairnMultisigSig with[4] = { sigs[0], sigs[1], sigs[2], sigs[5] };
    g_assert_false (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg),
                                          with, 4, &error));
    assert_error (error, "sigs[3]: key");
    assert_error (error, "is not a member");
    g_clear_error (&error);
  }

  /* An invalid signature fails the whole proof, even beyond t. */
  {
    CairnMultisigSig with[4] = { sigs[0], sigs[1], sigs[2], sigs[3] };
    with[3].sig[10] ^= 0x20;
    g_assert_false (svc->multisig_verify (m, 5, 3, domain, msg, strlen (msg),
                                          with, 4, &error));
    assert_error (error, "sigs[3]: the signature of member 3");
    assert_error (error, "is invalid");
    g_clear_error (&error);
  }
  /* Another message, another domain, a signature without the domain. */
  g_assert_false (
      svc->multisig_verify (m, 5, 3, domain, "{}", 2, sigs, 3, &error));
  assert_error (error, "is invalid");
  g_clear_error (&error);
  g_assert_false (svc->multisig_verify (m, 5, 3, "cairn/tx/v1", msg,
                                        strlen (msg), sigs, 3, &error));
  assert_error (error, "is invalid");
  g_clear_error (&error);
  /* The core signs "<domain>\0<msg>" and nothing else. */
  {
    static const char signed_bytes[] = "cairn/test/approval/v1\0{"
                                       "\"proposal\":7}";
    for (guint i = 0; i < 3; i++) {
      g_assert_true (sodium_verify (sigs[i].pubkey, signed_bytes,
                                    sizeof signed_bytes - 1, sigs[i].sig));
      g_assert_false (
          sodium_verify (sigs[i].pubkey, msg, strlen (msg), sigs[i].sig));
    }
  }

  /* A member key listed twice. */
  {
    uint8_t twice[5][32];
    memcpy (twice, members, sizeof twice);
    memcpy (twice[3], twice[1], 32);
    g_assert_false (svc->multisig_verify ((const uint8_t (*)[32])twice, 5, 3,
                                          domain, msg, strlen (msg), sigs, 3,
                                          &error));
    assert_error (error, "members[1] and members[3] are the same key");
    g_clear_error (&error);
  }

  /* A small-order "member" with an all-zero signature: never accepted. */
  {
    uint8_t weak[2][32] = { { 0 }, { 0 } };
    CairnMultisigSig zero;
    memcpy (weak[1], members[0], 32);
    memset (&zero, 0, sizeof zero);
    g_assert_false (svc->multisig_verify ((const uint8_t (*)[32])weak, 2, 1,
                                          domain, msg, strlen (msg), &zero, 1,
                                          &error));
    assert_error (error, "is invalid");
    g_clear_error (&error);
  }

  /* Parameters. */
  g_assert_false (svc->multisig_verify (m, 5, 0, domain, msg, strlen (msg),
                                        sigs, 3, &error));
  assert_error (error, "t = 0");
  g_clear_error (&error);
  g_assert_false (svc->multisig_verify (m, 5, 6, domain, msg, strlen (msg),
                                        sigs, 6, &error));
  assert_error (error, "t = 6");
  g_clear_error (&error);
  g_assert_false (svc->multisig_verify (m, 0, 1, domain, msg, strlen (msg),
                                        sigs, 3, &error));
  assert_error (error, "members: 0 given");
  g_clear_error (&error);
  g_assert_false (
      svc->multisig_verify (m, 5, 3, NULL, msg, strlen (msg), sigs, 3, &error));
  assert_error (error, "domain is required");
  g_clear_error (&error);

  /* A long message (past the stack buffer). */
  {
    gsize len = 100000;
    g_autofree char *big = g_malloc (len);
    memset (big, 'x', len);
    for (guint i = 0; i < 3; i++)
      cairn_key_sign (keys[i], domain, big, len, sigs[i].sig);
    g_assert_true (
        svc->multisig_verify (m, 5, 3, domain, big, len, sigs, 3, &error));
    g_assert_no_error (error);
  }

  for (guint i = 0; i < 6; i++)
    cairn_key_free (keys[i]);
}

/* Through the service table too: the same functions, any thread. */
static gpointer
thread_main (gpointer data)
{
  const CairnThresholdService *svc = data;

  for (int round = 0; round < 5; round++) {
    uint8_t pk[32], shares[3][32], vshares[3][32], sig[64];
    CairnFrostNonces nonces[2];
    CairnFrostCommitment commitments[2];
    CairnFrostShare sig_shares[2];
    g_autoptr (GError) error = NULL;
    char msg[32];

    g_snprintf (msg, sizeof msg, "thread %p round %d", (void *)g_thread_self (),
                round);
    if (!svc->frost_dealer_keygen (2, 3, pk, shares, vshares, &error))
      return GINT_TO_POINTER (1);
    for (guint i = 0; i < 2; i++)
      if (!svc->frost_commit (i + 2, shares[i + 1], &nonces[i], &commitments[i],
                              &error))
        return GINT_TO_POINTER (2);
    for (guint i = 0; i < 2; i++) {
      sig_shares[i].identifier = i + 2;
      if (!svc->frost_sign (i + 2, shares[i + 1], pk, &nonces[i], commitments,
                            2, msg, strlen (msg), sig_shares[i].share, &error)
          || !svc->frost_verify_share (&sig_shares[i], vshares[i + 1],
                                       commitments, 2, pk, msg, strlen (msg),
                                       &error))
        return GINT_TO_POINTER (3);
    }
    if (!svc->frost_aggregate (commitments, 2, sig_shares, 2, pk, msg,
                               strlen (msg), sig, &error)
        || !openssl_verify (pk, msg, strlen (msg), sig))
      return GINT_TO_POINTER (4);
    sodium_memzero (shares, sizeof shares);
  }
  return NULL;
}

static void
test_threads (void)
{
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("frost", thread_main, (gpointer)service ());
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_assert_null (g_thread_join (threads[i]));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);
  g_test_add_func ("/threshold/plugin", test_plugin);
  g_test_add_func ("/threshold/vectors/rfc9591", test_vectors_rfc9591);
  g_test_add_func ("/threshold/vectors/zcash", test_vectors_zcash);
  g_test_add_func ("/threshold/random-groups", test_random_groups);
  g_test_add_func ("/threshold/domain-separated", test_domain_separated);
  g_test_add_func ("/threshold/below-threshold", test_below_threshold);
  g_test_add_func ("/threshold/bad-shares", test_bad_shares);
  g_test_add_func ("/threshold/nonces-once", test_nonces_once);
  g_test_add_func ("/threshold/malformed", test_malformed);
  g_test_add_func ("/threshold/multisig", test_multisig);
  g_test_add_func ("/threshold/threads", test_threads);
  int rc = g_test_run ();
  g_free (provided.name);
  return rc;
}

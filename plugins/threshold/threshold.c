/* The threshold plugin: provides the cairn.threshold/1 service (t-of-n
 * signatures, <cairn/threshold.h>): FROST(Ed25519, SHA-512) from frost.c
 * and MULTISIG, t distinct Ed25519 member signatures, below. It keeps no
 * state, registers no tx type or route and reads no config. */
#include <string.h>

#include <sodium.h>

#include <cairn/cairn.h>
#include <cairn/threshold.h>

#include "frost.h"

#define THRESHOLD_ID "threshold"

#define FAIL_INVALID(...)                                                      \
  (g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, __VA_ARGS__), FALSE)

/* A short printable prefix of a key for messages. */
static void
key_hex (const uint8_t key[32], char out[17])
{
  sodium_bin2hex (out, 17, key, 8);
}

static gboolean
multisig_verify (const uint8_t (*members)[32], guint n, guint t,
                 const char *domain, const void *msg, size_t len,
                 const CairnMultisigSig *sigs, guint n_sigs, GError **error)
{
  guint64 signed_by = 0;
  uint8_t stack[512];
  g_autofree uint8_t *heap = NULL;
  uint8_t *m = stack;
  size_t dlen, mlen;
  char hex[17];

  if (!frost_init (error))
    return FALSE;
  if (members == NULL || n < 1 || n > CAIRN_THRESHOLD_MAX_PARTICIPANTS)
    return FAIL_INVALID ("members: %u given, 1 to %u needed",
                         members == NULL ? 0 : n,
                         (guint)CAIRN_THRESHOLD_MAX_PARTICIPANTS);
  if (t < 1 || t > n)
    return FAIL_INVALID ("t = %u: the threshold must be between 1 and the "
                         "number of members (%u)",
                         t, n);
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < i; j++)
      if (memcmp (members[i], members[j], 32) == 0) {
        key_hex (members[i], hex);
        return FAIL_INVALID ("members[%u] and members[%u] are the same key "
                             "(%s...): member keys must be distinct",
                             j, i, hex);
      }
  if (domain == NULL)
    return FAIL_INVALID ("domain is required");
  if (msg == NULL && len > 0)
    return FAIL_INVALID ("msg is NULL but len is %zu", len);
  if (sigs == NULL && n_sigs > 0)
    return FAIL_INVALID ("sigs is NULL but n_sigs is %u", n_sigs);
  if (n_sigs < t)
    return FAIL_INVALID ("%u signatures for a threshold of %u of %u members",
                         n_sigs, t, n);

  /* The signed bytes, as the core signs: domain '\0' msg. */
  dlen = strlen (domain);
  if (len > G_MAXSIZE - dlen - 1)
    return FAIL_INVALID ("msg is too long");
  mlen = dlen + 1 + len;
  if (mlen > sizeof stack)
    m = heap = g_malloc (mlen);
  memcpy (m, domain, dlen + 1);
  if (len > 0)
    memcpy (m + dlen + 1, msg, len);

  for (guint i = 0; i < n_sigs; i++) {
    const CairnMultisigSig *s = &sigs[i];
    guint member = n;

    for (guint j = 0; j < n; j++)
      if (memcmp (s->pubkey, members[j], 32) == 0) {
        member = j;
        break;
      }
    key_hex (s->pubkey, hex);
    if (member == n)
      return FAIL_INVALID ("sigs[%u]: key %s... is not a member", i, hex);
    if (signed_by & (G_GUINT64_CONSTANT (1) << member))
      return FAIL_INVALID ("sigs[%u]: member %u (key %s...) signed twice", i,
                           member, hex);
    signed_by |= G_GUINT64_CONSTANT (1) << member;
    /* libsodium refuses small-order keys and R and a non-canonical S. */
    if (crypto_sign_ed25519_verify_detached (s->sig, m, mlen, s->pubkey) != 0)
      return FAIL_INVALID ("sigs[%u]: the signature of member %u (key "
                           "%s...) is invalid",
                           i, member, hex);
  }
  /* Every signature is valid and by a distinct member, and n_sigs >= t. */
  return TRUE;
}

static const CairnThresholdService threshold_service = {
  .size = sizeof (CairnThresholdService),
  .frost_dealer_keygen = frost_dealer_keygen,
  .frost_verifying_share = frost_verifying_share,
  .frost_commit = frost_commit,
  .frost_sign = frost_sign,
  .frost_verify_share = frost_verify_share,
  .frost_aggregate = frost_aggregate,
  .multisig_verify = multisig_verify,
};

static gboolean
threshold_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  return frost_init (error)
         && host->provide_service (self, CAIRN_THRESHOLD_SERVICE,
                                   CAIRN_THRESHOLD_SERVICE_VERSION,
                                   &threshold_service, error);
}

static const CairnServiceRef threshold_provides[] = {
  { CAIRN_THRESHOLD_SERVICE, CAIRN_THRESHOLD_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (threshold, .id = THRESHOLD_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "t-of-n signatures: FROST(Ed25519, "
                                    "SHA-512) and Ed25519 multisig, the "
                                    "cairn.threshold/1 service",
                     .kinds = CAIRN_KIND_APP, .provides = threshold_provides,
                     .init = threshold_init)

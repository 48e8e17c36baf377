/* pos: the wire encoding of proposals, votes, decisions, certificates and
 * evidence (fixed big-endian binary layout, see README.md), and their
 * verification. */
#include <string.h>

#include <openssl/evp.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "engine.h"

/* ---- a bounds-checked reader ----------------------------------------- */

typedef struct Reader {
  const uint8_t *p;
  size_t left;
  gboolean ok;
} Reader;

static const uint8_t *
rd_take (Reader *r, size_t n)
{
  if (!r->ok || r->left < n) {
    r->ok = FALSE;
    return NULL;
  }
  const uint8_t *p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

static uint64_t
rd_uint (Reader *r, size_t n)
{
  const uint8_t *p = rd_take (r, n);
  uint64_t v = 0;
  for (size_t i = 0; p != NULL && i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static void
rd_copy (Reader *r, void *out, size_t n)
{
  const uint8_t *p = rd_take (r, n);
  if (p != NULL)
    memcpy (out, p, n);
  else
    memset (out, 0, n);
}

static void
wr_uint (GByteArray *b, uint64_t v, size_t n)
{
  uint8_t buf[8];
  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  g_byte_array_append (b, buf, (guint)n);
}

/* ---- messages ------------------------------------------------------- */

static gboolean
is_vote (PosMsgKind k)
{
  return k == POS_MSG_PREVOTE || k == POS_MSG_PRECOMMIT;
}

static const uint8_t zero_id[32];

gboolean
pos_msg_decode (const uint8_t *data, size_t len, PosMsg *msg, GError **error)
{
  Reader r = { data, len, data != NULL };
  memset (msg, 0, sizeof *msg);
  msg->pol_round = -1;
  uint64_t version = rd_uint (&r, 1);
  uint64_t kind = rd_uint (&r, 1);
  if (r.ok && version != POS_WIRE_VERSION) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos message: version %" G_GUINT64_FORMAT " (expected %d)",
                 version, POS_WIRE_VERSION);
    return FALSE;
  }
  msg->kind = (PosMsgKind)kind;
  msg->height = rd_uint (&r, 8);
  msg->round = (uint32_t)rd_uint (&r, 4);
  switch (kind) {
  case POS_MSG_PROPOSAL:
    msg->pol_round = (int32_t)(uint32_t)rd_uint (&r, 4);
    rd_copy (&r, msg->block_id, 32);
    rd_copy (&r, msg->signer, 20);
    msg->block_len = rd_uint (&r, 4);
    msg->block = rd_take (&r, msg->block_len);
    rd_copy (&r, msg->sig, 64);
    if (r.ok
        && (msg->pol_round < -1 || msg->pol_round >= (int64_t)msg->round
            || msg->block_len > POS_MAX_BLOCK_BYTES)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "pos proposal: pol_round %d for round %u or block of %zu "
                   "bytes out of range",
                   msg->pol_round, msg->round, msg->block_len);
      return FALSE;
    }
    break;
  case POS_MSG_PREVOTE:
  case POS_MSG_PRECOMMIT: {
    uint64_t nil = rd_uint (&r, 1);
    rd_copy (&r, msg->block_id, 32);
    rd_copy (&r, msg->signer, 20);
    rd_copy (&r, msg->sig, 64);
    msg->nil = nil == 1;
    if (r.ok
        && (nil > 1
            || (msg->nil && memcmp (msg->block_id, zero_id, 32) != 0))) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "pos vote: nil flag %" G_GUINT64_FORMAT
                   " does not match its block id",
                   nil);
      return FALSE;
    }
    break;
  }
  case POS_MSG_DECISION:
    rd_copy (&r, msg->block_id, 32);
    msg->block_len = rd_uint (&r, 4);
    msg->block = rd_take (&r, msg->block_len);
    msg->cert_len = rd_uint (&r, 4);
    msg->cert = rd_take (&r, msg->cert_len);
    break;
  default:
    if (r.ok) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "pos message: unknown kind %" G_GUINT64_FORMAT, kind);
      return FALSE;
    }
  }
  if (!r.ok || r.left != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos message: %zu bytes do not hold one %s message", len,
                 r.ok ? "exact" : "complete");
    return FALSE;
  }
  return TRUE;
}

/* The header fields that are signed (also the start of the encoding). */
static void
write_signed_fields (GByteArray *b, const PosMsg *m)
{
  wr_uint (b, POS_WIRE_VERSION, 1);
  wr_uint (b, (uint64_t)m->kind, 1);
  wr_uint (b, m->height, 8);
  wr_uint (b, m->round, 4);
  if (m->kind == POS_MSG_PROPOSAL)
    wr_uint (b, (uint32_t)m->pol_round, 4);
  else
    wr_uint (b, m->nil ? 1 : 0, 1);
  g_byte_array_append (b, m->nil ? zero_id : m->block_id, 32);
  g_byte_array_append (b, m->signer, 20);
}

GBytes *
pos_msg_encode (const PosMsg *m)
{
  GByteArray *b = g_byte_array_new ();
  if (m->kind == POS_MSG_DECISION) {
    wr_uint (b, POS_WIRE_VERSION, 1);
    wr_uint (b, (uint64_t)m->kind, 1);
    wr_uint (b, m->height, 8);
    wr_uint (b, m->round, 4);
    g_byte_array_append (b, m->block_id, 32);
    wr_uint (b, m->block_len, 4);
    g_byte_array_append (b, m->block, (guint)m->block_len);
    wr_uint (b, m->cert_len, 4);
    g_byte_array_append (b, m->cert, (guint)m->cert_len);
    return g_byte_array_free_to_bytes (b);
  }
  write_signed_fields (b, m);
  if (m->kind == POS_MSG_PROPOSAL) {
    wr_uint (b, m->block_len, 4);
    g_byte_array_append (b, m->block, (guint)m->block_len);
  }
  g_byte_array_append (b, m->sig, 64);
  return g_byte_array_free_to_bytes (b);
}

GBytes *
pos_msg_sign_bytes (const char *chain_id, const PosMsg *m)
{
  GByteArray *b = g_byte_array_new ();
  size_t clen = strlen (chain_id);
  wr_uint (b, clen, 1);
  g_byte_array_append (b, (const uint8_t *)chain_id, (guint)clen);
  write_signed_fields (b, m);
  return g_byte_array_free_to_bytes (b);
}

gboolean
pos_ed25519_verify (void *user_data, const uint8_t pubkey[32],
                    const uint8_t *msg, size_t len, const uint8_t sig[64])
{
  size_t dlen = sizeof POS_SIGN_DOMAIN; /* includes the \0 separator */
  g_autofree uint8_t *framed = g_malloc (dlen + len);
  memcpy (framed, POS_SIGN_DOMAIN, dlen);
  memcpy (framed + dlen, msg, len);
  EVP_PKEY *key
      = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pubkey, 32);
  if (key == NULL)
    return FALSE;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gboolean ok = ctx != NULL
                && EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, key) == 1
                && EVP_DigestVerify (ctx, sig, 64, framed, dlen + len) == 1;
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (key);
  return ok;
}

gboolean
pos_msg_verify (const PosValidatorSet *set, const char *chain_id,
                const uint8_t *data, size_t len, PosVerifyFn verify,
                void *verify_data, PosMsg *msg, GError **error)
{
  if (!pos_msg_decode (data, len, msg, error))
    return FALSE;
  if (msg->kind == POS_MSG_DECISION) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos message: a decision carries no signature of its own");
    return FALSE;
  }
  int idx = pos_validator_set_find_raw (set, msg->signer);
  if (idx < 0) {
    g_autofree char *hex = cairn_hex_encode (msg->signer, 20);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "pos message: signer %s is not a validator at height "
                 "%" G_GUINT64_FORMAT,
                 hex, msg->height);
    return FALSE;
  }
  g_autoptr (GBytes) sb = pos_msg_sign_bytes (chain_id, msg);
  gsize sblen;
  const uint8_t *sbd = g_bytes_get_data (sb, &sblen);
  if (verify == NULL)
    verify = pos_ed25519_verify;
  if (!verify (verify_data, pos_validator_set_get (set, (size_t)idx)->pubkey,
               sbd, sblen, msg->sig)) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
        "pos message: bad signature by %s on kind %d height %" G_GUINT64_FORMAT
        " round %u",
        pos_validator_set_get (set, (size_t)idx)->address, msg->kind,
        msg->height, msg->round);
    return FALSE;
  }
  return TRUE;
}

/* ---- certificates --------------------------------------------------- */

gboolean
pos_certificate_signers (const uint8_t *cert, size_t cert_len, uint64_t *height,
                         uint32_t *round, GArray *signers, GError **error)
{
  Reader r = { cert, cert_len, cert != NULL };
  uint64_t version = rd_uint (&r, 1);
  *height = rd_uint (&r, 8);
  *round = (uint32_t)rd_uint (&r, 4);
  uint8_t id[32];
  rd_copy (&r, id, 32);
  uint64_t count = rd_uint (&r, 2);
  if (!r.ok || version != POS_WIRE_VERSION || r.left != count * (20 + 64)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos certificate: malformed");
    return FALSE;
  }
  for (uint64_t i = 0; i < count; i++) {
    uint8_t addr[20], sig[64];
    rd_copy (&r, addr, 20);
    rd_copy (&r, sig, 64);
    g_array_append_vals (signers, addr, 1);
  }
  return TRUE;
}

gboolean
pos_certificate_verify (const PosValidatorSet *set, const char *chain_id,
                        uint64_t height, const uint8_t block_id[32],
                        const uint8_t *cert, size_t cert_len,
                        PosVerifyFn verify, void *verify_data, GError **error)
{
  Reader r = { cert, cert_len, cert != NULL };
  uint64_t version = rd_uint (&r, 1);
  uint64_t h = rd_uint (&r, 8);
  uint32_t round = (uint32_t)rd_uint (&r, 4);
  uint8_t id[32];
  rd_copy (&r, id, 32);
  uint64_t count = rd_uint (&r, 2);
  if (!r.ok || version != POS_WIRE_VERSION || h != height
      || memcmp (id, block_id, 32) != 0 || r.left != count * (20 + 64)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos certificate for height %" G_GUINT64_FORMAT
                 ": malformed, or for another height (%" G_GUINT64_FORMAT
                 ") or block",
                 height, h);
    return FALSE;
  }
  if (verify == NULL)
    verify = pos_ed25519_verify;
  PosMsg vote = { .kind = POS_MSG_PRECOMMIT, .height = height, .round = round };
  memcpy (vote.block_id, block_id, 32);
  uint64_t power = 0;
  uint8_t prev[20] = { 0 };
  for (uint64_t i = 0; i < count; i++) {
    rd_copy (&r, vote.signer, 20);
    rd_copy (&r, vote.sig, 64);
    /* Strictly ascending signers: no validator counts twice. */
    if (i > 0 && memcmp (vote.signer, prev, 20) <= 0) {
      g_set_error (
          error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
          "pos certificate for height %" G_GUINT64_FORMAT
          ": signers not strictly ascending at entry %" G_GUINT64_FORMAT,
          height, i);
      return FALSE;
    }
    memcpy (prev, vote.signer, 20);
    int idx = pos_validator_set_find_raw (set, vote.signer);
    if (idx < 0) {
      g_autofree char *hex = cairn_hex_encode (vote.signer, 20);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                   "pos certificate for height %" G_GUINT64_FORMAT
                   ": %s is not a validator",
                   height, hex);
      return FALSE;
    }
    const PosValidator *v = pos_validator_set_get (set, (size_t)idx);
    g_autoptr (GBytes) sb = pos_msg_sign_bytes (chain_id, &vote);
    gsize sblen;
    const uint8_t *sbd = g_bytes_get_data (sb, &sblen);
    if (!verify (verify_data, v->pubkey, sbd, sblen, vote.sig)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                   "pos certificate for height %" G_GUINT64_FORMAT
                   ": bad signature by %s",
                   height, v->address);
      return FALSE;
    }
    power += v->power;
  }
  if (!pos_quorum (power, pos_validator_set_total (set))) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "pos certificate for height %" G_GUINT64_FORMAT
                 ": power %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                 " is not more than 2/3",
                 height, power, pos_validator_set_total (set));
    return FALSE;
  }
  return TRUE;
}

/* ---- evidence ------------------------------------------------------- */

gboolean
pos_evidence_verify (const PosValidatorSet *set, const char *chain_id,
                     const uint8_t *ev, size_t ev_len, PosVerifyFn verify,
                     void *verify_data, uint8_t addr[20], GError **error)
{
  Reader r = { ev, ev_len, ev != NULL };
  size_t la = rd_uint (&r, 4);
  const uint8_t *a = rd_take (&r, la);
  size_t lb = rd_uint (&r, 4);
  const uint8_t *b = rd_take (&r, lb);
  if (!r.ok || r.left != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos evidence: %zu bytes are not two length-prefixed votes",
                 ev_len);
    return FALSE;
  }
  PosMsg ma, mb;
  if (!pos_msg_verify (set, chain_id, a, la, verify, verify_data, &ma, error)
      || !pos_msg_verify (set, chain_id, b, lb, verify, verify_data, &mb,
                          error))
    return FALSE;
  if (!is_vote (ma.kind) || ma.kind != mb.kind || ma.height != mb.height
      || ma.round != mb.round || memcmp (ma.signer, mb.signer, 20) != 0
      || (ma.nil == mb.nil && memcmp (ma.block_id, mb.block_id, 32) == 0)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos evidence: the two votes are not conflicting votes of "
                 "one validator for one height, round and type");
    return FALSE;
  }
  if (addr != NULL)
    memcpy (addr, ma.signer, 20);
  return TRUE;
}

/* Fuzz target: blocks and consensus messages.
 *
 * The first byte picks what the rest is fed to:
 *   0: cairn_block_decode (core/block.c), either form. On success the
 *      block re-encodes to exactly the input, decodes again to the same
 *      hash, and the no-parse helpers (peek_height, tx_slice) agree with
 *      the full decode.
 *   1: pos_msg_decode (plugins/pos/codec.c): proposals, votes, decisions;
 *      on success the encoding decodes again to the same fields.
 *   2: pos certificates: pos_certificate_signers, then
 *      pos_certificate_verify against a fixed 4-validator set with a
 *      verifier that accepts every signature (the structural path).
 *   3: pos_evidence_verify against the same set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "engine.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_block (const char *text, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnBlockData) b = cairn_block_decode (text, size, NULL, &error);
  uint64_t peek = 0;
  gboolean peeked = cairn_block_peek_height (text, size, &peek);

  if (b == NULL) {
    CHECK (error != NULL);
    return;
  }
  CHECK (peeked && peek == b->height);
  for (guint i = 0; i < b->txs->len; i++) {
    CairnTx *tx = g_ptr_array_index (b->txs, i);
    size_t start = 0, len = 0;
    CHECK (cairn_block_tx_slice (text, size, i, &start, &len));
    CHECK (start + len <= size && len == tx->len
           && memcmp (text + start, tx->bytes, len) == 0);
  }
  CHECK (!cairn_block_tx_slice (text, size, b->txs->len, &(size_t){ 0 },
                                &(size_t){ 0 }));

  size_t len = 0;
  g_autofree char *enc
      = cairn_block_encode (b, b->certificate != NULL, &len, &error);
  CHECK (enc != NULL);
  CHECK (len == size && memcmp (enc, text, size) == 0);
  g_autoptr (CairnBlockData) again
      = cairn_block_decode (enc, len, b->chain_id, &error);
  CHECK (again != NULL);
  CHECK (memcmp (again->hash, b->hash, sizeof b->hash) == 0);
}

static void
fuzz_pos_msg (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  PosMsg msg;

  if (!pos_msg_decode (data, size, &msg, &error)) {
    CHECK (error != NULL);
    return;
  }
  g_autoptr (GBytes) enc = pos_msg_encode (&msg);
  gsize len;
  const uint8_t *p = g_bytes_get_data (enc, &len);
  PosMsg again;
  CHECK (pos_msg_decode (p, len, &again, NULL));
  CHECK (again.kind == msg.kind && again.height == msg.height
         && again.round == msg.round && again.nil == msg.nil
         && memcmp (again.block_id, msg.block_id, 32) == 0
         && memcmp (again.signer, msg.signer, 20) == 0
         && memcmp (again.sig, msg.sig, 64) == 0
         && again.block_len == msg.block_len && again.cert_len == msg.cert_len);
  if (msg.block_len)
    CHECK (memcmp (again.block, msg.block, msg.block_len) == 0);
  if (msg.cert_len)
    CHECK (memcmp (again.cert, msg.cert, msg.cert_len) == 0);
  g_autoptr (GBytes) sb = pos_msg_sign_bytes ("dev", &msg);
  CHECK (sb != NULL);
}

static gboolean
accept_all (void *user_data, const uint8_t pubkey[32], const uint8_t *msg,
            size_t len, const uint8_t sig[64])
{
  return TRUE;
}

/* Validators whose raw addresses are 0x01.., 0x02.., 0x03.., 0x04..
 * (20 bytes of the digit), so that mutated certificates can name them. */
static PosValidatorSet *
fixed_set (void)
{
  PosValidator vals[4];

  memset (vals, 0, sizeof vals);
  for (int i = 0; i < 4; i++) {
    for (int k = 0; k < 40; k++)
      vals[i].address[k] = "0123456789"[(k % 2) ? i + 1 : 0];
    memset (vals[i].pubkey, i + 1, 32);
    vals[i].power = 10 * (i + 1);
  }
  return pos_validator_set_new (vals, 4, NULL);
}

static void
fuzz_pos_cert (const uint8_t *data, size_t size, gboolean evidence)
{
  static PosValidatorSet *set;
  g_autoptr (GError) error = NULL;

  if (set == NULL)
    set = fixed_set ();
  CHECK (set != NULL);
  if (evidence) {
    uint8_t addr[20];
    pos_evidence_verify (set, "dev", data, size, accept_all, NULL, addr,
                         &error);
    return;
  }
  g_autoptr (GArray) signers = g_array_new (FALSE, FALSE, 20);
  uint64_t height = 0;
  uint32_t round = 0;
  if (pos_certificate_signers (data, size, &height, &round, signers, &error)) {
    /* The certificate names its block id at bytes 13..45. */
    CHECK (size >= 47);
    g_autoptr (GError) verror = NULL;
    pos_certificate_verify (set, "dev", height, data + 13, data, size,
                            accept_all, NULL, &verror);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  switch (data[0] % 4) {
  case 0:
    fuzz_block ((const char *)data + 1, size - 1);
    break;
  case 1:
    fuzz_pos_msg (data + 1, size - 1);
    break;
  case 2:
    fuzz_pos_cert (data + 1, size - 1, FALSE);
    break;
  case 3:
    fuzz_pos_cert (data + 1, size - 1, TRUE);
    break;
  }
  return 0;
}

/* The signed transaction envelope.
 *
 * Wire/canonical form (canonical JSON, keys sorted):
 *   {"body":{...},"chain_id":"dev","from":"<address>","nonce":7,
 *    "pubkey":"<64 hex>","sig":"<128 hex>","type":"bank.transfer"}
 * The signature is Ed25519 (domain CAIRN_DOMAIN_TX) over the canonical JSON
 * of the same object without "sig". The tx id is SHA-256 of the whole
 * canonical signed object. `from` must equal address(pubkey); `type` is
 * "<plugin>.<name>" of [a-z0-9_.-]; `nonce` is an integer >= 0; `body` an
 * object. No other fields are allowed. */
#pragma once

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "crypto.h"

#define CAIRN_MAX_TX_BYTES (64 * 1024)

/* Reasons a tx is refused at admission; the name is the API's reason code. */
typedef enum {
  CAIRN_REJECT_MALFORMED = 1, /* "malformed": not JSON / missing fields */
  CAIRN_REJECT_TOO_LARGE,     /* "too_large" */
  CAIRN_REJECT_NON_CANONICAL, /* "non_canonical" */
  CAIRN_REJECT_WRONG_CHAIN,   /* "wrong_chain" */
  CAIRN_REJECT_BAD_SIGNATURE, /* "bad_signature" */
  CAIRN_REJECT_NONCE_TOO_LOW, /* "nonce_too_low": already used */
  CAIRN_REJECT_NONCE_GAP,     /* "nonce_gap": too far ahead */
  CAIRN_REJECT_DUPLICATE,     /* "duplicate": same id known */
  CAIRN_REJECT_MEMPOOL_FULL,  /* "mempool_full" */
  CAIRN_REJECT_UNKNOWN_TYPE,  /* "unknown_type" */
  CAIRN_REJECT_INVALID_BODY,  /* "invalid_body": handler's check() said no */
  CAIRN_REJECT_SENDER_LIMIT,  /* "sender_limit": [mempool] max_txs_per_sender */
} CairnReject;

GQuark cairn_reject_quark (void);
#define CAIRN_REJECT (cairn_reject_quark ())
const char *cairn_reject_name (int code);

typedef struct CairnTx {
  gint ref;
  char *chain_id;
  char *type;
  char from[41];
  uint8_t pubkey[32];
  uint64_t nonce;
  json_t *body; /* owned */
  uint8_t sig[64];
  uint8_t id[32];
  char id_hex[65];
  char *bytes; /* canonical signed JSON, NUL-terminated, owned */
  size_t len;
  gboolean sig_checked; /* set by cairn_tx_verify on success */
} CairnTx;

/* Decode wire bytes: size cap, strict canonical parse, field checks and the
 * chain id (NULL = don't check). Does not verify the signature.
 * Errors are in CAIRN_REJECT. */
CairnTx *cairn_tx_decode (const char *bytes, size_t len, const char *chain_id,
                          GError **error);
/* The fast path of cairn_tx_decode: the envelope in its canonical layout
 * ({"body":{…},"chain_id":"…","from":"…","nonce":N,"pubkey":"…",
 * "sig":"…","type":"…"}) read in place, only the body parsed. *laid_out
 * FALSE (and NULL, no error) when the text is not exactly that; otherwise
 * the result and error are those of cairn_tx_decode. */
CairnTx *cairn_tx_decode_layout (const char *bytes, size_t len,
                                 const char *chain_id, gboolean *laid_out,
                                 GError **error);
/* Same from an already parsed object (e.g. an element of a batch array). */
CairnTx *cairn_tx_from_json (const json_t *obj, const char *chain_id,
                             GError **error);
/* Verify the signature (CAIRN_REJECT_BAD_SIGNATURE). Thread-safe. */
gboolean cairn_tx_verify (CairnTx *tx, GError **error);
/* Build and sign. body is borrowed (copied). */
CairnTx *cairn_tx_sign (const CairnKey *key, const char *chain_id,
                        const char *type, uint64_t nonce, const json_t *body,
                        GError **error);
/* The canonical object as JSON (new reference). */
json_t *cairn_tx_to_json (const CairnTx *tx);

CairnTx *cairn_tx_ref (CairnTx *tx);
void cairn_tx_unref (CairnTx *tx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTx, cairn_tx_unref)

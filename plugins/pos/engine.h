/* pos engine: a pure, deterministic Tendermint-style BFT consensus engine
 * (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus", 2018).
 *
 * No host calls, no main loop, no clock, no I/O: the environment feeds the
 * engine messages and fired timeouts, and the engine answers through the
 * PosEnv callbacks. Not thread-safe; callbacks must not call back into the
 * engine (queue the work and call after the engine returns).
 * See plugins/pos/README.md for the rules, encoding and proposer schedule. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Ed25519 signatures are over "<POS_SIGN_DOMAIN>\0<sign bytes>" (the same
 * framing as host->node_sign / host->ed25519_verify). */
#define POS_SIGN_DOMAIN "cairn/pos/v1"
#define POS_WIRE_VERSION 1
#define POS_MAX_VALIDATORS 1024
/* Total voting power cap: keeps every sum and priority inside int64. */
#define POS_MAX_TOTAL_POWER (UINT64_C (1) << 52)
#define POS_MAX_BLOCK_BYTES (8u << 20)
#define POS_MAX_CHAIN_ID 64

/* ---- validators --------------------------------------------------------- */

typedef struct PosValidator {
  char address[41]; /* 40 lowercase hex digits */
  uint8_t pubkey[32];
  uint64_t power; /* > 0 */
} PosValidator;

typedef struct PosValidatorSet PosValidatorSet;

/* Copies and sorts by address; rejects an empty set, bad or duplicate
 * addresses, zero power, a total above POS_MAX_TOTAL_POWER. */
PosValidatorSet *pos_validator_set_new (const PosValidator *vals, size_t n,
                                        GError **error);
PosValidatorSet *pos_validator_set_ref (PosValidatorSet *set);
void pos_validator_set_unref (PosValidatorSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosValidatorSet, pos_validator_set_unref)
size_t pos_validator_set_size (const PosValidatorSet *set);
uint64_t pos_validator_set_total (const PosValidatorSet *set);
/* i-th validator in address order. */
const PosValidator *pos_validator_set_get (const PosValidatorSet *set,
                                           size_t i);
/* Index of address (40 hex) or raw 20-byte address, or -1. */
int pos_validator_set_find (const PosValidatorSet *set, const char *address);
int pos_validator_set_find_raw (const PosValidatorSet *set,
                                const uint8_t addr[20]);

/* Strictly more than 2/3 of total: 3*power > 2*total (integers only). */
gboolean pos_quorum (uint64_t power, uint64_t total);
/* Strictly more than 1/3 of total (the "f+1" threshold). */
gboolean pos_one_third (uint64_t power, uint64_t total);

/* Index of the proposer of (height, round): smooth weighted round robin
 * over slot (height + round) mod total power. Caches its progress in the
 * set, hence not const. */
size_t pos_proposer (PosValidatorSet *set, uint64_t height, uint32_t round);

/* ---- messages ----------------------------------------------------------- */

typedef enum {
  POS_MSG_PROPOSAL = 1,
  POS_MSG_PREVOTE = 2,
  POS_MSG_PRECOMMIT = 3,
  POS_MSG_DECISION = 4, /* catch-up: a committed block and its certificate */
} PosMsgKind;

typedef struct PosMsg {
  PosMsgKind kind;
  uint64_t height;
  uint32_t round;
  int32_t pol_round; /* proposal only, -1 = none */
  gboolean nil;      /* votes: nil vote (block_id all zero) */
  uint8_t block_id[32];
  uint8_t signer[20]; /* raw address: proposer or voter */
  uint8_t sig[64];
  const uint8_t *block; /* proposal / decision: points into the input */
  size_t block_len;
  const uint8_t *cert; /* decision: points into the input */
  size_t cert_len;
} PosMsg;

/* Structural decode only (no signature or membership check). The pointers
 * in *msg point into data. */
gboolean pos_msg_decode (const uint8_t *data, size_t len, PosMsg *msg,
                         GError **error);
/* Encoding of msg, including its signature. */
GBytes *pos_msg_encode (const PosMsg *msg);
/* The bytes that are signed for a proposal or vote (without domain). */
GBytes *pos_msg_sign_bytes (const char *chain_id, const PosMsg *msg);

typedef gboolean (*PosVerifyFn) (void *user_data, const uint8_t pubkey[32],
                                 const uint8_t *msg, size_t len,
                                 const uint8_t sig[64]);
/* Ed25519 (OpenSSL) over "<POS_SIGN_DOMAIN>\0<msg>"; user_data unused. */
gboolean pos_ed25519_verify (void *user_data, const uint8_t pubkey[32],
                             const uint8_t *msg, size_t len,
                             const uint8_t sig[64]);

/* Full check of a proposal or vote: decode, signer in set, signature.
 * verify NULL = pos_ed25519_verify. */
gboolean pos_msg_verify (const PosValidatorSet *set, const char *chain_id,
                         const uint8_t *data, size_t len, PosVerifyFn verify,
                         void *verify_data, PosMsg *msg, GError **error);

/* A certificate is the encoded precommits for (height, round, block_id)
 * whose signers hold > 2/3 of the power. verify NULL = Ed25519. */
gboolean pos_certificate_verify (const PosValidatorSet *set,
                                 const char *chain_id, uint64_t height,
                                 const uint8_t block_id[32],
                                 const uint8_t *cert, size_t cert_len,
                                 PosVerifyFn verify, void *verify_data,
                                 GError **error);

/* Structural decode of a certificate (no signature or set check): its
 * round and the signers' raw addresses, strictly ascending. */
gboolean pos_certificate_signers (const uint8_t *cert, size_t cert_len,
                                  uint64_t *height, uint32_t *round,
                                  GArray *signers /* of uint8_t[20] */,
                                  GError **error);
/* Evidence of double signing: two encoded votes of one validator for the
 * same (height, round, type) with different block ids. On success fills
 * the offender's address (raw) when addr is not NULL. */
gboolean pos_evidence_verify (const PosValidatorSet *set, const char *chain_id,
                              const uint8_t *ev, size_t ev_len,
                              PosVerifyFn verify, void *verify_data,
                              uint8_t addr[20], GError **error);

/* ---- the engine ---------------------------------------------------------- */

typedef enum {
  POS_STEP_PROPOSE = 0,
  POS_STEP_PREVOTE = 1,
  POS_STEP_PRECOMMIT = 2,
  POS_STEP_REBROADCAST = 3, /* timer kind only: periodic resend */
} PosStep;

typedef struct PosEnv {
  void *user_data;
  /* Sign own message bytes (the real plugin: host->node_sign with
   * POS_SIGN_DOMAIN). */
  gboolean (*sign) (void *user_data, const uint8_t *msg, size_t len,
                    uint8_t sig[64]);
  PosVerifyFn verify; /* NULL = pos_ed25519_verify */
  /* Build a block to propose; NULL = nothing (then nil is proposed by
   * timing out). Sets id. */
  GBytes *(*get_proposal) (void *user_data, uint64_t height, uint8_t id[32]);
  /* Check a proposed block; sets id on success. */
  gboolean (*validate) (void *user_data, uint64_t height, const uint8_t *block,
                        size_t len, uint8_t id[32]);
  void (*broadcast) (void *user_data, const uint8_t *msg, size_t len);
  void (*schedule_timeout) (void *user_data, uint64_t delay_ms, uint64_t height,
                            uint32_t round, PosStep step);
  /* Persist an own message (or the proposal the engine locks on) before it
   * leaves; FALSE = do not send it. */
  gboolean (*wal_append) (void *user_data, const uint8_t *msg, size_t len);
  /* The block is decided. Call pos_engine_start_height afterwards (not
   * from inside this callback). */
  void (*commit) (void *user_data, uint64_t height, const uint8_t id[32],
                  const uint8_t *block, size_t len, const uint8_t *cert,
                  size_t cert_len);
  /* Optional: double signing seen; ev is verifiable with
   * pos_evidence_verify. */
  void (*evidence) (void *user_data, const uint8_t *ev, size_t len);
  /* Optional: a committed block and certificate, to help a lagging peer. */
  gboolean (*get_commit) (void *user_data, uint64_t height, GBytes **block,
                          GBytes **cert);
} PosEnv;

typedef struct PosConfig {
  const char *chain_id;
  uint32_t timeout_propose_ms, timeout_propose_delta_ms;
  uint32_t timeout_prevote_ms, timeout_prevote_delta_ms;
  uint32_t timeout_precommit_ms, timeout_precommit_delta_ms;
  uint32_t rebroadcast_ms;  /* 0 = never resend */
  uint32_t future_heights;  /* buffer messages up to height + this */
  uint32_t max_round_ahead; /* drop messages beyond round + this */
} PosConfig;

/* Defaults: 3000+500r / 1000+500r / 1000+500r ms, resend 2000 ms, 2 future
 * heights, 1000 rounds ahead. */
void pos_config_init (PosConfig *config, const char *chain_id);

typedef struct PosStats {
  guint64 received, accepted, duplicates, bad_sig, non_validator, bad_height,
      malformed, refused_conflict, evidence;
} PosStats;

typedef struct PosEngine PosEngine;

/* my_address NULL or not in set = observer (never signs). */
PosEngine *pos_engine_new (const PosConfig *config, const PosEnv *env,
                           const char *my_address, GError **error);
void pos_engine_free (PosEngine *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PosEngine, pos_engine_free)

/* Before pos_engine_start_height: prepare height (so WAL entries for it
 * can be replayed) with its validator set. */
void pos_engine_prepare_height (PosEngine *e, uint64_t height,
                                PosValidatorSet *set);
/* Feed one WAL record of the prepared height (own votes and proposals,
 * locked proposals); records of other heights are ignored. */
gboolean pos_engine_replay_wal (PosEngine *e, const uint8_t *msg, size_t len,
                                GError **error);
/* Start the prepared height (or prepare+start when set != NULL). */
void pos_engine_start_height (PosEngine *e, uint64_t height,
                              PosValidatorSet *set);
/* A message from the network. FALSE (with error) = rejected. */
gboolean pos_engine_receive (PosEngine *e, const uint8_t *data, size_t len,
                             GError **error);
void pos_engine_on_timeout (PosEngine *e, uint64_t height, uint32_t round,
                            PosStep step);

uint64_t pos_engine_height (const PosEngine *e);
uint32_t pos_engine_round (const PosEngine *e);
PosStep pos_engine_step (const PosEngine *e);
const PosStats *pos_engine_stats (const PosEngine *e);

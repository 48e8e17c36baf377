/* metering: resource-usage proofs, settlement, recharge and withdrawal
 * (internal declarations; the design is README.md).
 *
 * Files: metering.c (lifecycle, config, state helpers and the checks the
 * chain and the centers share), txs.c (tx types: the five contracts),
 * reads.c (GET routes), centers.c (the data-processing center: reading
 * intake, the agreement and threshold-signing protocol between centers over
 * direct P2P messages), finance.c (the financial-terminal adapter),
 * formats.c (the signed objects, pure). State layout: README.md "State".
 */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 3
#include <cairn/bank.h>
#include <cairn/cairn.h>
#include <cairn/threshold.h>

#include "formats.h"

#define METER_ID "metering"
#define METER_OPERATOR_ROLE "meter_operator"
#define METER_CENTER_ROLE "meter_center"
#define METER_KEYBUF 256
#define METER_MAX_TERMINALS_PER_SET 256
#define METER_MAX_DEVICES 16
#define METER_MAX_CENTERS CAIRN_THRESHOLD_MAX_PARTICIPANTS
/* Most periods one window may have (bounds the level-2 work of one tx). */
#define METER_MAX_WINDOW_PERIODS 10080

typedef struct MeterCenters MeterCenters; /* centers.c */
typedef struct MeterFinance MeterFinance; /* finance.c */

typedef struct Meter {
  CairnPlugin *self;
  char addr[41]; /* this node */
  const CairnBankService *bank;
  const CairnThresholdService *threshold;
  /* [metering] config */
  gboolean center;
  char *share_file;
  int64_t grace_ms;
  int64_t coordinator_delay_ms;
  char *finance_url;
  int64_t finance_timeout_ms;
  /* For tests only: a center that adds this to usage.cpu_ms of every
   * aggregate it computes (it lies on purpose; logged at start). */
  int64_t debug_lie_cpu_ms;
  MeterCenters *centers; /* NULL unless center = true */
  MeterFinance *finance; /* centers only */
} Meter;

extern const CairnHost *meter_host;

/* ---- metering.c: state helpers ---- */
/* A JSON value of the plugin's state (tx NULL: the head), NULL with
 * *error unset when absent. */
json_t *mtr_get (Meter *m, CairnTxCtx *tx, const char *key, GError **error);
gboolean mtr_put (Meter *m, CairnTxCtx *tx, const char *key, const json_t *v,
                  GError **error);
gboolean mtr_del (Meter *m, CairnTxCtx *tx, const char *key, GError **error);
const char *mtr_str (const json_t *o, const char *k);
json_int_t mtr_int (const json_t *o, const char *k);
/* "<prefix>/<id>/<n %020>" (g_free). */
char *mtr_seq_key (const char *prefix, const char *id, uint64_t n);
void mtr_emit (Meter *m, CairnTxCtx *tx, const char *type, json_t *data);

/* The chain parameters; NOT_FOUND "metering is not configured yet" when
 * metering.configure has not run. */
json_t *mtr_params (Meter *m, CairnTxCtx *tx, GError **error);
/* The current center group; NOT_FOUND when none. */
json_t *mtr_centers (Meter *m, CairnTxCtx *tx, GError **error);
/* term/<id>; NOT_FOUND naming the terminal when unregistered. */
json_t *mtr_terminal (Meter *m, CairnTxCtx *tx, const char *id, GError **error);
/* The period that contains time_ms under params. */
int64_t mtr_period_of (const json_t *params, int64_t time_ms);

/* The threshold proof `proof` over domain "\0" msg by the current center
 * group (its version must be the group's): FROST against the group key,
 * multisig against the members and t. Errors name what failed. */
gboolean mtr_proof_verify (Meter *m, CairnTxCtx *tx, const char *domain,
                           const void *msg, size_t len, const json_t *proof,
                           GError **error);
/* Same over the canonical bytes of obj. */
gboolean mtr_proof_verify_json (Meter *m, CairnTxCtx *tx, const char *domain,
                                const json_t *obj, const json_t *proof,
                                GError **error);

/* A reading the chain would count for its terminal at now_ms (tx NULL: the
 * head): shape, device signature, attestation (cairn.attest/1 when loaded,
 * else the device must be registered and active on the terminal), the
 * terminal active, the period after its last proof and already closed or
 * current. */
gboolean mtr_reading_acceptable (Meter *m, CairnTxCtx *tx,
                                 const json_t *reading, int64_t now_ms,
                                 GError **error);
/* A voucher as the chain would take it in a tx of `kind`: shape, the
 * registered financial terminal's signature, chain id, denom, not recorded
 * before, and that it matches its settlement / withdrawal (pending, same
 * account and amount). */
gboolean mtr_voucher_acceptable (Meter *m, CairnTxCtx *tx, const char *kind,
                                 const json_t *voucher, GError **error);
/* voucher/<sha256 of the canonical voucher> (g_free). */
char *mtr_voucher_key (const json_t *voucher);

/* ---- txs.c ---- */
gboolean mtr_register_txs (Meter *m, GError **error);

/* ---- reads.c ---- */
gboolean mtr_register_reads (Meter *m, GError **error);

/* ---- centers.c (only when [metering] center = true) ---- */
gboolean mtr_centers_init (Meter *m, GError **error);
gboolean mtr_centers_start (Meter *m, GError **error);
void mtr_centers_stop (Meter *m);
void mtr_centers_free (Meter *m);
/* ---- finance.c: the financial-terminal adapter (centers only) ---- */
/* voucher (borrowed) is the terminal's answer, or NULL with error. */
typedef void (*MtrVoucherFn) (Meter *m, const char *instruction_id,
                              json_t *voucher, const GError *error);
gboolean mtr_finance_init (Meter *m, GError **error);
/* POST {"instruction","proof"} to [metering] finance_url; done runs on the
 * main loop with the voucher of the response (never after stop). */
void mtr_finance_send (Meter *m, const json_t *instruction, const json_t *proof,
                       MtrVoucherFn done);
void mtr_finance_stop (Meter *m);
void mtr_finance_free (Meter *m);

/* GET /v1/metering/faults: the disagreements this center saw. */
gboolean mtr_centers_faults (Meter *m, CairnResponse *resp, GError **error);

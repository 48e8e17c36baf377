/* metering: the signed objects — readings, aggregates, instructions,
 * vouchers and threshold proofs (see README.md). Pure: GLib and Jansson
 * only, so the plugin, `cairn meter` and the tests share one definition.
 * Every check is strict (exact key sets, integer ranges) and its error
 * (CAIRN_ERROR_INVALID) names the object and the field.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#define METER_DOMAIN_READING "cairn/metering/reading/v1"
#define METER_DOMAIN_AGGREGATE "cairn/metering/aggregate/v1"
#define METER_DOMAIN_INSTRUCTION "cairn/metering/instruction/v1"
#define METER_DOMAIN_VOUCHER "cairn/metering/voucher/v1"
#define METER_DOMAIN_VOUCHER_ACK "cairn/metering/voucher-ack/v1"

/* Largest value of any counter in a reading. */
#define METER_MAX_VALUE 1000000000000000LL /* 10^15 */
#define METER_MAX_READINGS 64              /* per terminal and period */
#define METER_MAX_APPS 16
#define METER_MAX_EVIDENCE 4096 /* bytes of canonical JSON */
#define METER_ID_MAX 64         /* terminal and set ids */

/* Same shape as host->ed25519_verify and the core's cairn_ed25519_verify:
 * Ed25519 over domain "\0" msg. */
typedef gboolean (*MeterVerifyFn) (const uint8_t pubkey[32], const char *domain,
                                   const void *msg, size_t len,
                                   const uint8_t sig[64]);

/* Terminal and set ids: [a-z0-9][a-z0-9_.-]{0,63}. */
gboolean meter_id_valid (const char *id);

/* Canonical JSON (sorted keys, compact) of a value the checks below
 * accepted (integers and plain strings only); g_free. */
char *meter_canonical (const json_t *v, size_t *len);
/* Lower-case hex SHA-256 of the canonical bytes. */
void meter_hash_hex (const json_t *v, char out[65]);

/* ---- readings ---- */

/* Shape of a signed reading (every field, ranges, apps, evidence size). */
gboolean meter_reading_check (const json_t *r, GError **error);
/* The device's signature over the reading without "sig". */
gboolean meter_reading_verify (const json_t *r, MeterVerifyFn verify,
                               GError **error);
/* The reading's id: hex SHA-256 of its canonical bytes with "sig". */
#define meter_reading_id meter_hash_hex

/* ---- aggregates ---- */

/* The aggregate of readings (all checked, all of `terminal` and `period`,
 * distinct ids; n <= METER_MAX_READINGS) by the rules of README.md.
 * New reference. */
json_t *meter_aggregate (const char *chain_id, const char *terminal,
                         int64_t period, int64_t centers_version,
                         json_t *const *readings, guint n, GError **error);
/* Shape of an aggregate (as a proof carries it). */
gboolean meter_aggregate_check (const json_t *a, GError **error);

/* floor(sum usage[k] * prices[k] / scale); OVERFLOW when a product, the
 * sum or the result leaves [0, 2^63 - 1]. */
gboolean meter_price (const json_t *usage, const json_t *prices, uint64_t scale,
                      uint64_t *amount, GError **error);
/* Shape of a prices object: every usage key, integers >= 0. */
gboolean meter_prices_check (const json_t *prices, GError **error);

/* ---- instructions and vouchers ---- */

/* {"kind":"settlement","id","chain_id","from","to","amount","denom"} or
 * {"kind":"withdrawal","id","chain_id","account","amount","denom"}. */
gboolean meter_instruction_check (const json_t *ins, GError **error);
/* A voucher's shape (with "sig"); kind settlement|withdrawal|recharge,
 * status done|rejected. */
gboolean meter_voucher_check (const json_t *v, GError **error);
/* The financial terminal's signature over the voucher without "sig". */
gboolean meter_voucher_verify (const json_t *v, const uint8_t ft_pubkey[32],
                               MeterVerifyFn verify, GError **error);

/* ---- threshold proofs ---- */

/* {"scheme":"frost","centers_version","sig"} or
 * {"scheme":"multisig","centers_version","sigs":[{"pubkey","sig"}...]}
 * (shape only; the signatures are checked against the center group). */
gboolean meter_proof_check (const json_t *p, GError **error);

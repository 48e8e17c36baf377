/* Cairn SDK — the cairn.attest/1 service: device attestation.
 *
 * A plugin that takes signed data from devices (the `metering` plugin's
 * collectors) asks the attestation verifier whether a device key is
 * trustworthy. A vendor plugin that provides this service replaces the
 * consumer's default rule (for `metering`: the device key must be
 * registered on chain by the operator) with a real check of hardware
 * evidence, e.g. an SGX/TDX quote or a TPM attestation whose report data
 * binds the device key.
 *
 * The verifier must be deterministic when `tx` is non-NULL (it runs while
 * the chain executes a block: same inputs, same answer on every node; read
 * state only through the host with that tx, no clock, no network).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "abi.h"
#include "interfaces.h"
#include "plugin.h"

#define CAIRN_ATTEST_SERVICE "cairn.attest"
#define CAIRN_ATTEST_SERVICE_VERSION 1

typedef struct CairnAttestService {
  uint32_t size; /* sizeof(CairnAttestService) in the provider */
  uint32_t reserved;
  /* TRUE when `device_pubkey` (Ed25519) may speak for `subject` (e.g. a
   * terminal id) given `evidence` (the JSON object the device sent, may
   * be empty). On refusal, UNAUTHORIZED with the reason. tx: the tx
   * being executed, or NULL off chain (reads the committed head). */
  gboolean (*verify) (CairnPlugin *caller, CairnTxCtx *tx, const char *subject,
                      const uint8_t device_pubkey[32], const json_t *evidence,
                      GError **error);
} CairnAttestService;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnAttestService) == 8 + 1 * sizeof (void *),
               "CairnAttestService is append-only: update the count when "
               "adding");
#endif

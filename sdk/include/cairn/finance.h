/* Cairn SDK — the cairn.finance/1 service: a financial-terminal adapter.
 *
 * The `metering` plugin's centers send threshold-signed settlement and
 * withdrawal instructions to a financial terminal (a bank or payment
 * system) and take back its signed vouchers. By default they POST the
 * instruction as JSON to [metering] finance_url; a vendor plugin that
 * provides this service replaces that transport (a message queue, a
 * bank's own API, ISO 20022 files ...). The instruction, the proof and the
 * voucher formats are those of plugins/metering/README.md.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "abi.h"
#include "plugin.h"

#define CAIRN_FINANCE_SERVICE "cairn.finance"
#define CAIRN_FINANCE_SERVICE_VERSION 1

/* The terminal's answer: its voucher (borrowed), or NULL with error. Runs
 * on the main loop. */
typedef void (*CairnFinanceDoneFn) (json_t *voucher, const GError *error,
                                    void *user_data);

typedef struct CairnFinanceService {
  uint32_t size; /* sizeof(CairnFinanceService) in the provider */
  uint32_t reserved;
  /* Deliver {"instruction","proof"} (both borrowed; copy what you keep)
   * and call done exactly once, later (never from within send), on the
   * main loop; also when `cancel` is cancelled (with G_IO_ERROR_CANCELLED,
   * promptly: the caller waits for it when it stops). A voucher
   * that comes later through another channel may be posted to a center's
   * POST /v1/metering/vouchers instead; then call done with an error. */
  void (*send) (CairnPlugin *caller, const json_t *instruction,
                const json_t *proof, GCancellable *cancel,
                CairnFinanceDoneFn done, void *user_data);
} CairnFinanceService;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnFinanceService) == 8 + 1 * sizeof (void *),
               "CairnFinanceService is append-only: update the count when "
               "adding");
#endif

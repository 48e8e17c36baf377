/* Cairn SDK — the cairn.bank/1 service: balances per denomination.
 *
 * Provided by the `bank` plugin. A plugin that moves funds lists
 * {CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION} in its descriptor's
 * `requires` and looks the vtable up in init:
 *
 *   const CairnBankService *bank =
 *     host->lookup_service (self, CAIRN_BANK_SERVICE,
 *                           CAIRN_BANK_SERVICE_VERSION);
 *
 * Every call takes the CALLING plugin's handle (`caller`), which the bank
 * uses for authorisation (mint/burn) and as the holder of locked funds.
 * Calls that change balances need the tx context of the handler or hook
 * being executed (`tx`); reads accept NULL to read the committed head.
 * Amounts are whole units of a denomination ([a-z][a-z0-9]{1,15}); every
 * balance, locked amount and supply stays within CAIRN_BANK_MAX_AMOUNT so it
 * is representable as a canonical JSON integer. Errors (CAIRN_ERROR):
 *   INVALID            bad address, bad denom, amount 0, from == to,
 *                      a write without a tx
 *   INSUFFICIENT_FUNDS the balance (or locked amount) is smaller than the
 *                      amount; the message names both
 *   OVERFLOW           the result would exceed CAIRN_BANK_MAX_AMOUNT
 *   UNAUTHORIZED       mint/burn by a plugin not in the bank's `minters`
 * A call checks everything before it writes, so a failed call leaves the
 * state as it was (barring a storage error).
 *
 * The calling plugin is trusted: the bank does not check that the tx
 * sender owns `from`/`address`. Authorise before calling.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "abi.h"
#include "interfaces.h"
#include "plugin.h"

#define CAIRN_BANK_SERVICE "cairn.bank"
#define CAIRN_BANK_SERVICE_VERSION 1

/* Largest balance, locked amount or supply (INT64_MAX). */
#define CAIRN_BANK_MAX_AMOUNT ((uint64_t)INT64_MAX)

typedef struct CairnBankService {
  uint32_t size; /* sizeof(CairnBankService) in the providing bank */
  uint32_t reserved;

  /* Spendable balance of address in denom (0 when none). */
  gboolean (*balance) (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                       const char *denom, uint64_t *out, GError **error);
  /* Move amount from one address to another. Emits "bank.transfer". */
  gboolean (*transfer) (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
                        const char *to, const char *denom, uint64_t amount,
                        GError **error);
  /* Create / destroy funds (also changes the supply). Only for plugins
   * listed in the bank's `minters` config key. Emit "bank.mint"/"bank.burn". */
  gboolean (*mint) (CairnPlugin *caller, CairnTxCtx *tx, const char *to,
                    const char *denom, uint64_t amount, GError **error);
  gboolean (*burn) (CairnPlugin *caller, CairnTxCtx *tx, const char *from,
                    const char *denom, uint64_t amount, GError **error);
  /* Move amount between the spendable balance and a balance locked under
   * the CALLING plugin's id (e.g. stake held by `pos`). Only the plugin
   * that locked funds can unlock them. Emit "bank.lock"/"bank.unlock". */
  gboolean (*lock) (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                    const char *denom, uint64_t amount, GError **error);
  gboolean (*unlock) (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                      const char *denom, uint64_t amount, GError **error);
  /* Amount of address's denom locked under the calling plugin's id. */
  gboolean (*locked) (CairnPlugin *caller, CairnTxCtx *tx, const char *address,
                      const char *denom, uint64_t *out, GError **error);
} CairnBankService;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnBankService) == 8 + 7 * sizeof (void *),
               "CairnBankService is append-only: update the count when "
               "adding");
#endif

/* TRUE when the running bank's vtable has `fn` (added after version 1.0 of
 * this struct). */
#define CAIRN_BANK_HAS(svc, fn)                                                \
  ((svc) != NULL && CAIRN_STRUCT_HAS (svc, (svc)->size, fn)                    \
   && (svc)->fn != NULL)

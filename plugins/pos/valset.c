/* pos: validator sets, quorum arithmetic and the proposer schedule. */
#include <stdlib.h>
#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "engine.h"

struct PosValidatorSet {
  gint refs;
  size_t n;
  uint64_t total;
  PosValidator *vals;
  uint8_t (*raw)[20];
  /* Proposer cache: priorities after `slot` steps from all-zero, and a
   * checkpoint at the last round-0 slot asked for, so that going back a
   * few rounds within a height does not restart from zero. */
  uint64_t slot, check_slot;
  int64_t *prio, *check_prio;
};

static int
cmp_validator (const void *a, const void *b)
{
  return strcmp (((const PosValidator *)a)->address,
                 ((const PosValidator *)b)->address);
}

PosValidatorSet *
pos_validator_set_new (const PosValidator *vals, size_t n, GError **error)
{
  if (n == 0 || n > POS_MAX_VALIDATORS) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "validator set: %zu validators (need 1..%d)", n,
                 POS_MAX_VALIDATORS);
    return NULL;
  }
  PosValidatorSet *set = g_new0 (PosValidatorSet, 1);
  set->refs = 1;
  set->n = n;
  set->vals = g_memdup2 (vals, n * sizeof *vals);
  set->raw = g_malloc (n * sizeof *set->raw);
  set->prio = g_new0 (int64_t, n);
  set->check_prio = g_new0 (int64_t, n);
  qsort (set->vals, n, sizeof *set->vals, cmp_validator);
  for (size_t i = 0; i < n; i++) {
    PosValidator *v = &set->vals[i];
    v->address[40] = '\0';
    gboolean lower = TRUE;
    for (size_t k = 0; k < 40; k++)
      if (g_ascii_isupper (v->address[k]))
        lower = FALSE;
    if (!lower || !cairn_hex_decode (v->address, set->raw[i], 20)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "validator set: address '%s' is not 40 lowercase hex",
                   v->address);
      goto fail;
    }
    if (i > 0 && strcmp (v->address, set->vals[i - 1].address) == 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "validator set: address %s appears twice", v->address);
      goto fail;
    }
    if (v->power == 0 || v->power > POS_MAX_TOTAL_POWER
        || set->total + v->power > POS_MAX_TOTAL_POWER) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_OVERFLOW,
                   "validator set: power of %s is %" G_GUINT64_FORMAT
                   " (need 1..total %" G_GUINT64_FORMAT ")",
                   v->address, v->power, POS_MAX_TOTAL_POWER);
      goto fail;
    }
    set->total += v->power;
  }
  return set;
fail:
  pos_validator_set_unref (set);
  return NULL;
}

PosValidatorSet *
pos_validator_set_ref (PosValidatorSet *set)
{
  g_atomic_int_inc (&set->refs);
  return set;
}

void
pos_validator_set_unref (PosValidatorSet *set)
{
  if (set == NULL || !g_atomic_int_dec_and_test (&set->refs))
    return;
  g_free (set->vals);
  g_free (set->raw);
  g_free (set->prio);
  g_free (set->check_prio);
  g_free (set);
}

size_t
pos_validator_set_size (const PosValidatorSet *set)
{
  return set->n;
}

uint64_t
pos_validator_set_total (const PosValidatorSet *set)
{
  return set->total;
}

const PosValidator *
pos_validator_set_get (const PosValidatorSet *set, size_t i)
{
  g_return_val_if_fail (i < set->n, NULL);
  return &set->vals[i];
}

int
pos_validator_set_find_raw (const PosValidatorSet *set, const uint8_t addr[20])
{
  size_t lo = 0, hi = set->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = memcmp (set->raw[mid], addr, 20);
    if (c == 0)
      return (int)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

int
pos_validator_set_find (const PosValidatorSet *set, const char *address)
{
  uint8_t raw[20];
  if (address == NULL || !cairn_hex_decode (address, raw, sizeof raw))
    return -1;
  return pos_validator_set_find_raw (set, raw);
}

/* Both operands are <= POS_MAX_TOTAL_POWER (2^52): no overflow. */
gboolean
pos_quorum (uint64_t power, uint64_t total)
{
  return 3 * power > 2 * total;
}

gboolean
pos_one_third (uint64_t power, uint64_t total)
{
  return 3 * power > total;
}

/* One step of smooth weighted round robin (Tendermint's proposer priority,
 * nginx's SWRR): everyone gains its power, the highest priority (ties: the
 * lowest address) proposes and pays the total. From all-zero priorities
 * the sequence repeats every `total` steps, each validator proposing
 * exactly `power` times per period; priorities stay within
 * [-total, total * n], inside int64 by the power cap. */
static size_t
swrr_step (PosValidatorSet *set)
{
  size_t best = 0;
  for (size_t i = 0; i < set->n; i++) {
    set->prio[i] += (int64_t)set->vals[i].power;
    if (set->prio[i] > set->prio[best])
      best = i;
  }
  set->prio[best] -= (int64_t)set->total;
  return best;
}

size_t
pos_proposer (PosValidatorSet *set, uint64_t height, uint32_t round)
{
  uint64_t slot = (height % set->total + round % set->total) % set->total;
  if (slot < set->slot) {
    if (slot >= set->check_slot) {
      memcpy (set->prio, set->check_prio, set->n * sizeof *set->prio);
      set->slot = set->check_slot;
    } else {
      memset (set->prio, 0, set->n * sizeof *set->prio);
      set->slot = 0;
    }
  }
  while (set->slot < slot) {
    swrr_step (set);
    set->slot++;
  }
  if (round == 0) {
    memcpy (set->check_prio, set->prio, set->n * sizeof *set->prio);
    set->check_slot = slot;
  }
  /* The proposer of `slot` is the pick of the next step; peek at it
   * without advancing the cache. */
  size_t best = 0;
  for (size_t i = 0; i < set->n; i++) {
    int64_t p = set->prio[i] + (int64_t)set->vals[i].power;
    int64_t b = set->prio[best] + (int64_t)set->vals[best].power;
    if (p > b)
      best = i;
  }
  return best;
}

/* A deterministic discrete-event simulation of N pos engines: virtual
 * time, a seeded PRNG driving delay, drop, duplication, reordering,
 * partitions, crash/restart from WAL, and an optional double-signer. */
#pragma once

#include <glib.h>

#include "engine.h"

typedef struct SimConfig {
  const char *name;
  guint n;
  const uint64_t *powers; /* n entries */
  guint64 seed;
  gboolean ed25519;        /* real Ed25519, else a fast keyed-hash stand-in */
  guint target_height;     /* every node must commit up to it */
  int byzantine;           /* index of a double-signing validator, or -1 */
  guint drop_pct, dup_pct; /* while faults last */
  gboolean partition;
  gboolean crashes;     /* crash and restart faulty nodes (< 1/3 power) */
  gboolean rotate_sets; /* powers shift by one validator every 5 heights */
} SimConfig;

typedef struct SimResult {
  guint64 events, commits, messages, evidence, refused;
  guint64 end_ms, heal_ms;
} SimResult;

/* Keys: validator i of the simulation (deterministic by index). */
void sim_validators (guint n, const uint64_t *powers, gboolean ed25519,
                     PosValidator *out);
/* Sign as validator i ("<domain>\0<msg>" framing). */
void sim_sign (guint i, gboolean ed25519, const uint8_t *msg, size_t len,
               uint8_t sig[64]);
gboolean sim_fake_verify (void *user_data, const uint8_t pubkey[32],
                          const uint8_t *msg, size_t len,
                          const uint8_t sig[64]);

/* Run one simulation; FALSE with *why set (g_free) on a violated property. */
gboolean sim_run (const SimConfig *cfg, SimResult *res, char **why);
void sim_cleanup (void);

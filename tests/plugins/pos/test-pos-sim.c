/* The pos engine in the deterministic network simulation: many seeds per
 * validator configuration, each checking safety at every commit, every
 * certificate, honest nodes' votes, and liveness after the faults heal.
 *
 * Rerun one seed:  POS_SIM_SEED=123 test-pos-sim -p /pos/sim/n4-equal
 * Change the count: POS_SIM_SEEDS=1000 (default 200).
 * Trace every send and timer of a run: POS_SIM_TRACE=1. */
#include <stdlib.h>

#include "sim.h"

static const uint64_t equal4[] = { 10, 10, 10, 10 };
static const uint64_t unequal4[] = { 5, 20, 30, 45 };
static const uint64_t equal7[] = { 1, 1, 1, 1, 1, 1, 1 };
static const uint64_t unequal7[] = { 1, 2, 3, 5, 8, 13, 21 };

typedef struct Case {
  const char *name;
  guint n;
  const uint64_t *powers;
  gboolean ed25519;
  int byzantine;
  guint default_seeds;
  gboolean rotate_sets;
} Case;

static const Case cases[] = {
  { "n4-equal", 4, equal4, FALSE, -1, 200 },
  { "n4-unequal", 4, unequal4, FALSE, -1, 200 },
  { "n7-equal", 7, equal7, FALSE, -1, 200 },
  { "n7-unequal", 7, unequal7, FALSE, -1, 200 },
  { "n4-ed25519", 4, equal4, TRUE, -1, 10 },
  { "n4-byzantine", 4, equal4, FALSE, 0, 200 },
  { "n7-byzantine", 7, unequal7, FALSE, 3, 200 },
  { "n7-rotating-sets", 7, unequal7, FALSE, -1, 200, TRUE },
};

static guint64
env_u64 (const char *name, guint64 dflt)
{
  const char *v = g_getenv (name);
  return v != NULL && *v != '\0' ? g_ascii_strtoull (v, NULL, 10) : dflt;
}

static void
run_case (gconstpointer data)
{
  const Case *c = data;
  const char *only = g_getenv ("POS_SIM_SEED");
  gboolean one = only != NULL && *only != '\0';
  guint64 first = env_u64 ("POS_SIM_SEED", 1);
  guint64 count = one ? 1 : env_u64 ("POS_SIM_SEEDS", c->default_seeds);
  guint64 events = 0, commits = 0, evidence = 0, refused = 0, vtime = 0;
  guint64 worst = 0; /* longest virtual time from healing to the target */
  gint64 t0 = g_get_monotonic_time ();
  for (guint64 seed = first; seed < first + count; seed++) {
    /* Every seed mixes all fault kinds; the mix varies with the seed. */
    SimConfig cfg = {
      .name = c->name,
      .n = c->n,
      .powers = c->powers,
      .seed = seed,
      .ed25519 = c->ed25519,
      .target_height = 20,
      .byzantine = c->byzantine,
      .drop_pct = (guint)(seed % 4) * 5,
      .dup_pct = 5,
      .partition = c->byzantine < 0 ? seed % 3 != 0 : seed % 2 != 0,
      .crashes = seed % 2 == 0,
      .rotate_sets = c->rotate_sets,
    };
    SimResult res;
    g_autofree char *why = NULL;
    if (!sim_run (&cfg, &res, &why)) {
      g_printerr ("pos sim %s seed %" G_GUINT64_FORMAT " FAILED: %s\n"
                  "rerun: POS_SIM_SEED=%" G_GUINT64_FORMAT
                  " %s -p /pos/sim/%s\n",
                  c->name, seed, why, seed, g_get_prgname (), c->name);
      g_test_fail ();
      return;
    }
    events += res.events;
    commits += res.commits;
    evidence += res.evidence;
    refused += res.refused;
    vtime += res.end_ms;
    worst = MAX (worst, res.end_ms - MIN (res.end_ms, res.heal_ms));
    /* A partition can keep the double-signer out of every height the
     * others vote on; without one it must be caught. */
    if (c->byzantine >= 0 && !cfg.partition && res.evidence == 0) {
      g_printerr ("pos sim %s seed %" G_GUINT64_FORMAT
                  ": the double-signer was never reported\n"
                  "rerun: POS_SIM_SEED=%" G_GUINT64_FORMAT
                  " %s -p /pos/sim/%s\n",
                  c->name, seed, seed, g_get_prgname (), c->name);
      g_test_fail ();
      return;
    }
  }
  g_test_message ("%s: %" G_GUINT64_FORMAT " seeds, %" G_GUINT64_FORMAT
                  " events, %" G_GUINT64_FORMAT " commits, %" G_GUINT64_FORMAT
                  " evidence, %" G_GUINT64_FORMAT
                  " refused re-signs, %" G_GUINT64_FORMAT
                  " virtual ms, worst %" G_GUINT64_FORMAT
                  " ms from healing to height 20, %.2f s",
                  c->name, count, events, commits, evidence, refused, vtime,
                  worst, (double)(g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpuint (commits, >=, count * c->n * 20);
  if (c->byzantine >= 0)
    g_assert_cmpuint (evidence, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = g_strdup_printf ("/pos/sim/%s", cases[i].name);
    g_test_add_data_func (path, &cases[i], run_case);
  }
  int rc = g_test_run ();
  sim_cleanup ();
  return rc;
}

/* Unit tests of the pos engine library: proposer schedule, quorum
 * arithmetic, validator sets, message decoding and verification,
 * certificates, evidence, and the WAL's no-conflicting-vote rule. */
#include <string.h>

#include <openssl/sha.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "sim.h"

#define CHAIN "cairn-pos-sim" /* the chain id sim.c signs for */

static const uint64_t equal4[] = { 1, 1, 1, 1 };

static PosValidatorSet *
make_set (guint n, const uint64_t *powers, PosValidator *vals)
{
  g_autoptr (GError) error = NULL;
  sim_validators (n, powers, TRUE, vals);
  PosValidatorSet *set = pos_validator_set_new (vals, n, &error);
  g_assert_no_error (error);
  return set;
}

/* Node i (sim key index) of set index j. */
static guint
node_of (const PosValidatorSet *set, const PosValidator *vals, guint n,
         size_t j)
{
  for (guint i = 0; i < n; i++)
    if (strcmp (vals[i].address, pos_validator_set_get (set, j)->address) == 0)
      return i;
  g_assert_not_reached ();
}

static GBytes *
signed_msg (PosMsg *m, guint node, const PosValidator *vals)
{
  uint8_t raw[20];
  g_assert_true (cairn_hex_decode (vals[node].address, raw, 20));
  memcpy (m->signer, raw, 20);
  g_autoptr (GBytes) sb = pos_msg_sign_bytes (CHAIN, m);
  gsize len;
  const uint8_t *d = g_bytes_get_data (sb, &len);
  sim_sign (node, TRUE, d, len, m->sig);
  return pos_msg_encode (m);
}

static GBytes *
make_vote (PosMsgKind kind, uint64_t h, uint32_t r, const uint8_t *id,
           guint node, const PosValidator *vals)
{
  PosMsg m = { .kind = kind, .height = h, .round = r, .nil = id == NULL };
  if (id != NULL)
    memcpy (m.block_id, id, 32);
  return signed_msg (&m, node, vals);
}

/* ---- proposer and quorum ---------------------------------------------- */

static void
test_proposer (void)
{
  static const uint64_t powers[] = { 1, 2, 3, 4, 10 };
  PosValidator vals[5];
  g_autoptr (PosValidatorSet) a = make_set (5, powers, vals);
  g_autoptr (PosValidatorSet) b = make_set (5, powers, vals);
  guint counts[5] = { 0 };
  /* 100 periods of the total power (20): exactly proportional. */
  for (uint64_t h = 0; h < 2000; h++) {
    size_t p = pos_proposer (a, h, 0);
    counts[p]++;
    g_assert_cmpuint (p, ==, pos_proposer (b, h, 0)); /* deterministic */
    /* A round shifts the schedule like a height does. */
    g_assert_cmpuint (pos_proposer (b, h + 3, 0), ==, pos_proposer (a, h, 3));
  }
  for (size_t j = 0; j < 5; j++)
    g_assert_cmpuint (counts[j], ==, 100 * pos_validator_set_get (a, j)->power);
  /* Asking out of order gives the same answers as in order. */
  for (uint64_t h = 1999; h > 1900; h--)
    g_assert_cmpuint (pos_proposer (a, h, 0), ==, pos_proposer (b, h, 0));
  /* Smooth: validator j never waits 2 * total / power slots or more
   * between two turns (no bursts, no starvation within a period). */
  for (size_t j = 0; j < 5; j++) {
    uint64_t power = pos_validator_set_get (a, j)->power, gap = 0;
    for (uint64_t h = 0; h < 200; h++) {
      gap = pos_proposer (a, h, 0) == j ? 0 : gap + 1;
      g_assert_cmpuint (gap + 1, <, 2 * 20 / power);
    }
  }
  /* Huge stakes stay exact and in range. */
  static const uint64_t big[]
      = { (UINT64_C (1) << 51) + 1, (UINT64_C (1) << 50) - 7, 3 };
  PosValidator bv[3];
  g_autoptr (PosValidatorSet) c = make_set (3, big, bv);
  for (uint64_t h = 0; h < 1000; h++)
    g_assert_cmpuint (pos_proposer (c, h, 0), <, 3);
  /* Going back rounds within a height (a late proposal) uses the cached
   * checkpoint and still agrees with a fresh set. */
  size_t later[6];
  g_assert_cmpuint (pos_proposer (c, 200000, 0), <, 3);
  for (uint32_t r = 5; r > 0; r--)
    later[r] = pos_proposer (c, 200000, r);
  for (uint32_t r = 1; r <= 5; r++) {
    g_autoptr (PosValidatorSet) fresh = make_set (3, big, bv);
    g_assert_cmpuint (pos_proposer (fresh, 200000, r), ==, later[r]);
  }
}

static void
test_quorum (void)
{
  g_assert_false (pos_quorum (2, 3));
  g_assert_true (pos_quorum (3, 3));
  g_assert_false (pos_quorum (66, 100));
  g_assert_true (pos_quorum (67, 100));
  g_assert_false (pos_quorum (2, 4));
  g_assert_true (pos_quorum (3, 4));
  g_assert_false (pos_quorum (4, 6)); /* exactly 2/3 is not enough */
  g_assert_true (pos_quorum (5, 6));
  g_assert_false (pos_one_third (1, 3)); /* exactly 1/3 is not enough */
  g_assert_true (pos_one_third (2, 3));
  g_assert_true (pos_one_third (34, 100));
  g_assert_false (pos_one_third (33, 99));
  uint64_t max = POS_MAX_TOTAL_POWER;
  g_assert_true (pos_quorum (max, max));
  g_assert_false (pos_quorum (max / 3 * 2, max));
  g_assert_true (pos_quorum (max / 3 * 2 + 1, max));
}

static void
test_validator_set (void)
{
  PosValidator vals[4];
  sim_validators (4, equal4, TRUE, vals);
  g_autoptr (GError) error = NULL;
  g_assert_null (pos_validator_set_new (vals, 0, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  PosValidator bad[2] = { vals[0], vals[0] };
  g_assert_null (pos_validator_set_new (bad, 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  bad[1] = vals[1];
  bad[1].power = 0;
  g_assert_null (pos_validator_set_new (bad, 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_OVERFLOW);
  g_clear_error (&error);
  bad[1].power = POS_MAX_TOTAL_POWER;
  g_assert_null (pos_validator_set_new (bad, 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_OVERFLOW);
  g_clear_error (&error);
  bad[1] = vals[1];
  bad[1].address[3] = 'x';
  g_assert_null (pos_validator_set_new (bad, 2, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_clear_error (&error);
  g_autoptr (PosValidatorSet) set = pos_validator_set_new (vals, 4, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pos_validator_set_total (set), ==, 4);
  for (size_t j = 1; j < 4; j++)
    g_assert_cmpstr (pos_validator_set_get (set, j - 1)->address, <,
                     pos_validator_set_get (set, j)->address);
  g_assert_cmpint (pos_validator_set_find (set, "nothex"), ==, -1);
}

/* ---- messages -------------------------------------------------------------
 */

static void
test_decode_and_verify (void)
{
  PosValidator vals[5];
  static const uint64_t p5[] = { 1, 1, 1, 1, 1 };
  sim_validators (5, p5, TRUE, vals);
  g_autoptr (GError) error = NULL;
  g_autoptr (PosValidatorSet) set = pos_validator_set_new (vals, 4, &error);
  uint8_t id[32];
  memset (id, 7, 32);
  g_autoptr (GBytes) vote = make_vote (POS_MSG_PREVOTE, 5, 2, id, 1, vals);
  gsize len;
  const uint8_t *d = g_bytes_get_data (vote, &len);
  PosMsg m;
  g_assert_true (pos_msg_verify (set, CHAIN, d, len, NULL, NULL, &m, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (m.height, ==, 5);
  g_assert_cmpuint (m.round, ==, 2);
  g_assert_false (m.nil);
  g_assert_cmpmem (m.block_id, 32, id, 32);
  g_autoptr (GBytes) again = pos_msg_encode (&m);
  g_assert_true (g_bytes_equal (again, vote));

  /* Every truncation, and a trailing byte, is rejected. */
  g_autofree uint8_t *buf = g_malloc (len + 1);
  memcpy (buf, d, len);
  for (gsize cut = 0; cut < len; cut++) {
    g_assert_false (pos_msg_decode (buf, cut, &m, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
  }
  buf[len] = 0;
  g_assert_false (pos_msg_decode (buf, len + 1, &m, &error));
  g_clear_error (&error);
  /* Garbage: deterministic pseudo-random bytes of many lengths. */
  GRand *rand = g_rand_new_with_seed (42);
  for (int i = 0; i < 2000; i++) {
    uint8_t junk[200];
    gsize jl = (gsize)g_rand_int_range (rand, 0, sizeof junk);
    for (gsize k = 0; k < jl; k++)
      junk[k] = (uint8_t)g_rand_int (rand);
    if (i % 2 == 0 && jl > 2) { /* plausible header, random body */
      junk[0] = POS_WIRE_VERSION;
      junk[1] = (uint8_t)g_rand_int_range (rand, 1, 5);
    }
    if (pos_msg_decode (junk, jl, &m, NULL))
      g_assert_false (
          pos_msg_verify (set, CHAIN, junk, jl, NULL, NULL, &m, NULL));
  }
  g_rand_free (rand);
  /* Bad version, unknown kind, nil flag with an id. */
  memcpy (buf, d, len);
  buf[0] = 9;
  g_assert_false (pos_msg_decode (buf, len, &m, NULL));
  buf[0] = POS_WIRE_VERSION;
  buf[1] = 77;
  g_assert_false (pos_msg_decode (buf, len, &m, NULL));
  buf[1] = POS_MSG_PREVOTE;
  buf[14] = 1; /* nil flag, but the id is 0x07... */
  g_assert_false (pos_msg_decode (buf, len, &m, NULL));
  buf[14] = 0;
  /* Bad signature; signed for another chain; a non-validator signer. */
  buf[len - 1] ^= 1;
  g_assert_false (
      pos_msg_verify (set, CHAIN, buf, len, NULL, NULL, &m, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED);
  g_clear_error (&error);
  g_assert_false (
      pos_msg_verify (set, "other-chain", d, len, NULL, NULL, &m, NULL));
  g_autoptr (GBytes) outsider = make_vote (POS_MSG_PREVOTE, 5, 2, id, 4, vals);
  d = g_bytes_get_data (outsider, &len);
  g_assert_false (pos_msg_verify (set, CHAIN, d, len, NULL, NULL, &m, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (error->message, "not a validator"));
  /* A proposal with pol_round >= round is malformed. */
  PosMsg pm = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 1,
                .pol_round = 1,
                .block = (const uint8_t *)"x",
                .block_len = 1 };
  g_autoptr (GBytes) prop = signed_msg (&pm, 0, vals);
  d = g_bytes_get_data (prop, &len);
  g_assert_false (pos_msg_decode (d, len, &m, NULL));
}

/* A certificate from (signer node, sig) entries as the engine encodes it. */
static GBytes *
make_cert (uint64_t h, uint32_t r, const uint8_t id[32], GBytes **votes,
           guint n)
{
  GByteArray *b = g_byte_array_new ();
  uint8_t head[13] = { POS_WIRE_VERSION };
  for (int i = 0; i < 8; i++)
    head[1 + i] = (uint8_t)(h >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    head[9 + i] = (uint8_t)(r >> (24 - 8 * i));
  g_byte_array_append (b, head, 13);
  g_byte_array_append (b, id, 32);
  uint8_t cnt[2] = { 0, (uint8_t)n };
  g_byte_array_append (b, cnt, 2);
  for (guint i = 0; i < n; i++) {
    PosMsg m;
    gsize len;
    const uint8_t *d = g_bytes_get_data (votes[i], &len);
    g_assert_true (pos_msg_decode (d, len, &m, NULL));
    g_byte_array_append (b, m.signer, 20);
    g_byte_array_append (b, m.sig, 64);
  }
  return g_byte_array_free_to_bytes (b);
}

static int
cmp_vote_signer (gconstpointer a, gconstpointer b)
{
  PosMsg ma, mb;
  gsize la, lb;
  const uint8_t *da = g_bytes_get_data (*(GBytes *const *)a, &la);
  const uint8_t *db = g_bytes_get_data (*(GBytes *const *)b, &lb);
  g_assert_true (pos_msg_decode (da, la, &ma, NULL));
  g_assert_true (pos_msg_decode (db, lb, &mb, NULL));
  return memcmp (ma.signer, mb.signer, 20);
}

static void
test_certificate (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  uint8_t id[32], other[32];
  memset (id, 3, 32);
  memset (other, 4, 32);
  GBytes *votes[4];
  for (guint i = 0; i < 4; i++)
    votes[i] = make_vote (POS_MSG_PRECOMMIT, 9, 1, id, i, vals);
  qsort (votes, 4, sizeof votes[0], cmp_vote_signer);
  g_autoptr (GError) error = NULL;
  gsize len;
  g_autoptr (GBytes) three = make_cert (9, 1, id, votes, 3);
  const uint8_t *c = g_bytes_get_data (three, &len);
  g_assert_true (
      pos_certificate_verify (set, CHAIN, 9, id, c, len, NULL, NULL, &error));
  g_assert_no_error (error);
  /* Wrong height or block; two of four is not > 2/3. */
  g_assert_false (
      pos_certificate_verify (set, CHAIN, 10, id, c, len, NULL, NULL, NULL));
  g_assert_false (
      pos_certificate_verify (set, CHAIN, 9, other, c, len, NULL, NULL, NULL));
  g_autoptr (GBytes) two = make_cert (9, 1, id, votes, 2);
  c = g_bytes_get_data (two, &len);
  g_assert_false (
      pos_certificate_verify (set, CHAIN, 9, id, c, len, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "not more than 2/3"));
  g_clear_error (&error);
  /* The same signer twice does not count twice. */
  GBytes *dup[3] = { votes[0], votes[1], votes[1] };
  g_autoptr (GBytes) dupc = make_cert (9, 1, id, dup, 3);
  c = g_bytes_get_data (dupc, &len);
  g_assert_false (
      pos_certificate_verify (set, CHAIN, 9, id, c, len, NULL, NULL, NULL));
  /* A flipped signature bit; a truncated certificate. */
  g_autoptr (GBytes) all = make_cert (9, 1, id, votes, 4);
  g_autofree uint8_t *buf = g_bytes_unref_to_data (g_bytes_ref (all), &len);
  buf[len - 1] ^= 0x80;
  g_assert_false (
      pos_certificate_verify (set, CHAIN, 9, id, buf, len, NULL, NULL, NULL));
  buf[len - 1] ^= 0x80;
  g_assert_true (
      pos_certificate_verify (set, CHAIN, 9, id, buf, len, NULL, NULL, NULL));
  g_assert_false (pos_certificate_verify (set, CHAIN, 9, id, buf, len - 1, NULL,
                                          NULL, NULL));
  for (guint i = 0; i < 4; i++)
    g_bytes_unref (votes[i]);
}

static GBytes *
make_evidence (GBytes *a, GBytes *b)
{
  GByteArray *ev = g_byte_array_new ();
  GBytes *parts[2] = { a, b };
  for (int p = 0; p < 2; p++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (parts[p], &len);
    uint8_t l[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8), (uint8_t)len };
    g_byte_array_append (ev, l, 4);
    g_byte_array_append (ev, d, (guint)len);
  }
  return g_byte_array_free_to_bytes (ev);
}

static void
test_evidence (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  uint8_t x[32], y[32], who[20];
  memset (x, 1, 32);
  memset (y, 2, 32);
  g_autoptr (GBytes) vx = make_vote (POS_MSG_PREVOTE, 3, 0, x, 2, vals);
  g_autoptr (GBytes) vy = make_vote (POS_MSG_PREVOTE, 3, 0, y, 2, vals);
  g_autoptr (GBytes) vnil = make_vote (POS_MSG_PREVOTE, 3, 0, NULL, 2, vals);
  g_autoptr (GBytes) vr1 = make_vote (POS_MSG_PREVOTE, 3, 1, y, 2, vals);
  g_autoptr (GBytes) other = make_vote (POS_MSG_PREVOTE, 3, 0, y, 1, vals);
  g_autoptr (GBytes) ok = make_evidence (vx, vy);
  g_autoptr (GBytes) ok2 = make_evidence (vx, vnil);
  g_autoptr (GBytes) same = make_evidence (vx, vx);
  g_autoptr (GBytes) rounds = make_evidence (vx, vr1);
  g_autoptr (GBytes) people = make_evidence (vx, other);
  gsize len;
  const uint8_t *d = g_bytes_get_data (ok, &len);
  g_assert_true (
      pos_evidence_verify (set, CHAIN, d, len, NULL, NULL, who, NULL));
  uint8_t raw[20];
  cairn_hex_decode (vals[2].address, raw, 20);
  g_assert_cmpmem (who, 20, raw, 20);
  d = g_bytes_get_data (ok2, &len);
  g_assert_true (
      pos_evidence_verify (set, CHAIN, d, len, NULL, NULL, NULL, NULL));
  GBytes *bad[] = { same, rounds, people };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    d = g_bytes_get_data (bad[i], &len);
    g_assert_false (
        pos_evidence_verify (set, CHAIN, d, len, NULL, NULL, NULL, NULL));
  }
  d = g_bytes_get_data (ok, &len);
  g_assert_false (
      pos_evidence_verify (set, CHAIN, d, len - 1, NULL, NULL, NULL, NULL));
}

/* ---- the engine through a recording environment ----------------------- */

typedef struct Rec {
  guint node;
  GPtrArray *sent, *wal;
  guint timeouts, commits;
  gboolean wal_fail;
  gboolean serve_commits; /* env.get_commit answers (rec_get_commit) */
  GBytes *cert;           /* of the last commit */
} Rec;

static Rec
rec_new (guint node)
{
  return (Rec){
    .node = node,
    .sent = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref),
    .wal = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref),
  };
}

static void
rec_clear (Rec *rec)
{
  g_ptr_array_unref (rec->sent);
  g_ptr_array_unref (rec->wal);
  g_clear_pointer (&rec->cert, g_bytes_unref);
}

static gboolean
rec_sign (void *ud, const uint8_t *msg, size_t len, uint8_t sig[64])
{
  sim_sign (((Rec *)ud)->node, TRUE, msg, len, sig);
  return TRUE;
}

static GBytes *
rec_get_proposal (void *ud, uint64_t height, uint8_t id[32])
{
  SHA256 ((const uint8_t *)"mine", 4, id);
  return g_bytes_new_static ("mine", 4);
}

static gboolean
rec_validate (void *ud, uint64_t height, const uint8_t *b, size_t len,
              uint8_t id[32])
{
  SHA256 (b, len, id);
  return len > 0 && b[0] != '!';
}

static void
rec_broadcast (void *ud, const uint8_t *msg, size_t len)
{
  g_ptr_array_add (((Rec *)ud)->sent, g_bytes_new (msg, len));
}

static void
rec_schedule (void *ud, uint64_t delay, uint64_t h, uint32_t r, PosStep s)
{
  ((Rec *)ud)->timeouts++;
}

static gboolean
rec_wal (void *ud, const uint8_t *msg, size_t len)
{
  if (((Rec *)ud)->wal_fail)
    return FALSE;
  g_ptr_array_add (((Rec *)ud)->wal, g_bytes_new (msg, len));
  return TRUE;
}

static void
rec_commit (void *ud, uint64_t h, const uint8_t id[32], const uint8_t *b,
            size_t len, const uint8_t *cert, size_t cert_len)
{
  Rec *rec = ud;
  rec->commits++;
  if (rec->cert != NULL)
    g_bytes_unref (rec->cert);
  rec->cert = g_bytes_new (cert, cert_len);
}

/* A decided height's block and a certificate naming it (only its length
 * and the block id at byte 13 matter to the sender). */
static gboolean
rec_get_commit (void *ud, uint64_t height, GBytes **block, GBytes **cert)
{
  g_autofree char *b = g_strdup_printf ("blk%" G_GUINT64_FORMAT, height);
  uint8_t c[1 + 8 + 4 + 32] = { 0 };
  SHA256 ((const uint8_t *)b, strlen (b), c + 13);
  *block = g_bytes_new (b, strlen (b));
  *cert = g_bytes_new (c, sizeof c);
  return TRUE;
}

static PosEngine *
rec_engine (Rec *rec, const PosValidator *vals)
{
  PosEnv env = { .user_data = rec,
                 .sign = rec_sign,
                 .get_proposal = rec_get_proposal,
                 .validate = rec_validate,
                 .broadcast = rec_broadcast,
                 .schedule_timeout = rec_schedule,
                 .wal_append = rec_wal,
                 .commit = rec_commit,
                 .get_commit = rec->serve_commits ? rec_get_commit : NULL };
  PosConfig cfg;
  pos_config_init (&cfg, CHAIN);
  g_autoptr (GError) error = NULL;
  PosEngine *e = pos_engine_new (&cfg, &env, vals[rec->node].address, &error);
  g_assert_no_error (error);
  return e;
}

static void
feed (PosEngine *e, GBytes *msg, gboolean want_ok)
{
  gsize len;
  const uint8_t *d = g_bytes_get_data (msg, &len);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (pos_engine_receive (e, d, len, &error), ==, want_ok);
}

static void
test_engine_inputs (void)
{
  PosValidator vals[5];
  static const uint64_t p5[] = { 1, 1, 1, 1, 1 };
  sim_validators (5, p5, TRUE, vals);
  g_autoptr (PosValidatorSet) set = pos_validator_set_new (vals, 4, NULL);
  guint prop = node_of (set, vals, 4, pos_proposer (set, 1, 0));
  Rec rec = rec_new ((prop + 1) % 4);
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set);
  uint8_t id[32];
  SHA256 ((const uint8_t *)"blk", 3, id);
  g_autoptr (GBytes) v = make_vote (POS_MSG_PREVOTE, 1, 0, id, prop, vals);
  feed (e, v, TRUE);
  feed (e, v, TRUE); /* a duplicate */
  g_assert_cmpuint (pos_engine_stats (e)->duplicates, ==, 1);
  g_autoptr (GBytes) outsider = make_vote (POS_MSG_PREVOTE, 1, 0, id, 4, vals);
  feed (e, outsider, FALSE);
  g_assert_cmpuint (pos_engine_stats (e)->non_validator, ==, 1);
  gsize blen;
  g_autofree uint8_t *bad = g_bytes_unref_to_data (g_bytes_ref (v), &blen);
  bad[blen - 5] ^= 1;
  g_assert_false (pos_engine_receive (e, bad, blen, NULL));
  g_assert_cmpuint (pos_engine_stats (e)->bad_sig, ==, 1);
  g_assert_false (pos_engine_receive (e, (const uint8_t *)"junk", 4, NULL));
  g_assert_cmpuint (pos_engine_stats (e)->malformed, ==, 1);
  /* Far-future heights are dropped, near ones buffered (not counted). */
  g_autoptr (GBytes) far = make_vote (POS_MSG_PREVOTE, 50, 0, id, prop, vals);
  feed (e, far, TRUE);
  g_assert_cmpuint (pos_engine_stats (e)->bad_height, ==, 1);
  g_autoptr (GBytes) near = make_vote (POS_MSG_PREVOTE, 2, 0, id, prop, vals);
  feed (e, near, TRUE);
  g_assert_cmpuint (pos_engine_stats (e)->bad_height, ==, 1);
  /* A proposal from someone who is not the round's proposer is ignored. */
  PosMsg pm = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 0,
                .pol_round = -1,
                .block = (const uint8_t *)"blk",
                .block_len = 3 };
  memcpy (pm.block_id, id, 32);
  g_autoptr (GBytes) wrong = signed_msg (&pm, (prop + 2) % 4, vals);
  guint before = rec.sent->len;
  feed (e, wrong, TRUE);
  g_assert_cmpuint (rec.sent->len, ==, before); /* no prevote for it */
  /* Double signing by the proposer's key: evidence. */
  g_autoptr (GBytes) v2 = make_vote (POS_MSG_PREVOTE, 1, 0, NULL, prop, vals);
  feed (e, v2, TRUE);
  g_assert_cmpuint (pos_engine_stats (e)->evidence, ==, 1);
  pos_engine_free (e);
  rec_clear (&rec);
}

/* Heights of the decisions among the messages sent from index `from`. */
static GString *
decisions_sent (Rec *rec, guint from)
{
  GString *out = g_string_new (NULL);
  for (guint i = from; i < rec->sent->len; i++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (rec->sent->pdata[i], &len);
    PosMsg m;
    g_assert_true (pos_msg_decode (d, len, &m, NULL));
    if (m.kind == POS_MSG_DECISION)
      g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, out->len ? "," : "",
                              m.height);
  }
  return out;
}

/* A vote of the height just decided is the slowest validator's, late: it
 * gets a decision only when it comes again (a peer that stays behind
 * resends). Two or more heights behind get decisions at once, for that
 * height and the next ones the peer can hold, each once. */
static void
test_engine_help_lagging (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  Rec rec = rec_new (0);
  rec.serve_commits = TRUE;
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 10, set);
  uint8_t id[32];
  SHA256 ((const uint8_t *)"blk", 3, id);
  guint mark = rec.sent->len;
  g_autoptr (GBytes) late = make_vote (POS_MSG_PRECOMMIT, 9, 0, id, 1, vals);
  feed (e, late, TRUE);
  g_autoptr (GString) none = decisions_sent (&rec, mark);
  g_assert_cmpstr (none->str, ==, "");
  feed (e, late, TRUE); /* resent: that peer is still at 9 */
  g_autoptr (GString) one = decisions_sent (&rec, mark);
  g_assert_cmpstr (one->str, ==, "9");
  feed (e, late, TRUE); /* once per height */
  g_autoptr (GString) still = decisions_sent (&rec, mark);
  g_assert_cmpstr (still->str, ==, "9");
  /* Four behind: heights 6, 7 and 8 (future_heights = 2) at once. */
  g_autoptr (GBytes) far = make_vote (POS_MSG_PREVOTE, 6, 0, id, 2, vals);
  feed (e, far, TRUE);
  g_autoptr (GString) climb = decisions_sent (&rec, mark);
  g_assert_cmpstr (climb->str, ==, "9,6,7,8");
  /* Two behind: 8 was sent already, 9 too. */
  g_autoptr (GBytes) two = make_vote (POS_MSG_PREVOTE, 8, 0, id, 3, vals);
  feed (e, two, TRUE);
  g_autoptr (GString) same = decisions_sent (&rec, mark);
  g_assert_cmpstr (same->str, ==, "9,6,7,8");
  pos_engine_free (e);
  rec_clear (&rec);
}

/* Messages for the next height are kept within a share per signer: one
 * validator flooding them cannot crowd out the others', and nobody can
 * spend another's share with forged signatures. */
static void
test_engine_future_share (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  Rec rec = rec_new (0);
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set);
  uint8_t id[32];
  SHA256 ((const uint8_t *)"blk", 3, id);
  const guint share = (4096 - 256) / 4;
  /* Validator 1 floods height 2 with more than the whole buffer holds. */
  for (guint r = 0; r < 4096; r++) {
    g_autoptr (GBytes) v = make_vote (POS_MSG_PREVOTE, 2, r, id, 1, vals);
    feed (e, v, TRUE);
  }
  g_assert_cmpuint (pos_engine_stats (e)->bad_height, ==, 4096 - share);
  /* Validator 2's vote for height 2 still finds room. */
  g_autoptr (GBytes) honest = make_vote (POS_MSG_PREVOTE, 2, 0, id, 2, vals);
  feed (e, honest, TRUE);
  g_assert_cmpuint (pos_engine_stats (e)->bad_height, ==, 4096 - share);
  /* A vote naming validator 3 with a bad signature is refused. */
  g_autoptr (GBytes) v3 = make_vote (POS_MSG_PREVOTE, 2, 0, id, 3, vals);
  gsize blen;
  g_autofree uint8_t *forged = g_bytes_unref_to_data (g_bytes_ref (v3), &blen);
  forged[blen - 5] ^= 1;
  g_assert_true (pos_engine_receive (e, forged, blen, NULL));
  g_assert_cmpuint (pos_engine_stats (e)->bad_sig, ==, 1);
  pos_engine_free (e);
  rec_clear (&rec);
}

/* After a restart from its WAL the engine re-sends its old vote and never
 * signs a conflicting one for the same height, round and type. */
static void
test_engine_wal_restart (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  guint prop = node_of (set, vals, 4, pos_proposer (set, 1, 0));
  Rec rec = rec_new ((prop + 1) % 4);
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set);
  pos_engine_on_timeout (e, 1, 0, POS_STEP_PROPOSE); /* prevote nil */
  g_assert_cmpuint (rec.wal->len, ==, 1);
  g_assert_cmpuint (rec.sent->len, ==, 1);
  g_assert_true (g_bytes_equal (rec.wal->pdata[0], rec.sent->pdata[0]));
  pos_engine_free (e); /* crash */

  g_ptr_array_set_size (rec.sent, 0);
  e = rec_engine (&rec, vals);
  pos_engine_prepare_height (e, 1, set);
  for (guint i = 0; i < rec.wal->len; i++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (rec.wal->pdata[i], &len);
    g_assert_true (pos_engine_replay_wal (e, d, len, NULL));
  }
  pos_engine_start_height (e, 1, NULL);
  /* Now the (valid) proposal arrives: the engine would prevote for it,
   * but it already prevoted nil in this round. */
  PosMsg pm = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 0,
                .pol_round = -1,
                .block = (const uint8_t *)"blk",
                .block_len = 3 };
  SHA256 (pm.block, 3, pm.block_id);
  g_autoptr (GBytes) p = signed_msg (&pm, prop, vals);
  feed (e, p, TRUE);
  g_assert_cmpuint (pos_engine_stats (e)->refused_conflict, ==, 1);
  g_assert_cmpuint (rec.wal->len, ==, 1); /* nothing new was signed */
  g_assert_cmpuint (rec.sent->len, ==, 1);
  g_assert_true (g_bytes_equal (rec.sent->pdata[0], rec.wal->pdata[0]));
  g_assert_cmpuint (pos_engine_step (e), ==, POS_STEP_PREVOTE);
  pos_engine_free (e);
  rec_clear (&rec);
}

/* The proposer signs, persists, then sends; a WAL that fails stops the
 * message from leaving. */
static void
test_engine_propose (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  guint prop = node_of (set, vals, 4, pos_proposer (set, 1, 0));
  Rec rec = rec_new (prop);
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set); /* proposes and prevotes */
  g_assert_cmpuint (rec.wal->len, ==, 2);
  g_assert_cmpuint (rec.sent->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_true (g_bytes_equal (rec.wal->pdata[i], rec.sent->pdata[i]));
  PosMsg m;
  gsize len;
  const uint8_t *d = g_bytes_get_data (rec.sent->pdata[1], &len);
  g_assert_true (pos_msg_verify (set, CHAIN, d, len, NULL, NULL, &m, NULL));
  g_assert_cmpint (m.kind, ==, POS_MSG_PREVOTE);
  g_assert_false (m.nil);
  pos_engine_free (e);

  g_ptr_array_set_size (rec.sent, 0);
  g_ptr_array_set_size (rec.wal, 0);
  rec.wal_fail = TRUE;
  e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set);
  pos_engine_on_timeout (e, 1, 0, POS_STEP_PROPOSE);
  g_assert_cmpuint (rec.sent->len, ==, 0);
  pos_engine_free (e);
  rec_clear (&rec);
}

/* A node that precommitted v (and so locked on it) crashes; restarted
 * from its WAL it still refuses to prevote a new block in a later round. */
static void
test_engine_lock_survives_restart (void)
{
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, equal4, vals);
  guint p0 = node_of (set, vals, 4, pos_proposer (set, 1, 0));
  guint p1 = node_of (set, vals, 4, pos_proposer (set, 1, 1));
  guint me = 0;
  while (me == p0 || me == p1)
    me++;
  guint other = 0;
  while (other == p0 || other == me)
    other++;
  Rec rec = rec_new (me);
  PosEngine *e = rec_engine (&rec, vals);
  pos_engine_start_height (e, 1, set);
  PosMsg pm = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 0,
                .pol_round = -1,
                .block = (const uint8_t *)"v",
                .block_len = 1 };
  SHA256 (pm.block, 1, pm.block_id);
  g_autoptr (GBytes) pv = signed_msg (&pm, p0, vals);
  feed (e, pv, TRUE);
  g_autoptr (GBytes) a
      = make_vote (POS_MSG_PREVOTE, 1, 0, pm.block_id, p0, vals);
  g_autoptr (GBytes) b
      = make_vote (POS_MSG_PREVOTE, 1, 0, pm.block_id, other, vals);
  feed (e, a, TRUE);
  feed (e, b, TRUE); /* a polka: lock and precommit v */
  g_assert_cmpuint (pos_engine_step (e), ==, POS_STEP_PRECOMMIT);
  g_assert_cmpuint (rec.wal->len, ==, 3); /* prevote, proposal, precommit */
  pos_engine_free (e);

  e = rec_engine (&rec, vals);
  pos_engine_prepare_height (e, 1, set);
  for (guint i = 0; i < rec.wal->len; i++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (rec.wal->pdata[i], &len);
    g_assert_true (pos_engine_replay_wal (e, d, len, NULL));
  }
  pos_engine_start_height (e, 1, NULL);
  pos_engine_on_timeout (e, 1, 0, POS_STEP_PRECOMMIT); /* to round 1 */
  g_assert_cmpuint (pos_engine_round (e), ==, 1);
  PosMsg pw = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 1,
                .pol_round = -1,
                .block = (const uint8_t *)"w",
                .block_len = 1 };
  SHA256 (pw.block, 1, pw.block_id);
  g_autoptr (GBytes) wv = signed_msg (&pw, p1, vals);
  g_ptr_array_set_size (rec.sent, 0);
  feed (e, wv, TRUE);
  g_assert_cmpuint (rec.sent->len, ==, 1);
  PosMsg m;
  gsize len;
  const uint8_t *d = g_bytes_get_data (rec.sent->pdata[0], &len);
  g_assert_true (pos_msg_decode (d, len, &m, NULL));
  g_assert_cmpint (m.kind, ==, POS_MSG_PREVOTE);
  g_assert_cmpuint (m.round, ==, 1);
  g_assert_true (m.nil); /* locked on v */
  pos_engine_free (e);
  rec_clear (&rec);
}

/* Stake-weighted counting at the 2/3 boundary: an observer engine sees
 * precommits holding exactly 2/3 of the power (no commit), then one more
 * (commit, with a certificate that verifies). */
static void
test_engine_weighted_quorum (void)
{
  static const uint64_t powers[] = { 1, 1, 1, 3 };
  PosValidator vals[4];
  g_autoptr (PosValidatorSet) set = make_set (4, powers, vals);
  guint prop = node_of (set, vals, 4, pos_proposer (set, 1, 0));
  Rec rec = rec_new (0);
  PosEnv env = { .user_data = &rec,
                 .validate = rec_validate,
                 .broadcast = rec_broadcast,
                 .schedule_timeout = rec_schedule,
                 .commit = rec_commit };
  PosConfig cfg;
  pos_config_init (&cfg, CHAIN);
  g_autoptr (GError) error = NULL;
  PosEngine *e = pos_engine_new (&cfg, &env, NULL, &error);
  g_assert_no_error (error);
  pos_engine_start_height (e, 1, set);
  PosMsg pm = { .kind = POS_MSG_PROPOSAL,
                .height = 1,
                .round = 0,
                .pol_round = -1,
                .block = (const uint8_t *)"b",
                .block_len = 1 };
  SHA256 (pm.block, 1, pm.block_id);
  g_autoptr (GBytes) p = signed_msg (&pm, prop, vals);
  feed (e, p, TRUE);
  /* Sim key 3 holds 3 of the 6; keys 0..2 hold 1 each. The heavy one and
   * one light one: 4 of 6, not more than 2/3. */
  guint light[2] = { 0, 1 };
  g_autoptr (GBytes) heavy
      = make_vote (POS_MSG_PRECOMMIT, 1, 0, pm.block_id, 3, vals);
  g_autoptr (GBytes) l0
      = make_vote (POS_MSG_PRECOMMIT, 1, 0, pm.block_id, light[0], vals);
  g_autoptr (GBytes) l1
      = make_vote (POS_MSG_PRECOMMIT, 1, 0, pm.block_id, light[1], vals);
  feed (e, heavy, TRUE);
  feed (e, l0, TRUE);
  g_assert_cmpuint (rec.commits, ==, 0);
  g_assert_cmpuint (rec.sent->len, ==, 0); /* an observer never sends */
  feed (e, l1, TRUE);                      /* 5 of 6 */
  g_assert_cmpuint (rec.commits, ==, 1);
  gsize len;
  const uint8_t *c = g_bytes_get_data (rec.cert, &len);
  g_assert_true (pos_certificate_verify (set, CHAIN, 1, pm.block_id, c, len,
                                         NULL, NULL, &error));
  g_assert_no_error (error);
  pos_engine_free (e);
  rec_clear (&rec);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pos/unit/proposer", test_proposer);
  g_test_add_func ("/pos/unit/quorum", test_quorum);
  g_test_add_func ("/pos/unit/validator-set", test_validator_set);
  g_test_add_func ("/pos/unit/decode-verify", test_decode_and_verify);
  g_test_add_func ("/pos/unit/certificate", test_certificate);
  g_test_add_func ("/pos/unit/evidence", test_evidence);
  g_test_add_func ("/pos/unit/engine-inputs", test_engine_inputs);
  g_test_add_func ("/pos/unit/engine-future-share", test_engine_future_share);
  g_test_add_func ("/pos/unit/engine-help-lagging", test_engine_help_lagging);
  g_test_add_func ("/pos/unit/engine-wal-restart", test_engine_wal_restart);
  g_test_add_func ("/pos/unit/engine-propose", test_engine_propose);
  g_test_add_func ("/pos/unit/engine-weighted-quorum",
                   test_engine_weighted_quorum);
  g_test_add_func ("/pos/unit/engine-lock-restart",
                   test_engine_lock_survives_restart);
  int rc = g_test_run ();
  sim_cleanup ();
  return rc;
}

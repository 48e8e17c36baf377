/* pos: the Tendermint state machine (Algorithm 1 of Buchman, Kwon,
 * Milosevic 2018) over the PosEnv callbacks. After every input the
 * "upon" rules are evaluated until none fires (run_rules). */
#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "engine.h"

#define MAX_FUTURE_MSGS 4096
/* Of those, what messages that are not signed by a member of the current
 * set (decisions, validators of a later set) may hold; the rest is shared
 * out equally among the current set's members, so one Byzantine validator
 * can fill its own share only. */
#define MAX_FUTURE_OTHER 256
/* Distinct votes kept per validator, round and type: the first, plus
 * conflicting ones from a double-signer. Each counts for its own block id
 * (as Tendermint's VoteSet does once a peer claims +2/3 for that id), so
 * an equivocator cannot hide a polka from some honest nodes; safety is
 * unaffected because honest validators sign one vote only. */
#define VOTES_PER_SIGNER 4
#define VOTE(rs, t, i, k) (&(rs)->votes[t][(size_t)(i)*VOTES_PER_SIGNER + (k)])

typedef struct Vote {
  gboolean has;
  gboolean nil;
  uint8_t id[32];
  GBytes *enc;
} Vote;

typedef struct Proposal {
  GBytes *enc;
  PosMsg msg; /* points into enc */
  int valid;  /* 0 = not checked yet, 1 = valid, -1 = invalid */
} Proposal;

typedef struct RoundState {
  uint32_t round;
  size_t n;
  Proposal *prop;
  Vote *votes[2]; /* [prevote, precommit][validator * VOTES_PER_SIGNER] */
  gboolean *seen; /* any message from validator i in this round */
  gboolean prevote_timeout_set, precommit_timeout_set, polka_done;
} RoundState;

struct PosEngine {
  PosConfig cfg;
  char *chain_id;
  PosEnv env;
  char my_addr[41];
  uint8_t my_raw[20];
  gboolean has_addr;
  PosValidatorSet *set;
  int me; /* index in set, -1 = observer */
  uint64_t height;
  uint32_t round;
  PosStep step;
  gboolean started, decided;
  int64_t locked_round, valid_round;
  uint8_t locked_id[32], valid_id[32];
  uint32_t replay_round; /* highest round of an own WAL record */
  GHashTable *rounds;    /* GUINT_TO_POINTER(round) -> RoundState */
  GPtrArray *future;     /* GBytes of messages for later heights */
  GHashTable *future_by; /* signer hex (or "") -> messages it has there */
  GHashTable *catchup;   /* heights we sent a decision for since the tick */
  GHashTable *lag_once;  /* signatures of last-height messages seen once */
  PosStats stats;
};

/* ---- setup -------------------------------------------------------------- */

/* Keys of lag_once: 64-byte signatures (random enough to hash by a prefix). */
static guint
sig_hash (gconstpointer p)
{
  guint h;
  memcpy (&h, p, sizeof h);
  return h;
}

static gboolean
sig_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, 64) == 0;
}

void
pos_config_init (PosConfig *c, const char *chain_id)
{
  *c = (PosConfig){
    .chain_id = chain_id,
    .timeout_propose_ms = 3000,
    .timeout_propose_delta_ms = 500,
    .timeout_prevote_ms = 1000,
    .timeout_prevote_delta_ms = 500,
    .timeout_precommit_ms = 1000,
    .timeout_precommit_delta_ms = 500,
    .rebroadcast_ms = 2000,
    .future_heights = 2,
    .max_round_ahead = 1000,
  };
}

static void
round_state_free (gpointer p)
{
  RoundState *rs = p;
  if (rs->prop != NULL) {
    g_bytes_unref (rs->prop->enc);
    g_free (rs->prop);
  }
  for (int t = 0; t < 2; t++) {
    for (size_t i = 0; i < rs->n * VOTES_PER_SIGNER; i++)
      if (rs->votes[t][i].enc != NULL)
        g_bytes_unref (rs->votes[t][i].enc);
    g_free (rs->votes[t]);
  }
  g_free (rs->seen);
  g_free (rs);
}

PosEngine *
pos_engine_new (const PosConfig *config, const PosEnv *env,
                const char *my_address, GError **error)
{
  if (config->chain_id == NULL || config->chain_id[0] == '\0'
      || strlen (config->chain_id) > POS_MAX_CHAIN_ID) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "pos: chain id must have 1..%d bytes", POS_MAX_CHAIN_ID);
    return NULL;
  }
  if (env->validate == NULL || env->broadcast == NULL
      || env->schedule_timeout == NULL || env->commit == NULL
      || (my_address != NULL
          && (env->sign == NULL || env->wal_append == NULL
              || env->get_proposal == NULL))) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "pos: a required environment callback is NULL");
    return NULL;
  }
  PosEngine *e = g_new0 (PosEngine, 1);
  e->cfg = *config;
  e->chain_id = g_strdup (config->chain_id);
  e->cfg.chain_id = e->chain_id;
  e->env = *env;
  if (e->env.verify == NULL)
    e->env.verify = pos_ed25519_verify;
  if (my_address != NULL) {
    if (strlen (my_address) != 40
        || !cairn_hex_decode (my_address, e->my_raw, 20)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "pos: own address '%s' is not 40 hex digits", my_address);
      pos_engine_free (e);
      return NULL;
    }
    g_strlcpy (e->my_addr, my_address, sizeof e->my_addr);
    e->has_addr = TRUE;
  }
  e->me = -1;
  e->rounds = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                     round_state_free);
  e->future = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  e->future_by = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  e->catchup
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  e->lag_once = g_hash_table_new_full (sig_hash, sig_equal, g_free, NULL);
  return e;
}

void
pos_engine_free (PosEngine *e)
{
  if (e == NULL)
    return;
  if (e->rounds != NULL)
    g_hash_table_destroy (e->rounds);
  if (e->future != NULL)
    g_ptr_array_unref (e->future);
  if (e->future_by != NULL)
    g_hash_table_destroy (e->future_by);
  if (e->catchup != NULL)
    g_hash_table_destroy (e->catchup);
  if (e->lag_once != NULL)
    g_hash_table_destroy (e->lag_once);
  pos_validator_set_unref (e->set);
  g_free (e->chain_id);
  g_free (e);
}

uint64_t
pos_engine_height (const PosEngine *e)
{
  return e->height;
}

uint32_t
pos_engine_round (const PosEngine *e)
{
  return e->round;
}

PosStep
pos_engine_step (const PosEngine *e)
{
  return e->step;
}

const PosStats *
pos_engine_stats (const PosEngine *e)
{
  return &e->stats;
}

/* ---- round bookkeeping ------------------------------------------------- */

static RoundState *
get_round (PosEngine *e, uint32_t round, gboolean create)
{
  RoundState *rs = g_hash_table_lookup (e->rounds, GUINT_TO_POINTER (round));
  if (rs == NULL && create) {
    size_t n = pos_validator_set_size (e->set);
    rs = g_new0 (RoundState, 1);
    rs->round = round;
    rs->n = n;
    rs->votes[0] = g_new0 (Vote, n * VOTES_PER_SIGNER);
    rs->votes[1] = g_new0 (Vote, n * VOTES_PER_SIGNER);
    rs->seen = g_new0 (gboolean, n);
    g_hash_table_insert (e->rounds, GUINT_TO_POINTER (round), rs);
  }
  return rs;
}

/* Power of votes of one type in rs: for block id (any == FALSE, nil ==
 * FALSE), for nil (nil == TRUE), or of any vote (any == TRUE). */
static uint64_t
vote_power (PosEngine *e, RoundState *rs, PosMsgKind kind, gboolean any,
            gboolean nil, const uint8_t *id)
{
  if (rs == NULL)
    return 0;
  int t = kind == POS_MSG_PREVOTE ? 0 : 1;
  uint64_t power = 0;
  for (size_t i = 0; i < rs->n; i++) {
    for (int k = 0; k < VOTES_PER_SIGNER; k++) {
      Vote *v = VOTE (rs, t, i, k);
      if (v->has
          && (any || (nil && v->nil)
              || (!nil && !v->nil && memcmp (v->id, id, 32) == 0))) {
        power += pos_validator_set_get (e->set, i)->power;
        break; /* a validator counts once */
      }
    }
  }
  return power;
}

static gboolean
quorum (PosEngine *e, uint64_t power)
{
  return pos_quorum (power, pos_validator_set_total (e->set));
}

static gboolean
proposal_valid (PosEngine *e, Proposal *p)
{
  if (p->valid == 0) {
    uint8_t id[32];
    gboolean ok = e->env.validate (e->env.user_data, e->height, p->msg.block,
                                   p->msg.block_len, id)
                  && memcmp (id, p->msg.block_id, 32) == 0;
    p->valid = ok ? 1 : -1;
  }
  return p->valid == 1;
}

static void
send (PosEngine *e, GBytes *msg)
{
  gsize len;
  const uint8_t *d = g_bytes_get_data (msg, &len);
  e->env.broadcast (e->env.user_data, d, len);
}

static gboolean
wal (PosEngine *e, GBytes *msg)
{
  gsize len;
  const uint8_t *d = g_bytes_get_data (msg, &len);
  return e->env.wal_append (e->env.user_data, d, len);
}

static GBytes *
sign_msg (PosEngine *e, PosMsg *m)
{
  memcpy (m->signer, e->my_raw, 20);
  g_autoptr (GBytes) sb = pos_msg_sign_bytes (e->chain_id, m);
  gsize len;
  const uint8_t *d = g_bytes_get_data (sb, &len);
  if (!e->env.sign (e->env.user_data, d, len, m->sig))
    return NULL;
  return pos_msg_encode (m);
}

static void
schedule (PosEngine *e, PosStep step, uint32_t round)
{
  uint64_t base, delta;
  switch (step) {
  case POS_STEP_PROPOSE:
    base = e->cfg.timeout_propose_ms, delta = e->cfg.timeout_propose_delta_ms;
    break;
  case POS_STEP_PREVOTE:
    base = e->cfg.timeout_prevote_ms, delta = e->cfg.timeout_prevote_delta_ms;
    break;
  case POS_STEP_PRECOMMIT:
    base = e->cfg.timeout_precommit_ms,
    delta = e->cfg.timeout_precommit_delta_ms;
    break;
  default:
    base = e->cfg.rebroadcast_ms, delta = 0;
  }
  e->env.schedule_timeout (e->env.user_data, base + delta * round, e->height,
                           round, step);
}

/* ---- own messages ------------------------------------------------------ */

/* Sign, persist and send our vote for the current round, unless one of
 * that type exists already (from before a restart): then that one is sent
 * again and a conflicting new one is never signed. */
static void
do_vote (PosEngine *e, PosMsgKind kind, gboolean nil, const uint8_t *id)
{
  if (e->me < 0)
    return;
  RoundState *rs = get_round (e, e->round, TRUE);
  Vote *slot = VOTE (rs, kind == POS_MSG_PREVOTE ? 0 : 1, e->me, 0);
  if (slot->has) {
    if (slot->nil != nil || (!nil && memcmp (slot->id, id, 32) != 0))
      e->stats.refused_conflict++;
    send (e, slot->enc);
    return;
  }
  PosMsg m
      = { .kind = kind, .height = e->height, .round = e->round, .nil = nil };
  if (!nil)
    memcpy (m.block_id, id, 32);
  GBytes *enc = sign_msg (e, &m);
  if (enc == NULL)
    return;
  if (!wal (e, enc)) {
    g_bytes_unref (enc);
    return;
  }
  slot->has = TRUE;
  slot->nil = nil;
  memcpy (slot->id, m.block_id, 32);
  slot->enc = enc;
  rs->seen[e->me] = TRUE;
  send (e, enc);
}

/* The prevotes that justify a proposal's pol_round, for peers that missed
 * them. */
static void
send_pol (PosEngine *e, Proposal *p)
{
  if (p->msg.pol_round < 0)
    return;
  RoundState *pol = get_round (e, (uint32_t)p->msg.pol_round, FALSE);
  for (size_t i = 0; pol != NULL && i < pol->n * VOTES_PER_SIGNER; i++) {
    Vote *v = &pol->votes[0][i];
    if (v->has && !v->nil && memcmp (v->id, p->msg.block_id, 32) == 0)
      send (e, v->enc);
  }
}

static Proposal *
proposal_from (GBytes *enc)
{
  Proposal *p = g_new0 (Proposal, 1);
  p->enc = enc;
  gsize len;
  const uint8_t *d = g_bytes_get_data (enc, &len);
  gboolean ok = pos_msg_decode (d, len, &p->msg, NULL);
  g_assert (ok);
  return p;
}

static void
do_propose (PosEngine *e)
{
  RoundState *rs = get_round (e, e->round, TRUE);
  if (rs->prop != NULL) { /* ours, from the WAL */
    if (memcmp (rs->prop->msg.signer, e->my_raw, 20) == 0) {
      send (e, rs->prop->enc);
      send_pol (e, rs->prop);
    }
    return;
  }
  PosMsg m = { .kind = POS_MSG_PROPOSAL,
               .height = e->height,
               .round = e->round,
               .pol_round = -1 };
  g_autoptr (GBytes) block = NULL;
  RoundState *vr = e->valid_round >= 0
                       ? get_round (e, (uint32_t)e->valid_round, FALSE)
                       : NULL;
  if (vr != NULL && vr->prop != NULL
      && memcmp (vr->prop->msg.block_id, e->valid_id, 32) == 0) {
    block = g_bytes_new (vr->prop->msg.block, vr->prop->msg.block_len);
    memcpy (m.block_id, e->valid_id, 32);
    m.pol_round = (int32_t)e->valid_round;
  } else {
    block = e->env.get_proposal (e->env.user_data, e->height, m.block_id);
    if (block == NULL)
      return;
  }
  gsize blen;
  m.block = g_bytes_get_data (block, &blen);
  m.block_len = blen;
  if (blen > POS_MAX_BLOCK_BYTES)
    return;
  GBytes *enc = sign_msg (e, &m);
  if (enc == NULL)
    return;
  if (!wal (e, enc)) {
    g_bytes_unref (enc);
    return;
  }
  rs->prop = proposal_from (enc);
  rs->prop->valid = m.pol_round >= 0 ? vr->prop->valid : 1;
  rs->seen[e->me] = TRUE;
  send (e, enc);
  send_pol (e, rs->prop);
}

static void
start_round (PosEngine *e, uint32_t round)
{
  e->round = round;
  e->step = POS_STEP_PROPOSE;
  size_t proposer = pos_proposer (e->set, e->height, round);
  /* The proposer arms the timeout too: if it has nothing to propose (or
   * its WAL fails) it prevotes nil like everyone else. */
  schedule (e, POS_STEP_PROPOSE, round);
  if (e->me >= 0 && (size_t)e->me == proposer)
    do_propose (e);
}

/* ---- deciding ------------------------------------------------------------ */

static GBytes *
make_certificate (PosEngine *e, RoundState *rs, const uint8_t id[32])
{
  GByteArray *b = g_byte_array_new ();
  uint8_t head[1 + 8 + 4];
  head[0] = POS_WIRE_VERSION;
  for (int i = 0; i < 8; i++)
    head[1 + i] = (uint8_t)(e->height >> (56 - 8 * i));
  for (int i = 0; i < 4; i++)
    head[9 + i] = (uint8_t)(rs->round >> (24 - 8 * i));
  g_byte_array_append (b, head, sizeof head);
  g_byte_array_append (b, id, 32);
  guint count_at = b->len;
  uint8_t zero[2] = { 0, 0 };
  g_byte_array_append (b, zero, 2);
  uint16_t count = 0;
  /* Validators are in address order, so the entries ascend. */
  for (size_t i = 0; i < rs->n; i++) {
    for (int k = 0; k < VOTES_PER_SIGNER; k++) {
      Vote *v = VOTE (rs, 1, i, k);
      if (!v->has || v->nil || memcmp (v->id, id, 32) != 0)
        continue;
      PosMsg m;
      gsize len;
      const uint8_t *d = g_bytes_get_data (v->enc, &len);
      gboolean ok = pos_msg_decode (d, len, &m, NULL);
      g_assert (ok);
      g_byte_array_append (b, m.signer, 20);
      g_byte_array_append (b, m.sig, 64);
      count++;
      break; /* one entry per signer */
    }
  }
  b->data[count_at] = (uint8_t)(count >> 8);
  b->data[count_at + 1] = (uint8_t)count;
  return g_byte_array_free_to_bytes (b);
}

static void
decide (PosEngine *e, const uint8_t id[32], const uint8_t *block,
        size_t block_len, GBytes *cert)
{
  e->decided = TRUE;
  gsize clen;
  const uint8_t *cd = g_bytes_get_data (cert, &clen);
  e->env.commit (e->env.user_data, e->height, id, block, block_len, cd, clen);
}

/* ---- the upon rules ----------------------------------------------------- */

static gboolean
rule_decide (PosEngine *e)
{
  GHashTableIter it;
  gpointer k, val;
  g_hash_table_iter_init (&it, e->rounds);
  while (g_hash_table_iter_next (&it, &k, &val)) {
    RoundState *rs = val;
    Proposal *p = rs->prop;
    if (p == NULL
        || !quorum (e, vote_power (e, rs, POS_MSG_PRECOMMIT, FALSE, FALSE,
                                   p->msg.block_id))
        || !proposal_valid (e, p))
      continue;
    g_autoptr (GBytes) cert = make_certificate (e, rs, p->msg.block_id);
    decide (e, p->msg.block_id, p->msg.block, p->msg.block_len, cert);
    return TRUE;
  }
  return FALSE;
}

/* f+1 (more than 1/3 of the power) in a higher round: go there. */
static gboolean
rule_skip (PosEngine *e)
{
  GHashTableIter it;
  gpointer k, val;
  uint32_t best = e->round;
  g_hash_table_iter_init (&it, e->rounds);
  while (g_hash_table_iter_next (&it, &k, &val)) {
    RoundState *rs = val;
    if (rs->round <= best)
      continue;
    uint64_t power = 0;
    for (size_t i = 0; i < rs->n; i++)
      if (rs->seen[i])
        power += pos_validator_set_get (e->set, i)->power;
    if (pos_one_third (power, pos_validator_set_total (e->set)))
      best = rs->round;
  }
  if (best == e->round)
    return FALSE;
  start_round (e, best);
  return TRUE;
}

static gboolean
rule_prevote_proposal (PosEngine *e, RoundState *rs)
{
  Proposal *p = rs->prop;
  if (e->step != POS_STEP_PROPOSE || p == NULL)
    return FALSE;
  int32_t vr = p->msg.pol_round;
  gboolean accept;
  if (vr < 0) {
    accept = proposal_valid (e, p)
             && (e->locked_round == -1
                 || memcmp (e->locked_id, p->msg.block_id, 32) == 0);
  } else {
    RoundState *pol = get_round (e, (uint32_t)vr, FALSE);
    if (!quorum (e, vote_power (e, pol, POS_MSG_PREVOTE, FALSE, FALSE,
                                p->msg.block_id)))
      return FALSE;
    accept = proposal_valid (e, p)
             && (e->locked_round <= vr
                 || memcmp (e->locked_id, p->msg.block_id, 32) == 0);
  }
  do_vote (e, POS_MSG_PREVOTE, !accept, p->msg.block_id);
  e->step = POS_STEP_PREVOTE;
  return TRUE;
}

static gboolean
rule_polka (PosEngine *e, RoundState *rs)
{
  Proposal *p = rs->prop;
  if (e->step < POS_STEP_PREVOTE || rs->polka_done || p == NULL
      || !quorum (
          e, vote_power (e, rs, POS_MSG_PREVOTE, FALSE, FALSE, p->msg.block_id))
      || !proposal_valid (e, p))
    return FALSE;
  rs->polka_done = TRUE;
  if (e->step == POS_STEP_PREVOTE) {
    e->locked_round = rs->round;
    memcpy (e->locked_id, p->msg.block_id, 32);
    /* The locked block must survive a crash with the lock (see replay). */
    if (e->me >= 0 && wal (e, p->enc))
      do_vote (e, POS_MSG_PRECOMMIT, FALSE, p->msg.block_id);
    e->step = POS_STEP_PRECOMMIT;
  }
  e->valid_round = rs->round;
  memcpy (e->valid_id, p->msg.block_id, 32);
  return TRUE;
}

static void
run_rules (PosEngine *e)
{
  gboolean again = TRUE;
  while (again && e->started && !e->decided) {
    again = FALSE;
    if (rule_decide (e))
      return;
    if (rule_skip (e)) {
      again = TRUE;
      continue;
    }
    RoundState *rs = get_round (e, e->round, TRUE);
    if (rule_prevote_proposal (e, rs))
      again = TRUE;
    if (e->step == POS_STEP_PREVOTE && !rs->prevote_timeout_set
        && quorum (e, vote_power (e, rs, POS_MSG_PREVOTE, TRUE, FALSE, NULL))) {
      rs->prevote_timeout_set = TRUE;
      schedule (e, POS_STEP_PREVOTE, e->round);
    }
    if (rule_polka (e, rs))
      again = TRUE;
    if (e->step == POS_STEP_PREVOTE
        && quorum (e, vote_power (e, rs, POS_MSG_PREVOTE, FALSE, TRUE, NULL))) {
      do_vote (e, POS_MSG_PRECOMMIT, TRUE, NULL);
      e->step = POS_STEP_PRECOMMIT;
      again = TRUE;
    }
    if (!rs->precommit_timeout_set
        && quorum (e,
                   vote_power (e, rs, POS_MSG_PRECOMMIT, TRUE, FALSE, NULL))) {
      rs->precommit_timeout_set = TRUE;
      schedule (e, POS_STEP_PRECOMMIT, e->round);
    }
  }
}

/* ---- inputs -------------------------------------------------------------- */

/* Store a verified proposal or vote of the current height. */
static void
add_message (PosEngine *e, const PosMsg *m, const uint8_t *data, size_t len)
{
  int idx = pos_validator_set_find_raw (e->set, m->signer);
  RoundState *rs = get_round (e, m->round, TRUE);
  if (m->kind == POS_MSG_PROPOSAL) {
    if ((size_t)idx != pos_proposer (e->set, e->height, m->round)) {
      e->stats.non_validator++; /* not this round's proposer */
      return;
    }
    if (rs->prop != NULL) {
      e->stats.duplicates++; /* the first proposal of a round wins */
      return;
    }
    rs->prop = proposal_from (g_bytes_new (data, len));
    rs->seen[idx] = TRUE;
    e->stats.accepted++;
    return;
  }
  int t = m->kind == POS_MSG_PREVOTE ? 0 : 1;
  Vote *slot = VOTE (rs, t, idx, 0);
  for (int k = 0; k < VOTES_PER_SIGNER; k++) {
    Vote *v = VOTE (rs, t, idx, k);
    if (v->has && v->nil == m->nil && memcmp (v->id, m->block_id, 32) == 0) {
      e->stats.duplicates++;
      return;
    }
  }
  if (slot->has) {
    /* Double signing: both votes, length-prefixed, are the evidence. */
    e->stats.evidence++;
    if (e->env.evidence != NULL) {
      gsize alen;
      const uint8_t *a = g_bytes_get_data (slot->enc, &alen);
      GByteArray *ev = g_byte_array_new ();
      uint8_t l[4];
      for (int i = 0; i < 4; i++)
        l[i] = (uint8_t)(alen >> (24 - 8 * i));
      g_byte_array_append (ev, l, 4);
      g_byte_array_append (ev, a, (guint)alen);
      for (int i = 0; i < 4; i++)
        l[i] = (uint8_t)(len >> (24 - 8 * i));
      g_byte_array_append (ev, l, 4);
      g_byte_array_append (ev, data, (guint)len);
      e->env.evidence (e->env.user_data, ev->data, ev->len);
      g_byte_array_unref (ev);
    }
    for (int k = 1; k < VOTES_PER_SIGNER; k++) {
      Vote *v = VOTE (rs, t, idx, k);
      if (!v->has) {
        slot = v;
        break;
      }
    }
    if (slot->has)
      return; /* full: later conflicting votes are only evidence */
  }
  slot->has = TRUE;
  slot->nil = m->nil;
  memcpy (slot->id, m->block_id, 32);
  slot->enc = g_bytes_new (data, len);
  rs->seen[idx] = TRUE;
  e->stats.accepted++;
}

static gboolean
verify_current (PosEngine *e, const uint8_t *data, size_t len, PosMsg *m,
                GError **error)
{
  g_autoptr (GError) err = NULL;
  if (!pos_msg_verify (e->set, e->chain_id, data, len, e->env.verify,
                       e->env.user_data, m, &err)) {
    if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED)
        && pos_validator_set_find_raw (e->set, m->signer) < 0)
      e->stats.non_validator++;
    else if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED))
      e->stats.bad_sig++;
    else
      e->stats.malformed++;
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  return TRUE;
}

/* Keep a message for a later height, within its signer's share. A
 * message that names a member of the current set as signer is checked
 * against that member's key first, so nobody can spend another's share. */
static void
buffer_future (PosEngine *e, const uint8_t *data, size_t len, const PosMsg *m)
{
  if (m->height > e->height + e->cfg.future_heights
      || e->future->len >= MAX_FUTURE_MSGS) {
    e->stats.bad_height++;
    return;
  }
  size_t n = pos_validator_set_size (e->set);
  gboolean member = m->kind != POS_MSG_DECISION
                    && pos_validator_set_find_raw (e->set, m->signer) >= 0;
  guint cap = MAX_FUTURE_OTHER;
  g_autofree char *who = g_strdup ("");
  if (member) {
    PosMsg checked;
    if (!pos_msg_verify (e->set, e->chain_id, data, len, e->env.verify,
                         e->env.user_data, &checked, NULL)) {
      e->stats.bad_sig++;
      return;
    }
    g_free (who);
    who = cairn_hex_encode (m->signer, 20);
    cap = (MAX_FUTURE_MSGS - MAX_FUTURE_OTHER) / MAX (n, 1);
  }
  guint have = GPOINTER_TO_UINT (g_hash_table_lookup (e->future_by, who));
  if (have >= cap) {
    e->stats.bad_height++;
    return;
  }
  g_hash_table_insert (e->future_by, g_steal_pointer (&who),
                       GUINT_TO_POINTER (have + 1));
  g_ptr_array_add (e->future, g_bytes_new (data, len));
}

/* Whether a message for a height we decided shows its sender behind. Two
 * or more heights behind it is; one behind, the slowest validator's votes
 * reach the others just after they decided, at every height, which is no
 * sign of a lag (answering each with the block cost every node a block
 * read and three block sends per height). So one behind counts when the
 * same message comes a second time: a peer that stays behind resends its
 * messages every rebroadcast_ms. lag_once forgets all at MAX_LAG_ONCE. */
#define MAX_LAG_ONCE 4096

static gboolean
lagging (PosEngine *e, const PosMsg *m)
{
  if (m->height + 1 < e->height)
    return TRUE;
  if (g_hash_table_contains (e->lag_once, m->sig))
    return TRUE;
  if (g_hash_table_size (e->lag_once) >= MAX_LAG_ONCE)
    g_hash_table_remove_all (e->lag_once);
  g_hash_table_add (e->lag_once, g_memdup2 (m->sig, 64));
  return FALSE;
}

/* A peer sent something for a height we decided: offer it the decision,
 * at most once per height between two rebroadcast ticks. */
static void
send_decision (PosEngine *e, uint64_t height)
{
  if (g_hash_table_contains (e->catchup, &height))
    return;
  g_autoptr (GBytes) block = NULL;
  g_autoptr (GBytes) cert = NULL;
  if (!e->env.get_commit (e->env.user_data, height, &block, &cert))
    return;
  g_hash_table_add (e->catchup, g_memdup2 (&height, sizeof height));
  gsize clen, blen;
  PosMsg m = { .kind = POS_MSG_DECISION, .height = height };
  m.cert = g_bytes_get_data (cert, &clen);
  m.cert_len = clen;
  m.block = g_bytes_get_data (block, &blen);
  m.block_len = blen;
  if (clen < 1 + 8 + 4 + 32)
    return;
  memcpy (m.block_id, m.cert + 13, 32);
  g_autoptr (GBytes) enc = pos_msg_encode (&m);
  send (e, enc);
}

/* The decisions of height and of the heights after it that the peer can
 * hold (future_heights), so it climbs several heights per answer. */
static void
help_lagging (PosEngine *e, uint64_t height)
{
  if (e->env.get_commit == NULL)
    return;
  uint64_t last = MIN (height + e->cfg.future_heights, e->height - 1);
  for (uint64_t h = height; h <= last; h++)
    send_decision (e, h);
}

static gboolean
receive_decision (PosEngine *e, const PosMsg *m, GError **error)
{
  if (e->decided)
    return TRUE;
  if (!pos_certificate_verify (e->set, e->chain_id, e->height, m->block_id,
                               m->cert, m->cert_len, e->env.verify,
                               e->env.user_data, error)) {
    e->stats.bad_sig++;
    return FALSE;
  }
  uint8_t id[32];
  if (!e->env.validate (e->env.user_data, e->height, m->block, m->block_len, id)
      || memcmp (id, m->block_id, 32) != 0) {
    e->stats.malformed++;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos decision for height %" G_GUINT64_FORMAT
                 ": the block does not validate to its certified id",
                 e->height);
    return FALSE;
  }
  e->stats.accepted++;
  g_autoptr (GBytes) cert = g_bytes_new (m->cert, m->cert_len);
  decide (e, id, m->block, m->block_len, cert);
  return TRUE;
}

gboolean
pos_engine_receive (PosEngine *e, const uint8_t *data, size_t len,
                    GError **error)
{
  PosMsg m;
  e->stats.received++;
  if (!pos_msg_decode (data, len, &m, error)) {
    e->stats.malformed++;
    return FALSE;
  }
  if (e->set == NULL || m.height < e->height || !e->started) {
    if (e->set != NULL && m.height < e->height && m.kind != POS_MSG_DECISION) {
      if (lagging (e, &m))
        help_lagging (e, m.height);
    } else if (e->set != NULL && m.height > e->height)
      buffer_future (e, data, len, &m);
    else
      e->stats.bad_height++;
    return TRUE;
  }
  if (m.height > e->height) {
    buffer_future (e, data, len, &m);
    return TRUE;
  }
  if (m.kind == POS_MSG_DECISION)
    return receive_decision (e, &m, error);
  if (!verify_current (e, data, len, &m, error))
    return FALSE;
  if (m.round > (uint64_t)e->round + e->cfg.max_round_ahead) {
    e->stats.bad_height++;
    return TRUE;
  }
  if (e->decided)
    return TRUE;
  add_message (e, &m, data, len);
  run_rules (e);
  return TRUE;
}

void
pos_engine_on_timeout (PosEngine *e, uint64_t height, uint32_t round,
                       PosStep step)
{
  if (!e->started || height != e->height)
    return;
  if (step == POS_STEP_REBROADCAST) {
    g_hash_table_remove_all (e->catchup);
    if (e->decided || e->me < 0)
      return;
    for (uint32_t r = e->round > 0 ? e->round - 1 : 0; r <= e->round; r++) {
      RoundState *rs = get_round (e, r, FALSE);
      if (rs == NULL)
        continue;
      if (rs->prop != NULL
          && memcmp (rs->prop->msg.signer, e->my_raw, 20) == 0) {
        send (e, rs->prop->enc);
        send_pol (e, rs->prop);
      }
      for (int t = 0; t < 2; t++)
        if (VOTE (rs, t, e->me, 0)->has)
          send (e, VOTE (rs, t, e->me, 0)->enc);
    }
    schedule (e, POS_STEP_REBROADCAST, 0);
    return;
  }
  if (e->decided || round != e->round)
    return;
  if (step == POS_STEP_PROPOSE && e->step == POS_STEP_PROPOSE) {
    do_vote (e, POS_MSG_PREVOTE, TRUE, NULL);
    e->step = POS_STEP_PREVOTE;
  } else if (step == POS_STEP_PREVOTE && e->step == POS_STEP_PREVOTE) {
    do_vote (e, POS_MSG_PRECOMMIT, TRUE, NULL);
    e->step = POS_STEP_PRECOMMIT;
  } else if (step == POS_STEP_PRECOMMIT) {
    start_round (e, round + 1);
  } else {
    return;
  }
  run_rules (e);
}

/* ---- heights and the WAL ------------------------------------------------ */

void
pos_engine_prepare_height (PosEngine *e, uint64_t height, PosValidatorSet *set)
{
  g_hash_table_remove_all (e->rounds);
  g_hash_table_remove_all (e->catchup);
  if (set != e->set) {
    pos_validator_set_unref (e->set);
    e->set = pos_validator_set_ref (set);
  }
  e->me = e->has_addr ? pos_validator_set_find (set, e->my_addr) : -1;
  e->height = height;
  e->round = 0;
  e->step = POS_STEP_PROPOSE;
  e->started = FALSE;
  e->decided = FALSE;
  e->locked_round = e->valid_round = -1;
  memset (e->locked_id, 0, 32);
  memset (e->valid_id, 0, 32);
  e->replay_round = 0;
}

gboolean
pos_engine_replay_wal (PosEngine *e, const uint8_t *data, size_t len,
                       GError **error)
{
  PosMsg m;
  g_return_val_if_fail (e->set != NULL && !e->started, FALSE);
  if (!pos_msg_decode (data, len, &m, error))
    return FALSE;
  if (m.height != e->height || m.kind == POS_MSG_DECISION)
    return TRUE;
  if (!pos_msg_verify (e->set, e->chain_id, data, len, e->env.verify,
                       e->env.user_data, &m, error))
    return FALSE;
  add_message (e, &m, data, len);
  if (e->me < 0 || memcmp (m.signer, e->my_raw, 20) != 0)
    return TRUE;
  e->replay_round = MAX (e->replay_round, m.round);
  /* Our non-nil precommit means we were locked on it in that round. */
  if (m.kind == POS_MSG_PRECOMMIT && !m.nil
      && (int64_t)m.round > e->locked_round) {
    e->locked_round = e->valid_round = m.round;
    memcpy (e->locked_id, m.block_id, 32);
    memcpy (e->valid_id, m.block_id, 32);
  }
  return TRUE;
}

void
pos_engine_start_height (PosEngine *e, uint64_t height, PosValidatorSet *set)
{
  if (set != NULL)
    pos_engine_prepare_height (e, height, set);
  g_return_if_fail (e->set != NULL && e->height == height);
  e->started = TRUE;
  start_round (e, e->replay_round);
  if (e->cfg.rebroadcast_ms > 0)
    schedule (e, POS_STEP_REBROADCAST, 0);
  /* Replay what arrived early; keep what is still ahead. */
  GPtrArray *early = e->future;
  e->future = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  g_hash_table_remove_all (e->future_by);
  for (guint i = 0; i < early->len; i++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (early->pdata[i], &len);
    PosMsg m;
    if (!pos_msg_decode (d, len, &m, NULL) || m.height < height)
      continue;
    pos_engine_receive (e, d, len, NULL);
  }
  g_ptr_array_unref (early);
  run_rules (e);
}

/* The pos network simulation (see sim.h). Everything is driven by one
 * priority queue of timed events ordered by (time, sequence number), and
 * every random choice comes from one GRand seeded with the run's seed, so a
 * seed replays exactly. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cairn/util.h>

#include "sim.h"

#define CHAIN_ID "cairn-pos-sim"
#define MAX_NODES 16
#define LIVENESS_BOUND_MS 30000

/* ---- keys ---------------------------------------------------------------- */

static EVP_PKEY *keys[MAX_NODES];

static void
key_seed (guint i, uint8_t seed[32])
{
  char label[64];
  int len = g_snprintf (label, sizeof label, "cairn-pos-sim-key-%u", i);
  SHA256 ((const uint8_t *)label, (size_t)len, seed);
}

static EVP_PKEY *
ed_key (guint i)
{
  g_assert (i < MAX_NODES);
  if (keys[i] == NULL) {
    uint8_t seed[32];
    key_seed (i, seed);
    keys[i] = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, seed, 32);
    g_assert_nonnull (keys[i]);
  }
  return keys[i];
}

void
sim_cleanup (void)
{
  for (guint i = 0; i < MAX_NODES; i++)
    g_clear_pointer (&keys[i], EVP_PKEY_free);
}

/* Stand-in signature for the bulk runs (Ed25519 costs ~100 us a verify):
 * SHA-256(pubkey | domain | msg) twice with different prefixes. It is as
 * unforgeable as needed here, where nobody forges. */
static void
fake_sig (const uint8_t pubkey[32], const uint8_t *msg, size_t len,
          uint8_t sig[64])
{
  for (int half = 0; half < 2; half++) {
    GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
    uint8_t tag = (uint8_t)half;
    gsize out = 32;
    g_checksum_update (c, &tag, 1);
    g_checksum_update (c, pubkey, 32);
    g_checksum_update (c, (const guchar *)POS_SIGN_DOMAIN,
                       sizeof POS_SIGN_DOMAIN);
    g_checksum_update (c, msg, (gssize)len);
    g_checksum_get_digest (c, sig + 32 * half, &out);
    g_checksum_free (c);
  }
}

gboolean
sim_fake_verify (void *user_data, const uint8_t pubkey[32], const uint8_t *msg,
                 size_t len, const uint8_t sig[64])
{
  uint8_t want[64];
  fake_sig (pubkey, msg, len, want);
  return memcmp (want, sig, 64) == 0;
}

void
sim_validators (guint n, const uint64_t *powers, gboolean ed25519,
                PosValidator *out)
{
  for (guint i = 0; i < n; i++) {
    PosValidator *v = &out[i];
    memset (v, 0, sizeof *v);
    if (ed25519) {
      size_t len = 32;
      g_assert_true (EVP_PKEY_get_raw_public_key (ed_key (i), v->pubkey, &len));
    } else {
      uint8_t seed[32];
      key_seed (i, seed);
      SHA256 (seed, 32, v->pubkey);
    }
    uint8_t h[32];
    SHA256 (v->pubkey, 32, h);
    g_autofree char *hex = cairn_hex_encode (h, 20);
    memcpy (v->address, hex, 40);
    v->power = powers[i];
  }
}

void
sim_sign (guint i, gboolean ed25519, const uint8_t *msg, size_t len,
          uint8_t sig[64])
{
  if (!ed25519) {
    uint8_t seed[32], pubkey[32];
    key_seed (i, seed);
    SHA256 (seed, 32, pubkey);
    fake_sig (pubkey, msg, len, sig);
    return;
  }
  size_t dlen = sizeof POS_SIGN_DOMAIN;
  g_autofree uint8_t *framed = g_malloc (dlen + len);
  memcpy (framed, POS_SIGN_DOMAIN, dlen);
  memcpy (framed + dlen, msg, len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  size_t siglen = 64;
  g_assert_true (EVP_DigestSignInit (ctx, NULL, NULL, NULL, ed_key (i)) == 1);
  g_assert_true (EVP_DigestSign (ctx, sig, &siglen, framed, dlen + len) == 1);
  EVP_MD_CTX_free (ctx);
}

/* ---- the simulation --------------------------------------------------------
 */

typedef enum { EV_DELIVER, EV_TIMEOUT, EV_CRASH, EV_RESTART } EvKind;

typedef struct Ev {
  guint64 time, seq;
  EvKind kind;
  guint node, epoch;
  GBytes *msg;
  guint64 height;
  guint32 round;
  PosStep step;
} Ev;

typedef struct Sim Sim;

typedef struct Node {
  Sim *sim;
  guint idx;
  PosEngine *engine;
  gboolean up, need_start;
  guint epoch;
  guint group;       /* partition side */
  GPtrArray *wal;    /* GBytes */
  GPtrArray *blocks; /* GBytes, [h-1] */
  GPtrArray *certs;  /* GBytes, [h-1] */
} Node;

struct Sim {
  const SimConfig *cfg;
  GRand *rand;
  guint64 now, seq, heal_ms, part_start;
  GPtrArray *heap; /* Ev*, binary min-heap */
  Node nodes[MAX_NODES];
  PosValidatorSet *set;     /* heights with sets[0] */
  PosValidatorSet *sets[2]; /* rotate_sets: the set changes every 5 heights */
  GHashTable *committed;    /* height -> 32-byte id */
  GHashTable *signed_votes; /* "i/h/r/kind" -> 33 bytes nil+id */
  int set_index[MAX_NODES]; /* node -> index in the (sorted) set */
  gboolean trace;           /* POS_SIM_TRACE set: print sends and timers */
  GString *fail;
  SimResult *res;
};

static PosValidatorSet *
set_for (Sim *s, uint64_t height)
{
  return s->sets[s->cfg->rotate_sets ? (height / 5) % 2 : 0];
}

static gboolean
ev_less (const Ev *a, const Ev *b)
{
  return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
heap_push (Sim *s, Ev *ev)
{
  ev->seq = s->seq++;
  GPtrArray *h = s->heap;
  g_ptr_array_add (h, ev);
  guint i = h->len - 1;
  while (i > 0 && ev_less (h->pdata[i], h->pdata[(i - 1) / 2])) {
    gpointer t = h->pdata[i];
    h->pdata[i] = h->pdata[(i - 1) / 2];
    h->pdata[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
}

static Ev *
heap_pop (Sim *s)
{
  GPtrArray *h = s->heap;
  if (h->len == 0)
    return NULL;
  Ev *top = h->pdata[0];
  h->pdata[0] = h->pdata[h->len - 1];
  g_ptr_array_set_size (h, h->len - 1);
  guint i = 0;
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->len && ev_less (h->pdata[l], h->pdata[m]))
      m = l;
    if (r < h->len && ev_less (h->pdata[r], h->pdata[m]))
      m = r;
    if (m == i)
      break;
    gpointer t = h->pdata[i];
    h->pdata[i] = h->pdata[m];
    h->pdata[m] = t;
    i = m;
  }
  return top;
}

static void
ev_free (Ev *ev)
{
  if (ev->msg != NULL)
    g_bytes_unref (ev->msg);
  g_free (ev);
}

static void G_GNUC_PRINTF (2, 3) sim_fail (Sim *s, const char *fmt, ...)
{
  if (s->fail->len > 0)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_string_append_printf (s->fail, "t=%" G_GUINT64_FORMAT "ms: ", s->now);
  g_string_append_vprintf (s->fail, fmt, ap);
  va_end (ap);
}

static gboolean
faults_on (Sim *s)
{
  return s->now < s->heal_ms;
}

/* One copy of msg from node `from` to node `to`, through the faults. */
static void
transmit (Sim *s, guint from, guint to, GBytes *msg)
{
  const SimConfig *c = s->cfg;
  guint copies = 1;
  guint max_delay = 40;
  if (faults_on (s)) {
    if (c->partition && s->now >= s->part_start
        && s->nodes[from].group != s->nodes[to].group)
      return;
    if ((guint)g_rand_int_range (s->rand, 0, 100) < c->drop_pct)
      return;
    if ((guint)g_rand_int_range (s->rand, 0, 100) < c->dup_pct)
      copies = 2;
    max_delay = 300; /* wide spread: heavy reordering */
  }
  for (guint k = 0; k < copies; k++) {
    Ev *ev = g_new0 (Ev, 1);
    ev->kind = EV_DELIVER;
    ev->node = to;
    ev->msg = g_bytes_ref (msg);
    ev->time
        = s->now + (guint64)g_rand_int_range (s->rand, 1, (gint32)max_delay);
    heap_push (s, ev);
    s->res->messages++;
  }
}

static void
broadcast_bytes (Sim *s, guint from, GBytes *msg)
{
  for (guint to = 0; to < s->cfg->n; to++)
    if (to != from)
      transmit (s, from, to, msg);
}

/* The sim checks every vote a node sends: an honest node never signs two
 * different votes for one (height, round, type), across restarts too. */
static void
check_own_vote (Sim *s, Node *node, const PosMsg *m)
{
  if ((m->kind != POS_MSG_PREVOTE && m->kind != POS_MSG_PRECOMMIT)
      || (int)node->idx == s->cfg->byzantine
      || pos_validator_set_find_raw (s->set, m->signer)
             != s->set_index[node->idx])
    return; /* not a vote, or one the node relays */
  char *key = g_strdup_printf ("%u/%" G_GUINT64_FORMAT "/%u/%d", node->idx,
                               m->height, m->round, m->kind);
  uint8_t val[33];
  val[0] = (uint8_t)m->nil;
  memcpy (val + 1, m->block_id, 32);
  const uint8_t *old = g_hash_table_lookup (s->signed_votes, key);
  if (old == NULL) {
    g_hash_table_insert (s->signed_votes, key, g_memdup2 (val, sizeof val));
    return;
  }
  if (memcmp (old, val, sizeof val) != 0)
    sim_fail (s, "node %u sent two different votes for %s", node->idx, key);
  g_free (key);
}

/* ---- environment callbacks ------------------------------------------- */

static gboolean
cb_sign (void *ud, const uint8_t *msg, size_t len, uint8_t sig[64])
{
  Node *node = ud;
  sim_sign (node->idx, node->sim->cfg->ed25519, msg, len, sig);
  return TRUE;
}

static GBytes *
cb_get_proposal (void *ud, uint64_t height, uint8_t id[32])
{
  Node *node = ud;
  g_autofree char *text
      = g_strdup_printf ("h=%" G_GUINT64_FORMAT " p=%u n=%u", height, node->idx,
                         (guint)g_rand_int (node->sim->rand));
  SHA256 ((const uint8_t *)text, strlen (text), id);
  return g_bytes_new (text, strlen (text));
}

static gboolean
cb_validate (void *ud, uint64_t height, const uint8_t *block, size_t len,
             uint8_t id[32])
{
  g_autofree char *prefix
      = g_strdup_printf ("h=%" G_GUINT64_FORMAT " p=", height);
  if (len < strlen (prefix) || memcmp (block, prefix, strlen (prefix)) != 0)
    return FALSE;
  SHA256 (block, len, id);
  return TRUE;
}

static void
cb_broadcast (void *ud, const uint8_t *data, size_t len)
{
  Node *node = ud;
  Sim *s = node->sim;
  PosMsg m;
  if (!pos_msg_decode (data, len, &m, NULL)) {
    sim_fail (s, "node %u broadcast an undecodable message", node->idx);
    return;
  }
  if (s->trace)
    g_printerr ("t=%" G_GUINT64_FORMAT " n%u send kind=%d h=%" G_GUINT64_FORMAT
                " r=%u nil=%d id=%02x\n",
                s->now, node->idx, m.kind, m.height, m.round, m.nil,
                m.block_id[0]);
  check_own_vote (s, node, &m);
  g_autoptr (GBytes) msg = g_bytes_new (data, len);
  if ((int)node->idx == s->cfg->byzantine && m.kind == POS_MSG_PROPOSAL
      && m.pol_round < 0) {
    /* The Byzantine proposer equivocates: each peer gets one of two
     * different blocks, at random. */
    PosMsg other = m;
    g_autofree char *text
        = g_strdup_printf ("h=%" G_GUINT64_FORMAT " p=%u evil=%u", m.height,
                           node->idx, (guint)g_rand_int (s->rand));
    other.block = (const uint8_t *)text;
    other.block_len = strlen (text);
    SHA256 (other.block, other.block_len, other.block_id);
    g_autoptr (GBytes) sb = pos_msg_sign_bytes (CHAIN_ID, &other);
    gsize sblen;
    const uint8_t *sbd = g_bytes_get_data (sb, &sblen);
    sim_sign (node->idx, s->cfg->ed25519, sbd, sblen, other.sig);
    g_autoptr (GBytes) enc = pos_msg_encode (&other);
    for (guint to = 0; to < s->cfg->n; to++)
      if (to != node->idx)
        transmit (s, node->idx, to, g_rand_boolean (s->rand) ? msg : enc);
    return;
  }
  broadcast_bytes (s, node->idx, msg);
  /* The double-signer also votes for a block nobody proposed. */
  if ((int)node->idx == s->cfg->byzantine
      && (m.kind == POS_MSG_PREVOTE || m.kind == POS_MSG_PRECOMMIT)) {
    PosMsg evil = m;
    evil.nil = FALSE;
    SHA256 (m.sig, 64, evil.block_id);
    g_autoptr (GBytes) sb = pos_msg_sign_bytes (CHAIN_ID, &evil);
    gsize sblen;
    const uint8_t *sbd = g_bytes_get_data (sb, &sblen);
    sim_sign (node->idx, s->cfg->ed25519, sbd, sblen, evil.sig);
    g_autoptr (GBytes) enc = pos_msg_encode (&evil);
    broadcast_bytes (s, node->idx, enc);
  }
}

static void
cb_schedule (void *ud, uint64_t delay_ms, uint64_t height, uint32_t round,
             PosStep step)
{
  Node *node = ud;
  Ev *ev = g_new0 (Ev, 1);
  ev->kind = EV_TIMEOUT;
  ev->node = node->idx;
  ev->epoch = node->epoch;
  ev->time = node->sim->now + delay_ms;
  ev->height = height;
  ev->round = round;
  ev->step = step;
  heap_push (node->sim, ev);
}

static gboolean
cb_wal (void *ud, const uint8_t *msg, size_t len)
{
  Node *node = ud;
  g_ptr_array_add (node->wal, g_bytes_new (msg, len));
  return TRUE;
}

static void
cb_commit (void *ud, uint64_t height, const uint8_t id[32],
           const uint8_t *block, size_t len, const uint8_t *cert,
           size_t cert_len)
{
  Node *node = ud;
  Sim *s = node->sim;
  g_autoptr (GError) error = NULL;
  if (height != node->blocks->len + 1) {
    sim_fail (s, "node %u committed height %" G_GUINT64_FORMAT " after %u",
              node->idx, height, node->blocks->len);
    return;
  }
  const uint8_t *prev
      = g_hash_table_lookup (s->committed, GSIZE_TO_POINTER ((gsize)height));
  if (prev != NULL && memcmp (prev, id, 32) != 0) {
    g_autofree char *a = cairn_hex_encode (prev, 32);
    g_autofree char *b = cairn_hex_encode (id, 32);
    sim_fail (s,
              "SAFETY: node %u committed %s at height %" G_GUINT64_FORMAT
              ", another node %s",
              node->idx, b, height, a);
    return;
  }
  if (prev == NULL)
    g_hash_table_insert (s->committed, GSIZE_TO_POINTER ((gsize)height),
                         g_memdup2 (id, 32));
  uint8_t real[32];
  SHA256 (block, len, real);
  if (memcmp (real, id, 32) != 0)
    sim_fail (s, "node %u committed a block whose hash is not its id",
              node->idx);
  if (!pos_certificate_verify (
          set_for (s, height), CHAIN_ID, height, id, cert, cert_len,
          s->cfg->ed25519 ? NULL : sim_fake_verify, NULL, &error))
    sim_fail (s,
              "node %u: certificate of height %" G_GUINT64_FORMAT
              " does not verify: %s",
              node->idx, height, error->message);
  g_ptr_array_add (node->blocks, g_bytes_new (block, len));
  g_ptr_array_add (node->certs, g_bytes_new (cert, cert_len));
  g_ptr_array_set_size (node->wal, 0); /* the height is done */
  node->need_start = TRUE;
  s->res->commits++;
}

static void
cb_evidence (void *ud, const uint8_t *ev, size_t len)
{
  Node *node = ud;
  Sim *s = node->sim;
  g_autoptr (GError) error = NULL;
  uint8_t who[20];
  PosMsg first;
  uint32_t alen = len < 4 ? 0
                          : (uint32_t)ev[0] << 24 | (uint32_t)ev[1] << 16
                                | (uint32_t)ev[2] << 8 | ev[3];
  if (len < 4 || alen > len - 4
      || !pos_msg_decode (ev + 4, alen, &first, NULL)) {
    sim_fail (s, "node %u reported undecodable evidence", node->idx);
    return;
  }
  if (!pos_evidence_verify (set_for (s, first.height), CHAIN_ID, ev, len,
                            s->cfg->ed25519 ? NULL : sim_fake_verify, NULL, who,
                            &error)) {
    sim_fail (s, "node %u reported evidence that does not verify: %s",
              node->idx, error->message);
    return;
  }
  int idx = pos_validator_set_find_raw (s->set, who);
  if (s->cfg->byzantine < 0 || idx != s->set_index[s->cfg->byzantine])
    sim_fail (s, "node %u reported evidence against honest validator %d",
              node->idx, idx);
  s->res->evidence++;
}

static gboolean
cb_get_commit (void *ud, uint64_t height, GBytes **block, GBytes **cert)
{
  Node *node = ud;
  if (height == 0 || height > node->blocks->len)
    return FALSE;
  *block = g_bytes_ref (node->blocks->pdata[height - 1]);
  *cert = g_bytes_ref (node->certs->pdata[height - 1]);
  return TRUE;
}

/* ---- nodes ------------------------------------------------------------ */

static const PosEnv env_template = {
  .sign = cb_sign,
  .get_proposal = cb_get_proposal,
  .validate = cb_validate,
  .broadcast = cb_broadcast,
  .schedule_timeout = cb_schedule,
  .wal_append = cb_wal,
  .commit = cb_commit,
  .evidence = cb_evidence,
  .get_commit = cb_get_commit,
};

static PosConfig
sim_pos_config (void)
{
  PosConfig c;
  pos_config_init (&c, CHAIN_ID);
  c.timeout_propose_ms = 200;
  c.timeout_propose_delta_ms = 50;
  c.timeout_prevote_ms = 100;
  c.timeout_prevote_delta_ms = 50;
  c.timeout_precommit_ms = 100;
  c.timeout_precommit_delta_ms = 50;
  c.rebroadcast_ms = 300;
  return c;
}

/* Start the heights that commits made due, as the plugin wrapper will. */
static void
node_settle (Node *node)
{
  while (node->need_start && node->up) {
    node->need_start = FALSE;
    pos_engine_start_height (node->engine, node->blocks->len + 1,
                             set_for (node->sim, node->blocks->len + 1));
  }
}

/* Boot (or reboot) a node from its disk: the committed chain and the WAL. */
static void
node_boot (Node *node)
{
  Sim *s = node->sim;
  g_autoptr (GError) error = NULL;
  PosEnv env = env_template;
  env.user_data = node;
  env.verify = s->cfg->ed25519 ? NULL : sim_fake_verify;
  PosConfig pc = sim_pos_config ();
  node->engine = pos_engine_new (
      &pc, &env,
      pos_validator_set_get (s->set, s->set_index[node->idx])->address, &error);
  g_assert_no_error (error);
  node->up = TRUE;
  node->epoch++;
  uint64_t height = node->blocks->len + 1;
  pos_engine_prepare_height (node->engine, height, set_for (s, height));
  for (guint i = 0; i < node->wal->len; i++) {
    gsize len;
    const uint8_t *d = g_bytes_get_data (node->wal->pdata[i], &len);
    if (!pos_engine_replay_wal (node->engine, d, len, &error)) {
      sim_fail (s, "node %u: WAL record %u rejected: %s", node->idx, i,
                error->message);
      g_clear_error (&error);
    }
  }
  pos_engine_start_height (node->engine, height, NULL);
  node_settle (node);
}

static void
node_crash (Node *node)
{
  node->up = FALSE;
  node->epoch++;
  node->need_start = FALSE;
  node->sim->res->refused += pos_engine_stats (node->engine)->refused_conflict;
  g_clear_pointer (&node->engine, pos_engine_free);
}

static void
push_fault (Sim *s, EvKind kind, guint node, guint64 time)
{
  Ev *ev = g_new0 (Ev, 1);
  ev->kind = kind;
  ev->node = node;
  ev->time = time;
  heap_push (s, ev);
}

/* Crash a random subset of nodes holding less than 1/3 of the power (at
 * most f of them), each once, restarting before the faults heal. */
static void
plan_crashes (Sim *s)
{
  const SimConfig *c = s->cfg;
  guint order[MAX_NODES];
  for (guint i = 0; i < c->n; i++)
    order[i] = i;
  for (guint i = c->n - 1; i > 0; i--) {
    guint j = (guint)g_rand_int_range (s->rand, 0, (gint32)i + 1);
    guint t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  /* The double-signer, if any, uses up part of the fault budget. */
  uint64_t total = pos_validator_set_total (s->set);
  /* (With rotating sets, in both of them.) */
  uint64_t down = 0, down2 = 0;
  guint count = 0, max = (c->n - 1) / 3;
  if (c->byzantine >= 0) {
    down = c->powers[c->byzantine];
    down2 = c->rotate_sets ? c->powers[(guint)(c->byzantine + 1) % c->n] : down;
    count = 1;
  }
  for (guint k = 0; k < c->n && count < max; k++) {
    guint i = order[k];
    uint64_t p2 = c->rotate_sets ? c->powers[(i + 1) % c->n] : c->powers[i];
    if ((int)i == c->byzantine || pos_one_third (down + c->powers[i], total)
        || pos_one_third (down2 + p2, total))
      continue;
    down += c->powers[i];
    down2 += p2;
    count++;
    guint64 at = (guint64)g_rand_int_range (s->rand, 0, (gint32)s->heal_ms);
    guint64 back = at
                   + (guint64)g_rand_int_range (s->rand, 1,
                                                (gint32)(s->heal_ms - at) + 1);
    push_fault (s, EV_CRASH, i, at);
    push_fault (s, EV_RESTART, i, back);
  }
}

static gboolean
all_done (Sim *s)
{
  if (faults_on (s))
    return FALSE;
  for (guint i = 0; i < s->cfg->n; i++)
    if (!s->nodes[i].up || s->nodes[i].blocks->len < s->cfg->target_height)
      return FALSE;
  return TRUE;
}

static void
handle (Sim *s, Ev *ev)
{
  Node *node = &s->nodes[ev->node];
  if (s->trace && ev->kind != EV_DELIVER)
    g_printerr ("t=%" G_GUINT64_FORMAT " n%u event %d h=%" G_GUINT64_FORMAT
                " r=%u step=%d\n",
                s->now, node->idx, ev->kind, ev->height, ev->round, ev->step);
  switch (ev->kind) {
  case EV_DELIVER:
    if (node->up) {
      gsize len;
      const uint8_t *d = g_bytes_get_data (ev->msg, &len);
      pos_engine_receive (node->engine, d, len, NULL);
    }
    break;
  case EV_TIMEOUT:
    if (node->up && ev->epoch == node->epoch)
      pos_engine_on_timeout (node->engine, ev->height, ev->round, ev->step);
    break;
  case EV_CRASH:
    if (node->up)
      node_crash (node);
    break;
  case EV_RESTART:
    if (!node->up)
      node_boot (node);
    break;
  }
  if (node->up)
    node_settle (node);
}

gboolean
sim_run (const SimConfig *cfg, SimResult *res, char **why)
{
  g_assert (cfg->n >= 1 && cfg->n <= MAX_NODES);
  Sim *s = g_new0 (Sim, 1);
  memset (res, 0, sizeof *res);
  s->cfg = cfg;
  s->res = res;
  guint32 seed[2] = { (guint32)cfg->seed, (guint32)(cfg->seed >> 32) };
  s->rand = g_rand_new_with_seed_array (seed, 2);
  s->trace = g_getenv ("POS_SIM_TRACE") != NULL;
  s->heap = g_ptr_array_new ();
  s->fail = g_string_new (NULL);
  s->committed
      = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  s->signed_votes
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  PosValidator vals[MAX_NODES];
  sim_validators (cfg->n, cfg->powers, cfg->ed25519, vals);
  g_autoptr (GError) error = NULL;
  s->set = s->sets[0] = pos_validator_set_new (vals, cfg->n, &error);
  g_assert_no_error (error);
  /* The second set: the same validators, powers shifted by one. */
  PosValidator rot[MAX_NODES];
  for (guint i = 0; i < cfg->n; i++) {
    rot[i] = vals[i];
    rot[i].power = cfg->powers[(i + 1) % cfg->n];
  }
  s->sets[1] = pos_validator_set_new (rot, cfg->n, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < cfg->n; i++)
    s->set_index[i] = pos_validator_set_find (s->set, vals[i].address);

  gboolean faults
      = cfg->drop_pct > 0 || cfg->dup_pct > 0 || cfg->partition || cfg->crashes;
  s->heal_ms = faults ? (guint64)g_rand_int_range (s->rand, 1000, 5000) : 0;
  s->part_start = (guint64)g_rand_int_range (s->rand, 0, 1000);
  for (guint i = 0; i < cfg->n; i++) {
    Node *node = &s->nodes[i];
    node->sim = s;
    node->idx = i;
    node->group = (guint)g_rand_int_range (s->rand, 0, 2);
    node->wal = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
    node->blocks
        = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
    node->certs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  }
  if (cfg->crashes)
    plan_crashes (s);
  for (guint i = 0; i < cfg->n; i++)
    node_boot (&s->nodes[i]);

  guint64 deadline = s->heal_ms + LIVENESS_BOUND_MS;
  while (s->fail->len == 0 && !all_done (s)) {
    Ev *ev = heap_pop (s);
    if (ev == NULL) {
      sim_fail (s, "LIVENESS: no event left");
      break;
    }
    s->now = ev->time;
    if (s->now > deadline) {
      GString *h = g_string_new (NULL);
      for (guint i = 0; i < cfg->n; i++)
        g_string_append_printf (h, " n%u:h%u/r%u", i, s->nodes[i].blocks->len,
                                s->nodes[i].engine != NULL
                                    ? pos_engine_round (s->nodes[i].engine)
                                    : 0);
      sim_fail (s, "LIVENESS: height %u not reached %d ms after healing:%s",
                cfg->target_height, LIVENESS_BOUND_MS, h->str);
      g_string_free (h, TRUE);
      ev_free (ev);
      break;
    }
    res->events++;
    handle (s, ev);
    ev_free (ev);
  }
  res->end_ms = s->now;
  res->heal_ms = s->heal_ms;

  gboolean ok = s->fail->len == 0;
  *why = ok ? NULL : g_strdup (s->fail->str);
  for (guint i = 0; i < cfg->n; i++) {
    Node *node = &s->nodes[i];
    if (node->engine != NULL)
      res->refused += pos_engine_stats (node->engine)->refused_conflict;
    g_clear_pointer (&node->engine, pos_engine_free);
    g_ptr_array_unref (node->wal);
    g_ptr_array_unref (node->blocks);
    g_ptr_array_unref (node->certs);
  }
  for (guint i = 0; i < s->heap->len; i++)
    ev_free (s->heap->pdata[i]);
  g_ptr_array_unref (s->heap);
  g_hash_table_destroy (s->committed);
  g_hash_table_destroy (s->signed_votes);
  pos_validator_set_unref (s->sets[0]);
  pos_validator_set_unref (s->sets[1]);
  g_string_free (s->fail, TRUE);
  g_rand_free (s->rand);
  g_free (s);
  return ok;
}

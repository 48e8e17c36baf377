/* pos: the proof-of-stake BFT consensus plugin. It wraps the pure engine
 * (engine.h) in the host: blocks are built, validated and committed
 * through the host's block_* calls, messages travel with peer_broadcast,
 * timeouts are host timers, and the node key signs.
 *
 * The validator set of every height comes from committed state, where
 * staking.c keeps it (stakes, delegations, slashing, rewards). Double
 * signing seen by the engine is submitted as a pos.evidence tx.
 *
 * Certificate stored with each block: {"type":"pos","height":H,
 * "precommits":"<hex of the engine's certificate encoding>"}. */
#define CAIRN_PLUGIN_MIN_MINOR 1 /* submit_tx, metric_set, info->proposer */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "engine.h"
#include "staking.h"

static const CairnHost *host;

/* Double signing to report with a pos.evidence tx. */
typedef struct {
  GBytes *evidence;
  char offender[41];
  uint64_t height;
} Evidence;

typedef struct {
  PosStaking staking;
  CairnPlugin *self;
  PosConfig config;
  char *chain_id;
  PosValidatorSet *set; /* the engine's: in force at the engine's height */
  char *set_text;       /* its canonical JSON (reused while unchanged) */
  PosEngine *engine;
  GHashTable *pending; /* block id hex -> CairnBlock* (built or validated) */
  int wal_fd;
  char *wal_path;
  /* A WAL record of this height did not read back (damaged file): this
   * validator may have signed there and cannot recall what, so it signs
   * nothing more at that height (0: none). */
  uint64_t wal_damaged_height;
  gboolean wal_damage_said;
  gboolean running;
  guint start_timer;          /* deferred start of the next height */
  uint32_t block_interval_ms; /* pause between blocks when no tx waits */
  GHashTable *timers;         /* timer id -> Timeout*, freed on fire or stop */
  GHashTable *evidence_seen;  /* "offender/height" already reported */
  GPtrArray *evidence_queue;  /* Evidence* waiting for submit_tx */
  guint evidence_timer;
  guint metrics_timer;
} Pos;

PosStaking *
pos_plugin_staking (CairnPlugin *self)
{
  Pos *p = host->get_data (self);
  return &p->staking;
}

static void
evidence_free (gpointer data)
{
  Evidence *e = data;
  g_bytes_unref (e->evidence);
  g_free (e);
}

typedef struct {
  Pos *pos;
  guint id;
  uint64_t height;
  uint32_t round;
  PosStep step;
} Timeout;

/* ---- helpers --------------------------------------------------------------
 */

static void
discard_pending (Pos *p)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, p->pending);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    host->block_discard (p->self, v);
    g_hash_table_iter_remove (&it);
  }
}

static gboolean
id_from_info (const CairnBlockInfo *info, uint8_t id[32])
{
  return cairn_hex_decode (info->hash, id, 32);
}

static void
keep_pending (Pos *p, CairnBlock *b, const uint8_t id[32])
{
  g_autofree char *hex = cairn_hex_encode (id, 32);
  CairnBlock *old = g_hash_table_lookup (p->pending, hex);
  if (old)
    host->block_discard (p->self, old);
  g_hash_table_replace (p->pending, g_steal_pointer (&hex), b);
}

/* The validator set in force at height, from committed state. The
 * engine's current set object is reused while its stored JSON (canonical,
 * so compared as bytes) is unchanged: it caches the proposer schedule, and
 * certificates of a long catch-up need no JSON work. */
static PosValidatorSet *
set_for_height (Pos *p, uint64_t height, char **text, GError **error)
{
  g_autoptr (GBytes) raw = NULL;
  if (!pos_staking_set_bytes_at (&p->staking, NULL, height, NULL, &raw, error))
    return NULL;
  gsize len;
  const char *t = g_bytes_get_data (raw, &len);
  PosValidatorSet *set = NULL;
  if (p->set && p->set_text && strlen (p->set_text) == len
      && memcmp (p->set_text, t, len) == 0) {
    set = pos_validator_set_ref (p->set);
  } else {
    g_autoptr (json_t) j = host->json_parse_canonical (t, len, error);
    set = j ? pos_staking_set_new (j, error) : NULL;
  }
  if (set != NULL && text != NULL)
    *text = g_strndup (t, len);
  return set;
}

/* Make the set of height the engine's. */
static gboolean
load_engine_set (Pos *p, uint64_t height, GError **error)
{
  char *text = NULL;
  PosValidatorSet *set = set_for_height (p, height, &text, error);
  if (set == NULL) {
    g_prefix_error (
        error, "pos: validator set of height %" G_GUINT64_FORMAT ": ", height);
    return FALSE;
  }
  if (p->set)
    pos_validator_set_unref (p->set);
  g_free (p->set_text);
  p->set = set;
  p->set_text = text;
  return TRUE;
}

/* ---- metrics ---------------------------------------------------------------
 */

static void
metric (Pos *p, const char *name, const char *help, uint64_t value)
{
  g_autoptr (GError) err = NULL;
  if (!host->metric_set (p->self, name, help, (int64_t)MIN (value, G_MAXINT64),
                         &err))
    cairn_log (host, p->self, G_LOG_LEVEL_DEBUG, "pos: metric %s: %s", name,
               err->message);
}

static void
publish_metrics (Pos *p)
{
  if (p->engine == NULL)
    return;
  const PosStats *s = pos_engine_stats (p->engine);
  const struct {
    const char *outcome;
    guint64 value;
  } by[] = {
    { "accepted", s->accepted },
    { "duplicate", s->duplicates },
    { "bad_signature", s->bad_sig },
    { "non_validator", s->non_validator },
    { "bad_height", s->bad_height },
    { "malformed", s->malformed },
    { "refused_conflict", s->refused_conflict },
    { "evidence", s->evidence },
  };
  for (guint i = 0; i < G_N_ELEMENTS (by); i++) {
    g_autofree char *name
        = g_strdup_printf ("pos_messages_total{outcome=\"%s\"}", by[i].outcome);
    metric (p, name, "Consensus messages received, by outcome", by[i].value);
  }
  metric (p, "pos_height", "Height the consensus engine works on",
          pos_engine_height (p->engine));
  metric (p, "pos_round", "Round of the current height",
          pos_engine_round (p->engine));
  metric (p, "pos_validators", "Validators in the current set",
          p->set ? pos_validator_set_size (p->set) : 0);
  metric (p, "pos_total_power", "Voting power of the current set",
          p->set ? pos_validator_set_total (p->set) : 0);
}

static gboolean
metrics_tick (CairnPlugin *self, void *ud)
{
  publish_metrics (ud);
  return TRUE;
}

/* ---- WAL: own messages, length-prefixed, fsync'd before they leave ------ */

static gboolean
wal_open (Pos *p, GError **error)
{
  p->wal_path = g_build_filename (host->data_dir (p->self), "wal", NULL);
  p->wal_fd = open (p->wal_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (p->wal_fd < 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "pos: %s: %s", p->wal_path,
                 g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* Feed every whole record to the engine; a torn tail (crash mid-write) is
 * cut off. */
static void
wal_replay (Pos *p)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (p->wal_path, &data, &len, NULL))
    return;
  gsize off = 0;
  while (off + 4 <= len) {
    const uint8_t *q = (const uint8_t *)data + off;
    uint32_t n = (uint32_t)q[0] << 24 | q[1] << 16 | q[2] << 8 | q[3];
    if (n == 0 || off + 4 + n > len)
      break;
    g_autoptr (GError) err = NULL;
    if (!pos_engine_replay_wal (p->engine, q + 4, n, &err)) {
      p->wal_damaged_height = pos_engine_height (p->engine);
      cairn_log (host, p->self, G_LOG_LEVEL_CRITICAL,
                 "pos: %s: the record at offset %zu is damaged (%s): this "
                 "validator may have voted at height %" G_GUINT64_FORMAT
                 " and cannot recall how, so it signs nothing more at that "
                 "height",
                 p->wal_path, off, err->message, p->wal_damaged_height);
    }
    off += 4 + n;
  }
  if (off < len && ftruncate (p->wal_fd, off) != 0)
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING, "pos: %s: %s", p->wal_path,
               g_strerror (errno));
}

static void
wal_reset (Pos *p)
{
  p->wal_damaged_height = 0;
  p->wal_damage_said = FALSE;
  if (p->wal_fd >= 0 && ftruncate (p->wal_fd, 0) != 0)
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING, "pos: %s: %s", p->wal_path,
               g_strerror (errno));
}

static gboolean
env_wal_append (void *ud, const uint8_t *msg, size_t len)
{
  Pos *p = ud;
  if (p->wal_damaged_height != 0
      && pos_engine_height (p->engine) == p->wal_damaged_height) {
    if (!p->wal_damage_said)
      cairn_log (host, p->self, G_LOG_LEVEL_WARNING,
                 "pos: not signing at height %" G_GUINT64_FORMAT
                 ": %s was damaged",
                 p->wal_damaged_height, p->wal_path);
    p->wal_damage_said = TRUE;
    return FALSE;
  }
  uint8_t hdr[4] = { len >> 24, len >> 16, len >> 8, len };
  if (write (p->wal_fd, hdr, 4) != 4
      || write (p->wal_fd, msg, len) != (ssize_t)len
      || fdatasync (p->wal_fd) != 0) {
    cairn_log (host, p->self, G_LOG_LEVEL_CRITICAL,
               "pos: cannot write %s (%s): not signing", p->wal_path,
               g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* ---- the engine's environment ----------------------------------------------
 */

static gboolean
env_sign (void *ud, const uint8_t *msg, size_t len, uint8_t sig[64])
{
  Pos *p = ud;
  g_autoptr (GError) err = NULL;
  if (!host->node_sign (p->self, POS_SIGN_DOMAIN, msg, len, sig, &err)) {
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING, "pos: sign: %s",
               err->message);
    return FALSE;
  }
  return TRUE;
}

static gboolean
env_verify (void *ud, const uint8_t pubkey[32], const uint8_t *msg, size_t len,
            const uint8_t sig[64])
{
  return host->ed25519_verify (pubkey, POS_SIGN_DOMAIN, msg, len, sig);
}

static GBytes *
env_get_proposal (void *ud, uint64_t height, uint8_t id[32])
{
  Pos *p = ud;
  if (host->chain_head (p->self)->height + 1 != height)
    return NULL;
  CairnBuildOpts opts = { .size = sizeof opts, .allow_empty = TRUE };
  g_autoptr (GError) err = NULL;
  CairnBlock *b = host->block_build (p->self, &opts, &err);
  if (b == NULL) {
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING,
               "pos: cannot build block %" G_GUINT64_FORMAT ": %s", height,
               err ? err->message : "nothing to build");
    return NULL;
  }
  const CairnBlockInfo *info = host->block_info (b);
  id_from_info (info, id);
  GBytes *bytes = g_bytes_new (info->bytes, info->len);
  keep_pending (p, b, id);
  return bytes;
}

static gboolean
env_validate (void *ud, uint64_t height, const uint8_t *block, size_t len,
              uint8_t id[32])
{
  Pos *p = ud;
  if (host->chain_head (p->self)->height + 1 != height)
    return FALSE;
  g_autoptr (GError) err = NULL;
  CairnBlock *b = host->block_validate (p->self, block, len, &err);
  if (b == NULL) {
    cairn_log (host, p->self, G_LOG_LEVEL_INFO,
               "pos: proposed block %" G_GUINT64_FORMAT " refused: %s", height,
               err->message);
    return FALSE;
  }
  id_from_info (host->block_info (b), id);
  keep_pending (p, b, id);
  return TRUE;
}

static void
env_broadcast (void *ud, const uint8_t *msg, size_t len)
{
  Pos *p = ud;
  g_autoptr (GError) err = NULL;
  /* Without P2P (a single node) that is expected; otherwise (a message
   * over the frame limit, a broken transport) the chain may stall: say so. */
  if (!host->peer_broadcast (p->self, msg, len, &err))
    cairn_log (host, p->self,
               g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED)
                   ? G_LOG_LEVEL_DEBUG
                   : G_LOG_LEVEL_WARNING,
               "pos: broadcast: %s", err->message);
}

static gboolean
timeout_fire (CairnPlugin *self, void *ud)
{
  Timeout *t = ud;
  Pos *p = t->pos;
  Timeout copy = *t;
  g_hash_table_remove (p->timers, GUINT_TO_POINTER (t->id)); /* frees t */
  if (p->running)
    pos_engine_on_timeout (p->engine, copy.height, copy.round, copy.step);
  return FALSE;
}

static void
env_schedule_timeout (void *ud, uint64_t delay_ms, uint64_t height,
                      uint32_t round, PosStep step)
{
  Pos *p = ud;
  Timeout *t = g_new (Timeout, 1);
  *t = (Timeout){ p, 0, height, round, step };
  t->id = host->timer_add (p->self, (uint32_t)MIN (delay_ms, G_MAXUINT32),
                           timeout_fire, t);
  g_hash_table_insert (p->timers, GUINT_TO_POINTER (t->id), t);
}

static gboolean start_next_height (CairnPlugin *self, void *ud);

/* Right away when txs wait, else after block_interval_ms (empty blocks). */
static void
schedule_next_height (Pos *p, gboolean now)
{
  if (!p->running)
    return;
  if (p->start_timer) {
    if (!now)
      return;
    host->timer_remove (p->self, p->start_timer);
  }
  uint32_t delay
      = now || host->mempool_size (p->self) > 0 ? 0 : p->block_interval_ms;
  p->start_timer = host->timer_add (p->self, delay, start_next_height, p);
}

static void
env_commit (void *ud, uint64_t height, const uint8_t id[32],
            const uint8_t *block, size_t len, const uint8_t *cert,
            size_t cert_len)
{
  Pos *p = ud;
  if (host->chain_head (p->self)->height >= height)
    return; /* already committed (e.g. the block arrived by gossip) */
  g_autofree char *hex = cairn_hex_encode (id, 32);
  CairnBlock *b = NULL;
  g_autofree char *key = NULL;
  g_hash_table_steal_extended (p->pending, hex, (gpointer *)&key,
                               (gpointer *)&b);
  g_autoptr (GError) err = NULL;
  if (b == NULL)
    b = host->block_validate (p->self, block, len, &err);
  if (b == NULL) {
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING,
               "pos: decided block %" G_GUINT64_FORMAT " does not validate: %s",
               height, err->message);
    return;
  }
  g_autofree char *cert_hex = cairn_hex_encode (cert, cert_len);
  g_autoptr (json_t) certificate
      = json_pack ("{s:s, s:I, s:s}", "type", "pos", "height",
                   (json_int_t)height, "precommits", cert_hex);
  if (!host->block_commit (p->self, b, certificate, &err))
    cairn_log (host, p->self, G_LOG_LEVEL_WARNING,
               "pos: commit of block %" G_GUINT64_FORMAT " failed: %s", height,
               err->message);
  /* on_block_committed starts the next height. */
}

/* Submit the queued evidence (from the main loop, outside the engine). */
static gboolean
submit_evidence (CairnPlugin *self, void *ud)
{
  Pos *p = ud;
  p->evidence_timer = 0;
  for (guint i = 0; i < p->evidence_queue->len; i++) {
    Evidence *e = p->evidence_queue->pdata[i];
    g_autoptr (GError) err = NULL;
    gboolean done = FALSE;
    if (pos_staking_punished (&p->staking, NULL, e->offender, e->height, &done,
                              &err)
        && done)
      continue; /* someone's evidence is already in a block */
    g_clear_error (&err);
    gsize len;
    const uint8_t *data = g_bytes_get_data (e->evidence, &len);
    g_autofree char *hex = cairn_hex_encode (data, len);
    g_autoptr (json_t) body = json_pack ("{s:s}", "evidence", hex);
    g_autofree char *id = NULL;
    if (host->submit_tx (self, "pos.evidence", body, &id, &err))
      cairn_log (host, self, G_LOG_LEVEL_MESSAGE,
                 "pos: validator %s signed conflicting votes at height "
                 "%" G_GUINT64_FORMAT "; submitted evidence tx %s",
                 e->offender, e->height, id);
    else
      cairn_log (host, self, G_LOG_LEVEL_WARNING,
                 "pos: evidence against %s at height %" G_GUINT64_FORMAT
                 " not submitted: %s",
                 e->offender, e->height, err->message);
  }
  g_ptr_array_set_size (p->evidence_queue, 0);
  return FALSE;
}

/* Called by the engine: queue a pos.evidence tx, once per offender and
 * height (submit_tx must not run inside the engine). */
static void
env_evidence (void *ud, const uint8_t *ev, size_t len)
{
  Pos *p = ud;
  uint8_t addr[20];
  g_autoptr (GError) err = NULL;
  if (!pos_evidence_verify (p->set, p->chain_id, ev, len, env_verify, p, addr,
                            &err))
    return;
  Evidence *e = g_new0 (Evidence, 1);
  g_autofree char *who = cairn_hex_encode (addr, 20);
  g_strlcpy (e->offender, who, sizeof e->offender);
  e->height = pos_engine_height (p->engine);
  char *key = g_strdup_printf ("%s/%" G_GUINT64_FORMAT, who, e->height);
  if (g_hash_table_contains (p->evidence_seen, key)) {
    g_free (key);
    g_free (e);
    return;
  }
  if (g_hash_table_size (p->evidence_seen) >= 4096)
    g_hash_table_remove_all (p->evidence_seen);
  g_hash_table_add (p->evidence_seen, key);
  e->evidence = g_bytes_new (ev, len);
  g_ptr_array_add (p->evidence_queue, e);
  if (p->evidence_timer == 0 && p->running)
    p->evidence_timer = host->timer_add (p->self, 0, submit_evidence, p);
}

static gboolean
env_get_commit (void *ud, uint64_t height, GBytes **block, GBytes **cert)
{
  Pos *p = ud;
  g_autoptr (json_t) stored = host->block_get (p->self, height, NULL);
  if (stored == NULL)
    return FALSE;
  const char *hex = json_string_value (
      json_object_get (json_object_get (stored, "certificate"), "precommits"));
  if (hex == NULL || strlen (hex) % 2)
    return FALSE;
  gsize n = strlen (hex) / 2;
  g_autofree uint8_t *raw = g_malloc (MAX (n, 1));
  if (!cairn_hex_decode (hex, raw, n))
    return FALSE;
  /* The block as proposed: the stored object without its certificate. */
  json_object_del (stored, "certificate");
  size_t len;
  char *text = host->json_canonical (stored, &len, NULL);
  if (text == NULL)
    return FALSE;
  *block = g_bytes_new_take (text, len);
  *cert = g_bytes_new_take (g_steal_pointer (&raw), n);
  return TRUE;
}

/* ---- consensus interface ------------------------------------------------- */

static gboolean
start_next_height (CairnPlugin *self, void *ud)
{
  Pos *p = ud;
  p->start_timer = 0;
  if (!p->running)
    return FALSE;
  uint64_t next = host->chain_head (self)->height + 1;
  if (pos_engine_height (p->engine) == next)
    return FALSE;
  discard_pending (p);
  wal_reset (p);
  g_autoptr (GError) err = NULL;
  if (!load_engine_set (p, next, &err)) {
    cairn_log (host, self, G_LOG_LEVEL_CRITICAL, "%s", err->message);
    return FALSE;
  }
  pos_engine_start_height (p->engine, next, p->set);
  publish_metrics (p);
  return FALSE;
}

static void
pos_on_block_committed (CairnPlugin *self, const CairnBlockInfo *block)
{
  Pos *p = host->get_data (self);
  if (p && p->running) {
    publish_metrics (p);
    schedule_next_height (p, FALSE);
  }
}

static void
pos_on_txs_available (CairnPlugin *self)
{
  Pos *p = host->get_data (self);
  if (p && p->running && p->start_timer)
    schedule_next_height (p, TRUE);
}

static void
pos_on_peer_message (CairnPlugin *self, const char *peer, const void *data,
                     size_t len)
{
  Pos *p = host->get_data (self);
  if (p == NULL || !p->running)
    return;
  g_autoptr (GError) err = NULL;
  if (!pos_engine_receive (p->engine, data, len, &err))
    cairn_log (host, self, G_LOG_LEVEL_DEBUG, "pos: message from %s: %s", peer,
               err->message);
}

/* A certificate's precommits (raw), the block id and the validator set of
 * its height, for checking or listing it. */
typedef struct {
  uint8_t *raw;
  gsize len;
  uint8_t id[32];
  PosValidatorSet *set;
} CertParts;

static void
cert_parts_clear (CertParts *c)
{
  g_free (c->raw);
  if (c->set)
    pos_validator_set_unref (c->set);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CertParts, cert_parts_clear)

static gboolean
cert_parts (Pos *p, const CairnBlockInfo *block, const json_t *cert,
            CertParts *c, GError **error)
{
  const char *type = json_string_value (json_object_get (cert, "type"));
  const char *hex = json_string_value (json_object_get (cert, "precommits"));
  if (g_strcmp0 (type, "pos") != 0 || hex == NULL || strlen (hex) % 2) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos: block %" G_GUINT64_FORMAT ": certificate.%s is missing "
                 "or malformed",
                 block->height,
                 g_strcmp0 (type, "pos") ? "type" : "precommits");
    return FALSE;
  }
  c->len = strlen (hex) / 2;
  c->raw = g_malloc (MAX (c->len, 1));
  if (!cairn_hex_decode (hex, c->raw, c->len) || !id_from_info (block, c->id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "pos: block %" G_GUINT64_FORMAT
                 ": certificate.precommits is not hex",
                 block->height);
    return FALSE;
  }
  /* The set of that height, from the set history in state. */
  c->set = set_for_height (p, block->height, NULL, error);
  return c->set != NULL;
}

static gboolean
pos_verify_certificate (CairnPlugin *self, const CairnBlockInfo *block,
                        const json_t *cert, GError **error)
{
  Pos *p = host->get_data (self);
  g_auto (CertParts) c = { 0 };
  return cert_parts (p, block, cert, &c, error)
         && pos_certificate_verify (c.set, p->chain_id, block->height, c.id,
                                    c.raw, c.len, env_verify, p, error);
}

typedef struct {
  CairnSigCheckAdd add;
  void *add_data;
} Lister;

/* A PosVerifyFn that lists the check instead of making it. */
static gboolean
list_check (void *ud, const uint8_t pubkey[32], const uint8_t *msg, size_t len,
            const uint8_t sig[64])
{
  Lister *l = ud;
  l->add (l->add_data, pubkey, POS_SIGN_DOMAIN, msg, len, sig);
  return TRUE;
}

/* The checks verify_certificate will make, with the set in force now
 * (a set change among the blocks ahead only makes those checks miss). */
static void
pos_certificate_signatures (CairnPlugin *self, const CairnBlockInfo *block,
                            const json_t *cert, CairnSigCheckAdd add,
                            void *add_data)
{
  Pos *p = host->get_data (self);
  g_auto (CertParts) c = { 0 };
  Lister l = { add, add_data };
  if (cert_parts (p, block, cert, &c, NULL))
    pos_certificate_verify (c.set, p->chain_id, block->height, c.id, c.raw,
                            c.len, list_check, &l, NULL);
}

static const CairnConsensusIface pos_iface = {
  .iface_version = CAIRN_CONSENSUS_IFACE_VERSION,
  .on_txs_available = pos_on_txs_available,
  .on_block_committed = pos_on_block_committed,
  .on_peer_message = pos_on_peer_message,
  .verify_certificate = pos_verify_certificate,
  .certificate_signatures = pos_certificate_signatures,
};

/* ---- route: GET /v1/pos/status ------------------------------------------ */

static gboolean
route_status (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *user_data, GError **error)
{
  Pos *p = host->get_data (self);
  if (p->set == NULL
      && !load_engine_set (p, host->chain_head (self)->height + 1, error))
    return FALSE;
  json_t *vals = json_array ();
  for (size_t i = 0; i < pos_validator_set_size (p->set); i++) {
    const PosValidator *v = pos_validator_set_get (p->set, i);
    json_array_append_new (vals, json_pack ("{s:s, s:I}", "address", v->address,
                                            "power", (json_int_t)v->power));
  }
  json_t *out = json_pack ("{s:o, s:I}", "validators", vals, "total_power",
                           (json_int_t)pos_validator_set_total (p->set));
  /* The kept set history: {"from": height it applies from, ...}. */
  json_t *sets = pos_staking_sets_json (&p->staking, NULL);
  if (sets != NULL)
    json_object_set_new (out, "sets", sets);
  if (p->engine) {
    static const char *const steps[]
        = { "propose", "prevote", "precommit", "rebroadcast" };
    const PosStats *st = pos_engine_stats (p->engine);
    PosStep step = pos_engine_step (p->engine);
    json_object_set_new (
        out, "engine",
        json_pack ("{s:I, s:I, s:s}", "height",
                   (json_int_t)pos_engine_height (p->engine), "round",
                   (json_int_t)pos_engine_round (p->engine), "step",
                   step <= POS_STEP_REBROADCAST ? steps[step] : "?"));
    /* Bad input never stalls the engine; it is counted here. */
    json_object_set_new (
        out, "messages",
        json_pack (
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "received",
            (json_int_t)st->received, "accepted", (json_int_t)st->accepted,
            "duplicates", (json_int_t)st->duplicates, "bad_signature",
            (json_int_t)st->bad_sig, "non_validator",
            (json_int_t)st->non_validator, "bad_height",
            (json_int_t)st->bad_height, "malformed", (json_int_t)st->malformed,
            "refused_conflict", (json_int_t)st->refused_conflict, "evidence",
            (json_int_t)st->evidence));
  }
  resp->json = out;
  return TRUE;
}

/* ---- routes: who signed which commit (the explorer) ------------------- */

#define SIGNING_MAX_BLOCKS 1000

/* The stored block's commit: {"height","round","proposer","validators":
 * [{"address","power","signed"}],"signed_power","total_power"}. */
static json_t *
commit_info (Pos *p, uint64_t height, GError **error)
{
  g_autoptr (json_t) stored = host->block_get (p->self, height, error);
  if (stored == NULL)
    return NULL;
  json_t *cert = json_object_get (stored, "certificate");
  const char *hex = json_string_value (json_object_get (cert, "precommits"));
  if (g_strcmp0 (json_string_value (json_object_get (cert, "type")), "pos") != 0
      || hex == NULL || strlen (hex) % 2) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "block %" G_GUINT64_FORMAT " has no pos commit certificate",
                 height);
    return NULL;
  }
  gsize n = strlen (hex) / 2;
  g_autofree uint8_t *raw = g_malloc (MAX (n, 1));
  g_autoptr (GArray) signers = g_array_new (FALSE, FALSE, 20);
  uint64_t h;
  uint32_t round;
  if (!cairn_hex_decode (hex, raw, n)
      || !pos_certificate_signers (raw, n, &h, &round, signers, error)) {
    g_prefix_error (error, "block %" G_GUINT64_FORMAT ": ", height);
    return NULL;
  }
  g_autoptr (PosValidatorSet) set = set_for_height (p, height, NULL, error);
  if (set == NULL)
    return NULL;
  size_t nv = pos_validator_set_size (set);
  g_autofree gboolean *did = g_new0 (gboolean, MAX (nv, 1));
  uint64_t signed_power = 0;
  for (guint i = 0; i < signers->len; i++) {
    int idx = pos_validator_set_find_raw (set, (const uint8_t *)signers->data
                                                   + 20 * (gsize)i);
    if (idx >= 0 && !did[idx]) {
      did[idx] = TRUE;
      signed_power += pos_validator_set_get (set, (size_t)idx)->power;
    }
  }
  json_t *vals = json_array ();
  for (size_t i = 0; i < nv; i++) {
    const PosValidator *v = pos_validator_set_get (set, i);
    json_array_append_new (
        vals, json_pack ("{s:s,s:I,s:b}", "address", v->address, "power",
                         (json_int_t)v->power, "signed", did[i]));
  }
  const char *proposer = json_string_value (
      json_object_get (json_object_get (stored, "header"), "proposer"));
  return json_pack ("{s:I,s:I,s:s,s:o,s:I,s:I}", "height", (json_int_t)height,
                    "round", (json_int_t)round, "proposer",
                    proposer ? proposer : "", "validators", vals,
                    "signed_power", (json_int_t)signed_power, "total_power",
                    (json_int_t)pos_validator_set_total (set));
}

/* GET /v1/pos/commits/{height|latest} */
static gboolean
route_commit (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *user_data, GError **error)
{
  Pos *p = host->get_data (self);
  uint64_t head = host->chain_head (self)->height;
  guint64 h = head;
  if (strcmp (req->path_rest, "latest") != 0
      && !g_ascii_string_to_unsigned (req->path_rest, 10, 1, head, &h, NULL))
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "GET /v1/pos/commits/{height}: '%s' is not a committed "
                       "height (1 to %" G_GUINT64_FORMAT ") or 'latest'",
                       req->path_rest, head);
  resp->json = commit_info (p, h, error);
  return resp->json != NULL;
}

/* GET /v1/pos/signing[?last=N]: blocks proposed, commits signed and
 * missed per validator over the last N (default 100, at most 1,000)
 * blocks. */
static gboolean
route_signing (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
               void *user_data, GError **error)
{
  Pos *p = host->get_data (self);
  const char *l = g_hash_table_lookup (req->query, "last");
  guint64 last = 100;
  if (l
      && !g_ascii_string_to_unsigned (l, 10, 1, SIGNING_MAX_BLOCKS, &last,
                                      NULL))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "last must be 1 to %d blocks", SIGNING_MAX_BLOCKS);
  uint64_t head = host->chain_head (self)->height;
  uint64_t from = head >= last ? head - last + 1 : 1;
  g_autoptr (json_t) per = json_object ();
  uint64_t counted = 0;
  for (uint64_t h = from; h <= head; h++) {
    g_autoptr (GError) e = NULL;
    g_autoptr (json_t) c = commit_info (p, h, &e);
    if (c == NULL)
      continue; /* e.g. a block before pos took over */
    counted++;
    const char *proposer = json_string_value (json_object_get (c, "proposer"));
    json_t *vals = json_object_get (c, "validators");
    for (size_t i = 0; i < json_array_size (vals); i++) {
      json_t *v = json_array_get (vals, i);
      const char *a = json_string_value (json_object_get (v, "address"));
      json_t *s = json_object_get (per, a);
      if (s == NULL) {
        s = json_pack ("{s:i,s:i,s:i}", "proposed", 0, "signed", 0, "missed",
                       0);
        json_object_set_new (per, a, s);
      }
      const char *k
          = json_is_true (json_object_get (v, "signed")) ? "signed" : "missed";
      json_object_set_new (
          s, k, json_integer (json_integer_value (json_object_get (s, k)) + 1));
      if (g_strcmp0 (proposer, a) == 0)
        json_object_set_new (
            s, "proposed",
            json_integer (json_integer_value (json_object_get (s, "proposed"))
                          + 1));
    }
  }
  resp->json = json_pack ("{s:I,s:I,s:I,s:O}", "from", (json_int_t)from, "to",
                          (json_int_t)head, "blocks", (json_int_t)counted,
                          "validators", per);
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------------
 */

static gboolean
config_ms (CairnPlugin *self, const char *key, uint32_t def, uint32_t *out,
           GError **error)
{
  int64_t v;
  if (!host->config_int (self, key, def, 0, 600000, &v, error))
    return FALSE;
  *out = (uint32_t)v;
  return TRUE;
}

static void pos_fini (CairnPlugin *self);

static gboolean
pos_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  Pos *p = g_new0 (Pos, 1);
  p->self = self;
  p->wal_fd = -1;
  p->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->timers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  p->evidence_seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->evidence_queue = g_ptr_array_new_with_free_func (evidence_free);
  const json_t *genesis = host->genesis (self);
  p->chain_id
      = g_strdup (json_string_value (json_object_get (genesis, "chain_id")));
  host->set_data (self, p);
  pos_config_init (&p->config, p->chain_id);
  PosConfig *c = &p->config;
  if (config_ms (self, "timeout_propose_ms", c->timeout_propose_ms,
                 &c->timeout_propose_ms, error)
      && config_ms (self, "timeout_propose_delta_ms",
                    c->timeout_propose_delta_ms, &c->timeout_propose_delta_ms,
                    error)
      && config_ms (self, "timeout_prevote_ms", c->timeout_prevote_ms,
                    &c->timeout_prevote_ms, error)
      && config_ms (self, "timeout_precommit_ms", c->timeout_precommit_ms,
                    &c->timeout_precommit_ms, error)
      && config_ms (self, "rebroadcast_ms", c->rebroadcast_ms,
                    &c->rebroadcast_ms, error)
      && config_ms (self, "block_interval_ms", 1000, &p->block_interval_ms,
                    error)
      && pos_staking_init (&p->staking, self, host, error)
      && pos_staking_check_minter (&p->staking, error)
      && host->register_consensus (self, &pos_iface, sizeof pos_iface, error)
      && host->register_route (self, "GET", "/v1/pos/status", route_status,
                               NULL, error)
      && host->register_route (self, "GET", "/v1/pos/commits/", route_commit,
                               NULL, error)
      && host->register_route (self, "GET", "/v1/pos/signing", route_signing,
                               NULL, error))
    return TRUE;
  pos_fini (self); /* a plugin whose init fails is not fini'd */
  return FALSE;
}

static gboolean
pos_start (CairnPlugin *self, GError **error)
{
  Pos *p = host->get_data (self);
  static const PosEnv env_template = {
    .sign = env_sign,
    .verify = env_verify,
    .get_proposal = env_get_proposal,
    .validate = env_validate,
    .broadcast = env_broadcast,
    .schedule_timeout = env_schedule_timeout,
    .wal_append = env_wal_append,
    .commit = env_commit,
    .evidence = env_evidence,
    .get_commit = env_get_commit,
  };
  PosEnv env = env_template;
  env.user_data = p;
  uint64_t next = host->chain_head (self)->height + 1;
  PosParams params; /* read once here: checks them and caches them */
  if (!pos_staking_params (&p->staking, NULL, &params, error)
      || !load_engine_set (p, next, error) || !wal_open (p, error))
    return FALSE;
  /* The engine finds the node in each height's set (or observes). */
  const char *me = host->node_address (self);
  p->engine = pos_engine_new (&p->config, &env, me, error);
  if (p->engine == NULL)
    return FALSE;
  p->running = TRUE;
  pos_engine_prepare_height (p->engine, next, p->set);
  wal_replay (p);
  pos_engine_start_height (p->engine, next, NULL);
  cairn_log (
      host, self, G_LOG_LEVEL_INFO,
      "pos: %s at height %" G_GUINT64_FORMAT ", %zu validators, total "
      "stake %" G_GUINT64_FORMAT,
      pos_validator_set_find (p->set, me) >= 0 ? "validator" : "observer", next,
      pos_validator_set_size (p->set), pos_validator_set_total (p->set));
  publish_metrics (p);
  p->metrics_timer = host->timer_add (self, 1000, metrics_tick, p);
  return TRUE;
}

static void
pos_stop (CairnPlugin *self)
{
  Pos *p = host->get_data (self);
  if (p == NULL)
    return;
  p->running = FALSE;
  if (p->start_timer)
    host->timer_remove (self, p->start_timer);
  p->start_timer = 0;
  if (p->evidence_timer)
    host->timer_remove (self, p->evidence_timer);
  p->evidence_timer = 0;
  if (p->metrics_timer)
    host->timer_remove (self, p->metrics_timer);
  p->metrics_timer = 0;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, p->timers);
  while (g_hash_table_iter_next (&it, &k, NULL)) {
    host->timer_remove (self, GPOINTER_TO_UINT (k));
    g_hash_table_iter_remove (&it);
  }
}

static void
pos_fini (CairnPlugin *self)
{
  Pos *p = host->get_data (self);
  if (p == NULL)
    return;
  pos_stop (self);
  discard_pending (p);
  g_hash_table_destroy (p->pending);
  g_hash_table_destroy (p->timers);
  if (p->engine)
    pos_engine_free (p->engine);
  if (p->set)
    pos_validator_set_unref (p->set);
  g_free (p->set_text);
  g_hash_table_destroy (p->evidence_seen);
  g_ptr_array_unref (p->evidence_queue);
  if (p->wal_fd >= 0)
    close (p->wal_fd);
  g_free (p->wal_path);
  g_free (p->chain_id);
  g_free (p);
  host->set_data (self, NULL);
}

static const CairnServiceRef pos_requires[] = {
  { CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (pos, .id = "pos", .version = "0.2.0", .vendor = "Cairn",
                     .license = "Apache-2.0",
                     .description = "Proof-of-stake BFT consensus with "
                                    "on-chain staking, slashing and rewards",
                     .kinds = CAIRN_KIND_CONSENSUS | CAIRN_KIND_APP,
                     .requires = pos_requires, .init = pos_init,
                     .start = pos_start, .stop = pos_stop, .fini = pos_fini)

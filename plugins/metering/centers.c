/* metering: the data-processing center — reading intake, and the protocol
 * by which centers agree on what to sign and make a threshold signature
 * (README.md, "Centers: agreeing and signing").
 *
 * One signing session = one payload (an aggregate, an instruction to the
 * financial terminal, or a voucher from it), one coordinator. Messages
 * are canonical JSON over direct P2P messages:
 *
 *   coordinator -> members  {"m":"propose","s","kind","payload","readings"?}
 *   member -> coordinator   {"m":"ok","s","commitment"} (FROST round 1)
 *                           {"m":"ok","s","pubkey","sig"} (multisig)
 *                           {"m":"refuse","s","reason","readings"?}
 *   coordinator -> signers  {"m":"sign","s","commitments"} (FROST round 2)
 *   member -> coordinator   {"m":"share","s","share"}
 *   center -> centers       {"m":"reading","reading"} (intake forwarding)
 *
 * A member checks every payload against the chain head and its own data
 * before it commits to sign: it recomputes an aggregate from the readings
 * (and refuses one that lacks a reading it holds, sending that reading
 * back), checks an instruction against the open settlement or requested
 * withdrawal, and a voucher as the chain would take it. */
#define _DEFAULT_SOURCE /* explicit_bzero */
#include <string.h>
#include <sys/stat.h>

#include "metering.h"

#define TICK_MS 500
#define SESSION_MS 10000
#define MEMBER_SESSION_MS 30000
#define BACKOFF_MS 2000
#define MAX_FAULTS 100
#define MAX_INTAKE 256

typedef struct Session Session;
typedef void (*SessionDone) (Meter *m, Session *s, json_t *proof);

struct Session {
  char id[33];
  char *key; /* what it signs for: "agg/<t>/<p>", "ins/<id>", "ack/<hash>" */
  char kind[16];
  const char *domain;
  json_t *payload;
  json_t *readings; /* aggregate sessions: what the payload was made from */
  json_t *group;    /* the center group when it started */
  char *msg;        /* domain "\0" canonical payload: what FROST signs */
  size_t msg_len;
  int64_t started_ms;
  SessionDone done;
  /* coordinator */
  GHashTable *oks;     /* member address -> json (commitment or sig) */
  GHashTable *shares;  /* member address -> share hex */
  GPtrArray *signers;  /* round 2: addresses (with this node) */
  json_t *commit_list; /* round 2: the commitments sent */
  CairnFrostNonces nonces;
  gboolean round2;
  /* member */
  gboolean member;
  char coordinator[41];
  CairnFrostCommitment my_commitment;
};

struct MeterCenters {
  guint tick;
  GHashTable *sessions;   /* id -> Session (coordinator and member) */
  GHashTable *active;     /* key -> id of this node's coordinator session */
  GHashTable *backoff;    /* key -> retry-after (ms, boxed int64) */
  GHashTable *first_seen; /* key -> ms this node first saw the work */
  GHashTable *at_finance; /* instruction id -> TRUE while awaiting it */
  json_t *faults;         /* array, newest last, at most MAX_FAULTS */
  /* FROST share, loaded on first use */
  gboolean share_loaded;
  guint16 identifier;
  uint8_t share[32];
  uint8_t group_pubkey[32];
  uint64_t disagreements, proofs_submitted;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t
now_ms (Meter *m)
{
  return meter_host->now_ms (m->self);
}

static void
session_free (Session *s)
{
  g_free (s->key);
  json_decref (s->payload);
  json_decref (s->readings);
  json_decref (s->group);
  g_free (s->msg);
  if (s->oks)
    g_hash_table_destroy (s->oks);
  if (s->shares)
    g_hash_table_destroy (s->shares);
  if (s->signers)
    g_ptr_array_unref (s->signers);
  json_decref (s->commit_list);
  explicit_bzero (&s->nonces, sizeof s->nonces);
  g_free (s);
}

static void
send_json (Meter *m, const char *peer, json_t *msg)
{
  size_t len;
  g_autofree char *text = meter_canonical (msg, &len);
  json_decref (msg);
  GError *e = NULL;
  if (!meter_host->direct_send (m->self, peer, text, len, &e)) {
    g_debug ("metering: to %.12s...: %s", peer, e->message);
    g_error_free (e);
  }
}

static gboolean
in_group (const json_t *group, const char *addr, guint *index)
{
  json_t *members = json_object_get (group, "members");
  for (size_t i = 0; i < json_array_size (members); i++)
    if (g_strcmp0 (mtr_str (json_array_get (members, i), "address"), addr)
        == 0) {
      if (index)
        *index = (guint)i;
      return TRUE;
    }
  return FALSE;
}

static json_t *
member_of (const json_t *group, const char *addr)
{
  guint i;
  return in_group (group, addr, &i)
             ? json_array_get (json_object_get (group, "members"), i)
             : NULL;
}

static gboolean
is_frost (const json_t *group)
{
  return g_strcmp0 (mtr_str (group, "scheme"), "frost") == 0;
}

static void
record_fault (Meter *m, const char *center, const char *what, const char *key,
              const char *reason)
{
  MeterCenters *c = m->centers;
  c->disagreements++;
  g_warning ("metering: center %s: %s (%s): %s", center, what, key, reason);
  json_array_append_new (
      c->faults,
      json_pack ("{s:I,s:s,s:s,s:s,s:s}", "time_ms", (json_int_t)now_ms (m),
                 "center", center, "what", what, "key", key, "reason", reason));
  while (json_array_size (c->faults) > MAX_FAULTS)
    json_array_remove (c->faults, 0);
  meter_host->metric_set (m->self, "metering_disagreements_total",
                          "Payloads this center refused or saw refused "
                          "because centers disagreed",
                          (int64_t)c->disagreements, NULL);
}

/* The FROST share file (relative paths: the plugin's data dir). */
static gboolean
load_share (Meter *m, const json_t *group, GError **error)
{
  MeterCenters *c = m->centers;
  if (!c->share_loaded) {
    g_autofree char *path
        = g_path_is_absolute (m->share_file)
              ? g_strdup (m->share_file)
              : g_build_filename (meter_host->data_dir (m->self), m->share_file,
                                  NULL);
    struct stat st;
    if (stat (path, &st) != 0)
      return cairn_fail (error, CAIRN_ERROR_CONFIG,
                         "metering: the FROST share file %s is missing (the "
                         "dealer's share-<address>.json for this center)",
                         path);
    if (st.st_mode & 077)
      return cairn_fail (error, CAIRN_ERROR_CONFIG,
                         "metering: %s is readable by others (mode %o): "
                         "chmod 600 it",
                         path, (unsigned)(st.st_mode & 0777));
    gchar *text = NULL;
    gsize len;
    if (!g_file_get_contents (path, &text, &len, error))
      return FALSE;
    g_autoptr (json_t) j = json_loadb (text, len, 0, NULL);
    explicit_bzero (text, len);
    g_free (text);
    const char *kind = mtr_str (j, "kind"), *share = mtr_str (j, "share");
    const char *gp = mtr_str (j, "group_pubkey");
    json_int_t ident = mtr_int (j, "identifier");
    if (g_strcmp0 (kind, "cairn-frost-share") != 0 || share == NULL
        || gp == NULL || ident < 1 || ident > CAIRN_THRESHOLD_MAX_PARTICIPANTS
        || !cairn_hex_decode (share, c->share, 32)
        || !cairn_hex_decode (gp, c->group_pubkey, 32)
        || g_strcmp0 (mtr_str (j, "address"), m->addr) != 0)
      return cairn_fail (error, CAIRN_ERROR_CONFIG,
                         "metering: %s is not this center's FROST share file "
                         "(kind cairn-frost-share, identifier, share, "
                         "group_pubkey, address %s)",
                         path, m->addr);
    c->identifier = (guint16)ident;
    c->share_loaded = TRUE;
  }
  /* It must be this group's share: the key and our verifying share. */
  guint idx;
  uint8_t gp[32], vs[32], mine[32];
  if (!in_group (group, m->addr, &idx)
      || !cairn_hex_decode (mtr_str (group, "group_pubkey"), gp, 32)
      || memcmp (gp, c->group_pubkey, 32) != 0 || idx + 1 != c->identifier)
    return cairn_fail (error, CAIRN_ERROR_CONFIG,
                       "metering: the FROST share file is not for center "
                       "group version %" JSON_INTEGER_FORMAT " (group key or "
                       "identifier differ): install this center's new share",
                       mtr_int (group, "version"));
  json_t *me = member_of (group, m->addr);
  if (!cairn_hex_decode (mtr_str (me, "verifying_share"), vs, 32)
      || !m->threshold->frost_verifying_share (c->share, mine, error)
      || memcmp (vs, mine, 32) != 0)
    return cairn_fail (error, CAIRN_ERROR_CONFIG,
                       "metering: this center's FROST share does not match "
                       "its verifying share on chain");
  return TRUE;
}

static json_t *
commitment_json (const CairnFrostCommitment *cm)
{
  g_autofree char *h = cairn_hex_encode (cm->hiding, 32);
  g_autofree char *b = cairn_hex_encode (cm->binding, 32);
  return json_pack ("{s:i,s:s,s:s}", "identifier", (int)cm->identifier,
                    "hiding", h, "binding", b);
}

static gboolean
commitment_parse (const json_t *j, CairnFrostCommitment *cm)
{
  json_int_t id = mtr_int (j, "identifier");
  if (id < 1 || id > CAIRN_THRESHOLD_MAX_PARTICIPANTS)
    return FALSE;
  cm->identifier = (guint16)id;
  return cairn_hex_lower_valid (mtr_str (j, "hiding"), 32)
         && cairn_hex_lower_valid (mtr_str (j, "binding"), 32)
         && cairn_hex_decode (mtr_str (j, "hiding"), cm->hiding, 32)
         && cairn_hex_decode (mtr_str (j, "binding"), cm->binding, 32);
}

/* Round 1 for this node: a commitment (FROST) or its signature (multisig),
 * as the JSON an "ok" carries. */
static json_t *
my_contribution (Meter *m, Session *s, GError **error)
{
  if (is_frost (s->group)) {
    CairnFrostCommitment cm;
    if (!load_share (m, s->group, error)
        || !m->threshold->frost_commit (
            m->centers->identifier, m->centers->share, &s->nonces, &cm, error))
      return NULL;
    s->my_commitment = cm;
    return json_pack ("{s:o}", "commitment", commitment_json (&cm));
  }
  size_t len;
  g_autofree char *text = meter_canonical (s->payload, &len);
  uint8_t sig[64], pub[32];
  if (!meter_host->node_sign (m->self, s->domain, text, len, sig, error))
    return NULL;
  meter_host->node_pubkey (m->self, pub);
  g_autofree char *sh = cairn_hex_encode (sig, 64);
  g_autofree char *ph = cairn_hex_encode (pub, 32);
  return json_pack ("{s:s,s:s}", "pubkey", ph, "sig", sh);
}

static const char *
domain_of (const char *kind)
{
  if (strcmp (kind, "aggregate") == 0)
    return METER_DOMAIN_AGGREGATE;
  if (strcmp (kind, "instruction") == 0)
    return METER_DOMAIN_INSTRUCTION;
  if (strcmp (kind, "voucher") == 0)
    return METER_DOMAIN_VOUCHER_ACK;
  return NULL;
}

static Session *
session_new (Meter *m, const char *id, const char *kind, const json_t *payload,
             const json_t *group)
{
  Session *s = g_new0 (Session, 1);
  if (id)
    g_strlcpy (s->id, id, sizeof s->id);
  else {
    uint8_t r[16];
    for (guint i = 0; i < 4; i++) {
      guint32 v = g_random_int ();
      memcpy (r + 4 * i, &v, 4);
    }
    g_autofree char *h = cairn_hex_encode (r, 16);
    g_strlcpy (s->id, h, sizeof s->id);
  }
  g_strlcpy (s->kind, kind, sizeof s->kind);
  s->domain = domain_of (kind);
  s->payload = json_deep_copy (payload);
  s->group = json_deep_copy (group);
  size_t len;
  g_autofree char *text = meter_canonical (payload, &len);
  size_t dlen = strlen (s->domain) + 1;
  s->msg_len = dlen + len;
  s->msg = g_malloc (s->msg_len);
  memcpy (s->msg, s->domain, dlen);
  memcpy (s->msg + dlen, text, len);
  s->started_ms = now_ms (m);
  return s;
}

/* ---- payload checks (what a member verifies before it signs) ----------- */

/* The readings this node holds for terminal/period (private store). */
typedef struct {
  json_t *out;
} ReadingList;

static gboolean
collect_reading (const char *key, const uint8_t *value, size_t len, void *ud)
{
  json_t *r = json_loadb ((const char *)value, len, 0, NULL);
  if (r != NULL)
    json_array_append_new (((ReadingList *)ud)->out, r);
  return TRUE;
}

static json_t *
held_readings (Meter *m, const char *terminal, json_int_t period)
{
  g_autofree char *prefix = mtr_seq_key ("r", terminal, (uint64_t)period);
  char p[METER_KEYBUF];
  g_snprintf (p, sizeof p, "%s/", prefix);
  ReadingList l = { json_array () };
  GError *e = NULL;
  if (!meter_host->private_iter (m->self, p, collect_reading, &l, &e)) {
    g_warning ("metering: reading the held readings of %s: %s", terminal,
               e->message);
    g_error_free (e);
  }
  return l.out;
}

/* Store a checked reading; TRUE when it is new. */
static gboolean
store_reading (Meter *m, const json_t *r, GError **error)
{
  char id[65];
  meter_hash_hex (r, id);
  g_autofree char *prefix = mtr_seq_key ("r", mtr_str (r, "terminal"),
                                         (uint64_t)mtr_int (r, "period"));
  g_autofree char *k = g_strdup_printf ("%s/%s", prefix, id);
  g_autoptr (GBytes) old = meter_host->private_get (m->self, k, NULL);
  if (old != NULL)
    return FALSE;
  g_autoptr (json_t) held
      = held_readings (m, mtr_str (r, "terminal"), mtr_int (r, "period"));
  if (json_array_size (held) >= METER_MAX_READINGS) {
    cairn_fail (error, CAIRN_ERROR_CONFLICT,
                "reading: terminal %s already has %d readings for period "
                "%" JSON_INTEGER_FORMAT,
                mtr_str (r, "terminal"), METER_MAX_READINGS,
                mtr_int (r, "period"));
    return FALSE;
  }
  size_t len;
  g_autofree char *text = meter_canonical (r, &len);
  return meter_host->private_put (m->self, k, text, len, error);
}

/* The aggregate this node computes for terminal/period from readings. */
static json_t *
compute_aggregate (Meter *m, const json_t *group, const char *terminal,
                   json_int_t period, const json_t *readings, GError **error)
{
  size_t n = json_array_size (readings);
  g_autofree json_t **rs = g_new0 (json_t *, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    rs[i] = json_array_get (readings, i);
  const CairnChainHead *head = meter_host->chain_head (m->self);
  json_t *agg
      = meter_aggregate (head->chain_id, terminal, period,
                         mtr_int (group, "version"), rs, (guint)n, error);
  if (agg != NULL && m->debug_lie_cpu_ms != 0) {
    json_t *u = json_object_get (agg, "usage");
    json_object_set_new (
        u, "cpu_ms",
        json_integer (mtr_int (u, "cpu_ms") + m->debug_lie_cpu_ms));
  }
  return agg;
}

/* Member check of an aggregate proposal; on a missing reading, *mine gets
 * the readings this node holds that the proposal lacks. */
static gboolean
check_aggregate (Meter *m, const json_t *group, const json_t *payload,
                 const json_t *readings, json_t **mine, GError **error)
{
  if (!meter_aggregate_check (payload, error))
    return FALSE;
  if (!json_is_array (readings)
      || json_array_size (readings) > METER_MAX_READINGS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "the proposal's readings are not an array of at most "
                       "%d",
                       METER_MAX_READINGS);
  const char *terminal = mtr_str (payload, "terminal");
  json_int_t period = mtr_int (payload, "period");
  g_autoptr (json_t) params = mtr_params (m, NULL, error);
  if (params == NULL)
    return FALSE;
  g_autoptr (json_t) term = mtr_terminal (m, NULL, terminal, error);
  if (term == NULL)
    return FALSE;
  if (period != mtr_int (term, "next_period")
      || period >= mtr_period_of (params, now_ms (m)))
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "period %" JSON_INTEGER_FORMAT " of %s is not the next "
                       "closed one to prove here",
                       period, terminal);
  for (size_t i = 0; i < json_array_size (readings); i++) {
    json_t *r = json_array_get (readings, i);
    /* Periods before now are acceptable; the reading's own period must be
     * this one. */
    if (!mtr_reading_acceptable (m, NULL, r, now_ms (m), error))
      return FALSE;
  }
  /* Everything we hold must be in it. */
  g_autoptr (json_t) held = held_readings (m, terminal, period);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  json_t *pids = json_object_get (payload, "readings");
  for (size_t i = 0; i < json_array_size (pids); i++)
    g_hash_table_add (ids,
                      (gpointer)json_string_value (json_array_get (pids, i)));
  json_t *missing = json_array ();
  for (size_t i = 0; i < json_array_size (held); i++) {
    char id[65];
    meter_hash_hex (json_array_get (held, i), id);
    if (!g_hash_table_contains (ids, id))
      json_array_append (missing, json_array_get (held, i));
  }
  if (json_array_size (missing) > 0) {
    *mine = missing;
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "the proposal lacks %zu reading(s) this center holds "
                       "for %s period %" JSON_INTEGER_FORMAT,
                       json_array_size (missing), terminal, period);
  }
  json_decref (missing);
  g_autoptr (json_t) ours
      = compute_aggregate (m, group, terminal, period, readings, error);
  if (ours == NULL)
    return FALSE;
  g_autofree char *a = meter_canonical (ours, NULL);
  g_autofree char *b = meter_canonical (payload, NULL);
  if (strcmp (a, b) != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "the aggregate differs from the one this center "
                       "computes from the same readings (ours %s)",
                       a);
  return TRUE;
}

/* The instruction for a pending settlement or withdrawal record. */
static json_t *
instruction_for (const char *chain_id, const json_t *rec, gboolean stl)
{
  if (stl)
    return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "kind", "settlement",
                      "id", mtr_str (rec, "id"), "chain_id", chain_id, "from",
                      mtr_str (rec, "payer"), "to", mtr_str (rec, "payee"),
                      "amount", mtr_int (rec, "amount"), "denom",
                      mtr_str (rec, "denom"));
  return json_pack ("{s:s,s:s,s:s,s:s,s:I,s:s}", "kind", "withdrawal", "id",
                    mtr_str (rec, "id"), "chain_id", chain_id, "account",
                    mtr_str (rec, "account"), "amount", mtr_int (rec, "amount"),
                    "denom", mtr_str (rec, "denom"));
}

static gboolean
check_instruction (Meter *m, const json_t *ins, GError **error)
{
  if (!meter_instruction_check (ins, error))
    return FALSE;
  gboolean stl = strcmp (mtr_str (ins, "kind"), "settlement") == 0;
  char k[METER_KEYBUF];
  g_snprintf (k, sizeof k, "%s/%s", stl ? "stl" : "wd", mtr_str (ins, "id"));
  GError *local = NULL;
  g_autoptr (json_t) rec = mtr_get (m, NULL, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (rec == NULL
      || strcmp (mtr_str (rec, "status"), stl ? "open" : "requested") != 0)
    return cairn_fail (
        error, CAIRN_ERROR_CONFLICT, "no %s %s is pending on chain",
        stl ? "open settlement" : "requested withdrawal", mtr_str (ins, "id"));
  const CairnChainHead *head = meter_host->chain_head (m->self);
  g_autoptr (json_t) want = instruction_for (head->chain_id, rec, stl);
  if (!json_equal (want, (json_t *)ins))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "the instruction does not match the chain's record");
  return TRUE;
}

static gboolean
check_payload (Meter *m, const char *kind, const json_t *group,
               const json_t *payload, const json_t *readings, json_t **mine,
               GError **error)
{
  if (strcmp (kind, "aggregate") == 0)
    return check_aggregate (m, group, payload, readings, mine, error);
  if (strcmp (kind, "instruction") == 0)
    return check_instruction (m, payload, error);
  if (strcmp (kind, "voucher") == 0)
    return mtr_voucher_acceptable (
        m, NULL, mtr_str (payload, "kind") ? mtr_str (payload, "kind") : "?",
        payload, error);
  return cairn_fail (error, CAIRN_ERROR_INVALID, "unknown payload kind '%s'",
                     kind);
}

/* ---- coordinator -------------------------------------------------------- */

static void on_instruction_signed (Meter *m, Session *s, json_t *proof);
static void on_aggregate_signed (Meter *m, Session *s, json_t *proof);
static void on_voucher_signed (Meter *m, Session *s, json_t *proof);

static void
backoff (Meter *m, const char *key, int64_t ms)
{
  int64_t *until = g_new (int64_t, 1);
  *until = now_ms (m) + ms;
  g_hash_table_replace (m->centers->backoff, g_strdup (key), until);
}

static void
session_end (Meter *m, Session *s, gboolean failed)
{
  MeterCenters *c = m->centers;
  if (!s->member && s->key) {
    g_hash_table_remove (c->active, s->key);
    if (failed)
      backoff (m, s->key, BACKOFF_MS);
  }
  g_hash_table_remove (c->sessions, s->id); /* frees s */
}

static void
session_fail (Meter *m, Session *s, const char *why)
{
  g_message ("metering: session %s (%s): %s", s->id, s->key, why);
  session_end (m, s, TRUE);
}

/* The proof from what the session gathered. */
static void
finish (Meter *m, Session *s, json_t *proof)
{
  MeterCenters *c = m->centers;
  json_object_set_new (proof, "centers_version",
                       json_integer (mtr_int (s->group, "version")));
  GError *e = NULL;
  if (!mtr_proof_verify (m, NULL, s->domain, s->msg + strlen (s->domain) + 1,
                         s->msg_len - strlen (s->domain) - 1, proof, &e)) {
    session_fail (m, s, e->message);
    g_error_free (e);
    json_decref (proof);
    return;
  }
  c->proofs_submitted++;
  s->done (m, s, proof);
  json_decref (proof);
  session_end (m, s, FALSE);
}

static void
multisig_try_finish (Meter *m, Session *s)
{
  json_int_t t = mtr_int (s->group, "t");
  if ((json_int_t)g_hash_table_size (s->oks) < t)
    return;
  json_t *sigs = json_array ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, s->oks);
  while (g_hash_table_iter_next (&it, &k, &v))
    if ((json_int_t)json_array_size (sigs) < t)
      json_array_append (sigs, v);
  finish (m, s, json_pack ("{s:s,s:o}", "scheme", "multisig", "sigs", sigs));
}

static int
by_identifier (gconstpointer a, gconstpointer b)
{
  json_int_t x = mtr_int (*(json_t *const *)a, "identifier");
  json_int_t y = mtr_int (*(json_t *const *)b, "identifier");
  return x < y ? -1 : x > y;
}

static void
frost_round2 (Meter *m, Session *s)
{
  json_int_t t = mtr_int (s->group, "t");
  if (s->round2 || (json_int_t)g_hash_table_size (s->oks) < t)
    return;
  s->round2 = TRUE;
  /* This node and the first t-1 others by identifier. */
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, s->oks);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (strcmp (k, m->addr) != 0)
      g_ptr_array_add (all, v);
  g_ptr_array_sort (all, by_identifier);
  s->signers = g_ptr_array_new_with_free_func (g_free);
  s->commit_list = json_array ();
  g_ptr_array_add (s->signers, g_strdup (m->addr));
  json_array_append (s->commit_list, g_hash_table_lookup (s->oks, m->addr));
  for (guint i = 0; i < all->len && (json_int_t)s->signers->len < t; i++) {
    json_t *cm = all->pdata[i];
    json_array_append (s->commit_list, cm);
    g_hash_table_iter_init (&it, s->oks);
    while (g_hash_table_iter_next (&it, &k, &v))
      if (v == cm)
        g_ptr_array_add (s->signers, g_strdup (k));
  }
  for (guint i = 1; i < s->signers->len; i++)
    send_json (m, s->signers->pdata[i],
               json_pack ("{s:s,s:s,s:O}", "m", "sign", "s", s->id,
                          "commitments", s->commit_list));
  /* Our own share. */
  guint n = json_array_size (s->commit_list);
  g_autofree CairnFrostCommitment *cms = g_new0 (CairnFrostCommitment, n);
  for (guint i = 0; i < n; i++)
    commitment_parse (json_array_get (s->commit_list, i), &cms[i]);
  uint8_t share[32];
  GError *e = NULL;
  if (!m->threshold->frost_sign (m->centers->identifier, m->centers->share,
                                 m->centers->group_pubkey, &s->nonces, cms, n,
                                 s->msg, s->msg_len, share, &e)) {
    session_fail (m, s, e->message);
    g_error_free (e);
    return;
  }
  g_hash_table_replace (s->shares, g_strdup (m->addr),
                        cairn_hex_encode (share, 32));
}

static void
frost_try_finish (Meter *m, Session *s)
{
  if (!s->round2 || g_hash_table_size (s->shares) < s->signers->len)
    return;
  guint n = s->signers->len;
  g_autofree CairnFrostCommitment *cms = g_new0 (CairnFrostCommitment, n);
  g_autofree CairnFrostShare *shares = g_new0 (CairnFrostShare, n);
  for (guint i = 0; i < n; i++) {
    commitment_parse (json_array_get (s->commit_list, i), &cms[i]);
    shares[i].identifier = cms[i].identifier;
    cairn_hex_decode (g_hash_table_lookup (s->shares, s->signers->pdata[i]),
                      shares[i].share, 32);
  }
  /* Every commitment is in place: now check each share. */
  for (guint i = 0; i < n; i++) {
    const char *who = s->signers->pdata[i];
    json_t *mb = member_of (s->group, who);
    uint8_t vs[32];
    GError *e = NULL;
    if (!cairn_hex_decode (mtr_str (mb, "verifying_share"), vs, 32)
        || !m->threshold->frost_verify_share (&shares[i], vs, cms, n,
                                              m->centers->group_pubkey, s->msg,
                                              s->msg_len, &e)) {
      record_fault (m, who, "signature share", s->key,
                    e ? e->message : "no verifying share");
      g_clear_error (&e);
      session_fail (m, s, "a signature share did not verify");
      return;
    }
  }
  uint8_t sig[64];
  GError *e = NULL;
  if (!m->threshold->frost_aggregate (cms, n, shares, n,
                                      m->centers->group_pubkey, s->msg,
                                      s->msg_len, sig, &e)) {
    session_fail (m, s, e->message);
    g_error_free (e);
    return;
  }
  g_autofree char *hex = cairn_hex_encode (sig, 64);
  finish (m, s, json_pack ("{s:s,s:s}", "scheme", "frost", "sig", hex));
}

static void
coordinator_progress (Meter *m, Session *s)
{
  if (is_frost (s->group)) {
    frost_round2 (m, s);
    if (g_hash_table_contains (m->centers->sessions, s->id))
      frost_try_finish (m, s);
  } else
    multisig_try_finish (m, s);
}

/* Start coordinating `payload` under `key` (nothing when a session for it
 * runs or backs off). */
static void
coordinate (Meter *m, const char *key, const char *kind, const json_t *payload,
            const json_t *readings, SessionDone done)
{
  MeterCenters *c = m->centers;
  if (g_hash_table_contains (c->active, key))
    return;
  int64_t *until = g_hash_table_lookup (c->backoff, key);
  if (until && *until > now_ms (m))
    return;
  GError *e = NULL;
  g_autoptr (json_t) group = mtr_centers (m, NULL, &e);
  if (group == NULL || !in_group (group, m->addr, NULL)) {
    g_clear_error (&e);
    return;
  }
  Session *s = session_new (m, NULL, kind, payload, group);
  s->key = g_strdup (key);
  s->readings = readings ? json_deep_copy (readings) : NULL;
  s->done = done;
  s->oks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                  (GDestroyNotify)json_decref);
  s->shares = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (c->sessions, s->id, s);
  g_hash_table_insert (c->active, g_strdup (key), g_strdup (s->id));
  json_t *mine = my_contribution (m, s, &e);
  if (mine == NULL) {
    g_warning ("metering: cannot sign %s: %s", key, e->message);
    g_error_free (e);
    session_end (m, s, TRUE);
    return;
  }
  g_hash_table_insert (s->oks, g_strdup (m->addr),
                       is_frost (group)
                           ? json_incref (json_object_get (mine, "commitment"))
                           : json_incref (mine));
  json_decref (mine);
  json_t *members = json_object_get (group, "members");
  for (size_t i = 0; i < json_array_size (members); i++) {
    const char *a = mtr_str (json_array_get (members, i), "address");
    if (strcmp (a, m->addr) == 0)
      continue;
    json_t *msg = json_pack ("{s:s,s:s,s:s,s:O}", "m", "propose", "s", s->id,
                             "kind", kind, "payload", payload);
    if (readings)
      json_object_set (msg, "readings", (json_t *)readings);
    send_json (m, a, msg);
  }
}

static void
on_ok (Meter *m, const char *peer, Session *s, const json_t *msg)
{
  if (s->member || g_hash_table_contains (s->oks, peer) || s->round2)
    return;
  json_t *mb = member_of (s->group, peer);
  if (is_frost (s->group)) {
    CairnFrostCommitment cm;
    json_t *cj = json_object_get (msg, "commitment");
    guint idx;
    in_group (s->group, peer, &idx);
    if (!commitment_parse (cj, &cm) || cm.identifier != idx + 1) {
      record_fault (m, peer, "commitment", s->key,
                    "malformed, or not its identifier");
      return;
    }
    g_hash_table_insert (s->oks, g_strdup (peer), json_incref (cj));
  } else {
    const char *pub = mtr_str (msg, "pubkey"), *sig = mtr_str (msg, "sig");
    uint8_t p[32], sg[64];
    if (pub == NULL || sig == NULL || g_strcmp0 (pub, mtr_str (mb, "pubkey"))
        || !cairn_hex_decode (pub, p, 32) || !cairn_hex_decode (sig, sg, 64)
        || !meter_host->ed25519_verify (
            p, s->domain, s->msg + strlen (s->domain) + 1,
            s->msg_len - strlen (s->domain) - 1, sg)) {
      record_fault (m, peer, "signature", s->key,
                    "not its valid signature of the payload");
      return;
    }
    g_hash_table_insert (s->oks, g_strdup (peer),
                         json_pack ("{s:s,s:s}", "pubkey", pub, "sig", sig));
  }
  coordinator_progress (m, s);
}

static void
on_refuse (Meter *m, const char *peer, Session *s, const json_t *msg)
{
  if (s->member)
    return;
  const char *reason = mtr_str (msg, "reason");
  record_fault (m, peer, "refused our proposal", s->key,
                reason ? reason : "(no reason)");
  /* Readings it holds and we lack: keep the valid ones for the next try. */
  json_t *rs = json_object_get (msg, "readings");
  for (size_t i = 0; i < json_array_size (rs) && i < METER_MAX_READINGS; i++) {
    json_t *r = json_array_get (rs, i);
    GError *e = NULL;
    if (mtr_reading_acceptable (m, NULL, r, now_ms (m), &e))
      store_reading (m, r, NULL);
    g_clear_error (&e);
  }
}

static void
on_share (Meter *m, const char *peer, Session *s, const json_t *msg)
{
  if (s->member || !s->round2)
    return;
  gboolean chosen = FALSE;
  for (guint i = 0; i < s->signers->len; i++)
    chosen = chosen || strcmp (s->signers->pdata[i], peer) == 0;
  const char *sh = mtr_str (msg, "share");
  if (!chosen || sh == NULL || !cairn_hex_lower_valid (sh, 32))
    return;
  g_hash_table_replace (s->shares, g_strdup (peer), g_strdup (sh));
  frost_try_finish (m, s);
}

/* ---- member ------------------------------------------------------------- */

static void
on_propose (Meter *m, const char *peer, const json_t *msg)
{
  MeterCenters *c = m->centers;
  const char *sid = mtr_str (msg, "s"), *kind = mtr_str (msg, "kind");
  json_t *payload = json_object_get (msg, "payload");
  if (sid == NULL || strlen (sid) != 32 || kind == NULL
      || domain_of (kind) == NULL || !json_is_object (payload)
      || g_hash_table_contains (c->sessions, sid))
    return;
  GError *e = NULL;
  g_autoptr (json_t) group = mtr_centers (m, NULL, &e);
  if (group == NULL || !in_group (group, peer, NULL)
      || !in_group (group, m->addr, NULL)) {
    g_clear_error (&e);
    return;
  }
  json_t *mine = NULL;
  if (!check_payload (m, kind, group, payload,
                      json_object_get (msg, "readings"), &mine, &e)) {
    if (strcmp (kind, "aggregate") == 0 && mine == NULL)
      record_fault (m, peer, "proposed aggregate", sid, e->message);
    json_t *reply = json_pack ("{s:s,s:s,s:s}", "m", "refuse", "s", sid,
                               "reason", e->message);
    if (mine)
      json_object_set_new (reply, "readings", mine);
    send_json (m, peer, reply);
    g_error_free (e);
    return;
  }
  Session *s = session_new (m, sid, kind, payload, group);
  s->member = TRUE;
  g_strlcpy (s->coordinator, peer, sizeof s->coordinator);
  g_hash_table_insert (c->sessions, s->id, s);
  json_t *contrib = my_contribution (m, s, &e);
  if (contrib == NULL) {
    g_warning ("metering: cannot sign for %s: %s", peer, e->message);
    g_error_free (e);
    session_end (m, s, FALSE);
    return;
  }
  json_object_set_new (contrib, "m", json_string ("ok"));
  json_object_set_new (contrib, "s", json_string (sid));
  send_json (m, peer, contrib);
  if (!is_frost (group))
    session_end (m, s, FALSE); /* multisig: nothing more to do */
}

static void
on_sign (Meter *m, const char *peer, Session *s, const json_t *msg)
{
  if (!s->member || strcmp (peer, s->coordinator) != 0)
    return;
  json_t *list = json_object_get (msg, "commitments");
  guint n = json_array_size (list);
  if (n < 2 || n > CAIRN_THRESHOLD_MAX_PARTICIPANTS) {
    session_end (m, s, FALSE);
    return;
  }
  g_autofree CairnFrostCommitment *cms = g_new0 (CairnFrostCommitment, n);
  gboolean mine_there = FALSE;
  for (guint i = 0; i < n; i++) {
    if (!commitment_parse (json_array_get (list, i), &cms[i])) {
      session_end (m, s, FALSE);
      return;
    }
    if (cms[i].identifier == s->my_commitment.identifier)
      mine_there = memcmp (&cms[i], &s->my_commitment, sizeof cms[i]) == 0;
  }
  if (!mine_there) {
    record_fault (m, peer, "round 2", s->id,
                  "our commitment is missing or altered");
    session_end (m, s, FALSE);
    return;
  }
  uint8_t share[32];
  GError *e = NULL;
  gboolean ok = m->threshold->frost_sign (
      m->centers->identifier, m->centers->share, m->centers->group_pubkey,
      &s->nonces, cms, n, s->msg, s->msg_len, share, &e);
  if (ok) {
    g_autofree char *hex = cairn_hex_encode (share, 32);
    send_json (
        m, peer,
        json_pack ("{s:s,s:s,s:s}", "m", "share", "s", s->id, "share", hex));
  } else {
    g_warning ("metering: round 2 for %s: %s", peer, e->message);
    g_error_free (e);
  }
  session_end (m, s, FALSE); /* frost_sign wiped the nonces */
}

static void
on_reading (Meter *m, const char *peer, const json_t *msg)
{
  g_autoptr (json_t) group = mtr_centers (m, NULL, NULL);
  if (group == NULL || !in_group (group, peer, NULL))
    return;
  json_t *r = json_object_get (msg, "reading");
  GError *e = NULL;
  if (!mtr_reading_acceptable (m, NULL, r, now_ms (m), &e)
      || (store_reading (m, r, &e), e != NULL)) {
    g_debug ("metering: reading forwarded by %.12s...: %s", peer,
             e ? e->message : "?");
    g_clear_error (&e);
  }
}

static void
on_direct (CairnPlugin *self, const char *peer, const void *data, size_t len,
           void *ud)
{
  Meter *m = ud;
  g_autoptr (json_t) msg = json_loadb (data, len, 0, NULL);
  const char *type = mtr_str (msg, "m");
  if (type == NULL)
    return;
  if (strcmp (type, "reading") == 0) {
    on_reading (m, peer, msg);
    return;
  }
  if (strcmp (type, "propose") == 0) {
    on_propose (m, peer, msg);
    return;
  }
  const char *sid = mtr_str (msg, "s");
  Session *s = sid ? g_hash_table_lookup (m->centers->sessions, sid) : NULL;
  if (s == NULL)
    return;
  if (strcmp (type, "ok") == 0)
    on_ok (m, peer, s, msg);
  else if (strcmp (type, "refuse") == 0)
    on_refuse (m, peer, s, msg);
  else if (strcmp (type, "share") == 0)
    on_share (m, peer, s, msg);
  else if (strcmp (type, "sign") == 0)
    on_sign (m, peer, s, msg);
}

/* ---- what to do with a proof -------------------------------------------- */

static void
submit (Meter *m, const char *type, json_t *body)
{
  g_autofree char *id = NULL;
  GError *e = NULL;
  if (meter_host->submit_tx (m->self, type, body, &id, &e))
    g_info ("metering: submitted %s (tx %s)", type, id);
  else {
    g_message ("metering: %s refused: %s", type, e->message);
    g_error_free (e);
  }
  json_decref (body);
}

static void
on_aggregate_signed (Meter *m, Session *s, json_t *proof)
{
  submit (m, "metering.prove",
          json_pack ("{s:O,s:O}", "aggregate", s->payload, "proof", proof));
}

static void
start_voucher (Meter *m, const json_t *voucher)
{
  g_autofree char *vk = mtr_voucher_key (voucher);
  coordinate (m, vk, "voucher", voucher, NULL, on_voucher_signed);
}

static void
on_finance_voucher (Meter *m, const char *instruction_id, json_t *voucher,
                    const GError *error)
{
  g_hash_table_remove (m->centers->at_finance, instruction_id);
  if (voucher == NULL) {
    g_warning ("metering: financial terminal, instruction %s: %s",
               instruction_id, error->message);
    g_autofree char *key = g_strconcat ("ins/", instruction_id, NULL);
    backoff (m, key, BACKOFF_MS * 5);
    return;
  }
  GError *e = NULL;
  if (!mtr_voucher_acceptable (
          m, NULL, mtr_str (voucher, "kind") ? mtr_str (voucher, "kind") : "?",
          voucher, &e)) {
    g_warning ("metering: the financial terminal's voucher for %s: %s",
               instruction_id, e->message);
    g_error_free (e);
    return;
  }
  start_voucher (m, voucher);
}

static void
on_instruction_signed (Meter *m, Session *s, json_t *proof)
{
  const char *id = mtr_str (s->payload, "id");
  g_hash_table_add (m->centers->at_finance, g_strdup (id));
  mtr_finance_send (m, s->payload, proof, on_finance_voucher);
}

static void
on_voucher_signed (Meter *m, Session *s, json_t *proof)
{
  const char *kind = mtr_str (s->payload, "kind");
  const char *type = strcmp (kind, "settlement") == 0 ? "metering.settle"
                     : strcmp (kind, "recharge") == 0 ? "metering.recharge"
                                                      : "metering.withdrawn";
  submit (m, type,
          json_pack ("{s:O,s:O}", "voucher", s->payload, "proof", proof));
}

/* ---- finding work ------------------------------------------------------- */

static int
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

/* This center's turn to coordinate `key` at now: members sorted by
 * address, the first at sha256(key) mod n, each next one after another
 * coordinator_delay_ms from base_ms. */
static gboolean
my_turn (Meter *m, const json_t *group, const char *key, int64_t base_ms)
{
  json_t *members = json_object_get (group, "members");
  guint n = json_array_size (members);
  g_autoptr (GPtrArray) addrs = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (
        addrs, (gpointer)mtr_str (json_array_get (members, i), "address"));
  g_ptr_array_sort (addrs, cmp_str_ptr);
  guint pos = n;
  for (guint i = 0; i < n; i++)
    if (strcmp (addrs->pdata[i], m->addr) == 0)
      pos = i;
  if (pos == n)
    return FALSE;
  uint8_t d[32];
  meter_host->sha256 (key, strlen (key), d);
  guint first = (guint)(((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16
                         | (uint32_t)d[2] << 8 | d[3])
                        % n);
  guint rank = (pos + n - first) % n;
  return now_ms (m) >= base_ms + (int64_t)rank * m->coordinator_delay_ms;
}

static int64_t
first_seen (Meter *m, const char *key)
{
  int64_t *t = g_hash_table_lookup (m->centers->first_seen, key);
  if (t == NULL) {
    t = g_new (int64_t, 1);
    *t = now_ms (m);
    g_hash_table_insert (m->centers->first_seen, g_strdup (key), t);
  }
  return *t;
}

typedef struct {
  GPtrArray *keys;
} Keys;

static gboolean
collect (const char *key, const uint8_t *value, size_t len, void *ud)
{
  g_ptr_array_add (((Keys *)ud)->keys, g_strdup (key));
  return TRUE;
}

static GPtrArray *
state_keys (Meter *m, const char *prefix)
{
  Keys k = { g_ptr_array_new_with_free_func (g_free) };
  GError *e = NULL;
  if (!meter_host->state_iter (m->self, NULL, NULL, prefix, collect, &k, &e)) {
    g_warning ("metering: listing %s: %s", prefix, e->message);
    g_error_free (e);
  }
  return k.keys;
}

/* Readings of periods already proven are no longer needed. */
static void
drop_old_readings (Meter *m, const char *terminal, json_int_t next)
{
  char prefix[METER_KEYBUF];
  g_snprintf (prefix, sizeof prefix, "r/%s/", terminal);
  Keys k = { g_ptr_array_new_with_free_func (g_free) };
  meter_host->private_iter (m->self, prefix, collect, &k, NULL);
  for (guint i = 0; i < k.keys->len; i++) {
    const char *key = k.keys->pdata[i];
    guint64 p = g_ascii_strtoull (key + strlen (prefix), NULL, 10);
    if ((json_int_t)p < next)
      meter_host->private_delete (m->self, key, NULL);
  }
  g_ptr_array_unref (k.keys);
}

static void
find_aggregates (Meter *m, const json_t *group, const json_t *params)
{
  int64_t period_ms = mtr_int (params, "period_s") * 1000;
  int64_t now = now_ms (m);
  g_autoptr (GPtrArray) terms = state_keys (m, "term/");
  for (guint i = 0; i < terms->len; i++) {
    const char *tid = (const char *)terms->pdata[i] + strlen ("term/");
    g_autoptr (json_t) term = mtr_terminal (m, NULL, tid, NULL);
    if (term == NULL || !json_is_true (json_object_get (term, "active")))
      continue;
    json_int_t p = mtr_int (term, "next_period");
    drop_old_readings (m, tid, p);
    int64_t closes = (p + 1) * period_ms + m->grace_ms;
    if (now < closes)
      continue;
    char key[METER_KEYBUF];
    g_snprintf (key, sizeof key, "agg/%s/%" JSON_INTEGER_FORMAT, tid, p);
    if (!my_turn (m, group, key, closes))
      continue;
    g_autoptr (json_t) readings = held_readings (m, tid, p);
    GError *e = NULL;
    g_autoptr (json_t) agg = compute_aggregate (m, group, tid, p, readings, &e);
    if (agg == NULL) {
      g_warning ("metering: aggregate of %s period %" JSON_INTEGER_FORMAT
                 ": %s",
                 tid, p, e->message);
      g_error_free (e);
      continue;
    }
    coordinate (m, key, "aggregate", agg, readings, on_aggregate_signed);
  }
}

static void
find_instructions (Meter *m, const json_t *group, gboolean stl)
{
  g_autoptr (GPtrArray) keys
      = state_keys (m, stl ? "pending/stl/" : "pending/wd/");
  const CairnChainHead *head = meter_host->chain_head (m->self);
  for (guint i = 0; i < keys->len; i++) {
    const char *id = strrchr (keys->pdata[i], '/') + 1;
    if (g_hash_table_contains (m->centers->at_finance, id))
      continue;
    char k[METER_KEYBUF];
    g_snprintf (k, sizeof k, "ins/%s", id);
    if (!my_turn (m, group, k, first_seen (m, k)))
      continue;
    char rk[METER_KEYBUF];
    g_snprintf (rk, sizeof rk, "%s/%s", stl ? "stl" : "wd", id);
    g_autoptr (json_t) rec = mtr_get (m, NULL, rk, NULL);
    if (rec == NULL)
      continue;
    g_autoptr (json_t) ins = instruction_for (head->chain_id, rec, stl);
    coordinate (m, k, "instruction", ins, NULL, on_instruction_signed);
  }
}

static gboolean
tick (CairnPlugin *self, void *ud)
{
  Meter *m = ud;
  MeterCenters *c = m->centers;
  int64_t now = now_ms (m);
  /* Expire sessions. */
  GHashTableIter it;
  gpointer k, v;
  g_autoptr (GPtrArray) old = g_ptr_array_new ();
  g_hash_table_iter_init (&it, c->sessions);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    Session *s = v;
    if (now - s->started_ms > (s->member ? MEMBER_SESSION_MS : SESSION_MS))
      g_ptr_array_add (old, s);
  }
  for (guint i = 0; i < old->len; i++)
    session_fail (m, old->pdata[i], "timed out");
  g_autoptr (json_t) group = mtr_centers (m, NULL, NULL);
  g_autoptr (json_t) params = mtr_params (m, NULL, NULL);
  if (group == NULL || params == NULL || !in_group (group, m->addr, NULL))
    return TRUE;
  find_aggregates (m, group, params);
  find_instructions (m, group, TRUE);
  find_instructions (m, group, FALSE);
  meter_host->metric_set (m->self, "metering_center_sessions",
                          "Signing sessions in progress on this center",
                          (int64_t)g_hash_table_size (c->sessions), NULL);
  meter_host->metric_set (m->self, "metering_proofs_signed_total",
                          "Threshold proofs this center completed as "
                          "coordinator",
                          (int64_t)c->proofs_submitted, NULL);
  return TRUE;
}

/* ---- intake routes ------------------------------------------------------ */

static void
forward_reading (Meter *m, const json_t *r)
{
  g_autoptr (json_t) group = mtr_centers (m, NULL, NULL);
  json_t *members = json_object_get (group, "members");
  for (size_t i = 0; i < json_array_size (members); i++) {
    const char *a = mtr_str (json_array_get (members, i), "address");
    if (strcmp (a, m->addr) != 0)
      send_json (m, a, json_pack ("{s:s,s:O}", "m", "reading", "reading", r));
  }
}

static gboolean
post_readings (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
               void *ud, GError **error)
{
  Meter *m = ud;
  const json_t *body = req->body;
  gboolean one = json_is_object (body);
  if (!one && !json_is_array (body))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "body must be a reading or an array of readings");
  size_t n = one ? 1 : json_array_size (body);
  if (n == 0 || n > MAX_INTAKE)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "1 to %d readings per request", MAX_INTAKE);
  json_t *results = json_array ();
  for (size_t i = 0; i < n; i++) {
    const json_t *r = one ? body : json_array_get (body, i);
    GError *e = NULL;
    char id[65] = "";
    if (mtr_reading_acceptable (m, NULL, r, now_ms (m), &e)) {
      meter_hash_hex (r, id);
      if (store_reading (m, r, &e))
        forward_reading (m, r);
    }
    if (e != NULL && one) {
      json_decref (results);
      g_propagate_error (error, e);
      return FALSE;
    }
    json_array_append_new (results, e ? json_pack ("{s:s}", "error", e->message)
                                      : json_pack ("{s:s}", "id", id));
    g_clear_error (&e);
  }
  resp->status = 202;
  resp->json = one ? json_incref (json_array_get (results, 0))
                   : json_pack ("{s:o}", "results", json_incref (results));
  json_decref (results);
  return TRUE;
}

static gboolean
post_voucher (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *ud, GError **error)
{
  Meter *m = ud;
  const json_t *v = req->body;
  const char *kind = mtr_str (v, "kind");
  if (!mtr_voucher_acceptable (m, NULL, kind ? kind : "?", v, error))
    return FALSE;
  start_voucher (m, v);
  resp->status = 202;
  resp->json = json_pack ("{s:s,s:s}", "kind", kind, "ref", mtr_str (v, "ref"));
  return TRUE;
}

/* ---- lifecycle ---------------------------------------------------------- */

gboolean
mtr_centers_faults (Meter *m, CairnResponse *resp, GError **error)
{
  resp->json = json_pack ("{s:s,s:I,s:O}", "center", m->addr, "disagreements",
                          (json_int_t)m->centers->disagreements, "faults",
                          m->centers->faults);
  return TRUE;
}

gboolean
mtr_centers_init (Meter *m, GError **error)
{
  if (!CAIRN_HOST_HAS (meter_host, private_put)
      || !CAIRN_HOST_HAS (meter_host, direct_send))
    return cairn_fail (error, CAIRN_ERROR_NOT_IMPLEMENTED,
                       "[metering] center = true needs SDK 1.3 (private "
                       "store, direct messages)");
  MeterCenters *c = g_new0 (MeterCenters, 1);
  c->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)session_free);
  c->active = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->backoff = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->first_seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->at_finance = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c->faults = json_array ();
  m->centers = c;
  return meter_host->register_direct_handler (m->self, on_direct, m, error)
         && meter_host->register_route (
             m->self, "POST", "/v1/metering/readings", post_readings, m, error)
         && meter_host->register_route (
             m->self, "POST", "/v1/metering/vouchers", post_voucher, m, error)
         && mtr_finance_init (m, error);
}

gboolean
mtr_centers_start (Meter *m, GError **error)
{
  m->centers->tick = meter_host->timer_add (m->self, TICK_MS, tick, m);
  return TRUE;
}

void
mtr_centers_stop (Meter *m)
{
  MeterCenters *c = m->centers;
  if (c->tick) {
    meter_host->timer_remove (m->self, c->tick);
    c->tick = 0;
  }
  mtr_finance_stop (m);
}

void
mtr_centers_free (Meter *m)
{
  MeterCenters *c = m->centers;
  mtr_finance_free (m);
  g_hash_table_destroy (c->sessions);
  g_hash_table_destroy (c->active);
  g_hash_table_destroy (c->backoff);
  g_hash_table_destroy (c->first_seen);
  g_hash_table_destroy (c->at_finance);
  json_decref (c->faults);
  explicit_bzero (c->share, sizeof c->share);
  g_free (c);
  m->centers = NULL;
}

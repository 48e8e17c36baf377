/* groups: getting each version's envelope to exactly its recipients.
 *
 * Direct messages (host direct_send, authenticated TLS links):
 *   'P' envelope                       push
 *   'W' group (64 hex) be64 version    want: "send me this version"
 *   'R' target (40) origin (40) inner  relay: forward to target, one hop
 * The node an envelope is uploaded to pushes it to the other recipients;
 * a recipient that lacks a version asks the other recipients for it every
 * sync_interval_ms (after an outage, a lost push, a restart). Everything
 * received is checked against the chain before it is stored, and a node
 * answers a want only for a recipient of that version. */
#include <string.h>

#include "groups.h"

#define MSG_PUSH 'P'
#define MSG_WANT 'W'
#define MSG_RELAY 'R'
#define WANT_LEN (1 + 64 + 8)
#define RELAY_HDR (1 + 40 + 40)
#define RELAY_FANOUT 3
#define WANTS_PER_TICK 32
#define REGISTER_RETRY_MS 30000

/* ---- sending ---------------------------------------------------------- */

/* Directly when there is a link to target, else through up to
 * RELAY_FANOUT connected nodes, which see only what we send (ciphertext
 * or a want). FALSE when nothing could be sent now. */
static gboolean
send_to (Groups *g, const char *target, const void *data, size_t len)
{
  g_autoptr (GError) e = NULL;
  if (grp_host->direct_send (g->self, target, data, len, &e))
    return TRUE;
  if (!g_error_matches (e, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)
      || len + RELAY_HDR > CAIRN_MAX_DIRECT
      || ((const uint8_t *)data)[0] == MSG_RELAY) {
    cairn_log (grp_host, g->self, G_LOG_LEVEL_DEBUG, "cannot send to %s: %s",
               target, e->message);
    return FALSE;
  }
  g_autofree uint8_t *buf = g_malloc (len + RELAY_HDR);
  buf[0] = MSG_RELAY;
  memcpy (buf + 1, target, 40);
  memcpy (buf + 41, g->addr, 40);
  memcpy (buf + RELAY_HDR, data, len);
  g_auto (GStrv) peers = grp_host->peer_list (g->self);
  guint sent = 0;
  for (guint i = 0; peers && peers[i] && sent < RELAY_FANOUT; i++)
    if (strcmp (peers[i], target) != 0
        && grp_host->direct_send (g->self, peers[i], buf, len + RELAY_HDR,
                                  NULL))
      sent++;
  if (sent == 0)
    cairn_log (grp_host, g->self, G_LOG_LEVEL_DEBUG,
               "no link to %s and no node to relay through", target);
  return sent > 0;
}

static gboolean
push (Groups *g, const char *target, GBytes *envelope)
{
  gsize n;
  const uint8_t *p = g_bytes_get_data (envelope, &n);
  g_autofree uint8_t *msg = g_malloc (n + 1);
  msg[0] = MSG_PUSH;
  memcpy (msg + 1, p, n);
  gboolean ok = send_to (g, target, msg, n + 1);
  g->pushes += ok;
  return ok;
}

static gboolean
want (Groups *g, const char *target, const char *group, uint64_t version)
{
  uint8_t msg[WANT_LEN];
  msg[0] = MSG_WANT;
  memcpy (msg + 1, group, 64);
  for (int i = 0; i < 8; i++)
    msg[65 + i] = (uint8_t)(version >> (56 - 8 * i));
  gboolean ok = send_to (g, target, msg, sizeof msg);
  g->wants += ok;
  return ok;
}

/* ---- the chain's record of a version ---------------------------------- */

static json_t *
version_record (Groups *g, const char *group, uint64_t version)
{
  g_autofree char *vk = grp_version_key (group, version);
  g_autofree char *k = g_strconcat ("v/", vk, NULL);
  return grp_get (g, NULL, k, NULL);
}

static gboolean
is_recipient (const json_t *rec, const char *addr)
{
  return json_object_get (json_object_get (rec, "keys"), addr) != NULL;
}

/* The envelope's commitment, keys_hash, size and recipients with their
 * keys are exactly the chain's. */
static gboolean
matches_chain (const GrpEnvelope *env, const json_t *rec, GError **error)
{
  char hex[65];
  const char *what = NULL;
  grp_hex (env->commitment, 32, hex);
  if (g_strcmp0 (hex, json_string_value (json_object_get (rec, "commitment")))
      != 0)
    what = "its commitment (SHA-256 of the ciphertext) differs: the payload "
           "was changed";
  grp_hex (env->keys_hash, 32, hex);
  if (what == NULL
      && g_strcmp0 (hex, json_string_value (json_object_get (rec, "keys_hash")))
             != 0)
    what = "its keys_hash (SHA-256 of the header) differs";
  if (what == NULL
      && (json_int_t)env->size
             != json_integer_value (json_object_get (rec, "size")))
    what = "its size differs";
  const json_t *keys = json_object_get (rec, "keys");
  if (what == NULL && env->n_recipients != json_object_size (keys))
    what = "it is wrapped for another number of members";
  for (size_t i = 0; what == NULL && i < env->n_recipients; i++) {
    grp_hex (env->recipients[i].pk, 32, hex);
    if (g_strcmp0 (hex, json_string_value (
                            json_object_get (keys, env->recipients[i].addr)))
        != 0)
      what = "a key is wrapped for a node or key the chain does not list";
  }
  if (what != NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "the envelope of group %s version %" G_GUINT64_FORMAT
                       " does not match the on-chain commitment: %s",
                       env->group, env->version, what);
  return TRUE;
}

/* ---- the private store ------------------------------------------------ */

GBytes *
grp_stored (Groups *g, const char *group, uint64_t version, GError **error)
{
  g_autofree char *vk = grp_version_key (group, version);
  g_autofree char *k = g_strconcat ("e/", vk, NULL);
  return grp_host->private_get (g->self, k, error);
}

static gboolean
have (Groups *g, const char *group, uint64_t version)
{
  g_autoptr (GBytes) b = grp_stored (g, group, version, NULL);
  return b != NULL;
}

static void
add_missing (Groups *g, const char *group, uint64_t version)
{
  g_autofree char *vk = grp_version_key (group, version);
  if (g_hash_table_contains (g->missing, vk) || have (g, group, version))
    return;
  GrpMissing *m = g_new0 (GrpMissing, 1);
  g_strlcpy (m->group, group, sizeof m->group);
  m->version = version;
  g_hash_table_insert (g->missing, g_steal_pointer (&vk), m);
}

static void
pending_add (Groups *g, const GrpEnvelope *env, const char *from)
{
  g_autofree char *vk = grp_version_key (env->group, env->version);
  size_t n = g_bytes_get_size (env->bytes);
  if (g_hash_table_contains (g->pending, vk))
    return;
  if (g->pending_bytes + n > (size_t)g->pending_max) {
    cairn_log (grp_host, g->self, G_LOG_LEVEL_INFO,
               "dropped a push of group %s version %" G_GUINT64_FORMAT
               " from %s: pending_bytes is full (it will be asked for again)",
               env->group, env->version, from);
    return;
  }
  GrpPending *p = g_new0 (GrpPending, 1);
  p->bytes = g_bytes_ref (env->bytes);
  g_strlcpy (p->from, from, sizeof p->from);
  p->since_ms = grp_host->now_ms (g->self);
  g->pending_bytes += n;
  g_hash_table_insert (g->pending, g_steal_pointer (&vk), p);
}

static void
pending_drop (Groups *g, const char *vk)
{
  GrpPending *p = g_hash_table_lookup (g->pending, vk);
  if (p != NULL) {
    g->pending_bytes -= g_bytes_get_size (p->bytes);
    g_hash_table_remove (g->pending, vk);
  }
}

gboolean
grp_accept (Groups *g, GBytes *bytes, const char *from, GError **error)
{
  GError *local = NULL;
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (bytes, &local);
  if (env == NULL) {
    g->rejected++;
    cairn_fail (error, CAIRN_ERROR_INVALID, "envelope: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  g_autoptr (json_t) rec = version_record (g, env->group, env->version);
  if (rec == NULL) {
    if (from != NULL) {
      pending_add (g, env, from);
      return TRUE;
    }
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "version %" G_GUINT64_FORMAT " of group %s is not on "
                       "chain: send its groups.publish or groups.update tx and "
                       "wait until it commits",
                       env->version, env->group);
  }
  if (!matches_chain (env, rec, error)) {
    g->rejected++;
    return FALSE;
  }
  if (!is_recipient (rec, g->addr)) {
    g->rejected++;
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "this node (%s) is not a recipient of group %s version "
                       "%" G_GUINT64_FORMAT ": it neither stores nor forwards "
                       "the envelope; give it to a member's node",
                       g->addr, env->group, env->version);
  }
  g_autofree char *vk = grp_version_key (env->group, env->version);
  pending_drop (g, vk);
  if (have (g, env->group, env->version))
    return TRUE;
  /* Readable with this node's key? A version wrapped badly by its
   * publisher is still the committed one: keep it, and say so. */
  g_autoptr (GBytes) plain = grp_open (env, g->addr, g->enc_priv, &local);
  gboolean readable = plain != NULL;
  if (!readable) {
    cairn_log (grp_host, g->self, G_LOG_LEVEL_WARNING,
               "group %s version %" G_GUINT64_FORMAT
               " matches the chain but this node cannot decrypt it: %s",
               env->group, env->version, local->message);
    g_clear_error (&local);
  }
  g_clear_pointer (&plain, g_bytes_unref);
  gsize n;
  const void *p = g_bytes_get_data (env->bytes, &n);
  g_autofree char *k = g_strconcat ("e/", vk, NULL);
  if (!grp_host->private_put (g->self, k, p, n, error))
    return FALSE;
  g->stored++;
  g_hash_table_remove (g->missing, vk);
  char commitment[65];
  grp_hex (env->commitment, 32, commitment);
  grp_host->emit_local_event (
      g->self, "groups.received",
      json_pack ("{s:s,s:I,s:s,s:I,s:s,s:b}", "group", env->group, "version",
                 (json_int_t)env->version, "commitment", commitment, "size",
                 (json_int_t)env->size, "from", from ? from : "upload",
                 "readable", readable));
  cairn_log (grp_host, g->self, G_LOG_LEVEL_INFO,
             "stored group %s version %" G_GUINT64_FORMAT " (%zu bytes, %s)",
             env->group, env->version, n, from ? from : "upload");
  if (from == NULL)
    for (size_t i = 0; i < env->n_recipients; i++)
      if (strcmp (env->recipients[i].addr, g->addr) != 0)
        push (g, env->recipients[i].addr, env->bytes);
  grp_metrics (g);
  return TRUE;
}

/* ---- receiving -------------------------------------------------------- */

static void
on_want (Groups *g, const char *requester, const char *group, uint64_t version)
{
  g_autoptr (json_t) rec = version_record (g, group, version);
  if (rec == NULL || !is_recipient (rec, requester)) {
    cairn_log (grp_host, g->self, G_LOG_LEVEL_DEBUG,
               "%s asked for group %s version %" G_GUINT64_FORMAT
               ", which is %s",
               requester, group, version,
               rec == NULL ? "not on chain here" : "not addressed to it");
    return;
  }
  g_autoptr (GBytes) env = grp_stored (g, group, version, NULL);
  if (env != NULL)
    push (g, requester, env);
}

static void
dispatch (Groups *g, const char *peer, const uint8_t *data, size_t len,
          gboolean relayed)
{
  if (len == 0)
    return;
  switch (data[0]) {
  case MSG_PUSH: {
    g_autoptr (GBytes) b = g_bytes_new (data + 1, len - 1);
    g_autoptr (GError) e = NULL;
    if (!grp_accept (g, b, peer, &e))
      cairn_log (grp_host, g->self, G_LOG_LEVEL_WARNING,
                 "refused a push from %s: %s", peer, e->message);
    return;
  }
  case MSG_WANT: {
    char group[65];
    if (len != WANT_LEN)
      return;
    memcpy (group, data + 1, 64);
    group[64] = '\0';
    if (!cairn_hex_lower_valid (group, 32))
      return;
    uint64_t version = 0;
    for (int i = 0; i < 8; i++)
      version = version << 8 | data[65 + i];
    on_want (g, peer, group, version);
    return;
  }
  case MSG_RELAY: {
    char target[41], origin[41];
    if (relayed || len <= RELAY_HDR)
      return;
    memcpy (target, data + 1, 40);
    memcpy (origin, data + 41, 40);
    target[40] = origin[40] = '\0';
    if (!grp_host->address_valid (target) || !grp_host->address_valid (origin))
      return;
    if (strcmp (target, g->addr) == 0) {
      dispatch (g, origin, data + RELAY_HDR, len - RELAY_HDR, TRUE);
    } else if (strcmp (origin, peer) == 0
               && grp_host->direct_send (g->self, target, data, len, NULL)) {
      /* One hop only, and only for the node that sent it. */
      g->relayed++;
    }
    return;
  }
  default:
    cairn_log (grp_host, g->self, G_LOG_LEVEL_DEBUG,
               "unknown message 0x%02x from %s", data[0], peer);
  }
}

void
grp_on_direct (CairnPlugin *self, const char *peer_id, const void *data,
               size_t len, void *user_data)
{
  dispatch (user_data, peer_id, data, len, FALSE);
}

/* ---- events and the timer --------------------------------------------- */

static void
on_published (CairnPlugin *self, const CairnEvent *ev, void *user_data)
{
  Groups *g = user_data;
  const char *group = json_string_value (json_object_get (ev->attrs, "group"));
  json_int_t version
      = json_integer_value (json_object_get (ev->attrs, "version"));
  const json_t *recipients = json_object_get (ev->attrs, "recipients");
  if (group == NULL || version < 1 || strcmp (ev->type, "groups.published"))
    return;
  size_t i;
  json_t *r;
  gboolean mine = FALSE;
  json_array_foreach (recipients, i, r)
  {
    mine = mine || g_strcmp0 (json_string_value (r), g->addr) == 0;
  }
  if (!mine)
    return;
  g_autofree char *vk = grp_version_key (group, (uint64_t)version);
  GrpPending *p = g_hash_table_lookup (g->pending, vk);
  if (p != NULL) {
    g_autoptr (GBytes) b = g_bytes_ref (p->bytes);
    char from[41];
    g_strlcpy (from, p->from, sizeof from);
    pending_drop (g, vk);
    g_autoptr (GError) e = NULL;
    if (!grp_accept (g, b, from, &e))
      cairn_log (grp_host, g->self, G_LOG_LEVEL_WARNING,
                 "refused an early push from %s: %s", from, e->message);
  }
  add_missing (g, group, (uint64_t)version);
}

static void
check_registration (Groups *g)
{
  int64_t now = grp_host->now_ms (g->self);
  if (!g->auto_register || now < g->register_next_ms)
    return;
  g->register_next_ms = now + REGISTER_RETRY_MS;
  g_autofree char *k = g_strconcat ("k/", g->addr, NULL);
  g_autoptr (json_t) reg = grp_get (g, NULL, k, NULL);
  if (reg != NULL) {
    if (g_strcmp0 (json_string_value (json_object_get (reg, "x25519")),
                   g->enc_pub_hex)
        != 0)
      cairn_log (grp_host, g->self, G_LOG_LEVEL_WARNING,
                 "the chain lists another encryption key for this node "
                 "than %s: versions wrapped for it cannot be read here",
                 g->enc_path);
    g->register_next_ms = INT64_MAX;
    return;
  }
  g_autoptr (json_t) body = json_pack ("{s:s}", "x25519", g->enc_pub_hex);
  g_autoptr (GError) e = NULL;
  g_autofree char *id = NULL;
  if (grp_host->submit_tx (g->self, "groups.register_key", body, &id, &e))
    cairn_log (grp_host, g->self, G_LOG_LEVEL_MESSAGE,
               "registering this node's group encryption key (tx %s)", id);
  else
    cairn_log (grp_host, g->self, G_LOG_LEVEL_WARNING,
               "cannot register this node's group encryption key yet: %s",
               e->message);
}

static gboolean
on_tick (CairnPlugin *self, void *user_data)
{
  Groups *g = user_data;
  int64_t now = grp_host->now_ms (self);
  check_registration (g);

  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, g->pending);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    GrpPending *p = value;
    if (now - p->since_ms > GRP_PENDING_TTL_MS) {
      g->pending_bytes -= g_bytes_get_size (p->bytes);
      g_hash_table_iter_remove (&it);
    }
  }

  /* Ask for what is missing, each time another recipient. */
  guint asked = 0;
  g_hash_table_iter_init (&it, g->missing);
  while (asked < WANTS_PER_TICK && g_hash_table_iter_next (&it, &key, &value)) {
    GrpMissing *m = value;
    g_autoptr (json_t) rec = version_record (g, m->group, m->version);
    const json_t *rs = json_object_get (rec, "recipients");
    size_t n = json_array_size (rs);
    if (rec == NULL || n < 2) {
      g_hash_table_iter_remove (&it);
      continue;
    }
    for (size_t t = 0; t < n; t++) {
      const char *r = json_string_value (json_array_get (rs, m->tries++ % n));
      if (strcmp (r, g->addr) != 0) {
        want (g, r, m->group, m->version);
        break;
      }
    }
    asked++;
  }
  grp_metrics (g);
  return TRUE;
}

typedef struct {
  Groups *g;
  size_t skip;
} ScanCtx;

/* "r/<me>/<id>/<version %020>" */
static gboolean
scan_cb (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  ScanCtx *c = user_data;
  const char *rest = key + c->skip;
  if (strlen (rest) != 64 + 1 + 20 || rest[64] != '/')
    return TRUE;
  char group[65];
  memcpy (group, rest, 64);
  group[64] = '\0';
  uint64_t version = g_ascii_strtoull (rest + 65, NULL, 10);
  add_missing (c->g, group, version);
  return TRUE;
}

gboolean
grp_delivery_start (Groups *g, GError **error)
{
  g_autofree char *prefix = g_strconcat ("r/", g->addr, "/", NULL);
  ScanCtx c = { g, strlen (prefix) };
  if (!grp_host->state_iter (g->self, NULL, NULL, prefix, scan_cb, &c, error))
    return FALSE;
  if (g_hash_table_size (g->missing) > 0)
    cairn_log (grp_host, g->self, G_LOG_LEVEL_INFO,
               "%u group versions to fetch from other members",
               g_hash_table_size (g->missing));
  g->sub_published
      = grp_host->subscribe (g->self, "groups.published", on_published, g);
  g->timer = grp_host->timer_add (g->self, (uint32_t)g->sync_interval_ms,
                                  on_tick, g);
  grp_metrics (g);
  return TRUE;
}

void
grp_delivery_stop (Groups *g)
{
  if (g->timer) {
    grp_host->timer_remove (g->self, g->timer);
    g->timer = 0;
  }
  if (g->sub_published) {
    grp_host->unsubscribe (g->self, g->sub_published);
    g->sub_published = 0;
  }
}

/* groups: the tx types and the genesis params. Deterministic: tx ids,
 * heights and sorted JSON only. The state layout is in groups.h. */
#include <string.h>

#include "groups.h"

#define KEYBUF 256

static gboolean
put (Groups *g, CairnTxCtx *tx, const char *key, const json_t *v,
     GError **error)
{
  return grp_host->state_put_json (g->self, tx, key, v, error);
}

static const char *
str_of (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

static gboolean
address_ok (const char *what, const char *field, const char *a, GError **error)
{
  if (!grp_host->address_valid (a))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s '%s' is not an address (40 lowercase hex)", what,
                       field, a ? a : "(null)");
  return TRUE;
}

/* ---- params ----------------------------------------------------------- */

static json_t *
default_params (void)
{
  return json_pack ("{s:I,s:I,s:s}", "max_members",
                    (json_int_t)GRP_DEFAULT_MAX_MEMBERS, "max_payload_bytes",
                    (json_int_t)GRP_DEFAULT_MAX_PAYLOAD, "regulator_role",
                    "regulator");
}

json_t *
grp_params (Groups *g, CairnTxCtx *tx, GError **error)
{
  GError *local = NULL;
  json_t *p = grp_get (g, tx, "params", &local);
  if (p != NULL)
    return p;
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  return default_params (); /* a chain that started without the plugin */
}

static json_int_t
param_int (Groups *g, CairnTxCtx *tx, const char *k)
{
  g_autoptr (json_t) p = grp_params (g, tx, NULL);
  return p ? json_integer_value (json_object_get (p, k)) : 0;
}

static gboolean
groups_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
                GError **error)
{
  Groups *g = grp_host->get_data (self);
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), GRP_ID);
  json_int_t members = GRP_DEFAULT_MAX_MEMBERS;
  json_int_t payload = GRP_DEFAULT_MAX_PAYLOAD;
  const char *role = "regulator";
  if (app != NULL
      && !cairn_unpack_strict ("genesis app_state.groups", app, error,
                               "{s?I,s?I,s?s}", "max_members", &members,
                               "max_payload_bytes", &payload, "regulator_role",
                               &role))
    return FALSE;
  if (members < 3 || members > GRP_LIMIT_MEMBERS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.groups: max_members must be 3..%d",
                       GRP_LIMIT_MEMBERS);
  if (payload < 1 || payload > GRP_LIMIT_PAYLOAD)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.groups: max_payload_bytes must be "
                       "1..%u (one direct message)",
                       GRP_LIMIT_PAYLOAD);
  if (!cairn_role_valid (role))
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "genesis app_state.groups: regulator_role must be a role "
        "name (1-32 of [a-z_])");
  g_autoptr (json_t) p
      = json_pack ("{s:I,s:I,s:s}", "max_members", members, "max_payload_bytes",
                   payload, "regulator_role", role);
  return put (g, tx, "params", p, error);
}

/* ---- keys ------------------------------------------------------------- */

/* The registered key of addr, or NULL (*error set unless it is absent). */
static json_t *
key_of (Groups *g, CairnTxCtx *tx, const char *addr, GError **error)
{
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "k/%s", addr);
  return grp_get (g, tx, k, error);
}

static gboolean
registered (Groups *g, CairnTxCtx *tx, const char *what, const char *addr,
            GError **error)
{
  GError *local = NULL;
  g_autoptr (json_t) k = key_of (g, tx, addr, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (k == NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s has no registered encryption key "
                       "(groups.register_key)",
                       what, addr);
  return TRUE;
}

static gboolean
register_key_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *pk = NULL;
  static const uint8_t zero[32];
  uint8_t raw[32];
  if (!cairn_unpack_strict ("groups.register_key", body, error, "{s:s}",
                            "x25519", &pk))
    return FALSE;
  if (!cairn_hex_lower_valid (pk, 32) || !cairn_hex_decode (pk, raw, 32)
      || memcmp (raw, zero, 32) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "groups.register_key: x25519 must be a non-zero X25519 "
                       "public key (64 lowercase hex)");
  return TRUE;
}

static gboolean
register_key_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                    GError **error)
{
  Groups *g = grp_host->get_data (self);
  const CairnTxInfo *info = grp_host->tx_info (tx);
  const char *pk = str_of (body, "x25519");
  GError *local = NULL;
  g_autoptr (json_t) old = key_of (g, tx, info->sender, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "groups.register_key: %s already has %s key %s (key "
                       "rotation is not supported yet)",
                       info->sender,
                       g_strcmp0 (str_of (old, "x25519"), pk) == 0 ? "this"
                                                                   : "another",
                       str_of (old, "x25519"));
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "k/%s", info->sender);
  g_autoptr (json_t) v = json_pack ("{s:s,s:I}", "x25519", pk, "height",
                                    (json_int_t)info->height);
  if (!put (g, tx, k, v, error))
    return FALSE;
  grp_host->emit_event (
      self, tx, "groups.key_registered",
      json_pack ("{s:s,s:s}", "address", info->sender, "x25519", pk));
  return TRUE;
}

/* ---- groups.create {"activity","receivers","regulator"} --------------- */

static gboolean
activity_ok (const char *a)
{
  size_t n = a ? strlen (a) : 0;
  if (n < 1 || n > 64)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_islower (a[i]) && !g_ascii_isdigit (a[i]) && a[i] != '.'
        && a[i] != '_' && a[i] != '-')
      return FALSE;
  return TRUE;
}

static gboolean
create_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *what = "groups.create";
  const char *activity, *regulator;
  json_t *receivers;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:o,s:s}", "activity",
                            &activity, "receivers", &receivers, "regulator",
                            &regulator))
    return FALSE;
  if (!activity_ok (activity))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: activity must be 1-64 of [a-z0-9._-]", what);
  if (!json_is_array (receivers) || json_array_size (receivers) == 0
      || json_array_size (receivers) > GRP_LIMIT_MEMBERS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: receivers must be a list of 1..%d addresses", what,
                       GRP_LIMIT_MEMBERS);
  size_t i;
  json_t *r;
  json_array_foreach (receivers, i, r)
  {
    if (!address_ok (what, "a receiver", json_string_value (r), error))
      return FALSE;
  }
  return address_ok (what, "regulator", regulator, error);
}

static gboolean
is_regulator (Groups *g, CairnTxCtx *tx, const char *addr)
{
  g_autoptr (json_t) p = grp_params (g, tx, NULL);
  const char *role = p ? str_of (p, "regulator_role") : NULL;
  return role != NULL && grp_host->has_role (g->self, tx, addr, role);
}

static gboolean
put_index (Groups *g, CairnTxCtx *tx, const char *key, GError **error)
{
  g_autoptr (json_t) empty = json_object ();
  return put (g, tx, key, empty, error);
}

static gboolean
create_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Groups *g = grp_host->get_data (self);
  const char *what = "groups.create";
  const CairnTxInfo *info = grp_host->tx_info (tx);
  const char *regulator = str_of (body, "regulator");
  const json_t *receivers = json_object_get (body, "receivers");
  g_autoptr (json_t) members = json_object ();
  json_object_set_new (members, info->sender, json_string ("initiator"));
  if (json_object_get (members, regulator) != NULL)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the regulator cannot be the initiator", what);
  json_object_set_new (members, regulator, json_string ("regulator"));
  size_t i;
  json_t *r;
  json_array_foreach (receivers, i, r)
  {
    const char *a = json_string_value (r);
    if (json_object_get (members, a) != NULL)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: %s is listed twice (initiator, receivers and "
                         "regulator are distinct nodes)",
                         what, a);
    json_object_set_new (members, a, json_string ("receiver"));
  }
  json_int_t max = param_int (g, tx, "max_members");
  if ((json_int_t)json_object_size (members) > max)
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "%s: %zu members exceed max_members %" JSON_INTEGER_FORMAT, what,
        json_object_size (members), max);
  if (!is_regulator (g, tx, regulator))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: %s does not hold the regulator role", what,
                       regulator);
  const char *a;
  json_t *role;
  json_object_foreach (members, a, role)
  {
    if (!registered (g, tx, what, a, error))
      return FALSE;
  }
  /* id = SHA-256 ("cairn.groups.id\0" || raw tx id) */
  uint8_t buf[16 + 32], digest[32];
  memcpy (buf, "cairn.groups.id", 16); /* with its NUL */
  if (!cairn_hex_decode (info->id, buf + 16, 32))
    return cairn_fail (error, CAIRN_ERROR_FAILED, "%s: bad tx id", what);
  grp_host->sha256 (buf, sizeof buf, digest);
  char id[65];
  grp_hex (digest, 32, id);

  g_autoptr (json_t) grp = json_pack (
      "{s:s,s:s,s:s,s:s,s:O,s:I,s:I,s:b,s:I,s:I,s:s}", "id", id, "activity",
      str_of (body, "activity"), "initiator", info->sender, "regulator",
      regulator, "members", members, "version", (json_int_t)0, "epoch",
      (json_int_t)0, "closed", 0, "created", (json_int_t)info->height,
      "updated", (json_int_t)info->height, "tx", info->id);
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "g/%s", id);
  if (!put (g, tx, k, grp, error))
    return FALSE;
  json_object_foreach (members, a, role)
  {
    g_snprintf (k, sizeof k, "m/%s/%s", a, id);
    if (!put_index (g, tx, k, error))
      return FALSE;
  }
  grp_host->emit_event (self, tx, "groups.created",
                        json_pack ("{s:s,s:s,s:s,s:O}", "group", id, "activity",
                                   str_of (body, "activity"), "initiator",
                                   info->sender, "members", members));
  return TRUE;
}

/* ---- the group of a tx ------------------------------------------------ */

static gboolean
group_id_ok (const char *what, const char *id, GError **error)
{
  if (!cairn_hex_lower_valid (id, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: group must be a group id (64 lowercase hex)", what);
  return TRUE;
}

/* The open group of body.group; sender must be a member. */
static json_t *
open_group (Groups *g, CairnTxCtx *tx, const char *what, const json_t *body,
            GError **error)
{
  const char *id = str_of (body, "group");
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "g/%s", id);
  GError *local = NULL;
  json_t *grp = grp_get (g, tx, k, &local);
  if (grp == NULL) {
    if (local != NULL)
      g_propagate_error (error, local);
    else
      cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "%s: unknown group %s", what,
                  id);
    return NULL;
  }
  const char *sender = grp_host->tx_info (tx)->sender;
  if (json_object_get (json_object_get (grp, "members"), sender) == NULL) {
    json_decref (grp);
    cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                "%s: %s is not a member of group %s", what, sender, id);
    return NULL;
  }
  if (json_is_true (json_object_get (grp, "closed"))) {
    json_decref (grp);
    cairn_fail (error, CAIRN_ERROR_CONFLICT, "%s: group %s is closed", what,
                id);
    return NULL;
  }
  return grp;
}

static gboolean
save_group (Groups *g, CairnTxCtx *tx, json_t *grp, GError **error)
{
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "g/%s", str_of (grp, "id"));
  json_object_set_new (
      grp, "updated",
      json_integer ((json_int_t)grp_host->tx_info (tx)->height));
  return put (g, tx, k, grp, error);
}

/* ---- groups.publish / groups.update ----------------------------------- */

static gboolean
version_check (const char *what, const json_t *body, GError **error)
{
  const char *group, *commitment, *keys_hash;
  json_int_t version, size;
  json_t *recipients;
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:I,s:s,s:s,s:I,s:o}",
                            "group", &group, "version", &version, "commitment",
                            &commitment, "keys_hash", &keys_hash, "size", &size,
                            "recipients", &recipients)
      || !group_id_ok (what, group, error))
    return FALSE;
  if (version < 1)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: version must be >= 1",
                       what);
  if (!cairn_hex_lower_valid (commitment, 32)
      || !cairn_hex_lower_valid (keys_hash, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: commitment and keys_hash must be SHA-256 digests "
                       "(64 lowercase hex)",
                       what);
  if (size < 0 || size > GRP_LIMIT_PAYLOAD)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: size %" JSON_INTEGER_FORMAT
                       " is outside 0..%u bytes",
                       what, size, GRP_LIMIT_PAYLOAD);
  if (!json_is_array (recipients) || json_array_size (recipients) == 0
      || json_array_size (recipients) > GRP_LIMIT_MEMBERS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: recipients must be a list of 1..%d addresses", what,
                       GRP_LIMIT_MEMBERS);
  const char *prev = NULL;
  size_t i;
  json_t *r;
  json_array_foreach (recipients, i, r)
  {
    const char *a = json_string_value (r);
    if (!address_ok (what, "a recipient", a, error))
      return FALSE;
    if (prev != NULL && strcmp (prev, a) >= 0)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: recipients must be sorted and unique ('%s' after "
                         "'%s')",
                         what, a, prev);
    prev = a;
  }
  return TRUE;
}

static gboolean
publish_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return version_check ("groups.publish", body, error);
}

static gboolean
update_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return version_check ("groups.update", body, error);
}

static gboolean
version_apply (Groups *g, CairnTxCtx *tx, const char *what, gboolean first,
               const json_t *body, GError **error)
{
  const CairnTxInfo *info = grp_host->tx_info (tx);
  g_autoptr (json_t) grp = open_group (g, tx, what, body, error);
  if (grp == NULL)
    return FALSE;
  const char *id = str_of (grp, "id");
  json_int_t latest = json_integer_value (json_object_get (grp, "version"));
  json_int_t version = json_integer_value (json_object_get (body, "version"));
  if (first && strcmp (info->sender, str_of (grp, "initiator")) != 0)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: only the initiator %s publishes the activity", what,
                       str_of (grp, "initiator"));
  if (first && latest != 0)
    return cairn_fail (
        error, CAIRN_ERROR_CONFLICT,
        "%s: group %s is already published (version %" JSON_INTEGER_FORMAT
        "); send groups.update",
        what, id, latest);
  if (!first && latest == 0)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: group %s has no version yet; the initiator sends "
                       "groups.publish first",
                       what, id);
  if (version != latest + 1)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: wrong version order: group %s is at version "
                       "%" JSON_INTEGER_FORMAT
                       ", so the next is %" JSON_INTEGER_FORMAT
                       ", not %" JSON_INTEGER_FORMAT,
                       what, id, latest, latest + 1, version);
  json_int_t size = json_integer_value (json_object_get (body, "size"));
  json_int_t max = param_int (g, tx, "max_payload_bytes");
  if (size > max)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: payload of %" JSON_INTEGER_FORMAT
                       " bytes exceeds max_payload_bytes %" JSON_INTEGER_FORMAT,
                       what, size, max);
  /* recipients == the current members, each with its registered key. */
  const json_t *members = json_object_get (grp, "members");
  const json_t *recipients = json_object_get (body, "recipients");
  g_autoptr (json_t) keys = json_object ();
  size_t i;
  json_t *r;
  json_array_foreach (recipients, i, r)
  {
    const char *a = json_string_value (r);
    GError *local = NULL;
    g_autoptr (json_t) k = key_of (g, tx, a, &local);
    if (local != NULL) {
      g_propagate_error (error, local);
      return FALSE;
    }
    if (json_object_get (members, a) == NULL)
      return cairn_fail (
          error, CAIRN_ERROR_INVALID,
          "%s: a key is wrapped for %s, which is not a member of "
          "group %s%s",
          what, a, id,
          k == NULL ? " and has no registered encryption key" : "");
    if (k == NULL)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: a key is wrapped for %s, which has no registered "
                         "encryption key",
                         what, a);
    json_object_set (keys, a, json_object_get (k, "x25519"));
  }
  const char *m;
  json_t *role;
  json_object_foreach ((json_t *)members, m, role)
  {
    if (json_object_get (keys, m) == NULL)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: member %s (%s) is missing from recipients: every "
                         "current member gets the key of every version",
                         what, m, json_string_value (role));
  }

  g_autoptr (json_t) rec = json_pack (
      "{s:s,s:s,s:I,s:O,s:O,s:s,s:I,s:I,s:s}", "commitment",
      str_of (body, "commitment"), "keys_hash", str_of (body, "keys_hash"),
      "size", size, "recipients", recipients, "keys", keys, "publisher",
      info->sender, "height", (json_int_t)info->height, "time",
      (json_int_t)info->time_ms, "tx", info->id);
  g_autofree char *vk = grp_version_key (id, (uint64_t)version);
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "v/%s", vk);
  if (!put (g, tx, k, rec, error))
    return FALSE;
  json_array_foreach (recipients, i, r)
  {
    g_snprintf (k, sizeof k, "r/%s/%s", json_string_value (r), vk);
    if (!put_index (g, tx, k, error))
      return FALSE;
  }
  json_object_set_new (grp, "version", json_integer (version));
  if (!save_group (g, tx, grp, error))
    return FALSE;
  grp_host->emit_event (
      g->self, tx, "groups.published",
      json_pack ("{s:s,s:I,s:s,s:I,s:O,s:s}", "group", id, "version", version,
                 "commitment", str_of (body, "commitment"), "size", size,
                 "recipients", recipients, "publisher", info->sender));
  return TRUE;
}

static gboolean
publish_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
               GError **error)
{
  return version_apply (grp_host->get_data (self), tx, "groups.publish", TRUE,
                        body, error);
}

static gboolean
update_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  return version_apply (grp_host->get_data (self), tx, "groups.update", FALSE,
                        body, error);
}

/* ---- members ---------------------------------------------------------- */

static gboolean
member_check (const char *what, const json_t *body, GError **error)
{
  const char *group, *member;
  return cairn_unpack_strict (what, body, error, "{s:s,s:s}", "group", &group,
                              "member", &member)
         && group_id_ok (what, group, error)
         && address_ok (what, "member", member, error);
}

static gboolean
add_member_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return member_check ("groups.add_member", body, error);
}

static gboolean
remove_member_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return member_check ("groups.remove_member", body, error);
}

/* add: TRUE adds, FALSE removes. */
static gboolean
member_apply (Groups *g, CairnTxCtx *tx, const char *what, gboolean add,
              const json_t *body, GError **error)
{
  const CairnTxInfo *info = grp_host->tx_info (tx);
  g_autoptr (json_t) grp = open_group (g, tx, what, body, error);
  if (grp == NULL)
    return FALSE;
  const char *id = str_of (grp, "id");
  const char *member = str_of (body, "member");
  if (strcmp (info->sender, str_of (grp, "initiator")) != 0)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: only the initiator %s changes the members", what,
                       str_of (grp, "initiator"));
  json_t *members = json_object_get (grp, "members");
  const char *role = str_of (members, member);
  char k[KEYBUF];
  g_snprintf (k, sizeof k, "m/%s/%s", member, id);
  if (add) {
    if (role != NULL)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "%s: %s is already a member (%s) of group %s", what,
                         member, role, id);
    json_int_t max = param_int (g, tx, "max_members");
    if ((json_int_t)json_object_size (members) + 1 > max)
      return cairn_fail (
          error, CAIRN_ERROR_INVALID,
          "%s: group %s is full (max_members %" JSON_INTEGER_FORMAT ")", what,
          id, max);
    if (!registered (g, tx, what, member, error))
      return FALSE;
    json_object_set_new (members, member, json_string ("receiver"));
    if (!put_index (g, tx, k, error))
      return FALSE;
  } else {
    if (role == NULL)
      return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                         "%s: %s is not a member of group %s", what, member,
                         id);
    if (strcmp (role, "receiver") != 0)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: %s is the group's %s; only receivers can be "
                         "removed",
                         what, member, role);
    size_t receivers = 0;
    const char *a;
    json_t *r;
    json_object_foreach (members, a, r)
    {
      receivers += strcmp (json_string_value (r), "receiver") == 0;
    }
    if (receivers <= 1)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: %s is the last receiver of group %s (close the "
                         "group instead)",
                         what, member, id);
    json_object_del (members, member);
    if (!grp_host->state_delete (g->self, tx, k, error))
      return FALSE;
  }
  json_int_t epoch = json_integer_value (json_object_get (grp, "epoch"));
  json_object_set_new (grp, "epoch", json_integer (epoch + 1));
  if (!save_group (g, tx, grp, error))
    return FALSE;
  grp_host->emit_event (g->self, tx,
                        add ? "groups.member_added" : "groups.member_removed",
                        json_pack ("{s:s,s:s,s:I}", "group", id, "member",
                                   member, "epoch", epoch + 1));
  return TRUE;
}

static gboolean
add_member_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                  GError **error)
{
  return member_apply (grp_host->get_data (self), tx, "groups.add_member", TRUE,
                       body, error);
}

static gboolean
remove_member_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                     GError **error)
{
  return member_apply (grp_host->get_data (self), tx, "groups.remove_member",
                       FALSE, body, error);
}

/* ---- groups.close {"group"} ------------------------------------------- */

static gboolean
close_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *group;
  return cairn_unpack_strict ("groups.close", body, error, "{s:s}", "group",
                              &group)
         && group_id_ok ("groups.close", group, error);
}

static gboolean
close_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  Groups *g = grp_host->get_data (self);
  const char *what = "groups.close";
  const char *sender = grp_host->tx_info (tx)->sender;
  g_autoptr (json_t) grp = open_group (g, tx, what, body, error);
  if (grp == NULL)
    return FALSE;
  if (strcmp (sender, str_of (grp, "initiator")) != 0
      && strcmp (sender, str_of (grp, "regulator")) != 0)
    return cairn_fail (
        error, CAIRN_ERROR_UNAUTHORIZED,
        "%s: only the initiator or the regulator closes group %s", what,
        str_of (grp, "id"));
  json_object_set_new (grp, "closed", json_true ());
  if (!save_group (g, tx, grp, error))
    return FALSE;
  grp_host->emit_event (
      self, tx, "groups.closed",
      json_pack ("{s:s,s:s}", "group", str_of (grp, "id"), "by", sender));
  return TRUE;
}

/* ---- registration ----------------------------------------------------- */

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = groups_genesis,
};

#define HANDLER(name)                                                          \
  static const CairnTxHandler name##_handler = {                               \
    .iface_version = CAIRN_TX_HANDLER_VERSION,                                 \
    .check = name##_check,                                                     \
    .apply = name##_apply,                                                     \
  }
HANDLER (register_key);
HANDLER (create);
HANDLER (publish);
HANDLER (update);
HANDLER (add_member);
HANDLER (remove_member);
HANDLER (close);

gboolean
grp_register_txs (Groups *g, GError **error)
{
  const struct {
    const char *type;
    const CairnTxHandler *h;
  } types[] = {
    { "groups.register_key", &register_key_handler },
    { "groups.create", &create_handler },
    { "groups.publish", &publish_handler },
    { "groups.update", &update_handler },
    { "groups.add_member", &add_member_handler },
    { "groups.remove_member", &remove_member_handler },
    { "groups.close", &close_handler },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (!grp_host->register_tx_type (g->self, types[i].type, types[i].h,
                                     sizeof *types[i].h, error))
      return FALSE;
  return grp_host->register_app (g->self, &app_iface, sizeof app_iface, error);
}

/* The executor: runs each tx through the handler registered for its type,
 * against a child overlay that is merged only when the handler succeeds.
 *
 * A tx whose handler fails is still part of the block: it is recorded with
 * its error, changes no app state, and consumes its nonce (so it cannot be
 * replayed). Storage failures (io/corrupt) are not tx results — they would
 * differ between nodes — so they fail the whole block instead. */
#include <string.h>

#include "cjson.h"
#include "names.h"
#include "node_private.h"
#include "watchdog.h"

static char *
nonce_key (const char *address)
{
  return g_strconcat ("core/nonce/", address, NULL);
}

uint64_t
cairn_account_nonce (CairnNode *node, CairnOverlay *ov, const char *address,
                     GError **error)
{
  g_autofree char *key = nonce_key (address);
  g_autoptr (GBytes) v = NULL;
  if (ov)
    v = cairn_overlay_get (ov, key, error);
  else {
    GError *local = NULL;
    v = node->storage.state_get (node->store, key, CAIRN_HEAD, &local);
    if (local && !g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND))
      g_propagate_error (error, local);
    else
      g_clear_error (&local);
  }
  if (v == NULL)
    return 0;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  char buf[24];
  if (len == 0 || len >= sizeof buf) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "state %s: bad nonce record", key);
    return 0;
  }
  memcpy (buf, p, len);
  buf[len] = '\0';
  guint64 n;
  if (!g_ascii_string_to_unsigned (buf, 10, 0, G_MAXUINT64, &n, NULL)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "state %s: bad nonce record '%s'", key, buf);
    return 0;
  }
  return n;
}

static void
put_nonce (CairnOverlay *ov, const char *address, uint64_t n)
{
  g_autofree char *key = nonce_key (address);
  char buf[24];
  int len = g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, n);
  g_autoptr (GBytes) b = g_bytes_new (buf, len);
  cairn_overlay_put (ov, key, b);
}

static json_t *
failure (const char *code, const char *message)
{
  return json_pack ("{s:b, s:s, s:s}", "ok", 0, "code", code, "error", message);
}

static gboolean
is_infrastructure_error (const GError *e)
{
  return e->domain == CAIRN_ERROR
         && (e->code == CAIRN_ERROR_IO || e->code == CAIRN_ERROR_CORRUPT);
}

json_t *
cairn_exec_tx (CairnNode *node, CairnOverlay *block_ov, CairnTx *tx,
               uint32_t index, const CairnExecBlock *blk)
{
  GError *err = NULL;
  uint64_t expected = cairn_account_nonce (node, block_ov, tx->from, &err);
  if (err) {
    /* Reported by the caller as a block failure. */
    json_t *r = json_pack ("{s:s}", "infrastructure_error", err->message);
    g_error_free (err);
    return r;
  }
  if (tx->nonce != expected) {
    g_autofree char *msg = g_strdup_printf (
        "nonce %" G_GUINT64_FORMAT " but account %s expects %" G_GUINT64_FORMAT,
        tx->nonce, tx->from, expected);
    return failure ("bad_nonce", msg);
  }
  put_nonce (block_ov, tx->from, expected + 1);

  TxTypeEntry *te = g_hash_table_lookup (node->tx_types, tx->type);
  if (te == NULL) {
    g_autofree char *msg
        = g_strdup_printf ("no loaded plugin handles tx type '%s'", tx->type);
    return failure ("unknown_type", msg);
  }

  g_autofree char *sender_pk = cairn_hex_encode (tx->pubkey, 32);
  CairnTxCtx ctx = {
    .node = node,
    .overlay = cairn_overlay_new (&node->state_base, block_ov),
    .info = {
      .size = sizeof (CairnTxInfo),
      .index = index,
      .id = tx->id_hex,
      .type = tx->type,
      .sender = tx->from,
      .sender_pubkey = sender_pk,
      .nonce = tx->nonce,
      .height = blk->height,
      .time_ms = blk->time_ms,
      .chain_id = node->head.chain_id,
      .proposer = blk->proposer,
    },
    .events = json_array (),
  };
  json_t *result;
  CairnPluginCall call
      = cairn_plugin_call_enter (te->plugin->desc.id, tx->type);
  gboolean applied = te->handler.apply (te->plugin, &ctx, tx->body, &err);
  cairn_plugin_call_leave (call);
  if (applied) {
    cairn_overlay_merge_into_parent (ctx.overlay);
    /* Built directly: json_pack parses its format at every tx. */
    result = json_object ();
    json_object_set_new_nocheck (result, "ok", json_true ());
    json_object_set_nocheck (result, "events", ctx.events);
  } else if (err && is_infrastructure_error (err)) {
    result = json_pack ("{s:s}", "infrastructure_error", err->message);
  } else {
    const char *code = "failed";
    if (err && err->domain == CAIRN_ERROR)
      code = cairn_error_code_name (err->code);
    result = failure (code,
                      err ? err->message : "handler failed without saying why");
  }
  g_clear_error (&err);
  json_decref (ctx.events);
  cairn_overlay_free (ctx.overlay);
  return result;
}

gboolean
cairn_exec_hooks (CairnNode *node, CairnOverlay *block_ov, gboolean begin,
                  const CairnExecBlock *blk, json_t *events, GError **error)
{
  for (guint i = 0; i < node->apps->len; i++) {
    AppEntry *a = node->apps->pdata[i];
    gboolean (*hook) (CairnPlugin *, CairnTxCtx *, GError **)
        = begin ? a->iface.begin_block : a->iface.end_block;
    if (hook == NULL)
      continue;
    CairnTxCtx ctx = {
      .node = node,
      .overlay = block_ov,
      .info = { .size = sizeof (CairnTxInfo),
                .id = "",
                .type = "",
                .sender = "",
                .sender_pubkey = "",
                .height = blk->height,
                .time_ms = blk->time_ms,
                .chain_id = node->head.chain_id,
                .proposer = blk->proposer },
      .events = json_array (),
    };
    CairnPluginCall call = cairn_plugin_call_enter (
        a->plugin->desc.id, begin ? "begin_block" : "end_block");
    gboolean ok = hook (a->plugin, &ctx, error);
    cairn_plugin_call_leave (call);
    if (ok)
      json_array_extend (events, ctx.events);
    json_decref (ctx.events);
    if (!ok) {
      g_prefix_error (error, "%s %s_block at height %" G_GUINT64_FORMAT ": ",
                      a->plugin->desc.id, begin ? "begin" : "end", blk->height);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- genesis ------------------------------------------------------------ */

static void
put_str (CairnOverlay *ov, const char *key, const char *value)
{
  g_autoptr (GBytes) b = g_bytes_new (value, strlen (value));
  cairn_overlay_put (ov, key, b);
}

static gboolean
put_json (CairnOverlay *ov, const char *key, const json_t *v, GError **error)
{
  size_t len;
  char *text = cairn_cjson_dump (v, &len, error);
  if (text == NULL)
    return FALSE;
  g_autoptr (GBytes) b = g_bytes_new_take (text, len);
  cairn_overlay_put (ov, key, b);
  return TRUE;
}

static void
grant (CairnOverlay *ov, const char *address, const char *role)
{
  g_autofree char *key = g_strdup_printf ("core/role/%s/%s", address, role);
  put_str (ov, key, "1");
}

gboolean
cairn_exec_genesis (CairnNode *node, CairnOverlay *ov, GError **error)
{
  const json_t *doc = node->genesis->doc;
  const json_t *admin = json_object_get (doc, "admin");
  if (admin && !put_json (ov, "core/admin", admin, error))
    return FALSE;
  size_t i;
  json_t *acct;
  json_array_foreach (json_object_get (doc, "accounts"), i, acct)
  {
    const char *addr = json_string_value (json_object_get (acct, "address"));
    size_t j;
    json_t *role;
    json_array_foreach (json_object_get (acct, "roles"), j, role)
        grant (ov, addr, json_string_value (role));
  }
  json_t *val;
  json_array_foreach (json_object_get (doc, "validators"), i, val) grant (
      ov, json_string_value (json_object_get (val, "address")), "validator");

  for (guint a = 0; a < node->apps->len; a++) {
    AppEntry *app = node->apps->pdata[a];
    if (app->iface.genesis == NULL)
      continue;
    CairnTxCtx ctx = {
      .node = node,
      .overlay = cairn_overlay_new (&node->state_base, ov),
      .info = { .size = sizeof (CairnTxInfo),
                .id = "",
                .type = "",
                .sender = "",
                .sender_pubkey = "",
                .height = 0,
                .time_ms = node->genesis->genesis_time,
                .chain_id = node->genesis->chain_id,
                .proposer = "" },
      .events = json_array (),
    };
    gboolean ok = app->iface.genesis (app->plugin, &ctx, doc, error);
    if (ok)
      cairn_overlay_merge_into_parent (ctx.overlay);
    cairn_overlay_free (ctx.overlay);
    json_decref (ctx.events);
    if (!ok) {
      g_prefix_error (error, "genesis of plugin %s: ", app->plugin->desc.id);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- core tx types: roles granted by the admin authority ----------------
 *
 * core.grant_role / core.revoke_role {"address","role"} from an admin
 * member. With a threshold k > 1 each member's tx adds an approval to the
 * proposal keyed by the hash of the action; the k-th approval applies it. */

static gboolean
role_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *addr = NULL, *role = NULL;
  json_error_t jerr;
  if (json_unpack_ex ((json_t *)body, &jerr, JSON_STRICT, "{s:s, s:s}",
                      "address", &addr, "role", &role)
      != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "body must be {\"address\",\"role\"}: %s", jerr.text);
    return FALSE;
  }
  if (!cairn_address_valid (addr)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "address '%s' is not 40 lowercase hex characters", addr);
    return FALSE;
  }
  if (!cairn_role_valid (role)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "role '%s' must be 1-32 characters of [a-z_]", role);
    return FALSE;
  }
  return TRUE;
}

static gboolean
role_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            gboolean grant_it, GError **error)
{
  if (!role_check (self, body, error))
    return FALSE;
  CairnOverlay *ov = tx->overlay;
  g_autoptr (GBytes) admin_b = cairn_overlay_get (ov, "core/admin", error);
  if (admin_b == NULL) {
    if (error && *error == NULL)
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                   "this chain has no admin authority");
    return FALSE;
  }
  gsize alen;
  const char *atext = g_bytes_get_data (admin_b, &alen);
  g_autoptr (json_t) admin = cairn_cjson_parse (atext, alen, FALSE, error);
  if (admin == NULL)
    return FALSE;
  const char *sender = tx->info.sender;
  gboolean member = FALSE;
  size_t i;
  json_t *m;
  json_array_foreach (json_object_get (admin, "members"), i,
                      m) if (g_strcmp0 (json_string_value (m), sender) == 0)
      member
      = TRUE;
  if (!member) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_UNAUTHORIZED,
                 "%s is not a member of the admin authority", sender);
    return FALSE;
  }
  json_int_t threshold
      = json_integer_value (json_object_get (admin, "threshold"));
  const char *addr = json_string_value (json_object_get (body, "address"));
  const char *role = json_string_value (json_object_get (body, "role"));
  const char *action = grant_it ? "grant_role" : "revoke_role";

  g_autoptr (json_t) act = json_pack ("{s:s, s:s, s:s}", "action", action,
                                      "address", addr, "role", role);
  g_autofree char *act_text = cairn_cjson_dump (act, NULL, error);
  if (act_text == NULL)
    return FALSE;
  uint8_t h[32];
  cairn_sha256 (act_text, strlen (act_text), h);
  g_autofree char *hh = cairn_hex_encode (h, 32);
  g_autofree char *pkey = g_strconcat ("core/proposal/", hh, NULL);

  g_autoptr (GBytes) pb = cairn_overlay_get (ov, pkey, error);
  if (error && *error)
    return FALSE;
  g_autoptr (json_t) approvals = json_array ();
  if (pb) {
    gsize plen;
    const char *ptext = g_bytes_get_data (pb, &plen);
    g_autoptr (json_t) prop = cairn_cjson_parse (ptext, plen, FALSE, error);
    if (prop == NULL)
      return FALSE;
    json_array_extend (approvals, json_object_get (prop, "approvals"));
  }
  json_array_foreach (approvals, i,
                      m) if (g_strcmp0 (json_string_value (m), sender) == 0)
  {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "%s already approved %s of role %s for %s", sender, action,
                 role, addr);
    return FALSE;
  }
  json_array_append_new (approvals, json_string (sender));

  if ((json_int_t)json_array_size (approvals) >= threshold) {
    g_autofree char *rkey = g_strdup_printf ("core/role/%s/%s", addr, role);
    if (grant_it)
      put_str (ov, rkey, "1");
    else
      cairn_overlay_delete (ov, rkey);
    if (pb)
      cairn_overlay_delete (ov, pkey);
    json_array_append_new (
        tx->events,
        json_pack ("{s:s, s:{s:s, s:s, s:s}}", "type",
                   grant_it ? "core.role_granted" : "core.role_revoked",
                   "attrs", "address", addr, "role", role, "by", sender));
  } else {
    json_object_set (act, "approvals", approvals);
    if (!put_json (ov, pkey, act, error))
      return FALSE;
    json_array_append_new (tx->events,
                           json_pack ("{s:s, s:{s:s, s:s, s:s, s:I, s:I}}",
                                      "type", "core.proposal_approved", "attrs",
                                      "action", action, "address", addr, "role",
                                      role, "approvals",
                                      (json_int_t)json_array_size (approvals),
                                      "threshold", threshold));
  }
  return TRUE;
}

static gboolean
grant_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  return role_apply (self, tx, body, TRUE, error);
}

static gboolean
revoke_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  return role_apply (self, tx, body, FALSE, error);
}

void
cairn_core_register_tx_types (CairnNode *node)
{
  static const char *const types[] = { "core.grant_role", "core.revoke_role" };
  gboolean (*applies[]) (CairnPlugin *, CairnTxCtx *, const json_t *, GError **)
      = { grant_apply, revoke_apply };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    TxTypeEntry *te = g_new0 (TxTypeEntry, 1);
    te->plugin = &node->core_plugin;
    te->handler.iface_version = CAIRN_TX_HANDLER_VERSION;
    te->handler.check = role_check;
    te->handler.apply = applies[i];
    g_hash_table_insert (node->tx_types, g_strdup (types[i]), te);
  }
}

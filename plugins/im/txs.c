/* im: the tx types and the genesis params. Deterministic: block time,
 * heights, tx ids, integers and canonical JSON only; every refusal leaves
 * the state as it was. The state layout is in im.h. */
#include <string.h>

#include "im.h"

/* ---- helpers ---------------------------------------------------------- */

/* *present = whether key exists; FALSE only when the state cannot be read. */
static gboolean
exists (Im *im, CairnTxCtx *tx, const char *key, gboolean *present,
        GError **error)
{
  GError *local = NULL;
  g_autoptr (json_t) v = im_get (im, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  *present = v != NULL;
  return TRUE;
}

static gboolean
put_height (Im *im, CairnTxCtx *tx, const char *key, GError **error)
{
  g_autoptr (json_t) v = json_pack ("{s:I}", "height",
                                    (json_int_t)im_host->tx_info (tx)->height);
  return im_put (im, tx, key, v, error);
}

static gboolean
del (Im *im, CairnTxCtx *tx, const char *key, GError **error)
{
  return im_host->state_delete (im->self, tx, key, error);
}

/* Writes "<a>/<b>" keys of the pair under both prefixes of a request:
 * p_in/<to>/<from> and p_out/<from>/<to>. */
static gboolean
request_put (Im *im, CairnTxCtx *tx, const char *p_in, const char *p_out,
             const char *from, const char *to, GError **error)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "%s/%s/%s", p_in, to, from);
  if (!put_height (im, tx, k, error))
    return FALSE;
  g_snprintf (k, sizeof k, "%s/%s/%s", p_out, from, to);
  return put_height (im, tx, k, error);
}

static gboolean
request_del (Im *im, CairnTxCtx *tx, const char *p_in, const char *p_out,
             const char *from, const char *to, GError **error)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "%s/%s/%s", p_in, to, from);
  if (!del (im, tx, k, error))
    return FALSE;
  g_snprintf (k, sizeof k, "%s/%s/%s", p_out, from, to);
  return del (im, tx, k, error);
}

static gboolean
pair_exists (Im *im, CairnTxCtx *tx, const char *prefix, const char *a,
             const char *b, gboolean *present, GError **error)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "%s/%s/%s", prefix, a, b);
  return exists (im, tx, k, present, error);
}

static gboolean
contact_set (Im *im, CairnTxCtx *tx, const char *a, const char *b,
             gboolean bind, GError **error)
{
  char k1[IM_KEYBUF], k2[IM_KEYBUF];
  g_snprintf (k1, sizeof k1, "c/%s/%s", a, b);
  g_snprintf (k2, sizeof k2, "c/%s/%s", b, a);
  if (!bind)
    return del (im, tx, k1, error) && del (im, tx, k2, error);
  g_autoptr (json_t) v
      = json_pack ("{s:I}", "since", (json_int_t)im_host->tx_info (tx)->height);
  return im_put (im, tx, k1, v, error) && im_put (im, tx, k2, v, error);
}

static void
emit (Im *im, CairnTxCtx *tx, const char *type, json_t *attrs)
{
  im_host->emit_event (im->self, tx, type, attrs);
}

/* One-field bodies {"<field>": address}. */
static gboolean
addr_body (const char *what, const char *field, const json_t *body,
           GError **error)
{
  const char *a;
  return cairn_unpack_strict (what, body, error, "{s:s}", field, &a)
         && im_address_ok (what, field, a, error);
}

/* ---- params ----------------------------------------------------------- */

static gboolean
im_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
            GError **error)
{
  Im *im = im_host->get_data (self);
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), IM_ID);
  const char *role = "im_registrar";
  if (app != NULL
      && !cairn_unpack_strict ("genesis app_state.im", app, error, "{s?s}",
                               "registrar_role", &role))
    return FALSE;
  if (!cairn_role_valid (role))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.im: registrar_role must be a role "
                       "name (1-32 of [a-z_])");
  g_autoptr (json_t) p = json_pack ("{s:s}", "registrar_role", role);
  return im_put (im, tx, "params", p, error);
}

/* ---- im.register {"request","pubkey","sig"} --------------------------- */

static gboolean
register_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return im_register_check_body (body, error);
}

static gboolean
register_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Im *im = im_host->get_data (self);
  const CairnTxInfo *info = im_host->tx_info (tx);
  g_autofree char *role = im_registrar_role (im, tx);
  if (!im_register_check_body (body, error))
    return FALSE;
  if (!im_host->has_role (self, tx, info->sender, role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "im.register: the sender %s does not hold the role "
                       "'%s': only a registrar node registers users",
                       info->sender, role);
  if (!im_register_check_state (im, tx, body, info->time_ms, IM_CHAIN_SKEW_MS,
                                error))
    return FALSE;
  const json_t *request = json_object_get (body, "request");
  const char *name = im_str (request, "name");
  const char *enc = im_str (request, "enc_pubkey");
  const json_t *profile = json_object_get (request, "profile");
  uint8_t pub[32];
  char addr[41], k[IM_KEYBUF];
  cairn_hex_decode (im_str (body, "pubkey"), pub, 32);
  im_host->address_from_pubkey (pub, addr);
  json_t *prof = profile ? json_incref ((json_t *)profile) : json_object ();
  g_autoptr (json_t) cert = json_pack (
      "{s:s,s:s,s:s,s:s,s:i,s:o,s:s,s:I,s:b}", "name", name, "address", addr,
      "pubkey", im_str (body, "pubkey"), "enc_pubkey", enc, "enc_version", 1,
      "profile", prof, "registrar", info->sender, "height",
      (json_int_t)info->height, "revoked", 0);
  g_snprintf (k, sizeof k, "user/%s", addr);
  if (!im_put (im, tx, k, cert, error))
    return FALSE;
  g_autoptr (json_t) owner = json_pack ("{s:s}", "address", addr);
  g_snprintf (k, sizeof k, "name/%s", name);
  if (!im_put (im, tx, k, owner, error))
    return FALSE;
  g_autoptr (json_t) key = json_pack ("{s:s,s:I}", "enc_pubkey", enc, "height",
                                      (json_int_t)info->height);
  g_snprintf (k, sizeof k, "enc/%s/%06d", addr, 1);
  if (!im_put (im, tx, k, key, error))
    return FALSE;
  emit (im, tx, "im.registered",
        json_pack ("{s:s,s:s,s:s}", "address", addr, "name", name, "registrar",
                   info->sender));
  return TRUE;
}

/* ---- im.rotate_key {"enc_pubkey"} ------------------------------------- */

static gboolean
rotate_key_check (CairnPlugin *self, const json_t *body, GError **error)
{
  static const uint8_t zero[32];
  uint8_t raw[32];
  const char *enc;
  if (!cairn_unpack_strict ("im.rotate_key", body, error, "{s:s}", "enc_pubkey",
                            &enc))
    return FALSE;
  if (!cairn_hex_lower_valid (enc, 32) || !cairn_hex_decode (enc, raw, 32)
      || memcmp (raw, zero, 32) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "im.rotate_key: enc_pubkey must be a non-zero X25519 "
                       "public key (64 lowercase hex)");
  return TRUE;
}

static gboolean
rotate_key_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                  GError **error)
{
  Im *im = im_host->get_data (self);
  const char *what = "im.rotate_key";
  const CairnTxInfo *info = im_host->tx_info (tx);
  if (!rotate_key_check (self, body, error))
    return FALSE;
  g_autoptr (json_t) cert
      = im_user (im, tx, what, "sender", info->sender, FALSE, error);
  if (cert == NULL)
    return FALSE;
  const char *enc = im_str (body, "enc_pubkey");
  json_int_t version = im_int (cert, "enc_version");
  if (strcmp (enc, im_str (cert, "enc_pubkey")) == 0)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s is already the current encryption key (version "
                       "%" JSON_INTEGER_FORMAT ") of %s",
                       what, enc, version, info->sender);
  if (version >= IM_MAX_ENC_VERSION)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s has rotated its key %d times, the most allowed",
                       what, info->sender, IM_MAX_ENC_VERSION);
  char k[IM_KEYBUF];
  g_autoptr (json_t) key = json_pack ("{s:s,s:I}", "enc_pubkey", enc, "height",
                                      (json_int_t)info->height);
  g_snprintf (k, sizeof k, "enc/%s/%06" JSON_INTEGER_FORMAT, info->sender,
              version + 1);
  if (!im_put (im, tx, k, key, error))
    return FALSE;
  json_object_set_new (cert, "enc_pubkey", json_string (enc));
  json_object_set_new (cert, "enc_version", json_integer (version + 1));
  g_snprintf (k, sizeof k, "user/%s", info->sender);
  if (!im_put (im, tx, k, cert, error))
    return FALSE;
  emit (im, tx, "im.key_rotated",
        json_pack ("{s:s,s:I,s:s}", "address", info->sender, "enc_version",
                   version + 1, "enc_pubkey", enc));
  return TRUE;
}

/* ---- im.revoke {"address"} -------------------------------------------- */

static gboolean
revoke_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.revoke", "address", body, error);
}

static gboolean
revoke_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  Im *im = im_host->get_data (self);
  const char *what = "im.revoke";
  const CairnTxInfo *info = im_host->tx_info (tx);
  if (!revoke_check (self, body, error))
    return FALSE;
  const char *addr = im_str (body, "address");
  g_autoptr (json_t) cert = im_user (im, tx, what, "user", addr, TRUE, error);
  if (cert == NULL)
    return FALSE;
  g_autofree char *role = im_registrar_role (im, tx);
  if (strcmp (info->sender, addr) != 0
      && !im_host->has_role (self, tx, info->sender, role))
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "%s: only %s itself or a registrar (role '%s') revokes "
                       "it, not %s",
                       what, addr, role, info->sender);
  if (json_is_true (json_object_get (cert, "revoked")))
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s ('%s') is already revoked", what, addr,
                       im_str (cert, "name"));
  json_object_set_new (cert, "revoked", json_true ());
  json_object_set_new (cert, "revoked_by", json_string (info->sender));
  json_object_set_new (cert, "revoked_height",
                       json_integer ((json_int_t)info->height));
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "user/%s", addr);
  if (!im_put (im, tx, k, cert, error))
    return FALSE;
  emit (im, tx, "im.revoked",
        json_pack ("{s:s,s:s,s:s}", "address", addr, "name",
                   im_str (cert, "name"), "by", info->sender));
  return TRUE;
}

/* ---- contacts --------------------------------------------------------- */

static gboolean
bind_request_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.bind_request", "to", body, error);
}

static gboolean
bind_request_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                    GError **error)
{
  Im *im = im_host->get_data (self);
  const char *what = "im.bind_request";
  const char *me = im_host->tx_info (tx)->sender;
  if (!bind_request_check (self, body, error))
    return FALSE;
  const char *to = im_str (body, "to");
  if (strcmp (to, me) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s cannot be its own contact", what, me);
  g_autoptr (json_t) mine = im_user (im, tx, what, "sender", me, FALSE, error);
  if (mine == NULL)
    return FALSE;
  g_autoptr (json_t) other = im_user (im, tx, what, "user", to, FALSE, error);
  if (other == NULL)
    return FALSE;
  gboolean bound, asked, asked_back;
  if (!pair_exists (im, tx, "c", me, to, &bound, error)
      || !pair_exists (im, tx, "req", to, me, &asked, error)
      || !pair_exists (im, tx, "req", me, to, &asked_back, error))
    return FALSE;
  if (bound)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s and %s ('%s') are already contacts", what, me,
                       to, im_str (other, "name"));
  if (asked)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s has already asked %s ('%s'); waiting for its "
                       "im.bind_accept or im.bind_reject",
                       what, me, to, im_str (other, "name"));
  if (asked_back)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s ('%s') has already asked %s: answer with "
                       "im.bind_accept {\"from\": \"%s\"}",
                       what, to, im_str (other, "name"), me, to);
  if (!request_put (im, tx, "req", "reqout", me, to, error))
    return FALSE;
  emit (im, tx, "im.bind_requested",
        json_pack ("{s:s,s:s}", "from", me, "to", to));
  return TRUE;
}

static gboolean
bind_accept_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.bind_accept", "from", body, error);
}

static gboolean
bind_reject_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.bind_reject", "from", body, error);
}

/* accept: TRUE binds, FALSE rejects. */
static gboolean
bind_answer (Im *im, CairnTxCtx *tx, const char *what, gboolean accept,
             const json_t *body, GError **error)
{
  const char *me = im_host->tx_info (tx)->sender;
  if (!addr_body (what, "from", body, error))
    return FALSE;
  const char *from = im_str (body, "from");
  g_autoptr (json_t) mine = im_user (im, tx, what, "sender", me, FALSE, error);
  if (mine == NULL)
    return FALSE;
  gboolean asked;
  if (!pair_exists (im, tx, "req", me, from, &asked, error))
    return FALSE;
  if (!asked)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "%s: %s has no pending bind request from %s", what, me,
                       from);
  if (accept) {
    g_autoptr (json_t) other
        = im_user (im, tx, what, "requester", from, FALSE, error);
    if (other == NULL)
      return FALSE;
  }
  if (!request_del (im, tx, "req", "reqout", from, me, error)
      || (accept && !contact_set (im, tx, me, from, TRUE, error)))
    return FALSE;
  emit (im, tx, accept ? "im.bound" : "im.bind_rejected",
        json_pack ("{s:s,s:s}", "from", from, "to", me));
  return TRUE;
}

static gboolean
bind_accept_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                   GError **error)
{
  return bind_answer (im_host->get_data (self), tx, "im.bind_accept", TRUE,
                      body, error);
}

static gboolean
bind_reject_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                   GError **error)
{
  return bind_answer (im_host->get_data (self), tx, "im.bind_reject", FALSE,
                      body, error);
}

static gboolean
unbind_request_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.unbind_request", "with", body, error);
}

static gboolean
unbind_request_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                      GError **error)
{
  Im *im = im_host->get_data (self);
  const char *what = "im.unbind_request";
  const char *me = im_host->tx_info (tx)->sender;
  if (!unbind_request_check (self, body, error))
    return FALSE;
  const char *with = im_str (body, "with");
  g_autoptr (json_t) mine = im_user (im, tx, what, "sender", me, FALSE, error);
  if (mine == NULL)
    return FALSE;
  gboolean bound, asked, asked_back;
  if (!pair_exists (im, tx, "c", me, with, &bound, error)
      || !pair_exists (im, tx, "unreq", with, me, &asked, error)
      || !pair_exists (im, tx, "unreq", me, with, &asked_back, error))
    return FALSE;
  if (!bound)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "%s: %s and %s are not contacts", what, me, with);
  if (asked)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s has already asked to unbind from %s; waiting "
                       "for its im.unbind_confirm",
                       what, me, with);
  if (asked_back)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s has already asked to unbind: confirm with "
                       "im.unbind_confirm {\"with\": \"%s\"}",
                       what, with, with);
  /* A revoked user can never confirm: the contact ends now. */
  g_autoptr (json_t) other
      = im_user (im, tx, what, "contact", with, TRUE, error);
  if (other == NULL)
    return FALSE;
  if (json_is_true (json_object_get (other, "revoked"))) {
    if (!contact_set (im, tx, me, with, FALSE, error))
      return FALSE;
    emit (im, tx, "im.unbound",
          json_pack ("{s:s,s:s}", "from", me, "to", with));
    return TRUE;
  }
  if (!request_put (im, tx, "unreq", "unreqout", me, with, error))
    return FALSE;
  emit (im, tx, "im.unbind_requested",
        json_pack ("{s:s,s:s}", "from", me, "to", with));
  return TRUE;
}

static gboolean
unbind_confirm_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return addr_body ("im.unbind_confirm", "with", body, error);
}

static gboolean
unbind_confirm_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                      GError **error)
{
  Im *im = im_host->get_data (self);
  const char *what = "im.unbind_confirm";
  const char *me = im_host->tx_info (tx)->sender;
  if (!unbind_confirm_check (self, body, error))
    return FALSE;
  const char *with = im_str (body, "with");
  g_autoptr (json_t) mine = im_user (im, tx, what, "sender", me, FALSE, error);
  if (mine == NULL)
    return FALSE;
  gboolean asked;
  if (!pair_exists (im, tx, "unreq", me, with, &asked, error))
    return FALSE;
  if (!asked)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "%s: %s has no pending unbind request from %s", what, me,
                       with);
  if (!request_del (im, tx, "unreq", "unreqout", with, me, error)
      || !contact_set (im, tx, me, with, FALSE, error))
    return FALSE;
  emit (im, tx, "im.unbound", json_pack ("{s:s,s:s}", "from", with, "to", me));
  return TRUE;
}

/* ---- im.settings {"allow_strangers"} ---------------------------------- */

static gboolean
settings_check (CairnPlugin *self, const json_t *body, GError **error)
{
  int allow;
  return cairn_unpack_strict ("im.settings", body, error, "{s:b}",
                              "allow_strangers", &allow);
}

static gboolean
settings_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Im *im = im_host->get_data (self);
  const char *me = im_host->tx_info (tx)->sender;
  if (!settings_check (self, body, error))
    return FALSE;
  g_autoptr (json_t) mine
      = im_user (im, tx, "im.settings", "sender", me, FALSE, error);
  if (mine == NULL)
    return FALSE;
  gboolean allow = json_is_true (json_object_get (body, "allow_strangers"));
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "set/%s", me);
  g_autoptr (json_t) v = json_pack ("{s:b}", "allow_strangers", allow);
  if (!im_put (im, tx, k, v, error))
    return FALSE;
  emit (im, tx, "im.settings",
        json_pack ("{s:s,s:b}", "address", me, "allow_strangers", allow));
  return TRUE;
}

/* ---- im.send ---------------------------------------------------------- */

static gboolean
send_check (CairnPlugin *self, const json_t *body, GError **error)
{
  return im_send_check_body (body, error);
}

/* *seq = the next seq of addr's box ("in" or "out"); seq/<addr> is
 * updated to it. */
static gboolean
next_seq (Im *im, CairnTxCtx *tx, const char *addr, const char *box,
          uint64_t *seq, GError **error)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "seq/%s", addr);
  GError *local = NULL;
  g_autoptr (json_t) c = im_get (im, tx, k, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (c == NULL)
    c = json_pack ("{s:i,s:i}", "in", 0, "out", 0);
  json_int_t last = im_int (c, box);
  if (last < 0 || last >= INT64_MAX)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "im.send: the %s counter of %s is %" JSON_INTEGER_FORMAT,
                       box, addr, last);
  *seq = (uint64_t)last + 1;
  json_object_set_new (c, box, json_integer ((json_int_t)*seq));
  return im_put (im, tx, k, c, error);
}

static gboolean
send_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
            GError **error)
{
  Im *im = im_host->get_data (self);
  const CairnTxInfo *info = im_host->tx_info (tx);
  if (!im_send_check_body (body, error)
      || !im_send_check_state (im, tx, info->sender, info->sender_pubkey, body,
                               info->time_ms, error))
    return FALSE;
  const char *to = im_str (body, "to");
  uint64_t in_seq, out_seq;
  if (!next_seq (im, tx, to, "in", &in_seq, error)
      || !next_seq (im, tx, info->sender, "out", &out_seq, error))
    return FALSE;
  json_t *rec = json_pack (
      "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I}", "id", info->id,
      "from", info->sender, "pubkey", info->sender_pubkey, "to", to, "kind",
      im_str (body, "kind"), "cid", im_str (body, "cid"), "content_sha256",
      im_str (body, "content_sha256"), "size", im_int (body, "size"),
      "timestamp", im_int (body, "timestamp"), "store", im_str (body, "store"),
      "sig", im_str (body, "sig"), "height", (json_int_t)info->height);
  g_autofree char *ik = im_box_key ("in", to, in_seq);
  g_autofree char *ok = im_box_key ("out", info->sender, out_seq);
  g_autofree char *sk = im_sig_key (im_str (body, "sig"));
  char ck[IM_KEYBUF];
  g_snprintf (ck, sizeof ck, "cid/%s", im_str (body, "cid"));
  g_autoptr (json_t) empty = json_object ();
  if (!im_put (im, tx, ik, rec, error) || !im_put (im, tx, ok, rec, error)
      || !im_put (im, tx, sk, empty, error)
      || !im_put (im, tx, ck, empty, error)) {
    json_decref (rec);
    return FALSE;
  }
  /* The stream sends this record to the recipient as its block commits. */
  json_object_set_new (rec, "seq", json_integer ((json_int_t)in_seq));
  emit (im, tx, "im.message", rec);
  return TRUE;
}

/* ---- registration ----------------------------------------------------- */

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = im_genesis,
};

#define HANDLER(name)                                                          \
  static const CairnTxHandler name##_handler = {                               \
    .iface_version = CAIRN_TX_HANDLER_VERSION,                                 \
    .check = name##_check,                                                     \
    .apply = name##_apply,                                                     \
  }
HANDLER (register);
HANDLER (rotate_key);
HANDLER (revoke);
HANDLER (bind_request);
HANDLER (bind_accept);
HANDLER (bind_reject);
HANDLER (unbind_request);
HANDLER (unbind_confirm);
HANDLER (settings);
HANDLER (send);

gboolean
im_register_txs (Im *im, GError **error)
{
  const struct {
    const char *type;
    const CairnTxHandler *h;
  } types[] = {
    { "im.register", &register_handler },
    { "im.rotate_key", &rotate_key_handler },
    { "im.revoke", &revoke_handler },
    { "im.bind_request", &bind_request_handler },
    { "im.bind_accept", &bind_accept_handler },
    { "im.bind_reject", &bind_reject_handler },
    { "im.unbind_request", &unbind_request_handler },
    { "im.unbind_confirm", &unbind_confirm_handler },
    { "im.settings", &settings_handler },
    { "im.send", &send_handler },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (!im_host->register_tx_type (im->self, types[i].type, types[i].h,
                                    sizeof *types[i].h, error))
      return FALSE;
  return im_host->register_app (im->self, &app_iface, sizeof app_iface, error);
}

/* services: the tx types, the genesis params and the automatic publication
 * of opinions in end_block. Deterministic: block height and tx ids only,
 * integers only, canonical JSON values, ordered iteration.
 *
 * State (namespace "services"):
 *   params                       {"platform_role","regulator_role",
 *                                 "review_period_blocks","publish_delay_blocks",
 *                                 "stake_blocks"}
 *   provider/<address>           {"address","name","by","height"}
 *   svc/<id>                     the service (id = the publish tx id)
 *   ent/<service>/<account>      {"service","account","denom","amount",
 *                                 "height","tx","by":"payment"|"stake",
 *                                 ["until"]}
 *   unl/<until>/<account>/<service> "1": a stake to release at <until>
 *   acct/<account>/<service>     the same entitlement, by account
 *   fb/<service>/<height>-<idx>  {"service","author","rating","kind",
 *                                 "text_sha256",["text_cid"],"height","tx",
 *                                 ["case"]}
 *   complaint/<service>/<account> case id (one complaint per account)
 *   case/<id>                    {"id","service","complainant","feedback",
 *                                 "opened","deadline","publish_at","status",
 *                                 ["review"],["opinion"]}; id = complaint tx
 *   due/<publish_at>/<case>      "1" until the opinion is published
 * Heights in keys are 20-digit zero-padded decimals (sorted by number). */
#include <string.h>

#include "services.h"

#define KEYBUF 256

static gboolean
put (Services *s, CairnTxCtx *tx, const char *key, const json_t *v,
     GError **error)
{
  return svc_host->state_put_json (s->self, tx, key, v, error);
}

static void
emit (Services *s, CairnTxCtx *tx, const char *type, json_t *attrs)
{
  g_assert (attrs != NULL);
  svc_host->emit_event (s->self, tx, type, attrs);
}

static const char *
str_of (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

static json_int_t
int_of (const json_t *o, const char *k)
{
  return json_integer_value (json_object_get (o, k));
}

static gboolean
text_ok (const char *what, const char *field, const char *v, size_t max,
         GError **error)
{
  size_t n = strlen (v);
  if (n == 0 || n > max || !g_utf8_validate (v, n, NULL))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.%s must be 1 to %zu bytes of UTF-8", what,
                       field, max);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] < 0x20 && v[i] != '\n')
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: body.%s holds a control character", what, field);
  return TRUE;
}

static gboolean
hex64_ok (const char *what, const char *field, const char *v, GError **error)
{
  if (!cairn_hex_lower_valid (v, 32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.%s must be 64 lowercase hex characters", what,
                       field);
  return TRUE;
}

/* ---- params and roles ------------------------------------------------- */

json_t *
svc_params (Services *s, CairnTxCtx *tx, GError **error)
{
  GError *local = NULL;
  json_t *p = svc_get (s, tx, "params", &local);
  if (p != NULL)
    return p;
  if (local != NULL) {
    g_propagate_error (error, local);
    return NULL;
  }
  /* A chain started before the plugin was loaded: the defaults. */
  return json_pack ("{s:s,s:s,s:I,s:I,s:I}", "platform_role", "platform",
                    "regulator_role", "regulator", "review_period_blocks",
                    (json_int_t)SVC_DEFAULT_REVIEW_PERIOD,
                    "publish_delay_blocks",
                    (json_int_t)SVC_DEFAULT_PUBLISH_DELAY, "stake_blocks",
                    (json_int_t)SVC_DEFAULT_STAKE_BLOCKS);
}

static gboolean
has_param_role (Services *s, CairnTxCtx *tx, const char *address,
                const char *which)
{
  g_autoptr (json_t) p = svc_params (s, tx, NULL);
  const char *role = p ? str_of (p, which) : NULL;
  return role != NULL && svc_host->has_role (s->self, tx, address, role);
}

gboolean
svc_is_regulator (Services *s, CairnTxCtx *tx, const char *address)
{
  return has_param_role (s, tx, address, "regulator_role");
}

static gboolean
services_genesis (CairnPlugin *self, CairnTxCtx *tx, const json_t *genesis,
                  GError **error)
{
  Services *s = svc_host->get_data (self);
  const json_t *app
      = json_object_get (json_object_get (genesis, "app_state"), SVC_ID);
  const char *platform = "platform", *regulator = "regulator";
  json_int_t period = SVC_DEFAULT_REVIEW_PERIOD;
  json_int_t delay = SVC_DEFAULT_PUBLISH_DELAY;
  json_int_t stake_blocks = SVC_DEFAULT_STAKE_BLOCKS;
  if (app != NULL
      && !cairn_unpack_strict (
          "genesis app_state.services", app, error, "{s?s,s?s,s?I,s?I,s?I}",
          "platform_role", &platform, "regulator_role", &regulator,
          "review_period_blocks", &period, "publish_delay_blocks", &delay,
          "stake_blocks", &stake_blocks))
    return FALSE;
  if (stake_blocks < 1 || stake_blocks > 100000000)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.services: stake_blocks must be "
                       "1..100000000");
  if (!cairn_role_valid (platform) || !cairn_role_valid (regulator))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.services: platform_role and "
                       "regulator_role must be role names (1-32 of [a-z_])");
  if (period < 1 || period > 100000000 || delay < 0 || delay > 100000000)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "genesis app_state.services: review_period_blocks must "
                       "be 1..100000000 and publish_delay_blocks 0..100000000");
  g_autoptr (json_t) p
      = json_pack ("{s:s,s:s,s:I,s:I,s:I}", "platform_role", platform,
                   "regulator_role", regulator, "review_period_blocks", period,
                   "publish_delay_blocks", delay, "stake_blocks", stake_blocks);
  return put (s, tx, "params", p, error);
}

/* ---- services.register_provider {"address","name"} -------------------- */

static gboolean
register_parse (const json_t *body, const char **address, const char **name,
                GError **error)
{
  const char *what = "services.register_provider";
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s}", "address", address,
                            "name", name))
    return FALSE;
  if (!svc_host->address_valid (*address))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.address '%s' is not an address (40 lowercase "
                       "hex characters)",
                       what, *address);
  return text_ok (what, "name", *name, 128, error);
}

static gboolean
register_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *a, *n;
  return register_parse (body, &a, &n, error);
}

static gboolean
register_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  const char *address, *name;
  char key[KEYBUF];
  if (!register_parse (body, &address, &name, error))
    return FALSE;
  if (!has_param_role (s, tx, info->sender, "platform_role")) {
    g_autoptr (json_t) p = svc_params (s, tx, NULL);
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "services.register_provider: %s does not hold the role "
                       "'%s' of the platform authority (granted by the chain's "
                       "admin with core.grant_role)",
                       info->sender, p ? str_of (p, "platform_role") : "?");
  }
  g_snprintf (key, sizeof key, "provider/%s", address);
  GError *local = NULL;
  g_autoptr (json_t) old = svc_get (s, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "services.register_provider: %s is already registered "
                       "as '%s' (height %" JSON_INTEGER_FORMAT ")",
                       address, str_of (old, "name"), int_of (old, "height"));
  g_autoptr (json_t) rec
      = json_pack ("{s:s,s:s,s:s,s:I}", "address", address, "name", name, "by",
                   info->sender, "height", (json_int_t)info->height);
  if (!put (s, tx, key, rec, error))
    return FALSE;
  emit (s, tx, "services.provider_registered",
        json_pack ("{s:s,s:s}", "address", address, "name", name));
  return TRUE;
}

/* ---- services.publish ------------------------------------------------- */

typedef struct {
  const char *place, *type, *denom, *cid, *sha, *ctype, *alg, *gateway;
  json_int_t time, amount, size, seg;
} Publish;

static gboolean
publish_parse (const json_t *body, Publish *p, GError **error)
{
  const char *what = "services.publish";
  memset (p, 0, sizeof *p);
  if (!cairn_unpack_strict (
          what, body, error,
          "{s:s,s:s,s:I,s:{s:s,s:I},s:{s:s,s:s,s:I,s?s,s:{s:s,s:I}},"
          "s?s}",
          "place", &p->place, "type", &p->type, "time", &p->time, "price",
          "denom", &p->denom, "amount", &p->amount, "video", "cid", &p->cid,
          "sha256", &p->sha, "size", &p->size, "content_type", &p->ctype, "enc",
          "alg", &p->alg, "segment_size", &p->seg, "gateway", &p->gateway))
    return FALSE;
  if (!text_ok (what, "place", p->place, 256, error)
      || !text_ok (what, "type", p->type, 64, error)
      || !hex64_ok (what, "video.sha256", p->sha, error))
    return FALSE;
  if (p->time < 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.time must be a time in ms since 1970 (>= 0)",
                       what);
  if (!cairn_denom_valid (p->denom))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.price.denom '%s' is not a denomination "
                       "([a-z][a-z0-9]{1,15})",
                       what, p->denom);
  if (p->amount <= 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.price.amount must be an integer > 0", what);
  if (!cairn_cid_valid (p->cid))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.video.cid '%s' is not a CIDv1 in base32 "
                       "(as 'cairn blob put' prints)",
                       what, p->cid);
  if (p->size <= 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.video.size (plaintext bytes) must be > 0",
                       what);
  if (strcmp (p->alg, "aes-256-gcm-seg64k") != 0 || p->seg != 65536)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.video.enc must be {\"alg\":"
                       "\"aes-256-gcm-seg64k\",\"segment_size\":65536}",
                       what);
  if (p->ctype != NULL
      && (!text_ok (what, "video.content_type", p->ctype, 64, error)
          || strchr (p->ctype, '/') == NULL || strchr (p->ctype, '\n')))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.video.content_type must be a media type such "
                       "as video/mp4",
                       what);
  if (p->gateway != NULL
      && (!text_ok (what, "gateway", p->gateway, 256, error)
          || !(g_str_has_prefix (p->gateway, "http://")
               || g_str_has_prefix (p->gateway, "https://"))))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.gateway must be an http:// or https:// URL",
                       what);
  return TRUE;
}

static gboolean
publish_check (CairnPlugin *self, const json_t *body, GError **error)
{
  Publish p;
  return publish_parse (body, &p, error);
}

static gboolean
publish_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
               GError **error)
{
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  Publish p;
  char key[KEYBUF];
  GError *local = NULL;
  if (!publish_parse (body, &p, error))
    return FALSE;
  g_snprintf (key, sizeof key, "provider/%s", info->sender);
  g_autoptr (json_t) prov = svc_get (s, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (prov == NULL)
    return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                       "services.publish: %s is not a registered provider; the "
                       "platform authority registers providers with "
                       "services.register_provider",
                       info->sender);
  /* The service id is the publish tx's id: unique and known to the sender
   * as soon as it signs. */
  g_autoptr (json_t) svc = json_pack (
      "{s:s,s:s,s:s,s:s,s:s,s:I,s:{s:s,s:I},"
      "s:{s:s,s:s,s:I,s:s,s:{s:s,s:I}},s:I}",
      "id", info->id, "provider", info->sender, "provider_name",
      str_of (prov, "name"), "place", p.place, "type", p.type, "time", p.time,
      "price", "denom", p.denom, "amount", p.amount, "video", "cid", p.cid,
      "sha256", p.sha, "size", p.size, "content_type",
      p.ctype ? p.ctype : "video/mp4", "enc", "alg", p.alg, "segment_size",
      p.seg, "height", (json_int_t)info->height);
  if (p.gateway)
    json_object_set_new (svc, "gateway", json_string (p.gateway));
  g_snprintf (key, sizeof key, "svc/%s", info->id);
  if (!put (s, tx, key, svc, error))
    return FALSE;
  emit (s, tx, "services.published",
        json_pack ("{s:s,s:s,s:s,s:s}", "id", info->id, "provider",
                   info->sender, "type", p.type, "video", p.cid));
  return TRUE;
}

/* ---- services.entitle {"service","denom","amount"} --------------------- */

/* by: "payment" (the price goes to the provider) or "stake" (the price
 * stays the user's, locked for stake_blocks; the entitlement ends when it
 * is released). */
static gboolean
entitle_parse (const json_t *body, const char **service, const char **denom,
               json_int_t *amount, gboolean *by_stake, GError **error)
{
  const char *what = "services.entitle";
  const char *by = "payment";
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s,s:I,s?s}", "service",
                            service, "denom", denom, "amount", amount, "by",
                            &by)
      || !hex64_ok (what, "service", *service, error))
    return FALSE;
  if (strcmp (by, "payment") != 0 && strcmp (by, "stake") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.by must be \"payment\" or \"stake\" (got "
                       "'%s')",
                       what, by);
  *by_stake = strcmp (by, "stake") == 0;
  if (!cairn_denom_valid (*denom) || *amount <= 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.denom must be a denomination and body.amount "
                       "an integer > 0 (the service's price)",
                       what);
  return TRUE;
}

static gboolean
entitle_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *sv, *d;
  json_int_t a;
  gboolean st;
  return entitle_parse (body, &sv, &d, &a, &st, error);
}

/* The JSON record at "<prefix>/<id>", or a NOT_FOUND error naming it and
 * the route that lists them. */
static json_t *
record_or_fail (Services *s, CairnTxCtx *tx, const char *what,
                const char *prefix, const char *noun, const char *list,
                const char *id, GError **error)
{
  char key[KEYBUF];
  GError *local = NULL;
  g_snprintf (key, sizeof key, "%s/%s", prefix, id);
  json_t *rec = svc_get (s, tx, key, &local);
  if (local != NULL)
    g_propagate_error (error, local);
  else if (rec == NULL)
    cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "%s: unknown %s %s (see GET %s)",
                what, noun, id, list);
  return rec;
}

static json_t *
service_or_fail (Services *s, CairnTxCtx *tx, const char *what, const char *id,
                 GError **error)
{
  return record_or_fail (s, tx, what, "svc", "service", "/v1/services", id,
                         error);
}

static gboolean
entitle_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
               GError **error)
{
  const char *what = "services.entitle";
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  const char *id, *denom;
  json_int_t amount;
  gboolean by_stake;
  char key[KEYBUF];
  GError *local = NULL;
  if (!entitle_parse (body, &id, &denom, &amount, &by_stake, error))
    return FALSE;
  g_autoptr (json_t) svc = service_or_fail (s, tx, what, id, error);
  if (svc == NULL)
    return FALSE;
  const char *provider = str_of (svc, "provider");
  const json_t *price = json_object_get (svc, "price");
  if (strcmp (provider, info->sender) == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s is the provider of service %s; a provider can "
                       "always get a query key for its own service",
                       what, info->sender, id);
  if (strcmp (str_of (price, "denom"), denom) != 0
      || int_of (price, "amount") != amount)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: wrong price: service %s costs %" JSON_INTEGER_FORMAT
                       " %s, the body offers %" JSON_INTEGER_FORMAT " %s",
                       what, id, int_of (price, "amount"),
                       str_of (price, "denom"), amount, denom);
  g_snprintf (key, sizeof key, "ent/%s/%s", id, info->sender);
  g_autoptr (json_t) old = svc_get (s, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (old != NULL)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: %s already holds an entitlement to service %s "
                       "(since height %" JSON_INTEGER_FORMAT
                       "); ask for a query key instead",
                       what, info->sender, id, int_of (old, "height"));
  g_autoptr (json_t) ent = json_pack (
      "{s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "service", id, "account", info->sender,
      "denom", denom, "amount", amount, "height", (json_int_t)info->height,
      "tx", info->id, "by", by_stake ? "stake" : "payment");
  if (by_stake) {
    g_autoptr (json_t) p = svc_params (s, tx, error);
    if (p == NULL)
      return FALSE;
    json_int_t blocks = int_of (p, "stake_blocks");
    uint64_t until
        = info->height
          + (uint64_t)(blocks > 0 ? blocks : SVC_DEFAULT_STAKE_BLOCKS);
    if (!s->bank->lock (s->self, tx, info->sender, denom, (uint64_t)amount,
                        error)) {
      g_prefix_error (error, "%s: staking the price: ", what);
      return FALSE;
    }
    json_object_set_new (ent, "until", json_integer ((json_int_t)until));
    char ukey[KEYBUF];
    g_snprintf (ukey, sizeof ukey, "unl/%020" G_GUINT64_FORMAT "/%s/%s", until,
                info->sender, id);
    if (!svc_host->state_put (s->self, tx, ukey, "1", 1, error))
      return FALSE;
  } else if (!s->bank->transfer (s->self, tx, info->sender, provider, denom,
                                 (uint64_t)amount, error)) {
    g_prefix_error (error, "%s: paying the provider: ", what);
    return FALSE;
  }
  if (!put (s, tx, key, ent, error))
    return FALSE;
  g_snprintf (key, sizeof key, "acct/%s/%s", info->sender, id);
  if (!put (s, tx, key, ent, error))
    return FALSE;
  emit (s, tx, "services.entitled",
        json_pack ("{s:s,s:s,s:s,s:I,s:s}", "service", id, "account",
                   info->sender, "denom", denom, "amount", amount, "by",
                   by_stake ? "stake" : "payment"));
  return TRUE;
}

/* ---- services.feedback ------------------------------------------------ */

typedef struct {
  const char *service, *kind, *sha, *cid;
  json_int_t rating;
} Feedback;

static gboolean
feedback_parse (const json_t *body, Feedback *f, GError **error)
{
  const char *what = "services.feedback";
  memset (f, 0, sizeof *f);
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s,s:I,s:s,s?s}",
                            "service", &f->service, "kind", &f->kind, "rating",
                            &f->rating, "text_sha256", &f->sha, "text_cid",
                            &f->cid)
      || !hex64_ok (what, "service", f->service, error)
      || !hex64_ok (what, "text_sha256", f->sha, error))
    return FALSE;
  if (strcmp (f->kind, "experience") != 0 && strcmp (f->kind, "complaint") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.kind must be 'experience' or 'complaint' (got "
                       "'%s')",
                       what, f->kind);
  if (f->rating < 1 || f->rating > 5)
    return cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "%s: body.rating must be 1 to 5 (got %" JSON_INTEGER_FORMAT ")", what,
        f->rating);
  if (f->cid != NULL && !cairn_cid_valid (f->cid))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.text_cid is not a CIDv1 in base32", what);
  return TRUE;
}

static gboolean
feedback_check (CairnPlugin *self, const json_t *body, GError **error)
{
  Feedback f;
  return feedback_parse (body, &f, error);
}

static gboolean
feedback_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
                GError **error)
{
  const char *what = "services.feedback";
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  Feedback f;
  char key[KEYBUF], ckey[KEYBUF];
  GError *local = NULL;
  if (!feedback_parse (body, &f, error))
    return FALSE;
  g_autoptr (json_t) svc = service_or_fail (s, tx, what, f.service, error);
  if (svc == NULL)
    return FALSE;
  g_snprintf (key, sizeof key, "ent/%s/%s", f.service, info->sender);
  g_autoptr (json_t) ent = svc_get (s, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (ent == NULL)
    return cairn_fail (
        error, CAIRN_ERROR_UNAUTHORIZED,
        "%s: %s holds no entitlement to service %s; only users "
        "who paid for it may give feedback (send services.entitle "
        "first: cairn services entitle %s --from KEY)",
        what, info->sender, f.service, f.service);
  gboolean complaint = strcmp (f.kind, "complaint") == 0;
  g_snprintf (ckey, sizeof ckey, "complaint/%s/%s", f.service, info->sender);
  if (complaint) {
    g_autoptr (json_t) prev = svc_get (s, tx, ckey, &local);
    if (local != NULL) {
      g_propagate_error (error, local);
      return FALSE;
    }
    if (prev != NULL)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "%s: %s already filed a complaint about service %s "
                         "(case %s)",
                         what, info->sender, f.service,
                         json_string_value (prev));
  }
  g_snprintf (key, sizeof key,
              "fb/%s/%020" G_GUINT64_FORMAT "-%06" G_GUINT32_FORMAT, f.service,
              info->height, info->index);
  g_autoptr (json_t) fb = json_pack (
      "{s:s,s:s,s:I,s:s,s:s,s:I,s:s}", "service", f.service, "author",
      info->sender, "rating", f.rating, "kind", f.kind, "text_sha256", f.sha,
      "height", (json_int_t)info->height, "tx", info->id);
  if (f.cid)
    json_object_set_new (fb, "text_cid", json_string (f.cid));
  if (complaint) {
    g_autoptr (json_t) p = svc_params (s, tx, error);
    if (p == NULL)
      return FALSE;
    uint64_t deadline
        = info->height + (uint64_t)int_of (p, "review_period_blocks");
    uint64_t at = deadline + (uint64_t)int_of (p, "publish_delay_blocks");
    char k2[KEYBUF];
    json_object_set_new (fb, "case", json_string (info->id));
    g_autoptr (json_t) c = json_pack (
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "id", info->id, "service",
        f.service, "complainant", info->sender, "feedback", key + 3, "opened",
        (json_int_t)info->height, "deadline", (json_int_t)deadline,
        "publish_at", (json_int_t)at, "status", "open");
    g_snprintf (k2, sizeof k2, "case/%s", info->id);
    if (!put (s, tx, k2, c, error))
      return FALSE;
    g_snprintf (k2, sizeof k2, "due/%020" G_GUINT64_FORMAT "/%s", at, info->id);
    g_autoptr (json_t) one = json_integer (1);
    g_autoptr (json_t) cid = json_string (info->id);
    if (!put (s, tx, k2, one, error) || !put (s, tx, ckey, cid, error))
      return FALSE;
    emit (s, tx, "services.case_opened",
          json_pack ("{s:s,s:s,s:I}", "case", info->id, "service", f.service,
                     "deadline", (json_int_t)deadline));
  }
  if (!put (s, tx, key, fb, error))
    return FALSE;
  emit (s, tx, "services.feedback",
        json_pack ("{s:s,s:s,s:I,s:s}", "service", f.service, "author",
                   info->sender, "rating", f.rating, "kind", f.kind));
  return TRUE;
}

/* ---- cases: review and opinion ---------------------------------------- */

static json_t *
case_or_fail (Services *s, CairnTxCtx *tx, const char *what, const char *id,
              GError **error)
{
  return record_or_fail (s, tx, what, "case", "case", "/v1/services/cases", id,
                         error);
}

static gboolean
need_regulator (Services *s, CairnTxCtx *tx, const char *what, GError **error)
{
  const char *sender = svc_host->tx_info (tx)->sender;
  if (svc_is_regulator (s, tx, sender))
    return TRUE;
  g_autoptr (json_t) p = svc_params (s, tx, NULL);
  return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                     "%s: %s does not hold the regulator role '%s'", what,
                     sender, p ? str_of (p, "regulator_role") : "?");
}

/* Publish the case's opinion (from its review, or "not_reviewed"). */
static gboolean
publish_case (Services *s, CairnTxCtx *tx, json_t *c, const char *by,
              GError **error)
{
  const CairnTxInfo *info = svc_host->tx_info (tx);
  const char *id = str_of (c, "id");
  const json_t *review = json_object_get (c, "review");
  char key[KEYBUF];
  json_t *op
      = json_pack ("{s:s,s:s,s:I,s:s}", "verdict",
                   review ? str_of (review, "verdict") : "not_reviewed", "text",
                   review ? str_of (review, "text")
                          : "no review was submitted before the "
                            "deadline",
                   "height", (json_int_t)info->height, "by", by);
  if (review)
    json_object_set_new (op, "regulator",
                         json_string (str_of (review, "regulator")));
  json_object_set_new (c, "opinion", op);
  json_object_set_new (c, "status", json_string ("published"));
  g_snprintf (key, sizeof key, "case/%s", id);
  if (!put (s, tx, key, c, error))
    return FALSE;
  g_snprintf (key, sizeof key, "due/%020" JSON_INTEGER_FORMAT "/%s",
              int_of (c, "publish_at"), id);
  if (!svc_host->state_delete (s->self, tx, key, error))
    return FALSE;
  emit (s, tx, "services.opinion_published",
        json_pack ("{s:s,s:s,s:s,s:s}", "case", id, "service",
                   str_of (c, "service"), "verdict", str_of (op, "verdict"),
                   "by", by));
  return TRUE;
}

static gboolean
review_parse (const json_t *body, const char **id, const char **verdict,
              const char **text, GError **error)
{
  const char *what = "services.review";
  if (!cairn_unpack_strict (what, body, error, "{s:s,s:s,s:s}", "case", id,
                            "verdict", verdict, "text", text)
      || !hex64_ok (what, "case", *id, error)
      || !text_ok (what, "text", *text, SVC_MAX_TEXT, error))
    return FALSE;
  if (strcmp (*verdict, "upheld") != 0 && strcmp (*verdict, "dismissed") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: body.verdict must be 'upheld' or 'dismissed' (got "
                       "'%s')",
                       what, *verdict);
  return TRUE;
}

static gboolean
review_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *a, *b, *c;
  return review_parse (body, &a, &b, &c, error);
}

static gboolean
review_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
              GError **error)
{
  const char *what = "services.review";
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  const char *id, *verdict, *text;
  char key[KEYBUF];
  if (!review_parse (body, &id, &verdict, &text, error)
      || !need_regulator (s, tx, what, error))
    return FALSE;
  g_autoptr (json_t) c = case_or_fail (s, tx, what, id, error);
  if (c == NULL)
    return FALSE;
  const char *status = str_of (c, "status");
  if (strcmp (status, "open") != 0)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT, "%s: case %s is already %s",
                       what, id, status);
  json_object_set_new (c, "review",
                       json_pack ("{s:s,s:s,s:s,s:I}", "verdict", verdict,
                                  "text", text, "regulator", info->sender,
                                  "height", (json_int_t)info->height));
  json_object_set_new (c, "status", json_string ("reviewed"));
  g_snprintf (key, sizeof key, "case/%s", id);
  if (!put (s, tx, key, c, error))
    return FALSE;
  emit (s, tx, "services.reviewed",
        json_pack ("{s:s,s:s,s:s}", "case", id, "verdict", verdict, "regulator",
                   info->sender));
  return TRUE;
}

static gboolean
opinion_parse (const json_t *body, const char **id, GError **error)
{
  const char *what = "services.publish_opinion";
  return cairn_unpack_strict (what, body, error, "{s:s}", "case", id)
         && hex64_ok (what, "case", *id, error);
}

static gboolean
opinion_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const char *id;
  return opinion_parse (body, &id, error);
}

static gboolean
opinion_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
               GError **error)
{
  const char *what = "services.publish_opinion";
  Services *s = svc_host->get_data (self);
  const CairnTxInfo *info = svc_host->tx_info (tx);
  const char *id;
  if (!opinion_parse (body, &id, error) || !need_regulator (s, tx, what, error))
    return FALSE;
  g_autoptr (json_t) c = case_or_fail (s, tx, what, id, error);
  if (c == NULL)
    return FALSE;
  const char *status = str_of (c, "status");
  json_int_t deadline = int_of (c, "deadline");
  if (strcmp (status, "published") == 0)
    return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                       "%s: the opinion on case %s is already published", what,
                       id);
  if ((json_int_t)info->height < deadline)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: the review period of case %s ends at height "
                       "%" JSON_INTEGER_FORMAT
                       " (this block is %" G_GUINT64_FORMAT
                       "); the opinion can be published from then on",
                       what, id, deadline, info->height);
  if (strcmp (status, "reviewed") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: case %s has no review yet; send services.review "
                       "first",
                       what, id);
  return publish_case (s, tx, c, info->sender, error);
}

/* ---- end_block: opinions due at this height --------------------------- */

typedef struct {
  uint64_t height;
  GPtrArray *cases;
} Due;

static gboolean
collect_due (const char *key, const uint8_t *value, size_t len, void *data)
{
  Due *d = data;
  /* "due/<20 digits>/<case>" */
  if (strlen (key) != 4 + 20 + 1 + 64)
    return TRUE;
  guint64 at = g_ascii_strtoull (key + 4, NULL, 10);
  if (at > d->height)
    return FALSE; /* sorted: nothing later is due */
  g_ptr_array_add (d->cases, g_strdup (key + 25));
  return TRUE;
}

/* "unl/<20 digits>/<account 40>/<service 64>" due by d->height. */
static gboolean
collect_unlocks (const char *key, const uint8_t *value, size_t len, void *data)
{
  Due *d = data;
  if (strlen (key) != 4 + 20 + 1 + 40 + 1 + 64)
    return TRUE;
  if (g_ascii_strtoull (key + 4, NULL, 10) > d->height)
    return FALSE;
  g_ptr_array_add (d->cases, g_strdup (key));
  return TRUE;
}

/* A stake entitlement ends: the price is unlocked and the entitlement
 * removed. */
static gboolean
release_stake (Services *s, CairnTxCtx *tx, const char *ukey, GError **error)
{
  g_autofree char *account = g_strndup (ukey + 25, 40);
  const char *id = ukey + 66;
  char key[KEYBUF];
  GError *local = NULL;
  g_snprintf (key, sizeof key, "ent/%s/%s", id, account);
  g_autoptr (json_t) ent = svc_get (s, tx, key, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (ent != NULL) {
    if (!s->bank->unlock (s->self, tx, account, str_of (ent, "denom"),
                          (uint64_t)int_of (ent, "amount"), error)) {
      g_prefix_error (error, "services: releasing the stake of %s: ", account);
      return FALSE;
    }
    if (!svc_host->state_delete (s->self, tx, key, error))
      return FALSE;
    g_snprintf (key, sizeof key, "acct/%s/%s", account, id);
    if (!svc_host->state_delete (s->self, tx, key, error))
      return FALSE;
    emit (s, tx, "services.stake_released",
          json_pack ("{s:s,s:s,s:s,s:I}", "service", id, "account", account,
                     "denom", str_of (ent, "denom"), "amount",
                     int_of (ent, "amount")));
  }
  return svc_host->state_delete (s->self, tx, ukey, error);
}

static gboolean
services_end_block (CairnPlugin *self, CairnTxCtx *tx, GError **error)
{
  Services *s = svc_host->get_data (self);
  g_autoptr (GPtrArray) unlocks = g_ptr_array_new_with_free_func (g_free);
  Due u = { svc_host->tx_info (tx)->height, unlocks };
  if (!svc_host->state_iter (self, tx, NULL, "unl/", collect_unlocks, &u,
                             error))
    return FALSE;
  for (guint i = 0; i < unlocks->len; i++)
    if (!release_stake (s, tx, unlocks->pdata[i], error))
      return FALSE;
  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
  Due d = { svc_host->tx_info (tx)->height, cases };
  if (!svc_host->state_iter (self, tx, NULL, "due/", collect_due, &d, error))
    return FALSE;
  for (guint i = 0; i < cases->len; i++) {
    g_autoptr (json_t) c
        = case_or_fail (s, tx, "end_block", cases->pdata[i], error);
    if (c == NULL || !publish_case (s, tx, c, "auto", error))
      return FALSE;
  }
  return TRUE;
}

static const CairnAppIface app_iface = {
  .iface_version = CAIRN_APP_IFACE_VERSION,
  .genesis = services_genesis,
  .end_block = services_end_block,
};

#define HANDLER(name)                                                          \
  static const CairnTxHandler name##_handler = {                               \
    .iface_version = CAIRN_TX_HANDLER_VERSION,                                 \
    .check = name##_check,                                                     \
    .apply = name##_apply,                                                     \
  }
HANDLER (register);
HANDLER (publish);
HANDLER (entitle);
HANDLER (feedback);
HANDLER (review);
HANDLER (opinion);

gboolean
svc_register_txs (Services *s, GError **error)
{
  const struct {
    const char *type;
    const CairnTxHandler *h;
  } types[] = {
    { "services.register_provider", &register_handler },
    { "services.publish", &publish_handler },
    { "services.entitle", &entitle_handler },
    { "services.feedback", &feedback_handler },
    { "services.review", &review_handler },
    { "services.publish_opinion", &opinion_handler },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (!svc_host->register_tx_type (s->self, types[i].type, types[i].h,
                                     sizeof *types[i].h, error))
      return FALSE;
  return svc_host->register_app (s->self, &app_iface, sizeof app_iface, error);
}

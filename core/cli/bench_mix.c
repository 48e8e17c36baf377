/* cairn bench --mix: the table of tx types (see bench_mix.h). */
#include "bench_mix.h"

#include <string.h>

#include "cli.h"
#include "tx.h"

#define MAX_WEIGHT_SUM 10000

typedef json_t *(*BodyFn) (const BenchMix *mix, const BenchMixCtx *ctx);

typedef enum {
  SETUP_NONE,
  SETUP_PROVIDER, /* services: each sender a registered provider */
  SETUP_IM,       /* im: each sender registered, allowing strangers */
  SETUP_MARKET,   /* market: one service, each sender an app node serving it */
} Setup;

typedef struct {
  const char *name; /* --mix name = tx type; "metering.*" = a prefix */
  BodyFn body;      /* NULL: not yet */
  Setup setup;
  const char *not_yet; /* why not, when body is NULL */
} MixType;

#define IM_MESSAGE_SIZE 1024

struct BenchMix {
  char tag[9];      /* random: names and digests differ from run to run */
  char *store;      /* node0's address: im.send's store */
  char service[65]; /* market.usage: the service every sender serves */
  GArray *types;    /* guint: index into TYPES */
  GArray *weights;  /* guint */
  guint *cycle;     /* sum of weights entries: type index per position */
  guint cycle_len;
};

static json_t *
bank_transfer (const BenchMix *mix, const BenchMixCtx *ctx)
{
  return json_pack ("{s:s, s:s, s:i}", "to", ctx->to, "denom", "cairn",
                    "amount", 1);
}

/* Content digests unique per tx of the run. */
static void
digests (const BenchMix *mix, const char *what, guint64 i, uint8_t sha[32],
         char **sha_hex, char **cid)
{
  g_autofree char *seed = g_strdup_printf (
      "cairn bench %s %s %" G_GUINT64_FORMAT, mix->tag, what, i);
  uint8_t cid_digest[32];
  cairn_sha256 (seed, strlen (seed), sha);
  cairn_sha256 (sha, 32, cid_digest);
  *sha_hex = cairn_hex_encode (sha, 32);
  *cid = cairn_cid_raw_sha256 (cid_digest);
}

/* A service digest: what a provider records of each delivered service
 * (the encrypted video stays off chain; the chain checks the syntax). */
static json_t *
services_publish (const BenchMix *mix, const BenchMixCtx *ctx)
{
  uint8_t sha[32];
  g_autofree char *sha_hex = NULL, *cid = NULL;
  digests (mix, "video", ctx->i, sha, &sha_hex, &cid);
  return json_pack ("{s:s, s:s, s:I, s:{s:s, s:i}, s:{s:s, s:s, s:i, s:s, "
                    "s:{s:s, s:i}}}",
                    "place", "bench", "type", "tour", "time",
                    (json_int_t)(g_get_real_time () / 1000), "price", "denom",
                    "cairn", "amount", 1, "video", "cid", cid, "sha256",
                    sha_hex, "size", 1 << 20, "content_type", "video/mp4",
                    "enc", "alg", "aes-256-gcm-seg64k", "segment_size", 65536);
}

/* An im message record: the ciphertext would be in node0's blob store
 * (the chain does not look; POST /v1/im/messages would). */
static json_t *
im_send (const BenchMix *mix, const BenchMixCtx *ctx)
{
  uint8_t sha[32];
  g_autofree char *sha_hex = NULL, *cid = NULL;
  digests (mix, "message", ctx->i, sha, &sha_hex, &cid);
  json_t *body = json_pack (
      "{s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "to", ctx->to, "kind", "text",
      "cid", cid, "content_sha256", sha_hex, "size", IM_MESSAGE_SIZE,
      "timestamp", (json_int_t)(g_get_real_time () / 1000), "store",
      mix->store ? mix->store : "");
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (body, &len, NULL);
  uint8_t sig[64] = { 0 };
  if (msg)
    cairn_key_sign (ctx->key, "cairn.im.message", msg, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  json_object_set_new (body, "sig", json_string (sig_hex));
  return body;
}

/* A usage report of one user (a fresh address per tx: one report per
 * node, service, user and period) in period 0, which the bench's genesis
 * makes last 10^8 blocks. */
static json_t *
market_usage (const BenchMix *mix, const BenchMixCtx *ctx)
{
  uint8_t sha[32];
  g_autofree char *sha_hex = NULL, *cid = NULL;
  digests (mix, "user", ctx->i, sha, &sha_hex, &cid);
  sha_hex[40] = '\0';
  return json_pack ("{s:i, s:[{s:s, s:s, s:i, s:i}]}", "period", 0, "records",
                    "service", mix->service, "user", sha_hex, "calls", 1,
                    "duration", 60);
}

static const MixType TYPES[] = {
  { "bank.transfer", bank_transfer, SETUP_NONE, NULL },
  { "services.publish", services_publish, SETUP_PROVIDER, NULL },
  { "im.send", im_send, SETUP_IM, NULL },
  { "market.usage", market_usage, SETUP_MARKET, NULL },
  { "services.feedback", NULL, SETUP_NONE,
    "needs an entitlement (a paid services.entitle) per sender and service "
    "first; the bench measures service digests with services.publish" },
  { "metering.", NULL, SETUP_NONE,
    "metering proofs carry a t-of-n threshold signature (FROST or multisig) "
    "by the meter centers over each aggregate; the bench has no meter "
    "centers to sign them" },
};

void
bench_mix_free (BenchMix *mix)
{
  if (mix == NULL)
    return;
  g_array_unref (mix->types);
  g_array_unref (mix->weights);
  g_free (mix->cycle);
  g_free (mix->store);
  g_free (mix);
}

static const MixType *
find_type (const char *name)
{
  for (guint t = 0; t < G_N_ELEMENTS (TYPES); t++)
    if (g_str_equal (TYPES[t].name, name)
        || (g_str_has_suffix (TYPES[t].name, ".")
            && g_str_has_prefix (name, TYPES[t].name)))
      return &TYPES[t];
  return NULL;
}

static gboolean usage (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
usage (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE, msg);
  return FALSE;
}

static gboolean
add_type (BenchMix *mix, const char *item, GError **error)
{
  const char *eq = strchr (item, '=');
  if (eq == NULL || eq == item)
    return usage (error, "--mix: '%s' is not TYPE=WEIGHT", item);
  g_autofree char *name = g_strndup (item, eq - item);
  guint64 w = 0;
  g_autoptr (GError) local = NULL;
  if (!g_ascii_string_to_unsigned (eq + 1, 10, 1, MAX_WEIGHT_SUM, &w, &local))
    return usage (error,
                  "--mix: the weight of %s must be an integer 1..%d, "
                  "not '%s'",
                  name, MAX_WEIGHT_SUM, eq + 1);
  const MixType *t = find_type (name);
  if (t == NULL)
    return usage (error,
                  "--mix: unknown tx type '%s' (known: bank.transfer, "
                  "services.feedback, market.usage, im.send, metering.*)",
                  name);
  if (t->body == NULL)
    return usage (error, "--mix: not yet: %s %s", name, t->not_yet);
  guint idx = (guint)(t - TYPES);
  for (guint k = 0; k < mix->types->len; k++)
    if (g_array_index (mix->types, guint, k) == idx)
      return usage (error, "--mix: %s is given twice", name);
  guint wi = (guint)w;
  g_array_append_val (mix->types, idx);
  g_array_append_val (mix->weights, wi);
  return TRUE;
}

/* Smooth weighted round robin over one cycle: each type's share of every
 * prefix stays within one tx of its weight. */
static void
build_cycle (BenchMix *mix)
{
  guint n = mix->types->len, total = 0;
  for (guint k = 0; k < n; k++)
    total += g_array_index (mix->weights, guint, k);
  mix->cycle_len = total;
  mix->cycle = g_new (guint, total);
  g_autofree gint64 *current = g_new0 (gint64, n);
  for (guint pos = 0; pos < total; pos++) {
    guint best = 0;
    for (guint k = 0; k < n; k++) {
      current[k] += g_array_index (mix->weights, guint, k);
      if (current[k] > current[best])
        best = k;
    }
    current[best] -= total;
    mix->cycle[pos] = best;
  }
}

BenchMix *
bench_mix_parse (const char *spec, guint tx_size, GError **error)
{
  g_autoptr (BenchMix) mix = g_new0 (BenchMix, 1);
  g_snprintf (mix->tag, sizeof mix->tag, "%08x", g_random_int ());
  mix->types = g_array_new (FALSE, FALSE, sizeof (guint));
  mix->weights = g_array_new (FALSE, FALSE, sizeof (guint));
  if (spec == NULL)
    spec = "bank.transfer=1";
  g_auto (GStrv) items = g_strsplit (spec, ",", -1);
  guint64 total = 0;
  for (guint k = 0; items[k]; k++) {
    g_strstrip (items[k]);
    if (!add_type (mix, items[k], error))
      return NULL;
    total += g_array_index (mix->weights, guint, mix->types->len - 1);
  }
  if (mix->types->len == 0) {
    usage (error, "--mix is empty (e.g. --mix bank.transfer=1)");
    return NULL;
  }
  if (total > MAX_WEIGHT_SUM) {
    usage (error,
           "--mix: the weights add up to %" G_GUINT64_FORMAT ", more than %d",
           total, MAX_WEIGHT_SUM);
    return NULL;
  }
  if (tx_size > 0
      && (mix->types->len != 1 || g_array_index (mix->types, guint, 0) != 0)) {
    /* Only bank.transfer has a free-text field (memo) to pad. */
    g_autofree char *names = NULL;
    for (guint k = 0; k < mix->types->len; k++)
      if (g_array_index (mix->types, guint, k) != 0) {
        names = g_strdup (TYPES[g_array_index (mix->types, guint, k)].name);
        break;
      }
    usage (error,
           "--tx-size pads bank.transfer's memo, so it takes only --mix "
           "bank.transfer=W alone; %s has no field to pad",
           names);
    return NULL;
  }
  build_cycle (mix);
  return g_steal_pointer (&mix);
}

guint
bench_mix_n (const BenchMix *mix)
{
  return mix->types->len;
}

const char *
bench_mix_name (const BenchMix *mix, guint k)
{
  return TYPES[g_array_index (mix->types, guint, k)].name;
}

guint
bench_mix_weight (const BenchMix *mix, guint k)
{
  return g_array_index (mix->weights, guint, k);
}

guint
bench_mix_pick (const BenchMix *mix, guint64 i)
{
  return mix->cycle[i % mix->cycle_len];
}

json_t *
bench_mix_body (const BenchMix *mix, guint k, const BenchMixCtx *ctx)
{
  return TYPES[g_array_index (mix->types, guint, k)].body (mix, ctx);
}

json_t *
bench_mix_json (const BenchMix *mix)
{
  json_t *out = json_object ();
  for (guint k = 0; k < mix->types->len; k++)
    json_object_set_new (out, bench_mix_name (mix, k),
                         json_integer (bench_mix_weight (mix, k)));
  return out;
}

static gboolean
has_setup (const BenchMix *mix, Setup setup)
{
  for (guint k = 0; k < mix->types->len; k++)
    if (TYPES[g_array_index (mix->types, guint, k)].setup == setup)
      return TRUE;
  return FALSE;
}

gboolean
bench_mix_plain (const BenchMix *mix)
{
  return !has_setup (mix, SETUP_PROVIDER) && !has_setup (mix, SETUP_IM)
         && !has_setup (mix, SETUP_MARKET);
}

static void
add_role (json_t *genesis, const char *address, const char *role)
{
  size_t i;
  json_t *acc;
  json_array_foreach (json_object_get (genesis, "accounts"), i, acc)
  {
    if (g_strcmp0 (json_string_value (json_object_get (acc, "address")),
                   address)
        != 0)
      continue;
    json_t *roles = json_object_get (acc, "roles");
    if (!json_is_array (roles)) {
      roles = json_array ();
      json_object_set_new (acc, "roles", roles);
    }
    for (size_t k = 0; k < json_array_size (roles); k++)
      if (g_strcmp0 (json_string_value (json_array_get (roles, k)), role) == 0)
        return;
    json_array_append_new (roles, json_string (role));
    return;
  }
}

void
bench_mix_genesis (BenchMix *mix, json_t *genesis, CairnKey *const *senders,
                   guint n, const char *node0_address)
{
  g_free (mix->store);
  mix->store = g_strdup (node0_address);
  if (has_setup (mix, SETUP_PROVIDER))
    for (guint s = 0; s < n; s++)
      add_role (genesis, cairn_key_address (senders[s]), "platform");
  if (has_setup (mix, SETUP_IM))
    add_role (genesis, node0_address, "im_registrar");
  if (has_setup (mix, SETUP_MARKET)) {
    add_role (genesis, cairn_key_address (senders[0]), "platform");
    for (guint s = 0; s < n; s++)
      add_role (genesis, cairn_key_address (senders[s]), "app_node");
    json_t *app = json_object_get (genesis, "app_state");
    if (!json_is_object (app)) {
      app = json_object ();
      json_object_set_new (genesis, "app_state", app);
    }
    json_t *market = json_object_get (app, "market");
    if (!json_is_object (market)) {
      market = json_object ();
      json_object_set_new (app, "market", market);
    }
    /* Period 0 outlasts any run: signed-ahead reports stay current. */
    json_object_set_new (market, "epoch_blocks", json_integer (100000000));
  }
}

gboolean
bench_commit_txs (CairnClient *client, GPtrArray *txs, const char *what,
                  GError **error)
{
  for (guint first = 0; first < txs->len; first += 500) {
    guint last = MIN (first + 500, txs->len);
    g_autoptr (GString) body = g_string_new ("[");
    for (guint k = first; k < last; k++) {
      CairnTx *tx = txs->pdata[k];
      if (k > first)
        g_string_append_c (body, ',');
      g_string_append_len (body, tx->bytes, tx->len);
    }
    g_string_append_c (body, ']');
    g_autoptr (json_t) reply
        = cairn_client_post (client, "/v1/txs", body->str, body->len, error);
    if (reply == NULL)
      return FALSE;
    json_t *results = json_object_get (reply, "results");
    for (guint k = first; k < last; k++) {
      json_t *err
          = json_object_get (json_array_get (results, k - first), "error");
      if (err) {
        g_autofree char *text = cairn_cli_json_text (err);
        g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                     "bench: %s %s refused by the node: %s", what,
                     ((CairnTx *)txs->pdata[k])->id_hex, text);
        return FALSE;
      }
    }
  }
  for (guint k = 0; k < txs->len; k++) {
    CairnTx *tx = txs->pdata[k];
    g_autoptr (json_t) done
        = cairn_client_wait_tx (client, tx->id_hex, 60, error);
    g_autofree char *why = NULL;
    if (done == NULL)
      return FALSE;
    if (!cairn_client_tx_result_ok (done, &why)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "bench: %s %s failed: %s", what, tx->id_hex, why);
      return FALSE;
    }
  }
  return TRUE;
}

/* POST /v1/im/registrations for each sender at the registrar (node0),
 * then wait for every im.register to commit. */
static gboolean
im_register (BenchMix *mix, CairnClient *client, CairnKey *const *senders,
             guint n, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint s = 0; s < n; s++) {
    uint8_t enc[32];
    for (guint k = 0; k < 32; k++)
      enc[k] = (uint8_t)g_random_int_range (1, 256);
    g_autofree char *enc_hex = cairn_hex_encode (enc, 32);
    g_autofree char *name = g_strdup_printf ("bench-%s-%u", mix->tag, s);
    g_autoptr (json_t) req
        = json_pack ("{s:s, s:s, s:I}", "name", name, "enc_pubkey", enc_hex,
                     "timestamp", (json_int_t)(g_get_real_time () / 1000));
    size_t len;
    g_autofree char *msg = cairn_cjson_dump (req, &len, error);
    if (msg == NULL)
      return FALSE;
    uint8_t sig[64];
    cairn_key_sign (senders[s], "cairn.im.register", msg, len, sig);
    g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
    g_autofree char *pk_hex
        = cairn_hex_encode (cairn_key_pubkey (senders[s]), 32);
    g_autoptr (json_t) post = json_pack ("{s:O, s:s, s:s}", "request", req,
                                         "pubkey", pk_hex, "sig", sig_hex);
    g_autofree char *text = json_dumps (post, JSON_COMPACT | JSON_SORT_KEYS);
    g_autoptr (json_t) reply = cairn_client_post (
        client, "/v1/im/registrations", text, strlen (text), error);
    const char *id = json_string_value (json_object_get (reply, "tx"));
    if (reply == NULL || id == NULL) {
      if (reply)
        g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                     "POST /v1/im/registrations: no \"tx\" in the reply");
      g_prefix_error (error, "bench setup: registering %s for im.send: ", name);
      return FALSE;
    }
    g_ptr_array_add (ids, g_strdup (id));
  }
  for (guint k = 0; k < ids->len; k++) {
    g_autoptr (json_t) done
        = cairn_client_wait_tx (client, ids->pdata[k], 60, error);
    g_autofree char *why = NULL;
    if (done == NULL)
      return FALSE;
    if (!cairn_client_tx_result_ok (done, &why)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "bench setup: im.register %s failed: %s",
                   (char *)ids->pdata[k], why);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
bench_mix_setup (BenchMix *mix, CairnClient *client, const char *chain_id,
                 CairnKey *const *senders, guint n, uint64_t *nonce,
                 GError **error)
{
  if (has_setup (mix, SETUP_PROVIDER)) {
    g_autoptr (GPtrArray) txs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    for (guint s = 0; s < n; s++) {
      g_autofree char *name = g_strdup_printf ("bench provider %u", s);
      g_autoptr (json_t) body
          = json_pack ("{s:s, s:s}", "address", cairn_key_address (senders[s]),
                       "name", name);
      CairnTx *tx
          = cairn_tx_sign (senders[s], chain_id, "services.register_provider",
                           nonce[s]++, body, error);
      if (tx == NULL)
        return FALSE;
      g_ptr_array_add (txs, tx);
    }
    if (!bench_commit_txs (client, txs, "services.register_provider", error))
      return FALSE;
  }
  if (has_setup (mix, SETUP_MARKET)) {
    /* Sender 0 (platform) creates the service, every sender serves it. */
    uint8_t sha[32];
    g_autofree char *sha_hex = NULL, *cid = NULL;
    digests (mix, "package", 0, sha, &sha_hex, &cid);
    g_autoptr (json_t) create = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:s}", "developer",
        cairn_key_address (senders[0]), "name", "cairn bench", "category",
        "bench", "version", "1", "package_cid", cid, "package_sha256", sha_hex);
    g_autoptr (GPtrArray) one
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    CairnTx *tx = cairn_tx_sign (senders[0], chain_id, "market.create",
                                 nonce[0]++, create, error);
    if (tx == NULL)
      return FALSE;
    g_ptr_array_add (one, tx);
    if (!bench_commit_txs (client, one, "market.create", error))
      return FALSE;
    g_strlcpy (mix->service, tx->id_hex, sizeof mix->service);
    g_autoptr (GPtrArray) txs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    g_autoptr (json_t) serve = json_pack ("{s:s}", "service", mix->service);
    for (guint s = 0; s < n; s++) {
      CairnTx *t = cairn_tx_sign (senders[s], chain_id, "market.serve",
                                  nonce[s]++, serve, error);
      if (t == NULL)
        return FALSE;
      g_ptr_array_add (txs, t);
    }
    if (!bench_commit_txs (client, txs, "market.serve", error))
      return FALSE;
  }
  if (has_setup (mix, SETUP_IM)) {
    if (!im_register (mix, client, senders, n, error))
      return FALSE;
    g_autoptr (GPtrArray) txs
        = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
    g_autoptr (json_t) body = json_pack ("{s:b}", "allow_strangers", 1);
    for (guint s = 0; s < n; s++) {
      CairnTx *tx = cairn_tx_sign (senders[s], chain_id, "im.settings",
                                   nonce[s]++, body, error);
      if (tx == NULL)
        return FALSE;
      g_ptr_array_add (txs, tx);
    }
    if (!bench_commit_txs (client, txs, "im.settings", error))
      return FALSE;
  }
  return TRUE;
}

guint
bench_mix_min_accounts (const BenchMix *mix)
{
  return has_setup (mix, SETUP_IM) ? 2 : 1;
}

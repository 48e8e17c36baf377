/* solo: single-validator consensus for development.
 *
 * The node whose key is the only genesis validator builds a block shortly
 * after txs arrive (batch_delay_ms), signs its hash and commits it at once;
 * when idle it makes an empty block every empty_block_interval_ms. The
 * certificate is {"type":"solo","validator","pubkey","sig"}, sig being
 * Ed25519 (domain SOLO_DOMAIN) over the 32 raw bytes of the block hash.
 *
 * Written only against the public SDK. Everything runs on the main loop. */
#include <string.h>

#include <cairn/cairn.h>

#define SOLO_DOMAIN "cairn/solo/v1"
/* Back-off after a failed build while txs wait: 250 ms doubling to 10 s. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 10000

typedef struct Solo {
  CairnPlugin *self;
  int64_t empty_interval_ms; /* 0 = never */
  int64_t batch_delay_ms;
  int64_t max_block_txs; /* 0 = core default */
  gboolean follow;       /* a follower: verifies and syncs, never builds */
  char validator[41];    /* the genesis validator */
  uint8_t pubkey[32];
  char pubkey_hex[65];
  guint build_timer;
  guint empty_timer;
  guint failures; /* consecutive failed builds */
  gboolean running;
} Solo;

/* The core's host table lives as long as the process (see host.h). */
static const CairnHost *host;

static void schedule_build (Solo *s, uint32_t delay_ms);
static void schedule_empty (Solo *s);

/* ---- building --------------------------------------------------------- */

static json_t *
make_certificate (Solo *s, const CairnBlockInfo *info, GError **error)
{
  uint8_t hash[32], sig[64];
  if (!cairn_hex_decode (info->hash, hash, sizeof hash)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "block %" G_GUINT64_FORMAT ": hash '%s' is not 64 hex digits",
                 info->height, info->hash);
    return NULL;
  }
  if (!host->node_sign (s->self, SOLO_DOMAIN, hash, sizeof hash, sig, error))
    return NULL;
  g_autofree char *sig_hex = cairn_hex_encode (sig, sizeof sig);
  return json_pack ("{s:s,s:s,s:s,s:s}", "type", "solo", "validator",
                    s->validator, "pubkey", s->pubkey_hex, "sig", sig_hex);
}

/* Build, sign and commit one block. Errors are logged, never fatal. */
static void
build_block (Solo *s, gboolean allow_empty)
{
  g_autoptr (GError) error = NULL;
  const CairnChainHead *head = host->chain_head (s->self);
  uint64_t height = head != NULL ? head->height + 1 : 0;
  CairnBuildOpts opts = {
    .size = sizeof opts,
    .max_txs = (uint32_t)s->max_block_txs,
    .allow_empty = allow_empty,
  };
  CairnBlock *block = host->block_build (s->self, &opts, &error);
  if (block == NULL) {
    if (error == NULL)
      return; /* nothing to do */
    cairn_log (host, s->self, G_LOG_LEVEL_WARNING,
               "could not build block %" G_GUINT64_FORMAT ": %s", height,
               error->message);
    goto failed;
  }
  const CairnBlockInfo *info = host->block_info (block);
  height = info->height;
  json_t *cert = make_certificate (s, info, &error);
  if (cert == NULL) {
    host->block_discard (s->self, block);
    cairn_log (host, s->self, G_LOG_LEVEL_WARNING,
               "could not sign block %" G_GUINT64_FORMAT ": %s", height,
               error->message);
    goto failed;
  }
  gboolean ok = host->block_commit (s->self, block, cert, &error);
  json_decref (cert);
  if (!ok) {
    cairn_log (host, s->self, G_LOG_LEVEL_WARNING,
               "could not commit block %" G_GUINT64_FORMAT ": %s", height,
               error->message);
    goto failed;
  }
  s->failures = 0;
  schedule_empty (s);
  if (host->mempool_size (s->self) > 0)
    schedule_build (s, 0);
  return;

failed:
  s->failures++;
  schedule_empty (s);
  if (host->mempool_size (s->self) > 0) {
    guint shift = MIN (s->failures - 1, 6u);
    schedule_build (s, MIN ((uint32_t)RETRY_MIN_MS << shift, RETRY_MAX_MS));
  }
}

static gboolean
build_timer_cb (CairnPlugin *self, void *user_data)
{
  Solo *s = user_data;
  s->build_timer = 0; /* one-shot: FALSE below removes it */
  if (s->running)
    build_block (s, FALSE);
  return FALSE;
}

static gboolean
empty_timer_cb (CairnPlugin *self, void *user_data)
{
  Solo *s = user_data;
  s->empty_timer = 0;
  if (s->running)
    build_block (s, TRUE);
  return FALSE;
}

/* At most one build pending; an earlier deadline does not replace it. */
static void
schedule_build (Solo *s, uint32_t delay_ms)
{
  if (!s->running || s->build_timer != 0)
    return;
  s->build_timer = host->timer_add (s->self, delay_ms, build_timer_cb, s);
}

/* (Re)start the idle countdown to the next empty block. */
static void
schedule_empty (Solo *s)
{
  if (!s->running || s->empty_interval_ms == 0)
    return;
  if (s->empty_timer != 0)
    host->timer_remove (s->self, s->empty_timer);
  s->empty_timer = host->timer_add (s->self, (uint32_t)s->empty_interval_ms,
                                    empty_timer_cb, s);
}

static void
solo_on_txs_available (CairnPlugin *self)
{
  Solo *s = host->get_data (self);
  if (s != NULL)
    schedule_build (s, (uint32_t)s->batch_delay_ms);
}

/* ---- certificates ----------------------------------------------------- */

static gboolean
cert_string (const json_t *cert, const char *field, const char **out,
             GError **error)
{
  const json_t *v = json_object_get (cert, field);
  if (!json_is_string (v)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field '%s' %s", field,
                 v == NULL ? "is missing" : "must be a string");
    return FALSE;
  }
  *out = json_string_value (v);
  return TRUE;
}

static gboolean
solo_verify_certificate (CairnPlugin *self, const CairnBlockInfo *block,
                         const json_t *cert, GError **error)
{
  Solo *s = host->get_data (self);
  const char *type, *validator, *pubkey, *sig_hex, *key;
  const json_t *v;
  uint8_t pk[32], sig[64], hash[32];
  char pk_address[41];

  if (!json_is_object (cert)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate of block %" G_GUINT64_FORMAT
                 ": must be an object",
                 block->height);
    return FALSE;
  }
  json_object_foreach ((json_t *)cert, key, v)
  {
    if (strcmp (key, "type") != 0 && strcmp (key, "validator") != 0
        && strcmp (key, "pubkey") != 0 && strcmp (key, "sig") != 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "solo certificate: unknown field '%s' (allowed: type, "
                   "validator, pubkey, sig)",
                   key);
      goto fail;
    }
  }
  if (!cert_string (cert, "type", &type, error)
      || !cert_string (cert, "validator", &validator, error)
      || !cert_string (cert, "pubkey", &pubkey, error)
      || !cert_string (cert, "sig", &sig_hex, error))
    goto fail;
  if (strcmp (type, "solo") != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'type' is '%s', expected 'solo'",
                 type);
    goto fail;
  }
  if (strcmp (validator, s->validator) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'validator' is '%s', but the "
                 "genesis validator is '%s'",
                 validator, s->validator);
    goto fail;
  }
  if (!cairn_hex_decode (pubkey, pk, sizeof pk)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'pubkey' is not 64 hex digits");
    goto fail;
  }
  host->address_from_pubkey (pk, pk_address);
  if (memcmp (pk, s->pubkey, sizeof pk) != 0
      || strcmp (pk_address, validator) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'pubkey' is '%s' (address %s), but "
                 "the genesis validator %s has pubkey '%s'",
                 pubkey, pk_address, s->validator, s->pubkey_hex);
    goto fail;
  }
  if (block->proposer == NULL || strcmp (block->proposer, s->validator) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo: block proposer is '%s', but only the genesis "
                 "validator '%s' makes blocks",
                 block->proposer != NULL ? block->proposer : "(null)",
                 s->validator);
    goto fail;
  }
  if (!cairn_hex_decode (sig_hex, sig, sizeof sig)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'sig' is not 128 hex digits");
    goto fail;
  }
  if (!cairn_hex_decode (block->hash, hash, sizeof hash)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo: block hash '%s' is not 64 hex digits", block->hash);
    goto fail;
  }
  if (!host->ed25519_verify (pk, SOLO_DOMAIN, hash, sizeof hash, sig)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "solo certificate: field 'sig' is not %s's signature of "
                 "block hash %s",
                 validator, block->hash);
    goto fail;
  }
  return TRUE;
fail:
  g_prefix_error (error, "block %" G_GUINT64_FORMAT ": ", block->height);
  return FALSE;
}

static const CairnConsensusIface solo_iface = {
  .iface_version = CAIRN_CONSENSUS_IFACE_VERSION,
  .on_txs_available = solo_on_txs_available,
  .verify_certificate = solo_verify_certificate,
};

/* ---- lifecycle -------------------------------------------------------- */

/* genesis["validators"] must hold exactly one {address, pubkey}. */
static gboolean
read_validator (Solo *s, const json_t *genesis, GError **error)
{
  const json_t *vals = json_object_get (genesis, "validators");
  const char *address, *pubkey;
  char derived[41];
  if (!json_is_array (vals) || json_array_size (vals) != 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "solo: genesis.json: validators: solo needs exactly one "
                 "validator, found %zu; use a multi-validator engine (pos) "
                 "or a genesis with one validator",
                 json_is_array (vals) ? json_array_size (vals) : 0);
    return FALSE;
  }
  const json_t *v = json_array_get (vals, 0);
  address = json_string_value (json_object_get (v, "address"));
  pubkey = json_string_value (json_object_get (v, "pubkey"));
  if (address == NULL || !host->address_valid (address)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "solo: genesis.json: validators[0].address: must be an "
                 "address");
    return FALSE;
  }
  if (pubkey == NULL || !cairn_hex_decode (pubkey, s->pubkey, 32)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "solo: genesis.json: validators[0].pubkey: must be 64 hex "
                 "digits");
    return FALSE;
  }
  host->address_from_pubkey (s->pubkey, derived);
  if (strcmp (derived, address) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "solo: genesis.json: validators[0]: pubkey belongs to "
                 "address %s, not %s",
                 derived, address);
    return FALSE;
  }
  g_strlcpy (s->validator, address, sizeof s->validator);
  g_autofree char *hex = cairn_hex_encode (s->pubkey, 32);
  g_strlcpy (s->pubkey_hex, hex, sizeof s->pubkey_hex);
  return TRUE;
}

static gboolean
solo_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  g_autofree Solo *s = g_new0 (Solo, 1);
  s->self = self;
  if (!host->config_int (self, "empty_block_interval_ms", 1000, 0, 86400000,
                         &s->empty_interval_ms, error)
      || !host->config_int (self, "batch_delay_ms", 5, 0, 60000,
                            &s->batch_delay_ms, error)
      || !host->config_int (self, "max_block_txs", 0, 0, 10000000,
                            &s->max_block_txs, error)
      || !host->config_bool (self, "follow", FALSE, &s->follow, error)
      || !read_validator (s, host->genesis (self), error)
      || !host->register_consensus (self, &solo_iface, sizeof solo_iface,
                                    error))
    return FALSE;
  host->set_data (self, g_steal_pointer (&s));
  return TRUE;
}

static gboolean
solo_start (CairnPlugin *self, GError **error)
{
  Solo *s = host->get_data (self);
  const char *me = host->node_address (self);
  if (s->follow) {
    /* Blocks come from the validator over P2P; the core checks each with
     * verify_certificate. This node only serves and relays. */
    cairn_log (host, self, G_LOG_LEVEL_INFO,
               "solo follower: blocks come from validator %s", s->validator);
    return TRUE;
  }
  if (me == NULL || strcmp (me, s->validator) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "solo: this node's key has address %s, but the only "
                 "genesis validator is %s; run solo with the validator's "
                 "node key or a genesis made for this key, or set [solo] "
                 "follow = true to follow the validator over P2P",
                 me != NULL ? me : "(none)", s->validator);
    return FALSE;
  }
  s->running = TRUE;
  cairn_log (host, self, G_LOG_LEVEL_INFO,
             "solo validator %s: batch %" G_GINT64_FORMAT
             " ms, empty blocks every %" G_GINT64_FORMAT " ms (0 = never)",
             s->validator, s->batch_delay_ms, s->empty_interval_ms);
  schedule_empty (s);
  if (host->mempool_size (self) > 0)
    schedule_build (s, (uint32_t)s->batch_delay_ms);
  return TRUE;
}

static void
solo_stop (CairnPlugin *self)
{
  Solo *s = host->get_data (self);
  if (s == NULL)
    return;
  s->running = FALSE;
  if (s->build_timer != 0)
    host->timer_remove (self, s->build_timer);
  if (s->empty_timer != 0)
    host->timer_remove (self, s->empty_timer);
  s->build_timer = s->empty_timer = 0;
}

static void
solo_fini (CairnPlugin *self)
{
  solo_stop (self);
  g_free (host->get_data (self));
  host->set_data (self, NULL);
}

CAIRN_PLUGIN_DEFINE (solo, .id = "solo", .version = "0.1.0", .vendor = "Cairn",
                     .license = "Apache-2.0",
                     .description = "Single-validator consensus for "
                                    "development",
                     .kinds = CAIRN_KIND_CONSENSUS, .init = solo_init,
                     .start = solo_start, .stop = solo_stop, .fini = solo_fini)

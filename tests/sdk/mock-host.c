/* In-memory host table for driving plugins in tests; see mock-host.h. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mock-host.h"

struct CairnPlugin {
  MockNode *node;
  char *id;
  const CairnPluginDescriptor *desc; /* NULL for a pseudo caller */
  void *data;
  GHashTable *config;      /* key -> value */
  GHashTable *config_read; /* keys read */
};

struct CairnTxCtx {
  MockNode *node;
  GTree *writes; /* full key -> GBytes*, NULL value = deleted */
  CairnTxInfo info;
  char sender[41];
  json_t *events;
};

struct CairnBlock {
  CairnBlockInfo info;
  char hash[65];
  char prev[65];
  char proposer[41];
  json_t *header;
};

typedef struct {
  CairnPlugin *p;
  CairnTxHandler h;
} TxType;

typedef struct {
  CairnPlugin *p;
  CairnAppIface app;
} App;

typedef struct {
  CairnPlugin *p;
  char *method;
  char *path;
  CairnRouteFn fn;
  void *user_data;
} Route;

typedef struct {
  CairnPlugin *p;
  CairnTimerFn fn;
  void *user_data;
} Timer;

struct MockNode {
  CairnHost host;
  json_t *genesis;
  EVP_PKEY *key;
  uint8_t pubkey[32];
  char address[41];
  char pubkey_hex[65];
  GTree *state; /* full key -> GBytes* */
  GPtrArray *plugins;
  GHashTable *tx_types;
  GPtrArray *apps;
  GPtrArray *routes;
  GHashTable *services; /* "name/version" -> vtable */
  CairnPlugin *consensus_plugin;
  CairnConsensusIface consensus;
  json_t *last_events;
  CairnChainHead head;
  char head_hash[65];
  guint mempool;
  char *fail_build;
  GPtrArray *blocks; /* json_t* {"txs","cert"} */
  guint n_warnings;
};

/* ---- helpers ----------------------------------------------------------- */

static void
bytes_free0 (gpointer p)
{
  if (p != NULL)
    g_bytes_unref (p);
}

static int
key_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

static GTree *
kv_tree_new (void)
{
  return g_tree_new_full (key_cmp, NULL, g_free, bytes_free0);
}

static char *
full_key (CairnPlugin *self, const char *ns, const char *key)
{
  return g_strdup_printf ("%s/%s", ns != NULL ? ns : self->id, key);
}

static gboolean
key_valid (const char *key, GError **error)
{
  size_t n = strlen (key);
  if (n == 0 || n > CAIRN_MAX_KEY || key[0] == '/')
    goto bad;
  for (size_t i = 0; i < n; i++)
    if (key[i] < 0x21 || key[i] > 0x7e)
      goto bad;
  return TRUE;
bad:
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "bad state key '%s'",
               key);
  return FALSE;
}

/* ---- identity, logging, config ---------------------------------------- */

static const char *
h_plugin_id (CairnPlugin *self)
{
  return self->id;
}

static void
h_set_data (CairnPlugin *self, void *data)
{
  self->data = data;
}

static void *
h_get_data (CairnPlugin *self)
{
  return self->data;
}

static void
h_logv (CairnPlugin *self, GLogLevelFlags level, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    self->node->n_warnings++;
  /* Not through g_log: tests run with G_DEBUG=fatal-warnings. */
  if (g_test_verbose ())
    g_printerr ("[%s] %s\n", self->id, msg);
}

static const char *
config_get (CairnPlugin *self, const char *key)
{
  g_hash_table_add (self->config_read, g_strdup (key));
  return g_hash_table_lookup (self->config, key);
}

static gboolean
h_config_string (CairnPlugin *self, const char *key, const char *def,
                 char **out, GError **error)
{
  const char *v = config_get (self, key);
  *out = g_strdup (v != NULL ? v : def);
  return TRUE;
}

static gboolean
h_config_int (CairnPlugin *self, const char *key, int64_t def, int64_t min,
              int64_t max, int64_t *out, GError **error)
{
  const char *v = config_get (self, key);
  gint64 n;
  if (v == NULL) {
    *out = def;
    return TRUE;
  }
  if (!g_ascii_string_to_signed (v, 10, min, max, &n, NULL)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[%s] %s: not an integer in %" G_GINT64_FORMAT
                 "..%" G_GINT64_FORMAT " (got '%s')",
                 self->id, key, min, max, v);
    return FALSE;
  }
  *out = n;
  return TRUE;
}

static gboolean
h_config_bool (CairnPlugin *self, const char *key, gboolean def, gboolean *out,
               GError **error)
{
  const char *v = config_get (self, key);
  *out = v != NULL ? g_str_equal (v, "true") : def;
  return TRUE;
}

static gboolean
h_config_strv (CairnPlugin *self, const char *key, char ***out, GError **error)
{
  const char *v = config_get (self, key);
  g_auto (GStrv) parts = g_strsplit (v != NULL ? v : "", ";", -1);
  GPtrArray *a = g_ptr_array_new ();
  for (char **p = parts; *p != NULL; p++) {
    g_strstrip (*p);
    if (**p != '\0')
      g_ptr_array_add (a, g_strdup (*p));
  }
  g_ptr_array_add (a, NULL);
  *out = (char **)g_ptr_array_free (a, FALSE);
  return TRUE;
}

static const char *
h_data_dir (CairnPlugin *self)
{
  return "/nonexistent";
}

static const json_t *
h_genesis (CairnPlugin *self)
{
  return self->node->genesis;
}

/* ---- registration ------------------------------------------------------ */

static gboolean
h_register_tx_type (CairnPlugin *self, const char *type,
                    const CairnTxHandler *handler, size_t size, GError **error)
{
  g_autofree char *prefix = g_strconcat (self->id, ".", NULL);
  g_assert_true (g_str_has_prefix (type, prefix));
  g_assert_cmpuint (size, <=, sizeof (CairnTxHandler));
  g_assert_nonnull (handler->apply);
  if (g_hash_table_contains (self->node->tx_types, type)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT, "dup %s", type);
    return FALSE;
  }
  TxType *t = g_new0 (TxType, 1);
  t->p = self;
  memcpy (&t->h, handler, size);
  g_hash_table_insert (self->node->tx_types, g_strdup (type), t);
  return TRUE;
}

static gboolean
h_register_app (CairnPlugin *self, const CairnAppIface *iface, size_t size,
                GError **error)
{
  g_assert_cmpuint (size, <=, sizeof (CairnAppIface));
  App *a = g_new0 (App, 1);
  a->p = self;
  memcpy (&a->app, iface, size);
  g_ptr_array_add (self->node->apps, a);
  return TRUE;
}

static gboolean
h_register_route (CairnPlugin *self, const char *method, const char *path,
                  CairnRouteFn fn, void *user_data, GError **error)
{
  g_autofree char *prefix = g_strdup_printf ("/v1/%s/", self->id);
  g_assert_true (g_str_has_prefix (path, prefix));
  Route *r = g_new0 (Route, 1);
  r->p = self;
  r->method = g_strdup (method);
  r->path = g_strdup (path);
  r->fn = fn;
  r->user_data = user_data;
  g_ptr_array_add (self->node->routes, r);
  return TRUE;
}

static gboolean
h_register_storage (CairnPlugin *self, const CairnStorageIface *iface,
                    size_t size, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return FALSE;
}

static gboolean
h_register_consensus (CairnPlugin *self, const CairnConsensusIface *iface,
                      size_t size, GError **error)
{
  g_assert_cmpuint (size, <=, sizeof (CairnConsensusIface));
  g_assert_nonnull (iface->verify_certificate);
  g_assert_null (self->node->consensus_plugin);
  self->node->consensus_plugin = self;
  memcpy (&self->node->consensus, iface, size);
  return TRUE;
}

static gboolean
h_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                      size_t size, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return FALSE;
}

static gboolean
h_provide_service (CairnPlugin *self, const char *name, uint32_t version,
                   const void *vtable, GError **error)
{
  g_assert_cmpuint (*(const uint32_t *)vtable, >=, 8);
  g_hash_table_insert (self->node->services,
                       g_strdup_printf ("%s/%u", name, version),
                       (gpointer)vtable);
  return TRUE;
}

static const void *
h_lookup_service (CairnPlugin *self, const char *name, uint32_t version)
{
  g_autofree char *k = g_strdup_printf ("%s/%u", name, version);
  return g_hash_table_lookup (self->node->services, k);
}

/* ---- state ------------------------------------------------------------- */

static GBytes *
h_state_get (CairnPlugin *self, CairnTxCtx *tx, const char *ns, const char *key,
             GError **error)
{
  gpointer orig, value;
  if (!key_valid (key, error))
    return NULL;
  g_autofree char *k = full_key (self, ns, key);
  if (tx != NULL && g_tree_lookup_extended (tx->writes, k, &orig, &value)) {
    if (value != NULL)
      return g_bytes_ref (value);
  } else if ((value = g_tree_lookup (self->node->state, k)) != NULL) {
    return g_bytes_ref (value);
  }
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "%s: not found", k);
  return NULL;
}

static json_t *
h_state_get_json (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
                  const char *key, GError **error)
{
  g_autoptr (GBytes) v = h_state_get (self, tx, ns, key, error);
  gsize len;
  if (v == NULL)
    return NULL;
  const char *p = g_bytes_get_data (v, &len);
  json_t *j
      = json_loadb (p, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
  if (j == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT, "%s: not JSON", key);
  return j;
}

static gboolean
h_state_put (CairnPlugin *self, CairnTxCtx *tx, const char *key,
             const void *value, size_t len, GError **error)
{
  if (tx == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "write needs tx");
    return FALSE;
  }
  if (!key_valid (key, error))
    return FALSE;
  g_assert_cmpuint (len, <=, CAIRN_MAX_VALUE);
  g_tree_insert (tx->writes, full_key (self, NULL, key),
                 g_bytes_new (value, len));
  return TRUE;
}

static char *
h_json_canonical (const json_t *value, size_t *len, GError **error)
{
  char *s = json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  char *out = g_strdup (s);
  free (s);
  if (len != NULL)
    *len = strlen (out);
  return out;
}

static gboolean
h_state_put_json (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                  const json_t *value, GError **error)
{
  size_t len;
  g_autofree char *s = h_json_canonical (value, &len, error);
  return h_state_put (self, tx, key, s, len, error);
}

static gboolean
h_state_delete (CairnPlugin *self, CairnTxCtx *tx, const char *key,
                GError **error)
{
  if (tx == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "write needs tx");
    return FALSE;
  }
  if (!key_valid (key, error))
    return FALSE;
  g_tree_insert (tx->writes, full_key (self, NULL, key), NULL);
  return TRUE;
}

typedef struct {
  const char *prefix;
  GTree *out;
} MergeCtx;

static gboolean
merge_one (gpointer k, gpointer v, gpointer user_data)
{
  MergeCtx *m = user_data;
  if (g_str_has_prefix (k, m->prefix))
    g_tree_insert (m->out, g_strdup (k), v != NULL ? g_bytes_ref (v) : NULL);
  return FALSE;
}

static gboolean
h_state_iter (CairnPlugin *self, CairnTxCtx *tx, const char *ns,
              const char *prefix, CairnKvFn fn, void *user_data, GError **error)
{
  g_autofree char *p = full_key (self, ns, prefix);
  size_t skip = strlen (ns != NULL ? ns : self->id) + 1;
  g_autoptr (GTree) merged = kv_tree_new ();
  MergeCtx m = { p, merged };
  g_tree_foreach (self->node->state, merge_one, &m);
  if (tx != NULL)
    g_tree_foreach (tx->writes, merge_one, &m);
  GTreeNode *n = g_tree_node_first (merged);
  for (; n != NULL; n = g_tree_node_next (n)) {
    GBytes *v = g_tree_node_value (n);
    gsize len;
    if (v == NULL)
      continue;
    const uint8_t *d = g_bytes_get_data (v, &len);
    if (!fn ((const char *)g_tree_node_key (n) + skip, d, len, user_data))
      break;
  }
  return TRUE;
}

/* ---- tx ------------------------------------------------------------------ */

static const CairnTxInfo *
h_tx_info (CairnTxCtx *tx)
{
  return &tx->info;
}

static void
h_emit_event (CairnPlugin *self, CairnTxCtx *tx, const char *type,
              json_t *attrs)
{
  g_autofree char *prefix = g_strconcat (self->id, ".", NULL);
  g_assert_true (g_str_has_prefix (type, prefix));
  g_assert_true (json_is_object (attrs));
  json_array_append_new (tx->events,
                         json_pack ("{s:s,s:o}", "type", type, "attrs", attrs));
}

static gboolean
h_has_role (CairnPlugin *self, CairnTxCtx *tx, const char *address,
            const char *role)
{
  return FALSE;
}

/* ---- events, timers, clock --------------------------------------------- */

static guint
h_subscribe (CairnPlugin *self, const char *type_prefix, CairnEventFn fn,
             void *user_data)
{
  return 0;
}

static void
h_unsubscribe (CairnPlugin *self, guint id)
{
}

static gboolean
timer_cb (gpointer data)
{
  Timer *t = data;
  return t->fn (t->p, t->user_data) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static guint
h_timer_add (CairnPlugin *self, uint32_t interval_ms, CairnTimerFn fn,
             void *user_data)
{
  Timer *t = g_new0 (Timer, 1);
  t->p = self;
  t->fn = fn;
  t->user_data = user_data;
  return g_timeout_add_full (G_PRIORITY_DEFAULT, interval_ms, timer_cb, t,
                             g_free);
}

static void
h_timer_remove (CairnPlugin *self, guint id)
{
  /* g_source_remove() of an unknown id is a critical: a plugin bug. */
  g_assert_nonnull (g_main_context_find_source_by_id (NULL, id));
  g_source_remove (id);
}

static int64_t
h_now_ms (CairnPlugin *self)
{
  return g_get_real_time () / 1000;
}

/* ---- crypto ------------------------------------------------------------- */

static void
h_sha256 (const void *data, size_t len, uint8_t out[32])
{
  SHA256 (data, len, out);
}

static GBytes *
domain_msg (const char *domain, const void *msg, size_t len)
{
  GByteArray *a = g_byte_array_new ();
  g_byte_array_append (a, (const guint8 *)domain, strlen (domain) + 1);
  g_byte_array_append (a, msg, len);
  return g_byte_array_free_to_bytes (a);
}

static gboolean
h_ed25519_verify (const uint8_t pubkey[32], const char *domain, const void *msg,
                  size_t len, const uint8_t sig[64])
{
  g_autoptr (GBytes) m = domain_msg (domain, msg, len);
  EVP_PKEY *pk
      = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, pubkey, 32);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  gsize mlen;
  const guint8 *mp = g_bytes_get_data (m, &mlen);
  gboolean ok = pk != NULL && EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pk)
                && EVP_DigestVerify (ctx, sig, 64, mp, mlen) == 1;
  EVP_MD_CTX_free (ctx);
  EVP_PKEY_free (pk);
  return ok;
}

static json_t *
h_json_parse_canonical (const char *text, size_t len, GError **error)
{
  json_t *j = json_loadb (text, len, JSON_REJECT_DUPLICATES, NULL);
  if (j == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "not JSON");
  return j;
}

static void
h_address_from_pubkey (const uint8_t pubkey[32], char out[41])
{
  uint8_t h[32];
  SHA256 (pubkey, 32, h);
  g_autofree char *hex = cairn_hex_encode (h, 20);
  memcpy (out, hex, 41);
}

static gboolean
h_address_valid (const char *address)
{
  if (address == NULL || strlen (address) != 40)
    return FALSE;
  for (int i = 0; i < 40; i++)
    if (!g_ascii_isdigit (address[i])
        && !(address[i] >= 'a' && address[i] <= 'f'))
      return FALSE;
  return TRUE;
}

static const char *
h_node_address (CairnPlugin *self)
{
  return self->node->address;
}

static void
h_node_pubkey (CairnPlugin *self, uint8_t out[32])
{
  memcpy (out, self->node->pubkey, 32);
}

void
mock_node_sign (MockNode *node, const char *domain, const void *msg, size_t len,
                uint8_t sig[64])
{
  g_autoptr (GBytes) m = domain_msg (domain, msg, len);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  size_t siglen = 64;
  gsize mlen;
  const guint8 *mp = g_bytes_get_data (m, &mlen);
  g_assert_true (EVP_DigestSignInit (ctx, NULL, NULL, NULL, node->key));
  g_assert_true (EVP_DigestSign (ctx, sig, &siglen, mp, mlen));
  EVP_MD_CTX_free (ctx);
}

static gboolean
h_node_sign (CairnPlugin *self, const char *domain, const void *msg, size_t len,
             uint8_t sig[64], GError **error)
{
  mock_node_sign (self->node, domain, msg, len, sig);
  return TRUE;
}

static gboolean
h_blob_put (CairnPlugin *self, const void *data, size_t len, char **cid,
            GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return FALSE;
}

static GBytes *
h_blob_get (CairnPlugin *self, const char *cid, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return NULL;
}

/* ---- chain ------------------------------------------------------------- */

static const CairnChainHead *
h_chain_head (CairnPlugin *self)
{
  return &self->node->head;
}

static guint
h_mempool_size (CairnPlugin *self)
{
  return self->node->mempool;
}

static void
block_free (CairnBlock *b)
{
  json_decref (b->header);
  g_free (b);
}

static CairnBlock *
h_block_build (CairnPlugin *self, const CairnBuildOpts *opts, GError **error)
{
  MockNode *node = self->node;
  guint n = node->mempool;
  uint8_t hash[32];
  g_assert_cmpuint (opts->size, >=, sizeof (CairnBuildOpts));
  if (node->fail_build != NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED, "%s",
                 node->fail_build);
    g_clear_pointer (&node->fail_build, g_free);
    return NULL;
  }
  if (opts->max_txs != 0 && n > opts->max_txs)
    n = opts->max_txs;
  if (n == 0 && !opts->allow_empty)
    return NULL;
  CairnBlock *b = g_new0 (CairnBlock, 1);
  g_autofree char *seed
      = g_strdup_printf ("block %" G_GUINT64_FORMAT, node->head.height + 1);
  SHA256 ((const uint8_t *)seed, strlen (seed), hash);
  g_autofree char *hex = cairn_hex_encode (hash, 32);
  g_strlcpy (b->hash, hex, sizeof b->hash);
  g_strlcpy (b->prev, node->head_hash, sizeof b->prev);
  g_strlcpy (b->proposer, node->address, sizeof b->proposer);
  b->header = json_pack ("{s:I}", "height", (json_int_t)node->head.height + 1);
  b->info = (CairnBlockInfo){
    .size = sizeof (CairnBlockInfo),
    .n_txs = n,
    .height = node->head.height + 1,
    .time_ms = h_now_ms (self),
    .hash = b->hash,
    .prev_hash = b->prev,
    .proposer = b->proposer,
    .state_root = b->prev,
    .header = b->header,
  };
  return b;
}

static CairnBlock *
h_block_validate (CairnPlugin *self, const void *bytes, size_t len,
                  GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return NULL;
}

static const CairnBlockInfo *
h_block_info (CairnBlock *block)
{
  return &block->info;
}

static gboolean
h_block_commit (CairnPlugin *self, CairnBlock *block, const json_t *certificate,
                GError **error)
{
  MockNode *node = self->node;
  if (!node->consensus.verify_certificate (node->consensus_plugin, &block->info,
                                           certificate, error)) {
    block_free (block);
    return FALSE;
  }
  g_ptr_array_add (node->blocks,
                   json_pack ("{s:i,s:O}", "txs", (int)block->info.n_txs,
                              "cert", certificate));
  node->mempool -= block->info.n_txs;
  node->head.height = block->info.height;
  g_strlcpy (node->head_hash, block->hash, sizeof node->head_hash);
  if (node->consensus.on_block_committed != NULL)
    node->consensus.on_block_committed (node->consensus_plugin, &block->info);
  block_free (block);
  return TRUE;
}

static void
h_block_discard (CairnPlugin *self, CairnBlock *block)
{
  block_free (block);
}

static json_t *
h_block_get (CairnPlugin *self, uint64_t height, GError **error)
{
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_IMPLEMENTED, "mock");
  return NULL;
}

/* ---- the node ------------------------------------------------------------ */

static void
plugin_free (CairnPlugin *p)
{
  if (p->desc != NULL && p->desc->fini != NULL)
    p->desc->fini (p);
  g_hash_table_unref (p->config);
  g_hash_table_unref (p->config_read);
  g_free (p->id);
  g_free (p);
}

static void
route_free (Route *r)
{
  g_free (r->method);
  g_free (r->path);
  g_free (r);
}

MockNode *
mock_node_new (const char *genesis_json, gboolean validator_is_node)
{
  MockNode *node = g_new0 (MockNode, 1);
  size_t publen = 32;
  json_error_t jerr;
  node->genesis = json_loads (genesis_json, 0, &jerr);
  g_assert_nonnull (node->genesis);
  EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id (EVP_PKEY_ED25519, NULL);
  g_assert_true (EVP_PKEY_keygen_init (kctx) == 1);
  g_assert_true (EVP_PKEY_keygen (kctx, &node->key) == 1);
  EVP_PKEY_CTX_free (kctx);
  g_assert_true (
      EVP_PKEY_get_raw_public_key (node->key, node->pubkey, &publen));
  h_address_from_pubkey (node->pubkey, node->address);
  g_autofree char *pkhex = cairn_hex_encode (node->pubkey, 32);
  g_strlcpy (node->pubkey_hex, pkhex, sizeof node->pubkey_hex);
  if (validator_is_node)
    json_object_set_new (node->genesis, "validators",
                         json_pack ("[{s:s,s:s,s:i,s:s}]", "address",
                                    node->address, "pubkey", node->pubkey_hex,
                                    "stake", 1, "name", "n0"));

  node->state = kv_tree_new ();
  node->plugins = g_ptr_array_new_with_free_func ((GDestroyNotify)plugin_free);
  node->tx_types
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  node->apps = g_ptr_array_new_with_free_func (g_free);
  node->routes = g_ptr_array_new_with_free_func ((GDestroyNotify)route_free);
  node->services
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  node->blocks = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  node->last_events = json_array ();
  node->head = (CairnChainHead){ .size = sizeof (CairnChainHead),
                                 .hash = node->head_hash,
                                 .state_root = node->head_hash,
                                 .chain_id = "test" };
  memset (node->head_hash, '0', 64);

  node->host = (CairnHost){
    .size = sizeof (CairnHost),
    .abi_major = CAIRN_ABI_MAJOR,
    .abi_minor = CAIRN_ABI_MINOR,
    .plugin_id = h_plugin_id,
    .set_data = h_set_data,
    .get_data = h_get_data,
    .logv = h_logv,
    .config_string = h_config_string,
    .config_int = h_config_int,
    .config_bool = h_config_bool,
    .config_strv = h_config_strv,
    .data_dir = h_data_dir,
    .genesis = h_genesis,
    .register_tx_type = h_register_tx_type,
    .register_app = h_register_app,
    .register_route = h_register_route,
    .register_storage = h_register_storage,
    .register_consensus = h_register_consensus,
    .register_blobstore = h_register_blobstore,
    .provide_service = h_provide_service,
    .lookup_service = h_lookup_service,
    .state_get = h_state_get,
    .state_get_json = h_state_get_json,
    .state_put = h_state_put,
    .state_put_json = h_state_put_json,
    .state_delete = h_state_delete,
    .state_iter = h_state_iter,
    .tx_info = h_tx_info,
    .emit_event = h_emit_event,
    .has_role = h_has_role,
    .subscribe = h_subscribe,
    .unsubscribe = h_unsubscribe,
    .timer_add = h_timer_add,
    .timer_remove = h_timer_remove,
    .now_ms = h_now_ms,
    .sha256 = h_sha256,
    .ed25519_verify = h_ed25519_verify,
    .json_canonical = h_json_canonical,
    .json_parse_canonical = h_json_parse_canonical,
    .address_from_pubkey = h_address_from_pubkey,
    .address_valid = h_address_valid,
    .node_address = h_node_address,
    .node_pubkey = h_node_pubkey,
    .node_sign = h_node_sign,
    .blob_put = h_blob_put,
    .blob_get = h_blob_get,
    .chain_head = h_chain_head,
    .mempool_size = h_mempool_size,
    .block_build = h_block_build,
    .block_validate = h_block_validate,
    .block_info = h_block_info,
    .block_commit = h_block_commit,
    .block_discard = h_block_discard,
    .block_get = h_block_get,
  };
  return node;
}

void
mock_node_free (MockNode *node)
{
  /* fini in reverse load order, like the core. */
  while (node->plugins->len > 0)
    g_ptr_array_remove_index (node->plugins, node->plugins->len - 1);
  g_ptr_array_unref (node->plugins);
  g_hash_table_unref (node->tx_types);
  g_ptr_array_unref (node->apps);
  g_ptr_array_unref (node->routes);
  g_hash_table_unref (node->services);
  g_ptr_array_unref (node->blocks);
  g_tree_unref (node->state);
  json_decref (node->last_events);
  json_decref (node->genesis);
  EVP_PKEY_free (node->key);
  g_free (node->fail_build);
  g_free (node);
}

const char *
mock_node_address (MockNode *node)
{
  return node->address;
}

const char *
mock_node_pubkey_hex (MockNode *node)
{
  return node->pubkey_hex;
}

const CairnHost *
mock_node_host (MockNode *node)
{
  return &node->host;
}

static CairnPlugin *
plugin_new (MockNode *node, const char *id)
{
  CairnPlugin *p = g_new0 (CairnPlugin, 1);
  p->node = node;
  p->id = g_strdup (id);
  p->config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->config_read
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return p;
}

CairnPlugin *
mock_node_add_caller (MockNode *node, const char *id)
{
  CairnPlugin *p = plugin_new (node, id);
  g_ptr_array_add (node->plugins, p);
  return p;
}

CairnPlugin *
mock_node_load (MockNode *node, CairnPluginEntry entry, const char *config,
                GError **error)
{
  const CairnPluginDescriptor *d = entry ();
  g_assert_cmphex (d->magic, ==, CAIRN_PLUGIN_MAGIC);
  g_assert_cmpuint (d->abi_major, ==, CAIRN_ABI_MAJOR);
  g_assert_cmpuint (d->build_fingerprint, ==, CAIRN_BUILD_FINGERPRINT);
  CairnPlugin *p = plugin_new (node, d->id);
  g_auto (GStrv) lines = g_strsplit (config != NULL ? config : "", "\n", -1);
  for (char **l = lines; *l != NULL; l++) {
    char *eq = strchr (*l, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    g_hash_table_insert (p->config, g_strstrip (g_strdup (*l)),
                         g_strstrip (g_strdup (eq + 1)));
  }
  if (!d->init (p, &node->host, error)) {
    plugin_free (p);
    return NULL;
  }
  p->desc = d;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, p->config);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (p->config_read, key)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "[%s] %s: unknown key", p->id, (char *)key);
      plugin_free (p);
      return NULL;
    }
  for (const CairnServiceRef *s = d->provides; s != NULL && s->name != NULL;
       s++)
    g_assert_nonnull (h_lookup_service (p, s->name, s->version));
  g_ptr_array_add (node->plugins, p);
  return p;
}

gboolean
mock_plugin_start (CairnPlugin *p, GError **error)
{
  return p->desc->start == NULL || p->desc->start (p, error);
}

void
mock_plugin_stop (CairnPlugin *p)
{
  if (p->desc->stop != NULL)
    p->desc->stop (p);
}

const char *
mock_plugin_id (CairnPlugin *p)
{
  return p->id;
}

CairnTxCtx *
mock_tx_begin (MockNode *node, const char *sender, uint64_t height)
{
  CairnTxCtx *tx = g_new0 (CairnTxCtx, 1);
  tx->node = node;
  tx->writes = kv_tree_new ();
  tx->events = json_array ();
  g_strlcpy (tx->sender, sender, sizeof tx->sender);
  tx->info = (CairnTxInfo){
    .size = sizeof (CairnTxInfo),
    .id = "",
    .type = "",
    .sender = tx->sender,
    .sender_pubkey = "",
    .height = height,
    .time_ms = 1767225600000 + (int64_t)height * 1000,
    .chain_id = "test",
  };
  return tx;
}

static gboolean
commit_one (gpointer k, gpointer v, gpointer user_data)
{
  MockNode *node = user_data;
  if (v == NULL)
    g_tree_remove (node->state, k);
  else
    g_tree_insert (node->state, g_strdup (k), g_bytes_ref (v));
  return FALSE;
}

void
mock_tx_end (CairnTxCtx *tx, gboolean commit)
{
  if (commit) {
    g_tree_foreach (tx->writes, commit_one, tx->node);
    json_decref (tx->node->last_events);
    tx->node->last_events = json_incref (tx->events);
  }
  g_tree_unref (tx->writes);
  json_decref (tx->events);
  g_free (tx);
}

const json_t *
mock_node_last_events (MockNode *node)
{
  return node->last_events;
}

gboolean
mock_node_check_tx (MockNode *node, const char *type, const char *body_json,
                    GError **error)
{
  TxType *t = g_hash_table_lookup (node->tx_types, type);
  g_assert_nonnull (t);
  json_t *body = json_loads (body_json, JSON_DECODE_ANY, NULL);
  g_assert_nonnull (body);
  gboolean ok = t->h.check == NULL || t->h.check (t->p, body, error);
  json_decref (body);
  return ok;
}

gboolean
mock_node_run_tx (MockNode *node, const char *type, const char *sender,
                  const char *body_json, GError **error)
{
  TxType *t = g_hash_table_lookup (node->tx_types, type);
  g_assert_nonnull (t);
  if (!mock_node_check_tx (node, type, body_json, error))
    return FALSE;
  json_t *body = json_loads (body_json, JSON_DECODE_ANY, NULL);
  CairnTxCtx *tx = mock_tx_begin (node, sender, node->head.height + 1);
  tx->info.type = type;
  gboolean ok = t->h.apply (t->p, tx, body, error);
  mock_tx_end (tx, ok);
  json_decref (body);
  return ok;
}

gboolean
mock_node_genesis (MockNode *node, GError **error)
{
  CairnTxCtx *tx = mock_tx_begin (node, "", 0);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < node->apps->len; i++) {
    App *a = node->apps->pdata[i];
    if (a->app.genesis != NULL)
      ok = a->app.genesis (a->p, tx, node->genesis, error);
  }
  mock_tx_end (tx, ok);
  return ok;
}

char *
mock_node_state (MockNode *node, const char *key)
{
  GBytes *v = g_tree_lookup (node->state, key);
  gsize len;
  if (v == NULL)
    return NULL;
  const char *p = g_bytes_get_data (v, &len);
  return g_strndup (p, len);
}

void
mock_node_state_set (MockNode *node, const char *key, const char *value)
{
  g_tree_insert (node->state, g_strdup (key),
                 g_bytes_new (value, strlen (value)));
}

json_t *
mock_node_get (MockNode *node, const char *path, GError **error)
{
  for (guint i = 0; i < node->routes->len; i++) {
    Route *r = node->routes->pdata[i];
    gboolean prefix = g_str_has_suffix (r->path, "/");
    if (!g_str_equal (r->method, "GET")
        || !(prefix ? g_str_has_prefix (path, r->path)
                    : g_str_equal (path, r->path)))
      continue;
    g_autoptr (GHashTable) query = g_hash_table_new (g_str_hash, g_str_equal);
    CairnRequest req = {
      .size = sizeof req,
      .method = "GET",
      .path = path,
      .path_rest = prefix ? path + strlen (r->path) : "",
      .query = query,
      .remote = "127.0.0.1",
    };
    CairnResponse resp = { .size = sizeof resp, .status = 200 };
    if (!r->fn (r->p, &req, &resp, r->user_data, error)) {
      g_assert_null (resp.json);
      return NULL;
    }
    g_assert_cmpint (resp.status, ==, 200);
    g_assert_nonnull (resp.json);
    return resp.json;
  }
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "no route %s", path);
  return NULL;
}

void
mock_node_set_mempool (MockNode *node, guint n_txs)
{
  node->mempool = n_txs;
}

void
mock_node_fail_next_build (MockNode *node, const char *message)
{
  g_free (node->fail_build);
  node->fail_build = g_strdup (message);
}

guint
mock_node_n_blocks (MockNode *node)
{
  return node->blocks->len;
}

guint
mock_node_block_txs (MockNode *node, guint i)
{
  return (guint)json_integer_value (
      json_object_get (node->blocks->pdata[i], "txs"));
}

const json_t *
mock_node_block_cert (MockNode *node, guint i)
{
  return json_object_get (node->blocks->pdata[i], "cert");
}

void
mock_node_txs_available (MockNode *node)
{
  node->consensus.on_txs_available (node->consensus_plugin);
}

gboolean
mock_node_run_until (MockNode *node, gboolean (*cond) (MockNode *node),
                     guint timeout_ms)
{
  int64_t end = g_get_monotonic_time () + (int64_t)timeout_ms * 1000;
  while (!cond (node)) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_main_context_iteration (NULL, FALSE);
    g_usleep (500);
  }
  return TRUE;
}

gboolean
mock_node_verify (MockNode *node, uint64_t height, const char *hash,
                  const char *proposer, const json_t *cert, GError **error)
{
  CairnBlockInfo info = {
    .size = sizeof info,
    .height = height,
    .hash = hash,
    .prev_hash = hash,
    .proposer = proposer,
    .state_root = hash,
  };
  return node->consensus.verify_certificate (node->consensus_plugin, &info,
                                             cert, error);
}

guint
mock_node_n_warnings (MockNode *node)
{
  return node->n_warnings;
}

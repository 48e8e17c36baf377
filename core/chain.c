/* The chain front: genesis, building and validating blocks by executing
 * them on top of the head, and committing them through the storage plugin.
 * Only the consensus plugin decides when to build and what to commit. */
#include <string.h>

#include "chain_verify.h"
#include "cjson.h"
#include "node_private.h"

#define LTHASH_KEY "core/lthash"
static const char zero_hash[65]
    = "0000000000000000000000000000000000000000000000000000000000000000";

void
cairn_block_info_fill (CairnBlockInfo *info, const CairnBlockData *d,
                       const char *bytes, size_t len)
{
  *info = (CairnBlockInfo){
    .size = sizeof (CairnBlockInfo),
    .n_txs = d->txs ? d->txs->len : 0,
    .height = d->height,
    .time_ms = d->time_ms,
    .hash = d->hash_hex,
    .prev_hash = d->prev_hash,
    .proposer = d->proposer,
    .state_root = d->state_root,
    .header = d->header,
    .bytes = (const uint8_t *)bytes,
    .len = len,
  };
}

void
cairn_block_discard (CairnBlock *b)
{
  if (b == NULL)
    return;
  if (b->results)
    g_ptr_array_unref (b->results);
  json_decref (b->block_events);
  if (b->writes)
    g_array_unref (b->writes);
  cairn_overlay_free (b->overlay);
  cairn_block_unref (b->data);
  g_free (b->bytes);
  g_free (b);
}

/* A tx committed before fails again on its used nonce ("bad_nonce"): then
 * *at is the height it was committed at. Only such txs are looked up. */
static gboolean
repeats_committed (CairnNode *node, const CairnTx *tx, const json_t *result,
                   uint64_t *at)
{
  const char *code = json_string_value (json_object_get (result, "code"));
  return code != NULL && strcmp (code, "bad_nonce") == 0
         && node->storage.tx_get (node->store, tx->id, at, NULL, NULL, NULL);
}

/* Execute txs on the head; on success the overlay, results and new LtHash
 * are returned through the block. A block that repeats a committed tx is
 * invalid: each tx id is committed once, and the stores index it once. */
static gboolean
execute (CairnNode *node, CairnBlock *b, CairnTx **txs, guint n,
         const CairnExecBlock *blk, CairnLtHash *new_hash, char state_root[65],
         GError **error)
{
  uint64_t height = blk->height;
  b->overlay = cairn_overlay_new (&node->state_base, NULL);
  b->results = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  b->block_events = json_array ();
  if (!cairn_exec_hooks (node, b->overlay, TRUE, blk, b->block_events, error))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    json_t *r = cairn_exec_tx (node, b->overlay, txs[i], i, blk);
    const char *infra
        = json_string_value (json_object_get (r, "infrastructure_error"));
    if (infra) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                   "executing tx %s at height %" G_GUINT64_FORMAT ": %s",
                   txs[i]->id_hex, height, infra);
      json_decref (r);
      return FALSE;
    }
    uint64_t at = 0;
    if (repeats_committed (node, txs[i], r, &at)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "block %" G_GUINT64_FORMAT ": tx %u (%s) was committed "
                   "at height %" G_GUINT64_FORMAT,
                   height, i, txs[i]->id_hex, at);
      json_decref (r);
      return FALSE;
    }
    g_ptr_array_add (b->results, r);
  }
  if (!cairn_exec_hooks (node, b->overlay, FALSE, blk, b->block_events, error))
    return FALSE;
  b->writes
      = cairn_overlay_write_set (b->overlay, &node->lthash, new_hash, error);
  if (b->writes == NULL)
    return FALSE;
  b->lthash = *new_hash;
  uint8_t root[32];
  cairn_lthash_root (new_hash, root);
  g_autofree char *hex = cairn_hex_encode (root, 32);
  memcpy (state_root, hex, 65);
  return TRUE;
}

static void
set_head (CairnNode *node, const CairnBlockData *d, const CairnLtHash *lt)
{
  node->head.size = sizeof (CairnChainHead);
  node->head.height = d->height;
  node->head.time_ms = d->time_ms;
  memcpy (node->head_hash, d->hash_hex, 65);
  memcpy (node->head_state_root, d->state_root, 65);
  node->head.hash = node->head_hash;
  node->head.state_root = node->head_state_root;
  node->head.chain_id = node->genesis->chain_id;
  node->lthash = *lt;
}

/* ---- commit ------------------------------------------------------------- */

/* On success *stored_out (may be NULL) receives the stored block bytes. */
static gboolean
store_commit (CairnNode *node, CairnBlock *b, const CairnLtHash *new_hash,
              uint32_t flags, GBytes **stored_out, GError **error)
{
  CairnBlockData *d = b->data;
  GArray *ws = b->writes; /* computed when the block was executed */
  size_t blen;
  g_autofree char *stored = cairn_block_encode (d, TRUE, &blen, error);
  if (stored == NULL)
    return FALSE;
  guint n = d->txs->len;
  g_autofree CairnCommitTx *ctxs = g_new0 (CairnCommitTx, MAX (n, 1));
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++) {
    CairnTx *tx = d->txs->pdata[i];
    size_t rlen;
    char *rt = cairn_cjson_dump (b->results->pdata[i], &rlen, error);
    if (rt == NULL)
      return FALSE;
    g_ptr_array_add (texts, rt);
    ctxs[i] = (CairnCommitTx){ tx->id, (const uint8_t *)rt, rlen };
  }
  uint8_t lt_bytes[CAIRN_LTHASH_BYTES];
  cairn_lthash_to_bytes (new_hash, lt_bytes);
  CairnWrite priv
      = { .key = LTHASH_KEY, .value = lt_bytes, .value_len = sizeof lt_bytes };
  CairnCommitData cd = {
    .size = sizeof (CairnCommitData),
    .height = d->height,
    .block_hash = d->hash,
    .block = (const uint8_t *)stored,
    .block_len = blen,
    .txs = ctxs,
    .n_txs = n,
    .writes = (const CairnWrite *)(void *)ws->data,
    .n_writes = ws->len,
    .private_writes = &priv,
    .n_private_writes = 1,
    .flags = flags,
  };
  if (!node->storage.commit (node->store, &cd, error)) {
    g_prefix_error (error, "committing block %" G_GUINT64_FORMAT ": ",
                    d->height);
    return FALSE;
  }
  if (stored_out)
    *stored_out = g_bytes_new_take (g_steal_pointer (&stored), blen);
  return TRUE;
}

static void
publish (CairnNode *node, CairnBlock *b)
{
  CairnBlockData *d = b->data;
  /* Per tx, in block order: id, type, sender and the body's "to" when it
   * names an account, so that indexers (the explorer, SSE clients) need
   * not read the block back from the store. */
  json_t *ids = json_array (), *types = json_array ();
  json_t *senders = json_array (), *recipients = json_array ();
  for (guint i = 0; i < d->txs->len; i++) {
    const CairnTx *tx = d->txs->pdata[i];
    const char *to = json_string_value (json_object_get (tx->body, "to"));
    json_array_append_new (ids, json_string_nocheck (tx->id_hex));
    json_array_append_new (types, json_string_nocheck (tx->type));
    json_array_append_new (senders, json_string_nocheck (tx->from));
    json_array_append_new (recipients, to && cairn_address_valid (to)
                                           ? json_string_nocheck (to)
                                           : json_null ());
  }
  g_autoptr (json_t) attrs
      = json_pack ("{s:I, s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:o}", "height",
                   (json_int_t)d->height, "hash", d->hash_hex, "time",
                   (json_int_t)d->time_ms, "tx_count", (json_int_t)d->txs->len,
                   "proposer", d->proposer, "txs", ids, "tx_types", types,
                   "senders", senders, "recipients", recipients);
  CairnEvent ev = { .size = sizeof (CairnEvent),
                    .tx_index = UINT32_MAX,
                    .type = "block",
                    .height = d->height,
                    .attrs = attrs };
  cairn_events_publish (node, &ev);
  /* Events of the block hooks (rewards, unlocks) belong to no tx. */
  size_t k;
  json_t *be;
  json_array_foreach (b->block_events, k, be)
  {
    CairnEvent hev = {
      .size = sizeof (CairnEvent),
      .tx_index = UINT32_MAX,
      .type = json_string_value (json_object_get (be, "type")),
      .height = d->height,
      .attrs = json_object_get (be, "attrs"),
    };
    cairn_events_publish (node, &hev);
  }
  for (guint i = 0; i < d->txs->len; i++) {
    json_t *events = json_object_get (b->results->pdata[i], "events");
    size_t j;
    json_t *e;
    json_array_foreach (events, j, e)
    {
      CairnEvent tev = {
        .size = sizeof (CairnEvent),
        .tx_index = i,
        .type = json_string_value (json_object_get (e, "type")),
        .height = d->height,
        .tx_id = ((CairnTx *)d->txs->pdata[i])->id_hex,
        .attrs = json_object_get (e, "attrs"),
      };
      cairn_events_publish (node, &tev);
    }
  }
}

/* Deferred commits (catch-up) are made durable here, and only then is the
 * consensus engine told: it must never act (sign) on a block that a crash
 * could still take back. */
gboolean
cairn_chain_sync (CairnNode *node, gboolean notify, GError **error)
{
  cairn_clock_clear (node->clock, &node->sync_source);
  if (node->deferred_block == NULL)
    return TRUE;
  if (!node->storage.sync (node->store, error)) {
    g_prefix_error (error,
                    "making blocks up to %" G_GUINT64_FORMAT " durable: ",
                    node->head.height);
    return FALSE;
  }
  CairnBlock *b = g_steal_pointer (&node->deferred_block);
  if (notify && node->consensus.on_block_committed)
    node->consensus.on_block_committed (node->consensus_plugin, &b->info);
  cairn_block_discard (b);
  return TRUE;
}

static gboolean
sync_due (gpointer data)
{
  CairnNode *node = data;
  node->sync_source = 0;
  g_autoptr (GError) err = NULL;
  if (!cairn_chain_sync (node, TRUE, &err))
    g_critical ("%s", err->message);
  return G_SOURCE_REMOVE;
}

static gboolean
commit_block (CairnNode *node, CairnBlock *b, const json_t *cert,
              gboolean defer, GError **error)
{
  int64_t t0 = g_get_monotonic_time ();
  CairnBlockData *d = b->data;
  if (b->base_height != node->head.height
      || strcmp (b->base_hash, node->head_hash) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "block %" G_GUINT64_FORMAT
                 " was executed on head %" G_GUINT64_FORMAT
                 " but the head is now %" G_GUINT64_FORMAT,
                 d->height, b->base_height, node->head.height);
    return FALSE;
  }
  if (cert) {
    json_decref (d->certificate);
    d->certificate = json_deep_copy (cert);
  }
  CairnLtHash new_hash = b->lthash;
  g_autoptr (GBytes) stored = NULL;
  defer = defer && node->storage.sync != NULL;
  if (!store_commit (node, b, &new_hash, defer ? CAIRN_COMMIT_DEFER_SYNC : 0,
                     &stored, error))
    return FALSE;

  /* Senders' committed nonces, read from the block's writes. */
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < d->txs->len; i++) {
    CairnTx *tx = d->txs->pdata[i];
    if (!g_hash_table_add (seen, tx->from))
      continue;
    uint64_t n = cairn_account_nonce (node, b->overlay, tx->from, NULL);
    cairn_mempool_set_nonce (node->mempool, tx->from, n);
  }
  set_head (node, d, &new_hash);
  node->metrics.blocks_committed++;
  node->metrics.txs_committed += d->txs->len;
  for (guint i = 0; i < b->results->len; i++)
    if (!json_is_true (json_object_get (b->results->pdata[i], "ok")))
      node->metrics.txs_failed++;
  node->metrics.commit_seconds_sum += (g_get_monotonic_time () - t0) / 1e6;
  publish (node, b);
  if (defer)
    return TRUE; /* a block from catch-up: the peers have it */
  /* A synced commit made the deferred ones before it durable too. */
  g_clear_pointer (&node->deferred_block, cairn_block_discard);
  cairn_clock_clear (node->clock, &node->sync_source);
  cairn_gossip_block (node, g_bytes_get_data (stored, NULL),
                      g_bytes_get_size (stored));
  if (node->consensus.on_block_committed)
    node->consensus.on_block_committed (node->consensus_plugin, &b->info);
  return TRUE;
}

gboolean
cairn_chain_commit (CairnNode *node, CairnBlock *b, const json_t *cert,
                    GError **error)
{
  gboolean ok = commit_block (node, b, cert, FALSE, error);
  cairn_block_discard (b);
  return ok;
}

#define DEFERRED_SYNC_MS 100

gboolean
cairn_chain_commit_deferred (CairnNode *node, CairnBlock *b, const json_t *cert,
                             GError **error)
{
  if (!commit_block (node, b, cert, TRUE, error)) {
    cairn_block_discard (b);
    return FALSE;
  }
  if (node->storage.sync == NULL) { /* committed durably after all */
    cairn_block_discard (b);
    return TRUE;
  }
  g_clear_pointer (&node->deferred_block, cairn_block_discard);
  node->deferred_block = b;
  if (node->sync_source == 0)
    node->sync_source = node->clock->timeout_add (node->clock, DEFERRED_SYNC_MS,
                                                  sync_due, node, NULL);
  return TRUE;
}

/* ---- build and validate ------------------------------------------------- */

static CairnBlock *
finish_block (CairnNode *node, CairnBlock *b, GError **error)
{
  b->base_height = node->head.height;
  memcpy (b->base_hash, node->head_hash, 65);
  if (b->bytes == NULL)
    b->bytes = cairn_block_encode (b->data, FALSE, &b->len, error);
  if (b->bytes == NULL) {
    cairn_block_discard (b);
    return NULL;
  }
  cairn_block_info_fill (&b->info, b->data, b->bytes, b->len);
  return b;
}

CairnBlock *
cairn_chain_build (CairnNode *node, const CairnBuildOpts *opts, GError **error)
{
  guint max_txs = opts && opts->max_txs ? opts->max_txs : node->block_max_txs;
  guint64 max_bytes
      = opts && opts->max_bytes ? opts->max_bytes : node->block_max_bytes;
  g_autoptr (GPtrArray) txs
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  cairn_mempool_collect (node->mempool, max_txs, max_bytes, txs);
  if (txs->len == 0 && !(opts && opts->allow_empty))
    return NULL;

  int64_t t0 = g_get_monotonic_time ();
  int64_t now = opts && opts->time_ms ? opts->time_ms
                                      : node->clock->wall_ms (node->clock);
  int64_t time_ms = MAX (now, node->head.time_ms + 1);
  uint64_t height = node->head.height + 1;
  CairnBlock *b = g_new0 (CairnBlock, 1);
  CairnLtHash new_hash;
  char root[65];
  CairnExecBlock blk = { height, time_ms, cairn_key_address (node->key) };
  if (!execute (node, b, (CairnTx **)txs->pdata, txs->len, &blk, &new_hash,
                root, error)) {
    cairn_block_discard (b);
    return NULL;
  }
  b->data = cairn_block_new (node->genesis->chain_id, height, node->head_hash,
                             time_ms, cairn_key_address (node->key), root,
                             opts ? opts->consensus : NULL,
                             (CairnTx **)txs->pdata, txs->len, error);
  if (b->data == NULL) {
    cairn_block_discard (b);
    return NULL;
  }
  node->metrics.exec_seconds_sum += (g_get_monotonic_time () - t0) / 1e6;
  return finish_block (node, b, error);
}

CairnBlock *
cairn_chain_validate (CairnNode *node, const void *bytes, size_t len,
                      GError **error)
{
  CairnBlockData *d = cairn_block_decode_known (
      bytes, len, node->genesis->chain_id, cairn_node_known_tx, node, error);
  return d ? cairn_chain_validate_decoded (node, d, error) : NULL;
}

CairnBlock *
cairn_chain_validate_decoded (CairnNode *node, CairnBlockData *decoded,
                              GError **error)
{
  return cairn_chain_validate_encoded (node, decoded, NULL, 0, error);
}

CairnBlock *
cairn_chain_validate_encoded (CairnNode *node, CairnBlockData *decoded,
                              char *bytes, size_t len, GError **error)
{
  g_autoptr (CairnBlockData) d = decoded;
  g_autofree char *encoded = bytes;
  if (d->height != node->head.height + 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "block height %" G_GUINT64_FORMAT
                 " does not follow head %" G_GUINT64_FORMAT,
                 d->height, node->head.height);
    return NULL;
  }
  if (strcmp (d->prev_hash, node->head_hash) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block %" G_GUINT64_FORMAT ": prev_hash %s is not the head %s",
                 d->height, d->prev_hash, node->head_hash);
    return NULL;
  }
  if (d->time_ms <= node->head.time_ms) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block %" G_GUINT64_FORMAT ": time %" G_GINT64_FORMAT
                 " is not after the head's %" G_GINT64_FORMAT,
                 d->height, d->time_ms, node->head.time_ms);
    return NULL;
  }
  if (!cairn_address_valid (d->proposer)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block %" G_GUINT64_FORMAT ": proposer '%s' is not an address",
                 d->height, d->proposer);
    return NULL;
  }
  guint n = d->txs->len;
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    if (!g_hash_table_add (ids, ((CairnTx *)d->txs->pdata[i])->id_hex)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "block %" G_GUINT64_FORMAT ": tx %s appears twice",
                   d->height, ((CairnTx *)d->txs->pdata[i])->id_hex);
      return NULL;
    }
  /* A tx this node already admitted has the same bytes (same id), so its
   * signature was checked then: verify only the ones it has not seen. */
  for (guint i = 0; i < n; i++) {
    CairnTx *tx = d->txs->pdata[i];
    CairnTx *known = cairn_mempool_lookup (node->mempool, tx->id_hex);
    if (known && known->sig_checked)
      tx->sig_checked = TRUE;
  }
  g_autofree GError **errs = g_new0 (GError *, MAX (n, 1));
  if (!cairn_node_verify_txs (node, (CairnTx **)d->txs->pdata, n, errs)) {
    for (guint i = 0; i < n; i++)
      if (errs[i]) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                     "block %" G_GUINT64_FORMAT ": tx %u (%s): %s", d->height,
                     i, ((CairnTx *)d->txs->pdata[i])->id_hex,
                     errs[i]->message);
        break;
      }
    for (guint i = 0; i < n; i++)
      g_clear_error (&errs[i]);
    return NULL;
  }
  CairnBlock *b = g_new0 (CairnBlock, 1);
  CairnLtHash new_hash;
  char root[65];
  CairnExecBlock blk = { d->height, d->time_ms, d->proposer };
  if (!execute (node, b, (CairnTx **)d->txs->pdata, n, &blk, &new_hash, root,
                error)) {
    cairn_block_discard (b);
    return NULL;
  }
  if (strcmp (root, d->state_root) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block %" G_GUINT64_FORMAT ": state_root %s, but executing it "
                 "here gives %s",
                 d->height, d->state_root, root);
    cairn_block_discard (b);
    return NULL;
  }
  b->data = g_steal_pointer (&d);
  b->bytes = g_steal_pointer (&encoded);
  b->len = len;
  return finish_block (node, b, error);
}

/* ---- open: genesis or resume -------------------------------------------- */

static gboolean
execute_genesis (CairnNode *node, CairnBlock *b, GError **error)
{
  CairnLtHash empty, new_hash;
  cairn_lthash_init (&empty);
  node->lthash = empty;
  if (!cairn_exec_genesis (node, b->overlay, error))
    return FALSE;
  b->writes = cairn_overlay_write_set (b->overlay, &empty, &new_hash, error);
  if (b->writes == NULL)
    return FALSE;
  uint8_t root[32];
  cairn_lthash_root (&new_hash, root);
  g_autofree char *root_hex = cairn_hex_encode (root, 32);
  b->data = cairn_block_new (node->genesis->chain_id, 0, zero_hash,
                             node->genesis->genesis_time, "", root_hex, NULL,
                             NULL, 0, error);
  if (b->data == NULL)
    return FALSE;
  g_autofree char *gh = cairn_hex_encode (node->genesis->hash, 32);
  b->data->certificate
      = json_pack ("{s:s, s:s}", "type", "genesis", "genesis_hash", gh);
  if (!store_commit (node, b, &new_hash, 0, NULL, error))
    return FALSE;
  set_head (node, b->data, &new_hash);
  g_info ("committed genesis of chain %s (state root %s)",
          node->genesis->chain_id, root_hex);
  return TRUE;
}

static gboolean
commit_genesis (CairnNode *node, GError **error)
{
  CairnBlock *b = g_new0 (CairnBlock, 1);
  b->overlay = cairn_overlay_new (&node->state_base, NULL);
  b->results = g_ptr_array_new_with_free_func ((GDestroyNotify)json_decref);
  gboolean ok = execute_genesis (node, b, error);
  cairn_block_discard (b);
  return ok;
}

CairnBlockData *
cairn_chain_load_block (CairnNode *node, uint64_t height, GError **error)
{
  g_autoptr (GBytes) raw = node->storage.block_get (node->store, height, error);
  if (raw == NULL)
    return NULL;
  return cairn_chain_check_stored (node, height, raw, error);
}

CairnBlockData *
cairn_chain_check_stored (CairnNode *node, uint64_t height, GBytes *raw,
                          GError **error)
{
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  g_autoptr (GError) why = NULL;
  g_autoptr (CairnBlockData) d
      = cairn_block_decode (p, len, node->genesis->chain_id, &why);
  /* LMDB has no page checksums: a damaged record can still decode, as
   * another block. Its header must hash to what the store indexed for
   * this height (the tx root, checked by the decode, covers the txs). */
  uint64_t at = G_MAXUINT64;
  if (d != NULL && d->height == height
      && node->storage.block_find (node->store, d->hash, &at, &why)
      && at == height)
    return g_steal_pointer (&d);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
               "%s: stored block %" G_GUINT64_FORMAT
               " is damaged (%s); restore the data directory from a backup, "
               "or move it away and let the node fetch the chain again",
               node->data_dir, height,
               why ? why->message
               : d && d->height != height
                   ? "it says another height"
                   : "its header does not hash to the hash the store "
                     "indexed for its height");
  return NULL;
}

/* Blocks without this node's state accumulator: a store copied from
 * another node (a git clone of store-git's chain), or one whose private
 * data was lost. Nothing in it is trusted until every block and the head
 * state are verified; then the accumulator is written. */
static gboolean
adopt_copied_chain (CairnNode *node, CairnBlockData *head, GError **error)
{
  g_message ("%s holds chain %s up to block %" G_GUINT64_FORMAT
             " but not this node's state accumulator (%s): a copied store, "
             "such as a git clone of another node's chain; verifying every "
             "block and the state before using it",
             node->data_dir, node->genesis->chain_id, head->height, LTHASH_KEY);
  CairnChainVerifyReport r;
  if (!cairn_chain_verify_stored (node, head->height, &r, error)) {
    g_prefix_error (error, "the copied chain failed verification: ");
    return FALSE;
  }
  if (node->storage.private_write == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "storage %s cannot write private data outside a block, so "
                 "it cannot adopt a copied chain; use cairn store import",
                 node->storage_plugin->desc.id);
    return FALSE;
  }
  uint8_t lt_bytes[CAIRN_LTHASH_BYTES];
  cairn_lthash_to_bytes (&r.lthash, lt_bytes);
  CairnWrite w
      = { .key = LTHASH_KEY, .value = lt_bytes, .value_len = sizeof lt_bytes };
  if (!node->storage.private_write (node->store, &w, 1, error))
    return FALSE;
  set_head (node, head, &r.lthash);
  g_message (
      "verified %" G_GUINT64_FORMAT " blocks (%" G_GUINT64_FORMAT
      " txs, every signature and commit certificate) and %" G_GUINT64_FORMAT
      " state keys against state root %s in %.1f s: resuming chain %s at "
      "height %" G_GUINT64_FORMAT,
      r.blocks, r.txs, r.state_keys, head->state_root, r.seconds,
      node->genesis->chain_id, head->height);
  return TRUE;
}

gboolean
cairn_chain_open (CairnNode *node, GError **error)
{
  uint64_t h;
  GError *local = NULL;
  if (!node->storage.head (node->store, &h, &local)) {
    if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_clear_error (&local);
    /* Said loudly: a wrong data_dir would otherwise look like a new chain. */
    g_message ("no chain data in %s: starting chain %s from its genesis",
               node->data_dir, node->genesis->chain_id);
    return commit_genesis (node, error);
  }
  g_autoptr (CairnBlockData) g0 = cairn_chain_load_block (node, 0, error);
  if (g0 == NULL)
    return FALSE;
  g_autofree char *want = cairn_hex_encode (node->genesis->hash, 32);
  const char *have
      = json_string_value (json_object_get (g0->certificate, "genesis_hash"));
  if (g_strcmp0 (have, want) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "the data in %s belongs to a chain whose genesis hashes to "
                 "%s, but the genesis file hashes to %s; point [node] "
                 "data_dir elsewhere or restore the original genesis file",
                 node->data_dir, have ? have : "(none)", want);
    return FALSE;
  }
  g_autoptr (CairnBlockData) head = cairn_chain_load_block (node, h, error);
  if (head == NULL)
    return FALSE;
  GError *missing = NULL;
  g_autoptr (GBytes) lt
      = node->storage.private_get (node->store, LTHASH_KEY, &missing);
  if (lt == NULL
      && g_error_matches (missing, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_clear_error (&missing);
    return adopt_copied_chain (node, head, error);
  }
  if (missing != NULL)
    g_propagate_error (error, missing);
  CairnLtHash hash;
  if (lt == NULL
      || !cairn_lthash_from_bytes (&hash, g_bytes_get_data (lt, NULL),
                                   g_bytes_get_size (lt))) {
    g_clear_error (error);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "%s: the state accumulator (%s) is missing or damaged",
                 node->data_dir, LTHASH_KEY);
    return FALSE;
  }
  uint8_t root[32];
  cairn_lthash_root (&hash, root);
  g_autofree char *root_hex = cairn_hex_encode (root, 32);
  if (strcmp (root_hex, head->state_root) != 0) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
        "%s: state root %s does not match head block %" G_GUINT64_FORMAT
        "'s %s",
        node->data_dir, root_hex, h, head->state_root);
    return FALSE;
  }
  set_head (node, head, &hash);
  g_info ("resumed chain %s at height %" G_GUINT64_FORMAT " (%s)",
          node->genesis->chain_id, h, head->hash_hex);
  return TRUE;
}

/* Checking a stored chain this node did not build itself: a copy of
 * another node's store (a `git clone` of store-git's chain.git is the
 * snapshot a new node starts from), or `cairn store verify`.
 *
 * Without executing any block: every block decodes (header hash, tx count,
 * tx Merkle root), follows its parent (height, prev_hash, time), holds no
 * tx twice, every tx signature verifies, and the consensus plugin accepts
 * its commit certificate; then the whole state at the head is hashed into
 * a fresh accumulator whose root must be the head header's state_root.
 *
 * What this proves: the head state is the one the head block's signers
 * certified, and every block between genesis and the head was certified
 * by the validator set the consensus plugin finds for its height. The
 * validator-set history itself is read from the copied state (PoS keeps it
 * there), which the head certificate covers; re-executing every block
 * (`cairn store export` then `import`) is the stronger check. */
#include "chain_verify.h"

#include <string.h>

#include "node.h"
#include "node_private.h"

#define PROGRESS_EVERY 1000u

typedef struct {
  CairnLtHash *lt;
  uint64_t keys;
} Hashing;

static gboolean
hash_kv (const char *key, const uint8_t *value, size_t len, void *user_data)
{
  Hashing *h = user_data;
  cairn_lthash_add (h->lt, key, value, len);
  h->keys++;
  return TRUE;
}

static CairnBlockData *
load (CairnNode *node, uint64_t height, GError **error)
{
  CairnBlockData *d = cairn_chain_load_block (node, height, error);
  if (d == NULL)
    g_prefix_error (error, "%s: ", node->data_dir);
  return d;
}

static gboolean
bad (GError **error, CairnNode *node, uint64_t height, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
               "%s: block %" G_GUINT64_FORMAT ": %s", node->data_dir, height,
               what);
  return FALSE;
}

/* d against its parent p, then its txs' signatures and its certificate. */
static gboolean
verify_block (CairnNode *node, const CairnBlockData *p, CairnBlockData *d,
              uint64_t height, GError **error)
{
  if (d->height != height)
    return bad (error, node, height,
                "the stored block says height %" G_GUINT64_FORMAT, d->height);
  if (strcmp (d->prev_hash, p->hash_hex) != 0)
    return bad (error, node, height,
                "prev_hash %s is not block %" G_GUINT64_FORMAT "'s hash %s",
                d->prev_hash, height - 1, p->hash_hex);
  if (d->time_ms <= p->time_ms)
    return bad (error, node, height, "its time is not after its parent's");
  if (!cairn_address_valid (d->proposer))
    return bad (error, node, height, "proposer '%s' is not an address",
                d->proposer);
  guint n = d->txs->len;
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    if (!g_hash_table_add (ids, ((CairnTx *)d->txs->pdata[i])->id_hex))
      return bad (error, node, height, "tx %s appears twice",
                  ((CairnTx *)d->txs->pdata[i])->id_hex);
  g_autofree GError **errs = g_new0 (GError *, MAX (n, 1));
  if (!cairn_node_verify_txs (node, (CairnTx **)d->txs->pdata, n, errs)) {
    gboolean reported = FALSE;
    for (guint i = 0; i < n; i++) {
      if (errs[i] && !reported) {
        bad (error, node, height, "tx %u (%s): %s", i,
             ((CairnTx *)d->txs->pdata[i])->id_hex, errs[i]->message);
        reported = TRUE;
      }
      g_clear_error (&errs[i]);
    }
    return FALSE;
  }
  if (d->certificate == NULL)
    return bad (error, node, height, "it has no commit certificate");
  size_t len;
  g_autofree char *bytes = cairn_block_encode (d, FALSE, &len, error);
  if (bytes == NULL)
    return FALSE;
  CairnBlockInfo info;
  cairn_block_info_fill (&info, d, bytes, len);
  g_autoptr (GError) local = NULL;
  if (!node->consensus.verify_certificate (node->consensus_plugin, &info,
                                           d->certificate, &local))
    return bad (error, node, height, "commit certificate refused: %s",
                local->message);
  return TRUE;
}

gboolean
cairn_chain_verify_stored (CairnNode *node, uint64_t head,
                           CairnChainVerifyReport *report, GError **error)
{
  CairnChainVerifyReport r = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (CairnBlockData) prev = load (node, 0, error);
  if (prev == NULL)
    return FALSE;
  for (uint64_t h = 1; h <= head; h++) {
    CairnBlockData *d = load (node, h, error);
    if (d == NULL)
      return FALSE;
    if (!verify_block (node, prev, d, h, error)) {
      cairn_block_unref (d);
      return FALSE;
    }
    r.blocks++;
    r.txs += d->txs->len;
    cairn_block_unref (prev);
    prev = d;
    if (h % PROGRESS_EVERY == 0)
      g_message ("%s: verified blocks 1..%" G_GUINT64_FORMAT
                 " of %" G_GUINT64_FORMAT,
                 node->data_dir, h, head);
  }
  /* The state at the head, against the head header's root. */
  cairn_lthash_init (&r.lthash);
  Hashing hashing = { &r.lthash, 0 };
  if (!node->storage.state_iter (node->store, "", CAIRN_HEAD, hash_kv, &hashing,
                                 error)) {
    g_prefix_error (error, "%s: reading the state: ", node->data_dir);
    return FALSE;
  }
  r.state_keys = hashing.keys;
  uint8_t root[32];
  cairn_lthash_root (&r.lthash, root);
  g_autofree char *root_hex = cairn_hex_encode (root, 32);
  if (strcmp (root_hex, prev->state_root) != 0)
    return bad (error, node, head,
                "the stored state (%" G_GUINT64_FORMAT
                " keys) hashes to %s, not to the head's state_root %s",
                r.state_keys, root_hex, prev->state_root);
  r.seconds = (double)(g_get_monotonic_time () - t0) / 1e6;
  if (report != NULL)
    *report = r;
  return TRUE;
}

json_t *
cairn_node_verify_chain (CairnNode *node, GError **error)
{
  CairnChainVerifyReport r;
  if (!cairn_chain_verify_stored (node, node->head.height, &r, error))
    return NULL;
  return json_pack ("{s:I,s:I,s:I,s:f,s:I,s:s}", "blocks", (json_int_t)r.blocks,
                    "txs", (json_int_t)r.txs, "state_keys",
                    (json_int_t)r.state_keys, "seconds", r.seconds, "height",
                    (json_int_t)node->head.height, "state_root",
                    node->head.state_root);
}

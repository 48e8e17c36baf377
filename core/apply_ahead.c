#include "apply_ahead.h"

#include "node_private.h"
#include "sig_ahead.h"
#include "watchdog.h"

typedef struct {
  CairnBlockData *d; /* decoded, not yet applied */
  char *bytes;       /* its canonical form without certificate, or NULL */
  size_t len;
  CairnSigAhead *sigs; /* its certificate's checks, NULL when none listed */
} Queued;

struct CairnApplyAhead {
  CairnNode *node;
  GQueue blocks; /* Queued*, heights tail-contiguous */
  guint64 applied;
};

static void
queued_free (gpointer p)
{
  Queued *e = p;
  cairn_block_unref (e->d);
  g_free (e->bytes);
  cairn_sig_ahead_unref (e->sigs);
  g_free (e);
}

CairnApplyAhead *
cairn_apply_ahead_new (CairnNode *node)
{
  CairnApplyAhead *q = g_new0 (CairnApplyAhead, 1);
  q->node = node;
  g_queue_init (&q->blocks);
  return q;
}

void
cairn_apply_ahead_free (CairnApplyAhead *q)
{
  if (q == NULL)
    return;
  g_queue_clear_full (&q->blocks, queued_free);
  g_free (q);
}

guint
cairn_apply_ahead_length (CairnApplyAhead *q)
{
  return q->blocks.length;
}

uint64_t
cairn_apply_ahead_tail (CairnApplyAhead *q)
{
  Queued *e = g_queue_peek_tail (&q->blocks);
  return e && e->d->height > q->node->head.height ? e->d->height
                                                  : q->node->head.height;
}

guint64
cairn_apply_ahead_applied (CairnApplyAhead *q)
{
  return q->applied;
}

/* The consensus plugin lists e's certificate checks; they start on the
 * pool. e->sigs stays NULL when it lists none. */
static void
start_checks (CairnNode *node, Queued *e)
{
  if (node->consensus.certificate_signatures == NULL)
    return;
  e->bytes = cairn_block_encode (e->d, FALSE, &e->len, NULL);
  if (e->bytes == NULL)
    return;
  CairnBlockInfo info;
  cairn_block_info_fill (&info, e->d, e->bytes, e->len);
  e->sigs = cairn_sig_ahead_new ();
  CairnPluginCall call = cairn_plugin_call_enter (
      node->consensus_plugin->desc.id, "certificate_signatures");
  node->consensus.certificate_signatures (node->consensus_plugin, &info,
                                          e->d->certificate,
                                          cairn_sig_ahead_add, e->sigs);
  cairn_plugin_call_leave (call);
  cairn_sig_ahead_start (e->sigs, node->verify_pool);
}

gboolean
cairn_apply_ahead_push (CairnApplyAhead *q, const void *data, size_t len,
                        GError **error)
{
  CairnNode *node = q->node;
  CairnBlockData *d = cairn_block_decode_known (
      data, len, node->genesis->chain_id, cairn_node_known_tx, node, error);
  if (d == NULL)
    return FALSE;
  uint64_t tail = cairn_apply_ahead_tail (q);
  if (d->certificate == NULL || d->height != tail + 1) {
    if (d->certificate == NULL)
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "block %" G_GUINT64_FORMAT " has no certificate", d->height);
    else
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                   "block %" G_GUINT64_FORMAT
                   " does not follow %" G_GUINT64_FORMAT,
                   d->height, tail);
    cairn_block_unref (d);
    return FALSE;
  }
  Queued *e = g_new0 (Queued, 1);
  e->d = d;
  start_checks (node, e);
  g_queue_push_tail (&q->blocks, e);
  return TRUE;
}

static gboolean
apply (CairnNode *node, Queued *e, gboolean defer, GError **error)
{
  g_autoptr (json_t) cert = json_incref (e->d->certificate);
  CairnBlock *b = cairn_chain_validate_encoded (
      node, cairn_block_ref (e->d), g_steal_pointer (&e->bytes), e->len, error);
  if (b == NULL)
    return FALSE;
  CairnSigAhead *prev = cairn_sig_ahead_enter (e->sigs);
  gboolean ok = node->consensus.verify_certificate (node->consensus_plugin,
                                                    &b->info, cert, error);
  cairn_sig_ahead_leave (prev);
  if (!ok) {
    cairn_block_discard (b);
    return FALSE;
  }
  return defer ? cairn_chain_commit_deferred (node, b, cert, error)
               : cairn_chain_commit (node, b, cert, error);
}

gboolean
cairn_apply_ahead_drain (CairnApplyAhead *q, guint keep, gboolean more_follow,
                         GError **error)
{
  CairnNode *node = q->node;
  while (q->blocks.length > keep) {
    Queued *e = g_queue_pop_head (&q->blocks);
    gboolean ok = TRUE;
    if (e->d->height > node->head.height) {
      ok = apply (node, e, q->blocks.length > 0 || more_follow, error);
      if (ok)
        q->applied++;
    }
    queued_free (e);
    if (!ok) {
      g_queue_clear_full (&q->blocks, queued_free);
      return FALSE;
    }
  }
  return TRUE;
}

/* Applying blocks in their stored form (with certificate) that arrive in
 * a run: catch-up from peers, `cairn store import`.
 *
 * Each pushed block is decoded and queued, and its certificate's
 * signature checks (as the consensus plugin lists them) start on the
 * verify pool at once; drain applies queued blocks in order (execute,
 * state root, certificate, commit) while the pool works on later ones.
 * Applied AHEAD_DEPTH behind the newest received block, a small block's
 * certificate costs the main thread a lookup instead of its Ed25519
 * verifications. A block the consensus plugin cannot list for (no
 * certificate_signatures) is checked as before, on the main thread. */
#pragma once

#include <glib.h>

#include "node.h"

typedef struct CairnApplyAhead CairnApplyAhead;

CairnApplyAhead *cairn_apply_ahead_new (CairnNode *node);
/* Drops what is still queued, unapplied. */
void cairn_apply_ahead_free (CairnApplyAhead *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnApplyAhead, cairn_apply_ahead_free)

/* Decode the block after the newest queued one (or after the head) and
 * queue it. FALSE with error when it does not decode, has no certificate
 * or is not the next height; the queue is unchanged then. */
gboolean cairn_apply_ahead_push (CairnApplyAhead *q, const void *data,
                                 size_t len, GError **error);

/* Apply queued blocks, oldest first, until keep are left. Commits are
 * deferred (not yet fsynced) while later blocks are queued or
 * more_follow says more will come; the last one otherwise waits for the
 * disk. Blocks the head has already passed (the consensus engine
 * committed them meanwhile) are dropped. On a refused block the queue is
 * emptied and error names it; the blocks before it stay committed. */
gboolean cairn_apply_ahead_drain (CairnApplyAhead *q, guint keep,
                                  gboolean more_follow, GError **error);

guint cairn_apply_ahead_length (CairnApplyAhead *q);
/* The height of the newest queued block, or the head's when none. */
uint64_t cairn_apply_ahead_tail (CairnApplyAhead *q);
/* Blocks applied by drain so far. */
guint64 cairn_apply_ahead_applied (CairnApplyAhead *q);

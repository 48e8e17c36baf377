/* State overlays: uncommitted writes layered over the committed head.
 *
 * A block overlay sits on the store's head; each tx gets a child overlay
 * that is merged into the block's on success and dropped on failure. Keys
 * are full "<ns>/<key>" strings; a NULL value records a deletion. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include <cairn/interfaces.h>

#include "lthash.h"

/* How an overlay reads what it does not hold: the committed head. */
typedef struct CairnStateBase {
  const CairnStorageIface *iface;
  CairnStore *store;
} CairnStateBase;

typedef struct CairnOverlay CairnOverlay;

CairnOverlay *cairn_overlay_new (const CairnStateBase *base,
                                 CairnOverlay *parent);
void cairn_overlay_free (CairnOverlay *ov);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnOverlay, cairn_overlay_free)

/* NULL + no error: absent. */
GBytes *cairn_overlay_get (CairnOverlay *ov, const char *key, GError **error);
void cairn_overlay_put (CairnOverlay *ov, const char *key, GBytes *value);
void cairn_overlay_delete (CairnOverlay *ov, const char *key);
/* Ascending by key, merged with the parents and the base. */
gboolean cairn_overlay_iter (CairnOverlay *ov, const char *prefix, CairnKvFn fn,
                             void *user_data, GError **error);
/* Move every write of a child into its parent. */
void cairn_overlay_merge_into_parent (CairnOverlay *child);
guint cairn_overlay_size (CairnOverlay *ov);

/* The write-set, sorted by key (CairnWrite pointers stay valid while the
 * overlay lives), and the new LtHash given the old one: for every written
 * key, remove (key, committed value) if any and add (key, new value).
 * new_hash NULL: only the write-set. */
GArray *cairn_overlay_write_set (CairnOverlay *ov, const CairnLtHash *old,
                                 CairnLtHash *new_hash, GError **error);

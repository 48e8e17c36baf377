/* groups: node groups for business activities (internal declarations).
 *
 * The plugin's files: groups.c (lifecycle, config, the encryption key,
 * shared helpers), txs.c (tx types, genesis params), delivery.c (direct
 * messages: push, want, relay; pending and missing versions; the private
 * store), routes.c (HTTP), envelope.c (the encrypted format; no host
 * call). State layout (namespace "groups"):
 *
 *   params                    {"max_members","max_payload_bytes",
 *                              "regulator_role"}
 *   k/<addr>                  {"x25519","height"}
 *   g/<id>                    the group (see group_new in txs.c)
 *   v/<id>/<version %020>     {"commitment","keys_hash","size","recipients",
 *                              "keys":{addr:pk},"publisher","height","time"}
 *   m/<addr>/<id>             {} while addr is a member
 *   r/<addr>/<id>/<version>   {} for every version addr is a recipient of
 *
 * Private (this node only): e/<id>/<version %020> the envelope bytes. */
#pragma once

#define CAIRN_PLUGIN_MIN_MINOR 3
#include <cairn/cairn.h>

#include "envelope.h"

#define GRP_ID "groups"
#define GRP_DOMAIN_READ "cairn.groups.read"
#define GRP_DEFAULT_MAX_MEMBERS 32
#define GRP_DEFAULT_MAX_PAYLOAD (1u << 20)
#define GRP_LIMIT_PAYLOAD (3u << 20)
#define GRP_LIMIT_MEMBERS 256
#define GRP_PENDING_TTL_MS (10 * 60 * 1000)

typedef struct Groups {
  CairnPlugin *self;
  char addr[41]; /* this node */
  uint8_t enc_priv[32], enc_pub[32];
  char enc_pub_hex[65];
  char *enc_path;
  gboolean auto_register;
  int64_t sync_interval_ms, pending_max, skew_ms;
  guint timer, sub_published, sub_block;
  int64_t register_next_ms; /* when to check the key registration again */
  /* "<id>/<version %020>" -> GrpPending (pushes before their version) */
  GHashTable *pending;
  size_t pending_bytes;
  /* "<id>/<version %020>" -> GrpMissing (versions this node should hold) */
  GHashTable *missing;
  uint64_t stored, rejected, relayed, pushes, wants;
} Groups;

typedef struct {
  GBytes *bytes;
  char from[41];
  int64_t since_ms;
} GrpPending;

typedef struct {
  char group[65];
  uint64_t version;
  guint tries;
} GrpMissing;

extern const CairnHost *grp_host;

/* A JSON value of the plugin's state (tx NULL: the head), or NULL with
 * *error unset when the key is absent. */
json_t *grp_get (Groups *g, CairnTxCtx *tx, const char *key, GError **error);
/* "<id>/<version %020>" (g_free) */
char *grp_version_key (const char *group, uint64_t version);
void grp_metrics (Groups *g);

/* ---- txs.c ---- */
gboolean grp_register_txs (Groups *g, GError **error);
json_t *grp_params (Groups *g, CairnTxCtx *tx, GError **error);

/* ---- delivery.c ---- */
gboolean grp_delivery_start (Groups *g, GError **error);
void grp_delivery_stop (Groups *g);
/* An envelope from an upload (from = NULL) or a push. Checks it against
 * the chain and stores it; an upload is then pushed to the other
 * recipients. Errors: NOT_FOUND (no such version yet), UNAUTHORIZED (this
 * node is not a recipient), INVALID (does not match the chain). */
gboolean grp_accept (Groups *g, GBytes *envelope, const char *from,
                     GError **error);
/* The stored envelope of a version, or NULL (NOT_FOUND). */
GBytes *grp_stored (Groups *g, const char *group, uint64_t version,
                    GError **error);
void grp_on_direct (CairnPlugin *self, const char *peer_id, const void *data,
                    size_t len, void *user_data);

/* ---- routes.c ---- */
gboolean grp_register_routes (Groups *g, GError **error);

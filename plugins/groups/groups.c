/* groups: node groups for business activities, encrypted multicast to
 * members, commitments on chain. Lifecycle, config, the node's encryption
 * key and shared helpers; see README.md. */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>

#include "groups.h"

#include <cairn/explorer.h>

const CairnHost *grp_host;

/* ---- helpers ---------------------------------------------------------- */

json_t *
grp_get (Groups *g, CairnTxCtx *tx, const char *key, GError **error)
{
  return cairn_state_get_json_opt (grp_host, g->self, tx, key, error);
}

char *
grp_version_key (const char *group, uint64_t version)
{
  return g_strdup_printf ("%s/%020" G_GUINT64_FORMAT, group, version);
}

void
grp_metrics (Groups *g)
{
  static const struct {
    const char *name, *help;
    size_t off;
  } m[] = {
    { "groups_stored_total", "Versions verified and stored by this member",
      G_STRUCT_OFFSET (Groups, stored) },
    { "groups_rejected_total",
      "Envelopes refused (not matching the chain, not for this node)",
      G_STRUCT_OFFSET (Groups, rejected) },
    { "groups_relayed_total", "Messages relayed for other nodes (ciphertext)",
      G_STRUCT_OFFSET (Groups, relayed) },
    { "groups_pushes_total", "Envelopes pushed to other members",
      G_STRUCT_OFFSET (Groups, pushes) },
    { "groups_wants_total", "Requests for missing versions sent",
      G_STRUCT_OFFSET (Groups, wants) },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (m); i++)
    grp_host->metric_set (g->self, m[i].name, m[i].help,
                          (int64_t)G_STRUCT_MEMBER (uint64_t, g, m[i].off),
                          NULL);
  grp_host->metric_set (g->self, "groups_missing",
                        "Versions this member should hold but does not yet",
                        g_hash_table_size (g->missing), NULL);
  grp_host->metric_set (g->self, "groups_pending_bytes",
                        "Pushed envelopes waiting for their version to commit",
                        (int64_t)g->pending_bytes, NULL);
}

/* ---- the node's encryption key ---------------------------------------- */

/* <data_dir>/enc.pem, made on first start. */
static gboolean
load_key (Groups *g, GError **error)
{
  g->enc_path
      = g_build_filename (grp_host->data_dir (g->self), "enc.pem", NULL);
  g_autoptr (GError) local = NULL;
  if (!g_file_test (g->enc_path, G_FILE_TEST_EXISTS)) {
    if (!grp_key_generate (g->enc_priv, g->enc_pub, &local)
        || !grp_key_save (g->enc_path, g->enc_priv, &local))
      return cairn_fail (error, CAIRN_ERROR_IO,
                         "groups: cannot make the encryption key: %s",
                         local->message);
    cairn_log (grp_host, g->self, G_LOG_LEVEL_MESSAGE,
               "made the group encryption key %s", g->enc_path);
  } else if (!grp_key_load (g->enc_path, g->enc_priv, &local)
             || !grp_key_public (g->enc_priv, g->enc_pub, &local)) {
    return cairn_fail (error, CAIRN_ERROR_CONFIG, "groups: %s", local->message);
  }
  grp_hex (g->enc_pub, 32, g->enc_pub_hex);
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------- */

static void
pending_free (gpointer p)
{
  GrpPending *e = p;
  g_bytes_unref (e->bytes);
  g_free (e);
}

static void
groups_free (Groups *g)
{
  if (g->pending)
    g_hash_table_destroy (g->pending);
  if (g->missing)
    g_hash_table_destroy (g->missing);
  OPENSSL_cleanse (g->enc_priv, sizeof g->enc_priv);
  g_free (g->enc_path);
  g_free (g);
}

static gboolean
groups_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  grp_host = h;
  Groups *g = g_new0 (Groups, 1);
  int64_t skew;
  g->self = self;
  g->pending
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pending_free);
  g->missing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_strlcpy (g->addr, h->node_address (self), sizeof g->addr);
  if (!h->config_bool (self, "auto_register", TRUE, &g->auto_register, error)
      || !h->config_int (self, "sync_interval_ms", 2000, 100, 600000,
                         &g->sync_interval_ms, error)
      || !h->config_int (self, "pending_bytes", 64 << 20, 0, INT64_C (1) << 40,
                         &g->pending_max, error)
      || !h->config_int (self, "request_skew_seconds", 300, 1, 3600, &skew,
                         error))
    goto fail;
  g->skew_ms = skew * 1000;
  h->set_data (self, g);
  if (!load_key (g, error) || !grp_register_txs (g, error)
      || !grp_register_routes (g, error)
      || !h->register_direct_handler (self, grp_on_direct, g, error))
    goto fail;
  return TRUE;
fail:
  h->set_data (self, NULL);
  groups_free (g);
  return FALSE;
}

static gboolean
groups_start (CairnPlugin *self, GError **error)
{
  cairn_explorer_add_panel (
      grp_host, self,
      "{\"id\":\"commitments\",\"title\":\"Group commitments\","
      "\"route\":\"/v1/groups/commitments\",\"description\":\"What the "
      "chain records of each privacy-group version: the SHA-256 of the "
      "ciphertext, its size and who published it\",\"columns\":[{\"key\":"
      "\"group\",\"label\":\"Group\"},{\"key\":\"version\",\"label\":"
      "\"Version\"},{\"key\":\"commitment\",\"label\":\"Commitment\"},"
      "{\"key\":\"size\",\"label\":\"Size\"},{\"key\":\"publisher\","
      "\"label\":\"Publisher\",\"link\":\"account\"},{\"key\":"
      "\"height\",\"label\":\"Height\",\"link\":\"block\"}]}");
  return grp_delivery_start (grp_host->get_data (self), error);
}

static void
groups_stop (CairnPlugin *self)
{
  Groups *g = grp_host->get_data (self);
  if (g != NULL)
    grp_delivery_stop (g);
}

static void
groups_fini (CairnPlugin *self)
{
  Groups *g = grp_host->get_data (self);
  if (g != NULL) {
    grp_delivery_stop (g);
    groups_free (g);
  }
  grp_host->set_data (self, NULL);
}

CAIRN_PLUGIN_DEFINE (groups, .id = GRP_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Node groups for business activities: "
                                    "payloads encrypted to the members and "
                                    "sent only to them, commitments on chain",
                     .kinds = CAIRN_KIND_PRIVACY | CAIRN_KIND_APP,
                     .init = groups_init, .start = groups_start,
                     .stop = groups_stop, .fini = groups_fini)

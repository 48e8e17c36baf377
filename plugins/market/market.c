/* market: decentralized third-party app services — usage, ratings, an
 * agreed ranking per epoch and decaying voucher rewards. Lifecycle,
 * config, shared helpers and the automatic ranking; see README.md. */
#include <string.h>

#include "market.h"

#include <cairn/explorer.h>

const CairnHost *mkt_host;

/* ---- helpers ---------------------------------------------------------- */

json_t *
mkt_get (Market *m, CairnTxCtx *tx, const char *key, GError **error)
{
  return cairn_state_get_json_opt (mkt_host, m->self, tx, key, error);
}

gboolean
mkt_put (Market *m, CairnTxCtx *tx, const char *key, const json_t *v,
         GError **error)
{
  return mkt_host->state_put_json (m->self, tx, key, v, error);
}

const char *
mkt_str (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

json_int_t
mkt_int (const json_t *o, const char *k)
{
  return json_integer_value (json_object_get (o, k));
}

int64_t
mkt_epoch_of (const MktParams *p, uint64_t height)
{
  return height == 0 ? 0 : (int64_t)((height - 1) / (uint64_t)p->epoch_blocks);
}

/* ---- the automatic ranking -------------------------------------------- */

/* After each block: an app node sends market.rank for the epoch that has
 * just completed, unless it is ranked already or empty. */
static void
on_block (CairnPlugin *self, const CairnEvent *ev, void *user_data)
{
  Market *m = user_data;
  MktParams p;
  if (!m->auto_rank || strcmp (ev->type, "block") != 0
      || !mkt_params (m, NULL, &p, NULL))
    return;
  int64_t done = (int64_t)(ev->height / (uint64_t)p.epoch_blocks) - 1;
  if (done < 0 || done <= m->last_auto_epoch)
    return;
  const char *me = mkt_host->node_address (self);
  if (!mkt_has_role (m, NULL, me, p.app_node_role))
    return;
  char k[MKT_KEYBUF];
  g_snprintf (k, sizeof k, "epoch/%010" G_GINT64_FORMAT "/ranking", done);
  g_autoptr (json_t) have = mkt_get (m, NULL, k, NULL);
  if (have != NULL)
    return;
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) ranking
      = mkt_ranking_compute (m, NULL, &p, done, NULL, NULL, &e);
  if (ranking == NULL) {
    /* Nothing to rank (an empty epoch), or the state cannot be read. */
    cairn_log (mkt_host, self, G_LOG_LEVEL_DEBUG,
               "no ranking of epoch %" G_GINT64_FORMAT ": %s", done,
               e->message);
    m->last_auto_epoch = done;
    return;
  }
  g_autoptr (json_t) body = json_pack ("{s:I,s:s}", "epoch", (json_int_t)done,
                                       "hash", mkt_str (ranking, "hash"));
  g_autofree char *id = NULL;
  /* Done once sent; a failed send (a full mempool) is tried again at the
   * next block. */
  if (mkt_host->submit_tx (self, "market.rank", body, &id, &e)) {
    m->last_auto_epoch = done;
    cairn_log (mkt_host, self, G_LOG_LEVEL_INFO,
               "sent the ranking of epoch %" G_GINT64_FORMAT " (tx %s)", done,
               id);
  } else
    cairn_log (mkt_host, self, G_LOG_LEVEL_WARNING,
               "cannot send the ranking of epoch %" G_GINT64_FORMAT ": %s",
               done, e->message);
}

/* ---- lifecycle -------------------------------------------------------- */

static gboolean
market_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  mkt_host = h;
  Market *m = g_new0 (Market, 1);
  m->self = self;
  m->last_auto_epoch = -1;
  m->bank = h->lookup_service (self, CAIRN_BANK_SERVICE,
                               CAIRN_BANK_SERVICE_VERSION);
  if (m->bank == NULL) {
    cairn_fail (error, CAIRN_ERROR_CONFIG,
                "market needs the cairn.bank/1 service: load the bank plugin");
    goto fail;
  }
  if (!h->config_bool (self, "auto_rank", TRUE, &m->auto_rank, error))
    goto fail;
  h->set_data (self, m);
  if (!mkt_register_txs (m, error) || !mkt_register_routes (m, error))
    goto fail;
  return TRUE;
fail:
  h->set_data (self, NULL);
  g_free (m);
  return FALSE;
}

static gboolean
market_start (CairnPlugin *self, GError **error)
{
  Market *m = mkt_host->get_data (self);
  cairn_explorer_add_panel (
      mkt_host, self,
      "{\"id\":\"apps\",\"title\":\"App services\",\"route\":"
      "\"/v1/market/services/\",\"description\":\"Third-party app "
      "services on the market (their per-epoch ranking: GET "
      "/v1/market/ranking)\",\"columns\":[{\"key\":\"name\",\"label\":"
      "\"Name\"},{\"key\":\"category\",\"label\":\"Category\"},"
      "{\"key\":\"developer\",\"label\":\"Developer\",\"link\":"
      "\"account\"},{\"key\":\"id\",\"label\":\"Id\",\"link\":"
      "\"tx\"}]}");
  m->sub_block = mkt_host->subscribe (self, "block", on_block, m);
  return TRUE;
}

static void
market_stop (CairnPlugin *self)
{
  Market *m = mkt_host->get_data (self);
  if (m != NULL && m->sub_block) {
    mkt_host->unsubscribe (self, m->sub_block);
    m->sub_block = 0;
  }
}

static void
market_fini (CairnPlugin *self)
{
  Market *m = mkt_host->get_data (self);
  if (m != NULL) {
    market_stop (self);
    g_clear_pointer (&m->params_raw, g_bytes_unref);
    g_free (m);
  }
  mkt_host->set_data (self, NULL);
}

static const CairnServiceRef market_requires[] = {
  { CAIRN_BANK_SERVICE, CAIRN_BANK_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (market, .id = MKT_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Third-party app services: registry, "
                                    "usage, ratings, an agreed ranking per "
                                    "epoch, decaying voucher rewards, trading",
                     .kinds = CAIRN_KIND_APP, .requires = market_requires,
                     .init = market_init, .start = market_start,
                     .stop = market_stop, .fini = market_fini)

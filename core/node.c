/* The node: assembles config, key, genesis, plugins, storage, mempool,
 * chain and HTTP, and runs them on the main loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib-unix.h>

#include "chain_verify.h"
#include "cjson.h"
#include "http.h"
#include "node_private.h"
#include "privileges.h"
#include "watchdog.h"
#include "p2p.h"
#include "plugin_sig.h"
#include "sig_ahead.h"

#ifndef CAIRN_PLUGINSDIR
#define CAIRN_PLUGINSDIR "/usr/local/lib/cairn/plugins"
#endif

/* ---- logging ------------------------------------------------------------ */

static GLogLevelFlags log_threshold = G_LOG_LEVEL_INFO;

static void
log_handler (const char *domain, GLogLevelFlags level, const char *message,
             gpointer unused)
{
  GLogLevelFlags l = level & G_LOG_LEVEL_MASK;
  if (l > log_threshold)
    return;
  const char *name = l & G_LOG_LEVEL_ERROR      ? "error"
                     : l & G_LOG_LEVEL_CRITICAL ? "critical"
                     : l & G_LOG_LEVEL_WARNING  ? "warning"
                     : l & G_LOG_LEVEL_MESSAGE  ? "message"
                     : l & G_LOG_LEVEL_INFO     ? "info"
                                                : "debug";
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *ts = g_date_time_format (now, "%H:%M:%S");
  fprintf (stderr, "%s.%03d %-7s %s: %s\n", ts,
           g_date_time_get_microsecond (now) / 1000, name,
           domain ? domain : "cairn", message);
}

static gboolean
set_log_level (const char *name, GError **error)
{
  static const struct {
    const char *name;
    GLogLevelFlags level;
  } levels[] = { { "error", G_LOG_LEVEL_CRITICAL },
                 { "warning", G_LOG_LEVEL_WARNING },
                 { "message", G_LOG_LEVEL_MESSAGE },
                 { "info", G_LOG_LEVEL_INFO },
                 { "debug", G_LOG_LEVEL_DEBUG } };
  for (guint i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_strcmp0 (name, levels[i].name) == 0) {
      log_threshold = levels[i].level;
      g_log_set_default_handler (log_handler, NULL);
      return TRUE;
    }
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "[node] log_level: must be error, warning, message, info or "
               "debug (got '%s')",
               name);
  return FALSE;
}

/* ---- parallel signature verification ------------------------------------ */

typedef struct {
  CairnPoolJob job; /* first: the pool runs it */
  CairnTx **txs;
  GError **errors;
  guint start, end;
  gint *pending;
  GMutex *lock;
  GCond *cond;
} VerifyJob;

static void
verify_range (CairnTx **txs, GError **errors, guint start, guint end)
{
  for (guint i = start; i < end; i++)
    if (!txs[i]->sig_checked && errors[i] == NULL)
      cairn_tx_verify (txs[i], &errors[i]);
}

static void
verify_job (CairnPoolJob *job)
{
  VerifyJob *j = (VerifyJob *)job;
  verify_range (j->txs, j->errors, j->start, j->end);
  g_mutex_lock (j->lock);
  if (--*j->pending == 0)
    g_cond_signal (j->cond);
  g_mutex_unlock (j->lock);
}

/* The verify pool runs jobs of several kinds (sig_ahead.h). */
static void
pool_worker (gpointer data, gpointer unused)
{
  CairnPoolJob *job = data;
  job->run (job);
}

/* errors[i] set for each bad tx; TRUE when all are good. */
gboolean
cairn_node_verify_txs (CairnNode *node, CairnTx **txs, guint n, GError **errors)
{
  guint workers = node->verify_pool
                      ? g_thread_pool_get_max_threads (node->verify_pool)
                      : 0;
  if (n < 32 || workers < 1) {
    verify_range (txs, errors, 0, n);
  } else {
    /* The main thread verifies the first chunk itself. */
    guint chunks = workers + 1;
    guint per = (n + chunks - 1) / chunks;
    GMutex lock;
    GCond cond;
    g_mutex_init (&lock);
    g_cond_init (&cond);
    gint pending = 0;
    g_autofree VerifyJob *jobs = g_new0 (VerifyJob, chunks);
    for (guint c = 1; c < chunks; c++) {
      guint s = c * per, e = MIN (n, s + per);
      if (s >= e)
        break;
      jobs[c] = (VerifyJob){ { verify_job }, txs,   errors, s, e,
                             &pending,       &lock, &cond };
      pending++;
    }
    gint to_push = pending;
    for (gint c = 1; c <= to_push; c++)
      g_thread_pool_push (node->verify_pool, &jobs[c], NULL);
    verify_range (txs, errors, 0, MIN (n, per));
    g_mutex_lock (&lock);
    while (pending > 0)
      g_cond_wait (&cond, &lock);
    g_mutex_unlock (&lock);
    g_mutex_clear (&lock);
    g_cond_clear (&cond);
  }
  for (guint i = 0; i < n; i++)
    if (errors[i])
      return FALSE;
  return TRUE;
}

/* A CairnTxLookup over the mempool (main thread): the txs of a proposal
 * or a block from a peer that this node already admitted are taken as
 * they are, neither decoded nor verified again. */
CairnTx *
cairn_node_known_tx (const uint8_t id[32], gpointer data)
{
  CairnNode *node = data;
  char hex[65];
  cairn_hex_lower_into (id, 32, hex);
  CairnTx *tx = cairn_mempool_lookup (node->mempool, hex);
  return tx ? cairn_tx_ref (tx) : NULL;
}

/* ---- admission ---------------------------------------------------------- */

static gboolean
notify_consensus (gpointer data)
{
  CairnNode *node = data;
  node->notify_source = 0;
  if (node->consensus.on_txs_available)
    node->consensus.on_txs_available (node->consensus_plugin);
  return G_SOURCE_REMOVE;
}

void
cairn_node_txs_available (CairnNode *node)
{
  if (node->notify_source == 0 && node->started)
    node->notify_source = node->clock->timeout_add (
        node->clock, 0, notify_consensus, node, NULL);
}

static gboolean
admit (CairnNode *node, CairnTx *tx, GError **error)
{
  TxTypeEntry *te = g_hash_table_lookup (node->tx_types, tx->type);
  if (te == NULL) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_UNKNOWN_TYPE,
                 "no loaded plugin handles tx type '%s'", tx->type);
    return FALSE;
  }
  if (te->handler.check) {
    GError *local = NULL;
    if (!te->handler.check (te->plugin, tx->body, &local)) {
      g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_INVALID_BODY,
                   "%s body: %s", tx->type,
                   local ? local->message : "refused by the handler");
      g_clear_error (&local);
      return FALSE;
    }
  }
  GError *local = NULL;
  uint64_t nonce = cairn_account_nonce (node, NULL, tx->from, &local);
  if (local) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "cannot read the account nonce: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  return cairn_mempool_add (node->mempool, tx, nonce,
                            node->clock->mono_ms (node->clock), error);
}

guint
cairn_node_submit_many (CairnNode *node, CairnTx **txs, guint n,
                        GError **errors)
{
  return cairn_node_admit (node, txs, n, errors, NULL);
}

guint
cairn_node_admit (CairnNode *node, CairnTx **txs, guint n, GError **errors,
                  const char *peer)
{
  node->metrics.txs_received += n;
  /* Cheap refusals first: a tx that gossip brings from several peers, or
   * one already committed, costs no Ed25519 verification. */
  for (guint i = 0; i < n; i++) {
    if (errors[i] != NULL || txs[i]->sig_checked)
      continue;
    GError *local = NULL;
    uint64_t nonce = cairn_account_nonce (node, NULL, txs[i]->from, &local);
    if (local == NULL)
      cairn_mempool_precheck (node->mempool, txs[i], nonce, &errors[i]);
    g_clear_error (&local); /* admit() reports it */
  }
  cairn_node_verify_txs (node, txs, n, errors);
  guint accepted = 0;
  g_autofree CairnTx **fresh = g_new (CairnTx *, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    if (errors[i] == NULL && admit (node, txs[i], &errors[i]))
      fresh[accepted++] = txs[i];
    if (errors[i]) {
      int code = errors[i]->domain == CAIRN_REJECT ? errors[i]->code : 0;
      if (code < 0 || code >= (int)G_N_ELEMENTS (node->metrics.txs_rejected))
        code = 0;
      node->metrics.txs_rejected[code]++;
    }
  }
  node->metrics.txs_accepted += accepted;
  if (accepted) {
    cairn_node_txs_available (node);
    cairn_gossip_txs (node, fresh, accepted, peer);
  }
  return accepted;
}

gboolean
cairn_node_submit (CairnNode *node, CairnTx *tx, GError **error)
{
  GError *err = NULL;
  if (cairn_node_submit_many (node, &tx, 1, &err) == 1)
    return TRUE;
  g_propagate_error (error, err);
  return FALSE;
}

/* ---- assembly ----------------------------------------------------------- */

static void
tx_type_free (gpointer p)
{
  g_free (p);
}

static void
route_free (gpointer p)
{
  RouteEntry *r = p;
  g_free (r->method);
  g_free (r->path);
  g_free (r);
}

static void
peer_addr_clear (gpointer p)
{
  cairn_peer_addr_clear (p);
}

static gboolean
read_p2p_limits (CairnConfig *cfg, CairnP2pLimits *lim, GError **error)
{
  int64_t in, per_ip, hs, ft, fps, fburst;
  uint64_t frame, bps, bburst;
  cairn_p2p_limits_default (lim);
  if (!cairn_config_int (cfg, "p2p", "max_inbound", lim->max_inbound, 1, 65536,
                         &in, error)
      || !cairn_config_int (cfg, "p2p", "max_inbound_per_ip",
                            lim->max_inbound_per_ip, 1, 65536, &per_ip, error)
      || !cairn_config_int (cfg, "p2p", "handshake_timeout_ms",
                            lim->handshake_timeout_ms, 100, 600000, &hs, error)
      || !cairn_config_int (cfg, "p2p", "frame_timeout_ms",
                            lim->frame_timeout_ms, 100, 600000, &ft, error)
      || !cairn_config_size (cfg, "p2p", "max_frame_bytes",
                             lim->max_frame_bytes, 64u << 10,
                             CAIRN_P2P_MAX_FRAME, &frame, error)
      || !cairn_config_size (cfg, "p2p", "rate_bytes_per_second",
                             lim->rate_bytes_per_s, 0, (uint64_t)1 << 40, &bps,
                             error)
      || !cairn_config_size (cfg, "p2p", "rate_burst_bytes",
                             lim->rate_burst_bytes, 0, (uint64_t)1 << 40,
                             &bburst, error)
      || !cairn_config_int (cfg, "p2p", "rate_frames_per_second",
                            lim->rate_frames_per_s, 0, 10000000, &fps, error)
      || !cairn_config_int (cfg, "p2p", "rate_burst_frames",
                            lim->rate_burst_frames, 0, 100000000, &fburst,
                            error))
    return FALSE;
  lim->max_inbound = in;
  lim->max_inbound_per_ip = per_ip;
  lim->handshake_timeout_ms = hs;
  lim->frame_timeout_ms = ft;
  lim->max_frame_bytes = frame;
  lim->rate_bytes_per_s = bps;
  /* A burst smaller than a frame could never let one through. */
  lim->rate_burst_bytes = MAX (bburst, frame + 4);
  lim->rate_frames_per_s = fps;
  lim->rate_burst_frames = MAX (fburst, 1);
  return TRUE;
}

static gboolean
read_http_limits (CairnConfig *cfg, CairnHttpLimits *lim, GError **error)
{
  int64_t conns, per_ip, rps, burst, timeout;
  uint64_t body;
  cairn_http_limits_default (lim);
  if (!cairn_config_int (cfg, "http", "max_connections", lim->max_connections,
                         1, 1000000, &conns, error)
      || !cairn_config_int (cfg, "http", "max_connections_per_ip",
                            lim->max_connections_per_ip, 1, 1000000, &per_ip,
                            error)
      || !cairn_config_size (cfg, "http", "max_body_bytes", lim->max_body_bytes,
                             1024, (uint64_t)1 << 30, &body, error)
      || !cairn_config_int (cfg, "http", "requests_per_second_per_ip",
                            (int64_t)lim->rate_per_s, 0, 10000000, &rps, error)
      || !cairn_config_int (cfg, "http", "requests_burst_per_ip",
                            (int64_t)lim->rate_burst, 1, 100000000, &burst,
                            error)
      || !cairn_config_bool (cfg, "http", "rate_limit_exempt_loopback",
                             lim->rate_exempt_loopback,
                             &lim->rate_exempt_loopback, error)
      || !cairn_config_int (cfg, "http", "request_timeout_ms",
                            lim->request_timeout_ms, 100, 3600000, &timeout,
                            error))
    return FALSE;
  lim->max_connections = conns;
  lim->max_connections_per_ip = per_ip;
  lim->max_body_bytes = body;
  lim->rate_per_s = (double)rps;
  lim->rate_burst = (double)burst;
  lim->request_timeout_ms = timeout;
  return TRUE;
}

static gboolean
read_p2p_config (CairnNode *node, GError **error)
{
  CairnConfig *cfg = node->cfg;
  g_auto (GStrv) peers = NULL;
  node->p2p_peers = g_array_new (FALSE, TRUE, sizeof (CairnPeerAddr));
  g_array_set_clear_func (node->p2p_peers, peer_addr_clear);
  if (!cairn_config_bool (cfg, "p2p", "enabled", FALSE, &node->p2p_enabled,
                          error)
      || !cairn_config_string (cfg, "p2p", "listen", "127.0.0.1:7710",
                               &node->p2p_listen, error)
      || !cairn_config_strv (cfg, "p2p", "persistent_peers", &peers, error)
      || !cairn_config_strv (cfg, "p2p", "allow", &node->p2p_allow, error)
      || !read_p2p_limits (cfg, &node->p2p_limits, error))
    return FALSE;
  for (guint i = 0; peers[i]; i++) {
    CairnPeerAddr a = { 0 };
    if (!cairn_peer_addr_parse (peers[i], &a, error)) {
      g_prefix_error (error, "[p2p] persistent_peers: ");
      return FALSE;
    }
    g_array_append_val (node->p2p_peers, a);
  }
  for (guint i = 0; node->p2p_allow[i]; i++)
    if (!cairn_address_valid (node->p2p_allow[i])) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "[p2p] allow: '%s' is not a node id (40 lowercase hex "
                   "characters)",
                   node->p2p_allow[i]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_core_config (CairnNode *node, const CairnNodeOptions *opts,
                  char **genesis_path, char **key_path, char **chain_id,
                  char ***plugin_dirs, char ***load, GError **error)
{
  CairnConfig *cfg = node->cfg;
  g_autofree char *log_level = NULL, *genesis = NULL, *key = NULL, *data = NULL,
                  *listen = NULL;
  int64_t max_txs, gap, ttl, bmax, per_sender;
  uint64_t max_bytes, bbytes;
  if (!cairn_config_string (cfg, "node", "chain_id", NULL, chain_id, error)
      || !cairn_config_string (cfg, "node", "log_level", "info", &log_level,
                               error)
      || !cairn_config_string (cfg, "node", "key", "keys/node.pem", &key, error)
      || !cairn_config_string (cfg, "node", "genesis", "genesis.json", &genesis,
                               error)
      || !cairn_config_string (cfg, "node", "data_dir", "data", &data, error)
      || !cairn_config_string (cfg, "node", "user", NULL, &node->run_as_user,
                               error)
      || !cairn_config_int (cfg, "node", "watchdog_ms",
                            opts->watchdog ? 2000 : 0, 0, 600000,
                            &node->watchdog_ms, error)
      || !cairn_config_strv (cfg, "plugins", "path", plugin_dirs, error)
      || !cairn_config_strv (cfg, "plugins", "load", load, error)
      || !cairn_config_bool (cfg, "http", "enabled", TRUE, &node->http_enabled,
                             error)
      || !cairn_config_string (cfg, "http", "listen", "127.0.0.1:7700", &listen,
                               error)
      || !cairn_config_size (cfg, "http", "max_blob_bytes", (uint64_t)8 << 30,
                             1, (uint64_t)1 << 40, &node->http_max_blob, error)
      || !cairn_config_int (cfg, "mempool", "max_txs", 200000, 1, 10000000,
                            &max_txs, error)
      || !cairn_config_size (cfg, "mempool", "max_bytes", 256u << 20, 1 << 16,
                             (uint64_t)64 << 30, &max_bytes, error)
      || !cairn_config_int (cfg, "mempool", "max_nonce_gap", 1024, 0, 1 << 20,
                            &gap, error)
      || !cairn_config_int (cfg, "mempool", "ttl_seconds", 600, 1, 86400 * 7,
                            &ttl, error)
      || !cairn_config_int (cfg, "mempool", "max_txs_per_sender", 10000, 1,
                            10000000, &per_sender, error)
      || !read_http_limits (cfg, &node->http_limits, error)
      || !cairn_config_int (cfg, "block", "max_txs", 10000, 1, 1000000, &bmax,
                            error)
      /* A block travels whole in one P2P frame (a proposal, a catch-up
       * answer): a bigger one would stop the chain round after round. */
      || !cairn_config_size (cfg, "block", "max_bytes", 3u << 20, 1 << 16,
                             CAIRN_P2P_MAX_FRAME - (512u << 10), &bbytes, error)
      || !read_p2p_config (node, error))
    return FALSE;
  if (!set_log_level (log_level, error))
    return FALSE;
  *genesis_path = cairn_config_path (cfg, genesis);
  *key_path = cairn_config_path (cfg, key);
  node->data_dir = cairn_config_path (cfg, data);
  node->http_listen = g_strdup (opts->http_listen ? opts->http_listen : listen);
  if (opts->no_http)
    node->http_enabled = FALSE;
  CairnMempoolLimits lim = { .max_txs = max_txs,
                             .max_bytes = max_bytes,
                             .max_nonce_gap = gap,
                             .ttl_ms = ttl * 1000,
                             .max_per_sender = per_sender };
  node->mempool_limits = lim;
  node->mempool = cairn_mempool_new (&lim);
  node->block_max_txs = bmax;
  node->block_max_bytes = bbytes;
  return TRUE;
}

static gboolean
expire_tick (gpointer data)
{
  CairnNode *node = data;
  guint n = cairn_mempool_expire (node->mempool,
                                  node->clock->mono_ms (node->clock));
  if (n)
    g_info ("dropped %u pending txs older than the mempool ttl", n);
  return G_SOURCE_CONTINUE;
}

/* CairnNodeOptions.extra_blobstores: the ids not in [plugins] load are
 * loaded too (descriptors read, nothing run yet) and must be blob stores;
 * h_register_blobstore keeps them beside the node's own. */
static gboolean
load_extra_blobstores (CairnNode *node, const CairnNodeOptions *opts,
                       const char *const *load, GError **error)
{
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  for (guint i = 0; opts->extra_blobstores && opts->extra_blobstores[i]; i++) {
    const char *id = opts->extra_blobstores[i];
    if (!g_strv_contains (load, id)
        && !g_ptr_array_find_with_equal_func (extra, id, g_str_equal, NULL))
      g_ptr_array_add (extra, (gpointer)id);
  }
  if (extra->len == 0)
    return TRUE;
  g_ptr_array_add (extra, NULL);
  node->extra_blobstores = g_strdupv ((char **)extra->pdata);
  if (!cairn_plugin_host_load (node->plugins, (const char *const *)extra->pdata,
                               error))
    return FALSE;
  for (guint i = 0; node->extra_blobstores[i]; i++) {
    CairnPlugin *p
        = cairn_plugin_host_find (node->plugins, node->extra_blobstores[i]);
    if (p != NULL && !(p->desc.kinds & CAIRN_KIND_BLOBSTORE)) {
      g_autofree char *kinds = cairn_plugin_kinds_to_string (p->desc.kinds);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "plugin %s (%s) is not a blob store (its kinds: %s)",
                   p->desc.id, p->file, kinds);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
lock_data_dir (CairnNode *node, GError **error)
{
  if (g_mkdir_with_parents (node->data_dir, 0700) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "cannot create %s: %s",
                 node->data_dir, g_strerror (errno));
    return FALSE;
  }
  g_autofree char *path = g_build_filename (node->data_dir, "node.lock", NULL);
  node->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (node->lock_fd < 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "cannot open %s: %s", path,
                 g_strerror (errno));
    return FALSE;
  }
  if (flock (node->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    g_set_error (error, CAIRN_ERROR,
                 err == EWOULDBLOCK ? CAIRN_ERROR_CONFLICT : CAIRN_ERROR_IO,
                 "%s is in use by another cairn process (a running node, or "
                 "cairn store/blob on the same home): %s; stop it first",
                 node->data_dir, g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

CairnNode *
cairn_node_new (const CairnNodeOptions *opts, GError **error)
{
  g_autoptr (CairnNode) node = g_new0 (CairnNode, 1);
  node->home = g_strdup (opts->home);
  node->clock = opts->clock ? opts->clock : cairn_clock_system ();
  node->transport_factory = opts->transport_factory;
  node->transport_factory_data = opts->transport_factory_data;
  node->tx_types
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tx_type_free);
  node->apps = g_ptr_array_new_with_free_func (g_free);
  node->routes = g_ptr_array_new_with_free_func (route_free);
  node->direct = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  node->services
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  node->blobstores = g_ptr_array_new_with_free_func (g_free);
  node->core_plugin.desc.id = "core";
  node->core_plugin.file = (char *)"<core>";
  node->core_plugin.log_domain = (char *)"cairn";
  node->core_plugin.node = node;
  node->core_plugin.state = CAIRN_PLUGIN_STATE_STARTED;
  node->started_ms = node->clock->wall_ms (node->clock);

  node->lock_fd = -1;

  node->cfg = cairn_config_load (opts->home, error);
  if (node->cfg == NULL)
    return NULL;
  g_autofree char *genesis_path = NULL, *key_path = NULL, *chain_id = NULL;
  g_auto (GStrv) dirs = NULL, load = NULL;
  if (!read_core_config (node, opts, &genesis_path, &key_path, &chain_id, &dirs,
                         &load, error))
    return NULL;
  /* Before anything is opened: every file of the node is the user's. */
  if (node->run_as_user && !cairn_drop_privileges (node->run_as_user, error))
    return NULL;
  /* One process per data dir, before any plugin runs: a plugin's init may
   * clean up its files (blob-fs removes unfinished uploads). */
  if (!lock_data_dir (node, error))
    return NULL;

  node->genesis = cairn_genesis_load (genesis_path, error);
  if (node->genesis == NULL)
    return NULL;
  if (chain_id && strcmp (chain_id, node->genesis->chain_id) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[node] chain_id is '%s' but %s is for chain '%s'", chain_id,
                 genesis_path, node->genesis->chain_id);
    return NULL;
  }
  node->head.chain_id = node->genesis->chain_id;
  node->key = cairn_key_load (key_path, error);
  if (node->key == NULL)
    return NULL;

  /* Plugins: search path = config, options (the CLI's built-in dirs),
   * the installed dir. A vendor dir in the config wins. */
  g_autoptr (GPtrArray) path = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; dirs[i]; i++)
    g_ptr_array_add (path, cairn_config_path (node->cfg, dirs[i]));
  for (guint i = 0; opts->plugin_path && opts->plugin_path[i]; i++)
    g_ptr_array_add (path, g_strdup (opts->plugin_path[i]));
  g_ptr_array_add (path, g_strdup (CAIRN_PLUGINSDIR));
  g_ptr_array_add (path, NULL);
  node->plugins = cairn_plugin_host_new ();
  cairn_plugin_host_set_path (node->plugins, (const char *const *)path->pdata);
  /* Signed plugins: checked before dlopen (plugin_sig.h). */
  CairnPluginTrust *trust = cairn_plugin_trust_from_config (node->cfg, error);
  if (trust == NULL)
    return NULL;
  cairn_plugin_host_set_trust (node->plugins, trust);
  if (g_strv_length (load) == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "%s: no plugins are enabled ([plugins] load is empty); "
                 "a node needs at least a storage and a consensus plugin",
                 opts->home);
    return NULL;
  }
  cairn_core_register_tx_types (node);
  if (!cairn_plugin_host_load (node->plugins, (const char *const *)load, error)
      || !load_extra_blobstores (node, opts, (const char *const *)load, error)
      || !cairn_plugin_host_resolve (node->plugins, error))
    return NULL;
  GPtrArray *list = cairn_plugin_host_plugins (node->plugins);
  for (guint i = 0; i < list->len; i++) {
    CairnPlugin *p = list->pdata[i];
    g_info ("loading plugin %s %s (%s) from %s", p->desc.id, p->desc.version,
            p->desc.description ? p->desc.description : "", p->file);
  }
  if (!cairn_plugin_host_init_all (node->plugins, cairn_host_table (), node,
                                   error))
    return NULL;
  if (!cairn_config_check_unknown (node->cfg, error))
    return NULL;
  if (node->storage_plugin == NULL || node->consensus_plugin == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "no %s plugin is loaded; enable one in [plugins] load "
                 "(e.g. %s)",
                 node->storage_plugin ? "consensus" : "storage",
                 node->storage_plugin ? "solo" : "store-lmdb");
    return NULL;
  }

  /* Storage and the chain head. */
  if (g_mkdir_with_parents (node->data_dir, 0700) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO, "cannot create %s: %s",
                 node->data_dir, g_strerror (errno));
    return NULL;
  }
  g_autofree char *store_dir
      = g_build_filename (node->data_dir, node->storage_plugin->desc.id, NULL);
  node->store = node->storage.open (node->storage_plugin, store_dir, error);
  if (node->store == NULL) {
    g_prefix_error (error, "storage %s: ", node->storage_plugin->desc.id);
    return NULL;
  }
  node->state_base.iface = &node->storage;
  node->state_base.store = node->store;
  if (!cairn_chain_open (node, error))
    return NULL;

  guint ncpu = g_get_num_processors ();
  if (ncpu > 1)
    node->verify_pool
        = g_thread_pool_new (pool_worker, NULL, MIN (ncpu - 1, 8), TRUE, NULL);
  return g_steal_pointer (&node);
}

gboolean
cairn_node_start (CairnNode *node, GError **error)
{
  /* The transport first, so plugins can send from their start (pos
   * broadcasts its first proposal); it delivers nothing before the main
   * loop runs. */
  if (node->p2p_enabled && !cairn_gossip_start (node, error))
    return FALSE;
  if (!cairn_plugin_host_start_all (node->plugins, error)) {
    cairn_gossip_stop (node);
    return FALSE;
  }
  node->started = TRUE;
  if (node->http_enabled) {
    node->http = cairn_http_new (node, node->http_listen, error);
    if (node->http == NULL) {
      cairn_node_stop (node);
      return FALSE;
    }
  }
  node->expire_source
      = node->clock->timeout_add (node->clock, 1000, expire_tick, node, NULL);
  /* Simulated clocks run no real main loop to watch. */
  if (node->watchdog_ms > 0 && node->clock == cairn_clock_system ())
    node->watchdog = cairn_watchdog_start (node, (guint)node->watchdog_ms);
  if (cairn_mempool_count (node->mempool) > 0)
    cairn_node_txs_available (node);
  return TRUE;
}

void
cairn_node_stop (CairnNode *node)
{
  if (!node->started)
    return;
  node->started = FALSE;
  g_clear_pointer (&node->watchdog, cairn_watchdog_stop);
  g_clear_pointer (&node->http, cairn_http_free);
  cairn_gossip_stop (node);
  g_autoptr (GError) err = NULL;
  if (!cairn_chain_sync (node, FALSE, &err))
    g_critical ("%s", err->message);
  cairn_clock_clear (node->clock, &node->expire_source);
  cairn_clock_clear (node->clock, &node->notify_source);
  cairn_plugin_host_stop_all (node->plugins);
}

void
cairn_node_free (CairnNode *node)
{
  if (node == NULL)
    return;
  cairn_node_stop (node);
  if (node->verify_pool)
    g_thread_pool_free (node->verify_pool, FALSE, TRUE);
  if (node->store)
    node->storage.close (node->store);
  if (node->plugins)
    cairn_plugin_host_fini_all (node->plugins);
  cairn_events_free_all (node);
  cairn_node_metrics_free (node);
  cairn_gossip_free (node);
  g_clear_pointer (&node->plugins, cairn_plugin_host_free);
  g_clear_pointer (&node->mempool, cairn_mempool_free);
  g_clear_pointer (&node->tx_types, g_hash_table_unref);
  g_clear_pointer (&node->apps, g_ptr_array_unref);
  g_clear_pointer (&node->routes, g_ptr_array_unref);
  g_clear_pointer (&node->direct, g_hash_table_unref);
  g_clear_pointer (&node->services, g_hash_table_unref);
  g_clear_pointer (&node->blobstores, g_ptr_array_unref);
  g_strfreev (node->extra_blobstores);
  g_clear_pointer (&node->key, cairn_key_free);
  g_clear_pointer (&node->genesis, cairn_genesis_free);
  g_clear_pointer (&node->cfg, cairn_config_free);
  if (node->lock_fd >= 0)
    close (node->lock_fd); /* releases the lock */
  g_free (node->data_dir);
  g_free (node->run_as_user);
  g_free (node->http_listen);
  g_free (node->p2p_listen);
  g_strfreev (node->p2p_allow);
  if (node->p2p_peers)
    g_array_unref (node->p2p_peers);
  g_free (node->home);
  g_free (node);
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

int
cairn_node_run (const CairnNodeOptions *opts)
{
  g_autoptr (GError) error = NULL;
  int64_t t0 = g_get_monotonic_time ();
  cairn_fatal_signals_install ();
  CairnNodeOptions with_watchdog = *opts;
  with_watchdog.watchdog = TRUE;
  g_autoptr (CairnNode) node = cairn_node_new (&with_watchdog, &error);
  if (node == NULL || !cairn_node_start (node, &error)) {
    fprintf (stderr, "cairn: %s\n", error->message);
    return 1;
  }
  g_message (
      "node %s ready in %.1f ms: chain %s at height %" G_GUINT64_FORMAT "%s%s",
      cairn_key_address (node->key), (g_get_monotonic_time () - t0) / 1000.0,
      node->genesis->chain_id, node->head.height, node->http ? ", API at " : "",
      node->http ? cairn_http_url (node->http) : "");
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint s1 = g_unix_signal_add (SIGINT, on_signal, loop);
  guint s2 = g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);
  g_source_remove (s1);
  g_source_remove (s2);
  g_message ("stopping at height %" G_GUINT64_FORMAT, node->head.height);
  cairn_node_stop (node);
  return 0;
}

/* ---- accessors and read API --------------------------------------------- */

const char *
cairn_node_chain_id (CairnNode *node)
{
  return node->genesis->chain_id;
}

const char *
cairn_node_http_url (CairnNode *node)
{
  return node->http ? cairn_http_url (node->http) : NULL;
}

struct CairnPluginHost *
cairn_node_plugins (CairnNode *node)
{
  return node->plugins;
}

const CairnChainHead *
cairn_node_head (CairnNode *node)
{
  return &node->head;
}

const CairnBlobstoreIface *
cairn_node_blobstore (CairnNode *node, const char *plugin_id,
                      CairnPlugin **plugin, GError **error)
{
  CairnPlugin *p = cairn_plugin_host_find (node->plugins, plugin_id);
  if (p == NULL || p->state == CAIRN_PLUGIN_STATE_FAILED) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "no plugin '%s' is loaded in %s", plugin_id, node->home);
    return NULL;
  }
  for (guint i = 0; i < node->blobstores->len; i++) {
    BlobstoreEntry *e = node->blobstores->pdata[i];
    if (e->plugin == p) {
      if (plugin)
        *plugin = p;
      return &e->iface;
    }
  }
  g_autofree char *kinds = cairn_plugin_kinds_to_string (p->desc.kinds);
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
               "plugin %s (%s) is not a blob store (its kinds: %s)", p->desc.id,
               p->file, kinds);
  return NULL;
}

gboolean
cairn_node_state_iter (CairnNode *node, const char *prefix, uint64_t height,
                       CairnKvFn fn, void *user_data, GError **error)
{
  return node->storage.state_iter (node->store, prefix, height, fn, user_data,
                                   error);
}

json_t *
cairn_node_status_json (CairnNode *node)
{
  json_t *plugins = json_array ();
  GPtrArray *list = cairn_plugin_host_plugins (node->plugins);
  for (guint i = 0; i < list->len; i++) {
    CairnPlugin *p = list->pdata[i];
    g_autofree char *kinds = cairn_plugin_kinds_to_string (p->desc.kinds);
    json_array_append_new (plugins, json_pack ("{s:s, s:s, s:s}", "id",
                                               p->desc.id, "kind", kinds,
                                               "version", p->desc.version));
  }
  json_t *st = json_pack (
      "{s:s, s:I, s:s, s:I, s:s, s:s, s:{s:I, s:I}, s:o, s:s, s:s, s:I}",
      "chain_id", node->genesis->chain_id, "height",
      (json_int_t)node->head.height, "hash", node->head_hash, "time",
      (json_int_t)node->head.time_ms, "state_root", node->head_state_root,
      "node", cairn_key_address (node->key), "mempool", "txs",
      (json_int_t)cairn_mempool_count (node->mempool), "bytes",
      (json_int_t)cairn_mempool_bytes (node->mempool), "plugins", plugins,
      "version", CAIRN_VERSION, "abi",
      G_STRINGIFY (CAIRN_ABI_MAJOR) "." G_STRINGIFY (CAIRN_ABI_MINOR),
      "uptime_ms",
      (json_int_t)(node->clock->wall_ms (node->clock) - node->started_ms));
  if (node->p2p) {
    g_auto (GStrv) peers = node->p2p->ops->peers (node->p2p);
    json_t *ids = json_array ();
    for (guint i = 0; peers[i]; i++)
      json_array_append_new (ids, json_string (peers[i]));
    json_object_set_new (
        st, "p2p",
        json_pack ("{s:I, s:o}", "port",
                   (json_int_t)cairn_tls_transport_port (node->p2p), "peers",
                   ids));
  }
  return st;
}

json_t *
cairn_node_stored_block (CairnNode *node, uint64_t height, GError **error)
{
  g_autoptr (GBytes) raw = node->storage.block_get (node->store, height, error);
  if (raw == NULL)
    return NULL;
  /* Served only once checked: a damaged record must not be handed out as
   * a block. */
  g_autoptr (CairnBlockData) checked
      = cairn_chain_check_stored (node, height, raw, error);
  if (checked == NULL)
    return NULL;
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  return cairn_cjson_parse (p, len, FALSE, error);
}

static json_t *
result_json (const uint8_t *p, gsize len)
{
  json_t *r = json_loadb ((const char *)p, len, 0, NULL);
  return r ? r : json_null ();
}

json_t *
cairn_node_block_json (CairnNode *node, uint64_t height, GError **error)
{
  if (height == CAIRN_HEAD)
    height = node->head.height;
  json_t *b = cairn_node_stored_block (node, height, error);
  if (b == NULL)
    return NULL;
  /* The header hash and each tx's id and result, for readers. */
  const json_t *header = json_object_get (b, "header");
  g_autofree char *htext = cairn_cjson_dump (header, NULL, NULL);
  if (htext) {
    uint8_t h[32];
    cairn_sha256 (htext, strlen (htext), h);
    g_autofree char *hex = cairn_hex_encode (h, 32);
    json_object_set_new (b, "hash", json_string (hex));
  }
  json_t *results = json_array ();
  size_t i;
  json_t *tx;
  json_array_foreach (json_object_get (b, "txs"), i, tx)
  {
    g_autofree char *t = cairn_cjson_dump (tx, NULL, NULL);
    uint8_t id[32];
    cairn_sha256 (t, strlen (t), id);
    g_autofree char *idh = cairn_hex_encode (id, 32);
    uint64_t th;
    uint32_t idx;
    g_autoptr (GBytes) res = NULL;
    json_t *r = json_null ();
    if (node->storage.tx_get (node->store, id, &th, &idx, &res, NULL)) {
      gsize rl;
      const uint8_t *rp = g_bytes_get_data (res, &rl);
      json_decref (r);
      r = result_json (rp, rl);
    }
    json_array_append_new (results,
                           json_pack ("{s:s, s:o}", "id", idh, "result", r));
  }
  json_object_set_new (b, "results", results);
  return b;
}

json_t *
cairn_node_tx_json (CairnNode *node, const char *id_hex, GError **error)
{
  uint8_t id[32];
  if (!cairn_hex_decode (id_hex, id, 32)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "tx id '%s' is not 64 hex characters", id_hex);
    return NULL;
  }
  g_autofree char *lower = g_ascii_strdown (id_hex, -1);
  CairnTx *pending = cairn_mempool_lookup (node->mempool, lower);
  if (pending)
    return json_pack ("{s:s, s:s, s:o}", "id", lower, "status", "pending", "tx",
                      cairn_tx_to_json (pending));
  uint64_t height;
  uint32_t index;
  g_autoptr (GBytes) res = NULL;
  if (!node->storage.tx_get (node->store, id, &height, &index, &res, error))
    return NULL;
  /* Slice the tx out of the stored block instead of parsing all of it,
   * and check the slice hashes to the id asked for. */
  g_autoptr (GBytes) raw = node->storage.block_get (node->store, height, error);
  if (raw == NULL)
    return NULL;
  gsize blen;
  const char *bp = g_bytes_get_data (raw, &blen);
  size_t off, tlen;
  uint8_t check[32];
  json_t *tx = NULL;
  if (cairn_block_tx_slice (bp, blen, index, &off, &tlen)) {
    cairn_sha256 (bp + off, tlen, check);
    if (memcmp (check, id, 32) == 0)
      tx = json_loadb (bp + off, tlen, 0, NULL);
  }
  if (tx == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "the tx index says %s is tx %u of block %" G_GUINT64_FORMAT
                 ", but that block does not hold it",
                 lower, index, height);
    return NULL;
  }
  gsize rl;
  const uint8_t *rp = g_bytes_get_data (res, &rl);
  return json_pack ("{s:s, s:s, s:I, s:I, s:o, s:o}", "id", lower, "status",
                    "committed", "height", (json_int_t)height, "index",
                    (json_int_t)index, "tx", tx, "result",
                    result_json (rp, rl));
}

static gboolean
collect_role (const char *key, const uint8_t *v, size_t len, void *data)
{
  const char *role = strrchr (key, '/');
  json_array_append_new (data, json_string (role ? role + 1 : key));
  return TRUE;
}

json_t *
cairn_node_account_json (CairnNode *node, const char *address, GError **error)
{
  if (!cairn_address_valid (address)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "'%s' is not an address (40 lowercase hex characters)",
                 address);
    return NULL;
  }
  uint64_t nonce = cairn_account_nonce (node, NULL, address, error);
  if (error && *error)
    return NULL;
  json_t *roles = json_array ();
  g_autofree char *prefix = g_strdup_printf ("core/role/%s/", address);
  if (!node->storage.state_iter (node->store, prefix, CAIRN_HEAD, collect_role,
                                 roles, error)) {
    json_decref (roles);
    return NULL;
  }
  return json_pack (
      "{s:s, s:I, s:I, s:o}", "address", address, "nonce", (json_int_t)nonce,
      "next_nonce",
      (json_int_t)cairn_mempool_next_nonce (node->mempool, address, nonce),
      "roles", roles);
}

GBytes *
cairn_node_state_get (CairnNode *node, const char *ns, const char *key,
                      uint64_t height, GError **error)
{
  g_autofree char *full = g_strconcat (ns, "/", key, NULL);
  return node->storage.state_get (node->store, full, height, error);
}

gboolean
cairn_node_find_route (CairnNode *node, const char *method, const char *path,
                       CairnPlugin **plugin, CairnRouteFn *fn, void **user_data,
                       const char **path_rest)
{
  RouteEntry *best = NULL;
  for (guint i = 0; i < node->routes->len; i++) {
    RouteEntry *r = node->routes->pdata[i];
    if (strcmp (r->method, method) != 0 || r->fn == NULL)
      continue;
    gboolean match = r->prefix ? g_str_has_prefix (path, r->path)
                               : strcmp (path, r->path) == 0;
    if (match && (best == NULL || strlen (r->path) > strlen (best->path)))
      best = r;
  }
  if (best == NULL)
    return FALSE;
  *plugin = best->plugin;
  *fn = best->fn;
  *user_data = best->user_data;
  *path_rest = path + strlen (best->path);
  return TRUE;
}

const RouteEntry *
cairn_node_find_stream_route (CairnNode *node, const char *path,
                              const char **path_rest)
{
  const RouteEntry *best = NULL;
  for (guint i = 0; i < node->routes->len; i++) {
    const RouteEntry *r = node->routes->pdata[i];
    if (r->stream_open == NULL)
      continue;
    gboolean match = r->prefix ? g_str_has_prefix (path, r->path)
                               : strcmp (path, r->path) == 0;
    if (match && (best == NULL || strlen (r->path) > strlen (best->path)))
      best = r;
  }
  if (best != NULL)
    *path_rest = path + strlen (best->path);
  return best;
}

guint
cairn_node_subscribe (CairnNode *node, const char *type_prefix,
                      CairnNodeEventFn fn, void *user_data)
{
  return cairn_events_subscribe (node, type_prefix, NULL, NULL, fn, user_data);
}

void
cairn_node_unsubscribe (CairnNode *node, guint id)
{
  cairn_events_unsubscribe (node, id);
}

GBytes *
cairn_node_stored_block_bytes (CairnNode *node, uint64_t height, GError **error)
{
  return node->storage.block_get (node->store, height, error);
}

gboolean
cairn_node_sync_store (CairnNode *node, GError **error)
{
  return cairn_chain_sync (node, FALSE, error);
}

/* Prometheus text exposition of the node's counters and gauges, and the
 * values plugins set with host->metric_set. */
#include <string.h>

#include "http.h"
#include "node_private.h"
#include "p2p.h"

typedef struct {
  char *help;
  int64_t value;
} PluginMetric;

static void
plugin_metric_free (gpointer p)
{
  PluginMetric *m = p;
  g_free (m->help);
  g_free (m);
}

static gint
compare_keys (gconstpointer a, gconstpointer b, gpointer unused)
{
  return strcmp (a, b);
}

static gboolean
valid_labels (const char *l)
{
  /* {k="v",k2="v2"} */
  if (*l++ != '{')
    return FALSE;
  for (;;) {
    const char *k = l;
    while (g_ascii_islower (*l) || *l == '_')
      l++;
    if (l == k || *l++ != '=' || *l++ != '"')
      return FALSE;
    while (*l && *l != '"' && *l != '\\' && *l != '\n')
      l++;
    if (*l++ != '"')
      return FALSE;
    if (*l == '}')
      return l[1] == '\0';
    if (*l++ != ',')
      return FALSE;
  }
}

gboolean
cairn_node_metric_set (CairnNode *node, const char *plugin_id, const char *name,
                       const char *help, int64_t value, GError **error)
{
  size_t plen = strlen (plugin_id);
  const char *p = name ? name + plen + 1 : NULL;
  const char *labels = p ? strchr (p, '{') : NULL;
  size_t base_len = labels ? (size_t)(labels - name) : name ? strlen (name) : 0;
  gboolean ok = name && strncmp (name, plugin_id, plen) == 0
                && name[plen] == '_' && name + base_len > p
                && (labels == NULL || valid_labels (labels));
  for (const char *c = p; ok && c < name + base_len; c++)
    ok = g_ascii_islower (*c) || g_ascii_isdigit (*c) || *c == '_';
  for (const char *c = plugin_id; ok && *c; c++)
    ok = g_ascii_isalnum (*c) || *c == '_';
  if (!ok) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "plugin %s: metric name '%s' must be %s_<[a-z0-9_]+> with "
                 "at most one {k=\"v\",...} label set",
                 plugin_id, name ? name : "(null)", plugin_id);
    return FALSE;
  }
  if (node->plugin_metrics == NULL)
    node->plugin_metrics
        = g_tree_new_full (compare_keys, NULL, g_free, plugin_metric_free);
  /* \001 sorts below every name character, so the label sets of one
   * name stay together under one HELP/TYPE header. */
  g_autofree char *key = g_strdup_printf ("%.*s\001%s", (int)base_len, name,
                                          labels ? labels : "");
  PluginMetric *m = g_tree_lookup (node->plugin_metrics, key);
  if (m == NULL) {
    m = g_new0 (PluginMetric, 1);
    m->help = g_strdup (help ? help : "Set by a plugin.");
    g_tree_insert (node->plugin_metrics, g_steal_pointer (&key), m);
  }
  m->value = value;
  return TRUE;
}

void
cairn_node_metrics_free (CairnNode *node)
{
  g_clear_pointer (&node->plugin_metrics, g_tree_destroy);
}

typedef struct {
  GString *out;
  char *last_base;
} PluginMetricsOut;

static gboolean
write_plugin_metric (gpointer key, gpointer value, gpointer data)
{
  PluginMetricsOut *o = data;
  const PluginMetric *m = value;
  const char *sep = strchr (key, '\001');
  g_autofree char *base = g_strndup (key, sep - (const char *)key);
  if (g_strcmp0 (base, o->last_base) != 0) {
    gboolean counter = g_str_has_suffix (base, "_total");
    g_string_append_printf (o->out, "# HELP cairn_%s %s\n# TYPE cairn_%s %s\n",
                            base, m->help, base, counter ? "counter" : "gauge");
    g_free (o->last_base);
    o->last_base = g_steal_pointer (&base);
  }
  g_string_append_printf (o->out, "cairn_%s%s %" G_GINT64_FORMAT "\n",
                          o->last_base, sep + 1, m->value);
  return FALSE;
}

static void
metric (GString *out, const char *name, const char *type, const char *help,
        double value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
                          help, name, type, name, value);
}

typedef struct {
  const char *label;
  double value;
} Labelled;

/* One metric with a label per row: name{key="label"} value. */
static void
metric_labelled (GString *out, const char *name, const char *type,
                 const char *help, const char *key, const Labelled *rows,
                 guint n)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                          type);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%s{%s=\"%s\"} %.17g\n", name, key,
                            rows[i].label, rows[i].value);
}

/* The configured limits and how often each was hit. */
static void
limits_metrics (CairnNode *node, GString *out)
{
  const CairnHttpLimits *hl = &node->http_limits;
  const CairnP2pLimits *pl = &node->p2p_limits;
  Labelled http_lim[] = {
    { "max_connections", hl->max_connections },
    { "max_connections_per_ip", hl->max_connections_per_ip },
    { "max_body_bytes", (double)hl->max_body_bytes },
    { "requests_per_second_per_ip", hl->rate_per_s },
    { "requests_burst_per_ip", hl->rate_burst },
    { "request_timeout_ms", hl->request_timeout_ms },
  };
  metric_labelled (out, "cairn_http_limit", "gauge",
                   "Configured [http] limits (0 = off).", "limit", http_lim,
                   G_N_ELEMENTS (http_lim));
  if (node->http) {
    CairnHttpLimitStats hs;
    cairn_http_limit_stats (node->http, &hs);
    Labelled rows[] = {
      { "max_connections", (double)hs.max_connections },
      { "per_ip", (double)hs.per_ip },
      { "body_too_large", (double)hs.body_too_large },
      { "rate_limited", (double)hs.rate_limited },
      { "timeout", (double)hs.timeouts },
    };
    metric_labelled (out, "cairn_http_rejected_total", "counter",
                     "HTTP connections or requests refused by a limit.",
                     "reason", rows, G_N_ELEMENTS (rows));
    metric (out, "cairn_http_connections", "gauge",
            "HTTP connections open now.", hs.connections);
  }
  Labelled p2p_lim[] = {
    { "max_inbound", pl->max_inbound },
    { "max_inbound_per_ip", pl->max_inbound_per_ip },
    { "handshake_timeout_ms", pl->handshake_timeout_ms },
    { "frame_timeout_ms", pl->frame_timeout_ms },
    { "max_frame_bytes", pl->max_frame_bytes },
    { "rate_bytes_per_second", (double)pl->rate_bytes_per_s },
    { "rate_burst_bytes", (double)pl->rate_burst_bytes },
    { "rate_frames_per_second", pl->rate_frames_per_s },
    { "rate_burst_frames", pl->rate_burst_frames },
  };
  metric_labelled (out, "cairn_p2p_limit", "gauge",
                   "Configured [p2p] limits (0 = off).", "limit", p2p_lim,
                   G_N_ELEMENTS (p2p_lim));
  const CairnMempoolLimits *ml = &node->mempool_limits;
  Labelled mp_lim[] = {
    { "max_txs", ml->max_txs },
    { "max_bytes", (double)ml->max_bytes },
    { "max_nonce_gap", (double)ml->max_nonce_gap },
    { "max_txs_per_sender", ml->max_per_sender },
  };
  metric_labelled (out, "cairn_mempool_limit", "gauge",
                   "Configured [mempool] limits.", "limit", mp_lim,
                   G_N_ELEMENTS (mp_lim));
}

void
cairn_node_metrics (CairnNode *node, GString *out)
{
  CairnMetricsCounters *m = &node->metrics;
  metric (out, "cairn_block_height", "gauge", "Height of the committed head.",
          node->head.height);
  metric (out, "cairn_blocks_committed_total", "counter",
          "Blocks committed since start.", m->blocks_committed);
  metric (out, "cairn_txs_received_total", "counter",
          "Transactions submitted to this node.", m->txs_received);
  metric (out, "cairn_txs_accepted_total", "counter",
          "Transactions admitted to the mempool.", m->txs_accepted);
  metric (out, "cairn_txs_committed_total", "counter",
          "Transactions committed in blocks.", m->txs_committed);
  metric (out, "cairn_txs_failed_total", "counter",
          "Committed transactions whose handler failed.", m->txs_failed);
  g_string_append (out, "# HELP cairn_txs_rejected_total Transactions refused "
                        "at admission, by reason.\n"
                        "# TYPE cairn_txs_rejected_total counter\n");
  for (guint i = 1; i < G_N_ELEMENTS (m->txs_rejected); i++) {
    const char *name = cairn_reject_name (i);
    if (name && m->txs_rejected[i] > 0)
      g_string_append_printf (
          out,
          "cairn_txs_rejected_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
          name, m->txs_rejected[i]);
  }
  metric (out, "cairn_mempool_txs", "gauge", "Transactions waiting.",
          cairn_mempool_count (node->mempool));
  metric (out, "cairn_mempool_bytes", "gauge", "Bytes of waiting txs.",
          cairn_mempool_bytes (node->mempool));
  metric (out, "cairn_block_exec_seconds_total", "counter",
          "Time spent executing blocks.", m->exec_seconds_sum);
  metric (out, "cairn_block_commit_seconds_total", "counter",
          "Time spent committing blocks to storage.", m->commit_seconds_sum);
  metric (out, "cairn_http_requests_total", "counter", "HTTP requests served.",
          m->http_requests);
  metric (out, "cairn_p2p_bad_messages_total", "counter",
          "Peer messages refused (undecodable, invalid blocks or txs).",
          m->p2p_bad_messages);
  metric (out, "cairn_p2p_tx_duplicates_total", "counter",
          "Gossiped txs dropped as seen already (each tx from more than one "
          "peer).",
          m->p2p_tx_duplicates);
  metric (out, "cairn_blocks_synced_total", "counter",
          "Blocks committed from peers.", m->blocks_synced);
  if (node->p2p) {
    CairnTransportStats st = { 0 };
    node->p2p->ops->stats (node->p2p, &st);
    g_auto (GStrv) peers = node->p2p->ops->peers (node->p2p);
    metric (out, "cairn_p2p_peers", "gauge", "Connected peers.",
            g_strv_length (peers));
    metric (out, "cairn_p2p_handshakes_refused_total", "counter",
            "Connections refused at the TLS handshake.", st.handshakes_refused);
    metric (out, "cairn_p2p_frames_refused_total", "counter",
            "Malformed frames (peer disconnected).", st.frames_refused);
    metric (out, "cairn_p2p_sends_refused_total", "counter",
            "Frames not queued because a peer's queue was full.",
            st.sends_refused);
    Labelled rows[] = {
      { "max_inbound", (double)st.refused_max_inbound },
      { "per_ip", (double)st.refused_per_ip },
      { "pending_handshakes", (double)st.refused_pending },
      { "handshake_timeout", (double)st.handshake_timeouts },
      { "frame_timeout", (double)st.frame_timeouts },
      { "oversized_frame", (double)st.frames_oversized },
      { "rate_limited", (double)st.rate_limited },
    };
    metric_labelled (out, "cairn_p2p_rejected_total", "counter",
                     "Peer connections or reads refused or paused by a limit.",
                     "reason", rows, G_N_ELEMENTS (rows));
  }
  limits_metrics (node, out);
  metric (out, "cairn_events_dropped_total", "counter",
          "Event streams ended because the client fell behind.",
          m->events_dropped);
  if (node->plugin_metrics) {
    PluginMetricsOut o = { out, NULL };
    g_tree_foreach (node->plugin_metrics, write_plugin_metric, &o);
    g_free (o.last_base);
  }
}

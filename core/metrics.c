/* Prometheus text exposition of the node's counters and gauges. */
#include "node_private.h"
#include "p2p.h"

static void
metric (GString *out, const char *name, const char *type, const char *help,
        double value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name,
                          help, name, type, name, value);
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
  }
  metric (out, "cairn_events_dropped_total", "counter",
          "Event streams ended because the client fell behind.",
          m->events_dropped);
}

/* A simulated network of CairnTransports on one SimSched (virtual time).
 *
 * Every node id gets an endpoint slot (sim_net_add_node). The node's
 * transport factory (sim_net_transport_factory, factory data = the SimNet)
 * gives it a CairnTransport bound to its slot. Two started endpoints that
 * allow each other and of which at least one dials the other get a link:
 * peer_up on both sides after a connect delay. A stopped endpoint (node
 * crash) breaks its links: its peers see peer_down after a detection
 * delay, and frames in flight on the link are lost, as on a TCP
 * connection that dies.
 *
 * Every frame is delivered after a delay drawn from the run's GRand. While
 * the fault window lasts (virtual time < faults_until_ms) frames may also
 * be dropped or duplicated, and delays spread widely so frames overtake
 * each other; afterwards links are FIFO and lossless, like TCP. A
 * partition splits the nodes into two groups for [start, end): frames
 * between groups are lost, and when `partition_disconnects` is set the
 * links between groups also go down (peer_down) and come back when it
 * heals (peer_up). */
#pragma once

#include <glib.h>

#include "node.h"
#include "p2p.h"
#include "sim_clock.h"

#define SIM_NET_MAX 16

typedef struct SimNetFaults {
  guint drop_pct, dup_pct;          /* per frame, in the fault window */
  guint delay_min_ms, delay_max_ms; /* normal delay, FIFO per link */
  guint fault_delay_max_ms;         /* delay spread in the fault window */
  uint64_t faults_until_ms;
  uint64_t partition_start_ms, partition_end_ms; /* end 0: no partition */
  gboolean partition_disconnects;
  guint8 group[SIM_NET_MAX]; /* partition side of each node */
} SimNetFaults;

typedef struct SimNetStats {
  guint64 sent, delivered, dropped, duplicated, partitioned, lost_in_flight;
  guint64 links_up, links_down;
} SimNetStats;

typedef struct SimNet SimNet;

/* Called for each frame sent and each frame delivered or lost (tracing,
 * fingerprint). event: "send", "deliver", "drop", "dup", "partition",
 * "lost". */
typedef void (*SimNetTraceFn) (SimNet *net, const char *event, guint from,
                               guint to, uint8_t channel, GBytes *payload,
                               gpointer user_data);

SimNet *sim_net_new (SimSched *sched, guint64 seed);
/* Endpoints still open are freed too. */
void sim_net_free (SimNet *net);
/* Register node id (40 hex); returns its index (0, 1, ...). */
guint sim_net_add_node (SimNet *net, const char *node_id);
void sim_net_set_faults (SimNet *net, const SimNetFaults *faults);
void sim_net_set_trace (SimNet *net, SimNetTraceFn fn, gpointer user_data);
void sim_net_stats (SimNet *net, SimNetStats *out);
/* Is node i's transport started? */
gboolean sim_net_started (SimNet *net, guint i);
/* Are i and j linked (both sides have seen peer_up and no peer_down)? */
gboolean sim_net_linked (SimNet *net, guint i, guint j);

/* A CairnTransportFactory; factory_data is the SimNet. The node key's
 * address must have been added with sim_net_add_node. listen and the dial
 * addresses' host:port are ignored; the dial ids are used. */
CairnTransport *sim_net_transport_factory (
    void *factory_data, const CairnKey *node_key, const char *listen,
    const CairnPeerAddr *dial, guint n_dial, const char *const *allowed,
    const CairnTransportEvents *events, void *user_data, GError **error);

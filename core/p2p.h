/* Node-to-node transport. core/p2p_tls.c is the real one (TLS 1.3 over
 * TCP); core/gossip.c is what the node does with it.
 *
 * A transport connects this node to its peers and moves frames between
 * them. Wire format of a frame: u32 big-endian length N (1 <= N <=
 * CAIRN_P2P_MAX_FRAME), then N bytes: one channel byte and N-1 bytes of
 * payload. A peer that sends a frame outside those bounds, or anything
 * before a finished handshake, is disconnected and the event is counted.
 *
 * Peers are identified by their node id: the address (40 hex chars) of
 * their Ed25519 node key, the same derivation as account addresses. Every
 * connection is mutually authenticated; a peer whose id is not in the
 * allowed set is refused.
 *
 * All callbacks run on the main loop thread; stop() may be called from a
 * callback, free() may not. stop() closes everything without peer_down
 * events. The transport copies what it needs from its arguments.
 *
 * The transport is an interface so that tests can run many nodes in one
 * process on a simulated network with the same node code (tests/sim,
 * through CairnNodeOptions.transport_factory). */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "crypto.h"

#define CAIRN_P2P_MAX_FRAME (4u << 20)
/* Bytes queued for one peer before send() pushes back with
 * CAIRN_ERROR_CONFLICT ("queue full"); the caller drops or retries. */
#define CAIRN_P2P_MAX_QUEUE (32u << 20)

typedef enum {
  CAIRN_P2P_CH_TXS = 1,       /* gossip of signed txs */
  CAIRN_P2P_CH_BLOCKS = 2,    /* gossip of committed blocks */
  CAIRN_P2P_CH_CONSENSUS = 3, /* consensus engine messages */
  CAIRN_P2P_CH_SYNC = 4,      /* catch-up requests and responses */
  CAIRN_P2P_CH_DIRECT = 5,    /* direct delivery (privacy groups) */
} CairnP2pChannel;

typedef struct CairnTransport CairnTransport;

/* What the transport tells its owner. */
typedef struct CairnTransportEvents {
  void (*peer_up) (void *user_data, const char *peer_id);
  void (*peer_down) (void *user_data, const char *peer_id);
  /* payload is only valid during the call (ref it to keep it). */
  void (*message) (void *user_data, const char *peer_id, uint8_t channel,
                   GBytes *payload);
} CairnTransportEvents;

/* Counters for /metrics. */
typedef struct CairnTransportStats {
  guint64 frames_in, frames_out, bytes_in, bytes_out;
  guint64 handshakes_refused; /* unknown id, bad cert, plaintext, timeout */
  guint64 frames_refused;     /* oversized, empty, unknown channel */
  guint64 sends_refused;      /* queue full */
  guint64 reconnects;         /* successful re-connections to dial peers */
  /* Limits hit (CairnP2pLimits), for cairn_p2p_rejected_total{reason}. */
  guint64 refused_max_inbound; /* inbound connections over max_inbound */
  guint64 refused_per_ip;      /* over max_inbound_per_ip */
  guint64 refused_pending;     /* over the handshakes-in-progress cap */
  guint64 handshake_timeouts;  /* handshake not done in handshake_timeout */
  guint64 frame_timeouts;      /* a started frame not finished in time */
  guint64 frames_oversized;    /* header over max_frame_bytes */
  guint64 rate_limited;        /* times a peer's reading was paused */
} CairnTransportStats;

/* Limits of the TLS transport ([p2p] keys; see conf/cairn.conf). */
typedef struct CairnP2pLimits {
  guint max_inbound;          /* inbound connections at once (any state) */
  guint max_inbound_per_ip;   /* of them from one IP address */
  guint handshake_timeout_ms; /* TLS + node-key handshake must end in time */
  guint frame_timeout_ms;     /* a frame whose header came must end in time */
  guint32 max_frame_bytes;    /* <= CAIRN_P2P_MAX_FRAME */
  /* Token buckets per connection on what a peer sends us; 0 = no limit.
   * An empty bucket pauses reading from that peer until it refills (TCP
   * pushes back on the sender), and counts rate_limited. */
  guint64 rate_bytes_per_s, rate_burst_bytes;
  guint rate_frames_per_s, rate_burst_frames;
} CairnP2pLimits;

/* The defaults (conf/cairn.conf). */
void cairn_p2p_limits_default (CairnP2pLimits *out);

typedef struct CairnTransportOps {
  gboolean (*start) (CairnTransport *t, GError **error);
  void (*stop) (CairnTransport *t);
  /* Queue a frame for one connected peer. Errors: NOT_FOUND (peer not
   * connected), INVALID (bad channel, payload over MAX_FRAME - 1),
   * CONFLICT (the peer's queue is full). */
  gboolean (*send) (CairnTransport *t, const char *peer_id, uint8_t channel,
                    GBytes *payload, GError **error);
  /* Ids of the peers connected now; g_strfreev. */
  char **(*peers) (CairnTransport *t);
  void (*stats) (CairnTransport *t, CairnTransportStats *out);
  void (*free) (CairnTransport *t);
} CairnTransportOps;

struct CairnTransport {
  const CairnTransportOps *ops;
};

/* A peer to dial: "id@host:port". */
typedef struct CairnPeerAddr {
  char id[41];
  char *host;
  guint16 port;
} CairnPeerAddr;

/* Parse "id@host:port" (host may be [v6]); errors name the bad part. */
gboolean cairn_peer_addr_parse (const char *text, CairnPeerAddr *out,
                                GError **error);
void cairn_peer_addr_clear (CairnPeerAddr *addr);

/* TCP + TLS 1.3 (OpenSSL). The node's Ed25519 key signs a self-signed
 * certificate made at start; both sides require the other's certificate
 * and accept it only if its Ed25519 key's address is in `allowed` (NULL-
 * terminated node ids; the dialed peers are always allowed). Dials every
 * peer in `dial` and redials with exponential backoff (250 ms .. 30 s).
 * listen: "host:port" (port 0 = any free port; see cairn_tls_transport_port).
 */
CairnTransport *cairn_tls_transport_new (
    const CairnKey *node_key, const char *listen, const CairnPeerAddr *dial,
    guint n_dial, const char *const *allowed,
    const CairnTransportEvents *events, void *user_data, GError **error);
/* Replace the limits (the defaults otherwise); connections made before
 * the call keep their token buckets. */
void cairn_tls_transport_set_limits (CairnTransport *t,
                                     const CairnP2pLimits *limits);
/* The port actually bound (after start; 0 before). */
guint16 cairn_tls_transport_port (CairnTransport *t);

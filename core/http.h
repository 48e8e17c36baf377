/* The node's HTTP JSON API (libsoup 3). Routes:
 *   GET  /v1/status
 *   POST /v1/txs            one tx object, or an array of them (batch)
 *   GET  /v1/txs/{id}
 *   GET  /v1/blocks/{height|latest}
 *   GET  /v1/accounts/{address}
 *   GET  /v1/state/{plugin}/{key}[?height=N]
 *   GET  /v1/events[?types=prefix,prefix]   server-sent events
 *   POST /v1/blobs                          store a blob (streamed) -> cid
 *   GET  /v1/blobs/{cid}[/stat]             its bytes (Range) or its size
 *   GET  /metrics                           Prometheus text
 *   any  plugin routes (/v1/<id>/..., /<id>/...)
 * Errors: {"error":{"code":"<reason>","message":"..."}} with a 4xx/5xx. */
#pragma once

#include <glib.h>

#include "node.h"

#define CAIRN_HTTP_MAX_BODY (16u << 20)

typedef struct CairnHttp CairnHttp;

/* Limits of the API ([http] keys; see conf/cairn.conf). */
typedef struct CairnHttpLimits {
  guint max_connections;        /* open at once; more are closed at accept */
  guint max_connections_per_ip; /* of them from one IP address */
  guint64 max_body_bytes;       /* request bodies but blob uploads */
  double rate_per_s;            /* requests per second per IP; 0 = off */
  double rate_burst;            /* token bucket size */
  gboolean rate_exempt_loopback;
  guint request_timeout_ms; /* headers and body of a request, from the
                               connection's accept or its previous answer */
} CairnHttpLimits;

/* Counts of the limits hit, for cairn_http_rejected_total{reason}. */
typedef struct CairnHttpLimitStats {
  guint64 max_connections, per_ip, body_too_large, rate_limited, timeouts;
  guint connections; /* open now */
} CairnHttpLimitStats;

void cairn_http_limits_default (CairnHttpLimits *out);
void cairn_http_limit_stats (CairnHttp *http, CairnHttpLimitStats *out);

/* listen: "host:port"; port 0 picks a free port. */
CairnHttp *cairn_http_new (CairnNode *node, const char *listen, GError **error);
const char *cairn_http_url (CairnHttp *http);
void cairn_http_free (CairnHttp *http);
/* Host table (1.4): plugin event streams. */
gboolean cairn_http_stream_send (CairnStream *stream, const char *event,
                                 const char *id, const json_t *data);
void cairn_http_stream_close (CairnStream *stream);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnHttp, cairn_http_free)

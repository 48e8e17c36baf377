/* Shared by the HTTP API's modules (http.c, http_stream.c, http_blobs.c). */
#pragma once

#include <jansson.h>
#include <libsoup/soup.h>

#include <cairn/interfaces.h>

#include "http.h"
#include "http_parse.h"
#include "node_private.h"

struct CairnHttp {
  CairnNode *node;
  SoupServer *server;
  char *url;
  GList *sse_clients; /* SseClient* */
  guint ping_source;
  guint pending_submits; /* txs being decoded/verified on workers */
  guint pending_blobs;   /* uploads being stored on workers */
  GList *streams;        /* CairnHttpStream* being sent */
  gboolean closing;
  /* Limits (http_limits.c part of http.c) */
  CairnHttpLimits lim;
  CairnHttpLimitStats stats;
  GHashTable *conns;   /* GSocket* -> HttpConn*: connections we count */
  GHashTable *buckets; /* IP text -> RateBucket*: request rate per IP */
  guint sweep_source;
};

/* Replies: JSON bodies; errors as {"error":{"code","message"}}. */
void cairn_http_reply_json (SoupServerMessage *msg, guint status, json_t *body);
void cairn_http_reply_error (SoupServerMessage *msg, guint status,
                             const char *code, const char *message);
void cairn_http_reply_gerror (SoupServerMessage *msg, const GError *e);

/* ---- streamed bodies (http_stream.c) ---- */

/* Send `length` bytes of `in` as the body (status and headers set by the
 * caller), reading ahead one chunk at a time so memory stays flat whatever
 * the length. Takes a ref on in. A read error or short stream ends the
 * connection (the status line has gone out). */
void cairn_http_send_stream (CairnHttp *http, SoupServerMessage *msg,
                             GInputStream *in, uint64_t length);
/* Answer with `size` bytes opened by open(data, offset, length), honouring
 * a Range header (206, or 416 answered here); status is used for a whole
 * body. FALSE (nothing sent) when open fails. Sets Accept-Ranges and the
 * status; the caller sets the content type and other headers. */
gboolean cairn_http_reply_ranged (CairnHttp *http, SoupServerMessage *msg,
                                  guint status, uint64_t size,
                                  CairnOpenStreamFn open, void *data,
                                  GError **error);
/* Cancel every stream still being sent (at shutdown). */
void cairn_http_streams_close (CairnHttp *http);

/* ---- blobs (http_blobs.c) ---- */

/* GET /v1/blobs/{cid}[/stat], POST /v1/blobs. TRUE if path was theirs. */
gboolean cairn_http_blobs_handle (CairnHttp *http, SoupServerMessage *msg,
                                  const char *method, const char *path);
/* From the early handler: takes over a POST /v1/blobs before its body is
 * read (streams it to a file). TRUE if it was one. */
gboolean cairn_http_blobs_early (CairnHttp *http, SoupServerMessage *msg,
                                 const char *method, const char *path);
/* Remove upload files a crash left behind. */
void cairn_http_blobs_clean (CairnHttp *http);

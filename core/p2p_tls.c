/* The TCP + TLS 1.3 transport (see p2p.h): non-blocking sockets watched on
 * the GLib main loop, each driving an OpenSSL SSL object over its fd.
 *
 * A connection goes CONNECTING (outbound only) -> HANDSHAKE -> OPEN. The
 * peer's certificate is checked inside the handshake (verify_peer), so a
 * refused peer gets a TLS alert rather than a session. In TLS 1.3 the
 * client finishes before the server has checked the client certificate, so
 * an outbound connection only counts as up once the server's session
 * ticket arrives: the server sends it after accepting us. */
#define G_LOG_DOMAIN "cairn-p2p"

#include "p2p.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cairn/error.h>

#include "p2p_cert.h"
#include "p2p_frame.h"
#include "token_bucket.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000
/* Handshakes in progress on inbound connections; more are closed at once. */
#define MAX_PENDING_INBOUND 64
#define ACCEPT_PAUSE_MS 1000
#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (1024 * 1024) /* per wakeup */
#define FRAME_HEADER CAIRN_P2P_FRAME_HEADER
#define CHANNEL_MAX CAIRN_P2P_CHANNEL_MAX
/* Longest pause between two retransmissions of unacknowledged data (the
 * kernel's minimum for TCP_RTO_MAX_MS). */
#define RTO_MAX_MS 1000
/* Linux >= 6.15 (include/uapi/linux/tcp.h); older C headers lack it. */
#ifndef TCP_RTO_MAX_MS
#define TCP_RTO_MAX_MS 44
#endif

typedef struct Transport Transport;

typedef enum {
  WARN_HANDSHAKE_TIMEOUT,
  WARN_MAX_INBOUND,
  WARN_PENDING,
  WARN_KINDS
} WarnKind;
#define WARN_EVERY_US (10 * G_USEC_PER_SEC)
typedef struct Conn Conn;
typedef struct Dial Dial;

/* A GSource on one fd whose condition can change (g_source_modify_unix_fd). */
typedef struct {
  GSource base;
  gpointer tag;
  void (*func) (gpointer data, GIOCondition cond);
  gpointer data;
} FdSource;

typedef enum {
  CONN_CONNECTING,
  CONN_HANDSHAKE,
  CONN_OPEN,
  CONN_CLOSED,
} ConnState;

struct Conn {
  gint ref;
  Transport *t;
  int fd;
  SSL *ssl;
  ConnState state;
  Dial *dial;         /* set for outbound connections */
  char remote[80];    /* "host:port" for messages */
  char peer_id[41];   /* set by verify_peer */
  char *refusal;      /* why verify_peer refused, for the warning */
  gboolean confirmed; /* the peer accepted us (see top of file) */
  gboolean active;    /* the connection of peer_id in t->peers */
  gboolean want_write;
  gboolean fatal; /* OpenSSL failed: no close_notify (SSL_shutdown(3)) */
  GSource *watch;
  GSource *timeout;
  char ip[INET6_ADDRSTRLEN]; /* inbound: the peer's address, for limits */
  /* Reading: frames (p2p_frame.c). */
  CairnFrameReader reader;
  guint frame_timer; /* armed while a frame stays unfinished */
  /* Token buckets on what the peer sends (CairnP2pLimits). */
  CairnTokenBucket tok_bytes, tok_frames;
  guint throttle_timer; /* reading paused until the buckets refill */
  gboolean throttled;
  /* Bytes read but not consumed because the peer ran out of tokens in the
   * middle of a read (at most one read's worth: nothing more is read
   * while it holds any). */
  GByteArray *backlog;
  /* Writing: framed bytes not yet accepted by SSL_write, from out_off. */
  GByteArray *out;
  gsize out_off;
};

struct Dial {
  Transport *t;
  CairnPeerAddr addr;
  Conn *conn;
  guint timer;
  guint backoff_ms;
  gboolean ever_up;
};

struct Transport {
  CairnTransport base;
  char self_id[41];
  char *listen_host;
  guint16 listen_port;
  Dial *dials;
  guint n_dials;
  GHashTable *allowed; /* id set, including dial ids */
  CairnTransportEvents events;
  void *user_data;
  SSL_CTX *ctx;
  int listen_fd;
  GSource *listen_watch;
  guint listen_pause; /* timer while accepting is paused */
  guint16 bound_port;
  GList *conns;      /* owns one ref of each */
  GHashTable *peers; /* id -> active Conn (borrowed) */
  CairnTransportStats stats;
  CairnP2pLimits lim;
  gboolean running;
  /* Warnings an attacker can cause are logged once per WARN_EVERY_US per
   * kind, with how many were not (the counters in stats have them all). */
  gint64 warned_at[WARN_KINDS];
  guint unlogged[WARN_KINDS];
};

/* Log this warning of `kind` now? Otherwise it is counted in unlogged. */
static gboolean
warn_now (Transport *t, WarnKind kind, guint *unlogged)
{
  gint64 now = g_get_monotonic_time ();

  if (t->warned_at[kind] != 0 && now - t->warned_at[kind] < WARN_EVERY_US) {
    t->unlogged[kind]++;
    return FALSE;
  }
  t->warned_at[kind] = now;
  *unlogged = t->unlogged[kind];
  t->unlogged[kind] = 0;
  return TRUE;
}

void
cairn_p2p_limits_default (CairnP2pLimits *out)
{
  *out = (CairnP2pLimits){
    .max_inbound = 128,
    .max_inbound_per_ip = 32,
    .handshake_timeout_ms = 10000,
    .frame_timeout_ms = 30000,
    .max_frame_bytes = CAIRN_P2P_MAX_FRAME,
    .rate_bytes_per_s = 64u << 20,
    .rate_burst_bytes = 128u << 20,
    .rate_frames_per_s = 20000,
    .rate_burst_frames = 40000,
  };
}

static int conn_ex_index = -1;

static void conn_close (Conn *c, gboolean notify);
static void conn_update_watch (Conn *c);
static void dial_schedule (Dial *d);

/* ---- fd sources -------------------------------------------------------- */

static gboolean
fd_source_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  FdSource *fs = (FdSource *)source;

  fs->func (fs->data, g_source_query_unix_fd (source, fs->tag));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs fd_source_funcs = {
  .dispatch = fd_source_dispatch,
};

static GSource *
fd_source_new (int fd, GIOCondition cond, void (*func) (gpointer, GIOCondition),
               gpointer data)
{
  GSource *s = g_source_new (&fd_source_funcs, sizeof (FdSource));
  FdSource *fs = (FdSource *)s;

  fs->tag = g_source_add_unix_fd (s, fd, cond);
  fs->func = func;
  fs->data = data;
  g_source_attach (s, NULL);
  return s;
}

static void
source_clear (GSource **s)
{
  if (*s != NULL) {
    g_source_destroy (*s);
    g_source_unref (*s);
    *s = NULL;
  }
}

/* ---- helpers ------------------------------------------------------------ */

static char *
ssl_error_text (void)
{
  unsigned long e = ERR_get_error ();
  char buf[256];

  if (e == 0)
    return g_strdup (errno ? g_strerror (errno) : "connection closed");
  ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  return g_strdup (buf);
}

static void
sockaddr_text (const struct sockaddr *sa, char *out, gsize len)
{
  char host[INET6_ADDRSTRLEN] = "?";
  guint port = 0;

  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs (in->sin_port);
    g_snprintf (out, len, "%s:%u", host, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs (in6->sin6_port);
    g_snprintf (out, len, "[%s]:%u", host, port);
  } else {
    g_snprintf (out, len, "unknown");
  }
}

static void
sockaddr_ip (const struct sockaddr *sa, char *out, gsize len)
{
  g_strlcpy (out, "?", len);
  if (sa->sa_family == AF_INET)
    inet_ntop (AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
               (socklen_t)len);
  else if (sa->sa_family == AF_INET6)
    inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
               (socklen_t)len);
}

static void
socket_tune (int fd)
{
  int one = 1;

  /* Consensus messages are small and latency-bound. */
  (void)setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* While a link drops every packet (a partition), TCP doubles the wait
   * between retransmissions up to 120 s, and after the heal the connection
   * stays silent until the next one: the chain recovered 5 to 8 s after a
   * 5 s partition and 46 to 50 s after a 60 s one (tests/reliability/netns.sh).
   * Capped, a connection resends within a second of the heal. Kernels
   * before 6.15 refuse the option and keep TCP's backoff. */
  int rto_max = RTO_MAX_MS;
  (void)setsockopt (fd, IPPROTO_TCP, TCP_RTO_MAX_MS, &rto_max, sizeof rto_max);
}

/* ---- connections ------------------------------------------------------- */

static Conn *
conn_ref (Conn *c)
{
  g_atomic_int_inc (&c->ref);
  return c;
}

static void
conn_unref (Conn *c)
{
  if (!g_atomic_int_dec_and_test (&c->ref))
    return;
  source_clear (&c->watch);
  source_clear (&c->timeout);
  g_clear_handle_id (&c->frame_timer, g_source_remove);
  g_clear_handle_id (&c->throttle_timer, g_source_remove);
  if (c->ssl != NULL)
    SSL_free (c->ssl);
  if (c->fd >= 0)
    close (c->fd);
  cairn_frame_reader_clear (&c->reader);
  g_free (c->refusal);
  g_byte_array_unref (c->out);
  g_byte_array_unref (c->backlog);
  g_free (c);
}

static void conn_ready (gpointer data, GIOCondition cond);
static gboolean conn_frame_timeout_cb (gpointer data);

static gboolean
conn_timeout_cb (gpointer data)
{
  Conn *c = data;

  g_clear_pointer (&c->timeout, g_source_unref);
  if (!c->confirmed) {
    guint unlogged;
    c->t->stats.handshakes_refused++;
    c->t->stats.handshake_timeouts++;
    if (warn_now (c->t, WARN_HANDSHAKE_TIMEOUT, &unlogged))
      g_warning ("p2p: handshake with %s timed out after %u ms (and %u "
                 "more not logged in the last 10 s)",
                 c->remote, c->t->lim.handshake_timeout_ms, unlogged);
    conn_close (c, TRUE);
  }
  return G_SOURCE_REMOVE;
}

static Conn *
conn_new (Transport *t, int fd, Dial *dial, const char *remote)
{
  Conn *c = g_new0 (Conn, 1);

  c->ref = 1;
  c->t = t;
  c->fd = fd;
  c->dial = dial;
  c->out = g_byte_array_new ();
  c->backlog = g_byte_array_new ();
  c->reader.max_frame = t->lim.max_frame_bytes;
  g_strlcpy (c->remote, remote, sizeof c->remote);
  c->state = dial ? CONN_CONNECTING : CONN_HANDSHAKE;
  c->watch = fd_source_new (fd, dial ? G_IO_OUT : G_IO_IN, conn_ready, c);
  gint64 now = g_get_monotonic_time ();
  cairn_token_bucket_init (&c->tok_bytes, (double)t->lim.rate_burst_bytes, now);
  cairn_token_bucket_init (&c->tok_frames, (double)t->lim.rate_burst_frames,
                           now);
  c->timeout = g_timeout_source_new (t->lim.handshake_timeout_ms);
  g_source_set_callback (c->timeout, conn_timeout_cb, c, NULL);
  g_source_attach (c->timeout, NULL);
  t->conns = g_list_prepend (t->conns, c);
  return c;
}

static gboolean
conn_start_tls (Conn *c)
{
  c->ssl = SSL_new (c->t->ctx);
  if (c->ssl == NULL || SSL_set_fd (c->ssl, c->fd) != 1) {
    g_autofree char *why = ssl_error_text ();
    g_warning ("p2p: cannot set up TLS for %s: %s", c->remote, why);
    return FALSE;
  }
  SSL_set_ex_data (c->ssl, conn_ex_index, c);
  if (c->dial != NULL)
    SSL_set_connect_state (c->ssl);
  else
    SSL_set_accept_state (c->ssl);
  return TRUE;
}

/* Closes c (idempotent). notify: emit peer_down if c was the peer's active
 * connection; stop() closes silently. */
static void
conn_close (Conn *c, gboolean notify)
{
  Transport *t = c->t;
  Dial *dial = c->dial;
  gboolean was_active = c->active;
  gboolean was_open = (c->state == CONN_OPEN);

  if (c->state == CONN_CLOSED)
    return;
  conn_ref (c); /* until the end, whatever the caller holds */
  c->state = CONN_CLOSED;
  source_clear (&c->watch);
  source_clear (&c->timeout);
  g_clear_handle_id (&c->frame_timer, g_source_remove);
  g_clear_handle_id (&c->throttle_timer, g_source_remove);
  if (c->ssl != NULL && was_open && !c->fatal) {
    (void)SSL_shutdown (c->ssl); /* best effort close_notify */
    ERR_clear_error ();
  }
  if (c->fd >= 0) {
    close (c->fd);
    c->fd = -1;
  }
  if (was_active) {
    g_hash_table_remove (t->peers, c->peer_id);
    c->active = FALSE;
  }
  if (dial != NULL && dial->conn == c)
    dial->conn = NULL;
  c->dial = NULL;
  t->conns = g_list_remove (t->conns, c);
  conn_unref (c); /* the list's */
  if (t->running) {
    /* Redial the peers we are meant to reach, unless another connection
     * to them is up. */
    for (guint i = 0; i < t->n_dials; i++) {
      Dial *d = &t->dials[i];
      if (d->conn == NULL && d->timer == 0
          && !g_hash_table_contains (t->peers, d->addr.id)
          && (d == dial
              || (was_active && strcmp (d->addr.id, c->peer_id) == 0)))
        dial_schedule (d);
    }
  }
  if (was_active && notify && t->events.peer_down != NULL)
    t->events.peer_down (t->user_data, c->peer_id);
  conn_unref (c);
}

/* Called for every certificate the peer sends; depth 0 is its own. */
static int
verify_peer (int preverify_ok, X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store,
                                         SSL_get_ex_data_X509_STORE_CTX_idx ());
  Conn *c = ssl ? SSL_get_ex_data (ssl, conn_ex_index) : NULL;
  int depth = X509_STORE_CTX_get_error_depth (store);
  g_autoptr (GError) error = NULL;
  char id[41];

  if (c == NULL)
    return 0;
  /* Self-signed and pinned by key: chain errors (no trusted issuer, dates)
   * do not matter, but a peer sending a chain is not one of ours. */
  if (depth != 0) {
    g_free (c->refusal);
    c->refusal = g_strdup ("peer sent a certificate chain");
    return 0;
  }
  if (!cairn_p2p_cert_id (X509_STORE_CTX_get_current_cert (store), id,
                          &error)) {
    g_free (c->refusal);
    c->refusal = g_strdup (error->message);
    return 0;
  }
  g_strlcpy (c->peer_id, id, sizeof c->peer_id);
  if (strcmp (id, c->t->self_id) == 0) {
    g_free (c->refusal);
    c->refusal = g_strdup_printf ("id %s is our own", id);
    return 0;
  }
  if (c->dial != NULL && strcmp (id, c->dial->addr.id) != 0) {
    g_free (c->refusal);
    c->refusal = g_strdup_printf ("dialed for id %s but it is %s",
                                  c->dial->addr.id, id);
    return 0;
  }
  if (!g_hash_table_contains (c->t->allowed, id)) {
    g_free (c->refusal);
    c->refusal = g_strdup_printf ("id %s is not allowed", id);
    return 0;
  }
  return 1;
}

/* Client side: the server's session ticket proves it accepted us. */
static int
new_session_cb (SSL *ssl, SSL_SESSION *session)
{
  Conn *c = SSL_get_ex_data (ssl, conn_ex_index);

  if (c != NULL)
    c->confirmed = TRUE;
  return 0; /* not kept */
}

/* The peer is authenticated and accepted us: make c its connection. */
static void
conn_activate (Conn *c)
{
  Transport *t = c->t;
  Conn *old = g_hash_table_lookup (t->peers, c->peer_id);
  gboolean fresh = (old == NULL);

  source_clear (&c->timeout);
  if (old != NULL) {
    gboolean keep_new;
    if ((old->dial != NULL) == (c->dial != NULL)) {
      /* Same direction: the dialer gave up on the old one. */
      keep_new = TRUE;
    } else {
      /* Both dialed each other: both sides keep the one dialed by the
       * lower id. */
      gboolean self_lower = strcmp (t->self_id, c->peer_id) < 0;
      keep_new = (c->dial != NULL) == self_lower;
    }
    if (!keep_new) {
      g_debug ("p2p: dropping duplicate connection to %s at %s", c->peer_id,
               c->remote);
      conn_close (c, FALSE);
      return;
    }
    old->active = FALSE;
    g_hash_table_remove (t->peers, c->peer_id);
    g_debug ("p2p: replacing connection to %s at %s", c->peer_id, old->remote);
  }
  c->active = TRUE;
  g_hash_table_insert (t->peers, c->peer_id, c);
  if (c->dial != NULL) {
    c->dial->backoff_ms = BACKOFF_MIN_MS;
    if (c->dial->ever_up)
      t->stats.reconnects++;
    c->dial->ever_up = TRUE;
  }
  if (old != NULL)
    conn_close (old, FALSE);
  if (fresh && t->events.peer_up != NULL)
    t->events.peer_up (t->user_data, c->peer_id);
}

static void
conn_refuse_frame (Conn *c, const char *why)
{
  c->t->stats.frames_refused++;
  g_warning ("p2p: peer %s at %s sent %s; disconnecting", c->peer_id, c->remote,
             why);
  conn_close (c, TRUE);
}

/* A peer started a frame and did not finish it in time (a stall). */
static gboolean
conn_frame_timeout_cb (gpointer data)
{
  Conn *c = data;
  g_autofree char *why = NULL;

  c->frame_timer = 0;
  c->t->stats.frame_timeouts++;
  why = g_strdup_printf ("%" G_GSIZE_FORMAT " of the %" G_GSIZE_FORMAT
                         " bytes of a frame in %u ms",
                         c->reader.frame_got, c->reader.frame_len,
                         c->t->lim.frame_timeout_ms);
  conn_refuse_frame (c, why);
  return G_SOURCE_REMOVE;
}

/* Refill the buckets; TRUE if the peer may send more now. Otherwise
 * *wait_ms says when it may. */
static gboolean
conn_tokens (Conn *c, guint *wait_ms)
{
  const CairnP2pLimits *lim = &c->t->lim;
  gint64 now = g_get_monotonic_time ();
  double wait = 0;

  if (lim->rate_bytes_per_s > 0) {
    cairn_token_bucket_refill (&c->tok_bytes, (double)lim->rate_bytes_per_s,
                               (double)lim->rate_burst_bytes, now);
    if (c->tok_bytes.tokens <= 0)
      wait = MAX (wait,
                  (1 - c->tok_bytes.tokens) / (double)lim->rate_bytes_per_s);
  }
  if (lim->rate_frames_per_s > 0) {
    cairn_token_bucket_refill (&c->tok_frames, (double)lim->rate_frames_per_s,
                               (double)lim->rate_burst_frames, now);
    if (c->tok_frames.tokens <= 0)
      wait = MAX (wait,
                  (1 - c->tok_frames.tokens) / (double)lim->rate_frames_per_s);
  }
  *wait_ms = (guint)MIN (wait * 1000 + 1, 60000);
  return wait == 0;
}

/* Out of tokens (of a limit that is on)? */
static gboolean
conn_over_rate (Conn *c)
{
  const CairnP2pLimits *lim = &c->t->lim;

  return c->active
         && ((lim->rate_bytes_per_s > 0 && c->tok_bytes.tokens <= 0)
             || (lim->rate_frames_per_s > 0 && c->tok_frames.tokens <= 0));
}

static gboolean
conn_throttle_done (gpointer data)
{
  Conn *c = data;

  c->throttle_timer = 0;
  c->throttled = FALSE;
  conn_ready (c, G_IO_IN);
  return G_SOURCE_REMOVE;
}

/* Consumes n bytes read from the peer; FALSE once c is closed. */
static gboolean
conn_consume (Conn *c, const guint8 *p, gsize n)
{
  Transport *t = c->t;

  while (n > 0) {
    guint8 channel = 0;
    g_autoptr (GBytes) payload = NULL;
    gsize len = 0;
    g_autofree char *why = NULL;
    CairnFrameStatus st = cairn_frame_reader_feed (&c->reader, &p, &n, &channel,
                                                   &payload, &len, &why);
    if (st == CAIRN_FRAME_MORE)
      break;
    if (st == CAIRN_FRAME_BAD) {
      if (c->reader.oversized)
        t->stats.frames_oversized++;
      conn_refuse_frame (c, why);
      return FALSE;
    }
    g_clear_handle_id (&c->frame_timer, g_source_remove);
    c->tok_bytes.tokens -= (double)(FRAME_HEADER + len);
    c->tok_frames.tokens -= 1;
    t->stats.frames_in++;
    t->stats.bytes_in += FRAME_HEADER + len;
    if (t->events.message != NULL)
      t->events.message (t->user_data, c->peer_id, channel, payload);
    if (c->state == CONN_CLOSED)
      return FALSE;
    if (n > 0 && conn_over_rate (c)) {
      /* The rest waits for tokens (conn_read consumes it first). */
      g_byte_array_append (c->backlog, p, (guint)n);
      return TRUE;
    }
  }
  /* A frame begun in this read: its whole time starts now. */
  if (c->reader.frame != NULL && c->frame_timer == 0)
    c->frame_timer = g_timeout_add (MAX (t->lim.frame_timeout_ms, 1),
                                    conn_frame_timeout_cb, c);
  return TRUE;
}

/* FALSE once c is closed. */
static gboolean
conn_read (Conn *c)
{
  guint8 buf[READ_CHUNK];
  gsize budget = READ_BUDGET;

  /* A fast peer must not starve the loop: stop after a budget unless
   * OpenSSL holds decrypted bytes the fd would not announce again. */
  while (budget > 0 || SSL_pending (c->ssl) > 0 || c->backlog->len > 0) {
    size_t got = 0;
    guint wait_ms;
    int r;

    if (c->throttled)
      break;
    if (c->active && !conn_tokens (c, &wait_ms)) {
      /* Over its rate: stop reading it for a while; TCP pushes back. */
      c->throttled = TRUE;
      c->t->stats.rate_limited++;
      g_debug ("p2p: peer %s at %s is over its rate; pausing it %u ms",
               c->peer_id, c->remote, wait_ms);
      c->throttle_timer = g_timeout_add (wait_ms, conn_throttle_done, c);
      break;
    }
    if (c->backlog->len > 0) {
      GByteArray *held = c->backlog;
      gboolean open;
      c->backlog = g_byte_array_new ();
      open = conn_consume (c, held->data, held->len);
      g_byte_array_unref (held);
      if (!open)
        return FALSE;
      continue;
    }
    r = SSL_read_ex (c->ssl, buf, sizeof buf, &got);

    if (r != 1) {
      int err = SSL_get_error (c->ssl, r);
      if (err == SSL_ERROR_WANT_READ)
        break;
      if (err == SSL_ERROR_WANT_WRITE) {
        c->want_write = TRUE;
        break;
      }
      if (!c->confirmed) {
        g_autofree char *why = ssl_error_text ();
        c->t->stats.handshakes_refused++;
        g_warning ("p2p: peer %s at %s refused our handshake: %s", c->peer_id,
                   c->remote, why);
      } else if (err != SSL_ERROR_ZERO_RETURN) {
        g_autofree char *why = ssl_error_text ();
        g_debug ("p2p: connection to %s at %s lost: %s", c->peer_id, c->remote,
                 why);
      }
      ERR_clear_error ();
      c->fatal = (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL);
      conn_close (c, TRUE);
      return FALSE;
    }
    if (c->confirmed && !c->active) {
      conn_activate (c);
      if (c->state == CONN_CLOSED)
        return FALSE;
    }
    if (!conn_consume (c, buf, got))
      return FALSE;
    budget -= MIN (budget, got);
  }
  /* A session ticket alone makes SSL_read report WANT_READ. */
  if (c->confirmed && !c->active) {
    conn_activate (c);
    if (c->state == CONN_CLOSED)
      return FALSE;
  }
  return TRUE;
}

/* FALSE once c is closed. */
static gboolean
conn_flush (Conn *c)
{
  c->want_write = FALSE;
  while (c->out_off < c->out->len) {
    size_t written = 0;
    int r = SSL_write_ex (c->ssl, c->out->data + c->out_off,
                          c->out->len - c->out_off, &written);
    if (r != 1) {
      int err = SSL_get_error (c->ssl, r);
      if (err == SSL_ERROR_WANT_WRITE) {
        c->want_write = TRUE;
        break;
      }
      if (err == SSL_ERROR_WANT_READ)
        break; /* retried after the next read */
      {
        g_autofree char *why = ssl_error_text ();
        g_debug ("p2p: writing to %s at %s failed: %s", c->peer_id, c->remote,
                 why);
      }
      c->fatal = TRUE;
      conn_close (c, TRUE);
      return FALSE;
    }
    c->out_off += written;
    c->t->stats.bytes_out += written;
  }
  if (c->out_off == c->out->len) {
    g_byte_array_set_size (c->out, 0);
    c->out_off = 0;
  } else if (c->out_off >= (1u << 20) && c->out_off * 2 >= c->out->len) {
    g_byte_array_remove_range (c->out, 0, (guint)c->out_off);
    c->out_off = 0;
  }
  return TRUE;
}

static gboolean
conn_handshake (Conn *c)
{
  int r = SSL_do_handshake (c->ssl);

  if (r == 1) {
    c->state = CONN_OPEN;
    if (c->dial == NULL)
      c->confirmed = TRUE; /* we checked the client: it is in */
    return TRUE;
  }
  switch (SSL_get_error (c->ssl, r)) {
  case SSL_ERROR_WANT_READ:
    c->want_write = FALSE;
    return TRUE;
  case SSL_ERROR_WANT_WRITE:
    c->want_write = TRUE;
    return TRUE;
  default: {
    g_autofree char *why = ssl_error_text ();
    c->t->stats.handshakes_refused++;
    if (c->refusal != NULL)
      g_warning ("p2p: refused %s %s: %s",
                 c->dial ? "dialed peer at" : "peer at", c->remote, c->refusal);
    else
      g_warning ("p2p: TLS handshake with %s%s%s failed: %s", c->remote,
                 c->peer_id[0] ? " id " : "", c->peer_id, why);
    conn_close (c, TRUE);
    return FALSE;
  }
  }
}

static void
conn_ready (gpointer data, GIOCondition cond)
{
  Conn *c = conn_ref (data);

  if (c->state == CONN_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
      err = errno;
    if (err != 0) {
      g_debug ("p2p: connecting to %s (%s) failed: %s", c->remote,
               c->dial ? c->dial->addr.id : "?", g_strerror (err));
      conn_close (c, TRUE);
      goto out;
    }
    if (!conn_start_tls (c)) {
      conn_close (c, TRUE);
      goto out;
    }
    c->state = CONN_HANDSHAKE;
  }
  if (c->state == CONN_HANDSHAKE && !conn_handshake (c))
    goto out;
  if (c->state == CONN_OPEN) {
    if (!conn_read (c))
      goto out;
    if (c->out_off < c->out->len && !conn_flush (c))
      goto out;
  }
  conn_update_watch (c);
out:
  conn_unref (c);
}

static void
conn_update_watch (Conn *c)
{
  GIOCondition cond = c->throttled ? 0 : G_IO_IN;

  if (c->state == CONN_CLOSED || c->watch == NULL)
    return;
  if (c->state == CONN_CONNECTING)
    cond = G_IO_OUT;
  else if (c->want_write || (c->state == CONN_OPEN && c->out_off < c->out->len))
    cond |= G_IO_OUT;
  g_source_modify_unix_fd (c->watch, ((FdSource *)c->watch)->tag, cond);
}

/* ---- dialing ------------------------------------------------------------ */

static void
dial_now (Dial *d)
{
  Transport *t = d->t;
  struct addrinfo hints
      = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char port[8], remote[80];
  int fd, rc;

  g_snprintf (port, sizeof port, "%u", d->addr.port);
  /* Blocking for DNS names; peers are usually given as IP addresses. */
  rc = getaddrinfo (d->addr.host, port, &hints, &res);
  if (rc != 0 || res == NULL) {
    g_debug ("p2p: cannot resolve %s for peer %s: %s", d->addr.host, d->addr.id,
             gai_strerror (rc));
    if (res)
      freeaddrinfo (res);
    dial_schedule (d);
    return;
  }
  sockaddr_text (res->ai_addr, remote, sizeof remote);
  fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    g_warning ("p2p: socket() for %s: %s", remote, g_strerror (errno));
    freeaddrinfo (res);
    dial_schedule (d);
    return;
  }
  socket_tune (fd);
  if (connect (fd, res->ai_addr, res->ai_addrlen) != 0
      && errno != EINPROGRESS) {
    g_debug ("p2p: connecting to %s (%s) failed: %s", remote, d->addr.id,
             g_strerror (errno));
    close (fd);
    freeaddrinfo (res);
    dial_schedule (d);
    return;
  }
  freeaddrinfo (res);
  d->conn = conn_new (t, fd, d, remote);
}

static gboolean
dial_timer_cb (gpointer data)
{
  Dial *d = data;

  d->timer = 0;
  if (d->t->running && d->conn == NULL
      && !g_hash_table_contains (d->t->peers, d->addr.id))
    dial_now (d);
  return G_SOURCE_REMOVE;
}

static void
dial_schedule (Dial *d)
{
  if (!d->t->running || d->timer != 0 || d->conn != NULL)
    return;
  d->timer = g_timeout_add (d->backoff_ms, dial_timer_cb, d);
  d->backoff_ms = MIN (d->backoff_ms * 2, BACKOFF_MAX_MS);
}

/* ---- listening ---------------------------------------------------------- */

static void listen_ready (gpointer data, GIOCondition cond);

static gboolean
listen_resume (gpointer data)
{
  Transport *t = data;

  t->listen_pause = 0;
  t->listen_watch = fd_source_new (t->listen_fd, G_IO_IN, listen_ready, t);
  return G_SOURCE_REMOVE;
}

static void
listen_ready (gpointer data, GIOCondition cond)
{
  Transport *t = data;

  for (;;) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char remote[80], ip[INET6_ADDRSTRLEN];
    guint pending = 0, inbound = 0, same_ip = 0, unlogged;
    int fd = accept4 (t->listen_fd, (struct sockaddr *)&sa, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED)
        continue;
      if (e == EAGAIN || e == EWOULDBLOCK)
        return;
      /* Out of fds or similar: the fd stays readable, so pause accepting
       * rather than spin. */
      g_warning ("p2p: accept on port %u: %s; pausing for %d ms", t->bound_port,
                 g_strerror (e), ACCEPT_PAUSE_MS);
      source_clear (&t->listen_watch);
      t->listen_pause = g_timeout_add (ACCEPT_PAUSE_MS, listen_resume, t);
      return;
    }
    sockaddr_text ((struct sockaddr *)&sa, remote, sizeof remote);
    sockaddr_ip ((struct sockaddr *)&sa, ip, sizeof ip);
    for (GList *l = t->conns; l != NULL; l = l->next) {
      Conn *c = l->data;
      if (c->dial != NULL)
        continue;
      inbound++;
      if (!c->confirmed)
        pending++;
      if (strcmp (c->ip, ip) == 0)
        same_ip++;
    }
    if (inbound >= t->lim.max_inbound) {
      t->stats.refused_max_inbound++;
      if (warn_now (t, WARN_MAX_INBOUND, &unlogged))
        g_warning ("p2p: refused %s: %u inbound connections already "
                   "([p2p] max_inbound; and %u more not logged in the last "
                   "10 s)",
                   remote, inbound, unlogged);
      close (fd);
      continue;
    }
    if (same_ip >= t->lim.max_inbound_per_ip) {
      t->stats.refused_per_ip++;
      g_debug ("p2p: refused %s: %u inbound connections from %s already "
               "([p2p] max_inbound_per_ip)",
               remote, same_ip, ip);
      close (fd);
      continue;
    }
    if (pending >= MAX_PENDING_INBOUND) {
      t->stats.handshakes_refused++;
      t->stats.refused_pending++;
      if (warn_now (t, WARN_PENDING, &unlogged))
        g_warning ("p2p: refused %s: %u handshakes already pending (and %u "
                   "more not logged in the last 10 s)",
                   remote, pending, unlogged);
      close (fd);
      continue;
    }
    socket_tune (fd);
    {
      Conn *c = conn_new (t, fd, NULL, remote);
      g_strlcpy (c->ip, ip, sizeof c->ip);
      if (!conn_start_tls (c))
        conn_close (c, FALSE);
    }
  }
}

static gboolean
listen_open (Transport *t, GError **error)
{
  struct addrinfo hints
      = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  char port[8];
  int fd, one = 1, rc;

  g_snprintf (port, sizeof port, "%u", t->listen_port);
  rc = getaddrinfo (t->listen_host[0] ? t->listen_host : NULL, port, &hints,
                    &res);
  if (rc != 0 || res == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "p2p listen address '%s:%u': %s", t->listen_host,
                 t->listen_port, gai_strerror (rc));
    if (res)
      freeaddrinfo (res);
    return FALSE;
  }
  fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
      || bind (fd, res->ai_addr, res->ai_addrlen) != 0 || listen (fd, 128) != 0
      || getsockname (fd, (struct sockaddr *)&sa, &len) != 0) {
    int e = errno;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "p2p listen on '%s:%u': %s", t->listen_host, t->listen_port,
                 g_strerror (e));
    if (fd >= 0)
      close (fd);
    freeaddrinfo (res);
    return FALSE;
  }
  freeaddrinfo (res);
  t->listen_fd = fd;
  t->bound_port = ntohs (sa.ss_family == AF_INET6
                             ? ((struct sockaddr_in6 *)&sa)->sin6_port
                             : ((struct sockaddr_in *)&sa)->sin_port);
  t->listen_watch = fd_source_new (fd, G_IO_IN, listen_ready, t);
  return TRUE;
}

/* ---- ops ---------------------------------------------------------------- */

static gboolean
tls_start (CairnTransport *base, GError **error)
{
  Transport *t = (Transport *)base;

  if (t->running) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "p2p transport already started");
    return FALSE;
  }
  /* A peer closing mid-write must not kill the process. */
  signal (SIGPIPE, SIG_IGN);
  if (!listen_open (t, error))
    return FALSE;
  t->running = TRUE;
  for (guint i = 0; i < t->n_dials; i++) {
    t->dials[i].backoff_ms = BACKOFF_MIN_MS;
    dial_now (&t->dials[i]);
  }
  return TRUE;
}

static void
tls_stop (CairnTransport *base)
{
  Transport *t = (Transport *)base;

  if (!t->running)
    return;
  t->running = FALSE;
  source_clear (&t->listen_watch);
  g_clear_handle_id (&t->listen_pause, g_source_remove);
  if (t->listen_fd >= 0) {
    close (t->listen_fd);
    t->listen_fd = -1;
  }
  for (guint i = 0; i < t->n_dials; i++)
    g_clear_handle_id (&t->dials[i].timer, g_source_remove);
  while (t->conns != NULL)
    conn_close (t->conns->data, FALSE);
}

static gboolean
tls_send (CairnTransport *base, const char *peer_id, uint8_t channel,
          GBytes *payload, GError **error)
{
  Transport *t = (Transport *)base;
  Conn *c = peer_id ? g_hash_table_lookup (t->peers, peer_id) : NULL;
  gsize n = payload ? g_bytes_get_size (payload) : 0;
  guint32 len;
  guint8 hdr[FRAME_HEADER + 1];

  if (channel < CAIRN_P2P_CH_TXS || channel > CHANNEL_MAX) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "p2p send: unknown channel %u", channel);
    return FALSE;
  }
  if (n > CAIRN_P2P_MAX_FRAME - 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "p2p send: payload of %" G_GSIZE_FORMAT
                 " bytes is over the %u-byte limit",
                 n, CAIRN_P2P_MAX_FRAME - 1);
    return FALSE;
  }
  if (c == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "p2p send: peer %s is not connected",
                 peer_id ? peer_id : "(null)");
    return FALSE;
  }
  if (c->out->len - c->out_off + FRAME_HEADER + 1 + n > CAIRN_P2P_MAX_QUEUE) {
    t->stats.sends_refused++;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "p2p send: queue full for peer %s (%u bytes)", peer_id,
                 (guint)(c->out->len - c->out_off));
    return FALSE;
  }
  len = (guint32)(n + 1);
  hdr[0] = (guint8)(len >> 24);
  hdr[1] = (guint8)(len >> 16);
  hdr[2] = (guint8)(len >> 8);
  hdr[3] = (guint8)len;
  hdr[4] = channel;
  g_byte_array_append (c->out, hdr, sizeof hdr);
  if (n > 0)
    g_byte_array_append (c->out, g_bytes_get_data (payload, NULL), (guint)n);
  t->stats.frames_out++;
  /* Written from the main loop, so send never re-enters the caller. */
  conn_update_watch (c);
  return TRUE;
}

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static char **
tls_peers (CairnTransport *base)
{
  Transport *t = (Transport *)base;
  GPtrArray *ids = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;

  g_hash_table_iter_init (&it, t->peers);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));
  g_ptr_array_sort (ids, compare_ids);
  g_ptr_array_add (ids, NULL);
  return (char **)g_ptr_array_free (ids, FALSE);
}

static void
tls_stats (CairnTransport *base, CairnTransportStats *out)
{
  *out = ((Transport *)base)->stats;
}

static void
tls_free (CairnTransport *base)
{
  Transport *t = (Transport *)base;

  if (t == NULL)
    return;
  tls_stop (base);
  for (guint i = 0; i < t->n_dials; i++)
    cairn_peer_addr_clear (&t->dials[i].addr);
  g_free (t->dials);
  g_hash_table_unref (t->allowed);
  g_hash_table_unref (t->peers);
  SSL_CTX_free (t->ctx);
  g_free (t->listen_host);
  g_free (t);
}

static const CairnTransportOps tls_ops = {
  .start = tls_start,
  .stop = tls_stop,
  .send = tls_send,
  .peers = tls_peers,
  .stats = tls_stats,
  .free = tls_free,
};

/* "host:port", "[v6]:port" or ":port". */
static gboolean
parse_listen (const char *listen, char **host, guint16 *port, GError **error)
{
  const char *colon;
  guint64 p;
  char *end;

  if (listen == NULL || (colon = strrchr (listen, ':')) == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "p2p listen address '%s': want host:port",
                 listen ? listen : "(null)");
    return FALSE;
  }
  if (listen[0] == '[') {
    if (colon == listen || colon[-1] != ']') {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "p2p listen address '%s': want [v6]:port", listen);
      return FALSE;
    }
    *host = g_strndup (listen + 1, (gsize)(colon - listen - 2));
  } else {
    *host = g_strndup (listen, (gsize)(colon - listen));
    if (strchr (*host, ':') != NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "p2p listen address '%s': write an IPv6 host in brackets",
                   listen);
      g_clear_pointer (host, g_free);
      return FALSE;
    }
  }
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (!g_ascii_isdigit (colon[1]) || *end != '\0' || p > 65535) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "p2p listen address '%s': port '%s' is not in 0..65535",
                 listen, colon + 1);
    g_clear_pointer (host, g_free);
    return FALSE;
  }
  *port = (guint16)p;
  return TRUE;
}

CairnTransport *
cairn_tls_transport_new (const CairnKey *node_key, const char *listen,
                         const CairnPeerAddr *dial, guint n_dial,
                         const char *const *allowed,
                         const CairnTransportEvents *events, void *user_data,
                         GError **error)
{
  static gsize ex_index_once = 0;
  Transport *t;
  SSL_CTX *ctx;
  char *host = NULL;
  guint16 port = 0;

  g_return_val_if_fail (node_key != NULL, NULL);
  if (!parse_listen (listen, &host, &port, error))
    return NULL;
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++) {
    if (!cairn_address_valid (allowed[i])) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "p2p allowed peer %u: '%s' is not a node id", i, allowed[i]);
      g_free (host);
      return NULL;
    }
  }
  for (guint i = 0; i < n_dial; i++) {
    if (!cairn_address_valid (dial[i].id) || dial[i].host == NULL
        || dial[i].port == 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                   "p2p dial peer %u: '%s@%s:%u' is not a valid peer address",
                   i, dial[i].id, dial[i].host ? dial[i].host : "(null)",
                   dial[i].port);
      g_free (host);
      return NULL;
    }
  }
  if (g_once_init_enter (&ex_index_once)) {
    conn_ex_index = SSL_get_ex_new_index (0, NULL, NULL, NULL, NULL);
    g_once_init_leave (&ex_index_once, 1);
  }
  /* The certificate is made here rather than at start so that the caller's
   * key need not outlive this call. */
  ctx = cairn_p2p_ssl_ctx_new (node_key, verify_peer, error);
  if (ctx == NULL) {
    g_free (host);
    return NULL;
  }
  /* No resumption: a ticket only serves as the server's acceptance. */
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_CLIENT
                                           | SSL_SESS_CACHE_NO_INTERNAL);
  SSL_CTX_sess_set_new_cb (ctx, new_session_cb);
  SSL_CTX_set_num_tickets (ctx, 1);

  t = g_new0 (Transport, 1);
  t->base.ops = &tls_ops;
  t->ctx = ctx;
  g_strlcpy (t->self_id, cairn_key_address (node_key), sizeof t->self_id);
  t->listen_host = host;
  t->listen_port = port;
  t->listen_fd = -1;
  t->allowed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->peers = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; allowed != NULL && allowed[i] != NULL; i++)
    g_hash_table_add (t->allowed, g_strdup (allowed[i]));
  t->dials = g_new0 (Dial, n_dial);
  t->n_dials = n_dial;
  for (guint i = 0; i < n_dial; i++) {
    Dial *d = &t->dials[i];
    d->t = t;
    g_strlcpy (d->addr.id, dial[i].id, sizeof d->addr.id);
    d->addr.host = g_strdup (dial[i].host);
    d->addr.port = dial[i].port;
    d->backoff_ms = BACKOFF_MIN_MS;
    g_hash_table_add (t->allowed, g_strdup (dial[i].id));
  }
  if (events != NULL)
    t->events = *events;
  t->user_data = user_data;
  cairn_p2p_limits_default (&t->lim);
  return &t->base;
}

void
cairn_tls_transport_set_limits (CairnTransport *base,
                                const CairnP2pLimits *limits)
{
  Transport *t = (Transport *)base;

  t->lim = *limits;
  t->lim.max_frame_bytes
      = CLAMP (t->lim.max_frame_bytes, 2u, CAIRN_P2P_MAX_FRAME);
  if (t->lim.rate_burst_bytes < t->lim.max_frame_bytes + FRAME_HEADER)
    t->lim.rate_burst_bytes = t->lim.max_frame_bytes + FRAME_HEADER;
  if (t->lim.rate_burst_frames < 1)
    t->lim.rate_burst_frames = 1;
  t->lim.handshake_timeout_ms = MAX (t->lim.handshake_timeout_ms, 1u);
  t->lim.frame_timeout_ms = MAX (t->lim.frame_timeout_ms, 1u);
}

guint16
cairn_tls_transport_port (CairnTransport *base)
{
  return ((Transport *)base)->bound_port;
}

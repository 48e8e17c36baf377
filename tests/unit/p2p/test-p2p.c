/* The TLS transport on 127.0.0.1: connect, frames, refusals, reconnect and
 * back-pressure. Every wait drives the default main context with a
 * deadline; a missed deadline fails the test. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <glib/gstdio.h>

#include <cairn/error.h>

#include "p2p.h"
#include "p2p_cert.h"

#define WAIT_MS 10000

/* Drives the main loop until expr holds; fails the test after ms. */
#define WAIT_FOR(expr, ms)                                                     \
  do {                                                                         \
    gint64 deadline_ = g_get_monotonic_time () + (gint64)(ms)*1000;            \
    while (!(expr)) {                                                          \
      if (g_get_monotonic_time () > deadline_)                                 \
        g_error ("%s:%d: timed out waiting for %s", __FILE__, __LINE__,        \
                 #expr);                                                       \
      g_main_context_iteration (NULL, TRUE);                                   \
    }                                                                          \
  } while (0)

typedef struct {
  char peer[41];
  guint8 channel;
  GBytes *payload;
} Msg;

typedef struct {
  CairnKey *key;
  char id[41];
  CairnTransport *t;
  GHashTable *up; /* peer id set */
  guint ups, downs;
  GPtrArray *msgs; /* Msg */
  gboolean stop_on_message;
} Node;

static void
msg_free (gpointer p)
{
  Msg *m = p;
  g_bytes_unref (m->payload);
  g_free (m);
}

static void
on_up (void *data, const char *peer)
{
  Node *n = data;
  g_assert_false (g_hash_table_contains (n->up, peer));
  g_hash_table_add (n->up, g_strdup (peer));
  n->ups++;
}

static void
on_down (void *data, const char *peer)
{
  Node *n = data;
  g_assert_true (g_hash_table_remove (n->up, peer));
  n->downs++;
}

static void
on_message (void *data, const char *peer, uint8_t channel, GBytes *payload)
{
  Node *n = data;
  Msg *m = g_new0 (Msg, 1);
  g_strlcpy (m->peer, peer, sizeof m->peer);
  m->channel = channel;
  m->payload = g_bytes_ref (payload);
  g_ptr_array_add (n->msgs, m);
  if (n->stop_on_message)
    n->t->ops->stop (n->t);
}

static const CairnTransportEvents node_events = {
  .peer_up = on_up,
  .peer_down = on_down,
  .message = on_message,
};

static CairnKey *
new_key (void)
{
  g_autoptr (GError) error = NULL;
  CairnKey *k = cairn_key_generate (&error);
  g_assert_no_error (error);
  return k;
}

/* A started node listening on 127.0.0.1:port (0 = any) that owns key. */
static Node *
node_new (CairnKey *key, guint16 port, const CairnPeerAddr *dial, guint n_dial,
          const char *const *allowed)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);
  Node *n = g_new0 (Node, 1);

  n->key = key;
  g_strlcpy (n->id, cairn_key_address (key), sizeof n->id);
  n->up = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  n->msgs = g_ptr_array_new_with_free_func (msg_free);
  n->t = cairn_tls_transport_new (key, listen, dial, n_dial, allowed,
                                  &node_events, n, &error);
  g_assert_no_error (error);
  g_assert_true (n->t->ops->start (n->t, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (cairn_tls_transport_port (n->t), >, 0);
  return n;
}

static void
node_free (Node *n)
{
  n->t->ops->stop (n->t);
  n->t->ops->free (n->t);
  cairn_key_free (n->key);
  g_hash_table_unref (n->up);
  g_ptr_array_unref (n->msgs);
  g_free (n);
}

static CairnPeerAddr
addr_of (Node *n)
{
  CairnPeerAddr a = { .host = (char *)"127.0.0.1" };
  g_strlcpy (a.id, n->id, sizeof a.id);
  a.port = cairn_tls_transport_port (n->t);
  return a;
}

static CairnTransportStats
stats_of (Node *n)
{
  CairnTransportStats s;
  n->t->ops->stats (n->t, &s);
  return s;
}

static gboolean
is_up (Node *n, Node *peer)
{
  return g_hash_table_contains (n->up, peer->id);
}

/* Payload i of a stream: "<i>:" then a deterministic filler. */
static GBytes *
payload_new (guint i, gsize size)
{
  guint8 *p = g_malloc (size ? size : 1);
  for (gsize k = 0; k < size; k++)
    p[k] = (guint8)(i * 31 + k * 7);
  if (size >= 4)
    memcpy (p, &i, 4);
  return g_bytes_new_take (p, size);
}

static void
send_ok (Node *from, Node *to, guint8 channel, GBytes *payload)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (
      from->t->ops->send (from->t, to->id, channel, payload, &error));
  g_assert_no_error (error);
}

static guint
count_from (Node *n, Node *peer)
{
  guint c = 0;
  for (guint i = 0; i < n->msgs->len; i++)
    if (strcmp (((Msg *)n->msgs->pdata[i])->peer, peer->id) == 0)
      c++;
  return c;
}

/* Sends `count` frames each way over all channels; checks order and bytes. */
static void
exchange (Node *a, Node *b, guint count)
{
  guint a_base = count_from (b, a), b_base = count_from (a, b);
  Node *pair[2][2] = { { a, b }, { b, a } };

  for (guint i = 0; i < count; i++) {
    g_autoptr (GBytes) p = payload_new (i, 16 + i % 300);
    send_ok (a, b, (guint8)(1 + i % 5), p);
    send_ok (b, a, (guint8)(1 + i % 5), p);
  }
  WAIT_FOR (count_from (b, a) == a_base + count
                && count_from (a, b) == b_base + count,
            WAIT_MS);
  for (guint d = 0; d < 2; d++) {
    Node *from = pair[d][0], *to = pair[d][1];
    guint seen = 0, skip = (d == 0 ? a_base : b_base);
    for (guint k = 0; k < to->msgs->len; k++) {
      Msg *m = to->msgs->pdata[k];
      g_autoptr (GBytes) want = NULL;
      if (strcmp (m->peer, from->id) != 0)
        continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      want = payload_new (seen, 16 + seen % 300);
      g_assert_cmpuint (m->channel, ==, 1 + seen % 5);
      g_assert_true (g_bytes_equal (m->payload, want));
      seen++;
    }
    g_assert_cmpuint (seen, ==, count);
  }
}

/* ---- raw clients -------------------------------------------------------- */

static int
tcp_connect (guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
  return fd;
}

static int
accept_any (int ok, X509_STORE_CTX *ctx)
{
  return 1;
}

/* A TLS client made with OpenSSL directly, to write raw frames. */
typedef struct {
  CairnKey *key;
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  gint done; /* handshake over (ok or not) */
  gboolean ok;
} RawClient;

static gpointer
raw_handshake_thread (gpointer data)
{
  RawClient *r = data;
  r->ok = SSL_connect (r->ssl) == 1;
  ERR_clear_error ();
  g_atomic_int_set (&r->done, 1);
  return NULL;
}

/* Connects to `server` (which must allow the client's key) and waits until
 * the server reports it up. */
static RawClient *
raw_client_new (CairnKey *key, Node *server)
{
  g_autoptr (GError) error = NULL;
  RawClient *r = g_new0 (RawClient, 1);
  GThread *th;

  r->key = key;
  r->ctx = cairn_p2p_ssl_ctx_new (key, accept_any, &error);
  g_assert_no_error (error);
  r->fd = tcp_connect (cairn_tls_transport_port (server->t));
  r->ssl = SSL_new (r->ctx);
  SSL_set_fd (r->ssl, r->fd);
  /* The server needs the main loop while the client handshakes. */
  th = g_thread_new ("raw-tls", raw_handshake_thread, r);
  WAIT_FOR (g_atomic_int_get (&r->done), WAIT_MS);
  g_thread_join (th);
  g_assert_true (r->ok);
  WAIT_FOR (g_hash_table_contains (server->up, cairn_key_address (key)),
            WAIT_MS);
  return r;
}

/* Everything a client writes on its socket, for the replay test. */
static long
record_writes (BIO *bio, int oper, const char *argp, size_t len, int argi,
               long argl, int ret, size_t *processed)
{
  if (oper == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && processed)
    g_byte_array_append ((GByteArray *)(void *)BIO_get_callback_arg (bio),
                         (const guint8 *)argp, *processed);
  return ret;
}

static void
raw_write (RawClient *r, const void *data, gsize len)
{
  size_t written = 0;
  g_assert_cmpint (SSL_write_ex (r->ssl, data, len, &written), ==, 1);
  g_assert_cmpuint (written, ==, len);
}

static void
raw_client_free (RawClient *r)
{
  SSL_free (r->ssl);
  SSL_CTX_free (r->ctx);
  close (r->fd);
  cairn_key_free (r->key);
  g_free (r);
}

/* A TLS server made with OpenSSL directly: listens now, accepts one
 * connection in a thread (so the node can dial it from the main loop). */
typedef struct {
  RawClient conn; /* the accepted side; key owned */
  int listen_fd;
  guint16 port;
  GThread *thread;
} RawServer;

static gpointer
raw_accept_thread (gpointer data)
{
  RawServer *s = data;
  s->conn.fd = accept (s->listen_fd, NULL, NULL);
  g_assert_cmpint (s->conn.fd, >=, 0);
  s->conn.ssl = SSL_new (s->conn.ctx);
  SSL_set_fd (s->conn.ssl, s->conn.fd);
  /* The handshake includes the session ticket the node waits for. */
  s->conn.ok = SSL_accept (s->conn.ssl) == 1;
  ERR_clear_error ();
  g_atomic_int_set (&s->conn.done, 1);
  return NULL;
}

static RawServer *
raw_server_new (CairnKey *key)
{
  g_autoptr (GError) error = NULL;
  RawServer *s = g_new0 (RawServer, 1);
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t len = sizeof sa;

  s->conn.key = key;
  s->conn.ctx = cairn_p2p_ssl_ctx_new (key, accept_any, &error);
  g_assert_no_error (error);
  s->listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (s->listen_fd, (struct sockaddr *)&sa, sizeof sa), ==,
                   0);
  g_assert_cmpint (listen (s->listen_fd, 4), ==, 0);
  g_assert_cmpint (getsockname (s->listen_fd, (struct sockaddr *)&sa, &len), ==,
                   0);
  s->port = ntohs (sa.sin_port);
  s->thread = g_thread_new ("raw-tls-server", raw_accept_thread, s);
  return s;
}

static void
raw_server_free (RawServer *s)
{
  g_thread_join (s->thread);
  close (s->listen_fd);
  SSL_free (s->conn.ssl);
  SSL_CTX_free (s->conn.ctx);
  close (s->conn.fd);
  cairn_key_free (s->conn.key);
  g_free (s);
}

/* Reads from a raw TLS connection while the main loop runs: 1 when bytes
 * arrived, 0 when the node closed it, -1 after ms without either. */
static int
raw_poll (RawClient *r, guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)ms * 1000;
  struct timeval tv = { .tv_sec = 0, .tv_usec = 2000 };

  setsockopt (r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (g_get_monotonic_time () < deadline) {
    char buf[256];
    size_t got = 0;
    int rc;
    g_main_context_iteration (NULL, FALSE);
    rc = SSL_read_ex (r->ssl, buf, sizeof buf, &got);
    if (rc == 1)
      return 1;
    rc = SSL_get_error (r->ssl, rc);
    ERR_clear_error ();
    if (rc != SSL_ERROR_WANT_READ
        && !(rc == SSL_ERROR_SYSCALL
             && (errno == EAGAIN || errno == EWOULDBLOCK)))
      return 0;
  }
  return -1;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_two_nodes (void)
{
  CairnKey *kb = new_key ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow_b);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, NULL);
  g_autoptr (GError) error = NULL;
  CairnTransportStats sa;
  char **peers;

  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  peers = a->t->ops->peers (a->t);
  g_assert_cmpuint (g_strv_length (peers), ==, 1);
  g_assert_cmpstr (peers[0], ==, b->id);
  g_strfreev (peers);

  exchange (a, b, 200);

  /* The largest payload, and an empty one, both ways. */
  {
    g_autoptr (GBytes) big = payload_new (9, CAIRN_P2P_MAX_FRAME - 1);
    guint before = a->msgs->len;
    send_ok (b, a, CAIRN_P2P_CH_BLOCKS, big);
    WAIT_FOR (a->msgs->len == before + 1, WAIT_MS);
    g_assert_true (
        g_bytes_equal (((Msg *)a->msgs->pdata[before])->payload, big));
  }
  {
    g_autoptr (GBytes) big = payload_new (7, CAIRN_P2P_MAX_FRAME - 1);
    g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
    guint before = b->msgs->len;
    send_ok (a, b, CAIRN_P2P_CH_SYNC, big);
    send_ok (a, b, CAIRN_P2P_CH_TXS, empty);
    WAIT_FOR (b->msgs->len == before + 2, WAIT_MS);
    g_assert_true (
        g_bytes_equal (((Msg *)b->msgs->pdata[before])->payload, big));
    g_assert_cmpuint (((Msg *)b->msgs->pdata[before])->channel, ==,
                      CAIRN_P2P_CH_SYNC);
    g_assert_cmpuint (
        g_bytes_get_size (((Msg *)b->msgs->pdata[before + 1])->payload), ==, 0);
  }

  /* Bad sends. */
  {
    g_autoptr (GBytes) p = payload_new (1, 8);
    g_autoptr (GBytes) huge = payload_new (1, CAIRN_P2P_MAX_FRAME);
    g_assert_false (a->t->ops->send (a->t, a->id, 1, p, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_false (a->t->ops->send (a->t, b->id, 0, p, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (a->t->ops->send (a->t, b->id, 6, p, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (a->t->ops->send (a->t, b->id, 1, huge, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
    g_clear_error (&error);
  }

  sa = stats_of (a);
  g_assert_cmpuint (sa.frames_out, ==, 202);
  g_assert_cmpuint (sa.frames_in, ==, 201);
  g_assert_cmpuint (sa.handshakes_refused, ==, 0);
  g_assert_cmpuint (sa.frames_refused, ==, 0);
  g_assert_cmpuint (sa.sends_refused, ==, 0);
  g_assert_cmpuint (stats_of (b).frames_in, ==, 202);
  WAIT_FOR (stats_of (b).bytes_in == sa.bytes_out, WAIT_MS);
  g_assert_cmpuint (a->ups, ==, 1);
  g_assert_cmpuint (b->ups, ==, 1);

  /* B leaving is seen by A. */
  node_free (b);
  WAIT_FOR (a->downs == 1, WAIT_MS);
  g_assert_cmpuint (g_hash_table_size (a->up), ==, 0);
  peers = a->t->ops->peers (a->t);
  g_assert_cmpuint (g_strv_length (peers), ==, 0);
  g_strfreev (peers);
  node_free (a);
}

static void
test_three_nodes (void)
{
  CairnKey *kb = new_key (), *kc = new_key ();
  const char *allow[]
      = { cairn_key_address (kb), cairn_key_address (kc), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, allow);
  CairnPeerAddr to_ab[2] = { addr_of (a), addr_of (b) };
  Node *c = node_new (kc, 0, to_ab, 2, NULL);

  WAIT_FOR (is_up (a, b) && is_up (a, c) && is_up (b, c) && is_up (c, a)
                && is_up (c, b) && is_up (b, a),
            WAIT_MS);
  exchange (a, b, 50);
  exchange (b, c, 50);
  exchange (c, a, 50);
  g_assert_cmpuint (a->ups + b->ups + c->ups, ==, 6);
  node_free (c);
  node_free (b);
  node_free (a);
}

static guint16
free_port (void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *)&sa, &len), ==, 0);
  close (fd);
  return ntohs (sa.sin_port);
}

/* Both are configured to dial each other: they end with one connection
 * each way and no flapping (the first dial fails as the other is not
 * listening yet; the cross case itself is test_duplicate_cross). */
static void
test_mutual_dial (void)
{
  CairnKey *ka = new_key (), *kb = new_key ();
  guint16 pa = free_port (), pb = free_port ();
  CairnPeerAddr to_a = { .host = (char *)"127.0.0.1", .port = pa };
  CairnPeerAddr to_b = { .host = (char *)"127.0.0.1", .port = pb };
  Node *a, *b;

  g_strlcpy (to_a.id, cairn_key_address (ka), sizeof to_a.id);
  g_strlcpy (to_b.id, cairn_key_address (kb), sizeof to_b.id);
  a = node_new (ka, pa, &to_b, 1, NULL);
  b = node_new (kb, pb, &to_a, 1, NULL);
  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  /* Let any duplicate settle, then check nothing flapped for good. */
  {
    gint64 until = g_get_monotonic_time () + 1000 * 1000;
    while (g_get_monotonic_time () < until)
      g_main_context_iteration (NULL, TRUE);
  }
  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  g_assert_cmpuint (a->ups + b->ups, ==, 2);
  g_assert_cmpuint (a->downs + b->downs, ==, 0);
  exchange (a, b, 100);
  node_free (b);
  node_free (a);
}

/* An unknown key is refused by a listener; a dialed peer with the wrong key
 * is refused by the dialer; the good pair keeps working. */
static void
test_unknown_refused (void)
{
  CairnKey *kb = new_key ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow_b);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, NULL);
  Node *x, *g;

  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  /* X is not in A's allow list but dials it (X allows A: it dialed it). */
  x = node_new (new_key (), 0, &to_a, 1, NULL);
  WAIT_FOR (stats_of (a).handshakes_refused >= 2
                && stats_of (x).handshakes_refused >= 2,
            WAIT_MS);
  g_assert_cmpuint (g_hash_table_size (x->up), ==, 0);
  g_assert_cmpuint (x->ups, ==, 0);
  g_assert_false (g_hash_table_contains (a->up, x->id));

  /* G dials X's port believing it is B: the id does not match. */
  {
    CairnPeerAddr wrong = addr_of (x);
    g_strlcpy (wrong.id, b->id, sizeof wrong.id);
    g = node_new (new_key (), 0, &wrong, 1, NULL);
  }
  WAIT_FOR (stats_of (g).handshakes_refused >= 1, WAIT_MS);
  g_assert_cmpuint (g->ups, ==, 0);
  g_assert_cmpuint (x->ups, ==, 0);

  exchange (a, b, 20);
  g_assert_cmpuint (a->ups, ==, 1);
  g_assert_cmpuint (a->downs, ==, 0);
  node_free (g);
  node_free (x);
  node_free (b);
  node_free (a);
}

/* FALSE when the server closed the socket (EOF or reset) within ms. */
static gboolean
closed_by_peer (int fd)
{
  char buf[256];
  ssize_t n;
  /* The fd is blocking: poll from the main loop side with a timeout. */
  struct timeval tv = { .tv_sec = 0, .tv_usec = 1000 };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  n = recv (fd, buf, sizeof buf, 0);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void
test_plaintext_refused (void)
{
  CairnKey *kb = new_key ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow_b);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, NULL);
  const char garbage[] = "\x00\x00\x00\x05\x01hello, this is not TLS at all";
  const char http[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int fd1, fd2;

  WAIT_FOR (is_up (a, b), WAIT_MS);
  fd1 = tcp_connect (cairn_tls_transport_port (a->t));
  fd2 = tcp_connect (cairn_tls_transport_port (a->t));
  g_assert_cmpint (write (fd1, garbage, sizeof garbage - 1), ==,
                   (ssize_t)sizeof garbage - 1);
  g_assert_cmpint (write (fd2, http, sizeof http - 1), ==,
                   (ssize_t)sizeof http - 1);
  WAIT_FOR (stats_of (a).handshakes_refused == 2, WAIT_MS);
  WAIT_FOR (closed_by_peer (fd1), WAIT_MS);
  WAIT_FOR (closed_by_peer (fd2), WAIT_MS);
  close (fd1);
  close (fd2);
  g_assert_cmpuint (g_hash_table_size (a->up), ==, 1);
  exchange (a, b, 20);
  node_free (b);
  node_free (a);
}

/* A client that connects and says nothing loses its slot after the
 * handshake timeout (10 s). */
static void
test_silent_client (void)
{
  CairnKey *kb = new_key ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow_b);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, NULL);
  int fd = tcp_connect (cairn_tls_transport_port (a->t));
  gint64 t0 = g_get_monotonic_time ();

  WAIT_FOR (is_up (a, b), WAIT_MS);
  WAIT_FOR (stats_of (a).handshakes_refused == 1, 15000);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 9 * G_USEC_PER_SEC);
  WAIT_FOR (closed_by_peer (fd), WAIT_MS);
  close (fd);
  exchange (a, b, 5);
  node_free (b);
  node_free (a);
}

/* The bytes of a real, successful client handshake, replayed on a new
 * connection, are refused: the server's fresh random and key share make
 * the recorded Finished (and certificate proof) worthless. */
static void
test_replayed_handshake (void)
{
  g_autoptr (GError) error = NULL;
  CairnKey *kr = new_key ();
  const char *allow[] = { cairn_key_address (kr), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow);
  g_autoptr (GByteArray) sent = g_byte_array_new ();
  RawClient *r = g_new0 (RawClient, 1);

  r->key = kr;
  r->ctx = cairn_p2p_ssl_ctx_new (kr, accept_any, &error);
  g_assert_no_error (error);
  r->fd = tcp_connect (cairn_tls_transport_port (a->t));
  r->ssl = SSL_new (r->ctx);
  BIO *bio = BIO_new_socket (r->fd, BIO_NOCLOSE);
  BIO_set_callback_ex (bio, record_writes);
  BIO_set_callback_arg (bio, (char *)sent);
  SSL_set_bio (r->ssl, bio, bio);
  GThread *th = g_thread_new ("raw-tls", raw_handshake_thread, r);
  WAIT_FOR (g_atomic_int_get (&r->done), WAIT_MS);
  g_thread_join (th);
  g_assert_true (r->ok);
  WAIT_FOR (g_hash_table_contains (a->up, cairn_key_address (kr)), WAIT_MS);
  g_assert_cmpuint (sent->len, >, 200);
  guint ups = a->ups;
  guint64 refused = stats_of (a).handshakes_refused;

  for (int i = 0; i < 3; i++) {
    int fd = tcp_connect (cairn_tls_transport_port (a->t));
    g_assert_cmpint (write (fd, sent->data, sent->len), ==, (ssize_t)sent->len);
    WAIT_FOR (stats_of (a).handshakes_refused == refused + i + 1, WAIT_MS);
    WAIT_FOR (closed_by_peer (fd), WAIT_MS);
    close (fd);
  }
  g_assert_cmpuint (a->ups, ==, ups);
  /* The genuine connection is untouched. */
  static const guint8 good[] = { 0, 0, 0, 4, CAIRN_P2P_CH_TXS, 'a', 'b', 'c' };
  raw_write (r, good, sizeof good);
  WAIT_FOR (a->msgs->len == 1, WAIT_MS);
  raw_client_free (r);
  node_free (a);
}

static void
bad_frame_case (const guint8 *bytes, gsize len)
{
  CairnKey *kr = new_key ();
  const char *allow[] = { cairn_key_address (kr), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow);
  RawClient *r = raw_client_new (kr, a);
  static const guint8 good[] = { 0, 0, 0, 4, CAIRN_P2P_CH_TXS, 'a', 'b', 'c' };

  /* A well-formed frame first, then the bad one. */
  raw_write (r, good, sizeof good);
  WAIT_FOR (a->msgs->len == 1, WAIT_MS);
  g_assert_cmpuint (((Msg *)a->msgs->pdata[0])->channel, ==, CAIRN_P2P_CH_TXS);
  g_assert_cmpuint (g_bytes_get_size (((Msg *)a->msgs->pdata[0])->payload), ==,
                    3);
  raw_write (r, bytes, len);
  WAIT_FOR (a->downs == 1, WAIT_MS);
  g_assert_cmpuint (stats_of (a).frames_refused, ==, 1);
  g_assert_cmpuint (stats_of (a).frames_in, ==, 1);
  g_assert_cmpuint (a->msgs->len, ==, 1);
  g_assert_cmpuint (g_hash_table_size (a->up), ==, 0);
  raw_client_free (r);
  node_free (a);
}

static void
test_bad_frames (void)
{
  /* Over the cap, by one: refused from the header, before any payload. */
  guint32 over = CAIRN_P2P_MAX_FRAME + 1;
  guint8 oversized[4] = { over >> 24, over >> 16, over >> 8, over };
  guint8 huge[4] = { 0xff, 0xff, 0xff, 0xff };
  guint8 empty[4] = { 0, 0, 0, 0 };
  guint8 channel0[6] = { 0, 0, 0, 2, 0, 'x' };
  guint8 channel9[6] = { 0, 0, 0, 2, 9, 'x' };

  bad_frame_case (oversized, sizeof oversized);
  bad_frame_case (huge, sizeof huge);
  bad_frame_case (empty, sizeof empty);
  bad_frame_case (channel0, sizeof channel0);
  bad_frame_case (channel9, sizeof channel9);
}

/* [p2p] limits: a node with the defaults but for `set`. */
static Node *
limited_node (const char *const *allow, void (*set) (CairnP2pLimits *))
{
  Node *a = node_new (new_key (), 0, NULL, 0, allow);
  CairnP2pLimits lim;
  cairn_p2p_limits_default (&lim);
  set (&lim);
  cairn_tls_transport_set_limits (a->t, &lim);
  return a;
}

static void
set_frame_limits (CairnP2pLimits *l)
{
  l->frame_timeout_ms = 300;
  l->max_frame_bytes = 64u << 10;
}

/* A frame header promising more than comes (a stall) costs the peer its
 * connection after frame_timeout_ms; a frame over max_frame_bytes (below
 * the compiled cap) is refused from its header. */
static void
test_limit_frames (void)
{
  CairnKey *kr = new_key (), *kr2 = new_key ();
  const char *allow[]
      = { cairn_key_address (kr), cairn_key_address (kr2), NULL };
  Node *a = limited_node (allow, set_frame_limits);
  RawClient *r = raw_client_new (kr, a);
  guint8 stall[5 + 100] = { 0, 1, 0, 0, CAIRN_P2P_CH_TXS }; /* 64 KiB */
  gint64 t0;

  WAIT_FOR (a->ups == 1, WAIT_MS);
  t0 = g_get_monotonic_time ();
  raw_write (r, stall, sizeof stall);
  WAIT_FOR (a->downs == 1, WAIT_MS);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 250 * 1000);
  g_assert_cmpuint (stats_of (a).frame_timeouts, ==, 1);
  g_assert_cmpuint (stats_of (a).frames_refused, ==, 1);
  raw_client_free (r);

  r = raw_client_new (kr2, a); /* the last one freed its key */
  guint32 over = (64u << 10) + 1;
  guint8 big[4] = { over >> 24, over >> 16, over >> 8, over };
  WAIT_FOR (a->ups == 2, WAIT_MS);
  raw_write (r, big, sizeof big);
  WAIT_FOR (a->downs == 2, WAIT_MS);
  g_assert_cmpuint (stats_of (a).frames_oversized, ==, 1);
  g_assert_cmpuint (a->msgs->len, ==, 0);
  raw_client_free (r);
  node_free (a);
}

static void
set_per_ip (CairnP2pLimits *l)
{
  l->max_inbound_per_ip = 2;
}

/* Connections from one IP over max_inbound_per_ip are closed at accept. */
static void
test_limit_per_ip (void)
{
  const char *allow[] = { NULL };
  Node *a = limited_node (allow, set_per_ip);
  int fd[4];

  for (int i = 0; i < 4; i++)
    fd[i] = tcp_connect (cairn_tls_transport_port (a->t));
  WAIT_FOR (stats_of (a).refused_per_ip == 2, WAIT_MS);
  WAIT_FOR (closed_by_peer (fd[2]) && closed_by_peer (fd[3]), WAIT_MS);
  for (int i = 0; i < 4; i++)
    close (fd[i]);
  node_free (a);
}

static void
set_max_inbound (CairnP2pLimits *l)
{
  l->max_inbound = 3;
}

/* More inbound connections than max_inbound (any IP) are closed at
 * accept; once some go, new ones are taken again. */
static void
test_limit_max_inbound (void)
{
  const char *allow[] = { NULL };
  Node *a = limited_node (allow, set_max_inbound);
  int fd[5];

  for (int i = 0; i < 5; i++)
    fd[i] = tcp_connect (cairn_tls_transport_port (a->t));
  WAIT_FOR (stats_of (a).refused_max_inbound == 2, WAIT_MS);
  WAIT_FOR (closed_by_peer (fd[3]) && closed_by_peer (fd[4]), WAIT_MS);
  g_assert_cmpuint (stats_of (a).refused_per_ip, ==, 0);
  close (fd[0]);
  close (fd[3]);
  close (fd[4]);
  /* fd[0]'s slot frees when the transport sees it closed. */
  WAIT_FOR (stats_of (a).handshakes_refused >= 1, WAIT_MS);
  fd[0] = tcp_connect (cairn_tls_transport_port (a->t));
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_usleep (100 * 1000);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (stats_of (a).refused_max_inbound, ==, 2);
  for (int i = 0; i < 3; i++)
    close (fd[i]);
  node_free (a);
}

static void
set_rate (CairnP2pLimits *l)
{
  l->rate_frames_per_s = 100;
  l->rate_burst_frames = 10;
}

/* A peer over its frame rate is paused, not dropped: every frame arrives,
 * at about the rate. */
static void
test_limit_rate (void)
{
  CairnKey *kr = new_key ();
  const char *allow[] = { cairn_key_address (kr), NULL };
  Node *a = limited_node (allow, set_rate);
  RawClient *r = raw_client_new (kr, a);
  g_autoptr (GByteArray) b = g_byte_array_new ();
  static const guint8 one[] = { 0, 0, 0, 2, CAIRN_P2P_CH_TXS, 'x' };
  gint64 t0;

  WAIT_FOR (a->ups == 1, WAIT_MS);
  for (int i = 0; i < 110; i++)
    g_byte_array_append (b, one, sizeof one);
  t0 = g_get_monotonic_time ();
  raw_write (r, b->data, b->len);
  WAIT_FOR (a->msgs->len == 110, WAIT_MS);
  /* 10 at once, then 100 at 100/s: about a second. */
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 700 * 1000);
  g_assert_cmpuint (stats_of (a).rate_limited, >, 0);
  g_assert_cmpuint (a->downs, ==, 0);
  raw_client_free (r);
  node_free (a);
}

static void
set_byte_rate (CairnP2pLimits *l)
{
  l->max_frame_bytes = 64u << 10;
  l->rate_bytes_per_s = 256u << 10;
  l->rate_burst_bytes = 0; /* raised to one largest frame */
}

typedef struct {
  RawClient *r;
  GByteArray *b;
} Writer;

/* Writes in TLS-record sized pieces from a thread: the node pauses reading
 * us, so a write can block until it goes on. */
static gpointer
writer_thread (gpointer data)
{
  Writer *w = data;
  for (guint off = 0; off < w->b->len; off += 16384)
    raw_write (w->r, w->b->data + off, MIN (16384u, w->b->len - off));
  return NULL;
}

/* The byte bucket: 1 MiB in 16 KiB frames at 256 KiB/s after a 64 KiB
 * burst takes about 3.7 s, and all of it arrives. */
static void
test_limit_byte_rate (void)
{
  CairnKey *kr = new_key ();
  const char *allow[] = { cairn_key_address (kr), NULL };
  Node *a = limited_node (allow, set_byte_rate);
  RawClient *r = raw_client_new (kr, a);
  g_autoptr (GByteArray) b = g_byte_array_new ();
  guint8 hdr[5] = { 0, 0, 0x40, 0x01, CAIRN_P2P_CH_TXS }; /* 16 KiB + 1 */
  gint64 t0;

  WAIT_FOR (a->ups == 1, WAIT_MS);
  for (int i = 0; i < 64; i++) {
    guint at = b->len + sizeof hdr;
    g_byte_array_append (b, hdr, sizeof hdr);
    /* Payload bytes set: valgrind flags uninitialised bytes sent. */
    g_byte_array_set_size (b, at + (16u << 10));
    memset (b->data + at, i, 16u << 10);
  }
  t0 = g_get_monotonic_time ();
  Writer w = { r, b };
  GThread *th = g_thread_new ("writer", writer_thread, &w);
  WAIT_FOR (a->msgs->len == 64, 15000);
  g_thread_join (th);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 3 * G_USEC_PER_SEC);
  g_assert_cmpuint (stats_of (a).rate_limited, >, 0);
  g_assert_cmpuint (a->downs, ==, 0);
  raw_client_free (r);
  node_free (a);
}

static void
test_reconnect (void)
{
  CairnKey *ka = new_key ();
  const char *allow_a[] = { cairn_key_address (ka), NULL };
  CairnKey *kb = new_key ();
  Node *b = node_new (kb, 0, NULL, 0, allow_a);
  CairnPeerAddr to_b = addr_of (b);
  guint16 port_b = to_b.port;
  Node *a = node_new (ka, 0, &to_b, 1, NULL);
  g_autofree char *dir = g_dir_make_tmp ("cairn-p2p-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "b.pem", NULL);
  g_autoptr (GError) error = NULL;

  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  exchange (a, b, 10);
  g_assert_cmpuint (stats_of (a).reconnects, ==, 0);

  /* Same key for the new B. */
  g_assert_true (cairn_key_save (kb, path, &error));
  g_assert_no_error (error);
  node_free (b);
  WAIT_FOR (a->downs == 1, WAIT_MS);
  /* Let A fail a redial or two against the closed port. */
  {
    gint64 until = g_get_monotonic_time () + 600 * 1000;
    while (g_get_monotonic_time () < until)
      g_main_context_iteration (NULL, TRUE);
  }
  g_assert_cmpuint (g_hash_table_size (a->up), ==, 0);
  kb = cairn_key_load (path, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_rmdir (dir);
  b = node_new (kb, port_b, NULL, 0, allow_a);
  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  g_assert_cmpuint (stats_of (a).reconnects, ==, 1);
  g_assert_cmpuint (a->ups, ==, 2);
  exchange (a, b, 10);
  node_free (a);
  node_free (b);
}

static void
test_backpressure (void)
{
  CairnKey *kr = new_key ();
  const char *allow[] = { cairn_key_address (kr), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow);
  RawClient *r = raw_client_new (kr, a);
  g_autoptr (GBytes) mib = payload_new (3, 1 << 20);
  const char *rid = cairn_key_address (kr);
  g_autoptr (GError) error = NULL;
  guint sent = 0;

  /* The raw client never reads: the kernel buffers fill, then the queue. */
  while (a->t->ops->send (a->t, rid, CAIRN_P2P_CH_BLOCKS, mib, &error)) {
    sent++;
    g_assert_cmpuint (sent, <, 200);
    for (int i = 0; i < 4; i++)
      g_main_context_iteration (NULL, FALSE);
  }
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
  g_assert_cmpuint (sent, >=, CAIRN_P2P_MAX_QUEUE / (1 << 20) - 1);
  g_assert_cmpuint (stats_of (a).sends_refused, ==, 1);
  /* Small frames still fail while the queue is full. */
  g_clear_error (&error);
  {
    g_autoptr (GBytes) small = payload_new (1, (1 << 20) + 64);
    g_assert_false (
        a->t->ops->send (a->t, rid, CAIRN_P2P_CH_TXS, small, &error));
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT);
  }
  g_assert_cmpuint (stats_of (a).sends_refused, ==, 2);
  raw_client_free (r);
  WAIT_FOR (a->downs == 1, WAIT_MS);
  node_free (a);
}

/* The node dials R while R also connects to the node: the node keeps the
 * connection dialed by the lower id and closes the other without events. */
static void
duplicate_cross_case (gboolean want_keep_inbound)
{
  CairnKey *ka = new_key (), *kr = new_key ();
  RawServer *srv;
  CairnPeerAddr to_r = { .host = (char *)"127.0.0.1" };
  Node *a;
  RawClient *in;
  g_autoptr (GBytes) p = payload_new (1, 32);
  gboolean keep_inbound;
  int kept, dropped;

  /* Pick R's key so the rule goes the way this case tests. */
  while ((strcmp (cairn_key_address (kr), cairn_key_address (ka)) < 0)
         != want_keep_inbound) {
    cairn_key_free (kr);
    kr = new_key ();
  }
  srv = raw_server_new (kr);
  to_r.port = srv->port;
  g_strlcpy (to_r.id, cairn_key_address (kr), sizeof to_r.id);
  a = node_new (ka, 0, &to_r, 1, NULL);
  WAIT_FOR (g_atomic_int_get (&srv->conn.done), WAIT_MS);
  g_assert_true (srv->conn.ok);
  WAIT_FOR (g_hash_table_contains (a->up, to_r.id), WAIT_MS);

  /* The same id now connects inbound (a second handle on the same key). */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp ("cairn-p2p-XXXXXX", NULL);
    g_autofree char *path = g_build_filename (dir, "r.pem", NULL);
    CairnKey *kr2;
    GThread *th;
    g_assert_true (cairn_key_save (kr, path, &error));
    kr2 = cairn_key_load (path, &error);
    g_assert_no_error (error);
    g_unlink (path);
    g_rmdir (dir);
    in = g_new0 (RawClient, 1);
    in->key = kr2;
    in->ctx = cairn_p2p_ssl_ctx_new (kr2, accept_any, &error);
    g_assert_no_error (error);
    in->fd = tcp_connect (cairn_tls_transport_port (a->t));
    in->ssl = SSL_new (in->ctx);
    SSL_set_fd (in->ssl, in->fd);
    th = g_thread_new ("raw-tls", raw_handshake_thread, in);
    WAIT_FOR (g_atomic_int_get (&in->done), WAIT_MS);
    g_thread_join (th);
    g_assert_true (in->ok);
  }
  /* R's id is lower: R's dial (inbound here) wins. */
  keep_inbound = strcmp (to_r.id, a->id) < 0;
  g_assert_true (keep_inbound == want_keep_inbound);
  dropped = raw_poll (keep_inbound ? &srv->conn : in, WAIT_MS);
  g_assert_cmpint (dropped, ==, 0);
  g_assert_cmpuint (a->ups, ==, 1);
  g_assert_cmpuint (a->downs, ==, 0);
  g_assert_true (g_hash_table_contains (a->up, to_r.id));
  {
    g_autoptr (GError) error = NULL;
    g_assert_true (a->t->ops->send (a->t, to_r.id, 1, p, &error));
    g_assert_no_error (error);
  }
  kept = raw_poll (keep_inbound ? in : &srv->conn, WAIT_MS);
  g_assert_cmpint (kept, ==, 1);
  raw_client_free (in);
  raw_server_free (srv);
  node_free (a);
}

static void
test_duplicate_cross (void)
{
  duplicate_cross_case (TRUE);
  duplicate_cross_case (FALSE);
}

/* The owner may stop the transport from inside an event: the frames after
 * the one being delivered are dropped and nothing is touched after. */
static void
test_stop_in_callback (void)
{
  CairnKey *kb = new_key ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Node *a = node_new (new_key (), 0, NULL, 0, allow_b);
  CairnPeerAddr to_a = addr_of (a);
  Node *b = node_new (kb, 0, &to_a, 1, NULL);
  char **peers;

  WAIT_FOR (is_up (a, b) && is_up (b, a), WAIT_MS);
  a->stop_on_message = TRUE;
  for (guint i = 0; i < 50; i++) {
    g_autoptr (GBytes) p = payload_new (i, 100);
    send_ok (b, a, CAIRN_P2P_CH_TXS, p);
  }
  WAIT_FOR (a->msgs->len >= 1 && b->downs == 1, WAIT_MS);
  g_assert_cmpuint (a->msgs->len, ==, 1);
  g_assert_cmpuint (a->downs, ==, 0); /* stop is silent */
  peers = a->t->ops->peers (a->t);
  g_assert_cmpuint (g_strv_length (peers), ==, 0);
  g_strfreev (peers);
  node_free (b);
  node_free (a);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Refusals are logged as warnings by design; they must not abort. */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  /* Wakes blocking iterations so every WAIT_FOR re-checks its deadline. */
  g_timeout_add (20, tick, NULL);
  g_test_add_func ("/p2p/tls/two-nodes", test_two_nodes);
  g_test_add_func ("/p2p/tls/three-nodes", test_three_nodes);
  g_test_add_func ("/p2p/tls/mutual-dial", test_mutual_dial);
  g_test_add_func ("/p2p/tls/duplicate-cross", test_duplicate_cross);
  g_test_add_func ("/p2p/tls/unknown-refused", test_unknown_refused);
  g_test_add_func ("/p2p/tls/plaintext-refused", test_plaintext_refused);
  g_test_add_func ("/p2p/tls/silent-client", test_silent_client);
  g_test_add_func ("/p2p/tls/bad-frames", test_bad_frames);
  g_test_add_func ("/p2p/tls/replayed-handshake", test_replayed_handshake);
  g_test_add_func ("/p2p/tls/reconnect", test_reconnect);
  g_test_add_func ("/p2p/tls/limit-frames", test_limit_frames);
  g_test_add_func ("/p2p/tls/limit-per-ip", test_limit_per_ip);
  g_test_add_func ("/p2p/tls/limit-max-inbound", test_limit_max_inbound);
  g_test_add_func ("/p2p/tls/limit-rate", test_limit_rate);
  g_test_add_func ("/p2p/tls/limit-byte-rate", test_limit_byte_rate);
  g_test_add_func ("/p2p/tls/backpressure", test_backpressure);
  g_test_add_func ("/p2p/tls/stop-in-callback", test_stop_in_callback);
  return g_test_run ();
}

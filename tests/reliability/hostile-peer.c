/* A hostile P2P peer for tests/reliability/hostile.sh. It speaks the real
 * TLS 1.3 + node-key handshake (core/p2p_cert.c) with the key it is given,
 * then misbehaves in one of these modes:
 *
 *   garbage-pre   random bytes instead of a TLS ClientHello
 *   garbage-post  a handshake, then random bytes instead of frames
 *   oversized     a handshake, then a frame header over the limit
 *   stall         a handshake, then a frame header promising 1 MiB and
 *                 100 bytes of it, then silence
 *   flood         a handshake, then --count pos prevotes for future heights
 *                 (height --height + 1000 + i), signed with the key, as
 *                 fast as the node takes them
 *   equivocate    a handshake, then for each of --count heights from
 *                 --height, two prevotes (round 0) for two different
 *                 blocks, signed with the key (a validator's key: the node
 *                 must report the double sign)
 *   replay        records one ClientHello and sends it on --count fresh
 *                 connections, which never finish
 *   slowloris     --count connections that send 5 bytes of a TLS record
 *                 and then nothing
 *   http-slowloris  the same against the HTTP API (--connect its port):
 *                 half a request's headers, then nothing
 *
 * Each connection binds to --bind (e.g. 127.0.0.2, so that per-IP limits
 * tell it from the honest nodes on 127.0.0.1). Modes that hold connections
 * hold them --hold seconds. Prints one JSON line: what it did and how the
 * node answered. Exit 0 unless it could not run the attack at all. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cairn/util.h>

#include "crypto.h"
#include "engine.h"
#include "p2p.h"
#include "p2p_cert.h"

static char *opt_connect, *opt_key, *opt_chain, *opt_mode, *opt_bind;
static gint64 opt_height = 1;
static gint opt_count = 100, opt_hold = 3;

static GOptionEntry entries[] = {
  { "connect", 0, 0, G_OPTION_ARG_STRING, &opt_connect, "node host:port",
    NULL },
  { "key", 0, 0, G_OPTION_ARG_STRING, &opt_key, "node key (PEM)", NULL },
  { "chain-id", 0, 0, G_OPTION_ARG_STRING, &opt_chain, "chain id", NULL },
  { "mode", 0, 0, G_OPTION_ARG_STRING, &opt_mode, "attack", NULL },
  { "bind", 0, 0, G_OPTION_ARG_STRING, &opt_bind, "local address", NULL },
  { "height", 0, 0, G_OPTION_ARG_INT64, &opt_height, "current height", NULL },
  { "count", 0, 0, G_OPTION_ARG_INT, &opt_count, "messages/conns", NULL },
  { "hold", 0, 0, G_OPTION_ARG_INT, &opt_hold, "seconds to hold", NULL },
  { NULL },
};

static int
verify_any (int ok, X509_STORE_CTX *ctx)
{
  return 1;
}

static int
tcp_connect (void)
{
  const char *colon = strrchr (opt_connect, ':');
  struct sockaddr_in sa = { .sin_family = AF_INET };
  g_autofree char *host = g_strndup (opt_connect, colon - opt_connect);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

  if (fd < 0)
    return -1;
  if (opt_bind != NULL) {
    struct sockaddr_in b = { .sin_family = AF_INET };
    inet_pton (AF_INET, opt_bind, &b.sin_addr);
    if (bind (fd, (struct sockaddr *)&b, sizeof b) != 0) {
      g_printerr ("hostile-peer: bind %s: %s\n", opt_bind, g_strerror (errno));
      close (fd);
      return -1;
    }
  }
  sa.sin_port = htons ((guint16)atoi (colon + 1));
  inet_pton (AF_INET, host, &sa.sin_addr);
  if (connect (fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close (fd);
    return -1;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* A handshaken TLS connection (blocking), or NULL. */
static SSL *
tls_open (SSL_CTX *ctx, int *fd_out)
{
  int fd = tcp_connect ();
  SSL *ssl;

  if (fd < 0)
    return NULL;
  ssl = SSL_new (ctx);
  SSL_set_fd (ssl, fd);
  if (SSL_connect (ssl) != 1) {
    ERR_print_errors_fp (stderr);
    SSL_free (ssl);
    close (fd);
    return NULL;
  }
  *fd_out = fd;
  return ssl;
}

/* Write all of buf, reading (and dropping) what the node sends meanwhile
 * so that neither side blocks. FALSE once the node closed. */
static gboolean
tls_write (SSL *ssl, int fd, const void *buf, size_t len)
{
  while (len > 0) {
    size_t n = 0;
    int r = SSL_write_ex (ssl, buf, len, &n);
    if (r == 1) {
      buf = (const char *)buf + n;
      len -= n;
      continue;
    }
    int e = SSL_get_error (ssl, r);
    if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
      return FALSE;
    struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
    if (poll (&p, 1, 5000) <= 0)
      return FALSE;
    if (p.revents & POLLIN) {
      char junk[16384];
      size_t got;
      if (SSL_read_ex (ssl, junk, sizeof junk, &got) != 1) {
        int re = SSL_get_error (ssl, 0);
        if (re == SSL_ERROR_ZERO_RETURN || re == SSL_ERROR_SYSCALL
            || re == SSL_ERROR_SSL)
          return FALSE;
      }
    }
    ERR_clear_error ();
  }
  return TRUE;
}

/* Read and drop until the node closes or `ms` pass; TRUE if it closed. */
static gboolean
wait_closed (SSL *ssl, int fd, int ms)
{
  gint64 end = g_get_monotonic_time () + (gint64)ms * 1000;
  char junk[16384];

  while (g_get_monotonic_time () < end) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int left = (int)((end - g_get_monotonic_time ()) / 1000);
    if (poll (&p, 1, MAX (left, 1)) <= 0)
      continue;
    if (ssl != NULL) {
      size_t got;
      if (SSL_read_ex (ssl, junk, sizeof junk, &got) != 1) {
        int e = SSL_get_error (ssl, 0);
        ERR_clear_error ();
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
          return TRUE;
      }
    } else if (read (fd, junk, sizeof junk) <= 0) {
      return TRUE;
    }
  }
  return FALSE;
}

static void
frame (GByteArray *out, guint8 channel, GBytes *payload)
{
  gsize n = g_bytes_get_size (payload);
  guint32 len = (guint32)n + 1;
  guint8 hdr[5] = { len >> 24, len >> 16, len >> 8, len, channel };
  g_byte_array_append (out, hdr, 5);
  g_byte_array_append (out, g_bytes_get_data (payload, NULL), (guint)n);
}

static GBytes *
signed_prevote (CairnKey *key, uint64_t height, uint32_t round,
                const uint8_t block_id[32])
{
  PosMsg m = { .kind = POS_MSG_PREVOTE, .height = height, .round = round };
  g_autoptr (GBytes) sb = NULL;
  gsize n;
  const void *p;

  memcpy (m.block_id, block_id, 32);
  cairn_hex_decode (cairn_key_address (key), m.signer, 20);
  sb = pos_msg_sign_bytes (opt_chain, &m);
  p = g_bytes_get_data (sb, &n);
  cairn_key_sign (key, POS_SIGN_DOMAIN, p, n, m.sig);
  return pos_msg_encode (&m);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) oc = g_option_context_new ("- hostile peer");
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = NULL;
  SSL_CTX *ctx;
  SSL *ssl = NULL;
  int fd = -1;
  gboolean closed = FALSE;
  guint sent = 0, opened = 0, refused = 0;

  signal (SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries (oc, entries, NULL);
  if (!g_option_context_parse (oc, &argc, &argv, &error) || !opt_connect
      || !opt_key || !opt_mode || !strrchr (opt_connect, ':')) {
    g_printerr ("hostile-peer: %s\n",
                error ? error->message
                      : "--connect HOST:PORT --key PEM --mode MODE needed");
    return 2;
  }
  key = cairn_key_load (opt_key, &error);
  if (key == NULL) {
    g_printerr ("hostile-peer: %s\n", error->message);
    return 2;
  }
  ctx = cairn_p2p_ssl_ctx_new (key, verify_any, &error);
  if (ctx == NULL) {
    g_printerr ("hostile-peer: %s\n", error->message);
    return 2;
  }

  if (strcmp (opt_mode, "garbage-pre") == 0) {
    guint8 junk[4096];
    fd = tcp_connect ();
    if (fd < 0)
      return 1;
    for (gsize i = 0; i < sizeof junk; i++)
      junk[i] = (guint8)g_random_int ();
    sent = (guint)write (fd, junk, sizeof junk);
    closed = wait_closed (NULL, fd, opt_hold * 1000);
  } else if (strcmp (opt_mode, "garbage-post") == 0
             || strcmp (opt_mode, "oversized") == 0
             || strcmp (opt_mode, "stall") == 0) {
    GByteArray *b = g_byte_array_new ();
    if ((ssl = tls_open (ctx, &fd)) == NULL)
      return 1;
    if (strcmp (opt_mode, "garbage-post") == 0) {
      /* An unknown channel first, so the refusal is certain. */
      guint8 hdr[5] = { 0, 0, 0, 64, 0x77 };
      g_byte_array_append (b, hdr, 5);
      for (int i = 0; i < 4096; i++) {
        guint8 x = (guint8)g_random_int ();
        g_byte_array_append (b, &x, 1);
      }
    } else if (strcmp (opt_mode, "oversized") == 0) {
      guint32 len = CAIRN_P2P_MAX_FRAME + 1;
      guint8 hdr[4] = { len >> 24, len >> 16, len >> 8, len };
      g_byte_array_append (b, hdr, 4);
      g_byte_array_set_size (b, 4 + 65536);
      memset (b->data + 4, 3, 65536);
    } else {
      guint8 hdr[5] = { 0, 16, 0, 0, CAIRN_P2P_CH_CONSENSUS };
      g_byte_array_append (b, hdr, 5);
      g_byte_array_set_size (b, 5 + 100);
      memset (b->data + 5, 0, 100);
    }
    if (tls_write (ssl, fd, b->data, b->len))
      sent = b->len;
    g_byte_array_unref (b);
    closed = wait_closed (ssl, fd, opt_hold * 1000);
  } else if (strcmp (opt_mode, "flood") == 0
             || strcmp (opt_mode, "equivocate") == 0) {
    gboolean flood = strcmp (opt_mode, "flood") == 0;
    gint64 t0;
    if (!opt_chain) {
      g_printerr ("hostile-peer: --chain-id needed\n");
      return 2;
    }
    if ((ssl = tls_open (ctx, &fd)) == NULL)
      return 1;
    t0 = g_get_monotonic_time ();
    for (gint i = 0; i < (flood ? opt_count : 2 * opt_count); i++) {
      uint8_t id[32];
      GByteArray *b = g_byte_array_new ();
      g_autoptr (GBytes) v = NULL;
      for (int k = 0; k < 32; k++)
        id[k] = (uint8_t)g_random_int ();
      v = signed_prevote (key,
                          (uint64_t)opt_height + (flood ? 1000 + i : i / 2),
                          flood ? (uint32_t)(i % 4) : 0, id);
      frame (b, CAIRN_P2P_CH_CONSENSUS, v);
      gboolean ok = tls_write (ssl, fd, b->data, b->len);
      g_byte_array_unref (b);
      if (!ok) {
        closed = TRUE;
        break;
      }
      sent++;
    }
    g_printerr ("hostile-peer: %u messages in %.2f s\n", sent,
                (double)(g_get_monotonic_time () - t0) / 1e6);
    if (!closed)
      closed = wait_closed (ssl, fd, opt_hold * 1000);
  } else if (strcmp (opt_mode, "replay") == 0) {
    /* Record our first flight (the ClientHello) on memory BIOs. */
    SSL *rec = SSL_new (ctx);
    BIO *rb = BIO_new (BIO_s_mem ()), *wb = BIO_new (BIO_s_mem ());
    char *hello;
    long hello_len;
    int fds[1024];
    gint n = MIN (opt_count, (gint)G_N_ELEMENTS (fds));
    SSL_set_bio (rec, rb, wb);
    SSL_set_connect_state (rec);
    (void)SSL_do_handshake (rec);
    hello_len = BIO_get_mem_data (wb, &hello);
    for (gint i = 0; i < n; i++) {
      fds[i] = tcp_connect ();
      if (fds[i] < 0) {
        refused++;
        continue;
      }
      opened++;
      if (write (fds[i], hello, (size_t)hello_len) == hello_len)
        sent++;
    }
    sleep ((guint)opt_hold);
    for (gint i = 0; i < n; i++) {
      if (fds[i] < 0)
        continue;
      char junk[4096];
      int fl = fcntl (fds[i], F_GETFL);
      fcntl (fds[i], F_SETFL, fl | O_NONBLOCK);
      /* Drain the ServerHello; EOF means the node closed us. */
      ssize_t r;
      while ((r = read (fds[i], junk, sizeof junk)) > 0)
        ;
      if (r == 0 || (r < 0 && errno != EAGAIN))
        closed++;
      close (fds[i]);
    }
    SSL_free (rec);
  } else if (strcmp (opt_mode, "slowloris") == 0
             || strcmp (opt_mode, "http-slowloris") == 0) {
    int fds[1024];
    gint n = MIN (opt_count, (gint)G_N_ELEMENTS (fds));
    /* The first bytes of a TLS handshake record, or of an HTTP request,
     * then nothing. */
    static const guint8 tls_start[5] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
    static const char http_start[] = "GET /v1/status HTTP/1.1\r\nHost: x\r\n";
    gboolean http = strcmp (opt_mode, "http-slowloris") == 0;
    const void *start = http ? (const void *)http_start : tls_start;
    gsize start_len = http ? strlen (http_start) : sizeof tls_start;
    for (gint i = 0; i < n; i++) {
      fds[i] = tcp_connect ();
      if (fds[i] < 0) {
        refused++;
        continue;
      }
      opened++;
      if (write (fds[i], start, start_len) == (ssize_t)start_len)
        sent++;
    }
    sleep ((guint)opt_hold);
    for (gint i = 0; i < n; i++) {
      if (fds[i] < 0)
        continue;
      char junk[64];
      int fl = fcntl (fds[i], F_GETFL);
      fcntl (fds[i], F_SETFL, fl | O_NONBLOCK);
      ssize_t r = read (fds[i], junk, sizeof junk);
      if (r == 0 || (r < 0 && errno != EAGAIN))
        closed++;
      close (fds[i]);
    }
  } else {
    g_printerr ("hostile-peer: unknown mode '%s'\n", opt_mode);
    return 2;
  }
  g_print ("{\"mode\":\"%s\",\"sent\":%u,\"opened\":%u,\"refused\":%u,"
           "\"closed\":%u}\n",
           opt_mode, sent, opened, refused, (guint)closed);
  if (ssl != NULL)
    SSL_free (ssl);
  if (fd >= 0)
    close (fd);
  SSL_CTX_free (ctx);
  return 0;
}

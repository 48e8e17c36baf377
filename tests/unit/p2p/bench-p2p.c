/* Throughput of the TLS transport between two nodes on 127.0.0.1:
 * bench-p2p [frames] [payload bytes]  (default 200000 x 1024).
 * Keeps at most 8 MiB in flight so the queue cap is never hit. */
#include <stdlib.h>

#include "p2p.h"

typedef struct {
  guint64 received;
  gboolean up;
} Sink;

static void
on_up (void *data, const char *peer)
{
  ((Sink *)data)->up = TRUE;
}

static void
on_message (void *data, const char *peer, uint8_t channel, GBytes *payload)
{
  ((Sink *)data)->received++;
}

static CairnKey *
key_or_die (void)
{
  g_autoptr (GError) error = NULL;
  CairnKey *k = cairn_key_generate (&error);
  if (k == NULL)
    g_error ("%s", error->message);
  return k;
}

int
main (int argc, char **argv)
{
  guint64 frames = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 200000;
  gsize size = argc > 2 ? g_ascii_strtoull (argv[2], NULL, 10) : 1024;
  const CairnTransportEvents ev = { .peer_up = on_up, .message = on_message };
  g_autoptr (CairnKey) ka = key_or_die ();
  g_autoptr (CairnKey) kb = key_or_die ();
  const char *allow_b[] = { cairn_key_address (kb), NULL };
  Sink sa = { 0 }, sb = { 0 };
  g_autoptr (GError) error = NULL;
  CairnTransport *a, *b;
  CairnPeerAddr to_a = { .host = (char *)"127.0.0.1" };
  g_autofree guint8 *buf = g_malloc0 (size);
  g_autoptr (GBytes) payload = g_bytes_new_static (buf, size);
  guint64 sent = 0, window;
  gint64 t0, t1;
  double secs;

  a = cairn_tls_transport_new (ka, "127.0.0.1:0", NULL, 0, allow_b, &ev, &sa,
                               &error);
  if (a == NULL || !a->ops->start (a, &error))
    g_error ("%s", error->message);
  g_strlcpy (to_a.id, cairn_key_address (ka), sizeof to_a.id);
  to_a.port = cairn_tls_transport_port (a);
  b = cairn_tls_transport_new (kb, "127.0.0.1:0", &to_a, 1, NULL, &ev, &sb,
                               &error);
  if (b == NULL || !b->ops->start (b, &error))
    g_error ("%s", error->message);
  while (!sa.up || !sb.up)
    g_main_context_iteration (NULL, TRUE);

  window = MAX (1, (8u << 20) / (size + 5));
  t0 = g_get_monotonic_time ();
  while (sa.received < frames) {
    while (sent < frames && sent - sa.received < window) {
      if (!b->ops->send (b, cairn_key_address (ka), CAIRN_P2P_CH_TXS, payload,
                         &error))
        g_error ("send: %s", error->message);
      sent++;
    }
    g_main_context_iteration (NULL, TRUE);
  }
  t1 = g_get_monotonic_time ();
  secs = (double)(t1 - t0) / 1e6;
  g_print ("%" G_GUINT64_FORMAT " frames of %" G_GSIZE_FORMAT
           " bytes in %.3f s: %.0f frames/s, %.1f MB/s payload\n",
           frames, size, secs, (double)frames / secs,
           (double)frames * (double)size / secs / 1e6);
  b->ops->stop (b);
  a->ops->stop (a);
  b->ops->free (b);
  a->ops->free (a);
  return EXIT_SUCCESS;
}

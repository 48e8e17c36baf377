/* Fuzz target: what a peer controls on the P2P transport (core/p2p_*.c).
 *
 * The first byte picks:
 *   0: the frame reader (p2p_frame.c, what p2p_tls.c reads every
 *      connection through): the rest is a byte stream cut into reads of
 *      sizes taken from the second byte, as TLS records would cut it. The
 *      frames found must re-encode to exactly the bytes consumed.
 *   1: the handshake's peer certificate: the rest as DER, the node id
 *      derivation of verify_peer (cairn_p2p_cert_id).
 *   2: a peer address "id@host:port" (cairn_peer_addr_parse), as in
 *      [p2p] persistent_peers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "p2p.h"
#include "p2p_cert.h"
#include "p2p_frame.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_frames (const uint8_t *data, size_t size)
{
  CairnFrameReader r = { 0 };
  size_t chunk, off = 0, done = 0;

  if (size < 1)
    return;
  chunk = (data[0] % 64) + 1;
  data++;
  size--;
  while (off < size) {
    const guint8 *p = data + off;
    gsize n = MIN (chunk, size - off);
    gsize fed = n;

    for (;;) {
      guint8 channel = 0;
      g_autoptr (GBytes) payload = NULL;
      gsize flen = 0;
      g_autofree char *why = NULL;
      CairnFrameStatus st = cairn_frame_reader_feed (&r, &p, &n, &channel,
                                                     &payload, &flen, &why);
      if (st == CAIRN_FRAME_BAD) {
        CHECK (why != NULL);
        cairn_frame_reader_clear (&r);
        return;
      }
      if (st == CAIRN_FRAME_MORE) {
        CHECK (n == 0);
        break;
      }
      /* READY: the frame is header + channel + payload, ending at p. */
      gsize plen = g_bytes_get_size (payload);
      size_t end = (size_t)(p - data);
      CHECK (flen == plen + 1);
      CHECK (channel >= CAIRN_P2P_CH_TXS && channel <= CAIRN_P2P_CHANNEL_MAX);
      CHECK (end - done == CAIRN_P2P_FRAME_HEADER + flen);
      CHECK (data[done] == (guint8)(flen >> 24)
             && data[done + 1] == (guint8)(flen >> 16)
             && data[done + 2] == (guint8)(flen >> 8)
             && data[done + 3] == (guint8)flen);
      CHECK (data[done + 4] == channel);
      if (plen > 0)
        CHECK (memcmp (data + done + 5, g_bytes_get_data (payload, NULL), plen)
               == 0);
      done = end;
    }
    off += fed;
  }
  cairn_frame_reader_clear (&r);
}

static void
fuzz_cert (const uint8_t *data, size_t size)
{
  const unsigned char *p = data;
  X509 *cert = d2i_X509 (NULL, &p, (long)size);
  g_autoptr (GError) error = NULL;
  char id[41];

  if (cert == NULL)
    return;
  if (cairn_p2p_cert_id (cert, id, &error))
    CHECK (strlen (id) == 40);
  else
    CHECK (error != NULL);
  X509_free (cert);
}

static void
fuzz_addr (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *)data, size);
  CairnPeerAddr addr;
  g_autoptr (GError) error = NULL;

  memset (&addr, 0, sizeof addr);
  if (cairn_peer_addr_parse (text, &addr, &error)) {
    CHECK (strlen (addr.id) == 40 && addr.host != NULL);
    cairn_peer_addr_clear (&addr);
  } else {
    CHECK (error != NULL);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  switch (data[0] % 3) {
  case 0:
    fuzz_frames (data + 1, size - 1);
    break;
  case 1:
    fuzz_cert (data + 1, size - 1);
    break;
  case 2:
    fuzz_addr (data + 1, size - 1);
    break;
  }
  return 0;
}

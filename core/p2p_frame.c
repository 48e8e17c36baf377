/* The P2P frame reader (see p2p_frame.h). */
#include "p2p_frame.h"

#include <string.h>

/* The first allocation for a frame; it doubles as the bytes come. */
#define FRAME_FIRST_ALLOC (64 * 1024)

CairnFrameStatus
cairn_frame_reader_feed (CairnFrameReader *r, const guint8 **p, gsize *n,
                         guint8 *channel, GBytes **payload, gsize *frame_len,
                         char **why)
{
  while (*n > 0) {
    if (r->frame == NULL) {
      gsize take = MIN (*n, CAIRN_P2P_FRAME_HEADER - r->hdr_got);
      guint32 len;
      memcpy (r->hdr + r->hdr_got, *p, take);
      r->hdr_got += take;
      *p += take;
      *n -= take;
      if (r->hdr_got < CAIRN_P2P_FRAME_HEADER)
        return CAIRN_FRAME_MORE;
      len = ((guint32)r->hdr[0] << 24) | ((guint32)r->hdr[1] << 16)
            | ((guint32)r->hdr[2] << 8) | r->hdr[3];
      if (len == 0) {
        *why = g_strdup ("an empty frame");
        return CAIRN_FRAME_BAD;
      }
      guint32 max = r->max_frame ? MIN (r->max_frame, CAIRN_P2P_MAX_FRAME)
                                 : CAIRN_P2P_MAX_FRAME;
      if (len > max) {
        *why = g_strdup_printf ("a %u-byte frame (max %u)", len, max);
        r->oversized = TRUE;
        return CAIRN_FRAME_BAD;
      }
      r->frame_cap = MIN (len, FRAME_FIRST_ALLOC);
      r->frame = g_malloc (r->frame_cap);
      r->frame_len = len;
      r->frame_got = 0;
      continue;
    }
    {
      gsize take = MIN (*n, r->frame_len - r->frame_got);
      if (r->frame_got + take > r->frame_cap) {
        r->frame_cap
            = MIN (r->frame_len, MAX (r->frame_cap * 2, r->frame_got + take));
        r->frame = g_realloc (r->frame, r->frame_cap);
      }
      memcpy (r->frame + r->frame_got, *p, take);
      r->frame_got += take;
      *p += take;
      *n -= take;
    }
    if (r->frame_got == r->frame_len) {
      guint8 ch = r->frame[0];
      gsize len = r->frame_len;
      g_autoptr (GBytes) all = NULL;

      if (ch < CAIRN_P2P_CH_TXS || ch > CAIRN_P2P_CHANNEL_MAX) {
        *why = g_strdup_printf ("a frame on unknown channel %u", ch);
        return CAIRN_FRAME_BAD;
      }
      all = g_bytes_new_take (g_steal_pointer (&r->frame), len);
      r->hdr_got = 0;
      r->frame_len = r->frame_got = r->frame_cap = 0;
      *channel = ch;
      *payload = g_bytes_new_from_bytes (all, 1, len - 1);
      *frame_len = len;
      return CAIRN_FRAME_READY;
    }
  }
  return CAIRN_FRAME_MORE;
}

void
cairn_frame_reader_clear (CairnFrameReader *r)
{
  g_clear_pointer (&r->frame, g_free);
  r->hdr_got = r->frame_len = r->frame_got = r->frame_cap = 0;
}

/* The P2P frame reader (see p2p.h for the wire format): the pure parsing
 * part of the TLS transport, fed with whatever bytes a read returned.
 * core/p2p_tls.c reads every connection through it; tests/fuzz feeds it
 * fuzzed bytes. No I/O, no transport state. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "p2p.h"

#define CAIRN_P2P_FRAME_HEADER 4
#define CAIRN_P2P_CHANNEL_MAX CAIRN_P2P_CH_DIRECT

typedef struct CairnFrameReader {
  /* Largest frame taken ([p2p] max_frame_bytes); 0 = CAIRN_P2P_MAX_FRAME. */
  guint32 max_frame;
  /* A header, then a frame of frame_len bytes (channel + payload), grown
   * as it comes: a header alone does not make us allocate its length. */
  guint8 hdr[CAIRN_P2P_FRAME_HEADER];
  gsize hdr_got;
  guint8 *frame;
  gsize frame_len, frame_got, frame_cap;
  /* Set with BAD when the refusal was a frame over max_frame. */
  gboolean oversized;
} CairnFrameReader;

typedef enum {
  CAIRN_FRAME_MORE,  /* every byte consumed, no frame finished */
  CAIRN_FRAME_READY, /* a frame finished: *channel and *payload are set */
  CAIRN_FRAME_BAD,   /* the peer broke the format: *why says how */
} CairnFrameStatus;

/* Consumes bytes from *p (*n of them, both advanced) until a frame is
 * complete (READY: *channel, *payload (the bytes after the channel byte,
 * g_bytes_unref) and *frame_len (channel byte included) are set; call
 * again for the rest), the bytes run out (MORE) or the frame is refused
 * (BAD: an empty frame, one over max_frame (r->oversized set), or an
 * unknown channel; *why (g_free) names it; the reader must not be fed
 * again). While a frame is unfinished r->frame is not NULL. */
CairnFrameStatus cairn_frame_reader_feed (CairnFrameReader *r, const guint8 **p,
                                          gsize *n, guint8 *channel,
                                          GBytes **payload, gsize *frame_len,
                                          char **why);

/* Frees a frame still being read (the struct itself is the caller's). */
void cairn_frame_reader_clear (CairnFrameReader *r);

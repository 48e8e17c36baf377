/* A token bucket: tokens come at `rate` a second up to `burst`; a caller
 * takes them as it admits work, and may leave the bucket below zero (a
 * debt repaid before the next admission). Used by the P2P per-peer rate
 * limits (bytes and frames) and the HTTP per-IP request rate. */
#pragma once

#include <glib.h>

typedef struct {
  double tokens;
  gint64 at_us; /* monotonic time of `tokens` */
} CairnTokenBucket;

/* A full bucket. */
static inline void
cairn_token_bucket_init (CairnTokenBucket *b, double burst, gint64 now_us)
{
  b->tokens = burst;
  b->at_us = now_us;
}

/* The tokens the bucket holds at now_us, taking none. */
static inline double
cairn_token_bucket_level (const CairnTokenBucket *b, double rate, double burst,
                          gint64 now_us)
{
  return MIN (burst,
              b->tokens + rate * (double)(now_us - b->at_us) / G_USEC_PER_SEC);
}

/* Brings the bucket to now_us. */
static inline void
cairn_token_bucket_refill (CairnTokenBucket *b, double rate, double burst,
                           gint64 now_us)
{
  b->tokens = cairn_token_bucket_level (b, rate, burst, now_us);
  b->at_us = now_us;
}

/* A lying IPFS daemon for the tests: a small HTTP proxy (libsoup, in its
 * own thread) in front of a real one that passes the RPC calls on and, in
 * a chosen mode, changes the answers:
 *
 *   PROXY_PASS        nothing (counts calls and answer bytes per path)
 *   PROXY_FLIP_CAT    flips one byte of every /api/v0/cat answer (the byte
 *                     at flip_at in that answer, when it is that long)
 *   PROXY_FLIP_BLOCK  flips byte flip_at of every /api/v0/block/get answer
 *   PROXY_WRONG_HASH  answers /api/v0/add with another file's CID
 *   PROXY_RAW_LEAVES  adds with cid-version=1&raw-leaves=true instead of
 *                     what was asked (a daemon with other import settings)
 *   PROXY_SHORT_CAT   cuts every /api/v0/cat answer to flip_at bytes
 *
 * Answers are read whole before they are passed on (test sizes only). */
#pragma once

#include <stdint.h>

#include <glib.h>

typedef enum {
  PROXY_PASS,
  PROXY_FLIP_CAT,
  PROXY_FLIP_BLOCK,
  PROXY_WRONG_HASH,
  PROXY_RAW_LEAVES,
  PROXY_SHORT_CAT,
} ProxyMode;

typedef struct Proxy Proxy;

Proxy *proxy_start (const char *upstream);
void proxy_stop (Proxy *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Proxy, proxy_stop)
/* "http://127.0.0.1:<port>" */
const char *proxy_url (Proxy *p);
void proxy_set_mode (Proxy *p, ProxyMode mode, uint64_t flip_at);
/* Calls to /api/v0/<cmd> so far, and the bytes of their answers. */
guint proxy_calls (Proxy *p, const char *cmd);
uint64_t proxy_bytes (Proxy *p, const char *cmd);
/* The query of the last call to /api/v0/<cmd> (g_free), or NULL. */
char *proxy_last_query (Proxy *p, const char *cmd);
void proxy_reset_counts (Proxy *p);

/* tests/plugins/metering: the small libsoup 3 server that fin-terminal and
 * mock-node share. One thread (the main loop); every handler answers
 * synchronously. Listens on 127.0.0.1 only, prints "http://127.0.0.1:PORT"
 * as the first line of stdout (flushed), stops cleanly on SIGTERM/SIGINT. */
#pragma once

#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

/* Largest request body accepted (413 beyond). */
#define TESTSRV_MAX_BODY (256u * 1024u)

/* Answer with body (stolen): compact JSON with sorted keys. */
void testsrv_reply (SoupServerMessage *msg, guint status, json_t *body);
/* {"error": message} with status. */
void testsrv_error (SoupServerMessage *msg, guint status, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
/* The request body parsed strictly (canonical-JSON rules: no reals, no
 * duplicate keys, no NUL); NULL after answering 400 or 413 itself. */
json_t *testsrv_body_json (SoupServerMessage *msg);

/* Listen on 127.0.0.1:port (0: any free port) with handler for every path,
 * print the base URL, run until SIGTERM or SIGINT, then stop. FALSE (and
 * *error) when it cannot listen. */
gboolean testsrv_run (guint port, SoupServerCallback handler, gpointer data,
                      GError **error);

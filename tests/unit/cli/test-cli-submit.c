/* cairn_cli_tx_submit (core/cli/cmd_tx.c) against a fake node on loopback
 * whose /v1/txs answers are scripted: the nonce the CLI chose is taken by
 * another submitter of the same key (the node's own automatic txs) between
 * its lookup and its POST, and the CLI chooses again; every other refusal
 * reaches the caller unchanged. */
#include <string.h>

#include <libsoup/soup.h>

#include "cli.h"
#include "tx.h"

typedef enum {
  ANSWER_ACCEPT,
  ANSWER_PENDING_OTHER, /* duplicate: the nonce is pending in another tx */
  ANSWER_PENDING_SAME,  /* duplicate: this very tx is pending */
  ANSWER_TOO_LOW,       /* nonce_too_low: the other tx committed */
  ANSWER_FULL,          /* mempool_full (503) */
} Answer;

typedef struct {
  GMutex lock;
  uint64_t next_nonce; /* what GET /v1/accounts/{a} says */
  Answer answers[8];   /* the n-th POST's answer; ACCEPT past the end */
  guint n_answers;
  guint posts;
  uint64_t nonces[8]; /* the nonce of each POST */
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  char *url;
} Fake;

static void
reply (SoupServerMessage *msg, guint status, json_t *value)
{
  g_autofree char *text = json_dumps (value, JSON_COMPACT);
  json_decref (value);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                    text, strlen (text));
}

static void
refuse (SoupServerMessage *msg, guint status, const char *code,
        const char *message)
{
  reply (
      msg, status,
      json_pack ("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer user_data)
{
  (void)server;
  (void)query;
  Fake *f = user_data;
  g_mutex_lock (&f->lock);
  if (strcmp (path, "/v1/status") == 0)
    reply (msg, 200, json_pack ("{s:s,s:i}", "chain_id", "test", "height", 1));
  else if (g_str_has_prefix (path, "/v1/accounts/"))
    reply (msg, 200,
           json_pack ("{s:I,s:I}", "nonce", (json_int_t)0, "next_nonce",
                      (json_int_t)f->next_nonce));
  else if (strcmp (path, "/v1/txs") == 0) {
    SoupMessageBody *body = soup_server_message_get_request_body (msg);
    g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
    gsize len = 0;
    const char *data = g_bytes_get_data (bytes, &len);
    g_autoptr (GError) e = NULL;
    g_autoptr (CairnTx) tx = cairn_tx_decode (data, len, "test", &e);
    g_assert_no_error (e);
    guint n = f->posts++;
    g_assert_cmpuint (n, <, G_N_ELEMENTS (f->nonces));
    f->nonces[n] = tx->nonce;
    Answer a = n < f->n_answers ? f->answers[n] : ANSWER_ACCEPT;
    g_autofree char *text = NULL;
    switch (a) {
    case ANSWER_ACCEPT:
      reply (msg, 202, json_pack ("{s:s}", "id", tx->id_hex));
      break;
    case ANSWER_PENDING_OTHER:
      /* The other tx is there now, so the next lookup counts it. */
      f->next_nonce = tx->nonce + 1;
      text = g_strdup_printf ("nonce %" G_GUINT64_FORMAT
                              " of %s is already pending in tx %064d",
                              tx->nonce, tx->from, 7);
      refuse (msg, 409, "duplicate", text);
      break;
    case ANSWER_PENDING_SAME:
      text = g_strdup_printf ("tx %s is already pending", tx->id_hex);
      refuse (msg, 409, "duplicate", text);
      break;
    case ANSWER_TOO_LOW:
      f->next_nonce = tx->nonce + 1;
      text = g_strdup_printf (
          "nonce %" G_GUINT64_FORMAT
          " of %s is already used (next is %" G_GUINT64_FORMAT ")",
          tx->nonce, tx->from, f->next_nonce);
      refuse (msg, 409, "nonce_too_low", text);
      break;
    case ANSWER_FULL:
      refuse (msg, 503, "mempool_full", "mempool is full; retry later");
      break;
    }
  } else
    refuse (msg, 404, "not_found", path);
  g_mutex_unlock (&f->lock);
}

static gpointer
serve (gpointer data)
{
  Fake *f = data;
  g_main_context_push_thread_default (f->context);
  g_main_loop_run (f->loop);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static Fake *
fake_start (uint64_t next_nonce, const Answer *answers, guint n)
{
  Fake *f = g_new0 (Fake, 1);
  g_mutex_init (&f->lock);
  f->next_nonce = next_nonce;
  g_assert_cmpuint (n, <=, G_N_ELEMENTS (f->answers));
  memcpy (f->answers, answers, n * sizeof *answers);
  f->n_answers = n;
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  g_main_context_push_thread_default (f->context);
  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle, f, NULL);
  g_autoptr (GError) e = NULL;
  g_autoptr (GSocketAddress) any
      = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_assert_true (soup_server_listen (f->server, any, 0, &e));
  g_assert_no_error (e);
  g_main_context_pop_thread_default (f->context);
  /* The port from the listening socket: libsoup 3.0's listen_local and
   * get_uris each leak a GSocketAddress (valgrind). */
  GSList *listeners = soup_server_get_listeners (f->server);
  g_assert_nonnull (listeners);
  g_autoptr (GSocketAddress) local
      = g_socket_get_local_address (listeners->data, &e);
  g_slist_free (listeners);
  g_assert_no_error (e);
  f->url = g_strdup_printf (
      "http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  return f;
}

static void
fake_stop (Fake *f)
{
  g_main_loop_unref (f->loop);
  /* The client's connections close only as the server's context runs. */
  g_main_context_push_thread_default (f->context);
  soup_server_disconnect (f->server);
  g_object_unref (f->server);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_mutex_clear (&f->lock);
  g_free (f->url);
  g_free (f);
}

/* Submit one tx through the fake node; returns the reply or NULL (*error). */
static json_t *
submit (Fake *f, const uint64_t *nonce_opt, GError **error)
{
  GThread *t = g_thread_new ("fake-node", serve, f);
  g_autoptr (GError) e = NULL;
  g_autoptr (CairnKey) key = cairn_key_generate (&e);
  g_assert_no_error (e);
  g_autoptr (json_t) body = json_pack ("{s:s,s:i}", "to", "x", "amount", 1);
  json_t *sent = NULL;
  {
    g_autoptr (CairnClient) client = cairn_client_new (f->url, 10, &e);
    g_assert_no_error (e);
    sent = cairn_cli_tx_submit (client, key, "bank.transfer", body, nonce_opt,
                                FALSE, 10, error);
  }
  g_main_loop_quit (f->loop);
  g_thread_join (t);
  return sent;
}

static void
test_pending_other_chooses_again (void)
{
  const Answer a[] = { ANSWER_PENDING_OTHER };
  Fake *f = fake_start (0, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) sent = submit (f, NULL, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (f->posts, ==, 2);
  g_assert_cmpuint (f->nonces[0], ==, 0);
  g_assert_cmpuint (f->nonces[1], ==, 1);
  g_assert_cmpint (json_integer_value (json_object_get (sent, "nonce")), ==, 1);
  fake_stop (f);
}

static void
test_too_low_chooses_again (void)
{
  const Answer a[] = { ANSWER_TOO_LOW, ANSWER_PENDING_OTHER };
  Fake *f = fake_start (4, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) sent = submit (f, NULL, &e);
  g_assert_no_error (e);
  g_assert_cmpuint (f->posts, ==, 3);
  g_assert_cmpuint (f->nonces[0], ==, 4);
  g_assert_cmpuint (f->nonces[1], ==, 5);
  g_assert_cmpuint (f->nonces[2], ==, 6);
  g_assert_cmpint (json_integer_value (json_object_get (sent, "nonce")), ==, 6);
  fake_stop (f);
}

/* The same tx pending already is not a taken nonce: signing it again at
 * the next nonce would send it twice. */
static void
test_same_tx_pending_is_reported (void)
{
  const Answer a[] = { ANSWER_PENDING_SAME };
  Fake *f = fake_start (0, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) sent = submit (f, NULL, &e);
  g_assert_null (sent);
  g_assert_nonnull (e);
  g_assert_nonnull (strstr (e->message, "duplicate: tx "));
  g_assert_nonnull (strstr (e->message, "(HTTP 409)"));
  g_assert_cmpuint (f->posts, ==, 1);
  fake_stop (f);
}

/* A nonce the caller gave is the caller's: its refusal is reported. */
static void
test_given_nonce_is_not_changed (void)
{
  const Answer a[] = { ANSWER_PENDING_OTHER };
  Fake *f = fake_start (0, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  uint64_t nonce = 0;
  g_autoptr (json_t) sent = submit (f, &nonce, &e);
  g_assert_null (sent);
  g_assert_nonnull (strstr (e->message, "is already pending in tx"));
  g_assert_cmpuint (f->posts, ==, 1);
  fake_stop (f);
}

static void
test_gives_up (void)
{
  const Answer a[]
      = { ANSWER_PENDING_OTHER, ANSWER_PENDING_OTHER, ANSWER_PENDING_OTHER,
          ANSWER_PENDING_OTHER, ANSWER_PENDING_OTHER, ANSWER_PENDING_OTHER };
  Fake *f = fake_start (0, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) sent = submit (f, NULL, &e);
  g_assert_null (sent);
  g_assert_nonnull (strstr (e->message, "nonce 4 of "));
  g_assert_cmpuint (f->posts, ==, 5);
  fake_stop (f);
}

static void
test_other_refusal_is_reported (void)
{
  const Answer a[] = { ANSWER_FULL };
  Fake *f = fake_start (0, a, G_N_ELEMENTS (a));
  g_autoptr (GError) e = NULL;
  g_autoptr (json_t) sent = submit (f, NULL, &e);
  g_assert_null (sent);
  g_assert_nonnull (strstr (e->message, "mempool_full: "));
  g_assert_nonnull (strstr (e->message, "(HTTP 503)"));
  g_assert_cmpuint (f->posts, ==, 1);
  fake_stop (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/submit/pending-other-chooses-again",
                   test_pending_other_chooses_again);
  g_test_add_func ("/cli/submit/too-low-chooses-again",
                   test_too_low_chooses_again);
  g_test_add_func ("/cli/submit/same-tx-pending-is-reported",
                   test_same_tx_pending_is_reported);
  g_test_add_func ("/cli/submit/given-nonce-is-not-changed",
                   test_given_nonce_is_not_changed);
  g_test_add_func ("/cli/submit/gives-up", test_gives_up);
  g_test_add_func ("/cli/submit/other-refusal-is-reported",
                   test_other_refusal_is_reported);
  return g_test_run ();
}

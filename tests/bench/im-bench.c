/* im-bench: throughput and delivery latency of im messages on a running
 * testnet (plugins/im/README.md). Not a test: it prints measurements.
 *
 *   im-bench --node URL [--node URL ...] [--stream-node URL] [--users N]
 *            [--messages M] [--rate R] [--batch B] [--sample S] [--json]
 *
 * 1. makes N users: an Ed25519 identity key each and a random non-zero
 *    32-byte X25519 public key (the chain only stores it);
 * 2. registers them at the first --node (it must hold the registrar role):
 *    POST /v1/im/registrations with the request {name, enc_pubkey,
 *    timestamp} signed under "cairn.im.register", then waits until every
 *    im.register tx committed and succeeded;
 * 3. each user sends im.settings {"allow_strangers": true} (N txs; a ring
 *    of contacts would take 2N), committed before the run;
 * 4. pre-signs M im.send txs on a thread pool, round-robin: message i goes
 *    from user i % N to user (i + 1) % N, with a unique content_sha256, a
 *    syntactically valid CIDv1 (raw, sha2-256: the chain does not resolve
 *    it), kind "text", size 1024, timestamp now, store = the first node,
 *    the inner signature ("cairn.im.message" over the canonical body
 *    without sig), then the tx signature;
 * 5. opens the inbox streams (GET /v1/im/stream/{addr}?after=LAST) of up
 *    to S recipients on --stream-node, and that node's block events;
 * 6. submits the txs in batches of B (POST /v1/txs, a JSON array), batch
 *    k to --node k % n, open loop at R messages/s (one thread per node, so
 *    a slow node does not hold back the others; R = 0: as fast as each
 *    node answers);
 * 7. reports: committed messages/s (our txs in blocks / first submit to
 *    last commit, block events of the stream node), the messages recorded
 *    (the senders' outbox counts), delivery latency p50/p90/p99 (submit to
 *    the record on the recipient's stream, over the sampled recipients),
 *    commit latency, rejections by reason, block sizes and intervals.
 *    With --json the last line of stdout is one JSON object.
 *
 * Progress goes to stderr once a second with -v. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <gio/gio.h>
#include <glib.h>
#include <jansson.h>
#include <libsoup/soup.h>

#include <cairn/util.h>

#include "cjson.h"
#include "crypto.h"
#include "tx.h"

#define DOMAIN_REGISTER "cairn.im.register"
#define DOMAIN_MESSAGE "cairn.im.message"
#define MAX_NODES 16
#define MAX_SAMPLE 60     /* the node serves 64 event streams */
#define SETUP_WAIT_S 120  /* registrations and settings must commit */
#define DRAIN_IDLE_S 30   /* give up when nothing commits for this long */
#define DELIVER_IDLE_S 10 /* after the last commit, for the streams */
#define MSG_SIZE 1024     /* the size field of every message */
#define FAIL_PROBES 20    /* failed txs whose result we ask for */
#define STREAM_BUSY_S 45  /* retry a stream refused with 503 this long */

typedef enum { SSE_CONNECTING, SSE_CONNECTED, SSE_ENDED } SseState;

typedef struct Bench Bench;

/* One event stream (block events, or a recipient's inbox). */
typedef struct {
  Bench *b;
  char *url;
  gint user; /* the recipient, or -1 for block events */
  SseState state;
  GError *error;
  GThread *thread;
  guint64 events;
} Stream;

/* One submission thread per node. */
typedef struct {
  Bench *b;
  guint node;
  GError *error;
  GThread *thread;
} Submitter;

typedef struct {
  guint64 height;
  gint64 seen_us;
  guint txs;  /* all txs of the block */
  guint ours; /* our im.send txs */
} BlockSeen;

struct Bench {
  /* options */
  char **nodes;
  guint n_nodes;
  char *stream_node;
  gint users;
  gint messages;
  double rate;
  gint batch;
  gint sample;
  gboolean json;
  gboolean verbose;

  GCancellable *cancel;
  char *chain_id;
  char store[41];
  char tag[9];

  /* users */
  CairnKey **key;
  char (*enc)[65];
  char **name;
  uint64_t *nonce; /* the first im.send nonce */

  /* messages */
  CairnTx **tx;
  GHashTable *by_id;  /* id_hex -> index + 1; read-only once signed */
  gint64 *submit_us;  /* written by the submitter of the tx's batch */
  gint64 *commit_us;  /* written by the block stream only */
  gint64 *deliver_us; /* written by the recipient's stream only */
  gint *sampled;      /* user -> stream index + 1, or 0 */
  GMutex sign_lock;
  GError *sign_error;

  /* streams */
  Stream blocks;
  Stream *streams;
  guint n_streams;

  /* shared, under lock */
  GMutex lock;
  GCond cond;
  guint submitted;
  guint accepted;
  guint rejected;
  guint retries;
  guint committed;
  guint delivered;
  guint expected;   /* accepted txs to a sampled recipient */
  gint64 submit_t0; /* the schedule's start, set before the submitters */
  gint64 first_submit_us;
  gint64 submit_end_us;
  gint64 last_commit_us;
  gint64 last_deliver_us;
  GHashTable *reasons; /* code -> count */
  GArray *blocks_seen; /* BlockSeen, during the run */
  gboolean running;    /* submission started: record blocks */
  guint submitters_done;

  /* results */
  guint recorded;
  GHashTable *fail_reasons; /* code -> count, of probed failures */
};

static void set_error (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static void
set_error (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
}

static void note (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
note (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("im-bench: %s\n", msg);
}

static double
elapsed_s (gint64 since_us)
{
  return (g_get_monotonic_time () - since_us) / 1e6;
}

/* ---- HTTP (libsoup 3, sync; one session per thread) ---- */

static SoupSession *
session_new (guint timeout_s)
{
  SoupSession *s = soup_session_new_with_options (
      "timeout", timeout_s, "user-agent", "im-bench", "max-conns-per-host", 4,
      NULL);
  soup_session_set_proxy_resolver (s, NULL); /* loopback testnets */
  return s;
}

/* The JSON reply of METHOD base+path, whatever its status (in *status). */
static json_t *
http_call (SoupSession *s, GCancellable *cancel, const char *base,
           const char *method, const char *path, const char *body, gsize len,
           guint *status, GError **error)
{
  g_autofree char *url = g_strconcat (base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  if (msg == NULL) {
    set_error (error, "bad URL '%s'", url);
    return NULL;
  }
  soup_message_headers_replace (soup_message_get_request_headers (msg),
                                "Accept", "application/json");
  if (body) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, len);
    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) reply
      = soup_session_send_and_read (s, msg, cancel, &local);
  if (reply == NULL) {
    set_error (error, "%s %s: %s", method, url, local->message);
    return NULL;
  }
  *status = soup_message_get_status (msg);
  gsize size = 0;
  const char *data = g_bytes_get_data (reply, &size);
  json_t *v = size ? json_loadb (data, size, JSON_DECODE_ANY, NULL) : NULL;
  if (v == NULL)
    set_error (error, "%s %s: HTTP %u with a body that is not JSON: '%.*s'",
               method, url, *status, (int)MIN (size, 200), data ? data : "");
  return v;
}

static char *
api_error_text (const json_t *reply)
{
  json_t *err = json_object_get (reply, "error");
  const char *code = json_string_value (json_object_get (err, "code"));
  const char *msg = json_string_value (json_object_get (err, "message"));
  if (code || msg)
    return g_strdup_printf ("%s: %s", code ? code : "error", msg ? msg : "");
  return json_dumps (reply, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The reply when 2xx, else an error with the API's reason. */
static json_t *
http_ok (SoupSession *s, GCancellable *cancel, const char *base,
         const char *method, const char *path, const char *body, gsize len,
         GError **error)
{
  guint status = 0;
  json_t *v
      = http_call (s, cancel, base, method, path, body, len, &status, error);
  if (v == NULL || (status >= 200 && status < 300))
    return v;
  g_autofree char *text = api_error_text (v);
  json_decref (v);
  set_error (error, "%s %s%s: HTTP %u %s", method, base, path, status, text);
  return NULL;
}

/* ---- users ---- */

static gboolean
make_users (Bench *b, GError **error)
{
  b->key = g_new0 (CairnKey *, b->users);
  b->enc = g_malloc0_n (b->users, sizeof *b->enc);
  b->name = g_new0 (char *, b->users + 1);
  b->nonce = g_new0 (uint64_t, b->users);
  for (gint u = 0; u < b->users; u++) {
    if ((b->key[u] = cairn_key_generate (error)) == NULL)
      return FALSE;
    uint8_t enc[32];
    for (guint k = 0; k < 32; k += 4) {
      guint32 r = g_random_int ();
      memcpy (enc + k, &r, 4);
    }
    enc[0] |= 1; /* never all zero */
    g_autofree char *hex = cairn_hex_encode (enc, 32);
    memcpy (b->enc[u], hex, 65);
    b->name[u] = g_strdup_printf ("imb-%s-%d", b->tag, u);
  }
  return TRUE;
}

/* POST /v1/im/registrations for every user at the registrar, then wait
 * until each im.register committed and succeeded. */
static gboolean
register_users (Bench *b, SoupSession *s, GError **error)
{
  const char *reg = b->nodes[0];
  g_autofree char **ids = g_new0 (char *, b->users + 1);
  gboolean ok = TRUE;
  gint64 t0 = g_get_monotonic_time ();
  for (gint u = 0; u < b->users && ok; u++) {
    g_autoptr (json_t) req = json_pack (
        "{s:s,s:s,s:I}", "name", b->name[u], "enc_pubkey", b->enc[u],
        "timestamp", (json_int_t)(g_get_real_time () / 1000));
    size_t len;
    g_autofree char *msg = cairn_cjson_dump (req, &len, error);
    if (msg == NULL) {
      ok = FALSE;
      break;
    }
    uint8_t sig[64];
    cairn_key_sign (b->key[u], DOMAIN_REGISTER, msg, len, sig);
    g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
    g_autofree char *pk_hex
        = cairn_hex_encode (cairn_key_pubkey (b->key[u]), 32);
    g_autoptr (json_t) post = json_pack ("{s:O,s:s,s:s}", "request", req,
                                         "pubkey", pk_hex, "sig", sig_hex);
    g_autofree char *text = json_dumps (post, JSON_COMPACT | JSON_SORT_KEYS);
    g_autoptr (json_t) reply
        = http_ok (s, b->cancel, reg, "POST", "/v1/im/registrations", text,
                   strlen (text), error);
    const char *id = json_string_value (json_object_get (reply, "tx"));
    if (reply == NULL || id == NULL) {
      if (reply != NULL)
        set_error (error, "POST /v1/im/registrations: no \"tx\" in the reply");
      g_prefix_error (error, "registering '%s': ", b->name[u]);
      ok = FALSE;
      break;
    }
    ids[u] = g_strdup (id);
  }
  for (gint u = 0; u < b->users && ok; u++) {
    g_autofree char *path = g_strdup_printf ("/v1/txs/%s", ids[u]);
    for (;;) {
      guint status = 0;
      g_autoptr (GError) local = NULL;
      g_autoptr (json_t) t = http_call (s, b->cancel, reg, "GET", path, NULL, 0,
                                        &status, &local);
      if (t && status == 200
          && g_strcmp0 (json_string_value (json_object_get (t, "status")),
                        "committed")
                 == 0) {
        json_t *result = json_object_get (t, "result");
        if (!json_is_true (json_object_get (result, "ok"))) {
          g_autofree char *r = json_dumps (result, JSON_COMPACT);
          set_error (error, "im.register of '%s' failed on chain: %s",
                     b->name[u], r);
          ok = FALSE;
        }
        break;
      }
      if (elapsed_s (t0) > SETUP_WAIT_S) {
        set_error (error,
                   "im.register of '%s' (tx %s) not committed after %d s",
                   b->name[u], ids[u], SETUP_WAIT_S);
        ok = FALSE;
        break;
      }
      g_usleep (50000);
    }
  }
  for (gint u = 0; u < b->users; u++)
    g_free (ids[u]);
  if (ok)
    note ("registered %d users at %s in %.2f s", b->users, reg, elapsed_s (t0));
  return ok;
}

/* Each user: im.settings {"allow_strangers": true}, committed. */
static gboolean
allow_strangers (Bench *b, SoupSession *s, GError **error)
{
  const char *node = b->nodes[0];
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) txs
      = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  g_autoptr (GString) body = g_string_new ("[");
  g_autoptr (json_t) settings = json_pack ("{s:b}", "allow_strangers", 1);
  for (gint u = 0; u < b->users; u++) {
    g_autofree char *path
        = g_strdup_printf ("/v1/accounts/%s", cairn_key_address (b->key[u]));
    guint status = 0;
    g_autoptr (json_t) acc
        = http_call (s, b->cancel, node, "GET", path, NULL, 0, &status, error);
    if (acc == NULL)
      return FALSE;
    json_t *n = json_object_get (acc, "next_nonce");
    if (n == NULL)
      n = json_object_get (acc, "nonce");
    uint64_t nonce = status == 200 && json_is_integer (n)
                         ? (uint64_t)json_integer_value (n)
                         : 0;
    CairnTx *tx = cairn_tx_sign (b->key[u], b->chain_id, "im.settings", nonce,
                                 settings, error);
    if (tx == NULL)
      return FALSE;
    b->nonce[u] = nonce + 1;
    g_ptr_array_add (txs, tx);
    g_string_append_printf (body, "%s%s", u ? "," : "", tx->bytes);
  }
  g_string_append_c (body, ']');
  g_autoptr (json_t) reply = http_ok (s, b->cancel, node, "POST", "/v1/txs",
                                      body->str, body->len, error);
  if (reply == NULL)
    return FALSE;
  json_t *results = json_object_get (reply, "results");
  for (guint i = 0; i < txs->len; i++) {
    json_t *err = json_object_get (json_array_get (results, i), "error");
    if (err) {
      g_autofree char *text = json_dumps (err, JSON_COMPACT | JSON_ENCODE_ANY);
      set_error (error, "im.settings of '%s' refused: %s", b->name[i], text);
      return FALSE;
    }
  }
  for (guint i = 0; i < txs->len; i++) {
    CairnTx *tx = txs->pdata[i];
    g_autofree char *path = g_strdup_printf ("/v1/txs/%s", tx->id_hex);
    for (;;) {
      guint status = 0;
      g_autoptr (GError) local = NULL;
      g_autoptr (json_t) t = http_call (s, b->cancel, node, "GET", path, NULL,
                                        0, &status, &local);
      if (t && status == 200
          && g_strcmp0 (json_string_value (json_object_get (t, "status")),
                        "committed")
                 == 0) {
        json_t *result = json_object_get (t, "result");
        if (!json_is_true (json_object_get (result, "ok"))) {
          g_autofree char *r = json_dumps (result, JSON_COMPACT);
          set_error (error, "im.settings of '%s' failed on chain: %s",
                     b->name[i], r);
          return FALSE;
        }
        break;
      }
      if (elapsed_s (t0) > SETUP_WAIT_S) {
        set_error (error, "im.settings tx %s not committed after %d s",
                   tx->id_hex, SETUP_WAIT_S);
        return FALSE;
      }
      g_usleep (50000);
    }
  }
  note ("%d users allow strangers (im.settings committed in %.2f s)", b->users,
        elapsed_s (t0));
  return TRUE;
}

/* ---- messages ---- */

static CairnTx *
sign_message (Bench *b, gint i, uint64_t nonce, GError **error)
{
  gint from = i % b->users, to = (i + 1) % b->users;
  g_autofree char *seed = g_strdup_printf ("im-bench %s %d", b->tag, i);
  uint8_t sha[32], cid_digest[32];
  cairn_sha256 (seed, strlen (seed), sha);
  cairn_sha256 (sha, 32, cid_digest);
  g_autofree char *sha_hex = cairn_hex_encode (sha, 32);
  g_autofree char *cid = cairn_cid_raw_sha256 (cid_digest);
  g_autoptr (json_t) body = json_pack (
      "{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "to", cairn_key_address (b->key[to]),
      "kind", "text", "cid", cid, "content_sha256", sha_hex, "size",
      (json_int_t)MSG_SIZE, "timestamp",
      (json_int_t)(g_get_real_time () / 1000), "store", b->store);
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (body, &len, error);
  if (msg == NULL)
    return NULL;
  uint8_t sig[64];
  cairn_key_sign (b->key[from], DOMAIN_MESSAGE, msg, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  json_object_set_new (body, "sig", json_string (sig_hex));
  return cairn_tx_sign (b->key[from], b->chain_id, "im.send", nonce, body,
                        error);
}

static void
sign_sender (gpointer data, gpointer user_data)
{
  Bench *b = user_data;
  gint from = GPOINTER_TO_INT (data) - 1;
  uint64_t nonce = b->nonce[from];
  for (gint i = from; i < b->messages; i += b->users) {
    GError *err = NULL;
    if ((b->tx[i] = sign_message (b, i, nonce++, &err)) == NULL) {
      g_mutex_lock (&b->sign_lock);
      if (b->sign_error == NULL)
        b->sign_error = err;
      else
        g_error_free (err);
      g_mutex_unlock (&b->sign_lock);
      return;
    }
  }
}

static gboolean
sign_all (Bench *b, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  b->tx = g_new0 (CairnTx *, b->messages);
  guint threads = MAX (1u, g_get_num_processors ());
  GThreadPool *pool
      = g_thread_pool_new (sign_sender, b, (gint)threads, FALSE, error);
  if (pool == NULL)
    return FALSE;
  for (gint u = 0; u < b->users && u < b->messages; u++)
    g_thread_pool_push (pool, GINT_TO_POINTER (u + 1), NULL);
  g_thread_pool_free (pool, FALSE, TRUE);
  if (b->sign_error) {
    g_propagate_prefixed_error (error, g_steal_pointer (&b->sign_error),
                                "signing an im.send: ");
    return FALSE;
  }
  b->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  guint64 bytes = 0;
  for (gint i = 0; i < b->messages; i++) {
    g_hash_table_insert (b->by_id, b->tx[i]->id_hex, GINT_TO_POINTER (i + 1));
    bytes += b->tx[i]->len;
  }
  note ("signed %d im.send txs (2 signatures each, %" G_GUINT64_FORMAT
        " bytes on average) on %u threads in %.2f s",
        b->messages, bytes / (guint64)b->messages, threads, elapsed_s (t0));
  return TRUE;
}

/* ---- event streams (one thread, context and session each) ---- */

static void
stream_set_state (Stream *st, SseState state, const GError *error)
{
  Bench *b = st->b;
  g_mutex_lock (&b->lock);
  st->state = state;
  if (error && st->error == NULL)
    st->error = g_error_copy (error);
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static gint
tx_index (Bench *b, const char *id_hex)
{
  return id_hex ? GPOINTER_TO_INT (g_hash_table_lookup (b->by_id, id_hex)) - 1
                : -1;
}

static void
on_block (Stream *st, json_t *obj)
{
  Bench *b = st->b;
  if (g_strcmp0 (json_string_value (json_object_get (obj, "type")), "block")
      != 0)
    return;
  json_t *attrs = json_object_get (obj, "attrs");
  gint64 now = g_get_monotonic_time ();
  guint n = 0;
  size_t k;
  json_t *id;
  json_t *txs = json_object_get (attrs, "txs");
  json_array_foreach (txs, k, id)
  {
    gint i = tx_index (b, json_string_value (id));
    if (i >= 0 && b->commit_us[i] == 0) {
      b->commit_us[i] = now;
      n++;
    }
  }
  BlockSeen seen = {
    .height = (guint64)json_integer_value (json_object_get (attrs, "height")),
    .seen_us = now,
    .txs = (guint)json_array_size (txs),
    .ours = n,
  };
  g_mutex_lock (&b->lock);
  b->committed += n;
  if (n)
    b->last_commit_us = now;
  if (b->running)
    g_array_append_val (b->blocks_seen, seen);
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static void
on_message (Stream *st, json_t *rec)
{
  Bench *b = st->b;
  gint i = tx_index (b, json_string_value (json_object_get (rec, "id")));
  if (i < 0 || b->deliver_us[i] != 0)
    return;
  gint64 now = g_get_monotonic_time ();
  b->deliver_us[i] = now;
  g_mutex_lock (&b->lock);
  b->delivered++;
  b->last_deliver_us = now;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
}

static void
stream_dispatch (Stream *st, const char *event, const char *data)
{
  g_autoptr (json_t) obj = json_loads (data, 0, NULL);
  if (!json_is_object (obj))
    return;
  st->events++;
  if (st->user < 0)
    on_block (st, obj);
  else if (g_strcmp0 (event, "message") == 0)
    on_message (st, obj);
}

static void
stream_read (Stream *st, GInputStream *in)
{
  Bench *b = st->b;
  g_autoptr (GDataInputStream) data = g_data_input_stream_new (in);
  g_data_input_stream_set_newline_type (data, G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_autofree char *event = NULL;
  g_autoptr (GString) payload = g_string_new (NULL);
  for (;;) {
    g_autoptr (GError) error = NULL;
    gsize len = 0;
    g_autofree char *line
        = g_data_input_stream_read_line (data, &len, b->cancel, &error);
    if (line == NULL) {
      if (error == NULL)
        set_error (&error, "the node closed the stream %s", st->url);
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        stream_set_state (st, SSE_ENDED, error);
      return;
    }
    if (len && line[len - 1] == '\r')
      line[--len] = '\0';
    if (len == 0) {
      if (payload->len)
        stream_dispatch (st, event, payload->str);
      g_string_truncate (payload, 0);
      g_clear_pointer (&event, g_free);
    } else if (g_str_has_prefix (line, "data:")) {
      if (payload->len)
        g_string_append_c (payload, '\n');
      g_string_append (payload, line + 5 + (line[5] == ' '));
    } else if (g_str_has_prefix (line, "event:")) {
      g_free (event);
      event = g_strdup (line + 6 + (line[6] == ' '));
    }
  }
}

static gpointer
stream_main (gpointer data)
{
  Stream *st = data;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  {
    g_autoptr (SoupSession) s = session_new (0);
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in = NULL;
    /* 503: the node still counts the streams of an earlier run, whose
     * end it notices only when a ping fails (every 15 s). */
    gint64 deadline = g_get_monotonic_time () + STREAM_BUSY_S * G_USEC_PER_SEC;
    for (;;) {
      g_autoptr (SoupMessage) msg = soup_message_new ("GET", st->url);
      if (msg == NULL) {
        set_error (&error, "bad URL '%s'", st->url);
        break;
      }
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Accept", "text/event-stream");
      in = soup_session_send (s, msg, st->b->cancel, &error);
      guint status = in ? soup_message_get_status (msg) : 0;
      if (in == NULL || status == 200)
        break;
      g_clear_object (&in);
      if (status != 503 || g_get_monotonic_time () > deadline) {
        set_error (&error, "GET %s: HTTP %u", st->url, status);
        break;
      }
      g_usleep (G_USEC_PER_SEC);
    }
    stream_set_state (st, in ? SSE_CONNECTED : SSE_ENDED, error);
    if (in)
      stream_read (st, in);
    stream_set_state (st, SSE_ENDED, NULL);
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return NULL;
}

static void
stream_start (Stream *st)
{
  st->state = SSE_CONNECTING;
  st->thread = g_thread_new ("im-bench-sse", stream_main, st);
}

static gboolean
stream_wait (Bench *b, Stream *st, GError **error)
{
  gint64 deadline
      = g_get_monotonic_time () + (STREAM_BUSY_S + 10) * G_USEC_PER_SEC;
  g_mutex_lock (&b->lock);
  while (st->state == SSE_CONNECTING)
    if (!g_cond_wait_until (&b->cond, &b->lock, deadline))
      break;
  SseState state = st->state;
  g_mutex_unlock (&b->lock);
  if (state == SSE_CONNECTED)
    return TRUE;
  set_error (error, "cannot follow %s: %s", st->url,
             st->error ? st->error->message : "no answer");
  return FALSE;
}

/* The block events and the inbox streams of up to --sample recipients,
 * evenly spread, each from the last seq of its inbox. */
static gboolean
open_streams (Bench *b, SoupSession *s, GError **error)
{
  b->blocks.b = b;
  b->blocks.user = -1;
  b->blocks.url = g_strconcat (b->stream_node, "/v1/events?types=block", NULL);
  stream_start (&b->blocks);
  if (!stream_wait (b, &b->blocks, error))
    return FALSE;
  guint n = (guint)MIN (b->sample, b->users);
  b->streams = g_new0 (Stream, n);
  b->sampled = g_new0 (gint, b->users);
  for (guint k = 0; k < n; k++) {
    gint u = (gint)((guint64)k * b->users / n);
    const char *addr = cairn_key_address (b->key[u]);
    g_autofree char *path = g_strdup_printf ("/v1/im/inbox/%s?limit=1", addr);
    g_autoptr (json_t) box
        = http_ok (s, b->cancel, b->stream_node, "GET", path, NULL, 0, error);
    if (box == NULL)
      return FALSE;
    json_int_t last = json_integer_value (json_object_get (box, "last"));
    Stream *st = &b->streams[k];
    st->b = b;
    st->user = u;
    st->url = g_strdup_printf ("%s/v1/im/stream/%s?after=%" JSON_INTEGER_FORMAT,
                               b->stream_node, addr, last);
    b->sampled[u] = (gint)k + 1;
    stream_start (st);
    b->n_streams = k + 1;
  }
  for (guint k = 0; k < b->n_streams; k++)
    if (!stream_wait (b, &b->streams[k], error))
      return FALSE;
  note ("following block events and %u recipients' inbox streams on %s",
        b->n_streams, b->stream_node);
  return TRUE;
}

static void
streams_stop (Bench *b)
{
  g_cancellable_cancel (b->cancel);
  if (b->blocks.thread)
    g_thread_join (b->blocks.thread);
  b->blocks.thread = NULL;
  for (guint k = 0; k < b->n_streams; k++)
    if (b->streams[k].thread) {
      g_thread_join (b->streams[k].thread);
      b->streams[k].thread = NULL;
    }
}

/* ---- submission ---- */

static void
count_reject (Bench *b, const char *code)
{
  b->rejected++;
  gpointer old = g_hash_table_lookup (b->reasons, code);
  g_hash_table_replace (b->reasons, g_strdup (code),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
}

static const char *
error_code (const json_t *reply, guint status, char buf[32])
{
  const char *code = json_string_value (
      json_object_get (json_object_get (reply, "error"), "code"));
  if (code)
    return code;
  g_snprintf (buf, 32, "http_%u", status);
  return buf;
}

/* Txs [first, last) to node j; a tx refused with mempool_full is sent again
 * after a pause until the node takes it or DRAIN_IDLE_S pass without one
 * taken. */
static gboolean
submit_range (Submitter *sub, SoupSession *s, gint first, gint last,
              GError **error)
{
  Bench *b = sub->b;
  const char *url = b->nodes[sub->node];
  g_autoptr (GArray) pending = g_array_new (FALSE, FALSE, sizeof (gint));
  for (gint i = first; i < last; i++)
    g_array_append_val (pending, i);
  g_mutex_lock (&b->lock);
  b->submitted += last - first;
  g_mutex_unlock (&b->lock);
  gint64 stuck_since = 0;
  while (pending->len > 0) {
    g_autoptr (GString) body = g_string_sized_new (pending->len * 900);
    g_string_append_c (body, '[');
    for (guint k = 0; k < pending->len; k++) {
      CairnTx *tx = b->tx[g_array_index (pending, gint, k)];
      if (k)
        g_string_append_c (body, ',');
      g_string_append_len (body, tx->bytes, tx->len);
    }
    g_string_append_c (body, ']');
    gint64 now = g_get_monotonic_time ();
    for (guint k = 0; k < pending->len; k++)
      b->submit_us[g_array_index (pending, gint, k)] = now;
    g_mutex_lock (&b->lock);
    if (b->first_submit_us == 0 || now < b->first_submit_us)
      b->first_submit_us = now;
    g_mutex_unlock (&b->lock);
    guint status = 0;
    g_autoptr (json_t) reply = http_call (s, b->cancel, url, "POST", "/v1/txs",
                                          body->str, body->len, &status, error);
    if (reply == NULL)
      return FALSE;
    json_t *results = json_object_get (reply, "results");
    g_autoptr (GArray) retry = g_array_new (FALSE, FALSE, sizeof (gint));
    guint took = 0, to_sampled = 0;
    g_mutex_lock (&b->lock);
    for (guint k = 0; k < pending->len; k++) {
      gint i = g_array_index (pending, gint, k);
      json_t *r = json_array_get (results, k);
      char buf[32];
      const char *code = NULL;
      if (status != 200 || r == NULL)
        code = error_code (reply, status, buf);
      else if (json_object_get (r, "error"))
        code = error_code (r, status, buf);
      if (code == NULL) {
        took++;
        if (b->sampled[(i + 1) % b->users])
          to_sampled++;
      } else if (g_str_equal (code, "mempool_full"))
        g_array_append_val (retry, i);
      else {
        b->submit_us[i] = 0;
        count_reject (b, code);
      }
    }
    b->accepted += took;
    b->expected += to_sampled;
    g_cond_broadcast (&b->cond);
    g_mutex_unlock (&b->lock);
    if (retry->len == 0)
      return TRUE;
    now = g_get_monotonic_time ();
    if (took > 0 || stuck_since == 0)
      stuck_since = now;
    g_mutex_lock (&b->lock);
    if (now - stuck_since > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      for (guint k = 0; k < retry->len; k++) {
        b->submit_us[g_array_index (retry, gint, k)] = 0;
        count_reject (b, "mempool_full");
      }
      g_mutex_unlock (&b->lock);
      return TRUE;
    }
    b->retries++;
    g_mutex_unlock (&b->lock);
    g_array_set_size (pending, 0);
    g_array_append_vals (pending, retry->data, retry->len);
    g_usleep (20000);
  }
  return TRUE;
}

static gpointer
submitter_main (gpointer data)
{
  Submitter *sub = data;
  Bench *b = sub->b;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  {
    g_autoptr (SoupSession) s = session_new (120);
    gint n_batches = (b->messages + b->batch - 1) / b->batch;
    for (gint k = (gint)sub->node; k < n_batches; k += (gint)b->n_nodes) {
      gint first = k * b->batch;
      if (b->rate > 0) {
        gint64 due
            = b->submit_t0 + (gint64)((double)first / b->rate * G_USEC_PER_SEC);
        gint64 now = g_get_monotonic_time ();
        if (due > now)
          g_usleep (due - now);
      }
      if (g_cancellable_is_cancelled (b->cancel))
        break;
      if (!submit_range (sub, s, first, MIN (first + b->batch, b->messages),
                         &sub->error))
        break;
    }
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_mutex_lock (&b->lock);
  b->submitters_done++;
  g_cond_broadcast (&b->cond);
  g_mutex_unlock (&b->lock);
  return NULL;
}

static void
progress_line (Bench *b, const char *phase)
{
  g_mutex_lock (&b->lock);
  g_printerr ("im-bench: %-10s %6.1f s  submitted %u  accepted %u  "
              "rejected %u  committed %u  delivered %u/%u  blocks %u\n",
              phase, b->first_submit_us ? elapsed_s (b->first_submit_us) : 0,
              b->submitted, b->accepted, b->rejected, b->committed,
              b->delivered, b->expected, b->blocks_seen->len);
  g_mutex_unlock (&b->lock);
}

static gboolean
submit_all (Bench *b, GError **error)
{
  Submitter subs[MAX_NODES] = { 0 };
  g_mutex_lock (&b->lock);
  b->running = TRUE;
  g_mutex_unlock (&b->lock);
  b->submit_t0 = g_get_monotonic_time ();
  for (guint j = 0; j < b->n_nodes; j++) {
    subs[j] = (Submitter){ .b = b, .node = j };
    subs[j].thread = g_thread_new ("im-bench-submit", submitter_main, &subs[j]);
  }
  gint64 last_progress = g_get_monotonic_time ();
  g_mutex_lock (&b->lock);
  while (b->submitters_done < b->n_nodes) {
    g_cond_wait_until (&b->cond, &b->lock, g_get_monotonic_time () + 100000);
    if (b->verbose
        && g_get_monotonic_time () - last_progress > G_USEC_PER_SEC) {
      last_progress = g_get_monotonic_time ();
      g_mutex_unlock (&b->lock);
      progress_line (b, "submitting");
      g_mutex_lock (&b->lock);
    }
  }
  b->submit_end_us = g_get_monotonic_time ();
  g_mutex_unlock (&b->lock);
  gboolean ok = TRUE;
  for (guint j = 0; j < b->n_nodes; j++) {
    g_thread_join (subs[j].thread);
    if (subs[j].error && ok) {
      g_propagate_prefixed_error (error, g_steal_pointer (&subs[j].error),
                                  "submitting to %s: ", b->nodes[j]);
      ok = FALSE;
    }
    g_clear_error (&subs[j].error);
  }
  return ok;
}

/* Until every accepted tx committed and every one to a sampled recipient
 * was delivered, or nothing commits for DRAIN_IDLE_S (or nothing is
 * delivered for DELIVER_IDLE_S after the last commit). */
static gboolean
drain (Bench *b, GError **error)
{
  gint64 last_progress = g_get_monotonic_time ();
  gboolean warned = FALSE;
  g_mutex_lock (&b->lock);
  for (;;) {
    gint64 now = g_get_monotonic_time ();
    if (b->blocks.state == SSE_ENDED) {
      g_mutex_unlock (&b->lock);
      set_error (error, "the block event stream ended: %s",
                 b->blocks.error ? b->blocks.error->message : "?");
      return FALSE;
    }
    for (guint k = 0; k < b->n_streams && !warned; k++)
      if (b->streams[k].state == SSE_ENDED) {
        warned = TRUE;
        note ("the inbox stream %s ended early: %s", b->streams[k].url,
              b->streams[k].error ? b->streams[k].error->message : "?");
      }
    if (b->committed >= b->accepted) {
      if (b->delivered >= b->expected)
        break;
      gint64 idle_from = MAX (b->last_deliver_us, b->last_commit_us);
      if (now - idle_from > DELIVER_IDLE_S * G_USEC_PER_SEC) {
        note ("%u of %u messages to sampled recipients not on their streams "
              "%d s after the last commit",
              b->expected - b->delivered, b->expected, DELIVER_IDLE_S);
        break;
      }
    } else if (now - MAX (b->last_commit_us, b->submit_end_us)
               > DRAIN_IDLE_S * G_USEC_PER_SEC) {
      note ("%u accepted txs not committed after %d s without a commit",
            b->accepted - b->committed, DRAIN_IDLE_S);
      break;
    }
    g_cond_wait_until (&b->cond, &b->lock, now + 100000);
    if (b->verbose
        && g_get_monotonic_time () - last_progress > G_USEC_PER_SEC) {
      last_progress = g_get_monotonic_time ();
      g_mutex_unlock (&b->lock);
      progress_line (b, "draining");
      g_mutex_lock (&b->lock);
    }
  }
  g_mutex_unlock (&b->lock);
  return TRUE;
}

/* The messages the chain recorded: the senders' outbox counts. And the
 * results of a few committed txs that never reached a sampled stream. */
static gboolean
check_recorded (Bench *b, SoupSession *s, GError **error)
{
  guint recorded = 0;
  for (gint u = 0; u < b->users && u < b->messages; u++) {
    g_autofree char *path = g_strdup_printf ("/v1/im/outbox/%s?limit=1",
                                             cairn_key_address (b->key[u]));
    g_autoptr (json_t) box
        = http_ok (s, NULL, b->stream_node, "GET", path, NULL, 0, error);
    if (box == NULL)
      return FALSE;
    recorded += (guint)json_integer_value (json_object_get (box, "last"));
  }
  b->recorded = recorded;
  guint probes = 0;
  for (gint i = 0; i < b->messages && probes < FAIL_PROBES; i++) {
    if (b->commit_us[i] == 0 || b->deliver_us[i] != 0
        || !b->sampled[(i + 1) % b->users])
      continue;
    probes++;
    g_autofree char *path = g_strdup_printf ("/v1/txs/%s", b->tx[i]->id_hex);
    guint status = 0;
    g_autoptr (GError) local = NULL;
    g_autoptr (json_t) t = http_call (s, NULL, b->stream_node, "GET", path,
                                      NULL, 0, &status, &local);
    json_t *result = json_object_get (t, "result");
    const char *code
        = json_is_true (json_object_get (result, "ok"))
              ? "ok_but_not_streamed"
              : json_string_value (json_object_get (result, "code"));
    if (code == NULL)
      code = "unknown";
    gpointer old = g_hash_table_lookup (b->fail_reasons, code);
    g_hash_table_replace (b->fail_reasons, g_strdup (code),
                          GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + 1));
    if (probes == 1 && !json_is_true (json_object_get (result, "ok"))) {
      g_autofree char *text = json_dumps (result, JSON_COMPACT);
      note ("e.g. tx %s: %s", b->tx[i]->id_hex, text ? text : "(no result)");
    }
  }
  return TRUE;
}

/* ---- report ---- */

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
percentile (const GArray *sorted, double q)
{
  if (sorted->len == 0)
    return 0;
  guint rank = (guint)ceil (q * sorted->len);
  return g_array_index (sorted, double, MAX (rank, 1u) - 1);
}

static double
round1 (double v)
{
  return round (v * 10) / 10;
}

static json_t *
counts_json (GHashTable *h)
{
  json_t *o = json_object ();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, h);
  while (g_hash_table_iter_next (&it, &k, &v))
    json_object_set_new (o, k, json_integer (GPOINTER_TO_UINT (v)));
  return o;
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
report (Bench *b, double bench_cpu_s)
{
  g_autoptr (GArray) commit = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) deliver = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) lag = g_array_new (FALSE, FALSE, sizeof (double));
  gint64 last_commit = 0;
  for (gint i = 0; i < b->messages; i++) {
    if (b->submit_us[i] == 0)
      continue;
    if (b->commit_us[i]) {
      double ms = MAX (0, b->commit_us[i] - b->submit_us[i]) / 1000.0;
      g_array_append_val (commit, ms);
      last_commit = MAX (last_commit, b->commit_us[i]);
    }
    if (b->deliver_us[i]) {
      double ms = MAX (0, b->deliver_us[i] - b->submit_us[i]) / 1000.0;
      g_array_append_val (deliver, ms);
      if (b->commit_us[i]) {
        double l = (b->deliver_us[i] - b->commit_us[i]) / 1000.0;
        g_array_append_val (lag, l);
      }
    }
  }
  g_array_sort (commit, compare_double);
  g_array_sort (deliver, compare_double);
  g_array_sort (lag, compare_double);
  guint committed = commit->len;
  double duration = committed && b->first_submit_us
                        ? MAX (1, last_commit - b->first_submit_us) / 1e6
                        : 0;
  double mps = duration > 0 ? committed / duration : 0;
  double recorded_mps
      = duration > 0 ? MIN (b->recorded, committed) / duration : 0;
  double submit_s = (b->submit_end_us - b->first_submit_us) / 1e6;
  double offered = submit_s > 0 ? b->submitted / submit_s : 0;

  /* Blocks with our txs: count, size, interval. */
  guint blocks = 0, max_txs = 0;
  gint64 first_us = 0, last_us = 0;
  for (guint k = 0; k < b->blocks_seen->len; k++) {
    BlockSeen *bs = &g_array_index (b->blocks_seen, BlockSeen, k);
    if (bs->ours == 0)
      continue;
    if (blocks++ == 0)
      first_us = bs->seen_us;
    last_us = bs->seen_us;
    max_txs = MAX (max_txs, bs->txs);
  }
  double interval_ms
      = blocks > 1 ? (last_us - first_us) / 1000.0 / (blocks - 1) : 0;

  g_autoptr (json_t) reasons = counts_json (b->reasons);
  g_autoptr (json_t) fails = counts_json (b->fail_reasons);
  g_autofree char *reason_text
      = json_dumps (reasons, JSON_COMPACT | JSON_SORT_KEYS);
  g_autofree char *fail_text
      = json_dumps (fails, JSON_COMPACT | JSON_SORT_KEYS);
  g_autofree char *rate = b->rate > 0 ? g_strdup_printf ("%.0f msg/s", b->rate)
                                      : g_strdup ("unlimited");
  g_print ("im-bench: %d messages, %d users, %u nodes, batch %d, rate %s, "
           "stream node %s\n",
           b->messages, b->users, b->n_nodes, b->batch, rate, b->stream_node);
  g_print ("  offered     %u submitted in %.2f s = %.0f msg/s\n", b->submitted,
           submit_s, offered);
  g_print ("  committed   %u of %u accepted in %.2f s = %.1f msg/s\n",
           committed, b->accepted, duration, mps);
  g_print ("  recorded    %u (senders' outbox counts)%s\n", b->recorded,
           b->recorded < committed ? "  ** some committed im.send failed **"
                                   : "");
  g_print ("  delivery    p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms "
           "(%u of %u to %u sampled recipients)\n",
           percentile (deliver, 0.5), percentile (deliver, 0.9),
           percentile (deliver, 0.99), percentile (deliver, 1.0), deliver->len,
           b->expected, b->n_streams);
  g_print ("  commit      p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms\n",
           percentile (commit, 0.5), percentile (commit, 0.9),
           percentile (commit, 0.99), percentile (commit, 1.0));
  g_print ("  stream lag  p50 %.0f ms  p99 %.0f ms (commit event to the "
           "record on the inbox stream)\n",
           percentile (lag, 0.5), percentile (lag, 0.99));
  g_print ("  blocks      %u with our txs, mean interval %.0f ms, largest %u "
           "txs\n",
           blocks, interval_ms, max_txs);
  g_print ("  rejected    %u %s\n", b->rejected,
           b->rejected ? reason_text : "");
  if (b->retries)
    g_print ("  retries     %u batches resent after mempool_full\n",
             b->retries);
  if (g_hash_table_size (b->fail_reasons))
    g_print ("  not streamed (probed results) %s\n", fail_text);
  g_print ("  im-bench    %.1f CPU s in all (signing included)\n", bench_cpu_s);
  if (!b->json)
    return;
  g_autoptr (json_t) out = json_object ();
  json_object_set_new (out, "committed_mps", json_real (round1 (mps)));
  json_object_set_new (out, "recorded_mps", json_real (round1 (recorded_mps)));
  json_object_set_new (out, "p50_ms",
                       json_real (round1 (percentile (deliver, 0.5))));
  json_object_set_new (out, "p90_ms",
                       json_real (round1 (percentile (deliver, 0.9))));
  json_object_set_new (out, "p99_ms",
                       json_real (round1 (percentile (deliver, 0.99))));
  json_object_set_new (out, "max_ms",
                       json_real (round1 (percentile (deliver, 1.0))));
  json_object_set_new (out, "commit_p50_ms",
                       json_real (round1 (percentile (commit, 0.5))));
  json_object_set_new (out, "commit_p99_ms",
                       json_real (round1 (percentile (commit, 0.99))));
  json_object_set_new (out, "stream_lag_p99_ms",
                       json_real (round1 (percentile (lag, 0.99))));
  json_object_set_new (out, "rejected", json_integer (b->rejected));
  json_object_set_new (out, "rejected_by_reason", json_incref (reasons));
  json_object_set_new (out, "rate", json_real (b->rate));
  json_object_set_new (out, "offered_mps", json_real (round1 (offered)));
  json_object_set_new (out, "messages", json_integer (b->messages));
  json_object_set_new (out, "submitted", json_integer (b->submitted));
  json_object_set_new (out, "accepted", json_integer (b->accepted));
  json_object_set_new (out, "committed", json_integer (committed));
  json_object_set_new (out, "recorded", json_integer (b->recorded));
  json_object_set_new (out, "delivered", json_integer (deliver->len));
  json_object_set_new (out, "expected_deliveries", json_integer (b->expected));
  json_object_set_new (out, "not_streamed", json_incref (fails));
  json_object_set_new (out, "duration_s", json_real (round1 (duration)));
  json_object_set_new (out, "users", json_integer (b->users));
  json_object_set_new (out, "nodes", json_integer (b->n_nodes));
  json_object_set_new (out, "batch", json_integer (b->batch));
  json_object_set_new (out, "streams", json_integer (b->n_streams));
  json_object_set_new (out, "blocks", json_integer (blocks));
  json_object_set_new (out, "block_interval_ms",
                       json_real (round1 (interval_ms)));
  json_object_set_new (out, "max_block_txs", json_integer (max_txs));
  json_object_set_new (out, "retries", json_integer (b->retries));
  json_object_set_new (out, "bench_cpu_s", json_real (round1 (bench_cpu_s)));
  g_autofree char *line = json_dumps (out, JSON_COMPACT | JSON_SORT_KEYS
                                               | JSON_REAL_PRECISION (12));
  g_print ("%s\n", line);
}

/* ---- the run ---- */

static gboolean
run (Bench *b, GError **error)
{
  g_autoptr (SoupSession) s = session_new (60);
  g_autoptr (json_t) st = http_ok (s, b->cancel, b->nodes[0], "GET",
                                   "/v1/status", NULL, 0, error);
  if (st == NULL)
    return FALSE;
  const char *chain = json_string_value (json_object_get (st, "chain_id"));
  const char *node = json_string_value (json_object_get (st, "node"));
  if (chain == NULL || node == NULL || !cairn_address_valid (node)) {
    set_error (error, "GET %s/v1/status: no chain_id or node address",
               b->nodes[0]);
    return FALSE;
  }
  b->chain_id = g_strdup (chain);
  g_strlcpy (b->store, node, sizeof b->store);
  if (!make_users (b, error) || !register_users (b, s, error)
      || !allow_strangers (b, s, error) || !sign_all (b, error))
    return FALSE;
  b->submit_us = g_new0 (gint64, b->messages);
  b->commit_us = g_new0 (gint64, b->messages);
  b->deliver_us = g_new0 (gint64, b->messages);
  gboolean ok = open_streams (b, s, error);
  if (ok) {
    g_autofree char *rate = b->rate > 0
                                ? g_strdup_printf ("%.0f msg/s", b->rate)
                                : g_strdup ("full speed");
    note ("submitting %d messages to %u node(s) at %s", b->messages, b->n_nodes,
          rate);
    ok = submit_all (b, error) && drain (b, error);
  }
  if (b->verbose)
    progress_line (b, "done");
  streams_stop (b);
  if (!ok)
    return FALSE;
  if (!check_recorded (b, s, error))
    return FALSE;
  report (b, cpu_seconds ());
  if (b->accepted == 0 || b->committed == 0) {
    set_error (error, "no message was %s",
               b->accepted == 0 ? "accepted" : "committed");
    return FALSE;
  }
  return TRUE;
}

static void
bench_free (Bench *b)
{
  for (gint i = 0; b->tx && i < b->messages; i++)
    if (b->tx[i])
      cairn_tx_unref (b->tx[i]);
  g_free (b->tx);
  for (gint u = 0; b->key && u < b->users; u++)
    g_clear_pointer (&b->key[u], cairn_key_free);
  g_free (b->key);
  g_free (b->enc);
  g_strfreev (b->name);
  g_free (b->nonce);
  g_clear_pointer (&b->by_id, g_hash_table_unref);
  g_clear_pointer (&b->reasons, g_hash_table_unref);
  g_clear_pointer (&b->fail_reasons, g_hash_table_unref);
  g_clear_pointer (&b->blocks_seen, g_array_unref);
  g_free (b->submit_us);
  g_free (b->commit_us);
  g_free (b->deliver_us);
  g_free (b->sampled);
  g_free (b->blocks.url);
  g_clear_error (&b->blocks.error);
  for (guint k = 0; k < b->n_streams; k++) {
    g_free (b->streams[k].url);
    g_clear_error (&b->streams[k].error);
  }
  g_free (b->streams);
  g_clear_error (&b->sign_error);
  g_clear_object (&b->cancel);
  g_mutex_clear (&b->lock);
  g_mutex_clear (&b->sign_lock);
  g_cond_clear (&b->cond);
  g_free (b->chain_id);
  g_strfreev (b->nodes);
  g_free (b->stream_node);
}

static void
strip_slash (char *url)
{
  gsize n = strlen (url);
  while (n > 0 && url[n - 1] == '/')
    url[--n] = '\0';
}

int
main (int argc, char **argv)
{
  Bench b = {
    .users = 200,
    .messages = 30000,
    .rate = 1000,
    .batch = 200,
    .sample = 50,
  };
  const GOptionEntry entries[] = {
    { "node", 0, 0, G_OPTION_ARG_STRING_ARRAY, &b.nodes,
      "A node's API (repeat; the first registers users and is the store)",
      "URL" },
    { "stream-node", 0, 0, G_OPTION_ARG_STRING, &b.stream_node,
      "The node whose inbox streams and block events are timed (default: "
      "the first --node)",
      "URL" },
    { "users", 0, 0, G_OPTION_ARG_INT, &b.users, "Users (default 200)", "N" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &b.messages,
      "Messages to send (default 30000)", "M" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &b.rate,
      "Offered messages/s, open loop (default 1000; 0 = as fast as taken)",
      "R" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &b.batch,
      "Txs per POST /v1/txs (default 200)", "B" },
    { "sample", 0, 0, G_OPTION_ARG_INT, &b.sample,
      "Recipients whose inbox stream is timed (default 50, at most 60)", "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &b.json, "End with one line of JSON",
      NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &b.verbose,
      "Progress on stderr once a second", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- im messages/s and delivery latency");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("im-bench: %s\n", error->message);
    return 2;
  }
  b.n_nodes = b.nodes ? g_strv_length (b.nodes) : 0;
  const char *bad = argc > 1                                  ? argv[1]
                    : b.n_nodes < 1 || b.n_nodes > MAX_NODES  ? "--node"
                    : b.users < 2 || b.users > 100000         ? "--users"
                    : b.messages < 1 || b.messages > 10000000 ? "--messages"
                    : !(b.rate >= 0) || isinf (b.rate)        ? "--rate"
                    : b.batch < 1 || b.batch > 10000          ? "--batch"
                    : b.sample < 0 || b.sample > MAX_SAMPLE   ? "--sample"
                                                              : NULL;
  if (bad && argc > 1) {
    g_printerr ("im-bench: unexpected argument '%s'\n", bad);
    g_strfreev (b.nodes);
    g_free (b.stream_node);
    return 2;
  }
  if (bad) {
    g_printerr ("im-bench: %s: bad value or argument (--node URL 1..%d times, "
                "users 2..100000, messages 1..10000000, rate >= 0, batch "
                "1..10000, sample 0..%d)\n",
                bad, MAX_NODES, MAX_SAMPLE);
    g_strfreev (b.nodes);
    g_free (b.stream_node);
    return 2;
  }
  for (guint j = 0; j < b.n_nodes; j++)
    strip_slash (b.nodes[j]);
  if (b.stream_node == NULL)
    b.stream_node = g_strdup (b.nodes[0]);
  strip_slash (b.stream_node);
  g_mutex_init (&b.lock);
  g_mutex_init (&b.sign_lock);
  g_cond_init (&b.cond);
  b.cancel = g_cancellable_new ();
  b.reasons = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.fail_reasons
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b.blocks_seen = g_array_new (FALSE, FALSE, sizeof (BlockSeen));
  g_snprintf (b.tag, sizeof b.tag, "%08x", g_random_int ());

  gboolean ok = run (&b, &error);
  streams_stop (&b);
  if (!ok)
    g_printerr ("im-bench: %s\n", error ? error->message : "failed");
  bench_free (&b);
  return ok ? 0 : 1;
}

/* The mock host's execution: tx contexts, genesis, blocks with their
 * hooks, txs (check, apply in a child overlay, nonces), the mempool,
 * events and subscriptions, and the chain a consensus engine drives
 * (block_build/commit/discard/get, chain_head, submit_tx). See
 * <cairn/testing/mock_host.h>; the node's originals are core/executor.c,
 * core/chain.c and core/events.c. */
#include <string.h>

#include "mock_private.h"

#define NONCE_PREFIX "core/nonce/"

/* ---- contexts ---- */

CairnTxCtx *
cairn_test__ctx_new (CairnTestHost *h, CairnBlock *b, const char *sender)
{
  CairnTxCtx *tx = g_new0 (CairnTxCtx, 1);
  tx->host = h;
  tx->writes = cairn_test__kv_new ();
  tx->parent = b != NULL ? b->writes : NULL;
  tx->events = json_array ();
  tx->id = g_strdup ("");
  tx->type = g_strdup ("");
  tx->sender = g_strdup (sender != NULL ? sender : "");
  const char *pk = g_hash_table_lookup (h->pubkeys, tx->sender);
  tx->pubkey = g_strdup (pk != NULL ? pk : "");
  tx->info = (CairnTxInfo){
    .size = sizeof (CairnTxInfo),
    .index = b != NULL ? (uint32_t)json_array_size (b->txs) : 0,
    .id = tx->id,
    .type = tx->type,
    .sender = tx->sender,
    .sender_pubkey = tx->pubkey,
    .height = b != NULL ? b->height : 0,
    .time_ms = b != NULL ? b->time_ms : h->head.time_ms,
    .chain_id = h->chain_id,
    .proposer = b != NULL ? b->proposer : "",
  };
  return tx;
}

void
cairn_test__ctx_free (CairnTxCtx *tx)
{
  if (tx == NULL)
    return;
  g_tree_unref (tx->writes);
  json_decref (tx->events);
  g_free (tx->id);
  g_free (tx->type);
  g_free (tx->sender);
  g_free (tx->pubkey);
  g_free (tx);
}

static const CairnTxInfo *
m_tx_info (CairnTxCtx *tx)
{
  if (tx == NULL)
    g_error ("mock host: tx_info (NULL): there is no tx outside a handler");
  return &tx->info;
}

static gboolean
event_type_ok (CairnTestPlugin *tp, const char *type, json_t *attrs)
{
  g_autofree char *prefix = g_strconcat (tp->desc->id, ".", NULL);
  return type != NULL && g_str_has_prefix (type, prefix)
         && strlen (type) > strlen (prefix)
         && cairn_test__name_chars_valid (type)
         && (attrs == NULL || json_is_object (attrs));
}

static void
m_emit_event (CairnPlugin *self, CairnTxCtx *tx, const char *type,
              json_t *attrs)
{
  CairnTestPlugin *tp = (CairnTestPlugin *)self;
  cairn_test__host_of (self);
  if (tx == NULL || !event_type_ok (tp, type, attrs)) {
    /* The node drops it with a critical: a plugin bug, fatal in a test. */
    g_critical ("plugin %s: event '%s' dropped: events need a tx, a type "
                "'%s.<name>' and object attrs",
                tp->desc->id, type ? type : "(null)", tp->desc->id);
    json_decref (attrs);
    return;
  }
  json_array_append_new (tx->events,
                         json_pack ("{s:s, s:o}", "type", type, "attrs",
                                    attrs ? attrs : json_object ()));
}

/* ---- events ---- */

static void
sweep (CairnTestHost *h)
{
  for (guint i = h->subs->len; i > 0; i--)
    if (((MockSub *)h->subs->pdata[i - 1])->removed)
      g_ptr_array_remove_index (h->subs, i - 1);
}

void
cairn_test__publish (CairnTestHost *h, const CairnEvent *ev, gboolean local)
{
  json_array_append_new (
      h->events,
      json_pack ("{s:s, s:I, s:o, s:o, s:O, s:b}", "type", ev->type, "height",
                 (json_int_t)ev->height, "tx_id",
                 ev->tx_id ? json_string (ev->tx_id) : json_null (), "tx_index",
                 ev->tx_index == UINT32_MAX ? json_null ()
                                            : json_integer (ev->tx_index),
                 "attrs", ev->attrs, "local", local));
  guint n = h->subs->len; /* new subscribers wait for the next event */
  h->publishing++;
  for (guint i = 0; i < n; i++) {
    MockSub *s = h->subs->pdata[i];
    if (s->removed || !g_str_has_prefix (ev->type, s->prefix))
      continue;
    s->fn ((CairnPlugin *)s->tp, ev, s->user_data);
  }
  if (--h->publishing == 0)
    sweep (h);
}

static guint
m_subscribe (CairnPlugin *self, const char *type_prefix, CairnEventFn fn,
             void *user_data)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (fn == NULL)
    g_error ("mock host: plugin '%s' subscribed without a function",
             ((CairnTestPlugin *)self)->desc->id);
  MockSub *s = g_new0 (MockSub, 1);
  *s = (MockSub){ .id = ++h->next_sub,
                  .tp = (CairnTestPlugin *)self,
                  .prefix = g_strdup (type_prefix ? type_prefix : ""),
                  .fn = fn,
                  .user_data = user_data };
  g_ptr_array_add (h->subs, s);
  return s->id;
}

static void
m_unsubscribe (CairnPlugin *self, guint id)
{
  CairnTestHost *h = cairn_test__host_of (self);
  for (guint i = 0; i < h->subs->len; i++) {
    MockSub *s = h->subs->pdata[i];
    if (s->id == id)
      s->removed = TRUE;
  }
  if (h->publishing == 0)
    sweep (h);
}

static void
m_emit_local_event (CairnPlugin *self, const char *type, json_t *attrs)
{
  CairnTestPlugin *tp = (CairnTestPlugin *)self;
  CairnTestHost *h = cairn_test__host_of (self);
  if (!event_type_ok (tp, type, attrs)) {
    g_critical ("plugin %s: local event '%s' dropped: it needs a type "
                "'%s.<name>' and object attrs",
                tp->desc->id, type ? type : "(null)", tp->desc->id);
    json_decref (attrs);
    return;
  }
  g_autoptr (json_t) a = attrs ? attrs : json_object ();
  CairnEvent ev = { .size = sizeof (CairnEvent),
                    .tx_index = UINT32_MAX,
                    .type = type,
                    .height = h->head.height,
                    .attrs = a };
  cairn_test__publish (h, &ev, TRUE);
}

const json_t *
cairn_test_host_events (CairnTestHost *h)
{
  return h->events;
}

json_t *
cairn_test_host_events_matching (CairnTestHost *h, const char *type_prefix)
{
  json_t *out = json_array ();
  size_t i;
  json_t *e;
  json_array_foreach (h->events, i, e)
  {
    if (g_str_has_prefix (json_string_value (json_object_get (e, "type")),
                          type_prefix ? type_prefix : ""))
      json_array_append (out, e);
  }
  return out;
}

void
cairn_test_host_clear_events (CairnTestHost *h)
{
  json_array_clear (h->events);
}

/* ---- blocks ---- */

static CairnBlock *
block_new (CairnTestHost *h, uint64_t height, int64_t time_ms)
{
  CairnBlock *b = g_new0 (CairnBlock, 1);
  b->host = h;
  b->height = height;
  b->time_ms = time_ms;
  b->base_height = h->head.height;
  b->writes = cairn_test__kv_new ();
  b->txs = json_array ();
  b->results = json_array ();
  b->hook_events = json_array ();
  g_strlcpy (b->prev_hash, h->head_hash, sizeof b->prev_hash);
  g_strlcpy (b->proposer, height == 0 ? "" : h->node.address,
             sizeof b->proposer);
  return b;
}

static void
block_free (CairnBlock *b)
{
  if (b == NULL)
    return;
  g_tree_unref (b->writes);
  json_decref (b->txs);
  json_decref (b->results);
  json_decref (b->hook_events);
  json_decref (b->header);
  g_free (b->bytes);
  g_free (b);
}

/* The next block's time: the clock's, kept above the head's. */
static int64_t
next_time (CairnTestHost *h, int64_t want)
{
  int64_t t = want != 0 ? want : h->now_ms;
  return t > h->head.time_ms ? t : h->head.time_ms + 1;
}

static gboolean
run_hooks (CairnTestHost *h, CairnBlock *b, gboolean begin, GError **error)
{
  for (guint i = 0; i < h->apps->len; i++) {
    MockApp *a = h->apps->pdata[i];
    gboolean (*hook) (CairnPlugin *, CairnTxCtx *, GError **)
        = begin ? a->iface.begin_block : a->iface.end_block;
    if (hook == NULL)
      continue;
    CairnTxCtx *ctx = cairn_test__ctx_new (h, b, "");
    GError *local = NULL;
    h->executing++;
    gboolean ok = hook ((CairnPlugin *)a->tp, ctx, &local);
    h->executing--;
    if (ok) {
      cairn_test__merge (ctx->writes, b->writes, FALSE);
      json_array_extend (b->hook_events, ctx->events);
    }
    cairn_test__ctx_free (ctx);
    if (!ok) {
      if (local == NULL)
        g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "the hook failed without saying why");
      g_propagate_prefixed_error (
          error, local, "%s %s_block at height %" G_GUINT64_FORMAT ": ",
          a->tp->desc->id, begin ? "begin" : "end", b->height);
      return FALSE;
    }
  }
  return TRUE;
}

typedef struct {
  GString *s;
} RootCtx;

static gboolean
root_one (gpointer key, gpointer value, gpointer data)
{
  GString *s = data;
  g_string_append (s, key);
  g_string_append_c (s, '\0');
  if (value == NULL) {
    g_string_append (s, "-");
  } else {
    gsize len;
    const char *p = g_bytes_get_data (value, &len);
    g_string_append_printf (s, "=%" G_GSIZE_FORMAT ":", len);
    g_string_append_len (s, p, (gssize)len);
  }
  g_string_append_c (s, '\0');
  return FALSE;
}

/* Header, hash, state root and bytes of an executed block. */
static void
finish_block (CairnTestHost *h, CairnBlock *b, const json_t *consensus)
{
  g_autoptr (GString) s = g_string_new (h->state_root);
  g_tree_foreach (b->writes, root_one, s);
  g_autofree char *root = cairn_test__sha256_hex (s->str, s->len);
  g_strlcpy (b->state_root, root, sizeof b->state_root);
  b->header = json_pack (
      "{s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "chain_id", h->chain_id, "height",
      (json_int_t)b->height, "prev_hash", b->prev_hash, "proposer", b->proposer,
      "state_root", b->state_root, "time", (json_int_t)b->time_ms, "tx_count",
      (json_int_t)json_array_size (b->txs));
  if (consensus != NULL)
    json_object_set_new (b->header, "consensus", json_deep_copy (consensus));
  size_t hlen;
  g_autofree char *htext = cairn_test__cjson_dump (b->header, &hlen, NULL);
  g_assert_nonnull (htext);
  g_autofree char *hash = cairn_test__sha256_hex (htext, hlen);
  g_strlcpy (b->hash, hash, sizeof b->hash);
  g_autoptr (json_t) whole
      = json_pack ("{s:O, s:O}", "header", b->header, "txs", b->txs);
  size_t blen;
  b->bytes = cairn_test__cjson_dump (whole, &blen, NULL);
  b->info = (CairnBlockInfo){ .size = sizeof (CairnBlockInfo),
                              .n_txs = (uint32_t)json_array_size (b->txs),
                              .height = b->height,
                              .time_ms = b->time_ms,
                              .hash = b->hash,
                              .prev_hash = b->prev_hash,
                              .proposer = b->proposer,
                              .state_root = b->state_root,
                              .header = b->header,
                              .bytes = (const uint8_t *)b->bytes,
                              .len = blen };
}

/* Makes an executed, finished block the head and publishes its events;
 * frees b. */
static void
commit_block (CairnTestHost *h, CairnBlock *b, const json_t *cert)
{
  cairn_test__merge (b->writes, h->state, TRUE);
  json_t *stored
      = json_pack ("{s:O, s:O, s:O, s:O, s:s}", "header", b->header, "txs",
                   b->txs, "results", b->results, "certificate",
                   cert ? cert : json_null (), "hash", b->hash);
  g_assert_cmpuint (h->blocks->len, ==, b->height);
  g_ptr_array_add (h->blocks, stored);
  h->head.height = b->height;
  h->head.time_ms = b->time_ms;
  g_strlcpy (h->head_hash, b->hash, sizeof h->head_hash);
  g_strlcpy (h->state_root, b->state_root, sizeof h->state_root);
  if (b->height == 0) {
    block_free (b);
    return; /* genesis publishes nothing */
  }
  /* As core/chain.c: the block, the hooks' events, then each tx's. */
  json_t *ids = json_array ();
  size_t i;
  json_t *t;
  json_array_foreach (b->txs, i, t)
      json_array_append (ids, json_object_get (t, "id"));
  g_autoptr (json_t) attrs = json_pack (
      "{s:I, s:s, s:I, s:I, s:s, s:o}", "height", (json_int_t)b->height, "hash",
      b->hash, "time", (json_int_t)b->time_ms, "tx_count",
      (json_int_t)json_array_size (b->txs), "proposer", b->proposer, "txs",
      ids);
  CairnEvent ev = { .size = sizeof (CairnEvent),
                    .tx_index = UINT32_MAX,
                    .type = "block",
                    .height = b->height,
                    .attrs = attrs };
  cairn_test__publish (h, &ev, FALSE);
  json_t *e;
  json_array_foreach (b->hook_events, i, e)
  {
    CairnEvent hev = { .size = sizeof (CairnEvent),
                       .tx_index = UINT32_MAX,
                       .type = json_string_value (json_object_get (e, "type")),
                       .height = b->height,
                       .attrs = json_object_get (e, "attrs") };
    cairn_test__publish (h, &hev, FALSE);
  }
  json_array_foreach (b->txs, i, t)
  {
    size_t j;
    json_t *events = json_object_get (json_array_get (b->results, i), "events");
    json_array_foreach (events, j, e)
    {
      CairnEvent tev = {
        .size = sizeof (CairnEvent),
        .tx_index = (uint32_t)i,
        .type = json_string_value (json_object_get (e, "type")),
        .height = b->height,
        .tx_id = json_string_value (json_object_get (t, "id")),
        .attrs = json_object_get (e, "attrs"),
      };
      cairn_test__publish (h, &tev, FALSE);
    }
  }
  if (h->engine != NULL && h->consensus.on_block_committed != NULL)
    h->consensus.on_block_committed ((CairnPlugin *)h->engine, &b->info);
  block_free (b);
}

/* ---- genesis ---- */

static void
put_str (CairnBlock *b, const char *key, const char *value)
{
  g_tree_insert (b->writes, g_strdup (key),
                 g_bytes_new (value, strlen (value)));
}

static void
grant (CairnBlock *b, const char *address, const char *role)
{
  if (address == NULL || role == NULL)
    return;
  g_autofree char *key = g_strdup_printf ("core/role/%s/%s", address, role);
  put_str (b, key, "1");
}

gboolean
cairn_test_host_genesis (CairnTestHost *h, GError **error)
{
  if (h->genesis_done)
    g_error ("mock host: genesis has run already");
  const json_t *doc = h->genesis;
  CairnBlock *b = block_new (h, 0, h->head.time_ms);
  const json_t *admin = json_object_get (doc, "admin");
  if (admin != NULL) {
    g_autofree char *text = cairn_test__cjson_dump (admin, NULL, NULL);
    if (text != NULL)
      put_str (b, "core/admin", text);
  }
  size_t i, j;
  json_t *acct, *role, *val;
  json_array_foreach (json_object_get (doc, "accounts"), i, acct)
  {
    const char *addr = json_string_value (json_object_get (acct, "address"));
    json_array_foreach (json_object_get (acct, "roles"), j, role)
        grant (b, addr, json_string_value (role));
  }
  json_array_foreach (json_object_get (doc, "validators"), i, val) grant (
      b, json_string_value (json_object_get (val, "address")), "validator");

  MockService *bank
      = g_hash_table_lookup (h->services, CAIRN_BANK_SERVICE "/1");
  if (bank != NULL && bank->tp == NULL) {
    CairnTxCtx *ctx = cairn_test__ctx_new (h, b, "");
    gboolean ok = cairn_test__bank_genesis (h, ctx, error);
    if (ok)
      cairn_test__merge (ctx->writes, b->writes, FALSE);
    cairn_test__ctx_free (ctx);
    if (!ok) {
      g_prefix_error (error, "genesis of the mock host's bank: ");
      block_free (b);
      return FALSE;
    }
  }
  for (guint a = 0; a < h->apps->len; a++) {
    MockApp *app = h->apps->pdata[a];
    if (app->iface.genesis == NULL)
      continue;
    CairnTxCtx *ctx = cairn_test__ctx_new (h, b, "");
    GError *local = NULL;
    h->executing++;
    gboolean ok = app->iface.genesis ((CairnPlugin *)app->tp, ctx, doc, &local);
    h->executing--;
    if (ok)
      cairn_test__merge (ctx->writes, b->writes, FALSE);
    cairn_test__ctx_free (ctx);
    if (!ok) {
      if (local == NULL)
        g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "the hook failed without saying why");
      g_propagate_prefixed_error (error, local,
                                  "genesis of plugin %s: ", app->tp->desc->id);
      block_free (b);
      return FALSE;
    }
  }
  finish_block (h, b, NULL);
  h->genesis_done = TRUE;
  commit_block (h, b, NULL);
  return TRUE;
}

static void
ensure_genesis (CairnTestHost *h)
{
  g_autoptr (GError) error = NULL;
  if (!h->genesis_done && !cairn_test_host_genesis (h, &error))
    g_error ("mock host: genesis failed: %s (call cairn_test_host_genesis "
             "or cairn_test_host_start first to see it as an error)",
             error->message);
}

/* ---- the explicit block ---- */

gboolean
cairn_test_host_begin_block (CairnTestHost *h, GError **error)
{
  if (h->block != NULL)
    g_error ("mock host: begin_block: block %" G_GUINT64_FORMAT
             " is still open (end or discard it first)",
             h->block->height);
  if (!h->genesis_done && !cairn_test_host_genesis (h, error))
    return FALSE;
  CairnBlock *b = block_new (h, h->head.height + 1, next_time (h, 0));
  if (!run_hooks (h, b, TRUE, error)) {
    block_free (b);
    return FALSE;
  }
  h->block = b;
  return TRUE;
}

gboolean
cairn_test_host_end_block (CairnTestHost *h, GError **error)
{
  CairnBlock *b = h->block;
  if (b == NULL)
    g_error ("mock host: end_block without an open block (begin_block)");
  if (!run_hooks (h, b, FALSE, error)) {
    h->block = NULL;
    block_free (b);
    return FALSE;
  }
  h->block = NULL;
  finish_block (h, b, NULL);
  commit_block (h, b, NULL);
  return TRUE;
}

void
cairn_test_host_discard_block (CairnTestHost *h)
{
  if (h->block == NULL)
    g_error ("mock host: discard_block without an open block");
  g_clear_pointer (&h->block, block_free);
}

gboolean
cairn_test_host_in_block (CairnTestHost *h)
{
  return h->block != NULL;
}

uint64_t
cairn_test_host_height (CairnTestHost *h)
{
  return h->head.height;
}

int64_t
cairn_test_host_head_time (CairnTestHost *h)
{
  return h->head.time_ms;
}

const json_t *
cairn_test_host_block (CairnTestHost *h, uint64_t height)
{
  return height < h->blocks->len ? h->blocks->pdata[height] : NULL;
}

/* ---- txs ---- */

static json_t *
failure (const char *code, const char *message)
{
  return json_pack ("{s:b, s:s, s:s}", "ok", 0, "code", code, "error", message);
}

static uint64_t
account_nonce (CairnTestHost *h, CairnTxCtx *ctx, const char *address)
{
  g_autofree char *key = g_strconcat (NONCE_PREFIX, address, NULL);
  g_autoptr (GBytes) v = cairn_test__read (h, ctx, key);
  if (v == NULL)
    return 0;
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  g_autofree char *text = g_strndup (p, len);
  guint64 n;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &n, NULL))
    g_error ("mock host: state %s: bad nonce record '%s'", key, text);
  return n;
}

static char *
tx_id (CairnTestHost *h, const char *sender, const char *type, uint64_t nonce,
       const json_t *body)
{
  g_autoptr (json_t) o = json_pack ("{s:O, s:s, s:s, s:I, s:s}", "body", body,
                                    "chain_id", h->chain_id, "from", sender,
                                    "nonce", (json_int_t)nonce, "type", type);
  size_t len;
  g_autofree char *text = cairn_test__cjson_dump (o, &len, NULL);
  g_assert_nonnull (text);
  return cairn_test__sha256_hex (text, len);
}

/* The body text as JSON (integers only), or INVALID. */
static json_t *
parse_body (const char *type, const char *body_json, GError **error)
{
  json_t *body = cairn_test__cjson_parse (
      body_json, body_json != NULL ? strlen (body_json) : 0, FALSE, error);
  if (body == NULL)
    g_prefix_error (error, "tx %s: body: ", type);
  return body;
}

static MockTxType *
find_type (CairnTestHost *h, const char *type, GError **error)
{
  MockTxType *t = type != NULL ? g_hash_table_lookup (h->tx_types, type) : NULL;
  if (t == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "no loaded plugin handles tx type '%s'",
                 type ? type : "(null)");
  return t;
}

static gboolean
run_check (CairnTestHost *h, MockTxType *t, const json_t *body, GError **error)
{
  if (t->handler.check == NULL)
    return TRUE;
  GError *local = NULL;
  h->executing++;
  gboolean ok = t->handler.check ((CairnPlugin *)t->tp, body, &local);
  h->executing--;
  if (!ok && local == NULL)
    g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "check failed without saying why");
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

/* Executes one tx in block b (its nonce, then apply in a child overlay);
 * appends it and its result to the block. *result: new ref of the stored
 * result. FALSE with the handler's error when it failed. */
static gboolean
exec_tx (CairnTestHost *h, CairnBlock *b, const char *sender, MockTxType *t,
         const char *type, const json_t *body, const uint64_t *signed_nonce,
         json_t **result, GError **error)
{
  CairnTxCtx *ctx = cairn_test__ctx_new (h, b, sender);
  uint64_t nonce = account_nonce (h, ctx, sender);
  uint64_t used = signed_nonce != NULL ? *signed_nonce : nonce;
  g_autofree char *id = tx_id (h, sender, type, used, body);
  json_array_append_new (b->txs,
                         json_pack ("{s:O, s:s, s:s, s:I, s:s}", "body", body,
                                    "from", sender, "id", id, "nonce",
                                    (json_int_t)used, "type", type));
  json_t *res;
  GError *local = NULL;
  gboolean ok = FALSE;
  if (used != nonce) {
    g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "nonce %" G_GUINT64_FORMAT " but account %s expects "
                 "%" G_GUINT64_FORMAT,
                 used, sender, nonce);
    res = failure ("bad_nonce", local->message);
  } else {
    /* The nonce is consumed whatever the handler does. */
    g_autofree char *nkey = g_strconcat (NONCE_PREFIX, sender, NULL);
    g_autofree char *next = g_strdup_printf ("%" G_GUINT64_FORMAT, nonce + 1);
    put_str (b, nkey, next);
    g_free (ctx->id);
    ctx->id = g_strdup (id);
    g_free (ctx->type);
    ctx->type = g_strdup (type);
    ctx->info.id = ctx->id;
    ctx->info.type = ctx->type;
    ctx->info.nonce = nonce;
    h->executing++;
    ok = t->handler.apply ((CairnPlugin *)t->tp, ctx, body, &local);
    h->executing--;
    if (ok) {
      cairn_test__merge (ctx->writes, b->writes, FALSE);
      res = json_pack ("{s:b, s:O}", "ok", 1, "events", ctx->events);
      g_clear_error (&local); /* a handler that succeeds and sets one */
    } else {
      if (local == NULL)
        g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "handler failed without saying why");
      res = failure (local->domain == CAIRN_ERROR
                         ? cairn_error_code_name (local->code)
                         : "failed",
                     local->message);
    }
  }
  cairn_test__ctx_free (ctx);
  json_array_append_new (b->results, res);
  if (result != NULL) {
    *result = json_deep_copy (res);
    json_object_set_new (*result, "stage", json_string ("apply"));
    json_object_set_new (*result, "id", json_string (id));
    json_object_set_new (*result, "height",
                         json_integer ((json_int_t)b->height));
    json_object_set_new (
        *result, "index",
        json_integer ((json_int_t)json_array_size (b->txs) - 1));
  }
  if (local != NULL)
    g_propagate_error (error, local);
  return ok;
}

gboolean
cairn_test_host_check (CairnTestHost *h, const char *type,
                       const char *body_json, GError **error)
{
  MockTxType *t = find_type (h, type, error);
  if (t == NULL)
    return FALSE;
  g_autoptr (json_t) body = parse_body (type, body_json, error);
  return body != NULL && run_check (h, t, body, error);
}

static json_t *
refusal (const GError *e, const char *code)
{
  json_t *r
      = failure (code != NULL               ? code
                 : e->domain == CAIRN_ERROR ? cairn_error_code_name (e->code)
                                            : "failed",
                 e->message);
  json_object_set_new (r, "stage", json_string ("check"));
  return r;
}

gboolean
cairn_test_host_submit (CairnTestHost *h, const char *sender, const char *type,
                        const char *body_json, json_t **result, GError **error)
{
  GError *local = NULL;
  if (result != NULL)
    *result = NULL;
  if (sender == NULL || !cairn_test__address_valid (sender)) {
    g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "tx %s: sender '%s' is not an address (40 lowercase hex "
                 "characters; see cairn_test_host_account)",
                 type ? type : "(null)", sender ? sender : "(null)");
    if (result != NULL)
      *result = refusal (local, "malformed");
    g_propagate_error (error, local);
    return FALSE;
  }
  MockTxType *t = find_type (h, type, &local);
  g_autoptr (json_t) body = NULL;
  if (t == NULL) {
    if (result != NULL)
      *result = refusal (local, "unknown_type");
    g_propagate_error (error, local);
    return FALSE;
  }
  body = parse_body (type, body_json, &local);
  if (body == NULL || !run_check (h, t, body, &local)) {
    if (result != NULL)
      *result = refusal (local, body == NULL ? "invalid_body" : NULL);
    g_propagate_error (error, local);
    return FALSE;
  }
  ensure_genesis (h);
  gboolean implicit = h->block == NULL;
  if (implicit && !cairn_test_host_begin_block (h, error))
    return FALSE;
  gboolean ok
      = exec_tx (h, h->block, sender, t, type, body, NULL, result, error);
  if (implicit) {
    g_autoptr (GError) end_error = NULL;
    if (!cairn_test_host_end_block (h, &end_error)) {
      if (ok) {
        g_propagate_error (error, g_steal_pointer (&end_error));
        return FALSE;
      }
      /* The tx's own error is the one to report. */
    }
  }
  return ok;
}

CairnTxCtx *
cairn_test_host_tx_begin (CairnTestHost *h, const char *sender)
{
  g_autoptr (GError) error = NULL;
  if (sender == NULL
      || (*sender != '\0' && !cairn_test__address_valid (sender)))
    g_error ("mock host: tx_begin: sender '%s' is neither \"\" nor an "
             "address",
             sender ? sender : "(null)");
  ensure_genesis (h);
  gboolean implicit = h->block == NULL;
  if (implicit && !cairn_test_host_begin_block (h, &error))
    g_error ("mock host: tx_begin: the block's begin hooks failed: %s",
             error->message);
  CairnTxCtx *tx = cairn_test__ctx_new (h, h->block, sender);
  tx->implicit_block = implicit;
  return tx;
}

gboolean
cairn_test_host_tx_end (CairnTxCtx *tx, gboolean commit, GError **error)
{
  g_assert_nonnull (tx);
  CairnTestHost *h = tx->host;
  gboolean implicit = tx->implicit_block;
  if (h->block == NULL || tx->parent != h->block->writes)
    g_error ("mock host: tx_end: the block of this tx context is gone");
  if (commit) {
    cairn_test__merge (tx->writes, h->block->writes, FALSE);
    json_array_extend (h->block->hook_events, tx->events);
  }
  cairn_test__ctx_free (tx);
  return !implicit || cairn_test_host_end_block (h, error);
}

/* ---- the mempool ---- */

static void
pending_free (MockPending *p)
{
  g_free (p->type);
  json_decref (p->body);
  g_free (p);
}

static gboolean
notify_due (gpointer data)
{
  CairnTestHost *h = data;
  h->notify_timer = 0;
  if (h->engine != NULL && h->consensus.on_txs_available != NULL
      && h->mempool->len > 0)
    h->consensus.on_txs_available ((CairnPlugin *)h->engine);
  return G_SOURCE_REMOVE;
}

void
cairn_test__notify_engine (CairnTestHost *h)
{
  if (h->started && h->notify_timer == 0 && h->engine != NULL
      && h->consensus.on_txs_available != NULL)
    h->notify_timer = cairn_test__timer_add_host (h, 0, notify_due, h);
}

static void
queue (CairnTestHost *h, const char *sender, const char *type, json_t *body,
       const uint64_t *nonce)
{
  MockPending *p = g_new0 (MockPending, 1);
  g_strlcpy (p->sender, sender, sizeof p->sender);
  p->type = g_strdup (type);
  p->body = json_incref (body);
  if (nonce != NULL) {
    p->has_nonce = TRUE;
    p->nonce = *nonce;
  }
  g_ptr_array_add (h->mempool, p);
  cairn_test__notify_engine (h);
}

gboolean
cairn_test_host_queue_tx (CairnTestHost *h, const char *sender,
                          const char *type, const char *body_json,
                          GError **error)
{
  if (sender == NULL || !cairn_test__address_valid (sender))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "tx %s: sender '%s' is not an address",
                       type ? type : "(null)", sender ? sender : "(null)");
  MockTxType *t = find_type (h, type, error);
  if (t == NULL)
    return FALSE;
  g_autoptr (json_t) body = parse_body (type, body_json, error);
  if (body == NULL || !run_check (h, t, body, error))
    return FALSE;
  queue (h, sender, type, body, NULL);
  return TRUE;
}

guint
cairn_test_host_mempool_size (CairnTestHost *h)
{
  return h->mempool->len;
}

/* Executes the first n mempool txs in b (a tx whose type went away fails
 * as unknown_type, as on a node). */
static void
exec_pending (CairnTestHost *h, CairnBlock *b, guint n)
{
  for (guint i = 0; i < n && i < h->mempool->len; i++) {
    MockPending *p = h->mempool->pdata[i];
    MockTxType *t = g_hash_table_lookup (h->tx_types, p->type);
    if (t == NULL) {
      json_array_append_new (b->txs,
                             json_pack ("{s:O, s:s, s:s}", "body", p->body,
                                        "from", p->sender, "type", p->type));
      g_autofree char *m
          = g_strdup_printf ("no loaded plugin handles tx type '%s'", p->type);
      json_array_append_new (b->results, failure ("unknown_type", m));
      continue;
    }
    exec_tx (h, b, p->sender, t, p->type, p->body,
             p->has_nonce ? &p->nonce : NULL, NULL, NULL);
  }
}

static void
drop_pending (CairnTestHost *h, guint n)
{
  n = MIN (n, h->mempool->len);
  for (guint i = 0; i < n; i++)
    pending_free (h->mempool->pdata[i]);
  g_ptr_array_remove_range (h->mempool, 0, n);
}

gboolean
cairn_test_host_run_block (CairnTestHost *h, guint *n_txs, GError **error)
{
  guint n = h->mempool->len;
  if (!cairn_test_host_begin_block (h, error))
    return FALSE;
  exec_pending (h, h->block, n);
  drop_pending (h, n);
  if (n_txs != NULL)
    *n_txs = n;
  return cairn_test_host_end_block (h, error);
}

/* submit_tx (1.1): the node signs a tx of the plugin's own type. */
static gboolean
m_submit_tx (CairnPlugin *self, const char *type, const json_t *body, char **id,
             GError **error)
{
  CairnTestPlugin *tp = (CairnTestPlugin *)self;
  CairnTestHost *h = cairn_test__host_of (self);
  size_t plen = strlen (tp->desc->id);
  if (type == NULL || strncmp (type, tp->desc->id, plen) != 0
      || type[plen] != '.')
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: submit_tx of type '%s': the node signs "
                       "only txs of the plugin's own types (%s.*)",
                       tp->desc->id, type ? type : "(null)", tp->desc->id);
  if (h->executing > 0)
    return cairn_fail (error, CAIRN_ERROR_FAILED,
                       "plugin %s: submit_tx called from a tx handler or "
                       "block hook (allowed only from the main loop: routes, "
                       "timers, events)",
                       tp->desc->id);
  g_autofree char *text = cairn_test__cjson_dump (body, NULL, error);
  if (text == NULL)
    return FALSE;
  MockTxType *t = find_type (h, type, error);
  if (t == NULL || !run_check (h, t, body, error)) {
    g_prefix_error (error, "plugin %s: submit_tx %s: ", tp->desc->id, type);
    return FALSE;
  }
  /* The next free nonce: committed, plus the node's txs still waiting. */
  uint64_t nonce = account_nonce (h, NULL, h->node.address);
  for (guint i = 0; i < h->mempool->len; i++) {
    MockPending *p = h->mempool->pdata[i];
    if (strcmp (p->sender, h->node.address) == 0)
      nonce = MAX (nonce, (p->has_nonce ? p->nonce : nonce) + 1);
  }
  queue (h, h->node.address, type, (json_t *)body, &nonce);
  if (id != NULL)
    *id = tx_id (h, h->node.address, type, nonce, body);
  return TRUE;
}

/* ---- the chain, for consensus engines ---- */

static gboolean
is_engine (CairnPlugin *self, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (h->engine == (CairnTestPlugin *)self)
    return TRUE;
  return cairn_fail (error, CAIRN_ERROR_UNAUTHORIZED,
                     "plugin %s is not the consensus engine; only it builds "
                     "and commits blocks",
                     ((CairnTestPlugin *)self)->desc->id);
}

static const CairnChainHead *
m_chain_head (CairnPlugin *self)
{
  return &cairn_test__host_of (self)->head;
}

static guint
m_mempool_size (CairnPlugin *self)
{
  return cairn_test__host_of (self)->mempool->len;
}

static CairnBlock *
m_block_build (CairnPlugin *self, const CairnBuildOpts *opts, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (!is_engine (self, error))
    return NULL;
  if (h->block != NULL) {
    cairn_fail (error, CAIRN_ERROR_CONFLICT,
                "mock host: the test has block %" G_GUINT64_FORMAT
                " open (begin_block); end it before the engine builds",
                h->block->height);
    return NULL;
  }
  if (h->fail_build != NULL) {
    cairn_fail (error, CAIRN_ERROR_FAILED, "%s", h->fail_build);
    g_clear_pointer (&h->fail_build, g_free);
    return NULL;
  }
  CairnBuildOpts o = { 0 };
  if (opts != NULL)
    memcpy (&o, opts, MIN (sizeof o, MAX (opts->size, sizeof (uint32_t))));
  ensure_genesis (h);
  guint n = h->mempool->len;
  if (o.max_txs != 0)
    n = MIN (n, o.max_txs);
  if (n == 0 && !o.allow_empty)
    return NULL;
  CairnBlock *b = block_new (h, h->head.height + 1, next_time (h, o.time_ms));
  b->built = TRUE;
  if (!run_hooks (h, b, TRUE, error)) {
    block_free (b);
    return NULL;
  }
  exec_pending (h, b, n);
  if (!run_hooks (h, b, FALSE, error)) {
    block_free (b);
    return NULL;
  }
  finish_block (h, b, o.consensus);
  return b;
}

static const CairnBlockInfo *
m_block_info (CairnBlock *block)
{
  g_assert_nonnull (block);
  return &block->info;
}

static gboolean
m_block_commit (CairnPlugin *self, CairnBlock *block, const json_t *cert,
                GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (!is_engine (self, error)) {
    block_free (block);
    return FALSE;
  }
  if (block == NULL || !block->built)
    g_error ("mock host: block_commit of a block block_build did not make");
  if (block->base_height != h->head.height || h->block != NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFLICT,
                 "block %" G_GUINT64_FORMAT " was executed on head "
                 "%" G_GUINT64_FORMAT " but the head is now "
                 "%" G_GUINT64_FORMAT "%s",
                 block->height, block->base_height, h->head.height,
                 h->block != NULL ? " and the test has a block open" : "");
    block_free (block);
    return FALSE;
  }
  drop_pending (h, (guint)json_array_size (block->txs));
  commit_block (h, block, cert);
  return TRUE;
}

static void
m_block_discard (CairnPlugin *self, CairnBlock *block)
{
  block_free (block);
}

static json_t *
m_block_get (CairnPlugin *self, uint64_t height, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (height == CAIRN_HEAD)
    height = h->head.height;
  const json_t *b = cairn_test_host_block (h, height);
  if (b == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                 "no block at height %" G_GUINT64_FORMAT, height);
    return NULL;
  }
  return json_pack ("{s:O, s:O, s:O}", "certificate",
                    json_object_get (b, "certificate"), "header",
                    json_object_get (b, "header"), "txs",
                    json_object_get (b, "txs"));
}

void
cairn_test__fill_exec_table (CairnHost *t)
{
  t->tx_info = m_tx_info;
  t->emit_event = m_emit_event;
  t->subscribe = m_subscribe;
  t->unsubscribe = m_unsubscribe;
  t->emit_local_event = m_emit_local_event;
  t->submit_tx = m_submit_tx;
  t->chain_head = m_chain_head;
  t->mempool_size = m_mempool_size;
  t->block_build = m_block_build;
  t->block_info = m_block_info;
  t->block_commit = m_block_commit;
  t->block_discard = m_block_discard;
  t->block_get = m_block_get;
}

void
cairn_test_host_fail_next_build (CairnTestHost *h, const char *message)
{
  g_free (h->fail_build);
  h->fail_build = g_strdup (message);
}

void
cairn_test__exec_free (CairnTestHost *h)
{
  g_clear_pointer (&h->fail_build, g_free);
  g_clear_pointer (&h->block, block_free);
  drop_pending (h, h->mempool->len);
}

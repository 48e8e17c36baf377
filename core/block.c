/* Blocks: header + txs + commit certificate (see block.h).
 *
 * The encoding is never a dump of the whole block: since "certificate" <
 * "header" < "txs", the canonical block is the concatenation
 *   {"certificate":C,"header":H,"txs":[t1,t2,...]}
 * of the canonical certificate, the canonical header and each tx's own
 * canonical bytes. Decoding checks canonicity by streaming the same pieces
 * against the input, so neither direction re-serialises a tx.
 *
 * Errors: CAIRN_ERROR_INVALID for malformed input (with the field's path),
 * CAIRN_ERROR_CORRUPT when the block is well formed but its parts disagree
 * (tx_count, tx_root). */
#include "block.h"

#include "names.h"

#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cjson.h"
#include "crypto.h"

#define ZERO_HASH                                                              \
  "0000000000000000000000000000000000000000000000000000000000000000"

static const char *const header_fields[] = {
  "chain_id",   "consensus", "height",   "prev_hash", "proposer",
  "state_root", "time",      "tx_count", "tx_root",
};

static void
block_free (CairnBlockData *b)
{
  if (b->header != NULL)
    json_decref (b->header);
  if (b->certificate != NULL)
    json_decref (b->certificate);
  if (b->txs != NULL)
    g_ptr_array_unref (b->txs);
  g_free (b->chain_id);
  g_free (b->header_bytes);
  g_free (b);
}

static CairnBlockData *
block_alloc (void)
{
  CairnBlockData *b = g_new0 (CairnBlockData, 1);

  b->ref = 1;
  b->txs = g_ptr_array_new_with_free_func ((GDestroyNotify)cairn_tx_unref);
  return b;
}

#define INVALID(...)                                                           \
  (g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, __VA_ARGS__), FALSE)

/* Checks b->header and fills the fields it carries. */
static gboolean
header_check (CairnBlockData *b, const char *chain_id, GError **error)
{
  json_t *h = b->header;
  const char *key, *s;
  json_t *item, *v;

  if (!json_is_object (h))
    return INVALID ("header: must be a JSON object");
  json_object_foreach (h, key, item)
  {
    gboolean known = FALSE;
    for (size_t i = 0; i < G_N_ELEMENTS (header_fields) && !known; i++)
      known = strcmp (key, header_fields[i]) == 0;
    if (!known)
      return INVALID ("header: unknown field '%s'", key);
  }
  for (size_t i = 0; i < G_N_ELEMENTS (header_fields); i++)
    if (json_object_get (h, header_fields[i]) == NULL
        && strcmp (header_fields[i], "consensus") != 0)
      return INVALID ("header: missing field '%s'", header_fields[i]);

  s = json_string_value (json_object_get (h, "chain_id"));
  if (s == NULL || !cairn_chain_id_valid (s))
    return INVALID ("header.chain_id: must be a string of 1 to 64 "
                    "[A-Za-z0-9_.-]");
  if (chain_id != NULL && strcmp (s, chain_id) != 0)
    return INVALID ("header.chain_id: the block is for chain '%s', not '%s'", s,
                    chain_id);
  b->chain_id = g_strdup (s);

  v = json_object_get (h, "height");
  if (!json_is_integer (v) || json_integer_value (v) < 0)
    return INVALID ("header.height: must be a non-negative integer");
  b->height = (uint64_t)json_integer_value (v);

  v = json_object_get (h, "time");
  if (!json_is_integer (v) || json_integer_value (v) < 0)
    return INVALID ("header.time: must be a non-negative integer (ms since "
                    "the epoch)");
  b->time_ms = json_integer_value (v);

  s = json_string_value (json_object_get (h, "prev_hash"));
  if (!cairn_hex_lower_valid (s, 32))
    return INVALID ("header.prev_hash: must be 64 lowercase hex characters");
  if (b->height == 0 && strcmp (s, ZERO_HASH) != 0)
    return INVALID ("header.prev_hash: must be 64 zeros at height 0");
  memcpy (b->prev_hash, s, 65);

  s = json_string_value (json_object_get (h, "proposer"));
  if (s == NULL || (s[0] != '\0' && !cairn_address_valid (s)))
    return INVALID ("header.proposer: must be an address (40 lowercase hex "
                    "characters)");
  if (s[0] == '\0' && b->height != 0)
    return INVALID ("header.proposer: may only be empty at height 0");
  memcpy (b->proposer, s, strlen (s) + 1);

  s = json_string_value (json_object_get (h, "state_root"));
  if (!cairn_hex_lower_valid (s, 32))
    return INVALID ("header.state_root: must be 64 lowercase hex characters");
  memcpy (b->state_root, s, 65);

  s = json_string_value (json_object_get (h, "tx_root"));
  if (!cairn_hex_lower_valid (s, 32))
    return INVALID ("header.tx_root: must be 64 lowercase hex characters");
  memcpy (b->tx_root, s, 65);

  v = json_object_get (h, "tx_count");
  if (!json_is_integer (v) || json_integer_value (v) < 0)
    return INVALID ("header.tx_count: must be a non-negative integer");

  v = json_object_get (h, "consensus");
  if (v != NULL && !json_is_object (v))
    return INVALID ("header.consensus: must be an object when present");
  return TRUE;
}

static void
tx_root_of (GPtrArray *txs, uint8_t out[32])
{
  uint8_t (*ids)[32] = g_malloc (MAX (txs->len, 1u) * 32);

  for (guint i = 0; i < txs->len; i++)
    memcpy (ids[i], ((CairnTx *)txs->pdata[i])->id, 32);
  cairn_merkle_root ((const uint8_t (*)[32])ids, txs->len, out);
  g_free (ids);
}

/* After header_check and with b->txs filled: cross-checks, header bytes,
 * hash. check_root: FALSE when the caller has just computed tx_root. */
static gboolean
block_finish (CairnBlockData *b, gboolean check_root, GError **error)
{
  g_autoptr (GError) err = NULL;
  json_int_t count
      = json_integer_value (json_object_get (b->header, "tx_count"));

  for (guint i = 0; i < b->txs->len; i++) {
    CairnTx *tx = b->txs->pdata[i];
    if (strcmp (tx->chain_id, b->chain_id) != 0)
      return INVALID ("txs[%u].chain_id: the tx is for chain '%s', not '%s'", i,
                      tx->chain_id, b->chain_id);
  }
  if (count != (json_int_t)b->txs->len) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "header.tx_count: says %" JSON_INTEGER_FORMAT
                 " but the block holds %u txs",
                 count, b->txs->len);
    return FALSE;
  }
  if (check_root) {
    uint8_t root[32];
    g_autofree char *hex = NULL;

    tx_root_of (b->txs, root);
    hex = cairn_hex_encode (root, 32);
    if (strcmp (hex, b->tx_root) != 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                   "header.tx_root: says %s but the Merkle root of the "
                   "block's tx ids is %s",
                   b->tx_root, hex);
      return FALSE;
    }
  }
  b->header_bytes = cairn_cjson_dump (b->header, &b->header_len, &err);
  if (b->header_bytes == NULL)
    return INVALID ("header: %s", err->message);
  cairn_sha256 (b->header_bytes, b->header_len, b->hash);
  cairn_hex_lower_into (b->hash, 32, b->hash_hex);
  return TRUE;
}

CairnBlockData *
cairn_block_new (const char *chain_id, uint64_t height, const char *prev_hash,
                 int64_t time_ms, const char *proposer, const char *state_root,
                 const json_t *consensus, CairnTx **txs, size_t n_txs,
                 GError **error)
{
  CairnBlockData *b;
  json_t *h;
  uint8_t root[32];
  g_autofree char *root_hex = NULL;

  g_return_val_if_fail (
      chain_id != NULL && prev_hash != NULL && state_root != NULL, NULL);
  g_return_val_if_fail (txs != NULL || n_txs == 0, NULL);

  if (height > (uint64_t)G_MAXINT64) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "header.height: %" G_GUINT64_FORMAT " is over the int64 range",
                 height);
    return NULL;
  }
  b = block_alloc ();
  for (size_t i = 0; i < n_txs; i++)
    g_ptr_array_add (b->txs, cairn_tx_ref (txs[i]));
  tx_root_of (b->txs, root);
  root_hex = cairn_hex_encode (root, 32);

  h = b->header = json_object ();
  json_object_set_new (h, "chain_id", json_string (chain_id));
  if (consensus != NULL && !json_is_null (consensus))
    json_object_set_new (h, "consensus", json_deep_copy (consensus));
  json_object_set_new (h, "height", json_integer ((json_int_t)height));
  json_object_set_new (h, "prev_hash", json_string (prev_hash));
  json_object_set_new (h, "proposer", json_string (proposer ? proposer : ""));
  json_object_set_new (h, "state_root", json_string (state_root));
  json_object_set_new (h, "time", json_integer (time_ms));
  json_object_set_new (h, "tx_count", json_integer ((json_int_t)n_txs));
  json_object_set_new (h, "tx_root", json_string (root_hex));

  if (!header_check (b, NULL, error) || !block_finish (b, FALSE, error)) {
    block_free (b);
    return NULL;
  }
  return b;
}

/* The pieces of the encoding, in order, to one sink. */
typedef gboolean (*PieceFn) (const char *p, size_t n, void *data);

static gboolean
block_pieces (const CairnBlockData *b, const char *cert, size_t cert_len,
              PieceFn fn, void *data)
{
  if (cert != NULL) {
    if (!fn ("{\"certificate\":", 15, data) || !fn (cert, cert_len, data)
        || !fn (",\"header\":", 10, data))
      return FALSE;
  } else if (!fn ("{\"header\":", 10, data)) {
    return FALSE;
  }
  if (!fn (b->header_bytes, b->header_len, data) || !fn (",\"txs\":[", 8, data))
    return FALSE;
  for (guint i = 0; i < b->txs->len; i++) {
    CairnTx *tx = b->txs->pdata[i];
    if ((i > 0 && !fn (",", 1, data)) || !fn (tx->bytes, tx->len, data))
      return FALSE;
  }
  return fn ("]}", 2, data);
}

typedef struct {
  char *buf;
  size_t len;
} Sink;

static gboolean
count_piece (const char *p, size_t n, void *data)
{
  ((Sink *)data)->len += n;
  return TRUE;
}

static gboolean
copy_piece (const char *p, size_t n, void *data)
{
  Sink *s = data;

  memcpy (s->buf + s->len, p, n);
  s->len += n;
  return TRUE;
}

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
} Match;

static gboolean
match_piece (const char *p, size_t n, void *data)
{
  Match *m = data;
  size_t i = 0;

  while (i < n && m->pos + i < m->len && p[i] == m->text[m->pos + i])
    i++;
  m->pos += i;
  return i == n;
}

char *
cairn_block_encode (const CairnBlockData *b, gboolean with_certificate,
                    size_t *len, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *cert = NULL;
  size_t cert_len = 0;
  Sink s = { NULL, 0 };

  g_return_val_if_fail (b != NULL, NULL);

  if (with_certificate) {
    if (b->certificate == NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "block %" G_GUINT64_FORMAT " (%s) has no certificate",
                   b->height, b->hash_hex);
      return NULL;
    }
    cert = cairn_cjson_dump (b->certificate, &cert_len, &err);
    if (cert == NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "certificate: %s",
                   err->message);
      return NULL;
    }
  }
  block_pieces (b, cert, cert_len, count_piece, &s);
  s.buf = g_malloc (s.len + 1);
  s.len = 0;
  block_pieces (b, cert, cert_len, copy_piece, &s);
  s.buf[s.len] = '\0';
  if (len != NULL)
    *len = s.len;
  return s.buf;
}

/* The block's root object without its txs: the text with the txs array
 * emptied, parsed as canonical. *at and *end (when not NULL) bound the
 * array, '[' to past ']'. NULL when the text is not laid out so. */
static json_t *
parse_skeleton (const char *bytes, size_t len, size_t *at, size_t *end)
{
  gssize a = cairn_cjson_member_at (bytes, len, "txs");
  if (a < 0 || (size_t)a >= len || bytes[a] != '[')
    return NULL;
  size_t e = cairn_cjson_value_end (bytes, len, (size_t)a);
  if (e > len || e < (size_t)a + 2 || bytes[e - 1] != ']')
    return NULL;
  size_t n = (size_t)a + 2 + (len - e);
  g_autofree char *sk = g_malloc (n);
  memcpy (sk, bytes, (size_t)a);
  memcpy (sk + a, "[]", 2);
  memcpy (sk + a + 2, bytes + e, len - e);
  json_t *root = cairn_cjson_parse (sk, n, TRUE, NULL);
  *at = (size_t)a;
  *end = e;
  return root;
}

/* Decode from root; the txs come from root's "txs" array, or (laid_out)
 * from the text's array [at, end) read in place with
 * cairn_tx_decode_layout. *fallback is set when a tx there is not laid
 * out: the caller then decodes the slow way, which words the errors. */
static CairnBlockData *
decode_root (const char *bytes, size_t len, const char *chain_id, json_t *root,
             gboolean laid_out, size_t at, size_t end, CairnTxLookup lookup,
             gpointer data, gboolean *fallback, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *cert = NULL;
  size_t cert_len = 0;
  CairnBlockData *b;
  json_t *txs, *item;
  const char *key;
  size_t i;
  Match m = { bytes, len, 0 };

  if (!json_is_object (root)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block: must be a JSON object");
    return NULL;
  }
  json_object_foreach (root, key, item)
  {
    if (strcmp (key, "certificate") != 0 && strcmp (key, "header") != 0
        && strcmp (key, "txs") != 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "block: unknown field '%s'", key);
      return NULL;
    }
  }
  txs = json_object_get (root, "txs");
  if (!json_is_array (txs)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "txs: must be an array");
    return NULL;
  }
  item = json_object_get (root, "certificate");
  if (item != NULL && !json_is_object (item)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "certificate: must be an object when present");
    return NULL;
  }

  b = block_alloc ();
  if (item != NULL)
    b->certificate = json_incref (item);
  b->header = json_incref (json_object_get (root, "header"));
  if (b->header == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block: missing field 'header'");
    goto fail;
  }
  if (!header_check (b, chain_id, error))
    goto fail;
  if (laid_out) {
    /* '[' tx (',' tx)* ']', each tx in its canonical layout. */
    gboolean last = FALSE;
    for (size_t p = at + 1, k = 0; p < end - 1 && !last; k++) {
      size_t start, n;
      gboolean ok = FALSE;
      CairnTx *tx = NULL;
      gboolean framed
          = cairn_cjson_array_element (bytes, end, &p, &start, &n, &last)
            && (!last || p == end - 1);
      if (framed && lookup != NULL) {
        uint8_t id[32];
        cairn_sha256 (bytes + start, n, id);
        tx = lookup (id, data);
        ok = tx != NULL && tx->len == n
             && memcmp (tx->bytes, bytes + start, n) == 0
             && strcmp (tx->chain_id, b->chain_id) == 0;
        if (!ok)
          g_clear_pointer (&tx, cairn_tx_unref);
      }
      if (framed && !ok)
        tx = cairn_tx_decode_layout (bytes + start, n, b->chain_id, &ok, &err);
      if (!ok) {
        *fallback = TRUE;
        goto fail;
      }
      if (tx == NULL) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "txs[%zu]: %s", k,
                     err->message);
        goto fail;
      }
      g_ptr_array_add (b->txs, tx);
    }
    if (!last && b->txs->len > 0) { /* "[tx,]": the full parse words it */
      *fallback = TRUE;
      goto fail;
    }
  } else {
    json_array_foreach (txs, i, item)
    {
      CairnTx *tx = cairn_tx_from_json (item, b->chain_id, &err);
      if (tx == NULL) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "txs[%zu]: %s", i,
                     err->message);
        goto fail;
      }
      g_ptr_array_add (b->txs, tx);
    }
  }
  if (!block_finish (b, TRUE, error))
    goto fail;

  if (b->certificate != NULL)
    cert = cairn_cjson_dump (b->certificate, &cert_len, NULL);
  if (!block_pieces (b, cert, cert_len, match_piece, &m) || m.pos != len) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "block: not canonical JSON at byte %zu (sorted keys, no "
                 "whitespace, minimal escapes)",
                 m.pos);
    goto fail;
  }
  return b;

fail:
  block_free (b);
  return NULL;
}

CairnBlockData *
cairn_block_decode (const char *bytes, size_t len, const char *chain_id,
                    GError **error)
{
  return cairn_block_decode_known (bytes, len, chain_id, NULL, NULL, error);
}

CairnBlockData *
cairn_block_decode_known (const char *bytes, size_t len, const char *chain_id,
                          CairnTxLookup lookup, gpointer data, GError **error)
{
  /* Fast path: Jansson parses the block without its txs, and each tx is
   * read in place from its canonical layout. */
  size_t at = 0, end = 0;
  g_autoptr (json_t) skeleton = parse_skeleton (bytes, len, &at, &end);
  if (skeleton != NULL) {
    gboolean fallback = FALSE;
    g_autoptr (GError) local = NULL;
    CairnBlockData *b = decode_root (bytes, len, chain_id, skeleton, TRUE, at,
                                     end, lookup, data, &fallback, &local);
    if (b != NULL || !fallback) {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return b;
    }
  }
  g_autoptr (GError) err = NULL;
  g_autoptr (json_t) root = cairn_cjson_parse (bytes, len, FALSE, &err);
  if (root == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID, "block: %s",
                 err->message);
    return NULL;
  }
  gboolean unused = FALSE;
  return decode_root (bytes, len, chain_id, root, FALSE, 0, 0, NULL, NULL,
                      &unused, error);
}

CairnBlockData *
cairn_block_ref (CairnBlockData *b)
{
  g_return_val_if_fail (b != NULL, NULL);
  g_atomic_int_inc (&b->ref);
  return b;
}

void
cairn_block_unref (CairnBlockData *b)
{
  if (b != NULL && g_atomic_int_dec_and_test (&b->ref))
    block_free (b);
}

/* A structural scan of canonical text (no parse). */
gboolean
cairn_block_tx_slice (const char *bytes, size_t len, guint index, size_t *start,
                      size_t *tx_len)
{
  gssize at = cairn_cjson_member_at (bytes, len, "txs");
  if (at < 0 || (size_t)at >= len || bytes[at] != '[')
    return FALSE;
  size_t i = (size_t)at + 1, s, n;
  gboolean last = FALSE;
  for (guint k = 0;
       !last && cairn_cjson_array_element (bytes, len, &i, &s, &n, &last); k++)
    if (k == index) {
      *start = s;
      *tx_len = n;
      return TRUE;
    }
  return FALSE;
}

gboolean
cairn_block_peek_height (const char *bytes, size_t len, uint64_t *height)
{
  gssize h = cairn_cjson_member_at (bytes, len, "header");
  if (h < 0 || (size_t)h >= len || bytes[h] != '{')
    return FALSE;
  gssize v = cairn_cjson_member_at (bytes + h, len - (size_t)h, "height");
  if (v < 0)
    return FALSE;
  size_t p = (size_t)h + (size_t)v, first = p;
  uint64_t n = 0;
  for (; p < len && g_ascii_isdigit (bytes[p]); p++) {
    uint64_t d = (uint64_t)(bytes[p] - '0');
    if (n > (G_MAXUINT64 - d) / 10)
      return FALSE;
    n = n * 10 + d;
  }
  if (p == first || (p - first > 1 && bytes[first] == '0'))
    return FALSE;
  *height = n;
  return TRUE;
}

/* The HTTP API's request parsing (see http_parse.h). */
#include "http_parse.h"

#include <string.h>

#include <cairn/interfaces.h> /* CAIRN_HEAD */

#include "cjson.h"

/* ---- POST /v1/txs ------------------------------------------------------- */

static void
batch_alloc (CairnTxBatch *b, guint n)
{
  b->n = n;
  b->txs = g_new0 (CairnTx *, MAX (n, 1));
  b->errs = g_new0 (GError *, MAX (n, 1));
}

/* The usual batch, read without parsing the array: '[' tx (',' tx)* ']'
 * where every tx has the canonical layout (cairn_tx_decode_layout). FALSE
 * (out left empty) at the first thing that is not so: the full parse then
 * decides, so that errors and results are the same either way. */
static gboolean
laid_out_batch (const char *data, gsize len, const char *chain_id,
                CairnTxBatch *out)
{
  if (len < 2 || data[0] != '[' || data[len - 1] != ']')
    return FALSE;
  g_autoptr (GPtrArray) txs = g_ptr_array_new ();
  g_autoptr (GPtrArray) errs = g_ptr_array_new ();
  gboolean ok = FALSE;
  for (gsize at = 1;;) {
    gsize start, n;
    gboolean last = FALSE, laid_out = FALSE;
    GError *err = NULL;
    CairnTx *tx = NULL;
    if (cairn_cjson_array_element (data, len, &at, &start, &n, &last))
      tx = cairn_tx_decode_layout (data + start, n, chain_id, &laid_out, &err);
    if (!laid_out)
      break;
    g_ptr_array_add (txs, tx);
    g_ptr_array_add (errs, err);
    if (last) {
      ok = at == len - 1;
      break;
    }
  }
  if (!ok) {
    for (guint k = 0; k < txs->len; k++) {
      if (txs->pdata[k])
        cairn_tx_unref (txs->pdata[k]);
      if (errs->pdata[k])
        g_error_free (errs->pdata[k]);
    }
    return FALSE;
  }
  batch_alloc (out, txs->len);
  memcpy (out->txs, txs->pdata, txs->len * sizeof (CairnTx *));
  memcpy (out->errs, errs->pdata, errs->len * sizeof (GError *));
  return TRUE;
}

gboolean
cairn_http_parse_txs (const char *data, gsize len, const char *chain_id,
                      CairnTxBatch *out, GError **error)
{
  GError *fatal = NULL;
  gsize i = 0;

  memset (out, 0, sizeof *out);
  while (i < len && g_ascii_isspace (data[i]))
    i++;
  if (len == 0) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "empty body: send a tx object or an array of them");
    return FALSE;
  }
  /* i < len: a body of only whitespace has no byte at data[len] (libsoup
   * happens to put a NUL there; the bytes' length is all we are given). */
  if (i < len && data[i] == '{') {
    /* The exact bytes: size cap and canonical check apply to them. */
    out->single = TRUE;
    batch_alloc (out, 1);
    out->txs[0] = cairn_tx_decode (data, len, chain_id, &out->errs[0]);
    return TRUE;
  }
  if (laid_out_batch (data, len, chain_id, out))
    return TRUE;
  g_autoptr (json_t) arr = cairn_cjson_parse (data, len, TRUE, &fatal);
  if (arr == NULL) {
    g_prefix_error (&fatal, "body must be one canonical tx object or a "
                            "canonical JSON array of them: ");
    fatal->domain = CAIRN_REJECT;
    fatal->code = strstr (fatal->message, "not canonical JSON")
                      ? CAIRN_REJECT_NON_CANONICAL
                      : CAIRN_REJECT_MALFORMED;
    g_propagate_error (error, fatal);
    return FALSE;
  }
  if (!json_is_array (arr)) {
    g_set_error (error, CAIRN_REJECT, CAIRN_REJECT_MALFORMED,
                 "body must be a tx object or an array of them");
    return FALSE;
  }
  batch_alloc (out, json_array_size (arr));
  for (guint k = 0; k < out->n; k++)
    out->txs[k]
        = cairn_tx_from_json (json_array_get (arr, k), chain_id, &out->errs[k]);
  return TRUE;
}

void
cairn_tx_batch_clear (CairnTxBatch *b)
{
  for (guint i = 0; i < b->n; i++) {
    if (b->txs[i])
      cairn_tx_unref (b->txs[i]);
    g_clear_error (&b->errs[i]);
  }
  g_clear_pointer (&b->txs, g_free);
  g_clear_pointer (&b->errs, g_free);
  b->n = 0;
}

/* ---- paths and query values --------------------------------------------- */

gboolean
cairn_http_parse_height (const char *s, uint64_t *out)
{
  guint64 v;
  if (g_strcmp0 (s, "latest") == 0) {
    *out = CAIRN_HEAD;
    return TRUE;
  }
  if (s == NULL || !g_ascii_string_to_unsigned (s, 10, 0, G_MAXINT64, &v, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
cairn_http_split_state_path (const char *rest, char **ns, const char **key)
{
  const char *slash = strchr (rest, '/');
  if (slash == NULL || slash == rest || slash[1] == '\0')
    return FALSE;
  *ns = g_strndup (rest, slash - rest);
  *key = slash + 1;
  return TRUE;
}

/* ---- ranges (RFC 9110 §14) ---------------------------------------------- */

static gboolean
parse_u64 (const char *s, size_t n, uint64_t *out)
{
  if (n == 0 || n > 20)
    return FALSE;
  char buf[21];
  memcpy (buf, s, n);
  buf[n] = '\0';
  guint64 v;
  if (!g_ascii_string_to_unsigned (buf, 10, 0, G_MAXUINT64, &v, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

CairnRangeResult
cairn_http_parse_range (const char *header, uint64_t size, uint64_t *offset,
                        uint64_t *length)
{
  if (header == NULL)
    return CAIRN_RANGE_NONE;
  while (*header == ' ')
    header++;
  /* Other units, or a syntax we do not know: ignore it (send 200). */
  if (!g_str_has_prefix (header, "bytes="))
    return CAIRN_RANGE_NONE;
  const char *spec = header + 6;
  size_t n = strcspn (spec, ",");
  while (n > 0 && spec[n - 1] == ' ')
    n--;
  const char *dash = memchr (spec, '-', n);
  if (dash == NULL)
    return CAIRN_RANGE_NONE;
  size_t a_len = dash - spec, b_len = n - a_len - 1;
  uint64_t a, b;
  if (a_len == 0) { /* bytes=-N: the last N bytes */
    if (!parse_u64 (dash + 1, b_len, &b))
      return CAIRN_RANGE_NONE;
    if (b == 0 || size == 0)
      return CAIRN_RANGE_UNSAT;
    *length = MIN (b, size);
    *offset = size - *length;
    return CAIRN_RANGE_OK;
  }
  if (!parse_u64 (spec, a_len, &a))
    return CAIRN_RANGE_NONE;
  if (b_len == 0)
    b = G_MAXUINT64; /* bytes=A- */
  else if (!parse_u64 (dash + 1, b_len, &b) || b < a)
    return CAIRN_RANGE_NONE;
  if (a >= size)
    return CAIRN_RANGE_UNSAT;
  *offset = a;
  *length = MIN (b, size - 1) - a + 1;
  return CAIRN_RANGE_OK;
}

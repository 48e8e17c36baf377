/* store-git: a block's blobs in its commit tree (the stored block split
 * into header.json, txs.json and certificate.json) and the results blob. */
#include "store_git.h"

#include <string.h>

/* The stored form of a block: {"certificate":C,"header":H,"txs":T}. */
static const char *const glue[]
    = { "{\"certificate\":", ",\"header\":", ",\"txs\":", "}" };
static const char *const part_names[]
    = { "certificate.json", "header.json", "txs.json" };
#define WHOLE_NAME "block.json"

/* Bytes of the JSON value at p (no whitespace, as in canonical JSON);
 * 0 when it does not end within n. */
static size_t
value_len (const uint8_t *p, size_t n)
{
  size_t i = 0;
  int depth = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c == '"') {
      i++;
      while (i < n && p[i] != '"')
        i += p[i] == '\\' ? 2 : 1;
      if (i >= n)
        return 0;
      i++;
    } else if (c == '{' || c == '[') {
      depth++;
      i++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return i; /* the end of a scalar */
      depth--;
      i++;
    } else if (c == ',' && depth == 0) {
      return i;
    } else {
      i++;
    }
    if (depth == 0 && (c == '"' || c == '}' || c == ']'))
      return i;
  }
  return depth == 0 ? i : 0;
}

/* Split into the three members; FALSE when the block has another shape.
 * Joining the parts with the glue gives the bytes back by construction. */
static gboolean
split_block (const uint8_t *b, size_t len, size_t off[3], size_t plen[3])
{
  size_t pos = 0;
  for (int i = 0; i < 3; i++) {
    size_t g = strlen (glue[i]);
    if (len - pos < g || memcmp (b + pos, glue[i], g) != 0)
      return FALSE;
    pos += g;
    off[i] = pos;
    plen[i] = value_len (b + pos, len - pos);
    if (plen[i] == 0)
      return FALSE;
    pos += plen[i];
  }
  return len - pos == 1 && b[pos] == '}';
}

gboolean
store_git_block_write (StoreGitRepo *r, const uint8_t *block, size_t len,
                       GPtrArray *entries, GError **error)
{
  size_t off[3], plen[3];
  git_oid oid;
  const uint8_t *b = block != NULL ? block : (const uint8_t *)"";

  if (!split_block (b, len, off, plen)) {
    if (!store_git_write (r, GIT_OBJECT_BLOB, b, len, &oid, error))
      return FALSE;
    g_ptr_array_add (entries, store_git_entry_new (WHOLE_NAME, &oid, FALSE));
    return TRUE;
  }
  for (int i = 0; i < 3; i++) {
    if (!store_git_write (r, GIT_OBJECT_BLOB, b + off[i], plen[i], &oid, error))
      return FALSE;
    g_ptr_array_add (entries, store_git_entry_new (part_names[i], &oid, FALSE));
  }
  return TRUE;
}

GBytes *
store_git_tree_blob (StoreGitRepo *r, git_tree *tree, const char *path,
                     gboolean required, GError **error)
{
  git_tree_entry *e = NULL;
  git_blob *blob = NULL;
  int rc = git_tree_entry_bypath (&e, tree, path);
  char hex[GIT_OID_HEXSZ + 1];

  git_oid_tostr (hex, sizeof hex, git_tree_id (tree));
  if (rc == GIT_ENOTFOUND) {
    git_error_clear ();
    if (required)
      store_git_fail_corrupt (r->store, r->path, error,
                              "tree %s of a block has no '%s'", hex, path);
    else
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "no '%s'", path);
    return NULL;
  }
  if (rc < 0) {
    store_git_fail (r, error, rc, "cannot read '%s' in tree %s", path, hex);
    return NULL;
  }
  if (git_tree_entry_type (e) != GIT_OBJECT_BLOB) {
    git_tree_entry_free (e);
    store_git_fail_corrupt (r->store, r->path, error,
                            "'%s' in tree %s is not a blob", path, hex);
    return NULL;
  }
  rc = git_blob_lookup (&blob, r->repo, git_tree_entry_id (e));
  git_tree_entry_free (e);
  if (rc < 0) {
    store_git_fail (r, error, rc, "cannot read '%s' of tree %s", path, hex);
    return NULL;
  }
  GBytes *out = g_bytes_new (git_blob_rawcontent (blob),
                             (gsize)git_blob_rawsize (blob));
  git_blob_free (blob);
  return out;
}

GBytes *
store_git_block_read (StoreGitRepo *r, git_tree *tree, GError **error)
{
  g_autoptr (GError) local = NULL;
  GBytes *whole = store_git_tree_blob (r, tree, WHOLE_NAME, FALSE, &local);
  if (whole != NULL)
    return whole;
  if (!g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  GByteArray *out = g_byte_array_new ();
  for (int i = 0; i < 3; i++) {
    GBytes *part = store_git_tree_blob (r, tree, part_names[i], TRUE, error);
    if (part == NULL) {
      g_byte_array_unref (out);
      return NULL;
    }
    gsize n;
    const guint8 *d = g_bytes_get_data (part, &n);
    g_byte_array_append (out, (const guint8 *)glue[i], (guint)strlen (glue[i]));
    g_byte_array_append (out, d, (guint)n);
    g_bytes_unref (part);
  }
  g_byte_array_append (out, (const guint8 *)glue[3], 1);
  return g_byte_array_free_to_bytes (out);
}

int64_t
store_git_block_time (const uint8_t *block, size_t len)
{
  size_t off[3], plen[3];
  const char *text = (const char *)block;
  size_t n = len;
  gboolean split = block != NULL && split_block (block, len, off, plen);

  if (block == NULL)
    return 0;
  if (split) {
    text = (const char *)block + off[1];
    n = plen[1];
  }
  g_autoptr (json_t) doc = json_loadb (text, n, 0, NULL);
  json_t *header = split ? doc : json_object_get (doc, "header");
  json_t *t = json_object_get (header, "time");
  if (!json_is_integer (t) || json_integer_value (t) < 0)
    return 0;
  return (int64_t)(json_integer_value (t) / 1000);
}

/* ---- results ------------------------------------------------------------ */

GBytes *
store_git_results_encode (const CairnCommitTx *txs, size_t n, uint64_t *offsets)
{
  GByteArray *out = g_byte_array_new ();
  for (size_t i = 0; i < n; i++) {
    g_autofree char *hex = cairn_hex_encode (txs[i].id, 32);
    g_autofree char *line
        = g_strdup_printf ("%zu %s %zu\n", i, hex, txs[i].result_len);
    g_byte_array_append (out, (const guint8 *)line, (guint)strlen (line));
    offsets[i] = out->len;
    if (txs[i].result_len > 0)
      g_byte_array_append (out, txs[i].result, (guint)txs[i].result_len);
    g_byte_array_append (out, (const guint8 *)"\n", 1);
  }
  return g_byte_array_free_to_bytes (out);
}

gboolean
store_git_results_parse (CairnStore *store, const char *where,
                         const uint8_t *data, size_t len, GArray *out,
                         GError **error)
{
  size_t pos = 0;
  for (uint32_t i = 0; pos < len; i++) {
    const uint8_t *nl = memchr (data + pos, '\n', MIN (len - pos, 128));
    StoreGitResult res = { .index = i };
    if (nl == NULL)
      return store_git_fail_corrupt (store, where, error,
                                     "results: entry %u has no header line", i);
    g_autofree char *line
        = g_strndup ((const char *)data + pos, (gsize)(nl - (data + pos)));
    g_auto (GStrv) f = g_strsplit (line, " ", 4);
    guint64 idx, rlen;
    if (g_strv_length (f) != 3
        || !g_ascii_string_to_unsigned (f[0], 10, 0, G_MAXUINT32, &idx, NULL)
        || idx != i || !cairn_hex_decode (f[1], res.id, 32)
        || !g_ascii_string_to_unsigned (f[2], 10, 0, G_MAXUINT64, &rlen, NULL))
      return store_git_fail_corrupt (store, where, error,
                                     "results: the header of entry %u does "
                                     "not decode",
                                     i);
    pos = (size_t)(nl - data) + 1;
    if (rlen >= len - pos || data[pos + rlen] != '\n')
      return store_git_fail_corrupt (store, where, error,
                                     "results: entry %u is truncated", i);
    res.offset = pos;
    res.length = rlen;
    g_array_append_val (out, res);
    pos += rlen + 1;
  }
  return TRUE;
}

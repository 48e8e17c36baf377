/* Build CairnCommitData for storage tests: see cairn/testing/commit.h. */
#include "cairn/testing/commit.h"

#include <stdlib.h>
#include <string.h>

struct CairnTestCommit {
  uint64_t height;
  uint8_t hash[32];
  GBytes *block;
  GHashTable *writes;   /* key -> GBytes* value, or NULL for a delete */
  GHashTable *privates; /* same */
  GArray *txs;          /* CairnCommitTx, ids and results owned below */
  GPtrArray *owned;     /* tx ids and results */
  /* The last cairn_test_commit_data(). */
  CairnCommitData data;
  GArray *write_array;
  GArray *private_array;
  GPtrArray *sorted_keys;
};

static void
sha256_text (const char *text, uint8_t out[32])
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize len = 32;
  g_checksum_update (sum, (const guchar *)text, -1);
  g_checksum_get_digest (sum, out, &len);
  g_assert_cmpuint (len, ==, 32);
}

void
cairn_test_block_hash (uint64_t height, uint8_t out[32])
{
  g_autofree char *text = g_strdup_printf ("block:%" G_GUINT64_FORMAT, height);
  sha256_text (text, out);
}

void
cairn_test_tx_id (uint64_t height, uint32_t index, uint8_t out[32])
{
  g_autofree char *text
      = g_strdup_printf ("tx:%" G_GUINT64_FORMAT ":%u", height, index);
  sha256_text (text, out);
}

static void
bytes_unref0 (gpointer p)
{
  if (p != NULL)
    g_bytes_unref (p);
}

CairnTestCommit *
cairn_test_commit_new (uint64_t height)
{
  CairnTestCommit *c = g_new0 (CairnTestCommit, 1);
  c->height = height;
  cairn_test_block_hash (height, c->hash);
  char *text = g_strdup_printf ("{\"height\":%" G_GUINT64_FORMAT "}", height);
  c->block = g_bytes_new_take (text, strlen (text));
  c->writes
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, bytes_unref0);
  c->privates
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, bytes_unref0);
  c->txs = g_array_new (FALSE, TRUE, sizeof (CairnCommitTx));
  c->owned = g_ptr_array_new_with_free_func (g_free);
  c->write_array = g_array_new (FALSE, TRUE, sizeof (CairnWrite));
  c->private_array = g_array_new (FALSE, TRUE, sizeof (CairnWrite));
  c->sorted_keys = g_ptr_array_new ();
  return c;
}

void
cairn_test_commit_free (CairnTestCommit *c)
{
  if (c == NULL)
    return;
  g_bytes_unref (c->block);
  g_hash_table_unref (c->writes);
  g_hash_table_unref (c->privates);
  g_array_unref (c->txs);
  g_ptr_array_unref (c->owned);
  g_array_unref (c->write_array);
  g_array_unref (c->private_array);
  g_ptr_array_unref (c->sorted_keys);
  g_free (c);
}

void
cairn_test_commit_set_block (CairnTestCommit *c, const void *bytes, size_t len)
{
  g_bytes_unref (c->block);
  c->block = g_bytes_new (bytes, len);
}

void
cairn_test_commit_set_hash (CairnTestCommit *c, const uint8_t hash[32])
{
  memcpy (c->hash, hash, 32);
}

void
cairn_test_commit_put_bytes (CairnTestCommit *c, const char *key,
                             const void *value, size_t len)
{
  g_hash_table_insert (c->writes, g_strdup (key), g_bytes_new (value, len));
}

void
cairn_test_commit_put (CairnTestCommit *c, const char *key, const char *value)
{
  cairn_test_commit_put_bytes (c, key, value, strlen (value));
}

void
cairn_test_commit_delete (CairnTestCommit *c, const char *key)
{
  g_hash_table_insert (c->writes, g_strdup (key), NULL);
}

void
cairn_test_commit_private_put (CairnTestCommit *c, const char *key,
                               const char *value)
{
  g_hash_table_insert (c->privates, g_strdup (key),
                       g_bytes_new (value, strlen (value)));
}

void
cairn_test_commit_private_delete (CairnTestCommit *c, const char *key)
{
  g_hash_table_insert (c->privates, g_strdup (key), NULL);
}

void
cairn_test_commit_add_tx (CairnTestCommit *c, const uint8_t id[32],
                          const char *result)
{
  CairnCommitTx t = { 0 };
  uint8_t *idc = g_memdup2 (id, 32);
  char *res = g_strdup (result);
  g_ptr_array_add (c->owned, idc);
  g_ptr_array_add (c->owned, res);
  t.id = idc;
  t.result = (const uint8_t *)res;
  t.result_len = strlen (res);
  g_array_append_val (c->txs, t);
}

static int
cmp_str_ptr (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static void
fill_writes (CairnTestCommit *c, GHashTable *table, GArray *out)
{
  GHashTableIter it;
  gpointer key;
  guint first = c->sorted_keys->len;

  g_array_set_size (out, 0);
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (c->sorted_keys, key);
  /* Sort only the part just added. */
  if (c->sorted_keys->len > first)
    qsort (c->sorted_keys->pdata + first, c->sorted_keys->len - first,
           sizeof (gpointer), cmp_str_ptr);
  for (guint i = first; i < c->sorted_keys->len; i++) {
    const char *k = c->sorted_keys->pdata[i];
    GBytes *v = g_hash_table_lookup (table, k);
    CairnWrite w = { 0 };
    w.key = k;
    if (v == NULL) {
      w.flags = CAIRN_WRITE_DELETE;
    } else {
      gsize len;
      w.value = g_bytes_get_data (v, &len);
      w.value_len = len;
      if (w.value == NULL)
        w.value = (const uint8_t *)""; /* empty value, not a delete */
    }
    g_array_append_val (out, w);
  }
}

const CairnCommitData *
cairn_test_commit_data (CairnTestCommit *c)
{
  gsize len;

  g_ptr_array_set_size (c->sorted_keys, 0);
  fill_writes (c, c->writes, c->write_array);
  fill_writes (c, c->privates, c->private_array);
  memset (&c->data, 0, sizeof c->data);
  c->data.size = sizeof c->data;
  c->data.height = c->height;
  c->data.block_hash = c->hash;
  c->data.block = g_bytes_get_data (c->block, &len);
  c->data.block_len = len;
  c->data.txs = (const CairnCommitTx *)c->txs->data;
  c->data.n_txs = c->txs->len;
  c->data.writes = (const CairnWrite *)c->write_array->data;
  c->data.n_writes = c->write_array->len;
  c->data.private_writes = (const CairnWrite *)c->private_array->data;
  c->data.n_private_writes = c->private_array->len;
  return &c->data;
}

uint64_t
cairn_test_commit_height (const CairnTestCommit *c)
{
  return c->height;
}

GBytes *
cairn_test_commit_block (const CairnTestCommit *c)
{
  return g_bytes_ref (c->block);
}

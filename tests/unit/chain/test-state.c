/* State overlays: layering, rollback, iteration order, write-set, LtHash. */
#include <string.h>

#include <cairn/cairn.h>

#include "state.h"

static const CairnStateBase no_base = { NULL, NULL };

static GBytes *
b (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
assert_value (CairnOverlay *ov, const char *key, const char *want)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) v = cairn_overlay_get (ov, key, &err);
  g_assert_no_error (err);
  if (want == NULL) {
    g_assert_null (v);
    return;
  }
  g_assert_nonnull (v);
  gsize len;
  const char *p = g_bytes_get_data (v, &len);
  g_assert_cmpmem (p, len, want, strlen (want));
}

static void
test_layers (void)
{
  g_autoptr (CairnOverlay) block = cairn_overlay_new (&no_base, NULL);
  g_autoptr (GBytes) one = b ("1"), two = b ("2");
  cairn_overlay_put (block, "a/x", one);
  CairnOverlay *tx = cairn_overlay_new (&no_base, block);
  cairn_overlay_put (tx, "a/x", two);
  cairn_overlay_delete (tx, "a/y");
  assert_value (tx, "a/x", "2");
  assert_value (block, "a/x", "1");
  /* A failed tx: drop the child, the block is untouched. */
  cairn_overlay_free (tx);
  assert_value (block, "a/x", "1");
  /* A good tx: merged. */
  tx = cairn_overlay_new (&no_base, block);
  cairn_overlay_put (tx, "a/x", two);
  cairn_overlay_delete (tx, "a/x");
  cairn_overlay_merge_into_parent (tx);
  cairn_overlay_free (tx);
  assert_value (block, "a/x", NULL);
}

static gboolean
collect (const char *key, const uint8_t *v, size_t len, void *data)
{
  g_ptr_array_add (data, g_strdup_printf ("%s=%.*s", key, (int)len, v));
  return TRUE;
}

static void
test_iter (void)
{
  g_autoptr (CairnOverlay) block = cairn_overlay_new (&no_base, NULL);
  const char *keys[] = { "a/b", "a/a", "a0/z", "a/c", "b/a" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    g_autoptr (GBytes) v = b ("v");
    cairn_overlay_put (block, keys[i], v);
  }
  g_autoptr (CairnOverlay) tx = cairn_overlay_new (&no_base, block);
  cairn_overlay_delete (tx, "a/b");
  g_autoptr (GBytes) w = b ("w");
  cairn_overlay_put (tx, "a/0", w);
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  g_assert_true (cairn_overlay_iter (tx, "a/", collect, seen, &err));
  g_assert_cmpuint (seen->len, ==, 3);
  g_assert_cmpstr (seen->pdata[0], ==, "a/0=w");
  g_assert_cmpstr (seen->pdata[1], ==, "a/a=v");
  g_assert_cmpstr (seen->pdata[2], ==, "a/c=v");
}

static void
test_write_set_and_hash (void)
{
  CairnLtHash empty, h1, h2, h3;
  cairn_lthash_init (&empty);
  g_autoptr (GError) err = NULL;
  /* Same final state reached in different orders ⇒ same root. */
  g_autoptr (CairnOverlay) o1 = cairn_overlay_new (&no_base, NULL);
  g_autoptr (CairnOverlay) o2 = cairn_overlay_new (&no_base, NULL);
  g_autoptr (GBytes) x = b ("x"), y = b ("y");
  cairn_overlay_put (o1, "k/1", x);
  cairn_overlay_put (o1, "k/2", y);
  cairn_overlay_delete (o1, "k/3");
  cairn_overlay_put (o2, "k/2", x);
  cairn_overlay_put (o2, "k/2", y);
  cairn_overlay_put (o2, "k/1", x);
  g_autoptr (GArray) ws1 = cairn_overlay_write_set (o1, &empty, &h1, &err);
  g_autoptr (GArray) ws2 = cairn_overlay_write_set (o2, &empty, &h2, &err);
  g_assert_no_error (err);
  /* Deleting an absent key is not a write. */
  g_assert_cmpuint (ws1->len, ==, 2);
  g_assert_cmpstr (g_array_index (ws1, CairnWrite, 0).key, ==, "k/1");
  g_assert_cmpstr (g_array_index (ws1, CairnWrite, 1).key, ==, "k/2");
  uint8_t r1[32], r2[32], r3[32];
  cairn_lthash_root (&h1, r1);
  cairn_lthash_root (&h2, r2);
  g_assert_cmpmem (r1, 32, r2, 32);
  /* A different value ⇒ a different root. */
  g_autoptr (CairnOverlay) o3 = cairn_overlay_new (&no_base, NULL);
  cairn_overlay_put (o3, "k/1", y);
  cairn_overlay_put (o3, "k/2", y);
  g_autoptr (GArray) ws3 = cairn_overlay_write_set (o3, &empty, &h3, &err);
  cairn_lthash_root (&h3, r3);
  g_assert_true (memcmp (r1, r3, 32) != 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/layers", test_layers);
  g_test_add_func ("/state/iter", test_iter);
  g_test_add_func ("/state/write-set-and-hash", test_write_set_and_hash);
  return g_test_run ();
}

/* LtHash16: homomorphic multiset hash of the state. Known answers computed
 * independently with Python's hashlib (sha256) and the `openssl enc
 * -chacha20` command for the keystream. */
#include <string.h>

#include <cairn/util.h>

#include "lthash.h"

static char *
root_hex (const CairnLtHash *h)
{
  uint8_t r[32];

  cairn_lthash_root (h, r);
  return cairn_hex_encode (r, 32);
}

static void
assert_same (const CairnLtHash *a, const CairnLtHash *b)
{
  g_autofree char *ra = root_hex (a);
  g_autofree char *rb = root_hex (b);

  g_assert_cmpmem (a->lanes, sizeof a->lanes, b->lanes, sizeof b->lanes);
  g_assert_cmpstr (ra, ==, rb);
}

static void
test_empty (void)
{
  CairnLtHash h;
  g_autofree char *r = NULL;

  memset (&h, 0xab, sizeof h);
  cairn_lthash_init (&h);
  for (int i = 0; i < CAIRN_LTHASH_LANES; i++)
    g_assert_cmpuint (h.lanes[i], ==, 0);
  /* SHA-256 of 2048 zero bytes. */
  r = root_hex (&h);
  g_assert_cmpstr (
      r, ==,
      "e5a00aa9991ac8a5ee3109844d84a55583bd20572ad3ffcd42792f3c36b183ad");
}

static void
test_known_answers (void)
{
  CairnLtHash h;
  g_autofree char *one = NULL;
  g_autofree char *two = NULL;

  /* ChaCha20 keystream keyed by SHA-256("cairn/state/v1\0" || 00000001 ||
   * "k" || "v"), lanes LE. */
  cairn_lthash_init (&h);
  cairn_lthash_add (&h, "k", "v", 1);
  g_assert_cmpuint (h.lanes[0], ==, 29968);
  g_assert_cmpuint (h.lanes[1023], ==, 12819);
  one = root_hex (&h);
  g_assert_cmpstr (
      one, ==,
      "1f9552c436ebb53de9145dc989f6bc46f15a76bb77cc8a3d5b0b4ad804637750");
  /* Plus ("acc", empty value): lane-wise sum mod 2^16. */
  cairn_lthash_add (&h, "acc", NULL, 0);
  two = root_hex (&h);
  g_assert_cmpstr (
      two, ==,
      "a93575c14822ddd5ad0a1829c496e69cdad91dc305eb02ab2c90654184fc276f");
}

static void
test_add_remove (void)
{
  CairnLtHash empty, h, a, b;

  cairn_lthash_init (&empty);
  cairn_lthash_init (&h);
  cairn_lthash_add (&h, "bank/alice", "100", 3);
  cairn_lthash_remove (&h, "bank/alice", "100", 3);
  assert_same (&h, &empty);

  /* Remove first, add later: the same multiset in the end. */
  cairn_lthash_init (&a);
  cairn_lthash_remove (&a, "x", "1", 1);
  cairn_lthash_add (&a, "y", "2", 1);
  cairn_lthash_add (&a, "x", "1", 1);
  cairn_lthash_init (&b);
  cairn_lthash_add (&b, "y", "2", 1);
  assert_same (&a, &b);

  /* An update (remove old, add new) equals building the new state. */
  cairn_lthash_init (&a);
  cairn_lthash_add (&a, "bank/alice", "100", 3);
  cairn_lthash_add (&a, "bank/bob", "5", 1);
  cairn_lthash_remove (&a, "bank/alice", "100", 3);
  cairn_lthash_add (&a, "bank/alice", "90", 2);
  cairn_lthash_init (&b);
  cairn_lthash_add (&b, "bank/bob", "5", 1);
  cairn_lthash_add (&b, "bank/alice", "90", 2);
  assert_same (&a, &b);
}

static void
test_order_independence (void)
{
  static const char *const keys[] = { "a", "b/c", "d", "e/f/g", "h" };
  CairnLtHash fwd, rev, empty;

  cairn_lthash_init (&fwd);
  cairn_lthash_init (&rev);
  cairn_lthash_init (&empty);
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    cairn_lthash_add (&fwd, keys[i], keys[i], strlen (keys[i]));
  for (size_t i = G_N_ELEMENTS (keys); i-- > 0;)
    cairn_lthash_add (&rev, keys[i], keys[i], strlen (keys[i]));
  assert_same (&fwd, &rev);
  g_assert_true (memcmp (fwd.lanes, empty.lanes, sizeof fwd.lanes) != 0);
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i += 2)
    cairn_lthash_remove (&fwd, keys[i], keys[i], strlen (keys[i]));
  for (size_t i = 1; i < G_N_ELEMENTS (keys); i += 2)
    cairn_lthash_remove (&fwd, keys[i], keys[i], strlen (keys[i]));
  assert_same (&fwd, &empty);
}

static void
test_distinct (void)
{
  CairnLtHash a, b;
  g_autofree char *ra = NULL;
  g_autofree char *rb = NULL;

  /* The key length is hashed: ("ab","c") is not ("a","bc"). */
  cairn_lthash_init (&a);
  cairn_lthash_add (&a, "ab", "c", 1);
  cairn_lthash_init (&b);
  cairn_lthash_add (&b, "a", "bc", 2);
  ra = root_hex (&a);
  rb = root_hex (&b);
  g_assert_cmpstr (ra, !=, rb);
  /* A value is bytes: an embedded NUL counts. */
  cairn_lthash_init (&a);
  cairn_lthash_add (&a, "k", "v\0", 2);
  cairn_lthash_init (&b);
  cairn_lthash_add (&b, "k", "v", 1);
  g_assert_true (memcmp (a.lanes, b.lanes, sizeof a.lanes) != 0);
}

static void
test_wraparound (void)
{
  CairnLtHash h, empty;

  /* Lanes are mod 2^16: 65536 copies of one pair sum to the empty set. */
  cairn_lthash_init (&h);
  cairn_lthash_init (&empty);
  for (int i = 0; i < 65536; i++)
    cairn_lthash_add (&h, "k", "v", 1);
  assert_same (&h, &empty);
}

static void
test_bytes (void)
{
  CairnLtHash h, back;
  uint8_t b[CAIRN_LTHASH_BYTES];

  cairn_lthash_init (&h);
  cairn_lthash_add (&h, "k", "v", 1);
  h.lanes[0] = 0x0102;
  cairn_lthash_to_bytes (&h, b);
  g_assert_cmpuint (b[0], ==, 0x02);
  g_assert_cmpuint (b[1], ==, 0x01);
  g_assert_true (cairn_lthash_from_bytes (&back, b, sizeof b));
  assert_same (&h, &back);

  memset (&back, 0x55, sizeof back);
  g_assert_false (cairn_lthash_from_bytes (&back, b, sizeof b - 1));
  g_assert_false (cairn_lthash_from_bytes (&back, b, sizeof b + 1));
  g_assert_false (cairn_lthash_from_bytes (&back, NULL, sizeof b));
  g_assert_cmpuint (back.lanes[0], ==, 0x5555);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lthash/empty", test_empty);
  g_test_add_func ("/lthash/known-answers", test_known_answers);
  g_test_add_func ("/lthash/add-remove", test_add_remove);
  g_test_add_func ("/lthash/order-independence", test_order_independence);
  g_test_add_func ("/lthash/distinct", test_distinct);
  g_test_add_func ("/lthash/wraparound", test_wraparound);
  g_test_add_func ("/lthash/bytes", test_bytes);
  return g_test_run ();
}

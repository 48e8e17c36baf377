/* Keys (PEM files, the openssl command), signatures, SHA-256, addresses,
 * Merkle roots. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "crypto.h"

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* Runs argv; returns stdout, asserts the exit status. */
static char *
run_cmd (const char *const *argv, gboolean expect_ok)
{
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (g_spawn_check_wait_status (status, NULL) != expect_ok)
    g_error ("%s exited with %d: %s", argv[0], status, err);
  return out;
}

static void
assert_error_has (const GError *error, int code, const char *want)
{
  g_assert_error (error, CAIRN_ERROR, code);
  if (strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

static void
test_generate_sign_verify (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) k = cairn_key_generate (&error);
  g_autoptr (CairnKey) other = cairn_key_generate (NULL);
  const char *msg = "{\"hello\":\"world\"}";
  uint8_t sig[64], bad[64];
  char addr[41];

  g_assert_no_error (error);
  cairn_address_from_pubkey (cairn_key_pubkey (k), addr);
  g_assert_cmpstr (addr, ==, cairn_key_address (k));
  g_assert_true (cairn_address_valid (cairn_key_address (k)));
  g_assert_true (memcmp (cairn_key_pubkey (k), cairn_key_pubkey (other), 32)
                 != 0);

  cairn_key_sign (k, CAIRN_DOMAIN_TX, msg, strlen (msg), sig);
  g_assert_true (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                       msg, strlen (msg), sig));
  /* Another purpose, message, signature or key: refused. */
  g_assert_false (cairn_ed25519_verify (
      cairn_key_pubkey (k), CAIRN_DOMAIN_BLOCK, msg, strlen (msg), sig));
  g_assert_false (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                        msg, strlen (msg) - 1, sig));
  memcpy (bad, sig, 64);
  bad[10] ^= 1;
  g_assert_false (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                        msg, strlen (msg), bad));
  g_assert_false (cairn_ed25519_verify (
      cairn_key_pubkey (other), CAIRN_DOMAIN_TX, msg, strlen (msg), sig));
  /* Empty message. */
  cairn_key_sign (k, CAIRN_DOMAIN_BLOCK, NULL, 0, sig);
  g_assert_true (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_BLOCK,
                                       NULL, 0, sig));
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
}

/* The signed bytes are exactly "<domain>\0<msg>", checked with OpenSSL
 * directly, across the stack/heap buffer boundary. */
static void
test_domain_encoding (void)
{
  g_autoptr (CairnKey) k = cairn_key_generate (NULL);
  size_t dlen = strlen (CAIRN_DOMAIN_TX);
  size_t sizes[] = { 1, 4095 - dlen, 4096 - dlen, 4097 - dlen, 70000 };

  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    size_t n = sizes[i];
    g_autofree uint8_t *msg = g_malloc (n);
    g_autofree uint8_t *full = g_malloc (dlen + 1 + n);
    uint8_t sig[64];
    EVP_PKEY *pk;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();

    for (size_t j = 0; j < n; j++)
      msg[j] = (uint8_t)(j * 7 + i);
    memcpy (full, CAIRN_DOMAIN_TX, dlen + 1);
    memcpy (full + dlen + 1, msg, n);
    cairn_key_sign (k, CAIRN_DOMAIN_TX, msg, n, sig);
    g_assert_true (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                         msg, n, sig));
    pk = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL,
                                      cairn_key_pubkey (k), 32);
    g_assert_nonnull (pk);
    g_assert_cmpint (EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, pk), ==, 1);
    g_assert_cmpint (EVP_DigestVerify (ctx, sig, 64, full, dlen + 1 + n), ==,
                     1);
    EVP_MD_CTX_free (ctx);
    EVP_PKEY_free (pk);
    /* One byte changed at the far end (heap path included). */
    msg[n - 1] ^= 0x80;
    g_assert_false (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                          msg, n, sig));
  }
}

static void
test_verify_bad_pubkey (void)
{
  uint8_t pub[32], sig[64];

  /* Not a curve point (y >= p): FALSE, no error left queued. */
  memset (pub, 0xff, sizeof pub);
  memset (sig, 0, sizeof sig);
  g_assert_false (cairn_ed25519_verify (pub, CAIRN_DOMAIN_TX, "x", 1, sig));

  /* Small-order key and R (all zero, with and without the sign bit): plain
   * cofactorless verification accepts this "signature" for about one
   * message in four; it must never verify. */
  for (int signbit = 0; signbit < 2; signbit++) {
    memset (pub, 0, sizeof pub);
    pub[31] = signbit ? 0x80 : 0;
    memcpy (sig, pub, 32);
    for (int m = 0; m < 32; m++) {
      char msg[16];
      g_snprintf (msg, sizeof msg, "msg-%d", m);
      g_assert_false (
          cairn_ed25519_verify (pub, CAIRN_DOMAIN_TX, msg, strlen (msg), sig));
    }
  }
  /* The identity as key. */
  memset (pub, 0, sizeof pub);
  pub[0] = 1;
  memcpy (sig, pub, 32);
  g_assert_false (cairn_ed25519_verify (pub, CAIRN_DOMAIN_TX, "x", 1, sig));
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
}

typedef struct {
  const CairnKey *key;
  const uint8_t *sig;
  guint good;
} VerifyJob;

static gpointer
verify_thread (gpointer data)
{
  VerifyJob *j = data;
  uint8_t bad[64];

  memcpy (bad, j->sig, 64);
  bad[0] ^= 1;
  for (int i = 0; i < 200; i++) {
    if (cairn_ed25519_verify (cairn_key_pubkey (j->key), CAIRN_DOMAIN_TX,
                              "payload", 7, j->sig))
      j->good++;
    if (cairn_ed25519_verify (cairn_key_pubkey (j->key), CAIRN_DOMAIN_TX,
                              "payload", 7, bad))
      j->good += 1000;
  }
  return NULL;
}

static void
test_verify_threads (void)
{
  g_autoptr (CairnKey) k = cairn_key_generate (NULL);
  uint8_t sig[64];
  VerifyJob jobs[4];
  GThread *threads[4];

  cairn_key_sign (k, CAIRN_DOMAIN_TX, "payload", 7, sig);
  for (int i = 0; i < 4; i++) {
    jobs[i] = (VerifyJob){ k, sig, 0 };
    threads[i] = g_thread_new ("verify", verify_thread, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    g_thread_join (threads[i]);
    g_assert_cmpuint (jobs[i].good, ==, 200);
  }
}

static void
test_save_load (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) k = cairn_key_generate (NULL);
  g_autoptr (CairnKey) back = NULL;
  g_autofree char *path = tmp_path ("node.pem");
  g_autofree char *pem = NULL;
  g_autofree char *pubhex = cairn_hex_encode (cairn_key_pubkey (k), 32);
  g_autofree char *text = NULL;
  const char *argv[]
      = { "openssl", "pkey", "-in", path, "-noout", "-text", NULL };
  struct stat st;
  mode_t old_umask;
  uint8_t sig[64];

  /* 0600 whatever the umask. */
  old_umask = umask (0);
  g_assert_true (cairn_key_save (k, path, &error));
  umask (old_umask);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &pem, NULL, NULL));
  g_assert_true (g_str_has_prefix (pem, "-----BEGIN PRIVATE KEY-----\n"));

  /* The openssl command reads it and prints the same public key
   * ("pub:" then xx:xx:... lines, the last section of the output). */
  text = run_cmd (argv, TRUE);
  g_assert_nonnull (strstr (text, "ED25519 Private-Key"));
  {
    g_autoptr (GString) hex = g_string_new (NULL);
    const char *pub = strstr (text, "pub:");
    g_assert_nonnull (pub);
    for (const char *p = pub + 4; *p; p++)
      if (g_ascii_isxdigit (*p))
        g_string_append_c (hex, *p);
    g_assert_cmpstr (hex->str, ==, pubhex);
  }

  back = cairn_key_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (cairn_key_pubkey (back), 32, cairn_key_pubkey (k), 32);
  g_assert_cmpstr (cairn_key_address (back), ==, cairn_key_address (k));
  cairn_key_sign (back, CAIRN_DOMAIN_TX, "m", 1, sig);
  g_assert_true (cairn_ed25519_verify (cairn_key_pubkey (k), CAIRN_DOMAIN_TX,
                                       "m", 1, sig));

  /* Never overwrites. */
  g_assert_false (cairn_key_save (back, path, &error));
  assert_error_has (error, CAIRN_ERROR_CONFLICT, path);
  g_clear_error (&error);
  {
    g_autofree char *pem2 = NULL;
    g_assert_true (g_file_get_contents (path, &pem2, NULL, NULL));
    g_assert_cmpstr (pem2, ==, pem);
  }
  /* A directory that does not exist: IO error naming the path. */
  {
    g_autofree char *nodir = tmp_path ("no/such/dir/k.pem");
    g_assert_false (cairn_key_save (k, nodir, &error));
    assert_error_has (error, CAIRN_ERROR_IO, nodir);
  }
}

static void
test_load_openssl_genpkey (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("genpkey.pem");
  const char *gen[]
      = { "openssl", "genpkey", "-algorithm", "ed25519", "-out", path, NULL };
  const char *pub[] = { "openssl", "pkey", "-in", path, "-pubout", NULL };
  g_autofree char *out = run_cmd (gen, TRUE);
  g_autoptr (CairnKey) k = cairn_key_load (path, &error);
  g_autofree char *pem = NULL;
  g_autofree guint8 *der = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *b64 = NULL;
  gsize der_len = 0;

  g_assert_no_error (error);
  g_assert_nonnull (k);
  /* SubjectPublicKeyInfo of an Ed25519 key: a 12-byte prefix, 32 raw bytes. */
  pem = run_cmd (pub, TRUE);
  lines = g_strsplit (pem, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "-----BEGIN PUBLIC KEY-----");
  b64 = g_strdup (lines[1]);
  der = g_base64_decode (b64, &der_len);
  g_assert_cmpuint (der_len, ==, 44);
  g_assert_cmpmem (der + 12, 32, cairn_key_pubkey (k), 32);
}

/* A private key file readable or writable by group or others is refused
 * with the mode and the chmod to run. */
static void
test_key_file_mode (void)
{
  g_autofree char *path = tmp_path ("mode.pem");
  g_autoptr (CairnKey) k = cairn_key_generate (NULL);
  g_autoptr (GError) error = NULL;
  static const struct {
    unsigned mode;
    const char *who;
  } bad[]
      = { { 0644, "everyone" },  { 0640, "its group" }, { 0604, "everyone" },
          { 0620, "its group" }, { 0602, "everyone" },  { 0610, "its group" } };

  g_assert_true (cairn_key_save (k, path, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_cmpint (g_chmod (path, bad[i].mode), ==, 0);
    g_autoptr (CairnKey) k2 = cairn_key_load (path, &error);
    g_assert_null (k2);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    g_autofree char *mode = g_strdup_printf ("mode %04o", bad[i].mode);
    g_autofree char *fix = g_strdup_printf ("chmod 600 %s", path);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, mode));
    g_assert_nonnull (strstr (error->message, bad[i].who));
    g_assert_nonnull (strstr (error->message, fix));
    g_clear_error (&error);
  }
  g_assert_cmpint (g_chmod (path, 0400), ==, 0);
  g_autoptr (CairnKey) k3 = cairn_key_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (cairn_key_pubkey (k3), 32, cairn_key_pubkey (k), 32);
}

static void
write_file (const char *path, const char *data, gssize len)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
  /* Private key files others can read are refused (test_key_file_mode). */
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  g_assert_no_error (error);
}

static void
test_load_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = tmp_path ("missing.pem");
  g_autofree char *garbage = tmp_path ("garbage.pem");
  g_autofree char *empty = tmp_path ("empty.pem");
  g_autofree char *trunc = tmp_path ("trunc.pem");
  g_autofree char *ec = tmp_path ("ec.pem");
  g_autofree char *enc = tmp_path ("enc.pem");
  g_autofree char *huge = tmp_path ("huge.pem");
  g_autofree char *good = tmp_path ("good.pem");
  g_autofree char *pem = NULL;
  g_autofree char *big = g_strnfill (20000, 'A');
  const char *gen_good[]
      = { "openssl", "genpkey", "-algorithm", "ed25519", "-out", good, NULL };
  const char *gen_ec[] = { "openssl", "genpkey",  "-algorithm",
                           "EC",      "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-out",    ec,         NULL };
  const char *gen_enc[]
      = { "openssl", "genpkey",     "-algorithm", "ed25519", "-aes-256-cbc",
          "-pass",   "pass:secret", "-out",       enc,       NULL };
  g_free (run_cmd (gen_good, TRUE));
  g_free (run_cmd (gen_ec, TRUE));
  g_free (run_cmd (gen_enc, TRUE));

  g_assert_null (cairn_key_load (missing, &error));
  assert_error_has (error, CAIRN_ERROR_NOT_FOUND, missing);
  g_clear_error (&error);

  write_file (garbage, "this is not a key\n", -1);
  g_assert_null (cairn_key_load (garbage, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, garbage);
  g_assert_nonnull (strstr (error->message, "not a readable PEM private key"));
  g_clear_error (&error);

  write_file (empty, "", 0);
  g_assert_null (cairn_key_load (empty, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, empty);
  g_clear_error (&error);

  g_assert_true (g_file_get_contents (good, &pem, NULL, NULL));
  write_file (trunc, pem, (gssize)strlen (pem) / 2);
  g_assert_null (cairn_key_load (trunc, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, trunc);
  g_clear_error (&error);

  g_assert_null (cairn_key_load (ec, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, ec);
  g_assert_nonnull (strstr (error->message, "not an Ed25519 key (it is EC)"));
  g_clear_error (&error);

  /* Encrypted: refused without prompting on a terminal. */
  g_assert_null (cairn_key_load (enc, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, enc);
  g_assert_nonnull (strstr (error->message, "encrypted"));
  g_clear_error (&error);

  write_file (huge, big, -1);
  g_assert_null (cairn_key_load (huge, &error));
  assert_error_has (error, CAIRN_ERROR_INVALID, "larger than");
  g_clear_error (&error);

  g_assert_null (cairn_key_load (tmpdir, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, tmpdir));
  g_assert_cmpuint (ERR_peek_error (), ==, 0);
}

static void
test_sha256_address (void)
{
  uint8_t h[32], zero[32] = { 0 };
  char addr[41];
  g_autofree char *hex = NULL;

  cairn_sha256 ("", 0, h);
  hex = cairn_hex_encode (h, 32);
  g_assert_cmpstr (
      hex, ==,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_free (hex);
  cairn_sha256 ("abc", 3, h);
  hex = cairn_hex_encode (h, 32);
  g_assert_cmpstr (
      hex, ==,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  cairn_address_from_pubkey (zero, addr);
  g_assert_cmpstr (addr, ==, "66687aadf862bd776c8fc18b8e9f8e2008971485");
  g_assert_true (cairn_address_valid (addr));
  g_assert_false (cairn_address_valid (NULL));
  g_assert_false (cairn_address_valid (""));
  g_assert_false (
      cairn_address_valid ("66687aadf862bd776c8fc18b8e9f8e200897148"));
  g_assert_false (
      cairn_address_valid ("66687aadf862bd776c8fc18b8e9f8e20089714850"));
  g_assert_false (
      cairn_address_valid ("66687AADF862BD776C8FC18B8E9F8E2008971485"));
  g_assert_false (
      cairn_address_valid ("66687aadf862bd776c8fc18b8e9f8e200897148g"));
}

static void
merkle_hex (size_t n, char out[65])
{
  uint8_t (*leaves)[32] = g_malloc (MAX (n, 1u) * 32);
  uint8_t root[32];
  g_autofree char *hex = NULL;

  /* leaf id i = SHA-256 of the single byte i */
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t)i;
    cairn_sha256 (&b, 1, leaves[i]);
  }
  cairn_merkle_root ((const uint8_t (*)[32])leaves, n, root);
  hex = cairn_hex_encode (root, 32);
  memcpy (out, hex, 65);
  g_free (leaves);
}

/* RFC 6962 MTH, the recursive definition (split at the largest power of two
 * below n), to cross-check the level-by-level implementation. */
static void
mth (const uint8_t (*ids)[32], size_t n, uint8_t out[32])
{
  uint8_t buf[65];
  size_t k = 1;

  if (n == 1) {
    buf[0] = 0;
    memcpy (buf + 1, ids[0], 32);
    cairn_sha256 (buf, 33, out);
    return;
  }
  while (k * 2 < n)
    k *= 2;
  buf[0] = 1;
  mth (ids, k, buf + 1);
  mth (ids + k, n - k, buf + 33);
  cairn_sha256 (buf, 65, out);
}

static void
test_merkle (void)
{
  char hex[65];
  static const char *const want[] = {
    [0] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    [1] = "d9de27625445003d8a9739a851e3ff8d41c0683630b4d63a88327a6aaa37c409",
    [2] = "604d540f09268b91672ab011394d5266ccd7d4484d0d109411a55848126a1b2c",
    [3] = "d1f13800048f5909d4043fc0c152f6643280cba608b672715e56ce159a20629f",
    [5] = "6b313b611b40676b9e1dfd70c4503f2379f88f0f1c2740fb7e1cacc32c113465",
  };

  for (size_t n = 0; n < G_N_ELEMENTS (want); n++) {
    if (want[n] == NULL)
      continue;
    merkle_hex (n, hex);
    g_assert_cmpstr (hex, ==, want[n]);
  }
  /* Across the stack buffer size (64) and odd levels. */
  for (size_t n = 1; n <= 140; n++) {
    uint8_t (*ids)[32] = g_malloc (n * 32);
    uint8_t a[32], b[32];
    for (size_t i = 0; i < n; i++) {
      uint8_t x = (uint8_t)i;
      cairn_sha256 (&x, 1, ids[i]);
    }
    cairn_merkle_root ((const uint8_t (*)[32])ids, n, a);
    mth ((const uint8_t (*)[32])ids, n, b);
    g_assert_cmpmem (a, 32, b, 32);
    g_free (ids);
  }
}

/* Hex into a buffer, and the raw CIDv1 of a SHA-256 digest: the CID of
 * the empty block, as IPFS prints it. */
static void
test_hex_and_cid (void)
{
  static const uint8_t bytes[] = { 0x00, 0x0f, 0xa5, 0xff };
  char hex[9];
  cairn_hex_lower_into (bytes, sizeof bytes, hex);
  g_assert_cmpstr (hex, ==, "000fa5ff");

  uint8_t d[32];
  cairn_sha256 ("", 0, d);
  g_autofree char *cid = cairn_cid_raw_sha256 (d);
  g_assert_cmpstr (
      cid, ==, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
  g_assert_true (cairn_cid_valid (cid));
}

int
main (int argc, char **argv)
{
  int rc;
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("cairn-test-crypto-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/crypto/generate-sign-verify", test_generate_sign_verify);
  g_test_add_func ("/crypto/domain-encoding", test_domain_encoding);
  g_test_add_func ("/crypto/verify-bad-pubkey", test_verify_bad_pubkey);
  g_test_add_func ("/crypto/verify-threads", test_verify_threads);
  g_test_add_func ("/crypto/save-load", test_save_load);
  g_test_add_func ("/crypto/load-openssl-genpkey", test_load_openssl_genpkey);
  g_test_add_func ("/crypto/key-file-mode", test_key_file_mode);
  g_test_add_func ("/crypto/load-errors", test_load_errors);
  g_test_add_func ("/crypto/sha256-address", test_sha256_address);
  g_test_add_func ("/crypto/merkle", test_merkle);
  g_test_add_func ("/crypto/hex-and-cid", test_hex_and_cid);
  rc = g_test_run ();

  {
    const char *const rm[] = { "rm", "-rf", tmpdir, NULL };
    g_spawn_sync (NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                  NULL, NULL, NULL, NULL);
  }
  g_free (tmpdir);
  return rc;
}

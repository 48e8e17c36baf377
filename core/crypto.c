/* Ed25519 keys, domain-separated signatures, SHA-256, addresses and the tx
 * Merkle root, on the OpenSSL 3 EVP API (see crypto.h). */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cairn/error.h>

/* "<domain>\0<msg>" is built on the stack up to this size, else on the heap. */
#define SIGNED_STACK_BYTES 4096
/* A PKCS#8 Ed25519 PEM is ~120 bytes; refuse to read anything absurd. */
#define KEY_FILE_MAX (16 * 1024)

struct CairnKey {
  EVP_PKEY *pkey;
  uint8_t pubkey[32];
  char address[41];
  /* libsodium's form of the private key (seed || public key), for
   * signing; wiped on free (plain heap like OpenSSL's copy: sodium_malloc
   * maps pages per key, and the bench holds up to 100,000 keys). */
  uint8_t *sodium_sk;
};

static gpointer sodium_setup (gpointer unused);

static void
ensure_sodium (void)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, sodium_setup, NULL);
}

/* Fetched once: an explicitly fetched EVP_MD skips the per-call implicit
 * fetch (and its method-store lock) that EVP_sha256() costs in OpenSSL 3. */
static const EVP_MD *
sha256_md (void)
{
  static EVP_MD *md;

  if (g_once_init_enter (&md)) {
    EVP_MD *m = EVP_MD_fetch (NULL, "SHA256", NULL);
    if (m == NULL)
      g_error ("OpenSSL: SHA256 is not available");
    g_once_init_leave (&md, m);
  }
  return md;
}

/* The first queued OpenSSL error as text; clears the queue. */
static char *
openssl_error_text (void)
{
  unsigned long e = ERR_peek_error ();
  char buf[256];

  if (e == 0) {
    ERR_clear_error ();
    return g_strdup ("unknown OpenSSL error");
  }
  ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  return g_strdup (buf);
}

/* Points *out at "<domain>\0<msg>"; *heap is set when it had to allocate. */
static const uint8_t *
domain_message (const char *domain, const void *msg, size_t len,
                uint8_t stack[SIGNED_STACK_BYTES], uint8_t **heap,
                size_t *out_len)
{
  size_t dlen = strlen (domain);
  size_t total = dlen + 1 + len;
  uint8_t *buf = stack;

  *heap = NULL;
  if (total > SIGNED_STACK_BYTES)
    buf = *heap = g_malloc (total);
  memcpy (buf, domain, dlen + 1);
  if (len > 0)
    memcpy (buf + dlen + 1, msg, len);
  *out_len = total;
  return buf;
}

static CairnKey *
key_from_pkey (EVP_PKEY *pkey, const char *origin, GError **error)
{
  CairnKey *key;
  size_t publen = 32;

  if (!EVP_PKEY_is_a (pkey, "ED25519")) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: not an Ed25519 key (it is %s)", origin,
                 EVP_PKEY_get0_type_name (pkey) ? EVP_PKEY_get0_type_name (pkey)
                                                : "an unknown type");
    EVP_PKEY_free (pkey);
    return NULL;
  }
  key = g_new0 (CairnKey, 1);
  key->pkey = pkey;
  if (EVP_PKEY_get_raw_public_key (pkey, key->pubkey, &publen) != 1
      || publen != 32) {
    g_autofree char *why = openssl_error_text ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: cannot read the Ed25519 public key: %s", origin, why);
    cairn_key_free (key);
    return NULL;
  }
  cairn_address_from_pubkey (key->pubkey, key->address);
  uint8_t seed[32];
  size_t seedlen = sizeof seed;
  if (EVP_PKEY_get_raw_private_key (pkey, seed, &seedlen) != 1
      || seedlen != 32) {
    g_autofree char *why = openssl_error_text ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: cannot read the Ed25519 private key: %s", origin, why);
    cairn_key_free (key);
    return NULL;
  }
  ensure_sodium ();
  uint8_t pk[32];
  key->sodium_sk = g_malloc (crypto_sign_ed25519_SECRETKEYBYTES);
  if (crypto_sign_ed25519_seed_keypair (pk, key->sodium_sk, seed) != 0
      || memcmp (pk, key->pubkey, 32) != 0)
    g_error ("libsodium: cannot derive the Ed25519 key pair of %s", origin);
  sodium_memzero (seed, sizeof seed);
  return key;
}

CairnKey *
cairn_key_generate (GError **error)
{
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "ED25519");

  if (pkey == NULL) {
    g_autofree char *why = openssl_error_text ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "cannot generate an Ed25519 key: %s", why);
    return NULL;
  }
  return key_from_pkey (pkey, "generated key", error);
}

/* Never prompt on a terminal for a passphrase: encrypted keys just fail. */
static int
no_passphrase_cb (char *buf, int size, int rwflag, void *u)
{
  return -1;
}

/* A private key file that others can read is refused, as ssh does: the key
 * may already be known to them, and the operator must notice. */
static gboolean
check_private_mode (int fd, const char *path, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) != 0) {
    int e = errno;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "%s: cannot stat key file: %s", path, g_strerror (e));
    return FALSE;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "%s: private key file is accessible by %s (mode %04o); "
                 "run: chmod 600 %s",
                 path, (st.st_mode & S_IRWXO) ? "everyone" : "its group",
                 (unsigned)(st.st_mode & 07777), path);
    return FALSE;
  }
  return TRUE;
}

static gssize
read_key_file (const char *path, gboolean private_key, char *buf, size_t cap,
               GError **error)
{
  size_t n = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0) {
    int e = errno;
    g_set_error (error, CAIRN_ERROR,
                 e == ENOENT ? CAIRN_ERROR_NOT_FOUND : CAIRN_ERROR_IO,
                 "%s: cannot open key file: %s", path, g_strerror (e));
    return -1;
  }
  if (private_key && !check_private_mode (fd, path, error)) {
    close (fd);
    return -1;
  }
  for (;;) {
    ssize_t r = read (fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close (fd);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                   "%s: cannot read key file: %s", path, g_strerror (e));
      return -1;
    }
    if (r == 0)
      break;
    n += (size_t)r;
    if (n == cap) {
      close (fd);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "%s: not a key file (larger than %zu bytes)", path, cap - 1);
      return -1;
    }
  }
  close (fd);
  return (gssize)n;
}

CairnKey *
cairn_key_load (const char *path, GError **error)
{
  char *buf;
  gssize n;
  BIO *bio;
  EVP_PKEY *pkey;

  g_return_val_if_fail (path != NULL, NULL);

  buf = g_malloc (KEY_FILE_MAX + 1);
  n = read_key_file (path, TRUE, buf, KEY_FILE_MAX + 1, error);
  if (n < 0) {
    g_free (buf);
    return NULL;
  }
  bio = BIO_new_mem_buf (buf, (int)n);
  pkey = bio ? PEM_read_bio_PrivateKey_ex (bio, NULL, no_passphrase_cb, NULL,
                                           NULL, NULL)
             : NULL;
  BIO_free (bio);
  if (pkey == NULL) {
    g_autofree char *why = openssl_error_text ();
    gboolean encrypted = g_strstr_len (buf, n, "ENCRYPTED") != NULL;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: not a readable PEM private key%s (%s)", path,
                 encrypted ? "; encrypted keys are not supported" : "", why);
  }
  OPENSSL_cleanse (buf, (size_t)n);
  g_free (buf);
  if (pkey == NULL)
    return NULL;
  return key_from_pkey (pkey, path, error);
}

gboolean
cairn_pubkey_load (const char *path, uint8_t pubkey[32], GError **error)
{
  char buf[KEY_FILE_MAX + 1];
  gssize n = read_key_file (path, FALSE, buf, sizeof buf, error);
  if (n < 0)
    return FALSE;
  BIO *bio = BIO_new_mem_buf (buf, (int)n);
  EVP_PKEY *pkey
      = bio ? PEM_read_bio_PUBKEY_ex (bio, NULL, NULL, NULL, NULL, NULL) : NULL;
  BIO_free (bio);
  if (pkey == NULL) {
    g_autofree char *why = openssl_error_text ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: not a PEM public key (\"BEGIN PUBLIC KEY\"; make one "
                 "with `openssl pkey -in KEY.pem -pubout`): %s",
                 path, why);
    return FALSE;
  }
  size_t len = 32;
  gboolean ok = EVP_PKEY_is_a (pkey, "ED25519")
                && EVP_PKEY_get_raw_public_key (pkey, pubkey, &len) == 1
                && len == 32;
  if (!ok)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "%s: not an Ed25519 public key", path);
  EVP_PKEY_free (pkey);
  return ok;
}

static gboolean
write_all (int fd, const char *data, size_t len)
{
  while (len > 0) {
    ssize_t w = write (fd, data, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = EIO;
      return FALSE;
    }
    data += w;
    len -= (size_t)w;
  }
  return TRUE;
}

gboolean
cairn_key_save (CairnKey *key, const char *path, GError **error)
{
  BIO *bio;
  char *pem = NULL;
  long pem_len;
  int fd, e = 0;

  g_return_val_if_fail (key != NULL && path != NULL, FALSE);

  bio = BIO_new (BIO_s_secmem ());
  if (bio == NULL
      || PEM_write_bio_PrivateKey (bio, key->pkey, NULL, NULL, 0, NULL, NULL)
             != 1) {
    g_autofree char *why = openssl_error_text ();
    BIO_free (bio);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "%s: cannot encode the key as PEM: %s", path, why);
    return FALSE;
  }
  pem_len = BIO_get_mem_data (bio, &pem);

  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    e = errno;
    BIO_free (bio);
    g_set_error (error, CAIRN_ERROR,
                 e == EEXIST ? CAIRN_ERROR_CONFLICT : CAIRN_ERROR_IO, "%s: %s",
                 path,
                 e == EEXIST ? "already exists; refusing to overwrite a key"
                             : g_strerror (e));
    return FALSE;
  }
  /* The umask may have removed bits, never added any; make it exactly 0600. */
  if (fchmod (fd, 0600) != 0 || !write_all (fd, pem, (size_t)pem_len)
      || fsync (fd) != 0)
    e = errno;
  if (close (fd) != 0 && e == 0)
    e = errno;
  BIO_free (bio); /* secure heap: cleared on free */
  if (e != 0) {
    unlink (path);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "%s: cannot write key file: %s", path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

void
cairn_key_free (CairnKey *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free (key->pkey);
  if (key->sodium_sk) {
    sodium_memzero (key->sodium_sk, crypto_sign_ed25519_SECRETKEYBYTES);
    g_free (key->sodium_sk);
  }
  g_free (key);
}

const uint8_t *
cairn_key_pubkey (const CairnKey *key)
{
  return key->pubkey;
}

const char *
cairn_key_address (const CairnKey *key)
{
  return key->address;
}

void
cairn_key_sign (const CairnKey *key, const char *domain, const void *msg,
                size_t len, uint8_t sig[64])
{
  uint8_t stack[SIGNED_STACK_BYTES];
  uint8_t *heap;
  size_t mlen;
  const uint8_t *m = domain_message (domain, msg, len, stack, &heap, &mlen);

  /* Ed25519 signatures are deterministic (RFC 8032): libsodium gives the
   * bytes OpenSSL gives, in a third of the time. */
  crypto_sign_ed25519_detached (sig, NULL, m, mlen, key->sodium_sk);
  g_free (heap);
}

/* Points of small order (and their non-canonical y >= p spellings), sign
 * bit ignored, as in libsodium. With such a public key, or such an R,
 * OpenSSL's cofactorless check accepts forgeries (e.g. an all-zero key and
 * signature verify many messages), so neither is ever accepted. */
static gboolean
small_order (const uint8_t b[32])
{
  static const uint8_t blocklist[][32] = {
    /* 0 (order 4) */
    { 0 },
    /* 1 (order 1) */
    { 0x01 },
    /* order 8 */
    { 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
      0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
      0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
    /* order 8 */
    { 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
      0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
      0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
    /* p - 1 (order 2) */
    { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
    /* p (= 0) */
    { 0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
    /* p + 1 (= 1) */
    { 0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
  };

  for (size_t j = 0; j < G_N_ELEMENTS (blocklist); j++)
    if (memcmp (b, blocklist[j], 31) == 0 && (b[31] & 0x7f) == blocklist[j][31])
      return TRUE;
  return FALSE;
}

static gpointer
sodium_setup (gpointer unused)
{
  if (sodium_init () < 0)
    g_error ("libsodium: sodium_init failed");
  return NULL;
}

/* libsodium rather than OpenSSL: same answers for every valid signature
 * (both check S < L and compare R's encoding, cofactorless), libsodium also
 * refuses non-canonical public keys, and it verifies about twice as fast
 * (60 vs 110 us here), which is the node's largest cost per tx. */
gboolean
cairn_ed25519_verify (const uint8_t pubkey[32], const char *domain,
                      const void *msg, size_t len, const uint8_t sig[64])
{
  uint8_t stack[SIGNED_STACK_BYTES];
  uint8_t *heap;
  size_t mlen;
  const uint8_t *m;
  gboolean ok;

  if (small_order (pubkey) || small_order (sig))
    return FALSE;
  ensure_sodium ();
  m = domain_message (domain, msg, len, stack, &heap, &mlen);
  ok = crypto_sign_ed25519_verify_detached (sig, m, mlen, pubkey) == 0;
  g_free (heap);
  return ok;
}

void
cairn_sha256 (const void *data, size_t len, uint8_t out[32])
{
  if (EVP_Digest (len ? data : "", len, out, NULL, sha256_md (), NULL) != 1)
    g_error ("OpenSSL: SHA-256 failed");
}

void
cairn_hex_lower_into (const uint8_t *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

char *
cairn_cid_raw_sha256 (const uint8_t digest[32])
{
  static const char abc[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t raw[36] = { 0x01, 0x55, 0x12, 0x20 };
  memcpy (raw + 4, digest, 32);
  GString *s = g_string_new ("b");
  guint32 acc = 0;
  int bits = 0;
  for (size_t i = 0; i < sizeof raw; i++) {
    acc = (acc << 8) | raw[i];
    bits += 8;
    while (bits >= 5) {
      g_string_append_c (s, abc[(acc >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0)
    g_string_append_c (s, abc[(acc << (5 - bits)) & 31]);
  return g_string_free (s, FALSE);
}

void
cairn_address_from_pubkey (const uint8_t pubkey[32], char out[41])
{
  uint8_t h[32];

  cairn_sha256 (pubkey, 32, h);
  cairn_hex_lower_into (h, 20, out);
}

gboolean
cairn_address_valid (const char *address)
{
  if (address == NULL)
    return FALSE;
  for (int i = 0; i < 40; i++) {
    char c = address[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return FALSE;
  }
  return address[40] == '\0';
}

/* H(prefix || a || b) with a reusable context. */
static void
hash_node (EVP_MD_CTX *ctx, uint8_t prefix, const uint8_t *a, const uint8_t *b,
           uint8_t out[32])
{
  if (EVP_DigestInit_ex2 (ctx, sha256_md (), NULL) != 1
      || EVP_DigestUpdate (ctx, &prefix, 1) != 1
      || EVP_DigestUpdate (ctx, a, 32) != 1
      || (b != NULL && EVP_DigestUpdate (ctx, b, 32) != 1)
      || EVP_DigestFinal_ex (ctx, out, NULL) != 1)
    g_error ("OpenSSL: SHA-256 failed");
}

void
cairn_merkle_root (const uint8_t (*leaves)[32], size_t n, uint8_t out[32])
{
  uint8_t stack[64][32];
  uint8_t (*level)[32] = stack;
  EVP_MD_CTX *ctx;

  if (n == 0) {
    cairn_sha256 ("", 0, out);
    return;
  }
  if (n > G_N_ELEMENTS (stack))
    level = g_malloc (n * 32);
  ctx = EVP_MD_CTX_new ();
  if (ctx == NULL)
    g_error ("OpenSSL: out of memory");
  for (size_t i = 0; i < n; i++)
    hash_node (ctx, 0x00, leaves[i], NULL, level[i]);
  /* Pair up level by level; an odd last node moves up unchanged. */
  for (size_t m = n; m > 1; m = (m + 1) / 2) {
    for (size_t i = 0; i + 1 < m; i += 2)
      hash_node (ctx, 0x01, level[i], level[i + 1], level[i / 2]);
    if (m % 2 == 1)
      memcpy (level[m / 2], level[m - 1], 32);
  }
  memcpy (out, level[0], 32);
  EVP_MD_CTX_free (ctx);
  if (level != stack)
    g_free (level);
}

/* Internal accessor for the TLS transport: borrowed. */
#include "crypto_openssl.h"

EVP_PKEY *
cairn_key_evp (const CairnKey *key)
{
  return key->pkey;
}

/* The im plugin's encrypted content format (plugins/im/imcrypt.h): round
 * trips in memory, through a pipe and through files (20 MiB, peak memory),
 * an independent decryption that follows the header comment byte by byte,
 * wrong recipients and keys, every byte flipped, truncations and
 * extensions, non-canonical and invalid headers, swapped and moved wraps,
 * moved segments, seal errors and the recipients listing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "envelope.h"
#include "imcrypt.h"
#include "segcrypt.h"

static char *tmpdir;

/* ---- helpers ----------------------------------------------------------- */

typedef struct {
  ImRecipient r[IM_MAX_RECIPIENTS + 1];
  uint8_t priv[IM_MAX_RECIPIENTS + 1][32];
  size_t n;
} Users;

static void
sha256 (const void *data, size_t len, uint8_t out[32])
{
  g_assert_cmpint (EVP_Digest (data, len, out, NULL, EVP_sha256 (), NULL), ==,
                   1);
}

/* n users with fresh keys; addresses from SHA-256 (tag/i), given in
 * descending order so that the sealer has to sort them. */
static void
make_users (Users *u, size_t n, const char *tag)
{
  g_autoptr (GError) error = NULL;
  g_assert_cmpuint (n, <=, G_N_ELEMENTS (u->r));
  memset (u, 0, sizeof *u);
  u->n = n;
  for (size_t i = 0; i < n; i++) {
    g_autofree char *seed = g_strdup_printf ("%s/%zu", tag, i);
    uint8_t h[32];
    sha256 (seed, strlen (seed), h);
    grp_hex (h, 20, u->r[i].addr);
    g_assert_true (grp_key_generate (u->priv[i], u->r[i].pk, &error));
    g_assert_no_error (error);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      if (strcmp (u->r[i].addr, u->r[j].addr) < 0) {
        ImRecipient t = u->r[i];
        uint8_t p[32];
        u->r[i] = u->r[j];
        u->r[j] = t;
        memcpy (p, u->priv[i], 32);
        memcpy (u->priv[i], u->priv[j], 32);
        memcpy (u->priv[j], p, 32);
      }
}

static uint8_t *
random_bytes (size_t len)
{
  uint8_t *p = g_malloc (len + 1);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)g_test_rand_int ();
  return p;
}

static void
assert_err (const GError *error, int code, const char *want)
{
  g_assert_error (error, G_IO_ERROR, code);
  if (want != NULL && strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

static uint64_t
blob_size (size_t hlen, uint64_t plain)
{
  return IM_FIXED + hlen + plain
         + SEG_TAG * ((plain + SEG_SIZE - 1) / SEG_SIZE);
}

static uint32_t
hlen_of (GBytes *blob)
{
  const uint8_t *p = g_bytes_get_data (blob, NULL);
  return (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8
         | p[11];
}

/* Seals through im_seal_stream (memory streams) and checks the digest and
 * count against the bytes written. */
static GBytes *
seal (const void *plain, size_t len, const Users *u)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (plain, (gssize)len, NULL);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  uint8_t digest[32], want[32];
  uint64_t written = 0;
  GBytes *blob;

  g_assert_true (im_seal_stream (in, len, out, u->r, u->n, digest, &written,
                                 NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  blob = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  sha256 (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob), want);
  g_assert_cmpmem (digest, 32, want, 32);
  g_assert_cmpuint (written, ==, g_bytes_get_size (blob));
  g_assert_cmpuint (g_bytes_get_size (blob), ==,
                    blob_size (hlen_of (blob), len));
  return blob;
}

/* Opens through the stream API, reading in chunks of 10007 bytes. Returns
 * what was delivered (also when it then fails: *error is set). */
static GByteArray *
open_stream_all (GBytes *blob, const char *addr, const uint8_t priv[32],
                 gboolean *opened, GError **error)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (blob);
  g_autoptr (GInputStream) plain = NULL;
  GByteArray *got = g_byte_array_new ();
  uint8_t buf[10007];
  uint64_t size = G_MAXUINT64;

  plain = im_open_stream (in, addr, priv, &size, error);
  *opened = plain != NULL;
  if (plain == NULL)
    return got;
  for (;;) {
    gssize n = g_input_stream_read (plain, buf, sizeof buf, NULL, error);
    if (n < 0)
      return got;
    if (n == 0)
      break;
    g_byte_array_append (got, buf, (guint)n);
  }
  g_assert_cmpuint (got->len, ==, size);
  g_assert_true (g_input_stream_close (plain, NULL, NULL));
  g_assert_true (g_input_stream_is_closed (in));
  return got;
}

static void
assert_opens (GBytes *blob, const char *addr, const uint8_t priv[32],
              const void *plain, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = im_open_bytes (blob, addr, priv, &error);
  g_autoptr (GByteArray) streamed = NULL;
  gboolean opened;

  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), plain,
                   len);
  streamed = open_stream_all (blob, addr, priv, &opened, &error);
  g_assert_no_error (error);
  g_assert_true (opened);
  g_assert_cmpmem (streamed->data, streamed->len, plain, len);
}

/* Both ways of opening fail with code (the stream at open or while
 * reading, having delivered only a true prefix of plain). */
static void
assert_open_fails (GBytes *blob, const char *addr, const uint8_t priv[32],
                   const void *plain, size_t len, int code, const char *want)
{
  g_autoptr (GError) error = NULL, error2 = NULL;
  g_autoptr (GBytes) out = im_open_bytes (blob, addr, priv, &error);
  g_autoptr (GByteArray) streamed = NULL;
  gboolean opened;

  g_assert_null (out);
  assert_err (error, code, want);
  streamed = open_stream_all (blob, addr, priv, &opened, &error2);
  assert_err (error2, code, NULL);
  g_assert_cmpuint (streamed->len, <=, len);
  if (streamed->len > 0)
    g_assert_cmpmem (streamed->data, streamed->len, plain, streamed->len);
}

/* blob's header (parsed by Jansson directly). */
static json_t *
header_of (GBytes *blob)
{
  const uint8_t *p = g_bytes_get_data (blob, NULL);
  json_error_t jerr;
  json_t *root
      = json_loadb ((const char *)p + IM_FIXED, hlen_of (blob), 0, &jerr);
  if (root == NULL)
    g_error ("header: %s", jerr.text);
  return root;
}

/* blob's segments after another fixed part and header text. */
static GBytes *
with_header_text (GBytes *blob, const char *magic, const char *text,
                  size_t hlen)
{
  gsize total;
  const uint8_t *p = g_bytes_get_data (blob, &total);
  size_t rest = total - IM_FIXED - hlen_of (blob);
  uint8_t *out = g_malloc (IM_FIXED + hlen + rest);
  memcpy (out, magic, 8);
  out[8] = (uint8_t)(hlen >> 24);
  out[9] = (uint8_t)(hlen >> 16);
  out[10] = (uint8_t)(hlen >> 8);
  out[11] = (uint8_t)hlen;
  memcpy (out + IM_FIXED, text, hlen);
  memcpy (out + IM_FIXED + hlen, p + total - rest, rest);
  return g_bytes_new_take (out, IM_FIXED + hlen + rest);
}

/* The same with hdr serialised by flags (canonical: compact, sorted). */
static GBytes *
with_header (GBytes *blob, json_t *hdr, size_t flags)
{
  char *text = json_dumps (hdr, flags);
  GBytes *b;
  g_assert_nonnull (text);
  b = with_header_text (blob, IM_MAGIC, text, strlen (text));
  free (text);
  return b;
}

#define CANONICAL (JSON_COMPACT | JSON_SORT_KEYS)

static void
get_hex (json_t *obj, const char *key, uint8_t *out, size_t n)
{
  const char *s = json_string_value (json_object_get (obj, key));
  g_assert_nonnull (s);
  g_assert_cmpuint (strlen (s), ==, 2 * n);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    g_assert_true (g_ascii_isxdigit (s[2 * i])
                   && g_ascii_isxdigit (s[2 * i + 1]));
    g_assert_cmpint (sscanf (s + 2 * i, "%2x", &v), ==, 1);
    out[i] = (uint8_t)v;
  }
}

static void
set_hex (json_t *obj, const char *key, const uint8_t *v, size_t n)
{
  char *hex = g_malloc (2 * n + 1);
  grp_hex (v, n, hex);
  json_object_set_new (obj, key, json_string (hex));
  g_free (hex);
}

static uint32_t
be32 (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

/* ---- the header comment's construction, written again here ------------ */

/* KEK = HKDF-SHA256 (IKM = X25519 (priv, epk), salt = epk || pk,
 * info = "cairn.im.wrap/1"), through the EVP_PKEY HKDF interface (the code
 * under test uses EVP_KDF). */
static void
spec_kek (const uint8_t priv[32], const uint8_t epk[32], const uint8_t pk[32],
          uint8_t kek[32])
{
  uint8_t shared[32], salt[64];
  size_t len = 32;
  EVP_PKEY *me = EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, priv, 32);
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key (EVP_PKEY_X25519, NULL, epk, 32);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new (me, NULL);
  g_assert_cmpint (EVP_PKEY_derive_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_derive_set_peer (ctx, peer), ==, 1);
  g_assert_cmpint (EVP_PKEY_derive (ctx, shared, &len), ==, 1);
  EVP_PKEY_CTX_free (ctx);
  EVP_PKEY_free (me);
  EVP_PKEY_free (peer);

  memcpy (salt, epk, 32);
  memcpy (salt + 32, pk, 32);
  ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_HKDF, NULL);
  len = 32;
  g_assert_cmpint (EVP_PKEY_derive_init (ctx), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set_hkdf_md (ctx, EVP_sha256 ()), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set1_hkdf_salt (ctx, salt, 64), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_set1_hkdf_key (ctx, shared, 32), ==, 1);
  g_assert_cmpint (EVP_PKEY_CTX_add1_hkdf_info (
                       ctx, (const unsigned char *)"cairn.im.wrap/1", 15),
                   ==, 1);
  g_assert_cmpint (EVP_PKEY_derive (ctx, kek, &len), ==, 1);
  g_assert_cmpuint (len, ==, 32);
  EVP_PKEY_CTX_free (ctx);
}

/* AES-256-GCM decryption; FALSE when the tag does not match. */
static gboolean
spec_decrypt (const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad,
              size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
              const uint8_t tag[16])
{
  uint8_t fin[16];
  int n;
  gboolean ok;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  g_assert_cmpint (EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, iv),
                   ==, 1);
  g_assert_cmpint (EVP_DecryptUpdate (ctx, NULL, &n, aad, (int)aad_len), ==, 1);
  if (len > 0)
    g_assert_cmpint (EVP_DecryptUpdate (ctx, out, &n, in, (int)len), ==, 1);
  EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag);
  ok = EVP_DecryptFinal_ex (ctx, fin, &n) == 1;
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

/* Decrypts blob as u->r[k] following the format alone (no code under test
 * but grp_hex). */
static void
spec_open (GBytes *blob, const Users *u, size_t k, const uint8_t *plain,
           size_t len)
{
  gsize total;
  const uint8_t *p = g_bytes_get_data (blob, &total);
  uint32_t hlen = be32 (p + 8);
  uint8_t epk[32], seg[32], pk[32], wrap[48], kek[32], key[32], aad[88];
  uint8_t zero[12] = { 0 }, iv[12], *out = g_malloc (SEG_SIZE);
  json_error_t jerr;
  json_t *root, *keys, *entry;
  char *again;
  size_t off;
  uint64_t plen = 0;

  g_assert_cmpmem (p, 8, "CAIRNIM1", 8);
  g_assert_cmpuint (hlen, <=, 256 * 1024);
  root = json_loadb ((const char *)p + 12, hlen, JSON_REJECT_DUPLICATES, &jerr);
  g_assert_nonnull (root);
  again = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  g_assert_cmpmem (again, strlen (again), p + 12, hlen);
  free (again);
  g_assert_cmpuint (json_object_size (root), ==, 3);
  get_hex (root, "epk", epk, 32);
  get_hex (root, "seg", seg, 32);
  /* The segcrypt header: magic, version 1, AES-256-GCM, 64 KiB, length. */
  g_assert_cmpmem (seg, 8, "CAIRNVID", 8);
  g_assert_cmpuint (seg[8], ==, 1);
  g_assert_cmpuint (seg[9], ==, 1);
  g_assert_cmpuint (seg[10] | seg[11], ==, 0);
  g_assert_cmpuint (be32 (seg + 12), ==, 65536);
  plen = (uint64_t)be32 (seg + 16) << 32 | be32 (seg + 20);
  g_assert_cmpuint (plen, ==, len);

  keys = json_object_get (root, "keys");
  g_assert_cmpuint (json_object_size (keys), ==, u->n);
  for (size_t i = 0; i < u->n; i++) {
    uint8_t k_pk[32];
    entry = json_object_get (keys, u->r[i].addr);
    g_assert_nonnull (entry);
    g_assert_cmpuint (json_object_size (entry), ==, 2);
    get_hex (entry, "pk", k_pk, 32);
    g_assert_cmpmem (k_pk, 32, u->r[i].pk, 32);
  }
  entry = json_object_get (keys, u->r[k].addr);
  get_hex (entry, "pk", pk, 32);
  get_hex (entry, "wrap", wrap, 48);
  spec_kek (u->priv[k], epk, pk, kek);
  memcpy (aad, "cairn.im.wrap/1", 16); /* with the NUL */
  memcpy (aad + 16, u->r[k].addr, 40);
  memcpy (aad + 56, seg, 32);
  g_assert_true (
      spec_decrypt (kek, zero, aad, sizeof aad, wrap, 32, key, wrap + 32));
  json_decref (root);

  /* The segments. */
  off = 12 + hlen;
  for (uint32_t i = 0; (uint64_t)i * SEG_SIZE < len; i++) {
    size_t n = MIN (SEG_SIZE, len - (size_t)i * SEG_SIZE);
    memcpy (iv, seg + 24, 8);
    iv[8] = (uint8_t)(i >> 24);
    iv[9] = (uint8_t)(i >> 16);
    iv[10] = (uint8_t)(i >> 8);
    iv[11] = (uint8_t)i;
    g_assert_cmpuint (off + n + 16, <=, total);
    g_assert_true (
        spec_decrypt (key, iv, seg, 32, p + off, n, out, p + off + n));
    g_assert_cmpmem (out, n, plain + (size_t)i * SEG_SIZE, n);
    off += n + 16;
  }
  g_assert_cmpuint (off, ==, total);
  g_free (out);
}

/* ---- round trips ------------------------------------------------------- */

static void
test_round_trip (void)
{
  static const size_t sizes[]
      = { 0, 1, 65535, 65536, 65537, 2 * 65536 + 3, 3 * 65536 };
  for (size_t n = 1; n <= 2; n++)
    for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++) {
      g_autoptr (GError) error = NULL;
      g_autofree uint8_t *plain = random_bytes (sizes[s]);
      g_autoptr (GBytes) blob = NULL, blob2 = NULL;
      g_auto (GStrv) listed = NULL;
      uint8_t digest[32], want[32], other_priv[32], other_pk[32];
      Users u, others;

      make_users (&u, n, "round-trip");
      make_users (&others, 1, "outsider");
      blob = seal (plain, sizes[s], &u);
      for (size_t k = 0; k < n; k++) {
        assert_opens (blob, u.r[k].addr, u.priv[k], plain, sizes[s]);
        spec_open (blob, &u, k, plain, sizes[s]);
      }
      /* Someone else, and a recipient's address with another key. */
      assert_open_fails (blob, others.r[0].addr, others.priv[0], plain,
                         sizes[s], G_IO_ERROR_NOT_FOUND, "not a recipient");
      g_assert_true (grp_key_generate (other_priv, other_pk, &error));
      for (size_t k = 0; k < n; k++)
        assert_open_fails (blob, u.r[k].addr, other_priv, plain, sizes[s],
                           G_IO_ERROR_NOT_FOUND, "not the one");
      if (n == 2)
        assert_open_fails (blob, u.r[0].addr, u.priv[1], plain, sizes[s],
                           G_IO_ERROR_NOT_FOUND, "not the one");
      assert_open_fails (blob, "", u.priv[0], plain, sizes[s],
                         G_IO_ERROR_NOT_FOUND, NULL);
      assert_open_fails (blob, "0123", u.priv[0], plain, sizes[s],
                         G_IO_ERROR_NOT_FOUND, NULL);

      /* The listing: sorted addresses. */
      listed = im_recipients (blob, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_strv_length (listed), ==, n);
      for (size_t k = 0; k < n; k++)
        g_assert_cmpstr (listed[k], ==, u.r[n - 1 - k].addr);

      /* The in-memory sealer. */
      blob2 = im_seal_bytes (plain, sizes[s], u.r, u.n, digest, &error);
      g_assert_no_error (error);
      sha256 (g_bytes_get_data (blob2, NULL), g_bytes_get_size (blob2), want);
      g_assert_cmpmem (digest, 32, want, 32);
      g_assert_cmpuint (g_bytes_get_size (blob2), ==, g_bytes_get_size (blob));
      for (size_t k = 0; k < n; k++)
        assert_opens (blob2, u.r[k].addr, u.priv[k], plain, sizes[s]);
    }
}

/* Two seals of the same content share nothing but the layout. */
static void
test_fresh (void)
{
  g_autoptr (GError) error = NULL;
  Users u;
  uint8_t a[32], b[32];
  make_users (&u, 2, "fresh");
  g_autoptr (GBytes) x = im_seal_bytes ("hello", 5, u.r, u.n, a, &error);
  g_autoptr (GBytes) y = im_seal_bytes ("hello", 5, u.r, u.n, b, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (x), ==, g_bytes_get_size (y));
  g_assert_false (g_bytes_equal (x, y));
  g_assert_cmpint (memcmp (a, b, 32), !=, 0);
  json_t *hx = header_of (x), *hy = header_of (y);
  g_assert_cmpstr (json_string_value (json_object_get (hx, "epk")), !=,
                   json_string_value (json_object_get (hy, "epk")));
  g_assert_cmpstr (json_string_value (json_object_get (hx, "seg")), !=,
                   json_string_value (json_object_get (hy, "seg")));
  json_decref (hx);
  json_decref (hy);
}

typedef struct {
  int fd;
  const uint8_t *data;
  size_t len;
} PipeFeed;

static gpointer
pipe_feed (gpointer data)
{
  PipeFeed *f = data;
  for (size_t off = 0; off < f->len;) {
    ssize_t w = write (f->fd, f->data + off, MIN (f->len - off, 4099));
    g_assert_cmpint (w, >, 0);
    off += (size_t)w;
  }
  close (f->fd);
  return NULL;
}

/* The input arrives through a pipe in short reads; and a pipe that ends
 * before `size` bytes is refused. */
static void
test_pipe (void)
{
  const size_t len = 300001;
  g_autofree uint8_t *plain = random_bytes (len);
  Users u;
  make_users (&u, 2, "pipe");

  for (int early = 0; early <= 1; early++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GInputStream) in = NULL;
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr (GBytes) blob = NULL;
    int fds[2];
    uint64_t written = 0;
    uint8_t digest[32], want[32];
    PipeFeed feed;
    GThread *t;
    gboolean ok;

    g_assert_cmpint (pipe (fds), ==, 0);
    feed = (PipeFeed){ fds[1], plain, early ? len - 1 : len };
    t = g_thread_new ("feed", pipe_feed, &feed);
    in = g_unix_input_stream_new (fds[0], TRUE);
    ok = im_seal_stream (in, len, out, u.r, u.n, digest, &written, NULL,
                         &error);
    g_thread_join (t);
    if (early) {
      g_assert_false (ok);
      assert_err (error, G_IO_ERROR_PARTIAL_INPUT, "300000 of the 300001");
      continue;
    }
    g_assert_no_error (error);
    g_assert_true (ok);
    g_assert_true (g_output_stream_close (out, NULL, NULL));
    blob = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
    g_assert_cmpuint (written, ==, g_bytes_get_size (blob));
    sha256 (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob), want);
    g_assert_cmpmem (digest, 32, want, 32);
    for (size_t k = 0; k < u.n; k++)
      assert_opens (blob, u.r[k].addr, u.priv[k], plain, len);
  }
}

/* ---- 20 MiB through files ---------------------------------------------- */

/* A field of /proc/self/status in KiB, or -1. */
static long
status_kib (const char *field)
{
  g_autofree char *text = NULL;
  const char *p;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  p = strstr (text, field);
  return p ? strtol (p + strlen (field) + 1, NULL, 10) : -1;
}

/* Resets the peak RSS to the current one (Linux 4.0+). */
static gboolean
reset_peak (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");
  gboolean ok;
  if (f == NULL)
    return FALSE;
  ok = fputs ("5", f) >= 0;
  return fclose (f) == 0 && ok;
}

/* Deterministic bytes: block i of the plaintext. */
static void
fill_block (uint8_t *buf, size_t len, uint64_t i)
{
  uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);
  for (size_t j = 0; j < len; j++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buf[j] = (uint8_t)(x >> 24);
  }
}

static void
file_sha256 (const char *path, uint8_t out[32], uint64_t *size)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, &error);
  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  g_autofree uint8_t *buf = g_malloc (1 << 20);
  gssize n;

  g_assert_no_error (error);
  *size = 0;
  EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
  while ((n = g_input_stream_read (G_INPUT_STREAM (in), buf, 1 << 20, NULL,
                                   &error))
         > 0) {
    EVP_DigestUpdate (md, buf, (size_t)n);
    *size += (uint64_t)n;
  }
  g_assert_no_error (error);
  EVP_DigestFinal_ex (md, out, NULL);
  EVP_MD_CTX_free (md);
}

/* The header length of a blob file. */
static uint32_t
hlen_of_file (const char *path)
{
  uint8_t fixed[IM_FIXED];
  FILE *f = fopen (path, "rb");
  g_assert_nonnull (f);
  g_assert_cmpuint (fread (fixed, 1, IM_FIXED, f), ==, IM_FIXED);
  fclose (f);
  return be32 (fixed + 8);
}

static void
test_large_file (void)
{
  const uint64_t len = 20u << 20;
  const size_t block = 1 << 20;
  g_autofree char *plain_path = g_build_filename (tmpdir, "plain", NULL);
  g_autofree char *blob_path = g_build_filename (tmpdir, "blob", NULL);
  g_autofree uint8_t *buf = g_malloc (block);
  g_autoptr (GFile) plain_file = g_file_new_for_path (plain_path);
  g_autoptr (GFile) blob_file = g_file_new_for_path (blob_path);
  g_autoptr (GError) error = NULL;
  uint8_t plain_hash[32];
  EVP_MD_CTX *md = EVP_MD_CTX_new ();

  /* The plaintext file. */
  {
    g_autoptr (GFileOutputStream) out = g_file_replace (
        plain_file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error);
    g_assert_no_error (error);
    EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
    for (uint64_t i = 0; i < len / block; i++) {
      fill_block (buf, block, i);
      EVP_DigestUpdate (md, buf, block);
      g_assert_true (g_output_stream_write_all (G_OUTPUT_STREAM (out), buf,
                                                block, NULL, NULL, &error));
    }
    g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error));
    EVP_DigestFinal_ex (md, plain_hash, NULL);
  }

  for (size_t n = 1; n <= 2; n++) {
    Users u;
    uint8_t digest[32], want[32];
    uint64_t written = 0, blob_len = 0;
    gboolean reset;
    long rss0, hwm;
    gint64 t0, t1;

    make_users (&u, n, "large");
    reset = reset_peak ();
    rss0 = reset ? status_kib ("VmRSS:") : status_kib ("VmHWM:");
    t0 = g_get_monotonic_time ();
    {
      g_autoptr (GFileInputStream) in = g_file_read (plain_file, NULL, &error);
      g_autoptr (GFileOutputStream) out = g_file_replace (
          blob_file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (im_seal_stream (G_INPUT_STREAM (in), len,
                                     G_OUTPUT_STREAM (out), u.r, u.n, digest,
                                     &written, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (
          g_output_stream_close (G_OUTPUT_STREAM (out), NULL, &error));
    }
    t1 = g_get_monotonic_time ();
    file_sha256 (blob_path, want, &blob_len);
    g_assert_cmpmem (digest, 32, want, 32);
    g_assert_cmpuint (written, ==, blob_len);
    g_test_message ("%zu recipient(s): sealed %" G_GUINT64_FORMAT
                    " bytes into %" G_GUINT64_FORMAT " in %.2f s",
                    n, len, blob_len, (double)(t1 - t0) / 1e6);

    for (size_t k = 0; k < n; k++) {
      g_autoptr (GFileInputStream) in = g_file_read (blob_file, NULL, &error);
      g_autoptr (GInputStream) plain = NULL;
      uint64_t size = 0, got = 0;
      uint8_t h[32];
      gssize r;

      g_assert_no_error (error);
      t0 = g_get_monotonic_time ();
      plain = im_open_stream (G_INPUT_STREAM (in), u.r[k].addr, u.priv[k],
                              &size, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (size, ==, len);
      g_assert_cmpuint (blob_len, ==,
                        blob_size (hlen_of_file (blob_path), len));
      EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
      while ((r = g_input_stream_read (plain, buf, 100003, NULL, &error)) > 0) {
        EVP_DigestUpdate (md, buf, (size_t)r);
        got += (uint64_t)r;
      }
      g_assert_no_error (error);
      g_assert_cmpint (r, ==, 0);
      EVP_DigestFinal_ex (md, h, NULL);
      g_assert_cmpuint (got, ==, len);
      g_assert_cmpmem (h, 32, plain_hash, 32);
      g_test_message ("  recipient %zu opened and read it in %.2f s", k,
                      (double)(g_get_monotonic_time () - t0) / 1e6);
    }
    hwm = status_kib ("VmHWM:");
    g_test_message ("  peak RSS %ld KiB, %ld KiB over the %s (%ld KiB)", hwm,
                    hwm - rss0, reset ? "RSS at the start" : "earlier peak",
                    rss0);
    if (rss0 < 0 || hwm < 0)
      g_error ("cannot read /proc/self/status");
    /* Never the whole content (20 MiB) in memory: one segment and stream
     * buffers (measured: under 1 MiB, under 4 MiB with ASan); the test's
     * own 1 MiB buffer is allocated already. */
    g_assert_cmpint (hwm - rss0, <, 8 * 1024);
  }
  EVP_MD_CTX_free (md);
  g_assert_cmpint (g_unlink (plain_path), ==, 0);
  g_assert_cmpint (g_unlink (blob_path), ==, 0);
}

/* ---- tampering ----------------------------------------------------------- */

enum { REGION_OTHER_ENTRY, REGION_OWN_ID, REGION_REST };

typedef struct {
  size_t addr, pk, wrap; /* blob offsets of the address and of the hex */
} EntryAt;

static size_t
find_in (const uint8_t *p, size_t total, const char *needle)
{
  const uint8_t *at = memmem (p, total, needle, strlen (needle));
  g_assert_nonnull (at);
  g_assert_null (
      memmem (at + 1, total - (size_t)(at - p) - 1, needle, strlen (needle)));
  return (size_t)(at - p);
}

static void
entries_at (GBytes *blob, const Users *u, EntryAt *at)
{
  gsize total;
  const uint8_t *p = g_bytes_get_data (blob, &total);
  size_t end = IM_FIXED + hlen_of (blob);
  json_t *root = header_of (blob), *keys;
  keys = json_object_get (root, "keys");
  for (size_t k = 0; k < u->n; k++) {
    json_t *e = json_object_get (keys, u->r[k].addr);
    at[k].addr = find_in (p, end, u->r[k].addr);
    at[k].pk = find_in (p, end, json_string_value (json_object_get (e, "pk")));
    at[k].wrap
        = find_in (p, end, json_string_value (json_object_get (e, "wrap")));
  }
  json_decref (root);
}

static int
region_of (size_t pos, const EntryAt *at, size_t n, size_t k)
{
  for (size_t i = 0; i < n; i++) {
    gboolean in_id = (pos >= at[i].addr && pos < at[i].addr + 40)
                     || (pos >= at[i].pk && pos < at[i].pk + 64);
    gboolean in_wrap = pos >= at[i].wrap && pos < at[i].wrap + 96;
    if (i == k && in_id)
      return REGION_OWN_ID;
    if (i != k && (in_id || in_wrap))
      return REGION_OTHER_ENTRY;
  }
  return REGION_REST;
}

/* Flip each header byte and sampled segment bytes (every `stride`-th and
 * around each segment's end) with three masks: every recipient either reads
 * the true plaintext (only when the change is in another recipient's entry)
 * or fails (NOT_FOUND only when its own address or key changed, else
 * INVALID_DATA), at least one fails, and no one gets other plaintext. */
static void
tamper_all (size_t n, size_t len, size_t stride, const char *tag)
{
  static const uint8_t masks[] = { 0x01, 0x40, 0x80 };
  g_autofree uint8_t *plain = random_bytes (len);
  g_autoptr (GBytes) blob = NULL;
  gsize total;
  const uint8_t *p;
  size_t body, tried = 0;
  EntryAt at[IM_MAX_RECIPIENTS];
  Users u;

  make_users (&u, n, tag);
  blob = seal (plain, len, &u);
  p = g_bytes_get_data (blob, &total);
  body = IM_FIXED + hlen_of (blob);
  entries_at (blob, &u, at);
  for (size_t pos = 0; pos < total; pos++) {
    size_t in_seg = (pos - body) % (SEG_SIZE + SEG_TAG);
    if (pos >= body && stride > 1 && (pos - body) % stride != 0 && in_seg >= 4
        && in_seg < SEG_SIZE + SEG_TAG - 20 && pos + 4 < total)
      continue;
    for (size_t m = 0; m < G_N_ELEMENTS (masks); m++) {
      uint8_t *bad = g_memdup2 (p, total);
      g_autoptr (GBytes) b = NULL;
      size_t failed = 0;

      bad[pos] ^= masks[m];
      b = g_bytes_new_take (bad, total);
      tried++;
      for (size_t k = 0; k < n; k++) {
        g_autoptr (GError) e1 = NULL, e2 = NULL;
        g_autoptr (GBytes) out = im_open_bytes (b, u.r[k].addr, u.priv[k], &e1);
        g_autoptr (GByteArray) streamed = NULL;
        int region = region_of (pos, at, n, k);
        gboolean opened;

        streamed = open_stream_all (b, u.r[k].addr, u.priv[k], &opened, &e2);
        if (out != NULL) {
          if (region != REGION_OTHER_ENTRY)
            g_error ("byte %zu ^ 0x%02x: recipient %zu still opens", pos,
                     masks[m], k);
          g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out),
                           plain, len);
          g_assert_no_error (e2);
          g_assert_cmpmem (streamed->data, streamed->len, plain, len);
          continue;
        }
        failed++;
        g_assert_nonnull (e1);
        g_assert_nonnull (e2);
        if (e1->code == G_IO_ERROR_NOT_FOUND)
          g_assert_cmpint (region, ==, REGION_OWN_ID);
        else
          assert_err (e1, G_IO_ERROR_INVALID_DATA, NULL);
        g_assert_true (e2->domain == G_IO_ERROR && e2->code == e1->code);
        g_assert_cmpuint (streamed->len, <, MAX (len, 1));
        if (streamed->len > 0) {
          g_assert_true (pos >= body);
          g_assert_cmpmem (streamed->data, streamed->len, plain, streamed->len);
        }
      }
      if (failed == 0)
        g_error ("byte %zu ^ 0x%02x: nobody fails", pos, masks[m]);
    }
  }
  g_test_message ("%zu recipient(s), %zu bytes: %zu changed blobs", n, len,
                  tried);
}

static void
test_tamper_every_byte (void)
{
  tamper_all (1, 100, 1, "tamper-1");
  tamper_all (2, 100, 1, "tamper-2");
  tamper_all (2, 0, 1, "tamper-empty");
  tamper_all (1, 65536 + 70, 97, "tamper-segments");
}

/* Cut the blob at many points: every byte of the fixed part, header and
 * first 64 bytes, then every 97th and around the segment's end. */
static void
truncate_all (size_t n, size_t len, const char *tag)
{
  g_autofree uint8_t *plain = random_bytes (len);
  g_autoptr (GBytes) blob = NULL;
  Users u;
  size_t body, cuts = 0;
  gsize total;

  make_users (&u, n, tag);
  blob = seal (plain, len, &u);
  g_bytes_get_data (blob, &total);
  body = IM_FIXED + hlen_of (blob);
  for (size_t cut = 0; cut < total; cut++) {
    size_t in_seg = (cut - body) % (SEG_SIZE + SEG_TAG);
    if (cut > body + 64 && (cut - body) % 97 != 0 && in_seg > 2
        && in_seg < SEG_SIZE + SEG_TAG - 20 && cut + 20 < total)
      continue;
    g_autoptr (GBytes) b = g_bytes_new_from_bytes (blob, 0, cut);
    for (size_t k = 0; k < n; k++)
      assert_open_fails (b, u.r[k].addr, u.priv[k], plain, len,
                         G_IO_ERROR_INVALID_DATA, NULL);
    cuts++;
  }
  g_test_message ("%zu bytes: %zu cuts", len, cuts);
}

static void
test_truncated (void)
{
  truncate_all (1, 0, "cut-empty");
  truncate_all (2, 1, "cut-1");
  truncate_all (2, 2 * 65536 + 100, "cut-segments");
  /* Messages: the fixed part, the header, a segment. */
  {
    g_autofree uint8_t *plain = random_bytes (70000);
    Users u;
    make_users (&u, 1, "cut-messages");
    g_autoptr (GBytes) blob = seal (plain, 70000, &u);
    g_autoptr (GBytes) b1 = g_bytes_new_from_bytes (blob, 0, 11);
    g_autoptr (GBytes) b2 = g_bytes_new_from_bytes (blob, 0, 40);
    g_autoptr (GBytes) b3 = g_bytes_new_from_bytes (
        blob, 0, IM_FIXED + hlen_of (blob) + 65552 + 10);
    assert_open_fails (b1, u.r[0].addr, u.priv[0], plain, 70000,
                       G_IO_ERROR_INVALID_DATA, "less than its 12-byte");
    assert_open_fails (b2, u.r[0].addr, u.priv[0], plain, 70000,
                       G_IO_ERROR_INVALID_DATA, "truncated");
    assert_open_fails (b3, u.r[0].addr, u.priv[0], plain, 70000,
                       G_IO_ERROR_INVALID_DATA, "truncated");
    /* The stream delivers the first segment, then fails on the second. */
    g_autoptr (GError) error = NULL;
    gboolean opened;
    g_autoptr (GByteArray) got
        = open_stream_all (b3, u.r[0].addr, u.priv[0], &opened, &error);
    g_assert_true (opened);
    assert_err (error, G_IO_ERROR_INVALID_DATA, "segment 1 is cut short");
    g_assert_cmpmem (got->data, got->len, plain, 65536);
  }
}

/* Bytes after the last segment. */
static void
test_extended (void)
{
  static const size_t lens[] = { 0, 5, 65536 };
  for (size_t l = 0; l < G_N_ELEMENTS (lens); l++) {
    g_autofree uint8_t *plain = random_bytes (lens[l]);
    Users u;
    make_users (&u, 1, "extended");
    g_autoptr (GBytes) blob = seal (plain, lens[l], &u);
    for (size_t extra = 1; extra <= 65552; extra *= 17) {
      gsize total;
      const uint8_t *p = g_bytes_get_data (blob, &total);
      uint8_t *longer = g_malloc0 (total + extra);
      g_autoptr (GError) error = NULL;
      g_autoptr (GByteArray) got = NULL;
      gboolean opened;
      memcpy (longer, p, total);
      g_autoptr (GBytes) b = g_bytes_new_take (longer, total + extra);
      assert_open_fails (b, u.r[0].addr, u.priv[0], plain, lens[l],
                         G_IO_ERROR_INVALID_DATA, "bytes follow the last");
      got = open_stream_all (b, u.r[0].addr, u.priv[0], &opened, &error);
      assert_err (error, G_IO_ERROR_INVALID_DATA, "bytes follow the last");
      /* Only at the end: all of the true plaintext came first. */
      g_assert_cmpmem (got->data, got->len, plain, lens[l]);
    }
  }
}

/* Segments moved within a blob or taken from another one. */
static void
test_segments_moved (void)
{
  const size_t len = 3 * 65536, seg = 65536 + 16;
  g_autofree uint8_t *plain = random_bytes (len);
  Users u;
  make_users (&u, 1, "moved");
  g_autoptr (GBytes) a = seal (plain, len, &u);
  g_autoptr (GBytes) b = seal (plain, len, &u);
  gsize total;
  const uint8_t *pa = g_bytes_get_data (a, &total);
  const uint8_t *pb = g_bytes_get_data (b, NULL);
  size_t body = IM_FIXED + hlen_of (a);
  g_assert_cmpuint (hlen_of (a), ==, hlen_of (b));

  /* Segments 0 and 1 swapped: nothing is delivered. */
  {
    uint8_t *x = g_memdup2 (pa, total);
    memcpy (x + body, pa + body + seg, seg);
    memcpy (x + body + seg, pa + body, seg);
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    g_autoptr (GError) error = NULL;
    gboolean opened;
    g_autoptr (GByteArray) got
        = open_stream_all (bad, u.r[0].addr, u.priv[0], &opened, &error);
    assert_err (error, G_IO_ERROR_INVALID_DATA,
                "segment 0 failed authentication");
    g_assert_cmpuint (got->len, ==, 0);
    assert_open_fails (bad, u.r[0].addr, u.priv[0], plain, len,
                       G_IO_ERROR_INVALID_DATA, "segment 0");
  }
  /* Segment 2 from another seal of the same plaintext (other key). */
  {
    uint8_t *x = g_memdup2 (pa, total);
    memcpy (x + body + 2 * seg, pb + body + 2 * seg, seg);
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    g_autoptr (GError) error = NULL;
    gboolean opened;
    g_autoptr (GByteArray) got
        = open_stream_all (bad, u.r[0].addr, u.priv[0], &opened, &error);
    assert_err (error, G_IO_ERROR_INVALID_DATA, "segment 2");
    g_assert_cmpmem (got->data, got->len, plain, 2 * 65536);
  }
  /* The header of b on the segments of a. */
  {
    uint8_t *x = g_memdup2 (pa, total);
    memcpy (x, pb, body);
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    assert_open_fails (bad, u.r[0].addr, u.priv[0], plain, len,
                       G_IO_ERROR_INVALID_DATA, "segment 0");
  }
}

/* The stream reads the input a segment at a time, as it is read. */
static void
test_on_demand (void)
{
  const size_t len = 3 * 65536 + 1;
  g_autofree uint8_t *plain = random_bytes (len);
  g_autoptr (GError) error = NULL;
  Users u;
  uint8_t buf[100];
  uint64_t size;
  make_users (&u, 2, "on-demand");
  g_autoptr (GBytes) blob = seal (plain, len, &u);
  size_t body = IM_FIXED + hlen_of (blob);
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (blob);
  g_autoptr (GInputStream) s
      = im_open_stream (in, u.r[1].addr, u.priv[1], &size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, len);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, body);
  g_assert_cmpint (g_input_stream_read (s, buf, 1, NULL, &error), ==, 1);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, body + 65552);
  g_assert_cmpint (buf[0], ==, plain[0]);
  g_assert_cmpint (g_input_stream_skip (s, 65535, NULL, &error), ==, 65535);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, body + 65552);
  g_assert_cmpint (g_input_stream_read (s, buf, 100, NULL, &error), ==, 100);
  g_assert_cmpmem (buf, 100, plain + 65536, 100);
  g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, body + 2 * 65552);
  g_assert_true (g_input_stream_close (s, NULL, &error));
  g_assert_true (g_input_stream_is_closed (in));
}

/* ---- the header -------------------------------------------------------- */

static void
assert_header_refused (GBytes *bad, const Users *u, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) listed = im_recipients (bad, &error);
  g_assert_null (listed);
  assert_err (error, G_IO_ERROR_INVALID_DATA, want);
  for (size_t k = 0; k < u->n; k++)
    assert_open_fails (bad, u->r[k].addr, u->priv[k], NULL, 0,
                       G_IO_ERROR_INVALID_DATA, want);
}

static void
test_non_canonical (void)
{
  g_autoptr (GBytes) blob = NULL, same = NULL;
  const char *addr0, *addr1;
  json_t *hdr, *h, *keys, *e;
  char *text, *edited;
  Users u;
  uint8_t plain[10] = "0123456789";

  make_users (&u, 2, "canonical");
  blob = seal (plain, sizeof plain, &u);
  hdr = header_of (blob);
  addr0 = u.r[0].addr;
  addr1 = u.r[1].addr;
  /* The helper itself: the same header, canonically, opens. */
  same = with_header (blob, hdr, CANONICAL);
  g_assert_true (g_bytes_equal (same, blob));

#define REFUSE(b, want)                                                        \
  do {                                                                         \
    g_autoptr (GBytes) bad_ = (b);                                             \
    assert_header_refused (bad_, &u, want);                                    \
  } while (0)

  /* Not compact, not sorted, indented. */
  REFUSE (with_header (blob, hdr, JSON_SORT_KEYS), "not canonical");
  REFUSE (with_header (blob, hdr, JSON_INDENT (1) | JSON_SORT_KEYS),
          "not canonical");
  h = json_object ();
  json_object_set (h, "seg", json_object_get (hdr, "seg"));
  json_object_set (h, "keys", json_object_get (hdr, "keys"));
  json_object_set (h, "epk", json_object_get (hdr, "epk"));
  REFUSE (with_header (blob, h, JSON_COMPACT), "not canonical");
  json_decref (h);
  /* Trailing space, an escaped character, a duplicate key. */
  text = json_dumps (hdr, CANONICAL);
  edited = g_strconcat (text, " ", NULL);
  REFUSE (with_header_text (blob, IM_MAGIC, edited, strlen (edited)), NULL);
  g_free (edited);
  {
    const char *epk = strstr (text, "\"epk\":\"") + 7;
    edited = g_strdup_printf ("%.*s\\u00%02x%s", (int)(epk - text), text,
                              (unsigned)epk[0], epk + 1);
    REFUSE (with_header_text (blob, IM_MAGIC, edited, strlen (edited)),
            "not canonical");
    g_free (edited);
    edited = g_strdup_printf ("{\"epk\":\"%.64s\",%s", epk, text + 1);
    REFUSE (with_header_text (blob, IM_MAGIC, edited, strlen (edited)),
            "not valid JSON");
    g_free (edited);
  }
  free (text);

  /* Extra, missing and mistyped fields. */
  h = json_deep_copy (hdr);
  json_object_set_new (h, "x", json_integer (1));
  REFUSE (with_header (blob, h, CANONICAL), "unknown key 'x'");
  json_decref (h);
  h = json_deep_copy (hdr);
  json_object_del (h, "seg");
  REFUSE (with_header (blob, h, CANONICAL), "missing 'seg'");
  json_decref (h);
  h = json_deep_copy (hdr);
  json_object_set_new (h, "epk", json_integer (7));
  REFUSE (with_header (blob, h, CANONICAL), "'epk' is not 64 lowercase hex");
  json_decref (h);
  h = json_deep_copy (hdr);
  {
    g_autofree char *up
        = g_ascii_strup (json_string_value (json_object_get (h, "epk")), -1);
    json_object_set_new (h, "epk", json_string (up));
  }
  REFUSE (with_header (blob, h, CANONICAL), "'epk' is not 64 lowercase hex");
  json_decref (h);
  h = json_deep_copy (hdr);
  {
    g_autofree char *shorter
        = g_strndup (json_string_value (json_object_get (h, "seg")), 62);
    json_object_set_new (h, "seg", json_string (shorter));
  }
  REFUSE (with_header (blob, h, CANONICAL), "'seg' is not 64 lowercase hex");
  json_decref (h);
  h = json_deep_copy (hdr);
  e = json_object_get (json_object_get (h, "keys"), addr0);
  json_object_set_new (e, "v", json_integer (1));
  REFUSE (with_header (blob, h, CANONICAL), "unknown key 'v'");
  json_decref (h);
  h = json_deep_copy (hdr);
  e = json_object_get (json_object_get (h, "keys"), addr1);
  json_object_del (e, "pk");
  REFUSE (with_header (blob, h, CANONICAL), "missing 'pk'");
  json_decref (h);
  h = json_deep_copy (hdr);
  e = json_object_get (json_object_get (h, "keys"), addr1);
  json_object_set_new (e, "wrap", json_string ("00"));
  REFUSE (with_header (blob, h, CANONICAL), "'wrap' is not 96 lowercase hex");
  json_decref (h);
  h = json_deep_copy (hdr);
  json_object_set_new (json_object_get (h, "keys"), addr0, json_array ());
  REFUSE (with_header (blob, h, CANONICAL), "not an object");
  json_decref (h);

  /* Addresses: upper case, 39 and 41 chars. */
  {
    const char *bad_addrs[3];
    g_autofree char *up = g_ascii_strup (addr0, -1);
    g_autofree char *a39 = g_strndup (addr0, 39);
    g_autofree char *a41 = g_strconcat (addr0, "0", NULL);
    bad_addrs[0] = up;
    bad_addrs[1] = a39;
    bad_addrs[2] = a41;
    for (size_t i = 0; i < 3; i++) {
      h = json_deep_copy (hdr);
      keys = json_object_get (h, "keys");
      json_object_set (keys, bad_addrs[i], json_object_get (keys, addr0));
      json_object_del (keys, addr0);
      REFUSE (with_header (blob, h, CANONICAL), "is not an address");
      json_decref (h);
    }
  }
  /* No recipient; nine; keys not an object. */
  h = json_deep_copy (hdr);
  json_object_set_new (h, "keys", json_object ());
  REFUSE (with_header (blob, h, CANONICAL), "0 entries");
  json_decref (h);
  h = json_deep_copy (hdr);
  keys = json_object_get (h, "keys");
  for (int i = 0; i < 7; i++) {
    char a[41];
    memset (a, '1' + i, 40);
    a[40] = '\0';
    json_object_set (keys, a, json_object_get (keys, addr0));
  }
  REFUSE (with_header (blob, h, CANONICAL), "9 entries");
  json_decref (h);
  h = json_deep_copy (hdr);
  json_object_set_new (h, "keys", json_string ("x"));
  REFUSE (with_header (blob, h, CANONICAL), "'keys' is not an object");
  json_decref (h);
  /* Not an object at all; empty. */
  REFUSE (with_header_text (blob, IM_MAGIC, "[]", 2), "not a JSON object");
  REFUSE (with_header_text (blob, IM_MAGIC, "null", 4), "not valid JSON");
  REFUSE (with_header_text (blob, IM_MAGIC, "", 0), "header length 0");

  /* A well-formed seg header of another format: segment size, magic. */
  {
    uint8_t seg[32];
    get_hex (hdr, "seg", seg, 32);
    seg[14] = 0x10; /* 65536 -> 65536 + 4096 */
    h = json_deep_copy (hdr);
    set_hex (h, "seg", seg, 32);
    REFUSE (with_header (blob, h, CANONICAL), "segment size");
    json_decref (h);
    get_hex (hdr, "seg", seg, 32);
    seg[0] = 'X';
    h = json_deep_copy (hdr);
    set_hex (h, "seg", seg, 32);
    REFUSE (with_header (blob, h, CANONICAL), "bad magic");
    json_decref (h);
  }
  json_decref (hdr);
#undef REFUSE
}

/* The fixed part: magic and header length. */
static void
test_fixed_part (void)
{
  Users u;
  make_users (&u, 1, "fixed");
  g_autoptr (GBytes) blob = seal ("abc", 3, &u);
  json_t *hdr = header_of (blob);
  char *text = json_dumps (hdr, CANONICAL);
  size_t hlen = strlen (text);
  gsize total;
  const uint8_t *p = g_bytes_get_data (blob, &total);
  static const char *const magics[]
      = { "CAIRNIM2", "CAIRNIM0", "cairnim1", "CAIRNVID", "CAIRNGRP" };

  for (size_t i = 0; i < G_N_ELEMENTS (magics); i++) {
    g_autoptr (GBytes) bad = with_header_text (blob, magics[i], text, hlen);
    assert_header_refused (bad, &u, "bad magic");
  }
  /* H over the limit, and H pointing past the header (into segments). */
  {
    uint8_t *x = g_memdup2 (p, total);
    x[8] = 0;
    x[9] = 4;
    x[10] = 0;
    x[11] = 1; /* 256 KiB + 1 */
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    assert_header_refused (bad, &u, "out of range");
  }
  {
    uint8_t *x = g_memdup2 (p, total);
    x[11] = (uint8_t)(x[11] + 5);
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    assert_open_fails (bad, u.r[0].addr, u.priv[0], "abc", 3,
                       G_IO_ERROR_INVALID_DATA, "not valid JSON");
  }
  {
    uint8_t *x = g_memdup2 (p, total);
    x[11] = (uint8_t)(x[11] + 100); /* past the end */
    g_autoptr (GBytes) bad = g_bytes_new_take (x, total);
    assert_open_fails (bad, u.r[0].addr, u.priv[0], "abc", 3,
                       G_IO_ERROR_INVALID_DATA, "truncated");
  }
  free (text);
  json_decref (hdr);
}

/* Wraps swapped between entries or taken from another blob, and other
 * header fields moved: each is refused by the wrap's tag. */
static void
test_swap_wraps (void)
{
  const char *plain = "a secret message";
  size_t len = strlen (plain);
  g_autoptr (GError) error = NULL;
  json_t *hdr, *h, *e0, *e1, *w0;
  Users u;

  /* Two addresses with one key: only the address in the AAD tells the
   * wraps apart. */
  make_users (&u, 2, "swap-same-key");
  memcpy (u.priv[1], u.priv[0], 32);
  memcpy (u.r[1].pk, u.r[0].pk, 32);
  {
    g_autoptr (GBytes) blob = seal (plain, len, &u);
    g_autoptr (GBytes) bad = NULL;
    assert_opens (blob, u.r[0].addr, u.priv[0], plain, len);
    assert_opens (blob, u.r[1].addr, u.priv[1], plain, len);
    hdr = header_of (blob);
    h = json_deep_copy (hdr);
    e0 = json_object_get (json_object_get (h, "keys"), u.r[0].addr);
    e1 = json_object_get (json_object_get (h, "keys"), u.r[1].addr);
    w0 = json_incref (json_object_get (e0, "wrap"));
    json_object_set (e0, "wrap", json_object_get (e1, "wrap"));
    json_object_set_new (e1, "wrap", w0);
    bad = with_header (blob, h, CANONICAL);
    g_assert_cmpuint (g_bytes_get_size (bad), ==, g_bytes_get_size (blob));
    for (size_t k = 0; k < 2; k++)
      assert_open_fails (bad, u.r[k].addr, u.priv[k], plain, len,
                         G_IO_ERROR_INVALID_DATA, "fails its tag");
    json_decref (h);
    json_decref (hdr);
  }

  /* Distinct keys: wraps swapped, and whole entries swapped. */
  make_users (&u, 2, "swap");
  {
    g_autoptr (GBytes) blob = seal (plain, len, &u);
    g_autoptr (GBytes) bad = NULL, bad2 = NULL;
    hdr = header_of (blob);
    h = json_deep_copy (hdr);
    e0 = json_object_get (json_object_get (h, "keys"), u.r[0].addr);
    e1 = json_object_get (json_object_get (h, "keys"), u.r[1].addr);
    w0 = json_incref (json_object_get (e0, "wrap"));
    json_object_set (e0, "wrap", json_object_get (e1, "wrap"));
    json_object_set_new (e1, "wrap", w0);
    bad = with_header (blob, h, CANONICAL);
    for (size_t k = 0; k < 2; k++)
      assert_open_fails (bad, u.r[k].addr, u.priv[k], plain, len,
                         G_IO_ERROR_INVALID_DATA, "fails its tag");
    json_decref (h);
    h = json_deep_copy (hdr);
    e0 = json_deep_copy (
        json_object_get (json_object_get (hdr, "keys"), u.r[0].addr));
    json_object_set (
        json_object_get (h, "keys"), u.r[0].addr,
        json_object_get (json_object_get (hdr, "keys"), u.r[1].addr));
    json_object_set_new (json_object_get (h, "keys"), u.r[1].addr, e0);
    bad2 = with_header (blob, h, CANONICAL);
    for (size_t k = 0; k < 2; k++)
      assert_open_fails (bad2, u.r[k].addr, u.priv[k], plain, len,
                         G_IO_ERROR_NOT_FOUND, "not the one");
    json_decref (h);
    json_decref (hdr);
  }

  /* From another seal to the same recipients: its wrap, epk or seg. */
  {
    g_autoptr (GBytes) a = seal (plain, len, &u);
    g_autoptr (GBytes) b = seal (plain, len, &u);
    json_t *ha = header_of (a), *hb = header_of (b);
    static const char *const fields[] = { "epk", "seg" };
    for (size_t f = 0; f < G_N_ELEMENTS (fields); f++) {
      h = json_deep_copy (ha);
      json_object_set (h, fields[f], json_object_get (hb, fields[f]));
      g_autoptr (GBytes) bad = with_header (a, h, CANONICAL);
      for (size_t k = 0; k < 2; k++)
        assert_open_fails (bad, u.r[k].addr, u.priv[k], plain, len,
                           G_IO_ERROR_INVALID_DATA, "fails its tag");
      json_decref (h);
    }
    h = json_deep_copy (ha);
    json_object_set (
        json_object_get (h, "keys"), u.r[0].addr,
        json_object_get (json_object_get (hb, "keys"), u.r[0].addr));
    {
      g_autoptr (GBytes) bad = with_header (a, h, CANONICAL);
      assert_open_fails (bad, u.r[0].addr, u.priv[0], plain, len,
                         G_IO_ERROR_INVALID_DATA, "fails its tag");
      assert_opens (bad, u.r[1].addr, u.priv[1], plain, len);
    }
    json_decref (h);
    /* An epk of small order (all zero): refused, not an OpenSSL failure. */
    h = json_deep_copy (ha);
    {
      uint8_t zero[32] = { 0 };
      set_hex (h, "epk", zero, 32);
      g_autoptr (GBytes) bad = with_header (a, h, CANONICAL);
      assert_open_fails (bad, u.r[0].addr, u.priv[0], plain, len,
                         G_IO_ERROR_INVALID_DATA, "'epk' is not a usable");
    }
    json_decref (h);
    /* The plaintext length in seg changed (a valid seg header). */
    h = json_deep_copy (ha);
    {
      uint8_t seg[32];
      get_hex (ha, "seg", seg, 32);
      seg[23] = (uint8_t)(seg[23] - 1);
      set_hex (h, "seg", seg, 32);
      g_autoptr (GBytes) bad = with_header (a, h, CANONICAL);
      assert_open_fails (bad, u.r[0].addr, u.priv[0], plain, len,
                         G_IO_ERROR_INVALID_DATA, "fails its tag");
    }
    json_decref (h);
    json_decref (ha);
    json_decref (hb);
  }
}

/* ---- sealing errors ---------------------------------------------------- */

static void
assert_seal_fails (const void *data, size_t len, uint64_t size,
                   GOutputStream *out, const ImRecipient *r, size_t n,
                   GCancellable *cancel, int code, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (data, (gssize)len, NULL);
  g_autoptr (GOutputStream) own = NULL;
  if (out == NULL)
    out = own = g_memory_output_stream_new_resizable ();
  g_assert_false (
      im_seal_stream (in, size, out, r, n, NULL, NULL, cancel, &error));
  assert_err (error, code, want);
}

static void
test_seal_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree uint8_t *plain = random_bytes (70000);
  Users u, nine;
  ImRecipient bad[2];

  make_users (&u, 2, "seal-errors");
  make_users (&nine, 9, "nine");
  assert_seal_fails ("x", 1, 1, NULL, u.r, 0, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "0 recipients");
  assert_seal_fails ("x", 1, 1, NULL, nine.r, 9, NULL,
                     G_IO_ERROR_INVALID_ARGUMENT, "9 recipients");
  bad[0] = u.r[0];
  bad[1] = u.r[0];
  memcpy (bad[1].pk, u.r[1].pk, 32);
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "appears twice");
  bad[1] = u.r[1];
  bad[1].addr[3] = 'A';
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "recipient 1: address");
  bad[1] = u.r[1];
  bad[1].addr[39] = '\0';
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "not 40 lowercase hex");
  bad[1] = u.r[1];
  memset (bad[1].addr, 'a', sizeof bad[1].addr); /* no NUL */
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "not 40 lowercase hex");
  /* Keys of small order. */
  bad[1] = u.r[1];
  memset (bad[1].pk, 0, 32);
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "small order");
  bad[1].pk[0] = 1;
  assert_seal_fails ("x", 1, 1, NULL, bad, 2, NULL, G_IO_ERROR_INVALID_ARGUMENT,
                     "small order");
  /* Too large; short input (in the first and in a later segment). */
  assert_seal_fails ("x", 1, IM_MAX_SIZE + 1, NULL, u.r, 2, NULL,
                     G_IO_ERROR_INVALID_ARGUMENT, "over the limit");
  assert_seal_fails (plain, 99, 100, NULL, u.r, 2, NULL,
                     G_IO_ERROR_PARTIAL_INPUT, "after 99 of the 100");
  assert_seal_fails (plain, 65536, 65537, NULL, u.r, 2, NULL,
                     G_IO_ERROR_PARTIAL_INPUT, "after 65536 of the 65537");
  /* Cancelled; an output that is closed or full. */
  {
    g_autoptr (GCancellable) c = g_cancellable_new ();
    g_cancellable_cancel (c);
    assert_seal_fails (plain, 100, 100, NULL, u.r, 2, c, G_IO_ERROR_CANCELLED,
                       NULL);
  }
  {
    g_autoptr (GOutputStream) closed = g_memory_output_stream_new_resizable ();
    g_assert_true (g_output_stream_close (closed, NULL, NULL));
    assert_seal_fails (plain, 100, 100, closed, u.r, 2, NULL, G_IO_ERROR_CLOSED,
                       NULL);
  }
  {
    uint8_t small[500];
    g_autoptr (GOutputStream) full
        = g_memory_output_stream_new (small, sizeof small, NULL, NULL);
    assert_seal_fails (plain, 70000, 70000, full, u.r, 2, NULL,
                       G_IO_ERROR_NO_SPACE, NULL);
  }
  /* More input than size: only size bytes are read. */
  {
    g_autoptr (GInputStream) in
        = g_memory_input_stream_new_from_data (plain, 70000, NULL);
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr (GBytes) blob = NULL;
    g_assert_true (
        im_seal_stream (in, 65537, out, u.r, 2, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_seekable_tell (G_SEEKABLE (in)), ==, 65537);
    g_assert_true (g_output_stream_close (out, NULL, NULL));
    blob = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
    assert_opens (blob, u.r[0].addr, u.priv[0], plain, 65537);
  }
  /* im_seal_bytes reports the same errors. */
  g_assert_null (im_seal_bytes ("x", 1, bad, 2, NULL, &error));
  assert_err (error, G_IO_ERROR_INVALID_ARGUMENT, "small order");
}

/* Eight recipients, each reads. */
static void
test_eight (void)
{
  g_autofree uint8_t *plain = random_bytes (1000);
  Users u;
  make_users (&u, 8, "eight");
  g_autoptr (GBytes) blob = seal (plain, 1000, &u);
  for (size_t k = 0; k < 8; k++) {
    assert_opens (blob, u.r[k].addr, u.priv[k], plain, 1000);
    spec_open (blob, &u, k, plain, 1000);
  }
}

/* ---- the listing and key files ----------------------------------------- */

static void
test_recipients (void)
{
  g_autoptr (GError) error = NULL;
  Users u;
  make_users (&u, 3, "listing");
  g_autoptr (GBytes) blob = seal ("hi", 2, &u);
  size_t body = IM_FIXED + hlen_of (blob);
  g_autoptr (GBytes) exact = g_bytes_new_from_bytes (blob, 0, body);
  g_autoptr (GBytes) less = g_bytes_new_from_bytes (blob, 0, body - 1);
  g_autoptr (GBytes) tiny = g_bytes_new_from_bytes (blob, 0, 5);
  g_auto (GStrv) a = im_recipients (exact, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (a), ==, 3);
  g_assert_cmpstr (a[0], ==, u.r[2].addr);
  g_assert_cmpstr (a[1], ==, u.r[1].addr);
  g_assert_cmpstr (a[2], ==, u.r[0].addr);
  g_assert_null (im_recipients (less, &error));
  assert_err (error, G_IO_ERROR_PARTIAL_INPUT, "only");
  g_clear_error (&error);
  g_assert_null (im_recipients (tiny, &error));
  assert_err (error, G_IO_ERROR_PARTIAL_INPUT, "fixed part");
}

static void
test_key_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (tmpdir, "im.x25519.pem", NULL);
  uint8_t loaded[32];
  Users u;
  make_users (&u, 1, "key-file");
  g_autoptr (GBytes) blob = seal ("with a key file", 15, &u);
  g_assert_true (grp_key_save (path, u.priv[0], &error));
  g_assert_no_error (error);
  g_assert_true (grp_key_load (path, loaded, &error));
  g_assert_no_error (error);
  assert_opens (blob, u.r[0].addr, loaded, "with a key file", 15);
  g_assert_cmpint (g_unlink (path), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("cairn-test-imcrypt-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/im/crypt/round-trip", test_round_trip);
  g_test_add_func ("/im/crypt/fresh", test_fresh);
  g_test_add_func ("/im/crypt/eight", test_eight);
  g_test_add_func ("/im/crypt/pipe", test_pipe);
  g_test_add_func ("/im/crypt/large-file", test_large_file);
  g_test_add_func ("/im/crypt/on-demand", test_on_demand);
  g_test_add_func ("/im/crypt/tamper-every-byte", test_tamper_every_byte);
  g_test_add_func ("/im/crypt/truncated", test_truncated);
  g_test_add_func ("/im/crypt/extended", test_extended);
  g_test_add_func ("/im/crypt/segments-moved", test_segments_moved);
  g_test_add_func ("/im/crypt/non-canonical", test_non_canonical);
  g_test_add_func ("/im/crypt/fixed-part", test_fixed_part);
  g_test_add_func ("/im/crypt/swap-wraps", test_swap_wraps);
  g_test_add_func ("/im/crypt/seal-errors", test_seal_errors);
  g_test_add_func ("/im/crypt/recipients", test_recipients);
  g_test_add_func ("/im/crypt/key-file", test_key_file);
  rc = g_test_run ();

  if (g_rmdir (tmpdir) != 0)
    g_printerr ("cannot remove %s: %s\n", tmpdir, g_strerror (errno));
  g_free (tmpdir);
  return rc;
}

/* The encrypted video format (see segcrypt.h) and its decrypting stream. */
#include "segcrypt.h"

#include <string.h>

#include <openssl/evp.h>

static void
be32_put (uint8_t *p, uint32_t v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static uint32_t
be32_get (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

static uint64_t
be64_get (const uint8_t *p)
{
  return (uint64_t)be32_get (p) << 32 | be32_get (p + 4);
}

gboolean
seg_header_parse (const uint8_t h[SEG_HEADER], SegHeader *out, GError **error)
{
  if (memcmp (h, SEG_MAGIC, 8) != 0 || h[8] != 1 || h[9] != 1) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "not an encrypted video of format %s (bad magic, version or "
                 "algorithm in its header)",
                 SEG_ALG);
    return FALSE;
  }
  out->segment_size = be32_get (h + 12);
  out->plain_len = be64_get (h + 16);
  memcpy (out->prefix, h + 24, 8);
  if (out->segment_size != SEG_SIZE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "encrypted video: segment size %u, expected %u",
                 out->segment_size, SEG_SIZE);
    return FALSE;
  }
  if (out->plain_len > ((uint64_t)1 << 48)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "encrypted video: plaintext length %" G_GUINT64_FORMAT
                 " is too large",
                 out->plain_len);
    return FALSE;
  }
  return TRUE;
}

uint64_t
seg_cipher_size (uint64_t plain_len, uint32_t segment_size)
{
  uint64_t n = (plain_len + segment_size - 1) / segment_size;
  return SEG_HEADER + plain_len + n * SEG_TAG;
}

void
seg_cipher_range (const SegHeader *h, uint64_t offset, uint64_t length,
                  uint64_t *c_off, uint64_t *c_len)
{
  uint64_t s = h->segment_size;
  uint64_t first = offset / s;
  uint64_t end = MIN (offset + length, h->plain_len); /* exclusive */
  uint64_t last = end > 0 ? (end - 1) / s : 0;
  uint64_t last_len = MIN (s, h->plain_len - last * s);
  *c_off = SEG_HEADER + first * (s + SEG_TAG);
  *c_len = (last - first) * (s + SEG_TAG) + last_len + SEG_TAG;
  if (length == 0)
    *c_len = 0;
}

static void
nonce_of (const uint8_t header[SEG_HEADER], uint32_t index, uint8_t iv[12])
{
  memcpy (iv, header + 24, 8);
  be32_put (iv + 8, index);
}

static gboolean
gcm (gboolean enc, const uint8_t key[32], const uint8_t header[SEG_HEADER],
     uint32_t index, const uint8_t *in, size_t len, uint8_t *out,
     uint8_t tag[SEG_TAG])
{
  uint8_t iv[12];
  int n = 0;
  gboolean ok = FALSE;
  nonce_of (header, index, iv);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  if (ctx == NULL)
    return FALSE;
  if (EVP_CipherInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL, enc) != 1
      || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1
      || EVP_CipherInit_ex (ctx, NULL, NULL, key, iv, enc) != 1
      || EVP_CipherUpdate (ctx, NULL, &n, header, SEG_HEADER) != 1
      || (len > 0 && EVP_CipherUpdate (ctx, out, &n, in, (int)len) != 1))
    goto out;
  if (!enc
      && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, SEG_TAG, tag) != 1)
    goto out;
  if (EVP_CipherFinal_ex (ctx, out + (len > 0 ? n : 0), &n) != 1)
    goto out;
  if (enc && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, SEG_TAG, tag) != 1)
    goto out;
  ok = TRUE;
out:
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

gboolean
seg_decrypt_segment (const uint8_t key[32], const uint8_t header[SEG_HEADER],
                     uint32_t index, const uint8_t *cipher, size_t len,
                     uint8_t *plain_out)
{
  if (len < SEG_TAG)
    return FALSE;
  uint8_t tag[SEG_TAG];
  memcpy (tag, cipher + len - SEG_TAG, SEG_TAG);
  return gcm (FALSE, key, header, index, cipher, len - SEG_TAG, plain_out, tag);
}

void
seg_header_build (uint8_t h[SEG_HEADER], uint64_t plain_len,
                  const uint8_t prefix[8])
{
  memcpy (h, SEG_MAGIC, 8);
  h[8] = 1;
  h[9] = 1;
  h[10] = h[11] = 0;
  be32_put (h + 12, SEG_SIZE);
  be32_put (h + 16, (uint32_t)(plain_len >> 32));
  be32_put (h + 20, (uint32_t)plain_len);
  memcpy (h + 24, prefix, 8);
}

gboolean
seg_encrypt_segment (const uint8_t key[32], const uint8_t header[SEG_HEADER],
                     uint32_t index, const uint8_t *plain, size_t len,
                     uint8_t *cipher_out)
{
  return gcm (TRUE, key, header, index, plain, len, cipher_out,
              cipher_out + len);
}

GBytes *
seg_encrypt (const uint8_t key[32], const uint8_t prefix[8], const void *plain,
             size_t len)
{
  uint64_t total = seg_cipher_size (len, SEG_SIZE);
  uint8_t *out = g_malloc (total);
  seg_header_build (out, len, prefix);
  uint8_t *p = out + SEG_HEADER;
  for (uint32_t i = 0; (uint64_t)i * SEG_SIZE < len; i++) {
    size_t n = MIN (SEG_SIZE, len - (size_t)i * SEG_SIZE);
    if (!seg_encrypt_segment (
            key, out, i, (const uint8_t *)plain + (size_t)i * SEG_SIZE, n, p))
      g_error ("AES-256-GCM encryption failed");
    p += n + SEG_TAG;
  }
  return g_bytes_new_take (out, total);
}

/* ---- the decrypting stream ------------------------------------------- */

typedef struct {
  GInputStream parent;
  GInputStream *cipher;
  uint8_t key[32];
  uint8_t header[SEG_HEADER];
  SegHeader h;
  uint64_t seg;      /* next segment to decrypt */
  uint64_t skip;     /* plaintext bytes to drop from the first segment */
  uint64_t left;     /* plaintext bytes still to deliver */
  uint8_t *cbuf;     /* one segment of ciphertext */
  uint8_t *pbuf;     /* its plaintext */
  size_t pos, avail; /* unread part of pbuf */
} SegReader;

typedef struct {
  GInputStreamClass parent_class;
} SegReaderClass;

static gpointer seg_reader_parent_class;
static GType seg_reader_get_type (void);
#define SEG_READER(o)                                                          \
  (G_TYPE_CHECK_INSTANCE_CAST ((o), seg_reader_get_type (), SegReader))

static gboolean
next_segment (SegReader *r, GCancellable *cancel, GError **error)
{
  uint64_t s = r->h.segment_size;
  uint64_t plen = MIN (s, r->h.plain_len - r->seg * s);
  size_t clen = (size_t)plen + SEG_TAG, got = 0;
  if (!g_input_stream_read_all (r->cipher, r->cbuf, clen, &got, cancel, error))
    return FALSE;
  if (got != clen) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "encrypted video: segment %" G_GUINT64_FORMAT
                 " is cut short (%zu of %zu bytes)",
                 r->seg, got, clen);
    return FALSE;
  }
  if (!seg_decrypt_segment (r->key, r->header, (uint32_t)r->seg, r->cbuf, clen,
                            r->pbuf)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "encrypted video: segment %" G_GUINT64_FORMAT
                 " failed authentication (wrong content key or damaged blob)",
                 r->seg);
    return FALSE;
  }
  r->seg++;
  r->pos = (size_t)r->skip;
  r->avail = (size_t)plen - (size_t)r->skip;
  r->skip = 0;
  return TRUE;
}

static gssize
seg_reader_read (GInputStream *stream, void *buffer, gsize count,
                 GCancellable *cancel, GError **error)
{
  SegReader *r = SEG_READER (stream);
  if (r->left == 0 || count == 0)
    return 0;
  if (r->avail == 0 && !next_segment (r, cancel, error))
    return -1;
  size_t n = MIN (MIN (count, r->avail), r->left);
  memcpy (buffer, r->pbuf + r->pos, n);
  r->pos += n;
  r->avail -= n;
  r->left -= n;
  return (gssize)n;
}

static gboolean
seg_reader_close (GInputStream *stream, GCancellable *cancel, GError **error)
{
  SegReader *r = SEG_READER (stream);
  return g_input_stream_close (r->cipher, cancel, error);
}

static void
seg_reader_finalize (GObject *obj)
{
  SegReader *r = SEG_READER (obj);
  g_clear_object (&r->cipher);
  OPENSSL_cleanse (r->key, sizeof r->key);
  if (r->pbuf)
    OPENSSL_cleanse (r->pbuf, r->h.segment_size);
  g_free (r->cbuf);
  g_free (r->pbuf);
  G_OBJECT_CLASS (seg_reader_parent_class)->finalize (obj);
}

static void
seg_reader_class_init (gpointer klass, gpointer data)
{
  seg_reader_parent_class = g_type_class_peek_parent (klass);
  G_OBJECT_CLASS (klass)->finalize = seg_reader_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = seg_reader_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = seg_reader_close;
}

/* Registered by hand under a name unique to this copy of the code: the
 * plugin's .so and a test linking this file can live in one process. */
static GType
seg_reader_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type)) {
    g_autofree char *name
        = g_strdup_printf ("CairnServicesSegReader_%" G_GUINTPTR_FORMAT,
                           (guintptr)seg_reader_class_init);
    GType t = g_type_register_static_simple (
        G_TYPE_INPUT_STREAM, g_intern_string (name), sizeof (SegReaderClass),
        seg_reader_class_init, sizeof (SegReader), NULL, 0);
    g_once_init_leave (&type, t);
  }
  return type;
}

GInputStream *
seg_reader_new (GInputStream *cipher, const uint8_t key[32],
                const uint8_t header[SEG_HEADER], uint64_t offset,
                uint64_t length)
{
  SegReader *r = g_object_new (seg_reader_get_type (), NULL);
  g_autoptr (GError) err = NULL;
  r->cipher = g_object_ref (cipher);
  memcpy (r->key, key, 32);
  memcpy (r->header, header, SEG_HEADER);
  if (!seg_header_parse (header, &r->h, &err))
    g_error ("seg_reader_new: %s (the caller checks the header)", err->message);
  r->seg = offset / r->h.segment_size;
  r->skip = offset % r->h.segment_size;
  r->left = offset < r->h.plain_len ? MIN (length, r->h.plain_len - offset) : 0;
  r->cbuf = g_malloc (r->h.segment_size + SEG_TAG);
  r->pbuf = g_malloc (r->h.segment_size);
  return G_INPUT_STREAM (r);
}

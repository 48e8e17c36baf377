/* The encrypted content format of `im` (see imcrypt.h): the header and key
 * wraps here, the segments by plugins/services/segcrypt.c, the X25519 keys
 * by plugins/groups/envelope.c. */
#include "imcrypt.h"

#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "envelope.h"
#include "segcrypt.h"

#define WRAP_LEN 48u /* K (32) and its tag (16) */
#define WRAP_AAD_LEN (sizeof IM_WRAP_DOMAIN + 40 + SEG_HEADER)

/* A parsed header (no allocation: at most IM_MAX_RECIPIENTS entries). */
typedef struct {
  uint8_t epk[32];
  uint8_t seg[SEG_HEADER];
  SegHeader sh;
  size_t n;
  ImRecipient r[IM_MAX_RECIPIENTS];          /* sorted by address */
  uint8_t wrap[IM_MAX_RECIPIENTS][WRAP_LEN]; /* wrap[i] belongs to r[i] */
} ImHeader;

/* ---- small helpers ---------------------------------------------------- */

static void
set_openssl_error (GError **error, const char *what)
{
  unsigned long e = ERR_get_error ();
  char why[256] = "no OpenSSL error reported";
  if (e != 0)
    ERR_error_string_n (e, why, sizeof why);
  ERR_clear_error ();
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "im content: %s failed: %s", what, why);
}

static gboolean
is_hex (const char *s, size_t len)
{
  if (s == NULL || strlen (s) != len)
    return FALSE;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return FALSE;
  return TRUE;
}

/* s is known to be 2n lowercase hex chars. */
static void
unhex (const char *s, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int hi = s[2 * i] <= '9' ? s[2 * i] - '0' : s[2 * i] - 'a' + 10;
    int lo = s[2 * i + 1] <= '9' ? s[2 * i + 1] - '0' : s[2 * i + 1] - 'a' + 10;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
}

static void
be32_put (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t
be32_get (const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8
         | p[3];
}

static int
cmp_recipient (const void *a, const void *b)
{
  return strcmp (((const ImRecipient *)a)->addr,
                 ((const ImRecipient *)b)->addr);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* ---- the key wrap ------------------------------------------------------ */

static void
wrap_aad (const char *addr, const uint8_t seg[SEG_HEADER],
          uint8_t aad[WRAP_AAD_LEN])
{
  memcpy (aad, IM_WRAP_DOMAIN, sizeof IM_WRAP_DOMAIN); /* with its NUL */
  memcpy (aad + sizeof IM_WRAP_DOMAIN, addr, 40);
  memcpy (aad + sizeof IM_WRAP_DOMAIN + 40, seg, SEG_HEADER);
}

/* AES-256-GCM of the 32-byte content key under kek with the zero nonce:
 * wrap (enc) or unwrap. Returns 1, 0 when unwrapping and the tag does not
 * match, -1 when OpenSSL fails. */
static int
wrap_gcm (gboolean enc, const uint8_t kek[32], const uint8_t aad[WRAP_AAD_LEN],
          const uint8_t *in, uint8_t *out, uint8_t tag[16])
{
  static const uint8_t zero_iv[12] = { 0 };
  uint8_t fin[16];
  int n = 0, rc = -1;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();

  if (ctx == NULL)
    return -1;
  if (EVP_CipherInit_ex (ctx, EVP_aes_256_gcm (), NULL, NULL, NULL, enc) != 1
      || EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1
      || EVP_CipherInit_ex (ctx, NULL, NULL, kek, zero_iv, enc) != 1
      || EVP_CipherUpdate (ctx, NULL, &n, aad, WRAP_AAD_LEN) != 1
      || EVP_CipherUpdate (ctx, out, &n, in, 32) != 1 || n != 32)
    goto out;
  if (!enc && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
    goto out;
  if (EVP_CipherFinal_ex (ctx, fin, &n) != 1) {
    rc = enc ? -1 : 0;
    goto out;
  }
  if (enc && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
    goto out;
  rc = 1;
out:
  EVP_CIPHER_CTX_free (ctx);
  if (rc != 1)
    OPENSSL_cleanse (out, 32);
  return rc;
}

/* ---- the header -------------------------------------------------------- */

static char *
header_json (const ImHeader *h)
{
  char hex[2 * WRAP_LEN + 1];
  json_t *root = json_object (), *keys = json_object ();
  char *text;

  for (size_t i = 0; i < h->n; i++) {
    json_t *entry = json_object ();
    grp_hex (h->r[i].pk, 32, hex);
    json_object_set_new (entry, "pk", json_string (hex));
    grp_hex (h->wrap[i], WRAP_LEN, hex);
    json_object_set_new (entry, "wrap", json_string (hex));
    json_object_set_new (keys, h->r[i].addr, entry);
  }
  grp_hex (h->epk, 32, hex);
  json_object_set_new (root, "epk", json_string (hex));
  json_object_set_new (root, "keys", keys);
  grp_hex (h->seg, SEG_HEADER, hex);
  json_object_set_new (root, "seg", json_string (hex));
  text = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (root);
  return text;
}

#define HDR_ERROR(...)                                                         \
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,                     \
               "im content header: " __VA_ARGS__)

/* obj has exactly these keys. */
static gboolean
exact_keys (json_t *obj, const char *const *names, size_t n, const char *where,
            GError **error)
{
  const char *key;
  json_t *value;

  json_object_foreach (obj, key, value)
  {
    gboolean known = FALSE;
    (void)value;
    for (size_t i = 0; i < n; i++)
      known = known || strcmp (key, names[i]) == 0;
    if (!known) {
      HDR_ERROR ("%sunknown key '%.64s'", where, key);
      return FALSE;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (json_object_get (obj, names[i]) == NULL) {
      HDR_ERROR ("%smissing '%s'", where, names[i]);
      return FALSE;
    }
  return TRUE;
}

/* A string field of obj of exactly 2n lowercase hex chars, decoded. */
static gboolean
hex_field (json_t *obj, const char *key, const char *where, uint8_t *out,
           size_t n, GError **error)
{
  const char *s = json_string_value (json_object_get (obj, key));
  if (!is_hex (s, 2 * n)) {
    HDR_ERROR ("%s'%s' is not %zu lowercase hex chars", where, key, 2 * n);
    return FALSE;
  }
  unhex (s, out, n);
  return TRUE;
}

static gboolean
parse_keys (json_t *keys, ImHeader *h, GError **error)
{
  static const char *const entry_keys[] = { "pk", "wrap" };
  const char *addrs[IM_MAX_RECIPIENTS];
  const char *addr;
  json_t *value;
  size_t n = 0;

  if (!json_is_object (keys)) {
    HDR_ERROR ("'keys' is not an object");
    return FALSE;
  }
  if (json_object_size (keys) == 0
      || json_object_size (keys) > IM_MAX_RECIPIENTS) {
    HDR_ERROR ("'keys' has %zu entries (1 to %u recipients)",
               json_object_size (keys), IM_MAX_RECIPIENTS);
    return FALSE;
  }
  /* Canonical JSON has them sorted already; sort anyway so the order never
   * depends on how Jansson iterates. */
  json_object_foreach (keys, addr, value)
  {
    (void)value;
    addrs[n++] = addr;
  }
  qsort (addrs, n, sizeof *addrs, cmp_str);
  h->n = n;
  for (size_t i = 0; i < n; i++) {
    g_autofree char *where = NULL;
    json_t *entry = json_object_get (keys, addrs[i]);
    if (!is_hex (addrs[i], 40)) {
      HDR_ERROR ("'keys' entry '%.64s' is not an address (40 lowercase hex "
                 "chars)",
                 addrs[i]);
      return FALSE;
    }
    where = g_strdup_printf ("'keys' entry for %s: ", addrs[i]);
    if (!json_is_object (entry)) {
      HDR_ERROR ("%snot an object", where);
      return FALSE;
    }
    if (!exact_keys (entry, entry_keys, G_N_ELEMENTS (entry_keys), where, error)
        || !hex_field (entry, "pk", where, h->r[i].pk, 32, error)
        || !hex_field (entry, "wrap", where, h->wrap[i], WRAP_LEN, error))
      return FALSE;
    memcpy (h->r[i].addr, addrs[i], 41);
  }
  return TRUE;
}

static gboolean
parse_header (const uint8_t *text, size_t len, ImHeader *h, GError **error)
{
  static const char *const top_keys[] = { "epk", "keys", "seg" };
  g_autoptr (GError) seg_error = NULL;
  json_error_t jerr;
  json_t *root;
  char *again = NULL;
  gboolean ok = FALSE;

  memset (h, 0, sizeof *h);
  root = json_loadb ((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL) {
    HDR_ERROR ("not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
    return FALSE;
  }
  if (!json_is_object (root)) {
    HDR_ERROR ("not a JSON object");
    goto out;
  }
  again = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  if (again == NULL || strlen (again) != len
      || memcmp (again, text, len) != 0) {
    HDR_ERROR ("not canonical JSON (compact, keys sorted, no needless "
               "escapes)");
    goto out;
  }
  if (!exact_keys (root, top_keys, G_N_ELEMENTS (top_keys), "", error)
      || !hex_field (root, "epk", "", h->epk, 32, error)
      || !hex_field (root, "seg", "", h->seg, SEG_HEADER, error)
      || !parse_keys (json_object_get (root, "keys"), h, error))
    goto out;
  if (!seg_header_parse (h->seg, &h->sh, &seg_error)) {
    HDR_ERROR ("'seg': %s", seg_error->message);
    goto out;
  }
  ok = TRUE;
out:
  free (again);
  json_decref (root);
  return ok;
}

/* The fixed part: magic and a header length within bounds. */
static gboolean
parse_fixed (const uint8_t fixed[IM_FIXED], uint32_t *hlen, GError **error)
{
  if (memcmp (fixed, IM_MAGIC, 8) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: bad magic (not an encrypted im content: it does "
                 "not start with '%s')",
                 IM_MAGIC);
    return FALSE;
  }
  *hlen = be32_get (fixed + 8);
  if (*hlen == 0 || *hlen > IM_MAX_HEADER) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: header length %u is out of range (1 to %u)",
                 *hlen, IM_MAX_HEADER);
    return FALSE;
  }
  return TRUE;
}

/* ---- sealing ----------------------------------------------------------- */

typedef struct {
  GOutputStream *out;
  EVP_MD_CTX *md;
  uint64_t count;
  GCancellable *cancel;
} Sink;

static gboolean
sink_put (Sink *s, const void *data, size_t len, GError **error)
{
  if (!g_output_stream_write_all (s->out, data, len, NULL, s->cancel, error))
    return FALSE;
  if (EVP_DigestUpdate (s->md, data, len) != 1) {
    set_openssl_error (error, "SHA-256 of the blob");
    return FALSE;
  }
  s->count += len;
  return TRUE;
}

/* Checks the recipients and copies them sorted into h. */
static gboolean
take_recipients (const ImRecipient *r, size_t n, ImHeader *h, GError **error)
{
  if (n == 0 || n > IM_MAX_RECIPIENTS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "%zu recipients: an im content has 1 to %u", n,
                 IM_MAX_RECIPIENTS);
    return FALSE;
  }
  for (size_t i = 0; i < n; i++)
    if (memchr (r[i].addr, '\0', sizeof r[i].addr) == NULL
        || !is_hex (r[i].addr, 40)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %zu: address '%.40s' is not 40 lowercase hex "
                   "chars",
                   i, r[i].addr);
      return FALSE;
    }
  memcpy (h->r, r, n * sizeof *r);
  h->n = n;
  qsort (h->r, n, sizeof *h->r, cmp_recipient);
  for (size_t i = 1; i < n; i++)
    if (strcmp (h->r[i - 1].addr, h->r[i].addr) == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %s appears twice", h->r[i].addr);
      return FALSE;
    }
  return TRUE;
}

gboolean
im_seal_stream (GInputStream *in, uint64_t size, GOutputStream *out,
                const ImRecipient *r, size_t n, uint8_t sha256[32],
                uint64_t *written, GCancellable *cancel, GError **error)
{
  uint8_t key[32], kek[32], eph_priv[32], prefix[8], aad[WRAP_AAD_LEN];
  uint8_t fixed[IM_FIXED], digest[32];
  uint8_t *plain = NULL, *cipher = NULL;
  g_autofree ImHeader *h = g_new0 (ImHeader, 1);
  char *header = NULL;
  size_t hlen;
  EVP_PKEY *eph = NULL;
  Sink sink = { out, NULL, 0, cancel };
  gboolean ok = FALSE;
  unsigned int dlen = 0;

  g_return_val_if_fail (G_IS_INPUT_STREAM (in), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (out), FALSE);
  g_return_val_if_fail (n == 0 || r != NULL, FALSE);

  if (!take_recipients (r, n, h, error))
    return FALSE;
  if (size > IM_MAX_SIZE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "content of %" G_GUINT64_FORMAT
                 " bytes is over the limit of %" G_GUINT64_FORMAT,
                 size, IM_MAX_SIZE);
    return FALSE;
  }

  if (RAND_bytes (key, sizeof key) != 1
      || RAND_bytes (prefix, sizeof prefix) != 1) {
    set_openssl_error (error, "random content key");
    goto out;
  }
  seg_header_build (h->seg, size, prefix);
  if (!grp_key_generate (eph_priv, h->epk, error))
    goto out;
  eph = EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, eph_priv, 32);
  if (eph == NULL) {
    set_openssl_error (error, "ephemeral X25519 key");
    goto out;
  }
  for (size_t i = 0; i < h->n; i++) {
    if (!grp_x25519_kek (eph, h->r[i].pk, h->epk, h->r[i].pk, IM_WRAP_DOMAIN,
                         kek)) {
      ERR_clear_error ();
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "recipient %s: its public key is not a usable X25519 key "
                   "(a point of small order?)",
                   h->r[i].addr);
      goto out;
    }
    wrap_aad (h->r[i].addr, h->seg, aad);
    if (wrap_gcm (TRUE, kek, aad, key, h->wrap[i], h->wrap[i] + 32) != 1) {
      set_openssl_error (error, "AES-256-GCM key wrap");
      goto out;
    }
  }
  header = header_json (h);
  if (header == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "im content: cannot serialise the header");
    goto out;
  }
  hlen = strlen (header);
  if (hlen > IM_MAX_HEADER) { /* cannot happen with 8 recipients */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "im content: header of %zu bytes is over the limit of %u",
                 hlen, IM_MAX_HEADER);
    goto out;
  }

  sink.md = EVP_MD_CTX_new ();
  if (sink.md == NULL
      || EVP_DigestInit_ex (sink.md, EVP_sha256 (), NULL) != 1) {
    set_openssl_error (error, "SHA-256 of the blob");
    goto out;
  }
  memcpy (fixed, IM_MAGIC, 8);
  be32_put (fixed + 8, (uint32_t)hlen);
  if (g_cancellable_set_error_if_cancelled (cancel, error)
      || !sink_put (&sink, fixed, IM_FIXED, error)
      || !sink_put (&sink, header, hlen, error))
    goto out;

  plain = g_malloc (SEG_SIZE);
  cipher = g_malloc (SEG_SIZE + SEG_TAG);
  for (uint64_t done = 0, i = 0; done < size; i++) {
    size_t want = (size_t)MIN ((uint64_t)SEG_SIZE, size - done), got = 0;
    if (g_cancellable_set_error_if_cancelled (cancel, error)
        || !g_input_stream_read_all (in, plain, want, &got, cancel, error))
      goto out;
    if (got != want) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "im content: the input ended after %" G_GUINT64_FORMAT
                   " of the %" G_GUINT64_FORMAT " bytes to encrypt",
                   done + got, size);
      goto out;
    }
    if (!seg_encrypt_segment (key, h->seg, (uint32_t)i, plain, want, cipher)) {
      set_openssl_error (error, "AES-256-GCM encryption of a segment");
      goto out;
    }
    if (!sink_put (&sink, cipher, want + SEG_TAG, error))
      goto out;
    done += want;
  }
  if (!g_output_stream_flush (out, cancel, error))
    goto out;
  if (EVP_DigestFinal_ex (sink.md, digest, &dlen) != 1 || dlen != 32) {
    set_openssl_error (error, "SHA-256 of the blob");
    goto out;
  }
  if (sha256 != NULL)
    memcpy (sha256, digest, 32);
  if (written != NULL)
    *written = sink.count;
  ok = TRUE;

out:
  OPENSSL_cleanse (key, sizeof key);
  OPENSSL_cleanse (kek, sizeof kek);
  OPENSSL_cleanse (eph_priv, sizeof eph_priv);
  if (plain != NULL)
    OPENSSL_cleanse (plain, SEG_SIZE);
  g_free (plain);
  g_free (cipher);
  free (header);
  EVP_PKEY_free (eph);
  EVP_MD_CTX_free (sink.md);
  return ok;
}

GBytes *
im_seal_bytes (const void *data, size_t len, const ImRecipient *r, size_t n,
               uint8_t sha256[32], GError **error)
{
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GOutputStream) out = NULL;

  g_return_val_if_fail (len == 0 || data != NULL, NULL);
  in = g_memory_input_stream_new_from_data (len ? data : "", (gssize)len, NULL);
  out = g_memory_output_stream_new_resizable ();
  if (!im_seal_stream (in, len, out, r, n, sha256, NULL, NULL, error)
      || !g_output_stream_close (out, NULL, error))
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

/* ---- the reading stream ------------------------------------------------ */

/* The segcrypt reader, and at its end a check that nothing follows the
 * last segment. */
typedef struct {
  GInputStream parent;
  GInputStream *plain;  /* seg_reader_new (cipher, ...) */
  GInputStream *cipher; /* the blob after the header */
  gboolean ended;       /* the end was reached and checked */
} ImReader;

typedef struct {
  GInputStreamClass parent_class;
} ImReaderClass;

static gpointer im_reader_parent_class;
static GType im_reader_get_type (void);
#define IM_READER(o)                                                           \
  (G_TYPE_CHECK_INSTANCE_CAST ((o), im_reader_get_type (), ImReader))

static gssize
im_reader_read (GInputStream *stream, void *buffer, gsize count,
                GCancellable *cancel, GError **error)
{
  ImReader *r = IM_READER (stream);
  uint8_t extra;
  gsize got = 0;
  gssize n;

  if (count == 0 || r->ended)
    return 0;
  n = g_input_stream_read (r->plain, buffer, count, cancel, error);
  if (n != 0)
    return n;
  if (!g_input_stream_read_all (r->cipher, &extra, 1, &got, cancel, error))
    return -1;
  if (got != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: bytes follow the last segment (the blob is "
                 "longer than its header says)");
    return -1;
  }
  r->ended = TRUE;
  return 0;
}

static gboolean
im_reader_close (GInputStream *stream, GCancellable *cancel, GError **error)
{
  return g_input_stream_close (IM_READER (stream)->plain, cancel, error);
}

static void
im_reader_finalize (GObject *obj)
{
  ImReader *r = IM_READER (obj);
  g_clear_object (&r->plain);
  g_clear_object (&r->cipher);
  G_OBJECT_CLASS (im_reader_parent_class)->finalize (obj);
}

static void
im_reader_class_init (gpointer klass, gpointer data)
{
  (void)data;
  im_reader_parent_class = g_type_class_peek_parent (klass);
  G_OBJECT_CLASS (klass)->finalize = im_reader_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = im_reader_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = im_reader_close;
}

/* Registered by hand under a name unique to this copy of the code (as
 * segcrypt's reader): the plugin's .so and the CLI or a test linking this
 * file can live in one process. */
static GType
im_reader_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type)) {
    g_autofree char *name = g_strdup_printf (
        "CairnImReader_%" G_GUINTPTR_FORMAT, (guintptr)im_reader_class_init);
    GType t = g_type_register_static_simple (
        G_TYPE_INPUT_STREAM, g_intern_string (name), sizeof (ImReaderClass),
        im_reader_class_init, sizeof (ImReader), NULL, 0);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- opening ----------------------------------------------------------- */

/* Finds addr in h, checks priv is its key and unwraps K. */
static gboolean
unwrap (const ImHeader *h, const char *addr, const uint8_t priv[32],
        uint8_t key[32], GError **error)
{
  uint8_t pub[32], kek[32], aad[WRAP_AAD_LEN];
  ImRecipient probe = { { 0 } };
  const ImRecipient *me = NULL;
  EVP_PKEY *mine = NULL;
  gboolean ok = FALSE;
  size_t i;
  int rc;

  if (strlen (addr) == 40) {
    memcpy (probe.addr, addr, 41);
    me = bsearch (&probe, h->r, h->n, sizeof *h->r, cmp_recipient);
  }
  if (me == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%.64s is not a recipient of this im content", addr);
    return FALSE;
  }
  i = (size_t)(me - h->r);
  if (!grp_key_public (priv, pub, error))
    return FALSE;
  if (CRYPTO_memcmp (pub, me->pk, 32) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "this key is not the one the im content was encrypted for "
                 "(recipient %s: an older or another encryption key?)",
                 addr);
    return FALSE;
  }
  mine = EVP_PKEY_new_raw_private_key (EVP_PKEY_X25519, NULL, priv, 32);
  if (mine == NULL) {
    set_openssl_error (error, "X25519 private key");
    return FALSE;
  }
  if (!grp_x25519_kek (mine, h->epk, h->epk, me->pk, IM_WRAP_DOMAIN, kek)) {
    ERR_clear_error ();
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content header: 'epk' is not a usable X25519 key");
    goto out;
  }
  wrap_aad (me->addr, h->seg, aad);
  rc = wrap_gcm (FALSE, kek, aad, h->wrap[i], key, (uint8_t *)h->wrap[i] + 32);
  if (rc == 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: the key wrap for %s fails its tag: tampered",
                 me->addr);
  else if (rc < 0)
    set_openssl_error (error, "AES-256-GCM key unwrap");
  ok = rc == 1;
out:
  OPENSSL_cleanse (kek, sizeof kek);
  EVP_PKEY_free (mine);
  return ok;
}

GInputStream *
im_open_stream (GInputStream *in, const char *addr, const uint8_t priv[32],
                uint64_t *plain_size, GError **error)
{
  uint8_t fixed[IM_FIXED], key[32];
  g_autofree uint8_t *text = NULL;
  g_autofree ImHeader *h = NULL;
  uint32_t hlen;
  gsize got = 0;
  ImReader *r;

  g_return_val_if_fail (G_IS_INPUT_STREAM (in), NULL);
  g_return_val_if_fail (addr != NULL && priv != NULL, NULL);

  if (!g_input_stream_read_all (in, fixed, IM_FIXED, &got, NULL, error))
    return NULL;
  if (got != IM_FIXED) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: truncated: %zu bytes, less than its %u-byte "
                 "fixed part",
                 (size_t)got, IM_FIXED);
    return NULL;
  }
  if (!parse_fixed (fixed, &hlen, error))
    return NULL;
  text = g_malloc (hlen);
  if (!g_input_stream_read_all (in, text, hlen, &got, NULL, error))
    return NULL;
  if (got != hlen) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "im content: truncated: the header is %u bytes, only %zu "
                 "follow the fixed part",
                 hlen, (size_t)got);
    return NULL;
  }
  h = g_new0 (ImHeader, 1);
  if (!parse_header (text, hlen, h, error)
      || !unwrap (h, addr, priv, key, error))
    return NULL;

  r = g_object_new (im_reader_get_type (), NULL);
  r->cipher = g_object_ref (in);
  r->plain = seg_reader_new (in, key, h->seg, 0, h->sh.plain_len);
  OPENSSL_cleanse (key, sizeof key);
  if (plain_size != NULL)
    *plain_size = h->sh.plain_len;
  return G_INPUT_STREAM (r);
}

GBytes *
im_open_bytes (GBytes *blob, const char *addr, const uint8_t priv[32],
               GError **error)
{
  g_autoptr (GInputStream) in = NULL, plain = NULL;
  gsize total = 0, got = 0;
  const uint8_t *p;
  uint64_t size = 0, expect;
  uint8_t *buf;

  g_return_val_if_fail (blob != NULL, NULL);
  p = g_bytes_get_data (blob, &total);
  in = g_memory_input_stream_new_from_bytes (blob);
  plain = im_open_stream (in, addr, priv, &size, error);
  if (plain == NULL)
    return NULL;
  /* Only now is 12 + H known (p + 8); the header's length is checked. */
  expect = IM_FIXED + (uint64_t)be32_get (p + 8)
           + seg_cipher_size (size, SEG_SIZE) - SEG_HEADER;
  if (total != expect) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "im content: %s: %zu bytes, its header gives %" G_GUINT64_FORMAT,
        total < expect ? "truncated" : "bytes follow the last segment",
        (size_t)total, expect);
    return NULL;
  }
  if (size == 0)
    return g_bytes_new (NULL, 0);
  buf = g_malloc (size);
  if (!g_input_stream_read_all (plain, buf, size, &got, NULL, error)
      || got != size) {
    if (got != size && (error == NULL || *error == NULL))
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "im content: the plaintext ended after %zu of %" G_GUINT64_FORMAT
          " bytes",
          (size_t)got, size);
    OPENSSL_cleanse (buf, size);
    g_free (buf);
    return NULL;
  }
  return g_bytes_new_take (buf, size);
}

char **
im_recipients (GBytes *blob_prefix, GError **error)
{
  g_autofree ImHeader *h = NULL;
  const uint8_t *p;
  gsize total = 0;
  uint32_t hlen;
  char **out;

  g_return_val_if_fail (blob_prefix != NULL, NULL);
  p = g_bytes_get_data (blob_prefix, &total);
  if (total < IM_FIXED) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                 "im content: %zu bytes, less than its %u-byte fixed part",
                 (size_t)total, IM_FIXED);
    return NULL;
  }
  if (!parse_fixed (p, &hlen, error))
    return NULL;
  if (hlen > total - IM_FIXED) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                 "im content: the header is %u bytes, only %zu are given", hlen,
                 (size_t)(total - IM_FIXED));
    return NULL;
  }
  h = g_new0 (ImHeader, 1);
  if (!parse_header (p + IM_FIXED, hlen, h, error))
    return NULL;
  out = g_new0 (char *, h->n + 1);
  for (size_t i = 0; i < h->n; i++)
    out[i] = g_strdup (h->r[i].addr);
  return out;
}

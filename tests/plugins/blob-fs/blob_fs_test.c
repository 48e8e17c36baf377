/* Helpers for the blob-fs tests: see blob_fs_test.h. */
#include "blob_fs_test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);

/* ---- the plugin on the fake host --------------------------------------- */

static Bft *registering; /* the Bft whose init is running */

static gboolean
fake_register_blobstore (CairnPlugin *self, const CairnBlobstoreIface *iface,
                         size_t size, GError **error)
{
  if (registering == NULL || bft_self (registering) != self) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "register_blobstore called outside init");
    return FALSE;
  }
  if (iface == NULL || size < offsetof (CairnBlobstoreIface, stat) + 8
      || size > sizeof (CairnBlobstoreIface)
      || iface->iface_version != CAIRN_BLOBSTORE_IFACE_VERSION
      || iface->put == NULL || iface->get == NULL || iface->stat == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "bad blobstore interface (size %zu)", size);
    return FALSE;
  }
  memcpy (&registering->iface, iface, size);
  return TRUE;
}

static const CairnHost *
host_with_blobstore (void)
{
  static CairnHost host;
  static gsize once;
  if (g_once_init_enter (&once)) {
    host = *fake_host_table ();
    host.register_blobstore = fake_register_blobstore;
    g_once_init_leave (&once, 1);
  }
  return &host;
}

Bft *
bft_start (const char *data_dir, GError **error, ...)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  Bft *t = g_new0 (Bft, 1);
  va_list ap;
  const char *key;

  t->data_dir = g_strdup (data_dir);
  t->fp = fake_plugin_new (cairn_plugin_descriptor_blob_fs, data_dir);
  va_start (ap, error);
  while ((key = va_arg (ap, const char *)) != NULL) {
    fake_plugin_set_config (t->fp, key, va_arg (ap, const char *));
    g_ptr_array_add (keys, (gpointer)key);
  }
  va_end (ap);

  registering = t;
  gboolean ok = fake_plugin_descriptor (t->fp)->init (
      bft_self (t), host_with_blobstore (), error);
  registering = NULL;
  if (!ok) {
    g_assert_true (error == NULL || *error != NULL);
    g_assert_null (t->iface.put); /* nothing registered */
    fake_plugin_free (t->fp);
    g_free (t->data_dir);
    g_free (t);
    return NULL;
  }
  g_assert_nonnull (t->iface.put);
  g_auto (GStrv) unread = fake_plugin_unread_config (t->fp);
  g_assert_cmpuint (g_strv_length (unread), ==, 0);
  return t;
}

void
bft_stop (Bft *t)
{
  if (t == NULL)
    return;
  fake_plugin_descriptor (t->fp)->fini (bft_self (t));
  fake_plugin_free (t->fp);
  g_free (t->data_dir);
  g_free (t);
}

CairnPlugin *
bft_self (Bft *t)
{
  return fake_plugin_handle (t->fp);
}

char *
bft_put (Bft *t, GInputStream *in, GError **error)
{
  char *cid = NULL;
  if (!t->iface.put (bft_self (t), in, &cid, NULL, error)) {
    g_assert_null (cid);
    return NULL;
  }
  g_assert_nonnull (cid);
  return cid;
}

char *
bft_put_data (Bft *t, const void *data, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (data, len, NULL);
  char *cid = bft_put (t, in, &error);
  g_assert_no_error (error);
  return cid;
}

char *
bft_put_gen (Bft *t, uint64_t seed, uint64_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = gen_stream_new (seed, size);
  char *cid = bft_put (t, in, &error);
  g_assert_no_error (error);
  return cid;
}

gboolean
bft_stat (Bft *t, const char *cid, uint64_t *size, GError **error)
{
  return t->iface.stat (bft_self (t), cid, size, error);
}

GBytes *
bft_get_bytes (Bft *t, const char *cid, uint64_t offset, uint64_t length,
               GError **error)
{
  g_autoptr (GInputStream) in
      = t->iface.get (bft_self (t), cid, offset, length, error);
  if (in == NULL)
    return NULL;
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in,
                              G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                                  | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error)
      < 0)
    return NULL;
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

gboolean
bft_check_gen (Bft *t, const char *cid, uint64_t seed, uint64_t size,
               uint64_t offset, uint64_t length, GError **error)
{
  enum { BUF = 64 * 1024 };
  g_autofree uint8_t *got = g_malloc (BUF);
  g_autofree uint8_t *want = g_malloc (BUF);
  uint64_t end = offset + MIN (length, size - offset), pos = offset;
  g_autoptr (GInputStream) in
      = t->iface.get (bft_self (t), cid, offset, length, error);

  if (in == NULL)
    return FALSE;
  for (;;) {
    gsize n;
    if (!g_input_stream_read_all (in, got, BUF, &n, NULL, error))
      return FALSE;
    if (n == 0)
      break;
    if (pos + n > end) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "got more than the %" G_GUINT64_FORMAT " bytes asked",
                   end - offset);
      return FALSE;
    }
    gen_fill (seed, pos, want, n);
    for (gsize i = 0; i < n; i++)
      if (got[i] != want[i]) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "wrong byte at offset %" G_GUINT64_FORMAT
                     ": 0x%02x, want 0x%02x",
                     pos + i, got[i], want[i]);
        return FALSE;
      }
    pos += n;
  }
  if (pos != end) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "stream ended at %" G_GUINT64_FORMAT
                 ", want %" G_GUINT64_FORMAT,
                 pos, end);
    return FALSE;
  }
  return g_input_stream_close (in, NULL, error);
}

/* ---- generated content ------------------------------------------------- */

static uint64_t
splitmix64 (uint64_t x)
{
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

void
gen_fill (uint64_t seed, uint64_t offset, uint8_t *buf, size_t len)
{
  uint64_t k = seed * 0x100000001b3u;
  size_t i = 0;

  while (i < len) {
    uint64_t pos = offset + i, word = splitmix64 (k + pos / 8);
    unsigned from = (unsigned)(pos % 8);
    for (unsigned b = from; b < 8 && i < len; b++)
      buf[i++] = (uint8_t)(word >> (8 * b));
  }
}

#define GEN_TYPE_STREAM (gen_stream_get_type ())
G_DECLARE_FINAL_TYPE (GenStream, gen_stream, GEN, STREAM, GInputStream)

struct _GenStream {
  GInputStream parent;
  uint64_t seed, size, pos;
  uint64_t pause_at, fail_at;
};

G_DEFINE_FINAL_TYPE (GenStream, gen_stream, G_TYPE_INPUT_STREAM)

static gssize
gen_read (GInputStream *stream, void *buffer, gsize count,
          GCancellable *cancellable, GError **error)
{
  GenStream *self = GEN_STREAM (stream);
  uint64_t n = MIN ((uint64_t)count, self->size - self->pos);

  if (self->pos == self->pause_at) {
    printf ("paused\n");
    fflush (stdout);
    for (;;)
      pause ();
  }
  if (self->pos >= self->fail_at) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
        "generated stream: connection closed at byte %" G_GUINT64_FORMAT,
        self->pos);
    return -1;
  }
  n = MIN (n, MIN (self->pause_at, self->fail_at) - self->pos);
  gen_fill (self->seed, self->pos, buffer, (size_t)n);
  self->pos += n;
  return (gssize)n;
}

static void
gen_stream_class_init (GenStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = gen_read;
}

static void
gen_stream_init (GenStream *self)
{
  self->pause_at = self->fail_at = UINT64_MAX;
}

GInputStream *
gen_stream_new (uint64_t seed, uint64_t size)
{
  GenStream *s = g_object_new (GEN_TYPE_STREAM, NULL);
  s->seed = seed;
  s->size = size;
  return G_INPUT_STREAM (s);
}

void
gen_stream_pause_at (GInputStream *stream, uint64_t at)
{
  GEN_STREAM (stream)->pause_at = at;
}

void
gen_stream_fail_at (GInputStream *stream, uint64_t at)
{
  GEN_STREAM (stream)->fail_at = at;
}

void
gen_write_file (const char *path, uint64_t seed, uint64_t size)
{
  enum { BUF = 1 << 20 };
  g_autofree uint8_t *buf = g_malloc (BUF);
  FILE *f = fopen (path, "wb");
  g_assert_nonnull (f);
  for (uint64_t pos = 0; pos < size;) {
    size_t n = (size_t)MIN ((uint64_t)BUF, size - pos);
    gen_fill (seed, pos, buf, n);
    g_assert_cmpuint (fwrite (buf, 1, n, f), ==, n);
    pos += n;
  }
  g_assert_cmpint (fclose (f), ==, 0);
}

/* ---- process and files ------------------------------------------------- */

uint64_t
test_vm_hwm_kib (void)
{
  g_autofree char *status = NULL;
  g_assert_true (
      g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  const char *line = strstr (status, "\nVmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmHWM:"), NULL, 10);
}

static void
list_into (const char *dir, GPtrArray *out)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      list_into (path, out);
      g_free (path);
    } else {
      g_ptr_array_add (out, path);
    }
  }
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
test_list_files (const char *dir)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  list_into (dir, out);
  g_ptr_array_sort (out, cmp_str);
  return out;
}

/* Generated blob content: see <cairn/testing/blob.h>. */
#include "cairn/testing/blob.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static uint64_t
splitmix64 (uint64_t x)
{
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

void
cairn_test_gen_fill (uint64_t seed, uint64_t offset, uint8_t *buf, size_t len)
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

#define GEN_TYPE_STREAM (cairn_test_gen_stream_get_type ())
G_DECLARE_FINAL_TYPE (CairnTestGenStream, cairn_test_gen_stream, GEN, STREAM,
                      GInputStream)

struct _CairnTestGenStream {
  GInputStream parent;
  uint64_t seed, size, pos;
  uint64_t pause_at, fail_at;
};

G_DEFINE_FINAL_TYPE (CairnTestGenStream, cairn_test_gen_stream,
                     G_TYPE_INPUT_STREAM)

static gssize
gen_read (GInputStream *stream, void *buffer, gsize count,
          GCancellable *cancellable, GError **error)
{
  CairnTestGenStream *self = GEN_STREAM (stream);
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
  cairn_test_gen_fill (self->seed, self->pos, buffer, (size_t)n);
  self->pos += n;
  return (gssize)n;
}

static void
cairn_test_gen_stream_class_init (CairnTestGenStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = gen_read;
}

static void
cairn_test_gen_stream_init (CairnTestGenStream *self)
{
  self->pause_at = self->fail_at = UINT64_MAX;
}

GInputStream *
cairn_test_gen_stream_new (uint64_t seed, uint64_t size)
{
  CairnTestGenStream *s = g_object_new (GEN_TYPE_STREAM, NULL);
  s->seed = seed;
  s->size = size;
  return G_INPUT_STREAM (s);
}

void
cairn_test_gen_stream_pause_at (GInputStream *stream, uint64_t at)
{
  GEN_STREAM (stream)->pause_at = at;
}

void
cairn_test_gen_stream_fail_at (GInputStream *stream, uint64_t at)
{
  GEN_STREAM (stream)->fail_at = at;
}

void
cairn_test_gen_write_file (const char *path, uint64_t seed, uint64_t size)
{
  enum { BUF = 1 << 20 };
  g_autofree uint8_t *buf = g_malloc (BUF);
  FILE *f = fopen (path, "wb");
  if (f == NULL)
    g_error ("cannot write %s: %s", path, g_strerror (errno));
  for (uint64_t pos = 0; pos < size;) {
    size_t n = (size_t)MIN ((uint64_t)BUF, size - pos);
    cairn_test_gen_fill (seed, pos, buf, n);
    if (fwrite (buf, 1, n, f) != n)
      g_error ("cannot write %s: %s", path, g_strerror (errno));
    pos += n;
  }
  if (fclose (f) != 0)
    g_error ("cannot write %s: %s", path, g_strerror (errno));
}

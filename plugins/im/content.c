/* im: message contents (ciphertext) fetched from the node that stores
 * them, over direct P2P messages (host direct_send, authenticated links):
 *
 *   'Q' n cid be64(offset)                       "send me cid from offset"
 *   'C' n cid be64(offset) be64(total) bytes     a chunk (<= IM_CHUNK)
 *   'N' n cid                                    "I do not serve cid"
 *
 * n is the length of cid (one byte). The fetching node asks for one chunk
 * at a time, appends it to <data_dir>/fetch/<cid>.part (a later fetch of
 * the same cid continues from there), and at the end stores the file in
 * its blob store and keeps it only if the blob store derives the same
 * CID. A node answers 'Q' only for CIDs that an im message on chain names
 * (cid/<cid>), so it is no open blob server. A fetch with no progress for
 * fetch_timeout_seconds is dropped; a lost request is asked again after
 * REASK_MS. */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include "im.h"

#define MSG_QUERY 'Q'
#define MSG_CHUNK 'C'
#define MSG_NONE 'N'
#define REASK_MS 5000
#define TICK_MS 1000
/* A failed fetch is reported once to the next GET, or forgotten then. */
#define FAILED_TTL_MS (10 * 60 * 1000)

struct ImFetch {
  char *cid;
  char store[41];
  char *path;
  GOutputStream *out;
  uint64_t have, total;
  gboolean total_known;
  int64_t progress_ms, asked_ms;
  char *error; /* set once failed */
  int64_t failed_ms;
};

static void
put_be64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
get_be64 (const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* type n cid; the header of every message. Returns its length. */
static size_t
put_header (uint8_t *buf, char type, const char *cid)
{
  size_t n = strlen (cid);
  buf[0] = (uint8_t)type;
  buf[1] = (uint8_t)n;
  memcpy (buf + 2, cid, n);
  return 2 + n;
}

/* Parses type n cid into cid (>= 129 bytes); the rest in *rest, rest_len. */
static gboolean
get_header (const uint8_t *data, size_t len, char *cid, const uint8_t **rest,
            size_t *rest_len)
{
  if (len < 2 || data[1] > 128 || len < 2u + data[1])
    return FALSE;
  memcpy (cid, data + 2, data[1]);
  cid[data[1]] = '\0';
  *rest = data + 2 + data[1];
  *rest_len = len - 2 - data[1];
  return cairn_cid_valid (cid);
}

static void
fetch_free (ImFetch *f)
{
  if (f->out != NULL) {
    g_output_stream_close (f->out, NULL, NULL);
    g_object_unref (f->out);
  }
  g_free (f->cid);
  g_free (f->path);
  g_free (f->error);
  g_free (f);
}

/* ---- the storing side ------------------------------------------------- */

static void
send_none (Im *im, const char *peer, const char *cid)
{
  uint8_t buf[2 + 128];
  size_t n = put_header (buf, MSG_NONE, cid);
  im_host->direct_send (im->self, peer, buf, n, NULL);
}

static void
on_query (Im *im, const char *peer, const char *cid, uint64_t offset)
{
  char k[IM_KEYBUF];
  g_snprintf (k, sizeof k, "cid/%s", cid);
  g_autoptr (json_t) named = im_get (im, NULL, k, NULL);
  uint64_t total = 0;
  g_autoptr (GError) e = NULL;
  if (named == NULL || !im_host->blob_stat (im->self, cid, &total, &e)
      || offset > total) {
    cairn_log (im_host, im->self, G_LOG_LEVEL_DEBUG,
               "%s asked for %s at %" G_GUINT64_FORMAT ": %s", peer, cid,
               offset,
               named == NULL ? "no im message names it"
               : e != NULL   ? e->message
                             : "past its end");
    send_none (im, peer, cid);
    return;
  }
  size_t want = (size_t)MIN ((uint64_t)IM_CHUNK, total - offset);
  g_autofree uint8_t *buf = g_malloc (2 + 128 + 16 + want);
  size_t h = put_header (buf, MSG_CHUNK, cid);
  put_be64 (buf + h, offset);
  put_be64 (buf + h + 8, total);
  h += 16;
  gsize got = 0;
  if (want > 0) {
    /* One chunk read on the main loop (at most IM_CHUNK bytes). */
    g_autoptr (GInputStream) in
        = im_host->blob_open (im->self, cid, offset, want, &e);
    if (in == NULL
        || !g_input_stream_read_all (in, buf + h, want, &got, NULL, &e)
        || got != want) {
      cairn_log (im_host, im->self, G_LOG_LEVEL_WARNING,
                 "cannot read %s at %" G_GUINT64_FORMAT " for %s: %s", cid,
                 offset, peer, e ? e->message : "short read");
      send_none (im, peer, cid);
      return;
    }
  }
  if (im_host->direct_send (im->self, peer, buf, h + got, &e)) {
    im->chunks_served++;
    im_metrics (im);
  } else /* the asker asks again after REASK_MS */
    cairn_log (im_host, im->self, G_LOG_LEVEL_DEBUG,
               "cannot send %s at %" G_GUINT64_FORMAT " to %s: %s", cid, offset,
               peer, e->message);
}

/* ---- the fetching side ------------------------------------------------ */

static gboolean
ask (Im *im, ImFetch *f, GError **error)
{
  uint8_t buf[2 + 128 + 8];
  size_t n = put_header (buf, MSG_QUERY, f->cid);
  put_be64 (buf + n, f->have);
  f->asked_ms = im_host->now_ms (im->self);
  return im_host->direct_send (im->self, f->store, buf, n + 8, error);
}

static void fail (Im *im, ImFetch *f, gboolean drop_part, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static void
fail (Im *im, ImFetch *f, gboolean drop_part, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  f->error = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  f->failed_ms = im_host->now_ms (im->self);
  if (f->out != NULL) {
    g_output_stream_close (f->out, NULL, NULL);
    g_clear_object (&f->out);
  }
  if (drop_part)
    g_unlink (f->path);
  im->fetches_failed++;
  cairn_log (im_host, im->self, G_LOG_LEVEL_WARNING, "fetching %s: %s", f->cid,
             f->error);
  im_metrics (im);
}

/* All bytes are here: store them, keep them only under the right CID. The
 * blob store reads the whole file on the main loop (blob_put_stream
 * blocks), so a big attachment holds the node up while it is stored. */
static void
finish (Im *im, ImFetch *f)
{
  g_autoptr (GError) e = NULL;
  if (!g_output_stream_close (f->out, NULL, &e)) {
    fail (im, f, TRUE, "cannot write %s: %s", f->path, e->message);
    return;
  }
  g_clear_object (&f->out);
  g_autoptr (GFile) file = g_file_new_for_path (f->path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, &e);
  g_autofree char *cid = NULL;
  if (in == NULL
      || !im_host->blob_put_stream (im->self, G_INPUT_STREAM (in), &cid, &e)) {
    fail (im, f, FALSE, "cannot store the fetched bytes: %s", e->message);
    return;
  }
  g_unlink (f->path);
  if (strcmp (cid, f->cid) != 0) {
    /* The blob store has no delete: the wrong bytes stay under their own
     * CID, which nothing names. */
    fail (im, f, TRUE,
          "the %" G_GUINT64_FORMAT " bytes from %s are not %s (they are %s)",
          f->have, f->store, f->cid, cid);
    return;
  }
  im->fetches_done++;
  cairn_log (im_host, im->self, G_LOG_LEVEL_INFO,
             "fetched %s (%" G_GUINT64_FORMAT " bytes) from %s", f->cid,
             f->have, f->store);
  g_hash_table_remove (im->fetches, f->cid);
  fetch_free (f);
  im_metrics (im);
}

static void
on_chunk (Im *im, const char *peer, const char *cid, const uint8_t *rest,
          size_t len)
{
  ImFetch *f = g_hash_table_lookup (im->fetches, cid);
  if (f == NULL || f->error != NULL || strcmp (peer, f->store) != 0 || len < 16)
    return;
  uint64_t offset = get_be64 (rest), total = get_be64 (rest + 8);
  size_t n = len - 16;
  if (offset != f->have) /* a duplicate answer to an earlier ask */
    return;
  if (n > IM_CHUNK || total < offset || total - offset < n
      || (f->total_known && total != f->total)) {
    fail (im, f, TRUE,
          "%s sent a bad chunk (offset %" G_GUINT64_FORMAT ", %zu bytes, "
          "total %" G_GUINT64_FORMAT ")",
          peer, offset, n, total);
    return;
  }
  if (total > offset && n == 0) {
    fail (im, f, FALSE, "%s sent an empty chunk before the end", peer);
    return;
  }
  g_autoptr (GError) e = NULL;
  if (n > 0
      && !g_output_stream_write_all (f->out, rest + 16, n, NULL, NULL, &e)) {
    fail (im, f, FALSE, "cannot write %s: %s", f->path, e->message);
    return;
  }
  f->have += n;
  f->total = total;
  f->total_known = TRUE;
  f->progress_ms = im_host->now_ms (im->self);
  if (f->have == f->total) {
    finish (im, f);
    return;
  }
  if (!ask (im, f, &e)) /* the timer asks again */
    cairn_log (im_host, im->self, G_LOG_LEVEL_DEBUG,
               "cannot ask %s for more of %s: %s", f->store, cid, e->message);
}

static void
on_none (Im *im, const char *peer, const char *cid)
{
  ImFetch *f = g_hash_table_lookup (im->fetches, cid);
  if (f != NULL && f->error == NULL && strcmp (peer, f->store) == 0)
    fail (im, f, TRUE, "the store %s does not serve %s", peer, cid);
}

void
im_on_direct (CairnPlugin *self, const char *peer_id, const void *data,
              size_t len, void *user_data)
{
  Im *im = user_data;
  const uint8_t *p = data, *rest;
  size_t rest_len;
  char cid[129];
  if (len < 1 || !get_header (p, len, cid, &rest, &rest_len)) {
    cairn_log (im_host, im->self, G_LOG_LEVEL_DEBUG,
               "a malformed message from %s", peer_id);
    return;
  }
  switch (p[0]) {
  case MSG_QUERY:
    if (rest_len == 8)
      on_query (im, peer_id, cid, get_be64 (rest));
    return;
  case MSG_CHUNK:
    on_chunk (im, peer_id, cid, rest, rest_len);
    return;
  case MSG_NONE:
    if (rest_len == 0)
      on_none (im, peer_id, cid);
    return;
  default:
    cairn_log (im_host, im->self, G_LOG_LEVEL_DEBUG,
               "unknown message 0x%02x from %s", p[0], peer_id);
  }
}

/* ---- the timer -------------------------------------------------------- */

static gboolean
on_tick (CairnPlugin *self, void *user_data)
{
  Im *im = user_data;
  int64_t now = im_host->now_ms (self);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, im->fetches);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    ImFetch *f = value;
    if (f->error != NULL) {
      if (now - f->failed_ms > FAILED_TTL_MS) {
        g_hash_table_iter_remove (&it);
        fetch_free (f);
      }
    } else if (now - f->progress_ms > im->fetch_timeout_ms) {
      fail (im, f, FALSE,
            "no progress from %s for %" G_GINT64_FORMAT " s (%" G_GUINT64_FORMAT
            " bytes here)",
            f->store, im->fetch_timeout_ms / 1000, f->have);
    } else if (now - f->asked_ms >= REASK_MS
               && now - f->progress_ms >= REASK_MS) {
      ask (im, f, NULL);
    }
  }
  if (g_hash_table_size (im->fetches) == 0) {
    im->fetch_timer = 0;
    return FALSE;
  }
  return TRUE;
}

/* ---- the route's entry ------------------------------------------------ */

gboolean
im_fetch (Im *im, const char *cid, const char *store, uint64_t *have,
          uint64_t *size, GError **error)
{
  ImFetch *f = g_hash_table_lookup (im->fetches, cid);
  if (f != NULL && f->error != NULL) {
    /* Reported once; the next call starts again. */
    cairn_fail (error, CAIRN_ERROR_FAILED, "fetching %s from %s failed: %s",
                cid, f->store, f->error);
    g_hash_table_remove (im->fetches, cid);
    fetch_free (f);
    im_metrics (im);
    return FALSE;
  }
  if (f != NULL) {
    *have = f->have;
    *size = f->total_known ? f->total : UINT64_MAX;
    return TRUE;
  }
  if (g_hash_table_size (im->fetches) >= IM_MAX_FETCHES)
    return cairn_fail (error, CAIRN_ERROR_FAILED,
                       "this node is fetching %d contents already; try again "
                       "later",
                       IM_MAX_FETCHES);
  g_autofree char *dir
      = g_build_filename (im_host->data_dir (im->self), "fetch", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    return cairn_fail (error, CAIRN_ERROR_IO, "cannot make %s: %s", dir,
                       g_strerror (errno));
  f = g_new0 (ImFetch, 1);
  f->cid = g_strdup (cid);
  g_strlcpy (f->store, store, sizeof f->store);
  g_autofree char *name = g_strconcat (cid, ".part", NULL);
  f->path = g_build_filename (dir, name, NULL);
  g_autoptr (GFile) file = g_file_new_for_path (f->path);
  GError *local = NULL;
  GFileOutputStream *out
      = g_file_append_to (file, G_FILE_CREATE_PRIVATE, NULL, &local);
  if (out == NULL) {
    cairn_fail (error, CAIRN_ERROR_IO, "cannot open %s: %s", f->path,
                local->message);
    g_error_free (local);
    fetch_free (f);
    return FALSE;
  }
  f->out = G_OUTPUT_STREAM (out);
  /* Continue what an earlier fetch left. */
  GStatBuf st;
  if (g_stat (f->path, &st) == 0 && st.st_size > 0)
    f->have = (uint64_t)st.st_size;
  f->progress_ms = im_host->now_ms (im->self);
  if (!ask (im, f, &local)) {
    cairn_fail (error,
                g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)
                    ? CAIRN_ERROR_NOT_FOUND
                    : CAIRN_ERROR_FAILED,
                "cannot ask the store %s for %s: %s", store, cid,
                local->message);
    g_error_free (local);
    if (f->have == 0)
      g_unlink (f->path);
    fetch_free (f);
    return FALSE;
  }
  g_hash_table_insert (im->fetches, f->cid, f);
  if (im->fetch_timer == 0)
    im->fetch_timer = im_host->timer_add (im->self, TICK_MS, on_tick, im);
  cairn_log (im_host, im->self, G_LOG_LEVEL_INFO,
             "fetching %s from %s (from byte %" G_GUINT64_FORMAT ")", cid,
             store, f->have);
  im_metrics (im);
  *have = f->have;
  *size = UINT64_MAX;
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------- */

void
im_content_stop (Im *im)
{
  if (im->fetch_timer) {
    im_host->timer_remove (im->self, im->fetch_timer);
    im->fetch_timer = 0;
  }
}

void
im_content_free (Im *im)
{
  if (im->fetches == NULL)
    return;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, im->fetches);
  while (g_hash_table_iter_next (&it, NULL, &value))
    fetch_free (value);
  g_clear_pointer (&im->fetches, g_hash_table_destroy);
}

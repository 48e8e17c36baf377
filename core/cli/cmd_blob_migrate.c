/* cairn blob migrate: copy every blob the chain references from one blob
 * store to another, on a stopped node's home, and verify each copy.
 *
 * The home is opened like `cairn store export` (cairn_node_new without
 * HTTP), with both blob stores loaded from its config even when only one
 * is in [plugins] load (CairnNodeOptions.extra_blobstores).
 *
 * Referenced blobs: every string value, at any depth, of a committed tx
 * body (blocks 1..head) or of a JSON value of the state at the head (values
 * that are not JSON are skipped) that cairn_cid_valid accepts and that the
 * source store either stats or says is not found (NOT_FOUND: reported as
 * "missing in source"). A string the source calls INVALID only looks like
 * a CID and is not referenced.
 *
 * Each referenced blob, in sorted order, is streamed from the source's
 * get() into the destination's put() unless the destination already holds
 * it with the same size; the CID put returns must be the source's. Then the
 * destination's size is checked and its bytes, read back as a stream, are
 * compared with the source's. No blob is held in memory. A blob counts as
 * copied or already present only once verified. */
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_blob_migrate.h"
#include "node.h"

#define COMPARE_CHUNK (64u << 10)

typedef enum {
  BLOB_IN_SOURCE,   /* the source has it; not handled yet */
  BLOB_MISSING,     /* the source says it does not have it */
  BLOB_COPIED,      /* copied and verified */
  BLOB_PRESENT,     /* the destination had it; verified */
  BLOB_WOULD_COPY,  /* dry run */
  BLOB_WOULD_CHECK, /* dry run: the destination has it (same size) */
  BLOB_FAILED,
} BlobOutcome;

typedef struct {
  char *cid;
  uint64_t size; /* in the source */
  BlobOutcome outcome;
  char *reason; /* BLOB_FAILED */
} Blob;

typedef struct {
  const char *id;
  const char *role; /* "source", "destination" */
  const CairnBlobstoreIface *iface;
  CairnPlugin *plugin;
  gboolean answered; /* a stat got an answer (found or not found) */
} Store;

typedef struct {
  Store src, dst;
  gboolean dry_run;
  gboolean tty; /* progress on stderr */
  gint64 last_progress_us;
  GHashTable *candidates; /* CID-shaped strings (owned keys) */
  uint64_t blocks, values, json_values;
  GPtrArray *blobs; /* Blob*, referenced, sorted by CID */
  guint not_cids;   /* CID-shaped strings the source called invalid */
  uint64_t bytes_copied;
  /* the blob being copied or compared, for the progress line */
  guint index;
  const char *cur;
  uint64_t cur_size;
} Migrate;

static void
blob_free (gpointer p)
{
  Blob *b = p;
  g_free (b->cid);
  g_free (b->reason);
  g_free (b);
}

/* ---- progress (stderr, only on a terminal) ------------------------------- */

static void G_GNUC_PRINTF (3, 4)
    progress (Migrate *m, gboolean force, const char *fmt, ...)
{
  if (!m->tty)
    return;
  gint64 now = g_get_monotonic_time ();
  if (!force && now - m->last_progress_us < 100000)
    return;
  m->last_progress_us = now;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "\r\033[K%s", msg);
  fflush (stderr);
}

static void
progress_clear (Migrate *m)
{
  if (m->tty && m->last_progress_us != 0) {
    fputs ("\r\033[K", stderr);
    fflush (stderr);
  }
}

static void
progress_bytes (Migrate *m, const char *what, uint64_t done)
{
  progress (m, FALSE, "%s %u/%u %s: %.1f/%.1f MiB", what, m->index + 1,
            m->blobs->len, m->cur, done / 1048576.0, m->cur_size / 1048576.0);
}

/* A stream that passes another one through and shows how far the
 * destination's put() has read (put may read on a thread of its own). */
#define MIGRATE_TYPE_COUNT_STREAM (migrate_count_stream_get_type ())
G_DECLARE_FINAL_TYPE (MigrateCountStream, migrate_count_stream, MIGRATE,
                      COUNT_STREAM, GInputStream)

struct _MigrateCountStream {
  GInputStream parent;
  GInputStream *in;
  Migrate *m;
  uint64_t bytes;
};

G_DEFINE_FINAL_TYPE (MigrateCountStream, migrate_count_stream,
                     G_TYPE_INPUT_STREAM)

static gssize
count_read (GInputStream *stream, void *buffer, gsize count,
            GCancellable *cancellable, GError **error)
{
  MigrateCountStream *self = MIGRATE_COUNT_STREAM (stream);
  gssize n = g_input_stream_read (self->in, buffer, count, cancellable, error);
  if (n > 0) {
    self->bytes += (uint64_t)n;
    progress_bytes (self->m, "copying", self->bytes);
  }
  return n;
}

static void
count_finalize (GObject *object)
{
  MigrateCountStream *self = MIGRATE_COUNT_STREAM (object);
  g_object_unref (self->in);
  G_OBJECT_CLASS (migrate_count_stream_parent_class)->finalize (object);
}

static void
migrate_count_stream_class_init (MigrateCountStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = count_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = count_read;
}

static void
migrate_count_stream_init (MigrateCountStream *self)
{
}

static GInputStream *
count_stream_new (GInputStream *in, Migrate *m)
{
  MigrateCountStream *s = g_object_new (MIGRATE_TYPE_COUNT_STREAM, NULL);
  s->in = g_object_ref (in);
  s->m = m;
  return G_INPUT_STREAM (s);
}

/* ---- what the chain references ------------------------------------------ */

static void
collect_strings (Migrate *m, const json_t *v)
{
  const char *key;
  json_t *x;
  size_t i;

  switch (json_typeof (v)) {
  case JSON_STRING: {
    const char *s = json_string_value (v);
    if (cairn_cid_valid (s) && !g_hash_table_contains (m->candidates, s))
      g_hash_table_add (m->candidates, g_strdup (s));
    break;
  }
  case JSON_OBJECT:
    json_object_foreach ((json_t *)v, key, x)
    {
      collect_strings (m, x);
    }
    break;
  case JSON_ARRAY:
    json_array_foreach (v, i, x)
    {
      collect_strings (m, x);
    }
    break;
  default:
    break;
  }
}

static gboolean
scan_blocks (Migrate *m, CairnNode *node, GError **error)
{
  uint64_t head = cairn_node_head (node)->height;
  for (uint64_t h = 1; h <= head; h++) {
    progress (m, h == head,
              "scanning block %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, h,
              head);
    g_autoptr (GBytes) raw = cairn_node_stored_block_bytes (node, h, error);
    if (raw == NULL) {
      g_prefix_error (error, "block %" G_GUINT64_FORMAT ": ", h);
      return FALSE;
    }
    gsize len;
    const char *data = g_bytes_get_data (raw, &len);
    json_error_t jerr;
    g_autoptr (json_t) block = json_loadb (data, len, 0, &jerr);
    if (block == NULL)
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "block %" G_GUINT64_FORMAT " is not JSON: %s", h,
                         jerr.text);
    size_t i;
    json_t *tx;
    json_array_foreach (json_object_get (block, "txs"), i, tx)
    {
      const json_t *body = json_object_get (tx, "body");
      if (body != NULL)
        collect_strings (m, body);
    }
    m->blocks++;
  }
  return TRUE;
}

static gboolean
scan_value (const char *key, const uint8_t *value, size_t len, void *data)
{
  Migrate *m = data;
  m->values++;
  json_t *v = json_loadb ((const char *)value, len, JSON_DECODE_ANY, NULL);
  if (v != NULL) {
    m->json_values++;
    collect_strings (m, v);
    json_decref (v);
  }
  if (m->values % 1024 == 0)
    progress (m, FALSE, "scanning the state: %" G_GUINT64_FORMAT " values",
              m->values);
  return TRUE;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* An error from a store that never answered yet: it is unreachable or
 * broken as a whole, and the run stops before copying anything. */
static gboolean
store_unusable (const Store *s, GError *err, GError **error)
{
  g_set_error (error, CAIRN_ERROR, err->code,
               "the %s blob store %s does not answer: %s; nothing was "
               "copied",
               s->role, s->id, err->message);
  return FALSE;
}

/* Sorted candidates → referenced blobs, by the source's stat. */
static gboolean
classify (Migrate *m, GError **error)
{
  guint n = 0;
  g_autofree gpointer *keys
      = g_hash_table_get_keys_as_array (m->candidates, &n);
  qsort (keys, n, sizeof *keys, compare_strings);
  for (guint i = 0; i < n; i++) {
    const char *cid = keys[i];
    progress (m, i + 1 == n, "looking up %u/%u in %s", i + 1, n, m->src.id);
    g_autoptr (GError) err = NULL;
    uint64_t size = 0;
    BlobOutcome outcome = BLOB_IN_SOURCE;
    char *reason = NULL;
    if (m->src.iface->stat (m->src.plugin, cid, &size, &err)) {
      m->src.answered = TRUE;
    } else if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      m->src.answered = TRUE;
      outcome = BLOB_MISSING;
    } else if (g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_INVALID)) {
      m->not_cids++; /* looks like a CID, is none */
      continue;
    } else if (!m->src.answered) {
      return store_unusable (&m->src, err, error);
    } else {
      outcome = BLOB_FAILED;
      reason = g_strdup_printf ("stat in %s: %s", m->src.id, err->message);
    }
    Blob *b = g_new0 (Blob, 1);
    b->cid = g_strdup (cid);
    b->size = size;
    b->outcome = outcome;
    b->reason = reason;
    g_ptr_array_add (m->blobs, b);
  }
  return TRUE;
}

/* ---- copy and verify ----------------------------------------------------- */

static gboolean
copy_blob (Migrate *m, Blob *b, GError **error)
{
  g_autoptr (GInputStream) in
      = m->src.iface->get (m->src.plugin, b->cid, 0, UINT64_MAX, error);
  if (in == NULL) {
    g_prefix_error (error, "reading it from %s: ", m->src.id);
    return FALSE;
  }
  g_autoptr (GInputStream) counted = count_stream_new (in, m);
  g_autofree char *got = NULL;
  if (!m->dst.iface->put (m->dst.plugin, counted, &got, NULL, error)) {
    g_prefix_error (error, "storing it in %s: ", m->dst.id);
    return FALSE;
  }
  if (g_strcmp0 (got, b->cid) != 0)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "%s stored it under another CID, %s", m->dst.id, got);
  return TRUE;
}

static gboolean
read_chunk (const Store *s, GInputStream *in, char *buf, gsize *got,
            uint64_t offset, GError **error)
{
  if (g_input_stream_read_all (in, buf, COMPARE_CHUNK, got, NULL, error))
    return TRUE;
  g_prefix_error (error, "reading %s's copy at byte %" G_GUINT64_FORMAT ": ",
                  s->id, offset);
  return FALSE;
}

/* The destination's size and bytes against the source's, streamed. */
static gboolean
verify_blob (Migrate *m, Blob *b, GError **error)
{
  uint64_t size = 0;
  if (!m->dst.iface->stat (m->dst.plugin, b->cid, &size, error)) {
    g_prefix_error (error, "stat in %s: ", m->dst.id);
    return FALSE;
  }
  if (size != b->size)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "%s says it has %" G_GUINT64_FORMAT
                       " bytes, %s %" G_GUINT64_FORMAT,
                       m->dst.id, size, m->src.id, b->size);
  g_autoptr (GInputStream) a
      = m->src.iface->get (m->src.plugin, b->cid, 0, UINT64_MAX, error);
  if (a == NULL) {
    g_prefix_error (error, "reading it from %s: ", m->src.id);
    return FALSE;
  }
  g_autoptr (GInputStream) d
      = m->dst.iface->get (m->dst.plugin, b->cid, 0, UINT64_MAX, error);
  if (d == NULL) {
    g_prefix_error (error, "reading it back from %s: ", m->dst.id);
    return FALSE;
  }
  g_autofree char *ba = g_malloc (COMPARE_CHUNK);
  g_autofree char *bd = g_malloc (COMPARE_CHUNK);
  uint64_t off = 0;
  for (;;) {
    gsize na = 0, nd = 0;
    if (!read_chunk (&m->src, a, ba, &na, off, error)
        || !read_chunk (&m->dst, d, bd, &nd, off, error))
      return FALSE;
    gsize same = 0;
    while (same < MIN (na, nd) && ba[same] == bd[same])
      same++;
    if (same < MIN (na, nd))
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "byte %" G_GUINT64_FORMAT " read back from %s "
                         "differs from %s's",
                         off + same, m->dst.id, m->src.id);
    if (na != nd)
      return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                         "%s's bytes end at %" G_GUINT64_FORMAT ", %s's go on",
                         na < nd ? m->src.id : m->dst.id, off + MIN (na, nd),
                         na < nd ? m->dst.id : m->src.id);
    off += na;
    progress_bytes (m, "verifying", off);
    if (na < COMPARE_CHUNK)
      break;
  }
  if (off != b->size)
    return cairn_fail (error, CAIRN_ERROR_CORRUPT,
                       "both streams end after %" G_GUINT64_FORMAT
                       " bytes, but the blob has %" G_GUINT64_FORMAT,
                       off, b->size);
  return TRUE;
}

static void G_GNUC_PRINTF (2, 3) fail_blob (Blob *b, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_free (b->reason);
  b->reason = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  b->outcome = BLOB_FAILED;
}

static gboolean
migrate_blobs (Migrate *m, GError **error)
{
  for (m->index = 0; m->index < m->blobs->len; m->index++) {
    Blob *b = m->blobs->pdata[m->index];
    if (b->outcome != BLOB_IN_SOURCE)
      continue;
    m->cur = b->cid;
    m->cur_size = b->size;
    progress (m, TRUE, "checking %u/%u %s in %s", m->index + 1, m->blobs->len,
              b->cid, m->dst.id);
    g_autoptr (GError) err = NULL;
    uint64_t have = 0;
    gboolean found = m->dst.iface->stat (m->dst.plugin, b->cid, &have, &err);
    if (found || g_error_matches (err, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      m->dst.answered = TRUE;
    } else if (!m->dst.answered) {
      return store_unusable (&m->dst, err, error);
    } else {
      fail_blob (b, "stat in %s: %s", m->dst.id, err->message);
      continue;
    }
    gboolean present = found && have == b->size;
    if (m->dry_run) {
      b->outcome = present ? BLOB_WOULD_CHECK : BLOB_WOULD_COPY;
      continue;
    }
    g_clear_error (&err);
    if (!present && !copy_blob (m, b, &err)) {
      if (found)
        fail_blob (b,
                   "%s held %" G_GUINT64_FORMAT " bytes under this CID "
                   "(the source: %" G_GUINT64_FORMAT "); copying: %s",
                   m->dst.id, have, b->size, err->message);
      else
        fail_blob (b, "copying: %s", err->message);
      continue;
    }
    if (!verify_blob (m, b, &err)) {
      fail_blob (b, "%s: %s",
                 present ? "verifying the copy it held" : "verifying the copy",
                 err->message);
      continue;
    }
    b->outcome = present ? BLOB_PRESENT : BLOB_COPIED;
    if (!present)
      m->bytes_copied += b->size;
  }
  return TRUE;
}

/* ---- report -------------------------------------------------------------- */

typedef struct {
  guint referenced, copied, present, missing, failed, would_copy, would_check;
  uint64_t would_copy_bytes;
} Counts;

static Counts
count (const Migrate *m)
{
  Counts c = { .referenced = m->blobs->len };
  for (guint i = 0; i < m->blobs->len; i++) {
    const Blob *b = m->blobs->pdata[i];
    switch (b->outcome) {
    case BLOB_COPIED:
      c.copied++;
      break;
    case BLOB_PRESENT:
      c.present++;
      break;
    case BLOB_MISSING:
      c.missing++;
      break;
    case BLOB_WOULD_COPY:
      c.would_copy++;
      c.would_copy_bytes += b->size;
      break;
    case BLOB_WOULD_CHECK:
      c.would_check++;
      break;
    case BLOB_FAILED:
    case BLOB_IN_SOURCE:
      c.failed++;
      break;
    }
  }
  return c;
}

static json_t *
cids_with (const Migrate *m, BlobOutcome outcome, gboolean with_size)
{
  json_t *a = json_array ();
  for (guint i = 0; i < m->blobs->len; i++) {
    const Blob *b = m->blobs->pdata[i];
    if (b->outcome != outcome)
      continue;
    if (outcome == BLOB_FAILED)
      json_array_append_new (
          a, json_pack ("{s:s,s:s}", "cid", b->cid, "reason", b->reason));
    else if (with_size)
      json_array_append_new (a, json_pack ("{s:s,s:I}", "cid", b->cid, "size",
                                           (json_int_t)b->size));
    else
      json_array_append_new (a, json_string (b->cid));
  }
  return a;
}

static void
report_json (const Migrate *m, const Counts *c, uint64_t height, gboolean ok)
{
  g_autoptr (json_t) o = json_pack (
      "{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "from",
      m->src.id, "to", m->dst.id, "dry_run", m->dry_run, "height",
      (json_int_t)height, "blocks_scanned", (json_int_t)m->blocks,
      "state_values_scanned", (json_int_t)m->values, "referenced",
      (json_int_t)c->referenced, "copied", (json_int_t)c->copied,
      "already_present", (json_int_t)(m->dry_run ? c->would_check : c->present),
      "verified", (json_int_t)(c->copied + c->present), "missing_in_source",
      (json_int_t)c->missing, "failed", (json_int_t)c->failed, "bytes_copied",
      (json_int_t)m->bytes_copied, "ok", ok);
  /* CID-shaped strings that the source called invalid (not referenced) */
  json_object_set_new (o, "not_cids", json_integer (m->not_cids));
  json_object_set_new (o, "missing", cids_with (m, BLOB_MISSING, FALSE));
  json_object_set_new (o, "failures", cids_with (m, BLOB_FAILED, FALSE));
  if (m->dry_run) {
    json_object_set_new (o, "would_copy", cids_with (m, BLOB_WOULD_COPY, TRUE));
    json_object_set_new (o, "present", cids_with (m, BLOB_WOULD_CHECK, FALSE));
  } else {
    json_object_set_new (o, "copied_cids", cids_with (m, BLOB_COPIED, FALSE));
    json_object_set_new (o, "present", cids_with (m, BLOB_PRESENT, FALSE));
  }
  cairn_cli_print_json (o);
}

static void line (const char *label, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
line (const char *label, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_print ("%-18s %s\n", label, msg);
}

static void
report_text (const Migrate *m, const Counts *c, const char *home,
             uint64_t height)
{
  g_print ("%s%s -> %s, %s at height %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
           " blocks and %" G_GUINT64_FORMAT " state values scanned)\n",
           m->dry_run ? "dry run: " : "", m->src.id, m->dst.id, home, height,
           m->blocks, m->values);
  line ("referenced", "%u", c->referenced);
  if (m->dry_run) {
    line ("would copy", "%u (%.1f MiB)", c->would_copy,
          c->would_copy_bytes / 1048576.0);
    line ("already present", "%u (same size; verified only in a real run)",
          c->would_check);
  } else {
    line ("copied", "%u (%.1f MiB)", c->copied, m->bytes_copied / 1048576.0);
    line ("already present", "%u", c->present);
    line ("verified", "%u", c->copied + c->present);
  }
  line ("missing in source", "%u", c->missing);
  line ("failed", "%u", c->failed);
  for (guint i = 0; i < m->blobs->len; i++) {
    const Blob *b = m->blobs->pdata[i];
    if (b->outcome == BLOB_WOULD_COPY)
      g_print ("would copy %s (%" G_GUINT64_FORMAT " bytes)\n", b->cid,
               b->size);
    else if (b->outcome == BLOB_MISSING)
      g_print ("missing in source %s\n", b->cid);
    else if (b->outcome == BLOB_FAILED)
      g_print ("failed %s: %s\n", b->cid, b->reason);
  }
}

/* ---- the command --------------------------------------------------------- */

static gboolean
open_store (CairnNode *node, Store *s, GError **error)
{
  s->iface = cairn_node_blobstore (node, s->id, &s->plugin, error);
  if (s->iface == NULL)
    g_prefix_error (error, "the %s: ", s->role);
  return s->iface != NULL;
}

static int
run (const char *home, const char *from, const char *to, gboolean dry_run,
     gboolean json, gboolean allow_missing)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) path = cairn_cli_default_plugin_path ();
  const char *extra[] = { from, to, NULL };
  CairnNodeOptions opts = {
    .home = home,
    .plugin_path = (const char *const *)path,
    .no_http = TRUE,
    .extra_blobstores = extra,
  };
  g_autoptr (CairnNode) node = cairn_node_new (&opts, &error);
  if (node == NULL) {
    g_prefix_error (&error,
                    "blob migrate --from %s --to %s: cannot open %s: ", from,
                    to, home);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  Migrate m = {
    .src = { .id = from, .role = "source" },
    .dst = { .id = to, .role = "destination" },
    .dry_run = dry_run,
    .tty = isatty (STDERR_FILENO),
  };
  if (!open_store (node, &m.src, &error) || !open_store (node, &m.dst, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (GHashTable) candidates
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) blobs = g_ptr_array_new_with_free_func (blob_free);
  m.candidates = candidates;
  m.blobs = blobs;
  uint64_t height = cairn_node_head (node)->height;
  gboolean ok
      = scan_blocks (&m, node, &error)
        && cairn_node_state_iter (node, "", CAIRN_HEAD, scan_value, &m, &error)
        && classify (&m, &error) && migrate_blobs (&m, &error);
  progress_clear (&m);
  if (!ok)
    return cairn_cli_fail (g_steal_pointer (&error));

  Counts c = count (&m);
  gboolean all_ok = c.failed == 0 && (c.missing == 0 || allow_missing);
  if (json)
    report_json (&m, &c, height, all_ok);
  else
    report_text (&m, &c, home, height);
  if (all_ok)
    return CAIRN_EXIT_OK;
  if (dry_run)
    cairn_cli_printerr ("%u referenced blob(s) missing in %s and %u that "
                        "cannot be read%s",
                        c.missing, from, c.failed,
                        allow_missing ? ""
                                      : " (--allow-missing ignores the "
                                        "missing ones)");
  else
    cairn_cli_printerr ("%u of %u referenced blob(s) are not verified in %s: "
                        "%u missing in %s%s, %u failed",
                        c.referenced - c.copied - c.present, c.referenced, to,
                        c.missing, from, allow_missing ? " (allowed)" : "",
                        c.failed);
  return CAIRN_EXIT_FAILED;
}

int
cairn_cmd_blob_migrate (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  gboolean dry_run = FALSE, json = FALSE, allow_missing = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home (default: $CAIRN_HOME); the node must be stopped", "DIR" },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from,
      "The blob store to copy from (a plugin id, e.g. blob-fs)", "PLUGIN" },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to,
      "The blob store to copy to (e.g. blob-ipfs)", "PLUGIN" },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry_run,
      "Only list what would be copied", NULL },
    { "allow-missing", 0, 0, G_OPTION_ARG_NONE, &allow_missing,
      "Blobs missing in the source do not make it fail", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "migrate --from PLUGIN --to PLUGIN",
      "Copy every blob the chain references to another blob store, and "
      "verify it.",
      "The node must be stopped (like 'cairn store'). Both blob stores are\n"
      "loaded with the home's config (their [blob-fs] / [blob-ipfs] groups\n"
      "in conf or conf.d), even when only one is in [plugins] load.\n"
      "\n"
      "Referenced blobs: every string value, at any depth, of a committed\n"
      "tx body (blocks 1..head) or of a JSON value of the state at the head\n"
      "(values that are not JSON are skipped) that is a CIDv1 in base32\n"
      "(bafy...) and that the source store either has or says it does not\n"
      "have; the latter are reported as missing in source. Strings the\n"
      "source calls invalid only look like CIDs and are ignored; CIDv0\n"
      "(Qm...) strings are not looked at. Blobs nothing refers to are not\n"
      "copied.\n"
      "\n"
      "Each referenced blob is streamed from the source into the\n"
      "destination unless the destination holds it with the same size; the\n"
      "destination must give it the same CID. Then every blob, copied or\n"
      "already there, is read back from the destination and compared byte\n"
      "for byte with the source. Progress goes to stderr on a terminal; a\n"
      "summary (referenced, copied, already present, verified, missing in\n"
      "source, failed with the reason for each) to stdout. --dry-run lists\n"
      "what would be copied and verifies nothing.\n"
      "\n"
      "Exit codes: 0 every referenced blob is present and verified in the\n"
      "destination (--allow-missing: except those missing in the source);\n"
      "1 otherwise, or when the home, the node's store (node running) or a\n"
      "blob store cannot be used; 2 usage; 3 no such plugin.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc != 2 || strcmp (argv[1], "migrate") != 0)
    return cairn_cli_usage ("usage: cairn blob migrate --from PLUGIN --to "
                            "PLUGIN [--home DIR] [--dry-run] [--json]");
  if (from == NULL || to == NULL)
    return cairn_cli_usage ("blob migrate needs --from PLUGIN and --to PLUGIN "
                            "(e.g. --from blob-fs --to blob-ipfs)");
  if (!cairn_plugin_id_valid (from) || !cairn_plugin_id_valid (to))
    return cairn_cli_usage ("--from and --to take plugin ids ([a-z0-9-], at "
                            "most 32), e.g. blob-fs (got '%s' and '%s')",
                            from, to);
  if (strcmp (from, to) == 0)
    return cairn_cli_usage ("--from and --to are both %s: migrate copies "
                            "between two different blob stores",
                            from);
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;
  return run (home, from, to, dry_run, json, allow_missing);
}

/* A blob store on the fake host and calls through its interface: see
 * <cairn/testing/blob.h>. */
#include "cairn/testing/blob.h"

#include <string.h>

#include <jansson.h>

#include "cairn/testing/util.h"

struct CairnTestBlobBackend {
  CairnTestPlugin *tp;
  const CairnBlobstoreIface *iface;
  char *data_dir;
  gboolean own_dir; /* a temporary dir made here, removed at stop */
};

CairnTestBlobBackend *
cairn_test_blob_backend_new (CairnPluginEntry entry, const char *data_dir,
                             const char *const *config, GError **error)
{
  g_autoptr (CairnTestBlobBackend) b = g_new0 (CairnTestBlobBackend, 1);

  b->own_dir = data_dir == NULL;
  b->data_dir = b->own_dir ? cairn_test_make_tmpdir () : g_strdup (data_dir);
  b->tp = cairn_test_plugin_new (entry, b->data_dir);
  cairn_test_plugin_set_config_list (b->tp, config);
  if (!cairn_test_plugin_init (b->tp, error))
    return NULL;
  b->iface = cairn_test_plugin_blobstore (b->tp);
  if (b->iface == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "plugin '%s' registered no blob store interface during init",
                 cairn_test_plugin_descriptor (b->tp)->id);
    return NULL;
  }
  if (!cairn_test_plugin_check_config_read (b->tp, error))
    return NULL;
  return g_steal_pointer (&b);
}

CairnTestBlobBackend *
cairn_test_blob_backend_start (CairnPluginEntry entry, const char *data_dir,
                               GError **error, ...)
{
  g_autoptr (GPtrArray) config = g_ptr_array_new ();
  va_list ap;
  const char *key;

  va_start (ap, error);
  while ((key = va_arg (ap, const char *)) != NULL) {
    const char *value = va_arg (ap, const char *);
    if (value == NULL)
      g_error ("cairn_test_blob_backend_start: config key '%s' has no value "
               "(the arguments are key, value, ..., NULL)",
               key);
    g_ptr_array_add (config, (gpointer)key);
    g_ptr_array_add (config, (gpointer)value);
  }
  va_end (ap);
  g_ptr_array_add (config, NULL);
  return cairn_test_blob_backend_new (
      entry, data_dir, (const char *const *)config->pdata, error);
}

void
cairn_test_blob_backend_stop (CairnTestBlobBackend *b)
{
  if (b == NULL)
    return;
  cairn_test_plugin_free (b->tp); /* runs fini if init succeeded */
  if (b->own_dir)
    cairn_test_rm_rf (b->data_dir);
  g_free (b->data_dir);
  g_free (b);
}

const char *
cairn_test_blob_backend_name (CairnTestBlobBackend *b)
{
  return cairn_test_plugin_descriptor (b->tp)->id;
}

const char *
cairn_test_blob_backend_data_dir (CairnTestBlobBackend *b)
{
  return b->data_dir;
}

CairnPlugin *
cairn_test_blob_backend_self (CairnTestBlobBackend *b)
{
  return cairn_test_plugin_self (b->tp);
}

const CairnBlobstoreIface *
cairn_test_blob_backend_iface (CairnTestBlobBackend *b)
{
  return b->iface;
}

CairnTestPlugin *
cairn_test_blob_backend_plugin (CairnTestBlobBackend *b)
{
  return b->tp;
}

gboolean
cairn_test_blob_backend_logged (CairnTestBlobBackend *b, const char *needle)
{
  return cairn_test_plugin_log_contains (b->tp, needle);
}

/* ---- calls -------------------------------------------------------------- */

char *
cairn_test_blob_put (CairnTestBlobBackend *b, GInputStream *in, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *cid = NULL;
  if (!b->iface->put (cairn_test_blob_backend_self (b), in, &cid, NULL,
                      &local)) {
    if (cid != NULL)
      g_error ("%s: a failed put returned a CID (%s)",
               cairn_test_blob_backend_name (b), cid);
    if (local == NULL)
      g_error ("%s: put failed without setting an error",
               cairn_test_blob_backend_name (b));
    g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  if (cid == NULL)
    g_error ("%s: put succeeded without a CID",
             cairn_test_blob_backend_name (b));
  return cid;
}

char *
cairn_test_blob_put_data (CairnTestBlobBackend *b, const void *data, size_t len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (data, (gssize)len, NULL);
  char *cid = cairn_test_blob_put (b, in, &error);
  g_assert_no_error (error);
  return cid;
}

char *
cairn_test_blob_put_gen (CairnTestBlobBackend *b, uint64_t seed, uint64_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (seed, size);
  char *cid = cairn_test_blob_put (b, in, &error);
  g_assert_no_error (error);
  return cid;
}

gboolean
cairn_test_blob_stat (CairnTestBlobBackend *b, const char *cid, uint64_t *size,
                      GError **error)
{
  return b->iface->stat (cairn_test_blob_backend_self (b), cid, size, error);
}

GInputStream *
cairn_test_blob_get (CairnTestBlobBackend *b, const char *cid, uint64_t offset,
                     uint64_t length, GError **error)
{
  return b->iface->get (cairn_test_blob_backend_self (b), cid, offset, length,
                        error);
}

GBytes *
cairn_test_blob_get_bytes (CairnTestBlobBackend *b, const char *cid,
                           uint64_t offset, uint64_t length, GError **error)
{
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, cid, offset, length, error);
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
cairn_test_blob_check_gen (CairnTestBlobBackend *b, const char *cid,
                           uint64_t seed, uint64_t size, uint64_t offset,
                           uint64_t length, uint64_t *good, GError **error)
{
  enum { BUF = 100000 }; /* not a divisor of the chunk size */
  g_autofree uint8_t *got = g_malloc (BUF);
  g_autofree uint8_t *want = g_malloc (BUF);
  uint64_t end = offset + MIN (length, size - MIN (offset, size)), pos = offset;
  uint64_t ignored;

  if (good == NULL)
    good = &ignored;
  *good = 0;
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, cid, offset, length, error);
  if (in == NULL)
    return FALSE;
  for (;;) {
    gsize n;
    gboolean ok = g_input_stream_read_all (in, got, BUF, &n, NULL, error);
    if (pos + n > end) {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "got more than the %" G_GUINT64_FORMAT " bytes asked",
                   end - offset);
      return FALSE;
    }
    cairn_test_gen_fill (seed, pos, want, n);
    for (gsize i = 0; i < n; i++)
      if (got[i] != want[i]) {
        g_clear_error (error);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "wrong byte at offset %" G_GUINT64_FORMAT
                     ": 0x%02x, want 0x%02x",
                     pos + i, got[i], want[i]);
        return FALSE;
      }
    pos += n;
    *good = pos - offset;
    if (!ok)
      return FALSE;
    if (n == 0)
      break;
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

void
cairn_test_blob_ipfs_cid_of_gen (uint64_t seed, uint64_t size, char **v1,
                                 char **v0)
{
  g_autofree char *tool = g_find_program_in_path ("ipfs_cid");
  if (tool == NULL)
    g_error ("the ipfs_cid tool is not in PATH: install the Debian package "
             "ipfs-cid; blob ids are checked against it");
  g_autofree char *dir = cairn_test_make_tmpdir ();
  g_autofree char *file = g_build_filename (dir, "blob", NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  const char *argv[] = { tool, file, NULL };
  int status;

  cairn_test_gen_write_file (file, seed, size);
  if (!g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error))
    g_error ("cannot run %s: %s", tool, error->message);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s %s: %s; stderr: %s", tool, file, error->message, err);
  json_t *j = json_loads (out, 0, NULL);
  const char *s1 = json_string_value (json_object_get (j, "CIDv1"));
  const char *s0 = json_string_value (json_object_get (j, "CIDv0"));
  if (s0 == NULL || s1 == NULL)
    g_error ("%s printed '%s', not {\"CIDv0\",\"CIDv1\"}", tool, out);
  *v1 = g_strdup (s1);
  if (v0 != NULL)
    *v0 = g_strdup (s0);
  json_decref (j);
  cairn_test_rm_rf (dir);
}

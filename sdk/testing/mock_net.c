/* The mock host's outside world: peers and consensus messages, direct
 * messages, metrics and the blob store (an in-memory one, or the
 * blobstore plugin loaded into the host). See <cairn/testing/mock_host.h>.
 */
#include <string.h>

#include "mock_private.h"

static const char *
id_of (CairnPlugin *self)
{
  return ((CairnTestPlugin *)self)->desc->id;
}

static gboolean
is_peer (CairnTestHost *h, const char *peer_id)
{
  for (guint i = 0; peer_id != NULL && i < h->peers->len; i++)
    if (strcmp (h->peers->pdata[i], peer_id) == 0)
      return TRUE;
  return FALSE;
}

static void
record (CairnTestHost *h, const char *kind, CairnPlugin *self, const char *peer,
        const void *data, size_t len)
{
  g_autofree char *hex = cairn_hex_encode (data, len);
  json_array_append_new (h->sent,
                         json_pack ("{s:s, s:s, s:o, s:s}", "kind", kind,
                                    "plugin", id_of (self), "peer",
                                    peer ? json_string (peer) : json_null (),
                                    "data_hex", hex));
}

/* ---- peers ---- */

static gboolean
m_peer_broadcast (CairnPlugin *self, const void *data, size_t len,
                  GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (data == NULL && len > 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: peer_broadcast of NULL data", id_of (self));
  record (h, "broadcast", self, NULL, data, len);
  return TRUE;
}

static gboolean
m_peer_send (CairnPlugin *self, const char *peer_id, const void *data,
             size_t len, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (!is_peer (h, peer_id))
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "plugin %s: node %s is not a connected peer",
                       id_of (self), peer_id ? peer_id : "(null)");
  record (h, "send", self, peer_id, data, len);
  return TRUE;
}

static char **
m_peer_list (CairnPlugin *self)
{
  CairnTestHost *h = cairn_test__host_of (self);
  char **out = g_new0 (char *, h->peers->len + 1);
  for (guint i = 0; i < h->peers->len; i++)
    out[i] = g_strdup (h->peers->pdata[i]);
  return out;
}

static gboolean
m_direct_send (CairnPlugin *self, const char *peer_id, const void *data,
               size_t len, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (len > CAIRN_MAX_DIRECT)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: a direct message of %zu bytes exceeds %u",
                       id_of (self), len, CAIRN_MAX_DIRECT);
  if (!is_peer (h, peer_id))
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "plugin %s: node %s is not a connected peer",
                       id_of (self), peer_id ? peer_id : "(null)");
  record (h, "direct", self, peer_id, data, len);
  return TRUE;
}

void
cairn_test_host_add_peer (CairnTestHost *h, const char *peer_id)
{
  g_assert_true (cairn_test__address_valid (peer_id));
  if (is_peer (h, peer_id))
    return;
  g_ptr_array_add (h->peers, g_strdup (peer_id));
  if (h->engine != NULL && h->consensus.on_peer_connected != NULL)
    h->consensus.on_peer_connected ((CairnPlugin *)h->engine, peer_id);
}

void
cairn_test_host_remove_peer (CairnTestHost *h, const char *peer_id)
{
  for (guint i = 0; i < h->peers->len; i++)
    if (strcmp (h->peers->pdata[i], peer_id) == 0) {
      g_ptr_array_remove_index (h->peers, i);
      if (h->engine != NULL && h->consensus.on_peer_disconnected != NULL)
        h->consensus.on_peer_disconnected ((CairnPlugin *)h->engine, peer_id);
      return;
    }
}

const json_t *
cairn_test_host_sent (CairnTestHost *h)
{
  return h->sent;
}

void
cairn_test_host_clear_sent (CairnTestHost *h)
{
  json_array_clear (h->sent);
}

CairnTestPlugin *
cairn_test_host_engine (CairnTestHost *h)
{
  return h->engine;
}

const CairnConsensusIface *
cairn_test_host_consensus (CairnTestHost *h)
{
  return h->engine != NULL ? &h->consensus : NULL;
}

void
cairn_test_host_deliver_peer_message (CairnTestHost *h, const char *peer_id,
                                      const void *data, size_t len)
{
  if (h->engine == NULL)
    g_error ("mock host: deliver_peer_message: no consensus engine is "
             "registered");
  if (h->consensus.on_peer_message != NULL)
    h->consensus.on_peer_message ((CairnPlugin *)h->engine, peer_id, data, len);
}

gboolean
cairn_test_host_deliver_direct (CairnTestHost *h, const char *plugin_id,
                                const char *peer_id, const void *data,
                                size_t len, GError **error)
{
  MockDirect *d = g_hash_table_lookup (h->direct, plugin_id);
  if (d == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "plugin %s registered no direct message handler",
                       plugin_id);
  d->fn ((CairnPlugin *)d->tp, peer_id, data, len, d->user_data);
  return TRUE;
}

/* ---- metrics ---- */

/* "<id>_<[a-z0-9_]+>" with an optional {k="v",...} label set. */
static gboolean
metric_name_valid (const char *id, const char *name)
{
  size_t n = strlen (id);
  if (strncmp (name, id, n) != 0 || name[n] != '_')
    return FALSE;
  const char *p = name + n + 1;
  const char *start = p;
  while (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '_')
    p++;
  if (p == start)
    return FALSE;
  if (*p == '\0')
    return TRUE;
  if (*p++ != '{')
    return FALSE;
  for (;;) {
    const char *k = p;
    while (g_ascii_islower (*p) || *p == '_')
      p++;
    if (p == k || *p++ != '=' || *p++ != '"')
      return FALSE;
    while (*p != '\0' && *p != '"' && *p != '\\' && *p != '\n')
      p++;
    if (*p++ != '"')
      return FALSE;
    if (*p == '}')
      return p[1] == '\0';
    if (*p++ != ',')
      return FALSE;
  }
}

static gboolean
m_metric_set (CairnPlugin *self, const char *name, const char *help,
              int64_t value, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  if (name == NULL || !metric_name_valid (id_of (self), name))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "plugin %s: metric '%s' must be '%s_<[a-z0-9_]+>' with "
                       "an optional {k=\"v\",...}",
                       id_of (self), name ? name : "(null)", id_of (self));
  g_hash_table_insert (h->metrics, g_strdup (name),
                       g_memdup2 (&value, sizeof value));
  return TRUE;
}

gboolean
cairn_test_host_metric (CairnTestHost *h, const char *name, int64_t *value)
{
  int64_t *v = g_hash_table_lookup (h->metrics, name);
  if (v != NULL && value != NULL)
    *value = *v;
  return v != NULL;
}

/* ---- blobs ---- */

/* The blobstore plugin loaded into the host, or NULL. */
static CairnTestPlugin *
blob_plugin (CairnTestHost *h)
{
  for (guint i = 0; i < h->plugins->len; i++) {
    CairnTestPlugin *tp = h->plugins->pdata[i];
    if (tp->have_blobstore && tp->initialised)
      return tp;
  }
  return NULL;
}

/* "b" + base32 (RFC 4648, lowercase, unpadded) of a CIDv1 raw sha2-256. */
static char *
raw_cid (const void *data, size_t len)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t bin[36] = { 0x01, 0x55, 0x12, 0x20 };
  cairn_test__sha256 (data, len, bin + 4);
  GString *s = g_string_new ("b");
  uint32_t buf = 0;
  int bits = 0;
  for (size_t i = 0; i < sizeof bin; i++) {
    buf = (buf << 8) | bin[i];
    bits += 8;
    while (bits >= 5) {
      g_string_append_c (s, alphabet[(buf >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0)
    g_string_append_c (s, alphabet[(buf << (5 - bits)) & 31]);
  return g_string_free (s, FALSE);
}

static gboolean
m_blob_put_stream (CairnPlugin *self, GInputStream *in, char **cid,
                   GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  CairnTestPlugin *bp = blob_plugin (h);
  if (bp != NULL)
    return bp->blobstore.put ((CairnPlugin *)bp, in, cid, NULL, error);
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                              NULL, error)
      < 0)
    return FALSE;
  GBytes *b
      = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  char *id = raw_cid (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_hash_table_insert (h->blobs, g_strdup (id), b);
  *cid = id;
  return TRUE;
}

static gboolean
m_blob_put (CairnPlugin *self, const void *data, size_t len, char **cid,
            GError **error)
{
  g_autoptr (GInputStream) in
      = g_memory_input_stream_new_from_data (data, (gssize)len, NULL);
  return m_blob_put_stream (self, in, cid, error);
}

static GBytes *
mem_blob (CairnTestHost *h, const char *cid, GError **error)
{
  if (!cairn_cid_valid (cid)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "'%s' is not a blob id", cid ? cid : "(null)");
    return NULL;
  }
  GBytes *b = g_hash_table_lookup (h->blobs, cid);
  if (b == NULL)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "no blob %s", cid);
  return b;
}

static GInputStream *
m_blob_open (CairnPlugin *self, const char *cid, uint64_t offset,
             uint64_t length, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  CairnTestPlugin *bp = blob_plugin (h);
  if (bp != NULL)
    return bp->blobstore.get ((CairnPlugin *)bp, cid, offset, length, error);
  GBytes *b = mem_blob (h, cid, error);
  if (b == NULL)
    return NULL;
  uint64_t size = g_bytes_get_size (b);
  if (offset > size
      || (length != UINT64_MAX && (length > size || offset > size - length))) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "range %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
                 " is outside blob %s of %" G_GUINT64_FORMAT " bytes",
                 offset, length, cid, size);
    return NULL;
  }
  uint64_t n = length == UINT64_MAX ? size - offset : length;
  g_autoptr (GBytes) part = g_bytes_new_from_bytes (b, offset, n);
  return g_memory_input_stream_new_from_bytes (part);
}

static GBytes *
m_blob_get (CairnPlugin *self, const char *cid, GError **error)
{
  g_autoptr (GInputStream) in = m_blob_open (self, cid, 0, UINT64_MAX, error);
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

static gboolean
m_blob_stat (CairnPlugin *self, const char *cid, uint64_t *size, GError **error)
{
  CairnTestHost *h = cairn_test__host_of (self);
  CairnTestPlugin *bp = blob_plugin (h);
  if (bp != NULL)
    return bp->blobstore.stat ((CairnPlugin *)bp, cid, size, error);
  GBytes *b = mem_blob (h, cid, error);
  if (b == NULL)
    return FALSE;
  *size = g_bytes_get_size (b);
  return TRUE;
}

void
cairn_test__fill_net_table (CairnHost *t)
{
  t->peer_broadcast = m_peer_broadcast;
  t->peer_send = m_peer_send;
  t->peer_list = m_peer_list;
  t->direct_send = m_direct_send;
  t->metric_set = m_metric_set;
  t->blob_put = m_blob_put;
  t->blob_get = m_blob_get;
  t->blob_open = m_blob_open;
  t->blob_stat = m_blob_stat;
  t->blob_put_stream = m_blob_put_stream;
}

/* blob-fs: one node of a UnixFS file, in dag-pb, encoded and decoded by
 * hand (it is two tiny protobuf messages).
 *
 *   PBNode  { repeated PBLink Links = 2; optional bytes Data = 1; }
 *   PBLink  { optional bytes Hash = 1; optional string Name = 2;
 *             optional uint64 Tsize = 3; }
 *   UnixFS  { Type = 1 (File = 2, Raw = 0); Data = 2; filesize = 3;
 *             repeated blocksizes = 4; hashType = 5; fanout = 6;
 *             mode = 7; mtime = 8 }
 *
 * go-ipfs writes the Links before the Data, each link with an empty Name
 * (present, 0 bytes), the Hash as a binary CIDv0 (the multihash) and the
 * Tsize; UnixFS fields in field order, without Data when it is empty (the
 * empty file is 0a 04 08 02 18 00). Any other byte changes the ids. */
#include "blob_fs.h"

#include <string.h>

#include <openssl/evp.h>

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };
enum { UNIXFS_RAW = 0, UNIXFS_FILE = 2 };

#define TAG(field, wire) ((uint8_t)((field) << 3 | (wire)))

void
blob_fs_sha256 (const void *data, size_t len, uint8_t out[BLOB_FS_DIGEST_LEN])
{
  unsigned n = 0;
  if (EVP_Digest (data, len, out, &n, EVP_sha256 (), NULL) != 1
      || n != BLOB_FS_DIGEST_LEN)
    g_error ("blob-fs: OpenSSL's SHA-256 failed");
}

/* ---- encoding ---------------------------------------------------------- */

static size_t
varint_len (uint64_t v)
{
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static void
put_varint (GByteArray *out, uint64_t v)
{
  uint8_t buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  buf[n++] = (uint8_t)v;
  g_byte_array_append (out, buf, (guint)n);
}

static void
put_byte (GByteArray *out, uint8_t b)
{
  g_byte_array_append (out, &b, 1);
}

void
blob_fs_encode_leaf (GByteArray *out, const void *bytes, size_t len)
{
  size_t ufs
      = 2 + (len > 0 ? 1 + varint_len (len) + len : 0) + 1 + varint_len (len);

  g_byte_array_set_size (out, 0);
  put_byte (out, TAG (1, WIRE_LEN)); /* PBNode.Data */
  put_varint (out, ufs);
  put_byte (out, TAG (1, WIRE_VARINT)); /* UnixFS.Type */
  put_byte (out, UNIXFS_FILE);
  if (len > 0) {
    put_byte (out, TAG (2, WIRE_LEN)); /* UnixFS.Data */
    put_varint (out, len);
    g_byte_array_append (out, bytes, (guint)len);
  }
  put_byte (out, TAG (3, WIRE_VARINT)); /* UnixFS.filesize */
  put_varint (out, len);
}

void
blob_fs_encode_inner (GByteArray *out, const BlobFsLink *links, size_t n_links,
                      uint64_t *filesize)
{
  uint64_t total = 0;
  size_t ufs = 2;

  g_byte_array_set_size (out, 0);
  for (size_t i = 0; i < n_links; i++) {
    size_t link_len
        = 2 + 2 + BLOB_FS_DIGEST_LEN + 2 + 1 + varint_len (links[i].tsize);
    put_byte (out, TAG (2, WIRE_LEN)); /* PBNode.Links */
    put_varint (out, link_len);
    put_byte (out, TAG (1, WIRE_LEN)); /* PBLink.Hash: the multihash */
    put_byte (out, 2 + BLOB_FS_DIGEST_LEN);
    put_byte (out, 0x12); /* sha2-256 */
    put_byte (out, BLOB_FS_DIGEST_LEN);
    g_byte_array_append (out, links[i].digest, BLOB_FS_DIGEST_LEN);
    put_byte (out, TAG (2, WIRE_LEN)); /* PBLink.Name: "" */
    put_byte (out, 0);
    put_byte (out, TAG (3, WIRE_VARINT)); /* PBLink.Tsize */
    put_varint (out, links[i].tsize);
    total += links[i].filesize;
    ufs += 1 + varint_len (links[i].filesize);
  }
  ufs += 1 + varint_len (total);

  put_byte (out, TAG (1, WIRE_LEN)); /* PBNode.Data */
  put_varint (out, ufs);
  put_byte (out, TAG (1, WIRE_VARINT)); /* UnixFS.Type */
  put_byte (out, UNIXFS_FILE);
  put_byte (out, TAG (3, WIRE_VARINT)); /* UnixFS.filesize */
  put_varint (out, total);
  for (size_t i = 0; i < n_links; i++) {
    put_byte (out, TAG (4, WIRE_VARINT)); /* UnixFS.blocksizes */
    put_varint (out, links[i].filesize);
  }
  *filesize = total;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
  const uint8_t *p, *end;
} Reader;

static gboolean fail (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT, msg);
  return FALSE;
}

static gboolean
get_varint (Reader *r, uint64_t *v)
{
  *v = 0;
  for (unsigned shift = 0; r->p < r->end && shift < 64; shift += 7) {
    uint8_t b = *r->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0)
      return TRUE;
  }
  return FALSE;
}

/* The next field's number and wire type; FALSE at a malformed key. */
static gboolean
get_key (Reader *r, unsigned *field, unsigned *wire)
{
  uint64_t key;
  if (!get_varint (r, &key) || key >> 3 == 0 || key >> 3 > G_MAXUINT32)
    return FALSE;
  *field = (unsigned)(key >> 3);
  *wire = (unsigned)(key & 7);
  return TRUE;
}

static gboolean
get_bytes (Reader *r, Reader *sub)
{
  uint64_t len;
  if (!get_varint (r, &len) || len > (uint64_t)(r->end - r->p))
    return FALSE;
  sub->p = r->p;
  sub->end = r->p + len;
  r->p += len;
  return TRUE;
}

static gboolean
skip (Reader *r, unsigned wire)
{
  uint64_t v;
  Reader sub;
  switch (wire) {
  case WIRE_VARINT:
    return get_varint (r, &v);
  case WIRE_LEN:
    return get_bytes (r, &sub);
  case WIRE_I64:
  case WIRE_I32: {
    size_t n = wire == WIRE_I64 ? 8 : 4;
    if ((size_t)(r->end - r->p) < n)
      return FALSE;
    r->p += n;
    return TRUE;
  }
  default:
    return FALSE;
  }
}

static gboolean
decode_link (Reader *r, guint index, BlobFsLink *link, GError **error)
{
  gboolean have_hash = FALSE;
  unsigned field, wire;

  memset (link, 0, sizeof *link);
  while (r->p < r->end) {
    Reader v;
    if (!get_key (r, &field, &wire))
      return fail (error, "link %u: malformed protobuf", index);
    if (field == 1 && wire == WIRE_LEN) {
      if (!get_bytes (r, &v))
        return fail (error, "link %u: truncated Hash", index);
      /* A binary CIDv0 (the multihash) or CIDv1 dag-pb. */
      static const uint8_t v1[] = { 0x01, 0x70 };
      if (v.end - v.p == 4 + BLOB_FS_DIGEST_LEN && memcmp (v.p, v1, 2) == 0)
        v.p += 2;
      if (v.end - v.p != 2 + BLOB_FS_DIGEST_LEN || v.p[0] != 0x12
          || v.p[1] != BLOB_FS_DIGEST_LEN)
        return fail (error, "link %u: Hash is not a sha2-256 dag-pb CID",
                     index);
      memcpy (link->digest, v.p + 2, BLOB_FS_DIGEST_LEN);
      have_hash = TRUE;
    } else if (field == 2 && wire == WIRE_LEN) {
      if (!get_bytes (r, &v))
        return fail (error, "link %u: truncated Name", index);
    } else if (field == 3 && wire == WIRE_VARINT) {
      if (!get_varint (r, &link->tsize))
        return fail (error, "link %u: truncated Tsize", index);
    } else {
      return fail (error, "link %u: unexpected field %u (wire type %u)", index,
                   field, wire);
    }
  }
  if (!have_hash)
    return fail (error, "link %u has no Hash", index);
  return TRUE;
}

/* UnixFS Data; sizes (the blocksizes) get appended in order. */
static gboolean
decode_unixfs (Reader *r, BlobFsNode *node, GArray *sizes,
               gboolean *have_filesize, GError **error)
{
  uint64_t type = G_MAXUINT64, v;
  unsigned field, wire;

  while (r->p < r->end) {
    Reader sub;
    if (!get_key (r, &field, &wire))
      return fail (error, "UnixFS: malformed protobuf");
    if (field == 1 && wire == WIRE_VARINT) {
      if (!get_varint (r, &type))
        return fail (error, "UnixFS: truncated Type");
    } else if (field == 2 && wire == WIRE_LEN) {
      if (!get_bytes (r, &sub))
        return fail (error, "UnixFS: truncated Data");
      node->data = sub.p;
      node->data_len = (size_t)(sub.end - sub.p);
    } else if (field == 3 && wire == WIRE_VARINT) {
      if (!get_varint (r, &node->filesize))
        return fail (error, "UnixFS: truncated filesize");
      *have_filesize = TRUE;
    } else if (field == 4 && wire == WIRE_VARINT) {
      if (!get_varint (r, &v))
        return fail (error, "UnixFS: truncated blocksizes");
      g_array_append_val (sizes, v);
    } else if (field == 4 && wire == WIRE_LEN) { /* packed */
      if (!get_bytes (r, &sub))
        return fail (error, "UnixFS: truncated blocksizes");
      while (sub.p < sub.end) {
        if (!get_varint (&sub, &v))
          return fail (error, "UnixFS: malformed packed blocksizes");
        g_array_append_val (sizes, v);
      }
    } else if (!skip (r, wire)) { /* hashType, fanout, mode, mtime, newer */
      return fail (error, "UnixFS: malformed field %u", field);
    }
  }
  if (type == G_MAXUINT64)
    return fail (error, "UnixFS: no Type");
  if (type != UNIXFS_FILE && type != UNIXFS_RAW)
    return fail (error,
                 "UnixFS Type %" G_GUINT64_FORMAT
                 " is not a file (File 2 or Raw 0)",
                 type);
  return TRUE;
}

gboolean
blob_fs_node_decode (const uint8_t *block, size_t len, BlobFsNode *node,
                     GError **error)
{
  Reader r = { block, block + len };
  g_autoptr (GArray) links = g_array_new (FALSE, FALSE, sizeof (BlobFsLink));
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  gboolean have_data = FALSE, have_filesize = FALSE;
  unsigned field, wire;

  memset (node, 0, sizeof *node);
  while (r.p < r.end) {
    Reader sub;
    if (!get_key (&r, &field, &wire) || wire != WIRE_LEN
        || !get_bytes (&r, &sub))
      return fail (error, "dag-pb: malformed protobuf");
    if (field == 2 && !have_data) {
      BlobFsLink link;
      if (!decode_link (&sub, links->len, &link, error))
        return FALSE;
      g_array_append_val (links, link);
    } else if (field == 1 && !have_data) {
      have_data = TRUE;
      if (!decode_unixfs (&sub, node, sizes, &have_filesize, error))
        return FALSE;
    } else {
      return fail (error,
                   "dag-pb: unexpected field %u (a PBNode is Links, then "
                   "one Data)",
                   field);
    }
  }
  if (!have_data)
    return fail (error, "dag-pb node without UnixFS Data");
  if (sizes->len != links->len)
    return fail (error, "%u links but %u UnixFS blocksizes", links->len,
                 sizes->len);

  uint64_t total = node->data_len;
  for (guint i = 0; i < links->len; i++) {
    uint64_t bs = g_array_index (sizes, uint64_t, i);
    g_array_index (links, BlobFsLink, i).filesize = bs;
    if (__builtin_add_overflow (total, bs, &total))
      return fail (error, "UnixFS blocksizes overflow 64 bits");
  }
  if (have_filesize && node->filesize != total)
    return fail (error,
                 "UnixFS filesize %" G_GUINT64_FORMAT
                 " but data and blocksizes add up to %" G_GUINT64_FORMAT,
                 node->filesize, total);
  node->filesize = total;
  if (links->len > 0)
    node->links = g_steal_pointer (&links);
  return TRUE;
}

void
blob_fs_node_clear (BlobFsNode *node)
{
  g_clear_pointer (&node->links, g_array_unref);
  memset (node, 0, sizeof *node);
}

/* Fuzz target: blob-fs's CIDs and UnixFS nodes (plugins/blob-fs/cid.c,
 * unixfs.c), the code that reads blob ids from URLs and dag-pb blocks
 * from disk or from an IPFS daemon (blob-ipfs links the same files).
 *
 * The first byte picks:
 *   0: CID text. On success both spellings of the digest parse back to it,
 *      and so does the upper-case base32 one.
 *   1: a dag-pb block. On success the node's own encoding (a leaf of its
 *      data, or an inner node of its links) decodes to the same node. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_fs.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_cid (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *)data, size);
  uint8_t digest[BLOB_FS_DIGEST_LEN], again[BLOB_FS_DIGEST_LEN];
  g_autoptr (GError) error = NULL;

  if (!blob_fs_cid_parse (text, digest, &error)) {
    CHECK (error != NULL);
    return;
  }
  g_autofree char *v0 = blob_fs_cid_v0 (digest);
  g_autofree char *v1 = blob_fs_cid_v1 (digest);
  CHECK (blob_fs_cid_parse (v0, again, NULL)
         && memcmp (again, digest, sizeof digest) == 0);
  CHECK (blob_fs_cid_parse (v1, again, NULL)
         && memcmp (again, digest, sizeof digest) == 0);
  g_autofree char *upper = g_ascii_strup (v1, -1);
  CHECK (blob_fs_cid_parse (upper, again, NULL)
         && memcmp (again, digest, sizeof digest) == 0);
  g_autofree char *key = blob_fs_block_key (digest);
  CHECK (key != NULL && *key != '\0');
}

static void
fuzz_node (const uint8_t *data, size_t size)
{
  BlobFsNode node = { 0 }, back = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) enc = g_byte_array_new ();

  if (!blob_fs_node_decode (data, size, &node, &error)) {
    CHECK (error != NULL);
    blob_fs_node_clear (&node);
    return;
  }
  if (node.links == NULL || node.links->len == 0) {
    blob_fs_encode_leaf (enc, node.data, node.data_len);
    CHECK (blob_fs_node_decode (enc->data, enc->len, &back, NULL));
    CHECK (back.data_len == node.data_len
           && (node.data_len == 0
               || memcmp (back.data, node.data, node.data_len) == 0));
  } else if (node.data_len == 0) {
    uint64_t filesize = 0;
    blob_fs_encode_inner (enc, (const BlobFsLink *)node.links->data,
                          node.links->len, &filesize);
    CHECK (filesize == node.filesize);
    CHECK (blob_fs_node_decode (enc->data, enc->len, &back, NULL));
    CHECK (back.filesize == node.filesize && back.links != NULL
           && back.links->len == node.links->len
           && memcmp (back.links->data, node.links->data,
                      node.links->len * sizeof (BlobFsLink))
                  == 0);
  }
  blob_fs_node_clear (&back);
  blob_fs_node_clear (&node);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  if (data[0] % 2 == 0)
    fuzz_cid (data + 1, size - 1);
  else
    fuzz_node (data + 1, size - 1);
  return 0;
}

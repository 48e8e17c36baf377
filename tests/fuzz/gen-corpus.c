/* Writes the seed corpora of tests/fuzz (corpus/<target>/<name>) from real
 * objects made by the real code: txs signed with the unit tests' fixed key,
 * blocks, pos messages and certificates, P2P frames and a node
 * certificate, CIDs and UnixFS nodes, descriptors. Deterministic (Ed25519
 * signatures are), so a rerun gives the same files:
 *
 *   build-fuzz/tests/fuzz/gen-corpus tests/fuzz/corpus
 *
 * Config, genesis and plugin tx body seeds are text, written here too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <openssl/x509.h>

#include <cairn/plugin.h>

#include "blob_fs.h"
#include "block.h"
#include "cjson.h"
#include "engine.h"
#include "fixed-key.h"
#include "p2p_cert.h"
#include "tx.h"

static const char *outdir;

static void
put (const char *target, const char *name, const void *data, size_t len)
{
  g_autofree char *dir = g_build_filename (outdir, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    g_error ("mkdir %s: %s", dir, g_strerror (errno));
  if (!g_file_set_contents (path, data, (gssize)len, &error))
    g_error ("%s", error->message);
}

/* mode byte + bytes */
static void
put_mode (const char *target, const char *name, guint8 mode, const void *data,
          size_t len)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_byte_array_append (b, &mode, 1);
  g_byte_array_append (b, data, (guint)len);
  put (target, name, b->data, b->len);
}

static void
put_text (const char *target, const char *name, const char *text)
{
  put (target, name, text, strlen (text));
}

static CairnTx *
sign (CairnKey *key, const char *chain, const char *type, uint64_t nonce,
      const char *body)
{
  g_autoptr (json_t) b = cairn_cjson_parse (body, strlen (body), FALSE, NULL);
  g_autoptr (GError) error = NULL;
  CairnTx *tx = cairn_tx_sign (key, chain, type, nonce, b, &error);
  g_assert_no_error (error);
  return tx;
}

static void
wr (GByteArray *b, uint64_t v, int n)
{
  for (int i = n - 1; i >= 0; i--) {
    guint8 c = (guint8)(v >> (8 * i));
    g_byte_array_append (b, &c, 1);
  }
}

static void
ledger_seeds (CairnKey *key, CairnTx **out_txs)
{
  const char *addr = cairn_key_address (key);
  g_autofree char *body = g_strdup_printf (
      "{\"amount\":5,\"denom\":\"cairn\",\"to\":\"%s\"}", addr);
  CairnTx *t0 = sign (key, "dev", "bank.transfer", 0, body);
  CairnTx *t1 = sign (key, "dev", "groups.publish", 7,
                      "{\"group\":\"g1\",\"payload\":\"aGVsbG8=\","
                      "\"tags\":[\"a\",\"b\\n\\u0001\"],\"n\":-3}");
  CairnTx *t2 = sign (key, "prod", "im.send", 1, "{}");

  out_txs[0] = t0;
  out_txs[1] = t1;
  out_txs[2] = t2;
  put ("tx", "transfer", t0->bytes, t0->len);
  put ("tx", "publish", t1->bytes, t1->len);
  put ("tx", "other-chain", t2->bytes, t2->len);

  put ("cjson", "tx", t1->bytes, t1->len);
  put_text ("cjson", "pretty",
            "{ \"b\": [1, -2, 9223372036854775807],\n"
            "  \"a\": {\"\\u00e9\\/x\": null, \"t\": true},"
            " \"s\": \"caf\xc3\xa9 \\\"q\\\" \\t\" }\n");
  put_text ("cjson", "nested", "[[[[{\"k\":[[]]}]]],{},\"\",0,-0,false]");
  put_text ("cjson", "scalar", "\"\\ud83d\\ude00\"");

  /* http: a lone tx, a batch, core routes, ranges. */
  put_mode ("http", "txs-single", 0, t0->bytes, t0->len);
  g_autofree char *batch
      = g_strdup_printf ("[%s,%s,{\"x\":1}]", t0->bytes, t1->bytes);
  put_mode ("http", "txs-batch", 0, batch, strlen (batch));
  put_mode ("http", "txs-not-array", 0, "{}", 2);
  static const char *const targets[] = {
    "/v1/blocks/12",
    "/v1/blocks/latest",
    "/v1/state/bank/balance/abc?height=3",
    "/v1/state/x/y?height=latest&z=%41",
    "/v1/events?types=bank.,block",
  };
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++) {
    g_autofree char *name = g_strdup_printf ("target-%u", i);
    put_mode ("http", name, 1, targets[i], strlen (targets[i]));
  }
  static const char *const ranges[]
      = { "bytes=0-99", "bytes=-5", "bytes=10-", " bytes=3-2, 5-9" };
  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++) {
    g_autoptr (GByteArray) b = g_byte_array_new ();
    g_autofree char *name = g_strdup_printf ("range-%u", i);
    wr (b, 1000, 8);
    g_byte_array_append (b, (const guint8 *)ranges[i], strlen (ranges[i]));
    put_mode ("http", name, 2, b->data, b->len);
  }
}

static void
block_seeds (CairnKey *key, CairnTx **txs)
{
  g_autoptr (GError) error = NULL;
  const char *zeros
      = "0000000000000000000000000000000000000000000000000000000000000000";
  const char *root
      = "1111111111111111111111111111111111111111111111111111111111111111";
  g_autoptr (json_t) consensus
      = json_pack ("{s:s,s:i}", "engine", "pos", "round", 0);
  g_autoptr (CairnBlockData) b0 = cairn_block_new (
      "dev", 0, zeros, 1767225600000, "", root, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  g_autoptr (CairnBlockData) b1 = cairn_block_new (
      "dev", 7, b0->hash_hex, 1767225601000, cairn_key_address (key), root,
      consensus, txs, 2, &error);
  g_assert_no_error (error);
  b1->certificate = json_pack ("{s:s,s:i}", "pos", "00", "round", 1);
  size_t len;
  g_autofree char *e0 = cairn_block_encode (b0, FALSE, &len, &error);
  put_mode ("block", "genesis-block", 0, e0, len);
  g_autofree char *e1 = cairn_block_encode (b1, TRUE, &len, &error);
  put_mode ("block", "block-2-txs-cert", 0, e1, len);
  put_mode ("p2p", "frame-block", 0, "", 0); /* replaced below */

  /* pos: proposal (with the block), votes, decision, certificate. */
  PosMsg m = { 0 };
  m.kind = POS_MSG_PROPOSAL;
  m.height = 7;
  m.round = 1;
  m.pol_round = -1;
  memcpy (m.block_id, b1->hash, 32);
  memset (m.signer, 1, 20);
  memset (m.sig, 0xab, 64);
  m.block = (const uint8_t *)e1;
  m.block_len = len;
  g_autoptr (GBytes) prop = pos_msg_encode (&m);
  put_mode ("block", "pos-proposal", 1, g_bytes_get_data (prop, NULL),
            g_bytes_get_size (prop));
  m.block = NULL;
  m.block_len = 0;
  m.kind = POS_MSG_PREVOTE;
  g_autoptr (GBytes) prevote = pos_msg_encode (&m);
  put_mode ("block", "pos-prevote", 1, g_bytes_get_data (prevote, NULL),
            g_bytes_get_size (prevote));
  m.kind = POS_MSG_PRECOMMIT;
  m.nil = TRUE;
  memset (m.block_id, 0, 32);
  g_autoptr (GBytes) nilvote = pos_msg_encode (&m);
  put_mode ("block", "pos-precommit-nil", 1, g_bytes_get_data (nilvote, NULL),
            g_bytes_get_size (nilvote));

  /* A certificate: version, height, round, block id, count, then (raw
   * address, signature) ascending; signers 0x01.. and 0x03.. of the fuzz
   * target's fixed set. */
  g_autoptr (GByteArray) cert = g_byte_array_new ();
  wr (cert, POS_WIRE_VERSION, 1);
  wr (cert, 7, 8);
  wr (cert, 1, 4);
  g_byte_array_append (cert, b1->hash, 32);
  wr (cert, 3, 2);
  for (int s = 1; s <= 4; s++) {
    guint8 a[20], sig[64];
    if (s == 2)
      continue;
    memset (a, s, 20);
    memset (sig, 0x5a, 64);
    g_byte_array_append (cert, a, 20);
    g_byte_array_append (cert, sig, 64);
  }
  put_mode ("block", "pos-certificate", 2, cert->data, cert->len);

  m.kind = POS_MSG_DECISION;
  m.nil = FALSE;
  memcpy (m.block_id, b1->hash, 32);
  m.block = (const uint8_t *)e1;
  m.block_len = len;
  m.cert = cert->data;
  m.cert_len = cert->len;
  g_autoptr (GBytes) decision = pos_msg_encode (&m);
  put_mode ("block", "pos-decision", 1, g_bytes_get_data (decision, NULL),
            g_bytes_get_size (decision));

  /* Evidence: two conflicting prevotes of validator 0x01... */
  PosMsg v = { 0 };
  v.kind = POS_MSG_PREVOTE;
  v.height = 7;
  v.round = 1;
  memset (v.signer, 1, 20);
  memset (v.block_id, 0x11, 32);
  g_autoptr (GBytes) va = pos_msg_encode (&v);
  memset (v.block_id, 0x22, 32);
  g_autoptr (GBytes) vb = pos_msg_encode (&v);
  g_autoptr (GByteArray) ev = g_byte_array_new ();
  wr (ev, g_bytes_get_size (va), 4);
  g_byte_array_append (ev, g_bytes_get_data (va, NULL),
                       (guint)g_bytes_get_size (va));
  wr (ev, g_bytes_get_size (vb), 4);
  g_byte_array_append (ev, g_bytes_get_data (vb, NULL),
                       (guint)g_bytes_get_size (vb));
  put_mode ("block", "pos-evidence", 3, ev->data, ev->len);

  /* p2p: frames as the transport sends them, cut in 7-byte reads. */
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  guint8 chunk = 6;
  g_byte_array_append (frames, &chunk, 1);
  wr (frames, txs[0]->len + 1, 4);
  wr (frames, 1, 1);
  g_byte_array_append (frames, (const guint8 *)txs[0]->bytes,
                       (guint)txs[0]->len);
  wr (frames, g_bytes_get_size (prevote) + 1, 4);
  wr (frames, 3, 1);
  g_byte_array_append (frames, g_bytes_get_data (prevote, NULL),
                       (guint)g_bytes_get_size (prevote));
  wr (frames, 1, 4);
  wr (frames, 5, 1);
  put_mode ("p2p", "frame-block", 0, frames->data, frames->len);
  put_mode ("p2p", "frame-empty", 0, "\x3f\0\0\0\0", 5);
  put_mode ("p2p", "frame-bad-channel", 0, "\0\0\0\0\2\x09x", 7);
}

static void
p2p_seeds (CairnKey *key)
{
  g_autoptr (GError) error = NULL;
  SSL_CTX *ctx = cairn_p2p_ssl_ctx_new (key, NULL, &error);
  g_assert_no_error (error);
  X509 *cert = SSL_CTX_get0_certificate (ctx);
  unsigned char *der = NULL;
  int n = i2d_X509 (cert, &der);
  g_assert_cmpint (n, >, 0);
  put_mode ("p2p", "node-cert", 1, der, (size_t)n);
  OPENSSL_free (der);
  SSL_CTX_free (ctx);
  g_autofree char *a
      = g_strdup_printf ("%s@127.0.0.1:7710", cairn_key_address (key));
  put_mode ("p2p", "addr-v4", 2, a, strlen (a));
  g_autofree char *b
      = g_strdup_printf ("%s@[::1]:7711", cairn_key_address (key));
  put_mode ("p2p", "addr-v6", 2, b, strlen (b));
  put_mode ("p2p", "addr-name", 2, "ab@node-1.example:1", 19);
}

static void
cid_seeds (void)
{
  uint8_t d[32];
  g_autoptr (GByteArray) leaf = g_byte_array_new ();
  g_autoptr (GByteArray) inner = g_byte_array_new ();
  BlobFsLink links[2];
  uint64_t filesize;

  blob_fs_encode_leaf (leaf, "hello, fuzz\n", 12);
  blob_fs_sha256 (leaf->data, leaf->len, d);
  g_autofree char *v0 = blob_fs_cid_v0 (d);
  g_autofree char *v1 = blob_fs_cid_v1 (d);
  put_mode ("cid", "cid-v0", 0, v0, strlen (v0));
  put_mode ("cid", "cid-v1", 0, v1, strlen (v1));
  g_autofree char *up = g_ascii_strup (v1, -1);
  put_mode ("cid", "cid-v1-upper", 0, up, strlen (up));
  put_mode ("cid", "leaf", 1, leaf->data, leaf->len);
  for (int i = 0; i < 2; i++) {
    memcpy (links[i].digest, d, 32);
    links[i].tsize = leaf->len;
    links[i].filesize = 12;
  }
  blob_fs_encode_inner (inner, links, 2, &filesize);
  put_mode ("cid", "inner", 1, inner->data, inner->len);
  blob_fs_encode_leaf (leaf, "", 0);
  put_mode ("cid", "empty-file", 1, leaf->data, leaf->len);
}

static void
descriptor_seeds (void)
{
  /* See fuzz-descriptor.c for the layout. */
  static const struct {
    const char *name;
    guint8 flags;
    uint32_t kinds;
    const char *strings; /* NUL-separated, services last */
    size_t len;
    guint8 n_prov, n_req;
  } seeds[] = {
#define S(lit) lit, sizeof (lit) - 1
    { "bank", 0x3f, 16,
      S ("bank\0"
         "0.1.0\0"
         "Cairn\0"
         "Apache-2.0\0"
         "d\0"
         "\x01"
         "cairn.bank\0"
         "\x01"
         "cairn.clock"),
      1, 1 },
    { "no-lists", 0x0f, 1,
      S ("solo\0"
         "1\0"
         "\0"
         "\0"),
      0, 0 },
    { "reserved-id", 0x0f, 1,
      S ("p2p\0"
         "1\0"
         "\0"
         "\0"),
      0, 0 },
    { "bad-service", 0x1f, 2,
      S ("x\0"
         "1\0"
         "\0"
         "\0"
         "\0"
         "\0"),
      2, 0 },
#undef S
  };
  for (guint i = 0; i < G_N_ELEMENTS (seeds); i++) {
    g_autoptr (GByteArray) b = g_byte_array_new ();
    g_byte_array_append (b, &seeds[i].flags, 1);
    wr (b, CAIRN_PLUGIN_MAGIC, 4);
    wr (b, sizeof (CairnPluginDescriptor), 4);
    wr (b, CAIRN_ABI_MAJOR, 2);
    wr (b, 0, 2);
    wr (b, CAIRN_ABI_MINOR, 2);
    wr (b, CAIRN_BUILD_FINGERPRINT, 8);
    wr (b, seeds[i].kinds, 4);
    wr (b, seeds[i].n_prov, 1);
    wr (b, seeds[i].n_req, 1);
    g_byte_array_append (b, (const guint8 *)seeds[i].strings,
                         (guint)seeds[i].len);
    put ("descriptor", seeds[i].name, b->data, b->len);
  }
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  outdir = argv[1];
  g_autoptr (CairnKey) key = test_load_fixed_key ();
  CairnTx *txs[3];

  ledger_seeds (key, txs);
  block_seeds (key, txs);
  p2p_seeds (key);
  cid_seeds ();
  descriptor_seeds ();
  for (int i = 0; i < 3; i++)
    cairn_tx_unref (txs[i]);
  return 0;
}

/* blob-ipfs against a real IPFS daemon (js-ipfs, started by the test; see
 * ipfsd.h), with the SDK's blob store conformance suite
 * (libcairn-sdk-testing-1, <cairn/testing/blob.h>; test-blob-fs runs it on
 * blob-fs).
 *
 *   /blob-store/blob-ipfs/...   the suite on blob-ipfs
 *   /blob-ipfs/same-ids         blob-fs and blob-ipfs give the same CIDs;
 *                               a blob moved from one to the other keeps
 *                               its id; the daemon has it pinned
 *   /blob-ipfs/add-params       what add is asked (CIDv0 importer
 *                               settings, pin); pin = false
 *   /blob-ipfs/reads            which calls a read makes: leaves from one
 *                               /cat, inner nodes from /block/get, a range
 *                               fetches only its leaves; offline, timeout
 *   /blob-ipfs/wrong-bytes      a daemon flipping a byte of /cat or of
 *                               /block/get, or cutting /cat short: the read
 *                               fails, naming the blob and the daemon, after
 *                               exactly the good leaves before; never a
 *                               wrong byte
 *   /blob-ipfs/wrong-cid        a daemon answering add with another CID,
 *                               and one adding with other settings: refused,
 *                               its pin removed
 *   /blob-ipfs/daemon-down      every call fails naming the URL; init logs
 *   /blob-ipfs/killed           the daemon SIGKILLed during a put (clear
 *                               error, no CID, the blob is not there after a
 *                               restart) and during a read (an error after
 *                               good bytes only)
 *   /blob-ipfs/config           defaults, every key, bad values
 *   /blob-ipfs/memory           128 MiB put and read in bounded memory
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <cairn/testing/testing.h>

#include "ipfsd.h"
#include "proxy.h"

#define CHUNK ((uint64_t)262144)

const CairnPluginDescriptor *cairn_plugin_descriptor_blob_fs (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_blob_ipfs (void);

#ifdef __SANITIZE_ADDRESS__
/* Freed buffers wait in ASan's quarantine (256 MiB by default), which
 * would count as this process's memory in /blob-ipfs/memory. */
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "quarantine_size_mb=16";
}
#endif

/* The shared daemon's API URL (the parent starts it; subprocesses of
 * g_test_trap_subprocess find it in the environment). */
static const char *api_url;

static CairnTestBlobBackend *
start_ipfs (const char *url, GError **error, const char *k1, const char *v1)
{
  /* A temporary data dir, removed with the backend. */
  return cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_ipfs, NULL, error, "api_url", url,
      "lookup_timeout_ms", "500", k1, v1, NULL);
}

static CairnTestBlobBackend *
open_ipfs (void *data)
{
  g_autoptr (GError) error = NULL;
  CairnTestBlobBackend *b = start_ipfs (api_url, &error, NULL, NULL);
  g_assert_no_error (error);
  return b;
}

static CairnTestBlobBackend *
open_fs (void *data)
{
  g_autoptr (GError) error = NULL;
  CairnTestBlobBackend *b = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_fs, NULL, &error, "sync", "false", NULL);
  g_assert_no_error (error);
  return b;
}

static void
assert_contains (const char *text, const char *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("'%s' does not contain '%s'", text, needle);
}

/* The daemon's recursive pins, as one string. */
static char *
pins (const char *url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = ipfsd_call (url, "pin/ls", "type=recursive", &error);
  g_assert_no_error (error);
  return g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
}

static gboolean
pinned (const char *url, const char *cid)
{
  g_autofree char *query = g_strdup_printf ("arg=%s", cid);
  g_autoptr (GBytes) b = ipfsd_call (url, "pin/ls", query, NULL);
  return b != NULL;
}

/* ---- same ids --------------------------------------------------------- */

static void
test_same_ids (void)
{
  static const uint64_t sizes[]
      = { 0, 1, CHUNK - 1, CHUNK + 1, 174 * CHUNK + 1, 3u << 20 };
  g_autoptr (CairnTestBlobBackend) fs = open_fs (NULL);
  g_autoptr (CairnTestBlobBackend) ipfs = open_ipfs (NULL);

  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autofree char *a = cairn_test_blob_put_gen (fs, 700 + i, sizes[i]);
    g_autofree char *b = cairn_test_blob_put_gen (ipfs, 700 + i, sizes[i]);
    g_assert_cmpstr (a, ==, b);
    g_assert_true (pinned (api_url, b));
  }

  /* A blob moved from blob-fs to blob-ipfs (a stream from one into the
   * other) keeps its id, and back. */
  g_autofree char *src = cairn_test_blob_put_gen (fs, 710, 7 * CHUNK + 3);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (fs, src, 0, UINT64_MAX, &error);
  g_assert_no_error (error);
  g_autofree char *moved = cairn_test_blob_put (ipfs, in, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (moved, ==, src);
  g_autoptr (CairnTestBlobBackend) fs2 = open_fs (NULL);
  g_autoptr (GInputStream) in2
      = cairn_test_blob_get (ipfs, moved, 0, UINT64_MAX, &error);
  g_assert_no_error (error);
  g_autofree char *back = cairn_test_blob_put (fs2, in2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back, ==, src);
}

/* ---- what add is asked ------------------------------------------------ */

static void
test_add_params (void)
{
  g_autoptr (Proxy) p = proxy_start (api_url);
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (CairnTestBlobBackend) b
        = start_ipfs (proxy_url (p), &error, NULL, NULL);
    g_assert_no_error (error);
    g_autofree char *cid = cairn_test_blob_put_gen (b, 720, CHUNK + 9);
    g_autofree char *q = proxy_last_query (p, "add");
    g_auto (GStrv) params = g_strsplit (q, "&", -1);
    static const char *const want[]
        = { "cid-version=0", "raw-leaves=false", "chunker=size-262144",
            "hash=sha2-256", "trickle=false",    "pin=true" };
    for (size_t i = 0; i < G_N_ELEMENTS (want); i++)
      g_assert_true (g_strv_contains ((const char *const *)params, want[i]));
    g_assert_true (pinned (api_url, cid));
  }
  {
    g_autoptr (CairnTestBlobBackend) b
        = start_ipfs (proxy_url (p), &error, "pin", "false");
    g_assert_no_error (error);
    g_autofree char *cid = cairn_test_blob_put_gen (b, 721, CHUNK + 9);
    g_autofree char *q = proxy_last_query (p, "add");
    assert_contains (q, "pin=false");
    g_assert_false (pinned (api_url, cid));
    /* Unpinned is still stored (until the daemon collects garbage). */
    uint64_t good = 0;
    g_assert_true (cairn_test_blob_check_gen (b, cid, 721, CHUNK + 9, 0,
                                              UINT64_MAX, &good, &error));
    g_assert_no_error (error);
  }
}

/* ---- which calls a read makes ------------------------------------------ */

static void
test_reads (void)
{
  g_autoptr (Proxy) p = proxy_start (api_url);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) b
      = start_ipfs (proxy_url (p), &error, NULL, NULL);
  g_assert_no_error (error);
  const uint64_t small = 3 * CHUNK + 17, big = 177 * CHUNK + 5;
  g_autofree char *c1 = cairn_test_blob_put_gen (b, 730, small);
  g_autofree char *c2 = cairn_test_blob_put_gen (b, 731, big);
  uint64_t size, good;

  /* stat: the root only. */
  proxy_reset_counts (p);
  g_assert_true (cairn_test_blob_stat (b, c2, &size, &error));
  g_assert_cmpuint (size, ==, big);
  g_assert_cmpuint (proxy_calls (p, "block/get"), ==, 1);
  g_assert_cmpuint (proxy_calls (p, "cat"), ==, 0);
  g_autofree char *q = proxy_last_query (p, "block/get");
  assert_contains (q, "timeout=500ms");
  assert_contains (q, "offline=true");

  /* A whole one-level blob: the root, then one /cat of every byte. */
  proxy_reset_counts (p);
  g_assert_true (cairn_test_blob_check_gen (b, c1, 730, small, 0, UINT64_MAX,
                                            &good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (proxy_calls (p, "block/get"), ==, 1);
  g_assert_cmpuint (proxy_calls (p, "cat"), ==, 1);
  g_assert_cmpuint (proxy_bytes (p, "cat"), ==, small);

  /* A range inside one leaf of a two-level blob: root, one inner node,
   * and that leaf. */
  proxy_reset_counts (p);
  g_assert_true (cairn_test_blob_check_gen (b, c2, 731, big, 175 * CHUNK + 10,
                                            100, &good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (proxy_calls (p, "block/get"), ==, 2);
  g_assert_cmpuint (proxy_calls (p, "cat"), ==, 1);
  g_assert_cmpuint (proxy_bytes (p, "cat"), ==, CHUNK);
  g_free (q);
  q = proxy_last_query (p, "cat");
  g_autofree char *want
      = g_strdup_printf ("offset=%" G_GUINT64_FORMAT, 175 * CHUNK);
  assert_contains (q, want);

  /* Across the two subtrees: both inner nodes, two leaves. */
  proxy_reset_counts (p);
  g_assert_true (cairn_test_blob_check_gen (b, c2, 731, big, 174 * CHUNK - 5,
                                            10, &good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (proxy_calls (p, "block/get"), ==, 3);
  g_assert_cmpuint (proxy_bytes (p, "cat"), ==, 2 * CHUNK);

  /* A whole two-level blob: three blocks and one /cat. */
  proxy_reset_counts (p);
  g_assert_true (cairn_test_blob_check_gen (b, c2, 731, big, 0, UINT64_MAX,
                                            &good, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (proxy_calls (p, "block/get"), ==, 3);
  g_assert_cmpuint (proxy_calls (p, "cat"), ==, 1);
  g_assert_cmpuint (proxy_bytes (p, "cat"), ==, big);

  /* offline = false: no offline=true. */
  g_autoptr (CairnTestBlobBackend) online
      = start_ipfs (proxy_url (p), &error, "offline", "false");
  g_assert_no_error (error);
  g_assert_true (cairn_test_blob_stat (online, c1, &size, &error));
  g_free (q);
  q = proxy_last_query (p, "block/get");
  g_assert_null (strstr (q, "offline"));
}

/* ---- a lying daemon ---------------------------------------------------- */

static void
test_wrong_bytes (void)
{
  g_autoptr (Proxy) p = proxy_start (api_url);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) b
      = start_ipfs (proxy_url (p), &error, NULL, NULL);
  g_assert_no_error (error);
  const uint64_t size = 5 * CHUNK + 17;
  g_autofree char *cid = cairn_test_blob_put_gen (b, 740, size);
  uint64_t good = 0, got;

  /* A byte of the second leaf flipped: the first leaf comes, then the
   * error; not one byte of the second. */
  proxy_set_mode (p, PROXY_FLIP_CAT, CHUNK + 1000);
  g_assert_false (cairn_test_blob_check_gen (b, cid, 740, size, 0, UINT64_MAX,
                                             &good, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_assert_cmpuint (good, ==, CHUNK);
  assert_contains (error->message, "wrong bytes");
  assert_contains (error->message, cid);
  assert_contains (error->message, proxy_url (p));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* A range inside the third leaf, its byte 100 flipped: nothing. */
  proxy_set_mode (p, PROXY_FLIP_CAT, 100);
  g_assert_false (cairn_test_blob_check_gen (b, cid, 740, size, 2 * CHUNK + 50,
                                             1000, &good, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_assert_cmpuint (good, ==, 0);
  g_clear_error (&error);

  /* The last byte of the blob flipped. */
  proxy_set_mode (p, PROXY_FLIP_CAT, size - 1);
  g_assert_false (cairn_test_blob_check_gen (b, cid, 740, size, 0, UINT64_MAX,
                                             &good, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_assert_cmpuint (good, ==, 5 * CHUNK);
  g_clear_error (&error);

  /* /cat cut short: an I/O error saying where, after the good leaves. */
  proxy_set_mode (p, PROXY_SHORT_CAT, 2 * CHUNK + 5);
  g_assert_false (cairn_test_blob_check_gen (b, cid, 740, size, 0, UINT64_MAX,
                                             &good, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  g_assert_cmpuint (good, ==, 2 * CHUNK);
  assert_contains (error->message, "ended at byte");
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* A flipped root block: get and stat fail at once. */
  proxy_set_mode (p, PROXY_FLIP_BLOCK, 10);
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, cid, 0, UINT64_MAX, &error);
  g_assert_null (in);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  assert_contains (error->message, "wrong bytes for block");
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (cairn_test_blob_stat (b, cid, &got, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_clear_error (&error);

  /* An inner node flipped (two levels; the root fetched before the flip). */
  proxy_set_mode (p, PROXY_PASS, 0);
  const uint64_t big = 175 * CHUNK + 1;
  g_autofree char *c2 = cairn_test_blob_put_gen (b, 741, big);
  g_autoptr (GInputStream) in2
      = cairn_test_blob_get (b, c2, 0, UINT64_MAX, &error);
  g_assert_no_error (error);
  proxy_set_mode (p, PROXY_FLIP_BLOCK, 10);
  guint8 buf[100];
  g_assert_cmpint (g_input_stream_read (in2, buf, sizeof buf, NULL, &error), ==,
                   -1);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_clear_error (&error);
  /* The stream stays failed. */
  g_assert_cmpint (g_input_stream_read (in2, buf, sizeof buf, NULL, &error), ==,
                   -1);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  g_clear_error (&error);

  /* An honest daemon again: all is well. */
  proxy_set_mode (p, PROXY_PASS, 0);
  g_assert_true (cairn_test_blob_check_gen (b, cid, 740, size, 0, UINT64_MAX,
                                            &good, &error));
  g_assert_no_error (error);
}

static void
test_wrong_cid (void)
{
  g_autoptr (Proxy) p = proxy_start (api_url);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) b
      = start_ipfs (proxy_url (p), &error, NULL, NULL);
  g_assert_no_error (error);
  g_autofree char *v1 = NULL;
  char *cid = NULL;

  /* Another file's CID. */
  cairn_test_blob_ipfs_cid_of_gen (750, 2 * CHUNK, &v1, NULL);
  proxy_set_mode (p, PROXY_WRONG_HASH, 0);
  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (750, 2 * CHUNK);
  g_assert_false (cairn_test_blob_backend_iface (b)->put (
      cairn_test_blob_backend_self (b), in, &cid, NULL, &error));
  g_assert_null (cid);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  assert_contains (error->message,
                   "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
  assert_contains (error->message, v1);
  assert_contains (error->message, "refused");
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* A daemon that adds with raw leaves and CIDv1: a different DAG, whose
   * pin is removed again. */
  g_autofree char *before = pins (api_url);
  proxy_set_mode (p, PROXY_RAW_LEAVES, 0);
  g_autoptr (GInputStream) in2 = cairn_test_gen_stream_new (751, 3 * CHUNK);
  g_assert_false (cairn_test_blob_backend_iface (b)->put (
      cairn_test_blob_backend_self (b), in2, &cid, NULL, &error));
  g_assert_null (cid);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT);
  assert_contains (error->message, "unpinned it");
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_autofree char *after = pins (api_url);
  g_assert_cmpstr (before, ==, after);
}

/* ---- no daemon --------------------------------------------------------- */

static void
test_daemon_down (void)
{
  g_autoptr (GSocket) s = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo
      = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, NULL);
  /* Bound, not listening: connections are refused. */
  g_autofree char *url = g_strdup_printf (
      "http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnTestBlobBackend) b = start_ipfs (url, &error, NULL, NULL);
  g_assert_no_error (error);
  g_assert_true (
      cairn_test_blob_backend_logged (b, "blobs fail until the daemon"));
  g_autofree char *absent = NULL;
  cairn_test_blob_ipfs_cid_of_gen (760, 10, &absent, NULL);
  uint64_t size;

  g_autoptr (GInputStream) in = cairn_test_gen_stream_new (760, 3 * CHUNK);
  g_assert_null (cairn_test_blob_put (b, in, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  assert_contains (error->message, url);
  assert_contains (error->message, "cannot reach");
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (cairn_test_blob_stat (b, absent, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  assert_contains (error->message, url);
  g_clear_error (&error);
  g_autoptr (GInputStream) got
      = cairn_test_blob_get (b, absent, 0, UINT64_MAX, &error);
  g_assert_null (got);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  assert_contains (error->message, url);
}

/* ---- the daemon killed ------------------------------------------------- */

/* A generated stream that SIGKILLs a process when it reaches byte `at`. */
#define TEST_TYPE_KILL_STREAM (test_kill_stream_get_type ())
G_DECLARE_FINAL_TYPE (TestKillStream, test_kill_stream, TEST, KILL_STREAM,
                      GInputStream)

struct _TestKillStream {
  GInputStream parent;
  GInputStream *gen;
  uint64_t pos, at;
  GPid victim;
};

G_DEFINE_FINAL_TYPE (TestKillStream, test_kill_stream, G_TYPE_INPUT_STREAM)

static gssize
kill_read (GInputStream *stream, void *buffer, gsize count,
           GCancellable *cancellable, GError **error)
{
  TestKillStream *self = TEST_KILL_STREAM (stream);
  if (self->pos >= self->at && self->victim != 0) {
    kill (self->victim, SIGKILL);
    self->victim = 0;
  }
  gssize n = g_input_stream_read (self->gen, buffer, count, cancellable, error);
  if (n > 0)
    self->pos += (uint64_t)n;
  return n;
}

static void
kill_finalize (GObject *object)
{
  g_object_unref (TEST_KILL_STREAM (object)->gen);
  G_OBJECT_CLASS (test_kill_stream_parent_class)->finalize (object);
}

static void
test_kill_stream_class_init (TestKillStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kill_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = kill_read;
}

static void
test_kill_stream_init (TestKillStream *self)
{
}

static void
test_killed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Ipfsd) d = ipfsd_start (&error);
  g_assert_no_error (error);
  g_autoptr (CairnTestBlobBackend) b
      = start_ipfs (ipfsd_api_url (d), &error, NULL, NULL);
  g_assert_no_error (error);
  g_autoptr (CairnTestBlobBackend) fs = open_fs (NULL);
  const uint64_t big = 64u << 20;
  g_autofree char *kept = cairn_test_blob_put_gen (b, 770, 3 * CHUNK);
  g_autofree char *would_be = cairn_test_blob_put_gen (fs, 771, big);
  uint64_t size, good;

  /* Killed at 16 MiB of a 64 MiB put. */
  TestKillStream *ks = g_object_new (TEST_TYPE_KILL_STREAM, NULL);
  ks->gen = cairn_test_gen_stream_new (771, big);
  ks->at = 16u << 20;
  ks->victim = ipfsd_pid (d);
  g_assert_cmpint (ks->victim, >, 0);
  char *cid = NULL;
  g_assert_false (cairn_test_blob_backend_iface (b)->put (
      cairn_test_blob_backend_self (b), G_INPUT_STREAM (ks), &cid, NULL,
      &error));
  g_object_unref (ks);
  g_assert_null (cid);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  assert_contains (error->message, ipfsd_api_url (d));
  assert_contains (error->message, "/api/v0/add");
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  ipfsd_kill (d);

  /* While it is down: a clear error. */
  g_assert_false (cairn_test_blob_stat (b, kept, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  g_clear_error (&error);

  /* Restarted: the cut blob is not there, the earlier one is. */
  g_assert_true (ipfsd_restart (d, &error));
  g_assert_no_error (error);
  g_assert_false (cairn_test_blob_stat (b, would_be, &size, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (cairn_test_blob_check_gen (b, kept, 770, 3 * CHUNK, 0,
                                            UINT64_MAX, &good, &error));
  g_assert_no_error (error);

  /* Killed during a read: an error after good bytes only. */
  const uint64_t mid = 48u << 20;
  g_autofree char *c = cairn_test_blob_put_gen (b, 772, mid);
  g_autoptr (GInputStream) in
      = cairn_test_blob_get (b, c, 0, UINT64_MAX, &error);
  g_assert_no_error (error);
  g_autofree uint8_t *buf = g_malloc (1 << 20);
  g_autofree uint8_t *want = g_malloc (1 << 20);
  uint64_t pos = 0;
  gsize n;
  g_assert_true (g_input_stream_read_all (in, buf, 1 << 20, &n, NULL, &error));
  cairn_test_gen_fill (772, 0, want, n);
  g_assert_cmpmem (buf, n, want, n);
  pos += n;
  ipfsd_kill (d);
  for (;;) {
    gboolean ok = g_input_stream_read_all (in, buf, 1 << 20, &n, NULL, &error);
    cairn_test_gen_fill (772, pos, want, n);
    g_assert_cmpmem (buf, n, want, n);
    pos += n;
    if (!ok || n == 0)
      break;
  }
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  g_assert_cmpuint (pos, <, mid);
  g_test_message ("read stopped after %" G_GUINT64_FORMAT " bytes: %s", pos,
                  error->message);
}

/* ---- config ------------------------------------------------------------- */

static void
test_config (void)
{
  static const struct {
    const char *key, *value;
  } bad[] = {
    { "api_url", "ftp://127.0.0.1:5001" },
    { "api_url", "http://" },
    { "api_url", "http://127.0.0.1:5001/?x=1" },
    { "api_url", "http://user:pw@127.0.0.1:5001" },
    { "api_url", "127.0.0.1:5001" },
    { "timeout_s", "0" },
    { "timeout_s", "ten" },
    { "lookup_timeout_ms", "0" },
    { "offline", "maybe" },
    { "pin", "yes please" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = cairn_test_make_tmpdir ();
    g_autoptr (CairnTestBlobBackend) b = cairn_test_blob_backend_start (
        cairn_plugin_descriptor_blob_ipfs, dir, &error, bad[i].key,
        bad[i].value, NULL);
    g_assert_null (b);
    g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
    assert_contains (error->message, bad[i].key);
    g_test_message ("%s = %s: %s", bad[i].key, bad[i].value, error->message);
    cairn_test_rm_rf (dir);
  }

  /* Every key, a trailing slash, and the defaults (the default api_url is
   * another daemon's: it must init all the same). */
  g_autoptr (GError) error = NULL;
  g_autofree char *slash = g_strconcat (api_url, "/", NULL);
  g_autoptr (CairnTestBlobBackend) b = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_ipfs, NULL, &error, "api_url", slash,
      "timeout_s", "30", "lookup_timeout_ms", "300", "offline", "true", "pin",
      "true", NULL);
  g_assert_no_error (error);
  g_assert_true (cairn_test_blob_backend_logged (b, "version"));
  g_autofree char *cid = cairn_test_blob_put_gen (b, 780, 10);
  uint64_t size;
  g_assert_true (cairn_test_blob_stat (b, cid, &size, &error));
  g_assert_no_error (error);
  g_autoptr (CairnTestBlobBackend) d = cairn_test_blob_backend_start (
      cairn_plugin_descriptor_blob_ipfs, NULL, &error, NULL);
  g_assert_no_error (error);
}

/* ---- memory -------------------------------------------------------------- */

static void
test_memory (void)
{
  if (!g_test_subprocess ()) {
    /* A fresh process, so that VmHWM is not the peak of earlier tests. */
    g_test_trap_subprocess (NULL, 0,
                            G_TEST_SUBPROCESS_INHERIT_STDOUT
                                | G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed ();
    return;
  }
  g_autoptr (CairnTestBlobBackend) b = open_ipfs (NULL);
  const uint64_t size = 128u << 20;
  g_autoptr (GError) error = NULL;
  uint64_t good;

  g_autofree char *warm = cairn_test_blob_put_gen (b, 790, 3 * CHUNK);
  g_assert_true (cairn_test_blob_check_gen (b, warm, 790, 3 * CHUNK, 0,
                                            UINT64_MAX, &good, &error));
  uint64_t before = cairn_test_peak_rss_kib ();
  g_autofree char *cid = cairn_test_blob_put_gen (b, 791, size);
  uint64_t after_put = cairn_test_peak_rss_kib ();
  g_assert_true (cairn_test_blob_check_gen (b, cid, 791, size, 0, UINT64_MAX,
                                            &good, &error));
  g_assert_no_error (error);
  uint64_t after_get = cairn_test_peak_rss_kib ();
  printf ("# VmHWM %" G_GUINT64_FORMAT
          " KiB, after a 128 MiB put %" G_GUINT64_FORMAT
          " KiB, after reading it back %" G_GUINT64_FORMAT " KiB\n",
          before, after_put, after_get);
  g_assert_cmpuint (after_put - before, <, 48u << 10);
  g_assert_cmpuint (after_get - before, <, 48u << 10);
}

int
main (int argc, char **argv)
{
  static const CairnTestBlobSuite ipfs_suite = { "blob-ipfs", open_ipfs, NULL };
  g_autoptr (Ipfsd) daemon = NULL;

  g_autofree char *dir = NULL, *file = NULL, *url = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  /* Subprocesses (test_memory) use the parent's daemon: its URL is in a
   * file named in the environment, set before any thread starts. */
  if (g_getenv ("BLOB_IPFS_TEST_API_FILE") != NULL) {
    g_assert_true (g_file_get_contents (g_getenv ("BLOB_IPFS_TEST_API_FILE"),
                                        &url, NULL, NULL));
  } else {
    g_autoptr (GError) error = NULL;
    dir = cairn_test_make_tmpdir ();
    file = g_build_filename (dir, "api", NULL);
    g_setenv ("BLOB_IPFS_TEST_API_FILE", file, TRUE);
    daemon = ipfsd_start (&error);
    if (daemon == NULL) {
      printf ("Bail out! cannot start the IPFS daemon: %s\n", error->message);
      cairn_test_rm_rf (dir);
      return 1;
    }
    url = g_strdup (ipfsd_api_url (daemon));
    g_assert_true (g_file_set_contents (file, url, -1, NULL));
  }
  api_url = url;
  cairn_test_blob_suite_add (&ipfs_suite);
  g_test_add_func ("/blob-ipfs/same-ids", test_same_ids);
  g_test_add_func ("/blob-ipfs/add-params", test_add_params);
  g_test_add_func ("/blob-ipfs/reads", test_reads);
  g_test_add_func ("/blob-ipfs/wrong-bytes", test_wrong_bytes);
  g_test_add_func ("/blob-ipfs/wrong-cid", test_wrong_cid);
  g_test_add_func ("/blob-ipfs/daemon-down", test_daemon_down);
  g_test_add_func ("/blob-ipfs/killed", test_killed);
  g_test_add_func ("/blob-ipfs/config", test_config);
  g_test_add_func ("/blob-ipfs/memory", test_memory);
  rc = g_test_run ();
  if (dir != NULL)
    cairn_test_rm_rf (dir);
  return rc;
}

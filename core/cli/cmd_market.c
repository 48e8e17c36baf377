/* cairn market: the market plugin's flows from the command line
 * (plugins/market/README.md).
 *
 *   create --developer A --name N --category C --version V --package F
 *                      upload F to the node's blob store (streamed, its
 *                      SHA-256 computed from the bytes as they are sent),
 *                      check the stored size, send market.create; prints
 *                      the service id (the tx id)
 *   serve ID [--source URL]
 *                      download the package by CID (from URL or the node),
 *                      check its SHA-256 against the chain, store it in the
 *                      node's blob store when missing (same CID), send
 *                      market.serve
 *   usage --file F | --service ID --user A --calls N [--duration S]
 *   rate ID --rating 1..5 [--text T]
 *   rank E             market.rank with the hash of the previewed ranking,
 *                      checked here against the ranking's canonical JSON
 *   distribute E | trade | order | fill O | cancel O
 *   show ID | epoch E | ranking | supply | params | services | orders [O] |
 *   trades A | developer A | user A      reads
 *
 * Periods default to the current epoch (GET /v1/market/params "epoch"). */
#include <string.h>

#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>

#include "cli.h"

/* The chain's limits (plugins/market/README.md, market.usage). */
#define MARKET_MAX_RECORDS 1000
#define MARKET_MAX_CALLS UINT64_C (1000000000)
#define MARKET_MAX_DURATION UINT64_C (1000000000000)
#define MARKET_MAX_RANKING_SPAN 100

typedef struct {
  char *home, *node, *from, *developer, *name, *category, *version, *package,
      *source, *file, *period, *service, *user, *calls, *duration, *rating,
      *text, *to, *amount, *denom, *memo, *sell, *buy, *from_epoch, *to_epoch;
  gboolean json, preview;
  double timeout;
} Opts;

static void
opts_clear (Opts *o)
{
  char **all[] = { &o->home,    &o->node,     &o->from,     &o->developer,
                   &o->name,    &o->category, &o->version,  &o->package,
                   &o->source,  &o->file,     &o->period,   &o->service,
                   &o->user,    &o->calls,    &o->duration, &o->rating,
                   &o->text,    &o->to,       &o->amount,   &o->denom,
                   &o->memo,    &o->sell,     &o->buy,      &o->from_epoch,
                   &o->to_epoch };
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_free);
}

typedef struct {
  Opts *o;
  const char *home;
  char *url;
  CairnClient *client; /* requests time out after --timeout */
  GError *node_error;  /* why there is no client (no --home or --node) */
} Ctx;

/* Commands check their own options first, then need the node. */
static int
no_node (Ctx *c)
{
  return cairn_cli_fail (g_steal_pointer (&c->node_error));
}

/* ---- SHA-256 of a stream as it passes (a pass-through GConverter) ------- */

#define MARKET_TYPE_HASHER (market_hasher_get_type ())
G_DECLARE_FINAL_TYPE (MarketHasher, market_hasher, MARKET, HASHER, GObject)

struct _MarketHasher {
  GObject parent;
  EVP_MD_CTX *md;
  uint64_t bytes;
};

static void market_hasher_converter_init (GConverterIface *iface);
G_DEFINE_TYPE_WITH_CODE (MarketHasher, market_hasher, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER,
                                                market_hasher_converter_init))

static void
market_hasher_finalize (GObject *obj)
{
  EVP_MD_CTX_free (MARKET_HASHER (obj)->md);
  G_OBJECT_CLASS (market_hasher_parent_class)->finalize (obj);
}

static void
market_hasher_class_init (MarketHasherClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = market_hasher_finalize;
}

static void
market_hasher_init (MarketHasher *h)
{
  h->md = EVP_MD_CTX_new ();
  if (h->md == NULL || EVP_DigestInit_ex (h->md, EVP_sha256 (), NULL) != 1)
    g_error ("OpenSSL: cannot start a SHA-256 digest");
}

static GConverterResult
market_hasher_convert (GConverter *conv, const void *inbuf, gsize inbuf_size,
                       void *outbuf, gsize outbuf_size, GConverterFlags flags,
                       gsize *bytes_read, gsize *bytes_written, GError **error)
{
  MarketHasher *h = MARKET_HASHER (conv);
  *bytes_read = *bytes_written = 0;
  if (inbuf_size == 0) {
    if (flags & G_CONVERTER_INPUT_AT_END)
      return G_CONVERTER_FINISHED;
    if (flags & G_CONVERTER_FLUSH)
      return G_CONVERTER_FLUSHED;
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                         "need more input");
    return G_CONVERTER_ERROR;
  }
  if (outbuf_size == 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                         "no room to copy into");
    return G_CONVERTER_ERROR;
  }
  gsize n = MIN (inbuf_size, outbuf_size);
  memcpy (outbuf, inbuf, n);
  EVP_DigestUpdate (h->md, inbuf, n);
  h->bytes += n;
  *bytes_read = *bytes_written = n;
  if (n == inbuf_size && (flags & G_CONVERTER_INPUT_AT_END))
    return G_CONVERTER_FINISHED;
  if (n == inbuf_size && (flags & G_CONVERTER_FLUSH))
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
market_hasher_reset (GConverter *conv)
{
  MarketHasher *h = MARKET_HASHER (conv);
  EVP_DigestInit_ex (h->md, EVP_sha256 (), NULL);
  h->bytes = 0;
}

static void
market_hasher_converter_init (GConverterIface *iface)
{
  iface->convert = market_hasher_convert;
  iface->reset = market_hasher_reset;
}

/* The lowercase hex digest of what went through (g_free). */
static char *
market_hasher_hex (MarketHasher *h)
{
  uint8_t d[32];
  unsigned int dl = sizeof d;
  EVP_DigestFinal_ex (h->md, d, &dl);
  return cairn_hex_encode (d, sizeof d);
}

/* ---- small parsers ------------------------------------------------------ */

/* A whole number in [min, max] written with digits only. what names it in
 * messages ("--amount"). */
static gboolean
parse_uint (const char *what, const char *s, uint64_t min, uint64_t max,
            uint64_t *out, GError **error)
{
  if (s == NULL || *s == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s: empty (expected a whole number)", what);
    return FALSE;
  }
  if (*s == '-') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s: '%s' is negative (expected a whole number from "
                 "%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
                 what, s, min, max);
    return FALSE;
  }
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (!g_ascii_isdigit (*p)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "%s: '%s' is not a whole number (digits only, e.g. 10)",
                   what, s);
      return FALSE;
    }
    if (__builtin_mul_overflow (v, 10, &v)
        || __builtin_add_overflow (v, (uint64_t)(*p - '0'), &v) || v > max) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "%s: '%s' is too large (at most %" G_GUINT64_FORMAT ")",
                   what, s, max);
      return FALSE;
    }
  }
  if (v < min) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s: %" G_GUINT64_FORMAT " is not allowed (at least "
                 "%" G_GUINT64_FORMAT ")",
                 what, v, min);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static gboolean
parse_amount (const char *what, const char *s, uint64_t *out, GError **error)
{
  return parse_uint (what, s, 1, G_MAXINT64, out, error);
}

static gboolean
check_denom (const char *what, const char *d, GError **error)
{
  if (cairn_denom_valid (d))
    return TRUE;
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
               "%s: '%s' is not a denomination ([a-z][a-z0-9]{1,15}, e.g. "
               "voucher)",
               what, d ? d : "");
  return FALSE;
}

/* "10voucher" → {"denom": "voucher", "amount": 10}. */
static json_t *
parse_coin (const char *what, const char *s, GError **error)
{
  if (s == NULL || *s == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s: empty (expected AMOUNTDENOM, e.g. 10voucher)", what);
    return NULL;
  }
  size_t digits = strspn (s, "0123456789");
  if (digits == 0 || s[digits] == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s: '%s' is not AMOUNTDENOM (a positive whole number "
                 "followed by a denomination, e.g. 10voucher)",
                 what, s);
    return NULL;
  }
  g_autofree char *num = g_strndup (s, digits);
  uint64_t amount;
  if (!parse_amount (what, num, &amount, error)
      || !check_denom (what, s + digits, error))
    return NULL;
  return json_pack ("{s:s,s:I}", "denom", s + digits, "amount",
                    (json_int_t)amount);
}

/* ---- node helpers ------------------------------------------------------- */

/* A reply that lacks what the market plugin documents. */
static gboolean
bad_reply (GError **error, const char *path, const char *what)
{
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
               "GET %s: unexpected reply: %s (is the market plugin loaded "
               "and of this version?)",
               path, what);
  return FALSE;
}

static CairnKey *
load_key (Ctx *c, const char *fallback, GError **error)
{
  const char *name = c->o->from ? c->o->from : fallback;
  if (name == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "missing --from KEY (the account that signs: a NAME in "
                 "DIR/keys or a PEM file)");
    return NULL;
  }
  return cairn_cli_load_key (c->home, name, NULL, error);
}

/* GET /v1/market/params → the integer "epoch" (the current one). */
static gboolean
current_epoch (Ctx *c, uint64_t *out, GError **error)
{
  const char *path = "/v1/market/params";
  g_autoptr (json_t) p = cairn_client_get (c->client, path, error);
  if (p == NULL)
    return FALSE;
  json_t *e = json_object_get (p, "epoch");
  if (!json_is_integer (e) || json_integer_value (e) < 0)
    return bad_reply (error, path, "no non-negative integer \"epoch\"");
  *out = (uint64_t)json_integer_value (e);
  return TRUE;
}

/* --period, else the current epoch. */
static gboolean
period_or_current (Ctx *c, uint64_t *out, GError **error)
{
  if (c->o->period)
    return parse_uint ("--period", c->o->period, 0, G_MAXINT64, out, error);
  return current_epoch (c, out, error);
}

/* GET /v1/market/services/{id}: the service object (the reply itself or
 * its "service" member) with string "package_cid" and 64-hex
 * "package_sha256". *reply_out gets the whole reply. Borrowed from it. */
static json_t *
get_service (Ctx *c, const char *id, json_t **reply_out, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/market/services/%s", id);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &local);
  if (r == NULL) {
    if (g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND))
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                   "no service %s on the node at %s (%s)", id, c->url,
                   local->message);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  json_t *svc = r;
  if (!json_is_string (json_object_get (svc, "package_cid"))
      && json_is_object (json_object_get (r, "service")))
    svc = json_object_get (r, "service");
  const char *cid = json_string_value (json_object_get (svc, "package_cid"));
  if (cid == NULL || *cid == '\0'
      || !cairn_hex_lower_valid (
          json_string_value (json_object_get (svc, "package_sha256")), 32)) {
    bad_reply (error, path,
               "no string \"package_cid\" and 64-hex \"package_sha256\"");
    return NULL;
  }
  *reply_out = g_steal_pointer (&r);
  return svc;
}

/* Does list (an array of addresses or of objects with "node"/"address", or
 * an object keyed by address) name addr? */
static gboolean
lists_address (const json_t *list, const char *addr)
{
  if (json_is_object (list))
    return json_object_get (list, addr) != NULL;
  size_t i;
  json_t *item;
  json_array_foreach (list, i, item)
  {
    const char *a = json_is_string (item)
                        ? json_string_value (item)
                        : json_string_value (json_object_get (item, "node"));
    if (a == NULL)
      a = json_string_value (json_object_get (item, "address"));
    if (g_strcmp0 (a, addr) == 0)
      return TRUE;
  }
  return FALSE;
}

static char *
blob_path (const char *cid, const char *suffix)
{
  g_autofree char *escaped = g_uri_escape_string (cid, NULL, FALSE);
  return g_strconcat ("/v1/blobs/", escaped, suffix, NULL);
}

/* GET /v1/blobs/{cid}/stat → "size"; NOT_FOUND when the node lacks it. */
static gboolean
blob_size (CairnClient *client, const char *cid, uint64_t *size, GError **error)
{
  g_autofree char *path = blob_path (cid, "/stat");
  g_autoptr (json_t) r = cairn_client_get (client, path, error);
  if (r == NULL)
    return FALSE;
  json_t *s = json_object_get (r, "size");
  if (!json_is_integer (s) || json_integer_value (s) < 0) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "GET %s: no non-negative integer \"size\" in the reply", path);
    return FALSE;
  }
  *size = (uint64_t)json_integer_value (s);
  return TRUE;
}

/* Upload file (size bytes) to client's blob store, hashing what is sent.
 * Returns the CID (g_free); *sha_hex (g_free) the SHA-256 of the bytes
 * sent. Fails when the file changed size while being sent. */
static char *
upload_file (CairnClient *client, const char *file, uint64_t size,
             char **sha_hex, GError **error)
{
  g_autoptr (GFile) f = g_file_new_for_commandline_arg (file);
  g_autoptr (GFileInputStream) in = g_file_read (f, NULL, error);
  if (in == NULL)
    return NULL;
  g_autoptr (MarketHasher) h = g_object_new (MARKET_TYPE_HASHER, NULL);
  g_autoptr (GInputStream) hin
      = g_converter_input_stream_new (G_INPUT_STREAM (in), G_CONVERTER (h));
  g_autoptr (json_t) r
      = cairn_client_upload (client, "/v1/blobs", hin, (goffset)size, error);
  if (r == NULL)
    return NULL;
  const char *cid = json_string_value (json_object_get (r, "cid"));
  if (cid == NULL || *cid == '\0') {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "POST /v1/blobs: no \"cid\" in the reply");
    return NULL;
  }
  json_t *rs = json_object_get (r, "size");
  if (h->bytes != size
      || (json_is_integer (rs) && (uint64_t)json_integer_value (rs) != size)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "%s changed while being uploaded (%" G_GUINT64_FORMAT
                 " bytes expected, %" G_GUINT64_FORMAT
                 " read, the node stored %" JSON_INTEGER_FORMAT "); try again",
                 file, size, h->bytes, json_integer_value (rs));
    return NULL;
  }
  *sha_hex = market_hasher_hex (h);
  return g_strdup (cid);
}

/* Send a tx and wait for its commit; 0 when it succeeded, with *tx_out the
 * committed tx's JSON. Failures are printed. */
static int
send_tx (Ctx *c, const CairnKey *key, const char *type, const json_t *body,
         json_t **tx_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) t = cairn_cli_tx_submit (c->client, key, type, body, NULL,
                                              TRUE, c->o->timeout, &error);
  if (t == NULL) {
    g_prefix_error (&error, "%s: ", type);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *why = NULL;
  if (!cairn_client_tx_result_ok (t, &why)) {
    if (c->o->json)
      cairn_cli_print_json (t);
    cairn_cli_printerr (
        "%s refused by the chain (tx %s, height %" JSON_INTEGER_FORMAT "): %s",
        type, json_string_value (json_object_get (t, "id")),
        json_integer_value (json_object_get (t, "height")), why);
    return CAIRN_EXIT_FAILED;
  }
  *tx_out = g_steal_pointer (&t);
  return CAIRN_EXIT_OK;
}

/* send_tx, then "<what>: tx ID (height H)" or the tx's JSON. */
static int
send_and_report (Ctx *c, const CairnKey *key, const char *type,
                 const json_t *body, const char *what)
{
  g_autoptr (json_t) t = NULL;
  int rc = send_tx (c, key, type, body, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  if (c->o->json)
    cairn_cli_print_json (t);
  else
    g_print ("%s: tx %s (height %" JSON_INTEGER_FORMAT ")\n", what,
             json_string_value (json_object_get (t, "id")),
             json_integer_value (json_object_get (t, "height")));
  return CAIRN_EXIT_OK;
}

/* The committed tx's event of this type with an attribute attr that is not
 * want; NULL when none disagrees. Borrowed. */
static const char *
event_disagrees (const json_t *t, const char *type, const char *attr,
                 const char *want)
{
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (json_object_get (t, "result"), "events"),
                      i, ev)
  {
    const char *v = json_string_value (
        json_object_get (json_object_get (ev, "attrs"), attr));
    if (g_strcmp0 (json_string_value (json_object_get (ev, "type")), type) == 0
        && v != NULL && strcmp (v, want) != 0)
      return v;
  }
  return NULL;
}

/* ---- create ------------------------------------------------------------- */

static int
cmd_create (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  const char *missing = !o->developer   ? "--developer ADDR"
                        : !o->name      ? "--name NAME"
                        : !o->category  ? "--category CATEGORY"
                        : !o->version   ? "--version VERSION"
                        : !o->package   ? "--package FILE"
                        : !*o->name     ? "a non-empty --name"
                        : !*o->category ? "a non-empty --category"
                        : !*o->version  ? "a non-empty --version"
                                        : NULL;
  if (missing)
    return cairn_cli_usage ("create needs %s (and --developer, --name, "
                            "--category, --version, --package)",
                            missing);
  g_autofree char *developer
      = cairn_cli_resolve_address (c->home, o->developer, &error);
  if (developer == NULL) {
    g_prefix_error (&error, "--developer: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (GFile) f = g_file_new_for_commandline_arg (o->package);
  g_autoptr (GFileInfo) info = g_file_query_info (
      f, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
      G_FILE_QUERY_INFO_NONE, NULL, &error);
  if (info == NULL) {
    g_prefix_error (&error, "--package: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    return cairn_cli_usage ("--package %s: not a regular file", o->package);
  uint64_t size = (uint64_t)g_file_info_get_size (info);
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));

  /* No timeout on the transfer: a big package takes what it takes. */
  g_autoptr (CairnClient) blobs = cairn_client_new (c->url, 0, &error);
  g_autofree char *sha = NULL;
  g_autofree char *cid
      = blobs ? upload_file (blobs, o->package, size, &sha, &error) : NULL;
  if (cid == NULL) {
    g_prefix_error (&error, "uploading the package: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  uint64_t stored = 0;
  if (!blob_size (c->client, cid, &stored, &error)) {
    g_prefix_error (&error, "the package was uploaded as %s, but: ", cid);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (stored != size) {
    cairn_cli_printerr ("the node stored %s with %" G_GUINT64_FORMAT
                        " bytes, but %s has %" G_GUINT64_FORMAT
                        " bytes: not creating the service",
                        cid, stored, o->package, size);
    return CAIRN_EXIT_FAILED;
  }
  if (!o->json)
    g_printerr ("package stored as %s (%" G_GUINT64_FORMAT
                " bytes, sha256 %s)\n",
                cid, size, sha);

  g_autoptr (json_t) body
      = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s}", "developer", developer, "name",
                   o->name, "category", o->category, "version", o->version,
                   "package_cid", cid, "package_sha256", sha);
  g_autoptr (json_t) t = NULL;
  int rc = send_tx (c, key, "market.create", body, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  const char *tx = json_string_value (json_object_get (t, "id"));
  const char *other = event_disagrees (t, "market.created", "service", tx);
  if (other != NULL) {
    cairn_cli_printerr ("tx %s created service %s, but a service's id is its "
                        "tx id: the node and this CLI disagree",
                        tx, other);
    return CAIRN_EXIT_FAILED;
  }
  if (o->json) {
    g_autoptr (json_t) j
        = json_pack ("{s:s,s:s,s:O,s:s,s:s,s:I}", "service", tx, "tx", tx,
                     "height", json_object_get (t, "height"), "package_cid",
                     cid, "package_sha256", sha, "size", (json_int_t)size);
    cairn_cli_print_json (j);
  } else {
    g_printerr ("service created by tx %s (height %" JSON_INTEGER_FORMAT ")\n",
                tx, json_integer_value (json_object_get (t, "height")));
    g_print ("%s\n", tx);
  }
  return CAIRN_EXIT_OK;
}

/* ---- serve -------------------------------------------------------------- */

/* Download cid from client into a new temp file; *path_out its name
 * (g_free; the caller unlinks it), *sha_hex and *size what was received. */
static gboolean
download_to_temp (CairnClient *client, const char *cid, char **path_out,
                  char **sha_hex, uint64_t *size, GError **error)
{
  int fd = g_file_open_tmp ("cairn-package-XXXXXX.part", path_out, error);
  if (fd < 0)
    return FALSE;
  g_autoptr (GOutputStream) file = g_unix_output_stream_new (fd, TRUE);
  g_autoptr (MarketHasher) h = g_object_new (MARKET_TYPE_HASHER, NULL);
  g_autoptr (GOutputStream) out
      = g_converter_output_stream_new (file, G_CONVERTER (h));
  g_autofree char *path = blob_path (cid, "");
  uint64_t n = 0;
  if (!cairn_client_download (client, path, NULL, out, &n, error)
      || !g_output_stream_close (out, NULL, error))
    return FALSE;
  if (h->bytes != n) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "GET %s: %" G_GUINT64_FORMAT
                 " bytes received but %" G_GUINT64_FORMAT " written",
                 path, n, h->bytes);
    return FALSE;
  }
  *size = n;
  *sha_hex = market_hasher_hex (h);
  return TRUE;
}

/* Download the package from --source (or the node), check its SHA-256
 * against want_sha, and store it on the node when it lacks it (the same
 * CID). *tmp_path (the caller unlinks it) is the downloaded copy. */
static int
fetch_and_store (Ctx *c, const char *id, const char *cid, const char *want_sha,
                 char **tmp_path, gboolean *uploaded, uint64_t *size_out)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  const char *src = o->source ? o->source : c->url;
  g_autoptr (CairnClient) from = cairn_client_new (src, 0, &error);
  g_autofree char *sha = NULL;
  uint64_t size = 0;
  if (from == NULL
      || !download_to_temp (from, cid, tmp_path, &sha, &size, &error)) {
    g_prefix_error (&error, "downloading package %s from %s: ", cid, src);
    if (o->source == NULL
        && g_error_matches (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND)) {
      cairn_cli_printerr ("%s; give --source URL, the API of a node that "
                          "has the package",
                          error->message);
      return CAIRN_EXIT_NOT_FOUND;
    }
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (strcmp (sha, want_sha) != 0) {
    cairn_cli_printerr ("package hash mismatch: %s from %s has SHA-256 %s, "
                        "but service %s says %s; refusing it",
                        cid, src, sha, id, want_sha);
    return CAIRN_EXIT_FAILED;
  }
  if (!o->json)
    g_printerr ("package %s: %" G_GUINT64_FORMAT " bytes from %s, SHA-256 "
                "matches the chain\n",
                cid, size, src);

  /* Into this node's blob store, unless it has it already. */
  uint64_t have = 0;
  *uploaded = FALSE;
  if (blob_size (c->client, cid, &have, &error)) {
    if (have != size) {
      cairn_cli_printerr ("the node at %s has %s with %" G_GUINT64_FORMAT
                          " bytes, but the package has %" G_GUINT64_FORMAT,
                          c->url, cid, have, size);
      return CAIRN_EXIT_FAILED;
    }
  } else if (g_error_matches (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND)) {
    g_clear_error (&error);
    g_autoptr (CairnClient) own = cairn_client_new (c->url, 0, &error);
    g_autofree char *up_sha = NULL;
    g_autofree char *up_cid
        = own ? upload_file (own, *tmp_path, size, &up_sha, &error) : NULL;
    if (up_cid == NULL) {
      g_prefix_error (&error, "storing the package on %s: ", c->url);
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    if (strcmp (up_cid, cid) != 0 || strcmp (up_sha, sha) != 0) {
      cairn_cli_printerr ("the node at %s stored the package as %s, but "
                          "service %s names %s: refusing to serve it",
                          c->url, up_cid, id, cid);
      return CAIRN_EXIT_FAILED;
    }
    *uploaded = TRUE;
    if (!o->json)
      g_printerr ("package stored on %s\n", c->url);
  } else {
    g_prefix_error (&error, "checking the node's blob store: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  *size_out = size;
  return CAIRN_EXIT_OK;
}

static int
cmd_serve (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, "node", &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) reply = NULL;
  json_t *svc = get_service (c, id, &reply, &error);
  if (svc == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const char *me = cairn_key_address (key);
  if (lists_address (json_object_get (svc, "servers"), me)
      || lists_address (json_object_get (reply, "servers"), me)
      || lists_address (json_object_get (reply, "nodes"), me)) {
    cairn_cli_printerr ("%s already serves service %s", me, id);
    return CAIRN_EXIT_FAILED;
  }
  const char *cid = json_string_value (json_object_get (svc, "package_cid"));
  const char *sha = json_string_value (json_object_get (svc, "package_sha256"));
  g_autofree char *tmp = NULL;
  gboolean uploaded = FALSE;
  uint64_t size = 0;
  int rc = fetch_and_store (c, id, cid, sha, &tmp, &uploaded, &size);
  if (tmp)
    g_unlink (tmp);
  if (rc != CAIRN_EXIT_OK)
    return rc;

  g_autoptr (json_t) body = json_pack ("{s:s}", "service", id);
  g_autoptr (json_t) t = NULL;
  rc = send_tx (c, key, "market.serve", body, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  const char *tx = json_string_value (json_object_get (t, "id"));
  if (c->o->json) {
    g_autoptr (json_t) j = json_pack (
        "{s:s,s:s,s:s,s:O,s:s,s:s,s:I,s:b}", "service", id, "node", me, "tx",
        tx, "height", json_object_get (t, "height"), "package_cid", cid,
        "package_sha256", sha, "size", (json_int_t)size, "uploaded", uploaded);
    cairn_cli_print_json (j);
  } else
    g_print ("serving %s: tx %s (height %" JSON_INTEGER_FORMAT ")\n", id, tx,
             json_integer_value (json_object_get (t, "height")));
  return CAIRN_EXIT_OK;
}

/* ---- usage, rate -------------------------------------------------------- */

/* records[index] of --file, checked as the chain does; a copy. */
static json_t *
check_record (Ctx *c, const json_t *rec, size_t index, GError **error)
{
  g_autofree char *where
      = g_strdup_printf ("%s: records[%zu]", c->o->file, index);
  if (!json_is_object (rec)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s is not an object", where);
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)rec, key, v)
  {
    if (strcmp (key, "service") != 0 && strcmp (key, "user") != 0
        && strcmp (key, "calls") != 0 && strcmp (key, "duration") != 0) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "%s has an unknown field \"%s\" (a record has service, "
                   "user, calls and duration)",
                   where, key);
      return NULL;
    }
  }
  const char *service = json_string_value (json_object_get (rec, "service"));
  const char *user = json_string_value (json_object_get (rec, "user"));
  json_t *calls = json_object_get (rec, "calls");
  json_t *duration = json_object_get (rec, "duration");
  const char *bad = NULL;
  if (!cairn_hex_lower_valid (service, 32))
    bad = "\"service\" must be a service id (64 lowercase hex characters)";
  else if (user == NULL || !cairn_address_valid (user))
    bad = "\"user\" must be an address (40 lowercase hex characters)";
  else if (!json_is_integer (calls) || json_integer_value (calls) < 1
           || (uint64_t)json_integer_value (calls) > MARKET_MAX_CALLS)
    bad = "\"calls\" must be a whole number from 1 to 1000000000";
  else if (!json_is_integer (duration) || json_integer_value (duration) < 0
           || (uint64_t)json_integer_value (duration) > MARKET_MAX_DURATION)
    bad = "\"duration\" must be a whole number of seconds from 0 to "
          "1000000000000";
  if (bad) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE, "%s: %s", where,
                 bad);
    return NULL;
  }
  return json_pack ("{s:s,s:s,s:O,s:O}", "service", service, "user", user,
                    "calls", calls, "duration", duration);
}

/* --file: {"period"?: E, "records": [...]}; *period_in gets the file's
 * period or -1. */
static json_t *
records_from_file (Ctx *c, gint64 *period_in, GError **error)
{
  const char *file = c->o->file;
  json_error_t jerr;
  g_autoptr (json_t) doc = json_load_file (file, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL) {
    if (!g_file_test (file, G_FILE_TEST_EXISTS))
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                   "--file %s: no such file", file);
    else
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "--file %s: %s (line %d, column %d)", file, jerr.text,
                   jerr.line, jerr.column);
    return NULL;
  }
  g_autofree char *real = cairn_cli_find_real (doc, file);
  if (real) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "%s is a floating-point number; usage records carry whole "
                 "numbers only",
                 real);
    return NULL;
  }
  json_t *records = json_object_get (doc, "records");
  if (!json_is_object (doc) || !json_is_array (records)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--file %s: expected {\"period\": E, \"records\": "
                 "[{\"service\", \"user\", \"calls\", \"duration\"}, ...]}",
                 file);
    return NULL;
  }
  const char *key;
  json_t *v;
  json_object_foreach (doc, key, v)
  {
    if (strcmp (key, "period") != 0 && strcmp (key, "records") != 0) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "--file %s: unknown field \"%s\" (expected period and "
                   "records)",
                   file, key);
      return NULL;
    }
  }
  *period_in = -1;
  json_t *p = json_object_get (doc, "period");
  if (p != NULL) {
    if (!json_is_integer (p) || json_integer_value (p) < 0) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "--file %s: \"period\" must be an epoch number (a whole "
                   "number >= 0)",
                   file);
      return NULL;
    }
    *period_in = json_integer_value (p);
  }
  size_t n = json_array_size (records);
  if (n < 1 || n > MARKET_MAX_RECORDS) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--file %s: %zu records; a report holds 1 to %d", file, n,
                 MARKET_MAX_RECORDS);
    return NULL;
  }
  g_autoptr (json_t) out = json_array ();
  g_autoptr (GHashTable) seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  size_t i;
  json_t *rec;
  json_array_foreach (records, i, rec)
  {
    json_t *r = check_record (c, rec, i, error);
    if (r == NULL)
      return NULL;
    json_array_append_new (out, r);
    char *pair
        = g_strconcat (json_string_value (json_object_get (r, "service")), "/",
                       json_string_value (json_object_get (r, "user")), NULL);
    if (!g_hash_table_add (seen, pair)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                   "--file %s: records[%zu] repeats a service and user of an "
                   "earlier record (one record per service and user)",
                   file, i);
      return NULL;
    }
  }
  return g_steal_pointer (&out);
}

static int
cmd_usage (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  gboolean single = o->service || o->user || o->calls || o->duration;
  if (o->file && single)
    return cairn_cli_usage ("usage takes --file FILE or --service, --user, "
                            "--calls [--duration], not both");
  if (!o->file && !(o->service && o->user && o->calls))
    return cairn_cli_usage ("usage needs --file FILE, or --service ID --user "
                            "ADDR --calls N [--duration S]");
  g_autoptr (json_t) records = NULL;
  gint64 file_period = -1;
  if (o->file) {
    records = records_from_file (c, &file_period, &error);
  } else {
    uint64_t calls = 0, duration = 0;
    g_autofree char *user = NULL;
    if (!cairn_hex_lower_valid (o->service, 32))
      return cairn_cli_usage ("--service '%s' is not a service id (64 "
                              "lowercase hex characters)",
                              o->service);
    if (parse_uint ("--calls", o->calls, 1, MARKET_MAX_CALLS, &calls, &error)
        && (o->duration == NULL
            || parse_uint ("--duration", o->duration, 0, MARKET_MAX_DURATION,
                           &duration, &error))) {
      user = cairn_cli_resolve_address (c->home, o->user, &error);
      if (user == NULL)
        g_prefix_error (&error, "--user: ");
    }
    if (user != NULL)
      records = json_pack ("[{s:s,s:s,s:I,s:I}]", "service", o->service, "user",
                           user, "calls", (json_int_t)calls, "duration",
                           (json_int_t)duration);
  }
  if (records == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->client == NULL)
    return no_node (c);
  uint64_t period = 0;
  if (o->period) {
    if (!parse_uint ("--period", o->period, 0, G_MAXINT64, &period, &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    if (file_period >= 0 && (uint64_t)file_period != period)
      return cairn_cli_usage (
          "--period %" G_GUINT64_FORMAT
          " differs from the file's period %" G_GINT64_FORMAT,
          period, file_period);
  } else if (file_period >= 0)
    period = (uint64_t)file_period;
  else if (!current_epoch (c, &period, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (CairnKey) key = load_key (c, "node", &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:I,s:O}", "period",
                                       (json_int_t)period, "records", records);
  g_autofree char *what = g_strdup_printf (
      "usage reported (%zu record%s, epoch %" G_GUINT64_FORMAT ")",
      json_array_size (records), json_array_size (records) == 1 ? "" : "s",
      period);
  return send_and_report (c, key, "market.usage", body, what);
}

static int
cmd_rate (Ctx *c, const char *id)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  uint64_t rating = 0, period = 0;
  if (o->rating == NULL)
    return cairn_cli_usage ("rate needs --rating 1..5");
  if (!parse_uint ("--rating", o->rating, 1, 5, &rating, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL || !period_or_current (c, &period, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:I,s:I}", "service", id, "period", (json_int_t)period,
                   "rating", (json_int_t)rating);
  if (o->text) {
    uint8_t d[32];
    cairn_sha256 (o->text, strlen (o->text), d);
    g_autofree char *hex = cairn_hex_encode (d, 32);
    json_object_set_new (body, "text_sha256", json_string (hex));
  }
  g_autofree char *what
      = g_strdup_printf ("rated %s %" G_GUINT64_FORMAT "/5 for epoch "
                         "%" G_GUINT64_FORMAT,
                         id, rating, period);
  return send_and_report (c, key, "market.rate", body, what);
}

/* ---- rank, distribute --------------------------------------------------- */

/* The lowercase hex SHA-256 of the canonical JSON of {"epoch", "services",
 * "nodes"} taken from ranking (g_free), or NULL when one is missing. */
static char *
ranking_hash (const json_t *ranking)
{
  json_t *e = json_object_get (ranking, "epoch");
  json_t *s = json_object_get (ranking, "services");
  json_t *n = json_object_get (ranking, "nodes");
  if (!json_is_integer (e) || !json_is_array (s) || !json_is_array (n))
    return NULL;
  g_autoptr (json_t) canon
      = json_pack ("{s:O,s:O,s:O}", "epoch", e, "services", s, "nodes", n);
  size_t len;
  g_autofree char *text = cairn_cjson_dump (canon, &len, NULL);
  if (text == NULL)
    return NULL;
  uint8_t d[32];
  cairn_sha256 (text, len, d);
  return cairn_hex_encode (d, 32);
}

static int
cmd_rank (Ctx *c, uint64_t epoch)
{
  g_autoptr (GError) error = NULL;
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, "node", &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *path = g_strdup_printf (
      "/v1/market/epochs/%" G_GUINT64_FORMAT "?preview=1", epoch);
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  json_t *ranking = json_object_get (r, "ranking");
  const char *hash = json_string_value (json_object_get (ranking, "hash"));
  json_t *re = json_object_get (ranking, "epoch");
  if (!json_is_object (ranking) || !cairn_hex_lower_valid (hash, 32)) {
    bad_reply (&error, path, "no \"ranking\" object with a 64-hex \"hash\"");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (!json_is_integer (re) || (uint64_t)json_integer_value (re) != epoch) {
    bad_reply (&error, path, "the ranking's \"epoch\" is not the one asked");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  const char *producer
      = json_string_value (json_object_get (ranking, "producer"));
  if (producer != NULL) {
    cairn_cli_printerr (
        "epoch %" G_GUINT64_FORMAT " is already ranked (by "
        "%s at height %" JSON_INTEGER_FORMAT ", hash %s)",
        epoch, producer,
        json_integer_value (json_object_get (ranking, "height")), hash);
    return CAIRN_EXIT_FAILED;
  }
  g_autofree char *mine = ranking_hash (ranking);
  if (mine == NULL || strcmp (mine, hash) != 0) {
    cairn_cli_printerr ("GET %s: the ranking's \"hash\" %s is not the SHA-256 "
                        "of its canonical JSON {epoch, services, nodes} (%s); "
                        "not sending it",
                        path, hash, mine ? mine : "fields missing");
    return CAIRN_EXIT_FAILED;
  }
  g_autoptr (json_t) body
      = json_pack ("{s:I,s:s}", "epoch", (json_int_t)epoch, "hash", hash);
  g_autofree char *what = g_strdup_printf (
      "epoch %" G_GUINT64_FORMAT " ranked (hash %s)", epoch, hash);
  return send_and_report (c, key, "market.rank", body, what);
}

static int
cmd_distribute (Ctx *c, uint64_t epoch)
{
  g_autoptr (GError) error = NULL;
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:I}", "epoch", (json_int_t)epoch);
  g_autofree char *what = g_strdup_printf (
      "rewards of epoch %" G_GUINT64_FORMAT " distributed", epoch);
  return send_and_report (c, key, "market.distribute", body, what);
}

/* ---- trade, order, fill, cancel ----------------------------------------- */

static int
cmd_trade (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->to == NULL || o->amount == NULL)
    return cairn_cli_usage ("trade needs --to ADDR and --amount N");
  const char *denom = o->denom ? o->denom : "voucher";
  uint64_t amount;
  if (!parse_amount ("--amount", o->amount, &amount, &error)
      || !check_denom ("--denom", denom, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *to = cairn_cli_resolve_address (c->home, o->to, &error);
  if (to == NULL) {
    g_prefix_error (&error, "--to: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:s,s:s,s:I}", "to", to, "denom",
                                       denom, "amount", (json_int_t)amount);
  if (o->memo)
    json_object_set_new (body, "memo", json_string (o->memo));
  g_autofree char *what = g_strdup_printf (
      "traded %" G_GUINT64_FORMAT " %s to %s", amount, denom, to);
  return send_and_report (c, key, "market.trade", body, what);
}

static int
cmd_order (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->sell == NULL || o->buy == NULL)
    return cairn_cli_usage ("order needs --sell AMOUNTDENOM and --buy "
                            "AMOUNTDENOM (e.g. --sell 10voucher --buy 5cairn)");
  g_autoptr (json_t) sell = parse_coin ("--sell", o->sell, &error);
  g_autoptr (json_t) buy = sell ? parse_coin ("--buy", o->buy, &error) : NULL;
  if (buy == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json_equal (json_object_get (sell, "denom"),
                  json_object_get (buy, "denom")))
    return cairn_cli_usage (
        "--sell and --buy have the same denomination "
        "(%s): an order swaps two different ones",
        json_string_value (json_object_get (sell, "denom")));
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:O,s:O}", "sell", sell, "buy", buy);
  g_autoptr (json_t) t = NULL;
  int rc = send_tx (c, key, "market.order", body, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  const char *tx = json_string_value (json_object_get (t, "id"));
  if (o->json) {
    g_autoptr (json_t) j
        = json_pack ("{s:s,s:s,s:O,s:O,s:O}", "order", tx, "tx", tx, "height",
                     json_object_get (t, "height"), "sell", sell, "buy", buy);
    cairn_cli_print_json (j);
  } else {
    g_printerr ("order opened by tx %s (height %" JSON_INTEGER_FORMAT
                "): selling %s for %s\n",
                tx, json_integer_value (json_object_get (t, "height")), o->sell,
                o->buy);
    g_print ("%s\n", tx);
  }
  return CAIRN_EXIT_OK;
}

static int
cmd_fill_cancel (Ctx *c, const char *order, gboolean cancel)
{
  g_autoptr (GError) error = NULL;
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = load_key (c, NULL, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:s}", "order", order);
  g_autofree char *what
      = g_strdup_printf ("order %s %s", order, cancel ? "cancelled" : "filled");
  return send_and_report (c, key, cancel ? "market.cancel" : "market.fill",
                          body, what);
}

/* ---- reads -------------------------------------------------------------- */

/* The array reply itself, or the first of keys that is an array. */
static json_t *
find_array (const json_t *r, const char *const *keys)
{
  if (json_is_array (r))
    return (json_t *)r;
  for (; *keys; keys++)
    if (json_is_array (json_object_get (r, *keys)))
      return json_object_get (r, *keys);
  return NULL;
}

static const char *
str_or_dash (const json_t *obj, const char *key)
{
  const char *s = json_string_value (json_object_get (obj, key));
  return s ? s : "-";
}

/* The listed members as "label value" lines (in that order), then every
 * other member flattened. */
static void
print_record (const json_t *obj, const char *const *order)
{
  if (!json_is_object (obj)) {
    cairn_cli_print_flat (obj);
    return;
  }
  g_autoptr (json_t) rest = json_copy ((json_t *)obj);
  for (; *order; order++) {
    json_t *v = json_object_get (obj, *order);
    if (v == NULL || json_is_object (v) || json_is_array (v))
      continue;
    g_autofree char *text = cairn_cli_json_text (v);
    cairn_cli_print_field (*order, "%s", text);
    json_object_del (rest, *order);
  }
  if (json_object_size (rest) > 0)
    cairn_cli_print_flat (rest);
}

static void
print_coin (GString *s, const json_t *coin)
{
  g_string_append_printf (s, "%" JSON_INTEGER_FORMAT " %s",
                          json_integer_value (json_object_get (coin, "amount")),
                          str_or_dash (coin, "denom"));
}

/* "rank service score calls ratings" lines of a ranking's services. */
static void
print_ranking (const json_t *ranking)
{
  g_autofree char *e = cairn_cli_json_text (json_object_get (ranking, "epoch"));
  g_print ("epoch %s", e);
  if (json_object_get (ranking, "producer"))
    g_print ("  producer %s  height %" JSON_INTEGER_FORMAT,
             str_or_dash (ranking, "producer"),
             json_integer_value (json_object_get (ranking, "height")));
  g_print ("  hash %s\n", str_or_dash (ranking, "hash"));
  size_t i;
  json_t *s;
  json_array_foreach (json_object_get (ranking, "services"), i, s)
  {
    g_print ("  #%-3" JSON_INTEGER_FORMAT " %s  score %" JSON_INTEGER_FORMAT
             "  calls %" JSON_INTEGER_FORMAT "  ratings %" JSON_INTEGER_FORMAT
             "  bayes %" JSON_INTEGER_FORMAT "\n",
             json_integer_value (json_object_get (s, "rank")),
             str_or_dash (s, "service"),
             json_integer_value (json_object_get (s, "score")),
             json_integer_value (json_object_get (s, "calls")),
             json_integer_value (json_object_get (s, "ratings")),
             json_integer_value (json_object_get (s, "bayes_milli")));
  }
  json_array_foreach (json_object_get (ranking, "nodes"), i, s)
  {
    g_print ("  node #%-3" JSON_INTEGER_FORMAT
             " %s  calls %" JSON_INTEGER_FORMAT
             "  duration %" JSON_INTEGER_FORMAT "\n",
             json_integer_value (json_object_get (s, "rank")),
             str_or_dash (s, "node"),
             json_integer_value (json_object_get (s, "calls")),
             json_integer_value (json_object_get (s, "duration")));
  }
}

typedef enum {
  READ_RECORD,   /* show, supply, params, developer, user, one order */
  READ_EPOCH,    /* {"ranking", ...} */
  READ_RANKINGS, /* [ranking...] */
  READ_SERVICES,
  READ_ORDERS,
  READ_TRADES,
} ReadKind;

static void
print_list_item (ReadKind kind, const json_t *it)
{
  if (kind == READ_SERVICES) {
    g_print ("%s  %s  %s  %s  developer %s  servers %" JSON_INTEGER_FORMAT "\n",
             str_or_dash (it, "id"), str_or_dash (it, "name"),
             str_or_dash (it, "category"), str_or_dash (it, "version"),
             str_or_dash (it, "developer"),
             json_integer_value (json_object_get (it, "servers")));
  } else if (kind == READ_ORDERS) {
    g_autoptr (GString) s = g_string_new (NULL);
    g_string_append_printf (s, "%s  %s  sells ", str_or_dash (it, "id"),
                            str_or_dash (it, "maker"));
    print_coin (s, json_object_get (it, "sell"));
    g_string_append (s, " for ");
    print_coin (s, json_object_get (it, "buy"));
    g_print ("%s  %s\n", s->str, str_or_dash (it, "status"));
  } else if (kind == READ_TRADES) {
    g_autoptr (GString) s = g_string_new (NULL);
    g_string_append_printf (s, "%-8" JSON_INTEGER_FORMAT " %-8s ",
                            json_integer_value (json_object_get (it, "height")),
                            str_or_dash (it, "kind"));
    if (json_object_get (it, "order") != NULL) { /* a fill */
      g_string_append_printf (s, "order %s: %s sold ",
                              str_or_dash (it, "order"),
                              str_or_dash (it, "maker"));
      print_coin (s, json_object_get (it, "sell"));
      g_string_append_printf (s, " to %s for ", str_or_dash (it, "taker"));
      print_coin (s, json_object_get (it, "buy"));
    } else {
      g_string_append_printf (s, "%s -> %s  ", str_or_dash (it, "from"),
                              str_or_dash (it, "to"));
      print_coin (s, it);
      if (json_object_get (it, "memo"))
        g_string_append_printf (s, "  (%s)", str_or_dash (it, "memo"));
    }
    g_print ("%s\n", s->str);
  } else
    print_ranking (json_is_object (json_object_get (it, "ranking"))
                       ? json_object_get (it, "ranking")
                       : it);
}

static int
cmd_read (Ctx *c, const char *path, ReadKind kind)
{
  static const char *const record_order[]
      = { "id",           "name",        "category",       "version",
          "developer",    "package_cid", "package_sha256", "by",
          "height",       "servers",     "maker",          "taker",
          "status",       "epoch",       "epoch_start",    "epoch_end",
          "denom",        "cap",         "minted",         "remaining",
          "issuance_now", NULL };
  static const char *const services_keys[] = { "services", NULL };
  static const char *const orders_keys[] = { "orders", NULL };
  static const char *const trades_keys[] = { "trades", NULL };
  static const char *const rankings_keys[]
      = { "rankings", "epochs", "ranking", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->o->json) {
    cairn_cli_print_json (r);
    return CAIRN_EXIT_OK;
  }
  const char *const *keys = kind == READ_SERVICES   ? services_keys
                            : kind == READ_ORDERS   ? orders_keys
                            : kind == READ_TRADES   ? trades_keys
                            : kind == READ_RANKINGS ? rankings_keys
                                                    : NULL;
  json_t *list = keys ? find_array (r, keys) : NULL;
  if (list != NULL) {
    if (json_array_size (list) == 0)
      g_printerr ("(none)\n");
    size_t i;
    json_t *it;
    json_array_foreach (list, i, it) print_list_item (kind, it);
    return CAIRN_EXIT_OK;
  }
  if (kind == READ_EPOCH && json_is_object (json_object_get (r, "ranking"))) {
    print_ranking (json_object_get (r, "ranking"));
    g_autoptr (json_t) rest = json_copy (r);
    json_object_del (rest, "ranking");
    if (json_object_size (rest) > 0)
      cairn_cli_print_flat (rest);
    return CAIRN_EXIT_OK;
  }
  if (kind == READ_RECORD && json_is_object (json_object_get (r, "service"))
      && json_object_get (r, "id") == NULL) {
    print_record (json_object_get (r, "service"), record_order);
    g_autoptr (json_t) rest = json_copy (r);
    json_object_del (rest, "service");
    if (json_object_size (rest) > 0)
      cairn_cli_print_flat (rest);
    return CAIRN_EXIT_OK;
  }
  print_record (r, record_order);
  return CAIRN_EXIT_OK;
}

/* "?from=A&to=B" from --from-epoch/--to-epoch ("" when neither). */
static char *
epoch_range_query (Ctx *c, gboolean bounded, GError **error)
{
  uint64_t a = 0, b = 0;
  Opts *o = c->o;
  if ((o->from_epoch
       && !parse_uint ("--from-epoch", o->from_epoch, 0, G_MAXINT64, &a, error))
      || (o->to_epoch
          && !parse_uint ("--to-epoch", o->to_epoch, 0, G_MAXINT64, &b, error)))
    return NULL;
  if (o->from_epoch && o->to_epoch && a > b) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--from-epoch %" G_GUINT64_FORMAT
                 " is after --to-epoch %" G_GUINT64_FORMAT,
                 a, b);
    return NULL;
  }
  if (bounded && o->from_epoch && o->to_epoch
      && b - a >= MARKET_MAX_RANKING_SPAN) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--from-epoch %" G_GUINT64_FORMAT
                 " --to-epoch %" G_GUINT64_FORMAT " spans %" G_GUINT64_FORMAT
                 " epochs; at most %d at a time",
                 a, b, b - a + 1, MARKET_MAX_RANKING_SPAN);
    return NULL;
  }
  GString *q = g_string_new (NULL);
  if (o->from_epoch)
    g_string_append_printf (q, "?from=%" G_GUINT64_FORMAT, a);
  if (o->to_epoch)
    g_string_append_printf (q, "%cto=%" G_GUINT64_FORMAT,
                            o->from_epoch ? '&' : '?', b);
  return g_string_free (q, FALSE);
}

/* ---- the command -------------------------------------------------------- */

typedef struct {
  const char *name;
  gboolean arg;         /* takes one positional argument */
  const char *arg_kind; /* "id", "epoch", "addr" or NULL (free) */
  const char *options;  /* the command's own options, space-separated */
} Command;

static const Command commands[] = {
  { "create", FALSE, NULL, "developer name category version package" },
  { "serve", TRUE, "id", "source" },
  { "usage", FALSE, NULL, "file period service user calls duration" },
  { "rate", TRUE, "id", "rating text period" },
  { "rank", TRUE, "epoch", "" },
  { "distribute", TRUE, "epoch", "" },
  { "trade", FALSE, NULL, "to amount denom memo" },
  { "order", FALSE, NULL, "sell buy" },
  { "fill", TRUE, "id", "" },
  { "cancel", TRUE, "id", "" },
  { "show", TRUE, "id", "from-epoch to-epoch" },
  { "epoch", TRUE, "epoch", "preview" },
  { "ranking", FALSE, NULL, "from-epoch to-epoch" },
  { "supply", FALSE, NULL, "" },
  { "params", FALSE, NULL, "" },
  { "services", FALSE, NULL, "category developer" },
  { "orders", FALSE, NULL, "" }, /* [ORDER] */
  { "trades", TRUE, "addr", "" },
  { "developer", TRUE, "addr", "from-epoch to-epoch" },
  { "user", TRUE, "addr", "from-epoch to-epoch" },
};

static int
run (Ctx *c, const Command *cmd, const char *arg, uint64_t epoch)
{
  Opts *o = c->o;
  const char *n = cmd->name;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *q = NULL;
  if (strcmp (n, "create") == 0)
    return cmd_create (c);
  if (strcmp (n, "serve") == 0)
    return cmd_serve (c, arg);
  if (strcmp (n, "usage") == 0)
    return cmd_usage (c);
  if (strcmp (n, "rate") == 0)
    return cmd_rate (c, arg);
  if (strcmp (n, "rank") == 0)
    return cmd_rank (c, epoch);
  if (strcmp (n, "distribute") == 0)
    return cmd_distribute (c, epoch);
  if (strcmp (n, "trade") == 0)
    return cmd_trade (c);
  if (strcmp (n, "order") == 0)
    return cmd_order (c);
  if (strcmp (n, "fill") == 0 || strcmp (n, "cancel") == 0)
    return cmd_fill_cancel (c, arg, strcmp (n, "cancel") == 0);

  ReadKind kind = READ_RECORD;
  if (strcmp (n, "show") == 0 || strcmp (n, "developer") == 0
      || strcmp (n, "user") == 0) {
    q = epoch_range_query (c, FALSE, &error);
    if (q == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    const char *route = strcmp (n, "show") == 0        ? "services"
                        : strcmp (n, "developer") == 0 ? "developers"
                                                       : "users";
    path = g_strdup_printf ("/v1/market/%s/%s%s", route, arg, q);
  } else if (strcmp (n, "epoch") == 0) {
    kind = READ_EPOCH;
    path = g_strdup_printf ("/v1/market/epochs/%" G_GUINT64_FORMAT "%s", epoch,
                            o->preview ? "?preview=1" : "");
  } else if (strcmp (n, "ranking") == 0) {
    kind = READ_RANKINGS;
    q = epoch_range_query (c, TRUE, &error);
    if (q == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    path = g_strconcat ("/v1/market/ranking", q, NULL);
  } else if (strcmp (n, "supply") == 0 || strcmp (n, "params") == 0) {
    path = g_strconcat ("/v1/market/", n, NULL);
  } else if (strcmp (n, "services") == 0) {
    kind = READ_SERVICES;
    GString *s = g_string_new ("/v1/market/services/");
    if (o->category) {
      g_autofree char *e = g_uri_escape_string (o->category, NULL, FALSE);
      g_string_append_printf (s, "?category=%s", e);
    }
    if (o->developer) {
      g_autofree char *dev
          = cairn_cli_resolve_address (c->home, o->developer, &error);
      if (dev == NULL) {
        g_string_free (s, TRUE);
        g_prefix_error (&error, "--developer: ");
        return cairn_cli_fail (g_steal_pointer (&error));
      }
      g_string_append_printf (s, "%cdeveloper=%s", o->category ? '&' : '?',
                              dev);
    }
    path = g_string_free (s, FALSE);
  } else if (strcmp (n, "orders") == 0) {
    kind = arg ? READ_RECORD : READ_ORDERS;
    path = arg ? g_strdup_printf ("/v1/market/orders/%s", arg)
               : g_strdup ("/v1/market/orders/?status=open");
  } else { /* trades */
    kind = READ_TRADES;
    path = g_strdup_printf ("/v1/market/trades/%s", arg);
  }
  if (c->client == NULL)
    return no_node (c);
  return cmd_read (c, path, kind);
}

/* Each option given must be common or one of cmd's own. */
static gboolean
options_apply (const Command *cmd, Opts *o, char **bad)
{
  struct {
    const char *name;
    gboolean given;
  } own[] = {
    { "developer", o->developer != NULL },
    { "name", o->name != NULL },
    { "category", o->category != NULL },
    { "version", o->version != NULL },
    { "package", o->package != NULL },
    { "source", o->source != NULL },
    { "file", o->file != NULL },
    { "period", o->period != NULL },
    { "service", o->service != NULL },
    { "user", o->user != NULL },
    { "calls", o->calls != NULL },
    { "duration", o->duration != NULL },
    { "rating", o->rating != NULL },
    { "text", o->text != NULL },
    { "to", o->to != NULL },
    { "amount", o->amount != NULL },
    { "denom", o->denom != NULL },
    { "memo", o->memo != NULL },
    { "sell", o->sell != NULL },
    { "buy", o->buy != NULL },
    { "from-epoch", o->from_epoch != NULL },
    { "to-epoch", o->to_epoch != NULL },
    { "preview", o->preview },
  };
  g_auto (GStrv) allowed = g_strsplit (cmd->options, " ", -1);
  for (gsize i = 0; i < G_N_ELEMENTS (own); i++) {
    if (own[i].given
        && !g_strv_contains ((const char *const *)allowed, own[i].name)) {
      g_autofree char *list = g_strjoinv (", --", allowed);
      *bad = *cmd->options
                 ? g_strdup_printf ("--%s does not apply to '%s' (it takes "
                                    "--%s)",
                                    own[i].name, cmd->name, list)
                 : g_strdup_printf ("--%s does not apply to '%s'", own[i].name,
                                    cmd->name);
      return FALSE;
    }
  }
  return TRUE;
}

int
cairn_cmd_market (int argc, char **argv)
{
  Opts o = { .timeout = 30 };
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &o.home,
      "Node home: its keys and [http] listen (default: $CAIRN_HOME)", "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &o.node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &o.from,
      "Signing key: a NAME in DIR/keys or a PEM file (default for serve, "
      "usage and rank: node; the others need it)",
      "KEY" },
    { "developer", 0, 0, G_OPTION_ARG_STRING, &o.developer,
      "create, services: the developer", "ADDR" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o.name, "create: the service's name",
      "NAME" },
    { "category", 0, 0, G_OPTION_ARG_STRING, &o.category,
      "create, services: the category", "C" },
    { "version", 0, 0, G_OPTION_ARG_STRING, &o.version,
      "create: the package's version", "V" },
    { "package", 0, 0, G_OPTION_ARG_FILENAME, &o.package,
      "create: the app package to upload", "FILE" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &o.source,
      "serve: the node API to download the package from (default: the "
      "node)",
      "URL" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &o.file,
      "usage: {\"period\": E, \"records\": [{\"service\", \"user\", "
      "\"calls\", \"duration\"}]}",
      "FILE" },
    { "period", 0, 0, G_OPTION_ARG_STRING, &o.period,
      "usage, rate: the epoch (default: the current one)", "E" },
    { "service", 0, 0, G_OPTION_ARG_STRING, &o.service,
      "usage: one record's service", "ID" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &o.user, "usage: one record's user",
      "ADDR" },
    { "calls", 0, 0, G_OPTION_ARG_STRING, &o.calls,
      "usage: one record's calls (1..10^9)", "N" },
    { "duration", 0, 0, G_OPTION_ARG_STRING, &o.duration,
      "usage: one record's duration in seconds (default: 0)", "S" },
    { "rating", 0, 0, G_OPTION_ARG_STRING, &o.rating, "rate: 1..5", "N" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &o.text,
      "rate: a review; only its SHA-256 goes on chain", "TEXT" },
    { "to", 0, 0, G_OPTION_ARG_STRING, &o.to, "trade: the receiver", "ADDR" },
    { "amount", 0, 0, G_OPTION_ARG_STRING, &o.amount,
      "trade: how much (1..2^63-1)", "N" },
    { "denom", 0, 0, G_OPTION_ARG_STRING, &o.denom,
      "trade: the denomination (default: voucher)", "D" },
    { "memo", 0, 0, G_OPTION_ARG_STRING, &o.memo, "trade: a note", "M" },
    { "sell", 0, 0, G_OPTION_ARG_STRING, &o.sell,
      "order: what is sold, e.g. 10voucher", "AMOUNTDENOM" },
    { "buy", 0, 0, G_OPTION_ARG_STRING, &o.buy,
      "order: what is asked for, e.g. 5cairn", "AMOUNTDENOM" },
    { "from-epoch", 0, 0, G_OPTION_ARG_STRING, &o.from_epoch,
      "ranking, show, developer, user: the first epoch", "E" },
    { "to-epoch", 0, 0, G_OPTION_ARG_STRING, &o.to_epoch,
      "ranking, show, developer, user: the last epoch", "E" },
    { "preview", 0, 0, G_OPTION_ARG_NONE, &o.preview,
      "epoch: compute the ranking of a complete, unranked epoch", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout,
      "Seconds to wait for a tx's commit and for each request (default: 30)",
      "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "COMMAND [ARG]",
      "Third-party app services: registry, usage, ratings, ranking, rewards, "
      "trading.",
      "Commands:\n"
      "  create --developer ADDR --name N --category C --version V "
      "--package FILE\n"
      "                    upload FILE, send market.create; prints the "
      "service id\n"
      "  serve ID [--source URL]\n"
      "                    fetch the package, check its SHA-256, store it, "
      "send market.serve\n"
      "  usage --file FILE | --service ID --user ADDR --calls N "
      "[--duration S]\n"
      "  rate ID --rating 1..5 [--text TEXT]\n"
      "  rank EPOCH        send the hash of the epoch's ranking\n"
      "  distribute EPOCH  mint the epoch's rewards (platform)\n"
      "  trade --to ADDR --amount N [--denom D] [--memo M]\n"
      "  order --sell AMOUNTDENOM --buy AMOUNTDENOM   prints the order id\n"
      "  fill ORDER | cancel ORDER\n"
      "  show ID | epoch N [--preview] | ranking [--from-epoch A --to-epoch "
      "B]\n"
      "  supply | params | services [--category C] | orders [ORDER] | "
      "trades ADDR\n"
      "  developer ADDR | user ADDR\n"
      "ID and ORDER are 64 lowercase hex characters; ADDR an address or a "
      "key NAME in DIR/keys.\n"
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    opts_clear (&o);
    return rc;
  }
  const char *name = argc > 1 ? argv[1] : NULL;
  const Command *cmd = NULL;
  for (gsize i = 0; name && i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      cmd = &commands[i];
  const char *arg = argc > 2 ? argv[2] : NULL;
  uint64_t epoch = 0;
  g_autofree char *bad = NULL;
  g_autofree char *addr = NULL;
  g_autoptr (GError) error = NULL;
  const char *home = o.home ? o.home : g_getenv ("CAIRN_HOME");
  if (home && *home == '\0')
    home = NULL;
  gboolean optional_arg = cmd && strcmp (cmd->name, "orders") == 0;
  if (name == NULL)
    bad = g_strdup ("missing command: create, serve, usage, rate, rank, "
                    "distribute, trade, order, fill, cancel, show, epoch, "
                    "ranking, supply, params, services, orders, trades, "
                    "developer, user");
  else if (cmd == NULL)
    bad = g_strdup_printf ("unknown market command '%s'", name);
  else if (argc > ((cmd->arg || optional_arg) ? 3 : 2))
    bad = g_strdup_printf ("unexpected argument '%s'",
                           argv[(cmd->arg || optional_arg) ? 3 : 2]);
  else if (cmd->arg && arg == NULL)
    bad = g_strdup_printf ("%s needs %s", name,
                           strcmp (cmd->arg_kind, "epoch") == 0  ? "an EPOCH"
                           : strcmp (cmd->arg_kind, "addr") == 0 ? "an ADDR"
                                                                 : "an ID");
  else if (arg && (strcmp (cmd->arg_kind ? cmd->arg_kind : "id", "id") == 0)
           && !cairn_hex_lower_valid (arg, 32))
    bad = g_strdup_printf ("'%s' is not an id (64 lowercase hex characters)",
                           arg);
  else if (!(o.timeout > 0) || o.timeout > 86400)
    bad = g_strdup ("--timeout must be a number of seconds in (0, 86400]");
  else
    options_apply (cmd, &o, &bad);
  if (bad == NULL && cmd && cmd->arg_kind
      && strcmp (cmd->arg_kind, "epoch") == 0
      && !parse_uint ("EPOCH", arg, 0, G_MAXINT64, &epoch, &error)) {
    opts_clear (&o);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (bad == NULL && cmd && cmd->arg_kind
      && strcmp (cmd->arg_kind, "addr") == 0) {
    addr = cairn_cli_resolve_address (home, arg, &error);
    if (addr == NULL) {
      opts_clear (&o);
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    arg = addr;
  }
  if (bad) {
    opts_clear (&o);
    return cairn_cli_usage ("%s", bad);
  }

  Ctx c = { .o = &o, .home = home };
  c.url = cairn_client_url_for (c.home, o.node, &c.node_error);
  if (c.url != NULL)
    c.client = cairn_client_new (c.url, (guint)o.timeout + 1, &c.node_error);
  rc = run (&c, cmd, arg, epoch);
  cairn_client_free (c.client);
  g_clear_error (&c.node_error);
  g_free (c.url);
  opts_clear (&o);
  return rc;
}

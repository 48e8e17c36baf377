/* cairn meter: the metering plugin's flows from the command line
 * (plugins/metering/README.md). Each subcommand has its own options and
 * --help; options may come before or after it.
 *
 *   device-key --out FILE   a collector's Ed25519 key (PEM, 0600)
 *   dealer --t T --member ADDRESS:PUBKEY ... --out DIR [--force]
 *                           FROST trusted-dealer keygen (RFC 9591, through
 *                           plugins/threshold/frost.c): DIR/share-<address>
 *                           .json (0600, one per center, identifier = the
 *                           member's position) and DIR/centers.json (the
 *                           body of metering.set_centers). Shares never
 *                           reach stdout and are wiped from memory.
 *   multisig --t T --member ADDRESS:PUBKEY ... --out FILE
 *   configure | set-centers | set-finance | register-terminal |
 *   update-terminal | create-set | withdraw
 *                           the txs, signed with --from KEY (default: the
 *                           node key of --home); --wait waits for the
 *                           commit and fails when the chain refuses
 *   collect --key DEVICE.pem --terminal T ...
 *                           build and sign a reading (formats.c, shared with
 *                           the plugin) and POST it to a center, or --print
 *   params | centers | finance | totals | terminal ID | proofs T | set ID |
 *   level2 SET | settlement ID | settlements | balance ADDR |
 *   withdrawal ID | withdrawals | faults
 *                           reads (GET /v1/metering/...) */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sodium.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "cli.h"
#include "cjson.h"
#include "formats.h" /* plugins/metering: the signed objects */
#include "frost.h"   /* plugins/threshold: FROST(Ed25519, SHA-512) */

/* The chain's limits (plugins/metering/metering.h). */
#define MCLI_MAX_DEVICES 16
#define MCLI_MAX_SET_TERMINALS 256
#define MCLI_MAX_CENTERS CAIRN_THRESHOLD_MAX_PARTICIPANTS
#define MCLI_MAX_WINDOW_PERIODS 10080
#define MCLI_MAX_PERIOD_S (31 * 86400) /* metering.configure */

static const char *const usage_keys[]
    = { "cpu_ms",        "mem_mib_s",     "net_in_bytes",
        "net_out_bytes", "storage_mib_s", NULL };
static const char *const idle_keys[]
    = { "cpu_milli", "mem_mib", "storage_mib", NULL };
static const char *const network_keys[]
    = { "latency_us", "loss_ppm", "bandwidth_kbps", NULL };

typedef struct {
  char *home, *node, *from, *out, *t, *period_s, *window_periods, *denom,
      *price_scale, *min_settlement, *payee, *pubkey, *key, *active, *payer,
      *terminal, *period, *seq, *usage_time, *evidence, *limit, *status;
  char **members, **prices, **devices, **terminals, **usage, **idle, **network,
      **apps;
  gboolean json, force, print, wait;
  double timeout;
} Opts;

static void
opts_clear (Opts *o)
{
  char **one[] = { &o->home,
                   &o->node,
                   &o->from,
                   &o->out,
                   &o->t,
                   &o->period_s,
                   &o->window_periods,
                   &o->denom,
                   &o->price_scale,
                   &o->min_settlement,
                   &o->payee,
                   &o->pubkey,
                   &o->key,
                   &o->active,
                   &o->payer,
                   &o->terminal,
                   &o->period,
                   &o->seq,
                   &o->usage_time,
                   &o->evidence,
                   &o->limit,
                   &o->status };
  for (gsize i = 0; i < G_N_ELEMENTS (one); i++)
    g_clear_pointer (one[i], g_free);
  char ***many[] = { &o->members, &o->prices, &o->devices, &o->terminals,
                     &o->usage,   &o->idle,   &o->network, &o->apps };
  for (gsize i = 0; i < G_N_ELEMENTS (many); i++)
    g_clear_pointer (many[i], g_strfreev);
}

typedef struct {
  Opts *o;
  const char *home;
  const char *name; /* the subcommand */
  char *url;
  CairnClient *client; /* requests time out after --timeout */
  GError *node_error;  /* why there is no client (no --home or --node) */
} Ctx;

/* ---- small helpers ------------------------------------------------------ */

#define usage_error(error, ...)                                                \
  cairn_cli_set_error (error, CAIRN_EXIT_USAGE, __VA_ARGS__)

/* A whole number in [min, max], digits only; what names it ("--seq"). */
static gboolean
parse_u64 (const char *what, const char *s, uint64_t min, uint64_t max,
           uint64_t *out, GError **error)
{
  guint64 v;
  if (s == NULL || *s == '\0' || strspn (s, "0123456789") != strlen (s))
    return usage_error (error,
                        "%s: '%s' is not a whole number (digits only, from "
                        "%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ")",
                        what, s ? s : "", min, max);
  if (!g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL))
    return usage_error (error,
                        "%s: %s is out of range (from %" G_GUINT64_FORMAT
                        " to %" G_GUINT64_FORMAT ")",
                        what, s, min, max);
  *out = v;
  return TRUE;
}

static gboolean
in_list (const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return TRUE;
  return FALSE;
}

/* {"k": v, ...} from "k=v" items: every key of `keys` (missing ones 0),
 * values in [0, 10^15]. New reference, or NULL with a usage error naming
 * the option. */
static json_t *
kv_counters (const char *opt, char **items, const char *const *keys,
             GError **error)
{
  g_autoptr (json_t) obj = json_object ();
  for (const char *const *k = keys; *k; k++)
    json_object_set_new (obj, *k, json_integer (0));
  g_autoptr (GHashTable) seen
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (char **it = items; it && *it; it++) {
    const char *eq = strchr (*it, '=');
    if (eq == NULL || eq == *it) {
      usage_error (error, "%s '%s': expected KEY=N", opt, *it);
      return NULL;
    }
    g_autofree char *k = g_strndup (*it, (gsize)(eq - *it));
    if (!in_list (keys, k)) {
      g_autofree char *allowed = g_strjoinv (", ", (char **)keys);
      usage_error (error, "%s '%s': unknown key '%s' (one of: %s)", opt, *it, k,
                   allowed);
      return NULL;
    }
    if (!g_hash_table_add (seen, g_strdup (k))) {
      usage_error (error, "%s: %s is given twice", opt, k);
      return NULL;
    }
    uint64_t v;
    g_autofree char *what = g_strdup_printf ("%s %s", opt, k);
    if (!parse_u64 (what, eq + 1, 0, METER_MAX_VALUE, &v, error))
      return NULL;
    json_object_set_new (obj, k, json_integer ((json_int_t)v));
  }
  return g_steal_pointer (&obj);
}

/* "ADDRESS:PUBKEY" → address, pubkey (lower-case hex); the address must be
 * the pubkey's (SHA-256 of it, first 20 bytes). */
static gboolean
parse_member (const char *s, guint index, char address[41], char pubkey[65],
              GError **error)
{
  const char *colon = s ? strchr (s, ':') : NULL;
  if (colon == NULL || colon - s != 40 || strlen (colon + 1) != 64)
    return usage_error (error,
                        "--member #%u '%s': expected ADDRESS:PUBKEY (40 and "
                        "64 lower-case hex characters)",
                        index, s ? s : "");
  memcpy (address, s, 40);
  address[40] = '\0';
  memcpy (pubkey, colon + 1, 65);
  if (!cairn_address_valid (address))
    return usage_error (error,
                        "--member #%u: address '%s' is not 40 lower-case hex",
                        index, address);
  uint8_t pk[32];
  if (!cairn_hex_lower_valid (pubkey, 32) || !cairn_hex_decode (pubkey, pk, 32))
    return usage_error (error,
                        "--member #%u: public key '%s' is not 64 lower-case "
                        "hex",
                        index, pubkey);
  char derived[41];
  cairn_address_from_pubkey (pk, derived);
  if (strcmp (derived, address) != 0)
    return usage_error (error,
                        "--member #%u: address %s is not the address of "
                        "public key %s (that is %s); give the node key's "
                        "address and public key ('cairn keys show node')",
                        index, address, pubkey, derived);
  return TRUE;
}

/* Write data to path through a temporary file in the same directory, with
 * exactly `mode`, synced, then renamed over path. */
static gboolean
write_file_atomic (const char *path, const char *data, size_t len, int mode,
                   GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp-XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "%s: cannot create: %s", path, g_strerror (e));
  }
  int e = 0;
  size_t done = 0;
  while (done < len && e == 0) {
    ssize_t w = write (fd, data + done, len - done);
    if (w < 0 && errno != EINTR)
      e = errno;
    else if (w > 0)
      done += (size_t)w;
  }
  if (e == 0 && (fchmod (fd, (mode_t)mode) != 0 || fsync (fd) != 0))
    e = errno;
  if (close (fd) != 0 && e == 0)
    e = errno;
  if (e == 0 && rename (tmp, path) != 0)
    e = errno;
  if (e != 0) {
    g_unlink (tmp);
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "%s: cannot write: %s", path, g_strerror (e));
  }
  return TRUE;
}

/* A JSON file, strictly parsed (no reals, no duplicate keys). */
static json_t *
load_json_file (const char *what, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local)) {
    cairn_cli_set_error (
        error,
        g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
            ? CAIRN_EXIT_NOT_FOUND
            : CAIRN_EXIT_FAILED,
        "%s: %s", what, local->message);
    return NULL;
  }
  json_t *v = cairn_cjson_parse (text, len, FALSE, &local);
  if (v == NULL)
    cairn_cli_set_error (error, CAIRN_EXIT_USAGE, "%s %s: %s", what, path,
                         local->message);
  return v;
}

static void print_json_or_line (Ctx *c, const json_t *j, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
print_json_or_line (Ctx *c, const json_t *j, const char *fmt, ...)
{
  if (c->o->json) {
    cairn_cli_print_json (j);
    return;
  }
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_print ("%s\n", line);
}

/* ---- device-key --------------------------------------------------------- */

static int
cmd_device_key (Ctx *c, char **args)
{
  Opts *o = c->o;
  if (o->out == NULL || *o->out == '\0')
    return cairn_cli_usage ("device-key needs --out FILE");
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = cairn_key_generate (&error);
  if (key == NULL || !cairn_key_save (key, o->out, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *pub = cairn_hex_encode (cairn_key_pubkey (key), 32);
  g_autoptr (json_t) j = json_pack ("{s:s,s:s,s:s}", "pubkey", pub, "address",
                                    cairn_key_address (key), "file", o->out);
  print_json_or_line (c, j, "%s", pub);
  return CAIRN_EXIT_OK;
}

/* ---- dealer, multisig --------------------------------------------------- */

typedef struct {
  char address[41];
  char pubkey[65];
} Member;

/* --t and --member (at least t_min <= t <= n, distinct). */
static GArray *
parse_group (Ctx *c, guint t_min, guint *t_out, GError **error)
{
  Opts *o = c->o;
  if (o->t == NULL) {
    usage_error (error, "%s needs --t T (the threshold)", c->name);
    return NULL;
  }
  guint n = o->members ? g_strv_length (o->members) : 0;
  if (n < 2) {
    usage_error (error,
                 "%s needs --member ADDRESS:PUBKEY once per center, at least "
                 "2 centers (got %u)",
                 c->name, n);
    return NULL;
  }
  if (n > MCLI_MAX_CENTERS) {
    usage_error (error, "%u members: at most %d", n, MCLI_MAX_CENTERS);
    return NULL;
  }
  uint64_t t;
  if (!parse_u64 ("--t", o->t, 0, G_MAXUINT16, &t, error))
    return NULL;
  if (t < t_min || t > n) {
    usage_error (error,
                 "--t %" G_GUINT64_FORMAT ": the threshold must be from %u to "
                 "the number of members (%u)",
                 t, t_min, n);
    return NULL;
  }
  g_autoptr (GArray) members
      = g_array_sized_new (FALSE, TRUE, sizeof (Member), n);
  for (guint i = 0; i < n; i++) {
    Member m;
    if (!parse_member (o->members[i], i + 1, m.address, m.pubkey, error))
      return NULL;
    for (guint j = 0; j < i; j++) {
      Member *p = &g_array_index (members, Member, j);
      if (strcmp (p->address, m.address) == 0) {
        usage_error (error, "--member #%u: %s is already member #%u", i + 1,
                     m.address, j + 1);
        return NULL;
      }
    }
    g_array_append_val (members, m);
  }
  *t_out = (guint)t;
  return g_steal_pointer (&members);
}

/* DIR for the dealer's files: created (0700) when absent; refused when it
 * holds anything, unless --force. */
static gboolean
prepare_out_dir (const char *dir, gboolean force, GError **error)
{
  if (g_file_test (dir, G_FILE_TEST_EXISTS)) {
    if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
      return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                  "--out %s: exists and is not a directory",
                                  dir);
    g_autoptr (GError) local = NULL;
    g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
    if (d == NULL)
      return cairn_cli_set_error (error, CAIRN_EXIT_FAILED, "--out %s: %s", dir,
                                  local->message);
    const char *first = g_dir_read_name (d);
    if (first != NULL && !force)
      return cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "--out %s is not empty (it has %s); the dealer does "
          "not mix key sets: give a new directory, or --force "
          "to write into it anyway",
          dir, first);
    return TRUE;
  }
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "--out %s: cannot create: %s", dir,
                                g_strerror (e));
  }
  return TRUE;
}

static char *
dump_pretty (const json_t *v)
{
  char *text = json_dumps (v, JSON_INDENT (2) | JSON_SORT_KEYS);
  char *out = g_strconcat (text, "\n", NULL);
  free (text);
  return out;
}

/* Keygen and the files; shares and text are guarded buffers (n shares,
 * 1 KiB) the caller allocates and frees. *report gets the summary. */
static gboolean
dealer_write (Ctx *c, GArray *members, guint t, uint8_t (*shares)[32],
              char *text, json_t **report, GError **error)
{
  Opts *o = c->o;
  guint n = members->len;
  uint8_t group_pk[32];
  g_autofree uint8_t *vshares = g_malloc (32 * (gsize)n);
  if (!frost_dealer_keygen (t, n, group_pk, shares, (uint8_t (*)[32])vshares,
                            error))
    return FALSE;
  g_autofree char *gpk = cairn_hex_encode (group_pk, 32);
  g_autoptr (json_t) jm = json_array ();
  g_autoptr (json_t) files = json_array ();
  for (guint i = 0; i < n; i++) {
    Member *m = &g_array_index (members, Member, i);
    uint8_t check[32];
    /* The dealer's own output, checked before anyone relies on it. */
    if (!frost_verifying_share (shares[i], check, error))
      return FALSE;
    if (sodium_memcmp (check, vshares + 32 * i, 32) != 0)
      return cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "FROST keygen: the verifying share of member %u does "
          "not match its share (a bug in frost.c)",
          i + 1);
    g_autofree char *vs = cairn_hex_encode (vshares + 32 * i, 32);
    /* The share as hex, written by hand into the guarded buffer so that no
     * unwiped copy is left on the heap. */
    static const char digits[] = "0123456789abcdef";
    char share_hex[65];
    for (int b = 0; b < 32; b++) {
      share_hex[2 * b] = digits[shares[i][b] >> 4];
      share_hex[2 * b + 1] = digits[shares[i][b] & 15];
    }
    share_hex[64] = '\0';
    int len = g_snprintf (
        text, 1024,
        "{\n  \"address\": \"%s\",\n  \"group_pubkey\": \"%s\",\n"
        "  \"identifier\": %u,\n  \"kind\": \"cairn-frost-share\",\n"
        "  \"n\": %u,\n  \"share\": \"%s\",\n  \"t\": %u,\n"
        "  \"verifying_share\": \"%s\"\n}\n",
        m->address, gpk, i + 1, n, share_hex, t, vs);
    sodium_memzero (share_hex, sizeof share_hex);
    g_autofree char *name = g_strdup_printf ("share-%s.json", m->address);
    g_autofree char *path = g_build_filename (o->out, name, NULL);
    gboolean ok = write_file_atomic (path, text, (size_t)len, 0600, error);
    sodium_memzero (text, 1024);
    if (!ok)
      return FALSE;
    json_array_append_new (jm, json_pack ("{s:s,s:s,s:s}", "address",
                                          m->address, "pubkey", m->pubkey,
                                          "verifying_share", vs));
    json_array_append_new (files, json_pack ("{s:s,s:i,s:s}", "address",
                                             m->address, "identifier",
                                             (int)(i + 1), "file", path));
  }
  g_autoptr (json_t) centers
      = json_pack ("{s:s,s:i,s:O,s:s}", "scheme", "frost", "t", (int)t,
                   "members", jm, "group_pubkey", gpk);
  g_autofree char *ctext = dump_pretty (centers);
  g_autofree char *cpath = g_build_filename (o->out, "centers.json", NULL);
  if (!write_file_atomic (cpath, ctext, strlen (ctext), 0644, error))
    return FALSE;
  *report = json_pack ("{s:s,s:i,s:i,s:s,s:O}", "group_pubkey", gpk, "t",
                       (int)t, "n", (int)n, "centers", cpath, "shares", files);
  return TRUE;
}

/* After --force: share files of DIR that this run did not write belong to
 * another key set; say so (they are not deleted). */
static void
warn_stale_shares (const char *dir, GArray *members)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL) {
    if (!g_str_has_prefix (name, "share-") || !g_str_has_suffix (name, ".json"))
      continue;
    gboolean ours = FALSE;
    for (guint i = 0; i < members->len && !ours; i++) {
      g_autofree char *mine = g_strdup_printf (
          "share-%s.json", g_array_index (members, Member, i).address);
      ours = strcmp (mine, name) == 0;
    }
    if (!ours)
      cairn_cli_printerr ("warning: %s/%s is not part of this group (left "
                          "from an earlier key set); do not hand it out",
                          dir, name);
  }
}

static int
cmd_dealer (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->out == NULL || *o->out == '\0')
    return cairn_cli_usage ("dealer needs --out DIR");
  guint t = 0;
  g_autoptr (GArray) members = parse_group (c, 2, &t, &error);
  if (members == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (sodium_init () < 0)
    g_error ("libsodium: sodium_init failed");
  if (!prepare_out_dir (o->out, o->force, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  /* Secrets live in sodium-allocated memory (guarded, wiped on free). */
  uint8_t (*shares)[32] = sodium_malloc (32 * (size_t)members->len);
  char *text = sodium_malloc (1024);
  if (shares == NULL || text == NULL)
    g_error ("out of memory (sodium_malloc)");
  g_autoptr (json_t) j = NULL;
  gboolean ok = dealer_write (c, members, t, shares, text, &j, &error);
  sodium_free (shares);
  sodium_free (text);
  if (!ok)
    return cairn_cli_fail (g_steal_pointer (&error));
  warn_stale_shares (o->out, members);
  if (o->json) {
    cairn_cli_print_json (j);
    return CAIRN_EXIT_OK;
  }
  const char *cpath = json_string_value (json_object_get (j, "centers"));
  g_print ("group public key %s (FROST %u-of-%u)\n",
           json_string_value (json_object_get (j, "group_pubkey")), t,
           members->len);
  g_print ("centers: %s (send it with 'cairn meter set-centers %s')\n", cpath,
           cpath);
  size_t i;
  json_t *f;
  json_array_foreach (json_object_get (j, "shares"), i, f)
  {
    g_print ("share %zu for %s: %s (secret: copy it to that center's "
             "[metering] share_file, mode 0600)\n",
             i + 1, json_string_value (json_object_get (f, "address")),
             json_string_value (json_object_get (f, "file")));
  }
  return CAIRN_EXIT_OK;
}

static int
cmd_multisig (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->out == NULL || *o->out == '\0')
    return cairn_cli_usage ("multisig needs --out FILE");
  guint t = 0;
  g_autoptr (GArray) members = parse_group (c, 2, &t, &error);
  if (members == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (g_file_test (o->out, G_FILE_TEST_EXISTS) && !o->force) {
    cairn_cli_printerr ("--out %s already exists; give --force to replace it",
                        o->out);
    return CAIRN_EXIT_FAILED;
  }
  g_autoptr (json_t) jm = json_array ();
  for (guint i = 0; i < members->len; i++) {
    Member *m = &g_array_index (members, Member, i);
    json_array_append_new (jm, json_pack ("{s:s,s:s}", "address", m->address,
                                          "pubkey", m->pubkey));
  }
  g_autoptr (json_t) centers = json_pack ("{s:s,s:i,s:O}", "scheme", "multisig",
                                          "t", (int)t, "members", jm);
  g_autofree char *text = dump_pretty (centers);
  if (!write_file_atomic (o->out, text, strlen (text), 0644, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) j = json_pack ("{s:s,s:i,s:i}", "centers", o->out, "t",
                                    (int)t, "n", (int)members->len);
  print_json_or_line (c, j, "centers: %s (multisig %u-of-%u)", o->out, t,
                      members->len);
  return CAIRN_EXIT_OK;
}

/* ---- txs ---------------------------------------------------------------- */

static int
no_node (Ctx *c)
{
  return cairn_cli_fail (g_steal_pointer (&c->node_error));
}

/* Sign body as `type` with --from (default: the node key of --home) and
 * submit it; with --wait, wait for its commit and check its result.
 * Prints "<what>: tx ID (height H)" or "<what>: tx ID submitted" (with
 * --json the committed tx, or {"id","from","nonce"}). *tx_id_out (may be
 * NULL) receives the tx id. */
static int
send_tx (Ctx *c, const char *type, const json_t *body, const char *what,
         char **tx_id_out)
{
  g_autoptr (GError) error = NULL;
  if (c->o->from == NULL && c->home == NULL)
    return cairn_cli_usage ("%s needs --from KEY (the account that signs: a "
                            "NAME in DIR/keys or a PEM file), or --home DIR "
                            "to sign with its node key",
                            c->name);
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (CairnKey) key = cairn_cli_load_key (
      c->home, c->o->from ? c->o->from : "node", NULL, &error);
  if (key == NULL) {
    g_prefix_error (&error, "--from: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (json_t) t = cairn_cli_tx_submit (
      c->client, key, type, body, NULL, c->o->wait, c->o->timeout, &error);
  if (t == NULL) {
    g_prefix_error (&error, "%s: ", type);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *why = NULL;
  const char *id = json_string_value (json_object_get (t, "id"));
  if (!c->o->wait) {
    if (c->o->json)
      cairn_cli_print_json (t);
    else
      g_print ("%s: tx %s submitted (--wait waits for its commit)\n", what,
               id ? id : "?");
    if (tx_id_out)
      *tx_id_out = g_strdup (id);
    return CAIRN_EXIT_OK;
  }
  if (!cairn_client_tx_result_ok (t, &why)) {
    if (c->o->json)
      cairn_cli_print_json (t);
    cairn_cli_printerr (
        "%s refused by the chain (tx %s, height %" JSON_INTEGER_FORMAT "): %s",
        type, id ? id : "?", json_integer_value (json_object_get (t, "height")),
        why);
    return CAIRN_EXIT_FAILED;
  }
  if (c->o->json)
    cairn_cli_print_json (t);
  else
    g_print ("%s: tx %s (height %" JSON_INTEGER_FORMAT ")\n", what,
             id ? id : "?", json_integer_value (json_object_get (t, "height")));
  if (tx_id_out)
    *tx_id_out = g_strdup (id);
  return CAIRN_EXIT_OK;
}

static int
cmd_configure (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  const char *missing = !o->period_s         ? "--period-s N"
                        : !o->window_periods ? "--window-periods N"
                        : !o->denom          ? "--denom D"
                        : !o->price_scale    ? "--price-scale N"
                        : !o->min_settlement ? "--min-settlement N"
                        : !o->payee          ? "--payee ADDR"
                                             : NULL;
  if (missing)
    return cairn_cli_usage ("configure needs %s (and --period-s, "
                            "--window-periods, --denom, --price-scale, "
                            "--min-settlement, --payee; --price K=N for "
                            "each priced usage)",
                            missing);
  uint64_t period_s, window, scale, min_stl;
  if (!parse_u64 ("--period-s", o->period_s, 1, MCLI_MAX_PERIOD_S, &period_s,
                  &error)
      || !parse_u64 ("--window-periods", o->window_periods, 1,
                     MCLI_MAX_WINDOW_PERIODS, &window, &error)
      || !parse_u64 ("--price-scale", o->price_scale, 1, METER_MAX_VALUE,
                     &scale, &error)
      || !parse_u64 ("--min-settlement", o->min_settlement, 1, G_MAXINT64,
                     &min_stl, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (!cairn_denom_valid (o->denom))
    return cairn_cli_usage ("--denom '%s' is not a denomination "
                            "([a-z][a-z0-9]{1,15}, e.g. mcredit)",
                            o->denom);
  g_autoptr (json_t) prices
      = kv_counters ("--price", o->prices, usage_keys, &error);
  if (prices == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *payee
      = cairn_cli_resolve_address (c->home, o->payee, &error);
  if (payee == NULL) {
    g_prefix_error (&error, "--payee: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (json_t) body = json_pack (
      "{s:I,s:I,s:s,s:O,s:I,s:I,s:s}", "period_s", (json_int_t)period_s,
      "window_periods", (json_int_t)window, "denom", o->denom, "prices", prices,
      "price_scale", (json_int_t)scale, "min_settlement", (json_int_t)min_stl,
      "payee", payee);
  return send_tx (c, "metering.configure", body, "configured", NULL);
}

/* The shape of a center group (what dealer and multisig write). */
static gboolean
centers_check (const char *file, const json_t *g, GError **error)
{
  const char *scheme = json_string_value (json_object_get (g, "scheme"));
  gboolean frost = g_strcmp0 (scheme, "frost") == 0;
  if (!json_is_object (g) || (!frost && g_strcmp0 (scheme, "multisig") != 0))
    return usage_error (
        error, "%s: \"scheme\" must be \"frost\" or \"multisig\"", file);
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)g, k, v)
  {
    if (strcmp (k, "scheme") != 0 && strcmp (k, "t") != 0
        && strcmp (k, "members") != 0
        && !(frost && strcmp (k, "group_pubkey") == 0))
      return usage_error (error, "%s: unknown field \"%s\" for scheme %s", file,
                          k, scheme);
  }
  json_t *members = json_object_get (g, "members");
  size_t n = json_array_size (members);
  if (!json_is_array (members) || n < 2 || n > MCLI_MAX_CENTERS)
    return usage_error (error,
                        "%s: \"members\" must be an array of 2 to %d centers",
                        file, MCLI_MAX_CENTERS);
  json_t *t = json_object_get (g, "t");
  if (!json_is_integer (t) || json_integer_value (t) < 2
      || (size_t)json_integer_value (t) > n)
    return usage_error (error, "%s: \"t\" must be an integer from 2 to %zu",
                        file, n);
  if (frost
      && !cairn_hex_lower_valid (
          json_string_value (json_object_get (g, "group_pubkey")), 32))
    return usage_error (error, "%s: \"group_pubkey\" must be 64 lower-case hex",
                        file);
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_array_get (members, i);
    const char *addr = json_string_value (json_object_get (m, "address"));
    const char *pub = json_string_value (json_object_get (m, "pubkey"));
    const char *vs = json_string_value (json_object_get (m, "verifying_share"));
    if (!json_is_object (m) || json_object_size (m) != (frost ? 3u : 2u)
        || !cairn_address_valid (addr) || !cairn_hex_lower_valid (pub, 32)
        || (frost && !cairn_hex_lower_valid (vs, 32)))
      return usage_error (
          error,
          "%s: members[%zu] must be {\"address\", \"pubkey\"%s} "
          "(40 and 64 lower-case hex)",
          file, i, frost ? ", \"verifying_share\"" : "");
    g_autofree char *spec = g_strdup_printf ("%s:%s", addr, pub);
    char a[41], p[65];
    if (!parse_member (spec, (guint)i + 1, a, p, error)) {
      g_prefix_error (error, "%s: ", file);
      return FALSE;
    }
    for (size_t j = 0; j < i; j++)
      if (g_strcmp0 (json_string_value (json_object_get (
                         json_array_get (members, j), "address")),
                     addr)
          == 0)
        return usage_error (error, "%s: members[%zu] repeats %s", file, i,
                            addr);
  }
  return TRUE;
}

static int
cmd_set_centers (Ctx *c, char **args)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) g = load_json_file ("set-centers FILE", args[0], &error);
  if (g == NULL || !centers_check (args[0], g, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  return send_tx (c, "metering.set_centers", g, "center group set", NULL);
}

static int
cmd_set_finance (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if ((o->pubkey == NULL) == (o->key == NULL))
    return cairn_cli_usage ("set-finance needs exactly one of --pubkey HEX and "
                            "--key PEM (the financial terminal's key)");
  g_autofree char *pub = NULL;
  if (o->pubkey) {
    if (!cairn_hex_lower_valid (o->pubkey, 32))
      return cairn_cli_usage ("--pubkey '%s' is not a public key (64 "
                              "lower-case hex)",
                              o->pubkey);
    pub = g_strdup (o->pubkey);
  } else {
    g_autoptr (CairnKey) k = cairn_cli_load_key (c->home, o->key, NULL, &error);
    if (k == NULL) {
      g_prefix_error (&error, "--key: ");
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    pub = cairn_hex_encode (cairn_key_pubkey (k), 32);
  }
  g_autoptr (json_t) body = json_pack ("{s:s}", "pubkey", pub);
  g_autofree char *what = g_strdup_printf ("financial terminal %s", pub);
  return send_tx (c, "metering.set_finance", body, what, NULL);
}

static gboolean
check_id (const char *what, const char *id, GError **error)
{
  if (meter_id_valid (id))
    return TRUE;
  return usage_error (error,
                      "%s '%s' is not an id ([a-z0-9][a-z0-9_.-], at most %d "
                      "characters)",
                      what, id ? id : "", METER_ID_MAX);
}

/* --device values: 64 hex public keys, or PEM key files (their public
 * key); distinct, 1..MCLI_MAX_DEVICES. */
static json_t *
parse_devices (Ctx *c, GError **error)
{
  char **d = c->o->devices;
  guint n = d ? g_strv_length (d) : 0;
  if (n > MCLI_MAX_DEVICES) {
    usage_error (error, "%u --device keys: at most %d per terminal", n,
                 MCLI_MAX_DEVICES);
    return NULL;
  }
  g_autoptr (json_t) out = json_array ();
  for (guint i = 0; i < n; i++) {
    g_autofree char *pub = NULL;
    if (cairn_hex_lower_valid (d[i], 32))
      pub = g_strdup (d[i]);
    else if (g_str_has_suffix (d[i], ".pem")
             && g_file_test (d[i], G_FILE_TEST_IS_REGULAR)) {
      g_autoptr (CairnKey) k = cairn_key_load (d[i], error);
      if (k == NULL) {
        g_prefix_error (error, "--device: ");
        return NULL;
      }
      pub = cairn_hex_encode (cairn_key_pubkey (k), 32);
    } else {
      usage_error (error,
                   "--device '%s' is not a public key (64 lower-case hex) or "
                   "a .pem key file",
                   d[i]);
      return NULL;
    }
    size_t j;
    json_t *have;
    json_array_foreach (out, j, have)
    {
      if (strcmp (json_string_value (have), pub) == 0) {
        usage_error (error, "--device %s is given twice", pub);
        return NULL;
      }
    }
    json_array_append_new (out, json_string (pub));
  }
  return g_steal_pointer (&out);
}

static int
cmd_register_terminal (Ctx *c, char **args)
{
  g_autoptr (GError) error = NULL;
  if (!check_id ("terminal", args[0], &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) devices = parse_devices (c, &error);
  if (devices == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (json_array_size (devices) == 0)
    return cairn_cli_usage ("register-terminal needs --device PUBKEY (the "
                            "collectors' keys, up to %d)",
                            MCLI_MAX_DEVICES);
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:O}", "terminal", args[0], "devices", devices);
  g_autofree char *what = g_strdup_printf ("terminal %s registered", args[0]);
  return send_tx (c, "metering.register_terminal", body, what, NULL);
}

static int
cmd_update_terminal (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (!check_id ("terminal", args[0], &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (o->devices == NULL && o->active == NULL)
    return cairn_cli_usage ("update-terminal needs --device PUBKEY ... (the "
                            "new list) or --active true|false, or both");
  g_autoptr (json_t) body = json_pack ("{s:s}", "terminal", args[0]);
  if (o->devices) {
    g_autoptr (json_t) devices = parse_devices (c, &error);
    if (devices == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    json_object_set (body, "devices", devices);
  }
  if (o->active) {
    if (strcmp (o->active, "true") != 0 && strcmp (o->active, "false") != 0)
      return cairn_cli_usage ("--active '%s': expected true or false",
                              o->active);
    json_object_set_new (body, "active",
                         json_boolean (strcmp (o->active, "true") == 0));
  }
  g_autofree char *what = g_strdup_printf ("terminal %s updated", args[0]);
  return send_tx (c, "metering.update_terminal", body, what, NULL);
}

static int
cmd_create_set (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (!check_id ("set", args[0], &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  guint n = o->terminals ? g_strv_length (o->terminals) : 0;
  if (n == 0 || o->payer == NULL)
    return cairn_cli_usage ("create-set needs %s",
                            n == 0 ? "--terminal T, once per terminal"
                                   : "--payer ADDR (pays the set's "
                                     "settlements)");
  if (n > MCLI_MAX_SET_TERMINALS)
    return cairn_cli_usage ("%u terminals: at most %d per set", n,
                            MCLI_MAX_SET_TERMINALS);
  g_autoptr (json_t) terms = json_array ();
  for (guint i = 0; i < n; i++) {
    if (!check_id ("--terminal", o->terminals[i], &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    for (guint j = 0; j < i; j++)
      if (strcmp (o->terminals[j], o->terminals[i]) == 0)
        return cairn_cli_usage ("--terminal %s is given twice",
                                o->terminals[i]);
    json_array_append_new (terms, json_string (o->terminals[i]));
  }
  g_autofree char *payer
      = cairn_cli_resolve_address (c->home, o->payer, &error);
  if (payer == NULL) {
    g_prefix_error (&error, "--payer: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (json_t) body = json_pack ("{s:s,s:O,s:s}", "set", args[0],
                                       "terminals", terms, "payer", payer);
  g_autofree char *what = g_strdup_printf ("set %s created", args[0]);
  return send_tx (c, "metering.create_set", body, what, NULL);
}

static int
cmd_withdraw (Ctx *c, char **args)
{
  g_autoptr (GError) error = NULL;
  uint64_t amount;
  if (!parse_u64 ("AMOUNT", args[0], 1, G_MAXINT64, &amount, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:I}", "amount", (json_int_t)amount);
  g_autofree char *id = NULL;
  int rc = send_tx (c, "metering.withdraw", body, "withdrawal requested", &id);
  if (rc == CAIRN_EXIT_OK && !c->o->json)
    g_print ("withdrawal id %s\n", id);
  return rc;
}

/* ---- collect ------------------------------------------------------------ */

/* GET /v1/metering/params → the period that holds now. */
static gboolean
current_period (Ctx *c, uint64_t *out, GError **error)
{
  const char *path = "/v1/metering/params";
  g_autoptr (json_t) r = cairn_client_get (c->client, path, error);
  if (r == NULL) {
    g_prefix_error (error, "the current period (give --period P to skip "
                           "this): ");
    return FALSE;
  }
  json_t *p = json_object_get (r, "period_s");
  if (p == NULL)
    p = json_object_get (json_object_get (r, "params"), "period_s");
  if (!json_is_integer (p) || json_integer_value (p) < 1)
    return cairn_cli_set_error (
        error, CAIRN_EXIT_FAILED,
        "GET %s: no positive integer \"period_s\" in the reply "
        "(is the metering plugin loaded and configured?)",
        path);
  int64_t now_s = g_get_real_time () / G_USEC_PER_SEC;
  *out = (uint64_t)(now_s / json_integer_value (p));
  return TRUE;
}

static int
cmd_collect (Ctx *c, char **args)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->key == NULL || o->terminal == NULL)
    return cairn_cli_usage ("collect needs %s",
                            o->key ? "--terminal T"
                                   : "--key DEVICE.pem (the collector's key)");
  if (!check_id ("--terminal", o->terminal, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  uint64_t seq = 0, time_s = 0, period = 0;
  if ((o->seq && !parse_u64 ("--seq", o->seq, 0, METER_MAX_VALUE, &seq, &error))
      || (o->usage_time
          && !parse_u64 ("--usage-time", o->usage_time, 0, METER_MAX_VALUE,
                         &time_s, &error))
      || (o->period
          && !parse_u64 ("--period", o->period, 0, METER_MAX_VALUE, &period,
                         &error)))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) usage
      = kv_counters ("--usage", o->usage, usage_keys, &error);
  g_autoptr (json_t) idle
      = usage ? kv_counters ("--idle", o->idle, idle_keys, &error) : NULL;
  g_autoptr (json_t) network
      = idle ? kv_counters ("--network", o->network, network_keys, &error)
             : NULL;
  if (network == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) apps = json_object ();
  for (char **a = o->apps; a && *a; a++) {
    const char *eq = strchr (*a, '=');
    if (eq == NULL || eq == *a)
      return cairn_cli_usage ("--app '%s': expected NAME=STATE (STATE one of "
                              "running, stopped, crashed, idle)",
                              *a);
    g_autofree char *name = g_strndup (*a, (gsize)(eq - *a));
    if (json_object_get (apps, name))
      return cairn_cli_usage ("--app %s is given twice", name);
    json_object_set_new (apps, name, json_string (eq + 1));
  }
  g_autoptr (json_t) evidence = NULL;
  if (o->evidence) {
    g_autoptr (GError) local = NULL;
    evidence
        = cairn_cjson_parse (o->evidence, strlen (o->evidence), FALSE, &local);
    if (evidence == NULL)
      return cairn_cli_usage ("--evidence is not valid JSON: %s",
                              local->message);
    if (!json_is_object (evidence))
      return cairn_cli_usage ("--evidence must be a JSON object");
  } else
    evidence = json_object ();
  g_autoptr (CairnKey) key = cairn_cli_load_key (c->home, o->key, NULL, &error);
  if (key == NULL) {
    g_prefix_error (&error, "--key: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (o->period == NULL) {
    if (c->client == NULL)
      return no_node (c);
    if (!current_period (c, &period, &error))
      return cairn_cli_fail (g_steal_pointer (&error));
  } else if (!o->print && c->client == NULL)
    return no_node (c);

  g_autofree char *dev = cairn_hex_encode (cairn_key_pubkey (key), 32);
  g_autoptr (json_t) r = json_pack (
      "{s:s,s:s,s:I,s:I,s:O,s:O,s:O,s:I,s:O,s:O}", "terminal", o->terminal,
      "device", dev, "period", (json_int_t)period, "seq", (json_int_t)seq,
      "idle", idle, "network", network, "usage", usage, "usage_time_s",
      (json_int_t)time_s, "apps", apps, "evidence", evidence);
  size_t len;
  g_autofree char *msg = meter_canonical (r, &len);
  uint8_t sig[64];
  cairn_key_sign (key, METER_DOMAIN_READING, msg, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  json_object_set_new (r, "sig", json_string (sig_hex));
  /* What the center will check, checked here first. */
  g_autoptr (GError) local = NULL;
  if (!meter_reading_check (r, &local)
      || !meter_reading_verify (r, cairn_ed25519_verify, &local))
    return cairn_cli_usage ("the reading would be refused: %s", local->message);
  char id[65];
  meter_reading_id (r, id);
  g_autofree char *text = meter_canonical (r, &len);
  if (o->print) {
    g_print ("%s\n", text);
    return CAIRN_EXIT_OK;
  }
  g_autoptr (json_t) reply = cairn_client_post (
      c->client, "/v1/metering/readings", text, len, &error);
  if (reply == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) j = json_pack ("{s:s,s:I,s:O}", "id", id, "period",
                                    (json_int_t)period, "reply", reply);
  print_json_or_line (c, j, "%s", id);
  return CAIRN_EXIT_OK;
}

/* ---- reads -------------------------------------------------------------- */

/* A member of an item, or of its "aggregate" (level-1 records). */
static const json_t *
item_field (const json_t *it, const char *k)
{
  const json_t *v = json_object_get (it, k);
  return v ? v : json_object_get (json_object_get (it, "aggregate"), k);
}

/* One line per item: "col value" for the columns it has, else its JSON. */
static void
print_item (const json_t *it, const char *const *cols)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (; *cols; cols++) {
    const json_t *v = item_field (it, *cols);
    if (v == NULL || json_is_object (v))
      continue;
    g_autofree char *text = json_is_array (v)
                                ? g_strdup_printf ("%zu", json_array_size (v))
                                : cairn_cli_json_text (v);
    g_string_append_printf (s, "%s%s %s", s->len ? "  " : "", *cols, text);
  }
  if (s->len == 0) {
    cairn_cli_print_json_line (it);
    return;
  }
  g_print ("%s\n", s->str);
}

typedef struct {
  const char *name;
  const char *const *list_keys; /* arrays to print as a table, or NULL */
  const char *const *cols;
} ReadSpec;

static const char *const proofs_keys[] = { "proofs", "items", NULL };
static const char *const proofs_cols[]
    = { "period", "amount", "readings", "height", "tx", NULL };
static const char *const level2_keys[] = { "level2", "windows", "items", NULL };
static const char *const level2_cols[]
    = { "window", "from_period", "to_period", "amount", "height", NULL };
static const char *const stl_keys[] = { "settlements", "items", NULL };
static const char *const stl_cols[]
    = { "id", "set", "window", "payer", "amount", "status", NULL };
static const char *const wd_keys[] = { "withdrawals", "items", NULL };
static const char *const wd_cols[]
    = { "id", "account", "amount", "status", "height", NULL };
static const char *const faults_keys[] = { "faults", "items", NULL };
static const char *const faults_cols[]
    = { "terminal", "period", "coordinator", "reason", NULL };

static int
cmd_read (Ctx *c, char **args)
{
  Opts *o = c->o;
  const char *n = c->name;
  g_autoptr (GError) error = NULL;
  g_autofree char *arg
      = args[0] ? g_uri_escape_string (args[0], NULL, FALSE) : NULL;
  g_autofree char *path = NULL;
  const char *const *keys = NULL, *const *cols = NULL;
  if (strcmp (n, "params") == 0 || strcmp (n, "centers") == 0
      || strcmp (n, "finance") == 0 || strcmp (n, "totals") == 0
      || strcmp (n, "faults") == 0) {
    path = g_strconcat ("/v1/metering/", n, NULL);
    if (strcmp (n, "faults") == 0)
      keys = faults_keys, cols = faults_cols;
  } else if (strcmp (n, "terminal") == 0 || strcmp (n, "set") == 0) {
    if (!check_id (n, args[0], &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    path = g_strdup_printf ("/v1/metering/%ss/%s", n, arg);
  } else if (strcmp (n, "proofs") == 0 || strcmp (n, "level2") == 0) {
    if (!check_id (strcmp (n, "proofs") == 0 ? "terminal" : "set", args[0],
                   &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    uint64_t from = 0, limit = 0;
    if ((o->from
         && !parse_u64 ("--from", o->from, 0, METER_MAX_VALUE, &from, &error))
        || (o->limit
            && !parse_u64 ("--limit", o->limit, 1, 1000, &limit, &error)))
      return cairn_cli_fail (g_steal_pointer (&error));
    GString *s = g_string_new (NULL);
    g_string_printf (s, "/v1/metering/%s/%s", n, arg);
    if (o->from)
      g_string_append_printf (s, "?from=%" G_GUINT64_FORMAT, from);
    if (o->limit)
      g_string_append_printf (s, "%climit=%" G_GUINT64_FORMAT,
                              o->from ? '&' : '?', limit);
    path = g_string_free (s, FALSE);
    if (strcmp (n, "proofs") == 0)
      keys = proofs_keys, cols = proofs_cols;
    else
      keys = level2_keys, cols = level2_cols;
  } else if (strcmp (n, "settlement") == 0 || strcmp (n, "withdrawal") == 0) {
    if (!cairn_hex_lower_valid (args[0], 32))
      return cairn_cli_usage ("%s id '%s' is not 64 lower-case hex", n,
                              args[0]);
    path = g_strdup_printf ("/v1/metering/%ss/%s", n, args[0]);
  } else if (strcmp (n, "settlements") == 0 || strcmp (n, "withdrawals") == 0) {
    static const char *const stl_statuses[]
        = { "awaiting_funds", "open", "cleared", NULL };
    static const char *const wd_statuses[]
        = { "requested", "done", "rejected", NULL };
    const char *const *statuses = n[0] == 's' ? stl_statuses : wd_statuses;
    if (o->status && !in_list (statuses, o->status)) {
      g_autofree char *list = g_strjoinv (", ", (char **)statuses);
      return cairn_cli_usage ("--status '%s': one of %s", o->status, list);
    }
    uint64_t limit = 0;
    if (o->limit && !parse_u64 ("--limit", o->limit, 1, 1000, &limit, &error))
      return cairn_cli_fail (g_steal_pointer (&error));
    GString *s = g_string_new (NULL);
    g_string_printf (s, "/v1/metering/%s", n);
    if (o->status)
      g_string_append_printf (s, "?status=%s", o->status);
    if (o->limit)
      g_string_append_printf (s, "%climit=%" G_GUINT64_FORMAT,
                              o->status ? '&' : '?', limit);
    path = g_string_free (s, FALSE);
    if (n[0] == 's')
      keys = stl_keys, cols = stl_cols;
    else
      keys = wd_keys, cols = wd_cols;
  } else { /* balance */
    g_autofree char *addr
        = cairn_cli_resolve_address (c->home, args[0], &error);
    if (addr == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    path = g_strdup_printf ("/v1/metering/balances/%s", addr);
  }
  if (c->client == NULL)
    return no_node (c);
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (o->json) {
    cairn_cli_print_json (r);
    return CAIRN_EXIT_OK;
  }
  json_t *list = NULL;
  if (keys && json_is_array (r))
    list = r;
  for (const char *const *k = keys; k && *k && list == NULL; k++)
    if (json_is_array (json_object_get (r, *k)))
      list = json_object_get (r, *k);
  if (list == NULL) {
    cairn_cli_print_flat (r);
    return CAIRN_EXIT_OK;
  }
  if (json_array_size (list) == 0)
    g_printerr ("(none)\n");
  size_t i;
  json_t *it;
  json_array_foreach (list, i, it) print_item (it, cols);
  return CAIRN_EXIT_OK;
}

/* ---- the command -------------------------------------------------------- */

/* Option sets: each subcommand lists the option ids it takes. */
#define NODE_OPTS "home node timeout json"
#define TX_OPTS "home node from-key wait timeout json"

typedef struct {
  const char *name;
  const char *params; /* positional parameter, or NULL */
  const char *usage;  /* the synopsis after the name */
  const char *options;
  const char *summary;
  int (*run) (Ctx *c, char **args);
} Sub;

static const Sub subs[] = {
  { "device-key", NULL, "--out FILE", "out json",
    "create a collector's Ed25519 key file (mode 0600); prints its public "
    "key",
    cmd_device_key },
  { "dealer", NULL, "--t T --member ADDRESS:PUBKEY... --out DIR [--force]",
    "t member out force json",
    "FROST trusted-dealer keygen: DIR/share-<address>.json per center and "
    "DIR/centers.json",
    cmd_dealer },
  { "multisig", NULL, "--t T --member ADDRESS:PUBKEY... --out FILE [--force]",
    "t member out force json",
    "write a multisig center group (the body of metering.set_centers)",
    cmd_multisig },
  { "configure", NULL,
    "--period-s N --window-periods N --denom D [--price K=N...] "
    "--price-scale N --min-settlement N --payee ADDR",
    "period-s window-periods denom price price-scale min-settlement "
    "payee " TX_OPTS,
    "send metering.configure (the chain parameters)", cmd_configure },
  { "set-centers", "FILE", "FILE", TX_OPTS,
    "send metering.set_centers with FILE (from dealer or multisig)",
    cmd_set_centers },
  { "set-finance", NULL, "--pubkey HEX | --key PEM", "pubkey key-ft " TX_OPTS,
    "send metering.set_finance: the financial terminal's public key",
    cmd_set_finance },
  { "register-terminal", "ID", "ID --device PUBKEY...", "device " TX_OPTS,
    "send metering.register_terminal", cmd_register_terminal },
  { "update-terminal", "ID", "ID [--device PUBKEY...] [--active true|false]",
    "device active " TX_OPTS, "send metering.update_terminal",
    cmd_update_terminal },
  { "create-set", "ID", "ID --terminal T... --payer ADDR",
    "terminals payer " TX_OPTS, "send metering.create_set (a billing set)",
    cmd_create_set },
  { "withdraw", "AMOUNT", "AMOUNT", TX_OPTS,
    "send metering.withdraw; prints the withdrawal id", cmd_withdraw },
  { "collect", NULL,
    "--key DEVICE.pem --terminal T [--period P] [--seq N] "
    "[--usage K=N...] [--idle K=N...] [--network K=N...] [--usage-time S] "
    "[--app NAME=STATE...] [--evidence JSON] [--print]",
    "key-device terminal period seq usage idle network usage-time app "
    "evidence print " NODE_OPTS,
    "sign a usage reading and POST it to a center (or --print it)",
    cmd_collect },
  { "params", NULL, "", NODE_OPTS, "the chain parameters", cmd_read },
  { "centers", NULL, "", NODE_OPTS, "the center group", cmd_read },
  { "finance", NULL, "", NODE_OPTS, "the financial terminal's key", cmd_read },
  { "totals", NULL, "", NODE_OPTS, "recharged, withdrawn and other totals",
    cmd_read },
  { "terminal", "ID", "ID", NODE_OPTS, "a terminal", cmd_read },
  { "proofs", "TERMINAL", "TERMINAL [--from P] [--limit N]",
    "from-period limit " NODE_OPTS, "a terminal's level-1 proofs", cmd_read },
  { "set", "ID", "ID", NODE_OPTS, "a billing set", cmd_read },
  { "level2", "SET", "SET [--from W] [--limit N]",
    "from-window limit " NODE_OPTS, "a set's level-2 proofs", cmd_read },
  { "settlement", "ID", "ID", NODE_OPTS, "a settlement", cmd_read },
  { "settlements", NULL, "[--status S] [--limit N]", "status limit " NODE_OPTS,
    "settlements, optionally by status", cmd_read },
  { "balance", "ADDRESS", "ADDRESS", NODE_OPTS, "an account's metering balance",
    cmd_read },
  { "withdrawal", "ID", "ID", NODE_OPTS, "a withdrawal", cmd_read },
  { "withdrawals", NULL, "[--status S] [--limit N]", "status limit " NODE_OPTS,
    "withdrawals, optionally by status", cmd_read },
  { "faults", NULL, "", NODE_OPTS,
    "proposals this center refused (disagreements)", cmd_read },
};

static void
print_group_help (FILE *out)
{
  fprintf (out, "Usage:\n  cairn meter SUBCOMMAND [OPTION…]\n\n"
                "Resource-usage proofs, settlement, recharge and withdrawal "
                "(plugins/metering/README.md).\n\nSubcommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++)
    fprintf (out, "  %s%s%s\n      %s\n", subs[i].name,
             *subs[i].usage ? " " : "", subs[i].usage, subs[i].summary);
  fprintf (out,
           "\nThe tx commands (configure ... withdraw) sign with --from KEY; "
           "whatever talks\nto a node takes --node URL or --home DIR "
           "(default: $CAIRN_HOME). Reads take\n--json. 'cairn meter "
           "SUBCOMMAND --help' shows a subcommand's options.\n"
           "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 node "
           "unreachable.\n");
}

/* Options that take no value (the others do, as --opt V or --opt=V). */
static const char *const flag_options[]
    = { "json", "force", "print", "wait", "help", NULL };

int
cairn_cmd_meter (int argc, char **argv)
{
  /* The subcommand is the first argument that is neither an option nor an
   * option's value, so options may come before it (cairn meter --home DIR
   * withdraw 5). */
  int at = 0;
  gboolean help = FALSE;
  for (int i = 1; i < argc && at == 0; i++) {
    const char *a = argv[i];
    if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
      help = TRUE;
    if (strcmp (a, "--") == 0)
      at = i + 1 < argc ? i + 1 : -1;
    else if (a[0] == '-' && a[1] != '\0') {
      if (a[1] == '-' && strchr (a, '=') == NULL
          && !in_list (flag_options, a + 2))
        i++;
    } else
      at = i;
  }
  if (at <= 0) {
    if (help) {
      print_group_help (stdout);
      return CAIRN_EXIT_OK;
    }
    print_group_help (stderr);
    return CAIRN_EXIT_USAGE;
  }
  const char *name = argv[at];
  gboolean help_sub = FALSE;
  if (strcmp (name, "help") == 0) {
    if (at + 1 >= argc) {
      print_group_help (stdout);
      return CAIRN_EXIT_OK;
    }
    if (at + 2 < argc)
      return cairn_cli_usage ("unexpected argument '%s'", argv[at + 2]);
    name = argv[at + 1];
    help_sub = TRUE;
  }
  const Sub *sub = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (subs); i++)
    if (strcmp (subs[i].name, name) == 0)
      sub = &subs[i];
  if (sub == NULL)
    return cairn_cli_usage ("unknown meter subcommand '%s'", name);
  g_autofree char *prgname = g_strconcat ("cairn meter ", sub->name, NULL);
  g_set_prgname (prgname);

  Opts o = { .timeout = 30 };
  struct {
    const char *id;
    GOptionEntry e;
  } defs[] = {
    { "home",
      { "home", 0, 0, G_OPTION_ARG_FILENAME, &o.home,
        "Node home: its keys and [http] listen (default: $CAIRN_HOME)",
        "DIR" } },
    { "node",
      { "node", 0, 0, G_OPTION_ARG_STRING, &o.node,
        "Node API URL (default: from DIR's config)", "URL" } },
    { "from-key",
      { "from", 0, 0, G_OPTION_ARG_FILENAME, &o.from,
        "Signing account: a NAME in DIR/keys or a PEM file (default: node, "
        "the node key of --home)",
        "KEY" } },
    { "wait",
      { "wait", 0, 0, G_OPTION_ARG_NONE, &o.wait,
        "Wait for the tx's commit and fail when the chain refuses it", NULL } },
    { "timeout",
      { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout,
        "Seconds to wait for each request and a tx's commit (default: 30)",
        "S" } },
    { "json",
      { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL } },
    { "out",
      { "out", 0, 0, G_OPTION_ARG_FILENAME, &o.out,
        strcmp (sub->name, "dealer") == 0
            ? "Directory for the share files and centers.json"
            : "The file to write",
        strcmp (sub->name, "dealer") == 0 ? "DIR" : "FILE" } },
    { "t",
      { "t", 0, 0, G_OPTION_ARG_STRING, &o.t,
        "Threshold: signatures needed (2 to the number of members)", "T" } },
    { "member",
      { "member", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.members,
        "A center (its node key): address and public key; once per center, "
        "in identifier order",
        "ADDRESS:PUBKEY" } },
    { "force",
      { "force", 0, 0, G_OPTION_ARG_NONE, &o.force,
        "Write into a non-empty directory / replace the file", NULL } },
    { "period-s",
      { "period-s", 0, 0, G_OPTION_ARG_STRING, &o.period_s,
        "Length of a period in seconds", "N" } },
    { "window-periods",
      { "window-periods", 0, 0, G_OPTION_ARG_STRING, &o.window_periods,
        "Periods per billing window", "N" } },
    { "denom",
      { "denom", 0, 0, G_OPTION_ARG_STRING, &o.denom,
        "Denomination of balances and prices", "D" } },
    { "price",
      { "price", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.prices,
        "Price of one unit of a usage (cpu_ms, mem_mib_s, net_in_bytes, "
        "net_out_bytes, storage_mib_s; those not given are 0)",
        "K=N" } },
    { "price-scale",
      { "price-scale", 0, 0, G_OPTION_ARG_STRING, &o.price_scale,
        "Divisor of usage × price", "N" } },
    { "min-settlement",
      { "min-settlement", 0, 0, G_OPTION_ARG_STRING, &o.min_settlement,
        "Smallest amount a window settles", "N" } },
    { "payee",
      { "payee", 0, 0, G_OPTION_ARG_STRING, &o.payee,
        "Who settlements pay (an address or a key NAME)", "ADDR" } },
    { "pubkey",
      { "pubkey", 0, 0, G_OPTION_ARG_STRING, &o.pubkey,
        "The financial terminal's public key", "HEX" } },
    { "key-ft",
      { "key", 0, 0, G_OPTION_ARG_FILENAME, &o.key,
        "Take the public key of this key file instead of --pubkey", "PEM" } },
    { "key-device",
      { "key", 0, 0, G_OPTION_ARG_FILENAME, &o.key,
        "The collector's device key (from device-key)", "DEVICE.pem" } },
    { "device",
      { "device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.devices,
        "A collector's public key (64 hex, or its .pem file); once per "
        "device",
        "PUBKEY" } },
    { "active",
      { "active", 0, 0, G_OPTION_ARG_STRING, &o.active,
        "Whether the terminal counts readings", "true|false" } },
    { "terminals",
      { "terminal", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.terminals,
        "A terminal of the set; once per terminal", "T" } },
    { "payer",
      { "payer", 0, 0, G_OPTION_ARG_STRING, &o.payer,
        "Who pays the set's settlements (an address or a key NAME)", "ADDR" } },
    { "terminal",
      { "terminal", 0, 0, G_OPTION_ARG_STRING, &o.terminal,
        "The terminal the reading is of", "T" } },
    { "period",
      { "period", 0, 0, G_OPTION_ARG_STRING, &o.period,
        "The period (default: the current one, from the node's params and "
        "this clock)",
        "P" } },
    { "seq",
      { "seq", 0, 0, G_OPTION_ARG_STRING, &o.seq,
        "This device's sequence number in the period (default: 0)", "N" } },
    { "usage",
      { "usage", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.usage,
        "Usage counter (cpu_ms, mem_mib_s, net_in_bytes, net_out_bytes, "
        "storage_mib_s); missing ones are 0",
        "K=N" } },
    { "idle",
      { "idle", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.idle,
        "Idle resources (cpu_milli, mem_mib, storage_mib)", "K=N" } },
    { "network",
      { "network", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.network,
        "Network quality (latency_us, loss_ppm, bandwidth_kbps)", "K=N" } },
    { "usage-time",
      { "usage-time", 0, 0, G_OPTION_ARG_STRING, &o.usage_time,
        "Seconds of use in the period (default: 0)", "S" } },
    { "app",
      { "app", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.apps,
        "An app's state (running, stopped, crashed, idle)", "NAME=STATE" } },
    { "evidence",
      { "evidence", 0, 0, G_OPTION_ARG_STRING, &o.evidence,
        "Attestation evidence, a JSON object (default: {})", "JSON" } },
    { "print",
      { "print", 0, 0, G_OPTION_ARG_NONE, &o.print,
        "Print the signed reading (one line of canonical JSON) instead of "
        "posting it",
        NULL } },
    { "from-period",
      { "from", 0, 0, G_OPTION_ARG_STRING, &o.from, "The first period", "P" } },
    { "from-window",
      { "from", 0, 0, G_OPTION_ARG_STRING, &o.from, "The first window", "W" } },
    { "limit",
      { "limit", 0, 0, G_OPTION_ARG_STRING, &o.limit,
        "At most N records (1..1000; the node's default is 100)", "N" } },
    { "status",
      { "status", 0, 0, G_OPTION_ARG_STRING, &o.status,
        strcmp (sub->name, "settlements") == 0
            ? "Only settlements in this status (awaiting_funds, open, "
              "cleared)"
            : "Only withdrawals in this status (requested, done, rejected)",
        "S" } },
  };
  g_auto (GStrv) ids = g_strsplit (sub->options, " ", -1);
  g_autoptr (GArray) entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));
  for (char **id = ids; *id; id++) {
    gboolean found = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS (defs); i++)
      if (strcmp (defs[i].id, *id) == 0) {
        g_array_append_val (entries, defs[i].e);
        found = TRUE;
      }
    g_assert (found);
  }
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      sub->usage, sub->summary,
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 node unreachable.",
      (const GOptionEntry *)(void *)entries->data);
  /* The subcommand first, then every other argument in order. */
  g_autofree char **moved = g_new0 (char *, (gsize)argc + 1);
  int sub_argc = 0;
  moved[sub_argc++] = argv[at];
  for (int i = 1; i < argc; i++)
    if (i != at)
      moved[sub_argc++] = argv[i];
  char **sub_argv = moved;
  char *help_argv[] = { (char *)name, (char *)"--help", NULL };
  if (help_sub) {
    sub_argv = help_argv;
    sub_argc = 2;
  }
  int rc;
  if (!cairn_cli_parse (ctx, &sub_argc, &sub_argv, &rc)) {
    opts_clear (&o);
    return rc;
  }
  /* sub_argv[0] is the subcommand; then its positional parameter. */
  int want = sub->params ? 1 : 0;
  if (sub_argc - 1 < want) {
    opts_clear (&o);
    return cairn_cli_usage ("%s needs %s", sub->name, sub->params);
  }
  if (sub_argc - 1 > want) {
    const char *extra = sub_argv[1 + want];
    opts_clear (&o);
    return cairn_cli_usage ("unexpected argument '%s'", extra);
  }
  if (!(o.timeout > 0) || o.timeout > 86400) {
    opts_clear (&o);
    return cairn_cli_usage ("--timeout must be a number of seconds in (0, "
                            "86400]");
  }
  char *args[2] = { want ? sub_argv[1] : NULL, NULL };
  Ctx c = { .o = &o, .name = sub->name };
  c.home = o.home ? o.home : g_getenv ("CAIRN_HOME");
  if (c.home && *c.home == '\0')
    c.home = NULL;
  if (strstr (sub->options, "node") != NULL) {
    c.url = cairn_client_url_for (c.home, o.node, &c.node_error);
    if (c.url != NULL)
      c.client = cairn_client_new (c.url, (guint)o.timeout + 1, &c.node_error);
  }
  rc = sub->run (&c, args);
  cairn_client_free (c.client);
  g_clear_error (&c.node_error);
  g_free (c.url);
  opts_clear (&o);
  return rc;
}

/* cairn group: the groups privacy plugin's flows from the command line
 * (plugins/groups/README.md).
 *
 *   create --activity T --receiver A... --regulator A
 *                       groups.create; prints the group id, computed here
 *                       from the tx id and checked against the node
 *   publish G --file F  encrypt F for every current member (envelope.h),
 *   update G --file F   send groups.publish / groups.update with the
 *                       commitment, then upload the envelope to the node,
 *                       which stores it and pushes it to the other members
 *   show G [N]          the group; with N, a signed read of version N's
 *                       envelope, checked against the chain and decrypted
 *                       here with this node's X25519 key
 *   members G [--add A | --remove A]
 *   close G
 *   register-key        groups.register_key (for auto_register = false)
 *
 * The plaintext never leaves this process: only the envelope is sent, and
 * a read gets the envelope back, never the payload. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>

#include <cairn/util.h>

#include "cli.h"
/* The envelope is the plugin's own format (plugins/groups). */
#include "envelope.h"

/* Files above this are refused before anything is sent (the chain's
 * max_payload_bytes is at most this). */
#define GROUP_MAX_FILE (3u << 20)
#define GROUP_READ_DOMAIN "cairn.groups.read"
#define GROUP_ID_DOMAIN "cairn.groups.id" /* + its NUL */

typedef struct {
  char *home, *node, *from, *activity, *regulator, *file, *out, *enc_key, *add,
      *remove;
  char **receivers;
  gboolean json;
  double timeout;
} Opts;

static void
opts_clear (Opts *o)
{
  g_free (o->home);
  g_free (o->node);
  g_free (o->from);
  g_free (o->activity);
  g_free (o->regulator);
  g_free (o->file);
  g_free (o->out);
  g_free (o->enc_key);
  g_free (o->add);
  g_free (o->remove);
  g_strfreev (o->receivers);
}

typedef struct {
  Opts *o;
  const char *home;
  CairnClient *client;
  char *url;
} Ctx;

/* ---- helpers ------------------------------------------------------------ */

/* A reply that lacks what the groups plugin documents. */
static gboolean
bad_reply (GError **error, const char *path, const char *what)
{
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
               "GET %s: unexpected reply: %s (is the groups plugin loaded "
               "and of this version?)",
               path, what);
  return FALSE;
}

/* GET /v1/groups/{id}: an object with "members" {addr: role} and an
 * integer "version" >= 0 (the latest; 0 before the first). */
static json_t *
get_group (Ctx *c, const char *gid, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/groups/%s", gid);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) g = cairn_client_get (c->client, path, &local);
  if (g == NULL) {
    if (g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND))
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                   "no group %s on the node at %s (%s)", gid, c->url,
                   local->message);
    else
      g_propagate_error (error, g_steal_pointer (&local));
    return NULL;
  }
  if (!json_is_object (json_object_get (g, "members"))) {
    bad_reply (error, path, "no \"members\" object");
    return NULL;
  }
  json_t *v = json_object_get (g, "version");
  if (!json_is_integer (v) || json_integer_value (v) < 0) {
    bad_reply (error, path, "no non-negative integer \"version\"");
    return NULL;
  }
  return g_steal_pointer (&g);
}

/* The group's record of version n from its "versions" array; checks the
 * fields the reader relies on. Borrowed. */
static json_t *
group_version (const json_t *g, const char *gid, uint64_t n, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/groups/%s", gid);
  size_t i;
  json_t *rec;
  json_array_foreach (json_object_get (g, "versions"), i, rec)
  {
    json_t *v = json_object_get (rec, "version");
    if (!json_is_integer (v) || (uint64_t)json_integer_value (v) != n)
      continue;
    if (!cairn_hex_lower_valid (
            json_string_value (json_object_get (rec, "commitment")), 32)
        || !cairn_hex_lower_valid (
            json_string_value (json_object_get (rec, "keys_hash")), 32)
        || !json_is_integer (json_object_get (rec, "size"))
        || !json_is_array (json_object_get (rec, "recipients"))) {
      bad_reply (error, path,
                 "a \"versions\" record without hex \"commitment\" and "
                 "\"keys_hash\", integer \"size\" and a \"recipients\" array");
      return NULL;
    }
    return rec;
  }
  g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
               "group %s has no version %" G_GUINT64_FORMAT
               " (latest: %" JSON_INTEGER_FORMAT ")",
               gid, n, json_integer_value (json_object_get (g, "version")));
  return NULL;
}

static int
compare_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

/* The members' addresses, sorted (borrowed strings). */
static GPtrArray *
sorted_members (const json_t *g, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new ();
  const char *addr;
  json_t *role;
  json_object_foreach ((json_t *)json_object_get (g, "members"), addr, role)
  {
    if (!cairn_address_valid (addr)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                   "the group lists a member '%s' that is not an address",
                   addr);
      return NULL;
    }
    g_ptr_array_add (out, (gpointer)addr);
  }
  g_ptr_array_sort (out, compare_str);
  return g_steal_pointer (&out);
}

/* GET /v1/groups/keys/{addr} → {"address", "x25519": hex32}. */
static gboolean
fetch_member_key (Ctx *c, const char *addr, uint8_t pk[32], GError **error)
{
  g_autofree char *path = g_strdup_printf ("/v1/groups/keys/%s", addr);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) k = cairn_client_get (c->client, path, &local);
  if (k == NULL) {
    if (g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND)) {
      g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND,
                   "%s has no registered encryption key (%s)", addr,
                   local->message);
      return FALSE;
    }
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (g_strcmp0 (json_string_value (json_object_get (k, "address")), addr) != 0)
    return bad_reply (error, path, "\"address\" is not the one asked for");
  if (!cairn_hex_decode (json_string_value (json_object_get (k, "x25519")), pk,
                         32))
    return bad_reply (error, path, "\"x25519\" is not 64 hex characters");
  return TRUE;
}

/* --enc-key, or DIR/data/groups/enc.pem. */
static char *
enc_key_path (Ctx *c, GError **error)
{
  if (c->o->enc_key)
    return g_strdup (c->o->enc_key);
  if (c->home == NULL) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "missing --home DIR (for DIR/data/groups/enc.pem) or "
                 "--enc-key FILE");
    return NULL;
  }
  return g_build_filename (c->home, "data", "groups", "enc.pem", NULL);
}

static CairnKey *
load_from (Ctx *c, GError **error)
{
  return cairn_cli_load_key (c->home, c->o->from ? c->o->from : "node", NULL,
                             error);
}

/* The whole of a regular file of at most GROUP_MAX_FILE bytes. */
static char *
read_payload (const char *path, gsize *len, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, CAIRN_CLI_ERROR,
                 e == ENOENT ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
                 "--file %s: %s", path, g_strerror (e));
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--file %s: not a regular file", path);
    return NULL;
  }
  if ((guint64)st.st_size > GROUP_MAX_FILE) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--file %s: %" G_GUINT64_FORMAT
                 " bytes; a version holds at most %u bytes (3 MiB, and the "
                 "chain's max_payload_bytes may be lower)",
                 path, (guint64)st.st_size, GROUP_MAX_FILE);
    return NULL;
  }
  char *data = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &data, len, &local)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED, "--file %s: %s",
                 path, local->message);
    return NULL;
  }
  if (*len > GROUP_MAX_FILE) { /* it grew since the stat */
    OPENSSL_cleanse (data, *len);
    g_free (data);
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE,
                 "--file %s: more than %u bytes", path, GROUP_MAX_FILE);
    return NULL;
  }
  return data;
}

/* Send a tx and wait for its commit; 0 when it succeeded. *tx_out (may be
 * NULL) gets the committed tx's JSON. what (may be NULL) is printed with
 * the tx id and height, or the tx's JSON with --json. */
static int
send_tx (Ctx *c, const CairnKey *key, const char *type, const json_t *body,
         const char *what, json_t **tx_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) t = cairn_cli_tx_submit (c->client, key, type, body, NULL,
                                              TRUE, c->o->timeout, &error);
  if (t == NULL) {
    g_prefix_error (&error, "%s: ", type);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  const char *id = json_string_value (json_object_get (t, "id"));
  g_autofree char *why = NULL;
  if (!cairn_client_tx_result_ok (t, &why)) {
    if (c->o->json)
      cairn_cli_print_json (t);
    cairn_cli_printerr (
        "%s refused by the chain (tx %s, height %" JSON_INTEGER_FORMAT "): %s",
        type, id, json_integer_value (json_object_get (t, "height")), why);
    return CAIRN_EXIT_FAILED;
  }
  if (what != NULL) {
    if (c->o->json)
      cairn_cli_print_json (t);
    else
      g_print ("%s: tx %s (height %" JSON_INTEGER_FORMAT ")\n", what, id,
               json_integer_value (json_object_get (t, "height")));
  }
  if (tx_out)
    *tx_out = g_steal_pointer (&t);
  return CAIRN_EXIT_OK;
}

/* hex SHA-256 ("cairn.groups.id" NUL || the 32 raw bytes of the tx id). */
static gboolean
group_id_of_tx (const char *tx_hex, char out[65])
{
  uint8_t buf[sizeof GROUP_ID_DOMAIN + 32], d[32];
  memcpy (buf, GROUP_ID_DOMAIN, sizeof GROUP_ID_DOMAIN);
  if (!cairn_hex_decode (tx_hex, buf + sizeof GROUP_ID_DOMAIN, 32))
    return FALSE;
  cairn_sha256 (buf, sizeof buf, d);
  grp_hex (d, 32, out);
  return TRUE;
}

/* ---- create ------------------------------------------------------------- */

static int
cmd_create (Ctx *c)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->activity == NULL || *o->activity == '\0' || o->receivers == NULL
      || o->receivers[0] == NULL || o->regulator == NULL)
    return cairn_cli_usage ("create needs --activity TYPE, at least one "
                            "--receiver ADDR and --regulator ADDR");
  g_autoptr (json_t) receivers = json_array ();
  for (char **r = o->receivers; *r; r++) {
    g_autofree char *a = cairn_cli_resolve_address (c->home, *r, &error);
    if (a == NULL) {
      g_prefix_error (&error, "--receiver: ");
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    json_array_append_new (receivers, json_string (a));
  }
  g_autofree char *regulator
      = cairn_cli_resolve_address (c->home, o->regulator, &error);
  if (regulator == NULL) {
    g_prefix_error (&error, "--regulator: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (CairnKey) key = load_from (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:O,s:s}", "activity", o->activity, "receivers",
                   receivers, "regulator", regulator);
  g_autoptr (json_t) t = NULL;
  int rc = send_tx (c, key, "groups.create", body, NULL, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  const char *tx = json_string_value (json_object_get (t, "id"));
  char gid[65];
  if (!group_id_of_tx (tx, gid)) {
    cairn_cli_printerr ("the committed tx has no 64-hex \"id\" (got '%s')",
                        tx ? tx : "(none)");
    return CAIRN_EXIT_FAILED;
  }
  /* The chain's groups.created event names the group: it must be ours. */
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (json_object_get (t, "result"), "events"),
                      i, ev)
  {
    const char *g = json_string_value (
        json_object_get (json_object_get (ev, "attrs"), "group"));
    if (g_strcmp0 (json_string_value (json_object_get (ev, "type")),
                   "groups.created")
            == 0
        && g != NULL && strcmp (g, gid) != 0) {
      cairn_cli_printerr ("tx %s created group %s, but the group id of that "
                          "tx is %s: the node and this CLI disagree on the "
                          "id rule",
                          tx, g, gid);
      return CAIRN_EXIT_FAILED;
    }
  }
  g_autoptr (json_t) g = get_group (c, gid, &error);
  if (g == NULL) {
    g_prefix_error (&error, "tx %s committed, but: ", tx);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  const char *reported = json_string_value (json_object_get (g, "id"));
  if (reported != NULL && strcmp (reported, gid) != 0) {
    cairn_cli_printerr ("GET /v1/groups/%s answered with group %s", gid,
                        reported);
    return CAIRN_EXIT_FAILED;
  }
  if (o->json) {
    g_autoptr (json_t) j = json_pack ("{s:s,s:s,s:O}", "group", gid, "tx", tx,
                                      "height", json_object_get (t, "height"));
    cairn_cli_print_json (j);
  } else {
    g_printerr ("group created by tx %s (height %" JSON_INTEGER_FORMAT ")\n",
                tx, json_integer_value (json_object_get (t, "height")));
    g_print ("%s\n", gid);
  }
  return CAIRN_EXIT_OK;
}

/* ---- publish, update ---------------------------------------------------- */

static int
cmd_publish (Ctx *c, const char *gid, gboolean update)
{
  Opts *o = c->o;
  const char *cmd = update ? "update" : "publish";
  g_autoptr (GError) error = NULL;
  if (o->file == NULL)
    return cairn_cli_usage ("%s needs --file FILE", cmd);
  gsize len = 0;
  char *plain = read_payload (o->file, &len, &error);
  if (plain == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (CairnKey) key = load_from (c, &error);
  g_autoptr (json_t) g = key ? get_group (c, gid, &error) : NULL;
  if (g == NULL) {
    OPENSSL_cleanse (plain, len);
    g_free (plain);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  uint64_t latest
      = (uint64_t)json_integer_value (json_object_get (g, "version"));
  const char *refuse = NULL;
  if (json_is_true (json_object_get (g, "closed")))
    refuse = "is closed: no more versions";
  else if (!update && latest != 0)
    refuse = "already has a version; send the next one with 'cairn group "
             "update'";
  else if (update && latest == 0)
    refuse = "has no version yet; send the first with 'cairn group publish'";
  if (refuse) {
    OPENSSL_cleanse (plain, len);
    g_free (plain);
    cairn_cli_printerr ("group %s %s (latest version: %" G_GUINT64_FORMAT ")",
                        gid, refuse, latest);
    return CAIRN_EXIT_FAILED;
  }
  uint64_t version = latest + 1;

  /* Recipients = every current member, with its registered key. */
  g_autoptr (GPtrArray) members = sorted_members (g, &error);
  if (members == NULL || members->len == 0) {
    OPENSSL_cleanse (plain, len);
    g_free (plain);
    if (members != NULL) {
      cairn_cli_printerr ("group %s has no members", gid);
      return CAIRN_EXIT_FAILED;
    }
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree GrpRecipient *rcpt = g_new0 (GrpRecipient, members->len);
  g_autoptr (json_t) recipients = json_array ();
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < members->len; i++) {
    const char *addr = members->pdata[i];
    g_strlcpy (rcpt[i].addr, addr, sizeof rcpt[i].addr);
    json_array_append_new (recipients, json_string (addr));
    ok = fetch_member_key (c, addr, rcpt[i].pk, &error);
  }
  if (!ok)
    g_prefix_error (&error,
                    "cannot encrypt for every member of group %s "
                    "(a node registers its key with 'cairn group "
                    "register-key' or by itself at start): ",
                    gid);
  g_autoptr (GrpEnvelope) sealed
      = ok ? grp_seal (gid, version, rcpt, members->len, plain, len, &error)
           : NULL;
  OPENSSL_cleanse (plain, len);
  g_free (plain);
  if (sealed == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  /* What goes on chain is what a member computes from these bytes. */
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (sealed->bytes, &error);
  if (env == NULL) {
    g_prefix_error (&error, "the envelope just sealed does not parse: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  char commitment[65], keys_hash[65];
  grp_hex (env->commitment, 32, commitment);
  grp_hex (env->keys_hash, 32, keys_hash);
  if (env->size != len || env->version != version
      || strcmp (env->group, gid) != 0) {
    cairn_cli_printerr ("the envelope just sealed does not describe group %s "
                        "version %" G_GUINT64_FORMAT " of %zu bytes",
                        gid, version, (size_t)len);
    return CAIRN_EXIT_FAILED;
  }

  g_autoptr (json_t) body = json_pack (
      "{s:s,s:I,s:s,s:s,s:I,s:O}", "group", gid, "version", (json_int_t)version,
      "commitment", commitment, "keys_hash", keys_hash, "size", (json_int_t)len,
      "recipients", recipients);
  g_autoptr (json_t) t = NULL;
  const char *type = update ? "groups.update" : "groups.publish";
  int rc = send_tx (c, key, type, body, NULL, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  const char *tx = json_string_value (json_object_get (t, "id"));

  /* The envelope, to this (member) node, which pushes it to the others. */
  gsize elen;
  const uint8_t *ebytes = g_bytes_get_data (env->bytes, &elen);
  g_autofree char *b64 = g_base64_encode (ebytes, elen);
  g_autoptr (json_t) up = json_pack ("{s:s}", "envelope", b64);
  g_autofree char *upbody = json_dumps (up, JSON_COMPACT);
  g_autofree char *path = g_strdup_printf ("/v1/groups/%s/envelopes", gid);
  g_autoptr (json_t) reply = upbody
                                 ? cairn_client_post (c->client, path, upbody,
                                                      strlen (upbody), &error)
                                 : NULL;
  if (reply == NULL) {
    cairn_cli_printerr (
        "version %" G_GUINT64_FORMAT " of group %s is on chain (tx %s, "
        "commitment %s), but the node at %s did not take its envelope: %s. "
        "The members cannot get this version; publish the file again as the "
        "next version with 'cairn group update' through a member node "
        "(--node URL)",
        version, gid, tx, commitment, c->url,
        error ? error->message : "the body could not be encoded");
    return error ? cairn_cli_exit_code (error) : CAIRN_EXIT_FAILED;
  }
  if (o->json) {
    g_autoptr (json_t) j = json_pack (
        "{s:s,s:I,s:s,s:s,s:I,s:O,s:s,s:O}", "group", gid, "version",
        (json_int_t)version, "commitment", commitment, "keys_hash", keys_hash,
        "size", (json_int_t)len, "recipients", recipients, "tx", tx, "height",
        json_object_get (t, "height"));
    cairn_cli_print_json (j);
  } else {
    cairn_cli_print_field ("group", "%s", gid);
    cairn_cli_print_field ("version", "%" G_GUINT64_FORMAT, version);
    cairn_cli_print_field ("commitment", "%s", commitment);
    cairn_cli_print_field ("size", "%zu", (size_t)len);
    cairn_cli_print_field ("recipients", "%u", members->len);
    cairn_cli_print_field ("tx", "%s (height %" JSON_INTEGER_FORMAT ")", tx,
                           json_integer_value (json_object_get (t, "height")));
  }
  return CAIRN_EXIT_OK;
}

/* ---- show --------------------------------------------------------------- */

static void
print_members (const json_t *g)
{
  g_autoptr (GPtrArray) members = sorted_members (g, NULL);
  for (guint i = 0; members && i < members->len; i++) {
    g_autofree char *role = cairn_cli_json_text (
        json_object_get (json_object_get (g, "members"), members->pdata[i]));
    g_print ("  %s  %s\n", (const char *)members->pdata[i], role);
  }
}

static int
show_group (Ctx *c, const char *gid)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) g = get_group (c, gid, &error);
  if (g == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->o->json) {
    cairn_cli_print_json (g);
    return CAIRN_EXIT_OK;
  }
  g_autofree char *activity
      = cairn_cli_json_text (json_object_get (g, "activity"));
  cairn_cli_print_field ("group", "%s", gid);
  cairn_cli_print_field ("activity", "%s", activity);
  cairn_cli_print_field ("closed", "%s",
                         json_is_true (json_object_get (g, "closed")) ? "yes"
                                                                      : "no");
  cairn_cli_print_field ("members", "%zu",
                         json_object_size (json_object_get (g, "members")));
  print_members (g);
  cairn_cli_print_field ("versions", "%" JSON_INTEGER_FORMAT,
                         json_integer_value (json_object_get (g, "version")));
  size_t i;
  json_t *rec;
  json_array_foreach (json_object_get (g, "versions"), i, rec)
  {
    g_autofree char *v = cairn_cli_json_text (json_object_get (rec, "version"));
    g_autofree char *cm
        = cairn_cli_json_text (json_object_get (rec, "commitment"));
    g_autofree char *sz = cairn_cli_json_text (json_object_get (rec, "size"));
    g_autofree char *h = cairn_cli_json_text (json_object_get (rec, "height"));
    g_print ("  %s  %s  %s bytes  height %s  %s\n", v, cm, sz, h,
             json_is_true (json_object_get (rec, "held")) ? "held here"
                                                          : "not held here");
  }
  return CAIRN_EXIT_OK;
}

/* canonical {"group","reader","timestamp","version"}, signed. */
static char *
read_query (const CairnKey *key, const char *gid, uint64_t version,
            GError **error)
{
  const char *reader = cairn_key_address (key);
  gint64 ts = g_get_real_time () / 1000;
  g_autoptr (json_t) m
      = json_pack ("{s:s,s:s,s:I,s:I}", "group", gid, "reader", reader,
                   "timestamp", (json_int_t)ts, "version", (json_int_t)version);
  size_t mlen;
  g_autofree char *msg = cairn_cjson_dump (m, &mlen, error);
  if (msg == NULL)
    return NULL;
  uint8_t sig[64];
  cairn_key_sign (key, GROUP_READ_DOMAIN, msg, mlen, sig);
  g_autofree char *sh = cairn_hex_encode (sig, 64);
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
  return g_strdup_printf ("reader=%s&pubkey=%s&timestamp=%" G_GINT64_FORMAT
                          "&sig=%s",
                          reader, pk, ts, sh);
}

/* TRUE when env is what rec (the on-chain record of gid's version) says:
 * group, version, commitment, keys_hash, size, recipients and (when the
 * record has them) their keys. */
static gboolean
envelope_matches (const GrpEnvelope *env, const char *gid, uint64_t version,
                  const json_t *rec)
{
  char commitment[65], keys_hash[65];
  grp_hex (env->commitment, 32, commitment);
  grp_hex (env->keys_hash, 32, keys_hash);
  const json_t *rr = json_object_get (rec, "recipients");
  if (strcmp (env->group, gid) != 0 || env->version != version
      || g_strcmp0 (commitment,
                    json_string_value (json_object_get (rec, "commitment")))
             != 0
      || g_strcmp0 (keys_hash,
                    json_string_value (json_object_get (rec, "keys_hash")))
             != 0
      || env->size > (uint64_t)G_MAXINT64
      || (json_int_t)env->size
             != json_integer_value (json_object_get (rec, "size"))
      || json_array_size (rr) != env->n_recipients)
    return FALSE;
  /* "keys" {addr: x25519 hex}: the keys the chain wrapped for. */
  const json_t *keys = json_object_get (rec, "keys");
  for (size_t i = 0; i < env->n_recipients; i++) {
    const char *a = env->recipients[i].addr;
    char pk[65];
    grp_hex (env->recipients[i].pk, 32, pk);
    if (g_strcmp0 (json_string_value (json_array_get (rr, i)), a) != 0
        || (keys != NULL
            && g_strcmp0 (json_string_value (json_object_get (keys, a)), pk)
                   != 0))
      return FALSE;
  }
  return TRUE;
}

/* The signed read of version n's envelope as key's address, checked
 * against rec (its on-chain record) before anything else. */
static GrpEnvelope *
read_envelope (Ctx *c, const CairnKey *key, const char *gid, uint64_t version,
               const json_t *rec, GError **error)
{
  g_autofree char *query = read_query (key, gid, version, error);
  if (query == NULL)
    return NULL;
  g_autofree char *path = g_strdup_printf (
      "/v1/groups/%s/activities/%" G_GUINT64_FORMAT "?%s", gid, version, query);
  guint status = 0;
  g_autoptr (json_t) r
      = cairn_client_call (c->client, "GET", path, NULL, 0, &status, error);
  if (r == NULL)
    return NULL;
  if (status != 200) {
    /* The path holds the signature: name the read, not the URL. */
    const json_t *e = json_object_get (r, "error");
    const char *code = json_string_value (json_object_get (e, "code"));
    const char *msg = json_string_value (json_object_get (e, "message"));
    g_set_error (error, CAIRN_CLI_ERROR,
                 status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
                 "reading version %" G_GUINT64_FORMAT
                 " of group %s as %s from %s: "
                 "HTTP %u %s: %s",
                 version, gid, cairn_key_address (key), c->url, status,
                 code ? code : "error", msg ? msg : "(no message)");
    return NULL;
  }
  const char *b64 = json_string_value (json_object_get (r, "envelope"));
  if (b64 == NULL
      || g_strcmp0 (json_string_value (json_object_get (r, "group")), gid) != 0
      || !json_equal (json_object_get (r, "version"),
                      json_object_get (rec, "version"))
      || !json_equal (json_object_get (r, "commitment"),
                      json_object_get (rec, "commitment"))
      || !json_equal (json_object_get (r, "size"),
                      json_object_get (rec, "size"))) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "the node's reply for version %" G_GUINT64_FORMAT
                 " of group %s has no \"envelope\" or does not match the "
                 "on-chain record (group, version, commitment, size)",
                 version, gid);
    return NULL;
  }
  gsize len = 0;
  guchar *raw = g_base64_decode (b64, &len);
  g_autoptr (GBytes) bytes = g_bytes_new_take (raw, len);
  g_autoptr (GrpEnvelope) env = grp_envelope_parse (bytes, error);
  if (env == NULL) {
    g_prefix_error (
        error,
        "the envelope of version %" G_GUINT64_FORMAT " of group %s: ", version,
        gid);
    return NULL;
  }
  if (!envelope_matches (env, gid, version, rec)) {
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "the envelope the node sent for version %" G_GUINT64_FORMAT
                 " of group %s does not match the on-chain record (group, "
                 "version, commitment, keys_hash, size, recipients or "
                 "keys): "
                 "refusing it",
                 version, gid);
    return NULL;
  }
  return g_steal_pointer (&env);
}

/* Write the plaintext to --out (mode 0600) or stdout, and the metadata. */
static gboolean
emit_plaintext (Ctx *c, const GrpEnvelope *env, GBytes *plain, GError **error)
{
  Opts *o = c->o;
  gsize len;
  const void *data = g_bytes_get_data (plain, &len);
  char commitment[65];
  grp_hex (env->commitment, 32, commitment);
  if (o->out
      && !g_file_set_contents_full (o->out, data, (gssize)len,
                                    G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                    error)) {
    g_prefix_error (error, "--out: ");
    return FALSE;
  }
  if (o->json) {
    g_autoptr (json_t) j
        = json_pack ("{s:s,s:I,s:s,s:I}", "group", env->group, "version",
                     (json_int_t)env->version, "commitment", commitment, "size",
                     (json_int_t)len);
    if (o->out)
      json_object_set_new (j, "file", json_string (o->out));
    cairn_cli_print_json (j);
  } else if (o->out) {
    cairn_cli_print_field ("group", "%s", env->group);
    cairn_cli_print_field ("version", "%" G_GUINT64_FORMAT, env->version);
    cairn_cli_print_field ("commitment", "%s", commitment);
    cairn_cli_print_field ("size", "%zu", (size_t)len);
    cairn_cli_print_field ("file", "%s", o->out);
  } else if ((len > 0 && fwrite (data, 1, len, stdout) != len)
             || fflush (stdout) != 0) {
    int e = errno;
    g_set_error (error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "writing the plaintext to stdout: %s", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

static int
show_version (Ctx *c, const char *gid, uint64_t version)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = load_from (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const char *reader = cairn_key_address (key);
  g_autofree char *enc_path = enc_key_path (c, &error);
  if (enc_path == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  uint8_t priv[32];
  if (!grp_key_load (enc_path, priv, &error)) {
    g_prefix_error (&error, "the encryption key: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  /* The on-chain record first: everything the node sends is checked
   * against it. */
  g_autoptr (json_t) g = get_group (c, gid, &error);
  const json_t *rec = g ? group_version (g, gid, version, &error) : NULL;
  g_autoptr (GrpEnvelope) env
      = rec ? read_envelope (c, key, gid, version, rec, &error) : NULL;
  g_autoptr (GBytes) plain = env ? grp_open (env, reader, priv, &error) : NULL;
  OPENSSL_cleanse (priv, sizeof priv);
  if (env != NULL && plain == NULL) {
    /* Not "not found": the version exists, this key cannot open it. */
    g_autoptr (GError) why = g_steal_pointer (&error);
    g_set_error (&error, CAIRN_CLI_ERROR, CAIRN_EXIT_FAILED,
                 "decrypting version %" G_GUINT64_FORMAT " as %s with %s: %s",
                 version, reader, enc_path, why->message);
  }
  gboolean ok = plain != NULL && emit_plaintext (c, env, plain, &error);
  if (plain != NULL) {
    gsize len;
    const void *p = g_bytes_get_data (plain, &len);
    if (p != NULL)
      OPENSSL_cleanse ((void *)p, len);
  }
  return ok ? CAIRN_EXIT_OK : cairn_cli_fail (g_steal_pointer (&error));
}

/* ---- members, close, register-key --------------------------------------- */

static int
cmd_members (Ctx *c, const char *gid)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (o->add && o->remove)
    return cairn_cli_usage ("give --add or --remove, not both");
  if (o->add == NULL && o->remove == NULL) {
    g_autoptr (json_t) g = get_group (c, gid, &error);
    if (g == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    if (o->json) {
      g_autoptr (json_t) j = json_pack ("{s:s,s:O}", "group", gid, "members",
                                        json_object_get (g, "members"));
      cairn_cli_print_json (j);
    } else
      print_members (g);
    return CAIRN_EXIT_OK;
  }
  g_autofree char *member = cairn_cli_resolve_address (
      c->home, o->add ? o->add : o->remove, &error);
  if (member == NULL) {
    g_prefix_error (&error, "%s: ", o->add ? "--add" : "--remove");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autoptr (CairnKey) key = load_from (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body
      = json_pack ("{s:s,s:s}", "group", gid, "member", member);
  return send_tx (c, key, o->add ? "groups.add_member" : "groups.remove_member",
                  body, o->add ? "member added" : "member removed", NULL);
}

static int
cmd_close (Ctx *c, const char *gid)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = load_from (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) body = json_pack ("{s:s}", "group", gid);
  return send_tx (c, key, "groups.close", body, "group closed", NULL);
}

static int
cmd_register_key (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = load_from (c, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *path = enc_key_path (c, &error);
  if (path == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  uint8_t priv[32], pub[32];
  gboolean ok
      = grp_key_load (path, priv, &error) && grp_key_public (priv, pub, &error);
  OPENSSL_cleanse (priv, sizeof priv);
  if (!ok) {
    g_prefix_error (&error, "the encryption key: ");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  char hex[65];
  grp_hex (pub, 32, hex);
  const char *addr = cairn_key_address (key);

  /* Already registered: the same key is done, another one is refused. */
  uint8_t have[32];
  if (fetch_member_key (c, addr, have, &error)) {
    if (memcmp (have, pub, 32) != 0) {
      char other[65];
      grp_hex (have, 32, other);
      cairn_cli_printerr ("%s already has another encryption key on chain "
                          "(%s, not %s from %s); key rotation is not "
                          "supported",
                          addr, other, hex, path);
      return CAIRN_EXIT_FAILED;
    }
    if (c->o->json) {
      g_autoptr (json_t) j = json_pack ("{s:s,s:s,s:b}", "address", addr,
                                        "x25519", hex, "registered", 1);
      cairn_cli_print_json (j);
    } else
      g_print ("%s: encryption key %s already registered\n", addr, hex);
    return CAIRN_EXIT_OK;
  }
  if (!g_error_matches (error, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_clear_error (&error);
  g_autoptr (json_t) body = json_pack ("{s:s}", "x25519", hex);
  return send_tx (c, key, "groups.register_key", body, "key registered", NULL);
}

/* ---- the command -------------------------------------------------------- */

int
cairn_cmd_group (int argc, char **argv)
{
  Opts o = { .timeout = 30 };
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &o.home,
      "Node home: its keys, encryption key and [http] listen (default: "
      "$CAIRN_HOME)",
      "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &o.node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "from", 0, 0, G_OPTION_ARG_FILENAME, &o.from,
      "Signing key and member: a NAME in DIR/keys or a PEM file (default: "
      "node)",
      "KEY" },
    { "activity", 0, 0, G_OPTION_ARG_STRING, &o.activity,
      "create: the business activity, e.g. trade.order", "TYPE" },
    { "receiver", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.receivers,
      "create: a receiving node (repeat for more)", "ADDR" },
    { "regulator", 0, 0, G_OPTION_ARG_STRING, &o.regulator,
      "create: the activity's regulator node", "ADDR" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &o.file,
      "publish/update: the activity data (at most 3 MiB)", "FILE" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &o.out,
      "show G N: write the plaintext to FILE (mode 0600) instead of stdout",
      "FILE" },
    { "enc-key", 0, 0, G_OPTION_ARG_FILENAME, &o.enc_key,
      "show G N, register-key: the X25519 key (default: "
      "DIR/data/groups/enc.pem)",
      "FILE" },
    { "add", 0, 0, G_OPTION_ARG_STRING, &o.add, "members: add this receiver",
      "ADDR" },
    { "remove", 0, 0, G_OPTION_ARG_STRING, &o.remove,
      "members: remove this receiver", "ADDR" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout,
      "Seconds to wait for a tx's commit and for each request (default: 30)",
      "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "COMMAND [GROUP [VERSION]]",
      "Node groups: encrypted activity data shared only with its members.",
      "Commands:\n"
      "  create --activity TYPE --receiver ADDR [--receiver ADDR...] "
      "--regulator ADDR\n"
      "                    send groups.create; prints the group id\n"
      "  publish GROUP --file FILE\n"
      "                    encrypt FILE for every member, send "
      "groups.publish (version 1)\n"
      "                    and upload the envelope to the node\n"
      "  update GROUP --file FILE\n"
      "                    the same as the next version (groups.update)\n"
      "  show GROUP        the group: activity, members, versions\n"
      "  show GROUP VERSION [--out FILE]\n"
      "                    read the version as --from and decrypt it with "
      "--enc-key;\n"
      "                    the plaintext goes to FILE or stdout (with "
      "--json, only\n"
      "                    to FILE; stdout gets the metadata)\n"
      "  members GROUP [--add ADDR | --remove ADDR]\n"
      "                    list the members, or add/remove a receiver\n"
      "  close GROUP       no more versions or member changes\n"
      "  register-key      register DIR/data/groups/enc.pem on chain (for\n"
      "                    nodes with [groups] auto_register = false)\n"
      "GROUP is 64 lowercase hex characters; ADDR an address or a key NAME "
      "in DIR/keys.\n"
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    opts_clear (&o);
    return rc;
  }
  const char *cmd = argc > 1 ? argv[1] : NULL;
  static const char *const with_group[]
      = { "publish", "update", "show", "members", "close", NULL };
  static const char *const without[] = { "create", "register-key", NULL };
  if (cmd == NULL) {
    opts_clear (&o);
    return cairn_cli_usage ("missing command: create, publish, update, show, "
                            "members, close, register-key");
  }
  gboolean needs_group = g_strv_contains (with_group, cmd);
  if (!needs_group && !g_strv_contains (without, cmd)) {
    opts_clear (&o);
    return cairn_cli_usage ("unknown group command '%s' (create, publish, "
                            "update, show, members, close, register-key)",
                            cmd);
  }
  int max_args = strcmp (cmd, "show") == 0 ? 4 : needs_group ? 3 : 2;
  const char *gid = needs_group && argc > 2 ? argv[2] : NULL;
  uint64_t version = 0;
  const char *bad = NULL;
  g_autofree char *bad_msg = NULL;
  if (argc > max_args)
    bad_msg = g_strdup_printf ("unexpected argument '%s'", argv[max_args]);
  else if (needs_group && gid == NULL)
    bad_msg = g_strdup_printf ("%s needs a GROUP id", cmd);
  else if (gid && !cairn_hex_lower_valid (gid, 32))
    bad_msg = g_strdup_printf ("GROUP '%s' is not a group id (64 lowercase "
                               "hex characters)",
                               gid);
  else if (argc == 4
           && !g_ascii_string_to_unsigned (argv[3], 10, 1, G_MAXINT64, &version,
                                           NULL))
    bad_msg = g_strdup_printf ("VERSION '%s' is not a version number (an "
                               "integer >= 1)",
                               argv[3]);
  else if (!(o.timeout > 0) || o.timeout > 86400)
    bad = "--timeout must be a number of seconds in (0, 86400]";
  else if (o.out && version == 0)
    bad = "--out needs a VERSION: show GROUP VERSION --out FILE";
  if (bad || bad_msg) {
    opts_clear (&o);
    return cairn_cli_usage ("%s", bad ? bad : bad_msg);
  }

  Ctx c = { .o = &o, .home = o.home ? o.home : g_getenv ("CAIRN_HOME") };
  if (c.home && *c.home == '\0')
    c.home = NULL;
  g_autoptr (GError) error = NULL;
  c.url = cairn_client_url_for (c.home, o.node, &error);
  if (c.url != NULL)
    c.client = cairn_client_new (c.url, (guint)o.timeout + 1, &error);
  if (c.client == NULL) {
    g_free (c.url);
    opts_clear (&o);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (strcmp (cmd, "create") == 0)
    rc = cmd_create (&c);
  else if (strcmp (cmd, "publish") == 0)
    rc = cmd_publish (&c, gid, FALSE);
  else if (strcmp (cmd, "update") == 0)
    rc = cmd_publish (&c, gid, TRUE);
  else if (strcmp (cmd, "show") == 0)
    rc = version ? show_version (&c, gid, version) : show_group (&c, gid);
  else if (strcmp (cmd, "members") == 0)
    rc = cmd_members (&c, gid);
  else if (strcmp (cmd, "close") == 0)
    rc = cmd_close (&c, gid);
  else
    rc = cmd_register_key (&c);
  cairn_client_free (c.client);
  g_free (c.url);
  opts_clear (&o);
  return rc;
}

/* cairn im: the im plugin's flows from the command line
 * (plugins/im/README.md). Every command acts as one local user, --as NAME,
 * whose keys are DIR/keys/im-NAME.pem (Ed25519: the identity, which is also
 * the user's account) and DIR/keys/im-NAME.x25519.pem (X25519: receives
 * the message keys).
 *
 *   register NAME [--profile k=v ...]
 *                     make the two keys when absent (never overwriting a
 *                     file), sign the registration request, post it to the
 *                     node (a registrar), wait for the certificate
 *   bind | accept | reject | unbind | confirm-unbind USER
 *                     the contact txs, signed with the identity key
 *   contacts          contacts and pending requests
 *   send USER (--text T | --file F)
 *                     seal for USER and for oneself (imcrypt.h), streamed
 *                     into a temporary file; upload the ciphertext to the
 *                     node's blob store; sign the message and send im.send
 *                     through POST /v1/im/messages; wait for the commit
 *   inbox | outbox [--after SEQ] [--limit N]
 *   get SEQ [--sent] [--out FILE]
 *                     check the record's signature, fetch the ciphertext
 *                     through the node (which gets it from the storing
 *                     node over P2P), check its SHA-256, decrypt here
 *   chat USER         send each line of stdin as a text message and print
 *                     USER's messages as they commit (GET /v1/im/stream)
 *
 * USER is a registered name or an address. No plaintext and no private key
 * leaves this process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cairn/util.h>

#include "cli.h"
#include "envelope.h" /* X25519 key files: grp_key_* */
#include "imcrypt.h"  /* the content format, shared with the plugin */
#include "tx.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)

/* What the plugin fixes (plugins/im/README.md). */
#define IMC_DOMAIN_REGISTER "cairn.im.register"
#define IMC_DOMAIN_MESSAGE "cairn.im.message"
#define IMC_NAME_MIN 3
#define IMC_NAME_MAX 32
#define IMC_PROFILE_FIELDS 8
#define IMC_PROFILE_KEY_MAX 32
#define IMC_PROFILE_VALUE_MAX 128
#define IMC_PAGE 1000 /* records per inbox request (the node's maximum) */
/* Here only. */
#define IMC_CHUNK (64u << 10)
#define IMC_SMALL_BODY (64u << 10) /* a JSON answer read whole */
#define IMC_SHOW_MAX (1u << 20)    /* chat and --json show texts up to this */
#define IMC_POLL_US (300 * 1000)   /* while the node answers 202 */
#define IMC_STREAM_IDLE_S 45 /* the node pings every 15 s: reconnect after */

typedef struct {
  char *home, *node, *as, *text, *file, *out, *after, *limit;
  char **profile;
  gboolean json, sent;
  double timeout;
} Opts;

static void
opts_clear (Opts *o)
{
  char **all[] = { &o->home, &o->node, &o->as,    &o->text,
                   &o->file, &o->out,  &o->after, &o->limit };
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], g_free);
  g_clear_pointer (&o->profile, g_strfreev);
}

typedef struct {
  Opts *o;
  const char *home;
  char *url;
  CairnClient *client; /* JSON requests; time out after --timeout */
  SoupSession *soup;   /* content downloads (202 answers); made on demand */
  /* The --as user, once loaded. */
  char *name;
  CairnKey *key;
  uint8_t enc_priv[32], enc_pub[32];
  char *store;       /* this node's address (GET /v1/status "node") */
  GHashTable *names; /* address -> name ("" when not a user) */
} Ctx;

static void
ctx_clear (Ctx *c)
{
  cairn_client_free (c->client);
  g_clear_object (&c->soup);
  g_free (c->url);
  g_free (c->name);
  g_clear_pointer (&c->key, cairn_key_free);
  OPENSSL_cleanse (c->enc_priv, sizeof c->enc_priv);
  g_free (c->store);
  g_clear_pointer (&c->names, g_hash_table_unref);
}

/* ---- helpers ------------------------------------------------------------ */

/* A reply that lacks what the im plugin documents. request is "GET" and
 * a path, or "METHOD /path" whole (path NULL). */
static gboolean
bad_reply (GError **error, const char *request, const char *path,
           const char *what)
{
  return cairn_cli_set_error (
      error, CAIRN_EXIT_FAILED,
      "%s%s%s: unexpected reply: %s (is the im plugin loaded "
      "and of this version?)",
      request, path ? " " : "", path ? path : "", what);
}

static gboolean
name_valid (const char *name)
{
  size_t n = name ? strlen (name) : 0;
  if (n < IMC_NAME_MIN || n > IMC_NAME_MAX)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_islower (name[i]) && !g_ascii_isdigit (name[i])
        && name[i] != '_' && name[i] != '.' && name[i] != '-')
      return FALSE;
  return TRUE;
}

/* A whole number in [min, max] (digits only). */
static gboolean
parse_u64 (const char *what, const char *s, uint64_t min, uint64_t max,
           uint64_t *out, GError **error)
{
  guint64 v;
  if (s == NULL || strspn (s, "0123456789") != strlen (s) || *s == '\0'
      || !g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL))
    return cairn_cli_set_error (
        error, CAIRN_EXIT_USAGE,
        "%s: '%s' is not a whole number from %" G_GUINT64_FORMAT
        " to %" G_GUINT64_FORMAT,
        what, s ? s : "", min, max);
  *out = v;
  return TRUE;
}

static const char *
jstr (const json_t *o, const char *k)
{
  return json_string_value (json_object_get (o, k));
}

static char *
escape (const char *s)
{
  return g_uri_escape_string (s, NULL, FALSE);
}

/* DIR/keys/im-NAME.pem or DIR/keys/im-NAME.x25519.pem. */
static char *
key_file (const char *home, const char *name, gboolean enc)
{
  g_autofree char *file
      = g_strdup_printf ("im-%s%s.pem", name, enc ? ".x25519" : "");
  return g_build_filename (home, "keys", file, NULL);
}

static const char *
my_addr (Ctx *c)
{
  return cairn_key_address (c->key);
}

/* "hh:mm" (today) or "YYYY-MM-DD hh:mm" of a timestamp in ms; g_free. */
static char *
format_time (json_int_t ms, gboolean full)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (ms / 1000);
  if (t == NULL)
    return g_strdup ("?");
  return g_date_time_format (t, full ? "%Y-%m-%d %H:%M:%S" : "%H:%M");
}

/* A decrypted text as a JSON string; null when it is not UTF-8. */
static json_t *
text_json (const char *d, size_t n)
{
  if (n == 0)
    return json_string ("");
  return g_utf8_validate (d, (gssize)n, NULL) ? json_stringn (d, n)
                                              : json_null ();
}

/* Load --as: the identity key, and with need_enc the X25519 key. */
static gboolean
load_identity (Ctx *c, gboolean need_enc, GError **error)
{
  const char *name = c->o->as;
  if (name == NULL)
    return cairn_cli_set_error (
        error, CAIRN_EXIT_USAGE,
        "missing --as NAME (the local im user whose keys are "
        "DIR/keys/im-NAME.pem)");
  if (!name_valid (name))
    return cairn_cli_set_error (
        error, CAIRN_EXIT_USAGE,
        "--as '%s' is not a user name (%d-%d of a-z 0-9 _ . -)", name,
        IMC_NAME_MIN, IMC_NAME_MAX);
  if (c->home == NULL)
    return cairn_cli_set_error (
        error, CAIRN_EXIT_USAGE,
        "missing --home DIR (its keys/ holds im-%s.pem)", name);
  g_autofree char *path = key_file (c->home, name, FALSE);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return cairn_cli_set_error (
        error, CAIRN_EXIT_NOT_FOUND,
        "no im user '%s' here: %s does not exist (make it with "
        "'cairn im register %s --home %s')",
        name, path, name, c->home);
  c->key = cairn_key_load (path, error);
  if (c->key == NULL)
    return FALSE;
  c->name = g_strdup (name);
  if (!need_enc)
    return TRUE;
  g_autofree char *epath = key_file (c->home, name, TRUE);
  if (!grp_key_load (epath, c->enc_priv, error)
      || !grp_key_public (c->enc_priv, c->enc_pub, error)) {
    g_prefix_error (error, "the encryption key of '%s': ", name);
    return FALSE;
  }
  return TRUE;
}

/* GET /v1/im/users/{who}: the certificate, checked for what this client
 * relies on: string "name", "address" (the address of "pubkey"), 64-hex
 * "pubkey" and "enc_pubkey", integer "enc_version", boolean "revoked".
 * Absent: NULL with *error unset when optional, else NOT_FOUND. */
static json_t *
get_user_opt (Ctx *c, const char *who, gboolean optional, GError **error)
{
  g_autofree char *esc = escape (who);
  g_autofree char *path = g_strconcat ("/v1/im/users/", esc, NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (json_t) u = cairn_client_get (c->client, path, &local);
  if (u == NULL) {
    if (!g_error_matches (local, CAIRN_CLI_ERROR, CAIRN_EXIT_NOT_FOUND))
      g_propagate_error (error, g_steal_pointer (&local));
    else if (!optional)
      cairn_cli_set_error (error, CAIRN_EXIT_NOT_FOUND,
                           "no im user '%s' on the node at %s (%s)", who,
                           c->url, local->message);
    return NULL;
  }
  const char *name = jstr (u, "name"), *addr = jstr (u, "address"),
             *pk = jstr (u, "pubkey");
  uint8_t pub[32];
  char derived[41];
  if (name == NULL || !cairn_address_valid (addr)
      || !cairn_hex_lower_valid (pk, 32)
      || !cairn_hex_lower_valid (jstr (u, "enc_pubkey"), 32)
      || !json_is_integer (json_object_get (u, "enc_version"))
      || !json_is_boolean (json_object_get (u, "revoked"))) {
    bad_reply (error, "GET", path,
               "a certificate without string \"name\", \"address\", 64-hex "
               "\"pubkey\" and \"enc_pubkey\", integer \"enc_version\" and "
               "boolean \"revoked\"");
    return NULL;
  }
  cairn_hex_decode (pk, pub, 32);
  cairn_address_from_pubkey (pub, derived);
  if (strcmp (derived, addr) != 0
      || (strcmp (who, addr) != 0 && strcmp (who, name) != 0)) {
    bad_reply (error, "GET", path,
               "the certificate is not of the user asked for, or its "
               "\"pubkey\" is not the key of its \"address\"");
    return NULL;
  }
  if (c->names)
    g_hash_table_replace (c->names, g_strdup (addr), g_strdup (name));
  return g_steal_pointer (&u);
}

/* USER: a name or an address, looked up; revoked users are refused when
 * usable is set (they can neither send nor receive). */
static json_t *
resolve_user (Ctx *c, const char *who, gboolean usable, GError **error)
{
  if (!cairn_address_valid (who) && !name_valid (who)) {
    cairn_cli_set_error (
        error, CAIRN_EXIT_USAGE,
        "USER '%s' is neither a user name (%d-%d of a-z 0-9 _ . -) nor "
        "an address (40 lowercase hex)",
        who, IMC_NAME_MIN, IMC_NAME_MAX);
    return NULL;
  }
  g_autoptr (json_t) u = get_user_opt (c, who, FALSE, error);
  if (u != NULL && usable && json_is_true (json_object_get (u, "revoked"))) {
    cairn_cli_set_error (
        error, CAIRN_EXIT_FAILED,
        "the im user '%s' (%s) is revoked: it can neither send nor "
        "receive",
        jstr (u, "name"), jstr (u, "address"));
    return NULL;
  }
  return g_steal_pointer (&u);
}

/* The name of a user, for display; NULL when the address is not one. */
static const char *
name_of (Ctx *c, const char *addr)
{
  if (c->names == NULL)
    c->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const char *n = g_hash_table_lookup (c->names, addr);
  if (n == NULL) {
    g_autoptr (json_t) u = cairn_address_valid (addr)
                               ? get_user_opt (c, addr, TRUE, NULL)
                               : NULL;
    if (u == NULL)
      g_hash_table_replace (c->names, g_strdup (addr), g_strdup (""));
    n = g_hash_table_lookup (c->names, addr);
  }
  return n && *n ? n : NULL;
}

/* This node's address: GET /v1/status "node" (where uploads are stored). */
static const char *
node_address (Ctx *c, GError **error)
{
  if (c->store)
    return c->store;
  g_autoptr (json_t) st = cairn_client_get (c->client, "/v1/status", error);
  if (st == NULL)
    return NULL;
  if (!cairn_address_valid (jstr (st, "node"))) {
    cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                         "GET /v1/status: no \"node\" address in the reply");
    return NULL;
  }
  c->store = g_strdup (jstr (st, "node"));
  return c->store;
}

/* Send a tx signed by the --as key and wait for its commit; 0 when it
 * succeeded, with *tx_out (may be NULL) the committed tx's JSON. Failures
 * are printed (the chain's reason). */
static int
send_tx (Ctx *c, const char *type, const json_t *body, json_t **tx_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) t = cairn_cli_tx_submit (
      c->client, c->key, type, body, NULL, TRUE, c->o->timeout, &error);
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
        type, jstr (t, "id"),
        json_integer_value (json_object_get (t, "height")), why);
    return CAIRN_EXIT_FAILED;
  }
  if (tx_out)
    *tx_out = g_steal_pointer (&t);
  return CAIRN_EXIT_OK;
}

/* ---- register ----------------------------------------------------------- */

/* --profile k=v ... → an object, or NULL (with *error unset) when none. */
static gboolean
parse_profile (char **items, json_t **out, GError **error)
{
  g_autoptr (json_t) p = json_object ();
  for (char **it = items; it && *it; it++) {
    const char *eq = strchr (*it, '=');
    if (eq == NULL)
      return cairn_cli_set_error (
          error, CAIRN_EXIT_USAGE,
          "--profile '%s': expected KEY=VALUE, e.g. city=Oslo", *it);
    g_autofree char *k = g_strndup (*it, eq - *it);
    const char *v = eq + 1;
    gboolean ok = *k != '\0' && strlen (k) <= IMC_PROFILE_KEY_MAX;
    for (const char *s = k; ok && *s; s++)
      ok = g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_';
    if (!ok)
      return cairn_cli_set_error (
          error, CAIRN_EXIT_USAGE,
          "--profile '%s': the field name must be 1-%d of "
          "a-z 0-9 _",
          *it, IMC_PROFILE_KEY_MAX);
    if (strlen (v) > IMC_PROFILE_VALUE_MAX || !g_utf8_validate (v, -1, NULL))
      return cairn_cli_set_error (
          error, CAIRN_EXIT_USAGE,
          "--profile %s: the value must be at most %d bytes of "
          "UTF-8",
          k, IMC_PROFILE_VALUE_MAX);
    if (json_object_get (p, k) != NULL)
      return cairn_cli_set_error (error, CAIRN_EXIT_USAGE,
                                  "--profile %s given twice", k);
    json_object_set_new (p, k, json_string (v));
  }
  if (json_object_size (p) > IMC_PROFILE_FIELDS)
    return cairn_cli_set_error (error, CAIRN_EXIT_USAGE,
                                "--profile: at most %d fields (got %zu)",
                                IMC_PROFILE_FIELDS, json_object_size (p));
  *out = json_object_size (p) ? g_steal_pointer (&p) : NULL;
  return TRUE;
}

static void
print_user (Ctx *c, const json_t *cert, const char *what)
{
  if (c->o->json) {
    cairn_cli_print_json (cert);
    return;
  }
  g_printerr ("%s\n", what);
  g_print ("%s\n", jstr (cert, "address"));
}

/* Wait until GET /v1/im/users/NAME shows the certificate of addr. */
static json_t *
wait_certificate (Ctx *c, const char *name, const char *addr, GError **error)
{
  gint64 deadline
      = g_get_monotonic_time () + (gint64)(c->o->timeout * G_USEC_PER_SEC);
  gulong delay = 50000;
  for (;;) {
    g_autoptr (json_t) u = get_user_opt (c, name, TRUE, error);
    if (u == NULL && error && *error)
      return NULL;
    if (u != NULL && g_strcmp0 (jstr (u, "address"), addr) == 0)
      return g_steal_pointer (&u);
    if (u != NULL) {
      cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "the name '%s' went to %s, not to %s (registered at the same "
          "time by someone else)",
          name, jstr (u, "address"), addr);
      return NULL;
    }
    if (g_get_monotonic_time () >= deadline) {
      cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "the node took the registration of '%s' (%s), but the "
          "certificate is not on chain after %.0f s; look later with "
          "'cairn im register %s' (it does nothing more when done) or "
          "raise --timeout",
          name, addr, c->o->timeout, name);
      return NULL;
    }
    g_usleep (delay);
    delay = MIN (delay * 2, 500000);
  }
}

static int
cmd_register (Ctx *c, const char *name)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if (!name_valid (name))
    return cairn_cli_usage ("NAME '%s' is not a user name: %d-%d of a-z 0-9 "
                            "_ . -",
                            name, IMC_NAME_MIN, IMC_NAME_MAX);
  if (o->as && strcmp (o->as, name) != 0)
    return cairn_cli_usage ("register NAME acts as NAME: drop --as %s or give "
                            "the same name",
                            o->as);
  g_autoptr (json_t) profile = NULL;
  if (!parse_profile (o->profile, &profile, &error))
    return cairn_cli_usage ("%s", error->message);
  if (c->home == NULL)
    return cairn_cli_usage ("missing --home DIR (the keys go to DIR/keys)");
  g_autofree char *kpath = key_file (c->home, name, FALSE);
  g_autofree char *epath = key_file (c->home, name, TRUE);
  gboolean have_key = g_file_test (kpath, G_FILE_TEST_EXISTS);
  gboolean have_enc = g_file_test (epath, G_FILE_TEST_EXISTS);
  if (have_key && (c->key = cairn_key_load (kpath, &error)) == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (have_enc
      && (!grp_key_load (epath, c->enc_priv, &error)
          || !grp_key_public (c->enc_priv, c->enc_pub, &error)))
    return cairn_cli_fail (g_steal_pointer (&error));
  char enc_hex[65];

  /* What the chain says already: done, or taken. */
  g_autoptr (json_t) by_name = get_user_opt (c, name, TRUE, &error);
  if (error)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (by_name) {
    const char *addr = jstr (by_name, "address");
    if (c->key == NULL || strcmp (addr, my_addr (c)) != 0) {
      cairn_cli_printerr ("the name '%s' is taken (by %s)%s%s", name, addr,
                          c->key ? ", not by the key in " : "",
                          c->key ? kpath : "");
      return CAIRN_EXIT_FAILED;
    }
    if (!have_enc) {
      cairn_cli_printerr ("'%s' is registered (%s), but its encryption key %s "
                          "is missing: messages to it cannot be opened here, "
                          "and a new key would not be the registered one "
                          "(restore the file)",
                          name, addr, epath);
      return CAIRN_EXIT_FAILED;
    }
    grp_hex (c->enc_pub, 32, enc_hex);
    if (strcmp (enc_hex, jstr (by_name, "enc_pubkey")) != 0) {
      cairn_cli_printerr (
          "'%s' is registered (%s), but its current "
          "encryption key on chain (version %" JSON_INTEGER_FORMAT
          ", %s) is not the one in %s (%s)",
          name, addr,
          json_integer_value (json_object_get (by_name, "enc_version")),
          jstr (by_name, "enc_pubkey"), epath, enc_hex);
      return CAIRN_EXIT_FAILED;
    }
    g_autofree char *what
        = g_strdup_printf ("'%s' is already registered", name);
    print_user (c, by_name, what);
    return CAIRN_EXIT_OK;
  }
  if (c->key) {
    g_autoptr (json_t) by_addr = get_user_opt (c, my_addr (c), TRUE, &error);
    if (error)
      return cairn_cli_fail (g_steal_pointer (&error));
    if (by_addr) {
      cairn_cli_printerr ("the key %s (%s) is already registered as '%s'; a "
                          "user has one name",
                          kpath, my_addr (c), jstr (by_addr, "name"));
      return CAIRN_EXIT_FAILED;
    }
  }

  /* Make what is missing; an existing file is never overwritten. */
  g_autofree char *dir = g_build_filename (c->home, "keys", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;
    cairn_cli_printerr ("cannot create %s: %s", dir, g_strerror (e));
    return CAIRN_EXIT_FAILED;
  }
  if (c->key == NULL
      && ((c->key = cairn_key_generate (&error)) == NULL
          || !cairn_key_save (c->key, kpath, &error)))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (!have_enc
      && (!grp_key_generate (c->enc_priv, c->enc_pub, &error)
          || !grp_key_save (epath, c->enc_priv, &error)))
    return cairn_cli_fail (g_steal_pointer (&error));
  grp_hex (c->enc_pub, 32, enc_hex);

  /* The signed request, to the registrar. */
  g_autoptr (json_t) req
      = json_pack ("{s:s,s:s,s:I}", "name", name, "enc_pubkey", enc_hex,
                   "timestamp", (json_int_t)(g_get_real_time () / 1000));
  if (profile)
    json_object_set (req, "profile", profile);
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (req, &len, &error);
  if (msg == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  uint8_t sig[64];
  cairn_key_sign (c->key, IMC_DOMAIN_REGISTER, msg, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  g_autofree char *pk_hex = cairn_hex_encode (cairn_key_pubkey (c->key), 32);
  g_autoptr (json_t) post = json_pack ("{s:O,s:s,s:s}", "request", req,
                                       "pubkey", pk_hex, "sig", sig_hex);
  g_autofree char *text = json_dumps (post, JSON_COMPACT | JSON_SORT_KEYS);
  g_autoptr (json_t) reply = cairn_client_post (
      c->client, "/v1/im/registrations", text, strlen (text), &error);
  if (reply == NULL) {
    g_prefix_error (&error,
                    "registering '%s' (%s) at %s (the keys in %s stay for "
                    "another try): ",
                    name, my_addr (c), c->url, dir);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (g_strcmp0 (jstr (reply, "address"), my_addr (c)) != 0
      || g_strcmp0 (jstr (reply, "name"), name) != 0) {
    bad_reply (&error, "POST /v1/im/registrations", NULL,
               "\"address\" or \"name\" is not the request's");
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  /* The tx's result says why the chain refused, if it does. */
  const char *tx = jstr (reply, "tx");
  if (tx && cairn_hex_lower_valid (tx, 32)) {
    g_autoptr (json_t) t
        = cairn_client_wait_tx (c->client, tx, o->timeout, &error);
    g_autofree char *why = NULL;
    if (t == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    if (!cairn_client_tx_result_ok (t, &why)) {
      cairn_cli_printerr ("im.register of '%s' refused by the chain (tx %s): "
                          "%s",
                          name, tx, why);
      return CAIRN_EXIT_FAILED;
    }
  }
  g_autoptr (json_t) cert = wait_certificate (c, name, my_addr (c), &error);
  if (cert == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *what = g_strdup_printf ("registered '%s'", name);
  print_user (c, cert, what);
  return CAIRN_EXIT_OK;
}

/* ---- contacts ----------------------------------------------------------- */

static const struct {
  const char *cmd, *type, *field, *done;
} contact_txs[] = {
  { "bind", "im.bind_request", "to", "bind request sent to" },
  { "accept", "im.bind_accept", "from", "now a contact:" },
  { "reject", "im.bind_reject", "from", "bind request rejected:" },
  { "unbind", "im.unbind_request", "with", "unbind request sent to" },
  { "confirm-unbind", "im.unbind_confirm", "with", "no longer a contact:" },
};

static int
cmd_contact_tx (Ctx *c, guint which, const char *who)
{
  g_autoptr (GError) error = NULL;
  if (!load_identity (c, FALSE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) u = resolve_user (c, who, FALSE, &error);
  if (u == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  const char *addr = jstr (u, "address");
  g_autoptr (json_t) body = json_pack ("{s:s}", contact_txs[which].field, addr);
  g_autoptr (json_t) t = NULL;
  int rc = send_tx (c, contact_txs[which].type, body, &t);
  if (rc != CAIRN_EXIT_OK)
    return rc;
  if (c->o->json)
    cairn_cli_print_json (t);
  else
    g_print ("%s %s (%s): tx %s (height %" JSON_INTEGER_FORMAT ")\n",
             contact_txs[which].done, jstr (u, "name"), addr, jstr (t, "id"),
             json_integer_value (json_object_get (t, "height")));
  return CAIRN_EXIT_OK;
}

/* One "label  name  address" line per entry of a contacts list: objects
 * with the other side's address in `field` and its "name". */
static void
print_people (const char *label, const json_t *list, const char *field)
{
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
  {
    const char *a = jstr (v, field), *n = jstr (v, "name");
    if (a != NULL)
      g_print ("%-16s %-24s %s\n", label, n && *n ? n : "?", a);
  }
}

static int
cmd_contacts (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  if (!load_identity (c, FALSE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *path = g_strdup_printf ("/v1/im/contacts/%s", my_addr (c));
  g_autoptr (json_t) r = cairn_client_get (c->client, path, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (c->o->json) {
    cairn_cli_print_json (r);
    return CAIRN_EXIT_OK;
  }
  static const struct {
    const char *key, *field, *label;
  } parts[] = {
    { "contacts", "address", "contact" },
    { "requests_in", "from", "asks you" },
    { "requests_out", "to", "you asked" },
    { "unbind_in", "from", "asks to unbind" },
    { "unbind_out", "to", "you unbind" },
  };
  size_t n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    const json_t *list = json_object_get (r, parts[i].key);
    if (!json_is_array (list)) {
      bad_reply (&error, "GET", path,
                 "no \"contacts\", \"requests_in\", \"requests_out\", "
                 "\"unbind_in\" and \"unbind_out\" arrays");
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    print_people (parts[i].label, list, parts[i].field);
    n += json_array_size (list);
  }
  if (n == 0)
    g_printerr ("'%s' has no contacts and no pending requests\n", c->name);
  g_print ("allow strangers  %s\n",
           json_is_true (json_object_get (r, "allow_strangers")) ? "yes"
                                                                 : "no");
  return CAIRN_EXIT_OK;
}

/* ---- send --------------------------------------------------------------- */

/* Seal `size` bytes of in for the recipient (cert) and for oneself into a
 * temporary file, upload it to the node's blob store, sign and send
 * im.send through POST /v1/im/messages and wait for the commit. Returns
 * {"id","height","seq","to","kind","cid","content_sha256","size",
 * "plain_size"} (seq: the recipient's inbox seq, when the chain's event
 * names it). The temporary file is removed whatever happens. */
static json_t *
send_content (Ctx *c, const json_t *cert, const char *kind, GInputStream *in,
              uint64_t size, GError **error)
{
  const char *to = jstr (cert, "address");
  if (strcmp (to, my_addr (c)) == 0) {
    cairn_cli_set_error (error, CAIRN_EXIT_USAGE,
                         "'%s' is yourself: a message needs another recipient",
                         jstr (cert, "name"));
    return NULL;
  }
  ImRecipient r[2] = { 0 };
  g_strlcpy (r[0].addr, to, sizeof r[0].addr);
  cairn_hex_decode (jstr (cert, "enc_pubkey"), r[0].pk, 32);
  g_strlcpy (r[1].addr, my_addr (c), sizeof r[1].addr);
  memcpy (r[1].pk, c->enc_pub, 32);
  const char *store = node_address (c, error);
  if (store == NULL)
    return NULL;

  g_autoptr (GFileIOStream) io = NULL;
  g_autoptr (GFile) tmp = g_file_new_tmp ("cairn-im-XXXXXX.sealed", &io, error);
  if (tmp == NULL) {
    g_prefix_error (error, "a temporary file for the ciphertext: ");
    return NULL;
  }
  uint8_t sha[32];
  uint64_t written = 0;
  g_autofree char *cid = NULL;
  g_autoptr (json_t) result = NULL;
  GError *local = NULL;
  gboolean ok = im_seal_stream (
                    in, size, g_io_stream_get_output_stream (G_IO_STREAM (io)),
                    r, 2, sha, &written, NULL, &local)
                && g_io_stream_close (G_IO_STREAM (io), NULL, &local);
  if (!ok)
    g_prefix_error (&local, "encrypting: ");
  /* The ciphertext to this node's blob store, streamed. */
  if (ok) {
    g_autoptr (GFileInputStream) cin = g_file_read (tmp, NULL, &local);
    g_autoptr (json_t) up = cin ? cairn_client_upload (c->client, "/v1/blobs",
                                                       G_INPUT_STREAM (cin),
                                                       (goffset)written, &local)
                                : NULL;
    json_t *usize = json_object_get (up, "size");
    if (up == NULL)
      ok = FALSE;
    else if (!cairn_cid_valid (jstr (up, "cid"))
             || (usize != NULL
                 && (!json_is_integer (usize)
                     || (uint64_t)json_integer_value (usize) != written)))
      ok = bad_reply (&local, "POST /v1/blobs", NULL,
                      "no CIDv1 \"cid\", or a \"size\" that is not the "
                      "ciphertext's");
    else
      cid = g_strdup (jstr (up, "cid"));
  }
  g_file_delete (tmp, NULL, NULL);
  if (!ok) {
    g_propagate_error (error, local);
    return NULL;
  }

  /* The message, signed by the sender, inside an im.send tx. */
  char sha_hex[65];
  grp_hex (sha, 32, sha_hex);
  g_autoptr (json_t) body = json_pack (
      "{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "to", to, "kind", kind, "cid", cid,
      "content_sha256", sha_hex, "size", (json_int_t)written, "timestamp",
      (json_int_t)(g_get_real_time () / 1000), "store", store);
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (body, &len, error);
  if (msg == NULL)
    return NULL;
  uint8_t sig[64];
  cairn_key_sign (c->key, IMC_DOMAIN_MESSAGE, msg, len, sig);
  g_autofree char *sig_hex = cairn_hex_encode (sig, 64);
  json_object_set_new (body, "sig", json_string (sig_hex));

  g_autofree char *chain_id = cairn_client_chain_id (c->client, error);
  uint64_t nonce;
  if (chain_id == NULL
      || !cairn_client_next_nonce (c->client, my_addr (c), &nonce, error))
    return NULL;
  g_autoptr (CairnTx) tx
      = cairn_tx_sign (c->key, chain_id, "im.send", nonce, body, &local);
  if (tx == NULL) {
    cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                         "cannot sign the im.send tx: %s", local->message);
    g_error_free (local);
    return NULL;
  }
  /* The node checks it against its blob store (the CID resolves, the
   * bytes hash to content_sha256) and the chain's rules; then the same
   * tx goes to /v1/txs. */
  g_autoptr (json_t) check = cairn_client_post (c->client, "/v1/im/messages",
                                                tx->bytes, tx->len, error);
  if (check == NULL) {
    g_prefix_error (error, "the node refused the message: ");
    return NULL;
  }
  if (!json_is_true (json_object_get (check, "ok"))
      || (jstr (check, "tx") && strcmp (jstr (check, "tx"), tx->id_hex) != 0)) {
    bad_reply (error, "POST /v1/im/messages", NULL,
               "no \"ok\": true, or a \"tx\" id that is not the tx's");
    return NULL;
  }
  g_autoptr (json_t) reply
      = cairn_client_post (c->client, "/v1/txs", tx->bytes, tx->len, error);
  if (reply == NULL)
    return NULL;
  const char *id = jstr (reply, "id") ? jstr (reply, "id") : tx->id_hex;
  g_autoptr (json_t) t
      = cairn_client_wait_tx (c->client, id, c->o->timeout, error);
  if (t == NULL)
    return NULL;
  g_autofree char *why = NULL;
  if (!cairn_client_tx_result_ok (t, &why)) {
    cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                         "im.send refused by the chain (tx %s, height "
                         "%" JSON_INTEGER_FORMAT "): %s",
                         id, json_integer_value (json_object_get (t, "height")),
                         why);
    return NULL;
  }
  result
      = json_pack ("{s:s,s:O,s:s,s:s,s:s,s:s,s:I}", "id", id, "height",
                   json_object_get (t, "height"), "to", to, "kind", kind, "cid",
                   cid, "content_sha256", sha_hex, "size", (json_int_t)written);
  /* The recipient's inbox seq, from the chain's im.message event. */
  size_t i;
  json_t *ev;
  json_array_foreach (json_object_get (json_object_get (t, "result"), "events"),
                      i, ev)
  {
    json_t *attrs = json_object_get (ev, "attrs");
    if (g_strcmp0 (jstr (ev, "type"), "im.message") == 0
        && json_is_integer (json_object_get (attrs, "seq")))
      json_object_set (result, "seq", json_object_get (attrs, "seq"));
  }
  return g_steal_pointer (&result);
}

static void
print_sent (Ctx *c, const json_t *r, const char *to_name)
{
  if (c->o->json) {
    cairn_cli_print_json (r);
    return;
  }
  g_autofree char *seq = json_object_get (r, "seq")
                             ? cairn_cli_json_text (json_object_get (r, "seq"))
                             : g_strdup ("?");
  g_print (
      "sent to %s: seq %s in its inbox, tx %s (height %" JSON_INTEGER_FORMAT
      ")\n",
      to_name, seq, jstr (r, "id"),
      json_integer_value (json_object_get (r, "height")));
}

static int
cmd_send (Ctx *c, const char *who)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  if ((o->text == NULL) == (o->file == NULL))
    return cairn_cli_usage ("send needs --text TEXT or --file FILE (one)");
  if (o->text && (*o->text == '\0' || !g_utf8_validate (o->text, -1, NULL)))
    return cairn_cli_usage ("--text must be non-empty UTF-8");
  g_autoptr (GInputStream) in = NULL;
  uint64_t size;
  if (o->text) {
    size = strlen (o->text);
    in = g_memory_input_stream_new_from_data (o->text, (gssize)size, NULL);
  } else {
    g_autoptr (GFile) f = g_file_new_for_commandline_arg (o->file);
    g_autoptr (GFileInfo) info = g_file_query_info (
        f, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
        G_FILE_QUERY_INFO_NONE, NULL, &error);
    if (info == NULL) {
      g_prefix_error (&error, "--file: ");
      return cairn_cli_fail (g_steal_pointer (&error));
    }
    if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
      return cairn_cli_usage ("--file %s is not a regular file", o->file);
    size = (uint64_t)g_file_info_get_size (info);
    if (size > IM_MAX_SIZE)
      return cairn_cli_usage ("--file %s is too large", o->file);
    in = G_INPUT_STREAM (g_file_read (f, NULL, &error));
    if (in == NULL) {
      g_prefix_error (&error, "--file: ");
      return cairn_cli_fail (g_steal_pointer (&error));
    }
  }
  if (!load_identity (c, TRUE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) to = resolve_user (c, who, TRUE, &error);
  g_autoptr (json_t) me
      = to ? get_user_opt (c, my_addr (c), FALSE, &error) : NULL;
  if (me == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  /* Refuse before sealing and uploading what the chain would refuse (the
   * node and the chain check again). */
  if (json_is_true (json_object_get (me, "revoked"))) {
    cairn_cli_printerr ("'%s' is revoked: it can no longer send", c->name);
    return CAIRN_EXIT_FAILED;
  }
  if (!json_is_true (json_object_get (to, "allow_strangers"))) {
    g_autofree char *path = g_strdup_printf ("/v1/im/contacts/%s", my_addr (c));
    g_autoptr (json_t) cr = cairn_client_get (c->client, path, &error);
    if (cr == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    gboolean contact = FALSE;
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (cr, "contacts"), i, v)
    {
      contact = contact
                || g_strcmp0 (jstr (v, "address"), jstr (to, "address")) == 0;
    }
    if (!contact) {
      cairn_cli_printerr ("'%s' is not a contact of '%s' and does not allow "
                          "strangers: 'cairn im bind %s' first",
                          jstr (to, "name"), c->name, jstr (to, "name"));
      return CAIRN_EXIT_FAILED;
    }
  }
  char mine[65];
  grp_hex (c->enc_pub, 32, mine);
  if (strcmp (mine, jstr (me, "enc_pubkey")) != 0)
    cairn_cli_printerr (
        "warning: your encryption key on chain (version "
        "%" JSON_INTEGER_FORMAT ") is not the one in "
        "DIR/keys/im-%s.x25519.pem; your copy is sealed for "
        "the local key",
        json_integer_value (json_object_get (me, "enc_version")), c->name);
  g_autoptr (json_t) r
      = send_content (c, to, o->text ? "text" : "file", in, size, &error);
  if (r == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  json_object_set_new (r, "plain_size", json_integer ((json_int_t)size));
  print_sent (c, r, jstr (to, "name"));
  return CAIRN_EXIT_OK;
}

/* ---- records ------------------------------------------------------------ */

/* GET /v1/im/{box}/{addr}?after=A&limit=N → the records array (the reply,
 * or its "records"), each checked to have an integer "seq" > after. */
static json_t *
get_box (Ctx *c, const char *box, uint64_t after, uint64_t limit,
         GError **error)
{
  g_autofree char *path = g_strdup_printf (
      "/v1/im/%s/%s?after=%" G_GUINT64_FORMAT "&limit=%" G_GUINT64_FORMAT, box,
      my_addr (c), after, limit);
  g_autoptr (json_t) r = cairn_client_get (c->client, path, error);
  if (r == NULL)
    return NULL;
  json_t *list = json_object_get (r, "records");
  if (!json_is_array (list)) {
    bad_reply (error, "GET", path, "no \"records\" array");
    return NULL;
  }
  size_t i;
  json_t *rec;
  json_array_foreach (list, i, rec)
  {
    json_t *seq = json_object_get (rec, "seq");
    if (!json_is_integer (seq) || json_integer_value (seq) <= (json_int_t)after
        || !cairn_address_valid (jstr (rec, "from"))
        || !cairn_address_valid (jstr (rec, "to"))) {
      bad_reply (error, "GET", path,
                 "a record without integer \"seq\" after the one asked for, "
                 "or without \"from\" and \"to\" addresses");
      return NULL;
    }
  }
  return json_incref (list);
}

/* The record's signature: Ed25519 by "pubkey" (whose address is "from"),
 * domain cairn.im.message, over the canonical JSON of the record's
 * message fields (the im.send body without sig). */
static gboolean
record_check (const json_t *rec, GError **error)
{
  static const char *const fields[]
      = { "to", "kind", "cid", "content_sha256", "size", "timestamp", "store" };
  json_int_t seq = json_integer_value (json_object_get (rec, "seq"));
  uint8_t pub[32], sig[64];
  char addr[41];
  if (!cairn_hex_lower_valid (jstr (rec, "pubkey"), 32)
      || !cairn_hex_lower_valid (jstr (rec, "sig"), 64)
      || !cairn_cid_valid (jstr (rec, "cid"))
      || !cairn_hex_lower_valid (jstr (rec, "content_sha256"), 32)
      || !cairn_address_valid (jstr (rec, "store"))
      || !json_is_integer (json_object_get (rec, "size"))
      || json_integer_value (json_object_get (rec, "size")) < 0
      || !json_is_integer (json_object_get (rec, "timestamp")))
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "message %" JSON_INTEGER_FORMAT
                                ": the record lacks a field (pubkey, sig, cid, "
                                "content_sha256, store, size, timestamp)",
                                seq);
  cairn_hex_decode (jstr (rec, "pubkey"), pub, 32);
  cairn_hex_decode (jstr (rec, "sig"), sig, 64);
  cairn_address_from_pubkey (pub, addr);
  if (strcmp (addr, jstr (rec, "from")) != 0)
    return cairn_cli_set_error (
        error, CAIRN_EXIT_FAILED,
        "message %" JSON_INTEGER_FORMAT
        ": its pubkey is the key of %s, not of its sender %s: "
        "refusing it",
        seq, addr, jstr (rec, "from"));
  g_autoptr (json_t) body = json_object ();
  for (size_t i = 0; i < G_N_ELEMENTS (fields); i++) {
    json_t *v = json_object_get (rec, fields[i]);
    if (v == NULL)
      return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                  "message %" JSON_INTEGER_FORMAT ": no \"%s\"",
                                  seq, fields[i]);
    json_object_set (body, fields[i], v);
  }
  size_t len;
  g_autofree char *msg = cairn_cjson_dump (body, &len, error);
  if (msg == NULL)
    return FALSE;
  if (!cairn_ed25519_verify (pub, IMC_DOMAIN_MESSAGE, msg, len, sig))
    return cairn_cli_set_error (
        error, CAIRN_EXIT_FAILED,
        "message %" JSON_INTEGER_FORMAT
        ": the signature is not its sender's (%s): refusing it",
        seq, jstr (rec, "from"));
  return TRUE;
}

/* A libsoup session for requests the CairnClient does not make (202
 * answers, event streams); a local node is never behind a proxy. */
static SoupSession *
new_session (const char *url, guint timeout_s)
{
  SoupSession *s = soup_session_new_with_options (
      "timeout", timeout_s, "user-agent", "cairn/" CAIRN_VERSION, NULL);
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *host = uri ? g_uri_get_host (uri) : NULL;
  if (g_strcmp0 (host, "127.0.0.1") == 0 || g_strcmp0 (host, "::1") == 0
      || g_strcmp0 (host, "localhost") == 0)
    soup_session_set_proxy_resolver (s, NULL);
  return s;
}

static SoupSession *
ctx_soup (Ctx *c)
{
  if (c->soup == NULL)
    c->soup = new_session (c->url, (guint)c->o->timeout + 1);
  return c->soup;
}

/* A small reply body read whole (at most IMC_SMALL_BODY bytes). */
static json_t *
read_small_json (GInputStream *in)
{
  g_autofree char *buf = g_malloc (IMC_SMALL_BODY);
  gsize n = 0;
  if (!g_input_stream_read_all (in, buf, IMC_SMALL_BODY, &n, NULL, NULL))
    return NULL;
  return json_loadb (buf, n, 0, NULL);
}

/* Copy in to out, hashing it (md may be NULL); *n bytes, *last (may be
 * NULL) the last one. */
static gboolean
copy_hashing (GInputStream *in, GOutputStream *out, EVP_MD_CTX *md, uint64_t *n,
              int *last, GError **error)
{
  g_autofree uint8_t *buf = g_malloc (IMC_CHUNK);
  *n = 0;
  for (;;) {
    gssize r = g_input_stream_read (in, buf, IMC_CHUNK, NULL, error);
    if (r < 0)
      return FALSE;
    if (r == 0)
      return TRUE;
    if (md)
      EVP_DigestUpdate (md, buf, (size_t)r);
    if (!g_output_stream_write_all (out, buf, (gsize)r, NULL, NULL, error))
      return FALSE;
    *n += (uint64_t)r;
    if (last)
      *last = buf[r - 1];
  }
}

/* GET /v1/im/content/{cid}?store=STORE into out, hashing what arrives.
 * While the node answers 202 (fetching it from store), ask again every
 * 300 ms, with the progress on stderr when progress is set; give up after
 * --timeout seconds without progress. */
static gboolean
fetch_content (Ctx *c, const char *cid, const char *store, GOutputStream *out,
               uint8_t sha[32], uint64_t *got, gboolean progress,
               GError **error)
{
  g_autofree char *ecid = escape (cid);
  g_autofree char *path
      = g_strdup_printf ("/v1/im/content/%s?store=%s", ecid, store);
  g_autofree char *url = g_strconcat (c->url, path, NULL);
  gint64 span = (gint64)(c->o->timeout * G_USEC_PER_SEC);
  gint64 deadline = g_get_monotonic_time () + span;
  json_int_t last_have = -1;
  gboolean tty = progress && isatty (STDERR_FILENO);
  for (;;) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    if (msg == NULL)
      return cairn_cli_set_error (error, CAIRN_EXIT_USAGE, "bad URL '%s'", url);
    g_autoptr (GError) local = NULL;
    g_autoptr (GInputStream) in
        = soup_session_send (ctx_soup (c), msg, NULL, &local);
    if (in == NULL)
      return cairn_cli_set_error (
          error, CAIRN_EXIT_UNREACHABLE,
          "cannot reach the node at %s: %s (is the node "
          "running?)",
          c->url, local->message);
    guint status = soup_message_get_status (msg);
    if (status == 200) {
      g_autoptr (EVP_MD_CTX) md = EVP_MD_CTX_new ();
      goffset expected = soup_message_headers_get_content_length (
          soup_message_get_response_headers (msg));
      unsigned int dl = 32;
      if (md == NULL || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1)
        return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                    "OpenSSL: cannot start a SHA-256 digest");
      if (!copy_hashing (in, out, md, got, NULL, &local))
        return cairn_cli_set_error (error, CAIRN_EXIT_FAILED, "GET %s: %s",
                                    path, local->message);
      if (expected > 0 && (uint64_t)expected != *got)
        return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                    "GET %s: got %" G_GUINT64_FORMAT
                                    " of %" G_GOFFSET_FORMAT " bytes",
                                    path, *got, expected);
      EVP_DigestFinal_ex (md, sha, &dl);
      if (progress && last_have >= 0)
        g_printerr ("%sfetched %" G_GUINT64_FORMAT " bytes\n", tty ? "\n" : "",
                    *got);
      return TRUE;
    }
    g_autoptr (json_t) body = read_small_json (in);
    if (status == 202) {
      json_int_t have = json_integer_value (json_object_get (body, "have"));
      if (have != last_have) {
        deadline = g_get_monotonic_time () + span;
        if (progress) {
          /* One line rewritten on a terminal, a line each otherwise. */
          json_t *total = json_object_get (body, "size");
          g_autofree char *of
              = json_is_integer (total) && json_integer_value (total) > 0
                    ? g_strdup_printf (
                        " of %" JSON_INTEGER_FORMAT " (%d%%)",
                        json_integer_value (total),
                        (int)(have * 100 / json_integer_value (total)))
                    : g_strdup ("");
          g_printerr ("%sfetching %s from node %s: %" JSON_INTEGER_FORMAT
                      " bytes%s%s",
                      tty ? "\r" : "", cid, store, have, of, tty ? "" : "\n");
        }
        last_have = have;
      }
      if (g_get_monotonic_time () >= deadline) {
        if (tty)
          g_printerr ("\n");
        return cairn_cli_set_error (
            error, CAIRN_EXIT_FAILED,
            "the node at %s is still fetching %s from %s after "
            "%.0f s without progress (%" JSON_INTEGER_FORMAT
            " bytes); try again later",
            c->url, cid, store, c->o->timeout, have);
      }
      g_usleep (IMC_POLL_US);
      continue;
    }
    const json_t *e = json_object_get (body, "error");
    const char *code = jstr (e, "code"), *m = jstr (e, "message");
    return cairn_cli_set_error (
        error, status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED,
        "GET %s: %s: %s (HTTP %u)", path, code ? code : "error",
        m ? m : soup_message_get_reason_phrase (msg), status);
  }
}

/* Fetch a record's ciphertext into a new temporary file and check it
 * against the record (SHA-256 and size). Returns the file (delete it). */
static GFile *
fetch_checked (Ctx *c, const json_t *rec, gboolean progress, GError **error)
{
  g_autoptr (GFileIOStream) io = NULL;
  g_autoptr (GFile) tmp = g_file_new_tmp ("cairn-im-XXXXXX.blob", &io, error);
  if (tmp == NULL) {
    g_prefix_error (error, "a temporary file for the ciphertext: ");
    return NULL;
  }
  uint8_t sha[32];
  uint64_t got = 0;
  char hex[65];
  json_int_t seq = json_integer_value (json_object_get (rec, "seq"));
  gboolean ok = fetch_content (c, jstr (rec, "cid"), jstr (rec, "store"),
                               g_io_stream_get_output_stream (G_IO_STREAM (io)),
                               sha, &got, progress, error)
                && g_io_stream_close (G_IO_STREAM (io), NULL, error);
  if (ok) {
    grp_hex (sha, 32, hex);
    if (strcmp (hex, jstr (rec, "content_sha256")) != 0)
      ok = cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "message %" JSON_INTEGER_FORMAT
          ": the ciphertext's SHA-256 is %s, not the signed %s: "
          "refusing it",
          seq, hex, jstr (rec, "content_sha256"));
    else if ((json_int_t)got
             != json_integer_value (json_object_get (rec, "size")))
      ok = cairn_cli_set_error (
          error, CAIRN_EXIT_FAILED,
          "message %" JSON_INTEGER_FORMAT
          ": the ciphertext has %" G_GUINT64_FORMAT
          " bytes, not the signed %" JSON_INTEGER_FORMAT,
          seq, got, json_integer_value (json_object_get (rec, "size")));
  }
  if (!ok) {
    g_file_delete (tmp, NULL, NULL);
    return NULL;
  }
  return g_steal_pointer (&tmp);
}

/* Decrypt the blob in file as the --as user into out. */
static gboolean
open_content (Ctx *c, GFile *file, json_int_t seq, GOutputStream *out,
              uint64_t *plain, int *last, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GFileInputStream) fin = g_file_read (file, NULL, &local);
  g_autoptr (GInputStream) p
      = fin ? im_open_stream (G_INPUT_STREAM (fin), my_addr (c), c->enc_priv,
                              NULL, &local)
            : NULL;
  uint64_t n = 0;
  if (p != NULL && copy_hashing (p, out, NULL, &n, last, &local)
      && g_input_stream_close (p, NULL, &local)) {
    if (plain)
      *plain = n;
    return TRUE;
  }
  /* Not "not found": the message exists, this key cannot open it. */
  return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                              "decrypting message %" JSON_INTEGER_FORMAT
                              " as '%s' (%s): %s",
                              seq, c->name, my_addr (c), local->message);
}

/* The record of seq in the --as user's inbox (or outbox). */
static json_t *
get_record (Ctx *c, gboolean outbox, uint64_t seq, GError **error)
{
  g_autoptr (json_t) list
      = get_box (c, outbox ? "outbox" : "inbox", seq - 1, 1, error);
  if (list == NULL)
    return NULL;
  json_t *rec = json_array_get (list, 0);
  if (rec == NULL
      || (uint64_t)json_integer_value (json_object_get (rec, "seq")) != seq) {
    cairn_cli_set_error (error, CAIRN_EXIT_NOT_FOUND,
                         "no message %" G_GUINT64_FORMAT " in the %s of '%s'",
                         seq, outbox ? "outbox" : "inbox", c->name);
    return NULL;
  }
  const char *mine = jstr (rec, outbox ? "from" : "to");
  if (strcmp (mine, my_addr (c)) != 0) {
    bad_reply (error, outbox ? "GET /v1/im/outbox" : "GET /v1/im/inbox", NULL,
               "a record of another user");
    return NULL;
  }
  return json_incref (rec);
}

/* ---- inbox, outbox ------------------------------------------------------ */

static void
print_record (Ctx *c, const json_t *rec, gboolean outbox)
{
  const char *other = jstr (rec, outbox ? "to" : "from");
  const char *n = name_of (c, other);
  g_autofree char *when = format_time (
      json_integer_value (json_object_get (rec, "timestamp")), TRUE);
  g_print ("%6" JSON_INTEGER_FORMAT "  %s %-24s %-4s %10" JSON_INTEGER_FORMAT
           "  %s\n",
           json_integer_value (json_object_get (rec, "seq")),
           outbox ? "to  " : "from", n ? n : other, jstr (rec, "kind"),
           json_integer_value (json_object_get (rec, "size")), when);
}

static int
cmd_box (Ctx *c, gboolean outbox)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  uint64_t after = 0, limit = G_MAXUINT64;
  if ((o->after
       && !parse_u64 ("--after", o->after, 0, G_MAXINT64, &after, &error))
      || (o->limit
          && !parse_u64 ("--limit", o->limit, 1, G_MAXINT64, &limit, &error)))
    return cairn_cli_usage ("%s", error->message);
  if (!load_identity (c, FALSE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) all = json_array ();
  uint64_t left = limit;
  while (left > 0) {
    uint64_t page = MIN (left, IMC_PAGE);
    g_autoptr (json_t) list
        = get_box (c, outbox ? "outbox" : "inbox", after, page, &error);
    if (list == NULL)
      return cairn_cli_fail (g_steal_pointer (&error));
    size_t i;
    json_t *rec;
    json_array_foreach (list, i, rec)
    {
      if (o->json)
        json_array_append (all, rec);
      else
        print_record (c, rec, outbox);
      after = (uint64_t)json_integer_value (json_object_get (rec, "seq"));
    }
    left -= json_array_size (list);
    if (json_array_size (list) < page)
      break;
  }
  if (o->json)
    cairn_cli_print_json (all);
  else if (json_array_size (all) == 0 && after == 0 && o->after == NULL)
    g_printerr ("the %s of '%s' is empty\n", outbox ? "outbox" : "inbox",
                c->name);
  return CAIRN_EXIT_OK;
}

/* ---- get ---------------------------------------------------------------- */

static int
cmd_get (Ctx *c, const char *seq_arg)
{
  Opts *o = c->o;
  g_autoptr (GError) error = NULL;
  uint64_t seq;
  if (!parse_u64 ("SEQ", seq_arg, 1, G_MAXINT64, &seq, &error))
    return cairn_cli_usage ("%s", error->message);
  if (!load_identity (c, TRUE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) rec = get_record (c, o->sent, seq, &error);
  if (rec == NULL || !record_check (rec, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  gboolean text = g_strcmp0 (jstr (rec, "kind"), "text") == 0;
  if (o->json && o->out == NULL
      && (!text
          || json_integer_value (json_object_get (rec, "size")) > IMC_SHOW_MAX))
    return cairn_cli_usage ("message %" G_GUINT64_FORMAT
                            " is a file or a text of more than 1 MiB: with "
                            "--json, give --out FILE",
                            seq);
  g_autoptr (GFile) blob = fetch_checked (c, rec, TRUE, &error);
  if (blob == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));

  /* Into OUT.part (mode 0600), renamed when every segment checked; or to
   * stdout (or memory for --json). */
  g_autoptr (GFile) part = NULL;
  g_autoptr (GOutputStream) out = NULL;
  if (o->out) {
    g_autofree char *tmp = g_strconcat (o->out, ".part", NULL);
    part = g_file_new_for_commandline_arg (tmp);
    out = G_OUTPUT_STREAM (g_file_replace (
        part, NULL, FALSE,
        G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION, NULL,
        &error));
  } else if (o->json)
    out = g_memory_output_stream_new_resizable ();
  else
    out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
  uint64_t plain = 0;
  int last = '\n';
  gboolean ok
      = out != NULL
        && open_content (c, blob, (json_int_t)seq, out, &plain, &last, &error)
        && g_output_stream_close (out, NULL, &error);
  g_file_delete (blob, NULL, NULL);
  if (ok && part) {
    g_autoptr (GFile) dest = g_file_new_for_commandline_arg (o->out);
    ok = g_file_move (part, dest, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL,
                      &error);
  }
  if (!ok) {
    if (part)
      g_file_delete (part, NULL, NULL);
    if (o->out)
      g_prefix_error (&error, "--out %s: ", o->out);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  const char *from = jstr (rec, "from");
  const char *fname = name_of (c, from);
  if (o->json) {
    g_autoptr (json_t) j = json_deep_copy (rec);
    json_object_set_new (j, "from_name",
                         fname ? json_string (fname) : json_null ());
    json_object_set_new (j, "plain_size", json_integer ((json_int_t)plain));
    if (o->out)
      json_object_set_new (j, "file", json_string (o->out));
    else {
      gsize n
          = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out));
      const char *d
          = g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (out));
      json_object_set_new (j, "text", text_json (d, n));
      if (d != NULL)
        OPENSSL_cleanse ((void *)d, n);
    }
    cairn_cli_print_json (j);
  } else if (o->out) {
    g_printerr ("message %" G_GUINT64_FORMAT " from %s: %" G_GUINT64_FORMAT
                " bytes written to %s\n",
                seq, fname ? fname : from, plain, o->out);
  } else if (text && last != '\n') {
    g_print ("\n");
  }
  return CAIRN_EXIT_OK;
}

/* ---- chat --------------------------------------------------------------- */

typedef struct {
  Ctx *c; /* the main thread's: the stream, the receiving side */
  json_t *peer;
  const char *peer_addr, *peer_name;
  GMainLoop *loop;
  int rc;
  /* stdin */
  GDataInputStream *lines;
  GCancellable *stdin_cancel;
  /* the sending thread (its own Ctx and client) */
  GThread *thread;
  GAsyncQueue *queue; /* char * lines; the Chat itself ends it */
  gint abort_sends;
  gint send_rc;
  Ctx sender;
  /* the event stream */
  SoupSession *session;
  SoupMessage *msg;
  GInputStream *stream;
  GCancellable *stream_cancel;
  GString *buf;
  char readbuf[8192];
  uint64_t last_seq;
  guint retry_source;
  guint backoff_ms;
  gboolean down; /* told the user the stream is down */
  gboolean quitting;
} Chat;

static void chat_connect (Chat *ch);

static void
chat_quit (Chat *ch)
{
  if (ch->quitting)
    return;
  ch->quitting = TRUE;
  g_cancellable_cancel (ch->stdin_cancel);
  g_async_queue_push (ch->queue, ch); /* the end mark */
}

static gboolean
sender_finished (gpointer data)
{
  Chat *ch = data;
  g_main_loop_quit (ch->loop);
  return G_SOURCE_REMOVE;
}

/* The sending thread: one line at a time, in order (the nonces follow). */
static gpointer
sender_main (gpointer data)
{
  Chat *ch = data;
  Ctx *c = &ch->sender;
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  g_autoptr (GError) error = NULL;
  c->client = cairn_client_new (c->url, (guint)c->o->timeout + 1, &error);
  for (;;) {
    gpointer item = g_async_queue_pop (ch->queue);
    if (item == ch)
      break;
    g_autofree char *line = item;
    if (g_atomic_int_get (&ch->abort_sends))
      continue;
    g_autoptr (GError) e = NULL;
    g_autoptr (json_t) r = NULL;
    if (c->client == NULL)
      e = g_error_copy (error);
    else {
      g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (
          line, (gssize)strlen (line), NULL);
      r = send_content (c, ch->peer, "text", in, strlen (line), &e);
    }
    if (r == NULL) {
      int code = cairn_cli_exit_code (e);
      cairn_cli_printerr ("not sent: %s", e->message);
      g_atomic_int_set (&ch->send_rc, code);
    } else if (c->o->json) {
      json_object_set_new (r, "event", json_string ("sent"));
      json_object_set_new (r, "text", json_string (line));
      cairn_cli_print_json_line (r);
      fflush (stdout);
    }
  }
  /* The session belongs to this thread's context: free it here. */
  g_clear_pointer (&c->client, cairn_client_free);
  g_main_context_pop_thread_default (ctx);
  g_idle_add (sender_finished, ch);
  return NULL;
}

static void read_next_line (Chat *ch);

static void
on_line (GObject *src, GAsyncResult *res, gpointer data)
{
  Chat *ch = data;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (
      G_DATA_INPUT_STREAM (src), res, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (error
      && !g_error_matches (error, G_CONVERT_ERROR,
                           G_CONVERT_ERROR_ILLEGAL_SEQUENCE)) {
    cairn_cli_printerr ("reading stdin: %s", error->message);
    ch->rc = CAIRN_EXIT_FAILED;
    chat_quit (ch);
    return;
  }
  if (error) {
    cairn_cli_printerr ("not sent: the line is not UTF-8");
    g_atomic_int_set (&ch->send_rc, CAIRN_EXIT_FAILED);
    read_next_line (ch);
    return;
  }
  if (line == NULL) { /* EOF */
    chat_quit (ch);
    return;
  }
  if (len > 0 && line[len - 1] == '\r')
    line[--len] = '\0';
  if (strcmp (line, "/quit") == 0) {
    chat_quit (ch);
    return;
  }
  if (len > 0)
    g_async_queue_push (ch->queue, g_steal_pointer (&line));
  read_next_line (ch);
}

static void
read_next_line (Chat *ch)
{
  g_data_input_stream_read_line_async (ch->lines, G_PRIORITY_DEFAULT,
                                       ch->stdin_cancel, on_line, ch);
}

/* An incoming record: USER's are shown (text decrypted here), others are
 * mentioned on stderr. */
static void
chat_show (Chat *ch, const json_t *rec)
{
  Ctx *c = ch->c;
  json_int_t seq = json_integer_value (json_object_get (rec, "seq"));
  const char *from = jstr (rec, "from");
  if (g_strcmp0 (from, ch->peer_addr) != 0) {
    const char *n = from ? name_of (c, from) : NULL;
    g_printerr ("(message %" JSON_INTEGER_FORMAT " from %s: cairn im get "
                "%" JSON_INTEGER_FORMAT ")\n",
                seq,
                n      ? n
                : from ? from
                       : "?",
                seq);
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *when = format_time (
      json_integer_value (json_object_get (rec, "timestamp")), FALSE);
  if (!record_check (rec, &error)
      || g_strcmp0 (jstr (rec, "to"), my_addr (c)) != 0) {
    cairn_cli_printerr ("%s", error ? error->message
                                    : "a stream record for another user");
    return;
  }
  json_int_t size = json_integer_value (json_object_get (rec, "size"));
  if (g_strcmp0 (jstr (rec, "kind"), "text") != 0 || size > IMC_SHOW_MAX) {
    if (c->o->json)
      cairn_cli_print_json_line (rec);
    else
      g_print ("%s %s: [%s, %" JSON_INTEGER_FORMAT
               " bytes: cairn im get %" JSON_INTEGER_FORMAT "]\n",
               ch->peer_name, when, jstr (rec, "kind"), size, seq);
    fflush (stdout);
    return;
  }
  g_autoptr (GFile) blob = fetch_checked (c, rec, FALSE, &error);
  g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
  gboolean ok = blob && open_content (c, blob, seq, mem, NULL, NULL, &error)
                && g_output_stream_close (mem, NULL, &error);
  if (blob)
    g_file_delete (blob, NULL, NULL);
  if (!ok) {
    cairn_cli_printerr ("message %" JSON_INTEGER_FORMAT " from %s: %s", seq,
                        ch->peer_name, error->message);
    return;
  }
  GMemoryOutputStream *m = G_MEMORY_OUTPUT_STREAM (mem);
  gsize n = g_memory_output_stream_get_data_size (m);
  char *d = g_memory_output_stream_get_data (m);
  if (c->o->json) {
    g_autoptr (json_t) j = json_deep_copy (rec);
    json_object_set_new (j, "event", json_string ("message"));
    json_object_set_new (j, "from_name", json_string (ch->peer_name));
    json_object_set_new (j, "text", text_json (d, n));
    cairn_cli_print_json_line (j);
  } else {
    g_print ("%s %s: ", ch->peer_name, when);
    if (n > 0)
      fwrite (d, 1, n, stdout);
    g_print ("\n");
  }
  fflush (stdout);
  if (d != NULL)
    OPENSSL_cleanse (d, n);
}

/* One server-sent event: "event: message", "id: SEQ", "data: RECORD". */
static void
chat_event (Chat *ch, const char *block)
{
  g_auto (GStrv) lines = g_strsplit (block, "\n", -1);
  const char *event = "message", *id = NULL;
  g_autoptr (GString) data = NULL;
  for (char **l = lines; *l; l++) {
    if (**l == ':' || **l == '\0')
      continue;
    char *colon = strchr (*l, ':');
    const char *v = colon ? colon + 1 : "";
    if (colon)
      *colon = '\0';
    if (*v == ' ')
      v++;
    if (strcmp (*l, "event") == 0)
      event = v;
    else if (strcmp (*l, "id") == 0)
      id = v;
    else if (strcmp (*l, "data") == 0) {
      if (data == NULL)
        data = g_string_new (v);
      else
        g_string_append_printf (data, "\n%s", v);
    }
  }
  if (strcmp (event, "message") != 0 || data == NULL)
    return;
  g_autoptr (json_t) rec = json_loads (data->str, 0, NULL);
  guint64 seq = 0;
  json_t *s = json_object_get (rec, "seq");
  if (json_is_integer (s) && json_integer_value (s) > 0)
    seq = (guint64)json_integer_value (s);
  else if (id == NULL
           || !g_ascii_string_to_unsigned (id, 10, 1, G_MAXINT64, &seq, NULL)) {
    cairn_cli_printerr ("the stream sent a message without a seq: %s",
                        data->str);
    return;
  }
  if (!json_is_object (rec)) {
    cairn_cli_printerr ("the stream sent a message that is not a JSON "
                        "object (seq %" G_GUINT64_FORMAT ")",
                        seq);
    ch->last_seq = MAX (ch->last_seq, seq);
    return;
  }
  if (seq <= ch->last_seq) /* seen (a reconnection) */
    return;
  ch->last_seq = seq;
  if (json_object_get (rec, "seq") == NULL)
    json_object_set_new (rec, "seq", json_integer ((json_int_t)seq));
  chat_show (ch, rec);
}

static void
chat_stream_drop (Chat *ch)
{
  if (ch->stream) {
    g_input_stream_close (ch->stream, NULL, NULL);
    g_clear_object (&ch->stream);
  }
  g_clear_object (&ch->msg);
  g_clear_object (&ch->stream_cancel);
  g_string_truncate (ch->buf, 0);
}

static gboolean
chat_retry (gpointer data)
{
  Chat *ch = data;
  ch->retry_source = 0;
  chat_connect (ch);
  return G_SOURCE_REMOVE;
}

/* Connect again after a pause (longer after each failure). */
static void
chat_reconnect (Chat *ch, const char *why)
{
  chat_stream_drop (ch);
  if (ch->quitting)
    return;
  if (why && !ch->down)
    cairn_cli_printerr ("the message stream from %s: %s; reconnecting",
                        ch->c->url, why);
  ch->down = ch->down || why != NULL;
  ch->backoff_ms = why ? MIN (MAX (ch->backoff_ms * 2, 250u), 5000u) : 100;
  ch->retry_source = g_timeout_add (ch->backoff_ms, chat_retry, ch);
}

static void chat_read (Chat *ch);

static void
on_stream_read (GObject *src, GAsyncResult *res, gpointer data)
{
  Chat *ch = data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (n < 0) {
    chat_reconnect (ch, error->message);
    return;
  }
  if (n == 0) { /* the node ended the stream: go on after the last seq */
    chat_reconnect (ch, NULL);
    return;
  }
  ch->backoff_ms = 0;
  for (gssize i = 0; i < n; i++)
    if (ch->readbuf[i] != '\r')
      g_string_append_c (ch->buf, ch->readbuf[i]);
  char *end;
  while ((end = strstr (ch->buf->str, "\n\n")) != NULL) {
    g_autofree char *block = g_strndup (ch->buf->str, end - ch->buf->str);
    g_string_erase (ch->buf, 0, end - ch->buf->str + 2);
    chat_event (ch, block);
  }
  if (ch->buf->len > (8u << 20)) {
    chat_reconnect (ch, "an event of more than 8 MiB");
    return;
  }
  chat_read (ch);
}

static void
chat_read (Chat *ch)
{
  g_input_stream_read_async (ch->stream, ch->readbuf, sizeof ch->readbuf,
                             G_PRIORITY_DEFAULT, ch->stream_cancel,
                             on_stream_read, ch);
}

static void
on_stream_open (GObject *src, GAsyncResult *res, gpointer data)
{
  Chat *ch = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in
      = soup_session_send_finish (SOUP_SESSION (src), res, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (in == NULL) {
    chat_reconnect (ch, error->message);
    return;
  }
  guint status = soup_message_get_status (ch->msg);
  if (status != 200) {
    g_autoptr (json_t) body = read_small_json (in);
    const json_t *e = json_object_get (body, "error");
    const char *code = jstr (e, "code"), *m = jstr (e, "message");
    g_autofree char *why
        = g_strdup_printf ("HTTP %u %s: %s", status, code ? code : "error",
                           m ? m : soup_message_get_reason_phrase (ch->msg));
    if (status >= 500) {
      chat_reconnect (ch, why);
      return;
    }
    /* Refused: it will not change by asking again. */
    cairn_cli_printerr ("GET /v1/im/stream/%s: %s", my_addr (ch->c), why);
    ch->rc = status == 404 ? CAIRN_EXIT_NOT_FOUND : CAIRN_EXIT_FAILED;
    g_atomic_int_set (&ch->abort_sends, 1);
    chat_stream_drop (ch);
    chat_quit (ch);
    return;
  }
  if (ch->down)
    g_printerr ("(the message stream is back)\n");
  ch->down = FALSE;
  ch->stream = g_steal_pointer (&in);
  chat_read (ch);
}

static void
chat_connect (Chat *ch)
{
  if (ch->quitting)
    return;
  g_autofree char *url
      = g_strdup_printf ("%s/v1/im/stream/%s?after=%" G_GUINT64_FORMAT,
                         ch->c->url, my_addr (ch->c), ch->last_seq);
  ch->msg = soup_message_new ("GET", url);
  soup_message_headers_replace (soup_message_get_request_headers (ch->msg),
                                "Accept", "text/event-stream");
  ch->stream_cancel = g_cancellable_new ();
  soup_session_send_async (ch->session, ch->msg, G_PRIORITY_DEFAULT,
                           ch->stream_cancel, on_stream_open, ch);
}

static gboolean
on_signal (gpointer data)
{
  Chat *ch = data;
  g_atomic_int_set (&ch->abort_sends, 1);
  chat_quit (ch);
  return G_SOURCE_CONTINUE;
}

/* The last seq of the inbox (0 when empty): where the chat starts.
 * GET /v1/im/inbox/{addr}?limit=1 → integer "last". */
static gboolean
inbox_last (Ctx *c, uint64_t *last, GError **error)
{
  g_autofree char *path
      = g_strdup_printf ("/v1/im/inbox/%s?limit=1", my_addr (c));
  g_autoptr (json_t) r = cairn_client_get (c->client, path, error);
  if (r == NULL)
    return FALSE;
  json_t *l = json_object_get (r, "last");
  if (!json_is_integer (l) || json_integer_value (l) < 0)
    return bad_reply (error, "GET", path, "no non-negative integer \"last\"");
  *last = (uint64_t)json_integer_value (l);
  return TRUE;
}

static int
cmd_chat (Ctx *c, const char *who)
{
  g_autoptr (GError) error = NULL;
  if (!load_identity (c, TRUE, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autoptr (json_t) peer = resolve_user (c, who, TRUE, &error);
  g_autoptr (json_t) me
      = peer ? get_user_opt (c, my_addr (c), FALSE, &error) : NULL;
  if (me == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (strcmp (jstr (peer, "address"), my_addr (c)) == 0)
    return cairn_cli_usage ("'%s' is yourself", who);
  Chat ch = { .c = c, .peer = peer, .rc = CAIRN_EXIT_OK };
  ch.peer_addr = jstr (peer, "address");
  ch.peer_name = jstr (peer, "name");
  if (!inbox_last (c, &ch.last_seq, &error) || node_address (c, &error) == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));

  /* The sending side: its own Ctx (client made in its thread). */
  g_autofree char *kpath = key_file (c->home, c->name, FALSE);
  ch.sender = (Ctx){ .o = c->o, .home = c->home, .url = g_strdup (c->url) };
  ch.sender.name = g_strdup (c->name);
  ch.sender.key = cairn_key_load (kpath, &error);
  memcpy (ch.sender.enc_pub, c->enc_pub, 32);
  ch.sender.store = g_strdup (c->store);
  if (ch.sender.key == NULL) {
    ctx_clear (&ch.sender);
    return cairn_cli_fail (g_steal_pointer (&error));
  }

  ch.loop = g_main_loop_new (NULL, FALSE);
  ch.queue = g_async_queue_new ();
  ch.buf = g_string_new (NULL);
  ch.stdin_cancel = g_cancellable_new ();
  ch.session = new_session (c->url, IMC_STREAM_IDLE_S);
  g_autoptr (GInputStream) stdin_raw
      = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  ch.lines = g_data_input_stream_new (stdin_raw);
  g_data_input_stream_set_newline_type (ch.lines,
                                        G_DATA_STREAM_NEWLINE_TYPE_LF);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, &ch);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, &ch);
  if (isatty (STDIN_FILENO))
    g_printerr ("chat with %s (%s) as %s: type a line to send it; /quit or "
                "Ctrl-D ends\n",
                ch.peer_name, ch.peer_addr, c->name);
  ch.thread = g_thread_new ("im-send", sender_main, &ch);
  read_next_line (&ch);
  chat_connect (&ch);
  g_main_loop_run (ch.loop);

  g_thread_join (ch.thread);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_clear_handle_id (&ch.retry_source, g_source_remove);
  /* Cancel what is pending and let its callbacks run (they return at once)
   * before their data goes. */
  if (ch.stream_cancel)
    g_cancellable_cancel (ch.stream_cancel);
  g_cancellable_cancel (ch.stdin_cancel);
  gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time () < until)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  chat_stream_drop (&ch);
  g_clear_object (&ch.lines);
  g_clear_object (&ch.stdin_cancel);
  g_clear_object (&ch.session);
  g_string_free (ch.buf, TRUE);
  g_async_queue_unref (ch.queue);
  g_main_loop_unref (ch.loop);
  ctx_clear (&ch.sender);
  int send_rc = g_atomic_int_get (&ch.send_rc);
  return ch.rc != CAIRN_EXIT_OK ? ch.rc : send_rc;
}

/* ---- the command -------------------------------------------------------- */

int
cairn_cmd_im (int argc, char **argv)
{
  Opts o = { .timeout = 30 };
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &o.home,
      "Home: DIR/keys holds the im keys; the node from its [http] listen "
      "(default: $CAIRN_HOME)",
      "DIR" },
    { "node", 0, 0, G_OPTION_ARG_STRING, &o.node,
      "Node API URL (default: from DIR's config)", "URL" },
    { "as", 0, 0, G_OPTION_ARG_STRING, &o.as,
      "The local user: keys DIR/keys/im-NAME.pem and im-NAME.x25519.pem",
      "NAME" },
    { "profile", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.profile,
      "register: a profile field (repeat; at most 8)", "KEY=VALUE" },
    { "text", 0, 0, G_OPTION_ARG_STRING, &o.text, "send: a text message",
      "TEXT" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME, &o.file,
      "send: a file (streamed, any size)", "FILE" },
    { "after", 0, 0, G_OPTION_ARG_STRING, &o.after,
      "inbox/outbox: only records after this seq", "SEQ" },
    { "limit", 0, 0, G_OPTION_ARG_STRING, &o.limit,
      "inbox/outbox: at most N records", "N" },
    { "sent", 0, 0, G_OPTION_ARG_NONE, &o.sent,
      "get: SEQ is in the outbox (a message you sent)", NULL },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &o.out,
      "get: write the plaintext to FILE (mode 0600) instead of stdout",
      "FILE" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout,
      "Seconds to wait for a commit, a registration, a content fetch that "
      "makes no progress, and each request (default: 30)",
      "S" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "COMMAND [ARG]",
      "End-to-end encrypted messages between registered users.",
      "Commands:\n"
      "  register NAME [--profile KEY=VALUE...]\n"
      "                    make DIR/keys/im-NAME.pem and im-NAME.x25519.pem "
      "(if absent)\n"
      "                    and register NAME at the node (a registrar); "
      "prints the address\n"
      "  bind USER         ask USER to become a contact\n"
      "  accept USER | reject USER\n"
      "                    answer USER's bind request\n"
      "  unbind USER       ask to end the contact; confirm-unbind USER "
      "agrees\n"
      "  contacts          contacts and pending requests\n"
      "  send USER (--text TEXT | --file FILE)\n"
      "                    encrypt for USER and yourself, upload, send "
      "im.send\n"
      "  inbox | outbox [--after SEQ] [--limit N]\n"
      "                    the records, one line each\n"
      "  get SEQ [--sent] [--out FILE]\n"
      "                    check, fetch and decrypt a message (a text is "
      "printed)\n"
      "  chat USER         send each line of stdin; print USER's messages "
      "live\n"
      "                    (/quit or end of input ends)\n"
      "USER is a user name or an address; every command but register needs "
      "--as NAME.\n"
      "Exit codes: 0 ok, 1 failed or refused, 2 usage, 3 not found, 4 node "
      "unreachable.",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc)) {
    opts_clear (&o);
    return rc;
  }
  static const char *const one_arg[]
      = { "register", "send", "get", "chat", NULL };
  static const char *const no_arg[] = { "contacts", "inbox", "outbox", NULL };
  const char *cmd = argc > 1 ? argv[1] : NULL;
  int contact = -1;
  for (guint i = 0; cmd && i < G_N_ELEMENTS (contact_txs); i++)
    if (strcmp (cmd, contact_txs[i].cmd) == 0)
      contact = (int)i;
  const char *bad = NULL;
  g_autofree char *bad_msg = NULL;
  int nargs = cmd == NULL                                      ? -1
              : g_strv_contains (no_arg, cmd)                  ? 0
              : g_strv_contains (one_arg, cmd) || contact >= 0 ? 1
                                                               : -1;
  if (cmd == NULL)
    bad = "missing command: register, bind, accept, reject, unbind, "
          "confirm-unbind, contacts, send, inbox, outbox, get, chat";
  else if (nargs < 0)
    bad_msg = g_strdup_printf ("unknown im command '%s' (register, bind, "
                               "accept, reject, unbind, confirm-unbind, "
                               "contacts, send, inbox, outbox, get, chat)",
                               cmd);
  else if (argc < 2 + nargs)
    bad_msg = g_strdup_printf ("%s needs %s", cmd,
                               strcmp (cmd, "register") == 0 ? "a NAME"
                               : strcmp (cmd, "get") == 0
                                   ? "a SEQ (see 'cairn im inbox')"
                                   : "a USER (a name or an address)");
  else if (argc > 2 + nargs)
    bad_msg = g_strdup_printf ("unexpected argument '%s'", argv[2 + nargs]);
  else if (!(o.timeout > 0) || o.timeout > 86400)
    bad = "--timeout must be a number of seconds in (0, 86400]";
  else if ((o.text || o.file) && strcmp (cmd, "send") != 0)
    bad = "--text and --file are for send";
  else if (o.profile && strcmp (cmd, "register") != 0)
    bad = "--profile is for register";
  else if ((o.out || o.sent) && strcmp (cmd, "get") != 0)
    bad = "--out and --sent are for get";
  else if ((o.after || o.limit) && strcmp (cmd, "inbox") != 0
           && strcmp (cmd, "outbox") != 0)
    bad = "--after and --limit are for inbox and outbox";
  if (bad || bad_msg) {
    opts_clear (&o);
    return cairn_cli_usage ("%s", bad ? bad : bad_msg);
  }
  const char *arg = nargs == 1 ? argv[2] : NULL;

  Ctx c = { .o = &o, .home = o.home ? o.home : g_getenv ("CAIRN_HOME") };
  if (c.home && *c.home == '\0')
    c.home = NULL;
  g_autoptr (GError) error = NULL;
  c.url = cairn_client_url_for (c.home, o.node, &error);
  if (c.url != NULL)
    c.client = cairn_client_new (c.url, (guint)o.timeout + 1, &error);
  if (c.client == NULL) {
    ctx_clear (&c);
    opts_clear (&o);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  if (strcmp (cmd, "register") == 0)
    rc = cmd_register (&c, arg);
  else if (contact >= 0)
    rc = cmd_contact_tx (&c, (guint)contact, arg);
  else if (strcmp (cmd, "contacts") == 0)
    rc = cmd_contacts (&c);
  else if (strcmp (cmd, "send") == 0)
    rc = cmd_send (&c, arg);
  else if (strcmp (cmd, "inbox") == 0 || strcmp (cmd, "outbox") == 0)
    rc = cmd_box (&c, strcmp (cmd, "outbox") == 0);
  else if (strcmp (cmd, "get") == 0)
    rc = cmd_get (&c, arg);
  else
    rc = cmd_chat (&c, arg);
  ctx_clear (&c);
  opts_clear (&o);
  return rc;
}

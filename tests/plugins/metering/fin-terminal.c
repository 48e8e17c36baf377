/* fin-terminal: a test financial terminal for the metering plugin
 * (plugins/metering/README.md, "The financial terminal").
 *
 *   fin-terminal --key FT.pem --chain-id ID [--port 0] [--group-pubkey HEX]
 *                [--reject settlement|withdrawal]
 *
 * Listens on 127.0.0.1 only and prints its base URL as the first line of
 * stdout. Routes:
 *
 *   POST /instructions  {"instruction", "proof"}: the instruction's shape
 *       and chain id, the proof's shape and, with --group-pubkey, its FROST
 *       signature under that key (domain METER_DOMAIN_INSTRUCTION over the
 *       canonical instruction; a multisig proof is then refused). Answers
 *       200 {"voucher"}: kind, ref = the instruction id, account (from or
 *       account), amount, denom, status done (rejected for the --reject
 *       kind), chain_id, issued_ms, sig by --key (METER_DOMAIN_VOUCHER).
 *       The same instruction again gets the same voucher; another
 *       instruction with a known id is 409.
 *   POST /recharges     {"account", "amount", "denom", "ref"}: a recharge
 *       voucher (status done); a known ref is 409.
 *   GET /ledger         {"instructions": [...], "vouchers": [...]}: the
 *       request ({"instruction", "proof"}) of every distinct instruction
 *       and every voucher issued, in arrival order.
 *
 * Bad input is 400 {"error": "..."}. SIGTERM or SIGINT stops it. */
#include <stdio.h>
#include <string.h>

#include <cairn/util.h>

#include "crypto.h"
#include "formats.h"
#include "testsrv.h"

typedef struct {
  CairnKey *key;
  char *chain_id;
  gboolean have_group;
  uint8_t group_pk[32];
  char *reject;          /* settlement, withdrawal or NULL */
  GHashTable *by_id;     /* instruction id -> Issued */
  GHashTable *recharges; /* ref -> voucher (json_t) */
  json_t *instructions;  /* {"instruction", "proof"}, arrival order */
  json_t *vouchers;      /* arrival order */
} Ft;

typedef struct {
  char *canonical; /* the instruction */
  json_t *voucher;
} Issued;

static void
issued_free (gpointer p)
{
  Issued *i = p;
  g_free (i->canonical);
  json_decref (i->voucher);
  g_free (i);
}

/* Sign a voucher (its fields but "sig") with the terminal's key. */
static json_t *
voucher_new (Ft *ft, const char *kind, const char *ref, const char *account,
             json_int_t amount, const char *denom, const char *status,
             GError **error)
{
  g_autoptr (json_t) v = json_pack (
      "{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I}", "kind", kind, "ref", ref, "account",
      account, "amount", amount, "denom", denom, "status", status, "chain_id",
      ft->chain_id, "issued_ms", (json_int_t)(g_get_real_time () / 1000));
  if (v == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "voucher: a field is not a string");
    return NULL;
  }
  size_t len;
  g_autofree char *msg = meter_canonical (v, &len);
  uint8_t sig[64];
  cairn_key_sign (ft->key, METER_DOMAIN_VOUCHER, msg, len, sig);
  g_autofree char *hex = cairn_hex_encode (sig, 64);
  json_object_set_new (v, "sig", json_string (hex));
  /* What the chain will check, checked before it leaves. */
  if (!meter_voucher_check (v, error)
      || !meter_voucher_verify (v, cairn_key_pubkey (ft->key),
                                cairn_ed25519_verify, error))
    return NULL;
  return g_steal_pointer (&v);
}

static gboolean
exact_keys (const json_t *obj, const char *const *keys, guint n)
{
  if (!json_is_object (obj) || json_object_size (obj) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (json_object_get (obj, keys[i]) == NULL)
      return FALSE;
  return TRUE;
}

static void
post_instruction (Ft *ft, SoupServerMessage *msg)
{
  static const char *const keys[] = { "instruction", "proof" };
  g_autoptr (json_t) body = testsrv_body_json (msg);
  if (body == NULL)
    return;
  if (!exact_keys (body, keys, 2)) {
    testsrv_error (msg, 400,
                   "body must be {\"instruction\": {...}, \"proof\": {...}}");
    return;
  }
  json_t *ins = json_object_get (body, "instruction");
  json_t *proof = json_object_get (body, "proof");
  g_autoptr (GError) error = NULL;
  if (!meter_instruction_check (ins, &error)
      || !meter_proof_check (proof, &error)) {
    testsrv_error (msg, 400, "%s", error->message);
    return;
  }
  const char *chain = json_string_value (json_object_get (ins, "chain_id"));
  if (strcmp (chain, ft->chain_id) != 0) {
    testsrv_error (msg, 400,
                   "instruction: chain_id '%s' is not this terminal's chain "
                   "'%s'",
                   chain, ft->chain_id);
    return;
  }
  size_t len;
  g_autofree char *canon = meter_canonical (ins, &len);
  if (ft->have_group) {
    const char *scheme = json_string_value (json_object_get (proof, "scheme"));
    uint8_t sig[64];
    if (strcmp (scheme, "frost") != 0) {
      testsrv_error (msg, 400,
                     "proof: this terminal checks FROST signatures under its "
                     "group key; got a %s proof",
                     scheme);
      return;
    }
    if (!cairn_hex_decode (json_string_value (json_object_get (proof, "sig")),
                           sig, 64)
        || !cairn_ed25519_verify (ft->group_pk, METER_DOMAIN_INSTRUCTION, canon,
                                  len, sig)) {
      testsrv_error (msg, 400,
                     "proof: sig is not the center group's signature of the "
                     "instruction (Ed25519 under the group key, domain '%s', "
                     "over the canonical instruction)",
                     METER_DOMAIN_INSTRUCTION);
      return;
    }
  }
  const char *id = json_string_value (json_object_get (ins, "id"));
  Issued *had = g_hash_table_lookup (ft->by_id, id);
  if (had != NULL) {
    if (strcmp (had->canonical, canon) != 0) {
      testsrv_error (msg, 409,
                     "instruction %s was already executed with other "
                     "content",
                     id);
      return;
    }
    testsrv_reply (msg, 200, json_pack ("{s:O}", "voucher", had->voucher));
    return;
  }
  const char *kind = json_string_value (json_object_get (ins, "kind"));
  gboolean settlement = strcmp (kind, "settlement") == 0;
  const char *account = json_string_value (
      json_object_get (ins, settlement ? "from" : "account"));
  json_t *v = voucher_new (
      ft, kind, id, account,
      json_integer_value (json_object_get (ins, "amount")),
      json_string_value (json_object_get (ins, "denom")),
      g_strcmp0 (ft->reject, kind) == 0 ? "rejected" : "done", &error);
  if (v == NULL) {
    testsrv_error (msg, 500, "cannot issue the voucher: %s", error->message);
    return;
  }
  Issued *is = g_new0 (Issued, 1);
  is->canonical = g_steal_pointer (&canon);
  is->voucher = v;
  g_hash_table_insert (ft->by_id, g_strdup (id), is);
  json_array_append (ft->instructions, body);
  json_array_append (ft->vouchers, v);
  testsrv_reply (msg, 200, json_pack ("{s:O}", "voucher", v));
}

static void
post_recharge (Ft *ft, SoupServerMessage *msg)
{
  static const char *const keys[] = { "account", "amount", "denom", "ref" };
  g_autoptr (json_t) body = testsrv_body_json (msg);
  if (body == NULL)
    return;
  const char *account = json_string_value (json_object_get (body, "account"));
  const char *denom = json_string_value (json_object_get (body, "denom"));
  const char *ref = json_string_value (json_object_get (body, "ref"));
  json_t *amount = json_object_get (body, "amount");
  if (!exact_keys (body, keys, 4) || account == NULL || denom == NULL
      || ref == NULL || !json_is_integer (amount)) {
    testsrv_error (msg, 400,
                   "body must be {\"account\": ADDRESS, \"amount\": N, "
                   "\"denom\": D, \"ref\": REF}");
    return;
  }
  g_autoptr (GError) error = NULL;
  json_t *v = voucher_new (ft, "recharge", ref, account,
                           json_integer_value (amount), denom, "done", &error);
  if (v == NULL) {
    testsrv_error (msg, 400, "%s", error->message);
    return;
  }
  if (g_hash_table_contains (ft->recharges, ref)) {
    json_decref (v);
    testsrv_error (msg, 409, "recharge %s was already issued", ref);
    return;
  }
  g_hash_table_insert (ft->recharges, g_strdup (ref), v);
  json_array_append (ft->vouchers, v);
  testsrv_reply (msg, 200, json_pack ("{s:O}", "voucher", v));
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path,
        GHashTable *query, gpointer data)
{
  Ft *ft = data;
  const char *method = soup_server_message_get_method (msg);
  gboolean post = strcmp (method, "POST") == 0;
  if (strcmp (path, "/instructions") == 0 && post)
    post_instruction (ft, msg);
  else if (strcmp (path, "/recharges") == 0 && post)
    post_recharge (ft, msg);
  else if (strcmp (path, "/ledger") == 0 && strcmp (method, "GET") == 0)
    testsrv_reply (msg, 200,
                   json_pack ("{s:O,s:O}", "instructions", ft->instructions,
                              "vouchers", ft->vouchers));
  else if (strcmp (path, "/instructions") == 0
           || strcmp (path, "/recharges") == 0 || strcmp (path, "/ledger") == 0)
    testsrv_error (msg, 405, "%s %s: method not allowed", method, path);
  else
    testsrv_error (msg, 404, "no route %s", path);
}

int
main (int argc, char **argv)
{
  g_autofree char *key_path = NULL, *chain_id = NULL, *group = NULL,
                  *reject = NULL;
  int port = 0;
  const GOptionEntry entries[] = {
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key_path,
      "The terminal's Ed25519 key (PEM)", "FT.pem" },
    { "chain-id", 0, 0, G_OPTION_ARG_STRING, &chain_id,
      "The chain whose instructions it executes", "ID" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port (default 0: any)", "N" },
    { "group-pubkey", 0, 0, G_OPTION_ARG_STRING, &group,
      "Check FROST proofs under this center group key", "HEX" },
    { "reject", 0, 0, G_OPTION_ARG_STRING, &reject,
      "Answer status rejected to this kind", "settlement|withdrawal" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx
      = g_option_context_new ("- a test financial terminal");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("fin-terminal: %s\n", error->message);
    return 2;
  }
  if (argc > 1 || key_path == NULL || chain_id == NULL || port < 0
      || port > 65535) {
    g_printerr ("fin-terminal: usage: fin-terminal --key FT.pem --chain-id ID "
                "[--port N] [--group-pubkey HEX] [--reject "
                "settlement|withdrawal]\n");
    return 2;
  }
  Ft ft = { .chain_id = chain_id, .reject = reject };
  if (reject && strcmp (reject, "settlement") != 0
      && strcmp (reject, "withdrawal") != 0) {
    g_printerr ("fin-terminal: --reject '%s': settlement or withdrawal\n",
                reject);
    return 2;
  }
  if (group) {
    if (!cairn_hex_lower_valid (group, 32)
        || !cairn_hex_decode (group, ft.group_pk, 32)) {
      g_printerr ("fin-terminal: --group-pubkey '%s' is not 64 lower-case "
                  "hex\n",
                  group);
      return 2;
    }
    ft.have_group = TRUE;
  }
  ft.key = cairn_key_load (key_path, &error);
  if (ft.key == NULL) {
    g_printerr ("fin-terminal: --key: %s\n", error->message);
    return 1;
  }
  ft.by_id
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, issued_free);
  ft.recharges = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)json_decref);
  ft.instructions = json_array ();
  ft.vouchers = json_array ();
  gboolean ok = testsrv_run ((guint)port, handle, &ft, &error);
  if (!ok)
    g_printerr ("fin-terminal: cannot listen on 127.0.0.1:%d: %s\n", port,
                error->message);
  g_hash_table_unref (ft.by_id);
  g_hash_table_unref (ft.recharges);
  json_decref (ft.instructions);
  json_decref (ft.vouchers);
  cairn_key_free (ft.key);
  return ok ? 0 : 1;
}

/* hello: the smallest useful Cairn plugin, built out of tree against the
 * installed SDK (pkg-config cairn-sdk-1).
 *
 *   tx type  hello.greet  body {"greeting": "<1..140 characters>"}
 *            stores the sender's latest greeting under greeting/<sender>
 *            and emits the event hello.greeted {sender, greeting}
 *   route    GET /v1/hello/greetings/{address}
 *   config   [hello] prefix (default "hello"), used in the route's answer
 */
#include <string.h>

#include <cairn/cairn.h>

#define GREETING_MAX_CHARS 140

typedef struct Hello {
  char *prefix;
} Hello;

/* The core's host table lives as long as the process (see host.h). */
static const CairnHost *host;

/* ---- hello.greet ------------------------------------------------------ */

/* Stateless: runs at admission (check) and again before apply, because a
 * block from a peer was admitted by the peer, not by us. */
static gboolean
greet_check (CairnPlugin *self, const json_t *body, GError **error)
{
  const json_t *greeting = json_object_get (body, "greeting");
  if (!json_is_object (body) || greeting == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "hello.greet: body.greeting is missing");
    return FALSE;
  }
  if (json_object_size (body) != 1) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "hello.greet: body has unknown fields (allowed: greeting)");
    return FALSE;
  }
  if (!json_is_string (greeting)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "hello.greet: body.greeting must be a string");
    return FALSE;
  }
  /* Jansson strings are valid UTF-8; count characters, not bytes. */
  glong n = g_utf8_strlen (json_string_value (greeting), -1);
  if (n < 1 || n > GREETING_MAX_CHARS) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "hello.greet: body.greeting has %ld characters, allowed "
                 "1..%d",
                 n, GREETING_MAX_CHARS);
    return FALSE;
  }
  return TRUE;
}

/* Deterministic: reads only the body and the tx info (never the wall clock
 * or the config), writes only through the host. */
static gboolean
greet_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  if (!greet_check (self, body, error))
    return FALSE;
  const CairnTxInfo *info = host->tx_info (tx);
  const char *greeting = json_string_value (json_object_get (body, "greeting"));
  g_autofree char *key = g_strdup_printf ("greeting/%s", info->sender);
  json_t *value = json_pack ("{s:s,s:I}", "greeting", greeting, "height",
                             (json_int_t)info->height);
  gboolean ok = host->state_put_json (self, tx, key, value, error);
  json_decref (value);
  if (!ok)
    return FALSE;
  host->emit_event (
      self, tx, "hello.greeted",
      json_pack ("{s:s,s:s}", "sender", info->sender, "greeting", greeting));
  return TRUE;
}

static const CairnTxHandler greet_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .check = greet_check,
  .apply = greet_apply,
};

/* ---- GET /v1/hello/greetings/{address} -------------------------------- */

static gboolean
route_greetings (CairnPlugin *self, const CairnRequest *req,
                 CairnResponse *resp, void *user_data, GError **error)
{
  Hello *hello = user_data;
  const char *address = req->path_rest;
  if (!host->address_valid (address)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "'%s' is not an address (40 lowercase hex characters)",
                 address);
    return FALSE;
  }
  g_autofree char *key = g_strdup_printf ("greeting/%s", address);
  /* tx NULL: the committed head; ns NULL: our own namespace. */
  GError *local = NULL;
  json_t *stored = host->state_get_json (self, NULL, NULL, key, &local);
  if (stored == NULL) {
    if (g_error_matches (local, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)) {
      /* The core answers CAIRN_ERROR_NOT_FOUND with a 404. */
      g_clear_error (&local);
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
                   "no greeting from %s", address);
    } else {
      g_propagate_error (error, local);
    }
    return FALSE;
  }
  const json_t *greeting = json_object_get (stored, "greeting");
  const json_t *height = json_object_get (stored, "height");
  if (!json_is_string (greeting) || !json_is_integer (height)) {
    json_decref (stored);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CORRUPT,
                 "hello state %s: expected {greeting, height}", key);
    return FALSE;
  }
  g_autofree char *text
      = g_strdup_printf ("%s, %s", hello->prefix, json_string_value (greeting));
  resp->json = json_pack ("{s:s,s:O,s:O,s:s}", "address", address, "greeting",
                          greeting, "height", height, "text", text);
  json_decref (stored);
  return TRUE;
}

/* ---- lifecycle -------------------------------------------------------- */

static gboolean
hello_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  Hello *hello = g_new0 (Hello, 1);
  /* Read every config key here: keys nobody reads stop the node. */
  if (!host->config_string (self, "prefix", "hello", &hello->prefix, error))
    goto fail;
  host->set_data (self, hello);
  if (!host->register_tx_type (self, "hello.greet", &greet_handler,
                               sizeof greet_handler, error)
      || !host->register_route (self, "GET", "/v1/hello/greetings/",
                                route_greetings, hello, error))
    goto fail;
  return TRUE;
fail:
  host->set_data (self, NULL);
  g_free (hello->prefix);
  g_free (hello);
  return FALSE;
}

static void
hello_fini (CairnPlugin *self)
{
  Hello *hello = host->get_data (self);
  host->set_data (self, NULL);
  if (hello != NULL) {
    g_free (hello->prefix);
    g_free (hello);
  }
}

CAIRN_PLUGIN_DEFINE (hello, .id = "hello", .version = "0.1.0",
                     .vendor = "Example Vendor", .license = "Apache-2.0",
                     .description = "Stores a greeting per account",
                     .kinds = CAIRN_KIND_APP, .init = hello_init,
                     .fini = hello_fini)

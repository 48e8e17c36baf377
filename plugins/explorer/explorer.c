/* explorer: lifecycle, config, the web files (compiled in from web/ as a
 * GResource) and the panels service cairn.explorer/1. */
#include <string.h>

#include "explorer.h"
#include "explorer-resources.h"

const CairnHost *ex_host;

/* ---- the web files ------------------------------------------------------ */

static const char *
content_type (const char *path)
{
  static const struct {
    const char *suffix, *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".json", "application/json" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".txt", "text/plain; charset=utf-8" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_has_suffix (path, types[i].suffix))
      return types[i].type;
  return "application/octet-stream";
}

/* GET /explorer/<path>: a file of web/ ("" is index.html). */
static gboolean
route_web (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
           void *ud, GError **error)
{
  Explorer *ex = ud;
  const char *rest = req->path_rest[0] ? req->path_rest : "index.html";
  if (strstr (rest, "..") != NULL || strlen (rest) > 200)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND, "no file %s", req->path);
  g_autofree char *path = g_strconcat ("/cairn/explorer/web/", rest, NULL);
  GBytes *data = g_resource_lookup_data (ex->web, path,
                                         G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  if (data == NULL)
    return cairn_fail (error, CAIRN_ERROR_NOT_FOUND,
                       "the explorer has no file %s", rest);
  resp->body = data;
  resp->content_type = content_type (rest);
  return TRUE;
}

/* GET /explorer: the page's paths are relative to /explorer/. */
static gboolean
route_web_root (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
                void *ud, GError **error)
{
  static const char page[]
      = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"0; url=/explorer/\">"
        "<title>Cairn explorer</title></head><body><p><a "
        "href=\"/explorer/\">The explorer is at /explorer/</a></p></body>"
        "</html>\n";
  resp->body = g_bytes_new_static (page, sizeof page - 1);
  resp->content_type = "text/html; charset=utf-8";
  return TRUE;
}

/* ---- panels: cairn.explorer/1 ------------------------------------------- */

static Explorer *the_explorer; /* the service has no user data */

static gboolean
name_ok (const char *s, size_t max, const char *extra)
{
  size_t n = s ? strlen (s) : 0;
  if (n == 0 || n > max)
    return FALSE;
  for (; *s; s++)
    if (!(g_ascii_isalnum (*s) || strchr (extra, *s)))
      return FALSE;
  return TRUE;
}

static gboolean
text_ok (const json_t *v, size_t min, size_t max)
{
  return json_is_string (v) && json_string_length (v) >= min
         && json_string_length (v) <= max
         && strlen (json_string_value (v)) == json_string_length (v)
         && g_utf8_validate (json_string_value (v), -1, NULL);
}

static gboolean
register_panel (CairnPlugin *caller, const json_t *panel, GError **error)
{
  Explorer *ex = the_explorer;
  const char *plugin = ex_host->plugin_id ? ex_host->plugin_id (caller) : "?";
  const char *id, *route;
  json_t *title, *columns, *desc = NULL;
  if (ex == NULL)
    return cairn_fail (error, CAIRN_ERROR_FAILED, "the explorer is stopped");
  if (!cairn_unpack_strict ("panel", panel, error, "{s:s,s:o,s:s,s:o,s?o}",
                            "id", &id, "title", &title, "route", &route,
                            "columns", &columns, "description", &desc))
    return FALSE;
  if (!name_ok (id, 32, "_-") || strpbrk (id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "panel: id '%s' must be [a-z0-9_-], 1 to 32", id);
  if (!text_ok (title, 1, 80) || (desc && !text_ok (desc, 0, 400)))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "panel %s: title (1 to 80 bytes) or description (at "
                       "most 400) is malformed",
                       id);
  if (!g_str_has_prefix (route, "/v1/") || strlen (route) > 200)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "panel %s: route must be a path of the node's API "
                       "starting with /v1/ (at most 200 bytes)",
                       id);
  for (const char *s = route; *s; s++)
    if (!g_ascii_isgraph (*s) || *s == '"' || *s == '<' || *s == '>')
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "panel %s: route has a character it cannot have", id);
  size_t nc = json_array_size (columns);
  if (!json_is_array (columns) || nc < 1 || nc > 12)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "panel %s: columns must be 1 to 12 objects", id);
  for (size_t i = 0; i < nc; i++) {
    const char *key, *link = NULL;
    json_t *label;
    if (!cairn_unpack_strict ("panel column", json_array_get (columns, i),
                              error, "{s:s,s:o,s?s}", "key", &key, "label",
                              &label, "link", &link))
      return FALSE;
    if (!name_ok (key, 64, "_.") || !text_ok (label, 1, 40)
        || (link && strcmp (link, "block") && strcmp (link, "tx")
            && strcmp (link, "account") && strcmp (link, "service")))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "panel %s: columns[%zu]: key ([A-Za-z0-9_.], 1 to "
                         "64), label (1 to 40 bytes) or link (block, tx, "
                         "account, service) is malformed",
                         id, i);
  }
  for (size_t i = 0; i < json_array_size (ex->panels); i++) {
    json_t *p = json_array_get (ex->panels, i);
    if (g_strcmp0 (json_string_value (json_object_get (p, "plugin")), plugin)
            == 0
        && g_strcmp0 (json_string_value (json_object_get (p, "id")), id) == 0)
      return cairn_fail (error, CAIRN_ERROR_CONFLICT,
                         "panel %s of plugin %s is already registered", id,
                         plugin);
  }
  json_t *copy = json_deep_copy (panel);
  json_object_set_new (copy, "plugin", json_string (plugin));
  if (json_object_get (copy, "description") == NULL)
    json_object_set_new (copy, "description", json_string (""));
  json_array_append_new (ex->panels, copy);
  return TRUE;
}

static const CairnExplorerService explorer_service = {
  .size = sizeof (CairnExplorerService),
  .register_panel = register_panel,
};

static gboolean
route_panels (CairnPlugin *self, const CairnRequest *req, CairnResponse *resp,
              void *ud, GError **error)
{
  Explorer *ex = ud;
  resp->json = json_pack ("{s:O}", "panels", ex->panels);
  return TRUE;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
ex_free (Explorer *ex)
{
  ex_index_free (ex);
  json_decref (ex->panels);
  if (ex->web != NULL)
    explorer_unregister_resource ();
  g_free (ex);
}

static gboolean
ex_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  ex_host = h;
  Explorer *ex = g_new0 (Explorer, 1);
  ex->self = self;
  /* Generated with --manual-register: nothing runs at dlopen; the
   * resource is registered here and unregistered before the .so goes. */
  explorer_register_resource ();
  ex->web = explorer_get_resource ();
  ex->panels = json_array ();
  if (!h->config_bool (self, "index", TRUE, &ex->index_on, error)
      || !h->config_int (self, "index_blocks", EXPLORER_INDEX_BLOCKS, 100,
                         100000000, &ex->index_blocks, error)
      || !h->config_int (self, "index_txs", EXPLORER_INDEX_TXS, 1000, 100000000,
                         &ex->index_txs, error))
    goto fail;
  h->set_data (self, ex);
  the_explorer = ex;
  if (!h->provide_service (self, CAIRN_EXPLORER_SERVICE,
                           CAIRN_EXPLORER_SERVICE_VERSION, &explorer_service,
                           error)
      || !h->register_route (self, "GET", "/explorer/", route_web, ex, error)
      || !h->register_route (self, "GET", "/explorer", route_web_root, ex,
                             error)
      || !h->register_route (self, "GET", "/v1/explorer/panels", route_panels,
                             ex, error)
      || !ex_index_init (ex, error) || !ex_register_api (ex, error))
    goto fail;
  return TRUE;
fail:
  the_explorer = NULL;
  h->set_data (self, NULL);
  ex_free (ex);
  return FALSE;
}

static gboolean
ex_start (CairnPlugin *self, GError **error)
{
  Explorer *ex = ex_host->get_data (self);
  return ex_index_start (ex, error);
}

static void
ex_stop (CairnPlugin *self)
{
  Explorer *ex = ex_host->get_data (self);
  if (ex != NULL)
    ex_index_stop (ex);
}

static void
ex_fini (CairnPlugin *self)
{
  Explorer *ex = ex_host->get_data (self);
  if (ex != NULL) {
    ex_stop (self);
    ex_free (ex);
  }
  the_explorer = NULL;
  ex_host->set_data (self, NULL);
}

static const CairnServiceRef ex_provides[] = {
  { CAIRN_EXPLORER_SERVICE, CAIRN_EXPLORER_SERVICE_VERSION, 0 },
  { NULL, 0, 0 },
};

CAIRN_PLUGIN_DEFINE (explorer, .id = EXPLORER_ID, .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "The chain's web page at /explorer/: "
                                    "blocks, txs, accounts, validators, "
                                    "services and the panels app plugins "
                                    "register",
                     .kinds = CAIRN_KIND_INTERFACE, .provides = ex_provides,
                     .init = ex_init, .start = ex_start, .stop = ex_stop,
                     .fini = ex_fini)

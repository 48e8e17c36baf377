/* Cairn SDK — the cairn.explorer/1 service: pages in the web explorer.
 *
 * Provided by the `explorer` plugin. An app plugin adds a page (a panel)
 * to the explorer by registering it, typically in its `start` (services
 * are looked up then, so the load order does not matter; the explorer
 * being absent is not an error):
 *
 *   const CairnExplorerService *ex = host->lookup_service (
 *       self, CAIRN_EXPLORER_SERVICE, CAIRN_EXPLORER_SERVICE_VERSION);
 *   if (ex != NULL && !ex->register_panel (self, panel, &error))
 *     ...
 *
 * A panel is JSON (borrowed; the explorer keeps a copy):
 *
 *   {"id": "ranking",                  [a-z0-9_-]{1,32}, unique per plugin
 *    "title": "Apps ranking",          1 to 80 bytes
 *    "route": "/v1/market/ranking",    a GET path of the node's API (starts
 *                                      with /v1/, printable, at most 200)
 *    "columns": [{"key": "rank", "label": "Rank"},
 *                {"key": "service", "label": "Service", "link": "service"}],
 *    "description": "..."}             optional, at most 400 bytes
 *
 * The route must answer a JSON array of objects, or an object whose first
 * array member is shown. A column key may be a dotted path
 * ("aggregate.period"); `link` (block, tx, account, service) makes the
 * value a link to that page. The explorer renders every panel the same
 * way, so a plugin gets a page without any HTML or JavaScript. Errors
 * (CAIRN_ERROR_INVALID, _CONFLICT for a second panel with the same id)
 * name the field.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "abi.h"
#include "host.h"
#include "plugin.h"

#define CAIRN_EXPLORER_SERVICE "cairn.explorer"
#define CAIRN_EXPLORER_SERVICE_VERSION 1

typedef struct CairnExplorerService {
  uint32_t size; /* sizeof(CairnExplorerService) in the provider */
  uint32_t reserved;
  gboolean (*register_panel) (CairnPlugin *caller, const json_t *panel,
                              GError **error);
} CairnExplorerService;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnExplorerService) == 8 + 1 * sizeof (void *),
               "CairnExplorerService is append-only: update the count when "
               "adding");
#endif

/* The usual call, from a plugin's start: register the panel given as JSON
 * text when an explorer is loaded; a refusal is logged as a warning (a
 * missing page must not stop the node). */
static inline void
cairn_explorer_add_panel (const CairnHost *host, CairnPlugin *self,
                          const char *panel_json)
{
  const CairnExplorerService *ex
      = (const CairnExplorerService *)host->lookup_service (
          self, CAIRN_EXPLORER_SERVICE, CAIRN_EXPLORER_SERVICE_VERSION);
  if (ex == NULL)
    return;
  json_error_t jerr;
  json_t *panel = json_loads (panel_json, 0, &jerr);
  GError *error = NULL;
  if (panel == NULL)
    g_warning ("%s: explorer panel: bad JSON: %s", host->plugin_id (self),
               jerr.text);
  else if (!ex->register_panel (self, panel, &error)) {
    g_warning ("%s: explorer panel: %s", host->plugin_id (self),
               error->message);
    g_error_free (error);
  }
  json_decref (panel);
}

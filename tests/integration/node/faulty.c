/* A test-only app plugin that misbehaves on demand: a tx whose handler
 * crashes the process, one that blocks the main loop, and an init that
 * fails when [faulty] fail_init = true. */
#include <signal.h>
#include <string.h>

#include <cairn/cairn.h>

static const CairnHost *host;

static gboolean
crash_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  raise (SIGSEGV);
  return FALSE;
}

/* Sleeps body.ms on the main loop, then records body.key = "done". */
static gboolean
stall_apply (CairnPlugin *self, CairnTxCtx *tx, const json_t *body,
             GError **error)
{
  json_int_t ms = json_integer_value (json_object_get (body, "ms"));
  const char *key = json_string_value (json_object_get (body, "key"));
  if (key == NULL || ms < 0 || ms > 60000) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "faulty.stall needs key and ms (0..60000)");
    return FALSE;
  }
  g_usleep ((gulong)ms * 1000);
  return host->state_put (self, tx, key, "done", 4, error);
}

static const CairnTxHandler crash_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .apply = crash_apply,
};
static const CairnTxHandler stall_handler = {
  .iface_version = CAIRN_TX_HANDLER_VERSION,
  .apply = stall_apply,
};

static gboolean
faulty_init (CairnPlugin *self, const CairnHost *h, GError **error)
{
  host = h;
  gboolean fail = FALSE;
  if (!host->config_bool (self, "fail_init", FALSE, &fail, error))
    return FALSE;
  if (fail) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "faulty refuses to start ([faulty] fail_init = true)");
    return FALSE;
  }
  return host->register_tx_type (self, "faulty.crash", &crash_handler,
                                 sizeof crash_handler, error)
         && host->register_tx_type (self, "faulty.stall", &stall_handler,
                                    sizeof stall_handler, error);
}

CAIRN_PLUGIN_DEFINE (faulty, .id = "faulty", .version = "0.0.1",
                     .vendor = "Cairn tests", .license = "Apache-2.0",
                     .description = "test-only plugin that misbehaves",
                     .kinds = CAIRN_KIND_APP, .init = faulty_init)

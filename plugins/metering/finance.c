/* metering: the financial-terminal adapter. A plugin that provides
 * cairn.finance/1 (<cairn/finance.h>) is used when loaded; the default
 * adapter POSTs the threshold-signed instruction as JSON to
 * [metering] finance_url + "/instructions" and takes the voucher from the
 * response ({"voucher": {...}}). A terminal that answers later posts the
 * voucher to POST /v1/metering/vouchers instead. */
#include <string.h>

#include <libsoup/soup.h>

#include "metering.h"

#include <cairn/finance.h>

struct MeterFinance {
  SoupSession *session;
  GCancellable *cancel;
  guint pending;
};

typedef struct {
  Meter *m;
  char *id;
  MtrVoucherFn done;
} Request;

gboolean
mtr_finance_init (Meter *m, GError **error)
{
  MeterFinance *f = g_new0 (MeterFinance, 1);
  f->session = soup_session_new ();
  soup_session_set_timeout (f->session,
                            (guint)MAX (1, m->finance_timeout_ms / 1000));
  f->cancel = g_cancellable_new ();
  m->finance = f;
  return TRUE;
}

static void
on_response (GObject *src, GAsyncResult *res, gpointer data)
{
  Request *r = data;
  Meter *m = r->m;
  MeterFinance *f = m->finance;
  SoupMessage *msg
      = soup_session_get_async_result_message (SOUP_SESSION (src), res);
  GError *e = NULL;
  g_autoptr (GBytes) body
      = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &e);
  f->pending--;
  if (!g_cancellable_is_cancelled (f->cancel)) {
    guint status = msg ? soup_message_get_status (msg) : 0;
    json_t *j = NULL;
    if (e == NULL) {
      gsize len;
      const char *text = g_bytes_get_data (body, &len);
      j = json_loadb (text ? text : "", len, 0, NULL);
      if (status != 200 || !json_is_object (json_object_get (j, "voucher")))
        g_set_error (&e, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "%s answered %u without a voucher: %.200s", m->finance_url,
                     status, text ? text : "");
    }
    r->done (m, r->id, e ? NULL : json_object_get (j, "voucher"), e);
    json_decref (j);
  }
  g_clear_error (&e);
  g_free (r->id);
  g_free (r);
}

static void
on_service_done (json_t *voucher, const GError *error, void *data)
{
  Request *r = data;
  r->m->finance->pending--;
  if (!g_cancellable_is_cancelled (r->m->finance->cancel))
    r->done (r->m, r->id, voucher, error);
  g_free (r->id);
  g_free (r);
}

void
mtr_finance_send (Meter *m, const json_t *instruction, const json_t *proof,
                  MtrVoucherFn done)
{
  MeterFinance *f = m->finance;
  const char *id = json_string_value (json_object_get (instruction, "id"));
  const CairnFinanceService *svc = meter_host->lookup_service (
      m->self, CAIRN_FINANCE_SERVICE, CAIRN_FINANCE_SERVICE_VERSION);
  if (svc != NULL) {
    Request *r = g_new0 (Request, 1);
    r->m = m;
    r->id = g_strdup (id);
    r->done = done;
    f->pending++;
    svc->send (m->self, instruction, proof, f->cancel, on_service_done, r);
    return;
  }
  if (m->finance_url[0] == '\0') {
    GError *e = g_error_new_literal (CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                                     "[metering] finance_url is not set");
    done (m, id, NULL, e);
    g_error_free (e);
    return;
  }
  g_autofree char *url = g_strconcat (
      m->finance_url, g_str_has_suffix (m->finance_url, "/") ? "" : "/",
      "instructions", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  if (msg == NULL) {
    GError *e = g_error_new (CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                             "[metering] finance_url '%s' is not a URL",
                             m->finance_url);
    done (m, id, NULL, e);
    g_error_free (e);
    return;
  }
  g_autoptr (json_t) body
      = json_pack ("{s:O,s:O}", "instruction", instruction, "proof", proof);
  size_t len;
  char *text = meter_canonical (body, &len);
  g_autoptr (GBytes) bytes = g_bytes_new_take (text, len);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  Request *r = g_new0 (Request, 1);
  r->m = m;
  r->id = g_strdup (id);
  r->done = done;
  f->pending++;
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT,
                                    f->cancel, on_response, r);
}

void
mtr_finance_stop (Meter *m)
{
  MeterFinance *f = m->finance;
  if (f == NULL)
    return;
  g_cancellable_cancel (f->cancel);
  /* Let the cancelled requests finish here: their callbacks must not run
   * after the plugin is gone. */
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (f->pending > 0 && g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
}

void
mtr_finance_free (Meter *m)
{
  MeterFinance *f = m->finance;
  if (f == NULL)
    return;
  mtr_finance_stop (m);
  g_object_unref (f->session);
  g_object_unref (f->cancel);
  g_free (f);
  m->finance = NULL;
}

/* Parsing of peer addresses "id@host:port" (see p2p.h). */
#include "p2p.h"

#include <string.h>

#include <gio/gio.h>

#include <cairn/error.h>

/* A DNS name: labels of [A-Za-z0-9-], not starting or ending with '-'. */
static gboolean
host_name_valid (const char *host)
{
  size_t len = strlen (host);

  if (len == 0 || len > 253)
    return FALSE;
  for (const char *label = host; *label != '\0';) {
    const char *dot = strchr (label, '.');
    size_t n = dot ? (size_t)(dot - label) : strlen (label);
    if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
      return FALSE;
    for (size_t i = 0; i < n; i++)
      if (!g_ascii_isalnum (label[i]) && label[i] != '-')
        return FALSE;
    label += n;
    if (*label == '.') {
      label++;
      if (*label == '\0') /* a trailing dot is fine once */
        break;
    }
  }
  return TRUE;
}

gboolean
cairn_peer_addr_parse (const char *text, CairnPeerAddr *out, GError **error)
{
  const char *at, *rest, *port_text;
  g_autofree char *host = NULL;
  guint64 port;
  char *end;

  g_return_val_if_fail (out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  if (text == NULL || *text == '\0') {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "peer address is empty (want id@host:port)");
    return FALSE;
  }
  at = strchr (text, '@');
  if (at == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "peer address '%s': missing '@' (want id@host:port)", text);
    return FALSE;
  }
  {
    g_autofree char *id = g_strndup (text, (gsize)(at - text));
    if (!cairn_address_valid (id)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': id '%s' is not 40 lowercase hex "
                   "characters",
                   text, id);
      return FALSE;
    }
  }
  rest = at + 1;
  if (*rest == '[') {
    const char *close = strchr (rest, ']');
    if (close == NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': host '%s' has no closing ']'", text,
                   rest);
      return FALSE;
    }
    host = g_strndup (rest + 1, (gsize)(close - rest - 1));
    if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': host '[%s]' is not an IPv6 address",
                   text, host);
      return FALSE;
    }
    if (close[1] != ':') {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': missing ':port' after host '[%s]'", text,
                   host);
      return FALSE;
    }
    port_text = close + 2;
  } else {
    const char *colon = strrchr (rest, ':');
    if (colon == NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': missing ':port' after host", text);
      return FALSE;
    }
    host = g_strndup (rest, (gsize)(colon - rest));
    if (strchr (host, ':') != NULL) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': host '%s' looks like IPv6; write it "
                   "in brackets",
                   text, host);
      return FALSE;
    }
    if (!host_name_valid (host)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "peer address '%s': host '%s' is not a host name or IPv4 "
                   "address",
                   text, host);
      return FALSE;
    }
    port_text = colon + 1;
  }
  if (!g_ascii_isdigit (port_text[0])) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "peer address '%s': port '%s' is not a number", text,
                 port_text);
    return FALSE;
  }
  port = g_ascii_strtoull (port_text, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "peer address '%s': port '%s' is not in 1..65535", text,
                 port_text);
    return FALSE;
  }
  memcpy (out->id, text, 40);
  out->id[40] = '\0';
  out->host = g_steal_pointer (&host);
  out->port = (guint16)port;
  return TRUE;
}

void
cairn_peer_addr_clear (CairnPeerAddr *addr)
{
  if (addr == NULL)
    return;
  g_clear_pointer (&addr->host, g_free);
  memset (addr->id, 0, sizeof addr->id);
  addr->port = 0;
}

/* Shared CLI helpers: error messages and exit codes, option parsing, and
 * the two output styles (pretty JSON for --json, short text for humans). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/error.h>

#include "cli.h"

GQuark
cairn_cli_error_quark (void)
{
  return g_quark_from_static_string ("cairn-cli-error-quark");
}

void
cairn_cli_printerr (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("cairn: %s\n", msg);
}

int
cairn_cli_exit_code (const GError *error)
{
  if (error == NULL)
    return CAIRN_EXIT_OK;
  if (error->domain == CAIRN_CLI_ERROR && error->code >= CAIRN_EXIT_FAILED
      && error->code <= CAIRN_EXIT_UNREACHABLE)
    return error->code;
  if (error->domain == G_OPTION_ERROR)
    return CAIRN_EXIT_USAGE;
  if (g_error_matches (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)
      || g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return CAIRN_EXIT_NOT_FOUND;
  return CAIRN_EXIT_FAILED;
}

int
cairn_cli_fail (GError *error)
{
  int code = cairn_cli_exit_code (error);
  cairn_cli_printerr ("%s", error ? error->message : "failed");
  g_clear_error (&error);
  return code == CAIRN_EXIT_OK ? CAIRN_EXIT_FAILED : code;
}

int
cairn_cli_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("cairn: %s\n(try '%s --help')\n", msg, g_get_prgname ());
  return CAIRN_EXIT_USAGE;
}

GOptionContext *
cairn_cli_context_new (const char *parameters, const char *summary,
                       const char *description, const GOptionEntry *entries)
{
  GOptionContext *ctx = g_option_context_new (parameters);
  if (summary)
    g_option_context_set_summary (ctx, summary);
  if (description)
    g_option_context_set_description (ctx, description);
  if (entries)
    g_option_context_add_main_entries (ctx, entries, NULL);
  return ctx;
}

gboolean
cairn_cli_parse (GOptionContext *ctx, int *argc, char ***argv, int *exit_code)
{
  g_autoptr (GError) error = NULL;
  if (g_option_context_parse (ctx, argc, argv, &error))
    return TRUE;
  *exit_code = cairn_cli_usage ("%s", error->message);
  return FALSE;
}

const char *
cairn_cli_require_home (const char *home_opt)
{
  if (home_opt && *home_opt)
    return home_opt;
  const char *env = g_getenv ("CAIRN_HOME");
  if (env && *env)
    return env;
  cairn_cli_usage ("missing --home DIR (or set CAIRN_HOME)");
  return NULL;
}

void
cairn_cli_print_json (const json_t *value)
{
  g_autofree char *text
      = json_dumps (value, JSON_INDENT (2) | JSON_SORT_KEYS | JSON_ENCODE_ANY
                               | JSON_REAL_PRECISION (10));
  g_print ("%s\n", text ? text : "null");
}

void
cairn_cli_print_json_line (const json_t *value)
{
  g_autofree char *text
      = json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY
                               | JSON_REAL_PRECISION (10));
  g_print ("%s\n", text ? text : "null");
}

char *
cairn_cli_json_text (const json_t *value)
{
  if (value == NULL || json_is_null (value))
    return g_strdup ("-");
  if (json_is_string (value))
    return g_strdup (json_string_value (value));
  return json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

void
cairn_cli_print_field (const char *label, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_print ("%-12s %s\n", label, msg);
}

static int
compare_keys (const void *a, const void *b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static void
print_flat (const json_t *value, GString *path)
{
  gsize len = path->len;
  if (json_is_object (value) && json_object_size (value) > 0) {
    g_autoptr (GPtrArray) keys = g_ptr_array_new ();
    const char *key;
    json_t *member;
    json_object_foreach ((json_t *)value, key, member)
        g_ptr_array_add (keys, (gpointer)key);
    qsort (keys->pdata, keys->len, sizeof (gpointer), compare_keys);
    for (guint i = 0; i < keys->len; i++) {
      const char *k = keys->pdata[i];
      if (path->len)
        g_string_append_c (path, '.');
      g_string_append (path, k);
      print_flat (json_object_get (value, k), path);
      g_string_truncate (path, len);
    }
  } else if (json_is_array (value) && json_array_size (value) > 0) {
    size_t i;
    json_t *item;
    json_array_foreach (value, i, item)
    {
      g_string_append_printf (path, "[%zu]", i);
      print_flat (item, path);
      g_string_truncate (path, len);
    }
  } else {
    g_autofree char *text = cairn_cli_json_text (value);
    g_print ("%s: %s\n", path->len ? path->str : "value", text);
  }
}

void
cairn_cli_print_flat (const json_t *value)
{
  g_autoptr (GString) path = g_string_new (NULL);
  print_flat (value, path);
}

json_t *
cairn_cli_json_find (const json_t *obj, const char *key)
{
  json_t *v = json_object_get (obj, key);
  if (v)
    return v;
  json_t *header = json_object_get (obj, "header");
  return json_is_object (header) ? json_object_get (header, key) : NULL;
}

static gboolean
find_real (const json_t *value, GString *path)
{
  gsize len = path->len;
  if (json_is_real (value)) {
    g_string_append_printf (path, " (%g)", json_real_value (value));
    return TRUE;
  }
  if (json_is_object (value)) {
    const char *key;
    json_t *member;
    json_object_foreach ((json_t *)value, key, member)
    {
      g_string_append_printf (path, ".%s", key);
      if (find_real (member, path))
        return TRUE;
      g_string_truncate (path, len);
    }
  } else if (json_is_array (value)) {
    size_t i;
    json_t *item;
    json_array_foreach (value, i, item)
    {
      g_string_append_printf (path, "[%zu]", i);
      if (find_real (item, path))
        return TRUE;
      g_string_truncate (path, len);
    }
  }
  return FALSE;
}

char *
cairn_cli_find_real (const json_t *value, const char *root)
{
  g_autoptr (GString) path = g_string_new (root);
  if (!find_real (value, path))
    return NULL;
  return g_string_free (g_steal_pointer (&path), FALSE);
}

/* A free TCP port on 127.0.0.1 (bound, read, released). */
gboolean
cairn_cli_free_port (guint16 *port, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (
      G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return FALSE;
  g_autoptr (GInetAddress) lo
      = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  if (!g_socket_bind (sock, any, FALSE, error))
    return FALSE;
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, error);
  if (bound == NULL)
    return FALSE;
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return g_socket_close (sock, error);
}

gboolean
cairn_cli_set_error (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_CLI_ERROR, code, msg);
  return FALSE;
}

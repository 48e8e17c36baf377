/* Cairn SDK — small header-only helpers (no host call needed). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "error.h"

/* g_autoptr (json_t) in plugins and in the core. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (json_t, json_decref)

/* Lowercase hex of len bytes; g_free the result. */
static inline char *
cairn_hex_encode (const void *data, size_t len)
{
  static const char digits[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)data;
  char *out = (char *)g_malloc (len * 2 + 1);
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[len * 2] = '\0';
  return out;
}

/* Exactly 2*len lowercase or uppercase hex digits into out. */
static inline gboolean
cairn_hex_decode (const char *hex, void *out, size_t len)
{
  uint8_t *o = (uint8_t *)out;
  if (hex == NULL || strlen (hex) != len * 2)
    return FALSE;
  /* Inline digit values (no call per character: signatures and keys are
   * decoded for every tx). */
  for (size_t i = 0; i < 2 * len; i++) {
    char c = hex[i], l = (char)(c | 0x20);
    int v = c >= '0' && c <= '9'   ? c - '0'
            : l >= 'a' && l <= 'f' ? l - 'a' + 10
                                   : -1;
    if (v < 0)
      return FALSE;
    o[i / 2] = (uint8_t)(i % 2 ? o[i / 2] | v : v << 4);
  }
  return TRUE;
}

/* Checked unsigned arithmetic for amounts; FALSE on overflow. */
static inline gboolean
cairn_add_u64 (uint64_t a, uint64_t b, uint64_t *out)
{
  return !__builtin_add_overflow (a, b, out);
}
static inline gboolean
cairn_sub_u64 (uint64_t a, uint64_t b, uint64_t *out)
{
  if (b > a)
    return FALSE;
  *out = a - b;
  return TRUE;
}

/* ---- names that plugins and the core check the same way ---- */

/* Exactly 2*n lowercase hex digits (ids, digests). */
static inline gboolean
cairn_hex_lower_valid (const char *s, size_t n)
{
  if (s == NULL || strlen (s) != 2 * n)
    return FALSE;
  for (size_t i = 0; i < 2 * n; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* A role name: 1-32 of [a-z_]. */
static inline gboolean
cairn_role_valid (const char *s)
{
  size_t n = 0;
  if (s == NULL)
    return FALSE;
  for (; s[n] != '\0'; n++)
    if (!g_ascii_islower (s[n]) && s[n] != '_')
      return FALSE;
  return n >= 1 && n <= 32;
}

/* A denomination: [a-z][a-z0-9]{1,15}. */
static inline gboolean
cairn_denom_valid (const char *d)
{
  size_t n = d != NULL ? strlen (d) : 0;
  if (n < 2 || n > 16 || !g_ascii_islower (d[0]))
    return FALSE;
  for (size_t i = 1; i < n; i++)
    if (!g_ascii_islower (d[i]) && !g_ascii_isdigit (d[i]))
      return FALSE;
  return TRUE;
}

/* A blob id as blob stores print it: a CIDv1 in base32, "b" then
 * [a-z2-7], 20-128 characters in all. */
static inline gboolean
cairn_cid_valid (const char *cid)
{
  size_t n = cid != NULL ? strlen (cid) : 0;
  if (n < 20 || n > 128 || cid[0] != 'b')
    return FALSE;
  for (size_t i = 1; i < n; i++)
    if (!g_ascii_islower (cid[i]) && !(cid[i] >= '2' && cid[i] <= '7'))
      return FALSE;
  return TRUE;
}

/* ---- errors and JSON bodies ---- */

/* Set a CAIRN_ERROR with a printf message; returns FALSE, for
 * `return cairn_fail (error, CAIRN_ERROR_INVALID, "...", ...);`. */
static inline gboolean G_GNUC_PRINTF (3, 4)
    cairn_fail (GError **error, int code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_ERROR, code, msg);
  g_free (msg);
  return FALSE;
}

/* json_unpack_ex with JSON_STRICT (no unknown or missing keys); on failure
 * INVALID "<what>: body: <what is wrong>". */
static inline gboolean
cairn_unpack_strict (const char *what, const json_t *body, GError **error,
                     const char *fmt, ...)
{
  json_error_t jerr;
  va_list ap;
  if (!json_is_object (body))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: body must be an object",
                       what);
  va_start (ap, fmt);
  int rc = json_vunpack_ex ((json_t *)body, &jerr, JSON_STRICT, fmt, ap);
  va_end (ap);
  if (rc != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: body: %s", what,
                       jerr.text);
  return TRUE;
}

/* Cairn SDK — small header-only helpers (no host call needed). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include <glib.h>
#include <jansson.h>

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
  for (size_t i = 0; i < len; i++) {
    int hi = g_ascii_xdigit_value (hex[2 * i]);
    int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    o[i] = (uint8_t)(hi << 4 | lo);
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

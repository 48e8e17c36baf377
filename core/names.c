/* Names and identifiers (see names.h). */
#include "names.h"

#include <string.h>

gboolean
cairn_chain_id_valid (const char *s)
{
  size_t n = 0;
  if (s == NULL)
    return FALSE;
  for (; s[n] != '\0'; n++)
    if (!g_ascii_isalnum (s[n]) && s[n] != '_' && s[n] != '.' && s[n] != '-')
      return FALSE;
  return n >= 1 && n <= 64;
}

gboolean
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

gboolean
cairn_hex_lower_valid (const char *s, size_t n)
{
  if (s == NULL || strlen (s) != 2 * n)
    return FALSE;
  for (size_t i = 0; i < 2 * n; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

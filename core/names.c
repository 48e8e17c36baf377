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

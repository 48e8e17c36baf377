/* Fuzz target: the canonical JSON parser (core/cjson.c).
 *
 * Properties checked on every input that parses:
 *   - cairn_cjson_dump writes exactly Jansson's compact sorted dump;
 *   - its canonical dump parses again, with require_canonical, to an equal
 *     value, and dumps to the same bytes (dump is a fixed point);
 *   - the input parses with require_canonical if and only if it IS its
 *     own dump (this checks the quick canonical proof against the dump). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjson.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  g_autoptr (GError) error = NULL;
  g_autoptr (json_t) value = cairn_cjson_parse (text, size, FALSE, &error);

  if (value == NULL) {
    CHECK (error != NULL);
    return 0;
  }
  CHECK (cairn_cjson_is_integral (value));

  size_t len1 = 0, len2 = 0;
  g_autofree char *dump1 = cairn_cjson_dump (value, &len1, &error);
  CHECK (dump1 != NULL);
  CHECK (strlen (dump1) == len1);
  /* The canonical writer writes exactly Jansson's compact sorted dump. */
  g_autofree char *jansson
      = json_dumps (value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  CHECK (jansson != NULL && strcmp (jansson, dump1) == 0);

  g_autoptr (json_t) again = cairn_cjson_parse (dump1, len1, TRUE, &error);
  if (again == NULL)
    fprintf (stderr, "fuzz-cjson: re-parse of '%s': %s\n", dump1,
             error->message);
  CHECK (again != NULL);
  CHECK (json_equal (value, again));
  g_autofree char *dump2 = cairn_cjson_dump (again, &len2, &error);
  CHECK (dump2 != NULL);
  CHECK (len1 == len2 && memcmp (dump1, dump2, len1) == 0);

  /* Canonical input is exactly its dump. */
  g_autoptr (GError) cerror = NULL;
  g_autoptr (json_t) canon = cairn_cjson_parse (text, size, TRUE, &cerror);
  gboolean is_dump = size == len1 && memcmp (text, dump1, len1) == 0;
  CHECK ((canon != NULL) == is_dump);
  return 0;
}

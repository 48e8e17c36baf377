/* Canonical JSON: the one encoding of every signed or hashed object.
 *
 * Canonical form = Jansson's JSON_COMPACT | JSON_SORT_KEYS output of a value
 * that contains no reals (floats): object keys sorted bytewise, no
 * whitespace, UTF-8 as is, integers in int64 range only. */
#pragma once

#include <glib.h>
#include <jansson.h>

#include <cairn/util.h> /* g_autoptr (json_t) */

/* Parse text strictly: valid UTF-8, no duplicate keys, no reals, no NUL in
 * strings, nesting at most 64 deep. With require_canonical, the text must
 * also be byte-for-byte the canonical dump of what it parses to.
 * Errors are CAIRN_ERROR_INVALID with the reason and byte offset. */
json_t *cairn_cjson_parse (const char *text, size_t len,
                           gboolean require_canonical, GError **error);

/* Canonical dump; fails (CAIRN_ERROR_INVALID) when the value holds a real.
 * The result is NUL-terminated; *len (may be NULL) excludes the NUL. */
char *cairn_cjson_dump (const json_t *value, size_t *len, GError **error);

/* TRUE when value contains no reals (recursively). */
gboolean cairn_cjson_is_integral (const json_t *value);

/* For text that cairn_cjson_parse has accepted. TRUE proves the text is
 * canonical without dumping it (FALSE proves nothing: parse with
 * require_canonical to decide and word the error). */
gboolean cairn_cjson_quick_canonical (const char *text, size_t len);

/* The offset just past the JSON value that starts at text[at] (accepted
 * text only): a structural scan, no parse. */
size_t cairn_cjson_value_end (const char *text, size_t len, size_t at);

/* The element of an array at text[*at] (*at: just past the '[' or the
 * previous ','): its span [*start, *start + *len), *last set when a ']'
 * follows it, and *at moved past its ',' (or onto that ']'). FALSE when
 * no element ends there with ',' or ']' before len. A structural scan:
 * on untrusted text the span still has to be parsed. */
gboolean cairn_cjson_array_element (const char *text, size_t len, size_t *at,
                                    size_t *start, size_t *elen,
                                    gboolean *last);

/* The offset of the value of top-level member key of the object text, or
 * -1 when absent (accepted text only). */
gssize cairn_cjson_member_at (const char *text, size_t len, const char *key);

/* Canonical JSON on top of Jansson (see cjson.h).
 *
 * Parsing is Jansson's strict decoder (UTF-8 checked, duplicate keys and NUL
 * rejected) followed by one scan of the accepted text for what Jansson allows
 * but we do not: reals and nesting deeper than CJSON_MAX_DEPTH. The scan runs
 * on text Jansson has accepted, so it only needs to tell strings, numbers and
 * brackets apart, and it can report exact byte offsets.
 *
 * Canonical = Jansson's JSON_COMPACT | JSON_SORT_KEYS dump. The rule is
 * "text is canonical iff dump(parse(text)) == text", checked by streaming the
 * dump against the text (no allocation). With Jansson 2.14 this means: raw
 * UTF-8 (never \u escapes for printable characters), "/" unescaped, control
 * characters as \b \f \n \r \t or \u00XX with uppercase hex, "-0" is not
 * canonical ("0" is). */
#include "cjson.h"

#include <string.h>

#include <cairn/error.h>

#define CJSON_MAX_DEPTH 64
#define CJSON_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/* Reals and depth in text that Jansson has already accepted. */
static gboolean
scan_text (const char *text, size_t len, GError **error)
{
  int depth = 0;

  for (size_t i = 0; i < len; i++) {
    char c = text[i];

    if (c == '"') {
      for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
          i++;
    } else if (c == '{' || c == '[') {
      if (++depth > CJSON_MAX_DEPTH) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                     "invalid JSON at byte %zu: nested deeper than %d levels",
                     i, CJSON_MAX_DEPTH);
        return FALSE;
      }
    } else if (c == '}' || c == ']') {
      depth--;
    } else if (c == '-' || g_ascii_isdigit (c)) {
      size_t start = i;
      gboolean real = FALSE;

      for (; i + 1 < len; i++) {
        char d = text[i + 1];
        if (d == '.' || d == 'e' || d == 'E')
          real = TRUE;
        else if (!(g_ascii_isdigit (d) || d == '+' || d == '-'))
          break;
      }
      if (real) {
        g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                     "invalid JSON at byte %zu: real number '%.*s' "
                     "(only integers are allowed)",
                     start, (int)MIN (i + 1 - start, 32), text + start);
        return FALSE;
      }
    }
  }
  return TRUE;
}

typedef struct {
  const char *text;
  size_t len;
  size_t pos;
  gboolean differs;
  char expected;
} Compare;

static int
compare_cb (const char *buffer, size_t size, void *data)
{
  Compare *c = data;
  size_t avail = c->len - c->pos;
  size_t n = MIN (size, avail);

  if (memcmp (buffer, c->text + c->pos, n) != 0 || n < size) {
    size_t i = 0;
    while (i < n && buffer[i] == c->text[c->pos + i])
      i++;
    c->pos += i;
    c->expected = buffer[i];
    c->differs = TRUE;
    return -1;
  }
  c->pos += n;
  return 0;
}

static void
describe_byte (unsigned char c, char out[8])
{
  if (c >= 0x20 && c < 0x7f)
    g_snprintf (out, 8, "'%c'", c);
  else
    g_snprintf (out, 8, "0x%02x", c);
}

/* A quick proof that text (already accepted by Jansson) is canonical,
 * without dumping it: no whitespace between tokens, only the escapes the
 * dump writes, no "-0", and each object's keys in strictly increasing
 * byte order. FALSE means "not proven" (also for any key holding an
 * escape, whose order would need unescaping): check_canonical then
 * decides and words the error. The fuzz target checks that the two agree. */
gboolean
cairn_cjson_quick_canonical (const char *text, size_t len)
{
  /* Per open object: where its last key started and how long it was. */
  size_t key_at[CJSON_MAX_DEPTH + 1], key_len[CJSON_MAX_DEPTH + 1];
  gboolean in_object[CJSON_MAX_DEPTH + 1];
  int depth = 0;

  in_object[0] = FALSE;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    switch (c) {
    case '{':
    case '[':
      if (depth >= CJSON_MAX_DEPTH)
        return FALSE;
      depth++;
      in_object[depth] = c == '{';
      key_len[depth] = 0;
      key_at[depth] = 0;
      break;
    case '}':
    case ']':
      if (depth == 0)
        return FALSE;
      depth--;
      break;
    case '"': {
      size_t start = i + 1;
      gboolean escaped = FALSE;
      for (i++; i < len && text[i] != '"'; i++) {
        if (text[i] != '\\')
          continue;
        escaped = TRUE;
        if (i + 1 >= len)
          return FALSE;
        char e = text[++i];
        if (e == 'u') {
          /* Only control characters without a short form, as \u00XX. */
          if (i + 4 >= len || text[i + 1] != '0' || text[i + 2] != '0')
            return FALSE;
          char h = text[i + 3], l = text[i + 4];
          int v = (h == '0'   ? 0
                   : h == '1' ? 16
                              : -256)
                  + (g_ascii_isdigit (l)    ? l - '0'
                     : l >= 'A' && l <= 'F' ? l - 'A' + 10
                                            : -256);
          if (v < 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r'
              || v == '\t')
            return FALSE;
          i += 4;
        } else if (e != '"' && e != '\\' && e != 'b' && e != 'f' && e != 'n'
                   && e != 'r' && e != 't')
          return FALSE;
      }
      if (i >= len)
        return FALSE;
      /* A key is a string followed by ':'. */
      if (depth > 0 && in_object[depth] && i + 1 < len && text[i + 1] == ':') {
        size_t n = i - start;
        if (escaped)
          return FALSE;
        if (key_at[depth] > 0) { /* a key starts at byte 2 or later */
          size_t pn = key_len[depth];
          int cmp = memcmp (text + key_at[depth], text + start, MIN (pn, n));
          if (cmp > 0 || (cmp == 0 && pn >= n))
            return FALSE;
        }
        key_at[depth] = start;
        key_len[depth] = n;
      }
      break;
    }
    case '-':
      if (i + 1 < len && text[i + 1] == '0')
        return FALSE; /* "-0" (Jansson refuses -01 and the like) */
      break;
    default:
      /* Outside strings only digits and the letters of true, false and
       * null remain; whitespace, and the NUL after which Jansson stops
       * reading, are not canonical. */
      if (c == 0 || (!g_ascii_isdigit (c) && strchr ("truefalsn,:", c) == NULL))
        return FALSE;
      break;
    }
  }
  return depth == 0;
}

static gboolean
check_canonical (const json_t *value, const char *text, size_t len,
                 GError **error)
{
  Compare c = { text, len, 0, FALSE, 0 };
  char found[8], expected[8];

  json_dump_callback (value, compare_cb, &c, CJSON_DUMP_FLAGS);
  if (!c.differs && c.pos == len)
    return TRUE;
  if (!c.differs) {
    describe_byte ((unsigned char)text[c.pos], found);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "not canonical JSON at byte %zu: unexpected %s after the "
                 "end of the canonical form",
                 c.pos, found);
  } else if (c.pos == len) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "not canonical JSON at byte %zu: text ends early", c.pos);
  } else {
    describe_byte ((unsigned char)text[c.pos], found);
    describe_byte ((unsigned char)c.expected, expected);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "not canonical JSON at byte %zu: found %s where the "
                 "canonical form (sorted keys, no whitespace, minimal "
                 "escapes) has %s",
                 c.pos, found, expected);
  }
  return FALSE;
}

json_t *
cairn_cjson_parse (const char *text, size_t len, gboolean require_canonical,
                   GError **error)
{
  json_error_t jerr;
  json_t *value;

  if (text == NULL || len == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "invalid JSON at byte 0: empty input");
    return NULL;
  }
  value
      = json_loadb (text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (value == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 "invalid JSON at byte %d: %s", jerr.position, jerr.text);
    return NULL;
  }
  if (!scan_text (text, len, error)
      || (require_canonical && !cairn_cjson_quick_canonical (text, len)
          && !check_canonical (value, text, len, error))) {
    json_decref (value);
    return NULL;
  }
  return value;
}

/* What dump refuses: anything parse would refuse in its output (reals,
 * depth, NUL or invalid UTF-8 in strings built with the _nocheck / n
 * variants). The path is built outwards only on failure. */
static gboolean
check_value (const json_t *value, int depth, GError **error)
{
  json_t *v = (json_t *)value;

  switch (json_typeof (value)) {
  case JSON_REAL:
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                 ": real number %.17g (only integers are allowed)",
                 json_real_value (value));
    return FALSE;
  case JSON_STRING: {
    size_t n = json_string_length (value);
    const char *s = json_string_value (value);
    if (memchr (s, '\0', n) != NULL || !g_utf8_validate_len (s, n, NULL)) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   ": string holds NUL or invalid UTF-8");
      return FALSE;
    }
    return TRUE;
  }
  case JSON_OBJECT:
  case JSON_ARRAY:
    if (depth >= CJSON_MAX_DEPTH) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   ": nested deeper than %d levels", CJSON_MAX_DEPTH);
      return FALSE;
    }
    if (json_is_array (value)) {
      size_t i;
      json_t *item;
      json_array_foreach (v, i, item)
      {
        if (!check_value (item, depth + 1, error)) {
          g_prefix_error (error, "[%zu]", i);
          return FALSE;
        }
      }
    } else {
      const char *key;
      size_t key_len;
      json_t *item;
      json_object_keylen_foreach (v, key, key_len, item)
      {
        if (strlen (key) != key_len || !g_utf8_validate (key, -1, NULL)) {
          g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                       ": object key holds NUL or invalid UTF-8");
          return FALSE;
        }
        if (!check_value (item, depth + 1, error)) {
          g_prefix_error (error, ".%s", key);
          return FALSE;
        }
      }
    }
    return TRUE;
  default:
    return TRUE;
  }
}

/* The canonical writer: the bytes of Jansson's JSON_COMPACT |
 * JSON_SORT_KEYS dump (which defines the canonical form), written in one
 * pass that also makes check_value's checks. Jansson's own dump walks
 * each string by code point and formats each integer with snprintf; on
 * the commit path (every tx's result, every state value) that was a
 * quarter of the instructions. The fuzz target compares the two. */
typedef struct {
  char *buf;
  size_t len;
  size_t cap;
} Output;

static inline void
out_reserve (Output *o, size_t n)
{
  if (o->len + n + 1 > o->cap) {
    while (o->len + n + 1 > o->cap)
      o->cap *= 2;
    o->buf = g_realloc (o->buf, o->cap);
  }
}

static inline void
out_add (Output *o, const char *p, size_t n)
{
  out_reserve (o, n);
  memcpy (o->buf + o->len, p, n);
  o->len += n;
}

/* A string as Jansson dumps it: '"' and '\\' and control characters
 * escaped (\b \f \n \r \t, else \u00XX), everything else as is. FALSE on
 * NUL or invalid UTF-8. */
static gboolean
write_string (Output *o, const char *s, size_t n)
{
  if (memchr (s, '\0', n) != NULL || !g_utf8_validate_len (s, n, NULL))
    return FALSE;
  out_reserve (o, n + 2);
  o->buf[o->len++] = '"';
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out_add (o, s + run, i - run);
    run = i + 1;
    char esc[8];
    switch (c) {
    case '"':
      out_add (o, "\\\"", 2);
      break;
    case '\\':
      out_add (o, "\\\\", 2);
      break;
    case '\b':
      out_add (o, "\\b", 2);
      break;
    case '\f':
      out_add (o, "\\f", 2);
      break;
    case '\n':
      out_add (o, "\\n", 2);
      break;
    case '\r':
      out_add (o, "\\r", 2);
      break;
    case '\t':
      out_add (o, "\\t", 2);
      break;
    default:
      esc[0] = '\\';
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = "0123456789ABCDEF"[c >> 4];
      esc[5] = "0123456789ABCDEF"[c & 15];
      out_add (o, esc, 6);
      break;
    }
  }
  out_add (o, s + run, n - run);
  out_add (o, "\"", 1);
  return TRUE;
}

static void
write_integer (Output *o, json_int_t v)
{
  char digits[24];
  size_t i = sizeof digits;
  /* Through unsigned, so that INT64_MIN has a magnitude. */
  uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[--i] = (char)('0' + m % 10);
    m /= 10;
  } while (m > 0);
  if (v < 0)
    digits[--i] = '-';
  out_add (o, digits + i, sizeof digits - i);
}

typedef struct {
  const char *key;
  size_t len;
  json_t *value;
} Member;

static int
member_cmp (const void *a, const void *b)
{
  const Member *x = a, *y = b;
  int c = memcmp (x->key, y->key, MIN (x->len, y->len));
  return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* FALSE on what check_value refuses (the caller asks it for the words). */
static gboolean
write_value (Output *o, const json_t *value, int depth)
{
  json_t *v = (json_t *)value;
  switch (json_typeof (value)) {
  case JSON_NULL:
    out_add (o, "null", 4);
    return TRUE;
  case JSON_TRUE:
    out_add (o, "true", 4);
    return TRUE;
  case JSON_FALSE:
    out_add (o, "false", 5);
    return TRUE;
  case JSON_INTEGER:
    write_integer (o, json_integer_value (value));
    return TRUE;
  case JSON_STRING:
    return write_string (o, json_string_value (value),
                         json_string_length (value));
  case JSON_ARRAY: {
    if (depth >= CJSON_MAX_DEPTH)
      return FALSE;
    size_t i;
    json_t *item;
    out_add (o, "[", 1);
    json_array_foreach (v, i, item)
    {
      if (i > 0)
        out_add (o, ",", 1);
      if (!write_value (o, item, depth + 1))
        return FALSE;
    }
    out_add (o, "]", 1);
    return TRUE;
  }
  case JSON_OBJECT: {
    if (depth >= CJSON_MAX_DEPTH)
      return FALSE;
    size_t n = json_object_size (value), k = 0;
    Member stack[16];
    Member *m = n <= G_N_ELEMENTS (stack) ? stack : g_new (Member, n);
    const char *key;
    size_t key_len;
    json_t *item;
    json_object_keylen_foreach (v, key, key_len, item)
    {
      m[k++] = (Member){ key, key_len, item };
    }
    qsort (m, k, sizeof *m, member_cmp);
    gboolean ok = TRUE;
    out_add (o, "{", 1);
    for (size_t i = 0; i < k && ok; i++) {
      if (i > 0)
        out_add (o, ",", 1);
      ok = strlen (m[i].key) == m[i].len
           && write_string (o, m[i].key, m[i].len);
      if (ok) {
        out_add (o, ":", 1);
        ok = write_value (o, m[i].value, depth + 1);
      }
    }
    out_add (o, "}", 1);
    if (m != stack)
      g_free (m);
    return ok;
  }
  default: /* JSON_REAL */
    return FALSE;
  }
}

/* The result is g_malloc'd: free it with g_free. */
char *
cairn_cjson_dump (const json_t *value, size_t *len, GError **error)
{
  g_return_val_if_fail (value != NULL, NULL);

  Output o = { g_malloc (256), 0, 256 };
  if (!write_value (&o, value, 0)) {
    g_free (o.buf);
    if (check_value (value, 0, error))
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID,
                   "value cannot be written as canonical JSON");
    g_prefix_error (error, "cannot dump canonical JSON: value");
    return NULL;
  }
  o.buf[o.len] = '\0';
  /* Long-lived results (mempool txs): give the slack back. */
  if (o.cap - o.len > 64)
    o.buf = g_realloc (o.buf, o.len + 1);
  if (len != NULL)
    *len = o.len;
  return o.buf;
}

gboolean
cairn_cjson_is_integral (const json_t *value)
{
  json_t *v = (json_t *)value;

  if (value == NULL)
    return TRUE;
  switch (json_typeof (value)) {
  case JSON_REAL:
    return FALSE;
  case JSON_ARRAY: {
    size_t i;
    json_t *item;
    json_array_foreach (v, i, item)
    {
      if (!cairn_cjson_is_integral (item))
        return FALSE;
    }
    return TRUE;
  }
  case JSON_OBJECT: {
    const char *key;
    json_t *item;
    json_object_foreach (v, key, item)
    {
      if (!cairn_cjson_is_integral (item))
        return FALSE;
    }
    return TRUE;
  }
  default:
    return TRUE;
  }
}

size_t
cairn_cjson_value_end (const char *text, size_t len, size_t at)
{
  int depth = 0;
  for (size_t i = at; i < len; i++) {
    char c = text[i];
    if (c == '"') {
      for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
          i++;
      if (depth == 0)
        return MIN (i + 1, len);
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0)
        return i; /* a number or literal ended by its container */
      if (--depth == 0)
        return i + 1;
    } else if (depth == 0 && (c == ',' || c == ':')) {
      return i; /* the end of a number or literal */
    }
  }
  return len;
}

gboolean
cairn_cjson_array_element (const char *text, size_t len, size_t *at,
                           size_t *start, size_t *elen, gboolean *last)
{
  size_t i = *at;
  if (i >= len)
    return FALSE;
  size_t e = cairn_cjson_value_end (text, len, i);
  if (e <= i || e >= len || (text[e] != ',' && text[e] != ']'))
    return FALSE;
  *start = i;
  *elen = e - i;
  *last = text[e] == ']';
  *at = *last ? e : e + 1;
  return TRUE;
}

gssize
cairn_cjson_member_at (const char *text, size_t len, const char *key)
{
  size_t klen = strlen (key);
  size_t i = 0;
  while (i < len && text[i] != '{')
    i++;
  for (i++; i < len && text[i] == '"';) {
    size_t kstart = i + 1;
    size_t kend = cairn_cjson_value_end (text, len, i) - 1; /* its '"' */
    size_t v = kend + 2;                                    /* past '":' */
    if (v > len)
      return -1;
    if (kend - kstart == klen && memcmp (text + kstart, key, klen) == 0)
      return (gssize)v;
    i = cairn_cjson_value_end (text, len, v);
    if (i < len && text[i] == ',')
      i++;
    else
      break;
  }
  return -1;
}

/* Canonical JSON: strict parsing, the canonical rule, dump. */
#include <string.h>

#include <cairn/error.h>

#include "cjson.h"

/* Parses s (strlen) and expects success. */
static json_t *
parse_ok (const char *s, gboolean canonical)
{
  g_autoptr (GError) error = NULL;
  json_t *v = cairn_cjson_parse (s, strlen (s), canonical, &error);

  g_assert_no_error (error);
  g_assert_nonnull (v);
  return v;
}

/* Expects failure in both modes (or only the canonical one) and that the
 * message contains want. */
static void
parse_fails_len (const char *s, size_t len, gboolean canonical,
                 const char *want)
{
  g_autoptr (GError) error = NULL;
  json_t *v = cairn_cjson_parse (s, len, canonical, &error);

  if (v != NULL)
    g_error ("parse of [%.*s] (canonical=%d) succeeded", (int)len, s,
             canonical);
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  if (strstr (error->message, want) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, want);
}

static void
parse_fails (const char *s, gboolean canonical, const char *want)
{
  parse_fails_len (s, strlen (s), canonical, want);
}

/* Rejected whatever the mode. */
static void
strict_fails (const char *s, const char *want)
{
  parse_fails (s, FALSE, want);
  parse_fails (s, TRUE, want);
}

static void
test_reals (void)
{
  strict_fails ("{\"a\":1.0}", "byte 5: real number '1.0'");
  strict_fails ("{\"a\":1e3}", "real number '1e3'");
  strict_fails ("{\"a\":1E2}", "real");
  strict_fails ("{\"a\":-0.0}", "real number '-0.0'");
  strict_fails ("[1,2,[3,0.5]]", "byte 8: real");
  strict_fails ("2.5", "real");
  /* Digits, e and dots inside strings and literals are not numbers. */
  {
    g_autoptr (json_t) v
        = parse_ok ("{\"e\":true,\"x\":\"1.5e3\",\"y\":false}", TRUE);
    g_assert_cmpstr (json_string_value (json_object_get (v, "x")), ==, "1.5e3");
  }
  g_assert_true (cairn_cjson_is_integral (NULL));
}

static void
test_negative_zero (void)
{
  /* -0 is an integer (0); its canonical spelling is 0. */
  g_autoptr (json_t) v = parse_ok ("{\"a\":-0}", FALSE);

  g_assert_cmpint (json_integer_value (json_object_get (v, "a")), ==, 0);
  parse_fails ("{\"a\":-0}", TRUE, "not canonical JSON at byte 5");
  json_decref (parse_ok ("{\"a\":0}", TRUE));
}

static void
test_duplicates (void)
{
  strict_fails ("{\"a\":1,\"a\":2}", "duplicate object key");
  strict_fails ("{\"x\":{\"b\":1,\"b\":1}}", "duplicate");
}

static void
test_whitespace_and_order (void)
{
  const char *texts[] = {
    "{\"a\": 1}",
    "{ \"a\":1}",
    "{\"a\":1}\n",
    " {\"a\":1}",
    "[1, 2]",
    "{\"b\":1,\"a\":2}",
    "{\"a\":{\"z\":1,\"y\":2}}",
    "{\"\xc3\xa9\":1,\"z\":2}",
  };

  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++) {
    json_decref (parse_ok (texts[i], FALSE));
    parse_fails (texts[i], TRUE, "not canonical JSON at byte");
  }
  /* Byte order: uppercase before lowercase before non-ASCII. */
  json_decref (parse_ok ("{\"Z\":4,\"a\":2,\"b\":1,\"\xc3\xa9\":3}", TRUE));
  parse_fails ("{\"a\":1,\"b\":2} ", TRUE,
               "byte 13: unexpected ' ' after the end");
  parse_fails ("{\"b\":1,\"a\":2}", TRUE,
               "byte 2: found 'b' where the canonical form");
}

static void
test_int64_limits (void)
{
  g_autoptr (json_t) v = parse_ok (
      "{\"max\":9223372036854775807,\"min\":-9223372036854775808}", TRUE);

  g_assert_cmpint (json_integer_value (json_object_get (v, "max")), ==,
                   G_MAXINT64);
  g_assert_cmpint (json_integer_value (json_object_get (v, "min")), ==,
                   G_MININT64);
  strict_fails ("{\"a\":9223372036854775808}", "too big integer");
  strict_fails ("{\"a\":-9223372036854775809}", "too big negative integer");
  strict_fails ("[100000000000000000000000]", "too big integer");
  strict_fails ("{\"a\":01}", "invalid token");
}

/* The canonical rule: parse(text, TRUE) succeeds iff dump(parse(text)) ==
 * text, checked on the escape edge cases. */
static void
test_unicode_rule (void)
{
  static const struct {
    const char *text;
    gboolean canonical;
  } cases[] = {
    { "{\"a\":\"\xc3\xa9\"}", TRUE },         /* raw é */
    { "{\"a\":\"\\u00e9\"}", FALSE },         /* escaped é */
    { "{\"a\":\"\xf0\x9f\x98\x80\"}", TRUE }, /* raw U+1F600 */
    { "{\"a\":\"\\ud83d\\ude00\"}", FALSE },  /* surrogate pair */
    { "{\"a\":\"/\"}", TRUE },                /* slash unescaped */
    { "{\"a\":\"\\/\"}", FALSE },
    { "{\"a\":\"\\u001F\"}", TRUE }, /* Jansson: uppercase hex */
    { "{\"a\":\"\\u001f\"}", FALSE },
    { "{\"a\":\"\\n\\t\\r\\b\\f\"}", TRUE }, /* short escapes */
    { "{\"a\":\"\\u000a\"}", FALSE },
    { "{\"a\":\"\\\"\\\\\"}", TRUE }, /* quote and backslash */
    { "{\"a\":\"\\u0041\"}", FALSE },
    { "{\"a\":\"\x7f\"}", TRUE },         /* DEL is raw */
    { "{\"a\":\"\xe2\x80\xa8\"}", TRUE }, /* U+2028 raw */
    { "{\"a\":\"\\u2028\"}", FALSE },
    { "{\"\\u0061\":1}", FALSE }, /* escaped key */
    { "[\"x\",1,true,false,null,{}]", TRUE },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *t = cases[i].text;
    g_autoptr (json_t) v = parse_ok (t, FALSE);
    g_autofree char *dump = cairn_cjson_dump (v, NULL, NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) c = cairn_cjson_parse (t, strlen (t), TRUE, &error);

    g_assert_nonnull (dump);
    g_assert_cmpint (strcmp (dump, t) == 0, ==, cases[i].canonical);
    g_assert_cmpint (c != NULL, ==, cases[i].canonical);
    /* The dump itself is always canonical. */
    json_decref (parse_ok (dump, TRUE));
  }
  {
    g_autoptr (json_t) a = parse_ok ("{\"a\":\"\\u00e9\"}", FALSE);
    g_autoptr (json_t) b = parse_ok ("{\"a\":\"\xc3\xa9\"}", TRUE);
    g_assert_true (json_equal (a, b));
  }
  strict_fails ("{\"a\":\"\xff\"}", "unable to decode byte 0xff");
  strict_fails ("{\"a\":\"\xed\xa0\x80\"}", "unable to decode byte");
  strict_fails ("{\"a\":\"\\ud800\"}", "invalid Unicode");
  strict_fails ("{\"a\":\"\xc3\"}", "byte");
}

static void
test_nul (void)
{
  strict_fails ("{\"a\":\"\\u0000\"}", "\\u0000 is not allowed");
  strict_fails ("{\"\\u0000\":1}", "NUL byte in object key");
  parse_fails_len ("{\"a\":\"x\0y\"}", 11, FALSE, "control character");
  parse_fails_len ("{\"a\":1}\0", 8, FALSE, "end of file expected");
  parse_fails_len ("{\"a\":1}\0", 8, TRUE, "byte");
}

static char *
nested (int depth, char open, char close)
{
  GString *s = g_string_new (NULL);

  for (int i = 0; i < depth; i++)
    g_string_append_c (s, open);
  for (int i = 0; i < depth; i++)
    g_string_append_c (s, close);
  return g_string_free (s, FALSE);
}

static char *
nested_objects (int depth)
{
  GString *s = g_string_new (NULL);

  for (int i = 0; i < depth - 1; i++)
    g_string_append (s, "{\"a\":");
  g_string_append (s, "{}");
  for (int i = 0; i < depth - 1; i++)
    g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

static void
test_depth (void)
{
  g_autofree char *a64 = nested (64, '[', ']');
  g_autofree char *a65 = nested (65, '[', ']');
  g_autofree char *o64 = nested_objects (64);
  g_autofree char *o65 = nested_objects (65);
  g_autofree char *deep = nested (3000, '[', ']');
  g_autoptr (json_t) v = parse_ok (a64, TRUE);
  g_autoptr (json_t) w = parse_ok (o64, TRUE);
  g_autoptr (json_t) wrap = json_array ();
  g_autoptr (GError) error = NULL;

  parse_fails (a65, FALSE, "byte 64: nested deeper than 64 levels");
  parse_fails (o65, TRUE, "nested deeper than 64 levels");
  parse_fails (deep, FALSE, "depth");

  /* dump refuses what parse would refuse. */
  json_array_append (wrap, v);
  g_assert_null (cairn_cjson_dump (wrap, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "nested deeper than 64"));
}

static void
test_empty_and_trailing (void)
{
  g_autoptr (GError) error = NULL;

  parse_fails ("", FALSE, "byte 0: empty input");
  parse_fails ("", TRUE, "empty input");
  g_assert_null (cairn_cjson_parse (NULL, 0, FALSE, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  strict_fails ("   ", "unexpected token");
  strict_fails ("{} x", "byte 4: end of file expected");
  strict_fails ("{}{}", "end of file expected");
  strict_fails ("[1,]", "invalid");
  strict_fails ("{\"a\":1", "byte");
  strict_fails ("nul", "invalid");
}

static void
test_top_level (void)
{
  const char *texts[] = { "[1,2]", "\"s\"", "7", "-3", "true", "null", "{}" };

  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autoptr (json_t) v = parse_ok (texts[i], TRUE);
    size_t len = 0;
    g_autofree char *d = cairn_cjson_dump (v, &len, NULL);
    g_assert_cmpstr (d, ==, texts[i]);
    g_assert_cmpuint (len, ==, strlen (texts[i]));
  }
}

static void
test_dump (void)
{
  g_autoptr (json_t) v
      = json_pack ("{s:i, s:[i,s], s:{s:n, s:b}, s:s}", "zeta", 1, "alpha", 2,
                   "x/y", "mid", "b", "a", 1, "u", "\xc3\xa9\n");
  g_autoptr (json_t) r = json_pack ("{s:{s:[i,f]}}", "k", "l", 1, 1.5);
  g_autoptr (json_t) nul = json_object ();
  g_autoptr (json_t) big = json_array ();
  g_autoptr (GError) error = NULL;
  size_t len = 0;
  g_autofree char *d = cairn_cjson_dump (v, &len, &error);
  g_autofree char *bigd = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (d, ==,
                   "{\"alpha\":[2,\"x/y\"],\"mid\":{\"a\":true,\"b\":null},"
                   "\"u\":\"\xc3\xa9\\n\",\"zeta\":1}");
  g_assert_cmpuint (len, ==, strlen (d));
  json_decref (parse_ok (d, TRUE));

  g_assert_null (cairn_cjson_dump (r, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "value.k.l[1]: real number"));
  g_clear_error (&error);
  g_assert_false (cairn_cjson_is_integral (r));
  g_assert_true (cairn_cjson_is_integral (v));

  json_object_set_new (nul, "s", json_stringn ("a\0b", 3));
  g_assert_null (cairn_cjson_dump (nul, NULL, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "value.s: string holds NUL"));
  g_clear_error (&error);

  /* Output larger than the initial buffer. */
  for (int i = 0; i < 5000; i++)
    json_array_append_new (big, json_integer ((json_int_t)i * 1000003));
  bigd = cairn_cjson_dump (big, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (bigd), ==, len);
  {
    g_autoptr (json_t) back = parse_ok (bigd, TRUE);
    g_assert_true (json_equal (back, big));
  }
}

/* The quick canonical proof never accepts what the dump rule refuses, and
 * accepts the common canonical shapes; the structural helpers find
 * members and value ends. */
static void
test_quick_canonical (void)
{
  static const char *const yes[] = {
    "{}",
    "[]",
    "1",
    "\"x\"",
    "{\"a\":{\"a\":1,\"b\":2},\"b\":[{\"a\":1}]}",
    "{\"a\":\"q\\\"\\\\\\n\\u001F\"}",
    "{\"a\":1,\"ab\":2,\"b\":-3}",
  };
  static const char *const no[] = {
    "{\"b\":1,\"a\":2}",
    "{\"a\":1, \"b\":2}",
    "[1,\n2]",
    "{\"a\":\"\\/\"}",
    "{\"a\":\"\\u0041\"}",
    "{\"a\":\"\\u000a\"}",
    "{\"a\":\"\\u000A\"}",
    "-0",
    "{\"ab\":1,\"a\":2}",
    "{\"a\":{\"b\":1,\"a\":1}}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) v
        = cairn_cjson_parse (yes[i], strlen (yes[i]), TRUE, &error);
    g_assert_no_error (error);
    g_assert_true (cairn_cjson_quick_canonical (yes[i], strlen (yes[i])));
  }
  for (guint i = 0; i < G_N_ELEMENTS (no); i++) {
    g_assert_false (cairn_cjson_quick_canonical (no[i], strlen (no[i])));
    g_autoptr (GError) error = NULL;
    g_autoptr (json_t) v
        = cairn_cjson_parse (no[i], strlen (no[i]), TRUE, &error);
    g_assert_null (v);
  }

  /* The NUL at which Jansson stops reading (a fuzzer find). */
  g_assert_false (cairn_cjson_quick_canonical ("66\0", 3));
  g_assert_false (cairn_cjson_quick_canonical ("[1]\0", 4));
  const char *t = "{\"a\":[1,{\"x\":\"]\"}],\"b\":-12,\"c\":\"s,\"}";
  size_t len = strlen (t);
  g_assert_cmpint (cairn_cjson_member_at (t, len, "a"), ==, 5);
  g_assert_cmpint (cairn_cjson_member_at (t, len, "b"), ==, 23);
  g_assert_cmpint (cairn_cjson_member_at (t, len, "c"), ==, 31);
  g_assert_cmpint (cairn_cjson_member_at (t, len, "x"), ==, -1);
  g_assert_cmpuint (cairn_cjson_value_end (t, len, 5), ==, 18);  /* [...] */
  g_assert_cmpuint (cairn_cjson_value_end (t, len, 6), ==, 7);   /* 1 */
  g_assert_cmpuint (cairn_cjson_value_end (t, len, 23), ==, 26); /* -12 */
  g_assert_cmpuint (cairn_cjson_value_end (t, len, 31), ==, 35); /* "s," */
  /* Cut text: never past the end. */
  g_assert_cmpuint (cairn_cjson_value_end (t, 10, 5), ==, 10);
  g_assert_cmpint (cairn_cjson_member_at (t, 3, "a"), ==, -1);
}

/* Walking an array's elements by structure: spans, the last one, and no
 * element after a trailing comma or past the end. */
static void
test_array_element (void)
{
  const char *t = "[{\"a\":[1,\"],\"]},-2,\"x\"]";
  size_t len = strlen (t), at = 1, start, n;
  gboolean last = FALSE;
  g_assert_true (cairn_cjson_array_element (t, len, &at, &start, &n, &last));
  g_assert_cmpuint (start, ==, 1);
  g_assert_cmpuint (n, ==, 14);
  g_assert_false (last);
  g_assert_true (cairn_cjson_array_element (t, len, &at, &start, &n, &last));
  g_assert_cmpmem (t + start, n, "-2", 2);
  g_assert_false (last);
  g_assert_true (cairn_cjson_array_element (t, len, &at, &start, &n, &last));
  g_assert_cmpmem (t + start, n, "\"x\"", 3);
  g_assert_true (last);
  g_assert_cmpuint (at, ==, len - 1);

  at = 3;
  g_assert_false (
      cairn_cjson_array_element ("[1,]", 4, &at, &start, &n, &last));
  at = 1;
  g_assert_false (cairn_cjson_array_element ("[]", 2, &at, &start, &n, &last));
  at = 1;
  g_assert_false (cairn_cjson_array_element ("[12", 3, &at, &start, &n, &last));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cjson/reals", test_reals);
  g_test_add_func ("/cjson/negative-zero", test_negative_zero);
  g_test_add_func ("/cjson/duplicates", test_duplicates);
  g_test_add_func ("/cjson/whitespace-and-order", test_whitespace_and_order);
  g_test_add_func ("/cjson/int64-limits", test_int64_limits);
  g_test_add_func ("/cjson/unicode-rule", test_unicode_rule);
  g_test_add_func ("/cjson/nul", test_nul);
  g_test_add_func ("/cjson/depth", test_depth);
  g_test_add_func ("/cjson/empty-and-trailing", test_empty_and_trailing);
  g_test_add_func ("/cjson/top-level", test_top_level);
  g_test_add_func ("/cjson/dump", test_dump);
  g_test_add_func ("/cjson/quick-canonical", test_quick_canonical);
  g_test_add_func ("/cjson/array-element", test_array_element);
  return g_test_run ();
}

/* Small helpers shared by the plugin tests: temp dirs and assertions on
 * bytes. */
#pragma once

#include <glib.h>

/* A fresh directory under the temp dir (g_free); removed by test_rm_rf. */
char *test_make_tmpdir (void);
/* Remove path and everything below it (no error if absent). */
void test_rm_rf (const char *path);

/* Assert that bytes holds exactly the text (without its NUL). */
#define test_assert_bytes_str(bytes, text)                                     \
  G_STMT_START                                                                 \
  {                                                                            \
    gsize _len;                                                                \
    const char *_t = (text);                                                   \
    g_assert_nonnull (bytes);                                                  \
    const void *_d = g_bytes_get_data ((bytes), &_len);                        \
    g_assert_cmpmem (_d, _len, _t, strlen (_t));                               \
  }                                                                            \
  G_STMT_END

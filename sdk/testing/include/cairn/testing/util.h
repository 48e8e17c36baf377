/* Cairn SDK testing — small helpers for plugin tests: temporary
 * directories, assertions on bytes, files below a directory and the peak
 * memory of the process.
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1). Every
 * function here is for GLib tests (g_test_*): on an unexpected failure it
 * aborts the test with g_error or a g_assert, it does not return an error.
 */
#pragma once

#include <stdint.h>
#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

/* A new, empty directory under g_get_tmp_dir() ("cairn-plugin-test-XXXXXX",
 * mode 0700); g_free the path, and remove the directory with
 * cairn_test_rm_rf when done. Aborts the test if it cannot be made. */
char *cairn_test_make_tmpdir (void);

/* Removes path and, if it is a directory, everything below it (symbolic
 * links are removed, not followed). A path that does not exist is not an
 * error; one that cannot be removed aborts the test, naming it. */
void cairn_test_rm_rf (const char *path);

/* Everything below dir that is not a directory (files, symbolic links),
 * recursively, as a sorted array of paths (g_ptr_array_unref frees it and
 * them). A dir that does not exist gives an empty array. */
GPtrArray *cairn_test_list_files (const char *dir);

/* The peak resident set size of this process so far (VmHWM of
 * /proc/self/status), in KiB. Run a memory test in a fresh process
 * (g_test_trap_subprocess) so that the peak of earlier tests does not
 * count. Aborts the test where /proc is not available. */
uint64_t cairn_test_peak_rss_kib (void);

/* Asserts that the GBytes bytes (not NULL) holds exactly the text (without
 * its NUL); on a difference, GLib prints both. */
#define cairn_test_assert_bytes_str(bytes, text)                               \
  G_STMT_START                                                                 \
  {                                                                            \
    gsize cairn_test__len;                                                     \
    const char *cairn_test__text = (text);                                     \
    g_assert_nonnull (bytes);                                                  \
    const void *cairn_test__data                                               \
        = g_bytes_get_data ((bytes), &cairn_test__len);                        \
    g_assert_cmpmem (cairn_test__data, cairn_test__len, cairn_test__text,      \
                     strlen (cairn_test__text));                               \
  }                                                                            \
  G_STMT_END

G_END_DECLS

/* Fuzz target: the plugin descriptor load rule (core/plugin_check.c), on a
 * descriptor built from the fuzzed bytes the way a loaded .so presents
 * one: a CairnPluginDescriptor in its own heap block (so a read past it
 * is caught), every string pointer either NULL or pointing at its own
 * NUL-terminated copy of fuzzed bytes, and NULL-terminated service lists
 * of fuzzed names and versions. No dlopen: the check takes the pointer.
 *
 * Input: a flags byte (bits: 0 correct magic, 1 correct ABI major,
 * 2 correct build fingerprint, 3 init set, 4 provides list, 5 requires
 * list, 6 id NULL, 7 version NULL), the numeric fields (magic, struct
 * size, ABI minors, fingerprint, kinds, list lengths), then the strings
 * separated by NUL bytes: id, version, vendor, license, description, then
 * the services' names. Missing bytes read as zero. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_check.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *p;
  size_t left;
} Reader;

static uint64_t
rd (Reader *r, size_t n)
{
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    v = (v << 8) | (r->left ? *r->p : 0);
    if (r->left) {
      r->p++;
      r->left--;
    }
  }
  return v;
}

/* The next NUL-terminated string of the input, in a block of its own
 * (owned by strs). */
static const char *
rd_str (Reader *r, GPtrArray *strs)
{
  const uint8_t *end = memchr (r->p, '\0', r->left);
  size_t n = end ? (size_t)(end - r->p) : r->left;
  char *s = g_malloc (n + 1);

  memcpy (s, r->p, n);
  s[n] = '\0';
  r->p += MIN (n + 1, r->left);
  r->left -= MIN (n + 1, r->left);
  g_ptr_array_add (strs, s);
  return s;
}

static gboolean
dummy_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  return TRUE;
}

static CairnServiceRef *
services (Reader *r, guint n, GPtrArray *strs)
{
  CairnServiceRef *list = g_new0 (CairnServiceRef, n + 1);
  g_ptr_array_add (strs, list);
  for (guint i = 0; i < n; i++) {
    list[i].version = (uint32_t)rd (r, 1);
    list[i].name = rd_str (r, strs);
  }
  return list; /* ends with {NULL, 0} */
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Reader r = { data, size };
  g_autoptr (GPtrArray) strs = g_ptr_array_new_with_free_func (g_free);
  CairnPluginDescriptor *raw = g_new0 (CairnPluginDescriptor, 1);
  CairnPluginDescriptor out;
  g_autoptr (GError) error = NULL;
  guint flags = (guint)rd (&r, 1);

  raw->magic = (uint32_t)rd (&r, 4);
  if (flags & 1)
    raw->magic = CAIRN_PLUGIN_MAGIC;
  raw->struct_size = (uint32_t)rd (&r, 4);
  raw->abi_major = (uint16_t)rd (&r, 2);
  if (flags & 2)
    raw->abi_major = CAIRN_ABI_MAJOR;
  raw->abi_min_minor = (uint16_t)rd (&r, 2);
  raw->abi_built_minor = (uint16_t)rd (&r, 2);
  raw->build_fingerprint = rd (&r, 8);
  if (flags & 4)
    raw->build_fingerprint = CAIRN_BUILD_FINGERPRINT;
  raw->kinds = (uint32_t)rd (&r, 4);
  guint n_prov = (guint)rd (&r, 1) % 80;
  guint n_req = (guint)rd (&r, 1) % 80;
  if (flags & 8)
    raw->init = dummy_init;
  raw->id = rd_str (&r, strs);
  if (flags & 64)
    raw->id = NULL;
  raw->version = rd_str (&r, strs);
  if (flags & 128)
    raw->version = NULL;
  raw->vendor = rd_str (&r, strs);
  raw->license = rd_str (&r, strs);
  raw->description = rd_str (&r, strs);
  if (flags & 16)
    raw->provides = services (&r, n_prov, strs);
  if (flags & 32)
    raw->requires = services (&r, n_req, strs);

  memset (&out, 0, sizeof out);
  if (CAIRN_PLUGIN_CHECK_DESCRIPTOR ("fuzz.so", raw, &out, &error)) {
    CHECK (error == NULL);
    CHECK (out.magic == CAIRN_PLUGIN_MAGIC && out.abi_major == CAIRN_ABI_MAJOR);
    CHECK (out.id == raw->id && cairn_plugin_id_valid (out.id));
    CHECK (out.init != NULL && out.kinds != 0 && out.version != NULL);
  } else {
    CHECK (error != NULL && error->message != NULL);
  }
  /* NULL is refused, not dereferenced. */
  g_autoptr (GError) null_error = NULL;
  CHECK (!CAIRN_PLUGIN_CHECK_DESCRIPTOR ("fuzz.so", NULL, &out, &null_error));
  g_free (raw);
  return 0;
}

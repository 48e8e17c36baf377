/* Fuzz target: the genesis loader (core/genesis.c), through the file path
 * the node uses (cairn_genesis_load: read, strict parse, every check),
 * reading the fuzzed bytes from a memfd. On success the hash is that of
 * the canonical document, and loading from the parsed JSON agrees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cjson.h"
#include "crypto.h"
#include "genesis.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static int fd = -1;
  static char path[64];
  g_autoptr (GError) error = NULL;

  if (fd < 0) {
    fd = memfd_create ("genesis.json", 0);
    CHECK (fd >= 0);
    g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  }
  CHECK (ftruncate (fd, 0) == 0);
  CHECK (pwrite (fd, data, size, 0) == (ssize_t)size);

  g_autoptr (CairnGenesis) g = cairn_genesis_load (path, &error);
  if (g == NULL) {
    CHECK (error != NULL);
    return 0;
  }
  CHECK (g->chain_id != NULL && g->genesis_time > 0);
  g_autoptr (GError) again_error = NULL;
  g_autoptr (CairnGenesis) again
      = cairn_genesis_from_json (g->doc, "fuzz", &again_error);
  CHECK (again != NULL);
  CHECK (memcmp (again->hash, g->hash, sizeof g->hash) == 0);
  return 0;
}

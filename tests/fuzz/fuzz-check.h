/* CHECK(cond): a property of a fuzz target; its failure is a finding
 * (libFuzzer saves the input) and names the target's file and the
 * condition. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf (stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__,     \
               #cond);                                                         \
      abort ();                                                                \
    }                                                                          \
  } while (0)

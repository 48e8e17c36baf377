/* The tests' fixed Ed25519 key: pinned tx ids and block hashes depend on it
 * (Ed25519 signatures are deterministic). */
#pragma once

#include "crypto.h"

CairnKey *test_load_fixed_key (void);

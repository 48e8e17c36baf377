/* Internal: the OpenSSL key inside a CairnKey, for code that must hand it
 * to OpenSSL itself (the TLS transport signs its certificate with it). */
#pragma once

#include <openssl/evp.h>

#include "crypto.h"

/* Borrowed: valid as long as the key; do not free. */
EVP_PKEY *cairn_key_evp (const CairnKey *key);

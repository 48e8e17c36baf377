/* The syntax of names and identifiers shared by txs, blocks, genesis and
 * the core tx types: one definition each, so the rules cannot drift. */
#pragma once

#include <stddef.h>

#include <glib.h>

/* Chain id: [A-Za-z0-9_.-]{1,64}. */
gboolean cairn_chain_id_valid (const char *s);
/* Role name: [a-z_]{1,32}. */
gboolean cairn_role_valid (const char *s);
/* Exactly 2*n lowercase hex digits: one spelling per value, so ids and
 * signatures are not malleable. */
gboolean cairn_hex_lower_valid (const char *s, size_t n);

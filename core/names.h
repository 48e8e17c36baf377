/* The syntax of names and identifiers shared by txs, blocks, genesis and
 * the core tx types: one definition each, so the rules cannot drift. Role
 * names and lowercase hex (one spelling per value, so ids and signatures
 * are not malleable) are checked by the SDK's <cairn/util.h>, which
 * plugins use too. */
#pragma once

#include <stddef.h>

#include <glib.h>

#include <cairn/util.h>

/* Chain id: [A-Za-z0-9_.-]{1,64}. */
gboolean cairn_chain_id_valid (const char *s);

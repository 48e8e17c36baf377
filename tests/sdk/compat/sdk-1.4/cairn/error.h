/* Cairn SDK — the error domain shared by core and plugins.
 *
 * Handlers fail a transaction by returning FALSE with a GError in
 * CAIRN_ERROR; the code becomes the tx result's machine-readable reason
 * (see cairn_error_code_name) and the message its human-readable text. */
#pragma once

#include <glib.h>

/* A static inline so plugins need no link-time symbol from the core. */
static inline GQuark
cairn_error_quark (void)
{
  return g_quark_from_static_string ("cairn-error-quark");
}
#define CAIRN_ERROR (cairn_error_quark ())

/* Append only: the numeric values are part of the ABI. */
typedef enum {
  CAIRN_ERROR_FAILED = 1,         /* "failed": anything else */
  CAIRN_ERROR_INVALID,            /* "invalid": malformed input or body */
  CAIRN_ERROR_NOT_FOUND,          /* "not_found" */
  CAIRN_ERROR_UNAUTHORIZED,       /* "unauthorized": missing role/permission */
  CAIRN_ERROR_INSUFFICIENT_FUNDS, /* "insufficient_funds" */
  CAIRN_ERROR_CONFLICT,           /* "conflict": already exists, duplicate */
  CAIRN_ERROR_CONFIG,             /* "config": bad configuration */
  CAIRN_ERROR_ABI,                /* "abi": plugin/host incompatibility */
  CAIRN_ERROR_IO,                 /* "io": disk or network */
  CAIRN_ERROR_CORRUPT,            /* "corrupt": stored data failed a check */
  CAIRN_ERROR_NOT_IMPLEMENTED,    /* "not_implemented" */
  CAIRN_ERROR_OVERFLOW,           /* "overflow": integer out of range */
} CairnErrorCode;

static inline const char *
cairn_error_code_name (int code)
{
  static const char *const names[] = {
    "failed",    "failed",       "invalid",
    "not_found", "unauthorized", "insufficient_funds",
    "conflict",  "config",       "abi",
    "io",        "corrupt",      "not_implemented",
    "overflow",
  };
  if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
    return "failed";
  return names[code];
}

/* The descriptor load rule, shared by the node and the SDK test library
 * (see plugin_check.c). */
#pragma once

#include <cairn/cairn.h>

#ifndef CAIRN_PLUGIN_CHECK_DESCRIPTOR
#define CAIRN_PLUGIN_CHECK_DESCRIPTOR cairn_plugin_check_descriptor
#endif

/* Validate the descriptor raw that file's entry point returned; on success
 * *out is a copy of the part this node knows (a newer plugin's may be
 * longer). CAIRN_ERROR_ABI naming the file, the field, both values and
 * what to do. */
gboolean CAIRN_PLUGIN_CHECK_DESCRIPTOR (const char *file,
                                        const CairnPluginDescriptor *raw,
                                        CairnPluginDescriptor *out,
                                        GError **error);

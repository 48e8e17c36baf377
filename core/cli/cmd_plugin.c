/* cmd_plugin.c: not yet written */

/* plugin_host.c: not yet written */

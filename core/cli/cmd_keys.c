/* cmd_keys.c: not yet written */

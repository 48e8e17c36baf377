/* cmd_query.c: not yet written */

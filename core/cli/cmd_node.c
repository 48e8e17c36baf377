/* cmd_node.c: not yet written */

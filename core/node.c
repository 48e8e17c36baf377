/* node.c: not yet written */

/* chain.c: not yet written */

/* lthash.c: not yet written */

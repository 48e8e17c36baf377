/* output.c: not yet written */

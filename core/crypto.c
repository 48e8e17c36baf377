/* crypto.c: not yet written */

/* metrics.c: not yet written */

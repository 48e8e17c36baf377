/* host.c: not yet written */

/* events.c: not yet written */

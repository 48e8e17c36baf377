/* solo.c: not yet written */

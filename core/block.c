/* block.c: not yet written */

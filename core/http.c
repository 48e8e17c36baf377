/* http.c: not yet written */

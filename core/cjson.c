/* cjson.c: not yet written */

/* engine/server.c: not yet written */

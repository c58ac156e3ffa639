/* engine/schema.c: not yet written */

/* engine/namemap.c: not yet written */

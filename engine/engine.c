/* engine/engine.c: not yet written */

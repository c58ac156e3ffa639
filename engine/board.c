/* engine/board.c: not yet written */

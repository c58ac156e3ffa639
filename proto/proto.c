/* proto/proto.c: not yet written */

/* spawner.c -- placeholder; see spawner.h. */
#include "spawner.h"

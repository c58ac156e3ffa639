/* spawner.h -- placeholder. */
#ifndef WF_SPAWNER_H
#define WF_SPAWNER_H
#endif

/* SPDX-License-Identifier: MIT */
/*
 * Front ends (NVMe/TCP, iSCSI) plug into the core through this table; only
 * the daemon's main names them. All calls come from the control thread.
 */
#ifndef NVB_FRONTEND_H
#define NVB_FRONTEND_H

#include <json-c/json.h>
#include <stddef.h>

#include "bridge/target.h"

struct nvb_frontend_ops {
	const char *name;
	/* Open listeners for the running target; -1 with "FILE:LINE: reason". */
	int (*start)(struct nvb_target *t, char *err, size_t errlen);
	/* Stop accepting new connections (SIGTERM, first step). */
	void (*stop_accepting)(void);
	/* Wait (bounded) until in-flight commands have completed, then close
	 * every connection. */
	void (*drain)(void);
	/* Free what start allocated, after reactors have stopped. */
	void (*cleanup)(void);
	/* Control socket: append this front end's sessions/controllers (with
	 * per-queue statistics) to `out`, a JSON array. */
	void (*list_sessions)(struct json_object *out);
};

#endif

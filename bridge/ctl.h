/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a Unix stream socket (mode 0600) speaking JSON-RPC 2.0,
 * one request per line, one response per line. Served on the control (main)
 * thread, never on a reactor. Methods (see ctl_methods.c and docs/ctl.md):
 *   list-subsystems, list-namespaces, list-ports, list-ana-groups,
 *   list-controllers, add-namespace, remove-namespace, resize-namespace,
 *   set-ana-state, allow-host, deny-host, stats, save, version.
 */
#ifndef NVB_CTL_H
#define NVB_CTL_H

#include <stddef.h>

#include "bridge/frontend.h"

/* Create the socket (removing a stale one; refusing if a live daemon answers
 * there). Returns 0 or -1 with a reason. */
int nvb_ctl_start(const char *path, const struct nvb_frontend_ops *const *frontends,
		  int nfrontends, char *err, size_t errlen);
/* Serve clients until stop_fd becomes readable (the daemon passes a
 * signalfd); returns the readable fd's value consumed by the caller. */
void nvb_ctl_run(int stop_fd);
void nvb_ctl_stop(void);

/* Client side, for nvbridgectl and tests: call `method` with `params`
 * (a JSON object, may be NULL) and return the "result" member (caller puts
 * it), or NULL with the error message in err. */
struct json_object;
struct json_object *nvb_ctl_call(const char *path, const char *method,
				 struct json_object *params, char *err, size_t errlen);

/* JSON-RPC 2.0 §5.1 error codes, plus ours for a refused operation. */
#define NVB_CTL_PARSE_ERROR      (-32700)
#define NVB_CTL_INVALID_REQUEST  (-32600)
#define NVB_CTL_METHOD_NOT_FOUND (-32601)
#define NVB_CTL_INVALID_PARAMS   (-32602)
#define NVB_CTL_INTERNAL_ERROR   (-32603)
#define NVB_CTL_FAILED           (-32000)   /* the operation failed: see message */

/* Server internals shared by ctl.c and ctl_methods.c: run `method` with
 * `params` (an object or NULL). Returns 0 with *result set (never NULL), or
 * one of the codes above with a message in err. Control thread only. */
int nvb_ctl_dispatch(const char *method, struct json_object *params,
		     const struct nvb_frontend_ops *const *frontends, int nfrontends,
		     struct json_object **result, char *err, size_t errlen);

#endif

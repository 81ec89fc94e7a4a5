/* SPDX-License-Identifier: MIT */
/* Backend selection: the namespace config's `backend` names the ops table. */
#include "bridge/backend.h"

#include <stdio.h>

static const struct nvb_backend_ops *const backend_kinds[] = {
	[NVB_BACKEND_FILE] = &nvb_backend_file_ops,
	[NVB_BACKEND_RAM] = &nvb_backend_ram_ops,
};

int nvb_backend_open(const struct nvb_ns_conf *conf, struct nvb_backend **out,
		     char *err, size_t errlen)
{
	const struct nvb_backend_ops *ops = NULL;
	char reason[512] = "";

	if ((unsigned)conf->backend < sizeof(backend_kinds) / sizeof(backend_kinds[0]))
		ops = backend_kinds[conf->backend];
	if (!ops) {
		snprintf(err, errlen, "namespace %u: unknown backend kind %d",
			 conf->nsid, (int)conf->backend);
		return -1;
	}
	if (ops->open(conf, out, reason, sizeof(reason)) < 0) {
		snprintf(err, errlen, "namespace %u: %s", conf->nsid, reason);
		return -1;
	}
	return 0;
}

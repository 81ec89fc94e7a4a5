/* SPDX-License-Identifier: MIT */
/*
 * The discovery controller's log page (NVMe-oF 1.1 §5.3, Get Log Page 70h):
 * one entry per (port, subsystem) the connected host may use, plus an
 * entry for this discovery subsystem on the port the host asked through.
 */
#include "nvmetcp/nvmet_internal.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/log.h"

/* GENCTR: bumps whenever the set of entries may have changed, so a host
 * that reads the header, then the entries, then the header again can tell
 * its two reads apart. */
static _Atomic uint64_t nvmet_disc_genctr = 1;

void nvmet_discovery_changed(void)
{
	atomic_fetch_add(&nvmet_disc_genctr, 1);
}

static void nvmet_disc_entry(struct nvmf_disc_log_entry *e, const struct nvb_port *port,
			     const char *subnqn, uint8_t subtype)
{
	const struct nvb_port_conf *pc = &port->conf;

	memset(e, 0, sizeof(*e));
	e->trtype = NVMF_TRTYPE_TCP;
	e->adrfam = pc->family == AF_INET6 ? NVMF_ADDR_FAMILY_IP6 : NVMF_ADDR_FAMILY_IP4;
	e->subtype = subtype;
	/* No TLS here, so no secure channel is required; we honour a host
	 * that disables SQ flow control (Connect CATTR bit 2). */
	e->treq = NVMF_TREQ_NOT_REQUIRED | NVMF_TREQ_DISABLE_SQFLOW;
	e->portid = htole16(pc->id);
	e->cntlid = htole16(0xffff);    /* dynamic controller model */
	e->asqsz = htole16(NVMET_AQ_DEPTH);
	if (subtype == NVME_NQN_CURR)
		e->eflags = htole16(NVMF_DISC_EFLAGS_DUPRETINFO | NVMF_DISC_EFLAGS_EPCSD);
	nvmet_strpad(e->trsvcid, sizeof(e->trsvcid), pc->svcid);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", subnqn);
	nvmet_strpad(e->traddr, sizeof(e->traddr), pc->advertise_addr ? pc->advertise_addr
								      : pc->addr);
	e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
}

/* Emit (or, with w NULL, just count) the entries. */
static uint64_t nvmet_disc_entries(struct nvmet_log_writer *w, const struct nvmet_ctrl *ctrl,
				   const struct nvb_target *t, const bool *allowed)
{
	struct nvmf_disc_log_entry e;
	uint64_t n = 0;

	for (int p = 0; p < t->nports; p++) {
		for (int s = 0; s < t->nsubsys; s++) {
			if (!allowed[s] || !nvb_port_exports(&t->ports[p], t->subsys[s]))
				continue;
			if (w) {
				nvmet_disc_entry(&e, &t->ports[p], t->subsys[s]->nqn, NVME_NQN_NVME);
				nvmet_log_put(w, &e, sizeof(e));
			}
			n++;
		}
	}
	if (w) {
		nvmet_disc_entry(&e, ctrl->port, NVB_DISCOVERY_NQN, NVME_NQN_CURR);
		nvmet_log_put(w, &e, sizeof(e));
	}
	return n + 1;
}

void nvmet_discovery_log(struct nvmet_log_writer *w, struct nvmet_ctrl *ctrl)
{
	const struct nvb_target *t = nvb_target();
	struct nvmf_discovery_log *hdr;
	bool *allowed;

	_Static_assert(sizeof(struct nvmf_discovery_log) == 1024, "discovery header is 1 KiB");
	_Static_assert(sizeof(struct nvmf_disc_log_entry) == 1024, "discovery entry is 1 KiB");
	hdr = calloc(1, sizeof(*hdr));
	allowed = calloc(t && t->nsubsys ? (size_t)t->nsubsys : 1, sizeof(*allowed));
	if (!hdr || !allowed) {
		nvb_err("discovery log: out of memory");
		free(hdr);
		free(allowed);
		return;         /* an empty log: the read fails with Invalid Field */
	}
	/* Decide each subsystem once, so the count and the entries agree. */
	for (int s = 0; t && s < t->nsubsys; s++)
		allowed[s] = !t->subsys[s]->is_discovery &&
			     nvb_subsys_host_allowed(t->subsys[s], ctrl->hostnqn);

	hdr->genctr = htole64(atomic_load(&nvmet_disc_genctr));
	hdr->recfmt = 0;
	if (t) {
		hdr->numrec = htole64(nvmet_disc_entries(NULL, ctrl, t, allowed));
		nvmet_log_put(w, hdr, sizeof(*hdr));
		nvmet_disc_entries(w, ctrl, t, allowed);
	} else {
		nvmet_log_put(w, hdr, sizeof(*hdr));
	}
	free(allowed);
	free(hdr);
}

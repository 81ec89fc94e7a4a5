/* SPDX-License-Identifier: MIT */
/*
 * Admin commands (NVMe 2.0 §5): Identify, Get Log Page, Get/Set Features,
 * Asynchronous Event Request, Abort and Keep Alive, each decoded by a table
 * (opcode, CNS, log page, feature). All run on the admin queue's reactor.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "nvmetcp/nvmet_internal.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0"
#endif

#define NVMET_INVALID_LOG_PAGE \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_INVALID_LOG_PAGE) | NVB_DNR)
#define NVMET_FEATURE_NOT_SAVEABLE \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_FEATURE_NOT_SAVEABLE) | NVB_DNR)
#define NVMET_NSID_ALL 0xffffffffu

/* The Linux host sizes its ANA log buffer from these (multipath.c) and
 * gives up on ANA when it exceeds MDTS. */
_Static_assert(sizeof(struct nvme_ana_log) + NVB_MAX_ANA_GROUPS * sizeof(struct nvme_ana_group_desc)
	       + NVB_MAX_NSID * sizeof(uint32_t) <= NVMET_MAX_XFER, "ANA log fits in MDTS");

static struct nvmet_ctrl *req_ctrl(const struct nvmet_req *req)
{
	return req->sq->ctrl;
}

/* ---- namespaces as this controller sees them ---------------------------- */

static bool nvmet_nsid_valid(uint32_t nsid)
{
	return nsid >= 1 && nsid <= NVB_MAX_NSID;       /* NN = NVB_MAX_NSID */
}

static bool nvmet_subsys_vwc_present(struct nvb_subsys *ss)
{
	uint32_t max = nvb_subsys_max_nsid(ss);
	bool vwc = false;

	for (uint32_t nsid = 1; nsid <= max && nsid <= NVB_MAX_NSID && !vwc; nsid++) {
		struct nvb_ns *ns = nvb_ns_get(ss, nsid);

		if (ns) {
			vwc = ns->conf.volatile_write_cache;
			nvb_ns_put(ns);
		}
	}
	return vwc;
}

static uint32_t nvmet_ns_anagrpid(const struct nvmet_ctrl *ctrl, const struct nvb_ns *ns)
{
	const struct nvb_ana_group *g = nvmet_ns_ana_group(ctrl, ns);

	return g ? g->id : 0;
}

static bool nvmet_bytes_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void nvmet_put_le128(uint8_t dst[16], uint64_t v)
{
	memset(dst, 0, 16);
	v = htole64(v);
	memcpy(dst, &v, sizeof(v));
}

/* ---- Identify (NVMe 2.0 §5.17) ------------------------------------------ */

union nvmet_identify_buf {
	struct nvme_id_ctrl ctrl;
	struct nvme_id_ns ns;
	struct nvme_id_independent_id_ns indep;
	uint32_t nsids[NVME_IDENTIFY_DATA_SIZE / 4];
	uint8_t raw[NVME_IDENTIFY_DATA_SIZE];
};
_Static_assert(sizeof(union nvmet_identify_buf) == NVME_IDENTIFY_DATA_SIZE, "identify is 4 KiB");

static nvb_status nvmet_identify_ctrl(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	struct nvb_subsys *ss = ctrl->subsys;
	struct nvb_target *t = nvb_target();
	struct nvme_id_ctrl *id = &buf->ctrl;

	/* Fabrics controllers have no PCI IDs: VID, SSVID, IEEE stay 0. */
	nvmet_strpad(id->sn, sizeof(id->sn), ss->serial);
	nvmet_strpad(id->mn, sizeof(id->mn), ss->model);
	nvmet_strpad(id->fr, sizeof(id->fr), PACKAGE_VERSION);
	id->rab = 6;
	id->mdts = NVMET_MDTS_SHIFT;
	id->cntlid = htole16(ctrl->cntlid);
	id->ver = htole32(NVMET_VS);
	/* Any command on any queue restarts the keep-alive timer. */
	id->ctratt = htole32(NVME_CTRL_CTRATT_128_ID | NVME_CTRL_CTRATT_TBKAS);
	id->acl = 3;
	id->aerl = NVMET_MAX_AERS - 1;
	id->frmw = 0x3;                 /* one slot, read-only */
	id->lpa = NVME_CTRL_LPA_EXTENDED;
	id->elpe = NVMET_ERROR_LOG_SLOTS - 1;
	id->kas = htole16(NVMET_KAS_100MS);
	id->sqes = 0x66;
	id->cqes = 0x44;
	id->maxcmd = htole16(NVMET_MAX_QSIZE);
	/* NVMe/TCP carries data in Transport SGL Data Blocks and in-capsule
	 * Data Blocks addressed by offset (NVMe/TCP 1.0 §3.3.2). */
	id->sgls = htole32(1u << 0 | NVME_CTRL_SGLS_OFFSET | NVME_CTRL_SGLS_TPORT);
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", ss->nqn);
	id->ioccsz = htole32((64 + NVMET_IO_ICDOFF_SIZE) / 16);
	id->iorcsz = htole32(1);
	id->icdoff = 0;
	id->fcatt = 0;                  /* dynamic controller model */
	id->msdbd = 1;

	if (ctrl->discovery) {
		id->cntrltype = NVME_CTRL_CNTRLTYPE_DISCOVERY;
		id->dctype = 1;         /* direct discovery controller */
		return NVB_OK;
	}
	id->cntrltype = NVME_CTRL_CNTRLTYPE_IO;
	id->cmic = NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL |
		   NVME_CTRL_CMIC_MULTI_ANA_REPORTING;
	id->oaes = htole32(NVME_CTRL_OAES_NA | NVME_CTRL_OAES_ANA);
	id->nn = htole32(NVB_MAX_NSID);
	id->mnan = htole32(NVB_MAX_NSID);
	id->oncs = htole16(NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES |
			   (ctrl->has_host ? NVME_CTRL_ONCS_RESERVATIONS : 0));
	/* io.c pairs fused commands; the executor runs them atomically. */
	id->fuses = htole16(NVME_CTRL_FUSES_COMPARE_AND_WRITE);
	/* The executor flushes every namespace for NSID FFFFFFFFh: 11b. */
	if (nvmet_subsys_vwc_present(ss))
		id->vwc = NVME_CTRL_VWC_PRESENT | NVME_CTRL_VWC_FLUSH;
	/* NVMe 2.0 §8.1: ANA. Every state can be reported; a namespace's
	 * group never changes while it is attached. */
	id->anatt = NVMET_ANATT_S;
	id->anacap = NVME_CTRL_ANACAP_OPT | NVME_CTRL_ANACAP_NON_OPT |
		     NVME_CTRL_ANACAP_INACCESSIBLE | NVME_CTRL_ANACAP_PERSISTENT_LOSS |
		     NVME_CTRL_ANACAP_CHANGE | NVME_CTRL_ANACAP_GRPID_NO_CHG;
	id->anagrpmax = htole32(NVB_MAX_ANA_GROUPS);
	id->nanagrpid = htole32(t ? (uint32_t)t->nana_groups : 0);
	return NVB_OK;
}

/* Identify Namespace (CNS 00h). An inactive NSID reads as zeroes. */
static nvb_status nvmet_identify_ns(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	struct nvme_id_ns *id = &buf->ns;
	struct nvb_ns *ns;
	uint64_t nblocks;

	ns = nvb_ns_get(ctrl->subsys, le32toh(req->cmd.nsid));
	if (!ns)
		return NVB_OK;
	nblocks = atomic_load(&ns->nblocks);
	id->nsze = id->ncap = id->nuse = htole64(nblocks);
	id->nlbaf = 0;                  /* one format ... */
	id->flbas = 0;                  /* ... in use */
	id->lbaf[0].ds = (uint8_t)ns->lba_shift;
	id->nmic = NVME_NS_NMIC_SHARED; /* reachable through every controller */
	/* NVMe 2.0 §8.19: every type, PTPL, IEKEY; shared with iSCSI. */
	id->rescap = NVB_RESV_RESCAP;
	id->dlfeat = 0x09;              /* deallocated reads 0; Write Zeroes may deallocate */
	nvmet_put_le128(id->nvmcap, nblocks << ns->lba_shift);
	id->anagrpid = htole32(nvmet_ns_anagrpid(ctrl, ns));
	memcpy(id->nguid, ns->conf.nguid, sizeof(id->nguid));
	memcpy(id->eui64, ns->conf.eui64, sizeof(id->eui64));
	nvb_ns_put(ns);
	return NVB_OK;
}

/* I/O Command Set Independent Identify Namespace (CNS 08h). The Linux host
 * prefers it from NVMe 2.0 on and ignores a namespace not marked ready. */
static nvb_status nvmet_identify_ns_indep(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	struct nvme_id_independent_id_ns *id = &buf->indep;
	struct nvb_ns *ns = nvb_ns_get(ctrl->subsys, le32toh(req->cmd.nsid));

	if (!ns)
		return NVB_OK;
	id->nmic = NVME_NS_NMIC_SHARED;
	id->anagrpid = htole32(nvmet_ns_anagrpid(ctrl, ns));
	id->nstat = 1;                  /* NRDY: ready */
	nvb_ns_put(ns);
	return NVB_OK;
}

/* Active Namespace ID list (CNS 02h/07h): active NSIDs above the given one,
 * ascending, at most 1024. */
static nvb_status nvmet_identify_active_list(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	struct nvb_subsys *ss = req_ctrl(req)->subsys;
	uint32_t from = le32toh(req->cmd.nsid);
	uint32_t max = nvb_subsys_max_nsid(ss);
	int n = 0;

	if (from >= 0xfffffffeu)
		return NVB_INVALID_NS;
	for (uint32_t nsid = from + 1; nsid <= max && nsid <= NVB_MAX_NSID &&
	     n < (int)(sizeof(buf->nsids) / sizeof(buf->nsids[0])); nsid++) {
		if (atomic_load_explicit(&ss->ns[nsid], memory_order_acquire))
			buf->nsids[n++] = htole32(nsid);
	}
	return NVB_OK;
}

/* Namespace Identification Descriptor list (CNS 03h), NVMe 2.0 §5.17:
 * the same EUI-64/NGUID/UUID on every controller and port, which is what
 * the host's multipath joins paths by. */
static size_t nvmet_put_desc(uint8_t *p, size_t pos, uint8_t type, const void *id, uint8_t len)
{
	struct nvme_ns_id_desc d = { .nidt = type, .nidl = len };

	if (pos + sizeof(d) + len > NVME_IDENTIFY_DATA_SIZE)
		return pos;
	memcpy(p + pos, &d, sizeof(d));
	memcpy(p + pos + sizeof(d), id, len);
	return pos + sizeof(d) + len;
}

static nvb_status nvmet_identify_desc_list(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	struct nvb_ns *ns = nvb_ns_get(req_ctrl(req)->subsys, le32toh(req->cmd.nsid));
	const struct nvb_ns_conf *c;
	uint8_t csi = NVME_CSI_NVM;
	size_t pos = 0;

	if (!ns)
		return NVB_INVALID_NS;
	c = &ns->conf;
	if (!nvmet_bytes_zero(c->eui64, sizeof(c->eui64)))
		pos = nvmet_put_desc(buf->raw, pos, NVME_NIDT_EUI64, c->eui64, NVME_NIDT_EUI64_LEN);
	if (!nvmet_bytes_zero(c->nguid, sizeof(c->nguid)))
		pos = nvmet_put_desc(buf->raw, pos, NVME_NIDT_NGUID, c->nguid, NVME_NIDT_NGUID_LEN);
	if (!nvmet_bytes_zero(c->uuid, sizeof(c->uuid)))
		pos = nvmet_put_desc(buf->raw, pos, NVME_NIDT_UUID, c->uuid, NVME_NIDT_UUID_LEN);
	nvmet_put_desc(buf->raw, pos, NVME_NIDT_CSI, &csi, NVME_NIDT_CSI_LEN);
	nvb_ns_put(ns);
	return NVB_OK;
}

/* I/O Command Set specific Identify Namespace / Controller for the NVM
 * command set (CNS 05h/06h): no extended formats, no size limits — all
 * zeroes is the right answer. */
static nvb_status nvmet_identify_nvm_zeroes(struct nvmet_req *req, union nvmet_identify_buf *buf)
{
	return NVB_OK;
}

enum nvmet_id_nsid { ID_NSID_NONE, ID_NSID_NS, ID_NSID_LIST };

static const struct nvmet_identify_op {
	nvb_status (*fill)(struct nvmet_req *req, union nvmet_identify_buf *buf);
	enum nvmet_id_nsid nsid;        /* how CDW1 NSID is checked */
	bool csi;                       /* CNS defined per command set: CSI must be NVM */
	bool discovery;                 /* also on a discovery controller */
} nvmet_identify_ops[] = {
	[NVME_IDENTIFY_CNS_NS] = { nvmet_identify_ns, ID_NSID_NS, false, false },
	[NVME_IDENTIFY_CNS_CTRL] = { nvmet_identify_ctrl, ID_NSID_NONE, false, true },
	[NVME_IDENTIFY_CNS_NS_ACTIVE_LIST] = { nvmet_identify_active_list, ID_NSID_LIST, false, false },
	[NVME_IDENTIFY_CNS_NS_DESC_LIST] = { nvmet_identify_desc_list, ID_NSID_NS, false, false },
	[NVME_IDENTIFY_CNS_CSI_NS] = { nvmet_identify_nvm_zeroes, ID_NSID_NS, true, false },
	[NVME_IDENTIFY_CNS_CSI_CTRL] = { nvmet_identify_nvm_zeroes, ID_NSID_NONE, true, false },
	[NVME_IDENTIFY_CNS_CSI_NS_ACTIVE_LIST] = { nvmet_identify_active_list, ID_NSID_LIST, true, false },
	[NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS] = { nvmet_identify_ns_indep, ID_NSID_NS, false, false },
};

static void nvmet_identify(struct nvmet_req *req)
{
	uint32_t cdw10 = le32toh(req->cmd.cdw10), cdw11 = le32toh(req->cmd.cdw11);
	uint8_t cns = cdw10 & 0xff, csi = cdw11 >> 24;
	const struct nvmet_identify_op *op = NULL;
	union nvmet_identify_buf *buf;
	nvb_status st;

	if (cns < sizeof(nvmet_identify_ops) / sizeof(nvmet_identify_ops[0]))
		op = &nvmet_identify_ops[cns];
	if (!op || !op->fill || (req_ctrl(req)->discovery && !op->discovery) ||
	    (op->csi && csi != NVME_CSI_NVM)) {
		nvmet_req_complete(req, NVB_INVALID_FIELD);
		return;
	}
	if (op->nsid == ID_NSID_NS && !nvmet_nsid_valid(le32toh(req->cmd.nsid))) {
		nvmet_req_complete(req, NVB_INVALID_NS);
		return;
	}
	if (req->data_len < NVME_IDENTIFY_DATA_SIZE) {
		nvmet_req_complete(req, NVB_SGL_INVALID_DATA);
		return;
	}
	buf = calloc(1, sizeof(*buf));
	if (!buf) {
		nvmet_req_complete(req, NVB_INTERNAL_ERROR);
		return;
	}
	st = op->fill(req, buf);
	if (st == NVB_OK) {
		nvmet_copy_to_req(req, 0, buf, sizeof(*buf));
		req->xfer_len = sizeof(*buf);
	}
	free(buf);
	nvmet_req_complete(req, st);
}

/* ---- Get Log Page (NVMe 2.0 §5.16) -------------------------------------- */

static nvb_status nvmet_log_error(struct nvmet_log_writer *w, struct nvmet_req *req, uint8_t lsp)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	static const struct nvme_error_log_page empty;

	/* Newest first; unused slots are zero (error count 0 = no entry). */
	for (uint64_t i = 0; i < NVMET_ERROR_LOG_SLOTS; i++) {
		if (i < ctrl->error_count)
			nvmet_log_put(w, &ctrl->errlog[(ctrl->error_count - 1 - i) %
						       NVMET_ERROR_LOG_SLOTS],
				      sizeof(struct nvme_error_log_page));
		else
			nvmet_log_put(w, &empty, sizeof(empty));
	}
	return NVB_OK;
}

/* SMART / Health (02h), for the whole controller (LPA bit 0 clear): the
 * subsystem's namespaces' counters. Data units are thousands of 512-byte
 * units, rounded up. */
static nvb_status nvmet_log_smart(struct nvmet_log_writer *w, struct nvmet_req *req, uint8_t lsp)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	struct nvb_subsys *ss = ctrl->subsys;
	uint32_t nsid = le32toh(req->cmd.nsid), max = nvb_subsys_max_nsid(ss);
	uint64_t reads = 0, writes = 0, rbytes = 0, wbytes = 0;
	struct nvme_smart_log *log;
	struct nvb_io_stats *sum;

	if (nsid != 0 && nsid != NVMET_NSID_ALL)
		return NVB_INVALID_FIELD;
	log = calloc(1, sizeof(*log));
	sum = malloc(sizeof(*sum));
	if (!log || !sum) {
		free(log);
		free(sum);
		return NVB_INTERNAL_ERROR;
	}
	for (nsid = 1; nsid <= max && nsid <= NVB_MAX_NSID; nsid++) {
		struct nvb_ns *ns = nvb_ns_get(ss, nsid);

		if (!ns)
			continue;
		nvb_io_stats_sum(sum, ns->stats, NVB_MAX_REACTORS);
		reads += sum->reads;
		writes += sum->writes;
		rbytes += sum->read_bytes;
		wbytes += sum->write_bytes;
		nvb_ns_put(ns);
	}
	log->temperature[0] = 298 & 0xff;       /* 25 °C, in kelvin */
	log->temperature[1] = 298 >> 8;
	log->avail_spare = 100;
	log->spare_thresh = 10;
	nvmet_put_le128(log->data_units_read, (rbytes / 512 + 999) / 1000);
	nvmet_put_le128(log->data_units_written, (wbytes / 512 + 999) / 1000);
	nvmet_put_le128(log->host_reads, reads);
	nvmet_put_le128(log->host_writes, writes);
	nvmet_put_le128(log->num_err_log_entries, ctrl->error_count);
	nvmet_log_put(w, log, sizeof(*log));
	free(sum);
	free(log);
	return NVB_OK;
}

static nvb_status nvmet_log_fw_slot(struct nvmet_log_writer *w, struct nvmet_req *req, uint8_t lsp)
{
	struct nvme_firmware_slot log;

	memset(&log, 0, sizeof(log));
	log.afi = 1;                    /* slot 1 active */
	nvmet_strpad(log.frs[0], sizeof(log.frs[0]), PACKAGE_VERSION);
	nvmet_log_put(w, &log, sizeof(log));
	return NVB_OK;
}

/* Changed Namespace List (04h): NSIDs changed since the host last read it;
 * FFFFFFFFh first when more than 1024 did. */
static nvb_status nvmet_log_changed_ns(struct nvmet_log_writer *w, struct nvmet_req *req,
				       uint8_t lsp)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	uint32_t list[NVMET_MAX_CHANGED_NS];

	memset(list, 0, sizeof(list));
	if (ctrl->changed_ns_overflow)
		list[0] = htole32(NVMET_NSID_ALL);
	else
		for (int i = 0; i < ctrl->nr_changed_ns; i++)
			list[i] = htole32(ctrl->changed_ns[i]);
	nvmet_log_put(w, list, sizeof(list));
	return NVB_OK;
}

static void nvmet_log_changed_ns_read(struct nvmet_ctrl *ctrl)
{
	ctrl->nr_changed_ns = 0;
	ctrl->changed_ns_overflow = false;
	nvmet_event_log_read(ctrl, NVMET_EVENT_NS_ATTR);
}

static int nvmet_cmp_group(const void *a, const void *b)
{
	uint32_t x = (*(struct nvb_ana_group *const *)a)->id;
	uint32_t y = (*(struct nvb_ana_group *const *)b)->id;

	return x < y ? -1 : x > y;
}

/*
 * ANA (0Ch), NVMe 2.0 §5.16.1.13: one descriptor per configured group in
 * ascending group ID, each with its state and, unless LSP bit 0 (RGO) asks
 * for groups only, the NSIDs (ascending) that belong to it as seen by this
 * controller: the port's group holds every namespace not pinned elsewhere.
 */
struct nvmet_ana_scan {
	struct nvb_ana_group *groups[NVB_MAX_ANA_GROUPS];
	uint32_t nsid[NVB_MAX_NSID];
	uint32_t grpid[NVB_MAX_NSID];
	uint32_t le_nsids[NVB_MAX_NSID];
};

static nvb_status nvmet_log_ana(struct nvmet_log_writer *w, struct nvmet_req *req, uint8_t lsp)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	struct nvb_subsys *ss = ctrl->subsys;
	struct nvb_target *t = nvb_target();
	uint32_t max = nvb_subsys_max_nsid(ss);
	bool rgo = lsp & 1;
	struct nvmet_ana_scan *s;
	struct nvme_ana_log hdr;
	uint64_t chgcnt;
	int ngroups = 0, nns = 0;

	s = malloc(sizeof(*s));
	if (!s)
		return NVB_INTERNAL_ERROR;
	for (int i = 0; t && i < t->nana_groups && i < NVB_MAX_ANA_GROUPS; i++)
		s->groups[ngroups++] = &t->ana_groups[i];
	qsort(s->groups, (size_t)ngroups, sizeof(s->groups[0]), nvmet_cmp_group);
	for (uint32_t nsid = 1; nsid <= max && nsid <= NVB_MAX_NSID; nsid++) {
		struct nvb_ns *ns = nvb_ns_get(ss, nsid);

		if (!ns)
			continue;
		s->nsid[nns] = nsid;
		s->grpid[nns++] = nvmet_ns_anagrpid(ctrl, ns);
		nvb_ns_put(ns);
	}

	/* CHGCNT moves whenever this page's content may: a group changed
	 * state, or a namespace came or went. */
	chgcnt = atomic_load(&ss->ns_change_count);
	for (int g = 0; g < ngroups; g++)
		chgcnt += atomic_load(&s->groups[g]->change_count);
	memset(&hdr, 0, sizeof(hdr));
	hdr.chgcnt = htole64(chgcnt);
	hdr.ngrps = htole16((uint16_t)ngroups);
	nvmet_log_put(w, &hdr, sizeof(hdr));

	for (int g = 0; g < ngroups; g++) {
		struct nvme_ana_group_desc desc;
		int n = 0;

		for (int i = 0; !rgo && i < nns; i++)
			if (s->grpid[i] == s->groups[g]->id)
				s->le_nsids[n++] = htole32(s->nsid[i]);
		memset(&desc, 0, sizeof(desc));
		desc.grpid = htole32(s->groups[g]->id);
		desc.nnsids = htole32((uint32_t)n);
		desc.chgcnt = htole64(atomic_load(&s->groups[g]->change_count));
		desc.state = (uint8_t)nvmet_ana_group_state(s->groups[g]);
		nvmet_log_put(w, &desc, sizeof(desc));
		nvmet_log_put(w, s->le_nsids, (size_t)n * sizeof(uint32_t));
	}
	free(s);
	return NVB_OK;
}

static void nvmet_log_ana_read(struct nvmet_ctrl *ctrl)
{
	nvmet_event_log_read(ctrl, NVMET_EVENT_ANA);
}

static nvb_status nvmet_log_discovery(struct nvmet_log_writer *w, struct nvmet_req *req,
				      uint8_t lsp)
{
	nvmet_discovery_log(w, req_ctrl(req));
	return NVB_OK;
}

static const struct nvmet_log_page {
	uint8_t lid;
	nvb_status (*gen)(struct nvmet_log_writer *w, struct nvmet_req *req, uint8_t lsp);
	void (*read)(struct nvmet_ctrl *ctrl);  /* the host read it with RAE clear */
	bool io;                                /* on an I/O controller */
	bool discovery;                         /* on a discovery controller */
} nvmet_log_pages[] = {
	{ NVME_LOG_LID_ERROR,      nvmet_log_error,      NULL, true, false },
	{ NVME_LOG_LID_SMART,      nvmet_log_smart,      NULL, true, false },
	{ NVME_LOG_LID_FW_SLOT,    nvmet_log_fw_slot,    NULL, true, false },
	{ NVME_LOG_LID_CHANGED_NS, nvmet_log_changed_ns, nvmet_log_changed_ns_read, true, false },
	{ NVME_LOG_LID_ANA,        nvmet_log_ana,        nvmet_log_ana_read, true, false },
	{ NVME_LOG_LID_DISCOVER,   nvmet_log_discovery,  NULL, false, true },
};

static void nvmet_get_log_page(struct nvmet_req *req)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	uint32_t cdw10 = le32toh(req->cmd.cdw10), cdw11 = le32toh(req->cmd.cdw11);
	uint8_t lid = cdw10 & 0xff, lsp = (cdw10 >> 8) & 0x7f;
	bool rae = cdw10 & (1u << 15);
	uint64_t numd = ((uint64_t)(cdw11 & 0xffff) << 16 | cdw10 >> 16) + 1;
	struct nvmet_log_writer w = {
		.req = req,
		.offset = (uint64_t)le32toh(req->cmd.cdw13) << 32 | le32toh(req->cmd.cdw12),
		.len = numd * 4,
	};
	const struct nvmet_log_page *page = NULL;
	nvb_status st;

	for (size_t i = 0; i < sizeof(nvmet_log_pages) / sizeof(nvmet_log_pages[0]); i++)
		if (nvmet_log_pages[i].lid == lid)
			page = &nvmet_log_pages[i];
	if (!page || !(ctrl->discovery ? page->discovery : page->io)) {
		nvmet_req_complete(req, NVMET_INVALID_LOG_PAGE);
		return;
	}
	if ((w.offset & 3) || w.offset > UINT64_MAX - w.len) {   /* LPO: dword aligned */
		nvmet_req_complete(req, NVB_INVALID_FIELD);
		return;
	}
	if (req->data_len < w.len) {
		nvmet_req_complete(req, NVB_SGL_INVALID_DATA);
		return;
	}
	/* Bytes past the end of the log read as zero. */
	nvmet_zero_req(req, 0, (size_t)w.len);
	st = page->gen(&w, req, lsp);
	if (st == NVB_OK && w.offset >= w.pos)
		st = NVB_INVALID_FIELD; /* offset beyond the log */
	if (st == NVB_OK) {
		req->xfer_len = (size_t)w.len;
		if (!rae && page->read)
			page->read(ctrl);
	}
	nvmet_req_complete(req, st);
}

/* ---- Get/Set Features (NVMe 2.0 §5.27) ---------------------------------- */

typedef nvb_status (*nvmet_feat_fn)(struct nvmet_req *req, uint32_t *result, bool dflt);
/* A set handler returns this when it completes the command itself later. */
#define NVMET_FEAT_PENDING ((nvb_status)0xffff)

/* Without a volatile write cache there is nothing to enable (reads 0). */
static nvb_status nvmet_feat_vwc_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);

	*result = nvmet_subsys_vwc_present(ctrl->subsys) &&
		  (dflt || atomic_load(&ctrl->vwc_enabled));
	return NVB_OK;
}

/* With the cache "disabled" io.c makes every write FUA. */
static nvb_status nvmet_feat_vwc_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);

	if (!nvmet_subsys_vwc_present(ctrl->subsys))
		return NVB_INVALID_FIELD;
	atomic_store(&ctrl->vwc_enabled, le32toh(req->cmd.cdw11) & 1);
	return NVB_OK;
}

static nvb_status nvmet_feat_nr_queues_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	uint32_t n;

	pthread_mutex_lock(&nvmet_lock);
	n = dflt ? NVMET_MAX_QUEUES : ctrl->nr_io_queues;
	pthread_mutex_unlock(&nvmet_lock);
	*result = (n - 1) | (n - 1) << 16;
	return NVB_OK;
}

/* Number of Queues: grant up to NVMET_MAX_QUEUES pairs, only before any I/O
 * queue exists (NVMe 2.0 §5.27). Result: NSQA | NCQA << 16, 0's based. */
static nvb_status nvmet_feat_nr_queues_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	uint32_t cdw11 = le32toh(req->cmd.cdw11);
	uint32_t nsq = (cdw11 & 0xffff) + 1, ncq = (cdw11 >> 16) + 1;
	nvb_status st = NVB_OK;

	if (nsq > 0xffff || ncq > 0xffff)
		return NVB_INVALID_FIELD;       /* 65536 queues is not a request */
	if (nsq > NVMET_MAX_QUEUES)
		nsq = NVMET_MAX_QUEUES;
	if (ncq > NVMET_MAX_QUEUES)
		ncq = NVMET_MAX_QUEUES;
	pthread_mutex_lock(&nvmet_lock);
	if (ctrl->nr_io_sqs)
		st = NVB_CMD_SEQ_ERROR;
	else
		ctrl->nr_io_queues = (uint16_t)(nsq < ncq ? nsq : ncq);
	pthread_mutex_unlock(&nvmet_lock);
	*result = (nsq - 1) | (ncq - 1) << 16;
	return st;
}

static nvb_status nvmet_feat_atomic_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	*result = dflt ? 0 : req_ctrl(req)->write_atomicity;
	return NVB_OK;
}

static nvb_status nvmet_feat_atomic_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	req_ctrl(req)->write_atomicity = le32toh(req->cmd.cdw11) & 1;
	return NVB_OK;
}

static uint32_t nvmet_aen_supported(const struct nvmet_ctrl *ctrl)
{
	/* Bits 7:0 (SMART critical warnings) may be enabled though we never
	 * raise them; notices only where we send them. */
	return 0xff | (ctrl->discovery ? 0 : NVME_CTRL_OAES_NA | NVME_CTRL_OAES_ANA);
}

static nvb_status nvmet_feat_aen_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);

	*result = dflt ? nvmet_aen_supported(ctrl) & ~0xffu : ctrl->aen_enabled;
	return NVB_OK;
}

static nvb_status nvmet_feat_aen_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);
	uint32_t v = le32toh(req->cmd.cdw11);

	if (v & ~nvmet_aen_supported(ctrl))
		return NVB_INVALID_FIELD;
	ctrl->aen_enabled = v;
	return NVB_OK;
}

static nvb_status nvmet_feat_kato_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	*result = dflt ? 0 : atomic_load(&req_ctrl(req)->kato_ms);
	return NVB_OK;
}

static nvb_status nvmet_feat_kato_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	struct nvmet_ctrl *ctrl = req_ctrl(req);

	atomic_store(&ctrl->kato_ms, nvmet_ctrl_kato(ctrl, le32toh(req->cmd.cdw11)));
	nvmet_ctrl_restart_keep_alive(ctrl);
	return NVB_OK;
}

/*
 * Reservation Persistence (83h, NVMe 2.0 §5.27.1.x): PTPL of the namespace's
 * reservation state, the same switch as SCSI APTPL (docs/reservations.md).
 * Set completes once the state file is written (or removed).
 */
struct nvmet_ptpl_ctx {
	struct nvmet_req *req;
	struct nvb_ns *ns;      /* referenced until the commit is done */
};

static void nvmet_ptpl_committed(void *arg, int err)
{
	struct nvmet_ptpl_ctx *ctx = arg;
	struct nvmet_req *req = ctx->req;

	if (err)
		nvb_err("namespace %u: reservation state not saved: %s",
			le32toh(req->cmd.nsid), strerror(-err));
	nvb_ns_put(ctx->ns);
	free(ctx);
	nvmet_req_complete(req, err ? NVB_INTERNAL_ERROR : NVB_OK);
}

static struct nvb_ns *nvmet_feat_ns(struct nvmet_req *req, nvb_status *st)
{
	uint32_t nsid = le32toh(req->cmd.nsid);
	struct nvb_ns *ns = nvmet_nsid_valid(nsid) ? nvb_ns_get(req_ctrl(req)->subsys, nsid) : NULL;

	*st = NVB_OK;
	if (!ns)
		*st = NVB_INVALID_NS;
	else if (!ns->resv) {
		nvb_ns_put(ns);
		ns = NULL;
		*st = NVB_INVALID_FIELD;
	}
	return ns;
}

static nvb_status nvmet_feat_ptpl_get(struct nvmet_req *req, uint32_t *result, bool dflt)
{
	nvb_status st;
	struct nvb_ns *ns = nvmet_feat_ns(req, &st);

	if (!ns)
		return st;
	*result = dflt ? 0 : nvb_resv_ptpl(ns->resv);
	nvb_ns_put(ns);
	return NVB_OK;
}

static nvb_status nvmet_feat_ptpl_set(struct nvmet_req *req, uint32_t *result, bool unused)
{
	struct nvmet_ptpl_ctx *ctx;
	nvb_status st;
	struct nvb_ns *ns = nvmet_feat_ns(req, &st);

	if (!ns)
		return st;
	ctx = malloc(sizeof(*ctx));
	if (!ctx) {
		nvb_ns_put(ns);
		return NVB_INTERNAL_ERROR;
	}
	ctx->req = req;
	ctx->ns = ns;
	nvb_resv_set_ptpl(ns->resv, le32toh(req->cmd.cdw11) & 1);
	if (nvb_resv_commit(ns->resv, req->sq->reactor, nvmet_ptpl_committed, ctx))
		return NVMET_FEAT_PENDING;
	nvb_ns_put(ns);
	free(ctx);
	return NVB_OK;
}

static const struct nvmet_feature {
	uint8_t fid;
	nvmet_feat_fn get, set;
	bool discovery;         /* also on a discovery controller */
} nvmet_features[] = {
	{ NVME_FEAT_FID_VOLATILE_WC,  nvmet_feat_vwc_get, nvmet_feat_vwc_set, false },
	{ NVME_FEAT_FID_NUM_QUEUES,   nvmet_feat_nr_queues_get, nvmet_feat_nr_queues_set, false },
	{ NVME_FEAT_FID_WRITE_ATOMIC, nvmet_feat_atomic_get, nvmet_feat_atomic_set, false },
	{ NVME_FEAT_FID_ASYNC_EVENT,  nvmet_feat_aen_get, nvmet_feat_aen_set, true },
	{ NVME_FEAT_FID_KATO,         nvmet_feat_kato_get, nvmet_feat_kato_set, true },
	{ NVME_FEAT_FID_RESV_PERSIST, nvmet_feat_ptpl_get, nvmet_feat_ptpl_set, false },
};

static const struct nvmet_feature *nvmet_feature_find(const struct nvmet_req *req)
{
	uint8_t fid = le32toh(req->cmd.cdw10) & 0xff;

	for (size_t i = 0; i < sizeof(nvmet_features) / sizeof(nvmet_features[0]); i++)
		if (nvmet_features[i].fid == fid)
			return req_ctrl(req)->discovery && !nvmet_features[i].discovery
				? NULL : &nvmet_features[i];
	return NULL;
}

static void nvmet_get_features(struct nvmet_req *req)
{
	const struct nvmet_feature *f = nvmet_feature_find(req);
	uint8_t sel = (le32toh(req->cmd.cdw10) >> 8) & 0x7;
	uint32_t result = 0;
	nvb_status st;

	if (!f || sel > 3)
		st = NVB_INVALID_FIELD;
	else if (sel == 3)
		/* capabilities: changeable, not saveable; 83h is per namespace */
		result = 1u << 2 | (f->fid == NVME_FEAT_FID_RESV_PERSIST ? 1u << 1 : 0), st = NVB_OK;
	else    /* current; default; saved = default, as nothing is saved */
		st = f->get(req, &result, sel != 0);
	req->rsp.result.u32 = htole32(result);
	nvmet_req_complete(req, st);
}

static void nvmet_set_features(struct nvmet_req *req)
{
	const struct nvmet_feature *f = nvmet_feature_find(req);
	uint32_t result = 0;
	nvb_status st;

	if (!f)
		st = NVB_INVALID_FIELD;
	else if (le32toh(req->cmd.cdw10) & (1u << 31))
		st = NVMET_FEATURE_NOT_SAVEABLE;        /* SV: nothing persists */
	else
		st = f->set(req, &result, false);
	if (st == NVMET_FEAT_PENDING)
		return;
	req->rsp.result.u32 = htole32(result);
	nvmet_req_complete(req, st);
}

/* ---- the rest ------------------------------------------------------------ */

/* NVMe 2.0 §5.1: Abort may always answer "not aborted" (dword 0 bit 0). */
static void nvmet_abort(struct nvmet_req *req)
{
	req->rsp.result.u32 = htole32(1);
	nvmet_req_complete(req, NVB_OK);
}

/* The timer was restarted when the command arrived (nvmet_req_execute). */
static void nvmet_keep_alive(struct nvmet_req *req)
{
	nvmet_req_complete(req, NVB_OK);
}

static const struct nvmet_admin_op {
	void (*execute)(struct nvmet_req *req);
	bool discovery;         /* also on a discovery controller */
} nvmet_admin_ops[256] = {
	[nvme_admin_get_log_page] = { nvmet_get_log_page, true },
	[nvme_admin_identify]     = { nvmet_identify, true },
	[nvme_admin_abort_cmd]    = { nvmet_abort, false },
	[nvme_admin_set_features] = { nvmet_set_features, true },
	[nvme_admin_get_features] = { nvmet_get_features, true },
	[nvme_admin_async_event]  = { nvmet_aer_submit, true },
	[nvme_admin_keep_alive]   = { nvmet_keep_alive, true },
};

void nvmet_admin_execute(struct nvmet_req *req)
{
	const struct nvmet_admin_op *op = &nvmet_admin_ops[req->cmd.opcode];

	if (!op->execute || (req_ctrl(req)->discovery && !op->discovery)) {
		nvmet_req_complete(req, NVB_INVALID_OPCODE);
		return;
	}
	op->execute(req);
}

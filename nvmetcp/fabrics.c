/* SPDX-License-Identifier: MIT */
/*
 * Fabrics commands (NVMe-oF 1.1 §3): Connect, which creates a controller or
 * attaches an I/O queue to one, and Property Get/Set, the fabrics stand-in
 * for the controller registers (CAP, VS, CC, CSTS).
 */
#include "nvmetcp/nvmet_internal.h"

#include <endian.h>
#include <stddef.h>
#include <string.h>

#include "bridge/log.h"

#define NVMET_CONNECT_INVALID_PARAM \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_PARAM) | NVB_DNR)
#define NVMET_CONNECT_INVALID_HOST \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_INVALID_HOST) | NVB_DNR)
#define NVMET_CONNECT_CTRL_BUSY \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY) | NVB_DNR)
#define NVMET_CONNECT_FORMAT \
	(NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_FORMAT) | NVB_DNR)

#define NVMET_CATTR_DISABLE_SQ_FLOW 0x04   /* Connect CATTR bit 2 */

/*
 * NVMe-oF 1.1 §3.3, Connect response: for Connect Invalid Parameters,
 * dword 0 bits 15:0 (IPO) give the byte offset of the bad field and bit 16
 * (IATTR) says whether it lies in the connect data (1) or the SQE (0).
 */
static nvb_status nvmet_connect_invalid(struct nvmet_req *req, bool in_data, size_t offset)
{
	req->rsp.result.u32 = htole32((in_data ? 1u << 16 : 0) | (uint32_t)offset);
	return NVMET_CONNECT_INVALID_PARAM;
}

/* An NQN field of the connect data: NUL-terminated, 1..223 bytes. */
static bool nvmet_nqn_ok(const char *nqn, size_t field)
{
	size_t len = strnlen(nqn, field);

	return len > 0 && len <= NVB_NQN_MAX;
}

static nvb_status nvmet_connect_admin(struct nvmet_req *req, const struct nvb_connect_cmd *c,
				      const struct nvmf_connect_data *d, struct nvb_subsys *ss)
{
	struct nvmet_ctrl *ctrl;
	uint16_t cntlid;

	/* Dynamic controller model (FCATT bit 0 clear): the host asks for
	 * FFFFh and we pick a CNTLID unique in the subsystem across ports. */
	cntlid = nvb_subsys_alloc_cntlid(ss);
	if (!cntlid) {
		nvb_warn("connect to %s from %s: no controller ID left", ss->nqn, d->hostnqn);
		return NVMET_CONNECT_CTRL_BUSY;
	}
	ctrl = nvmet_ctrl_create(req->sq, ss, d->hostnqn, d->hostid, le32toh(c->kato), cntlid);
	if (!ctrl) {
		nvb_subsys_free_cntlid(ss, cntlid);
		return NVB_INTERNAL_ERROR;
	}
	req->sq->ctrl = ctrl;
	return NVB_OK;
}

static nvb_status nvmet_connect_io(struct nvmet_req *req, const struct nvmf_connect_data *d,
				   struct nvb_subsys *ss, uint16_t qid)
{
	struct nvmet_ctrl *ctrl;
	nvb_status st = NVB_OK;

	ctrl = nvmet_ctrl_find_get(ss, req->sq->port, le16toh(d->cntlid));
	if (!ctrl) {
		nvb_warn("I/O queue connect for unknown controller %u of %s",
			 le16toh(d->cntlid), ss->nqn);
		return nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, cntlid));
	}
	if (strcmp(ctrl->hostnqn, d->hostnqn) != 0)
		st = nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, hostnqn));
	else if (memcmp(ctrl->hostid, d->hostid, sizeof(ctrl->hostid)) != 0)
		st = nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, hostid));
	if (st) {
		nvb_warn("I/O queue connect to controller %u: host NQN/ID mismatch", ctrl->cntlid);
		nvmet_ctrl_put(ctrl);
		return st;
	}

	pthread_mutex_lock(&nvmet_lock);
	if (ctrl->dead)
		st = nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, cntlid));
	else if (!(atomic_load(&ctrl->cc) & NVMET_CC_EN))
		st = NVB_CMD_SEQ_ERROR;         /* queues only on an enabled controller */
	else if (qid > ctrl->nr_io_queues)
		st = nvmet_connect_invalid(req, false, offsetof(struct nvb_connect_cmd, qid));
	else if (ctrl->sqs[qid])
		st = NVMET_CONNECT_CTRL_BUSY;   /* that queue is already connected */
	else {
		ctrl->sqs[qid] = req->sq;
		ctrl->nr_io_sqs++;
	}
	pthread_mutex_unlock(&nvmet_lock);
	if (st) {
		nvmet_ctrl_put(ctrl);
		return st;
	}
	req->sq->ctrl = ctrl;   /* the lookup's reference is now the queue's */
	return NVB_OK;
}

/* NVMe-oF 1.1 §3.3: Connect. */
static nvb_status nvmet_connect(struct nvmet_req *req)
{
	struct nvmet_sq *sq = req->sq;
	struct nvb_connect_cmd c;
	struct nvmf_connect_data d;
	struct nvb_subsys *ss;
	uint16_t qid, sqsize, max_size;
	nvb_status st;

	_Static_assert(sizeof(d) == 1024, "connect data is 1024 bytes");
	memcpy(&c, &req->cmd, sizeof(c));
	if (sq->ctrl)
		return NVB_CMD_SEQ_ERROR;       /* one Connect per queue */
	if (req->data_len != sizeof(d) || nvmet_copy_from_req(req, 0, &d, sizeof(d)) != sizeof(d))
		return NVB_SGL_INVALID_DATA;
	if (le16toh(c.recfmt) != 0)
		return NVMET_CONNECT_FORMAT;
	if (!nvmet_nqn_ok(d.subsysnqn, sizeof(d.subsysnqn)))
		return nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, subsysnqn));
	if (!nvmet_nqn_ok(d.hostnqn, sizeof(d.hostnqn)))
		return nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, hostnqn));

	ss = nvb_target_find_subsys(d.subsysnqn);
	if (!ss || !nvb_port_exports(sq->port, ss)) {
		nvb_warn("connect from %s for unknown subsystem %s on port %u", d.hostnqn,
			 d.subsysnqn, (unsigned)sq->port->conf.id);
		return nvmet_connect_invalid(req, true, offsetof(struct nvmf_connect_data, subsysnqn));
	}
	if (!ss->is_discovery && !nvb_subsys_host_allowed(ss, d.hostnqn)) {
		nvb_warn("connect from %s for %s: host not allowed", d.hostnqn, ss->nqn);
		return NVMET_CONNECT_INVALID_HOST;
	}

	/* SQSIZE is 0's based; a queue holds at least two entries. */
	qid = le16toh(c.qid);
	sqsize = le16toh(c.sqsize);
	max_size = qid == 0 ? NVMET_AQ_DEPTH : NVMET_MAX_QSIZE;
	if (sqsize < 1 || sqsize >= max_size)
		return nvmet_connect_invalid(req, false, offsetof(struct nvb_connect_cmd, sqsize));

	st = qid == 0 ? nvmet_connect_admin(req, &c, &d, ss) : nvmet_connect_io(req, &d, ss, qid);
	if (st)
		return st;
	sq->qid = qid;
	sq->size = (uint16_t)(sqsize + 1);
	sq->sqhd = 0;
	sq->sq_flow_control_disabled = c.cattr & NVMET_CATTR_DISABLE_SQ_FLOW;
	req->rsp.result.u16 = htole16(sq->ctrl->cntlid);
	nvb_debug("controller %u: queue %u connected, %u entries", sq->ctrl->cntlid, qid,
		  sq->size);
	return NVB_OK;
}

/* ---- properties (NVMe-oF 1.1 §3.4, §3.5; NVMe 2.0 §3.1.3) --------------- */

static uint64_t nvmet_prop_cap(struct nvmet_ctrl *ctrl)
{
	return (uint64_t)(NVMET_MAX_QSIZE - 1)          /* MQES */
		| 1ull << 16                            /* CQR: contiguous queues */
		| 15ull << 24                           /* TO: 7.5 s to ready */
		| (uint64_t)NVME_CAP_CSS_NVM << 37;     /* NVM command set */
		/* DSTRD, MPSMIN, MPSMAX 0: 4 KiB pages */
}

static uint64_t nvmet_prop_vs(struct nvmet_ctrl *ctrl)
{
	return NVMET_VS;
}

static uint64_t nvmet_prop_cc(struct nvmet_ctrl *ctrl)
{
	return atomic_load(&ctrl->cc);
}

static uint64_t nvmet_prop_csts(struct nvmet_ctrl *ctrl)
{
	return atomic_load(&ctrl->csts);
}

/* What we can run: NVM command set, 4 KiB pages, round robin; queue entry
 * sizes 64/16 bytes (0 = not set yet: the host sets them before creating
 * I/O queues, NVMe 2.0 §3.1.3.5). */
static bool nvmet_cc_valid(uint32_t cc)
{
	return NVMET_CC_CSS(cc) == 0 && NVMET_CC_MPS(cc) == 0 && NVMET_CC_AMS(cc) == 0 &&
	       (NVMET_CC_IOSQES(cc) == 0 || NVMET_CC_IOSQES(cc) == 6) &&
	       (NVMET_CC_IOCQES(cc) == 0 || NVMET_CC_IOCQES(cc) == 4);
}

static nvb_status nvmet_prop_set_cc(struct nvmet_ctrl *ctrl, uint64_t value)
{
	uint32_t new = (uint32_t)value;
	uint32_t old = atomic_exchange(&ctrl->cc, new);
	uint32_t csts = atomic_load(&ctrl->csts);

	if ((new & NVMET_CC_EN) && !(old & NVMET_CC_EN)) {
		if (nvmet_cc_valid(new)) {
			csts |= NVMET_CSTS_RDY;
		} else {
			nvb_warn("controller %u: enabled with unsupported CC %#x", ctrl->cntlid, new);
			csts |= NVMET_CSTS_CFS;
		}
	}
	/* Reset (EN 1 → 0): the host will connect its queues again. */
	if (!(new & NVMET_CC_EN) && (old & NVMET_CC_EN))
		csts &= ~(NVMET_CSTS_RDY | NVMET_CSTS_CFS);
	/* Shutdown: writes are issued as they arrive and backends flush on
	 * Flush, so there is nothing left to do — report it done at once. */
	if (NVMET_CC_SHN(new) && !NVMET_CC_SHN(old)) {
		csts = (csts & ~NVMET_CSTS_RDY) | NVMET_CSTS_SHST_CMPLT;
		nvb_info("controller %u (%s) shut down by the host", ctrl->cntlid, ctrl->hostnqn);
	}
	if (!NVMET_CC_SHN(new) && NVMET_CC_SHN(old))
		csts &= ~(3u << 2);
	atomic_store(&ctrl->csts, csts);
	return NVB_OK;
}

static const struct nvmet_property {
	uint32_t offset;
	uint8_t size;           /* 4 or 8 bytes */
	uint64_t (*get)(struct nvmet_ctrl *ctrl);
	nvb_status (*set)(struct nvmet_ctrl *ctrl, uint64_t value);
} nvmet_properties[] = {
	{ NVME_REG_CAP,  8, nvmet_prop_cap,  NULL },
	{ NVME_REG_VS,   4, nvmet_prop_vs,   NULL },
	{ NVME_REG_CC,   4, nvmet_prop_cc,   nvmet_prop_set_cc },
	{ NVME_REG_CSTS, 4, nvmet_prop_csts, NULL },
};

/* ATTRIB bits 2:0 give the size: 0 = 4 bytes, 1 = 8 bytes. */
static const struct nvmet_property *nvmet_property_find(const struct nvb_prop_cmd *c)
{
	uint8_t size = (c->attrib & 0x7) == 1 ? 8 : (c->attrib & 0x7) == 0 ? 4 : 0;
	uint32_t offset = le32toh(c->offset);

	for (size_t i = 0; i < sizeof(nvmet_properties) / sizeof(nvmet_properties[0]); i++)
		if (nvmet_properties[i].offset == offset && nvmet_properties[i].size == size)
			return &nvmet_properties[i];
	return NULL;
}

static nvb_status nvmet_property_get(struct nvmet_req *req)
{
	struct nvb_prop_cmd c;
	const struct nvmet_property *p;

	memcpy(&c, &req->cmd, sizeof(c));
	p = nvmet_property_find(&c);
	if (!p)
		return NVB_INVALID_FIELD;
	req->rsp.result.u64 = htole64(p->get(req->sq->ctrl));
	return NVB_OK;
}

static nvb_status nvmet_property_set(struct nvmet_req *req)
{
	struct nvb_prop_cmd c;
	const struct nvmet_property *p;

	memcpy(&c, &req->cmd, sizeof(c));
	p = nvmet_property_find(&c);
	if (!p || !p->set)
		return NVB_INVALID_FIELD;
	return p->set(req->sq->ctrl, le64toh(c.value));
}

static const struct nvmet_fabrics_op {
	nvb_status (*execute)(struct nvmet_req *req);
	bool connect;           /* only as the queue's first command */
} nvmet_fabrics_ops[] = {
	[nvme_fabrics_type_property_set] = { nvmet_property_set, false },
	[nvme_fabrics_type_connect]      = { nvmet_connect, true },
	[nvme_fabrics_type_property_get] = { nvmet_property_get, false },
};

void nvmet_fabrics_execute(struct nvmet_req *req)
{
	struct nvb_fabrics_cmd c;
	const struct nvmet_fabrics_op *op = NULL;
	struct nvmet_sq *sq = req->sq;
	nvb_status st;

	memcpy(&c, &req->cmd, sizeof(c));
	if (c.fctype < sizeof(nvmet_fabrics_ops) / sizeof(nvmet_fabrics_ops[0]))
		op = &nvmet_fabrics_ops[c.fctype];
	if (!op || !op->execute)
		st = NVB_INVALID_OPCODE;
	else if (op->connect)
		st = op->execute(req);
	else if (!sq->ctrl)
		st = NVB_CMD_SEQ_ERROR;         /* Connect comes first */
	else if (sq->qid != 0)
		st = NVB_INVALID_OPCODE;        /* properties live on the admin queue */
	else
		st = op->execute(req);
	nvmet_req_complete(req, st);
}

/* SPDX-License-Identifier: MIT */
/*
 * NVMe-oF controllers: the registry, their lifetime, keep-alive, asynchronous
 * events, and the path every command takes in and out of the core.
 *
 * A controller is created by an admin-queue Connect and lives as long as any
 * of its queues: each connected queue holds a reference, and so does every
 * event message in flight to the admin reactor. The last reference frees the
 * controller and gives its CNTLID back to the subsystem.
 */
#include "nvmetcp/nvmet_internal.h"

#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bridge/iov.h"
#include "bridge/log.h"

/* Recursive: a transport may tear a queue down from inside ops->kill. */
pthread_mutex_t nvmet_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static struct nvmet_ctrl *nvmet_ctrls;          /* registry, under nvmet_lock */

/* ---- request plumbing ------------------------------------------------- */

void nvmet_sq_init(struct nvmet_sq *sq, const struct nvmet_sq_ops *ops,
		   struct nvb_port *port, struct nvb_reactor *reactor)
{
	memset(sq, 0, sizeof(*sq));
	sq->ops = ops;
	sq->port = port;
	sq->reactor = reactor;
}

void nvmet_req_execute(struct nvmet_req *req)
{
	struct nvmet_ctrl *ctrl = req->sq->ctrl;

	memset(&req->rsp, 0, sizeof(req->rsp));
	req->xfer_len = 0;
	if (ctrl)
		nvmet_ctrl_touch(ctrl);

	/* NVMe-oF 1.1 §3.3: Fabrics commands carry their own rules
	 * (Connect first, properties before CC.EN). */
	if (req->cmd.opcode == NVB_FABRICS_OPCODE) {
		nvmet_fabrics_execute(req);
		return;
	}
	/* Nothing but Connect on a queue that is not connected, and nothing
	 * but Fabrics commands before the host enabled the controller
	 * (NVMe 2.0, controller initialization). */
	if (!ctrl || !nvmet_ctrl_ready(ctrl)) {
		nvmet_req_complete(req, NVB_CMD_SEQ_ERROR);
		return;
	}
	/* Fused operations exist only for I/O commands (Compare and Write,
	 * Identify Controller FUSES); io.c pairs them. */
	if ((req->cmd.flags & 0x3) && req->sq->qid == 0) {
		nvmet_req_complete(req, NVB_INVALID_FIELD);
		return;
	}
	if (req->sq->qid == 0)
		nvmet_admin_execute(req);
	else
		nvmet_io_execute(req);
}

/* NVMe 2.0 §5.16.1.2: one entry per failed admin command. I/O errors are
 * not logged here: the error ring belongs to the admin reactor and the
 * I/O path takes no lock (they show in the per-queue statistics). */
static void nvmet_error_log_add(struct nvmet_ctrl *ctrl, const struct nvmet_req *req,
				nvb_status status)
{
	struct nvme_error_log_page *e;

	ctrl->error_count++;
	e = &ctrl->errlog[(ctrl->error_count - 1) % NVMET_ERROR_LOG_SLOTS];
	memset(e, 0, sizeof(*e));
	e->error_count = htole64(ctrl->error_count);
	e->sqid = htole16(req->sq->qid);
	e->cmdid = req->cmd.cid;
	e->status_field = htole16((uint16_t)(status << 1));
	e->parm_error_location = htole16(0xffff);
	e->nsid = req->cmd.nsid;
	e->trtype = NVMF_TRTYPE_TCP;
}

void nvmet_req_complete(struct nvmet_req *req, nvb_status status)
{
	struct nvmet_sq *sq = req->sq;

	/* NVMe 2.0 §4.6: SQHD tells the host which entries it may reuse;
	 * reserved when the host disabled SQ flow control (Connect CATTR). */
	if (sq->size && !sq->sq_flow_control_disabled) {
		sq->sqhd = (uint16_t)((sq->sqhd + 1) % sq->size);
		req->rsp.sqhd = htole16(sq->sqhd);
	} else {
		req->rsp.sqhd = 0;
	}
	req->rsp.sqid = htole16(sq->qid);
	req->rsp.cid = req->cmd.cid;
	req->rsp.status = htole16((uint16_t)(status << 1));
	if (sq->ctrl) {
		/* The host counts completions as traffic (TBKAS): so do we,
		 * or one slow command could outlast KATO. */
		nvmet_ctrl_touch(sq->ctrl);
		if (status != NVB_OK && sq->qid == 0)
			nvmet_error_log_add(sq->ctrl, req, status);
	}
	req->complete(req);
}

void nvmet_copy_to_req(struct nvmet_req *req, size_t off, const void *src, size_t len)
{
	nvb_iov_from_buf(req->iov, req->iovcnt, off, src, len);
}

size_t nvmet_copy_from_req(struct nvmet_req *req, size_t off, void *dst, size_t len)
{
	return nvb_iov_to_buf(req->iov, req->iovcnt, off, dst, len);
}

void nvmet_zero_req(struct nvmet_req *req, size_t off, size_t len)
{
	nvb_iov_zero(req->iov, req->iovcnt, off, len);
}

void nvmet_log_put(struct nvmet_log_writer *w, const void *data, size_t len)
{
	uint64_t start = w->pos > w->offset ? w->pos : w->offset;
	uint64_t end = w->pos + len < w->offset + w->len ? w->pos + len : w->offset + w->len;

	if (start < end)
		nvmet_copy_to_req(w->req, (size_t)(start - w->offset),
				  (const char *)data + (start - w->pos), (size_t)(end - start));
	w->pos += len;
}

void nvmet_strpad(char *dst, size_t width, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	memset(dst, ' ', width);
	if (n)          /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(dst, src, n < width ? n : width);
}

/* ---- ANA model -------------------------------------------------------- */

struct nvb_ana_group *nvmet_ns_ana_group(const struct nvmet_ctrl *ctrl, const struct nvb_ns *ns)
{
	/* A controller sees every namespace in its port's group, unless the
	 * namespace is pinned to a group of its own. */
	if (ns && ns->conf.ana_group) {
		struct nvb_ana_group *g = nvb_target_find_ana_group(ns->conf.ana_group);

		if (g)
			return g;
	}
	return ctrl->port->ana;
}

enum nvb_ana_state nvmet_ana_group_state(const struct nvb_ana_group *g)
{
	if (!g)
		return NVB_ANA_OPTIMIZED;
	return (enum nvb_ana_state)atomic_load_explicit(&g->state, memory_order_relaxed);
}

/* ---- controllers ------------------------------------------------------ */

uint32_t nvmet_ctrl_kato(const struct nvmet_ctrl *ctrl, uint32_t kato_ms)
{
	/* A discovery controller is not left without a timeout: KATO 0 asks
	 * for a non-persistent discovery connection, which the spec lets the
	 * controller end after two minutes (as the Linux target does), so a
	 * vanished `nvme discover` cannot pin a controller forever. */
	if (!kato_ms && ctrl->discovery)
		return NVMET_DISC_KATO_MS;
	return kato_ms;
}

void nvmet_ctrl_restart_keep_alive(struct nvmet_ctrl *ctrl)
{
	ctrl->ka_last_ms = nvb_now_ms();
	ctrl->ka_expired = false;
}

/* NVMe 2.0 §3.9: the keep-alive timer. We advertise CTRATT.TBKAS, so any
 * command on any queue restarts it, not only Keep Alive. */
static void nvmet_ka_tick(struct nvb_tick *t, uint64_t now_ms)
{
	struct nvmet_ctrl *ctrl = container_of(t, struct nvmet_ctrl, ka_tick);
	uint32_t kato = atomic_load_explicit(&ctrl->kato_ms, memory_order_relaxed);

	if (atomic_exchange_explicit(&ctrl->traffic, false, memory_order_relaxed)) {
		ctrl->ka_last_ms = now_ms;
		return;
	}
	if (!kato || ctrl->ka_expired || now_ms <= ctrl->ka_last_ms)
		return;
	if (now_ms - ctrl->ka_last_ms > (uint64_t)kato + NVMET_KA_SLACK_MS) {
		ctrl->ka_expired = true;
		nvb_warn("controller %u (%s) keep-alive timeout", ctrl->cntlid, ctrl->hostnqn);
		nvmet_ctrl_kill(ctrl, NULL);
	}
}

struct nvmet_ctrl *nvmet_ctrl_create(struct nvmet_sq *sq, struct nvb_subsys *ss,
				     const char *hostnqn, const uint8_t hostid[16],
				     uint32_t kato_ms, uint16_t cntlid)
{
	struct nvmet_ctrl *ctrl;
	void *mem;

	if (posix_memalign(&mem, 64, sizeof(*ctrl)) != 0)
		return NULL;
	ctrl = memset(mem, 0, sizeof(*ctrl));
	ctrl->cntlid = cntlid;
	ctrl->discovery = ss->is_discovery;
	ctrl->subsys = ss;
	ctrl->port = sq->port;
	ctrl->admin_reactor = sq->reactor;
	snprintf(ctrl->hostnqn, sizeof(ctrl->hostnqn), "%s", hostnqn);
	memcpy(ctrl->hostid, hostid, sizeof(ctrl->hostid));
	/* NVMe 2.0 §8.19.1: reservations belong to the host (its Host
	 * Identifier), across its controllers. */
	ctrl->has_host = !ss->is_discovery && nvb_host_id_nvme(&ctrl->host, hostid, cntlid) == 0;
	atomic_init(&ctrl->cc, 0);
	atomic_init(&ctrl->csts, 0);
	atomic_init(&ctrl->vwc_enabled, true);
	atomic_init(&ctrl->kato_ms, nvmet_ctrl_kato(ctrl, kato_ms));
	atomic_init(&ctrl->traffic, false);
	/* The Linux nvmet default: optional notices enabled until the host
	 * says otherwise (it sets them anyway from OAES). */
	ctrl->aen_enabled = ctrl->discovery ? 0 : (NVME_CTRL_OAES_NA | NVME_CTRL_OAES_ANA);
	ctrl->nr_io_queues = ctrl->discovery ? 0 : NVMET_MAX_QUEUES;
	ctrl->admin_sq = sq;
	ctrl->sqs[0] = sq;
	ctrl->refs = 1;         /* the admin queue's */

	ctrl->ka_tick.fn = nvmet_ka_tick;
	nvmet_ctrl_restart_keep_alive(ctrl);
	nvb_reactor_add_tick(sq->reactor, &ctrl->ka_tick);

	pthread_mutex_lock(&nvmet_lock);
	ctrl->next = nvmet_ctrls;
	nvmet_ctrls = ctrl;
	pthread_mutex_unlock(&nvmet_lock);

	nvb_info("controller %u (%s) created for %s on port %u, keep-alive %u ms",
		 ctrl->cntlid, ctrl->hostnqn, ss->nqn, (unsigned)ctrl->port->conf.id,
		 (unsigned)atomic_load(&ctrl->kato_ms));
	return ctrl;
}

struct nvmet_ctrl *nvmet_ctrl_find_get(struct nvb_subsys *ss, struct nvb_port *port,
				       uint16_t cntlid)
{
	struct nvmet_ctrl *ctrl;

	pthread_mutex_lock(&nvmet_lock);
	for (ctrl = nvmet_ctrls; ctrl; ctrl = ctrl->next)
		if (ctrl->subsys == ss && ctrl->cntlid == cntlid && ctrl->port == port &&
		    !ctrl->dead)
			break;
	if (ctrl)
		ctrl->refs++;
	pthread_mutex_unlock(&nvmet_lock);
	return ctrl;
}

void nvmet_ctrl_put(struct nvmet_ctrl *ctrl)
{
	bool last;

	pthread_mutex_lock(&nvmet_lock);
	last = --ctrl->refs == 0;
	if (last) {
		for (struct nvmet_ctrl **pp = &nvmet_ctrls; *pp; pp = &(*pp)->next) {
			if (*pp == ctrl) {
				*pp = ctrl->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&nvmet_lock);
	if (!last)
		return;
	/* Outside nvmet_lock: the subsystem lock is never taken under it. */
	nvb_subsys_free_cntlid(ctrl->subsys, ctrl->cntlid);
	nvb_debug("controller %u (%s) freed", ctrl->cntlid, ctrl->hostnqn);
	free(ctrl);
}

void nvmet_ctrl_kill(struct nvmet_ctrl *ctrl, const char *why)
{
	if (why)
		nvb_info("controller %u (%s): %s", ctrl->cntlid, ctrl->hostnqn, why);
	pthread_mutex_lock(&nvmet_lock);
	ctrl->refs++;           /* in case a queue goes away inside kill() */
	ctrl->dead = true;
	for (int qid = 0; qid <= NVMET_MAX_QUEUES; qid++)
		if (ctrl->sqs[qid])
			ctrl->sqs[qid]->ops->kill(ctrl->sqs[qid]);
	pthread_mutex_unlock(&nvmet_lock);
	nvmet_ctrl_put(ctrl);
}

void nvmet_sq_destroy(struct nvmet_sq *sq)
{
	struct nvmet_ctrl *ctrl = sq->ctrl;

	if (!ctrl)
		return;
	if (sq->qid)
		nvmet_io_fused_drop(sq);
	sq->ctrl = NULL;
	pthread_mutex_lock(&nvmet_lock);
	if (ctrl->sqs[sq->qid] == sq) {
		ctrl->sqs[sq->qid] = NULL;
		if (sq->qid)
			ctrl->nr_io_sqs--;
	}
	pthread_mutex_unlock(&nvmet_lock);

	if (sq->qid == 0) {
		/* We run on the admin reactor: stop the timer, forget the held
		 * AERs (the transport frees them), and end the association —
		 * I/O queues cannot outlive their admin queue. */
		nvb_reactor_del_tick(sq->reactor, &ctrl->ka_tick);
		ctrl->aers = NULL;
		ctrl->naers = 0;
		ctrl->admin_sq = NULL;
		nvb_info("controller %u (%s) disconnected", ctrl->cntlid, ctrl->hostnqn);
		/* Off the reactors (the transport's final cleanup, reactors
		 * stopped) every queue is being released anyway, and a kill
		 * message could never run. */
		if (nvb_reactor_current()) {
			nvmet_ctrl_kill(ctrl, NULL);
		} else {
			pthread_mutex_lock(&nvmet_lock);
			ctrl->dead = true;
			pthread_mutex_unlock(&nvmet_lock);
		}
	}
	nvmet_ctrl_put(ctrl);
}

/* ---- asynchronous events (admin reactor) ------------------------------ */

static const struct {
	uint32_t aec_bit;       /* Set Features 0Bh enable bit = OAES bit */
	uint8_t info;           /* Asynchronous Event Information (Notice) */
	uint8_t log_page;
} nvmet_events[NVMET_NR_EVENTS] = {
	[NVMET_EVENT_NS_ATTR] = { NVME_CTRL_OAES_NA, 0x00, NVME_LOG_LID_CHANGED_NS },
	[NVMET_EVENT_ANA]     = { NVME_CTRL_OAES_ANA, 0x03, NVME_LOG_LID_ANA },
};

/* NVMe 2.0 §5.2: complete outstanding AERs with queued events, oldest first. */
static void nvmet_events_deliver(struct nvmet_ctrl *ctrl)
{
	while (ctrl->nevents && ctrl->aers) {
		struct nvmet_req *req = ctrl->aers;
		enum nvmet_event ev = (enum nvmet_event)ctrl->event_queue[0];

		ctrl->aers = req->aer_next;
		ctrl->naers--;
		memmove(ctrl->event_queue, ctrl->event_queue + 1, (size_t)--ctrl->nevents);
		req->rsp.result.u32 = htole32((uint32_t)NVME_AER_NOTICE |
					      (uint32_t)nvmet_events[ev].info << 8 |
					      (uint32_t)nvmet_events[ev].log_page << 16);
		nvmet_req_complete(req, NVB_OK);
	}
}

/* Raise an event unless the host disabled it or has not yet read the log
 * page of the previous one: until then that event type stays masked and
 * the log page itself carries the news. */
static void nvmet_event_raise(struct nvmet_ctrl *ctrl, enum nvmet_event ev)
{
	if (!(ctrl->aen_enabled & nvmet_events[ev].aec_bit))
		return;
	if (ctrl->event_masked & (1u << ev))
		return;
	ctrl->event_masked |= 1u << ev;
	ctrl->event_queue[ctrl->nevents++] = (uint8_t)ev;
	nvmet_events_deliver(ctrl);
}

void nvmet_event_log_read(struct nvmet_ctrl *ctrl, enum nvmet_event ev)
{
	ctrl->event_masked &= ~(1u << ev);
}

void nvmet_aer_submit(struct nvmet_req *req)
{
	struct nvmet_ctrl *ctrl = req->sq->ctrl;
	struct nvmet_req **pp;

	if (ctrl->naers >= NVMET_MAX_AERS) {
		nvmet_req_complete(req, NVB_SC(NVME_SCT_CMD_SPECIFIC, NVME_SC_ASYNC_LIMIT) | NVB_DNR);
		return;
	}
	req->aer_next = NULL;
	for (pp = &ctrl->aers; *pp; pp = &(*pp)->aer_next)
		;
	*pp = req;
	ctrl->naers++;
	nvmet_events_deliver(ctrl);
}

/* Keep the changed-namespace list (log 04h) sorted and unique; past 1024
 * entries it degrades to "everything changed" (NVMe 2.0 §5.16.1.5). */
static void nvmet_changed_ns_add(struct nvmet_ctrl *ctrl, uint32_t nsid)
{
	int i;

	if (ctrl->changed_ns_overflow)
		return;
	for (i = 0; i < ctrl->nr_changed_ns && ctrl->changed_ns[i] < nsid; i++)
		;
	if (i < ctrl->nr_changed_ns && ctrl->changed_ns[i] == nsid)
		return;
	if (ctrl->nr_changed_ns == NVMET_MAX_CHANGED_NS) {
		ctrl->changed_ns_overflow = true;
		return;
	}
	memmove(&ctrl->changed_ns[i + 1], &ctrl->changed_ns[i],
		(size_t)(ctrl->nr_changed_ns - i) * sizeof(ctrl->changed_ns[0]));
	ctrl->changed_ns[i] = nsid;
	ctrl->nr_changed_ns++;
}

struct nvmet_event_msg {
	struct nvmet_ctrl *ctrl;        /* holds a reference */
	enum nvmet_event ev;
	uint32_t nsid;
};

static void nvmet_event_msg_run(void *arg)
{
	struct nvmet_event_msg *msg = arg;
	struct nvmet_ctrl *ctrl = msg->ctrl;

	if (ctrl->admin_sq) {
		if (msg->ev == NVMET_EVENT_NS_ATTR)
			nvmet_changed_ns_add(ctrl, msg->nsid);
		nvmet_event_raise(ctrl, msg->ev);
	}
	nvmet_ctrl_put(ctrl);
	free(msg);
}

/* References to the live controllers of `ss` (every subsystem when NULL),
 * I/O controllers only unless `with_discovery`. Caller puts each and frees. */
static struct nvmet_ctrl **nvmet_ctrl_snapshot(struct nvb_subsys *ss, bool with_discovery,
					       int *count)
{
	struct nvmet_ctrl **v = NULL, *ctrl;
	int n = 0, cap = 0;

	pthread_mutex_lock(&nvmet_lock);
	for (ctrl = nvmet_ctrls; ctrl; ctrl = ctrl->next)
		cap++;
	if (cap)
		v = calloc((size_t)cap, sizeof(*v));
	for (ctrl = nvmet_ctrls; v && ctrl; ctrl = ctrl->next) {
		if (ctrl->dead || (ss && ctrl->subsys != ss) ||
		    (ctrl->discovery && !with_discovery))
			continue;
		ctrl->refs++;
		v[n++] = ctrl;
	}
	pthread_mutex_unlock(&nvmet_lock);
	if (cap && !v)
		nvb_err("nvmet: out of memory walking controllers");
	*count = n;
	return v;
}

static void nvmet_post_event(struct nvb_subsys *ss, enum nvmet_event ev, uint32_t nsid)
{
	int n;
	struct nvmet_ctrl **v = nvmet_ctrl_snapshot(ss, false, &n);

	for (int i = 0; i < n; i++) {
		struct nvmet_event_msg *msg = malloc(sizeof(*msg));

		if (!msg) {
			nvb_err("controller %u: out of memory, event lost", v[i]->cntlid);
			nvmet_ctrl_put(v[i]);
			continue;
		}
		msg->ctrl = v[i];       /* the snapshot's reference moves here */
		msg->ev = ev;
		msg->nsid = nsid;
		nvb_reactor_post(v[i]->admin_reactor, nvmet_event_msg_run, msg);
	}
	free(v);
}

static void nvmet_drop_denied_hosts(struct nvb_subsys *ss)
{
	int n;
	struct nvmet_ctrl **v = nvmet_ctrl_snapshot(ss, false, &n);

	for (int i = 0; i < n; i++) {
		if (!nvb_subsys_host_allowed(ss, v[i]->hostnqn))
			nvmet_ctrl_kill(v[i], "host no longer allowed");
		nvmet_ctrl_put(v[i]);
	}
	free(v);
}

/* Target changes, on the control thread. */
static void nvmet_on_target_event(struct nvb_listener *l, enum nvb_event ev,
				  struct nvb_subsys *ss, uint32_t arg)
{
	switch (ev) {
	case NVB_EV_NS_CHANGED:
		nvmet_post_event(ss, NVMET_EVENT_NS_ATTR, arg);
		break;
	case NVB_EV_ANA_CHANGED:
		/* Every controller on every port: a group's state shows in
		 * every controller's ANA log page. */
		nvmet_post_event(NULL, NVMET_EVENT_ANA, 0);
		break;
	case NVB_EV_HOSTS_CHANGED:
		nvmet_discovery_changed();
		nvmet_drop_denied_hosts(ss);
		break;
	}
}

static struct nvb_listener nvmet_listener = { .fn = nvmet_on_target_event };
static bool nvmet_listening;

int nvmet_core_init(void)
{
	if (!nvmet_listening) {
		nvb_target_listen(&nvmet_listener);
		nvmet_listening = true;
	}
	return 0;
}

void nvmet_core_exit(void)
{
	if (nvmet_listening) {
		nvb_target_unlisten(&nvmet_listener);
		nvmet_listening = false;
	}
}

void nvmet_core_kill_all(void)
{
	int n;
	struct nvmet_ctrl **v = nvmet_ctrl_snapshot(NULL, true, &n);

	for (int i = 0; i < n; i++) {
		nvmet_ctrl_kill(v[i], "shutting down");
		nvmet_ctrl_put(v[i]);
	}
	free(v);
}

/* ---- control socket --------------------------------------------------- */

static struct json_object *nvmet_stats_json(const struct nvb_io_stats *st)
{
	struct json_object *o = json_object_new_object();
	uint64_t cmds = st->reads + st->writes + st->others;

	json_object_object_add(o, "reads", json_object_new_uint64(st->reads));
	json_object_object_add(o, "writes", json_object_new_uint64(st->writes));
	json_object_object_add(o, "others", json_object_new_uint64(st->others));
	json_object_object_add(o, "read_bytes", json_object_new_uint64(st->read_bytes));
	json_object_object_add(o, "write_bytes", json_object_new_uint64(st->write_bytes));
	json_object_object_add(o, "errors", json_object_new_uint64(st->errors));
	json_object_object_add(o, "avg_latency_us",
			       json_object_new_double(cmds ? (double)st->lat_ns_total / cmds / 1000.0
							   : 0.0));
	return o;
}

static struct json_object *nvmet_ctrl_json(const struct nvmet_ctrl *ctrl)
{
	struct json_object *o = json_object_new_object();
	struct json_object *queues = json_object_new_array();
	const struct nvb_port_conf *pc = &ctrl->port->conf;
	const uint8_t *h = ctrl->hostid;
	char buf[256];

	json_object_object_add(o, "cntlid", json_object_new_int(ctrl->cntlid));
	json_object_object_add(o, "type", json_object_new_string(ctrl->discovery ? "discovery"
										    : "io"));
	json_object_object_add(o, "subsystem", json_object_new_string(ctrl->subsys->nqn));
	json_object_object_add(o, "hostnqn", json_object_new_string(ctrl->hostnqn));
	snprintf(buf, sizeof(buf),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11],
		 h[12], h[13], h[14], h[15]);
	json_object_object_add(o, "hostid", json_object_new_string(buf));
	json_object_object_add(o, "port", json_object_new_int(pc->id));
	snprintf(buf, sizeof(buf), pc->family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 pc->addr ? pc->addr : "", pc->svcid ? pc->svcid : "");
	json_object_object_add(o, "address", json_object_new_string(buf));
	json_object_object_add(o, "io_queues", json_object_new_int(ctrl->nr_io_sqs));
	json_object_object_add(o, "kato_ms",
			       json_object_new_int64(atomic_load(&ctrl->kato_ms)));
	for (int qid = 0; qid <= NVMET_MAX_QUEUES; qid++) {
		const struct nvmet_sq *sq = ctrl->sqs[qid];
		struct json_object *q;

		if (!sq)
			continue;
		q = json_object_new_object();
		json_object_object_add(q, "qid", json_object_new_int(qid));
		json_object_object_add(q, "size", json_object_new_int(sq->size));
		json_object_object_add(q, "reactor",
				       json_object_new_int(nvb_reactor_index(sq->reactor)));
		if (sq->ops->describe) {
			buf[0] = '\0';
			sq->ops->describe((struct nvmet_sq *)sq, buf, sizeof(buf));
			json_object_object_add(q, "connection", json_object_new_string(buf));
		}
		json_object_object_add(q, "stats", nvmet_stats_json(&sq->stats));
		json_object_array_add(queues, q);
	}
	json_object_object_add(o, "queues", queues);
	return o;
}

void nvmet_core_list(struct json_object *out)
{
	pthread_mutex_lock(&nvmet_lock);
	for (struct nvmet_ctrl *ctrl = nvmet_ctrls; ctrl; ctrl = ctrl->next)
		if (!ctrl->dead)
			json_object_array_add(out, nvmet_ctrl_json(ctrl));
	pthread_mutex_unlock(&nvmet_lock);
}

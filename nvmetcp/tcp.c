/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP queue lifecycle: set-up on a reactor, the request pool, the
 * ICReq/Connect deadlines, the core's kill and completion hooks, closing
 * and teardown.
 *
 * A queue is closed in two steps. nvmetcp_queue_close() stops receiving
 * and shuts the socket down (after a C2HTermReq has been sent, if any).
 * Teardown then waits until no receive, no send and no command with the
 * core (held AERs aside: nvmet_sq_destroy() drops those) is outstanding,
 * because the executor and the kernel still point into our requests and
 * buffers until then; it runs from a posted message so that it never
 * frees a queue under a caller's feet.
 */
#include "nvmetcp/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/bufpool.h"
#include "bridge/log.h"

/* Per-reactor state: written by its reactor only; counters read by the
 * control thread (relaxed atomics, single writer: no locked instructions). */
struct nvmetcp_reactor_state {
	struct nvmetcp_queue *queues;
	struct nvmetcp_queue *timed;
	struct nvb_tick tick;
	bool tick_added;
	_Atomic long inflight;
	_Atomic long nqueues;
} __attribute__((aligned(64)));

static struct nvmetcp_reactor_state rstates[NVB_MAX_REACTORS];
static atomic_bool stopping;

static struct nvmetcp_reactor_state *rstate(const struct nvmetcp_queue *q)
{
	return &rstates[q->rindex];
}

static void counter_add(_Atomic long *c, long delta)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

/* ---- timed list: queues with a deadline (ICReq, Connect, linger) ---- */

static void timed_del(struct nvmetcp_queue *q)
{
	struct nvmetcp_reactor_state *rs = rstate(q);

	if (!q->timed)
		return;
	if (q->tprev)
		q->tprev->tnext = q->tnext;
	else
		rs->timed = q->tnext;
	if (q->tnext)
		q->tnext->tprev = q->tprev;
	q->tprev = q->tnext = NULL;
	q->timed = false;
}

static void timed_set(struct nvmetcp_queue *q, uint64_t timeout_ms)
{
	struct nvmetcp_reactor_state *rs = rstate(q);

	q->deadline_ms = nvb_now_ms() + timeout_ms;
	if (q->timed)
		return;
	q->tprev = NULL;
	q->tnext = rs->timed;
	if (rs->timed)
		rs->timed->tprev = q;
	rs->timed = q;
	q->timed = true;
}

static void reactor_tick(struct nvb_tick *t, uint64_t now_ms)
{
	struct nvmetcp_reactor_state *rs = container_of(t, struct nvmetcp_reactor_state, tick);
	struct nvmetcp_queue *q, *next;

	for (q = rs->timed; q; q = next) {
		next = q->tnext;
		if (now_ms < q->deadline_ms)
			continue;
		timed_del(q);
		switch (q->state) {
		case NVMETCP_Q_WAIT_ICREQ:
			nvmetcp_queue_close(q, "no ICReq in time");
			break;
		case NVMETCP_Q_WAIT_CONNECT:
			nvmetcp_queue_close(q, "no Connect in time");
			break;
		default:
			/* A C2HTermReq the peer does not read: give up on it. */
			nvmetcp_queue_close(q, "termination request not taken");
			break;
		}
	}
}

/* ---- set-up ---- */

static void queue_kill_msg(void *arg);
static void req_complete(struct nvmet_req *req);

/* nvmet_sq_ops.kill: from any thread; the queue lives until the message ran. */
static void queue_kill(struct nvmet_sq *sq)
{
	struct nvmetcp_queue *q = container_of(sq, struct nvmetcp_queue, sq);

	atomic_fetch_add(&q->kill_refs, 1);
	nvb_reactor_post(q->reactor, queue_kill_msg, q);
}

static void queue_describe(struct nvmet_sq *sq, char *buf, size_t len)
{
	struct nvmetcp_queue *q = container_of(sq, struct nvmetcp_queue, sq);

	snprintf(buf, len, "%s", q->desc);
}

static const struct nvmet_sq_ops queue_sq_ops = {
	.kill = queue_kill,
	.describe = queue_describe,
};

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		snprintf(buf, len, "?");
	}
}

static void queue_describe_init(struct nvmetcp_queue *q)
{
	struct sockaddr_storage local = { 0 }, peer = { 0 };
	socklen_t llen = sizeof(local), plen = sizeof(peer);
	char l[60], p[60];

	if (getsockname(q->fd, (struct sockaddr *)&local, &llen) < 0)
		local.ss_family = AF_UNSPEC;
	if (getpeername(q->fd, (struct sockaddr *)&peer, &plen) < 0)
		peer.ss_family = AF_UNSPEC;
	format_addr(&local, l, sizeof(l));
	format_addr(&peer, p, sizeof(p));
	snprintf(q->desc, sizeof(q->desc), "%s <- %s", l, p);
}

static void req_init(struct nvmetcp_queue *q, struct nvmetcp_req *r, uint16_t ttag)
{
	r->q = q;
	r->ttag = ttag;
	r->state = NVMETCP_REQ_FREE;
	r->req.sq = &q->sq;
	r->req.iov = &r->iov;
	r->req.complete = req_complete;
	r->next = q->free_reqs;
	q->free_reqs = r;
}

static void queue_setup(void *arg)
{
	struct nvmetcp_queue *q = arg;
	struct nvmetcp_reactor_state *rs = rstate(q);
	struct nvb_port *port = q->sq.port;

	if (atomic_load(&stopping)) {
		close(q->fd);
		free(q);
		return;
	}
	queue_describe_init(q);
	nvmet_sq_init(&q->sq, &queue_sq_ops, port, q->reactor);
	for (int i = NVMETCP_BOOT_REQS - 1; i >= 0; i--)
		req_init(q, &q->boot[i], (uint16_t)i);
	q->r2t_wait_tail = &q->r2t_wait;
	nvmetcp_tx_init(q);

	q->next = rs->queues;
	if (rs->queues)
		rs->queues->prev = q;
	rs->queues = q;
	counter_add(&rs->nqueues, 1);
	if (!rs->tick_added) {
		rs->tick.fn = reactor_tick;
		nvb_reactor_add_tick(q->reactor, &rs->tick);
		rs->tick_added = true;
	}

	q->state = NVMETCP_Q_WAIT_ICREQ;
	timed_set(q, NVMETCP_ICREQ_TIMEOUT_MS);
	nvb_debug("nvmetcp: %s: connected", q->desc);
	nvmetcp_rx_start(q);
}

void nvmetcp_queue_accepted(int fd, struct nvb_port *port, struct nvb_reactor *r)
{
	struct nvmetcp_queue *q = calloc(1, sizeof(*q));

	if (!q) {
		nvb_warn("nvmetcp: out of memory accepting a connection");
		close(fd);
		return;
	}
	q->fd = fd;
	q->reactor = r;
	q->rindex = nvb_reactor_index(r);
	q->sq.port = port;              /* nvmet_sq_init sets it for good */
	atomic_init(&q->kill_refs, 0);
	nvb_reactor_post(r, queue_setup, q);
}

void nvmetcp_queue_established(struct nvmetcp_queue *q)
{
	q->state = NVMETCP_Q_WAIT_CONNECT;
	timed_set(q, NVMETCP_CONNECT_TIMEOUT_MS);
}

/* Fabrics Connect succeeded: size the request pool, leave the timed list. */
static void queue_connected(struct nvmetcp_queue *q)
{
	uint32_t n = q->sq.size;

	if (q->state != NVMETCP_Q_WAIT_CONNECT)
		return;
	q->state = NVMETCP_Q_LIVE;
	timed_del(q);
	/* The host may have sq.size commands outstanding (with SQ flow control
	 * disabled, all of them); the boot requests give a little slack for
	 * responses whose send completion we have not seen yet. */
	if (n < 1)
		n = 1;
	if (n > NVMET_MAX_QSIZE)
		n = NVMET_MAX_QSIZE;
	q->reqs = calloc(n, sizeof(*q->reqs));
	if (!q->reqs) {
		nvmetcp_queue_close(q, "out of memory for the request pool");
		return;
	}
	q->nreqs = n;
	for (uint32_t i = n; i-- > 0;)
		req_init(q, &q->reqs[i], (uint16_t)(NVMETCP_BOOT_REQS + i));
}

/* ---- requests ---- */

struct nvmetcp_req *nvmetcp_req_get(struct nvmetcp_queue *q)
{
	struct nvmetcp_req *r = q->free_reqs;

	if (!r)
		return NULL;
	q->free_reqs = r->next;
	r->next = NULL;
	r->state = NVMETCP_REQ_NEW;
	r->dir = NVB_XFER_NONE;
	r->held = false;
	r->ddgst_bad = false;
	r->h2c_rcvd = 0;
	r->req.iovcnt = 0;
	r->req.data_len = 0;
	r->req.xfer_len = 0;
	r->req.aer_next = NULL;
	memset(&r->req.rsp, 0, sizeof(r->req.rsp));
	return r;
}

struct nvmetcp_req *nvmetcp_req_by_ttag(struct nvmetcp_queue *q, uint16_t ttag)
{
	if (ttag < NVMETCP_BOOT_REQS)
		return &q->boot[ttag];
	if ((uint32_t)(ttag - NVMETCP_BOOT_REQS) < q->nreqs)
		return &q->reqs[ttag - NVMETCP_BOOT_REQS];
	return NULL;
}

void *nvmetcp_req_buf(struct nvmetcp_req *r, size_t len)
{
	r->buf = nvb_buf_get(r->q->reactor, len);
	if (!r->buf)
		return NULL;
	r->buf_len = len;
	r->iov.iov_base = r->buf;
	r->iov.iov_len = len;
	r->req.iovcnt = 1;
	return r->buf;
}

static void req_release_buf(struct nvmetcp_req *r, struct nvb_reactor *pool)
{
	if (!r->buf)
		return;
	nvb_buf_put(pool, r->buf, r->buf_len);
	r->buf = NULL;
	r->buf_len = 0;
}

void nvmetcp_req_put(struct nvmetcp_req *r)
{
	struct nvmetcp_queue *q = r->q;

	req_release_buf(r, q->reactor);
	r->state = NVMETCP_REQ_FREE;
	r->next = q->free_reqs;
	q->free_reqs = r;
	if (q->rx_stalled)
		nvmetcp_rx_resume(q);
}

void nvmetcp_req_execute(struct nvmetcp_req *r)
{
	struct nvmetcp_queue *q = r->q;

	r->state = NVMETCP_REQ_EXEC;
	/* NVMe 2.0 §5.2: an AER stays outstanding until an event occurs. */
	r->held = q->sq.qid == 0 && r->req.cmd.opcode == nvme_admin_async_event;
	if (!r->held) {
		q->exec++;
		counter_add(&rstate(q)->inflight, 1);
	}
	nvmet_req_execute(&r->req);
}

void nvmetcp_req_reject(struct nvmetcp_req *r, nvb_status status)
{
	r->state = NVMETCP_REQ_NEW;
	nvmet_req_complete(&r->req, status);
}

static bool is_connect(const struct nvb_sqe *cmd)
{
	const struct nvb_fabrics_cmd *f = (const struct nvb_fabrics_cmd *)cmd;

	return f->opcode == NVB_FABRICS_OPCODE && f->fctype == nvme_fabrics_type_connect;
}

/* req->complete: the core finished a command (on the queue's reactor). */
static void req_complete(struct nvmet_req *req)
{
	struct nvmetcp_req *r = container_of(req, struct nvmetcp_req, req);
	struct nvmetcp_queue *q = r->q;

	if (r->state == NVMETCP_REQ_EXEC && !r->held) {
		q->exec--;
		counter_add(&rstate(q)->inflight, -1);
	}
	if (q->state == NVMETCP_Q_CLOSING) {
		r->state = NVMETCP_REQ_DEAD;
		nvmetcp_queue_maybe_teardown(q);
		return;
	}
	/* The core sets sq.size and sq.ctrl during a successful Connect. */
	if (q->state == NVMETCP_Q_WAIT_CONNECT && is_connect(&req->cmd) &&
	    (le16toh(req->rsp.status) >> 1 & 0x7ff) == 0 && q->sq.ctrl) {
		queue_connected(q);
		if (q->state == NVMETCP_Q_CLOSING) {
			r->state = NVMETCP_REQ_DEAD;
			return;
		}
	}
	nvmetcp_send_response(r);
}

/* ---- closing and teardown ---- */

void nvmetcp_queue_close(struct nvmetcp_queue *q, const char *why)
{
	if (q->state == NVMETCP_Q_CLOSING) {
		/* Again (kill, linger expired): stop waiting for the peer. */
		shutdown(q->fd, SHUT_RDWR);
		timed_del(q);
		return;
	}
	if (why)
		nvb_info("nvmetcp: %s: closing: %s", q->desc, why);
	q->state = NVMETCP_Q_CLOSING;
	if (q->term_queued) {
		/* Let the C2HTermReq go out first, but not for ever. */
		timed_set(q, NVMETCP_LINGER_MS);
	} else {
		timed_del(q);
		/* Wakes a pending receive (returns 0) and fails pending sends. */
		shutdown(q->fd, SHUT_RDWR);
	}
	nvmetcp_queue_maybe_teardown(q);
}

static bool queue_quiet(const struct nvmetcp_queue *q)
{
	return q->state == NVMETCP_Q_CLOSING && !q->rx_inflight && !q->tx_inflight &&
	       q->exec == 0;
}

/* Free what the queue owns; `pool` is where buffers go (NULL: free them). */
static void queue_free_resources(struct nvmetcp_queue *q, struct nvb_reactor *pool)
{
	for (int i = 0; i < NVMETCP_BOOT_REQS; i++)
		req_release_buf(&q->boot[i], pool);
	for (uint32_t i = 0; i < q->nreqs; i++)
		req_release_buf(&q->reqs[i], pool);
	free(q->reqs);
	q->reqs = NULL;
	q->nreqs = 0;
	if (q->rx.stage && q->rx.stage != q->stage_small)
		nvb_buf_put(pool, q->rx.stage, NVMETCP_STAGE_BIG);
	q->rx.stage = NULL;
	free(q->ctl_pdu);
	q->ctl_pdu = NULL;
}

static void queue_unlink(struct nvmetcp_queue *q)
{
	struct nvmetcp_reactor_state *rs = rstate(q);

	timed_del(q);
	if (q->prev)
		q->prev->next = q->next;
	else
		rs->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	counter_add(&rs->nqueues, -1);
}

static void queue_teardown_msg(void *arg)
{
	struct nvmetcp_queue *q = arg;

	q->teardown_posted = false;
	if (q->torn_down || !queue_quiet(q))
		return;
	q->torn_down = true;
	queue_unlink(q);
	/* Drops the controller reference and any AER the core still holds. */
	nvmet_sq_destroy(&q->sq);
	close(q->fd);
	q->fd = -1;
	queue_free_resources(q, q->reactor);
	nvb_debug("nvmetcp: %s: freed", q->desc);
	/* A kill posted before nvmet_sq_destroy may still be on its way. */
	if (atomic_load(&q->kill_refs) == 0)
		free(q);
}

void nvmetcp_queue_maybe_teardown(struct nvmetcp_queue *q)
{
	if (q->teardown_posted || q->torn_down || !queue_quiet(q))
		return;
	q->teardown_posted = true;
	nvb_reactor_post(q->reactor, queue_teardown_msg, q);
}

static void queue_kill_msg(void *arg)
{
	struct nvmetcp_queue *q = arg;

	/* The core logs why (keep-alive, disconnect, denied host). */
	if (!q->torn_down)
		nvmetcp_queue_close(q, NULL);
	if (atomic_fetch_sub(&q->kill_refs, 1) == 1 && q->torn_down)
		free(q);
}

/* ---- control thread: drain and shutdown ---- */

void nvmetcp_set_stopping(bool on)
{
	atomic_store(&stopping, on);
}

bool nvmetcp_stopping(void)
{
	return atomic_load_explicit(&stopping, memory_order_relaxed);
}

static void kill_all_msg(void *arg)
{
	struct nvmetcp_reactor_state *rs = &rstates[nvb_reactor_index(nvb_reactor_current())];

	for (struct nvmetcp_queue *q = rs->queues; q; q = q->next)
		nvmetcp_queue_close(q, NULL);
}

void nvmetcp_kill_all(void)
{
	for (int i = 0; i < nvb_reactor_count(); i++)
		nvb_reactor_post(nvb_reactor_at(i), kill_all_msg, NULL);
}

long nvmetcp_inflight(void)
{
	long n = 0;

	for (int i = 0; i < NVB_MAX_REACTORS; i++)
		n += atomic_load_explicit(&rstates[i].inflight, memory_order_relaxed);
	return n;
}

long nvmetcp_queue_count(void)
{
	long n = 0;

	for (int i = 0; i < NVB_MAX_REACTORS; i++)
		n += atomic_load_explicit(&rstates[i].nqueues, memory_order_relaxed);
	return n;
}

/* Reactors are stopped: nothing runs any more, so whatever a bounded drain
 * left behind can be released from here. */
void nvmetcp_queues_cleanup(void)
{
	for (int i = 0; i < NVB_MAX_REACTORS; i++) {
		struct nvmetcp_reactor_state *rs = &rstates[i];
		struct nvmetcp_queue *q;

		while ((q = rs->queues)) {
			nvb_warn("nvmetcp: %s: still open at exit", q->desc);
			queue_unlink(q);
			nvmet_sq_destroy(&q->sq);
			if (q->fd >= 0)
				close(q->fd);
			queue_free_resources(q, NULL);
			free(q);
		}
		memset(rs, 0, sizeof(*rs));
	}
	atomic_store(&stopping, false);
}

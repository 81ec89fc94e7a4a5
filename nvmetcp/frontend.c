/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP front end: one listening socket per configured port,
 * accepted on reactor 0 with io_uring (multishot when the kernel has it),
 * each new connection handed round-robin to a reactor so that the queues of
 * one controller spread over the reactors; plus drain and shutdown.
 */
#include "nvmetcp/tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"

#define ACCEPT_BACKLOG    1024
#define ACCEPT_BACKOFF_MS 100
#define DRAIN_WAIT_MS     10000
#define TEARDOWN_WAIT_MS  5000

struct listener {
	struct nvb_port *port;
	int fd;
	bool multishot;
	bool armed;                     /* an accept (or poll) is in the ring */
	bool backoff;                   /* a backoff timer is in the ring */
	bool stopped;
	bool emfile_logged;
	struct nvb_uring_op accept_op;
	struct nvb_uring_op poll_op;
	struct nvb_uring_op timer_op;
	struct __kernel_timespec backoff_ts;
};

static struct listener *listeners;
static int nlisteners;
static unsigned next_reactor;           /* reactor 0 only */

static void listener_arm(struct listener *l);

static struct nvb_reactor *accept_reactor(void)
{
	return nvb_reactor_at(0);
}

static void accepted(struct listener *l, int fd)
{
	int one = 1, n = nvb_reactor_count();
	struct nvb_reactor *r;

	if (l->stopped) {
		close(fd);
		return;
	}
	/* Small PDUs (responses, R2Ts) must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = nvb_reactor_at(n > 0 ? (int)(next_reactor++ % (unsigned)n) : 0);
	nvmetcp_queue_accepted(fd, l->port, r ? r : accept_reactor());
}

/* Retry accepting a little later; connections wait in the backlog. */
static void listener_backoff(struct listener *l)
{
	struct io_uring_sqe *sqe;

	if (l->armed || l->stopped || l->backoff)
		return;
	sqe = nvb_reactor_sqe(accept_reactor());
	l->backoff_ts.tv_sec = 0;
	l->backoff_ts.tv_nsec = ACCEPT_BACKOFF_MS * 1000000ll;
	io_uring_prep_timeout(sqe, &l->backoff_ts, 0, 0);
	nvb_sqe_set_op(sqe, &l->timer_op);
	l->backoff = true;
}

/* A kernel that hands a non-blocking listener's EAGAIN back to us: wait for
 * a connection with a poll, then accept again. */
static void listener_poll(struct listener *l)
{
	struct io_uring_sqe *sqe;

	if (l->armed || l->stopped)
		return;
	sqe = nvb_reactor_sqe(accept_reactor());
	io_uring_prep_poll_add(sqe, l->fd, POLLIN);
	nvb_sqe_set_op(sqe, &l->poll_op);
	l->armed = true;
}

static void accept_done(struct nvb_uring_op *op, int res, uint32_t cqe_flags)
{
	struct listener *l = container_of(op, struct listener, accept_op);

	if (!(cqe_flags & IORING_CQE_F_MORE))
		l->armed = false;
	if (res >= 0) {
		l->emfile_logged = false;
		accepted(l, res);
		listener_arm(l);
		return;
	}
	switch (-res) {
	case ECANCELED:
		return;
	case EAGAIN:
		listener_poll(l);
		return;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		/* Out of descriptors: say so once, keep serving who we have. */
		if (!l->emfile_logged)
			nvb_warn("nvmetcp: port %u: accept: %s; backing off",
				 l->port->conf.id, strerror(-res));
		l->emfile_logged = true;
		listener_backoff(l);
		return;
	case EINVAL:
		if (l->multishot) {
			/* No multishot accept in this kernel: one at a time. */
			l->multishot = false;
			break;
		}
		/* fall through */
	default:
		/* Unexpected: do not spin on it. */
		nvb_warn("nvmetcp: port %u: accept: %s", l->port->conf.id, strerror(-res));
		listener_backoff(l);
		return;
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:
		break;
	}
	listener_arm(l);
}

static void poll_done(struct nvb_uring_op *op, int res, uint32_t cqe_flags)
{
	struct listener *l = container_of(op, struct listener, poll_op);

	l->armed = false;
	listener_arm(l);
}

static void backoff_done(struct nvb_uring_op *op, int res, uint32_t cqe_flags)
{
	struct listener *l = container_of(op, struct listener, timer_op);

	l->backoff = false;
	if (!l->armed)
		listener_arm(l);
}

/* Reactor 0. */
static void listener_arm(struct listener *l)
{
	struct io_uring_sqe *sqe;

	if (l->stopped || l->armed || l->backoff)
		return;
	sqe = nvb_reactor_sqe(accept_reactor());
	if (l->multishot)
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	nvb_sqe_set_op(sqe, &l->accept_op);
	l->armed = true;
}

static void listeners_arm_msg(void *arg)
{
	for (int i = 0; i < nlisteners; i++)
		listener_arm(&listeners[i]);
}

static void cancel_op(struct nvb_uring_op *op)
{
	struct io_uring_sqe *sqe = nvb_reactor_sqe(accept_reactor());

	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

/* Reactor 0: cancel the accepts and close the sockets. The listener structs
 * stay until cleanup, as the cancelled operations still point at them. */
static void listeners_stop_msg(void *arg)
{
	for (int i = 0; i < nlisteners; i++) {
		struct listener *l = &listeners[i];

		if (l->stopped)
			continue;
		l->stopped = true;
		if (l->armed) {
			cancel_op(&l->accept_op);
			cancel_op(&l->poll_op);
		}
		if (l->backoff)
			cancel_op(&l->timer_op);
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
	}
}

static int parse_sockaddr(const struct nvb_port_conf *pc, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	char *end;
	unsigned long port = strtoul(pc->svcid ? pc->svcid : "", &end, 10);

	if (!pc->svcid || !*pc->svcid || *end || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (pc->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, pc->addr, &sin6->sin6_addr) != 1)
			return -1;
		*len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, pc->addr, &sin->sin_addr) != 1)
			return -1;
		*len = sizeof(*sin);
	}
	return 0;
}

static int listener_open(struct listener *l, struct nvb_port *port, const char *cfg_path,
			 char *err, size_t errlen)
{
	const struct nvb_port_conf *pc = &port->conf;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1, fd;
	const char *what;

	l->port = port;
	l->fd = -1;
	l->multishot = true;
	l->accept_op.cb = accept_done;
	l->poll_op.cb = poll_done;
	l->timer_op.cb = backoff_done;
	if (parse_sockaddr(pc, &ss, &sslen) < 0) {
		snprintf(err, errlen, "%s:%d: port %u (%s:%s): invalid address", cfg_path,
			 pc->line, pc->id, pc->addr ? pc->addr : "", pc->svcid ? pc->svcid : "");
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		what = strerror(errno);
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, ACCEPT_BACKLOG) < 0) {
		what = strerror(errno);
		close(fd);
		goto fail;
	}
	l->fd = fd;
	nvb_info("nvmetcp: port %u listening on %s:%s", pc->id, pc->addr, pc->svcid);
	return 0;
fail:
	snprintf(err, errlen, "%s:%d: port %u (%s:%s): %s", cfg_path, pc->line, pc->id,
		 pc->addr, pc->svcid, what);
	return -1;
}

static void listeners_close(void)
{
	for (int i = 0; i < nlisteners; i++) {
		if (listeners[i].fd >= 0)
			close(listeners[i].fd);
	}
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
}

static int nvmetcp_start(struct nvb_target *t, char *err, size_t errlen)
{
	const char *cfg_path = t->cfg && t->cfg->path ? t->cfg->path : "config";

	if (!accept_reactor()) {
		snprintf(err, errlen, "nvmetcp: no reactor running");
		return -1;
	}
	if (nvmet_core_init() < 0) {
		snprintf(err, errlen, "nvmetcp: cannot start the controller core");
		return -1;
	}
	listeners = calloc((size_t)(t->nports ? t->nports : 1), sizeof(*listeners));
	if (!listeners) {
		snprintf(err, errlen, "nvmetcp: out of memory");
		nvmet_core_exit();
		return -1;
	}
	for (int i = 0; i < t->nports; i++) {
		if (listener_open(&listeners[i], &t->ports[i], cfg_path, err, errlen) < 0) {
			listeners_close();
			nvmet_core_exit();
			return -1;
		}
		nlisteners = i + 1;
	}
	nvmetcp_set_stopping(false);
	next_reactor = 0;
	nvb_reactor_call(accept_reactor(), listeners_arm_msg, NULL);
	return 0;
}

static void nvmetcp_stop_accepting(void)
{
	if (listeners && accept_reactor())
		nvb_reactor_call(accept_reactor(), listeners_stop_msg, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void nvmetcp_drain(void)
{
	uint64_t deadline = nvb_now_ms() + DRAIN_WAIT_MS;
	long left;

	nvmetcp_set_stopping(true);
	while ((left = nvmetcp_inflight()) > 0 && nvb_now_ms() < deadline)
		sleep_ms(10);
	if (left > 0)
		nvb_warn("nvmetcp: %ld commands still in flight after %d s; closing anyway",
			 left, DRAIN_WAIT_MS / 1000);
	nvmetcp_kill_all();
	deadline = nvb_now_ms() + TEARDOWN_WAIT_MS;
	while ((left = nvmetcp_queue_count()) > 0 && nvb_now_ms() < deadline)
		sleep_ms(10);
	if (left > 0)
		nvb_warn("nvmetcp: %ld connections did not close in time", left);
}

static void nvmetcp_cleanup(void)
{
	nvmetcp_queues_cleanup();
	listeners_close();
	nvmet_core_exit();
}

static void nvmetcp_list_sessions(struct json_object *out)
{
	nvmet_core_list(out);
}

const struct nvb_frontend_ops nvmetcp_frontend = {
	.name = "nvme-tcp",
	.start = nvmetcp_start,
	.stop_accepting = nvmetcp_stop_accepting,
	.drain = nvmetcp_drain,
	.cleanup = nvmetcp_cleanup,
	.list_sessions = nvmetcp_list_sessions,
};

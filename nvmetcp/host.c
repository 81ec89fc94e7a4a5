/* SPDX-License-Identifier: MIT */
/*
 * Host library: connection set-up and tear-down (TCP, ICReq/ICResp,
 * Fabrics Connect, controller enable, Identify, Number of Queues), options,
 * and the raw socket helpers the hostile-input tests build on.
 */
#include "nvmetcp/host_priv.h"

#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_CMD_TIMEOUT_MS     30000
#define DEFAULT_QUEUE_DEPTH        32
#define SHUTDOWN_WAIT_MS           2000

void nvmeh_opts_init(struct nvmeh_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->trsvcid = NVMEH_DEFAULT_PORT;
	o->nr_io_queues = 1;
	o->queue_depth = DEFAULT_QUEUE_DEPTH;
	o->kato_ms = 30000;
}

int nvmeh_set_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* ---- sockets ---- */

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int ms = -1, r;

		if (deadline != NVMEH_NO_DEADLINE) {
			int64_t left = deadline - nvmeh_now_ns();

			if (left <= 0)
				return -ETIMEDOUT;
			ms = (int)((left + 999999) / 1000000);
		}
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Non-blocking connect bounded by the timeout; one address at a time. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
	socklen_t sl = sizeof(int);
	int fd, r, soerr = 0, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto fail;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			r = soerr ? -soerr : -errno;
			goto fail;
		}
	}
	/* Small PDUs (capsules, responses) must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = set_nonblock(fd, false);
	if (r < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return r;
}

int nvmeh_tcp_connect(const char *traddr, const char *trsvcid, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	int64_t deadline = nvmeh_deadline(timeout_ms > 0 ? timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS);
	struct addrinfo *res, *ai;
	int r, fd = -EHOSTUNREACH;

	if (!traddr)
		return -EINVAL;
	r = getaddrinfo(traddr, trsvcid ? trsvcid : NVMEH_DEFAULT_PORT, &hints, &res);
	if (r)
		return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int nvmeh_raw_connect(const char *traddr, const char *trsvcid, int timeout_ms)
{
	return nvmeh_tcp_connect(traddr, trsvcid, timeout_ms);
}

ssize_t nvmeh_raw_send(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int r = wait_fd(fd, POLLOUT, NVMEH_NO_DEADLINE);

				if (r < 0)
					return r;
				continue;
			}
			return -errno;
		}
		done += (size_t)n;
	}
	return (ssize_t)len;
}

static ssize_t recv_deadline(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		int r = wait_fd(fd, POLLIN, deadline);
		ssize_t n;

		if (r < 0)
			return got ? (ssize_t)got : r;
		n = recv(fd, p + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return got ? (ssize_t)got : -errno;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t nvmeh_raw_recv(int fd, void *buf, size_t len, int timeout_ms)
{
	return recv_deadline(fd, buf, len, nvmeh_deadline(timeout_ms));
}

/* Read exactly len bytes or fail (-ECONNRESET on EOF). */
static int recv_exact(int fd, void *buf, size_t len, int64_t deadline)
{
	ssize_t n = recv_deadline(fd, buf, len, deadline);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -ECONNRESET;
}

/* §3.6.2.2/3: send ICReq (HPDA 0, MAXR2T 0 = one R2T per command) and read
 * the ICResp, or the C2HTermReq a controller answers a bad ICReq with. */
int nvmeh_icreq_exchange(int fd, bool hdgst, bool ddgst, int64_t deadline,
			 struct nvmetcp_icresp *rsp, uint16_t *term_fes, uint32_t *term_fei)
{
	struct nvmetcp_params setup = { .established = false };
	struct nvmetcp_icreq req;
	struct nvmetcp_layout l;
	uint16_t fes;
	uint32_t fei;
	ssize_t n;
	int r;

	nvmetcp_icreq_init(&req, hdgst, ddgst, 0, 0);
	n = nvmeh_raw_send(fd, &req, sizeof(req));
	if (n < 0)
		return (int)n;
	r = recv_exact(fd, &rsp->hdr, sizeof(rsp->hdr), deadline);
	if (r < 0)
		return r;
	if (nvmetcp_pdu_check(&rsp->hdr, NVMETCP_ROLE_HOST, &setup, &fes, &fei))
		return -EPROTO;
	nvmetcp_pdu_layout(&rsp->hdr, &l);
	if (rsp->hdr.type == NVMETCP_C2H_TERM) {
		uint8_t rest[NVMETCP_TERM_MAX_PLEN + NVMETCP_TERM_MAX_DATA];
		struct nvmetcp_term *t = (struct nvmetcp_term *)rest;

		memcpy(rest, &rsp->hdr, sizeof(rsp->hdr));
		r = recv_exact(fd, rest + sizeof(rsp->hdr),
			       l.hlen - sizeof(rsp->hdr) + l.data_len, deadline);
		if (r < 0)
			return r;
		if (term_fes)
			*term_fes = le16toh(t->fes);
		if (term_fei)
			*term_fei = le32toh(t->fei);
		return -ECONNABORTED;
	}
	return recv_exact(fd, (uint8_t *)rsp + sizeof(rsp->hdr),
			  sizeof(*rsp) - sizeof(rsp->hdr), deadline);
}

int nvmeh_raw_icreq(int fd, bool hdgst, bool ddgst, struct nvmetcp_icresp *rsp,
		    int timeout_ms)
{
	return nvmeh_icreq_exchange(fd, hdgst, ddgst, nvmeh_deadline(timeout_ms), rsp,
				    NULL, NULL);
}

/* ---- status text ---- */

const char *nvmeh_status_name(int status)
{
	static const struct {
		uint16_t sct_sc;
		const char *name;
	} names[] = {
		{ 0x000, "success" },
		{ 0x001, "invalid opcode" },
		{ 0x002, "invalid field" },
		{ 0x003, "command ID conflict" },
		{ 0x004, "data transfer error" },
		{ 0x006, "internal error" },
		{ 0x007, "abort requested" },
		{ 0x00b, "invalid namespace or format" },
		{ 0x00c, "command sequence error" },
		{ 0x00d, "invalid SGL segment descriptor" },
		{ 0x00f, "data SGL length invalid" },
		{ 0x011, "SGL descriptor type invalid" },
		{ 0x016, "SGL offset invalid" },
		{ 0x022, "transient transport error" },
		{ 0x080, "LBA out of range" },
		{ 0x081, "capacity exceeded" },
		{ 0x082, "namespace not ready" },
		{ 0x101, "invalid queue identifier" },
		{ 0x102, "invalid queue size" },
		{ 0x105, "asynchronous event request limit exceeded" },
		{ 0x10b, "invalid log page" },
		{ 0x10d, "feature not changeable" },
		{ 0x180, "connect: incompatible format" },
		{ 0x181, "connect: controller busy" },
		{ 0x182, "connect: invalid parameters" },
		{ 0x183, "connect: restart discovery" },
		{ 0x184, "connect: invalid host" },
		{ 0x185, "connect: invalid queue type" },
		{ 0x285, "compare failure" },
		{ 0x280, "write fault" },
		{ 0x281, "unrecovered read error" },
		{ 0x301, "ANA persistent loss" },
		{ 0x302, "ANA inaccessible" },
		{ 0x303, "ANA transition" },
	};
	uint16_t key;

	if (status < 0)
		return strerror(-status);
	key = (uint16_t)(status & 0x7ff);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sct_sc == key)
			return names[i].name;
	return "NVMe status";
}

/* ---- connection set-up ---- */

static void read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, " \t\r\n")] = '\0';
}

static int parse_uuid(const char *s, uint8_t out[16])
{
	int n = 0;

	for (; *s && n < 32; s++) {
		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char)*s))
			return -1;
		int ch = tolower((unsigned char)*s);
		int v = isdigit(ch) ? ch - '0' : ch - 'a' + 10;
		out[n / 2] = (uint8_t)((n & 1) ? (out[n / 2] | v) : (v << 4));
		n++;
	}
	return n == 32 && !*s ? 0 : -1;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Host NQN and Host ID (NVMe-oF Connect data). The same NQN always gets
 * the same ID, as targets expect of one host. */
static void resolve_host_identity(struct nvmeh_ctrl *c, const struct nvmeh_opts *o)
{
	static const uint8_t zero[16];
	bool from_file = false;
	char line[NVB_NQN_MAX + 2];

	const char *nqn = o->hostnqn;

	if (!nqn) {
		read_first_line("/etc/nvme/hostnqn", line, sizeof(line));
		from_file = line[0] && strlen(line) <= NVB_NQN_MAX;
		nqn = from_file ? line : NVMEH_TEST_HOSTNQN;
	}
	copy_str(c->hostnqn, sizeof(c->hostnqn), nqn);
	if (memcmp(o->hostid, zero, sizeof(zero)) != 0)
		return;
	if (from_file) {
		read_first_line("/etc/nvme/hostid", line, sizeof(line));
		if (!parse_uuid(line, c->opts.hostid))
			return;
	}
	for (size_t i = 0; i < 4; i++) {
		uint32_t crc = nvb_crc32c_update(NVB_CRC32C_INIT - (uint32_t)i, c->hostnqn,
						 strlen(c->hostnqn));

		memcpy(&c->opts.hostid[i * 4], &crc, 4);
	}
	c->opts.hostid[6] = (uint8_t)((c->opts.hostid[6] & 0x0f) | 0x40);     /* UUID v4 */
	c->opts.hostid[8] = (uint8_t)((c->opts.hostid[8] & 0x3f) | 0x80);     /* variant 1 */
}

static int copy_opts(struct nvmeh_ctrl *c, const struct nvmeh_opts *o, char *err, size_t errlen)
{
	c->opts = *o;
	if (!o->traddr || !o->subnqn)
		return nvmeh_set_err(err, errlen, -EINVAL, "traddr and subnqn are required");
	if (strlen(o->traddr) >= sizeof(c->traddr) ||
	    (o->trsvcid && strlen(o->trsvcid) >= sizeof(c->trsvcid)))
		return nvmeh_set_err(err, errlen, -EINVAL, "address too long");
	if (strlen(o->subnqn) > NVB_NQN_MAX || (o->hostnqn && strlen(o->hostnqn) > NVB_NQN_MAX))
		return nvmeh_set_err(err, errlen, -EINVAL, "NQN longer than %d bytes", NVB_NQN_MAX);
	if (o->nr_io_queues > NVMEH_MAX_IO_QUEUES)
		return nvmeh_set_err(err, errlen, -EINVAL, "at most %d I/O queues",
				     NVMEH_MAX_IO_QUEUES);
	copy_str(c->traddr, sizeof(c->traddr), o->traddr);
	copy_str(c->trsvcid, sizeof(c->trsvcid), o->trsvcid ? o->trsvcid : NVMEH_DEFAULT_PORT);
	copy_str(c->subnqn, sizeof(c->subnqn), o->subnqn);
	resolve_host_identity(c, o);
	c->opts.traddr = c->traddr;
	c->opts.trsvcid = c->trsvcid;
	c->opts.subnqn = c->subnqn;
	c->opts.hostnqn = c->hostnqn;
	if (!c->opts.queue_depth)
		c->opts.queue_depth = DEFAULT_QUEUE_DEPTH;
	if (c->opts.queue_depth > NVMEH_MAX_DEPTH)
		c->opts.queue_depth = NVMEH_MAX_DEPTH;
	if (!c->opts.connect_timeout_ms)
		c->opts.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!c->opts.cmd_timeout_ms)
		c->opts.cmd_timeout_ms = DEFAULT_CMD_TIMEOUT_MS;
	return 0;
}

/* TCP connect and ICReq/ICResp for queue qid; the queue is added to ctrl. */
static int queue_open(struct nvmeh_ctrl *c, uint16_t qid, unsigned depth, char *err,
		      size_t errlen)
{
	const struct nvmeh_opts *o = &c->opts;
	int64_t deadline = nvmeh_deadline((int)o->connect_timeout_ms);
	struct nvmetcp_icresp rsp;
	struct nvmeh_queue *q;
	uint16_t fes = 0;
	uint32_t fei = 0;
	int fd, r;

	fd = nvmeh_tcp_connect(c->traddr, c->trsvcid, (int)o->connect_timeout_ms);
	if (fd < 0)
		return nvmeh_set_err(err, errlen, fd, "connect to %s:%s (queue %u): %s",
				     c->traddr, c->trsvcid, qid, strerror(-fd));
	r = nvmeh_icreq_exchange(fd, o->hdgst, o->ddgst, deadline, &rsp, &fes, &fei);
	if (r == -ECONNABORTED) {
		close(fd);
		return nvmeh_set_err(err, errlen, r,
				     "ICReq (queue %u) terminated by target: %s (FEI %u)",
				     qid, nvmetcp_fes_name(fes), fei);
	}
	if (r < 0) {
		close(fd);
		return nvmeh_set_err(err, errlen, r, "ICResp (queue %u): %s", qid,
				     r == -EPROTO ? "malformed PDU" : strerror(-r));
	}
	if (nvmetcp_icresp_check(&rsp, o->hdgst, o->ddgst, &fes, &fei)) {
		close(fd);
		return nvmeh_set_err(err, errlen, -EPROTO,
				     "ICResp (queue %u) rejected: bad field at byte %u", qid, fei);
	}
	r = set_nonblock(fd, true);
	q = r < 0 ? NULL : nvmeh_queue_create(c, qid, depth, fd);
	if (!q) {
		close(fd);
		return nvmeh_set_err(err, errlen, -ENOMEM, "out of memory");
	}
	q->hdgst = o->hdgst;
	q->ddgst = o->ddgst;
	q->tx_pda = nvmetcp_pda_bytes(rsp.cpda);
	q->maxh2cdata = le32toh(rsp.maxh2cdata);
	q->incapsule = qid == 0 ? NVMEH_ADMIN_INCAPSULE : c->info.io_incapsule;
	q->rx = (struct nvmetcp_params){
		.established = true, .hdgst = o->hdgst, .ddgst = o->ddgst,
		.rx_pda = 0,    /* we sent HPDA 0 */
		.max_data = NVMETCP_MAX_PLEN,   /* each command's own bounds are checked */
	};
	c->queues[qid] = q;
	c->nr_queues = qid + 1u;
	if (qid == 0)
		c->info.maxh2cdata = q->maxh2cdata;
	return 0;
}

/* NVMe-oF 1.1 §3.3: Connect, data (host ID, CNTLID, NQNs) in the capsule. */
static int fabrics_connect(struct nvmeh_ctrl *c, struct nvmeh_queue *q, unsigned depth,
			   uint16_t cntlid, uint16_t *cntlid_out, char *err, size_t errlen)
{
	struct nvmf_connect_data data;
	struct nvb_connect_cmd cmd;
	struct iovec iov = { &data, sizeof(data) };
	struct nvb_cqe cqe;
	int r;

	memset(&data, 0, sizeof(data));
	memcpy(data.hostid, c->opts.hostid, sizeof(data.hostid));
	data.cntlid = htole16(cntlid);
	strncpy(data.subsysnqn, c->subnqn, sizeof(data.subsysnqn) - 1);
	strncpy(data.hostnqn, c->hostnqn, sizeof(data.hostnqn) - 1);

	memset(&cmd, 0, sizeof(cmd));
	cmd.opcode = NVB_FABRICS_OPCODE;
	cmd.fctype = nvme_fabrics_type_connect;
	cmd.recfmt = 0;
	cmd.qid = htole16(q->qid);
	/* NVMe-oF 1.1 §3.3: SQSIZE is 0's based and a queue has at least two
	 * entries, so depth 1 still asks for 2. */
	cmd.sqsize = htole16((uint16_t)((depth < 2 ? 2 : depth) - 1));
	cmd.cattr = c->opts.disable_sqflow ? 1u << 2 : 0;
	cmd.kato = htole32(q->qid == 0 ? c->opts.kato_ms : 0);

	r = nvmeh_q_exec(q, (struct nvb_sqe *)&cmd, &iov, 1, NVB_XFER_HOST_TO_CTRL, true, &cqe,
			 c->opts.cmd_timeout_ms);
	if (r < 0)
		return nvmeh_set_err(err, errlen, r, "Connect (queue %u) to %s: %s", q->qid,
				     c->subnqn, strerror(-r));
	if (r > 0) {
		uint32_t res = le32toh(cqe.result.u32);

		return nvmeh_set_err(err, errlen, r,
				     "Connect (queue %u) to %s refused: status 0x%03x "
				     "(sct 0x%x sc 0x%02x: %s)%s",
				     q->qid, c->subnqn, r & 0x7ff, NVB_STATUS_SCT(r),
				     NVB_STATUS_SC(r), nvmeh_status_name(r),
				     NVB_STATUS_SCT(r) == 1 && NVB_STATUS_SC(r) == 0x82 ?
				     (res >> 16 ? " [data field]" : " [command field]") : "");
	}
	if (cntlid_out)
		*cntlid_out = le16toh(cqe.result.u16);
	return 0;
}

/* NVMe 2.0 §3.5.1: CC.EN = 1 (NVM command set, 4 KiB pages, 64-byte SQEs,
 * 16-byte CQEs), then wait for CSTS.RDY within CAP.TO. */
static int enable_ctrl(struct nvmeh_ctrl *c, char *err, size_t errlen)
{
	uint64_t cap, vs, csts = 0;
	uint32_t cc = (1u << NVME_CC_EN_SHIFT) | (6u << NVME_CC_IOSQES_SHIFT) |
		      (4u << NVME_CC_IOCQES_SHIFT);
	int64_t deadline;
	int r;

	r = nvmeh_prop_get(c, NVME_REG_CAP, 8, &cap);
	if (!r)
		r = nvmeh_prop_get(c, NVME_REG_VS, 4, &vs);
	if (r)
		return nvmeh_set_err(err, errlen, r, "Property Get CAP/VS: %s",
				     nvmeh_status_name(r));
	c->info.cap = cap;
	c->info.vs = (uint32_t)vs;
	r = nvmeh_prop_set(c, NVME_REG_CC, 4, cc);
	if (r)
		return nvmeh_set_err(err, errlen, r, "Property Set CC: %s", nvmeh_status_name(r));
	c->enabled = true;
	/* CAP.TO is in 500 ms units. */
	deadline = nvmeh_now_ns() + (int64_t)(NVME_CAP_TO(cap) ? NVME_CAP_TO(cap) : 1) * 500000000;
	for (;;) {
		r = nvmeh_prop_get(c, NVME_REG_CSTS, 4, &csts);
		if (r)
			return nvmeh_set_err(err, errlen, r, "Property Get CSTS: %s",
					     nvmeh_status_name(r));
		if (csts & 2)
			return nvmeh_set_err(err, errlen, -EIO,
					     "controller fatal status (CSTS.CFS)");
		if (csts & 1)
			return 0;
		if (nvmeh_now_ns() > deadline)
			return nvmeh_set_err(err, errlen, -ETIMEDOUT,
					     "CSTS.RDY not set within CAP.TO");
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
}

/* Identify Controller and what follows from it. */
static int identify_ctrl(struct nvmeh_ctrl *c, char *err, size_t errlen)
{
	unsigned mpsmin = (unsigned)NVME_CAP_MPSMIN(c->info.cap);
	uint32_t ioccsz;
	int r;

	c->id = aligned_alloc(4096, sizeof(*c->id));
	if (!c->id)
		return nvmeh_set_err(err, errlen, -ENOMEM, "out of memory");
	r = nvmeh_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, c->id);
	if (r)
		return nvmeh_set_err(err, errlen, r, "Identify Controller: %s",
				     nvmeh_status_name(r));
	c->info.id = c->id;
	if (c->id->mdts && c->id->mdts + 12u + mpsmin < 31)
		c->info.max_xfer = (1u << c->id->mdts) * (4096u << mpsmin);
	/* NVMe-oF 1.1 §4.1: IOCCSZ (16-byte units) includes the 64-byte SQE. */
	ioccsz = le32toh(c->id->ioccsz);
	c->info.io_incapsule = ioccsz > 4 ? ioccsz * 16 - 64 : 0;
	if (c->opts.incapsule_max && c->info.io_incapsule > c->opts.incapsule_max)
		c->info.io_incapsule = c->opts.incapsule_max;
	if (c->opts.no_incapsule)
		c->info.io_incapsule = 0;
	return 0;
}

/* Number of Queues (Feature 07h): the controller may grant fewer. */
static int negotiate_queues(struct nvmeh_ctrl *c, char *err, size_t errlen)
{
	unsigned want = c->opts.nr_io_queues, mqes;
	uint32_t res = 0;
	int r;

	mqes = (unsigned)NVME_CAP_MQES(c->info.cap) + 1;
	c->info.queue_depth = c->opts.queue_depth < mqes ? c->opts.queue_depth : mqes;
	if (!want)
		return 0;
	r = nvmeh_set_features(c, NVME_FEAT_FID_NUM_QUEUES, (want - 1) | (want - 1) << 16, &res);
	if (r)
		return nvmeh_set_err(err, errlen, r, "Set Features (Number of Queues): %s",
				     nvmeh_status_name(r));
	if ((res & 0xffff) + 1 < want)
		want = (res & 0xffff) + 1;
	if ((res >> 16) + 1 < want)
		want = (res >> 16) + 1;
	c->info.nr_io_queues = want;
	return 0;
}

int nvmeh_connect(const struct nvmeh_opts *o, struct nvmeh_ctrl **ctrl, char *err, size_t errlen)
{
	struct nvmeh_ctrl *c;
	int r;

	*ctrl = NULL;
	if (err && errlen)
		err[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c)
		return nvmeh_set_err(err, errlen, -ENOMEM, "out of memory");
	r = copy_opts(c, o, err, errlen);
	if (r)
		goto fail;
	c->queues = calloc(c->opts.nr_io_queues + 1, sizeof(*c->queues));
	if (!c->queues) {
		r = nvmeh_set_err(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	c->info.discovery = !strcmp(c->subnqn, NVB_DISCOVERY_NQN);
	c->info.hdgst = c->opts.hdgst;
	c->info.ddgst = c->opts.ddgst;

	r = queue_open(c, 0, NVMEH_ADMIN_DEPTH, err, errlen);
	if (!r)
		r = fabrics_connect(c, c->queues[0], NVMEH_ADMIN_DEPTH, 0xffff, &c->info.cntlid,
				    err, errlen);
	if (r)
		goto fail;
	c->ka_next_ns = nvmeh_now_ns() + (int64_t)c->opts.kato_ms * 500000;
	r = enable_ctrl(c, err, errlen);
	if (!r && !c->info.discovery)
		r = identify_ctrl(c, err, errlen);
	if (!r && !c->info.discovery)
		r = negotiate_queues(c, err, errlen);
	if (r)
		goto fail;
	for (unsigned qid = 1; qid <= c->info.nr_io_queues; qid++) {
		r = queue_open(c, (uint16_t)qid, c->info.queue_depth, err, errlen);
		if (!r)
			r = fabrics_connect(c, c->queues[qid], c->info.queue_depth, c->info.cntlid,
					    NULL, err, errlen);
		if (r)
			goto fail;
	}
	*ctrl = c;
	return 0;
fail:
	c->enabled = false;     /* no orderly shutdown of a half-built controller */
	nvmeh_disconnect(c);
	return r;
}

/* NVMe 2.0 §3.6.2: normal shutdown (CC.SHN = 01b), wait for CSTS.SHST = 10b. */
static void shutdown_ctrl(struct nvmeh_ctrl *c)
{
	uint32_t cc = (1u << NVME_CC_EN_SHIFT) | (6u << NVME_CC_IOSQES_SHIFT) |
		      (4u << NVME_CC_IOCQES_SHIFT) | (1u << NVME_CC_SHN_SHIFT);
	int64_t deadline = nvmeh_now_ns() + (int64_t)SHUTDOWN_WAIT_MS * 1000000;
	uint64_t csts;

	c->opts.cmd_timeout_ms = SHUTDOWN_WAIT_MS;
	if (nvmeh_prop_set(c, NVME_REG_CC, 4, cc))
		return;
	while (nvmeh_now_ns() < deadline) {
		if (nvmeh_prop_get(c, NVME_REG_CSTS, 4, &csts) || ((csts >> 2) & 3) == 2)
			return;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
}

void nvmeh_disconnect(struct nvmeh_ctrl *c)
{
	if (!c)
		return;
	if (c->enabled && !c->info.discovery && c->nr_queues && !c->queues[0]->err)
		shutdown_ctrl(c);
	for (unsigned i = 0; i < c->nr_queues; i++)
		nvmeh_queue_destroy(c->queues[i]);
	free(c->queues);
	free(c->id);
	free(c);
}

const struct nvmeh_info *nvmeh_info(const struct nvmeh_ctrl *c)
{
	return &c->info;
}

static const struct nvmeh_queue *queue_of(const struct nvmeh_ctrl *c, unsigned qid)
{
	return qid < c->nr_queues ? c->queues[qid] : NULL;
}

int nvmeh_queue_fd(const struct nvmeh_ctrl *c, unsigned qid)
{
	const struct nvmeh_queue *q = queue_of(c, qid);

	return q ? q->fd : -1;
}

int nvmeh_queue_error(const struct nvmeh_ctrl *c, unsigned qid)
{
	const struct nvmeh_queue *q = queue_of(c, qid);

	return q ? q->err : -EINVAL;
}

unsigned nvmeh_outstanding(const struct nvmeh_ctrl *c, unsigned qid)
{
	const struct nvmeh_queue *q = queue_of(c, qid);

	return q ? q->outstanding : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The control socket: JSON-RPC 2.0 over a Unix stream socket, one JSON text
 * per line in each direction.
 *
 * The server runs on the control thread in a poll() loop. Clients are
 * non-blocking and each has a bounded input buffer, so a client that sends
 * garbage, sends too much, stalls half-way through a line or stops reading
 * its answers costs the daemon a bounded amount of time and memory and is
 * then dropped; it never takes the daemon or another client down with it.
 */
#include "bridge/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/reactor.h"

#define CTL_MAX_CLIENTS        64
#define CTL_MAX_LINE           (1u << 20)      /* a request line, newline excluded */
#define CTL_READ_CHUNK         ((size_t)64 << 10)
#define CTL_WRITE_TIMEOUT_MS   2000            /* a client must take its answer this fast */
#define CTL_PARTIAL_TIMEOUT_MS 30000           /* a started line must end this fast */
#define CTL_CLIENT_TIMEOUT_S   60              /* client side: the daemon must answer */
#define CTL_MAX_RESPONSE       (256u << 20)    /* client side */

struct ctl_client {
	int fd;
	char *buf;
	size_t len, cap;
	uint64_t partial_since_ms;      /* when buf last went from empty to non-empty */
};

static struct {
	int listen_fd;
	char *path;
	dev_t dev;
	ino_t ino;
	const struct nvb_frontend_ops **frontends;
	int nfrontends;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	int nclients;
} ctl = { .listen_fd = -1 };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int fill_sockaddr(struct sockaddr_un *sa, const char *path, char *err, size_t errlen)
{
	size_t len = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len >= sizeof(sa->sun_path)) {
		set_err(err, errlen, "socket path '%s' is longer than %zu bytes", path,
			sizeof(sa->sun_path) - 1);
		return -1;
	}
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* ---- writing with a bounded wait --------------------------------------- */

/* Send everything or fail within timeout_ms: a peer that does not read must
 * not hold the caller (the daemon's control loop) for longer. */
static int send_all(int fd, const char *data, size_t len, int timeout_ms)
{
	uint64_t deadline = nvb_now_ms() + (uint64_t)timeout_ms;

	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		uint64_t now;

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -1;
		now = nvb_now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

static int send_json_line(int fd, struct json_object *obj, int timeout_ms)
{
	size_t len;
	const char *text = json_object_to_json_string_length(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *line = malloc(len + 1);
	int rc;

	if (!line)
		return -1;
	memcpy(line, text, len);
	line[len] = '\n';
	rc = send_all(fd, line, len + 1, timeout_ms);
	free(line);
	return rc;
}

/* ---- requests --------------------------------------------------------- */

static struct json_object *make_error(struct json_object *id, int code, const char *msg)
{
	struct json_object *rsp = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(rsp, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(rsp, "error", e);
	json_object_object_add(rsp, "id", json_object_get(id));
	return rsp;
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static struct json_object *parse_line(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *obj;
	size_t used;

	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, line, (int)len);
	used = json_tokener_get_parse_end(tok);
	/* A whole JSON text and nothing but blanks after it (RFC 8259 §2). */
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    !blank(line + used, len - used)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static bool valid_id(struct json_object *id)
{
	/* JSON-RPC 2.0 §4: a string, a number or null. */
	return !id || json_object_is_type(id, json_type_string) ||
	       json_object_is_type(id, json_type_int) ||
	       json_object_is_type(id, json_type_double);
}

/* The response to one request line, or NULL when none is due (a
 * notification, JSON-RPC 2.0 §4.1). */
static struct json_object *handle_request(const char *line, size_t len)
{
	struct json_object *req = parse_line(line, len);
	struct json_object *id = NULL, *ver, *method, *params = NULL, *result = NULL, *rsp;
	bool notification;
	char msg[1024];
	int code;

	if (!req)
		return make_error(NULL, NVB_CTL_PARSE_ERROR, "Parse error: not valid JSON");
	if (!json_object_is_type(req, json_type_object)) {
		rsp = make_error(NULL, NVB_CTL_INVALID_REQUEST,
				 "Invalid Request: expected one JSON object (batches are not supported)");
		goto out;
	}
	notification = !json_object_object_get_ex(req, "id", &id);
	if (!valid_id(id)) {
		rsp = make_error(NULL, NVB_CTL_INVALID_REQUEST,
				 "Invalid Request: id must be a string, a number or null");
		goto out;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &ver) ||
	    !json_object_is_type(ver, json_type_string) ||
	    strcmp(json_object_get_string(ver), "2.0") != 0) {
		rsp = make_error(id, NVB_CTL_INVALID_REQUEST, "Invalid Request: jsonrpc must be \"2.0\"");
		goto out;
	}
	if (!json_object_object_get_ex(req, "method", &method) ||
	    !json_object_is_type(method, json_type_string)) {
		rsp = make_error(id, NVB_CTL_INVALID_REQUEST, "Invalid Request: method must be a string");
		goto out;
	}
	if (json_object_object_get_ex(req, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object)) {
		rsp = make_error(id, NVB_CTL_INVALID_PARAMS,
				 "Invalid params: params must be an object of named parameters");
		goto out;
	}
	msg[0] = '\0';
	code = nvb_ctl_dispatch(json_object_get_string(method), params,
				(const struct nvb_frontend_ops *const *)ctl.frontends,
				ctl.nfrontends, &result, msg, sizeof(msg));
	if (notification) {
		json_object_put(result);
		rsp = NULL;
	} else if (code != 0) {
		rsp = make_error(id, code, msg[0] ? msg : "operation failed");
	} else {
		rsp = json_object_new_object();
		json_object_object_add(rsp, "jsonrpc", json_object_new_string("2.0"));
		json_object_object_add(rsp, "result", result);
		json_object_object_add(rsp, "id", json_object_get(id));
	}
out:
	json_object_put(req);
	return rsp;
}

/* ---- clients ---------------------------------------------------------- */

static void client_close(int idx)
{
	struct ctl_client *c = &ctl.clients[idx];

	close(c->fd);
	free(c->buf);
	ctl.clients[idx] = ctl.clients[--ctl.nclients];
}

/* Answer every complete line in the buffer. -1: drop the client. */
static int client_process(struct ctl_client *c)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(c->buf + start, '\n', c->len - start))) {
		size_t len = (size_t)(nl - (c->buf + start));
		struct json_object *rsp = NULL;
		int rc = 0;

		if (!blank(c->buf + start, len))
			rsp = handle_request(c->buf + start, len);
		if (rsp) {
			rc = send_json_line(c->fd, rsp, CTL_WRITE_TIMEOUT_MS);
			json_object_put(rsp);
		}
		start += len + 1;
		if (rc != 0)
			return -1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len > CTL_MAX_LINE) {
		struct json_object *rsp = make_error(NULL, NVB_CTL_INVALID_REQUEST,
						     "Invalid Request: line longer than 1 MiB");

		send_json_line(c->fd, rsp, CTL_WRITE_TIMEOUT_MS);
		json_object_put(rsp);
		return -1;
	}
	if (c->len == 0)
		c->partial_since_ms = 0;
	else if (!c->partial_since_ms)
		c->partial_since_ms = nvb_now_ms();
	return 0;
}

/* One read per poll wake-up, so a client that streams without pause shares
 * the loop with the others. -1: drop the client. */
static int client_read(struct ctl_client *c)
{
	ssize_t n;

	if (c->cap - c->len < CTL_READ_CHUNK) {
		size_t cap = c->cap ? c->cap * 2 : 2 * CTL_READ_CHUNK;
		char *buf;

		if (cap > CTL_MAX_LINE + 2 * CTL_READ_CHUNK)
			cap = CTL_MAX_LINE + 2 * CTL_READ_CHUNK;
		buf = realloc(c->buf, cap);
		if (!buf)
			return -1;
		c->buf = buf;
		c->cap = cap;
	}
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	c->len += (size_t)n;
	return client_process(c);
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(ctl.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				nvb_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		if (ctl.nclients == CTL_MAX_CLIENTS) {
			struct json_object *rsp = make_error(NULL, NVB_CTL_FAILED,
				"too many control clients connected; try again later");

			send_json_line(fd, rsp, 0);
			json_object_put(rsp);
			close(fd);
			continue;
		}
		ctl.clients[ctl.nclients++] = (struct ctl_client){ .fd = fd };
	}
}

/* Drop clients stuck in the middle of a line; return the poll timeout
 * until the next such deadline (-1: none). */
static int expire_partial_lines(void)
{
	uint64_t now = nvb_now_ms();
	int timeout = -1;

	for (int i = ctl.nclients - 1; i >= 0; i--) {
		struct ctl_client *c = &ctl.clients[i];
		uint64_t deadline;

		if (!c->partial_since_ms)
			continue;
		deadline = c->partial_since_ms + CTL_PARTIAL_TIMEOUT_MS;
		if (now >= deadline) {
			nvb_debug("control socket: dropping a client stalled mid-request");
			client_close(i);
			continue;
		}
		if (timeout < 0 || deadline - now < (uint64_t)timeout)
			timeout = (int)(deadline - now);
	}
	return timeout;
}

void nvb_ctl_run(int stop_fd)
{
	struct pollfd pfds[2 + CTL_MAX_CLIENTS];

	if (ctl.listen_fd < 0)
		return;
	for (;;) {
		int timeout = expire_partial_lines();
		int n = ctl.nclients;

		pfds[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = ctl.listen_fd, .events = POLLIN };
		for (int i = 0; i < n; i++)
			pfds[2 + i] = (struct pollfd){ .fd = ctl.clients[i].fd, .events = POLLIN };
		if (poll(pfds, 2 + (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			nvb_err("control socket: poll: %s", strerror(errno));
			return;
		}
		if (pfds[0].revents)
			return;
		/* Back to front: client_close moves the last client into the hole. */
		for (int i = n - 1; i >= 0; i--) {
			if (!pfds[2 + i].revents)
				continue;
			if (pfds[2 + i].revents & POLLNVAL || client_read(&ctl.clients[i]) != 0)
				client_close(i);
		}
		if (pfds[1].revents)
			accept_clients();
	}
}

/* ---- starting and stopping -------------------------------------------- */

/* Is a daemon answering at path? */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (fill_sockaddr(&sa, path, NULL, 0) != 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static int remove_stale_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		set_err(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	if (socket_is_live(path)) {
		set_err(err, errlen, "another nvbridged is running on %s", path);
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		set_err(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	nvb_info("control socket: removed stale %s", path);
	return 0;
}

int nvb_ctl_start(const char *path, const struct nvb_frontend_ops *const *frontends,
		  int nfrontends, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	if (ctl.listen_fd >= 0) {
		set_err(err, errlen, "the control socket is already open on %s", ctl.path);
		return -1;
	}
	if (!path || !*path)
		path = NVB_DEFAULT_CTL_SOCKET;
	if (fill_sockaddr(&sa, path, err, errlen) != 0 ||
	    remove_stale_socket(path, err, errlen) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* The socket file is created by bind with the umask applied: make it
	 * 0600 from the first instant, not after a chmod. */
	old_mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (rc != 0) {
		set_err(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 16) != 0 || stat(path, &st) != 0) {
		set_err(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ctl.path = strdup(path);
	ctl.frontends = calloc((size_t)nfrontends + 1, sizeof(*ctl.frontends));
	if (!ctl.path || !ctl.frontends) {
		set_err(err, errlen, "out of memory");
		free(ctl.path);
		free(ctl.frontends);
		ctl.path = NULL;
		ctl.frontends = NULL;
		close(fd);
		unlink(path);
		return -1;
	}
	for (int i = 0; i < nfrontends; i++)
		ctl.frontends[i] = frontends[i];
	ctl.nfrontends = nfrontends;
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	ctl.listen_fd = fd;
	return 0;
}

void nvb_ctl_stop(void)
{
	struct stat st;

	if (ctl.listen_fd < 0)
		return;
	while (ctl.nclients)
		client_close(ctl.nclients - 1);
	close(ctl.listen_fd);
	ctl.listen_fd = -1;
	/* Remove the socket file only if it is still ours. */
	if (stat(ctl.path, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
		unlink(ctl.path);
	free(ctl.path);
	free(ctl.frontends);
	ctl.path = NULL;
	ctl.frontends = NULL;
	ctl.nfrontends = 0;
}

/* ---- client side ------------------------------------------------------ */

static int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
	struct sockaddr_un sa;
	int fd;

	if (fill_sockaddr(&sa, path, err, errlen) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		set_err(err, errlen, "cannot reach nvbridged at %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one line (without its newline) into a malloc'd string. */
static char *read_line(int fd, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nl = NULL;

	while (!nl) {
		ssize_t n;

		if (cap - len < 4096) {
			char *nb;

			if (cap >= CTL_MAX_RESPONSE) {
				set_err(err, errlen, "response from nvbridged is too long");
				goto fail;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				set_err(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "no answer from nvbridged: %s",
				errno == EAGAIN ? "timed out" : strerror(errno));
			goto fail;
		}
		if (n == 0) {
			set_err(err, errlen, "nvbridged closed the connection without answering");
			goto fail;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	*nl = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

/* The "result" of a response, or NULL with the error's message in err. */
static struct json_object *take_result(struct json_object *rsp, char *err, size_t errlen)
{
	struct json_object *e, *msg, *result;

	if (json_object_object_get_ex(rsp, "error", &e)) {
		if (json_object_object_get_ex(e, "message", &msg))
			set_err(err, errlen, "%s", json_object_get_string(msg));
		else
			set_err(err, errlen, "nvbridged reported an error without a message");
		return NULL;
	}
	if (!json_object_object_get_ex(rsp, "result", &result) || !result) {
		set_err(err, errlen, "malformed response from nvbridged (no result)");
		return NULL;
	}
	return json_object_get(result);
}

struct json_object *nvb_ctl_call(const char *path, const char *method,
				 struct json_object *params, char *err, size_t errlen)
{
	struct json_object *req, *rsp, *result = NULL;
	char *line;
	int fd;

	if (!path || !*path)
		path = NVB_DEFAULT_CTL_SOCKET;
	fd = ctl_connect(path, err, errlen);
	if (fd < 0)
		return NULL;
	req = json_object_new_object();
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", json_object_get(params));
	if (send_json_line(fd, req, CTL_CLIENT_TIMEOUT_S * 1000) != 0) {
		set_err(err, errlen, "cannot send to nvbridged at %s: %s", path, strerror(errno));
		goto out;
	}
	line = read_line(fd, err, errlen);
	if (!line)
		goto out;
	rsp = json_tokener_parse(line);
	free(line);
	if (!rsp || !json_object_is_type(rsp, json_type_object))
		set_err(err, errlen, "malformed response from nvbridged");
	else
		result = take_result(rsp, err, errlen);
	json_object_put(rsp);
out:
	json_object_put(req);
	close(fd);
	return result;
}

/* SPDX-License-Identifier: MIT */
/* The control socket: the server on a thread over a temporary socket, driven
 * through nvb_ctl_call and through raw lines for the protocol errors. */
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/ctl.h"
#include "bridge/frontend.h"
#include "bridge/log.h"
#include "bridge/target.h"

#define SS1 "nqn.2026-01.io.nvbridge:one"
#define SS2 "nqn.2026-01.io.nvbridge:two"
#define HOST_A "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-0000-0000-000000000001"

static const char test_conf[] =
	"ana_groups = (\n"
	"  { id = 1; state = \"optimized\"; },\n"
	"  { id = 2; state = \"non-optimized\"; }\n"
	");\n"
	"ports = (\n"
	"  { id = 1; address = \"127.0.0.1\"; port = 4420; ana_group = 1; },\n"
	"  { id = 2; address = \"127.0.0.1\"; port = 4421; ana_group = 2; }\n"
	");\n"
	"subsystems = (\n"
	"  { nqn = \"" SS1 "\"; serial = \"SER1\"; allow_any_host = false;\n"
	"    namespaces = ( { nsid = 1; backend = \"ram\"; size = \"4M\"; } ); },\n"
	"  { nqn = \"" SS2 "\"; allow_any_host = true; }\n"
	");\n";

/* A front end that reports one controller with two queues. */
static void fake_list_sessions(struct json_object *out)
{
	struct json_object *c = json_object_new_object(), *queues = json_object_new_array();

	for (int q = 0; q < 2; q++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "qid", json_object_new_int(q));
		json_object_object_add(o, "commands", json_object_new_int(10 * q));
		json_object_array_add(queues, o);
	}
	json_object_object_add(c, "cntlid", json_object_new_int(1));
	json_object_object_add(c, "subsystem", json_object_new_string(SS1));
	json_object_object_add(c, "queues", queues);
	json_object_array_add(out, c);
}

static const struct nvb_frontend_ops fake_frontend = {
	.name = "fake",
	.list_sessions = fake_list_sessions,
};
static const struct nvb_frontend_ops *const frontends[] = { &fake_frontend };

static char dir[64], sock_path[128];
static int stop_pipe[2];
static pthread_t server;

static void *serve(void *arg)
{
	nvb_ctl_run(stop_pipe[0]);
	return NULL;
}

static void setup(void)
{
	struct nvb_config *cfg;
	char err[1024] = "";

	nvb_log_set_level(NVB_LOG_ERR);
	strcpy(dir, "/tmp/nvb-ctl-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", dir);
	ck_assert_msg(nvb_config_parse(test_conf, "test.conf", &cfg, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_msg(nvb_target_init(cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(nvb_ctl_start(sock_path, frontends, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(pipe(stop_pipe), 0);
	ck_assert_int_eq(pthread_create(&server, NULL, serve, NULL), 0);
}

static void teardown(void)
{
	char path[192];

	ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
	pthread_join(server, NULL);
	nvb_ctl_stop();
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	nvb_target_shutdown();
	ck_assert_int_eq(access(sock_path, F_OK), -1);      /* the socket file is gone */
	snprintf(path, sizeof(path), "%s/saved.conf", dir);
	unlink(path);
	rmdir(dir);
}

static struct json_object *call(const char *method, struct json_object *params)
{
	char err[1024] = "";
	struct json_object *r = nvb_ctl_call(sock_path, method, params, err, sizeof(err));

	ck_assert_msg(r != NULL, "%s: %s", method, err);
	json_object_put(params);
	return r;
}

/* The error message of a call that must fail. */
static void call_fails(const char *method, struct json_object *params, const char *expect)
{
	char err[1024] = "";
	struct json_object *r = nvb_ctl_call(sock_path, method, params, err, sizeof(err));

	ck_assert_msg(r == NULL, "%s succeeded", method);
	ck_assert_msg(strstr(err, expect), "%s: '%s' lacks '%s'", method, err, expect);
	json_object_put(params);
}

static struct json_object *params(const char *json)
{
	struct json_object *p = json_tokener_parse(json);

	ck_assert_ptr_nonnull(p);
	return p;
}

static const char *field_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_string(v);
}

static int64_t field_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_int64(v);
}

/* ---- raw protocol helpers ---- */

static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *text)
{
	size_t len = strlen(text);

	ck_assert_int_eq(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* One response line, parsed; NULL at EOF/reset or after 5 s. */
static struct json_object *raw_recv(int fd)
{
	char buf[65536];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			return NULL;
		n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			return NULL;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return json_tokener_parse(buf);
		}
		len++;
	}
	return NULL;
}

static int error_code(struct json_object *rsp)
{
	struct json_object *e;

	ck_assert_ptr_nonnull(rsp);
	ck_assert_msg(json_object_object_get_ex(rsp, "error", &e), "not an error: %s",
		      json_object_to_json_string(rsp));
	return (int)field_int(e, "code");
}

/* ---- tests ---- */

START_TEST(test_socket_mode)
{
	struct stat st;

	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_lists)
{
	struct json_object *r, *o;

	r = call("version", NULL);
	ck_assert_ptr_nonnull(json_object_object_get(r, "version"));
	json_object_put(r);

	r = call("list-subsystems", NULL);
	ck_assert_int_eq(json_object_array_length(r), 2);
	o = json_object_array_get_idx(r, 0);
	ck_assert_str_eq(field_str(o, "nqn"), SS1);
	ck_assert_str_eq(field_str(o, "serial"), "SER1");
	ck_assert_int_eq(field_int(o, "namespaces"), 1);
	ck_assert(!json_object_get_boolean(json_object_object_get(o, "allow_any_host")));
	json_object_put(r);

	r = call("list-namespaces", NULL);
	ck_assert_int_eq(json_object_array_length(r), 1);
	o = json_object_array_get_idx(r, 0);
	ck_assert_str_eq(field_str(o, "subsystem"), SS1);
	ck_assert_int_eq(field_int(o, "nsid"), 1);
	ck_assert_str_eq(field_str(o, "backend"), "ram");
	ck_assert_int_eq(field_int(o, "size"), 4 << 20);
	ck_assert_int_eq(field_int(o, "lba_size"), 512);
	ck_assert_int_eq(strlen(field_str(o, "nguid")), 32);
	ck_assert_int_eq(strlen(field_str(o, "uuid")), 36);
	ck_assert_int_eq(strlen(field_str(o, "eui64")), 16);
	json_object_put(r);

	r = call("list-namespaces", params("{\"nqn\":\"" SS2 "\"}"));
	ck_assert_int_eq(json_object_array_length(r), 0);
	json_object_put(r);

	r = call("list-ports", NULL);
	ck_assert_int_eq(json_object_array_length(r), 2);
	o = json_object_array_get_idx(r, 1);
	ck_assert_int_eq(field_int(o, "id"), 2);
	ck_assert_str_eq(field_str(o, "port"), "4421");
	ck_assert_str_eq(field_str(o, "family"), "ipv4");
	ck_assert_int_eq(field_int(o, "ana_group"), 2);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(o, "subsystems")), 2);
	json_object_put(r);

	r = call("list-ana-groups", NULL);
	ck_assert_int_eq(json_object_array_length(r), 2);
	ck_assert_str_eq(field_str(json_object_array_get_idx(r, 1), "state"), "non-optimized");
	json_object_put(r);

	r = call("list-controllers", NULL);
	ck_assert_int_eq(json_object_array_length(r), 1);
	ck_assert_int_eq(field_int(json_object_array_get_idx(r, 0), "cntlid"), 1);
	json_object_put(r);

	r = call("help", NULL);
	ck_assert_int_ge(json_object_array_length(r), 15);
	json_object_put(r);
}
END_TEST

START_TEST(test_stats)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct nvb_ns *ns = nvb_ns_get(ss, 1);
	struct json_object *r, *o;

	/* Counters as reactors 0 and 1 would have left them: 3 reads of 4 KiB
	 * at ~3 µs and one failed write at ~100 µs. */
	for (int i = 0; i < 3; i++)
		nvb_io_stats_account(&ns->stats[i % 2], 0x02, 4096, NVB_OK, 3000);
	nvb_io_stats_account(&ns->stats[1], 0x01, 4096, NVB_INVALID_FIELD, 100000);
	nvb_ns_put(ns);

	r = call("stats", NULL);
	o = json_object_array_get_idx(json_object_object_get(r, "namespaces"), 0);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(field_int(o, "commands"), 4);
	ck_assert_int_eq(field_int(o, "reads"), 3);
	ck_assert_int_eq(field_int(o, "writes"), 1);
	ck_assert_int_eq(field_int(o, "read_bytes"), 3 * 4096);
	ck_assert_int_eq(field_int(o, "errors"), 1);
	ck_assert_int_eq(field_int(o, "p50_latency_us"), 4);            /* bucket < 4 µs */
	ck_assert_int_eq(field_int(o, "p99_latency_us"), 128);          /* bucket < 128 µs */
	ck_assert(json_object_get_double(json_object_object_get(o, "avg_latency_us")) > 26.0);
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "controllers")), 1);
	json_object_put(r);
}
END_TEST

START_TEST(test_namespace_changes)
{
	struct json_object *r;
	struct nvb_ns *ns;

	r = call("add-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7,\"backend\":\"ram\","
					 "\"size\":\"2M\",\"lba_size\":4096,"
					 "\"nguid\":\"00112233-4455-6677-8899-aabbccddeeff\"}"));
	ck_assert_int_eq(field_int(r, "nsid"), 7);
	ck_assert_int_eq(field_int(r, "size"), 2 << 20);
	ck_assert_int_eq(field_int(r, "lba_size"), 4096);
	ck_assert_str_eq(field_str(r, "nguid"), "00112233445566778899aabbccddeeff");
	json_object_put(r);
	ns = nvb_ns_get(nvb_target_find_subsys(SS1), 7);
	ck_assert_ptr_nonnull(ns);
	nvb_ns_put(ns);

	r = call("resize-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7,\"size\":\"4M\"}"));
	ck_assert_int_eq(field_int(r, "size"), 4 << 20);
	json_object_put(r);
	r = call("resize-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7,\"size\":8388608}"));
	ck_assert_int_eq(field_int(r, "size"), 8 << 20);
	json_object_put(r);

	call_fails("add-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7,\"backend\":\"ram\","
					   "\"size\":\"1M\"}"), "already exists");
	call_fails("add-namespace", params("{\"nqn\":\"nqn.2026-01.x:none\",\"nsid\":2,"
					   "\"backend\":\"ram\",\"size\":\"1M\"}"), "no subsystem");
	call_fails("resize-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7,\"size\":1000}"),
		   "multiple");

	r = call("remove-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7}"));
	ck_assert(json_object_get_boolean(json_object_object_get(r, "removed")));
	json_object_put(r);
	ck_assert_ptr_null(nvb_ns_get(nvb_target_find_subsys(SS1), 7));
	call_fails("remove-namespace", params("{\"nqn\":\"" SS1 "\",\"nsid\":7}"), "no namespace 7");
}
END_TEST

START_TEST(test_ana_and_hosts)
{
	struct nvb_subsys *ss = nvb_target_find_subsys(SS1);
	struct json_object *r;

	r = call("set-ana-state", params("{\"group\":2,\"state\":\"inaccessible\"}"));
	ck_assert_str_eq(field_str(r, "state"), "inaccessible");
	json_object_put(r);
	ck_assert_int_eq(atomic_load(&nvb_target_find_ana_group(2)->state), NVB_ANA_INACCESSIBLE);
	call_fails("set-ana-state", params("{\"group\":2,\"state\":\"sideways\"}"), "unknown ANA state");
	/* The transition state is refused with its reason, and nothing changes. */
	{
		unsigned changes = atomic_load(&nvb_target_find_ana_group(2)->change_count);

		call_fails("set-ana-state", params("{\"group\":2,\"state\":\"change\"}"),
			   "ANA group 2: " NVB_ANA_CHANGE_REFUSED);
		ck_assert_int_eq(atomic_load(&nvb_target_find_ana_group(2)->state),
				 NVB_ANA_INACCESSIBLE);
		ck_assert_uint_eq(atomic_load(&nvb_target_find_ana_group(2)->change_count),
				  changes);
	}
	call_fails("set-ana-state", params("{\"group\":9,\"state\":\"optimized\"}"), "no ANA group 9");

	ck_assert(!nvb_subsys_host_allowed(ss, HOST_A));
	r = call("allow-host", params("{\"nqn\":\"" SS1 "\",\"host\":\"" HOST_A "\"}"));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "hosts")), 1);
	json_object_put(r);
	ck_assert(nvb_subsys_host_allowed(ss, HOST_A));
	r = call("deny-host", params("{\"nqn\":\"" SS1 "\",\"host\":\"" HOST_A "\"}"));
	ck_assert_int_eq(json_object_array_length(json_object_object_get(r, "hosts")), 0);
	json_object_put(r);
	ck_assert(!nvb_subsys_host_allowed(ss, HOST_A));
	call_fails("deny-host", params("{\"nqn\":\"" SS1 "\",\"host\":\"" HOST_A "\"}"),
		   "not in the allowed list");
}
END_TEST

START_TEST(test_save)
{
	char path[192], err[1024] = "", *text;
	struct nvb_config *cfg;
	struct json_object *r;
	struct stat st;
	glob_t g;
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "%s/saved.conf", dir);
	json_object_put(call("add-namespace", params("{\"nqn\":\"" SS2 "\",\"nsid\":3,"
						     "\"backend\":\"ram\",\"size\":\"1M\"}")));
	json_object_put(call("set-ana-state",
			     params("{\"group\":1,\"state\":\"persistent-loss\"}")));
	{
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "path", json_object_new_string(path));
		r = call("save", p);
	}
	ck_assert_str_eq(field_str(r, "path"), path);
	json_object_put(r);

	ck_assert_int_eq(stat(path, &st), 0);
	text = calloc(1, (size_t)st.st_size + 1);
	f = fopen(path, "r");
	ck_assert_int_eq(fread(text, 1, (size_t)st.st_size, f), st.st_size);
	fclose(f);
	ck_assert_msg(nvb_config_parse(text, path, &cfg, err, sizeof(err)) == 0, "%s\n%s", err, text);
	free(text);
	ck_assert_int_eq(cfg->nsubsys, 2);
	for (int i = 0; i < cfg->nsubsys; i++)
		if (strcmp(cfg->subsys[i].nqn, SS2) == 0 && cfg->subsys[i].nns == 1 &&
		    cfg->subsys[i].ns[0].nsid == 3 && cfg->subsys[i].ns[0].size == (1 << 20))
			found = true;
	ck_assert_msg(found, "the added namespace was not saved");
	for (int i = 0; i < cfg->nana_groups; i++)
		if (cfg->ana_groups[i].id == 1)
			ck_assert_int_eq(cfg->ana_groups[i].state, NVB_ANA_PERSISTENT_LOSS);
	nvb_config_free(cfg);

	/* No temporary file left behind. */
	snprintf(path, sizeof(path), "%s/saved.conf.tmp.*", dir);
	ck_assert_int_eq(glob(path, 0, NULL, &g), GLOB_NOMATCH);
}
END_TEST

START_TEST(test_protocol_errors)
{
	int fd = raw_connect();
	struct json_object *rsp;

	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_PARSE_ERROR);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"version\"} trailing\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_PARSE_ERROR);
	json_object_put(rsp);
	raw_send(fd, "[1,2]\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_INVALID_REQUEST);
	json_object_put(rsp);
	raw_send(fd, "{\"id\":2,\"method\":\"version\"}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_INVALID_REQUEST);
	ck_assert_int_eq(field_int(rsp, "id"), 2);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"frobnicate\"}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_METHOD_NOT_FOUND);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"remove-namespace\","
		 "\"params\":{\"nqn\":\"" SS1 "\",\"nsid\":\"one\"}}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_INVALID_PARAMS);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"list-ports\",\"params\":{\"x\":1}}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_INVALID_PARAMS);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"list-ports\",\"params\":[1]}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_INVALID_PARAMS);
	json_object_put(rsp);
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"remove-namespace\","
		 "\"params\":{\"nqn\":\"" SS1 "\",\"nsid\":99}}\n");
	ck_assert_int_eq(error_code(rsp = raw_recv(fd)), NVB_CTL_FAILED);
	json_object_put(rsp);

	/* A notification gets no answer; blank lines are ignored; two requests
	 * in one write get two answers in order. */
	raw_send(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"version\"}\n\n"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"version\"}\n"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"version\"}\n");
	rsp = raw_recv(fd);
	ck_assert_str_eq(field_str(rsp, "id"), "a");
	ck_assert_ptr_nonnull(json_object_object_get(rsp, "result"));
	json_object_put(rsp);
	rsp = raw_recv(fd);
	ck_assert_str_eq(field_str(rsp, "id"), "b");
	json_object_put(rsp);
	close(fd);
}
END_TEST

START_TEST(test_oversized_line)
{
	int good = raw_connect(), bad = raw_connect();
	size_t chunk = 64 << 10, sent = 0;
	char *junk = malloc(chunk);
	struct json_object *rsp;

	memset(junk, 'x', chunk);
	/* A stalled half line on one client does not hold up another. */
	raw_send(bad, "{\"jsonrpc\":");
	raw_send(good, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"version\"}\n");
	rsp = raw_recv(good);
	ck_assert_ptr_nonnull(json_object_object_get(rsp, "result"));
	json_object_put(rsp);

	/* More than 1 MiB without a newline: an error, then the server hangs up. */
	while (sent < (1u << 20) + 2 * chunk) {
		ssize_t n = send(bad, junk, chunk, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	free(junk);
	rsp = raw_recv(bad);
	ck_assert_int_eq(error_code(rsp), NVB_CTL_INVALID_REQUEST);
	json_object_put(rsp);
	ck_assert_ptr_null(raw_recv(bad));      /* then EOF */
	close(bad);

	raw_send(good, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"version\"}\n");
	rsp = raw_recv(good);
	ck_assert_ptr_nonnull(rsp);
	ck_assert_int_eq(field_int(rsp, "id"), 2);
	json_object_put(rsp);
	close(good);
}
END_TEST

START_TEST(test_client_gone_midway)
{
	/* A client that sends a request and vanishes before reading. */
	for (int i = 0; i < 20; i++) {
		int fd = raw_connect();

		raw_send(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"help\"}\n");
		close(fd);
	}
	json_object_put(call("version", NULL));
}
END_TEST

START_TEST(test_start_refusals)
{
	char err[512] = "", other[192];

	/* Our own socket is live: a second server (another daemon) must refuse. */
	ck_assert_int_eq(nvb_ctl_start(sock_path, frontends, 1, err, sizeof(err)), -1);

	/* Not reachable: a clear message naming the socket. */
	snprintf(other, sizeof(other), "%s/absent.sock", dir);
	ck_assert_ptr_null(nvb_ctl_call(other, "version", NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "cannot reach nvbridged at") && strstr(err, other), "%s", err);
}
END_TEST

/* Without a running server: stale sockets, live sockets, non-sockets. */
START_TEST(test_stale_and_live)
{
	char d[64] = "/tmp/nvb-ctl-test.XXXXXX", path[128], err[512] = "";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	nvb_log_set_level(NVB_LOG_ERR);
	ck_assert_ptr_nonnull(mkdtemp(d));
	snprintf(path, sizeof(path), "%s/s.sock", d);
	strcpy(sa.sun_path, path);

	/* Someone is listening: refuse, and leave their socket alone. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(nvb_ctl_start(path, NULL, 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "another nvbridged is running on"), "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
	close(fd);

	/* Nobody listens any more: a stale socket, replaced. */
	ck_assert_msg(nvb_ctl_start(path, NULL, 0, err, sizeof(err)) == 0, "%s", err);
	nvb_ctl_stop();
	ck_assert_int_eq(access(path, F_OK), -1);

	/* A regular file there is not ours to remove. */
	fclose(fopen(path, "w"));
	ck_assert_int_eq(nvb_ctl_start(path, NULL, 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a socket"), "%s", err);
	unlink(path);
	rmdir(d);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("server");
	TCase *tc_start = tcase_create("start");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_socket_mode);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_namespace_changes);
	tcase_add_test(tc, test_ana_and_hosts);
	tcase_add_test(tc, test_save);
	tcase_add_test(tc, test_protocol_errors);
	tcase_add_test(tc, test_oversized_line);
	tcase_add_test(tc, test_client_gone_midway);
	tcase_add_test(tc, test_start_refusals);
	suite_add_tcase(s, tc);
	tcase_add_test(tc_start, test_stale_and_live);
	suite_add_tcase(s, tc_start);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

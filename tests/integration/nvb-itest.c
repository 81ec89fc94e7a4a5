/* SPDX-License-Identifier: MIT */
/*
 * nvb-itest: integration scenarios against a running nvbridged, through the
 * userspace host library. The shell drivers in this directory start the
 * daemon and call `nvb-itest SCENARIO OPTIONS`; exit 0 means the scenario
 * held, anything else is a failure explained on stderr.
 */
#include "tests/integration/itest.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>

/* itest_resv.c */
int scenario_resv(const struct itest_args *a);
int scenario_resv_ptpl_set(const struct itest_args *a);
int scenario_resv_ptpl_check(const struct itest_args *a);

static const struct scenario {
	const char *name;
	int (*run)(const struct itest_args *a);
	const char *help;
} scenarios[] = {
	{ "io", scenario_io, "admin + 4 I/O queues, --mib MiB written and read back across queues" },
	{ "discovery", scenario_discovery, "discovery log through each port lists every port" },
	{ "ana", scenario_ana, "ANA log, AEN and I/O status as a group goes inaccessible and back" },
	{ "keepalive", scenario_keepalive, "a silent host is dropped, a talking one stays" },
	{ "hosts", scenario_hosts, "allowed hosts, allow-host and deny-host at run time" },
	{ "ns-change", scenario_ns_change, "resize/add/remove a namespace, with AENs" },
	{ "errors", scenario_errors, "NVMe error statuses for bad commands" },
	{ "imported", scenario_imported, "the nvmetcli-imported subsystem: ids and data" },
	{ "sigterm-write", scenario_sigterm_write, "write and flush until the daemon goes away" },
	{ "sigterm-verify", scenario_sigterm_verify, "check what sigterm-write had acknowledged" },
	{ "resv", scenario_resv, "reservations across two hosts, fused compare-and-write races" },
	{ "resv-ptpl-set", scenario_resv_ptpl_set, "register and reserve with PTPL on" },
	{ "resv-ptpl-check", scenario_resv_ptpl_check, "after a restart: the reservation is back" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: nvb-itest SCENARIO [options]\n"
		"  --addr A        target address (127.0.0.1)\n"
		"  --port P        a port of the daemon; repeat for the second port\n"
		"  --nqn NQN       subsystem under test; --nqn2 NQN a second one\n"
		"  --socket PATH   the daemon's control socket\n"
		"  --hostnqn H     host NQN to use; --hostnqn2 H another one\n"
		"  --hdgst --ddgst ask for digests\n"
		"  --mib N         data volume (io)      --seconds N  duration\n"
		"  --state FILE    state file (sigterm-*)\n"
		"  --serial S --nguid HEX   expected identifiers (imported)\n"
		"  --seed N\nScenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(out, "  %-15s %s\n", scenarios[i].name, scenarios[i].help);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "nqn", required_argument, NULL, 'n' },
		{ "nqn2", required_argument, NULL, 'N' },
		{ "socket", required_argument, NULL, 's' },
		{ "hostnqn", required_argument, NULL, 'H' },
		{ "hostnqn2", required_argument, NULL, 'O' },
		{ "hdgst", no_argument, NULL, 'g' },
		{ "ddgst", no_argument, NULL, 'G' },
		{ "mib", required_argument, NULL, 'm' },
		{ "seconds", required_argument, NULL, 't' },
		{ "state", required_argument, NULL, 'S' },
		{ "serial", required_argument, NULL, 'r' },
		{ "nguid", required_argument, NULL, 'u' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct itest_args a = {
		.addr = "127.0.0.1",
		.hostnqn = NVMEH_TEST_HOSTNQN,
		.hostnqn2 = "nqn.2026-04.io.nvbridge:host:intruder",
		.mib = 256,
		.seconds = 10,
		.seed = 0x6e766272696467ull,
	};
	int opt;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': a.addr = optarg; break;
		case 'p':
			if (a.nports == ITEST_MAX_PORTS) {
				fprintf(stderr, "nvb-itest: at most %d ports\n", ITEST_MAX_PORTS);
				return 2;
			}
			a.port[a.nports++] = optarg;
			break;
		case 'n': a.nqn = optarg; break;
		case 'N': a.nqn2 = optarg; break;
		case 's': a.socket = optarg; break;
		case 'H': a.hostnqn = optarg; break;
		case 'O': a.hostnqn2 = optarg; break;
		case 'g': a.hdgst = true; break;
		case 'G': a.ddgst = true; break;
		case 'm': a.mib = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': a.seconds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': a.state = optarg; break;
		case 'r': a.serial = optarg; break;
		case 'u': a.nguid = optarg; break;
		case 'e': a.seed = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !a.nports || !a.nqn) {
		fprintf(stderr, "nvb-itest: --port and --nqn are required\n");
		return 2;
	}
	/* A target that closes a queue must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (strcmp(argv[1], scenarios[i].name) == 0) {
			double t0 = itest_now();
			int rc;

			itest_log("== %s", scenarios[i].name);
			rc = scenarios[i].run(&a);
			itest_log("== %s: %s (%.1f s)", scenarios[i].name, rc ? "FAILED" : "passed",
				  itest_now() - t0);
			return rc ? 1 : 0;
		}
	}
	fprintf(stderr, "nvb-itest: unknown scenario '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

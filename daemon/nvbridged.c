/* SPDX-License-Identifier: MIT */
/*
 * nvbridged: serves NVMe namespaces over NVMe/TCP (and, later, iSCSI).
 *
 * Runs in the foreground and logs to stderr, as systemd expects. The main
 * thread is the control thread: it owns configuration changes and the
 * control socket; reactor threads carry all I/O. This is the only file that
 * names the front ends.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/ctl.h"
#include "bridge/frontend.h"
#include "bridge/log.h"
#include "bridge/reactor.h"
#include "bridge/target.h"
#include "iscsi/iscsi_config.h"
#include "nvmetcp/tcp.h"

#define DEFAULT_CONFIG NVB_SYSCONFDIR "/nvbridge/nvbridged.conf"

static const struct nvb_frontend_ops *const frontends[] = {
	&nvmetcp_frontend,
};
#define NFRONTENDS ((int)(sizeof(frontends) / sizeof(frontends[0])))

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: nvbridged [-c FILE] [-t] [-d] [-V]\n"
		"  -c, --config FILE   configuration file (default %s)\n"
		"  -t, --test-config   check the configuration and exit\n"
		"  -d, --debug         log at debug level\n"
		"  -V, --version       print the version and exit\n"
		"Runs in the foreground and logs to stderr. SIGTERM or SIGINT: stop accepting,\n"
		"finish in-flight I/O, flush backends, exit 0.\n", DEFAULT_CONFIG);
}

/* SIGTERM/SIGINT end the control loop; they arrive through a signalfd so the
 * shutdown runs in ordinary code, never in a handler. */
static int setup_signals(void)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts, so every thread inherits the mask. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		return -1;
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

/* Returns the signal that ended the loop. */
static int serve_until_signal(int sigfd)
{
	for (;;) {
		struct signalfd_siginfo si;

		nvb_ctl_run(sigfd);
		if (read(sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			nvb_info("SIGHUP ignored: change the running target with nvbridgectl");
			continue;
		}
		return (int)si.ssi_signo;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = DEFAULT_CONFIG;
	bool test_only = false, debug = false;
	struct nvb_config *cfg;
	char err[1024];
	int opt, sigfd, started = 0, signo;

	while ((opt = getopt_long(argc, argv, "c:tdVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = optarg; break;
		case 't': test_only = true; break;
		case 'd': debug = true; break;
		case 'V': printf("nvbridged %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Front ends' config sections, before the file is read. */
	nvb_config_register_section(&iscsi_config_section);
	if (nvb_config_load(config_path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "nvbridged: %s\n", err);
		return 1;
	}
	if (iscsi_config_get(cfg) && iscsi_config_get(cfg)->ntargets)
		nvb_warn("iscsi: configured targets are not served yet (connection layer pending)");
	if (test_only) {
		printf("%s: configuration OK\n", config_path);
		nvb_config_free(cfg);
		return 0;
	}
	nvb_log_set_level(debug ? NVB_LOG_DEBUG : (enum nvb_log_level)cfg->log_level);

	sigfd = setup_signals();
	if (sigfd < 0) {
		fprintf(stderr, "nvbridged: signals: %s\n", strerror(errno));
		nvb_config_free(cfg);
		return 1;
	}
	int rc = nvb_reactors_start(cfg->reactors);
	if (rc != 0) {
		fprintf(stderr, "nvbridged: starting reactors: %s\n", strerror(-rc));
		nvb_config_free(cfg);
		return 1;
	}
	/* The target owns cfg from here on, also on failure. */
	if (nvb_target_init(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "nvbridged: %s\n", err);
		nvb_reactors_stop();
		return 1;
	}
	for (started = 0; started < NFRONTENDS; started++) {
		if (frontends[started]->start(nvb_target(), err, sizeof(err)) != 0) {
			fprintf(stderr, "nvbridged: %s\n", err);
			goto fail;
		}
	}
	if (nvb_ctl_start(nvb_target()->cfg->ctl_socket, frontends, NFRONTENDS,
			  err, sizeof(err)) != 0) {
		fprintf(stderr, "nvbridged: control socket: %s\n", err);
		goto fail;
	}
	nvb_info("nvbridged %s ready: %d reactor(s), %d subsystem(s), %d port(s), control socket %s",
		 PACKAGE_VERSION, nvb_reactor_count(), nvb_target()->nsubsys,
		 nvb_target()->nports, nvb_target()->cfg->ctl_socket);

	signo = serve_until_signal(sigfd);
	nvb_info("%s: stopping (no new connections; finishing in-flight I/O)", strsignal(signo));
	nvb_ctl_stop();
	for (int i = 0; i < NFRONTENDS; i++)
		frontends[i]->stop_accepting();
	for (int i = 0; i < NFRONTENDS; i++)
		frontends[i]->drain();
	nvb_reactors_stop();
	for (int i = 0; i < NFRONTENDS; i++)
		frontends[i]->cleanup();
	nvb_target_shutdown();      /* flushes every backend */
	close(sigfd);
	nvb_info("stopped cleanly");
	return 0;

fail:
	for (int i = 0; i < started; i++) {
		frontends[i]->stop_accepting();
		frontends[i]->drain();
	}
	nvb_reactors_stop();
	for (int i = 0; i < started; i++)
		frontends[i]->cleanup();
	nvb_target_shutdown();
	return 1;
}

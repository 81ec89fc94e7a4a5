/* SPDX-License-Identifier: MIT */
/*
 * Scenario "keepalive": two controllers connect with KATO 2 s. One goes
 * silent (no Keep Alive, no command); the target must drop all its queues
 * within about 2 × KATO (NVMe 2.0 §3.9.4) and forget it in
 * list-controllers. The other sends Keep Alive and I/O all along and must
 * not notice anything.
 */
#include "tests/integration/itest.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#define KATO_MS         2000
#define SLACK_MS        1500

/* Drain what the target sent on fd (a TermReq, say); true at EOF/reset. */
static bool queue_closed(int fd)
{
	char buf[512];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
	}
}

int scenario_keepalive(const struct itest_args *a)
{
	struct nvmeh_ctrl *silent, *talker;
	struct nvmeh_opts o;
	double t0, closed_at[2] = { 0, 0 }, last_talk = 0;
	unsigned talks = 0;
	int silent_id, talker_id;
	uint64_t lba = 0;
	int rc;

	CHECK(a->socket, "keepalive needs --socket");
	itest_opts(a, &o, 0, NULL);
	o.kato_ms = KATO_MS;
	o.nr_io_queues = 1;
	talker = itest_connect(&o, "talking host");
	silent = itest_connect(&o, "silent host");
	t0 = itest_now();
	silent_id = nvmeh_info(silent)->cntlid;
	talker_id = nvmeh_info(talker)->cntlid;
	itest_log("  silent cntlid %d, talking cntlid %d, KATO %d ms", silent_id, talker_id,
		  KATO_MS);
	{
		uint32_t kato = 0;

		CHECK_OK(nvmeh_get_features(silent, NVME_FEAT_FID_KATO, 0, &kato),
			 "Get Features Keep Alive Timer");
		CHECK(kato == KATO_MS, "Get Features KATO says %u ms; Connect asked %d", kato,
		      KATO_MS);
		t0 = itest_now();
	}
	CHECK(itest_ctl_has_controller(a->socket, a->nqn, silent_id),
	      "list-controllers does not show the silent controller %d at first", silent_id);

	while ((!closed_at[0] || !closed_at[1]) && itest_now() - t0 < (2.0 * KATO_MS + SLACK_MS) / 1000) {
		struct pollfd pfd[2] = {
			{ .fd = nvmeh_queue_fd(silent, 0), .events = POLLIN },
			{ .fd = nvmeh_queue_fd(silent, 1), .events = POLLIN },
		};

		if (poll(pfd, 2, 100) > 0) {
			for (int q = 0; q < 2; q++)
				if (!closed_at[q] && pfd[q].revents && queue_closed(pfd[q].fd))
					closed_at[q] = itest_now();
		}
		if (itest_now() - last_talk > 0.4) {
			CHECK_OK(nvmeh_keep_alive(talker), "Keep Alive of the talking host");
			itest_write_read(talker, 1, 1, lba, 8, a->seed, "talking host I/O");
			lba += 8;
			talks++;
			last_talk = itest_now();
		}
	}
	itest_log("  silent admin queue closed after %.2f s, I/O queue after %.2f s "
		  "(0 = not closed); the talking host did %u keep-alive + I/O rounds",
		  closed_at[0] ? closed_at[0] - t0 : 0, closed_at[1] ? closed_at[1] - t0 : 0, talks);
	CHECK(closed_at[0], "the silent host's admin queue is still open after %.1f s",
	      (2.0 * KATO_MS + SLACK_MS) / 1000);
	CHECK(closed_at[1], "the silent host's I/O queue is still open after %.1f s",
	      (2.0 * KATO_MS + SLACK_MS) / 1000);
	CHECK(closed_at[0] - t0 >= KATO_MS / 2000.0,
	      "dropped after only %.2f s, before KATO (%d ms) could expire", closed_at[0] - t0,
	      KATO_MS);

	/* The dropped controller is gone from the daemon's list. */
	for (int i = 0; i < 30 && itest_ctl_has_controller(a->socket, a->nqn, silent_id); i++)
		itest_sleep_ms(100);
	CHECK(!itest_ctl_has_controller(a->socket, a->nqn, silent_id),
	      "list-controllers still shows dropped controller %d", silent_id);
	CHECK(itest_ctl_has_controller(a->socket, a->nqn, talker_id),
	      "list-controllers lost the talking controller %d", talker_id);

	{
		void *buf = itest_alloc(4096);

		rc = nvmeh_read(silent, 1, 1, 0, 1, buf, 512);
		free(buf);
		itest_log("  I/O on the dropped controller: %s", itest_status_str(rc));
		CHECK(rc < 0, "I/O on the dropped controller got %s, expected a transport error",
		      itest_status_str(rc));
	}
	itest_write_read(talker, 1, 1, lba, 8, a->seed, "talking host I/O after the drop");
	nvmeh_disconnect(silent);
	nvmeh_disconnect(talker);
	return 0;
}

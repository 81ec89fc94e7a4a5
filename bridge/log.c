/* SPDX-License-Identifier: MIT */
#include "bridge/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static volatile enum nvb_log_level current_level = NVB_LOG_INFO;
/* -1 unknown, 0 plain, 1 journald (sd-daemon "<N>" priority prefixes). */
static volatile int to_journal = -1;

static const char *const level_names[] = {
	[NVB_LOG_ERR] = "error", [NVB_LOG_WARN] = "warning",
	[NVB_LOG_INFO] = "info", [NVB_LOG_DEBUG] = "debug",
};

/* <N> prefixes are sd-daemon(3) priorities, so journald keeps the level. */
static const char *const level_prefix[] = {
	[NVB_LOG_ERR] = "<3>", [NVB_LOG_WARN] = "<4>",
	[NVB_LOG_INFO] = "<6>", [NVB_LOG_DEBUG] = "<7>",
};

void nvb_log_set_level(enum nvb_log_level level) { current_level = level; }
enum nvb_log_level nvb_log_get_level(void) { return current_level; }

int nvb_log_level_parse(const char *name, enum nvb_log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum nvb_log_level)i;
			return 0;
		}
	}
	return -1;
}

void nvb_log(enum nvb_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > current_level)
		return;
	/* systemd sets JOURNAL_STREAM when stderr goes to the journal; only
	 * then do "<N>" prefixes carry the level instead of cluttering a terminal. */
	if (to_journal < 0)
		to_journal = getenv("JOURNAL_STREAM") != NULL;
	n = snprintf(line, sizeof(line), "%s%s: ", to_journal ? level_prefix[level] : "",
		     level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps lines from different threads whole. */
	size_t len = strlen(line);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len] = '\n';
	line[len + 1] = '\0';
	fputs(line, stderr);
}

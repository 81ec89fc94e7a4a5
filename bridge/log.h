/* SPDX-License-Identifier: MIT */
/* Logging to stderr, the way systemd's journal expects a foreground daemon to. */
#ifndef NVB_LOG_H
#define NVB_LOG_H

enum nvb_log_level { NVB_LOG_ERR = 0, NVB_LOG_WARN, NVB_LOG_INFO, NVB_LOG_DEBUG };

void nvb_log_set_level(enum nvb_log_level level);
enum nvb_log_level nvb_log_get_level(void);
/* Returns 0 and sets *out for "error", "warning", "info", "debug"; -1 otherwise. */
int nvb_log_level_parse(const char *name, enum nvb_log_level *out);
void nvb_log(enum nvb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define nvb_err(...)   nvb_log(NVB_LOG_ERR, __VA_ARGS__)
#define nvb_warn(...)  nvb_log(NVB_LOG_WARN, __VA_ARGS__)
#define nvb_info(...)  nvb_log(NVB_LOG_INFO, __VA_ARGS__)
#define nvb_debug(...) do { if (nvb_log_get_level() >= NVB_LOG_DEBUG) \
	nvb_log(NVB_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif

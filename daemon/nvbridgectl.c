/* SPDX-License-Identifier: MIT */
/*
 * nvbridgectl: the administrator's command line for a running nvbridged,
 * over its control socket (JSON-RPC, see docs/ctl.md). Aligned tables for
 * people, --json for scripts. import-nvmetcli works without a daemon.
 *
 * Exit status: 0 success, 1 the operation failed (the daemon's reason on
 * stderr), 2 the command line is wrong.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/config.h"
#include "bridge/ctl.h"
#include "bridge/nvme.h"

#define EXIT_FAIL  1
#define EXIT_USAGE 2

struct cli {
	const char *socket;
	bool json;
};

static void usage(FILE *out);

static void print_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void print_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("nvbridgectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'nvbridgectl help'.\n", stderr);
}

/* Prints the message and evaluates to EXIT_USAGE. A macro so that the
 * constant is in plain sight: static analysers do not follow variadic
 * calls, and would otherwise take a rejected argument for a parsed one. */
#define usage_error(...) (print_usage_error(__VA_ARGS__), EXIT_USAGE)

/* ---- argument checks ---------------------------------------------------- */

static int parse_uint(const char *text, const char *what, uint32_t min, uint32_t max,
		      uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (!*text || *end || errno || *text == '-' || v < min || v > max)
		return usage_error("%s must be a number %u..%u, not '%s'", what, min, max, text);
	*out = (uint32_t)v;
	return 0;
}

/* The daemon does not share our working directory: send absolute paths.
 * Returns path itself or buf. */
static const char *absolute_path(const char *path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return path;
	snprintf(buf, len, "%s/%s", cwd, path);
	return buf;
}

static int parse_size_arg(const char *text, uint64_t *out)
{
	if (nvb_size_parse(text, out) != 0)
		return usage_error("'%s' is not a size (bytes, or a number with K, M, G or T)",
				   text);
	return 0;
}

/* ---- output ------------------------------------------------------------- */

enum col_kind { COL_AUTO, COL_SIZE, COL_BOOL };

struct column {
	const char *title;
	const char *key;
	enum col_kind kind;
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("nvbridgectl: out of memory\n", stderr);
		exit(EXIT_FAIL);
	}
	return d;
}

/* Exact binary units when they fit ("1G", "512M"), bytes otherwise. */
static char *format_size(uint64_t bytes)
{
	static const char units[] = "KMGTP";
	char buf[32];
	int u = -1;

	while (bytes && u < 4 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, sizeof(buf), "%llu%c", (unsigned long long)bytes, units[u]);
	return xstrdup(buf);
}

static bool is_scalar(struct json_object *v)
{
	return !json_object_is_type(v, json_type_object) &&
	       !json_object_is_type(v, json_type_array);
}

/* An element of a list of scalars as text ("-" for a JSON null). */
static const char *list_item(struct json_object *list, size_t i)
{
	const char *s = json_object_get_string(json_object_array_get_idx(list, i));

	return s ? s : "-";
}

static char *format_cell(struct json_object *v, enum col_kind kind)
{
	if (!v)
		return xstrdup("-");
	if (kind == COL_SIZE && json_object_is_type(v, json_type_int))
		return format_size(json_object_get_uint64(v));
	if (json_object_is_type(v, json_type_boolean))
		return xstrdup(json_object_get_boolean(v) ? "yes" : "no");
	if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v), len = 1;
		char *out;

		if (n == 0)
			return xstrdup("-");
		/* A list of records shows as a count; its details get a table. */
		if (!is_scalar(json_object_array_get_idx(v, 0))) {
			char buf[24];

			snprintf(buf, sizeof(buf), "%zu", n);
			return xstrdup(buf);
		}
		for (size_t i = 0; i < n; i++)
			len += strlen(list_item(v, i)) + 1;
		out = malloc(len);
		if (!out)
			return xstrdup("?");
		len = 0;
		for (size_t i = 0; i < n; i++) {
			const char *item = list_item(v, i);
			size_t item_len = strlen(item);

			if (i)
				out[len++] = ',';
			memcpy(out + len, item, item_len);
			len += item_len;
		}
		out[len] = '\0';
		return out;
	}
	if (json_object_is_type(v, json_type_object))
		return xstrdup("{...}");
	return xstrdup(json_object_get_string(v));
}

/* An aligned table: a header row, then one row per object of `rows`. */
static void print_table(struct json_object *rows, const struct column *cols, int ncols)
{
	size_t nrows = json_object_array_length(rows);
	char **cells;
	size_t *width;

	if (ncols <= 0)         /* records without fields: nothing to show */
		return;
	cells = calloc((nrows + 1) * (size_t)ncols, sizeof(*cells));
	width = calloc((size_t)ncols, sizeof(*width));
	if (!cells || !width) {
		free(cells);
		free(width);
		return;
	}
	for (int c = 0; c < ncols; c++)
		cells[c] = xstrdup(cols[c].title);
	for (size_t r = 0; r < nrows; r++) {
		struct json_object *row = json_object_array_get_idx(rows, r);

		for (int c = 0; c < ncols; c++) {
			struct json_object *v = NULL;

			json_object_object_get_ex(row, cols[c].key, &v);
			cells[(r + 1) * (size_t)ncols + (size_t)c] = format_cell(v, cols[c].kind);
		}
	}
	for (size_t i = 0; i < (nrows + 1) * (size_t)ncols; i++) {
		size_t len = strlen(cells[i]);

		if (len > width[i % (size_t)ncols])
			width[i % (size_t)ncols] = len;
	}
	for (size_t r = 0; r <= nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *cell = cells[r * (size_t)ncols + (size_t)c];

			if (c == ncols - 1)
				printf("%s\n", cell);
			else
				printf("%-*s  ", (int)width[c], cell);
		}
	}
	for (size_t i = 0; i < (nrows + 1) * (size_t)ncols; i++)
		free(cells[i]);
	free(cells);
	free(width);
}

/* Titles from JSON keys: "read_bytes" -> "READ-BYTES". */
static char *title_of(const char *key)
{
	char *t = xstrdup(key);

	for (char *p = t; *p; p++)
		*p = *p == '_' ? '-' : (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
	return t;
}

/* A table for records whose fields we do not know in advance (front ends'
 * controllers): one column per top-level key of the first record. With
 * `details`, lists of records inside each row (per-queue statistics) get a
 * table of their own below. */
static void print_generic(struct json_object *rows, bool details)
{
	struct json_object *first;
	struct column *cols;
	int ncols = 0;

	if (json_object_array_length(rows) == 0) {
		printf("(none)\n");
		return;
	}
	first = json_object_array_get_idx(rows, 0);
	if (!json_object_is_type(first, json_type_object)) {
		printf("%s\n", json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PRETTY));
		return;
	}
	cols = calloc((size_t)json_object_object_length(first) + 1, sizeof(*cols));
	if (!cols)
		return;
	json_object_object_foreach(first, key, val) {
		(void)val;
		cols[ncols].title = title_of(key);
		cols[ncols].key = key;
		cols[ncols].kind = strstr(key, "bytes") || strcmp(key, "size") == 0 ? COL_SIZE
										    : COL_AUTO;
		ncols++;
	}
	print_table(rows, cols, ncols);
	for (int c = 0; details && c < ncols; c++) {
		for (size_t r = 0; r < json_object_array_length(rows); r++) {
			struct json_object *row = json_object_array_get_idx(rows, r), *sub, *label;

			if (!json_object_object_get_ex(row, cols[c].key, &sub) ||
			    !json_object_is_type(sub, json_type_array) ||
			    json_object_array_length(sub) == 0 ||
			    is_scalar(json_object_array_get_idx(sub, 0)))
				continue;
			label = NULL;
			json_object_object_get_ex(row, cols[0].key, &label);
			printf("\n%s %s %s:\n", cols[0].title,
			       label ? json_object_get_string(label) : "?", cols[c].key);
			print_generic(sub, false);
		}
	}
	for (int c = 0; c < ncols; c++)
		free((char *)cols[c].title);
	free(cols);
}

static void print_json(struct json_object *v)
{
	printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- talking to the daemon ---------------------------------------------- */

/* Call the daemon; NULL (after printing why) on failure. Takes params. */
static struct json_object *call(struct cli *cli, const char *method, struct json_object *params)
{
	char err[1024];
	struct json_object *result = nvb_ctl_call(cli->socket, method, params, err, sizeof(err));

	json_object_put(params);
	if (!result)
		fprintf(stderr, "nvbridgectl: %s\n", err);
	return result;
}

/* Print the result with `show` (or as JSON with --json) and set the exit code. */
static int call_and_show(struct cli *cli, const char *method, struct json_object *params,
			 void (*show)(struct json_object *result))
{
	struct json_object *result = call(cli, method, params);

	if (!result)
		return EXIT_FAIL;
	if (cli->json)
		print_json(result);
	else
		show(result);
	json_object_put(result);
	return 0;
}

static struct json_object *params_nqn_nsid(const char *nqn, uint32_t nsid)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "nqn", json_object_new_string(nqn));
	json_object_object_add(p, "nsid", json_object_new_int64(nsid));
	return p;
}

/* ---- list ---------------------------------------------------------------- */

static void show_subsystems(struct json_object *r)
{
	static const struct column cols[] = {
		{ "NQN", "nqn", COL_AUTO }, { "SERIAL", "serial", COL_AUTO },
		{ "MODEL", "model", COL_AUTO }, { "ANY-HOST", "allow_any_host", COL_BOOL },
		{ "NS", "namespaces", COL_AUTO }, { "HOSTS", "hosts", COL_AUTO },
	};
	print_table(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static void show_namespaces(struct json_object *r)
{
	static const struct column cols[] = {
		{ "SUBSYSTEM", "subsystem", COL_AUTO }, { "NSID", "nsid", COL_AUTO },
		{ "BACKEND", "backend", COL_AUTO }, { "SIZE", "size", COL_SIZE },
		{ "LBA", "lba_size", COL_AUTO }, { "ANA", "ana_group", COL_AUTO },
		{ "NGUID", "nguid", COL_AUTO }, { "PATH", "path", COL_AUTO },
	};
	print_table(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static void show_ports(struct json_object *r)
{
	static const struct column cols[] = {
		{ "ID", "id", COL_AUTO }, { "ADDRESS", "address", COL_AUTO },
		{ "PORT", "port", COL_AUTO }, { "FAMILY", "family", COL_AUTO },
		{ "ANA", "ana_group", COL_AUTO }, { "STATE", "ana_state", COL_AUTO },
		{ "ADVERTISE", "advertise", COL_AUTO }, { "SUBSYSTEMS", "subsystems", COL_AUTO },
	};
	print_table(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static void show_ana_groups(struct json_object *r)
{
	static const struct column cols[] = {
		{ "ID", "id", COL_AUTO }, { "STATE", "state", COL_AUTO },
		{ "CHANGES", "change_count", COL_AUTO }, { "PORTS", "ports", COL_AUTO },
	};
	print_table(r, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static void show_controllers(struct json_object *r)
{
	print_generic(r, false);
}

static const struct {
	const char *what;
	const char *method;
	void (*show)(struct json_object *r);
} list_kinds[] = {
	{ "subsystems", "list-subsystems", show_subsystems },
	{ "namespaces", "list-namespaces", show_namespaces },
	{ "ports", "list-ports", show_ports },
	{ "controllers", "list-controllers", show_controllers },
	{ "ana-groups", "list-ana-groups", show_ana_groups },
};

static int cmd_list(struct cli *cli, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(list_kinds) / sizeof(list_kinds[0]); i++) {
		struct json_object *params = NULL;

		if (strcmp(argv[1], list_kinds[i].what) != 0)
			continue;
		if (argc == 3) {
			if (strcmp(list_kinds[i].what, "namespaces") != 0)
				return usage_error("list %s takes no argument", argv[1]);
			params = json_object_new_object();
			json_object_object_add(params, "nqn", json_object_new_string(argv[2]));
		}
		return call_and_show(cli, list_kinds[i].method, params, list_kinds[i].show);
	}
	return usage_error("list what? subsystems, namespaces, ports, controllers or ana-groups");
}

/* ---- namespaces ----------------------------------------------------------- */

static void show_ns_added(struct json_object *r)
{
	char *size = format_size(json_object_get_uint64(json_object_object_get(r, "size")));

	printf("namespace %s of %s: %s %s, %d-byte blocks, NGUID %s\n",
	       json_object_get_string(json_object_object_get(r, "nsid")),
	       json_object_get_string(json_object_object_get(r, "subsystem")),
	       json_object_get_string(json_object_object_get(r, "backend")), size,
	       json_object_get_int(json_object_object_get(r, "lba_size")),
	       json_object_get_string(json_object_object_get(r, "nguid")));
	free(size);
}

static int cmd_add_ns(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "path", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 'S' },
		{ "lba-size", required_argument, NULL, 'l' },
		{ "ana-group", required_argument, NULL, 'a' },
		{ "nguid", required_argument, NULL, 'N' },
		{ "uuid", required_argument, NULL, 'U' },
		{ "eui64", required_argument, NULL, 'E' },
		{ "no-write-cache", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *p;
	const char *backend = NULL, *path = NULL, *ids[3] = { NULL, NULL, NULL };
	static const char *const id_keys[3] = { "nguid", "uuid", "eui64" };
	uint32_t nsid, lba_size = 512, ana_group = 0;
	uint64_t size = 0;
	bool have_size = false, no_cache = false;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "b:p:S:l:a:", opts, NULL)) != -1) {
		switch (opt) {
		case 'b': backend = optarg; break;
		case 'p': path = optarg; break;
		case 'S':
			if (parse_size_arg(optarg, &size))
				return EXIT_USAGE;
			have_size = true;
			break;
		case 'l':
			if (parse_uint(optarg, "--lba-size", 512, 4096, &lba_size))
				return EXIT_USAGE;
			if (lba_size != 512 && lba_size != 4096)
				return usage_error("--lba-size must be 512 or 4096");
			break;
		case 'a':
			if (parse_uint(optarg, "--ana-group", 1, NVB_MAX_ANA_GROUPS, &ana_group))
				return EXIT_USAGE;
			break;
		case 'N': ids[0] = optarg; break;
		case 'U': ids[1] = optarg; break;
		case 'E': ids[2] = optarg; break;
		case 'W': no_cache = true; break;
		default: return usage_error("add-ns: bad option");
		}
	}
	if (argc - optind != 2)
		return usage_error("usage: add-ns NQN NSID --backend file|ram [--path P] [--size S] "
				   "[--lba-size N]");
	if (parse_uint(argv[optind + 1], "NSID", 1, NVB_MAX_NSID, &nsid))
		return EXIT_USAGE;
	if (!backend || (strcmp(backend, "file") != 0 && strcmp(backend, "ram") != 0))
		return usage_error("add-ns needs --backend file or --backend ram");
	if (strcmp(backend, "file") == 0 && !path)
		return usage_error("--backend file needs --path");
	if (strcmp(backend, "ram") == 0 && !have_size)
		return usage_error("--backend ram needs --size");

	p = params_nqn_nsid(argv[optind], nsid);
	json_object_object_add(p, "backend", json_object_new_string(backend));
	if (path) {
		char abs[2 * PATH_MAX];

		json_object_object_add(p, "path", json_object_new_string(
			absolute_path(path, abs, sizeof(abs))));
	}
	if (have_size)
		json_object_object_add(p, "size", json_object_new_uint64(size));
	json_object_object_add(p, "lba_size", json_object_new_int64(lba_size));
	if (ana_group)
		json_object_object_add(p, "ana_group", json_object_new_int64(ana_group));
	if (no_cache)
		json_object_object_add(p, "volatile_write_cache", json_object_new_boolean(false));
	for (int i = 0; i < 3; i++)
		if (ids[i])
			json_object_object_add(p, id_keys[i], json_object_new_string(ids[i]));
	return call_and_show(cli, "add-namespace", p, show_ns_added);
}

static void show_removed(struct json_object *r)
{
	printf("namespace %s of %s removed\n",
	       json_object_get_string(json_object_object_get(r, "nsid")),
	       json_object_get_string(json_object_object_get(r, "subsystem")));
}

static int cmd_remove_ns(struct cli *cli, int argc, char **argv)
{
	uint32_t nsid;

	if (parse_uint(argv[2], "NSID", 1, NVB_MAX_NSID, &nsid))
		return EXIT_USAGE;
	return call_and_show(cli, "remove-namespace", params_nqn_nsid(argv[1], nsid),
			     show_removed);
}

static int cmd_resize_ns(struct cli *cli, int argc, char **argv)
{
	struct json_object *p;
	uint32_t nsid;
	uint64_t size;

	if (parse_uint(argv[2], "NSID", 1, NVB_MAX_NSID, &nsid) || parse_size_arg(argv[3], &size))
		return EXIT_USAGE;
	p = params_nqn_nsid(argv[1], nsid);
	json_object_object_add(p, "size", json_object_new_uint64(size));
	return call_and_show(cli, "resize-namespace", p, show_ns_added);
}

/* ---- ANA and hosts --------------------------------------------------------- */

static void show_ana_group(struct json_object *r)
{
	printf("ANA group %s: %s\n", json_object_get_string(json_object_object_get(r, "id")),
	       json_object_get_string(json_object_object_get(r, "state")));
}

static int cmd_set_ana(struct cli *cli, int argc, char **argv)
{
	struct json_object *p;
	enum nvb_ana_state state;
	uint32_t group;

	if (parse_uint(argv[1], "GROUP", 1, NVB_MAX_ANA_GROUPS, &group))
		return EXIT_USAGE;
	if (nvb_ana_state_parse(argv[2], &state) != 0)
		return usage_error("unknown ANA state '%s' (optimized, non-optimized, "
				   "inaccessible, persistent-loss)", argv[2]);
	p = json_object_new_object();
	json_object_object_add(p, "group", json_object_new_int64(group));
	json_object_object_add(p, "state", json_object_new_string(argv[2]));
	return call_and_show(cli, "set-ana-state", p, show_ana_group);
}

static void show_hosts(struct json_object *r)
{
	struct json_object *hosts = json_object_object_get(r, "hosts");

	printf("%s: %s; allowed hosts:%s\n", json_object_get_string(json_object_object_get(r, "nqn")),
	       json_object_get_boolean(json_object_object_get(r, "allow_any_host")) ?
	       "any host may connect" : "only listed hosts may connect",
	       json_object_array_length(hosts) ? "" : " none");
	for (size_t i = 0; i < json_object_array_length(hosts); i++)
		printf("  %s\n", json_object_get_string(json_object_array_get_idx(hosts, i)));
}

static int change_host(struct cli *cli, char **argv, const char *method)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "nqn", json_object_new_string(argv[1]));
	json_object_object_add(p, "host", json_object_new_string(argv[2]));
	return call_and_show(cli, method, p, show_hosts);
}

static int cmd_allow_host(struct cli *cli, int argc, char **argv)
{
	return change_host(cli, argv, "allow-host");
}

static int cmd_deny_host(struct cli *cli, int argc, char **argv)
{
	return change_host(cli, argv, "deny-host");
}

/* ---- stats, save, version ---------------------------------------------------- */

static void show_stats(struct json_object *r)
{
	static const struct column cols[] = {
		{ "SUBSYSTEM", "subsystem", COL_AUTO }, { "NSID", "nsid", COL_AUTO },
		{ "COMMANDS", "commands", COL_AUTO }, { "READS", "reads", COL_AUTO },
		{ "WRITES", "writes", COL_AUTO }, { "READ", "read_bytes", COL_SIZE },
		{ "WRITTEN", "write_bytes", COL_SIZE }, { "ERRORS", "errors", COL_AUTO },
		{ "AVG-US", "avg_latency_us", COL_AUTO }, { "P50-US", "p50_latency_us", COL_AUTO },
		{ "P99-US", "p99_latency_us", COL_AUTO },
	};
	print_table(json_object_object_get(r, "namespaces"), cols,
		    (int)(sizeof(cols) / sizeof(cols[0])));
	printf("\nControllers:\n");
	print_generic(json_object_object_get(r, "controllers"), true);
}

static int cmd_stats(struct cli *cli, int argc, char **argv)
{
	return call_and_show(cli, "stats", NULL, show_stats);
}

static void show_saved(struct json_object *r)
{
	printf("running configuration saved to %s\n",
	       json_object_get_string(json_object_object_get(r, "path")));
}

static int cmd_save(struct cli *cli, int argc, char **argv)
{
	struct json_object *p = NULL;

	if (argc == 2) {
		char abs[2 * PATH_MAX];

		p = json_object_new_object();
		json_object_object_add(p, "path", json_object_new_string(
			absolute_path(argv[1], abs, sizeof(abs))));
	}
	return call_and_show(cli, "save", p, show_saved);
}

static void show_version(struct json_object *r)
{
	printf("nvbridgectl %s\nnvbridged %s\n", PACKAGE_VERSION,
	       json_object_get_string(json_object_object_get(r, "version")));
}

static int cmd_version(struct cli *cli, int argc, char **argv)
{
	return call_and_show(cli, "version", NULL, show_version);
}

/* ---- import-nvmetcli (no daemon) -------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out_path = NULL;
	struct nvb_config *cfg = NULL;
	char *text, *warnings = NULL, err[1024];
	FILE *out = stdout;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (opt != 'o')
			return usage_error("import-nvmetcli: bad option");
		out_path = optarg;
	}
	if (argc - optind != 1)
		return usage_error("usage: import-nvmetcli JSONFILE [-o OUT]");
	text = read_file(argv[optind]);
	if (!text) {
		fprintf(stderr, "nvbridgectl: %s: %s\n", argv[optind], strerror(errno));
		return EXIT_FAIL;
	}
	rc = nvb_import_nvmetcli(text, &cfg, &warnings, err, sizeof(err));
	free(text);
	if (warnings && *warnings)
		fprintf(stderr, "%s%s", warnings, warnings[strlen(warnings) - 1] == '\n' ? "" : "\n");
	free(warnings);
	if (rc != 0) {
		fprintf(stderr, "nvbridgectl: %s: %s\n", argv[optind], err);
		return EXIT_FAIL;
	}
	if (out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "nvbridgectl: %s: %s\n", out_path, strerror(errno));
		nvb_config_free(cfg);
		return EXIT_FAIL;
	}
	rc = nvb_config_write(cfg, out);
	if (fflush(out) != 0)
		rc = -1;
	if (out != stdout && fclose(out) != 0)
		rc = -1;
	nvb_config_free(cfg);
	if (rc != 0) {
		fprintf(stderr, "nvbridgectl: writing %s failed\n", out_path ? out_path : "output");
		return EXIT_FAIL;
	}
	return 0;
}

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	usage(stdout);
	return 0;
}

/* ---- the table of commands -------------------------------------------------- */

static const struct command {
	const char *name;
	int min_args, max_args;         /* words after the command name */
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *synopsis;
	const char *help;
} commands[] = {
	{ "list", 1, 2, cmd_list, "list subsystems|namespaces [NQN]|ports|controllers|ana-groups",
	  "show the running target" },
	{ "add-ns", 2, -1, cmd_add_ns,
	  "add-ns NQN NSID --backend file|ram [--path P] [--size S] [--lba-size 512|4096]\n"
	  "         [--ana-group G] [--nguid HEX] [--uuid UUID] [--eui64 HEX] [--no-write-cache]",
	  "add a namespace" },
	{ "remove-ns", 2, 2, cmd_remove_ns, "remove-ns NQN NSID", "remove a namespace" },
	{ "resize-ns", 3, 3, cmd_resize_ns, "resize-ns NQN NSID SIZE", "grow or shrink a namespace" },
	{ "set-ana", 2, 2, cmd_set_ana, "set-ana GROUP STATE",
	  "set an ANA group's state (optimized, non-optimized, inaccessible,\n"
	  "         persistent-loss)" },
	{ "allow-host", 2, 2, cmd_allow_host, "allow-host NQN HOSTNQN", "let a host connect" },
	{ "deny-host", 2, 2, cmd_deny_host, "deny-host NQN HOSTNQN",
	  "stop a host connecting and drop its controllers" },
	{ "stats", 0, 0, cmd_stats, "stats", "I/O statistics per namespace and per queue" },
	{ "save", 0, 1, cmd_save, "save [FILE]",
	  "write the running configuration (default: the daemon's config file)" },
	{ "version", 0, 0, cmd_version, "version", "client and daemon versions" },
	{ "import-nvmetcli", 1, -1, cmd_import, "import-nvmetcli JSONFILE [-o OUT]",
	  "convert an nvmetcli JSON config to an nvbridged config (no daemon needed)" },
	{ "help", 0, 0, cmd_help, "help", "this text" },
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: nvbridgectl [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
		"  -s, --socket PATH  control socket (default $NVBRIDGE_CTL_SOCKET or %s)\n"
		"  -j, --json         print the daemon's raw JSON answer\n\nCommands:\n",
		NVB_DEFAULT_CTL_SOCKET);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n         %s\n", commands[i].synopsis, commands[i].help);
	fprintf(out, "\nSizes are bytes or a number with K, M, G or T (binary). Exit status: 0 ok,\n"
		"1 the operation failed, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .socket = getenv("NVBRIDGE_CTL_SOCKET") };
	int opt, nargs;

	if (!cli.socket || !*cli.socket)
		cli.socket = NVB_DEFAULT_CTL_SOCKET;
	/* '+': options after the command belong to the command. */
	while ((opt = getopt_long(argc, argv, "+s:jhV", opts, NULL)) != -1) {
		switch (opt) {
		case 's': cli.socket = optarg; break;
		case 'j': cli.json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("nvbridgectl %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	nargs = argc - 1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->name) != 0)
			continue;
		if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args))
			return usage_error("usage: %s", c->synopsis);
		return c->run(&cli, argc, argv);
	}
	return usage_error("unknown command '%s'", argv[0]);
}

/* SPDX-License-Identifier: MIT */
/*
 * Write a struct nvb_config back as a config file (`nvbridgectl save`, the
 * nvmetcli import). The output parses back to the same values: identifiers
 * are written out explicitly so derived ones stay fixed even if the NQN or
 * NSID they came from is later changed, and sizes are exact int64 bytes.
 */
#include "bridge/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bridge/log.h"

static const char *const log_level_names[] = {
	[NVB_LOG_ERR] = "error", [NVB_LOG_WARN] = "warning",
	[NVB_LOG_INFO] = "info", [NVB_LOG_DEBUG] = "debug",
};

/* A libconfig string literal: escape quote and backslash, and write every
 * byte outside printable ASCII as \xNN, which libconfig reads back. */
void nvb_config_put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p > 0x7e)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static const char tabs[] = "\t\t\t\t\t\t";

static void put_key_string(FILE *out, int indent, const char *key, const char *value)
{
	fprintf(out, "%.*s%s = ", indent, tabs, key);
	nvb_config_put_string(out, value);
	fputs(";\n", out);
}

static void put_string_array(FILE *out, int indent, const char *key, char *const *v, int n)
{
	fprintf(out, "%.*s%s = [", indent, tabs, key);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s\n%.*s", i ? "," : "", indent + 1, tabs);
		nvb_config_put_string(out, v[i]);
	}
	fprintf(out, "\n%.*s];\n", indent, tabs);
}

static void write_ana_groups(const struct nvb_config *cfg, FILE *out)
{
	fputs("ana_groups = (\n", out);
	for (int i = 0; i < cfg->nana_groups; i++)
		fprintf(out, "\t{ id = %u; state = \"%s\"; }%s\n", cfg->ana_groups[i].id,
			nvb_ana_state_name(cfg->ana_groups[i].state),
			i + 1 < cfg->nana_groups ? "," : "");
	fputs(");\n\n", out);
}

static void write_ports(const struct nvb_config *cfg, FILE *out)
{
	fputs("ports = (\n", out);
	for (int i = 0; i < cfg->nports; i++) {
		const struct nvb_port_conf *p = &cfg->ports[i];

		fprintf(out, "\t{\n\t\tid = %u;\n", p->id);
		put_key_string(out, 2, "address", p->addr);
		/* svcid is the parser's canonical decimal text. */
		fprintf(out, "\t\tport = %s;\n", p->svcid);
		fprintf(out, "\t\tana_group = %u;\n", p->ana_group);
		if (p->advertise_addr)
			put_key_string(out, 2, "advertise", p->advertise_addr);
		/* NULL = every subsystem; a non-NULL empty list has no spelling and
		 * is written as [], which the parser refuses rather than widen it. */
		if (p->subsystems)
			put_string_array(out, 2, "subsystems", p->subsystems, p->nsubsystems);
		fprintf(out, "\t}%s\n", i + 1 < cfg->nports ? "," : "");
	}
	fputs(");\n\n", out);
}

static void write_namespace(const struct nvb_ns_conf *ns, bool last, FILE *out)
{
	char id[40];

	fprintf(out, "\t\t\t{\n\t\t\t\tnsid = %u;\n", ns->nsid);
	fprintf(out, "\t\t\t\tbackend = \"%s\";\n",
		ns->backend == NVB_BACKEND_RAM ? "ram" : "file");
	if (ns->path)
		put_key_string(out, 4, "path", ns->path);
	if (ns->size)
		fprintf(out, "\t\t\t\tsize = %" PRIu64 "L;\n", ns->size);
	fprintf(out, "\t\t\t\tlba_size = %u;\n", ns->lba_size);
	fprintf(out, "\t\t\t\tvolatile_write_cache = %s;\n",
		ns->volatile_write_cache ? "true" : "false");
	nvb_id_format(ns->nguid, sizeof(ns->nguid), false, id);
	fprintf(out, "\t\t\t\tnguid = \"%s\";\n", id);
	nvb_id_format(ns->uuid, sizeof(ns->uuid), true, id);
	fprintf(out, "\t\t\t\tuuid = \"%s\";\n", id);
	nvb_id_format(ns->eui64, sizeof(ns->eui64), false, id);
	fprintf(out, "\t\t\t\teui64 = \"%s\";\n", id);
	if (ns->ana_group)
		fprintf(out, "\t\t\t\tana_group = %u;\n", ns->ana_group);
	fprintf(out, "\t\t\t}%s\n", last ? "" : ",");
}

static void write_subsystems(const struct nvb_config *cfg, FILE *out)
{
	fputs("subsystems = (\n", out);
	for (int i = 0; i < cfg->nsubsys; i++) {
		const struct nvb_subsys_conf *ss = &cfg->subsys[i];

		fputs("\t{\n", out);
		put_key_string(out, 2, "nqn", ss->nqn);
		put_key_string(out, 2, "serial", ss->serial);
		put_key_string(out, 2, "model", ss->model);
		fprintf(out, "\t\tallow_any_host = %s;\n", ss->allow_any_host ? "true" : "false");
		if (ss->nhosts)
			put_string_array(out, 2, "hosts", ss->hosts, ss->nhosts);
		if (ss->nns) {
			fputs("\t\tnamespaces = (\n", out);
			for (int j = 0; j < ss->nns; j++)
				write_namespace(&ss->ns[j], j + 1 == ss->nns, out);
			fputs("\t\t);\n", out);
		}
		fprintf(out, "\t}%s\n", i + 1 < cfg->nsubsys ? "," : "");
	}
	fputs(");\n", out);
}

int nvb_config_write(const struct nvb_config *cfg, FILE *out)
{
	if (cfg->log_level < NVB_LOG_ERR || cfg->log_level > NVB_LOG_DEBUG) {
		errno = EINVAL;
		return -1;
	}
	fputs("# nvbridged configuration (format: docs/config.md).\n"
	      "# Namespace identifiers are written out so that they never change.\n\n", out);
	fprintf(out, "reactors = %d;\n", cfg->reactors);
	fprintf(out, "log_level = \"%s\";\n", log_level_names[cfg->log_level]);
	put_key_string(out, 0, "ctl_socket",
		       cfg->ctl_socket ? cfg->ctl_socket : NVB_DEFAULT_CTL_SOCKET);
	fputc('\n', out);
	write_ana_groups(cfg, out);
	write_ports(cfg, out);
	write_subsystems(cfg, out);
	for (int i = 0; i < cfg->nsections; i++) {
		fputc('\n', out);
		if (cfg->sections[i].ops->write(cfg->sections[i].state, out))
			return -1;
	}
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

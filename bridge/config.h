/* SPDX-License-Identifier: MIT */
/*
 * nvbridged configuration: parsed from a libconfig file, validated as a
 * whole, written back by `nvbridgectl save`. Every error names file, line
 * and reason ("demo.conf:12: namespace 1: backend file '/x' does not exist").
 */
#ifndef NVB_CONFIG_H
#define NVB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bridge/nvme.h"

enum nvb_backend_kind { NVB_BACKEND_FILE, NVB_BACKEND_RAM };

struct nvb_ns_conf {
	uint32_t nsid;
	enum nvb_backend_kind backend;
	char *path;             /* file backend: regular file or block device */
	uint64_t size;          /* bytes; required for ram, optional for file
	                           (0 = size of the file/device; a regular file
	                           smaller than size is extended) */
	uint32_t lba_size;      /* 512 or 4096 */
	bool volatile_write_cache; /* default true: Flush → fdatasync */
	uint8_t nguid[16];      /* given in the config, or derived (see nvb_ns_conf_derive_ids) */
	uint8_t uuid[16];
	uint8_t eui64[8];
	uint32_t ana_group;     /* 0 = follow the port's group (the default) */
	int line;               /* config line, for later messages */
};

struct nvb_subsys_conf {
	char *nqn;
	char serial[21];        /* NVMe Identify SN: 20 ASCII chars */
	char model[41];         /* Identify MN: 40 ASCII chars */
	bool allow_any_host;
	char **hosts;           /* allowed host NQNs */
	int nhosts;
	struct nvb_ns_conf *ns;
	int nns;
	int line;
};

struct nvb_port_conf {
	uint16_t id;            /* NVMe port id (PORTID in the discovery log) */
	char *addr;             /* numeric IPv4 or IPv6 address */
	char *svcid;            /* TCP port, as text ("4420") */
	char *advertise_addr;   /* TRADDR in the discovery log; NULL = addr
	                           (set it behind NAT or on multi-homed hosts) */
	int family;             /* AF_INET or AF_INET6, from the address */
	uint32_t ana_group;     /* every port belongs to one ANA group */
	char **subsystems;      /* NQNs exported on this port; NULL = all */
	int nsubsystems;
	int line;
};

struct nvb_ana_group_conf {
	uint32_t id;            /* 1..NVB_MAX_ANA_GROUPS */
	enum nvb_ana_state state;
	int line;
};

/* A front end's parsed config section (see nvb_config_register_section). */
#define NVB_CONFIG_MAX_SECTIONS 4
struct nvb_config_section_ops;
struct nvb_config_section {
	const struct nvb_config_section_ops *ops;
	void *state;            /* what ops->parse returned; freed by ops->free */
};

struct nvb_config {
	char *path;             /* the file it was read from */
	int reactors;           /* 0 = one per online CPU */
	int log_level;          /* enum nvb_log_level */
	char *ctl_socket;       /* control socket path */
	struct nvb_subsys_conf *subsys;
	int nsubsys;
	struct nvb_port_conf *ports;
	int nports;
	struct nvb_ana_group_conf *ana_groups;
	int nana_groups;
	/* Front-end sections present in the file, in registration order. */
	struct nvb_config_section sections[NVB_CONFIG_MAX_SECTIONS];
	int nsections;
};

/* Default control socket; nvbridgectl finds the daemon here without flags. */
#define NVB_DEFAULT_CTL_SOCKET "/run/nvbridged.sock"

/*
 * Parse and validate. On failure returns -1 and writes "FILE:LINE: reason"
 * into err. Validation covers every cross reference (duplicate NSIDs, NQNs,
 * port ids and addresses, unknown ANA groups or subsystems, lba_size, sizes,
 * NQN syntax) but not the outside world (files, listening sockets): that is
 * checked when the daemon opens them, with the same FILE:LINE prefix.
 */
int nvb_config_load(const char *path, struct nvb_config **out, char *err, size_t errlen);
/* Same, from a string; `name` stands in for the file name in messages. */
int nvb_config_parse(const char *text, const char *name, struct nvb_config **out,
		     char *err, size_t errlen);
void nvb_config_free(struct nvb_config *cfg);

/* Write cfg as a config file that nvb_config_parse reads back to the same
 * values (identifiers included, so they stay stable). Returns 0 or -1. */
int nvb_config_write(const struct nvb_config *cfg, FILE *out);

/* Deep copies, for the running state that `save` and add-namespace use. */
int nvb_ns_conf_copy(struct nvb_ns_conf *dst, const struct nvb_ns_conf *src);
void nvb_ns_conf_clear(struct nvb_ns_conf *ns);

/*
 * Fill the identifiers a namespace's config did not give. They are derived
 * from (subsystem NQN, NSID) with a fixed hash, so they are the same on every
 * restart and on every gateway serving the same config, and never change
 * unless the namespace moves; `save` writes them out explicitly.
 */
void nvb_ns_conf_derive_ids(struct nvb_ns_conf *ns, const char *subnqn,
			    bool have_nguid, bool have_uuid, bool have_eui64);

/*
 * Convert an nvmetcli JSON config (the kernel target's `nvmetcli save`
 * format) into an nvbridged config. Unsupported fields produce a warning
 * line each in `warnings` (callers print them). Returns 0 or -1 with err.
 * *warnings is set to NULL or to a malloc'd string of "warning: ...\n"
 * lines, on success and on failure alike; the caller frees it. The
 * imported config has path == NULL (it was not read from a file).
 */
int nvb_import_nvmetcli(const char *json_text, struct nvb_config **out,
			char **warnings, char *err, size_t errlen);

/*
 * Parse an already-built libconfig tree, exactly as nvb_config_parse does
 * after reading the text (nvmetcli import builds such a tree in memory).
 * Settings that have no source line are reported as "NAME: reason".
 */
struct config_t;
int nvb_config_parse_tree(const struct config_t *tree, const char *name,
			  struct nvb_config **out, char *err, size_t errlen);

/*
 * Front-end config sections. The core never names a front end: a front end
 * registers an ops table for its top-level setting (e.g. "iscsi") before the
 * config is loaded (only the daemon's main does that), and the core then
 *  - accepts that top-level name (any other unknown name is still refused),
 *  - calls parse() after the core sections are parsed and validated, so the
 *    section can check references to subsystems, namespaces, ANA groups and
 *    ports; parse() reports "FILE:LINE: reason" into err (see
 *    nvb_config_errorf) and returns 0 with *state set, or -1,
 *  - has nvb_config_write() call write() after the core sections; write()
 *    emits the whole top-level setting ("iscsi = { ... };\n"),
 *  - has nvb_config_free() call free(state).
 * A section absent from the file gets no state (nvb_config_section() is NULL).
 * Register from the control thread before any parse; ops must outlive every
 * config. Returns 0, or -1 if the table is full or the name is taken by
 * other ops (registering the same ops again is a no-op).
 */
struct config_setting_t;
struct nvb_config_section_ops {
	const char *name;
	int (*parse)(const struct config_setting_t *s, const struct nvb_config *cfg,
		     void **state, char *err, size_t errlen);
	int (*write)(const void *state, FILE *out);
	void (*free)(void *state);
};
int nvb_config_register_section(const struct nvb_config_section_ops *ops);
/* The parsed state of section `name`, or NULL if the file had none. */
void *nvb_config_section(const struct nvb_config *cfg, const char *name);
/* "FILE:LINE: " + message into err, with the line of setting s (no line:
 * "FILE: "), for section parsers. Always returns -1. */
int nvb_config_errorf(const struct nvb_config *cfg, const struct config_setting_t *s,
		      char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Write s as a libconfig string literal (quotes and escapes), for writers. */
void nvb_config_put_string(FILE *out, const char *s);
/* Would two listeners on (family, numeric address, TCP port) collide? A
 * wildcard address overlaps every address of its family. Addresses that do
 * not parse never collide. */
bool nvb_addr_overlap(const char *addr_a, unsigned int port_a,
		      const char *addr_b, unsigned int port_b);

/* Helpers shared by the config code and the control socket. */
/* NQN syntax (NVMe 2.0 §4.5): "nqn." prefix, at most NVB_NQN_MAX bytes, no
 * whitespace or control characters. 0, or -1 with the reason in why. */
int nvb_nqn_check(const char *nqn, char *why, size_t whylen);
/* "4096", "512K", "1G": bytes, or a number with a binary K/M/G/T suffix. 0 or -1. */
int nvb_size_parse(const char *text, uint64_t *out);
/* An identifier (NGUID/UUID: len 16, EUI-64: len 8) written as 2*len hex
 * digits, dashes allowed anywhere, optional "uuid:" prefix. 0 or -1. */
int nvb_id_parse(const char *text, uint8_t *out, size_t len);
/* Lower-case hex into out (2*len+1 bytes), or with uuid_style and len 16
 * the 8-4-4-4-12 UUID text (37 bytes). */
void nvb_id_format(const uint8_t *id, size_t len, bool uuid_style, char *out);
/* The serial a subsystem gets when its config has none: "NVB" and 16 hex
 * digits of a hash of the NQN (stable like the namespace identifiers). */
void nvb_subsys_derive_serial(const char *nqn, char serial[21]);

#endif

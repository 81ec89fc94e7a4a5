/* SPDX-License-Identifier: MIT */
/*
 * The `iscsi` section of the nvbridged config (docs/config.md, "iSCSI"):
 * portal groups (each a SCSI target port group in one ANA group), targets
 * (IQN → subsystem, LUN ↔ NSID, initiator allow-list, CHAP and mutual
 * CHAP) and the CHAP credentials of discovery sessions. Parsed through the
 * core's section hook (bridge/config.h) after the core sections, so every
 * reference to a subsystem, namespace, ANA group or NVMe/TCP port is
 * checked with "FILE:LINE: reason"; written back for `nvbridgectl save`.
 */
#ifndef ISCSI_CONFIG_H
#define ISCSI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/config.h"
#include "iscsi/chap.h"

#define ISCSI_DEFAULT_PORT  3260
#define ISCSI_MAX_LUN       16383   /* flat space addressing (iscsi_lun_encode) */

/* One listening address of a portal group. */
struct iscsi_portal_conf {
	char *addr;             /* numeric IPv4/IPv6, no brackets; wildcard allowed */
	uint16_t port;
	int family;             /* AF_INET or AF_INET6 */
	char *advertise;        /* SendTargets host (numeric or DNS name); NULL: addr */
	uint16_t advertise_port;/* SendTargets port (= port unless given) */
	int line;
};

struct iscsi_portal_group_conf {
	uint16_t tag;           /* TargetPortalGroupTag = SCSI target port group */
	uint32_t ana_group;     /* the ALUA state of the group follows this ANA group */
	struct iscsi_portal_conf *portals;
	int nportals;
	int line;
};

/* CHAP credentials: initiators we accept, and ours for mutual CHAP. */
struct iscsi_auth_conf {
	struct chap_cred *creds;        /* strings owned here */
	size_t ncreds;                  /* 0: no authentication (AuthMethod=None) */
	struct chap_cred mutual;        /* user NULL: no mutual CHAP */
	bool require_mutual;            /* default: true when `mutual` is set */
	struct chap_target_config chap; /* view of the above for chap_target_init */
};

struct iscsi_lun_map {
	uint32_t lun;
	uint32_t nsid;
	int line;
};

struct iscsi_target_conf {
	char *iqn;
	char *subsystem;        /* NQN of the subsystem it serves */
	uint16_t *pg_tags;      /* portal groups it is reached through */
	int npg_tags;
	bool all_pgs;           /* no `portal_groups` in the config: every group */
	struct iscsi_lun_map *luns;
	int nluns;
	bool default_luns;      /* no `luns`: LUN n-1 <-> NSID n, for every namespace,
	                           including those added at run time */
	char **initiators;      /* allow-list; NULL: any initiator */
	int ninitiators;
	struct iscsi_auth_conf auth;
	int line;
};

struct iscsi_config {
	struct iscsi_portal_group_conf *pgs;
	int npgs;
	struct iscsi_target_conf *targets;
	int ntargets;
	struct iscsi_auth_conf discovery_auth;
};

/* The section ops the daemon registers (nvb_config_register_section). */
extern const struct nvb_config_section_ops iscsi_config_section;
/* The parsed section of a config, or NULL when it has none. */
const struct iscsi_config *iscsi_config_get(const struct nvb_config *cfg);

/*
 * iSCSI name syntax (RFC 7143 §4.2.7, RFC 3722): "iqn.YYYY-MM.<reversed
 * domain>[:<anything>]" in lower case (letters, digits, '-', '.', ':'),
 * "eui." + 16 hex digits, "naa." + 16 or 32 hex digits; at most 223 bytes.
 * 0, or -1 with the reason in why.
 */
int iscsi_name_check(const char *name, char *why, size_t whylen);
/* "addr[:port]", "[v6addr][:port]" or a bare IPv6 address (port 3260).
 * The address must be numeric; host names are refused. 0 or -1. */
int iscsi_portal_parse(const char *text, char *addr, size_t addrlen, uint16_t *port,
		       int *family);

/* Lookups over a parsed section (NULL-safe on cfg). */
const struct iscsi_target_conf *iscsi_config_find_target(const struct iscsi_config *cfg,
							  const char *iqn);
const struct iscsi_portal_group_conf *iscsi_config_find_pg(const struct iscsi_config *cfg,
							    uint16_t tag);
/* Is the target reached through portal group `tag`? */
bool iscsi_target_has_pg(const struct iscsi_target_conf *t, uint16_t tag);
/* May `initiator` see and log in to the target (allow-list, compared
 * without regard to case as iSCSI names are case-insensitive)? */
bool iscsi_target_allows(const struct iscsi_target_conf *t, const char *initiator);
/* LUN <-> NSID. With the default mapping any NSID 1..16384 maps (the caller
 * checks the namespace exists); with an explicit one only listed pairs.
 * 0, or -1 if unmapped. */
int iscsi_target_lun_to_nsid(const struct iscsi_target_conf *t, uint32_t lun, uint32_t *nsid);
int iscsi_target_nsid_to_lun(const struct iscsi_target_conf *t, uint32_t nsid, uint32_t *lun);

#endif

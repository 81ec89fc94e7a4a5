/* SPDX-License-Identifier: MIT */
/*
 * nvb-hostile: the table of hostile exchanges (hostile_cases.c) and what
 * each may end with; the runner is nvb-hostile.c.
 */
#ifndef NVB_HOSTILE_H
#define NVB_HOSTILE_H

#include <stdint.h>

#include "tests/integration/rawpdu.h"

#define HOSTILE_TIMEOUT_MS 10000        /* the target must react within this */

struct hostile_ctx {
	const char *addr, *port, *nqn, *hostnqn;
	uint64_t rng;                   /* per-connection random stream */
};

struct hostile_result {
	enum raw_end end;
	unsigned status;                /* of a CapsuleResp */
	char detail[192];
};

/* Bit masks of enum raw_end. */
#define END(e)        (1u << (e))
#define ENDS_DROP     (END(RAW_END_CLOSED) | END(RAW_END_TERMREQ))
#define ENDS_REFUSE   (ENDS_DROP | END(RAW_END_ERROR_CQE))

struct hostile_case {
	const char *name;
	/* Open a connection, do something hostile, and report how the target
	 * ended it; returns -errno if the test could not even set up. */
	int (*run)(struct hostile_ctx *h, struct hostile_result *r);
	unsigned allowed;               /* END() mask */
	unsigned want_sc;               /* with an error CQE: this status code (SCT<<8|SC), or 0 */
};

extern const struct hostile_case hostile_cases[];
extern const int hostile_ncases;

#endif

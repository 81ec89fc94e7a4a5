/* SPDX-License-Identifier: MIT */
/* Per-reactor I/O statistics: plain counters, one writer each. */
#include "bridge/target.h"

#include <string.h>

#define NVME_OPC_WRITE 0x01
#define NVME_OPC_READ  0x02
#define LAT_BUCKETS    (sizeof(((struct nvb_io_stats *)0)->lat_hist) / sizeof(uint64_t))

/* Bucket i counts latencies below 2^i µs (the last one takes the rest). */
static unsigned lat_bucket(uint64_t lat_ns)
{
	uint64_t us = lat_ns / 1000;
	unsigned b = us ? 64u - (unsigned)__builtin_clzll(us) : 0;

	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

void nvb_io_stats_account(struct nvb_io_stats *st, uint8_t opcode, uint64_t bytes,
			  nvb_status status, uint64_t lat_ns)
{
	bool ok = status == NVB_OK;

	switch (opcode) {
	case NVME_OPC_READ:
		st->reads++;
		if (ok)
			st->read_bytes += bytes;
		break;
	case NVME_OPC_WRITE:
		st->writes++;
		if (ok)
			st->write_bytes += bytes;
		break;
	default:
		st->others++;
		break;
	}
	if (!ok)
		st->errors++;
	st->lat_ns_total += lat_ns;
	st->lat_hist[lat_bucket(lat_ns)]++;
}

void nvb_io_stats_sum(struct nvb_io_stats *sum, const struct nvb_io_stats *parts, int n)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < n; i++) {
		const struct nvb_io_stats *p = &parts[i];

		sum->reads += p->reads;
		sum->writes += p->writes;
		sum->others += p->others;
		sum->read_bytes += p->read_bytes;
		sum->write_bytes += p->write_bytes;
		sum->errors += p->errors;
		sum->lat_ns_total += p->lat_ns_total;
		for (unsigned b = 0; b < LAT_BUCKETS; b++)
			sum->lat_hist[b] += p->lat_hist[b];
	}
}

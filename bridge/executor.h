/* SPDX-License-Identifier: MIT */
/*
 * The NVMe I/O executor: the one data path every front end feeds.
 *
 * A front end fills a struct nvb_io with an NVM command set SQE, the data
 * buffers and the path's ANA state, and calls nvb_exec_io() on a reactor
 * thread. The executor decodes the command (opcode → handler table), checks
 * namespace, ANA state, LBA range and transfer length, drives the backend,
 * accounts statistics and calls io->done with an NVMe status exactly once
 * (possibly before nvb_exec_io returns).
 *
 * Supported: Read, Write, Flush, Write Zeroes, Dataset Management
 * (deallocate), Compare. Others complete with Invalid Command Opcode.
 */
#ifndef NVB_EXECUTOR_H
#define NVB_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bridge/backend.h"
#include "bridge/nvme.h"
#include "bridge/target.h"

struct nvb_io;
typedef void (*nvb_io_done)(struct nvb_io *io, nvb_status status);

struct nvb_io {
	/* Filled by the front end. */
	struct nvb_sqe cmd;             /* I/O command, little-endian as on the wire */
	struct nvb_subsys *subsys;      /* namespace lookup happens in the executor */
	enum nvb_ana_state path_state;  /* ANA state of the path the command came on */
	struct iovec *iov;              /* data: Write/Compare/DSM source, Read destination */
	int iovcnt;
	size_t data_len;                /* bytes the transport carries for this command */
	struct nvb_reactor *reactor;    /* the calling reactor */
	nvb_io_done done;
	/* Set by the executor before done(): bytes of Read data produced. */
	size_t xfer_len;
	/* Executor private. */
	struct nvb_ns *ns;
	struct nvb_bio bio;
	uint64_t start_ns;
	void *scratch;                  /* Compare's read buffer, DSM state */
	uint32_t step;
	struct iovec scratch_iov;
};

/*
 * Bytes of data an I/O command moves (NLB × LBA size for Read/Write/Compare,
 * (NR+1) × 16 for DSM, 0 otherwise), so a transport can size buffers and
 * validate the SGL length before data arrives. Returns 0 with *len set, or a
 * status (Invalid Namespace, Invalid Opcode, ...) to complete the command with.
 */
nvb_status nvb_exec_data_len(struct nvb_subsys *ss, const struct nvb_sqe *cmd, size_t *len);

void nvb_exec_io(struct nvb_io *io);

#endif

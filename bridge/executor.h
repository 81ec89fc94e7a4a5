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
 * (deallocate), Compare, fused Compare and Write (nvb_exec_fused), and the
 * reservation commands Register, Report, Acquire, Release (bridge/resv.h:
 * they need io->host). Others complete with Invalid Command Opcode.
 *
 * Every command is checked against the namespace's reservation (NVMe 2.0
 * §8.19) with the identity in io->host; while nothing is reserved that is
 * one atomic load.
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
struct nvb_host_id;
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
	/* Who sent it (bridge/resv.h), owned by the front end and alive until
	 * done(). NULL: no identity: never a registrant, and the reservation
	 * commands are unsupported (Invalid Command Opcode). */
	const struct nvb_host_id *host;
	/* Set by the executor before done(): bytes of Read (or Reservation
	 * Report) data produced; for a Compare (fused or not) that completes
	 * with Compare Failure, the offset of the first differing byte. */
	size_t xfer_len;
	/* Executor private. */
	struct nvb_ns *ns;
	struct nvb_bio bio;
	uint64_t start_ns;
	void *scratch;                  /* Compare's read buffer, DSM state */
	uint32_t step;
	struct iovec scratch_iov;
	struct nvb_io *peer;            /* the other command of a fused pair */
	struct nvb_io *gate_prev, *gate_next;   /* write-ordering lists */
	uint64_t gate_lo, gate_hi;      /* LBAs ordered on, inclusive */
	uint8_t gate_state;
};

/*
 * Bytes of data an I/O command moves (NLB × LBA size for Read/Write/Compare,
 * (NR+1) × 16 for DSM, 0 otherwise), so a transport can size buffers and
 * validate the SGL length before data arrives. Returns 0 with *len set, or a
 * status (Invalid Namespace, Invalid Opcode, ...) to complete the command with.
 */
nvb_status nvb_exec_data_len(struct nvb_subsys *ss, const struct nvb_sqe *cmd, size_t *len);

void nvb_exec_io(struct nvb_io *io);

/*
 * Fused Compare and Write (NVMe 2.0 "Fused Operations"; SCSI COMPARE AND
 * WRITE): `first` is a Compare with FUSE = 01b, `second` a Write with
 * FUSE = 10b, both filled like any nvb_io, for the same namespace and LBA
 * range, from the same reactor (call it there). The pair is atomic against
 * every other command on the namespace from any reactor and front end: no
 * write, write zeroes, deallocate or other fused pair touches the range
 * between the compare and the write. Both complete, first before second:
 *   - equal: first NVB_OK, second the Write's status;
 *   - different: first Compare Failure, second Aborted due to Failed Fused
 *     Command (NVB_FUSED_FAIL), nothing written;
 *   - an error in either command (invalid field, range, reservation
 *     conflict, ...): that command gets it, the other NVB_FUSED_FAIL.
 * A front end that receives a FUSE = 01b command not followed by its
 * FUSE = 10b partner completes it with NVB_FUSED_MISSING itself;
 * nvb_exec_io() rejects a command with FUSE bits with Invalid Field.
 *
 * Cost: while no fused pair is in flight, writes take one atomic increment
 * and decrement on a per-reactor counter and no lock. While one is, writes
 * go through a per-namespace queue (mutex) that holds back only those
 * overlapping a fused pair's range.
 */
void nvb_exec_fused(struct nvb_io *first, struct nvb_io *second);

/* The per-namespace ordering state (nvb_ns_create/free; control thread). */
struct nvb_exec_gate *nvb_exec_gate_create(void);
void nvb_exec_gate_free(struct nvb_exec_gate *g);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * SCSI → NVMe translation: the SCSI device server of the iSCSI front end.
 *
 * Everything is NVMe inside (DESIGN.md): a logical unit is an NVMe namespace,
 * and each CDB (SBC-4/SPC-5) becomes zero or more NVMe commands for the one
 * executor (bridge/executor.h), following the NVM Express "SCSI Translation
 * Reference"; each NVMe status comes back as SCSI status and sense data.
 *
 * The interface is transport independent. The transport (iSCSI session
 * layer) fills a struct scsi_task — CDB, logical unit, port, I_T nexus
 * hooks, data buffers — and calls scsi_task_exec() on its reactor. The task
 * completes exactly once through t->done, on the same reactor, possibly
 * before scsi_task_exec() returns. A running task cannot be cancelled: task
 * management waits for done (every NVMe command it issued has completed by
 * then).
 *
 * Transfer lengths (SAM-5 §5.4.3, RFC 7143 §11.4.5.2): data_len is what the
 * transport carries for the command (iSCSI Expected Data Transfer Length,
 * data-out already received). A command never moves more than data_len;
 * when its CDB asks for more, it moves what fits (whole blocks for writes)
 * and completes normally. On completion xfer_len is what it moved and
 * want_len what it would have moved with unlimited room, so the transport
 * reports residual overflow (want_len > data_len: want_len - data_len) or
 * underflow (xfer_len < data_len: data_len - xfer_len).
 *
 * Hook points for the parts of the device server that live elsewhere:
 * - reservations (PERSISTENT RESERVE IN/OUT, RESERVE/RELEASE) and REPORT
 *   TARGET PORT GROUPS are slots of the command table that other code plugs
 *   a handler into (scsi_set_ext_handler); until then they answer ILLEGAL
 *   REQUEST / INVALID COMMAND OPERATION CODE and are not reported by REPORT
 *   SUPPORTED OPERATION CODES;
 * - unit attentions, reservation checks of non-I/O commands, mode-change
 *   notification and the LUN inventory come from struct scsi_hooks, filled
 *   by the session layer; t->host (the I_T nexus as an NVMe reservation
 *   registrant) goes with every NVMe command, so the executor enforces the
 *   namespace's reservation on SCSI I/O as on NVMe/TCP I/O.
 */
#ifndef NVB_ISCSI_SCSI_H
#define NVB_ISCSI_SCSI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "bridge/executor.h"
#include "bridge/nvme.h"
#include "bridge/reactor.h"
#include "bridge/target.h"

/*
 * libiscsi's <iscsi/scsi-lowlevel.h> provides the SCSI constants (opcodes,
 * sense keys, ASC/ASCQ as SCSI_SENSE_ASCQ_*, VPD page and mode page codes).
 * It also declares an initiator-side "struct scsi_task"; that one is renamed
 * (struct libiscsi_scsi_task) while the header is read here, so files that
 * include this header get the constants and must not include libiscsi's
 * headers themselves.
 */
#define scsi_task libiscsi_scsi_task
#include <iscsi/scsi-lowlevel.h>
#undef scsi_task

/* SAM-5 §5.3.1 status codes. */
enum scsi_task_status {
	SCSI_GOOD                 = 0x00,
	SCSI_CHECK_CONDITION      = 0x02,
	SCSI_CONDITION_MET        = 0x04,
	SCSI_BUSY                 = 0x08,
	SCSI_RESERVATION_CONFLICT = 0x18,
	SCSI_TASK_SET_FULL        = 0x28,
	SCSI_TASK_ABORTED         = 0x40,
};

/* Data direction of a command, from its CDB. */
enum scsi_data_dir {
	SCSI_DIR_NONE,
	SCSI_DIR_IN,            /* device → initiator (Data-In) */
	SCSI_DIR_OUT,           /* initiator → device (Data-Out) */
};

#define SCSI_SENSE_BUFFER 96    /* the largest sense data built here is 28 bytes */
#define SCSI_TASK_IOS     4     /* NVMe commands one task keeps in flight */
#define SCSI_IO_IOVS      16    /* segments of one NVMe command's data */

/*
 * Mode parameters MODE SELECT can change (SPC-5 §7.5). Owned by the session
 * layer: one per logical unit shared by every I_T nexus (then call
 * hooks->mode_changed to raise MODE PARAMETERS CHANGED on the others), or
 * one per I_T nexus. Atomics: tasks on several reactors may read it.
 */
struct scsi_lu_mode {
	atomic_bool wce;        /* caching page WCE; clear (on a namespace with a volatile
	                           cache): every write is sent with FUA */
	atomic_bool d_sense;    /* control page D_SENSE: descriptor format sense data */
	atomic_bool swp;        /* control page SWP: the medium is write protected */
};
/* Power-on values: WCE as the namespace's volatile write cache, fixed
 * format sense, not write protected. */
void scsi_lu_mode_init(struct scsi_lu_mode *m, bool volatile_write_cache);

/* A logical unit: one namespace of one subsystem. */
struct scsi_lu {
	struct nvb_subsys *subsys;
	uint32_t nsid;
	uint64_t lun;                   /* LUN as numbered in the config */
	struct scsi_lu_mode *mode;      /* NULL: power-on values, MODE SELECT refused */
};

/* The target port a task came through (an iSCSI portal group). */
struct scsi_port {
	uint16_t rel_port_id;           /* RELATIVE TARGET PORT IDENTIFIER, 1..65535 */
	uint16_t tpg_id;                /* TARGET PORT GROUP (ALUA), here the iSCSI TPGT */
	const char *target_name;        /* iSCSI target name (VPD 83h SCSI name strings) */
	struct nvb_ana_group *ana;      /* ANA group whose state is the port's ALUA state */
};

struct scsi_task;

/* What the session layer provides per I_T nexus; every member may be NULL. */
struct scsi_hooks {
	/*
	 * SAM-5 §5.14: take the oldest unit attention pending for t's I_T nexus
	 * and logical unit (it is cleared): (ASC << 8) | ASCQ, or 0 for none.
	 * Not asked before INQUIRY and REPORT LUNS, which never report one;
	 * REQUEST SENSE takes it and returns it as its parameter data.
	 */
	uint16_t (*take_ua)(struct scsi_task *t);
	/*
	 * SPC-5 §5.13 (Table "SPC commands that are allowed in the presence
	 * of various reservations"): does t conflict with a reservation held
	 * through another I_T nexus? Asked for every command addressed to a
	 * logical unit, PERSISTENT RESERVE IN/OUT included, after the CDB is
	 * checked and before it runs; the hook decides by opcode. Medium
	 * access commands are checked again by the executor against the
	 * namespace's NVMe reservation (t->host), so the hook may let those
	 * through.
	 */
	bool (*reservation_conflict)(struct scsi_task *t);
	/* MODE SELECT changed a mode parameter (SPC-5 §5.14: the other I_T
	 * nexuses sharing it get MODE PARAMETERS CHANGED). */
	void (*mode_changed)(struct scsi_task *t);
	/* REPORT LUNS: the LUNs this I_T nexus may access, ascending; returns
	 * how many there are (only the first max are stored). */
	int (*list_luns)(struct scsi_task *t, uint64_t *luns, int max);
	/* Called with every NVMe command before it goes to the executor (after
	 * io->host is set from t->host), for anything else the session adds. */
	void (*prep_io)(struct scsi_task *t, struct nvb_io *io);
};

/* One NVMe command slot of a task (private). */
struct scsi_io {
	struct nvb_io io;
	struct scsi_task *task;
	struct iovec iov[SCSI_IO_IOVS];
	void *bounce;                   /* data staged outside the task's buffers */
	size_t bounce_len;
	size_t copy_off, copy_len;      /* read: bounce bytes copied out to the task */
	uint64_t chunk;                 /* chunk index in the current run */
	nvb_status status;              /* its completion */
	bool busy;
};

/* A run of NVMe commands over a block range, cut into chunks (private). */
struct scsi_run {
	uint8_t opcode;                 /* NVMe opcode */
	uint32_t cdw12;                 /* flags for CDW12 (FUA, DEAC) */
	uint64_t lba, nlb;
	uint32_t chunk_nlb;             /* blocks per NVMe command */
	uint8_t data;                   /* enum scsi_run_data (scsi_internal.h) */
	size_t data_off;                /* task data: offset of block lba */
	size_t data_len;                /* task data: bytes usable from data_off */
	void (*done)(struct scsi_task *t);
};

struct scsi_cmd;

/* Executor-facing state of a task (private to iscsi/scsi*.c). */
struct scsi_task_priv {
	const struct scsi_cmd *cmd;     /* command table entry */
	struct nvb_ns *ns;              /* reference held while the task runs */
	uint32_t lba_shift;
	uint64_t nblocks;
	struct scsi_run run;
	uint64_t next_chunk, nchunks;
	unsigned inflight;
	bool pumping;
	nvb_status status;              /* first failure of the run (lowest chunk) */
	uint64_t fail_chunk;
	void *buf;                      /* task-wide staging buffer */
	size_t buf_len;
	uint64_t lba, nlb;              /* COMPARE AND WRITE range */
	/* Last: not cleared per task beyond busy/bounce. */
	struct scsi_io ios[SCSI_TASK_IOS];
};

struct scsi_task {
	/* Filled by the transport. */
	uint8_t cdb[16];
	uint8_t cdb_len;                /* bytes valid in cdb */
	const struct scsi_lu *lu;       /* NULL: no logical unit at this LUN (only INQUIRY,
	                                   REPORT LUNS and REQUEST SENSE answer) */
	const struct scsi_port *port;
	enum nvb_ana_state path_state;  /* ANA state of the namespace through this port
	                                   (an unknown value counts as unavailable) */
	struct iovec *iov;              /* data-out received, or room for data-in */
	int iovcnt;
	size_t data_len;                /* bytes in iov (Expected Data Transfer Length) */
	bool data_out;                  /* iov holds data-out (iSCSI W bit), else data-in room */
	struct nvb_reactor *reactor;
	const struct nvb_host_id *host; /* the I_T nexus as a registrant (bridge/resv.h),
	                                   given to every NVMe command; NULL: none */
	const struct scsi_hooks *hooks; /* NULL: no hooks */
	void *session;                  /* the session layer's, for its hooks */
	void (*done)(struct scsi_task *t);

	/* Results, valid in done(). */
	uint8_t status;                 /* enum scsi_task_status */
	uint8_t sense_len;              /* 0 unless CHECK CONDITION */
	uint8_t sense[SCSI_SENSE_BUFFER];
	size_t xfer_len;                /* bytes of data moved (data-in produced, data-out used) */
	size_t want_len;                /* bytes the command would move with unlimited room */

	struct scsi_task_priv priv;
};

/* Run the task (reactor thread); t->done is called exactly once. */
void scsi_task_exec(struct scsi_task *t);

/* Data direction a CDB implies (SCSI_DIR_NONE for unknown opcodes), so a
 * transport can check it against the iSCSI R/W bits. */
enum scsi_data_dir scsi_cdb_dir(const uint8_t *cdb, size_t cdb_len);

/* ---- plug-in slots of the command table ---- */

enum scsi_ext_cmd {
	SCSI_EXT_NONE,
	SCSI_EXT_PERSISTENT_RESERVE_IN,         /* 5Eh, every service action */
	SCSI_EXT_PERSISTENT_RESERVE_OUT,        /* 5Fh, every service action */
	SCSI_EXT_RESERVE,                       /* RESERVE(6) 16h, RESERVE(10) 56h */
	SCSI_EXT_RELEASE,                       /* RELEASE(6) 17h, RELEASE(10) 57h */
	SCSI_EXT_REPORT_TARGET_PORT_GROUPS,     /* MAINTENANCE IN A3h/0Ah */
	SCSI_EXT_COUNT
};
typedef void (*scsi_ext_fn)(struct scsi_task *t);
/*
 * Plug a handler into a slot (at start-up, before tasks run; NULL unplugs).
 * The dispatcher has already checked the CDB's reserved bits, the logical
 * unit, unit attentions and the path state; the handler completes the task
 * with the helpers below, exactly once.
 */
void scsi_set_ext_handler(enum scsi_ext_cmd slot, scsi_ext_fn fn);

/* ---- completing a task (for handlers outside iscsi/scsi*.c) ---- */

/* Status GOOD. */
void scsi_task_good(struct scsi_task *t);
/* CHECK CONDITION with sense in the format the LU's D_SENSE selects. */
void scsi_task_check_condition(struct scsi_task *t, uint8_t key, uint16_t asc_ascq);
/* ILLEGAL REQUEST, INVALID FIELD IN CDB (or PARAMETER LIST when in_cdb is
 * false) pointing at byte/bit (bit < 0: no bit pointer), SPC-5 §4.4.2.4.2. */
void scsi_task_invalid_field(struct scsi_task *t, bool in_cdb, unsigned byte, int bit);
/* A status without sense data (RESERVATION CONFLICT, BUSY, TASK SET FULL). */
void scsi_task_set_status(struct scsi_task *t, uint8_t status);
/* Map an NVMe completion status (NVM Express SCSI Translation Reference). */
void scsi_task_nvme_status(struct scsi_task *t, nvb_status status);
/* Data-In: copy min(len, alloc_len, data_len) bytes of buf; sets xfer_len and
 * want_len. Returns the bytes copied. */
size_t scsi_task_data_in(struct scsi_task *t, const void *buf, size_t len, size_t alloc_len);
/* Data-Out: copy up to len bytes at offset off of what was received; returns
 * how many were available. */
size_t scsi_task_data_out(struct scsi_task *t, size_t off, void *buf, size_t len);
/* Calls t->done (after releasing what the task held). */
void scsi_task_complete(struct scsi_task *t);

/* ---- helpers shared with the session layer ---- */

/* SPC-5 §5.16.2.x ALUA asymmetric access state for an ANA state:
 * optimized → active/optimized (0h), non-optimized → active/non-optimized
 * (1h), inaccessible → standby (2h), persistent loss → unavailable (3h),
 * change → transitioning (Fh). REPORT TARGET PORT GROUPS uses the same map. */
uint8_t scsi_alua_state(enum nvb_ana_state state);

/* Build sense data (SPC-5 §4.4: fixed 70h, or descriptor 72h when desc)
 * into buf; returns its length (0 when len is too small). */
size_t scsi_build_sense(uint8_t *buf, size_t len, bool desc, uint8_t key,
			uint16_t asc_ascq);

/* SAM-5 §4.7.x single level LUN structure: LUN 0-255 peripheral device
 * addressing, 256-16383 flat space addressing. */
void scsi_lun_encode(uint64_t lun, uint8_t out[8]);
/* Decode what scsi_lun_encode writes; UINT64_MAX for other formats. */
uint64_t scsi_lun_decode(const uint8_t in[8]);

#endif

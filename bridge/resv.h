/* SPDX-License-Identifier: MIT */
/*
 * Namespace reservations (NVMe 2.0 §8.19), one model per namespace, shared
 * by every front end: an NVMe/TCP host and an iSCSI I_T nexus register,
 * reserve and conflict on the same state. docs/reservations.md gives the
 * semantics (identities, SCSI mapping, persistence); this header the API.
 *
 * Threading: the state changes under a per-namespace mutex (reservation
 * commands are rare). The access check every I/O command makes
 * (nvb_resv_check) takes no lock: one atomic load while no reservation is
 * held, a seqlock-protected look-up of the registrant table while one is.
 *
 * Statuses are NVMe statuses: NVB_RESERVATION_CONFLICT, NVB_INVALID_FIELD,
 * NVB_CAP_EXCEEDED (registrant table full); the SCSI front end maps them to
 * RESERVATION CONFLICT / ILLEGAL REQUEST / INSUFFICIENT REGISTRATION RESOURCES.
 */
#ifndef NVB_RESV_H
#define NVB_RESV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/nvme.h"

struct nvb_ns;
struct nvb_reactor;
struct nvb_resv;

/* ---- who is asking ---- */

#define NVB_HOST_ID_MAX 480     /* bytes; a multiple of 8 */

enum nvb_host_kind {
	NVB_HOST_NVME = 1,      /* id: the 16-byte Host Identifier from Connect */
	NVB_HOST_ISCSI = 2,     /* id: "<initiator>,i,0x<ISID>" NUL "<target>,t,0x<TPGT>" */
};

/*
 * A registrant identity, built once per controller (NVMe) or session
 * (iSCSI) with the helpers below and passed with every command. Two
 * identities are the same registrant when kind, len and id[0..len) are
 * equal. cntlid is not part of the identity: it is what Reservation Report
 * shows as CNTLID for the registrant (the NVMe controller that registered;
 * FFFFh for iSCSI) and, for iSCSI, the relative target port identifier.
 */
struct nvb_host_id {
	uint8_t kind;                   /* enum nvb_host_kind */
	uint16_t len;                   /* bytes of id in use; the rest is zero */
	uint16_t cntlid;                /* NVMe: controller ID; iSCSI: relative target port id */
	uint64_t fp;                    /* fingerprint of kind + id, set by the helpers */
	union {
		uint8_t id[NVB_HOST_ID_MAX];
		uint64_t words[NVB_HOST_ID_MAX / 8];
	};
};

/* NVMe: NVMe reservations are per host (NVMe 2.0 §8.19.1), across all its
 * controllers, so the identity is the Host Identifier alone. -1 (and h
 * unusable) for the all-zero Host Identifier, which names no host. */
int nvb_host_id_nvme(struct nvb_host_id *h, const uint8_t hostid[16], uint16_t cntlid);
/* iSCSI: the I_T nexus (RFC 7143, SCSI port names): initiator port name
 * (initiator name + ",i,0x" + ISID as 12 hex digits) and target port name
 * (target name + ",t,0x" + TPGT as 4 hex digits). -1 when a name is empty
 * or longer than 223 bytes. */
int nvb_host_id_iscsi(struct nvb_host_id *h, const char *initiator, const uint8_t isid[6],
		      const char *target, uint16_t tpgt, uint16_t rel_port);
bool nvb_host_id_equal(const struct nvb_host_id *a, const struct nvb_host_id *b);

/* ---- reservation types, NVMe numbering (NVMe 2.0 Figure "Reservation Type Encoding") ---- */

enum nvb_resv_type {
	NVB_RESV_NONE = 0,
	NVB_RESV_WE = 1,        /* Write Exclusive */
	NVB_RESV_EA = 2,        /* Exclusive Access */
	NVB_RESV_WE_RO = 3,     /* Write Exclusive - Registrants Only */
	NVB_RESV_EA_RO = 4,     /* Exclusive Access - Registrants Only */
	NVB_RESV_WE_AR = 5,     /* Write Exclusive - All Registrants */
	NVB_RESV_EA_AR = 6,     /* Exclusive Access - All Registrants */
};
/* SPC-5 PERSISTENT RESERVE TYPE ↔ NVMe RTYPE: WE 1↔1, EA 3↔2, WE-RO 5↔3,
 * EA-RO 6↔4, WE-AR 7↔5, EA-AR 8↔6. 0 for a value with no counterpart. */
uint8_t nvb_resv_type_from_scsi(uint8_t scsi_type);
uint8_t nvb_resv_type_to_scsi(uint8_t nvme_type);

/* Identify Namespace RESCAP: every type, PTPL, IEKEY per NVMe 1.3+. */
#define NVB_RESV_RESCAP 0xff

/* Reservation Register RREGA, Acquire RACQA, Release RRELA, Register CPTPL. */
enum { NVB_RESV_REGISTER = 0, NVB_RESV_UNREGISTER = 1, NVB_RESV_REPLACE = 2 };
enum { NVB_RESV_ACQUIRE = 0, NVB_RESV_PREEMPT = 1, NVB_RESV_PREEMPT_ABORT = 2 };
enum { NVB_RESV_RELEASE = 0, NVB_RESV_CLEAR = 1 };
enum { NVB_RESV_PTPL_KEEP = 0, NVB_RESV_PTPL_OFF = 2, NVB_RESV_PTPL_ON = 3 };

#define NVB_RESV_MAX_REGISTRANTS 128

/* ---- lifetime (control thread) ---- */

/*
 * state_path: where the state lives while Persist Through Power Loss is on
 * (NULL: nowhere; PTPL can still be turned on and is reported, but nothing
 * outlives the process). An existing file is loaded; a file that cannot be
 * read or is corrupt fails the creation with the reason in err: refusing
 * to start is safer for fencing than silently forgetting reservations.
 * owner is passed to listeners.
 */
int nvb_resv_create(struct nvb_resv **out, struct nvb_ns *owner, const char *state_path,
		    char *err, size_t errlen);
/* No command may be using it (the namespace's last reference is gone). */
void nvb_resv_destroy(struct nvb_resv *r);

/* ---- the access check (any reactor, no lock) ---- */

/*
 * NVMe 2.0 §8.19, Figure "Command Behavior in the Presence of a
 * Reservation": may `host` (NULL: unknown, never a registrant) read, or
 * write, the namespace? NVB_OK or NVB_RESERVATION_CONFLICT. Read group:
 * Read, Compare; write group: Write, Write Zeroes, Dataset Management, Flush.
 */
nvb_status nvb_resv_check(struct nvb_resv *r, const struct nvb_host_id *host, bool write);

/* ---- NVMe reservation commands (any thread; rare) ---- */

/* Reservation Register (NVMe 2.0 §7.3): action RREGA, CPTPL as in CDW10. */
nvb_status nvb_resv_register(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			     bool iekey, uint64_t crkey, uint64_t nrkey, unsigned cptpl);
/* Reservation Acquire (§7.2): acquire, preempt, preempt and abort. */
nvb_status nvb_resv_acquire(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			    bool iekey, uint8_t rtype, uint64_t crkey, uint64_t prkey);
/* Reservation Release (§7.4): release, clear. */
nvb_status nvb_resv_release(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			    bool iekey, uint8_t rtype, uint64_t crkey);
/*
 * Reservation Report (§7.5), the extended data structure (EDS = 1; the
 * 64-bit host identifier format does not exist on fabrics): writes up to
 * len bytes of it into buf (zero-filling the rest of buf) and returns the
 * size of the whole structure.
 */
size_t nvb_resv_report(struct nvb_resv *r, void *buf, size_t len);

/* Persist Through Power Loss (Set/Get Features 83h; SCSI APTPL). After
 * set, nvb_resv_commit() before completing the command. */
bool nvb_resv_ptpl(struct nvb_resv *r);
void nvb_resv_set_ptpl(struct nvb_resv *r, bool on);

/* ---- SCSI helpers (the iSCSI front end; docs/reservations.md) ---- */

/* PERSISTENT RESERVE OUT REGISTER / REGISTER AND IGNORE EXISTING KEY
 * (SPC-5 "Registering"): register, replace or (service action key 0) unregister
 * in one step, with the APTPL bit. */
nvb_status nvb_resv_scsi_register(struct nvb_resv *r, const struct nvb_host_id *host,
				  bool ignore_key, uint64_t res_key, uint64_t sa_key, bool aptpl);
/* SPC-2 RESERVE(6/10) / RELEASE(6/10): an exclusive-access reservation for
 * one host, never persistent. RESERVE conflicts while any persistent
 * registration exists; RELEASE by anyone else is a no-op (SPC-5, "Exceptions to SPC-2
 * RESERVE and RELEASE behavior"). */
nvb_status nvb_resv_legacy_reserve(struct nvb_resv *r, const struct nvb_host_id *host);
void nvb_resv_legacy_release(struct nvb_resv *r, const struct nvb_host_id *host);
/* The I_T nexus is gone (logout, connection loss) or the LU was reset:
 * SPC-2 reservations end then; persistent ones do not. host NULL: any. */
void nvb_resv_legacy_drop(struct nvb_resv *r, const struct nvb_host_id *host);

/* A copy of the state for PERSISTENT RESERVE IN and the control socket. */
struct nvb_resv_status {
	uint32_t gen;           /* PRGENERATION / GEN */
	uint8_t rtype;          /* enum nvb_resv_type; 0: none */
	bool ptpl;
	bool legacy;            /* an SPC-2 reservation is held */
	int nregs;              /* registrants (all of them, even past max) */
};
struct nvb_resv_reg {
	struct nvb_host_id host;
	uint64_t key;
	bool holder;            /* holds the reservation (every registrant for AR types) */
};
/* Fill st and up to max entries of regs (may be NULL with max 0). */
void nvb_resv_read(struct nvb_resv *r, struct nvb_resv_status *st, struct nvb_resv_reg *regs,
		   int max);
/* Whether host is a registrant, and its key. */
bool nvb_resv_key_of(struct nvb_resv *r, const struct nvb_host_id *host, uint64_t *key);

/* ---- persistence ---- */

/*
 * Make every change made so far durable: with PTPL on, write the state
 * file (temporary file, fsync, rename, fsync of the directory); with PTPL
 * turned off, remove it. The file I/O runs on a helper thread, never on a
 * reactor; cb(arg, err) then runs on `reactor` (err 0 or -errno). Returns
 * false, without calling cb, when nothing needs writing: the caller goes on
 * at once. A command that changed the state completes only after this.
 */
typedef void (*nvb_resv_commit_cb)(void *arg, int err);
bool nvb_resv_commit(struct nvb_resv *r, struct nvb_reactor *reactor, nvb_resv_commit_cb cb,
		     void *arg);
/* The same, blocking (control thread, tests). 0 or -errno. */
int nvb_resv_commit_sync(struct nvb_resv *r);

/* ---- notifications ---- */

/* Values are the NVMe Reservation Notification log page types (RNLPT). */
enum nvb_resv_event {
	NVB_RESV_EV_REGISTRATION_PREEMPTED = 1, /* SCSI UA 2Ah/05h REGISTRATIONS PREEMPTED */
	NVB_RESV_EV_RESERVATION_RELEASED = 2,   /* SCSI UA 2Ah/04h RESERVATIONS RELEASED */
	NVB_RESV_EV_RESERVATION_PREEMPTED = 3,  /* SCSI UA 2Ah/03h RESERVATIONS PREEMPTED */
};
struct nvb_resv_notice {
	struct nvb_ns *ns;                      /* the owner given to nvb_resv_create */
	const struct nvb_host_id *host;         /* the registrant to tell */
	enum nvb_resv_event event;
	bool abort;     /* Preempt and Abort: the host's commands on ns should be aborted */
};
/*
 * Listeners are called for each host to notify, on the thread that made
 * the change, with the namespace's reservation lock held: queue the event
 * (post to your reactor) and return; never call nvb_resv_* from one.
 */
struct nvb_resv_listener {
	void (*fn)(struct nvb_resv_listener *l, const struct nvb_resv_notice *n);
	struct nvb_resv_listener *next;
};
void nvb_resv_listen(struct nvb_resv_listener *l);
void nvb_resv_unlisten(struct nvb_resv_listener *l);
/* Bumps on every change of the state (registrations, reservation, PTPL,
 * SPC-2 reservation), for front ends that poll. */
uint32_t nvb_resv_change_count(struct nvb_resv *r);

#endif

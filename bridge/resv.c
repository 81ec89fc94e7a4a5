/* SPDX-License-Identifier: MIT */
/*
 * The namespace reservation model (NVMe 2.0 §8.19), shared by the NVMe/TCP
 * and iSCSI front ends. docs/reservations.md explains the semantics.
 *
 * Registrants live in a fixed table of slots (allocated on first use, never
 * moved, so the lock-free reader can walk it). Slot LEGACY_SLOT holds the
 * identity of an SPC-2 RESERVE holder. Every change happens under r->lock
 * inside a seqlock write section (r->seq odd), so the access check reads
 * the type, the holder and the identities without a lock and retries when
 * it overlapped a change. While nothing is reserved the check is one
 * atomic load of r->active.
 */
#include "bridge/resv.h"
#include "bridge/crc32c.h"
#include "bridge/log.h"
#include "bridge/reactor.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSLOTS          NVB_RESV_MAX_REGISTRANTS
#define LEGACY_SLOT     NSLOTS
#define HOST_ID_WORDS   (NVB_HOST_ID_MAX / 8)
#define HOLDER_NONE     0xffffu
#define HOLDER_ALL      0xfffeu         /* All Registrants types: everyone holds it */

#define ACTIVE_PR       0x1u            /* a persistent reservation is held */
#define ACTIVE_LEGACY   0x2u            /* an SPC-2 reservation is held */

#define READ_RETRIES    64              /* seqlock tries before taking the lock */

_Static_assert(NVB_HOST_ID_MAX % 8 == 0, "host id is whole words");

struct resv_slot {
	/* What the lock-free access check reads (under r->seq). */
	_Atomic uint64_t fp;
	_Atomic uint32_t hdr;                   /* kind << 16 | len; 0: free */
	_Atomic uint64_t words[HOST_ID_WORDS];
	/* Under r->lock only. */
	uint64_t key;
	uint16_t cntlid;
};

struct nvb_resv {
	/* Read by every I/O command: keep them away from the writer's fields. */
	_Atomic uint32_t active;                /* ACTIVE_* */
	_Atomic uint32_t seq;                   /* seqlock: odd while changing */
	_Atomic uint32_t view_rtype;
	_Atomic uint32_t view_holder;           /* slot, HOLDER_NONE or HOLDER_ALL */
	_Atomic uint32_t view_nslots;           /* slots [0, n) may be in use */
	_Atomic(struct resv_slot *) slots;      /* NSLOTS + 1, or NULL before first use */
	/* Set at creation and only read after: no writes to share the line. */
	struct nvb_ns *owner;
	char *path;                             /* state file, or NULL: not persistent */

	pthread_mutex_t lock __attribute__((aligned(64)));
	uint32_t gen;
	int nregs;
	atomic_uint changes;
	uint16_t holder;
	uint8_t rtype;
	bool ptpl;
	bool legacy;

	/* Persistence: change_seq under lock; the rest under persist_lock. */
	uint64_t change_seq;                    /* bumps on each persistent change */
	_Atomic uint64_t durable_seq;           /* last change_seq made durable */
	pthread_mutex_t persist_lock;
	bool on_disk;                           /* the state file exists */
};

_Static_assert(offsetof(struct nvb_resv, lock) == 64, "the readers' fields fit in one cache line");

/* ---- host identities ---- */

/* FNV-1a over kind and id: a filter only, equality is checked word by word. */
static uint64_t host_fp(uint8_t kind, const uint8_t *id, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = (h ^ kind) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ id[i]) * 0x100000001b3ull;
	return h;
}

static void host_finish(struct nvb_host_id *h, uint8_t kind, size_t len, uint16_t cntlid)
{
	h->kind = kind;
	h->len = (uint16_t)len;
	h->cntlid = cntlid;
	h->fp = host_fp(kind, h->id, len);
}

int nvb_host_id_nvme(struct nvb_host_id *h, const uint8_t hostid[16], uint16_t cntlid)
{
	static const uint8_t zero[16];

	memset(h, 0, sizeof(*h));
	if (memcmp(hostid, zero, sizeof(zero)) == 0)
		return -1;
	memcpy(h->id, hostid, 16);
	host_finish(h, NVB_HOST_NVME, 16, cntlid);
	return 0;
}

int nvb_host_id_iscsi(struct nvb_host_id *h, const char *initiator, const uint8_t isid[6],
		      const char *target, uint16_t tpgt, uint16_t rel_port)
{
	size_t ilen = initiator ? strlen(initiator) : 0, tlen = target ? strlen(target) : 0;
	int n, m;

	memset(h, 0, sizeof(*h));
	if (ilen == 0 || ilen > NVB_NQN_MAX || tlen == 0 || tlen > NVB_NQN_MAX)
		return -1;
	/* 223 + 17 + 1 + 223 + 9 + 1 bytes fit in NVB_HOST_ID_MAX. */
	n = snprintf((char *)h->id, sizeof(h->id), "%s,i,0x%02x%02x%02x%02x%02x%02x", initiator,
		     isid[0], isid[1], isid[2], isid[3], isid[4], isid[5]);
	m = snprintf((char *)h->id + n + 1, sizeof(h->id) - (size_t)n - 1, "%s,t,0x%04x", target,
		     tpgt);
	host_finish(h, NVB_HOST_ISCSI, (size_t)n + 1 + (size_t)m, rel_port);
	return 0;
}

bool nvb_host_id_equal(const struct nvb_host_id *a, const struct nvb_host_id *b)
{
	return a->kind == b->kind && a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

static bool host_valid(const struct nvb_host_id *h)
{
	return h && (h->kind == NVB_HOST_NVME || h->kind == NVB_HOST_ISCSI) && h->len > 0 &&
	       h->len <= NVB_HOST_ID_MAX;
}

static uint32_t host_hdr(const struct nvb_host_id *h)
{
	return (uint32_t)h->kind << 16 | h->len;
}

/* ---- reservation types ---- */

static const uint8_t scsi_of_type[] = { 0, 1, 3, 5, 6, 7, 8 };

uint8_t nvb_resv_type_from_scsi(uint8_t scsi_type)
{
	for (size_t t = 1; t < sizeof(scsi_of_type); t++)
		if (scsi_of_type[t] == scsi_type)
			return (uint8_t)t;
	return 0;
}

uint8_t nvb_resv_type_to_scsi(uint8_t nvme_type)
{
	return nvme_type < sizeof(scsi_of_type) ? scsi_of_type[nvme_type] : 0;
}

static bool type_valid(uint8_t t)
{
	return t >= NVB_RESV_WE && t <= NVB_RESV_EA_AR;
}

static bool type_all_registrants(uint8_t t)
{
	return t == NVB_RESV_WE_AR || t == NVB_RESV_EA_AR;
}

/* Types whose release tells the other registrants (SPC-5, "Releasing"). */
static bool type_registrants_matter(uint8_t t)
{
	return t >= NVB_RESV_WE_RO && t <= NVB_RESV_EA_AR;
}

/*
 * NVMe 2.0 §8.19, Figure "Command Behavior in the Presence of a
 * Reservation". A registrant of an All Registrants type is a holder.
 */
static bool access_allowed(uint8_t rtype, bool registrant, bool holder, bool write)
{
	switch (rtype) {
	case NVB_RESV_NONE:
		return true;
	case NVB_RESV_WE:
		return holder || !write;
	case NVB_RESV_EA:
		return holder;
	case NVB_RESV_WE_RO:
	case NVB_RESV_WE_AR:
		return registrant || !write;
	default:                /* EA-RO, EA-AR */
		return registrant;
	}
}

/* ---- slots: identity matching, shared by the reader and the writer ---- */

static bool slot_matches(const struct resv_slot *s, const struct nvb_host_id *h)
{
	uint32_t hdr = atomic_load_explicit(&s->hdr, memory_order_relaxed);

	if (hdr != host_hdr(h) || atomic_load_explicit(&s->fp, memory_order_relaxed) != h->fp)
		return false;
	for (unsigned i = 0; i < (h->len + 7u) / 8; i++)
		if (atomic_load_explicit(&s->words[i], memory_order_relaxed) != h->words[i])
			return false;
	return true;
}

static int slot_find(const struct resv_slot *slots, uint32_t n, const struct nvb_host_id *h)
{
	if (!slots || !host_valid(h))
		return -1;
	for (uint32_t i = 0; i < n && i < NSLOTS; i++)
		if (slot_matches(&slots[i], h))
			return (int)i;
	return -1;
}

static void slot_set(struct resv_slot *s, const struct nvb_host_id *h, uint64_t key)
{
	for (unsigned i = 0; i < HOST_ID_WORDS; i++)
		atomic_store_explicit(&s->words[i], h->words[i], memory_order_relaxed);
	atomic_store_explicit(&s->fp, h->fp, memory_order_relaxed);
	atomic_store_explicit(&s->hdr, host_hdr(h), memory_order_relaxed);
	s->key = key;
	s->cntlid = h->cntlid;
}

static void slot_clear(struct resv_slot *s)
{
	atomic_store_explicit(&s->hdr, 0, memory_order_relaxed);
	atomic_store_explicit(&s->fp, 0, memory_order_relaxed);
	for (unsigned i = 0; i < HOST_ID_WORDS; i++)
		atomic_store_explicit(&s->words[i], 0, memory_order_relaxed);
	s->key = 0;
	s->cntlid = 0;
}

static bool slot_used(const struct resv_slot *s)
{
	return atomic_load_explicit(&s->hdr, memory_order_relaxed) != 0;
}

/* The identity in a slot, as a host id (writer side). */
static void slot_host(const struct resv_slot *s, struct nvb_host_id *h)
{
	uint32_t hdr = atomic_load_explicit(&s->hdr, memory_order_relaxed);

	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < HOST_ID_WORDS; i++)
		h->words[i] = atomic_load_explicit(&s->words[i], memory_order_relaxed);
	h->kind = (uint8_t)(hdr >> 16);
	h->len = (uint16_t)(hdr & 0xffff);
	h->cntlid = s->cntlid;
	h->fp = atomic_load_explicit(&s->fp, memory_order_relaxed);
}

/* ---- the lock-free access check ---- */

struct access_view {
	uint8_t rtype;
	bool legacy, legacy_holder, registrant, holder;
};

static bool view_decide(const struct access_view *v, bool write)
{
	if (v->legacy && !v->legacy_holder)
		return false;
	return access_allowed(v->rtype, v->registrant, v->holder, write);
}

/* Read the view for host h; the caller makes it consistent (seq or lock). */
static void view_read(struct nvb_resv *r, const struct nvb_host_id *h, uint32_t active,
		      struct access_view *v)
{
	const struct resv_slot *slots = atomic_load_explicit(&r->slots, memory_order_acquire);
	uint32_t holder = atomic_load_explicit(&r->view_holder, memory_order_relaxed);
	int idx;

	v->rtype = (uint8_t)atomic_load_explicit(&r->view_rtype, memory_order_relaxed);
	idx = slot_find(slots, atomic_load_explicit(&r->view_nslots, memory_order_relaxed), h);
	v->registrant = idx >= 0;
	v->holder = idx >= 0 && (holder == HOLDER_ALL || holder == (uint32_t)idx);
	v->legacy = active & ACTIVE_LEGACY;
	v->legacy_holder = v->legacy && slots && host_valid(h) &&
			   slot_matches(&slots[LEGACY_SLOT], h);
}

static nvb_status check_reserved(struct nvb_resv *r, const struct nvb_host_id *h, bool write)
{
	struct access_view v;

	for (int tries = 0; tries < READ_RETRIES; tries++) {
		uint32_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
		uint32_t active;

		if (s1 & 1)
			continue;
		active = atomic_load_explicit(&r->active, memory_order_relaxed);
		view_read(r, h, active, &v);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&r->seq, memory_order_relaxed) == s1)
			return view_decide(&v, write) ? NVB_OK : NVB_RESERVATION_CONFLICT;
	}
	/* A change keeps overlapping us: wait for it. */
	pthread_mutex_lock(&r->lock);
	view_read(r, h, atomic_load_explicit(&r->active, memory_order_relaxed), &v);
	pthread_mutex_unlock(&r->lock);
	return view_decide(&v, write) ? NVB_OK : NVB_RESERVATION_CONFLICT;
}

nvb_status nvb_resv_check(struct nvb_resv *r, const struct nvb_host_id *host, bool write)
{
	if (!r || atomic_load_explicit(&r->active, memory_order_acquire) == 0)
		return NVB_OK;
	return check_reserved(r, host, write);
}

/* ---- changing the state: lock, seqlock write section ---- */

static void change_begin(struct nvb_resv *r)
{
	uint32_t s;

	pthread_mutex_lock(&r->lock);
	s = atomic_load_explicit(&r->seq, memory_order_relaxed);
	atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

/* Publish the writer's state to the view and leave. */
static void change_end(struct nvb_resv *r)
{
	struct resv_slot *slots = atomic_load_explicit(&r->slots, memory_order_relaxed);
	uint32_t n = 0, active = 0;

	if (slots)
		for (uint32_t i = 0; i < NSLOTS; i++)
			if (slot_used(&slots[i]))
				n = i + 1;
	if (r->rtype)
		active |= ACTIVE_PR;
	if (r->legacy)
		active |= ACTIVE_LEGACY;
	atomic_store_explicit(&r->view_rtype, r->rtype, memory_order_relaxed);
	atomic_store_explicit(&r->view_holder, r->holder, memory_order_relaxed);
	atomic_store_explicit(&r->view_nslots, n, memory_order_relaxed);
	atomic_store_explicit(&r->active, active, memory_order_release);
	atomic_store_explicit(&r->seq, atomic_load_explicit(&r->seq, memory_order_relaxed) + 1,
			      memory_order_release);
	pthread_mutex_unlock(&r->lock);
}

static struct resv_slot *slots_get(struct nvb_resv *r)
{
	struct resv_slot *slots = atomic_load_explicit(&r->slots, memory_order_relaxed);

	if (!slots) {
		slots = calloc(NSLOTS + 1, sizeof(*slots));
		atomic_store_explicit(&r->slots, slots, memory_order_release);
	}
	return slots;
}

static int reg_find(struct nvb_resv *r, const struct nvb_host_id *h)
{
	return slot_find(atomic_load_explicit(&r->slots, memory_order_relaxed), NSLOTS, h);
}

static struct resv_slot *reg_at(struct nvb_resv *r, int idx)
{
	return &atomic_load_explicit(&r->slots, memory_order_relaxed)[idx];
}

static bool reg_is_holder(const struct nvb_resv *r, int idx)
{
	return r->rtype && idx >= 0 && (r->holder == HOLDER_ALL || r->holder == (unsigned)idx);
}

static bool key_ok(struct nvb_resv *r, int idx, bool iekey, uint64_t crkey)
{
	return idx >= 0 && (iekey || reg_at(r, idx)->key == crkey);
}

/* Count a change; persistent ones (everything but SPC-2 reservations)
 * must reach the state file before their command completes. */
static void changed(struct nvb_resv *r, bool persistent)
{
	atomic_fetch_add_explicit(&r->changes, 1, memory_order_relaxed);
	if (persistent)
		r->change_seq++;
}

static nvb_status reg_add(struct nvb_resv *r, const struct nvb_host_id *h, uint64_t key)
{
	struct resv_slot *slots = slots_get(r);

	if (!slots)
		return NVB_INTERNAL_ERROR;
	for (int i = 0; i < NSLOTS; i++) {
		if (!slot_used(&slots[i])) {
			slot_set(&slots[i], h, key);
			r->nregs++;
			return NVB_OK;
		}
	}
	return NVB_CAP_EXCEEDED;
}

static void resv_set(struct nvb_resv *r, uint8_t rtype, int holder)
{
	r->rtype = rtype;
	r->holder = rtype == NVB_RESV_NONE ? HOLDER_NONE :
		    type_all_registrants(rtype) ? HOLDER_ALL : (uint16_t)holder;
}

/* ---- notifications ---- */

static pthread_mutex_t listeners_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nvb_resv_listener *listeners;

void nvb_resv_listen(struct nvb_resv_listener *l)
{
	pthread_mutex_lock(&listeners_lock);
	l->next = listeners;
	listeners = l;
	pthread_mutex_unlock(&listeners_lock);
}

void nvb_resv_unlisten(struct nvb_resv_listener *l)
{
	pthread_mutex_lock(&listeners_lock);
	for (struct nvb_resv_listener **p = &listeners; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	pthread_mutex_unlock(&listeners_lock);
}

static void notify(struct nvb_resv *r, int idx, enum nvb_resv_event ev, bool abort)
{
	struct nvb_host_id h;
	struct nvb_resv_notice n = { .ns = r->owner, .host = &h, .event = ev, .abort = abort };

	slot_host(reg_at(r, idx), &h);
	pthread_mutex_lock(&listeners_lock);
	for (struct nvb_resv_listener *l = listeners; l; l = l->next)
		l->fn(l, &n);
	pthread_mutex_unlock(&listeners_lock);
}

/* Tell every registrant but `except` (-1: none). */
static void notify_others(struct nvb_resv *r, int except, enum nvb_resv_event ev)
{
	for (int i = 0; i < NSLOTS; i++)
		if (i != except && slot_used(reg_at(r, i)))
			notify(r, i, ev, false);
}

/*
 * Remove registrant idx. A holder leaving ends its reservation, except for
 * All Registrants types while registrants remain (NVMe 2.0 §8.19,
 * "Unregistering"); SPC-5 then tells the others of a registrants-only
 * reservation released (tell_release).
 */
static void reg_remove(struct nvb_resv *r, int idx, bool tell_release)
{
	bool was_holder = reg_is_holder(r, idx);
	uint8_t old = r->rtype;

	slot_clear(reg_at(r, idx));
	r->nregs--;
	if (!was_holder || (type_all_registrants(old) && r->nregs > 0))
		return;
	resv_set(r, NVB_RESV_NONE, -1);
	if (tell_release && type_registrants_matter(old))
		notify_others(r, -1, NVB_RESV_EV_RESERVATION_RELEASED);
}

/* Common entry checks: identity and the SPC-2 reservation of someone else. */
static nvb_status begin_for(struct nvb_resv *r, const struct nvb_host_id *h)
{
	struct resv_slot *slots;

	if (!host_valid(h))
		return NVB_INVALID_FIELD;
	change_begin(r);
	slots = atomic_load_explicit(&r->slots, memory_order_relaxed);
	/* SPC-5, "Exceptions to SPC-2 RESERVE and RELEASE behavior":
	 * PERSISTENT RESERVE OUT from another I_T nexus
	 * conflicts with a RESERVE(6/10) reservation. */
	if (r->legacy && !slot_matches(&slots[LEGACY_SLOT], h)) {
		change_end(r);
		return NVB_RESERVATION_CONFLICT;
	}
	return NVB_OK;
}

static void ptpl_apply(struct nvb_resv *r, unsigned cptpl)
{
	if (cptpl == NVB_RESV_PTPL_ON)
		r->ptpl = true;
	else if (cptpl == NVB_RESV_PTPL_OFF)
		r->ptpl = false;
}

/* ---- Reservation Register (NVMe 2.0 §7.3; §8.19 "Registering") ---- */

nvb_status nvb_resv_register(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			     bool iekey, uint64_t crkey, uint64_t nrkey, unsigned cptpl)
{
	nvb_status st;
	int idx;

	if (action > NVB_RESV_REPLACE || cptpl == 1 || cptpl > NVB_RESV_PTPL_ON)
		return NVB_INVALID_FIELD;
	st = begin_for(r, host);
	if (st != NVB_OK)
		return st;
	idx = reg_find(r, host);
	switch (action) {
	case NVB_RESV_REGISTER:
		/* Registering again is fine with the same key only; CRKEY is
		 * not looked at. */
		if (idx >= 0)
			st = reg_at(r, idx)->key == nrkey ? NVB_OK : NVB_RESERVATION_CONFLICT;
		else
			st = reg_add(r, host, nrkey);
		break;
	case NVB_RESV_UNREGISTER:
		if (!key_ok(r, idx, iekey, crkey))
			st = NVB_RESERVATION_CONFLICT;
		else
			reg_remove(r, idx, true);
		break;
	default:
		/* Replace. A non-registrant with IEKEY registers: that is what
		 * SCSI REGISTER AND IGNORE EXISTING KEY does, and what it
		 * translates to. */
		if (idx >= 0 && key_ok(r, idx, iekey, crkey))
			reg_at(r, idx)->key = nrkey;
		else if (idx < 0 && iekey)
			st = reg_add(r, host, nrkey);
		else
			st = NVB_RESERVATION_CONFLICT;
		break;
	}
	if (st == NVB_OK) {
		r->gen++;
		ptpl_apply(r, cptpl);
		changed(r, true);
		/* Report shows the controller the host registered through last. */
		idx = reg_find(r, host);
		if (idx >= 0)
			reg_at(r, idx)->cntlid = host->cntlid;
	}
	change_end(r);
	return st;
}

/* SPC-5, "Registering": REGISTER and REGISTER AND IGNORE EXISTING KEY. */
nvb_status nvb_resv_scsi_register(struct nvb_resv *r, const struct nvb_host_id *host,
				  bool ignore_key, uint64_t res_key, uint64_t sa_key, bool aptpl)
{
	nvb_status st = begin_for(r, host);
	int idx;

	if (st != NVB_OK)
		return st;
	idx = reg_find(r, host);
	if (idx < 0) {
		if (!ignore_key && res_key != 0) {
			st = NVB_RESERVATION_CONFLICT;
		} else if (sa_key == 0) {
			change_end(r);          /* nothing to register: GOOD */
			return NVB_OK;
		} else {
			st = reg_add(r, host, sa_key);
		}
	} else if (!ignore_key && reg_at(r, idx)->key != res_key) {
		st = NVB_RESERVATION_CONFLICT;
	} else if (sa_key == 0) {
		reg_remove(r, idx, true);
	} else {
		reg_at(r, idx)->key = sa_key;
	}
	if (st == NVB_OK) {
		r->gen++;
		r->ptpl = aptpl;
		changed(r, true);
	}
	change_end(r);
	return st;
}

/* ---- Reservation Acquire (NVMe 2.0 §7.2; §8.19 "Preempting") ---- */

/* Unregister every registrant but self whose key is prkey (false: none has it). */
static bool preempt_keys(struct nvb_resv *r, int self, uint64_t prkey, bool abort)
{
	bool matched = false;

	for (int i = 0; i < NSLOTS; i++) {
		struct resv_slot *s = reg_at(r, i);

		if (!slot_used(s) || s->key != prkey)
			continue;
		matched = true;
		if (i == self)
			continue;
		notify(r, i, NVB_RESV_EV_REGISTRATION_PREEMPTED, abort);
		reg_remove(r, i, false);
	}
	return matched;
}

/* Replace the reservation (of type old) with one of type rtype held by self. */
static void preempt_reservation(struct nvb_resv *r, int self, uint8_t old, uint8_t rtype)
{
	resv_set(r, rtype, self);
	/* SPC-5, "Preempting": when the type changes, the remaining
	 * registrants learn that the reservation they lived under is gone. */
	if (old != rtype)
		notify_others(r, self, NVB_RESV_EV_RESERVATION_RELEASED);
}

static nvb_status preempt(struct nvb_resv *r, int self, uint8_t rtype, uint64_t prkey, bool abort)
{
	uint8_t old = r->rtype;

	if (old == NVB_RESV_NONE)
		return preempt_keys(r, self, prkey, abort) ? NVB_OK : NVB_RESERVATION_CONFLICT;

	if (type_all_registrants(old)) {
		if (prkey != 0)
			return preempt_keys(r, self, prkey, abort) ? NVB_OK :
			       NVB_RESERVATION_CONFLICT;
		/* PRKEY 0: everybody else goes, the reservation becomes ours. */
		for (int i = 0; i < NSLOTS; i++) {
			if (i != self && slot_used(reg_at(r, i))) {
				notify(r, i, NVB_RESV_EV_REGISTRATION_PREEMPTED, abort);
				reg_remove(r, i, false);
			}
		}
		preempt_reservation(r, self, old, rtype);
		return NVB_OK;
	}

	/* One holder: preempting it moves the reservation to us. */
	if (prkey == reg_at(r, r->holder)->key) {
		preempt_keys(r, self, prkey, abort);
		preempt_reservation(r, self, old, rtype);
		return NVB_OK;
	}
	if (prkey == 0)
		return NVB_INVALID_FIELD;
	return preempt_keys(r, self, prkey, abort) ? NVB_OK : NVB_RESERVATION_CONFLICT;
}

nvb_status nvb_resv_acquire(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			    bool iekey, uint8_t rtype, uint64_t crkey, uint64_t prkey)
{
	nvb_status st;
	int idx;

	if (action > NVB_RESV_PREEMPT_ABORT || !type_valid(rtype))
		return NVB_INVALID_FIELD;
	st = begin_for(r, host);
	if (st != NVB_OK)
		return st;
	idx = reg_find(r, host);
	if (!key_ok(r, idx, iekey, crkey)) {
		st = NVB_RESERVATION_CONFLICT;
	} else if (action == NVB_RESV_ACQUIRE) {
		/* Acquiring what we hold is fine; anything else held conflicts. */
		if (r->rtype == NVB_RESV_NONE) {
			resv_set(r, rtype, idx);
			changed(r, true);
		} else if (!reg_is_holder(r, idx) || r->rtype != rtype) {
			st = NVB_RESERVATION_CONFLICT;
		}
	} else {
		st = preempt(r, idx, rtype, prkey, action == NVB_RESV_PREEMPT_ABORT);
		if (st == NVB_OK) {
			r->gen++;
			changed(r, true);
		}
	}
	change_end(r);
	return st;
}

/* ---- Reservation Release (NVMe 2.0 §7.4) ---- */

nvb_status nvb_resv_release(struct nvb_resv *r, const struct nvb_host_id *host, unsigned action,
			    bool iekey, uint8_t rtype, uint64_t crkey)
{
	nvb_status st;
	uint8_t old;
	int idx;

	if (action > NVB_RESV_CLEAR)
		return NVB_INVALID_FIELD;
	st = begin_for(r, host);
	if (st != NVB_OK)
		return st;
	idx = reg_find(r, host);
	old = r->rtype;
	if (!key_ok(r, idx, iekey, crkey)) {
		st = NVB_RESERVATION_CONFLICT;
	} else if (action == NVB_RESV_CLEAR) {
		notify_others(r, idx, NVB_RESV_EV_RESERVATION_PREEMPTED);
		for (int i = 0; i < NSLOTS; i++)
			if (slot_used(reg_at(r, i)))
				reg_remove(r, i, false);
		resv_set(r, NVB_RESV_NONE, -1);
		r->gen++;
		changed(r, true);
	} else if (reg_is_holder(r, idx)) {
		/* A release by a non-holder, or with nothing reserved, succeeds
		 * and does nothing; the holder must name the type it holds. */
		if (rtype != old) {
			st = NVB_INVALID_FIELD;
		} else {
			resv_set(r, NVB_RESV_NONE, -1);
			if (type_registrants_matter(old))
				notify_others(r, idx, NVB_RESV_EV_RESERVATION_RELEASED);
			changed(r, true);
		}
	}
	change_end(r);
	return st;
}

/* ---- SPC-2 RESERVE / RELEASE ---- */

nvb_status nvb_resv_legacy_reserve(struct nvb_resv *r, const struct nvb_host_id *host)
{
	struct resv_slot *slots;
	nvb_status st = NVB_OK;

	if (!host_valid(host))
		return NVB_INVALID_FIELD;
	change_begin(r);
	slots = slots_get(r);
	if (!slots) {
		st = NVB_INTERNAL_ERROR;
	} else if (r->legacy) {
		if (!slot_matches(&slots[LEGACY_SLOT], host))
			st = NVB_RESERVATION_CONFLICT;
	} else if (r->nregs > 0 || r->rtype) {
		/* SPC-5 "Exceptions to SPC-2 RESERVE and RELEASE behavior"
		 * (CRH = 1): RESERVE conflicts with any
		 * persistent registration. */
		st = NVB_RESERVATION_CONFLICT;
	} else {
		slot_set(&slots[LEGACY_SLOT], host, 0);
		r->legacy = true;
		changed(r, false);
	}
	change_end(r);
	return st;
}

void nvb_resv_legacy_drop(struct nvb_resv *r, const struct nvb_host_id *host)
{
	struct resv_slot *slots;

	change_begin(r);
	slots = atomic_load_explicit(&r->slots, memory_order_relaxed);
	if (r->legacy && (!host || (host_valid(host) && slot_matches(&slots[LEGACY_SLOT], host)))) {
		slot_clear(&slots[LEGACY_SLOT]);
		r->legacy = false;
		changed(r, false);
	}
	change_end(r);
}

/* Only the holder's RELEASE ends it; anyone else's is GOOD and a no-op. */
void nvb_resv_legacy_release(struct nvb_resv *r, const struct nvb_host_id *host)
{
	if (host_valid(host))
		nvb_resv_legacy_drop(r, host);
}

/* ---- reading the state ---- */

bool nvb_resv_ptpl(struct nvb_resv *r)
{
	bool on;

	pthread_mutex_lock(&r->lock);
	on = r->ptpl;
	pthread_mutex_unlock(&r->lock);
	return on;
}

void nvb_resv_set_ptpl(struct nvb_resv *r, bool on)
{
	change_begin(r);
	if (r->ptpl != on) {
		r->ptpl = on;
		changed(r, true);
	}
	change_end(r);
}

uint32_t nvb_resv_change_count(struct nvb_resv *r)
{
	return atomic_load_explicit(&r->changes, memory_order_relaxed);
}

bool nvb_resv_key_of(struct nvb_resv *r, const struct nvb_host_id *host, uint64_t *key)
{
	int idx;

	pthread_mutex_lock(&r->lock);
	idx = reg_find(r, host);
	if (idx >= 0 && key)
		*key = reg_at(r, idx)->key;
	pthread_mutex_unlock(&r->lock);
	return idx >= 0;
}

void nvb_resv_read(struct nvb_resv *r, struct nvb_resv_status *st, struct nvb_resv_reg *regs,
		   int max)
{
	int n = 0;

	pthread_mutex_lock(&r->lock);
	st->gen = r->gen;
	st->rtype = r->rtype;
	st->ptpl = r->ptpl;
	st->legacy = r->legacy;
	st->nregs = r->nregs;
	for (int i = 0; i < NSLOTS && n < max && r->nregs; i++) {
		struct resv_slot *s = reg_at(r, i);

		if (!slot_used(s))
			continue;
		slot_host(s, &regs[n].host);
		regs[n].key = s->key;
		regs[n].holder = reg_is_holder(r, i);
		n++;
	}
	pthread_mutex_unlock(&r->lock);
}

/* NVMe 2.0 §7.5, Figures "Reservation Status Extended Data Structure" and
 * "Registered Controller Extended Data Structure". */
#define REPORT_HDR_EXT  64
#define REPORT_REG_EXT  64

size_t nvb_resv_report(struct nvb_resv *r, void *buf, size_t len)
{
	uint8_t *out = buf;
	uint8_t ent[REPORT_REG_EXT], hdr[REPORT_HDR_EXT] = { 0 };
	size_t pos, full;
	uint32_t gen;
	uint16_t n;

	memset(buf, 0, len);
	pthread_mutex_lock(&r->lock);
	n = (uint16_t)r->nregs;
	full = REPORT_HDR_EXT + (size_t)n * REPORT_REG_EXT;
	gen = htole32(r->gen);
	memcpy(hdr, &gen, 4);
	hdr[4] = r->rtype;
	hdr[5] = (uint8_t)n;                    /* REGCTL, little-endian */
	hdr[6] = (uint8_t)(n >> 8);
	hdr[9] = r->ptpl;                       /* PTPLS */
	memcpy(out, hdr, len < sizeof(hdr) ? len : sizeof(hdr));
	pos = REPORT_HDR_EXT;
	for (int i = 0; i < NSLOTS && pos < len && n; i++) {
		struct resv_slot *s = reg_at(r, i);
		struct nvb_host_id h;
		uint64_t key = htole64(s->key);
		uint16_t cntlid;

		if (!slot_used(s))
			continue;
		slot_host(s, &h);
		memset(ent, 0, sizeof(ent));
		/* Registrants without an NVMe identity (iSCSI) have no
		 * controller and no Host Identifier: CNTLID FFFFh, HOSTID 0. */
		cntlid = htole16(h.kind == NVB_HOST_NVME ? h.cntlid : 0xffff);
		memcpy(ent, &cntlid, 2);
		ent[2] = reg_is_holder(r, i);   /* RCSTS bit 0: holds the reservation */
		memcpy(ent + 8, &key, 8);
		if (h.kind == NVB_HOST_NVME)
			memcpy(ent + 16, h.id, 16);
		memcpy(out + pos, ent, len - pos < sizeof(ent) ? len - pos : sizeof(ent));
		pos += sizeof(ent);
	}
	pthread_mutex_unlock(&r->lock);
	return full;
}

/* ---- persistence: the state file ---- */

/*
 * Little-endian: "NVBRESV1" | u32 body length | body | u32 CRC32C(body).
 * Body: u32 gen | u8 rtype | u8 ptpl | u16 nregs | then per registrant
 * u8 kind | u8 flags (bit 0: holder) | u16 len | u16 cntlid | u16 0 |
 * u64 key | id[len] padded to 8 bytes.
 */
static const char file_magic[8] = { 'N', 'V', 'B', 'R', 'E', 'S', 'V', '1' };
#define FILE_REG_HDR 16
#define FILE_MAX (8 + 4 + 8 + NSLOTS * (FILE_REG_HDR + NVB_HOST_ID_MAX) + 4)

struct wbuf {
	uint8_t *p;
	size_t len;
};

static void put(struct wbuf *b, const void *src, size_t n)
{
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void put_u8(struct wbuf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put_le16(struct wbuf *b, uint16_t v)
{
	v = htole16(v);
	put(b, &v, 2);
}

static void put_le32(struct wbuf *b, uint32_t v)
{
	v = htole32(v);
	put(b, &v, 4);
}

/* Serialize under r->lock into b (FILE_MAX bytes). */
static void state_encode(struct nvb_resv *r, struct wbuf *b)
{
	static const uint8_t zero[8];
	size_t body;
	uint32_t crc, blen;

	put(b, file_magic, sizeof(file_magic));
	put_le32(b, 0);                         /* body length, set below */
	body = b->len;
	put_le32(b, r->gen);
	put_u8(b, r->rtype);
	put_u8(b, r->ptpl);
	put_le16(b, (uint16_t)r->nregs);
	for (int i = 0; i < NSLOTS && r->nregs; i++) {
		struct resv_slot *s = reg_at(r, i);
		struct nvb_host_id h;
		uint64_t key = htole64(s->key);

		if (!slot_used(s))
			continue;
		slot_host(s, &h);
		put_u8(b, h.kind);
		put_u8(b, reg_is_holder(r, i));
		put_le16(b, h.len);
		put_le16(b, h.cntlid);
		put_le16(b, 0);
		put(b, &key, 8);
		put(b, h.id, h.len);
		put(b, zero, (8 - h.len % 8) % 8);
	}
	blen = htole32((uint32_t)(b->len - body));
	memcpy(b->p + 8, &blen, 4);
	crc = htole32(nvb_crc32c(b->p + body, b->len - body));
	put(b, &crc, 4);
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
};

static bool get(struct rbuf *b, void *dst, size_t n)
{
	if (b->len - b->pos < n)
		return false;
	memcpy(dst, b->p + b->pos, n);
	b->pos += n;
	return true;
}

static bool get_le16(struct rbuf *b, uint16_t *v)
{
	if (!get(b, v, 2))
		return false;
	*v = le16toh(*v);
	return true;
}

/* Load a file image into the (fresh) state; a reason on failure. */
static const char *state_decode(struct nvb_resv *r, const uint8_t *p, size_t len)
{
	struct rbuf b = { .p = p, .len = len };
	uint32_t blen, crc, gen;
	uint8_t rtype, ptpl;
	uint16_t nregs;
	int holders = 0, holder = -1;

	if (len < 12 || memcmp(p, file_magic, sizeof(file_magic)) != 0)
		return "not a reservation state file";
	memcpy(&blen, p + 8, 4);
	blen = le32toh(blen);
	if (blen > len - 12 || len - 12 - blen != 4)
		return "truncated";
	memcpy(&crc, p + 12 + blen, 4);
	if (le32toh(crc) != nvb_crc32c(p + 12, blen))
		return "checksum mismatch";
	b.pos = 12;
	b.len = 12 + blen;
	if (!get(&b, &gen, 4) || !get(&b, &rtype, 1) || !get(&b, &ptpl, 1) ||
	    !get_le16(&b, &nregs))
		return "truncated header";
	/* Written only while PTPL is on. */
	if (rtype > NVB_RESV_EA_AR || nregs > NSLOTS || (rtype && nregs == 0) || ptpl != 1)
		return "bad header";
	if (nregs && !slots_get(r))
		return "out of memory";
	for (int i = 0; i < nregs; i++) {
		struct nvb_host_id h;
		uint8_t flags, pad[8];
		uint16_t cntlid, rsvd;
		uint64_t key;

		memset(&h, 0, sizeof(h));
		if (!get(&b, &h.kind, 1) || !get(&b, &flags, 1) || !get_le16(&b, &h.len) ||
		    !get_le16(&b, &cntlid) || !get_le16(&b, &rsvd) || !get(&b, &key, 8))
			return "truncated registrant";
		if (!host_valid(&h) || (h.kind == NVB_HOST_NVME && h.len != 16) || flags > 1)
			return "bad registrant";
		if (!get(&b, h.id, h.len) || !get(&b, pad, (8 - h.len % 8) % 8))
			return "truncated registrant";
		host_finish(&h, h.kind, h.len, cntlid);
		if (reg_find(r, &h) >= 0)
			return "duplicate registrant";
		slot_set(reg_at(r, i), &h, le64toh(key));
		r->nregs++;
		if (flags) {
			holders++;
			holder = i;
		}
	}
	if (b.pos != b.len)
		return "trailing bytes";
	/* One holder for the single-holder types, all or none flagged for AR. */
	if (rtype && !type_all_registrants(rtype) && holders != 1)
		return "reservation without exactly one holder";
	r->gen = le32toh(gen);
	r->ptpl = ptpl;
	resv_set(r, rtype, holder);
	return NULL;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so a rename or unlink is durable. */
static int sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Replace the file atomically: temporary file, fsync, rename, fsync dir. */
static int file_replace(const char *path, const uint8_t *p, size_t len)
{
	size_t tlen = strlen(path) + 5;
	char *tmp = malloc(tlen);
	int fd, ret;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, tlen, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, p, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret == 0)
		ret = sync_dir(path);
	else
		unlink(tmp);
out:
	free(tmp);
	return ret;
}

static int file_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return sync_dir(path);
}

/* Bring the file up to date with the state (blocking; persist_lock held). */
static int persist_locked(struct nvb_resv *r)
{
	struct wbuf b = { 0 };
	uint64_t seq;
	bool ptpl;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	seq = r->change_seq;
	ptpl = r->ptpl;
	if (seq > atomic_load_explicit(&r->durable_seq, memory_order_relaxed) && ptpl) {
		b.p = malloc(FILE_MAX);
		if (b.p)
			state_encode(r, &b);
	}
	pthread_mutex_unlock(&r->lock);
	if (seq <= atomic_load_explicit(&r->durable_seq, memory_order_relaxed)) {
		free(b.p);      /* another commit made this state durable meanwhile */
		return 0;
	}
	if (ptpl && !b.p)
		return -ENOMEM;
	if (ptpl) {
		ret = file_replace(r->path, b.p, b.len);
		if (ret == 0)
			r->on_disk = true;
	} else if (r->on_disk) {
		ret = file_remove(r->path);
		if (ret == 0)
			r->on_disk = false;
	}
	free(b.p);
	if (ret == 0)
		atomic_store_explicit(&r->durable_seq, seq, memory_order_release);
	else
		nvb_err("reservation state %s: %s: %s", r->path, ptpl ? "write" : "remove",
			strerror(-ret));
	return ret;
}

int nvb_resv_commit_sync(struct nvb_resv *r)
{
	int ret;

	if (!r->path) {
		pthread_mutex_lock(&r->lock);
		atomic_store_explicit(&r->durable_seq, r->change_seq, memory_order_relaxed);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	pthread_mutex_lock(&r->persist_lock);
	ret = persist_locked(r);
	pthread_mutex_unlock(&r->persist_lock);
	return ret;
}

struct commit_job {
	struct nvb_resv *r;
	struct nvb_reactor *reactor;
	nvb_resv_commit_cb cb;
	void *arg;
	int err;
	pthread_t tid;
	bool joinable;
};

static void commit_job_done(void *arg)
{
	struct commit_job *job = arg;
	nvb_resv_commit_cb cb = job->cb;
	void *cb_arg = job->arg;
	int err = job->err;

	/* The helper may still be inside nvb_reactor_post (waking us up):
	 * wait for those few instructions, so that nothing of it outlives the
	 * command (whose completion may end with the reactor's destruction). */
	if (job->joinable)
		pthread_join(job->tid, NULL);
	free(job);
	cb(cb_arg, err);
}

static void *commit_thread(void *arg)
{
	struct commit_job *job = arg;

	job->err = nvb_resv_commit_sync(job->r);
	/* Set here, not by pthread_create: the post orders it before the
	 * reactor reads it. */
	job->tid = pthread_self();
	/* The caller keeps r alive until cb has run: nothing of r is touched
	 * after this post. */
	nvb_reactor_post(job->reactor, commit_job_done, job);
	return NULL;
}

bool nvb_resv_commit(struct nvb_resv *r, struct nvb_reactor *reactor, nvb_resv_commit_cb cb,
		     void *arg)
{
	struct commit_job *job;
	pthread_t tid;
	bool pending;

	pthread_mutex_lock(&r->lock);
	pending = r->change_seq > atomic_load_explicit(&r->durable_seq, memory_order_acquire);
	if (pending && !r->path) {
		/* Nowhere to write (ram namespace): durable as it gets. */
		atomic_store_explicit(&r->durable_seq, r->change_seq, memory_order_relaxed);
		pending = false;
	}
	pthread_mutex_unlock(&r->lock);
	if (!pending)
		return false;

	job = calloc(1, sizeof(*job));
	if (!job) {
		cb(arg, -ENOMEM);
		return true;
	}
	*job = (struct commit_job){ .r = r, .reactor = reactor, .cb = cb, .arg = arg,
				    .joinable = true };
	/* Reservation commands are rare: a short-lived thread per commit keeps
	 * the file I/O off the reactors without a standing worker. */
	if (pthread_create(&tid, NULL, commit_thread, job) != 0) {
		job->joinable = false;
		job->err = nvb_resv_commit_sync(r);
		nvb_reactor_post(reactor, commit_job_done, job);
	}
	return true;
}

/* ---- lifetime ---- */

static int state_load(struct nvb_resv *r, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *p;
	const char *why;
	ssize_t n;
	int fd;

	fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "reservation state %s: %s", r->path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_size > FILE_MAX) {
		snprintf(err, errlen, "reservation state %s: %s", r->path,
			 st.st_size > FILE_MAX ? "file too large" : strerror(errno));
		close(fd);
		return -1;
	}
	p = malloc((size_t)st.st_size + 1);
	n = p ? read(fd, p, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		snprintf(err, errlen, "reservation state %s: cannot read it", r->path);
		free(p);
		return -1;
	}
	change_begin(r);
	why = state_decode(r, p, (size_t)n);
	change_end(r);
	free(p);
	if (why) {
		snprintf(err, errlen, "reservation state %s is corrupt (%s): move it away to "
			 "start without its reservations", r->path, why);
		return -1;
	}
	r->on_disk = true;
	nvb_info("reservation state %s: %d registrant(s), reservation type %u restored",
		 r->path, r->nregs, r->rtype);
	return 0;
}

int nvb_resv_create(struct nvb_resv **out, struct nvb_ns *owner, const char *state_path,
		    char *err, size_t errlen)
{
	struct nvb_resv *r = aligned_alloc(64, (sizeof(*r) + 63) & ~(size_t)63);

	*out = NULL;
	if (r) {
		memset(r, 0, sizeof(*r));
		r->path = state_path ? strdup(state_path) : NULL;
	}
	if (!r || (state_path && !r->path)) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->persist_lock, NULL);
	r->owner = owner;
	r->holder = HOLDER_NONE;
	atomic_init(&r->view_holder, HOLDER_NONE);
	if (r->path && state_load(r, err, errlen) < 0) {
		nvb_resv_destroy(r);
		return -1;
	}
	*out = r;
	return 0;
}

void nvb_resv_destroy(struct nvb_resv *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->persist_lock);
	free(atomic_load_explicit(&r->slots, memory_order_relaxed));
	free(r->path);
	free(r);
}

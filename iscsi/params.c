/* SPDX-License-Identifier: MIT */
/* iSCSI text negotiation, target side (RFC 7143 §6.2, §6.3, §12, §13). */
#include "iscsi/params.h"

#include <stdio.h>
#include <string.h>

#include "iscsi/pdu.h"

/* How a key is negotiated (§6.2). */
enum key_type {
	KT_LIST,        /* list-of-values: first offered value we support */
	KT_BOOL_AND,    /* result function AND */
	KT_BOOL_OR,     /* result function OR */
	KT_NUM_MIN,     /* result function Minimum */
	KT_NUM_MAX,     /* result function Maximum */
	KT_NUM_DECL,    /* declarative number */
	KT_STR_DECL,    /* declarative string */
	KT_ENUM_DECL,   /* declarative choice (SessionType) */
	KT_CHAP,        /* security exchange handled by iscsi/chap.c */
	KT_REJECT,      /* obsolete key always answered Reject */
	KT_SEND_TARGETS,/* answered by the discovery layer */
};

/* Where a key may appear (§13 "Use", "Any-Stage"). */
#define U_SEC      0x01         /* security stage */
#define U_OPER     0x02         /* operational stage */
#define U_FFP      0x04         /* Text negotiation in full feature phase */
#define U_LO       0x08         /* leading connection only */
#define U_IRR_DISC 0x10         /* Irrelevant in a discovery session */
#define U_ANY      (U_SEC | U_OPER)

/* Who may send it. */
#define S_I 0x01
#define S_T 0x02
#define S_BOTH (S_I | S_T)

#define NO_OFF 0xffff

struct key_def {
	const char *name;
	uint8_t type;
	uint8_t use;
	uint8_t senders;
	uint32_t min, max;      /* numeric range; string length limit */
	uint32_t dflt;          /* RFC default: number, 0/1, or value index */
	uint32_t fixed;         /* our value (or allowed mask) when pref_off is NO_OFF */
	const char *const *values;      /* list / enum values; index = enum value */
	uint8_t nvalues;
	uint16_t pref_off;      /* offset in iscsi_target_prefs */
	uint16_t result_off;    /* offset in iscsi_session_params */
	uint16_t result_len;    /* string result buffer size */
};

static const char *const digest_values[] = { "None", "CRC32C" };
static const char *const auth_values[] = { "None", "CHAP", "SRP", "KRB5", "SPKM1", "SPKM2" };
static const char *const stype_values[] = { "Normal", "Discovery" };
static const char *const taskrep_values[] = { "RFC3720", "ResponseFence", "FastAbort" };

#define PREF(f)   offsetof(struct iscsi_target_prefs, f)
#define RES(f)    offsetof(struct iscsi_session_params, f)
#define VALUES(a) .values = (a), .nvalues = sizeof(a) / sizeof((a)[0])
#define MAX_DSL   ISCSI_MAX_DSL

/* The table; its order settles dependencies between keys of one request
 * (SessionType before what it makes Irrelevant, AuthMethod before CHAP,
 * InitialR2T/ImmediateData/MaxBurstLength before FirstBurstLength). */
static const struct key_def keys[ISCSI_KEY_COUNT] = {
	/* §13.21 */
	[ISCSI_KEY_SESSION_TYPE] = { "SessionType", KT_ENUM_DECL, U_ANY | U_LO, S_I,
		.dflt = ISCSI_STYPE_NORMAL, VALUES(stype_values), .pref_off = NO_OFF,
		.result_off = RES(session_type) },
	/* §13.4 - §13.9 */
	[ISCSI_KEY_INITIATOR_NAME] = { "InitiatorName", KT_STR_DECL, U_ANY, S_I,
		.min = 1, .max = ISCSI_NAME_MAX, .pref_off = NO_OFF,
		.result_off = RES(initiator_name), .result_len = ISCSI_NAME_MAX + 1 },
	[ISCSI_KEY_TARGET_NAME] = { "TargetName", KT_STR_DECL, U_ANY, S_I,
		.min = 1, .max = ISCSI_NAME_MAX, .pref_off = NO_OFF,
		.result_off = RES(target_name), .result_len = ISCSI_NAME_MAX + 1 },
	[ISCSI_KEY_INITIATOR_ALIAS] = { "InitiatorAlias", KT_STR_DECL, U_ANY | U_FFP, S_I,
		.min = 0, .max = ISCSI_ALIAS_MAX, .pref_off = NO_OFF,
		.result_off = RES(initiator_alias), .result_len = ISCSI_ALIAS_MAX + 1 },
	[ISCSI_KEY_TARGET_ALIAS] = { "TargetAlias", KT_STR_DECL, U_ANY | U_FFP, S_T,
		.pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_TARGET_ADDRESS] = { "TargetAddress", KT_STR_DECL, U_ANY | U_FFP, S_T,
		.pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_TPGT] = { "TargetPortalGroupTag", KT_NUM_DECL, U_ANY, S_T,
		.max = 65535, .pref_off = NO_OFF, .result_off = NO_OFF },
	/* §12.1 */
	[ISCSI_KEY_AUTH_METHOD] = { "AuthMethod", KT_LIST, U_SEC, S_BOTH,
		.dflt = ISCSI_AUTH_NONE, VALUES(auth_values), .pref_off = PREF(auth_methods),
		.result_off = RES(auth_method) },
	/* §12.1.3 */
	[ISCSI_KEY_CHAP_A] = { "CHAP_A", KT_CHAP, U_SEC, S_BOTH, .pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_CHAP_I] = { "CHAP_I", KT_CHAP, U_SEC, S_BOTH, .pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_CHAP_C] = { "CHAP_C", KT_CHAP, U_SEC, S_BOTH, .pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_CHAP_N] = { "CHAP_N", KT_CHAP, U_SEC, S_BOTH, .pref_off = NO_OFF, .result_off = NO_OFF },
	[ISCSI_KEY_CHAP_R] = { "CHAP_R", KT_CHAP, U_SEC, S_BOTH, .pref_off = NO_OFF, .result_off = NO_OFF },
	/* §13.1 */
	[ISCSI_KEY_HEADER_DIGEST] = { "HeaderDigest", KT_LIST, U_OPER, S_BOTH,
		.dflt = ISCSI_DIGEST_NONE, VALUES(digest_values), .pref_off = PREF(header_digests),
		.result_off = RES(header_digest) },
	[ISCSI_KEY_DATA_DIGEST] = { "DataDigest", KT_LIST, U_OPER, S_BOTH,
		.dflt = ISCSI_DIGEST_NONE, VALUES(digest_values), .pref_off = PREF(data_digests),
		.result_off = RES(data_digest) },
	/* §13.2 */
	[ISCSI_KEY_MAX_CONNECTIONS] = { "MaxConnections", KT_NUM_MIN, U_OPER | U_LO | U_IRR_DISC,
		S_BOTH, .min = 1, .max = 65535, .dflt = 1, .pref_off = PREF(max_connections),
		.result_off = RES(max_connections) },
	/* §13.10, §13.11 */
	[ISCSI_KEY_INITIAL_R2T] = { "InitialR2T", KT_BOOL_OR, U_OPER | U_LO | U_IRR_DISC, S_BOTH,
		.dflt = 1, .pref_off = PREF(initial_r2t), .result_off = RES(initial_r2t) },
	[ISCSI_KEY_IMMEDIATE_DATA] = { "ImmediateData", KT_BOOL_AND, U_OPER | U_LO | U_IRR_DISC,
		S_BOTH, .dflt = 1, .pref_off = PREF(immediate_data),
		.result_off = RES(immediate_data) },
	/* §13.12 */
	[ISCSI_KEY_MAX_RECV_DSL] = { "MaxRecvDataSegmentLength", KT_NUM_DECL, U_OPER | U_FFP,
		S_BOTH, .min = 512, .max = MAX_DSL, .dflt = 8192, .pref_off = PREF(max_recv_dsl),
		.result_off = RES(max_xmit_dsl) },
	/* §13.13, §13.14 */
	[ISCSI_KEY_MAX_BURST] = { "MaxBurstLength", KT_NUM_MIN, U_OPER | U_LO | U_IRR_DISC, S_BOTH,
		.min = 512, .max = MAX_DSL, .dflt = 262144, .pref_off = PREF(max_burst_length),
		.result_off = RES(max_burst_length) },
	[ISCSI_KEY_FIRST_BURST] = { "FirstBurstLength", KT_NUM_MIN, U_OPER | U_LO | U_IRR_DISC,
		S_BOTH, .min = 512, .max = MAX_DSL, .dflt = 65536,
		.pref_off = PREF(first_burst_length), .result_off = RES(first_burst_length) },
	/* §13.15, §13.16 */
	[ISCSI_KEY_TIME2WAIT] = { "DefaultTime2Wait", KT_NUM_MAX, U_OPER | U_LO, S_BOTH,
		.min = 0, .max = 3600, .dflt = 2, .pref_off = PREF(default_time2wait),
		.result_off = RES(default_time2wait) },
	[ISCSI_KEY_TIME2RETAIN] = { "DefaultTime2Retain", KT_NUM_MIN, U_OPER | U_LO, S_BOTH,
		.min = 0, .max = 3600, .dflt = 20, .pref_off = PREF(default_time2retain),
		.result_off = RES(default_time2retain) },
	/* §13.17 */
	[ISCSI_KEY_MAX_OUTSTANDING_R2T] = { "MaxOutstandingR2T", KT_NUM_MIN,
		U_OPER | U_LO | U_IRR_DISC, S_BOTH, .min = 1, .max = 65535, .dflt = 1,
		.pref_off = PREF(max_outstanding_r2t), .result_off = RES(max_outstanding_r2t) },
	/* §13.18, §13.19: we only handle in-order data. */
	[ISCSI_KEY_DATA_PDU_IN_ORDER] = { "DataPDUInOrder", KT_BOOL_OR, U_OPER | U_LO | U_IRR_DISC,
		S_BOTH, .dflt = 1, .fixed = 1, .pref_off = NO_OFF,
		.result_off = RES(data_pdu_in_order) },
	[ISCSI_KEY_DATA_SEQ_IN_ORDER] = { "DataSequenceInOrder", KT_BOOL_OR,
		U_OPER | U_LO | U_IRR_DISC, S_BOTH, .dflt = 1, .fixed = 1, .pref_off = NO_OFF,
		.result_off = RES(data_sequence_in_order) },
	/* §13.20 */
	[ISCSI_KEY_ERL] = { "ErrorRecoveryLevel", KT_NUM_MIN, U_OPER | U_LO, S_BOTH,
		.min = 0, .max = 2, .dflt = 0, .pref_off = PREF(error_recovery_level),
		.result_off = RES(error_recovery_level) },
	/* §13.23: we report tasks the RFC 3720 way only. */
	[ISCSI_KEY_TASK_REPORTING] = { "TaskReporting", KT_LIST, U_OPER | U_LO | U_IRR_DISC,
		S_BOTH, .dflt = ISCSI_TASKREP_RFC3720, VALUES(taskrep_values),
		.fixed = ISCSI_MASK(ISCSI_TASKREP_RFC3720), .pref_off = NO_OFF,
		.result_off = RES(task_reporting) },
	/* RFC 7144 §2.1: this implementation is RFC 7143, level 1. */
	[ISCSI_KEY_PROTOCOL_LEVEL] = { "iSCSIProtocolLevel", KT_NUM_MIN, U_OPER | U_LO, S_BOTH,
		.min = 0, .max = 31, .dflt = 1, .fixed = 1, .pref_off = NO_OFF,
		.result_off = RES(protocol_level) },
	/* RFC 7145 §6.3.1: no iSER here. */
	[ISCSI_KEY_RDMA_EXTENSIONS] = { "RDMAExtensions", KT_BOOL_AND, U_OPER | U_LO, S_BOTH,
		.dflt = 0, .fixed = 0, .pref_off = NO_OFF, .result_off = RES(rdma_extensions) },
	/* §13.26: obsolete markers. IFMarker/OFMarker may be answered No;
	 * OFMarkInt/IFMarkInt MUST be answered Reject. */
	[ISCSI_KEY_IFMARKER] = { "IFMarker", KT_BOOL_AND, U_OPER, S_BOTH, .dflt = 0, .fixed = 0,
		.pref_off = NO_OFF, .result_off = RES(if_marker) },
	[ISCSI_KEY_OFMARKER] = { "OFMarker", KT_BOOL_AND, U_OPER, S_BOTH, .dflt = 0, .fixed = 0,
		.pref_off = NO_OFF, .result_off = RES(of_marker) },
	[ISCSI_KEY_IFMARKINT] = { "IFMarkInt", KT_REJECT, U_OPER, S_BOTH, .pref_off = NO_OFF,
		.result_off = NO_OFF },
	[ISCSI_KEY_OFMARKINT] = { "OFMarkInt", KT_REJECT, U_OPER, S_BOTH, .pref_off = NO_OFF,
		.result_off = NO_OFF },
	/* §13.3 */
	[ISCSI_KEY_SEND_TARGETS] = { "SendTargets", KT_SEND_TARGETS, U_FFP, S_I,
		.pref_off = NO_OFF, .result_off = NO_OFF },
};

enum key_state {
	KS_OPEN = 0,    /* not seen in this negotiation */
	KS_ANSWERED,    /* the initiator offered, we answered */
	KS_DECLARED,    /* the initiator declared */
	KS_OFFERED,     /* we offered, waiting for the initiator's answer */
	KS_SETTLED,     /* we offered, the initiator answered */
};

int iscsi_key_lookup(const char *name)
{
	for (int i = 0; i < ISCSI_KEY_COUNT; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

const char *iscsi_key_name(enum iscsi_key_id id)
{
	return (unsigned)id < ISCSI_KEY_COUNT ? keys[id].name : "?";
}

/* ---- Defaults and preferences ---- */

void iscsi_session_params_default(struct iscsi_session_params *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < ISCSI_KEY_COUNT; i++) {
		const struct key_def *k = &keys[i];
		char *f = (char *)p + k->result_off;

		if (k->result_off == NO_OFF || k->type == KT_STR_DECL)
			continue;
		if (k->type == KT_BOOL_AND || k->type == KT_BOOL_OR)
			*(bool *)f = k->dflt;
		else
			*(uint32_t *)f = k->dflt;
	}
	/* Both directions start at the §13.12 default. */
	p->max_recv_dsl = 8192;
	p->max_xmit_dsl = 8192;
}

void iscsi_target_prefs_default(struct iscsi_target_prefs *p)
{
	memset(p, 0, sizeof(*p));
	p->auth_methods = ISCSI_MASK(ISCSI_AUTH_NONE) | ISCSI_MASK(ISCSI_AUTH_CHAP);
	p->header_digests = ISCSI_MASK(ISCSI_DIGEST_NONE) | ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	p->data_digests = ISCSI_MASK(ISCSI_DIGEST_NONE) | ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	p->max_recv_dsl = 262144;
	p->max_burst_length = 1048576;
	p->first_burst_length = 65536;
	p->initial_r2t = false;
	p->immediate_data = true;
	p->max_outstanding_r2t = 16;
	p->default_time2wait = 2;
	p->default_time2retain = 20;
	p->max_connections = 1;
	p->error_recovery_level = 0;
	p->tpgt = 1;
}

int iscsi_target_prefs_check(const struct iscsi_target_prefs *p, char *err, size_t errlen)
{
	const uint32_t digests = ISCSI_MASK(ISCSI_DIGEST_NONE) | ISCSI_MASK(ISCSI_DIGEST_CRC32C);
	const uint32_t auths = ISCSI_MASK(ISCSI_AUTH_NONE) | ISCSI_MASK(ISCSI_AUTH_CHAP);
	static const struct { uint16_t off; enum iscsi_key_id key; } nums[] = {
		{ PREF(max_recv_dsl), ISCSI_KEY_MAX_RECV_DSL },
		{ PREF(max_burst_length), ISCSI_KEY_MAX_BURST },
		{ PREF(first_burst_length), ISCSI_KEY_FIRST_BURST },
		{ PREF(max_outstanding_r2t), ISCSI_KEY_MAX_OUTSTANDING_R2T },
		{ PREF(default_time2wait), ISCSI_KEY_TIME2WAIT },
		{ PREF(default_time2retain), ISCSI_KEY_TIME2RETAIN },
	};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		const struct key_def *k = &keys[nums[i].key];
		uint32_t v = *(const uint32_t *)((const char *)p + nums[i].off);

		if (v < k->min || v > k->max) {
			snprintf(err, errlen, "%s %u outside %u..%u", k->name, v, k->min, k->max);
			return -1;
		}
	}
	if (p->first_burst_length > p->max_burst_length) {
		snprintf(err, errlen, "FirstBurstLength %u exceeds MaxBurstLength %u",
			 p->first_burst_length, p->max_burst_length);
		return -1;
	}
	if (!p->auth_methods || (p->auth_methods & ~auths)) {
		snprintf(err, errlen, "AuthMethod must be CHAP and/or None");
		return -1;
	}
	if (!p->header_digests || (p->header_digests & ~digests) ||
	    !p->data_digests || (p->data_digests & ~digests)) {
		snprintf(err, errlen, "digests must be CRC32C and/or None");
		return -1;
	}
	if (p->max_connections != 1 || p->error_recovery_level != 0) {
		snprintf(err, errlen, "only MaxConnections=1 and ErrorRecoveryLevel=0 are supported");
		return -1;
	}
	if (p->target_alias && strlen(p->target_alias) > ISCSI_ALIAS_MAX) {
		snprintf(err, errlen, "TargetAlias longer than %d bytes", ISCSI_ALIAS_MAX);
		return -1;
	}
	return 0;
}

/* ---- Engine helpers ---- */

static bool is_bool(const struct key_def *k)
{
	return k->type == KT_BOOL_AND || k->type == KT_BOOL_OR;
}

/* Our value for a key: a number, 0/1, or the allowed-values mask. */
static uint32_t ours(const struct iscsi_neg *n, const struct key_def *k)
{
	const char *f;

	if (k->pref_off == NO_OFF)
		return k->fixed;
	f = (const char *)n->prefs + k->pref_off;
	return is_bool(k) ? *(const bool *)f : *(const uint32_t *)f;
}

static uint32_t result_get(const struct iscsi_neg *n, const struct key_def *k)
{
	const char *f = (const char *)&n->params + k->result_off;
	return is_bool(k) ? *(const bool *)f : *(const uint32_t *)f;
}

static void result_set(struct iscsi_neg *n, const struct key_def *k, uint32_t v)
{
	char *f = (char *)&n->params + k->result_off;

	if (is_bool(k))
		*(bool *)f = v != 0;
	else
		*(uint32_t *)f = v;
}

static int fail(struct iscsi_neg *n, const char *key, uint16_t status, const char *reason)
{
	n->status = status;
	n->reason = reason;
	snprintf(n->error_key, sizeof(n->error_key), "%s", key ? key : "");
	return -1;
}

static int answer(struct iscsi_text_buf *rsp, const char *key, const char *value)
{
	/* A full response buffer is reported once, after the request. */
	iscsi_text_add(rsp, key, value);
	return 0;
}

static const char *value_text(const struct key_def *k, uint32_t v, char *buf, size_t len)
{
	if (is_bool(k))
		return v ? "Yes" : "No";
	if (k->type == KT_LIST || k->type == KT_ENUM_DECL)
		return v < k->nvalues ? k->values[v] : "Reject";
	snprintf(buf, len, "%u", v);
	return buf;
}

/* Index of a list/enum value; -1 if not one of the key's values. */
static int value_index(const struct key_def *k, const char *item, size_t len)
{
	for (int i = 0; i < k->nvalues; i++)
		if (strlen(k->values[i]) == len && !memcmp(k->values[i], item, len))
			return i;
	return -1;
}

/* A numeric value within the key's range (regular-binary-value, §6.1). */
static int parse_num(const struct key_def *k, const char *v, uint32_t *out)
{
	uint64_t x;

	if (iscsi_text_parse_u64(v, &x) || x < k->min || x > k->max)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* §6.2.2: result functions. */
static uint32_t combine(const struct key_def *k, uint32_t offered, uint32_t mine)
{
	switch (k->type) {
	case KT_BOOL_AND: return offered && mine;
	case KT_BOOL_OR:  return offered || mine;
	case KT_NUM_MIN:  return offered < mine ? offered : mine;
	case KT_NUM_MAX:  return offered > mine ? offered : mine;
	default:          return offered;
	}
}

static bool key_irrelevant(const struct iscsi_neg *n, enum iscsi_key_id id)
{
	const struct key_def *k = &keys[id];

	if ((k->use & U_LO) && !n->leading)
		return true;
	if ((k->use & U_IRR_DISC) && n->params.session_type == ISCSI_STYPE_DISCOVERY)
		return true;
	/* §13.14: FirstBurstLength is Irrelevant when InitialR2T=Yes and
	 * ImmediateData=No (no unsolicited data at all). */
	return id == ISCSI_KEY_FIRST_BURST && n->params.initial_r2t && !n->params.immediate_data;
}

/* Would the target have to offer this key itself, because the RFC default
 * is not acceptable to it? Fills the value to offer. */
static bool offer_needed(const struct iscsi_neg *n, enum iscsi_key_id id, char *val, size_t len)
{
	const struct key_def *k = &keys[id];
	uint32_t mine;

	if (n->state[id] != KS_OPEN || !(k->use & U_OPER) || !(k->senders & S_T) ||
	    key_irrelevant(n, id))
		return false;
	mine = ours(n, k);
	switch (k->type) {
	case KT_LIST: {
		size_t off = 0;

		if (mine & ISCSI_MASK(k->dflt))
			return false;
		val[0] = '\0';
		for (int i = 0; i < k->nvalues && off < len; i++)
			if (mine & ISCSI_MASK(i))
				off += (size_t)snprintf(val + off, len - off, "%s%s",
							off ? "," : "", k->values[i]);
		return off > 0;
	}
	case KT_BOOL_AND: case KT_BOOL_OR: case KT_NUM_MIN: case KT_NUM_MAX:
		if (combine(k, k->dflt, mine) == k->dflt)
			return false;
		if (is_bool(k))
			snprintf(val, len, "%s", mine ? "Yes" : "No");
		else
			snprintf(val, len, "%u", mine);
		return true;
	default:
		return false;
	}
}

/* ---- Handlers: the initiator offers or declares a key ---- */

static int handle_list(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
		       struct iscsi_text_buf *rsp)
{
	const struct key_def *k = &keys[id];
	uint32_t allowed = ours(n, k);
	const char *cur = v, *item;
	size_t len;

	/* §6.2.1: the first offered value we support; values we do not
	 * understand are ignored. "None" counts only when offered. */
	while (iscsi_text_list_next(&cur, &item, &len)) {
		int i = value_index(k, item, len);

		if (i >= 0 && (allowed & ISCSI_MASK(i))) {
			result_set(n, k, (uint32_t)i);
			return answer(rsp, k->name, k->values[i]);
		}
	}
	if (id == ISCSI_KEY_AUTH_METHOD)
		return fail(n, k->name, ISCSI_LOGIN_AUTH_FAILED, "no acceptable AuthMethod offered");
	/* Reject keeps the current value; fatal if we cannot live with it. */
	if (!(allowed & ISCSI_MASK(result_get(n, k))))
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "no acceptable value offered");
	return answer(rsp, k->name, "Reject");
}

static int handle_simple(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
			 struct iscsi_text_buf *rsp)
{
	const struct key_def *k = &keys[id];
	uint32_t offered, r;
	char buf[16];
	bool b;

	if (is_bool(k)) {
		if (iscsi_text_parse_bool(v, &b))
			return answer(rsp, k->name, "Reject");
		offered = b;
	} else if (parse_num(k, v, &offered)) {
		return answer(rsp, k->name, "Reject");
	}
	r = combine(k, offered, ours(n, k));
	/* §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
	if (id == ISCSI_KEY_FIRST_BURST && r > n->params.max_burst_length)
		r = n->params.max_burst_length;
	result_set(n, k, r);
	return answer(rsp, k->name, value_text(k, r, buf, sizeof(buf)));
}

static int handle_num_decl(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
			   bool redeclared)
{
	const struct key_def *k = &keys[id];
	uint64_t x;
	uint32_t val;

	if (iscsi_text_parse_u64(v, &x) || x < k->min)
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "invalid declared value");
	/* We never send more than the 24-bit maximum anyway. */
	val = x > k->max ? k->max : (uint32_t)x;
	if (redeclared && val != result_get(n, k))
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "declared twice");
	result_set(n, k, val);
	return 0;
}

static int handle_str_decl(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
			   bool redeclared)
{
	const struct key_def *k = &keys[id];
	char *dst = (char *)&n->params + k->result_off;
	size_t len = strlen(v);

	if (len < k->min || len > k->max)
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "invalid length");
	if (redeclared && strcmp(dst, v) != 0)
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "declared twice");
	memcpy(dst, v, len + 1);
	return 0;
}

static int handle_enum_decl(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
			    bool redeclared)
{
	const struct key_def *k = &keys[id];
	int i = value_index(k, v, strlen(v));

	if (i < 0)
		return fail(n, k->name, ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED, "unknown value");
	if (redeclared && (uint32_t)i != result_get(n, k))
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "declared twice");
	result_set(n, k, (uint32_t)i);
	return 0;
}

/* The initiator answers an offer of ours (§6.2: the answer must be a
 * possible result of the key's function applied to our offer). */
static int settle(struct iscsi_neg *n, enum iscsi_key_id id, const char *v)
{
	const struct key_def *k = &keys[id];
	uint32_t mine = ours(n, k), got;
	bool ok, b = false;

	n->state[id] = KS_SETTLED;
	if (iscsi_text_is_answer_constant(v)) {
		/* The key keeps its default, which we could not accept. */
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "target offer refused");
	}
	switch (k->type) {
	case KT_LIST: {
		int i = value_index(k, v, strlen(v));
		ok = i >= 0 && (mine & ISCSI_MASK(i));
		got = (uint32_t)i;
		break;
	}
	case KT_BOOL_AND: case KT_BOOL_OR:
		ok = !iscsi_text_parse_bool(v, &b);
		got = b;
		ok = ok && (k->type == KT_BOOL_AND ? (mine || !got) : (!mine || got));
		break;
	case KT_NUM_MIN: case KT_NUM_MAX:
		ok = !parse_num(k, v, &got) &&
		     (k->type == KT_NUM_MIN ? got <= mine : got >= mine);
		break;
	default:
		ok = false;
		got = 0;
		break;
	}
	if (!ok)
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "invalid answer to target offer");
	result_set(n, k, got);
	return 0;
}

/* Answer (or record) one key the initiator sent. */
static int handle_key(struct iscsi_neg *n, enum iscsi_key_id id, const char *v,
		      enum iscsi_neg_stage stage, struct iscsi_text_buf *rsp)
{
	const struct key_def *k = &keys[id];
	uint8_t *st = &n->state[id];
	bool redeclared = *st == KS_DECLARED;

	/* Stage rules (§6.3, §13 "Use"). */
	if (stage == ISCSI_NEG_FULL_FEATURE) {
		if (!(k->use & U_FFP) || !(k->senders & S_I))
			return answer(rsp, k->name, "Reject");
	} else {
		if (k->use == U_FFP)                    /* SendTargets: FFP only */
			return answer(rsp, k->name, "Irrelevant");
		if (stage == ISCSI_NEG_SECURITY && !(k->use & U_SEC))
			return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR,
				    "operational key in the security stage");
		if (stage == ISCSI_NEG_OPERATIONAL && !(k->use & U_OPER))
			return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR,
				    "security key in the operational stage");
		if (!(k->senders & S_I))
			return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR,
				    "key only a target may send");
	}
	if (k->type == KT_CHAP) {
		if (n->params.auth_method != ISCSI_AUTH_CHAP)
			return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR,
				    "CHAP key without AuthMethod=CHAP");
		return 0;       /* iscsi/chap.c answers */
	}
	if (*st == KS_OFFERED)
		return settle(n, id, v);
	/* §6.2: the answer constants are never offers. */
	if (iscsi_text_is_answer_constant(v))
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "reserved value offered");
	/* §6.2, §6.3: no renegotiation within one negotiation. */
	if (*st == KS_ANSWERED || *st == KS_SETTLED)
		return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR, "key negotiated twice");

	switch (k->type) {
	case KT_NUM_DECL:
		*st = KS_DECLARED;
		return handle_num_decl(n, id, v, redeclared);
	case KT_STR_DECL:
		*st = KS_DECLARED;
		return handle_str_decl(n, id, v, redeclared);
	case KT_ENUM_DECL:
		*st = KS_DECLARED;
		return handle_enum_decl(n, id, v, redeclared);
	case KT_SEND_TARGETS:
		*st = KS_ANSWERED;
		n->send_targets = true;
		snprintf(n->send_targets_value, sizeof(n->send_targets_value), "%s", v);
		return 0;
	default:
		break;
	}
	*st = KS_ANSWERED;
	if (k->type == KT_REJECT)
		return answer(rsp, k->name, "Reject");
	if (key_irrelevant(n, id))
		return answer(rsp, k->name, "Irrelevant");
	if (k->type == KT_LIST)
		return handle_list(n, id, v, rsp);
	return handle_simple(n, id, v, rsp);
}

/* ---- Engine ---- */

void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_target_prefs *prefs, bool leading)
{
	memset(n, 0, sizeof(*n));
	n->prefs = prefs;
	n->leading = leading;
	iscsi_session_params_default(&n->params);
}

void iscsi_neg_start_text(struct iscsi_neg *n)
{
	memset(n->state, 0, sizeof(n->state));
	n->requests = 0;
	n->send_targets = false;
	n->send_targets_value[0] = '\0';
}

/* §13.4, §13.5: InitiatorName in the first Login Request, TargetName too
 * for a Normal session. */
static int check_first_request(struct iscsi_neg *n)
{
	if (!n->params.initiator_name[0])
		return fail(n, "InitiatorName", ISCSI_LOGIN_MISSING_PARAMETER,
			    "missing in the first Login Request");
	if (n->params.session_type == ISCSI_STYPE_NORMAL && !n->params.target_name[0])
		return fail(n, "TargetName", ISCSI_LOGIN_MISSING_PARAMETER,
			    "missing for a Normal session");
	return 0;
}

/* The target's own declarations: TargetPortalGroupTag (§13.9) and
 * TargetAlias in the first response of a Normal session, our
 * MaxRecvDataSegmentLength (§13.12) once in the operational stage. */
static void declare(struct iscsi_neg *n, enum iscsi_neg_stage stage, struct iscsi_text_buf *rsp)
{
	if (!n->declared_tpgt && stage != ISCSI_NEG_FULL_FEATURE &&
	    n->params.session_type == ISCSI_STYPE_NORMAL) {
		iscsi_text_add_u64(rsp, keys[ISCSI_KEY_TPGT].name, n->prefs->tpgt);
		if (n->prefs->target_alias && n->prefs->target_alias[0])
			iscsi_text_add(rsp, keys[ISCSI_KEY_TARGET_ALIAS].name, n->prefs->target_alias);
		n->declared_tpgt = true;
	}
	if (!n->declared_mrdsl && stage == ISCSI_NEG_OPERATIONAL) {
		iscsi_text_add_u64(rsp, keys[ISCSI_KEY_MAX_RECV_DSL].name, n->prefs->max_recv_dsl);
		n->params.max_recv_dsl = n->prefs->max_recv_dsl;
		n->declared_mrdsl = true;
	}
}

static void make_offers(struct iscsi_neg *n, struct iscsi_text_buf *rsp)
{
	char val[64];

	for (int id = 0; id < ISCSI_KEY_COUNT; id++) {
		if (offer_needed(n, (enum iscsi_key_id)id, val, sizeof(val))) {
			iscsi_text_add(rsp, keys[id].name, val);
			n->state[id] = KS_OFFERED;
		}
	}
}

/* Was this key already seen earlier in the same request? */
static bool seen_before(const struct iscsi_kv_list *req, unsigned int i)
{
	for (unsigned int j = 0; j < i; j++)
		if (!strcmp(req->kv[j].key, req->kv[i].key))
			return true;
	return false;
}

int iscsi_neg_process(struct iscsi_neg *n, enum iscsi_neg_stage stage, bool transit,
		      const struct iscsi_kv_list *req, struct iscsi_text_buf *rsp)
{
	bool first = n->requests == 0 && stage != ISCSI_NEG_FULL_FEATURE;
	int idx[ISCSI_KEY_COUNT];

	n->status = 0;
	n->reason = NULL;
	n->error_key[0] = '\0';
	for (int id = 0; id < ISCSI_KEY_COUNT; id++)
		idx[id] = -1;
	for (unsigned int i = 0; i < req->n; i++) {
		int id = iscsi_key_lookup(req->kv[i].key);

		if (id < 0)
			continue;
		if (idx[id] >= 0) {
			/* A declaration repeated verbatim is harmless. */
			const struct key_def *k = &keys[id];
			bool decl = k->type == KT_STR_DECL || k->type == KT_NUM_DECL ||
				    k->type == KT_ENUM_DECL;
			if (decl && !strcmp(req->kv[idx[id]].value, req->kv[i].value))
				continue;
			return fail(n, k->name, ISCSI_LOGIN_INITIATOR_ERROR,
				    "key sent twice in one request");
		}
		idx[id] = (int)i;
	}
	/* §13.21: the session type is settled by the first Login Request
	 * (Normal when absent); it cannot change afterwards. */
	if (first && idx[ISCSI_KEY_SESSION_TYPE] < 0)
		n->state[ISCSI_KEY_SESSION_TYPE] = KS_DECLARED;

	for (int id = 0; id < ISCSI_KEY_COUNT; id++)
		if (idx[id] >= 0 &&
		    handle_key(n, (enum iscsi_key_id)id, req->kv[idx[id]].value, stage, rsp))
			return -1;
	/* §6.2: keys we do not know are answered NotUnderstood (X- and X#
	 * extension keys included). */
	for (unsigned int i = 0; i < req->n; i++)
		if (iscsi_key_lookup(req->kv[i].key) < 0 && !seen_before(req, i))
			answer(rsp, req->kv[i].key, "NotUnderstood");

	if (first && check_first_request(n))
		return -1;
	declare(n, stage, rsp);
	if (stage == ISCSI_NEG_OPERATIONAL && transit)
		make_offers(n, rsp);
	n->requests++;
	if (rsp->failed)
		return fail(n, NULL, ISCSI_LOGIN_OUT_OF_RESOURCES, "response text too large");
	return 0;
}

bool iscsi_neg_complete(const struct iscsi_neg *n)
{
	for (int id = 0; id < ISCSI_KEY_COUNT; id++)
		if (n->state[id] == KS_OFFERED)
			return false;
	return true;
}

bool iscsi_neg_needs_operational(const struct iscsi_neg *n)
{
	char val[64];

	for (int id = 0; id < ISCSI_KEY_COUNT; id++)
		if (offer_needed(n, (enum iscsi_key_id)id, val, sizeof(val)))
			return true;
	return false;
}

bool iscsi_neg_auth_acceptable(const struct iscsi_neg *n)
{
	return n->prefs->auth_methods & ISCSI_MASK(n->params.auth_method);
}

const struct iscsi_session_params *iscsi_neg_finish(struct iscsi_neg *n)
{
	struct iscsi_session_params *p = &n->params;

	if (p->first_burst_length > p->max_burst_length)
		p->first_burst_length = p->max_burst_length;
	return p;
}

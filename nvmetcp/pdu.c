/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDU header rules (NVMe/TCP Transport Specification 1.0, §3.6),
 * shared by the target and the host library. One table says, per PDU type,
 * who may receive it, when, with which HLEN, digests and data; the checks
 * below only read that table.
 */
#include "nvmetcp/pdu.h"

#include <endian.h>
#include <string.h>

/* When a PDU type may arrive relative to the ICReq/ICResp exchange. */
enum pdu_state { BEFORE_IC, AFTER_IC, ANY_TIME };

/* Whether a PDU type carries data after its header. */
enum pdu_data { DATA_NONE, DATA_OPTIONAL, DATA_REQUIRED, DATA_TERM };

struct pdu_rule {
	uint8_t hlen;
	uint8_t receiver;       /* enum nvmetcp_role of the receiving side */
	uint8_t state;          /* enum pdu_state */
	uint8_t data;           /* enum pdu_data */
	bool digests;           /* HDGST/DDGST follow what ICReq/ICResp negotiated */
	bool known;
};

/* §3.6.2.2 - §3.6.2.10. ICReq/ICResp/TermReq never carry digests (§3.6.2.1);
 * TermReq data is the echoed header and starts right after HLEN. */
static const struct pdu_rule pdu_rules[] = {
	[NVMETCP_ICREQ]       = { 128, NVMETCP_ROLE_TARGET, BEFORE_IC, DATA_NONE,     false, true },
	[NVMETCP_ICRESP]      = { 128, NVMETCP_ROLE_HOST,   BEFORE_IC, DATA_NONE,     false, true },
	[NVMETCP_H2C_TERM]    = { 24,  NVMETCP_ROLE_TARGET, ANY_TIME,  DATA_TERM,     false, true },
	[NVMETCP_C2H_TERM]    = { 24,  NVMETCP_ROLE_HOST,   ANY_TIME,  DATA_TERM,     false, true },
	[NVMETCP_CAPSULE_CMD] = { 72,  NVMETCP_ROLE_TARGET, AFTER_IC,  DATA_OPTIONAL, true,  true },
	[NVMETCP_CAPSULE_RSP] = { 24,  NVMETCP_ROLE_HOST,   AFTER_IC,  DATA_NONE,     true,  true },
	[NVMETCP_H2C_DATA]    = { 24,  NVMETCP_ROLE_TARGET, AFTER_IC,  DATA_REQUIRED, true,  true },
	[NVMETCP_C2H_DATA]    = { 24,  NVMETCP_ROLE_HOST,   AFTER_IC,  DATA_REQUIRED, true,  true },
	[NVMETCP_R2T]         = { 24,  NVMETCP_ROLE_HOST,   AFTER_IC,  DATA_NONE,     true,  true },
};

/* Byte offsets of common-header fields, reported as FEI (§3.6.2.4). */
enum {
	FEI_TYPE = 0,
	FEI_FLAGS = 1,
	FEI_HLEN = 2,
	FEI_PDO = 3,
	FEI_PLEN = 4,
};

static const struct pdu_rule *rule_of(uint8_t type)
{
	if (type >= sizeof(pdu_rules) / sizeof(pdu_rules[0]) || !pdu_rules[type].known)
		return NULL;
	return &pdu_rules[type];
}

uint8_t nvmetcp_pdu_hlen(uint8_t type)
{
	const struct pdu_rule *r = rule_of(type);

	return r ? r->hlen : 0;
}

static int reject(uint16_t *fes, uint32_t *fei, uint16_t status, uint32_t offset)
{
	*fes = status;
	*fei = offset;
	return status;
}

static bool state_allows(const struct pdu_rule *r, bool established)
{
	if (r->state == BEFORE_IC)
		return !established;
	if (r->state == AFTER_IC)
		return established;
	return true;
}

/* PDO and PLEN of a PDU that carries data; hd is the header digest length,
 * dd the data digest length. */
static int check_data_layout(const struct nvmetcp_hdr *h, const struct nvmetcp_params *p,
			     uint32_t plen, uint32_t hd, uint32_t dd,
			     uint16_t *fes, uint32_t *fei)
{
	uint32_t data_len;

	/* §3.6.2.1: data starts at PDO, after the header and its digest,
	 * aligned as the receiver asked (HPDA/CPDA). */
	if (h->pdo < h->hlen + hd)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PDO);
	if (p->rx_pda && h->pdo % p->rx_pda)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PDO);
	if (plen <= (uint32_t)h->pdo + dd)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PLEN);
	data_len = plen - h->pdo - dd;
	if (data_len > p->max_data)
		return reject(fes, fei, NVMETCP_FES_DATA_LIMIT, FEI_PLEN);
	return 0;
}

int nvmetcp_pdu_check(const struct nvmetcp_hdr *h, enum nvmetcp_role role,
		      const struct nvmetcp_params *p, uint16_t *fes, uint32_t *fei)
{
	const struct pdu_rule *r = rule_of(h->type);
	uint32_t plen = le32toh(h->plen);
	bool want_hdgst, want_ddgst, has_data;
	uint32_t hd, dd;

	if (!r)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_TYPE);
	/* A PDU for the other direction, or an ICReq/ICResp out of place. */
	if (r->receiver != role || !state_allows(r, p->established))
		return reject(fes, fei, NVMETCP_FES_PDU_SEQUENCE, FEI_TYPE);
	if (h->hlen != r->hlen)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_HLEN);

	want_hdgst = r->digests && p->hdgst;
	if (!!(h->flags & NVMETCP_F_HDGST) != want_hdgst)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_FLAGS);
	/* §3.6.2.9: SUCCESS is only valid on the last C2HData PDU. */
	if (h->type == NVMETCP_C2H_DATA && (h->flags & NVMETCP_F_DATA_SUCCESS) &&
	    !(h->flags & NVMETCP_F_DATA_LAST))
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_FLAGS);

	hd = want_hdgst ? NVMETCP_DIGEST_LEN : 0;
	if (plen < h->hlen + hd || plen > NVMETCP_MAX_PLEN)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PLEN);
	has_data = plen > h->hlen + hd;
	if ((has_data && r->data == DATA_NONE) || (!has_data && r->data == DATA_REQUIRED))
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PLEN);

	/* The data digest is present exactly when data is and it was negotiated. */
	want_ddgst = has_data && r->digests && p->ddgst;
	if (!!(h->flags & NVMETCP_F_DDGST) != want_ddgst)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_FLAGS);
	dd = want_ddgst ? NVMETCP_DIGEST_LEN : 0;

	if (!has_data) {
		if (h->pdo != 0)
			return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PDO);
		return 0;
	}
	if (r->data == DATA_TERM) {
		/* PDO is reserved in a TermReq; tolerate senders that set it
		 * to where the data actually starts. */
		if (h->pdo != 0 && h->pdo != h->hlen)
			return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PDO);
		if (plen - h->hlen > NVMETCP_TERM_MAX_DATA)
			return reject(fes, fei, NVMETCP_FES_INVALID_HEADER, FEI_PLEN);
		return 0;
	}
	return check_data_layout(h, p, plen, hd, dd, fes, fei);
}

void nvmetcp_pdu_layout(const struct nvmetcp_hdr *h, struct nvmetcp_layout *l)
{
	uint32_t plen = le32toh(h->plen);
	uint32_t start;

	memset(l, 0, sizeof(*l));
	l->hlen = h->hlen;
	l->hdgst_len = (h->flags & NVMETCP_F_HDGST) ? NVMETCP_DIGEST_LEN : 0;
	if (h->type == NVMETCP_H2C_TERM || h->type == NVMETCP_C2H_TERM) {
		if (plen > l->hlen)
			l->data_len = plen - l->hlen;
		return;
	}
	if (!h->pdo)
		return;
	l->ddgst_len = (h->flags & NVMETCP_F_DDGST) ? NVMETCP_DIGEST_LEN : 0;
	start = l->hlen + l->hdgst_len;
	/* Defensive: the header should have passed nvmetcp_pdu_check. */
	l->pad = h->pdo > start ? h->pdo - start : 0;
	if (plen > (uint32_t)h->pdo + l->ddgst_len)
		l->data_len = plen - h->pdo - l->ddgst_len;
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

void nvmetcp_pdu_init(struct nvmetcp_hdr *h, uint8_t type, uint8_t flags, bool hdgst,
		      bool ddgst, uint32_t data_len, uint32_t pda)
{
	const struct pdu_rule *r = rule_of(type);
	bool digests = r && r->digests;
	uint32_t hlen = r ? r->hlen : sizeof(*h);
	uint32_t hd = digests && hdgst ? NVMETCP_DIGEST_LEN : 0;
	uint32_t plen = hlen + hd, pdo = 0;

	flags &= (uint8_t)~(NVMETCP_F_HDGST | NVMETCP_F_DDGST);
	if (hd)
		flags |= NVMETCP_F_HDGST;
	if (data_len && r && r->data == DATA_TERM) {
		plen = hlen + data_len;
	} else if (data_len) {
		pdo = align_up(hlen + hd, pda);
		plen = pdo + data_len;
		if (digests && ddgst) {
			flags |= NVMETCP_F_DDGST;
			plen += NVMETCP_DIGEST_LEN;
		}
	}
	h->type = type;
	h->flags = flags;
	h->hlen = (uint8_t)hlen;
	h->pdo = (uint8_t)pdo;
	h->plen = htole32(plen);
}

uint32_t nvmetcp_pda_bytes(uint8_t pda)
{
	return pda ? ((uint32_t)pda + 1) * 4 : 0;
}

/* §3.6.2.2 / §3.6.2.3: HPDA/CPDA is at most 31 (128-byte alignment). */
#define NVMETCP_PDA_MAX 31

void nvmetcp_icreq_init(struct nvmetcp_icreq *req, bool hdgst, bool ddgst,
			uint8_t hpda, uint32_t maxr2t)
{
	memset(req, 0, sizeof(*req));
	nvmetcp_pdu_init(&req->hdr, NVMETCP_ICREQ, 0, false, false, 0, 0);
	req->pfv = htole16(NVMETCP_PFV_1_0);
	req->hpda = hpda;
	req->dgst = (hdgst ? NVMETCP_DGST_HDR : 0) | (ddgst ? NVMETCP_DGST_DATA : 0);
	req->maxr2t = htole32(maxr2t);
}

void nvmetcp_icresp_init(struct nvmetcp_icresp *rsp, bool hdgst, bool ddgst,
			 uint8_t cpda, uint32_t maxh2cdata)
{
	memset(rsp, 0, sizeof(*rsp));
	nvmetcp_pdu_init(&rsp->hdr, NVMETCP_ICRESP, 0, false, false, 0, 0);
	rsp->pfv = htole16(NVMETCP_PFV_1_0);
	rsp->cpda = cpda;
	rsp->dgst = (hdgst ? NVMETCP_DGST_HDR : 0) | (ddgst ? NVMETCP_DGST_DATA : 0);
	rsp->maxh2cdata = htole32(maxh2cdata);
}

int nvmetcp_icreq_check(const struct nvmetcp_icreq *req, uint16_t *fes, uint32_t *fei)
{
	if (le16toh(req->pfv) != NVMETCP_PFV_1_0)
		return reject(fes, fei, NVMETCP_FES_UNSUPPORTED_PARAM,
			      offsetof(struct nvmetcp_icreq, pfv));
	if (req->hpda > NVMETCP_PDA_MAX)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_icreq, hpda));
	return 0;
}

int nvmetcp_icresp_check(const struct nvmetcp_icresp *rsp, bool hdgst, bool ddgst,
			 uint16_t *fes, uint32_t *fei)
{
	uint8_t want = (hdgst ? NVMETCP_DGST_HDR : 0) | (ddgst ? NVMETCP_DGST_DATA : 0);
	uint32_t maxh2cdata = le32toh(rsp->maxh2cdata);

	if (le16toh(rsp->pfv) != NVMETCP_PFV_1_0)
		return reject(fes, fei, NVMETCP_FES_UNSUPPORTED_PARAM,
			      offsetof(struct nvmetcp_icresp, pfv));
	if (rsp->cpda > NVMETCP_PDA_MAX)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_icresp, cpda));
	if ((rsp->dgst & (NVMETCP_DGST_HDR | NVMETCP_DGST_DATA)) != want)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_icresp, dgst));
	if (maxh2cdata < NVMETCP_MIN_MAXH2CDATA || maxh2cdata % 4)
		return reject(fes, fei, NVMETCP_FES_INVALID_HEADER,
			      offsetof(struct nvmetcp_icresp, maxh2cdata));
	return 0;
}

size_t nvmetcp_term_init(struct nvmetcp_term *t, enum nvmetcp_role sender,
			 uint16_t fes, uint32_t fei, size_t hdr_len)
{
	uint8_t type = sender == NVMETCP_ROLE_HOST ? NVMETCP_H2C_TERM : NVMETCP_C2H_TERM;
	size_t echo = hdr_len < NVMETCP_TERM_MAX_ECHO ? hdr_len : NVMETCP_TERM_MAX_ECHO;

	memset(t, 0, sizeof(*t));
	nvmetcp_pdu_init(&t->hdr, type, 0, false, false, (uint32_t)echo, 0);
	t->fes = htole16(fes);
	t->fei = htole32(fei);
	return echo;
}

const char *nvmetcp_fes_name(uint16_t fes)
{
	static const char *const names[] = {
		[NVMETCP_FES_INVALID_HEADER] = "invalid PDU header field",
		[NVMETCP_FES_PDU_SEQUENCE] = "PDU sequence error",
		[NVMETCP_FES_HDR_DIGEST] = "header digest error",
		[NVMETCP_FES_DATA_OUT_OF_RANGE] = "data transfer out of range",
		[NVMETCP_FES_DATA_LIMIT] = "data transfer limit exceeded",
		[NVMETCP_FES_UNSUPPORTED_PARAM] = "unsupported parameter",
	};

	if (fes < sizeof(names) / sizeof(names[0]) && names[fes])
		return names[fes];
	return "unknown fatal error";
}

uint32_t nvmetcp_hdgst(const struct nvmetcp_hdr *h)
{
	return nvb_crc32c(h, h->hlen);
}

void nvmetcp_hdgst_put(struct nvmetcp_hdr *h)
{
	nvmetcp_digest_put((uint8_t *)h + h->hlen, nvmetcp_hdgst(h));
}

bool nvmetcp_hdgst_ok(const struct nvmetcp_hdr *h)
{
	return nvmetcp_digest_get((const uint8_t *)h + h->hlen) == nvmetcp_hdgst(h);
}

uint32_t nvmetcp_ddgst_update(uint32_t crc, const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		crc = nvb_crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
	return crc;
}

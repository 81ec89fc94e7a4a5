/* SPDX-License-Identifier: MIT */
/*
 * INQUIRY (SPC-5 §6.7) with its vital product data pages, and REPORT LUNS
 * (SPC-5 §6.33).
 *
 * Identity (VPD 80h serial number, VPD 83h logical unit designators) comes
 * only from the namespace's stored identifiers (NGUID, EUI-64, UUID: given
 * in the config or derived once and saved), never from the port, session
 * or start-up order, so it is the same through every portal and after every
 * restart and multipath never sees two devices.
 */
#include "iscsi/scsi_internal.h"

#include <stdio.h>

#include "bridge/bufpool.h"

#define INQUIRY_STD_LEN 96

/* SPC-5 §6.7.2 version descriptors (Table 148). */
static const uint16_t version_descriptors[] = {
	0x00a0,         /* SAM-5 (no version claimed) */
	0x05c0,         /* SPC-5 (no version claimed) */
	0x0460,         /* SPC-4 (no version claimed) */
	0x0600,         /* SBC-4 (no version claimed) */
	0x04c0,         /* SBC-3 (no version claimed) */
	0x0960,         /* iSCSI (no version claimed) */
};

/* ---- identity ---- */

static bool id_set(const uint8_t *id, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (id[i])
			return true;
	return false;
}

static void hex_upper(const uint8_t *id, size_t len, char *out)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = '\0';
}

/* VPD 80h PRODUCT SERIAL NUMBER: the NGUID in hex (EUI-64, then UUID, when
 * the NGUID is zero), so the serial is the namespace's, whatever the path. */
static size_t unit_serial(const struct nvb_ns *ns, char out[33])
{
	const struct nvb_ns_conf *c = &ns->conf;

	if (id_set(c->nguid, sizeof(c->nguid)))
		hex_upper(c->nguid, sizeof(c->nguid), out);
	else if (id_set(c->eui64, sizeof(c->eui64)))
		hex_upper(c->eui64, sizeof(c->eui64), out);
	else
		hex_upper(c->uuid, sizeof(c->uuid), out);
	return strlen(out);
}

/*
 * NAA IEEE Registered Extended designator (NAA 6h, SPC-5 §7.7.6.6.4) from
 * the NGUID, 16 bytes: the NAA nibble, then the NGUID's first 124 bits
 * (byte 0 = 60h | NGUID[0] >> 4, byte i = NGUID[i-1] << 4 | NGUID[i] >> 4).
 * IEEE COMPANY_ID is so the NGUID's leading 24 bits (its OUI in the EUI-128
 * layout); the NGUID's last 4 bits are not represented.
 */
static void naa6_from_nguid(const uint8_t nguid[16], uint8_t out[16])
{
	out[0] = (uint8_t)(0x60 | nguid[0] >> 4);
	for (int i = 1; i < 16; i++)
		out[i] = (uint8_t)(nguid[i - 1] << 4 | nguid[i] >> 4);
}

/* ---- VPD pages ---- */

struct vpd_buf {
	uint8_t *p;
	size_t len;             /* bytes written after the 4-byte header */
	size_t cap;
};

static uint8_t *vpd_room(struct vpd_buf *b, size_t n)
{
	uint8_t *at;

	if (b->len + n > b->cap)
		return NULL;
	at = b->p + b->len;
	memset(at, 0, n);
	b->len += n;
	return at;
}

/* SPC-5 §7.7.6.1 designation descriptor header + designator. */
static void add_designator(struct vpd_buf *b, uint8_t proto_codeset, uint8_t piv_assoc_type,
			   const void *id, size_t len)
{
	uint8_t *d = vpd_room(b, 4 + len);

	if (!d)
		return;
	d[0] = proto_codeset;
	d[1] = piv_assoc_type;
	d[3] = (uint8_t)len;
	memcpy(d + 4, id, len);
}

/* A SCSI name string designator: UTF-8, NUL terminated, padded to 4 bytes. */
static void add_name_designator(struct vpd_buf *b, uint8_t piv_assoc_type, const char *name)
{
	char s[256];
	size_t n = (size_t)snprintf(s, sizeof(s) - 4, "%s", name);

	if (n >= sizeof(s) - 4)
		n = sizeof(s) - 5;
	n = (n + 4) & ~(size_t)3;       /* NUL + padding */
	memset(s + strlen(s), 0, n - strlen(s));
	add_designator(b, 0x50 | 0x03, piv_assoc_type, s, n);
}

#define CODESET_BINARY 0x01
#define CODESET_ASCII  0x02
#define PROTO_ISCSI    0x50     /* PROTOCOL IDENTIFIER 5h, valid when PIV is set */
#define PIV            0x80
#define ASSOC_LU       0x00
#define ASSOC_PORT     0x10
#define ASSOC_TARGET   0x20

static void vpd_supported_pages(struct scsi_task *t, struct vpd_buf *b);

/* 83h: logical unit designators first (multipath tools use the first one),
 * then the target port's and the target device's. */
static void vpd_device_id(struct scsi_task *t, struct vpd_buf *b)
{
	const struct nvb_ns_conf *c = &t->priv.ns->conf;
	const struct scsi_port *port = t->port;
	uint8_t id[16 + 33];
	char serial[33];
	size_t n;

	naa6_from_nguid(c->nguid, id);
	add_designator(b, CODESET_BINARY, ASSOC_LU | SCSI_DESIGNATOR_TYPE_NAA, id, 16);
	/* EUI-64 based 16-byte designator: the NGUID itself, as NVMe hosts see it. */
	add_designator(b, CODESET_BINARY, ASSOC_LU | SCSI_DESIGNATOR_TYPE_EUI_64, c->nguid, 16);
	if (id_set(c->eui64, sizeof(c->eui64)))
		add_designator(b, CODESET_BINARY, ASSOC_LU | SCSI_DESIGNATOR_TYPE_EUI_64,
			       c->eui64, 8);
	n = unit_serial(t->priv.ns, serial);
	memcpy(id, SCSI_VENDOR_ID, 8);
	memcpy(id + 8, serial, n);
	add_designator(b, CODESET_ASCII, ASSOC_LU | SCSI_DESIGNATOR_TYPE_T10_VENDORT_ID, id, 8 + n);
	if (!port)
		return;
	put_be32(id, port->rel_port_id);
	add_designator(b, PROTO_ISCSI | CODESET_BINARY,
		       PIV | ASSOC_PORT | SCSI_DESIGNATOR_TYPE_RELATIVE_TARGET_PORT, id, 4);
	put_be32(id, port->tpg_id);
	add_designator(b, PROTO_ISCSI | CODESET_BINARY,
		       PIV | ASSOC_PORT | SCSI_DESIGNATOR_TYPE_TARGET_PORT_GROUP, id, 4);
	if (port->target_name) {
		char name[256];

		/* RFC 7143 §13.x / SPC-5: the target port is "<name>,t,0x<TPGT>". */
		snprintf(name, sizeof(name), "%s,t,0x%04x", port->target_name, port->tpg_id);
		add_name_designator(b, PIV | ASSOC_PORT | SCSI_DESIGNATOR_TYPE_SCSI_NAME_STRING,
				    name);
		add_name_designator(b, PIV | ASSOC_TARGET | SCSI_DESIGNATOR_TYPE_SCSI_NAME_STRING,
				    port->target_name);
	}
}

static void vpd_serial(struct scsi_task *t, struct vpd_buf *b)
{
	char serial[33];
	size_t n = unit_serial(t->priv.ns, serial);
	uint8_t *d = vpd_room(b, n);

	if (d)
		memcpy(d, serial, n);
}

/* 86h Extended INQUIRY Data (SPC-5 §7.7.8). */
static void vpd_extended(struct scsi_task *t, struct vpd_buf *b)
{
	uint8_t *d = vpd_room(b, 60);

	if (!d)
		return;
	d[1] = 0x01;                            /* SIMPSUP: simple task attribute */
	d[2] = t->priv.ns->conf.volatile_write_cache ? 0x01 : 0x00;    /* V_SUP */
	d[3] = 0x01;                            /* LUICLR */
}

/* B0h Block Limits (SBC-4 §6.6.4). */
static void vpd_block_limits(struct scsi_task *t, struct vpd_buf *b)
{
	uint32_t shift = t->priv.lba_shift;
	uint32_t granularity = SCSI_PHYS_BLOCK > task_block_size(t) ? SCSI_PHYS_BLOCK >> shift : 1;
	uint8_t *d = vpd_room(b, 60);

	if (!d)
		return;
	/* Offsets below are from the start of the page (d is byte 4). */
	d -= 4;
	d[4] = 0x01;                                            /* WSNZ */
	d[5] = SCSI_MAX_CAW_NLB;        /* MAXIMUM COMPARE AND WRITE LENGTH */
	put_be16(d + 6, (uint16_t)granularity);     /* OPTIMAL TRANSFER LENGTH GRANULARITY */
	put_be32(d + 8, SCSI_MAX_XFER_BYTES >> shift);          /* MAXIMUM TRANSFER LENGTH */
	put_be32(d + 12, SCSI_OPT_XFER_BYTES >> shift);         /* OPTIMAL TRANSFER LENGTH */
	put_be32(d + 16, SCSI_MAX_XFER_BYTES >> shift);         /* MAXIMUM PREFETCH LENGTH */
	put_be32(d + 20, UINT32_MAX);                   /* MAXIMUM UNMAP LBA COUNT: no limit */
	put_be32(d + 24, SCSI_MAX_UNMAP_DESC);  /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT */
	put_be32(d + 28, granularity);                  /* OPTIMAL UNMAP GRANULARITY */
	put_be32(d + 32, 0x80000000u);                  /* UGAVALID, alignment 0 */
	put_be64(d + 36, SCSI_MAX_WS_BYTES >> shift);   /* MAXIMUM WRITE SAME LENGTH */
	/* Atomic transfer limits (44..63): no WRITE ATOMIC, all zero. */
}

/* B1h Block Device Characteristics (SBC-4 §6.6.2). */
static void vpd_block_characteristics(struct scsi_task *t, struct vpd_buf *b)
{
	uint8_t *d = vpd_room(b, 60);

	if (d)
		put_be16(d, 0x0001);            /* MEDIUM ROTATION RATE: non-rotating */
}

/* B2h Logical Block Provisioning (SBC-4 §6.6.6), consistent with READ
 * CAPACITY(16): LBPME=1 (thin), LBPRZ=1 (deallocated blocks read zero, as
 * every backend guarantees after Deallocate / Write Zeroes with DEAC). */
static void vpd_provisioning(struct scsi_task *t, struct vpd_buf *b)
{
	uint8_t *d = vpd_room(b, 4);

	if (!d)
		return;
	d[1] = 0x80 | 0x40 | 0x20 | 0x04;       /* LBPU LBPWS LBPWS10, LBPRZ 001b */
	d[2] = 0x02;                            /* PROVISIONING TYPE: thin */
}

struct vpd_page {
	uint8_t code;
	void (*fill)(struct scsi_task *t, struct vpd_buf *b);
};

static const struct vpd_page vpd_pages[] = {
	{ SCSI_INQUIRY_PAGECODE_SUPPORTED_VPD_PAGES, vpd_supported_pages },
	{ SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, vpd_serial },
	{ SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, vpd_device_id },
	{ 0x86, vpd_extended },
	{ SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, vpd_block_limits },
	{ SCSI_INQUIRY_PAGECODE_BLOCK_DEVICE_CHARACTERISTICS, vpd_block_characteristics },
	{ SCSI_INQUIRY_PAGECODE_LOGICAL_BLOCK_PROVISIONING, vpd_provisioning },
};
#define NVPD (sizeof(vpd_pages) / sizeof(vpd_pages[0]))

static void vpd_supported_pages(struct scsi_task *t, struct vpd_buf *b)
{
	uint8_t *d = vpd_room(b, NVPD);

	for (size_t i = 0; d && i < NVPD; i++)
		d[i] = vpd_pages[i].code;
}

/* ---- INQUIRY ---- */

static void copy_padded(uint8_t *dst, const char *src, size_t len)
{
	size_t i = 0;

	/* SPC-5 §4.3.1: printable ASCII, left aligned, space padded. */
	for (; src && src[i] && i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (uint8_t)src[i] : ' ';
	for (; i < len; i++)
		dst[i] = ' ';
}

static void inquiry_standard(struct scsi_task *t, size_t alloc)
{
	uint8_t d[INQUIRY_STD_LEN] = { 0 };
	const char *model = NULL;

	if (t->lu) {
		model = t->lu->subsys->model;
		while (model && *model == ' ')
			model++;
	} else {
		d[0] = 0x7f;            /* PERIPHERAL QUALIFIER 011b, type 1Fh: no LU */
	}
	/* VERSION 06h (SPC-4): conformance checkers (libiscsi) refuse 07h; the
	 * version descriptors name SPC-5 as well. */
	d[2] = 0x06;
	d[3] = 0x10 | 0x02;             /* HISUP, RESPONSE DATA FORMAT 2 */
	d[4] = INQUIRY_STD_LEN - 5;
	d[5] = 0x10;                    /* TPGS 01b: implicit ALUA */
	d[6] = 0x10;                    /* MULTIP: several target ports */
	d[7] = 0x02;                    /* CMDQUE */
	copy_padded(d + 8, SCSI_VENDOR_ID, 8);
	copy_padded(d + 16, model && *model ? model : "nvbridge", 16);
	copy_padded(d + 32, SCSI_PRODUCT_REV, 4);
	for (size_t i = 0; i < sizeof(version_descriptors) / sizeof(version_descriptors[0]); i++)
		put_be16(d + 58 + 2 * i, version_descriptors[i]);
	scsi_task_data_in(t, d, sizeof(d), alloc);
}

static void inquiry_vpd(struct scsi_task *t, uint8_t code, size_t alloc)
{
	uint8_t page[4 + 1024];         /* VPD 83h with two 223-byte names fits */
	struct vpd_buf b = { .p = page + 4, .cap = sizeof(page) - 4 };

	for (size_t i = 0; i < NVPD; i++) {
		if (vpd_pages[i].code != code)
			continue;
		vpd_pages[i].fill(t, &b);
		memset(page, 0, 4);
		page[1] = code;
		put_be16(page + 2, (uint16_t)b.len);
		scsi_task_data_in(t, page, 4 + b.len, alloc);
		return;
	}
	scsi_task_invalid_field(t, true, 2, -1);
}

void spc_inquiry(struct scsi_task *t)
{
	bool evpd = t->cdb[1] & 0x01;
	uint8_t code = t->cdb[2];
	size_t alloc = get_be16(t->cdb + 3);

	if (!evpd && code)
		scsi_task_invalid_field(t, true, 2, -1);
	else if (!evpd)
		inquiry_standard(t, alloc);
	else if (!t->lu)
		scsi_task_check_condition(t, SCSI_SENSE_ILLEGAL_REQUEST,
					  SCSI_SENSE_ASCQ_LOGICAL_UNIT_NOT_SUPPORTED);
	else
		inquiry_vpd(t, code, alloc);
	scsi_task_complete(t);
}

/* ---- LUNs ---- */

void scsi_lun_encode(uint64_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun < 256) {
		out[1] = (uint8_t)lun;                  /* peripheral device addressing */
	} else {
		out[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f)); /* flat space addressing */
		out[1] = (uint8_t)lun;
	}
}

uint64_t scsi_lun_decode(const uint8_t in[8])
{
	for (int i = 2; i < 8; i++)
		if (in[i])
			return UINT64_MAX;
	switch (in[0] >> 6) {
	case 0:
		return in[0] ? UINT64_MAX : in[1];      /* bus identifier must be 0 */
	case 1:
		return (uint64_t)(in[0] & 0x3f) << 8 | in[1];
	default:
		return UINT64_MAX;
	}
}

#define REPORT_LUNS_MAX 1024

/* SPC-5 §6.33. */
void spc_report_luns(struct scsi_task *t)
{
	uint8_t select = t->cdb[2];
	size_t alloc = get_be32(t->cdb + 6);
	uint64_t *luns = NULL;
	uint8_t *d = NULL;
	size_t len;
	int n = 0;

	/* 00h all, 01h well known LUNs only (there are none), 02h all. */
	if (select > 0x02) {
		scsi_task_invalid_field(t, true, 2, -1);
		goto out;
	}
	if (alloc < 16) {               /* SPC-4 §6.27: at least 16 bytes */
		scsi_task_invalid_field(t, true, 6, -1);
		goto out;
	}
	len = 8 + 8 * (size_t)REPORT_LUNS_MAX;
	luns = nvb_buf_get(t->reactor, REPORT_LUNS_MAX * sizeof(*luns));
	d = nvb_buf_get(t->reactor, len);
	if (!luns || !d) {
		scsi_task_nvme_status(t, NVB_INTERNAL_ERROR);
		goto out;
	}
	if (select != 0x01) {
		if (t->hooks && t->hooks->list_luns)
			n = t->hooks->list_luns(t, luns, REPORT_LUNS_MAX);
		else if (t->lu)
			luns[n++] = t->lu->lun;
	}
	if (n > REPORT_LUNS_MAX)
		n = REPORT_LUNS_MAX;
	memset(d, 0, 8);
	put_be32(d, (uint32_t)(8 * n));
	for (int i = 0; i < n; i++)
		scsi_lun_encode(luns[i], d + 8 + 8 * (size_t)i);
	scsi_task_data_in(t, d, 8 + 8 * (size_t)n, alloc);
out:
	nvb_buf_put(t->reactor, luns, REPORT_LUNS_MAX * sizeof(*luns));
	nvb_buf_put(t->reactor, d, 8 + 8 * (size_t)REPORT_LUNS_MAX);
	scsi_task_complete(t);
}

/* SPDX-License-Identifier: MIT */
/*
 * iSCSI text key=value codec (RFC 7143 §6.1): parse a logical text data
 * segment (key=value\0 pairs, possibly spread over several Login/Text PDUs
 * with the C bit), the value syntaxes (numbers in decimal, 0x hex or 0b
 * base64; Yes/No; lists), and build the text of a response.
 */
#ifndef ISCSI_TEXT_H
#define ISCSI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_TEXT_KEY_MAX         63     /* §6.1: standard-label length */
#define ISCSI_TEXT_VALUE_MAX       255    /* §6.1: value length unless a key says otherwise */
#define ISCSI_TEXT_LARGE_VALUE_MAX 8192   /* encoded large-binary-values (CHAP_C, CHAP_R) */
#define ISCSI_TEXT_TOTAL_MAX       65536  /* default cap on one logical text data segment */
#define ISCSI_TEXT_MAX_KEYS        256    /* pairs per logical text data segment */
#define ISCSI_TEXT_BINARY_MAX      1024   /* §12.1.3: CHAP_C/CHAP_R binary length */

enum iscsi_text_err {
	ISCSI_TEXT_OK = 0,
	ISCSI_TEXT_ERR_NO_EQUALS,       /* a pair without '=' */
	ISCSI_TEXT_ERR_EMPTY_KEY,
	ISCSI_TEXT_ERR_BAD_KEY,         /* characters outside §6.1 key-name syntax */
	ISCSI_TEXT_ERR_KEY_TOO_LONG,
	ISCSI_TEXT_ERR_VALUE_TOO_LONG,
	ISCSI_TEXT_ERR_UNTERMINATED,    /* last pair not followed by NUL */
	ISCSI_TEXT_ERR_TOO_MANY_KEYS,
	ISCSI_TEXT_ERR_TOO_BIG,         /* accumulated text beyond the cap */
	ISCSI_TEXT_ERR_NOMEM,
};
const char *iscsi_text_err_name(int err);

/* One parsed pair; key and value point into the parsed buffer and are
 * NUL-terminated there. */
struct iscsi_kv {
	const char *key;
	const char *value;
	uint32_t value_len;
};

struct iscsi_kv_list {
	unsigned int n;
	struct iscsi_kv kv[ISCSI_TEXT_MAX_KEYS];
};

/* Longest value accepted for `key` (large-binary keys get more room). */
size_t iscsi_text_value_max(const char *key);

/*
 * Parse `len` bytes of text in place ('=' becomes NUL). Empty entries
 * (consecutive NULs) are skipped. Returns ISCSI_TEXT_OK or an error; on
 * error *bad_off is the byte offset of the offending pair (if non-NULL).
 */
int iscsi_text_parse(char *buf, size_t len, struct iscsi_kv_list *out, size_t *bad_off);

/* Find a key in a parsed list; NULL if absent. */
const struct iscsi_kv *iscsi_kv_find(const struct iscsi_kv_list *l, const char *key);

/* ---- Accumulating a text segment spread over PDUs (C bit, §6.1) ---- */
struct iscsi_text_accum {
	char *buf;
	size_t len;
	size_t alloc;
	size_t cap;             /* largest total accepted */
};
void iscsi_text_accum_init(struct iscsi_text_accum *a, size_t cap);
/* Append one PDU's data segment. Returns ISCSI_TEXT_OK, _TOO_BIG or _NOMEM. */
int iscsi_text_accum_add(struct iscsi_text_accum *a, const void *data, size_t len);
/* Forget the text but keep the buffer for the next sequence. */
void iscsi_text_accum_reset(struct iscsi_text_accum *a);
void iscsi_text_accum_free(struct iscsi_text_accum *a);

/* ---- Value syntax (§6.1) ---- */

/* numerical-value < 2^64: decimal, hex (0x/0X) or base64 (0b/0B). 0 or -1. */
int iscsi_text_parse_u64(const char *v, uint64_t *out);
/* "Yes" / "No". 0 or -1. */
int iscsi_text_parse_bool(const char *v, bool *out);
/* large-binary-value: hex or base64 only; at most `max` bytes. 0 or -1. */
int iscsi_text_parse_binary(const char *v, uint8_t *out, size_t max, size_t *len);
/* Iterate a list-of-values: sets *item and *item_len to the next element and
 * advances *cursor; false when the list is exhausted. Empty elements are
 * returned as zero-length items. */
bool iscsi_text_list_next(const char **cursor, const char **item, size_t *item_len);
/* §6.2: "Reject", "Irrelevant", "NotUnderstood" are answers, never offers. */
bool iscsi_text_is_answer_constant(const char *v);

/* ---- Building text ---- */
struct iscsi_text_buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;             /* largest total allowed */
	bool failed;            /* an add failed (too big / no memory) */
};
void iscsi_text_buf_init(struct iscsi_text_buf *b, size_t cap);
void iscsi_text_buf_reset(struct iscsi_text_buf *b);
void iscsi_text_buf_free(struct iscsi_text_buf *b);
/* Append "key=value\0". Returns 0, or -1 (and sets b->failed) if the key or
 * value breaks §6.1 limits or the buffer would exceed its cap. */
int iscsi_text_add(struct iscsi_text_buf *b, const char *key, const char *value);
int iscsi_text_add_u64(struct iscsi_text_buf *b, const char *key, uint64_t v);
int iscsi_text_addf(struct iscsi_text_buf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Encode binary as "0x" + lowercase hex into out (2 * len + 3 bytes). */
void iscsi_text_hex(char *out, const uint8_t *bin, size_t len);

#endif

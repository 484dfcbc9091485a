/* tcp_opts.h: finding and building the Connection Redirect option and the client marker in a TCP header copy. */
#ifndef CRAB_TCP_OPTS_H
#define CRAB_TCP_OPTS_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"

/* Header copies live in 64-byte stack buffers; indexes are masked with this so the verifier sees them bounded. */
#define CRAB_HDR_MASK 63

/* A TCP header and what a scan of its options found. The header is either a copy in hdr (TC, read with
 * bpf_skb_load_bytes) or the packet itself, between tcp and end (XDP); it lives here so the bpf_loop callback that
 * scans it reaches it through its one context pointer. */
struct crab_opt_scan {
	__u8 hdr[64];      /* the copy, filled by the caller; unused by a scan of the packet */
	const __u8 *tcp;   /* the packet's TCP header, for a scan of the packet */
	const __u8 *end;   /* the packet's end */
	__u32 len;         /* its length, 20..60, set by the caller */
	int marker_off;    /* offset of the marker in the TCP header, -1 if absent */
	int marker_len;
	int redirect_off;  /* offset of the redirect option, -1 if absent */
	int redirect_len;
	int eol;           /* the list ends with EOL before the header does */
	int bad;           /* malformed list, or our kind with a length we do not know, or twice */
	__u32 off;         /* scan position */
	__u8 kind;         /* the configured option */
	__u8 hl;
	__u16 exid;        /* host order; 0 = none */
};

static __always_inline int crab_opt_hdr_len(const struct crab_opt_cfg *cfg)
{
	return cfg->exid ? 4 : 2;
}

/* Judges the option at off: kind, its length byte olen and, where it has one, its ExID (host order). Records our
 * marker or redirect option; returns 1 when the list is bad, which ends the scan. Shared by the scans of a header
 * copy (TC) and of the packet itself (XDP). */
static __always_inline long crab_judge_option(struct crab_opt_scan *s, __u32 off, __u8 kind, __u8 olen, __u16 exid)
{
	if (olen < 2 || off + olen > s->len) {
		s->bad = 1;
		return 1;
	}
	if (kind == s->kind && (!s->exid || (olen >= 4 && exid == s->exid))) {
		if (olen == s->hl && s->marker_off < 0) {
			s->marker_off = off;
			s->marker_len = olen;
		} else if ((olen == s->hl + 4 || olen == s->hl + 6) && s->redirect_off < 0) {
			s->redirect_off = off;
			s->redirect_len = olen;
		} else {
			s->bad = 1;
			return 1;
		}
	}
	s->off = off + olen;
	return 0;
}

/* One option of the copy; 1 ends the scan. */
static __always_inline long crab_scan_copy_option(struct crab_opt_scan *s)
{
	__u32 off = s->off;

	if (off >= s->len || off >= CRAB_MAX_TCP_HDR)
		return 1;
	__u8 kind = s->hdr[off & CRAB_HDR_MASK];
	if (kind == CRAB_TCPOPT_EOL) {
		s->eol = 1;
		return 1;
	}
	if (kind == CRAB_TCPOPT_NOP) {
		s->off = off + 1;
		return 0;
	}
	if (off + 1 >= s->len) {
		s->bad = 1;
		return 1;
	}
	__u16 exid = (s->hdr[(off + 2) & CRAB_HDR_MASK] << 8) | s->hdr[(off + 3) & CRAB_HDR_MASK];
	return crab_judge_option(s, off, kind, s->hdr[(off + 1) & CRAB_HDR_MASK], exid);
}

/* Options per bpf_loop call. A callback is verified once, where an unrolled or bounded loop over 40 bytes with this
 * many branches exceeds the verifier's budget; each call costs a BPF-to-BPF call and the scan state reloaded from
 * the stack, so a call takes four: a Linux SYN's five options, NOPs and marker take three calls, not ten. */
#define CRAB_SCAN_BATCH 4

static long crab_scan_step(__u64 index, void *ctx)
{
	struct crab_opt_scan *s = ctx;

	for (int i = 0; i < CRAB_SCAN_BATCH; i++)
		if (crab_scan_copy_option(s))
			return 1;
	return 0;
}

/* One option of the packet itself: the same walk as crab_scan_copy_option, reading through s->tcp, each read checked
 * against s->end. An ExID is read only where the option is long enough to hold one. 1 ends the scan. */
static __always_inline long crab_scan_packet_option(struct crab_opt_scan *s)
{
	__u32 off = s->off;

	if (off >= s->len || off >= CRAB_MAX_TCP_HDR)
		return 1;
	const __u8 *at = s->tcp + (off & CRAB_HDR_MASK);
	if (at + 1 > s->end) {
		s->bad = 1;
		return 1;
	}
	__u8 kind = at[0];
	if (kind == CRAB_TCPOPT_EOL) {
		s->eol = 1;
		return 1;
	}
	if (kind == CRAB_TCPOPT_NOP) {
		s->off = off + 1;
		return 0;
	}
	if (off + 1 >= s->len || at + 2 > s->end) {
		s->bad = 1;
		return 1;
	}
	__u8 olen = at[1];
	__u16 exid = 0;
	if (s->exid && olen >= 4 && off + 4 <= s->len && at + 4 <= s->end)
		exid = (at[2] << 8) | at[3];
	return crab_judge_option(s, off, kind, olen, exid);
}

static long crab_scan_packet_step(__u64 index, void *ctx)
{
	struct crab_opt_scan *s = ctx;

	for (int i = 0; i < CRAB_SCAN_BATCH; i++)
		if (crab_scan_packet_option(s))
			return 1;
	return 0;
}

static __always_inline void crab_scan_start(struct crab_opt_scan *s, const struct crab_opt_cfg *cfg)
{
	s->marker_off = -1;
	s->marker_len = 0;
	s->redirect_off = -1;
	s->redirect_len = 0;
	s->eol = 0;
	s->bad = 0;
	s->off = 20;
	s->kind = cfg->kind;
	s->hl = crab_opt_hdr_len(cfg);
	s->exid = bpf_ntohs(cfg->exid);
}

/* Scans the options of s->hdr[0..s->len) for the configured option and the marker. */
static __always_inline void crab_scan_options(struct crab_opt_scan *s, const struct crab_opt_cfg *cfg)
{
	crab_scan_start(s, cfg);
	bpf_loop((CRAB_MAX_TCP_HDR - 20 + CRAB_SCAN_BATCH - 1) / CRAB_SCAN_BATCH, crab_scan_step, s, 0);
}

/* Scans the options of the TCP header at tcp (len bytes, in the packet, which ends at end) in place. */
static __always_inline void crab_scan_packet_options(struct crab_opt_scan *s, const struct crab_opt_cfg *cfg,
						     const void *tcp, const void *end, __u32 len)
{
	s->tcp = tcp;
	s->end = end;
	s->len = len;
	crab_scan_start(s, cfg);
	bpf_loop((CRAB_MAX_TCP_HDR - 20 + CRAB_SCAN_BATCH - 1) / CRAB_SCAN_BATCH, crab_scan_packet_step, s, 0);
}

/* Reads VIP and, if the option carries one, VIP port from the redirect option found by the scan. */
static __always_inline void crab_read_redirect(const struct crab_opt_scan *s, __be32 *vip, __be16 *vport,
					       int *has_port)
{
	const __u8 *hdr = s->hdr;
	int at = s->redirect_off + s->hl;
	__u8 *v = (__u8 *)vip;
	__u8 *p = (__u8 *)vport;

	v[0] = hdr[at & CRAB_HDR_MASK];
	v[1] = hdr[(at + 1) & CRAB_HDR_MASK];
	v[2] = hdr[(at + 2) & CRAB_HDR_MASK];
	v[3] = hdr[(at + 3) & CRAB_HDR_MASK];
	*has_port = s->redirect_len == s->hl + 6;
	if (*has_port) {
		p[0] = hdr[(at + 4) & CRAB_HDR_MASK];
		p[1] = hdr[(at + 5) & CRAB_HDR_MASK];
	}
}

/* Writes kind, length and (if configured) ExID; returns the header length. */
static __always_inline int crab_put_opt_hdr(__u8 *out, const struct crab_opt_cfg *cfg, int len)
{
	out[0] = cfg->kind;
	out[1] = len;
	if (cfg->exid) {
		__u16 exid = bpf_ntohs(cfg->exid);
		out[2] = exid >> 8;
		out[3] = exid & 0xff;
		return 4;
	}
	return 2;
}

/* Builds the redirect option in out[0..12), NOP-padded to a multiple of 4; returns that size (8 or 12). Constant
 * indexes only: the two header lengths are two branches. */
static __always_inline int crab_build_redirect(__u8 *out, const struct crab_opt_cfg *cfg, __be32 vip,
					       __be16 vport, int with_port)
{
	int hl = crab_opt_hdr_len(cfg);
	int len = hl + 4 + (with_port ? 2 : 0);
	const __u8 *v = (const __u8 *)&vip;
	const __u8 *p = (const __u8 *)&vport;

	for (int i = 0; i < 12; i++)
		out[i] = CRAB_TCPOPT_NOP;
	crab_put_opt_hdr(out, cfg, len);
	if (hl == 4) {
		out[4] = v[0];
		out[5] = v[1];
		out[6] = v[2];
		out[7] = v[3];
		if (with_port) {
			out[8] = p[0];
			out[9] = p[1];
		}
	} else {
		out[2] = v[0];
		out[3] = v[1];
		out[4] = v[2];
		out[5] = v[3];
		if (with_port) {
			out[6] = p[0];
			out[7] = p[1];
		}
	}
	return (len + 3) & ~3;
}

/* Builds the client marker ("I speak CRAB") in out[0..4), NOP-padded; returns 4. */
static __always_inline int crab_build_marker(__u8 *out, const struct crab_opt_cfg *cfg)
{
	out[0] = CRAB_TCPOPT_NOP;
	out[1] = CRAB_TCPOPT_NOP;
	out[2] = CRAB_TCPOPT_NOP;
	out[3] = CRAB_TCPOPT_NOP;
	crab_put_opt_hdr(out, cfg, crab_opt_hdr_len(cfg));
	return 4;
}

#endif

/* tcp_opts.h: finding the Connection Redirect option and the client marker in a TCP header (XDP and TC alike),
 * and building them. */
#ifndef CRAB_TCP_OPTS_H
#define CRAB_TCP_OPTS_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include "consts.h"
#include "structs.h"

/* Offsets into a TCP header (at most 60 bytes) are masked with this so the verifier sees them bounded. */
#define CRAB_HDR_MASK 63

/* A TCP header in the packet and what a scan of its options found. The packet pointers live here so the bpf_loop
 * callback that scans reaches them through its one context pointer; every read is checked against end. */
struct crab_opt_scan {
	const __u8 *tcp;   /* the packet's TCP header */
	const __u8 *end;   /* the packet's end */
	__u32 len;         /* its length, 20..60, set by the caller */
	int marker_off;    /* offset of the marker in the TCP header, -1 if absent */
	int marker_len;
	int redirect_off;  /* offset of the redirect or translation option, -1 if absent */
	int redirect_len;  /* its length: with or without a port, or the translation option's (crab_scan_translates) */
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
 * marker or redirect option; returns 1 when the list is bad, which ends the scan. */
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
		} else if ((olen == s->hl + 4 || olen == s->hl + 6 || olen == s->hl + CRAB_TRANSLATE_BODY) &&
			   s->redirect_off < 0) {
			/* One field for both: a field more for the verifier to track took the scan past its budget. */
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

/* Options per bpf_loop call. A callback is verified once, where an unrolled or bounded loop over 40 bytes with this
 * many branches exceeds the verifier's budget; each call costs a BPF-to-BPF call and the scan state reloaded from
 * the stack, so a call takes four: a Linux SYN's five options, NOPs and marker take three calls, not ten. */
#define CRAB_SCAN_BATCH 4

/* One option, read through s->tcp, each read checked against s->end. An ExID is read only where the option is long
 * enough to hold one. 1 ends the scan. */
static __always_inline long crab_scan_option(struct crab_opt_scan *s)
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

static long crab_scan_step(__u64 index, void *ctx)
{
	struct crab_opt_scan *s = ctx;

	for (int i = 0; i < CRAB_SCAN_BATCH; i++)
		if (crab_scan_option(s))
			return 1;
	return 0;
}

/* Scans the options of the TCP header at tcp (len bytes, in the packet, which ends at end) in place. */
static __always_inline void crab_scan_options(struct crab_opt_scan *s, const struct crab_opt_cfg *cfg,
					      const void *tcp, const void *end, __u32 len)
{
	s->tcp = tcp;
	s->end = end;
	s->len = len;
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
	bpf_loop((CRAB_MAX_TCP_HDR - 20 + CRAB_SCAN_BATCH - 1) / CRAB_SCAN_BATCH, crab_scan_step, s, 0);
}

/* Whether the option the scan found in redirect_off is the translation option, not a redirect. */
static __always_inline int crab_scan_translates(const struct crab_opt_scan *s)
{
	return s->redirect_off >= 0 && s->redirect_len == s->hl + CRAB_TRANSLATE_BODY;
}

/* Reads VIP and, if the option carries one, VIP port from the redirect option found by the scan, in the packet the
 * scan read (no helper may have changed it since); -1 if it is not there whole. */
static __always_inline int crab_read_redirect(const struct crab_opt_scan *s, __be32 *vip, __be16 *vport,
					      int *has_port)
{
	const __u8 *at = s->tcp + ((s->redirect_off + s->hl) & CRAB_HDR_MASK);
	__u8 *v = (__u8 *)vip;
	__u8 *p = (__u8 *)vport;

	if (at + 4 > s->end)
		return -1;
	v[0] = at[0];
	v[1] = at[1];
	v[2] = at[2];
	v[3] = at[3];
	*has_port = s->redirect_len == s->hl + 6;
	if (*has_port) {
		if (at + 6 > s->end)
			return -1;
		p[0] = at[4];
		p[1] = at[5];
	}
	return 0;
}

/* Reads VIP, VIP port and flags from the translation option found by the scan, in the packet the scan read; -1 if
 * it is not there whole. */
static __always_inline int crab_read_translate(const struct crab_opt_scan *s, __be32 *vip, __be16 *vport,
					       __u8 *flags)
{
	const __u8 *at = s->tcp + ((s->redirect_off + s->hl) & CRAB_HDR_MASK);
	__u8 *v = (__u8 *)vip;
	__u8 *p = (__u8 *)vport;

	if (at + CRAB_TRANSLATE_BODY > s->end)
		return -1;
	v[0] = at[0];
	v[1] = at[1];
	v[2] = at[2];
	v[3] = at[3];
	p[0] = at[4];
	p[1] = at[5];
	*flags = at[6];
	return 0;
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

/* Builds the translation option in out[0..12): kind, length, (ExID,) VIP, VIP port, CRAB_TRANSLATE_REPLY_AS_VIP,
 * NOP-padded; returns 12. Its length (2 or 4 more than the redirect option's with a port) is what tells a server it
 * must answer as the VIP, where a redirected SYN's server answers from its own address. */
static __always_inline int crab_build_translate(__u8 *out, const struct crab_opt_cfg *cfg, __be32 vip, __be16 vport)
{
	int hl = crab_opt_hdr_len(cfg);

	/* The redirect option with a port, then one byte longer for the flags. */
	crab_build_redirect(out, cfg, vip, vport, 1);
	crab_put_opt_hdr(out, cfg, hl + CRAB_TRANSLATE_BODY);
	if (hl == 4)
		out[10] = CRAB_TRANSLATE_REPLY_AS_VIP;
	else
		out[8] = CRAB_TRANSLATE_REPLY_AS_VIP;
	return 12;
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

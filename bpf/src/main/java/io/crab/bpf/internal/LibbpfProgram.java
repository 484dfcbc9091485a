package io.crab.bpf.internal;

import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.XdpMode;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import static io.crab.bpf.internal.Libbpf.LIB;

/** One loaded program: attaching it to XDP or TC hooks, and running it on test frames. */
class LibbpfProgram implements BpfProgram
{
    /** enum bpf_attach_type (linux/bpf.h). */
    private static final int BPF_XDP = 37;
    private static final int BPF_TCX_INGRESS = 46;
    private static final int BPF_TCX_EGRESS = 47;
    private static final int EBUSY = 16;
    private static final int EEXIST = 17;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;
    /** XDP_FLAGS_SKB_MODE and XDP_FLAGS_DRV_MODE (linux/if_link.h). */
    private static final int XDP_FLAGS_SKB_MODE = 1 << 1;
    private static final int XDP_FLAGS_DRV_MODE = 1 << 2;
    /** struct bpf_link_create_opts, as in libbpf 1.x bpf.h, up to its flags (the fields after them stay zero). */
    private static final int LINK_CREATE_OPTS_SIZE = 16;
    private static final int LINK_CREATE_FLAGS = 8;

    /** struct bpf_test_run_opts, as in libbpf 1.x bpf.h. */
    private static final int TEST_OPTS_SIZE = 80;
    private static final int TEST_DATA_IN = 8;
    private static final int TEST_DATA_OUT = 16;
    private static final int TEST_DATA_SIZE_IN = 24;
    private static final int TEST_DATA_SIZE_OUT = 28;
    private static final int TEST_CTX_IN = 32;
    private static final int TEST_CTX_SIZE_IN = 48;
    private static final int TEST_RETVAL = 56;
    private static final int TEST_REPEAT = 60;
    private static final int TEST_DURATION = 64;
    private static final int TEST_FLAGS = 68;
    /** linux/bpf.h: the kernel acts on the verdict (stack, transmit) instead of returning the frame. */
    private static final int BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
    /** struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; }. */
    private static final int XDP_MD_SIZE = 24;
    private static final int XDP_MD_DATA_END = 4;
    private static final int XDP_MD_INGRESS_IFINDEX = 12;
    /** The head of struct __sk_buff up to ifindex, the one field a TC test run is given (the rest must be 0). */
    private static final int SKB_CTX_SIZE = 44;
    private static final int SKB_IFINDEX = 40;
    /** Room for programs that grow the frame (XDP adjust_head, TC change_tail). */
    private static final int TEST_OUT_SLACK = 256;

    private final String name;
    private final int fd;

    LibbpfProgram(final String name, final int fd)
    {
        this.name = name;
        this.fd = fd;
    }

    @Override
    public String name()
    {
        return name;
    }

    @Override
    public int fd()
    {
        return fd;
    }

    @Override
    public BpfLink attachXdp(final int ifindex, final XdpMode mode)
    {
        final UnsafeBuffer opts = struct(LINK_CREATE_OPTS_SIZE);
        opts.putInt(LINK_CREATE_FLAGS, mode == XdpMode.NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
        final int rc = LIB.bpf_link_create(fd, ifindex, BPF_XDP, opts.addressOffset());
        if (rc < 0)
        {
            throw Libbpf.error("attaching XDP program " + name + " to ifindex " + ifindex + " in " + mode.word() +
                " mode" + xdpAttachHint(-rc, mode), rc);
        }
        return new LibbpfLink("xdp " + mode.word() + " " + name + " on ifindex " + ifindex, rc);
    }

    /** What the kernel's errno means for an XDP attachment, which the kernel says only in netlink's extack. */
    private static String xdpAttachHint(final int errno, final XdpMode mode)
    {
        if (errno == EBUSY)
        {
            return " (the interface has an XDP program)";
        }
        if (errno == EEXIST)
        {
            return " (the interface has an XDP program in the other mode)";
        }
        if (errno == EOPNOTSUPP && mode == XdpMode.NATIVE)
        {
            return " (the interface's driver has no native XDP)";
        }
        return "";
    }

    @Override
    public BpfLink attachTcx(final int ifindex, final TcDirection direction)
    {
        final int type = direction == TcDirection.INGRESS ? BPF_TCX_INGRESS : BPF_TCX_EGRESS;
        final int rc = LIB.bpf_link_create(fd, ifindex, type, 0);
        if (rc < 0)
        {
            throw Libbpf.error("attaching TC program " + name + " to ifindex " + ifindex + " " + direction +
                (rc == -EINVAL ? " (TCX links need Linux 6.6 or newer)" : ""), rc);
        }
        return new LibbpfLink("tcx " + direction.name().toLowerCase() + " " + name + " on ifindex " + ifindex, rc);
    }

    @Override
    public BpfLink attachTracepoint()
    {
        final int rc = LIB.bpf_raw_tracepoint_open(null, fd);
        if (rc < 0)
        {
            throw Libbpf.error("attaching tracing program " + name + " to its tracepoint", rc);
        }
        return new LibbpfLink("tracepoint " + name, rc);
    }

    @Override
    public TestRun testRun(final byte[] frame, final int repeat)
    {
        return testRun(frame, repeat, null);
    }

    @Override
    public TestRun testRunXdp(final byte[] frame, final int repeat, final int ingressIfindex)
    {
        return testRun(frame, repeat, xdpContext(ingressIfindex));
    }

    @Override
    public TestRun testRunTc(final byte[] frame, final int repeat, final int ifindex)
    {
        final UnsafeBuffer ctx = new UnsafeBuffer(BufferUtil.allocateDirectAligned(SKB_CTX_SIZE, 8));
        ctx.setMemory(0, SKB_CTX_SIZE, (byte)0);
        ctx.putInt(SKB_IFINDEX, ifindex);
        return testRun(frame, repeat, ctx);
    }

    @Override
    public long testRunXdpLive(final byte[] frame, final int repeat, final int ingressIfindex)
    {
        final UnsafeBuffer in = new UnsafeBuffer(BufferUtil.allocateDirectAligned(Math.max(8, frame.length), 8));
        final UnsafeBuffer opts = struct(TEST_OPTS_SIZE);
        final UnsafeBuffer ctx = xdpContext(ingressIfindex);
        in.putBytes(0, frame);
        // Live frames refuse an output buffer: the frames leave through the stack or the device instead.
        opts.putLong(TEST_DATA_IN, in.addressOffset());
        opts.putInt(TEST_DATA_SIZE_IN, frame.length);
        opts.putInt(TEST_REPEAT, repeat);
        opts.putInt(TEST_FLAGS, BPF_F_TEST_XDP_LIVE_FRAMES);
        ctx.putInt(XDP_MD_DATA_END, frame.length);
        opts.putLong(TEST_CTX_IN, ctx.addressOffset());
        opts.putInt(TEST_CTX_SIZE_IN, ctx.capacity());
        final int rc = LIB.bpf_prog_test_run_opts(fd, opts.addressOffset());
        if (rc < 0)
        {
            throw Libbpf.error("BPF_PROG_TEST_RUN (live frames) of " + name +
                (rc == -EINVAL ? " (live frames need Linux 5.18 or newer)" : ""), rc);
        }
        return Integer.toUnsignedLong(opts.getInt(TEST_DURATION));
    }

    @Override
    public FrameRunner frameRunner(final int maxFrameLength)
    {
        return new Runner(maxFrameLength, null);
    }

    @Override
    public FrameRunner xdpFrameRunner(final int maxFrameLength, final int ingressIfindex)
    {
        return new Runner(maxFrameLength, xdpContext(ingressIfindex));
    }

    private TestRun testRun(final byte[] frame, final int repeat, final UnsafeBuffer ctx)
    {
        final UnsafeBuffer in = new UnsafeBuffer(BufferUtil.allocateDirectAligned(Math.max(8, frame.length), 8));
        final UnsafeBuffer out = new UnsafeBuffer(BufferUtil.allocateDirectAligned(frame.length + TEST_OUT_SLACK, 8));
        final UnsafeBuffer opts = struct(TEST_OPTS_SIZE);
        in.putBytes(0, frame);
        final int rc = testRun(opts, in, frame.length, out, repeat, ctx);
        if (rc < 0)
        {
            throw Libbpf.error("BPF_PROG_TEST_RUN of " + name, rc);
        }
        final byte[] result = new byte[copiedLength(opts, out)];
        out.getBytes(0, result);
        return new TestRun(opts.getInt(TEST_RETVAL), result, Integer.toUnsignedLong(opts.getInt(TEST_DURATION)));
    }

    /**
     * One BPF_PROG_TEST_RUN of in[0, length) into out, through opts (a zeroed bpf_test_run_opts) and, for a run on
     * a device, an xdp_md (its data_end set here to the frame's length) or the head of a __sk_buff, else null; 0 or
     * -errno.
     */
    private int testRun(final UnsafeBuffer opts, final UnsafeBuffer in, final int length, final UnsafeBuffer out,
        final int repeat, final UnsafeBuffer ctx)
    {
        opts.putLong(TEST_DATA_IN, in.addressOffset());
        opts.putLong(TEST_DATA_OUT, out.addressOffset());
        opts.putInt(TEST_DATA_SIZE_IN, length);
        opts.putInt(TEST_DATA_SIZE_OUT, out.capacity());
        opts.putInt(TEST_RETVAL, 0);
        opts.putInt(TEST_REPEAT, repeat);
        opts.putInt(TEST_DURATION, 0);
        if (ctx != null)
        {
            if (ctx.capacity() == XDP_MD_SIZE)
            {
                ctx.putInt(XDP_MD_DATA_END, length); // an xdp_md says where the frame ends; a __sk_buff may not
            }
            opts.putLong(TEST_CTX_IN, ctx.addressOffset());
            opts.putInt(TEST_CTX_SIZE_IN, ctx.capacity());
        }
        return LIB.bpf_prog_test_run_opts(fd, opts.addressOffset());
    }

    /** An xdp_md naming the device frames arrive on. */
    private static UnsafeBuffer xdpContext(final int ingressIfindex)
    {
        final UnsafeBuffer ctx = new UnsafeBuffer(BufferUtil.allocateDirectAligned(XDP_MD_SIZE, 8));
        ctx.setMemory(0, XDP_MD_SIZE, (byte)0);
        ctx.putInt(XDP_MD_INGRESS_IFINDEX, ingressIfindex);
        return ctx;
    }

    /** The kernel reports the whole output's size even when it copied only what fit. */
    private static int copiedLength(final UnsafeBuffer opts, final UnsafeBuffer out)
    {
        return Math.min(opts.getInt(TEST_DATA_SIZE_OUT), out.capacity());
    }

    /** Native input, output, opts and context allocated once; each run only fills in the fields a run changes. */
    private final class Runner implements FrameRunner
    {
        private final UnsafeBuffer in;
        private final UnsafeBuffer out;
        private final UnsafeBuffer opts = struct(TEST_OPTS_SIZE);
        private final UnsafeBuffer ctx;

        Runner(final int maxFrameLength, final UnsafeBuffer ctx)
        {
            this.in = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
                BitUtil.align(Math.max(8, maxFrameLength), 8), 8));
            this.out = new UnsafeBuffer(BufferUtil.allocateDirectAligned(
                BitUtil.align(maxFrameLength + TEST_OUT_SLACK, 8), 8));
            this.ctx = ctx;
        }

        @Override
        public MutableDirectBuffer frame()
        {
            return in;
        }

        @Override
        public int run(final int length)
        {
            if (length < 0 || length > in.capacity())
            {
                throw new IllegalArgumentException("frame length " + length + " outside 0.." + in.capacity());
            }
            return testRun(opts, in, length, out, 1, ctx);
        }

        @Override
        public int verdict()
        {
            return opts.getInt(TEST_RETVAL);
        }

        @Override
        public DirectBuffer output()
        {
            return out;
        }

        @Override
        public int outputLength()
        {
            return copiedLength(opts, out);
        }
    }

    /** A zeroed native struct whose first field, size_t sz, holds its size, as libbpf's opts structs want. */
    private static UnsafeBuffer struct(final int size)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(size, 8));
        buffer.setMemory(0, size, (byte)0);
        buffer.putLong(0, size);
        return buffer;
    }

    @Override
    public String toString()
    {
        return "BpfProgram[" + name + ", fd " + fd + "]";
    }
}

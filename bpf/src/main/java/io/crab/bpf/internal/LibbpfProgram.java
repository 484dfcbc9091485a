package io.crab.bpf.internal;

import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfProgram;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import static io.crab.bpf.internal.Libbpf.LIB;

/** One loaded program: attaching it to XDP or TC hooks, and running it on test frames. */
final class LibbpfProgram implements BpfProgram
{
    /** enum bpf_attach_type (linux/bpf.h). */
    private static final int BPF_XDP = 37;
    private static final int BPF_TCX_INGRESS = 46;
    private static final int BPF_TCX_EGRESS = 47;
    private static final int EBUSY = 16;
    private static final int EINVAL = 22;

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
    /** struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; }. */
    private static final int XDP_MD_SIZE = 24;
    private static final int XDP_MD_DATA_END = 4;
    private static final int XDP_MD_INGRESS_IFINDEX = 12;
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
    public BpfLink attachXdp(final int ifindex)
    {
        final int rc = LIB.bpf_link_create(fd, ifindex, BPF_XDP, 0);
        if (rc < 0)
        {
            throw Libbpf.error("attaching XDP program " + name + " to ifindex " + ifindex +
                (rc == -EBUSY ? " (the interface already has an XDP program)" : ""), rc);
        }
        return new LibbpfLink("xdp " + name + " on ifindex " + ifindex, rc);
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
    public TestRun testRun(final byte[] frame, final int repeat)
    {
        return testRun(frame, repeat, null);
    }

    @Override
    public TestRun testRunXdp(final byte[] frame, final int repeat, final int ingressIfindex)
    {
        final UnsafeBuffer ctx = new UnsafeBuffer(BufferUtil.allocateDirectAligned(XDP_MD_SIZE, 8));
        ctx.setMemory(0, XDP_MD_SIZE, (byte)0);
        ctx.putInt(XDP_MD_DATA_END, frame.length);
        ctx.putInt(XDP_MD_INGRESS_IFINDEX, ingressIfindex);
        return testRun(frame, repeat, ctx);
    }

    private TestRun testRun(final byte[] frame, final int repeat, final UnsafeBuffer ctx)
    {
        final UnsafeBuffer in = new UnsafeBuffer(BufferUtil.allocateDirectAligned(Math.max(8, frame.length), 8));
        final UnsafeBuffer out = new UnsafeBuffer(BufferUtil.allocateDirectAligned(frame.length + TEST_OUT_SLACK, 8));
        final UnsafeBuffer opts = struct(TEST_OPTS_SIZE);
        in.putBytes(0, frame);
        opts.putLong(TEST_DATA_IN, in.addressOffset());
        opts.putLong(TEST_DATA_OUT, out.addressOffset());
        opts.putInt(TEST_DATA_SIZE_IN, frame.length);
        opts.putInt(TEST_DATA_SIZE_OUT, out.capacity());
        opts.putInt(TEST_REPEAT, repeat);
        if (ctx != null)
        {
            opts.putLong(TEST_CTX_IN, ctx.addressOffset());
            opts.putInt(TEST_CTX_SIZE_IN, ctx.capacity());
        }
        final int rc = LIB.bpf_prog_test_run_opts(fd, opts.addressOffset());
        if (rc < 0)
        {
            throw Libbpf.error("BPF_PROG_TEST_RUN of " + name, rc);
        }
        final byte[] result = new byte[Math.min(opts.getInt(TEST_DATA_SIZE_OUT), out.capacity())];
        out.getBytes(0, result);
        return new TestRun(opts.getInt(TEST_RETVAL), result, Integer.toUnsignedLong(opts.getInt(TEST_DURATION)));
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

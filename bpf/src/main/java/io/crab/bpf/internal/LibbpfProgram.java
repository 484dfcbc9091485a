package io.crab.bpf.internal;

import io.crab.bpf.Attachment;
import io.crab.bpf.BpfException;
import io.crab.bpf.BpfProgram;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import static io.crab.bpf.internal.Libbpf.LIB;

/** One loaded program: attaching it to XDP or TC hooks, and running it on test frames. */
final class LibbpfProgram implements BpfProgram
{
    private static final int XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
    private static final int XDP_FLAGS_REPLACE = 1 << 4;

    /** struct bpf_xdp_attach_opts { size_t sz; int old_prog_fd; }. */
    private static final int XDP_OPTS_SIZE = 16;
    private static final int XDP_OPTS_OLD_PROG_FD = 8;

    /** struct bpf_tc_hook { size_t sz; int ifindex; enum bpf_tc_attach_point attach_point; __u32 parent; }. */
    private static final int TC_HOOK_SIZE = 24;
    private static final int TC_HOOK_IFINDEX = 8;
    private static final int TC_HOOK_ATTACH_POINT = 12;
    private static final int BPF_TC_INGRESS = 1;
    private static final int BPF_TC_EGRESS = 2;

    /** struct bpf_tc_opts { size_t sz; int prog_fd; __u32 flags, prog_id, handle, priority; }. */
    private static final int TC_OPTS_SIZE = 32;
    private static final int TC_OPTS_PROG_FD = 8;
    private static final int TC_OPTS_HANDLE = 20;
    private static final int TC_OPTS_PRIORITY = 24;

    /** struct bpf_test_run_opts, as in libbpf 1.x bpf.h. */
    private static final int TEST_OPTS_SIZE = 80;
    private static final int TEST_DATA_IN = 8;
    private static final int TEST_DATA_OUT = 16;
    private static final int TEST_DATA_SIZE_IN = 24;
    private static final int TEST_DATA_SIZE_OUT = 28;
    private static final int TEST_RETVAL = 56;
    private static final int TEST_REPEAT = 60;
    private static final int TEST_DURATION = 64;
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
    public Attachment attachXdp(final int ifindex)
    {
        final int rc = LIB.bpf_xdp_attach(ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST, 0);
        if (rc < 0)
        {
            throw Libbpf.error("attaching XDP program " + name + " to ifindex " + ifindex +
                (rc == -16 ? " (the interface already has an XDP program)" : ""), rc);
        }
        return new OnceAttachment(() ->
        {
            final UnsafeBuffer opts = struct(XDP_OPTS_SIZE);
            opts.putInt(XDP_OPTS_OLD_PROG_FD, fd);
            final int drc = LIB.bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE, opts.addressOffset());
            if (drc < 0 && drc != -19)
            {
                throw Libbpf.error("detaching XDP program " + name + " from ifindex " + ifindex, drc);
            }
        });
    }

    @Override
    public Attachment attachTc(final int ifindex, final TcDirection direction)
    {
        final UnsafeBuffer hook = struct(TC_HOOK_SIZE);
        hook.putInt(TC_HOOK_IFINDEX, ifindex);
        hook.putInt(TC_HOOK_ATTACH_POINT, direction == TcDirection.INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS);
        final int hrc = LIB.bpf_tc_hook_create(hook.addressOffset());
        if (hrc < 0 && hrc != -17)
        {
            throw Libbpf.error("creating clsact on ifindex " + ifindex, hrc);
        }
        final UnsafeBuffer opts = struct(TC_OPTS_SIZE);
        opts.putInt(TC_OPTS_PROG_FD, fd);
        final int rc = LIB.bpf_tc_attach(hook.addressOffset(), opts.addressOffset());
        if (rc < 0)
        {
            throw Libbpf.error("attaching TC program " + name + " to ifindex " + ifindex + " " + direction, rc);
        }
        final int handle = opts.getInt(TC_OPTS_HANDLE);
        final int priority = opts.getInt(TC_OPTS_PRIORITY);
        return new OnceAttachment(() ->
        {
            final UnsafeBuffer detach = struct(TC_OPTS_SIZE);
            detach.putInt(TC_OPTS_HANDLE, handle);
            detach.putInt(TC_OPTS_PRIORITY, priority);
            final int drc = LIB.bpf_tc_detach(hook.addressOffset(), detach.addressOffset());
            if (drc < 0 && drc != -19 && drc != -2)
            {
                throw Libbpf.error("detaching TC program " + name + " from ifindex " + ifindex, drc);
            }
        });
    }

    @Override
    public TestRun testRun(final byte[] frame, final int repeat)
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

    /** Runs its detach action on the first close only. */
    private static final class OnceAttachment implements Attachment
    {
        private Runnable detach;

        OnceAttachment(final Runnable detach)
        {
            this.detach = detach;
        }

        @Override
        public synchronized void close()
        {
            if (detach != null)
            {
                final Runnable d = detach;
                detach = null;
                d.run();
            }
        }
    }

    @Override
    public String toString()
    {
        return "BpfProgram[" + name + ", fd " + fd + "]";
    }
}

package io.crab.bpf;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/** One program of a loaded {@link BpfObject}. */
public interface BpfProgram
{
    String name();

    int fd();

    /**
     * Attaches as XDP to the interface (calling thread's network namespace) through a BPF link, in {@code mode}.
     * Fails if the interface already has an XDP program, ours through another link or anyone's through netlink, or
     * in the other mode (the kernel never runs a native and a generic program on one device at once), and, for
     * {@link XdpMode#NATIVE}, if the driver has no XDP of its own or refuses it. The mode of a link never changes.
     */
    BpfLink attachXdp(int ifindex, XdpMode mode);

    /** Attaches to the interface's TC ingress or egress through a TCX link (kernel 6.6 or newer). */
    BpfLink attachTcx(int ifindex, TcDirection direction);

    /**
     * Attaches a BTF-typed tracepoint program (section {@code tp_btf/NAME}) to its tracepoint, for the whole machine.
     * The link cannot be updated; closing it detaches the program.
     */
    BpfLink attachTracepoint();

    /**
     * Run the program once per repeat on a copy of {@code frame} through BPF_PROG_TEST_RUN.
     * The result holds the verdict, the frame as the program left it and the average run time.
     */
    TestRun testRun(byte[] frame, int repeat);

    /**
     * {@link #testRun} of a TC program as if the frame arrived on {@code ifindex} of the calling thread's network
     * namespace (the socket buffer's device), so that FIB lookups and redirects name a real device.
     */
    TestRun testRunTc(byte[] frame, int repeat, int ifindex);

    /**
     * {@link #testRun} of an XDP program as if the frame arrived on {@code ingressIfindex} of the calling thread's
     * network namespace, so helpers that ask the kernel about the device (FIB lookups) see a real one. The device
     * must have an XDP program attached (a veth registers its receive queue for XDP only then).
     */
    TestRun testRunXdp(byte[] frame, int repeat, int ingressIfindex);

    /**
     * Runs an XDP program on {@code repeat} copies of {@code frame} as live frames arriving on {@code
     * ingressIfindex} (BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18 or newer): the kernel acts on
     * each verdict, so XDP_PASS frames go up the device's stack and XDP_TX and XDP_REDIRECT frames are transmitted.
     * The call runs on the calling thread's CPU, which it does not leave while timing. The kernel reports neither
     * the verdicts nor the frames, only the average time per frame, which it returns in whole ns and which
     * includes acting on the verdicts. The device must have an XDP program attached, as for {@link #testRunXdp}.
     */
    long testRunXdpLive(byte[] frame, int repeat, int ingressIfindex);

    /**
     * A runner of this program on one frame at a time through BPF_PROG_TEST_RUN, for campaigns of millions of
     * frames: its native buffers are allocated here, once, so a run allocates nothing. For one thread.
     *
     * @param maxFrameLength the longest frame it will be given
     */
    FrameRunner frameRunner(int maxFrameLength);

    /** {@link #frameRunner} of an XDP program whose frames arrive on {@code ingressIfindex}, as {@link #testRunXdp}. */
    FrameRunner xdpFrameRunner(int maxFrameLength, int ingressIfindex);

    enum TcDirection
    {
        INGRESS, EGRESS
    }

    /** Reusable input, output and outcome of single BPF_PROG_TEST_RUNs; see {@link #frameRunner}. */
    interface FrameRunner
    {
        /** Where the caller writes the next frame, from offset 0. */
        MutableDirectBuffer frame();

        /**
         * Runs the program once on {@code frame()[0, length)}. Returns 0, or the negative errno with which the
         * kernel refused to run it (it refuses frames shorter than an Ethernet header, for one).
         */
        int run(int length);

        /** The program's return value in the last successful run. */
        int verdict();

        /** The frame as the program left it in the last successful run, in {@code [0, outputLength())}. */
        DirectBuffer output();

        int outputLength();
    }

    /** Outcome of {@link #testRun}. */
    record TestRun(int verdict, byte[] frameOut, long durationNs)
    {
    }
}

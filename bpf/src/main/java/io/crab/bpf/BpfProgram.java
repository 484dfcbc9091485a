package io.crab.bpf;

/** One program of a loaded {@link BpfObject}. */
public interface BpfProgram
{
    String name();

    int fd();

    /**
     * Attaches as XDP to the interface (calling thread's network namespace) through a BPF link. Fails if the
     * interface already has an XDP program, ours through another link or anyone's through netlink.
     */
    BpfLink attachXdp(int ifindex);

    /** Attaches to the interface's TC ingress or egress through a TCX link (kernel 6.6 or newer). */
    BpfLink attachTcx(int ifindex, TcDirection direction);

    /**
     * Run the program once per repeat on a copy of {@code frame} through BPF_PROG_TEST_RUN.
     * The result holds the verdict, the frame as the program left it and the average run time.
     */
    TestRun testRun(byte[] frame, int repeat);

    /**
     * {@link #testRun} of an XDP program as if the frame arrived on {@code ingressIfindex} of the calling thread's
     * network namespace, so helpers that ask the kernel about the device (FIB lookups) see a real one. The device
     * must have an XDP program attached (a veth registers its receive queue for XDP only then).
     */
    TestRun testRunXdp(byte[] frame, int repeat, int ingressIfindex);

    enum TcDirection
    {
        INGRESS, EGRESS
    }

    /** Outcome of {@link #testRun}. */
    record TestRun(int verdict, byte[] frameOut, long durationNs)
    {
    }
}

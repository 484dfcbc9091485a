package io.crab.bpf;

/** One program of a loaded {@link BpfObject}. */
public interface BpfProgram
{
    String name();

    int fd();

    /** Attach as XDP to the interface (in the calling thread's network namespace); fails if one is attached. */
    Attachment attachXdp(int ifindex);

    /** Attach as a TC classifier (clsact, direct action) on the interface's ingress or egress. */
    Attachment attachTc(int ifindex, TcDirection direction);

    /**
     * Run the program once per repeat on a copy of {@code frame} through BPF_PROG_TEST_RUN.
     * The result holds the verdict, the frame as the program left it and the average run time.
     */
    TestRun testRun(byte[] frame, int repeat);

    enum TcDirection
    {
        INGRESS, EGRESS
    }

    /** Outcome of {@link #testRun}. */
    record TestRun(int verdict, byte[] frameOut, long durationNs)
    {
    }
}

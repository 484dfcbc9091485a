package io.crab.bpf;

import java.nio.file.Path;

/**
 * A program attached to a hook as a BPF link. The kernel keeps the program attached while anything holds the
 * link: this handle, or a pin on bpffs. A pinned link therefore outlives the process that made it, and a new
 * process adopts it by opening the pin and swapping the program atomically.
 */
public interface BpfLink extends AutoCloseable
{
    int fd();

    /** The kernel's id of the program the link runs now, as netlink reports the programs attached to a device. */
    int programId();

    /** Pins the link at a path on a mounted bpffs; the program then stays attached after this process exits. */
    void pin(Path path);

    /** Atomically replaces the attached program: every packet runs either the old program or the new one. */
    void update(BpfProgram program);

    /** Detaches the program now, whoever else holds the link (its pin, if any, must still be removed). */
    void detach();

    /** Releases this handle; the program stays attached only if the link is pinned or held elsewhere. */
    @Override
    void close();
}

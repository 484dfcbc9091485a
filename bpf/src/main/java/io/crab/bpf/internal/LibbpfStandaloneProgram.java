package io.crab.bpf.internal;

import io.crab.bpf.StandaloneProgram;

import static io.crab.bpf.internal.Libbpf.LIB;

/** A program that owns its fd, since no bpf_object closes it. */
final class LibbpfStandaloneProgram extends LibbpfProgram implements StandaloneProgram
{
    LibbpfStandaloneProgram(final String name, final int fd)
    {
        super(name, fd);
    }

    @Override
    public void close()
    {
        LIB.close(fd());
    }
}

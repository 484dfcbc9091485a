package io.crab.bpf.internal;

import io.crab.bpf.BpfException;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfProgram;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Path;

import static io.crab.bpf.internal.Libbpf.LIB;

/** A BPF link reached by its fd: one made by attaching here, or one opened from its pin. */
final class LibbpfLink implements BpfLink
{
    /** struct bpf_link_info (linux/bpf.h): prog_id. */
    private static final int LINK_INFO_SIZE = 64;
    private static final int LINK_INFO_PROG_ID = 8;

    private final String what;
    private int fd;

    LibbpfLink(final String what, final int fd)
    {
        this.what = what;
        this.fd = fd;
    }

    @Override
    public int fd()
    {
        checkOpen();
        return fd;
    }

    @Override
    public int programId()
    {
        final UnsafeBuffer info = new UnsafeBuffer(BufferUtil.allocateDirectAligned(LINK_INFO_SIZE, 8));
        final UnsafeBuffer infoLen = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8, 8));
        infoLen.putInt(0, LINK_INFO_SIZE);
        final int rc = LIB.bpf_obj_get_info_by_fd(fd(), info.addressOffset(), infoLen.addressOffset());
        if (rc < 0)
        {
            throw Libbpf.error("bpf_obj_get_info_by_fd(link " + what + ")", rc);
        }
        return info.getInt(LINK_INFO_PROG_ID);
    }

    @Override
    public void pin(final Path path)
    {
        final int rc = LIB.bpf_obj_pin(fd(), path.toString());
        if (rc < 0)
        {
            throw Libbpf.error("pinning link " + what + " at " + path + " (is bpffs mounted there?)", rc);
        }
    }

    @Override
    public void update(final BpfProgram program)
    {
        final int rc = LIB.bpf_link_update(fd(), program.fd(), 0);
        if (rc < 0)
        {
            throw Libbpf.error("replacing the program of link " + what + " with " + program.name(), rc);
        }
    }

    @Override
    public void detach()
    {
        final int rc = LIB.bpf_link_detach(fd());
        if (rc < 0)
        {
            throw Libbpf.error("detaching link " + what, rc);
        }
    }

    @Override
    public synchronized void close()
    {
        if (fd >= 0)
        {
            LIB.close(fd);
            fd = -1;
        }
    }

    private void checkOpen()
    {
        if (fd < 0)
        {
            throw new BpfException("link " + what + " is closed");
        }
    }

    @Override
    public String toString()
    {
        return "BpfLink[" + what + "]";
    }
}

package io.crab.bpf.internal;

import io.crab.bpf.BpfException;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.BtfTypes;
import jnr.ffi.Pointer;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.crab.bpf.internal.Libbpf.LIB;

/** A libbpf bpf_object, opened from the bytes of an ELF file and loaded into the kernel. */
final class LibbpfObject implements BpfObject
{
    private static final int VERIFIER_LOG_SIZE = 16 * 1024 * 1024;
    private static final int VERIFIER_LOG_TAIL_LINES = 60;

    private final String name;
    private final Pointer obj;
    private final UnsafeBuffer elf;
    private final Map<String, LibbpfProgram> programs = new HashMap<>();
    private final Map<String, LibbpfMap> maps = new HashMap<>();
    private LibbpfBtf btf;
    private boolean closed;

    private LibbpfObject(final String name, final Pointer obj, final UnsafeBuffer elf)
    {
        this.name = name;
        this.obj = obj;
        this.elf = elf;
    }

    static LibbpfObject open(final String name, final byte[] bytes)
    {
        final UnsafeBuffer elf = new UnsafeBuffer(BufferUtil.allocateDirectAligned(bytes.length, 8));
        elf.putBytes(0, bytes);
        final Pointer obj = openMem(name, elf);
        final int rc = LIB.bpf_object__load(obj);
        if (rc < 0)
        {
            LIB.bpf_object__close(obj);
            throw new BpfException(
                "loading BPF object " + name + " failed: " + LIB.strerror(-rc) + "\n" + verifierLog(name, elf), -rc);
        }
        return new LibbpfObject(name, obj, elf);
    }

    private static Pointer openMem(final String name, final UnsafeBuffer elf)
    {
        final Pointer obj = LIB.bpf_object__open_mem(elf.addressOffset(), elf.capacity(), 0);
        if (Libbpf.isNull(obj))
        {
            throw Libbpf.lastError("bpf_object__open_mem(" + name + ")");
        }
        return obj;
    }

    /** Loads the object again with a verifier log buffer per program and returns the tail of the logs. */
    private static String verifierLog(final String name, final UnsafeBuffer elf)
    {
        final Pointer obj = openMem(name, elf);
        final UnsafeBuffer log = new UnsafeBuffer(BufferUtil.allocateDirectAligned(VERIFIER_LOG_SIZE, 8));
        final StringBuilder out = new StringBuilder();
        try
        {
            final List<Pointer> progs = new ArrayList<>();
            for (Pointer p = LIB.bpf_object__next_program(obj, null); !Libbpf.isNull(p);
                p = LIB.bpf_object__next_program(obj, p))
            {
                progs.add(p);
            }
            final int share = VERIFIER_LOG_SIZE / Math.max(1, progs.size());
            for (int i = 0; i < progs.size(); i++)
            {
                LIB.bpf_program__set_log_buf(progs.get(i), log.addressOffset() + (long)i * share, share);
                LIB.bpf_program__set_log_level(progs.get(i), 1);
            }
            LIB.bpf_object__load(obj);
            for (int i = 0; i < progs.size(); i++)
            {
                final String text = cString(log, i * share, share);
                if (!text.isBlank())
                {
                    out.append("verifier log of ").append(LIB.bpf_program__name(progs.get(i))).append(" (tail):\n")
                        .append(tail(text));
                }
            }
        }
        finally
        {
            LIB.bpf_object__close(obj);
        }
        return out.length() == 0 ? "(no verifier log: the failure is in libbpf, see its messages on stderr)" :
            out.toString();
    }

    private static String cString(final UnsafeBuffer buffer, final int offset, final int max)
    {
        int len = 0;
        while (len < max && buffer.getByte(offset + len) != 0)
        {
            len++;
        }
        final byte[] bytes = new byte[len];
        buffer.getBytes(offset, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String tail(final String text)
    {
        final String[] lines = text.split("\n");
        final int from = Math.max(0, lines.length - VERIFIER_LOG_TAIL_LINES);
        return String.join("\n", java.util.Arrays.copyOfRange(lines, from, lines.length)) + "\n";
    }

    @Override
    public BpfProgram program(final String programName)
    {
        checkOpen();
        return programs.computeIfAbsent(programName, n ->
        {
            final Pointer p = LIB.bpf_object__find_program_by_name(obj, n);
            if (Libbpf.isNull(p))
            {
                throw new BpfException("BPF object " + name + " has no program " + n);
            }
            return new LibbpfProgram(n, LIB.bpf_program__fd(p));
        });
    }

    @Override
    public BpfMap map(final String mapName)
    {
        checkOpen();
        return maps.computeIfAbsent(mapName, n ->
        {
            final Pointer m = LIB.bpf_object__find_map_by_name(obj, n);
            if (Libbpf.isNull(m))
            {
                throw new BpfException("BPF object " + name + " has no map " + n);
            }
            return new LibbpfMap(n, LIB.bpf_map__fd(m), LIB.bpf_map__type(m), LIB.bpf_map__key_size(m),
                LIB.bpf_map__value_size(m), LIB.bpf_map__max_entries(m));
        });
    }

    @Override
    public BtfTypes btf()
    {
        checkOpen();
        if (btf == null)
        {
            final Pointer b = LIB.bpf_object__btf(obj);
            if (Libbpf.isNull(b))
            {
                throw new BpfException("BPF object " + name + " has no BTF (build it with -g)");
            }
            btf = new LibbpfBtf(b);
        }
        return btf;
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            maps.values().forEach(LibbpfMap::unmap);
            LIB.bpf_object__close(obj);
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("BPF object " + name + " is closed");
        }
    }
}

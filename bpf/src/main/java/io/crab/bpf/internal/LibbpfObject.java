package io.crab.bpf.internal;

import io.crab.bpf.BpfException;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.BtfTypes;
import io.crab.bpf.LoadOptions;
import jnr.ffi.Pointer;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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

    static LibbpfObject open(final String name, final byte[] bytes, final LoadOptions options)
    {
        final UnsafeBuffer elf = new UnsafeBuffer(BufferUtil.allocateDirectAligned(bytes.length, 8));
        elf.putBytes(0, bytes);
        final Pointer obj = openMem(name, elf);
        try
        {
            setSizes(name, obj, options.maxEntries());
            if (options.reuseDir() != null)
            {
                reusePins(name, obj, options.reuseDir());
            }
        }
        catch (final RuntimeException ex)
        {
            LIB.bpf_object__close(obj);
            throw ex;
        }
        final int rc = LIB.bpf_object__load(obj);
        if (rc < 0)
        {
            LIB.bpf_object__close(obj);
            throw new BpfException(
                "loading BPF object " + name + " failed: " + LIB.strerror(-rc) + "\n" + verifierLog(name, elf), -rc);
        }
        return new LibbpfObject(name, obj, elf);
    }

    private static void setSizes(final String name, final Pointer obj, final Map<String, Integer> sizes)
    {
        for (final Map.Entry<String, Integer> size : sizes.entrySet())
        {
            final Pointer m = LIB.bpf_object__find_map_by_name(obj, size.getKey());
            if (Libbpf.isNull(m))
            {
                throw new BpfException("BPF object " + name + " has no map " + size.getKey());
            }
            final int rc = LIB.bpf_map__set_max_entries(m, size.getValue());
            if (rc < 0)
            {
                throw Libbpf.error("setting the size of map " + size.getKey() + " to " + size.getValue(), rc);
            }
        }
    }

    /** Makes the object use the maps pinned in dir under their names, after checking each is what it needs. */
    private static void reusePins(final String name, final Pointer obj, final Path dir)
    {
        for (final Pointer m : ownMaps(obj))
        {
            final String mapName = LIB.bpf_map__name(m);
            final Path pin = dir.resolve(mapName);
            if (!Files.exists(pin))
            {
                continue;
            }
            final LibbpfMap pinned = (LibbpfMap)Libbpf.openPinnedMap(pin.toString());
            try
            {
                final String needed = layout(LIB.bpf_map__type(m), LIB.bpf_map__key_size(m),
                    LIB.bpf_map__value_size(m), LIB.bpf_map__max_entries(m), LIB.bpf_map__map_flags(m));
                final String found = layout(pinned.type(), pinned.keySize(), pinned.valueSize(),
                    pinned.maxEntries(), pinned.flags());
                if (!needed.equals(found))
                {
                    throw new BpfException("the pinned map " + pin + " is " + found + " but " + name + " needs " +
                        needed + ": the state was made by another version or size; drain and detach first");
                }
                final int rc = LIB.bpf_map__reuse_fd(m, pinned.fd());
                if (rc < 0)
                {
                    throw Libbpf.error("reusing pinned map " + pin, rc);
                }
            }
            finally
            {
                pinned.close();
            }
        }
    }

    private static String layout(final int type, final int key, final int value, final int maxEntries,
        final int flags)
    {
        return "type " + type + ", key " + key + " B, value " + value + " B, " + maxEntries + " entries, flags " +
            flags;
    }

    /** The object's own maps: libbpf's internal ones for global data (.data, .rodata, .bss) have a dot. */
    private static List<Pointer> ownMaps(final Pointer obj)
    {
        final List<Pointer> own = new ArrayList<>();
        for (Pointer m = LIB.bpf_object__next_map(obj, null); !Libbpf.isNull(m); m = LIB.bpf_object__next_map(obj, m))
        {
            if (!LIB.bpf_map__name(m).contains("."))
            {
                own.add(m);
            }
        }
        return own;
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
                LIB.bpf_map__value_size(m), LIB.bpf_map__max_entries(m), LIB.bpf_map__map_flags(m), false);
        });
    }

    @Override
    public List<String> mapNames()
    {
        checkOpen();
        return ownMaps(obj).stream().map(LIB::bpf_map__name).toList();
    }

    @Override
    public void pinMaps(final Path dir)
    {
        for (final String mapName : mapNames())
        {
            if (!Files.exists(dir.resolve(mapName)))
            {
                map(mapName).pin(dir.resolve(mapName).toString());
            }
        }
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

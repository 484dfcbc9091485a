package io.crab.bpf.internal;

import io.crab.bpf.BpfException;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.MapInfo;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.ProgramStats;
import io.crab.bpf.StandaloneMap;
import io.crab.bpf.StandaloneProgram;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The binding's one door to native code: loads libbpf and libc once and opens objects and pinned maps. */
public final class Libbpf
{
    static final NativeLibbpf LIB = LibraryLoader.create(NativeLibbpf.class).library("bpf").library("c").load();
    static final Runtime RUNTIME = Runtime.getRuntime(LIB);

    private static final int MAP_INFO_SIZE = 88;
    private static final int MAP_INFO_TYPE = 0;
    private static final int MAP_INFO_KEY_SIZE = 8;
    private static final int MAP_INFO_VALUE_SIZE = 12;
    private static final int MAP_INFO_MAX_ENTRIES = 16;
    private static final int MAP_INFO_FLAGS = 20;
    private static final int MAP_INFO_NAME = 24;

    private Libbpf()
    {
    }

    public static BpfObject load(final String name, final LoadOptions options)
    {
        final String resource = "/bpf/" + name + ".bpf.o";
        final byte[] elf;
        try (InputStream in = Libbpf.class.getResourceAsStream(resource))
        {
            if (in == null)
            {
                throw new BpfException("no BPF object " + resource + " on the class path (was bpf/ built?)");
            }
            elf = in.readAllBytes();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("reading " + resource, ex);
        }
        return LibbpfObject.open(name, elf, options);
    }

    /** enum bpf_prog_type and enum bpf_attach_type (linux/bpf.h). */
    private static final int BPF_PROG_TYPE_XDP = 6;
    private static final int BPF_XDP = 37;
    /** struct bpf_prog_load_opts, as in libbpf 1.x bpf.h (up to log_buf). */
    private static final int PROG_LOAD_OPTS_SIZE = 104;
    private static final int PROG_LOAD_EXPECTED_ATTACH_TYPE = 12;
    private static final int PROG_LOAD_LOG_LEVEL = 88;
    private static final int PROG_LOAD_LOG_SIZE = 92;
    private static final int PROG_LOAD_LOG_BUF = 96;
    private static final int INSN_SIZE = 8;
    private static final int VERIFIER_LOG_SIZE = 64 * 1024;

    public static StandaloneProgram loadXdp(final String name, final byte[] instructions)
    {
        if (instructions.length == 0 || instructions.length % INSN_SIZE != 0)
        {
            throw new IllegalArgumentException("instructions of " + name + ": " + instructions.length +
                " bytes, not a whole number of 8-byte instructions");
        }
        final UnsafeBuffer insns = new UnsafeBuffer(BufferUtil.allocateDirectAligned(instructions.length, 8));
        insns.putBytes(0, instructions);
        final UnsafeBuffer log = new UnsafeBuffer(BufferUtil.allocateDirectAligned(VERIFIER_LOG_SIZE, 8));
        log.setMemory(0, VERIFIER_LOG_SIZE, (byte)0);
        final UnsafeBuffer opts = new UnsafeBuffer(BufferUtil.allocateDirectAligned(PROG_LOAD_OPTS_SIZE, 8));
        opts.setMemory(0, PROG_LOAD_OPTS_SIZE, (byte)0);
        opts.putLong(0, PROG_LOAD_OPTS_SIZE);
        // As libbpf sets it for SEC("xdp"), so these programs and the objects' share tail-call program arrays.
        opts.putInt(PROG_LOAD_EXPECTED_ATTACH_TYPE, BPF_XDP);
        opts.putInt(PROG_LOAD_LOG_LEVEL, 1);
        opts.putInt(PROG_LOAD_LOG_SIZE, VERIFIER_LOG_SIZE);
        opts.putLong(PROG_LOAD_LOG_BUF, log.addressOffset());
        final int fd = LIB.bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns.addressOffset(),
            instructions.length / INSN_SIZE, Pointer.wrap(RUNTIME, opts.addressOffset()));
        if (fd < 0)
        {
            final int errno = -fd;
            throw new BpfException("loading XDP program " + name + " failed: " + LIB.strerror(errno) +
                " (errno " + errno + ")\nverifier log:\n" + log.getStringWithoutLengthAscii(0, VERIFIER_LOG_SIZE)
                .replace("\0", ""), errno);
        }
        return new LibbpfStandaloneProgram(name, fd);
    }

    public static StandaloneMap createMap(final int type, final String name, final int keySize,
        final int valueSize, final int maxEntries)
    {
        final int fd = LIB.bpf_map_create(type, name, keySize, valueSize, maxEntries, null);
        if (fd < 0)
        {
            throw error("bpf_map_create(" + name + ")", fd);
        }
        return new LibbpfMap(name, fd, type, keySize, valueSize, maxEntries, 0, true);
    }

    public static PinnedMap openPinnedMap(final String path)
    {
        final int fd = LIB.bpf_obj_get(path);
        if (fd < 0)
        {
            throw error("bpf_obj_get(" + path + ")", fd);
        }
        final UnsafeBuffer info = new UnsafeBuffer(BufferUtil.allocateDirectAligned(MAP_INFO_SIZE, 8));
        final UnsafeBuffer infoLen = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8, 8));
        infoLen.putInt(0, MAP_INFO_SIZE);
        final int rc = LIB.bpf_obj_get_info_by_fd(fd, info.addressOffset(), infoLen.addressOffset());
        if (rc < 0)
        {
            LIB.close(fd);
            throw error("bpf_obj_get_info_by_fd(" + path + ")", rc);
        }
        final String mapName = info.getStringWithoutLengthAscii(MAP_INFO_NAME, 16).trim().replace("\0", "");
        return new LibbpfMap(mapName, fd, info.getInt(MAP_INFO_TYPE), info.getInt(MAP_INFO_KEY_SIZE),
            info.getInt(MAP_INFO_VALUE_SIZE), info.getInt(MAP_INFO_MAX_ENTRIES), info.getInt(MAP_INFO_FLAGS), true);
    }

    public static MapInfo pinnedMapInfo(final Path path)
    {
        final LibbpfMap map = (LibbpfMap)openPinnedMap(path.toString());
        try
        {
            return new MapInfo(map.type(), map.keySize(), map.valueSize(), map.maxEntries(), map.flags());
        }
        finally
        {
            map.close();
        }
    }

    public static BpfLink openPinnedLink(final Path path)
    {
        final int fd = LIB.bpf_obj_get(path.toString());
        if (fd < 0)
        {
            throw error("bpf_obj_get(" + path + ")", fd);
        }
        return new LibbpfLink("pinned at " + path, fd);
    }

    /** struct bpf_prog_info: run_time_ns and run_cnt (linux/bpf.h). */
    private static final int PROG_INFO_SIZE = 232;
    private static final int PROG_INFO_RUN_TIME_NS = 192;
    private static final int PROG_INFO_RUN_CNT = 200;
    private static final int BPF_STATS_RUN_TIME = 0;

    public static ProgramStats xdpProgramStats(final int ifindex)
    {
        final UnsafeBuffer id = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8, 8));
        final int qrc = LIB.bpf_xdp_query_id(ifindex, 0, id.addressOffset());
        if (qrc < 0)
        {
            throw error("bpf_xdp_query_id(ifindex " + ifindex + ")", qrc);
        }
        if (id.getInt(0) == 0)
        {
            throw new BpfException("no XDP program on ifindex " + ifindex);
        }
        return programStats(id.getInt(0));
    }

    public static ProgramStats linkProgramStats(final Path pinnedLink)
    {
        try (BpfLink link = openPinnedLink(pinnedLink))
        {
            return programStats(link.programId());
        }
    }

    private static ProgramStats programStats(final int progId)
    {
        final int fd = LIB.bpf_prog_get_fd_by_id(progId);
        if (fd < 0)
        {
            throw error("bpf_prog_get_fd_by_id(" + progId + ")", fd);
        }
        try
        {
            final UnsafeBuffer info = new UnsafeBuffer(BufferUtil.allocateDirectAligned(PROG_INFO_SIZE, 8));
            final UnsafeBuffer infoLen = new UnsafeBuffer(BufferUtil.allocateDirectAligned(8, 8));
            infoLen.putInt(0, PROG_INFO_SIZE);
            final int rc = LIB.bpf_obj_get_info_by_fd(fd, info.addressOffset(), infoLen.addressOffset());
            if (rc < 0)
            {
                throw error("bpf_obj_get_info_by_fd(prog " + progId + ")", rc);
            }
            return new ProgramStats(info.getLong(PROG_INFO_RUN_TIME_NS), info.getLong(PROG_INFO_RUN_CNT));
        }
        finally
        {
            LIB.close(fd);
        }
    }

    public static AutoCloseable enableRunTimeStats()
    {
        final int fd = LIB.bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (fd < 0)
        {
            throw error("bpf_enable_stats(BPF_STATS_RUN_TIME)", fd);
        }
        return () -> LIB.close(fd);
    }

    public static int possibleCpus()
    {
        final int n = LIB.libbpf_num_possible_cpus();
        if (n <= 0)
        {
            throw error("libbpf_num_possible_cpus", n);
        }
        return n;
    }

    /** An exception for a libbpf call that returned {@code -errno}. */
    static BpfException error(final String call, final int negativeErrno)
    {
        final int errno = -negativeErrno;
        return new BpfException(call + " failed: " + LIB.strerror(errno) + " (errno " + errno + ")", errno);
    }

    /** An exception for a libbpf call that returned NULL and set errno. */
    static BpfException lastError(final String call)
    {
        return error(call, -LastError.getLastError(RUNTIME));
    }

    static boolean isNull(final Pointer p)
    {
        return p == null || p.address() == 0;
    }
}

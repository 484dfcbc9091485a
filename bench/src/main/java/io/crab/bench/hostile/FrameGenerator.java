package io.crab.bench.hostile;

import io.crab.bpf.frames.Frames;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static io.crab.bench.hostile.Packet.ETH_LEN;
import static io.crab.bench.hostile.Packet.TCPOPT_EOL;
import static io.crab.bench.hostile.Packet.TCPOPT_NOP;

/**
 * Makes the hostile frames of one program's campaign from its base frames. Frame {@code index} depends only on the
 * seed, the base frames and the index (each frame has its own random source, seeded from both), so any frame of a
 * campaign can be made again alone: a violation is reproduced by seed, program and index.
 */
final class FrameGenerator
{
    /** Longest frame any family makes: an ICMP error quoting a frame with 60-byte IP and TCP headers fits. */
    static final int MAX_FRAME_LENGTH = 256;
    private static final Family[] FAMILIES = Family.values();
    private static final int MAX_OPTIONS = 40;
    private static final int MAX_OPTION_LENGTH = 40;
    private static final int KINDS = 256;
    private static final int EOL_NOP_FORMS = 7;
    private static final int CRAB_OPTION_FORMS = 6;
    private static final int TOT_LEN_FORMS = 5;
    private static final int MAX_PADDING = 20;
    private static final int TCP_FLAG_COMBINATIONS = 256;
    private static final int RESERVED_BIT_VALUES = 16;
    private static final int ETH_P_IPV6 = 0x86dd;
    private static final int ETH_P_ARP = 0x0806;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int ETH_P_8021AD = 0x88a8;
    private static final int IPPROTO_UDP = 17;
    private static final int ICMP_ECHO = 8;
    private static final int ICMP_DEST_UNREACH = 3;
    private static final int ICMP_FRAG_NEEDED = 4;
    private static final int ICMP_ERROR_FORMS = 4;
    private static final int IP_DF = 0x4000;
    private static final int IP_RESERVED = 0x8000;
    private static final int IPV6_HEADER = 40;
    private static final int RANDOM_MAX = 192;
    /** Header region where bit flips land: Ethernet and the longest IP and TCP headers. */
    private static final int FLIP_REGION = ETH_LEN + 60 + 60;

    private final long seed;
    private final List<BaseFrames.Base> bases;

    FrameGenerator(final long seed, final List<BaseFrames.Base> bases)
    {
        this.seed = seed;
        this.bases = bases;
    }

    HostileFrame frame(final long index)
    {
        final Family family = FAMILIES[(int)(index % FAMILIES.length)];
        final long c = index / FAMILIES.length;
        final SplittableRandom r = new SplittableRandom(mix64(seed + mix64(index)));
        final OptionConfig config = family == Family.CRAB_OPTION ? crabOptionConfig(c) :
            OptionConfig.values()[r.nextInt(OptionConfig.values().length)];
        final BaseFrames.Base base = family == Family.TRUNCATED ? bases.get((int)(c % bases.size())) :
            bases.get(r.nextInt(bases.size()));
        final Frames.Tcp spec = base.build().apply(config, r);
        final Mutation m = new Mutation();
        m.bytes = switch (family)
        {
            case VALID -> valid(spec, m);
            case TRUNCATED -> truncated(spec, c / bases.size(), m);
            case TCP_OPTION -> tcpOption(spec, c, r, m);
            case EOL_NOP_RUNS -> eolNopRuns(spec, config, c, r, m);
            case CRAB_OPTION -> crabOption(spec, config, c, r, m);
            case DOFF_LIE -> doffLie(spec, c, r, m);
            case TOT_LEN_LIE -> totLenLie(spec, c, r, m);
            case IP_OPTIONS -> ipOptions(spec, c, r, m);
            case IHL_SHORT -> ihlShort(spec, c, r, m);
            case FRAGMENT -> fragment(spec, c, r, m);
            case VLAN -> vlan(spec, c, r, m);
            case ETHERTYPE -> ethertype(spec, c, r, m);
            case PROTOCOL -> protocol(spec, c, r, m);
            case ICMP_ERROR -> icmpError(spec, c, r, m);
            case TCP_FLAGS -> tcpFlags(spec, c, m);
            case BAD_CHECKSUM -> badChecksum(spec, c, r, m);
            case BIT_FLIPS -> bitFlips(spec, r, m);
            case RANDOM_BYTES -> randomBytes(spec, c, r, m);
        };
        if (m.bytes.length > MAX_FRAME_LENGTH)
        {
            throw new IllegalStateException("frame " + index + " is " + m.bytes.length + " bytes: " + m.detail);
        }
        return new HostileFrame(index, family, config, base.name(), m.detail, m.bytes);
    }

    /** Case c of CRAB_OPTION: form c % 6 under both configurations in turn, then position and length. */
    private static OptionConfig crabOptionConfig(final long c)
    {
        return OptionConfig.values()[(int)((c / CRAB_OPTION_FORMS) % OptionConfig.values().length)];
    }

    /** The frame and a description of what was done to it, filled in by a family. */
    private static final class Mutation
    {
        byte[] bytes;
        String detail = "";
    }

    private static byte[] valid(final Frames.Tcp spec, final Mutation m)
    {
        m.detail = "as built";
        return spec.build();
    }

    private static byte[] truncated(final Frames.Tcp spec, final long c, final Mutation m)
    {
        final byte[] whole = spec.build();
        final int cut = (int)(c % whole.length);
        m.detail = "cut at " + cut + " of " + whole.length;
        return Arrays.copyOf(whole, cut);
    }

    private static byte[] tcpOption(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final int kind = (int)(c % KINDS);
        final int length = (int)((c / KINDS) % (MAX_OPTION_LENGTH + 1));
        final byte[] option = new byte[Math.max(2, length)];
        option[0] = (byte)kind;
        option[1] = (byte)length;
        for (int i = 2; i < option.length; i++)
        {
            option[i] = (byte)r.nextInt(256);
        }
        final int[] boundaries = boundaries(spec.options);
        final int at = boundaries[r.nextInt(boundaries.length)];
        m.detail = "kind " + kind + " length " + length + " at " + at;
        return withOptions(spec, Frames.concat(Arrays.copyOf(spec.options, at), option,
            Arrays.copyOfRange(spec.options, at, spec.options.length)));
    }

    private static byte[] eolNopRuns(final Frames.Tcp spec, final OptionConfig config, final long c,
        final SplittableRandom r, final Mutation m)
    {
        final int form = (int)(c % EOL_NOP_FORMS);
        final int run = (int)((c / EOL_NOP_FORMS) % (MAX_OPTIONS + 1));
        final byte[] nops = filled(run, TCPOPT_NOP);
        final byte[] eols = filled(run, TCPOPT_EOL);
        final byte[] crab = crabOptionOf(spec.options, config, r);
        final byte[] options = switch (form)
        {
            case 0 -> nops;
            case 1 -> eols;
            case 2 -> Frames.concat(nops, new byte[] {TCPOPT_EOL}, withoutCrab(spec.options, config));
            case 3 -> Frames.concat(nops, crab, eols);
            case 4 -> Frames.concat(spec.options, eols);
            case 5 -> Frames.concat(mixedEolNop(run, r), crab);
            default -> Frames.concat(new byte[] {TCPOPT_EOL}, filled(run, TCPOPT_NOP), crab);
        };
        m.detail = switch (form)
        {
            case 0 -> run + " NOPs only";
            case 1 -> run + " EOLs only";
            case 2 -> run + " NOPs, EOL, then the options";
            case 3 -> run + " NOPs, the crab option, " + run + " EOLs";
            case 4 -> "the options, then " + run + " EOLs";
            case 5 -> run + " EOLs and NOPs mixed, then the crab option";
            default -> "EOL, " + run + " NOPs, then the crab option";
        };
        return withOptions(spec, options);
    }

    private static byte[] crabOption(final Frames.Tcp spec, final OptionConfig config, final long c,
        final SplittableRandom r, final Mutation m)
    {
        final int form = (int)(c % CRAB_OPTION_FORMS);
        final long rest = c / CRAB_OPTION_FORMS / OptionConfig.values().length;
        final int position = (int)(rest % MAX_OPTIONS);
        final int length = (int)((rest / MAX_OPTIONS) % (MAX_OPTION_LENGTH + 1));
        final byte[] others = withoutCrab(spec.options, config);
        final byte[] ours = crabOptionOf(spec.options, config, r);
        final byte[] options;
        switch (form)
        {
            case 0 ->
            {
                options = Frames.concat(filled(position, TCPOPT_NOP), config.option(length, crabData(ours, config)),
                    others);
                m.detail = "length " + length + " at " + position + " after NOPs";
            }
            case 1 ->
            {
                options = Frames.concat(prefixOf(others, position), config.option(length, crabData(ours, config)));
                m.detail = "length " + length + " at " + position + " after real options";
            }
            case 2 ->
            {
                options = Frames.concat(filled(position, TCPOPT_NOP), config.marker(), others);
                m.detail = "marker at " + position;
            }
            case 3 ->
            {
                final byte[] redirect = (ours[1] & 0xff) != config.markerLength() ? ours : someRedirect(config, r);
                options = Frames.concat(prefixOf(others, position), redirect);
                m.detail = "redirect of length " + (redirect[1] & 0xff) + " at " + position;
            }
            case 4 ->
            {
                final byte[][] pair = {config.marker(), someRedirect(config, r), ours};
                final byte[] first = pair[r.nextInt(pair.length)];
                final byte[] second = pair[r.nextInt(pair.length)];
                options = Frames.concat(filled(position, TCPOPT_NOP), first, prefixOf(others, r.nextInt(8)), second);
                m.detail = "lengths " + (first[1] & 0xff) + " and " + (second[1] & 0xff) + " from " + position;
            }
            default ->
            {
                final byte[] foreign = foreignOption(config, length, r);
                options = Frames.concat(prefixOf(others, position), foreign, ours);
                m.detail = String.format("foreign %d/%02x%02x length %d at %d, then ours", foreign[0] & 0xff,
                    foreign.length > 2 ? foreign[2] & 0xff : 0, foreign.length > 3 ? foreign[3] & 0xff : 0,
                    foreign[1] & 0xff, position);
            }
        }
        return withOptions(spec, options);
    }

    /** The other configuration's option, or ours with a wrong ExID or too short for one. */
    private static byte[] foreignOption(final OptionConfig config, final int length, final SplittableRandom r)
    {
        final int choice = r.nextInt(3);
        if (choice == 0)
        {
            final OptionConfig other = config == OptionConfig.KIND_42 ? OptionConfig.EXPERIMENTAL :
                OptionConfig.KIND_42;
            return other.option(other.redirectLength(false), Pool.VIP_ALL_PORTS);
        }
        final byte[] option = new byte[Math.max(2, Math.min(length, MAX_OPTION_LENGTH))];
        option[0] = (byte)config.kind;
        option[1] = (byte)option.length;
        if (choice == 1 && option.length >= 4)
        {
            final int exid = config.exid ^ (1 + r.nextInt(0xfffe));
            option[2] = (byte)(exid >> 8);
            option[3] = (byte)exid;
        }
        else if (option.length > 2)
        {
            option[2] = (byte)(config.exid >> 8);
        }
        return option;
    }

    private static byte[] doffLie(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        final int tcpAt = ETH_LEN + 20 + spec.ipOptions.length;
        final int doff = (int)(c % 16);
        frame[tcpAt + 12] = (byte)((doff << 4) | (frame[tcpAt + 12] & 0x0f));
        final boolean fixed = r.nextInt(8) != 0;
        if (fixed)
        {
            fixTcpChecksum(frame);
        }
        m.detail = "doff " + doff + " over " + (20 + spec.options.length) + " header bytes" + fixedOrNot(fixed);
        return frame;
    }

    private static byte[] totLenLie(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        byte[] frame = spec.build();
        final int real = frame.length - ETH_LEN;
        final int form = (int)(c % TOT_LEN_FORMS);
        if (form == 4)
        {
            // Ethernet pads frames to 60 bytes: a SYN with only the marker (58 bytes) arrives with 2 more
            final byte[] padding = new byte[1 + r.nextInt(MAX_PADDING)];
            if (r.nextBoolean())
            {
                r.nextBytes(padding);
            }
            m.detail = padding.length + " bytes of padding after a consistent datagram";
            return Frames.concat(frame, padding);
        }
        final int totLen;
        switch (form)
        {
            case 0 -> totLen = Math.max(0, real + (int)((c / TOT_LEN_FORMS) % 81) - 40);
            case 1 ->
            {
                final int[] extremes = {0, 1, 19, 20, 21, 39, 40, 0xffff, real - 1, real + 1};
                totLen = extremes[r.nextInt(extremes.length)];
            }
            case 2 -> totLen = r.nextInt(0x10000);
            default ->
            {
                frame = Arrays.copyOf(frame, ETH_LEN + 20 + r.nextInt(real - 20 + 1));
                totLen = frame.length - ETH_LEN;
            }
        }
        Frames.put16(frame, ETH_LEN + 2, totLen);
        final boolean fixed = r.nextInt(8) != 0;
        if (fixed)
        {
            fixIpChecksum(frame);
            fixTcpChecksum(frame);
        }
        m.detail = (form == 3 ? "cut and consistent: " : "") + "tot_len " + totLen + " for " + real + " bytes" +
            fixedOrNot(fixed);
        return frame;
    }

    private static byte[] ipOptions(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final int ihl = 6 + (int)(c % 10);
        final int optionBytes = (ihl - 5) * 4;
        final int form = (int)((c / 10) % 3);
        if (form == 1)
        {
            final byte[] frame = spec.build();
            frame[ETH_LEN] = (byte)(0x40 | ihl);
            fixIpChecksum(frame);
            m.detail = "ihl " + ihl + " over the same bytes";
            return frame;
        }
        final byte[] options = new byte[optionBytes];
        if (form == 0)
        {
            realIpOptions(options, r);
            m.detail = "ihl " + ihl + " with option " + (options[0] & 0xff);
        }
        else
        {
            for (int i = 0; i < options.length; i++)
            {
                options[i] = (byte)r.nextInt(256);
            }
            m.detail = "ihl " + ihl + " with random option bytes";
        }
        spec.ipOptions = options;
        return spec.build();
    }

    /** Router alert, record route, timestamp, or NOPs up to an EOL: options as routers write them. */
    private static void realIpOptions(final byte[] options, final SplittableRandom r)
    {
        Arrays.fill(options, (byte)TCPOPT_NOP);
        options[options.length - 1] = TCPOPT_EOL;
        switch (r.nextInt(4))
        {
            case 0 ->
            {
                options[0] = (byte)148;
                options[1] = 4;
                options[2] = 0;
                options[3] = 0;
            }
            case 1 ->
            {
                options[0] = 7;
                options[1] = (byte)(options.length - 1);
                options[2] = 4;
                Arrays.fill(options, 3, options.length, (byte)0);
            }
            case 2 ->
            {
                options[0] = 68;
                options[1] = (byte)Math.min(options.length, 40);
                options[2] = 5;
                options[3] = 0;
                Arrays.fill(options, 4, options.length, (byte)0);
            }
            default ->
            {
            }
        }
    }

    private static byte[] ihlShort(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        final int ihl = (int)(c % 5);
        frame[ETH_LEN] = (byte)(0x40 | ihl);
        final boolean fixed = r.nextInt(8) != 0;
        if (fixed)
        {
            Frames.put16(frame, ETH_LEN + 10, 0);
            Frames.put16(frame, ETH_LEN + 10, Packet.checksum(frame, ETH_LEN, 20, 0));
        }
        m.detail = "ihl " + ihl + fixedOrNot(fixed);
        return frame;
    }

    private static byte[] fragment(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final int offset = 1 + r.nextInt(r.nextBoolean() ? 8 : Packet.IP_OFFSET);
        spec.fragOff = switch ((int)(c % 6))
        {
            case 0 -> Packet.IP_MF;
            case 1 -> Packet.IP_MF | offset;
            case 2 -> offset;
            case 3 -> IP_DF | Packet.IP_MF;
            case 4 -> IP_RESERVED | IP_DF;
            default -> r.nextInt(0x10000);
        };
        m.detail = String.format("frag_off 0x%04x", spec.fragOff);
        return spec.build();
    }

    private static byte[] vlan(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        final int form = (int)(c % 3);
        final int[] tpids = switch (form)
        {
            case 0 -> new int[] {ETH_P_8021Q};
            case 1 -> new int[] {ETH_P_8021AD, ETH_P_8021Q};
            default -> new int[] {ETH_P_8021Q, ETH_P_8021Q};
        };
        final byte[] tags = new byte[tpids.length * 4];
        for (int i = 0; i < tpids.length; i++)
        {
            Frames.put16(tags, i * 4, tpids[i]);
            Frames.put16(tags, i * 4 + 2, r.nextInt(0x10000));
        }
        m.detail = tpids.length == 1 ? "802.1Q" : String.format("0x%04x then 0x%04x", tpids[0], tpids[1]);
        return Frames.concat(Arrays.copyOf(frame, 12), tags, Arrays.copyOfRange(frame, 12, frame.length));
    }

    private static byte[] ethertype(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        switch ((int)(c % 6))
        {
            case 0 ->
            {
                m.detail = "IPv6 carrying the TCP segment";
                return ipv6(frame, r);
            }
            case 1 ->
            {
                m.detail = "ARP";
                return arp(frame, r);
            }
            case 2 ->
            {
                final int type = 0x0600 + r.nextInt(0x10000 - 0x0600);
                Frames.put16(frame, 12, type);
                m.detail = String.format("ethertype 0x%04x", type);
            }
            case 3 ->
            {
                final int version = (4 + 1 + r.nextInt(15)) % 16;
                frame[ETH_LEN] = (byte)((version << 4) | (frame[ETH_LEN] & 0x0f));
                fixIpChecksum(frame);
                m.detail = "IP version " + version;
            }
            case 4 ->
            {
                Frames.put16(frame, 12, frame.length - ETH_LEN);
                m.detail = "802.3 length " + (frame.length - ETH_LEN);
            }
            default ->
            {
                Frames.put16(frame, 12, ETH_P_IPV6);
                m.detail = "IPv6 ethertype over IPv4";
            }
        }
        return frame;
    }

    private static byte[] ipv6(final byte[] frame, final SplittableRandom r)
    {
        final int ihl = (frame[ETH_LEN] & 0x0f) * 4;
        final byte[] segment = Arrays.copyOfRange(frame, ETH_LEN + ihl, frame.length);
        final byte[] out = new byte[ETH_LEN + IPV6_HEADER + segment.length];
        System.arraycopy(frame, 0, out, 0, 12);
        Frames.put16(out, 12, ETH_P_IPV6);
        out[ETH_LEN] = 0x60;
        Frames.put16(out, ETH_LEN + 4, segment.length);
        out[ETH_LEN + 6] = (byte)Packet.IPPROTO_TCP;
        out[ETH_LEN + 7] = 64;
        // IPv4-mapped addresses of the frame's own, or random ones
        for (int i = 0; i < 2; i++)
        {
            final int at = ETH_LEN + 8 + i * 16;
            if (r.nextBoolean())
            {
                out[at + 10] = (byte)0xff;
                out[at + 11] = (byte)0xff;
                System.arraycopy(frame, ETH_LEN + 12 + i * 4, out, at + 12, 4);
            }
            else
            {
                for (int b = 0; b < 16; b++)
                {
                    out[at + b] = (byte)r.nextInt(256);
                }
            }
        }
        System.arraycopy(segment, 0, out, ETH_LEN + IPV6_HEADER, segment.length);
        if (segment.length >= 18)
        {
            Frames.put16(out, ETH_LEN + IPV6_HEADER + 16, 0);
            long pseudo = Packet.IPPROTO_TCP + segment.length;
            for (int i = 0; i < 32; i += 2)
            {
                pseudo += Frames.u16(out, ETH_LEN + 8 + i);
            }
            Frames.put16(out, ETH_LEN + IPV6_HEADER + 16,
                Packet.checksum(out, ETH_LEN + IPV6_HEADER, segment.length, pseudo));
        }
        return out;
    }

    private static byte[] arp(final byte[] frame, final SplittableRandom r)
    {
        final byte[] out = new byte[ETH_LEN + 28];
        System.arraycopy(frame, 0, out, 0, 12);
        Frames.put16(out, 12, ETH_P_ARP);
        Frames.put16(out, ETH_LEN, 1);
        Frames.put16(out, ETH_LEN + 2, Packet.ETH_P_IP);
        out[ETH_LEN + 4] = 6;
        out[ETH_LEN + 5] = 4;
        Frames.put16(out, ETH_LEN + 6, 1 + r.nextInt(2));
        System.arraycopy(frame, 6, out, ETH_LEN + 8, 6);
        System.arraycopy(frame, ETH_LEN + 12, out, ETH_LEN + 14, 4);
        System.arraycopy(frame, ETH_LEN + 16, out, ETH_LEN + 24, 4);
        return out;
    }

    private static byte[] protocol(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        switch ((int)(c % 3))
        {
            case 0 ->
            {
                frame[ETH_LEN + 9] = (byte)IPPROTO_UDP;
                fixIpChecksum(frame);
                m.detail = "UDP";
                return frame;
            }
            case 1 ->
            {
                m.detail = "ICMP echo request";
                return icmp(frame, spec.srcIp, spec.dstIp, ICMP_ECHO, 0, new byte[] {0x12, 0x34, 0, 1, 'p', 'i'});
            }
            default ->
            {
                int protocol = r.nextInt(256);
                while (protocol == Packet.IPPROTO_TCP || protocol == Packet.IPPROTO_ICMP)
                {
                    protocol = r.nextInt(256);
                }
                frame[ETH_LEN + 9] = (byte)protocol;
                fixIpChecksum(frame);
                m.detail = "protocol " + protocol;
                return frame;
            }
        }
    }

    /**
     * An error about the frame (or about the frame going the other way, which is what a host sent when the frame
     * is one it receives), sent to the quoted packet's source by a router or by the quoted destination itself.
     */
    private static byte[] icmpError(final Frames.Tcp spec, final long c, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        final int form = (int)(c % ICMP_ERROR_FORMS);
        final long rest = c / ICMP_ERROR_FORMS;
        final boolean reverse = rest % 2 == 0;
        byte[] quoted = Arrays.copyOfRange(reverse ? reversed(frame) : frame, ETH_LEN, frame.length);
        final byte[] header = {0, 0, 0x05, (byte)0xdc};
        int type = ICMP_DEST_UNREACH;
        int code = ICMP_FRAG_NEEDED;
        switch (form)
        {
            case 0 -> m.detail = "fragmentation needed, MTU 1500, quoting it whole";
            case 1 ->
            {
                type = (int)((rest / 2) % 256);
                code = r.nextInt(16);
                quoted = Arrays.copyOf(quoted, Math.min(quoted.length, (quoted[0] & 0x0f) * 4 + 8));
                m.detail = "type " + type + " code " + code + " quoting header and 8 bytes";
            }
            case 2 ->
            {
                quoted = Arrays.copyOf(quoted, (int)((rest / 2) % (quoted.length + 1)));
                m.detail = "fragmentation needed quoting " + quoted.length + " bytes";
            }
            default ->
            {
                m.detail = "fragmentation needed quoting a header with " + lie(quoted, (int)(rest / 2), r);
            }
        }
        final boolean fromRouter = r.nextBoolean() || quoted.length < 20;
        final byte[] src = fromRouter ? Pool.ROUTER : Arrays.copyOfRange(quoted, 16, 20);
        final byte[] dst = quoted.length < 16 ? spec.srcIp : Arrays.copyOfRange(quoted, 12, 16);
        final byte[] out = icmp(frame, src, dst, type, code, Frames.concat(header, quoted));
        final boolean fixed = r.nextInt(8) != 0;
        if (!fixed)
        {
            out[ETH_LEN + 22] ^= (byte)(1 + r.nextInt(0xfe));
        }
        m.detail += (reverse ? ", the frame reversed" : ", the frame as it is") + ", from " +
            (fromRouter ? "a router" : "the quoted destination") + (fixed ? "" : ", ICMP checksum wrong");
        return out;
    }

    /** Makes the quoted IPv4 header say something untrue, case by case; returns what. */
    private static String lie(final byte[] quoted, final int lie, final SplittableRandom r)
    {
        switch (lie % 5)
        {
            case 0 ->
            {
                final int ihl = (lie / 5) % 16;
                quoted[0] = (byte)(0x40 | ihl);
                return "ihl " + ihl;
            }
            case 1 ->
            {
                final int totLen = r.nextInt(0x10000);
                Frames.put16(quoted, 2, totLen);
                return "tot_len " + totLen;
            }
            case 2 ->
            {
                final int fragOff = r.nextBoolean() ? Packet.IP_MF : 1 + r.nextInt(Packet.IP_OFFSET);
                Frames.put16(quoted, 6, fragOff);
                return String.format("frag_off 0x%04x", fragOff);
            }
            case 3 ->
            {
                quoted[9] = (byte)IPPROTO_UDP;
                return "protocol UDP";
            }
            default ->
            {
                quoted[10] ^= (byte)(1 + r.nextInt(0xfe));
                return "a wrong checksum";
            }
        }
    }

    /** The frame with MACs, addresses and ports swapped: what travels the other way on the same flow. */
    private static byte[] reversed(final byte[] frame)
    {
        final byte[] out = frame.clone();
        System.arraycopy(frame, 0, out, 6, 6);
        System.arraycopy(frame, 6, out, 0, 6);
        System.arraycopy(frame, ETH_LEN + 12, out, ETH_LEN + 16, 4);
        System.arraycopy(frame, ETH_LEN + 16, out, ETH_LEN + 12, 4);
        final int tcpAt = ETH_LEN + (frame[ETH_LEN] & 0x0f) * 4;
        System.arraycopy(frame, tcpAt, out, tcpAt + 2, 2);
        System.arraycopy(frame, tcpAt + 2, out, tcpAt, 2);
        fixIpChecksum(out);
        fixTcpChecksum(out);
        return out;
    }

    /** An IPv4 ICMP message of type and code whose data (after the checksum) is {@code rest}; checksums valid. */
    private static byte[] icmp(final byte[] frame, final byte[] src, final byte[] dst, final int type, final int code,
        final byte[] rest)
    {
        final byte[] out = new byte[ETH_LEN + 20 + 4 + rest.length];
        System.arraycopy(frame, 0, out, 0, ETH_LEN);
        out[ETH_LEN] = 0x45;
        out[ETH_LEN + 1] = (byte)0xc0;
        Frames.put16(out, ETH_LEN + 2, out.length - ETH_LEN);
        out[ETH_LEN + 8] = 64;
        out[ETH_LEN + 9] = (byte)Packet.IPPROTO_ICMP;
        System.arraycopy(src, 0, out, ETH_LEN + 12, 4);
        System.arraycopy(dst, 0, out, ETH_LEN + 16, 4);
        out[ETH_LEN + 20] = (byte)type;
        out[ETH_LEN + 21] = (byte)code;
        System.arraycopy(rest, 0, out, ETH_LEN + 24, rest.length);
        Frames.put16(out, ETH_LEN + 22, Packet.checksum(out, ETH_LEN + 20, 4 + rest.length, 0));
        fixIpChecksum(out);
        return out;
    }

    private static byte[] tcpFlags(final Frames.Tcp spec, final long c, final Mutation m)
    {
        spec.flags = (int)(c % TCP_FLAG_COMBINATIONS);
        final int reserved = (int)((c / TCP_FLAG_COMBINATIONS) % RESERVED_BIT_VALUES);
        final byte[] frame = spec.build();
        final int tcpAt = ETH_LEN + 20 + spec.ipOptions.length;
        frame[tcpAt + 12] = (byte)((frame[tcpAt + 12] & 0xf0) | reserved);
        fixTcpChecksum(frame);
        m.detail = String.format("flags 0x%02x, reserved bits 0x%x", spec.flags, reserved);
        return frame;
    }

    private static byte[] badChecksum(final Frames.Tcp spec, final long c, final SplittableRandom r,
        final Mutation m)
    {
        final byte[] frame = spec.build();
        final int form = (int)(c % 3);
        // never 0xffff: x ^ 0xffff is the one's-complement equivalent of x, a checksum as good as the right one
        if (form != 1)
        {
            final int at = ETH_LEN + 10;
            Frames.put16(frame, at, Frames.u16(frame, at) ^ (1 + r.nextInt(0xfffe)));
        }
        if (form != 0)
        {
            final int at = ETH_LEN + 20 + spec.ipOptions.length + 16;
            Frames.put16(frame, at, Frames.u16(frame, at) ^ (1 + r.nextInt(0xfffe)));
        }
        m.detail = form == 0 ? "IPv4 header checksum" : form == 1 ? "TCP checksum" : "both checksums";
        return frame;
    }

    private static byte[] bitFlips(final Frames.Tcp spec, final SplittableRandom r, final Mutation m)
    {
        final byte[] frame = spec.build();
        final int flips = 1 + r.nextInt(8);
        final StringBuilder detail = new StringBuilder();
        for (int i = 0; i < flips; i++)
        {
            final int at = r.nextInt(Math.min(frame.length, FLIP_REGION));
            if (r.nextBoolean())
            {
                frame[at] ^= (byte)(1 << r.nextInt(8));
            }
            else
            {
                frame[at] = (byte)r.nextInt(256);
            }
            detail.append(i == 0 ? "at " : ",").append(at);
        }
        final boolean fixed = r.nextBoolean();
        if (fixed)
        {
            fixIpChecksum(frame);
            fixTcpChecksum(frame);
        }
        m.detail = detail + fixedOrNot(fixed);
        return frame;
    }

    private static byte[] randomBytes(final Frames.Tcp spec, final long c, final SplittableRandom r,
        final Mutation m)
    {
        final int form = (int)(c % 3);
        if (form == 0)
        {
            final byte[] frame = new byte[r.nextInt(RANDOM_MAX + 1)];
            r.nextBytes(frame);
            m.detail = frame.length + " random bytes";
            return frame;
        }
        final byte[] valid = spec.build();
        final int keep = form == 1 ? ETH_LEN + 20 : ETH_LEN + 20 + 4;
        final byte[] frame = Arrays.copyOf(valid, keep + r.nextInt(RANDOM_MAX - keep + 1));
        for (int i = keep; i < frame.length; i++)
        {
            frame[i] = (byte)r.nextInt(256);
        }
        final boolean consistent = r.nextBoolean();
        if (consistent)
        {
            Frames.put16(frame, ETH_LEN + 2, frame.length - ETH_LEN);
            fixIpChecksum(frame);
            fixTcpChecksum(frame);
        }
        m.detail = (frame.length - keep) + " random bytes after " + (form == 1 ? "the IP header" : "the ports") +
            (consistent ? ", tot_len and checksums fitted" : "");
        return frame;
    }

    /** Replaces the spec's TCP options: at most 40 bytes (longer lists are cut), NOP-padded to 4. */
    private static byte[] withOptions(final Frames.Tcp spec, final byte[] options)
    {
        final byte[] cut = options.length > MAX_OPTIONS ? Arrays.copyOf(options, MAX_OPTIONS) : options;
        spec.options = OptionConfig.padded(cut);
        return spec.build();
    }

    /** Offsets where an option can be inserted: the start, after each whole option, and the end. */
    private static int[] boundaries(final byte[] options)
    {
        final int[] out = new int[options.length + 1];
        int count = 0;
        int at = 0;
        out[count++] = 0;
        while (at < options.length)
        {
            final int kind = options[at] & 0xff;
            final int length = kind == TCPOPT_EOL || kind == TCPOPT_NOP || at + 1 >= options.length ? 1 :
                Math.max(2, options[at + 1] & 0xff);
            at = Math.min(options.length, at + length);
            out[count++] = at;
        }
        return Arrays.copyOf(out, count);
    }

    /** The first option of the configured kind in a list, else a marker or a redirect chosen at random. */
    private static byte[] crabOptionOf(final byte[] options, final OptionConfig config, final SplittableRandom r)
    {
        final int[] bounds = boundaries(options);
        for (int i = 0; i + 1 < bounds.length; i++)
        {
            final int at = bounds[i];
            if (bounds[i + 1] - at >= 2 && config.isOurs(options, at, bounds[i + 1] - at))
            {
                return Arrays.copyOfRange(options, at, bounds[i + 1]);
            }
        }
        return r.nextBoolean() ? config.marker() : someRedirect(config, r);
    }

    /** The options without the configured kind's, so a family can put its own where it wants. */
    private static byte[] withoutCrab(final byte[] options, final OptionConfig config)
    {
        final int[] bounds = boundaries(options);
        byte[] out = new byte[0];
        for (int i = 0; i + 1 < bounds.length; i++)
        {
            final int at = bounds[i];
            final int length = bounds[i + 1] - at;
            if (length < 2 || !config.isOurs(options, at, length))
            {
                out = Frames.concat(out, Arrays.copyOfRange(options, at, bounds[i + 1]));
            }
        }
        return out;
    }

    /** The data of an option of the configured kind (after kind, length and ExID): a VIP, maybe its port. */
    private static byte[] crabData(final byte[] option, final OptionConfig config)
    {
        final int from = config.headerLength();
        final byte[] data = option.length > from ? Arrays.copyOfRange(option, from, option.length) : new byte[0];
        return data.length >= 4 ? data : Frames.concat(Pool.VIP_ALL_PORTS, new byte[] {0, (byte)Pool.VIP_PORT});
    }

    private static byte[] someRedirect(final OptionConfig config, final SplittableRandom r)
    {
        return r.nextBoolean() ? config.redirect(Pool.VIP_ALL_PORTS, -1) :
            config.redirect(Pool.VIP_PORT_80, Pool.VIP_PORT);
    }

    /** The whole options of a list that fit in {@code length} bytes, NOP-filled to exactly that length. */
    private static byte[] prefixOf(final byte[] options, final int length)
    {
        final int[] bounds = boundaries(options);
        int end = 0;
        for (final int bound : bounds)
        {
            if (bound <= length)
            {
                end = bound;
            }
        }
        return Frames.concat(Arrays.copyOf(options, end), filled(length - end, TCPOPT_NOP));
    }

    private static byte[] mixedEolNop(final int length, final SplittableRandom r)
    {
        final byte[] out = new byte[length];
        for (int i = 0; i < length; i++)
        {
            out[i] = (byte)(r.nextBoolean() ? TCPOPT_NOP : TCPOPT_EOL);
        }
        return out;
    }

    private static byte[] filled(final int length, final int value)
    {
        final byte[] out = new byte[length];
        Arrays.fill(out, (byte)value);
        return out;
    }

    private static String fixedOrNot(final boolean fixed)
    {
        return fixed ? ", checksums fixed" : ", checksums left";
    }

    /** The IPv4 header checksum of a frame whose header is all there (ihl of 5 or more); else left. */
    private static void fixIpChecksum(final byte[] frame)
    {
        final int ihl = frame.length > ETH_LEN ? (frame[ETH_LEN] & 0x0f) * 4 : 0;
        if (ihl >= 20 && ETH_LEN + ihl <= frame.length)
        {
            Frames.put16(frame, ETH_LEN + 10, 0);
            Frames.put16(frame, ETH_LEN + 10, Packet.checksum(frame, ETH_LEN, ihl, 0));
        }
    }

    /** The TCP checksum over the segment the total length says, when it is in the frame; else left. */
    private static void fixTcpChecksum(final byte[] frame)
    {
        final int ihl = frame.length > ETH_LEN ? (frame[ETH_LEN] & 0x0f) * 4 : 0;
        if (ihl < 20 || ETH_LEN + ihl > frame.length)
        {
            return;
        }
        final int segment = Frames.u16(frame, ETH_LEN + 2) - ihl;
        final int at = ETH_LEN + ihl;
        if (segment >= 18 && at + segment <= frame.length)
        {
            Frames.put16(frame, at + 16, 0);
            Frames.put16(frame, at + 16,
                Packet.checksum(frame, at, segment,
                    Packet.pseudoHeaderSum(frame, ETH_LEN, Packet.IPPROTO_TCP, segment)));
        }
    }

    /** A 64-bit finaliser (the SplitMix64 one), so frame seeds of neighbouring indexes share nothing. */
    private static long mix64(final long value)
    {
        long z = value;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}

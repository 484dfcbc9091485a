package io.crab.lb.xdp;

import io.crab.agent.ConfigException;
import io.crab.agent.Interfaces;
import io.crab.agent.Log;
import io.crab.agent.PinnedDatapath;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfException;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.XdpMode;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * crab-lb's XDP program on its interface, as the kernel has it: the facts an {@link XdpPlan} is decided from, the
 * plan carried out on the pinned link, and the mode it runs in for {@code crab-lb status}.
 */
public final class XdpAttachment
{
    /** The name of the XDP link in the data path's pin directory. */
    public static final String LINK = "xdp";
    /** {@link #describe} of a program on no XDP hook of the interface. */
    private static final String NONE = "none";

    private static final int EBUSY = 16;
    private static final int EEXIST = 17;
    private static final int EOPNOTSUPP = 95;

    private XdpAttachment()
    {
    }

    /** What {@link XdpPlan#decide} needs to know of the interface {@code ifindex} and the data path in pinDir. */
    public static XdpPlan.Facts facts(final Path pinDir, final int ifindex)
    {
        final LinkInfo link = RtLinks.link(ifindex);
        return new XdpPlan.Facts(running(pinDir, link), peer(link));
    }

    /**
     * The mode in which the link pinned in {@code pinDir} runs its program on the interface {@code link}; empty when
     * there is no such link or it no longer runs there (the interface was deleted and made again).
     */
    public static Optional<XdpMode> running(final Path pinDir, final LinkInfo link)
    {
        final Path pin = PinnedDatapath.linkPin(pinDir, LINK);
        if (!Files.exists(pin))
        {
            return Optional.empty();
        }
        final int programId;
        try (BpfLink pinned = Bpf.openPinnedLink(pin))
        {
            programId = pinned.programId();
        }
        if (programId != 0 && programId == link.nativeXdpProgramId())
        {
            return Optional.of(XdpMode.NATIVE);
        }
        if (programId != 0 && programId == link.genericXdpProgramId())
        {
            return Optional.of(XdpMode.GENERIC);
        }
        return Optional.empty();
    }

    /**
     * How {@code crab-lb status} names the mode of the program the link pinned in {@code pinDir} runs on
     * {@code iface}: {@code native}, {@code generic}, or {@code none} when it runs on no XDP hook of it.
     */
    public static String describe(final Path pinDir, final String iface)
    {
        final int ifindex;
        try
        {
            ifindex = Interfaces.ifindex(iface);
        }
        catch (final ConfigException gone)
        {
            return NONE;
        }
        return running(pinDir, RtLinks.link(ifindex)).map(XdpMode::word).orElse(NONE);
    }

    /** The veth peer of {@code link}, and whether it has a native XDP program; {@link XdpPlan.Peer#NOT_A_VETH}. */
    public static XdpPlan.Peer peer(final LinkInfo link)
    {
        if (!link.isVeth())
        {
            return XdpPlan.Peer.NOT_A_VETH;
        }
        final String where = link.linkInSameNamespace() ? "in this namespace" : "in another namespace";
        try
        {
            final LinkInfo peer = RtLinks.link(link.linkIfindex(), link.linkNetnsId());
            return new XdpPlan.Peer(peer.nativeXdpProgramId() != 0 ? XdpPlan.PeerState.NATIVE_PROGRAM :
                XdpPlan.PeerState.NO_NATIVE_PROGRAM, peer.name() + ", ifindex " + peer.ifindex() + ", " + where);
        }
        catch (final RtLinks.RtLinkException ex)
        {
            return new XdpPlan.Peer(XdpPlan.PeerState.UNKNOWN, "ifindex " + link.linkIfindex() + ", " + where +
                ": " + ex.getMessage());
        }
    }

    /**
     * Carries out {@code plan}: puts {@code program} on the XDP link of {@code datapath} on the interface, in the
     * first of the plan's modes that attaches, replacing the running attachment if the plan says so, and logs the
     * plan's notes. Returns the mode it runs in, as the kernel reports it afterwards. If
     * a replacement cannot attach, the program is attached again in the old mode before the failure is thrown.
     */
    public static XdpMode attach(final XdpPlan plan, final PinnedDatapath datapath, final BpfProgram program,
        final String iface, final int ifindex, final Log log)
    {
        plan.notes().forEach(note -> log.event(note.level(), note.message(), null, "iface", iface));
        if (plan.replaces().isPresent())
        {
            final XdpMode old = plan.replaces().get();
            final XdpMode mode = plan.modes().get(0);
            datapath.detachLink(LINK);
            try
            {
                attachIn(mode, datapath, program, ifindex);
                return runningNow(datapath, ifindex);
            }
            catch (final BpfException ex)
            {
                try
                {
                    attachIn(old, datapath, program, ifindex);
                }
                catch (final BpfException again)
                {
                    throw refused(mode, iface, ex, "; attaching it in " + old.word() + " mode again failed too, so " +
                        "no XDP program of crab-lb runs on " + iface + ": " + again.getMessage());
                }
                throw refused(mode, iface, ex, " (crab-lb's program runs in " + old.word() + " mode again)");
            }
        }
        for (int i = 0; ; i++)
        {
            final XdpMode mode = plan.modes().get(i);
            try
            {
                attachIn(mode, datapath, program, ifindex);
                return runningNow(datapath, ifindex);
            }
            catch (final BpfException ex)
            {
                final boolean another = ex.errno() == EBUSY || ex.errno() == EEXIST;
                if (i + 1 == plan.modes().size() || another)
                {
                    throw refused(mode, iface, ex, "");
                }
                log.info(iface + " refused XDP in " + mode.word() + " mode (" + ex.getMessage() + "), so XDP runs in " +
                    plan.modes().get(i + 1).word() + " mode", "iface", iface, "xdp_mode", plan.modes().get(i + 1).word());
            }
        }
    }

    /**
     * Tells the program its mode (lb_xdp_mode, whose one writer this is), then puts it on the link: attached in
     * {@code mode} if there is none, swapped into the running one (which has that mode) if there is.
     */
    private static void attachIn(final XdpMode mode, final PinnedDatapath datapath, final BpfProgram program,
        final int ifindex)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Integer.BYTES]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Integer.BYTES]);
        value.putInt(0, mode.code());
        datapath.object().map(Abi.Maps.LB_XDP_MODE).update(key, value, BpfMap.UPDATE_ANY);
        datapath.attach(LINK, program, p -> p.attachXdp(ifindex, mode));
    }

    private static XdpMode runningNow(final PinnedDatapath datapath, final int ifindex)
    {
        return running(datapath.dir(), RtLinks.link(ifindex)).orElseThrow(() -> new IllegalStateException(
            "crab-lb's XDP link pinned in " + datapath.dir() + " runs on no XDP hook of ifindex " + ifindex));
    }

    /** A driver without native XDP is the operator's to know: a usage error, as the veth case is. */
    private static RuntimeException refused(final XdpMode mode, final String iface, final BpfException ex,
        final String after)
    {
        if (mode == XdpMode.NATIVE && ex.errno() == EOPNOTSUPP)
        {
            return new ConfigException("--xdp-mode native: the driver of " + iface + " has no native XDP; use " +
                "--xdp-mode generic or auto" + after);
        }
        return new BpfException(ex.getMessage() + after, ex.errno());
    }
}

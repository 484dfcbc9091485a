package io.crab.lb.xdp;

import io.crab.agent.ConfigException;
import io.crab.agent.Log;
import io.crab.bpf.XdpMode;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How crab-lb puts its XDP program on the interface: the modes to try in order (the first that attaches wins),
 * whether the running attachment is replaced, and what to tell the operator about a choice they did not spell out.
 * Decided from {@code --xdp-mode} and what the kernel says, before anything is changed; {@link #decide} is the whole
 * rule and touches nothing.
 * <p>
 * The rule: a veth sends a frame that native XDP transmits (XDP_TX) to its peer only if the peer has a native XDP
 * program too, and drops it otherwise, without a word. Generic XDP transmits through the veth's ordinary path and
 * needs nothing of the peer. So on a veth whose peer has no native XDP program, auto takes generic and native is
 * refused. A running attachment keeps its mode under auto, unless it is that broken case; a mode asked for that
 * differs from the running one replaces it, since the kernel never changes a link's mode nor runs native and generic
 * programs on one device at once.
 *
 * @param modes    the modes to attach in, in order; one mode when nothing is left to chance
 * @param replaces the mode of the running attachment if it goes first (it has another mode), else empty
 * @param notes    events for the log explaining the choice, if any
 */
public record XdpPlan(List<XdpMode> modes, Optional<XdpMode> replaces, List<Note> notes)
{
    private static final String REATTACH = "the kernel cannot change a running attachment's mode, so it is " +
        "detached and attached again, and SYNs arriving in between are served by the hashing fallback";

    /** One event for the log: a choice explained (info), or a risk crab-lb cannot rule out (warn). */
    public record Note(Log.Level level, String message)
    {
    }

    /** What the kernel says: the mode of crab-lb's running attachment on the interface, and the veth peer's XDP. */
    public record Facts(Optional<XdpMode> running, Peer peer)
    {
    }

    /**
     * The other end of a veth, as far as native XDP_TX cares.
     *
     * @param state       whether there is one and whether it has a native XDP program
     * @param description how to name it to the operator, e.g. {@code veth-lb, ifindex 7, in another namespace},
     *                    and for {@link PeerState#UNKNOWN} why it could not be read
     */
    public record Peer(PeerState state, String description)
    {
        public static final Peer NOT_A_VETH = new Peer(PeerState.NOT_A_VETH, "");
    }

    public enum PeerState
    {
        /** The interface is no veth: its driver transmits native XDP frames itself, if it has native XDP at all. */
        NOT_A_VETH,
        /** A veth whose peer has a native XDP program: native XDP_TX reaches the peer. */
        NATIVE_PROGRAM,
        /** A veth whose peer has no native XDP program (none, or only a generic one): native XDP_TX is dropped. */
        NO_NATIVE_PROGRAM,
        /** A veth whose peer could not be asked (its namespace is out of reach). */
        UNKNOWN
    }

    public static XdpPlan decide(final XdpModeOption asked, final String iface, final Facts facts)
    {
        final Peer peer = facts.peer();
        final Optional<XdpMode> running = facts.running();
        final boolean txDropped = peer.state() == PeerState.NO_NATIVE_PROGRAM;
        final String veth = iface + " is a veth whose peer (" + peer.description() + ") " +
            (txDropped ? "has no native XDP program" : "cannot be asked whether it has a native XDP program");
        switch (asked)
        {
            case NATIVE ->
            {
                if (txDropped)
                {
                    throw new ConfigException("--xdp-mode native: " + veth + ", so the veth would drop every SYN " +
                        "crab-lb sends back out; attach an XDP program to the peer in native mode (one that passes " +
                        "every frame will do), or use --xdp-mode generic or auto");
                }
                return onto(XdpMode.NATIVE, running, iface, peer.state() == PeerState.UNKNOWN ?
                    List.of(new Note(Log.Level.WARN, veth + "; without one, the veth drops every SYN crab-lb sends " +
                        "back out")) : List.of());
            }
            case GENERIC ->
            {
                return onto(XdpMode.GENERIC, running, iface, List.of());
            }
            default ->
            {
                if (running.isPresent())
                {
                    if (running.get() == XdpMode.NATIVE && txDropped)
                    {
                        return new XdpPlan(List.of(XdpMode.GENERIC), running, List.of(new Note(Log.Level.INFO,
                            "moving XDP on " + iface + " from native to generic mode: " + veth + ", so the veth " +
                            "dropped every SYN crab-lb sent back out; " + REATTACH)));
                    }
                    return new XdpPlan(List.of(running.get()), Optional.empty(), List.of());
                }
                if (txDropped || peer.state() == PeerState.UNKNOWN)
                {
                    return new XdpPlan(List.of(XdpMode.GENERIC), Optional.empty(), List.of(new Note(Log.Level.INFO,
                        "XDP in generic mode: " + veth + ", and in native mode the veth would drop every SYN crab-lb " +
                        "sends back out without one; for native mode, attach an XDP program to the peer in native " +
                        "mode and start crab-lb with --xdp-mode native")));
                }
                return new XdpPlan(List.of(XdpMode.NATIVE, XdpMode.GENERIC), Optional.empty(), List.of());
            }
        }
    }

    /** Attaching in {@code mode}: over the running attachment if it has that mode, else replacing it. */
    private static XdpPlan onto(final XdpMode mode, final Optional<XdpMode> running, final String iface,
        final List<Note> notes)
    {
        if (running.isEmpty() || running.get() == mode)
        {
            return new XdpPlan(List.of(mode), Optional.empty(), notes);
        }
        final List<Note> all = new ArrayList<>(notes);
        all.add(new Note(Log.Level.INFO, "moving XDP on " + iface + " from " + running.get().word() + " to " +
            mode.word() + " mode, as --xdp-mode asks: " + REATTACH));
        return new XdpPlan(List.of(mode), running, List.copyOf(all));
    }
}

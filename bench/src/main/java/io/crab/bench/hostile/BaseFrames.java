package io.crab.bench.hostile;

import io.crab.bpf.frames.Frames;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.FIN;
import static io.crab.bpf.frames.Frames.LINUX_SYN_OPTIONS;
import static io.crab.bpf.frames.Frames.PSH;
import static io.crab.bpf.frames.Frames.RST;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.concat;

/**
 * The valid frames each program's campaign mutates, one list per program: what that program meets on the wire when
 * all goes well, aimed at the flows of {@link Pool} so that the mutations reach its deep paths.
 */
final class BaseFrames
{
    /** What Linux puts in a SYN-ACK: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
    static final byte[] LINUX_SYNACK_OPTIONS = {
        2, 4, 0x05, (byte)0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1, 1, 3, 3, 7,
    };
    /** NOP, NOP, timestamps: what Linux puts in a data segment. */
    static final byte[] DATA_OPTIONS = {1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 9};
    private static final byte[] PAYLOAD = {'h', 'e', 'l', 'l', 'o', '\n'};
    /** Client ports of LB frames: few enough that SYNs repeat, so retransmissions (same ISN) happen too. */
    private static final int LB_PORTS = 16;
    private static final int LB_FIRST_PORT = 40001;

    private BaseFrames()
    {
    }

    /**
     * A valid frame the campaign starts from.
     *
     * @param name  what it is, for reports
     * @param build the frame for an option configuration; may use the random source to vary ports or flows
     */
    record Base(String name, BiFunction<OptionConfig, SplittableRandom, Frames.Tcp> build)
    {
    }

    /** What reaches the LB: client SYNs to each kind of VIP, marked or not, and packets that are no new SYN. */
    static final List<Base> LB = List.of(
        new Base("marked SYN to the all-ports VIP", (c, r) -> lbSyn(c, r, Pool.VIP_ALL_PORTS, anyPort(r), true)),
        new Base("marked SYN with no other option", (c, r) ->
        {
            final Frames.Tcp syn = lbSyn(c, r, Pool.VIP_ALL_PORTS, Pool.VIP_PORT, true);
            syn.options = c.marker();
            return syn;
        }),
        new Base("marked SYN to the port-80 VIP", (c, r) -> lbSyn(c, r, Pool.VIP_PORT_80, Pool.VIP_PORT, true)),
        new Base("unmarked SYN to the redirect-unmarked VIP",
            (c, r) -> lbSyn(c, r, Pool.VIP_UNMARKED, Pool.VIP_PORT, false)),
        new Base("unmarked SYN to the all-ports VIP",
            (c, r) -> lbSyn(c, r, Pool.VIP_ALL_PORTS, Pool.VIP_PORT, false)),
        new Base("marked SYN to the VIP without backends",
            (c, r) -> lbSyn(c, r, Pool.VIP_NO_BACKEND, Pool.VIP_PORT, true)),
        new Base("marked SYN to the VIP without a route",
            (c, r) -> lbSyn(c, r, Pool.VIP_NO_ROUTE, Pool.VIP_PORT, true)),
        new Base("marked SYN to no VIP", (c, r) -> lbSyn(c, r, Pool.NOT_A_VIP, Pool.VIP_PORT, true)),
        new Base("ACK to the all-ports VIP", (c, r) ->
        {
            final Frames.Tcp ack = lbSyn(c, r, Pool.VIP_ALL_PORTS, Pool.VIP_PORT, false);
            return data(ack, ACK | PSH);
        }));

    /**
     * What a client without crab sends the LB's fallback: SYNs (without the marker) and data to the VIP, some for
     * the connections the fixture knows, to the VIP without backends, and to no VIP.
     */
    static final List<Base> LB_FALLBACK = List.of(
        new Base("SYN to the all-ports VIP", (c, r) -> lbSyn(c, r, Pool.VIP_ALL_PORTS, anyPort(r), false)),
        new Base("ACK to the all-ports VIP", (c, r) -> data(lbSyn(c, r, Pool.VIP_ALL_PORTS, Pool.VIP_PORT, false),
            ACK | PSH)),
        new Base("FIN to the all-ports VIP", (c, r) -> data(lbSyn(c, r, Pool.VIP_ALL_PORTS, Pool.VIP_PORT, false),
            ACK | FIN)),
        new Base("SYN to the VIP without backends", (c, r) -> lbSyn(c, r, Pool.VIP_NO_BACKEND, Pool.VIP_PORT, false)),
        new Base("SYN to no VIP", (c, r) -> lbSyn(c, r, Pool.NOT_A_VIP, Pool.VIP_PORT, false)));

    /** What the client sends: SYNs to VIPs, data on redirected flows, SYNs that collide with them. */
    static final List<Base> CLIENT_EGRESS = List.of(
        new Base("SYN to a VIP", (c, r) ->
        {
            final Pool.Flow flow = any(r, Pool.FLOWS);
            return clientSyn(flow.vip(), flow.vipPort(), r.nextInt(4) == 0 ? newPort(r) : flow.clientPort(),
                flow.isn());
        }),
        new Base("data on a redirected flow", (c, r) -> data(toVip(any(r, Pool.REDIRECTED_FLOWS)), ACK | PSH)),
        new Base("FIN or RST on a redirected flow", (c, r) ->
            withoutPayload(data(toVip(any(r, Pool.REDIRECTED_FLOWS)), r.nextBoolean() ? FIN | ACK : RST | ACK))),
        new Base("SYN to a backend on a redirected flow's wire tuple", (c, r) ->
        {
            final Pool.Flow flow = any(r, Pool.REDIRECTED_FLOWS);
            return clientSyn(flow.dip(), flow.dipPort(), flow.clientPort(), 77_000);
        }),
        new Base("data on a pending flow", (c, r) -> data(toVip(any(r, Pool.PENDING_FLOWS)), ACK | PSH)),
        new Base("data to no VIP", (c, r) ->
        {
            final Frames.Tcp tcp = toVip(Pool.REDIRECTED);
            tcp.dstIp = Pool.NOT_A_VIP;
            return data(tcp, ACK | PSH);
        }));

    /** What the client receives: SYN-ACKs redirecting its flows (or not), and backends' data. */
    static final List<Base> CLIENT_INGRESS = List.of(
        new Base("SYN-ACK redirecting a pending flow", (c, r) ->
        {
            // from DIP2 too: PENDING may go there, PENDING_PORTED's VIP allows only DIP1
            final Pool.Flow flow = any(r, Pool.PENDING_FLOWS);
            final Frames.Tcp synAck =
                synAckFrom(flow, concat(LINUX_SYNACK_OPTIONS, c.redirect(flow.vip(), flow.optionPort())));
            if (r.nextBoolean())
            {
                synAck.srcIp = Pool.DIP2;
                synAck.srcMac = Pool.DIP2_MAC;
            }
            return synAck;
        }),
        new Base("SYN-ACK again on a redirected flow", (c, r) ->
        {
            final Pool.Flow flow = any(r, Pool.REDIRECTED_FLOWS);
            return synAckFrom(flow, concat(LINUX_SYNACK_OPTIONS, c.redirect(flow.vip(), flow.optionPort())));
        }),
        new Base("SYN-ACK naming a VIP not configured", (c, r) ->
            synAckFrom(Pool.PENDING, concat(LINUX_SYNACK_OPTIONS, c.redirect(Pool.NOT_A_VIP, -1)))),
        new Base("SYN-ACK without the option", (c, r) -> synAckFrom(any(r, Pool.FLOWS), LINUX_SYNACK_OPTIONS)),
        new Base("RST from the VIP to a pending flow", (c, r) ->
        {
            final Pool.Flow flow = any(r, Pool.PENDING_FLOWS);
            final Frames.Tcp rst = fromDip(flow);
            rst.srcIp = flow.vip();
            rst.srcPort = flow.vipPort();
            rst.srcMac = Pool.LB_MAC;
            rst.seq = 0;
            rst.flags = RST | ACK;
            rst.options = new byte[0];
            return rst;
        }),
        new Base("data from a redirected flow's backend", (c, r) -> data(fromDip(any(r, Pool.REDIRECTED_FLOWS)),
            ACK | PSH)),
        new Base("FIN or RST from a redirected flow's backend", (c, r) -> withoutPayload(
            data(fromDip(any(r, Pool.REDIRECTED_FLOWS)), r.nextBoolean() ? FIN | ACK : RST | ACK))));

    /** What a backend receives: SYNs the LB redirected, with the option, and plain ones. */
    static final List<Base> SERVER_INGRESS = List.of(
        new Base("redirected SYN with the option", (c, r) ->
        {
            final Pool.Flow flow = any(r, Pool.FLOWS);
            return redirectedSyn(flow, c.redirect(flow.vip(), flow.optionPort()));
        }),
        new Base("SYN without the option", (c, r) -> redirectedSyn(any(r, Pool.FLOWS), new byte[0])),
        new Base("data from a client", (c, r) -> data(redirectedSyn(any(r, Pool.FLOWS), new byte[0]), ACK | PSH)));

    /** What a backend sends: SYN-ACKs to echo the option in, to tuples it has no echo for, and data. */
    static final List<Base> SERVER_EGRESS = List.of(
        new Base("SYN-ACK of a redirected SYN", (c, r) ->
            serverSynAck(any(r, List.of(Pool.PENDING, Pool.PENDING_PORTED, Pool.EXPIRED)))),
        new Base("SYN-ACK of a SYN without the option", (c, r) -> serverSynAck(any(r, Pool.REDIRECTED_FLOWS))),
        new Base("data to a client", (c, r) -> data(serverSynAck(any(r, Pool.FLOWS)), ACK | PSH)));

    /** The ISN of an LB frame's client port; one more is a new connection on the same tuple. */
    static long lbIsn(final int port)
    {
        return port * 1000L;
    }

    private static Frames.Tcp lbSyn(final OptionConfig config, final SplittableRandom random, final byte[] vip,
        final int port, final boolean marked)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = Pool.LB_MAC;
        syn.srcMac = Pool.CLIENT_MAC;
        syn.srcIp = Pool.CLIENT;
        syn.dstIp = vip;
        syn.srcPort = LB_FIRST_PORT + random.nextInt(LB_PORTS);
        syn.dstPort = port;
        syn.seq = lbIsn(syn.srcPort) + random.nextInt(2);
        syn.options = marked ? concat(LINUX_SYN_OPTIONS, config.marker()) : LINUX_SYN_OPTIONS.clone();
        return syn;
    }

    private static Frames.Tcp clientSyn(final byte[] dst, final int dstPort, final int srcPort, final long isn)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.dstMac = Pool.LB_MAC;
        syn.srcMac = Pool.CLIENT_MAC;
        syn.srcIp = Pool.CLIENT;
        syn.dstIp = dst;
        syn.srcPort = srcPort;
        syn.dstPort = dstPort;
        syn.seq = isn;
        syn.options = LINUX_SYN_OPTIONS.clone();
        return syn;
    }

    /** The client's segment of a flow as its socket sends it: to the VIP. */
    private static Frames.Tcp toVip(final Pool.Flow flow)
    {
        final Frames.Tcp tcp = clientSyn(flow.vip(), flow.vipPort(), flow.clientPort(), flow.isn());
        tcp.ack = Pool.SERVER_ISN + 1;
        return tcp;
    }

    /** The backend's segment of a flow as it reaches the client: from the backend. */
    private static Frames.Tcp fromDip(final Pool.Flow flow)
    {
        final Frames.Tcp tcp = new Frames.Tcp();
        tcp.dstMac = Pool.CLIENT_MAC;
        tcp.srcMac = flow.dipMac();
        tcp.srcIp = flow.dip();
        tcp.dstIp = Pool.CLIENT;
        tcp.srcPort = flow.dipPort();
        tcp.dstPort = flow.clientPort();
        tcp.seq = Pool.SERVER_ISN;
        tcp.ack = flow.isn() + 1;
        return tcp;
    }

    private static Frames.Tcp synAckFrom(final Pool.Flow flow, final byte[] options)
    {
        final Frames.Tcp synAck = fromDip(flow);
        synAck.flags = SYN | ACK;
        synAck.window = 65160;
        synAck.options = options;
        return synAck;
    }

    /** The client's SYN as the LB forwards it to the backend: the option right after the fixed header. */
    private static Frames.Tcp redirectedSyn(final Pool.Flow flow, final byte[] option)
    {
        final Frames.Tcp syn = clientSyn(flow.dip(), flow.dipPort(), flow.clientPort(), flow.isn());
        syn.dstMac = flow.dipMac();
        syn.srcMac = Pool.LB_MAC;
        syn.options = concat(option, LINUX_SYN_OPTIONS);
        return syn;
    }

    /** The backend's SYN-ACK as it leaves the backend, towards its gateway. */
    private static Frames.Tcp serverSynAck(final Pool.Flow flow)
    {
        final Frames.Tcp synAck = synAckFrom(flow, LINUX_SYNACK_OPTIONS.clone());
        synAck.dstMac = Pool.LB_MAC;
        return synAck;
    }

    /** The segment after the handshake on the same tuple: the flags given, timestamps, a payload. */
    private static Frames.Tcp data(final Frames.Tcp tcp, final int flags)
    {
        tcp.flags = flags;
        tcp.seq += 1;
        tcp.window = 502;
        tcp.options = DATA_OPTIONS.clone();
        tcp.payload = PAYLOAD.clone();
        return tcp;
    }

    private static Frames.Tcp withoutPayload(final Frames.Tcp tcp)
    {
        tcp.payload = new byte[0];
        return tcp;
    }

    private static int anyPort(final SplittableRandom random)
    {
        return random.nextInt(4) == 0 ? 1 + random.nextInt(65535) : Pool.VIP_PORT;
    }

    private static int newPort(final SplittableRandom random)
    {
        return Pool.NEW_PORTS[random.nextInt(Pool.NEW_PORTS.length)];
    }

    private static <T> T any(final SplittableRandom random, final List<T> from)
    {
        return from.get(random.nextInt(from.size()));
    }
}

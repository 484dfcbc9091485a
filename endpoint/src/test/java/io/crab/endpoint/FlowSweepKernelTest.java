package io.crab.endpoint;

import io.crab.agent.Log;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.ScratchNamespace.Connection;
import io.crab.endpoint.ScratchNamespace.Stack;
import io.crab.rig.Shell;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.util.List;

import static io.crab.endpoint.EndpointAgent.PENDING_TIMEOUT_NS;
import static io.crab.endpoint.ScratchNamespace.ipv4;
import static io.crab.endpoint.SocketDiag.TCP_TIME_WAIT;
import static io.crab.endpoint.SocketDiag.stateMask;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The client agent's sweep against real sockets: flows planted in the maps of a loaded client_tc, for connections
 * on 127.0.0.1 of a namespace of the test's own. The programs sit on a veth that carries none of that traffic, so
 * the planted flows rewrite nothing.
 */
@ExtendWith(KernelRequired.class)
class FlowSweepKernelTest
{
    private static final String IFACE = "crab0";
    private static final long SECOND_NS = 1_000_000_000L;
    private static final long OLD_NS = 10 * SECOND_NS;
    private static final int LOOPBACK = 0x7F000001;
    /** Where planted redirected flows say their backend is; no socket ever talks to it. */
    private static final int BACKEND = 0x7F000002;
    private static final int BACKEND_PORT = 8080;
    private static final int DISCARD_PORT = 9;

    private final UnsafeBuffer flowKey = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
    private final UnsafeBuffer flow = new UnsafeBuffer(new byte[Abi.Flow.SIZE]);
    private final UnsafeBuffer rflow = new UnsafeBuffer(new byte[8]);

    @Test
    void flowsGoTwoSweepsAfterTheirSocketClosedOrEnteredTimeWaitAndLiveOnesStay() throws Exception
    {
        try (ScratchNamespace namespace = ScratchNamespace.create())
        {
            final String name = namespace.netns().name();
            Shell.run("ip", "-n", name, "link", "add", IFACE, "type", "veth", "peer", "name", "crab1");
            // Java finds an interface of a thread's namespace only by an IPv4 address (SIOCGIFCONF).
            Shell.run("ip", "-n", name, "addr", "add", "192.0.2.1/24", "dev", IFACE);
            final EndpointAgent agent = new EndpointAgent(EndpointContext.client(IFACE, OptionKind.DEFAULT,
                List.of("198.19.0.1"), List.of(), EndpointContext.MIN_FLOW_TABLE_SIZE), new SystemNanoClock(),
                SystemEpochClock.INSTANCE,
                new Log("test", Log.Format.TEXT, false, new PrintWriter(Writer.nullWriter()), SystemEpochClock.INSTANCE));
            namespace.netns().run(agent::onStart);
            try (ServerSocketChannel listener = namespace.listen(Stack.DUAL_STACK);
                Connection live = namespace.connect(Stack.DUAL_STACK, listener);
                Connection connecting = namespace.connect(Stack.DUAL_STACK, listener);
                Connection neverRedirected = namespace.connect(Stack.DUAL_STACK, listener);
                Connection closed = namespace.connect(Stack.DUAL_STACK, listener))
            {
                final BpfMap flows = agent.map("flows");
                final BpfMap rflows = agent.map("rflows");
                final long now = System.nanoTime();
                plantFlow(flows, rflows, live, Abi.Consts.CRAB_FLOW_REDIRECTED, now - OLD_NS);
                // Pending flows are judged by their socket too. An established socket stands in for a connecting
                // one here: SYN_SENT is as live a state to the dump.
                plantFlow(flows, rflows, connecting, Abi.Consts.CRAB_FLOW_PENDING, now - OLD_NS);
                plantFlow(flows, rflows, neverRedirected, Abi.Consts.CRAB_FLOW_PENDING, now - PENDING_TIMEOUT_NS - 1);
                plantFlow(flows, rflows, closed, Abi.Consts.CRAB_FLOW_REDIRECTED, now - OLD_NS);
                final int noSocketPort = 1;
                plantFlow(flows, rflows, noSocketPort, Abi.Consts.CRAB_FLOW_PENDING, now - OLD_NS);
                // Stamped after the first sweep's dump began: its socket may have been hashed after the dump
                // passed its bucket, so that sweep must not judge it.
                final int youngPort = 2;
                plantFlow(flows, rflows, youngPort, Abi.Consts.CRAB_FLOW_REDIRECTED, now + SECOND_NS / 2);

                final long closedKey = closed.clientKey();
                closed.close();
                awaitTimeWait(namespace, closedKey);

                assertEquals(1, agent.sweepFlows(now), "the pending flow past its SYN retries, live socket or not");
                assertFalse(hasFlow(flows, neverRedirected.clientKey()));
                assertTrue(hasFlow(flows, closedKey), "TIME_WAIT missed once: kept");

                assertEquals(2, agent.sweepFlows(now + SECOND_NS), "TIME_WAIT and the socketless pending flow");
                assertFalse(hasFlow(flows, closedKey));
                assertFalse(hasRflow(rflows, closedKey), "its reverse entry with it");
                assertFalse(hasFlow(flows, socketlessKey(noSocketPort)));

                assertTrue(hasFlow(flows, socketlessKey(youngPort)), "the young flow, missed once");
                assertEquals(1, agent.sweepFlows(now + 2 * SECOND_NS), "the young flow, missed twice");
                assertFalse(hasFlow(flows, socketlessKey(youngPort)));
                assertEquals(2, flowCount(flows));
                assertTrue(hasFlow(flows, live.clientKey()) && hasRflow(rflows, live.clientKey()), "live flow");
                assertTrue(hasFlow(flows, connecting.clientKey()), "pending flow with a live socket");
            }
            finally
            {
                // The pins are named after the namespace, so they are found and removed from inside it.
                namespace.netns().run(() ->
                {
                    agent.onClose();
                    PinnedDatapath.detach(EndpointAgent.pinDir(EndpointAgent.Role.CLIENT, IFACE));
                });
            }
        }
    }

    /** Plants a flow for the client end of {@code connection}, as the TC programs would have. */
    private void plantFlow(
        final BpfMap flows, final BpfMap rflows, final Connection connection, final int state, final long createdNs)
        throws IOException
    {
        final InetSocketAddress local = (InetSocketAddress)connection.client().getLocalAddress();
        final InetSocketAddress remote = (InetSocketAddress)connection.client().getRemoteAddress();
        plantFlow(flows, rflows, ipv4(local), local.getPort(), ipv4(remote), remote.getPort(), state, createdNs);
    }

    /** Plants a flow for 127.0.0.1:{@code localPort} to the discard port, a tuple no socket of the test has. */
    private void plantFlow(
        final BpfMap flows, final BpfMap rflows, final int localPort, final int state, final long createdNs)
    {
        plantFlow(flows, rflows, LOOPBACK, localPort, LOOPBACK, DISCARD_PORT, state, createdNs);
    }

    private void plantFlow(
        final BpfMap flows,
        final BpfMap rflows,
        final int localAddr,
        final int localPort,
        final int remoteAddr,
        final int remotePort,
        final int state,
        final long createdNs)
    {
        putFlowKey(localAddr, localPort, remoteAddr, remotePort);
        flow.setMemory(0, Abi.Flow.SIZE, (byte)0);
        flow.putLong(Abi.Flow.CREATED_NS, createdNs, ByteOrder.nativeOrder());
        flow.putInt(Abi.Flow.PEER_ADDR, BACKEND, ByteOrder.BIG_ENDIAN);
        flow.putShort(Abi.Flow.PEER_PORT, (short)BACKEND_PORT, ByteOrder.BIG_ENDIAN);
        flow.putByte(Abi.Flow.STATE, (byte)state);
        flows.update(flowKey, flow, BpfMap.UPDATE_ANY);
        if (state == Abi.Consts.CRAB_FLOW_REDIRECTED)
        {
            putFlowKey(localAddr, localPort, BACKEND, BACKEND_PORT);
            rflow.setMemory(0, rflow.capacity(), (byte)0);
            rflow.putInt(0, remoteAddr, ByteOrder.BIG_ENDIAN);
            rflow.putShort(4, (short)remotePort, ByteOrder.BIG_ENDIAN);
            rflows.update(flowKey, rflow, BpfMap.UPDATE_ANY);
        }
    }

    private void putFlowKey(final int localAddr, final int localPort, final int remoteAddr, final int remotePort)
    {
        flowKey.putInt(Abi.FlowKey.LOCAL_ADDR, localAddr, ByteOrder.BIG_ENDIAN);
        flowKey.putInt(Abi.FlowKey.REMOTE_ADDR, remoteAddr, ByteOrder.BIG_ENDIAN);
        flowKey.putShort(Abi.FlowKey.LOCAL_PORT, (short)localPort, ByteOrder.BIG_ENDIAN);
        flowKey.putShort(Abi.FlowKey.REMOTE_PORT, (short)remotePort, ByteOrder.BIG_ENDIAN);
    }

    /** Whether a flow whose tuple has this socket key is in the table. */
    private boolean hasFlow(final BpfMap flows, final long socketKey)
    {
        return findFlow(flows, socketKey, false);
    }

    /** Whether a reverse flow for the flow whose tuple has this socket key is in the table. */
    private boolean hasRflow(final BpfMap rflows, final long socketKey)
    {
        return findFlow(rflows, socketKey, true);
    }

    private boolean findFlow(final BpfMap map, final long socketKey, final boolean reverse)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[map.valueBufferSize()]);
        boolean more = map.nextKey(null, key);
        while (more)
        {
            final int localAddr = key.getInt(Abi.FlowKey.LOCAL_ADDR, ByteOrder.BIG_ENDIAN);
            final int localPort = key.getShort(Abi.FlowKey.LOCAL_PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
            int remoteAddr = key.getInt(Abi.FlowKey.REMOTE_ADDR, ByteOrder.BIG_ENDIAN);
            int remotePort = key.getShort(Abi.FlowKey.REMOTE_PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
            if (reverse && map.lookup(key, value))
            {
                remoteAddr = value.getInt(0, ByteOrder.BIG_ENDIAN);
                remotePort = value.getShort(4, ByteOrder.BIG_ENDIAN) & 0xffff;
            }
            if (SocketDiag.key(localAddr, localPort, remoteAddr, remotePort) == socketKey)
            {
                return true;
            }
            more = map.nextKey(key, key);
        }
        return false;
    }

    private static int flowCount(final BpfMap flows)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
        int count = 0;
        boolean more = flows.nextKey(null, key);
        while (more)
        {
            count++;
            more = flows.nextKey(key, key);
        }
        return count;
    }

    private static long socketlessKey(final int localPort)
    {
        return SocketDiag.key(LOOPBACK, localPort, LOOPBACK, DISCARD_PORT);
    }

    private static void awaitTimeWait(final ScratchNamespace namespace, final long socketKey)
        throws InterruptedException
    {
        final LongHashSet timeWait = new LongHashSet();
        try (SocketDiag socketDiag = namespace.netns().call(SocketDiag::open))
        {
            final long deadline = System.nanoTime() + 5 * SECOND_NS;
            while (true)
            {
                socketDiag.dump(stateMask(TCP_TIME_WAIT), timeWait);
                if (timeWait.contains(socketKey))
                {
                    return;
                }
                if (System.nanoTime() > deadline)
                {
                    fail("the closed connection's client end never reached TIME_WAIT");
                }
                Thread.sleep(1);
            }
        }
    }
}

package io.crab.lb;

import io.crab.agent.DutyCycleErrors;
import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.agent.feedback.LoadReport;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfObject;
import io.crab.bpf.Counters;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.Netns;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Shell;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.CachedNanoClock;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiver on a real socket in a namespace of the test's own, writing the LB object's maps: a backend's report
 * lands in backend_loads, anyone else's is counted and changes nothing, silent backends are rebased, and with its
 * own thread and selector a report is applied within about a millisecond.
 */
@ExtendWith(KernelRequired.class)
class FeedbackReceiverTest
{
    private static final int PORT = 4750;
    private static final String OTHER_ADDRESS = "198.18.7.7";

    private final CachedNanoClock clock = new CachedNanoClock();
    private String namespace;
    private Netns netns;
    private BpfObject obj;
    private Path pins;
    private PinnedMap loads;
    private PinnedMap counters;
    private FeedbackReceiver receiver;
    private DatagramChannel backend;
    private DatagramChannel stranger;

    @BeforeEach
    void namespaceObjectAndSockets() throws Exception
    {
        namespace = "crab-fb-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
        Shell.run("ip", "netns", "add", namespace);
        netns = Netns.named(namespace);
        Shell.run("ip", "-n", namespace, "link", "set", "lo", "up");
        Shell.run("ip", "-n", namespace, "addr", "add", OTHER_ADDRESS + "/32", "dev", "lo");
        final LbContext.Limits limits = new LbContext.Limits(4, 16, 32, 65537, 4096, 4096);
        obj = Bpf.load("lb_xdp", new LoadOptions(limits.mapSizes(), null));
        // A map handle's scratch buffers serve one thread: the test reads through handles of its own.
        pins = Files.createDirectories(Path.of("/sys/fs/bpf", namespace));
        obj.map(Abi.Maps.BACKEND_LOADS).pin(pins.resolve(Abi.Maps.BACKEND_LOADS).toString());
        obj.map(Abi.Maps.FEEDBACK_COUNTERS).pin(pins.resolve(Abi.Maps.FEEDBACK_COUNTERS).toString());
        loads = Bpf.openPinnedMap(pins.resolve(Abi.Maps.BACKEND_LOADS).toString());
        counters = Bpf.openPinnedMap(pins.resolve(Abi.Maps.FEEDBACK_COUNTERS).toString());
        backend = netns.call(() -> sender("127.0.0.1"));
        stranger = netns.call(() -> sender(OTHER_ADDRESS));
    }

    @AfterEach
    void closeAll() throws Exception
    {
        try
        {
            if (receiver != null)
            {
                receiver.onClose();
            }
            backend.close();
            stranger.close();
            loads.close();
            counters.close();
            obj.close();
        }
        finally
        {
            try (var pinned = Files.list(pins))
            {
                for (final Path pin : pinned.toList())
                {
                    Files.delete(pin);
                }
            }
            Files.delete(pins);
            Shell.run("ip", "netns", "del", namespace);
        }
    }

    @Test
    void aBackendsReportLandsInItsLoadAndAStrangersChangesNothing() throws Exception
    {
        start(clock);
        clock.update(1_000_000_000L);
        receiver.publish(Map.of(HostPort.parse("127.0.0.1:8080"), 3, HostPort.parse("127.0.0.1"), 4));
        receiver.doWork();

        sendAndSettle(stranger, 8080, 50);
        receiver.doWork();
        assertEquals(0, load(3)[1], "the stranger's report");
        assertEquals(1, counter(Abi.Consts.CRAB_FBK_REFUSED_SOURCE));

        sendAndSettle(backend, 8080, 5, 80, 2);
        receiver.doWork();
        assertEquals(5, load(3)[1]);
        assertEquals(1_000_000_000L, load(3)[2], "stamped with the receiver's clock");
        assertEquals(2, load(4)[1], "127.0.0.1 serves the VIP's port: port 80 is its");
        assertEquals(1, counter(Abi.Consts.CRAB_FBK_ACCEPTED));
        assertEquals(2, counter(Abi.Consts.CRAB_FBK_LOADS_SET));

        clock.advance(BackendLoads.STALE_AFTER_NS + FeedbackReceiver.REBASE_INTERVAL_NS);
        receiver.doWork();
        assertEquals(5, load(3)[1], "no report for 250 ms: rebased to its last load, plus what the LB gave it since");
        assertEquals(2, counter(Abi.Consts.CRAB_FBK_STALE_REBASED));
    }

    @Test
    void onItsOwnThreadAReportIsAppliedWithinAboutAMillisecond() throws Exception
    {
        start(new SystemNanoClock());
        receiver.publish(Map.of(HostPort.parse("127.0.0.1:8080"), 3));
        final StringWriter log = new StringWriter();
        try (AgentRunner runner = new AgentRunner(receiver.idleStrategy(),
            new DutyCycleErrors(new Log("test", Log.Format.TEXT, true, new PrintWriter(log), SystemEpochClock.INSTANCE),
                new SystemNanoClock()), null, receiver))
        {
            AgentRunner.startOnThread(runner);
            Thread.sleep(50);
            final long[] latencies = new long[50];
            for (int load = 1; load <= 50; load++)
            {
                final long start = System.nanoTime();
                send(backend, 8080, load);
                while (load(3)[1] != load)
                {
                    assertTrue(System.nanoTime() - start < 1_000_000_000L, "report " + load + " applied within a second " +
                        "at worst; accepted " + counter(Abi.Consts.CRAB_FBK_ACCEPTED) + ", old " +
                        counter(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP) + ", log " + log);
                    Thread.onSpinWait();
                }
                latencies[load - 1] = System.nanoTime() - start;
                Thread.sleep(5);
            }
            java.util.Arrays.sort(latencies);
            System.out.printf("FeedbackReceiverTest: 50 reports applied in %.3f ms (median), %.3f ms (worst), " +
                "sent to seen in the map%n", latencies[25] / 1e6, latencies[49] / 1e6);
            assertTrue(latencies[25] < 2_000_000L, "the selector wakes the receiver, it does not wait out its " +
                "20 ms: median " + latencies[25] + " ns");
        }
        receiver = null;
        assertEquals("", log.toString());
    }

    private void start(final org.agrona.concurrent.NanoClock receiverClock)
    {
        receiver = netns.call(() -> new FeedbackReceiver(LbContext.Feedback.DEFAULT, new BackendLoads(obj,
            receiverClock), new AgentCounters(obj.map(Abi.Maps.FEEDBACK_COUNTERS), Abi.Consts.CRAB_FBK_COUNTER_MAX),
            receiverClock, SystemEpochClock.INSTANCE));
        receiver.onStart();
    }

    private static DatagramChannel sender(final String address) throws Exception
    {
        final DatagramChannel channel = DatagramChannel.open(StandardProtocolFamily.INET);
        channel.bind(new InetSocketAddress(InetAddress.getByName(address), 0));
        return channel;
    }

    private void send(final DatagramChannel from, final int... portLoads) throws Exception
    {
        final LoadReport.Writer writer = new LoadReport.Writer(null);
        writer.begin(System.nanoTime() / 1000);
        for (int i = 0; i < portLoads.length; i += 2)
        {
            writer.add(portLoads[i], portLoads[i + 1]);
        }
        final int sender = HostPort.ipv4Bits(((InetSocketAddress)from.getLocalAddress()).getAddress());
        from.send(ByteBuffer.wrap(writer.bytes(), 0, writer.finish(sender)), new InetSocketAddress("127.0.0.1", PORT));
    }

    /** Sends, and gives loopback's softirq a moment to queue the datagram on the receiver's socket. */
    private void sendAndSettle(final DatagramChannel from, final int... portLoads) throws Exception
    {
        send(from, portLoads);
        Thread.sleep(5);
    }

    /** base, load and reported_ns of a backend id. */
    private long[] load(final int id)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.BackendLoad.SIZE]);
        key.putInt(0, id);
        loads.lookup(key, value);
        return new long[] {value.getLong(Abi.BackendLoad.BASE), value.getLong(Abi.BackendLoad.LOAD),
            value.getLong(Abi.BackendLoad.REPORTED_NS)};
    }

    private long counter(final int index)
    {
        return new Counters(counters).sum(index);
    }
}

package io.crab.lb;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.LoadOptions;
import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reader of crab-lb's pinned maps against maps the agent's own {@link ServiceTables} filled, pinned in a
 * directory of the test's: per-CPU counters summed, gauges that follow the configuration, a backend under two ids
 * read as one, and an unchanged configuration read again without allocating.
 */
@ExtendWith(KernelRequired.class)
class LbStateReaderTest
{
    private static final HostPort VIP = HostPort.parse("198.19.0.1:80");
    private static final HostPort S1 = HostPort.parse("198.18.0.101");
    private static final HostPort S2 = HostPort.parse("198.18.0.102:8080");
    private static final HostPort S3 = HostPort.parse("198.18.0.103");

    private BpfObject obj;
    private ServiceTables tables;
    private Path pins;
    private LbStateReader reader;

    @BeforeEach
    void loadAndPin() throws Exception
    {
        final LbContext.Limits limits = new LbContext.Limits(4, 16, 32, 251, 4096, 4096);
        obj = Bpf.load("lb_xdp", new LoadOptions(limits.mapSizes(), null));
        tables = new ServiceTables(obj, limits.services(), limits.backends(), limits.slots(), limits.maglevSize());
        pins = Files.createDirectories(Path.of("/sys/fs/bpf",
            "crab-reader-" + Integer.toHexString(ThreadLocalRandom.current().nextInt())));
        for (final String map : Abi.Maps.LB_XDP)
        {
            obj.map(map).pin(pins.resolve(map).toString());
        }
    }

    @AfterEach
    void closeAndUnpin() throws Exception
    {
        try
        {
            if (reader != null)
            {
                reader.close();
            }
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
        }
    }

    @Test
    void countersAreSummedOverCpusAndEachBackendAndServiceHasItsGauges()
    {
        publish("web", backend(S1, 2, BackendState.ACTIVE), backend(S2, 1, BackendState.ACTIVE),
            backend(S3, 1, BackendState.DRAINING));
        final int cpus = Bpf.possibleCpus();
        perCpu(Abi.Maps.LB_COUNTERS, Abi.Consts.CRAB_LB_TX_REDIRECT, 1);
        perCpu(Abi.Maps.LB_COUNTERS, Abi.Consts.CRAB_LB_AFFINITY_HIT, 3);
        perCpu(Abi.Maps.BACKEND_SYNS, id(S1), 10);
        perCpu(Abi.Maps.BACKEND_SYNS, id(S2), 100);
        perCpu(Abi.Maps.BACKEND_FALLBACKS, id(S3), 1000);
        plain(Abi.Maps.FEEDBACK_COUNTERS, Abi.Consts.CRAB_FBK_ACCEPTED, 9);
        plain(Abi.Maps.BACKEND_ASSIGNED, id(S1), 2);
        report(id(S1), 4, 1, System.nanoTime() - 1_500_000_000L);

        reader = LbStateReader.open(pins);
        reader.read();
        final MetricRegistry registry = reader.registry();
        final long sum = (long)cpus * (cpus + 1) / 2;
        assertEquals(sum, gauge(registry, "crab.lb.packets.tx_redirect"), cpus + " CPUs, CPU c counted c + 1");
        assertEquals(0L, gauge(registry, "crab.lb.packets.pass_not_syn"));
        assertEquals(3 * sum, gauge(registry, "crab.lb.affinity.hit"), "an event of the same map, in a group of its own");
        assertEquals(0L, gauge(registry, "crab.lb.affinity.new"));
        assertFalse(registry.getGauges().keySet().stream().anyMatch(n -> n.startsWith("crab.lb.packets.affinity")),
            "not among the verdicts, which add up to the packets seen");
        assertEquals(0, gauge(registry, "crab.service.web.affinity_s"));
        assertEquals(10 * sum, gauge(registry, "crab.lb.backend.198.18.0.101.syns"));
        assertEquals(100 * sum, gauge(registry, "crab.lb.backend.198.18.0.102:8080.syns"));
        assertEquals(1000 * sum, gauge(registry, "crab.lb.backend.198.18.0.103.fallbacks"));
        assertEquals(9L, gauge(registry, "crab.lb.feedback.accepted"));
        assertEquals(1, gauge(registry, "crab.lb.backend.198.18.0.101.up"));
        assertEquals(0, gauge(registry, "crab.lb.backend.198.18.0.103.up"), "draining: no new connections");
        assertEquals(4L, gauge(registry, "crab.lb.backend.198.18.0.101.load"));
        assertEquals(3L, gauge(registry, "crab.lb.backend.198.18.0.101.estimate"), "base 1 + 2 given since");
        final long age = (Long)gauge(registry, "crab.lb.backend.198.18.0.101.report_age_ms");
        assertTrue(age >= 1500 && age < 60_000, "reported 1.5 s ago: " + age);
        assertEquals(-1L, gauge(registry, "crab.lb.backend.198.18.0.103.report_age_ms"), "never reported");
        assertEquals("198.19.0.1:80", gauge(registry, "crab.service.web.vip"));
        assertEquals("rr", gauge(registry, "crab.service.web.policy"));
        assertEquals(2, gauge(registry, "crab.service.web.backends"));
        assertEquals(110 * sum, gauge(registry, "crab.service.web.syns"), "the SYNs of the backends in its table");
        assertEquals(2, gauge(registry, "crab.service.web.weight.198.18.0.101"));
        assertEquals(1, gauge(registry, "crab.service.web.weight.198.18.0.102:8080"));
        assertFalse(registry.getGauges().containsKey("crab.service.web.weight.198.18.0.103"), "not in the table");

        perCpu(Abi.Maps.LB_COUNTERS, Abi.Consts.CRAB_LB_TX_REDIRECT, 2);
        reader.read();
        assertEquals(2 * sum, gauge(registry, "crab.lb.packets.tx_redirect"), "the same gauges, read again");
    }

    @Test
    void gaugesFollowTheConfigurationAndABackendUnderTwoIdsIsOne()
    {
        publish("web", backend(S1, 1, BackendState.ACTIVE), backend(S2, 1, BackendState.ACTIVE));
        final int firstId = id(S2);
        perCpu(Abi.Maps.BACKEND_SYNS, firstId, 3);
        reader = LbStateReader.open(pins);
        reader.read();
        final MetricRegistry registry = reader.registry();

        publish("web", backend(S1, 1, BackendState.ACTIVE));
        publish("web", backend(S1, 1, BackendState.ACTIVE), backend(S2, 1, BackendState.ACTIVE));
        final int secondId = id(S2);
        assertTrue(secondId != firstId, "removed and added back in the next publication: a new id, the old one " +
            "still carrying its address");
        perCpu(Abi.Maps.BACKEND_SYNS, secondId, 4);
        reader.read();
        final long sum = (long)Bpf.possibleCpus() * (Bpf.possibleCpus() + 1) / 2;
        assertEquals(7 * sum, gauge(registry, "crab.lb.backend.198.18.0.102:8080.syns"), "both ids' SYNs");
        assertEquals(1, gauge(registry, "crab.lb.backend.198.18.0.102:8080.up"), "up under its new id");

        publish("www", backend(S1, 1, BackendState.ACTIVE), backend(S3, 1, BackendState.ACTIVE));
        reader.read();
        assertTrue(registry.getGauges((name, m) -> name.startsWith("crab.service.web.")).isEmpty(),
            "the renamed service's gauges went: " + registry.getNames());
        assertEquals(1, gauge(registry, "crab.service.www.weight.198.18.0.103"));
        assertFalse(registry.getGauges().containsKey("crab.service.www.weight.198.18.0.102:8080"));
        assertEquals("198.19.0.1:80", gauge(registry, "crab.service.www.vip"));
    }

    @Test
    void anUnchangedConfigurationIsReadAgainWithoutAllocatingPerBackend()
    {
        final BackendConfig[] many = new BackendConfig[12];
        for (int i = 0; i < many.length; i++)
        {
            many[i] = backend(HostPort.parse("198.18.0." + (101 + i) + ":8080"), 1, BackendState.ACTIVE);
        }
        publish("web", many);
        reader = LbStateReader.open(pins);
        for (int i = 0; i < 20_000; i++)
        {
            reader.read();
        }
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final long before = threads.getCurrentThreadAllocatedBytes();
        final int reads = 1000;
        for (int i = 0; i < reads; i++)
        {
            reader.read();
        }
        final long perRead = (threads.getCurrentThreadAllocatedBytes() - before) / reads;
        assertTrue(perRead < 256, "12 backends read without their names or gauges made again: " + perRead +
            " bytes per read");
    }

    private void publish(final String service, final BackendConfig... backends)
    {
        tables.publish(new LbConfig(List.of(new ServiceConfig(service, VIP, Policy.RR, false, List.of(backends), 1))),
            b -> b.state() == BackendState.ACTIVE, t -> true, t -> true);
    }

    private static BackendConfig backend(final HostPort target, final int weight, final BackendState state)
    {
        return new BackendConfig(target, weight, state, 1);
    }

    private int id(final HostPort backend)
    {
        return tables.backendIds().get(backend);
    }

    /** Sets a per-CPU counter: CPU c counts {@code unit * (c + 1)}. */
    private void perCpu(final String map, final int index, final long unit)
    {
        final BpfMap m = obj.map(map);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[m.valueBufferSize()]);
        for (int cpu = 0; cpu < m.valueBufferSize() / 8; cpu++)
        {
            value.putLong(cpu * 8, unit * (cpu + 1), ByteOrder.nativeOrder());
        }
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        key.putInt(0, index);
        m.update(key, value, BpfMap.UPDATE_ANY);
    }

    private void plain(final String map, final int index, final long n)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        key.putInt(0, index);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[8]);
        value.putLong(0, n);
        obj.map(map).update(key, value, BpfMap.UPDATE_ANY);
    }

    private void report(final int id, final long load, final long base, final long reportedNs)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        key.putInt(0, id);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[obj.map(Abi.Maps.BACKEND_LOADS).valueBufferSize()]);
        value.putLong(Abi.BackendLoad.BASE, base);
        value.putLong(Abi.BackendLoad.LOAD, load);
        value.putLong(Abi.BackendLoad.REPORTED_NS, reportedNs);
        obj.map(Abi.Maps.BACKEND_LOADS).update(key, value, BpfMap.UPDATE_ANY);
    }

    private static Object gauge(final MetricRegistry registry, final String name)
    {
        final Gauge<?> gauge = registry.getGauges().get(name);
        assertTrue(gauge != null, "no " + name + " in " + registry.getNames());
        return gauge.getValue();
    }
}

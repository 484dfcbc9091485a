package io.crab.bench;

import io.crab.bench.BenchRunner.Attribution;
import io.crab.bench.BenchRunner.Measured;
import io.crab.bench.BenchRunner.Outcome;
import io.crab.bench.modes.BenchMode;
import io.crab.bench.modes.LbCpuMeter;
import io.crab.bench.results.ModeResult;
import io.crab.bench.traffic.Histograms;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the bench turns the latency rounds' counters and the LB CPU runs into each mode's per-connection figures. */
class LbCpuFiguresTest
{
    private static final BenchMode CRAB = mode("crab", "XDP", "");
    private static final BenchMode HAPROXY = mode("haproxy", "", "haproxy");

    @Test
    void lbCpuComesFromTheLbCpuRunAndBpfTimeFromTheLatencyRounds()
    {
        // Latency rounds: 2,000 connections, 2 ms of XDP run time. LB CPU run: 1,000 connections, 5 ms of polls.
        final Measured measured = new Measured(
            Map.of("crab", Map.of(Workload.CRR, outcome("crab", 2_000, 2_000_000))),
            Map.of("crab", attribution("crab", 1_000, new LbCpuMeter.Reading(5_000_000, 1_000, 0, 0), PathCheck.OK)));

        final ModeResult crab = CrabBench.toResults(measured, List.of(CRAB)).get(0);

        assertEquals(5_000.0, crab.lbCpuNsPerConnection().getAsDouble(), 1e-9);
        assertEquals("kernel", crab.cpuSource());
        assertEquals(1_000.0, crab.bpfNsPerConnection().getAsDouble(), 1e-9);
        assertEquals("XDP", crab.bpfPrograms());
        assertFalse(crab.isRefused(), crab.pathCheck());
    }

    @Test
    void aProxysOwnTimeAddsToItsPollsWithoutTheSoftirqsThatRanInIt()
    {
        // Polls 40 ms; haproxy ran 100 ms, 30 ms of which were softirqs; 1,000 connections.
        final Measured measured = new Measured(
            Map.of("haproxy", Map.of(Workload.CRR, outcome("haproxy", 1_000, 0))),
            Map.of("haproxy", attribution("haproxy", 1_000,
                new LbCpuMeter.Reading(40_000_000, 10_000, 100_000_000, 30_000_000), PathCheck.OK)));

        final ModeResult haproxy = CrabBench.toResults(measured, List.of(HAPROXY)).get(0);

        assertEquals(110_000.0, haproxy.lbCpuNsPerConnection().getAsDouble(), 1e-9);
        assertEquals("kernel + haproxy", haproxy.cpuSource());
        assertTrue(haproxy.bpfNsPerConnection().isEmpty(), "crab's programs do not serve haproxy");
    }

    @Test
    void aFailedLbCpuRunRefusesTheMode()
    {
        final Measured measured = new Measured(
            Map.of("crab", Map.of(Workload.CRR, outcome("crab", 2_000, 2_000_000))),
            Map.of("crab", attribution("crab", 1_000, new LbCpuMeter.Reading(0, 0, 0, 0), "3 requests failed")));

        final ModeResult crab = CrabBench.toResults(measured, List.of(CRAB)).get(0);

        assertTrue(crab.isRefused());
        assertEquals("{LB CPU run=3 requests failed}", crab.pathCheck());
    }

    @Test
    void crabLbsShareIsItsCpuOverTheWallTimeOfAllLbCpuRuns()
    {
        final Measured measured = new Measured(Map.of(), Map.of(
            "crab", new Attribution(crr("crab", 10), new LbCpuMeter.Reading(0, 0, 0, 0), PathCheck.OK, 20_000_000,
                1_000_000_000),
            "haproxy", new Attribution(crr("haproxy", 10), new LbCpuMeter.Reading(0, 0, 0, 0), PathCheck.OK,
                10_000_000, 2_000_000_000)));

        assertEquals(0.01, CrabBench.lbAgentCpuShare(measured).getAsDouble(), 1e-12);
        assertTrue(CrabBench.lbAgentCpuShare(new Measured(Map.of(), Map.of())).isEmpty());
    }

    private static Outcome outcome(final String mode, final long transactions, final long bpfNs)
    {
        return new Outcome(crr(mode, transactions), transactions, transactions, bpfNs, PathCheck.OK, List.of(100.0));
    }

    private static Attribution attribution(final String mode, final long transactions, final LbCpuMeter.Reading cpu,
        final String pathCheck)
    {
        return new Attribution(crr(mode, transactions), cpu, pathCheck, 0, 1_000_000_000);
    }

    private static LoadResult crr(final String mode, final long transactions)
    {
        return new LoadResult(mode, Workload.CRR, transactions, Map.of(), 1_000_000_000L, Histograms.create());
    }

    private static BenchMode mode(final String name, final String bpfPrograms, final String lbProcess)
    {
        return new BenchMode()
        {
            @Override
            public String name()
            {
                return name;
            }

            @Override
            public InetSocketAddress target()
            {
                return new InetSocketAddress("198.19.0.1", 80);
            }

            @Override
            public String bpfPrograms()
            {
                return bpfPrograms;
            }

            @Override
            public String lbProcess()
            {
                return lbProcess;
            }

            @Override
            public void close()
            {
            }
        };
    }
}

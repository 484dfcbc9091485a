package io.crab.bench.modes;

import io.crab.bench.traffic.EchoServer;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.LoadSpec;
import io.crab.bench.traffic.Workload;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfObject;
import io.crab.bpf.XdpMode;
import io.crab.bpf.testing.KernelRequired;
import io.crab.rig.Host;
import io.crab.rig.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LB CPU meter on a real topology: the polls it counts are the LB interface's alone (traffic between a client
 * and a server that bypasses the LB adds nothing; traffic through it adds in proportion to the connections), and
 * the time it counts for a process is the kernel's own run time of that process.
 */
@ExtendWith(KernelRequired.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class LbCpuMeterTest
{
    private static final int PORT = 7100;
    private static final int CONNECTIONS = 1_000;

    private static Topology topology;
    private static BpfObject xdpPass;
    private static BpfLink lbXdp;
    private static EchoServer echo;

    @BeforeAll
    static void buildTopology() throws Exception
    {
        topology = Topology.builder().clients(1).servers(1).build();
        final Host lb = topology.lb();
        // As in the bench: an XDP program on the LB's interface (there crab's), which gives a veth its NAPI, and on
        // the switch's end of it.
        topology.enableXdpTxOn(lb);
        xdpPass = Bpf.load(Topology.XDP_PASS);
        lbXdp = lb.netns().call(() -> xdpPass.program(Topology.XDP_PASS).attachXdp(lb.ifindex(), XdpMode.NATIVE));
        // The LB routes what the client sends it back out to the server, and does not tell the client to go direct.
        lb.netns().run(() ->
        {
            write("/proc/sys/net/ipv4/ip_forward", "1");
            write("/proc/sys/net/ipv4/conf/all/send_redirects", "0");
            write("/proc/sys/net/ipv4/conf/" + lb.iface() + "/send_redirects", "0");
        });
        final Host server = topology.servers().get(0);
        echo = server.netns().call(() -> EchoServer.start(new InetSocketAddress(server.ipAddress(), PORT)));
    }

    @AfterAll
    static void removeTopology()
    {
        try
        {
            if (echo != null)
            {
                echo.close();
            }
            if (lbXdp != null)
            {
                lbXdp.close();
            }
            if (xdpPass != null)
            {
                xdpPass.close();
            }
        }
        finally
        {
            if (topology != null)
            {
                topology.close();
            }
        }
    }

    @Test
    void pollsCountTrafficThroughTheLbInProportionAndNoneThatBypassesIt()
    {
        final Host client = topology.clients().get(0);
        final Host server = topology.servers().get(0);
        try (LbCpuMeter meter = LbCpuMeter.attach(topology.lb()))
        {
            final LbCpuMeter.Reading bypass = crr(meter, client, server, CONNECTIONS);

            topology.exec(client, "ip", "route", "add", server.ip() + "/32", "via", Topology.LB_IP);
            final LbCpuMeter.Reading through;
            final LbCpuMeter.Reading throughTwice;
            try
            {
                through = crr(meter, client, server, CONNECTIONS);
                throughTwice = crr(meter, client, server, 2 * CONNECTIONS);
            }
            finally
            {
                topology.exec(client, "ip", "route", "del", server.ip() + "/32");
            }

            // Each connection sends SYN, ACK, request, FIN and ACK through the LB; the server answers directly.
            final double pollsPerConnection = (double)through.polls() / CONNECTIONS;
            assertTrue(pollsPerConnection >= 3 && pollsPerConnection <= 8, "polls per connection " +
                pollsPerConnection + ": " + through);
            assertTrue(bypass.polls() <= 10, "traffic that bypasses the LB is not its work: " + bypass);
            assertTrue(bypass.pollNs() * 20 < through.pollNs(), "bypass " + bypass + ", through " + through);
            final double ratio = (double)throughTwice.pollNs() / through.pollNs();
            assertTrue(ratio > 1.4 && ratio < 2.8, "twice the connections, " + ratio + " times the poll time: " +
                through + ", then " + throughTwice);
            assertEquals(0, through.processNs(), "no process was watched");
        }
    }

    @Test
    void aWatchedProcessCountsTheRunTimeTheKernelGivesIt() throws Exception
    {
        // It waits for a line, spins in the shell (no child processes), then waits again.
        final Process spinner = new ProcessBuilder("sh", "-c",
            "read go; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; read done").start();
        try (LbCpuMeter meter = LbCpuMeter.attach(topology.lb()); OutputStream stdin = spinner.getOutputStream())
        {
            awaitAsleep(spinner);
            meter.watchProcess(spinner.pid());
            final long kernelBefore = TaskCpu.processNs(spinner.pid());
            final LbCpuMeter.Reading before = meter.read();
            stdin.write("go\n".getBytes(StandardCharsets.US_ASCII));
            stdin.flush();
            awaitAsleep(spinner);
            final long kernel = TaskCpu.processNs(spinner.pid()) - kernelBefore;
            final LbCpuMeter.Reading counted = meter.read().minus(before);
            meter.watchProcess(0);

            assertTrue(kernel > TimeUnit.MILLISECONDS.toNanos(50), "the shell spun for " + kernel + " ns");
            assertTrue(Math.abs(counted.processNs() - kernel) <= kernel / 10 + TimeUnit.MILLISECONDS.toNanos(2),
                "the meter counted " + counted.processNs() + " ns, the kernel " + kernel);
            assertTrue(counted.processSoftirqNs() <= counted.processNs() / 10, counted.toString());
        }
        finally
        {
            spinner.destroy();
            spinner.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static LbCpuMeter.Reading crr(final LbCpuMeter meter, final Host client, final Host server,
        final int connections)
    {
        final LbCpuMeter.Reading before = meter.read();
        final LoadResult result = Workload.CRR.run(LoadSpec.to(new InetSocketAddress(server.ipAddress(), PORT))
            .withMaxTransactions(connections).withDuration(Duration.ofSeconds(60)).withWarmup(0)
            .withThreadFactory(client.netns().threadFactory("lb-cpu-test")));
        assertEquals(connections, result.transactions(), result.toString());
        return meter.read().minus(before);
    }

    /** Until the process sleeps (in read) and its run time stands still. */
    private static void awaitAsleep(final Process process) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        long last = -1;
        while (System.nanoTime() < deadline)
        {
            Thread.sleep(50);
            final long now = TaskCpu.processNs(process.pid());
            if (now == last && state(process.pid()) == 'S')
            {
                return;
            }
            last = now;
        }
        throw new AssertionError("process " + process.pid() + " did not go to sleep");
    }

    private static char state(final long pid) throws IOException
    {
        final String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return stat.charAt(stat.lastIndexOf(')') + 2);
    }

    private static void write(final String path, final String value)
    {
        try
        {
            Files.writeString(Path.of(path), value);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}

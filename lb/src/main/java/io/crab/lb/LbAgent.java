package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.bpf.Abi;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The LB's control plane as an agent: puts the XDP program on its pinned link (adopting a running one), is the one
 * writer of its maps, and in its duty cycle applies health results and watches the backends' neighbour entries,
 * rewriting a VIP's slot table when the set of usable backends changes. The data path never depends on it: the
 * program and its maps stay pinned when the agent stops, established connections never touch the LB, and the
 * program asks the kernel's FIB for every backend's next hop itself.
 */
public final class LbAgent implements Agent
{
    /** Failed probes in a row before a backend gets no new connections. */
    static final int DOWN_AFTER_FAILURES = 2;
    private static final long NEIGHBOUR_REFRESH_NS = 1_000_000_000L;
    private static final long RESOLVE_TIMEOUT_NS = 2_000_000_000L;
    private static final long RESOLVE_POLL_MS = 20;

    private final LbContext ctx;
    private final NanoClock clock;
    private final PrintWriter log;
    private final ManyToOneConcurrentArrayQueue<HealthProber.Result> healthResults =
        new ManyToOneConcurrentArrayQueue<>(1024);
    private final boolean[] resolved;
    private final boolean[] healthy;
    private final int[] failures;
    private final boolean[] usable;
    private Neighbours neighbours;
    private PinnedDatapath datapath;
    private LbMaps maps;
    private HealthProber prober;
    private Thread proberThread;
    private long nextRefreshNs;

    public LbAgent(final LbContext ctx, final NanoClock clock, final PrintWriter log)
    {
        this.ctx = ctx;
        this.clock = clock;
        this.log = log;
        final int n = ctx.backends().size();
        this.resolved = new boolean[n];
        this.healthy = new boolean[n];
        this.failures = new int[n];
        this.usable = new boolean[n];
        Arrays.fill(healthy, true);
    }

    @Override
    public void onStart()
    {
        final int ifindex = Interfaces.ifindex(ctx.iface());
        neighbours = new Neighbours(ctx.iface());
        enableForwarding();
        awaitNeighbours();
        datapath = PinnedDatapath.open("lb_xdp", Pins.dir("lb", ctx.iface()), Map.of());
        try
        {
            maps = new LbMaps(datapath.object());
            ctx.option().writeTo(datapath.object().map(Abi.Maps.OPT_CFG));
            maps.clearBackendsFrom(ctx.backends().size());
            publish(true);
            maps.removeVipsOtherThan(ctx.vips());
            datapath.pinMaps();
            datapath.attach("xdp", datapath.object().program("crab_lb"), p -> p.attachXdp(ifindex));
        }
        catch (final RuntimeException ex)
        {
            datapath.close();
            throw ex;
        }
        if (datapath.adopted())
        {
            log.println("crab-lb: took over the XDP program and its state pinned in " + datapath.dir());
            log.flush();
        }
        startProber();
        nextRefreshNs = clock.nanoTime() + NEIGHBOUR_REFRESH_NS;
    }

    /**
     * The kernel answers an XDP program's FIB lookups only for an interface that forwards; the LB host sends
     * redirected SYNs on, so it is a router for them.
     */
    private void enableForwarding()
    {
        final Path forwarding = Path.of("/proc/sys/net/ipv4/conf", ctx.iface(), "forwarding");
        try
        {
            if (!Files.readString(forwarding).trim().equals("1"))
            {
                Files.writeString(forwarding, "1");
                log.println("crab-lb: turned on IPv4 forwarding on " + ctx.iface() + " (XDP FIB lookups need it)");
                log.flush();
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("turning on forwarding on " + ctx.iface(), ex);
        }
    }

    /** Solicits every backend's next hop and waits a little, so the first slot tables include them. */
    private void awaitNeighbours()
    {
        final long deadline = clock.nanoTime() + RESOLVE_TIMEOUT_NS;
        while (true)
        {
            boolean all = true;
            for (int id = 0; id < resolved.length; id++)
            {
                resolved[id] = lookUp(id);
                all &= resolved[id];
            }
            if (all || clock.nanoTime() > deadline)
            {
                break;
            }
            try
            {
                Thread.sleep(RESOLVE_POLL_MS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while resolving backends");
            }
        }
        for (int id = 0; id < resolved.length; id++)
        {
            if (!resolved[id])
            {
                log.println("crab-lb: backend " + ctx.backends().get(id).target() + " has no neighbour entry on " +
                    ctx.iface() + " yet; it gets no connections until it resolves");
            }
        }
        log.flush();
    }

    /** True when the backend's next hop has a complete neighbour entry; else asks the kernel to resolve it. */
    private boolean lookUp(final int id)
    {
        final HostPort target = ctx.backends().get(id).target();
        try
        {
            if (neighbours.lookup(target.address()).isPresent())
            {
                return true;
            }
            neighbours.solicit(target.address());
        }
        catch (final IllegalStateException noRoute)
        {
            // unusable until a route appears; the status shows it
        }
        return false;
    }

    private void startProber()
    {
        final List<InetSocketAddress> targets = new ArrayList<>();
        final int vipPort = ctx.vips().stream().mapToInt(HostPort::port).filter(p -> p != 0).findFirst().orElse(0);
        for (final BackendsFile.Backend b : ctx.backends())
        {
            final int port = b.target().anyPort() ? vipPort : b.target().port();
            targets.add(port == 0 ? null : new InetSocketAddress(b.target().address(), port));
        }
        prober = new HealthProber(targets, ctx.healthIntervalNs() / 1_000_000L, healthResults);
        proberThread = new Thread(prober, "crab-lb-health");
        proberThread.setDaemon(true);
        proberThread.start();
    }

    @Override
    public int doWork()
    {
        int work = healthResults.drain(this::onHealth);
        final long now = clock.nanoTime();
        if (now >= nextRefreshNs)
        {
            nextRefreshNs = now + NEIGHBOUR_REFRESH_NS;
            work += refreshNeighbours();
        }
        if (work > 0)
        {
            publish(false);
        }
        return work;
    }

    private void onHealth(final HealthProber.Result result)
    {
        final int id = result.backendId();
        failures[id] = result.up() ? 0 : failures[id] + 1;
        final boolean nowHealthy = failures[id] < DOWN_AFTER_FAILURES;
        if (nowHealthy != healthy[id])
        {
            healthy[id] = nowHealthy;
            log.println("crab-lb: backend " + ctx.backends().get(id).target() + (nowHealthy ? " is up" :
                " is down: new connections go to the others"));
            log.flush();
        }
    }

    /** Counts backends whose neighbour entry appeared or went since the last look. */
    private int refreshNeighbours()
    {
        int changed = 0;
        for (int id = 0; id < resolved.length; id++)
        {
            final boolean now = lookUp(id);
            if (now != resolved[id])
            {
                resolved[id] = now;
                changed++;
            }
        }
        return changed;
    }

    /**
     * Writes the backends whose usability changed (or all when {@code initial}), then the VIPs' slot tables: a
     * backend leaves the tables and loses its up flag together, so neither a new nor a retransmitted SYN goes to it.
     */
    private void publish(final boolean initial)
    {
        boolean changed = false;
        for (int id = 0; id < usable.length; id++)
        {
            final boolean u = resolved[id] && healthy[id];
            if (u != usable[id] || initial)
            {
                usable[id] = u;
                maps.writeBackend(id, ctx.backends().get(id).target(), u);
                changed = true;
            }
        }
        if (!changed)
        {
            return;
        }
        final List<Integer> table = LbMaps.slotTable(ctx.backends(), usable);
        for (int vipId = 0; vipId < ctx.vips().size(); vipId++)
        {
            maps.writeVip(vipId, ctx.vips().get(vipId), ctx.policy(), ctx.redirectUnmarked(), table);
        }
    }

    /** Stops probing and lets go of the data path, which stays attached and pinned for the next run. */
    @Override
    public void onClose()
    {
        if (prober != null)
        {
            prober.stop();
            proberThread.interrupt();
        }
        if (datapath != null)
        {
            datapath.close();
        }
    }

    @Override
    public String roleName()
    {
        return "crab-lb";
    }
}

package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.Pins;
import io.crab.bpf.Attachment;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfObject;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The LB's control plane as an agent: loads and attaches the XDP program, is the one writer of its maps, and in
 * its duty cycle applies health results and refreshes backend MACs, rewriting a VIP's slot table when the set of
 * usable backends changes. Established connections never depend on it: it only steers new SYNs.
 */
public final class LbAgent implements Agent
{
    /** Failed probes in a row before a backend gets no new connections. */
    static final int DOWN_AFTER_FAILURES = 2;
    private static final long NEIGHBOUR_REFRESH_NS = 1_000_000_000L;
    private static final long RESOLVE_TIMEOUT_MS = 2_000;

    private final LbContext ctx;
    private final NanoClock clock;
    private final PrintWriter log;
    private final ManyToOneConcurrentArrayQueue<HealthProber.Result> healthResults =
        new ManyToOneConcurrentArrayQueue<>(1024);
    private final byte[][] macs;
    private final boolean[] healthy;
    private final int[] failures;
    private final boolean[] usable;
    private BpfObject obj;
    private LbMaps maps;
    private Attachment xdp;
    private Path pinDir;
    private HealthProber prober;
    private Thread proberThread;
    private long nextRefreshNs;

    public LbAgent(final LbContext ctx, final NanoClock clock, final PrintWriter log)
    {
        this.ctx = ctx;
        this.clock = clock;
        this.log = log;
        final int n = ctx.backends().size();
        this.macs = new byte[n][];
        this.healthy = new boolean[n];
        this.failures = new int[n];
        this.usable = new boolean[n];
        Arrays.fill(healthy, true);
    }

    @Override
    public void onStart()
    {
        final int ifindex = Interfaces.ifindex(ctx.iface());
        final Neighbours neighbours = new Neighbours(ctx.iface());
        obj = Bpf.load("lb_xdp");
        try
        {
            maps = new LbMaps(obj);
            ctx.option().writeTo(obj.map("opt_cfg"));
            for (int id = 0; id < macs.length; id++)
            {
                final HostPort target = ctx.backends().get(id).target();
                final Optional<byte[]> mac = neighbours.resolve(target.address(), RESOLVE_TIMEOUT_MS);
                if (mac.isPresent())
                {
                    macs[id] = mac.get();
                    maps.writeBackend(id, target, macs[id]);
                }
                else
                {
                    log.println("crab-lb: backend " + target + " has no neighbour entry on " + ctx.iface() +
                        " yet; it gets no connections until it resolves");
                }
            }
            publishSlotTables(true);
            pinDir = Pins.create(Pins.dir("lb", ctx.iface()));
            for (final String name : LbMaps.PINNED)
            {
                obj.map(name).pin(pinDir.resolve(name).toString());
            }
            xdp = obj.program("crab_lb").attachXdp(ifindex);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            onClose();
            throw new IllegalStateException("interrupted while resolving backends");
        }
        catch (final RuntimeException ex)
        {
            onClose();
            throw ex;
        }
        startProber();
        nextRefreshNs = clock.nanoTime() + NEIGHBOUR_REFRESH_NS;
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
            publishSlotTables(false);
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

    /** Picks up MACs that resolved or changed since the last look; counts backends whose entry changed. */
    private int refreshNeighbours()
    {
        final Neighbours neighbours = new Neighbours(ctx.iface());
        int changed = 0;
        for (int id = 0; id < macs.length; id++)
        {
            final HostPort target = ctx.backends().get(id).target();
            final Optional<byte[]> mac = neighbours.lookup(target.address());
            if (mac.isEmpty())
            {
                neighbours.solicit(target.address());
            }
            else if (macs[id] == null || !Arrays.equals(macs[id], mac.get()))
            {
                macs[id] = mac.get();
                maps.writeBackend(id, target, macs[id]);
                changed++;
            }
        }
        return changed;
    }

    /** Rewrites the VIPs' slot tables if the usable backends changed, or always when {@code initial}. */
    private void publishSlotTables(final boolean initial)
    {
        boolean changed = false;
        for (int id = 0; id < usable.length; id++)
        {
            final boolean u = macs[id] != null && healthy[id];
            changed |= u != usable[id];
            usable[id] = u;
        }
        if (!changed && !initial)
        {
            return;
        }
        final List<Integer> table = LbMaps.slotTable(ctx.backends(), usable);
        for (int vipId = 0; vipId < ctx.vips().size(); vipId++)
        {
            maps.writeVip(vipId, ctx.vips().get(vipId), ctx.policy(), ctx.redirectUnmarked(), table);
        }
    }

    @Override
    public void onClose()
    {
        if (prober != null)
        {
            prober.stop();
            proberThread.interrupt();
        }
        if (xdp != null)
        {
            xdp.close();
        }
        if (pinDir != null)
        {
            Pins.remove(pinDir);
        }
        if (obj != null)
        {
            obj.close();
        }
    }

    @Override
    public String roleName()
    {
        return "crab-lb";
    }
}

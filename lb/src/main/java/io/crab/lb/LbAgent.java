package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.Interfaces;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.XdpMode;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.FallbackMode;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import io.crab.lb.config.ConfigDiff;
import io.crab.lb.xdp.XdpAttachment;
import io.crab.lb.xdp.XdpPlan;
import io.crab.agent.DutyCycleErrors;
import io.crab.agent.Log;
import io.crab.agent.metrics.MetricsServer;
import io.crab.agent.metrics.RegistryCollector;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The LB's control plane as an agent: puts the XDP program on its pinned link (adopting a running one), is the one
 * writer of its maps, and in its duty cycle applies reloads, health results and neighbour changes, publishing
 * new slot tables when the usable backends of a service change. The data path never depends on it: the program and
 * its maps stay pinned when the agent stops, established connections never touch the LB, and the program asks the
 * kernel's FIB for every backend's next hop itself.
 */
public final class LbAgent implements Agent
{
    /** Failed probes in a row before a backend gets no new connections. */
    static final int DOWN_AFTER_FAILURES = 2;
    private static final long NEIGHBOUR_REFRESH_NS = 1_000_000_000L;
    /** After a reload adds a backend whose next hop is not resolved yet, it is looked at again this soon. */
    private static final long NEW_NEIGHBOUR_RECHECK_NS = 20_000_000L;
    private static final long RESOLVE_TIMEOUT_NS = 2_000_000_000L;
    private static final long RESOLVE_POLL_MS = 20;

    private final LbContext ctx;
    private final NanoClock clock;
    private final EpochClock wallClock;
    private final Log log;
    private final AtomicBoolean reloadRequested = new AtomicBoolean();
    private final ManyToOneConcurrentArrayQueue<HealthProber.Result> healthResults =
        new ManyToOneConcurrentArrayQueue<>(1024);
    /** Per backend (address and port as configured): probe failures in a row, and next hop resolved. */
    private final Map<HostPort, int[]> failures = new HashMap<>();
    /** Per backend: probes in a row that it accepted but did not echo the option. */
    private final Map<HostPort, int[]> silences = new HashMap<>();
    private final Map<HostPort, Boolean> resolved = new HashMap<>();
    /** Backends logged as unresolved, so each is logged once when it goes and once when it comes back. */
    private final Set<HostPort> loggedUnresolved = new HashSet<>();
    private LbConfig config;
    private XdpMode xdpMode;
    private Neighbours neighbours;
    private PinnedDatapath datapath;
    private PinnedDatapath fallback;
    private ServiceTables tables;
    /** The servers' load reports, on a thread of their own; handed each publication's backend ids. */
    private FeedbackReceiver feedback;
    private AgentRunner feedbackRunner;
    private HealthProber prober;
    private Thread proberThread;
    private ConfigWatcher watcher;
    private long nextRefreshNs;
    private AgentCounters counters;
    /** {@code --metrics-address}: the endpoint and what it reads; null without the option. */
    private MetricsServer metricsServer;
    private LbMetrics metrics;
    /** What the tables were last published from: publishing again only when either changes. */
    private LbConfig publishedConfig;
    private Set<HostPort> publishedUsable;
    private Set<HostPort> publishedSilent;
    private Set<HostPort> publishedServing;

    public LbAgent(final LbContext ctx, final NanoClock clock, final EpochClock wallClock, final Log log)
    {
        this.ctx = ctx;
        this.clock = clock;
        this.wallClock = wallClock;
        this.log = log;
        this.config = ctx.initial();
    }

    /** Where crab-lb pins its programs and state for an interface of the calling thread's namespace. */
    public static Path pinDir(final String iface)
    {
        return Pins.dir("lb", iface);
    }

    /** Asks for the configuration to be read again (SIGHUP); the duty cycle does it. */
    public void requestReload()
    {
        reloadRequested.set(true);
    }

    /** The mode crab-lb's XDP program runs in, once {@link #onStart} attached it. */
    public XdpMode xdpMode()
    {
        return xdpMode;
    }

    @Override
    public void onStart()
    {
        final int ifindex = Interfaces.ifindex(ctx.iface());
        final Path dir = pinDir(ctx.iface());
        // Decided before anything changes, so a refused mode leaves the interface as it was.
        final XdpPlan xdpPlan = XdpPlan.decide(ctx.xdpMode(), ctx.iface(), XdpAttachment.facts(dir, ifindex));
        startMetrics(dir);
        neighbours = new Neighbours(ctx.iface());
        checkRoutes(config, Set.of());
        enableForwarding();
        acceptLocalReplies();
        awaitNeighbours();
        checkPinnedSizes(dir);
        datapath = PinnedDatapath.open("lb_xdp", dir, ctx.limits().mapSizes());
        try
        {
            tables = new ServiceTables(datapath.object(), ctx.limits().services(), ctx.limits().backends(),
                ctx.limits().slots(), ctx.limits().maglevSize());
            ctx.option().writeTo(datapath.object().map(Abi.Maps.OPT_CFG));
            counters = new AgentCounters(datapath.object().map(Abi.Maps.LB_AGENT_COUNTERS),
                Abi.Consts.CRAB_LBA_COUNTER_MAX);
            feedback = new FeedbackReceiver(ctx.feedback(), new BackendLoads(datapath.object(), clock),
                new AgentCounters(datapath.object().map(Abi.Maps.FEEDBACK_COUNTERS), Abi.Consts.CRAB_FBK_COUNTER_MAX),
                clock, wallClock);
            publish();
            datapath.pinMaps();
            // The fallback program shares every map through the pins just made: one set of tables, two hooks.
            fallback = PinnedDatapath.open("lb_tc", dir, ctx.limits().mapSizes());
            fallback.attach("tc_ingress", fallback.object().program("crab_lb_fallback"),
                p -> p.attachTcx(ifindex, BpfProgram.TcDirection.INGRESS));
            xdpMode = XdpAttachment.attach(xdpPlan, datapath, datapath.object().program("crab_lb"), ctx.iface(),
                ifindex, log);
            if (ctx.watch())
            {
                watcher = new ConfigWatcher(ctx.source().file(), reloadRequested);
            }
        }
        catch (final IOException ex)
        {
            closeDatapaths();
            throw new UncheckedIOException("watching " + ctx.source().file(), ex);
        }
        catch (final RuntimeException ex)
        {
            closeDatapaths();
            throw ex;
        }
        if (datapath.adopted())
        {
            log.info("took over the XDP program and its state pinned in " + dir, "pins", dir);
        }
        startProber();
        startFeedback();
        nextRefreshNs = clock.nanoTime() + NEIGHBOUR_REFRESH_NS;
    }

    /**
     * Binds {@code --metrics-address} before anything touches the kernel, so a port in use fails the start with
     * nothing changed. The maps are read at each scrape from their pins, through handles of the server's own.
     */
    private void startMetrics(final Path dir)
    {
        if (ctx.metrics() != null)
        {
            metrics = new LbMetrics(dir);
            metricsServer = MetricsServer.start(ctx.metrics(), "crab-lb-metrics",
                new RegistryCollector(metrics, LbMetrics.FAMILIES));
        }
    }

    /** Starts the load-report receiver's thread; the tables it follows were published already. */
    private void startFeedback()
    {
        feedbackRunner = new AgentRunner(feedback.idleStrategy(),
            new DutyCycleErrors(log.forComponent("crab-lb feedback receiver"), clock), null, feedback);
        AgentRunner.startOnThread(feedbackRunner);
        final LbContext.Feedback settings = ctx.feedback();
        log.info(settings.port() == 0 ? "takes no load reports (--feedback-port 0)" :
            "takes load reports from the backends on UDP port " + settings.port() +
                (settings.key() == null ? ", unauthenticated" : ", signed with --feedback-key"),
            "feedback_port", settings.port(), "signed", settings.key() != null);
    }

    /** The LB's state holds no connection, but sizes cannot change under a running program: say how to resize. */
    private void checkPinnedSizes(final Path dir)
    {
        final Path vips = dir.resolve(Abi.Maps.VIPS);
        final Path slots = dir.resolve(Abi.Maps.VIP_SLOTS);
        final Path backends = dir.resolve(Abi.Maps.BACKENDS);
        if (Files.exists(vips) && Files.exists(slots) && Files.exists(backends))
        {
            final Map<String, Integer> wanted = ctx.limits().mapSizes();
            if (Bpf.pinnedMapInfo(vips).maxEntries() != wanted.get(Abi.Maps.VIPS) ||
                Bpf.pinnedMapInfo(slots).maxEntries() != wanted.get(Abi.Maps.VIP_SLOTS) ||
                Bpf.pinnedMapInfo(backends).maxEntries() != wanted.get(Abi.Maps.BACKENDS))
            {
                throw new ConfigException("--max-services/--max-backends/--max-slots differ from the running data " +
                    "path pinned at " + dir + "; to resize, run crab-lb --iface " + ctx.iface() + " --detach first " +
                    "(established connections do not depend on the LB; new ones are refused until it is back)");
            }
        }
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
                log.info("turned on IPv4 forwarding on " + ctx.iface() + " (XDP FIB lookups need it)",
                    "iface", ctx.iface());
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("turning on forwarding on " + ctx.iface(), ex);
        }
    }

    /**
     * A translating service's backend answers from the VIP, an address of this host (a node's own address for a
     * NodePort). One routed out of another interface than the LB's (a pod of this host behind its veth) sends those
     * answers through this host, which drops a packet from one of its own addresses as a martian unless the
     * interface it comes in on accepts them: so crab-lb turns on accept_local there, once, and says so.
     */
    private void acceptLocalReplies()
    {
        for (final ServiceConfig service : config.services())
        {
            if (service.fallback() != FallbackMode.TRANSLATE)
            {
                continue;
            }
            for (final BackendConfig backend : service.backends())
            {
                final Optional<String> other = neighbours.otherInterface(backend.target().address());
                if (other.isEmpty())
                {
                    continue;
                }
                final Path acceptLocal = Path.of("/proc/sys/net/ipv4/conf", other.get(), "accept_local");
                try
                {
                    if (!Files.readString(acceptLocal).trim().equals("1"))
                    {
                        Files.writeString(acceptLocal, "1");
                        log.info("turned on accept_local on " + other.get() + " (backend " + backend.target() +
                            " of service " + service.name() + " answers from the VIP, an address of this host)",
                            "iface", other.get(), "backend", backend.target());
                    }
                }
                catch (final IOException ex)
                {
                    // The interface went between the route and the write (a pod leaving): looked at again later.
                    log.warn("cannot turn on accept_local on " + other.get() + ": " + ex.getMessage(),
                        "iface", other.get());
                }
            }
        }
    }

    /** Solicits every backend's next hop and waits a little, so the first slot tables include them. */
    private void awaitNeighbours()
    {
        final long deadline = clock.nanoTime() + RESOLVE_TIMEOUT_NS;
        while (true)
        {
            boolean all = true;
            for (final HostPort target : targets(config))
            {
                final boolean now = lookUp(target);
                resolved.put(target, now);
                all &= now;
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
        resolved.forEach((target, ok) ->
        {
            if (!ok)
            {
                loggedUnresolved.add(target);
                warnUnresolved(target);
            }
        });
    }

    /**
     * Refuses a configuration that names a backend with no route: the LB could never send it a SYN, so it is a
     * mistake in the file (a typo in the address), not a host that is down. A route out of another interface than
     * the LB's will do: the XDP program hands those SYNs to the host's stack. Checked before anything is applied,
     * for the backends the configuration adds (every one at start); one whose route goes away later only stops
     * getting connections until it is back.
     */
    private void checkRoutes(final LbConfig next, final Set<HostPort> known)
    {
        for (final ServiceConfig service : next.services())
        {
            for (final BackendConfig backend : service.backends())
            {
                if (!known.contains(backend.target()) && !neighbours.routed(backend.target().address()))
                {
                    throw new ConfigException(ctx.source().where(service, backend) + "backend " +
                        backend.target() + ": no route");
                }
            }
        }
    }

    /** One line for a backend whose next hop does not resolve, naming where it is written (first, if twice). */
    private void warnUnresolved(final HostPort target)
    {
        for (final ServiceConfig service : config.services())
        {
            for (final BackendConfig backend : service.backends())
            {
                if (backend.target().equals(target))
                {
                    final String problem = neighbours.routed(target.address()) ? "no neighbour entry on " +
                        ctx.iface() + " yet; it gets no new connections until it resolves" : "no route to it any " +
                        "more; it gets no new connections until there is one";
                    final String message = ctx.source().where(service, backend) + "backend " + target + ": " + problem;
                    if (ctx.source().file() == null)
                    {
                        log.warn(message, "backend", target, "service", service.name());
                    }
                    else
                    {
                        log.warn(message, "backend", target, "file", ctx.source().file(), "line", backend.line());
                    }
                    return;
                }
            }
        }
    }

    /**
     * True when the backend's next hop has a complete neighbour entry, or when its route leaves by another
     * interface, where the host's stack resolves it; else asks the kernel to resolve it (which does nothing while
     * there is no route: the backend stays unusable until one appears).
     */
    private boolean lookUp(final HostPort target)
    {
        if (neighbours.viaStack(target.address()) || neighbours.lookup(target.address()).isPresent())
        {
            return true;
        }
        neighbours.solicit(target.address());
        return false;
    }

    private static Set<HostPort> targets(final LbConfig config)
    {
        final Set<HostPort> targets = new LinkedHashSet<>();
        config.services().forEach(s -> s.backends().forEach(b -> targets.add(b.target())));
        return targets;
    }

    /** Probes every backend on its own port, or on its service's VIP port; a backend of an all-ports VIP is not. */
    private void startProber()
    {
        final Map<HostPort, HealthProber.Target> targets = new LinkedHashMap<>();
        for (final ServiceConfig service : config.services())
        {
            for (final BackendConfig b : service.backends())
            {
                final int port = b.target().anyPort() ? service.vip().port() : b.target().port();
                if (port != 0)
                {
                    targets.putIfAbsent(b.target(), new HealthProber.Target(b.target(),
                        new InetSocketAddress(b.target().address(), port), service.vip().address()));
                }
            }
        }
        prober = new HealthProber(new ArrayList<>(targets.values()), ctx.option(),
            ctx.healthIntervalNs() / 1_000_000L, healthResults);
        proberThread = new Thread(prober, "crab-lb-health");
        proberThread.setDaemon(true);
        proberThread.start();
    }

    private void stopProber()
    {
        if (prober != null)
        {
            prober.stop();
            proberThread.interrupt();
        }
    }

    @Override
    public int doWork()
    {
        int work = 0;
        if (reloadRequested.getAndSet(false))
        {
            work += reload();
        }
        work += healthResults.drain(this::onHealth);
        final long now = clock.nanoTime();
        if (now >= nextRefreshNs)
        {
            nextRefreshNs = now + NEIGHBOUR_REFRESH_NS;
            work += refreshNeighbours();
        }
        if (work > 0)
        {
            publish();
        }
        return work;
    }

    /** Publishes new tables when the configuration or the set of usable backends differs from the last ones. */
    private void publish()
    {
        final Set<HostPort> usable = new LinkedHashSet<>();
        config.services().forEach(s -> s.backends().stream().filter(this::usable).forEach(b -> usable.add(b.target())));
        final Set<HostPort> silent = new LinkedHashSet<>();
        usable.stream().filter(t -> !compliant(t)).forEach(silent::add);
        final Set<HostPort> serving = new LinkedHashSet<>();
        targets(config).stream().filter(this::serving).forEach(serving::add);
        if (config != publishedConfig || !usable.equals(publishedUsable) || !silent.equals(publishedSilent) ||
            !serving.equals(publishedServing))
        {
            tables.publish(config, this::usable, this::compliant, this::serving);
            feedback.publish(tables.backendIds());
            publishedSilent = silent;
            publishedServing = serving;
            counters.add(Abi.Consts.CRAB_LBA_PUBLICATIONS, 1);
            publishedConfig = config;
            publishedUsable = usable;
        }
    }

    /**
     * Reads the configuration again and, if it is valid as a whole, makes it the one the tables follow; one log line
     * per change. An invalid one changes nothing and says why in one line.
     */
    private int reload()
    {
        final LbConfig next;
        final List<String> changes;
        try
        {
            next = ctx.source().load();
            checkRoutes(next, targets(config));
            changes = ConfigDiff.changes(config, next);
        }
        catch (final ConfigException ex)
        {
            final long refused = counters.add(Abi.Consts.CRAB_LBA_RELOADS_REFUSED, 1);
            log.warn("reload refused (" + refused + " so far), nothing changed: " + ex.getMessage(),
                "refused", refused, "problem", ex.getMessage());
            return 0;
        }
        if (changes.isEmpty())
        {
            log.info("reload: no change");
            return 0;
        }
        final Set<HostPort> known = targets(config);
        config = next;
        acceptLocalReplies();
        for (final HostPort target : targets(next))
        {
            if (!known.contains(target))
            {
                final boolean now = lookUp(target);
                resolved.put(target, now);
                if (!now)
                {
                    nextRefreshNs = Math.min(nextRefreshNs, clock.nanoTime() + NEW_NEIGHBOUR_RECHECK_NS);
                }
            }
        }
        failures.keySet().retainAll(targets(next));
        silences.keySet().retainAll(targets(next));
        resolved.keySet().retainAll(targets(next));
        loggedUnresolved.retainAll(targets(next));
        stopProber();
        startProber();
        // Published before the change is logged: whoever reads the log line may rely on the change being live.
        publish();
        final long reload = counters.add(Abi.Consts.CRAB_LBA_RELOADS, 1);
        counters.add(Abi.Consts.CRAB_LBA_CHANGES, changes.size());
        changes.forEach(line -> log.info("reload " + reload + ": " + line, "reload", reload, "change", line));
        return changes.size();
    }

    private void onHealth(final HealthProber.Result result)
    {
        if (!resolved.containsKey(result.backend()))
        {
            return;
        }
        final int[] count = failures.computeIfAbsent(result.backend(), t -> new int[1]);
        final boolean wasHealthy = count[0] < DOWN_AFTER_FAILURES;
        count[0] = result.up() ? 0 : count[0] + 1;
        final boolean healthy = count[0] < DOWN_AFTER_FAILURES;
        if (healthy != wasHealthy)
        {
            // Published before logged, as reloads are: whoever reads the line may rely on the change being live.
            publish();
            log.event(healthy ? Log.Level.INFO : Log.Level.WARN, "backend " + result.backend() + (healthy ? " is up" :
                " is down: new connections go to the others"), null, "backend", result.backend(), "up", healthy);
        }
        if (result.up())
        {
            final int[] silent = silences.computeIfAbsent(result.backend(), t -> new int[1]);
            final boolean wasCompliant = silent[0] < DOWN_AFTER_FAILURES;
            silent[0] = result.echoes() ? 0 : silent[0] + 1;
            final boolean compliant = silent[0] < DOWN_AFTER_FAILURES;
            if (compliant != wasCompliant)
            {
                publish();
                log.event(compliant ? Log.Level.INFO : Log.Level.WARN, "backend " + result.backend() + (compliant ?
                    " echoes the option again: it takes redirected connections" :
                    " does not echo the option: it takes only fallback connections"), null,
                    "backend", result.backend(), "echoes", compliant);
            }
        }
    }

    /** A backend takes redirected connections while it echoes the option (until two probes in a row say not). */
    private boolean compliant(final HostPort backend)
    {
        final int[] silent = silences.get(backend);
        return silent == null || silent[0] < DOWN_AFTER_FAILURES;
    }

    /**
     * Counts backends whose neighbour entry appeared or went since the last look, and logs each that has none (a
     * backend a reload added gets a look first) and each that has one again.
     */
    private int refreshNeighbours()
    {
        acceptLocalReplies();
        int changed = 0;
        for (final HostPort target : targets(config))
        {
            final boolean now = lookUp(target);
            if (!Boolean.valueOf(now).equals(resolved.put(target, now)))
            {
                changed++;
            }
            if (!now && loggedUnresolved.add(target))
            {
                warnUnresolved(target);
            }
            else if (now && loggedUnresolved.remove(target))
            {
                log.info("backend " + target + ": next hop on " + ctx.iface() + " resolved", "backend", target);
            }
        }
        return changed;
    }

    /** A backend takes new connections while it is active, healthy and its next hop resolved. */
    private boolean usable(final BackendConfig backend)
    {
        return backend.state() == BackendState.ACTIVE && Boolean.TRUE.equals(resolved.get(backend.target())) &&
            serving(backend.target());
    }

    /** A backend serves while it answers its health probes (until two in a row fail), draining or not. */
    private boolean serving(final HostPort backend)
    {
        final int[] count = failures.get(backend);
        return count == null || count[0] < DOWN_AFTER_FAILURES;
    }

    /** Stops probing and watching, and lets go of the data path, which stays attached and pinned for the next run. */
    @Override
    public void onClose()
    {
        if (feedbackRunner != null)
        {
            feedbackRunner.close();
        }
        else if (feedback != null)
        {
            feedback.onClose();
        }
        stopProber();
        if (watcher != null)
        {
            watcher.close();
        }
        if (metricsServer != null)
        {
            metricsServer.close();
            metrics.close();
        }
        closeDatapaths();
    }

    private void closeDatapaths()
    {
        if (fallback != null)
        {
            fallback.close();
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

package io.crab.lb;

import io.crab.agent.AgentMain;
import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.agent.DutyCycleErrors;
import io.crab.agent.Log;
import io.crab.agent.LogOptions;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.agent.OptionKind;
import io.crab.agent.metrics.MetricsServer;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import io.crab.bpf.Abi;
import io.crab.lb.xdp.XdpModeOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.TypeConversionException;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import sun.misc.Signal;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code crab-lb}: the SYN-only connection-redirect load balancer, and {@code crab-lb status}. */
@Command(name = "crab-lb", mixinStandardHelpOptions = true, version = "crab-lb 0.1.0",
    description = "Redirects client SYNs for VIPs to backends with XDP; the connections then bypass the LB.",
    subcommands = CrabLb.Status.class)
public final class CrabLb implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Option(names = "--iface", description = "Interface the SYNs for the VIPs arrive on.")
    String iface;

    @Option(names = "--config", paramLabel = "FILE", description = "Services file: one block per service (VIP, " +
        "policy, backends). Read again on SIGHUP and whenever the file changes.")
    Path config;

    @Option(names = "--vip", description = "A.B.C.D[:PORT]; without a port every TCP port. Repeatable. With " +
        "--backends, the shorthand for one service per VIP over the same backends.")
    List<String> vips;

    @Option(names = "--backends", description = "File: one backend per line, IP[:PORT] [weight=N]; read again on " +
        "SIGHUP and whenever it changes.")
    Path backends;

    @Option(names = "--policy", defaultValue = "rr", converter = PolicyConverter.class, paramLabel = "POLICY",
        description = "rr (global round-robin), random, hash, jsq (join-shortest-queue) or p2c (power of two " +
            "choices); jsq and p2c use the servers' load reports.")
    Policy policy;

    @Option(names = "--redirect-unmarked", description = "Redirect SYNs without the client marker too " +
        "(clients with the kernel patch, which do not mark).")
    boolean redirectUnmarked;

    @Option(names = "--option-kind", defaultValue = "42", description = "TCP option kind (default 42).")
    int optionKind;

    @Option(names = "--option-exid", defaultValue = "0", description = "ExID for kinds 253/254 (RFC 6994).",
        converter = OptionKind.ExidConverter.class)
    int optionExid;

    @Option(names = "--health-interval-ms", defaultValue = "1000", description = "Backend TCP probe interval.")
    long healthIntervalMs;

    @Option(names = "--no-watch", description = "Reload only on SIGHUP, not when the file changes (for tools " +
        "that write several files and then ask for one reload).")
    boolean noWatch;

    @Option(names = "--max-services", defaultValue = "" + Abi.Consts.CRAB_MAX_VIPS,
        description = "Services (VIPs) the maps hold (default ${DEFAULT-VALUE}).")
    int maxServices;

    @Option(names = "--max-backends", defaultValue = "" + Abi.Consts.CRAB_MAX_BACKENDS,
        description = "Distinct backends over all services (default ${DEFAULT-VALUE}).")
    int maxBackends;

    @Option(names = "--max-slots", defaultValue = "" + Abi.Consts.CRAB_MAX_SLOTS,
        description = "Slots of one service's table: the sum of its weights (default ${DEFAULT-VALUE}).")
    int maxSlots;

    @Option(names = "--maglev-size", defaultValue = "" + Abi.Consts.CRAB_MAGLEV_SIZE,
        description = "Entries of a service's Maglev table for the hashing fallback, a prime (default ${DEFAULT-VALUE}).")
    int maglevSize;

    @Option(names = "--max-fallback-connections", defaultValue = "" + Abi.Consts.CRAB_CONN_TABLE_SIZE,
        description = "Fallback connections the LB remembers the backend of (default ${DEFAULT-VALUE}).")
    int maxFallbackConnections;

    @Option(names = "--max-affinity-clients", defaultValue = "" + Abi.Consts.CRAB_AFFINITY_TABLE_SIZE,
        description = "Clients of services with affinity client-ip the LB remembers the backend of, one per client " +
            "and service; the least recently seen go first (default ${DEFAULT-VALUE}).")
    int maxAffinityClients;

    @Option(names = "--feedback-port", defaultValue = "" + LbContext.Feedback.DEFAULT_PORT, paramLabel = "PORT",
        description = "UDP port for the servers' load reports (crab-endpoint server --report-to), which jsq and " +
            "p2c use; 0 takes none (default ${DEFAULT-VALUE}).")
    int feedbackPort;

    @Option(names = "--feedback-key", paramLabel = "FILE", description = "Take only reports signed with this " +
        "shared secret (16 bytes or more; the file must be readable by its owner only), as the servers' " +
        "--feedback-key.")
    Path feedbackKey;

    @Mixin
    LogOptions logOptions = new LogOptions();

    @Option(names = "--metrics-address", paramLabel = "IP:PORT", description = "Serve Prometheus metrics at " +
        "http://IP:PORT/metrics (e.g. 127.0.0.1:9750); off unless given.")
    String metricsAddress;

    @Option(names = "--xdp-mode", defaultValue = "auto", converter = XdpModeConverter.class, paramLabel = "MODE",
        description = "auto (default), native or generic: where the kernel runs the XDP program. auto takes native " +
            "where the driver has it, but generic on a veth whose peer has no native XDP program, and keeps the " +
            "mode of a running attachment.")
    XdpModeOption xdpMode;

    @Option(names = "--detach", description = "Remove crab-lb from the interface: detach the XDP program and " +
        "delete its pinned state, then exit. Stopping crab-lb never does this.")
    boolean detach;

    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        return Cli.run(new CrabLb(), out, err, args);
    }

    @Override
    public Integer call() throws Exception
    {
        final PrintWriter out = spec.commandLine().getOut();
        if (detach)
        {
            if (iface == null || vips != null || backends != null || config != null || metricsAddress != null)
            {
                throw new ConfigException("--detach takes --iface only");
            }
            final int links = PinnedDatapath.detach(LbAgent.pinDir(iface));
            out.println(links == 0 ? "crab-lb: nothing attached on " + iface :
                "crab-lb: detached from " + iface + " and removed its pinned state");
            return Cli.OK;
        }
        final LbContext ctx = LbContext.of(iface, config, vips, backends, policy, redirectUnmarked,
            LbContext.Limits.of(maxServices, maxBackends, maxSlots, maglevSize, maxFallbackConnections,
                maxAffinityClients), !noWatch, OptionKind.of(optionKind, optionExid),
            healthIntervalMs, LbContext.Feedback.of(feedbackPort, feedbackKey))
            .withMetrics(MetricsServer.parseAddress(metricsAddress)).withXdpMode(xdpMode);
        final SystemNanoClock clock = new SystemNanoClock();
        final Log log = logOptions.log("crab-lb", spec.commandLine().getErr(), SystemEpochClock.INSTANCE);
        final LbAgent agent = new LbAgent(ctx, clock, SystemEpochClock.INSTANCE, log);
        Signal.handle(new Signal("HUP"), signal -> agent.requestReload());
        final String services = ctx.initial().services().stream()
            .map(s -> s.name() + " " + s.vip() + " (" + s.backends().size() + " backends, " +
                s.policy().word() + ")")
            .collect(Collectors.joining(", "));
        new AgentMain().run(agent, new SleepingMillisIdleStrategy(50), new DutyCycleErrors(log, clock),
            () -> "ready on " + ctx.iface() + ": " + services + "; XDP " + agent.xdpMode().word() + "; option " +
                ctx.option() + "; reloads on SIGHUP" + (ctx.watch() ? " and changes to " + ctx.source().file() : "") +
                (ctx.metrics() == null ? "" : "; metrics on http://" + MetricsServer.text(ctx.metrics()) + "/metrics"),
            log);
        return Cli.OK;
    }

    /** {@code crab-lb status --iface IFACE [--json]}. */
    @Command(name = "status", mixinStandardHelpOptions = true,
        description = "Per-VIP and per-backend counters of the crab-lb running on an interface.")
    static final class Status implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--iface", required = true)
        String iface;

        @Option(names = "--json", description = "One JSON document with the same content, for scripts.")
        boolean json;

        @Override
        public Integer call()
        {
            if (json)
            {
                LbStatus.printJson(LbStatus.read(iface), iface, spec.commandLine().getOut());
            }
            else
            {
                LbStatus.print(LbStatus.read(iface), iface, spec.commandLine().getOut());
            }
            return Cli.OK;
        }
    }

    static final class PolicyConverter implements picocli.CommandLine.ITypeConverter<Policy>
    {
        @Override
        public Policy convert(final String value)
        {
            try
            {
                return Policy.parse(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }

    /** {@code --xdp-mode}, read by {@link XdpModeOption#parse}; crab-k8s's option too. */
    public static final class XdpModeConverter implements picocli.CommandLine.ITypeConverter<XdpModeOption>
    {
        @Override
        public XdpModeOption convert(final String value)
        {
            try
            {
                return XdpModeOption.parse(value);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }
}

package io.crab.endpoint;

import io.crab.agent.AgentMain;
import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.agent.DutyCycleErrors;
import io.crab.agent.Log;
import io.crab.agent.LogOptions;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.metrics.MetricsServer;
import io.crab.bpf.Abi;
import io.crab.agent.OptionKind;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code crab-endpoint server|client}: the host side of connection redirect, as TC programs on an interface. */
@Command(name = "crab-endpoint", mixinStandardHelpOptions = true, version = "crab-endpoint 0.1.0",
    description = "Runs the client or server side of connection redirect on this host.",
    subcommands = {CrabEndpoint.Server.class, CrabEndpoint.Client.class})
public final class CrabEndpoint implements Callable<Integer>
{
    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        return Cli.run(new CrabEndpoint(), out, err, args);
    }

    /** Without a role there is nothing to run: one line, as for any other usage error. */
    @Override
    public Integer call()
    {
        throw new ConfigException("expected a command: server or client (--help lists them)");
    }

    /** Options every role takes. */
    static final class Common
    {
        @Option(names = "--iface", required = true, description = "Interface this host's traffic uses.")
        String iface;

        @Option(names = "--detach", description = "Remove this role from the interface (programs and state, so " +
            "connections it redirected break: drain first), then exit. Stopping the daemon never does this.")
        boolean detach;

        @Option(names = "--option-kind", defaultValue = "42", description = "TCP option kind (default 42).")
        int optionKind;

        @Option(names = "--option-exid", defaultValue = "0", description = "ExID for kinds 253/254 (RFC 6994).",
            converter = OptionKind.ExidConverter.class)
        int optionExid;

        @Mixin
        LogOptions logOptions = new LogOptions();

        @Option(names = "--metrics-address", paramLabel = "IP:PORT", description = "Serve Prometheus metrics at " +
            "http://IP:PORT/metrics (e.g. 127.0.0.1:9751); off unless given.")
        String metricsAddress;

        OptionKind option()
        {
            return OptionKind.of(optionKind, optionExid);
        }
    }

    static int serve(final CommandSpec spec, final Common common, final EndpointContext ctx) throws Exception
    {
        final SystemNanoClock clock = new SystemNanoClock();
        final Log log = common.logOptions.log(spec.qualifiedName(), spec.commandLine().getErr(),
            SystemEpochClock.INSTANCE);
        final EndpointAgent agent = new EndpointAgent(ctx, clock, SystemEpochClock.INSTANCE, log);
        new AgentMain().run(agent, idleStrategy(ctx, agent, clock), new DutyCycleErrors(log, clock), "ready on " +
            ctx.iface() + (ctx.vips().isEmpty() ? "" : " for VIPs " + ctx.vips()) + ", option " + ctx.option() +
            (ctx.metrics() == null ? "" : ", metrics on http://" + MetricsServer.text(ctx.metrics()) + "/metrics"),
            log);
        return Cli.OK;
    }

    /**
     * The flow sweep runs every 250 ms and the server has nothing else to do, so the agent sleeps 50 ms between
     * cycles; a reporting server sleeps until its next report is due, so it wakes once per report, not on a tick
     * (an application's queue line waits in its socket until then, which is when it is needed).
     */
    static IdleStrategy idleStrategy(final EndpointContext ctx, final EndpointAgent agent, final NanoClock clock)
    {
        if (ctx.reporting() == null)
        {
            return new SleepingMillisIdleStrategy(50);
        }
        return new UntilDeadlineIdleStrategy(clock, agent::nextReportNs, 50_000_000L);
    }

    /** {@code --detach}: removes the role's programs and state from the interface; never done on stop. */
    static int detach(final CommandSpec spec, final EndpointAgent.Role role, final String iface)
    {
        if (iface == null)
        {
            throw new ConfigException("--iface is required");
        }
        final int links = PinnedDatapath.detach(EndpointAgent.pinDir(role, iface));
        spec.commandLine().getOut().println(links == 0 ? "crab-endpoint: nothing attached on " + iface :
            "crab-endpoint " + role.name().toLowerCase() + ": detached from " + iface + " and removed its state");
        return Cli.OK;
    }

    @Command(name = "server", mixinStandardHelpOptions = true,
        description = "Echo the Connection Redirect option of redirected SYNs in the SYN-ACK.")
    static final class Server implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Mixin
        Common common = new Common();

        @Option(names = "--report-to", paramLabel = "LB_ADDR:PORT", description = "Report this host's load (the " +
            "connections of each listening port) to crab-lb's feedback port. Repeatable; without it, no reports.")
        List<String> reportTo;

        @Option(names = "--report-hz", paramLabel = "N", description = "Reports per second, " + LoadReporting.MIN_HZ +
            ".." + LoadReporting.MAX_HZ + " (default " + LoadReporting.DEFAULT_HZ + ").")
        Integer reportHz;

        @Option(names = "--report-from", paramLabel = "ADDR", description = "Source address of the reports " +
            "(default: the kernel's pick by route). crab-lb takes reports only from its backends' addresses.")
        String reportFrom;

        @Option(names = "--feedback-key", paramLabel = "FILE", description = "Sign reports with this shared " +
            "secret (16 bytes or more; the file must be readable by its owner only), as crab-lb's --feedback-key.")
        Path feedbackKey;

        @Option(names = "--load-socket", paramLabel = "PATH", description = "Unix socket where applications " +
            "write 'PORT QUEUE_LENGTH' lines; their queues are added to their ports' load.")
        Path loadSocket;

        @Override
        public Integer call() throws Exception
        {
            if (common.detach)
            {
                if (reportTo != null || reportHz != null || reportFrom != null || feedbackKey != null ||
                    loadSocket != null || common.metricsAddress != null)
                {
                    throw new ConfigException("--detach takes --iface only");
                }
                return detach(spec, EndpointAgent.Role.SERVER, common.iface);
            }
            return serve(spec, common, EndpointContext.server(common.iface, common.option(), reportTo, reportHz,
                reportFrom, feedbackKey, loadSocket).withMetrics(MetricsServer.parseAddress(common.metricsAddress)));
        }
    }

    @Command(name = "client", mixinStandardHelpOptions = true,
        description = "Mark SYNs to the VIPs and talk to the backend directly once redirected.")
    static final class Client implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Mixin
        Common common = new Common();

        @Option(names = "--vip", description = "A.B.C.D[:PORT] to accept redirects for. Repeatable.")
        List<String> vips;

        @Option(names = "--backends-cidr", paramLabel = "VIP[:PORT]=CIDR[,CIDR...]", description = "Accept a " +
            "redirect for this VIP only from backends in these prefixes (default: any address). Repeatable.")
        List<String> backendsCidr;

        @Option(names = "--flow-table-size", defaultValue = "" + Abi.Consts.CRAB_FLOW_TABLE_SIZE,
            description = "Redirected and pending connections this host can hold at once (default ${DEFAULT-VALUE}).")
        int flowTableSize;

        @Override
        public Integer call() throws Exception
        {
            if (common.detach)
            {
                if (vips != null || backendsCidr != null || common.metricsAddress != null)
                {
                    throw new ConfigException("--detach takes --iface only");
                }
                return detach(spec, EndpointAgent.Role.CLIENT, common.iface);
            }
            return serve(spec, common, EndpointContext.client(common.iface, common.option(), vips, backendsCidr,
                flowTableSize).withMetrics(MetricsServer.parseAddress(common.metricsAddress)));
        }
    }
}

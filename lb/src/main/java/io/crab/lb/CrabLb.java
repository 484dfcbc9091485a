package io.crab.lb;

import io.crab.agent.AgentMain;
import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.agent.DutyCycleErrors;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.agent.OptionKind;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemNanoClock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

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

    @Option(names = "--vip", description = "A.B.C.D[:PORT]; without a port every TCP port. Repeatable.")
    List<String> vips;

    @Option(names = "--backends", description = "File: one backend per line, IP[:PORT] [weight=N].")
    Path backends;

    @Option(names = "--policy", defaultValue = "rr", description = "rr (global round-robin), random or hash.",
        converter = PolicyConverter.class)
    Policy policy;

    @Option(names = "--redirect-unmarked", description = "Redirect SYNs without the client marker too " +
        "(clients with the kernel patch, which do not mark).")
    boolean redirectUnmarked;

    @Option(names = "--option-kind", defaultValue = "42", description = "TCP option kind (default 42).")
    int optionKind;

    @Option(names = "--option-exid", defaultValue = "0", description = "ExID for kinds 253/254 (RFC 6994).",
        converter = HexOrDecimal.class)
    int optionExid;

    @Option(names = "--health-interval-ms", defaultValue = "1000", description = "Backend TCP probe interval.")
    long healthIntervalMs;

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
            if (iface == null || vips != null || backends != null)
            {
                throw new ConfigException("--detach takes --iface only");
            }
            final int links = PinnedDatapath.detach(Pins.dir("lb", iface));
            out.println(links == 0 ? "crab-lb: nothing attached on " + iface :
                "crab-lb: detached from " + iface + " and removed its pinned state");
            return Cli.OK;
        }
        final LbContext ctx = LbContext.of(iface, vips, backends, policy, redirectUnmarked,
            OptionKind.of(optionKind, optionExid), healthIntervalMs);
        final SystemNanoClock clock = new SystemNanoClock();
        final LbAgent agent = new LbAgent(ctx, clock, spec.commandLine().getErr());
        new AgentMain().run(agent, new SleepingMillisIdleStrategy(50),
            new DutyCycleErrors("crab-lb", spec.commandLine().getErr(), clock), "crab-lb ready on " + ctx.iface() + ": " +
            ctx.vips() + " -> " + ctx.backends().size() + " backends, policy " + ctx.policy().name().toLowerCase() +
            ", option " + ctx.option(), out);
        return Cli.OK;
    }

    /** {@code crab-lb status --iface IFACE}. */
    @Command(name = "status", mixinStandardHelpOptions = true,
        description = "Per-VIP and per-backend counters of the crab-lb running on an interface.")
    static final class Status implements Callable<Integer>
    {
        @Spec
        CommandSpec spec;

        @Option(names = "--iface", required = true)
        String iface;

        @Override
        public Integer call()
        {
            LbStatus.print(LbStatus.read(iface), iface, spec.commandLine().getOut());
            return Cli.OK;
        }
    }

    static final class PolicyConverter implements picocli.CommandLine.ITypeConverter<Policy>
    {
        @Override
        public Policy convert(final String value)
        {
            return Policy.valueOf(value.toUpperCase());
        }
    }

    static final class HexOrDecimal implements picocli.CommandLine.ITypeConverter<Integer>
    {
        @Override
        public Integer convert(final String value)
        {
            return Integer.decode(value);
        }
    }
}

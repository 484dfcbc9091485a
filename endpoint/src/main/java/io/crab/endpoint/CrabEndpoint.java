package io.crab.endpoint;

import io.crab.agent.AgentMain;
import io.crab.agent.Cli;
import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.SystemNanoClock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code crab-endpoint server|client}: the host side of connection redirect, as TC programs on an interface. */
@Command(name = "crab-endpoint", mixinStandardHelpOptions = true, version = "crab-endpoint 0.1.0",
    description = "Runs the client or server side of connection redirect on this host.",
    subcommands = {CrabEndpoint.Server.class, CrabEndpoint.Client.class})
public final class CrabEndpoint
{
    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        return Cli.run(new CrabEndpoint(), out, err, args);
    }

    /** Options every role takes. */
    static final class Common
    {
        @Option(names = "--iface", required = true, description = "Interface this host's traffic uses.")
        String iface;

        @Option(names = "--option-kind", defaultValue = "42", description = "TCP option kind (default 42).")
        int optionKind;

        @Option(names = "--option-exid", defaultValue = "0", description = "ExID for kinds 253/254 (RFC 6994).")
        String optionExid;

        OptionKind option()
        {
            return OptionKind.of(optionKind, Integer.decode(optionExid));
        }
    }

    static int serve(final CommandSpec spec, final EndpointAgent.Role role, final Common common,
        final List<HostPort> vips) throws Exception
    {
        final EndpointAgent agent = new EndpointAgent(role, common.iface, vips, common.option(),
            new SystemNanoClock());
        new AgentMain().run(agent, new SleepingMillisIdleStrategy(50), "crab-endpoint " +
            role.name().toLowerCase() + " ready on " + common.iface + (vips.isEmpty() ? "" : " for VIPs " + vips) +
            ", option " + common.option(), spec.commandLine().getOut());
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

        @Override
        public Integer call() throws Exception
        {
            return serve(spec, EndpointAgent.Role.SERVER, common, List.of());
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

        @Option(names = "--vip", required = true, description = "A.B.C.D[:PORT] to accept redirects for. Repeatable.")
        List<String> vips;

        @Override
        public Integer call() throws Exception
        {
            return serve(spec, EndpointAgent.Role.CLIENT, common, HostPort.parseVips(vips));
        }
    }
}

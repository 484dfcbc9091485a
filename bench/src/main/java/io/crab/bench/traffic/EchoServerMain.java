package io.crab.bench.traffic;

import io.crab.agent.Cli;
import io.crab.agent.Parse;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** Command line echo server: serves until SIGINT or SIGTERM, printing a line with "ready" once listening. */
@Command(name = "crab-echo", mixinStandardHelpOptions = true,
    description = "TCP echo server for CRR/RR traffic; serves until SIGINT or SIGTERM.")
public final class EchoServerMain implements Callable<Integer>
{
    private static final long SHUTDOWN_WAIT_SECONDS = 5;

    @Option(names = "--listen", required = true, paramLabel = "IP:PORT", converter = AddressConverter.class,
        description = "Address to listen on, e.g. 10.0.0.2:7000 or [::1]:7000; port 0 picks a free port.")
    private InetSocketAddress listen;

    @Spec
    private CommandSpec spec;

    private final CountDownLatch stop;

    private EchoServerMain(final CountDownLatch stop)
    {
        this.stop = stop;
    }

    public static void main(final String... args)
    {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Parses args and serves until the JVM is told to shut down; returns the exit code. */
    public static int run(final PrintWriter out, final PrintWriter err, final String... args)
    {
        final CountDownLatch stop = new CountDownLatch(1);
        final CountDownLatch stopped = new CountDownLatch(1);
        // The JVM halts once hooks return, so the hook waits for the server to close and report first.
        final Thread hook = new Thread(() ->
        {
            stop.countDown();
            try
            {
                stopped.await(SHUTDOWN_WAIT_SECONDS, TimeUnit.SECONDS);
            }
            catch (InterruptedException e)
            {
                Thread.currentThread().interrupt();
            }
        }, "crab-echo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try
        {
            return run(out, err, stop, args);
        }
        finally
        {
            stopped.countDown();
            try
            {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
            catch (IllegalStateException shuttingDown)
            {
                // The hook is running, which is how we got here.
            }
        }
    }

    /** Like {@link #run(PrintWriter, PrintWriter, String...)} but serves until stop is counted down. */
    static int run(final PrintWriter out, final PrintWriter err, final CountDownLatch stop, final String... args)
    {
        return Cli.run(new EchoServerMain(stop), out, err, args);
    }

    @Override
    public Integer call() throws InterruptedException
    {
        final PrintWriter out = spec.commandLine().getOut();
        final EchoServer server;
        try
        {
            server = EchoServer.start(listen);
        }
        catch (IOException e)
        {
            throw new UncheckedIOException("cannot listen on " + Sockets.format(listen), e);
        }
        try (server)
        {
            final InetSocketAddress bound = new InetSocketAddress(listen.getAddress(), server.port());
            out.println("echo server ready on " + Sockets.format(bound));
            out.flush();
            stop.await();
        }
        out.println("echo server stopped: " + server.connectionsAccepted() + " connections, "
            + server.bytesEchoed() + " bytes echoed");
        out.flush();
        return 0;
    }

    /** Parses IP:PORT strictly ({@link Parse}), with IPv6 addresses in brackets; names are not looked up. */
    public static final class AddressConverter implements ITypeConverter<InetSocketAddress>
    {
        @Override
        public InetSocketAddress convert(final String value)
        {
            final int colon = value.lastIndexOf(':');
            if (colon <= 0 || colon == value.length() - 1)
            {
                throw new TypeConversionException("expected IP:PORT but got '" + value + "'");
            }
            final String host = value.substring(0, colon);
            final InetAddress address;
            final int port;
            try
            {
                address = host.startsWith("[") && host.endsWith("]") ?
                    Parse.ipv6(host.substring(1, host.length() - 1)) : Parse.ipv4(host);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage() + ", in '" + value + "' (IP:PORT, [IPv6]:PORT)");
            }
            try
            {
                port = Parse.decimalInt(value.substring(colon + 1), 0, 65_535);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException("'" + value + "': port " + ex.getMessage());
            }
            return new InetSocketAddress(address, port);
        }
    }
}

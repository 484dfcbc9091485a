package io.crab.bench.traffic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The echo server and its command line. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EchoServerTest
{
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @Test
    void echoesAndCounts() throws Exception
    {
        final EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0));
        try (server; Socket client = new Socket(LOOPBACK, server.port()))
        {
            assertNotEquals(0, server.port());
            final byte[] request = "hello, echo".getBytes(StandardCharsets.US_ASCII);
            client.getOutputStream().write(request);
            assertArrayEquals(request, client.getInputStream().readNBytes(request.length));
        }
        assertEquals(1, server.connectionsAccepted());
        assertEquals(11, server.bytesEchoed());
    }

    @Test
    void closeEndsOpenConnectionsAndStopsAccepting() throws Exception
    {
        final EchoServer server = EchoServer.start(new InetSocketAddress(LOOPBACK, 0));
        final int port = server.port();
        try (Socket client = new Socket(LOOPBACK, port))
        {
            client.setSoTimeout(10_000);
            client.getOutputStream().write(1);
            final InputStream in = client.getInputStream();
            assertEquals(1, in.read());

            server.close();

            assertEquals(-1, readAfterClose(in));
        }
        assertThrows(IOException.class, () -> new Socket(LOOPBACK, port).close());
        server.close();
    }

    @Test
    void bindingATakenPortFails() throws Exception
    {
        try (EchoServer first = EchoServer.start(new InetSocketAddress(LOOPBACK, 0)))
        {
            assertThrows(IOException.class, () -> EchoServer.start(new InetSocketAddress(LOOPBACK, first.port())));
        }
    }

    @Test
    void mainPrintsReadyAndServesUntilStopped() throws Exception
    {
        final PipedLines out = new PipedLines();
        final StringWriter err = new StringWriter();
        final CountDownLatch stop = new CountDownLatch(1);
        final CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() ->
            EchoServerMain.run(out.writer(), new PrintWriter(err), stop, "--listen", "127.0.0.1:0"));

        final String ready = out.awaitLine("ready");
        final Matcher port = Pattern.compile("127\\.0\\.0\\.1:(\\d+)").matcher(ready);
        assertTrue(port.find(), ready);
        final InetSocketAddress target = new InetSocketAddress(LOOPBACK, Integer.parseInt(port.group(1)));
        final LoadResult result = Crr.run(LoadSpec.to(target).withMaxTransactions(5));
        assertEquals(5, result.transactions(), result::toString);

        stop.countDown();
        assertEquals(0, exit.get(10, TimeUnit.SECONDS), err::toString);
        assertTrue(out.text().contains("echo server stopped: 5 connections, 40 bytes echoed"), out.text());
    }

    @Test
    void mainRejectsABadAddress()
    {
        final StringWriter err = new StringWriter();
        final int exit = EchoServerMain.run(new PrintWriter(new StringWriter()), new PrintWriter(err),
            new CountDownLatch(0), "--listen", "no-port-here");

        assertEquals(2, exit);
        assertTrue(err.toString().contains("IP:PORT"), err.toString());
    }

    @Test
    void addressConverterAcceptsIpv4AndBracketedIpv6() throws Exception
    {
        final EchoServerMain.AddressConverter converter = new EchoServerMain.AddressConverter();

        assertEquals(new InetSocketAddress(InetAddress.getByName("10.0.0.2"), 7000),
            converter.convert("10.0.0.2:7000"));
        assertEquals(new InetSocketAddress(InetAddress.getByName("::1"), 80), converter.convert("[::1]:80"));
    }

    private static int readAfterClose(final InputStream in) throws IOException
    {
        try
        {
            return in.read();
        }
        catch (SocketException reset)
        {
            // A close with unread data in the server's buffer is a reset, which ends the stream just the same.
            return -1;
        }
    }

    /** Collects printed text so the test can wait for a line while the command keeps running. */
    private static final class PipedLines
    {
        // StringWriter is backed by a StringBuffer, so reading while the command prints is safe.
        private final StringWriter buffer = new StringWriter();
        private final PrintWriter writer = new PrintWriter(buffer, true);

        PrintWriter writer()
        {
            return writer;
        }

        String text()
        {
            return buffer.toString();
        }

        String awaitLine(final String containing) throws InterruptedException
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline)
            {
                final String match = text().lines().filter(line -> line.contains(containing)).findFirst().orElse(null);
                if (match != null)
                {
                    return match;
                }
                Thread.sleep(10);
            }
            throw new AssertionError("no line containing '" + containing + "' in: " + text());
        }
    }
}

package io.crab.endpoint;

import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.ScratchNamespace.Connection;
import io.crab.endpoint.ScratchNamespace.Stack;
import org.agrona.collections.LongHashSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.crab.endpoint.SocketDiag.LIVE_CONNECTION_STATES;
import static io.crab.endpoint.SocketDiag.NLMSG_HDRLEN;
import static io.crab.endpoint.SocketDiag.TCP_CLOSE_WAIT;
import static io.crab.endpoint.SocketDiag.TCP_ESTABLISHED;
import static io.crab.endpoint.SocketDiag.TCP_FIN_WAIT2;
import static io.crab.endpoint.SocketDiag.TCP_LISTEN;
import static io.crab.endpoint.SocketDiag.TCP_TIME_WAIT;
import static io.crab.endpoint.SocketDiag.key;
import static io.crab.endpoint.SocketDiag.stateMask;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Real sockets on 127.0.0.1 in a namespace of the test's own, dumped through a sock_diag socket opened there and
 * read from the test's thread, which is in another namespace: only the namespace the socket was opened in counts.
 * The expected keys are {@link SocketDiag#key} of each socket's tuple as Java reports it.
 */
@ExtendWith(KernelRequired.class)
class SocketDiagTest
{
    private static final int LOOPBACK = 0x7F000001;
    private static final int ANY_STATE = -1;
    private static final long STATE_CHANGE_TIMEOUT_NS = 5_000_000_000L;

    private final LongHashSet keys = new LongHashSet();
    private ScratchNamespace namespace;
    private SocketDiag socketDiag;

    @BeforeEach
    void openSocketDiagInAScratchNamespace()
    {
        namespace = ScratchNamespace.create();
        socketDiag = namespace.netns().call(SocketDiag::open);
    }

    @AfterEach
    void closeAndDeleteTheNamespace()
    {
        try
        {
            if (socketDiag != null)
            {
                socketDiag.close();
            }
        }
        finally
        {
            if (namespace != null)
            {
                namespace.close();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Stack.class)
    void bothEndsOfAnEstablishedConnectionAreReported(final Stack stack) throws Exception
    {
        try (ServerSocketChannel listener = namespace.listen(stack);
            Connection connection = namespace.connect(stack, listener))
        {
            socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            assertTrue(keys.contains(connection.clientKey()), "client end");
            assertTrue(keys.contains(connection.serverKey()), "server end");
            assertEquals(2, keys.size(), "nothing else: the listener is not asked for, the test's namespace not seen");

            socketDiag.dump(stateMask(TCP_ESTABLISHED), keys);
            assertEquals(2, keys.size());
            if (stack == Stack.DUAL_STACK)
            {
                final int port = ((InetSocketAddress)connection.client().getLocalAddress()).getPort();
                assertTrue(listedInTcp6(port), "Java's default sockets are AF_INET6, so the AF_INET6 dump found them");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Stack.class)
    void theEndThatClosesFirstLeavesTheDumpInTimeWaitAndItsPeerWhenClosed(final Stack stack) throws Exception
    {
        try (ServerSocketChannel listener = namespace.listen(stack);
            Connection connection = namespace.connect(stack, listener))
        {
            final long client = connection.clientKey();
            final long server = connection.serverKey();

            connection.client().close();
            awaitReported(stateMask(TCP_FIN_WAIT2), client);
            awaitReported(stateMask(TCP_CLOSE_WAIT), server);
            socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            assertTrue(keys.contains(client) && keys.contains(server), "half-closed, both ends are still live");
            socketDiag.dump(stateMask(TCP_ESTABLISHED), keys);
            assertTrue(keys.isEmpty(), "only the states asked for: " + keys);

            connection.server().close();
            awaitReported(stateMask(TCP_TIME_WAIT), client);
            awaitGone(server);
            socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            assertTrue(keys.isEmpty(), "the client end in TIME_WAIT, the server end (LAST_ACK, acked) closed: " + keys);
        }
    }

    @Test
    void aListenerIsReportedOnlyWhenListenIsAsked() throws Exception
    {
        try (ServerSocketChannel listener = namespace.listen(Stack.IPV4))
        {
            final int port = ((InetSocketAddress)listener.getLocalAddress()).getPort();

            socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            assertTrue(keys.isEmpty(), keys.toString());

            socketDiag.dump(stateMask(TCP_LISTEN), keys);
            assertEquals(1, keys.size());
            assertTrue(keys.contains(key(LOOPBACK, port, 0, 0)), "a listener's remote end is 0.0.0.0:0");
        }
    }

    @Test
    void aRealIpv6ConnectionIsNotReported() throws Exception
    {
        try (ServerSocketChannel listener = namespace.netns().call(() ->
            ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getByName("::1"), 0)));
            Connection connection = namespace.connect(Stack.DUAL_STACK, listener))
        {
            assertTrue(connection.client().isConnected());
            socketDiag.dump(ANY_STATE, keys);
            assertTrue(keys.isEmpty(), "crab is IPv4 only: " + keys);
        }
    }

    @Test
    void thousandsOfSocketsAreAllReportedOverManyDatagrams() throws Exception
    {
        // 6,000 sockets of 88 bytes of reply each are 528 kB: at most 32 KiB a datagram, so at least 17 datagrams.
        final int connectionsPerStack = 1_500;
        final List<AutoCloseable> sockets = new ArrayList<>();
        final LongHashSet expected = new LongHashSet();
        try
        {
            for (final Stack stack : Stack.values())
            {
                final ServerSocketChannel listener = namespace.listen(stack);
                sockets.add(listener);
                for (int i = 0; i < connectionsPerStack; i++)
                {
                    final Connection connection = namespace.connect(stack, listener);
                    sockets.add(connection);
                    expected.add(connection.clientKey());
                    expected.add(connection.serverKey());
                }
            }
            assertEquals(4 * connectionsPerStack, expected.size(), "distinct tuples, distinct keys");

            socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            assertEquals(expected.size(), keys.size());
            assertEquals(expected, keys);

            // A buffer that holds no datagram at all grows to the first one's size instead of losing sockets.
            try (SocketDiag tiny = namespace.netns().call(() -> SocketDiag.open(NLMSG_HDRLEN)))
            {
                tiny.dump(LIVE_CONNECTION_STATES, keys);
                assertEquals(expected, keys);
            }
        }
        finally
        {
            for (final AutoCloseable socket : sockets)
            {
                socket.close();
            }
        }
    }

    @Test
    void aDumpAllocatesNothingOnceWarm() throws Exception
    {
        final List<Connection> connections = new ArrayList<>();
        try (ServerSocketChannel listener = namespace.listen(Stack.DUAL_STACK))
        {
            for (int i = 0; i < 50; i++)
            {
                connections.add(namespace.connect(Stack.DUAL_STACK, listener));
            }
            final com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
            for (int i = 0; i < 100; i++)
            {
                socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            }
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 200; i++)
            {
                socketDiag.dump(LIVE_CONNECTION_STATES, keys);
            }
            final long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(100, keys.size());
            assertEquals(0, allocated, "bytes allocated by 200 dumps");
        }
        finally
        {
            for (final Connection connection : connections)
            {
                connection.close();
            }
        }
    }

    @Test
    void aClosedSocketDiagRefusesToDump()
    {
        socketDiag.close();
        socketDiag.close();
        assertThrows(IllegalStateException.class, () -> socketDiag.dump(LIVE_CONNECTION_STATES, keys));
    }

    private void awaitReported(final int states, final long key) throws InterruptedException
    {
        final long deadline = System.nanoTime() + STATE_CHANGE_TIMEOUT_NS;
        while (true)
        {
            socketDiag.dump(states, keys);
            if (keys.contains(key))
            {
                return;
            }
            if (System.nanoTime() > deadline)
            {
                fail("socket never reported in states 0x" + Integer.toHexString(states));
            }
            Thread.sleep(1);
        }
    }

    private void awaitGone(final long key) throws InterruptedException
    {
        final long deadline = System.nanoTime() + STATE_CHANGE_TIMEOUT_NS;
        while (true)
        {
            socketDiag.dump(ANY_STATE, keys);
            if (!keys.contains(key))
            {
                return;
            }
            if (System.nanoTime() > deadline)
            {
                fail("socket still reported");
            }
            Thread.sleep(1);
        }
    }

    /** Whether the namespace's /proc/net/tcp6 lists a socket with this local port. */
    private boolean listedInTcp6(final int port)
    {
        final String localPort = String.format(":%04X", port);
        return namespace.netns().call(() ->
            Files.readAllLines(Path.of("/proc/thread-self/net/tcp6")).stream()
                .skip(1)
                .anyMatch((line) -> line.trim().split("\\s+")[1].endsWith(localPort)));
    }
}

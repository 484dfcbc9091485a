package io.crab.endpoint;

import io.crab.agent.HostPort;
import io.crab.bpf.Netns;
import io.crab.rig.Shell;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A network namespace of one test's own, with only {@code lo} up (127.0.0.1 and ::1), so that what a test sees
 * there is only what it made; and the TCP connections the test makes in it. Its name, crab-sd-&lt;random&gt;, is
 * not a topology's, which the rig's clean-up of stale topologies would take for a dead one.
 */
final class ScratchNamespace implements AutoCloseable
{
    /** How a test's sockets are opened: AF_INET, or AF_INET6 talking IPv4 through IPv4-mapped addresses. */
    enum Stack
    {
        IPV4, DUAL_STACK;

        SocketChannel openClient() throws IOException
        {
            return this == IPV4 ? SocketChannel.open(StandardProtocolFamily.INET) : SocketChannel.open();
        }

        ServerSocketChannel openServer() throws IOException
        {
            return this == IPV4 ? ServerSocketChannel.open(StandardProtocolFamily.INET) : ServerSocketChannel.open();
        }
    }

    /** Both ends of one connection, and the socket keys of {@link SocketDiag#key} they must have. */
    record Connection(SocketChannel client, SocketChannel server) implements AutoCloseable
    {
        long clientKey() throws IOException
        {
            return keyOf(client);
        }

        long serverKey() throws IOException
        {
            return keyOf(server);
        }

        @Override
        public void close() throws IOException
        {
            try
            {
                client.close();
            }
            finally
            {
                server.close();
            }
        }

        private static long keyOf(final SocketChannel channel) throws IOException
        {
            final InetSocketAddress local = (InetSocketAddress)channel.getLocalAddress();
            final InetSocketAddress remote = (InetSocketAddress)channel.getRemoteAddress();
            return SocketDiag.key(ipv4(local), local.getPort(), ipv4(remote), remote.getPort());
        }
    }

    private final Netns netns;

    private ScratchNamespace(final Netns netns)
    {
        this.netns = netns;
    }

    static ScratchNamespace create()
    {
        final String name = "crab-sd-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
        Shell.run("ip", "netns", "add", name);
        final ScratchNamespace namespace = new ScratchNamespace(Netns.named(name));
        try
        {
            Shell.run("ip", "-n", name, "link", "set", "lo", "up");
        }
        catch (final RuntimeException ex)
        {
            namespace.close();
            throw ex;
        }
        return namespace;
    }

    Netns netns()
    {
        return netns;
    }

    /** A listener on 127.0.0.1 with a backlog for the thousands of connections a test may queue. */
    ServerSocketChannel listen(final Stack stack)
    {
        return netns.call(() ->
            stack.openServer().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096));
    }

    /** Connects and accepts in the namespace, where sockets must be created to belong to it. */
    Connection connect(final Stack stack, final ServerSocketChannel listener)
    {
        return netns.call(() ->
        {
            final SocketChannel client = stack.openClient();
            try
            {
                client.connect(listener.getLocalAddress());
                return new Connection(client, listener.accept());
            }
            catch (final IOException | RuntimeException ex)
            {
                client.close();
                throw ex;
            }
        });
    }

    /** Deletes the name; the kernel frees the namespace once its last socket is closed. */
    @Override
    public void close()
    {
        Shell.run("ip", "netns", "del", netns.name());
    }

    /** An IPv4 address as a big-endian int; Java shows the IPv4-mapped address of a dual-stack socket as IPv4. */
    static int ipv4(final InetSocketAddress address)
    {
        if (!(address.getAddress() instanceof Inet4Address))
        {
            throw new IllegalStateException("not an IPv4 address: " + address);
        }
        return HostPort.ipv4Bits(address.getAddress());
    }
}

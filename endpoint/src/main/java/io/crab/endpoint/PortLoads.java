package io.crab.endpoint;

import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntCounterMap;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.IntIntConsumer;

import static io.crab.endpoint.SocketDiag.TCP_ESTABLISHED;
import static io.crab.endpoint.SocketDiag.TCP_LISTEN;
import static io.crab.endpoint.SocketDiag.TCP_SYN_RECV;
import static io.crab.endpoint.SocketDiag.stateMask;

/**
 * Each listening TCP port of the namespace and the connections it holds, from one socket dump: the sockets on that
 * local port that are ESTABLISHED or SYN_RECV. A connection waiting in the accept queue is ESTABLISHED, so it counts:
 * that queue is what a load-aware policy must see (a server that serves one request at a time has the one it serves
 * plus its queue). Sockets of every family count, since a server carrying IPv6 clients is as busy. Nothing is
 * allocated per measure once the sets have grown to fit the host.
 */
final class PortLoads implements SocketDiag.SocketSink
{
    static final int STATES = stateMask(TCP_LISTEN) | stateMask(TCP_ESTABLISHED) | stateMask(TCP_SYN_RECV);

    private final IntHashSet listening = new IntHashSet();
    private final Int2IntCounterMap connections = new Int2IntCounterMap(0);

    /** Dumps the sockets again; a failed dump closes {@code socketDiag} (see {@link SocketDiag#dump}). */
    void measure(final SocketDiag socketDiag)
    {
        listening.clear();
        connections.clear();
        socketDiag.dump(STATES, this);
    }

    @Override
    public void onSocket(final DirectBuffer datagram, final int socket)
    {
        final int port = SocketDiag.localPort(datagram, socket);
        if (SocketDiag.state(datagram, socket) == TCP_LISTEN)
        {
            listening.add(port);
        }
        else
        {
            connections.incrementAndGet(port);
        }
    }

    /** Hands {@code consumer} each listening port with its connections, 0 included, as the last measure found. */
    void forEachListening(final IntIntConsumer consumer)
    {
        final IntHashSet.IntIterator ports = listening.iterator();
        while (ports.hasNext())
        {
            final int port = ports.nextValue();
            consumer.accept(port, connections.get(port));
        }
    }
}

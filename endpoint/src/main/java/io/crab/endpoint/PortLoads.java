package io.crab.endpoint;

import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntCounterMap;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.IntIntConsumer;

import java.nio.ByteOrder;

import static io.crab.endpoint.SocketDiag.TCP_ESTABLISHED;
import static io.crab.endpoint.SocketDiag.TCP_LISTEN;
import static io.crab.endpoint.SocketDiag.TCP_SYN_RECV;
import static io.crab.endpoint.SocketDiag.stateMask;

/**
 * Each listening TCP port of the namespace and its load: the connections it holds, ESTABLISHED or SYN_RECV. A
 * connection waiting in the accept queue is ESTABLISHED, so it counts: that queue is what a load-aware policy must
 * see (a server that serves one request at a time has the one it serves plus its queue). Sockets of every family
 * count, since a server carrying IPv6 clients is as busy.
 * <p>
 * Two measures, because their costs differ by a hundred times. Dumping the connections walks the kernel's whole
 * established-connection hash table whatever the namespace holds (2 ms for the 262,144 buckets of the 2-core test
 * VM, more on a large host), while dumping the listeners walks only theirs (20 µs), and each listener carries its
 * accept queue's length. So {@link #measureConnections} runs when connections came or went ({@link LoadReporter}
 * decides) and {@link #measureQueues} every report: a port's load is the connections in service at the last
 * connection dump (those not in the accept queue then) plus its accept queue now. Nothing is allocated per
 * measure once the sets have grown to fit the host.
 */
final class PortLoads implements SocketDiag.SocketSink
{
    static final int CONNECTION_STATES = stateMask(TCP_LISTEN) | stateMask(TCP_ESTABLISHED) | stateMask(TCP_SYN_RECV);
    static final int LISTEN_STATES = stateMask(TCP_LISTEN);

    private final IntHashSet listening = new IntHashSet();
    /** Per port, at the last connection dump: its connections, and how many of them were in the accept queue. */
    private final Int2IntCounterMap connections = new Int2IntCounterMap(0);
    private final Int2IntCounterMap queuedAtConnectionDump = new Int2IntCounterMap(0);
    /** Per port, at the last measure of either kind: connections in its listeners' accept queues. */
    private final Int2IntCounterMap queued = new Int2IntCounterMap(0);
    private final IntIntConsumer copyToQueuedAtConnectionDump = queuedAtConnectionDump::addAndGet;

    /** Dumps the connections and the listeners; a failed dump closes {@code socketDiag} (see SocketDiag#dump). */
    void measureConnections(final SocketDiag socketDiag)
    {
        listening.clear();
        queued.clear();
        connections.clear();
        socketDiag.dump(CONNECTION_STATES, this);
        queuedAtConnectionDump.clear();
        queued.forEach(copyToQueuedAtConnectionDump);
    }

    /** Dumps the listeners only: their accept queues now, the connections in service as the last dump found. */
    void measureQueues(final SocketDiag socketDiag)
    {
        listening.clear();
        queued.clear();
        socketDiag.dump(LISTEN_STATES, this);
    }

    @Override
    public void onSocket(final DirectBuffer datagram, final int socket)
    {
        final int port = SocketDiag.localPort(datagram, socket);
        if (SocketDiag.state(datagram, socket) == TCP_LISTEN)
        {
            listening.add(port);
            // A listener's receive queue, as sock_diag gives it, is its accept queue's length.
            queued.addAndGet(port, datagram.getInt(socket + SocketDiag.MSG_RQUEUE, ByteOrder.nativeOrder()));
        }
        else
        {
            connections.incrementAndGet(port);
        }
    }

    /** Hands {@code consumer} each listening port with its load, 0 included. */
    void forEachListening(final IntIntConsumer consumer)
    {
        final IntHashSet.IntIterator ports = listening.iterator();
        while (ports.hasNext())
        {
            final int port = ports.nextValue();
            final int inService = Math.max(0, connections.get(port) - queuedAtConnectionDump.get(port));
            consumer.accept(port, inService + queued.get(port));
        }
    }
}

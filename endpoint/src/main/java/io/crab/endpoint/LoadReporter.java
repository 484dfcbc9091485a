package io.crab.endpoint;

import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.agent.feedback.LoadReport;
import org.agrona.collections.IntIntConsumer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongLongConsumer;
import org.agrona.concurrent.EpochClock;
import org.agrona.concurrent.NanoClock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.Arrays;
import java.util.List;

/**
 * A server's load reports to crab-lb ({@code --report-to}): every period, the load of each listening port (its
 * connections and accept queue, {@link PortLoads}, plus what applications say of their queues, {@link AppQueues}),
 * one complete
 * report per datagram to each LB. Complete, not a delta, so a lost report or a restarted LB costs one period; sent
 * from a non-blocking socket, so an unreachable LB costs a counted error, never the duty cycle. Driven by the
 * endpoint agent's duty cycle, on its thread: it opens its sock_diag socket there, in the namespace it measures.
 */
final class LoadReporter implements AutoCloseable
{
    /**
     * Connections are dumped when the namespace's TCP socket count changed (a connection came or went), but no
     * sooner than this many times the last dump's duration after it: 10 % of the agent's thread at most (every 22
     * ms on the test VM) while connections churn, and nearly nothing while they do not. The accept queues are
     * read every report.
     */
    static final long CONNECTION_DUMP_SPACING = 10;
    /** Connections are dumped this often in any case, for changes that leave the count as it was. */
    static final long CONNECTION_DUMP_REFRESH_NS = 1_000_000_000L;

    private final LoadReporting settings;
    private final NanoClock clock;
    private final EpochClock wallClock;
    private final Log log;
    private final long periodNs;
    private final LoadReport.Writer writer;
    private final ByteBuffer datagram;
    private final PortLoads portLoads = new PortLoads();
    /** This period's load by port. */
    private final Long2LongHashMap loads = new Long2LongHashMap(-1);
    private final IntIntConsumer addToLoads = this::addLoad;
    private final LongLongConsumer addToRanked = this::rank;
    /** load << 16 | port of each port, sorted when there are more than a report holds. */
    private long[] ranked = new long[LoadReport.MAX_ENTRIES];
    private SocketDiag socketDiag;
    private DatagramChannel channel;
    private AppQueues appQueues;
    private TcpSocketCount tcpSockets;
    private long nextReportNs;
    private long lastConnectionDumpNs;
    private long earliestConnectionDumpNs;
    private long tcpSocketsAtConnectionDump = -1;
    private int portCount;
    private boolean loggedTooManyPorts;
    private long reportsSent;
    private long sendErrors;
    /** Per destination: the IPv4 address its reports leave from, as a big-endian int; 0 while there is no route. */
    private int[] senderAddresses;
    private long nextSenderLookupNs;

    LoadReporter(final LoadReporting settings, final NanoClock clock, final EpochClock wallClock,
        final Log log)
    {
        this.settings = settings;
        this.clock = clock;
        this.wallClock = wallClock;
        this.log = log;
        this.periodNs = 1_000_000_000L / settings.hz();
        this.writer = new LoadReport.Writer(settings.key());
        this.datagram = ByteBuffer.wrap(writer.bytes());
    }

    /** Opens its sockets on the calling thread, which must be in the namespace to measure. */
    void open()
    {
        socketDiag = SocketDiag.open();
        try
        {
            tcpSockets = TcpSocketCount.open();
            channel = DatagramChannel.open(StandardProtocolFamily.INET);
            channel.configureBlocking(false);
            if (settings.from() != null)
            {
                channel.bind(new InetSocketAddress(settings.from(), 0));
            }
        }
        catch (final IOException ex)
        {
            close();
            throw new UncheckedIOException("--report-from " + settings.from() + ": " + ex.getMessage(), ex);
        }
        catch (final RuntimeException ex)
        {
            close();
            throw ex;
        }
        if (settings.loadSocket() != null)
        {
            try
            {
                appQueues = AppQueues.open(settings.loadSocket(), log);
            }
            catch (final RuntimeException ex)
            {
                close();
                throw ex;
            }
        }
        senderAddresses = new int[settings.destinations().size()];
        lookUpSenderAddresses();
        nextReportNs = clock.nanoTime();
    }

    /**
     * The address each LB is reached from: the report names it and is signed with it, and crab-lb takes a report only
     * from the address it names. A connected datagram socket asks the kernel's routing which source it would use,
     * without sending anything. An LB without a route yet is looked up again at most once a second.
     */
    private void lookUpSenderAddresses()
    {
        final List<InetSocketAddress> destinations = settings.destinations();
        for (int i = 0; i < destinations.size(); i++)
        {
            if (senderAddresses[i] != 0)
            {
                continue;
            }
            try (DatagramChannel probe = DatagramChannel.open(StandardProtocolFamily.INET))
            {
                if (settings.from() != null)
                {
                    probe.bind(new InetSocketAddress(settings.from(), 0));
                }
                probe.connect(destinations.get(i));
                senderAddresses[i] = HostPort.ipv4Bits(((InetSocketAddress)probe.getLocalAddress()).getAddress());
            }
            catch (final IOException ex)
            {
                senderAddresses[i] = 0; // no route yet: the send fails too, and is counted
            }
        }
        nextSenderLookupNs = clock.nanoTime() + 1_000_000_000L;
    }

    /** When the next report is due (the clock's nanoseconds). */
    long nextReportNs()
    {
        return nextReportNs;
    }

    /** Reads the applications' queues, and reports when a period has passed. */
    int doWork()
    {
        int work = appQueues == null ? 0 : appQueues.poll();
        final long now = clock.nanoTime();
        if (now - nextReportNs < 0)
        {
            return work;
        }
        // On the period's grid, so the rate holds; after a stall (a paused VM) the next report is a period away.
        nextReportNs += periodNs;
        if (now - nextReportNs >= 0)
        {
            nextReportNs = now + periodNs;
        }
        measure();
        encode();
        if (now - nextSenderLookupNs >= 0)
        {
            for (final int address : senderAddresses)
            {
                if (address == 0)
                {
                    lookUpSenderAddresses();
                    break;
                }
            }
        }
        send();
        return work + 1;
    }

    /** This period's load of every listening port and of every port an application reports a queue for. */
    private void measure()
    {
        if (socketDiag == null)
        {
            socketDiag = SocketDiag.open();
        }
        loads.clear();
        try
        {
            final long start = clock.nanoTime();
            final long inUse = tcpSockets.read();
            final boolean changed = inUse != tcpSocketsAtConnectionDump;
            if (tcpSocketsAtConnectionDump < 0 || start - lastConnectionDumpNs >= CONNECTION_DUMP_REFRESH_NS ||
                changed && start - earliestConnectionDumpNs >= 0)
            {
                portLoads.measureConnections(socketDiag);
                final long cost = clock.nanoTime() - start;
                lastConnectionDumpNs = start;
                earliestConnectionDumpNs = start + cost * CONNECTION_DUMP_SPACING;
                tcpSocketsAtConnectionDump = inUse;
            }
            else
            {
                portLoads.measureQueues(socketDiag);
            }
        }
        catch (final RuntimeException ex)
        {
            // The dump closed it; the next period opens another, on this same thread.
            socketDiag = null;
            throw ex;
        }
        portLoads.forEachListening(addToLoads);
        if (appQueues != null)
        {
            appQueues.forEach(addToLoads);
        }
    }

    private void addLoad(final int port, final int load)
    {
        loads.put(port, Math.max(loads.get(port), 0) + load);
    }

    /** Writes the report: every port, or the most loaded ones when there are more than it holds. */
    private void encode()
    {
        portCount = 0;
        loads.forEachLong(addToRanked);
        writer.begin(wallClock.time() * 1000L);
        if (portCount > LoadReport.MAX_ENTRIES)
        {
            Arrays.sort(ranked, 0, portCount);
            if (!loggedTooManyPorts)
            {
                loggedTooManyPorts = true;
                log.warn(portCount + " ports have a load, more than a report holds (" +
                    LoadReport.MAX_ENTRIES + "): reporting the most loaded ones (logged once)");
            }
        }
        for (int i = portCount - 1; i >= Math.max(0, portCount - LoadReport.MAX_ENTRIES); i--)
        {
            writer.add((int)(ranked[i] & 0xffff), ranked[i] >>> 16);
        }
    }

    private void rank(final long port, final long load)
    {
        if (portCount == ranked.length)
        {
            ranked = Arrays.copyOf(ranked, ranked.length * 2);
        }
        ranked[portCount++] = Math.min(load, LoadReport.MAX_LOAD) << 16 | port;
    }

    /** Sends the report to every LB, naming the address it leaves from; a failure is counted, the others go. */
    private void send()
    {
        IOException failure = null;
        InetSocketAddress failedTo = null;
        final List<InetSocketAddress> destinations = settings.destinations();
        for (int i = 0; i < destinations.size(); i++)
        {
            final InetSocketAddress lb = destinations.get(i);
            datagram.clear().limit(writer.finish(senderAddresses[i]));
            try
            {
                if (channel.send(datagram, lb) == 0)
                {
                    sendErrors++;
                }
                else
                {
                    reportsSent++;
                }
            }
            catch (final IOException ex)
            {
                sendErrors++;
                if (failure == null)
                {
                    failure = ex;
                    failedTo = lb;
                }
            }
        }
        if (failure != null)
        {
            // The same message every time, so the duty cycle's error handler logs it once per 10 s, with a count.
            throw new UncheckedIOException("sending a load report to " + failedTo + ": " + failure.getMessage(),
                failure);
        }
    }

    long reportsSent()
    {
        return reportsSent;
    }

    long sendErrors()
    {
        return sendErrors;
    }

    @Override
    public void close()
    {
        if (appQueues != null)
        {
            appQueues.close();
        }
        if (socketDiag != null)
        {
            socketDiag.close();
        }
        if (tcpSockets != null)
        {
            tcpSockets.close();
        }
        if (channel != null)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ex)
            {
                // nothing to flush on a datagram socket
            }
        }
    }
}

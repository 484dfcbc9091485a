package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.feedback.LoadReport;
import io.crab.bpf.Abi;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2IntHashMap;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which load reports crab-lb believes, and which backends they speak for. Every datagram may be forged, so:
 * <ul>
 * <li>a report is taken only from the address of a configured backend (an off-path host elsewhere gets nothing
 *     without spoofing one), and its entries speak only for that address's backends: entry (S, P) is backend S:P
 *     if configured, and the entries of S whose port is no configured S:P add up to backend S (the one that serves
 *     on its service's VIP port); an entry naming no backend is ignored;</li>
 * <li>with a key, only reports signed with it, stamped within 5 s of this host's wall clock and newer than the last
 *     one accepted from the address: a forger without the key changes nothing, and a recorded report can be
 *     replayed at most once, within 5 s, and only after a crab-lb restart emptied its memory;</li>
 * <li>without a key, a report must only be newer than the last one accepted from its address, so reordering never
 *     moves a load back. That memory is forgotten after {@link #ORDER_MEMORY_NS} without an accepted report: one
 *     report spoofed with a stamp far in the future would otherwise lock the real sender out for good, and
 *     forgetting gives such a forger no more than it has anyway without a key (to set the load it likes for as
 *     long as it keeps sending).</li>
 * </ul>
 * A refused report changes nothing here or in the maps. Used on the feedback receiver's thread only; nothing is
 * allocated per report, only when the backends change.
 */
final class ReportTrust
{
    /** Without a key, the sender's last timestamp is forgotten after this long without an accepted report. */
    static final long ORDER_MEMORY_NS = 1_000_000_000L;

    /** Where accepted loads go: {@link BackendLoads#report} in crab-lb. */
    interface LoadSink
    {
        void report(int backendId, long load);
    }

    private final LoadReport.Reader reader;
    private final boolean keyed;
    private Map<InetAddress, Source> sources = Map.of();

    ReportTrust(final FeedbackKey key)
    {
        this.reader = new LoadReport.Reader(key);
        this.keyed = key != null;
    }

    /**
     * Follows a publication: the backend ids by target. A sender that stays a backend keeps its last timestamp, so
     * a publication opens no window for a replay.
     */
    void track(final Map<HostPort, Integer> ids)
    {
        final Map<InetAddress, List<Map.Entry<HostPort, Integer>>> byAddress = new HashMap<>();
        ids.entrySet().forEach(e -> byAddress.computeIfAbsent(e.getKey().address(), a -> new ArrayList<>()).add(e));
        final Map<InetAddress, Source> next = new HashMap<>();
        byAddress.forEach((address, targets) ->
        {
            final Source source = new Source(address, targets);
            final Source before = sources.get(address);
            if (before != null)
            {
                source.lastTimestampMicros = before.lastTimestampMicros;
                source.lastAcceptedNs = before.lastAcceptedNs;
            }
            next.put(address, source);
        });
        sources = next;
    }

    /**
     * Judges a datagram from {@code sender} and, if it is accepted, hands {@code sink} the load of each backend it
     * speaks for. Returns the feedback counter it counts as (enum crab_feedback_counter).
     */
    int accept(final InetAddress sender, final DirectBuffer buffer, final int offset, final int length,
        final long nowNs, final long nowMicros, final LoadSink sink)
    {
        final Source source = sources.get(sender);
        if (source == null)
        {
            return Abi.Consts.CRAB_FBK_REFUSED_SOURCE;
        }
        // The cheap checks first, the MAC last: a flood of forgeries costs a MAC only when it gets that far.
        LoadReport.Verdict verdict = reader.wrapForm(buffer, offset, length);
        if (verdict == LoadReport.Verdict.ACCEPTED && reader.senderAddress() != source.address)
        {
            verdict = LoadReport.Verdict.WRONG_SENDER;
        }
        if (verdict == LoadReport.Verdict.ACCEPTED)
        {
            final boolean remembered = keyed || nowNs - source.lastAcceptedNs < ORDER_MEMORY_NS;
            verdict = reader.order(remembered ? source.lastTimestampMicros : Long.MIN_VALUE, nowMicros);
        }
        if (verdict == LoadReport.Verdict.ACCEPTED)
        {
            verdict = reader.verifyMac();
        }
        if (verdict != LoadReport.Verdict.ACCEPTED)
        {
            return counter(verdict);
        }
        source.lastTimestampMicros = reader.timestampMicros();
        source.lastAcceptedNs = nowNs;
        source.apply(reader, sink);
        return Abi.Consts.CRAB_FBK_ACCEPTED;
    }

    static int counter(final LoadReport.Verdict verdict)
    {
        return switch (verdict)
        {
            case ACCEPTED -> Abi.Consts.CRAB_FBK_ACCEPTED;
            case TRUNCATED -> Abi.Consts.CRAB_FBK_TRUNCATED;
            case BAD_MAGIC -> Abi.Consts.CRAB_FBK_BAD_MAGIC;
            case BAD_VERSION -> Abi.Consts.CRAB_FBK_BAD_VERSION;
            case COUNT_MISMATCH -> Abi.Consts.CRAB_FBK_COUNT_MISMATCH;
            case MISSING_MAC -> Abi.Consts.CRAB_FBK_MISSING_MAC;
            case UNAUTHENTICATED -> Abi.Consts.CRAB_FBK_UNAUTHENTICATED;
            case BAD_MAC -> Abi.Consts.CRAB_FBK_BAD_MAC;
            case OLD_TIMESTAMP -> Abi.Consts.CRAB_FBK_OLD_TIMESTAMP;
            case CLOCK_SKEW -> Abi.Consts.CRAB_FBK_CLOCK_SKEW;
            case WRONG_SENDER -> Abi.Consts.CRAB_FBK_WRONG_SENDER;
        };
    }

    /** One sender address: its backends, and what it last had accepted. */
    private static final class Source
    {
        /** The address, as a big-endian int: what its reports must name. */
        private final int address;
        /** Backend S ("the VIP's port"), or -1. */
        private final int anyPortId;
        /** Port P to the index of backend S:P in {@link #portIds}. */
        private final Int2IntHashMap portIndex = new Int2IntHashMap(-1);
        private final int[] portIds;
        private final long[] portLoads;
        private final boolean[] portReported;
        private long lastTimestampMicros = Long.MIN_VALUE;
        private long lastAcceptedNs;

        Source(final InetAddress address, final List<Map.Entry<HostPort, Integer>> targets)
        {
            this.address = HostPort.ipv4Bits(address);
            int anyPort = -1;
            final int[] ids = new int[targets.size()];
            int n = 0;
            for (final Map.Entry<HostPort, Integer> target : targets)
            {
                if (target.getKey().anyPort())
                {
                    anyPort = target.getValue();
                }
                else
                {
                    portIndex.put(target.getKey().port(), n);
                    ids[n++] = target.getValue();
                }
            }
            this.anyPortId = anyPort;
            this.portIds = Arrays.copyOf(ids, n);
            this.portLoads = new long[n];
            this.portReported = new boolean[n];
        }

        void apply(final LoadReport.Reader report, final LoadSink sink)
        {
            Arrays.fill(portLoads, 0);
            Arrays.fill(portReported, false);
            long anyPortLoad = 0;
            for (int i = 0; i < report.entryCount(); i++)
            {
                final int port = report.port(i);
                final int index = portIndex.get(port);
                if (index >= 0)
                {
                    portLoads[index] += report.load(i);
                    portReported[index] = true;
                }
                else if (port != 0)
                {
                    anyPortLoad += report.load(i);
                }
            }
            for (int i = 0; i < portIds.length; i++)
            {
                if (portReported[i])
                {
                    sink.report(portIds[i], portLoads[i]);
                }
            }
            if (anyPortId >= 0)
            {
                sink.report(anyPortId, anyPortLoad);
            }
        }
    }
}

package io.crab.lb;

import io.crab.agent.HostPort;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.feedback.LoadReport;
import io.crab.bpf.Abi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The trust rules for load reports, datagram by datagram: who may report, which backends an entry speaks for, and
 * which timestamps are taken, with and without a key. A refused datagram changes nothing.
 */
class ReportTrustTest
{
    private static final long NOW_MICROS = 1_764_000_000_000_000L;
    private static final long NOW_NS = 5_000_000_000L;
    private static final FeedbackKey KEY = FeedbackKey.of("a-shared-secret-for-tests".getBytes(StandardCharsets.US_ASCII));
    private static final InetAddress S1 = address("198.18.0.101");
    private static final InetAddress S2 = address("198.18.0.102");
    private static final InetAddress CLIENT = address("198.18.0.11");
    /** An unauthenticated report of one port. */
    private static final int ONE_ENTRY = LoadReport.HEADER_LENGTH + LoadReport.ENTRY_LENGTH;
    /** S1 serves service ports (as "the VIP's port") and 8080 on its own; S2 only 8080. */
    private static final Map<HostPort, Integer> IDS = Map.of(HostPort.parse("198.18.0.101"), 0,
        HostPort.parse("198.18.0.101:8080"), 1, HostPort.parse("198.18.0.102:8080"), 2);

    private final Map<Integer, Long> loads = new TreeMap<>();
    private final ReportTrust.LoadSink sink = loads::put;

    @Test
    void onlyABackendsAddressMayReport()
    {
        final ReportTrust trust = trust(null);
        assertEquals(Abi.Consts.CRAB_FBK_REFUSED_SOURCE, accept(trust, CLIENT, report(CLIENT, null, NOW_MICROS, 80, 5)));
        assertEquals(Map.of(), loads, "a client's report, or a third party's under its own address, sets nothing");
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, report(S2, null, NOW_MICROS, 8080, 5)));
        assertEquals(Map.of(2, 5L), loads);
    }

    @Test
    void anEntryIsItsPortsBackendAndTheOtherPortsAddUpToTheAddressesOwn()
    {
        final ReportTrust trust = trust(null);
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S1, report(S1, null, NOW_MICROS, 80, 5, 8080, 3, 22, 1)));
        assertEquals(Map.of(0, 6L, 1, 3L), loads, "8080 is S1:8080's; 80 and 22 are S1's (the VIP's port)");

        loads.clear();
        accept(trust, S1, report(S1, null, NOW_MICROS + 1));
        assertEquals(Map.of(0, 0L), loads, "nothing listens: S1 is idle, and S1:8080 is not reported (it goes " +
            "stale in BackendLoads rather than look idle)");

        loads.clear();
        accept(trust, S2, report(S2, null, NOW_MICROS, 80, 7, 8080, 2, 0, 9));
        assertEquals(Map.of(2, 2L), loads, "S2 has no backend of its own address: 80 and port 0 name no backend");
    }

    @Test
    void withoutAKeyOnlyNewerReportsAreTakenUntilTheSenderFallsSilentForASecond()
    {
        final ReportTrust trust = trust(null);
        accept(trust, S2, report(S2, null, NOW_MICROS, 8080, 1));
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP, accept(trust, S2, report(S2, null, NOW_MICROS, 8080, 9)),
            "a replay");
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP, accept(trust, S2, report(S2, null, NOW_MICROS - 10, 8080, 9)),
            "overtaken");
        assertEquals(Map.of(2, 1L), loads, "refused reports changed nothing");
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S1, report(S1, null, NOW_MICROS - 10)),
            "each sender has its own order");

        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, report(S2, null, Long.MAX_VALUE, 8080, 1000)),
            "a spoofed stamp from the far future, which only a key could refuse");
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP,
            trust.accept(S2, buffer(report(S2, null, NOW_MICROS + 1, 8080, 2)), 0, ONE_ENTRY,
                NOW_NS + ReportTrust.ORDER_MEMORY_NS - 1, NOW_MICROS, sink), "locks the real sender out");
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED,
            trust.accept(S2, buffer(report(S2, null, NOW_MICROS + 2, 8080, 2)), 0, ONE_ENTRY,
                NOW_NS + ReportTrust.ORDER_MEMORY_NS, NOW_MICROS, sink), "for a second at most");
        assertEquals(2L, loads.get(2));
    }

    @Test
    void withAKeyOnlySignedFreshAndNewerReportsAreTaken()
    {
        final ReportTrust trust = trust(KEY);
        final FeedbackKey wrong = FeedbackKey.of("not-the-shared-secret-at-all".getBytes(StandardCharsets.US_ASCII));
        assertEquals(Abi.Consts.CRAB_FBK_UNAUTHENTICATED, accept(trust, S2, report(S2, null, NOW_MICROS, 8080, 5)));
        assertEquals(Abi.Consts.CRAB_FBK_BAD_MAC, accept(trust, S2, report(S2, wrong, NOW_MICROS, 8080, 5)));
        final byte[] cut = report(S2, KEY, NOW_MICROS, 8080, 5);
        assertEquals(Abi.Consts.CRAB_FBK_MISSING_MAC, accept(trust, S2, Arrays.copyOf(cut, cut.length - 16)));
        assertEquals(Abi.Consts.CRAB_FBK_CLOCK_SKEW, accept(trust, S2, report(S2, KEY, NOW_MICROS + 5_000_001, 8080, 5)));
        assertEquals(Abi.Consts.CRAB_FBK_CLOCK_SKEW, accept(trust, S2, report(S2, KEY, NOW_MICROS - 5_000_001, 8080, 5)));
        assertEquals(Map.of(), loads, "none of them set anything");

        final byte[] signed = report(S2, KEY, NOW_MICROS - 1_000_000, 8080, 4);
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, signed));
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP, accept(trust, S2, signed), "replayed");
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP, trust.accept(S2, buffer(signed), 0, signed.length,
            NOW_NS + 60_000_000_000L, NOW_MICROS, sink), "still, however long the sender is silent");
        trust.track(Map.of(HostPort.parse("198.18.0.102:8080"), 5, HostPort.parse("198.18.0.103"), 6));
        assertEquals(Abi.Consts.CRAB_FBK_OLD_TIMESTAMP, accept(trust, S2, signed),
            "and after a publication: a backend that stays keeps its sender's last timestamp");
        assertEquals(Map.of(2, 4L), loads);
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, report(S2, KEY, NOW_MICROS, 8080, 8)));
        assertEquals(8L, loads.get(5), "the new id of S2:8080");
    }

    @Test
    void aSignedReportSentOnFromAnotherBackendsAddressIsRefused()
    {
        final ReportTrust trust = trust(KEY);
        final byte[] fromS1 = report(S1, KEY, NOW_MICROS, 8080, 0);
        assertEquals(Abi.Consts.CRAB_FBK_WRONG_SENDER, accept(trust, S2, fromS1),
            "S1's genuine report, relayed with S2's address as its source");
        assertEquals(Map.of(), loads, "S2's backends keep their loads");
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, report(S2, KEY, NOW_MICROS, 8080, 6)),
            "and S2's own order is untouched");
        assertEquals(Map.of(2, 6L), loads);
    }

    @Test
    void malformedDatagramsFromABackendAreCountedByReason()
    {
        final ReportTrust trust = trust(null);
        final byte[] report = report(S2, null, NOW_MICROS, 8080, 1);
        assertEquals(Abi.Consts.CRAB_FBK_TRUNCATED, accept(trust, S2, Arrays.copyOf(report, 10)));
        assertEquals(Abi.Consts.CRAB_FBK_COUNT_MISMATCH, accept(trust, S2, Arrays.copyOf(report, ONE_ENTRY - 4)));
        final byte[] magic = report.clone();
        magic[0] = 0;
        assertEquals(Abi.Consts.CRAB_FBK_BAD_MAGIC, accept(trust, S2, magic));
        final byte[] version = report.clone();
        version[LoadReport.VERSION_OFFSET] = 9;
        assertEquals(Abi.Consts.CRAB_FBK_BAD_VERSION, accept(trust, S2, version));
        assertEquals(Map.of(), loads);
        assertEquals(Abi.Consts.CRAB_FBK_ACCEPTED, accept(trust, S2, report),
            "and none of them advanced the sender's timestamp");
    }

    private static ReportTrust trust(final FeedbackKey key)
    {
        final ReportTrust trust = new ReportTrust(key);
        trust.track(IDS);
        return trust;
    }

    private int accept(final ReportTrust trust, final InetAddress sender, final byte[] datagram)
    {
        return trust.accept(sender, buffer(datagram), 0, datagram.length, NOW_NS, NOW_MICROS, sink);
    }

    private static UnsafeBuffer buffer(final byte[] datagram)
    {
        return new UnsafeBuffer(datagram);
    }

    /** A report from {@code sender} stamped {@code timestamp} of port, load pairs. */
    private static byte[] report(final InetAddress sender, final FeedbackKey key, final long timestamp,
        final long... portLoads)
    {
        final LoadReport.Writer writer = new LoadReport.Writer(key);
        writer.begin(timestamp);
        for (int i = 0; i < portLoads.length; i += 2)
        {
            writer.add((int)portLoads[i], portLoads[i + 1]);
        }
        return Arrays.copyOf(writer.bytes(), writer.finish(HostPort.ipv4Bits(sender)));
    }

    private static InetAddress address(final String text)
    {
        return HostPort.parseIpv4(text, text);
    }
}

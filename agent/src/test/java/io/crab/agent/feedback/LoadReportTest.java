package io.crab.agent.feedback;

import io.crab.agent.feedback.LoadReport.Reader;
import io.crab.agent.feedback.LoadReport.Verdict;
import io.crab.agent.feedback.LoadReport.Writer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The wire format byte by byte, and every reason a receiver refuses a datagram. */
class LoadReportTest
{
    private static final long NOW = 1_764_000_000_000_000L;
    private static final FeedbackKey KEY = FeedbackKey.of("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
    /** 198.18.0.101. */
    private static final int SENDER = 0xc6120065;
    private static final FeedbackKey OTHER_KEY = FeedbackKey.of("0123456789abcdeF".getBytes(StandardCharsets.US_ASCII));

    @Test
    void aReportIsItsHeaderAndEntriesBigEndian()
    {
        final Writer writer = new Writer(null);
        writer.begin(0x0102030405060708L);
        writer.add(80, 5);
        writer.add(8080, 0x1_0000_0000L);
        assertEquals(40, writer.finish(SENDER));
        assertEquals("43524c52" + "01" + "00" + "0002" + "0102030405060708" + "c6120065" + "00000000" + "0050" +
            "0000" + "00000005" + "1f90" + "0000" + "ffffffff", HexFormat.of().formatHex(writer.bytes(), 0, 40),
            "a load above a u32 is sent as the largest u32");

        final Reader reader = new Reader(null);
        assertEquals(Verdict.ACCEPTED, reader.wrap(writer.buffer(), 0, 40));
        assertEquals(0x0102030405060708L, reader.timestampMicros());
        assertEquals(SENDER, reader.senderAddress());
        assertEquals(2, reader.entryCount());
        assertEquals(80, reader.port(0));
        assertEquals(5, reader.load(0));
        assertEquals(8080, reader.port(1));
        assertEquals(0xffffffffL, reader.load(1), "read unsigned");
    }

    @Test
    void anAuthenticatedReportCarriesItsMacAfterTheEntries()
    {
        final Writer writer = new Writer(KEY);
        writer.begin(NOW);
        writer.add(443, 12);
        final int length = writer.finish(SENDER);
        assertEquals(24 + 8 + 16, length);
        assertEquals(LoadReport.FLAG_AUTHENTICATED, writer.bytes()[LoadReport.FLAGS_OFFSET]);
        final byte[] mac = new byte[16];
        KEY.sign(writer.buffer(), 0, 32, mac, 0);
        assertEquals(HexFormat.of().formatHex(mac), HexFormat.of().formatHex(writer.bytes(), 32, 48),
            "the MAC covers the sender's address too");
        final byte[] relabelled = Arrays.copyOf(writer.bytes(), length);
        new UnsafeBuffer(relabelled).putInt(LoadReport.SENDER_OFFSET, SENDER + 1, ByteOrder.BIG_ENDIAN);
        assertEquals(Verdict.BAD_MAC, wrap(KEY, relabelled, length), "another sender's address under this MAC");

        final Reader reader = new Reader(KEY);
        assertEquals(Verdict.ACCEPTED, reader.wrap(writer.buffer(), 0, length));
        assertEquals(443, reader.port(0));
        assertEquals(12, reader.load(0));
        assertEquals(Verdict.ACCEPTED, new Reader(null).wrap(writer.buffer(), 0, length),
            "a receiver without a key takes it on the terms of an unauthenticated one (keys roll out senders first)");
    }

    @Test
    void timestampsKeepRisingWhenTheClockStepsBack()
    {
        final Writer writer = new Writer(null);
        writer.begin(NOW);
        assertEquals(NOW, writer.lastTimestampMicros());
        writer.begin(NOW - 1_000_000);
        assertEquals(NOW + 1, writer.lastTimestampMicros());
        writer.begin(NOW + 1);
        assertEquals(NOW + 2, writer.lastTimestampMicros());
        writer.begin(NOW + 500);
        assertEquals(NOW + 500, writer.lastTimestampMicros());
        writer.begin(NOW - LoadReport.MAX_CLOCK_SKEW_MICROS - 501);
        assertEquals(NOW - LoadReport.MAX_CLOCK_SKEW_MICROS - 501, writer.lastTimestampMicros(),
            "a step back further than a receiver's skew limit: follow the clock, or every report would be refused");
    }

    @Test
    void aReportHoldsAtMost179EntriesAndFitsOneDatagram()
    {
        assertEquals(179, LoadReport.MAX_ENTRIES);
        assertEquals(1472, LoadReport.MAX_LENGTH);
        final Writer writer = new Writer(KEY);
        writer.begin(NOW);
        for (int i = 0; i < 179; i++)
        {
            assertTrue(writer.add(1000 + i, i));
        }
        assertFalse(writer.add(2000, 1), "the 180th");
        assertEquals(1472, writer.finish(SENDER));
        final Reader reader = new Reader(KEY);
        assertEquals(Verdict.ACCEPTED, reader.wrap(writer.buffer(), 0, 1472));
        assertEquals(179, reader.entryCount());
        assertEquals(1178, reader.port(178));
        assertEquals(178, reader.load(178));
    }

    @Test
    void malformedDatagramsAreRefusedWithTheirReason()
    {
        final byte[] report = unsignedReport(2);
        assertEquals(Verdict.TRUNCATED, wrap(null, report, LoadReport.HEADER_LENGTH - 1));
        assertEquals(Verdict.TRUNCATED, wrap(null, report, 0));
        assertEquals(Verdict.COUNT_MISMATCH, wrap(null, report, LoadReport.HEADER_LENGTH), "header of a report of 2 entries");
        assertEquals(Verdict.COUNT_MISMATCH, wrap(null, report, 39));
        assertEquals(Verdict.COUNT_MISMATCH, wrap(null, Arrays.copyOf(report, 41), 41), "a byte too many");
        assertEquals(Verdict.ACCEPTED, wrap(null, report, 40));

        final byte[] badMagic = report.clone();
        badMagic[3] = 'r';
        assertEquals(Verdict.BAD_MAGIC, wrap(null, badMagic, 40));
        final byte[] badVersion = report.clone();
        badVersion[LoadReport.VERSION_OFFSET] = 2;
        assertEquals(Verdict.BAD_VERSION, wrap(null, badVersion, 40));

        final byte[] tooMany = new byte[LoadReport.HEADER_LENGTH + 181 * 8];
        System.arraycopy(report, 0, tooMany, 0, LoadReport.HEADER_LENGTH);
        new UnsafeBuffer(tooMany).putShort(LoadReport.COUNT_OFFSET, (short)181, ByteOrder.BIG_ENDIAN);
        assertEquals(Verdict.COUNT_MISMATCH, wrap(null, tooMany, tooMany.length), "181 entries, whatever the length");
        final byte[] hugeCount = report.clone();
        new UnsafeBuffer(hugeCount).putShort(LoadReport.COUNT_OFFSET, (short)0xffff, ByteOrder.BIG_ENDIAN);
        assertEquals(Verdict.COUNT_MISMATCH, wrap(null, hugeCount, 40), "the count is unsigned");
    }

    @Test
    void withAKeyOnlyReportsSignedWithItAreAccepted()
    {
        assertEquals(Verdict.UNAUTHENTICATED, wrap(KEY, unsignedReport(2), 40));

        final Writer writer = new Writer(KEY);
        writer.begin(NOW);
        writer.add(80, 3);
        final int length = writer.finish(SENDER);
        final byte[] signed = Arrays.copyOf(writer.bytes(), length);
        assertEquals(Verdict.ACCEPTED, wrap(KEY, signed, length));
        assertEquals(Verdict.BAD_MAC, wrap(OTHER_KEY, signed, length), "another key");
        assertEquals(Verdict.MISSING_MAC, wrap(KEY, signed, length - 16), "flagged, but cut before its MAC");
        assertEquals(Verdict.MISSING_MAC, wrap(null, signed, length - 16), "malformed with or without a key");
        assertEquals(Verdict.COUNT_MISMATCH, wrap(KEY, signed, length - 1), "cut inside its MAC");

        for (int at = 0; at < length; at++)
        {
            if (at == LoadReport.VERSION_OFFSET || at == LoadReport.MAGIC_OFFSET + 3 ||
                at >= LoadReport.COUNT_OFFSET && at < LoadReport.COUNT_OFFSET + 2)
            {
                continue;
            }
            final byte[] tampered = signed.clone();
            tampered[at] ^= 0x10;
            final Verdict verdict = wrap(KEY, tampered, length);
            assertTrue(verdict != Verdict.ACCEPTED, "a bit flipped at byte " + at + " is caught: " + verdict);
        }
        final byte[] stripped = signed.clone();
        stripped[LoadReport.FLAGS_OFFSET] = 0;
        assertEquals(Verdict.COUNT_MISMATCH, wrap(KEY, stripped, length));
        assertEquals(Verdict.UNAUTHENTICATED, wrap(KEY, stripped, length - 16), "the flag cleared and the MAC cut");
    }

    @Test
    void aTimestampMustBeNewerThanTheLastAcceptedAndWithAKeyNearTheClock()
    {
        final Reader plain = new Reader(null);
        assertEquals(Verdict.ACCEPTED, plain.wrap(new UnsafeBuffer(reportAt(null, NOW)), 0, LoadReport.HEADER_LENGTH));
        assertEquals(Verdict.ACCEPTED, plain.order(Long.MIN_VALUE, 0), "no clock check without a key");
        assertEquals(Verdict.ACCEPTED, plain.order(NOW - 1, 0));
        assertEquals(Verdict.OLD_TIMESTAMP, plain.order(NOW, 0), "a replay of the last one");
        assertEquals(Verdict.OLD_TIMESTAMP, plain.order(NOW + 1, 0), "overtaken by a newer one");

        final Reader keyed = new Reader(KEY);
        assertEquals(Verdict.ACCEPTED, keyed.wrap(new UnsafeBuffer(reportAt(KEY, NOW)), 0, LoadReport.HEADER_LENGTH + LoadReport.MAC_LENGTH));
        assertEquals(Verdict.ACCEPTED, keyed.order(Long.MIN_VALUE, NOW + 5_000_000));
        assertEquals(Verdict.ACCEPTED, keyed.order(Long.MIN_VALUE, NOW - 5_000_000));
        assertEquals(Verdict.CLOCK_SKEW, keyed.order(Long.MIN_VALUE, NOW + 5_000_001), "too old for the clock");
        assertEquals(Verdict.CLOCK_SKEW, keyed.order(Long.MIN_VALUE, NOW - 5_000_001), "from the future");
        assertEquals(Verdict.OLD_TIMESTAMP, keyed.order(NOW, NOW));

        final Reader farFuture = new Reader(null);
        farFuture.wrap(new UnsafeBuffer(reportAt(null, -1L)), 0, LoadReport.HEADER_LENGTH);
        assertEquals(Verdict.OLD_TIMESTAMP, farFuture.order(NOW, NOW), "a stamp of 2^64 - 1 reads as older");
    }

    @Test
    void writingAndReadingAllocateNothing()
    {
        final Writer writer = new Writer(KEY);
        final Reader reader = new Reader(KEY);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        long sum = 0;
        long before = 0;
        for (int round = 0; round < 5; round++)
        {
            before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 10_000; i++)
            {
                writer.begin(NOW + i);
                for (int p = 0; p < 10; p++)
                {
                    writer.add(8000 + p, i + p);
                }
                final int length = writer.finish(SENDER);
                if (reader.wrap(writer.buffer(), 0, length) == Verdict.ACCEPTED &&
                    reader.order(NOW - 1, NOW) == Verdict.ACCEPTED)
                {
                    for (int e = 0; e < reader.entryCount(); e++)
                    {
                        sum += reader.load(e);
                    }
                }
            }
        }
        assertEquals(0, threads.getCurrentThreadAllocatedBytes() - before, "bytes allocated by 10,000 reports");
        assertTrue(sum > 0);
    }

    private static Verdict wrap(final FeedbackKey key, final byte[] datagram, final int length)
    {
        return new Reader(key).wrap(new UnsafeBuffer(datagram), 0, length);
    }

    private static byte[] unsignedReport(final int entries)
    {
        final Writer writer = new Writer(null);
        writer.begin(NOW);
        for (int i = 0; i < entries; i++)
        {
            writer.add(80 + i, i);
        }
        return Arrays.copyOf(writer.bytes(), writer.finish(SENDER));
    }

    private static byte[] reportAt(final FeedbackKey key, final long timestamp)
    {
        final Writer writer = new Writer(key);
        writer.begin(timestamp);
        return Arrays.copyOf(writer.bytes(), writer.finish(SENDER));
    }
}

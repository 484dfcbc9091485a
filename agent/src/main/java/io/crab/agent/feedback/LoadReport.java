package io.crab.agent.feedback;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * A server's load report to crab-lb: the one definition of its wire format, used by the sender (crab-endpoint
 * server) and the receiver (crab-lb). One UDP datagram, big-endian:
 * <pre>
 *   0  magic u32 'CRLR'   4  version u8 (1)   5  flags u8 (bit 0: authenticated)   6  entry count u16
 *   8  sender timestamp u64: wall clock in microseconds, strictly increasing per sender
 *  16  sender IPv4 address u32: the address the report is sent from, which the receiver compares with the
 *      datagram's source, so a signed report cannot be sent on again as another backend's
 *  20  reserved u32 (sent as 0, ignored)
 *  24  entries, 8 bytes each: port u16, reserved u16 (sent as 0, ignored), load u32
 *      then, if authenticated, a 16-byte HMAC-SHA256 (truncated) over every byte before it
 * </pre>
 * A report is complete, never a delta: each one gives every listening port's load, so a lost report costs nothing
 * but its freshness and a restarted receiver needs nothing from before. At most {@link #MAX_ENTRIES} entries keep
 * it, MAC included, within one datagram of a 1500-byte MTU (1472 bytes of UDP payload).
 */
public final class LoadReport
{
    public static final int MAGIC = 0x43524c52;
    public static final int VERSION = 1;
    public static final int FLAG_AUTHENTICATED = 1;

    public static final int MAGIC_OFFSET = 0;
    public static final int VERSION_OFFSET = 4;
    public static final int FLAGS_OFFSET = 5;
    public static final int COUNT_OFFSET = 6;
    public static final int TIMESTAMP_OFFSET = 8;
    public static final int SENDER_OFFSET = 16;
    public static final int HEADER_RESERVED_OFFSET = 20;
    public static final int HEADER_LENGTH = 24;
    public static final int ENTRY_PORT_OFFSET = 0;
    public static final int ENTRY_RESERVED_OFFSET = 2;
    public static final int ENTRY_LOAD_OFFSET = 4;
    public static final int ENTRY_LENGTH = 8;
    public static final int MAC_LENGTH = 16;
    /** UDP payload of one datagram on a 1500-byte MTU: 1500 - 20 (IPv4) - 8 (UDP). */
    public static final int MAX_DATAGRAM = 1472;
    public static final int MAX_ENTRIES = (MAX_DATAGRAM - HEADER_LENGTH - MAC_LENGTH) / ENTRY_LENGTH;
    public static final int MAX_LENGTH = HEADER_LENGTH + MAX_ENTRIES * ENTRY_LENGTH + MAC_LENGTH;
    /** A load is a u32 on the wire. */
    public static final long MAX_LOAD = 0xffffffffL;
    /** With a key, a report's timestamp must be within this of the receiver's wall clock. */
    public static final long MAX_CLOCK_SKEW_MICROS = 5_000_000L;

    /** What a receiver makes of a datagram; everything but {@link #ACCEPTED} means it changes nothing. */
    public enum Verdict
    {
        ACCEPTED,
        /** Shorter than the header. */
        TRUNCATED,
        BAD_MAGIC,
        BAD_VERSION,
        /** Its length is not what its entry count (and MAC flag) say, or the count exceeds {@link #MAX_ENTRIES}. */
        COUNT_MISMATCH,
        /** Flagged authenticated, but the MAC's 16 bytes are not there. */
        MISSING_MAC,
        /** Not flagged authenticated, and the receiver has a key. */
        UNAUTHENTICATED,
        /** The MAC is not the key's MAC of the report. */
        BAD_MAC,
        /** Not newer than the last report accepted from its sender: a replay, or one overtaken by a newer one. */
        OLD_TIMESTAMP,
        /** With a key: its timestamp is more than {@link #MAX_CLOCK_SKEW_MICROS} from the receiver's clock. */
        CLOCK_SKEW,
        /** The sender address it names is not the datagram's source: a report sent on by someone else. */
        WRONG_SENDER
    }

    private LoadReport()
    {
    }

    /**
     * Writes reports into a buffer of at least {@link #MAX_LENGTH} bytes: {@link #begin}, {@link #add} per port,
     * {@link #finish} per destination (each may be reached from another address of the sender). Keeps the sender's
     * timestamps strictly increasing when its clock steps back a little; after a step back of more than
     * {@link #MAX_CLOCK_SKEW_MICROS} it follows the clock again, since a receiver with a key would refuse every report
     * stamped that far ahead and none remembers a stamp older than that.
     */
    public static final class Writer
    {
        private final FeedbackKey key;
        private final byte[] bytes = new byte[MAX_LENGTH];
        private final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        private long lastTimestampMicros = Long.MIN_VALUE;
        private int count;

        /** {@code key} null: unauthenticated reports. */
        public Writer(final FeedbackKey key)
        {
            this.key = key;
        }

        /** Starts a report stamped {@code nowMicros}, or one more than the last report's stamp if that is later. */
        public void begin(final long nowMicros)
        {
            final boolean follow = lastTimestampMicros == Long.MIN_VALUE ||
                nowMicros < lastTimestampMicros - MAX_CLOCK_SKEW_MICROS;
            lastTimestampMicros = follow ? nowMicros : Math.max(nowMicros, lastTimestampMicros + 1);
            buffer.putInt(MAGIC_OFFSET, MAGIC, ByteOrder.BIG_ENDIAN);
            buffer.putByte(VERSION_OFFSET, (byte)VERSION);
            buffer.putByte(FLAGS_OFFSET, (byte)(key == null ? 0 : FLAG_AUTHENTICATED));
            buffer.putLong(TIMESTAMP_OFFSET, lastTimestampMicros, ByteOrder.BIG_ENDIAN);
            buffer.putInt(HEADER_RESERVED_OFFSET, 0);
            count = 0;
        }

        /** Adds a port's load, clamped to a u32; false when the report is full ({@link #MAX_ENTRIES}). */
        public boolean add(final int port, final long load)
        {
            if (count == MAX_ENTRIES)
            {
                return false;
            }
            final int at = HEADER_LENGTH + count * ENTRY_LENGTH;
            buffer.putShort(at + ENTRY_PORT_OFFSET, (short)port, ByteOrder.BIG_ENDIAN);
            buffer.putShort(at + ENTRY_RESERVED_OFFSET, (short)0);
            buffer.putInt(at + ENTRY_LOAD_OFFSET, (int)Math.min(Math.max(load, 0), MAX_LOAD), ByteOrder.BIG_ENDIAN);
            count++;
            return true;
        }

        /**
         * Ends the report as sent from {@code senderAddress} (an IPv4 address as a big-endian int), signing it when
         * there is a key, and returns its length in {@link #buffer()}. May be called again for another sender
         * address: it rewrites the address and the MAC.
         */
        public int finish(final int senderAddress)
        {
            buffer.putShort(COUNT_OFFSET, (short)count, ByteOrder.BIG_ENDIAN);
            buffer.putInt(SENDER_OFFSET, senderAddress, ByteOrder.BIG_ENDIAN);
            final int length = HEADER_LENGTH + count * ENTRY_LENGTH;
            if (key == null)
            {
                return length;
            }
            key.sign(buffer, 0, length, bytes, length);
            return length + MAC_LENGTH;
        }

        /** The report's bytes, from offset 0; heap memory, for {@code ByteBuffer.wrap}. */
        public byte[] bytes()
        {
            return bytes;
        }

        public DirectBuffer buffer()
        {
            return buffer;
        }

        public long lastTimestampMicros()
        {
            return lastTimestampMicros;
        }
    }

    /**
     * A flyweight over a received datagram: {@link #wrap} checks its form and MAC, then the accessors read it in
     * place. Nothing is allocated per datagram.
     */
    public static final class Reader
    {
        private final FeedbackKey key;
        private DirectBuffer buffer;
        private int offset;
        private int count;

        /** {@code key} null: the receiver has no key, and an authenticated report's MAC is not checked. */
        public Reader(final FeedbackKey key)
        {
            this.key = key;
        }

        /**
         * Wraps a datagram and judges its form: magic, version, that its length matches its entry count and MAC
         * flag and, with a key, that it is authenticated with it. The timestamp is judged by {@link #order}.
         */
        public Verdict wrap(final DirectBuffer buffer, final int offset, final int length)
        {
            final Verdict form = wrapForm(buffer, offset, length);
            return form == Verdict.ACCEPTED ? verifyMac() : form;
        }

        /**
         * {@link #wrap} without the MAC, which {@link #verifyMac} checks: a receiver can refuse a report on its
         * cheap fields (sender, timestamp) before it spends a MAC on it.
         */
        public Verdict wrapForm(final DirectBuffer buffer, final int offset, final int length)
        {
            this.buffer = buffer;
            this.offset = offset;
            this.count = 0;
            if (length < HEADER_LENGTH)
            {
                return Verdict.TRUNCATED;
            }
            if (buffer.getInt(offset + MAGIC_OFFSET, ByteOrder.BIG_ENDIAN) != MAGIC)
            {
                return Verdict.BAD_MAGIC;
            }
            if (buffer.getByte(offset + VERSION_OFFSET) != VERSION)
            {
                return Verdict.BAD_VERSION;
            }
            final int entries = buffer.getShort(offset + COUNT_OFFSET, ByteOrder.BIG_ENDIAN) & 0xffff;
            final boolean authenticated = (buffer.getByte(offset + FLAGS_OFFSET) & FLAG_AUTHENTICATED) != 0;
            final int signedLength = HEADER_LENGTH + entries * ENTRY_LENGTH;
            if (entries > MAX_ENTRIES)
            {
                return Verdict.COUNT_MISMATCH;
            }
            if (authenticated && length == signedLength)
            {
                return Verdict.MISSING_MAC;
            }
            if (length != signedLength + (authenticated ? MAC_LENGTH : 0))
            {
                return Verdict.COUNT_MISMATCH;
            }
            if (key != null && !authenticated)
            {
                return Verdict.UNAUTHENTICATED;
            }
            count = entries;
            return Verdict.ACCEPTED;
        }

        /** With a key, checks the MAC of a report {@link #wrapForm} accepted; without one, accepts. */
        public Verdict verifyMac()
        {
            final int signedLength = HEADER_LENGTH + count * ENTRY_LENGTH;
            if (key != null && !key.verify(buffer, offset, signedLength, offset + signedLength))
            {
                count = 0;
                return Verdict.BAD_MAC;
            }
            return Verdict.ACCEPTED;
        }

        /**
         * Judges the timestamp of a report whose form was accepted, against the last one accepted from its sender
         * ({@code Long.MIN_VALUE} for none) and, with a key, against the receiver's wall clock.
         */
        public Verdict order(final long lastAcceptedMicros, final long nowMicros)
        {
            final long timestamp = timestampMicros();
            if (key != null && (timestamp < nowMicros - MAX_CLOCK_SKEW_MICROS ||
                timestamp > nowMicros + MAX_CLOCK_SKEW_MICROS))
            {
                return Verdict.CLOCK_SKEW;
            }
            return lastAcceptedMicros != Long.MIN_VALUE && timestamp <= lastAcceptedMicros ? Verdict.OLD_TIMESTAMP :
                Verdict.ACCEPTED;
        }

        /**
         * The sender's timestamp. A u64 on the wire read as signed: the wall clock in microseconds stays below 2^63
         * for 292,000 years, and a forged stamp at or above it reads as negative, that is as older than any other.
         */
        public long timestampMicros()
        {
            return buffer.getLong(offset + TIMESTAMP_OFFSET, ByteOrder.BIG_ENDIAN);
        }

        /** The sender IPv4 address the report names, as a big-endian int. */
        public int senderAddress()
        {
            return buffer.getInt(offset + SENDER_OFFSET, ByteOrder.BIG_ENDIAN);
        }

        /** Entries of an accepted report; 0 after any other verdict. */
        public int entryCount()
        {
            return count;
        }

        public int port(final int entry)
        {
            return buffer.getShort(offset + HEADER_LENGTH + entry * ENTRY_LENGTH + ENTRY_PORT_OFFSET,
                ByteOrder.BIG_ENDIAN) & 0xffff;
        }

        public long load(final int entry)
        {
            return buffer.getInt(offset + HEADER_LENGTH + entry * ENTRY_LENGTH + ENTRY_LOAD_OFFSET,
                ByteOrder.BIG_ENDIAN) & 0xffffffffL;
        }
    }
}

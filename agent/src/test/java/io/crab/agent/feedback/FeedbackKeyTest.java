package io.crab.agent.feedback;

import io.crab.agent.ConfigException;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MAC is HMAC-SHA256 truncated to 16 bytes, and a key file is taken only when it is the owner's alone. */
class FeedbackKeyTest
{
    @TempDir
    Path dir;

    @Test
    void theMacIsHmacSha256TruncatedAsRfc4231Says()
    {
        // RFC 4231 test case 4 (a 25-byte key) and test case 6 (a 131-byte key, hashed first).
        final byte[] key4 = new byte[25];
        for (int i = 0; i < key4.length; i++)
        {
            key4[i] = (byte)(i + 1);
        }
        final byte[] data4 = new byte[50];
        Arrays.fill(data4, (byte)0xcd);
        assertEquals("82558a389a443c0ea4cc819899f2083a", mac(FeedbackKey.of(key4), data4));

        final byte[] key6 = new byte[131];
        Arrays.fill(key6, (byte)0xaa);
        final byte[] data6 = "Test Using Larger Than Block-Size Key - Hash Key First".getBytes(StandardCharsets.US_ASCII);
        assertEquals("60e431591ee0b67f0d8a26aacbf5b77f", mac(FeedbackKey.of(key6), data6));
    }

    @Test
    void theMacIsJavaxCryptosForEveryKeyAndMessageLength() throws Exception
    {
        final Random random = new Random(42);
        for (final int keyLength : new int[] {16, 32, 63, 64, 65, 200})
        {
            final byte[] key = new byte[keyLength];
            random.nextBytes(key);
            final FeedbackKey feedbackKey = FeedbackKey.of(key);
            final Mac reference = Mac.getInstance("HmacSHA256");
            reference.init(new SecretKeySpec(key, "HmacSHA256"));
            for (final int length : new int[] {0, 1, 16, 63, 64, 65, 1456})
            {
                final byte[] data = new byte[length];
                random.nextBytes(data);
                assertEquals(HexFormat.of().formatHex(reference.doFinal(data), 0, LoadReport.MAC_LENGTH),
                    mac(feedbackKey, data), keyLength + "-byte key, " + length + "-byte message");
            }
        }
    }

    @Test
    void verifyTakesTheMacInPlaceFromHeapAndDirectBuffers()
    {
        final byte[] key = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
        final FeedbackKey feedbackKey = FeedbackKey.of(key);
        final byte[] message = new byte[300];
        new Random(7).nextBytes(message);
        final byte[] signed = Arrays.copyOf(message, 316);
        feedbackKey.sign(new UnsafeBuffer(message), 0, 300, signed, 300);

        final UnsafeBuffer direct = new UnsafeBuffer(BufferUtil.allocateDirectAligned(512, 8));
        direct.putBytes(0, signed);
        assertTrue(feedbackKey.verify(new UnsafeBuffer(signed), 0, 300, 300));
        assertTrue(feedbackKey.verify(direct, 0, 300, 300));
        final UnsafeBuffer offsetView = new UnsafeBuffer(Arrays.copyOf(new byte[5], 5 + 316), 5, 316);
        offsetView.putBytes(0, signed);
        assertTrue(feedbackKey.verify(offsetView, 0, 300, 300), "a view into a larger array");

        signed[315] ^= 1;
        assertFalse(feedbackKey.verify(new UnsafeBuffer(signed), 0, 300, 300), "last MAC bit");
        signed[315] ^= 1;
        signed[0] ^= 1;
        assertFalse(feedbackKey.verify(new UnsafeBuffer(signed), 0, 300, 300), "first message bit");
        assertFalse(FeedbackKey.of(Arrays.copyOf(key, 31)).verify(new UnsafeBuffer(signed), 0, 300, 300),
            "another key");
    }

    @Test
    void aKeyFileIsTakenWithoutItsLineEndOnlyWhenOnlyItsOwnerMayUseIt() throws Exception
    {
        final Path file = keyFile("0123456789abcdef\n", "rw-------");
        final byte[] message = new byte[] {1, 2, 3};
        assertEquals(mac(FeedbackKey.of("0123456789abcdef".getBytes(StandardCharsets.US_ASCII)), message),
            mac(FeedbackKey.read(file, "--feedback-key"), message), "the trailing newline is not key");
        FeedbackKey.read(keyFile("0123456789abcdef", "r--------"), "--feedback-key");

        for (final String mode : new String[] {"rw-r-----", "rw----r--", "rw--w----", "rw-----w-"})
        {
            final ConfigException ex = assertThrows(ConfigException.class,
                () -> FeedbackKey.read(keyFile("0123456789abcdef", mode), "--feedback-key"));
            assertEquals("--feedback-key " + dir.resolve("key") + ": group or others may read or write it (" + mode +
                "); chmod 600 it", ex.getMessage());
        }
    }

    @Test
    void aShortEmptyHugeOrMissingKeyFileIsRefusedInOneLine() throws Exception
    {
        final ConfigException shortKey = assertThrows(ConfigException.class,
            () -> FeedbackKey.read(keyFile("0123456789abcde\r\n", "rw-------"), "--feedback-key"));
        assertTrue(shortKey.getMessage().startsWith("--feedback-key " + dir.resolve("key") + ": holds 15 bytes " +
            "of key; it must hold 16..4096"), shortKey.getMessage());
        assertThrows(ConfigException.class, () -> FeedbackKey.read(keyFile("\n\n", "rw-------"), "--feedback-key"));
        assertTrue(assertThrows(ConfigException.class, () -> FeedbackKey.read(keyFile("k".repeat(5000), "rw-------"),
            "--feedback-key")).getMessage().contains("holds more than 4096 bytes"));
        assertEquals("--feedback-key " + dir.resolve("nothing") + ": not a regular file", assertThrows(
            ConfigException.class, () -> FeedbackKey.read(dir.resolve("nothing"), "--feedback-key")).getMessage());
        assertEquals("--feedback-key " + dir + ": not a regular file", assertThrows(
            ConfigException.class, () -> FeedbackKey.read(dir, "--feedback-key")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> FeedbackKey.of(new byte[15]));
    }

    private Path keyFile(final String content, final String mode) throws Exception
    {
        final Path file = dir.resolve("key");
        Files.deleteIfExists(file);
        Files.writeString(file, content);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
        return file;
    }

    private static String mac(final FeedbackKey key, final byte[] data)
    {
        final byte[] out = new byte[LoadReport.MAC_LENGTH];
        key.sign(new UnsafeBuffer(data), 0, data.length, out, 0);
        final byte[] again = new byte[LoadReport.MAC_LENGTH];
        key.sign(new UnsafeBuffer(data), 0, data.length, again, 0);
        assertArrayEquals(out, again, "a key signs the same message the same way every time");
        return HexFormat.of().formatHex(out);
    }
}

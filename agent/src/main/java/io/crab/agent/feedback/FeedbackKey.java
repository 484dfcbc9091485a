package io.crab.agent.feedback;

import io.crab.agent.ConfigException;
import org.agrona.DirectBuffer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

/**
 * The secret shared by crab-lb and the crab-endpoint servers that report to it ({@code --feedback-key FILE}), and
 * the HMAC-SHA256 it keys, truncated to {@link LoadReport#MAC_LENGTH} bytes (RFC 2104, RFC 4231 section 4.9).
 * <p>
 * The HMAC is computed on {@link MessageDigest} rather than {@code javax.crypto.Mac}, whose {@code doFinal} returns
 * a new array every call: this one allocates nothing per report. Not thread-safe: one instance per thread.
 */
public final class FeedbackKey
{
    /** Less would be guessable; 16 bytes is the truncated MAC's own strength. */
    public static final int MIN_KEY_BYTES = 16;
    /** More is no stronger (a longer key is hashed to 32 bytes first); the cap stops a wrong file being slurped. */
    public static final int MAX_KEY_BYTES = 4096;

    private static final int BLOCK = 64;
    private static final int DIGEST = 32;
    private static final Set<PosixFilePermission> NOT_FOR_OTHERS = EnumSet.of(PosixFilePermission.GROUP_READ,
        PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private final MessageDigest sha256 = sha256();
    private final byte[] innerPad = new byte[BLOCK];
    private final byte[] outerPad = new byte[BLOCK];
    private final byte[] digest = new byte[DIGEST];
    private final byte[] chunk = new byte[BLOCK];

    private FeedbackKey(final byte[] key)
    {
        final byte[] block = key.length > BLOCK ? sha256.digest(key) : key;
        for (int i = 0; i < BLOCK; i++)
        {
            final byte k = i < block.length ? block[i] : 0;
            innerPad[i] = (byte)(k ^ 0x36);
            outerPad[i] = (byte)(k ^ 0x5c);
        }
    }

    /** A key from its bytes; for tests and for {@link #read}. */
    public static FeedbackKey of(final byte[] key)
    {
        if (key.length < MIN_KEY_BYTES)
        {
            throw new IllegalArgumentException("a key of " + key.length + " bytes: at least " + MIN_KEY_BYTES);
        }
        return new FeedbackKey(key);
    }

    /**
     * Reads the key file named by {@code option} (for the message). The key is the file's bytes without trailing
     * line ends, so a key written with {@code echo} or an editor matches one written with {@code printf}. The file
     * must be a regular file that neither group nor others may read or write: whoever can read it can forge reports,
     * whoever can write it can choose the key.
     */
    public static FeedbackKey read(final Path file, final String option)
    {
        final String what = option + " " + file;
        if (!Files.isRegularFile(file))
        {
            throw new ConfigException(what + ": not a regular file");
        }
        final byte[] content;
        try
        {
            final Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            if (permissions.stream().anyMatch(NOT_FOR_OTHERS::contains))
            {
                throw new ConfigException(what + ": group or others may read or write it (" +
                    PosixFilePermissions.toString(permissions) + "); chmod 600 it");
            }
            try (InputStream in = Files.newInputStream(file))
            {
                content = in.readNBytes(MAX_KEY_BYTES + 3);
            }
        }
        catch (final IOException | UnsupportedOperationException ex)
        {
            throw new ConfigException(what + ": cannot read it: " + ex.getMessage());
        }
        int length = content.length;
        while (length > 0 && (content[length - 1] == '\n' || content[length - 1] == '\r'))
        {
            length--;
        }
        if (length < MIN_KEY_BYTES || length > MAX_KEY_BYTES)
        {
            throw new ConfigException(what + ": holds " + (length > MAX_KEY_BYTES ? "more than " + MAX_KEY_BYTES :
                length) + " bytes of key; it must hold " + MIN_KEY_BYTES + ".." + MAX_KEY_BYTES + " (e.g. head -c 32 " +
                "/dev/urandom | base64 > FILE; chmod 600 FILE)");
        }
        final byte[] key = Arrays.copyOf(content, length);
        Arrays.fill(content, (byte)0);
        return new FeedbackKey(key);
    }

    /** Writes the truncated MAC of {@code length} bytes of {@code buffer} at {@code offset} to {@code out}. */
    public void sign(final DirectBuffer buffer, final int offset, final int length, final byte[] out,
        final int outOffset)
    {
        hmac(buffer, offset, length);
        System.arraycopy(digest, 0, out, outOffset, LoadReport.MAC_LENGTH);
    }

    /**
     * Whether the {@link LoadReport#MAC_LENGTH} bytes at {@code macOffset} are the MAC of the {@code length} bytes at
     * {@code offset}; compared in constant time, so the time taken says nothing of how much of a forgery was right.
     */
    public boolean verify(final DirectBuffer buffer, final int offset, final int length, final int macOffset)
    {
        hmac(buffer, offset, length);
        int difference = 0;
        for (int i = 0; i < LoadReport.MAC_LENGTH; i++)
        {
            difference |= digest[i] ^ buffer.getByte(macOffset + i);
        }
        return difference == 0;
    }

    private void hmac(final DirectBuffer buffer, final int offset, final int length)
    {
        try
        {
            sha256.update(innerPad, 0, BLOCK);
            final byte[] array = buffer.byteArray();
            if (array != null)
            {
                sha256.update(array, (int)buffer.wrapAdjustment() + offset, length);
            }
            else
            {
                for (int at = 0; at < length; at += BLOCK)
                {
                    final int n = Math.min(BLOCK, length - at);
                    buffer.getBytes(offset + at, chunk, 0, n);
                    sha256.update(chunk, 0, n);
                }
            }
            sha256.digest(digest, 0, DIGEST);
            sha256.update(outerPad, 0, BLOCK);
            sha256.update(digest, 0, DIGEST);
            sha256.digest(digest, 0, DIGEST);
        }
        catch (final DigestException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static MessageDigest sha256()
    {
        try
        {
            return MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("every Java platform has SHA-256", ex);
        }
    }

    @Override
    public String toString()
    {
        return "FeedbackKey(secret)";
    }
}

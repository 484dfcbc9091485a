package io.crab.agent;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Locale;

/**
 * The one strict reading of what users write, for every command option and every file: numbers, addresses,
 * durations. Strict means a value is read one way only: no signs, no leading zeros (which some tools read as
 * octal), no empty parts, no host names (nothing is ever looked up), so what crab uses is what was written. Each
 * method throws {@link IllegalArgumentException} with a message that names the value; the caller adds where it
 * was written (an option, or a file and line).
 */
public final class Parse
{
    /** Why a decimal number is refused; the caller puts its subject before it (e.g. "port " + reason). */
    public static final String NOT_DIGITS = "is not a number (digits 0-9 only)";
    public static final String LEADING_ZERO = "has a leading zero";

    private Parse()
    {
    }

    /**
     * A decimal number in {@code min..max}: digits only, without a sign or a leading zero. The message is a reason
     * to put after the subject ({@link #NOT_DIGITS}, {@link #LEADING_ZERO}, or "must be MIN..MAX").
     */
    public static long decimal(final String text, final long min, final long max)
    {
        if (text.isEmpty() || !allDigits(text))
        {
            throw new IllegalArgumentException(NOT_DIGITS);
        }
        if (text.length() > 1 && text.charAt(0) == '0')
        {
            throw new IllegalArgumentException(LEADING_ZERO);
        }
        final String range = "must be " + min + ".." + max;
        final long value;
        try
        {
            value = Long.parseLong(text);
        }
        catch (final NumberFormatException tooLong)
        {
            throw new IllegalArgumentException(range);
        }
        if (value < min || value > max)
        {
            throw new IllegalArgumentException(range);
        }
        return value;
    }

    /** {@link #decimal} for a value that is an int. */
    public static int decimalInt(final String text, final int min, final int max)
    {
        return (int)decimal(text, min, max);
    }

    /** A TCP or UDP port, 1..65535; the message is "port " and the reason. */
    public static int port(final String text)
    {
        try
        {
            return decimalInt(text, 1, 65535);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("port " + ex.getMessage());
        }
    }

    /**
     * A 16-bit or smaller number written in decimal, or in hexadecimal after {@code 0x} (as ExIDs are). The message
     * names the value.
     */
    public static int hexOrDecimal(final String text, final int max)
    {
        if (text.length() > 2 && (text.startsWith("0x") || text.startsWith("0X")))
        {
            final String hex = text.substring(2);
            if (hex.length() <= 8 && hex.chars().allMatch(c -> Character.digit(c, 16) >= 0))
            {
                final long value = Long.parseLong(hex, 16);
                if (value <= max)
                {
                    return (int)value;
                }
            }
            throw new IllegalArgumentException("'" + text + "' must be 0x0..0x" + Integer.toHexString(max).toUpperCase(Locale.ROOT));
        }
        try
        {
            return decimalInt(text, 0, max);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("'" + text + "' " + ex.getMessage() + " (or hexadecimal after 0x)");
        }
    }

    /**
     * An IPv4 address in dotted-quad form, {@code A.B.C.D}, each part 0..255 in decimal. The message starts with
     * the value and says what is wrong with it.
     */
    public static Inet4Address ipv4(final String text)
    {
        final String[] parts = text.split("\\.", -1);
        if (parts.length != 4)
        {
            final boolean name = text.chars().anyMatch(Character::isLetter) && !text.contains(":");
            throw new IllegalArgumentException("'" + text + "': not an IPv4 address (A.B.C.D" +
                (name ? "; names are not looked up" : "") + ")");
        }
        final byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            final String part = parts[i];
            final String problem;
            if (part.isEmpty())
            {
                problem = "an empty part";
            }
            else if (!allDigits(part))
            {
                problem = "'" + part + "' is not a number 0..255";
            }
            else if (part.length() > 1 && part.charAt(0) == '0')
            {
                problem = "'" + part + "' has a leading zero, which some tools read as octal";
            }
            else if (part.length() > 3 || Integer.parseInt(part) > 255)
            {
                problem = part + " is over 255";
            }
            else
            {
                bytes[i] = (byte)Integer.parseInt(part);
                continue;
            }
            throw new IllegalArgumentException("'" + text + "': not an IPv4 address (" + problem + ")");
        }
        return (Inet4Address)byAddress(bytes);
    }

    /**
     * An IPv6 address in the text form of RFC 4291 (eight groups of 1 to 4 hex digits, at most one {@code ::}, an
     * IPv4 address in dotted-quad form as the last 32 bits), without brackets, zone or prefix.
     */
    public static Inet6Address ipv6(final String text)
    {
        final String problem = "'" + text + "': not an IPv6 address";
        String body = text;
        final byte[] bytes = new byte[16];
        int tail = 16;
        final int dot = body.indexOf('.');
        if (dot >= 0)
        {
            final int lastColon = body.lastIndexOf(':');
            if (lastColon < 0 || lastColon > dot)
            {
                throw new IllegalArgumentException(problem);
            }
            final byte[] v4;
            try
            {
                v4 = ipv4(body.substring(lastColon + 1)).getAddress();
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IllegalArgumentException(problem + ": " + ex.getMessage());
            }
            System.arraycopy(v4, 0, bytes, 12, 4);
            tail = 12;
            body = body.substring(0, lastColon + 1);
            body = body.endsWith("::") ? body : body.substring(0, body.length() - 1);
        }
        final int gap = body.indexOf("::");
        if (gap >= 0 && body.indexOf("::", gap + 1) >= 0)
        {
            throw new IllegalArgumentException(problem + " (two '::')");
        }
        final int[] head = groups(gap < 0 ? body : body.substring(0, gap), problem);
        final int[] rest = gap < 0 ? new int[0] : groups(body.substring(gap + 2), problem);
        final int slots = tail / 2;
        if (gap < 0 ? head.length != slots : head.length + rest.length >= slots)
        {
            throw new IllegalArgumentException(problem + " (" + (tail == 16 ? "eight" : "six") + " groups, or '::')");
        }
        for (int i = 0; i < head.length; i++)
        {
            bytes[2 * i] = (byte)(head[i] >> 8);
            bytes[2 * i + 1] = (byte)head[i];
        }
        for (int i = 0; i < rest.length; i++)
        {
            final int at = tail - 2 * (rest.length - i);
            bytes[at] = (byte)(rest[i] >> 8);
            bytes[at + 1] = (byte)rest[i];
        }
        final InetAddress address = byAddress(bytes);
        if (!(address instanceof Inet6Address))
        {
            // The JDK gives an IPv4-mapped address back as IPv4; a socket takes either.
            throw new IllegalArgumentException(problem + " (an IPv4-mapped address: write the IPv4 address)");
        }
        return (Inet6Address)address;
    }

    /** A duration: digits and a unit, {@code ms}, {@code s}, {@code m} or {@code h} (e.g. 500ms, 5s, 3m, 3h). */
    public static Duration duration(final String text)
    {
        final String problem = "'" + text + "' is not a duration (digits and ms, s, m or h: e.g. 500ms, 5s, 3m, 3h)";
        final int unitAt = firstNonDigit(text);
        if (unitAt == 0)
        {
            throw new IllegalArgumentException(problem);
        }
        final long amount;
        try
        {
            amount = decimal(text.substring(0, unitAt), 0, Integer.MAX_VALUE);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("'" + text + "': " + ex.getMessage());
        }
        return switch (text.substring(unitAt))
        {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            default -> throw new IllegalArgumentException(problem);
        };
    }

    private static int[] groups(final String text, final String problem)
    {
        if (text.isEmpty())
        {
            return new int[0];
        }
        final String[] parts = text.split(":", -1);
        final int[] values = new int[parts.length];
        for (int i = 0; i < parts.length; i++)
        {
            final String part = parts[i];
            if (part.isEmpty() || part.length() > 4 || !part.chars().allMatch(c -> Character.digit(c, 16) >= 0))
            {
                throw new IllegalArgumentException(problem + " (group '" + part + "')");
            }
            values[i] = Integer.parseInt(part, 16);
        }
        return values;
    }

    private static boolean allDigits(final String text)
    {
        return firstNonDigit(text) == text.length();
    }

    private static int firstNonDigit(final String text)
    {
        int i = 0;
        while (i < text.length() && text.charAt(i) >= '0' && text.charAt(i) <= '9')
        {
            i++;
        }
        return i;
    }

    private static InetAddress byAddress(final byte[] bytes)
    {
        try
        {
            return InetAddress.getByAddress(bytes);
        }
        catch (final UnknownHostException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}

package io.crab.agent;

import java.net.Inet4Address;

/** An IPv4 prefix, {@code A.B.C.D/N}; host bits must be zero so that what is written is what is meant. */
public record Cidr(Inet4Address address, int length)
{
    public static final Cidr ANY = parse("0.0.0.0/0");

    /** A prefix as crab's own files and options take it: host bits set are refused, naming the prefix meant. */
    public static Cidr parse(final String text)
    {
        final Cidr read = parseMasked(text);
        if (!read.address.equals(HostPort.parseIpv4(text.substring(0, text.indexOf('/')), text)))
        {
            throw new IllegalArgumentException("'" + text + "': host bits set; did you mean " + read + "?");
        }
        return read;
    }

    /**
     * A prefix as another system wrote it, which may set host bits and means the prefix they are in
     * ({@code 10.0.0.1/8} is {@code 10.0.0.0/8}), as Go's net.ParseCIDR reads Kubernetes' source ranges.
     */
    public static Cidr parseMasked(final String text)
    {
        final int slash = text.indexOf('/');
        if (slash < 0)
        {
            throw new IllegalArgumentException("'" + text + "': not a prefix (A.B.C.D/N)");
        }
        final Inet4Address address = HostPort.parseIpv4(text.substring(0, slash), text);
        final int length;
        try
        {
            length = Parse.decimalInt(text.substring(slash + 1), 0, 32);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("'" + text + "': prefix length " + ex.getMessage());
        }
        return new Cidr(fromInt(HostPort.ipv4Bits(address) & mask(length)), length);
    }

    private static int mask(final int length)
    {
        return length == 0 ? 0 : -1 << (32 - length);
    }

    private static Inet4Address fromInt(final int v)
    {
        return HostPort.parseIpv4((v >>> 24) + "." + (v >> 16 & 0xff) + "." + (v >> 8 & 0xff) + "." + (v & 0xff), "");
    }

    @Override
    public String toString()
    {
        return address.getHostAddress() + "/" + length;
    }
}

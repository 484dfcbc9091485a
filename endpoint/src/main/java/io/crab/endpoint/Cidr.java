package io.crab.endpoint;

import io.crab.agent.HostPort;
import io.crab.agent.Parse;

import java.net.Inet4Address;

/** An IPv4 prefix, {@code A.B.C.D/N}; host bits must be zero so that what is written is what is meant. */
public record Cidr(Inet4Address address, int length)
{
    public static final Cidr ANY = parse("0.0.0.0/0");

    public static Cidr parse(final String text)
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
        final int bits = HostPort.ipv4Bits(address);
        final int mask = length == 0 ? 0 : -1 << (32 - length);
        if ((bits & ~mask) != 0)
        {
            throw new IllegalArgumentException("'" + text + "': host bits set; did you mean " +
                fromInt(bits & mask).getHostAddress() + "/" + length + "?");
        }
        return new Cidr(address, length);
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

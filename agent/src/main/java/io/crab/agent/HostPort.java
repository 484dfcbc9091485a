package io.crab.agent;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;

/** An IPv4 address with an optional TCP port (0 = any), parsed from {@code A.B.C.D[:PORT]}. */
public record HostPort(Inet4Address address, int port)
{
    /** Strictly, by {@link Parse}: a message names the whole text and what is wrong with it. */
    public static HostPort parse(final String text)
    {
        final int colon = text.indexOf(':');
        final Inet4Address address = parseIpv4(colon < 0 ? text : text.substring(0, colon), text);
        if (colon < 0)
        {
            return new HostPort(address, 0);
        }
        try
        {
            return new HostPort(address, Parse.port(text.substring(colon + 1)));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("'" + text + "': " + ex.getMessage());
        }
    }

    /** Parses every {@code --vip} value; a bad one is a {@link ConfigException} naming the option. */
    public static List<HostPort> parseVips(final List<String> texts)
    {
        return texts.stream().map(v ->
        {
            try
            {
                return parse(v);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--vip " + ex.getMessage());
            }
        }).toList();
    }

    /** An IPv4 address as a big-endian int: its first octet in the top byte. */
    public static int ipv4Bits(final InetAddress address)
    {
        final byte[] b = address.getAddress();
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    /**
     * Dotted-quad only ({@link Parse#ipv4}): no names, so nothing is ever resolved through DNS. A message names
     * {@code context}, the whole text the address was part of.
     */
    public static Inet4Address parseIpv4(final String host, final String context)
    {
        try
        {
            return Parse.ipv4(host);
        }
        catch (final IllegalArgumentException ex)
        {
            if (host.equals(context))
            {
                throw ex;
            }
            final String detail = ex.getMessage().substring(ex.getMessage().indexOf(": ") + 2);
            throw new IllegalArgumentException("'" + context + "': " + detail);
        }
    }

    public boolean anyPort()
    {
        return port == 0;
    }

    @Override
    public String toString()
    {
        return address.getHostAddress() + (port == 0 ? "" : ":" + port);
    }
}

package io.crab.agent;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/** An IPv4 address with an optional TCP port (0 = any), parsed from {@code A.B.C.D[:PORT]}. */
public record HostPort(Inet4Address address, int port)
{
    public static HostPort parse(final String text)
    {
        final String trimmed = text.trim();
        final int colon = trimmed.indexOf(':');
        final String host = colon < 0 ? trimmed : trimmed.substring(0, colon);
        int port = 0;
        if (colon >= 0)
        {
            try
            {
                port = Integer.parseInt(trimmed.substring(colon + 1));
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("'" + text + "': port is not a number");
            }
            if (port < 1 || port > 65535)
            {
                throw new IllegalArgumentException("'" + text + "': port must be 1..65535");
            }
        }
        return new HostPort(parseIpv4(host, text), port);
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

    /** Dotted-quad only: no names, so nothing is ever resolved through DNS. */
    public static Inet4Address parseIpv4(final String host, final String context)
    {
        final String[] parts = host.split("\\.", -1);
        if (parts.length != 4)
        {
            throw new IllegalArgumentException("'" + context + "': not an IPv4 address (A.B.C.D)");
        }
        final byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            try
            {
                final int v = Integer.parseInt(parts[i]);
                if (v < 0 || v > 255 || parts[i].length() > 3)
                {
                    throw new NumberFormatException();
                }
                bytes[i] = (byte)v;
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("'" + context + "': not an IPv4 address (A.B.C.D)");
            }
        }
        try
        {
            return (Inet4Address)InetAddress.getByAddress(bytes);
        }
        catch (final UnknownHostException ex)
        {
            throw new IllegalStateException(ex);
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

package io.crab.agent;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** What users write is read one way only: each refusal names the value and what is wrong with it. */
class ParseTest
{
    @Test
    void ipv4IsDottedQuadInPlainDecimal() throws Exception
    {
        assertEquals(InetAddress.getByAddress(new byte[] {(byte)198, 18, 0, 11}), Parse.ipv4("198.18.0.11"));
        assertEquals(InetAddress.getByAddress(new byte[] {0, 0, 0, 0}), Parse.ipv4("0.0.0.0"));
        assertEquals(InetAddress.getByAddress(new byte[] {(byte)255, (byte)255, (byte)255, (byte)255}),
            Parse.ipv4("255.255.255.255"));

        assertRefused(Parse::ipv4, "198.18.0.+11", "'198.18.0.+11': not an IPv4 address ('+11' is not a number 0..255)");
        assertRefused(Parse::ipv4, "198.18.0.-1", "'198.18.0.-1': not an IPv4 address ('-1' is not a number 0..255)");
        assertRefused(Parse::ipv4, "010.0.0.1",
            "'010.0.0.1': not an IPv4 address ('010' has a leading zero, which some tools read as octal)");
        assertRefused(Parse::ipv4, "10.0.0.00",
            "'10.0.0.00': not an IPv4 address ('00' has a leading zero, which some tools read as octal)");
        assertRefused(Parse::ipv4, "198.18..1", "'198.18..1': not an IPv4 address (an empty part)");
        assertRefused(Parse::ipv4, "198.18.0.", "'198.18.0.': not an IPv4 address (an empty part)");
        assertRefused(Parse::ipv4, "198.18.0.256", "'198.18.0.256': not an IPv4 address (256 is over 255)");
        assertRefused(Parse::ipv4, "198.18.0.1000", "'198.18.0.1000': not an IPv4 address (1000 is over 255)");
        assertRefused(Parse::ipv4, "198.18.1", "'198.18.1': not an IPv4 address (A.B.C.D)");
        assertRefused(Parse::ipv4, "3221225985", "'3221225985': not an IPv4 address (A.B.C.D)");
        assertRefused(Parse::ipv4, "0x7f.0.0.1", "'0x7f.0.0.1': not an IPv4 address ('0x7f' is not a number 0..255)");
        assertRefused(Parse::ipv4, " 198.18.0.1", "' 198.18.0.1': not an IPv4 address (' 198' is not a number 0..255)");
        assertRefused(Parse::ipv4, "localhost", "'localhost': not an IPv4 address (A.B.C.D; names are not looked up)");
        assertRefused(Parse::ipv4, "", "'': not an IPv4 address (A.B.C.D)");
    }

    @Test
    void hostPortNamesTheWholeTextAndThePart()
    {
        assertEquals(new HostPort(Parse.ipv4("198.18.0.1"), 8080), HostPort.parse("198.18.0.1:8080"));
        assertEquals(0, HostPort.parse("198.18.0.1").port());
        assertRefused(HostPort::parse, "198.18.0.1:+80", "'198.18.0.1:+80': port is not a number (digits 0-9 only)");
        assertRefused(HostPort::parse, "198.18.0.1:080", "'198.18.0.1:080': port has a leading zero");
        assertRefused(HostPort::parse, "198.18.0.1:0", "'198.18.0.1:0': port must be 1..65535");
        assertRefused(HostPort::parse, "198.18.0.1:65536", "'198.18.0.1:65536': port must be 1..65535");
        assertRefused(HostPort::parse, "198.18.0.1:99999999999999999999",
            "'198.18.0.1:99999999999999999999': port must be 1..65535");
        assertRefused(HostPort::parse, "198.18.0.1:", "'198.18.0.1:': port is not a number (digits 0-9 only)");
        assertRefused(HostPort::parse, "198.18.0.1:80:81", "'198.18.0.1:80:81': port is not a number (digits 0-9 only)");
        assertRefused(HostPort::parse, "198.18.0.+11:80",
            "'198.18.0.+11:80': not an IPv4 address ('+11' is not a number 0..255)");
    }

    @Test
    void numbersAreDigitsWithoutSignOrLeadingZero()
    {
        assertEquals(0, Parse.decimal("0", 0, 10));
        assertEquals(65535, Parse.port("65535"));
        assertEquals(Long.MAX_VALUE, Parse.decimal("9223372036854775807", 0, Long.MAX_VALUE));
        assertRefused(t -> Parse.decimal(t, 0, 10), "+1", Parse.NOT_DIGITS);
        assertRefused(t -> Parse.decimal(t, 0, 10), "-1", Parse.NOT_DIGITS);
        assertRefused(t -> Parse.decimal(t, 0, 10), "1e3", Parse.NOT_DIGITS);
        assertRefused(t -> Parse.decimal(t, 0, 10), "", Parse.NOT_DIGITS);
        assertRefused(t -> Parse.decimal(t, 0, 10), "07", Parse.LEADING_ZERO);
        assertRefused(t -> Parse.decimal(t, 0, 10), "11", "must be 0..10");
        assertRefused(t -> Parse.decimal(t, 0, Long.MAX_VALUE), "9223372036854775808",
            "must be 0..9223372036854775807");
        assertRefused(Parse::port, "0", "port must be 1..65535");

        assertEquals(0xC4AB, Parse.hexOrDecimal("0xC4AB", 0xffff));
        assertEquals(0xC4AB, Parse.hexOrDecimal("0xc4ab", 0xffff));
        assertEquals(50347, Parse.hexOrDecimal("50347", 0xffff));
        assertRefused(t -> Parse.hexOrDecimal(t, 0xffff), "0x1FFFF", "'0x1FFFF' must be 0x0..0xFFFF");
        assertRefused(t -> Parse.hexOrDecimal(t, 0xffff), "0xZZ", "'0xZZ' must be 0x0..0xFFFF");
        assertRefused(t -> Parse.hexOrDecimal(t, 0xffff), "070",
            "'070' has a leading zero (or hexadecimal after 0x)");
    }

    @Test
    void ipv6IsItsTextFormWithoutNames() throws Exception
    {
        assertEquals(InetAddress.getByName("::1"), Parse.ipv6("::1"));
        assertEquals(InetAddress.getByName("::"), Parse.ipv6("::"));
        assertEquals(InetAddress.getByName("2001:db8::8:800:200c:417a"), Parse.ipv6("2001:DB8::8:800:200C:417A"));
        assertEquals(InetAddress.getByName("1:2:3:4:5:6:7:8"), Parse.ipv6("1:2:3:4:5:6:7:8"));
        assertEquals(InetAddress.getByName("64:ff9b::c012:1"), Parse.ipv6("64:ff9b::192.18.0.1"));
        assertEquals(InetAddress.getByName("1:2:3:4:5:6:c012:1"), Parse.ipv6("1:2:3:4:5:6:192.18.0.1"));
        assertRefused(Parse::ipv6, "::zz", "'::zz': not an IPv6 address (group 'zz')");
        assertRefused(Parse::ipv6, "1::2::3", "'1::2::3': not an IPv6 address (two '::')");
        assertRefused(Parse::ipv6, "1:2:3:4:5:6:7", "'1:2:3:4:5:6:7': not an IPv6 address (eight groups, or '::')");
        assertRefused(Parse::ipv6, "1:2:3:4:5:6:7:8:9",
            "'1:2:3:4:5:6:7:8:9': not an IPv6 address (eight groups, or '::')");
        assertRefused(Parse::ipv6, "1:2:3:4::5:6:7:8", "'1:2:3:4::5:6:7:8': not an IPv6 address (eight groups, or '::')");
        assertRefused(Parse::ipv6, "12345::", "'12345::': not an IPv6 address (group '12345')");
        assertRefused(Parse::ipv6, "::ffff:198.18.0.1",
            "'::ffff:198.18.0.1': not an IPv6 address (an IPv4-mapped address: write the IPv4 address)");
        assertRefused(Parse::ipv6, "localhost", "'localhost': not an IPv6 address (group 'localhost')");
        assertRefused(Parse::ipv6, "::010.0.0.1", "'::010.0.0.1': not an IPv6 address: " +
            "'010.0.0.1': not an IPv4 address ('010' has a leading zero, which some tools read as octal)");
    }

    @Test
    void durationsHaveDigitsAndAUnit()
    {
        assertEquals(Duration.ofMillis(500), Parse.duration("500ms"));
        assertEquals(Duration.ofSeconds(5), Parse.duration("5s"));
        assertEquals(Duration.ofMinutes(3), Parse.duration("3m"));
        assertEquals(Duration.ofHours(3), Parse.duration("3h"));
        assertEquals(Duration.ZERO, Parse.duration("0s"));
        final String form = " is not a duration (digits and ms, s, m or h: e.g. 500ms, 5s, 3m, 3h)";
        assertRefused(Parse::duration, "5", "'5'" + form);
        assertRefused(Parse::duration, "-5s", "'-5s'" + form);
        assertRefused(Parse::duration, "5 s", "'5 s'" + form);
        assertRefused(Parse::duration, "5d", "'5d'" + form);
        assertRefused(Parse::duration, "s", "'s'" + form);
        assertRefused(Parse::duration, "05s", "'05s': has a leading zero");
    }

    private static void assertRefused(final Function<String, ?> parser, final String text, final String message)
    {
        assertEquals(message, assertThrows(IllegalArgumentException.class, () -> parser.apply(text)).getMessage(),
            text);
    }
}

package io.crab.lb;

import io.crab.lb.xdp.XdpModeOption;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crab-lb's --xdp-mode on the command line: auto by default, the three words exactly, and exit 2 otherwise. */
class XdpModeOptionTest
{
    @Test
    void autoByDefaultAndEachWord()
    {
        assertEquals(XdpModeOption.AUTO, parse("--iface", "eth0").xdpMode);
        assertEquals(XdpModeOption.AUTO, parse("--xdp-mode", "auto").xdpMode);
        assertEquals(XdpModeOption.NATIVE, parse("--xdp-mode", "native").xdpMode);
        assertEquals(XdpModeOption.GENERIC, parse("--xdp-mode=generic").xdpMode);
    }

    @Test
    void anythingElseExitsTwoWithOneLineNamingTheOptionTheValueAndTheWords()
    {
        for (final String bad : new String[] {"skb", "drv", "Native", "GENERIC", "", "native,generic"})
        {
            final StringWriter err = new StringWriter();
            assertEquals(2, CrabLb.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--iface", "eth0",
                "--vip", "198.19.0.1:80", "--backends", "/nonexistent", "--xdp-mode", bad), bad);
            assertEquals("crab-lb: --xdp-mode: unknown XDP mode '" + bad + "' (expected auto, native, generic)",
                err.toString().strip());
        }
        final StringWriter err = new StringWriter();
        assertEquals(2, CrabLb.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "--iface", "eth0",
            "--xdp-mode"));
        assertEquals("crab-lb: --xdp-mode needs a value", err.toString().strip());
    }

    @Test
    void theWordsAreTheOnesTheReadmeAndTheReadyLineUse()
    {
        assertEquals("auto", XdpModeOption.AUTO.word());
        assertEquals("native", XdpModeOption.NATIVE.word());
        assertEquals("generic", XdpModeOption.GENERIC.word());
    }

    private static CrabLb parse(final String... args)
    {
        final CrabLb lb = new CrabLb();
        new CommandLine(lb).parseArgs(args);
        return lb;
    }
}

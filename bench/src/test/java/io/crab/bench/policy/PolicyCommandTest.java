package io.crab.bench.policy;

import io.crab.agent.Cli;
import io.crab.bench.CrabBench;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** What crab-bench policy refuses before it builds anything; needs no root. */
class PolicyCommandTest
{
    @TempDir
    Path dir;

    @Test
    void refusesAnUnknownPolicyAndWritesNothing()
    {
        assertRefused("--policies: unknown policy 'leastconn' (known: random, hash, rr, jsq, p2c)",
            "--policies", "rr,leastconn");
    }

    @Test
    void refusesAPolicyNamedTwice()
    {
        assertRefused("--policies: rr,random,rr names a policy twice", "--policies", "rr,random,rr");
    }

    @Test
    void refusesLoadsOutOfRangeOrTwice()
    {
        assertRefused("--loads and --headroom-loads: each must be 1..1000 (percent)", "--loads", "0,50");
        assertRefused("--loads and --headroom-loads: each must be 1..1000 (percent)", "--headroom-loads", "2000");
        assertRefused("--loads: [50, 50] names a load twice", "--loads", "50,50");
    }

    @Test
    void refusesAZeroServiceTimeOrDuration()
    {
        assertRefused("--service-time must be above 0 (the headroom runs measure the rig without it)",
            "--service-time", "0ms");
        assertRefused("--duration must be above 0 and --warmup at least 0", "--duration", "0s");
    }

    private void assertRefused(final String message, final String... options)
    {
        final Path out = dir.resolve("results");
        final String[] args = new String[options.length + 3];
        args[0] = "policy";
        System.arraycopy(options, 0, args, 1, options.length);
        args[args.length - 2] = "--out";
        args[args.length - 1] = out.toString();
        final StringWriter err = new StringWriter();

        assertEquals(Cli.USAGE, CrabBench.run(new PrintWriter(new StringWriter()), new PrintWriter(err), args));
        assertEquals("crab-bench policy: " + message, err.toString().strip());
        assertFalse(Files.exists(out));
    }
}

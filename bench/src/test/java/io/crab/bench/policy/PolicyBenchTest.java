package io.crab.bench.policy;

import io.crab.agent.Cli;
import io.crab.bench.CrabBench;
import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crab-bench policy end to end, as small as it goes: one policy, one load point, one short run. */
@ExtendWith(KernelRequired.class)
class PolicyBenchTest
{
    @TempDir
    Path dir;

    @Test
    void runsAPolicyAtALoadThroughCrabAndWritesEveryFile() throws Exception
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = CrabBench.run(new PrintWriter(out), new PrintWriter(err), "policy", "--policies", "rr",
            "--loads", "30", "--duration", "1s", "--warmup", "300ms", "--headroom-loads", "50", "--out",
            dir.toString());

        assertEquals(Cli.OK, code, out + "\n" + err);
        final List<String> csv = Files.readAllLines(dir.resolve(PolicyReport.CSV_FILE));
        assertEquals(2, csv.size(), csv.toString());
        final String[] rr = csv.get(1).split(",");
        assertEquals("rr", rr[0]);
        assertEquals("30", rr[1]);
        assertEquals("0", rr[7], "no failures: " + csv.get(1));
        assertTrue(Long.parseLong(rr[9]) > 300, "about 480 connections answered in 1 s at 480/s: " + csv.get(1));
        // rr over 16 backends: every backend within one connection of an even share.
        final double even = Long.parseLong(rr[9]) / 16.0;
        final List<String> shares = Files.readAllLines(dir.resolve(PolicyReport.SHARES_FILE));
        assertEquals(17, shares.size());
        for (final String line : shares.subList(1, shares.size()))
        {
            assertEquals(even, Long.parseLong(line.split(",")[4]), 1.01, line);
        }
        final List<String> headroom = Files.readAllLines(dir.resolve(PolicyReport.HEADROOM_FILE));
        assertEquals(2, headroom.size(), headroom.toString());
        assertTrue(Files.size(dir.resolve(PolicyReport.CHART_FILE)) > 0);
        assertTrue(Files.readString(dir.resolve(PolicyReport.MARKDOWN_FILE)).contains(
            "crab-bench policy --policies rr --loads 30"), "the README names the command");
    }
}

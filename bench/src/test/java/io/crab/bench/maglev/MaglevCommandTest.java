package io.crab.bench.maglev;

import io.crab.agent.Cli;
import io.crab.bench.CrabBench;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command's files and refusals; the figures themselves are the builder's tests' business. */
class MaglevCommandTest
{
    @Test
    void writesOneRowPerWeighting(@TempDir final Path dir) throws Exception
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = CrabBench.run(new PrintWriter(out), new PrintWriter(err), "maglev", "--backends", "10",
            "--size", "1009", "--iterations", "3", "--out", dir.toString());

        assertEquals(Cli.OK, code, err.toString());
        final String markdown = Files.readString(dir.resolve("maglev.md"));
        assertTrue(markdown.contains("- Command: `crab-bench maglev --backends 10 --size 1009 --iterations 3 --out "),
            markdown);
        assertTrue(markdown.contains("| equal | "), markdown);
        assertTrue(markdown.contains("| 1..5 cycling | "), markdown);
        assertTrue(out.toString().contains(markdown), out.toString());
        final List<String> csv = Files.readAllLines(dir.resolve("maglev.csv"));
        assertEquals(3, csv.size(), csv.toString());
        assertTrue(csv.get(1).startsWith("equal,10,1009,3,"), csv.get(1));
        assertTrue(csv.get(2).startsWith("1..5 cycling,10,1009,3,"), csv.get(2));
    }

    @Test
    void refusesATableTheBuilderWouldRefuseAndWritesNothing(@TempDir final Path dir)
    {
        final StringWriter err = new StringWriter();
        final Path results = dir.resolve("results");
        assertEquals(Cli.USAGE, CrabBench.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "maglev",
            "--size", "1000", "--out", results.toString()));
        assertEquals("crab-bench maglev: --size 1000, --backends 1000: table size 1000 is not prime (e.g. 65537)",
            err.toString().strip());
        assertFalse(Files.exists(results));
    }
}

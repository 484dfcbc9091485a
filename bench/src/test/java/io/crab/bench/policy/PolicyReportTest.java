package io.crab.bench.policy;

import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.Histograms;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The policy experiment's files, from made-up results. */
class PolicyReportTest
{
    private static final List<String> BACKENDS = List.of("198.18.0.101:8001", "198.18.0.101:8002",
        "198.18.0.102:8001", "198.18.0.102:8002");

    @TempDir
    Path dir;

    @Test
    void csvHasOneLinePerRunWithThePapersFiguresFirst()
    {
        final List<String> lines = PolicyReport.csv(results()).lines().toList();

        assertEquals("policy,load_percent,offered_per_s,achieved_per_s,p50_ms,p99_ms,p999_ms,failures,scheduled," +
            "answered,late_starts,p99_start_lag_ms,max_start_lag_ms,min_share,max_share", lines.get(0));
        assertEquals(5, lines.size(), "4 runs: " + lines);
        // random at 80 %: every latency 40 ms, 2 connect failures, 1000 scheduled, 998 answered, 3 late.
        final String ms40 = String.format(Locale.ROOT, "%.3f", reported(40));
        final String ms1 = String.format(Locale.ROOT, "%.3f", reported(1));
        assertTrue(lines.contains("random,80,320.0,310.0," + ms40 + "," + ms40 + "," + ms40 + ",2,1000,998,3," + ms1 +
            "," + ms1 + ",0.1002,0.3998"), String.join("\n", lines));
    }

    @Test
    void sharesCsvHasOneLinePerRunAndBackend()
    {
        final List<String> lines = PolicyReport.sharesCsv(results()).lines().toList();

        assertEquals("policy,load_percent,backend,address,answered,share", lines.get(0));
        assertEquals(1 + 4 * BACKENDS.size(), lines.size());
        assertTrue(lines.contains("random,80,3,198.18.0.102:8002,399,0.3998"), String.join("\n", lines));
        assertTrue(lines.contains("rr,80,0,198.18.0.101:8001,250,0.2500"), String.join("\n", lines));
    }

    @Test
    void markdownHasTheCommandTheP99TableAndTheRatioToRandomAt80()
    {
        final String markdown = PolicyReport.markdown(results());

        assertTrue(markdown.contains("```sh\ncrab-bench policy --policies random,rr --loads 40,80\n```"), markdown);
        assertTrue(markdown.contains("| load | random | rr |\n| --- | ---: | ---: |\n| 40 % | 20.00 | 10.00 |\n" +
            "| 80 % | 40.01 | 10.00 |\n"), markdown);
        assertTrue(markdown.contains("p99 at 80 % load relative to random's (40.01 ms): rr 0.25x."), markdown);
        assertEquals(reported(10) / reported(40), PolicyReport.p99Ratio(results(), "rr", 80).orElseThrow(), 1e-9);
        assertTrue(markdown.contains("Capacity at 100 % load: 400 connections/s."), markdown);
        assertTrue(markdown.contains("4 backends (2 servers x 2 ports)"), markdown);
        assertTrue(markdown.contains("| random | 80 % | 320 | 310 | 40.01 | 40.01 | 40.01 | 2 of 1000 | 3 | 1.0 | " +
            "10.02–39.98 |"), markdown);
        assertTrue(markdown.contains("| 100 % | 400 | 400 | 0.20 | 0.20 | 0 | 0 of 800 | 1.0 | 1.0 | yes |"), markdown);
        assertTrue(markdown.contains("The experiment offers at most 320 connections/s. The rig kept up with 400/s " +
            "(1.3x that)."), markdown);
        assertTrue(markdown.contains("![p99 latency against load, one line per policy](p99.png)"), markdown);
    }

    @Test
    void withoutRandomAt80TheMarkdownSaysSoInsteadOfARatio()
    {
        final PolicyResults results = results();
        final PolicyResults onlyRr = new PolicyResults(results.runs().stream().filter(r -> r.policy().equals("rr"))
            .toList(), results.headroom(), BACKENDS, results.settings(), results.machine(), "x", results.started());

        assertTrue(PolicyReport.markdown(onlyRr).contains("No ratio to random: it did not run at 80 % load."));
        assertTrue(PolicyReport.p99Ratio(onlyRr, "rr", 80).isEmpty());
    }

    @Test
    void runsWhereTheClientFellBehindAreNamedAndTheOthersAreNot()
    {
        final PolicyResults results = results();
        assertFalse(PolicyReport.markdown(results).contains("fell behind its schedule"), "every run kept its schedule");

        final List<PolicyRun> runs = new ArrayList<>(results.runs());
        final OpenLoopResult stalled = new OpenLoopResult(160, Duration.ofSeconds(2), 400, 400, 400, Map.of(),
            histogram(400, 10), histogram(400, 50), 400, shares(new long[] {100, 100, 100, 100}));
        runs.set(1, new PolicyRun("rr", 40, stalled));
        final String markdown = PolicyReport.markdown(new PolicyResults(runs, results.headroom(), BACKENDS,
            results.settings(), results.machine(), results.command(), results.started()));

        assertTrue(markdown.contains("**The client fell behind its schedule** (over 1 % of its connections started " +
            "more than 5 ms late) in: rr at 40 %."), markdown);
    }

    @Test
    void writesEveryFileAndAChartOfTheExpectedSizeWithLinesOnIt() throws IOException
    {
        final List<Path> files = PolicyReport.write(results(), dir);

        assertEquals(List.of("README.md", "results.csv", "shares.csv", "headroom.csv", "p99.png"),
            files.stream().map(f -> f.getFileName().toString()).toList());
        for (final Path file : files)
        {
            assertTrue(Files.size(file) > 0, file + " is empty");
        }
        final BufferedImage image = ImageIO.read(files.get(4).toFile());
        assertNotNull(image);
        assertEquals(PolicyChart.WIDTH, image.getWidth());
        assertEquals(PolicyChart.HEIGHT, image.getHeight());
        assertEquals(0xFFFFFF, image.getRGB(0, 0) & 0xFFFFFF, "white background");
        long coloured = 0;
        for (int y = 0; y < image.getHeight(); y++)
        {
            for (int x = 0; x < image.getWidth(); x++)
            {
                final int rgb = image.getRGB(x, y);
                final int r = rgb >> 16 & 0xFF;
                final int g = rgb >> 8 & 0xFF;
                final int b = rgb & 0xFF;
                coloured += Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b)) > 40 ? 1 : 0;
            }
        }
        assertTrue(coloured > 500, "the policies' lines are in colour: " + coloured + " coloured pixels");
        assertEquals("load_percent,offered_per_s,achieved_per_s,p50_ms,p99_ms,failures,scheduled,late_starts," +
            "p99_start_lag_ms,max_start_lag_ms,kept_up", Files.readAllLines(files.get(3)).get(0));
    }

    /** random and rr at 40 % and 80 % of 4 backends of 10 ms (400/s), and one headroom step that kept up. */
    static PolicyResults results()
    {
        final PolicySettings settings = new PolicySettings(List.of("random", "rr"), List.of(40, 80),
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofMillis(10), List.of(100), 1);
        final List<PolicyRun> runs = new ArrayList<>();
        runs.add(new PolicyRun("random", 40, result(160, 20, 0, new long[] {100, 100, 100, 100})));
        runs.add(new PolicyRun("rr", 40, result(160, 10, 0, new long[] {100, 100, 100, 100})));
        runs.add(new PolicyRun("rr", 80, result(320, 10, 0, new long[] {250, 250, 250, 250})));
        final OpenLoopResult random80 = new OpenLoopResult(320, Duration.ofSeconds(2), 1000, 998, 620,
            Map.of(FailureKind.CONNECT, 2L), histogram(998, 40), histogram(1000, 1), 3,
            shares(new long[] {100, 200, 299, 399}));
        runs.add(new PolicyRun("random", 80, random80));
        final OpenLoopResult headroom = new OpenLoopResult(400, Duration.ofSeconds(2), 800, 800, 800, Map.of(),
            histogram(800, 0.2), histogram(800, 1), 0, shares(new long[] {200, 200, 200, 200}));
        return new PolicyResults(runs, List.of(new HeadroomStep(100, headroom)), BACKENDS, settings,
            new MachineInfo("6.18", "cpu", 2, "1 GiB", "jdk", "os", "host"),
            "crab-bench policy --policies random,rr --loads 40,80", Instant.parse("2026-11-26T10:00:00Z"));
    }

    private static OpenLoopResult result(final double rate, final double latencyMs, final long failures,
        final long[] answeredBy)
    {
        final long answered = Arrays.stream(answeredBy).sum();
        return new OpenLoopResult(rate, Duration.ofSeconds(2), answered + failures, answered, answered,
            Map.of(), histogram(answered, latencyMs), histogram(answered, 0.1), 0, shares(answeredBy));
    }

    /** What the histogram reports for a latency: the top of its bucket, within 0.1 % of it. */
    private static double reported(final double ms)
    {
        return Histograms.create().highestEquivalentValue(Math.round(ms * 1e6)) / 1e6;
    }

    private static Histogram histogram(final long count, final double ms)
    {
        final Histogram histogram = Histograms.create();
        histogram.recordValueWithCount(Math.round(ms * 1e6), count);
        return histogram;
    }

    private static TreeMap<Integer, Long> shares(final long[] answeredBy)
    {
        final TreeMap<Integer, Long> shares = new TreeMap<>();
        for (int id = 0; id < answeredBy.length; id++)
        {
            shares.put(id, answeredBy[id]);
        }
        return shares;
    }
}

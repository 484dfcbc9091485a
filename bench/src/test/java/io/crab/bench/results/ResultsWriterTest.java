package io.crab.bench.results;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.crab.bench.traffic.FailureKind;
import io.crab.bench.traffic.Histograms;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

/** The markdown, CSV and PNG written for synthetic results, and the machine description. */
class ResultsWriterTest
{
    private static final String REASON = "LB saw 0 SYNs, traffic bypassed it";
    private static final String COMMAND = "crab-bench --modes direct,crab,l4-dnat,haproxy --rounds 3";
    private static final MachineInfo MACHINE =
        new MachineInfo("6.1.0-18-amd64", "Test CPU", 8, "15.6 GiB", "Test VM 17", "Test OS", "bench-host");
    private static final RunParameters PARAMETERS = new RunParameters(8, 4, 3, Duration.ofSeconds(10), 0);

    @TempDir
    Path dir;

    @Test
    void theRoundByRoundRatioComparesEachRoundWithTheBaselinesSameRound()
    {
        // Round 1 ran in the fast mode for the baseline only: merged, it would dominate; per round it does not.
        final List<Double> direct = List.of(6.3, 57.6, 58.6, 56.1, 56.5);
        final List<Double> crab = List.of(6.9, 57.9, 56.9, 59.3, 57.8);
        assertEquals(1.023, ResultsWriter.medianRatio(crab, direct), 0.001);
        assertTrue(Double.isNaN(ResultsWriter.medianRatio(crab, List.of(1.0))), "rounds must pair up");
        assertEquals(1.5, ResultsWriter.medianRatio(List.of(2.0, 4.0), List.of(2.0, 2.0)), 1e-9, "even count");
    }

    @Test
    void markdownHasTheContextAndARowPerReportedModeWithRatiosToDirect() throws IOException
    {
        final String md = read(ResultsWriter.write(results(), dir).markdown());

        assertTrue(md.startsWith("# crab benchmark results\n"), md);
        assertTrue(md.contains("Started 2025-06-01 12:00:00 UTC."), md);
        assertTrue(md.contains("```sh\n" + COMMAND + "\n```"), md);
        assertTrue(md.contains("- Kernel: 6.1.0-18-amd64\n- CPU: 8 x Test CPU\n"), md);
        assertTrue(md.contains("- Payload: 8 bytes\n- Workers: 4\n- Rounds: 3\n- Each run: 10 s\n"), md);
        assertTrue(md.contains("| mode | CRR p50 µs | CRR p99 µs | CRR p50 vs direct | CRR p99 vs direct "
            + "| RR p50 µs | RR p99 µs | RR p50 vs direct | RR p99 vs direct | CRR conn/s "
            + "| LB packets per connection | LB CPU per connection | of which BPF | path check |\n"), md);

        // HdrHistogram keeps 3 significant digits and reports the top of a value's bucket: 330 µs reads back as 330.2.
        assertEquals(List.of("direct", "100.0", "300.0", "1.00x", "1.00x", "40.0", "80.1", "1.00x", "1.00x",
            "1000", "0.0", "0.02 µs (kernel)", "-", "ok"), row(md, "direct"));
        assertEquals(List.of("crab", "110.0", "330.2", "1.10x", "1.10x", "44.0", "88.1", "1.10x", "1.10x",
            "1000", "1.0", "4.35 µs (kernel)", "0.35 µs (XDP)", "ok"), row(md, "crab"));
        assertEquals("12.00 µs (kernel + haproxy)", row(md, "haproxy").get(11));
        assertEquals("2.50x", row(md, "haproxy").get(3));
        assertTrue(md.contains("How to read this:"), md);
        assertTrue(md.contains("crab-lb itself (the control plane, which runs in every mode and handles no packet of "
            + "a connection) used 2.1 % of a core during the LB CPU runs; it is not in the LB CPU column."), md);
        assertTrue(md.contains("![Latency percentiles per mode](latency.png)"), md);
    }

    @Test
    void refusedModeShowsTheReasonAndNoFigures() throws IOException
    {
        final String md = read(ResultsWriter.write(results(), dir).markdown());

        final List<String> refused = row(md, "l4-dnat");
        assertEquals("refused: " + REASON, refused.get(refused.size() - 1));
        for (final String cell : refused.subList(1, refused.size() - 1))
        {
            assertEquals("-", cell, "no figures for a refused mode: " + refused);
        }
        assertEquals(1, md.lines().filter(line -> line.startsWith("| l4-dnat |")).count(),
            "not in the percentile table either");
    }

    @Test
    void percentileTableListsEveryPercentileAndFailures() throws IOException
    {
        final String md = read(ResultsWriter.write(results(), dir).markdown());

        assertTrue(md.contains("| mode | workload | transactions | failures | tx/s | p50 µs | p90 µs | p99 µs "
            + "| p99.9 µs | max µs |\n"), md);
        assertTrue(md.contains("| haproxy | CRR | 100 | 3 (connect 2, timeout 1) | 1000 "
            + "| 250.1 | 250.1 | 750.1 | 750.1 | 750.1 |\n"), md);
        assertTrue(md.contains("| crab | RR | 100 | 0 | 1000 | 44.0 | 44.0 | 88.1 | 88.1 | 88.1 |\n"), md);
    }

    @Test
    void modeWithoutAWorkloadOrBaselineShowsDashes()
    {
        final ModeResult crrOnly = new ModeResult("crab", result("crab", Workload.CRR, 110, 330), null,
            1.0, OptionalDouble.empty(), "", OptionalDouble.empty(), "", ModeResult.PATH_OK);
        final BenchResults noBaseline = new BenchResults(List.of(crrOnly, ModeResult.refused("direct", REASON)),
            MACHINE, COMMAND, Instant.EPOCH, PARAMETERS);

        final String md = ResultsWriter.markdown(noBaseline);

        assertEquals(List.of("crab", "110.0", "330.2", "-", "-", "-", "-", "-", "-", "1000", "1.0", "-", "-", "ok"),
            row(md, "crab"));
    }

    @Test
    void csvHasALinePerModeAndWorkloadThatParsesBack() throws IOException
    {
        final List<List<String>> csv = parseCsv(read(ResultsWriter.write(results(), dir).csv()));

        final List<String> header = csv.get(0);
        assertEquals(1 + 4 * 2, csv.size(), "header, then CRR and RR for each of 4 modes");
        assertEquals(List.of("mode", "workload", "path_check", "transactions", "failures"), header.subList(0, 5));
        assertTrue(header.containsAll(List.of("connect_failures", "p50_us", "p999_us", "max_us",
            "p50_vs_direct", "p99_vs_direct", "lb_packets_per_connection", "lb_cpu_ns_per_connection",
            "lb_bpf_ns_per_connection")),
            header.toString());
        for (final List<String> line : csv)
        {
            assertEquals(header.size(), line.size(), line.toString());
        }

        final Map<String, String> crabCrr = line(csv, "crab", "CRR");
        assertEquals("ok", crabCrr.get("path_check"));
        assertEquals(100, Long.parseLong(crabCrr.get("transactions")));
        assertEquals(110.0, Double.parseDouble(crabCrr.get("p50_us")), 0.1);
        assertEquals(1.10, Double.parseDouble(crabCrr.get("p50_vs_direct")), 0.001);
        assertEquals(1.0, Double.parseDouble(crabCrr.get("lb_packets_per_connection")), 1e-9);
        assertEquals(4350.0, Double.parseDouble(crabCrr.get("lb_cpu_ns_per_connection")), 1e-9);
        assertEquals("kernel", crabCrr.get("cpu_source"));
        assertEquals(350.0, Double.parseDouble(crabCrr.get("lb_bpf_ns_per_connection")), 1e-9);
        assertEquals("XDP", crabCrr.get("bpf_programs"));
        final Map<String, String> haproxyCrr = line(csv, "haproxy", "CRR");
        assertEquals("kernel + haproxy", haproxyCrr.get("cpu_source"));
        assertEquals("", haproxyCrr.get("lb_bpf_ns_per_connection"), "crab's programs do not serve haproxy");
        assertEquals("", line(csv, "crab", "RR").get("lb_packets_per_connection"), "LB figures are per connection");
        assertEquals(2, Long.parseLong(line(csv, "haproxy", "CRR").get("connect_failures")));

        for (final String workload : List.of("CRR", "RR"))
        {
            final Map<String, String> refused = line(csv, "l4-dnat", workload);
            assertEquals(REASON, refused.get("path_check"));
            for (final String column : header.subList(3, header.size()))
            {
                assertEquals("", refused.get(column), column + " of a refused mode");
            }
        }
    }

    @Test
    void chartIsAPngOfTheExpectedSizeWithSomethingDrawn() throws IOException
    {
        final Path png = ResultsWriter.write(results(), dir).chart();

        final BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "a readable image");
        assertEquals(LatencyChart.WIDTH, image.getWidth());
        assertEquals(LatencyChart.HEIGHT, image.getHeight());
        assertEquals(0xFFFFFF, image.getRGB(0, 0) & 0xFFFFFF, "white background");
        long ink = 0;
        for (int y = 0; y < image.getHeight(); y++)
        {
            for (int x = 0; x < image.getWidth(); x++)
            {
                ink += (image.getRGB(x, y) & 0xFFFFFF) == 0xFFFFFF ? 0 : 1;
            }
        }
        assertTrue(ink > image.getWidth() * image.getHeight() / 50, "bars drawn, " + ink + " pixels of ink");
    }

    @Test
    void writeReturnsTheThreeFilesItWrote() throws IOException
    {
        final ResultFiles files = ResultsWriter.write(results(), dir.resolve("nested"));

        assertEquals(List.of("results.md", "results.csv", "latency.png"),
            files.all().stream().map(path -> path.getFileName().toString()).toList());
        for (final Path file : files.all())
        {
            assertTrue(Files.size(file) > 0, file.toString());
        }
    }

    @Test
    void modeLabelsMustBeUnique()
    {
        final List<ModeResult> twice = List.of(ModeResult.refused("crab", "a"), ModeResult.refused("crab", "b"));
        assertThrows(IllegalArgumentException.class,
            () -> new BenchResults(twice, MACHINE, COMMAND, Instant.EPOCH, PARAMETERS));
    }

    @Test
    void runParametersDescribeTheBound()
    {
        assertEquals("8-byte payload, 4 workers, 3 rounds, each run 10 s", PARAMETERS.describe());
        assertEquals("20000 transactions, at most 2.5 s",
            new RunParameters(8, 1, 1, Duration.ofMillis(2_500), 20_000).runBound());
    }

    @Test
    void machineInfoDetectsThisMachine()
    {
        final MachineInfo machine = MachineInfo.detect();

        for (final String field : List.of(machine.kernel(), machine.cpuModel(), machine.memory(), machine.jdk(),
            machine.os(), machine.hostname()))
        {
            assertFalse(field.isBlank(), machine.toString());
        }
        assertTrue(machine.cpus() >= 1);
        assertFalse(machine.jdk().contains(MachineInfo.UNKNOWN), machine.toString());
        assertFalse(machine.summary().isBlank());
    }

    @Test
    void machineInfoReadsProcAndOsRelease(@TempDir final Path root) throws IOException
    {
        write(root.resolve("proc/sys/kernel/osrelease"), "6.8.0-31-generic\n");
        write(root.resolve("proc/sys/kernel/hostname"), "lb-1\n");
        write(root.resolve("proc/cpuinfo"), "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n");
        write(root.resolve("proc/meminfo"), "MemTotal:       16318400 kB\nMemFree:  1 kB\n");
        write(root.resolve("etc/os-release"), "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 24.04 LTS\"\n");

        final MachineInfo machine = MachineInfo.detect(root);

        assertEquals("6.8.0-31-generic", machine.kernel());
        assertEquals("lb-1", machine.hostname());
        assertEquals("AMD EPYC 7B13", machine.cpuModel());
        assertEquals("15.6 GiB", machine.memory());
        assertEquals("Ubuntu 24.04 LTS", machine.os());
    }

    @Test
    void machineInfoToleratesMissingFiles(@TempDir final Path root)
    {
        final MachineInfo machine = MachineInfo.detect(root);

        assertEquals(List.of("unknown", "unknown", "unknown", "unknown", "unknown"),
            List.of(machine.kernel(), machine.cpuModel(), machine.memory(), machine.os(), machine.hostname()));
    }

    /** direct, crab (10 % slower), l4-dnat (measured but refused) and haproxy (2.5x, with failures). */
    static BenchResults results()
    {
        final Map<FailureKind, Long> failures = Map.of(FailureKind.CONNECT, 2L, FailureKind.TIMEOUT, 1L);
        final LoadResult haproxyCrr = result("haproxy", Workload.CRR, 250, 750);
        return new BenchResults(
            List.of(
                new ModeResult("direct", result("direct", Workload.CRR, 100, 300),
                    result("direct", Workload.RR, 40, 80), 0.0, OptionalDouble.of(20), "kernel",
                    OptionalDouble.empty(), "", ModeResult.PATH_OK),
                new ModeResult("crab", result("crab", Workload.CRR, 110, 330), result("crab", Workload.RR, 44, 88),
                    1.0, OptionalDouble.of(4_350), "kernel", OptionalDouble.of(350), "XDP", ModeResult.PATH_OK),
                new ModeResult("l4-dnat", result("l4-dnat", Workload.CRR, 120, 360),
                    result("l4-dnat", Workload.RR, 45, 90), 10.0, OptionalDouble.of(900), "kernel",
                    OptionalDouble.empty(), "", REASON),
                new ModeResult("haproxy",
                    new LoadResult("haproxy", Workload.CRR, haproxyCrr.transactions(), failures,
                        haproxyCrr.elapsedNanos(), haproxyCrr.histogram()),
                    result("haproxy", Workload.RR, 60, 150), 10.0, OptionalDouble.of(12_000),
                    "kernel + haproxy", OptionalDouble.empty(), "", ModeResult.PATH_OK)),
            MACHINE, COMMAND, Instant.parse("2025-06-01T12:00:00Z"), PARAMETERS, Map.of(),
            OptionalDouble.of(0.021));
    }

    /** 100 transactions in 100 ms: 98 at p50 and 2 at p99, so p90 is p50 and p99.9 and max are p99. */
    static LoadResult result(final String mode, final Workload kind, final long p50Us, final long p99Us)
    {
        final Histogram histogram = Histograms.create();
        histogram.recordValueWithCount(TimeUnit.MICROSECONDS.toNanos(p50Us), 98);
        histogram.recordValueWithCount(TimeUnit.MICROSECONDS.toNanos(p99Us), 2);
        return new LoadResult(mode, kind, 100, Map.of(), TimeUnit.MILLISECONDS.toNanos(100), histogram);
    }

    /** The cells of the summary table's row for a mode (its first row with that label). */
    private static List<String> row(final String md, final String mode)
    {
        final String line = md.lines().filter(candidate -> candidate.startsWith("| " + mode + " |")).findFirst()
            .orElseThrow(() -> new AssertionError("no row for " + mode + " in\n" + md));
        final List<String> cells = new ArrayList<>();
        for (final String cell : line.substring(1, line.length() - 1).split(" \\|", -1))
        {
            cells.add(cell.strip());
        }
        return cells;
    }

    private static Map<String, String> line(final List<List<String>> csv, final String mode, final String workload)
    {
        for (final List<String> line : csv)
        {
            if (line.get(0).equals(mode) && line.get(1).equals(workload))
            {
                final Map<String, String> byColumn = new HashMap<>();
                for (int i = 0; i < line.size(); i++)
                {
                    byColumn.put(csv.get(0).get(i), line.get(i));
                }
                return byColumn;
            }
        }
        throw new AssertionError("no CSV line for " + mode + " " + workload);
    }

    /** RFC 4180, enough for what the writer produces: quoted fields may hold commas and doubled quotes. */
    private static List<List<String>> parseCsv(final String text)
    {
        final List<List<String>> lines = new ArrayList<>();
        for (final String raw : text.split("\n"))
        {
            final List<String> fields = new ArrayList<>();
            final StringBuilder field = new StringBuilder();
            boolean quoted = false;
            for (int i = 0; i < raw.length(); i++)
            {
                final char c = raw.charAt(i);
                if (quoted && c == '"' && i + 1 < raw.length() && raw.charAt(i + 1) == '"')
                {
                    field.append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = !quoted;
                }
                else if (c == ',' && !quoted)
                {
                    fields.add(field.toString());
                    field.setLength(0);
                }
                else
                {
                    field.append(c);
                }
            }
            fields.add(field.toString());
            lines.add(fields);
        }
        return lines;
    }

    private static String read(final Path file) throws IOException
    {
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    private static void write(final Path file, final String content) throws IOException
    {
        Files.createDirectories(file.getParent());
        Files.writeString(file, content, StandardCharsets.UTF_8);
    }
}

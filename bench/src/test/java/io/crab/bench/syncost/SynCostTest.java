package io.crab.bench.syncost;

import io.crab.bpf.testing.KernelRequired;
import io.crab.lb.Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** syn-cost on the real programs (paths and sane rows, no timing assertions) and its arithmetic. */
@ExtendWith(KernelRequired.class)
class SynCostTest
{
    private static final String RR_SYN = SynCost.MARKED_SYN + " (rr)";
    private static final String JSQ_SYN = SynCost.MARKED_SYN + " (jsq)";

    @Test
    void measuresEveryFrameKindOnItsExpectedPath()
    {
        // measure throws if a verdict or an lb_counters path is not the one the frame kind stands for, live frames
        // included: every live marked SYN must have been redirected as a new connection, not a retransmission.
        // Two policies: the second's SYNs must be new connections too, or the path check fails.
        final SynCostReport report = SynCost.measure(2000, 1000, List.of(Policy.RR, Policy.JSQ), 16, line ->
        {
        });

        assertEquals(Set.of(RR_SYN, JSQ_SYN, SynCost.REFERENCE_SYN, SynCost.UNMARKED_SYN, SynCost.DATA_PACKET),
            report.rows().stream().map(SynCostRow::frame).collect(Collectors.toSet()));
        assertEquals(Map.of(RR_SYN, SynCost.XDP_TX, JSQ_SYN, SynCost.XDP_TX, SynCost.REFERENCE_SYN, SynCost.XDP_TX,
            SynCost.UNMARKED_SYN, SynCost.XDP_PASS, SynCost.DATA_PACKET, SynCost.XDP_PASS), report.verdicts());
        final String live = SynCost.LIVE + 1000;
        assertEquals(List.of(SynCost.MEAN, SynCost.MEDIAN, live), methodsOf(report, RR_SYN),
            "a redirected SYN changes the frame: no one-call repeat, but live frames through the feeder");
        assertEquals(List.of(SynCost.MEAN, SynCost.MEDIAN, live), methodsOf(report, JSQ_SYN));
        assertEquals(List.of(SynCost.MEAN, SynCost.MEDIAN, live), methodsOf(report, SynCost.REFERENCE_SYN),
            "the simplest load balancer on the same marked SYNs, as crab is measured");
        assertEquals(List.of(SynCost.MEAN, SynCost.MEDIAN, "repeat=1000, 1 call", live),
            methodsOf(report, SynCost.UNMARKED_SYN));
        assertEquals(List.of(SynCost.MEAN, SynCost.MEDIAN, "repeat=1000, 1 call", live),
            methodsOf(report, SynCost.DATA_PACKET));
        for (final SynCostRow row : report.rows())
        {
            assertTrue(row.crabNs() > 0, row.toString());
            assertTrue(row.floorNs() > 0, row.toString());
            assertEquals(row.crabNs() / row.floorNs(), row.ratio(), 1e-9, row.toString());
            assertEquals(row.method().startsWith("repeat=1,") ? 2000 : 1000, row.samples(), row.toString());
            assertEquals(row.live(), row.method().equals(live), row.toString());
            assertEquals(row.live(), Double.isFinite(row.crabMpps()), row.toString());
            if (row.live())
            {
                assertEquals(1000 / row.crabNs(), row.crabMpps(), 1e-9, row.toString());
                assertEquals(1000 / row.floorNs(), row.floorMpps(), 1e-9, row.toString());
            }
        }
        final String csv = report.csv();
        assertEquals(report.rows().size() + 1, csv.lines().count());
        assertTrue(csv.lines().skip(1).allMatch(line -> line.matches(
            "[a-zA-Z_ ()]+,[23],\"(repeat=|live frames, repeat=).*")), csv);
        assertTrue(csv.lines().filter(line -> line.contains("\"live frames")).allMatch(line -> line.matches(
            ".*,[0-9.]+,[0-9.]+")), "live rows end in both Mpps: " + csv);
        assertTrue(report.text().contains("XDP_TX (3)"), report.text());
        assertTrue(report.markdown().contains("BPF_F_TEST_XDP_LIVE_FRAMES"), report.markdown());
    }

    @Test
    void refusesNonsenseSizes()
    {
        assertThrows(IllegalArgumentException.class, () -> SynCost.measure(0, 1000));
        assertThrows(IllegalArgumentException.class, () -> SynCost.measure(1000, 0));
        assertThrows(IllegalArgumentException.class, () -> SynCost.measure(1000, 1000, List.of(), 3, line ->
        {
        }));
    }

    @Test
    void medianIsTheMiddleOrTheMeanOfTheMiddleTwoAndLeavesTheInputAlone()
    {
        final long[] odd = {9, 1, 5};
        assertEquals(5.0, SynCost.median(odd));
        assertArrayEquals(new long[] {9, 1, 5}, odd);
        assertEquals(4.5, SynCost.median(new long[] {8, 1, 4, 5}));
        assertEquals(7.0, SynCost.median(new long[] {7}));
        assertTrue(Double.isNaN(SynCost.median(new long[0])));
    }

    @Test
    void meanAndRatio()
    {
        assertEquals(4.5, SynCost.mean(new long[] {8, 1, 4, 5}));
        assertTrue(Double.isNaN(SynCost.mean(new long[0])));
        assertEquals(2.5, SynCost.ratio(50, 20));
        assertTrue(Double.isNaN(SynCost.ratio(50, 0)), "no ratio to a zero floor");

        final SynCostRow row = SynCostRow.of("f", "m", 30, 12, 7);
        assertEquals(2.5, row.ratio());
        assertEquals(18.0, row.overFloorNs());
    }

    @Test
    void rowWithoutAFloorShowsNoRatio()
    {
        final SynCostReport report = new SynCostReport(List.of(SynCostRow.of("f", "m", 30, 0, 7)), Map.of("f", 2));
        assertTrue(report.text().lines().anyMatch(line -> line.startsWith("f") && line.endsWith("-")),
            report.text());
        assertTrue(report.csv().contains("f,2,m,7,30.000,0.000,30.000,,,\n"), report.csv());
    }

    private static List<String> methodsOf(final SynCostReport report, final String frame)
    {
        return report.rows().stream().filter(row -> row.frame().equals(frame)).map(SynCostRow::method).toList();
    }
}

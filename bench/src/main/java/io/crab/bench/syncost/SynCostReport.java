package io.crab.bench.syncost;

import io.crab.bench.traffic.Tables;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The syn-cost figures as a text table, markdown or CSV.
 *
 * @param rows     the measurements in the order to print them
 * @param verdicts the XDP verdict crab_lb gave every run, by frame kind
 */
public record SynCostReport(List<SynCostRow> rows, Map<String, Integer> verdicts)
{
    private static final List<String> HEADER = List.of(
        "frame", "verdict", "method", "runs", "crab ns", "floor ns", "crab-floor ns", "crab/floor", "crab Mpps",
        "floor Mpps");
    /** Leading columns holding labels, aligned left; the rest are numbers, aligned right. */
    private static final int LABEL_COLUMNS = 3;
    private static final List<String> NOTES = List.of(
        "crab = crab_lb (lb_xdp), floor = xdp_pass (a no-op XDP program; for live marked SYNs see below), on the"
            + " same frames; ns per packet as"
            + " BPF_PROG_TEST_RUN reports it (its duration: integer ns, averaged over the call's repeats).",
        "repeat=1: one call per packet, every packet a new frame (a new connection for marked SYNs), crab and floor"
            + " alternating; both include the call's fixed cost (timer, program dispatch), which crab-floor cancels.",
        "repeat=N, 1 call: the same frame N times in one call; only for frames crab_lb passes unmodified.",
        "live frames, repeat=N: one BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES of N frames, on one CPU, as a"
            + " device's receive path runs them: the kernel acts on each verdict, in batches of 64. Mpps = 1000 / ns,"
            + " the kernel's time per frame (whole ns, so about 1% coarse at 100 ns), which counts only the time the"
            + " call held the CPU and includes acting on the verdict.",
        "live unmarked SYN and data packet: crab and floor (xdp_pass) both pass the frame up the test device's stack,"
            + " which drops it in IP receive (addressed to another MAC); that cost is in both.",
        "live marked SYN: floor = a program that only returns XDP_TX, so both transmit every frame out of the test"
            + " device, whose veth peer has no XDP program to take them: each goes through the redirect and the"
            + " driver's transmit call, to no wire and no receiver. The kernel recycles pages"
            + " without copying the frame in again, and crab_lb rewrites a SYN it redirects, so a feeder program runs"
            + " first, copies in the next of N different SYNs (each a new connection) and tail-calls crab or floor;"
            + " both pay for the feeder. Rows whose lb_counters path differs from the frame kind are refused.",
        "ref_lb rows: the program in the crab columns is ref_lb (bench/src/main/bpf/ref_lb.bpf.c), the simplest XDP"
            + " load balancer, on the same marked SYNs, measured as crab is: a hash lookup of the VIP, a backend by a"
            + " hash of the tuple from an array, destination address and MACs rewritten, checksums patched, XDP_TX;"
            + " no option, SYN memory, FIB lookup or counters. Dividing a crab row by the ref_lb row of its method"
            + " gives crab's cost in units of the simplest load balancer's.");

    public SynCostReport
    {
        rows = List.copyOf(rows);
        verdicts = Map.copyOf(verdicts);
    }

    /** Aligned columns for a terminal, with a rule under the header, then the notes. */
    public String text()
    {
        final StringBuilder out = new StringBuilder(Tables.text(table(), LABEL_COLUMNS)).append('\n');
        NOTES.forEach(note -> out.append(note).append('\n'));
        return out.toString();
    }

    /** A GitHub-flavoured markdown table, then the notes as a list. */
    public String markdown()
    {
        final StringBuilder out = new StringBuilder(Tables.markdown(table(), LABEL_COLUMNS));
        out.append('\n');
        NOTES.forEach(note -> out.append("- ").append(note).append('\n'));
        return out.toString();
    }

    /** Machine-readable form: raw numbers, the verdict as its number, empty cells where there is no value. */
    public String csv()
    {
        final StringBuilder out = new StringBuilder(
            "frame,verdict,method,runs,crab_ns,floor_ns,crab_minus_floor_ns,ratio,crab_mpps,floor_mpps\n");
        for (final SynCostRow row : rows)
        {
            out.append(Tables.csvField(row.frame())).append(',')
                .append(verdict(row).map(String::valueOf).orElse("")).append(',')
                .append(Tables.csvField(row.method())).append(',')
                .append(row.samples()).append(',')
                .append(csvNumber(row.crabNs())).append(',')
                .append(csvNumber(row.floorNs())).append(',')
                .append(csvNumber(row.overFloorNs())).append(',')
                .append(csvNumber(row.ratio())).append(',')
                .append(csvNumber(row.crabMpps())).append(',')
                .append(csvNumber(row.floorMpps())).append('\n');
        }
        return out.toString();
    }

    private Optional<Integer> verdict(final SynCostRow row)
    {
        return Optional.ofNullable(verdicts.get(row.frame()));
    }

    private List<List<String>> table()
    {
        final List<List<String>> table = new ArrayList<>();
        table.add(HEADER);
        for (final SynCostRow row : rows)
        {
            table.add(List.of(
                row.frame(),
                verdict(row).map(v -> SynCost.verdictName(v) + " (" + v + ")").orElse("-"),
                row.method(),
                Long.toString(row.samples()),
                ns(row.crabNs()),
                ns(row.floorNs()),
                ns(row.overFloorNs()),
                Double.isFinite(row.ratio()) ? String.format(Locale.ROOT, "%.2fx", row.ratio()) : "-",
                mpps(row.crabMpps()),
                mpps(row.floorMpps())));
        }
        return table;
    }

    private static String ns(final double value)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.1f", value) : "-";
    }

    private static String mpps(final double value)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.2f", value) : "-";
    }

    private static String csvNumber(final double value)
    {
        return Double.isFinite(value) ? String.format(Locale.ROOT, "%.3f", value) : "";
    }

}

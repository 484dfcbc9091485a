package io.crab.bench.hostile;

import io.crab.bench.traffic.Tables;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/** The campaign as results.md, for people, and results.csv, every figure for scripts. */
final class HostileReport
{
    private static final DateTimeFormatter STARTED =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    private HostileReport()
    {
    }

    static String markdown(final CampaignResult result)
    {
        final StringBuilder out = new StringBuilder("# crab hostile-input campaign\n\n");
        out.append(String.format(Locale.ROOT, "Started %s; took %.1f s.%n%n", STARTED.format(result.started()),
            result.elapsedNs() / 1e9));
        out.append("Command:\n\n```sh\n").append(result.command()).append("\n```\n\n");
        out.append("Each program ran its frames one by one through BPF_PROG_TEST_RUN on a fixture configured like" +
            " its daemon configures it (LB: five VIPs under jsq, hash, p2c and rr, five backends, one down; LB" +
            " fallback: a VIP with a Maglev table, one without backends, two known connections; client: two VIPs," +
            " pending and redirected flows; server: echoes of those flows), restored before every frame. Every" +
            " outcome was checked as listed under Checks.\n\n");
        out.append(String.format(Locale.ROOT, "**Violations: %d** in %d frames.%n%n", result.violations(),
            result.frames()));

        out.append("## Machine\n\n")
            .append("- uname: ").append(result.uname()).append('\n')
            .append("- Kernel: ").append(result.machine().kernel()).append('\n')
            .append("- CPU: ").append(result.machine().cpus()).append(" x ").append(result.machine().cpuModel())
            .append('\n')
            .append("- Memory: ").append(result.machine().memory()).append('\n')
            .append("- OS: ").append(result.machine().os()).append('\n')
            .append("- JDK: ").append(result.machine().jdk()).append("\n\n");

        out.append("## Campaign\n\n")
            .append("- Seed: ").append(result.seed()).append(". Frame i of a program depends only on the seed," +
                " the program and i: `crab-bench hostile --seed ").append(result.seed())
            .append(" --program P --index i` makes and runs it again, alone, and prints it.\n")
            .append("- Frames per program: ").append(result.framesPerProgram()).append('\n')
            .append("- Option configuration, frame by frame: kind ").append(OptionConfig.KIND_42.kind)
            .append(", or kind ").append(OptionConfig.EXPERIMENTAL.kind)
            .append(String.format(" with ExID 0x%04X", OptionConfig.EXPERIMENTAL.exid)).append('\n')
            .append("- Families: frame i is of family i mod ").append(Family.values().length)
            .append(", and enumerates what the family promises by i / ").append(Family.values().length)
            .append(":\n");
        for (final Family family : Family.values())
        {
            out.append("  - `").append(family.name().toLowerCase()).append("`: ").append(family.description)
                .append('\n');
        }
        out.append('\n');

        out.append("## Results\n\n");
        final List<List<String>> summary = new ArrayList<>();
        summary.add(List.of("program", "hook", "frames", "sent on changed", "refused", "violations", "seconds",
            "frames/s"));
        for (final ProgramResult p : result.programs())
        {
            summary.add(List.of(p.program(), p.hook().name(), Long.toString(p.frames()),
                Long.toString(p.sentOnChanged()), Long.toString(p.verdicts().getOrDefault(Campaign.REFUSED, 0L)),
                Long.toString(p.violationCount()), String.format(Locale.ROOT, "%.1f", p.elapsedNs() / 1e9),
                String.format(Locale.ROOT, "%.0f", p.frames() / (p.elapsedNs() / 1e9))));
        }
        out.append(Tables.markdown(summary, 2)).append('\n');
        out.append("Sent on changed: transmitted (XDP_TX, XDP_REDIRECT) by the XDP program; sent on (TCX_NEXT," +
            " TC_ACT_OK, TC_ACT_REDIRECT) with bytes changed by a TC program. Refused: BPF_PROG_TEST_RUN would not run the" +
            " frame (shorter than its headers), as the checks allow.\n\n");

        out.append("## Verdicts\n\n");
        final List<List<String>> verdicts = new ArrayList<>();
        verdicts.add(List.of("program", "verdict", "frames", "share"));
        for (final ProgramResult p : result.programs())
        {
            p.verdicts().forEach((verdict, frames) -> verdicts.add(List.of(p.program(), verdict,
                Long.toString(frames), String.format(Locale.ROOT, "%.2f %%", 100.0 * frames / p.frames()))));
        }
        out.append(Tables.markdown(verdicts, 2)).append('\n');

        out.append("## Counters\n\nHow much each counter of the program's object rose over its campaign.\n\n");
        final List<List<String>> counters = new ArrayList<>();
        counters.add(List.of("program", "counter", "raised"));
        for (final ProgramResult p : result.programs())
        {
            p.counters().forEach((name, raised) -> counters.add(List.of(p.program(), name, Long.toString(raised))));
        }
        out.append(Tables.markdown(counters, 2)).append('\n');

        out.append("## Frames by family and verdict\n\n");
        for (final ProgramResult p : result.programs())
        {
            out.append("### ").append(p.program()).append("\n\n").append(Tables.markdown(familyTable(p), 1))
                .append('\n');
        }

        out.append("## Checks\n\nEvery frame of every program:\n\n");
        FrameCheck.GENERIC.forEach(check -> out.append("- ").append(check).append('\n'));
        for (final ProgramResult p : result.programs())
        {
            out.append("\n").append(p.program()).append(":\n\n");
            p.rules().forEach(rule -> out.append("- ").append(rule).append('\n'));
        }

        out.append("\n## Violations\n\n");
        if (result.violations() == 0)
        {
            out.append("None.\n");
        }
        else
        {
            out.append("The first ").append(Campaign.KEPT_VIOLATIONS).append(" of each program:\n\n```\n");
            result.programs().forEach(p -> p.violations().forEach(v -> out.append(v.report()).append('\n')));
            out.append("```\n");
        }
        return out.toString();
    }

    static String csv(final CampaignResult result)
    {
        final StringBuilder out = new StringBuilder("program,section,name,value\n");
        Tables.csvRow(out, List.of("", "campaign", "seed", Long.toString(result.seed())));
        Tables.csvRow(out, List.of("", "campaign", "frames_per_program", Long.toString(result.framesPerProgram())));
        Tables.csvRow(out, List.of("", "campaign", "elapsed_ms", Long.toString(result.elapsedNs() / 1_000_000)));
        Tables.csvRow(out, List.of("", "campaign", "command", result.command()));
        Tables.csvRow(out, List.of("", "machine", "uname", result.uname()));
        Tables.csvRow(out, List.of("", "machine", "cpu", result.machine().cpuModel()));
        Tables.csvRow(out, List.of("", "machine", "cpus", Integer.toString(result.machine().cpus())));
        Tables.csvRow(out, List.of("", "machine", "kernel", result.machine().kernel()));
        for (final ProgramResult p : result.programs())
        {
            Tables.csvRow(out, List.of(p.program(), "total", "frames", Long.toString(p.frames())));
            Tables.csvRow(out, List.of(p.program(), "total", "sent_on_changed", Long.toString(p.sentOnChanged())));
            Tables.csvRow(out, List.of(p.program(), "total", "violations", Long.toString(p.violationCount())));
            Tables.csvRow(out, List.of(p.program(), "total", "elapsed_ms", Long.toString(p.elapsedNs() / 1_000_000)));
            p.verdicts().forEach((verdict, frames) ->
                Tables.csvRow(out, List.of(p.program(), "verdict", verdict, Long.toString(frames))));
            p.counters().forEach((counter, raised) ->
                Tables.csvRow(out, List.of(p.program(), "counter", counter, Long.toString(raised))));
            p.byFamily().forEach((family, byVerdict) -> byVerdict.forEach((verdict, frames) ->
                Tables.csvRow(out, List.of(p.program(), "family_verdict",
                    family.name().toLowerCase() + "/" + verdict, Long.toString(frames)))));
        }
        return out.toString();
    }

    private static List<List<String>> familyTable(final ProgramResult p)
    {
        final List<String> verdicts = new ArrayList<>(new TreeSet<>(p.verdicts().keySet()));
        final List<List<String>> table = new ArrayList<>();
        final List<String> header = new ArrayList<>(List.of("family"));
        header.addAll(verdicts);
        table.add(header);
        for (final Map.Entry<Family, Map<String, Long>> family : p.byFamily().entrySet())
        {
            final List<String> row = new ArrayList<>(List.of(family.getKey().name().toLowerCase()));
            verdicts.forEach(v -> row.add(Long.toString(family.getValue().getOrDefault(v, 0L))));
            table.add(row);
        }
        return table;
    }
}

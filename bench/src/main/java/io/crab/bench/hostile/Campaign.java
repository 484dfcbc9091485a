package io.crab.bench.hostile;

import io.crab.bpf.BpfProgram;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The engine of the hostile-input campaign, shared by {@code crab-bench hostile} and the test: runs a program's
 * frames through BPF_PROG_TEST_RUN one by one on its fixture, reads its counters around each, and judges each
 * outcome with {@link FrameCheck}.
 */
final class Campaign
{
    /** Violations kept whole for the report; all are counted. */
    static final int KEPT_VIOLATIONS = 50;
    static final String REFUSED = "refused by the kernel";
    private static final int PROGRESS_STEPS = 10;

    private Campaign()
    {
    }

    /**
     * Runs frames {@code first .. first + count - 1} of the target's campaign under {@code seed}, on a freshly loaded
     * fixture. {@code progress} gets a line every tenth of the way, and with {@code trace} one per frame.
     */
    static ProgramResult run(final Target target, final long seed, final long first, final long count,
        final boolean trace, final Consumer<String> progress)
    {
        final ProgramRules rules = target.rules.get();
        final FrameGenerator generator = new FrameGenerator(seed, target.bases);
        final long started = System.nanoTime();
        try (Fixture fixture = target.fixture.get())
        {
            final Tally tally = fixture.call(() ->
                frames(target, rules, fixture, generator, seed, first, count, trace, progress, started));
            return new ProgramResult(target.program, target.hook, count, tally.verdicts, tally.counterTotals(),
                tally.byFamily, tally.sentOnChanged, tally.violationCount, List.copyOf(tally.violations),
                rules.rules().stream().map(ProgramRules.Rule::text).toList(), System.nanoTime() - started);
        }
    }

    /** The campaign's loop, on the thread the fixture runs frames on. */
    private static Tally frames(final Target target, final ProgramRules rules, final Fixture fixture,
        final FrameGenerator generator, final long seed, final long first, final long count, final boolean trace,
        final Consumer<String> progress, final long started)
    {
        final BpfProgram.FrameRunner runner = fixture.runner(target.program, FrameGenerator.MAX_FRAME_LENGTH);
        final int counters = fixture.counterCount();
        final Outcome outcome = new Outcome(target.hook, rules, counters, runner.output().capacity());
        final Tally tally = new Tally(rules, counters);
        final List<String> failures = new ArrayList<>();
        long[] before = new long[counters];
        long[] after = new long[counters];
        fixture.readCounters(before);
        final long step = Math.max(1, count / PROGRESS_STEPS);
        for (long index = first; index < first + count; index++)
        {
            final HostileFrame frame = generator.frame(index);
            fixture.prepare(frame.config());
            outcome.reset(frame.config(), frame.bytes());
            runner.frame().putBytes(0, frame.bytes());
            outcome.runResult = runner.run(frame.bytes().length);
            if (outcome.runResult == 0)
            {
                outcome.verdict = runner.verdict();
                outcome.outputLength = runner.outputLength();
                runner.output().getBytes(0, outcome.output, 0, outcome.outputLength);
            }
            fixture.readCounters(after);
            for (int i = 0; i < counters; i++)
            {
                outcome.raised[i] = after[i] - before[i];
            }
            final long[] swap = before;
            before = after;
            after = swap;

            failures.clear();
            FrameCheck.check(outcome, failures);
            tally.add(frame, outcome);
            if (!failures.isEmpty())
            {
                tally.violation(Violation.of(seed, frame, target.program, outcome, failures));
            }
            if (trace)
            {
                progress.accept(trace(frame, outcome, failures));
            }
            else if ((index - first + 1) % step == 0)
            {
                progress.accept(String.format("%s: %d/%d frames, %d violations, %.1f s", target.program,
                    index - first + 1, count, tally.violationCount, (System.nanoTime() - started) / 1e9));
            }
        }
        return tally;
    }

    private static String trace(final HostileFrame frame, final Outcome outcome, final List<String> failures)
    {
        final HexFormat hex = HexFormat.of();
        final StringBuilder raised = new StringBuilder();
        for (int i = 0; i < outcome.raised.length; i++)
        {
            if (outcome.raised[i] != 0)
            {
                raised.append(' ').append(outcome.counterName(i)).append(" +").append(outcome.raised[i]);
            }
        }
        return "frame " + frame.index() + ": " + frame.describe() + "\n  in:       " + hex.formatHex(frame.bytes()) +
            "\n  verdict:  " + (outcome.runResult < 0 ? REFUSED + " (errno " + -outcome.runResult + ")" :
            outcome.hook.verdictName(outcome.verdict)) +
            "\n  out:      " + (outcome.runResult < 0 ? "none" : outcome.changed() ?
            hex.formatHex(outcome.output, 0, outcome.outputLength) : "unchanged") +
            "\n  counters:" + (raised.length() == 0 ? " none" : raised) +
            "\n  checks:   " + (failures.isEmpty() ? "all passed" : String.join("; ", failures));
    }

    /** What one program's campaign saw, frame by frame. */
    private static final class Tally
    {
        final Map<String, Long> verdicts = new TreeMap<>();
        final Map<Family, Map<String, Long>> byFamily = new EnumMap<>(Family.class);
        final long[] counterTotals;
        final ProgramRules rules;
        final List<Violation> violations = new ArrayList<>();
        long violationCount;
        long sentOnChanged;

        Tally(final ProgramRules rules, final int counters)
        {
            this.rules = rules;
            this.counterTotals = new long[counters];
        }

        void add(final HostileFrame frame, final Outcome outcome)
        {
            final String verdict = outcome.runResult < 0 ? REFUSED : outcome.hook.verdictName(outcome.verdict);
            verdicts.merge(verdict, 1L, Long::sum);
            byFamily.computeIfAbsent(frame.family(), f -> new TreeMap<>()).merge(verdict, 1L, Long::sum);
            for (int i = 0; i < counterTotals.length; i++)
            {
                counterTotals[i] += outcome.raised[i];
            }
            if (outcome.runResult == 0 && outcome.sentOnChanged())
            {
                sentOnChanged++;
            }
        }

        void violation(final Violation violation)
        {
            violationCount++;
            if (violations.size() < KEPT_VIOLATIONS)
            {
                violations.add(violation);
            }
        }

        Map<String, Long> counterTotals()
        {
            final Map<String, Long> totals = new LinkedHashMap<>();
            for (int i = 0; i < counterTotals.length; i++)
            {
                totals.put(rules.counterName(i), counterTotals[i]);
            }
            return totals;
        }
    }
}

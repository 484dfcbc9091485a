package io.crab.bench.hostile;

import java.util.HexFormat;
import java.util.List;

/**
 * A frame a program got wrong, with all it takes to reproduce it: the seed, the program and the frame's index
 * make the frame again ({@code crab-bench hostile --seed S --program P --index I}), and the hex is the frame.
 *
 * @param seed     the campaign's seed
 * @param index    the frame's index in its program's campaign
 * @param program  the program's name
 * @param frame    what the frame is (family, mutation, base)
 * @param inputHex the frame
 * @param verdict  the verdict, or the kernel's refusal
 * @param output   the frame as the program left it, in hex
 * @param failures each check it broke
 */
record Violation(long seed, long index, String program, String frame, String inputHex, String verdict,
    String output, List<String> failures)
{
    static Violation of(final long seed, final HostileFrame frame, final String program, final Outcome outcome,
        final List<String> failures)
    {
        final HexFormat hex = HexFormat.of();
        return new Violation(seed, frame.index(), program, frame.describe(), hex.formatHex(frame.bytes()),
            outcome.runResult < 0 ? "refused (errno " + -outcome.runResult + ")" :
                outcome.hook.verdictName(outcome.verdict) + " (" + outcome.verdict + ")",
            outcome.runResult < 0 ? "" : hex.formatHex(outcome.output, 0, outcome.outputLength),
            List.copyOf(failures));
    }

    /** Several lines: what, where, the two frames in hex, and each check broken. */
    String report()
    {
        final StringBuilder out = new StringBuilder()
            .append("VIOLATION seed ").append(seed).append(" index ").append(index).append(" program ")
            .append(program).append('\n')
            .append("  frame:   ").append(frame).append('\n')
            .append("  in:      ").append(inputHex).append('\n')
            .append("  verdict: ").append(verdict).append('\n')
            .append("  out:     ").append(output).append('\n');
        failures.forEach(f -> out.append("  broke:   ").append(f).append('\n'));
        out.append("  again:   crab-bench hostile --seed ").append(seed).append(" --program ").append(program)
            .append(" --index ").append(index).append('\n');
        return out.toString();
    }
}

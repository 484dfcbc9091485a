package io.crab.bench.hostile;

import java.util.List;
import java.util.Map;

/**
 * What one program's campaign saw.
 *
 * @param program        the program's name
 * @param hook           where it runs
 * @param frames         frames run (or refused)
 * @param verdicts       frames by verdict name, and {@link Campaign#REFUSED}
 * @param counters       how much each of its counters rose over the campaign, by enumerator name
 * @param byFamily       frames by family, then by verdict
 * @param sentOnChanged  frames it transmitted (XDP) or sent on changed (TC)
 * @param violationCount frames that broke a check
 * @param violations     the first {@link Campaign#KEPT_VIOLATIONS} of them
 * @param rules          the program's own rules, as checked
 * @param elapsedNs      wall time of the campaign, fixture included
 */
record ProgramResult(String program, Hook hook, long frames, Map<String, Long> verdicts, Map<String, Long> counters,
    Map<Family, Map<String, Long>> byFamily, long sentOnChanged, long violationCount, List<Violation> violations,
    List<String> rules, long elapsedNs)
{
}

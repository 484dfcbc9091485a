package io.crab.bench.hostile;

import io.crab.bench.CrabBench;
import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hostile-input campaign on the real programs: no frame may break a check, and the fixtures must keep the
 * frames reaching every program's deep paths, or zero violations would mean little.
 */
@ExtendWith(KernelRequired.class)
class HostileInputTest
{
    private static final long SEED = 20261126;
    private static final long FRAMES = 100_000;

    /** Counters that only frames reaching a program's deep paths raise, per program. */
    private static final Map<Target, List<String>> DEEP_PATHS = Map.of(
        Target.CRAB_LB, List.of("tx_redirect", "tx_retransmit", "tx_rebalanced", "drop_no_route", "pass_unmarked",
            "pass_bad_option", "pass_no_room", "pass_syn_data", "pass_no_backend", "pass_malformed",
            "pass_fragment", "pass_ip_options"),
        Target.CRAB_LB_FALLBACK, List.of("new", "adopted", "forwarded", "pass_no_backend", "pass_not_vip",
            "pass_other"),
        Target.CRAB_CLIENT_EGRESS, List.of("syn_marked", "syn_unmarked_odd", "syn_unmarked_port_busy",
            "egress_rewritten", "flow_reset", "syn_collision_dropped", "tuple_handed_over"),
        Target.CRAB_CLIENT_INGRESS, List.of("redirect_accepted", "redirect_refused", "redirect_late",
            "redirect_forbidden", "redirect_collision", "ingress_rewritten", "flow_reset", "icmp_translated"),
        Target.CRAB_SERVER_INGRESS, List.of("syn_option_seen"),
        Target.CRAB_SERVER_EGRESS, List.of("synack_echoed", "synack_not_echoed"));

    @Test
    void everyProgramTakesAHundredThousandHostileFramesWithoutAViolation()
    {
        for (final Target target : Target.values())
        {
            final ProgramResult result = Campaign.run(target, SEED, 0, FRAMES, false, line -> { });

            assertEquals(FRAMES, result.frames());
            assertEquals(0, result.violationCount(), () -> target.program + ":\n" +
                String.join("\n", result.violations().stream().map(Violation::report).toList()));
            assertEquals(Family.values().length, result.byFamily().size(), target + ": every family ran");
            for (final String counter : DEEP_PATHS.get(target))
            {
                assertTrue(result.counters().get(counter) > 0, target + " never reached " + counter + ": " +
                    result.counters());
            }
            assertTrue(result.verdicts().getOrDefault(Campaign.REFUSED, 0L) < FRAMES / 10, result.verdicts()
                .toString());
        }
    }

    @Test
    void theLbTransmitsOnlyFromTheFamiliesThatKeepASynIntact()
    {
        final ProgramResult lb = Campaign.run(Target.CRAB_LB, SEED, 0, 20_000, false, line -> { });

        assertTrue(lb.sentOnChanged() > 0);
        for (final Family family : List.of(Family.IHL_SHORT, Family.IP_OPTIONS, Family.VLAN, Family.ETHERTYPE,
            Family.PROTOCOL))
        {
            assertEquals(0, lb.byFamily().get(family).getOrDefault("XDP_TX", 0L), family.name());
        }
        assertTrue(lb.byFamily().get(Family.VALID).getOrDefault("XDP_TX", 0L) > 0);
    }

    @Test
    void theCommandWritesItsResultsAndReplaysOneFrame(@TempDir final Path dir) throws Exception
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = CrabBench.run(new PrintWriter(out), new PrintWriter(err), "hostile",
            "--frames-per-program", "3000", "--seed", "5", "--out", dir.toString());

        assertEquals(0, code, err.toString());
        final String markdown = Files.readString(dir.resolve(HostileCommand.MARKDOWN_FILE));
        assertTrue(markdown.contains("**Violations: 0** in 18000 frames."), markdown);
        assertTrue(markdown.contains("crab-bench hostile --frames-per-program 3000 --seed 5 --out"), markdown);
        for (final Target target : Target.values())
        {
            assertTrue(markdown.contains("| " + target.program + " | "), target.program);
        }
        final List<String> csv = Files.readAllLines(dir.resolve(HostileCommand.CSV_FILE));
        assertEquals("program,section,name,value", csv.get(0));
        assertTrue(csv.contains("crab_lb,total,frames,3000"), csv.toString());
        assertTrue(csv.contains("crab_server_egress,total,violations,0"), csv.toString());

        final StringWriter replay = new StringWriter();
        assertEquals(0, CrabBench.run(new PrintWriter(replay), new PrintWriter(err), "hostile", "--seed", "5",
            "--program", "crab_client_ingress", "--index", "0"));
        final HostileFrame frame = new FrameGenerator(5, Target.CRAB_CLIENT_INGRESS.bases).frame(0);
        assertTrue(replay.toString().contains(HexFormat.of().formatHex(frame.bytes())), replay.toString());
        assertTrue(replay.toString().contains("checks:   all passed"), replay.toString());
    }
}

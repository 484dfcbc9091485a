package io.crab.bench.hostile;

import io.crab.bpf.Counters;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;

import static io.crab.bpf.Abi.Consts.CRAB_CL_EGRESS_REWRITTEN;
import static io.crab.bpf.Abi.Consts.CRAB_CL_FLOW_RESET;
import static io.crab.bpf.Abi.Consts.CRAB_CL_ICMP_TRANSLATED;
import static io.crab.bpf.Abi.Consts.CRAB_CL_INGRESS_REWRITTEN;
import static io.crab.bpf.Abi.Consts.CRAB_CL_REDIRECT_ACCEPTED;
import static io.crab.bpf.Abi.Consts.CRAB_CL_REDIRECT_COLLISION;
import static io.crab.bpf.Abi.Consts.CRAB_CL_REDIRECT_FORBIDDEN;
import static io.crab.bpf.Abi.Consts.CRAB_CL_REDIRECT_LATE;
import static io.crab.bpf.Abi.Consts.CRAB_CL_REDIRECT_REFUSED;
import static io.crab.bpf.Abi.Consts.CRAB_CL_SYN_COLLISION_DROPPED;
import static io.crab.bpf.Abi.Consts.CRAB_CL_SYN_MARKED;
import static io.crab.bpf.Abi.Consts.CRAB_CL_SYN_UNMARKED_FULL;
import static io.crab.bpf.Abi.Consts.CRAB_CL_SYN_UNMARKED_ODD;
import static io.crab.bpf.Abi.Consts.CRAB_CL_SYN_UNMARKED_PORT_BUSY;
import static io.crab.bpf.Abi.Consts.CRAB_CL_TUPLE_HANDED_OVER;
import static io.crab.bpf.Abi.Consts.CRAB_LB_PASS_MALFORMED;
import static io.crab.bpf.Abi.Consts.CRAB_LB_TX_VIA_STACK;
import static io.crab.bpf.Abi.Consts.CRAB_SV_REPLY_TRANSLATED;
import static io.crab.bpf.Abi.Consts.CRAB_SV_SYNACK_ECHOED;
import static io.crab.bpf.Abi.Consts.CRAB_SV_SYNACK_NOT_ECHOED;
import static io.crab.bpf.Abi.Consts.CRAB_SV_SYN_OPTION_SEEN;
import static io.crab.bpf.Abi.Consts.CRAB_SV_TRANSLATION_KEPT;
import static io.crab.bpf.Abi.Consts.CRAB_SV_TRANSLATION_RECORDED;

/**
 * What each program may do with a frame beyond the checks every program gets ({@link FrameCheck}): which counters
 * it raises, which of them account for a changed or a dropped frame, and the LB's promises about what it passes and
 * transmits. The six definitions come first: when a C program gains a counter or a path, its definition here is
 * the one place to update, and a counter that rises without a rule naming it is reported as such.
 */
final class ProgramRules
{
    private static final int SADDR = Packet.ETH_LEN + 12;
    private static final int DADDR = Packet.ETH_LEN + 16;
    private static final int SYN = 0x02;
    private static final int RST = 0x04;
    private static final int ACK = 0x10;

    /** crab_lb (lb_xdp.bpf.c): every run ends in count(counter, verdict), so every frame counts exactly once. */
    static ProgramRules lb()
    {
        final ProgramRules rules = new ProgramRules("CRAB_LB_");
        final Map<Integer, Set<Integer>> verdicts = new HashMap<>();
        rules.names.forEach((index, name) ->
        {
            if (name.startsWith("pass_"))
            {
                verdicts.put(index, Set.of(Hook.XDP_PASS));
            }
            else if (index == CRAB_LB_TX_VIA_STACK)
            {
                verdicts.put(index, Set.of(Hook.XDP_PASS));
            }
            else if (name.startsWith("tx_"))
            {
                verdicts.put(index, Set.of(Hook.XDP_TX, Hook.XDP_REDIRECT));
            }
            else if (name.startsWith("drop_"))
            {
                verdicts.put(index, Set.of(Hook.XDP_DROP));
            }
        });
        // a store that fails after the head moved (never seen) leaves a frame not worth passing
        verdicts.put(CRAB_LB_PASS_MALFORMED, Set.of(Hook.XDP_PASS, Hook.XDP_DROP));
        return rules
            .exactlyOneCounterPerFrame()
            .counterFixesVerdict(Hook.XDP, verdicts)
            .passedFramesUntouched()
            .neverRightsAWrongChecksum()
            .transmittedSynsCarryOneRedirectNamingTheVip(Pool.DIP1, Pool.DIP1_MAC, Pool.DIP2, Pool.DIP2_MAC);
    }

    /**
     * crab_lb_fallback (lb_tc.bpf.c): sends a client's packet on to a backend unchanged, or passes it unchanged to
     * the LB's stack; every run counts once (the backend lookup after a pick cannot fail for ids the LB writes). The
     * campaign's services are direct server return; the translating path, which changes frames and counts a
     * translated packet twice, is LbTranslateTest's.
     */
    static ProgramRules lbFallback()
    {
        final ProgramRules rules = new ProgramRules("CRAB_FB_");
        final Map<Integer, Set<Integer>> verdicts = new HashMap<>();
        rules.names.forEach((index, name) -> verdicts.put(index, Set.of(name.startsWith("pass_") ? Hook.TC_ACT_OK :
            name.startsWith("drop_") ? Hook.TC_ACT_SHOT : Hook.TC_ACT_REDIRECT)));
        return rules
            .exactlyOneCounterPerFrame()
            .counterFixesVerdict(Hook.TC, verdicts)
            .changesCountedByOneOf()
            .dropsCountedByOneOf();
    }

    /**
     * crab_client_egress (client_tc.bpf.c): marks SYNs to VIPs, rewrites redirected flows, drops a direct SYN on a
     * live redirected flow's wire tuple and hands it a finished one's.
     */
    static ProgramRules clientEgress()
    {
        return new ProgramRules("CRAB_CL_")
            .raisesOnly(CRAB_CL_SYN_MARKED, CRAB_CL_SYN_UNMARKED_FULL, CRAB_CL_SYN_UNMARKED_ODD,
                CRAB_CL_SYN_UNMARKED_PORT_BUSY, CRAB_CL_EGRESS_REWRITTEN, CRAB_CL_FLOW_RESET,
                CRAB_CL_SYN_COLLISION_DROPPED, CRAB_CL_TUPLE_HANDED_OVER)
            .changesCountedByOneOf(CRAB_CL_SYN_MARKED, CRAB_CL_EGRESS_REWRITTEN)
            .dropsCountedByOneOf(CRAB_CL_SYN_COLLISION_DROPPED)
            .atMostOneOf(CRAB_CL_SYN_MARKED, CRAB_CL_SYN_UNMARKED_FULL, CRAB_CL_SYN_UNMARKED_ODD,
                CRAB_CL_SYN_UNMARKED_PORT_BUSY, CRAB_CL_SYN_COLLISION_DROPPED, CRAB_CL_TUPLE_HANDED_OVER,
                CRAB_CL_EGRESS_REWRITTEN)
            .onlyWith(CRAB_CL_FLOW_RESET, CRAB_CL_EGRESS_REWRITTEN);
    }

    /**
     * crab_client_ingress (client_tc.bpf.c): accepts a redirect of a pending flow or says why not, rewrites
     * backends' packets, forgets a pending flow the VIP reset, and makes ICMP errors about backends name the VIP.
     */
    static ProgramRules clientIngress()
    {
        return new ProgramRules("CRAB_CL_")
            .raisesOnly(CRAB_CL_REDIRECT_ACCEPTED, CRAB_CL_REDIRECT_REFUSED, CRAB_CL_REDIRECT_LATE,
                CRAB_CL_REDIRECT_FORBIDDEN, CRAB_CL_REDIRECT_COLLISION, CRAB_CL_INGRESS_REWRITTEN, CRAB_CL_FLOW_RESET,
                CRAB_CL_ICMP_TRANSLATED)
            .changesCountedByOneOf(CRAB_CL_INGRESS_REWRITTEN, CRAB_CL_ICMP_TRANSLATED)
            .dropsCountedByOneOf()
            .atMostOneOf(CRAB_CL_REDIRECT_ACCEPTED, CRAB_CL_REDIRECT_REFUSED, CRAB_CL_REDIRECT_LATE,
                CRAB_CL_REDIRECT_FORBIDDEN, CRAB_CL_REDIRECT_COLLISION)
            .onlyWith(CRAB_CL_REDIRECT_ACCEPTED, CRAB_CL_INGRESS_REWRITTEN)
            .translatedErrorsQuoteAVip(Pool.VIP_ALL_PORTS, Pool.VIP_PORT_80);
    }

    /**
     * crab_server_ingress (server_tc.bpf.c): remembers the option of redirected SYNs and the translation of
     * translated ones; never touches a frame.
     */
    static ProgramRules serverIngress()
    {
        return new ProgramRules("CRAB_SV_")
            .raisesOnly(CRAB_SV_SYN_OPTION_SEEN, CRAB_SV_TRANSLATION_RECORDED, CRAB_SV_TRANSLATION_KEPT)
            .changesCountedByOneOf()
            .dropsCountedByOneOf()
            .atMostOneOf(CRAB_SV_SYN_OPTION_SEEN, CRAB_SV_TRANSLATION_RECORDED, CRAB_SV_TRANSLATION_KEPT);
    }

    /**
     * crab_server_egress (server_tc.bpf.c): echoes the remembered option in SYN-ACKs, sends translated connections'
     * packets from their VIP.
     */
    static ProgramRules serverEgress()
    {
        return new ProgramRules("CRAB_SV_")
            .raisesOnly(CRAB_SV_SYNACK_ECHOED, CRAB_SV_SYNACK_NOT_ECHOED, CRAB_SV_REPLY_TRANSLATED)
            .changesCountedByOneOf(CRAB_SV_SYNACK_ECHOED, CRAB_SV_REPLY_TRANSLATED)
            .dropsCountedByOneOf()
            .atMostOneOf(CRAB_SV_SYNACK_ECHOED, CRAB_SV_SYNACK_NOT_ECHOED, CRAB_SV_REPLY_TRANSLATED);
    }

    /**
     * One assertion and the sentence results.md lists for it.
     *
     * @param text  what it asserts
     * @param check adds a sentence to the failures for each way an outcome breaks it
     */
    record Rule(String text, BiConsumer<Outcome, List<String>> check)
    {
    }

    /** Prefix of the program's counter enumerators in Abi.Consts, e.g. "CRAB_LB_". */
    final String counterPrefix;
    /** Counter index to its enumerator's name without the prefix, in lower case, e.g. 12 to "tx_redirect". */
    private final Map<Integer, String> names;
    private final List<Rule> rules = new ArrayList<>();

    private ProgramRules(final String counterPrefix)
    {
        this.counterPrefix = counterPrefix;
        this.names = Counters.names(counterPrefix);
    }

    List<Rule> rules()
    {
        return List.copyOf(rules);
    }

    String counterName(final int index)
    {
        final String name = names.get(index);
        return name != null ? name : "counter " + index + " (not in Abi.Consts)";
    }

    void check(final Outcome outcome, final List<String> failures)
    {
        for (final Rule rule : rules)
        {
            rule.check().accept(outcome, failures);
        }
    }

    private ProgramRules add(final String text, final BiConsumer<Outcome, List<String>> check)
    {
        rules.add(new Rule(text, check));
        return this;
    }

    private String list(final int... counters)
    {
        return counters.length == 0 ? "none" :
            Arrays.stream(counters).mapToObj(this::counterName).collect(Collectors.joining(", "));
    }

    /** Every other counter stays as it was, and these rise by at most one per frame. */
    private ProgramRules raisesOnly(final int... counters)
    {
        final Set<Integer> allowed = Arrays.stream(counters).boxed().collect(Collectors.toSet());
        return add("raises only " + list(counters) + ", each by at most one per frame", (o, failures) ->
        {
            for (int i = 0; i < o.raised.length; i++)
            {
                if (o.raised[i] != 0 && (!allowed.contains(i) || o.raised[i] != 1))
                {
                    failures.add(counterName(i) + " rose by " + o.raised[i] + (allowed.contains(i) ? "" :
                        ": no rule of this program names it (update ProgramRules)"));
                }
            }
        });
    }

    /** The LB's promise: a frame, whatever it is, ends in exactly one counter. */
    private ProgramRules exactlyOneCounterPerFrame()
    {
        return add("every frame raises exactly one counter by one (no path is left uncounted)", (o, failures) ->
        {
            long total = 0;
            for (final long r : o.raised)
            {
                if (r < 0)
                {
                    failures.add("a counter fell by " + -r);
                }
                total += r;
            }
            if (total != 1 || Arrays.stream(o.raised).anyMatch(r -> r > 1))
            {
                failures.add("counters rose by " + total + " in all, expected exactly one counter by one: " +
                    raisedList(o));
            }
        });
    }

    private ProgramRules counterFixesVerdict(final Hook hook, final Map<Integer, Set<Integer>> verdicts)
    {
        final String text = "the counter raised says the verdict: " + verdicts.entrySet().stream()
            .sorted(Map.Entry.comparingByKey())
            .map(e -> counterName(e.getKey()) + " " + e.getValue().stream().sorted()
                .map(hook::verdictName).collect(Collectors.joining("/")))
            .collect(Collectors.joining(", "));
        return add(text, (o, failures) ->
        {
            for (int i = 0; i < o.raised.length; i++)
            {
                if (o.raised[i] > 0)
                {
                    final Set<Integer> allowed = verdicts.get(i);
                    if (allowed == null)
                    {
                        failures.add(counterName(i) + " rose, and no rule says which verdict it stands for" +
                            " (update ProgramRules)");
                    }
                    else if (!allowed.contains(o.verdict))
                    {
                        failures.add(counterName(i) + " rose with verdict " + o.hook.verdictName(o.verdict));
                    }
                }
            }
        });
    }

    /** A frame sent on changed raises exactly one of these (none: the program never changes a frame). */
    private ProgramRules changesCountedByOneOf(final int... counters)
    {
        final String text = counters.length == 0 ? "never changes a frame it sends on" :
            "a frame sent on changed raises exactly one of " + list(counters) + ", and no frame raises two";
        return add(text, (o, failures) ->
        {
            final int rose = risen(o, counters);
            if (o.sentOnChanged() && rose != 1)
            {
                failures.add(counters.length == 0 ? "changed a frame it sent on" :
                    "changed the frame it sent on, and " + rose + " of " + list(counters) + " rose");
            }
            else if (rose > 1)
            {
                failures.add(rose + " of " + list(counters) + " rose for one frame");
            }
        });
    }

    /** A dropped frame raises exactly one of these, and these rise only when the frame is dropped. */
    private ProgramRules dropsCountedByOneOf(final int... counters)
    {
        final String text = counters.length == 0 ? "never drops a frame" :
            "a dropped frame raises exactly one of " + list(counters) + ", and they rise only for dropped frames";
        return add(text, (o, failures) ->
        {
            final int rose = risen(o, counters);
            if (o.dropped() && rose != 1)
            {
                failures.add(counters.length == 0 ? "dropped a frame" :
                    "dropped the frame, and " + rose + " of " + list(counters) + " rose");
            }
            else if (!o.dropped() && rose != 0)
            {
                failures.add(list(counters) + " rose for a frame not dropped");
            }
        });
    }

    private ProgramRules atMostOneOf(final int... counters)
    {
        return add("at most one of " + list(counters) + " rises per frame", (o, failures) ->
        {
            final int rose = risen(o, counters);
            if (rose > 1)
            {
                failures.add(rose + " of " + list(counters) + " rose for one frame");
            }
        });
    }

    /** {@code counter} rises only when {@code with} rises too. */
    private ProgramRules onlyWith(final int counter, final int with)
    {
        return add(counterName(counter) + " rises only together with " + counterName(with), (o, failures) ->
        {
            if (o.raised[counter] > 0 && o.raised[with] == 0)
            {
                failures.add(counterName(counter) + " rose without " + counterName(with));
            }
        });
    }

    /**
     * The LB updates both checksums for what it changes, so a frame corrupt on the way stays corrupt for the backend's
     * kernel to drop: a wrong IPv4 header checksum stays wrong, and so does a TCP checksum that was neither right nor
     * the partial form a sender leaves for checksum offload (the pseudo-header sum, folded, not inverted), which the
     * LB replaces by a full one.
     */
    private ProgramRules neverRightsAWrongChecksum()
    {
        return add("a SYN it transmits keeps a wrong IPv4 header checksum wrong, and a TCP checksum neither right" +
            " nor the offload partial one wrong (a corrupt frame is never rewritten into a valid one)", (o, failures) ->
        {
            final Packet in = o.in();
            final Packet out = o.out();
            if (!(o.hook.sendsOn(o.verdict) || viaStack(o)) || !in.tcp || !out.tcp)
            {
                return;
            }
            if (!in.ipChecksumValid && out.ipChecksumValid)
            {
                failures.add("made a wrong IPv4 header checksum right");
            }
            final int segment = in.totalLength - in.ipHeaderLength;
            final int partial = Packet.sum(in.frame, 0, 0, in.pseudoHeaderSum(segment));
            if (!in.tcpChecksumValid && in.u16At(in.tcpAt + 16) != partial && out.tcpChecksumValid)
            {
                failures.add("made a TCP checksum right that was neither right nor the partial form");
            }
        });
    }

    /** The client's promise for PMTU discovery: the error it hands the socket names the VIP the socket knows. */
    private ProgramRules translatedErrorsQuoteAVip(final byte[]... vips)
    {
        return add("an ICMP error it translated quotes a packet addressed to a VIP", (o, failures) ->
        {
            if (o.raised[CRAB_CL_ICMP_TRANSLATED] == 0)
            {
                return;
            }
            final Packet out = o.out();
            if (out.quotedAt < 0)
            {
                failures.add("counted an ICMP translation of a frame that quotes no IPv4 header");
                return;
            }
            for (final byte[] vip : vips)
            {
                if (Arrays.equals(out.frame, out.quotedAt + 16, out.quotedAt + 20, vip, 0, 4))
                {
                    return;
                }
            }
            failures.add("translated an ICMP error into one that quotes no VIP");
        });
    }

    /** README: "odd SYNs are never corrupted"; what the LB passes reaches the stack as it came. */
    private ProgramRules passedFramesUntouched()
    {
        return add("a frame it passes (XDP_PASS) is untouched, but a SYN it hands the stack to forward", (o, failures) ->
        {
            if (o.verdict == Hook.XDP_PASS && !viaStack(o) && o.changed())
            {
                failures.add("changed a frame it passed to the stack");
            }
        });
    }

    /**
     * README: the LB puts its option in and blanks the client's marker, "so the server never sees two kind-42
     * options"; the SYN goes to a backend and keeps its source and sequence number. The backend's MAC is checked
     * on XDP_TX only: a SYN handed to the stack (XDP_PASS, a backend out of another interface) keeps the MACs it came
     * with, and the stack chooses the next hop's.
     */
    private ProgramRules transmittedSynsCarryOneRedirectNamingTheVip(final byte[]... backendAddressAndMac)
    {
        return add("a TCP segment it transmits is a SYN to a backend (its MAC too, for XDP_TX) with the input's" +
            " source address, source port and ISN, carrying exactly one option of the configured kind: the redirect" +
            " naming the input's destination (and its port when the port changed)", (o, failures) ->
        {
            final Packet out = o.out();
            if (!(o.hook.sendsOn(o.verdict) || viaStack(o)) || !out.tcp)
            {
                return;
            }
            final Packet in = o.in();
            if (!in.tcp)
            {
                failures.add("transmitted a TCP segment made from a frame that was none");
                return;
            }
            if (!out.optionsParse)
            {
                return;
            }
            checkBackend(out, o.verdict == Hook.XDP_TX, backendAddressAndMac, failures);
            if (!Arrays.equals(in.frame, SADDR, SADDR + 4, out.frame, SADDR, SADDR + 4) ||
                in.u16At(in.tcpAt) != out.u16At(out.tcpAt) ||
                !Arrays.equals(in.frame, in.tcpAt + 4, in.tcpAt + 8, out.frame, out.tcpAt + 4, out.tcpAt + 8))
            {
                failures.add("source address, source port or ISN changed");
            }
            if ((out.frame[out.tcpAt + 13] & (SYN | ACK | RST)) != SYN)
            {
                failures.add(String.format("transmitted TCP flags 0x%02x, not a SYN", out.frame[out.tcpAt + 13]));
            }
            final int[] ours = out.crabOptions(o.config);
            if (ours.length != 2)
            {
                failures.add("transmitted with " + ours.length / 2 + " options of kind " + o.config.kind);
                return;
            }
            final int at = ours[0];
            final int length = ours[1];
            final int data = at + o.config.headerLength();
            final boolean portChanged = in.u16At(in.tcpAt + 2) != out.u16At(out.tcpAt + 2);
            if (length != o.config.redirectLength(portChanged))
            {
                failures.add("its option has length " + length + ", the redirect " +
                    (portChanged ? "with" : "without") + " a port has " + o.config.redirectLength(portChanged));
            }
            else if (!Arrays.equals(out.frame, data, data + 4, in.frame, DADDR, DADDR + 4) ||
                portChanged && out.u16At(data + 4) != in.u16At(in.tcpAt + 2))
            {
                failures.add("its option does not name the VIP the SYN was sent to");
            }
        });
    }

    /** crab_lb handed the rewritten SYN to the stack, which forwards it (a backend out of another interface). */
    private static boolean viaStack(final Outcome o)
    {
        return o.hook == Hook.XDP && o.raised[CRAB_LB_TX_VIA_STACK] > 0;
    }

    private static void checkBackend(final Packet out, final boolean checkMac, final byte[][] backendAddressAndMac,
        final List<String> failures)
    {
        for (int i = 0; i + 1 < backendAddressAndMac.length; i += 2)
        {
            if (Arrays.equals(out.frame, DADDR, DADDR + 4, backendAddressAndMac[i], 0, 4))
            {
                if (checkMac && !Arrays.equals(out.frame, 0, 6, backendAddressAndMac[i + 1], 0, 6))
                {
                    failures.add("sent to a backend's address but not to its MAC");
                }
                return;
            }
        }
        failures.add("sent to an address that is no backend");
    }

    private static int risen(final Outcome o, final int... counters)
    {
        int rose = 0;
        for (final int counter : counters)
        {
            if (o.raised[counter] > 0)
            {
                rose++;
            }
        }
        return rose;
    }

    private String raisedList(final Outcome o)
    {
        final List<String> risen = new ArrayList<>();
        for (int i = 0; i < o.raised.length; i++)
        {
            if (o.raised[i] != 0)
            {
                risen.add(counterName(i) + " +" + o.raised[i]);
            }
        }
        return risen.isEmpty() ? "none" : String.join(", ", risen);
    }
}

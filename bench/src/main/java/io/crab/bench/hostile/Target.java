package io.crab.bench.hostile;

import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/** The programs the campaign runs: where each is loaded from, its hook, fixture, base frames and rules. */
enum Target
{
    CRAB_LB("crab_lb", Hook.XDP, Fixture::lb, BaseFrames.LB, ProgramRules::lb),
    CRAB_LB_FALLBACK("crab_lb_fallback", Hook.TC, Fixture::lbFallback, BaseFrames.LB_FALLBACK,
        ProgramRules::lbFallback),
    CRAB_CLIENT_EGRESS("crab_client_egress", Hook.TC, Fixture::client, BaseFrames.CLIENT_EGRESS,
        ProgramRules::clientEgress),
    CRAB_CLIENT_INGRESS("crab_client_ingress", Hook.TC, Fixture::client, BaseFrames.CLIENT_INGRESS,
        ProgramRules::clientIngress),
    CRAB_SERVER_INGRESS("crab_server_ingress", Hook.TC, Fixture::server, BaseFrames.SERVER_INGRESS,
        ProgramRules::serverIngress),
    CRAB_SERVER_EGRESS("crab_server_egress", Hook.TC, Fixture::server, BaseFrames.SERVER_EGRESS,
        ProgramRules::serverEgress);

    /** The C function's name, as BpfObject.program takes it. */
    final String program;
    final Hook hook;
    final Supplier<Fixture> fixture;
    final List<BaseFrames.Base> bases;
    final Supplier<ProgramRules> rules;

    Target(final String program, final Hook hook, final Supplier<Fixture> fixture, final List<BaseFrames.Base> bases,
        final Supplier<ProgramRules> rules)
    {
        this.program = program;
        this.hook = hook;
        this.fixture = fixture;
        this.bases = bases;
        this.rules = rules;
    }

    /** The target of a program name, e.g. "crab_lb"; throws IllegalArgumentException naming the known ones. */
    static Target of(final String program)
    {
        for (final Target target : values())
        {
            if (target.program.equals(program))
            {
                return target;
            }
        }
        throw new IllegalArgumentException("no program " + program + " (known: " +
            Arrays.stream(values()).map(t -> t.program).toList() + ")");
    }
}

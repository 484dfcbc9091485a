package io.crab.bench.hostile;

import io.crab.bench.results.MachineInfo;

import java.time.Instant;
import java.util.List;

/**
 * A whole campaign: how it was run, where, and what each program did.
 *
 * @param command          the command line as given
 * @param started          when it started
 * @param elapsedNs        wall time of all programs' campaigns
 * @param seed             the seed every frame is made from
 * @param framesPerProgram frames each program ran
 * @param machine          the machine
 * @param uname            {@code uname -a}
 * @param programs         each program's result, in the order run
 */
record CampaignResult(String command, Instant started, long elapsedNs, long seed, long framesPerProgram,
    MachineInfo machine, String uname, List<ProgramResult> programs)
{
    long violations()
    {
        return programs.stream().mapToLong(ProgramResult::violationCount).sum();
    }

    long frames()
    {
        return programs.stream().mapToLong(ProgramResult::frames).sum();
    }
}

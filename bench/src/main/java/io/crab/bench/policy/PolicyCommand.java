package io.crab.bench.policy;

import io.crab.agent.Cli;
import io.crab.agent.ConfigException;
import io.crab.bench.CrabBench;
import io.crab.bench.results.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code crab-bench policy}: tail latency against load for each policy, the CRAB paper's Figs. 11 and 12. */
@Command(name = "policy", mixinStandardHelpOptions = true,
    description = "p50/p99/p99.9 latency against load for each load-balancing policy: 16 backends that serve one " +
        "request at a time, an open-loop client, the policy changed by live reloads. Writes README.md, results.csv, " +
        "shares.csv, headroom.csv and p99.png. Needs root.")
public final class PolicyCommand implements Callable<Integer>
{
    @Spec
    CommandSpec spec;

    @Option(names = "--policies", split = ",", defaultValue = "random,hash,rr,jsq,p2c",
        description = "Policies to compare (default ${DEFAULT-VALUE}).")
    List<String> policies;

    @Option(names = "--loads", split = ",", defaultValue = "10,20,30,40,50,60,70,80,90",
        description = "Load points, in percent of the backends' capacity (default ${DEFAULT-VALUE}).")
    List<Integer> loads;

    @Option(names = "--duration", defaultValue = "8s", converter = CrabBench.DurationConverter.class,
        description = "Measured part of each run (default ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(names = "--warmup", defaultValue = "1s", converter = CrabBench.DurationConverter.class,
        description = "Unmeasured start of each run (default ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--service-time", defaultValue = "10ms", converter = CrabBench.DurationConverter.class,
        description = "Mean of the backends' exponential service time (default ${DEFAULT-VALUE}).")
    Duration serviceTime;

    @Option(names = "--headroom-loads", split = ",", defaultValue = "100,200,400",
        description = "Rates of the runs that measure the rig itself, backends answering at once, in percent of " +
            "the capacity (default ${DEFAULT-VALUE}).")
    List<Integer> headroomLoads;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the arrivals and service times.")
    long seed;

    @Option(names = "--out", description = "Results directory (default bench/results/DATE-policy).")
    Path out;

    @Override
    public Integer call() throws Exception
    {
        final PolicySettings settings = settings();
        final PrintWriter printer = spec.commandLine().getOut();
        final Instant started = Instant.now();
        final String command = "crab-bench " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        final Path dir = out != null ? out : CrabBench.resultsDir(started, "policy");
        final Path logs = Files.createTempDirectory("crab-policy-");
        final PolicyExperiment.Measured measured;
        try
        {
            measured = PolicyExperiment.run(settings, logs, line ->
            {
                printer.println("crab-bench: " + line);
                printer.flush();
            });
        }
        finally
        {
            CrabBench.deleteTree(logs);
        }
        final PolicyResults results = new PolicyResults(measured.runs(), measured.headroom(), measured.backends(),
            settings, MachineInfo.detect(), command, started);
        final List<Path> files = PolicyReport.write(results, dir);
        printer.println();
        printer.print(Files.readString(files.get(0)));
        printer.printf("%ncrab-bench: wrote %s%n", files);
        printer.flush();
        return Cli.OK;
    }

    private PolicySettings settings()
    {
        for (final String policy : policies)
        {
            if (!PolicyExperiment.POLICIES.contains(policy))
            {
                throw new ConfigException("--policies: unknown policy '" + policy + "' (known: " +
                    String.join(", ", PolicyExperiment.POLICIES) + ")");
            }
        }
        if (new HashSet<>(policies).size() != policies.size())
        {
            throw new ConfigException("--policies: " + String.join(",", policies) + " names a policy twice");
        }
        if (loads.stream().anyMatch(l -> l < 1 || l > 1000) || headroomLoads.stream().anyMatch(l -> l < 1 || l > 1000))
        {
            throw new ConfigException("--loads and --headroom-loads: each must be 1..1000 (percent)");
        }
        if (new HashSet<>(loads).size() != loads.size())
        {
            throw new ConfigException("--loads: " + loads + " names a load twice");
        }
        if (duration.isZero() || duration.isNegative() || warmup.isNegative())
        {
            throw new ConfigException("--duration must be above 0 and --warmup at least 0");
        }
        if (serviceTime.isZero() || serviceTime.isNegative())
        {
            throw new ConfigException("--service-time must be above 0 (the headroom runs measure the rig without it)");
        }
        return new PolicySettings(policies, loads, warmup, duration, serviceTime, headroomLoads, seed);
    }
}

package io.crab.bench.instrument;

import io.crab.bench.results.MachineInfo;
import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/** The instrument comparison as markdown: every round's p50 and p99 per client, and the median Java/C ratios. */
record InstrumentReport(List<Round> rounds, MachineInfo machine, String command, Instant started)
{
    /** One round of one workload, measured by both clients. */
    record Round(int round, Workload workload, LoadResult java, LoadResult c)
    {
        Round
        {
            Objects.requireNonNull(java, "java");
            Objects.requireNonNull(c, "c");
        }

        double p50Ratio()
        {
            return java.p50Us() / c.p50Us();
        }

        double p99Ratio()
        {
            return java.p99Us() / c.p99Us();
        }
    }

    InstrumentReport
    {
        rounds = List.copyOf(rounds);
    }

    String markdown()
    {
        final StringBuilder md = new StringBuilder();
        md.append("# The instrument: Java client against a native C client (crab-bench instrument)\n\n")
            .append("Started ").append(started).append(".\n\n")
            .append("Command (from a checkout, after `./crab build`):\n\n")
            .append("    ./crab bench ").append(command.substring("crab-bench ".length())).append("\n\n")
            .append("Direct: one client namespace, one server namespace with the bench's echo server, no crab. ")
            .append("Each round runs both clients on the same spec, the first one alternating. `c` is ")
            .append("bench/src/main/c/crr_client.c (socket, TCP_NODELAY, connect, write, read, close, timed with ")
            .append("CLOCK_MONOTONIC), the client `crab-bench run` and the demo use; `java` is the Java client ")
            .append("(io.crab.bench.traffic.Crr and Rr). ")
            .append("Latencies in µs.\n\n");
        md.append(machine.markdown());
        for (final Workload workload : Workload.values())
        {
            final List<Round> of = rounds.stream().filter(r -> r.workload() == workload).toList();
            if (of.isEmpty())
            {
                continue;
            }
            md.append("## ").append(workload).append("\n\n")
                .append(String.format(Locale.ROOT, "Median over %d rounds: java/c p50 **%.3f**, p99 %.3f.%n%n",
                    of.size(), median(of.stream().mapToDouble(Round::p50Ratio).toArray()),
                    median(of.stream().mapToDouble(Round::p99Ratio).toArray())))
                .append("| round | java p50 | c p50 | java/c p50 | java p99 | c p99 | java/c p99 | java tx | c tx | ")
                .append("failures java / c |\n")
                .append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
            for (final Round r : of)
            {
                md.append(String.format(Locale.ROOT,
                    "| %d | %.1f | %.1f | %.3f | %.1f | %.1f | %.3f | %d | %d | %d / %d |%n",
                    r.round(), r.java().p50Us(), r.c().p50Us(), r.p50Ratio(), r.java().p99Us(), r.c().p99Us(),
                    r.p99Ratio(), r.java().transactions(), r.c().transactions(), r.java().failureCount(),
                    r.c().failureCount()));
            }
            md.append('\n');
        }
        return md.toString();
    }

    /** The middle value, or the mean of the two middle values of an even count. */
    static double median(final double[] values)
    {
        final double[] sorted = values.clone();
        Arrays.sort(sorted);
        final int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}

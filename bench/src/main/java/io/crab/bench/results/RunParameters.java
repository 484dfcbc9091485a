package io.crab.bench.results;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * How each mode was driven, as printed with the results.
 *
 * @param payloadBytes    request (and echo) size
 * @param concurrency     closed-loop workers
 * @param rounds          interleaved rounds per mode and workload; the results merge all of them
 * @param duration        time cap of one run (one mode, one workload, one round)
 * @param transactions    attempts per run; 0 when runs are bounded by time only
 */
public record RunParameters(int payloadBytes, int concurrency, int rounds, Duration duration, long transactions)
{
    public RunParameters
    {
        Objects.requireNonNull(duration, "duration");
    }

    /** One line for people, e.g. "8-byte payload, 16 workers, 5 rounds, each run 20000 transactions, at most 10 s". */
    public String describe()
    {
        return String.format(Locale.ROOT, "%d-byte payload, %d %s, %d %s, each run %s",
            payloadBytes,
            concurrency, concurrency == 1 ? "worker" : "workers",
            rounds, rounds == 1 ? "round" : "rounds",
            runBound());
    }

    /** What ends one run, e.g. "20000 transactions, at most 10 s", or "10 s" when bounded by time only. */
    public String runBound()
    {
        final String cap = seconds(duration);
        return transactions > 0 ? transactions + " transactions, at most " + cap : cap;
    }

    private static String seconds(final Duration duration)
    {
        final double seconds = duration.toMillis() / 1_000.0;
        return seconds == Math.rint(seconds)
            ? String.format(Locale.ROOT, "%d s", (long) seconds)
            : seconds + " s";
    }
}

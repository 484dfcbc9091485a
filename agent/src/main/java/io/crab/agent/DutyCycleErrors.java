package io.crab.agent;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.NanoClock;

import java.util.HashMap;
import java.util.Map;

/**
 * What an agent's duty cycle does with an exception: count it, log it, and carry on, so that a transient failure
 * (a route that is missing for a moment, a file read that races a change) never stops the agent, let alone
 * detaches the data path. The same message is logged at most once per {@link #REPEAT_INTERVAL_NS}, with the count
 * of its repeats, so a persistent failure does not flood the log; its stack trace only with {@code --verbose}.
 */
public final class DutyCycleErrors implements ErrorHandler
{
    static final long REPEAT_INTERVAL_NS = 10_000_000_000L;
    /** Distinct messages remembered; past it, those not logged within the interval are forgotten. */
    static final int MAX_REMEMBERED = 256;

    private final Log log;
    private final NanoClock clock;
    private final Map<String, long[]> lastLoggedNsAndRepeats = new HashMap<>();
    private long count;

    public DutyCycleErrors(final Log log, final NanoClock clock)
    {
        this.log = log;
        this.clock = clock;
    }

    @Override
    public void onError(final Throwable error)
    {
        count++;
        final String message = Cli.describe(error);
        final long now = clock.nanoTime();
        final long[] seen = lastLoggedNsAndRepeats.get(message);
        if (seen != null && now - seen[0] < REPEAT_INTERVAL_NS)
        {
            seen[1]++;
            return;
        }
        final long repeats = seen == null ? 0 : seen[1];
        if (seen == null && lastLoggedNsAndRepeats.size() >= MAX_REMEMBERED)
        {
            lastLoggedNsAndRepeats.values().removeIf(s -> now - s[0] >= REPEAT_INTERVAL_NS);
        }
        lastLoggedNsAndRepeats.put(message, new long[] {now, 0});
        log.error("error in the duty cycle, retried (" + count + " errors so far" +
            (repeats > 0 ? ", this one " + repeats + " more times since last logged" : "") + "): " + message, error,
            "errors", count, "repeats", repeats);
    }

    /** Errors since start. */
    public long count()
    {
        return count;
    }
}

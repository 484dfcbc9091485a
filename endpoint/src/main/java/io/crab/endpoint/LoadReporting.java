package io.crab.endpoint;

import io.crab.agent.feedback.FeedbackKey;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code crab-endpoint server} is told about reporting its load, validated by {@link EndpointContext}.
 *
 * @param destinations the LBs ({@code --report-to}), each sent every report
 * @param hz           reports per second ({@code --report-hz})
 * @param from         the source address to send from ({@code --report-from}); null: the kernel picks by route
 * @param key          signs every report ({@code --feedback-key}); null: reports are not authenticated
 * @param loadSocket   where applications report their queues ({@code --load-socket}); null: none
 */
public record LoadReporting(List<InetSocketAddress> destinations, int hz, Inet4Address from, FeedbackKey key,
    Path loadSocket)
{
    public static final int DEFAULT_HZ = 100;
    public static final int MIN_HZ = 10;
    public static final int MAX_HZ = 1000;
    /** LBs one server reports to; more is a configuration mistake, not a deployment. */
    public static final int MAX_DESTINATIONS = 16;
}

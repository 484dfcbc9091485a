package io.crab.k8s.watch;

import io.crab.agent.Log;
import io.crab.k8s.DesiredServices;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The controller's duty cycle: when the cluster changed (changes within {@link #COALESCE_NS} taken together), works
 * out this node's services again ({@link ClusterWatch#desired}) and hands them to the apply layer (crab-lb's agent,
 * the health check ports, the pods' client programs), which keeps what differs from what it has. At start it
 * hands over the services as they are.
 */
public final class ClusterAgent implements Agent
{
    /** Changes within 20 ms of the first are taken together; the duty cycle's idle adds at most its own sleep. */
    public static final long COALESCE_NS = 20_000_000L;

    private final ClusterWatch watch;
    private final Consumer<DesiredServices> apply;
    private final NanoClock clock;
    private final Log log;
    private DesiredServices last;
    private boolean healthy = true;
    private Set<DesiredServices.Skipped> loggedSkips = Set.of();

    public ClusterAgent(final ClusterWatch watch, final Consumer<DesiredServices> apply, final NanoClock clock,
        final Log log)
    {
        this.watch = watch;
        this.apply = apply;
        this.clock = clock;
        this.log = log;
    }

    @Override
    public void onStart()
    {
        update();
    }

    @Override
    public int doWork()
    {
        final boolean healthy = watch.healthy();
        if (healthy != this.healthy)
        {
            this.healthy = healthy;
            if (healthy)
            {
                log.info("watching the API server again");
            }
            else
            {
                log.warn("lost the watch on the API server for more than " + ClusterWatch.WATCH_GRACE_NS /
                    1_000_000_000L + " s: the services stay as they are, and the health check ports answer 503");
            }
        }
        if (watch.takeChange(clock.nanoTime(), COALESCE_NS))
        {
            update();
            return 1;
        }
        return 0;
    }

    private void update()
    {
        final DesiredServices desired = watch.desired();
        apply.accept(desired);
        if (last == null || !desired.services().equals(last.services()) ||
            !desired.healthChecks().equals(last.healthChecks()))
        {
            log.info("cluster: " + desired.services().size() + " services for node " + watch.node().nodeName() +
                ", " + desired.healthChecks().size() + " health check ports", "services", desired.services().size(),
                "health_checks", desired.healthChecks().size());
        }
        // What is left out is logged when it first is, not at every change.
        final Set<DesiredServices.Skipped> skips = new HashSet<>(desired.skipped());
        for (final DesiredServices.Skipped skip : desired.skipped())
        {
            if (!loggedSkips.contains(skip))
            {
                log.info("left out " + skip.what() + ": " + skip.reason(), "service", skip.what(),
                    "reason", skip.reason());
            }
        }
        loggedSkips = skips;
        last = desired;
    }

    @Override
    public String roleName()
    {
        return "crab-k8s cluster";
    }
}

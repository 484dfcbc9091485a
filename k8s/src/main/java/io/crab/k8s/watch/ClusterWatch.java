package io.crab.k8s.watch;

import io.crab.agent.ConfigException;
import io.crab.agent.Log;
import io.crab.k8s.DesiredServices;
import io.crab.k8s.NodeContext;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.agrona.concurrent.NanoClock;

import java.net.ConnectException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cluster as this node sees it, kept current by fabric8 informers (a list, then a watch that resumes where it
 * left off): every Service and every discovery.k8s.io/v1 EndpointSlice, and this node's Node, from which
 * {@link #desired} works out the node's services. The informers' threads only note the time of the first change
 * since the last {@link #takeChange}; whoever reads the caches (the controller's duty cycle) does so on its own
 * thread, so a burst of changes costs one computation.
 */
public final class ClusterWatch implements AutoCloseable
{
    /**
     * What the node's services depend on besides the cluster's objects.
     *
     * @param proxyName crab's {@code service.kubernetes.io/service-proxy-name}; null: only Services without it.
     */
    public record NodeSettings(String nodeName, int nodePortMin, int nodePortMax, String proxyName)
    {
    }

    /** How long the watches may be down before crab-k8s counts itself unhealthy. */
    public static final long WATCH_GRACE_NS = 10_000_000_000L;

    private final NodeSettings settings;
    private final String nodeName;
    private final NanoClock clock;
    private final Log log;
    private final SharedIndexInformer<Service> services;
    private final SharedIndexInformer<EndpointSlice> slices;
    private final SharedIndexInformer<Node> node;
    /** nanoTime of the first change not taken yet; 0: none. */
    private final AtomicLong firstChangeNs = new AtomicLong();
    /** nanoTime when a watch was first seen closed; 0: all open. */
    private final AtomicLong watchLostNs = new AtomicLong();
    /** The node as last seen: kept while its Node object is gone, so its services stay as they were. */
    private NodeContext nodeContext;
    private boolean nodeGoneLogged;

    private ClusterWatch(final KubernetesClient client, final NodeSettings settings, final NanoClock clock,
        final Log log)
    {
        this.settings = settings;
        this.nodeName = settings.nodeName();
        this.clock = clock;
        this.log = log;
        // No resync: a periodic resync only replays the cache, and nothing here drifts from it.
        this.services = client.services().inAnyNamespace().runnableInformer(0);
        this.slices = client.discovery().v1().endpointSlices().inAnyNamespace().runnableInformer(0);
        this.node = client.nodes().withName(nodeName).runnableInformer(0);
        final ResourceEventHandler<Object> onChange = new ResourceEventHandler<>()
        {
            @Override
            public void onAdd(final Object object)
            {
                changed();
            }

            @Override
            public void onUpdate(final Object before, final Object after)
            {
                changed();
            }

            @Override
            public void onDelete(final Object object, final boolean finalStateUnknown)
            {
                changed();
            }
        };
        services.addEventHandler(onChange);
        slices.addEventHandler(onChange);
        node.addEventHandler(onChange);
    }

    /**
     * Starts the informers and waits until each has listed its objects once. Fails when the API server does not
     * answer within {@code timeout}, refuses the lists (RBAC), or has no Node of the settings' name.
     */
    public static ClusterWatch start(final KubernetesClient client, final NodeSettings settings, final NanoClock clock,
        final Duration timeout, final Log log)
    {
        final String nodeName = settings.nodeName();
        final ClusterWatch watch = new ClusterWatch(client, settings, clock, log);
        try
        {
            CompletableFuture.allOf(watch.services.start().toCompletableFuture(),
                watch.slices.start().toCompletableFuture(), watch.node.start().toCompletableFuture())
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (watch.node.getStore().getByKey(nodeName) == null)
            {
                throw new ConfigException("--node-name " + nodeName + ": the cluster at " +
                    client.getMasterUrl() + " has no Node of that name");
            }
            watch.desired();
            return watch;
        }
        catch (final TimeoutException ex)
        {
            watch.close();
            throw new IllegalStateException("the API server at " + client.getMasterUrl() + " did not list Services, " +
                "EndpointSlices and Node " + nodeName + " within " + timeout.toSeconds() + " s");
        }
        catch (final ExecutionException ex)
        {
            watch.close();
            throw new IllegalStateException("listing from the API server at " + client.getMasterUrl() + " failed: " +
                reason(ex.getCause()), ex.getCause());
        }
        catch (final InterruptedException ex)
        {
            watch.close();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while listing from the API server");
        }
        catch (final RuntimeException ex)
        {
            watch.close();
            throw ex;
        }
    }

    /**
     * Why a request failed, for one line: the first message in the chain of causes, or what kind of failure it was
     * (the JDK's HTTP client reports a refused connection as a ConnectException without a message).
     */
    private static String reason(final Throwable failure)
    {
        for (Throwable cause = failure; cause != null; cause = cause.getCause())
        {
            if (cause.getMessage() != null && !cause.getMessage().isBlank())
            {
                return cause.getMessage();
            }
            if (cause instanceof ConnectException)
            {
                return "cannot connect";
            }
        }
        return failure.getClass().getSimpleName();
    }

    private void changed()
    {
        final long now = clock.nanoTime();
        firstChangeNs.compareAndSet(0, now == 0 ? 1 : now);
    }

    /**
     * True, and forgets the changes, when the first change not taken yet is at least {@code coalesceNs} old: the
     * changes that come within that window (a rollout touches a slice many times) are taken as one, and none waits
     * longer. A change noted while the caller reads the caches afterwards is taken next time.
     */
    public boolean takeChange(final long nowNs, final long coalesceNs)
    {
        final long first = firstChangeNs.get();
        return first != 0 && nowNs - first >= coalesceNs && firstChangeNs.compareAndSet(first, 0);
    }

    /**
     * This node's services from the caches as they are now: {@link DesiredServices#of} with the node as its Node
     * object says now, or as it was last seen while the object is gone. Called from one thread at a time.
     */
    public DesiredServices desired()
    {
        final Node current = node.getStore().getByKey(nodeName);
        if (current != null)
        {
            nodeContext = NodeContext.ofNode(current, settings.nodePortMin(), settings.nodePortMax(),
                settings.proxyName());
            nodeGoneLogged = false;
        }
        else if (!nodeGoneLogged)
        {
            nodeGoneLogged = true;
            log.warn("Node " + nodeName + " is gone from the cluster; its addresses and zone stay as last seen",
                "node", nodeName);
        }
        return DesiredServices.of(services.getStore().list(), slices.getStore().list(), nodeContext);
    }

    /** The node as {@link #desired} last saw it. */
    public NodeContext node()
    {
        return nodeContext;
    }

    /**
     * What the cluster says reaches crab-k8s: every informer has its watch open, or has had for all but the last
     * {@link #WATCH_GRACE_NS} (an informer reopens its watch every few minutes, and after an API server restart).
     * The health check ports answer 503 when not, as kube-proxy's do when it has not synced for a while. Safe from
     * any thread; the controller's duty cycle asks at every turn, so a loss is timed from when it happened.
     */
    public boolean healthy()
    {
        if (services.isWatching() && slices.isWatching() && node.isWatching())
        {
            watchLostNs.set(0);
            return true;
        }
        final long now = clock.nanoTime();
        watchLostNs.compareAndSet(0, now == 0 ? 1 : now);
        return now - watchLostNs.get() < WATCH_GRACE_NS;
    }

    @Override
    public void close()
    {
        services.stop();
        slices.stop();
        node.stop();
    }
}

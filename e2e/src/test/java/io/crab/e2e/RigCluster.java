package io.crab.e2e;

import io.crab.bench.cluster.CrabCluster;
import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** A topology and crab running on it, started together and closed together, the cluster first. */
record RigCluster(Topology topology, CrabCluster cluster) implements AutoCloseable
{
    /**
     * Builds the topology, then starts echo servers on {@code ports} and the endpoints, the clients' VIPs chosen
     * from the built hosts; whatever was made is removed again if a step fails.
     */
    static RigCluster start(final Topology.Builder builder, final Path logs, final List<Integer> ports,
        final Function<Topology, Map<Host, List<String>>> clientVips)
    {
        return start(builder, logs, ports, clientVips, t -> List.of());
    }

    /** {@link #start} with more arguments for every server endpoint, chosen from the built hosts. */
    static RigCluster start(final Topology.Builder builder, final Path logs, final List<Integer> ports,
        final Function<Topology, Map<Host, List<String>>> clientVips,
        final Function<Topology, List<String>> serverArgs)
    {
        final Topology topology = builder.build();
        try
        {
            return new RigCluster(topology, CrabCluster.start(topology, logs, ports, clientVips.apply(topology),
                List.of(), serverArgs.apply(topology)));
        }
        catch (final RuntimeException ex)
        {
            topology.close();
            throw ex;
        }
    }

    @Override
    public void close()
    {
        try
        {
            cluster.close();
        }
        finally
        {
            topology.close();
        }
    }
}

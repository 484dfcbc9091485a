package io.crab.bench.traffic;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** netperf TCP_RR: each worker keeps one connection and repeats request/echo round trips on it. */
public final class Rr
{
    private Rr()
    {
    }

    /** Runs the spec to its count or time bound; latency is one round trip, a reconnect after a failure excluded. */
    public static LoadResult run(final LoadSpec spec)
    {
        return LoadRun.execute(spec, Workload.RR, RrWorker::new);
    }

    private static final class RrWorker extends Worker
    {
        private SocketChannel channel;

        RrWorker(final LoadRun run)
        {
            super(run);
        }

        @Override
        long transact() throws IOException
        {
            if (channel == null)
            {
                channel = connect();
            }
            final long start = System.nanoTime();
            exchange(channel);
            return System.nanoTime() - start;
        }

        @Override
        void disconnect()
        {
            if (channel != null)
            {
                Sockets.closeQuietly(channel);
                channel = null;
            }
        }
    }
}

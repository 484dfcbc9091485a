package io.crab.bench.traffic;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** netperf TCP_CRR: each transaction connects, sends the payload, reads the echo and closes. */
public final class Crr
{
    private Crr()
    {
    }

    /** Runs the spec to its count or time bound; latency is connect start to close done. */
    public static LoadResult run(final LoadSpec spec)
    {
        return LoadRun.execute(spec, Workload.CRR, CrrWorker::new);
    }

    private static final class CrrWorker extends Worker
    {
        CrrWorker(final LoadRun run)
        {
            super(run);
        }

        @Override
        long transact() throws IOException
        {
            final long start = System.nanoTime();
            try (SocketChannel channel = connect())
            {
                exchange(channel);
            }
            return System.nanoTime() - start;
        }

        @Override
        void disconnect()
        {
            // Every transaction closes its own connection.
        }
    }
}

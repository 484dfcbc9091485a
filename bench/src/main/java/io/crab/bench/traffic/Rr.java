package io.crab.bench.traffic;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

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
        private Socket socket;
        private OutputStream out;
        private InputStream in;

        RrWorker(final LoadRun run)
        {
            super(run);
        }

        @Override
        long transact() throws IOException
        {
            if (socket == null)
            {
                final Socket fresh = connect();
                socket = fresh;
                out = fresh.getOutputStream();
                in = fresh.getInputStream();
            }
            final long start = System.nanoTime();
            exchange(out, in);
            return System.nanoTime() - start;
        }

        @Override
        void disconnect()
        {
            if (socket != null)
            {
                Sockets.closeQuietly(socket);
                socket = null;
                out = null;
                in = null;
            }
        }
    }
}

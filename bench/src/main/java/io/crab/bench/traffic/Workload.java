package io.crab.bench.traffic;

/** The netperf-style request/response workloads: a fresh connection per transaction, or one kept open. */
public enum Workload
{
    /** netperf TCP_CRR: connect, request, response, close. */
    CRR,
    /** netperf TCP_RR: request, response, over one long-lived connection per worker. */
    RR;

    /** Runs this workload with the spec's client; never throws for traffic failures, they are counted in the result. */
    public LoadResult run(final LoadSpec spec)
    {
        if (spec.client() == TrafficClient.NATIVE)
        {
            return NativeClient.run(spec, this);
        }
        return this == CRR ? Crr.run(spec) : Rr.run(spec);
    }
}

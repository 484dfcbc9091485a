package io.crab.bench.traffic;

/** Which client program generates a run's traffic and times it. */
public enum TrafficClient
{
    /**
     * crr_client (bench/src/main/c), started in the client's namespace: per transaction only what netperf does, so
     * the bench's figures carry no overhead of its own. The default.
     */
    NATIVE,
    /**
     * The Java client ({@link Crr}, {@link Rr}); IPv6 targets too. `crab-bench instrument` measures how far it is from
     * the native one.
     */
    JAVA
}

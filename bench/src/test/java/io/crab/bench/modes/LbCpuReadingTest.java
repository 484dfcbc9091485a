package io.crab.bench.modes;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The arithmetic of the LB CPU meter's counters. */
class LbCpuReadingTest
{
    @Test
    void aRunIsTheDifferenceOfTheReadingsAroundIt()
    {
        final LbCpuMeter.Reading before = new LbCpuMeter.Reading(1_000, 10, 50_000, 2_000);
        final LbCpuMeter.Reading after = new LbCpuMeter.Reading(31_000, 25, 90_000, 12_000);

        assertEquals(new LbCpuMeter.Reading(30_000, 15, 40_000, 10_000), after.minus(before));
    }

    @Test
    void theLbsCpuIsItsPollsAndItsProcessLessTheSoftirqsInTheProcess()
    {
        // 30 µs of polls; the process ran 40 µs, 10 µs of which were softirqs: the polls again or other devices'.
        assertEquals(60_000, new LbCpuMeter.Reading(30_000, 15, 40_000, 10_000).lbCpuNs());
        assertEquals(30_000, new LbCpuMeter.Reading(30_000, 15, 0, 0).lbCpuNs(), "no process: the polls alone");
    }
}

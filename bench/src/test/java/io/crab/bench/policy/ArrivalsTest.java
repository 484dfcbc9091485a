package io.crab.bench.policy;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exponential sampler and the Poisson schedule built on it. */
class ArrivalsTest
{
    private static final int SAMPLES = 200_000;

    @Test
    void exponentialSamplesHaveTheMeanAndTheSpreadOfAnExponential()
    {
        final Exponential exponential = new Exponential(10_000_000, 7);
        double sum = 0;
        double sumOfSquares = 0;
        long aboveMean = 0;
        for (int i = 0; i < SAMPLES; i++)
        {
            final double sample = exponential.nextNanos();
            assertTrue(sample >= 0, "never negative: " + sample);
            sum += sample;
            sumOfSquares += sample * sample;
            aboveMean += sample > 10_000_000 ? 1 : 0;
        }
        final double mean = sum / SAMPLES;
        final double deviation = Math.sqrt(sumOfSquares / SAMPLES - mean * mean);
        // The standard error of the mean is mean / sqrt(200,000), about 0.22 %; 1 % is over 4 of them.
        assertEquals(10_000_000, mean, 100_000, "mean");
        assertEquals(mean, deviation, 0.02 * mean, "an exponential's standard deviation is its mean");
        assertEquals(Math.exp(-1), aboveMean / (double)SAMPLES, 0.005, "P(X > mean) = 1/e");
    }

    @Test
    void aZeroMeanIsAlwaysZeroAndANegativeOneIsRefused()
    {
        final Exponential zero = new Exponential(0, 1);
        for (int i = 0; i < 1000; i++)
        {
            assertEquals(0, zero.nextNanos());
        }
        assertThrows(IllegalArgumentException.class, () -> new Exponential(-1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Exponential(Double.NaN, 1));
    }

    @Test
    void poissonArrivalsComeAtTheRateInIncreasingOrder()
    {
        final PoissonSchedule schedule = new PoissonSchedule(1600, 3);
        long last = -1;
        long at = 0;
        for (int i = 0; i < SAMPLES; i++)
        {
            at = schedule.nextNanos();
            assertTrue(at >= last, "arrival " + i + " at " + at + " before its predecessor at " + last);
            last = at;
        }
        final double rate = SAMPLES / (at / 1e9);
        assertEquals(1600, rate, 16, "arrivals per second over " + at / 1e9 + " s");
    }

    @Test
    void poissonArrivalsInAWindowAreAsManyAsTheRateSays()
    {
        // Counts in 10,000 windows of 10 ms at 1,600/s: Poisson with mean 16, so variance 16 as well.
        final PoissonSchedule schedule = new PoissonSchedule(1600, 11);
        final int windows = 10_000;
        final long width = 10_000_000;
        final int[] counts = new int[windows];
        for (long at = schedule.nextNanos(); at < windows * width; at = schedule.nextNanos())
        {
            counts[(int)(at / width)]++;
        }
        final double mean = Arrays.stream(counts).average().orElseThrow();
        final double variance = Arrays.stream(counts).mapToDouble(c -> (c - mean) * (c - mean)).sum() /
            windows;
        assertEquals(16, mean, 0.3);
        assertEquals(16, variance, 1.0, "a Poisson count's variance equals its mean");
    }

    @Test
    void theSameSeedGivesTheSameSchedule()
    {
        final PoissonSchedule a = new PoissonSchedule(100, 42);
        final PoissonSchedule b = new PoissonSchedule(100, 42);
        for (int i = 0; i < 1000; i++)
        {
            assertEquals(a.nextNanos(), b.nextNanos());
        }
        assertThrows(IllegalArgumentException.class, () -> new PoissonSchedule(0, 1));
    }
}

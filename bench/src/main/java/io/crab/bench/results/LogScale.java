package io.crab.bench.results;

import java.util.ArrayList;
import java.util.List;

/**
 * Maps a positive value (a latency) to a y pixel between {@code bottom} and {@code top}, logarithmically, from
 * a 1-2-5 step at or below the lowest value; the charts share it so their axes read alike.
 *
 * @param min    the value at {@code bottom}
 * @param max    the value at {@code top}
 * @param top    the pixel row of {@code max}
 * @param bottom the pixel row of {@code min}, below {@code top}
 */
public record LogScale(double min, double max, int top, int bottom)
{
    /** Beyond this many decades, 2 and 5 ticks would crowd the axis; only powers of ten are marked. */
    private static final double MAX_DECADES_FOR_FINE_TICKS = 3;
    private static final double[] FINE = {1, 2, 5};
    private static final double[] COARSE = {1};

    /**
     * From the 1-2-5 step (power of ten, over a wide range) at or below {@code low}, so the lowest value stands
     * on a labelled floor, to {@code labelRoom} pixels above {@code high}; rounding the top up to a step could
     * waste half the plot.
     */
    public static LogScale covering(final double low, final double high, final int top, final int bottom,
        final int labelRoom)
    {
        final LogScale fine = withLabelRoom(stepBelow(low, FINE), high, top, bottom, labelRoom);
        return fine.decades() <= MAX_DECADES_FOR_FINE_TICKS ? fine :
            withLabelRoom(stepBelow(low, COARSE), high, top, bottom, labelRoom);
    }

    private static LogScale withLabelRoom(final double min, final double high, final int top, final int bottom,
        final int labelRoom)
    {
        final double valueDecades = Math.log10(high) - Math.log10(min);
        final double roomDecades = valueDecades * labelRoom / (bottom - top - labelRoom);
        return new LogScale(min, high * Math.pow(10, roomDecades), top, bottom);
    }

    public int y(final double value)
    {
        final double fraction = (Math.log10(value) - Math.log10(min)) / decades();
        return (int) Math.round(bottom - fraction * (bottom - top));
    }

    /** The 1-2-5 steps between min and max, or the powers of ten alone over a wide range. */
    public List<Double> ticks()
    {
        final double[] steps = decades() <= MAX_DECADES_FOR_FINE_TICKS ? FINE : COARSE;
        final List<Double> ticks = new ArrayList<>();
        for (int exponent = (int) Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++)
        {
            for (final double step : steps)
            {
                final double tick = step * Math.pow(10, exponent);
                // Tolerance, as step * 10^e here need not equal bit for bit the one stepBelow computed.
                if (tick >= min * (1 - 1e-9) && tick <= max * (1 + 1e-9))
                {
                    ticks.add(tick);
                }
            }
        }
        return ticks;
    }

    private double decades()
    {
        return Math.log10(max) - Math.log10(min);
    }

    /** The largest step times a power of ten at or below the value. */
    private static double stepBelow(final double value, final double[] steps)
    {
        final int exponent = (int) Math.floor(Math.log10(value));
        double best = Math.pow(10, exponent);
        for (final double step : steps)
        {
            final double candidate = step * Math.pow(10, exponent);
            if (candidate <= value && candidate > best)
            {
                best = candidate;
            }
        }
        return best;
    }
}

package io.crab.bench.results;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;

import javax.imageio.ImageIO;

import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

/** The latency chart: a CRR and an RR panel, each a bar per mode at p50, p90, p99 and p99.9, on a log scale. */
public final class LatencyChart
{
    public static final int WIDTH = 1200;
    public static final int HEIGHT = 700;

    private static final List<String> PERCENTILE_LABELS = List.of("p50", "p90", "p99", "p99.9");
    private static final double[] PERCENTILES = {50.0, 90.0, 99.0, 99.9};

    /** Tableau 10 without its grey, which marks the baseline so the other modes read against it. */
    private static final int[] PALETTE = {
        0x4E79A7, 0xF28E2B, 0xE15759, 0x59A14F, 0x76B7B2, 0xB07AA1, 0xEDC948, 0xFF9DA7, 0x9C755F};
    private static final Color BASELINE_COLOR = new Color(0x8C8C8C);
    private static final Color INK = new Color(0x222222);
    private static final Color MUTED = new Color(0x666666);
    private static final Color GRID = new Color(0xE4E4E4);
    private static final Color WARNING = new Color(0xB22222);

    private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 22);
    private static final Font SUBTITLE = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
    private static final Font SMALL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final Font PANEL_TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 15);
    private static final Font GROUP_LABEL = new Font(Font.SANS_SERIF, Font.BOLD, 13);
    private static final Font VALUE_LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 10);

    private static final int MARGIN = 30;
    private static final int PANEL_GAP = 40;
    /** Room left of each plot for the tick labels and the rotated axis title. */
    private static final int AXIS_SPACE = 72;
    private static final int PLOT_TOP = 160;
    private static final int PLOT_BOTTOM = HEIGHT - 90;
    private static final double GROUP_FILL = 0.8;
    private static final double MAX_BAR_WIDTH = 48;
    /** Space below the lowest bar, as a factor on the log scale, so its height can still be compared. */
    private static final double LOW_HEADROOM = 1.5;
    /** Pixels kept above the highest bar for its label, which may stand on end. */
    private static final int LABEL_ROOM = 32;
    /** Beyond this many decades, 2 and 5 ticks would crowd the axis; only powers of ten are marked. */
    private static final double MAX_DECADES_FOR_FINE_TICKS = 3;

    private LatencyChart()
    {
    }

    /** Renders the chart and writes it as a PNG. */
    public static void write(final BenchResults results, final Path file) throws IOException
    {
        if (!ImageIO.write(render(results), "png", file.toFile()))
        {
            throw new IOException("this JDK has no PNG writer");
        }
    }

    /** Draws the chart; modes refused by the path check are left out and named in a footnote. */
    public static BufferedImage render(final BenchResults results)
    {
        // The bench runs on servers without a display; AWT reads this once, at its first use.
        System.setProperty("java.awt.headless", "true");
        final BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = image.createGraphics();
        try
        {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);

            final Map<String, Color> colors = colors(results);
            drawHeader(g, results);
            drawLegend(g, colors, results.baselineMode());
            final int panelWidth = (WIDTH - 2 * MARGIN - PANEL_GAP) / 2;
            drawPanel(g, results, Workload.CRR, "CRR: connect, request, response, close", colors, MARGIN, panelWidth);
            drawPanel(g, results, Workload.RR, "RR: request and response on an open connection", colors,
                MARGIN + panelWidth + PANEL_GAP, panelWidth);
            drawFootnotes(g, results);
        }
        finally
        {
            g.dispose();
        }
        return image;
    }

    /** One colour per drawn mode, the same in both panels. */
    private static Map<String, Color> colors(final BenchResults results)
    {
        final Map<String, Color> colors = new LinkedHashMap<>();
        int next = 0;
        for (final ModeResult mode : results.modes())
        {
            if (mode.isRefused())
            {
                continue;
            }
            if (mode.mode().equals(results.baselineMode()))
            {
                colors.put(mode.mode(), BASELINE_COLOR);
            }
            else
            {
                colors.put(mode.mode(), new Color(PALETTE[next++ % PALETTE.length]));
            }
        }
        return colors;
    }

    private static void drawHeader(final Graphics2D g, final BenchResults results)
    {
        g.setColor(INK);
        g.setFont(TITLE);
        drawCentered(g, "crab: transaction latency by mode", WIDTH / 2, 36);
        g.setFont(SUBTITLE);
        drawCentered(g, ResultsWriter.DATE.format(results.started()) + "  ·  " + results.parameters().describe(),
            WIDTH / 2, 62);
        g.setColor(MUTED);
        g.setFont(SMALL);
        drawCentered(g, fit(g, results.machine().summary(), WIDTH - 2 * MARGIN), WIDTH / 2, 82);
    }

    private static void drawLegend(final Graphics2D g, final Map<String, Color> colors, final String baseline)
    {
        final int swatch = 14;
        final int gap = 24;
        g.setFont(SUBTITLE);
        final FontMetrics metrics = g.getFontMetrics();
        final List<String> labels = new ArrayList<>();
        int width = 0;
        for (final String mode : colors.keySet())
        {
            final String label = mode.equals(baseline) ? mode + " (baseline)" : mode;
            labels.add(label);
            width += swatch + 6 + metrics.stringWidth(label) + gap;
        }
        int x = (WIDTH - (width - gap)) / 2;
        final int y = 112;
        int i = 0;
        for (final Color color : colors.values())
        {
            g.setColor(color);
            g.fillRect(x, y - swatch + 2, swatch, swatch);
            g.setColor(INK);
            g.drawString(labels.get(i), x + swatch + 6, y);
            x += swatch + 6 + metrics.stringWidth(labels.get(i)) + gap;
            i++;
        }
    }

    private static void drawPanel(
        final Graphics2D g,
        final BenchResults results,
        final Workload workload,
        final String title,
        final Map<String, Color> colors,
        final int left,
        final int width)
    {
        final int plotLeft = left + AXIS_SPACE;
        final int plotWidth = width - AXIS_SPACE;
        g.setColor(INK);
        g.setFont(PANEL_TITLE);
        drawCentered(g, title, plotLeft + plotWidth / 2, PLOT_TOP - 16);

        final Map<String, double[]> series = new LinkedHashMap<>();
        for (final ModeResult mode : results.modes())
        {
            final Optional<LoadResult> result = mode.reportable(workload).filter(r -> r.transactions() > 0);
            result.ifPresent(r -> series.put(mode.mode(), percentiles(r)));
        }
        final double lowest = series.values().stream()
            .flatMapToDouble(Arrays::stream).filter(v -> v > 0).min().orElse(0);
        if (lowest == 0)
        {
            g.setColor(MUTED);
            g.setFont(SUBTITLE);
            drawCentered(g, "not run", plotLeft + plotWidth / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);
            return;
        }
        final double highest = series.values().stream().flatMapToDouble(Arrays::stream).max().orElseThrow();
        final LogScale scale = LogScale.covering(lowest / LOW_HEADROOM, highest);

        drawAxes(g, scale, left, plotLeft, plotWidth);
        drawBars(g, scale, series, colors, plotLeft, plotWidth);
    }

    private static double[] percentiles(final LoadResult result)
    {
        final double[] values = new double[PERCENTILES.length];
        for (int i = 0; i < values.length; i++)
        {
            values[i] = result.percentileUs(PERCENTILES[i]);
        }
        return values;
    }

    private static void drawAxes(
        final Graphics2D g, final LogScale scale, final int left, final int plotLeft, final int plotWidth)
    {
        g.setFont(SMALL);
        final FontMetrics metrics = g.getFontMetrics();
        for (final double tick : scale.ticks())
        {
            final int y = scale.y(tick);
            g.setColor(GRID);
            g.drawLine(plotLeft, y, plotLeft + plotWidth, y);
            g.setColor(MUTED);
            g.drawLine(plotLeft - 4, y, plotLeft, y);
            final String label = tickLabel(tick);
            g.drawString(label, plotLeft - 8 - metrics.stringWidth(label), y + metrics.getAscent() / 2 - 1);
        }
        g.setColor(INK);
        g.setStroke(new BasicStroke(1.2f));
        g.drawLine(plotLeft, PLOT_TOP, plotLeft, PLOT_BOTTOM);
        g.drawLine(plotLeft, PLOT_BOTTOM, plotLeft + plotWidth, PLOT_BOTTOM);
        g.setStroke(new BasicStroke(1f));

        final AffineTransform unrotated = g.getTransform();
        g.setFont(SMALL);
        g.rotate(-Math.PI / 2, left + 14, (PLOT_TOP + PLOT_BOTTOM) / 2.0);
        drawCentered(g, "latency, µs (log scale)", left + 14, (PLOT_TOP + PLOT_BOTTOM) / 2 + 4);
        g.setTransform(unrotated);

        g.setFont(GROUP_LABEL);
        final double groupWidth = plotWidth / (double) PERCENTILE_LABELS.size();
        for (int p = 0; p < PERCENTILE_LABELS.size(); p++)
        {
            drawCentered(g, PERCENTILE_LABELS.get(p), (int) (plotLeft + groupWidth * (p + 0.5)), PLOT_BOTTOM + 22);
        }
    }

    private static void drawBars(
        final Graphics2D g,
        final LogScale scale,
        final Map<String, double[]> series,
        final Map<String, Color> colors,
        final int plotLeft,
        final int plotWidth)
    {
        g.setFont(VALUE_LABEL);
        final FontMetrics metrics = g.getFontMetrics();
        final double groupWidth = plotWidth / (double) PERCENTILE_LABELS.size();
        final double barWidth = Math.min(MAX_BAR_WIDTH, groupWidth * GROUP_FILL / series.size());
        for (int p = 0; p < PERCENTILE_LABELS.size(); p++)
        {
            final double groupStart = plotLeft + groupWidth * p + (groupWidth - barWidth * series.size()) / 2;
            int s = 0;
            for (final Map.Entry<String, double[]> entry : series.entrySet())
            {
                final double value = entry.getValue()[p];
                final int x = (int) Math.round(groupStart + barWidth * s);
                final int w = Math.max(1, (int) Math.round(barWidth) - 2);
                final int top = scale.y(Math.max(value, scale.min()));
                g.setColor(colors.get(entry.getKey()));
                g.fillRect(x, top, w, PLOT_BOTTOM - top);

                g.setColor(INK);
                final String label = valueLabel(value);
                final int labelWidth = metrics.stringWidth(label);
                if (labelWidth < barWidth)
                {
                    g.drawString(label, x + (w - labelWidth) / 2, top - 3);
                }
                else
                {
                    // Too wide for the bar: stand it on end rather than let it run into the neighbours.
                    final AffineTransform unrotated = g.getTransform();
                    g.rotate(-Math.PI / 2, x + w / 2.0, top - 3);
                    g.drawString(label, x + w / 2, top - 3 + metrics.getAscent() / 2 - 1);
                    g.setTransform(unrotated);
                }
                s++;
            }
        }
    }

    private static void drawFootnotes(final Graphics2D g, final BenchResults results)
    {
        g.setFont(SMALL);
        g.setColor(MUTED);
        drawCentered(g, "Successful transactions, all rounds merged. Exact figures and ratios are in results.md.",
            WIDTH / 2, HEIGHT - 34);
        final StringJoiner refused = new StringJoiner("; ", "Not drawn, path check refused: ", "");
        refused.setEmptyValue("");
        for (final ModeResult mode : results.modes())
        {
            if (mode.isRefused())
            {
                refused.add(mode.mode() + " (" + mode.pathCheck().replaceAll("\\R", " ") + ")");
            }
        }
        g.setColor(WARNING);
        drawCentered(g, fit(g, refused.toString(), WIDTH - 2 * MARGIN), WIDTH / 2, HEIGHT - 14);
    }

    private static void drawCentered(final Graphics2D g, final String text, final int centreX, final int baseline)
    {
        g.drawString(text, centreX - g.getFontMetrics().stringWidth(text) / 2, baseline);
    }

    /** The text, cut short with an ellipsis if it is wider than {@code width} in the current font. */
    private static String fit(final Graphics2D g, final String text, final int width)
    {
        final FontMetrics metrics = g.getFontMetrics();
        if (metrics.stringWidth(text) <= width)
        {
            return text;
        }
        String cut = text;
        while (!cut.isEmpty() && metrics.stringWidth(cut + "…") > width)
        {
            cut = cut.substring(0, cut.length() - 1);
        }
        return cut + "…";
    }

    /** Bar labels: a decimal below 100 µs, where modes differ by fractions; thousands shortened to fit a bar. */
    private static String valueLabel(final double micros)
    {
        if (micros < 100)
        {
            return String.format(Locale.ROOT, "%.1f", micros);
        }
        if (micros < 10_000)
        {
            return String.format(Locale.ROOT, "%.0f", micros);
        }
        return String.format(Locale.ROOT, "%.0fk", micros / 1_000);
    }

    private static String tickLabel(final double tick)
    {
        return new BigDecimal(tick).round(new MathContext(3)).stripTrailingZeros().toPlainString();
    }

    /** Maps microseconds to a y pixel in the plot, logarithmically, between two 1-2-5 steps. */
    private record LogScale(double min, double max)
    {
        private static final double[] FINE = {1, 2, 5};
        private static final double[] COARSE = {1};

        /**
         * From the 1-2-5 step (power of ten, over a wide range) at or below {@code low}, so the shortest bar stands
         * on a labelled floor, to {@link #LABEL_ROOM} pixels above {@code high}; rounding the top up to a step
         * could waste half the plot.
         */
        static LogScale covering(final double low, final double high)
        {
            final LogScale fine = withLabelRoom(stepBelow(low, FINE), high);
            return fine.decades() <= MAX_DECADES_FOR_FINE_TICKS ? fine : withLabelRoom(stepBelow(low, COARSE), high);
        }

        private static LogScale withLabelRoom(final double min, final double high)
        {
            final double barDecades = Math.log10(high) - Math.log10(min);
            final double roomDecades = barDecades * LABEL_ROOM / (PLOT_BOTTOM - PLOT_TOP - LABEL_ROOM);
            return new LogScale(min, high * Math.pow(10, roomDecades));
        }

        int y(final double micros)
        {
            final double fraction = (Math.log10(micros) - Math.log10(min)) / decades();
            return (int) Math.round(PLOT_BOTTOM - fraction * (PLOT_BOTTOM - PLOT_TOP));
        }

        List<Double> ticks()
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
}

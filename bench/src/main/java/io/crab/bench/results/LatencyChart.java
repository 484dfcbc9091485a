package io.crab.bench.results;

import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;

import io.crab.bench.traffic.LoadResult;
import io.crab.bench.traffic.Workload;

import static io.crab.bench.results.ChartKit.BASELINE_COLOR;
import static io.crab.bench.results.ChartKit.GROUP_LABEL;
import static io.crab.bench.results.ChartKit.INK;
import static io.crab.bench.results.ChartKit.MUTED;
import static io.crab.bench.results.ChartKit.PANEL_TITLE;
import static io.crab.bench.results.ChartKit.SMALL;
import static io.crab.bench.results.ChartKit.SUBTITLE;
import static io.crab.bench.results.ChartKit.TITLE;
import static io.crab.bench.results.ChartKit.VALUE_LABEL;
import static io.crab.bench.results.ChartKit.WARNING;
import static io.crab.bench.results.ChartKit.drawCentered;
import static io.crab.bench.results.ChartKit.fit;

/** The latency chart: a CRR and an RR panel, each a bar per mode at p50, p90, p99 and p99.9, on a log scale. */
public final class LatencyChart
{
    public static final int WIDTH = 1200;
    public static final int HEIGHT = 700;

    private static final List<String> PERCENTILE_LABELS = List.of("p50", "p90", "p99", "p99.9");
    private static final double[] PERCENTILES = {50.0, 90.0, 99.0, 99.9};

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

    private LatencyChart()
    {
    }

    /** Renders the chart and writes it as a PNG. */
    public static void write(final BenchResults results, final Path file) throws IOException
    {
        ChartKit.writePng(render(results), file);
    }

    /** Draws the chart; modes refused by the path check are left out and named in a footnote. */
    public static BufferedImage render(final BenchResults results)
    {
        final BufferedImage image = ChartKit.canvas(WIDTH, HEIGHT);
        final Graphics2D g = ChartKit.graphics(image);
        try
        {
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
                colors.put(mode.mode(), ChartKit.color(next++));
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
        final LogScale scale = LogScale.covering(lowest / LOW_HEADROOM, highest, PLOT_TOP, PLOT_BOTTOM, LABEL_ROOM);

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
        ChartKit.drawLogAxis(g, scale, left, plotLeft, plotWidth, "latency, µs (log scale)");
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
}

package io.crab.bench.policy;

import io.crab.bench.results.ChartKit;
import io.crab.bench.results.LogScale;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static io.crab.bench.results.ChartKit.GROUP_LABEL;
import static io.crab.bench.results.ChartKit.GRID;
import static io.crab.bench.results.ChartKit.INK;
import static io.crab.bench.results.ChartKit.MUTED;
import static io.crab.bench.results.ChartKit.SMALL;
import static io.crab.bench.results.ChartKit.SUBTITLE;
import static io.crab.bench.results.ChartKit.TITLE;
import static io.crab.bench.results.ChartKit.drawCentered;
import static io.crab.bench.results.ChartKit.fit;

/** p99 latency against load, one line per policy, on a log scale: the shape of the CRAB paper's Figs. 11 and 12. */
public final class PolicyChart
{
    public static final int WIDTH = 1000;
    public static final int HEIGHT = 640;

    private static final int MARGIN = 30;
    private static final int AXIS_SPACE = 72;
    private static final int PLOT_TOP = 140;
    private static final int PLOT_BOTTOM = HEIGHT - 80;
    private static final int PLOT_LEFT = MARGIN + AXIS_SPACE;
    private static final int PLOT_WIDTH = WIDTH - PLOT_LEFT - MARGIN;
    /** Pixels kept above the highest point, so its marker is not cut. */
    private static final int LABEL_ROOM = 12;
    /** Space below the lowest point, as a factor on the log scale. */
    private static final double LOW_HEADROOM = 1.5;
    private static final int X_TICK_PERCENT = 10;
    private static final int MARKER = 8;
    private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'", Locale.ROOT)
        .withZone(ZoneOffset.UTC);

    private PolicyChart()
    {
    }

    public static void write(final PolicyResults results, final Path file) throws IOException
    {
        ChartKit.writePng(render(results), file);
    }

    public static BufferedImage render(final PolicyResults results)
    {
        final BufferedImage image = ChartKit.canvas(WIDTH, HEIGHT);
        final Graphics2D g = ChartKit.graphics(image);
        try
        {
            final Map<String, Color> colors = colors(results.settings().policies());
            drawHeader(g, results);
            drawLegend(g, colors);
            final double lowest = results.runs().stream().mapToDouble(r -> r.result().p99Ms())
                .filter(v -> Double.isFinite(v) && v > 0).min().orElse(Double.NaN);
            if (Double.isNaN(lowest))
            {
                g.setColor(MUTED);
                g.setFont(SUBTITLE);
                drawCentered(g, "nothing answered", PLOT_LEFT + PLOT_WIDTH / 2, (PLOT_TOP + PLOT_BOTTOM) / 2);
                return image;
            }
            final double highest = results.runs().stream().mapToDouble(r -> r.result().p99Ms())
                .filter(Double::isFinite).max().orElseThrow();
            final LogScale scale = LogScale.covering(lowest / LOW_HEADROOM, highest, PLOT_TOP, PLOT_BOTTOM,
                LABEL_ROOM);
            final int maxLoad = Math.max(100, results.settings().loads().stream().mapToInt(Integer::intValue).max()
                .orElse(100));
            final int xMax = (maxLoad + X_TICK_PERCENT - 1) / X_TICK_PERCENT * X_TICK_PERCENT;
            // The load axis's grid first, so the latency axis's lines are drawn over it.
            drawLoadAxis(g, xMax);
            ChartKit.drawLogAxis(g, scale, MARGIN, PLOT_LEFT, PLOT_WIDTH, "p99 latency, ms (log scale)");
            for (final Map.Entry<String, Color> policy : colors.entrySet())
            {
                drawLine(g, scale, xMax, results, policy.getKey(), policy.getValue());
            }
            g.setFont(SMALL);
            g.setColor(MUTED);
            drawCentered(g, fit(g, String.format(Locale.ROOT, "Each point: one run of %d ms after %d ms of warm-up, " +
                "p99 from scheduled arrival to response. Figures in %s.", results.settings().window().toMillis(),
                results.settings().warmup().toMillis(), PolicyReport.MARKDOWN_FILE), WIDTH - 2 * MARGIN), WIDTH / 2,
                HEIGHT - 14);
        }
        finally
        {
            g.dispose();
        }
        return image;
    }

    /** The baseline (random) in the charts' baseline grey, every other policy a colour of its own. */
    private static Map<String, Color> colors(final List<String> policies)
    {
        final Map<String, Color> colors = new LinkedHashMap<>();
        int next = 0;
        for (final String policy : policies)
        {
            colors.put(policy, policy.equals(PolicyReport.BASELINE) ? ChartKit.BASELINE_COLOR :
                ChartKit.color(next++));
        }
        return colors;
    }

    private static void drawHeader(final Graphics2D g, final PolicyResults results)
    {
        g.setColor(INK);
        g.setFont(TITLE);
        drawCentered(g, "crab: p99 latency against load, by policy", WIDTH / 2, 34);
        g.setFont(SUBTITLE);
        drawCentered(g, String.format(Locale.ROOT, "%s  ·  %d backends, exponential service of mean %d ms, " +
            "%.0f connections/s at 100 %%, open loop", DATE.format(results.started()), results.backends().size(),
            results.settings().meanServiceTime().toMillis(), results.capacity()), WIDTH / 2, 58);
        g.setColor(MUTED);
        g.setFont(SMALL);
        drawCentered(g, fit(g, results.machine().summary(), WIDTH - 2 * MARGIN), WIDTH / 2, 78);
    }

    private static void drawLegend(final Graphics2D g, final Map<String, Color> colors)
    {
        final int swatch = 14;
        final int gap = 24;
        g.setFont(SUBTITLE);
        final FontMetrics metrics = g.getFontMetrics();
        int width = 0;
        for (final String policy : colors.keySet())
        {
            width += swatch + 6 + metrics.stringWidth(policy) + gap;
        }
        int x = (WIDTH - (width - gap)) / 2;
        final int y = 108;
        for (final Map.Entry<String, Color> entry : colors.entrySet())
        {
            g.setColor(entry.getValue());
            g.fillRect(x, y - swatch + 2, swatch, swatch);
            g.setColor(INK);
            g.drawString(entry.getKey(), x + swatch + 6, y);
            x += swatch + 6 + metrics.stringWidth(entry.getKey()) + gap;
        }
    }

    private static void drawLoadAxis(final Graphics2D g, final int xMax)
    {
        g.setFont(SMALL);
        for (int load = 0; load <= xMax; load += X_TICK_PERCENT)
        {
            final int x = x(load, xMax);
            g.setColor(GRID);
            g.drawLine(x, PLOT_TOP, x, PLOT_BOTTOM);
            g.setColor(MUTED);
            g.drawLine(x, PLOT_BOTTOM, x, PLOT_BOTTOM + 4);
            drawCentered(g, load + "", x, PLOT_BOTTOM + 18);
        }
        g.setColor(INK);
        g.setFont(GROUP_LABEL);
        drawCentered(g, "load, % of the backends' capacity", PLOT_LEFT + PLOT_WIDTH / 2, PLOT_BOTTOM + 40);
    }

    /** A policy's points in load order, joined; a run that answered nothing leaves a gap. */
    private static void drawLine(final Graphics2D g, final LogScale scale, final int xMax, final PolicyResults results,
        final String policy, final Color color)
    {
        g.setColor(color);
        g.setStroke(new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
        final List<PolicyRun> runs = results.runs().stream().filter(r -> r.policy().equals(policy))
            .sorted((a, b) -> Integer.compare(a.loadPercent(), b.loadPercent())).toList();
        int lastX = -1;
        int lastY = -1;
        for (final PolicyRun run : runs)
        {
            final double p99 = run.result().p99Ms();
            if (!Double.isFinite(p99) || p99 <= 0)
            {
                lastX = -1;
                continue;
            }
            final int x = x(run.loadPercent(), xMax);
            final int y = scale.y(Math.max(p99, scale.min()));
            if (lastX >= 0)
            {
                g.drawLine(lastX, lastY, x, y);
            }
            g.fillOval(x - MARKER / 2, y - MARKER / 2, MARKER, MARKER);
            lastX = x;
            lastY = y;
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static int x(final int load, final int xMax)
    {
        return PLOT_LEFT + (int)Math.round(PLOT_WIDTH * load / (double)xMax);
    }
}

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

import javax.imageio.ImageIO;

/** What the bench's charts share: colours, fonts, text placement and the log-scale axis, so they read alike. */
public final class ChartKit
{
    /** Tableau 10 without its grey, which marks a baseline so the other series read against it. */
    private static final int[] PALETTE = {
        0x4E79A7, 0xF28E2B, 0xE15759, 0x59A14F, 0x76B7B2, 0xB07AA1, 0xEDC948, 0xFF9DA7, 0x9C755F};
    public static final Color BASELINE_COLOR = new Color(0x8C8C8C);
    public static final Color INK = new Color(0x222222);
    public static final Color MUTED = new Color(0x666666);
    public static final Color GRID = new Color(0xE4E4E4);
    public static final Color WARNING = new Color(0xB22222);

    public static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 22);
    public static final Font SUBTITLE = new Font(Font.SANS_SERIF, Font.PLAIN, 14);
    public static final Font SMALL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    public static final Font PANEL_TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 15);
    public static final Font GROUP_LABEL = new Font(Font.SANS_SERIF, Font.BOLD, 13);
    public static final Font VALUE_LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 10);

    private ChartKit()
    {
    }

    /** The n-th colour of the palette, repeating after its last. */
    public static Color color(final int n)
    {
        return new Color(PALETTE[n % PALETTE.length]);
    }

    /** A white image with antialiasing on, ready to draw; the caller disposes of the graphics. */
    public static BufferedImage canvas(final int width, final int height)
    {
        // The bench runs on servers without a display; AWT reads this once, at its first use.
        System.setProperty("java.awt.headless", "true");
        final BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = image.createGraphics();
        try
        {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
        }
        finally
        {
            g.dispose();
        }
        return image;
    }

    /** Graphics on the image with antialiasing for shapes and text. */
    public static Graphics2D graphics(final BufferedImage image)
    {
        final Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        return g;
    }

    public static void writePng(final BufferedImage image, final Path file) throws IOException
    {
        if (!ImageIO.write(image, "png", file.toFile()))
        {
            throw new IOException("this JDK has no PNG writer");
        }
    }

    public static void drawCentered(final Graphics2D g, final String text, final int centreX, final int baseline)
    {
        g.drawString(text, centreX - g.getFontMetrics().stringWidth(text) / 2, baseline);
    }

    /** The text, cut short with an ellipsis if it is wider than {@code width} in the current font. */
    public static String fit(final Graphics2D g, final String text, final int width)
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

    /** A tick's value with at most 3 significant digits and no trailing zeros: 0.5, 20, 1000. */
    public static String tickLabel(final double tick)
    {
        return new BigDecimal(tick).round(new MathContext(3)).stripTrailingZeros().toPlainString();
    }

    /**
     * The y axis on a log scale: a labelled grid line per tick across the plot, the axis lines on the left and at
     * the bottom, and {@code title} rotated along the axis at {@code left}.
     */
    public static void drawLogAxis(final Graphics2D g, final LogScale scale, final int left, final int plotLeft,
        final int plotWidth, final String title)
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
        g.drawLine(plotLeft, scale.top(), plotLeft, scale.bottom());
        g.drawLine(plotLeft, scale.bottom(), plotLeft + plotWidth, scale.bottom());
        g.setStroke(new BasicStroke(1f));

        final AffineTransform unrotated = g.getTransform();
        g.rotate(-Math.PI / 2, left + 14, (scale.top() + scale.bottom()) / 2.0);
        drawCentered(g, title, left + 14, (scale.top() + scale.bottom()) / 2 + 4);
        g.setTransform(unrotated);
    }
}

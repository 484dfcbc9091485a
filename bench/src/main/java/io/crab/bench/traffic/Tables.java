package io.crab.bench.traffic;

import java.util.ArrayList;
import java.util.List;

/** Renders rows of cells (the first row the header) as aligned text, a markdown table or CSV, for every report. */
public final class Tables
{
    private Tables()
    {
    }

    /** Aligned plain text: the first {@code labelColumns} columns left-aligned, the figures after them right. */
    public static String text(final List<List<String>> rows, final int labelColumns)
    {
        final int[] widths = new int[rows.get(0).size()];
        for (final List<String> row : rows)
        {
            for (int column = 0; column < widths.length; column++)
            {
                widths[column] = Math.max(widths[column], row.get(column).length());
            }
        }
        final StringBuilder out = new StringBuilder();
        for (int i = 0; i < rows.size(); i++)
        {
            appendAligned(out, rows.get(i), widths, labelColumns);
            if (i == 0)
            {
                final List<String> rule = new ArrayList<>();
                for (final int width : widths)
                {
                    rule.add("-".repeat(width));
                }
                appendAligned(out, rule, widths, labelColumns);
            }
        }
        return out.toString();
    }

    private static void appendAligned(final StringBuilder out, final List<String> cells, final int[] widths,
        final int labelColumns)
    {
        final StringBuilder line = new StringBuilder();
        for (int column = 0; column < cells.size(); column++)
        {
            if (column > 0)
            {
                line.append("  ");
            }
            final String cell = cells.get(column);
            final String padding = " ".repeat(widths[column] - cell.length());
            line.append(column < labelColumns ? cell + padding : padding + cell);
        }
        out.append(line.toString().stripTrailing()).append('\n');
    }

    /** A GitHub-flavoured markdown table, labels left-aligned and figures right-aligned as in {@link #text}. */
    public static String markdown(final List<List<String>> rows, final int labelColumns)
    {
        final StringBuilder out = new StringBuilder();
        for (int i = 0; i < rows.size(); i++)
        {
            markdownRow(out, rows.get(i));
            if (i == 0)
            {
                out.append('|');
                for (int column = 0; column < rows.get(0).size(); column++)
                {
                    out.append(column < labelColumns ? " --- |" : " ---: |");
                }
                out.append('\n');
            }
        }
        return out.toString();
    }

    /** One markdown row; a pipe or a line break in a cell (a reason may hold anything) would end the cell or table. */
    public static void markdownRow(final StringBuilder out, final List<String> cells)
    {
        out.append('|');
        for (final String cell : cells)
        {
            out.append(' ').append(cell.replace("|", "\\|").replaceAll("\\R", " ")).append(" |");
        }
        out.append('\n');
    }

    /** One CSV line (RFC 4180). */
    public static void csvRow(final StringBuilder out, final List<String> cells)
    {
        for (int i = 0; i < cells.size(); i++)
        {
            if (i > 0)
            {
                out.append(',');
            }
            out.append(csvField(cells.get(i)));
        }
        out.append('\n');
    }

    /** A CSV field, quoted when it holds a comma, a quote or a line break. */
    public static String csvField(final String value)
    {
        final boolean plain = value.chars().noneMatch(c -> c == ',' || c == '"' || c == '\n' || c == '\r');
        return plain ? value : '"' + value.replace("\"", "\"\"") + '"';
    }
}

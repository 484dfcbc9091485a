package io.crab.bench.traffic;

import java.util.ArrayList;
import java.util.List;

/** Renders rows of cells as an aligned plain-text table: header, a rule, then the rows. */
public final class TextTable
{
    private TextTable()
    {
    }

    /** The first {@code labelColumns} columns are left-aligned, the figures after them right-aligned. */
    public static String render(final List<List<String>> rows, final int labelColumns)
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
}

package io.crab.bench.results;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The files {@link ResultsWriter#write} produced.
 *
 * @param markdown results.md, the report for people
 * @param csv      results.csv, every figure for scripts
 * @param chart    latency.png, the percentiles per mode
 */
public record ResultFiles(Path markdown, Path csv, Path chart)
{
    public ResultFiles
    {
        Objects.requireNonNull(markdown, "markdown");
        Objects.requireNonNull(csv, "csv");
        Objects.requireNonNull(chart, "chart");
    }

    /** All three, in the order they are written. */
    public List<Path> all()
    {
        return List.of(markdown, csv, chart);
    }
}

package io.crab.bench.results;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * The machine a benchmark ran on, as printed with its results; any field that cannot be read is "unknown".
 *
 * @param kernel   kernel release, as {@code uname -r} prints it
 * @param cpuModel the first CPU's model name
 * @param cpus     processors available to the JVM
 * @param memory   total memory, e.g. "15.6 GiB"
 * @param jdk      JVM name and Java version
 * @param os       distribution name, e.g. "Debian GNU/Linux 12 (bookworm)"
 * @param hostname the kernel's host name
 */
public record MachineInfo(
    String kernel,
    String cpuModel,
    int cpus,
    String memory,
    String jdk,
    String os,
    String hostname)
{
    public static final String UNKNOWN = "unknown";

    private static final double KIB_PER_GIB = 1024.0 * 1024.0;

    public MachineInfo
    {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(cpuModel, "cpuModel");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(jdk, "jdk");
        Objects.requireNonNull(os, "os");
        Objects.requireNonNull(hostname, "hostname");
    }

    /** Describes this machine from /proc, /etc/os-release and the JVM; never throws for a missing or odd file. */
    public static MachineInfo detect()
    {
        return detect(Path.of("/"));
    }

    /** As {@link #detect()}, reading proc and etc files under {@code root}, so tests can supply their own. */
    static MachineInfo detect(final Path root)
    {
        return new MachineInfo(
            firstLine(root.resolve("proc/sys/kernel/osrelease")).orElse(UNKNOWN),
            field(root.resolve("proc/cpuinfo"), "model name", ':').orElse(UNKNOWN),
            Runtime.getRuntime().availableProcessors(),
            field(root.resolve("proc/meminfo"), "MemTotal", ':').flatMap(MachineInfo::gibibytes).orElse(UNKNOWN),
            runningJdk(),
            field(root.resolve("etc/os-release"), "PRETTY_NAME", '=').map(MachineInfo::unquote).orElse(UNKNOWN),
            firstLine(root.resolve("proc/sys/kernel/hostname")).orElse(UNKNOWN));
    }

    /** One line for the chart's title, e.g. "Debian GNU/Linux 12, kernel 6.1.0-18-amd64, 8 x Intel Xeon, 15.6 GiB". */
    public String summary()
    {
        return String.format(Locale.ROOT, "%s, kernel %s, %d x %s, %s, %s", os, kernel, cpus, cpuModel, memory, jdk);
    }

    /** The "Machine" section of a results README, a heading and one line per fact. */
    public String markdown()
    {
        return "## Machine\n\n" +
            "- OS: " + os + '\n' +
            "- Kernel: " + kernel + '\n' +
            "- CPU: " + cpus + " x " + cpuModel + '\n' +
            "- Memory: " + memory + '\n' +
            "- JDK: " + jdk + '\n' +
            "- Host: " + hostname + "\n\n";
    }

    private static String runningJdk()
    {
        final String vm = System.getProperty("java.vm.name", UNKNOWN);
        final String version = System.getProperty("java.version", UNKNOWN);
        return vm + " " + version;
    }

    private static Optional<String> firstLine(final Path file)
    {
        return lines(file).stream().map(String::strip).filter(line -> !line.isEmpty()).findFirst();
    }

    /** The value of the first "key<separator>value" line, e.g. "model name\t: Intel..." in /proc/cpuinfo. */
    private static Optional<String> field(final Path file, final String key, final char separator)
    {
        for (final String line : lines(file))
        {
            final int at = line.indexOf(separator);
            if (at > 0 && line.substring(0, at).strip().equals(key))
            {
                final String value = line.substring(at + 1).strip();
                return value.isEmpty() ? Optional.empty() : Optional.of(value);
            }
        }
        return Optional.empty();
    }

    private static List<String> lines(final Path file)
    {
        try
        {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final IOException | RuntimeException unreadable)
        {
            // A description of the machine is a courtesy; a container without /proc must not cost the results.
            return List.of();
        }
    }

    /** "16318400 kB" as "15.6 GiB"; empty if it is not in that form. */
    private static Optional<String> gibibytes(final String memTotal)
    {
        final String[] parts = memTotal.split("\\s+");
        if (parts.length != 2 || !parts[1].equalsIgnoreCase("kB"))
        {
            return Optional.empty();
        }
        try
        {
            return Optional.of(String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(parts[0]) / KIB_PER_GIB));
        }
        catch (final NumberFormatException notANumber)
        {
            return Optional.empty();
        }
    }

    private static String unquote(final String value)
    {
        final boolean quoted = value.length() >= 2
            && (value.charAt(0) == '"' || value.charAt(0) == '\'')
            && value.charAt(value.length() - 1) == value.charAt(0);
        if (quoted)
        {
            return value.substring(1, value.length() - 1);
        }
        return value;
    }
}

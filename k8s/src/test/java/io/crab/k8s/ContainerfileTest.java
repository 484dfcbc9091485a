package io.crab.k8s;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The image's recipe, {@code k8s/deploy/Containerfile}, against the checkout: it copies only files of the checkout
 * and jars the build writes (no container runtime here to build it), each command it writes runs a main class
 * from a jar copied beside its launcher, the same class {@code ./crab install} gives that command, and the
 * DaemonSets' command is one of them.
 */
final class ContainerfileTest
{
    /** The checkout; the tests run in the module's directory. */
    private static final Path CHECKOUT = Path.of("").toAbsolutePath().getParent();
    private static final Path CONTAINERFILE = Path.of("deploy", "Containerfile");
    private static final String BUILD_OUTPUT = "/target/";
    /** A command the image writes, as {@code printf '#!/bin/sh\nexec DIR/launch NAME MAIN "$@"\n' >BINDIR/NAME}. */
    private static final Pattern COMMAND =
        Pattern.compile("exec (/\\S+)/launch (\\S+) (\\S+) \"\\$@\"\\\\n' *>(/usr/local/bin/\\S+)");
    /** {@code ./crab install}'s commands, {@code NAME:MAIN_CLASS} each. */
    private static final Pattern INSTALLED_COMMANDS = Pattern.compile("(?m)^COMMANDS=\\(([^)]*)\\)");

    private static List<String[]> instructions;

    @BeforeAll
    static void parse() throws IOException
    {
        instructions = instructions(Files.readAllLines(CONTAINERFILE));
    }

    @Test
    void fromDebianSlimWithItsJavaAndLibbpf()
    {
        final List<String[]> from = named("FROM");
        assertEquals(1, from.size(), "one stage");
        // The release's own Java, 17 or newer: Debian 12 has 17, Debian 13 only 21.
        final Map<String, String> javaOf = Map.of("debian:bookworm-slim", "openjdk-17-jre-headless",
            "debian:trixie-slim", "openjdk-21-jre-headless");
        final String base = from.get(0)[1];
        assertTrue(javaOf.containsKey(base), "Debian 12 or 13 slim: " + base);
        final String run = String.join(" ", named("RUN").get(0));
        // libbpf1: the library jnr-ffi loads, as libbpf.so.1.
        assertTrue(run.contains(javaOf.get(base)) && run.contains("libbpf1"), run);
    }

    @Test
    void copiesOnlyCheckoutFilesAndWhatTheBuildWrites() throws IOException
    {
        final String modules = Files.readString(CHECKOUT.resolve("pom.xml"));
        final List<String> sources = new ArrayList<>();
        for (final String[] copy : named("COPY"))
        {
            final List<String> args = Arrays.asList(copy).subList(1, copy.length);
            assertFalse(args.get(0).startsWith("--") || args.get(0).startsWith("["),
                "plain COPY SRC... DEST, no stages or JSON form: " + String.join(" ", copy));
            assertTrue(args.size() >= 2, String.join(" ", copy));
            sources.addAll(args.subList(0, args.size() - 1));
        }
        assertFalse(sources.isEmpty());
        for (final String source : sources)
        {
            assertFalse(source.startsWith("/") || source.contains("..") || source.matches(".*[*?\\[].*"),
                source + ": a path inside the checkout, no pattern");
            final int output = source.indexOf(BUILD_OUTPUT);
            if (output < 0)
            {
                assertTrue(Files.isRegularFile(CHECKOUT.resolve(source)), source + " is a file of the checkout");
                continue;
            }
            final String module = source.substring(0, output);
            final String jar = source.substring(output + BUILD_OUTPUT.length());
            assertTrue(modules.contains("<module>" + module + "</module>"), source + ": " + module + " is a module");
            final String pom = Files.readString(CHECKOUT.resolve(module).resolve("pom.xml"));
            assertTrue(pom.contains("<outputFile>${project.build.directory}/" + jar + "</outputFile>"),
                source + ": " + module + "/pom.xml writes " + jar + " (a shade outputFile)");
        }
    }

    @Test
    void eachCommandRunsItsMainClassFromAJarBesideItsLauncher() throws IOException
    {
        final Set<String> copied = copiedFiles();
        final Set<String> executable = madeExecutable();
        final Map<String, String> installed = installedCommands();
        final Map<String, String> written = new HashMap<>();
        for (final String[] run : named("RUN"))
        {
            final Matcher command = COMMAND.matcher(String.join(" ", run));
            while (command.find())
            {
                final String dir = command.group(1);
                final String name = command.group(2);
                final String main = command.group(3);
                assertEquals("/usr/local/bin/" + name, command.group(4), "the command is written under its name");
                // launch runs MAIN from the crab.jar in its own directory.
                assertTrue(copied.contains(dir + "/launch"), name + ": " + dir + "/launch is copied");
                assertTrue(copied.contains(dir + "/crab.jar"), name + ": " + dir + "/crab.jar is copied");
                // COPY keeps the checkout's mode, and git keeps packaging/launch as 644.
                assertTrue(executable.contains(dir + "/launch"), name + ": " + dir + "/launch is made executable");
                assertTrue(executable.contains(command.group(4)), name + ": " + command.group(4) + " is executable");
                if (installed.containsKey(name))
                {
                    assertEquals(installed.get(name), main, name + " runs what ./crab install runs for it");
                }
                written.put(name, main);
            }
        }
        assertTrue(written.keySet().containsAll(Set.of("crab-k8s", "crab-lb", "crab-endpoint")), written.toString());
        final List<String[]> entrypoint = named("ENTRYPOINT");
        assertEquals(1, entrypoint.size());
        assertEquals("[\"/usr/local/bin/crab-k8s\"]", entrypoint.get(0)[1]);
    }

    @Test
    void theDaemonSetsRunACommandOfTheImage() throws IOException
    {
        final String recipe = Files.readString(CONTAINERFILE);
        final Set<String> commands = new HashSet<>();
        for (final Path file : Manifests.files(Path.of("deploy")))
        {
            for (final Manifests.Document document : Manifests.read(file))
            {
                if (document.object() instanceof DaemonSet daemonSet)
                {
                    daemonSet.getSpec().getTemplate().getSpec().getContainers()
                        .forEach(container -> commands.add(container.getCommand().get(0)));
                }
            }
        }
        assertFalse(commands.isEmpty());
        for (final String command : commands)
        {
            // On the image's PATH (/usr/local/bin is on Debian's default PATH).
            assertTrue(recipe.contains(">/usr/local/bin/" + command), command + " is written by the Containerfile");
        }
    }

    /** Every file the COPY instructions put in the image, by its path there. */
    private static Set<String> copiedFiles()
    {
        final Set<String> files = new HashSet<>();
        for (final String[] copy : named("COPY"))
        {
            final String dest = copy[copy.length - 1];
            for (int i = 1; i < copy.length - 1; i++)
            {
                final String source = copy[i];
                files.add(dest.endsWith("/") ? dest + source.substring(source.lastIndexOf('/') + 1) : dest);
            }
        }
        return files;
    }

    /** The paths a RUN's {@code chmod 755 PATH...} makes executable. */
    private static Set<String> madeExecutable()
    {
        final Set<String> paths = new HashSet<>();
        for (final String[] run : named("RUN"))
        {
            for (int i = 1; i + 1 < run.length; i++)
            {
                if (run[i].equals("chmod") && run[i + 1].equals("755"))
                {
                    for (int j = i + 2; j < run.length && run[j].startsWith("/"); j++)
                    {
                        paths.add(run[j]);
                    }
                }
            }
        }
        return paths;
    }

    private static Map<String, String> installedCommands() throws IOException
    {
        final Matcher commands = INSTALLED_COMMANDS.matcher(Files.readString(CHECKOUT.resolve("crab")));
        assertTrue(commands.find(), "./crab lists the commands it installs");
        final Map<String, String> byName = new HashMap<>();
        for (final String command : commands.group(1).trim().split("\\s+"))
        {
            final int colon = command.indexOf(':');
            byName.put(command.substring(0, colon), command.substring(colon + 1));
        }
        return byName;
    }

    private static List<String[]> named(final String instruction)
    {
        return instructions.stream().filter(i -> i[0].equals(instruction)).toList();
    }

    /**
     * The instructions, each as its words: continuation lines joined, comment lines (also those inside a
     * continued instruction, which the builders drop too) and blank lines left out.
     */
    private static List<String[]> instructions(final List<String> lines)
    {
        final List<String[]> instructions = new ArrayList<>();
        final StringBuilder current = new StringBuilder();
        for (final String line : lines)
        {
            final String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#"))
            {
                continue;
            }
            if (trimmed.endsWith("\\"))
            {
                current.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            current.append(trimmed);
            instructions.add(current.toString().strip().split("\\s+"));
            current.setLength(0);
        }
        assertEquals(0, current.length(), "the last instruction is not left continued");
        return instructions;
    }
}

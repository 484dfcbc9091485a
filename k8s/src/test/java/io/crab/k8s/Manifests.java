package io.crab.k8s;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Kubernetes manifests read the way the cluster would read them, with fabric8's own serialization into its typed
 * model, and what in them that model does not know: a kind it has no class for, or a field none of its classes has
 * (which Jackson puts in the object's {@code additionalProperties} instead of failing), so that a typo is found
 * here and not by {@code kubectl apply --validate}.
 */
final class Manifests
{
    /** What {@code kubectl apply -f DIR} reads from a directory; it skips every other file. */
    private static final List<String> KUBECTL_EXTENSIONS = List.of(".yaml", ".yml", ".json");

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** One object of a manifest file, with where it came from. */
    record Document(Path file, int index, HasMetadata object)
    {
        @Override
        public String toString()
        {
            return file.getFileName() + " #" + (index + 1) + " " + object.getKind() + " " +
                object.getMetadata().getName();
        }
    }

    private Manifests()
    {
    }

    /** The manifest files of a directory that {@code kubectl apply -f DIR} applies, in the order it applies them. */
    static List<Path> files(final Path dir) throws IOException
    {
        try (Stream<Path> entries = Files.list(dir))
        {
            return entries
                .filter(p -> Files.isRegularFile(p) && KUBECTL_EXTENSIONS.stream().anyMatch(
                    e -> p.getFileName().toString().endsWith(e)))
                .sorted()
                .toList();
        }
    }

    /** Every object of a file, one per YAML document (a {@code List} gives its items). */
    static List<Document> read(final Path file) throws IOException
    {
        final Object parsed;
        try (InputStream in = Files.newInputStream(file))
        {
            parsed = SERIALIZATION.unmarshal(in);
        }
        final List<Object> objects = new ArrayList<>();
        if (parsed instanceof Collection<?> documents)
        {
            objects.addAll(documents);
        }
        else if (parsed != null)
        {
            objects.add(parsed);
        }
        final List<Document> documents = new ArrayList<>();
        for (final Object object : objects)
        {
            if (object instanceof KubernetesList list)
            {
                list.getItems().forEach(item -> documents.add(new Document(file, documents.size(), item)));
            }
            else if (object instanceof HasMetadata resource)
            {
                documents.add(new Document(file, documents.size(), resource));
            }
            else
            {
                throw new IllegalArgumentException(file + ": a document that is not a Kubernetes object: " +
                    object.getClass().getName());
            }
        }
        return documents;
    }

    /** What the typed model did not take in: an unknown kind, or each field it has no place for, by its path. */
    static List<String> problems(final KubernetesResource object)
    {
        final List<String> problems = new ArrayList<>();
        if (object instanceof GenericKubernetesResource generic)
        {
            problems.add("no model class for apiVersion " + generic.getApiVersion() + " kind " + generic.getKind());
            return problems;
        }
        walk(object, "", problems);
        return problems;
    }

    private static void walk(final Object value, final String path, final List<String> problems)
    {
        if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean ||
            value instanceof Enum<?>)
        {
            return;
        }
        if (value instanceof Collection<?> items)
        {
            int i = 0;
            for (final Object item : items)
            {
                walk(item, path + "[" + i++ + "]", problems);
            }
            return;
        }
        if (value instanceof Map<?, ?> map)
        {
            map.forEach((key, item) -> walk(item, path + "." + key, problems));
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.kubernetes."))
        {
            problems.add(path + ": a " + value.getClass().getName() + ", which is not of the model");
            return;
        }
        for (Class<?> type = value.getClass(); type != Object.class; type = type.getSuperclass())
        {
            for (final Field field : type.getDeclaredFields())
            {
                if (Modifier.isStatic(field.getModifiers()))
                {
                    continue;
                }
                final Object fieldValue = read(field, value);
                if (field.getName().equals("additionalProperties"))
                {
                    if (fieldValue instanceof Map<?, ?> unknown && !unknown.isEmpty())
                    {
                        problems.add((path.isEmpty() ? "." : path) + ": unknown field(s) " + unknown.keySet());
                    }
                    continue;
                }
                walk(fieldValue, path + "." + field.getName(), problems);
            }
        }
    }

    private static Object read(final Field field, final Object owner)
    {
        try
        {
            field.setAccessible(true);
            return field.get(owner);
        }
        catch (final IllegalAccessException ex)
        {
            throw new IllegalStateException("cannot read " + field, ex);
        }
    }
}

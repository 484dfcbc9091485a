package io.crab.agent.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.Metric;
import com.codahale.metrics.MetricRegistry;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A dropwizard registry as Prometheus metric families: each scrape first asks {@code source} for the registry
 * brought up to date (the daemons' sources read their pinned maps then), then turns every gauge that belongs to one
 * of the families into a sample of it, labelled from its name. Gauges of no family are left out.
 * <p>
 * Which family and labels a name gives is worked out once per name and kept while the name is registered, so a
 * scrape of an unchanged registry matches no pattern and builds no label; what it allocates is the snapshot the
 * exposition writes. Scrapes must not overlap: {@link MetricsServer} serves them on one thread.
 */
public final class RegistryCollector implements MultiCollector
{
    /** Where a gauge's value goes: a family (by index), the sample's labels and, for an info family, its label. */
    private record Sample(int family, Labels labels, String infoLabel)
    {
    }

    private static final Sample OUTSIDE = new Sample(-1, Labels.EMPTY, null);

    private final Supplier<MetricRegistry> source;
    private final List<MetricFamily> families;
    private final Map<String, Sample> samples = new HashMap<>();

    /** {@code families} are tried in order: the first whose pattern matches a name takes it. */
    public RegistryCollector(final Supplier<MetricRegistry> source, final List<MetricFamily> families)
    {
        this.source = source;
        this.families = List.copyOf(families);
    }

    @Override
    public MetricSnapshots collect()
    {
        final MetricRegistry registry = source.get();
        final CounterSnapshot.Builder[] counters = new CounterSnapshot.Builder[families.size()];
        final GaugeSnapshot.Builder[] gauges = new GaugeSnapshot.Builder[families.size()];
        final List<Map<Labels, Map<String, String>>> infos = new ArrayList<>(families.size());
        for (int i = 0; i < families.size(); i++)
        {
            final MetricFamily family = families.get(i);
            switch (family.type())
            {
                case COUNTER -> counters[i] = CounterSnapshot.builder().name(family.name()).help(family.help());
                case GAUGE -> gauges[i] = GaugeSnapshot.builder().name(family.name()).help(family.help());
                case INFO -> { }
                default -> throw new IllegalStateException(family.type().toString());
            }
            infos.add(family.type() == MetricFamily.Type.INFO ? new HashMap<>() : Map.of());
        }
        final Map<String, Metric> metrics = registry.getMetrics();
        for (final Map.Entry<String, Metric> entry : metrics.entrySet())
        {
            if (!(entry.getValue() instanceof Gauge<?> gauge))
            {
                continue;
            }
            final Sample sample = samples.computeIfAbsent(entry.getKey(), this::resolve);
            if (sample == OUTSIDE)
            {
                continue;
            }
            final int i = sample.family();
            final MetricFamily family = families.get(i);
            final Object value = gauge.getValue();
            if (family.type() == MetricFamily.Type.INFO)
            {
                if (value != null)
                {
                    infos.get(i).computeIfAbsent(sample.labels(), l -> new HashMap<>())
                        .put(sample.infoLabel(), value.toString());
                }
            }
            else if (value instanceof Number number && !(family.isAbsentWhenNegative() && number.doubleValue() < 0))
            {
                final double scaled = number.doubleValue() * family.scale();
                if (counters[i] != null)
                {
                    counters[i].dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                        .labels(sample.labels()).value(scaled).build());
                }
                else
                {
                    gauges[i].dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                        .labels(sample.labels()).value(scaled).build());
                }
            }
        }
        if (samples.size() > metrics.size())
        {
            samples.keySet().retainAll(metrics.keySet());
        }
        final MetricSnapshots.Builder snapshots = MetricSnapshots.builder();
        for (int i = 0; i < families.size(); i++)
        {
            if (counters[i] != null)
            {
                snapshots.metricSnapshot(counters[i].build());
            }
            else if (gauges[i] != null)
            {
                snapshots.metricSnapshot(gauges[i].build());
            }
            else
            {
                snapshots.metricSnapshot(info(families.get(i), infos.get(i)));
            }
        }
        return snapshots.build();
    }

    /** One sample per key (the pattern's labels), with the info labels its string gauges gave, in family order. */
    private static InfoSnapshot info(final MetricFamily family, final Map<Labels, Map<String, String>> byKey)
    {
        final InfoSnapshot.Builder info = InfoSnapshot.builder().name(family.name()).help(family.help());
        byKey.forEach((key, values) ->
        {
            Labels labels = key;
            for (final String infoLabel : family.infoLabels())
            {
                if (values.containsKey(infoLabel))
                {
                    labels = labels.add(infoLabel, values.get(infoLabel));
                }
            }
            info.dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(labels).build());
        });
        return info.build();
    }

    /** The family a dropwizard name belongs to, and the labels it gives; {@link #OUTSIDE} when none. */
    private Sample resolve(final String dropwizardName)
    {
        for (int i = 0; i < families.size(); i++)
        {
            final MetricFamily family = families.get(i);
            final String[] values = family.match(dropwizardName);
            if (values != null)
            {
                final List<String> labelValues = List.of(values).subList(0, family.labels().size());
                return new Sample(i, Labels.of(family.labels(), labelValues),
                    family.type() == MetricFamily.Type.INFO ? values[values.length - 1] : null);
            }
        }
        return OUTSIDE;
    }
}

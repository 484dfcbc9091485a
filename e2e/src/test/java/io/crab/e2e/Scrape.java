package io.crab.e2e;

import io.crab.rig.Host;
import io.prometheus.metrics.expositionformats.generated.Metrics;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A daemon's {@code /metrics} as Prometheus scrapes it, from inside a host's namespace, in the protobuf exposition
 * and read with the Prometheus library's own classes. The request is written on a plain socket made in that
 * namespace, so no connection is kept and reused from another namespace.
 */
record Scrape(Map<String, Metrics.MetricFamily> families)
{
    private static final String PROTOBUF = "application/vnd.google.protobuf;" +
        "proto=io.prometheus.client.MetricFamily;encoding=delimited";

    static Scrape of(final Host from, final InetSocketAddress endpoint)
    {
        final byte[] response = from.netns().call(() ->
        {
            try (Socket socket = new Socket())
            {
                socket.connect(endpoint, 3000);
                socket.setSoTimeout(5000);
                final OutputStream out = socket.getOutputStream();
                out.write(("GET /metrics HTTP/1.0\r\nAccept: " + PROTOBUF + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                return socket.getInputStream().readAllBytes();
            }
        });
        int bodyAt = 0;
        while (bodyAt + 4 <= response.length && !(response[bodyAt] == '\r' && response[bodyAt + 1] == '\n' &&
            response[bodyAt + 2] == '\r' && response[bodyAt + 3] == '\n'))
        {
            bodyAt++;
        }
        final String head = new String(response, 0, bodyAt, StandardCharsets.US_ASCII);
        assertTrue(head.startsWith("HTTP/1.1 200"), "scraping " + endpoint + " from " + from + ":\n" + head);
        assertTrue(head.toLowerCase().contains("content-type: application/vnd.google.protobuf"), head);
        final Map<String, Metrics.MetricFamily> families = new HashMap<>();
        try (InputStream body = new ByteArrayInputStream(response, bodyAt + 4, response.length - bodyAt - 4))
        {
            Metrics.MetricFamily family;
            while ((family = Metrics.MetricFamily.parseDelimitedFrom(body)) != null)
            {
                families.put(family.getName(), family);
            }
        }
        catch (final IOException ex)
        {
            throw new AssertionError("a scrape of " + endpoint + " that the protobuf classes cannot read", ex);
        }
        return new Scrape(families);
    }

    /** The family by its exposed name (a counter's with {@code _total}); it must be there. */
    Metrics.MetricFamily family(final String name)
    {
        final Metrics.MetricFamily family = families.get(name);
        assertNotNull(family, name + " is not among " + families.keySet());
        return family;
    }

    /** The samples of a family; 0 when it has none (the exposition leaves out a family without samples). */
    int samples(final String name)
    {
        final Metrics.MetricFamily family = families.get(name);
        return family == null ? 0 : family.getMetricCount();
    }

    /** The value of the one sample of {@code name} whose labels are exactly {@code labels} (name, value, ...). */
    double value(final String name, final String... labels)
    {
        final Map<String, String> wanted = new HashMap<>();
        for (int i = 0; i < labels.length; i += 2)
        {
            wanted.put(labels[i], labels[i + 1]);
        }
        final Metrics.MetricFamily family = family(name);
        final List<Metrics.Metric> matching = family.getMetricList().stream().filter(m ->
        {
            final Map<String, String> has = new HashMap<>();
            m.getLabelList().forEach(l -> has.put(l.getName(), l.getValue()));
            return has.equals(wanted);
        }).toList();
        assertEquals(1, matching.size(), "one sample of " + name + " with " + wanted + " in " + family);
        final Metrics.Metric metric = matching.get(0);
        return family.getType() == Metrics.MetricType.COUNTER ? metric.getCounter().getValue() :
            metric.getGauge().getValue();
    }
}

package io.crab.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One event per line, with an ISO-8601 UTC timestamp and a level, as text or as a JSON object. */
class LogTest
{
    /** 2026-11-26T12:00:00.123Z */
    private static final long NOW_MS = 1_795_694_400_123L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final StringWriter sink = new StringWriter();

    @Test
    void textIsTimestampLevelComponentAndMessage()
    {
        final Log log = log(Log.Format.TEXT, false);
        log.info("ready on eth0: web 198.19.0.1:80", "iface", "eth0");
        log.warn("reload refused (1 so far), nothing changed: backends.txt:3: weight must be 1..100, got '0'");
        log.forComponent("crab-lb feedback receiver").error("error in the duty cycle, retried", new IllegalStateException("x"));
        assertEquals(List.of(
            "2026-11-26T12:00:00.123Z INFO crab-lb: ready on eth0: web 198.19.0.1:80",
            "2026-11-26T12:00:00.123Z WARN crab-lb: reload refused (1 so far), nothing changed: backends.txt:3: " +
                "weight must be 1..100, got '0'",
            "2026-11-26T12:00:00.123Z ERROR crab-lb feedback receiver: error in the duty cycle, retried"),
            sink.toString().lines().toList());
    }

    @Test
    void everyJsonLineParsesWithTsLevelComponentMsgAndFields() throws Exception
    {
        final Log log = log(Log.Format.JSON, false);
        log.info("ready on eth0");
        log.info("reload 3: service web: backend 198.18.0.101 weight 1 -> 3", "reload", 3L, "change",
            "service web: backend 198.18.0.101 weight 1 -> 3", "signed", false);
        log.warn("odd \"quotes\", a back\\slash, a tab\t, a newline\n and \u0001 and \u2028", "pins",
            Path.of("/sys/fs/bpf/crab-lb-1-eth0"), "none", null);
        log.error("failed", new IllegalStateException("hidden without --verbose"));

        final List<String> lines = sink.toString().lines().toList();
        assertEquals(4, lines.size(), sink.toString());
        for (final String line : lines)
        {
            final JsonNode event = JSON.readTree(line);
            assertEquals("2026-11-26T12:00:00.123Z", event.get("ts").asText(), line);
            assertTrue(List.of("INFO", "WARN", "ERROR").contains(event.get("level").asText()), line);
            assertEquals("crab-lb", event.get("component").asText(), line);
            assertTrue(event.get("msg").isTextual(), line);
        }
        final JsonNode reload = JSON.readTree(lines.get(1));
        assertEquals(3, reload.get("reload").asInt());
        assertTrue(reload.get("reload").isNumber() && reload.get("signed").isBoolean(), lines.get(1));
        final JsonNode odd = JSON.readTree(lines.get(2));
        assertEquals("odd \"quotes\", a back\\slash, a tab\t, a newline\n and \u0001 and \u2028", odd.get("msg").asText());
        assertEquals("/sys/fs/bpf/crab-lb-1-eth0", odd.get("pins").asText());
        assertTrue(odd.get("none").isNull());
        assertFalse(JSON.readTree(lines.get(3)).has("trace"), "no trace without --verbose");
    }

    @Test
    void verboseAddsTheStackTraceAfterTheLineOrAsAField() throws Exception
    {
        log(Log.Format.TEXT, true).error("failed", new IllegalStateException("the cause"));
        final List<String> text = sink.toString().lines().toList();
        assertEquals("2026-11-26T12:00:00.123Z ERROR crab-lb: failed", text.get(0));
        assertEquals("java.lang.IllegalStateException: the cause", text.get(1));
        assertTrue(text.get(2).strip().startsWith("at io.crab.agent.LogTest."), text.get(2));

        final StringWriter json = new StringWriter();
        new Log("crab-lb", Log.Format.JSON, true, new PrintWriter(json), () -> NOW_MS)
            .error("failed", new IllegalStateException("the cause"));
        assertEquals(1, json.toString().lines().count(), "a JSON event stays one line: " + json);
        assertTrue(JSON.readTree(json.toString()).get("trace").asText()
            .startsWith("java.lang.IllegalStateException: the cause"), json.toString());
    }

    @Test
    void aFatalLineIsBareTextOrAJsonErrorEvent() throws Exception
    {
        log(Log.Format.TEXT, false).fatal("--policy: unknown policy 'foo'", new IllegalStateException("x"));
        assertEquals("crab-lb: --policy: unknown policy 'foo'\n", sink.toString().replace(System.lineSeparator(), "\n"));

        final StringWriter json = new StringWriter();
        new Log("crab-lb", Log.Format.JSON, false, new PrintWriter(json), () -> NOW_MS).fatal("bad", null);
        final JsonNode event = JSON.readTree(json.toString());
        assertEquals("ERROR", event.get("level").asText());
        assertEquals("bad", event.get("msg").asText());
    }

    private Log log(final Log.Format format, final boolean verbose)
    {
        return new Log("crab-lb", format, verbose, new PrintWriter(sink), () -> NOW_MS);
    }
}

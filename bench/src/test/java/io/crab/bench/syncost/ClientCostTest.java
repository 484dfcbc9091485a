package io.crab.bench.syncost;

import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** crab-bench client-cost on a few samples: every packet kind took its path (or measure would have thrown). */
@ExtendWith(KernelRequired.class)
class ClientCostTest
{
    @Test
    void measuresEveryPacketKindOnItsExpectedPath()
    {
        final List<String> progress = new ArrayList<>();
        final String report = ClientCost.measure(50, progress::add);

        assertEquals(6, progress.size(), String.join("\n", progress));
        assertTrue(report.contains("| data to the VIP, redirected flow | crab_client_egress | 7 |"), report);
        assertTrue(report.contains("| data of a direct connection (no flow) | crab_client_ingress | -1 |"), report);
    }

    @Test
    void refusesNoSamples()
    {
        assertThrows(IllegalArgumentException.class, () -> ClientCost.measure(0, line ->
        {
        }));
    }
}

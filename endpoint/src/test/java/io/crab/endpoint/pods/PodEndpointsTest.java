package io.crab.endpoint.pods;

import io.crab.agent.HostPort;
import io.crab.agent.Log;
import io.crab.agent.PinnedDatapath;
import io.crab.agent.Pins;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.PinnedMap;
import io.crab.bpf.testing.KernelRequired;
import io.crab.endpoint.EndpointAgent;
import io.crab.endpoint.EndpointAgent.Role;
import io.crab.rig.NetnsDir;
import org.agrona.concurrent.SystemEpochClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The pods manager on real namespaces bound in a directory of their own, each with an eth0: it attaches both
 * roles once a pod has its interface and the VIPs are known, writes new VIPs live, lets a pod's pins go with its
 * file, takes its predecessor's pods over, and retries a pod that fails without holding the others up. The
 * traffic through the attached programs is {@code e2e/PodEndpointsEndToEndTest}'s.
 */
@ExtendWith(KernelRequired.class)
class PodEndpointsTest
{
    private static final String IFACE = "eth0";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final HostPort VIP_A = HostPort.parse("198.19.0.1:80");
    private static final HostPort VIP_B = HostPort.parse("198.19.0.2:443");
    private static final HostPort VIP_ALL_PORTS = HostPort.parse("198.19.0.3");

    private NetnsDir netnsDir;
    private Path stateDir;
    private final StringWriter logText = new StringWriter();
    private final List<Throwable> errors = new ArrayList<>();
    private PodEndpoints manager;

    @BeforeEach
    void setUp()
    {
        netnsDir = NetnsDir.create();
        stateDir = Pins.BPFFS.resolve("crab-podtest-" + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
    }

    @AfterEach
    void tearDown()
    {
        try
        {
            if (manager != null)
            {
                manager.onClose();
            }
            // Only namespaces still held here: a removed one's inode may be another's by now.
            for (final String name : netnsDir.names())
            {
                PinnedDatapath.detach(EndpointAgent.pinDir(Role.CLIENT, netnsDir.inode(name), IFACE));
                PinnedDatapath.detach(EndpointAgent.pinDir(Role.SERVER, netnsDir.inode(name), IFACE));
            }
            Pins.remove(stateDir);
        }
        finally
        {
            netnsDir.close();
        }
    }

    @Test
    void attachesBothRolesOnceThePodHasItsInterfaceAndTheVipsAreKnownAndGivesNewVipsLive() throws IOException
    {
        netnsDir.add("pod-a");
        netnsDir.addInterface("pod-a", IFACE);
        netnsDir.add("pod-b");
        manager = start();

        runFor(Duration.ofMillis(300));
        assertEquals(Set.of(), manager.attached(), "nothing before the VIPs are known");

        manager.vips(Set.of(VIP_A));
        runUntil(() -> manager.attached().contains("pod-a"), "pod-a attached");
        for (final Role role : Role.values())
        {
            final Path dir = EndpointAgent.pinDir(role, netnsDir.inode("pod-a"), IFACE);
            assertTrue(Files.exists(PinnedDatapath.linkPin(dir, "tc_ingress")), role + " ingress pinned in " + dir);
            assertTrue(Files.exists(PinnedDatapath.linkPin(dir, "tc_egress")), role + " egress pinned in " + dir);
        }
        assertEquals(Set.of(VIP_A), clientVips("pod-a"));
        assertTrue(Files.isDirectory(stateDir.resolve(netnsDir.inode("pod-a") + "-pod-a")), "pod-a marked");
        runFor(Duration.ofMillis(300));
        assertEquals(Set.of("pod-a"), manager.attached(), "pod-b has no eth0 yet: it waits, without an error");
        assertEquals(0, manager.errors(), errors.toString());

        netnsDir.addInterface("pod-b", IFACE);
        runUntil(() -> manager.attached().equals(Set.of("pod-a", "pod-b")), "pod-b attached once it has eth0");
        assertEquals(Set.of(VIP_A), clientVips("pod-b"));

        manager.vips(Set.of(VIP_B, VIP_ALL_PORTS));
        runUntil(() -> clientVips("pod-a").equals(Set.of(VIP_B, VIP_ALL_PORTS)) &&
            clientVips("pod-b").equals(Set.of(VIP_B, VIP_ALL_PORTS)), "both pods given the new VIPs");
        assertEquals(0, manager.errors(), errors.toString());
    }

    @Test
    void aPodWhoseFileGoesLosesItsProgramsAndPinsAndTheOthersKeepTheirs()
    {
        netnsDir.add("pod-a");
        netnsDir.addInterface("pod-a", IFACE);
        netnsDir.add("pod-b");
        netnsDir.addInterface("pod-b", IFACE);
        manager = start();
        manager.vips(Set.of(VIP_A));
        runUntil(() -> manager.attached().equals(Set.of("pod-a", "pod-b")), "both attached");

        final long inodeA = netnsDir.inode("pod-a");
        netnsDir.hide("pod-a");
        runUntil(() -> manager.attached().equals(Set.of("pod-b")) && !pinsOf(inodeA) &&
            !Files.exists(stateDir.resolve(inodeA + "-pod-a")), "pod-a's pins and marker removed");
        assertTrue(pinsOf(netnsDir.inode("pod-b")), "pod-b's pins stay");

        // Destroyed for real: the manager's socket in it is the last thing holding it, until the scan lets go.
        final long inodeB = netnsDir.inode("pod-b");
        netnsDir.remove("pod-b");
        runUntil(() -> manager.attached().isEmpty() && !pinsOf(inodeB) &&
            !Files.exists(stateDir.resolve(inodeB + "-pod-b")), "pod-b's pins and marker removed");
        assertEquals(0, manager.errors(), errors.toString());
    }

    @Test
    void aRestartedManagerTakesOverThePinnedPodsWithoutReplacingTheirMapsOrLinks() throws IOException
    {
        netnsDir.add("pod-a");
        netnsDir.addInterface("pod-a", IFACE);
        manager = start();
        manager.vips(Set.of(VIP_A));
        runUntil(() -> manager.attached().contains("pod-a"), "pod-a attached");
        final Path client = EndpointAgent.pinDir(Role.CLIENT, netnsDir.inode("pod-a"), IFACE);
        final Object flowsPin = Files.getAttribute(client.resolve(Abi.Maps.FLOWS), "unix:ino");
        final Object linkPin = Files.getAttribute(PinnedDatapath.linkPin(client, "tc_egress"), "unix:ino");
        manager.onClose();

        manager = start();
        runFor(Duration.ofMillis(300));
        assertEquals(Set.of(VIP_A), clientVips("pod-a"), "a new manager leaves the VIPs until it is given some");
        manager.vips(Set.of(VIP_A, VIP_B));
        runUntil(() -> manager.attached().contains("pod-a"), "pod-a taken over");
        assertTrue(logText.toString().contains("took over the programs and state pinned in " + client), logText::toString);
        assertEquals(flowsPin, Files.getAttribute(client.resolve(Abi.Maps.FLOWS), "unix:ino"), "the same flows map");
        assertEquals(linkPin, Files.getAttribute(PinnedDatapath.linkPin(client, "tc_egress"), "unix:ino"),
            "the same link, its program swapped");
        assertEquals(Set.of(VIP_A, VIP_B), clientVips("pod-a"));
        assertEquals(0, manager.errors(), errors.toString());
    }

    @Test
    void aPodThatFailsIsCountedAndRetriedWithoutHoldingUpTheOthers() throws IOException
    {
        netnsDir.add("pod-a");
        netnsDir.addInterface("pod-a", IFACE);
        netnsDir.add("pod-bad");
        netnsDir.addInterface("pod-bad", IFACE);
        // A directory where pod-bad's flow table pin would be: the client cannot tell its size, and refuses.
        final Path blocker = EndpointAgent.pinDir(Role.CLIENT, netnsDir.inode("pod-bad"), IFACE)
            .resolve(Abi.Maps.FLOWS);
        Files.createDirectories(blocker);
        manager = start();
        manager.vips(Set.of(VIP_A));

        runUntil(() -> manager.attached().contains("pod-a") && manager.errors() >= 2, "pod-a attached, pod-bad " +
            "failed and was tried again");
        assertFalse(manager.attached().contains("pod-bad"));
        assertTrue(errors.stream().allMatch(e -> e.getMessage().startsWith("pod netns pod-bad (inode " +
            netnsDir.inode("pod-bad") + "): attaching: ")), errors::toString);

        Files.delete(blocker);
        runUntil(() -> manager.attached().equals(Set.of("pod-a", "pod-bad")), "pod-bad attached once it can be");
    }

    @Test
    void moreVipsThanAPodsTableHoldsAreRefusedToTheCaller()
    {
        manager = new PodEndpoints(context().withSizes(1024, 2), new SystemNanoClock(), SystemEpochClock.INSTANCE,
            log(), errors::add);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
            () -> manager.vips(Set.of(VIP_A, VIP_B, VIP_ALL_PORTS)));
        assertEquals("3 VIPs, more than the 2 a pod's VIP table holds", ex.getMessage());
    }

    private PodEndpoints.Context context()
    {
        return PodEndpoints.Context.defaults().withNetnsDir(netnsDir.dir()).withStateDir(stateDir)
            .withIntervals(50_000_000L, 200_000_000L);
    }

    private PodEndpoints start()
    {
        final PodEndpoints pods = new PodEndpoints(context(), new SystemNanoClock(), SystemEpochClock.INSTANCE,
            log(), errors::add);
        pods.onStart();
        return pods;
    }

    private Log log()
    {
        return new Log("crab-pods", Log.Format.TEXT, false, new PrintWriter(logText, true), SystemEpochClock.INSTANCE);
    }

    private boolean pinsOf(final long inode)
    {
        return Files.exists(EndpointAgent.pinDir(Role.CLIENT, inode, IFACE)) ||
            Files.exists(EndpointAgent.pinDir(Role.SERVER, inode, IFACE));
    }

    /** The VIPs in the pod's pinned client_vips map. */
    private Set<HostPort> clientVips(final String pod)
    {
        final Path pin = EndpointAgent.pinDir(Role.CLIENT, netnsDir.inode(pod), IFACE).resolve(Abi.Maps.CLIENT_VIPS);
        final Set<HostPort> vips = new HashSet<>();
        try (PinnedMap map = Bpf.openPinnedMap(pin.toString()))
        {
            final UnsafeBuffer key = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
            final UnsafeBuffer next = new UnsafeBuffer(new byte[Abi.VipKey.SIZE]);
            boolean more = map.nextKey(null, next);
            while (more)
            {
                final byte[] address = new byte[4];
                next.getBytes(Abi.VipKey.ADDR, address);
                final int port = next.getShort(Abi.VipKey.PORT, ByteOrder.BIG_ENDIAN) & 0xffff;
                vips.add(HostPort.parse(ip(address) + (port == 0 ? "" : ":" + port)));
                key.putBytes(0, next, 0, Abi.VipKey.SIZE);
                more = map.nextKey(key, next);
            }
        }
        return vips;
    }

    private static String ip(final byte[] a)
    {
        return (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + "." + (a[3] & 0xff);
    }

    private void runFor(final Duration duration)
    {
        final long end = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() - end < 0)
        {
            manager.doWork();
            sleep();
        }
    }

    private void runUntil(final BooleanSupplier done, final String what)
    {
        final long end = System.nanoTime() + WAIT.toNanos();
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - end > 0)
            {
                fail("not within " + WAIT + ": " + what + "; attached " + manager.attached() + ", errors " + errors +
                    ", log:\n" + logText);
            }
            manager.doWork();
            sleep();
        }
    }

    private static void sleep()
    {
        try
        {
            Thread.sleep(10);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }
}

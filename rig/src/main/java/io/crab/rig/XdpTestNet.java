package io.crab.rig;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.Netns;
import io.crab.bpf.XdpMode;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network namespace with one veth pair, in which XDP programs run through BPF_PROG_TEST_RUN as if a frame had
 * arrived on a real device, so the helpers that ask the kernel about it (FIB and neighbour lookups) answer as on
 * a host. The device's receive queue is registered for XDP (a veth does so only while it has an XDP program, so
 * xdp_pass is attached), IPv4 forwarding is on (the kernel's FIB lookup for XDP requires it), and the test sets
 * the neighbours. The namespace is {@code crab-xt-<random>}, removed by {@link #close()}.
 */
public final class XdpTestNet implements AutoCloseable
{
    /** The device's address, on 198.18.0.0/24: on-link neighbours are 198.18.0.x. */
    public static final String ADDRESS = "198.18.0.2";
    /** The interface frames arrive on. */
    public static final String DEVICE = "xt0";

    /** A second device, for routes that leave by another interface than {@link #DEVICE}. */
    public static final String OTHER_DEVICE = "xt2";

    private static final String PEER = "xt1";
    private static final String OTHER_PEER = "xt3";
    private static final Pattern LINK = Pattern.compile("^(\\d+):\\s.*?\\slink/ether\\s+([0-9a-f:]{17})\\s");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Netns netns;
    private BpfObject xdpPass;
    private BpfLink passLink;
    private int ifindex;
    private byte[] mac;

    private XdpTestNet(final Netns netns)
    {
        this.netns = netns;
    }

    public static XdpTestNet create()
    {
        final byte[] id = new byte[3];
        RANDOM.nextBytes(id);
        final XdpTestNet net = new XdpTestNet(Netns.named("crab-xt-" + HexFormat.of().formatHex(id)));
        Shell.run("ip", "netns", "add", net.netns.name());
        try
        {
            net.setUp();
            return net;
        }
        catch (final RuntimeException ex)
        {
            net.close();
            throw ex;
        }
    }

    private void setUp()
    {
        ip("link", "add", DEVICE, "type", "veth", "peer", "name", PEER);
        ip("addr", "add", ADDRESS + "/24", "dev", DEVICE);
        ip("link", "set", DEVICE, "up");
        ip("link", "set", PEER, "up");
        netns.run(() -> Sysctl.write("/proc/sys/net/ipv4/conf/" + DEVICE + "/forwarding", "1"));
        final Matcher link = LINK.matcher(ip("-o", "link", "show", "dev", DEVICE));
        if (!link.find())
        {
            throw new IllegalStateException("cannot parse `ip link show " + DEVICE + "` in " + netns.name());
        }
        ifindex = Integer.parseInt(link.group(1));
        mac = HexFormat.ofDelimiter(":").parseHex(link.group(2));
        xdpPass = Bpf.load(Topology.XDP_PASS);
        passLink = netns.call(() -> xdpPass.program(Topology.XDP_PASS).attachXdp(ifindex,
            XdpMode.NATIVE));
    }

    public Netns netns()
    {
        return netns;
    }

    /** Index of {@link #DEVICE} inside the namespace: the ingress device to give a test run. */
    public int ifindex()
    {
        return ifindex;
    }

    /** MAC of {@link #DEVICE}: the source of every frame the kernel routes out of it. */
    public byte[] mac()
    {
        return mac.clone();
    }

    /** Adds or changes a permanent neighbour entry on {@link #DEVICE}. */
    public void neighbour(final String address, final String lladdr)
    {
        ip("neigh", "replace", address, "lladdr", lladdr, "dev", DEVICE, "nud", "permanent");
    }

    public void removeNeighbour(final String address)
    {
        ip("neigh", "del", address, "dev", DEVICE);
    }

    /** Adds a route, e.g. a prefix via a gateway on 198.18.0.0/24. */
    public void route(final String prefix, final String via)
    {
        ip("route", "replace", prefix, "via", via, "dev", DEVICE);
    }

    /**
     * Routes {@code prefix} out of a second device, {@link #OTHER_DEVICE} (one end of another veth pair, made at the
     * first call), with no neighbour entry: as a pod's veth on an LB's own host is routed.
     */
    public void routeOutOfOtherDevice(final String prefix)
    {
        if (!ip("-o", "link", "show").contains(" " + OTHER_DEVICE + "@"))
        {
            ip("link", "add", OTHER_DEVICE, "type", "veth", "peer", "name", OTHER_PEER);
            ip("link", "set", OTHER_DEVICE, "up");
            ip("link", "set", OTHER_PEER, "up");
        }
        ip("route", "replace", prefix, "dev", OTHER_DEVICE);
    }

    /** Runs an XDP program on the frame as if it arrived on {@link #DEVICE}. */
    public BpfProgram.TestRun runXdp(final BpfProgram program, final byte[] frame, final int repeat)
    {
        return netns.call(() -> program.testRunXdp(frame, repeat, ifindex));
    }

    /** Runs a task inside the namespace. */
    public <T> T call(final Callable<T> task)
    {
        return netns.call(task);
    }

    @Override
    public void close()
    {
        try
        {
            if (passLink != null)
            {
                passLink.close();
            }
            if (xdpPass != null)
            {
                xdpPass.close();
            }
        }
        finally
        {
            if (netns.exists())
            {
                Shell.run("ip", "netns", "del", netns.name());
            }
        }
    }

    private String ip(final String... args)
    {
        final String[] argv = new String[args.length + 3];
        argv[0] = "ip";
        argv[1] = "-n";
        argv[2] = netns.name();
        System.arraycopy(args, 0, argv, 3, args.length);
        return Shell.run(argv);
    }
}

package io.crab.bpf;

import java.util.Locale;

/**
 * Where the kernel runs an XDP program on a device. {@link #NATIVE}: in the driver, on the frame before any socket
 * buffer exists; only drivers that implement XDP offer it, and on a veth a frame sent back out (XDP_TX, or a
 * redirect to a veth) reaches the peer only if the peer has a native XDP program too. {@link #GENERIC}: in the core
 * receive path, on the socket buffer every driver builds; it costs that buffer, and transmits through the device's
 * ordinary transmit path, so it works on every device.
 */
public enum XdpMode
{
    NATIVE(Abi.Consts.CRAB_XDP_NATIVE),
    GENERIC(Abi.Consts.CRAB_XDP_GENERIC);

    private final int code;

    XdpMode(final int code)
    {
        this.code = code;
    }

    /** Its value of enum crab_xdp_mode, as the LB's program reads it from lb_xdp_mode. */
    public int code()
    {
        return code;
    }

    /** How the README and the command line name it: {@code native}, {@code generic}. */
    public String word()
    {
        return name().toLowerCase(Locale.ROOT);
    }
}

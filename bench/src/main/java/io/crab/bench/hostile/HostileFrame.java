package io.crab.bench.hostile;

/**
 * One generated frame: a pure function of the campaign's seed, the program's base frames and the index.
 *
 * @param index  the frame's number in its program's campaign
 * @param family what kind of hostile frame it is
 * @param config the option configuration it is built for, written to opt_cfg before it runs
 * @param base   the name of the valid frame it was made from
 * @param detail what was done to the base, e.g. "cut at 37 of 86"
 * @param bytes  the frame
 */
record HostileFrame(long index, Family family, OptionConfig config, String base, String detail, byte[] bytes)
{
    String describe()
    {
        return family.name().toLowerCase() + " (" + detail + ") of '" + base + "', option " + config.kind +
            (config.exid != 0 ? String.format("/ExID 0x%04X", config.exid) : "");
    }
}

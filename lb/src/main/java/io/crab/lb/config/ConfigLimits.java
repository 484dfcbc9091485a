package io.crab.lb.config;

/**
 * What the data path can hold, which a configuration must fit; the caller passes its map sizes.
 *
 * @param maxServices           services in all (one VIP each).
 * @param maxBackendsPerService backends one service lists, draining ones included.
 * @param maxDistinctBackends   distinct targets (IP[:PORT]) over all services, draining ones included.
 * @param maxSlotsPerService    the sum of the weights of one service's active backends.
 */
public record ConfigLimits(int maxServices, int maxBackendsPerService, int maxDistinctBackends, int maxSlotsPerService)
{
    public ConfigLimits
    {
        if (maxServices < 1 || maxBackendsPerService < 1 || maxDistinctBackends < 1 || maxSlotsPerService < 1)
        {
            throw new IllegalArgumentException("every limit must be at least 1: " + maxServices + ", " +
                maxBackendsPerService + ", " + maxDistinctBackends + ", " + maxSlotsPerService);
        }
    }
}

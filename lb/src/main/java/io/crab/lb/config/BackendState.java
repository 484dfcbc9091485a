package io.crab.lb.config;

/** Whether a backend takes new connections; a draining one takes none and its existing ones are left alone. */
public enum BackendState
{
    ACTIVE, DRAINING;

    /** The word the services file and the change log use. */
    public String word()
    {
        return this == ACTIVE ? "active" : "draining";
    }
}

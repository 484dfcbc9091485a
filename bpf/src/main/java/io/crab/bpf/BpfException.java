package io.crab.bpf;

/** A libbpf or kernel call failed; the message says which call, on what, and the errno text. */
public class BpfException extends RuntimeException
{
    private final int errno;

    public BpfException(final String message, final int errno)
    {
        super(message);
        this.errno = errno;
    }

    public BpfException(final String message)
    {
        this(message, 0);
    }

    /** The positive errno of the failed call, or 0 when the failure was not a system error. */
    public int errno()
    {
        return errno;
    }
}

package io.crab.endpoint;

/** A sock_diag netlink call or dump failed; the message says which, and the errno text. */
final class SocketDiagException extends RuntimeException
{
    private final int errno;

    SocketDiagException(final String message, final int errno)
    {
        super(message);
        this.errno = errno;
    }

    /** The positive errno the kernel or libc reported, or 0 when the failure was not a system error. */
    int errno()
    {
        return errno;
    }
}

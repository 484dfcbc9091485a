package io.crab.bpf.testing;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * JUnit extension for tests that load BPF programs or build namespaces: they need root. Without it they are
 * skipped on a developer's machine and fail in CI (CI=true), where nothing may be skipped for lack of privilege.
 */
public final class KernelRequired implements BeforeAllCallback
{
    @Override
    public void beforeAll(final ExtensionContext context)
    {
        if (new com.sun.security.auth.module.UnixSystem().getUid() == 0)
        {
            return;
        }
        final String reason = context.getDisplayName() + " needs root (BPF, network namespaces)";
        if ("true".equalsIgnoreCase(System.getenv("CI")))
        {
            throw new IllegalStateException(reason + ", and CI must not skip it");
        }
        throw new TestAbortedException(reason);
    }
}

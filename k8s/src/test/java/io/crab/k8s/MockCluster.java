package io.crab.k8s;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * fabric8's mock API server in CRUD mode (it keeps what it is sent and streams watch events, as an API server does)
 * on the loopback, with a client to write the cluster's objects through and a kubeconfig naming it.
 */
public final class MockCluster implements AutoCloseable
{
    /** Plain HTTP: the tests read nothing from TLS, and the namespaces' processes need no certificate. */
    private final KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(),
        new HashMap<>(), new KubernetesCrudDispatcher(), false);
    private final KubernetesClient client;

    /** The mock server logs every request it answers; the tests say what they saw when they fail. Held here, as
     *  java.util.logging forgets the level of a logger nobody holds. */
    private static final Logger MOCK_SERVER_LOG = Logger.getLogger("io.fabric8.mockwebserver");

    static
    {
        MOCK_SERVER_LOG.setLevel(Level.WARNING);
    }

    public MockCluster()
    {
        server.init(InetAddress.getLoopbackAddress(), 0);
        client = server.createClient();
    }

    /** The client the test writes with; crab-k8s's controller gets one of its own in the tests that need it. */
    public KubernetesClient client()
    {
        return client;
    }

    /** A new client of the server, as crab-k8s makes one. */
    public KubernetesClient newClient()
    {
        return server.createClient();
    }

    public String url()
    {
        return "http://" + server.getHostName() + ":" + server.getPort();
    }

    /** A kubeconfig for the server, written into {@code dir}. */
    public Path kubeconfig(final Path dir) throws IOException
    {
        return Files.writeString(dir.resolve("kubeconfig"), String.join("\n",
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            "- name: mock",
            "  cluster:",
            "    server: " + url(),
            "contexts:",
            "- name: mock",
            "  context:",
            "    cluster: mock",
            "    user: mock",
            "current-context: mock",
            "users:",
            "- name: mock",
            "  user:",
            "    token: test",
            ""));
    }

    /** A Node with an InternalIP and a zone. */
    public static Node node(final String name, final String zone, final String... internalIps)
    {
        final NodeBuilder builder = new NodeBuilder().withNewMetadata().withName(name)
            .addToLabels(NodeContext.ZONE_LABEL, zone).endMetadata().withNewStatus().endStatus();
        for (final String ip : internalIps)
        {
            builder.editStatus().addNewAddress(ip, "InternalIP").endStatus();
        }
        return builder.build();
    }

    public Node put(final Node node)
    {
        return client.nodes().resource(node).createOr(r -> r.update());
    }

    public Service put(final Service service)
    {
        return client.services().inNamespace(service.getMetadata().getNamespace()).resource(service)
            .createOr(r -> r.update());
    }

    public EndpointSlice put(final EndpointSlice slice)
    {
        return client.discovery().v1().endpointSlices().inNamespace(slice.getMetadata().getNamespace())
            .resource(slice).createOr(r -> r.update());
    }

    public void delete(final Service service)
    {
        client.services().inNamespace(service.getMetadata().getNamespace()).resource(service).delete();
    }

    public void delete(final EndpointSlice slice)
    {
        client.discovery().v1().endpointSlices().inNamespace(slice.getMetadata().getNamespace()).resource(slice)
            .delete();
    }

    @Override
    public void close()
    {
        client.close();
        server.destroy();
    }
}

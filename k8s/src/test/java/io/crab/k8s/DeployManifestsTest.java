package io.crab.k8s;

import io.crab.k8s.Manifests.Document;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.RollingUpdateDaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The deployment in {@code k8s/deploy}: every manifest read with fabric8's typed model (a typo or an unknown kind
 * fails here), and what crab needs of it: read-only RBAC on exactly Services, EndpointSlices and Nodes, and two
 * DaemonSets that between them run one crab-k8s on every node, on the host network, with the capabilities, host
 * mounts and command line crab-k8s takes.
 */
final class DeployManifestsTest
{
    private static final Path DEPLOY = Path.of("deploy");
    private static final String NAMESPACE = "crab-system";
    private static final String LB_LABEL = "crab.io/lb";

    /**
     * crab-k8s's options as the issue 11 plan fixes them: those that take a value, and the flags. The command is
     * written in parallel with these manifests; these are its names until it can be asked.
     */
    private static final Set<String> VALUE_OPTIONS = Set.of("--node-name", "--kubeconfig", "--lb-iface",
        "--pod-netns-dir", "--pod-iface", "--pod-state-dir", "--node-port-range", "--proxy-name", "--health-check-address",
        "--metrics-address", "--log-format", "--max-services", "--max-backends", "--max-slots", "--xdp-mode");
    private static final Set<String> FLAG_OPTIONS = Set.of("--verbose");
    private static final String DEFAULT_POD_NETNS_DIR = "/var/run/netns";

    /** What every crab-k8s uses (20-crab-endpoint-node.yaml says why each); crab-lb's echo probes add a raw socket. */
    private static final Set<String> ENDPOINT_CAPABILITIES = Set.of("BPF", "NET_ADMIN", "SYS_ADMIN", "PERFMON");
    private static final Set<String> LB_CAPABILITIES = Set.of("BPF", "NET_ADMIN", "SYS_ADMIN", "PERFMON", "NET_RAW");

    /** A variable reference the kubelet expands in args; {@code $$(X)} is the escaped, literal form. */
    private static final Pattern VARIABLE = Pattern.compile("(?<!\\$)\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private static List<Document> documents;

    @BeforeAll
    static void readAll() throws IOException
    {
        documents = new ArrayList<>();
        for (final Path file : Manifests.files(DEPLOY))
        {
            documents.addAll(Manifests.read(file));
        }
    }

    @Test
    void everyManifestIsOfTheModelWithoutAnUnknownField() throws IOException
    {
        assertTrue(Manifests.files(DEPLOY).size() >= 4, "the namespace, RBAC and two DaemonSets: " +
            Manifests.files(DEPLOY));
        for (final Document document : documents)
        {
            assertEquals(List.of(), Manifests.problems(document.object()), document.toString());
        }
        assertEquals(Set.of("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"),
            documents.stream().map(d -> d.object().getKind()).collect(Collectors.toSet()));
    }

    @Test
    void aTypoOrAnUnknownKindIsFound(@TempDir final Path dir) throws IOException
    {
        final Path typo = dir.resolve("typo.yaml");
        Files.writeString(typo, """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata:
              name: crab-lb
            spec:
              template:
                spec:
                  hostNetwrok: true
                  containers:
                    - name: crab-k8s
                      securityContext:
                        capabilities:
                          add: ["BPF"]
                          dorp: ["ALL"]
            ---
            apiVersion: apps/v1
            kind: DeamonSet
            metadata:
              name: crab-endpoint-node
            """);
        final List<Document> read = Manifests.read(typo);
        assertEquals(2, read.size());
        assertEquals(Set.of(".spec.template.spec: unknown field(s) [hostNetwrok]",
                ".spec.template.spec.containers[0].securityContext.capabilities: unknown field(s) [dorp]"),
            Set.copyOf(Manifests.problems(read.get(0).object())));
        assertEquals(List.of("no model class for apiVersion apps/v1 kind DeamonSet"),
            Manifests.problems(read.get(1).object()));

        // A key given twice would otherwise lose one of its values without a word.
        final Path twice = dir.resolve("twice.yaml");
        Files.writeString(twice, """
            apiVersion: v1
            kind: ServiceAccount
            metadata:
              name: crab
              name: crab-k8s
            """);
        final RuntimeException refused = assertThrows(RuntimeException.class, () -> Manifests.read(twice));
        assertTrue(String.valueOf(refused.getMessage()).contains("found duplicate key name"), refused.toString());
    }

    @Test
    void namespaceAllowsWhatThePodsNeed()
    {
        final Namespace namespace = only(Namespace.class);
        assertEquals(NAMESPACE, namespace.getMetadata().getName());
        // hostNetwork, hostPath and added capabilities are refused by Pod Security's baseline level.
        assertEquals("privileged", namespace.getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));
        for (final Document document : documents)
        {
            final HasMetadata object = document.object();
            final boolean clusterScoped = object instanceof Namespace || object instanceof ClusterRole ||
                object instanceof ClusterRoleBinding;
            assertEquals(clusterScoped ? null : NAMESPACE, object.getMetadata().getNamespace(), document.toString());
        }
    }

    @Test
    void rbacReadsServicesEndpointSlicesAndNodesAndNothingElse()
    {
        final ClusterRole role = only(ClusterRole.class);
        final Set<String> granted = new HashSet<>();
        for (final PolicyRule rule : role.getRules())
        {
            assertEquals(List.of("get", "list", "watch"), rule.getVerbs(), "verbs of " + rule);
            assertTrue(rule.getResourceNames() == null || rule.getResourceNames().isEmpty(), rule.toString());
            assertTrue(rule.getNonResourceURLs() == null || rule.getNonResourceURLs().isEmpty(), rule.toString());
            for (final String group : rule.getApiGroups())
            {
                for (final String resource : rule.getResources())
                {
                    assertTrue(granted.add(group + "/" + resource), "granted twice: " + group + "/" + resource);
                }
            }
        }
        assertEquals(Set.of("/services", "discovery.k8s.io/endpointslices", "/nodes"), granted);
        assertNull(role.getAggregationRule());

        final ServiceAccount account = only(ServiceAccount.class);
        final ClusterRoleBinding binding = only(ClusterRoleBinding.class);
        assertEquals("ClusterRole", binding.getRoleRef().getKind());
        assertEquals(role.getMetadata().getName(), binding.getRoleRef().getName());
        assertEquals(1, binding.getSubjects().size());
        final Subject subject = binding.getSubjects().get(0);
        assertEquals("ServiceAccount", subject.getKind());
        assertEquals(account.getMetadata().getName(), subject.getName());
        assertEquals(NAMESPACE, subject.getNamespace());
    }

    @Test
    void bothDaemonSetsRunCrabK8sOnTheHostNetworkAsTheServiceAccount()
    {
        final String account = only(ServiceAccount.class).getMetadata().getName();
        final List<DaemonSet> daemonSets = all(DaemonSet.class);
        assertEquals(Set.of("crab-endpoint-node", "crab-lb"),
            daemonSets.stream().map(d -> d.getMetadata().getName()).collect(Collectors.toSet()));
        assertEquals(1, daemonSets.stream().map(d -> container(d).getImage()).distinct().count(), "one image");
        for (final DaemonSet daemonSet : daemonSets)
        {
            final String name = daemonSet.getMetadata().getName();
            final PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();
            assertEquals(account, pod.getServiceAccountName(), name);
            assertEquals(Boolean.TRUE, pod.getHostNetwork(), name);
            assertEquals("system-node-critical", pod.getPriorityClassName(), name);
            assertTrue(pod.getTolerations().stream().anyMatch(DeployManifestsTest::toleratesEverything),
                name + " runs on every node it is meant for, whatever its taints");
            assertEquals(daemonSet.getSpec().getSelector().getMatchLabels(),
                subset(daemonSet.getSpec().getTemplate().getMetadata().getLabels(),
                    daemonSet.getSpec().getSelector().getMatchLabels().keySet()), name + "'s selector");

            final Container container = container(daemonSet);
            assertEquals(List.of("crab-k8s"), container.getCommand(), name);
            final EnvVar nodeName = env(container).get("NODE_NAME");
            assertNotNull(nodeName, name + " gives crab-k8s its node's name");
            assertEquals("spec.nodeName", nodeName.getValueFrom().getFieldRef().getFieldPath(), name);
            assertNotNull(container.getResources().getRequests().get("cpu"), name);
            assertNotNull(container.getResources().getRequests().get("memory"), name);
            assertNotNull(container.getResources().getLimits().get("memory"), name);
        }
    }

    @Test
    void argsAreCrabK8sOptionsAndTheLbAloneHasAnInterface()
    {
        for (final DaemonSet daemonSet : all(DaemonSet.class))
        {
            final Container container = container(daemonSet);
            final Map<String, String> options = options(daemonSet.getMetadata().getName(), container.getArgs());
            final boolean lb = daemonSet.getMetadata().getName().equals("crab-lb");
            assertEquals(lb, options.containsKey("--lb-iface"), daemonSet.getMetadata().getName());
            for (final String arg : container.getArgs())
            {
                final Matcher variable = VARIABLE.matcher(arg);
                while (variable.find())
                {
                    // The kubelet leaves an undefined $(X) as it is, so crab-k8s would get the text itself.
                    assertTrue(env(container).containsKey(variable.group(1)),
                        daemonSet.getMetadata().getName() + ": " + arg + " names an undefined variable");
                }
            }
        }
    }

    @Test
    void exactlyOneCrabK8sOnEveryNode()
    {
        final List<DaemonSet> daemonSets = all(DaemonSet.class);
        final List<Map<String, String>> nodes = List.of(Map.of(), Map.of(LB_LABEL, "true"),
            Map.of(LB_LABEL, "false"), Map.of("kubernetes.io/os", "linux", LB_LABEL, "true"));
        for (final Map<String, String> node : nodes)
        {
            final List<String> running = daemonSets.stream().filter(d -> runsOn(d, node))
                .map(d -> d.getMetadata().getName()).toList();
            final String expected = "true".equals(node.get(LB_LABEL)) ? "crab-lb" : "crab-endpoint-node";
            // Two would be two writers of the node's pinned maps, and two listeners on its health check ports.
            assertEquals(List.of(expected), running, "node labelled " + node);
        }
    }

    @Test
    void capabilitiesWithoutPrivilege()
    {
        for (final DaemonSet daemonSet : all(DaemonSet.class))
        {
            final String name = daemonSet.getMetadata().getName();
            final SecurityContext security = container(daemonSet).getSecurityContext();
            assertNotNull(security, name);
            assertFalse(Boolean.TRUE.equals(security.getPrivileged()), name + " is not privileged");
            // no_new_privs would hold nothing back beside CAP_SYS_ADMIN, and the API refuses the two together when
            // the capability is spelled CAP_SYS_ADMIN: leaving it unset keeps the manifest honest.
            assertNull(security.getAllowPrivilegeEscalation(), name);
            final Capabilities capabilities = security.getCapabilities();
            assertEquals(List.of("ALL"), capabilities.getDrop(), name);
            assertEquals(name.equals("crab-lb") ? LB_CAPABILITIES : ENDPOINT_CAPABILITIES,
                Set.copyOf(capabilities.getAdd()), name);
            assertEquals(capabilities.getAdd().size(), Set.copyOf(capabilities.getAdd()).size(), name);
            assertNull(daemonSet.getSpec().getTemplate().getSpec().getHostPID(), name);
        }
    }

    @Test
    void hostMountsForThePinsAndThePodsNamespaces()
    {
        for (final DaemonSet daemonSet : all(DaemonSet.class))
        {
            final String name = daemonSet.getMetadata().getName();
            final Container container = container(daemonSet);
            final Map<String, String> options = options(name, container.getArgs());
            final Map<String, VolumeMount> mounts = container.getVolumeMounts().stream()
                .collect(Collectors.toMap(VolumeMount::getMountPath, m -> m));
            final Map<String, Volume> volumes = daemonSet.getSpec().getTemplate().getSpec().getVolumes().stream()
                .collect(Collectors.toMap(Volume::getName, v -> v));

            // Pins live on the host's bpffs, so that they outlive the pod and a new pod adopts them.
            final VolumeMount bpffs = mounts.get("/sys/fs/bpf");
            assertNotNull(bpffs, name + " mounts /sys/fs/bpf");
            assertEquals("/sys/fs/bpf", volumes.get(bpffs.getName()).getHostPath().getPath(), name);
            assertEquals("HostToContainer", bpffs.getMountPropagation(), name);
            assertFalse(Boolean.TRUE.equals(bpffs.getReadOnly()), name + " pins into /sys/fs/bpf");

            final String netnsDir = options.getOrDefault("--pod-netns-dir", DEFAULT_POD_NETNS_DIR);
            final VolumeMount netns = mounts.get(netnsDir);
            assertNotNull(netns, name + " mounts the pods' namespaces at " + netnsDir);
            assertEquals("/var/run/netns", volumes.get(netns.getName()).getHostPath().getPath(), name);
            // Namespaces of pods started later are mounts made on the host later.
            assertEquals("HostToContainer", netns.getMountPropagation(), name);

            if (Boolean.TRUE.equals(container.getSecurityContext().getReadOnlyRootFilesystem()))
            {
                final VolumeMount tmp = mounts.get("/tmp");
                assertNotNull(tmp, name + ": the JVM and jnr-ffi write to /tmp");
                assertNotNull(volumes.get(tmp.getName()).getEmptyDir(), name);
            }
            for (final VolumeMount mount : container.getVolumeMounts())
            {
                // Bidirectional is for containers that mount, and Kubernetes allows it only when privileged.
                assertFalse("Bidirectional".equals(mount.getMountPropagation()), name + ": " + mount.getMountPath());
            }
        }
    }

    @Test
    void probesAskTheMetricsEndpoint()
    {
        for (final DaemonSet daemonSet : all(DaemonSet.class))
        {
            final String name = daemonSet.getMetadata().getName();
            final Container container = container(daemonSet);
            final String address = options(name, container.getArgs()).get("--metrics-address");
            assertNotNull(address, name + " serves /metrics and /-/healthy for the probes");
            final int port = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
            assertEquals("$(HOST_IP)", address.substring(0, address.lastIndexOf(':')),
                name + " listens on the node's address, which the kubelet probes for a host-network pod");
            assertEquals("status.hostIP", env(container).get("HOST_IP").getValueFrom().getFieldRef().getFieldPath());
            for (final var probe : List.of(container.getLivenessProbe(), container.getReadinessProbe()))
            {
                assertNotNull(probe, name);
                assertEquals("/-/healthy", probe.getHttpGet().getPath(), name);
                assertEquals(port, portNumber(container, probe.getHttpGet().getPort()), name);
            }
        }
    }

    @Test
    void updatesRollOneNodeAtATimeWithoutASecondPod()
    {
        for (final DaemonSet daemonSet : all(DaemonSet.class))
        {
            final String name = daemonSet.getMetadata().getName();
            assertEquals("RollingUpdate", daemonSet.getSpec().getUpdateStrategy().getType(), name);
            final RollingUpdateDaemonSet rolling = daemonSet.getSpec().getUpdateStrategy().getRollingUpdate();
            assertEquals(new IntOrString(1), rolling.getMaxUnavailable(), name);
            // A surge pod would run beside the old one on the same node: two writers of the same pinned maps.
            assertEquals(new IntOrString(0), rolling.getMaxSurge(), name);
        }
    }

    /** The options of an args list, by name; fails on an option crab-k8s does not have, or one given twice. */
    private static Map<String, String> options(final String where, final List<String> args)
    {
        final Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i < args.size(); i++)
        {
            final String arg = args.get(i);
            final int equals = arg.indexOf('=');
            final String name = equals < 0 ? arg : arg.substring(0, equals);
            final String value;
            if (FLAG_OPTIONS.contains(name) && equals < 0)
            {
                value = "";
            }
            else if (VALUE_OPTIONS.contains(name))
            {
                if (equals < 0 && (i + 1 == args.size() || args.get(i + 1).startsWith("--")))
                {
                    fail(where + ": " + name + " needs a value");
                }
                value = equals < 0 ? args.get(++i) : arg.substring(equals + 1);
                assertFalse(value.isEmpty(), where + ": " + name + " is empty");
            }
            else
            {
                throw new AssertionError(where + ": '" + arg + "' is not a crab-k8s option");
            }
            assertNull(options.put(name, value), where + ": " + name + " is given twice");
        }
        return options;
    }

    /** Whether the DaemonSet's nodeSelector and required node affinity take a node with these labels. */
    private static boolean runsOn(final DaemonSet daemonSet, final Map<String, String> labels)
    {
        final PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();
        if (pod.getNodeSelector() != null &&
            !pod.getNodeSelector().entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey()))))
        {
            return false;
        }
        if (pod.getAffinity() == null || pod.getAffinity().getNodeAffinity() == null ||
            pod.getAffinity().getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() == null)
        {
            return true;
        }
        final List<NodeSelectorTerm> terms = pod.getAffinity().getNodeAffinity()
            .getRequiredDuringSchedulingIgnoredDuringExecution().getNodeSelectorTerms();
        // Terms are ORed, and the expressions of one term ANDed.
        return terms.stream().anyMatch(term -> term.getMatchExpressions().stream().allMatch(e -> matches(e, labels)));
    }

    private static boolean matches(final NodeSelectorRequirement requirement, final Map<String, String> labels)
    {
        final String value = labels.get(requirement.getKey());
        return switch (requirement.getOperator())
        {
            case "In" -> value != null && requirement.getValues().contains(value);
            case "NotIn" -> value == null || !requirement.getValues().contains(value);
            case "Exists" -> value != null;
            case "DoesNotExist" -> value == null;
            default -> throw new AssertionError("operator " + requirement.getOperator() + " is not evaluated here");
        };
    }

    private static boolean toleratesEverything(final Toleration toleration)
    {
        return "Exists".equals(toleration.getOperator()) && toleration.getKey() == null &&
            toleration.getEffect() == null;
    }

    private static int portNumber(final Container container, final IntOrString port)
    {
        if (port.getIntVal() != null)
        {
            return port.getIntVal();
        }
        return container.getPorts().stream().filter(p -> port.getStrVal().equals(p.getName())).findFirst()
            .orElseThrow(() -> new AssertionError("no container port named " + port.getStrVal()))
            .getContainerPort();
    }

    private static Map<String, String> subset(final Map<String, String> labels, final Set<String> keys)
    {
        final Map<String, String> subset = new LinkedHashMap<>(labels);
        subset.keySet().retainAll(keys);
        return subset;
    }

    private static Container container(final DaemonSet daemonSet)
    {
        final List<Container> containers = daemonSet.getSpec().getTemplate().getSpec().getContainers();
        assertEquals(1, containers.size(), daemonSet.getMetadata().getName());
        return containers.get(0);
    }

    private static Map<String, EnvVar> env(final Container container)
    {
        return container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
    }

    private static <T extends HasMetadata> List<T> all(final Class<T> type)
    {
        return documents.stream().map(Document::object).filter(type::isInstance).map(type::cast).toList();
    }

    private static <T extends HasMetadata> T only(final Class<T> type)
    {
        final List<T> found = all(type);
        assertEquals(1, found.size(), "one " + type.getSimpleName());
        return found.get(0);
    }
}

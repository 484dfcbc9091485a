package io.crab.lb.config;

import io.crab.agent.Cidr;
import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.bpf.Abi;
import io.crab.lb.Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The services file: what it accepts, and the one-line error each mistake gets, first mistake first. */
class ServicesFileTest
{
    /** Today's LB maps: 64 VIPs, 1024 backends, 256 slots per VIP. */
    private static final ConfigLimits LIMITS = new ConfigLimits(64, 256, 1024, 256);
    private static final String KEYWORDS = "(expected service, vip, policy, redirect-unmarked, fallback, " +
        "affinity, allow-from, no-backend or backend)";

    @TempDir
    Path dir;

    @Test
    void readsTheExampleIntoTheModel() throws Exception
    {
        final LbConfig config = read("""
            # crab-lb services
            service web
                vip 198.19.0.1:80
                policy hash               # rr | random | hash (default rr)
                redirect-unmarked         # optional flag
                backend 198.18.0.101 weight 2
                backend 198.18.0.102:8080 weight 1 draining

            service db
                vip 198.19.0.2:5432
                backend 198.18.0.103
            """);
        assertEquals(new LbConfig(List.of(
            new ServiceConfig("web", HostPort.parse("198.19.0.1:80"), Policy.HASH, true, List.of(
                new BackendConfig(HostPort.parse("198.18.0.101"), 2, BackendState.ACTIVE, 6),
                new BackendConfig(HostPort.parse("198.18.0.102:8080"), 1, BackendState.DRAINING, 7)), 2),
            new ServiceConfig("db", HostPort.parse("198.19.0.2:5432"), Policy.RR, false, List.of(
                new BackendConfig(HostPort.parse("198.18.0.103"), 1, BackendState.ACTIVE, 11)), 9))), config);
    }

    @Test
    void commentsBlankLinesAndIndentationAreFreeAndSettingsComeInAnyOrder() throws Exception
    {
        final LbConfig config = read("#top\n\n   \nservice  web#no space before the comment\n" +
            "\tbackend\t198.18.0.101   draining   weight 7\r\n  # a comment line inside\n" +
            "redirect-unmarked\n      vip 198.19.0.1\n\t policy random \n\n# trailing\n");
        assertEquals(new LbConfig(List.of(
            new ServiceConfig("web", HostPort.parse("198.19.0.1"), Policy.RANDOM, true, List.of(
                new BackendConfig(HostPort.parse("198.18.0.101"), 7, BackendState.DRAINING, 5)), 4))), config);
    }

    @Test
    void aServiceMayHaveNoBackendsAndDefaultsToRoundRobinWithoutRedirectUnmarked() throws Exception
    {
        final LbConfig config = read("service spare\n  vip 198.19.0.9:443\nservice a-1\n  vip 198.19.0.10\n");
        assertEquals(new LbConfig(List.of(
            new ServiceConfig("spare", HostPort.parse("198.19.0.9:443"), Policy.RR, false, List.of(), 1),
            new ServiceConfig("a-1", HostPort.parse("198.19.0.10"), Policy.RR, false, List.of(), 3))), config);
    }

    @Test
    void servicesMayShareBackendsAndAddressesWithDifferentPorts() throws Exception
    {
        final LbConfig config = read("service http\n vip 198.19.0.1:80\n backend 198.18.0.101\n" +
            "service https\n vip 198.19.0.1:443\n backend 198.18.0.101\n backend 198.18.0.102:8443\n");
        assertEquals(2, config.services().size());
        assertEquals(HostPort.parse("198.19.0.1:443"), config.services().get(1).vip());
    }

    @Test
    void structureErrors() throws Exception
    {
        assertError("bogus 1\n", "1: unknown keyword 'bogus' " + KEYWORDS);
        assertError("service web\n  vip 198.19.0.1\n  backends 198.18.0.101\n",
            "3: service web: unknown keyword 'backends' " + KEYWORDS);
        assertError("Service web\n", "1: unknown keyword 'Service' " + KEYWORDS);
        assertError("# first\nvip 198.19.0.1\nservice web\n",
            "2: 'vip' outside a service (start one with 'service NAME')");
        assertError("backend 198.18.0.101\n", "1: 'backend' outside a service (start one with 'service NAME')");
        assertError("", ": no services (a service starts with 'service NAME')");
        assertError("# only comments\n\n", ": no services (a service starts with 'service NAME')");
        final Path absent = dir.resolve("absent.conf");
        final ConfigException missing = assertThrows(ConfigException.class, () -> ServicesFile.read(absent, LIMITS));
        assertEquals(absent + ": no such file", missing.getMessage());
    }

    @Test
    void serviceLineErrors() throws Exception
    {
        assertError("service\n", "1: expected 'service NAME'");
        assertError("service web db\n", "1: expected 'service NAME'");
        assertError("service Web\n", "1: service name 'Web' may have only a-z, 0-9 and '-', and not start with '-'");
        assertError("service -web\n",
            "1: service name '-web' may have only a-z, 0-9 and '-', and not start with '-'");
        assertError("service web.prod\n",
            "1: service name 'web.prod' may have only a-z, 0-9 and '-', and not start with '-'");
        final String longName = "a".repeat(33);
        assertError("service " + longName + "\n",
            "1: service name '" + longName + "' is longer than 32 characters");
        assertError("service web\n vip 198.19.0.1:80\nservice db\n vip 198.19.0.2\nservice web\n",
            "5: service web is defined twice (first at line 1)");
        assertError("service web\n backend 198.18.0.101\n\nservice db\n vip 198.19.0.2\n",
            "1: service web: no vip (expected one 'vip A.B.C.D[:PORT]' line)");
        assertError("service web\n vip 198.19.0.1\nservice db\n",
            "3: service db: no vip (expected one 'vip A.B.C.D[:PORT]' line)");
    }

    @Test
    void vipErrors() throws Exception
    {
        assertError("service web\n vip\n", "2: service web: expected 'vip A.B.C.D[:PORT]'");
        assertError("service web\n vip 198.19.0.1 198.19.0.2\n", "2: service web: expected 'vip A.B.C.D[:PORT]'");
        assertError("service web\n vip 198.19.0.1\n vip 198.19.0.2\n",
            "3: service web: vip given twice (first at line 2)");
        assertError("service web\n vip 198.19.0.300\n",
            "2: service web: vip '198.19.0.300': not an IPv4 address (300 is over 255)");
        assertError("service web\n vip web.example\n",
            "2: service web: vip 'web.example': not an IPv4 address (A.B.C.D; names are not looked up)");
        assertError("service web\n vip 198.19.0.1:0\n", "2: service web: vip '198.19.0.1:0': port must be 1..65535");
        assertError("service web\n vip 198.19.0.1:65536\n",
            "2: service web: vip '198.19.0.1:65536': port must be 1..65535");
        assertError("service web\n vip 198.19.0.1:http\n",
            "2: service web: vip '198.19.0.1:http': port is not a number (digits 0-9 only)");
        assertError("service web\n vip 198.19.0.1:+80\n",
            "2: service web: vip '198.19.0.1:+80': port is not a number (digits 0-9 only)");
        assertError("service web\n vip 198.19.0.01\n", "2: service web: vip '198.19.0.01': not an IPv4 address " +
            "('01' has a leading zero, which some tools read as octal)");
    }

    @Test
    void twoServicesCannotClaimTheSameVip() throws Exception
    {
        assertError("service web\n vip 198.19.0.1:80\nservice web2\n vip 198.19.0.1:80\n",
            "4: service web2: vip 198.19.0.1:80 is already service web's (line 1)");
        assertError("service all\n vip 198.19.0.1\nservice all2\n vip 198.19.0.1\n",
            "4: service all2: vip 198.19.0.1 is already service all's (line 1)");
        assertError("service web\n vip 198.19.0.1:80\nservice all\n vip 198.19.0.1\n",
            "4: service all: vip 198.19.0.1 overlaps service web's vip 198.19.0.1:80 (line 1); " +
            "a vip without a port takes every port of its address");
        assertError("service all\n vip 198.19.0.1\nservice web\n vip 198.19.0.1:80\n",
            "4: service web: vip 198.19.0.1:80 overlaps service all's vip 198.19.0.1 (line 1); " +
            "a vip without a port takes every port of its address");
    }

    @Test
    void policyAndFlagErrors() throws Exception
    {
        assertError("service web\n policy wrr\n",
            "2: service web: unknown policy 'wrr' (expected rr, random, hash, jsq, p2c)");
        assertError("service web\n policy RR\n",
            "2: service web: unknown policy 'RR' (expected rr, random, hash, jsq, p2c)");
        assertError("service web\n policy\n", "2: service web: expected 'policy rr|random|hash|jsq|p2c'");
        assertError("service web\n policy rr hash\n", "2: service web: expected 'policy rr|random|hash|jsq|p2c'");
        assertError("service web\n policy rr\n policy hash\n",
            "3: service web: policy given twice (first at line 2)");
        assertError("service web\n redirect-unmarked yes\n", "2: service web: expected 'redirect-unmarked' alone");
        assertError("service web\n redirect-unmarked\n\n redirect-unmarked\n",
            "4: service web: redirect-unmarked given twice (first at line 2)");
        assertError("service web\n fallback nat\n",
            "2: service web: unknown fallback 'nat' (expected dsr or translate)");
        assertError("service web\n fallback\n", "2: service web: expected 'fallback dsr|translate'");
        assertError("service web\n fallback dsr\n fallback translate\n",
            "3: service web: fallback given twice (first at line 2)");
    }

    @Test
    void theFallbackIsDirectServerReturnUnlessTheServiceSaysTranslate() throws Exception
    {
        final LbConfig config = read("service node-port\n vip 198.19.0.1:30080\n fallback translate\n" +
            " backend 198.18.1.101:8080\nservice plain\n vip 198.19.0.2:80\nservice said\n vip 198.19.0.3:80\n" +
            " fallback dsr\n");
        assertEquals(new ServiceConfig("node-port", HostPort.parse("198.19.0.1:30080"), Policy.RR, false,
            FallbackMode.TRANSLATE, 0, List.of(new BackendConfig(HostPort.parse("198.18.1.101:8080"), 1,
            BackendState.ACTIVE, 4)), 1), config.services().get(0));
        assertEquals(FallbackMode.DSR, config.services().get(1).fallback());
        assertEquals(FallbackMode.DSR, config.services().get(2).fallback());
    }

    @Test
    void affinityIsClientIpWithATimeoutOfWholeSecondsUpToADayThreeHoursIfNoneIsGiven() throws Exception
    {
        final LbConfig config = read("service a\n vip 198.19.0.1:80\n affinity client-ip 10800s\n" +
            "service b\n vip 198.19.0.2:80\n affinity client-ip\n" +
            "service c\n vip 198.19.0.3:80\n affinity client-ip 90m\n" +
            "service d\n vip 198.19.0.4:80\n affinity client-ip 24h\n" +
            "service e\n vip 198.19.0.5:80\n affinity client-ip 1s\n" +
            "service f\n vip 198.19.0.6:80\n affinity none\n" +
            "service g\n vip 198.19.0.7:80\n policy jsq\n");
        assertEquals(List.of(10800, 10800, 5400, 86400, 1, 0, 0),
            config.services().stream().map(ServiceConfig::affinitySeconds).toList());
        assertEquals(List.of("client-ip 3h", "client-ip 3h", "client-ip 90m", "client-ip 24h", "client-ip 1s",
            "none", "none"), config.services().stream().map(ServiceConfig::affinityText).toList());
        assertEquals(Policy.JSQ, config.services().get(6).policy(), "affinity and policy are apart");
    }

    @Test
    void affinityErrors() throws Exception
    {
        final String web = "service web\n vip 198.19.0.1:80\n";
        assertError(web + " affinity\n", "3: service web: expected 'affinity none|client-ip [TIMEOUT]'");
        assertError(web + " affinity none 3h\n", "3: service web: expected 'affinity none|client-ip [TIMEOUT]'");
        assertError(web + " affinity client-ip 3h 4h\n",
            "3: service web: expected 'affinity none|client-ip [TIMEOUT]'");
        assertError(web + " affinity source-ip\n",
            "3: service web: unknown affinity 'source-ip' (expected none or client-ip)");
        assertError(web + " affinity client-ip 3\n", "3: service web: affinity timeout '3' is not a duration " +
            "(digits and ms, s, m or h: e.g. 500ms, 5s, 3m, 3h)");
        assertError(web + " affinity client-ip 03h\n", "3: service web: affinity timeout '03h': has a leading zero");
        assertError(web + " affinity client-ip -3h\n", "3: service web: affinity timeout '-3h' is not a duration " +
            "(digits and ms, s, m or h: e.g. 500ms, 5s, 3m, 3h)");
        assertError(web + " affinity client-ip 0s\n",
            "3: service web: affinity timeout '0s': must be whole seconds from 1s to 24h");
        assertError(web + " affinity client-ip 1500ms\n",
            "3: service web: affinity timeout '1500ms': must be whole seconds from 1s to 24h");
        assertError(web + " affinity client-ip 86401s\n",
            "3: service web: affinity timeout '86401s': must be whole seconds from 1s to 24h");
        assertError(web + " affinity client-ip 25h\n",
            "3: service web: affinity timeout '25h': must be whole seconds from 1s to 24h");
        assertError(web + " affinity client-ip\n affinity none\n",
            "4: service web: affinity given twice (first at line 3)");
        assertError("affinity client-ip\n", "1: 'affinity' outside a service (start one with 'service NAME')");
    }

    @Test
    void allowFromTakesPrefixesOverOneOrMoreLinesAndNoBackendTakesPassOrDrop() throws Exception
    {
        final LbConfig config = read("""
            service lb
                vip 198.19.0.1:80
                allow-from 198.18.0.0/24,198.18.5.7/32
                allow-from 198.18.6.0/23, 10.0.0.0/8   203.0.113.0/24
                no-backend drop
            service open
                vip 198.19.0.2:80
            service said
                vip 198.19.0.3:80
                no-backend pass
            """);
        assertEquals(new ServiceConfig("lb", HostPort.parse("198.19.0.1:80"), Policy.RR, false, FallbackMode.DSR,
            List.of(Cidr.parse("198.18.0.0/24"), Cidr.parse("198.18.5.7/32"), Cidr.parse("198.18.6.0/23"),
                Cidr.parse("10.0.0.0/8"), Cidr.parse("203.0.113.0/24")), NoBackendAction.DROP, List.of(), 1),
            config.services().get(0));
        assertEquals(List.of(), config.services().get(1).allowFrom(), "no line: every client");
        assertEquals(NoBackendAction.PASS, config.services().get(1).noBackend(), "the default");
        assertEquals(NoBackendAction.PASS, config.services().get(2).noBackend());
        assertEquals(List.of(Cidr.ANY), read("service a\n vip 198.19.0.1\n allow-from 0.0.0.0/0\n").services()
            .get(0).allowFrom(), "0.0.0.0/0 is a prefix like any other");
    }

    @Test
    void allowFromAndNoBackendErrors() throws Exception
    {
        final String web = "service web\n vip 198.19.0.1:80\n";
        final String usage = "expected 'allow-from A.B.C.D/N[,A.B.C.D/N...]'";
        assertError(web + " allow-from\n", "3: service web: " + usage);
        assertError(web + " allow-from 198.18.0.0/24,\n", "3: service web: " + usage);
        assertError(web + " allow-from ,198.18.0.0/24\n", "3: service web: " + usage);
        assertError(web + " allow-from 198.18.0.0/24,,198.18.1.0/24\n", "3: service web: " + usage);
        assertError(web + " allow-from 198.18.0.0/33\n",
            "3: service web: allow-from '198.18.0.0/33': prefix length must be 0..32");
        assertError(web + " allow-from 198.18.0.1/24\n",
            "3: service web: allow-from '198.18.0.1/24': host bits set; did you mean 198.18.0.0/24?");
        assertError(web + " allow-from 198.18.0.7\n",
            "3: service web: allow-from '198.18.0.7': not a prefix (A.B.C.D/N)");
        assertError(web + " allow-from 198.18.0.300/32\n",
            "3: service web: allow-from '198.18.0.300/32': not an IPv4 address (300 is over 255)");
        assertError(web + " allow-from 198.18.0.0/24\n backend 198.18.0.101\n" +
            " allow-from 198.18.1.0/24 198.18.0.0/24\n",
            "5: service web: allow-from 198.18.0.0/24 is listed twice (first at line 3)");
        assertError(web + " no-backend\n", "3: service web: expected 'no-backend pass|drop'");
        assertError(web + " no-backend reject\n",
            "3: service web: unknown no-backend 'reject' (expected pass or drop)");
        assertError(web + " no-backend drop\n no-backend drop\n",
            "4: service web: no-backend given twice (first at line 3)");
        assertError(web + " no-backend drop pass\n", "3: service web: expected 'no-backend pass|drop'");
    }

    @Test
    void allowedPrefixesOfAllServicesMustFitTheDataPath() throws Exception
    {
        final StringBuilder file = new StringBuilder();
        int line = 0;
        int prefixes = 0;
        for (int s = 0; prefixes <= Abi.Consts.CRAB_MAX_SOURCE_RANGES; s++)
        {
            file.append("service s").append(s).append("\n vip 198.19.0.").append(s + 1).append('\n');
            line += 2;
            for (int i = 0; i < 250 && prefixes <= Abi.Consts.CRAB_MAX_SOURCE_RANGES; i++, prefixes++)
            {
                file.append(" allow-from 10.").append(s).append('.').append(i).append(".0/24\n");
                line++;
            }
        }
        // 1025 prefixes: four services of 250, the fifth's 25th goes over.
        assertError(file.toString(), line + ": service s4: allow-from 10.4.24.0/24: too many prefixes (at most " +
            Abi.Consts.CRAB_MAX_SOURCE_RANGES + " over all services)");
    }

    @Test
    void backendErrors() throws Exception
    {
        final String web = "service web\n vip 198.19.0.1:80\n";
        assertError(web + " backend\n", "3: service web: expected 'backend IP[:PORT] [weight N] [draining]'");
        assertError(web + " backend 198.18.0.300\n",
            "3: service web: backend '198.18.0.300': not an IPv4 address (300 is over 255)");
        assertError(web + " backend 198.18.0.101:0\n",
            "3: service web: backend '198.18.0.101:0': port must be 1..65535");
        assertError(web + " backend 198.18.0.101 weight\n",
            "3: service web: weight needs a number: 'backend IP[:PORT] [weight N] [draining]'");
        assertError(web + " backend 198.18.0.101 weight x\n", "3: service web: weight is not a number (digits 0-9 only), got 'x'");
        assertError(web + " backend 198.18.0.101 weight 0\n", "3: service web: weight must be 1..100, got '0'");
        assertError(web + " backend 198.18.0.101 weight 101\n", "3: service web: weight must be 1..100, got '101'");
        assertError(web + " backend 198.18.0.101 weight +3\n",
            "3: service web: weight is not a number (digits 0-9 only), got '+3'");
        assertError(web + " backend 198.18.0.101 weight 03\n", "3: service web: weight has a leading zero, got '03'");
        assertError(web + " backend 198.18.0.+11\n",
            "3: service web: backend '198.18.0.+11': not an IPv4 address ('+11' is not a number 0..255)");
        assertError(web + " backend 010.0.0.1\n", "3: service web: backend '010.0.0.1': not an IPv4 address " +
            "('010' has a leading zero, which some tools read as octal)");
        assertError(web + " backend 198.18.0.101 weight 2 weight 3\n", "3: service web: weight given twice");
        assertError(web + " backend 198.18.0.101 draining draining\n", "3: service web: draining given twice");
        assertError(web + " backend 198.18.0.101 weight=3\n",
            "3: service web: unknown backend option 'weight=3' (expected weight N or draining)");
        assertError(web + " backend 198.18.0.101 drain\n",
            "3: service web: unknown backend option 'drain' (expected weight N or draining)");
        assertError(web + " backend 198.18.0.101\n backend 198.18.0.102\n backend 198.18.0.101 weight 3\n",
            "5: service web: backend 198.18.0.101 is listed twice (first at line 3)");
    }

    @Test
    void aBackendNamesAPortOnlyWhenItsVipHasOneWhicheverLineComesFirst() throws Exception
    {
        assertError("service all\n vip 198.19.0.1\n backend 198.18.0.101:8080\n",
            "3: service all: backend 198.18.0.101:8080 names a port but vip 198.19.0.1 balances every port; " +
            "give the vip a port to redirect ports");
        assertError("service all\n backend 198.18.0.101\n backend 198.18.0.102:8080\n vip 198.19.0.1\n",
            "4: service all: vip 198.19.0.1 balances every port but backend 198.18.0.102:8080 (line 3) names a " +
            "port; give the vip a port to redirect ports");
    }

    @Test
    void limitsNameTheServiceAndTheLineThatGoesOver() throws Exception
    {
        final ConfigLimits small = new ConfigLimits(2, 3, 4, 10);
        assertError(small, "service a\n vip 198.19.0.1\nservice b\n vip 198.19.0.2\nservice c\n vip 198.19.0.3\n",
            "5: service c: too many services (at most 2)");
        assertError(small, "service a\n vip 198.19.0.1\n backend 198.18.0.1\n backend 198.18.0.2\n" +
            " backend 198.18.0.3 draining\n backend 198.18.0.4\n",
            "6: service a: too many backends (at most 3 per service)");
        assertError(small, "service a\n vip 198.19.0.1\n backend 198.18.0.1\n backend 198.18.0.2\n" +
            " backend 198.18.0.3\nservice b\n vip 198.19.0.2\n backend 198.18.0.1\n backend 198.18.0.4\n" +
            " backend 198.18.0.5\n",
            "10: service b: backend 198.18.0.5: too many distinct backends (at most 4 over all services)");
        assertError(small, "service a\n vip 198.19.0.1\n backend 198.18.0.1 weight 5\n" +
            " backend 198.18.0.2 weight 20 draining\n backend 198.18.0.3 weight 6\n",
            "5: service a: weights of active backends add up to 11, more than the 10 slots of a service");

        final LbConfig full = ServicesFile.read(write("service a\n vip 198.19.0.1\n backend 198.18.0.1 weight 5\n" +
            " backend 198.18.0.2 weight 90 draining\n backend 198.18.0.3 weight 5\nservice b\n vip 198.19.0.2\n" +
            " backend 198.18.0.1 weight 8\n backend 198.18.0.2\n backend 198.18.0.4\n"), small);
        assertEquals(2, full.services().size(), "every limit reached, none passed; draining takes no slots");
        assertThrows(IllegalArgumentException.class, () -> new ConfigLimits(64, 0, 1024, 256));
    }

    @Test
    void theFirstErrorReadingDownTheFileWins() throws Exception
    {
        assertError("service web\n vip 198.19.0.1\n backend 198.18.0.101 weight 0\n policy wrr\nbogus\n",
            "3: service web: weight must be 1..100, got '0'");
        assertError("service web\n vip 198.19.0.300\n", "2: service web: vip '198.19.0.300': not an IPv4 address " +
            "(300 is over 255)");
        assertError("service web\n backend 198.18.0.101\nservice web\n vip 198.19.0.1\n",
            "1: service web: no vip (expected one 'vip A.B.C.D[:PORT]' line)");
        assertError("service a\n vip 198.19.0.1\nservice b\n vip 198.19.0.1\n backend 1.2.3.4 weight 0\n",
            "4: service b: vip 198.19.0.1 is already service a's (line 1)");
    }

    private void assertError(final String content, final String expected) throws Exception
    {
        assertError(LIMITS, content, expected);
    }

    private void assertError(final ConfigLimits limits, final String content, final String expected)
        throws Exception
    {
        final Path file = write(content);
        final ConfigException ex = assertThrows(ConfigException.class, () -> ServicesFile.read(file, limits));
        assertEquals(file + (expected.startsWith(":") ? "" : ":") + expected, ex.getMessage());
    }

    private LbConfig read(final String content) throws Exception
    {
        return ServicesFile.read(write(content), LIMITS);
    }

    private Path write(final String content) throws Exception
    {
        final Path file = Files.createTempFile(dir, "services", ".conf");
        Files.writeString(file, content);
        return file;
    }
}

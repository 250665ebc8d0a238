// Flags of the grpc-java interop programs in the interop programs' spellings ("--name=value",
// "--name value", bare booleans), and gRPC's interop test credentials, looked up as
// tests/interop/grpc_test_credentials.h does.

import java.io.File;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class InteropFlags {
  private InteropFlags() {}

  private static final Set<String> BOOLEANS = new HashSet<>(List.of("use_tls", "use_test_ca"));

  static Map<String, String> parse(String[] args, String... known) {
    Set<String> names = new HashSet<>(Arrays.asList(known));
    Map<String, String> flags = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (!arg.startsWith("--")) usage("unexpected argument '" + arg + "'");
      String name = arg.substring(2);
      String value = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (!names.contains(name)) usage("unknown flag --" + name);
      if (value == null) {
        boolean next = i + 1 < args.length && !args[i + 1].startsWith("--");
        if (BOOLEANS.contains(name)) {
          value = next && (args[i + 1].equals("true") || args[i + 1].equals("false")) ? args[++i] : "true";
        } else if (next) {
          value = args[++i];
        } else {
          usage("flag --" + name + " needs a value");
        }
      }
      flags.put(name, value);
    }
    return flags;
  }

  static boolean bool(Map<String, String> flags, String name) {
    return "true".equals(flags.getOrDefault(name, "false"));
  }

  /** The path of gRPC's test credential `file` (ca.pem, server1.pem, server1.key). */
  static String testCredential(String file) {
    String env = System.getenv("H2RPC_INTEROP_TEST_CREDS");
    for (String dir : new String[] {env, "/usr/share/gocode/src/google.golang.org/grpc/testdata"}) {
      if (dir == null || dir.isEmpty()) continue;
      File f = new File(dir, file);
      if (f.isFile()) return f.getPath();
    }
    usage("gRPC's test credential " + file + " not found in $H2RPC_INTEROP_TEST_CREDS or "
        + "/usr/share/gocode/src/google.golang.org/grpc/testdata (golang-google-grpc-dev)");
    return "";
  }

  static void usage(String why) {
    System.err.println("grpcjava interop: " + why);
    System.exit(2);
  }
}

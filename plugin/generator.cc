// protoc-gen-h2rpc code generation. The output is plain text built here and written in one piece,
// so the plugin depends only on the long-stable parts of libprotoc (CodeGenerator, descriptors,
// cpp::QualifiedClassName) and builds against protobuf 3.21 as well as newer releases.
//
// Naming rules, chosen to match protoc's C++ generator so that generated code always agrees with
// the .pb.h it includes:
//  - messages are named by cpp::QualifiedClassName ("::pkg::sub::Outer_Inner", keywords get '_');
//  - the package "a.b.c" becomes namespace a::b::c (as protoc does, without escaping);
//  - a service or method name that is a C++ keyword, or that would collide with the generated
//    members (a nested class "Stub"/"Service", the member "channel_"), gets a trailing '_' in
//    C++ identifiers; the wire path keeps the proto name ("/pkg.Svc/delete").
#include "plugin/generator.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/compiler/cpp/names.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>

namespace h2rpc::plugin {

namespace {

namespace pb = google::protobuf;

/// Output lines are wrapped at the repository's clang-format column limit.
constexpr size_t kColumnLimit = 100;

/// C++20 keywords and alternative tokens, plus the macro-like names protoc also escapes.
constexpr std::string_view kCppKeywords[] = {
    "NULL",         "alignas",   "alignof",       "and",
    "and_eq",       "asm",       "auto",          "bitand",
    "bitor",        "bool",      "break",         "case",
    "catch",        "char",      "char8_t",       "char16_t",
    "char32_t",     "class",     "co_await",      "co_return",
    "co_yield",     "compl",     "concept",       "const",
    "const_cast",   "consteval", "constexpr",     "constinit",
    "continue",     "decltype",  "default",       "delete",
    "do",           "double",    "dynamic_cast",  "else",
    "enum",         "explicit",  "export",        "extern",
    "false",        "float",     "for",           "friend",
    "goto",         "if",        "inline",        "int",
    "long",         "mutable",   "namespace",     "new",
    "noexcept",     "not",       "not_eq",        "nullptr",
    "operator",     "or",        "or_eq",         "private",
    "protected",    "public",    "register",      "reinterpret_cast",
    "requires",     "return",    "short",         "signed",
    "sizeof",       "static",    "static_assert", "static_cast",
    "struct",       "switch",    "template",      "this",
    "thread_local", "throw",     "true",          "try",
    "typedef",      "typeid",    "typename",      "union",
    "unsigned",     "using",     "virtual",       "void",
    "volatile",     "wchar_t",   "while",         "xor",
    "xor_eq",
};

bool IsCppKeyword(std::string_view name) {
  return std::find(std::begin(kCppKeywords), std::end(kCppKeywords), name) !=
         std::end(kCppKeywords);
}

/// C++ name of a service's outer class. "Stub" and "Service" are escaped because the outer class
/// has nested classes of those names, and a nested class may not share its enclosing class's name.
std::string ServiceClassName(const pb::ServiceDescriptor* service) {
  std::string name(service->name());
  if (IsCppKeyword(name) || name == "Stub" || name == "Service") name += '_';
  return name;
}

/// C++ name of a method in Stub and Service (the same in both, so the API reads the same on
/// either side). "Stub"/"Service" would be constructors there; "channel_" is Stub's member.
std::string MethodName(const pb::MethodDescriptor* method) {
  std::string name(method->name());
  if (IsCppKeyword(name) || name == "Stub" || name == "Service" || name == "channel_") name += '_';
  return name;
}

/// The constant holding a method's full name. The proto name is kept verbatim (the prefix and
/// suffix already make it a valid, non-keyword identifier, and unique per method).
std::string MethodConstant(const pb::MethodDescriptor* method) {
  return "k" + std::string(method->name()) + "Method";
}

std::string MethodPath(const pb::MethodDescriptor* method) {
  return "/" + std::string(method->service()->full_name()) + "/" + std::string(method->name());
}

/// "a.b.c" -> "a::b::c"; "" for no package.
std::string CppNamespace(const pb::FileDescriptor* file) {
  std::string ns(file->package());
  for (size_t pos = ns.find('.'); pos != std::string::npos; pos = ns.find('.', pos + 2)) {
    ns.replace(pos, 1, "::");
  }
  return ns;
}

/// Fully qualified C++ name of the service's class, for references that must not be captured by a
/// same-named member (a method may be called like the service or like a constant).
std::string QualifiedServiceClass(const pb::ServiceDescriptor* service) {
  std::string ns = CppNamespace(service->file());
  return (ns.empty() ? "::" : "::" + ns + "::") + ServiceClassName(service);
}

std::string MessageType(const pb::Descriptor* message) {
  return google::protobuf::compiler::cpp::QualifiedClassName(message);
}

/// Replaces each $name$ in `text` by vars[name] ("$$" is a literal '$').
std::string Substitute(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size() + 64);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find('$', pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    size_t close = text.find('$', open + 1);
    if (close == std::string_view::npos) {
      out.append(text.substr(open));
      break;
    }
    std::string name(text.substr(open + 1, close - open - 1));
    if (name.empty()) {
      out += '$';
    } else {
      auto it = vars.find(name);
      out += it == vars.end() ? "$" + name + "$" : it->second;
    }
    pos = close + 1;
  }
  return out;
}

/// Packs `params` after `first` (which ends with '('), breaking lines at the column limit and
/// starting each new line with `continuation`; the last parameter is followed by ")" + tail.
std::string PackParameters(const std::string& first, const std::string& continuation,
                           const std::vector<std::string>& params, const std::string& tail) {
  std::string out = first;
  size_t column =
      first.size() - (first.rfind('\n') == std::string::npos ? 0 : first.rfind('\n') + 1);
  bool at_line_start = true;
  for (size_t i = 0; i < params.size(); ++i) {
    std::string piece = params[i] + (i + 1 < params.size() ? "," : ")" + tail);
    if (!at_line_start && column + 1 + piece.size() > kColumnLimit) {
      out += "\n" + continuation;
      column = continuation.size();
      at_line_start = true;
    }
    if (!at_line_start) {
      out += ' ';
      ++column;
    }
    out += piece;
    column += piece.size();
    at_line_start = false;
  }
  if (params.empty()) out += ")" + tail;
  return out + "\n";
}

/// True if every line of `text` fits in the column limit.
bool Fits(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end - start > kColumnLimit) return false;
    start = end + 1;
  }
  return true;
}

/// Lays out `ret name(params...)tail` roughly as clang-format (Google style, 100 columns) does:
/// on one line if it fits; else parameters aligned after '('; else the return type on a line of
/// its own; else a break after '(' with a 4-space continuation indent. `ret` may be empty (calls).
std::string Signature(const std::string& indent, const std::string& ret, const std::string& name,
                      const std::vector<std::string>& params, const std::string& tail) {
  const std::string head = ret.empty() ? name : ret + " " + name;
  std::string one_line = indent + head + "(";
  for (size_t i = 0; i < params.size(); ++i) one_line += (i ? ", " : "") + params[i];
  one_line += ")" + tail + "\n";
  if (Fits(one_line)) return one_line;

  std::string first = indent + head + "(";
  std::string aligned = PackParameters(first, std::string(first.size(), ' '), params, tail);
  if (Fits(aligned)) return aligned;
  if (!ret.empty()) {
    std::string own_line = indent + ret + "\n" + indent + name + "(";
    std::string split =
        PackParameters(own_line, std::string(indent.size() + name.size() + 1, ' '), params, tail);
    if (Fits(split)) return split;
  }
  std::string continuation = indent + "    ";
  return PackParameters(first + "\n" + continuation, continuation, params, tail);
}

/// The proto comments attached to `descriptor`, as `//` lines at `indent`.
template <class Descriptor>
std::string Comments(const Descriptor* descriptor, const std::string& indent) {
  pb::SourceLocation location;
  if (!descriptor->GetSourceLocation(&location)) return "";
  std::string text = location.leading_comments;
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    // Trailing blanks are noise; a trailing backslash would splice the next line into the comment.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r' ||
                             line.back() == '\\')) {
      line.pop_back();
    }
    out += line.empty() ? indent + "//\n" : indent + "//" + line + "\n";
  }
  return out;
}

enum class Kind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming };

Kind KindOf(const pb::MethodDescriptor* method) {
  if (method->client_streaming()) {
    return method->server_streaming() ? Kind::kBidiStreaming : Kind::kClientStreaming;
  }
  return method->server_streaming() ? Kind::kServerStreaming : Kind::kUnary;
}

/// Everything the templates need about one method.
struct MethodInfo {
  const pb::MethodDescriptor* method;
  Kind kind;
  std::map<std::string, std::string> vars;
  std::string stub_return;               // return type of the Stub method
  std::vector<std::string> stub_params;  // parameters of the Stub method
  std::vector<std::string> handler_params;
};

MethodInfo DescribeMethod(const pb::MethodDescriptor* method) {
  MethodInfo info{method, KindOf(method), {}, {}, {}, {}};
  const std::string req = MessageType(method->input_type());
  const std::string resp = MessageType(method->output_type());
  info.vars = {
      {"Method", MethodName(method)},
      {"kMethod", MethodConstant(method)},
      {"path", MethodPath(method)},
      {"Request", req},
      {"Response", resp},
      {"QService", QualifiedServiceClass(method->service())},
  };
  const std::string ctx = "::h2rpc::ClientContext* context";
  const std::string server_ctx = "::h2rpc::ServerContext* context";
  switch (info.kind) {
    case Kind::kUnary:
      info.stub_return = "::h2rpc::Status";
      info.stub_params = {ctx, "const " + req + "& request", resp + "* response"};
      info.handler_params = {server_ctx, "const " + req + "* request", resp + "* response"};
      break;
    case Kind::kServerStreaming:
      info.stub_return = "std::unique_ptr<::h2rpc::ClientReader<" + resp + ">>";
      info.stub_params = {ctx, "const " + req + "& request"};
      info.handler_params = {server_ctx, "const " + req + "* request",
                             "::h2rpc::ServerWriter<" + resp + ">* writer"};
      break;
    case Kind::kClientStreaming:
      info.stub_return = "std::unique_ptr<::h2rpc::ClientWriter<" + req + ">>";
      info.stub_params = {ctx, resp + "* response"};
      info.handler_params = {server_ctx, "::h2rpc::ServerReader<" + req + ">* reader",
                             resp + "* response"};
      break;
    case Kind::kBidiStreaming:
      info.stub_return = "std::unique_ptr<::h2rpc::ClientReaderWriter<" + req + ", " + resp + ">>";
      info.stub_params = {ctx};
      info.handler_params = {server_ctx,
                             "::h2rpc::ServerReaderWriter<" + resp + ", " + req + ">* stream"};
      break;
  }
  return info;
}

/// A parameter list without names (definitions of handlers that ignore their arguments).
std::vector<std::string> Unnamed(const std::vector<std::string>& params) {
  std::vector<std::string> out;
  for (const std::string& p : params) out.push_back(p.substr(0, p.rfind(' ')));
  return out;
}

/// Names of the parameters in a parameter list, comma-separated (for forwarding calls).
std::string ArgumentNames(const std::vector<std::string>& params) {
  std::string out;
  for (const std::string& p : params) out += (out.empty() ? "" : ", ") + p.substr(p.rfind(' ') + 1);
  return out;
}

bool CheckNames(const pb::ServiceDescriptor* service, std::string* error) {
  std::map<std::string, std::string> seen;  // C++ name -> proto name
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* method = service->method(i);
    auto [it, inserted] = seen.emplace(MethodName(method), std::string(method->name()));
    if (!inserted) {
      *error = std::string(service->full_name()) + ": methods \"" + it->second + "\" and \"" +
               std::string(method->name()) + "\" both become the C++ name \"" + it->first +
               "\" (C++ keywords and the names Stub, Service and channel_ get a trailing '_')";
      return false;
    }
  }
  return true;
}

std::string HeaderFor(const pb::ServiceDescriptor* service) {
  std::string out;
  std::map<std::string, std::string> vars = {
      {"Service", ServiceClassName(service)},
      {"full_name", std::string(service->full_name())},
  };
  out += Comments(service, "");
  out += Substitute(
      "class $Service$ final {\n"
      " public:\n"
      "  static constexpr char kServiceName[] = \"$full_name$\";\n",
      vars);
  if (service->method_count() > 0) {
    out += "  // Full method names, as sent in the request's :path.\n";
  }
  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    std::string line = Substitute("  static constexpr char $kMethod$[] = \"$path$\";", m.vars);
    if (line.size() > kColumnLimit) {
      line = Substitute("  static constexpr char $kMethod$[] =\n      \"$path$\";", m.vars);
    }
    out += line + "\n";
  }
  out += Substitute(
      "  static constexpr const char* service_full_name() { return kServiceName; }\n"
      "\n"
      "  // Client side: one method per RPC. Thread-safe and cheap to create; any number of "
      "stubs,\n"
      "  // of any services, may share one Channel and then run their calls over one connection.\n"
      "  class Stub final {\n"
      "   public:\n"
      "    explicit Stub(std::shared_ptr<::h2rpc::Channel> channel);\n",
      vars);
  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    out += "\n" + Comments(m.method, "    ");
    out += Signature("    ", m.stub_return, m.vars["Method"], m.stub_params, ";");
  }
  out += Substitute(
      "\n"
      "   private:\n"
      "    $unused$std::shared_ptr<::h2rpc::Channel> channel_;\n"
      "  };\n"
      "\n"
      "  static std::unique_ptr<Stub> NewStub(std::shared_ptr<::h2rpc::Channel> channel);\n"
      "\n"
      "  // Server side: derive, override the RPCs you serve (the others answer UNIMPLEMENTED) "
      "and\n"
      "  // pass the object to ServerBuilder::RegisterService. Every call runs on its own thread.\n"
      "  class Service : public ::h2rpc::Service {\n"
      "   public:\n"
      "    Service();\n"
      "    ~Service() override;\n",
      {{"unused", service->method_count() == 0 ? "[[maybe_unused]] " : ""}});
  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    out += "\n" + Comments(m.method, "    ");
    out += Signature("    ", "virtual ::h2rpc::Status", m.vars["Method"], m.handler_params, ";");
  }
  out += "  };\n};\n";
  return out;
}

// The global that protoc's C++ generator defines in each .pb.cc for the file's descriptors:
// "descriptor_table_" + the file name with every non-alphanumeric byte written "_<hex>".
std::string DescriptorTableName(const pb::FileDescriptor* file) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "descriptor_table_";
  for (unsigned char c : std::string(file->name())) {
    if (std::isalnum(c) != 0) {
      name += static_cast<char>(c);
    } else {
      name += '_';
      if (c >= 16) name += kHex[c >> 4];
      name += kHex[c & 15];
    }
  }
  return name;
}

std::string SourceFor(const pb::ServiceDescriptor* service, bool lite_runtime) {
  std::map<std::string, std::string> vars = {{"Service", ServiceClassName(service)}};
  std::string out = Substitute(
      "$Service$::Stub::Stub(std::shared_ptr<::h2rpc::Channel> channel) : "
      "channel_(std::move(channel)) {}\n",
      vars);
  if (out.size() > kColumnLimit + 1) {
    out = Substitute(
        "$Service$::Stub::Stub(std::shared_ptr<::h2rpc::Channel> channel)\n"
        "    : channel_(std::move(channel)) {}\n",
        vars);
  }
  out += "\n";
  out += Signature("", Substitute("std::unique_ptr<$Service$::Stub>", vars),
                   Substitute("$Service$::NewStub", vars),
                   {"std::shared_ptr<::h2rpc::Channel> channel"}, " {");
  out += "  return std::make_unique<Stub>(std::move(channel));\n}\n";

  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    out += "\n";
    out += Signature("", m.stub_return, vars["Service"] + "::Stub::" + m.vars["Method"],
                     m.stub_params, " {");
    const std::string method_constant = m.vars["QService"] + "::" + m.vars["kMethod"];
    switch (m.kind) {
      case Kind::kUnary:
        out += Signature("  ", "", "return ::h2rpc::BlockingUnaryCall",
                         {"*channel_", method_constant, "*context", "request", "response"}, ";");
        break;
      case Kind::kServerStreaming:
      case Kind::kClientStreaming:
      case Kind::kBidiStreaming: {
        // The typed stream objects start the call in their constructors.
        std::string stream_type = m.stub_return.substr(std::string("std::unique_ptr<").size());
        stream_type.pop_back();
        std::vector<std::string> args = {"*channel_", method_constant, "*context"};
        if (m.kind == Kind::kServerStreaming) args.push_back("request");
        if (m.kind == Kind::kClientStreaming) args.push_back("response");
        out += Signature("  ", "", "return std::make_unique<" + stream_type + ">", args, ";");
        break;
      }
    }
    out += "}\n";
  }

  // The constructor registers one typed handler per RPC: a captureless function that forwards to
  // the virtual method, so an override in the user's subclass is what runs. A plain function
  // rather than a capturing lambda: the library then makes the one std::function, and the
  // compiler does not instantiate one per method here.
  out += Substitute("\n$Service$::Service::Service() {\n", vars);
  // protoc's C++ code has no descriptor table in the lite runtime.
  if (!lite_runtime) {
    out += "  ::h2rpc::internal::KeepLinked(&::" + DescriptorTableName(service->file()) + ");\n";
  }
  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    const char* add = "";
    switch (m.kind) {
      case Kind::kUnary:
        add = "AddUnaryHandler";
        break;
      case Kind::kServerStreaming:
        add = "AddServerStreamingHandler";
        break;
      case Kind::kClientStreaming:
        add = "AddClientStreamingHandler";
        break;
      case Kind::kBidiStreaming:
        add = "AddBidiStreamingHandler";
        break;
    }
    m.vars["Add"] = add;
    m.vars["args"] = ArgumentNames(m.handler_params);
    std::string add_line =
        Substitute("  ::h2rpc::Service::$Add$<$Request$, $Response$>(\n", m.vars);
    if (!Fits(add_line)) {
      std::string first = Substitute("  ::h2rpc::Service::$Add$<", m.vars);
      add_line = first + m.vars["Request"] + ",\n" + std::string(first.size(), ' ') +
                 m.vars["Response"] + ">(\n";
    }
    out += add_line;
    out += Substitute("      $QService$::$kMethod$,\n", m.vars);
    std::vector<std::string> params = {"::h2rpc::Service& service"};
    params.insert(params.end(), m.handler_params.begin(), m.handler_params.end());
    out += Signature("      ", "", "[]", params, " {");
    std::string call = Substitute(
        "        return static_cast<$QService$::Service&>(service).$Method$($args$);\n", m.vars);
    if (!Fits(call)) {
      call = Substitute(
          "        return static_cast<$QService$::Service&>(service)\n"
          "            .$Method$($args$);\n",
          m.vars);
    }
    out += call + "      });\n";
  }
  out += "}\n";
  out += Substitute("\n$Service$::Service::~Service() = default;\n", vars);

  for (int i = 0; i < service->method_count(); ++i) {
    MethodInfo m = DescribeMethod(service->method(i));
    out += "\n";
    out += Signature("", "::h2rpc::Status", vars["Service"] + "::Service::" + m.vars["Method"],
                     Unnamed(m.handler_params), " {");
    out += Substitute("  return ::h2rpc::internal::Unimplemented(\"$path$\");\n}\n", m.vars);
  }
  return out;
}

std::string NamespaceOpen(const pb::FileDescriptor* file) {
  std::string ns = CppNamespace(file);
  return ns.empty() ? "" : "namespace " + ns + " {\n\n";
}

std::string NamespaceClose(const pb::FileDescriptor* file) {
  std::string ns = CppNamespace(file);
  return ns.empty() ? "" : "\n}  // namespace " + ns + "\n";
}

bool WriteFile(pb::compiler::GeneratorContext* context, const std::string& name,
               const std::string& content) {
  std::unique_ptr<pb::io::ZeroCopyOutputStream> stream(context->Open(name));
  pb::io::CodedOutputStream coded(stream.get());
  coded.WriteRaw(content.data(), static_cast<int>(content.size()));
  return !coded.HadError();
}

/// "dir/x.h2rpc.h" -> "H2RPC_GENERATED_DIR_X_H2RPC_H_".
std::string IncludeGuard(std::string_view path) {
  std::string guard = "H2RPC_GENERATED_";
  for (char c : path) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    guard += !alnum ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return guard + "_";
}

}  // namespace

std::string StripProtoExtension(const std::string& filename) {
  constexpr std::string_view kExtensions[] = {".protodevel", ".proto"};
  for (std::string_view ext : kExtensions) {
    if (filename.size() > ext.size() &&
        filename.compare(filename.size() - ext.size(), ext.size(), ext) == 0) {
      return filename.substr(0, filename.size() - ext.size());
    }
  }
  return filename;
}

bool Generator::Generate(const pb::FileDescriptor* file, const std::string& parameter,
                         pb::compiler::GeneratorContext* context, std::string* error) const {
  // "lite" mirrors --cpp_opt=lite, which makes protoc write lite-runtime messages for a file
  // that does not say `option optimize_for = LITE_RUNTIME;` itself.
  if (!parameter.empty() && parameter != "lite") {
    *error = "protoc-gen-h2rpc takes no option but \"lite\", got \"" + parameter + "\"";
    return false;
  }
  const bool lite_runtime =
      parameter == "lite" || file->options().optimize_for() == pb::FileOptions::LITE_RUNTIME;
  for (int i = 0; i < file->service_count(); ++i) {
    if (!CheckNames(file->service(i), error)) return false;
  }

  const std::string base = StripProtoExtension(std::string(file->name()));
  std::map<std::string, std::string> vars = {
      {"proto", std::string(file->name())},
      {"pb_h", base + ".pb.h"},
      {"h2rpc_h", base + ".h2rpc.h"},
  };

  vars["guard"] = IncludeGuard(vars["h2rpc_h"]);
  // A file without services gets only its .pb.h, so including it costs nothing extra.
  vars["includes"] = file->service_count() == 0
                         ? Substitute("\n#include \"$pb_h$\"\n", vars)
                         : Substitute(
                               "\n#include <memory>\n\n#include \"$pb_h$\"\n"
                               "#include \"rpc/client_stream.h\"\n#include \"rpc/service.h\"\n",
                               vars);
  std::string header = Substitute(
      "// Generated by protoc-gen-h2rpc from $proto$. DO NOT EDIT.\n"
      "// h2rpc service stubs and handler bases; the messages are in \"$pb_h$\".\n"
      "#ifndef $guard$\n"
      "#define $guard$\n"
      "$includes$",
      vars);
  // The generated .cc needs only the names of Channel and the contexts; everyone else who
  // includes the header gets their definitions too. Outside the include guard, so that a second
  // inclusion (a unity build) still brings them in.
  const std::string full_api =
      file->service_count() == 0
          ? ""
          : "\n#ifndef H2RPC_GENERATED_SOURCE  // defined only by the generated .cc\n"
            "#include \"rpc/channel.h\"\n"
            "#include \"rpc/client_context.h\"\n"
            "#include \"rpc/server_context.h\"\n"
            "#endif\n";
  // Defined around the include: the .cc skips the full API (C++20's <chrono> alone is a tenth
  // of its compile time).
  std::string source = Substitute(
      "// Generated by protoc-gen-h2rpc from $proto$. DO NOT EDIT.\n"
      "#define H2RPC_GENERATED_SOURCE\n"
      "#include \"$h2rpc_h$\"\n"
      "#undef H2RPC_GENERATED_SOURCE\n"
      "\n"
      "#include <utility>\n",
      vars);

  if (file->service_count() > 0) {
    header += "\n" + NamespaceOpen(file);
    source += "\n" + NamespaceOpen(file);
    for (int i = 0; i < file->service_count(); ++i) {
      if (i > 0) {
        header += "\n";
        source += "\n";
      }
      header += HeaderFor(file->service(i));
      source += SourceFor(file->service(i), lite_runtime);
    }
    header += NamespaceClose(file);
    source += NamespaceClose(file);
  }

  header += Substitute("\n#endif  // $guard$\n", vars) + full_api;

  if (!WriteFile(context, base + ".h2rpc.h", header) ||
      !WriteFile(context, base + ".h2rpc.cc", source)) {
    *error = "cannot write the output files for " + std::string(file->name());
    return false;
  }
  return true;
}

}  // namespace h2rpc::plugin

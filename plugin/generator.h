// protoc-gen-h2rpc's code generator: <name>.h2rpc.h / <name>.h2rpc.cc beside protoc's
// <name>.pb.h / <name>.pb.cc, one class per service with a Stub (client) and a Service (server).
#pragma once

#include <cstdint>
#include <string>

#include <google/protobuf/compiler/code_generator.h>

namespace h2rpc::plugin {

/// Generates the h2rpc service code for one .proto file. Stateless: protoc calls Generate() once
/// per file named on its command line. Its one option, "lite" (--h2rpc_opt=lite, to go with
/// --cpp_opt=lite), writes code for protobuf's lite runtime; it fails with a message if given
/// any other option, or if two methods of a service map to the same C++ name.
class Generator final : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;

  /// proto3 `optional` fields need nothing from us (they live in the messages), but protoc
  /// refuses to run a plugin that does not declare it understands them.
  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

/// "dir/name.proto" -> "dir/name" (what protoc puts before ".pb.h").
std::string StripProtoExtension(const std::string& filename);

}  // namespace h2rpc::plugin

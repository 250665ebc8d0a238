// protoc-gen-h2rpc: protoc plugin generating h2rpc service stubs and handler bases.
//
//   protoc --plugin=protoc-gen-h2rpc=/path/to/protoc-gen-h2rpc
//          --cpp_out=OUT --h2rpc_out=OUT -I ROOT ROOT/dir/name.proto   (one command line)
//
// writes OUT/dir/name.h2rpc.h and OUT/dir/name.h2rpc.cc next to protoc's name.pb.h/.pb.cc.
#include <google/protobuf/compiler/plugin.h>

#include "plugin/generator.h"

int main(int argc, char* argv[]) {
  h2rpc::plugin::Generator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}

// ReflectionService: gRPC server reflection (grpc.reflection.v1 and v1alpha) for an h2rpc
// server.
//
// With it, tools that know nothing of your .proto files — grpcurl, ghz, buf curl, Postman,
// grpc_cli — list the server's services and call them:
//
//   h2rpc::ReflectionService reflection;
//   builder.RegisterService(&greeter);
//   builder.RegisterService(reflection.service());   // serves both protocol versions
//
// It lists every service the server serves (what ServerBuilder::BuildAndStart reports to it)
// and answers each file or symbol question with descriptors from protobuf's generated pool:
// the messages and services compiled into the program by protoc's C++ generator. A service
// registered with ServerBuilder::RegisterMethod alone is listed but has no descriptor
// (NOT_FOUND). The service object must outlive the servers it is registered with; it may be
// registered with several (the listing is the last one built).
#pragma once

#include <memory>

namespace google::protobuf {
class DescriptorPool;
}

namespace h2rpc {

class Service;

class ReflectionService {
 public:
  /// `pool`: where to look files and symbols up; null is protobuf's generated pool.
  explicit ReflectionService(const google::protobuf::DescriptorPool* pool = nullptr);
  ~ReflectionService();
  ReflectionService(const ReflectionService&) = delete;
  ReflectionService& operator=(const ReflectionService&) = delete;

  /// What to pass to ServerBuilder::RegisterService.
  Service* service();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace h2rpc

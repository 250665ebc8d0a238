#include "services/reflection/reflection_service.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "reflection_v1.pb.h"
#include "reflection_v1alpha.pb.h"
#include "rpc/service.h"

namespace h2rpc {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;

// Adds `file` and then the files it imports, depth first, each at most once per response: a
// client needs every import to build the file, and the ones it already has cost only bytes.
template <class FileDescriptorResponse>
void AddFileAndImports(const FileDescriptor* file, std::unordered_set<std::string>* added,
                       FileDescriptorResponse* out) {
  if (!added->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->add_file_descriptor_proto(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndImports(file->dependency(i), added, out);
  }
}

}  // namespace

class ReflectionService::Impl final : public Service {
 public:
  explicit Impl(const DescriptorPool* pool)
      : pool_(pool != nullptr ? pool : DescriptorPool::generated_pool()) {
    // The two protocol versions differ only in their package; the same code serves both.
    Register<grpc::reflection::v1::ServerReflectionRequest,
             grpc::reflection::v1::ServerReflectionResponse>("grpc.reflection.v1");
    Register<grpc::reflection::v1alpha::ServerReflectionRequest,
             grpc::reflection::v1alpha::ServerReflectionResponse>("grpc.reflection.v1alpha");
  }

  void OnServerStarting(const std::vector<std::string>& service_names) override {
    std::lock_guard lock(mu_);
    service_names_ = service_names;
  }

 private:
  template <class Request, class Response>
  void Register(const std::string& package) {
    AddBidiStreamingMethod<Request, Response>(
        "/" + package + ".ServerReflection/ServerReflectionInfo",
        [this](ServerContext*, ServerReaderWriter<Response, Request>* stream) {
          Request request;
          while (stream->Read(&request)) {
            Response response;
            Answer(request, &response);
            if (!stream->Write(response)) break;
          }
          return Status::Ok();
        });
  }

  template <class Request, class Response>
  void Answer(const Request& request, Response* response) const {
    response->set_valid_host(request.host());
    *response->mutable_original_request() = request;
    const FileDescriptor* file = nullptr;
    std::string not_found;
    switch (request.message_request_case()) {
      case Request::kFileByFilename:
        file = pool_->FindFileByName(request.file_by_filename());
        not_found = "file not found: " + request.file_by_filename();
        break;
      case Request::kFileContainingSymbol:
        file = pool_->FindFileContainingSymbol(request.file_containing_symbol());
        not_found = "symbol not found: " + request.file_containing_symbol();
        break;
      case Request::kFileContainingExtension: {
        const auto& ext = request.file_containing_extension();
        const Descriptor* type = pool_->FindMessageTypeByName(ext.containing_type());
        const FieldDescriptor* field =
            type != nullptr ? pool_->FindExtensionByNumber(type, ext.extension_number()) : nullptr;
        if (field != nullptr) file = field->file();
        not_found = "extension not found: " + ext.containing_type() + " field " +
                    std::to_string(ext.extension_number());
        break;
      }
      case Request::kAllExtensionNumbersOfType: {
        const Descriptor* type =
            pool_->FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (type == nullptr) {
          SetError(response, StatusCode::kNotFound,
                   "message type not found: " + request.all_extension_numbers_of_type());
          return;
        }
        std::vector<const FieldDescriptor*> extensions;
        pool_->FindAllExtensions(type, &extensions);
        auto* out = response->mutable_all_extension_numbers_response();
        out->set_base_type_name(type->full_name());
        for (const FieldDescriptor* e : extensions) out->add_extension_number(e->number());
        return;
      }
      case Request::kListServices: {
        auto* out = response->mutable_list_services_response();
        std::lock_guard lock(mu_);
        for (const std::string& name : service_names_) out->add_service()->set_name(name);
        return;
      }
      default:
        SetError(response, StatusCode::kInvalidArgument, "the request asks nothing");
        return;
    }
    if (file == nullptr) {
      SetError(response, StatusCode::kNotFound, not_found);
      return;
    }
    std::unordered_set<std::string> added;
    AddFileAndImports(file, &added, response->mutable_file_descriptor_response());
  }

  template <class Response>
  static void SetError(Response* response, StatusCode code, const std::string& message) {
    auto* error = response->mutable_error_response();
    error->set_error_code(static_cast<int>(code));
    error->set_error_message(message);
  }

  const DescriptorPool* pool_;
  mutable std::mutex mu_;
  std::vector<std::string> service_names_;  // guarded by mu_
};

ReflectionService::ReflectionService(const DescriptorPool* pool)
    : impl_(std::make_unique<Impl>(pool)) {}
ReflectionService::~ReflectionService() = default;

Service* ReflectionService::service() { return impl_.get(); }

}  // namespace h2rpc

// ClientCallState: the rpc layer's name for one client call's shared state.
//
// The public headers (ClientCall, ClientContext) hold it by this name; the state itself and its
// threading rules live in the transport (transport/client_stream_state.h), which must not
// include rpc/ headers.
#pragma once

#include "transport/client_stream_state.h"

namespace h2rpc::internal {

class ClientCallState : public transport::ClientStreamState {};

}  // namespace h2rpc::internal
